/*
 * chunked_bad_input.c — chunked snapshots given wrong, hostile or out-of-order input.
 *
 * Each case asserts the exact status of the call AND that the receiver's visible state (version,
 * digest, stream, diverged mark, record counts of every table) is exactly what it was, and, where
 * it means something, what podsync_store_staging() reports (status and position):
 *   - chunks of two snapshots interleaved (same version: chunk 0 of either replaces the staging;
 *     different versions: the older one's chunks are STALE), then the switch;
 *   - a LAST chunk without the others (CHUNK_GAP; staging() names chunk 0 of that snapshot);
 *   - chunks of a snapshot older than (or as old as) the replica (STALE, DUPLICATE), also while a
 *     newer snapshot is staged and one-frame deltas move the replica past it (the staging is kept);
 *   - a chunk whose range overlaps the chunks staged, or leaves a hole, produced through the API
 *     (podsync_snapshot_resume with the right chunk_index and a start position before or after the
 *     expected one): E_CHUNK_MISMATCH, staging dropped (a fill-in-place replica goes back to empty);
 *   - a forged record count in the LAST chunk's CHUNK record (checksum recomputed), and a forged
 *     state digest: E_CHUNK_MISMATCH; a one-chunk snapshot with a forged digest: E_DIGEST_MISMATCH,
 *     the replica diverged and refusing podsync_snapshot_begin (E_DIVERGED) until a snapshot heals it;
 *   - every single bit of a chunk flipped (E_FRAME_CHECKSUM outside the prefix and frame_length);
 *   - a chunk truncated at every length, ending at a PROT_NONE page (TRUNCATED or MALFORMED, no
 *     read past the end, never a crash);
 *   - an unknown critical flag (bits 5-7) and unknown odd extension tags (E_FRAME_FEATURE with a
 *     valid checksum), next to the ignorable ones (flag bit 8, an even tag) that must apply;
 *   - a chunk applied to a writer (E_WRONG_ROLE), to a replica of another schema
 *     (E_SCHEMA_MISMATCH), to a replica whose max_records it would pass (E_LIMIT);
 *   - podsync_snapshot_resume with bogus positions (E_INVALID_ARGUMENT or E_SNAPSHOT_EXPIRED as the
 *     header says; *out NULL on failure);
 *   - NULL for every pointer argument of every new function (E_INVALID_ARGUMENT, no crash,
 *     podsync_snapshot_free(NULL) is a no-op), wrong struct versions, max_chunk_bytes below
 *     PODSYNC_MIN_CHUNK_BYTES, options.frame_format 3;
 *   - a snapshot that outlives its store; podsync_snapshot_next after PODSYNC_DONE;
 *   - a chunk listing a key twice (E_FRAME_MALFORMED, rolled back, also filling in place);
 *   - a late chunk of a first cut after a resume cut the snapshot anew with other boundaries
 *     (allowed by docs/FORMAT.md, "Resume"): E_CHUNK_MISMATCH, staging dropped;
 *   - stores of 0 to 400 records in chunks of 512 to 2048 bytes: every chunk but the LAST holds a
 *     record (docs/FORMAT.md), the chunks hold every record once, and a replica switches;
 *   chunked catch-up deltas (podsync_store_delta_since whose frame would pass max_frame_bytes):
 *   - their chunks: CHUNK without RESET, base = the since version, consecutive ranges, at most
 *     max_frame_bytes (PODSYNC_MIN_CHUNK_BYTES when that is smaller), a change in every chunk but
 *     maybe the LAST, whose count is the puts + deletes of all, a fresh id per call;
 *   - delta and snapshot chunks on one replica: chunk 0 of either, at least as new as the staging,
 *     replaces it (a fill in place goes back to empty); an older one's chunks are STALE; another
 *     delta of the same version replaces the staged one; the LAST applies the staged delta in one
 *     step; afterwards its chunks are DUPLICATE;
 *   - a delta's LAST on a replica without its base (or following no stream): GAP, nothing changed,
 *     the staging gone; a replica past the base applies it; chunks of a delta at the replica's
 *     version are DUPLICATE;
 *   - a lost delta chunk: CHUNK_GAP; what podsync_snapshot_resume makes of staging()'s position; a
 *     new delta_since replaces the staging;
 *   - a forged record count or digest (E_CHUNK_MISMATCH, staging dropped), a delete key before the
 *     chunk's start or at its end (E_FRAME_MALFORMED, also from podsync_frame_validate);
 *   - a delta chunk on a diverged replica (E_DIVERGED), of another stream (E_STREAM_MISMATCH).
 *
 * The checksum of a format-2 frame (docs/FORMAT.md, "Header") is recomputed here with libxxhash:
 * XXH3_64bits_withSeed(frame + 16, length - 16, seed = bytes 0..7 read as a little-endian u64),
 * stored at offset 8.
 *
 * Build: gcc -std=c99 -Wall -Wextra -Werror -O2 -Iinclude Tests/c/chunked_bad_input.c \
 *            -L.build/release -lpodsync -Wl,-rpath,$PWD/.build/release -lxxhash -o chunked_bad_input
 * Prints one line per case and "N passed, M failed"; exits 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "podsync.h"

/* ---------------------------------------------------------------------------------------------- */
/* Checks                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static unsigned long long g_passed, g_failed, g_case_failed;

static void fail_report(int line, const char *fmt, ...) {
    g_case_failed++;
    if (g_failed > 60) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL (chunked_bad_input.c:%d): ", line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define CHECK(cond, ...)                        \
    do {                                        \
        if (cond) {                             \
            g_passed++;                         \
        } else {                                \
            g_failed++;                         \
            fail_report(__LINE__, __VA_ARGS__); \
        }                                       \
    } while (0)

#define EXPECT_ST(what, got, want)                                                                              \
    do {                                                                                                        \
        int32_t got_ = (got), want_ = (want);                                                                   \
        CHECK(got_ == want_, "%s: %s (%d), expected %s: %s", what, podsync_status_name(got_), (int)got_,        \
              podsync_status_name(want_), podsync_last_errmsg());                                              \
    } while (0)

static void die(const char *what) {
    fprintf(stderr, "fatal: %s (%s)\n", what, podsync_last_errmsg());
    printf("%llu passed, %llu failed\n", g_passed, g_failed + 1);
    exit(1);
}

static const char *g_case;
static void begin_case(const char *name) {
    g_case = name;
    g_case_failed = 0;
}
static void end_case(const char *detail) {
    printf("%-4s %s%s%s\n", g_case_failed ? "FAIL" : "ok", g_case, detail ? ": " : "", detail ? detail : "");
}

static uint8_t *xalloc64(size_t size) {
    void *p = NULL;
    if (posix_memalign(&p, 64, size ? (size + 63) & ~(size_t)63 : 64) != 0 || !p) die("out of memory");
    return p;
}

/* ---------------------------------------------------------------------------------------------- */
/* Schema, stores, records                                                                        */
/* ---------------------------------------------------------------------------------------------- */

#define NT 3
static const uint32_t TID[NT] = {1, 5, 9};
static const uint32_t TSIZE[NT] = {24, 16, 64};
static const uint32_t TALIGN[NT] = {8, 16, 64};
#define STREAM 0xBAD1BAD1BAD10001ull

static podsync_schema *g_schema, *g_other_schema;
static uint64_t g_rng = 77;
static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static podsync_schema *make_schema(int other) {
    podsync_schema *s = NULL;
    if (podsync_schema_create(&s) != PODSYNC_OK) die("schema_create");
    for (int t = 0; t < NT; t++)
        if (podsync_schema_add_table(s, TID[t] + (other && t == 2 ? 1u : 0u), TSIZE[t], TALIGN[t], NULL, 0) !=
            PODSYNC_OK)
            die("schema_add_table");
    return s;
}

static podsync_store *new_store(uint32_t role, uint32_t flags, uint64_t max_records, const podsync_schema *schema) {
    podsync_store_options o;
    if (podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION) != PODSYNC_OK) die("options_init");
    o.flags = PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK | flags;
    o.stream_id = STREAM;
    o.max_frame_bytes = 4096;
    o.max_records = max_records;
    podsync_store *s = NULL;
    if (podsync_store_create(schema ? schema : g_schema, role, &o, &s) != PODSYNC_OK || !s) die("store_create");
    return s;
}
static podsync_store *new_replica(void) { return new_store(PODSYNC_ROLE_REPLICA, 0, 0, NULL); }

/* n random puts (and a few deletes) spread over the three tables, then a flush. */
static void writer_tick(podsync_store *w, size_t n) {
    unsigned char rec[64];
    for (size_t i = 0; i < n; i++) {
        int t = (int)(rnd() % NT);
        uint64_t key = rnd() % 3 == 0 ? rnd() : rnd() % 5000;
        for (size_t b = 0; b < sizeof rec; b += 8) {
            uint64_t x = rnd();
            memcpy(rec + b, &x, 8);
        }
        int32_t st = podsync_store_put(w, TID[t], key, rec, TSIZE[t]);
        if (st != PODSYNC_OK && st != PODSYNC_FLUSH_DUE) die("put");
        if (rnd() % 10 == 0) (void)podsync_store_delete(w, TID[t], rnd() % 5000);
    }
    size_t frames = 0;
    if (podsync_store_flush(w, &frames) != PODSYNC_OK) die("flush");
}

/* ---------------------------------------------------------------------------------------------- */
/* Chunk sets                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

#define MAX_CHUNKS 512
typedef struct chunkset {
    size_t n;
    uint8_t *data[MAX_CHUNKS];
    size_t size[MAX_CHUNKS];
    podsync_frame_info info[MAX_CHUNKS];
    uint64_t id, version;
} chunkset;

static void take_chunks(chunkset *cs, podsync_snapshot *h, size_t max_n) {
    const uint8_t *d = NULL;
    size_t sz = 0;
    while (cs->n < max_n && cs->n < MAX_CHUNKS) {
        int32_t st = podsync_snapshot_next(h, &d, &sz);
        if (st == PODSYNC_DONE) break;
        if (st != PODSYNC_OK) die("snapshot_next");
        cs->data[cs->n] = xalloc64(sz);
        memcpy(cs->data[cs->n], d, sz);
        cs->size[cs->n] = sz;
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        if (podsync_frame_validate(d, sz, &fi) != PODSYNC_OK) die("chunk does not validate");
        cs->info[cs->n] = fi;
        cs->id = fi.snapshot_id;
        cs->version = fi.state_version;
        cs->n++;
    }
}

static chunkset *snapshot_of(podsync_store *s, size_t max_chunk) {
    chunkset *cs = calloc(1, sizeof *cs);
    podsync_snapshot *h = NULL;
    if (!cs || podsync_snapshot_begin(s, max_chunk, &h) != PODSYNC_OK) die("snapshot_begin");
    take_chunks(cs, h, MAX_CHUNKS);
    podsync_snapshot_free(h);
    return cs;
}

static chunkset *resumed(podsync_store *s, const podsync_chunk_position *p, size_t max_chunk, size_t max_n) {
    chunkset *cs = calloc(1, sizeof *cs);
    podsync_snapshot *h = NULL;
    if (!cs) die("out of memory");
    int32_t st = podsync_snapshot_resume(s, p, max_chunk, &h);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "resume: %s %s\n", podsync_status_name(st), podsync_store_errmsg(s));
        die("snapshot_resume");
    }
    take_chunks(cs, h, max_n);
    podsync_snapshot_free(h);
    return cs;
}

static void free_chunks(chunkset *cs) {
    if (!cs) return;
    for (size_t i = 0; i < cs->n; i++) free(cs->data[i]);
    free(cs);
}

static int is_last(const chunkset *cs, size_t i) { return (cs->info[i].chunk_flags & PODSYNC_CHUNK_LAST) != 0; }

/* ---------------------------------------------------------------------------------------------- */
/* Visible state                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

typedef struct vis {
    uint64_t version, digest, stream;
    uint32_t diverged;
    size_t count[NT];
    int32_t staging_st;
    podsync_chunk_position staging;
} vis;

static vis capture(const podsync_store *s) {
    vis v;
    memset(&v, 0, sizeof v);
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    if (podsync_store_info_get(s, &info) != PODSYNC_OK) die("info_get");
    v.version = info.state_version;
    v.digest = info.digest;
    v.stream = info.stream_id;
    v.diverged = info.diverged;
    for (int t = 0; t < NT; t++)
        if (podsync_store_count(s, TID[t], &v.count[t]) != PODSYNC_OK) v.count[t] = (size_t)-1; /* another schema */
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    v.staging_st = podsync_store_staging(s, &p);
    if (v.staging_st == PODSYNC_OK) v.staging = p;
    return v;
}

static int visible_equal(const vis *a, const vis *b) {
    if (a->version != b->version || a->digest != b->digest || a->stream != b->stream || a->diverged != b->diverged)
        return 0;
    for (int t = 0; t < NT; t++)
        if (a->count[t] != b->count[t]) return 0;
    return 1;
}
static int staging_equal(const vis *a, const vis *b) {
    return a->staging_st == b->staging_st && a->staging.snapshot_id == b->staging.snapshot_id &&
           a->staging.chunk_index == b->staging.chunk_index && a->staging.start_table == b->staging.start_table &&
           a->staging.start_key == b->staging.start_key && a->staging.state_version == b->staging.state_version &&
           a->staging.stream_id == b->staging.stream_id;
}

#define KEEP_ALL 1     /* visible state and staging unchanged */
#define KEEP_VISIBLE 2 /* visible state unchanged (the staging may move) */

/* Applies a frame; the status must be `want`; `keep` says what must not change. */
static void apply_expect(int line, const char *what, podsync_store *r, const void *f, size_t n, int32_t want, int keep) {
    vis before = capture(r);
    uint64_t v = 0xdeadbeef;
    int32_t st = podsync_store_apply(r, f, n, &v);
    vis after = capture(r);
    if (st == want) {
        g_passed++;
    } else {
        g_failed++;
        fail_report(line, "%s: %s, expected %s: %s", what, podsync_status_name(st), podsync_status_name(want),
                    podsync_store_errmsg(r));
    }
    if (keep) {
        if (visible_equal(&before, &after)) {
            g_passed++;
        } else {
            g_failed++;
            fail_report(line, "%s (%s): the visible state changed: version %" PRIu64 " -> %" PRIu64 ", digest %016" PRIx64
                        " -> %016" PRIx64 ", records %zu+%zu+%zu -> %zu+%zu+%zu, diverged %u -> %u", what,
                        podsync_status_name(st), before.version, after.version, before.digest, after.digest,
                        before.count[0], before.count[1], before.count[2], after.count[0], after.count[1],
                        after.count[2], before.diverged, after.diverged);
        }
    }
    if (keep == KEEP_ALL) {
        if (staging_equal(&before, &after)) {
            g_passed++;
        } else {
            g_failed++;
            fail_report(line, "%s (%s): staging() changed: %s chunk %" PRIu64 " of %016" PRIx64 " -> %s chunk %" PRIu64
                        " of %016" PRIx64, what, podsync_status_name(st), podsync_status_name(before.staging_st),
                        before.staging.chunk_index, before.staging.snapshot_id, podsync_status_name(after.staging_st),
                        after.staging.chunk_index, after.staging.snapshot_id);
        }
    }
    if (v != after.version) {
        g_failed++;
        fail_report(line, "%s: version_out %" PRIu64 ", the store says %" PRIu64, what, v, after.version);
    }
}
#define APPLY(what, r, f, n, want, keep) apply_expect(__LINE__, what, r, f, n, want, keep)
#define APPLY_CHUNK(what, r, cs, i, want, keep) apply_expect(__LINE__, what, r, (cs)->data[i], (cs)->size[i], want, keep)

/* staging() reports status `st` and (if OK) this snapshot, index and start. */
static void staging_is(int line, const char *what, podsync_store *r, int32_t st, uint64_t id, uint64_t version,
                       uint64_t index, uint32_t table, uint64_t key) {
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    int32_t got = podsync_store_staging(r, &p);
    int good = got == st && (st != PODSYNC_OK || (p.snapshot_id == id && p.state_version == version &&
                                                  p.chunk_index == index && p.start_table == table &&
                                                  p.start_key == key && p.stream_id == STREAM && p.term == 0));
    if (good) {
        g_passed++;
    } else {
        g_failed++;
        fail_report(line, "%s: staging() %s: snapshot %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64 " at (%u, %" PRIu64
                    "); expected %s %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64 " at (%u, %" PRIu64 ")", what,
                    podsync_status_name(got), p.snapshot_id, p.state_version, p.chunk_index, p.start_table,
                    p.start_key, podsync_status_name(st), id, version, index, table, key);
    }
}
#define STAGING_IS(what, r, st, id, version, index, table, key) \
    staging_is(__LINE__, what, r, st, id, version, index, table, key)
/* staging() expects chunk i of cs next */
#define STAGING_AT(what, r, cs, i)                                                                        \
    STAGING_IS(what, r, PODSYNC_OK, (cs)->id, (cs)->version, (uint64_t)(i),                             \
               (i) == 0 ? 0u : (cs)->info[(i) - 1].chunk_end_table, (i) == 0 ? 0u : (cs)->info[(i) - 1].chunk_end_key)

/* The replica holds exactly the records of `w` (which is at the same version). */
static void same_records(int line, const char *what, podsync_store *r, podsync_store *w) {
    vis a = capture(r), b = capture(w);
    int good = a.version == b.version && a.digest == b.digest && a.stream == b.stream;
    size_t bad = 0;
    for (int t = 0; t < NT; t++) {
        good &= a.count[t] == b.count[t];
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t n = 0;
        if (podsync_store_table(w, TID[t], &records, &keys, &n) != PODSYNC_OK) die("store_table");
        for (size_t i = 0; i < n; i++) {
            const void *rec = NULL;
            if (podsync_store_get(r, TID[t], keys[i], &rec) != PODSYNC_OK ||
                memcmp(rec, (const unsigned char *)records + i * TSIZE[t], TSIZE[t]) != 0)
                bad++;
        }
    }
    if (good && bad == 0) {
        g_passed++;
    } else {
        g_failed++;
        fail_report(line, "%s: replica v%" PRIu64 " %016" PRIx64 " vs writer v%" PRIu64 " %016" PRIx64 ", %zu records differ",
                    what, a.version, a.digest, b.version, b.digest, bad);
    }
}
#define SAME_RECORDS(what, r, w) same_records(__LINE__, what, r, w)

/* Stages chunks [from, to) of cs, each CHUNK_STAGED with the visible state unchanged (unless the
   replica fills in place: then its tables grow, its version stays 0). */
static void stage_keep(int line, podsync_store *r, const chunkset *cs, size_t from, size_t to, int inplace) {
    for (size_t i = from; i < to; i++) {
        vis before = capture(r);
        apply_expect(line, "staging a chunk", r, cs->data[i], cs->size[i], PODSYNC_CHUNK_STAGED, inplace ? 0 : KEEP_VISIBLE);
        vis after = capture(r);
        if (inplace) {
            size_t b = before.count[0] + before.count[1] + before.count[2];
            size_t a = after.count[0] + after.count[1] + after.count[2];
            if (after.version == 0 && after.stream == 0 && a > b) {
                g_passed++;
            } else {
                g_failed++;
                fail_report(line, "fill in place: chunk %zu: version %" PRIu64 ", %zu records before, %zu after", i,
                            after.version, b, a);
            }
        }
    }
}
#define STAGE(r, cs, from, to) stage_keep(__LINE__, r, cs, from, to, 0)
#define STAGE_IN_PLACE(r, cs, from, to) stage_keep(__LINE__, r, cs, from, to, 1)

/* Applies every chunk of cs in order: STAGED ..., OK at the last. */
static void apply_all(int line, podsync_store *r, const chunkset *cs) {
    stage_keep(line, r, cs, 0, cs->n - 1, 0);
    apply_expect(line, "the LAST chunk", r, cs->data[cs->n - 1], cs->size[cs->n - 1], PODSYNC_OK, 0);
}
#define APPLY_ALL(r, cs) apply_all(__LINE__, r, cs)

/* ---------------------------------------------------------------------------------------------- */
/* Frame surgery (docs/FORMAT.md, "Header" and "CHUNK (tag 1)")                                   */
/* ---------------------------------------------------------------------------------------------- */

typedef struct hdr {
    size_t header_length, frame_length_at, frame_length_len;
    size_t ext_start, ext_end;        /* the extension records: [ext_start, ext_end), then zeros */
    size_t chunk_value, chunk_value_len;
    size_t count_at, count_len;       /* LAST: record_count's LEB128 */
    uint64_t record_count;
} hdr;

static uint64_t read_leb(const uint8_t *p, size_t *pos, size_t end, size_t *len) {
    uint64_t v = 0;
    size_t start = *pos;
    for (int shift = 0; *pos < end && shift < 64; shift += 7) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) break;
    }
    if (len) *len = *pos - start;
    return v;
}

static size_t leb_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static void write_leb(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
}

static hdr parse_header(const uint8_t *f, size_t size) {
    hdr h;
    memset(&h, 0, sizeof h);
    if (size < 48 || f[4] != 2) die("parse_header: not a format-2 frame");
    h.header_length = 8u * f[5];
    uint16_t flags = (uint16_t)(f[6] | f[7] << 8);
    size_t pos = (flags & PODSYNC_FRAME_HAS_DIGEST) ? 40 : 32, end = h.header_length;
    h.frame_length_at = pos;
    (void)read_leb(f, &pos, end, &h.frame_length_len);
    for (int i = 0; i < 5; i++) (void)read_leb(f, &pos, end, NULL); /* term .. section_count */
    uint8_t codec = f[pos++];
    uint64_t transforms = read_leb(f, &pos, end, NULL);
    if (codec || transforms) (void)read_leb(f, &pos, end, NULL); /* payload_length */
    h.ext_start = pos;
    while (pos < end && f[pos] != 0) {
        uint64_t tag = read_leb(f, &pos, end, NULL);
        uint64_t len = read_leb(f, &pos, end, NULL);
        if (tag == 1) {
            h.chunk_value = pos;
            h.chunk_value_len = (size_t)len;
            size_t q = pos + 8;
            (void)read_leb(f, &q, pos + len, NULL); /* chunk_index */
            uint8_t cflags = f[q++];
            q += 12; /* start_table, start_key */
            if (cflags & 1) {
                h.count_at = q;
                h.record_count = read_leb(f, &q, pos + len, &h.count_len);
            }
        }
        pos += (size_t)len;
    }
    h.ext_end = pos;
    return h;
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* docs/FORMAT.md: checksum = XXH3-64(bytes [16, length), seed = bytes [0, 8) little-endian). */
static void refresh_checksum(uint8_t *f, size_t size) {
    uint64_t seed = get_u64(f);
    put_u64(f + 8, XXH3_64bits_withSeed(f + 16, size - 16, seed));
}

/* Chunks i of a and j of b carry the same records and the same CHUNK record (their headers may
   differ in the sequence number). */
static int same_chunk(const chunkset *a, size_t i, const chunkset *b, size_t j) {
    const podsync_frame_info *x = &a->info[i], *y = &b->info[j];
    size_t ha = x->header_length, hb = y->header_length;
    return a->size[i] - ha == b->size[j] - hb && memcmp(a->data[i] + ha, b->data[j] + hb, a->size[i] - ha) == 0 &&
           x->snapshot_id == y->snapshot_id && x->chunk_index == y->chunk_index && x->chunk_flags == y->chunk_flags &&
           x->chunk_start_table == y->chunk_start_table && x->chunk_start_key == y->chunk_start_key &&
           x->chunk_end_table == y->chunk_end_table && x->chunk_end_key == y->chunk_end_key &&
           x->chunk_record_count == y->chunk_record_count && x->state_digest == y->state_digest &&
           x->state_version == y->state_version && x->section_count == y->section_count;
}

static uint8_t *copy_frame(const chunkset *cs, size_t i) {
    uint8_t *c = xalloc64(cs->size[i]);
    memcpy(c, cs->data[i], cs->size[i]);
    return c;
}

/* ---------------------------------------------------------------------------------------------- */
/* Cases                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

static podsync_store *g_w; /* the writer */

static void case_interleaved(void) {
    begin_case("chunks of two snapshots interleaved");
    /* A and B: two snapshots of one version (different ids) */
    chunkset *A = snapshot_of(g_w, 4096), *B = snapshot_of(g_w, 4096);
    CHECK(A->n >= 4 && B->n == A->n && A->id != B->id && A->version == B->version,
          "two snapshots of version %" PRIu64 ": %zu and %zu chunks, ids %016" PRIx64 " %016" PRIx64, A->version,
          A->n, B->n, A->id, B->id);
    podsync_store *r = new_replica();
    APPLY_CHUNK("A0", r, A, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("after A0", r, A, 1);
    APPLY_CHUNK("B0 (same version: replaces the staging)", r, B, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("after B0", r, B, 1);
    APPLY_CHUNK("A1 (not staged, not chunk 0, same version)", r, A, 1, PODSYNC_CHUNK_GAP, KEEP_ALL);
    APPLY_CHUNK("A2", r, A, 2, PODSYNC_CHUNK_GAP, KEEP_ALL);
    APPLY_CHUNK("B0 again", r, B, 0, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("B1", r, B, 1, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    APPLY_CHUNK("A0 again (chunk 0 of the same version replaces B)", r, A, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("after A0 again", r, A, 1);
    APPLY_CHUNK("B2 (B no longer staged)", r, B, 2, PODSYNC_CHUNK_GAP, KEEP_ALL);

    /* C: a newer version. Interleaved with A, C wins and A's chunks are STALE. */
    writer_tick(g_w, 300);
    chunkset *C = snapshot_of(g_w, 4096);
    CHECK(C->version > A->version, "C's version %" PRIu64 " after A's %" PRIu64, C->version, A->version);
    APPLY_CHUNK("C0 (newer: replaces A)", r, C, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("after C0", r, C, 1);
    APPLY_CHUNK("A1 (older than the staging)", r, A, 1, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("A0 (chunk 0, but older than the staging)", r, A, 0, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("A's LAST (older)", r, A, A->n - 1, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("C2 (ahead)", r, C, 2, PODSYNC_CHUNK_GAP, KEEP_ALL);
    STAGING_AT("after C2", r, C, 1);
    for (size_t i = 1; i + 1 < C->n; i++) {
        APPLY_CHUNK("C in order", r, C, i, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
        if (i % 2 == 1) APPLY_CHUNK("an A chunk in between", r, A, i % A->n, PODSYNC_STALE, KEEP_ALL);
    }
    APPLY_CHUNK("C's LAST: the switch", r, C, C->n - 1, PODSYNC_OK, 0);
    SAME_RECORDS("after C", r, g_w);
    STAGING_IS("after the switch", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    APPLY_CHUNK("A0 after the switch (older than the replica)", r, A, 0, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("C0 after the switch (the replica's version)", r, C, 0, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("C's LAST again", r, C, C->n - 1, PODSYNC_DUPLICATE, KEEP_ALL);
    char detail[160];
    snprintf(detail, sizeof detail, "A, B: %zu chunks at v%" PRIu64 "; C: %zu chunks at v%" PRIu64, A->n, A->version,
             C->n, C->version);
    podsync_store_free(r);
    free_chunks(A);
    free_chunks(B);
    free_chunks(C);
    end_case(detail);
}

static void case_last_alone(void) {
    begin_case("a LAST chunk without the others");
    chunkset *A = snapshot_of(g_w, 4096);
    podsync_store *r = new_replica();
    STAGING_IS("fresh replica", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    CHECK(is_last(A, A->n - 1) && !is_last(A, 0), "LAST flag on the last chunk only");
    APPLY_CHUNK("LAST alone", r, A, A->n - 1, PODSYNC_CHUNK_GAP, KEEP_VISIBLE);
    STAGING_IS("after the LAST alone: chunk 0 of it", r, PODSYNC_OK, A->id, A->version, 0, 0, 0);
    APPLY_CHUNK("LAST again", r, A, A->n - 1, PODSYNC_CHUNK_GAP, KEEP_ALL);
    APPLY_CHUNK("chunk 2 alone", r, A, 2, PODSYNC_CHUNK_GAP, KEEP_ALL);
    podsync_metrics m;
    memset(&m, 0, sizeof m);
    m.version = PODSYNC_METRICS_VERSION;
    EXPECT_ST("metrics", podsync_store_metrics(r, &m), PODSYNC_OK);
    CHECK(m.chunk_gaps == 3 && m.chunks_staged == 0 && m.staging_bytes_held == 0,
          "metrics: chunk_gaps %" PRIu64 " chunks_staged %" PRIu64 " staging_bytes_held %" PRIu64, m.chunk_gaps,
          m.chunks_staged, m.staging_bytes_held);
    /* the resume staging() asks for heals it */
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    EXPECT_ST("staging", podsync_store_staging(r, &p), PODSYNC_OK);
    chunkset *R = resumed(g_w, &p, 4096, MAX_CHUNKS);
    CHECK(R->n == A->n && R->id == A->id, "resume from chunk 0: %zu chunks of %016" PRIx64, R->n, R->id);
    for (size_t i = 0; i < R->n && i < A->n; i++)
        CHECK(same_chunk(R, i, A, i), "resumed chunk %zu differs from the first cut", i);
    APPLY_ALL(r, R);
    SAME_RECORDS("after the resumed snapshot", r, g_w);
    podsync_store_free(r);
    free_chunks(A);
    free_chunks(R);
    end_case(NULL);
}

/* The one frame of a catch-up delta small enough for max_frame_bytes (a larger one comes as chunks:
   case_chunked_delta). */
static void one_frame_delta(int line, podsync_store *w, uint64_t since, const uint8_t **f, size_t *fsize) {
    size_t n = 0;
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    int good = podsync_store_delta_since(w, since, &n) == PODSYNC_OK && n == 1 &&
               podsync_store_frame(w, 0, f, fsize) == PODSYNC_OK && podsync_frame_validate(*f, *fsize, &fi) == PODSYNC_OK &&
               !(fi.flags & (PODSYNC_FRAME_CHUNK | PODSYNC_FRAME_RESET)) && fi.base_version == since && *fsize <= 4096;
    if (good) {
        g_passed++;
    } else {
        g_failed++;
        fail_report(line, "delta_since(%" PRIu64 "): %zu frame(s), flags 0x%x, %zu bytes: expected one frame of at most "
                    "4096 bytes", since, n, fi.flags, *fsize);
    }
}

static void case_older(void) {
    begin_case("chunks of a snapshot older than the replica; the staging kept while one-frame deltas pass it");
    chunkset *A = snapshot_of(g_w, 4096);
    uint64_t va = A->version;
    writer_tick(g_w, 15); /* small: the deltas below fit in one frame */
    chunkset *C = snapshot_of(g_w, 4096);
    podsync_store *r = new_replica();
    APPLY_ALL(r, C);
    APPLY_CHUNK("older chunk 0", r, A, 0, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("older chunk 1", r, A, 1, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("older LAST", r, A, A->n - 1, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("same-version chunk 0", r, C, 0, PODSYNC_DUPLICATE, KEEP_ALL);
    STAGING_IS("nothing staged", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);

    /* a replica at A's version stages D (two versions later); deltas bring it to D's version and past */
    podsync_store *q = new_replica();
    APPLY_ALL(q, A);
    writer_tick(g_w, 15);
    chunkset *D = snapshot_of(g_w, 4096);
    uint64_t vd = D->version;
    STAGE(q, D, 0, 3);
    STAGING_AT("staged D0..D2", q, D, 3);
    const uint8_t *f = NULL;
    size_t fsize = 0;
    one_frame_delta(__LINE__, g_w, va, &f, &fsize);
    vis before = capture(q);
    uint64_t v = 0;
    EXPECT_ST("catch-up delta to D's version while D is staged", podsync_store_apply(q, f, fsize, &v), PODSYNC_OK);
    vis after = capture(q);
    CHECK(v == vd && staging_equal(&before, &after), "after the delta: version %" PRIu64 " (D's %" PRIu64 "), staging %s",
          v, vd, staging_equal(&before, &after) ? "kept" : "changed");
    APPLY_CHUNK("D3 with the replica at D's version", q, D, 3, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("D's LAST", q, D, D->n - 1, PODSYNC_DUPLICATE, KEEP_ALL);
    writer_tick(g_w, 15);
    one_frame_delta(__LINE__, g_w, vd, &f, &fsize);
    EXPECT_ST("delta past D", podsync_store_apply(q, f, fsize, &v), PODSYNC_OK);
    APPLY_CHUNK("D3 with the replica past D", q, D, 3, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("D0 with the replica past D", q, D, 0, PODSYNC_STALE, KEEP_ALL);
    STAGING_AT("D still staged (rule 1 keeps it)", q, D, 3);
    SAME_RECORDS("the replica followed the deltas", q, g_w);
    podsync_store_free(r);
    podsync_store_free(q);
    free_chunks(A);
    free_chunks(C);
    free_chunks(D);
    end_case(NULL);
}

/* Stages A0..A(k-1) on r, then applies chunk k cut by a resume that starts at `start` (index k). */
static void overlap_one(podsync_store *r, podsync_store *producer, const chunkset *A, size_t k, uint32_t table,
                        uint64_t key, int32_t want, const char *what, int inplace) {
    stage_keep(__LINE__, r, A, 0, k, inplace);
    STAGING_AT("before the bad chunk", r, A, k);
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    p.stream_id = STREAM;
    p.snapshot_id = A->id;
    p.state_version = A->version;
    p.chunk_index = k;
    p.start_table = table;
    p.start_key = key;
    chunkset *X = resumed(producer, &p, 4096, 1);
    CHECK(X->n == 1 && X->info[0].chunk_index == k && X->info[0].chunk_start_table == table &&
              X->info[0].chunk_start_key == key && X->id == A->id,
          "%s: the resumed chunk is chunk %" PRIu64 " starting at (%u, %" PRIu64 ")", what, X->info[0].chunk_index,
          X->info[0].chunk_start_table, X->info[0].chunk_start_key);
    vis before = capture(r);
    APPLY(what, r, X->data[0], X->size[0], want, inplace ? 0 : KEEP_VISIBLE);
    STAGING_IS("after the mismatch: nothing staged", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    if (inplace) {
        vis after = capture(r);
        CHECK(before.count[0] + before.count[1] + before.count[2] > 0 && after.version == 0 && after.digest == 0 &&
                  after.stream == 0 && after.count[0] + after.count[1] + after.count[2] == 0,
              "fill in place: %zu records before the mismatch, %zu after (version %" PRIu64 ", digest %016" PRIx64 ")",
              before.count[0] + before.count[1] + before.count[2], after.count[0] + after.count[1] + after.count[2],
              after.version, after.digest);
    }
    /* the next chunk of the first cut is now a gap: the replica asks for chunk 0 */
    APPLY_CHUNK("the next chunk after the mismatch", r, A, k + 1, PODSYNC_CHUNK_GAP, KEEP_VISIBLE);
    STAGING_IS("asks for chunk 0", r, PODSYNC_OK, A->id, A->version, 0, 0, 0);
    free_chunks(X);
}

static void case_overlap(void) {
    begin_case("a chunk overlapping (or leaving a hole after) the chunks staged, cut by podsync_snapshot_resume");
    podsync_snapshot *keep = NULL; /* keeps A's image alive on the writer */
    chunkset *A = calloc(1, sizeof *A);
    if (!A || podsync_snapshot_begin(g_w, 4096, &keep) != PODSYNC_OK) die("begin");
    take_chunks(A, keep, MAX_CHUNKS);
    CHECK(A->n >= 6, "snapshot of %zu chunks", A->n);
    size_t k = 3;
    /* control: the right position gives the right chunk */
    podsync_store *r = new_replica();
    STAGE(r, A, 0, k);
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    EXPECT_ST("staging", podsync_store_staging(r, &p), PODSYNC_OK);
    chunkset *good = resumed(g_w, &p, 4096, 1);
    CHECK(same_chunk(good, 0, A, k), "the resume at the expected position repeats chunk %zu", k);
    APPLY("the right chunk from a resume", r, good->data[0], good->size[0], PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    free_chunks(good);
    podsync_store_free(r);

    /* overlap: chunk k starting where chunk k-1 started */
    r = new_replica();
    overlap_one(r, g_w, A, k, A->info[k - 1].chunk_start_table, A->info[k - 1].chunk_start_key,
                PODSYNC_E_CHUNK_MISMATCH, "chunk 3 starting at chunk 2's start (overlap)", 0);
    podsync_store_free(r);
    /* overlap by one key: one key before the expected start */
    r = new_replica();
    overlap_one(r, g_w, A, k, A->info[k].chunk_start_table, A->info[k].chunk_start_key - 1, PODSYNC_E_CHUNK_MISMATCH,
                "chunk 3 starting one key early", 0);
    podsync_store_free(r);
    /* hole: chunk k starting where chunk k+1 starts */
    r = new_replica();
    overlap_one(r, g_w, A, k, A->info[k + 1].chunk_start_table, A->info[k + 1].chunk_start_key,
                PODSYNC_E_CHUNK_MISMATCH, "chunk 3 starting at chunk 4's start (hole)", 0);
    podsync_store_free(r);
    /* the same on a replica that fills in place: its tables go back to empty */
    r = new_store(PODSYNC_ROLE_REPLICA, PODSYNC_OPT_FILL_IN_PLACE, 0, NULL);
    overlap_one(r, g_w, A, k, A->info[k - 1].chunk_start_table, A->info[k - 1].chunk_start_key,
                PODSYNC_E_CHUNK_MISMATCH, "fill in place: chunk 3 overlapping chunk 2", 1);
    STAGE_IN_PLACE(r, A, 0, A->n - 1);
    APPLY_CHUNK("the LAST chunk, filling in place", r, A, A->n - 1, PODSYNC_OK, 0);
    SAME_RECORDS("fill in place after starting over", r, g_w);
    podsync_store_free(r);
    podsync_snapshot_free(keep);
    free_chunks(A);
    end_case("overlap, one key early, hole; staged and in place");
}

static void case_forged(void) {
    begin_case("forged record count and digest (checksums recomputed)");
    chunkset *A = snapshot_of(g_w, 4096);
    size_t last = A->n - 1;
    uint8_t *f = copy_frame(A, last);
    /* the checksum code agrees with the library */
    refresh_checksum(f, A->size[last]);
    CHECK(memcmp(f, A->data[last], A->size[last]) == 0, "recomputing the checksum of an untouched chunk changed it");
    hdr h = parse_header(f, A->size[last]);
    CHECK(h.count_at != 0 && h.record_count == A->info[last].chunk_record_count,
          "parsed record_count %" PRIu64 ", frame info %" PRIu64, h.record_count, A->info[last].chunk_record_count);
    uint64_t forged = h.record_count + 1;
    if (leb_size(forged) != h.count_len) forged = h.record_count - 1;
    write_leb(f + h.count_at, forged);
    refresh_checksum(f, A->size[last]);
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    EXPECT_ST("the forged chunk validates (a count is not checkable alone)", podsync_frame_validate(f, A->size[last], &fi),
              PODSYNC_OK);
    CHECK(fi.chunk_record_count == forged, "frame info shows count %" PRIu64 ", forged %" PRIu64, fi.chunk_record_count,
          forged);
    podsync_store *r = new_replica();
    STAGE(r, A, 0, last);
    APPLY("LAST with a forged record count", r, f, A->size[last], PODSYNC_E_CHUNK_MISMATCH, KEEP_VISIBLE);
    STAGING_IS("after the forged count: nothing staged", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    APPLY_CHUNK("the true LAST now", r, A, last, PODSYNC_CHUNK_GAP, KEEP_VISIBLE);
    APPLY_ALL(r, A);
    SAME_RECORDS("after the true chunks", r, g_w);
    podsync_store_free(r);
    free(f);

    /* a forged digest in a middle chunk contradicts the chunks before it */
    f = copy_frame(A, 2);
    put_u64(f + 32, get_u64(f + 32) ^ 0x100);
    refresh_checksum(f, A->size[2]);
    r = new_replica();
    STAGE(r, A, 0, 2);
    APPLY("chunk 2 with another state digest", r, f, A->size[2], PODSYNC_E_CHUNK_MISMATCH, KEEP_VISIBLE);
    STAGING_IS("after the forged digest", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    podsync_store_free(r);
    free(f);

    /* a one-chunk snapshot: forged count, then forged digest (diverged), healed by the true one */
    podsync_store *small = new_store(PODSYNC_ROLE_WRITER, 0, 0, NULL);
    writer_tick(small, 40);
    chunkset *S = snapshot_of(small, 65536);
    CHECK(S->n == 1 && is_last(S, 0) && S->info[0].chunk_index == 0, "a one-chunk snapshot (%zu chunks)", S->n);
    f = copy_frame(S, 0);
    h = parse_header(f, S->size[0]);
    forged = h.record_count + 1;
    if (leb_size(forged) != h.count_len) forged = h.record_count - 1;
    write_leb(f + h.count_at, forged);
    refresh_checksum(f, S->size[0]);
    r = new_replica();
    APPLY("the only chunk with a forged count", r, f, S->size[0], PODSYNC_E_CHUNK_MISMATCH, KEEP_ALL);
    free(f);
    f = copy_frame(S, 0);
    put_u64(f + 32, get_u64(f + 32) ^ 1);
    refresh_checksum(f, S->size[0]);
    uint64_t v = 0;
    EXPECT_ST("the only chunk with a forged digest", podsync_store_apply(r, f, S->size[0], &v), PODSYNC_E_DIGEST_MISMATCH);
    vis d = capture(r);
    CHECK(d.diverged == 1 && d.version == S->version, "after DIGEST_MISMATCH: diverged %u version %" PRIu64, d.diverged,
          d.version);
    podsync_snapshot *h2 = (podsync_snapshot *)&v; /* not NULL: must be set to NULL */
    EXPECT_ST("snapshot_begin on a diverged replica", podsync_snapshot_begin(r, 0, &h2), PODSYNC_E_DIVERGED);
    CHECK(h2 == NULL, "snapshot_begin failed but left *out set");
    APPLY("a forged-digest chunk again (diverged: no STALE/DUPLICATE shortcut)", r, f, S->size[0],
          PODSYNC_E_DIGEST_MISMATCH, 0);
    APPLY_CHUNK("the true chunk heals it", r, S, 0, PODSYNC_OK, 0);
    d = capture(r);
    CHECK(d.diverged == 0, "still diverged after the true snapshot");
    SAME_RECORDS("healed", r, small);
    podsync_store_free(r);
    podsync_store_free(small);
    free(f);
    free_chunks(S);
    free_chunks(A);
    end_case(NULL);
}

static void case_bits(void) {
    begin_case("every bit of a chunk flipped");
    chunkset *A = snapshot_of(g_w, 4096);
    size_t k = 2;
    size_t size = A->size[k];
    hdr h = parse_header(A->data[k], size);
    podsync_store *r = new_replica();
    STAGE(r, A, 0, k);
    uint8_t *f = xalloc64(size);
    size_t checksum = 0, other = 0, bad = 0;
    for (size_t byte = 0; byte < size; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(f, A->data[k], size);
            f[byte] ^= (uint8_t)(1u << bit);
            vis before = capture(r);
            uint64_t v = 0;
            int32_t st = podsync_store_apply(r, f, size, &v);
            vis after = capture(r);
            int in_prefix = byte < 8 || (byte >= h.frame_length_at && byte < h.frame_length_at + h.frame_length_len);
            int good = st < 0 && visible_equal(&before, &after) && staging_equal(&before, &after) &&
                       (in_prefix || st == PODSYNC_E_FRAME_CHECKSUM);
            if (st == PODSYNC_E_FRAME_CHECKSUM) checksum++;
            else other++;
            if (!good && bad++ < 5)
                fail_report(__LINE__, "bit %d of byte %zu flipped: %s (state %s)", bit, byte, podsync_status_name(st),
                            visible_equal(&before, &after) && staging_equal(&before, &after) ? "unchanged" : "CHANGED");
        }
    }
    if (bad) g_failed++;
    else g_passed++;
    APPLY_CHUNK("the true chunk after all that", r, A, k, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    char detail[160];
    snprintf(detail, sizeof detail, "%zu flips: %zu E_FRAME_CHECKSUM, %zu other errors (magic, version, lengths)",
             size * 8, checksum, other);
    free(f);
    podsync_store_free(r);
    free_chunks(A);
    end_case(detail);
}

static void case_truncated(void) {
    begin_case("a chunk truncated at every length, ending at a PROT_NONE page");
    chunkset *A = snapshot_of(g_w, 4096);
    size_t k = 1, size = A->size[k];
    long page = sysconf(_SC_PAGESIZE);
    size_t span = ((size + (size_t)page - 1) / (size_t)page + 1) * (size_t)page;
    int zero = open("/dev/zero", O_RDWR); /* an anonymous mapping in plain POSIX */
    if (zero < 0) die("open /dev/zero");
    uint8_t *region = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0);
    close(zero);
    if (region == MAP_FAILED) die("mmap");
    uint8_t *guard = region + span - (size_t)page;
    if (mprotect(guard, (size_t)page, PROT_NONE) != 0) die("mprotect");
    podsync_store *r = new_replica();
    STAGE(r, A, 0, k);
    size_t truncated = 0, malformed = 0, bad = 0;
    for (size_t len = 0; len < size; len++) {
        uint8_t *f = guard - len; /* the last byte given is the last readable byte */
        memcpy(f, A->data[k], len);
        vis before = capture(r);
        uint64_t v = 0;
        int32_t st = podsync_store_apply(r, f, len, &v);
        vis after = capture(r);
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        int32_t sv = podsync_frame_validate(f, len, &fi);
        fi = (podsync_frame_info)PODSYNC_FRAME_INFO_INIT;
        int32_t sp = podsync_frame_peek(f, len, &fi);
        if (st == PODSYNC_E_FRAME_TRUNCATED) truncated++;
        if (st == PODSYNC_E_FRAME_MALFORMED) malformed++;
        int good = (st == PODSYNC_E_FRAME_TRUNCATED || st == PODSYNC_E_FRAME_MALFORMED) && sv == st &&
                   visible_equal(&before, &after) && staging_equal(&before, &after) &&
                   (sp == PODSYNC_OK || sp == PODSYNC_E_FRAME_TRUNCATED);
        if (!good && bad++ < 5)
            fail_report(__LINE__, "%zu of %zu bytes: apply %s, validate %s, peek %s", len, size, podsync_status_name(st),
                        podsync_status_name(sv), podsync_status_name(sp));
    }
    if (bad) g_failed++;
    else g_passed++;
    /* the whole chunk placed against the guard page applies (unaligned is allowed) */
    memcpy(guard - size, A->data[k], size);
    APPLY("the whole chunk against the guard page", r, guard - size, size, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    uint64_t v = 0;
    EXPECT_ST("apply(NULL, 0)", podsync_store_apply(r, NULL, 0, &v), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("apply(NULL, size)", podsync_store_apply(r, NULL, size, &v), PODSYNC_E_INVALID_ARGUMENT);
    char detail[160];
    snprintf(detail, sizeof detail, "%zu lengths: %zu TRUNCATED, %zu MALFORMED", size, truncated, malformed);
    munmap(region, span);
    podsync_store_free(r);
    free_chunks(A);
    end_case(detail);
}

static void case_features(void) {
    begin_case("unknown critical flag bits and odd extension tags (valid checksums)");
    chunkset *A = snapshot_of(g_w, 4096);
    size_t k = 1, size = A->size[k];
    podsync_store *r = new_replica();
    STAGE(r, A, 0, k);
    uint8_t *f = xalloc64(size);
    /* flags: bits 5-7 critical and unknown; bits 8-15 hints a receiver ignores */
    for (int bit = 5; bit <= 7; bit++) {
        memcpy(f, A->data[k], size);
        f[6] |= (uint8_t)(1u << bit);
        refresh_checksum(f, size);
        char what[64];
        snprintf(what, sizeof what, "flag bit %d", bit);
        EXPECT_ST("validate", podsync_frame_validate(f, size, NULL), PODSYNC_E_FRAME_FEATURE);
        APPLY(what, r, f, size, PODSYNC_E_FRAME_FEATURE, KEEP_ALL);
    }
    /* the same bit without recomputing the checksum: the checksum is checked first (V10 before V11) */
    memcpy(f, A->data[k], size);
    f[6] |= 0x20;
    APPLY("flag bit 5, stale checksum", r, f, size, PODSYNC_E_FRAME_CHECKSUM, KEEP_ALL);

    hdr h = parse_header(A->data[k], size);
    size_t room = h.header_length - h.ext_end;
    CHECK(room >= 2, "no room for an extension record in the chunk's header (%zu bytes)", room);
    if (room >= 2) {
        static const struct { uint8_t tag; int32_t want; const char *what; } tags[] = {
            {15, PODSYNC_E_FRAME_FEATURE, "unknown odd tag 15"},
            {17, PODSYNC_E_FRAME_FEATURE, "unknown odd tag 17"},
            {11, PODSYNC_E_FRAME_FEATURE, "tag 11 (SCHEMA_REVISION: reserved, FORMAT.md says receivers reject it)"},
            {127, PODSYNC_E_FRAME_FEATURE, "unknown odd tag 127"},
        };
        for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
            memcpy(f, A->data[k], size);
            f[h.ext_end] = tags[i].tag;
            f[h.ext_end + 1] = 0; /* length 0 */
            refresh_checksum(f, size);
            EXPECT_ST("validate", podsync_frame_validate(f, size, NULL), tags[i].want);
            APPLY(tags[i].what, r, f, size, tags[i].want, KEEP_ALL);
        }
    }
    /* ignorable: flag bit 8 and an even tag apply like the untouched chunk (so the edits above are
       only what they claim to be) */
    memcpy(f, A->data[k], size);
    f[7] |= 0x01;
    refresh_checksum(f, size);
    EXPECT_ST("validate (flag bit 8)", podsync_frame_validate(f, size, NULL), PODSYNC_OK);
    APPLY("flag bit 8 (a hint)", r, f, size, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    if (room >= 2) {
        memcpy(f, A->data[k + 1], A->size[k + 1]);
        hdr h1 = parse_header(f, A->size[k + 1]);
        f[h1.ext_end] = 14;
        f[h1.ext_end + 1] = 0;
        refresh_checksum(f, A->size[k + 1]);
        EXPECT_ST("validate (even tag 14)", podsync_frame_validate(f, A->size[k + 1], NULL), PODSYNC_OK);
        APPLY("even tag 14 (ignored)", r, f, A->size[k + 1], PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    }
    free(f);
    podsync_store_free(r);
    free_chunks(A);
    end_case(NULL);
}

static void case_wrong_receivers(void) {
    begin_case("a chunk applied to a writer, to another schema, past max_records");
    chunkset *A = snapshot_of(g_w, 4096);
    vis before = capture(g_w);
    uint64_t v = 0;
    EXPECT_ST("chunk 0 to the writer", podsync_store_apply(g_w, A->data[0], A->size[0], &v), PODSYNC_E_WRONG_ROLE);
    EXPECT_ST("LAST to the writer", podsync_store_apply(g_w, A->data[A->n - 1], A->size[A->n - 1], &v),
              PODSYNC_E_WRONG_ROLE);
    vis after = capture(g_w);
    CHECK(visible_equal(&before, &after), "the writer changed");
    podsync_store *w2 = new_store(PODSYNC_ROLE_WRITER, 0, 0, NULL);
    EXPECT_ST("chunk 0 to an empty writer", podsync_store_apply(w2, A->data[0], A->size[0], &v), PODSYNC_E_WRONG_ROLE);
    vis e = capture(w2);
    CHECK(e.version == 0 && e.count[0] + e.count[1] + e.count[2] == 0, "the empty writer changed");
    podsync_store_free(w2);

    podsync_store *o = new_store(PODSYNC_ROLE_REPLICA, 0, 0, g_other_schema);
    APPLY_CHUNK("chunk 0 to a replica of another schema", o, A, 0, PODSYNC_E_SCHEMA_MISMATCH, KEEP_ALL);
    podsync_store_free(o);

    /* max_records: the staging counts against it; the chunk that passes it changes nothing */
    size_t total = (size_t)A->info[A->n - 1].chunk_record_count;
    podsync_store *l = new_store(PODSYNC_ROLE_REPLICA, 0, total / 2, NULL);
    size_t i = 0;
    for (; i + 1 < A->n; i++) {
        vis b = capture(l);
        int32_t st = podsync_store_apply(l, A->data[i], A->size[i], &v);
        vis a = capture(l);
        if (st != PODSYNC_CHUNK_STAGED) {
            EXPECT_ST("the chunk that passes max_records", st, PODSYNC_E_LIMIT);
            CHECK(visible_equal(&b, &a) && staging_equal(&b, &a), "E_LIMIT changed the replica or its staging");
            break;
        }
    }
    CHECK(i + 1 < A->n, "max_records %zu of %zu never reached", total / 2, total);
    podsync_store_free(l);
    free_chunks(A);
    end_case(NULL);
}

static void case_resume_positions(void) {
    begin_case("podsync_snapshot_resume with bogus positions");
    vis w = capture(g_w);
    podsync_snapshot *h = NULL;
    podsync_snapshot *sentinel = (podsync_snapshot *)&h;
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    p.stream_id = STREAM;
    p.snapshot_id = 0x1234;
    p.state_version = w.version;
#define RESUME_EXPECT(what, pos, max_chunk, want)                                                    \
    do {                                                                                             \
        h = sentinel;                                                                                \
        int32_t st_ = podsync_snapshot_resume(g_w, pos, max_chunk, &h);                              \
        EXPECT_ST(what, st_, want);                                                                  \
        if (st_ == PODSYNC_OK) {                                                                     \
            CHECK(h != NULL && h != sentinel, "%s: no handle", what);                                \
            podsync_snapshot_free(h);                                                                \
        } else {                                                                                     \
            CHECK(h == NULL, "%s: failed but *out not NULL", what);                                  \
        }                                                                                            \
    } while (0)
    podsync_chunk_position q = p;
    RESUME_EXPECT("an id never seen, at the writer's version and stream (served)", &q, 4096, PODSYNC_OK);
    q = p;
    q.snapshot_id = 0;
    RESUME_EXPECT("snapshot id 0", &q, 4096, PODSYNC_E_INVALID_ARGUMENT);
    q = p;
    q.version = 0;
    RESUME_EXPECT("position.version 0", &q, 4096, PODSYNC_E_INVALID_ARGUMENT);
    q = p;
    q.chunk_index = 0;
    q.start_table = 1;
    q.start_key = 7;
    RESUME_EXPECT("chunk 0 not starting at (0, 0)", &q, 4096, PODSYNC_E_INVALID_ARGUMENT);
    q = p;
    RESUME_EXPECT("max_chunk_bytes PODSYNC_MIN_CHUNK_BYTES - 1", &q, PODSYNC_MIN_CHUNK_BYTES - 1,
                  PODSYNC_E_INVALID_ARGUMENT);
    RESUME_EXPECT("max_chunk_bytes 1", &q, 1, PODSYNC_E_INVALID_ARGUMENT);
    RESUME_EXPECT("max_chunk_bytes PODSYNC_MIN_CHUNK_BYTES", &q, PODSYNC_MIN_CHUNK_BYTES, PODSYNC_OK);
    q = p;
    q.state_version = w.version - 1;
    RESUME_EXPECT("an older version, no live snapshot", &q, 4096, PODSYNC_E_SNAPSHOT_EXPIRED);
    q = p;
    q.state_version = w.version + 5;
    RESUME_EXPECT("a future version", &q, 4096, PODSYNC_E_SNAPSHOT_EXPIRED);
    q = p;
    q.stream_id = STREAM + 1;
    RESUME_EXPECT("another stream", &q, 4096, PODSYNC_E_SNAPSHOT_EXPIRED);
    q = p;
    q.term = 1;
    RESUME_EXPECT("term 1", &q, 4096, PODSYNC_E_SNAPSHOT_EXPIRED);

    /* a live snapshot is served after the writer moved on; freed, it expires */
    podsync_snapshot *live = NULL;
    EXPECT_ST("begin", podsync_snapshot_begin(g_w, 4096, &live), PODSYNC_OK);
    podsync_chunk_position lp = PODSYNC_CHUNK_POSITION_INIT;
    EXPECT_ST("position", podsync_snapshot_position(live, &lp), PODSYNC_OK);
    writer_tick(g_w, 100);
    RESUME_EXPECT("a live snapshot after the writer moved on", &lp, 4096, PODSYNC_OK);
    q = lp;
    q.snapshot_id ^= 1;
    RESUME_EXPECT("a live snapshot's version with another id", &q, 4096, PODSYNC_E_SNAPSHOT_EXPIRED);
    podsync_snapshot_free(live);
    RESUME_EXPECT("the same after its handle was freed", &lp, 4096, PODSYNC_E_SNAPSHOT_EXPIRED);

    /* a replica serves resumes of its own version; an unbound replica none */
    podsync_store *r = new_replica();
    q = p;
    h = sentinel;
    EXPECT_ST("resume on an empty replica", podsync_snapshot_resume(r, &q, 4096, &h), PODSYNC_E_SNAPSHOT_EXPIRED);
    CHECK(h == NULL, "failed resume left *out set");
    chunkset *A = snapshot_of(g_w, 4096);
    APPLY_ALL(r, A);
    q = p;
    q.state_version = A->version;
    q.snapshot_id = 0x77;
    h = sentinel;
    EXPECT_ST("resume on a replica at that version", podsync_snapshot_resume(r, &q, 4096, &h), PODSYNC_OK);
    if (h != sentinel) podsync_snapshot_free(h);

    /* a position past the last key: served; what comes out */
    q = p;
    q.state_version = capture(g_w).version;
    q.chunk_index = 1000;
    q.start_table = 0xFFFFFFFFu;
    q.start_key = UINT64_MAX;
    chunkset *E = resumed(g_w, &q, 4096, MAX_CHUNKS);
    char detail[200];
    snprintf(detail, sizeof detail, "past the end: %zu chunk(s), the first LAST=%d with %u sections and record_count %" PRIu64,
             E->n, E->n ? is_last(E, 0) : -1, E->n ? E->info[0].section_count : 0,
             E->n ? E->info[0].chunk_record_count : 0);
    CHECK(E->n == 1 && is_last(E, 0) && E->info[0].chunk_index == 1000, "resume past the end: %s", detail);
    free_chunks(E);
    free_chunks(A);
    podsync_store_free(r);
    end_case(detail);
#undef RESUME_EXPECT
}

static void case_null_arguments(void) {
    begin_case("NULL and invalid arguments to every new function");
    podsync_store *r = new_replica();
    podsync_snapshot *s = NULL, *sentinel = (podsync_snapshot *)&s;
    const uint8_t *d = NULL;
    size_t n = 0;
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;

    s = sentinel;
    EXPECT_ST("begin(NULL store)", podsync_snapshot_begin(NULL, 0, &s), PODSYNC_E_INVALID_ARGUMENT);
    CHECK(s == NULL, "begin(NULL store) left *out set");
    EXPECT_ST("begin(NULL out)", podsync_snapshot_begin(g_w, 0, NULL), PODSYNC_E_INVALID_ARGUMENT);
    s = sentinel;
    EXPECT_ST("begin(max_chunk_bytes PODSYNC_MIN_CHUNK_BYTES - 1)",
              podsync_snapshot_begin(g_w, PODSYNC_MIN_CHUNK_BYTES - 1, &s), PODSYNC_E_INVALID_ARGUMENT);
    CHECK(s == NULL, "begin(PODSYNC_MIN_CHUNK_BYTES - 1) left *out set");
    CHECK(podsync_last_errmsg()[0] != 0, "no message for max_chunk_bytes below the minimum");
    /* at the minimum: every chunk within it (they all hold several small records) */
    chunkset *M = snapshot_of(g_w, PODSYNC_MIN_CHUNK_BYTES);
    size_t over = 0;
    for (size_t i = 0; i < M->n; i++) over += M->size[i] > PODSYNC_MIN_CHUNK_BYTES;
    CHECK(M->n > 10 && over == 0, "max_chunk_bytes %d: %zu chunks, %zu larger", PODSYNC_MIN_CHUNK_BYTES, M->n, over);
    free_chunks(M);
    s = sentinel;
    EXPECT_ST("resume(NULL store)", podsync_snapshot_resume(NULL, &p, 0, &s), PODSYNC_E_INVALID_ARGUMENT);
    CHECK(s == NULL, "resume(NULL store) left *out set");
    s = sentinel;
    EXPECT_ST("resume(NULL position)", podsync_snapshot_resume(g_w, NULL, 0, &s), PODSYNC_E_INVALID_ARGUMENT);
    CHECK(s == NULL, "resume(NULL position) left *out set");
    EXPECT_ST("resume(NULL out)", podsync_snapshot_resume(g_w, &p, 0, NULL), PODSYNC_E_INVALID_ARGUMENT);

    EXPECT_ST("begin", podsync_snapshot_begin(g_w, 4096, &s), PODSYNC_OK);
    EXPECT_ST("next(NULL snapshot)", podsync_snapshot_next(NULL, &d, &n), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("next(NULL data_out)", podsync_snapshot_next(s, NULL, &n), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("next(NULL size_out)", podsync_snapshot_next(s, &d, NULL), PODSYNC_E_INVALID_ARGUMENT);
    CHECK(podsync_snapshot_errmsg(s) != NULL && podsync_snapshot_errmsg(s)[0] != 0,
          "no message on the snapshot after a NULL argument");
    EXPECT_ST("position(NULL snapshot)", podsync_snapshot_position(NULL, &p), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("position(NULL position)", podsync_snapshot_position(s, NULL), PODSYNC_E_INVALID_ARGUMENT);
    podsync_chunk_position p0 = PODSYNC_CHUNK_POSITION_INIT;
    p0.version = 0;
    EXPECT_ST("position(version 0)", podsync_snapshot_position(s, &p0), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("position", podsync_snapshot_position(s, &p), PODSYNC_OK);
    CHECK(p.chunk_index == 0, "the failed calls advanced the snapshot to chunk %" PRIu64, p.chunk_index);
    /* the failed calls did not advance it: the chunks are all there */
    size_t count = 0;
    int32_t st;
    while ((st = podsync_snapshot_next(s, &d, &n)) == PODSYNC_OK) count++;
    EXPECT_ST("next at the end", st, PODSYNC_DONE);
    CHECK(d == NULL && n == 0, "DONE with data %p size %zu", (const void *)d, n);
    d = (const uint8_t *)&n;
    n = 5;
    EXPECT_ST("next after DONE", podsync_snapshot_next(s, &d, &n), PODSYNC_DONE);
    CHECK(d == NULL && n == 0, "DONE again with data set");
    CHECK(count >= 2, "only %zu chunks", count);
    podsync_snapshot_free(s);
    const char *m = podsync_snapshot_errmsg(NULL);
    CHECK(m != NULL, "snapshot_errmsg(NULL) returned NULL");
    podsync_snapshot_free(NULL);

    EXPECT_ST("staging(NULL store)", podsync_store_staging(NULL, &p), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("staging(NULL position)", podsync_store_staging(r, NULL), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("staging(version 0)", podsync_store_staging(r, &p0), PODSYNC_E_INVALID_ARGUMENT);
    EXPECT_ST("staging on a writer (stages nothing)", podsync_store_staging(g_w, &p), PODSYNC_NOT_FOUND);

    /* options version 4: frame_format */
    podsync_store_options o;
    EXPECT_ST("options_init(4)", podsync_store_options_init(&o, 4), PODSYNC_OK);
    CHECK(o.frame_format == 2, "options v4 default frame_format %u (2 since library 0.8.0)", o.frame_format);
    podsync_store *bad = (podsync_store *)&o;
    o.frame_format = 3;
    EXPECT_ST("store_create(frame_format 3)", podsync_store_create(g_schema, PODSYNC_ROLE_WRITER, &o, &bad),
              PODSYNC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL, "failed store_create left *out set");
    podsync_store_free(r);
    end_case(NULL);
}

static void case_duplicate_key(void) {
    begin_case("a chunk listing a key twice (checksum recomputed): E_FRAME_MALFORMED, rolled back");
    chunkset *A = snapshot_of(g_w, 4096);
    size_t k = 2;
    uint8_t *f = copy_frame(A, k);
    size_t at = 0;
    for (uint32_t i = 0; i < A->info[k].section_count && !at; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        EXPECT_ST("section_get", podsync_frame_section_get(f, A->size[k], i, &sec), PODSYNC_OK);
        if (sec.put_count >= 2) {
            at = (size_t)((const uint8_t *)sec.put_keys - f);
            memcpy(f + at + 8, f + at, 8); /* key 1 := key 0: the same seed, so inside the range */
        }
    }
    CHECK(at != 0, "no section with two keys");
    refresh_checksum(f, A->size[k]);
    EXPECT_ST("validate (FORMAT.md V21: a key listed twice)", podsync_frame_validate(f, A->size[k], NULL),
              PODSYNC_E_FRAME_MALFORMED);
    podsync_store *r = new_replica();
    STAGE(r, A, 0, k);
    APPLY("a key twice", r, f, A->size[k], PODSYNC_E_FRAME_MALFORMED, KEEP_ALL);
    APPLY_CHUNK("the true chunk", r, A, k, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    podsync_store_free(r);
    /* filling in place: the chunk's records are taken back out */
    r = new_store(PODSYNC_ROLE_REPLICA, PODSYNC_OPT_FILL_IN_PLACE, 0, NULL);
    STAGE_IN_PLACE(r, A, 0, k);
    APPLY("a key twice, filling in place", r, f, A->size[k], PODSYNC_E_FRAME_MALFORMED, KEEP_ALL);
    STAGE_IN_PLACE(r, A, k, A->n - 1);
    APPLY_CHUNK("the LAST chunk", r, A, A->n - 1, PODSYNC_OK, 0);
    SAME_RECORDS("filled in place after the rollback", r, g_w);
    podsync_store_free(r);
    free(f);
    free_chunks(A);
    end_case(NULL);
}

static void case_two_cuts(void) {
    begin_case("a late chunk of the first cut after a resume cut the snapshot anew (the writer grew meanwhile)");
    podsync_store *w = new_store(PODSYNC_ROLE_WRITER, 0, 0, NULL);
    writer_tick(w, 2000);
    podsync_snapshot *h = NULL;
    chunkset *A = calloc(1, sizeof *A);
    if (!A || podsync_snapshot_begin(w, 2048, &h) != PODSYNC_OK) die("begin");
    take_chunks(A, h, MAX_CHUNKS);
    writer_tick(w, 6000); /* the writer's tables grow: their index is resized */
    podsync_store *r = new_replica();
    STAGE(r, A, 0, 3);
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    EXPECT_ST("staging", podsync_store_staging(r, &p), PODSYNC_OK);
    chunkset *B = resumed(w, &p, 2048, 1); /* served by the live handle h */
    int same = same_chunk(B, 0, A, 3);
    APPLY("the resumed chunk 3", r, B->data[0], B->size[0], PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    /* FORMAT.md, Resume: "its later boundaries may differ from the lost ones". Where they do, chunk
       4 of the first cut (late, duplicated) no longer starts where the staged chunk 3 ended: rule
       2 makes it a mismatch and the whole staging is dropped. */
    APPLY_CHUNK("chunk 4 of the first cut", r, A, 4, same ? PODSYNC_CHUNK_STAGED : PODSYNC_E_CHUNK_MISMATCH,
                KEEP_VISIBLE);
    char detail[200];
    snprintf(detail, sizeof detail, "the resumed chunk 3 %s the first cut's (first cut ends at %016" PRIx64
             ", the resumed one at %016" PRIx64 ")", same ? "equals" : "differs from", A->info[3].chunk_end_key,
             B->info[0].chunk_end_key);
    podsync_snapshot_free(h);
    podsync_store_free(r);
    podsync_store_free(w);
    free_chunks(A);
    free_chunks(B);
    end_case(detail);
}

/* docs/FORMAT.md: "A chunk holds at least one record, except the only chunk of an empty state (and,
   from PodSync's writer, a LAST chunk whose range holds no record)". Over stores of 0 to 400
   records and the smallest chunk sizes: every chunk but the LAST holds a record, the chunks hold
   every record once, the LAST counts them, and a replica switches to the writer's state. */
static void case_chunk_sizes(void) {
    begin_case("chunks of 0 to 400 records at 512 to 2048 bytes: none empty but possibly the LAST");
    podsync_schema *s1 = NULL;
    if (podsync_schema_create(&s1) != PODSYNC_OK || podsync_schema_add_table(s1, 1, 8, 8, NULL, 0) != PODSYNC_OK)
        die("schema");
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = STREAM;
    size_t configs = 0, empty_last = 0, bad = 0, chunks = 0;
    char example[160] = "";
    for (uint64_t n = 0; n <= 400; n += n < 64 ? 1 : 7) {
        for (size_t cb = PODSYNC_MIN_CHUNK_BYTES; cb <= 2048; cb *= 2) {
            podsync_store *w = NULL, *r = NULL;
            if (podsync_store_create(s1, PODSYNC_ROLE_WRITER, &o, &w) != PODSYNC_OK ||
                podsync_store_create(s1, PODSYNC_ROLE_REPLICA, NULL, &r) != PODSYNC_OK)
                die("store");
            for (uint64_t k = 1; k <= n; k++)
                if (podsync_store_put(w, 1, k * 0x9E3779B97F4A7C15ull, &k, 8) < 0) die("put");
            size_t frames = 0;
            if (podsync_store_flush(w, &frames) != PODSYNC_OK) die("flush");
            chunkset *A = snapshot_of(w, cb);
            uint64_t records = 0;
            int32_t st = PODSYNC_OK;
            for (size_t i = 0; i < A->n; i++) {
                podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
                uint64_t puts = 0;
                for (uint32_t j = 0; j < A->info[i].section_count; j++)
                    if (podsync_frame_section_get(A->data[i], A->size[i], j, &sec) == PODSYNC_OK) puts += sec.put_count;
                records += puts;
                if (puts == 0 && !(n == 0 && A->n == 1)) {
                    if (is_last(A, i)) {
                        empty_last++;
                        if (!example[0])
                            snprintf(example, sizeof example, "e.g. %" PRIu64 " records in %zu-byte chunks: LAST chunk "
                                     "%zu of %zu empty", n, cb, i, A->n);
                    } else if (bad++ < 3) {
                        fail_report(__LINE__, "%" PRIu64 " records, %zu-byte chunks: chunk %zu of %zu holds no record",
                                    n, cb, i, A->n);
                    }
                }
                uint64_t v = 0;
                st = podsync_store_apply(r, A->data[i], A->size[i], &v);
            }
            vis a = capture(r), b = capture(w);
            int good = st == PODSYNC_OK && records == n && A->info[A->n - 1].chunk_record_count == n &&
                       is_last(A, A->n - 1) && a.version == b.version && a.digest == b.digest;
            if (!good && bad++ < 3)
                fail_report(__LINE__, "%" PRIu64 " records, %zu-byte chunks: %zu chunks hold %" PRIu64 " records, LAST "
                            "says %" PRIu64 ", the last apply %s", n, cb, A->n, records,
                            A->info[A->n - 1].chunk_record_count, podsync_status_name(st));
            configs++;
            chunks += A->n;
            free_chunks(A);
            podsync_store_free(w);
            podsync_store_free(r);
        }
    }
    if (bad) g_failed++;
    else g_passed++;
    char detail[300];
    snprintf(detail, sizeof detail, "%zu stores, %zu chunks, %zu empty LAST chunks (documented)%s%s", configs, chunks,
             empty_last, example[0] ? "; " : "", example);
    podsync_schema_free(s1);
    end_case(detail);
}

static void case_outlives_store(void) {
    begin_case("a snapshot outlives its store; podsync_store_snapshot's chunks");
    podsync_store *w = new_store(PODSYNC_ROLE_WRITER, 0, 0, NULL);
    writer_tick(w, 500);
    podsync_store *ref = new_replica();
    size_t n = 0;
    EXPECT_ST("store_snapshot", podsync_store_snapshot(w, &n), PODSYNC_OK);
    CHECK(n > 2, "store_snapshot of %zu bytes a frame made %zu frame(s)", (size_t)4096, n);
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d = NULL;
        size_t sz = 0;
        EXPECT_ST("frame", podsync_store_frame(w, i, &d, &sz), PODSYNC_OK);
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        EXPECT_ST("validate", podsync_frame_validate(d, sz, &fi), PODSYNC_OK);
        if (i == 0) id = fi.snapshot_id;
        CHECK(sz <= 4096 && fi.snapshot_id == id && fi.chunk_index == i &&
                  ((fi.chunk_flags & PODSYNC_CHUNK_LAST) != 0) == (i + 1 == n) && fi.format_version == 2,
              "outbox chunk %zu: %zu bytes, id %016" PRIx64 ", index %" PRIu64 ", flags %u", i, sz, fi.snapshot_id,
              fi.chunk_index, fi.chunk_flags);
        uint64_t v = 0;
        EXPECT_ST("apply outbox chunk", podsync_store_apply(ref, d, sz, &v),
                  i + 1 == n ? PODSYNC_OK : PODSYNC_CHUNK_STAGED);
    }
    SAME_RECORDS("replica from the outbox chunks", ref, w);
    podsync_snapshot *s = NULL;
    EXPECT_ST("begin", podsync_snapshot_begin(w, 4096, &s), PODSYNC_OK);
    podsync_store_free(w); /* allowed: the snapshot keeps it alive */
    podsync_store *r = new_replica();
    const uint8_t *d = NULL;
    size_t sz = 0, chunks = 0;
    int32_t st, last = PODSYNC_OK;
    while ((st = podsync_snapshot_next(s, &d, &sz)) == PODSYNC_OK) {
        uint64_t v = 0;
        last = podsync_store_apply(r, d, sz, &v);
        chunks++;
    }
    EXPECT_ST("the end", st, PODSYNC_DONE);
    EXPECT_ST("the last chunk switched", last, PODSYNC_OK);
    podsync_snapshot_free(s);
    vis a = capture(r), b = capture(ref);
    CHECK(a.version == b.version && a.digest == b.digest && chunks > 2,
          "snapshot of a freed store: version %" PRIu64 " digest %016" PRIx64 ", expected %" PRIu64 " %016" PRIx64,
          a.version, a.digest, b.version, b.digest);
    podsync_store_free(r);
    podsync_store_free(ref);
    end_case(NULL);
}

/* ---------------------------------------------------------------------------------------------- */
/* Chunked catch-up deltas (docs/FORMAT.md, "Chunked snapshots and deltas")                        */
/* ---------------------------------------------------------------------------------------------- */

/* seed(t, k) (docs/FORMAT.md, "State digest"): a chunk's range is one of (table id, seed). */
static uint64_t key_seed(uint32_t table_id, uint64_t key) {
    uint64_t x = key ^ ((uint64_t)table_id * 0x9E3779B97F4A7C15ull);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}
static int pos_less(uint32_t t1, uint64_t k1, uint32_t t2, uint64_t k2) { return t1 < t2 || (t1 == t2 && k1 < k2); }

/* The frames podsync_store_delta_since(since) puts into s's outbox, copied. */
static chunkset *delta_of(podsync_store *s, uint64_t since) {
    chunkset *cs = calloc(1, sizeof *cs);
    size_t n = 0;
    if (!cs || podsync_store_delta_since(s, since, &n) != PODSYNC_OK || n > MAX_CHUNKS) die("delta_since");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d = NULL;
        size_t sz = 0;
        if (podsync_store_frame(s, i, &d, &sz) != PODSYNC_OK) die("store_frame");
        cs->data[i] = xalloc64(sz);
        memcpy(cs->data[i], d, sz);
        cs->size[i] = sz;
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        if (podsync_frame_validate(d, sz, &fi) != PODSYNC_OK) die("delta frame does not validate");
        cs->info[i] = fi;
        cs->id = fi.snapshot_id;
        cs->version = fi.state_version;
        cs->n++;
    }
    return cs;
}

/* Puts and deletes of chunk i (a plain frame). */
static void chunk_changes(const chunkset *cs, size_t i, uint64_t *puts, uint64_t *deletes) {
    *puts = *deletes = 0;
    for (uint32_t j = 0; j < cs->info[i].section_count; j++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        if (podsync_frame_section_get(cs->data[i], cs->size[i], j, &sec) != PODSYNC_OK) die("section_get");
        *puts += sec.put_count;
        *deletes += sec.delete_count;
    }
}

/* Deletes about n existing records (spread over the tables), without flushing. */
static void delete_some(podsync_store *w, size_t n) {
    for (int t = 0; t < NT; t++) {
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        if (podsync_store_table(w, TID[t], &records, &keys, &count) != PODSYNC_OK) die("store_table");
        size_t want = n / NT, step = want ? count / want : 0;
        uint64_t *copy = malloc((want + 1) * 8);
        size_t k = 0;
        if (!copy) die("out of memory");
        for (size_t i = 0; step && i < count && k < want; i += step) copy[k++] = keys[i];
        for (size_t i = 0; i < k; i++) {
            int32_t st = podsync_store_delete(w, TID[t], copy[i]);
            if (st != PODSYNC_OK && st != PODSYNC_FLUSH_DUE) die("delete");
        }
        free(copy);
    }
}

/* The chunks of a chunked delta as include/podsync.h and FORMAT.md describe them. */
static void check_delta_chunks(int line, const char *what, const chunkset *X, uint64_t since, uint64_t version,
                               size_t limit, uint64_t *deletes_out) {
    uint64_t changes = 0, deletes = 0;
    size_t bad = 0;
    for (size_t i = 0; i < X->n; i++) {
        const podsync_frame_info *fi = &X->info[i];
        int last = is_last(X, i);
        uint64_t p = 0, d = 0;
        chunk_changes(X, i, &p, &d);
        changes += p + d;
        deletes += d;
        int good = fi->format_version == 2 && fi->flags == (PODSYNC_FRAME_CHUNK | PODSYNC_FRAME_HAS_DIGEST) &&
                   fi->base_version == since && fi->state_version == version && fi->snapshot_id == X->id &&
                   X->id != 0 && fi->stream_id == STREAM && fi->chunk_index == i && last == (i + 1 == X->n) &&
                   X->size[i] <= limit && (p + d > 0 || last) &&
                   fi->chunk_start_table == (i ? X->info[i - 1].chunk_end_table : 0u) &&
                   fi->chunk_start_key == (i ? X->info[i - 1].chunk_end_key : 0u) &&
                   (last || pos_less(fi->chunk_start_table, fi->chunk_start_key, fi->chunk_end_table, fi->chunk_end_key));
        if (!good && bad++ < 3)
            fail_report(line, "%s: chunk %zu of %zu: format %u flags 0x%x %" PRIu64 " -> %" PRIu64 " (expected %" PRIu64
                        " -> %" PRIu64 ") id %016" PRIx64 " index %" PRIu64 " %zu bytes (limit %zu) %" PRIu64 " puts %"
                        PRIu64 " deletes, from (%u, %016" PRIx64 ") to (%u, %016" PRIx64 ")", what, i, X->n,
                        fi->format_version, fi->flags, fi->base_version, fi->state_version, since, version,
                        fi->snapshot_id, fi->chunk_index, X->size[i], limit, p, d, fi->chunk_start_table,
                        fi->chunk_start_key, fi->chunk_end_table, fi->chunk_end_key);
    }
    if (X->n && X->info[X->n - 1].chunk_record_count != changes && bad++ < 3)
        fail_report(line, "%s: the LAST chunk counts %" PRIu64 " changes, the chunks hold %" PRIu64, what,
                    X->info[X->n - 1].chunk_record_count, changes);
    if (bad) g_failed++;
    else g_passed++;
    if (deletes_out) *deletes_out = deletes;
}

/* Replaces the LAST chunk's record count with another of the same LEB128 size (checksum recomputed). */
static uint8_t *forged_count(const chunkset *cs) {
    size_t last = cs->n - 1;
    uint8_t *f = copy_frame(cs, last);
    hdr h = parse_header(f, cs->size[last]);
    if (!h.count_at) die("no record_count in the LAST chunk");
    uint64_t forged = h.record_count + 1;
    if (leb_size(forged) != h.count_len) forged = h.record_count - 1;
    write_leb(f + h.count_at, forged);
    refresh_checksum(f, cs->size[last]);
    return f;
}

/* Versions vo < va < vm < vd of g_w: snapshots O, A, M, D; chunked deltas Xm (va -> vm), X and Y
   (va -> vd, two calls: two ids), Z (vo -> vd). */
typedef struct dset {
    chunkset *O, *A, *M, *D, *Xm, *X, *Y, *Z;
} dset;

static dset make_dset(void) {
    dset s;
    s.O = snapshot_of(g_w, 4096);
    writer_tick(g_w, 100);
    s.A = snapshot_of(g_w, 4096);
    delete_some(g_w, 60);
    writer_tick(g_w, 300);
    s.M = snapshot_of(g_w, 4096);
    s.Xm = delta_of(g_w, s.A->version);
    delete_some(g_w, 60);
    writer_tick(g_w, 300);
    s.D = snapshot_of(g_w, 4096);
    s.X = delta_of(g_w, s.A->version);
    s.Y = delta_of(g_w, s.A->version);
    s.Z = delta_of(g_w, s.O->version);
    return s;
}

static void free_dset(dset *s) {
    chunkset **all[] = {&s->O, &s->A, &s->M, &s->D, &s->Xm, &s->X, &s->Y, &s->Z};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free_chunks(*all[i]);
        *all[i] = NULL;
    }
}

/* A replica at the version of snapshot S. */
static podsync_store *replica_at(const chunkset *S) {
    podsync_store *r = new_replica();
    APPLY_ALL(r, S);
    return r;
}

static void case_delta_chunks(dset *s) {
    begin_case("a catch-up delta larger than max_frame_bytes comes as chunks");
    uint64_t deletes = 0;
    check_delta_chunks(__LINE__, "X", s->X, s->A->version, s->D->version, 4096, &deletes);
    check_delta_chunks(__LINE__, "Y", s->Y, s->A->version, s->D->version, 4096, NULL);
    check_delta_chunks(__LINE__, "Xm", s->Xm, s->A->version, s->M->version, 4096, NULL);
    check_delta_chunks(__LINE__, "Z", s->Z, s->O->version, s->D->version, 4096, NULL);
    CHECK(s->X->n >= 6 && s->Xm->n >= 3 && deletes > 0 && s->Y->n == s->X->n && s->X->id != s->Y->id &&
              s->X->info[s->X->n - 1].chunk_record_count == s->Y->info[s->Y->n - 1].chunk_record_count,
          "X: %zu chunks, %" PRIu64 " deletes; Y: %zu chunks; ids %016" PRIx64 " %016" PRIx64, s->X->n, deletes,
          s->Y->n, s->X->id, s->Y->id);
    /* max_frame_bytes below PODSYNC_MIN_CHUNK_BYTES: chunks of at most PODSYNC_MIN_CHUNK_BYTES */
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.flags = PODSYNC_OPT_FRAME_DIGEST;
    o.stream_id = STREAM;
    o.max_frame_bytes = 200;
    podsync_store *w = NULL;
    if (podsync_store_create(g_schema, PODSYNC_ROLE_WRITER, &o, &w) != PODSYNC_OK) die("store_create");
    writer_tick(w, 40);
    podsync_store *r = new_replica();
    size_t n = 0;
    EXPECT_ST("snapshot", podsync_store_snapshot(w, &n), PODSYNC_OK);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d = NULL;
        size_t sz = 0;
        uint64_t v = 0;
        podsync_store_frame(w, i, &d, &sz);
        podsync_store_apply(r, d, sz, &v);
    }
    uint64_t since = capture(w).version;
    writer_tick(w, 60);
    chunkset *S = delta_of(w, since);
    size_t over = 0, over_min = 0;
    for (size_t i = 0; i < S->n; i++) {
        over += S->size[i] > 200;
        over_min += S->size[i] > PODSYNC_MIN_CHUNK_BYTES;
    }
    check_delta_chunks(__LINE__, "max_frame_bytes 200", S, since, capture(w).version, PODSYNC_MIN_CHUNK_BYTES, NULL);
    CHECK(S->n > 2 && over > 0 && over_min == 0, "max_frame_bytes 200: %zu chunks, %zu above 200 bytes, %zu above %d",
          S->n, over, over_min, PODSYNC_MIN_CHUNK_BYTES);
    APPLY_ALL(r, S);
    SAME_RECORDS("after the chunks of at most 512 bytes", r, w);
    char detail[200];
    snprintf(detail, sizeof detail, "X %" PRIu64 " -> %" PRIu64 ": %zu chunks, %" PRIu64 " changes (%" PRIu64
             " deletes); at max_frame_bytes 200: %zu chunks", s->A->version, s->D->version, s->X->n,
             s->X->info[s->X->n - 1].chunk_record_count, deletes, S->n);
    free_chunks(S);
    podsync_store_free(r);
    podsync_store_free(w);
    end_case(detail);
}

static void case_delta_and_snapshot(dset *s) {
    begin_case("delta chunks and snapshot chunks on one replica: chunk 0 of the one at least as new replaces the staging");
    chunkset *X = s->X, *Y = s->Y, *D = s->D, *M = s->M, *Xm = s->Xm;
    size_t n = X->n;
    podsync_store *q = replica_at(s->A);
    STAGE(q, D, 0, 2);
    STAGING_AT("D0, D1 staged", q, D, 2);
    APPLY_CHUNK("X0 (a delta as new as the staged snapshot: replaces it)", q, X, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("X staged", q, X, 1);
    APPLY_CHUNK("D2 (D no longer staged; as new as X)", q, D, 2, PODSYNC_CHUNK_GAP, KEEP_ALL);
    APPLY_CHUNK("M0 (a snapshot older than the staged delta)", q, M, 0, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("M1", q, M, 1, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("Xm0 (a delta older than the staged one)", q, Xm, 0, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("Xm's LAST", q, Xm, Xm->n - 1, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("D0 (a snapshot as new as the staged delta: replaces it)", q, D, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("D staged again", q, D, 1);
    APPLY_CHUNK("X1 (X no longer staged)", q, X, 1, PODSYNC_CHUNK_GAP, KEEP_ALL);
    APPLY_CHUNK("X0 again (replaces D)", q, X, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    APPLY_CHUNK("Y0 (another delta of that version and base: replaces X)", q, Y, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("Y staged", q, Y, 1);
    APPLY_CHUNK("X1 (X no longer staged)", q, X, 1, PODSYNC_CHUNK_GAP, KEEP_ALL);
    APPLY_CHUNK("X0 again (replaces Y)", q, X, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGE(q, X, 1, n - 1);
    STAGING_AT("X staged up to its LAST", q, X, n - 1);
    APPLY_CHUNK("X1 again", q, X, 1, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("Y's LAST (Y not staged)", q, Y, Y->n - 1, PODSYNC_CHUNK_GAP, KEEP_ALL);
    APPLY_CHUNK("D's LAST (D not staged)", q, D, D->n - 1, PODSYNC_CHUNK_GAP, KEEP_ALL);
    vis v = capture(q);
    CHECK(v.version == s->A->version, "the replica moved to %" PRIu64 " before X's LAST", v.version);
    APPLY_CHUNK("X's LAST: the staged delta applies in one step", q, X, n - 1, PODSYNC_OK, 0);
    SAME_RECORDS("after X", q, g_w);
    STAGING_IS("after X: nothing staged", q, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    APPLY_CHUNK("X0 after X (DUPLICATE: the replica is at its version)", q, X, 0, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("X's LAST again", q, X, n - 1, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("Y0 after X", q, Y, 0, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("Xm0 after X (older)", q, Xm, 0, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("D0 after X (rule 1: the replica's version)", q, D, 0, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_CHUNK("M0 after X (rule 1: older)", q, M, 0, PODSYNC_STALE, KEEP_ALL);
    STAGING_IS("still nothing staged", q, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    podsync_store_free(q);

    /* a newer delta replaces a staged snapshot; the snapshot's chunks are then STALE */
    q = replica_at(s->A);
    STAGE(q, M, 0, 3);
    APPLY_CHUNK("X0 (newer than the staged M)", q, X, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    APPLY_CHUNK("M3 (older than the staged X)", q, M, 3, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("M0 (older than the staged X)", q, M, 0, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("X1", q, X, 1, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    /* and a newer snapshot replaces a staged delta: the delta's chunks are then STALE */
    podsync_store *q2 = replica_at(s->A);
    STAGE(q2, Xm, 0, 2);
    APPLY_CHUNK("D0 (newer than the staged Xm)", q2, D, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    APPLY_CHUNK("Xm2 (older than the staged D)", q2, Xm, 2, PODSYNC_STALE, KEEP_ALL);
    APPLY_CHUNK("Xm0 (older than the staged D)", q2, Xm, 0, PODSYNC_STALE, KEEP_ALL);
    STAGING_AT("D staged", q2, D, 1);
    STAGE(q2, D, 1, D->n - 1);
    APPLY_CHUNK("D's LAST: the switch", q2, D, D->n - 1, PODSYNC_OK, 0);
    SAME_RECORDS("after D", q2, g_w);
    STAGE(q, X, 2, n - 1);
    APPLY_CHUNK("X's LAST", q, X, n - 1, PODSYNC_OK, 0);
    SAME_RECORDS("after X", q, g_w);
    podsync_store_free(q);
    podsync_store_free(q2);
    end_case(NULL);
}

static void case_delta_base(dset *s) {
    begin_case("a chunked delta on a replica without its base: staged, GAP at the LAST, nothing changed");
    chunkset *X = s->X;
    podsync_store *q = replica_at(s->O); /* vo < va, X's base */
    STAGE(q, X, 0, X->n - 1);
    APPLY_CHUNK("X's LAST, the replica before its base", q, X, X->n - 1, PODSYNC_GAP, KEEP_VISIBLE);
    STAGING_IS("the staged delta is gone", q, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    vis v = capture(q);
    CHECK(v.version == s->O->version, "after the GAP: version %" PRIu64 ", expected %" PRIu64, v.version, s->O->version);
    APPLY_CHUNK("X1 after the GAP (nothing staged)", q, X, 1, PODSYNC_CHUNK_GAP, KEEP_VISIBLE);
    STAGING_IS("wants chunk 0 of X", q, PODSYNC_OK, X->id, X->version, 0, 0, 0);
    /* the delta from the replica's own version applies */
    APPLY_ALL(q, s->Z);
    SAME_RECORDS("after Z", q, g_w);
    podsync_store_free(q);

    /* a replica that follows no stream: GAP too, and it stays empty */
    q = new_replica();
    STAGE(q, X, 0, X->n - 1);
    APPLY_CHUNK("X's LAST on an empty replica", q, X, X->n - 1, PODSYNC_GAP, KEEP_VISIBLE);
    v = capture(q);
    CHECK(v.version == 0 && v.stream == 0 && v.count[0] + v.count[1] + v.count[2] == 0,
          "an empty replica after a delta's GAP: version %" PRIu64 ", %zu records", v.version,
          v.count[0] + v.count[1] + v.count[2]);
    STAGING_IS("nothing staged", q, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    podsync_store_free(q);
    /* filling in place: a delta's chunk 0 replaces the fill (the tables go back to empty) */
    q = new_store(PODSYNC_ROLE_REPLICA, PODSYNC_OPT_FILL_IN_PLACE, 0, NULL);
    STAGE_IN_PLACE(q, s->D, 0, 2);
    APPLY_CHUNK("X0 on a replica filling in place with D", q, X, 0, PODSYNC_CHUNK_STAGED, 0);
    v = capture(q);
    CHECK(v.version == 0 && v.digest == 0 && v.count[0] + v.count[1] + v.count[2] == 0,
          "the fill in place not removed: %zu records", v.count[0] + v.count[1] + v.count[2]);
    STAGING_AT("X staged", q, X, 1);
    podsync_store_free(q);

    /* a replica past the base (at M, between va and vd) applies X; Xm is DUPLICATE there */
    q = replica_at(s->M);
    for (size_t i = 0; i < s->Xm->n; i++) APPLY_CHUNK("Xm on a replica at its version", q, s->Xm, i, PODSYNC_DUPLICATE, KEEP_ALL);
    APPLY_ALL(q, X);
    SAME_RECORDS("X applied past its base", q, g_w);
    podsync_store_free(q);
    end_case(NULL);
}

static void case_delta_lost_chunk(dset *s) {
    begin_case("a lost delta chunk: CHUNK_GAP; no resume for a delta: a new delta_since replaces the staging");
    chunkset *X = s->X, *Y = s->Y;
    podsync_store *q = replica_at(s->A);
    STAGE(q, X, 0, 2);
    APPLY_CHUNK("X3 (X2 lost)", q, X, 3, PODSYNC_CHUNK_GAP, KEEP_ALL);
    STAGING_AT("staging() names X2", q, X, 2);
    APPLY_CHUNK("X4", q, X, 4, PODSYNC_CHUNK_GAP, KEEP_ALL);
    /* what podsync_snapshot_resume makes of that position: the writer is still at X's version, so
       it serves chunks of a SNAPSHOT under X's id, which cannot continue the staged delta */
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    EXPECT_ST("staging", podsync_store_staging(q, &p), PODSYNC_OK);
    podsync_snapshot *h = NULL;
    int32_t rst = podsync_snapshot_resume(g_w, &p, 4096, &h);
    char detail[240];
    if (rst == PODSYNC_OK) {
        chunkset *R = calloc(1, sizeof *R);
        if (!R) die("out of memory");
        take_chunks(R, h, 1);
        podsync_snapshot_free(h);
        CHECK(R->n == 1 && (R->info[0].flags & PODSYNC_FRAME_RESET) && R->info[0].snapshot_id == X->id &&
                  R->info[0].chunk_index == 2,
              "resume at a delta's position: %zu chunk(s), flags 0x%x", R->n, R->n ? R->info[0].flags : 0);
        APPLY_CHUNK("the resumed (snapshot) chunk 2 under X's id", q, R, 0, PODSYNC_CHUNK_GAP, KEEP_ALL);
        snprintf(detail, sizeof detail, "podsync_snapshot_resume at the staged delta's position: served as snapshot "
                 "chunk %" PRIu64 " (RESET) under its id, CHUNK_GAP there", R->info[0].chunk_index);
        free_chunks(R);
    } else {
        CHECK(h == NULL, "a failed resume left *out set");
        snprintf(detail, sizeof detail, "podsync_snapshot_resume at the staged delta's position: %s",
                 podsync_status_name(rst));
    }
    APPLY_CHUNK("Y0 (asked again: replaces X)", q, Y, 0, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
    STAGING_AT("Y staged", q, Y, 1);
    APPLY_CHUNK("X2 late (X no longer staged)", q, X, 2, PODSYNC_CHUNK_GAP, KEEP_ALL);
    STAGE(q, Y, 1, Y->n - 1);
    APPLY_CHUNK("Y's LAST", q, Y, Y->n - 1, PODSYNC_OK, 0);
    SAME_RECORDS("after Y", q, g_w);
    APPLY_CHUNK("X2 after Y (its version: DUPLICATE)", q, X, 2, PODSYNC_DUPLICATE, KEEP_ALL);
    podsync_metrics m;
    memset(&m, 0, sizeof m);
    m.version = PODSYNC_METRICS_VERSION;
    EXPECT_ST("metrics", podsync_store_metrics(q, &m), PODSYNC_OK);
    CHECK(m.staging_bytes_held == 0, "staging_bytes_held %" PRIu64 " after the switch", m.staging_bytes_held);
    podsync_store_free(q);
    end_case(detail);
}

static void case_delta_forged(dset *s) {
    begin_case("a chunked delta with a forged record count, a forged digest, a delete key outside its range");
    chunkset *X = s->X;
    size_t last = X->n - 1;
    podsync_store *q = replica_at(s->A);
    uint8_t *f = forged_count(X);
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    EXPECT_ST("the forged LAST validates (a count is not checkable alone)", podsync_frame_validate(f, X->size[last], &fi),
              PODSYNC_OK);
    STAGE(q, X, 0, last);
    APPLY("X's LAST with a forged record count", q, f, X->size[last], PODSYNC_E_CHUNK_MISMATCH, KEEP_VISIBLE);
    STAGING_IS("after the forged count: nothing staged", q, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    APPLY_CHUNK("the true LAST now (nothing staged)", q, X, last, PODSYNC_CHUNK_GAP, KEEP_VISIBLE);
    STAGING_IS("wants chunk 0 of X", q, PODSYNC_OK, X->id, X->version, 0, 0, 0);
    free(f);
    /* a middle chunk with another state digest */
    f = copy_frame(X, 2);
    put_u64(f + 32, get_u64(f + 32) ^ 0x100);
    refresh_checksum(f, X->size[2]);
    STAGE(q, X, 0, 2);
    APPLY("X2 with another state digest", q, f, X->size[2], PODSYNC_E_CHUNK_MISMATCH, KEEP_VISIBLE);
    STAGING_IS("after the forged digest: nothing staged", q, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    free(f);

    /* a delete key outside the chunk's range: before its start, or exactly at its end (the next
       chunk's first position) */
    size_t tried = 0;
    for (int where = 0; where < 2; where++) {
        size_t k = 0;
        uint32_t sec_index = 0;
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        int found = 0;
        for (k = 1; k < last && !found; k++) {
            const podsync_frame_info *ci = &X->info[k];
            for (sec_index = 0; sec_index < ci->section_count && !found; sec_index++) {
                sec = (podsync_frame_section)PODSYNC_FRAME_SECTION_INIT;
                if (podsync_frame_section_get(X->data[k], X->size[k], sec_index, &sec) != PODSYNC_OK) die("section_get");
                found = sec.delete_count > 0 && sec.table_id == (where == 0 ? ci->chunk_start_table : ci->chunk_end_table);
            }
        }
        CHECK(found, "no chunk with deletions at its %s table", where == 0 ? "start" : "end");
        if (!found) continue;
        k--;
        const podsync_frame_info *ci = &X->info[k];
        uint64_t key = 0;
        if (where == 0) {
            /* any key of that table whose seed lies before the start */
            while (!pos_less(sec.table_id, key_seed(sec.table_id, key), ci->chunk_start_table, ci->chunk_start_key)) key++;
        } else {
            /* the key with seed == end: the first change of the next chunk in that table */
            podsync_frame_section nx = PODSYNC_FRAME_SECTION_INIT;
            int got = 0;
            for (uint32_t j = 0; j < X->info[k + 1].section_count && !got; j++) {
                if (podsync_frame_section_get(X->data[k + 1], X->size[k + 1], j, &nx) != PODSYNC_OK) die("section_get");
                if (nx.table_id != sec.table_id) continue;
                for (uint64_t i = 0; i < nx.put_count + nx.delete_count; i++) {
                    uint64_t c = i < nx.put_count ? nx.put_keys[i] : nx.delete_keys[i - nx.put_count];
                    if (key_seed(sec.table_id, c) == ci->chunk_end_key) key = c, got = 1;
                }
            }
            CHECK(got, "chunk %zu ends at (%u, %016" PRIx64 "), but the next chunk has no change there", k,
                  ci->chunk_end_table, ci->chunk_end_key);
            if (!got) continue;
        }
        f = copy_frame(X, k);
        size_t at = (size_t)((const uint8_t *)sec.delete_keys - X->data[k]);
        put_u64(f + at, key);
        refresh_checksum(f, X->size[k]);
        podsync_store *r = replica_at(s->A);
        STAGE(r, X, 0, k);
        char what[160];
        snprintf(what, sizeof what, "chunk %zu deleting key %" PRIu64 " of table %u, %s", k, key, sec.table_id,
                 where == 0 ? "before its start" : "at its end");
        EXPECT_ST("validate the chunk with a key out of its range", podsync_frame_validate(f, X->size[k], NULL),
                  PODSYNC_E_FRAME_MALFORMED);
        APPLY(what, r, f, X->size[k], PODSYNC_E_FRAME_MALFORMED, KEEP_ALL);
        APPLY_CHUNK("the true chunk", r, X, k, PODSYNC_CHUNK_STAGED, KEEP_VISIBLE);
        STAGE(r, X, k + 1, last);
        APPLY_CHUNK("X's LAST", r, X, last, PODSYNC_OK, 0);
        SAME_RECORDS("after X", r, g_w);
        podsync_store_free(r);
        free(f);
        tried++;
    }
    APPLY_ALL(q, X);
    SAME_RECORDS("the true chunks after all that", q, g_w);
    podsync_store_free(q);
    char detail[80];
    snprintf(detail, sizeof detail, "%zu keys out of range", tried);
    end_case(detail);
}

static void case_delta_diverged(void) {
    begin_case("a delta chunk on a diverged replica (E_DIVERGED), of another stream (E_STREAM_MISMATCH)");
    podsync_store *small = new_store(PODSYNC_ROLE_WRITER, 0, 0, NULL);
    writer_tick(small, 40);
    chunkset *S = snapshot_of(small, 65536);
    CHECK(S->n == 1, "a one-chunk snapshot (%zu chunks)", S->n);
    writer_tick(small, 300);
    chunkset *X = delta_of(small, S->version);
    check_delta_chunks(__LINE__, "X", X, S->version, capture(small).version, 4096, NULL);
    CHECK(X->n >= 3, "a delta of %zu chunks", X->n);
    podsync_store *r = new_replica();
    uint8_t *f = copy_frame(S, 0);
    put_u64(f + 32, get_u64(f + 32) ^ 1);
    refresh_checksum(f, S->size[0]);
    uint64_t v = 0;
    EXPECT_ST("the only chunk with a forged digest", podsync_store_apply(r, f, S->size[0], &v), PODSYNC_E_DIGEST_MISMATCH);
    free(f);
    CHECK(capture(r).diverged == 1, "not diverged");
    APPLY_CHUNK("X0 on the diverged replica", r, X, 0, PODSYNC_E_DIVERGED, KEEP_ALL);
    APPLY_CHUNK("X1", r, X, 1, PODSYNC_E_DIVERGED, KEEP_ALL);
    APPLY_CHUNK("X's LAST", r, X, X->n - 1, PODSYNC_E_DIVERGED, KEEP_ALL);
    STAGING_IS("nothing staged", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    APPLY_CHUNK("the true snapshot heals it", r, S, 0, PODSYNC_OK, 0);
    APPLY_ALL(r, X);
    SAME_RECORDS("healed, then X", r, small);

    /* another stream: a writer with the same schema and another stream id */
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.flags = PODSYNC_OPT_FRAME_DIGEST;
    o.stream_id = STREAM + 7;
    o.max_frame_bytes = 4096;
    podsync_store *w2 = NULL;
    if (podsync_store_create(g_schema, PODSYNC_ROLE_WRITER, &o, &w2) != PODSYNC_OK) die("store_create");
    writer_tick(w2, 40);
    uint64_t since = capture(w2).version;
    writer_tick(w2, 300);
    chunkset *W = delta_of(w2, since);
    CHECK(W->n >= 2 && (W->info[0].flags & PODSYNC_FRAME_CHUNK) && W->info[0].stream_id == STREAM + 7,
          "another stream's delta: %zu frames", W->n);
    APPLY_CHUNK("chunk 0 of another stream's delta", r, W, 0, PODSYNC_E_STREAM_MISMATCH, KEEP_ALL);
    APPLY_CHUNK("its LAST", r, W, W->n - 1, PODSYNC_E_STREAM_MISMATCH, KEEP_ALL);
    STAGING_IS("nothing staged", r, PODSYNC_NOT_FOUND, 0, 0, 0, 0, 0);
    podsync_store_free(r);
    podsync_store_free(small);
    podsync_store_free(w2);
    free_chunks(S);
    free_chunks(X);
    free_chunks(W);
    end_case(NULL);
}

int main(void) {
    g_schema = make_schema(0);
    g_other_schema = make_schema(1);
    g_w = new_store(PODSYNC_ROLE_WRITER, 0, 0, NULL);
    writer_tick(g_w, 3000);
    writer_tick(g_w, 500);

    case_interleaved();
    case_last_alone();
    case_older();
    case_overlap();
    case_forged();
    case_bits();
    case_truncated();
    case_features();
    case_wrong_receivers();
    case_resume_positions();
    case_null_arguments();
    case_outlives_store();
    case_duplicate_key();
    case_two_cuts();
    case_chunk_sizes();

    dset d = make_dset();
    case_delta_chunks(&d);
    case_delta_and_snapshot(&d);
    case_delta_base(&d);
    case_delta_lost_chunk(&d);
    case_delta_forged(&d);
    free_dset(&d);
    case_delta_diverged();

    podsync_store_free(g_w);
    podsync_schema_free(g_schema);
    podsync_schema_free(g_other_schema);
    printf("%llu passed, %llu failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
