/*
 * reconcile.c — libFuzzer target `reconcile`: the messages of a reconciliation (include/podsync.h,
 * "Reconciliation"; docs/FORMAT.md, "Repair frames") between a writer and a replica that differ.
 *
 * Input: a container (fuzz_common.h). Its configuration byte sets up the stores (fuzz_pair.h,
 * deterministic: the schema, how the replica differs from the writer (behind it, in sync, diverged
 * after an impostor of its stream, empty, of another stream, below the writer's catch-up floor,
 * one-way and refreshing, of an older term), more records, change tracking on the replica, writes
 * the writer has not flushed). Record 0 holds an action byte per message (fuzz_pair.h, FZ_RC_*);
 * records 1 to 15 are the messages. Each message goes to podsync_store_reconcile of the writer or
 * of the replica (where its SUMMARY mode sends it, or the other side with FZ_RC_OTHER), or to the
 * replica's podsync_store_apply (FZ_RC_APPLY); a repair frame answered by either goes to the
 * replica's apply (fz_apply_checked_ex: the repair rules), a summary answered goes on to the other
 * side with FZ_RC_FOLLOW. Before a message the writer may write and flush (FZ_RC_STEP; the frames
 * go to the replica with FZ_RC_DELIVER) or write without flushing (FZ_RC_PENDING), and an honest
 * exchange from a fresh summary of the replica may run (FZ_RC_HEAL). Seeds are the messages of real
 * exchanges (make_corpus.c, with the same setup); the custom mutator is fuzz_mutate.c's (it fixes
 * frame lengths and the seeded XXH3 checksum of format 2, and tweaks header fields and the
 * extension records, SUMMARY and REPAIR included), plus flips of the action bytes.
 *
 * Checked after every call, abort() on a violation:
 *   - podsync_store_reconcile never returns PODSYNC_E_INTERNAL; OK with 0 or 1 frame, an error with
 *     0; whatever it returns, neither store's state changes (digest, records, version, stream,
 *     sequence, term, diverged and refreshing marks, staging, pending changes, catch-up floor,
 *     apply counters);
 *   - OK only for a message that passes podsync_frame_validate and is a SUMMARY of the store's
 *     schema; DIVERGED only from a responder (modes 0 and 1) that is diverged or refreshing, and
 *     never OK from one; REPAIR_STALE exactly for a responder's message anchored at a version it
 *     can no longer describe (above its version, or below its catch-up floor);
 *   - an answer passes podsync_frame_validate; it is a plain format-2 frame of the store's schema,
 *     stream, term and digest, flagged SUMMARY or REPAIR (with HAS_DIGEST). A responder answers a
 *     message with a repair of the buckets whose hashes differ from its own (all of a REQUEST's; the
 *     first bucket when none differ, and then only for a replica of another stream, term or version
 *     with its digest): same tree level, expected_digest = the message's digest, base = the anchor
 *     (its version for a first message, else the message's version), state = its version; or
 *     with HASHES (mode 2) of their children one level down, in reply to the message, at the anchor.
 *     The side being repaired answers a responder's HASHES with a REQUEST for the buckets that
 *     differ, or HASHES of their children, at the message's version; or, when none differ, starts
 *     over (a whole-level HASHES, in_reply_to 0, at its version). Every hash of an answer equals
 *     the sum of the digest terms of the store's records in that bucket (the writer's flushed
 *     state: the mirror replica's records); a plain repair puts exactly the responder's bytes for
 *     every key it holds in the repaired buckets, puts elsewhere only keys it holds with their
 *     bytes, deletes only keys it does not hold, and no key of a repaired bucket;
 *   - podsync_store_summary: a whole level, mode HASHES, in_reply_to 0, correct hashes;
 *   - every apply (fz_apply_checked_ex): the apply rules, repairs included (REPAIR_STALE changes
 *     nothing; OK reaches the frame's version, stream, digest; records_applied counts the keys the
 *     repair removed); the writer does not change; with change tracking, the lists of
 *     podsync_store_changes name every key the apply inserted, changed or removed, upserted keys
 *     are present, deleted keys absent (or upserted again), and an apply that changed nothing lists
 *     nothing;
 *   - FZ_RC_HEAL: the honest exchange ends within 24 rounds, never with an error: the writer
 *     answers nothing only when the replica holds its digest, stream, term and version, and a
 *     repair applies OK and leaves the replica at the writer's version and digest (skipped for a
 *     replica that follows a newer term of the writer's stream: it refuses the writer's repair).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_mutate.h"
#include "fuzz_pair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define FOLLOW_ROUNDS 12
#define HEAL_ROUNDS 24
#define MAX_BUCKETS ((size_t)1 << 20)

enum { WRITER = 0, REPLICA = 1 };
static const char *const k_side[2] = {"writer", "replica"};

static podsync_store *store_of(fz_pair *p, int side) { return side == WRITER ? p->writer : p->replica; }
/* The records the side's hash tree describes: the writer's flushed state is its mirror's. */
static const podsync_store *state_of(fz_pair *p, int side) { return side == WRITER ? p->mirror : p->replica; }

static podsync_store_info info_of(const podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    FZ_OK(podsync_store_info_get(s, &i));
    return i;
}

static uint8_t *copy_bytes(const uint8_t *data, size_t size) {
    uint8_t *c = malloc(size ? size : 1);
    FZ_REQUIRE(c != NULL, "out of memory");
    if (size) memcpy(c, data, size);
    return c;
}

/* ------------------------------------------------------------------------------------------ */
/* Messages                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct msgv {
    const uint8_t *data;
    size_t size;
    int valid;               /* podsync_frame_validate OK */
    podsync_frame_info info;
    int summary;             /* valid, with a SUMMARY record */
    fz_recon r;
    uint32_t *buckets;       /* summary: the bucket block's */
    size_t count;
} msgv;

static void msg_read(msgv *m, const uint8_t *data, size_t size) {
    memset(m, 0, sizeof *m);
    m->data = data;
    m->size = size;
    podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
    m->info = info;
    /* podsync_frame_validate wants no particular alignment; the copies here are malloc'ed anyway */
    m->valid = podsync_frame_validate(data, size, &m->info) == PODSYNC_OK;
    if (!m->valid || m->info.format_version != 2) return;
    if (fz_recon_parse(data, size, &m->r) || !m->r.has_summary) return;
    FZ_REQUIRE(fz_recon_buckets(data, size, &m->r, &m->buckets, &m->count, MAX_BUCKETS) == 0,
               "podsync_frame_validate accepts a summary whose bucket block breaks V18");
    m->summary = 1;
}

static void msg_free(msgv *m) {
    free(m->buckets);
    m->buckets = NULL;
}

/* The hash of each bucket (bits bits) of the store's records: the sum of their digest terms. */
static void state_hashes(const podsync_store *s, const fz_schema_desc *d, unsigned bits, const uint32_t *buckets, size_t n,
                         uint64_t *out) {
    memset(out, 0, n * sizeof *out);
    for (size_t t = 0; t < d->table_count; t++) {
        const fz_table *tb = &d->tables[t];
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        FZ_OK(podsync_store_table(s, tb->id, &records, &keys, &count));
        for (size_t i = 0; i < count; i++) {
            uint32_t b = fz_bucket(tb->id, keys[i], bits);
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (buckets[mid] < b) lo = mid + 1;
                else hi = mid;
            }
            if (lo < n && buckets[lo] == b)
                out[lo] += fz_record_digest(tb->id, keys[i], (const uint8_t *)records + i * tb->record_size, tb->record_size);
        }
    }
}

/* The buckets of m whose hashes differ from the store's (mode HASHES), or all of them (REQUEST). */
static uint32_t *differing(const podsync_store *state, const fz_schema_desc *d, const msgv *m, size_t *nd) {
    uint32_t *out = malloc(m->count * sizeof *out + 1);
    FZ_REQUIRE(out != NULL, "out of memory");
    *nd = 0;
    if (m->r.mode == FZ_SUMMARY_REQUEST) {
        memcpy(out, m->buckets, m->count * sizeof *out);
        *nd = m->count;
        return out;
    }
    uint64_t *mine = malloc(m->count * sizeof *mine + 1);
    FZ_REQUIRE(mine != NULL, "out of memory");
    state_hashes(state, d, (unsigned)m->r.fanout_bits * m->r.level, m->buckets, m->count, mine);
    const uint8_t *theirs = m->data + m->r.block_at + m->r.block_length;
    for (size_t i = 0; i < m->count; i++)
        if (mine[i] != fz_rd64(theirs + 8 * i)) out[(*nd)++] = m->buckets[i];
    free(mine);
    return out;
}

/* The children (f more bits) of the ascending buckets. */
static uint32_t *children(const uint32_t *b, size_t n, unsigned f, size_t *nc) {
    *nc = n << f;
    uint32_t *out = malloc(*nc * sizeof *out + 1);
    FZ_REQUIRE(out != NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        for (uint32_t c = 0; c < (1u << f); c++) out[(i << f) + c] = (b[i] << f) + c;
    return out;
}

static int same_buckets(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* Every hash a HASHES message (an answer) carries equals the store's. */
static void check_hashes(const podsync_store *state, const fz_schema_desc *d, const msgv *a, const char *what) {
    uint64_t *mine = malloc(a->count * sizeof *mine + 1);
    FZ_REQUIRE(mine != NULL, "out of memory");
    unsigned bits = (unsigned)a->r.fanout_bits * a->r.level;
    state_hashes(state, d, bits, a->buckets, a->count, mine);
    const uint8_t *theirs = a->data + a->r.block_at + a->r.block_length;
    for (size_t i = 0; i < a->count; i++)
        FZ_REQUIRE(mine[i] == fz_rd64(theirs + 8 * i),
                   "%s: the hash of bucket %u at level %u (%u bits) is %016" PRIx64 ", the records there sum to %016" PRIx64, what,
                   a->buckets[i], a->r.level, bits, fz_rd64(theirs + 8 * i), mine[i]);
    free(mine);
}

static const fz_table *table_by_id(const fz_schema_desc *d, uint32_t id) {
    for (size_t t = 0; t < d->table_count; t++)
        if (d->tables[t].id == id) return &d->tables[t];
    return NULL;
}

/* A plain repair from the store whose records are `state`: it puts every record of the repaired
   buckets with the responder's bytes, and outside them only keys the responder holds, with their
   bytes; it deletes only keys the responder does not hold, none in a repaired bucket. */
static void check_repair_content(const podsync_store *state, const fz_schema_desc *d, const msgv *a) {
    if (a->info.codec != 0 || a->info.transforms != 0) return;
    unsigned bits = (unsigned)a->r.fanout_bits * a->r.level;
    size_t n = 0, cap = 16;
    fz_tkey *puts = malloc(cap * sizeof *puts);
    FZ_REQUIRE(puts != NULL, "out of memory");
    for (size_t i = 0; i < a->info.section_count; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        FZ_OK(podsync_frame_section_get(a->data, a->size, i, &sec));
        const fz_table *tb = table_by_id(d, sec.table_id);
        FZ_REQUIRE(tb && tb->record_size == sec.record_size, "the repair has a section of table %u (%u-byte records) the schema lacks",
                   sec.table_id, sec.record_size);
        for (uint64_t j = 0; j < sec.put_count; j++) {
            const void *held = NULL;
            int32_t st = podsync_store_get(state, tb->id, sec.put_keys[j], &held);
            FZ_REQUIRE(st == PODSYNC_OK && memcmp(held, (const uint8_t *)sec.records + j * tb->record_size, tb->record_size) == 0,
                       "the repair puts key %" PRIu64 " of table %u (bucket %u) with bytes the responder does not hold (get: %s)",
                       sec.put_keys[j], tb->id, fz_bucket(tb->id, sec.put_keys[j], bits), podsync_status_name(st));
            if (n == cap) {
                cap *= 2;
                puts = realloc(puts, cap * sizeof *puts);
                FZ_REQUIRE(puts != NULL, "out of memory");
            }
            puts[n++] = (fz_tkey){tb->id, sec.put_keys[j]};
        }
        for (uint64_t j = 0; j < sec.delete_count; j++) {
            const void *held = NULL;
            FZ_REQUIRE(podsync_store_get(state, tb->id, sec.delete_keys[j], &held) == PODSYNC_NOT_FOUND,
                       "the repair deletes key %" PRIu64 " of table %u, which the responder holds", sec.delete_keys[j], tb->id);
            FZ_REQUIRE(!fz_bucket_listed(a->buckets, a->count, fz_bucket(tb->id, sec.delete_keys[j], bits)),
                       "the repair deletes key %" PRIu64 " of table %u in a repaired bucket", sec.delete_keys[j], tb->id);
        }
    }
    qsort(puts, n, sizeof *puts, fz_tkey_cmp);
    for (size_t t = 0; t < d->table_count; t++) {
        const fz_table *tb = &d->tables[t];
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        FZ_OK(podsync_store_table(state, tb->id, &records, &keys, &count));
        for (size_t i = 0; i < count; i++) {
            uint32_t b = fz_bucket(tb->id, keys[i], bits);
            if (!fz_bucket_listed(a->buckets, a->count, b)) continue;
            fz_tkey k = {tb->id, keys[i]};
            FZ_REQUIRE(bsearch(&k, puts, n, sizeof *puts, fz_tkey_cmp) != NULL,
                       "the repair leaves out key %" PRIu64 " of table %u, which the responder holds in repaired bucket %u", keys[i],
                       tb->id, b);
        }
    }
    free(puts);
}

/* What every message a store produces is: a valid plain format-2 frame of its schema, stream, term
   and digest, flagged SUMMARY or REPAIR. */
static void check_produced(fz_pair *p, int side, const msgv *a, const char *what) {
    podsync_store_info si = info_of(store_of(p, side));
    if (!a->valid) {
        int32_t v = podsync_frame_validate(a->data, a->size, NULL);
        fz_violation(__FILE__, __LINE__, "%s: the %s's message (%zu bytes, flags %x) fails podsync_frame_validate: %s (%s)", what,
                     k_side[side], a->size, a->size >= 8 ? fz_rd16(a->data + FZ_V2_OFF_FLAGS) : 0, podsync_status_name(v),
                     podsync_last_errmsg());
    }
    uint32_t low = a->info.flags & 0xFFu;
    FZ_REQUIRE(a->info.format_version == 2 &&
                   (low == (PODSYNC_FRAME_HAS_DIGEST | FZ_V2_FLAG_SUMMARY) || low == (PODSYNC_FRAME_HAS_DIGEST | FZ_V2_FLAG_REPAIR)),
               "%s: the %s's message has format %u flags %x", what, k_side[side], a->info.format_version, a->info.flags);
    FZ_REQUIRE(a->info.schema_hash == si.schema_hash && a->info.stream_id == si.stream_id && a->info.term == si.term &&
                   a->info.state_digest == si.digest,
               "%s: the %s's message: schema %016" PRIx64 " stream %016" PRIx64 " term %" PRIu64 " digest %016" PRIx64
               "; the store's %016" PRIx64 " %016" PRIx64 " %" PRIu64 " %016" PRIx64,
               what, k_side[side], a->info.schema_hash, a->info.stream_id, a->info.term, a->info.state_digest, si.schema_hash,
               si.stream_id, si.term, si.digest);
    FZ_REQUIRE((low & FZ_V2_FLAG_REPAIR) || (a->summary && a->info.codec == 0 && a->info.transforms == 0),
               "%s: the %s's summary does not read (or is not plain)", what, k_side[side]);
}

/* A summary from podsync_store_summary (or a start over): every bucket of one level, HASHES, no
   reply, at the store's version, with its hashes. */
static void check_whole_summary(fz_pair *p, int side, const msgv *a, unsigned level, const char *what) {
    podsync_store_info si = info_of(store_of(p, side));
    FZ_REQUIRE(a->summary && a->r.mode == FZ_SUMMARY_HASHES && a->r.in_reply_to == 0 && a->r.fanout_bits == 4 &&
                   (level ? a->r.level == level : a->r.level >= 1 && a->r.level <= 3) && a->info.state_version == si.state_version &&
                   a->info.base_version == 0,
               "%s: mode %u reply to %016" PRIx64 " fanout %u level %u (asked %u) version %" PRIu64 " (the store's %" PRIu64 ")", what,
               a->r.mode, a->r.in_reply_to, a->r.fanout_bits, a->r.level, level, a->info.state_version, si.state_version);
    size_t want = (size_t)1 << (4 * a->r.level);
    int all = a->count == want;
    for (size_t i = 0; all && i < a->count; i++) all = a->buckets[i] == i;
    FZ_REQUIRE(all, "%s: names %zu buckets, not the %zu of level %u", what, a->count, want, a->r.level);
    check_hashes(state_of(p, side), p->schema, a, what);
}

/* The answer of `side` to message m (docs/FORMAT.md, "Repair frames", "As implemented"). */
static void check_answer(fz_pair *p, int side, const msgv *m, const podsync_store_info *si, const msgv *a) {
    check_produced(p, side, a, "reconcile's answer");
    int repair = (a->info.flags & FZ_V2_FLAG_REPAIR) != 0;
    FZ_REQUIRE(a->r.fanout_bits == m->r.fanout_bits, "the answer's fanout_bits %u, the message's %u", a->r.fanout_bits, m->r.fanout_bits);
    size_t nd = 0;
    uint32_t *d = differing(state_of(p, side), p->schema, m, &nd);
    if (m->r.mode != FZ_SUMMARY_RESPONDER_HASHES) {
        /* the responder */
        uint64_t anchor = m->r.in_reply_to == 0 ? si->state_version : m->info.state_version;
        if (nd == 0) {
            FZ_REQUIRE(m->info.state_digest == si->digest &&
                           (m->info.stream_id != si->stream_id || m->info.term != si->term ||
                            (m->r.in_reply_to == 0 && m->info.state_version != si->state_version)),
                       "the %s answered (%s) a summary whose %zu buckets all agree, from a store of digest %016" PRIx64 " stream %016" PRIx64
                       " term %" PRIu64 " v%" PRIu64 " (the %s's: %016" PRIx64 " %016" PRIx64 " %" PRIu64 " v%" PRIu64 ")",
                       k_side[side], repair ? "a repair" : "a summary", m->count, m->info.state_digest, m->info.stream_id, m->info.term,
                       m->info.state_version, k_side[side], si->digest, si->stream_id, si->term, si->state_version);
            /* "a repair of one bucket, which moves the replica to its stream and version" */
            FZ_REQUIRE(repair, "the %s answered a summary whose %zu buckets all agree, from a store of its digest %016" PRIx64
                       " but of stream %016" PRIx64 " term %" PRIu64 " v%" PRIu64 " (its own: %016" PRIx64 " %" PRIu64 " v%" PRIu64
                       "), with a descent (mode %u, level %u) instead of a repair of one bucket (FORMAT.md, \"As implemented\")",
                       k_side[side], m->count, si->digest, m->info.stream_id, m->info.term, m->info.state_version, si->stream_id,
                       si->term, si->state_version, a->r.mode, a->r.level);
            d[0] = m->buckets[0];
            nd = 1;
        }
        if (repair) {
            FZ_REQUIRE(a->r.has_repair && a->r.level == m->r.level && a->r.expected_digest == m->info.state_digest &&
                           a->info.base_version == anchor && a->info.state_version == si->state_version,
                       "the %s's repair: level %u (message %u), expected_digest %016" PRIx64 " (message's digest %016" PRIx64
                       "), versions %" PRIu64 "->%" PRIu64 " (anchor %" PRIu64 ", the %s at %" PRIu64 ")",
                       k_side[side], a->r.level, m->r.level, a->r.expected_digest, m->info.state_digest, a->info.base_version,
                       a->info.state_version, anchor, k_side[side], si->state_version);
            FZ_REQUIRE(same_buckets(a->buckets, a->count, d, nd),
                       "the %s's repair names %zu buckets at level %u, not the %zu that differ (first %u vs %u)", k_side[side], a->count,
                       a->r.level, nd, a->count ? a->buckets[0] : 0, d[0]);
            check_repair_content(state_of(p, side), p->schema, a);
        } else {
            size_t nc = 0;
            uint32_t *c = children(d, nd, m->r.fanout_bits, &nc);
            FZ_REQUIRE(a->r.mode == FZ_SUMMARY_RESPONDER_HASHES && a->r.in_reply_to == m->r.summary_id && a->r.level == m->r.level + 1 &&
                           a->info.state_version == anchor,
                       "the %s's descent: mode %u, reply to %016" PRIx64 " (message %016" PRIx64 "), level %u (message %u), version %" PRIu64
                       " (anchor %" PRIu64 ")", k_side[side], a->r.mode, a->r.in_reply_to, m->r.summary_id, a->r.level, m->r.level,
                       a->info.state_version, anchor);
            FZ_REQUIRE(same_buckets(a->buckets, a->count, c, nc), "the %s's descent names %zu buckets, not the %zu children of the %zu that differ",
                       k_side[side], a->count, nc, nd);
            check_hashes(state_of(p, side), p->schema, a, "the responder's descent");
            free(c);
        }
    } else {
        /* the side being repaired */
        FZ_REQUIRE(!repair, "the %s answered a responder's HASHES with a repair", k_side[side]);
        if (a->r.in_reply_to == 0) {
            FZ_REQUIRE(nd == 0, "the %s started over although %zu of the %zu buckets differ", k_side[side], nd, m->count);
            check_whole_summary(p, side, a, 0, "a start over");
        } else {
            FZ_REQUIRE(nd > 0 && a->r.in_reply_to == m->r.summary_id && a->info.state_version == m->info.state_version,
                       "the %s's reply: %zu buckets differ, reply to %016" PRIx64 " (message %016" PRIx64 "), version %" PRIu64
                       " (message %" PRIu64 ")", k_side[side], nd, a->r.in_reply_to, m->r.summary_id, a->info.state_version,
                       m->info.state_version);
            if (a->r.mode == FZ_SUMMARY_REQUEST) {
                FZ_REQUIRE(a->r.level == m->r.level && same_buckets(a->buckets, a->count, d, nd),
                           "the %s's REQUEST: level %u (message %u), %zu buckets, %zu differ", k_side[side], a->r.level, m->r.level,
                           a->count, nd);
            } else {
                size_t nc = 0;
                uint32_t *c = children(d, nd, m->r.fanout_bits, &nc);
                FZ_REQUIRE(a->r.mode == FZ_SUMMARY_HASHES && a->r.level == m->r.level + 1 && same_buckets(a->buckets, a->count, c, nc),
                           "the %s's descent: mode %u level %u (message %u), %zu buckets, the children of the %zu that differ are %zu",
                           k_side[side], a->r.mode, a->r.level, m->r.level, a->count, nd, nc);
                check_hashes(state_of(p, side), p->schema, a, "the replica's descent");
                free(c);
            }
        }
    }
    free(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Calls                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void require_same_counters(const podsync_metrics *a, const podsync_metrics *b, const char *what) {
    FZ_REQUIRE(a->frames_applied == b->frames_applied && a->records_applied == b->records_applied && a->wire_bytes_in == b->wire_bytes_in &&
                   a->duplicates == b->duplicates && a->gaps == b->gaps && a->stale == b->stale && a->resyncs == b->resyncs &&
                   a->chunks_staged == b->chunks_staged && a->chunk_gaps == b->chunk_gaps && a->staging_bytes_held == b->staging_bytes_held &&
                   memcmp(a->rejects, b->rejects, sizeof a->rejects) == 0,
               "%s: the apply counters changed", what);
}

static void require_unchanged(const fz_state *b, const fz_state *a, const podsync_store_info *ib, const podsync_store_info *ia,
                              const char *what) {
    fz_require_same(b, a, what);
    fz_require_same_staging(b, a, what);
    require_same_counters(&b->metrics, &a->metrics, what);
    FZ_REQUIRE(ib->pending_changes == ia->pending_changes && ib->catchup_floor == ia->catchup_floor,
               "%s: pending changes %" PRIu64 " -> %" PRIu64 ", catch-up floor %" PRIu64 " -> %" PRIu64, what, ib->pending_changes,
               ia->pending_changes, ib->catchup_floor, ia->catchup_floor);
}

/* podsync_store_reconcile of `side`, checked; *answer receives a copy of its answer (or NULL). */
static int32_t reconcile_checked(fz_pair *p, int side, const uint8_t *m, size_t size, uint8_t **answer, size_t *answer_size) {
    *answer = NULL;
    *answer_size = 0;
    fz_state bw = fz_capture(p->writer, p->schema), br = fz_capture(p->replica, p->schema);
    podsync_store_info iw = info_of(p->writer), ir = info_of(p->replica);
    size_t n = 777;
    int32_t st = podsync_store_reconcile(store_of(p, side), m, size, &n);
    const char *name = podsync_status_name(st);
    msgv mv;
    msg_read(&mv, m, size);
    if (fz_trace())
        fprintf(stderr, "reconcile (%s): %zu bytes, flags %x mode %u level %u reply %016" PRIx64 " v%" PRIu64 ", %zu buckets: %s (%s), %zu frame(s)\n",
                k_side[side], size, mv.info.flags, mv.r.mode, mv.r.level, mv.r.in_reply_to, mv.info.state_version, mv.count, name,
                st < 0 ? podsync_store_errmsg(store_of(p, side)) : "", n);
    FZ_REQUIRE(st != PODSYNC_E_INTERNAL, "reconcile (%s) returned PODSYNC_E_INTERNAL: %s", k_side[side],
               podsync_store_errmsg(store_of(p, side)));
    fz_state aw = fz_capture(p->writer, p->schema), ar = fz_capture(p->replica, p->schema);
    podsync_store_info iw2 = info_of(p->writer), ir2 = info_of(p->replica);
    char what[96];
    snprintf(what, sizeof what, "reconcile (%s) returned %s: the writer", k_side[side], name);
    require_unchanged(&bw, &aw, &iw, &iw2, what);
    snprintf(what, sizeof what, "reconcile (%s) returned %s: the replica", k_side[side], name);
    require_unchanged(&br, &ar, &ir, &ir2, what);
    FZ_REQUIRE(st == PODSYNC_OK || st < 0, "reconcile (%s) returned %s", k_side[side], name);
    FZ_REQUIRE(st < 0 ? n == 0 : n <= 1, "reconcile (%s) returned %s with %zu frames", k_side[side], name, n);
    const podsync_store_info *si = side == WRITER ? &iw : &ir;
    if (st == PODSYNC_OK)
        FZ_REQUIRE(mv.summary && mv.info.schema_hash == si->schema_hash,
                   "reconcile (%s) OK for a message that is not a valid summary of its schema (validate %s, flags %x)", k_side[side],
                   podsync_status_name(podsync_frame_validate(m, size, NULL)), mv.info.flags);
    if (mv.summary && mv.info.schema_hash == si->schema_hash) {
        int responder = mv.r.mode != FZ_SUMMARY_RESPONDER_HASHES;
        uint64_t anchor = mv.r.in_reply_to == 0 ? si->state_version : mv.info.state_version;
        int stale = !(anchor <= si->state_version && (anchor == si->state_version || anchor >= si->catchup_floor));
        int out_of_sync = si->diverged || si->refreshing;
        if (st == PODSYNC_E_DIVERGED)
            FZ_REQUIRE(responder && out_of_sync, "reconcile (%s) DIVERGED for a message of mode %u (diverged %u, refreshing %u)",
                       k_side[side], mv.r.mode, si->diverged, si->refreshing);
        if (st == PODSYNC_E_REPAIR_STALE)
            FZ_REQUIRE(responder && stale, "reconcile (%s) REPAIR_STALE for a message of mode %u anchored at %" PRIu64
                       " (store at %" PRIu64 ", catch-up floor %" PRIu64 ")", k_side[side], mv.r.mode, anchor, si->state_version,
                       si->catchup_floor);
        if (st == PODSYNC_OK && responder)
            FZ_REQUIRE(!out_of_sync && !stale, "reconcile (%s) OK as a responder that is diverged (%u) or refreshing (%u), or for a "
                       "message anchored at %" PRIu64 " (store at %" PRIu64 ", catch-up floor %" PRIu64 ")", k_side[side], si->diverged,
                       si->refreshing, anchor, si->state_version, si->catchup_floor);
    }
    if (st == PODSYNC_OK && n == 0 && mv.r.mode != FZ_SUMMARY_RESPONDER_HASHES) {
        /* a responder answers nothing only when every bucket named agrees, and not for a replica of
           its digest but of another stream, term or version (that one gets a repair of one bucket) */
        size_t nd = 0;
        uint32_t *d = differing(state_of(p, side), p->schema, &mv, &nd);
        free(d);
        FZ_REQUIRE(nd == 0, "reconcile (%s) answered nothing to a summary (mode %u) of %zu buckets, %zu of which differ", k_side[side],
                   mv.r.mode, mv.count, nd);
        FZ_REQUIRE(!(mv.info.state_digest == si->digest && (mv.info.stream_id != si->stream_id || mv.info.term != si->term ||
                                                           (mv.r.in_reply_to == 0 && mv.info.state_version != si->state_version))),
                   "reconcile (%s) answered nothing to a store of its digest %016" PRIx64 " but of stream %016" PRIx64 " term %" PRIu64
                   " v%" PRIu64 " (its own: %016" PRIx64 " %" PRIu64 " v%" PRIu64 ")", k_side[side], si->digest, mv.info.stream_id,
                   mv.info.term, mv.info.state_version, si->stream_id, si->term, si->state_version);
    }
    if (st == PODSYNC_OK && n == 1) {
        const uint8_t *f = NULL;
        size_t fsize = 0;
        FZ_OK(podsync_store_frame(store_of(p, side), 0, &f, &fsize));
        *answer = copy_bytes(f, fsize);
        *answer_size = fsize;
        msgv av;
        msg_read(&av, *answer, fsize);
        if (!av.summary && av.valid && (av.info.flags & FZ_V2_FLAG_REPAIR) && fz_recon_parse(*answer, fsize, &av.r) == 0)
            FZ_REQUIRE(fz_recon_buckets(*answer, fsize, &av.r, &av.buckets, &av.count, MAX_BUCKETS) == 0,
                       "podsync_frame_validate accepts a repair whose bucket block breaks V18");
        check_answer(p, side, &mv, si, &av);
        msg_free(&av);
    }
    msg_free(&mv);
    return st;
}

/* A copy of every table of the replica: (table, key) -> the digest term of its record. */
typedef struct snap_entry {
    uint64_t key;
    uint64_t term;
} snap_entry;

typedef struct tables_snap {
    size_t n[FZ_MAX_TABLES];
    snap_entry *e[FZ_MAX_TABLES];
} tables_snap;

static int snap_cmp(const void *a, const void *b) {
    uint64_t x = ((const snap_entry *)a)->key, y = ((const snap_entry *)b)->key;
    return x < y ? -1 : x > y;
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void snap_take(const podsync_store *s, const fz_schema_desc *d, tables_snap *out) {
    memset(out, 0, sizeof *out);
    for (size_t t = 0; t < d->table_count; t++) {
        const fz_table *tb = &d->tables[t];
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        FZ_OK(podsync_store_table(s, tb->id, &records, &keys, &count));
        out->e[t] = malloc(count * sizeof *out->e[t] + 1);
        FZ_REQUIRE(out->e[t] != NULL, "out of memory");
        for (size_t i = 0; i < count; i++)
            out->e[t][i] = (snap_entry){keys[i], fz_record_digest(tb->id, keys[i], (const uint8_t *)records + i * tb->record_size,
                                                                  tb->record_size)};
        out->n[t] = count;
        qsort(out->e[t], count, sizeof *out->e[t], snap_cmp);
    }
}

static void snap_free(tables_snap *s) {
    for (size_t t = 0; t < FZ_MAX_TABLES; t++) free(s->e[t]);
}

static const snap_entry *snap_find(const tables_snap *s, size_t t, uint64_t key) {
    snap_entry k = {key, 0};
    return bsearch(&k, s->e[t], s->n[t], sizeof k, snap_cmp);
}

/* The change lists of the last apply against the replica's tables before and after it. */
static void check_changes(fz_pair *p, const tables_snap *before, int32_t st) {
    tables_snap after;
    snap_take(p->replica, p->schema, &after);
    int nothing = (st < 0 && st != PODSYNC_E_DIGEST_MISMATCH) || st == PODSYNC_DUPLICATE || st == PODSYNC_GAP || st == PODSYNC_STALE ||
                  st == PODSYNC_CHUNK_GAP;
    for (size_t t = 0; t < p->schema->table_count; t++) {
        uint32_t id = p->schema->tables[t].id;
        const uint64_t *up = NULL, *del = NULL;
        size_t nu = 0, nd = 0;
        uint32_t flags = 0;
        int32_t cst = podsync_store_changes(p->replica, id, &up, &nu, &del, &nd, &flags);
        FZ_REQUIRE(cst == PODSYNC_OK, "podsync_store_changes(table %u) returned %s", id, podsync_status_name(cst));
        FZ_REQUIRE((nu == 0 || up) && (nd == 0 || del) && (flags & ~(uint32_t)(PODSYNC_CHANGES_REPLACED | PODSYNC_CHANGES_INCOMPLETE)) == 0,
                   "podsync_store_changes(table %u): %zu upserted at %p, %zu deleted at %p, flags %x", id, nu, (const void *)up, nd,
                   (const void *)del, flags);
        if (nothing) {
            FZ_REQUIRE(nu == 0 && nd == 0, "apply returned %s (nothing changed) but table %u lists %zu upserted and %zu deleted keys",
                       podsync_status_name(st), id, nu, nd);
            continue;
        }
        if (flags & PODSYNC_CHANGES_INCOMPLETE) continue;
        uint64_t *su = malloc(nu * sizeof *su + 1), *sd = malloc(nd * sizeof *sd + 1);
        FZ_REQUIRE(su && sd, "out of memory");
        if (nu) memcpy(su, up, nu * sizeof *su);
        if (nd) memcpy(sd, del, nd * sizeof *sd);
        qsort(su, nu, sizeof *su, u64_cmp);
        qsort(sd, nd, sizeof *sd, u64_cmp);
        for (size_t i = 0; i < after.n[t]; i++) {
            const snap_entry *was = snap_find(before, t, after.e[t][i].key);
            if (was && was->term == after.e[t][i].term) continue;
            FZ_REQUIRE(bsearch(&after.e[t][i].key, su, nu, sizeof *su, u64_cmp) != NULL,
                       "apply %s %s key %" PRIu64 " of table %u, but the upserted list (%zu keys) leaves it out", podsync_status_name(st),
                       was ? "changed" : "inserted", after.e[t][i].key, id, nu);
        }
        for (size_t i = 0; i < before->n[t]; i++) {
            if (snap_find(&after, t, before->e[t][i].key)) continue;
            FZ_REQUIRE(bsearch(&before->e[t][i].key, sd, nd, sizeof *sd, u64_cmp) != NULL,
                       "apply %s removed key %" PRIu64 " of table %u, but the deleted list (%zu keys) leaves it out", podsync_status_name(st),
                       before->e[t][i].key, id, nd);
        }
        for (size_t i = 0; i < nu; i++)
            FZ_REQUIRE(snap_find(&after, t, up[i]) != NULL, "apply %s lists key %" PRIu64 " of table %u as upserted; the table lacks it",
                       podsync_status_name(st), up[i], id);
        for (size_t i = 0; i < nd; i++)
            FZ_REQUIRE(!snap_find(&after, t, del[i]) || bsearch(&del[i], su, nu, sizeof *su, u64_cmp),
                       "apply %s lists key %" PRIu64 " of table %u as deleted (not upserted); the table holds it", podsync_status_name(st),
                       del[i], id);
        free(su);
        free(sd);
    }
    snap_free(&after);
}

/* An apply on the replica (fz_apply_checked_ex), the writer left alone, change events checked. */
static int32_t apply_checked(fz_pair *p, const uint8_t *frame, size_t size) {
    int tracking = (p->cfg & FZ_PAIR_TRACK) != 0;
    tables_snap before;
    if (tracking) snap_take(p->replica, p->schema, &before);
    fz_state bw = fz_capture(p->writer, p->schema);
    int32_t st = fz_apply_checked_ex(p->replica, p->schema, frame, size, p->replica_flags);
    fz_state aw = fz_capture(p->writer, p->schema);
    fz_require_same(&bw, &aw, "the writer, while the replica applied a frame");
    if (tracking) {
        check_changes(p, &before, st);
        snap_free(&before);
    }
    if (st >= 0 || st == PODSYNC_E_DIGEST_MISMATCH || st == PODSYNC_E_REPAIR_STALE || st == PODSYNC_E_DIVERGED) {
        int32_t v = podsync_frame_validate(frame, size, NULL);
        FZ_REQUIRE(v == PODSYNC_OK, "apply returned %s but podsync_frame_validate %s", podsync_status_name(st), podsync_status_name(v));
    }
    return st;
}

/* Where a message goes: a responder's HASHES to the replica, everything else to the writer. */
static int natural_side(const uint8_t *m, size_t size) {
    fz_recon r;
    return fz_recon_parse(m, size, &r) == 0 && r.has_summary && r.mode == FZ_SUMMARY_RESPONDER_HASHES ? REPLICA : WRITER;
}

/* A message to `side` (taken: freed here); repairs answered go to the replica's apply; with follow,
   summaries answered go on to the other side. */
static void exchange(fz_pair *p, int side, uint8_t *m, size_t size, int follow) {
    for (int round = 0;; round++) {
        uint8_t *answer = NULL;
        size_t asize = 0;
        reconcile_checked(p, side, m, size, &answer, &asize);
        free(m);
        if (!answer) return;
        if (fz_rd16(answer + FZ_V2_OFF_FLAGS) & FZ_V2_FLAG_REPAIR) {
            apply_checked(p, answer, asize);
            free(answer);
            return;
        }
        if (!follow || round >= FOLLOW_ROUNDS) {
            free(answer);
            return;
        }
        m = answer;
        size = asize;
        side = natural_side(m, size);
    }
}

/* An honest exchange from a fresh summary of the replica, with nothing changing meanwhile: it heals
   the replica (docs/FORMAT.md, "Repair frames"; include/podsync.h, "Reconciliation"). */
static void heal(fz_pair *p, unsigned level) {
    podsync_store_info wi = info_of(p->writer), ri = info_of(p->replica);
    /* a replica of a newer term of the writer's stream refuses its repairs (TERM_FENCED) */
    int strict = !(ri.stream_id == wi.stream_id && ri.term > wi.term);
    fz_state before = fz_capture(p->replica, p->schema);
    podsync_store_info ib = info_of(p->replica);
    size_t n = 0;
    int32_t st = podsync_store_summary(p->replica, level, &n);
    FZ_REQUIRE(st == PODSYNC_OK && n == 1, "podsync_store_summary(level %u) returned %s with %zu frames (%s)", level,
               podsync_status_name(st), n, podsync_store_errmsg(p->replica));
    fz_state after = fz_capture(p->replica, p->schema);
    podsync_store_info ia = info_of(p->replica);
    require_unchanged(&before, &after, &ib, &ia, "podsync_store_summary: the replica");
    const uint8_t *f = NULL;
    size_t size = 0;
    FZ_OK(podsync_store_frame(p->replica, 0, &f, &size));
    uint8_t *m = copy_bytes(f, size);
    msgv sv;
    msg_read(&sv, m, size);
    check_produced(p, REPLICA, &sv, "podsync_store_summary");
    check_whole_summary(p, REPLICA, &sv, level, "podsync_store_summary");
    msg_free(&sv);
    int side = WRITER, restarts = 0;
    for (int round = 0; round < HEAL_ROUNDS; round++) {
        uint8_t *answer = NULL;
        size_t asize = 0;
        st = reconcile_checked(p, side, m, size, &answer, &asize);
        free(m);
        m = NULL;
        FZ_REQUIRE(!strict || st == PODSYNC_OK, "honest exchange, round %d: the %s answered %s (%s)", round, k_side[side],
                   podsync_status_name(st), podsync_store_errmsg(store_of(p, side)));
        if (st != PODSYNC_OK) return;
        if (!answer) {
            FZ_REQUIRE(side == WRITER, "honest exchange, round %d: the replica answered nothing to the writer's summary", round);
            podsync_store_info w = info_of(p->writer), r = info_of(p->replica);
            FZ_REQUIRE(!strict || (w.digest == r.digest && w.stream_id == r.stream_id && w.term == r.term && w.state_version == r.state_version),
                       "honest exchange, round %d: the writer (digest %016" PRIx64 " stream %016" PRIx64 " term %" PRIu64 " v%" PRIu64
                       ") answered nothing to a replica of digest %016" PRIx64 " stream %016" PRIx64 " term %" PRIu64 " v%" PRIu64,
                       round, w.digest, w.stream_id, w.term, w.state_version, r.digest, r.stream_id, r.term, r.state_version);
            return;
        }
        if (fz_rd16(answer + FZ_V2_OFF_FLAGS) & FZ_V2_FLAG_REPAIR) {
            FZ_REQUIRE(side == WRITER, "honest exchange: the replica answered with a repair");
            st = apply_checked(p, answer, asize);
            free(answer);
            podsync_store_info w = info_of(p->writer), r = info_of(p->replica);
            FZ_REQUIRE(!strict || (st == PODSYNC_OK && w.digest == r.digest && w.state_version == r.state_version),
                       "honest exchange, round %d: the writer's repair applied %s (%s): replica digest %016" PRIx64 " v%" PRIu64
                       ", the writer's %016" PRIx64 " v%" PRIu64, round, podsync_status_name(st), podsync_store_errmsg(p->replica),
                       r.digest, r.state_version, w.digest, w.state_version);
            return;
        }
        if (side == REPLICA) {
            fz_recon r;
            if (fz_recon_parse(answer, asize, &r) == 0 && r.in_reply_to == 0) restarts++;
        }
        m = answer;
        size = asize;
        side = side == WRITER ? REPLICA : WRITER;
    }
    free(m);
    FZ_REQUIRE(!strict, "honest exchange (summary level %u) did not end in %d rounds (the replica started over %d times): "
               "writer v%" PRIu64 " digest %016" PRIx64 ", replica v%" PRIu64 " digest %016" PRIx64, level, HEAL_ROUNDS, restarts,
               wi.state_version, wi.digest, ri.state_version, ri.digest);
}

/* ------------------------------------------------------------------------------------------ */
/* libFuzzer                                                                                  */
/* ------------------------------------------------------------------------------------------ */

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    uint64_t rng = seed;
    fz_container c;
    if (fz_container_parse(data, size, &c) >= 1 && fz_below(&rng, 6) == 0) {
        /* the actions: a bit flipped, or a byte set */
        uint8_t routes[FZ_MAX_FRAMES];
        memset(routes, 0, sizeof routes);
        size_t n = c.size[0] < FZ_MAX_FRAMES ? c.size[0] : FZ_MAX_FRAMES;
        memcpy(routes, c.frame[0], n);
        size_t k = fz_below(&rng, FZ_MAX_FRAMES - 1);
        if (fz_below(&rng, 3)) routes[k] ^= (uint8_t)(1u << fz_below(&rng, 8));
        else routes[k] = (uint8_t)fz_next(&rng);
        if (n < k + 1) n = k + 1;
        const uint8_t *frames[FZ_MAX_FRAMES];
        size_t sizes[FZ_MAX_FRAMES];
        frames[0] = routes;
        sizes[0] = n;
        for (size_t i = 1; i < c.count; i++) {
            frames[i] = c.frame[i];
            sizes[i] = c.size[i];
        }
        uint8_t *out = malloc(max_size);
        FZ_REQUIRE(out != NULL, "out of memory");
        size_t written = fz_container_write(out, max_size, c.cfg, frames, sizes, c.count);
        if (written) memcpy(data, out, written);
        free(out);
        if (written) return written;
    }
    return fz_mutate_container(data, size, max_size, seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_container c;
    if (fz_container_parse(data, size, &c) == 0) return 0;
    fz_pair p;
    fz_pair_create(&p, c.cfg);
    const uint8_t *routes = c.frame[0];
    size_t nroutes = c.size[0];
    for (size_t i = 1; i < c.count; i++) {
        uint8_t act = i - 1 < nroutes ? routes[i - 1] : 0;
        if (act & FZ_RC_STEP) fz_pair_writer_step(&p);
        if (act & FZ_RC_PENDING) fz_pair_writer_pending(&p);
        if (act & FZ_RC_DELIVER)
            for (size_t k = 0; k < p.kept; k++) apply_checked(&p, p.frame[k], p.size[k]);
        if (act & FZ_RC_REVERT) fz_pair_writer_revert(&p);
        if (act & FZ_RC_HEAL) heal(&p, (unsigned)((i - 1) % 4));
        /* an exact-size heap copy, so ASan sees any read past the message */
        uint8_t *m = copy_bytes(c.frame[i], c.size[i]);
        if (act & FZ_RC_APPLY) {
            apply_checked(&p, m, c.size[i]);
            free(m);
        } else {
            int side = natural_side(m, c.size[i]) ^ ((act & FZ_RC_OTHER) ? 1 : 0);
            exchange(&p, side, m, c.size[i], (act & FZ_RC_FOLLOW) != 0);
        }
    }
    fz_pair_free(&p);
    return 0;
}
