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
 *   changed.bin   a snapshot after a few known changes to that state: entity 5 deleted, entity
 *                 100001 added, entity 7's flags 99, sample 3's tag "CHANGED!"
 *   dict.bin      deltas compressed with a trained zstd dictionary, dict.zdict its bytes
 *   expected.txt  per file: frames, bytes, snapshots, zstd frames, puts, deletes (what the writer
 *                 was asked to send, counted here independently of the engine's decoder)
 *
 * Usage: make_frames OUTDIR   (link against libpodsync.so; .ci/test-cli builds and runs it)
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

/* dict.bin and dict.zdict. */
static void dictionary(podsync_schema *schema) {
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
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
    dictionary(schema);
    fclose(expected);
    podsync_schema_free(schema);
    return 0;
}
