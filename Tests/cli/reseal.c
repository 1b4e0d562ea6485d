/* reseal.c — recomputes the checksums of a durable store's file in place (.ci/test-cli).
 *
 * A checkpoint or log segment (docs/FORMAT.md, "Files") has an XXH3-64 checksum in its 48-byte
 * header and one per block. The CLI tests change bytes of such files (a STATE field, a frame's
 * byte, random bytes) and then reseal them, so the change reaches the checks behind the checksums
 * (STATE's fields, the chunks, END, the frames inside) instead of stopping at a checksum. The
 * header's checksum is recomputed, then each block's, walking the blocks by their length fields
 * as long as they fit in the file; a frame's own checksum is left as it is.
 *
 * Usage: reseal FILE
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(size > 0 ? (size_t)size : 1);
    if (!d || fread(d, 1, (size_t)size, f) != (size_t)size) { perror(argv[1]); return 1; }
    fclose(f);
    if (size < 48) {
        fprintf(stderr, "%s: shorter than a file header\n", argv[1]);
        return 1;
    }
    uint64_t magic = le64(d);
    put64(d + 16, XXH3_64bits_withSeed(d + 24, 24, magic));
    size_t offset = 48;
    while (offset + 24 <= (size_t)size) {
        uint32_t kind = le32(d + offset);
        uint64_t length = le64(d + offset + 8);
        size_t start = offset + 24;
        if (length > (uint64_t)size - start) break;
        size_t padded = ((size_t)length + 7) & ~(size_t)7;
        if (padded > (size_t)size - start) break;
        uint64_t seed = ((uint64_t)kind << 56) ^ length ^ 0x5053594E424C4B31ULL;
        put64(d + offset + 16, XXH3_64bits_withSeed(d + start, (size_t)length, seed));
        offset = start + padded;
    }
    f = fopen(argv[1], "wb");
    if (!f || fwrite(d, 1, (size_t)size, f) != (size_t)size || fclose(f) != 0) { perror(argv[1]); return 1; }
    free(d);
    return 0;
}
