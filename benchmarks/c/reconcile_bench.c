/*
 * reconcile_bench.c — healing a replica by reconciliation against sending it a snapshot.
 *
 * A writer holds N records of 40 bytes (table 1, random keys); a replica holds the same state.
 * Then D random keys of the writer change (90% updates, 5% deletes, 5% inserts) and the replica
 * misses them. Measured, in one run:
 *   - the snapshot: bytes, and the time to produce it and apply it;
 *   - the reconciliation: messages, summary bytes, repair bytes, and the time of every call of
 *     both sides (summary, reconcile, apply) — the host's transport is not counted;
 *   - the ideal: the differing records and their keys, D × 48 bytes (deletions: 8 bytes).
 * The replica must end with the writer's digest and version (checked). Each case runs REPS times
 * (fresh stores); medians are printed.
 *
 *   usage: reconcile_bench [N D]... [--reps R]   default: 1000000 1000  1000000 100000  100000 1000
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

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 12345;
static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "reconcile_bench: %s: %s (%s)\n", what, podsync_status_name(st), s ? podsync_store_errmsg(s) : "");
        exit(1);
    }
}

static uint8_t *copy_frame(const podsync_store *s, size_t i, size_t *size) {
    const uint8_t *data = NULL;
    ok(podsync_store_frame(s, i, &data, size), "frame", s);
    uint8_t *c = malloc(*size);
    if (!c) exit(1);
    memcpy(c, data, *size);
    return c;
}

typedef struct {
    double snapshot_ms, heal_ms;
    size_t snapshot_bytes, summary_bytes, repair_bytes, ideal_bytes;
    int messages;
} result;

static void fill(uint8_t *rec, uint64_t key, uint64_t salt) {
    float v[7];
    for (int i = 0; i < 7; i++) v[i] = (float)((key + salt * 31 + (uint64_t)i) % 100000) * 0.5f;
    memcpy(rec, &key, 8);
    memcpy(rec + 8, v, 28);
    uint32_t flags = (uint32_t)(salt * 7);
    memcpy(rec + 36, &flags, 4);
}

static result run_case(size_t n, size_t d) {
    result r = {0};
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    ok(podsync_schema_add_table(schema, TABLE, SIZE, 8, NULL, 0), "table", NULL);
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.max_frame_bytes = 0; /* one snapshot frame, to count its bytes whole */
    podsync_store *w = NULL, *rep = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w), "writer", NULL);
    ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &o, &rep), "replica", NULL);
    uint64_t *keys = malloc(n * 8);
    uint8_t *recs = malloc(n * SIZE);
    if (!keys || !recs) exit(1);
    for (size_t i = 0; i < n; i++) {
        keys[i] = rnd();
        fill(recs + i * SIZE, keys[i], 0);
    }
    ok(podsync_store_put_many(w, TABLE, keys, recs, n, n * SIZE), "put_many", w);
    size_t frames = 0;
    ok(podsync_store_flush(w, &frames), "flush", w);

    /* The snapshot a replica would need without reconciliation. */
    double t = now_ms();
    ok(podsync_store_snapshot(w, &frames), "snapshot", w);
    for (size_t i = 0; i < frames; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        ok(podsync_store_frame(w, i, &data, &size), "frame", w);
        uint64_t v = 0;
        ok(podsync_store_apply(rep, data, size, &v), "apply snapshot", rep);
        r.snapshot_bytes += size;
    }
    r.snapshot_ms = now_ms() - t;

    /* D changes the replica misses. */
    uint8_t rec[SIZE];
    for (size_t i = 0; i < d; i++) {
        size_t j = (size_t)(rnd() % n);
        uint64_t kind = rnd() % 100;
        if (kind < 5) {
            if (podsync_store_delete(w, TABLE, keys[j]) == PODSYNC_OK) r.ideal_bytes += 8;
            keys[j] = rnd();
            fill(rec, keys[j], 1);
            ok(podsync_store_put(w, TABLE, keys[j], rec, SIZE), "insert", w);
        } else if (kind < 10) {
            uint64_t key = rnd();
            fill(rec, key, 1);
            ok(podsync_store_put(w, TABLE, key, rec, SIZE), "insert", w);
        } else {
            fill(rec, keys[j], 2 + i);
            ok(podsync_store_put(w, TABLE, keys[j], rec, SIZE), "update", w);
        }
        r.ideal_bytes += SIZE + 8;
    }
    ok(podsync_store_flush(w, &frames), "flush", w);

    /* The reconciliation, every call timed (the transport is not). */
    size_t size = 0, count = 0;
    double spent = 0;
    t = now_ms();
    ok(podsync_store_summary(rep, 0, &count), "summary", rep);
    uint8_t *msg = copy_frame(rep, 0, &size);
    spent += now_ms() - t;
    for (int round = 0; round < 16; round++) {
        r.messages++;
        r.summary_bytes += size;
        t = now_ms();
        ok(podsync_store_reconcile(w, msg, size, &count), "reconcile (writer)", w);
        free(msg);
        if (count == 0) {
            spent += now_ms() - t;
            break;
        }
        msg = copy_frame(w, 0, &size);
        spent += now_ms() - t;
        if ((msg[6] | msg[7] << 8) & 0x8) {
            r.repair_bytes = size;
            t = now_ms();
            uint64_t v = 0;
            ok(podsync_store_apply(rep, msg, size, &v), "apply repair", rep);
            spent += now_ms() - t;
            free(msg);
            break;
        }
        r.messages++;
        r.summary_bytes += size;
        t = now_ms();
        ok(podsync_store_reconcile(rep, msg, size, &count), "reconcile (replica)", rep);
        free(msg);
        msg = copy_frame(rep, 0, &size);
        spent += now_ms() - t;
    }
    r.heal_ms = spent;
    uint64_t dw = 0, dr = 0;
    ok(podsync_store_digest(w, &dw), "digest", w);
    ok(podsync_store_digest(rep, &dr), "digest", rep);
    podsync_store_info wi = PODSYNC_STORE_INFO_INIT, ri = PODSYNC_STORE_INFO_INIT;
    ok(podsync_store_info_get(w, &wi), "info", w);
    ok(podsync_store_info_get(rep, &ri), "info", rep);
    if (dw != dr || wi.state_version != ri.state_version) {
        fprintf(stderr, "reconcile_bench: the replica did not reach the writer's state\n");
        exit(1);
    }
    free(keys);
    free(recs);
    podsync_store_free(w);
    podsync_store_free(rep);
    podsync_schema_free(schema);
    return r;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    size_t cases[16][2];
    int ncases = 0, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (i + 1 < argc && ncases < 16) {
            cases[ncases][0] = (size_t)strtoull(argv[i], NULL, 10);
            cases[ncases][1] = (size_t)strtoull(argv[i + 1], NULL, 10);
            ncases++;
            i++;
        }
    }
    if (ncases == 0) {
        size_t defaults[3][2] = {{1000000, 1000}, {1000000, 100000}, {100000, 1000}};
        memcpy(cases, defaults, sizeof defaults);
        ncases = 3;
    }
    if (reps < 1 || reps > 15) reps = 3;
    printf("reconciliation vs snapshot, 40-byte records, medians of %d runs (library %u)\n", reps, podsync_version_number());
    printf("%10s %8s | %10s %9s | %4s %10s %10s %9s | %8s %10s %11s\n", "records", "differ", "snapshot B", "snap ms",
           "msgs", "summary B", "repair B", "heal ms", "ideal B", "repair/id", "all/snap");
    for (int c = 0; c < ncases; c++) {
        result rs[15];
        double heal[15], snap[15];
        for (int k = 0; k < reps; k++) {
            rs[k] = run_case(cases[c][0], cases[c][1]);
            heal[k] = rs[k].heal_ms;
            snap[k] = rs[k].snapshot_ms;
        }
        qsort(heal, (size_t)reps, sizeof heal[0], cmp_double);
        qsort(snap, (size_t)reps, sizeof snap[0], cmp_double);
        result m = rs[reps / 2];
        printf("%10zu %8zu | %10zu %9.1f | %4d %10zu %10zu %9.1f | %8zu %9.2fx %10.2f%%\n", cases[c][0], cases[c][1], m.snapshot_bytes,
               snap[reps / 2], m.messages, m.summary_bytes, m.repair_bytes, heal[reps / 2], m.ideal_bytes,
               (double)m.repair_bytes / (double)m.ideal_bytes, 100.0 * (double)(m.summary_bytes + m.repair_bytes) / (double)m.snapshot_bytes);
    }
    printf("repair/id: repair frame bytes over the ideal (differing records and keys); all/snap: summaries plus repair over the snapshot\n");
    return 0;
}
