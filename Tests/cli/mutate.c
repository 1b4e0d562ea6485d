/* mutate.c — writes damaged copies of a frame file for the CLI's no-crash checks (.ci/test-cli).
 *
 * Each copy changes 1 to 4 bytes of one frame (anywhere but the magic, format version and
 * frame_length, so the file still splits into frames) and then recomputes that frame's XXH3-64
 * checksum (docs/FORMAT.md), so the damage reaches the engine's layout and codec checks instead of
 * stopping at the checksum. Every copy must be rejected or accepted cleanly: exit status 0 or 1,
 * never a crash.
 *
 * Usage: mutate FRAMES OUTDIR COUNT SEED   writes OUTDIR/m<i>.bin for i < COUNT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

static uint64_t state;
static uint64_t rng(void) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s FRAMES OUTDIR COUNT SEED\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)size);
    if (fread(data, 1, (size_t)size, f) != (size_t)size) { perror("read"); return 1; }
    fclose(f);
    size_t starts[4096], frames = 0;
    for (size_t at = 0; at + 88 <= (size_t)size && frames < 4096;) {
        uint64_t length = le64(data + at + 16);
        if (length < 88 || at + length > (size_t)size) break;
        starts[frames++] = at;
        at += length;
    }
    if (frames == 0) { fprintf(stderr, "no frames in %s\n", argv[1]); return 1; }
    int count = atoi(argv[3]);
    state = strtoull(argv[4], NULL, 10);
    uint8_t *copy = malloc((size_t)size);
    for (int i = 0; i < count; i++) {
        memcpy(copy, data, (size_t)size);
        size_t k = (size_t)(rng() % frames);
        uint8_t *frame = copy + starts[k];
        size_t length = (size_t)le64(frame + 16);
        int changes = 1 + (int)(rng() % 4);
        for (int c = 0; c < changes; c++) {
            size_t at = 24 + (size_t)(rng() % (length - 24)); /* past magic, version, checksum, length */
            if (rng() % 2) {
                frame[at] ^= (uint8_t)(1u << (rng() % 8));
            } else {
                frame[at] = (uint8_t)rng();
            }
        }
        uint64_t sum = XXH3_64bits(frame + 16, length - 16);
        for (int b = 0; b < 8; b++) frame[8 + b] = (uint8_t)(sum >> (8 * b));
        char path[4096];
        snprintf(path, sizeof path, "%s/m%d.bin", argv[2], i);
        FILE *o = fopen(path, "wb");
        if (!o) { perror(path); return 1; }
        fwrite(copy, 1, (size_t)size, o);
        fclose(o);
    }
    free(copy);
    free(data);
    return 0;
}
