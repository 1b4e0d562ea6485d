/*
 * validate.c — libFuzzer target `validate`: the functions that read a frame without a store.
 *
 * Input: one frame (seeds: every kind of frame make_corpus.c writes; the custom mutator repairs
 * the checksum). Checked, abort() on a violation:
 *   - podsync_frame_validate returns OK or an error (never PODSYNC_E_INTERNAL), the same on an
 *     8-byte aligned copy and on a misaligned copy; on OK its info describes the frame
 *     (frame_length = size) and equals podsync_frame_peek's.
 *   - podsync_frame_validate_limited (looked up with dlsym: the library at HEAD may not have it)
 *     with limit 0 (= 1 GiB) agrees with podsync_frame_validate; with a small limit it accepts
 *     only what validate accepts, and may answer PODSYNC_E_FRAME_TOO_LARGE for what it accepts.
 *   - encoded frames declaring more than 4 MiB of packed payload are checked with the limited
 *     variant only (it must refuse them): at the default limit they may cost seconds by design;
 *   - podsync_frame_section_get on every section index (also of frames that fail validation: it
 *     re-checks bounds and must stay inside the buffer): a plain valid frame gives every section,
 *     in ascending table order, with keys and records inside the frame (all read, so ASan checks
 *     them); an encoded one PODSYNC_E_UNSUPPORTED_CODEC; an index past the last is an error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    uint64_t rng = seed;
    return fz_mutate_frame(data, size, max_size, &rng);
}

static int within(const void *p, size_t bytes, const uint8_t *buf, size_t size) {
    const uint8_t *q = p;
    return q >= buf && q <= buf + size && bytes <= (size_t)(buf + size - q);
}

/* Reads every section; returns how many returned OK. */
static size_t read_sections(const uint8_t *buf, size_t size, size_t count, int32_t validated, int plain) {
    volatile uint64_t sink = 0;
    size_t ok = 0;
    uint32_t previous_table = 0;
    for (size_t i = 0; i <= count && i < 4096; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        int32_t st = podsync_frame_section_get(buf, size, i, &sec);
        FZ_REQUIRE(st <= 0 && st != PODSYNC_E_INTERNAL, "section_get(%zu) returned %s", i, podsync_status_name(st));
        if (i == count) {
            FZ_REQUIRE(st < 0, "section_get(%zu) of a frame of %zu sections returned OK", i, count);
            break;
        }
        if (validated == PODSYNC_OK) {
            if (plain)
                FZ_REQUIRE(st == PODSYNC_OK, "section_get(%zu) of a valid plain frame returned %s", i, podsync_status_name(st));
            else
                FZ_REQUIRE(st == PODSYNC_E_UNSUPPORTED_CODEC, "section_get(%zu) of a valid encoded frame returned %s", i,
                           podsync_status_name(st));
        }
        if (st != PODSYNC_OK) continue;
        ok++;
        FZ_REQUIRE(sec.record_size >= 1 && sec.record_size <= PODSYNC_MAX_RECORD_SIZE, "section %zu: record_size %u", i,
                   sec.record_size);
        FZ_REQUIRE(sec.put_count <= size / 8 && sec.delete_count <= size / 8, "section %zu: counts %" PRIu64 "/%" PRIu64
                   " in a frame of %zu bytes", i, sec.put_count, sec.delete_count, size);
        FZ_REQUIRE(sec.put_count == 0 || within(sec.put_keys, 8 * sec.put_count, buf, size), "section %zu: put keys outside the frame", i);
        FZ_REQUIRE(sec.delete_count == 0 || within(sec.delete_keys, 8 * sec.delete_count, buf, size),
                   "section %zu: delete keys outside the frame", i);
        FZ_REQUIRE(sec.put_count == 0 || (sec.put_count <= size / sec.record_size &&
                                          within(sec.records, sec.put_count * sec.record_size, buf, size)),
                   "section %zu: records outside the frame", i);
        if (validated == PODSYNC_OK) {
            FZ_REQUIRE(i == 0 || sec.table_id > previous_table, "section %zu: table %u after table %u", i, sec.table_id,
                       previous_table);
            previous_table = sec.table_id;
        }
        for (uint64_t k = 0; k < sec.put_count; k++) sink += sec.put_keys[k];
        for (uint64_t k = 0; k < sec.delete_count; k++) sink += sec.delete_keys[k];
        const uint8_t *r = sec.records;
        for (uint64_t b = 0; b < sec.put_count * sec.record_size; b++) sink += r[b];
    }
    (void)sink;
    return ok;
}

/* Encoded frames that declare more than this many packed bytes are validated with limits only:
   at the default 1 GiB a frame of a few KB may legitimately cost seconds (Tests/fixtures/bombs),
   which would only make the fuzzer slow. */
#define BIG_PAYLOAD (4u << 20)

/* A frame declaring a big packed payload: the limited variant must refuse it (TOO_LARGE, or an
   error found before the limit check), never accept it. */
static void big_frame(const uint8_t *buf, size_t size, const podsync_frame_info *peek) {
    fz_validate_limited_fn limited = fz_validate_limited();
    if (!limited) return;
    int32_t st = limited(buf, size, BIG_PAYLOAD, NULL);
    FZ_REQUIRE(st < 0 && st != PODSYNC_E_INTERNAL, "validate_limited(%u) of a frame of payload_length %" PRIu64 " returned %s",
               BIG_PAYLOAD, peek->payload_length, podsync_status_name(st));
    int32_t small = limited(buf, size, 4096, NULL);
    FZ_REQUIRE(small < 0 && small != PODSYNC_E_INTERNAL, "validate_limited(4096) of a frame of payload_length %" PRIu64
               " returned %s", peek->payload_length, podsync_status_name(small));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    podsync_frame_info head = PODSYNC_FRAME_INFO_INIT;
    if (podsync_frame_peek(data, size, &head) == PODSYNC_OK && (head.codec != 0 || head.transforms != 0) &&
        head.payload_length > BIG_PAYLOAD) {
        uint8_t *copy = malloc(size + 1);
        FZ_REQUIRE(copy != NULL, "out of memory");
        memcpy(copy, data, size);
        big_frame(copy, size, &head);
        free(copy);
        return 0;
    }
    /* malloc'ed exact copies: aligned to 16, and misaligned by 1..7 */
    uint8_t *buf = malloc(size + 1);
    size_t shift = 1 + size % 7;
    uint8_t *odd = malloc(size + shift + 1);
    FZ_REQUIRE(buf && odd, "out of memory");
    memcpy(buf, data, size);
    memcpy(odd + shift, data, size);

    podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
    int32_t st = podsync_frame_validate(buf, size, &info);
    FZ_REQUIRE(st <= 0 && st != PODSYNC_E_INTERNAL, "validate returned %s", podsync_status_name(st));
    int32_t st_odd = podsync_frame_validate(odd + shift, size, NULL);
    FZ_REQUIRE(st_odd == st, "validate: %s aligned, %s misaligned by %zu", podsync_status_name(st), podsync_status_name(st_odd),
               shift);

    podsync_frame_info peek = PODSYNC_FRAME_INFO_INIT;
    int32_t pst = podsync_frame_peek(buf, size, &peek);
    FZ_REQUIRE(pst <= 0, "peek returned %s", podsync_status_name(pst));
    if (st == PODSYNC_OK) {
        FZ_REQUIRE(pst == PODSYNC_OK, "validate OK but peek %s", podsync_status_name(pst));
        FZ_REQUIRE(memcmp(&peek, &info, sizeof info) == 0, "validate and peek fill different info");
        FZ_REQUIRE(info.frame_length == size && info.header_length >= PODSYNC_FRAME_HEADER_SIZE && info.header_length <= size,
                   "validate OK: frame_length %" PRIu64 " header_length %u, size %zu", info.frame_length, info.header_length, size);
        FZ_REQUIRE(info.codec <= PODSYNC_CODEC_ZSTD && info.transforms <= PODSYNC_TRANSFORM_ALL && info.flags <= 3,
                   "validate OK: codec %u transforms %x flags %x", info.codec, info.transforms, info.flags);
        FZ_REQUIRE(info.codec != 0 || info.transforms != 0 || info.payload_length == size - info.header_length,
                   "validate OK: plain frame with payload_length %" PRIu64, info.payload_length);
        FZ_REQUIRE((info.flags & PODSYNC_FRAME_RESET) ? info.base_version == 0 : info.base_version < info.state_version,
                   "validate OK: flags %x base %" PRIu64 " state %" PRIu64, info.flags, info.base_version, info.state_version);
    }

    fz_validate_limited_fn limited = fz_validate_limited();
    if (limited) {
        podsync_frame_info linfo = PODSYNC_FRAME_INFO_INIT;
        int32_t l0 = limited(buf, size, 0, &linfo);
        FZ_REQUIRE(l0 == st, "validate_limited(0) returned %s, validate %s", podsync_status_name(l0), podsync_status_name(st));
        FZ_REQUIRE(st != PODSYNC_OK || memcmp(&linfo, &info, sizeof info) == 0, "validate_limited(0) fills a different info");
        uint64_t limit = size % 2 ? 4096 : 64 + size;
        int32_t ls = limited(buf, size, limit, NULL);
        FZ_REQUIRE(ls <= 0 && ls != PODSYNC_E_INTERNAL, "validate_limited(%" PRIu64 ") returned %s", limit, podsync_status_name(ls));
        if (ls == PODSYNC_OK)
            FZ_REQUIRE(st == PODSYNC_OK, "validate_limited(%" PRIu64 ") OK but validate %s", limit, podsync_status_name(st));
        else if (ls != PODSYNC_E_FRAME_TOO_LARGE)
            FZ_REQUIRE(ls == st, "validate_limited(%" PRIu64 ") returned %s, validate %s", limit, podsync_status_name(ls),
                       podsync_status_name(st));
        if (st == PODSYNC_OK)
            FZ_REQUIRE(ls == PODSYNC_OK || ls == PODSYNC_E_FRAME_TOO_LARGE, "validate OK but validate_limited(%" PRIu64 ") %s",
                       limit, podsync_status_name(ls));
    }

    if (pst == PODSYNC_OK) {
        int plain = peek.codec == PODSYNC_CODEC_NONE && peek.transforms == 0;
        size_t ok = read_sections(buf, size, peek.section_count, st, plain);
        if (st == PODSYNC_OK && plain)
            FZ_REQUIRE(ok == peek.section_count, "%zu of %u sections readable", ok, peek.section_count);
    }
    free(buf);
    free(odd);
    return 0;
}
