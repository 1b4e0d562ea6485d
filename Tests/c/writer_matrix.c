/*
 * writer_matrix.c — every frame a writer produces must validate, apply, and converge, for every
 * combination of encoder settings (issue 9).
 *
 * For each transform mask 0..15 (PODSYNC_TRANSFORM_*) x zstd level {1, -1, 3, 19} x producer x data
 * shape, a writer produces frames and every frame is checked:
 *   - podsync_frame_peek accepts it; its header is consistent (frame_length, codec 0/1, transforms a
 *     subset of what the options allow and of what the frame kind allows, a plain frame's
 *     payload_length, no dictionary unless the producer trained one);
 *   - podsync_frame_validate returns PODSYNC_OK (PODSYNC_E_DICTIONARY_MISSING, as documented, for a
 *     frame compressed with a dictionary, which must then name the dictionary the writer trained);
 *   - a plain frame (codec 0, transforms 0) can be read in place with podsync_frame_section_get;
 *   - it applies to a replica with PODSYNC_OK, and a second delivery returns PODSYNC_DUPLICATE (a
 *     same-version snapshot too; an older snapshot PODSYNC_STALE);
 *   - the replica converges: same version, same digest, and the same records key by key
 *     (podsync_store_table on one side, podsync_store_get on the other, counts equal).
 *
 * Producers:
 *   flush       each batch flushed (one frame per batch);
 *   split       each batch flushed with max_frame_bytes 1024, so big batches make several frames;
 *   delta_since a replica follows the first batch only; after each later batch, a catch-up delta
 *               since the version before it brings a second replica along, and at the end one
 *               delta since the first batch (several versions) brings the first one up;
 *   snapshot    the snapshot of the empty state at version 0, then a snapshot after every batch;
 *   dictionary  the writer collects samples over 12 warm-up flushes (table 20), trains a
 *               dictionary, the replica loads its bytes (podsync_store_dictionary ->
 *               podsync_store_load_dictionary), then the batches are flushed with it; a replica
 *               without the dictionary must answer PODSYNC_E_DICTIONARY_MISSING and stay unchanged.
 * Data shapes (batches of writes; see shape_batch):
 *   one         every batch changes exactly one record (random bytes; each table in turn,
 *               replacements too, the last one by an all-zero record);
 *   deletes     100 records per table, then batches of deletions only, down to empty tables;
 *   empty       only some tables change in each batch; tables emptied; ends with an empty state;
 *   random      structured random records (zero, sparse, small and noise byte columns; table 5
 *               all noise), inserts, updates, deletes, coalesced writes, keys 0 and 2^64-1;
 *   zeros       all-zero records (inserted, changed and changed back in one batch, deleted).
 * The schema has tables of different record sizes and alignments, including the issue's case,
 * table 0 of 8-byte records with alignment 2.
 *
 * First the exact reproduction of the bug report: one table 0 of 8-byte records, alignment 2,
 * compression_level 1, transforms 0; put 0xA9CD831118026938 = 11 22 33 44 55 66 77 aa and
 * 0x0FAF60B147095B9B = 85 bf 40 74 d3 a0 d9 44, flush; delete the first, put the second as
 * 01 02 .. 08, flush: both frames must validate and apply, and the replica must equal the writer
 * (the second frame was a 144-byte frame whose header said plain while its payload was packed).
 *
 * 1600 combinations, about 25,000 frames, about 10 s on 2 cores.
 *
 * Usage: writer_matrix [--seed N] [--quiet]
 * Prints one line per failing combination (mask, level, producer, shape, what failed, the status
 * name), a summary of the failures, and last the line "writer_matrix: N passed, M failed" (N and M
 * count combinations); exits 1 if M > 0.
 *
 * Build (as .ci/test builds the C tests):
 *   gcc -std=c99 -Wall -Wextra -Werror -O2 -Iinclude Tests/c/writer_matrix.c \
 *       -L.build/release -lpodsync -Wl,-rpath,$PWD/.build/release -lxxhash -lzstd -o writer_matrix
 * Options structs are passed as version 2 (library 0.3.0 on), so this runs against any library
 * that has compression dictionaries.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"

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

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* ---------------------------------------------------------------------------------------------- */
/* The schema                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

typedef struct table_def {
    uint32_t id, size, align;
} table_def;

/* The shapes use tables 0..4; table 20 (index 5) only holds the dictionary producer's warm-up. */
static const table_def TABLES[] = {
    {0, 8, 2},     /* the issue's case */
    {1, 40, 8},    /* an entity record */
    {5, 16, 16},
    {9, 3, 1},     /* odd size: COLUMNS maps with unused bits */
    {12, 128, 64}, /* records at 64-byte boundaries */
    {20, 24, 8},
};
#define NT 6
#define NSHAPE_TABLES 5
#define WARMUP_TABLE 5
#define MAX_RECORD 128
#define MAX_KEYS 4096

static podsync_schema *make_schema(void) {
    static const podsync_field f0[] = {{"w", PODSYNC_TYPE_U16, 0, 4, 0}};
    static const podsync_field f1[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    static const podsync_field f5[] = {{"a", PODSYNC_TYPE_U64, 0, 1, 0}, {"b", PODSYNC_TYPE_F64, 8, 1, 0}};
    static const podsync_field f9[] = {{"rgb", PODSYNC_TYPE_BYTES, 0, 3, 0}};
    static const podsync_field f20[] = {{"t", PODSYNC_TYPE_U64, 0, 1, 0}, {"v", PODSYNC_TYPE_F32, 8, 4, 0}};
    podsync_schema *s = NULL;
    if (podsync_schema_create(&s) != PODSYNC_OK) return NULL;
    int32_t st = PODSYNC_OK;
    if (st == PODSYNC_OK) st = podsync_schema_add_table(s, 0, 8, 2, f0, 1);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(s, 1, 40, 8, f1, 4);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(s, 5, 16, 16, f5, 2);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(s, 9, 3, 1, f9, 1);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(s, 12, 128, 64, NULL, 0);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(s, 20, 24, 8, f20, 2);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "schema: %s: %s\n", podsync_status_name(st), podsync_schema_errmsg(s));
        podsync_schema_free(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------------------------------------- */
/* Combinations                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

static const int LEVELS[] = {1, -1, 3, 19};
#define SPLIT_FRAME_BYTES 1024
#define NLEVELS 4
enum { P_FLUSH, P_SPLIT, P_DELTA, P_SNAPSHOT, P_DICT, NPRODUCERS };
static const char *const PRODUCER_NAMES[] = {"flush", "split", "delta_since", "snapshot", "dictionary"};
enum { S_ONE, S_DELETES, S_EMPTY, S_RANDOM, S_ZEROS, NSHAPES };
static const char *const SHAPE_NAMES[] = {"one", "deletes", "empty", "random", "zeros"};

typedef struct ctx {
    uint32_t mask;
    int level;
    int producer;
    int shape;
    int failed;                /* the first failure ends the case */
    podsync_schema *schema;
    podsync_store *w;
    uint32_t dict_id;          /* dictionary producer: the writer's dictionary */
    podsync_store *nodict;     /* dictionary producer: a replica that never loads it */
    unsigned long long frames; /* frames checked in this case */
} ctx;

static int g_quiet;
static unsigned long long g_frames, g_dict_frames, g_encoded_frames, g_plain_frames, g_split_batches;
static unsigned long long g_fail_by[NPRODUCERS][NSHAPES], g_fail_mask[16], g_fail_level[NLEVELS];
static unsigned long long g_failure_lines;

static void fail(ctx *c, const char *fmt, ...) {
    if (c->failed) return;
    c->failed = 1;
    g_failure_lines++;
    if (g_quiet && g_failure_lines > 20) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "FAIL mask=%-2u (%c%c%c%c) level=%-3d producer=%-11s shape=%-7s: ", c->mask,
            c->mask & PODSYNC_TRANSFORM_XOR ? 'X' : '-', c->mask & PODSYNC_TRANSFORM_TRANSPOSE ? 'T' : '-',
            c->mask & PODSYNC_TRANSFORM_KEY_GAPS ? 'K' : '-', c->mask & PODSYNC_TRANSFORM_COLUMNS ? 'C' : '-',
            c->level, PRODUCER_NAMES[c->producer], SHAPE_NAMES[c->shape]);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* Fails the case unless st is one of the accepted statuses. Returns 1 if accepted. */
static int expect_st(ctx *c, const char *what, int32_t st, const podsync_store *store, int32_t ok1, int32_t ok2) {
    if (st == ok1 || st == ok2) return 1;
    fail(c, "%s returned %s (expected %s): %s", what, podsync_status_name(st), podsync_status_name(ok1),
         store ? podsync_store_errmsg(store) : "");
    return 0;
}
#define EXPECT(c, what, st, store, ok) expect_st(c, what, st, store, ok, ok)

static podsync_store *new_replica(ctx *c) {
    podsync_store_options o;
    if (podsync_store_options_init(&o, 2) != PODSYNC_OK) {
        fail(c, "podsync_store_options_init(2) failed");
        return NULL;
    }
    podsync_store *r = NULL;
    int32_t st = podsync_store_create(c->schema, PODSYNC_ROLE_REPLICA, &o, &r);
    if (!EXPECT(c, "podsync_store_create(replica)", st, NULL, PODSYNC_OK)) return NULL;
    return r;
}

static uint64_t version_of(const podsync_store *s) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    if (podsync_store_info_get(s, &info) != PODSYNC_OK) return UINT64_MAX;
    return info.state_version;
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    if (podsync_store_digest(s, &d) != PODSYNC_OK) return 0xBADBADBADBADBADull;
    return d;
}

/* The replica holds exactly the writer's flushed state: version, digest, and every table key by key. */
static int converged(ctx *c, const podsync_store *r, const char *when) {
    if (c->failed) return 0;
    uint64_t vw = version_of(c->w), vr = version_of(r);
    if (vw != vr) {
        fail(c, "%s: replica at version %" PRIu64 ", writer at %" PRIu64, when, vr, vw);
        return 0;
    }
    uint64_t dw = digest_of(c->w), dr = digest_of(r);
    if (dw != dr) {
        fail(c, "%s: replica digest %016" PRIx64 " != writer digest %016" PRIx64, when, dr, dw);
        return 0;
    }
    for (int t = 0; t < NT; t++) {
        const void *recs = NULL;
        const uint64_t *keys = NULL;
        size_t nw = 0, nr = 0;
        int32_t st = podsync_store_table(c->w, TABLES[t].id, &recs, &keys, &nw);
        if (!EXPECT(c, "podsync_store_table(writer)", st, c->w, PODSYNC_OK)) return 0;
        st = podsync_store_count(r, TABLES[t].id, &nr);
        if (!EXPECT(c, "podsync_store_count(replica)", st, r, PODSYNC_OK)) return 0;
        if (nw != nr) {
            fail(c, "%s: table %u has %zu records on the writer, %zu on the replica", when, TABLES[t].id, nw, nr);
            return 0;
        }
        for (size_t i = 0; i < nw; i++) {
            const void *rec = NULL;
            st = podsync_store_get(r, TABLES[t].id, keys[i], &rec);
            if (st != PODSYNC_OK || !rec ||
                memcmp(rec, (const unsigned char *)recs + i * TABLES[t].size, TABLES[t].size) != 0) {
                fail(c, "%s: table %u key %016" PRIx64 ": replica get %s%s", when, TABLES[t].id, keys[i],
                     podsync_status_name(st), st == PODSYNC_OK ? " with different bytes" : "");
                return 0;
            }
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------- */
/* Checking one frame                                                                             */
/* ---------------------------------------------------------------------------------------------- */

enum { K_BATCH, K_CATCHUP, K_SNAPSHOT };
static const char *const KIND_NAMES[] = {"flush frame", "catch-up delta", "snapshot"};

/* Header and validation checks of one frame. Returns 1 if it validated (or named the writer's
   dictionary, for which validation answers DICTIONARY_MISSING). */
static int check_frame(ctx *c, const uint8_t *data, size_t size, int kind, const char *where,
                       podsync_frame_info *out) {
    if (c->failed) return 0;
    c->frames++;
    g_frames++;
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    int32_t st = podsync_frame_peek(data, size, &fi);
    if (!EXPECT(c, where, st, NULL, PODSYNC_OK)) return 0;
    /* What the frame may use: the options' transforms, XOR only in flush frames, COLUMNS only with
       TRANSPOSE. */
    uint32_t allowed = c->mask;
    if (kind != K_BATCH) allowed &= ~PODSYNC_TRANSFORM_XOR;
    if (!(allowed & PODSYNC_TRANSFORM_TRANSPOSE)) allowed &= ~PODSYNC_TRANSFORM_COLUMNS;
    int plain = fi.codec == PODSYNC_CODEC_NONE && fi.transforms == 0;
    if (fi.frame_length != size || size % 8 != 0 || fi.header_length != PODSYNC_FRAME_HEADER_SIZE ||
        fi.codec > PODSYNC_CODEC_ZSTD || (fi.transforms & ~allowed) != 0 ||
        (plain && fi.payload_length != size - fi.header_length) ||
        (fi.dictionary_id != 0 && (c->producer != P_DICT || fi.dictionary_id != c->dict_id)) ||
        ((fi.flags & PODSYNC_FRAME_RESET) != 0) != (kind == K_SNAPSHOT)) {
        fail(c, "%s: %s header: length %" PRIu64 "/%zu header %u codec %u transforms 0x%x (allowed 0x%x) "
             "payload_length %" PRIu64 " dictionary %u (writer's %u) flags 0x%x",
             where, KIND_NAMES[kind], fi.frame_length, size, fi.header_length, fi.codec, fi.transforms, allowed,
             fi.payload_length, fi.dictionary_id, c->dict_id, fi.flags);
        return 0;
    }
    podsync_frame_info vi = PODSYNC_FRAME_INFO_INIT;
    st = podsync_frame_validate(data, size, &vi);
    if (fi.dictionary_id != 0) {
        /* Documented: validation without the dictionary cannot decode it. */
        if (!expect_st(c, "podsync_frame_validate (dictionary frame)", st, NULL, PODSYNC_E_DICTIONARY_MISSING,
                       PODSYNC_E_DICTIONARY_MISSING))
            return 0;
        g_dict_frames++;
    } else if (st != PODSYNC_OK) {
        fail(c, "%s: podsync_frame_validate of a %zu-byte %s (codec %u, transforms 0x%x, payload_length %" PRIu64
             ", base %" PRIu64 " -> %" PRIu64 ") returned %s",
             where, size, KIND_NAMES[kind], fi.codec, fi.transforms, fi.payload_length, fi.base_version,
             fi.state_version, podsync_status_name(st));
        return 0;
    } else if (vi.frame_length != fi.frame_length || vi.state_version != fi.state_version ||
               vi.transforms != fi.transforms || vi.codec != fi.codec || vi.section_count != fi.section_count) {
        fail(c, "%s: podsync_frame_validate's info differs from podsync_frame_peek's", where);
        return 0;
    }
    if (plain) {
        g_plain_frames++;
        /* A plain frame is readable in place, section by section. */
        uint64_t changes = 0;
        for (uint32_t s = 0; s < fi.section_count; s++) {
            podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
            st = podsync_frame_section_get(data, size, s, &sec);
            if (!EXPECT(c, "podsync_frame_section_get(plain frame)", st, NULL, PODSYNC_OK)) return 0;
            changes += sec.put_count + sec.delete_count;
        }
        if (kind != K_SNAPSHOT && changes == 0) {
            fail(c, "%s: a plain %s without changes", where, KIND_NAMES[kind]);
            return 0;
        }
    } else {
        g_encoded_frames++;
    }
    if (out) *out = fi;
    return 1;
}

/* Applies a frame to replica r, expecting `expect`; checks version_out and, for OK, the frame's
   digest. */
static int apply_expect(ctx *c, podsync_store *r, const uint8_t *data, size_t size, int32_t expect,
                        const char *where) {
    if (c->failed) return 0;
    uint64_t before = version_of(r);
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    (void)podsync_frame_peek(data, size, &fi);
    uint64_t v = 0xFFFFFFFFull;
    int32_t st = podsync_store_apply(r, data, size, &v);
    if (st != expect) {
        fail(c, "%s: apply of a %zu-byte frame (codec %u, transforms 0x%x, base %" PRIu64 " -> %" PRIu64
             ", replica at %" PRIu64 ") returned %s, expected %s: %s",
             where, size, fi.codec, fi.transforms, fi.base_version, fi.state_version, before,
             podsync_status_name(st), podsync_status_name(expect), podsync_store_errmsg(r));
        return 0;
    }
    uint64_t want = st == PODSYNC_OK ? fi.state_version : before;
    if (v != want || version_of(r) != want) {
        fail(c, "%s: apply %s left the replica at version %" PRIu64 " (version_out %" PRIu64 "), expected %" PRIu64,
             where, podsync_status_name(st), version_of(r), v, want);
        return 0;
    }
    if (st == PODSYNC_OK && (fi.flags & PODSYNC_FRAME_HAS_DIGEST) && digest_of(r) != fi.state_digest) {
        fail(c, "%s: applied, but the replica's digest differs from the frame's", where);
        return 0;
    }
    return 1;
}

/* A frame compressed with a dictionary: a replica without it answers DICTIONARY_MISSING and keeps
   its state. */
static void check_without_dictionary(ctx *c, const uint8_t *data, size_t size) {
    if (c->failed || !c->nodict) return;
    uint64_t v0 = version_of(c->nodict), d0 = digest_of(c->nodict);
    int32_t st = podsync_store_apply(c->nodict, data, size, NULL);
    if (!EXPECT(c, "apply without the dictionary", st, c->nodict, PODSYNC_E_DICTIONARY_MISSING)) return;
    if (version_of(c->nodict) != v0 || digest_of(c->nodict) != d0)
        fail(c, "DICTIONARY_MISSING changed the replica's state");
}

/* ---------------------------------------------------------------------------------------------- */
/* Writes: the data shapes                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static unsigned char g_rec[MAX_KEYS * MAX_RECORD];
static uint64_t g_keys[MAX_KEYS];

/* Byte column kinds of the random shape: 0 zero, 1 sparse, 2 small values, 3 noise. Table 5
   (index 2) is all noise: records zstd cannot shrink. */
static unsigned column_kind(int t, uint32_t col) {
    return t == 2 ? 3u : (unsigned)(mix((uint64_t)t * 131 + col + 7) % 4);
}

static unsigned char random_byte(unsigned kind) {
    switch (kind) {
    case 0: return 0;
    case 1: return below(8) == 0 ? (unsigned char)(1 + below(255)) : 0;
    case 2: return (unsigned char)below(4);
    default: return (unsigned char)rnd();
    }
}

static void random_record(int t, unsigned char *out) {
    for (uint32_t b = 0; b < TABLES[t].size; b++) out[b] = random_byte(column_kind(t, b));
}

/* A changed version of an existing record: noise bytes change, small values sometimes. */
static void mutate_record(int t, unsigned char *rec) {
    for (uint32_t b = 0; b < TABLES[t].size; b++) {
        unsigned k = column_kind(t, b);
        if (k == 3 || (k == 2 && below(2) == 0) || (k == 1 && below(16) == 0)) rec[b] = random_byte(k);
    }
}

static int put(ctx *c, int t, uint64_t key, const void *rec) {
    int32_t st = podsync_store_put(c->w, TABLES[t].id, key, rec, TABLES[t].size);
    return expect_st(c, "podsync_store_put", st, c->w, PODSYNC_OK, PODSYNC_FLUSH_DUE);
}

static int put_many(ctx *c, int t, const uint64_t *keys, const void *recs, size_t n) {
    int32_t st = podsync_store_put_many(c->w, TABLES[t].id, keys, recs, n, n * TABLES[t].size);
    return expect_st(c, "podsync_store_put_many", st, c->w, PODSYNC_OK, PODSYNC_FLUSH_DUE);
}

static int del(ctx *c, int t, uint64_t key) {
    int32_t st = podsync_store_delete(c->w, TABLES[t].id, key);
    return expect_st(c, "podsync_store_delete", st, c->w, PODSYNC_OK, PODSYNC_FLUSH_DUE);
}

/* Copies the keys table t holds now (up to cap). */
static size_t current_keys(ctx *c, int t, uint64_t *out, size_t cap) {
    const void *recs = NULL;
    const uint64_t *keys = NULL;
    size_t n = 0;
    if (!EXPECT(c, "podsync_store_table", podsync_store_table(c->w, TABLES[t].id, &recs, &keys, &n), c->w,
                PODSYNC_OK))
        return 0;
    if (n > cap) n = cap;
    if (n) memcpy(out, keys, n * sizeof *keys);
    return n;
}

/* Inserts n new records into table t (random keys, or `zero` records). */
static void insert_new(ctx *c, int t, size_t n, int zero) {
    for (size_t i = 0; i < n; i++) {
        g_keys[i] = rnd();
        if (zero) memset(g_rec + i * TABLES[t].size, 0, TABLES[t].size);
        else random_record(t, g_rec + i * TABLES[t].size);
    }
    put_many(c, t, g_keys, g_rec, n);
}

/* Updates n existing records of table t (chosen at random, maybe twice: the last write wins). */
static void update_some(ctx *c, int t, size_t n) {
    static uint64_t keys[MAX_KEYS];
    size_t have = current_keys(c, t, keys, MAX_KEYS);
    for (size_t i = 0; i < n && have > 0; i++) {
        uint64_t key = keys[below(have)];
        const void *old = NULL;
        if (!EXPECT(c, "podsync_store_get", podsync_store_get(c->w, TABLES[t].id, key, &old), c->w, PODSYNC_OK))
            return;
        unsigned char rec[MAX_RECORD];
        memcpy(rec, old, TABLES[t].size);
        mutate_record(t, rec);
        put(c, t, key, rec);
    }
}

/* Deletes n existing records of table t (all of them if n >= count). */
static void delete_some(ctx *c, int t, size_t n) {
    static uint64_t keys[MAX_KEYS];
    size_t have = current_keys(c, t, keys, MAX_KEYS);
    if (n >= have) {
        size_t deleted = 0;
        int32_t st = podsync_store_delete_many(c->w, TABLES[t].id, keys, have, &deleted);
        if (expect_st(c, "podsync_store_delete_many", st, c->w, PODSYNC_OK, PODSYNC_FLUSH_DUE) && deleted != have)
            fail(c, "delete_many deleted %zu of %zu", deleted, have);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)below(have);
        del(c, t, keys[j]);
        keys[j] = keys[--have];
    }
}

static const int SHAPE_BATCHES[NSHAPES] = {7, 4, 4, 4, 4};

/* The writes of batch b of the case's shape. */
static void shape_batch(ctx *c, int b) {
    unsigned char rec[MAX_RECORD];
    switch (c->shape) {
    case S_ONE: {
        /* one record per batch: {table index, key}; batches 2 and 6 replace an earlier record */
        static const struct { int t; uint64_t key; int zero; } one[7] = {
            {0, 0xA9CD831118026938ull, 0}, {1, 42, 0}, {0, 0xA9CD831118026938ull, 0}, {3, UINT64_MAX, 0},
            {4, 0, 0}, {2, 7, 0}, {2, 7, 1}};
        int t = one[b].t;
        /* noise: a small frame zstd cannot shrink (the issue's case) */
        for (uint32_t i = 0; i < TABLES[t].size; i++) rec[i] = one[b].zero ? 0 : (unsigned char)rnd();
        put(c, t, one[b].key, rec);
        break;
    }
    case S_DELETES:
        if (b == 0) {
            for (int t = 0; t < NSHAPE_TABLES; t++) {
                for (size_t i = 0; i < 100; i++) {
                    g_keys[i] = t == 0 ? 1000 + 3 * i : rnd();
                    random_record(t, g_rec + i * TABLES[t].size);
                }
                put_many(c, t, g_keys, g_rec, 100);
            }
        } else if (b == 1) {
            delete_some(c, 0, 30);
            delete_some(c, 1, 30);
        } else if (b == 2) {
            delete_some(c, 3, 1);
        } else {
            delete_some(c, 0, MAX_KEYS);
            delete_some(c, 2, MAX_KEYS);
            delete_some(c, 4, MAX_KEYS);
        }
        break;
    case S_EMPTY:
        if (b == 0) {
            insert_new(c, 1, 80, 0);
            insert_new(c, 4, 80, 0);
        } else if (b == 1) {
            update_some(c, 4, 10);
        } else if (b == 2) {
            delete_some(c, 1, MAX_KEYS);
            insert_new(c, 3, 5, 0);
        } else {
            for (int t = 0; t < NSHAPE_TABLES; t++) delete_some(c, t, MAX_KEYS);
        }
        break;
    case S_RANDOM:
        if (b == 0) {
            for (int t = 0; t < NSHAPE_TABLES; t++) {
                size_t n = 150;
                for (size_t i = 0; i < n; i++) {
                    g_keys[i] = i < 20 ? 1 + i * (i + 1) : rnd();
                    random_record(t, g_rec + i * TABLES[t].size);
                }
                if (t == 0) {
                    g_keys[20] = 0;
                    g_keys[21] = UINT64_MAX;
                }
                put_many(c, t, g_keys, g_rec, n);
            }
        } else if (b == 1) {
            for (int t = 0; t < NSHAPE_TABLES; t++) {
                update_some(c, t, 60);
                insert_new(c, t, 30, 0);
                delete_some(c, t, 20);
            }
        } else if (b == 2) {
            update_some(c, 2, 70);
            delete_some(c, 3, 10);
            insert_new(c, 3, 40, 0);
        } else {
            /* coalescing: created and deleted in the batch (never sent), written twice (last wins) */
            random_record(1, rec);
            put(c, 1, 0x123456789ull, rec);
            del(c, 1, 0x123456789ull);
            update_some(c, 1, 70);
            update_some(c, 1, 5);
            delete_some(c, 4, 10);
            random_record(0, rec);
            put(c, 0, UINT64_MAX, rec);
        }
        break;
    default: /* S_ZEROS */
        memset(rec, 0, sizeof rec);
        if (b == 0) {
            for (int t = 0; t < NSHAPE_TABLES; t++) insert_new(c, t, 150, 1);
        } else if (b == 1) {
            /* changed and changed back in the batch: sent with the values the replica holds (a
               put of the value a clean key holds would send nothing: unchanged writes) */
            for (int t = 0; t < 2; t++) {
                size_t n = current_keys(c, t, g_keys, MAX_KEYS);
                memset(g_rec, 0x5A, n * TABLES[t].size);
                put_many(c, t, g_keys, g_rec, n);
                memset(g_rec, 0, n * TABLES[t].size);
                put_many(c, t, g_keys, g_rec, n);
            }
        } else if (b == 2) {
            for (int t = 0; t < NSHAPE_TABLES; t++) {
                delete_some(c, t, 20);
                insert_new(c, t, 20, 1);
            }
        } else {
            size_t n = current_keys(c, 0, g_keys, MAX_KEYS);
            if (n) {
                rec[0] = 1;
                put(c, 0, g_keys[n / 2], rec);
                rec[0] = 0;
                put(c, 0, g_keys[n / 2], rec);
            }
        }
        break;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Producers                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/* Flushes the pending batch and checks every frame; applies each to the replicas in `to` (NULLs
   skipped), each twice (OK, then DUPLICATE). Returns the number of frames, or -1 on failure. */
static long flush_and_apply(ctx *c, podsync_store **to, int nto, const char *where) {
    if (c->failed) return -1;
    podsync_store_info before = PODSYNC_STORE_INFO_INIT;
    if (!EXPECT(c, "podsync_store_info_get", podsync_store_info_get(c->w, &before), c->w, PODSYNC_OK)) return -1;
    size_t n = 0;
    if (!EXPECT(c, "podsync_store_flush", podsync_store_flush(c->w, &n), c->w, PODSYNC_OK)) return -1;
    if ((n == 0) != (before.pending_changes == 0)) {
        fail(c, "%s: flush made %zu frames for %" PRIu64 " pending changes", where, n, before.pending_changes);
        return -1;
    }
    /* Every change costs a plain frame at least its 8-byte key, besides 88 + 40 bytes of headers. */
    if (c->producer == P_SPLIT && 128 + 8 * before.pending_changes > SPLIT_FRAME_BYTES && n < 2) {
        fail(c, "%s: a flush of %" PRIu64 " changes with max_frame_bytes %d made %zu frame(s)", where,
             before.pending_changes, SPLIT_FRAME_BYTES, n);
        return -1;
    }
    if (n > 1) g_split_batches++;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        if (!EXPECT(c, "podsync_store_frame", podsync_store_frame(c->w, i, &data, &size), c->w, PODSYNC_OK)) return -1;
        podsync_frame_info fi;
        char what[96];
        snprintf(what, sizeof what, "%s, frame %zu of %zu", where, i + 1, n);
        if (!check_frame(c, data, size, K_BATCH, what, &fi)) return -1;
        /* A plain frame holding one change may exceed max_frame_bytes; with records of at most 128
           bytes none does, and an encoded frame is smaller than its plain form. */
        if (c->producer == P_SPLIT && size > SPLIT_FRAME_BYTES) {
            fail(c, "%s: a %zu-byte frame with max_frame_bytes %d", what, size, SPLIT_FRAME_BYTES);
            return -1;
        }
        if (fi.base_version != before.state_version + i || fi.state_version != fi.base_version + 1) {
            fail(c, "%s: flush frame base %" PRIu64 " -> %" PRIu64 ", expected %" PRIu64 " -> %" PRIu64, what,
                 fi.base_version, fi.state_version, before.state_version + i, before.state_version + i + 1);
            return -1;
        }
        if (fi.dictionary_id != 0) check_without_dictionary(c, data, size);
        for (int k = 0; k < nto; k++) {
            if (!to[k]) continue;
            if (!apply_expect(c, to[k], data, size, PODSYNC_OK, what)) return -1;
            if (!apply_expect(c, to[k], data, size, PODSYNC_DUPLICATE, what)) return -1;
        }
    }
    if (version_of(c->w) != before.state_version + n) {
        fail(c, "%s: writer at version %" PRIu64 " after %zu frames from %" PRIu64, where, version_of(c->w), n,
             before.state_version);
        return -1;
    }
    return (long)n;
}

/* The writer's catch-up delta since `since`; checked, applied to r (OK) and to `current` (already
   at the writer's version: DUPLICATE). */
static int catch_up(ctx *c, uint64_t since, podsync_store *r, podsync_store *current, const char *where) {
    size_t n = 0;
    int32_t st = podsync_store_delta_since(c->w, since, &n);
    if (!EXPECT(c, "podsync_store_delta_since", st, c->w, PODSYNC_OK)) return 0;
    if (n != 1) {
        fail(c, "%s: delta_since(%" PRIu64 ") made %zu frames", where, since, n);
        return 0;
    }
    const uint8_t *data = NULL;
    size_t size = 0;
    if (!EXPECT(c, "podsync_store_frame", podsync_store_frame(c->w, 0, &data, &size), c->w, PODSYNC_OK)) return 0;
    podsync_frame_info fi;
    if (!check_frame(c, data, size, K_CATCHUP, where, &fi)) return 0;
    if (fi.base_version != since || fi.state_version != version_of(c->w)) {
        fail(c, "%s: catch-up delta base %" PRIu64 " -> %" PRIu64 ", expected %" PRIu64 " -> %" PRIu64, where,
             fi.base_version, fi.state_version, since, version_of(c->w));
        return 0;
    }
    if (!apply_expect(c, r, data, size, PODSYNC_OK, where)) return 0;
    if (current && !apply_expect(c, current, data, size, PODSYNC_DUPLICATE, where)) return 0;
    return converged(c, r, where);
}

/* Copies the writer's snapshot; checks it. Returns a malloc'ed copy (64-byte aligned) or NULL. */
static uint8_t *take_snapshot(ctx *c, size_t *size_out, const char *where) {
    size_t n = 0;
    if (!EXPECT(c, "podsync_store_snapshot", podsync_store_snapshot(c->w, &n), c->w, PODSYNC_OK)) return NULL;
    if (n != 1) {
        fail(c, "%s: snapshot made %zu frames", where, n);
        return NULL;
    }
    const uint8_t *data = NULL;
    size_t size = 0;
    if (!EXPECT(c, "podsync_store_frame", podsync_store_frame(c->w, 0, &data, &size), c->w, PODSYNC_OK)) return NULL;
    podsync_frame_info fi;
    if (!check_frame(c, data, size, K_SNAPSHOT, where, &fi)) return NULL;
    if (fi.base_version != 0 || fi.state_version != version_of(c->w)) {
        fail(c, "%s: snapshot base %" PRIu64 " state %" PRIu64 ", writer at %" PRIu64, where, fi.base_version,
             fi.state_version, version_of(c->w));
        return NULL;
    }
    /* a snapshot of an empty state has no sections */
    size_t live = 0;
    for (int t = 0; t < NT; t++) {
        size_t k = 0;
        (void)podsync_store_count(c->w, TABLES[t].id, &k);
        live += k;
    }
    if (live == 0 && fi.section_count != 0) {
        fail(c, "%s: snapshot of an empty state has %u sections", where, fi.section_count);
        return NULL;
    }
    void *copy = NULL;
    if (posix_memalign(&copy, 64, size ? size : 64) != 0) {
        fail(c, "out of memory");
        return NULL;
    }
    memcpy(copy, data, size);
    *size_out = size;
    return copy;
}

static podsync_store *new_writer(ctx *c, uint64_t stream_id) {
    podsync_store_options o;
    if (podsync_store_options_init(&o, 2) != PODSYNC_OK) {
        fail(c, "podsync_store_options_init(2) failed");
        return NULL;
    }
    o.flags = PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK;
    o.stream_id = stream_id;
    o.compression_level = c->level;
    o.transforms = c->mask;
    o.max_frame_bytes = c->producer == P_SPLIT ? SPLIT_FRAME_BYTES : 0;
    podsync_store *w = NULL;
    int32_t st = podsync_store_create(c->schema, PODSYNC_ROLE_WRITER, &o, &w);
    if (!EXPECT(c, "podsync_store_create(writer)", st, NULL, PODSYNC_OK)) return NULL;
    return w;
}

/* The dictionary producer's warm-up: 12 flushes into table 20, then training; the replicas r[]
   apply the warm-up frames and load the dictionary. */
static int warm_up_dictionary(ctx *c, podsync_store **r, int nr) {
    int32_t st = podsync_store_collect_samples(c->w, (size_t)1 << 20);
    if (!EXPECT(c, "podsync_store_collect_samples", st, c->w, PODSYNC_OK)) return 0;
    int t = WARMUP_TABLE;
    for (int round = 0; round < 12; round++) {
        for (size_t i = 0; i < 100; i++) {
            g_keys[i] = 1 + (uint64_t)round * 37 + i * 5;
            unsigned char *rec = g_rec + i * TABLES[t].size;
            uint64_t stamp = 1000 + (uint64_t)round;
            float v[4] = {(float)i, (float)round * 0.5f, (float)(i % 7), 1.0f};
            memcpy(rec, &stamp, 8);
            memcpy(rec + 8, v, sizeof v);
        }
        put_many(c, t, g_keys, g_rec, 100);
        if (flush_and_apply(c, r, nr, "warm-up") < 0) return 0;
    }
    uint32_t id = 0;
    st = podsync_store_train_dictionary(c->w, 4096, &id);
    if (!EXPECT(c, "podsync_store_train_dictionary", st, c->w, PODSYNC_OK)) return 0;
    const void *dict = NULL;
    size_t dict_size = 0;
    uint32_t id2 = 0;
    st = podsync_store_dictionary(c->w, &dict, &dict_size, &id2);
    if (!EXPECT(c, "podsync_store_dictionary", st, c->w, PODSYNC_OK)) return 0;
    if (id == 0 || id2 != id || !dict || dict_size == 0) {
        fail(c, "trained dictionary id %u, podsync_store_dictionary says id %u, %zu bytes", id, id2, dict_size);
        return 0;
    }
    c->dict_id = id;
    for (int k = 0; k < nr; k++) {
        uint32_t loaded = 0;
        st = podsync_store_load_dictionary(r[k], dict, dict_size, &loaded);
        if (!EXPECT(c, "podsync_store_load_dictionary", st, r[k], PODSYNC_OK)) return 0;
        if (loaded != id) {
            fail(c, "the replica loaded dictionary %u, the writer trained %u", loaded, id);
            return 0;
        }
    }
    return 1;
}

static void run_case(ctx *c, uint64_t seed) {
    uint64_t case_id = ((uint64_t)c->mask << 16) | ((uint64_t)(c->level + 64) << 8) | ((uint64_t)c->producer << 4) |
                       (uint64_t)c->shape;
    g_rng = seed ^ mix(case_id + 1);
    c->w = new_writer(c, 0x4D41545249580000ull | case_id);
    podsync_store *r[3] = {NULL, NULL, NULL};
    uint8_t *first_snapshot = NULL;
    size_t first_snapshot_size = 0;
    if (!c->w) goto done;
    for (int k = 0; k < 3; k++)
        if (!(r[k] = new_replica(c))) goto done;
    int batches = SHAPE_BATCHES[c->shape];
    char where[96];

    switch (c->producer) {
    case P_FLUSH:
    case P_SPLIT:
    case P_DICT:
        if (c->producer == P_DICT) {
            if (!(c->nodict = new_replica(c))) goto done;
            if (!warm_up_dictionary(c, r, 1)) goto done;
        }
        for (int b = 0; b < batches && !c->failed; b++) {
            shape_batch(c, b);
            snprintf(where, sizeof where, "batch %d", b);
            if (flush_and_apply(c, r, 1, where) < 0) break;
            converged(c, r[0], where);
        }
        break;

    case P_DELTA:
        /* r[0] and r[1] follow batch 0's flush frames; r[1] then follows catch-up deltas since the
           version before each batch; r[0] gets one delta since batch 0 at the end; r[2] follows
           every flush frame and answers DUPLICATE to the catch-up deltas. */
        for (int b = 0; b < batches && !c->failed; b++) {
            uint64_t before = version_of(c->w);
            shape_batch(c, b);
            snprintf(where, sizeof where, "batch %d", b);
            podsync_store *to[3] = {b == 0 ? r[0] : NULL, b == 0 ? r[1] : NULL, r[2]};
            if (flush_and_apply(c, to, 3, where) < 0) break;
            if (b > 0) {
                snprintf(where, sizeof where, "delta_since(%" PRIu64 ") after batch %d", before, b);
                catch_up(c, before, r[1], r[2], where);
            }
        }
        if (!c->failed && batches > 1) {
            uint64_t since = version_of(r[0]);
            snprintf(where, sizeof where, "delta_since(%" PRIu64 ") at version %" PRIu64, since, version_of(c->w));
            catch_up(c, since, r[0], r[1], where);
        }
        break;

    case P_SNAPSHOT:
        /* r[0] follows snapshots only; r[1] the flush frames; r[2] gets the last snapshot fresh. */
        first_snapshot = take_snapshot(c, &first_snapshot_size, "snapshot of the empty state at version 0");
        if (!first_snapshot) break;
        if (!apply_expect(c, r[0], first_snapshot, first_snapshot_size, PODSYNC_OK, "version-0 snapshot")) break;
        if (!apply_expect(c, r[0], first_snapshot, first_snapshot_size, PODSYNC_DUPLICATE, "version-0 snapshot"))
            break;
        for (int b = 0; b < batches && !c->failed; b++) {
            shape_batch(c, b);
            snprintf(where, sizeof where, "batch %d", b);
            if (flush_and_apply(c, &r[1], 1, where) < 0) break;
            snprintf(where, sizeof where, "snapshot after batch %d", b);
            size_t size = 0;
            uint8_t *snap = take_snapshot(c, &size, where);
            if (!snap) break;
            if (apply_expect(c, r[0], snap, size, PODSYNC_OK, where) &&
                apply_expect(c, r[0], snap, size, PODSYNC_DUPLICATE, where) &&
                apply_expect(c, r[1], snap, size, PODSYNC_DUPLICATE, where) && converged(c, r[0], where) &&
                b == batches - 1 && apply_expect(c, r[2], snap, size, PODSYNC_OK, where) &&
                converged(c, r[2], where)) {
                /* an older snapshot of the same stream is STALE */
                apply_expect(c, r[2], first_snapshot, first_snapshot_size, PODSYNC_STALE, "version-0 snapshot again");
            }
            free(snap);
        }
        break;
    }
    /* the replica that followed every flush frame */
    if (!c->failed && c->producer != P_SNAPSHOT) converged(c, r[c->producer == P_DELTA ? 2 : 0], "end");
    if (!c->failed && c->producer == P_SNAPSHOT) converged(c, r[1], "end");

done:
    free(first_snapshot);
    for (int k = 0; k < 3; k++) podsync_store_free(r[k]);
    podsync_store_free(c->nodict);
    podsync_store_free(c->w);
    c->nodict = NULL;
    c->w = NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* The bug report's exact reproduction                                                            */
/* ---------------------------------------------------------------------------------------------- */

static int issue_repro(void) {
    int ok = 1;
    podsync_schema *s = NULL;
    podsync_store *w = NULL, *r = NULL;
    podsync_store_options o;
    if (podsync_schema_create(&s) != PODSYNC_OK || podsync_schema_add_table(s, 0, 8, 2, NULL, 0) != PODSYNC_OK ||
        podsync_store_options_init(&o, 2) != PODSYNC_OK) {
        printf("FAIL issue repro: setup\n");
        podsync_schema_free(s);
        return 0;
    }
    o.compression_level = 1;
    o.transforms = 0;
    if (podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w) != PODSYNC_OK ||
        podsync_store_create(s, PODSYNC_ROLE_REPLICA, NULL, &r) != PODSYNC_OK) {
        printf("FAIL issue repro: store_create\n");
        ok = 0;
        goto out;
    }
    static const uint8_t rec1[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0xaa};
    static const uint8_t rec2[8] = {0x85, 0xbf, 0x40, 0x74, 0xd3, 0xa0, 0xd9, 0x44};
    static const uint8_t rec3[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint64_t k1 = 0xA9CD831118026938ull, k2 = 0x0FAF60B147095B9Bull;
    for (int step = 0; step < 2 && ok; step++) {
        int32_t st;
        if (step == 0) {
            st = podsync_store_put(w, 0, k1, rec1, 8);
            if (st >= 0) st = podsync_store_put(w, 0, k2, rec2, 8);
        } else {
            st = podsync_store_delete(w, 0, k1);
            if (st >= 0) st = podsync_store_put(w, 0, k2, rec3, 8);
        }
        size_t n = 0;
        if (st >= 0) st = podsync_store_flush(w, &n);
        if (st < 0 || n != 1) {
            printf("FAIL issue repro: flush %d: %s, %zu frames\n", step + 1, podsync_status_name(st), n);
            ok = 0;
            break;
        }
        const uint8_t *data = NULL;
        size_t size = 0;
        (void)podsync_store_frame(w, 0, &data, &size);
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        (void)podsync_frame_peek(data, size, &fi);
        int32_t vst = podsync_frame_validate(data, size, NULL);
        int32_t ast = podsync_store_apply(r, data, size, NULL);
        /* (at HEAD before the fix, the second frame was 144 bytes: codec 0, transforms 0, packed) */
        int good = vst == PODSYNC_OK && ast == PODSYNC_OK;
        printf("%s issue repro: flush %d: %zu-byte frame (codec %u, transforms 0x%x, payload_length %" PRIu64
               "): validate %s, apply %s\n",
               good ? "ok  " : "FAIL", step + 1, size, fi.codec, fi.transforms, fi.payload_length,
               podsync_status_name(vst), podsync_status_name(ast));
        ok &= good;
    }
    if (ok) {
        uint64_t dw = 0, dr = 0;
        const void *rec = NULL;
        podsync_store_digest(w, &dw);
        podsync_store_digest(r, &dr);
        int got = podsync_store_get(r, 0, k2, &rec) == PODSYNC_OK && rec && memcmp(rec, rec3, 8) == 0 &&
                  podsync_store_get(r, 0, k1, &rec) == PODSYNC_NOT_FOUND;
        if (dw != dr || !got) {
            printf("FAIL issue repro: the replica does not equal the writer\n");
            ok = 0;
        }
    }
out:
    podsync_store_free(w);
    podsync_store_free(r);
    podsync_schema_free(s);
    return ok;
}

/* ---------------------------------------------------------------------------------------------- */
/* Main                                                                                           */
/* ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    uint64_t seed = 20260909;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--quiet")) g_quiet = 1;
        else {
            fprintf(stderr, "usage: %s [--seed N] [--quiet]\n", argv[0]);
            return 2;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    unsigned long long passed = 0, failed = 0;
    if (issue_repro()) passed++;
    else failed++;

    podsync_schema *schema = make_schema();
    if (!schema) {
        printf("writer_matrix: %llu passed, %llu failed\n", passed, failed + 1);
        return 1;
    }
    for (uint32_t mask = 0; mask < 16; mask++) {
        for (int li = 0; li < NLEVELS; li++) {
            for (int p = 0; p < NPRODUCERS; p++) {
                for (int s = 0; s < NSHAPES; s++) {
                    ctx c;
                    memset(&c, 0, sizeof c);
                    c.mask = mask;
                    c.level = LEVELS[li];
                    c.producer = p;
                    c.shape = s;
                    c.schema = schema;
                    run_case(&c, seed);
                    if (!c.failed && c.frames == 0) fail(&c, "no frame was checked");
                    if (c.failed) {
                        failed++;
                        g_fail_by[p][s]++;
                        g_fail_mask[mask]++;
                        g_fail_level[li]++;
                    } else {
                        passed++;
                    }
                }
            }
        }
    }
    podsync_schema_free(schema);

    /* Counts over the whole run that prove the matrix reached what it is meant to test. */
    const char *coverage = NULL;
    if (g_dict_frames == 0) coverage = "no frame was compressed with a dictionary";
    else if (g_encoded_frames == 0) coverage = "no frame was encoded";
    else if (g_plain_frames == 0) coverage = "no frame was plain";
    else if (g_split_batches == 0) coverage = "no flush made several frames";
    if (coverage) {
        printf("FAIL coverage: %s\n", coverage);
        failed++;
    } else {
        passed++;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("frames checked: %llu (%llu plain, %llu encoded, %llu with a dictionary); flushes split: %llu; %.1f s\n",
           g_frames, g_plain_frames, g_encoded_frames, g_dict_frames, g_split_batches, secs);
    if (failed) {
        printf("failing combinations by producer x shape (of %d each):\n", 16 * NLEVELS);
        printf("  %-12s", "");
        for (int s = 0; s < NSHAPES; s++) printf(" %8s", SHAPE_NAMES[s]);
        printf("\n");
        for (int p = 0; p < NPRODUCERS; p++) {
            printf("  %-12s", PRODUCER_NAMES[p]);
            for (int s = 0; s < NSHAPES; s++) printf(" %8llu", g_fail_by[p][s]);
            printf("\n");
        }
        printf("by mask (of %d each):", NLEVELS * NPRODUCERS * NSHAPES);
        for (int m = 0; m < 16; m++) printf(" %d:%llu", m, g_fail_mask[m]);
        printf("\nby level (of %d each):", 16 * NPRODUCERS * NSHAPES);
        for (int l = 0; l < NLEVELS; l++) printf(" %d:%llu", LEVELS[l], g_fail_level[l]);
        printf("\n");
    }
    printf("writer_matrix: %llu passed, %llu failed\n", passed, failed);
    return failed ? 1 : 0;
}
