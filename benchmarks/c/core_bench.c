/*
 * core_bench.c — the core paths of libpodsync against a plain memcpy, measured in the same run.
 *
 * Record: 40 bytes { u64 id; f32 v[7]; u32 flags; } in table 1, N keys (default 1,000,000), fixed
 * seed. Every figure is the median of REPS repetitions (default 5; min and max shown); the memcpy
 * baseline is sampled between the measured operations of every repetition, so figures and ratios
 * come from the same conditions. The tick keys are distinct random existing keys, new ones every
 * repetition; the first tick after the initial load is reported separately (one-time costs). Every
 * call's status is checked and the replicas' digests, versions and counts are compared with the
 * writer's; any failure ends the run with the status name and the store's message.
 * Build and run with benchmarks/run-core.
 *
 *   usage: core_bench [N] [REPS] [raw]      raw: also print every sample of every row
 *
 * C99 + POSIX clock_gettime; uses only include/podsync.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"

#define TABLE 1u
#define RECORD_SIZE 40u
#define MAX_REPS 101

typedef struct bench_record {
    uint64_t id;
    float v[7];
    uint32_t flags;
} bench_record;

typedef char bench_record_is_40_bytes[(sizeof(bench_record) == RECORD_SIZE) ? 1 : -1];

/* ---------------------------------------------------------------------------------------------- */
/* Helpers                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Read after each baseline copy so the compiler cannot drop a copy into memory it later frees. */
static volatile unsigned char sink;

static double timed_memcpy(void *dst, const void *src, size_t size) {
    double t = now_ns();
    memcpy(dst, src, size);
    t = now_ns() - t;
    sink = ((const unsigned char *)dst)[size - 1];
    return t;
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void *xmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) {
        fprintf(stderr, "core_bench: out of memory (%zu bytes)\n", size);
        exit(2);
    }
    return p;
}

/* A status other than the expected ones is reported exactly and ends the run: the benchmark does
   not work around engine failures. */
static void fail(const char *what, int32_t status, const podsync_store *store) {
    fprintf(stderr, "core_bench: %s returned %d (%s)", what, (int)status, podsync_status_name(status));
    if (store) fprintf(stderr, ": \"%s\"", podsync_store_errmsg(store));
    fprintf(stderr, "\n");
    exit(1);
}

#define EXPECT_OK(call, store)                                  \
    do {                                                        \
        int32_t st_ = (call);                                   \
        if (st_ != PODSYNC_OK) fail(#call, st_, (store));       \
    } while (0)

/* put_many may also say the flush policy wants a flush now. */
#define EXPECT_WRITE(call, store)                                               \
    do {                                                                        \
        int32_t st_ = (call);                                                   \
        if (st_ != PODSYNC_OK && st_ != PODSYNC_FLUSH_DUE) fail(#call, st_, (store)); \
    } while (0)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct series {
    double v[MAX_REPS * 4];
    int n;
} series;

static void add(series *s, double ns) { s->v[s->n++] = ns; }

static double median(const series *s) {
    double t[MAX_REPS * 4];
    memcpy(t, s->v, (size_t)s->n * sizeof(double));
    qsort(t, (size_t)s->n, sizeof(double), cmp_double);
    return s->n % 2 ? t[s->n / 2] : 0.5 * (t[s->n / 2 - 1] + t[s->n / 2]);
}

static double minimum(const series *s) {
    double m = s->v[0];
    for (int i = 1; i < s->n; i++) if (s->v[i] < m) m = s->v[i];
    return m;
}

static double maximum(const series *s) {
    double m = s->v[0];
    for (int i = 1; i < s->n; i++) if (s->v[i] > m) m = s->v[i];
    return m;
}

/* "9.12 ms", "412 us", ... */
static const char *fmt_time(double ns, char *buf, size_t cap) {
    if (ns >= 1e9) snprintf(buf, cap, "%.3f s", ns / 1e9);
    else if (ns >= 1e6) snprintf(buf, cap, "%.2f ms", ns / 1e6);
    else if (ns >= 1e3) snprintf(buf, cap, "%.1f us", ns / 1e3);
    else snprintf(buf, cap, "%.0f ns", ns);
    return buf;
}

static const char *fmt_bytes(double b, char *buf, size_t cap) {
    if (b >= 1e6) snprintf(buf, cap, "%.2f MB", b / 1e6);
    else if (b >= 1e3) snprintf(buf, cap, "%.1f kB", b / 1e3);
    else snprintf(buf, cap, "%.0f B", b);
    return buf;
}

static int print_raw = 0;

/* One row: name, median [min..max], per record, rate, and ratio to the baseline. */
static void row(const char *name, const series *s, double records, double baseline_ns,
                const char *baseline_name) {
    char a[32], b[32], c[32], d[32];
    double med = median(s);
    printf("%-44s %10s  [%9s .. %9s]  %8.1f ns/rec  %7.2f M rec/s",
           name, fmt_time(med, a, sizeof a), fmt_time(minimum(s), b, sizeof b),
           fmt_time(maximum(s), c, sizeof c), med / records, records / med * 1e3);
    if (baseline_ns > 0) printf("  = %5.2fx %s %s", med / baseline_ns, baseline_name, fmt_time(baseline_ns, d, sizeof d));
    printf("\n");
    if (print_raw) {
        printf("    samples:");
        for (int i = 0; i < s->n; i++) printf(" %s", fmt_time(s->v[i], a, sizeof a));
        printf("\n");
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Setup                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

static podsync_schema *make_schema(void) {
    podsync_schema *schema = NULL;
    int32_t st = podsync_schema_create(&schema);
    if (st != PODSYNC_OK) fail("podsync_schema_create", st, NULL);
    podsync_field fields[3] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"v", PODSYNC_TYPE_F32, 8, 7, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    st = podsync_schema_add_table(schema, TABLE, RECORD_SIZE, 8, fields, 3);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "core_bench: podsync_schema_add_table returned %d (%s): \"%s\"\n", (int)st,
                podsync_status_name(st), podsync_schema_errmsg(schema));
        exit(1);
    }
    return schema;
}

static podsync_store *make_store(const podsync_schema *schema, uint32_t role) {
    podsync_store_options options = PODSYNC_STORE_OPTIONS_INIT;
    options.stream_id = 0x5EED0000C0DEull;
    podsync_store *store = NULL;
    int32_t st = podsync_store_create(schema, role, &options, &store);
    if (st != PODSYNC_OK || !store) fail("podsync_store_create", st, NULL);
    return store;
}

static void fill_record(bench_record *r, uint64_t key, uint64_t *rng) {
    r->id = key;
    for (int j = 0; j < 7; j++) r->v[j] = (float)(splitmix64(rng) >> 40) * (1.0f / 16777216.0f);
    r->flags = (uint32_t)splitmix64(rng);
}

/* Flushes `store` (a writer) and returns its single frame; fails unless exactly one frame. */
static void flush_one(podsync_store *w, const uint8_t **data, size_t *size) {
    size_t frames = 0;
    EXPECT_OK(podsync_store_flush(w, &frames), w);
    if (frames != 1) {
        fprintf(stderr, "core_bench: podsync_store_flush produced %zu frames, expected 1\n", frames);
        exit(1);
    }
    EXPECT_OK(podsync_store_frame(w, 0, data, size), w);
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    EXPECT_OK(podsync_store_digest(s, &d), s);
    return d;
}

static uint64_t version_of(const podsync_store *s) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    EXPECT_OK(podsync_store_info_get(s, &info), s);
    return info.state_version;
}

static void expect_same(const podsync_store *writer, const podsync_store *replica, const char *when) {
    uint64_t dw = digest_of(writer), dr = digest_of(replica);
    uint64_t vw = version_of(writer), vr = version_of(replica);
    size_t cw = 0, cr = 0;
    EXPECT_OK(podsync_store_count(writer, TABLE, &cw), writer);
    EXPECT_OK(podsync_store_count(replica, TABLE, &cr), replica);
    if (dw != dr || vw != vr || cw != cr) {
        fprintf(stderr, "core_bench: after %s the replica differs from the writer: digest %016llx vs "
                "%016llx, version %llu vs %llu, count %zu vs %zu\n", when,
                (unsigned long long)dr, (unsigned long long)dw, (unsigned long long)vr,
                (unsigned long long)vw, cr, cw);
        exit(1);
    }
}

/* One 1% tick: `tick` distinct random existing keys get new records (put_many on the writer), the
   writer flushes (one frame), the replica applies it. Times in ns. */
typedef struct tick_state {
    size_t n, tick;
    const uint64_t *keys;
    size_t *perm;          /* permutation of 0..n-1, partially reshuffled per tick */
    uint64_t *tick_keys;
    bench_record *tick_recs;
    uint64_t *rng;
} tick_state;

static void run_tick(tick_state *ts, podsync_store *w, podsync_store *r, double *t_put,
                     double *t_flush, double *t_apply, size_t *frame_bytes) {
    for (size_t i = 0; i < ts->tick; i++) { /* partial Fisher-Yates: distinct random keys */
        size_t j = i + (size_t)(splitmix64(ts->rng) % (uint64_t)(ts->n - i));
        size_t tmp = ts->perm[i]; ts->perm[i] = ts->perm[j]; ts->perm[j] = tmp;
        ts->tick_keys[i] = ts->keys[ts->perm[i]];
        fill_record(&ts->tick_recs[i], ts->tick_keys[i], ts->rng);
    }
    const uint8_t *frame = NULL;
    size_t size = 0, frames = 0;
    uint64_t v = 0;
    double t = now_ns();
    EXPECT_WRITE(podsync_store_put_many(w, TABLE, ts->tick_keys, ts->tick_recs, ts->tick,
                                        ts->tick * RECORD_SIZE), w);
    *t_put = now_ns() - t;
    t = now_ns();
    EXPECT_OK(podsync_store_flush(w, &frames), w);
    *t_flush = now_ns() - t;
    if (frames != 1) {
        fprintf(stderr, "core_bench: tick flush produced %zu frames, expected 1\n", frames);
        exit(1);
    }
    EXPECT_OK(podsync_store_frame(w, 0, &frame, &size), w);
    *frame_bytes = size;
    t = now_ns();
    EXPECT_OK(podsync_store_apply(r, frame, size, &v), r);
    *t_apply = now_ns() - t;
    expect_same(w, r, "a tick");
}

/* ---------------------------------------------------------------------------------------------- */
/* Main                                                                                           */
/* ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    size_t n = 1000000;
    int reps = 5;
    if (argc > 1) n = (size_t)strtoull(argv[1], NULL, 10);
    if (argc > 2) reps = atoi(argv[2]);
    if (argc > 3) print_raw = strcmp(argv[3], "raw") == 0;
    if (n < 100 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: %s [N >= 100] [REPS 1..%d] [raw]\n", argv[0], MAX_REPS);
        return 2;
    }
    const size_t tick = n / 100;
    const size_t bytes = n * RECORD_SIZE;
    char t1[32], t2[32];

    uint32_t lib = podsync_version_number();
    printf("PodSync core benchmark\n");
    printf("library   %u.%u.%u (ABI %u, header ABI %d, format %d)\n", lib / 10000, lib / 100 % 100,
           lib % 100, podsync_abi_version(), PODSYNC_ABI_VERSION, PODSYNC_FORMAT_VERSION);
    printf("command  ");
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    printf("workload  N = %zu records of %u B in one table (%s), tick = %zu random existing keys, "
           "seed 0x5EED, median of %d reps [min .. max]\n\n", n, RECORD_SIZE,
           fmt_bytes((double)bytes, t1, sizeof t1), tick, reps);
    if (podsync_abi_version() != PODSYNC_ABI_VERSION) {
        fprintf(stderr, "core_bench: library ABI %u differs from header ABI %d\n", podsync_abi_version(),
                PODSYNC_ABI_VERSION);
        return 1;
    }

    /* Inputs: N distinct keys (a bijective mix of 0..N-1), two record sets, and a touched memcpy
       destination. */
    uint64_t rng = 0x5EED;
    uint64_t *keys = xmalloc(n * sizeof *keys);
    bench_record *recs = xmalloc(bytes);
    bench_record *recs2 = xmalloc(bytes);
    unsigned char *copy_dst = xmalloc(bytes);
    for (size_t i = 0; i < n; i++) {
        uint64_t s = i;
        keys[i] = splitmix64(&s);
        fill_record(&recs[i], keys[i], &rng);
        fill_record(&recs2[i], keys[i], &rng);
    }
    memset(copy_dst, 1, bytes);

    uint64_t *tick_keys = xmalloc(tick * sizeof *tick_keys);
    bench_record *tick_recs = xmalloc(tick * RECORD_SIZE);
    size_t *perm = xmalloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;

    podsync_schema *schema = make_schema();

    /* The steady writer W and its replica R hold the same N records. */
    podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER);
    podsync_store *r = make_store(schema, PODSYNC_ROLE_REPLICA);
    EXPECT_WRITE(podsync_store_put_many(w, TABLE, keys, recs, n, bytes), w);
    {
        const uint8_t *frame = NULL;
        size_t size = 0;
        uint64_t v = 0;
        flush_one(w, &frame, &size);
        EXPECT_OK(podsync_store_apply(r, frame, size, &v), r);
        expect_same(w, r, "the initial frame");
    }
    /* The first tick after the initial load is measured on its own (reported as one-time costs) and
       kept out of the medians. */
    tick_state ts = {n, tick, keys, perm, tick_keys, tick_recs, &rng};
    double first_put, first_flush, first_apply;
    size_t first_frame_bytes = 0;
    run_tick(&ts, w, r, &first_put, &first_flush, &first_apply, &first_frame_bytes);

    series s_memcpy = {{0}, 0}, s_memcpy_fresh = {{0}, 0};
    series s_bulk = {{0}, 0}, s_bulk_flush = {{0}, 0}, s_update = {{0}, 0};
    series s_tick_put = {{0}, 0}, s_tick_flush = {{0}, 0}, s_tick_apply = {{0}, 0};
    series s_delta = {{0}, 0}, s_snap = {{0}, 0}, s_snap_apply = {{0}, 0}, s_snap_apply_warm = {{0}, 0};
    podsync_store *warm = NULL;
    size_t bulk_frame_bytes = 0, tick_frame_bytes = 0, delta_frame_bytes = 0, snap_frame_bytes = 0;
    double t;

    for (int rep = 0; rep < reps; rep++) {
        /* memcpy baseline, destination already touched */
        add(&s_memcpy, timed_memcpy(copy_dst, rep % 2 ? recs : recs2, bytes));

        /* bulk load of N new keys into an empty writer, its first flush, then an update of all */
        podsync_store *b = make_store(schema, PODSYNC_ROLE_WRITER);
        t = now_ns();
        EXPECT_WRITE(podsync_store_put_many(b, TABLE, keys, recs, n, bytes), b);
        add(&s_bulk, now_ns() - t);
        {
            size_t frames = 0;
            t = now_ns();
            EXPECT_OK(podsync_store_flush(b, &frames), b);
            add(&s_bulk_flush, now_ns() - t);
            bulk_frame_bytes = 0;
            for (size_t f = 0; f < frames; f++) {
                const uint8_t *data = NULL;
                size_t size = 0;
                EXPECT_OK(podsync_store_frame(b, f, &data, &size), b);
                bulk_frame_bytes += size;
            }
        }
        add(&s_memcpy, timed_memcpy(copy_dst, recs, bytes));
        t = now_ns();
        EXPECT_WRITE(podsync_store_put_many(b, TABLE, keys, recs2, n, bytes), b);
        add(&s_update, now_ns() - t);
        podsync_store_free(b);

        /* a 1% tick on W: put_many, flush (encode), apply on R, then delta_since(current - 1) */
        add(&s_memcpy, timed_memcpy(copy_dst, recs2, bytes));
        {
            double tp, tf, ta;
            run_tick(&ts, w, r, &tp, &tf, &ta, &tick_frame_bytes);
            add(&s_tick_put, tp);
            add(&s_tick_flush, tf);
            add(&s_tick_apply, ta);

            const uint8_t *frame = NULL;
            size_t size = 0, frames = 0;
            uint64_t current = version_of(w);
            t = now_ns();
            EXPECT_OK(podsync_store_delta_since(w, current - 1, &frames), w);
            add(&s_delta, now_ns() - t);
            if (frames != 1) {
                fprintf(stderr, "core_bench: delta_since produced %zu frames, expected 1\n", frames);
                return 1;
            }
            EXPECT_OK(podsync_store_frame(w, 0, &frame, &size), w);
            delta_frame_bytes = size;
        }

        /* snapshot of W (encode), and its apply on a fresh replica */
        add(&s_memcpy, timed_memcpy(copy_dst, recs, bytes));
        {
            const uint8_t *frame = NULL;
            size_t size = 0, frames = 0;
            uint64_t v = 0;
            t = now_ns();
            EXPECT_OK(podsync_store_snapshot(w, &frames), w);
            add(&s_snap, now_ns() - t);
            if (frames != 1) {
                fprintf(stderr, "core_bench: snapshot produced %zu frames, expected 1\n", frames);
                return 1;
            }
            EXPECT_OK(podsync_store_frame(w, 0, &frame, &size), w);
            snap_frame_bytes = size;
            podsync_store *fresh = make_store(schema, PODSYNC_ROLE_REPLICA);
            t = now_ns();
            EXPECT_OK(podsync_store_apply(fresh, frame, size, &v), fresh);
            add(&s_snap_apply, now_ns() - t);
            expect_same(w, fresh, "a snapshot");
            podsync_store_free(fresh);
            /* the same snapshot on a replica that already holds a (previous) state: its memory is
               reused, so this is the engine's cost without first-touch page faults */
            if (!warm) warm = make_store(schema, PODSYNC_ROLE_REPLICA);
            t = now_ns();
            EXPECT_OK(podsync_store_apply(warm, frame, size, &v), warm);
            if (rep > 0) add(&s_snap_apply_warm, now_ns() - t);
            expect_same(w, warm, "a snapshot on a warm replica");
        }

        /* memcpy into freshly allocated (untouched) memory, for the fresh-replica figures */
        {
            unsigned char *fresh_dst = xmalloc(bytes);
            add(&s_memcpy_fresh, timed_memcpy(fresh_dst, recs, bytes));
            free(fresh_dst);
        }
    }

    double m = median(&s_memcpy);
    char mname[48], t3[32], t4[32];
    snprintf(mname, sizeof mname, "memcpy(%s)", fmt_bytes((double)bytes, t1, sizeof t1));
    double dn = (double)n, dt = (double)tick;

    printf("%-44s %10s  %-24s  %15s  %14s\n", "operation", "median", "[min .. max]", "per record",
           "rate");
    row("memcpy, touched destination (baseline)", &s_memcpy, dn, 0, "");
    row("memcpy, fresh malloc destination", &s_memcpy_fresh, dn, m, mname);
    row("bulk put_many, N new keys, empty writer", &s_bulk, dn, m, mname);
    row("flush of that bulk load (encode)", &s_bulk_flush, dn, m, mname);
    row("update put_many, same N keys, after flush", &s_update, dn, m, mname);
    row("tick put_many (1% of keys)", &s_tick_put, dt, 0, "");
    row("tick flush (encode)", &s_tick_flush, dt, 0, "");
    row("tick apply on an N-record replica", &s_tick_apply, dt, 0, "");
    row("delta_since(current - 1) after a tick", &s_delta, dt, 0, "");
    row("snapshot encode (N records)", &s_snap, dn, m, mname);
    row("snapshot apply on a fresh replica", &s_snap_apply, dn, m, mname);
    if (s_snap_apply_warm.n > 0)
        row("snapshot apply, replica memory reused", &s_snap_apply_warm, dn, m, mname);

    printf("\nsummary (medians)\n");
    printf("  bulk put        %.2f M rec/s (%s for %zu new keys); update put %.2f M rec/s (%s)\n",
           dn / median(&s_bulk) * 1e3, fmt_time(median(&s_bulk), t1, sizeof t1), n,
           dn / median(&s_update) * 1e3, fmt_time(median(&s_update), t2, sizeof t2));
    printf("  1%% tick         put_many %.1f us, flush %.1f us (frame %zu B), apply %.1f us  "
           "(%zu keys)\n", median(&s_tick_put) / 1e3, median(&s_tick_flush) / 1e3,
           tick_frame_bytes, median(&s_tick_apply) / 1e3, tick);
    printf("  first tick      put_many %.1f us, flush %.1f us, apply %.1f us  (after the initial "
           "load; not in the medians)\n", first_put / 1e3, first_flush / 1e3, first_apply / 1e3);
    printf("  delta_since     %.1f us (frame %zu B)\n", median(&s_delta) / 1e3, delta_frame_bytes);
    printf("  snapshot encode %s = %.2fx %s %s (frame %zu B)\n", fmt_time(median(&s_snap), t1, sizeof t1),
           median(&s_snap) / m, mname, fmt_time(m, t2, sizeof t2), snap_frame_bytes);
    printf("  snapshot apply  %s = %.2fx %s %s (fresh replica; memcpy into fresh memory %s)\n",
           fmt_time(median(&s_snap_apply), t1, sizeof t1), median(&s_snap_apply) / m, mname,
           fmt_time(m, t2, sizeof t2), fmt_time(median(&s_memcpy_fresh), t3, sizeof t3));
    printf("  bulk flush      %s (frame %zu B)\n", fmt_time(median(&s_bulk_flush), t4, sizeof t4),
           bulk_frame_bytes);

    podsync_store_free(r);
    podsync_store_free(warm);
    podsync_store_free(w);
    podsync_schema_free(schema);
    free(perm);
    free(tick_recs);
    free(tick_keys);
    free(copy_dst);
    free(recs2);
    free(recs);
    free(keys);
    return 0;
}
