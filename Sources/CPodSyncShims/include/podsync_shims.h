/* Tiny inline helpers Swift has no intrinsic for. Inlined into Swift callers (no call). */
#ifndef PODSYNC_SHIMS_H
#define PODSYNC_SHIMS_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static inline void podsync_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void podsync_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline uint64_t podsync_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds on CLOCK_MONOTONIC. */
static inline uint64_t podsync_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Allocates `size` bytes aligned to `alignment` (a power of two), or NULL. Blocks of 2 MiB and more
   are 2 MiB-aligned and advised to use transparent huge pages: random access over large tables
   then misses the TLB far less, and first touch faults once per 2 MiB instead of per 4 KiB. */
static inline void *podsync_alloc(size_t size, size_t alignment) {
    const size_t huge = (size_t)1 << 21;
    void *p = NULL;
    if (size >= huge) {
        size_t rounded = (size + huge - 1) & ~(huge - 1);
        if (rounded < size || posix_memalign(&p, huge, rounded) != 0) return NULL;
        (void)madvise(p, rounded, MADV_HUGEPAGE);
        return p;
    }
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
    return p;
}

/* Like podsync_alloc, without the huge-page advice: for blocks written once in a tick, where a
   huge page's first touch can stall tens of milliseconds in the kernel's compaction (with
   transparent_hugepage/defrag set to madvise, the default of many distributions). */
static inline void *podsync_alloc_small_pages(size_t size, size_t alignment) {
    void *p = NULL;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
    return p;
}

static inline void podsync_free(void *p) { free(p); }

/* XXH3-64 with a seed, compiled inline (XXH_INLINE_ALL: private copies of libxxhash's functions,
   the same algorithm and results): the digest of one record is a few multiplications, and a
   call through the PLT into the shared library cost as much again (twice per record applied). */
#define XXH_INLINE_ALL
#include <xxhash.h>
static inline uint64_t podsync_xxh3_seeded(const void *p, size_t size, uint64_t seed) {
    return XXH3_64bits_withSeed(p, size, seed);
}

/* The calling thread's last error message (shims.c): set by the C boundary on every error so that
   functions without a handle can report one (podsync_last_errmsg). Not exported: the version
   script exports podsync_* only. */
void podsyncinternal_set_last_error(const char *message, size_t length);
const char *podsyncinternal_last_error(void);
#endif
