/*
 * writer_program.c — libFuzzer target `writer_program`: the input is a program of writer
 * operations, run on a writer against an independent model, with every frame checked.
 *
 * Program: byte 0 picks the compression level among {0, 1, -1, 3, 19}; byte 1 the transforms
 * (bits 0-3), frame format 2 for every frame (bit 4), a rolling refresh (bits 5-6:
 * refresh_flushes 0 (off), 1, 3 or 8) and refresh_ms 20 (bit 7, with a refresh); byte 2 the schema
 * (bits 0-1), small frames (bit 2: max_frame_bytes 256/512/1024/4096 by bits 3-4, else unlimited),
 * no frame digests (bit 5), a short tombstone horizon (bit 6: 4 versions and at most 16
 * tombstones), a one-way replica fed with the flush frames (bit 7). Then operations, one byte each
 * plus operands (keys, counts, record kinds and record bytes come from the input): put, put_many,
 * delete, delete_many, flush, catch up the lagging replica, delta_since an arbitrary version,
 * snapshot, collect samples / train a dictionary, a replica serving frames, replaying a frame,
 * reads, a chunked snapshot streamed with podsync_snapshot_begin/next (while the program goes on
 * writing and flushing) to a receiver that stages it, loses chunks, resumes with
 * podsync_snapshot_resume from podsync_store_staging, or abandons it; the clock; losing frames on
 * the way to the one-way replica. (Operands of the chunked snapshot operations: begin's byte picks
 * the producer (bit 0: the replica in step), the receiver (bit 1: the lagging replica, else a
 * fresh one) and max_chunk_bytes (bits 2-4: 0, 512, 600, 1000, 4096, 100, 511, 2048); a step's
 * byte the action (bits 0-2 % 6: deliver, deliver, lose, deliver the last again, resume, close),
 * the chunks (bits 4-5: 1-4) and a resume's chunk size (bit 3: 512/777/3000 by bits 6-7).)
 *
 * Checked, abort() on a violation:
 *   - every frame produced (flush, delta_since, snapshot, chunks, on the writer or served by a
 *     replica) passes podsync_frame_validate (DICTIONARY_MISSING only for a frame naming a trained
 *     dictionary) and has the expected format (2 for chunks and frames with a refresh slice, else
 *     the writer's frame_format), kind, versions, stream, schema hash, digest flag, transforms
 *     (never XOR with a refresh) and alignment;
 *   - flush frames apply in order (PODSYNC_OK) to a replica kept in step, a frame larger than
 *     max_frame_bytes holds a single change (a frame with a slice: its changes), and after each
 *     flush the replica's digest, the writer's digest and the model's digest (docs/FORMAT.md,
 *     computed here) are equal;
 *   - a snapshot (podsync_store_snapshot, delta_since(0)) is one frame exactly when the plain frame
 *     of the state as of the last flush, laid out here from the model (docs/FORMAT.md), fits in
 *     max_frame_bytes; otherwise it is the chunks of a chunked snapshot: indices 0.., each chunk
 *     starting where the previous ended, one snapshot id, the LAST one counting the records of the
 *     model's last flush, each at most max_frame_bytes bytes unless it holds a single record; a
 *     fresh replica stages them (CHUNK_STAGED) and switches at the last (OK) to the writer's digest;
 *   - catch-up deltas: one frame exactly when the plain frame of the changes since that version
 *     (known to the model, which keeps the version of each key's last flushed change and the keys
 *     deleted) fits in max_frame_bytes, else the chunks of a chunked delta (contiguous, counting
 *     the changes in the last one, at most max_frame_bytes unless one holds a single change) that
 *     the lagging replica stages and applies at the last; they bring it to the writer's digest;
 *     SNAPSHOT_REQUIRED comes exactly below catchup_floor; a version ahead is
 *     PODSYNC_E_VERSION_AHEAD; a replayed frame is DUPLICATE and changes nothing;
 *   - chunked snapshot streams: podsync_snapshot_begin refuses chunks below
 *     PODSYNC_MIN_CHUNK_BYTES; podsync_snapshot_position always names the next chunk; chunks
 *     describe the state at the begin (the model's last flush, whatever is written and flushed
 *     meanwhile: copy-on-write), are at most max_chunk_bytes, a plain chunk's keys ascend in hash
 *     order inside its range; after the last, DONE; the receiver's statuses follow rules 1-5 as
 *     modelled here (STAGED, CHUNK_GAP after a lost chunk, DUPLICATE, STALE once it moved past the
 *     snapshot, OK at the switch to the snapshot's digest and record count), its
 *     podsync_store_staging names the chunk it needs, and podsync_snapshot_resume serves it while
 *     the snapshot (or the store at that version) lives, else SNAPSHOT_EXPIRED;
 *     snapshot_bytes_held is 0 once no snapshot is open;
 *   - rolling refresh: the last frame of each flush carries the next slice (passes and slice
 *     indices in order, each slice starting where the previous ended), with at most
 *     max(1, ceil(records / R)) records (and at most half of max_frame_bytes of them); a plain
 *     slice holds exactly the model's records of its range; with refresh_ms, flush_due says
 *     FLUSH_DUE once no slice went out for that long and a flush of an empty batch sends a
 *     refresh-only frame (base = state, no changes), DUPLICATE on the replica in step; the one-way
 *     replica answers REFRESHING while out of sync and, given every frame from a pass's slice 0 to
 *     its last slice (with digests), is in sync with the writer's digest at that last slice;
 *   - write statuses agree with the model (NOT_FOUND, deleted counts), reads return its records;
 *   - at the end, after a last flush, every record of the in-step replica equals the model's.
 * Every apply also goes through fz_apply_checked (unchanged state on rejection, digest recomputed,
 * the staging rules of chunks).
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

/* A chunked snapshot being streamed (podsync_snapshot_begin) and its receiver, modelled. */
typedef struct snap_run {
    int active;
    podsync_snapshot *h;       /* NULL once abandoned */
    podsync_store *src, *rx;   /* the producer, the receiver */
    int src_is_writer, rx_is_lag;
    const char *src_name;
    uint64_t id, version, digest, stream, records; /* what the snapshot describes */
    size_t max_chunk;          /* the handle's chunk limit */
    uint64_t next_index;       /* the chunk the handle produces next, and where it starts */
    uint32_t next_table;
    uint64_t next_key;
    int produced_last;         /* the handle produced the LAST chunk */
    /* the receiver */
    int staged;                /* it stages this snapshot, expecting chunk `expect` at (table, key) */
    uint64_t expect;
    uint32_t rx_table;
    uint64_t rx_key;
    int wanted;                /* nothing staged: it waits for chunk 0 of this snapshot */
    int switched;              /* the receiver switched to the snapshot: the stream is over */
    uint8_t *last;             /* a copy of the last chunk delivered, its index */
    size_t last_size;
    uint64_t last_index;
} snap_run;

typedef struct run {
    unsigned schema;
    const fz_schema_desc *desc;
    int32_t level;
    uint32_t transforms;
    uint64_t max_frame_bytes;
    int digests;
    uint32_t format;           /* 1 or 2: the writer's frame_format */
    uint32_t refresh;          /* refresh_flushes R, 0 = off */
    uint64_t refresh_ms;
    uint64_t stream;
    podsync_store *w, *r, *lag; /* writer, replica in step, lagging replica */
    podsync_store *ow;          /* one-way replica fed with the flush frames (or NULL) */
    model_table model[FZ_MAX_TABLES];
    /* the model as of the last flush */
    size_t flushed_counts[FZ_MAX_TABLES];
    uint64_t flushed_digest;
    int writes_since_flush;
    /* per key ever flushed: the version of the flush that last changed it and whether it is
       present (else deleted: the writer keeps a tombstone), as a record {u64 version, u64 present};
       the keys written since the last flush; the versions at which flushes ended */
    model_table changes[FZ_MAX_TABLES];
    uint64_t *dirty[FZ_MAX_TABLES];
    size_t dirty_count[FZ_MAX_TABLES], dirty_cap[FZ_MAX_TABLES];
    uint64_t *boundaries;
    size_t boundary_count, boundary_cap;
    uint32_t dict_ids[16];
    size_t dict_count, trains;
    uint8_t *last; /* a copy of the last flush frame */
    size_t last_size;
    uint64_t rng;
    /* the clock and the refresh */
    uint64_t now, last_slice_ms;
    uint64_t sl_pass, sl_index;  /* the slice the next flush carries */
    uint32_t sl_table;
    uint64_t sl_key;
    /* the one-way replica */
    unsigned ow_lose;            /* frames to drop before it */
    int ow_watch;                /* it got every frame since slice 0 of pass ow_pass */
    uint64_t ow_pass;
    int lag_other_staging;       /* the lagging replica stages an abandoned snapshot */
    snap_run snap;
} run;

static podsync_store_options run_options(const run *x, uint8_t b2) {
    podsync_store_options o = fz_options(x->level, x->transforms, x->max_frame_bytes);
    if (!x->digests) o.flags &= ~PODSYNC_OPT_FRAME_DIGEST;
    if (b2 & 0x40) {
        o.tombstone_horizon = 4;
        o.max_tombstones = 16;
    }
    o.frame_format = x->format;
    o.refresh_flushes = x->refresh;
    o.refresh_ms = x->refresh_ms;
    return o;
}

/* A fresh replica with every dictionary the writer trained. */
static podsync_store *fresh_replica_flags(const run *x, uint32_t flags) {
    podsync_schema *s = fz_schema_new(x->schema);
    podsync_store_options o = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    o.flags |= flags;
    podsync_store *r = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &r));
    podsync_schema_free(s);
    const void *dict = NULL;
    size_t size = 0;
    if (podsync_store_dictionary(x->w, &dict, &size, NULL) == PODSYNC_OK) FZ_OK(podsync_store_load_dictionary(r, dict, size, NULL));
    return r;
}
static podsync_store *fresh_replica(const run *x) { return fresh_replica_flags(x, 0); }

static int trained(const run *x, uint32_t id) {
    for (size_t i = 0; i < x->dict_count; i++)
        if (x->dict_ids[i] == id) return 1;
    return 0;
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

static podsync_metrics metrics_of(const podsync_store *s) {
    podsync_metrics m;
    memset(&m, 0, sizeof m);
    m.version = PODSYNC_METRICS_VERSION;
    FZ_OK(podsync_store_metrics(s, &m));
    return m;
}

static uint64_t records_applied(const podsync_store *s) { return metrics_of(s).records_applied; }

static size_t total_records(const podsync_store *s, const fz_schema_desc *d) {
    size_t total = 0;
    for (size_t t = 0; t < d->table_count; t++) {
        size_t n = 0;
        FZ_OK(podsync_store_count(s, d->tables[t].id, &n));
        total += n;
    }
    return total;
}

/* Kinds of frames, as check_frame expects them. */
#define K_RESET PODSYNC_FRAME_RESET
#define K_CHUNK PODSYNC_FRAME_CHUNK
#define K_SLICE PODSYNC_FRAME_SLICE

/* Every frame produced must be valid and be what was asked for. `kind`: the flags it must have of
   RESET, CHUNK and SLICE. `stream`: the stream the producing store writes, the writer's, or the
   one a replica follows (none, 0, before its first frame: a replica writes the stream it
   follows). Returns the frame's info. */
static podsync_frame_info check_frame(const run *x, const char *what, const uint8_t *f, size_t n, uint64_t stream, uint64_t base,
                                      uint64_t state, uint32_t kind) {
    /* the header as peek reads it (validate fills info on failure only since library 0.4.0) */
    podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
    FZ_REQUIRE(podsync_frame_peek(f, n, &info) == PODSYNC_OK, "%s frame (%zu bytes): podsync_frame_peek rejects it", what, n);
    int32_t st = podsync_frame_validate(f, n, NULL);
    FZ_REQUIRE(st == PODSYNC_OK || (st == PODSYNC_E_DICTIONARY_MISSING && trained(x, info.dictionary_id)),
               "%s frame (%zu bytes, format %u, codec %u, transforms 0x%x, dictionary %u; writer level %d transforms 0x%x) fails "
               "validation: %s (%s)",
               what, n, info.format_version, info.codec, info.transforms, info.dictionary_id, (int)x->level, x->transforms,
               podsync_status_name(st), podsync_last_errmsg());
    int32_t l0 = podsync_frame_validate_limited(f, n, 0, NULL);
    FZ_REQUIRE(l0 == st, "%s frame: validate_limited(0) %s, validate %s", what, podsync_status_name(l0), podsync_status_name(st));
    FZ_REQUIRE((uintptr_t)f % 64 == 0, "%s frame at %p is not 64-byte aligned", what, (const void *)f);
    FZ_REQUIRE(info.frame_length == n, "%s frame: frame_length %" PRIu64 ", size %zu", what, info.frame_length, n);
    uint32_t has = info.flags & (PODSYNC_FRAME_RESET | PODSYNC_FRAME_CHUNK | PODSYNC_FRAME_SLICE);
    FZ_REQUIRE(has == kind && info.base_version == base && info.state_version == state,
               "%s frame: flags %x, versions %" PRIu64 "->%" PRIu64 ", expected flags %x, %" PRIu64 "->%" PRIu64, what, info.flags,
               info.base_version, info.state_version, kind, base, state);
    uint32_t format = (kind & (K_CHUNK | K_SLICE)) ? 2 : x->format;
    FZ_REQUIRE(info.format_version == format, "%s frame (flags %x): format %u, expected %u (writer frame_format %u)", what, info.flags,
               info.format_version, format, x->format);
    FZ_REQUIRE(info.stream_id == stream && info.schema_hash == fz_schema_hash(x->schema),
               "%s frame: stream %016" PRIx64 " schema %016" PRIx64, what, info.stream_id, info.schema_hash);
    FZ_REQUIRE(((info.flags & PODSYNC_FRAME_HAS_DIGEST) != 0) == x->digests, "%s frame: flags %x with digests %s", what,
               info.flags, x->digests ? "on" : "off");
    FZ_REQUIRE(x->level != 0 || (info.codec == 0 && info.transforms == 0), "%s frame: codec %u transforms 0x%x at level 0",
               what, info.codec, info.transforms);
    FZ_REQUIRE((info.transforms & ~x->transforms) == 0 || x->level == 0,
               "%s frame uses transforms 0x%x, the writer allows 0x%x", what, info.transforms, x->transforms);
    FZ_REQUIRE(!(x->refresh && (info.transforms & PODSYNC_TRANSFORM_XOR)), "%s frame uses XOR with a rolling refresh", what);
    return info;
}

/* The size of a plain frame of these sections (FrameBuilder's layout: sections of ascending table
   id, put keys then delete keys, records aligned to max(alignment, 8), each section padded to 8),
   with a header of `header` bytes. */
static uint64_t frame_layout(const run *x, uint64_t header, const uint64_t *puts, const uint64_t *deletes) {
    uint64_t pos = header;
    for (size_t t = 0; t < x->desc->table_count; t++) {
        uint64_t p = puts[t], d = deletes ? deletes[t] : 0;
        if (p + d == 0) continue;
        uint64_t align = x->desc->tables[t].alignment < 8 ? 8 : x->desc->tables[t].alignment;
        uint64_t keys_end = pos + 40 + 8 * (p + d);
        uint64_t records = (keys_end + align - 1) / align * align;
        pos = (records + p * x->desc->tables[t].record_size + 7) / 8 * 8;
    }
    return pos;
}

/* The length of the plain frame (no codec, no transforms) a store writing sequence `seq` so far
   produces for these sections from `base` to `state` (RESET: base 0): docs/FORMAT.md, format 1 an
   88-byte header; format 2 one of 40 bytes and up holding frame_length, term, sequence,
   base_version, version_delta, section_count, codec, transforms. */
static uint64_t plain_length(const run *x, uint64_t seq, uint64_t base, uint64_t state, const uint64_t *puts, const uint64_t *deletes) {
    if (x->format == 1) return frame_layout(x, PODSYNC_FRAME_HEADER_SIZE, puts, deletes);
    uint64_t sections = 0;
    for (size_t t = 0; t < x->desc->table_count; t++) sections += puts[t] + (deletes ? deletes[t] : 0) != 0;
    uint64_t fixed = (x->digests ? 40 : 32) + 1 /* term */ + fz_leb_size(seq + 1) + fz_leb_size(base) + fz_leb_size(state - base) +
                     fz_leb_size(sections) + 1 /* codec */ + 1 /* transforms */;
    uint64_t header = fixed + 1 < 40 ? 40 : (fixed + 1 + 7) / 8 * 8, length;
    for (;;) {
        length = frame_layout(x, header, puts, deletes);
        uint64_t need = fixed + fz_leb_size(length);
        need = need < 40 ? 40 : (need + 7) / 8 * 8;
        if (need <= header) return length;
        header = need;
    }
}

/* Whether the snapshot of a store whose last flush the model holds (sequence `seq` so far, at
   `version`) is one plain frame of at most max_frame_bytes (else chunks). */
static int snapshot_fits(const run *x, uint64_t seq, uint64_t version) {
    if (x->max_frame_bytes == 0) return 1;
    uint64_t puts[FZ_MAX_TABLES];
    for (size_t t = 0; t < x->desc->table_count; t++) puts[t] = x->flushed_counts[t];
    return plain_length(x, seq, 0, version, puts, NULL) <= x->max_frame_bytes;
}

static uint64_t flushed_total(const run *x) {
    uint64_t n = 0;
    for (size_t t = 0; t < x->desc->table_count; t++) n += x->flushed_counts[t];
    return n;
}

static void note_dirty(run *x, size_t t, uint64_t key) {
    if (x->dirty_count[t] == x->dirty_cap[t]) {
        x->dirty_cap[t] = x->dirty_cap[t] ? 2 * x->dirty_cap[t] : 64;
        x->dirty[t] = realloc(x->dirty[t], x->dirty_cap[t] * sizeof(uint64_t));
        FZ_REQUIRE(x->dirty[t] != NULL, "out of memory");
    }
    x->dirty[t][x->dirty_count[t]++] = key;
}

static int is_dirty(const run *x, size_t t, uint64_t key) {
    for (size_t i = 0; i < x->dirty_count[t]; i++)
        if (x->dirty[t][i] == key) return 1;
    return 0;
}

/* A put: the model takes it; it is a change unless it writes the bytes a clean key already holds
   (an unchanged write leaves the key clean: include/podsync.h, "Change events"). */
static void note_put(run *x, size_t t, uint64_t key, const uint8_t *rec) {
    model_table *m = &x->model[t];
    const uint8_t *old = model_get(m, key);
    int unchanged = old != NULL && memcmp(old, rec, m->rs) == 0 && !is_dirty(x, t, key);
    model_put(m, key, rec);
    if (!unchanged) note_dirty(x, t, key);
}

static int is_boundary(const run *x, uint64_t v) {
    for (size_t i = 0; i < x->boundary_count; i++)
        if (x->boundaries[i] == v) return 1;
    return v == 0;
}

/* After a flush that reached `version`: the keys it changed. */
static void note_flush(run *x, uint64_t version) {
    for (size_t t = 0; t < x->desc->table_count; t++) {
        for (size_t i = 0; i < x->dirty_count[t]; i++) {
            uint64_t key = x->dirty[t][i], rec[2] = {version, 1};
            const uint8_t *known = model_get(&x->changes[t], key);
            uint64_t was[2] = {0, 0};
            if (known) memcpy(was, known, 16);
            if (model_get(&x->model[t], key)) {
                model_put(&x->changes[t], key, (const uint8_t *)rec);
            } else if (was[1]) { /* deleted: a tombstone */
                rec[1] = 0;
                model_put(&x->changes[t], key, (const uint8_t *)rec);
            }
        }
        x->dirty_count[t] = 0;
    }
    if (x->boundary_count == x->boundary_cap) {
        x->boundary_cap = x->boundary_cap ? 2 * x->boundary_cap : 64;
        x->boundaries = realloc(x->boundaries, x->boundary_cap * sizeof(uint64_t));
        FZ_REQUIRE(x->boundaries != NULL, "out of memory");
    }
    x->boundaries[x->boundary_count++] = version;
}

/* The changes of a catch-up delta since `since` (a version at which a flush ended) as of the last
   flush: the puts of keys present and changed since, the deletes of keys deleted since. */
static uint64_t delta_changes(const run *x, uint64_t since, uint64_t *puts, uint64_t *deletes) {
    uint64_t total = 0;
    for (size_t t = 0; t < x->desc->table_count; t++) {
        const model_table *c = &x->changes[t];
        puts[t] = deletes[t] = 0;
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->used[i]) continue;
            uint64_t rec[2];
            memcpy(rec, c->recs + i * c->rs, 16);
            if (rec[0] <= since) continue;
            if (rec[1]) puts[t]++;
            else deletes[t]++;
        }
        total += puts[t] + deletes[t];
    }
    return total;
}

static void check_keys_in_range(const uint64_t *keys, uint64_t n, uint32_t table, uint32_t st, uint64_t sk, int last, uint32_t et, uint64_t ek,
                                const char *what) {
    uint64_t previous = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t seed = fz_seed(table, keys[k]);
        FZ_REQUIRE(!fz_pos_less(table, seed, st, sk) && (last || fz_pos_less(table, seed, et, ek)),
                   "%s: key %" PRIu64 " of table %u (seed %016" PRIx64 ") outside its range", what, keys[k], table, seed);
        FZ_REQUIRE(k == 0 || seed > previous, "%s: keys of table %u not in ascending hash order", what, table);
        previous = seed;
    }
}

/* A plain chunk's (or slice section's) keys: inside [start, end) and ascending in hash order (the
   puts, and a chunked delta's deletes); deletions only in chunks of deltas. */
static void check_plain_ranges(const uint8_t *f, size_t n, size_t first, size_t count, uint32_t st, uint64_t sk, int last, uint32_t et,
                               uint64_t ek, int deletes, const char *what) {
    for (size_t i = first; i < first + count; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        FZ_OK(podsync_frame_section_get(f, n, i, &sec));
        check_keys_in_range(sec.put_keys, sec.put_count, sec.table_id, st, sk, last, et, ek, what);
        check_keys_in_range(sec.delete_keys, sec.delete_count, sec.table_id, st, sk, last, et, ek, what);
        FZ_REQUIRE(deletes || sec.delete_count == 0, "%s: section %zu carries deletions", what, i);
    }
}

/* The records (puts) of a plain frame's first `count` sections. */
static uint64_t plain_puts(const uint8_t *f, size_t n, size_t count) {
    uint64_t puts = 0;
    for (size_t i = 0; i < count; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        FZ_OK(podsync_frame_section_get(f, n, i, &sec));
        puts += sec.put_count;
    }
    return puts;
}

/* Applies the frames of a snapshot or catch-up delta (one frame, or the chunks of a chunked one)
   in `from`'s outbox to `to`; `same`: `to` already holds that version of that stream (every frame
   DUPLICATE). A chunk holds at most max_frame_bytes unless it holds a single record (include/
   podsync.h: podsync_store_snapshot "the chunks of a chunked snapshot, each at most
   max_frame_bytes", podsync_store_delta_since "each at most max_frame_bytes"). */
static void apply_snapshot_frames(run *x, podsync_store *from, podsync_store *to, size_t n, int same, const char *what) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        FZ_OK(podsync_store_frame(from, i, &f, &size));
        uint64_t applied = records_applied(to);
        int32_t st = fz_apply_checked(to, x->desc, f, size);
        int32_t want = same ? PODSYNC_DUPLICATE : i + 1 < n ? PODSYNC_CHUNK_STAGED : PODSYNC_OK;
        FZ_REQUIRE(st == want, "%s: frame %zu of %zu on the replica returned %s, expected %s: %s", what, i, n, podsync_status_name(st),
                   podsync_status_name(want), podsync_store_errmsg(to));
        podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
        FZ_OK(podsync_frame_peek(f, size, &info));
        if (!(info.flags & PODSYNC_FRAME_CHUNK) || x->max_frame_bytes == 0 || size <= x->max_frame_bytes) continue;
        uint64_t records = 0;
        if (!same) records = records_applied(to) - applied;
        else if (info.codec == 0 && info.transforms == 0) records = plain_puts(f, size, info.section_count);
        else continue;
        FZ_REQUIRE(records <= 1, "%s: chunk %zu of %zu is %zu bytes with %" PRIu64 " records; max_frame_bytes %" PRIu64, what, i, n,
                   size, records, x->max_frame_bytes);
    }
}

/* The outbox of a snapshot of `from` (podsync_store_snapshot or delta_since(0)): one RESET frame
   when the plain frame fits max_frame_bytes, else the chunks of a chunked snapshot. */
static void check_snapshot_outbox(run *x, podsync_store *from, const podsync_store_info *fi, size_t n, const char *what) {
    int fits = snapshot_fits(x, fi->sequence, fi->state_version);
    uint64_t records = total_records(from, x->desc);
    if (from == x->w) records = flushed_total(x);
    FZ_REQUIRE(fits ? n == 1 : n >= 1, "%s: %zu frames, the plain snapshot %s max_frame_bytes %" PRIu64, what, n,
               fits ? "fits" : "exceeds", x->max_frame_bytes);
    uint64_t id = 0;
    uint32_t table = 0;
    uint64_t key = 0;
    /* the size of each chunk (at most max_frame_bytes unless it holds one record): apply_snapshot_frames */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        FZ_OK(podsync_store_frame(from, i, &f, &size));
        podsync_frame_info info = check_frame(x, what, f, size, fi->stream_id, 0, fi->state_version, fits ? K_RESET : K_RESET | K_CHUNK);
        FZ_REQUIRE(!x->digests || info.state_digest == fi->digest, "%s: frame %zu carries digest %016" PRIx64 ", the store's %016" PRIx64,
                   what, i, info.state_digest, fi->digest);
        if (fits) continue;
        int last = (info.chunk_flags & PODSYNC_CHUNK_LAST) != 0;
        if (i == 0) id = info.snapshot_id;
        FZ_REQUIRE(info.snapshot_id == id && id != 0 && info.chunk_index == i && info.chunk_start_table == table &&
                       info.chunk_start_key == key && last == (i + 1 == n),
                   "%s: chunk %zu of %zu: snapshot %016" PRIx64 " (first %016" PRIx64 ") index %" PRIu64 " start (%u, %016" PRIx64
                   "), expected (%u, %016" PRIx64 "), last %d",
                   what, i, n, info.snapshot_id, id, info.chunk_index, info.chunk_start_table, info.chunk_start_key, table, key, last);
        FZ_REQUIRE(!last || info.chunk_record_count == records, "%s: the last chunk counts %" PRIu64 " records, the state holds %" PRIu64,
                   what, info.chunk_record_count, records);
        if (info.codec == 0 && info.transforms == 0)
            check_plain_ranges(f, size, 0, info.section_count, info.chunk_start_table, info.chunk_start_key, last, info.chunk_end_table,
                               info.chunk_end_key, 0, what);
        table = info.chunk_end_table;
        key = info.chunk_end_key;
    }
}

/* The outbox of a catch-up delta since `since` of `from` (fi: its info before the call): one delta
   frame when its plain frame fits max_frame_bytes, else the chunks of a chunked delta (include/
   podsync.h, podsync_store_delta_since). `exact`: `since` is a version at which a flush ended, so
   the model knows the delta's changes (and so which of the two it must be). */
static int check_delta_outbox(run *x, podsync_store *from, const podsync_store_info *fi, uint64_t since, size_t n, const char *what) {
    uint64_t puts[FZ_MAX_TABLES], deletes[FZ_MAX_TABLES];
    int exact = is_boundary(x, since);
    uint64_t total = delta_changes(x, since, puts, deletes);
    int fits = x->max_frame_bytes == 0 || plain_length(x, fi->sequence, since, fi->state_version, puts, deletes) <= x->max_frame_bytes;
    if (n == 0) return 0;
    const uint8_t *f = NULL;
    size_t size = 0;
    FZ_OK(podsync_store_frame(from, 0, &f, &size));
    podsync_frame_info first = PODSYNC_FRAME_INFO_INIT;
    FZ_OK(podsync_frame_peek(f, size, &first));
    int chunked = (first.flags & PODSYNC_FRAME_CHUNK) != 0;
    if (exact)
        FZ_REQUIRE(fits ? (n == 1 && !chunked) : chunked, "%s: delta since %" PRIu64 " to %" PRIu64 " (%" PRIu64 " changes): %zu frame(s)%s, "
                   "its plain frame %s max_frame_bytes %" PRIu64, what, since, fi->state_version, total, n, chunked ? " (chunks)" : "",
                   fits ? "fits" : "exceeds", x->max_frame_bytes);
    FZ_REQUIRE(chunked || n == 1, "%s: delta since %" PRIu64 " in %zu frames that are not chunks", what, since, n);
    uint64_t id = 0;
    uint32_t table = 0;
    uint64_t key = 0;
    for (size_t i = 0; i < n; i++) {
        FZ_OK(podsync_store_frame(from, i, &f, &size));
        podsync_frame_info info = check_frame(x, what, f, size, fi->stream_id, since, fi->state_version, chunked ? K_CHUNK : 0);
        FZ_REQUIRE(!x->digests || info.state_digest == fi->digest, "%s: frame %zu carries digest %016" PRIx64 ", the store's %016" PRIx64,
                   what, i, info.state_digest, fi->digest);
        if (!chunked) continue;
        int last = (info.chunk_flags & PODSYNC_CHUNK_LAST) != 0;
        if (i == 0) id = info.snapshot_id;
        FZ_REQUIRE(info.snapshot_id == id && id != 0 && info.chunk_index == i && info.chunk_start_table == table &&
                       info.chunk_start_key == key && last == (i + 1 == n),
                   "%s: delta chunk %zu of %zu: id %016" PRIx64 " (first %016" PRIx64 ") index %" PRIu64 " start (%u, %016" PRIx64
                   "), expected (%u, %016" PRIx64 "), last %d",
                   what, i, n, info.snapshot_id, id, info.chunk_index, info.chunk_start_table, info.chunk_start_key, table, key, last);
        FZ_REQUIRE(!last || !exact || info.chunk_record_count == total, "%s: the last delta chunk counts %" PRIu64 " changes, the model %" PRIu64,
                   what, info.chunk_record_count, total);
        if (info.codec == 0 && info.transforms == 0)
            check_plain_ranges(f, size, 0, info.section_count, info.chunk_start_table, info.chunk_start_key, last, info.chunk_end_table,
                               info.chunk_end_key, 1, what);
        table = info.chunk_end_table;
        key = info.chunk_end_key;
    }
    return chunked;
}

static void make_record(run *x, reader *in, model_table *m, uint64_t key, unsigned kind, uint8_t *out) {
    if (kind % 5 == 4) { /* bytes from the input */
        for (uint32_t i = 0; i < m->rs; i++) out[i] = u8(in);
    } else {
        fz_make_record(out, m->rs, key, model_get(m, key), kind, &x->rng);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Rolling refresh                                                                            */
/* ------------------------------------------------------------------------------------------ */

static int refresh_due(const run *x) {
    /* never before the first flush: an empty state at version 0 has no slice */
    return x->refresh && x->refresh_ms && x->now >= x->last_slice_ms && x->now - x->last_slice_ms >= x->refresh_ms &&
           info_of(x->w).state_version > 0;
}

/* A slice the writer sent in frame `f` (the model holds the state at its version): it continues
   the pass where the last one ended, holds at most the documented number of records and, when
   plain, exactly the model's records of its range. */
static void check_slice(run *x, const uint8_t *f, size_t n, const podsync_frame_info *info) {
    int last = (info->slice_flags & PODSYNC_CHUNK_LAST) != 0;
    FZ_REQUIRE(info->slice_pass == x->sl_pass && info->slice_index == x->sl_index && info->slice_start_table == x->sl_table &&
                   info->slice_start_key == x->sl_key,
               "slice: pass %" PRIu64 " index %" PRIu64 " from (%u, %016" PRIx64 "), expected pass %" PRIu64 " index %" PRIu64
               " from (%u, %016" PRIx64 ")",
               info->slice_pass, info->slice_index, info->slice_start_table, info->slice_start_key, x->sl_pass, x->sl_index, x->sl_table,
               x->sl_key);
    if (last) {
        x->sl_pass++;
        x->sl_index = 0;
        x->sl_table = 0;
        x->sl_key = 0;
    } else {
        x->sl_index++;
        x->sl_table = info->slice_end_table;
        x->sl_key = info->slice_end_key;
    }
    if (info->codec != 0 || info->transforms != 0) return;
    check_plain_ranges(f, n, info->section_count, info->slice_section_count, info->slice_start_table, info->slice_start_key, last,
                       info->slice_end_table, info->slice_end_key, 0, "slice");
    /* its records are the model's, and every key of the model in its range is there */
    uint64_t total = 0, sent = 0, in_range = 0;
    uint32_t widest = 8;
    for (size_t t = 0; t < x->desc->table_count; t++) {
        total += x->model[t].count;
        if (x->model[t].rs > widest) widest = x->model[t].rs;
        const model_table *m = &x->model[t];
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->used[i]) continue;
            uint64_t seed = fz_seed(m->id, m->keys[i]);
            if (!fz_pos_less(m->id, seed, info->slice_start_table, info->slice_start_key) &&
                (last || fz_pos_less(m->id, seed, info->slice_end_table, info->slice_end_key)))
                in_range++;
        }
    }
    for (size_t i = info->section_count; i < (size_t)info->section_count + info->slice_section_count; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        FZ_OK(podsync_frame_section_get(f, n, i, &sec));
        const model_table *m = NULL;
        for (size_t t = 0; t < x->desc->table_count; t++)
            if (x->model[t].id == sec.table_id) m = &x->model[t];
        FZ_REQUIRE(m != NULL, "slice section of table %u, not in the schema", sec.table_id);
        for (uint64_t k = 0; k < sec.put_count; k++) {
            const uint8_t *want = model_get(m, sec.put_keys[k]);
            FZ_REQUIRE(want && memcmp(want, (const uint8_t *)sec.records + k * m->rs, m->rs) == 0,
                       "slice: table %u key %" PRIu64 " %s the model's record at version %" PRIu64, m->id, sec.put_keys[k],
                       want ? "differs from" : "is not", info->state_version);
        }
        sent += sec.put_count;
    }
    FZ_REQUIRE(sent == in_range, "slice %" PRIu64 " of pass %" PRIu64 ": %" PRIu64 " records, the model holds %" PRIu64 " in its range",
               info->slice_index, info->slice_pass, sent, in_range);
    uint64_t cap = (total + x->refresh - 1) / x->refresh;
    if (cap < 1) cap = 1;
    if (x->max_frame_bytes) {
        uint64_t half = x->max_frame_bytes / 2 / (16 + widest);
        if (half < 1) half = 1;
        if (cap > half) cap = half;
    }
    FZ_REQUIRE(sent <= cap, "slice of %" PRIu64 " records; at most %" PRIu64 " (records %" PRIu64 ", refresh_flushes %u, max_frame_bytes %" PRIu64
               ")", sent, cap, total, x->refresh, x->max_frame_bytes);
}

/* A flush frame on its way to the one-way replica (unless lost). */
static void feed_one_way(run *x, const uint8_t *f, size_t size, const podsync_frame_info *info) {
    if (!x->ow) return;
    int slice = (info->flags & PODSYNC_FRAME_SLICE) != 0;
    if (x->ow_lose > 0) {
        x->ow_lose--;
        x->ow_watch = 0;
        return;
    }
    if (slice && info->slice_index == 0) {
        x->ow_watch = 1;
        x->ow_pass = info->slice_pass;
    }
    int32_t st = fz_apply_checked_ex(x->ow, x->desc, f, size, PODSYNC_OPT_ONE_WAY);
    FZ_REQUIRE(st == PODSYNC_OK || st == PODSYNC_REFRESHING || st == PODSYNC_DUPLICATE,
               "one-way replica: frame %" PRIu64 "->%" PRIu64 " returned %s: %s", info->base_version, info->state_version,
               podsync_status_name(st), podsync_store_errmsg(x->ow));
    if (slice && (info->slice_flags & PODSYNC_CHUNK_LAST) && x->ow_watch && x->ow_pass == info->slice_pass && x->digests) {
        /* docs/FORMAT.md, "Rolling refresh", guarantee 3: every frame of one full pass, no XOR */
        podsync_store_info oi = info_of(x->ow);
        FZ_REQUIRE(!oi.refreshing && oi.state_version == info->state_version && oi.digest == info->state_digest,
                   "one-way replica after the full pass %" PRIu64 " (last slice at v%" PRIu64 "): refreshing %u, version %" PRIu64
                   ", digest %016" PRIx64 ", the writer's %016" PRIx64,
                   info->slice_pass, info->state_version, oi.refreshing, oi.state_version, oi.digest, info->state_digest);
    }
    if (slice && (info->slice_flags & PODSYNC_CHUNK_LAST)) x->ow_watch = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void keep_last(run *x, const uint8_t *f, size_t size) {
    free(x->last);
    x->last = malloc(size);
    FZ_REQUIRE(x->last != NULL, "out of memory");
    memcpy(x->last, f, size);
    x->last_size = size;
}

static void op_flush(run *x) {
    podsync_store_info w0 = info_of(x->w);
    uint64_t v0 = w0.state_version;
    int due = refresh_due(x);
    size_t n = 0;
    int32_t st = podsync_store_flush(x->w, &n);
    FZ_REQUIRE(st == PODSYNC_OK, "flush returned %s: %s", podsync_status_name(st), podsync_store_errmsg(x->w));
    podsync_store_info wi = info_of(x->w);
    if (w0.pending_changes == 0) {
        /* an empty batch: nothing, or (rolling refresh, due) a slice alone at the writer's version */
        FZ_REQUIRE(n == (size_t)due && wi.state_version == v0,
                   "flush of an empty batch%s: %zu frames, version %" PRIu64 " -> %" PRIu64 " (refresh %u, refresh_ms %" PRIu64
                   ", now %" PRIu64 ", last slice at %" PRIu64 ")",
                   x->writes_since_flush ? " (its writes cancelled out)" : "", n, v0, wi.state_version, x->refresh, x->refresh_ms,
                   x->now, x->last_slice_ms);
    } else {
        FZ_REQUIRE(n >= 1 && wi.state_version == v0 + n && wi.pending_changes == 0, "flush of %" PRIu64 " changes: %zu frames, version %" PRIu64
                   " -> %" PRIu64 ", %" PRIu64 " changes pending", w0.pending_changes, n, v0, wi.state_version, wi.pending_changes);
    }
    int refresh_only = w0.pending_changes == 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        FZ_OK(podsync_store_frame(x->w, i, &f, &size));
        int slice = x->refresh && i + 1 == n;
        podsync_frame_info info = refresh_only ? check_frame(x, "refresh-only", f, size, x->stream, v0, v0, K_SLICE)
                                               : check_frame(x, "flush", f, size, x->stream, v0 + i, v0 + i + 1, slice ? K_SLICE : 0);
        FZ_REQUIRE(!refresh_only || info.section_count == 0, "refresh-only frame with %u sections of changes", info.section_count);
        uint64_t applied = records_applied(x->r);
        st = fz_apply_checked(x->r, x->desc, f, size);
        int32_t want = refresh_only ? PODSYNC_DUPLICATE : PODSYNC_OK;
        FZ_REQUIRE(st == want, "%s frame %zu of %zu (%zu bytes, v%" PRIu64 "): apply returned %s, expected %s: %s",
                   refresh_only ? "refresh-only" : "flush", i, n, size, info.state_version, podsync_status_name(st),
                   podsync_status_name(want), podsync_store_errmsg(x->r));
        /* the frame's changes: a plain frame shows them; records_applied counts them otherwise
           (fz_apply_checked checks it against a plain frame's) */
        int plain = info.codec == 0 && info.transforms == 0;
        uint64_t changes = plain ? fz_plain_changes(f, size, info.section_count) : records_applied(x->r) - applied;
        if (!refresh_only && x->max_frame_bytes != 0 && changes != 1 && (plain || !slice)) {
            /* the changes' part of the frame: all of it, or up to the slice's first section */
            size_t part = size;
            if (slice && info.codec == 0 && info.transforms == 0 && info.slice_section_count > 0) {
                podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
                FZ_OK(podsync_frame_section_get(f, size, info.section_count, &sec));
                part = (size_t)((const uint8_t *)sec.put_keys - 40 - f);
            }
            FZ_REQUIRE(part <= x->max_frame_bytes,
                       "flush frame of %zu bytes (%zu of changes) holds %" PRIu64 " changes; max_frame_bytes %" PRIu64, size, part, changes,
                       x->max_frame_bytes);
        }
        if (slice || refresh_only) {
            check_slice(x, f, size, &info);
            x->last_slice_ms = x->now;
        }
        feed_one_way(x, f, size, &info);
        if (i + 1 == n) keep_last(x, f, size);
    }
    x->writes_since_flush = 0;
    if (wi.state_version != v0) note_flush(x, wi.state_version);
    for (size_t t = 0; t < x->desc->table_count; t++) x->dirty_count[t] = 0;
    for (size_t t = 0; t < x->desc->table_count; t++) x->flushed_counts[t] = x->model[t].count;
    x->flushed_digest = model_digest(x->model, x->desc->table_count);
    uint64_t dw = digest_of(x->w), dr = digest_of(x->r);
    FZ_REQUIRE(dw == x->flushed_digest, "after flush: writer digest %016" PRIx64 ", model %016" PRIx64, dw, x->flushed_digest);
    FZ_REQUIRE(dr == dw, "after flush: replica digest %016" PRIx64 ", writer %016" PRIx64, dr, dw);
}

static void lag_switched(run *x, podsync_store *to) {
    /* chunks applied to the lagging replica (a new chunk 0, then the switch) replaced its staging */
    if (to != x->lag) return;
    x->lag_other_staging = 0;
    if (x->snap.active && x->snap.rx_is_lag) {
        x->snap.staged = 0;
        x->snap.wanted = 0;
    }
}

/* Brings `to` to the writer's (or `from`'s) state with a catch-up delta, or a snapshot. */
static void catch_up(run *x, podsync_store *from, podsync_store *to, const char *what) {
    podsync_store_info fi = info_of(from), ti = info_of(to);
    size_t n = 0;
    int32_t st = podsync_store_delta_since(from, ti.state_version, &n);
    int snapshot = st == PODSYNC_SNAPSHOT_REQUIRED || ti.state_version == 0;
    /* at the same version already (the since-0 snapshot at version 0): DUPLICATE */
    int same = ti.state_version == fi.state_version && ti.stream_id == fi.stream_id && ti.stream_id != 0;
    if (st == PODSYNC_SNAPSHOT_REQUIRED) {
        FZ_REQUIRE(n == 0 && ti.state_version < fi.catchup_floor, "%s: SNAPSHOT_REQUIRED for version %" PRIu64
                   " with catchup_floor %" PRIu64, what, ti.state_version, fi.catchup_floor);
        st = podsync_store_snapshot(from, &n);
        FZ_REQUIRE(st == PODSYNC_OK, "%s: snapshot returned %s: %s", what, podsync_status_name(st), podsync_store_errmsg(from));
    } else {
        FZ_REQUIRE(st == PODSYNC_OK, "%s: delta_since(%" PRIu64 ") returned %s: %s", what, ti.state_version, podsync_status_name(st),
                   podsync_store_errmsg(from));
        FZ_REQUIRE(ti.state_version == 0 || ti.state_version >= fi.catchup_floor,
                   "%s: delta since %" PRIu64 " served below catchup_floor %" PRIu64, what, ti.state_version, fi.catchup_floor);
        if (ti.state_version != 0)
            FZ_REQUIRE((n >= 1) == (ti.state_version < fi.state_version), "%s: delta_since(%" PRIu64 ") at %" PRIu64 " made %zu frames",
                       what, ti.state_version, fi.state_version, n);
    }
    if (snapshot) {
        /* a snapshot (delta_since(0) is one too): one frame, or chunks */
        check_snapshot_outbox(x, from, &fi, n, what);
        apply_snapshot_frames(x, from, to, n, same, what);
        if (!snapshot_fits(x, fi.sequence, fi.state_version) && !same) lag_switched(x, to);
    } else if (n > 0) {
        /* the replica is at a version where a flush ended: the model knows the delta */
        FZ_REQUIRE(is_boundary(x, ti.state_version), "%s: the replica is at version %" PRIu64 ", where no flush ended", what,
                   ti.state_version);
        int chunked = check_delta_outbox(x, from, &fi, ti.state_version, n, what);
        apply_snapshot_frames(x, from, to, n, 0, what);
        if (chunked) lag_switched(x, to);
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
        FZ_REQUIRE(st == PODSYNC_SNAPSHOT_REQUIRED && n == 0, "delta_since(%" PRIu64 ") below catchup_floor %" PRIu64 " returned %s", v,
                   wi.catchup_floor, podsync_status_name(st));
        return;
    }
    FZ_REQUIRE(st == PODSYNC_OK, "delta_since(%" PRIu64 ") at version %" PRIu64 " (floor %" PRIu64 ") returned %s: %s", v, wi.state_version,
               wi.catchup_floor, podsync_status_name(st), podsync_store_errmsg(x->w));
    if (v == 0) {
        /* since 0 "produces a snapshot", even at version 0: one frame or chunks */
        check_snapshot_outbox(x, x->w, &wi, n, "delta_since(0)");
        podsync_store *fresh = fresh_replica(x);
        apply_snapshot_frames(x, x->w, fresh, n, 0, "delta_since(0) on a fresh replica");
        FZ_REQUIRE(digest_of(fresh) == wi.digest && total_records(fresh, x->desc) == flushed_total(x),
                   "delta_since(0) on a fresh replica: digest %016" PRIx64 ", writer %016" PRIx64, digest_of(fresh), wi.digest);
        podsync_store_free(fresh);
        return;
    }
    FZ_REQUIRE((n >= 1) == (v < wi.state_version), "delta_since(%" PRIu64 ") at version %" PRIu64 " made %zu frames", v,
               wi.state_version, n);
    check_delta_outbox(x, x->w, &wi, v, n, "delta_since");
}

static void op_snapshot(run *x, podsync_store *from, const char *what) {
    podsync_store_info fi = info_of(from);
    size_t n = 0;
    int32_t st = podsync_store_snapshot(from, &n);
    FZ_REQUIRE(st == PODSYNC_OK, "%s: snapshot returned %s: %s", what, podsync_status_name(st), podsync_store_errmsg(from));
    check_snapshot_outbox(x, from, &fi, n, what);
    podsync_store *fresh = fresh_replica(x);
    apply_snapshot_frames(x, from, fresh, n, 0, what);
    FZ_REQUIRE(digest_of(fresh) == fi.digest, "%s on a fresh replica: digest %016" PRIx64 ", source %016" PRIx64, what,
               digest_of(fresh), fi.digest);
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
    if (x->ow) FZ_OK(podsync_store_load_dictionary(x->ow, dict, size, NULL));
    if (x->snap.active && !x->snap.rx_is_lag) FZ_OK(podsync_store_load_dictionary(x->snap.rx, dict, size, NULL));
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

/* The clock moves; with a rolling refresh and refresh_ms, flush_due says when a slice is due. */
static void op_time(run *x, reader *in) {
    static const uint64_t steps[4] = {1, 5, 20, 100};
    x->now += steps[u8(in) % 4];
    FZ_OK(podsync_store_set_time(x->w, x->now));
    int32_t st = podsync_store_flush_due(x->w);
    int32_t want = refresh_due(x) ? PODSYNC_FLUSH_DUE : PODSYNC_OK;
    FZ_REQUIRE(st == want, "flush_due at %" PRIu64 " ms (last slice at %" PRIu64 ", refresh_ms %" PRIu64 ", %" PRIu64
               " changes pending) returned %s, expected %s",
               x->now, x->last_slice_ms, x->refresh_ms, info_of(x->w).pending_changes, podsync_status_name(st), podsync_status_name(want));
}

/* ------------------------------------------------------------------------------------------ */
/* Chunked snapshot streams                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void snap_end(run *x) {
    snap_run *s = &x->snap;
    if (!s->active) return;
    podsync_snapshot_free(s->h);
    if (s->rx_is_lag) {
        if (s->staged) x->lag_other_staging = 1;
    } else {
        podsync_store_free(s->rx);
    }
    free(s->last);
    podsync_store *src = s->src;
    memset(s, 0, sizeof *s);
    podsync_metrics m = metrics_of(src);
    FZ_REQUIRE(m.snapshot_bytes_held == 0, "no chunked snapshot is open, but snapshot_bytes_held is %" PRIu64, m.snapshot_bytes_held);
}

static size_t chunk_limit_of(const run *x, size_t asked) {
    if (asked) return asked;
    return x->max_frame_bytes ? (size_t)x->max_frame_bytes : SIZE_MAX;
}

/* podsync_snapshot_position names the chunk the handle produces next. */
static void check_position(const run *x) {
    const snap_run *s = &x->snap;
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    FZ_OK(podsync_snapshot_position(s->h, &p));
    uint32_t table = s->produced_last ? UINT32_MAX : s->next_table;
    uint64_t key = s->produced_last ? UINT64_MAX : s->next_key;
    FZ_REQUIRE(p.stream_id == s->stream && p.term == 0 && p.snapshot_id == s->id && p.state_version == s->version &&
                   p.chunk_index == s->next_index && p.start_table == table && p.start_key == key && p.base_version == 0,
               "snapshot_position: snapshot %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64 " at (%u, %016" PRIx64 "), expected %016" PRIx64
               " v%" PRIu64 " chunk %" PRIu64 " at (%u, %016" PRIx64 ")",
               p.snapshot_id, p.state_version, p.chunk_index, p.start_table, p.start_key, s->id, s->version, s->next_index, table, key);
}

static void op_snap_begin(run *x, reader *in) {
    snap_end(x);
    uint8_t b = u8(in);
    static const size_t sizes[8] = {0, 512, 600, 1000, 4096, 100, 511, 2048};
    int src_is_writer = !(b & 1) || info_of(x->r).stream_id == 0;
    podsync_store *src = src_is_writer ? x->w : x->r;
    size_t asked = sizes[(b >> 2) & 7];
    size_t limit = chunk_limit_of(x, asked);
    podsync_store_info si = info_of(src);
    podsync_snapshot *h = NULL;
    int32_t st = podsync_snapshot_begin(src, asked, &h);
    if (limit < PODSYNC_MIN_CHUNK_BYTES) {
        FZ_REQUIRE(st == PODSYNC_E_INVALID_ARGUMENT && h == NULL, "snapshot_begin(%zu) with max_frame_bytes %" PRIu64 " returned %s", asked,
                   x->max_frame_bytes, podsync_status_name(st));
        return;
    }
    FZ_REQUIRE(st == PODSYNC_OK && h != NULL, "snapshot_begin(%zu) returned %s: %s", asked, podsync_status_name(st),
               podsync_store_errmsg(src));
    snap_run *s = &x->snap;
    memset(s, 0, sizeof *s);
    s->active = 1;
    s->h = h;
    s->src = src;
    s->src_is_writer = src_is_writer;
    s->src_name = src_is_writer ? "writer" : "replica";
    s->rx_is_lag = (b & 2) != 0;
    s->rx = s->rx_is_lag ? x->lag : fresh_replica(x);
    s->version = si.state_version;
    s->digest = si.digest;
    s->stream = si.stream_id;
    s->records = src_is_writer ? flushed_total(x) : total_records(src, x->desc);
    FZ_REQUIRE(!src_is_writer || si.digest == x->flushed_digest, "writer digest %016" PRIx64 ", the model's last flush %016" PRIx64,
               si.digest, x->flushed_digest);
    s->max_chunk = limit;
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    FZ_OK(podsync_snapshot_position(h, &p));
    s->id = p.snapshot_id;
    FZ_REQUIRE(s->id != 0, "snapshot_begin: snapshot id 0");
    check_position(x);
}

/* What the receiver must answer for chunk `index` (docs/FORMAT.md rules 1-5, as this run knows
   the receiver's staging). */
static int32_t expected_status(const run *x, uint64_t index, int last) {
    const snap_run *s = &x->snap;
    podsync_store_info ri = info_of(s->rx);
    int follows = ri.stream_id == s->stream && ri.stream_id != 0 && !ri.diverged;
    if (follows && s->version < ri.state_version) return PODSYNC_STALE;
    if (follows && s->version == ri.state_version) return PODSYNC_DUPLICATE;
    if (s->staged) {
        if (index < s->expect) return PODSYNC_DUPLICATE;
        if (index > s->expect) return PODSYNC_CHUNK_GAP;
        return last ? PODSYNC_OK : PODSYNC_CHUNK_STAGED;
    }
    if (index == 0) return last ? PODSYNC_OK : PODSYNC_CHUNK_STAGED;
    return PODSYNC_CHUNK_GAP;
}

static void deliver(run *x, const uint8_t *f, size_t size, const podsync_frame_info *info) {
    snap_run *s = &x->snap;
    int last = (info->chunk_flags & PODSYNC_CHUNK_LAST) != 0;
    int32_t want = expected_status(x, info->chunk_index, last);
    int32_t st = fz_apply_checked(s->rx, x->desc, f, size);
    FZ_REQUIRE(st == want, "chunk %" PRIu64 "%s of snapshot %016" PRIx64 " v%" PRIu64 " from the %s on the %s: %s, expected %s (%s)",
               info->chunk_index, last ? " (last)" : "", s->id, s->version, s->src_name, s->rx_is_lag ? "lagging replica" : "receiver",
               podsync_status_name(st), podsync_status_name(want), podsync_store_errmsg(s->rx));
    if (st != PODSYNC_DUPLICATE || s->last_index != info->chunk_index || !s->last) {
        free(s->last);
        s->last = malloc(size);
        FZ_REQUIRE(s->last != NULL, "out of memory");
        memcpy(s->last, f, size);
        s->last_size = size;
        s->last_index = info->chunk_index;
    }
    switch (st) {
    case PODSYNC_CHUNK_STAGED:
        s->staged = 1;
        s->wanted = 0;
        s->expect = info->chunk_index + 1;
        s->rx_table = info->chunk_end_table;
        s->rx_key = info->chunk_end_key;
        if (s->rx_is_lag) x->lag_other_staging = 0;
        break;
    case PODSYNC_CHUNK_GAP:
        if (!s->staged) s->wanted = !(s->rx_is_lag && x->lag_other_staging);
        break;
    case PODSYNC_OK: {
        /* the switch: the receiver holds the snapshot's state */
        podsync_store_info ri = info_of(s->rx);
        FZ_REQUIRE(ri.state_version == s->version && ri.digest == s->digest && ri.stream_id == s->stream &&
                       total_records(s->rx, x->desc) == s->records,
                   "after the switch: version %" PRIu64 " digest %016" PRIx64 " records %zu, the snapshot's %" PRIu64 " %016" PRIx64
                   " %" PRIu64, ri.state_version, ri.digest, total_records(s->rx, x->desc), s->version, s->digest, s->records);
        s->staged = 0;
        s->wanted = 0;
        s->switched = 1;
        if (s->rx_is_lag) x->lag_other_staging = 0;
        break;
    }
    default:
        break;
    }
}

/* Produces the handle's next chunk (checked), and delivers it unless it is lost. Returns 0 after
   the last. */
static int produce(run *x, int lose) {
    snap_run *s = &x->snap;
    const uint8_t *f = NULL;
    size_t size = 0;
    uint64_t chunks_before = metrics_of(s->src).chunks_out;
    check_position(x);
    int32_t st = podsync_snapshot_next(s->h, &f, &size);
    if (s->produced_last) {
        FZ_REQUIRE(st == PODSYNC_DONE && f == NULL && size == 0, "snapshot_next after the last chunk returned %s", podsync_status_name(st));
        return 0;
    }
    FZ_REQUIRE(st == PODSYNC_OK && f && size, "snapshot_next (chunk %" PRIu64 ") returned %s: %s", s->next_index, podsync_status_name(st),
               podsync_snapshot_errmsg(s->h));
    FZ_REQUIRE(metrics_of(s->src).chunks_out == chunks_before + 1, "snapshot_next: chunks_out did not count the chunk");
    podsync_frame_info info = check_frame(x, "chunk", f, size, s->stream, 0, s->version, K_RESET | K_CHUNK);
    int last = (info.chunk_flags & PODSYNC_CHUNK_LAST) != 0;
    FZ_REQUIRE(info.snapshot_id == s->id && info.chunk_index == s->next_index && info.chunk_start_table == s->next_table &&
                   info.chunk_start_key == s->next_key,
               "chunk: snapshot %016" PRIx64 " index %" PRIu64 " from (%u, %016" PRIx64 "), expected %016" PRIx64 " %" PRIu64
               " from (%u, %016" PRIx64 ")",
               info.snapshot_id, info.chunk_index, info.chunk_start_table, info.chunk_start_key, s->id, s->next_index, s->next_table,
               s->next_key);
    FZ_REQUIRE(!x->digests || info.state_digest == s->digest, "chunk carries digest %016" PRIx64 ", the snapshot's %016" PRIx64,
               info.state_digest, s->digest);
    FZ_REQUIRE(!last || info.chunk_record_count == s->records, "last chunk counts %" PRIu64 " records, the snapshot holds %" PRIu64,
               info.chunk_record_count, s->records);
    FZ_REQUIRE(size <= s->max_chunk, "chunk %" PRIu64 " of %zu bytes, max_chunk_bytes %zu", info.chunk_index, size, s->max_chunk);
    if (info.codec == 0 && info.transforms == 0)
        check_plain_ranges(f, size, 0, info.section_count, info.chunk_start_table, info.chunk_start_key, last, info.chunk_end_table,
                           info.chunk_end_key, 0, "chunk");
    s->next_index++;
    s->next_table = info.chunk_end_table;
    s->next_key = info.chunk_end_key;
    s->produced_last = last;
    if (!lose) deliver(x, f, size, &info);
    return 1;
}

/* The receiver asks for the chunk it needs (podsync_store_staging) and the source resumes there. */
static void resume(run *x, size_t asked) {
    snap_run *s = &x->snap;
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    int32_t st = podsync_store_staging(s->rx, &p);
    if (!s->staged && !s->wanted) return; /* it stages (or waits for) another snapshot, or none */
    uint64_t index = s->staged ? s->expect : 0;
    uint32_t table = s->staged ? s->rx_table : 0;
    uint64_t key = s->staged ? s->rx_key : 0;
    FZ_REQUIRE(st == PODSYNC_OK && p.snapshot_id == s->id && p.stream_id == s->stream && p.state_version == s->version &&
                   p.chunk_index == index && p.start_table == table && p.start_key == key && p.term == 0 && p.base_version == 0,
               "podsync_store_staging: %s, snapshot %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64 " at (%u, %016" PRIx64 "), expected %016" PRIx64
               " v%" PRIu64 " chunk %" PRIu64 " at (%u, %016" PRIx64 ")",
               podsync_status_name(st), p.snapshot_id, p.state_version, p.chunk_index, p.start_table, p.start_key, s->id, s->version,
               index, table, key);
    podsync_store_info si = info_of(s->src);
    int held = s->h != NULL || (si.stream_id == s->stream && si.state_version == s->version && !si.diverged && si.stream_id != 0);
    podsync_snapshot *h = NULL;
    st = podsync_snapshot_resume(s->src, &p, asked, &h);
    if (!held) {
        FZ_REQUIRE(st == PODSYNC_E_SNAPSHOT_EXPIRED && h == NULL,
                   "snapshot_resume of snapshot %016" PRIx64 " v%" PRIu64 " (closed; the %s is at v%" PRIu64 ") returned %s", s->id,
                   s->version, s->src_name, si.state_version, podsync_status_name(st));
        snap_end(x);
        return;
    }
    FZ_REQUIRE(st == PODSYNC_OK && h != NULL, "snapshot_resume of snapshot %016" PRIx64 " v%" PRIu64 " at chunk %" PRIu64 " returned %s: %s",
               s->id, s->version, index, podsync_status_name(st), podsync_store_errmsg(s->src));
    podsync_snapshot_free(s->h);
    s->h = h;
    s->max_chunk = chunk_limit_of(x, asked);
    s->next_index = index;
    s->next_table = table;
    s->next_key = key;
    s->produced_last = 0;
    check_position(x);
}

static void op_snap_step(run *x, reader *in) {
    snap_run *s = &x->snap;
    uint8_t b = u8(in);
    if (!s->active) return;
    static const size_t sizes[4] = {0, 512, 777, 3000};
    unsigned count = 1 + ((b >> 4) & 3);
    unsigned action = (b & 7) % 6;
    switch (action) {
    case 0: case 1: /* deliver chunks */
    case 2:         /* lose them */
        for (unsigned i = 0; i < count && s->active && s->h; i++)
            if (!produce(x, action == 2)) break;
        break;
    case 3: /* the last chunk delivered, again */
        if (s->last) {
            podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
            FZ_OK(podsync_frame_peek(s->last, s->last_size, &info));
            uint8_t *copy = s->last;
            s->last = NULL; /* deliver() keeps a copy of its own */
            deliver(x, copy, s->last_size, &info);
            free(copy);
        }
        break;
    case 4: { /* resume where the receiver needs it */
        size_t asked = sizes[(b >> 3) & 1 ? 1 + ((b >> 6) % 3) : 0];
        if (chunk_limit_of(x, asked) < PODSYNC_MIN_CHUNK_BYTES) asked = 512;
        resume(x, asked);
        break;
    }
    default: /* the producer closes the snapshot (its receiver may still resume it) */
        podsync_snapshot_free(s->h);
        s->h = NULL;
        if (metrics_of(s->src).snapshot_bytes_held != 0)
            fz_violation(__FILE__, __LINE__, "snapshot closed, but snapshot_bytes_held is %" PRIu64, metrics_of(s->src).snapshot_bytes_held);
        break;
    }
    if (s->active && s->switched) snap_end(x);
}

/* ------------------------------------------------------------------------------------------ */
/* The program                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void run_program(run *x, reader *in) {
    uint8_t rec[FZ_MAX_RECORD];
    uint64_t keys[96];
    uint8_t *many = malloc(96 * FZ_MAX_RECORD);
    FZ_REQUIRE(many != NULL, "out of memory");
    for (int ops = 0; ops < 400 && more(in); ops++) {
        uint8_t op = u8(in) % 18;
        size_t t = u8(in) % x->desc->table_count;
        model_table *m = &x->model[t];
        switch (op) {
        case 0: case 1: case 2: {
            uint64_t key = read_key(in);
            make_record(x, in, m, key, u8(in), rec);
            int32_t st = podsync_store_put(x->w, m->id, key, rec, m->rs);
            FZ_REQUIRE(st >= 0, "put(table %u, key %" PRIu64 ") returned %s: %s", m->id, key, podsync_status_name(st),
                       podsync_store_errmsg(x->w));
            note_put(x, t, key, rec);
            x->writes_since_flush = 1;
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
            for (size_t i = 0; i < count; i++) note_put(x, t, keys[i], many + i * m->rs);
            x->writes_since_flush = 1;
            break;
        }
        case 4: {
            uint64_t key = read_key(in);
            int had = model_delete(m, key);
            int32_t st = podsync_store_delete(x->w, m->id, key);
            FZ_REQUIRE(had ? st >= 0 && st != PODSYNC_NOT_FOUND : st == PODSYNC_NOT_FOUND,
                       "delete(table %u, key %" PRIu64 ") returned %s; the model %s it", m->id, key, podsync_status_name(st),
                       had ? "had" : "lacked");
            if (had) {
                note_dirty(x, t, key);
                x->writes_since_flush = 1;
            }
            break;
        }
        case 5: {
            size_t count = 1 + u8(in) % 64, expected = 0, deleted = 0;
            uint64_t base = read_key(in), stride = u8(in) % 9;
            for (size_t i = 0; i < count; i++) {
                keys[i] = base + i * stride;
                int had = model_delete(m, keys[i]);
                expected += (size_t)had;
                if (had) note_dirty(x, t, keys[i]);
            }
            int32_t st = podsync_store_delete_many(x->w, m->id, keys, count, &deleted);
            FZ_REQUIRE(st >= 0 && deleted == expected, "delete_many(table %u, %zu keys) returned %s, %zu deleted; the model %zu",
                       m->id, count, podsync_status_name(st), deleted, expected);
            if (deleted) x->writes_since_flush = 1;
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
        case 13:
            if (t == 0) op_replay(x);
            else op_read(x, in);
            break;
        case 14:
            op_snap_begin(x, in);
            break;
        case 15:
            op_snap_step(x, in);
            break;
        case 16:
            op_time(x, in);
            break;
        default: /* the next frames to the one-way replica are lost */
            x->ow_lose = 1 + u8(in) % 4;
            break;
        }
    }
    free(many);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int32_t levels[5] = {0, 1, -1, 3, 19};
    static const uint64_t frame_sizes[4] = {256, 512, 1024, 4096};
    static const uint32_t refreshes[4] = {0, 1, 3, 8};
    if (size < 3) return 0;
    reader in = {data, size, 3};
    run x;
    memset(&x, 0, sizeof x);
    x.level = levels[data[0] % 5];
    x.transforms = data[1] & PODSYNC_TRANSFORM_ALL;
    x.format = (data[1] & 0x10) ? 2 : 1;
    x.refresh = refreshes[(data[1] >> 5) & 3];
    x.refresh_ms = x.refresh && (data[1] & 0x80) ? 20 : 0;
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
    if (data[2] & 0x80) x.ow = fresh_replica_flags(&x, PODSYNC_OPT_ONE_WAY);
    for (size_t t = 0; t < x.desc->table_count; t++) {
        model_init(&x.model[t], &x.desc->tables[t]);
        fz_table versions = {x.desc->tables[t].id, 16, 8};
        model_init(&x.changes[t], &versions);
    }

    run_program(&x, &in);

    /* the end: the snapshot stream closes, a last flush and catch-up, then every record of the
       replica equals the model's */
    snap_end(&x);
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
        model_free(&x.changes[t]);
        free(x.dirty[t]);
    }
    free(x.boundaries);
    free(x.last);
    podsync_store_free(x.w);
    podsync_store_free(x.r);
    podsync_store_free(x.lag);
    podsync_store_free(x.ow);
    return 0;
}
