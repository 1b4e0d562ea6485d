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
 *   - a valid frame obeys its format's header rules (docs/FORMAT.md): format 1 a header of at
 *     least 88 bytes, flags RESET and HAS_DIGEST only; format 2 (steps V4 to V17) a header of 40
 *     to 2040 bytes, a multiple of 8, flags of the low byte RESET, HAS_DIGEST, CHUNK, REPAIR and
 *     SUMMARY only, a TERM_HISTORY exactly when the term is above 0, REPAIR and SUMMARY exactly
 *     with their records (never both; HAS_DIGEST, not RESET, CHUNK or a slice; the bucket block of
 *     step V18; a summary plain, base 0, no sections, its payload the block plus 8 bytes a bucket
 *     in mode HASHES (V19); a repair base <= state and no delete key in a repaired bucket (V21);
 *     stream id 0 allowed for a summary), CHUNK exactly with a CHUNK record (snapshot id not 0, chunk 0
 *     starting at (0, 0), an end after the start or LAST with record_count; a chunked snapshot
 *     RESET with base 0, a chunked delta 1 <= base < state), REFRESH_SLICE neither on a RESET frame nor
 *     on a chunk, a refresh-only frame at base <= state, other deltas base < state, XOR only from
 *     v to v + 1 and never on a chunk or repair, COLUMNS only with TRANSPOSE, stream id 0 only for
 *     the empty snapshot at version 0 and summaries;
 *   - podsync_frame_section_get on every section index, the slice's included (also of frames that
 *     fail validation: it re-checks bounds and must stay inside the buffer): a plain valid frame
 *     gives every section, in ascending table order within the changes and within the slice, with
 *     keys and records inside the frame (all read, so ASan checks them), no deletions in a RESET
 *     frame (chunks of snapshots included) or a slice section, and (step V21) every key of a
 *     chunk (puts and deletes of a chunked delta), and every key of a
 *     slice section, at a position (table, seed(t, k)) inside the chunk's or slice's range, and no
 *     key twice in a chunk; an encoded one PODSYNC_E_UNSUPPORTED_CODEC; an index past the last is
 *     an error.
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

/* Inside [start, end) of (table, seed) positions (LAST: no end). */
static int in_range(uint32_t t, uint64_t seed, uint32_t st, uint64_t sk, int last, uint32_t et, uint64_t ek) {
    return !fz_pos_less(t, seed, st, sk) && (last || fz_pos_less(t, seed, et, ek));
}

/* V21: no key appears twice in a chunk (puts and deletes of all its sections). */
static void check_chunk_repeats(const uint8_t *buf, size_t size, size_t count) {
    size_t n = 0, cap = 0;
    fz_tkey *all = NULL;
    for (size_t i = 0; i < count; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        FZ_OK(podsync_frame_section_get(buf, size, i, &sec));
        size_t more = (size_t)(sec.put_count + sec.delete_count);
        if (n + more > cap) {
            cap = 2 * (n + more);
            all = realloc(all, cap * sizeof *all);
            FZ_REQUIRE(all != NULL, "out of memory");
        }
        for (uint64_t k = 0; k < sec.put_count; k++) all[n++] = (fz_tkey){sec.table_id, sec.put_keys[k]};
        for (uint64_t k = 0; k < sec.delete_count; k++) all[n++] = (fz_tkey){sec.table_id, sec.delete_keys[k]};
    }
    if (n > 1) qsort(all, n, sizeof *all, fz_tkey_cmp);
    for (size_t i = 1; i < n; i++)
        FZ_REQUIRE(fz_tkey_cmp(&all[i - 1], &all[i]) != 0, "validate OK for a chunk that lists key %" PRIu64 " of table %u twice (FORMAT.md V21)",
                   all[i].key, all[i].table);
    free(all);
}

/* Reads every section (the changes, then the slice's); returns how many returned OK. */
static size_t read_sections(const uint8_t *buf, size_t size, const podsync_frame_info *h, int32_t validated, int plain) {
    volatile uint64_t sink = 0;
    size_t ok = 0;
    size_t count = (size_t)h->section_count + h->slice_section_count;
    uint32_t previous_table = 0;
    int chunk = (h->flags & PODSYNC_FRAME_CHUNK) != 0;
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
        int slice = i >= h->section_count;
        if (validated == PODSYNC_OK) {
            /* ascending table ids within the changes, and again within the slice */
            FZ_REQUIRE(i == 0 || i == h->section_count || sec.table_id > previous_table, "section %zu: table %u after table %u", i,
                       sec.table_id, previous_table);
            previous_table = sec.table_id;
            FZ_REQUIRE(sec.delete_count == 0 || !((h->flags & PODSYNC_FRAME_RESET) || slice),
                       "section %zu of a valid frame (flags %x, %s) carries %" PRIu64 " deletions", i, h->flags,
                       slice ? "slice section" : "change section", sec.delete_count);
            /* V21: every key in the chunk's (the slice's) range */
            if (chunk || slice) {
                int last = chunk ? (h->chunk_flags & PODSYNC_CHUNK_LAST) != 0 : (h->slice_flags & PODSYNC_CHUNK_LAST) != 0;
                uint32_t st_ = chunk ? h->chunk_start_table : h->slice_start_table, et = chunk ? h->chunk_end_table : h->slice_end_table;
                uint64_t sk = chunk ? h->chunk_start_key : h->slice_start_key, ek = chunk ? h->chunk_end_key : h->slice_end_key;
                for (uint64_t k = 0; k < sec.put_count + sec.delete_count; k++) {
                    uint64_t key = k < sec.put_count ? sec.put_keys[k] : sec.delete_keys[k - sec.put_count];
                    uint64_t seed = fz_seed(sec.table_id, key);
                    FZ_REQUIRE(in_range(sec.table_id, seed, st_, sk, last, et, ek),
                               "valid %s: key %" PRIu64 " of table %u at seed %016" PRIx64 " outside [(%u, %016" PRIx64 "), %s(%u, %016" PRIx64
                               "))", chunk ? "chunk" : "slice", key, sec.table_id, seed, st_, sk, last ? "LAST " : "", et, ek);
                }
            }
        }
        for (uint64_t k = 0; k < sec.put_count; k++) sink += sec.put_keys[k];
        for (uint64_t k = 0; k < sec.delete_count; k++) sink += sec.delete_keys[k];
        const uint8_t *r = sec.records;
        for (uint64_t b = 0; b < sec.put_count * sec.record_size; b++) sink += r[b];
    }
    (void)sink;
    return ok;
}

/* The header rules a valid frame obeys (its format's), from the info validate filled. */
/* V18, checked here independently of the library: a term above 0 exactly when a TERM_HISTORY
   record (tag 5) is present; its 1 to 8 entries go back in time from the frame's term (terms
   strictly decreasing, each previous_term below its term, start versions not increasing), and the
   frame's version is at least entry 0's start. */
/* Set by check_term_history: the frame carries a SUBSCRIPTION record (tag 9, 8 bytes). */
static int g_subscribed;

static void check_term_history(const uint8_t *frame, size_t size, const podsync_frame_info *info) {
    g_subscribed = 0;
    fz_v2_header h;
    FZ_REQUIRE(fz_v2_parse(frame, size, &h) == 0, "validate OK but the format-2 header does not parse");
    size_t pos = h.ext_at, end = h.ext_at + h.ext_len;
    int found = 0;
    while (pos < end) {
        uint64_t tag, len;
        FZ_REQUIRE(fz_leb_read(frame, &pos, end, &tag) == 0 && fz_leb_read(frame, &pos, end, &len) == 0, "extension records");
        size_t value_end = pos + (size_t)len;
        if (tag == 5) {
            found = 1;
            uint64_t count, expected = info->term, last_start = UINT64_MAX;
            FZ_REQUIRE(fz_leb_read(frame, &pos, value_end, &count) == 0 && count >= 1 && count <= 8, "validate OK: TERM_HISTORY count");
            for (uint64_t i = 0; i < count; i++) {
                uint64_t term, start, previous;
                FZ_REQUIRE(fz_leb_read(frame, &pos, value_end, &term) == 0 && fz_leb_read(frame, &pos, value_end, &start) == 0 &&
                               fz_leb_read(frame, &pos, value_end, &previous) == 0,
                           "validate OK: TERM_HISTORY entry %" PRIu64 " does not parse", i);
                FZ_REQUIRE(term == expected && previous < term && start <= last_start,
                           "validate OK: TERM_HISTORY entry %" PRIu64 " (%" PRIu64 ", %" PRIu64 ", %" PRIu64 ") after term %" PRIu64, i, term,
                           start, previous, expected);
                /* (not for a SUMMARY: its state_version is an exchange's anchor, FORMAT.md V17) */
                if (i == 0 && !(info->flags & FZ_V2_FLAG_SUMMARY))
                    FZ_REQUIRE(info->state_version >= start, "validate OK: version %" PRIu64 " before its term began at %" PRIu64,
                               info->state_version, start);
                expected = previous;
                last_start = start;
            }
            FZ_REQUIRE(pos == value_end, "validate OK: TERM_HISTORY with extra bytes");
        }
        if (tag == 9) {
            FZ_REQUIRE(len == 8 && !g_subscribed, "validate OK: a SUBSCRIPTION record of %" PRIu64 " bytes", len);
            g_subscribed = 1;
        }
        pos = value_end;
    }
    FZ_REQUIRE(found == (info->term != 0), "validate OK: term %" PRIu64 " with%s a TERM_HISTORY record", info->term, found ? "" : "out");
}

/* V17 to V19 for the messages of a reconciliation (docs/FORMAT.md, "Repair frames", "REPAIR (tag
   7)", "SUMMARY (tag 13)", "Payload"): REPAIR and SUMMARY exactly with their records, never both,
   never with RESET, CHUNK or a slice, HAS_DIGEST set; fanout_bits 1 to 16 and f x l <= 32; a bucket
   block of run_count runs inside the payload naming at most 2^20 buckets below 2^(f x l), zero
   padded; a summary plain, base 0, no sections, mode 0 to 2, summary_id not 0, its payload exactly
   the block plus (HASHES) 8 bytes a bucket. */
static void check_reconciliation(const uint8_t *frame, size_t size, const podsync_frame_info *info) {
    int repair = (info->flags & FZ_V2_FLAG_REPAIR) != 0, summary = (info->flags & FZ_V2_FLAG_SUMMARY) != 0;
    fz_recon r;
    FZ_REQUIRE(fz_recon_parse(frame, size, &r) == 0 && r.has_repair == repair && r.has_summary == summary && !(repair && summary),
               "validate OK: flags %x with%s a REPAIR and with%s a SUMMARY record", info->flags, r.has_repair ? "" : "out",
               r.has_summary ? "" : "out");
    FZ_REQUIRE((info->flags & PODSYNC_FRAME_HAS_DIGEST) && !(info->flags & (PODSYNC_FRAME_RESET | PODSYNC_FRAME_CHUNK | PODSYNC_FRAME_SLICE)),
               "validate OK: a %s with flags %x", repair ? "repair" : "summary", info->flags);
    uint32_t *buckets = NULL;
    size_t count = 0;
    FZ_REQUIRE(fz_recon_buckets(frame, size, &r, &buckets, &count, (size_t)1 << 20) == 0,
               "validate OK: the bucket block (f %u, level %u, %" PRIu64 " runs, %" PRIu64 " bytes) breaks V18 or names more than 2^20 buckets",
               r.fanout_bits, r.level, r.run_count, r.block_length);
    if (summary) {
        FZ_REQUIRE(info->codec == 0 && info->transforms == 0 && info->section_count == 0 && r.mode <= FZ_SUMMARY_RESPONDER_HASHES &&
                       r.summary_id != 0,
                   "validate OK: a summary with codec %u transforms %x, %u sections, mode %u, id %016" PRIx64, info->codec,
                   info->transforms, info->section_count, r.mode, r.summary_id);
        uint64_t want = r.block_length + (r.mode == FZ_SUMMARY_REQUEST ? 0 : 8 * (uint64_t)count);
        FZ_REQUIRE(size - info->header_length == want, "validate OK: a summary (mode %u) of %zu buckets with %zu payload bytes (V19: %" PRIu64 ")",
                   r.mode, count, size - info->header_length, want);
    }
    free(buckets);
}

/* V21 for a repair frame: no delete key lies in a repaired bucket. */
static void check_repair_deletes(const uint8_t *buf, size_t size, const podsync_frame_info *h) {
    fz_recon r;
    uint32_t *buckets = NULL;
    size_t count = 0;
    if (fz_recon_parse(buf, size, &r) || fz_recon_buckets(buf, size, &r, &buckets, &count, (size_t)1 << 20)) return;
    unsigned bits = (unsigned)r.fanout_bits * r.level;
    for (size_t i = 0; i < h->section_count; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        FZ_OK(podsync_frame_section_get(buf, size, i, &sec));
        for (uint64_t k = 0; k < sec.delete_count; k++)
            FZ_REQUIRE(!fz_bucket_listed(buckets, count, fz_bucket(sec.table_id, sec.delete_keys[k], bits)),
                       "validate OK for a repair that deletes key %" PRIu64 " of table %u in a repaired bucket (V21)", sec.delete_keys[k],
                       sec.table_id);
    }
    free(buckets);
}

static void check_valid_header(const uint8_t *frame, const podsync_frame_info *info, size_t size) {
    FZ_REQUIRE(info->frame_length == size && size % 8 == 0 && info->header_length <= size && info->header_length % 8 == 0,
               "validate OK: frame_length %" PRIu64 " header_length %u, size %zu", info->frame_length, info->header_length, size);
    FZ_REQUIRE(info->codec <= PODSYNC_CODEC_ZSTD && info->transforms <= PODSYNC_TRANSFORM_ALL,
               "validate OK: codec %u transforms %x", info->codec, info->transforms);
    FZ_REQUIRE(info->codec != 0 || info->transforms != 0 || info->payload_length == size - info->header_length,
               "validate OK: plain frame with payload_length %" PRIu64, info->payload_length);
    FZ_REQUIRE(!(info->transforms & PODSYNC_TRANSFORM_COLUMNS) || (info->transforms & PODSYNC_TRANSFORM_TRANSPOSE),
               "validate OK: transforms %x (COLUMNS without TRANSPOSE)", info->transforms);
    int reset = (info->flags & PODSYNC_FRAME_RESET) != 0;
    int chunk = (info->flags & PODSYNC_FRAME_CHUNK) != 0;
    int slice = (info->flags & PODSYNC_FRAME_SLICE) != 0;
    int repair = info->format_version == 2 && (info->flags & FZ_V2_FLAG_REPAIR) != 0;
    int summary = info->format_version == 2 && (info->flags & FZ_V2_FLAG_SUMMARY) != 0;
    /* a summary carries its sender's stream: 0 from a replica that follows none yet (FORMAT.md 1.4) */
    FZ_REQUIRE(info->stream_id != 0 || ((info->flags & PODSYNC_FRAME_RESET) && info->state_version == 0) || summary,
               "validate OK: stream id 0 for a frame (flags %x) to version %" PRIu64, info->flags, info->state_version);
    if (info->format_version == 1) {
        FZ_REQUIRE(info->header_length >= PODSYNC_FRAME_HEADER_SIZE, "validate OK: format 1 with header_length %u", info->header_length);
        FZ_REQUIRE((info->flags & ~(uint32_t)(PODSYNC_FRAME_RESET | PODSYNC_FRAME_HAS_DIGEST)) == 0, "validate OK: format 1 flags %x",
                   info->flags);
        FZ_REQUIRE(info->term == 0 && info->snapshot_id == 0 && info->slice_section_count == 0 && info->chunk_flags == 0 &&
                       info->slice_flags == 0,
                   "validate OK: format 1 with term %" PRIu64 " snapshot %016" PRIx64 " slice sections %u", info->term, info->snapshot_id,
                   info->slice_section_count);
        FZ_REQUIRE(reset ? info->base_version == 0 : info->base_version < info->state_version,
                   "validate OK: flags %x base %" PRIu64 " state %" PRIu64, info->flags, info->base_version, info->state_version);
        FZ_REQUIRE((info->flags & PODSYNC_FRAME_HAS_DIGEST) || info->state_digest == 0, "validate OK: a digest without HAS_DIGEST");
        return;
    }
    FZ_REQUIRE(info->format_version == 2, "validate OK: format version %u", info->format_version);
    FZ_REQUIRE(info->header_length >= 40 && info->header_length <= 2040, "validate OK: format 2 with header_length %u",
               info->header_length);
    /* V11: the low byte holds only the flags this library knows; the high byte is ignorable hints */
    FZ_REQUIRE((info->flags & 0xFFu & ~(uint32_t)(PODSYNC_FRAME_RESET | PODSYNC_FRAME_HAS_DIGEST | PODSYNC_FRAME_CHUNK |
                                                  FZ_V2_FLAG_REPAIR | FZ_V2_FLAG_SUMMARY)) == 0 &&
                   (info->flags & ~(uint32_t)(0xFFFFu | PODSYNC_FRAME_SLICE)) == 0,
               "validate OK: format 2 flags %x", info->flags);
    check_term_history(frame, size, info);
    if (repair || summary) check_reconciliation(frame, size, info);
    FZ_REQUIRE((info->flags & PODSYNC_FRAME_HAS_DIGEST) || info->state_digest == 0, "validate OK: a digest without HAS_DIGEST");
    FZ_REQUIRE(chunk == (info->snapshot_id != 0), "validate OK: flags %x with snapshot id %016" PRIx64, info->flags, info->snapshot_id);
    if (chunk) {
        int last = (info->chunk_flags & PODSYNC_CHUNK_LAST) != 0;
        FZ_REQUIRE(!slice && (info->chunk_flags & ~(uint32_t)PODSYNC_CHUNK_LAST) == 0, "validate OK: chunk with flags %x chunk_flags %x",
                   info->flags, info->chunk_flags);
        FZ_REQUIRE(info->chunk_index != 0 || (info->chunk_start_table == 0 && info->chunk_start_key == 0),
                   "validate OK: chunk 0 starts at (%u, %016" PRIx64 ")", info->chunk_start_table, info->chunk_start_key);
        FZ_REQUIRE(last ? (info->chunk_end_table == 0 && info->chunk_end_key == 0)
                        : (fz_pos_less(info->chunk_start_table, info->chunk_start_key, info->chunk_end_table, info->chunk_end_key) &&
                           info->chunk_record_count == 0),
                   "validate OK: chunk %" PRIu64 " [(%u, %016" PRIx64 "), (%u, %016" PRIx64 ")) flags %x count %" PRIu64, info->chunk_index,
                   info->chunk_start_table, info->chunk_start_key, info->chunk_end_table, info->chunk_end_key, info->chunk_flags,
                   info->chunk_record_count);
        /* a chunked snapshot (RESET, base 0) or a chunked catch-up delta (V17: 1 <= base < state) */
        FZ_REQUIRE(reset ? info->base_version == 0 : info->base_version >= 1 && info->base_version < info->state_version,
                   "validate OK: a chunk with flags %x, versions %" PRIu64 "->%" PRIu64, info->flags, info->base_version, info->state_version);
    } else {
        FZ_REQUIRE(info->chunk_index == 0 && info->chunk_flags == 0 && info->chunk_start_table == 0 && info->chunk_start_key == 0 &&
                       info->chunk_end_table == 0 && info->chunk_end_key == 0 && info->chunk_record_count == 0,
                   "validate OK: chunk fields without a CHUNK record");
    }
    if (slice) {
        int last = (info->slice_flags & PODSYNC_CHUNK_LAST) != 0;
        FZ_REQUIRE(!reset && info->state_version != 0 && (info->slice_flags & ~(uint32_t)PODSYNC_CHUNK_LAST) == 0,
                   "validate OK: a slice with flags %x, version %" PRIu64 ", slice_flags %x", info->flags, info->state_version,
                   info->slice_flags);
        FZ_REQUIRE(info->slice_index != 0 || (info->slice_start_table == 0 && info->slice_start_key == 0),
                   "validate OK: slice 0 starts at (%u, %016" PRIx64 ")", info->slice_start_table, info->slice_start_key);
        FZ_REQUIRE(last ? (info->slice_end_table == 0 && info->slice_end_key == 0)
                        : fz_pos_less(info->slice_start_table, info->slice_start_key, info->slice_end_table, info->slice_end_key),
                   "validate OK: slice %" PRIu64 " [(%u, %016" PRIx64 "), (%u, %016" PRIx64 ")) flags %x", info->slice_index,
                   info->slice_start_table, info->slice_start_key, info->slice_end_table, info->slice_end_key, info->slice_flags);
        FZ_REQUIRE(info->slice_section_count <= 65535, "validate OK: %u slice sections", info->slice_section_count);
    } else {
        FZ_REQUIRE(info->slice_section_count == 0 && info->slice_pass == 0 && info->slice_index == 0 && info->slice_flags == 0 &&
                       info->slice_start_table == 0 && info->slice_start_key == 0 && info->slice_end_table == 0 && info->slice_end_key == 0,
                   "validate OK: slice fields without a REFRESH_SLICE record");
    }
    /* V17: the kind rules */
    if (reset) FZ_REQUIRE(info->base_version == 0, "validate OK: RESET with base %" PRIu64, info->base_version);
    else if (summary) FZ_REQUIRE(info->base_version == 0, "validate OK: a summary with base %" PRIu64, info->base_version);
    else if (repair)
        FZ_REQUIRE(info->base_version <= info->state_version, "validate OK: repair %" PRIu64 "->%" PRIu64, info->base_version,
                   info->state_version);
    else if (slice && info->section_count == 0)
        FZ_REQUIRE(info->base_version <= info->state_version, "validate OK: refresh-only frame %" PRIu64 "->%" PRIu64,
                   info->base_version, info->state_version);
    else
        FZ_REQUIRE(info->base_version < info->state_version, "validate OK: delta %" PRIu64 "->%" PRIu64, info->base_version,
                   info->state_version);
    /* XOR: a delta from v to v + 1, or a subscription's delta (its versions jump; FORMAT.md) */
    FZ_REQUIRE(!(info->transforms & PODSYNC_TRANSFORM_XOR) ||
                   (!reset && !chunk && !repair &&
                    (info->state_version == info->base_version + 1 || (g_subscribed && info->state_version > info->base_version))),
               "validate OK: XOR in a frame (flags %x) %" PRIu64 "->%" PRIu64, info->flags, info->base_version, info->state_version);
    FZ_REQUIRE(info->reserved == 0, "validate OK: info.reserved %u", info->reserved);
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
        check_valid_header(buf, &info, size);
    }
    /* The stream reader's way (include/podsync.h, PODSYNC_FRAME_PREFIX_SIZE): the prefix alone is
       TRUNCATED with format_version and header_length filled; up to the header, peek agrees. */
    if (pst == PODSYNC_OK && size >= PODSYNC_FRAME_PREFIX_SIZE) {
        podsync_frame_info pre = PODSYNC_FRAME_INFO_INIT;
        int32_t p16 = podsync_frame_peek(buf, PODSYNC_FRAME_PREFIX_SIZE, &pre);
        FZ_REQUIRE(p16 == PODSYNC_E_FRAME_TRUNCATED && pre.format_version == peek.format_version &&
                       pre.header_length == peek.header_length,
                   "peek of the %d-byte prefix: %s, format %u header %u (the whole header: format %u header %u)",
                   PODSYNC_FRAME_PREFIX_SIZE, podsync_status_name(p16), pre.format_version, pre.header_length, peek.format_version,
                   peek.header_length);
        podsync_frame_info hdr = PODSYNC_FRAME_INFO_INIT;
        int32_t ph = podsync_frame_peek(buf, peek.header_length, &hdr);
        FZ_REQUIRE(ph == PODSYNC_OK && hdr.frame_length == peek.frame_length && hdr.state_version == peek.state_version &&
                       hdr.flags == peek.flags,
                   "peek of the %u-byte header: %s", peek.header_length, podsync_status_name(ph));
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
        size_t ok = read_sections(buf, size, &peek, st, plain);
        if (st == PODSYNC_OK && plain)
            FZ_REQUIRE(ok == (size_t)peek.section_count + peek.slice_section_count, "%zu of %u + %u sections readable", ok,
                       peek.section_count, peek.slice_section_count);
        if (st == PODSYNC_OK && plain && (peek.flags & PODSYNC_FRAME_CHUNK)) check_chunk_repeats(buf, size, peek.section_count);
        if (st == PODSYNC_OK && plain && peek.format_version == 2 && (peek.flags & FZ_V2_FLAG_REPAIR))
            check_repair_deletes(buf, size, &peek);
    }
    free(buf);
    free(odd);
    return 0;
}
