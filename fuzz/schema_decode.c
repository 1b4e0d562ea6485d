/*
 * schema_decode.c — libFuzzer target `schema_decode`: podsync_schema_decode on arbitrary bytes.
 *
 * Checked, abort() on a violation:
 *   - a rejected encoding returns PODSYNC_E_SCHEMA_INVALID (or E_INVALID_ARGUMENT) and *out NULL;
 *   - an accepted one is canonical: podsync_schema_encode gives back exactly the input bytes (size
 *     query first), and the schema hash is XXH3-64 of them (docs/FORMAT.md);
 *   - the encoding is parsed here independently (fz_parse_schema, the rules of docs/FORMAT.md):
 *     the decoder accepts exactly what breaks no rule, and an accepted one rebuilds the same schema
 *     (same hash) through podsync_schema_create/add_table;
 *   - a writer and a replica of the decoded schema work: every table takes records of its size
 *     (and rejects another size), a flush with compression (all transforms) and a snapshot apply,
 *     and the digests agree. Tables with records over 4 KiB get one record, the others 70 (enough
 *     rows for the column trials).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_stores(const podsync_schema *schema, const fz_table *t, size_t count) {
    podsync_store_options o = fz_options(1, PODSYNC_TRANSFORM_ALL, 0);
    podsync_store *w = NULL, *r = NULL, *fresh = NULL;
    FZ_OK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w));
    FZ_OK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &o, &r));
    FZ_OK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &o, &fresh));
    uint64_t rng = count;
    size_t budget = 1 << 20; /* record bytes written in all */
    uint8_t *rec = malloc(70 * 4096 + 1);
    uint64_t keys[70];
    FZ_REQUIRE(rec != NULL, "out of memory");
    for (size_t i = 0; i < count && i < 64; i++) {
        size_t rs = t[i].record_size, n = rs > 4096 ? 1 : 70;
        if (rs * n > budget) break;
        budget -= rs * n;
        uint8_t *big = rs > 4096 ? malloc(rs + 1) : rec; /* +1: the put of a wrong size below */
        FZ_REQUIRE(big != NULL, "out of memory");
        for (size_t k = 0; k < n; k++) {
            keys[k] = k * 3 + i;
            fz_make_record(big + k * rs, (uint32_t)rs, keys[k], NULL, (unsigned)(k + i), &rng);
        }
        int32_t st = podsync_store_put_many(w, t[i].id, keys, big, n, n * rs);
        FZ_REQUIRE(st >= 0, "put_many into table %u (%zu-byte records) returned %s: %s", t[i].id, rs, podsync_status_name(st),
                   podsync_store_errmsg(w));
        st = podsync_store_put(w, t[i].id, 1, big, rs + 1);
        FZ_REQUIRE(st == PODSYNC_E_RECORD_SIZE, "put of %zu bytes into table %u (%zu-byte records) returned %s", rs + 1, t[i].id,
                   rs, podsync_status_name(st));
        if (big != rec) free(big);
    }
    size_t frames = 0;
    FZ_OK(podsync_store_flush(w, &frames));
    for (size_t f = 0; f < frames; f++) {
        const uint8_t *frame = NULL;
        size_t fsize = 0;
        FZ_OK(podsync_store_frame(w, f, &frame, &fsize));
        int32_t st = podsync_frame_validate(frame, fsize, NULL);
        FZ_REQUIRE(st == PODSYNC_OK, "flush frame %zu fails validation: %s", f, podsync_status_name(st));
        st = podsync_store_apply(r, frame, fsize, NULL);
        FZ_REQUIRE(st == PODSYNC_OK, "flush frame %zu: apply returned %s: %s", f, podsync_status_name(st), podsync_store_errmsg(r));
    }
    size_t n = 0;
    FZ_OK(podsync_store_snapshot(w, &n));
    const uint8_t *frame = NULL;
    size_t fsize = 0;
    FZ_OK(podsync_store_frame(w, 0, &frame, &fsize));
    int32_t st = podsync_store_apply(fresh, frame, fsize, NULL);
    FZ_REQUIRE(st == PODSYNC_OK, "snapshot: apply returned %s: %s", podsync_status_name(st), podsync_store_errmsg(fresh));
    uint64_t dw = 0, dr = 0, df = 0;
    FZ_OK(podsync_store_digest(w, &dw));
    FZ_OK(podsync_store_digest(r, &dr));
    FZ_OK(podsync_store_digest(fresh, &df));
    FZ_REQUIRE(dw == dr && dw == df, "digests: writer %016" PRIx64 ", replica %016" PRIx64 ", from snapshot %016" PRIx64, dw, dr, df);
    free(rec);
    podsync_store_free(w);
    podsync_store_free(r);
    podsync_store_free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    podsync_schema *s = (podsync_schema *)1;
    int32_t st = podsync_schema_decode(data, size, &s);
    if (st != PODSYNC_OK) {
        FZ_REQUIRE(st == PODSYNC_E_SCHEMA_INVALID || st == PODSYNC_E_INVALID_ARGUMENT, "decode returned %s", podsync_status_name(st));
        FZ_REQUIRE(s == NULL, "decode failed but *out is %p", (void *)s);
        /* the rules, checked independently: the decoder rejects only what breaks one */
        fz_parsed_schema parsed;
        const char *why = "";
        int ok = fz_parse_schema(data, size, &parsed, &why) == 0;
        fz_parsed_schema_free(&parsed);
        FZ_REQUIRE(!ok, "decode rejected %zu bytes that break no rule of docs/FORMAT.md", size);
        return 0;
    }
    FZ_REQUIRE(s != NULL, "decode OK but *out is NULL");
    size_t need = 0;
    st = podsync_schema_encode(s, NULL, 0, &need);
    FZ_REQUIRE(st == PODSYNC_E_BUFFER_TOO_SMALL && need == size, "encode size query: %s, %zu bytes for a %zu-byte input",
               podsync_status_name(st), need, size);
    uint8_t *again = malloc(size);
    FZ_REQUIRE(again != NULL, "out of memory");
    FZ_OK(podsync_schema_encode(s, again, size, &need));
    FZ_REQUIRE(need == size && memcmp(again, data, size) == 0, "decode then encode changes the bytes");
    free(again);
    uint64_t hash = 0;
    FZ_OK(podsync_schema_hash(s, &hash));
    FZ_REQUIRE(hash == XXH3_64bits(data, size), "schema hash %016" PRIx64 " is not XXH3-64 of the encoding", hash);

    fz_parsed_schema parsed;
    const char *why = "";
    FZ_REQUIRE(fz_parse_schema(data, size, &parsed, &why) == 0, "decode accepted an encoding that breaks a rule: %s", why);
    const fz_table *t = parsed.tables;
    size_t count = parsed.desc.table_count;
    podsync_schema *built = NULL;
    FZ_OK(podsync_schema_create(&built));
    for (size_t i = 0; i < count; i++) {
        st = podsync_schema_add_table(built, t[i].id, t[i].record_size, t[i].alignment, parsed.fields[i], parsed.field_counts[i]);
        FZ_REQUIRE(st == PODSYNC_OK, "decode accepted table %u that add_table rejects: %s (%s)", t[i].id, podsync_status_name(st),
                   podsync_schema_errmsg(built));
    }
    uint64_t built_hash = 0;
    FZ_OK(podsync_schema_hash(built, &built_hash));
    FZ_REQUIRE(built_hash == hash, "the same tables built with add_table hash to %016" PRIx64 ", decoded %016" PRIx64, built_hash,
               hash);
    podsync_schema_free(built);

    exercise_stores(s, t, count);
    fz_parsed_schema_free(&parsed);
    podsync_schema_free(s);
    return 0;
}
