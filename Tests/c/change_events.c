/*
 * change_events.c — every apply's change events (podsync_store_changes) are exactly what changed.
 *
 * A writer (two tables, random puts, deletes and unchanged rewrites every tick) feeds four tracking
 * replicas: one in sync, one over a lossy link that heals by catch-up deltas and now and then by a
 * chunked snapshot, one that joins late and fills in place chunk by chunk, and (with the rolling
 * refresh on) a one-way replica on a lossy link. Around every apply the replica's tables are read
 * before and after, and the lists must match the difference exactly: upserted = keys that appeared
 * or whose bytes changed, deleted = keys that disappeared (a key in both lists was deleted and put
 * again: it must be present after); with PODSYNC_CHANGES_REPLACED, upserted = every key held.
 * Statuses that change nothing (DUPLICATE, GAP, STALE, CHUNK_STAGED without fill in place) must
 * leave the lists empty. Also: a writer's unchanged writes are never pending. Runs three writer
 * configurations: plain frames, zstd level 1 with XOR, and level 1 with the rolling refresh.
 *
 * Usage: change_events [--seed N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsync.h"

#define TICKS 300
#define MAX_KEYS 4096
#define NTABLES 2
static const uint32_t TABLE_ID[NTABLES] = {1, 2};
static const uint32_t TABLE_SIZE[NTABLES] = {40, 12};

static uint64_t rng_state = 11;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int failures = 0;
static long checked = 0, replaced_checked = 0, empty_checked = 0;
#define FAIL(...)                                                 \
    do {                                                          \
        fprintf(stderr, "change_events: FAIL: " __VA_ARGS__);     \
        fprintf(stderr, "\n");                                    \
        if (++failures > 20) exit(1);                             \
    } while (0)

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "change_events: %s: %s (%s)\n", what, podsync_status_name(st), s ? podsync_store_errmsg(s) : "");
        exit(1);
    }
}

/* A copy of one table: keys and records, sorted by key. */
typedef struct {
    size_t n;
    uint64_t keys[MAX_KEYS];
    unsigned char recs[MAX_KEYS * 40];
} image;

static uint32_t g_size; /* record size of the table being sorted */
static const unsigned char *g_sort_recs;
static const uint64_t *g_sort_keys;
static int by_key(const void *a, const void *b) {
    uint64_t x = g_sort_keys[*(const size_t *)a], y = g_sort_keys[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

static void take(const podsync_store *s, int t, image *img) {
    const void *records = NULL;
    const uint64_t *keys = NULL;
    size_t n = 0;
    ok(podsync_store_table(s, TABLE_ID[t], &records, &keys, &n), "table", s);
    if (n > MAX_KEYS) {
        fprintf(stderr, "change_events: table holds %zu records, more than %d\n", n, MAX_KEYS);
        exit(1);
    }
    static size_t order[MAX_KEYS];
    for (size_t i = 0; i < n; i++) order[i] = i;
    g_size = TABLE_SIZE[t];
    g_sort_keys = keys;
    g_sort_recs = records;
    qsort(order, n, sizeof order[0], by_key);
    img->n = n;
    for (size_t i = 0; i < n; i++) {
        img->keys[i] = keys[order[i]];
        memcpy(img->recs + i * g_size, (const unsigned char *)records + order[i] * g_size, g_size);
    }
}

/* Index of key in img, or -1 (binary search). */
static long find(const image *img, uint64_t key) {
    size_t lo = 0, hi = img->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (img->keys[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo < img->n && img->keys[lo] == key ? (long)lo : -1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted, without repeats. */
static size_t normalize(uint64_t *v, size_t n) {
    qsort(v, n, sizeof v[0], cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[k - 1] != v[i]) v[k++] = v[i];
    return k;
}

typedef struct {
    const char *name;
    podsync_store *s;
    image before[NTABLES], after[NTABLES];
} replica;

/* Applies a frame to r and checks the change events against the tables before and after. */
static int32_t apply_checked(replica *r, const uint8_t *data, size_t size) {
    for (int t = 0; t < NTABLES; t++) take(r->s, t, &r->before[t]);
    uint64_t v = 0;
    int32_t st = podsync_store_apply(r->s, data, size, &v);
    if (st < 0 && st != PODSYNC_E_DIGEST_MISMATCH) {
        fprintf(stderr, "change_events: %s: apply: %s (%s)\n", r->name, podsync_status_name(st), podsync_store_errmsg(r->s));
        exit(1);
    }
    for (int t = 0; t < NTABLES; t++) {
        take(r->s, t, &r->after[t]);
        const uint64_t *up = NULL, *del = NULL;
        size_t nup = 0, ndel = 0;
        uint32_t flags = 0;
        ok(podsync_store_changes(r->s, TABLE_ID[t], &up, &nup, &del, &ndel, &flags), "changes", r->s);
        if (flags & PODSYNC_CHANGES_INCOMPLETE) FAIL("%s: incomplete lists", r->name);
        static uint64_t gu[MAX_KEYS * 4], gd[MAX_KEYS * 4], eu[MAX_KEYS], ed[MAX_KEYS];
        if (nup > MAX_KEYS * 4 || ndel > MAX_KEYS * 4) {
            FAIL("%s: %zu upserted, %zu deleted: more than possible", r->name, nup, ndel);
            continue;
        }
        memcpy(gu, up, nup * 8);
        memcpy(gd, del, ndel * 8);
        nup = normalize(gu, nup);
        ndel = normalize(gd, ndel);
        const image *b = &r->before[t], *a = &r->after[t];
        uint32_t size = TABLE_SIZE[t];
        int replaced = (flags & PODSYNC_CHANGES_REPLACED) != 0;
        /* Expected: changed or new keys (every key with REPLACED), and keys gone. */
        size_t neu = 0, ned = 0;
        for (size_t i = 0; i < a->n; i++) {
            long j = find(b, a->keys[i]);
            if (replaced || j < 0 || memcmp(a->recs + i * size, b->recs + (size_t)j * size, size) != 0) eu[neu++] = a->keys[i];
        }
        for (size_t i = 0; i < b->n; i++)
            if (find(a, b->keys[i]) < 0) ed[ned++] = b->keys[i];
        /* A key in both lists was deleted, then put: it must be there now, with any bytes. Such
           keys are taken out of both lists and out of the expectation. */
        static uint64_t both[MAX_KEYS * 4];
        size_t nboth = 0, ku = 0, kd = 0, keu = 0;
        for (size_t i = 0; i < nup; i++) {
            if (bsearch(&gu[i], gd, ndel, 8, cmp_u64)) {
                if (find(a, gu[i]) < 0) FAIL("%s: key %" PRIu64 " deleted and upserted but absent", r->name, gu[i]);
                both[nboth++] = gu[i];
            } else {
                gu[ku++] = gu[i];
            }
        }
        for (size_t i = 0; i < ndel; i++)
            if (!bsearch(&gd[i], both, nboth, 8, cmp_u64)) gd[kd++] = gd[i];
        for (size_t i = 0; i < neu; i++)
            if (!bsearch(&eu[i], both, nboth, 8, cmp_u64)) eu[keu++] = eu[i];
        if (ku != keu || memcmp(gu, eu, ku * 8) != 0 || kd != ned || memcmp(gd, ed, kd * 8) != 0)
            FAIL("%s, table %u, apply %s (flags %u): upserted %zu (expected %zu), deleted %zu (expected %zu)", r->name,
                 TABLE_ID[t], podsync_status_name(st), flags, ku, keu, kd, ned);
        if (st == PODSYNC_DUPLICATE || st == PODSYNC_GAP || st == PODSYNC_STALE) {
            if (nup || ndel) FAIL("%s: %s listed changes", r->name, podsync_status_name(st));
            empty_checked++;
        }
        checked++;
        if (replaced) replaced_checked++;
    }
    return st;
}

static void apply_frames(replica *r, podsync_store *w, size_t n, double loss) {
    for (size_t i = 0; i < n; i++) {
        if (loss > 0 && (double)(rnd() % 1000) < loss * 1000) continue;
        const uint8_t *data = NULL;
        size_t size = 0;
        ok(podsync_store_frame(w, i, &data, &size), "frame", w);
        apply_checked(r, data, size);
    }
}

/* Sends r a chunked snapshot of w, chunk by chunk. */
static void chunked_snapshot(replica *r, podsync_store *w) {
    podsync_snapshot *snap = NULL;
    ok(podsync_snapshot_begin(w, 4096, &snap), "snapshot_begin", w);
    for (;;) {
        const uint8_t *data = NULL;
        size_t size = 0;
        int32_t st = podsync_snapshot_next(snap, &data, &size);
        if (st == PODSYNC_DONE) break;
        ok(st, "snapshot_next", w);
        apply_checked(r, data, size);
    }
    podsync_snapshot_free(snap);
}

static void make_record(int t, uint64_t key, uint64_t salt, unsigned char *rec) {
    for (uint32_t i = 0; i < TABLE_SIZE[t]; i++) rec[i] = (unsigned char)((key * 31 + salt * 7 + i) >> (i % 3));
}

static void run(const char *config, int32_t level, uint32_t refresh_flushes) {
    checked = replaced_checked = empty_checked = 0;
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    for (int t = 0; t < NTABLES; t++)
        ok(podsync_schema_add_table(schema, TABLE_ID[t], TABLE_SIZE[t], 4, NULL, 0), "add_table", NULL);
    podsync_store_options wo = PODSYNC_STORE_OPTIONS_INIT;
    wo.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    wo.compression_level = level;
    wo.refresh_flushes = refresh_flushes;
    podsync_store *w = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &wo, &w), "writer", NULL);

    enum { SYNC, LOSSY, LATE, ONEWAY, NREPLICAS };
    static replica reps[NREPLICAS];
    static const char *const names[NREPLICAS] = {"in sync", "lossy", "late, fill in place", "one-way"};
    int nreps = refresh_flushes ? NREPLICAS : ONEWAY;
    for (int i = 0; i < nreps; i++) {
        podsync_store_options ro = PODSYNC_STORE_OPTIONS_INIT;
        ro.flags |= PODSYNC_OPT_MANUAL_CLOCK;
        if (i == LATE) ro.flags |= PODSYNC_OPT_FILL_IN_PLACE;
        if (i == ONEWAY) ro.flags |= PODSYNC_OPT_ONE_WAY;
        reps[i].name = names[i];
        ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &ro, &reps[i].s), "replica", NULL);
        ok(podsync_store_track_changes(reps[i].s, 1), "track_changes", reps[i].s);
    }

    static uint64_t keys[NTABLES][MAX_KEYS / 2];
    size_t nkeys[NTABLES] = {0, 0};
    unsigned char rec[64];
    for (int tick = 1; tick <= TICKS; tick++) {
        ok(podsync_store_set_time(w, (uint64_t)tick * 16), "set_time", w);
        for (int t = 0; t < NTABLES; t++) {
            /* inserts while small, then updates, deletes and unchanged rewrites */
            size_t inserts = nkeys[t] < 1500 ? 40 : 3;
            for (size_t i = 0; i < inserts && nkeys[t] < MAX_KEYS / 2; i++) {
                uint64_t key = rnd();
                make_record(t, key, 0, rec);
                ok(podsync_store_put(w, TABLE_ID[t], key, rec, TABLE_SIZE[t]), "put", w);
                keys[t][nkeys[t]++] = key;
            }
            for (int i = 0; i < 15 && nkeys[t]; i++) {
                uint64_t key = keys[t][rnd() % nkeys[t]];
                make_record(t, key, (uint64_t)tick, rec);
                ok(podsync_store_put(w, TABLE_ID[t], key, rec, TABLE_SIZE[t]), "put", w);
            }
            for (int i = 0; i < 2 && nkeys[t] > 10; i++) {
                size_t j = (size_t)(rnd() % nkeys[t]);
                ok(podsync_store_delete(w, TABLE_ID[t], keys[t][j]), "delete", w);
                keys[t][j] = keys[t][--nkeys[t]];
            }
        }
        /* Unchanged rewrites of clean keys: the writer must not count them. */
        podsync_store_info before = PODSYNC_STORE_INFO_INIT;
        ok(podsync_store_info_get(w, &before), "info", w);
        for (int i = 0; i < 20 && nkeys[0]; i++) {
            uint64_t key = keys[0][rnd() % nkeys[0]];
            const void *cur = NULL;
            if (podsync_store_get(w, TABLE_ID[0], key, &cur) != PODSYNC_OK) continue;
            memcpy(rec, cur, TABLE_SIZE[0]);
            ok(podsync_store_put(w, TABLE_ID[0], key, rec, TABLE_SIZE[0]), "rewrite", w);
        }
        podsync_store_info after = PODSYNC_STORE_INFO_INIT;
        ok(podsync_store_info_get(w, &after), "info", w);
        if (after.pending_changes != before.pending_changes)
            FAIL("unchanged rewrites changed pending_changes from %" PRIu64 " to %" PRIu64, before.pending_changes, after.pending_changes);

        size_t frames = 0;
        ok(podsync_store_flush(w, &frames), "flush", w);
        apply_frames(&reps[SYNC], w, frames, 0);
        if (refresh_flushes) apply_frames(&reps[ONEWAY], w, frames, 0.2);
        podsync_store_info li = PODSYNC_STORE_INFO_INIT;
        ok(podsync_store_info_get(reps[LOSSY].s, &li), "info", reps[LOSSY].s);
        /* The lossy replica: 30% of frames lost; catches up every 5 ticks; a snapshot every 60. */
        for (size_t i = 0; i < frames; i++) {
            if (rnd() % 10 < 3) continue;
            const uint8_t *data = NULL;
            size_t size = 0;
            ok(podsync_store_frame(w, i, &data, &size), "frame", w);
            apply_checked(&reps[LOSSY], data, size);
        }
        if (tick % 60 == 0) {
            chunked_snapshot(&reps[LOSSY], w);
        } else if (tick % 5 == 0) {
            podsync_store_info i2 = PODSYNC_STORE_INFO_INIT;
            ok(podsync_store_info_get(reps[LOSSY].s, &i2), "info", reps[LOSSY].s);
            size_t n = 0;
            int32_t st = podsync_store_delta_since(w, i2.version, &n);
            ok(st, "delta_since", w);
            if (st == PODSYNC_SNAPSHOT_REQUIRED) chunked_snapshot(&reps[LOSSY], w);
            else apply_frames(&reps[LOSSY], w, n, 0);
        }
        if (tick == TICKS / 2) chunked_snapshot(&reps[LATE], w);
        if (tick > TICKS / 2) {
            size_t n = 0;
            podsync_store_info i3 = PODSYNC_STORE_INFO_INIT;
            ok(podsync_store_info_get(reps[LATE].s, &i3), "info", reps[LATE].s);
            int32_t st = podsync_store_delta_since(w, i3.version, &n);
            ok(st, "delta_since", w);
            if (st == PODSYNC_OK) apply_frames(&reps[LATE], w, n, 0);
        }
    }
    /* A catch-up delta the in-sync replica already has is a duplicate and lists nothing. */
    podsync_store_info wi = PODSYNC_STORE_INFO_INIT;
    ok(podsync_store_info_get(w, &wi), "info", w);
    size_t n = 0;
    ok(podsync_store_delta_since(w, wi.version - 1, &n), "delta_since", w);
    long empty_before = empty_checked;
    apply_frames(&reps[SYNC], w, n, 0);
    if (empty_checked == empty_before) FAIL("%s: the repeated delta was not a duplicate", config);

    uint64_t wd = 0;
    ok(podsync_store_digest(w, &wd), "digest", w);
    for (int i = 0; i < nreps; i++) {
        if (i == ONEWAY) continue;  /* converges only over refresh periods; checked per apply above */
        uint64_t d = 0;
        ok(podsync_store_digest(reps[i].s, &d), "digest", reps[i].s);
        if (d != wd) FAIL("%s: %s replica digest differs from the writer's", config, reps[i].name);
        podsync_store_free(reps[i].s);
    }
    if (refresh_flushes) podsync_store_free(reps[ONEWAY].s);
    podsync_store_free(w);
    podsync_schema_free(schema);
    printf("ok   %s: %ld change lists checked (%ld of replacements, %ld of applies that changed nothing)\n", config, checked,
           replaced_checked, empty_checked);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) rng_state = strtoull(argv[2], NULL, 10);
    run("plain frames", 0, 0);
    run("zstd level 1, XOR", 1, 0);
    run("zstd level 1, rolling refresh, one-way replica", 1, 10);
    if (failures) {
        fprintf(stderr, "change_events: %d failure(s)\n", failures);
        return 1;
    }
    printf("change_events: every change list matched the tables before and after its apply\n");
    return 0;
}
