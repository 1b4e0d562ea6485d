/* conformance.c — applies the cross-language conformance fixtures (Tests/fixtures/conformance/)
 * through the C API and checks every line of expected.txt: the status of each delivery, the
 * replica's version and digest after it, and the final version, digest and record counts.
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
    printf("%d passed, %d failed\n", passed, failed);
    free(buffer);
    free(text);
    free(frames);
    free(schema_bytes);
    podsync_store_free(r);
    podsync_schema_free(schema);
    return failed ? 1 : 0;
}
