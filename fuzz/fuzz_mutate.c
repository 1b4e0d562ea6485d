/* fuzz_mutate.c — see fuzz_mutate.h. */
#include "fuzz_mutate.h"

#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_findFrameCompressedSize is stable; kept for older headers */
#include <zstd.h>

#include "fuzz_common.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* Largest packed payload the mutator decodes to mutate (bigger frames get byte mutations). */
#define PACKED_MAX (1u << 20)

static struct {
    ZSTD_DDict *ddict;
    ZSTD_CDict *cdict;
    uint32_t id;
} g_dict;

void fz_mutator_set_dictionary(const void *dict, size_t size, uint32_t id) {
    ZSTD_freeDDict(g_dict.ddict);
    ZSTD_freeCDict(g_dict.cdict);
    g_dict.ddict = ZSTD_createDDict(dict, size);
    g_dict.cdict = ZSTD_createCDict(dict, size, 1);
    FZ_REQUIRE(g_dict.ddict && g_dict.cdict, "zstd rejects the shared dictionary");
    g_dict.id = id;
}

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Interesting replacements for an integer field of `width` bytes holding `cur`. */
static uint64_t interesting(uint64_t cur, size_t size, uint64_t other, uint64_t *rng) {
    switch (fz_below(rng, 14)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return cur + 1;
    case 3: return cur - 1;
    case 4: return cur + 8;
    case 5: return cur - 8;
    case 6: return UINT64_MAX;
    case 7: return (uint64_t)1 << fz_below(rng, 64);
    case 8: return size;
    case 9: return size > 88 ? size - 88 : 0;
    case 10: return other;
    case 11: return cur * 2;
    case 12: return cur / 2;
    default: return fz_next(rng) & 0xFF;
    }
}

static void write_width(uint8_t *p, size_t width, uint64_t v) {
    for (size_t i = 0; i < width; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t read_width(const uint8_t *p, size_t width) {
    uint64_t v = 0;
    for (size_t i = width; i > 0; i--) v = (v << 8) | p[i - 1];
    return v;
}

/* Format 2: sets frame_length (and, encoded, payload_length when `plen` is not (size_t)-1) by
   re-encoding the core fields; 0 if the header does not hold them. */
static int v2_set_lengths(uint8_t *f, size_t size, uint64_t frame_length, size_t plen) {
    fz_v2_header h;
    if (fz_v2_parse(f, size, &h)) return 0;
    uint8_t ext[2048];
    memcpy(ext, f + h.ext_at, h.ext_len);
    h.frame_length = frame_length;
    if (plen != (size_t)-1 && h.has_payload_length) h.payload_length = plen;
    return fz_v2_write(f, size, &h, ext) == 0;
}

/* Repairs what byte mutations break: frame_length (unless the mutation chose it), a plain frame's
   payload_length (format 1), and the checksum; each is left broken now and then. */
static void repair(uint8_t *f, size_t size, uint64_t *rng, int keep_frame_length) {
    if (fz_is_v2(f, size)) {
        if (!keep_frame_length && fz_below(rng, 16)) v2_set_lengths(f, size, size, (size_t)-1);
    } else {
        if (size >= 24 && !keep_frame_length && fz_below(rng, 16)) fz_wr64(f + FZ_OFF_FRAME_LENGTH, size);
        if (size >= 88) {
            size_t hl = fz_rd16(f + FZ_OFF_HEADER_LENGTH);
            if (f[FZ_OFF_CODEC] == 0 && f[FZ_OFF_TRANSFORMS] == 0 && hl <= size && fz_below(rng, 8))
                fz_wr64(f + FZ_OFF_PAYLOAD_LENGTH, size - hl);
        }
    }
    if (fz_below(rng, 16)) fz_fix_checksum(f, size);
}

/* A section header field of a plain frame whose sections start at hl (`count` sections). */
static int tweak_section(uint8_t *f, size_t size, size_t hl, size_t count, uint64_t *rng) {
    size_t pick = fz_below(rng, count ? count : 1);
    size_t pos = hl;
    for (size_t i = 0; i < pick && pos + 40 <= size; i++) {
        uint64_t l = fz_rd64(f + pos + 32);
        if (l < 40 || l > size - pos) break;
        pos += (size_t)l;
    }
    if (pos + 40 > size) return 0;
    uint64_t keys = fz_rd64(f + pos + 8) + fz_rd64(f + pos + 16);
    if (keys >= 2 && keys <= (size - pos - 40) / 8 && fz_below(rng, 3) == 0) {
        /* a key listed twice: one key copied over another (puts and deletes alike) */
        size_t i = fz_below(rng, keys), j = fz_below(rng, keys);
        if (i != j) {
            memcpy(f + pos + 40 + 8 * i, f + pos + 40 + 8 * j, 8);
            return 1;
        }
    }
    static const uint8_t soff[] = {0, 4, 8, 16, 24, 32}, swidth[] = {4, 4, 8, 8, 8, 8};
    size_t k = fz_below(rng, sizeof soff);
    uint8_t *p = f + pos + soff[k];
    uint64_t other = fz_rd64(f + pos + 8 + 8 * fz_below(rng, 4));
    write_width(p, swidth[k], interesting(read_width(p, swidth[k]), size - pos, other, rng));
    return 1;
}

/* Format 2: one header field, core field, extension-record byte range or section header field set
   to an interesting value (the core fields re-encoded as minimal LEB128). */
static void tweak_field_v2(uint8_t *f, size_t size, uint64_t *rng) {
    fz_v2_header h;
    if (fz_v2_parse(f, size, &h)) {
        /* not even a header: the units byte or the flags */
        if (size >= 8) {
            if (fz_below(rng, 2)) f[FZ_V2_OFF_UNITS] = (uint8_t)interesting(f[FZ_V2_OFF_UNITS], size / 8, 5, rng);
            else f[FZ_V2_OFF_FLAGS] ^= (uint8_t)(1u << fz_below(rng, 8));
        }
        return;
    }
    uint8_t ext[2048];
    memcpy(ext, f + h.ext_at, h.ext_len);
    int plain = h.codec == 0 && h.transforms == 0;
    uint64_t other = fz_rd64(f + 16 + 8 * fz_below(rng, 3));
    switch (fz_below(rng, 16)) {
    case 0: case 1: case 2: /* a section of a plain frame */
        if (plain && tweak_section(f, size, h.header_length, (size_t)h.section_count + 4, rng)) return;
        break;
    case 3: /* drop the digest, so a changed frame can apply cleanly */
        h.flags &= (uint16_t)~PODSYNC_FRAME_HAS_DIGEST;
        fz_v2_write(f, size, &h, ext);
        return;
    case 4: /* a flag */
        h.flags ^= (uint16_t)(1u << fz_below(rng, 16));
        fz_v2_write(f, size, &h, ext);
        return;
    case 5: /* the header's length */
        f[FZ_V2_OFF_UNITS] = (uint8_t)interesting(f[FZ_V2_OFF_UNITS], size / 8, 5, rng);
        return;
    case 6: { /* schema hash, stream id, digest */
        size_t at = 16 + 8 * fz_below(rng, (h.flags & PODSYNC_FRAME_HAS_DIGEST) ? 3 : 2);
        fz_wr64(f + at, interesting(fz_rd64(f + at), size, other, rng));
        return;
    }
    case 7: case 8: case 9: case 10: { /* a core field */
        uint64_t *fields[] = {&h.frame_length, &h.term, &h.sequence, &h.base_version, &h.version_delta, &h.section_count,
                              &h.transforms, &h.payload_length};
        size_t k = fz_below(rng, h.has_payload_length ? 8 : 7);
        if (fz_below(rng, 8) == 0) h.codec = (uint8_t)interesting(h.codec, size, 1, rng);
        else *fields[k] = interesting(*fields[k], size, other, rng);
        if (k == 6 && fz_below(rng, 2)) h.transforms &= 0x1F;
        h.has_payload_length = h.codec != 0 || h.transforms != 0;
        fz_v2_write(f, size, &h, ext);
        return;
    }
    case 11: case 12: case 13: case 14: /* bytes of the extension records (CHUNK, REFRESH_SLICE) */
        if (h.ext_len > 0) {
            static const uint8_t widths[] = {1, 1, 4, 8};
            size_t width = widths[fz_below(rng, 4)];
            if (width > h.ext_len) width = 1;
            size_t at = h.ext_at + fz_below(rng, h.ext_len - width + 1);
            write_width(f + at, width, interesting(read_width(f + at, width), size, other, rng));
            return;
        }
        break;
    default: /* an extension record added or removed */
        if (h.ext_len > 0 && fz_below(rng, 2)) {
            h.ext_len = 0;
        } else {
            uint8_t rec[16] = {0};
            size_t n = 0;
            rec[n++] = (uint8_t)(2 + fz_below(rng, 14)); /* tags 2..15, odd ones critical */
            size_t vlen = fz_below(rng, 6);
            rec[n++] = (uint8_t)vlen;
            for (size_t i = 0; i < vlen; i++) rec[n++] = (uint8_t)fz_next(rng);
            if (h.ext_len + n > sizeof ext) return;
            memcpy(ext + h.ext_len, rec, n);
            h.ext_len += n;
        }
        fz_v2_write(f, size, &h, ext);
        return;
    }
    /* fall back to the fixed fields */
    fz_wr64(f + 16, interesting(fz_rd64(f + 16), size, other, rng));
}

/* One header field (or, in a plain frame, a section header field) set to an interesting value. */
static void tweak_field(uint8_t *f, size_t size, uint64_t *rng) {
    static const struct {
        uint8_t offset, width;
    } fields[] = {{4, 2}, {6, 2}, {16, 8}, {24, 4}, {28, 2}, {30, 1}, {31, 1}, {32, 8},
                  {40, 8}, {48, 8}, {56, 8}, {64, 8}, {72, 8}, {80, 8}};
    size_t hl = fz_rd16(f + FZ_OFF_HEADER_LENGTH);
    int plain = f[FZ_OFF_CODEC] == 0 && f[FZ_OFF_TRANSFORMS] == 0;
    if (plain && hl >= 88 && hl <= size && fz_below(rng, 2)) {
        /* a section of a plain frame */
        if (tweak_section(f, size, hl, fz_rd16(f + FZ_OFF_SECTION_COUNT), rng)) return;
    }
    if (fz_below(rng, 8) == 0) { /* drop the digest, so a changed frame can apply cleanly */
        fz_wr32(f + FZ_OFF_FLAGS, fz_rd32(f + FZ_OFF_FLAGS) & ~PODSYNC_FRAME_HAS_DIGEST);
        fz_wr64(f + FZ_OFF_STATE_DIGEST, 0);
        return;
    }
    size_t k = fz_below(rng, sizeof fields / sizeof fields[0]);
    uint8_t *p = f + fields[k].offset;
    uint64_t other = fz_rd64(f + 16 + 8 * fz_below(rng, 9));
    write_width(p, fields[k].width, interesting(read_width(p, fields[k].width), size, other, rng));
}

/* Mutates the packed payload under the frame's codec and re-encodes it. Returns the new size, or 0
   when the frame's layout does not allow it (the caller then mutates bytes). */
static size_t mutate_payload(uint8_t *f, size_t size, size_t max, uint64_t *rng) {
    static uint8_t *packed, *encoded, *tail;
    static ZSTD_DCtx *dctx;
    static ZSTD_CCtx *cctx;
    if (!packed) {
        packed = malloc(PACKED_MAX);
        encoded = malloc(ZSTD_compressBound(PACKED_MAX));
        tail = malloc(PACKED_MAX);
        dctx = ZSTD_createDCtx();
        cctx = ZSTD_createCCtx();
        FZ_REQUIRE(packed && encoded && tail && dctx && cctx, "out of memory");
    }
    int v2 = fz_is_v2(f, size);
    fz_v2_header h2;
    size_t hl;
    uint8_t codec, transforms;
    uint64_t declared_payload;
    if (v2) {
        if (fz_v2_parse(f, size, &h2)) return 0;
        hl = h2.header_length;
        codec = h2.codec;
        transforms = (uint8_t)h2.transforms;
        if (h2.transforms > 0xFF) return 0;
        declared_payload = h2.payload_length;
    } else {
        if (size < 88) return 0;
        hl = fz_rd16(f + FZ_OFF_HEADER_LENGTH);
        if (hl < 88 || hl % 8 || hl > size) return 0;
        codec = f[FZ_OFF_CODEC];
        transforms = f[FZ_OFF_TRANSFORMS];
        declared_payload = fz_rd64(f + FZ_OFF_PAYLOAD_LENGTH);
    }
    size_t plen, tail_at;
    uint32_t dict_id = 0;
    if (codec == PODSYNC_CODEC_ZSTD) {
        size_t zsize = ZSTD_findFrameCompressedSize(f + hl, size - hl);
        if (ZSTD_isError(zsize)) return 0;
        unsigned long long content = ZSTD_getFrameContentSize(f + hl, zsize);
        if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR || content > PACKED_MAX / 2) return 0;
        dict_id = ZSTD_getDictID_fromFrame(f + hl, zsize);
        if (dict_id != 0 && dict_id != g_dict.id) return 0;
        plen = dict_id ? ZSTD_decompress_usingDDict(dctx, packed, PACKED_MAX / 2, f + hl, zsize, g_dict.ddict)
                       : ZSTD_decompressDCtx(dctx, packed, PACKED_MAX / 2, f + hl, zsize);
        if (ZSTD_isError(plen)) return 0;
        tail_at = hl + zsize;
    } else if (codec == PODSYNC_CODEC_NONE && transforms != 0) {
        uint64_t pl = declared_payload;
        if (pl > size - hl || pl > PACKED_MAX / 2) return 0;
        plen = (size_t)pl;
        memcpy(packed, f + hl, plen);
        tail_at = hl + plen;
    } else if (codec == PODSYNC_CODEC_NONE) {
        plen = size - hl;
        if (plen > PACKED_MAX / 2) return 0;
        memcpy(packed, f + hl, plen);
        tail_at = size;
    } else {
        return 0;
    }
    /* The tail: raw columns, then 0..7 bytes of padding (stripped; padded again below). */
    size_t tail_len = size - tail_at;
    memcpy(tail, f + tail_at, tail_len);
    for (int i = 0; i < 7 && tail_len > 0 && tail[tail_len - 1] == 0; i++) tail_len--;

    if (fz_below(rng, 4) == 0 && plen >= 8) {
        /* a packed (or plain) section header field: a u64 at an 8-aligned offset of the first 64 */
        size_t at = 8 * fz_below(rng, (plen < 64 ? plen : 64) / 8);
        fz_wr64(packed + at, interesting(fz_rd64(packed + at), plen, fz_rd64(packed + 8 * fz_below(rng, plen / 8)), rng));
    } else {
        plen = LLVMFuzzerMutate(packed, plen, PACKED_MAX / 2);
    }

    const uint8_t *body = packed;
    size_t body_len = plen;
    if (codec == PODSYNC_CODEC_ZSTD) {
        size_t z = dict_id ? ZSTD_compress_usingCDict(cctx, encoded, ZSTD_compressBound(PACKED_MAX), packed, plen, g_dict.cdict)
                           : ZSTD_compressCCtx(cctx, encoded, ZSTD_compressBound(PACKED_MAX), packed, plen, 1);
        if (ZSTD_isError(z)) return 0;
        body = encoded;
        body_len = z;
    }
    size_t total = round8(hl + body_len + tail_len);
    if (total > max) return 0;
    if (v2 && !v2_set_lengths(f, size, total, plen)) return 0; /* the header cannot hold the new lengths */
    memcpy(f + hl, body, body_len);
    memcpy(f + hl + body_len, tail, tail_len);
    memset(f + hl + body_len + tail_len, 0, total - (hl + body_len + tail_len));
    if (!v2) {
        fz_wr64(f + FZ_OFF_FRAME_LENGTH, total);
        fz_wr64(f + FZ_OFF_PAYLOAD_LENGTH, (codec == 0 && transforms == 0) ? total - hl : plen);
    }
    if (fz_below(rng, 32)) fz_fix_checksum(f, total);
    return total;
}

size_t fz_mutate_frame(uint8_t *f, size_t size, size_t max, uint64_t *rng) {
    switch (fz_below(rng, 16)) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: {
        size_t n = mutate_payload(f, size, max, rng);
        if (n) return n;
        break;
    }
    case 7: case 8: case 9:
        if (fz_is_v2(f, size)) {
            fz_v2_header a, b;
            int had = fz_v2_parse(f, size, &a) == 0;
            tweak_field_v2(f, size, rng);
            int kept = had && fz_v2_parse(f, size, &b) == 0 && b.frame_length != a.frame_length;
            repair(f, size, rng, kept);
            return size;
        }
        if (size >= 88) {
            uint64_t before = fz_rd64(f + FZ_OFF_FRAME_LENGTH);
            tweak_field(f, size, rng);
            repair(f, size, rng, fz_rd64(f + FZ_OFF_FRAME_LENGTH) != before);
            return size;
        }
        break;
    case 10: /* cut or extend to a multiple of 8 */
        if (size >= 48) {
            size_t floor = fz_is_v2(f, size) ? 40 : 88;
            size_t n = size <= floor + 8 || fz_below(rng, 2) == 0 ? size + 8 : size - 8 * (1 + fz_below(rng, (size - floor) / 8));
            if (n <= max) {
                if (n > size) memset(f + size, 0, n - size);
                repair(f, n, rng, 0);
                return n;
            }
        }
        break;
    default:
        break;
    }
    size = LLVMFuzzerMutate(f, size, max);
    repair(f, size, rng, 0);
    return size;
}

size_t fz_mutate_container(uint8_t *data, size_t size, size_t max, unsigned int seed) {
    uint64_t rng = seed;
    fz_container c;
    if (fz_container_parse(data, size, &c) == 0 || fz_below(&rng, 32) == 0) return LLVMFuzzerMutate(data, size, max);
    uint8_t *scratch = malloc(max), *out = malloc(max);
    FZ_REQUIRE(scratch && out, "out of memory");
    /* copy the frames out, so the container can be rewritten */
    const uint8_t *frames[FZ_MAX_FRAMES + 1];
    size_t sizes[FZ_MAX_FRAMES + 1], used = 0;
    for (size_t i = 0; i < c.count; i++) {
        memcpy(scratch + used, c.frame[i], c.size[i]);
        frames[i] = scratch + used;
        sizes[i] = c.size[i];
        used += c.size[i];
    }
    size_t count = c.count, pick = fz_below(&rng, 2) ? count - 1 : fz_below(&rng, count);
    /* with an own schema, record 0 is the schema encoding: mostly leave it alone */
    if ((c.cfg & FZ_CFG_OWN_SCHEMA) && pick == 0 && count > 1 && fz_below(&rng, 4)) pick = 1 + fz_below(&rng, count - 1);
    uint8_t cfg = c.cfg;
    uint8_t *mutated = NULL;
    switch (fz_below(&rng, 24)) {
    case 0:
        cfg ^= (uint8_t)(1u << fz_below(&rng, 8));
        break;
    case 1: /* duplicate a frame */
        if (count < FZ_MAX_FRAMES) {
            memmove(&frames[pick + 1], &frames[pick], (count - pick) * sizeof frames[0]);
            memmove(&sizes[pick + 1], &sizes[pick], (count - pick) * sizeof sizes[0]);
            count++;
        }
        break;
    case 2: /* drop a frame */
        if (count > 1) {
            memmove(&frames[pick], &frames[pick + 1], (count - pick - 1) * sizeof frames[0]);
            memmove(&sizes[pick], &sizes[pick + 1], (count - pick - 1) * sizeof sizes[0]);
            count--;
        }
        break;
    case 3: { /* swap two frames */
        size_t other = fz_below(&rng, count);
        const uint8_t *tf = frames[pick];
        size_t ts = sizes[pick];
        frames[pick] = frames[other];
        sizes[pick] = sizes[other];
        frames[other] = tf;
        sizes[other] = ts;
        break;
    }
    default: { /* mutate one frame */
        size_t others = size - sizes[pick];
        if (others < max) {
            size_t room = max - others;
            mutated = malloc(room > sizes[pick] ? room : sizes[pick]);
            FZ_REQUIRE(mutated != NULL, "out of memory");
            memcpy(mutated, frames[pick], sizes[pick]);
            sizes[pick] = fz_mutate_frame(mutated, sizes[pick], room, &rng);
            frames[pick] = mutated;
        }
        break;
    }
    }
    size_t n = fz_container_write(out, max, cfg, frames, sizes, count);
    if (n) memcpy(data, out, n);
    else n = size; /* did not fit: keep the input */
    free(mutated);
    free(scratch);
    free(out);
    return n;
}
