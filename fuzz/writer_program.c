/*
 * writer_program.c — libFuzzer target `writer_program`: the input is a program of writer
 * operations, run on a writer against an independent model, with every frame checked.
 *
 * Program: byte 0 picks the compression level among {0, 1, -1, 3, 19}; byte 1 the transforms
 * (& 15); byte 2 the schema (bits 0-1), small frames (bit 2: max_frame_bytes 256/512/1024/4096 by
 * bits 3-4, else unlimited), no frame digests (bit 5), a short tombstone horizon (bit 6: 4 versions
 * and, with library 0.4.0, at most 16 tombstones). Then operations, one byte each plus operands
 * (keys, counts, record kinds and record bytes come from the input): put, put_many, delete,
 * delete_many, flush, catch up the lagging replica, delta_since an arbitrary version, snapshot,
 * collect samples / train a dictionary, a replica serving frames, replaying a frame, reads.
 *
 * Checked, abort() on a violation:
 *   - every frame produced (flush, delta_since, snapshot, on the writer or served by a replica)
 *     passes podsync_frame_validate (DICTIONARY_MISSING only for a frame naming a trained
 *     dictionary) and has the expected kind, versions, stream, schema hash and alignment;
 *   - flush frames apply in order (PODSYNC_OK) to a replica kept in step, a frame larger than
 *     max_frame_bytes holds a single change, and after each flush the replica's digest, the
 *     writer's digest and the model's digest (docs/FORMAT.md, computed here) are equal;
 *   - catch-up deltas bring the lagging replica to the writer's digest; SNAPSHOT_REQUIRED comes
 *     exactly below catchup_floor; a version ahead is PODSYNC_E_VERSION_AHEAD; snapshots rebuild
 *     the writer's digest on a fresh replica; a replayed frame is DUPLICATE and changes nothing;
 *   - write statuses agree with the model (NOT_FOUND, deleted counts), reads return its records;
 *   - at the end, after a last flush, every record of the in-step replica equals the model's.
 * Every apply also goes through fz_apply_checked (unchanged state on rejection, digest recomputed).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------------------------------ */
/* Input reader                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct reader {
    const uint8_t *p;
    size_t n, pos;
} reader;

static uint8_t u8(reader *r) { return r->pos < r->n ? r->p[r->pos++] : 0; }
static int more(const reader *r) { return r->pos < r->n; }

static uint64_t read_key(reader *r) {
    static const uint64_t wide[16] = {1ull << 32, 1ull << 63, UINT64_MAX - 255, 0xFFFF, 1ull << 40, 1000, 1ull << 20,
                                      0x8000000000000000ull - 128, 5000, 1ull << 56, 123456789, 1ull << 16, 70000,
                                      1ull << 48, 300, 1ull << 33};
    uint8_t b = u8(r);
    if (b < 0xF0) return b;
    return wide[b & 15] + u8(r);
}

/* ------------------------------------------------------------------------------------------ */
/* The run                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct run {
    unsigned schema;
    const fz_schema_desc *desc;
    int32_t level;
    uint32_t transforms;
    uint64_t max_frame_bytes;
    int digests;
    uint64_t stream;
    podsync_store *w, *r, *lag; /* writer, replica in step, lagging replica */
    model_table model[FZ_MAX_TABLES];
    uint32_t dict_ids[16];
    size_t dict_count, trains;
    uint8_t *last; /* a copy of the last flush frame */
    size_t last_size;
    uint64_t rng;
} run;

static podsync_store_options run_options(const run *x, uint8_t b2) {
    podsync_store_options o = fz_options(x->level, x->transforms, x->max_frame_bytes);
    if (!x->digests) o.flags &= ~PODSYNC_OPT_FRAME_DIGEST;
    if (b2 & 0x40) {
        o.tombstone_horizon = 4;
#ifdef PODSYNC_E_LIMIT
        o.max_tombstones = 16;
#endif
    }
    return o;
}

/* A fresh replica with every dictionary the writer trained. */
static podsync_store *fresh_replica(const run *x) {
    podsync_schema *s = fz_schema_new(x->schema);
    podsync_store_options o = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    podsync_store *r = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &r));
    podsync_schema_free(s);
    const void *dict = NULL;
    size_t size = 0;
    if (podsync_store_dictionary(x->w, &dict, &size, NULL) == PODSYNC_OK) FZ_OK(podsync_store_load_dictionary(r, dict, size, NULL));
    return r;
}

static int trained(const run *x, uint32_t id) {
    for (size_t i = 0; i < x->dict_count; i++)
        if (x->dict_ids[i] == id) return 1;
    return 0;
}

/* Every frame produced must be valid and be what was asked for. */
/* `stream`: the stream the producing store writes, the writer's, or the one a replica follows (none,
   0, before its first frame: a replica writes the stream it follows). */
static void check_frame(const run *x, const char *what, const uint8_t *f, size_t n, uint64_t stream, uint64_t base,
                        uint64_t state, int reset) {
    /* the header as peek reads it (validate fills info on failure only since library 0.4.0) */
    podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
    FZ_REQUIRE(podsync_frame_peek(f, n, &info) == PODSYNC_OK, "%s frame (%zu bytes): podsync_frame_peek rejects it", what, n);
    int32_t st = podsync_frame_validate(f, n, NULL);
    FZ_REQUIRE(st == PODSYNC_OK || (st == PODSYNC_E_DICTIONARY_MISSING && trained(x, info.dictionary_id)),
               "%s frame (%zu bytes, codec %u, transforms 0x%x, dictionary %u; writer level %d transforms 0x%x) fails "
               "validation: %s",
               what, n, info.codec, info.transforms, info.dictionary_id, (int)x->level, x->transforms, podsync_status_name(st));
    fz_validate_limited_fn limited = fz_validate_limited();
    if (limited) {
        int32_t l0 = limited(f, n, 0, NULL);
        FZ_REQUIRE(l0 == st, "%s frame: validate_limited(0) %s, validate %s", what, podsync_status_name(l0), podsync_status_name(st));
    }
    FZ_REQUIRE((uintptr_t)f % 64 == 0, "%s frame at %p is not 64-byte aligned", what, (const void *)f);
    FZ_REQUIRE(info.frame_length == n, "%s frame: frame_length %" PRIu64 ", size %zu", what, info.frame_length, n);
    FZ_REQUIRE(((info.flags & PODSYNC_FRAME_RESET) != 0) == reset && info.base_version == base && info.state_version == state,
               "%s frame: flags %x, versions %" PRIu64 "->%" PRIu64 ", expected %s %" PRIu64 "->%" PRIu64, what, info.flags,
               info.base_version, info.state_version, reset ? "RESET" : "delta", base, state);
    FZ_REQUIRE(info.stream_id == stream && info.schema_hash == fz_schema_hash(x->schema),
               "%s frame: stream %016" PRIx64 " schema %016" PRIx64, what, info.stream_id, info.schema_hash);
    FZ_REQUIRE(((info.flags & PODSYNC_FRAME_HAS_DIGEST) != 0) == x->digests, "%s frame: flags %x with digests %s", what,
               info.flags, x->digests ? "on" : "off");
    FZ_REQUIRE(x->level != 0 || (info.codec == 0 && info.transforms == 0), "%s frame: codec %u transforms 0x%x at level 0",
               what, info.codec, info.transforms);
    FZ_REQUIRE((info.transforms & ~x->transforms) == 0 || x->level == 0,
               "%s frame uses transforms 0x%x, the writer allows 0x%x", what, info.transforms, x->transforms);
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    FZ_OK(podsync_store_digest(s, &d));
    return d;
}

static podsync_store_info info_of(const podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    FZ_OK(podsync_store_info_get(s, &i));
    return i;
}

static uint64_t records_applied(const podsync_store *s) {
    podsync_metrics m;
    memset(&m, 0, sizeof m);
    m.version = PODSYNC_METRICS_VERSION;
    FZ_OK(podsync_store_metrics(s, &m));
    return m.records_applied;
}

static void make_record(run *x, reader *in, model_table *m, uint64_t key, unsigned kind, uint8_t *out) {
    if (kind % 5 == 4) { /* bytes from the input */
        for (uint32_t i = 0; i < m->rs; i++) out[i] = u8(in);
    } else {
        fz_make_record(out, m->rs, key, model_get(m, key), kind, &x->rng);
    }
}

static void op_flush(run *x) {
    uint64_t v0 = info_of(x->w).state_version;
    size_t n = 0;
    int32_t st = podsync_store_flush(x->w, &n);
    FZ_REQUIRE(st == PODSYNC_OK, "flush returned %s: %s", podsync_status_name(st), podsync_store_errmsg(x->w));
    podsync_store_info wi = info_of(x->w);
    FZ_REQUIRE(wi.state_version == v0 + n && wi.pending_changes == 0, "flush of %zu frames: version %" PRIu64 " -> %" PRIu64
               ", %" PRIu64 " changes pending", n, v0, wi.state_version, wi.pending_changes);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        FZ_OK(podsync_store_frame(x->w, i, &f, &size));
        check_frame(x, "flush", f, size, x->stream, v0 + i, v0 + i + 1, 0);
        uint64_t applied = records_applied(x->r);
        st = fz_apply_checked(x->r, x->desc, f, size);
        FZ_REQUIRE(st == PODSYNC_OK, "flush frame %zu of %zu (%zu bytes, v%" PRIu64 "): apply returned %s: %s", i, n, size,
                   v0 + i + 1, podsync_status_name(st), podsync_store_errmsg(x->r));
        uint64_t changes = records_applied(x->r) - applied;
        FZ_REQUIRE(x->max_frame_bytes == 0 || size <= x->max_frame_bytes || changes == 1,
                   "flush frame of %zu bytes holds %" PRIu64 " changes; max_frame_bytes %" PRIu64, size, changes, x->max_frame_bytes);
        if (i + 1 == n) {
            free(x->last);
            x->last = malloc(size);
            FZ_REQUIRE(x->last != NULL, "out of memory");
            memcpy(x->last, f, size);
            x->last_size = size;
        }
    }
    uint64_t dw = digest_of(x->w), dr = digest_of(x->r), dm = model_digest(x->model, x->desc->table_count);
    FZ_REQUIRE(dw == dm, "after flush: writer digest %016" PRIx64 ", model %016" PRIx64, dw, dm);
    FZ_REQUIRE(dr == dw, "after flush: replica digest %016" PRIx64 ", writer %016" PRIx64, dr, dw);
}

/* Brings `to` to the writer's (or `from`'s) state with a catch-up delta, or a snapshot. */
static void catch_up(run *x, podsync_store *from, podsync_store *to, const char *what) {
    podsync_store_info fi = info_of(from), ti = info_of(to);
    size_t n = 0;
    int32_t st = podsync_store_delta_since(from, ti.state_version, &n);
    int snapshot = st == PODSYNC_SNAPSHOT_REQUIRED;
    if (snapshot) {
        FZ_REQUIRE(n == 0 && ti.state_version < fi.catchup_floor, "%s: SNAPSHOT_REQUIRED for version %" PRIu64
                   " with catchup_floor %" PRIu64, what, ti.state_version, fi.catchup_floor);
        st = podsync_store_snapshot(from, &n);
        FZ_REQUIRE(st == PODSYNC_OK && n == 1, "%s: snapshot returned %s, %zu frames", what, podsync_status_name(st), n);
    } else {
        FZ_REQUIRE(st == PODSYNC_OK, "%s: delta_since(%" PRIu64 ") returned %s: %s", what, ti.state_version, podsync_status_name(st),
                   podsync_store_errmsg(from));
        FZ_REQUIRE(ti.state_version == 0 || ti.state_version >= fi.catchup_floor,
                   "%s: delta since %" PRIu64 " served below catchup_floor %" PRIu64, what, ti.state_version, fi.catchup_floor);
        FZ_REQUIRE(n == (ti.state_version < fi.state_version ? 1u : 0u) || (ti.state_version == 0 && n == 1),
                   "%s: delta_since(%" PRIu64 ") at %" PRIu64 " made %zu frames",
                   what, ti.state_version, fi.state_version, n);
    }
    if (n == 1) {
        const uint8_t *f = NULL;
        size_t size = 0;
        FZ_OK(podsync_store_frame(from, 0, &f, &size));
        /* a snapshot, or a delta since the replica's version (since 0: a snapshot too) */
        int reset = snapshot || ti.state_version == 0;
        check_frame(x, what, f, size, fi.stream_id, reset ? 0 : ti.state_version, fi.state_version, reset);
        st = fz_apply_checked(to, x->desc, f, size);
        /* at the same version already (the since-0 snapshot at version 0): DUPLICATE */
        int same = ti.state_version == fi.state_version && ti.stream_id == fi.stream_id && ti.stream_id != 0;
        FZ_REQUIRE(st == PODSYNC_OK || (same && st == PODSYNC_DUPLICATE), "%s: apply returned %s: %s", what, podsync_status_name(st),
                   podsync_store_errmsg(to));
    }
    FZ_REQUIRE(digest_of(to) == digest_of(from), "%s: digest %016" PRIx64 ", source %016" PRIx64, what, digest_of(to),
               digest_of(from));
}

static void op_delta_since(run *x, reader *in) {
    podsync_store_info wi = info_of(x->w);
    uint64_t v = u8(in) % (wi.state_version + 2);
    size_t n = 99;
    int32_t st = podsync_store_delta_since(x->w, v, &n);
    if (v > wi.state_version) {
        FZ_REQUIRE(st == PODSYNC_E_VERSION_AHEAD, "delta_since(%" PRIu64 ") at version %" PRIu64 " returned %s", v, wi.state_version,
                   podsync_status_name(st));
        return;
    }
    if (v > 0 && v < wi.catchup_floor) {
        FZ_REQUIRE(st == PODSYNC_SNAPSHOT_REQUIRED, "delta_since(%" PRIu64 ") below catchup_floor %" PRIu64 " returned %s", v,
                   wi.catchup_floor, podsync_status_name(st));
        return;
    }
    /* since 0 "produces a snapshot", even at version 0 (where since == version would mean none) */
    FZ_REQUIRE(st == PODSYNC_OK && (n == (v < wi.state_version ? 1u : 0u) || (v == 0 && n == 1)),
               "delta_since(%" PRIu64 ") at version %" PRIu64 " (floor %" PRIu64 ") returned %s, %zu frames", v, wi.state_version,
               wi.catchup_floor, podsync_status_name(st), n);
    if (n == 0) return;
    const uint8_t *f = NULL;
    size_t size = 0;
    FZ_OK(podsync_store_frame(x->w, 0, &f, &size));
    check_frame(x, v == 0 ? "delta_since(0)" : "delta_since", f, size, x->stream, v, wi.state_version, v == 0);
    if (v == 0) {
        podsync_store *fresh = fresh_replica(x);
        st = fz_apply_checked(fresh, x->desc, f, size);
        FZ_REQUIRE(st == PODSYNC_OK && digest_of(fresh) == wi.digest, "delta_since(0) on a fresh replica: %s, digest %016" PRIx64
                   ", writer %016" PRIx64, podsync_status_name(st), digest_of(fresh), wi.digest);
        podsync_store_free(fresh);
    }
}

static void op_snapshot(run *x, podsync_store *from, const char *what) {
    podsync_store_info fi = info_of(from);
    size_t n = 0;
    int32_t st = podsync_store_snapshot(from, &n);
    FZ_REQUIRE(st == PODSYNC_OK && n == 1, "%s: snapshot returned %s, %zu frames", what, podsync_status_name(st), n);
    const uint8_t *f = NULL;
    size_t size = 0;
    FZ_OK(podsync_store_frame(from, 0, &f, &size));
    check_frame(x, what, f, size, fi.stream_id, 0, fi.state_version, 1);
    podsync_store *fresh = fresh_replica(x);
    st = fz_apply_checked(fresh, x->desc, f, size);
    FZ_REQUIRE(st == PODSYNC_OK && digest_of(fresh) == fi.digest, "%s on a fresh replica: %s, digest %016" PRIx64 ", source %016" PRIx64,
               what, podsync_status_name(st), digest_of(fresh), fi.digest);
    podsync_store_free(fresh);
}

static void op_dictionary(run *x, reader *in) {
    uint8_t b = u8(in);
    if (b % 2 == 0) {
        int32_t st = podsync_store_collect_samples(x->w, 256 << 10);
        FZ_REQUIRE(x->level != 0 ? st == PODSYNC_OK : st == PODSYNC_E_INVALID_ARGUMENT, "collect_samples at level %d returned %s",
                   (int)x->level, podsync_status_name(st));
        return;
    }
    if (x->trains >= 2) return; /* training takes milliseconds: keep programs fast */
    x->trains++;
    static const size_t sizes[4] = {0, 256, 1024, 4096};
    uint32_t id = 0;
    int32_t st = podsync_store_train_dictionary(x->w, sizes[(b >> 1) % 4], &id);
    if (st != PODSYNC_OK) {
        FZ_REQUIRE(st == PODSYNC_E_INVALID_ARGUMENT, "train_dictionary returned %s: %s", podsync_status_name(st),
                   podsync_store_errmsg(x->w));
        return;
    }
    const void *dict = NULL;
    size_t size = 0;
    uint32_t cur = 0;
    FZ_OK(podsync_store_dictionary(x->w, &dict, &size, &cur));
    FZ_REQUIRE(cur == id && id != 0, "trained dictionary %u, current %u", id, cur);
    if (x->dict_count < 16) x->dict_ids[x->dict_count++] = id;
    uint32_t lid = 0;
    FZ_OK(podsync_store_load_dictionary(x->r, dict, size, &lid));
    FZ_REQUIRE(lid == id, "the trained dictionary loads as id %u, trained %u", lid, id);
    FZ_OK(podsync_store_load_dictionary(x->lag, dict, size, NULL));
}

static void op_replay(run *x) {
    if (!x->last) return;
    int32_t st = fz_apply_checked(x->r, x->desc, x->last, x->last_size);
    FZ_REQUIRE(st == PODSYNC_DUPLICATE, "replaying the last flush frame to the replica in step returned %s", podsync_status_name(st));
    st = fz_apply_checked(x->lag, x->desc, x->last, x->last_size);
    FZ_REQUIRE(st == PODSYNC_OK || st == PODSYNC_DUPLICATE || st == PODSYNC_GAP,
               "the last flush frame on the lagging replica returned %s: %s", podsync_status_name(st), podsync_store_errmsg(x->lag));
}

static void op_read(run *x, reader *in) {
    size_t t = u8(in) % x->desc->table_count;
    uint64_t key = read_key(in);
    const void *got = NULL;
    int32_t st = podsync_store_get(x->w, x->model[t].id, key, &got);
    const uint8_t *want = model_get(&x->model[t], key);
    FZ_REQUIRE(want ? (st == PODSYNC_OK && got && memcmp(got, want, x->model[t].rs) == 0) : (st == PODSYNC_NOT_FOUND && !got),
               "get(table %u, key %" PRIu64 ") on the writer returned %s; the model %s it", x->model[t].id, key,
               podsync_status_name(st), want ? "has" : "lacks");
    size_t count = 0;
    FZ_OK(podsync_store_count(x->w, x->model[t].id, &count));
    FZ_REQUIRE(count == x->model[t].count, "writer table %u holds %zu records, the model %zu", x->model[t].id, count,
               x->model[t].count);
}

static void run_program(run *x, reader *in) {
    uint8_t rec[FZ_MAX_RECORD];
    uint64_t keys[96];
    uint8_t *many = malloc(96 * FZ_MAX_RECORD);
    FZ_REQUIRE(many != NULL, "out of memory");
    for (int ops = 0; ops < 400 && more(in); ops++) {
        uint8_t op = u8(in) % 14;
        size_t t = u8(in) % x->desc->table_count;
        model_table *m = &x->model[t];
        switch (op) {
        case 0: case 1: case 2: {
            uint64_t key = read_key(in);
            make_record(x, in, m, key, u8(in), rec);
            int32_t st = podsync_store_put(x->w, m->id, key, rec, m->rs);
            FZ_REQUIRE(st >= 0, "put(table %u, key %" PRIu64 ") returned %s: %s", m->id, key, podsync_status_name(st),
                       podsync_store_errmsg(x->w));
            model_put(m, key, rec);
            break;
        }
        case 3: {
            size_t count = 1 + u8(in) % 96;
            uint64_t base = read_key(in), stride = u8(in) % 9;
            unsigned kind = u8(in);
            for (size_t i = 0; i < count; i++) {
                keys[i] = base + i * stride;
                make_record(x, in, m, keys[i], kind, many + i * m->rs);
            }
            int32_t st = podsync_store_put_many(x->w, m->id, keys, many, count, count * m->rs);
            FZ_REQUIRE(st >= 0, "put_many(table %u, %zu keys) returned %s: %s", m->id, count, podsync_status_name(st),
                       podsync_store_errmsg(x->w));
            for (size_t i = 0; i < count; i++) model_put(m, keys[i], many + i * m->rs);
            break;
        }
        case 4: {
            uint64_t key = read_key(in);
            int had = model_delete(m, key);
            int32_t st = podsync_store_delete(x->w, m->id, key);
            FZ_REQUIRE(had ? st >= 0 && st != PODSYNC_NOT_FOUND : st == PODSYNC_NOT_FOUND,
                       "delete(table %u, key %" PRIu64 ") returned %s; the model %s it", m->id, key, podsync_status_name(st),
                       had ? "had" : "lacked");
            break;
        }
        case 5: {
            size_t count = 1 + u8(in) % 64, expected = 0, deleted = 0;
            uint64_t base = read_key(in), stride = u8(in) % 9;
            for (size_t i = 0; i < count; i++) {
                keys[i] = base + i * stride;
                expected += (size_t)model_delete(m, keys[i]);
            }
            int32_t st = podsync_store_delete_many(x->w, m->id, keys, count, &deleted);
            FZ_REQUIRE(st >= 0 && deleted == expected, "delete_many(table %u, %zu keys) returned %s, %zu deleted; the model %zu",
                       m->id, count, podsync_status_name(st), deleted, expected);
            break;
        }
        case 6: case 7:
            op_flush(x);
            break;
        case 8:
            catch_up(x, x->w, x->lag, "catch-up");
            break;
        case 9:
            op_delta_since(x, in);
            break;
        case 10:
            op_snapshot(x, x->w, "snapshot");
            break;
        case 11:
            op_dictionary(x, in);
            break;
        case 12: /* the replica in step serves: a snapshot, or a catch-up of the lagging replica */
            /* Not before it follows a stream: it would write frames of stream 0, which writers must
               not use (docs/FORMAT.md); the library does, and such a snapshot leaves the replica
               that applies it on its old stream. Reported; kept out of the way of other finds. */
            if (info_of(x->r).stream_id == 0) break;
            if (t == 0) op_snapshot(x, x->r, "replica snapshot");
            else catch_up(x, x->r, x->lag, "catch-up from the replica");
            break;
        default:
            if (t == 0) op_replay(x);
            else op_read(x, in);
            break;
        }
    }
    free(many);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int32_t levels[5] = {0, 1, -1, 3, 19};
    static const uint64_t frame_sizes[4] = {256, 512, 1024, 4096};
    if (size < 3) return 0;
    reader in = {data, size, 3};
    run x;
    memset(&x, 0, sizeof x);
    x.level = levels[data[0] % 5];
    x.transforms = data[1] & PODSYNC_TRANSFORM_ALL;
    x.schema = data[2] & 3;
    x.desc = fz_schema_desc_get(x.schema);
    x.max_frame_bytes = (data[2] & 4) ? frame_sizes[(data[2] >> 3) & 3] : 0;
    x.digests = !(data[2] & 0x20);
    x.rng = size;
    podsync_store_options o = run_options(&x, data[2]);
    x.stream = o.stream_id;
    podsync_schema *s = fz_schema_new(x.schema);
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &x.w));
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &x.r));
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &x.lag));
    podsync_schema_free(s);
    for (size_t t = 0; t < x.desc->table_count; t++) model_init(&x.model[t], &x.desc->tables[t]);

    run_program(&x, &in);

    /* the end: a last flush and catch-up, then every record of the replica equals the model's */
    op_flush(&x);
    catch_up(&x, x.w, x.lag, "final catch-up");
    for (size_t t = 0; t < x.desc->table_count; t++) {
        model_table *m = &x.model[t];
        size_t count = 0;
        FZ_OK(podsync_store_count(x.r, m->id, &count));
        FZ_REQUIRE(count == m->count, "replica table %u holds %zu records, the model %zu", m->id, count, m->count);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->used[i]) continue;
            const void *got = NULL;
            int32_t st = podsync_store_get(x.r, m->id, m->keys[i], &got);
            FZ_REQUIRE(st == PODSYNC_OK && memcmp(got, m->recs + i * m->rs, m->rs) == 0,
                       "replica table %u key %" PRIu64 ": %s, record %s the model's", m->id, m->keys[i], podsync_status_name(st),
                       st == PODSYNC_OK ? "differs from" : "missing, unlike");
        }
        model_free(m);
    }
    free(x.last);
    podsync_store_free(x.w);
    podsync_store_free(x.r);
    podsync_store_free(x.lag);
    return 0;
}
