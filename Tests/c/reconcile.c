/*
 * reconcile.c — replicas that fall far behind or diverge heal by repair over a lossy channel, and
 * every heal is checked against the writer's tables.
 *
 * A writer (two tables, 1% of the records changed every tick with inserts and deletes, zstd level
 * 1, a short tombstone horizon so the catch-up floor rises quickly) feeds replicas:
 *   - "in sync" gets every frame; it is also a responder for half of the heals (an up-to-date
 *     replica answers summaries as well as the writer);
 *   - "lossy" loses 30% of the frames and catches up with delta_since; when that needs a snapshot
 *     (below the catch-up floor) it heals by reconciliation instead;
 *   - "sleeper" gets nothing for 40 ticks at a time, then heals by reconciliation;
 *   - "misled" follows an impostor writer of the same stream id for a while (it diverges), then
 *     heals by reconciliation.
 * Every message of every exchange is also delivered a second time with a corrupt byte (checksum
 * fixed, so the parser sees it), and as a truncated copy: each must be refused with an error
 * status and leave both stores' digests as they were. After each heal the replica must hold
 * exactly the writer's tables, version and digest. Prints the heals, their messages and bytes
 * against a snapshot; exits non-zero on any violation.
 *
 * Usage: reconcile [--seed N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "podsync.h"

#define TICKS 400
#define N_A 20000
#define N_B 2000
#define NTABLES 2
static const uint32_t TABLE_ID[NTABLES] = {1, 2};
static const uint32_t TABLE_SIZE[NTABLES] = {40, 16};

static uint64_t rng_state = 3;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int failures = 0;
#define FAIL(...)                                             \
    do {                                                      \
        fprintf(stderr, "reconcile: FAIL: " __VA_ARGS__);     \
        fprintf(stderr, "\n");                                \
        if (++failures > 20) exit(1);                         \
    } while (0)

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "reconcile: %s: %s (%s)\n", what, podsync_status_name(st), s ? podsync_store_errmsg(s) : "");
        exit(1);
    }
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    ok(podsync_store_digest(s, &d), "digest", s);
    return d;
}

static podsync_store_info info_of(const podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    ok(podsync_store_info_get(s, &i), "info", s);
    return i;
}

/* Copies outbox frame i of s into a fresh buffer. */
static uint8_t *take_frame(const podsync_store *s, size_t i, size_t *size) {
    const uint8_t *data = NULL;
    ok(podsync_store_frame(s, i, &data, size), "frame", s);
    uint8_t *copy = malloc(*size);
    if (!copy) exit(1);
    memcpy(copy, data, *size);
    return copy;
}

/* ---- equality of two stores' tables ---- */

static int cmp_key(const void *a, const void *b) {
    uint64_t x = **(const uint64_t *const *)a, y = **(const uint64_t *const *)b;
    return x < y ? -1 : x > y;
}

/* Whether a and b hold the same records in table t. */
static int same_table(const podsync_store *a, const podsync_store *b, int t) {
    const void *ra = NULL, *rb = NULL;
    const uint64_t *ka = NULL, *kb = NULL;
    size_t na = 0, nb = 0;
    ok(podsync_store_table(a, TABLE_ID[t], &ra, &ka, &na), "table", a);
    ok(podsync_store_table(b, TABLE_ID[t], &rb, &kb, &nb), "table", b);
    if (na != nb) return 0;
    const uint64_t **pa = malloc(na * sizeof *pa + 1), **pb = malloc(nb * sizeof *pb + 1);
    if (!pa || !pb) exit(1);
    for (size_t i = 0; i < na; i++) {
        pa[i] = &ka[i];
        pb[i] = &kb[i];
    }
    qsort(pa, na, sizeof *pa, cmp_key);
    qsort(pb, nb, sizeof *pb, cmp_key);
    int same = 1;
    uint32_t size = TABLE_SIZE[t];
    for (size_t i = 0; i < na && same; i++) {
        size_t ia = (size_t)(pa[i] - ka), ib = (size_t)(pb[i] - kb);
        same = ka[ia] == kb[ib] && memcmp((const uint8_t *)ra + ia * size, (const uint8_t *)rb + ib * size, size) == 0;
    }
    free(pa);
    free(pb);
    return same;
}

/* ---- hostile copies of a message ---- */

static long hostile_checked = 0;

/* The message with one byte changed and its checksum fixed (format 2: XXH3-64 of [16, n) seeded
   with bytes [0, 8)), and truncated: both refused by `to`, and neither store changes. */
static void hostile(podsync_store *to, int as_frame, const uint8_t *msg, size_t size, const podsync_store *other) {
    uint64_t d1 = digest_of(to), d2 = digest_of(other);
    uint64_t v1 = info_of(to).state_version;
    uint8_t *bad = malloc(size);
    if (!bad) exit(1);
    memcpy(bad, msg, size);
    size_t at = 16 + (size_t)(rnd() % (size - 16));
    bad[at] ^= (uint8_t)(1 + rnd() % 255);
    uint64_t seed = 0;
    memcpy(&seed, bad, 8);
    uint64_t sum = XXH3_64bits_withSeed(bad + 16, size - 16, seed);
    memcpy(bad + 8, &sum, 8);
    size_t n = 0;
    uint64_t v = 0;
    int32_t st = as_frame ? podsync_store_apply(to, bad, size, &v) : podsync_store_reconcile(to, bad, size, &n);
    /* A changed byte may still make a valid message (a hash or a key): then it must only do what
       a valid message does. Refused or not, no crash; a refusal leaves the state alone. */
    if (st < 0 && st != PODSYNC_E_DIGEST_MISMATCH && (digest_of(to) != d1 || info_of(to).state_version != v1))
        FAIL("a refused hostile message (%s, byte %zu) changed the store", podsync_status_name(st), at);
    if (!as_frame && digest_of(to) != d1) FAIL("reconcile changed the store's state");
    if (as_frame && st >= 0) {
        /* Accepted: it was applied; undo is not possible, so the caller's heal starts over. */
    }
    int32_t st2 = as_frame ? podsync_store_apply(to, msg, size / 2 & ~(size_t)7, &v)
                           : podsync_store_reconcile(to, msg, size / 2 & ~(size_t)7, &n);
    if (st2 >= 0) FAIL("a truncated message was accepted: %s", podsync_status_name(st2));
    if (digest_of(other) != d2) FAIL("the other store changed");
    free(bad);
    hostile_checked++;
}

/* ---- one heal ---- */

typedef struct {
    long heals, repaired, messages, summary_bytes, repair_bytes, in_sync;
} stats;
static stats g;

/* Reconciles `replica` with `responder`; returns the status of the repair's apply (PODSYNC_OK, or
   1 when nothing needed repairing). With `attack`, every message is also sent corrupted first. */
static int32_t heal(podsync_store *replica, podsync_store *responder, int attack) {
    size_t n = 0, size = 0;
    ok(podsync_store_summary(replica, 0, &n), "summary", replica);
    if (n != 1) FAIL("summary made %zu messages", n);
    uint8_t *msg = take_frame(replica, 0, &size);
    g.heals++;
    for (int round = 0; round < 16; round++) {
        g.messages++;
        g.summary_bytes += (long)size;
        if (attack) hostile(responder, 0, msg, size, replica);
        ok(podsync_store_reconcile(responder, msg, size, &n), "reconcile (responder)", responder);
        free(msg);
        if (n == 0) {
            g.in_sync++;
            return 1;
        }
        msg = take_frame(responder, 0, &size);
        uint16_t flags = (uint16_t)(msg[6] | msg[7] << 8);
        if (flags & 0x8) {
            g.repair_bytes += (long)size;
            g.repaired++;
            uint64_t v = 0;
            int32_t st = podsync_store_apply(replica, msg, size, &v);
            free(msg);
            return st;
        }
        if (!(flags & 0x10)) FAIL("the responder answered with neither a summary nor a repair");
        g.messages++;
        g.summary_bytes += (long)size;
        if (attack) hostile(replica, 0, msg, size, responder);
        ok(podsync_store_reconcile(replica, msg, size, &n), "reconcile (replica)", replica);
        free(msg);
        if (n != 1) FAIL("the replica answered %zu messages", n);
        msg = take_frame(replica, 0, &size);
    }
    free(msg);
    FAIL("a heal took more than 16 rounds");
    return -1;
}

static void check_healed(const char *who, podsync_store *r, podsync_store *w, int32_t st) {
    if (st == 1) return;
    if (st != PODSYNC_OK) {
        FAIL("%s: the repair's apply returned %s (%s)", who, podsync_status_name(st), podsync_store_errmsg(r));
        return;
    }
    podsync_store_info ri = info_of(r), wi = info_of(w);
    if (ri.state_version != wi.state_version || ri.digest != wi.digest || ri.stream_id != wi.stream_id || ri.diverged)
        FAIL("%s after repair: version %" PRIu64 " (writer %" PRIu64 "), digest %016" PRIx64 " (writer %016" PRIx64 ")", who,
             ri.state_version, wi.state_version, ri.digest, wi.digest);
    for (int t = 0; t < NTABLES; t++)
        if (!same_table(r, w, t)) FAIL("%s after repair: table %u differs from the writer's", who, TABLE_ID[t]);
}

/* ---- the scenario ---- */

static void make_record(int t, uint64_t key, uint64_t tick, uint8_t *rec) {
    for (uint32_t i = 0; i < TABLE_SIZE[t]; i++) rec[i] = (uint8_t)((key >> (i % 8)) + tick * (i + 1));
}

static void tick_writes(podsync_store *w, uint64_t *keys[NTABLES], size_t nkeys[NTABLES], uint64_t tick, int scale) {
    uint8_t rec[64];
    for (int t = 0; t < NTABLES; t++) {
        size_t changes = nkeys[t] / 100 * (size_t)scale;
        for (size_t i = 0; i < changes; i++) {
            uint64_t key = keys[t][rnd() % nkeys[t]];
            make_record(t, key, tick, rec);
            ok(podsync_store_put(w, TABLE_ID[t], key, rec, TABLE_SIZE[t]), "put", w);
        }
        for (int i = 0; i < 3; i++) {
            size_t j = (size_t)(rnd() % nkeys[t]);
            if (podsync_store_delete(w, TABLE_ID[t], keys[t][j]) < 0) FAIL("delete");
            keys[t][j] = rnd();
            make_record(t, keys[t][j], tick, rec);
            ok(podsync_store_put(w, TABLE_ID[t], keys[t][j], rec, TABLE_SIZE[t]), "insert", w);
        }
    }
}

static void deliver(podsync_store *w, podsync_store *r, size_t frames, int loss_percent) {
    for (size_t i = 0; i < frames; i++) {
        if ((int)(rnd() % 100) < loss_percent) continue;
        const uint8_t *data = NULL;
        size_t size = 0;
        ok(podsync_store_frame(w, i, &data, &size), "frame", w);
        uint64_t v = 0;
        int32_t st = podsync_store_apply(r, data, size, &v);
        if (st < 0 && st != PODSYNC_E_DIVERGED && st != PODSYNC_E_DIGEST_MISMATCH && st != PODSYNC_E_STREAM_MISMATCH)
            FAIL("apply: %s (%s)", podsync_status_name(st), podsync_store_errmsg(r));
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) rng_state = strtoull(argv[2], NULL, 10);
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    for (int t = 0; t < NTABLES; t++) ok(podsync_schema_add_table(schema, TABLE_ID[t], TABLE_SIZE[t], 8, NULL, 0), "table", NULL);
    podsync_store_options wo = PODSYNC_STORE_OPTIONS_INIT;
    wo.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    wo.compression_level = 1;
    wo.tombstone_horizon = 6;
    wo.max_tombstones = 64;
    wo.stream_id = 0x5EC0;
    podsync_store *w = NULL, *impostor = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &wo, &w), "writer", NULL);
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &wo, &impostor), "impostor", NULL);
    enum { SYNC, LOSSY, SLEEPER, MISLED, NREP };
    const char *names[NREP] = {"in sync", "lossy", "sleeper", "misled"};
    podsync_store *r[NREP];
    for (int i = 0; i < NREP; i++) {
        podsync_store_options ro = PODSYNC_STORE_OPTIONS_INIT;
        ro.flags |= PODSYNC_OPT_MANUAL_CLOCK;
        ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &ro, &r[i]), "replica", NULL);
    }

    /* The initial state, in both writers (the impostor starts from the same records). */
    static uint64_t ka[N_A], kb[N_B];
    uint64_t *keys[NTABLES] = {ka, kb};
    size_t nkeys[NTABLES] = {N_A, N_B};
    uint8_t rec[64];
    for (int t = 0; t < NTABLES; t++) {
        for (size_t i = 0; i < nkeys[t]; i++) {
            keys[t][i] = rnd();
            make_record(t, keys[t][i], 0, rec);
            ok(podsync_store_put(w, TABLE_ID[t], keys[t][i], rec, TABLE_SIZE[t]), "put", w);
            ok(podsync_store_put(impostor, TABLE_ID[t], keys[t][i], rec, TABLE_SIZE[t]), "put", impostor);
        }
    }
    static uint64_t ia[N_A], ib[N_B];
    memcpy(ia, ka, sizeof ka);
    memcpy(ib, kb, sizeof kb);
    uint64_t *ikeys[NTABLES] = {ia, ib};
    size_t n = 0;
    ok(podsync_store_flush(impostor, &n), "flush", impostor);
    ok(podsync_store_flush(w, &n), "flush", w);
    for (int i = 0; i < NREP; i++) deliver(w, r[i], n, 0);
    ok(podsync_store_snapshot(w, &n), "snapshot", w);
    size_t snapshot_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        ok(podsync_store_frame(w, i, &data, &size), "frame", w);
        snapshot_bytes += size;
    }

    long lossy_heals = 0, sleeper_heals = 0, misled_heals = 0;
    int sleeping = 0, misled = 0;
    for (uint64_t tick = 1; tick <= TICKS; tick++) {
        ok(podsync_store_set_time(w, tick * 16), "set_time", w);
        tick_writes(w, keys, nkeys, tick, 1);
        ok(podsync_store_flush(w, &n), "flush", w);
        deliver(w, r[SYNC], n, 0);
        deliver(w, r[LOSSY], n, 30);
        if (!sleeping) deliver(w, r[SLEEPER], n, 0);
        if (!misled) deliver(w, r[MISLED], n, 0);
        int attack = tick % 25 == 0;
        podsync_store *responder = tick % 2 ? w : r[SYNC];

        /* The lossy replica asks for a catch-up every 9 ticks (the horizon is 6): below the
           floor it heals. */
        if (tick % 9 == 0) {
            podsync_store_info li = info_of(r[LOSSY]);
            size_t m = 0;
            int32_t st = podsync_store_delta_since(w, li.state_version, &m);
            ok(st, "delta_since", w);
            if (st == PODSYNC_SNAPSHOT_REQUIRED) {
                check_healed(names[LOSSY], r[LOSSY], w, heal(r[LOSSY], responder, attack));
                lossy_heals++;
            } else {
                deliver(w, r[LOSSY], m, 0);
            }
        }
        /* The sleeper sleeps 40 ticks in every 60, then heals. */
        if (tick % 60 == 20) sleeping = 1;
        if (tick % 60 == 0) {
            sleeping = 0;
            check_healed(names[SLEEPER], r[SLEEPER], w, heal(r[SLEEPER], responder, attack));
            sleeper_heals++;
        }
        /* The impostor writes other changes at the same versions; the misled replica takes its
           frames for 10 ticks in every 80 (it diverges at the first), then heals. */
        ok(podsync_store_set_time(impostor, tick * 16), "set_time", impostor);
        tick_writes(impostor, ikeys, nkeys, tick + 1000, 1);
        size_t m = 0;
        ok(podsync_store_flush(impostor, &m), "flush", impostor);
        if (tick % 80 == 30) misled = 1;
        if (misled) deliver(impostor, r[MISLED], m, 0);
        if (tick % 80 == 40) {
            misled = 0;
            check_healed(names[MISLED], r[MISLED], w, heal(r[MISLED], responder, attack));
            misled_heals++;
        }
    }
    /* Everyone ends with the writer's state. */
    for (int i = 0; i < NREP; i++) {
        check_healed(names[i], r[i], w, heal(r[i], w, 0));
        if (!same_table(r[i], w, 0) || !same_table(r[i], w, 1)) FAIL("%s differs from the writer at the end", names[i]);
    }
    printf("reconcile: %ld heals (%ld lossy, %ld sleeper, %ld misled, %d final; %ld in sync already), %ld repairs, %ld messages\n",
           g.heals, lossy_heals, sleeper_heals, misled_heals, NREP, g.in_sync, g.repaired, g.messages);
    printf("reconcile: per repair %.0f bytes of summaries and %.0f of repair frame; a snapshot is %zu bytes\n",
           g.repaired ? (double)g.summary_bytes / (double)g.repaired : 0.0, g.repaired ? (double)g.repair_bytes / (double)g.repaired : 0.0,
           snapshot_bytes);
    printf("reconcile: %ld hostile copies refused or harmless\n", hostile_checked);
    if (g.repaired < 10) FAIL("only %ld repairs happened", g.repaired);
    for (int i = 0; i < NREP; i++) podsync_store_free(r[i]);
    podsync_store_free(w);
    podsync_store_free(impostor);
    podsync_schema_free(schema);
    if (failures) {
        fprintf(stderr, "reconcile: %d failure(s)\n", failures);
        return 1;
    }
    printf("reconcile: every heal matched the writer's tables\n");
    return 0;
}
