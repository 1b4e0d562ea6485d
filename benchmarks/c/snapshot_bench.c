/*
 * snapshot_bench.c — chunked snapshots of N records of 40 B against a memcpy of the same record
 * bytes, measured in the same run (benchmarks/run-core runs it after core_bench).
 *
 *   snapshot encode            podsync_snapshot_begin + podsync_snapshot_next until PODSYNC_DONE
 *                              (1 MiB chunks), the chunks discarded
 *   snapshot apply (fresh)     every chunk applied to an empty replica (staged, then the switch)
 *   ... (fresh, fill in place) the same with PODSYNC_OPT_FILL_IN_PLACE
 *   snapshot apply (switch)    every chunk applied to a replica holding an older state of N records
 *
 * Then memory, read from /proc/self/status (VmRSS) in a fresh phase of the process:
 *   - the writer's RSS growth while a snapshot streams and 1% ticks (put_many + flush) continue
 *     between chunks, against the target "2 chunks + the records changed meanwhile";
 *   - a fresh fill-in-place replica's RSS growth, against "1.3 x the raw record bytes + 24 B a key".
 *
 * Last, the bytes per flush of the 1% tick of 100,000 records with and without a rolling refresh
 * (refresh_flushes = 100), plain and at zstd level 1.
 *
 * Usage: snapshot_bench [N] [REPS]   (defaults 1000000 and 5). Every figure is the median of REPS.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"

#define TABLE 1
#define RECORD_SIZE 40
#define CHUNK (1u << 20)
#define MAX_REPS 64

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void check(int32_t st, const char *what, const podsync_store *store) {
    if (st >= 0) return;
    fprintf(stderr, "snapshot_bench: %s returned %s", what, podsync_status_name(st));
    if (store) fprintf(stderr, ": %s", podsync_store_errmsg(store));
    fprintf(stderr, "\n");
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "snapshot_bench: out of memory\n");
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = atof(line + 6);
            break;
        }
    }
    fclose(f);
    return kb / 1024.0;
}

static podsync_schema *schema;

static podsync_store *store(uint32_t role, uint32_t extra_flags) {
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = 0x5EED0000C0DEull;
    o.flags |= extra_flags;
    o.max_batch_records = 0;
    o.max_batch_bytes = 0;
    podsync_store *s = NULL;
    check(podsync_store_create(schema, role, &o, &s), "podsync_store_create", NULL);
    return s;
}

/* N keys (a bijective mix of 0..N-1) and records. */
static uint64_t *keys;
static unsigned char *recs;
static size_t n;

static void tick(podsync_store *w, uint64_t *rng, size_t count, unsigned char *buf, uint64_t *tick_keys) {
    for (size_t i = 0; i < count; i++) {
        tick_keys[i] = keys[splitmix64(rng) % n];
        memset(buf + i * RECORD_SIZE, (int)(splitmix64(rng) & 0xFF), RECORD_SIZE);
    }
    check(podsync_store_put_many(w, TABLE, tick_keys, buf, count, count * RECORD_SIZE), "put_many", w);
    size_t frames = 0;
    check(podsync_store_flush(w, &frames), "flush", w);
}

typedef struct {
    uint8_t **data;
    size_t *size;
    size_t count, cap;
} chunk_list;

static void collect(podsync_store *w, chunk_list *list) {
    podsync_snapshot *snap = NULL;
    check(podsync_snapshot_begin(w, CHUNK, &snap), "snapshot_begin", w);
    list->count = 0;
    const uint8_t *data;
    size_t size;
    int32_t st;
    while ((st = podsync_snapshot_next(snap, &data, &size)) == PODSYNC_OK) {
        if (list->count == list->cap) {
            list->cap = list->cap ? list->cap * 2 : 64;
            list->data = realloc(list->data, list->cap * sizeof *list->data);
            list->size = realloc(list->size, list->cap * sizeof *list->size);
            if (!list->data || !list->size) exit(1);
        }
        /* 64-byte aligned copies, as a transport that places frames well would hold them */
        uint8_t *copy = aligned_alloc(64, (size + 63) & ~(size_t)63);
        if (!copy) exit(1);
        memcpy(copy, data, size);
        list->data[list->count] = copy;
        list->size[list->count++] = size;
    }
    check(st, "snapshot_next", w);
    podsync_snapshot_free(snap);
}

static void free_chunks(chunk_list *list) {
    for (size_t i = 0; i < list->count; i++) free(list->data[i]);
    list->count = 0;
}

static double apply_all(podsync_store *r, const chunk_list *list) {
    double t = now_ns();
    int32_t st = PODSYNC_OK;
    for (size_t i = 0; i < list->count; i++) {
        st = podsync_store_apply(r, list->data[i], list->size[i], NULL);
        check(st, "apply chunk", r);
    }
    double elapsed = now_ns() - t;
    if (st != PODSYNC_OK) {
        fprintf(stderr, "snapshot_bench: the last chunk returned %s\n", podsync_status_name(st));
        exit(1);
    }
    return elapsed;
}

static void expect_same(const podsync_store *a, const podsync_store *b, const char *what) {
    uint64_t da = 0, db = 0;
    check(podsync_store_digest(a, &da), "digest", a);
    check(podsync_store_digest(b, &db), "digest", b);
    if (da != db) {
        fprintf(stderr, "snapshot_bench: %s: digests differ\n", what);
        exit(1);
    }
}

int main(int argc, char **argv) {
    n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1000 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: %s [N >= 1000] [REPS 1..%d]\n", argv[0], MAX_REPS);
        return 2;
    }
    check(podsync_schema_create(&schema), "schema_create", NULL);
    check(podsync_schema_add_table(schema, TABLE, RECORD_SIZE, 8, NULL, 0), "add_table", NULL);
    size_t bytes = n * RECORD_SIZE;
    size_t tick_n = n / 100;
    uint64_t rng = 42;
    keys = xmalloc(n * sizeof *keys);
    recs = xmalloc(bytes);
    for (size_t i = 0; i < n; i++) keys[i] = splitmix64(&rng) >> 20 << 20 | i;  /* sparse, distinct */
    for (size_t i = 0; i < bytes; i++) recs[i] = (unsigned char)splitmix64(&rng);
    unsigned char *tick_buf = xmalloc(tick_n * RECORD_SIZE);
    uint64_t *tick_keys = xmalloc(tick_n * sizeof *tick_keys);

    printf("PodSync chunked snapshot benchmark\n");
    printf("command   %s %zu %d\n", argv[0], n, reps);
    printf("workload  N = %zu records of %d B in one table (sparse random keys), chunks of %u B, "
           "tick = %zu random keys\n\n", n, RECORD_SIZE, CHUNK, tick_n);

    /* Memory first, while the process holds nothing else of size. */
    {
        podsync_store *w = store(PODSYNC_ROLE_WRITER, 0);
        check(podsync_store_put_many(w, TABLE, keys, recs, n, bytes), "put_many", w);
        size_t frames = 0;
        check(podsync_store_flush(w, &frames), "flush", w);
        tick(w, &rng, tick_n, tick_buf, tick_keys);  /* steady state: the change log exists */
        double before = rss_mb(), peak = before;
        podsync_snapshot *snap = NULL;
        check(podsync_snapshot_begin(w, CHUNK, &snap), "snapshot_begin", w);
        const uint8_t *data;
        size_t size;
        size_t chunks = 0, ticks = 0;
        uint64_t held = 0;
        while (podsync_snapshot_next(snap, &data, &size) == PODSYNC_OK) {
            chunks++;
            tick(w, &rng, tick_n, tick_buf, tick_keys);
            ticks++;
            double now = rss_mb();
            if (now > peak) peak = now;
            podsync_metrics m = {.version = PODSYNC_METRICS_VERSION};
            check(podsync_store_metrics(w, &m), "metrics", w);
            if (m.snapshot_bytes_held > held) held = m.snapshot_bytes_held;
        }
        podsync_snapshot_free(snap);
        /* distinct keys changed: ticks pick keys at random with repeats */
        double changed = (double)n * (1.0 - 1.0 / (1.0 + (double)ticks * tick_n / (double)n));
        double target = 2.0 * CHUNK / 1048576.0 + changed * RECORD_SIZE / 1048576.0;
        printf("writer RSS growth while streaming %zu chunks with a 1%% tick after each: %.1f MB "
               "(target 2 chunks + changed records = %.1f MB; snapshot_bytes_held peaked at %.1f MB)\n",
               chunks, peak - before, target, (double)held / 1048576.0);
        podsync_store *r = store(PODSYNC_ROLE_REPLICA, PODSYNC_OPT_FILL_IN_PLACE);
        before = rss_mb();
        check(podsync_snapshot_begin(w, CHUNK, &snap), "snapshot_begin", w);
        while (podsync_snapshot_next(snap, &data, &size) == PODSYNC_OK) {
            check(podsync_store_apply(r, data, size, NULL), "apply", r);
        }
        podsync_snapshot_free(snap);
        double growth = rss_mb() - before;
        double raw = (double)bytes / 1048576.0;
        printf("fresh fill-in-place replica RSS growth: %.1f MB = %.2fx the raw record bytes (%.1f MB); "
               "target 1.3x + 24 B a key = %.1f MB\n\n",
               growth, growth / raw, raw, 1.3 * raw + 24.0 * (double)n / 1048576.0);
        expect_same(w, r, "fill in place");
        podsync_store_free(r);
        podsync_store_free(w);
    }

    podsync_store *w = store(PODSYNC_ROLE_WRITER, 0);
    check(podsync_store_put_many(w, TABLE, keys, recs, n, bytes), "put_many", w);
    size_t frames = 0;
    check(podsync_store_flush(w, &frames), "flush", w);

    unsigned char *dst = xmalloc(bytes);
    memset(dst, 1, bytes);
    double s_memcpy[MAX_REPS], s_encode[MAX_REPS], s_fresh[MAX_REPS], s_inplace[MAX_REPS], s_switch[MAX_REPS];
    chunk_list list = {0}, older = {0};
    size_t chunk_count = 0, chunk_bytes = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t = now_ns();
        memcpy(dst, recs, bytes);
        s_memcpy[rep] = now_ns() - t;

        podsync_snapshot *snap = NULL;
        const uint8_t *data;
        size_t size;
        t = now_ns();
        check(podsync_snapshot_begin(w, CHUNK, &snap), "snapshot_begin", w);
        chunk_count = 0;
        chunk_bytes = 0;
        while (podsync_snapshot_next(snap, &data, &size) == PODSYNC_OK) {
            chunk_count++;
            chunk_bytes += size;
        }
        s_encode[rep] = now_ns() - t;
        podsync_snapshot_free(snap);

        collect(w, &older);
        tick(w, &rng, tick_n, tick_buf, tick_keys);
        collect(w, &list);

        podsync_store *fresh = store(PODSYNC_ROLE_REPLICA, 0);
        s_fresh[rep] = apply_all(fresh, &list);
        expect_same(w, fresh, "fresh");
        podsync_store_free(fresh);

        podsync_store *inplace = store(PODSYNC_ROLE_REPLICA, PODSYNC_OPT_FILL_IN_PLACE);
        s_inplace[rep] = apply_all(inplace, &list);
        expect_same(w, inplace, "fill in place");
        podsync_store_free(inplace);

        podsync_store *holder = store(PODSYNC_ROLE_REPLICA, 0);
        apply_all(holder, &older);
        s_switch[rep] = apply_all(holder, &list);
        expect_same(w, holder, "switch");
        podsync_store_free(holder);
        free_chunks(&older);
        free_chunks(&list);
    }
    double m = median(s_memcpy, reps);
    printf("memcpy of %zu record bytes: %.2f ms (median of %d)\n", bytes, m / 1e6, reps);
    printf("chunked snapshot: %zu chunks, %zu bytes\n", chunk_count, chunk_bytes);
    double enc = median(s_encode, reps), fr = median(s_fresh, reps), ip = median(s_inplace, reps),
           sw = median(s_switch, reps);
    printf("snapshot encode: %.2fx memcpy (%.2f ms; target <= 2x)\n", enc / m, enc / 1e6);
    printf("snapshot apply (fresh): %.2fx memcpy (%.2f ms; target <= 3x)\n", fr / m, fr / 1e6);
    printf("snapshot apply (fresh, fill in place): %.2fx memcpy (%.2f ms)\n", ip / m, ip / 1e6);
    printf("snapshot apply (switch): %.2fx memcpy (%.2f ms; target <= 4x)\n", sw / m, sw / 1e6);
    /* The rolling refresh: bytes per flush of the 1% tick of 100,000 entities, with and without a
       slice of the state in every flush (R = 100), plain and at zstd level 1. */
    printf("\nrolling refresh, 1%% tick of 100000 records of %d B, 200 flushes:\n", RECORD_SIZE);
    for (int level = 0; level <= 1; level++) {
        double per_flush[2] = {0, 0};
        for (int refresh = 0; refresh <= 1; refresh++) {
            podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
            o.stream_id = 0x5EED0000C0DEull;
            o.max_batch_records = 0;
            o.max_batch_bytes = 0;
            o.compression_level = level;
            o.refresh_flushes = refresh ? 100 : 0;
            podsync_store *rw = NULL;
            check(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &rw), "podsync_store_create", NULL);
            size_t m = n < 100000 ? n : 100000;
            check(podsync_store_put_many(rw, TABLE, keys, recs, m, m * RECORD_SIZE), "put_many", rw);
            check(podsync_store_flush(rw, &frames), "flush", rw);
            uint64_t r2 = 99;
            size_t bytes_out = 0;
            for (int f = 0; f < 200; f++) {
                for (size_t i = 0; i < m / 100; i++) {
                    tick_keys[i] = keys[splitmix64(&r2) % m];
                    memcpy(tick_buf + i * RECORD_SIZE, recs + (splitmix64(&r2) % m) * RECORD_SIZE, RECORD_SIZE);
                }
                check(podsync_store_put_many(rw, TABLE, tick_keys, tick_buf, m / 100, m / 100 * RECORD_SIZE), "put_many", rw);
                check(podsync_store_flush(rw, &frames), "flush", rw);
                for (size_t k = 0; k < frames; k++) {
                    const uint8_t *data;
                    size_t size;
                    check(podsync_store_frame(rw, k, &data, &size), "frame", rw);
                    bytes_out += size;
                }
            }
            per_flush[refresh] = (double)bytes_out / 200;
            podsync_store_free(rw);
        }
        printf("  zstd level %d: %.0f B a flush without refresh, %.0f B with R = 100 (%.2fx; the state is "
               "re-sent every 100 flushes)\n", level, per_flush[0], per_flush[1], per_flush[1] / per_flush[0]);
    }
    free(list.data);
    free(list.size);
    free(older.data);
    free(older.size);
    podsync_store_free(w);
    podsync_schema_free(schema);
    free(dst);
    free(tick_keys);
    free(tick_buf);
    free(recs);
    free(keys);
    return 0;
}
