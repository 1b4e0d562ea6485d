/* fuzz_common.c — see fuzz_common.h. */
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include "fuzz_common.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

void fz_violation(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nVIOLATION at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

/* ------------------------------------------------------------------------------------------ */
/* Bytes and PRNG                                                                             */
/* ------------------------------------------------------------------------------------------ */

uint64_t fz_rd64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
uint32_t fz_rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
uint16_t fz_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
void fz_wr64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
void fz_wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t fz_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
uint64_t fz_below(uint64_t *state, uint64_t n) { return n ? fz_next(state) % n : 0; }

int fz_fix_checksum(uint8_t *frame, size_t size) {
    if (size < 24) return 0;
    uint64_t length = fz_rd64(frame + FZ_OFF_FRAME_LENGTH);
    if (length < 16 || length > size) return 0;
    fz_wr64(frame + FZ_OFF_CHECKSUM, XXH3_64bits(frame + 16, (size_t)length - 16));
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Schemas                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static const fz_table k_entities[] = {{1, 40, 8}, {7, 16, 16}};
static const fz_table k_small[] = {{3, 1, 1}, {4, 8, 8}, {9, 24, 8}};
static const fz_table k_wide[] = {{2, 64, 64}, {1000, 12, 4}};
static const fz_table k_odd[] = {{0, 3, 1}, {0xFFFFFFFFu, 200, 8}};
static const fz_schema_desc k_schemas[FZ_SCHEMAS] = {
    {"entities", 2, k_entities},
    {"small", 3, k_small},
    {"wide", 2, k_wide},
    {"odd", 2, k_odd},
};

const fz_schema_desc *fz_schema_desc_get(unsigned index) { return &k_schemas[index % FZ_SCHEMAS]; }

podsync_schema *fz_schema_new(unsigned index) {
    static const podsync_field entity[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    static const podsync_field pair[] = {{"a", PODSYNC_TYPE_U64, 0, 1, 0}, {"b", PODSYNC_TYPE_I64, 8, 1, 0}};
    static const podsync_field byte1[] = {{"v", PODSYNC_TYPE_U8, 0, 1, 0}};
    static const podsync_field vec3[] = {{"xyz", PODSYNC_TYPE_F64, 0, 3, 0}};
    static const podsync_field blob[] = {{"blob", PODSYNC_TYPE_BYTES, 0, 64, 0}};
    static const podsync_field trio[] = {{"i", PODSYNC_TYPE_I32, 0, 1, 0}, {"u", PODSYNC_TYPE_U16, 4, 2, 0},
                                         {"f", PODSYNC_TYPE_F32, 8, 1, 0}};
    static const podsync_field rgb[] = {{"r", PODSYNC_TYPE_U8, 0, 1, 0}, {"gb", PODSYNC_TYPE_I8, 1, 2, 0}};
    podsync_schema *s = NULL;
    FZ_OK(podsync_schema_create(&s));
    switch (index % FZ_SCHEMAS) {
    case 0:
        FZ_OK(podsync_schema_add_table(s, 1, 40, 8, entity, 4));
        FZ_OK(podsync_schema_add_table(s, 7, 16, 16, pair, 2));
        break;
    case 1:
        FZ_OK(podsync_schema_add_table(s, 3, 1, 1, byte1, 1));
        FZ_OK(podsync_schema_add_table(s, 4, 8, 8, NULL, 0));
        FZ_OK(podsync_schema_add_table(s, 9, 24, 8, vec3, 1));
        break;
    case 2:
        FZ_OK(podsync_schema_add_table(s, 2, 64, 64, blob, 1));
        FZ_OK(podsync_schema_add_table(s, 1000, 12, 4, trio, 3));
        break;
    default:
        FZ_OK(podsync_schema_add_table(s, 0, 3, 1, rgb, 2));
        FZ_OK(podsync_schema_add_table(s, 0xFFFFFFFFu, 200, 8, NULL, 0));
        break;
    }
    return s;
}

uint64_t fz_schema_hash(unsigned index) {
    static uint64_t hashes[FZ_SCHEMAS];
    static int known[FZ_SCHEMAS];
    index %= FZ_SCHEMAS;
    if (!known[index]) {
        podsync_schema *s = fz_schema_new(index);
        FZ_OK(podsync_schema_hash(s, &hashes[index]));
        podsync_schema_free(s);
        known[index] = 1;
    }
    return hashes[index];
}

int fz_schema_by_hash(uint64_t hash) {
    for (unsigned i = 0; i < FZ_SCHEMAS; i++)
        if (fz_schema_hash(i) == hash) return (int)i;
    return -1;
}

static int fail(const char **why, const char *reason) {
    *why = reason;
    return -1;
}

static const uint32_t k_type_sizes[12] = {0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 1};

int fz_parse_schema(const uint8_t *p, size_t size, fz_parsed_schema *out, const char **why) {
    memset(out, 0, sizeof *out);
    out->desc.name = "parsed";
    if (size < 12 || memcmp(p, "PSYNSCH1", 8) != 0) return fail(why, "no magic, or shorter than 12 bytes");
    size_t count = fz_rd32(p + 8), pos = 12;
    if (count > PODSYNC_MAX_TABLES) return fail(why, "more than 1024 tables");
    out->tables = calloc(count + 1, sizeof *out->tables);
    out->field_counts = calloc(count + 1, sizeof *out->field_counts);
    out->fields = calloc(count + 1, sizeof *out->fields);
    out->names = malloc(2 * size + 1); /* each name: at most its bytes plus a NUL */
    FZ_REQUIRE(out->tables && out->field_counts && out->fields && out->names, "out of memory");
    out->desc.tables = out->tables;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        if (size - pos < 16) return fail(why, "ends inside a table");
        fz_table *t = &out->tables[i];
        t->id = fz_rd32(p + pos);
        t->record_size = fz_rd32(p + pos + 4);
        t->alignment = fz_rd32(p + pos + 8);
        uint32_t fc = fz_rd32(p + pos + 12);
        pos += 16;
        out->desc.table_count = i + 1; /* so fz_parsed_schema_free frees this table's fields */
        if (i > 0 && t->id <= out->tables[i - 1].id) return fail(why, "table ids not strictly ascending");
        if (t->record_size < 1 || t->record_size > PODSYNC_MAX_RECORD_SIZE) return fail(why, "record size out of range");
        if (t->alignment < 1 || t->alignment > PODSYNC_MAX_ALIGNMENT || (t->alignment & (t->alignment - 1)))
            return fail(why, "alignment not a power of two in 1..64");
        if (t->record_size % t->alignment) return fail(why, "record size not a multiple of the alignment");
        if (fc > PODSYNC_MAX_FIELDS) return fail(why, "more than 1024 fields");
        out->field_counts[i] = fc;
        out->fields[i] = calloc(fc + 1, sizeof(podsync_field));
        FZ_REQUIRE(out->fields[i] != NULL, "out of memory");
        uint64_t previous_end = 0;
        for (uint32_t f = 0; f < fc; f++) {
            if (size - pos < 16) return fail(why, "ends inside a field");
            podsync_field *fd = &out->fields[i][f];
            fd->type = fz_rd32(p + pos);
            fd->offset = fz_rd32(p + pos + 4);
            fd->count = fz_rd32(p + pos + 8);
            uint32_t n = fz_rd32(p + pos + 12);
            pos += 16;
            if (fd->type < 1 || fd->type > 11) return fail(why, "field type out of range");
            if (fd->count == 0) return fail(why, "field count 0");
            if (n < 1 || n > PODSYNC_MAX_FIELD_NAME) return fail(why, "field name length out of range");
            if (n > size - pos) return fail(why, "ends inside a field name");
            if (memchr(p + pos, 0, n)) return fail(why, "field name with a NUL byte");
            if (f > 0 && fd->offset <= out->fields[i][f - 1].offset) return fail(why, "field offsets not strictly ascending");
            if (f > 0 && fd->offset < previous_end) return fail(why, "fields overlap");
            uint64_t end = (uint64_t)fd->offset + (uint64_t)fd->count * k_type_sizes[fd->type];
            if (end > t->record_size) return fail(why, "field outside the record");
            previous_end = end;
            memcpy(out->names + at, p + pos, n);
            out->names[at + n] = 0;
            fd->name = out->names + at;
            for (uint32_t g = 0; g < f; g++)
                if (strcmp(out->fields[i][g].name, fd->name) == 0) return fail(why, "two fields with one name");
            at += n + 1;
            pos += n;
        }
    }
    if (pos != size) return fail(why, "bytes after the last table");
    return 0;
}

void fz_parsed_schema_free(fz_parsed_schema *s) {
    if (s->fields)
        for (size_t i = 0; i < s->desc.table_count; i++) free(s->fields[i]);
    free(s->fields);
    free(s->field_counts);
    free(s->tables);
    free(s->names);
    memset(s, 0, sizeof *s);
}

void fz_make_record(uint8_t *out, uint32_t record_size, uint64_t key, const uint8_t *prev,
                    unsigned kind, uint64_t *rng) {
    switch (kind % 4) {
    case 0: /* id-like: the key, the rest zero */
        memset(out, 0, record_size);
        for (uint32_t i = 0; i < record_size && i < 8; i++) out[i] = (uint8_t)(key >> (8 * i));
        break;
    case 1: /* the previous value with one or two bytes changed */
        if (prev) memcpy(out, prev, record_size);
        else memset(out, 0, record_size);
        for (int n = 1 + (int)fz_below(rng, 2); n > 0; n--) out[fz_below(rng, record_size)] ^= (uint8_t)(1 + fz_below(rng, 255));
        break;
    case 2: /* noise */
        for (uint32_t i = 0; i < record_size; i++) out[i] = (uint8_t)fz_next(rng);
        break;
    default: /* float-like: high bytes shared, low bytes noisy */
        for (uint32_t i = 0; i < record_size; i++) out[i] = (i % 4 >= 2) ? (uint8_t)(0x40 + (key & 3)) : (uint8_t)fz_next(rng);
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Stores                                                                                     */
/* ------------------------------------------------------------------------------------------ */

podsync_store_options fz_options(int32_t level, uint32_t transforms, uint64_t max_frame_bytes) {
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    FZ_OK(podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION));
    o.flags = PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK;
    o.stream_id = 0x5EED5EED00000001ull;
    o.max_batch_records = 0;
    o.max_batch_bytes = 0;
    o.max_batch_age_ms = 0;
    o.max_frame_bytes = max_frame_bytes;
    o.compression_level = level;
    o.transforms = transforms;
    return o;
}

static uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t fz_record_digest(uint32_t table_id, uint64_t key, const void *record, size_t size) {
    uint64_t seed = fmix64(key ^ ((uint64_t)table_id * 0x9E3779B97F4A7C15ull));
    return XXH3_64bits_withSeed(record, size, seed);
}

uint64_t fz_recompute_digest(const podsync_store *store, const fz_schema_desc *d) {
    uint64_t sum = 0;
    for (size_t t = 0; t < d->table_count; t++) {
        const fz_table *tb = &d->tables[t];
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        FZ_OK(podsync_store_table(store, tb->id, &records, &keys, &count));
        FZ_REQUIRE(count == 0 || (records && keys), "table %u: %zu records but NULL arrays", tb->id, count);
        FZ_REQUIRE(count == 0 || (uintptr_t)records % tb->alignment == 0, "table %u: records at %p, not aligned to %u",
                   tb->id, records, tb->alignment);
        size_t counted = 0;
        FZ_OK(podsync_store_count(store, tb->id, &counted));
        FZ_REQUIRE(counted == count, "table %u: count %zu but table view holds %zu", tb->id, counted, count);
        for (size_t i = 0; i < count; i++) {
            const uint8_t *rec = (const uint8_t *)records + i * tb->record_size;
            sum += fz_record_digest(tb->id, keys[i], rec, tb->record_size);
            const void *got = NULL;
            int32_t st = podsync_store_get(store, tb->id, keys[i], &got);
            FZ_REQUIRE(st == PODSYNC_OK && got == rec, "table %u key %" PRIu64 " (slot %zu): get returned %s, %p instead of %p",
                       tb->id, keys[i], i, podsync_status_name(st), got, (const void *)rec);
        }
    }
    return sum;
}

fz_state fz_capture(const podsync_store *store, const fz_schema_desc *schema) {
    fz_state s;
    memset(&s, 0, sizeof s);
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    FZ_OK(podsync_store_info_get(store, &info));
    FZ_OK(podsync_store_digest(store, &s.digest));
    FZ_REQUIRE(s.digest == info.digest, "podsync_store_digest %016" PRIx64 " but info.digest %016" PRIx64, s.digest, info.digest);
    s.recomputed = fz_recompute_digest(store, schema);
    s.version = info.state_version;
    s.stream = info.stream_id;
    s.sequence = info.sequence;
    s.diverged = info.diverged;
    for (size_t t = 0; t < schema->table_count; t++) {
        size_t n = 0;
        FZ_OK(podsync_store_count(store, schema->tables[t].id, &n));
        s.total += n;
        if (t < FZ_STATE_TABLES) s.counts[t] = n;
    }
    return s;
}

void fz_require_same(const fz_state *a, const fz_state *b, const char *what) {
    FZ_REQUIRE(a->digest == b->digest, "%s: digest changed %016" PRIx64 " -> %016" PRIx64, what, a->digest, b->digest);
    FZ_REQUIRE(a->recomputed == b->recomputed, "%s: records changed (recomputed digest %016" PRIx64 " -> %016" PRIx64 ")",
               what, a->recomputed, b->recomputed);
    FZ_REQUIRE(a->version == b->version, "%s: version changed %" PRIu64 " -> %" PRIu64, what, a->version, b->version);
    FZ_REQUIRE(a->stream == b->stream, "%s: stream changed %016" PRIx64 " -> %016" PRIx64, what, a->stream, b->stream);
    FZ_REQUIRE(a->sequence == b->sequence, "%s: sequence changed %" PRIu64 " -> %" PRIu64, what, a->sequence, b->sequence);
    FZ_REQUIRE(a->diverged == b->diverged, "%s: diverged changed %u -> %u", what, a->diverged, b->diverged);
    FZ_REQUIRE(a->total == b->total, "%s: records in all tables changed %zu -> %zu", what, a->total, b->total);
    for (size_t t = 0; t < FZ_STATE_TABLES; t++)
        FZ_REQUIRE(a->counts[t] == b->counts[t], "%s: count of table #%zu changed %zu -> %zu", what, t, a->counts[t], b->counts[t]);
}

int32_t fz_apply_checked(podsync_store *replica, const fz_schema_desc *schema, const uint8_t *frame, size_t size) {
    fz_state before = fz_capture(replica, schema);
    podsync_frame_info h = PODSYNC_FRAME_INFO_INIT;
    int have_header = podsync_frame_peek(frame, size, &h) == PODSYNC_OK;
    const uint64_t unset = 0xA5A5A5A5A5A5A5A5ull;
    uint64_t version_out = unset;
    int32_t st = podsync_store_apply(replica, frame, size, &version_out);
    fz_state after = fz_capture(replica, schema);
    FZ_REQUIRE(after.digest == after.recomputed,
               "after apply (%s): library digest %016" PRIx64 " but the records sum to %016" PRIx64,
               podsync_status_name(st), after.digest, after.recomputed);
    FZ_REQUIRE(version_out == after.version || (st < 0 && version_out == unset),
               "apply returned %s with version_out %" PRIu64 " but the replica is at %" PRIu64,
               podsync_status_name(st), version_out, after.version);
    int reset = have_header && (h.flags & PODSYNC_FRAME_RESET);
    /* The replica follows the frame's stream and vouches for its version (the apply rules' test). */
    int same_stream = before.stream == h.stream_id;
    int follows = before.stream != 0 && same_stream && !before.diverged; /* stream 0: follows none yet */
    switch (st) {
    case PODSYNC_OK:
        FZ_REQUIRE(have_header, "apply OK but podsync_frame_peek rejects the frame");
        /* Known deviation (reported with issue 9): a frame of stream id 0, as a replica that
           follows no stream serves, "binds nothing": the replica keeps following its stream,
           where docs/FORMAT.md says it follows the frame's. */
        FZ_REQUIRE(after.version == h.state_version && after.stream == (h.stream_id ? h.stream_id : before.stream) &&
                       after.sequence == h.sequence,
                   "apply OK: replica at version %" PRIu64 " stream %016" PRIx64 " sequence %" PRIu64
                   ", frame says %" PRIu64 " %016" PRIx64 " %" PRIu64,
                   after.version, after.stream, after.sequence, h.state_version, h.stream_id, h.sequence);
        FZ_REQUIRE(!after.diverged, "apply OK but the replica is marked diverged");
        FZ_REQUIRE(!(h.flags & PODSYNC_FRAME_HAS_DIGEST) || after.digest == h.state_digest,
                   "apply OK but digest %016" PRIx64 " differs from the frame's %016" PRIx64, after.digest, h.state_digest);
        if (reset) {
            FZ_REQUIRE(!(follows && h.state_version <= before.version),
                       "snapshot to version %" PRIu64 " applied over version %" PRIu64 " of the same stream",
                       h.state_version, before.version);
        } else {
            FZ_REQUIRE(!before.diverged, "delta applied to a diverged replica");
            FZ_REQUIRE(before.stream == 0 || same_stream, "delta of another stream applied");
            /* Known deviation (reported with issue 9): a replica that follows no stream applies a
               delta even when state_version <= its version, where docs/FORMAT.md says DUPLICATE.
               It can be past version 0 without a stream only after frames of stream id 0, which
               writers must not send; the base rule still holds for it. */
            FZ_REQUIRE(h.base_version <= before.version && (before.stream == 0 || before.version < h.state_version),
                       "delta %" PRIu64 "->%" PRIu64 " applied at version %" PRIu64, h.base_version, h.state_version,
                       before.version);
        }
        break;
    case PODSYNC_DUPLICATE:
    case PODSYNC_GAP:
    case PODSYNC_STALE:
        fz_require_same(&before, &after, podsync_status_name(st));
        FZ_REQUIRE(have_header, "apply %s but podsync_frame_peek rejects the frame", podsync_status_name(st));
        /* a delta is classified only by a replica that is not diverged and follows its stream (or none) */
        FZ_REQUIRE(reset || (!before.diverged && (before.stream == 0 || same_stream)),
                   "%s for a delta of stream %016" PRIx64 " on a replica of stream %016" PRIx64 " (diverged %u)",
                   podsync_status_name(st), h.stream_id, before.stream, before.diverged);
        if (st == PODSYNC_DUPLICATE)
            FZ_REQUIRE(reset ? (follows && h.state_version == before.version) : h.state_version <= before.version,
                       "DUPLICATE for a frame to version %" PRIu64 " at version %" PRIu64, h.state_version, before.version);
        else if (st == PODSYNC_GAP)
            FZ_REQUIRE(!reset && h.base_version > before.version, "GAP for a frame from version %" PRIu64 " at version %" PRIu64,
                       h.base_version, before.version);
        else
            FZ_REQUIRE(reset && follows && h.state_version < before.version,
                       "STALE for a frame to version %" PRIu64 " at version %" PRIu64, h.state_version, before.version);
        break;
    case PODSYNC_E_DIGEST_MISMATCH:
        FZ_REQUIRE(have_header && (h.flags & PODSYNC_FRAME_HAS_DIGEST), "DIGEST_MISMATCH for a frame without a digest");
        FZ_REQUIRE(after.version == h.state_version && after.diverged, "DIGEST_MISMATCH: version %" PRIu64 " (frame %" PRIu64
                   "), diverged %u", after.version, h.state_version, after.diverged);
        FZ_REQUIRE(after.digest != h.state_digest, "DIGEST_MISMATCH but the digests are equal (%016" PRIx64 ")", after.digest);
        break;
    default:
        FZ_REQUIRE(st < 0, "apply returned an unexpected status %d", (int)st);
        FZ_REQUIRE(st != PODSYNC_E_INTERNAL, "apply returned PODSYNC_E_INTERNAL: %s", podsync_store_errmsg(replica));
        fz_require_same(&before, &after, podsync_status_name(st));
        break;
    }
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* The shared dictionary                                                                      */
/* ------------------------------------------------------------------------------------------ */

uint8_t *fz_shared_dictionary(size_t *size_out, uint32_t *id_out) {
    podsync_schema *schema = fz_schema_new(0);
    podsync_store_options o = fz_options(3, PODSYNC_TRANSFORM_ALL, 0);
    podsync_store *w = NULL;
    FZ_OK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w));
    podsync_schema_free(schema);
    FZ_OK(podsync_store_collect_samples(w, 1 << 20));
    uint64_t rng = 0xD1C7;
    uint8_t rec[FZ_MAX_RECORD], prev[FZ_MAX_RECORD];
    memset(prev, 0, sizeof prev);
    for (int flush = 0; flush < 48; flush++) {
        for (uint64_t k = 0; k < 40; k++) {
            fz_make_record(rec, 40, k + 1, prev, (unsigned)(k % 4 == 2 ? 1 : 3), &rng);
            FZ_OK(podsync_store_put(w, 1, k + 1, rec, 40));
            memcpy(prev, rec, 40);
        }
        for (uint64_t k = 0; k < 8; k++) {
            fz_make_record(rec, 16, 1000 + k, NULL, 0, &rng);
            FZ_OK(podsync_store_put(w, 7, 1000 + k * 3, rec, 16));
        }
        size_t n = 0;
        FZ_OK(podsync_store_flush(w, &n));
    }
    uint32_t id = 0;
    FZ_OK(podsync_store_train_dictionary(w, 4096, &id));
    const void *dict = NULL;
    size_t size = 0;
    FZ_OK(podsync_store_dictionary(w, &dict, &size, NULL));
    uint8_t *copy = malloc(size);
    FZ_REQUIRE(copy != NULL, "out of memory");
    memcpy(copy, dict, size);
    podsync_store_free(w);
    *size_out = size;
    *id_out = id;
    return copy;
}

/* ------------------------------------------------------------------------------------------ */
/* Containers                                                                                 */
/* ------------------------------------------------------------------------------------------ */

size_t fz_container_parse(const uint8_t *data, size_t size, fz_container *c) {
    memset(c, 0, sizeof *c);
    if (size == 0) return 0;
    c->cfg = data[0];
    size_t pos = 1;
    while (c->count < FZ_MAX_FRAMES && size - pos >= 4) {
        uint32_t n = fz_rd32(data + pos);
        pos += 4;
        size_t take = n <= size - pos ? n : size - pos;
        c->frame[c->count] = data + pos;
        c->size[c->count] = take;
        c->count++;
        pos += take;
    }
    return c->count;
}

size_t fz_container_write(uint8_t *out, size_t capacity, uint8_t cfg, const uint8_t *const *frames,
                          const size_t *sizes, size_t count) {
    if (capacity < 1) return 0;
    out[0] = cfg;
    size_t pos = 1;
    for (size_t i = 0; i < count; i++) {
        if (capacity - pos < 4 || capacity - pos - 4 < sizes[i] || sizes[i] > UINT32_MAX) return 0;
        fz_wr32(out + pos, (uint32_t)sizes[i]);
        /* memmove: a mutator may rewrite a container in place from pointers into itself. */
        if (sizes[i]) memmove(out + pos + 4, frames[i], sizes[i]);
        pos += 4 + sizes[i];
    }
    return pos;
}

fz_validate_limited_fn fz_validate_limited(void) {
    static int looked;
    static fz_validate_limited_fn fn;
    if (!looked) {
        /* A cast through a union: ISO C has no conversion from void* to a function pointer. */
        union {
            void *p;
            fz_validate_limited_fn f;
        } u;
        u.p = dlsym(RTLD_DEFAULT, "podsync_frame_validate_limited");
        fn = u.f;
        looked = 1;
    }
    return fn;
}
