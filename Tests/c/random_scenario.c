/*
 * random_scenario.c — a deterministic randomized end-to-end test of the PodSync C ABI.
 *
 * One writer and two replicas. 100,000 random operations (puts, deletes, put_many/delete_many
 * batches, reads, flushes, snapshots, catch-ups, replica re-creations) over a schema of two tables.
 * Every frame the writer flushes goes through a simulated network that drops (~5%), duplicates
 * (~5%) and delays/reorders frames on their way to each replica, and now and then cuts one replica
 * off for a few hundred operations. Replicas heal each GAP with podsync_store_delta_since() from
 * the writer or from the other replica (or with a snapshot when the source answers
 * SNAPSHOT_REQUIRED). Snapshots also travel through the lossy network (late ones become STALE).
 *
 * An independent model in plain C (a hash of the expected last value per key, plus the state digest
 * of docs/FORMAT.md computed with libxxhash) is checked against the writer; the writer's frames are
 * checked against the batch the model expects (per-key coalescing); every apply outcome is checked
 * against the version rules of the header; at the end the replicas must equal the writer.
 *
 * Encoder settings: the run is cut into epochs (40 at the default op count, --epochs N to choose).
 * Each epoch has a writer of its own, a new stream with its own transform mask and zstd level; at a
 * handover the old stream is drained and healed, the new writer is loaded with the model's records
 * and flushed, and the replicas move to the new stream through its snapshot. Every replica created
 * gets a mask and level of its own too (they shape the catch-up deltas and snapshots it serves). The
 * settings rotate over masks 0..15 x levels {0, 1, -1, 3, 19}: the two modes' epochs together cover
 * all 80 combinations (a seed other than the default shifts the rotation), and the default mode
 * starts with the defaults (level 0). Each frame's codec and transforms must be ones its producer's
 * options allow. Encoded frames cannot be read in place, so a shadow replica applies every flush
 * frame in order, without loss: its records-applied count must equal the frame's changes, and after
 * each flush it must hold the model's batch key by key and the model's digest.
 *
 * Usage: random_scenario [--mode default|horizon] [--seed N] [--ops N] [--epochs N]
 *    or: random_scenario [SEED] [default|horizon]
 *   default: tombstone_horizon at its default (65536): the writer must always serve catch-up deltas.
 *   horizon: tombstone_horizon of 4 versions and 4 KiB frames (flushes split into several frames),
 *            so catch-ups after outages need SNAPSHOT_REQUIRED + a snapshot.
 * Prints a summary line and then exactly one line "N passed, M failed"; exits 1 if M > 0.
 *
 * Build: gcc -std=c99 -Wall -Wextra -Werror -O2 -Iinclude Tests/c/random_scenario.c \
 *            -L.build/release -lpodsync -lxxhash -Wl,-rpath,$PWD/.build/release -o random_scenario
 * (.ci/test builds it into .build/ci/ and runs both modes.) All clocks are manual
 * (PODSYNC_OPT_MANUAL_CLOCK, 1 ms per operation), so a seed always replays the same run.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "podsync.h"

/* ---------------------------------------------------------------------------------------------- */
/* Checks                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static unsigned long long g_passed, g_failed;

#define MAX_REPORTED_FAILURES 40

static void fail_report(int line, const char *fmt, ...);

#define CHECK(cond, ...)                              \
    do {                                              \
        if (cond) {                                   \
            g_passed++;                               \
        } else {                                      \
            g_failed++;                               \
            fail_report(__LINE__, __VA_ARGS__);       \
        }                                             \
    } while (0)

static void fail_report(int line, const char *fmt, ...) {
    if (g_failed > MAX_REPORTED_FAILURES) {
        if (g_failed == MAX_REPORTED_FAILURES + 1) fprintf(stderr, "(further failures not shown)\n");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL (random_scenario.c:%d): ", line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void die(const char *what) {
    fprintf(stderr, "fatal: %s\n", what);
    printf("%llu passed, %llu failed\n", g_passed, g_failed + 1);
    exit(1);
}

/* Checks a status against an accepted set (up to 3 values); on mismatch prints the names and the
   handle's message. Returns 1 if accepted. */
static int check_status(int line, const char *what, int32_t st, const podsync_store *store,
                        int32_t ok1, int32_t ok2, int32_t ok3) {
    if (st == ok1 || st == ok2 || st == ok3) {
        g_passed++;
        return 1;
    }
    g_failed++;
    fail_report(line, "%s returned %s (%d): %s", what, podsync_status_name(st), (int)st,
                store ? podsync_store_errmsg(store) : "");
    return 0;
}
#define EXPECT_ST(what, st, store, a) check_status(__LINE__, what, st, store, a, a, a)
#define EXPECT_ST2(what, st, store, a, b) check_status(__LINE__, what, st, store, a, b, b)

/* ---------------------------------------------------------------------------------------------- */
/* Deterministic PRNG (splitmix64)                                                                */
/* ---------------------------------------------------------------------------------------------- */

static uint64_t g_rng;

static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return rnd() % n; }
/* 1 with probability permille/1000. */
static int pm(unsigned permille) { return below(1000) < permille; }

/* ---------------------------------------------------------------------------------------------- */
/* Schema: table 1 = 40-byte entity record, table 7 = 16-byte record (alignment 16)               */
/* ---------------------------------------------------------------------------------------------- */

#define T1 1u
#define T7 7u
#define T1_SIZE 40u
#define T7_SIZE 16u
#define MAX_REC 40u

typedef struct entity {
    uint64_t id;
    float v[7];
    uint32_t flags;
} entity;

typedef char static_assert_entity_size[sizeof(entity) == T1_SIZE ? 1 : -1];

static uint32_t rec_size(uint32_t table) { return table == T1 ? T1_SIZE : T7_SIZE; }
static uint32_t rec_align(uint32_t table) { return table == T1 ? 8u : 16u; }
static int tix(uint32_t table) { return table == T1 ? 0 : 1; }

static podsync_schema *make_schema(void) {
    podsync_schema *schema = NULL;
    int32_t st = podsync_schema_create(&schema);
    if (st != PODSYNC_OK || !schema) die("podsync_schema_create failed");
    const podsync_field f1[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"v", PODSYNC_TYPE_F32, 8, 7, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    const podsync_field f7[] = {
        {"a", PODSYNC_TYPE_U64, 0, 1, 0},
        {"b", PODSYNC_TYPE_U32, 8, 1, 0},
        {"c", PODSYNC_TYPE_I32, 12, 1, 0},
    };
    st = podsync_schema_add_table(schema, T7, T7_SIZE, 16, f7, 3);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "add_table 7: %s %s\n", podsync_status_name(st), podsync_schema_errmsg(schema));
        die("podsync_schema_add_table failed");
    }
    st = podsync_schema_add_table(schema, T1, T1_SIZE, 8, f1, 3);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "add_table 1: %s %s\n", podsync_status_name(st), podsync_schema_errmsg(schema));
        die("podsync_schema_add_table failed");
    }
    return schema;
}

/* ---------------------------------------------------------------------------------------------- */
/* The independent model: open-addressing hash of (table, key) -> expected record                 */
/* ---------------------------------------------------------------------------------------------- */

#define MODEL_CAP (1u << 18)

typedef struct entry {
    uint64_t key;
    uint32_t table;      /* 0 = unused slot */
    uint8_t live;        /* the record exists now (writer state, pending writes included) */
    uint8_t flushed;     /* the record existed at the last flush */
    uint8_t dirty;       /* changed since the last flush (in dirty_list) */
    uint8_t seen;        /* seen in the frames of the current flush */
    unsigned char val[MAX_REC];
} entry;

static entry *g_model;
static uint32_t *g_dirty;
static size_t g_dirty_n, g_model_used;
static size_t g_live[2];
static uint64_t g_model_digest;    /* digest of the live records (docs/FORMAT.md) */
static uint64_t g_flushed_digest;  /* model digest at the last flush */

static uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* docs/FORMAT.md "State digest": h(table_id, key, record). */
static uint64_t record_hash(uint32_t table, uint64_t key, const void *rec) {
    uint64_t seed = fmix64(key ^ ((uint64_t)table * 0x9E3779B97F4A7C15ull));
    return XXH3_64bits_withSeed(rec, rec_size(table), seed);
}

static entry *model_find(uint32_t table, uint64_t key, int create) {
    uint64_t h = fmix64(key ^ ((uint64_t)table << 40) ^ 0x1234567ull);
    uint32_t i = (uint32_t)h & (MODEL_CAP - 1);
    for (;;) {
        entry *e = &g_model[i];
        if (e->table == 0) {
            if (!create) return NULL;
            if (g_model_used * 10 > (size_t)MODEL_CAP * 7) die("model hash table full");
            g_model_used++;
            e->table = table;
            e->key = key;
            return e;
        }
        if (e->table == table && e->key == key) return e;
        i = (i + 1) & (MODEL_CAP - 1);
    }
}

static void model_mark_dirty(entry *e) {
    if (!e->dirty) {
        e->dirty = 1;
        g_dirty[g_dirty_n++] = (uint32_t)(e - g_model);
    }
}

static void model_put(uint32_t table, uint64_t key, const void *rec) {
    entry *e = model_find(table, key, 1);
    if (e->live) g_model_digest -= record_hash(table, key, e->val);
    else g_live[tix(table)]++;
    memcpy(e->val, rec, rec_size(table));
    e->live = 1;
    g_model_digest += record_hash(table, key, e->val);
    model_mark_dirty(e);
}

/* Returns 1 if a record was deleted. */
static int model_delete(uint32_t table, uint64_t key) {
    entry *e = model_find(table, key, 0);
    if (!e || !e->live) return 0;
    g_model_digest -= record_hash(table, key, e->val);
    e->live = 0;
    g_live[tix(table)]--;
    model_mark_dirty(e);
    return 1;
}

/* Changes the next flush must send: dirty keys except those created and deleted in the batch. */
static size_t model_expected_changes(void) {
    size_t n = 0;
    for (size_t i = 0; i < g_dirty_n; i++) {
        const entry *e = &g_model[g_dirty[i]];
        if (e->live || e->flushed) n++;
    }
    return n;
}

static void model_flushed(void) {
    for (size_t i = 0; i < g_dirty_n; i++) {
        entry *e = &g_model[g_dirty[i]];
        e->dirty = 0;
        e->seen = 0;
        e->flushed = e->live;
    }
    g_dirty_n = 0;
    g_flushed_digest = g_model_digest;
}

/* ---------------------------------------------------------------------------------------------- */
/* Run state                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

typedef struct counters {
    unsigned long long puts, put_manys, put_many_records, deletes, deletes_found, delete_manys,
        delete_many_deleted, gets, flushes, flush_due, empty_flushes, frames, frame_bytes,
        snapshots_sent, recreations, peer_catchups;
    unsigned long long handovers, encoded_frames, compressed_frames, plain_frames, fields_frames, ranked_frames;
    unsigned long long sent, dropped, duplicated, delayed, swapped, delivered, outages, outage_dropped;
    unsigned long long ap_ok, ap_dup, ap_gap, ap_stale;
    unsigned long long heal_writer, heal_peer, snapshot_required, heal_bytes;
} counters;

static counters C;
static podsync_store_options g_opts;
static podsync_schema *g_schema;
static podsync_store *g_writer;
static podsync_store *g_rep[2];
static uint64_t g_version;        /* the writer's expected version */
static uint64_t g_stream;         /* the writer's stream id (learned from the first frame) */
static uint64_t g_schema_hash;
static uint64_t g_last_sequence;  /* sequence of the last flush frame */
static uint64_t g_now_ms;
static int g_horizon_mode;

/* Encoder settings (see the top): combination c is level CODEC_LEVELS[c % 5], transforms c / 5. */
static const int32_t CODEC_LEVELS[] = {0, 1, -1, 3, 19};
#define CODEC_COMBOS 80u
#define DEFAULT_SEED 20240601u
static podsync_store_options g_wopts;     /* the current writer's options */
static podsync_store_options g_ropts[2];  /* each replica's options */
static podsync_store *g_shadow;           /* applies every flush frame, in order, without loss */
static unsigned g_epoch, g_epochs, g_combo_start, g_replica_combos;
static int g_handover_flush;              /* the flush that loads a new writer: not sent */

static void use_combo(podsync_store_options *o, unsigned combo) {
    o->compression_level = CODEC_LEVELS[combo % 5];
    /* FIELDS and KEY_RANKS ride with KEY_GAPS, so they meet XOR and the lack of it (format-2 epochs
       use them). */
    o->transforms = combo / 5 | (combo / 5 & PODSYNC_TRANSFORM_KEY_GAPS ? PODSYNC_TRANSFORM_FIELDS | PODSYNC_TRANSFORM_KEY_RANKS : 0);
}
/* Epoch e's writer; 33 is coprime to 80, and epochs e and e + 40 never share a combination. */
static unsigned writer_combo(unsigned epoch) { return (g_combo_start + 33u * epoch) % CODEC_COMBOS; }
/* The next replica's: any but level 19 (the writers cover level 19 with every mask, for catch-up
   deltas and snapshots too; replicas at level 19 would double the run's time). */
static unsigned replica_combo(void) {
    unsigned c;
    do c = (g_combo_start + 7u + 47u * g_replica_combos++) % CODEC_COMBOS;
    while (CODEC_LEVELS[c % 5] == 19);
    return c;
}

static unsigned char *xalloc64(size_t size) {
    void *p = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0 || !p) die("out of memory");
    return p;
}

static uint64_t store_version(podsync_store *s) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    int32_t st = podsync_store_info_get(s, &info);
    if (st != PODSYNC_OK) die("podsync_store_info_get failed");
    return info.state_version;
}

static uint64_t store_digest(podsync_store *s) {
    uint64_t d = 0;
    int32_t st = podsync_store_digest(s, &d);
    EXPECT_ST("podsync_store_digest", st, s, PODSYNC_OK);
    return d;
}

static podsync_store *new_store_with(uint32_t role, const podsync_store_options *opts) {
    podsync_store *s = NULL;
    int32_t st = podsync_store_create(g_schema, role, opts, &s);
    if (st != PODSYNC_OK || !s) {
        fprintf(stderr, "podsync_store_create: %s\n", podsync_status_name(st));
        die("podsync_store_create failed");
    }
    return s;
}

static podsync_store *new_store(uint32_t role) { return new_store_with(role, &g_opts); }

/* A new replica r with encoder settings of its own. */
static podsync_store *new_replica(int r) {
    g_ropts[r] = g_opts;
    use_combo(&g_ropts[r], replica_combo());
    return new_store_with(PODSYNC_ROLE_REPLICA, &g_ropts[r]);
}

static const podsync_store_options *options_of(const podsync_store *s) {
    if (s == g_rep[0]) return &g_ropts[0];
    if (s == g_rep[1]) return &g_ropts[1];
    return &g_wopts;
}

/* The frame's codec and transforms are ones the producer's options allow: nothing without
   compression; XOR only in flush frames; COLUMNS only with TRANSPOSE; no dictionary (none is
   trained here). Counts the frame. */
static int codec_allowed(const podsync_frame_info *fi, const podsync_store_options *o, int flush_frame) {
    uint32_t allowed = o->compression_level == 0 ? 0u : o->transforms;
    if (!flush_frame) allowed &= ~PODSYNC_TRANSFORM_XOR;
    if (!(allowed & PODSYNC_TRANSFORM_TRANSPOSE)) allowed &= ~PODSYNC_TRANSFORM_COLUMNS;
    int codec_ok = o->compression_level == 0 ? fi->codec == PODSYNC_CODEC_NONE : fi->codec <= PODSYNC_CODEC_ZSTD;
    if (fi->codec != PODSYNC_CODEC_NONE || fi->transforms != 0) C.encoded_frames++;
    if (fi->transforms & PODSYNC_TRANSFORM_FIELDS) C.fields_frames++;
    if (fi->transforms & PODSYNC_TRANSFORM_KEY_RANKS) C.ranked_frames++;
    else C.plain_frames++;
    if (fi->codec == PODSYNC_CODEC_ZSTD) C.compressed_frames++;
    return codec_ok && (fi->transforms & ~allowed) == 0 && fi->dictionary_id == 0;
}
#define CHECK_CODEC(fi, o, flush_frame, what)                                                                \
    CHECK(codec_allowed(fi, o, flush_frame), "%s: codec %u transforms 0x%x dictionary %u, but the producer has " \
          "compression_level %d transforms 0x%x", what, (fi)->codec, (fi)->transforms, (fi)->dictionary_id,      \
          (int)(o)->compression_level, (o)->transforms)

/* ---------------------------------------------------------------------------------------------- */
/* Applying a frame to a replica, with the outcome predicted from the header's version rules      */
/* ---------------------------------------------------------------------------------------------- */

static void heal(int r, uint64_t since, int depth);

static const char *src_name(int src) { return src == 0 ? "network" : src == 1 ? "heal" : "peer"; }

/* Applies one frame to replica r. src: 0 = network, 1 = catch-up/snapshot from a source store. */
static int32_t replica_apply(int r, const uint8_t *data, size_t size, int src, int depth) {
    podsync_store *rep = g_rep[r];
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    int32_t st = podsync_frame_peek(data, size, &fi);
    if (!EXPECT_ST("podsync_frame_peek", st, NULL, PODSYNC_OK)) return st;

    podsync_store_info before = PODSYNC_STORE_INFO_INIT;
    if (podsync_store_info_get(rep, &before) != PODSYNC_OK) die("info_get");
    uint64_t R = before.state_version;
    /* A snapshot of another stream always applies (a handover moves the replicas to a new writer). */
    int fresh = before.stream_id == 0 || (before.stream_id != fi.stream_id && (fi.flags & PODSYNC_FRAME_RESET));

    /* Outcome the header's rules predict. */
    int is_reset = (fi.flags & PODSYNC_FRAME_RESET) != 0;
    int32_t expect, expect_alt;
    if (is_reset) {
        expect = fi.state_version < R && !fresh ? PODSYNC_STALE : PODSYNC_OK;
        expect_alt = fi.state_version == R && !fresh ? PODSYNC_DUPLICATE : expect;
    } else if (fi.state_version <= R) {
        expect = expect_alt = PODSYNC_DUPLICATE;
    } else if (fi.base_version > R) {
        expect = expect_alt = PODSYNC_GAP;
    } else {
        expect = expect_alt = PODSYNC_OK;
    }
    /* The chunks of a chunked snapshot or catch-up delta, delivered in order, are staged until the
       last one, which is classified as the whole frame would be. */
    if ((fi.flags & PODSYNC_FRAME_CHUNK) && !(fi.chunk_flags & PODSYNC_CHUNK_LAST)) {
        if (expect == PODSYNC_OK || expect == PODSYNC_GAP) expect = PODSYNC_CHUNK_STAGED;
        if (expect_alt == PODSYNC_OK || expect_alt == PODSYNC_GAP) expect_alt = PODSYNC_CHUNK_STAGED;
    }

    uint64_t v = 0xdeadbeef;
    st = podsync_store_apply(rep, data, size, &v);
    if (st < 0) {
        g_failed++;
        fail_report(__LINE__,
                    "replica %d apply (%s, %s frame base %" PRIu64 " -> %" PRIu64 ", replica at %" PRIu64
                    "): %s (%d): %s",
                    r, src_name(src), is_reset ? "RESET" : "delta", fi.base_version, fi.state_version, R,
                    podsync_status_name(st), (int)st, podsync_store_errmsg(rep));
        return st;
    }
    /* Chunks through the lossy network arrive lost, late, twice or swapped: the staging rules
       (docs/FORMAT.md, rules 1-5; Tests/c/chunked_scenario.c models them) decide among these, and
       the checks below hold for each. */
    int lossy_chunk = src == 0 && (fi.flags & PODSYNC_FRAME_CHUNK);
    if (st == expect || st == expect_alt ||
        (lossy_chunk && (st == PODSYNC_OK || st == PODSYNC_STALE || st == PODSYNC_DUPLICATE ||
                         st == PODSYNC_CHUNK_STAGED || st == PODSYNC_CHUNK_GAP))) {
        g_passed++;
    } else {
        g_failed++;
        fail_report(__LINE__,
                    "replica %d apply (%s, %s frame base %" PRIu64 " -> %" PRIu64 ", replica at %" PRIu64
                    "): got %s, the version rules say %s",
                    r, src_name(src), is_reset ? "RESET" : "delta", fi.base_version, fi.state_version, R,
                    podsync_status_name(st), podsync_status_name(expect));
    }

    switch (st) {
    case PODSYNC_OK:
        C.ap_ok++;
        CHECK(v == fi.state_version, "replica %d apply OK: version_out %" PRIu64 ", frame state_version %" PRIu64,
              r, v, fi.state_version);
        if (fi.flags & PODSYNC_FRAME_HAS_DIGEST) {
            uint64_t d = store_digest(rep);
            CHECK(d == fi.state_digest, "replica %d digest %016" PRIx64 " != frame's %016" PRIx64, r, d,
                  fi.state_digest);
        }
        break;
    case PODSYNC_DUPLICATE:
        C.ap_dup++;
        CHECK(v == R, "replica %d DUPLICATE moved version %" PRIu64 " -> %" PRIu64, r, R, v);
        break;
    case PODSYNC_STALE:
        C.ap_stale++;
        CHECK(v == R, "replica %d STALE moved version %" PRIu64 " -> %" PRIu64, r, R, v);
        break;
    case PODSYNC_CHUNK_STAGED:
    case PODSYNC_CHUNK_GAP:
        CHECK(v == R && store_version(rep) == R && store_digest(rep) == before.digest,
              "replica %d %s changed its visible state", r, podsync_status_name(st));
        break;
    case PODSYNC_GAP:
        C.ap_gap++;
        CHECK(v == R, "replica %d GAP moved version %" PRIu64 " -> %" PRIu64, r, R, v);
        if (src == 0) heal(r, v, depth + 1);
        break;
    default:
        g_failed++;
        fail_report(__LINE__, "replica %d apply returned unexpected %s", r, podsync_status_name(st));
    }
    return st;
}

/* Asks `src` for the frames that bring a store at `since` up to src's version: delta_since (one
   frame), or a snapshot when src answers SNAPSHOT_REQUIRED (one frame, or the chunks of a chunked
   snapshot when it exceeds max_frame_bytes). Checks the answer against src's catchup_floor.
   Returns how many frames src's outbox holds (valid until the next frame-producing call on src),
   0 on failure. */
static size_t catchup_frames(podsync_store *src, int src_is_writer, uint64_t since) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    if (podsync_store_info_get(src, &info) != PODSYNC_OK) die("info_get");
    size_t n = 99;
    int32_t st = podsync_store_delta_since(src, since, &n);
    if (since == 0) {
        EXPECT_ST2("delta_since(0)", st, src, PODSYNC_OK, PODSYNC_SNAPSHOT_REQUIRED);
    } else if (since < info.catchup_floor) {
        EXPECT_ST("delta_since(v < catchup_floor)", st, src, PODSYNC_SNAPSHOT_REQUIRED);
    } else {
        EXPECT_ST("delta_since(v >= catchup_floor)", st, src, PODSYNC_OK);
    }
    if (st == PODSYNC_SNAPSHOT_REQUIRED) {
        C.snapshot_required++;
        if (src_is_writer && !g_horizon_mode)
            CHECK(info.state_version - since >= 65536,
                  "writer answered SNAPSHOT_REQUIRED for since %" PRIu64 " at version %" PRIu64
                  " with the default tombstone horizon (65536)",
                  since, info.state_version);
        n = 99;
        st = podsync_store_snapshot(src, &n);
        if (!EXPECT_ST("podsync_store_snapshot", st, src, PODSYNC_OK)) return 0;
    } else if (st != PODSYNC_OK) {
        return 0;
    }
    CHECK(n >= 1, "catch-up since %" PRIu64 " from version %" PRIu64 " produced %zu frames", since, info.state_version, n);
    for (size_t k = 0; k < n; k++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        st = podsync_store_frame(src, k, &data, &size);
        if (!EXPECT_ST("podsync_store_frame", st, src, PODSYNC_OK)) return 0;
        CHECK(((uintptr_t)data & 63) == 0, "catch-up frame not 64-byte aligned");
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        st = podsync_frame_validate(data, size, &fi);
        EXPECT_ST("podsync_frame_validate(catch-up)", st, NULL, PODSYNC_OK);
        CHECK(n == 1 || ((fi.flags & PODSYNC_FRAME_CHUNK) && fi.chunk_index == k &&
                         ((fi.chunk_flags & PODSYNC_CHUNK_LAST) != 0) == (k == n - 1)),
              "catch-up frame %zu of %zu is not chunk %zu of a chunked snapshot", k, n, k);
        if (!(fi.flags & PODSYNC_FRAME_CHUNK)) CHECK_CODEC(&fi, options_of(src), 0, "catch-up frame");
        CHECK(fi.state_version == info.state_version,
              "catch-up frame state_version %" PRIu64 " != source version %" PRIu64, fi.state_version,
              info.state_version);
        C.heal_bytes += size;
    }
    return n;
}

/* Replica r reported GAP at version `since`: catch it up from the writer or, sometimes, from the
   other replica if that one is ahead. */
static void heal(int r, uint64_t since, int depth) {
    if (depth > 4) {
        CHECK(0, "heal recursion too deep for replica %d", r);
        return;
    }
    int o = 1 - r;
    podsync_store *src = g_writer;
    int from_writer = 1;
    if (pm(250) && store_version(g_rep[o]) > since) {
        src = g_rep[o];
        from_writer = 0;
    }
    size_t n = catchup_frames(src, from_writer, since);
    if (n == 0) return;
    if (from_writer) C.heal_writer++;
    else C.heal_peer++;
    uint64_t target = store_version(src);
    int32_t st = PODSYNC_OK;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *frame = NULL;
        size_t size = 0;
        if (podsync_store_frame(src, k, &frame, &size) != PODSYNC_OK) die("podsync_store_frame");
        st = replica_apply(r, frame, size, from_writer ? 1 : 2, depth);
        if (k < n - 1)
            CHECK(st == PODSYNC_CHUNK_STAGED, "replica %d heal chunk %zu of %zu: %s", r, k, n, podsync_status_name(st));
    }
    CHECK(st == PODSYNC_OK, "replica %d heal from %s since %" PRIu64 ": %s", r, from_writer ? "writer" : "peer",
          since, podsync_status_name(st));
    uint64_t now = store_version(g_rep[r]);
    CHECK(now == target, "replica %d after heal at %" PRIu64 ", source at %" PRIu64, r, now, target);
}

/* ---------------------------------------------------------------------------------------------- */
/* The lossy network                                                                              */
/* ---------------------------------------------------------------------------------------------- */

typedef struct msg {
    unsigned char *data;
    size_t size;
    uint64_t ready;  /* op tick at which it may be delivered */
} msg;

typedef struct queue {
    msg *v;
    size_t n, cap;
} queue;

static queue g_net[2];
static uint64_t g_tick;
static uint64_t g_offline_until[2]; /* a replica is cut off (every frame to it lost) until then */

static void enqueue(int r, const uint8_t *data, size_t size) {
    queue *q = &g_net[r];
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 256;
        q->v = realloc(q->v, q->cap * sizeof(msg));
        if (!q->v) die("out of memory");
    }
    msg *m = &q->v[q->n++];
    m->data = xalloc64(size);
    memcpy(m->data, data, size);
    m->size = size;
    m->ready = g_tick;
    if (pm(150)) {
        m->ready += 1 + below(40);
        C.delayed++;
    }
}

static void net_send(const uint8_t *data, size_t size) {
    for (int r = 0; r < 2; r++) {
        C.sent++;
        if (g_tick < g_offline_until[r]) {
            C.outage_dropped++;
            continue;
        }
        if (pm(50)) {
            C.dropped++;
            continue;
        }
        enqueue(r, data, size);
        if (pm(50)) {
            C.duplicated++;
            enqueue(r, data, size);
        }
    }
}

/* Delivers replica r's ready messages (all of them if `all`), in queue order with random swaps. */
static void net_deliver(int r, int all) {
    queue *q = &g_net[r];
    if (q->n == 0) return;
    msg *ready = malloc(q->n * sizeof(msg));
    if (!ready) die("out of memory");
    size_t nr = 0, keep = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (all || q->v[i].ready <= g_tick) ready[nr++] = q->v[i];
        else q->v[keep++] = q->v[i];
    }
    q->n = keep;
    if (nr >= 2 && pm(all ? 500 : 100)) {
        size_t swaps = 1 + below(all ? nr : 2);
        for (size_t s = 0; s < swaps; s++) {
            size_t a = below(nr), b = below(nr);
            msg t = ready[a];
            ready[a] = ready[b];
            ready[b] = t;
            C.swapped++;
        }
    }
    for (size_t i = 0; i < nr; i++) {
        C.delivered++;
        replica_apply(r, ready[i].data, ready[i].size, 0, 0);
        free(ready[i].data);
    }
    free(ready);
}

/* ---------------------------------------------------------------------------------------------- */
/* Writer operations                                                                              */
/* ---------------------------------------------------------------------------------------------- */

static int g_need_flush;

static void make_record(uint32_t table, uint64_t key, unsigned char *out) {
    if (table == T1) {
        entity e;
        memset(&e, 0, sizeof e);
        e.id = key;
        for (int i = 0; i < 7; i++) e.v[i] = (float)((double)(rnd() >> 11) * 0x1.0p-53 * 2000.0 - 1000.0);
        e.flags = (uint32_t)rnd();
        memcpy(out, &e, sizeof e);
    } else {
        uint64_t a = rnd(), b = rnd();
        memcpy(out, &a, 8);
        memcpy(out + 8, &b, 8);
    }
}

static uint64_t pick_key(uint32_t table) {
    unsigned x = (unsigned)below(1000);
    if (table == T1) {
        if (x < 900) return 1 + below(5000);
        if (x < 960) return 5001 + below(100);
        if (x < 990) return rnd();
        return x & 1 ? 0 : UINT64_MAX;
    }
    if (x < 950) return below(800);
    if (x < 990) return rnd();
    return x & 1 ? 0 : UINT64_MAX;
}

static uint32_t pick_table(void) { return pm(700) ? T1 : T7; }

static void write_status(const char *what, int32_t st) {
    if (EXPECT_ST2(what, st, g_writer, PODSYNC_OK, PODSYNC_FLUSH_DUE) && st == PODSYNC_FLUSH_DUE) {
        C.flush_due++;
        g_need_flush = 1;
    }
}

static unsigned char *g_scratch;   /* records for put_many (64-byte aligned) */
static uint64_t g_keys[64];

static void op_put(void) {
    uint32_t t = pick_table();
    uint64_t key = pick_key(t);
    make_record(t, key, g_scratch);
    int32_t st = podsync_store_put(g_writer, t, key, g_scratch, rec_size(t));
    write_status("podsync_store_put", st);
    if (st >= 0) model_put(t, key, g_scratch);
    C.puts++;
}

static void op_put_many(void) {
    uint32_t t = pick_table();
    size_t n = 1 + (size_t)below(64);
    for (size_t i = 0; i < n; i++) {
        /* Sometimes repeat an earlier key of the batch: the later record must win. */
        g_keys[i] = (i > 0 && pm(60)) ? g_keys[below(i)] : pick_key(t);
        make_record(t, g_keys[i], g_scratch + i * rec_size(t));
    }
    int32_t st = podsync_store_put_many(g_writer, t, g_keys, g_scratch, n, n * rec_size(t));
    write_status("podsync_store_put_many", st);
    if (st >= 0)
        for (size_t i = 0; i < n; i++) model_put(t, g_keys[i], g_scratch + i * rec_size(t));
    C.put_manys++;
    C.put_many_records += n;
}

static void op_delete(void) {
    uint32_t t = pick_table();
    uint64_t key = pick_key(t);
    entry *e = model_find(t, key, 0);
    int exists = e && e->live;
    int32_t st = podsync_store_delete(g_writer, t, key);
    if (exists) {
        write_status("podsync_store_delete(existing)", st);
        if (st >= 0) model_delete(t, key);
        C.deletes_found++;
    } else {
        EXPECT_ST("podsync_store_delete(absent)", st, g_writer, PODSYNC_NOT_FOUND);
    }
    C.deletes++;
}

static void op_delete_many(void) {
    uint32_t t = pick_table();
    size_t n = 1 + (size_t)below(32);
    for (size_t i = 0; i < n; i++) g_keys[i] = (i > 0 && pm(50)) ? g_keys[below(i)] : pick_key(t);
    size_t expected = 0;
    for (size_t i = 0; i < n; i++) {
        entry *e = model_find(t, g_keys[i], 0);
        if (e && e->live) {
            /* count once: the model applies the deletions in order below */
            int dup = 0;
            for (size_t j = 0; j < i; j++) dup |= g_keys[j] == g_keys[i];
            if (!dup) expected++;
        }
    }
    size_t deleted = 12345;
    int32_t st = podsync_store_delete_many(g_writer, t, g_keys, n, &deleted);
    write_status("podsync_store_delete_many", st);
    if (st >= 0) {
        CHECK(deleted == expected, "delete_many deleted %zu, model expected %zu", deleted, expected);
        for (size_t i = 0; i < n; i++) model_delete(t, g_keys[i]);
    }
    C.delete_manys++;
    C.delete_many_deleted += expected;
}

static void op_get(void) {
    uint32_t t = pick_table();
    uint64_t key = pick_key(t);
    const entry *e = model_find(t, key, 0);
    const void *rec = (const void *)1;
    int32_t st = podsync_store_get(g_writer, t, key, &rec);
    if (e && e->live) {
        if (EXPECT_ST("podsync_store_get(live)", st, g_writer, PODSYNC_OK))
            CHECK(rec && memcmp(rec, e->val, rec_size(t)) == 0, "writer get(%u, %" PRIu64 ") differs from the model",
                  t, key);
    } else {
        EXPECT_ST("podsync_store_get(absent)", st, g_writer, PODSYNC_NOT_FOUND);
        CHECK(rec == NULL, "get of an absent key did not set *record_out to NULL");
    }
    C.gets++;
}

/* Checks one flushed frame against the model's batch; returns 1 if its content is as expected. */
static int check_frame_content(const uint8_t *data, size_t size, const podsync_frame_info *fi) {
    int ok = 1;
    uint32_t prev_table = 0;
    for (uint32_t s = 0; s < fi->section_count; s++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        int32_t st = podsync_frame_section_get(data, size, s, &sec);
        if (!EXPECT_ST("podsync_frame_section_get", st, NULL, PODSYNC_OK)) return 0;
        if (s > 0 && sec.table_id <= prev_table) {
            fail_report(__LINE__, "sections not in ascending table order (%u after %u)", sec.table_id, prev_table);
            ok = 0;
        }
        prev_table = sec.table_id;
        if (sec.table_id != T1 && sec.table_id != T7) {
            fail_report(__LINE__, "section of unknown table %u", sec.table_id);
            ok = 0;
            continue;
        }
        uint32_t t = sec.table_id;
        if (sec.record_size != rec_size(t)) {
            fail_report(__LINE__, "section record_size %u for table %u", sec.record_size, t);
            ok = 0;
            continue;
        }
        if (sec.put_count && ((uintptr_t)sec.records % rec_align(t) != 0 || (uintptr_t)sec.put_keys % 8 != 0)) {
            fail_report(__LINE__, "section %u: records/keys not aligned in a 64-byte aligned frame", s);
            ok = 0;
        }
        for (uint64_t i = 0; i < sec.delete_count; i++) {
            uint64_t key = sec.delete_keys[i];
            entry *e = model_find(t, key, 0);
            if (!e || !e->dirty || e->live || !e->flushed || e->seen) {
                if (ok)
                    fail_report(__LINE__,
                                "frame deletes (%u, %" PRIu64 ") but the model says dirty=%d live=%d flushed=%d seen=%d",
                                t, key, e ? e->dirty : -1, e ? e->live : -1, e ? e->flushed : -1, e ? e->seen : -1);
                ok = 0;
                continue;
            }
            e->seen = 1;
        }
        const unsigned char *recs = sec.records;
        for (uint64_t i = 0; i < sec.put_count; i++) {
            uint64_t key = sec.put_keys[i];
            entry *e = model_find(t, key, 0);
            if (!e || !e->dirty || !e->live || e->seen || memcmp(e->val, recs + i * rec_size(t), rec_size(t)) != 0) {
                if (ok)
                    fail_report(__LINE__, "frame puts (%u, %" PRIu64 ") but the model says dirty=%d live=%d seen=%d%s", t,
                                key, e ? e->dirty : -1, e ? e->live : -1, e ? e->seen : -1,
                                e && e->live && memcmp(e->val, recs + i * rec_size(t), rec_size(t)) ? " (value differs)"
                                                                                                    : "");
                ok = 0;
                continue;
            }
            e->seen = 1;
        }
    }
    return ok;
}

/* A new shadow replica from the writer's snapshot (after a handover, or a failure). */
static void resync_shadow(void) {
    podsync_store_free(g_shadow);
    g_shadow = new_store(PODSYNC_ROLE_REPLICA);
    size_t n = 0;
    const uint8_t *data = NULL;
    size_t size = 0;
    if (podsync_store_snapshot(g_writer, &n) == PODSYNC_OK && n == 1 &&
        podsync_store_frame(g_writer, 0, &data, &size) == PODSYNC_OK)
        EXPECT_ST("apply the writer's snapshot to a new shadow replica", podsync_store_apply(g_shadow, data, size, NULL),
                  g_shadow, PODSYNC_OK);
}

static void writer_flush(void) {
    size_t expected_changes = model_expected_changes();
    size_t n = 12345;
    int32_t st = podsync_store_flush(g_writer, &n);
    C.flushes++;
    g_need_flush = 0;
    if (!EXPECT_ST("podsync_store_flush", st, g_writer, PODSYNC_OK)) {
        model_flushed();
        return;
    }
    CHECK((n == 0) == (expected_changes == 0), "flush produced %zu frames for %zu expected changes", n,
          expected_changes);
    if (n == 0) C.empty_flushes++;

    size_t seen = 0;
    uint64_t encoded_changes = 0; /* changes of encoded frames, counted by the shadow replica */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        st = podsync_store_frame(g_writer, i, &data, &size);
        if (!EXPECT_ST("podsync_store_frame", st, g_writer, PODSYNC_OK)) break;
        CHECK(((uintptr_t)data & 63) == 0, "flush frame %zu not 64-byte aligned", i);
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        st = podsync_frame_validate(data, size, &fi);
        if (!EXPECT_ST("podsync_frame_validate", st, NULL, PODSYNC_OK)) {
            podsync_frame_info pi = PODSYNC_FRAME_INFO_INIT;
            if (podsync_frame_peek(data, size, &pi) == PODSYNC_OK)
                fail_report(__LINE__, "the invalid flush frame: %zu bytes, codec %u, transforms 0x%x, payload_length %" PRIu64
                            "; writer compression_level %d transforms 0x%x", size, pi.codec, pi.transforms,
                            pi.payload_length, (int)g_wopts.compression_level, g_wopts.transforms);
            continue;
        }
        if (g_stream == 0) g_stream = fi.stream_id;
        uint32_t format = g_wopts.frame_format == 2 ? 2 : 1;
        int hdr_ok = fi.frame_length == size && size % 8 == 0 && fi.format_version == format &&
                     fi.header_length >= (format == 2 ? 40u : (uint32_t)PODSYNC_FRAME_HEADER_SIZE) &&
                     !(fi.flags & PODSYNC_FRAME_RESET) && fi.base_version == g_version &&
                     fi.state_version == g_version + 1 && fi.schema_hash == g_schema_hash &&
                     fi.stream_id == g_stream && fi.sequence > g_last_sequence && fi.stream_id != 0 &&
                     ((fi.flags & PODSYNC_FRAME_HAS_DIGEST) != 0) == ((g_wopts.flags & PODSYNC_OPT_FRAME_DIGEST) != 0);
        CHECK(hdr_ok,
              "flush frame %zu header: length %" PRIu64 "/%zu flags %u base %" PRIu64 " state %" PRIu64
              " (expected %" PRIu64 " -> %" PRIu64 ") seq %" PRIu64 " (last %" PRIu64 ") stream %016" PRIx64,
              i, fi.frame_length, size, fi.flags, fi.base_version, fi.state_version, g_version, g_version + 1,
              fi.sequence, g_last_sequence, fi.stream_id);
        CHECK_CODEC(&fi, &g_wopts, 1, "flush frame");
        g_version = fi.state_version;
        g_last_sequence = fi.sequence;

        /* The shadow replica applies every flush frame in order; its count of records applied is
           the frame's number of changes (puts + deletes), encoded or not. */
        podsync_metrics m = {0};
        m.version = PODSYNC_METRICS_VERSION;
        EXPECT_ST("podsync_store_metrics(shadow)", podsync_store_metrics(g_shadow, &m), g_shadow, PODSYNC_OK);
        uint64_t applied_before = m.records_applied;
        st = podsync_store_apply(g_shadow, data, size, NULL);
        EXPECT_ST("apply a flush frame to the shadow replica", st, g_shadow, PODSYNC_OK);
        EXPECT_ST("podsync_store_metrics(shadow)", podsync_store_metrics(g_shadow, &m), g_shadow, PODSYNC_OK);
        uint64_t changes = m.records_applied - applied_before;
        int plain = fi.codec == PODSYNC_CODEC_NONE && fi.transforms == 0;
        if (plain) {
            uint64_t in_sections = 0;
            for (uint32_t s = 0; s < fi.section_count; s++) {
                podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
                if (podsync_frame_section_get(data, size, s, &sec) == PODSYNC_OK)
                    in_sections += sec.put_count + sec.delete_count;
            }
            CHECK(in_sections == changes, "plain flush frame %zu: %" PRIu64 " changes in its sections, the shadow "
                  "replica applied %" PRIu64, i, in_sections, changes);
            CHECK(check_frame_content(data, size, &fi), "flush frame %zu content does not match the model's batch", i);
        } else {
            CHECK(changes > 0, "encoded flush frame %zu applied no change", i);
            encoded_changes += changes;
        }
        if (g_wopts.max_frame_bytes && size > g_wopts.max_frame_bytes) {
            /* allowed only for a frame holding a single change */
            CHECK(changes == 1, "frame of %zu bytes > max_frame_bytes %" PRIu64 " holds %" PRIu64 " changes", size,
                  g_wopts.max_frame_bytes, changes);
        }
        if (i + 1 == n && (fi.flags & PODSYNC_FRAME_HAS_DIGEST))
            CHECK(fi.state_digest == g_model_digest,
                  "last frame's state_digest %016" PRIx64 " != model digest %016" PRIx64, fi.state_digest,
                  g_model_digest);
        C.frames++;
        C.frame_bytes += size;
        if (!g_handover_flush) net_send(data, size);
    }
    for (size_t i = 0; i < g_dirty_n; i++) seen += g_model[g_dirty[i]].seen;
    CHECK(seen + encoded_changes == expected_changes,
          "flush sent %zu changes (%zu in plain frames, %" PRIu64 " in encoded ones), the model expected %zu "
          "(per-key coalescing)", seen + (size_t)encoded_changes, seen, encoded_changes, expected_changes);
    /* The shadow replica now holds the batch exactly as the model has it. */
    if (n > 0) {
        size_t bad = 0;
        for (size_t i = 0; i < g_dirty_n; i++) {
            const entry *e = &g_model[g_dirty[i]];
            const void *rec = NULL;
            st = podsync_store_get(g_shadow, e->table, e->key, &rec);
            int good = e->live ? st == PODSYNC_OK && rec && memcmp(rec, e->val, rec_size(e->table)) == 0
                               : st == PODSYNC_NOT_FOUND;
            if (!good && bad++ < 3)
                fail_report(__LINE__, "after the flush the shadow replica's (%u, %" PRIu64 ") is %s; the model says "
                            "live=%d", e->table, e->key, podsync_status_name(st), e->live);
        }
        CHECK(bad == 0, "the shadow replica differs from the model's batch in %zu keys", bad);
        CHECK(store_digest(g_shadow) == g_model_digest && store_version(g_shadow) == g_version,
              "shadow replica at version %" PRIu64 " digest %016" PRIx64 ", the model at %" PRIu64 " %016" PRIx64,
              store_version(g_shadow), store_digest(g_shadow), g_version, g_model_digest);
    }
    model_flushed();

    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    st = podsync_store_info_get(g_writer, &info);
    EXPECT_ST("podsync_store_info_get", st, g_writer, PODSYNC_OK);
    CHECK(info.state_version == g_version && info.pending_changes == 0 && info.role == PODSYNC_ROLE_WRITER &&
              info.schema_hash == g_schema_hash && info.table_count == 2,
          "writer info after flush: version %" PRIu64 " (expected %" PRIu64 ") pending %" PRIu64 " role %u tables %u",
          info.state_version, g_version, info.pending_changes, info.role, info.table_count);
    if (g_version != info.state_version || store_version(g_shadow) != info.state_version) {
        /* A frame failed above (already counted): follow the writer so one bug does not fail every
           later flush. */
        g_version = info.state_version;
        resync_shadow();
    }
    uint64_t d = store_digest(g_writer);
    CHECK(d == g_model_digest, "writer digest %016" PRIx64 " != model digest %016" PRIx64 " (docs/FORMAT.md)", d,
          g_model_digest);
    st = podsync_store_flush_due(g_writer);
    EXPECT_ST("podsync_store_flush_due(after flush)", st, g_writer, PODSYNC_OK);
}

/* Sends a writer snapshot through the lossy network (late copies become STALE). */
static void op_broadcast_snapshot(void) {
    size_t n = 0;
    int32_t st = podsync_store_snapshot(g_writer, &n);
    if (!EXPECT_ST("podsync_store_snapshot", st, g_writer, PODSYNC_OK)) return;
    /* One frame, or the chunks of a chunked snapshot when the state exceeds max_frame_bytes. */
    for (size_t k = 0; k < n; k++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        st = podsync_store_frame(g_writer, k, &data, &size);
        if (!EXPECT_ST("podsync_store_frame(snapshot)", st, g_writer, PODSYNC_OK)) return;
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        st = podsync_frame_validate(data, size, &fi);
        EXPECT_ST("podsync_frame_validate(snapshot)", st, NULL, PODSYNC_OK);
        if (n == 1) CHECK_CODEC(&fi, &g_wopts, 0, "snapshot");
        CHECK((fi.flags & PODSYNC_FRAME_RESET) && fi.base_version == 0 && fi.state_version == g_version &&
                  (!(fi.flags & PODSYNC_FRAME_HAS_DIGEST) || fi.state_digest == g_flushed_digest) &&
                  (n == 1 || ((fi.flags & PODSYNC_FRAME_CHUNK) && fi.chunk_index == k)),
              "snapshot header: flags %u base %" PRIu64 " state %" PRIu64 " (writer %" PRIu64 ")", fi.flags,
              fi.base_version, fi.state_version, g_version);
        net_send(data, size);
    }
    C.snapshots_sent++;
}

/* Replica b catches up through replica a (a replica serves delta_since too). */
static void op_peer_catchup(void) {
    int b = (int)below(2), a = 1 - b;
    uint64_t va = store_version(g_rep[a]), vb = store_version(g_rep[b]);
    if (vb == 0) return;  /* since 0 means "snapshot"; covered by heal */
    if (va > vb) {
        size_t n = catchup_frames(g_rep[a], 0, vb);
        if (n == 0) return;
        int32_t st = PODSYNC_OK;
        for (size_t k = 0; k < n; k++) {
            const uint8_t *frame = NULL;
            size_t size = 0;
            if (podsync_store_frame(g_rep[a], k, &frame, &size) != PODSYNC_OK) die("podsync_store_frame");
            st = replica_apply(b, frame, size, 2, 0);
        }
        CHECK(st == PODSYNC_OK, "replica %d catch-up through replica %d: %s", b, a, podsync_status_name(st));
        CHECK(store_version(g_rep[b]) == va, "replica %d not at peer's version %" PRIu64 " after catch-up", b, va);
        CHECK(store_digest(g_rep[b]) == store_digest(g_rep[a]), "replica %d digest != peer's after catch-up", b);
        C.peer_catchups++;
    } else if (va == vb) {
        size_t n = 99;
        int32_t st = podsync_store_delta_since(g_rep[a], vb, &n);
        EXPECT_ST("delta_since(current version)", st, g_rep[a], PODSYNC_OK);
        CHECK(n == 0, "delta_since(current version) produced %zu frames", n);
        CHECK(store_digest(g_rep[b]) == store_digest(g_rep[a]), "replicas at the same version %" PRIu64
              " have different digests", va);
    } else {
        size_t n = 99;
        int32_t st = podsync_store_delta_since(g_rep[a], vb, &n);
        EXPECT_ST("delta_since(ahead of the store)", st, g_rep[a], PODSYNC_E_VERSION_AHEAD);
        const char *msg = podsync_store_errmsg(g_rep[a]);
        CHECK(msg && msg[0] != '\0', "E_VERSION_AHEAD left no message");
        CHECK(store_version(g_rep[a]) == va, "failed delta_since changed the store's version");
    }
}

/* Replaces replica r by a new one built from a snapshot of the writer or of the other replica. */
static void op_recreate(void) {
    int r = (int)below(2), o = 1 - r;
    podsync_store_free(g_rep[r]);
    g_rep[r] = new_replica(r);
    podsync_store *src = g_writer;
    if (pm(300) && store_version(g_rep[o]) > 0) src = g_rep[o];
    size_t n = 0;
    int32_t st = podsync_store_snapshot(src, &n);
    if (!EXPECT_ST("podsync_store_snapshot(recreate)", st, src, PODSYNC_OK) || n != 1) return;
    const uint8_t *data = NULL;
    size_t size = 0;
    st = podsync_store_frame(src, 0, &data, &size);
    if (!EXPECT_ST("podsync_store_frame", st, src, PODSYNC_OK)) return;
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    EXPECT_ST("podsync_frame_validate(recreate snapshot)", podsync_frame_validate(data, size, &fi), NULL, PODSYNC_OK);
    CHECK_CODEC(&fi, options_of(src), 0, "snapshot for a recreated replica");
    st = replica_apply(r, data, size, src == g_writer ? 1 : 2, 0);
    CHECK(st == PODSYNC_OK, "recreated replica %d: snapshot apply %s", r, podsync_status_name(st));
    CHECK(store_version(g_rep[r]) == store_version(src), "recreated replica %d version", r);
    CHECK(store_digest(g_rep[r]) == store_digest(src), "recreated replica %d digest differs from its source", r);
    C.recreations++;
}

static void check_replica_equals_writer(int r);

/* Brings both replicas to the writer's version. A heal may come from the other replica, which can
   be behind the writer itself, so a replica healed first may need a second round. */
static void heal_to_writer(void) {
    for (int round = 0; round < 2; round++)
        for (int r = 0; r < 2; r++) {
            uint64_t v = store_version(g_rep[r]);
            if (v != g_version) heal(r, v, 0);
        }
}

/* Ends the current writer's stream and starts the next epoch's: a new writer with the next encoder
   settings, loaded with the model's records and flushed (frames checked, not sent), then its
   snapshot moves both replicas to the new stream; one of them is created anew for it. */
static void handover(void) {
    /* Drain the old stream: no frame of it may reach a replica that follows the new one. */
    writer_flush();
    net_deliver(0, 1);
    net_deliver(1, 1);
    heal_to_writer();
    for (int r = 0; r < 2; r++) check_replica_equals_writer(r);
    CHECK(g_net[0].n == 0 && g_net[1].n == 0, "frames of the old stream still in the network at a handover");

    g_epoch++;
    C.handovers++;
    podsync_store_free(g_writer);
    g_wopts = g_opts;
    use_combo(&g_wopts, writer_combo(g_epoch));
    g_wopts.frame_format = g_epoch % 2 ? 2 : 1;  /* writers alternate frame formats */
    if (!g_horizon_mode) g_wopts.stream_id = g_opts.stream_id + g_epoch;
    g_writer = new_store_with(PODSYNC_ROLE_WRITER, &g_wopts);
    EXPECT_ST("podsync_store_set_time", podsync_store_set_time(g_writer, g_now_ms), g_writer, PODSYNC_OK);
    g_stream = g_horizon_mode ? 0 : g_wopts.stream_id;
    g_version = 0;
    g_last_sequence = 0;
    podsync_store_free(g_shadow);
    g_shadow = new_store(PODSYNC_ROLE_REPLICA);

    /* On the new stream nothing is flushed yet: every live record is a pending put. */
    static const uint32_t tables[2] = {T1, T7};
    for (int ti = 0; ti < 2; ti++) {
        uint32_t t = tables[ti];
        size_t k = 0;
        for (uint32_t i = 0; i <= MODEL_CAP; i++) {
            if (k == 64 || (i == MODEL_CAP && k > 0)) {
                int32_t st = podsync_store_put_many(g_writer, t, g_keys, g_scratch, k, k * rec_size(t));
                EXPECT_ST2("podsync_store_put_many(handover)", st, g_writer, PODSYNC_OK, PODSYNC_FLUSH_DUE);
                k = 0;
            }
            if (i == MODEL_CAP) break;
            entry *e = &g_model[i];
            if (e->table != t) continue;
            e->flushed = 0;
            if (!e->live) continue;
            model_mark_dirty(e);
            g_keys[k] = e->key;
            memcpy(g_scratch + k * rec_size(t), e->val, rec_size(t));
            k++;
        }
    }
    g_flushed_digest = 0;
    g_handover_flush = 1;
    writer_flush();
    g_handover_flush = 0;

    int fresh = (int)(g_epoch % 2);
    podsync_store_free(g_rep[fresh]);
    g_rep[fresh] = new_replica(fresh);
    size_t n = 0;
    int32_t st = podsync_store_snapshot(g_writer, &n);
    if (!EXPECT_ST("podsync_store_snapshot(handover)", st, g_writer, PODSYNC_OK) || n < 1) return;
    for (int r = 0; r < 2; r++) {
        /* One frame, or the chunks of a chunked snapshot, staged until the last. */
        for (size_t k = 0; k < n; k++) {
            const uint8_t *data = NULL;
            size_t size = 0;
            if (!EXPECT_ST("podsync_store_frame", podsync_store_frame(g_writer, k, &data, &size), g_writer, PODSYNC_OK)) return;
            podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
            EXPECT_ST("podsync_frame_validate(handover snapshot)", podsync_frame_validate(data, size, &fi), NULL, PODSYNC_OK);
            if (n == 1) CHECK_CODEC(&fi, &g_wopts, 0, "handover snapshot");
            st = replica_apply(r, data, size, 1, 0);
            if (k < n - 1) CHECK(st == PODSYNC_CHUNK_STAGED, "replica %d: handover chunk %zu: %s", r, k, podsync_status_name(st));
        }
        CHECK(st == PODSYNC_OK, "replica %d: the new stream's snapshot returned %s", r, podsync_status_name(st));
        CHECK(store_version(g_rep[r]) == g_version && store_digest(g_rep[r]) == g_model_digest,
              "replica %d after the new stream's snapshot: version %" PRIu64 " (writer %" PRIu64 "), digest %s the "
              "model's", r, store_version(g_rep[r]), g_version,
              store_digest(g_rep[r]) == g_model_digest ? "equal to" : "different from");
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Whole-state comparisons                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/* The writer's contents equal the model (both directions). */
static void check_writer_equals_model(const char *when) {
    static const uint32_t tables[2] = {T1, T7};
    for (int ti = 0; ti < 2; ti++) {
        uint32_t t = tables[ti];
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        int32_t st = podsync_store_table(g_writer, t, &records, &keys, &count);
        if (!EXPECT_ST("podsync_store_table(writer)", st, g_writer, PODSYNC_OK)) continue;
        CHECK(count == g_live[ti], "%s: writer table %u has %zu records, model %zu", when, t, count, g_live[ti]);
        CHECK(count == 0 || ((uintptr_t)records % rec_align(t) == 0),
              "%s: table %u records not aligned to %u", when, t, rec_align(t));
        size_t bad = 0;
        for (size_t i = 0; i < count; i++) {
            const entry *e = model_find(t, keys[i], 0);
            if (!e || !e->live || memcmp(e->val, (const unsigned char *)records + i * rec_size(t), rec_size(t)) != 0) {
                if (bad++ < 3)
                    fail_report(__LINE__, "%s: writer record (%u, %" PRIu64 ") differs from the model", when, t,
                                keys[i]);
            }
        }
        CHECK(bad == 0, "%s: %zu writer records of table %u differ from the model", when, bad, t);
        size_t count2 = 0;
        st = podsync_store_count(g_writer, t, &count2);
        EXPECT_ST("podsync_store_count", st, g_writer, PODSYNC_OK);
        CHECK(count2 == count, "%s: podsync_store_count %zu != table count %zu", when, count2, count);
    }
    /* model -> writer */
    size_t bad = 0;
    for (uint32_t i = 0; i < MODEL_CAP; i++) {
        const entry *e = &g_model[i];
        if (!e->table) continue;
        const void *rec = NULL;
        int32_t st = podsync_store_get(g_writer, e->table, e->key, &rec);
        int good = e->live ? (st == PODSYNC_OK && rec && memcmp(rec, e->val, rec_size(e->table)) == 0)
                           : (st == PODSYNC_NOT_FOUND && rec == NULL);
        if (!good && bad++ < 3)
            fail_report(__LINE__, "%s: model key (%u, %" PRIu64 ") live=%d: writer get says %s", when, e->table, e->key,
                        e->live, podsync_status_name(st));
    }
    CHECK(bad == 0, "%s: %zu model keys disagree with the writer", when, bad);
}

/* Replica r holds exactly the writer's records. */
static void check_replica_equals_writer(int r) {
    static const uint32_t tables[2] = {T1, T7};
    podsync_store *rep = g_rep[r];
    CHECK(store_version(rep) == store_version(g_writer), "replica %d at version %" PRIu64 ", writer at %" PRIu64, r,
          store_version(rep), store_version(g_writer));
    uint64_t dw = store_digest(g_writer), dr = store_digest(rep);
    CHECK(dw == dr, "replica %d digest %016" PRIx64 " != writer digest %016" PRIx64, r, dr, dw);
    for (int ti = 0; ti < 2; ti++) {
        uint32_t t = tables[ti];
        size_t cw = 0, cr = 0;
        EXPECT_ST("podsync_store_count(writer)", podsync_store_count(g_writer, t, &cw), g_writer, PODSYNC_OK);
        EXPECT_ST("podsync_store_count(replica)", podsync_store_count(rep, t, &cr), rep, PODSYNC_OK);
        CHECK(cw == cr, "table %u: writer has %zu records, replica %d has %zu", t, cw, r, cr);
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        if (!EXPECT_ST("podsync_store_table", podsync_store_table(g_writer, t, &records, &keys, &count), g_writer,
                       PODSYNC_OK))
            continue;
        size_t bad = 0;
        for (size_t i = 0; i < count; i++) {
            const void *rec = NULL;
            int32_t st = podsync_store_get(rep, t, keys[i], &rec);
            if (st != PODSYNC_OK || !rec ||
                memcmp(rec, (const unsigned char *)records + i * rec_size(t), rec_size(t)) != 0) {
                if (bad++ < 3)
                    fail_report(__LINE__, "replica %d record (%u, %" PRIu64 "): %s / bytes differ", r, t, keys[i],
                                podsync_status_name(st));
            }
        }
        CHECK(bad == 0, "replica %d: %zu of %zu records of table %u differ from the writer", r, bad, count, t);
        /* and the replica has nothing the writer lacks */
        const void *rrecords = NULL;
        const uint64_t *rkeys = NULL;
        size_t rcount = 0;
        if (EXPECT_ST("podsync_store_table(replica)", podsync_store_table(rep, t, &rrecords, &rkeys, &rcount), rep,
                      PODSYNC_OK)) {
            size_t extra = 0;
            for (size_t i = 0; i < rcount; i++) {
                const entry *e = model_find(t, rkeys[i], 0);
                if (!e || !e->live) extra++;
            }
            CHECK(extra == 0, "replica %d holds %zu records of table %u the writer does not", r, extra, t);
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Main                                                                                           */
/* ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    uint64_t seed = DEFAULT_SEED;
    unsigned long ops = 100000;
    long epochs = -1; /* -1: 40, fewer for short runs */
    const char *mode = "default";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc) ops = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = argv[++i];
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = strtol(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "default") || !strcmp(argv[i], "horizon")) mode = argv[i];
        else if (argv[i][0] >= '0' && argv[i][0] <= '9') seed = strtoull(argv[i], NULL, 0);
        else {
            fprintf(stderr, "usage: %s [--mode default|horizon] [--seed N] [--ops N] [--epochs N] | [SEED] [MODE]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!strcmp(mode, "horizon")) g_horizon_mode = 1;
    else if (strcmp(mode, "default") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    g_rng = seed;
    /* Epochs of at least 250 operations, 40 at most; the default mode starts with the defaults
       (combination 75: level 0, PODSYNC_TRANSFORM_ALL), the horizon mode 40 epochs further. */
    if (epochs < 0) epochs = ops / 250 < 40 ? (long)(ops / 250) : 40;
    if (epochs < 1) epochs = 1;
    g_epochs = (unsigned)epochs;
    g_combo_start = (75u + (seed == DEFAULT_SEED ? 0u : (unsigned)(seed % CODEC_COMBOS)) +
                     (g_horizon_mode ? 33u * 40u : 0u)) % CODEC_COMBOS;
    /* Where each epoch ends. zstd level 19 costs about ten times the other levels here, so its
       epochs get a sixteenth of the operations of the others. */
    unsigned long *epoch_end = calloc(g_epochs, sizeof *epoch_end);
    if (!epoch_end) die("out of memory");
    {
        unsigned long long total = 0, sum = 0;
        for (unsigned e = 0; e < g_epochs; e++) total += CODEC_LEVELS[writer_combo(e) % 5] == 19 ? 1 : 16;
        for (unsigned e = 0; e < g_epochs; e++) {
            sum += CODEC_LEVELS[writer_combo(e) % 5] == 19 ? 1 : 16;
            epoch_end[e] = (unsigned long)((unsigned long long)ops * sum / total);
        }
    }

    CHECK(podsync_abi_version() == PODSYNC_ABI_VERSION, "ABI version %u, header %d", podsync_abi_version(),
          PODSYNC_ABI_VERSION);
    CHECK(podsync_version_number() == PODSYNC_VERSION_NUMBER, "library version %u, header %d",
          podsync_version_number(), PODSYNC_VERSION_NUMBER);

    g_model = calloc(MODEL_CAP, sizeof(entry));
    g_dirty = calloc(MODEL_CAP, sizeof(uint32_t));
    g_scratch = xalloc64(64 * MAX_REC);
    if (!g_model || !g_dirty) die("out of memory");

    g_schema = make_schema();
    EXPECT_ST("podsync_schema_hash", podsync_schema_hash(g_schema, &g_schema_hash), NULL, PODSYNC_OK);

    int32_t st = podsync_store_options_init(&g_opts, PODSYNC_STORE_OPTIONS_VERSION);
    EXPECT_ST("podsync_store_options_init", st, NULL, PODSYNC_OK);
    g_opts.flags = PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK;
    g_opts.max_batch_records = 600;
    g_opts.max_batch_age_ms = 30;
    if (g_horizon_mode) {
        g_opts.stream_id = 0;  /* random */
        g_opts.tombstone_horizon = 4;
        g_opts.max_frame_bytes = 4096;
    } else {
        g_opts.stream_id = 0x5EED5EED00000001ull;
        g_opts.tombstone_horizon = 65536;
        g_opts.max_frame_bytes = 16384;
    }
    g_wopts = g_opts;
    use_combo(&g_wopts, writer_combo(0));
    g_writer = new_store_with(PODSYNC_ROLE_WRITER, &g_wopts);
    g_rep[0] = new_replica(0);
    g_rep[1] = new_replica(1);
    g_shadow = new_store(PODSYNC_ROLE_REPLICA);
    if (!g_horizon_mode) g_stream = g_opts.stream_id;
    EXPECT_ST("podsync_store_set_time", podsync_store_set_time(g_writer, g_now_ms), g_writer, PODSYNC_OK);

    for (unsigned long op = 0; op < ops; op++) {
        while (g_epoch + 1 < g_epochs && op >= epoch_end[g_epoch]) handover();
        g_tick++;
        g_now_ms++;
        st = podsync_store_set_time(g_writer, g_now_ms);
        if (st != PODSYNC_OK) EXPECT_ST("podsync_store_set_time", st, g_writer, PODSYNC_OK);

        unsigned x = (unsigned)below(1000);
        if (x < 460) op_put();
        else if (x < 600) op_delete();
        else if (x < 720) op_put_many();
        else if (x < 780) op_delete_many();
        else if (x < 950) op_get();
        else if (x < 980) writer_flush();
        else if (x < 983) op_peer_catchup();
        else if (x < 984) op_broadcast_snapshot();
        else if (x < 985 && below(8) == 0) op_recreate();
        else op_get();

        if (below(2000) == 0) {
            /* an outage: one replica misses everything for a while, then must catch up from far
               behind (a long delta, or a snapshot once the writer no longer covers its version) */
            int r = (int)below(2);
            g_offline_until[r] = g_tick + 100 + below(300);
            C.outages++;
        }

        if (g_need_flush) {
            writer_flush();
        } else if (podsync_store_flush_due(g_writer) == PODSYNC_FLUSH_DUE) {
            C.flush_due++;
            writer_flush();
        }
        if (op % 10000 == 9999) {
            writer_flush();
            check_writer_equals_model("periodic check");
        }
        net_deliver(0, 0);
        net_deliver(1, 0);
    }

    /* The end: flush, deliver everything without loss, then catch up whoever missed the tail. */
    writer_flush();
    net_deliver(0, 1);
    net_deliver(1, 1);
    heal_to_writer();

    check_writer_equals_model("final");
    for (int r = 0; r < 2; r++) check_replica_equals_writer(r);
    CHECK(store_digest(g_writer) == g_model_digest, "final writer digest != model digest");
    if (g_horizon_mode)
        CHECK(C.snapshot_required > 0, "horizon mode never exercised PODSYNC_SNAPSHOT_REQUIRED");
    CHECK(C.ap_gap > 0 && C.ap_dup > 0 && C.ap_ok > 0, "outcomes not all exercised (ok %llu dup %llu gap %llu)",
          C.ap_ok, C.ap_dup, C.ap_gap);

    /* A third replica built from scratch through delta_since(0) equals the writer too. */
    {
        podsync_store *third = new_store(PODSYNC_ROLE_REPLICA);
        size_t n = 0, size = 0;
        const uint8_t *data = NULL;
        EXPECT_ST2("delta_since(writer, 0)", podsync_store_delta_since(g_writer, 0, &n), g_writer, PODSYNC_OK,
                   PODSYNC_SNAPSHOT_REQUIRED);
        /* delta_since(0) is a snapshot: one frame, or its chunks (staged until the last). */
        CHECK(n >= 1, "no snapshot frame for a new replica");
        uint64_t v = 0;
        for (size_t k = 0; k < n; k++) {
            if (podsync_store_frame(g_writer, k, &data, &size) != PODSYNC_OK) die("podsync_store_frame");
            EXPECT_ST("apply snapshot to a new replica", podsync_store_apply(third, data, size, &v), third,
                      k == n - 1 ? PODSYNC_OK : PODSYNC_CHUNK_STAGED);
        }
        CHECK(v == g_version, "new replica at %" PRIu64 ", writer at %" PRIu64, v, g_version);
        CHECK(store_digest(third) == store_digest(g_writer), "new replica digest differs");
        podsync_store_free(third);
    }

    size_t c1 = 0, c7 = 0;
    podsync_store_count(g_writer, T1, &c1);
    podsync_store_count(g_writer, T7, &c7);
    printf("random_scenario mode=%s seed=%" PRIu64 " ops=%lu: puts=%llu put_many=%llu(%llu records) deletes=%llu(%llu "
           "found) delete_many=%llu(%llu deleted) gets=%llu flushes=%llu(%llu empty, %llu due) frames=%llu "
           "bytes=%llu version=%" PRIu64 " records=%zu+%zu\n",
           mode, seed, ops, C.puts, C.put_manys, C.put_many_records, C.deletes, C.deletes_found, C.delete_manys,
           C.delete_many_deleted, C.gets, C.flushes, C.empty_flushes, C.flush_due, C.frames, C.frame_bytes, g_version,
           c1, c7);
    printf("network: sent=%llu dropped=%llu duplicated=%llu delayed=%llu swapped=%llu delivered=%llu snapshots=%llu "
           "outages=%llu(%llu lost) | apply: OK=%llu DUPLICATE=%llu GAP=%llu STALE=%llu | heal: writer=%llu peer=%llu "
           "SNAPSHOT_REQUIRED=%llu bytes=%llu | peer_catchups=%llu recreations=%llu\n",
           C.sent, C.dropped, C.duplicated, C.delayed, C.swapped, C.delivered, C.snapshots_sent, C.outages,
           C.outage_dropped, C.ap_ok, C.ap_dup,
           C.ap_gap, C.ap_stale, C.heal_writer, C.heal_peer, C.snapshot_required, C.heal_bytes, C.peer_catchups,
           C.recreations);
    printf("codecs: epochs=%u (writer settings rotated over %llu handovers, from combination %u) frames: plain=%llu "
           "encoded=%llu zstd=%llu fields=%llu ranked=%llu\n",
           g_epochs, C.handovers, g_combo_start, C.plain_frames, C.encoded_frames, C.compressed_frames, C.fields_frames,
           C.ranked_frames);

    podsync_store_free(g_shadow);
    podsync_store_free(g_rep[0]);
    podsync_store_free(g_rep[1]);
    podsync_store_free(g_writer);
    podsync_schema_free(g_schema);
    podsync_store_free(NULL);
    podsync_schema_free(NULL);
    for (int r = 0; r < 2; r++) {
        for (size_t i = 0; i < g_net[r].n; i++) free(g_net[r].v[i].data);
        free(g_net[r].v);
    }
    free(epoch_end);
    free(g_model);
    free(g_dirty);
    free(g_scratch);

    printf("%llu passed, %llu failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
