/* make_frames.c — writes the fixtures of the `podsync` CLI tests (.ci/test-cli) into OUTDIR.
 *
 *   schema.bin    two tables: 1 "entity" (id u64, pos f32[3], rot f32[4], flags u32; 40 bytes) and
 *                 2 "sample" (one field of every type, a field named "x,y", padding; 40 bytes)
 *   small.bin     plain frames with known values (see .ci/test-cli for the exact dump): a snapshot
 *                 at version 2 (entities 1..3, samples 9 and 10), then a delta 2 -> 3 that deletes
 *                 entity 2 and changes sample 9
 *   zstd.bin      a compressed stream: a snapshot at version 1 (2000 entities, 50 samples), then 30
 *                 deltas compressed with every transform, XOR included
 *   final.bin     the snapshot of that writer at its last version (the state zstd.bin builds)
 *   ranked.bin    format 2 at zstd level 1 (the defaults): a snapshot of 3000 entities with sparse
 *                 keys (ids spread over 2^62), then 12 ticks of 120 moving entities whose flags count
 *                 up, no key added or removed: from the second delta on, keys go as ranks
 *                 (KEY_RANKS) and flags as differences (FIELDS); ranked-final.bin its last snapshot
 *   changed.bin   a snapshot after a few known changes to that state: entity 5 deleted, entity
 *                 100001 added, entity 7's flags 99, sample 3's tag "CHANGED!"
 *   dict.bin      deltas compressed with a trained zstd dictionary, dict.zdict its bytes
 *   expected.txt  per file: frames, bytes, snapshots, zstd frames, puts, deletes (what the writer
 *                 was asked to send, counted here independently of the engine's decoder); for the
 *                 durable stores, "durable ..." and "replica ..." lines (see durable() below)
 *   durable/      a durable writer's directory (podsync_store_open, stream 4444444444444444):
 *                 versions 1 and 2 (plain frames), checkpoint; reopened with zstd level 3, loads
 *                 dict.zdict (a DICTIONARY block in the log), versions 3 and 4 (40 entities each),
 *                 checkpoint; version 5. Left: checkpoints 2 (version 2) and 3 (version 4, with
 *                 the dictionary), log segments 2 (versions 1, 2), 3 (empty), 4 (dictionary,
 *                 versions 3, 4) and 5 (version 5)
 *   replica/      a durable replica that applied versions 1 and 2 of that writer, was promoted to
 *                 term 7 (a STATE block in its log), then wrote versions 3 and 4 in term 7 and
 *                 checkpointed: checkpoints 1 (version 0) and 2 (version 4, term 7), log segments
 *                 2 (frames 1, 2, the promotion, frames 3, 4 of term 7) and 3 (empty)
 *   promoted.bin  the promoted writer's frames (versions 3 and 4, format 2, term 7)
 *   promoted-snapshot.bin  its snapshot at version 4 (term 7)
 *   feed.bin      a feed's frames (entities 100..199 of table 1, stream 6666666666666666): its
 *                 snapshot at version 1, then a delta 1 -> 3 (version 2 changed nothing in it)
 *
 * Usage: make_frames OUTDIR   (link against libpodsync.so; .ci/test-cli builds and runs it)
 *        make_frames --open DIR   opens the durable store in DIR (podsync_store_open: it writes!
 *                 give it a copy) and prints what podsync_open_info says, on one line:
 *                 flags F checkpoint_version C restored_version R log_frames N dropped_bytes D
 *                 term T skipped_status S; or "error STATUS" when the open fails
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsync.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int32_t st_ = (call);                                                                      \
        if (st_ < 0) {                                                                             \
            fprintf(stderr, "%s:%d %s: %s (%s)\n", __FILE__, __LINE__, #call, podsync_status_name(st_), \
                    podsync_last_errmsg());                                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct entity { uint64_t id; float pos[3]; float rot[4]; uint32_t flags; } entity; /* 40 B */
typedef struct sample {
    int8_t a;        /* 0, then 1 byte of padding */
    int16_t b;       /* 2 */
    int32_t c;       /* 4 */
    int64_t d;       /* 8 */
    uint8_t e;       /* 16, then 1 byte of padding */
    uint16_t f;      /* 18 */
    uint32_t xy;     /* 20: the field named "x,y" */
    double g;        /* 24 */
    uint8_t tag[8];  /* 32: BYTES */
} sample;            /* 40 B */

static const char *outdir;
static FILE *expected;

static FILE *open_out(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    return f;
}

/* A frame file and what was written into it. */
typedef struct out_file {
    const char *name;
    FILE *f;
    uint64_t frames, bytes, snapshots, zstd, puts, deletes;
} out_file;

static out_file open_file(const char *name) {
    out_file o = {name, open_out(name), 0, 0, 0, 0, 0, 0};
    return o;
}

/* Appends the store's outbox to the file; puts and deletes are what the caller knows it sent. */
static void write_outbox(podsync_store *s, size_t n, out_file *o, uint64_t puts, uint64_t deletes) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(s, i, &data, &size));
        podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
        CHECK(podsync_frame_peek(data, size, &info));
        fwrite(data, 1, size, o->f);
        o->frames++;
        o->bytes += size;
        if (info.flags & PODSYNC_FRAME_RESET) o->snapshots++;
        if (info.codec == PODSYNC_CODEC_ZSTD) o->zstd++;
    }
    o->puts += puts;
    o->deletes += deletes;
}

static void close_file(out_file *o) {
    fclose(o->f);
    fprintf(expected, "%s frames %" PRIu64 " bytes %" PRIu64 " snapshots %" PRIu64 " zstd %" PRIu64
                      " puts %" PRIu64 " deletes %" PRIu64 "\n",
            o->name, o->frames, o->bytes, o->snapshots, o->zstd, o->puts, o->deletes);
}

static size_t flush(podsync_store *w) {
    size_t n = 0;
    CHECK(podsync_store_flush(w, &n));
    return n;
}

static size_t snapshot(podsync_store *w) {
    size_t n = 0;
    CHECK(podsync_store_snapshot(w, &n));
    return n;
}

static entity make_entity(uint64_t id, uint32_t tick) {
    entity e = {id, {(float)(id % 100) + 0.25f * (float)tick, (float)(id / 100), 0.5f}, {0, 0, 0, 1}, (uint32_t)(id % 4)};
    return e;
}

static sample make_sample(uint64_t key) {
    sample s;
    memset(&s, 0, sizeof s);
    s.a = (int8_t)key;
    s.b = (int16_t)(key * 100);
    s.c = (int32_t)key * -1000;
    s.d = (int64_t)key << 40;
    s.e = (uint8_t)(key + 1);
    s.f = (uint16_t)(key * 3);
    s.xy = (uint32_t)key * 7;
    s.g = (double)key / 8.0;
    memcpy(s.tag, "tag-----", 8);
    s.tag[7] = (uint8_t)('0' + key % 10);
    return s;
}

static podsync_schema *make_schema(void) {
    static const podsync_field entity_fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0}, {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0}, {"flags", PODSYNC_TYPE_U32, 36, 1, 0}};
    static const podsync_field sample_fields[] = {
        {"a", PODSYNC_TYPE_I8, 0, 1, 0},     {"b", PODSYNC_TYPE_I16, 2, 1, 0},
        {"c", PODSYNC_TYPE_I32, 4, 1, 0},    {"d", PODSYNC_TYPE_I64, 8, 1, 0},
        {"e", PODSYNC_TYPE_U8, 16, 1, 0},    {"f", PODSYNC_TYPE_U16, 18, 1, 0},
        {"x,y", PODSYNC_TYPE_U32, 20, 1, 0}, {"g", PODSYNC_TYPE_F64, 24, 1, 0},
        {"tag", PODSYNC_TYPE_BYTES, 32, 8, 0}};
    podsync_schema *schema = NULL;
    CHECK(podsync_schema_create(&schema));
    CHECK(podsync_schema_add_table(schema, 1, sizeof(entity), 8, entity_fields, 4));
    CHECK(podsync_schema_add_table(schema, 2, sizeof(sample), 8, sample_fields, 9));
    return schema;
}

static podsync_store *make_writer(podsync_schema *schema, uint64_t stream, int32_t level) {
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = stream;
    o.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    o.compression_level = level;
    o.frame_format = 1; /* the texts .ci/test-cli pins are of format-1 frames (the default is 2) */
    podsync_store *w = NULL;
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w));
    return w;
}

/* small.bin: known values, plain frames. */
static void small(podsync_schema *schema) {
    podsync_store *w = make_writer(schema, 0x1111111111111111ULL, 0);
    out_file o = open_file("small.bin");
    entity e1 = {1, {0.1f, -2.5f, 1e-30f}, {0, 0, 0, 1}, 0};
    entity e2 = {2, {NAN, INFINITY, -INFINITY}, {0, 0, 0, 1}, 7};
    entity e3 = {3, {-0.0f, 3.4028235e38f, 1.4e-45f}, {0, 0, 0, 1}, 4294967295u};
    CHECK(podsync_store_put(w, 1, 1, &e1, sizeof e1));
    (void)flush(w); /* version 1, not written: the file starts with the snapshot */
    CHECK(podsync_store_put(w, 1, 2, &e2, sizeof e2));
    CHECK(podsync_store_put(w, 1, 3, &e3, sizeof e3));
    sample s9;
    memset(&s9, 0, sizeof s9);
    s9.a = -128;
    s9.b = -32768;
    s9.c = INT32_MIN;
    s9.d = INT64_MIN;
    s9.e = 255;
    s9.f = 65535;
    s9.xy = 4294967295u;
    s9.g = 0.1;
    memcpy(s9.tag, "abc\0\x01\x7f\x80\xff", 8);
    sample s10 = make_sample(10);
    CHECK(podsync_store_put(w, 2, 9, &s9, sizeof s9));
    CHECK(podsync_store_put(w, 2, 10, &s10, sizeof s10));
    (void)flush(w); /* version 2 */
    write_outbox(w, snapshot(w), &o, 5, 0);
    CHECK(podsync_store_delete(w, 1, 2));
    s9.g = -1e300;
    s9.a = 127;
    CHECK(podsync_store_put(w, 2, 9, &s9, sizeof s9));
    write_outbox(w, flush(w), &o, 1, 1); /* version 3 */
    close_file(&o);
    podsync_store_free(w);
}

/* zstd.bin, final.bin, changed.bin. */
static void compressed(podsync_schema *schema) {
    podsync_store *w = make_writer(schema, 0x2222222222222222ULL, 3);
    out_file o = open_file("zstd.bin");
    uint64_t next_id = 2001;
    for (uint64_t id = 1; id <= 2000; id++) {
        entity e = make_entity(id, 0);
        CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
    }
    for (uint64_t key = 1; key <= 50; key++) {
        sample s = make_sample(key);
        CHECK(podsync_store_put(w, 2, key, &s, sizeof s));
    }
    (void)flush(w); /* version 1 */
    write_outbox(w, snapshot(w), &o, 2050, 0);
    /* 30 ticks: 100 entities move (distinct keys within a tick), 2 are deleted, 2 are created. */
    for (uint32_t tick = 1; tick <= 30; tick++) {
        uint64_t puts = 0, deletes = 0;
        for (uint64_t i = 0; i < 100; i++) {
            uint64_t id = 10 + ((tick * 37 + i * 13) % 1900); /* 10..1909, distinct for i < 100 */
            entity e = make_entity(id, tick);
            CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
            puts++;
        }
        for (uint64_t i = 0; i < 2; i++) {
            /* keys 1910.. are never moved; delete two of them per tick */
            CHECK(podsync_store_delete(w, 1, 1910 + 2 * (tick - 1) + i));
            deletes++;
            entity e = make_entity(next_id, tick);
            CHECK(podsync_store_put(w, 1, next_id++, &e, sizeof e));
            puts++;
        }
        write_outbox(w, flush(w), &o, puts, deletes);
    }
    close_file(&o);

    out_file f = open_file("final.bin");
    write_outbox(w, snapshot(w), &f, 2050, 0);
    close_file(&f);

    CHECK(podsync_store_delete(w, 1, 5));
    entity added = make_entity(100001, 0);
    CHECK(podsync_store_put(w, 1, 100001, &added, sizeof added));
    entity seven = make_entity(7, 0);
    seven.flags = 99;
    CHECK(podsync_store_put(w, 1, 7, &seven, sizeof seven));
    sample three = make_sample(3);
    memcpy(three.tag, "CHANGED!", 8);
    CHECK(podsync_store_put(w, 2, 3, &three, sizeof three));
    (void)flush(w);
    out_file c = open_file("changed.bin");
    write_outbox(w, snapshot(w), &c, 2050, 0);
    close_file(&c);
    podsync_store_free(w);
}

/* ranked.bin, ranked-final.bin: the library's default format and transforms, sparse keys. */
static void ranked(podsync_schema *schema) {
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = 0x7777777777777777ULL;
    o.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    o.compression_level = 1;
    podsync_store *w = NULL;
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w));
    out_file f = open_file("ranked.bin");
    uint64_t ids[3000];
    for (uint64_t i = 0; i < 3000; i++) {
        ids[i] = (i * 0x9E3779B97F4A7C15ULL) >> 2; /* distinct, spread over 2^62 */
        entity e = make_entity(ids[i], 0);
        CHECK(podsync_store_put(w, 1, ids[i], &e, sizeof e));
    }
    (void)flush(w); /* version 1 */
    write_outbox(w, snapshot(w), &f, 3000, 0);
    for (uint32_t tick = 1; tick <= 12; tick++) {
        for (uint64_t i = 0; i < 120; i++) {
            uint64_t id = ids[(tick * 131 + i * 17) % 3000]; /* distinct for i < 120 */
            entity e = make_entity(id, tick);
            e.flags = (uint32_t)((int32_t)(tick % 3) - 1); /* -1, 0, 1: a noisy XOR, a small difference */
            CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
        }
        write_outbox(w, flush(w), &f, 120, 0);
    }
    close_file(&f);
    out_file final = open_file("ranked-final.bin");
    write_outbox(w, snapshot(w), &final, 3000, 0);
    close_file(&final);
    podsync_store_free(w);
}

/* dict.bin and dict.zdict; *dict_out receives a copy of the dictionary (malloc). */
static void dictionary(podsync_schema *schema, uint8_t **dict_out, size_t *dict_size_out) {
    podsync_store *w = make_writer(schema, 0x3333333333333333ULL, 3);
    for (uint64_t id = 1; id <= 500; id++) {
        entity e = make_entity(id, 0);
        CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
    }
    (void)flush(w);
    CHECK(podsync_store_collect_samples(w, 1 << 20));
    for (uint32_t tick = 1; tick <= 40; tick++) {
        for (uint64_t i = 0; i < 40; i++) {
            uint64_t id = 1 + ((tick * 11 + i * 7) % 500);
            entity e = make_entity(id, tick);
            CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
        }
        (void)flush(w);
    }
    uint32_t dict_id = 0;
    CHECK(podsync_store_train_dictionary(w, 4096, &dict_id));
    const void *dict = NULL;
    size_t dict_size = 0;
    CHECK(podsync_store_dictionary(w, &dict, &dict_size, NULL));
    FILE *d = open_out("dict.zdict");
    fwrite(dict, 1, dict_size, d);
    fclose(d);
    *dict_out = malloc(dict_size);
    if (!*dict_out) { perror("malloc"); exit(1); }
    memcpy(*dict_out, dict, dict_size);
    *dict_size_out = dict_size;

    out_file o = open_file("dict.bin");
    uint64_t with_dict = 0;
    for (uint32_t tick = 41; tick <= 45; tick++) {
        for (uint64_t i = 0; i < 40; i++) {
            uint64_t id = 1 + ((tick * 11 + i * 7) % 500);
            entity e = make_entity(id, tick);
            CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
        }
        size_t n = flush(w);
        for (size_t i = 0; i < n; i++) {
            const uint8_t *data = NULL;
            size_t size = 0;
            CHECK(podsync_store_frame(w, i, &data, &size));
            podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
            CHECK(podsync_frame_peek(data, size, &info));
            if (info.dictionary_id == dict_id) with_dict++;
        }
        write_outbox(w, n, &o, 40, 0);
    }
    close_file(&o);
    fprintf(expected, "dict.bin dictionary %" PRIu32 " frames_with_it %" PRIu64 "\n", dict_id, with_dict);
    if (with_dict == 0) {
        fprintf(stderr, "no frame was compressed with the dictionary\n");
        exit(1);
    }
    podsync_store_free(w);
}

/* A durable store in OUTDIR/name; the open's flags must be `flags`. */
static podsync_store *open_store(const char *name, podsync_schema *schema, uint32_t role, uint64_t stream,
                                 int32_t level, uint32_t flags) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = stream;
    o.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    o.compression_level = level;
    o.frame_format = 1; /* as make_writer */
    podsync_durability_options d = PODSYNC_DURABILITY_OPTIONS_INIT; /* every frame, keep 2 */
    podsync_open_info info = PODSYNC_OPEN_INFO_INIT;
    podsync_store *s = NULL;
    CHECK(podsync_store_open(path, schema, role, &o, &d, &info, &s));
    if (info.flags != flags) {
        fprintf(stderr, "open %s: flags %u, expected %u\n", path, info.flags, flags);
        exit(1);
    }
    return s;
}

/* Applies the writer's outbox to the replica; each frame must apply. */
static void forward(podsync_store *w, size_t n, podsync_store *r) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(w, i, &data, &size));
        int32_t st = podsync_store_apply(r, data, size, NULL);
        if (st != PODSYNC_OK) {
            fprintf(stderr, "apply: %s (%s)\n", podsync_status_name(st), podsync_last_errmsg());
            exit(1);
        }
    }
}

static podsync_store_info info_of(podsync_store *s) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    CHECK(podsync_store_info_get(s, &info));
    return info;
}

/* durable/, replica/ and promoted.bin; expected.txt gets, per store, its versions and digests:
 *   durable v<V> digest <hex> compressed <0|1> dictionary <id>   per frame the writer logged
 *   durable checkpoint-<n> version <V> digest <hex>
 *   durable final version <V> digest <hex> term <T> records <N>
 *   replica promoted term 7 at <V>; replica v<V> digest <hex> term <T>; replica final ... */
static void durable(podsync_schema *schema, const void *dict, size_t dict_size) {
    podsync_store *w = open_store("durable", schema, PODSYNC_ROLE_WRITER, 0x4444444444444444ULL, 0, PODSYNC_OPENED_CREATED);
    podsync_store *r = open_store("replica", schema, PODSYNC_ROLE_REPLICA, 0, 0, PODSYNC_OPENED_CREATED);
    size_t n;
    podsync_store_info info;
#define LOGGED(store, tag, count)                                                                  \
    do {                                                                                           \
        for (size_t i_ = 0; i_ < (count); i_++) {                                                  \
            const uint8_t *data_ = NULL;                                                           \
            size_t size_ = 0;                                                                      \
            CHECK(podsync_store_frame(store, i_, &data_, &size_));                                 \
            podsync_frame_info fi_ = PODSYNC_FRAME_INFO_INIT;                                      \
            CHECK(podsync_frame_peek(data_, size_, &fi_));                                         \
            fprintf(expected, "%s v%" PRIu64 " digest %016" PRIx64 " term %" PRIu64 " compressed %d dictionary %" PRIu32 "\n", \
                    tag, fi_.state_version, fi_.state_digest, fi_.term, fi_.codec == PODSYNC_CODEC_ZSTD, fi_.dictionary_id); \
        }                                                                                          \
    } while (0)

    /* Versions 1 and 2, plain, applied by the replica too. */
    for (uint64_t id = 1; id <= 3; id++) {
        entity e = make_entity(id, 0);
        CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
    }
    sample s9 = make_sample(9);
    CHECK(podsync_store_put(w, 2, 9, &s9, sizeof s9));
    n = flush(w);
    LOGGED(w, "durable", n);
    forward(w, n, r);
    CHECK(podsync_store_delete(w, 1, 2));
    entity e3 = make_entity(3, 1);
    CHECK(podsync_store_put(w, 1, 3, &e3, sizeof e3));
    n = flush(w);
    LOGGED(w, "durable", n);
    forward(w, n, r);
    CHECK(podsync_store_checkpoint(w));
    info = info_of(w);
    fprintf(expected, "durable checkpoint-2 version %" PRIu64 " digest %016" PRIx64 "\n", info.state_version, info.digest);
    podsync_store_free(w);

    /* Reopened (same term: every frame was logged with fsync) with zstd and the dictionary. */
    w = open_store("durable", schema, PODSYNC_ROLE_WRITER, 0, 3, 0);
    uint32_t dict_id = 0;
    CHECK(podsync_store_load_dictionary(w, dict, dict_size, &dict_id));
    for (uint32_t tick = 0; tick < 2; tick++) {
        for (uint64_t id = 100; id < 140; id++) {
            entity e = make_entity(id, tick);
            CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
        }
        n = flush(w);
        LOGGED(w, "durable", n);
    }
    CHECK(podsync_store_checkpoint(w));
    info = info_of(w);
    fprintf(expected, "durable checkpoint-3 version %" PRIu64 " digest %016" PRIx64 "\n", info.state_version, info.digest);
    entity e1 = make_entity(1, 5);
    CHECK(podsync_store_put(w, 1, 1, &e1, sizeof e1));
    n = flush(w);
    LOGGED(w, "durable", n);
    info = info_of(w);
    size_t count1 = 0, count2 = 0;
    CHECK(podsync_store_count(w, 1, &count1));
    CHECK(podsync_store_count(w, 2, &count2));
    fprintf(expected, "durable final version %" PRIu64 " digest %016" PRIx64 " term %" PRIu64 " records %zu dictionary %" PRIu32 "\n",
            info.state_version, info.digest, info.term, count1 + count2, dict_id);
    podsync_store_free(w);

    /* The replica is promoted to term 7 and writes versions 3 and 4 (promoted.bin). */
    info = info_of(r);
    fprintf(expected, "replica promoted term 7 at %" PRIu64 "\n", info.state_version);
    CHECK(podsync_store_promote(r, 7));
    out_file o = open_file("promoted.bin");
    entity e2 = make_entity(2, 9);
    CHECK(podsync_store_put(r, 1, 2, &e2, sizeof e2));
    n = flush(r);
    LOGGED(r, "replica", n);
    write_outbox(r, n, &o, 1, 0);
    CHECK(podsync_store_delete(r, 2, 9));
    n = flush(r);
    LOGGED(r, "replica", n);
    write_outbox(r, n, &o, 0, 1);
    close_file(&o);
    out_file ps = open_file("promoted-snapshot.bin");
    write_outbox(r, snapshot(r), &ps, 3, 0);
    close_file(&ps);
    CHECK(podsync_store_checkpoint(r));
    info = info_of(r);
    fprintf(expected, "replica final version %" PRIu64 " digest %016" PRIx64 " term %" PRIu64 "\n", info.state_version, info.digest, info.term);
    podsync_store_free(r);
#undef LOGGED
}

/* --open DIR: podsync_store_open's report on one line. */
static int open_report(const char *dir) {
    podsync_open_info info = PODSYNC_OPEN_INFO_INIT;
    podsync_store *s = NULL;
    int32_t st = podsync_store_open(dir, NULL, 0, NULL, NULL, &info, &s);
    if (st < 0) {
        printf("error %s\n", podsync_status_name(st));
        return 0;
    }
    podsync_store_info si = info_of(s);
    printf("flags %u checkpoint_version %" PRIu64 " restored_version %" PRIu64 " log_frames %" PRIu64 " dropped_bytes %" PRIu64
           " term %" PRIu64 " skipped_status %s digest %016" PRIx64 "\n",
           info.flags, info.checkpoint_version, info.restored_version, info.log_frames, info.dropped_bytes, info.term,
           info.skipped_status == 0 ? "0" : podsync_status_name(info.skipped_status), si.digest);
    podsync_store_free(s);
    return 0;
}

/* reconcile.bin: the messages of a reconciliation (a replica's summary, the writer's answer one
   level down, ...) and the repair frame that ends it, back to back. */
static void reconciliation(podsync_schema *schema) {
    podsync_store *w = make_writer(schema, 0x5555555555555555ULL, 0);
    podsync_store *r = NULL;
    podsync_store_options ro = PODSYNC_STORE_OPTIONS_INIT;
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &ro, &r));
    for (uint64_t id = 1; id <= 3000; id++) {
        entity e = make_entity(id, 0);
        CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
    }
    size_t n = flush(w);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(w, i, &data, &size));
        CHECK(podsync_store_apply(r, data, size, NULL));
    }
    for (uint64_t id = 10; id <= 3000; id += 300) {
        entity e = make_entity(id, 5);
        CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
    }
    (void)flush(w); /* the replica misses it */
    out_file o = open_file("reconcile.bin");
    CHECK(podsync_store_summary(r, 1, &n));
    podsync_store *from = r, *to = w;
    for (int round = 0; round < 16 && n == 1; round++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(from, 0, &data, &size));
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        write_outbox(from, 1, &o, 0, 0);
        uint16_t flags = (uint16_t)(copy[6] | copy[7] << 8);
        if (flags & 0x8) {
            CHECK(podsync_store_apply(r, copy, size, NULL));
            free(copy);
            break;
        }
        CHECK(podsync_store_reconcile(to, copy, size, &n));
        free(copy);
        podsync_store *t = from;
        from = to;
        to = t;
    }
    close_file(&o);
    podsync_store_free(w);
    podsync_store_free(r);
}

/* feed.bin: frames of a subscription (table 1, keys 100..199). */
static void feed(podsync_schema *schema) {
    podsync_store *w = make_writer(schema, 0x6666666666666666ULL, 0);
    for (uint64_t id = 1; id <= 300; id++) {
        entity e = make_entity(id, 0);
        CHECK(podsync_store_put(w, 1, id, &e, sizeof e));
    }
    (void)flush(w); /* version 1 */
    podsync_key_range range = {100, 199};
    podsync_subscription_table t = {1, 1, &range};
    podsync_subscription sub = {PODSYNC_SUBSCRIPTION_VERSION, 0, 0, 1, NULL, &t};
    uint8_t bytes[64];
    size_t size = 0;
    uint64_t hash = 0;
    CHECK(podsync_subscription_encode(&sub, bytes, sizeof bytes, &size, &hash));
    podsync_store *f = NULL;
    CHECK(podsync_store_feed(w, bytes, size, &f));
    fprintf(expected, "feed subscription %016" PRIx64 "\n", hash);
    out_file o = open_file("feed.bin");
    write_outbox(f, snapshot(f), &o, 100, 0);
    entity e = make_entity(5, 1);
    CHECK(podsync_store_put(w, 1, 5, &e, sizeof e));
    (void)flush(w); /* version 2: outside the subscription */
    e = make_entity(150, 1);
    CHECK(podsync_store_put(w, 1, 150, &e, sizeof e));
    CHECK(podsync_store_delete(w, 1, 151));
    (void)flush(w); /* version 3 */
    write_outbox(f, flush(f), &o, 1, 1);
    close_file(&o);
    podsync_store_free(f);
    podsync_store_free(w);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--open") == 0) return open_report(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR | --open DIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    expected = open_out("expected.txt");
    podsync_schema *schema = make_schema();
    size_t size = 0;
    (void)podsync_schema_encode(schema, NULL, 0, &size);
    uint8_t *bytes = malloc(size);
    CHECK(podsync_schema_encode(schema, bytes, size, &size));
    FILE *f = open_out("schema.bin");
    fwrite(bytes, 1, size, f);
    fclose(f);
    free(bytes);

    small(schema);
    compressed(schema);
    ranked(schema);
    uint8_t *dict = NULL;
    size_t dict_size = 0;
    dictionary(schema, &dict, &dict_size);
    durable(schema, dict, dict_size);
    free(dict);
    reconciliation(schema);
    feed(schema);
    fclose(expected);
    podsync_schema_free(schema);
    return 0;
}
