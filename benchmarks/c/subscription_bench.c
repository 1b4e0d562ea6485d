/*
 * subscription_bench.c — what serving 10 subscriptions costs a writer, against one unfiltered flush.
 *
 * Two writers hold the same N records of 40 bytes (table 1, random keys) and get the same ticks:
 * 1% of the keys (random, distinct) drift a little. Writer A has no feed: a tick costs its flush.
 * Writer B serves 10 feeds whose subscriptions partition the state (shard_bits 4: six feeds of two
 * shards, four of one), one feed per subscription however many replicas share it: a tick costs
 * B's flush (the feeds take their changes there) plus the 10 feeds' flushes. The order of A and B
 * alternates every tick; medians over the ticks. Bytes: A's frame against the 10 feed frames
 * together. After the ticks the feeds' digests must add up to the writer's (checked).
 *
 *   usage: subscription_bench [N] [TICKS] [LEVEL]    default: 1000000 21 0, and then LEVEL 1
 *
 * C99 + POSIX clock_gettime; uses only include/podsync.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"

#define TABLE 1u
#define SIZE 40u
#define FEEDS 10

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 777;
static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "subscription_bench: %s: %s (%s)\n", what, podsync_status_name(st), s ? podsync_store_errmsg(s) : "");
        exit(1);
    }
}

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, by_double);
    return v[n / 2];
}

static size_t outbox_bytes(const podsync_store *s, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = NULL;
        size_t size = 0;
        ok(podsync_store_frame(s, i, &p, &size), "frame", s);
        total += size;
    }
    return total;
}

static podsync_store *writer(const podsync_schema *schema, int32_t level) {
    podsync_store_options o;
    ok(podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION), "options", NULL);
    o.stream_id = 42;
    o.compression_level = level;
    o.max_batch_records = 0;
    o.max_batch_bytes = 0;
    o.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    podsync_store *w = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w), "writer", NULL);
    return w;
}

static void run(size_t n, int ticks, int32_t level) {
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    podsync_field fields[3] = {{"id", PODSYNC_TYPE_U64, 0, 1, 0}, {"position", PODSYNC_TYPE_F32, 8, 3, 0}, {"rest", PODSYNC_TYPE_F32, 20, 5, 0}};
    ok(podsync_schema_add_table(schema, TABLE, SIZE, 8, fields, 3), "table", NULL);
    podsync_store *a = writer(schema, level), *b = writer(schema, level);

    uint64_t *keys = malloc(n * sizeof *keys);
    float *recs = malloc(n * SIZE);
    if (!keys || !recs) exit(1);
    for (size_t i = 0; i < n; i++) {
        keys[i] = rnd();
        float *r = recs + i * (SIZE / 4);
        memcpy(r, &keys[i], 8);
        for (int f = 2; f < 10; f++) r[f] = (float)(rnd() % 100000) / 16.0f;
    }
    ok(podsync_store_put_many(a, TABLE, keys, recs, n, n * SIZE), "load", a);
    ok(podsync_store_put_many(b, TABLE, keys, recs, n, n * SIZE), "load", b);
    size_t count = 0;
    ok(podsync_store_flush(a, &count), "flush", a);
    ok(podsync_store_flush(b, &count), "flush", b);

    /* Ten subscriptions partitioning 16 shards: {0,1} {2,3} ... {10,11}, {12} {13} {14} {15}. */
    podsync_store *feed[FEEDS];
    podsync_subscription_table t = {TABLE, 0, NULL};
    uint32_t next = 0;
    double t0 = now_ms();
    for (int f = 0; f < FEEDS; f++) {
        uint32_t shards[2] = {next, next + 1};
        uint32_t k = f < 6 ? 2 : 1;
        next += k;
        podsync_subscription s = {PODSYNC_SUBSCRIPTION_VERSION, 4, k, 1, shards, &t};
        uint8_t bytes[128];
        size_t size = 0;
        ok(podsync_subscription_encode(&s, bytes, sizeof bytes, &size, NULL), "encode", NULL);
        ok(podsync_store_feed(b, bytes, size, &feed[f]), "feed", b);
    }
    double make_ms = now_ms() - t0;

    size_t m = n / 100;
    uint64_t *tick_keys = malloc(m * sizeof *tick_keys);
    float *tick_recs = malloc(m * SIZE);
    unsigned char *used = calloc(n, 1);
    double *ta = malloc((size_t)ticks * sizeof(double)), *tb = malloc((size_t)ticks * sizeof(double));
    double *tw = malloc((size_t)ticks * sizeof(double)), *tf = malloc((size_t)ticks * sizeof(double));
    if (!tick_keys || !tick_recs || !used || !ta || !tb || !tw || !tf) exit(1);
    size_t bytes_a = 0, bytes_feeds = 0;
    for (int tick = 0; tick < ticks; tick++) {
        memset(used, 0, n);
        for (size_t i = 0; i < m; i++) {
            size_t j;
            do j = (size_t)(rnd() % n);
            while (used[j]);
            used[j] = 1;
            tick_keys[i] = keys[j];
            float *r = recs + j * (SIZE / 4);
            for (int f = 2; f < 5; f++) r[f] += (float)((int)(rnd() % 9) - 4) / 64.0f;
            memcpy(tick_recs + i * (SIZE / 4), r, SIZE);
        }
        ok(podsync_store_put_many(a, TABLE, tick_keys, tick_recs, m, m * SIZE), "put", a);
        ok(podsync_store_put_many(b, TABLE, tick_keys, tick_recs, m, m * SIZE), "put", b);
        for (int order = 0; order < 2; order++) {
            if ((order == 0) == (tick % 2 == 0)) {
                double s = now_ms();
                ok(podsync_store_flush(a, &count), "flush", a);
                ta[tick] = now_ms() - s;
                bytes_a += outbox_bytes(a, count);
            } else {
                double s = now_ms();
                ok(podsync_store_flush(b, &count), "flush", b);
                double mid = now_ms();
                size_t fb = 0;
                for (int f = 0; f < FEEDS; f++) {
                    ok(podsync_store_flush(feed[f], &count), "flush (feed)", feed[f]);
                    fb += outbox_bytes(feed[f], count);
                }
                double e = now_ms();
                tb[tick] = e - s;
                tw[tick] = mid - s;
                tf[tick] = e - mid;
                bytes_feeds += fb;
            }
        }
    }
    uint64_t sum = 0, wd = 0, ad = 0;
    for (int f = 0; f < FEEDS; f++) {
        uint64_t d = 0;
        ok(podsync_store_digest(feed[f], &d), "digest", feed[f]);
        sum += d;
    }
    ok(podsync_store_digest(b, &wd), "digest", b);
    ok(podsync_store_digest(a, &ad), "digest", a);
    if (sum != wd || wd != ad) {
        fprintf(stderr, "subscription_bench: the feeds' digests add up to %016" PRIx64 ", the writer's is %016" PRIx64 "\n", sum, wd);
        exit(1);
    }
    double ma = median(ta, ticks), mb = median(tb, ticks), mw = median(tw, ticks), mf = median(tf, ticks);
    printf("N = %zu, 1%% tick (%zu keys), zstd level %d, %d ticks (medians); 10 feeds made in %.1f ms\n", n, m, (int)level, ticks, make_ms);
    printf("  unfiltered flush (writer A)                       %8.3f ms   %9.0f bytes/tick\n", ma, (double)bytes_a / ticks);
    printf("  writer B flush, its 10 feeds taking their changes  %8.3f ms\n", mw);
    printf("  the 10 feeds' flushes                             %8.3f ms   %9.0f bytes/tick (all 10)\n", mf, (double)bytes_feeds / ticks);
    printf("  writer B with 10 subscriptions, per tick          %8.3f ms   = %.2fx the unfiltered flush (target <= 1.5x)\n", mb, mb / ma);
    for (int f = 0; f < FEEDS; f++) podsync_store_free(feed[f]);
    podsync_store_free(a);
    podsync_store_free(b);
    podsync_schema_free(schema);
    free(keys), free(recs), free(tick_keys), free(tick_recs), free(used), free(ta), free(tb), free(tw), free(tf);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    int ticks = argc > 2 ? atoi(argv[2]) : 21;
    if (n < 1000 || ticks < 1) {
        fprintf(stderr, "usage: subscription_bench [N >= 1000] [TICKS >= 1] [LEVEL]\n");
        return 2;
    }
    if (argc > 3) {
        run(n, ticks, (int32_t)atoi(argv[3]));
    } else {
        run(n, ticks, 0);
        run(n, ticks, 1);
    }
    return 0;
}
