/*
 * codec_bench.c — issue 4's workload in C: what compression costs and saves per tick, side by side.
 *
 * N entities of 40 B (u64 id, f32 position xyz, f32 orientation quaternion, u32 flags), fixed seed.
 * Every tick 1% of them (distinct, random, in random order) move: positions drift by small normal
 * steps, orientations rotate slightly, flags rarely flip. The same changed rows go, in the same
 * tick and in alternating order, through one writer -> replica pair per variant:
 *   plain       compression_level 0
 *   zstd L      compression_level L, all transforms (up to 3 levels)
 *   zstd L+dict the same with a dictionary trained on 64 earlier ticks (with -d)
 * and the run prints, per variant, the median bytes per tick and the median time of put_many,
 * flush (encode) and apply, and the ratio of encode + apply to the plain variant's.
 * Every replica's digest is compared with its writer's at the end.
 *
 *   usage: codec_bench [N] [TICKS] [LEVEL ...] [-c CHANGED] [-d] [-x]
 *          defaults: N 100000, TICKS 60, LEVEL 1, CHANGED N/100 records per tick
 *          -d: also each level with a dictionary; -x: also the first level without each transform
 *
 * C99 + POSIX clock_gettime; uses only include/podsync.h. Built and run by benchmarks/run-codec.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"

#define TABLE 1u
#define MAX_TICKS 1001

typedef struct entity {
    uint64_t id;
    float pos[3];
    float rot[4];
    uint32_t flags;
} entity;

typedef char entity_is_40_bytes[(sizeof(entity) == 40) ? 1 : -1];

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 20261124;

static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(void) { return (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0); }

static double normal(double sigma) { /* Box–Muller */
    double u = uniform(), v = uniform();
    if (u < 1e-300) u = 1e-300;
    return sigma * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void normalize(float q[4]) {
    double s = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
    for (int i = 0; i < 4; i++) q[i] = (float)(q[i] / s);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fail(const char *what, podsync_store *store, int32_t status) {
    fprintf(stderr, "%s: %s (%s)\n", what, podsync_status_name(status), store ? podsync_store_errmsg(store) : "");
    exit(1);
}

#define CHECK(store, call)                                 \
    do {                                                   \
        int32_t st_ = (call);                              \
        if (st_ < 0) fail(#call, (store), st_);            \
    } while (0)

typedef struct variant {
    const char *name;
    podsync_store *writer, *replica;
    double put[MAX_TICKS], flush[MAX_TICKS], apply[MAX_TICKS], both[MAX_TICKS], bytes[MAX_TICKS];
} variant;

static void make_variant(variant *v, const char *name, const podsync_schema *schema, int32_t level, uint32_t transforms) {
    podsync_store_options o;
    CHECK(NULL, podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION));
    o.compression_level = level;
    o.transforms = transforms;
    o.max_batch_records = 0;
    o.max_batch_bytes = 0;
    o.max_batch_age_ms = 0;
    v->name = name;
    CHECK(NULL, podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &v->writer));
    CHECK(NULL, podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &o, &v->replica));
}

/* Puts the rows, flushes and applies every frame (tick t >= 0 is recorded); returns the bytes sent. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static double tick(variant *v, int t, const uint64_t *keys, const entity *rows, size_t count) {
    double t0 = now_ns();
    CHECK(v->writer, podsync_store_put_many(v->writer, TABLE, keys, rows, count, count * sizeof(entity)));
    double t1 = now_ns();
    size_t frames = 0;
    CHECK(v->writer, podsync_store_flush(v->writer, &frames));
    double t2 = now_ns();
    double bytes = 0;
    for (size_t i = 0; i < frames; i++) {
        const uint8_t *frame = NULL;
        size_t size = 0;
        CHECK(v->writer, podsync_store_frame(v->writer, i, &frame, &size));
        uint64_t version = 0;
        CHECK(v->replica, podsync_store_apply(v->replica, frame, size, &version));
        bytes += (double)size;
    }
    double t3 = now_ns();
    if (t >= 0) { /* warm-up ticks are negative */
        v->put[t] = (t1 - t0) / 1e3;
        v->flush[t] = (t2 - t1) / 1e3;
        v->apply[t] = (t3 - t2) / 1e3;
        v->both[t] = (t3 - t1) / 1e3;
        v->bytes[t] = bytes;
    }
    return bytes;
}

/* The initial state: a separate function so a profiler can leave it out (callgrind --toggle-collect=tick). */
static void load(variant *v, const uint64_t *keys, const entity *world, size_t n) {
    CHECK(v->writer, podsync_store_put_many(v->writer, TABLE, keys, world, n, n * sizeof(entity)));
    size_t frames = 0;
    CHECK(v->writer, podsync_store_flush(v->writer, &frames));
    for (size_t i = 0; i < frames; i++) {
        const uint8_t *frame = NULL;
        size_t size = 0;
        CHECK(v->writer, podsync_store_frame(v->writer, i, &frame, &size));
        CHECK(v->replica, podsync_store_apply(v->replica, frame, size, NULL));
    }
}

int main(int argc, char **argv) {
    size_t n = 100000, changed = 0;
    int ticks = 60, levels[3] = {1}, nlevels = 0, dict = 0, ablate = 0, positional = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) changed = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-d") == 0) dict = 1;
        else if (strcmp(argv[i], "-x") == 0) ablate = 1;
        else if (positional == 0 && ++positional) n = (size_t)strtoull(argv[i], NULL, 10);
        else if (positional == 1 && ++positional) ticks = atoi(argv[i]);
        else if (nlevels < 3) levels[nlevels++] = atoi(argv[i]);
    }
    if (nlevels == 0) nlevels = 1;
    if (changed == 0) changed = n / 100;
    if (n < 100 || changed > n || ticks < 1 || ticks > MAX_TICKS) {
        fprintf(stderr, "usage: codec_bench [N >= 100] [TICKS 1..%d] [LEVEL ...(3)] [-c CHANGED] [-d] [-x]\n", MAX_TICKS);
        return 2;
    }

    static const podsync_field fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    podsync_schema *schema = NULL;
    CHECK(NULL, podsync_schema_create(&schema));
    CHECK(NULL, podsync_schema_add_table(schema, TABLE, sizeof(entity), 8, fields, 4));

    entity *world = malloc(n * sizeof *world);
    uint64_t *keys = malloc(n * sizeof *keys);
    size_t *perm = malloc(n * sizeof *perm);
    uint64_t *tick_keys = malloc(changed * sizeof *tick_keys);
    entity *tick_rows = malloc(changed * sizeof *tick_rows);
    if (!world || !keys || !perm || !tick_keys || !tick_rows) return 1;
    for (size_t i = 0; i < n; i++) {
        keys[i] = i + 1;
        world[i].id = i + 1;
        for (int k = 0; k < 3; k++) world[i].pos[k] = (float)(uniform() * 2000 - 1000);
        for (int k = 0; k < 4; k++) world[i].rot[k] = (float)normal(1);
        normalize(world[i].rot);
        world[i].flags = (uint32_t)(next_u64() & 3);
        perm[i] = i;
    }

    static char names[16][40];
    static variant variants[16];
    make_variant(&variants[0], "plain", schema, 0, PODSYNC_TRANSFORM_ALL);
    int nv = 1;
    for (int d = 0; d <= dict; d++) {
        for (int i = 0; i < nlevels; i++, nv++) {
            snprintf(names[nv], sizeof names[nv], d ? "zstd %d+dict" : "zstd %d", levels[i]);
            make_variant(&variants[nv], names[nv], schema, levels[i], PODSYNC_TRANSFORM_ALL);
        }
    }
    int first_ablation = nv;
    if (ablate) { /* each transform's effect: the first level without it */
        static const struct { const char *name; uint32_t drop; } drops[] = {
            {"no XOR", PODSYNC_TRANSFORM_XOR},
            {"no COLUMNS", PODSYNC_TRANSFORM_COLUMNS},
            {"no TRANSPOSE", PODSYNC_TRANSFORM_TRANSPOSE | PODSYNC_TRANSFORM_COLUMNS},
            {"no KEY_GAPS", PODSYNC_TRANSFORM_KEY_GAPS},
            {"no transforms", PODSYNC_TRANSFORM_ALL},
        };
        for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++, nv++) {
            snprintf(names[nv], sizeof names[nv], "%d %s", levels[0], drops[i].name);
            make_variant(&variants[nv], names[nv], schema, levels[0], PODSYNC_TRANSFORM_ALL & ~drops[i].drop);
        }
    }
    for (int k = 0; k < nv; k++) load(&variants[k], keys, world, n);

    /* With -d: 64 ticks whose frames the dictionary variants keep as samples, then training; the
       replicas load the writer's dictionary. Then three warm-up ticks, then the measured ones. */
    int first = dict ? -67 : -3;
    for (int k = 1 + nlevels; k < first_ablation; k++) CHECK(variants[k].writer, podsync_store_collect_samples(variants[k].writer, 1 << 20));
    for (int t = first; t < ticks; t++) {
        if (t == -3) {
            for (int k = 1 + nlevels; k < first_ablation; k++) {
                const void *bytes = NULL;
                size_t size = 0;
                CHECK(variants[k].writer, podsync_store_train_dictionary(variants[k].writer, 0, NULL));
                CHECK(variants[k].writer, podsync_store_dictionary(variants[k].writer, &bytes, &size, NULL));
                CHECK(variants[k].replica, podsync_store_load_dictionary(variants[k].replica, bytes, size, NULL));
            }
        }
        /* Partial Fisher–Yates: the first `changed` entries of perm are distinct random entities. */
        for (size_t i = 0; i < changed; i++) {
            size_t j = i + (size_t)(next_u64() % (n - i));
            size_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
            entity *e = &world[perm[i]];
            for (int k = 0; k < 3; k++) e->pos[k] += (float)normal(0.05);
            for (int k = 0; k < 4; k++) e->rot[k] += (float)normal(0.002);
            normalize(e->rot);
            if (uniform() < 0.001) e->flags ^= 1;
            tick_keys[i] = e->id;
            tick_rows[i] = *e;
        }
        for (int k = 0; k < nv; k++) {
            variant *v = &variants[(k + (t & 1)) % nv]; /* alternate who goes first */
            tick(v, t, tick_keys, tick_rows, changed);
        }
    }

    printf("codec_bench: N = %zu, %zu changed records per tick (random order), medians of %d ticks\n",
           n, changed, ticks);
    printf("%-16s %12s %10s %10s %10s %14s %10s\n", "variant", "bytes/tick", "put us", "flush us", "apply us",
           "flush+apply us", "vs plain");
    double plain_both = 0, plain_bytes = 0;
    int diverged = 0;
    for (int k = 0; k < nv; k++) {
        variant *v = &variants[k];
        double b = median(v->bytes, ticks), p = median(v->put, ticks), f = median(v->flush, ticks);
        double a = median(v->apply, ticks), fa = median(v->both, ticks);
        if (k == 0) { plain_both = fa; plain_bytes = b; }
        printf("%-16s %12.0f %10.1f %10.1f %10.1f %14.1f %9.2fx   bytes %.2fx\n", v->name, b, p, f, a, fa,
               fa / plain_both, b / plain_bytes);
        podsync_metrics m;
        memset(&m, 0, sizeof m);
        m.version = PODSYNC_METRICS_VERSION;
        CHECK(v->writer, podsync_store_metrics(v->writer, &m));
        if (m.compressed_frames + m.saved_by_key_gaps > 0) {
            double f = (double)m.frames_out;
            printf("%-16s per frame: raw %.0f -> wire %.0f B; key gaps saved %.0f, zero columns %.0f, zstd %.0f; "
                   "%.0f B of columns sent uncompressed; %" PRIu64 " column trials, %" PRIu64 " of %" PRIu64 " frames compressed\n",
                   "", (double)m.raw_bytes_out / f, (double)m.wire_bytes_out / f, (double)m.saved_by_key_gaps / f,
                   (double)m.saved_by_zero_columns / f, (double)m.saved_by_compression / f, (double)m.raw_column_bytes / f,
                   m.column_trials, m.compressed_frames, m.frames_out);
        }
        uint64_t dw = 0, dr = 0;
        CHECK(v->writer, podsync_store_digest(v->writer, &dw));
        CHECK(v->replica, podsync_store_digest(v->replica, &dr));
        if (dw != dr) {
            fprintf(stderr, "%s: replica digest %016" PRIx64 " != writer %016" PRIx64 "\n", v->name, dr, dw);
            diverged = 1;
        }
        podsync_store_free(v->writer);
        podsync_store_free(v->replica);
    }
    podsync_schema_free(schema);
    free(world); free(keys); free(perm); free(tick_keys); free(tick_rows);
    return diverged;
}
