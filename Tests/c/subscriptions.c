/*
 * subscriptions.c — replicas that hold part of a stream get exactly that part, from feeds.
 *
 * A writer (two tables, random puts, deletes and unchanged rewrites every tick) serves feeds:
 *   RANGES  table 1, keys [0, 999] and [2000, 2999]
 *   MIXED   table 1 keys [500, 3499], table 2 every key, shards {1, 3} of 2 bits
 *   SHARD k (k = 0..3) both tables, shard k of 2 bits
 * Each feed has replicas: one in sync (every feed frame), one over a lossy link (30% of frames
 * lost; it asks the feed for a catch-up delta, or a snapshot below the floor), one that joins late
 * from a chunked snapshot of the feed, and one that sleeps and heals by reconciliation with the
 * feed (summary, descent, repair). After every tick each replica that is caught up must hold
 * exactly the writer's records of its subset: RANGES and MIXED's table-1 keys are checked against
 * the ranges; the shard replicas must be disjoint and together hold the writer's tables; MIXED must
 * equal SHARD 1 + SHARD 3 restricted to its ranges. Digests must equal the feed's, versions the
 * writer's after each flush that changed the subset.
 *
 * Refusals (state unchanged): a feed frame to a replica of the whole stream, a whole-stream frame
 * to a subscriber, another subscription's frame, a summary of another subscription; subscribing a
 * replica that holds state; writes on a feed; feeds of a replica or of a feed; malformed encodings
 * (every truncation, byte flips: refused or another valid subscription, never a crash); a
 * subscription naming a table the schema lacks. The same subscription gives the same feed; a feed
 * whose references are all released stops following; a feed outliving its writer keeps its state.
 * Runs with plain frames, zstd level 1 with XOR, and small frames (chunked catch-up).
 *
 * Usage: subscriptions [--seed N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsync.h"

#define TICKS 200
#define KEYS 4096
#define NTABLES 2
static const uint32_t TABLE_ID[NTABLES] = {1, 2};
static const uint32_t TABLE_SIZE[NTABLES] = {40, 12};

static uint64_t rng_state = 5;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int failures = 0;
static long relay_checks = 0;
static long checks = 0, refusals = 0, heals = 0, catchups = 0, snapshots = 0, frames_sent = 0;
#define FAIL(...)                                             \
    do {                                                      \
        fprintf(stderr, "subscriptions: FAIL: " __VA_ARGS__); \
        fprintf(stderr, "\n");                                \
        if (++failures > 20) exit(1);                         \
    } while (0)

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "subscriptions: %s: %s (%s)\n", what, podsync_status_name(st), s ? podsync_store_errmsg(s) : "");
        exit(1);
    }
}

static podsync_store_info info_of(const podsync_store *s) {
    podsync_store_info info;
    memset(&info, 0, sizeof info);
    info.version = PODSYNC_STORE_INFO_VERSION;
    ok(podsync_store_info_get(s, &info), "info", s);
    return info;
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    ok(podsync_store_digest(s, &d), "digest", s);
    return d;
}

static const unsigned char *get(const podsync_store *s, int t, uint64_t key) {
    const void *rec = NULL;
    int32_t st = podsync_store_get(s, TABLE_ID[t], key, &rec);
    return st == PODSYNC_OK ? rec : NULL;
}

static size_t count_of(const podsync_store *s, int t) {
    size_t n = 0;
    ok(podsync_store_count(s, TABLE_ID[t], &n), "count", s);
    return n;
}

/* ---- Subscriptions ---- */

enum { RANGES, MIXED, SHARD0, NSUBS = SHARD0 + 4 };
static const char *SUB_NAME[NSUBS] = {"ranges", "mixed", "shard0", "shard1", "shard2", "shard3"};
static uint8_t sub_bytes[NSUBS][256];
static size_t sub_size[NSUBS];
static uint64_t sub_hash[NSUBS];

static const podsync_key_range RANGES_T1[2] = {{0, 999}, {2000, 2999}};
static const podsync_key_range MIXED_T1[1] = {{500, 3499}};

static int in_ranges(const podsync_key_range *r, int n, uint64_t key) {
    for (int i = 0; i < n; i++)
        if (key >= r[i].lo && key <= r[i].hi) return 1;
    return 0;
}

static void encode_subscriptions(void) {
    podsync_subscription_table t1 = {1, 2, RANGES_T1};
    podsync_subscription s = {PODSYNC_SUBSCRIPTION_VERSION, 0, 0, 1, NULL, &t1};
    ok(podsync_subscription_encode(&s, sub_bytes[RANGES], sizeof sub_bytes[0], &sub_size[RANGES], &sub_hash[RANGES]), "encode", NULL);
    podsync_subscription_table mixed[2] = {{1, 1, MIXED_T1}, {2, 0, NULL}};
    uint32_t mixed_shards[2] = {1, 3};
    podsync_subscription m = {PODSYNC_SUBSCRIPTION_VERSION, 2, 2, 2, mixed_shards, mixed};
    ok(podsync_subscription_encode(&m, sub_bytes[MIXED], sizeof sub_bytes[0], &sub_size[MIXED], &sub_hash[MIXED]), "encode", NULL);
    podsync_subscription_table both[2] = {{1, 0, NULL}, {2, 0, NULL}};
    for (uint32_t k = 0; k < 4; k++) {
        podsync_subscription sh = {PODSYNC_SUBSCRIPTION_VERSION, 2, 1, 2, &k, both};
        ok(podsync_subscription_encode(&sh, sub_bytes[SHARD0 + k], sizeof sub_bytes[0], &sub_size[SHARD0 + k], &sub_hash[SHARD0 + k]),
           "encode", NULL);
    }
    for (int i = 0; i < NSUBS; i++)
        for (int j = 0; j < i; j++)
            if (sub_hash[i] == sub_hash[j]) FAIL("subscriptions %s and %s have the same hash", SUB_NAME[i], SUB_NAME[j]);

    /* The encoder refuses what breaks the rules, writing nothing. */
    podsync_key_range inverted = {5, 4};
    podsync_subscription_table bad_t = {1, 1, &inverted};
    podsync_subscription bad = {PODSYNC_SUBSCRIPTION_VERSION, 0, 0, 1, NULL, &bad_t};
    uint8_t buf[256];
    size_t n = 0;
    if (podsync_subscription_encode(&bad, buf, sizeof buf, &n, NULL) != PODSYNC_E_INVALID_ARGUMENT) FAIL("an inverted range was encoded");
    podsync_key_range touching[2] = {{0, 9}, {10, 20}};
    bad_t.range_count = 2;
    bad_t.ranges = touching;
    if (podsync_subscription_encode(&bad, buf, sizeof buf, &n, NULL) != PODSYNC_E_INVALID_ARGUMENT) FAIL("adjacent ranges were encoded");
    podsync_subscription_table unsorted[2] = {{2, 0, NULL}, {1, 0, NULL}};
    podsync_subscription bad2 = {PODSYNC_SUBSCRIPTION_VERSION, 0, 0, 2, NULL, unsorted};
    if (podsync_subscription_encode(&bad2, buf, sizeof buf, &n, NULL) != PODSYNC_E_INVALID_ARGUMENT) FAIL("unsorted tables were encoded");
    uint32_t big_shard = 4;
    podsync_subscription bad3 = {PODSYNC_SUBSCRIPTION_VERSION, 2, 1, 2, &big_shard, both};
    if (podsync_subscription_encode(&bad3, buf, sizeof buf, &n, NULL) != PODSYNC_E_INVALID_ARGUMENT) FAIL("shard 4 of 2 bits was encoded");
    podsync_subscription none = {PODSYNC_SUBSCRIPTION_VERSION, 0, 0, 0, NULL, NULL};
    if (podsync_subscription_encode(&none, buf, sizeof buf, &n, NULL) != PODSYNC_E_INVALID_ARGUMENT) FAIL("no table was encoded");
    if (podsync_subscription_encode(&m, buf, 4, &n, NULL) != PODSYNC_E_BUFFER_TOO_SMALL || n != sub_size[MIXED])
        FAIL("a small buffer did not report the size");
    refusals += 7;
}

/* ---- Frames carried between stores ---- */

typedef struct {
    size_t count;
    uint8_t *data[64];
    size_t size[64];
} batch;

static void take_outbox(const podsync_store *s, size_t n, batch *b) {
    if (n > 64) {
        fprintf(stderr, "subscriptions: %zu frames in one outbox\n", n);
        exit(1);
    }
    b->count = n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = NULL;
        ok(podsync_store_frame(s, i, &p, &b->size[i]), "frame", s);
        b->data[i] = malloc(b->size[i]);
        memcpy(b->data[i], p, b->size[i]);
    }
}

static void drop(batch *b) {
    for (size_t i = 0; i < b->count; i++) free(b->data[i]);
    b->count = 0;
}

/* Applies every frame of the feed's outbox (a snapshot or catch-up) to r. */
static void apply_outbox(podsync_store *r, podsync_store *feed, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = NULL;
        size_t size = 0;
        ok(podsync_store_frame(feed, i, &p, &size), "frame", feed);
        int32_t st = podsync_store_apply(r, p, size, NULL);
        if (st < 0) FAIL("%s: apply of frame %zu/%zu: %s (%s)", what, i, n, podsync_status_name(st), podsync_store_errmsg(r));
    }
}

/* Brings a replica that missed frames up to its feed: catch-up, or a snapshot below the floor. */
static void catch_up(podsync_store *r, podsync_store *feed) {
    size_t n = 0;
    int32_t st = podsync_store_delta_since(feed, info_of(r).state_version, &n);
    ok(st, "delta_since", feed);
    if (st == PODSYNC_SNAPSHOT_REQUIRED) {
        ok(podsync_store_snapshot(feed, &n), "snapshot", feed);
        snapshots++;
    } else {
        catchups++;
    }
    apply_outbox(r, feed, n, "catch-up");
}

/* Reconciles r with the feed until the repair is applied (or nothing differs). */
static void heal(podsync_store *r, podsync_store *feed) {
    size_t n = 0, size = 0;
    const uint8_t *p = NULL;
    ok(podsync_store_summary(r, 0, &n), "summary", r);
    for (int round = 0; round < 16; round++) {
        ok(podsync_store_frame(r, 0, &p, &size), "frame", r);
        ok(podsync_store_reconcile(feed, p, size, &n), "reconcile (feed)", feed);
        if (n == 0) return;
        ok(podsync_store_frame(feed, 0, &p, &size), "frame", feed);
        uint16_t flags = (uint16_t)(p[6] | p[7] << 8);
        if (flags & 0x8) {
            int32_t st = podsync_store_apply(r, p, size, NULL);
            if (st != PODSYNC_OK) FAIL("repair apply: %s (%s)", podsync_status_name(st), podsync_store_errmsg(r));
            heals++;
            return;
        }
        ok(podsync_store_reconcile(r, p, size, &n), "reconcile (replica)", r);
        if (n != 1) FAIL("the replica answered %zu messages", n);
    }
    FAIL("a heal took more than 16 rounds");
}

/* ---- Checks ---- */

/* Does table t of the writer's record `key` belong to subscription s (shards not checked)? */
static int in_sub_ranges(int s, int t, uint64_t key) {
    switch (s) {
    case RANGES: return t == 0 && in_ranges(RANGES_T1, 2, key);
    case MIXED: return t == 1 || in_ranges(MIXED_T1, 1, key);
    default: return 1;
    }
}

/* Every record r holds is the writer's, under a key of its ranges. */
static void check_records_are_writers(const char *who, const podsync_store *r, const podsync_store *w, int s) {
    for (int t = 0; t < NTABLES; t++) {
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t n = 0;
        ok(podsync_store_table(r, TABLE_ID[t], &records, &keys, &n), "table", r);
        for (size_t i = 0; i < n; i++) {
            const unsigned char *mine = (const unsigned char *)records + i * TABLE_SIZE[t];
            const unsigned char *theirs = get(w, t, keys[i]);
            if (!in_sub_ranges(s, t, keys[i])) FAIL("%s holds table %u key %" PRIu64 " outside its ranges", who, TABLE_ID[t], keys[i]);
            else if (!theirs) FAIL("%s holds table %u key %" PRIu64 " the writer deleted", who, TABLE_ID[t], keys[i]);
            else if (memcmp(mine, theirs, TABLE_SIZE[t]) != 0) FAIL("%s: table %u key %" PRIu64 " differs from the writer's", who, TABLE_ID[t], keys[i]);
        }
    }
}

/* Checks a full set of caught-up replicas, one per subscription: each holds only the writer's
   records; RANGES holds all of the writer's keys of its ranges; the shard replicas are disjoint and
   cover the writer; MIXED = (SHARD1 + SHARD3) within its ranges. */
static void check_set(const char *who, podsync_store *const r[NSUBS], const podsync_store *w, podsync_store *const feed[NSUBS]) {
    char name[64];
    for (int s = 0; s < NSUBS; s++) {
        snprintf(name, sizeof name, "%s %s", who, SUB_NAME[s]);
        check_records_are_writers(name, r[s], w, s);
        if (digest_of(r[s]) != digest_of(feed[s])) FAIL("%s: digest differs from its feed's", name);
        if (info_of(r[s]).state_version != info_of(feed[s]).state_version) FAIL("%s: version differs from its feed's", name);
    }
    for (int t = 0; t < NTABLES; t++) {
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t n = 0;
        ok(podsync_store_table(w, TABLE_ID[t], &records, &keys, &n), "table", w);
        size_t in_ranges_count = 0, mixed_count = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t key = keys[i];
            int holders = 0, shard = -1;
            for (int k = 0; k < 4; k++)
                if (get(r[SHARD0 + k], t, key)) holders++, shard = k;
            if (holders != 1) FAIL("%s: writer key %" PRIu64 " of table %u is held by %d shard replicas", who, key, TABLE_ID[t], holders);
            if (t == 0 && in_ranges(RANGES_T1, 2, key)) {
                in_ranges_count++;
                if (!get(r[RANGES], t, key)) FAIL("%s ranges: misses key %" PRIu64, who, key);
            }
            int want_mixed = (shard == 1 || shard == 3) && in_sub_ranges(MIXED, t, key);
            if (want_mixed) mixed_count++;
            if (want_mixed != (get(r[MIXED], t, key) != NULL)) FAIL("%s mixed: key %" PRIu64 " of table %u is %s", who, key, TABLE_ID[t], want_mixed ? "missing" : "extra");
        }
        if (t == 0 && count_of(r[RANGES], 0) != in_ranges_count) FAIL("%s ranges: holds %zu records, the writer %zu in its ranges", who, count_of(r[RANGES], 0), in_ranges_count);
        if (count_of(r[MIXED], t) != mixed_count) FAIL("%s mixed: holds %zu records of table %u, wants %zu", who, count_of(r[MIXED], t), TABLE_ID[t], mixed_count);
    }
    checks++;
}

/* A refused frame or message changes nothing. */
static void expect_refused(podsync_store *r, const uint8_t *frame, size_t size, int32_t want, const char *what) {
    uint64_t d = digest_of(r), v = info_of(r).state_version;
    int32_t st = podsync_store_apply(r, frame, size, NULL);
    if (st != want) FAIL("%s: apply returned %s, not %s", what, podsync_status_name(st), podsync_status_name(want));
    if (digest_of(r) != d || info_of(r).state_version != v) FAIL("%s: the refused frame changed the replica", what);
    refusals++;
}

static podsync_schema *make_schema(void) {
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    for (int t = 0; t < NTABLES; t++) ok(podsync_schema_add_table(schema, TABLE_ID[t], TABLE_SIZE[t], 4, NULL, 0), "add table", NULL);
    return schema;
}

static podsync_store *replica(const podsync_schema *schema, int s) {
    podsync_store *r = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &r), "replica", NULL);
    if (s >= 0) ok(podsync_store_subscribe(r, sub_bytes[s], sub_size[s]), "subscribe", r);
    return r;
}

/* Malformed encodings: every truncation is refused, byte flips are refused or describe another
   valid subscription; none crashes or subscribes a replica to a subscription it did not name. */
static void hostile_encodings(const podsync_schema *schema) {
    for (int s = 0; s < NSUBS; s++) {
        for (size_t cut = 0; cut < sub_size[s]; cut++) {
            podsync_store *r = replica(schema, -1);
            if (podsync_store_subscribe(r, sub_bytes[s], cut) != PODSYNC_E_INVALID_ARGUMENT) FAIL("a %zu-byte cut of %s was accepted", cut, SUB_NAME[s]);
            const uint8_t *d = NULL;
            size_t n = 0;
            if (podsync_store_subscription(r, &d, &n, NULL) != PODSYNC_NOT_FOUND || n != 0) FAIL("a refused subscribe left a subscription");
            podsync_store_free(r);
            refusals++;
        }
        for (int i = 0; i < 200; i++) {
            uint8_t bad[256];
            memcpy(bad, sub_bytes[s], sub_size[s]);
            bad[rnd() % sub_size[s]] ^= (uint8_t)(1 + rnd() % 255);
            podsync_store *r = replica(schema, -1);
            int32_t st = podsync_store_subscribe(r, bad, sub_size[s]);
            const uint8_t *d = NULL;
            size_t n = 0;
            uint64_t h = 0;
            int32_t got = podsync_store_subscription(r, &d, &n, &h);
            if (st == PODSYNC_OK) {
                if (got != PODSYNC_OK || n != sub_size[s] || memcmp(d, bad, n) != 0) FAIL("an accepted encoding is not the one kept");
            } else if (st != PODSYNC_E_INVALID_ARGUMENT) {
                FAIL("a flipped encoding returned %s", podsync_status_name(st));
            } else if (got != PODSYNC_NOT_FOUND) {
                FAIL("a refused encoding left a subscription");
            }
            podsync_store_free(r);
        }
    }
    /* Table 7 is not in the schema. */
    podsync_subscription_table t7 = {7, 0, NULL};
    podsync_subscription s7 = {PODSYNC_SUBSCRIPTION_VERSION, 0, 0, 1, NULL, &t7};
    uint8_t buf[64];
    size_t n = 0;
    ok(podsync_subscription_encode(&s7, buf, sizeof buf, &n, NULL), "encode", NULL);
    podsync_store *r = replica(schema, -1);
    if (podsync_store_subscribe(r, buf, n) != PODSYNC_E_INVALID_ARGUMENT) FAIL("a subscription of an unknown table was accepted");
    podsync_store_free(r);
    refusals++;
}

static void run(const podsync_schema *schema, int config) {
    static const char *CONFIG[3] = {"plain", "zstd+xor", "small frames"};
    podsync_store_options o;
    ok(podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION), "options", NULL);
    o.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    o.tombstone_horizon = 64;  /* a replica asleep too long falls below the floor */
    if (config >= 1) o.compression_level = 1;
    if (config == 2) o.max_frame_bytes = 4096;
    podsync_store *w = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w), "writer", NULL);

    /* A first state, before any feed exists. */
    unsigned char rec[40];
    for (uint64_t k = 0; k < KEYS; k += 2) {
        for (int t = 0; t < NTABLES; t++) {
            for (uint32_t b = 0; b < TABLE_SIZE[t]; b++) rec[b] = (unsigned char)rnd();
            ok(podsync_store_put(w, TABLE_ID[t], k, rec, TABLE_SIZE[t]), "put", w);
        }
    }
    size_t n = 0;
    ok(podsync_store_flush(w, &n), "flush", w);
    /* Pending writes when the feeds are made: the feeds start from the flushed state. */
    for (int t = 0; t < NTABLES; t++) {
        memset(rec, 0xEE, sizeof rec);
        ok(podsync_store_put(w, TABLE_ID[t], 1, rec, TABLE_SIZE[t]), "put", w);
        ok(podsync_store_delete(w, TABLE_ID[t], 2), "delete", w);
    }

    podsync_store *feed[NSUBS], *live[NSUBS], *lossy[NSUBS], *late[NSUBS], *sleeper[NSUBS];
    for (int s = 0; s < NSUBS; s++) {
        ok(podsync_store_feed(w, sub_bytes[s], sub_size[s], &feed[s]), "feed", w);
        if (info_of(feed[s]).state_version != info_of(w).state_version) FAIL("a new feed is not at the writer's version");
        if (get(feed[s], 0, 1) && get(feed[s], 0, 1)[0] == 0xEE) FAIL("a new feed holds a pending write");
        podsync_store *again = NULL;
        ok(podsync_store_feed(w, sub_bytes[s], sub_size[s], &again), "feed", w);
        if (again != feed[s]) FAIL("the same subscription gave two feeds");
        podsync_store_free(again);  /* one reference left */
        const uint8_t *d = NULL;
        size_t size = 0;
        uint64_t h = 0;
        ok(podsync_store_subscription(feed[s], &d, &size, &h), "subscription", feed[s]);
        if (size != sub_size[s] || memcmp(d, sub_bytes[s], size) != 0 || h != sub_hash[s]) FAIL("the feed's subscription is not the one asked for");
        live[s] = replica(schema, s);
        lossy[s] = replica(schema, s);
        sleeper[s] = replica(schema, s);
        late[s] = NULL;
        for (podsync_store **r = (podsync_store *[]){live[s], lossy[s], sleeper[s]}, **e = r + 3; r < e; r++) {
            ok(podsync_store_snapshot(feed[s], &n), "snapshot", feed[s]);
            apply_outbox(*r, feed[s], n, "first snapshot");
        }
    }
    podsync_store *whole = replica(schema, -1);
    ok(podsync_store_snapshot(w, &n), "snapshot", w);
    apply_outbox(whole, w, n, "whole snapshot");
    /* The replica of the whole stream is a relay too: its feed of RANGES serves rsub. */
    podsync_store *rfeed = NULL, *rsub = replica(schema, RANGES);
    ok(podsync_store_feed(whole, sub_bytes[RANGES], sub_size[RANGES], &rfeed), "feed (relay)", whole);
    ok(podsync_store_snapshot(rfeed, &n), "snapshot (relay feed)", rfeed);
    apply_outbox(rsub, rfeed, n, "relay snapshot");

    /* Refusals of the roles. */
    if (podsync_store_put(feed[0], 1, 5, rec, 40) != PODSYNC_E_WRONG_ROLE) FAIL("a put on a feed was accepted");
    if (podsync_store_delete(feed[0], 1, 0) != PODSYNC_E_WRONG_ROLE) FAIL("a delete on a feed was accepted");
    podsync_store *bad = NULL;
    if (podsync_store_feed(feed[0], sub_bytes[1], sub_size[1], &bad) != PODSYNC_E_WRONG_ROLE || bad) FAIL("a feed served a feed");
    if (podsync_store_feed(live[0], sub_bytes[1], sub_size[1], &bad) != PODSYNC_E_WRONG_ROLE || bad) FAIL("a subscribed replica served a feed");
    if (podsync_store_subscribe(whole, sub_bytes[0], sub_size[0]) != PODSYNC_E_INVALID_ARGUMENT) FAIL("a replica holding state subscribed");
    if (podsync_store_subscribe(live[0], sub_bytes[1], sub_size[1]) != PODSYNC_E_INVALID_ARGUMENT) FAIL("a replica subscribed twice");
    if (podsync_store_subscribe(w, sub_bytes[1], sub_size[1]) != PODSYNC_E_WRONG_ROLE) FAIL("a writer subscribed");
    refusals += 7;

    podsync_store *transient = NULL;  /* a feed released mid-run */
    for (int tick = 1; tick <= TICKS; tick++) {
        /* Changes: puts of new values, unchanged rewrites, deletes. */
        int changes = 1 + (int)(rnd() % 60);
        for (int c = 0; c < changes; c++) {
            int t = (int)(rnd() % NTABLES);
            uint64_t key = rnd() % KEYS;
            uint64_t op = rnd() % 10;
            if (op < 2) {
                podsync_store_delete(w, TABLE_ID[t], key);
            } else if (op < 3 && get(w, t, key)) {
                memcpy(rec, get(w, t, key), TABLE_SIZE[t]);
                ok(podsync_store_put(w, TABLE_ID[t], key, rec, TABLE_SIZE[t]), "put", w);
            } else {
                for (uint32_t b = 0; b < TABLE_SIZE[t]; b++) rec[b] = (unsigned char)(b < 4 ? rnd() : (uint64_t)tick);
                ok(podsync_store_put(w, TABLE_ID[t], key, rec, TABLE_SIZE[t]), "put", w);
            }
        }
        ok(podsync_store_flush(w, &n), "flush", w);
        batch whole_frames;
        take_outbox(w, n, &whole_frames);
        if (tick == 120) {
            /* The relay misses a tick, then gets a snapshot: its feed is rebuilt from it. */
        } else if (tick == 121) {
            ok(podsync_store_snapshot(w, &n), "snapshot", w);
            apply_outbox(whole, w, n, "relay snapshot");
        } else {
            for (size_t i = 0; i < whole_frames.count; i++) ok(podsync_store_apply(whole, whole_frames.data[i], whole_frames.size[i], NULL), "apply (whole)", whole);
        }
        ok(podsync_store_flush(rfeed, &n), "flush (relay feed)", rfeed);
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = NULL;
            size_t size = 0;
            ok(podsync_store_frame(rfeed, i, &p, &size), "frame", rfeed);
            int32_t st = podsync_store_apply(rsub, p, size, NULL);
            if (st == PODSYNC_GAP) catch_up(rsub, rfeed);
            else if (st < 0) FAIL("relay subscriber: %s (%s)", podsync_status_name(st), podsync_store_errmsg(rsub));
        }

        if (tick == 50) {
            /* A second reference to a feed, released later: the feed keeps following. */
            ok(podsync_store_feed(w, sub_bytes[RANGES], sub_size[RANGES], &transient), "feed", w);
            /* A feed of its own, whose only reference goes at once: the writer lets it go. */
            podsync_subscription_table t2 = {2, 0, NULL};
            podsync_subscription only2 = {PODSYNC_SUBSCRIPTION_VERSION, 0, 0, 1, NULL, &t2};
            uint8_t buf[64];
            size_t size = 0;
            ok(podsync_subscription_encode(&only2, buf, sizeof buf, &size, NULL), "encode", NULL);
            podsync_store *gone = NULL;
            ok(podsync_store_feed(w, buf, size, &gone), "feed", w);
            if (count_of(gone, 0) != 0 || count_of(gone, 1) != count_of(w, 1)) FAIL("a table-2 feed does not hold table 2");
            podsync_store_free(gone);
        }
        if (tick == 80) {
            podsync_store_free(transient);
            transient = NULL;
        }
        int asleep = tick > 100 && tick <= 180;  /* the lossy replicas miss 80 versions */

        for (int s = 0; s < NSUBS; s++) {
            if (podsync_store_flush_due(feed[s]) == PODSYNC_FLUSH_DUE || tick % 7 == 0) {
                uint64_t before = info_of(feed[s]).state_version;
                ok(podsync_store_flush(feed[s], &n), "flush (feed)", feed[s]);
                if (n > 0 && info_of(feed[s]).state_version != info_of(w).state_version) FAIL("a feed's flush did not reach the writer's version");
                if (n == 0 && info_of(feed[s]).state_version != before) FAIL("a feed's empty flush moved its version");
                if (podsync_store_flush_due(feed[s]) != PODSYNC_OK) FAIL("a feed is due right after its flush");
                batch b;
                take_outbox(feed[s], n, &b);
                for (size_t i = 0; i < b.count; i++) {
                    frames_sent++;
                    int32_t st = podsync_store_apply(live[s], b.data[i], b.size[i], NULL);
                    if (st != PODSYNC_OK) FAIL("live %s: %s (%s)", SUB_NAME[s], podsync_status_name(st), podsync_store_errmsg(live[s]));
                    if (!asleep && rnd() % 10 >= 3) {
                        st = podsync_store_apply(lossy[s], b.data[i], b.size[i], NULL);
                        if (st == PODSYNC_GAP) catch_up(lossy[s], feed[s]);
                        else if (st < 0) FAIL("lossy %s: %s (%s)", SUB_NAME[s], podsync_status_name(st), podsync_store_errmsg(lossy[s]));
                    }
                    if (late[s]) {
                        st = podsync_store_apply(late[s], b.data[i], b.size[i], NULL);
                        if (st == PODSYNC_GAP) catch_up(late[s], feed[s]);
                        else if (st < 0) FAIL("late %s: %s (%s)", SUB_NAME[s], podsync_status_name(st), podsync_store_errmsg(late[s]));
                    }
                    /* Frames for other parts of the stream are refused, nothing changed. */
                    if (tick % 10 == 0 && i == 0) {
                        expect_refused(whole, b.data[i], b.size[i], PODSYNC_E_NOT_SUBSCRIBED, "a feed frame to a replica of the whole stream");
                        expect_refused(live[(s + 1) % NSUBS], b.data[i], b.size[i], PODSYNC_E_NOT_SUBSCRIBED, "another subscription's frame");
                    }
                }
                drop(&b);
            }
        }
        if (tick % 10 == 0 && whole_frames.count > 0) expect_refused(live[RANGES], whole_frames.data[0], whole_frames.size[0], PODSYNC_E_NOT_SUBSCRIBED, "a whole-stream frame to a subscriber");
        drop(&whole_frames);

        if (tick == 60) {
            /* Late joiners: chunked snapshots of the feeds, 2 KiB a chunk. */
            for (int s = 0; s < NSUBS; s++) {
                late[s] = replica(schema, s);
                podsync_snapshot *snap = NULL;
                ok(podsync_snapshot_begin(feed[s], 2048, &snap), "snapshot_begin", feed[s]);
                const uint8_t *data = NULL;
                size_t size = 0;
                int32_t st;
                int chunks = 0;
                while ((st = podsync_snapshot_next(snap, &data, &size)) == PODSYNC_OK) {
                    int32_t a = podsync_store_apply(late[s], data, size, NULL);
                    if (a < 0) FAIL("late %s: chunk: %s (%s)", SUB_NAME[s], podsync_status_name(a), podsync_store_errmsg(late[s]));
                    chunks++;
                }
                ok(st, "snapshot_next", feed[s]);
                if (chunks < 2) FAIL("late %s: the snapshot came in %d chunk(s)", SUB_NAME[s], chunks);
                if (digest_of(late[s]) != digest_of(feed[s])) FAIL("late %s: the chunked snapshot did not give the feed's state", SUB_NAME[s]);
                podsync_snapshot_free(snap);
            }
        }
        if (tick % 25 == 0) {
            /* Everyone caught up: the lossy ones ask, the sleepers reconcile. */
            for (int s = 0; s < NSUBS; s++) {
                if (!asleep && info_of(lossy[s]).state_version != info_of(feed[s]).state_version) catch_up(lossy[s], feed[s]);
                heal(sleeper[s], feed[s]);
                /* A summary of another subscription is refused by the feed. */
                size_t m = 0, size = 0;
                const uint8_t *p = NULL;
                ok(podsync_store_summary(sleeper[(s + 1) % NSUBS], 0, &m), "summary", sleeper[s]);
                ok(podsync_store_frame(sleeper[(s + 1) % NSUBS], 0, &p, &size), "frame", sleeper[s]);
                if (podsync_store_reconcile(feed[s], p, size, &m) != PODSYNC_E_NOT_SUBSCRIBED) FAIL("a feed answered another subscription's summary");
                if (podsync_store_reconcile(w, p, size, &m) != PODSYNC_E_NOT_SUBSCRIBED) FAIL("the writer answered a subscriber's summary");
                refusals += 2;
            }
            check_set("live", live, w, feed);
            if (tick != 120) {
                check_records_are_writers("relay subscriber", rsub, w, RANGES);
                if (count_of(rsub, 0) != count_of(live[RANGES], 0) || count_of(rsub, 1) != 0) FAIL("relay subscriber: holds %zu records, the writer's feed's subscriber %zu", count_of(rsub, 0), count_of(live[RANGES], 0));
                if (digest_of(rsub) != digest_of(feed[RANGES]) || info_of(rsub).state_version != info_of(feed[RANGES]).state_version)
                    FAIL("relay subscriber: digest or version differs from the writer's feed");
                relay_checks++;
            }
            if (!asleep) check_set("lossy", lossy, w, feed);
            check_set("sleeper", sleeper, w, feed);
            if (late[0]) check_set("late", late, w, feed);
        }
    }

    if (digest_of(whole) != digest_of(w)) FAIL("the replica of the whole stream differs from the writer");
    podsync_store_free(rfeed);
    podsync_store_free(rsub);
    if (snapshots == 0) FAIL("no replica fell below a feed's catch-up floor");

    /* A feed outliving its writer keeps its state and serves it. */
    uint64_t d = digest_of(feed[RANGES]);
    podsync_store_free(w);
    if (digest_of(feed[RANGES]) != d) FAIL("a feed changed when its writer went");
    ok(podsync_store_flush(feed[RANGES], &n), "flush (orphan feed)", feed[RANGES]);
    if (n != 0) FAIL("an orphan feed produced %zu frames", n);
    podsync_store *r = replica(schema, RANGES);
    ok(podsync_store_snapshot(feed[RANGES], &n), "snapshot", feed[RANGES]);
    apply_outbox(r, feed[RANGES], n, "orphan snapshot");
    if (digest_of(r) != d) FAIL("an orphan feed's snapshot does not give its state");
    podsync_store_free(r);

    for (int s = 0; s < NSUBS; s++) {
        podsync_store_free(feed[s]);
        podsync_store_free(live[s]);
        podsync_store_free(lossy[s]);
        podsync_store_free(late[s]);
        podsync_store_free(sleeper[s]);
    }
    podsync_store_free(whole);
    printf("subscriptions: %-12s ok\n", CONFIG[config]);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) rng_state = strtoull(argv[2], NULL, 10);
    podsync_schema *schema = make_schema();
    encode_subscriptions();
    hostile_encodings(schema);
    for (int config = 0; config < 3; config++) run(schema, config);
    podsync_schema_free(schema);
    printf("subscriptions: %ld checks of every replica set, %ld of a relay's subscriber, %ld frames, %ld catch-ups, %ld snapshots, %ld heals, %ld refusals, %d failures\n",
           checks, relay_checks, frames_sent, catchups, snapshots, heals, refusals, failures);
    return failures ? 1 : 0;
}
