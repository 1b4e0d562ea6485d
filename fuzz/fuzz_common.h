/*
 * fuzz_common.h — what the fuzz targets and the corpus generator share: the test schemas, a
 * deterministic PRNG and record generator, store snapshots for "nothing changed" checks, an
 * independent state digest (docs/FORMAT.md, with libxxhash), the dictionary every dictionary
 * target trains, and the violation report (FZ_REQUIRE prints and abort()s, which libFuzzer
 * reports as a crash and keeps the input).
 *
 * Links against the library and -lxxhash -lzstd. No libFuzzer symbol is used here (fuzz_mutate.c
 * holds the mutator), so make_corpus.c links this file too.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "podsync.h"

/* ------------------------------------------------------------------------------------------ */
/* Violations                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Prints "VIOLATION at file:line: message" and abort()s. */
void fz_violation(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define FZ_REQUIRE(cond, ...)                                        \
    do {                                                             \
        if (!(cond)) fz_violation(__FILE__, __LINE__, __VA_ARGS__);  \
    } while (0)

/* PODSYNC_FUZZ_TRACE=1 in the environment: fz_apply_checked prints every apply (frame header,
   status, message) to stderr, to read what a kept input does. */
int fz_trace(void);

/* A setup call that must succeed (not something the input controls). */
#define FZ_OK(call)                                                                        \
    do {                                                                                   \
        int32_t fz_st_ = (call);                                                           \
        FZ_REQUIRE(fz_st_ >= 0, "%s returned %s", #call, podsync_status_name(fz_st_));     \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Bytes and PRNG                                                                             */
/* ------------------------------------------------------------------------------------------ */

uint64_t fz_rd64(const uint8_t *p);
uint32_t fz_rd32(const uint8_t *p);
uint16_t fz_rd16(const uint8_t *p);
void fz_wr64(uint8_t *p, uint64_t v);
void fz_wr32(uint8_t *p, uint32_t v);

/* splitmix64 */
uint64_t fz_next(uint64_t *state);
uint64_t fz_below(uint64_t *state, uint64_t n);

/* Header offsets of format version 1 (docs/FORMAT.md). */
enum {
    FZ_OFF_HEADER_LENGTH = 6,
    FZ_OFF_CHECKSUM = 8,
    FZ_OFF_FRAME_LENGTH = 16,
    FZ_OFF_FLAGS = 24,
    FZ_OFF_SECTION_COUNT = 28,
    FZ_OFF_CODEC = 30,
    FZ_OFF_TRANSFORMS = 31,
    FZ_OFF_SCHEMA_HASH = 32,
    FZ_OFF_STREAM_ID = 40,
    FZ_OFF_SEQUENCE = 48,
    FZ_OFF_BASE_VERSION = 56,
    FZ_OFF_STATE_VERSION = 64,
    FZ_OFF_STATE_DIGEST = 72,
    FZ_OFF_PAYLOAD_LENGTH = 80,
};

/* Format version 2 (docs/FORMAT.md, "Format version 2"): the prefix, then minimal LEB128 core
   fields from offset 32 (40 with HAS_DIGEST), then extension records up to header_length. */
enum {
    FZ_V2_OFF_UNITS = 5,      /* header_length = 8 * this byte */
    FZ_V2_OFF_FLAGS = 6,      /* u16 */
    FZ_V2_OFF_SCHEMA_HASH = 16,
    FZ_V2_OFF_STREAM_ID = 24,
    FZ_V2_OFF_STATE_DIGEST = 32,
};
#define FZ_V2_TAG_CHUNK 1u
#define FZ_V2_TAG_REFRESH_SLICE 3u

/* 1 if the bytes start like a format-2 frame (magic, byte 4 == 2). */
int fz_is_v2(const uint8_t *frame, size_t size);

/* A format-2 header as the mutator and the corpus generator read and rewrite it: the core fields
   and the span of the extension records (copied as they are). fz_v2_parse returns 0 when the
   bytes hold a header of this shape (without checking what the library checks), -1 otherwise;
   fz_v2_write re-encodes it into frame[0, header_length) (same header_length; the checksum is left
   as it is) and returns -1 when it does not fit. */
typedef struct fz_v2_header {
    size_t header_length;
    uint16_t flags;
    uint64_t frame_length, term, sequence, base_version, version_delta, section_count;
    uint8_t codec;
    uint64_t transforms;
    int has_payload_length;
    uint64_t payload_length;
    size_t ext_at, ext_len; /* the extension records: bytes [ext_at, ext_at + ext_len) */
} fz_v2_header;
int fz_v2_parse(const uint8_t *frame, size_t size, fz_v2_header *h);
int fz_v2_write(uint8_t *frame, size_t size, const fz_v2_header *h, const uint8_t *ext);

/* Reconciliation (docs/FORMAT.md, "Repair frames", "REPAIR (tag 7)", "SUMMARY (tag 13)" and
   "Payload"): the flags (bytes 6..7 of a format-2 frame; podsync_frame_info.flags passes them on),
   the records, and the bucket block that starts the payload of both kinds. */
#define FZ_V2_FLAG_REPAIR 0x8u
#define FZ_V2_FLAG_SUMMARY 0x10u
#define FZ_V2_TAG_REPAIR 7u
#define FZ_V2_TAG_SUMMARY 13u
enum { FZ_SUMMARY_HASHES = 0, FZ_SUMMARY_REQUEST = 1, FZ_SUMMARY_RESPONDER_HASHES = 2 };

typedef struct fz_recon {
    uint16_t flags;            /* the header's */
    int has_repair, has_summary; /* which records the extension area holds (with their layout) */
    uint8_t fanout_bits, level;
    uint8_t mode;              /* SUMMARY */
    uint64_t summary_id, in_reply_to; /* SUMMARY */
    uint64_t expected_digest;  /* REPAIR */
    uint64_t run_count, block_length;
    size_t block_at;           /* header_length: where the bucket block starts */
    size_t summary_at;         /* SUMMARY: the offset of the record's value (fanout_bits) */
} fz_recon;
/* Reads the REPAIR and SUMMARY records of a format-2 header. Returns 0 when the header parses
   (fz_v2_parse) and at least one of them is there with the layout of its table, else -1. */
int fz_recon_parse(const uint8_t *frame, size_t size, fz_recon *r);
/* The buckets the bucket block names, ascending, into *out (malloc'ed; free it): 0, or -1 when the
   block breaks a rule of step V18 (runs, bounds, padding; fanout_bits 1..16, f*l <= 32) or names
   more than `max` buckets (then *out is NULL). */
int fz_recon_buckets(const uint8_t *frame, size_t size, const fz_recon *r, uint32_t **out, size_t *count, size_t max);
/* The bucket of key k of table t at a level of `bits` bits (seed(t, k) >> (64 - bits); 0 at 0). */
uint32_t fz_bucket(uint32_t table_id, uint64_t key, unsigned bits);
/* 1 if `bucket` is among the `count` ascending buckets. */
int fz_bucket_listed(const uint32_t *buckets, size_t count, uint32_t bucket);
/* A key of a table, ordered by table id, then key (for qsort and bsearch). */
typedef struct fz_tkey {
    uint32_t table;
    uint64_t key;
} fz_tkey;
int fz_tkey_cmp(const void *a, const void *b);

/* LEB128 (unsigned): reads at *pos below end (-1 if it does not end there or passes 64 bits). */
int fz_leb_read(const uint8_t *p, size_t *pos, size_t end, uint64_t *value);
size_t fz_leb_write(uint8_t *p, uint64_t value);
size_t fz_leb_size(uint64_t value);

/* Recomputes the checksum when the frame's length field lies within [16, size]: format 1 XXH3-64
   of [16, frame_length) into offset 8; format 2 the same seeded with bytes [0, 8). Returns 1 if
   it wrote one. */
int fz_fix_checksum(uint8_t *frame, size_t size);

/* ------------------------------------------------------------------------------------------ */
/* Schemas                                                                                    */
/* ------------------------------------------------------------------------------------------ */

#define FZ_SCHEMAS 4
#define FZ_MAX_TABLES 3     /* of the test schemas */
#define FZ_STATE_TABLES 16  /* tables whose counts fz_state keeps one by one */
#define FZ_MAX_RECORD 256

typedef struct fz_table {
    uint32_t id;
    uint32_t record_size;
    uint32_t alignment;
} fz_table;

typedef struct fz_schema_desc {
    const char *name;
    size_t table_count;
    const fz_table *tables; /* ascending id */
} fz_schema_desc;

/* The four test schemas: 0 "entities" (40 B and 16 B/align 16), 1 "small" (1 B, 8 B opaque,
   24 B), 2 "wide" (64 B/align 64, 12 B/align 4), 3 "odd" (3 B at table id 0, 200 B opaque at
   table id 0xFFFFFFFF). */
const fz_schema_desc *fz_schema_desc_get(unsigned index);
/* A new schema handle (the caller frees it). */
podsync_schema *fz_schema_new(unsigned index);
/* The schema's hash, computed once. */
uint64_t fz_schema_hash(unsigned index);
/* The index of the schema with this hash, or -1. */
int fz_schema_by_hash(uint64_t hash);

/* A canonical schema encoding (docs/FORMAT.md) parsed independently of the library. */
typedef struct fz_parsed_schema {
    fz_schema_desc desc;
    fz_table *tables;
    uint32_t *field_counts;  /* per table */
    podsync_field **fields;  /* per table; names NUL-terminated, in `names` */
    char *names;
} fz_parsed_schema;

/* Parses a canonical encoding: 0 with *out filled (free it with fz_parsed_schema_free), or -1 with
   *why naming the first rule the bytes break (the rules podsync_schema_decode must enforce). */
int fz_parse_schema(const uint8_t *p, size_t size, fz_parsed_schema *out, const char **why);
void fz_parsed_schema_free(fz_parsed_schema *s);

/* Fills `out` (record_size bytes) with a record of one of four kinds: 0 an id-like record (the
   key, the rest zero), 1 `prev` (may be NULL) with one or two bytes changed, 2 pseudo-random noise,
   3 slowly varying floats-like bytes. The kinds give the codec zero, sparse, XOR-able and raw
   columns to choose from. */
void fz_make_record(uint8_t *out, uint32_t record_size, uint64_t key, const uint8_t *prev,
                    unsigned kind, uint64_t *rng);

/* ------------------------------------------------------------------------------------------ */
/* Stores                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Options with manual clock, no batch limits, a fixed stream id, compression level and transforms
   as given (options struct of the header's version). */
podsync_store_options fz_options(int32_t level, uint32_t transforms, uint64_t max_frame_bytes);
/* Puts `count` records of `kind` (fz_make_record) under first_key, first_key + stride, ... into
   table t of writer w; with from_current, each record is made from the one the key holds now. */
void fz_put_records(podsync_store *w, const fz_table *t, uint64_t first_key, uint64_t stride, size_t count,
                    unsigned kind, uint64_t *rng, int from_current);

/* h(t, k, r) of docs/FORMAT.md. */
uint64_t fz_record_digest(uint32_t table_id, uint64_t key, const void *record, size_t size);
/* The puts and deletes of the first `count` sections of a plain frame (codec 0, transforms 0), read
   with podsync_frame_section_get from an 8-byte aligned copy when the frame is not aligned. */
uint64_t fz_plain_changes(const uint8_t *frame, size_t size, size_t count);
/* seed(t, k) of docs/FORMAT.md: the hash that orders the keys of chunks and refresh slices. */
uint64_t fz_seed(uint32_t table_id, uint64_t key);
/* (table, seed) positions, compared table first. */
int fz_pos_less(uint32_t ta, uint64_t ka, uint32_t tb, uint64_t kb);

/* The state digest recomputed from the store's tables (independently of the library's incremental
   digest); FZ_REQUIRE-checks every table's index on the way: each key's podsync_store_get returns
   its slot in podsync_store_table. */
uint64_t fz_recompute_digest(const podsync_store *store, const fz_schema_desc *schema);

/* What must not change when an apply is rejected (the visible state), the staging of a chunked
   snapshot (podsync_store_staging: the staged snapshot's next chunk, or chunk 0 of the snapshot a
   replica waits for), and the counters apply keeps. */
typedef struct fz_state {
    uint64_t digest;       /* podsync_store_digest */
    uint64_t recomputed;   /* fz_recompute_digest */
    uint64_t version, stream, sequence;
    uint32_t diverged;
    uint32_t refreshing;   /* store info v2 (one-way replicas) */
    uint64_t term;         /* store info v3: the term the replica follows */
    size_t total;                    /* records in all tables */
    size_t counts[FZ_STATE_TABLES];  /* of the first tables */
    int staged;                      /* podsync_store_staging returned OK (else NOT_FOUND) */
    podsync_chunk_position staging;
    podsync_metrics metrics;
} fz_state;

fz_state fz_capture(const podsync_store *store, const fz_schema_desc *schema);
/* FZ_REQUIRE-fails naming the field of the visible state that differs. */
void fz_require_same(const fz_state *before, const fz_state *after, const char *what);
/* FZ_REQUIRE-fails if the staging positions differ. */
void fz_require_same_staging(const fz_state *before, const fz_state *after, const char *what);
/* 1 if a and b hold the same staging position (or both none). */
int fz_same_staging(const fz_state *a, const fz_state *b);

/* Applies one frame to a replica and checks the outcome against the header's and docs/FORMAT.md's
   rules: a rejection or DUPLICATE/GAP/STALE leaves the state as it was; OK reaches the frame's
   version (and digest, with HAS_DIGEST); DIGEST_MISMATCH reaches the version and marks the replica
   diverged; the library's digest always equals the recomputed one. Chunks ("Chunked snapshots and
   deltas", rules 1-5): CHUNK_STAGED, CHUNK_GAP, DUPLICATE and STALE leave the visible state as it
   was and move the staging as the rules say; the last chunk switches (OK or DIGEST_MISMATCH: the
   snapshot's version, digest and record count; a chunked delta's version and digest, or GAP when
   its base is ahead); CHUNK_MISMATCH drops the staging; other errors change nothing, staging
   included. Frames that are not chunks never touch the staging. Repair frames (format 2, flag
   REPAIR; "Repair frames") apply whatever the replica's version, stream or diverged mark: OK
   reaches the frame's version, stream (unless 0), term and digest, not diverged nor refreshing,
   and only when expected_digest is the replica's digest; DIGEST_MISMATCH the same, marked
   diverged; REPAIR_STALE (expected_digest not the replica's) and other errors change nothing;
   records_applied grows by the puts and deletes plus the keys of the repaired buckets the frame
   does not put (worked out from the replica's keys before the apply); never DUPLICATE, GAP or
   STALE. The counters of podsync_store_metrics move with the status. The frame need not be
   valid. The replica must not fill in place (PODSYNC_OPT_FILL_IN_PLACE). Returns the status. */
int32_t fz_apply_checked(podsync_store *replica, const fz_schema_desc *schema, const uint8_t *frame, size_t size);
/* The same for a replica created with `flags` (PODSYNC_OPT_ONE_WAY: REFRESHING and the return to
   sync by digest ("Rolling refresh") are then expected where another replica answers GAP). */
int32_t fz_apply_checked_ex(podsync_store *replica, const fz_schema_desc *schema, const uint8_t *frame, size_t size,
                            uint32_t flags);

/* ------------------------------------------------------------------------------------------ */
/* The shared dictionary                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Trains the dictionary the dictionary targets and the corpus share, deterministically: a writer of
   schema 0 at level 3 produces 48 flushes of generated records, then trains a 4 KiB dictionary.
   Returns malloc'ed bytes (kept by the caller) and the id. */
uint8_t *fz_shared_dictionary(size_t *size_out, uint32_t *id_out);

/* ------------------------------------------------------------------------------------------ */
/* Containers: the input of the apply targets                                                 */
/* ------------------------------------------------------------------------------------------ */

/* A configuration byte, then up to FZ_MAX_FRAMES records, each a u32 little-endian length and that
   many bytes (a length past the end takes what is left). Bytes after the last record are ignored. */
#define FZ_MAX_FRAMES 16

/* Bits of the configuration byte. */
#define FZ_CFG_SCHEMA_MASK 0x03u   /* the replica's schema */
#define FZ_CFG_TIGHT       0x04u   /* small max_decoded_bytes (and max_records, library 0.4.0) */
#define FZ_CFG_MISALIGN    0x38u   /* frames copied 0..7 bytes past an 8-byte boundary */
#define FZ_CFG_SERVE       0x40u   /* finally: the replica serves a snapshot and a delta, checked */
#define FZ_CFG_OWN_SCHEMA  0x80u   /* the first record is a schema encoding: the replica's schema */

typedef struct fz_container {
    uint8_t cfg;
    size_t count;
    const uint8_t *frame[FZ_MAX_FRAMES];
    size_t size[FZ_MAX_FRAMES];
} fz_container;

/* Splits data into *c (pointers into data). Returns the number of frames. */
size_t fz_container_parse(const uint8_t *data, size_t size, fz_container *c);
/* Writes a container of these frames into out (capacity bytes); returns its size, or 0 if it does
   not fit. */
size_t fz_container_write(uint8_t *out, size_t capacity, uint8_t cfg, const uint8_t *const *frames,
                          const size_t *sizes, size_t count);

/* podsync_frame_validate_limited when the library exports it (library 0.4.0), else NULL. */
typedef int32_t (*fz_validate_limited_fn)(const void *, size_t, uint64_t, podsync_frame_info *);
fz_validate_limited_fn fz_validate_limited(void);

#endif /* FUZZ_COMMON_H */
