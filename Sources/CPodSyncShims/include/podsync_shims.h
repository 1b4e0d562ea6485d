/* Tiny inline helpers Swift has no intrinsic for. Inlined into Swift callers (no call). */
#ifndef PODSYNC_SHIMS_H
#define PODSYNC_SHIMS_H
#include <stdint.h>
#include <time.h>

static inline void podsync_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void podsync_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

/* Milliseconds on CLOCK_MONOTONIC. */
static inline uint64_t podsync_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
#endif
