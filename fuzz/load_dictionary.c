/*
 * load_dictionary.c — libFuzzer target `load_dictionary`: podsync_store_load_dictionary with
 * arbitrary bytes, on a writer that compresses (level 3, all transforms) and on a replica.
 *
 * Checked, abort() on a violation:
 *   - both stores answer alike; a rejection is an error (never PODSYNC_E_INTERNAL) that leaves the
 *     writer without a dictionary (podsync_store_dictionary: NOT_FOUND);
 *   - an accepted dictionary carries the id zstd reads from its header (nonzero), and
 *     podsync_store_dictionary returns exactly the bytes loaded and that id;
 *   - the writer then compresses with it: three flushes of records (new, changed, deleted) make
 *     frames that name no dictionary or this one; podsync_frame_validate accepts them (or answers
 *     DICTIONARY_MISSING for a dictionary frame); the replica that loaded the same bytes applies
 *     every one, ending with the writer's digest; a replica without the dictionary answers
 *     DICTIONARY_MISSING to a dictionary frame and changes nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static podsync_store *new_store(uint32_t role) {
    podsync_schema *s = fz_schema_new(0);
    podsync_store_options o = fz_options(3, PODSYNC_TRANSFORM_ALL, 0);
    podsync_store *st = NULL;
    FZ_OK(podsync_store_create(s, role, &o, &st));
    podsync_schema_free(s);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    podsync_store *w = new_store(PODSYNC_ROLE_WRITER), *r = new_store(PODSYNC_ROLE_REPLICA);
    uint32_t wid = 0xFFFFFFFFu, rid = 0xFFFFFFFFu;
    int32_t ws = podsync_store_load_dictionary(w, data, size, &wid);
    int32_t rs = podsync_store_load_dictionary(r, data, size, &rid);
    FZ_REQUIRE(ws == rs, "load_dictionary: writer %s, replica %s", podsync_status_name(ws), podsync_status_name(rs));
    const void *dict = NULL;
    size_t dict_size = 0;
    uint32_t id = 0;
    int32_t cur = podsync_store_dictionary(w, &dict, &dict_size, &id);
    if (ws != PODSYNC_OK) {
        FZ_REQUIRE(ws < 0 && ws != PODSYNC_E_INTERNAL, "load_dictionary returned %s", podsync_status_name(ws));
        FZ_REQUIRE(cur == PODSYNC_NOT_FOUND && dict == NULL && dict_size == 0 && id == 0,
                   "a rejected dictionary left the writer with one: %s, %zu bytes, id %u", podsync_status_name(cur), dict_size, id);
        podsync_store_free(w);
        podsync_store_free(r);
        return 0;
    }
    unsigned zid = ZSTD_getDictID_fromDict(data, size);
    FZ_REQUIRE(wid == rid && wid == zid && wid != 0, "dictionary ids: writer %u, replica %u, zstd reads %u", wid, rid, zid);
    FZ_REQUIRE(cur == PODSYNC_OK && dict_size == size && id == wid && memcmp(dict, data, size) == 0,
               "podsync_store_dictionary: %s, %zu bytes (loaded %zu), id %u (loaded %u)", podsync_status_name(cur), dict_size, size,
               id, wid);

    podsync_store *bare = new_store(PODSYNC_ROLE_REPLICA);
    uint64_t rng = size;
    uint8_t rec[40], prev[40];
    memset(prev, 0, sizeof prev);
    for (int round = 0; round < 3; round++) {
        for (uint64_t k = 1; k <= 96; k++) {
            if (round == 2 && k % 5 == 0) {
                FZ_OK(podsync_store_delete(w, 1, k));
                continue;
            }
            fz_make_record(rec, 40, k, prev, round == 0 ? 3 : 1, &rng);
            memcpy(prev, rec, 40);
            FZ_OK(podsync_store_put(w, 1, k, rec, 40));
        }
        size_t n = 0;
        FZ_OK(podsync_store_flush(w, &n));
        for (size_t f = 0; f < n; f++) {
            const uint8_t *frame = NULL;
            size_t fsize = 0;
            FZ_OK(podsync_store_frame(w, f, &frame, &fsize));
            podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
            FZ_OK(podsync_frame_peek(frame, fsize, &info));
            int32_t st = podsync_frame_validate(frame, fsize, NULL);
            FZ_REQUIRE(info.dictionary_id == 0 || info.dictionary_id == wid, "frame names dictionary %u, loaded %u",
                       info.dictionary_id, wid);
            FZ_REQUIRE(st == PODSYNC_OK || (st == PODSYNC_E_DICTIONARY_MISSING && info.dictionary_id == wid),
                       "round %d frame %zu (dictionary %u) fails validation: %s", round, f, info.dictionary_id,
                       podsync_status_name(st));
            st = fz_apply_checked(r, fz_schema_desc_get(0), frame, fsize);
            FZ_REQUIRE(st == PODSYNC_OK, "round %d frame %zu (dictionary %u): apply returned %s: %s", round, f, info.dictionary_id,
                       podsync_status_name(st), podsync_store_errmsg(r));
            if (info.dictionary_id != 0) {
                st = fz_apply_checked(bare, fz_schema_desc_get(0), frame, fsize);
                FZ_REQUIRE(st == PODSYNC_E_DICTIONARY_MISSING || st == PODSYNC_GAP,
                           "a replica without dictionary %u: apply returned %s", wid, podsync_status_name(st));
            } else {
                st = fz_apply_checked(bare, fz_schema_desc_get(0), frame, fsize);
                FZ_REQUIRE(st == PODSYNC_OK || st == PODSYNC_GAP, "a replica without the dictionary: plain frame returned %s",
                           podsync_status_name(st));
            }
        }
    }
    uint64_t dw = 0, dr = 0;
    FZ_OK(podsync_store_digest(w, &dw));
    FZ_OK(podsync_store_digest(r, &dr));
    FZ_REQUIRE(dw == dr, "writer digest %016" PRIx64 ", replica %016" PRIx64, dw, dr);
    podsync_store_free(bare);
    podsync_store_free(w);
    podsync_store_free(r);
    return 0;
}
