/* reference_store.c — the minimal C reference store of shared/PERF-NOTES.md, to calibrate what this
 * machine allows on PodSync's hot paths: an open-addressing index (2^21 buckets of {key, slot},
 * linear probing, fmix64) over a dense arena of 40-byte records, with batched software prefetch.
 * No versions, no digests, no batching: a floor, not a competitor.
 *
 * Usage: reference_store [N] [REPS]   (default 1000000 5)
 * Build: gcc -std=c99 -O2 -o reference_store benchmarks/c/reference_store.c
 *
 * benchmarks/c/suite_bench.c includes this file to run the same store next to PodSync in one
 * process: it defines REFERENCE_STORE_NO_MAIN (leaves out main) and may define REC (the record
 * size, a compile-time constant as here; default 40).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef REC
#define REC 40
#endif
typedef struct { uint64_t key; uint32_t slot; uint32_t pad; } bucket;

static uint64_t fmix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}
static double now_ms(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static uint64_t rng = 0x5EED;
static uint64_t next(void) { uint64_t z = (rng += 0x9E3779B97F4A7C15ULL); z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL; z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL; return z ^ (z >> 31); }

typedef struct { bucket *b; uint64_t mask; uint8_t *arena; uint64_t *keys; size_t count; } store;

static uint32_t find(const store *s, uint64_t key) {
    for (uint64_t i = fmix64(key) & s->mask;; i = (i + 1) & s->mask) {
        if (s->b[i].slot == UINT32_MAX) return UINT32_MAX;
        if (s->b[i].key == key) return s->b[i].slot;
    }
}
static void insert(store *s, uint64_t key, const void *rec) {
    uint64_t i = fmix64(key) & s->mask;
    while (s->b[i].slot != UINT32_MAX) {
        if (s->b[i].key == key) { memcpy(s->arena + (size_t)s->b[i].slot * REC, rec, REC); return; }
        i = (i + 1) & s->mask;
    }
    s->b[i].key = key; s->b[i].slot = (uint32_t)s->count;
    memcpy(s->arena + s->count * REC, rec, REC); s->keys[s->count++] = key;
}
/* Apply n (key, record) pairs with a prefetch pipeline: buckets 16 ahead, records 8 ahead. */
static void apply(store *s, const uint64_t *keys, const uint8_t *recs, size_t n) {
    uint32_t ring[16];
    for (size_t i = 0; i < n + 16; i++) {
        if (i + 16 < n + 16 && i < n) __builtin_prefetch(&s->b[fmix64(keys[i]) & s->mask]);
        if (i >= 8 && i - 8 < n) { uint32_t sl = find(s, keys[i - 8]); ring[(i - 8) & 15] = sl; if (sl != UINT32_MAX) __builtin_prefetch(s->arena + (size_t)sl * REC, 1); }
        if (i >= 16) { size_t j = i - 16; uint32_t sl = ring[j & 15];
            if (sl != UINT32_MAX) memcpy(s->arena + (size_t)sl * REC, recs + j * REC, REC); else insert(s, keys[j], recs + j * REC); }
    }
}
#ifndef REFERENCE_STORE_NO_MAIN
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000, reps = argc > 2 ? strtoull(argv[2], NULL, 10) : 5;
    size_t tick = n / 100, buckets = 1; while (buckets < 2 * n) buckets <<= 1;
    uint64_t *keys = malloc(n * 8); uint8_t *recs = malloc(n * REC), *tickrec = malloc(tick * REC), *copy = malloc(n * REC);
    uint64_t *tickkeys = malloc(tick * 8);
    for (size_t i = 0; i < n; i++) { keys[i] = next(); for (int k = 0; k < REC; k++) recs[i * REC + k] = (uint8_t)next(); }
    double load[32], upd[32], mc[32];
    for (size_t r = 0; r < reps && r < 32; r++) {
        store s = {malloc(buckets * sizeof(bucket)), buckets - 1, malloc(n * REC), malloc(n * 8), 0};
        memset(s.b, 0xff, buckets * sizeof(bucket)); memset(s.arena, 0, n * REC); memset(s.keys, 0, n * 8);
        double t = now_ms(); apply(&s, keys, recs, n); load[r] = now_ms() - t;
        for (size_t i = 0; i < tick; i++) { tickkeys[i] = keys[next() % n]; memcpy(tickrec + i * REC, recs + (next() % n) * REC, REC); }
        t = now_ms(); apply(&s, tickkeys, tickrec, tick); upd[r] = now_ms() - t;
        memset(copy, 1, n * REC); t = now_ms(); memcpy(copy, s.arena, n * REC); mc[r] = now_ms() - t;
        free(s.b); free(s.arena); free(s.keys);
    }
    qsort(load, reps, sizeof(double), cmp); qsort(upd, reps, sizeof(double), cmp); qsort(mc, reps, sizeof(double), cmp);
    printf("reference store, N=%zu, 40-byte records, median of %zu (presized, pre-touched memory)\n", n, reps);
    printf("  bulk load       %8.2f ms  %6.1f M rec/s\n", load[reps / 2], n / load[reps / 2] / 1e3);
    printf("  1%% tick apply   %8.1f us  %6.1f ns/rec\n", upd[reps / 2] * 1e3, upd[reps / 2] * 1e6 / tick);
    printf("  memcpy %zu MB   %8.2f ms\n", n * REC >> 20, mc[reps / 2]);
    return 0;
}
#endif /* REFERENCE_STORE_NO_MAIN */
