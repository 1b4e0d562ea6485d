/* conformance.c — applies the cross-language conformance fixtures (Tests/fixtures/conformance/)
 * through the C API and checks every line of expected.txt: the status of each delivery, the
 * replica's version and digest after it, and the final version, digest and record counts.
 *
 * Then fixture 2 (chunks.bin, chunks_expected.txt: format-2 frames and chunked snapshots, which only
 * this suite reads): the frames are read as a stream reader reads them (16 bytes, podsync_frame_peek
 * for header_length, the header, peek again for frame_length, the rest), every "frame" line is
 * compared with what peek reports, every "delivery" line with the status, version, digest and
 * podsync_store_staging() answer of a fresh replica, and the "final" line with its end state.
 *
 * Usage: conformance [FIXTURE_DIR]   (default Tests/fixtures/conformance)
 */
#define _POSIX_C_SOURCE 200112L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsync.h"

static uint8_t *read_file(const char *dir, const char *name, size_t *size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (n > 0 && fread(bytes, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
    fclose(f);
    bytes[n > 0 ? n : 0] = 0;
    *size = (size_t)n;
    return bytes;
}

static int passed, failed;
static void check(int ok, const char *what, size_t i) {
    if (ok) passed++;
    else { failed++; fprintf(stderr, "FAIL: %s (delivery %zu)\n", what, i); }
}

/* Fixture 2. Returns the number of deliveries checked. */
static size_t chunk_fixture(const char *dir, const podsync_schema *schema) {
    size_t frames_size = 0, text_size = 0;
    uint8_t *frames = read_file(dir, "chunks.bin", &frames_size);
    char *text = (char *)read_file(dir, "chunks_expected.txt", &text_size);
    podsync_store *r = NULL;
    if (podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &r) != PODSYNC_OK) exit(1);
    void *aligned = NULL;
    if (posix_memalign(&aligned, 64, frames_size + 64) != 0) exit(1);
    uint8_t *buffer = aligned;
    size_t offset = 0, deliveries = 0, frames_seen = 0, length = 0;
    int have_frame = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        size_t index = 0;
        unsigned format = 0, header_length = 0, flags = 0, chunk_flags = 0, start_table = 0, end_table = 0;
        uint64_t frame_length = 0, base = 0, state = 0, id = 0, chunk_index = 0, start_key = 0, end_key = 0, count = 0;
        if (sscanf(line,
                   "frame %zu %u %u %" SCNu64 " %x %" SCNu64 " %" SCNu64 " %" SCNx64 " %" SCNu64 " %u %u %" SCNx64
                   " %u %" SCNx64 " %" SCNu64,
                   &index, &format, &header_length, &frame_length, &flags, &base, &state, &id, &chunk_index,
                   &chunk_flags, &start_table, &start_key, &end_table, &end_key, &count) == 15) {
            /* a stream reader: the prefix, then the header, then the rest */
            podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
            int readable = offset + PODSYNC_FRAME_PREFIX_SIZE <= frames_size &&
                           podsync_frame_peek(frames + offset, PODSYNC_FRAME_PREFIX_SIZE, &info) ==
                               PODSYNC_E_FRAME_TRUNCATED &&
                           info.format_version == 2 && info.header_length > PODSYNC_FRAME_PREFIX_SIZE &&
                           offset + info.header_length <= frames_size;
            check(readable, "chunks.bin: the 16-byte prefix names a format-2 header", index);
            if (!readable) break;
            size_t prefix_header_length = info.header_length;
            info = (podsync_frame_info)PODSYNC_FRAME_INFO_INIT;
            int32_t st = podsync_frame_peek(frames + offset, prefix_header_length, &info);
            check(st == PODSYNC_OK && info.frame_length <= frames_size - offset, "chunks.bin: header peeked", index);
            if (st != PODSYNC_OK || info.frame_length > frames_size - offset) break;
            check(info.format_version == format && info.header_length == header_length &&
                      info.frame_length == frame_length && info.flags == flags && info.base_version == base &&
                      info.state_version == state && info.snapshot_id == id && info.chunk_index == chunk_index &&
                      info.chunk_flags == chunk_flags && info.chunk_start_table == start_table &&
                      info.chunk_start_key == start_key && info.chunk_end_table == end_table &&
                      info.chunk_end_key == end_key && info.chunk_record_count == count,
                  "chunks.bin: the header's fields", index);
            length = (size_t)info.frame_length;
            memcpy(buffer, frames + offset, length);
            offset += length;
            have_frame = 1;
            frames_seen++;
            continue;
        }
        char status[64], staging[32];
        uint64_t version = 0, digest = 0;
        int n = sscanf(line, "delivery %zu %63s %" SCNu64 " %" SCNx64 " staging %31s %" SCNu64 " %" SCNu64 " %u %" SCNx64,
                       &index, status, &version, &digest, staging, &state, &chunk_index, &start_table, &start_key);
        if (n == 5 || n == 9) {
            check(have_frame, "chunks_expected.txt: a frame line before each delivery", index);
            if (!have_frame) break;
            have_frame = 0;
            uint64_t got_version = 0, got_digest = 0;
            int32_t st = podsync_store_apply(r, buffer, length, &got_version);
            podsync_store_digest(r, &got_digest);
            check(strcmp(podsync_status_name(st), status) == 0, "chunks: status", index);
            if (strcmp(podsync_status_name(st), status) != 0)
                fprintf(stderr, "  chunk delivery %zu: got %s, expected %s\n", index, podsync_status_name(st), status);
            check(got_version == version, "chunks: version", index);
            check(got_digest == digest, "chunks: digest", index);
            podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
            st = podsync_store_staging(r, &p);
            if (n == 5) {
                check(strcmp(staging, "none") == 0 && st == PODSYNC_NOT_FOUND, "chunks: staging() none", index);
            } else {
                id = strtoull(staging, NULL, 16);
                check(st == PODSYNC_OK && p.snapshot_id == id && p.state_version == state &&
                          p.chunk_index == chunk_index && p.start_table == start_table && p.start_key == start_key,
                      "chunks: staging() position", index);
            }
            deliveries++;
            continue;
        }
        size_t c1 = 0, c7 = 0, got1 = 0, got7 = 0;
        if (sscanf(line, "final %" SCNu64 " %" SCNx64 " %zu %zu", &version, &digest, &c1, &c7) == 4) {
            podsync_store_info info = PODSYNC_STORE_INFO_INIT;
            podsync_store_info_get(r, &info);
            podsync_store_count(r, 1, &got1);
            podsync_store_count(r, 7, &got7);
            check(info.state_version == version && info.digest == digest, "chunks: final version and digest", deliveries);
            check(got1 == c1 && got7 == c7, "chunks: final record counts", deliveries);
            check(offset == frames_size, "chunks: every frame of chunks.bin consumed", deliveries);
            check(frames_seen == deliveries, "chunks: one frame line per delivery", deliveries);
            continue;
        }
        check(0, "chunks_expected.txt: a line of no known kind", deliveries);
        fprintf(stderr, "  %s\n", line);
    }
    check(deliveries > 0, "fixture 2 has deliveries", 0);
    free(buffer);
    free(text);
    free(frames);
    podsync_store_free(r);
    return deliveries;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "Tests/fixtures/conformance";
    size_t schema_size = 0, frames_size = 0, text_size = 0;
    uint8_t *schema_bytes = read_file(dir, "schema.bin", &schema_size);
    uint8_t *frames = read_file(dir, "frames.bin", &frames_size);
    char *text = (char *)read_file(dir, "expected.txt", &text_size);

    podsync_schema *schema = NULL;
    int32_t st = podsync_schema_decode(schema_bytes, schema_size, &schema);
    if (st != PODSYNC_OK) { fprintf(stderr, "schema.bin: %s\n", podsync_status_name(st)); return 1; }
    podsync_store *r = NULL;
    if (podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &r) != PODSYNC_OK) return 1;

    /* Frames are copied to an aligned buffer one at a time, as a receiver would read them. */
    void *aligned = NULL;
    if (posix_memalign(&aligned, 64, frames_size + 64) != 0) return 1;
    uint8_t *buffer = aligned;
    size_t offset = 0, delivery = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char status[64];
        uint64_t version = 0, digest = 0;
        size_t index = 0;
        if (sscanf(line, "delivery %zu %63s %" SCNu64 " %" SCNx64, &index, status, &version, &digest) == 4) {
            podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
            check(offset + PODSYNC_FRAME_HEADER_SIZE <= frames_size &&
                  podsync_frame_peek(frames + offset, frames_size - offset, &info) == PODSYNC_OK &&
                  info.frame_length <= frames_size - offset, "frame header readable", index);
            if (failed) break;
            memcpy(buffer, frames + offset, (size_t)info.frame_length);
            offset += (size_t)info.frame_length;
            uint64_t got_version = 0, got_digest = 0;
            st = podsync_store_apply(r, buffer, (size_t)info.frame_length, &got_version);
            podsync_store_digest(r, &got_digest);
            check(strcmp(podsync_status_name(st), status) == 0, "status", index);
            check(got_version == version, "version", index);
            check(got_digest == digest, "digest", index);
            if (strcmp(podsync_status_name(st), status) != 0)
                fprintf(stderr, "  delivery %zu: got %s, expected %s\n", index, podsync_status_name(st), status);
            delivery++;
            continue;
        }
        size_t c1 = 0, c7 = 0, got1 = 0, got7 = 0;
        if (sscanf(line, "final %" SCNu64 " %" SCNx64 " %zu %zu", &version, &digest, &c1, &c7) == 4) {
            podsync_store_info info = PODSYNC_STORE_INFO_INIT;
            podsync_store_info_get(r, &info);
            podsync_store_count(r, 1, &got1);
            podsync_store_count(r, 7, &got7);
            check(info.state_version == version && info.digest == digest, "final version and digest", delivery);
            check(got1 == c1 && got7 == c7, "final record counts", delivery);
            check(offset == frames_size, "every frame of frames.bin consumed", delivery);
        }
    }
    check(delivery > 0, "fixture has deliveries", 0);
    printf("conformance: %zu deliveries from %s\n", delivery, dir);
    size_t chunk_deliveries = chunk_fixture(dir, schema);
    printf("conformance: %zu deliveries of format-2 frames and chunks from %s/chunks.bin\n", chunk_deliveries, dir);
    printf("%d passed, %d failed\n", passed, failed);
    free(buffer);
    free(text);
    free(frames);
    free(schema_bytes);
    podsync_store_free(r);
    podsync_schema_free(schema);
    return failed ? 1 : 0;
}
