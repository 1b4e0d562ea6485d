/*
 * suite_bench.c — PodSync from C on the workloads of benchmarks/suite.py, with the minimal C
 * reference store (reference_store.c, included as is) and plain memcpy measured in the same process,
 * interleaved repetition by repetition (the order rotates every repetition).
 *
 * The record layout is a compile-time constant, as in the reference store: build with -DREC=40 (the
 * entity: u64 id, f32 pos[3], f32 rot[4], u32 flags), -DREC=256 (u64 id, u32 seq, u32 flags,
 * f32 v[60]) or -DREC=20 (quant20: u64 id, i16 x, y, z, u16 heading, hp, flags; the id is stored as
 * 8 bytes so that the record stays 20 bytes with alignment 4). Keys are splitmix64(0..N-1) (quant20:
 * 0..N-1, object ids as a game hands them out), values come from a fixed seed, a tick changes
 * distinct random existing keys by small drifts: the same distributions as benchmarks/suite.py.
 *
 *   suite_bench workload N FRACTION REPS [LEVEL]
 *       bulk load (PodSync put_many into an empty writer + its flush; reference store load,
 *       presized and pre-touched as in reference_store.c, and including its allocation; memcpy),
 *       then ticks of FRACTION*N keys (PodSync put_many, flush, apply on an N-record replica,
 *       delta_since(v - 1); reference store apply; gather + scatter memcpy of the changed rows), then
 *       snapshots (PodSync encode, apply on a fresh replica; memcpy of the same bytes into touched
 *       and into fresh memory). LEVEL (default 0): when non-zero and the library has compression
 *       (0.2.0), a second writer/replica pair with zstd at that level runs the same ticks.
 *   suite_bench scaling N CHANGES REPS      (REC 40)
 *       a writer of N records; ticks of CHANGES keys; delta_since(v - 1) after each; RSS growth of
 *       the writer (after load + flush) and of a replica (after applying a snapshot), per record;
 *       then the reference store's find + copy of CHANGES just-updated keys (the floor of a delta).
 *   suite_bench putsize SIZE N REPS
 *       put_many of N new keys of SIZE-byte opaque records into an empty writer, then of the same
 *       keys again (update), next to a memcpy of the same bytes.
 *   suite_bench steady N TICKS FRACTION [LEVEL]
 *       after a bulk load and one warm-up tick, TICKS consecutive ticks of FRACTION*N keys; every
 *       PodSync put_many, flush and apply timed on its own (one sample per tick, so the tail shows:
 *       p50, p99, max), next to the reference store's apply of the same ticks; with LEVEL (non-zero,
 *       library with compression) a second writer/replica pair at that zstd level runs them too.
 *       The order of the systems rotates every tick.
 *
 * Output: one JSON object per line on stdout ({"series": name, "samples": [ns...]},
 * {"value": name, "v": number}, {"check": name, "ok": bool, "detail": text}); benchmarks/suite.py
 * turns them into tables. Every PodSync status is checked; a failure ends the run (exit 1) with
 * the status name and the store's message. A replica that differs from the truth is reported as a
 * failed check (exit 3 at the end).
 *
 * C99 + POSIX; uses only include/podsync.h (the 0.2.0 compression fields only under #ifdef and a
 * runtime check, so it builds and runs against 0.1 libraries too).
 */
#define _POSIX_C_SOURCE 200809L
#define REFERENCE_STORE_NO_MAIN
#ifndef REC
#define REC 40
#endif
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "reference_store.c" /* store, apply(), find(), fmix64(): the reference, unchanged */
#pragma GCC diagnostic pop

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"

#define TABLE 1u
#define MAX_REPS 64

#if REC == 40
typedef struct rec_t {
    uint64_t id;
    float pos[3];
    float rot[4];
    uint32_t flags;
} rec_t;
#elif REC == 256
typedef struct rec_t {
    uint64_t id;
    uint32_t seq;
    uint32_t flags;
    float v[60];
} rec_t;
#elif REC == 20
typedef struct rec_t {
    unsigned char id[8]; /* the u64 key, little-endian (a uint64_t member would pad the struct to 24) */
    int16_t x, y, z;
    uint16_t heading, hp, flags;
} rec_t;
#else
#error "REC must be 40, 256 or 20"
#endif
typedef char rec_t_has_rec_bytes[(sizeof(rec_t) == REC) ? 1 : -1];

/* ---------------------------------------------------------------------------------------------- */
/* Helpers                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static double sb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t sb_mix(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#if REC != 20 /* quant20's values are integers */
static float sb_unit(uint64_t *rng) { return (float)(sb_mix(rng) >> 40) * (1.0f / 16777216.0f); }
#endif

static volatile unsigned char sb_sink;

static void *sb_alloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) {
        fprintf(stderr, "suite_bench: out of memory (%zu bytes)\n", size);
        exit(2);
    }
    return p;
}

static void sb_fail(const char *what, int32_t status, const podsync_store *store) {
    fprintf(stderr, "suite_bench: %s returned %d (%s)", what, (int)status, podsync_status_name(status));
    if (store) fprintf(stderr, ": \"%s\"", podsync_store_errmsg(store));
    fprintf(stderr, "\n");
    exit(1);
}

#define OK(call, store)                                                \
    do {                                                               \
        int32_t st_ = (call);                                          \
        if (st_ != PODSYNC_OK) sb_fail(#call, st_, (store));           \
    } while (0)
#define WRITE(call, store)                                                          \
    do {                                                                            \
        int32_t st_ = (call);                                                       \
        if (st_ != PODSYNC_OK && st_ != PODSYNC_FLUSH_DUE) sb_fail(#call, st_, (store)); \
    } while (0)

static int checks_failed = 0;

static void emit_series(const char *name, const double *ns, int n) {
    printf("{\"series\": \"%s\", \"samples\": [", name);
    for (int i = 0; i < n; i++) printf("%s%.0f", i ? ", " : "", ns[i]);
    printf("]}\n");
}

static void emit_value(const char *name, double v) { printf("{\"value\": \"%s\", \"v\": %.17g}\n", name, v); }

static void emit_check(const char *name, int ok, const char *detail) {
    printf("{\"check\": \"%s\", \"ok\": %s, \"detail\": \"%s\"}\n", name, ok ? "true" : "false", detail);
    if (!ok) checks_failed = 1;
}

/* Resident set size in bytes (/proc/self/statm, second field, in pages). */
static double rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (double)resident * 4096.0;
}

typedef struct sb_series {
    double v[MAX_REPS];
    int n;
} sb_series;

static void sb_add(sb_series *s, double ns) {
    if (s->n < MAX_REPS) s->v[s->n++] = ns;
}

/* ---------------------------------------------------------------------------------------------- */
/* PodSync setup                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

static podsync_schema *make_schema(uint32_t record_size, int typed) {
    podsync_schema *schema = NULL;
    int32_t st = podsync_schema_create(&schema);
    if (st != PODSYNC_OK) sb_fail("podsync_schema_create", st, NULL);
#if REC == 40
    static const podsync_field fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
#elif REC == 256
    static const podsync_field fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"seq", PODSYNC_TYPE_U32, 8, 1, 0},
        {"flags", PODSYNC_TYPE_U32, 12, 1, 0},
        {"v", PODSYNC_TYPE_F32, 16, 60, 0},
    };
#else
    static const podsync_field fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},         {"x", PODSYNC_TYPE_I16, 8, 1, 0},
        {"y", PODSYNC_TYPE_I16, 10, 1, 0},         {"z", PODSYNC_TYPE_I16, 12, 1, 0},
        {"heading", PODSYNC_TYPE_U16, 14, 1, 0},   {"hp", PODSYNC_TYPE_U16, 16, 1, 0},
        {"flags", PODSYNC_TYPE_U16, 18, 1, 0},
    };
#endif
    /* the largest power of two up to 8 that divides the size (20 B: 4, as the Python binding picks) */
    uint32_t alignment = 8;
    while (record_size % alignment) alignment /= 2;
    st = podsync_schema_add_table(schema, TABLE, record_size, alignment, typed ? fields : NULL,
                                  typed ? sizeof fields / sizeof fields[0] : 0);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "suite_bench: podsync_schema_add_table: %s: \"%s\"\n", podsync_status_name(st),
                podsync_schema_errmsg(schema));
        exit(1);
    }
    return schema;
}

/* Compression needs the version-2 options struct (library 0.2.0), known at compile time by the
   header's PODSYNC_TRANSFORM_ALL and at run time by podsync_store_options_init(&o, 2) succeeding.
   Stores take the current struct version (the library's defaults) when the header has one. */
static int compression_supported(void) {
#ifdef PODSYNC_TRANSFORM_ALL
    podsync_store_options options;
    memset(&options, 0, sizeof options);
    return podsync_store_options_init(&options, 2) == PODSYNC_OK;
#else
    return 0;
#endif
}

static podsync_store *make_store(const podsync_schema *schema, uint32_t role, int level) {
    podsync_store_options options;
    memset(&options, 0, sizeof options);
#ifdef PODSYNC_STORE_OPTIONS_VERSION
    /* The library's defaults of today (frame format 2 and every transform since 0.9.0). */
    OK(podsync_store_options_init(&options, PODSYNC_STORE_OPTIONS_VERSION), NULL);
#else
    OK(podsync_store_options_init(&options, 1), NULL);
#endif
#ifdef PODSYNC_TRANSFORM_ALL
    options.compression_level = level;
#else
    (void)level;
#endif
    options.stream_id = 0x5EED0000C0DEull;
    options.max_batch_records = 0; /* the benchmark flushes explicitly */
    options.max_batch_bytes = 0;
    options.max_batch_age_ms = 0;
    options.max_frame_bytes = 0;   /* one frame per flush */
    podsync_store *store = NULL;
    int32_t st = podsync_store_create(schema, role, &options, &store);
    if (st != PODSYNC_OK || !store) sb_fail("podsync_store_create", st, NULL);
    return store;
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    OK(podsync_store_digest(s, &d), s);
    return d;
}

static uint64_t version_of(const podsync_store *s) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    OK(podsync_store_info_get(s, &info), s);
    return info.state_version;
}

/* Times delta_since(current - 1) on w and sums the bytes of the frames it produced. */
static double timed_delta_since_last(podsync_store *w, size_t *bytes) {
    size_t frames = 0;
    double t = sb_now();
    OK(podsync_store_delta_since(w, version_of(w) - 1, &frames), w);
    double elapsed = sb_now() - t;
    *bytes = 0;
    for (size_t f = 0; f < frames; f++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        OK(podsync_store_frame(w, f, &data, &size), w);
        *bytes += size;
    }
    return elapsed;
}

static size_t count_of(const podsync_store *s) {
    size_t c = 0;
    OK(podsync_store_count(s, TABLE, &c), s);
    return c;
}

/* Flushes the writer; returns the summed frame bytes; applies every frame to `replica` (if any),
   timing flush and apply separately. */
static size_t flush_apply(podsync_store *w, podsync_store *r, double *t_flush, double *t_apply) {
    size_t frames = 0, bytes = 0;
    double t = sb_now();
    OK(podsync_store_flush(w, &frames), w);
    if (t_flush) *t_flush = sb_now() - t;
    double ta = 0;
    for (size_t i = 0; i < frames; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        uint64_t v = 0;
        OK(podsync_store_frame(w, i, &data, &size), w);
        bytes += size;
        if (r) {
            t = sb_now();
            OK(podsync_store_apply(r, data, size, &v), r);
            ta += sb_now() - t;
        }
    }
    if (t_apply) *t_apply = ta;
    return bytes;
}

/* The replica holds exactly the truth: same count, and every key's record byte for byte. */
static int store_equals(const podsync_store *s, const uint64_t *keys, const rec_t *truth, size_t n,
                        char *detail, size_t cap) {
    if (count_of(s) != n) {
        snprintf(detail, cap, "count %zu, expected %zu", count_of(s), n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const void *p = NULL;
        int32_t st = podsync_store_get(s, TABLE, keys[i], &p);
        if (st != PODSYNC_OK || !p || memcmp(p, &truth[i], REC) != 0) {
            snprintf(detail, cap, "key %" PRIu64 " %s", keys[i], st == PODSYNC_OK ? "differs" : "missing");
            return 0;
        }
    }
    snprintf(detail, cap, "%zu records byte-equal", n);
    return 1;
}

static int same_digest(const podsync_store *w, const podsync_store *r) {
    return digest_of(w) == digest_of(r) && version_of(w) == version_of(r) && count_of(w) == count_of(r);
}

/* ---------------------------------------------------------------------------------------------- */
/* Data: the distributions of benchmarks/suite.py                                                 */
/* ---------------------------------------------------------------------------------------------- */

static void make_keys(uint64_t *keys, size_t n) {
#if REC == 20
    for (size_t i = 0; i < n; i++) keys[i] = i; /* object ids 0..N-1 */
#else
    for (size_t i = 0; i < n; i++) {
        uint64_t s = i;
        keys[i] = sb_mix(&s); /* splitmix64 of i: distinct */
    }
#endif
}

static void fill(rec_t *r, uint64_t key, uint64_t *rng) {
    memset(r, 0, sizeof *r);
#if REC == 20
    memcpy(r->id, &key, 8); /* little-endian hosts, as every PodSync target */
    r->x = (int16_t)(sb_mix(rng) % 2000);
    r->y = (int16_t)(sb_mix(rng) % 2000);
    r->z = (int16_t)(sb_mix(rng) % 100);
    r->heading = (uint16_t)(sb_mix(rng) % 360);
    r->hp = 100;
#elif REC == 40
    r->id = key;
    for (int j = 0; j < 3; j++) r->pos[j] = sb_unit(rng) * 1000.0f;
    float q[4], norm = 0;
    for (int j = 0; j < 4; j++) { q[j] = sb_unit(rng) * 2.0f - 1.0f; norm += q[j] * q[j]; }
    norm = sqrtf(norm) + 1e-6f;
    for (int j = 0; j < 4; j++) r->rot[j] = q[j] / norm;
    r->flags = (uint32_t)(sb_mix(rng) % 16);
#else
    r->id = key;
    r->seq = 0;
    r->flags = (uint32_t)(sb_mix(rng) % 16);
    for (int j = 0; j < 16; j++) r->v[j] = sb_unit(rng) * 1000.0f;
    for (int j = 16; j < 60; j++) r->v[j] = (float)(sb_mix(rng) % 256);
#endif
}

/* A small drift: the tick's change to one record. */
static void drift(rec_t *r, uint64_t *rng) {
#if REC == 20 /* the moves of small_records_bench.c */
    r->x = (int16_t)(r->x + (int)(sb_mix(rng) % 5) - 2);
    r->y = (int16_t)(r->y + (int)(sb_mix(rng) % 5) - 2);
    r->heading = (uint16_t)((r->heading + sb_mix(rng) % 7) % 360);
    if (sb_mix(rng) % 10 == 0) r->hp--;
#elif REC == 40
    for (int j = 0; j < 3; j++) r->pos[j] += (sb_unit(rng) - 0.5f) * 0.1f;
    if (sb_mix(rng) % 16 == 0) r->flags = (uint32_t)(sb_mix(rng) % 16);
#else
    r->seq += 1;
    for (int j = 0; j < 6; j++) r->v[j] += (sb_unit(rng) - 0.5f) * 0.1f;
#endif
}

/* ---------------------------------------------------------------------------------------------- */
/* workload                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

static store ref_create(size_t n, int touch) {
    size_t buckets = 1;
    while (buckets < 2 * n) buckets <<= 1;
    store s = {sb_alloc(buckets * sizeof(bucket)), buckets - 1, sb_alloc(n * REC), sb_alloc(n * 8), 0};
    memset(s.b, 0xff, buckets * sizeof(bucket));
    if (touch) {
        memset(s.arena, 0, n * REC);
        memset(s.keys, 0, n * 8);
    }
    return s;
}

static void ref_free(store *s) {
    free(s->b);
    free(s->arena);
    free(s->keys);
}

static int ref_equals(const store *s, const uint64_t *keys, const rec_t *truth, size_t n, char *detail,
                      size_t cap) {
    if (s->count != n) {
        snprintf(detail, cap, "count %zu, expected %zu", s->count, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t slot = find(s, keys[i]);
        if (slot == UINT32_MAX || memcmp(s->arena + (size_t)slot * REC, &truth[i], REC) != 0) {
            snprintf(detail, cap, "key %" PRIu64 " %s", keys[i], slot == UINT32_MAX ? "missing" : "differs");
            return 0;
        }
    }
    snprintf(detail, cap, "%zu records byte-equal", n);
    return 1;
}

static int run_workload(size_t n, double fraction, int reps, int level) {
    const size_t tick = (size_t)((double)n * fraction + 0.5) > 0 ? (size_t)((double)n * fraction + 0.5) : 1;
    const size_t bytes = n * REC;
    const int zstd = level != 0 && compression_supported();
    emit_value("record_size", REC);
    emit_value("n", (double)n);
    emit_value("tick_records", (double)tick);
    emit_value("compression_level", zstd ? level : 0);
    emit_value("library_version", podsync_version_number());
    emit_value("library_abi", podsync_abi_version());

    uint64_t rng = 0x5EED;
    uint64_t *keys = sb_alloc(n * sizeof *keys);
    rec_t *truth = sb_alloc(bytes);
    unsigned char *copy_dst = sb_alloc(bytes);
    rec_t *floor_replica = sb_alloc(bytes);
    make_keys(keys, n);
    for (size_t i = 0; i < n; i++) fill(&truth[i], keys[i], &rng);
    memset(copy_dst, 1, bytes);
    memcpy(floor_replica, truth, bytes);

    size_t *perm = sb_alloc(n * sizeof *perm), *tick_idx = sb_alloc(tick * sizeof *tick_idx);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t *tick_keys = sb_alloc(tick * sizeof *tick_keys);
    rec_t *tick_recs = sb_alloc(tick * REC);
    rec_t *gather_buf = sb_alloc(tick * REC);

    podsync_schema *schema = make_schema(REC, 1);

    /* --- bulk load: PodSync, the reference store (pre-touched, as in reference_store.c; and
       with its allocation and first touch inside the timer), memcpy --- */
    sb_series s_bulk = {{0}, 0}, s_bulk_flush = {{0}, 0}, s_ref_load = {{0}, 0}, s_ref_load_alloc = {{0}, 0};
    sb_series s_memcpy = {{0}, 0}, s_memcpy_fresh = {{0}, 0};
    size_t bulk_frame_bytes = 0;
    double t;
    for (int rep = 0; rep < reps; rep++) {
        for (int k = 0; k < 4; k++) {
            switch ((k + rep) % 4) {
            case 0: {
                podsync_store *b = make_store(schema, PODSYNC_ROLE_WRITER, 0);
                t = sb_now();
                WRITE(podsync_store_put_many(b, TABLE, keys, truth, n, bytes), b);
                sb_add(&s_bulk, sb_now() - t);
                double tf = 0;
                bulk_frame_bytes = flush_apply(b, NULL, &tf, NULL);
                sb_add(&s_bulk_flush, tf);
                podsync_store_free(b);
                break;
            }
            case 1: {
                store s = ref_create(n, 1);
                t = sb_now();
                apply(&s, keys, (const uint8_t *)truth, n);
                sb_add(&s_ref_load, sb_now() - t);
                ref_free(&s);
                break;
            }
            case 2: {
                t = sb_now();
                store s = ref_create(n, 0);
                apply(&s, keys, (const uint8_t *)truth, n);
                sb_add(&s_ref_load_alloc, sb_now() - t);
                ref_free(&s);
                break;
            }
            case 3:
                t = sb_now();
                memcpy(copy_dst, truth, bytes);
                sb_add(&s_memcpy, sb_now() - t);
                sb_sink = copy_dst[bytes - 1];
                break;
            }
        }
    }

    /* --- steady state: writer W and replica R (and Wz/Rz with zstd), the reference store S --- */
    podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER, 0);
    podsync_store *r = make_store(schema, PODSYNC_ROLE_REPLICA, 0);
    podsync_store *wz = zstd ? make_store(schema, PODSYNC_ROLE_WRITER, level) : NULL;
    podsync_store *rz = zstd ? make_store(schema, PODSYNC_ROLE_REPLICA, 0) : NULL;
    WRITE(podsync_store_put_many(w, TABLE, keys, truth, n, bytes), w);
    flush_apply(w, r, NULL, NULL);
    if (zstd) {
        WRITE(podsync_store_put_many(wz, TABLE, keys, truth, n, bytes), wz);
        flush_apply(wz, rz, NULL, NULL);
    }
    store s = ref_create(n, 1);
    apply(&s, keys, (const uint8_t *)truth, n);

    sb_series s_put = {{0}, 0}, s_flush = {{0}, 0}, s_apply = {{0}, 0}, s_delta = {{0}, 0};
    sb_series s_zput = {{0}, 0}, s_zflush = {{0}, 0}, s_zapply = {{0}, 0};
    sb_series s_ref_apply = {{0}, 0}, s_gather = {{0}, 0}, s_scatter = {{0}, 0};
    size_t tick_bytes = 0, ztick_bytes = 0, delta_bytes = 0;
    int ticks_ok = 1;
    char detail[256] = "";
    /* repetition -1 is the warm-up tick (first tick after the load: one-time costs), not recorded */
    for (int rep = -1; rep < reps; rep++) {
        for (size_t i = 0; i < tick; i++) { /* partial Fisher-Yates: distinct random existing keys */
            size_t j = i + (size_t)(sb_mix(&rng) % (uint64_t)(n - i));
            size_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
            tick_idx[i] = perm[i];
            drift(&truth[perm[i]], &rng);
            tick_keys[i] = keys[perm[i]];
            tick_recs[i] = truth[perm[i]];
        }
        for (int k = 0; k < 4; k++) {
            switch ((k + rep + 4) % 4) {
            case 0: {
                double tp, tf, ta;
                t = sb_now();
                WRITE(podsync_store_put_many(w, TABLE, tick_keys, tick_recs, tick, tick * REC), w);
                tp = sb_now() - t;
                tick_bytes = flush_apply(w, r, &tf, &ta);
                if (!same_digest(w, r)) ticks_ok = 0;
                double td = timed_delta_since_last(w, &delta_bytes);
                if (rep >= 0) {
                    sb_add(&s_put, tp);
                    sb_add(&s_flush, tf);
                    sb_add(&s_apply, ta);
                    sb_add(&s_delta, td);
                }
                break;
            }
            case 1: {
                if (!zstd) break;
                double tp, tf, ta;
                t = sb_now();
                WRITE(podsync_store_put_many(wz, TABLE, tick_keys, tick_recs, tick, tick * REC), wz);
                tp = sb_now() - t;
                ztick_bytes = flush_apply(wz, rz, &tf, &ta);
                if (!same_digest(wz, rz)) ticks_ok = 0;
                if (rep >= 0) {
                    sb_add(&s_zput, tp);
                    sb_add(&s_zflush, tf);
                    sb_add(&s_zapply, ta);
                }
                break;
            }
            case 2:
                t = sb_now();
                apply(&s, tick_keys, (const uint8_t *)tick_recs, tick);
                if (rep >= 0) sb_add(&s_ref_apply, sb_now() - t);
                break;
            case 3: {
                /* the physical floor: gather the changed rows, scatter them into a replica array
                   whose positions are known (no lookup, no framing, no checks) */
                t = sb_now();
                for (size_t i = 0; i < tick; i++) memcpy(&gather_buf[i], &truth[tick_idx[i]], REC);
                double tg = sb_now() - t;
                t = sb_now();
                for (size_t i = 0; i < tick; i++) memcpy(&floor_replica[tick_idx[i]], &gather_buf[i], REC);
                double ts = sb_now() - t;
                if (rep >= 0) {
                    sb_add(&s_gather, tg);
                    sb_add(&s_scatter, ts);
                }
                break;
            }
            }
        }
    }
    emit_check("tick.podsync.digest", ticks_ok,
               ticks_ok ? "digests equal after every tick" : "a replica's digest differed after a tick");
    emit_check("tick.podsync", store_equals(r, keys, truth, n, detail, sizeof detail), detail);
    if (zstd) emit_check("tick.podsync_zstd", store_equals(rz, keys, truth, n, detail, sizeof detail), detail);
    emit_check("tick.reference", ref_equals(&s, keys, truth, n, detail, sizeof detail), detail);
    {
        int eq = memcmp(floor_replica, truth, bytes) == 0;
        emit_check("tick.floor", eq, eq ? "records byte-equal" : "replica array differs");
    }
    ref_free(&s);

    /* --- snapshots: PodSync encode + apply on a fresh replica; memcpy of the same bytes (the
       zstd pair is left out here: benchmarks/suite.py measures compressed snapshots from Python) --- */
    sb_series s_snap = {{0}, 0}, s_snap_apply = {{0}, 0};
    size_t snap_bytes = 0;
    int snaps_ok = 1;
    for (int rep = 0; rep < reps; rep++) {
        for (int k = 0; k < 3; k++) {
            switch ((k + rep) % 3) {
            case 0: {
                size_t frames = 0, size = 0;
                const uint8_t *data = NULL;
                uint64_t v = 0;
                t = sb_now();
                OK(podsync_store_snapshot(w, &frames), w);
                double te = sb_now() - t;
                if (frames != 1) sb_fail("podsync_store_snapshot (frame count)", PODSYNC_E_INTERNAL, w);
                OK(podsync_store_frame(w, 0, &data, &size), w);
                podsync_store *fresh = make_store(schema, PODSYNC_ROLE_REPLICA, 0);
                t = sb_now();
                OK(podsync_store_apply(fresh, data, size, &v), fresh);
                double ta = sb_now() - t;
                if (!same_digest(w, fresh)) snaps_ok = 0;
                if (rep == reps - 1) {
                    int eq = store_equals(fresh, keys, truth, n, detail, sizeof detail);
                    emit_check("snapshot.podsync", eq, detail);
                }
                podsync_store_free(fresh);
                sb_add(&s_snap, te);
                sb_add(&s_snap_apply, ta);
                snap_bytes = size;
                break;
            }
            case 1:
                t = sb_now();
                memcpy(copy_dst, truth, bytes);
                sb_add(&s_memcpy, sb_now() - t);
                sb_sink = copy_dst[bytes - 1];
                break;
            case 2: {
                unsigned char *fresh_dst = sb_alloc(bytes);
                t = sb_now();
                memcpy(fresh_dst, truth, bytes);
                sb_add(&s_memcpy_fresh, sb_now() - t);
                sb_sink = fresh_dst[bytes - 1];
                free(fresh_dst);
                break;
            }
            }
        }
    }
    emit_check("snapshot.podsync.digest", snaps_ok,
               snaps_ok ? "digests equal" : "a fresh replica's digest differed");

    emit_series("bulk.podsync.put", s_bulk.v, s_bulk.n);
    emit_series("bulk.podsync.flush", s_bulk_flush.v, s_bulk_flush.n);
    emit_value("bulk.podsync.bytes", (double)bulk_frame_bytes);
    emit_series("bulk.reference.load", s_ref_load.v, s_ref_load.n);
    emit_series("bulk.reference.load_with_alloc", s_ref_load_alloc.v, s_ref_load_alloc.n);
    emit_series("memcpy.touched", s_memcpy.v, s_memcpy.n);
    emit_series("memcpy.fresh", s_memcpy_fresh.v, s_memcpy_fresh.n);
    emit_series("tick.podsync.put", s_put.v, s_put.n);
    emit_series("tick.podsync.flush", s_flush.v, s_flush.n);
    emit_series("tick.podsync.apply", s_apply.v, s_apply.n);
    emit_value("tick.podsync.bytes", (double)tick_bytes);
    emit_series("tick.podsync.delta_since", s_delta.v, s_delta.n);
    emit_value("tick.podsync.delta_bytes", (double)delta_bytes);
    if (zstd) {
        emit_series("tick.podsync_zstd.put", s_zput.v, s_zput.n);
        emit_series("tick.podsync_zstd.flush", s_zflush.v, s_zflush.n);
        emit_series("tick.podsync_zstd.apply", s_zapply.v, s_zapply.n);
        emit_value("tick.podsync_zstd.bytes", (double)ztick_bytes);
    }
    emit_series("tick.reference.apply", s_ref_apply.v, s_ref_apply.n);
    emit_value("tick.reference.bytes", (double)tick * (8 + REC));
    emit_series("tick.floor.gather", s_gather.v, s_gather.n);
    emit_series("tick.floor.scatter", s_scatter.v, s_scatter.n);
    emit_value("tick.floor.bytes", (double)tick * REC);
    emit_series("snapshot.podsync.encode", s_snap.v, s_snap.n);
    emit_series("snapshot.podsync.apply", s_snap_apply.v, s_snap_apply.n);
    emit_value("snapshot.podsync.bytes", (double)snap_bytes);
    emit_value("snapshot.memcpy.bytes", (double)bytes);

    podsync_store_free(w);
    podsync_store_free(r);
    podsync_store_free(wz);
    podsync_store_free(rz);
    podsync_schema_free(schema);
    free(gather_buf);
    free(tick_recs);
    free(tick_keys);
    free(tick_idx);
    free(perm);
    free(floor_replica);
    free(copy_dst);
    free(truth);
    free(keys);
    return checks_failed ? 3 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* scaling: delta_since with a fixed number of changes as the state grows; memory per record      */
/* ---------------------------------------------------------------------------------------------- */

static int run_scaling(size_t n, size_t changes, int reps) {
    if (changes > n) changes = n;
    uint64_t rng = 0x5EED;
    uint64_t *keys = sb_alloc(n * sizeof *keys);
    rec_t *truth = sb_alloc(n * REC);
    uint64_t *tick_keys = sb_alloc(changes * sizeof *tick_keys);
    rec_t *tick_recs = sb_alloc(changes * REC);
    make_keys(keys, n);
    for (size_t i = 0; i < n; i++) fill(&truth[i], keys[i], &rng);
    memset(tick_keys, 0, changes * sizeof *tick_keys);
    memset(tick_recs, 0, changes * REC);
    podsync_schema *schema = make_schema(REC, 1);
    emit_value("n", (double)n);
    emit_value("changes", (double)changes);

    double rss0 = rss_bytes();
    podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER, 0);
    double t = sb_now();
    WRITE(podsync_store_put_many(w, TABLE, keys, truth, n, n * REC), w);
    double t_load = sb_now() - t;
    double t_flush = 0;
    flush_apply(w, NULL, &t_flush, NULL);
    emit_value("load.put_ns", t_load);
    emit_value("load.flush_ns", t_flush);

    sb_series s_put = {{0}, 0}, s_flush = {{0}, 0}, s_delta = {{0}, 0};
    size_t delta_bytes = 0;
    for (int rep = -1; rep < reps; rep++) {
        for (size_t i = 0; i < changes; i++) {
            size_t j = (size_t)(sb_mix(&rng) % (uint64_t)n);
            drift(&truth[j], &rng);
            tick_keys[i] = keys[j];
            tick_recs[i] = truth[j];
        }
        t = sb_now();
        WRITE(podsync_store_put_many(w, TABLE, tick_keys, tick_recs, changes, changes * REC), w);
        double tp = sb_now() - t, tf = 0;
        flush_apply(w, NULL, &tf, NULL);
        double td = timed_delta_since_last(w, &delta_bytes);
        if (rep >= 0) {
            sb_add(&s_put, tp);
            sb_add(&s_flush, tf);
            sb_add(&s_delta, td);
        }
    }
    /* the outbox now holds one small delta: the writer's memory is its state */
    double rss1 = rss_bytes();
    emit_value("rss.writer_bytes", rss1 - rss0);

    size_t frames = 0, size = 0;
    const uint8_t *data = NULL;
    t = sb_now();
    OK(podsync_store_snapshot(w, &frames), w);
    double t_snap = sb_now() - t;
    OK(podsync_store_frame(w, 0, &data, &size), w);
    double rss2 = rss_bytes();
    podsync_store *r = make_store(schema, PODSYNC_ROLE_REPLICA, 0);
    uint64_t v = 0;
    t = sb_now();
    OK(podsync_store_apply(r, data, size, &v), r);
    double t_snap_apply = sb_now() - t;
    double rss3 = rss_bytes();
    emit_value("rss.replica_bytes", rss3 - rss2);
    emit_value("snapshot.encode_ns", t_snap);
    emit_value("snapshot.apply_ns", t_snap_apply);
    emit_value("snapshot.bytes", (double)size);
    char detail[256];
    int eq = same_digest(w, r) && store_equals(r, keys, truth, n, detail, sizeof detail);
    if (!same_digest(w, r)) snprintf(detail, sizeof detail, "digest differs");
    emit_check("scaling.podsync", eq, detail);

    emit_series("tick.put", s_put.v, s_put.n);
    emit_series("tick.flush", s_flush.v, s_flush.n);
    emit_series("delta_since", s_delta.v, s_delta.n);
    emit_value("delta_since.bytes", (double)delta_bytes);
    podsync_store_free(r);
    podsync_store_free(w);

    /* The floor of any catch-up delta at this N: the reference store, after an update of CHANGES
       random keys, finds those keys again and copies their records out (after the RSS figures, so
       it does not count in them). */
    {
        store ref = ref_create(n, 1);
        apply(&ref, keys, (const uint8_t *)truth, n);
        rec_t *out = sb_alloc(changes * REC);
        sb_series s_gather = {{0}, 0};
        for (int rep = -1; rep < reps; rep++) {
            for (size_t i = 0; i < changes; i++) {
                size_t j = (size_t)(sb_mix(&rng) % (uint64_t)n);
                drift(&truth[j], &rng);
                tick_keys[i] = keys[j];
                tick_recs[i] = truth[j];
            }
            apply(&ref, tick_keys, (const uint8_t *)tick_recs, changes);
            t = sb_now();
            for (size_t i = 0; i < changes; i++)
                memcpy(&out[i], ref.arena + (size_t)find(&ref, tick_keys[i]) * REC, REC);
            double tg = sb_now() - t;
            sb_sink = ((const unsigned char *)out)[changes * REC - 1];
            if (rep >= 0) sb_add(&s_gather, tg);
        }
        emit_series("reference.gather", s_gather.v, s_gather.n);
        free(out);
        ref_free(&ref);
    }

    podsync_schema_free(schema);
    free(tick_recs);
    free(tick_keys);
    free(truth);
    free(keys);
    return checks_failed ? 3 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* steady: consecutive ticks, each one timed on its own (the tail, not only the median)           */
/* ---------------------------------------------------------------------------------------------- */

enum { ST_PUT, ST_FLUSH, ST_APPLY, ST_ZPUT, ST_ZFLUSH, ST_ZAPPLY, ST_REF, ST_SERIES };

/* One tick on a writer/replica pair; its put_many, flush and apply go to sample `i` of the series
   at `first` (ST_PUT or ST_ZPUT) unless i < 0 (the warm-up tick). Returns the tick's frame bytes. */
static size_t steady_tick(podsync_store *w, podsync_store *r, const uint64_t *tick_keys, const rec_t *tick_recs,
                          size_t tick, double *samples, int ticks, int first, int i, int *ok) {
    double tf = 0, ta = 0, t = sb_now();
    WRITE(podsync_store_put_many(w, TABLE, tick_keys, tick_recs, tick, tick * REC), w);
    double tp = sb_now() - t;
    size_t b = flush_apply(w, r, &tf, &ta);
    if (!same_digest(w, r)) *ok = 0;
    if (i >= 0) {
        samples[(size_t)(first + 0) * (size_t)ticks + (size_t)i] = tp;
        samples[(size_t)(first + 1) * (size_t)ticks + (size_t)i] = tf;
        samples[(size_t)(first + 2) * (size_t)ticks + (size_t)i] = ta;
    }
    return b;
}

static int run_steady(size_t n, int ticks, double fraction, int level) {
    const size_t tick = (size_t)((double)n * fraction + 0.5) > 0 ? (size_t)((double)n * fraction + 0.5) : 1;
    const size_t bytes = n * REC;
    const int zstd = level != 0 && compression_supported();
    emit_value("record_size", REC);
    emit_value("n", (double)n);
    emit_value("ticks", ticks);
    emit_value("tick_records", (double)tick);
    emit_value("compression_level", zstd ? level : 0);

    uint64_t rng = 0x5EED;
    uint64_t *keys = sb_alloc(n * sizeof *keys);
    rec_t *truth = sb_alloc(bytes);
    size_t *perm = sb_alloc(n * sizeof *perm);
    uint64_t *tick_keys = sb_alloc(tick * sizeof *tick_keys);
    rec_t *tick_recs = sb_alloc(tick * REC);
    double *samples = sb_alloc((size_t)ST_SERIES * (size_t)ticks * sizeof *samples);
    make_keys(keys, n);
    for (size_t i = 0; i < n; i++) fill(&truth[i], keys[i], &rng);
    for (size_t i = 0; i < n; i++) perm[i] = i;

    podsync_schema *schema = make_schema(REC, 1);
    podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER, 0);
    podsync_store *r = make_store(schema, PODSYNC_ROLE_REPLICA, 0);
    podsync_store *wz = zstd ? make_store(schema, PODSYNC_ROLE_WRITER, level) : NULL;
    podsync_store *rz = zstd ? make_store(schema, PODSYNC_ROLE_REPLICA, 0) : NULL;
    WRITE(podsync_store_put_many(w, TABLE, keys, truth, n, bytes), w);
    flush_apply(w, r, NULL, NULL);
    if (zstd) {
        WRITE(podsync_store_put_many(wz, TABLE, keys, truth, n, bytes), wz);
        flush_apply(wz, rz, NULL, NULL);
    }
    store s = ref_create(n, 1);
    apply(&s, keys, (const uint8_t *)truth, n);

    double tick_bytes = 0, ztick_bytes = 0;
    int ticks_ok = 1;
    /* tick -1 is the warm-up (the first tick after the load: one-time costs), not recorded */
    for (int i = -1; i < ticks; i++) {
        for (size_t c = 0; c < tick; c++) { /* partial Fisher-Yates: distinct random existing keys */
            size_t j = c + (size_t)(sb_mix(&rng) % (uint64_t)(n - c));
            size_t tmp = perm[c];
            perm[c] = perm[j];
            perm[j] = tmp;
            drift(&truth[perm[c]], &rng);
            tick_keys[c] = keys[perm[c]];
            tick_recs[c] = truth[perm[c]];
        }
        for (int k = 0; k < 3; k++) {
            switch ((k + i + 3) % 3) {
            case 0: {
                size_t b = steady_tick(w, r, tick_keys, tick_recs, tick, samples, ticks, ST_PUT, i, &ticks_ok);
                if (i >= 0) tick_bytes += (double)b;
                break;
            }
            case 1:
                if (zstd) {
                    size_t b = steady_tick(wz, rz, tick_keys, tick_recs, tick, samples, ticks, ST_ZPUT, i, &ticks_ok);
                    if (i >= 0) ztick_bytes += (double)b;
                }
                break;
            case 2: {
                double t = sb_now();
                apply(&s, tick_keys, (const uint8_t *)tick_recs, tick);
                if (i >= 0) samples[(size_t)ST_REF * (size_t)ticks + (size_t)i] = sb_now() - t;
                break;
            }
            }
        }
    }
    char detail[256] = "";
    emit_check("steady.podsync.digest", ticks_ok,
               ticks_ok ? "digests equal after every tick" : "a replica's digest differed after a tick");
    emit_check("steady.podsync", store_equals(r, keys, truth, n, detail, sizeof detail), detail);
    if (zstd) emit_check("steady.podsync_zstd", store_equals(rz, keys, truth, n, detail, sizeof detail), detail);
    emit_check("steady.reference", ref_equals(&s, keys, truth, n, detail, sizeof detail), detail);

    static const char *const names[ST_SERIES] = {
        "steady.podsync.put",       "steady.podsync.flush",       "steady.podsync.apply",
        "steady.podsync_zstd.put",  "steady.podsync_zstd.flush",  "steady.podsync_zstd.apply",
        "steady.reference.apply",
    };
    for (int k = 0; k < ST_SERIES; k++)
        if (zstd || k < ST_ZPUT || k > ST_ZAPPLY) emit_series(names[k], samples + (size_t)k * (size_t)ticks, ticks);
    emit_value("steady.podsync.bytes", tick_bytes / ticks);
    if (zstd) emit_value("steady.podsync_zstd.bytes", ztick_bytes / ticks);

    ref_free(&s);
    podsync_store_free(w);
    podsync_store_free(r);
    podsync_store_free(wz);
    podsync_store_free(rz);
    podsync_schema_free(schema);
    free(samples);
    free(tick_recs);
    free(tick_keys);
    free(perm);
    free(truth);
    free(keys);
    return checks_failed ? 3 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* putsize: put throughput against the record size                                                 */
/* ---------------------------------------------------------------------------------------------- */

static int run_putsize(size_t size, size_t n, int reps) {
    size_t bytes = n * size;
    uint64_t rng = 0x5EED;
    uint64_t *keys = sb_alloc(n * sizeof *keys);
    uint64_t *recs = sb_alloc(bytes), *recs2 = sb_alloc(bytes);
    unsigned char *copy_dst = sb_alloc(bytes);
    make_keys(keys, n);
    for (size_t i = 0; i < bytes / 8; i++) {
        recs[i] = sb_mix(&rng);
        recs2[i] = sb_mix(&rng);
    }
    memset(copy_dst, 1, bytes);
    podsync_schema *schema = make_schema((uint32_t)size, 0);
    emit_value("record_size", (double)size);
    emit_value("n", (double)n);
    sb_series s_bulk = {{0}, 0}, s_update = {{0}, 0}, s_memcpy = {{0}, 0};
    for (int rep = 0; rep < reps; rep++) {
        double t = sb_now();
        memcpy(copy_dst, rep % 2 ? recs : recs2, bytes);
        sb_add(&s_memcpy, sb_now() - t);
        sb_sink = copy_dst[bytes - 1];
        podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER, 0);
        t = sb_now();
        WRITE(podsync_store_put_many(w, TABLE, keys, recs, n, bytes), w);
        sb_add(&s_bulk, sb_now() - t);
        flush_apply(w, NULL, NULL, NULL);
        t = sb_now();
        WRITE(podsync_store_put_many(w, TABLE, keys, recs2, n, bytes), w);
        sb_add(&s_update, sb_now() - t);
        if (count_of(w) != n) {
            emit_check("putsize.podsync", 0, "writer count differs from N");
        }
        podsync_store_free(w);
    }
    emit_check("putsize.podsync", !checks_failed, "writer holds N records");
    emit_series("put.bulk", s_bulk.v, s_bulk.n);
    emit_series("put.update", s_update.v, s_update.n);
    emit_series("memcpy", s_memcpy.v, s_memcpy.n);
    podsync_schema_free(schema);
    free(copy_dst);
    free(recs2);
    free(recs);
    free(keys);
    return checks_failed ? 3 : 0;
}

int main(int argc, char **argv) {
    const char *usage =
        "usage: suite_bench workload N FRACTION REPS [LEVEL]\n"
        "       suite_bench scaling N CHANGES REPS\n"
        "       suite_bench putsize SIZE N REPS\n"
        "       suite_bench steady N TICKS FRACTION [LEVEL]\n";
    if (argc < 5) {
        fputs(usage, stderr);
        return 2;
    }
    if (podsync_abi_version() < 1) {
        fprintf(stderr, "suite_bench: unexpected library ABI %u\n", podsync_abi_version());
        return 1;
    }
    if (strcmp(argv[1], "steady") == 0) {
        size_t n = (size_t)strtoull(argv[2], NULL, 10);
        int ticks = atoi(argv[3]);
        double fraction = atof(argv[4]);
        int level = argc > 5 ? atoi(argv[5]) : 0;
        if (n < 100 || ticks < 1 || fraction <= 0 || fraction > 1) {
            fputs(usage, stderr);
            return 2;
        }
        return run_steady(n, ticks, fraction, level);
    }
    int reps = atoi(argv[4]);
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "suite_bench: REPS must be 1..%d\n", MAX_REPS);
        return 2;
    }
    if (strcmp(argv[1], "workload") == 0) {
        size_t n = (size_t)strtoull(argv[2], NULL, 10);
        double fraction = atof(argv[3]);
        int level = argc > 5 ? atoi(argv[5]) : 0;
        if (n < 100 || fraction <= 0 || fraction > 1) {
            fputs(usage, stderr);
            return 2;
        }
        return run_workload(n, fraction, reps, level);
    }
    if (strcmp(argv[1], "scaling") == 0) {
        size_t n = (size_t)strtoull(argv[2], NULL, 10), changes = (size_t)strtoull(argv[3], NULL, 10);
        if (n < 1 || changes < 1) {
            fputs(usage, stderr);
            return 2;
        }
        return run_scaling(n, changes, reps);
    }
    if (strcmp(argv[1], "putsize") == 0) {
        size_t size = (size_t)strtoull(argv[2], NULL, 10), n = (size_t)strtoull(argv[3], NULL, 10);
        if (size < 8 || size % 8 || size > PODSYNC_MAX_RECORD_SIZE || n < 1) {
            fputs(usage, stderr);
            return 2;
        }
        return run_putsize(size, n, reps);
    }
    fputs(usage, stderr);
    return 2;
}
