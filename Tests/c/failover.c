/*
 * failover.c — a writer dies, a replica is promoted, the old writer comes back fenced.
 *
 * Writer W is durable (podsync_store_open in a temporary directory, PODSYNC_LOG_EVERY_FRAME).
 * Replicas A and B are durable too, C is a plain podsync_store_create replica. Every frame goes to
 * each replica over a link that drops 10% of the frames independently (seeded PRNG); a replica that
 * gets PODSYNC_GAP asks its writer for podsync_store_delta_since(its version), which is lossy too.
 * Ticks of random puts and deletes on three tables; W checkpoints now and then, B is closed and
 * reopened from its files once on the way. On odd seeds W stays in term 0 (a new store's term); on
 * even seeds it logs with PODSYNC_LOG_OS for the first quarter of the ticks, then is reopened
 * (after podsync_store_sync) in term 1 at the same version, and the replicas continue with deltas:
 * the failover then starts from term 1, whose frames are format 2 with a TERM_HISTORY.
 *
 * Then, by dropping frames deterministically: C has applied W's latest frame, A is behind C, B is
 * behind A. W dies (podsync_store_free). A is promoted (podsync_store_promote(A, 2)) and writes on:
 *   - B (behind A) continues with deltas from A: GAP, then delta_since from A; never a snapshot;
 *   - C (ahead of A) gets PODSYNC_E_HISTORY_DIVERGED for every frame of A (and for a delta_since
 *     from A at its own version), nothing changed, and heals with podsync_store_snapshot of A;
 *   - A is closed and reopened from its files: still the writer, term 2, same version; B too,
 *     once it follows A: still in term 2.
 * Then W is reopened from its files: the same term and version it handed out last (EVERY_FRAME),
 * fenced: its new frames and its snapshot return PODSYNC_E_TERM_FENCED on B and C and change
 * nothing. A writes on; at the end A, B and C hold the same version, term, digest and records.
 *
 * Invariants checked on every apply: after PODSYNC_OK the replica's digest is one a writer (W or A)
 * produced (info after each flush) — no replica ever reports a digest equal to a state that no
 * writer produced — and, stronger, the digest of that writer's history at the replica's term and
 * version; after any other status the replica's version, term and digest are unchanged.
 *
 * Runs 20 seeds (different loss patterns) unless told otherwise. Prints one line per seed; exits
 * non-zero on any violation.
 *
 * Usage: failover [--seeds N] [--seed S] [--ticks T]   (S: run only that seed)
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podsync.h"

#define TABLES 3
#define KEYS 400
#define LOSS_PCT 10
#define MAX_VERSIONS 16384
#define NEW_TERM 2
#define STREAM 0xFA110FE2ull

static const uint32_t table_ids[TABLES] = {1, 2, 7};
static const uint32_t record_sizes[TABLES] = {24, 8, 40};

static uint64_t rng_state;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int chance(unsigned pct) { return rnd() % 100 < pct; }

static uint64_t seed;
static int failures = 0;
#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "failover: seed %" PRIu64 ": FAIL: ", seed);           \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        if (++failures > 30) exit(1);                                          \
    } while (0)

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "failover: seed %" PRIu64 ": %s: %s (%s)\n", seed, what, podsync_status_name(st),
                s ? podsync_store_errmsg(s) : podsync_last_errmsg());
        exit(1);
    }
}

static podsync_store_info info_of(const podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    ok(podsync_store_info_get(s, &i), "info", s);
    return i;
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    ok(podsync_store_digest(s, &d), "digest", s);
    return d;
}

/* ---- every digest a writer produced (open addressing; 0 kept apart) ---- */

#define SET_SIZE (1u << 16)
static uint64_t set_slots[SET_SIZE];
static int set_has_zero;
static size_t set_count;

static void set_clear(void) {
    memset(set_slots, 0, sizeof set_slots);
    set_has_zero = 0;
    set_count = 0;
}
static void set_add(uint64_t d) {
    if (d == 0) {
        set_has_zero = 1;
        return;
    }
    size_t i = (size_t)(d * 0x9E3779B97F4A7C15ull >> 48) & (SET_SIZE - 1);
    while (set_slots[i] && set_slots[i] != d) i = (i + 1) & (SET_SIZE - 1);
    if (!set_slots[i]) {
        if (++set_count > SET_SIZE / 2) {
            fprintf(stderr, "failover: digest set full\n");
            exit(1);
        }
        set_slots[i] = d;
    }
}
static int set_has(uint64_t d) {
    if (d == 0) return set_has_zero;
    size_t i = (size_t)(d * 0x9E3779B97F4A7C15ull >> 48) & (SET_SIZE - 1);
    while (set_slots[i]) {
        if (set_slots[i] == d) return 1;
        i = (i + 1) & (SET_SIZE - 1);
    }
    return 0;
}

/* ---- the writers' histories: digest at each version of W's term, and of A's term after the
   promotion version (A's term shares W's history up to it) ---- */

static uint64_t hist_w[MAX_VERSIONS], hist_a[MAX_VERSIONS];
static unsigned char have_w[MAX_VERSIONS], have_a[MAX_VERSIONS];
static uint64_t w_term, promoted_at; /* W's current term; A's term shares W's history up to promoted_at */
static int promoted;

static void record_writer_state(int is_a, uint64_t version, uint64_t digest) {
    if (version >= MAX_VERSIONS) {
        fprintf(stderr, "failover: more than %d versions\n", MAX_VERSIONS);
        exit(1);
    }
    uint64_t *h = is_a ? hist_a : hist_w;
    unsigned char *have = is_a ? have_a : have_w;
    if (have[version] && h[version] != digest)
        FAIL("writer %s reached version %" PRIu64 " twice with different digests", is_a ? "A" : "W", version);
    h[version] = digest;
    have[version] = 1;
    set_add(digest);
}

/* The digest the writer of `term` had at `version`; 0 with *known = 0 if none did. */
static uint64_t expected_digest(uint64_t term, uint64_t version, int *known) {
    *known = 0;
    if (version >= MAX_VERSIONS) return 0;
    if (promoted && term == NEW_TERM && version > promoted_at) {
        *known = have_a[version];
        return hist_a[version];
    }
    /* W's terms (0, and 1 after a reopen in a new term) continue one history */
    if (term <= w_term || (promoted && term == NEW_TERM)) {
        *known = have_w[version];
        return hist_w[version];
    }
    return 0;
}

/* ---- frames copied out of a store's outbox (the next delta_since replaces it) ---- */

typedef struct {
    uint8_t *data;
    size_t size;
} frame;

typedef struct {
    frame *v;
    size_t n, cap;
} batch;

static void batch_clear(batch *b) {
    for (size_t i = 0; i < b->n; i++) free(b->v[i].data);
    b->n = 0;
}

static void take_outbox(const podsync_store *s, size_t count, batch *b) {
    batch_clear(b);
    if (count > b->cap) {
        b->cap = count;
        b->v = realloc(b->v, count * sizeof *b->v);
        if (!b->v) exit(1);
    }
    for (size_t i = 0; i < count; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        ok(podsync_store_frame(s, i, &data, &size), "frame", s);
        void *copy = NULL;
        if (posix_memalign(&copy, 64, size ? size : 1) != 0) exit(1);
        memcpy(copy, data, size);
        b->v[i].data = copy;
        b->v[i].size = size;
    }
    b->n = count;
}

/* ---- replicas ---- */

typedef struct {
    const char *name;
    podsync_store *store;
    char dir[600]; /* "" for a store without files */
    unsigned long applied, lost, gaps, catchups, snapshots, fenced, diverged;
} replica;

static podsync_schema *schema;
static podsync_durability_options durability; /* EVERY_FRAME */
static char root[400];

/* Applies one frame and checks the invariants; returns the status. */
static int32_t apply_checked(replica *r, const frame *f, const char *when) {
    podsync_store_info before = info_of(r->store);
    uint64_t d_before = digest_of(r->store);
    uint64_t v = UINT64_MAX;
    int32_t st = podsync_store_apply(r->store, f->data, f->size, &v);
    podsync_store_info after = info_of(r->store);
    uint64_t d = digest_of(r->store);
    if (v != after.state_version)
        FAIL("%s: %s: apply reported version %" PRIu64 ", info says %" PRIu64, when, r->name, v, after.state_version);
    if (after.digest != d) FAIL("%s: %s: info.digest differs from podsync_store_digest", when, r->name);
    if (st == PODSYNC_OK) {
        r->applied++;
        if (!set_has(d))
            FAIL("%s: %s reports digest %016" PRIx64 " at version %" PRIu64 " (term %" PRIu64
                 "), a state no writer produced",
                 when, r->name, d, after.state_version, after.term);
        int known = 0;
        uint64_t want = expected_digest(after.term, after.state_version, &known);
        if (!known || want != d)
            FAIL("%s: %s at term %" PRIu64 " version %" PRIu64 " has digest %016" PRIx64
                 ", that term's writer had %s%016" PRIx64,
                 when, r->name, after.term, after.state_version, d, known ? "" : "no such version ", want);
        if (after.diverged) FAIL("%s: %s: OK but diverged", when, r->name);
    } else if (st == PODSYNC_DUPLICATE || st == PODSYNC_GAP || st == PODSYNC_STALE ||
               st == PODSYNC_E_TERM_FENCED || st == PODSYNC_E_HISTORY_DIVERGED) {
        if (after.state_version != before.state_version || d != d_before || after.term != before.term ||
            after.diverged != before.diverged)
            FAIL("%s: %s: %s changed the replica (version %" PRIu64 " -> %" PRIu64 ", term %" PRIu64 " -> %" PRIu64
                 ", digest %s)",
                 when, r->name, podsync_status_name(st), before.state_version, after.state_version, before.term,
                 after.term, d == d_before ? "same" : "changed");
        if (st == PODSYNC_GAP) r->gaps++;
        if (st == PODSYNC_E_TERM_FENCED) r->fenced++;
        if (st == PODSYNC_E_HISTORY_DIVERGED) r->diverged++;
    } else {
        FAIL("%s: %s: apply returned %s (%s)", when, r->name, podsync_status_name(st), podsync_store_errmsg(r->store));
    }
    return st;
}

/* The replica asks `producer` for a delta since its version (a snapshot if that version is no
   longer covered and allow_snapshot); the answer crosses the lossy link too when lossy. */
static void catch_up(replica *r, podsync_store *producer, int lossy, int allow_snapshot, const char *when) {
    static batch b;
    uint64_t since = info_of(r->store).state_version;
    size_t n = 0;
    int32_t st = podsync_store_delta_since(producer, since, &n);
    r->catchups++;
    if (st == PODSYNC_SNAPSHOT_REQUIRED) {
        if (!allow_snapshot) {
            FAIL("%s: %s at version %" PRIu64 " needed a snapshot", when, r->name, since);
            return;
        }
        r->snapshots++;
        st = podsync_store_snapshot(producer, &n);
    }
    ok(st, "delta_since", producer);
    take_outbox(producer, n, &b);
    for (size_t i = 0; i < b.n; i++) {
        if (lossy && chance(LOSS_PCT)) {
            r->lost++;
            return;
        }
        int32_t a = apply_checked(r, &b.v[i], when);
        if (a != PODSYNC_OK && a != PODSYNC_DUPLICATE)
            FAIL("%s: %s: catch-up frame %zu of %zu since %" PRIu64 " returned %s", when, r->name, i, b.n, since,
                 podsync_status_name(a));
    }
}

/* A writer's flush frames to a replica that follows it: OK, or GAP and a catch-up from it. */
static void deliver(replica *r, const batch *b, podsync_store *producer, int lossy, int allow_snapshot,
                    const char *when) {
    for (size_t i = 0; i < b->n; i++) {
        if (lossy && chance(LOSS_PCT)) {
            r->lost++;
            continue;
        }
        int32_t st = apply_checked(r, &b->v[i], when);
        if (st == PODSYNC_GAP)
            catch_up(r, producer, lossy, allow_snapshot, when);
        else if (st != PODSYNC_OK)
            FAIL("%s: %s: flush frame returned %s", when, r->name, podsync_status_name(st));
    }
}

/* Brings r to the producer's version without loss and checks it is there. */
static void sync_to(replica *r, podsync_store *producer, int allow_snapshot, const char *when) {
    catch_up(r, producer, 0, allow_snapshot, when);
    podsync_store_info pi = info_of(producer), ri = info_of(r->store);
    if (ri.state_version != pi.state_version || ri.digest != pi.digest || ri.term != pi.term)
        FAIL("%s: %s after a catch-up: version %" PRIu64 "/%" PRIu64 ", term %" PRIu64 "/%" PRIu64 ", digest %s",
             when, r->name, ri.state_version, pi.state_version, ri.term, pi.term,
             ri.digest == pi.digest ? "same" : "differs");
}

/* ---- writers ---- */

static void random_ops(podsync_store *w, int force_change) {
    unsigned char rec[64];
    int ops = 1 + (int)(rnd() % 12);
    for (int i = 0; i < ops; i++) {
        int t = (int)(rnd() % TABLES);
        uint64_t key = rnd() % KEYS;
        if (chance(25)) {
            int32_t st = podsync_store_delete(w, table_ids[t], key);
            if (st != PODSYNC_NOT_FOUND) ok(st, "delete", w);
        } else {
            for (uint32_t k = 0; k < record_sizes[t]; k += 8) {
                uint64_t x = rnd();
                memcpy(rec + k, &x, 8);
            }
            ok(podsync_store_put(w, table_ids[t], key, rec, record_sizes[t]), "put", w);
        }
    }
    if (force_change) { /* a fresh random value last: the batch is never empty */
        uint64_t x[3] = {rnd(), rnd(), rnd()};
        ok(podsync_store_put(w, table_ids[0], rnd() % KEYS, x, 24), "put", w);
    }
}

/* Flushes a writer (W or A), records its state, copies its frames into b. every_frame: the
   writer logs with PODSYNC_LOG_EVERY_FRAME, so what it hands out is durable. */
static void flush_writer(podsync_store *w, int is_a, int every_frame, batch *b) {
    size_t n = 0;
    ok(podsync_store_flush(w, &n), "flush", w);
    if (n > 1) FAIL("a small flush made %zu frames", n);
    take_outbox(w, n, b);
    podsync_store_info wi = info_of(w);
    uint64_t d = digest_of(w);
    if (wi.digest != d) FAIL("writer: info.digest differs from podsync_store_digest");
    record_writer_state(is_a, wi.state_version, d);
    if (wi.durable != 1 || wi.log_failed) FAIL("writer: durable %u, log_failed %u", wi.durable, wi.log_failed);
    if (every_frame && wi.durable_version != wi.state_version)
        FAIL("EVERY_FRAME writer: durable_version %" PRIu64 " after a flush to version %" PRIu64, wi.durable_version,
             wi.state_version);
    for (size_t i = 0; i < b->n; i++) {
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        ok(podsync_frame_validate(b->v[i].data, b->v[i].size, &fi), "validate", NULL);
        if (fi.state_version != wi.state_version || !(fi.flags & PODSYNC_FRAME_HAS_DIGEST) || fi.state_digest != d ||
            fi.term != wi.term || fi.stream_id != STREAM)
            FAIL("flush frame: version %" PRIu64 "/%" PRIu64 ", term %" PRIu64 "/%" PRIu64 ", stream %" PRIx64
                 ", digest %s",
                 fi.state_version, wi.state_version, fi.term, wi.term, fi.stream_id,
                 fi.state_digest == d ? "same" : "differs");
    }
}

static podsync_store *open_dir(const char *dir, uint32_t role, const podsync_durability_options *dur,
                               podsync_open_info *oi) {
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = STREAM;
    podsync_store *s = NULL;
    *oi = (podsync_open_info)PODSYNC_OPEN_INFO_INIT;
    int32_t st = podsync_store_open(dir, schema, role, &o, dur, oi, &s);
    if (st != PODSYNC_OK || !s) {
        fprintf(stderr, "failover: seed %" PRIu64 ": podsync_store_open(%s): %s (%s)\n", seed, dir,
                podsync_status_name(st), podsync_last_errmsg());
        exit(1);
    }
    return s;
}

static void expect_same_records(const podsync_store *a, const replica *r, const char *when) {
    for (int t = 0; t < TABLES; t++) {
        const void *ar = NULL;
        const uint64_t *ak = NULL;
        size_t an = 0, rn = 0;
        ok(podsync_store_table(a, table_ids[t], &ar, &ak, &an), "table", a);
        ok(podsync_store_count(r->store, table_ids[t], &rn), "count", r->store);
        if (an != rn) {
            FAIL("%s: %s table %u has %zu records, A %zu", when, r->name, table_ids[t], rn, an);
            continue;
        }
        for (size_t i = 0; i < an; i++) {
            const void *mine = NULL;
            if (podsync_store_get(r->store, table_ids[t], ak[i], &mine) != PODSYNC_OK ||
                memcmp(mine, (const uint8_t *)ar + i * record_sizes[t], record_sizes[t]) != 0) {
                FAIL("%s: %s table %u key %" PRIu64 " differs from A", when, r->name, table_ids[t], ak[i]);
                break;
            }
        }
    }
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void run(int ticks) {
    rng_state = seed * 0x2545F4914F6CDD1Dull + 1;
    set_clear();
    memset(have_w, 0, sizeof have_w);
    memset(have_a, 0, sizeof have_a);
    promoted = 0;
    promoted_at = 0;
    static batch b;

    char wdir[600];
    snprintf(wdir, sizeof wdir, "%s/w", root);
    replica reps[3];
    memset(reps, 0, sizeof reps);
    reps[0].name = "A";
    reps[1].name = "B";
    reps[2].name = "C";
    snprintf(reps[0].dir, sizeof reps[0].dir, "%s/a", root);
    snprintf(reps[1].dir, sizeof reps[1].dir, "%s/b", root);
    replica *A = &reps[0], *B = &reps[1], *C = &reps[2];

    /* Even seeds: W logs with PODSYNC_LOG_OS for the first quarter, then reopens in term 1 (no
       proof it lost nothing), every frame logged from then on; odd seeds: term 0 throughout. */
    int term_change_at = seed % 2 == 0 ? ticks / 4 : -1;
    podsync_durability_options os_log = durability;
    os_log.log_policy = PODSYNC_LOG_OS;
    int w_every_frame = term_change_at < 0;
    podsync_open_info oi;
    podsync_store *W = open_dir(wdir, PODSYNC_ROLE_WRITER, w_every_frame ? &durability : &os_log, &oi);
    if (!(oi.flags & PODSYNC_OPENED_CREATED)) FAIL("W: a fresh directory did not report PODSYNC_OPENED_CREATED");
    podsync_store_info wi = info_of(W);
    w_term = wi.term;
    if (wi.stream_id != STREAM || wi.state_version != 0 || oi.term != w_term) FAIL("W: fresh store info");
    record_writer_state(0, 0, digest_of(W));
    for (int i = 0; i < 2; i++) {
        reps[i].store = open_dir(reps[i].dir, PODSYNC_ROLE_REPLICA, &durability, &oi);
        if (!(oi.flags & PODSYNC_OPENED_CREATED)) FAIL("%s: fresh directory not CREATED", reps[i].name);
    }
    ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &C->store), "replica C", NULL);

    /* 1. W writes, everyone follows over the lossy links. */
    int reopen_b_at = ticks / 3 + (int)(rnd() % (unsigned)(ticks / 3));
    for (int tick = 0; tick < ticks; tick++) {
        if (tick == term_change_at) { /* fsynced, so it reopens where it was, in a new term */
            podsync_store_info before = info_of(W);
            ok(podsync_store_sync(W), "sync W", W);
            podsync_store_free(W);
            W = open_dir(wdir, 0, &durability, &oi);
            wi = info_of(W);
            if (!(oi.flags & PODSYNC_OPENED_NEW_TERM) || wi.term != before.term + 1 || oi.term != wi.term ||
                wi.state_version != before.state_version || wi.digest != before.digest || wi.stream_id != STREAM)
                FAIL("W reopened after LOG_OS: flags %u, term %" PRIu64 " (was %" PRIu64 "), version %" PRIu64
                     "/%" PRIu64 ", digest %s",
                     oi.flags, wi.term, before.term, wi.state_version, before.state_version,
                     wi.digest == before.digest ? "same" : "differs");
            w_term = wi.term;
            w_every_frame = 1;
        }
        random_ops(W, 0);
        flush_writer(W, 0, w_every_frame, &b);
        for (int i = 0; i < 3; i++) deliver(&reps[i], &b, W, 1, 1, "W phase");
        if (tick % 97 == 50) ok(podsync_store_checkpoint(W), "checkpoint W", W);
        if (tick == reopen_b_at) { /* a durable replica restored from its files is where it was */
            podsync_store_info bi = info_of(B->store);
            podsync_store_free(B->store);
            B->store = open_dir(B->dir, 0, &durability, &oi);
            podsync_store_info bj = info_of(B->store);
            if (bj.role != PODSYNC_ROLE_REPLICA || bj.state_version != bi.state_version || bj.digest != bi.digest ||
                bj.term != bi.term || bj.stream_id != bi.stream_id || (oi.flags & PODSYNC_OPENED_CREATED) ||
                oi.dropped_bytes != 0)
                FAIL("B reopened at version %" PRIu64 " (was %" PRIu64 "), digest %s, flags %u, dropped %" PRIu64,
                     bj.state_version, bi.state_version, bj.digest == bi.digest ? "same" : "differs", oi.flags,
                     oi.dropped_bytes);
        }
    }
    for (int i = 0; i < 3; i++) sync_to(&reps[i], W, 1, "W phase end");
    unsigned long pre_snapshots = 0;
    for (int i = 0; i < 3; i++) pre_snapshots += reps[i].snapshots;

    /* 2. The arrangement: frames only A and C get, then frames only C gets. */
    int ac = 1 + (int)(rnd() % 3), c_only = 1 + (int)(rnd() % 3);
    for (int k = 0; k < ac + c_only; k++) {
        random_ops(W, 1);
        flush_writer(W, 0, 1, &b);
        if (b.n != 1) FAIL("arrangement: a flush with changes made %zu frames", b.n);
        if (k < ac) deliver(A, &b, W, 0, 0, "arrangement");
        else A->lost += b.n;
        B->lost += b.n;
        deliver(C, &b, W, 0, 0, "arrangement");
    }
    wi = info_of(W);
    podsync_store_info ai = info_of(A->store), bi = info_of(B->store), ci = info_of(C->store);
    if (!(bi.state_version < ai.state_version && ai.state_version < ci.state_version &&
          ci.state_version == wi.state_version))
        FAIL("arrangement: B %" PRIu64 ", A %" PRIu64 ", C %" PRIu64 ", W %" PRIu64, bi.state_version,
             ai.state_version, ci.state_version, wi.state_version);
    uint64_t w_last_version = wi.state_version, w_last_digest = wi.digest;
    uint64_t b_version = bi.state_version, c_version = ci.state_version;

    /* 3. W dies. A is promoted. */
    podsync_store_free(W);
    W = NULL;
    int32_t st = podsync_store_promote(A->store, w_term);
    if (st != PODSYNC_E_INVALID_ARGUMENT)
        FAIL("promote to the term A already follows returned %s", podsync_status_name(st));
    {
        podsync_store *fresh = NULL;
        ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &fresh), "replica", NULL);
        st = podsync_store_promote(fresh, NEW_TERM);
        if (st >= 0) FAIL("promote of a replica that follows no stream returned %s", podsync_status_name(st));
        podsync_store_free(fresh);
    }
    ok(podsync_store_promote(A->store, NEW_TERM), "promote A", A->store);
    promoted = 1;
    promoted_at = ai.state_version;
    podsync_store_info aj = info_of(A->store);
    if (aj.role != PODSYNC_ROLE_WRITER || aj.term != NEW_TERM || aj.state_version != ai.state_version ||
        aj.digest != ai.digest || aj.stream_id != STREAM)
        FAIL("A after promotion: role %u, term %" PRIu64 ", version %" PRIu64 "/%" PRIu64 ", stream %" PRIx64, aj.role,
             aj.term, aj.state_version, ai.state_version, aj.stream_id);
    st = podsync_store_promote(A->store, NEW_TERM + 1);
    if (st != PODSYNC_E_WRONG_ROLE) FAIL("promote of a writer returned %s", podsync_status_name(st));

    /* 4. A writes. B continues with deltas; C is told until it takes a snapshot of A. */
    int heal_at = 1 + (int)(rnd() % 8), reopen_a_at = (int)(rnd() % 30);
    int c_healed = 0;
    unsigned long b_snapshots = B->snapshots, b_gaps = B->gaps;
    for (int tick = 0; tick < 40; tick++) {
        random_ops(A->store, tick < 10);
        flush_writer(A->store, 1, 1, &b);
        deliver(B, &b, A->store, 1, 0, "A phase");
        if (!c_healed) {
            for (size_t i = 0; i < b.n; i++) {
                if (chance(LOSS_PCT)) {
                    C->lost++;
                    continue;
                }
                st = apply_checked(C, &b.v[i], "A phase, C ahead");
                if (st != PODSYNC_E_HISTORY_DIVERGED)
                    FAIL("C (version %" PRIu64 " of the old term, A took over at %" PRIu64 ") applying A's frame: %s",
                         c_version, promoted_at, podsync_status_name(st));
            }
            if (tick + 1 == heal_at) {
                uint64_t av = info_of(A->store).state_version;
                size_t n = 0;
                st = podsync_store_delta_since(A->store, c_version, &n);
                if (av < c_version) {
                    if (st != PODSYNC_E_VERSION_AHEAD)
                        FAIL("delta_since(A at %" PRIu64 ", %" PRIu64 ") returned %s", av, c_version,
                             podsync_status_name(st));
                } else {
                    ok(st, "delta_since A for C", A->store);
                    take_outbox(A->store, n, &b);
                    for (size_t i = 0; i < b.n; i++) {
                        st = apply_checked(C, &b.v[i], "C asks A for a delta");
                        if (st != PODSYNC_E_HISTORY_DIVERGED)
                            FAIL("C applying A's delta since C's version %" PRIu64 ": %s", c_version,
                                 podsync_status_name(st));
                    }
                }
                ok(podsync_store_snapshot(A->store, &n), "snapshot A", A->store);
                take_outbox(A->store, n, &b);
                for (size_t i = 0; i < b.n; i++) {
                    st = apply_checked(C, &b.v[i], "C heals");
                    if (st != (i + 1 == b.n ? PODSYNC_OK : PODSYNC_CHUNK_STAGED))
                        FAIL("C applying A's snapshot: %s", podsync_status_name(st));
                }
                C->snapshots++;
                c_healed = 1;
                sync_to(C, A->store, 0, "C healed");
            }
        } else {
            deliver(C, &b, A->store, 1, 0, "A phase, C healed");
        }
        if (tick == 20) ok(podsync_store_checkpoint(A->store), "checkpoint A", A->store);
        if (tick == reopen_a_at) { /* the promoted writer restored from its files */
            podsync_store_info before = info_of(A->store);
            podsync_store_free(A->store);
            A->store = open_dir(A->dir, 0, &durability, &oi);
            podsync_store_info after = info_of(A->store);
            if (after.role != PODSYNC_ROLE_WRITER || after.term != NEW_TERM || oi.term != NEW_TERM ||
                (oi.flags & PODSYNC_OPENED_NEW_TERM) || after.state_version != before.state_version ||
                after.digest != before.digest || after.stream_id != STREAM)
                FAIL("A reopened: role %u, term %" PRIu64 ", flags %u, version %" PRIu64 "/%" PRIu64 ", digest %s",
                     after.role, after.term, oi.flags, after.state_version, before.state_version,
                     after.digest == before.digest ? "same" : "differs");
        }
    }
    if (B->snapshots != b_snapshots) FAIL("B needed a snapshot after the promotion");
    if (B->gaps == b_gaps) FAIL("B (behind A) never got PODSYNC_GAP from A's frames");
    sync_to(B, A->store, 0, "B follows A");
    sync_to(C, A->store, 0, "C follows A");
    if (info_of(B->store).term != NEW_TERM || info_of(C->store).term != NEW_TERM)
        FAIL("B and C do not follow term %d", NEW_TERM);
    { /* B restored from its files still follows the new term (and so stays fenced below) */
        podsync_store_info before = info_of(B->store);
        podsync_store_free(B->store);
        B->store = open_dir(B->dir, 0, &durability, &oi);
        podsync_store_info after = info_of(B->store);
        if (after.term != NEW_TERM || after.state_version != before.state_version || after.digest != before.digest ||
            oi.term != NEW_TERM || oi.dropped_bytes != 0)
            FAIL("B reopened after following A: term %" PRIu64 ", version %" PRIu64 "/%" PRIu64 ", digest %s",
                 after.term, after.state_version, before.state_version,
                 after.digest == before.digest ? "same" : "differs");
    }
    if (B->snapshots != b_snapshots) FAIL("B needed a snapshot after the promotion");

    /* 5. W comes back from its files: same term, same version (EVERY_FRAME), and fenced. */
    W = open_dir(wdir, 0, &durability, &oi);
    wi = info_of(W);
    if ((oi.flags & (PODSYNC_OPENED_NEW_TERM | PODSYNC_OPENED_CREATED)) || oi.term != w_term || wi.term != w_term ||
        oi.restored_version != w_last_version || wi.state_version != w_last_version || wi.digest != w_last_digest ||
        wi.role != PODSYNC_ROLE_WRITER || oi.dropped_bytes != 0)
        FAIL("W reopened: flags %u, term %" PRIu64 " (was %" PRIu64 "), version %" PRIu64 " (handed out %" PRIu64
             "), digest %s, dropped %" PRIu64,
             oi.flags, wi.term, w_term, wi.state_version, w_last_version,
             wi.digest == w_last_digest ? "same" : "differs", oi.dropped_bytes);
    for (int k = 0; k < 3; k++) {
        random_ops(W, 1);
        flush_writer(W, 0, 1, &b);
        for (int i = 1; i < 3; i++)
            for (size_t j = 0; j < b.n; j++) {
                st = apply_checked(&reps[i], &b.v[j], "W is back");
                if (st != PODSYNC_E_TERM_FENCED) FAIL("%s applying the old writer's frame: %s", reps[i].name,
                                                      podsync_status_name(st));
            }
        for (size_t j = 0; j < b.n; j++) {
            st = podsync_store_apply(A->store, b.v[j].data, b.v[j].size, NULL);
            if (st != PODSYNC_E_WRONG_ROLE) FAIL("A (a writer) applying W's frame: %s", podsync_status_name(st));
        }
    }
    {
        size_t n = 0;
        ok(podsync_store_snapshot(W, &n), "snapshot W", W);
        take_outbox(W, n, &b);
        for (int i = 1; i < 3; i++)
            for (size_t j = 0; j < b.n; j++) {
                st = apply_checked(&reps[i], &b.v[j], "W's snapshot");
                if (st != PODSYNC_E_TERM_FENCED) FAIL("%s applying the old writer's snapshot: %s", reps[i].name,
                                                      podsync_status_name(st));
            }
    }
    uint64_t w_end_version = info_of(W).state_version;
    podsync_store_free(W);

    /* 6. A writes on over the lossy links; then everyone converges. */
    for (int tick = 0; tick < 30; tick++) {
        random_ops(A->store, 0);
        flush_writer(A->store, 1, 1, &b);
        deliver(B, &b, A->store, 1, 0, "end");
        deliver(C, &b, A->store, 1, 0, "end");
    }
    sync_to(B, A->store, 0, "end");
    sync_to(C, A->store, 0, "end");
    aj = info_of(A->store);
    for (int i = 1; i < 3; i++) {
        podsync_store_info ri = info_of(reps[i].store);
        if (ri.state_version != aj.state_version || ri.digest != aj.digest || ri.term != NEW_TERM || ri.diverged)
            FAIL("end: %s at version %" PRIu64 "/%" PRIu64 ", term %" PRIu64 ", digest %s", reps[i].name,
                 ri.state_version, aj.state_version, ri.term, ri.digest == aj.digest ? "same" : "differs");
        expect_same_records(A->store, &reps[i], "end");
    }
    if (B->snapshots != b_snapshots) FAIL("B needed a snapshot after the promotion");
    if (C->diverged == 0) FAIL("C was never told PODSYNC_E_HISTORY_DIVERGED");

    printf("seed %2" PRIu64 ": W term %" PRIu64 " to version %" PRIu64 " (back at %" PRIu64 ", fenced %lu+%lu); "
           "B %" PRIu64 " < A %" PRIu64 " < C %" PRIu64 "; end version %" PRIu64 "; lost A/B/C %lu/%lu/%lu, "
           "gaps %lu/%lu/%lu, snapshots before %lu, C diverged %lu, %zu writer digests\n",
           seed, w_term, w_last_version, w_end_version, B->fenced, C->fenced, b_version, promoted_at, c_version,
           aj.state_version, A->lost, B->lost, C->lost, A->gaps, B->gaps, C->gaps, pre_snapshots, C->diverged,
           set_count + (size_t)set_has_zero);
    for (int i = 0; i < 3; i++) podsync_store_free(reps[i].store);
    batch_clear(&b);
    remove_tree(wdir);
    for (int i = 0; i < 2; i++) remove_tree(reps[i].dir);
}

int main(int argc, char **argv) {
    uint64_t first = 1, seeds = 20;
    int ticks = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seeds") == 0) seeds = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0) first = strtoull(argv[i + 1], NULL, 10), seeds = 1;
        else if (strcmp(argv[i], "--ticks") == 0) ticks = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--seeds N] [--seed S] [--ticks T]\n", argv[0]);
            return 2;
        }
    }
    if (ticks < 30 || ticks > MAX_VERSIONS / 2) {
        fprintf(stderr, "failover: --ticks must be 30 .. %d\n", MAX_VERSIONS / 2);
        return 2;
    }
    ok(podsync_schema_create(&schema), "schema", NULL);
    for (int t = 0; t < TABLES; t++)
        ok(podsync_schema_add_table(schema, table_ids[t], record_sizes[t], 8, NULL, 0), "add_table", NULL);
    durability = (podsync_durability_options)PODSYNC_DURABILITY_OPTIONS_INIT;
    durability.log_policy = PODSYNC_LOG_EVERY_FRAME;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/podsync-failover-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("failover: mkdtemp");
        return 1;
    }
    for (seed = first; seed < first + seeds; seed++) run(ticks);
    remove_tree(root);
    podsync_schema_free(schema);
    printf("failover: %" PRIu64 " seeds, %d failures\n", seeds, failures);
    return failures ? 1 : 0;
}
