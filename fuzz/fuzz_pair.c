/* fuzz_pair.c — see fuzz_pair.h. */
#include "fuzz_pair.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define OTHER_STREAM_ID 0x0DDB0DDB00000002ull

/* The first records of every table: the same for the same seed. */
static void fill(fz_pair *p, podsync_store *w, uint64_t seed) {
    uint64_t rng = seed;
    int large = (p->cfg & FZ_PAIR_LARGE) != 0;
    for (size_t t = 0; t < p->schema->table_count; t++) {
        size_t count = t == 0 ? (large ? 300 : 40) : (large ? 60 : 12);
        uint64_t stride = p->schema_index == 2 ? (1ull << 36) + 1 : 1 + t;
        fz_put_records(w, &p->schema->tables[t], 1 + 1000 * t, stride, count, (unsigned)(t == 0 ? 3 : t), &rng, 0);
    }
}

static void keep_free(fz_pair *p) {
    for (size_t i = 0; i < p->kept; i++) free(p->frame[i]);
    p->kept = 0;
}

static void apply_setup(podsync_store *r, const uint8_t *f, size_t size, const char *who) {
    int32_t st = podsync_store_apply(r, f, size, NULL);
    FZ_REQUIRE(st >= 0 || st == PODSYNC_E_DIGEST_MISMATCH, "setup: %s's apply returned %s (%s)", who, podsync_status_name(st),
               podsync_store_errmsg(r));
}

/* Flushes w: its frames go to the mirror (to_mirror), to the replica and to `also` (when not NULL),
   and are kept. */
static void flush_to(fz_pair *p, podsync_store *w, int to_mirror, int to_replica, podsync_store *also) {
    size_t n = 0;
    FZ_OK(podsync_store_flush(w, &n));
    if (!p->appending) keep_free(p);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        FZ_OK(podsync_store_frame(w, i, &f, &size));
        if (p->kept < FZ_PAIR_MAX_KEPT) {
            p->frame[p->kept] = malloc(size);
            FZ_REQUIRE(p->frame[p->kept] != NULL, "out of memory");
            memcpy(p->frame[p->kept], f, size);
            p->size[p->kept++] = size;
        }
        if (to_mirror) {
            int32_t st = podsync_store_apply(p->mirror, f, size, NULL);
            FZ_REQUIRE(st == PODSYNC_OK, "the mirror's apply of the writer's frame %zu returned %s (%s)", i, podsync_status_name(st),
                       podsync_store_errmsg(p->mirror));
        }
        if (to_replica) apply_setup(p->replica, f, size, "the replica");
        if (also) apply_setup(also, f, size, "a replica");
    }
    if (to_mirror) {
        uint64_t a = 0, b = 0;
        FZ_OK(podsync_store_digest(w, &a));
        FZ_OK(podsync_store_digest(p->mirror, &b));
        FZ_REQUIRE(a == b, "after a flush the writer's digest %016" PRIx64 " differs from its mirror's %016" PRIx64
                   " (a replica given every frame)", a, b);
    }
}

/* Up to n distinct-ish keys of table t of w (copied: writes move the table's arrays). */
static size_t some_keys(fz_pair *p, podsync_store *w, const fz_table *t, uint64_t *out, size_t n) {
    const void *records = NULL;
    const uint64_t *keys = NULL;
    size_t count = 0;
    FZ_OK(podsync_store_table(w, t->id, &records, &keys, &count));
    if (count == 0) return 0;
    for (size_t i = 0; i < n; i++) out[i] = keys[fz_below(&p->rng, count)];
    return n;
}

static void change(fz_pair *p, podsync_store *w, const fz_table *t, uint64_t key, unsigned kind) {
    uint8_t rec[FZ_MAX_RECORD];
    const void *prev = NULL;
    if (podsync_store_get(w, t->id, key, &prev) != PODSYNC_OK) prev = NULL;
    fz_make_record(rec, t->record_size, key, prev, kind, &p->rng);
    FZ_OK(podsync_store_put(w, t->id, key, rec, t->record_size));
}

/* Three changed records, two new ones, a delete; then a flush. */
static void step_on(fz_pair *p, podsync_store *w, int to_mirror, int to_replica, podsync_store *also) {
    const fz_table *first = &p->schema->tables[0], *last = &p->schema->tables[p->schema->table_count - 1];
    uint64_t keys[3];
    size_t n = some_keys(p, w, first, keys, 3);
    for (size_t i = 0; i < n; i++) change(p, w, first, keys[i], 1);
    for (uint64_t i = 0; i < 2; i++) change(p, w, first, (1ull << 40) + p->steps * 8 + i, 2);
    if (some_keys(p, w, last, keys, 1)) {
        int32_t st = podsync_store_delete(w, last->id, keys[0]);
        FZ_REQUIRE(st == PODSYNC_OK, "delete of a key the table lists returned %s", podsync_status_name(st));
    }
    p->steps++;
    flush_to(p, w, to_mirror, to_replica, also);
    if (w == p->writer) p->pending = 0;
}

void fz_pair_writer_step(fz_pair *p) { step_on(p, p->writer, 1, 0, NULL); }

void fz_pair_writer_revert(fz_pair *p) {
    podsync_store *w = p->writer;
    const fz_table *first = &p->schema->tables[0];
    uint64_t key;
    if (!some_keys(p, w, first, &key, 1)) return;
    const void *cur = NULL;
    uint8_t old[FZ_MAX_RECORD];
    FZ_OK(podsync_store_get(w, first->id, key, &cur));
    memcpy(old, cur, first->record_size);
    keep_free(p);
    p->appending = 1;
    change(p, w, first, key, 1);
    flush_to(p, w, 1, 0, NULL);
    FZ_OK(podsync_store_put(w, first->id, key, old, first->record_size));
    flush_to(p, w, 1, 0, NULL);
    p->appending = 0;
    p->pending = 0;
}

void fz_pair_writer_pending(fz_pair *p) {
    podsync_store *w = p->writer;
    const fz_table *first = &p->schema->tables[0], *last = &p->schema->tables[p->schema->table_count - 1];
    uint64_t keys[2];
    if (some_keys(p, w, first, keys, 2)) {
        /* the bytes the key holds: no change (a clean key stays clean) */
        const void *cur = NULL;
        uint8_t rec[FZ_MAX_RECORD];
        FZ_OK(podsync_store_get(w, first->id, keys[0], &cur));
        memcpy(rec, cur, first->record_size);
        FZ_OK(podsync_store_put(w, first->id, keys[0], rec, first->record_size));
        change(p, w, first, keys[1], 1);
    }
    change(p, w, first, (1ull << 41) + p->steps * 8 + fz_below(&p->rng, 8), 0);
    if (some_keys(p, w, last, keys, 1)) podsync_store_delete(w, last->id, keys[0]);
    p->pending = 1;
}

static podsync_store *new_writer(fz_pair *p, uint64_t stream_id, uint64_t horizon) {
    podsync_schema *s = fz_schema_new(p->schema_index);
    podsync_store_options o = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    o.frame_format = p->schema_index % 2 ? 2 : 1;
    o.stream_id = stream_id;
    if (horizon) o.tombstone_horizon = horizon;
    podsync_store *w = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    podsync_schema_free(s);
    return w;
}

static podsync_store *new_replica(fz_pair *p, uint32_t extra_flags, int limits) {
    podsync_schema *s = fz_schema_new(p->schema_index);
    podsync_store_options o = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    o.flags |= extra_flags;
    if (limits) {
        /* as for a replica fed from an untrusted source */
        o.max_decoded_bytes = 32 << 20;
        o.max_records = 1 << 20;
    }
    podsync_store *r = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &r));
    podsync_schema_free(s);
    return r;
}

void fz_pair_create(fz_pair *p, uint8_t cfg) {
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->kind = (cfg & FZ_PAIR_KIND_MASK) >> FZ_PAIR_KIND_SHIFT;
    p->schema_index = cfg & FZ_PAIR_SCHEMA_MASK;
    p->schema = fz_schema_desc_get(p->schema_index);
    p->rng = 0x5EC0 + cfg;
    const uint64_t stream = fz_options(0, 0, 0).stream_id;
    const uint64_t seed = 1000 + p->schema_index;
    p->replica_flags = p->kind == FZ_PAIR_ONE_WAY ? PODSYNC_OPT_ONE_WAY : 0;
    p->replica = new_replica(p, p->replica_flags, 1);
    p->mirror = new_replica(p, 0, 0);
    p->writer = new_writer(p, stream, p->kind == FZ_PAIR_FLOOR ? 2 : 0);
    switch (p->kind) {
    case FZ_PAIR_LAG:
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 1, NULL);
        step_on(p, p->writer, 1, 1, NULL);
        step_on(p, p->writer, 1, 0, NULL);
        step_on(p, p->writer, 1, 0, NULL);
        break;
    case FZ_PAIR_SYNC:
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 1, NULL);
        step_on(p, p->writer, 1, 1, NULL);
        step_on(p, p->writer, 1, 1, NULL);
        break;
    case FZ_PAIR_DIVERGED: {
        /* an impostor with the same stream id and the same first version, then its own version 2 */
        podsync_store *impostor = new_writer(p, stream, 0);
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 1, NULL);
        fill(p, impostor, seed);
        flush_to(p, impostor, 0, 0, NULL);
        step_on(p, impostor, 0, 1, NULL);
        step_on(p, p->writer, 1, 1, NULL); /* DUPLICATE */
        step_on(p, p->writer, 1, 1, NULL); /* DIGEST_MISMATCH: diverged */
        podsync_store_free(impostor);
        break;
    }
    case FZ_PAIR_EMPTY:
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 0, NULL);
        step_on(p, p->writer, 1, 0, NULL);
        break;
    case FZ_PAIR_OTHER_STREAM: {
        podsync_store *other = new_writer(p, OTHER_STREAM_ID, 0);
        fill(p, other, seed ^ 0x55);
        flush_to(p, other, 0, 1, NULL);
        step_on(p, other, 0, 1, NULL);
        podsync_store_free(other);
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 0, NULL);
        step_on(p, p->writer, 1, 0, NULL);
        break;
    }
    case FZ_PAIR_FLOOR:
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 1, NULL);
        for (int i = 0; i < 4; i++) step_on(p, p->writer, 1, 0, NULL);
        break;
    case FZ_PAIR_ONE_WAY:
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 1, NULL);
        step_on(p, p->writer, 1, 0, NULL);
        step_on(p, p->writer, 1, 0, NULL);
        step_on(p, p->writer, 1, 1, NULL); /* a gap: the one-way replica goes out of sync */
        break;
    default: { /* FZ_PAIR_TERMS */
        podsync_store *promoted = new_replica(p, 0, 0);
        fill(p, p->writer, seed);
        flush_to(p, p->writer, 1, 1, promoted);
        step_on(p, p->writer, 1, 1, promoted);
        FZ_OK(podsync_store_promote(promoted, 3));
        step_on(p, p->writer, 0, 1, NULL); /* the old writer's version 3, which only the replica takes */
        podsync_store_free(p->writer);
        p->writer = promoted;
        step_on(p, p->writer, 1, 0, NULL);
        break;
    }
    }
    if (cfg & FZ_PAIR_TRACK) FZ_OK(podsync_store_track_changes(p->replica, 1));
    if (cfg & FZ_PAIR_PENDING) fz_pair_writer_pending(p);
}

void fz_pair_free(fz_pair *p) {
    keep_free(p);
    podsync_store_free(p->writer);
    podsync_store_free(p->replica);
    podsync_store_free(p->mirror);
    memset(p, 0, sizeof *p);
}
