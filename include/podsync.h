/*
 * podsync.h — the PodSync C contract (C99; only <stdint.h> and <stddef.h>).
 *
 * PodSync replicates tables of fixed-size POD records, keyed by 64-bit ids, from one writer to many
 * replicas through self-describing binary frames. If a function does not appear in this file it is
 * not a published API. The byte format of frames is specified in docs/FORMAT.md; the stability
 * policy in docs/ABI.md.
 *
 * Conventions
 *   - Every function returning int32_t returns a status: 0 (PODSYNC_OK) on success, a positive
 *     PODSYNC_* value for an informational outcome, a negative PODSYNC_E_* value for an error.
 *     Status values are pinned forever. podsync_status_name() names each one.
 *   - A call that returns an error leaves the handle's state exactly as it was, and records a
 *     message readable through the handle's *_errmsg() function.
 *   - Sizes are size_t; everything else is fixed-width. Every pointer argument is validated: NULL
 *     where a value is required yields PODSYNC_E_INVALID_ARGUMENT, never a crash.
 *   - Options and info structs begin with a `version` field that the caller sets (use the *_INIT
 *     macros or *_init() functions); fields are only ever appended.
 *   - Constructors return the handle through an out-parameter; *_free() functions accept NULL.
 *   - Every pointer the library returns is borrowed: owned by the library, valid until the event
 *     named in that function's documentation, never freed by the caller.
 *
 * Threading
 *   There is no global mutable state. A handle may be used by one thread at a time (callers that
 *   share one handle across threads must serialize the calls themselves); distinct handles are fully
 *   independent and may be used concurrently. The functions that take no handle are thread-safe.
 *
 * Since: every declaration below is available since ABI version 1 (library 0.1.0), except those
 * marked "since library 0.2.0": compression (PODSYNC_CODEC_ZSTD, PODSYNC_TRANSFORM_*, the options
 * fields of struct version 2, the frame info fields of struct version 2), PODSYNC_E_FRAME_TOO_LARGE
 * and podsync_store_metrics; and those marked "since library 0.3.0": PODSYNC_TRANSFORM_COLUMNS,
 * compression dictionaries (PODSYNC_E_DICTIONARY_MISSING, podsync_store_collect_samples,
 * podsync_store_train_dictionary, podsync_store_load_dictionary, podsync_store_dictionary,
 * podsync_frame_info.dictionary_id) and the metrics fields of struct version 2; and those marked
 * "since library 0.4.0": limits (PODSYNC_E_LIMIT, the options fields of struct version 3),
 * podsync_frame_validate_limited, podsync_last_errmsg and podsync_metrics_prometheus; and those marked
 * "since library 0.5.0": frame format 2 (read always, written for chunks and on request), chunked
 * snapshots (podsync_snapshot_*, podsync_store_staging, PODSYNC_CHUNK_GAP, PODSYNC_CHUNK_STAGED,
 * PODSYNC_DONE, PODSYNC_E_SNAPSHOT_EXPIRED, PODSYNC_E_FRAME_FEATURE, PODSYNC_E_CHUNK_MISMATCH, the
 * options fields of struct version 4, PODSYNC_OPT_FILL_IN_PLACE, the frame info fields of struct
 * version 3, the metrics fields of struct version 3) and the rolling refresh
 * (refresh_flushes, refresh_ms, PODSYNC_OPT_ONE_WAY, PODSYNC_REFRESHING, the store info fields of
 * struct version 2, podsync_frame_info's slice fields, PODSYNC_FRAME_SLICE); and those marked
 * "since library 0.6.0" or "since 0.6.0": durability and failover (podsync_store_open,
 * podsync_durability_options, podsync_open_info, podsync_store_checkpoint, podsync_checkpoint_*,
 * podsync_store_sync, podsync_store_promote, PODSYNC_LOG_*, PODSYNC_OPENED_*), terms
 * (PODSYNC_E_TERM_FENCED, PODSYNC_E_HISTORY_DIVERGED, the TERM_HISTORY record), PODSYNC_E_IO,
 * PODSYNC_E_FILE_CORRUPT and the store info fields of struct version 3; and those marked "since
 * library 0.7.0": change events (podsync_store_track_changes, podsync_store_changes,
 * PODSYNC_CHANGES_*) and reconciliation (podsync_store_summary, podsync_store_reconcile,
 * PODSYNC_E_REPAIR_STALE, repair frames); and those marked "since library 0.8.0": subscriptions
 * (podsync_subscription, podsync_subscription_encode, podsync_store_subscribe,
 * podsync_store_feed, podsync_store_subscription, PODSYNC_E_NOT_SUBSCRIBED, the SUBSCRIPTION
 * record); and those marked "since 0.9.0": PODSYNC_TRANSFORM_FIELDS and PODSYNC_TRANSFORM_KEY_RANKS
 * (PODSYNC_TRANSFORM_ALL, every transform this header knows, grew from 0xF to 0x3F). Those were added, so ABI version 1 hosts
 * keep working.
 */
#ifndef PODSYNC_H
#define PODSYNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PODSYNC_API __attribute__((visibility("default")))
#else
#define PODSYNC_API
#endif

/* ------------------------------------------------------------------------------------------ */
/* Versions                                                                                   */
/* ------------------------------------------------------------------------------------------ */

#define PODSYNC_VERSION_MAJOR 0
#define PODSYNC_VERSION_MINOR 9
#define PODSYNC_VERSION_PATCH 0
#define PODSYNC_VERSION_NUMBER \
    (PODSYNC_VERSION_MAJOR * 10000 + PODSYNC_VERSION_MINOR * 100 + PODSYNC_VERSION_PATCH)
/* Bumped whenever a declaration in this file changes incompatibly (until 1.0). */
#define PODSYNC_ABI_VERSION 1
/* The newest frame format this library writes and reads (docs/FORMAT.md). The library reads
   formats 1 and 2. Since library 0.8.0 it writes format 2 (the compact header) unless
   podsync_store_options.frame_format asks for format 1, which it then writes for every frame that
   needs no format-2 feature (chunks, refresh slices, terms, repairs, subscriptions do). */
#define PODSYNC_FORMAT_VERSION 2

/* The library's version as MAJOR*10000 + MINOR*100 + PATCH. */
PODSYNC_API uint32_t podsync_version_number(void);
/* The ABI version the library implements; a host compares it with PODSYNC_ABI_VERSION. */
PODSYNC_API uint32_t podsync_abi_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Status codes (values pinned)                                                               */
/* ------------------------------------------------------------------------------------------ */

#define PODSYNC_OK                     0
/* informational */
#define PODSYNC_FLUSH_DUE              1  /* write done; the flush policy says flush now          */
#define PODSYNC_NOT_FOUND              2  /* get/delete: no record under that key                 */
#define PODSYNC_DUPLICATE              3  /* apply: the replica already has these changes; no-op  */
#define PODSYNC_GAP                    4  /* apply: frame's base is ahead of the replica; nothing
                                             changed; ask the writer for a delta since the
                                             replica's version                                    */
#define PODSYNC_STALE                  5  /* apply: snapshot older than the replica; ignored      */
#define PODSYNC_SNAPSHOT_REQUIRED      6  /* delta_since: that version is older than what the
                                             store still covers; send a snapshot instead         */
#define PODSYNC_CHUNK_GAP              7  /* apply: a chunk ahead of the one the replica expects
                                             (or of a snapshot it has not started); nothing
                                             changed; podsync_store_staging() names the chunk to
                                             resume from (since library 0.5.0)                   */
#define PODSYNC_CHUNK_STAGED           8  /* apply: a chunk was staged; the visible state stays
                                             as it was until the last chunk (since 0.5.0)        */
#define PODSYNC_REFRESHING             9  /* apply, PODSYNC_OPT_ONE_WAY: the replica is out of
                                             sync and took what the frame holds of newer
                                             versions; it is in sync again (PODSYNC_OK) once its
                                             digest equals a frame's (since library 0.5.0)        */
#define PODSYNC_DONE                  10  /* snapshot_next: every chunk was produced (since
                                             library 0.5.0)                                      */
/* errors */
#define PODSYNC_E_INVALID_ARGUMENT    -1  /* NULL pointer, bad value, wrong struct version        */
#define PODSYNC_E_UNKNOWN_TABLE       -2  /* no table with that id in the schema                  */
#define PODSYNC_E_RECORD_SIZE         -3  /* record size differs from the table's                 */
#define PODSYNC_E_BUFFER_TOO_SMALL    -4  /* output buffer too small; the needed size is reported */
#define PODSYNC_E_NO_MEMORY           -5  /* allocation failed, or a table would pass its 2^30
                                             records; nothing changed (host-set limits:
                                             PODSYNC_E_LIMIT)                                     */
#define PODSYNC_E_WRONG_ROLE          -6  /* writer-only call on a replica, or the reverse        */
#define PODSYNC_E_SCHEMA_INVALID      -7  /* table or field definition rejected                   */
#define PODSYNC_E_FRAME_TRUNCATED    -10  /* buffer shorter than the frame says it is             */
#define PODSYNC_E_FRAME_MAGIC        -11  /* not a PodSync frame                                  */
#define PODSYNC_E_FRAME_VERSION      -12  /* frame format version not supported                   */
#define PODSYNC_E_FRAME_CHECKSUM     -13  /* XXH3-64 checksum does not match                      */
#define PODSYNC_E_FRAME_MALFORMED    -14  /* a length, count, offset or flag is inconsistent      */
#define PODSYNC_E_SCHEMA_MISMATCH    -15  /* frame written for another schema                     */
#define PODSYNC_E_STREAM_MISMATCH    -16  /* delta from another writer stream; needs a snapshot   */
#define PODSYNC_E_UNSUPPORTED_CODEC  -17  /* frame uses a codec this library does not implement   */
#define PODSYNC_E_DIGEST_MISMATCH    -18  /* frame applied, but the replica's state digest differs
                                             from the writer's: the replica is now marked diverged
                                             and needs a snapshot                                 */
#define PODSYNC_E_DIVERGED           -19  /* replica is diverged: it accepts only a snapshot and
                                             serves no frames until one heals it; also what a
                                             PODSYNC_OPT_ONE_WAY replica out of sync answers to
                                             delta_since and snapshots                            */
#define PODSYNC_E_VERSION_AHEAD      -20  /* delta_since a version the store has not reached      */
#define PODSYNC_E_FRAME_TOO_LARGE    -21  /* frame's decoded size exceeds max_decoded_bytes
                                             (since library 0.2.0)                                */
#define PODSYNC_E_DICTIONARY_MISSING -22  /* frame is compressed with a zstd dictionary this store
                                             has not loaded; nothing changed. Load it
                                             (podsync_store_load_dictionary) and apply again
                                             (since library 0.3.0)                                */
#define PODSYNC_E_LIMIT             -23  /* a limit the host set (podsync_store_options.max_records)
                                             would be exceeded; nothing changed (since library
                                             0.4.0)                                               */
#define PODSYNC_E_SNAPSHOT_EXPIRED  -24  /* snapshot_resume: this store no longer holds the state
                                             of that snapshot; start a new one (since 0.5.0)     */
#define PODSYNC_E_TERM_FENCED      -25  /* apply: a frame of an older term than the one the
                                           replica follows (an old writer that came back);
                                           nothing changed (since 0.6.0) */
#define PODSYNC_E_HISTORY_DIVERGED -26  /* apply: the replica applied versions of an older term
                                           past the point where the frame's term took over (or
                                           cannot tell); nothing changed: it needs a snapshot
                                           (since 0.6.0) */
#define PODSYNC_E_NOT_SUBSCRIBED   -27  /* apply, reconcile: the frame or message is for another
                                           subset of the stream than this store holds (another
                                           subscription, the whole stream, or a subscription
                                           this store lacks); nothing changed (since 0.8.0)    */
#define PODSYNC_E_FRAME_FEATURE     -28  /* the frame uses a critical flag or extension record
                                             this library does not implement; upgrade it (since
                                             library 0.5.0)                                      */
#define PODSYNC_E_CHUNK_MISMATCH    -29  /* apply: a chunk contradicts the chunks staged before
                                             it (overlapping or missing keys, a forged count); the
                                             staging was dropped, the visible state is unchanged
                                             (since library 0.5.0)                               */
#define PODSYNC_E_REPAIR_STALE     -30  /* apply: a repair frame computed for another state than
                                           the replica's (its digest moved since its summary);
                                           nothing changed: send a new summary. reconcile: the
                                           comparison began at a version this store can no longer
                                           describe: start again (since library 0.7.0)          */
#define PODSYNC_E_IO               -31  /* a file operation failed (disk full, read-only,
                                           missing, locked by another store); the message names
                                           the file and the system error (since 0.6.0) */
#define PODSYNC_E_FILE_CORRUPT     -32  /* a checkpoint or log file fails its checksum or its
                                           structure, or belongs to another stream or schema
                                           (since 0.6.0) */
/* -60 .. -79 are reserved for carriers (include/podsync_nats.h: PODSYNC_NATS_E_*) */
#define PODSYNC_E_INTERNAL           -99  /* a bug in PodSync; please report it                   */

/* The status's name, e.g. "PODSYNC_E_FRAME_CHECKSUM"; "PODSYNC_UNKNOWN_STATUS" for other values.
   The string is static. */
PODSYNC_API const char *podsync_status_name(int32_t status);

/* The message of the last error any PodSync function returned on the calling thread ("" if none
   yet). It is how the functions that have no handle to keep a message report one
   (podsync_schema_create, podsync_schema_decode, podsync_store_options_init, podsync_store_create,
   podsync_frame_*, and calls given a NULL handle); functions with a handle record it there too.
   A successful call does not clear it. The string is owned by the library (per thread, at most
   1023 bytes) and valid until the next PodSync call on this thread. (since library 0.4.0) */
PODSYNC_API const char *podsync_last_errmsg(void);

/* ------------------------------------------------------------------------------------------ */
/* Schema                                                                                     */
/* ------------------------------------------------------------------------------------------ */

typedef struct podsync_schema podsync_schema;

#define PODSYNC_MAX_TABLES        1024
#define PODSYNC_MAX_FIELDS        1024      /* per table */
#define PODSYNC_MAX_FIELD_NAME    255       /* bytes, without the terminating NUL */
#define PODSYNC_MAX_RECORD_SIZE   1048576   /* 1 MiB */
#define PODSYNC_MAX_ALIGNMENT     64

/* Field element types. */
#define PODSYNC_TYPE_U8     1
#define PODSYNC_TYPE_U16    2
#define PODSYNC_TYPE_U32    3
#define PODSYNC_TYPE_U64    4
#define PODSYNC_TYPE_I8     5
#define PODSYNC_TYPE_I16    6
#define PODSYNC_TYPE_I32    7
#define PODSYNC_TYPE_I64    8
#define PODSYNC_TYPE_F32    9
#define PODSYNC_TYPE_F64   10
#define PODSYNC_TYPE_BYTES 11   /* opaque bytes; count is the length in bytes */

/* One field of a record: `count` elements of `type` starting at byte `offset`. Fields describe the
   record for documentation, the schema hash and encoders; they must not overlap and must lie inside
   the record. The name is copied. */
typedef struct podsync_field {
    const char *name;   /* NUL-terminated, 1..PODSYNC_MAX_FIELD_NAME bytes, unique in its table */
    uint32_t type;      /* PODSYNC_TYPE_* */
    uint32_t offset;    /* bytes from the start of the record */
    uint32_t count;     /* number of elements, >= 1 */
    uint32_t reserved;  /* must be 0 */
} podsync_field;

/* Creates an empty schema. On success *out receives a handle to free with podsync_schema_free(). */
PODSYNC_API int32_t podsync_schema_create(podsync_schema **out);
PODSYNC_API void podsync_schema_free(podsync_schema *schema);
/* The message of the last error on this schema ("" if none). Valid until the next call on it. */
PODSYNC_API const char *podsync_schema_errmsg(const podsync_schema *schema);

/* Adds a table. table_id: any value, unique in the schema. record_size: 1..PODSYNC_MAX_RECORD_SIZE
   and a multiple of alignment. alignment: a power of two, 1..PODSYNC_MAX_ALIGNMENT. fields may be
   NULL when field_count is 0 (an opaque record). Returns PODSYNC_E_SCHEMA_INVALID with a message
   naming the offending part; the schema is then unchanged. */
PODSYNC_API int32_t podsync_schema_add_table(podsync_schema *schema, uint32_t table_id,
                                             uint32_t record_size, uint32_t alignment,
                                             const podsync_field *fields, size_t field_count);

/* The schema hash: XXH3-64 of the schema's canonical encoding (docs/FORMAT.md). Every frame carries
   it; a replica rejects a frame of another schema. */
PODSYNC_API int32_t podsync_schema_hash(const podsync_schema *schema, uint64_t *hash_out);

/* Writes the canonical encoding into buffer (capacity bytes). *size_out receives the encoding's size
   in every case; if capacity is too small, returns PODSYNC_E_BUFFER_TOO_SMALL and writes nothing.
   buffer may be NULL when capacity is 0 (to query the size). */
PODSYNC_API int32_t podsync_schema_encode(const podsync_schema *schema, void *buffer,
                                          size_t capacity, size_t *size_out);

/* Builds a schema from a canonical encoding (e.g. received from the writer's process). *out
   receives a new schema on success, or NULL. Every byte is validated. */
PODSYNC_API int32_t podsync_schema_decode(const void *data, size_t size, podsync_schema **out);

/* ------------------------------------------------------------------------------------------ */
/* Stores: writers and replicas                                                               */
/* ------------------------------------------------------------------------------------------ */

/* A store holds the tables of a schema. A writer owns the state and produces frames; a replica
   applies frames. Both offer the same read API and both can serve catch-up deltas and snapshots
   to further replicas. */
typedef struct podsync_store podsync_store;

#define PODSYNC_ROLE_WRITER  1
#define PODSYNC_ROLE_REPLICA 2

/* podsync_store_options.flags */
#define PODSYNC_OPT_FRAME_DIGEST  0x1u  /* frames carry the writer's state digest (default on) */
#define PODSYNC_OPT_MANUAL_CLOCK  0x2u  /* time comes only from podsync_store_set_time()       */
#define PODSYNC_OPT_FILL_IN_PLACE 0x4u  /* replica: while it is empty and follows no stream, the
                                           chunks of a snapshot are applied to its tables as they
                                           arrive (readers see them fill; version 0 until the last
                                           chunk) instead of being staged beside the state: no
                                           double memory for a late joiner (since 0.5.0)         */
#define PODSYNC_OPT_ONE_WAY       0x8u  /* replica on a link that cannot ask back: where another
                                           replica would return PODSYNC_GAP (or is diverged) it
                                           goes out of sync (info.refreshing) and takes the
                                           absolute content of the frames it gets, each key only
                                           when the frame is newer than what it holds of that key
                                           (PODSYNC_REFRESHING); it is in sync again (PODSYNC_OK)
                                           when its digest equals a frame's, so the writer must
                                           send digests (PODSYNC_OPT_FRAME_DIGEST) and a rolling
                                           refresh (refresh_flushes). Out of sync it serves no
                                           deltas or snapshots (PODSYNC_E_DIVERGED). docs/FORMAT.md,
                                           "Rolling refresh", states the guarantee (since 0.5.0) */

#define PODSYNC_STORE_OPTIONS_VERSION 4

/* Transforms the encoder may apply before compressing (podsync_store_options.transforms) and that
   a frame records it used (podsync_frame_info.transforms); docs/FORMAT.md specifies them. */
#define PODSYNC_TRANSFORM_XOR       0x1u  /* records XOR-ed with the receiver's record at the base
                                             version (batch frames only)                          */
#define PODSYNC_TRANSFORM_TRANSPOSE 0x2u  /* records stored byte-transposed per section          */
#define PODSYNC_TRANSFORM_KEY_GAPS  0x4u  /* keys sorted, stored as LEB128 gaps                   */
#define PODSYNC_TRANSFORM_COLUMNS   0x8u  /* with TRANSPOSE: all-zero byte columns omitted, columns
                                             zstd cannot shrink sent uncompressed (since 0.3.0)   */
#define PODSYNC_TRANSFORM_FIELDS    0x10u /* integer fields sent as zigzag differences to the
                                             receiver's value where that is smaller (frame format
                                             2, batch frames only; since 0.9.0)                   */
#define PODSYNC_TRANSFORM_KEY_RANKS 0x20u /* keys the receiver holds named by their rank among its
                                             keys' seeds (with KEY_GAPS; frame format 2, deltas
                                             from v to v + 1 of the whole stream; since 0.9.0)    */
#define PODSYNC_TRANSFORM_ALL       0x3Fu /* 0xF before 0.9.0 */

typedef struct podsync_store_options {
    uint32_t version;            /* PODSYNC_STORE_OPTIONS_VERSION */
    uint32_t flags;              /* PODSYNC_OPT_*; default PODSYNC_OPT_FRAME_DIGEST */
    uint64_t stream_id;          /* writer: this stream's id; 0 picks a random one. Replica: unused */
    uint64_t max_batch_records;  /* flush due at this many pending changes; 0 = no limit (65536) */
    uint64_t max_batch_bytes;    /* flush due at this many pending bytes (records + 8 per key);
                                    0 = no limit (4 MiB) */
    uint64_t max_batch_age_ms;   /* flush due when the oldest pending change is this old;
                                    0 = no limit (50) */
    uint64_t max_frame_bytes;    /* a flush splits its changes into frames of at most this size
                                    (a frame always holds at least one change); 0 = no limit
                                    (64 MiB). A snapshot or catch-up delta larger than this is
                                    cut into chunks of at most this size (since 0.5.0). */
    uint64_t tombstone_horizon;  /* deletions are remembered for this many versions, so a delta
                                    since an older version needs a snapshot; 0 = forever (65536) */
    /* since options version 2 (library 0.2.0) */
    int32_t compression_level;   /* writer: 0 = frames are never compressed (the default); else the
                                    zstd level, ZSTD_minCLevel() .. ZSTD_maxCLevel() (-131072 .. 22
                                    with libzstd 1.5: 1 is fast, 19 and above are slow, negative
                                    levels are faster still). A frame is compressed only where that
                                    makes it at least 5% smaller; otherwise it is sent as an
                                    uncompressed frame. */
    uint32_t transforms;         /* writer: PODSYNC_TRANSFORM_* used before compressing
                                    (PODSYNC_TRANSFORM_ALL) */
    uint64_t max_decoded_bytes;  /* replica: largest decompressed payload and decoded sections (8
                                    bytes a key plus the records) of an encoded frame it accepts,
                                    checked before allocating (plain frames are read in place);
                                    0 = 1 GiB (1 GiB) */
    /* since options version 3 (library 0.4.0) */
    uint64_t max_records;        /* most live records the store holds, all tables together: a write
                                    or a frame that would exceed it returns PODSYNC_E_LIMIT and
                                    changes nothing. 0 = no limit but 2^30 per table (0). A replica
                                    fed from an untrusted source sets this and max_decoded_bytes */
    uint64_t max_tombstones;     /* most deletions a store remembers for catch-up deltas, all tables
                                    together; past it the oldest are forgotten and catchup_floor
                                    rises to their version. 0 = no limit (1048576) */
    /* since options version 4 (library 0.5.0) */
    uint32_t frame_format;       /* writer: the format of frames that need no format-2 feature:
                                    1 or 2 (0 = 2; before library 0.8.0, 0 = 1 and 1 was the
                                    default). Chunks and refresh slices are always format 2.
                                    Replicas of library 0.5.0 and later read both; set 1 for
                                    older ones (docs/ABI.md) */
    uint32_t refresh_flushes;    /* writer: rolling refresh. 0 = off (the default); R > 0: every
                                    flush also carries the next slice of the whole state, about
                                    records / R of them (at most half of max_frame_bytes), so the
                                    state is re-sent about every R flushes and a
                                    PODSYNC_OPT_ONE_WAY replica converges without asking back.
                                    Turns the XOR transform off (slices and changes travel as
                                    absolute values). Replicas ignore it */
    uint64_t refresh_ms;         /* writer with refresh_flushes: when no frame went out for this
                                    long, podsync_store_flush_due says PODSYNC_FLUSH_DUE and a
                                    flush of an empty batch sends a slice alone. 0 = only with
                                    flushes */
} podsync_store_options;

#define PODSYNC_STORE_OPTIONS_INIT \
    { PODSYNC_STORE_OPTIONS_VERSION, PODSYNC_OPT_FRAME_DIGEST, 0, 65536, 4194304, 50, 67108864, 65536, \
      0, PODSYNC_TRANSFORM_ALL, 1073741824, 0, 1048576, 2, 0, 0 }

/* Fills *options with the defaults of the given struct version (1 to 4; a version-1 struct has
   no compression fields and gets frames that are never compressed; a version-2 struct gets the
   defaults of the version-3 limits, an older struct format-1 frames; version 4 defaults to
   format 2 since library 0.8.0). */
PODSYNC_API int32_t podsync_store_options_init(podsync_store_options *options, uint32_t version);

/* Creates a store for `schema` (which is copied; it may be freed afterwards). role is
   PODSYNC_ROLE_WRITER or PODSYNC_ROLE_REPLICA; options may be NULL for the defaults. On success
   *out receives a handle to free with podsync_store_free(); on failure *out is NULL. */
PODSYNC_API int32_t podsync_store_create(const podsync_schema *schema, uint32_t role,
                                         const podsync_store_options *options,
                                         podsync_store **out);
PODSYNC_API void podsync_store_free(podsync_store *store);
/* The message of the last error on this store ("" if none). Valid until the next call on it. */
PODSYNC_API const char *podsync_store_errmsg(const podsync_store *store);

/* --- Writes (writer only). They return PODSYNC_OK, or PODSYNC_FLUSH_DUE when the batch has reached
   a limit of the flush policy. Writes are coalesced per key until the next flush: the last value
   wins, and a key created and deleted within one batch is not sent at all. */

/* Inserts or replaces one record. record_size must equal the table's record size. */
PODSYNC_API int32_t podsync_store_put(podsync_store *store, uint32_t table_id, uint64_t key,
                                      const void *record, size_t record_size);
/* Inserts or replaces `count` records: keys[i] gets the record at records + i*record_size.
   records_size must equal count * the table's record size. If the same key appears twice, the later
   record wins. Validated before any change: on error nothing was written. */
PODSYNC_API int32_t podsync_store_put_many(podsync_store *store, uint32_t table_id,
                                           const uint64_t *keys, const void *records,
                                           size_t count, size_t records_size);
/* Deletes one record; PODSYNC_NOT_FOUND (nothing changed) if there is none under key. */
PODSYNC_API int32_t podsync_store_delete(podsync_store *store, uint32_t table_id, uint64_t key);
/* Deletes the records under `count` keys; absent keys are skipped. *deleted_out (may be NULL)
   receives how many records were deleted. */
PODSYNC_API int32_t podsync_store_delete_many(podsync_store *store, uint32_t table_id,
                                              const uint64_t *keys, size_t count,
                                              size_t *deleted_out);

/* --- Flush policy (writer only). */

/* Sets the store's clock to now_ms (milliseconds on any monotonic scale). With
   PODSYNC_OPT_MANUAL_CLOCK this is the only time source; otherwise CLOCK_MONOTONIC is used and this
   call is not needed. */
PODSYNC_API int32_t podsync_store_set_time(podsync_store *store, uint64_t now_ms);
/* PODSYNC_FLUSH_DUE if the policy says the pending batch should be flushed now (limits reached or
   oldest change older than max_batch_age_ms), or, with a rolling refresh, when refresh_ms passed
   without a frame; else PODSYNC_OK. */
PODSYNC_API int32_t podsync_store_flush_due(podsync_store *store);

/* --- Producing frames. Each of these replaces the store's outbox with new frames (possibly none),
   readable with podsync_store_frame(); *frame_count_out (required) receives how many. A diverged
   replica refuses delta_since and snapshot with PODSYNC_E_DIVERGED. */

/* Writer only: turns the pending batch into frames. Each frame advances the writer's version by
   one. An empty batch produces no frame and leaves the version as it is, except with a rolling
   refresh (refresh_flushes and refresh_ms) once refresh_ms passed without a frame: then it produces
   one refresh-only frame (a slice of the state at the writer's version, which it does not
   advance).
   A durable store logs the frames before returning them (fsync with PODSYNC_LOG_EVERY_FRAME). If
   the log cannot be written (PODSYNC_E_IO), no frame is handed out, the version the flush reached
   stays in memory, and every call that produces frames (flush, delta_since, snapshot, snapshot_begin)
   is refused with PODSYNC_E_IO until podsync_store_checkpoint succeeds: what a replica could see
   is always on disk first. */
PODSYNC_API int32_t podsync_store_flush(podsync_store *store, size_t *frame_count_out);
/* One frame carrying every change since `since_version` (absolute values and deletions), as of the
   last flush (pending writes are not included); when that frame would be larger than
   max_frame_bytes, the chunks of a chunked delta instead (since 0.5.0; each at most
   max_frame_bytes, applied by a replica at the last one: see "Chunked snapshots"). Produces no frame if since_version is the current
   version. Returns PODSYNC_SNAPSHOT_REQUIRED (and no frame) if since_version is older than the
   store covers (info.catchup_floor), PODSYNC_E_VERSION_AHEAD if it is newer than the store.
   since_version 0 produces a snapshot. */
PODSYNC_API int32_t podsync_store_delta_since(podsync_store *store, uint64_t since_version,
                                              size_t *frame_count_out);
/* The whole state as of the last flush, flagged RESET: one frame when it fits in max_frame_bytes,
   else (since library 0.5.0) the chunks of a chunked snapshot, each at most max_frame_bytes, all
   in the outbox. To hold only one chunk at a time, stream it with podsync_snapshot_begin(). */
PODSYNC_API int32_t podsync_store_snapshot(podsync_store *store, size_t *frame_count_out);

/* Borrows frame `index` of the outbox: *data_out and *size_out describe its bytes, which are 64-byte
   aligned and stay valid and unchanged until the next flush, delta_since, snapshot or free on this
   store. */
PODSYNC_API int32_t podsync_store_frame(const podsync_store *store, size_t index,
                                        const uint8_t **data_out, size_t *size_out);

/* --- Applying frames (replica only). */

/* Validates the whole frame, then applies it atomically. size must be exactly the frame's length.
   Returns PODSYNC_OK (applied), PODSYNC_DUPLICATE (already had it), PODSYNC_GAP (the frame's base is
   ahead: ask for a delta since *version_out), PODSYNC_STALE (an older snapshot), for chunks
   PODSYNC_CHUNK_STAGED and PODSYNC_CHUNK_GAP (see "Chunked snapshots"), for a
   PODSYNC_OPT_ONE_WAY replica out of sync PODSYNC_REFRESHING (see the flag), or an error with the
   state unchanged (PODSYNC_E_DIGEST_MISMATCH excepted: see its definition). A delta is applied when
   base_version <= replica version < frame version; a snapshot replaces the state; a refresh slice
   riding a frame is ignored by a replica in sync (it describes the state the replica then holds).
   Terms (format 2, since 0.6.0): a frame of an older term than the replica follows is
   PODSYNC_E_TERM_FENCED; one of a newer term whose history left the replica's term before the
   replica's version is PODSYNC_E_HISTORY_DIVERGED (needs a snapshot). A durable replica logs each
   frame it applied; if that fails the frame stays applied and the call returns PODSYNC_E_IO (like
   PODSYNC_E_DIGEST_MISMATCH, an error after the change). version_out may be NULL; it receives the replica's version after the call. */
PODSYNC_API int32_t podsync_store_apply(podsync_store *store, const void *frame, size_t size,
                                        uint64_t *version_out);

/* --- Chunked snapshots (since library 0.5.0). docs/FORMAT.md, "Chunked snapshots and deltas".
   A snapshot streams as chunks: complete, checksummed frames of at most max_chunk_bytes, all
   describing the state at one version. Chunk i holds every record whose (table id, seed(t, k))
   lies in its range, where seed(t, k) is the key's 64-bit hash (FORMAT.md, "State digest"):
   consecutive chunks cover consecutive ranges, so a receiver can check that nothing overlaps or
   is missing. (Hash order is the order of the store's key index, so the producer cuts chunks
   from it without a sorted copy of the keys.) The producer keeps working (writes, flushes,
   applies) while the chunks go out: a record changed after the snapshot's version is saved at
   its snapshot-time value first (copy-on-write), so the extra memory is one chunk plus the
   records changed meanwhile (podsync_metrics.snapshot_bytes_held).

   A replica given a chunk (podsync_store_apply) stages it beside its state, which it keeps
   serving (reads, digest, delta_since, snapshots) unchanged, and returns PODSYNC_CHUNK_STAGED; the
   last chunk switches it to the snapshot's state in one step (PODSYNC_OK). The chunks of a large
   catch-up delta (podsync_store_delta_since) are staged the same way and applied in one step at
   the last one, which then answers as the whole delta would (PODSYNC_OK, DUPLICATE or GAP); a lost
   delta chunk is healed by asking for the delta again. Repeated chunks are
   PODSYNC_DUPLICATE; a chunk ahead of the expected one is PODSYNC_CHUNK_GAP (nothing changes:
   ask the producer for podsync_snapshot_resume() from podsync_store_staging()'s position); a
   chunk that contradicts those staged is PODSYNC_E_CHUNK_MISMATCH (the staging is dropped); chunk 0
   of a snapshot at least as new as the staged one replaces it, a chunk of an older one is
   PODSYNC_STALE. With PODSYNC_OPT_FILL_IN_PLACE an empty replica fills its tables directly. */

typedef struct podsync_snapshot podsync_snapshot;

#define PODSYNC_CHUNK_POSITION_VERSION 1

/* Where a chunked snapshot continues: the snapshot's identity and its next chunk. */
typedef struct podsync_chunk_position {
    uint32_t version;           /* set by the caller: PODSYNC_CHUNK_POSITION_VERSION */
    uint32_t start_table;       /* the next chunk starts at (start_table, start_key): a table id
                                   and a seed(t, k) value; UINT32_MAX, UINT64_MAX after the last */
    uint64_t stream_id;
    uint64_t term;              /* the writer's term (0 until a promotion or a new term; a
                                   resume of another term is PODSYNC_E_SNAPSHOT_EXPIRED) */
    uint64_t snapshot_id;
    uint64_t state_version;     /* the version the snapshot describes */
    uint64_t chunk_index;       /* index of the next chunk (0 for the first) */
    uint64_t start_key;
    uint64_t base_version;      /* 0 for a snapshot; a chunked catch-up delta's base version (a
                                   delta is not resumed: ask for podsync_store_delta_since again) */
} podsync_chunk_position;

#define PODSYNC_CHUNK_POSITION_INIT { PODSYNC_CHUNK_POSITION_VERSION, 0, 0, 0, 0, 0, 0, 0, 0 }

/* Starts a chunked snapshot of the store's state (a writer's as of its last flush, a replica's as
   applied). max_chunk_bytes: the largest chunk, 0 for the store's max_frame_bytes; at least
   PODSYNC_MIN_CHUNK_BYTES (a chunk still holds at least one record, so a record larger than that
   makes a larger chunk). On success *out receives a handle to free with podsync_snapshot_free().
   The snapshot belongs to its store for threading: every call on it (free included) counts as a
   call on the store, so use both from one thread at a time. It keeps the store alive (freeing the
   store first is allowed; the snapshot then still finishes). A diverged replica refuses with
   PODSYNC_E_DIVERGED. O(number of tables): the work is done chunk by chunk. */
#define PODSYNC_MIN_CHUNK_BYTES 512
PODSYNC_API int32_t podsync_snapshot_begin(podsync_store *store, size_t max_chunk_bytes,
                                           podsync_snapshot **out);
/* Continues a snapshot from a position (what a receiver's podsync_store_staging() reported):
   chunks from position->chunk_index, starting at its key, under the same snapshot id. Served when
   a snapshot with that id and version is still alive on this store, or when the store is still
   at that version of that stream; otherwise PODSYNC_E_SNAPSHOT_EXPIRED (the receiver then needs a
   new snapshot, whose chunk 0 replaces its staging). The position of a chunked delta
   (base_version != 0) is always PODSYNC_E_SNAPSHOT_EXPIRED: ask for the delta again. */
PODSYNC_API int32_t podsync_snapshot_resume(podsync_store *store,
                                            const podsync_chunk_position *position,
                                            size_t max_chunk_bytes, podsync_snapshot **out);
/* Produces the next chunk: *data_out and *size_out borrow its bytes (64-byte aligned), valid
   until the next podsync_snapshot_next or podsync_snapshot_free on this snapshot. Returns
   PODSYNC_OK, or PODSYNC_DONE (NULL, 0) after the last chunk; PODSYNC_E_SNAPSHOT_EXPIRED when the
   store's state was replaced meanwhile (a replica that applied a snapshot). Chunks are compressed
   like the store's frames. */
PODSYNC_API int32_t podsync_snapshot_next(podsync_snapshot *snapshot, const uint8_t **data_out,
                                          size_t *size_out);
/* The position of the next chunk (its index and first key; after the last, the index past it). */
PODSYNC_API int32_t podsync_snapshot_position(const podsync_snapshot *snapshot,
                                              podsync_chunk_position *position);
/* The message of the last error on this snapshot ("" if none). Valid until the next call on it. */
PODSYNC_API const char *podsync_snapshot_errmsg(const podsync_snapshot *snapshot);
PODSYNC_API void podsync_snapshot_free(podsync_snapshot *snapshot);

/* Replica: the chunked snapshot (or delta: base_version != 0) it is staging and the chunk it needs
   next (to resume after PODSYNC_CHUNK_GAP); after a PODSYNC_CHUNK_GAP with nothing staged, chunk 0
   of that frame; PODSYNC_NOT_FOUND when it stages none. */
PODSYNC_API int32_t podsync_store_staging(const podsync_store *store,
                                          podsync_chunk_position *position);

/* --- Durability and failover (since library 0.6.0). docs/FORMAT.md, "Files", and the README,
   "Durability and failover". A durable store lives in a directory: complete checkpoints
   (checkpoint-<n>.psc, each a small header plus a chunked snapshot and what delta_since needs) and
   frame log segments (log-<n>.psl, the frames the store produced or applied after a version),
   numbered upwards. The directory is locked (flock) by the store that opened it. A process the
   host forks shares that lock until it execs or exits; open waits up to 250 ms for it.

   What survives what (tested): a kill -9 or power loss at any point leaves every complete
   checkpoint readable (written to a temporary file, fsync, rename, fsync of the directory) and the
   log readable up to its last complete record; podsync_store_open restores the newest checkpoint
   that verifies plus the log after it. With PODSYNC_LOG_EVERY_FRAME a writer logs and fsyncs the
   frames of a flush before podsync_store_flush returns them, so it reopens at exactly the last
   version it handed out, in the same term. With any other policy (or no log) it reopens at the
   last durable version in a NEW term, so replicas that saw later versions are told
   (PODSYNC_E_HISTORY_DIVERGED) instead of silently mixing histories. A full disk or a read-only
   directory makes the call that wrote fail with PODSYNC_E_IO, leaving the previous checkpoint and
   the log intact and the store working in memory (see podsync_store_flush below). */

#define PODSYNC_LOG_NONE        0  /* no frame log: the store reopens at its last checkpoint */
#define PODSYNC_LOG_EVERY_FRAME 1  /* fsync each flush's frames (writer: before handing them out)
                                      and each applied frame (replica) */
#define PODSYNC_LOG_INTERVAL    2  /* fsync at the first append, flush or flush_due call after
                                      sync_interval_ms passed since the last fsync (and on
                                      podsync_store_sync) */
#define PODSYNC_LOG_OS          3  /* write, never fsync: survives a kill of the process, not a
                                      power loss */

#define PODSYNC_DURABILITY_OPTIONS_VERSION 1

typedef struct podsync_durability_options {
    uint32_t version;           /* set by the caller: PODSYNC_DURABILITY_OPTIONS_VERSION */
    uint32_t log_policy;        /* PODSYNC_LOG_*; default PODSYNC_LOG_EVERY_FRAME */
    uint64_t sync_interval_ms;  /* PODSYNC_LOG_INTERVAL: default 100 */
    uint64_t new_term;          /* a writer that reopens without proof that it lost nothing starts
                                   this term (0: its previous term + 1). Terms of a stream must be
                                   unique: where replicas may be promoted, pass the term your
                                   coordinator assigns */
    uint32_t keep_checkpoints;  /* complete checkpoints kept, at least 1; default 2 (the newest
                                   and the one before, with the logs from it on) */
    uint32_t flags;             /* 0 */
} podsync_durability_options;

#define PODSYNC_DURABILITY_OPTIONS_INIT { PODSYNC_DURABILITY_OPTIONS_VERSION, PODSYNC_LOG_EVERY_FRAME, 100, 0, 2, 0 }

PODSYNC_API int32_t podsync_durability_options_init(podsync_durability_options *options,
                                                    uint32_t version);

#define PODSYNC_OPEN_INFO_VERSION 1

#define PODSYNC_OPENED_CREATED  0x1u  /* the directory held no checkpoint: a new store was made */
#define PODSYNC_OPENED_NEW_TERM 0x2u  /* the writer started a new term (it could not prove it lost
                                         nothing, or it was told to) */
#define PODSYNC_OPENED_FALLBACK 0x4u  /* a newer checkpoint did not verify; an older one was used */

/* What podsync_store_open found. */
typedef struct podsync_open_info {
    uint32_t version;             /* set by the caller: PODSYNC_OPEN_INFO_VERSION */
    uint32_t flags;               /* PODSYNC_OPENED_* */
    uint64_t checkpoint_version;  /* the checkpoint restored */
    uint64_t restored_version;    /* the version after replaying the log */
    uint64_t log_frames;          /* log frames replayed (duplicates of the checkpoint included) */
    uint64_t dropped_bytes;       /* log bytes from the first torn or corrupt record on, dropped */
    uint64_t term;                /* the term the store writes (writer) or follows (replica) */
    int32_t skipped_status;       /* why a newer checkpoint was skipped (0 if none was) */
    uint32_t reserved;            /* written as 0 */
} podsync_open_info;

#define PODSYNC_OPEN_INFO_INIT { PODSYNC_OPEN_INFO_VERSION, 0, 0, 0, 0, 0, 0, 0, 0 }

/* Opens the durable store in `directory` (created if missing), or creates one there. With no
   checkpoint in it, a store is created from `schema` and `role` and its first checkpoint (version
   0) is written at once, so a writer's stream id is durable before its first frame. Otherwise the
   newest checkpoint that verifies is restored, then every log record after it, checking every
   checksum and stopping at the first torn or corrupt record (info->dropped_bytes; those bytes are
   cut from the files, so what is logged next survives the next open); a newer
   checkpoint that fails is skipped (PODSYNC_OPENED_FALLBACK, info->skipped_status). `schema` may
   be NULL when opening (the checkpoint's schema is used); given, it must hash equal
   (PODSYNC_E_SCHEMA_MISMATCH). `role` 0 takes the files' role; another role than the files' is
   PODSYNC_E_WRONG_ROLE. `options` as for podsync_store_create (NULL: defaults; stream_id is
   ignored when opening). `durability` NULL: defaults. `info` may be NULL. A restored writer keeps
   its stream id and version: replicas continue with deltas. On error *out is NULL and
   podsync_last_errmsg() says why: PODSYNC_E_IO (cannot create, read or lock the directory),
   PODSYNC_E_FILE_CORRUPT (no checkpoint verifies; a log of another stream), or an error of the
   frames inside. Work: the files' size. */
PODSYNC_API int32_t podsync_store_open(const char *directory, const podsync_schema *schema,
                                       uint32_t role, const podsync_store_options *options,
                                       const podsync_durability_options *durability,
                                       podsync_open_info *info, podsync_store **out);

/* Writes a checkpoint of a durable store now (all chunks; see podsync_checkpoint_begin to spread
   the work): the state as of the last flush (writer) or apply (replica). On success the new
   checkpoint is complete and durable, a new log segment starts, and checkpoints and log segments
   older than the kept ones are removed. On PODSYNC_E_IO (disk full, read-only) nothing of the
   new checkpoint remains and the older files and the store are as they were. A store that was
   not opened with podsync_store_open: PODSYNC_E_INVALID_ARGUMENT. */
PODSYNC_API int32_t podsync_store_checkpoint(podsync_store *store);

typedef struct podsync_checkpoint podsync_checkpoint;

/* Starts a checkpoint of the store's state now, to be written step by step while the store keeps
   working (writes, flushes, applies: the image is kept by copy-on-write, as for
   podsync_snapshot_begin). The handle belongs to its store for threading, like a snapshot. */
PODSYNC_API int32_t podsync_checkpoint_begin(podsync_store *store, podsync_checkpoint **out);
/* Writes at least one chunk and about max_bytes (0: everything). Returns PODSYNC_OK while more
   remains, PODSYNC_DONE when the checkpoint is complete and durable (as podsync_store_checkpoint),
   or an error (the checkpoint is abandoned; its temporary file removed). */
PODSYNC_API int32_t podsync_checkpoint_step(podsync_checkpoint *checkpoint, size_t max_bytes);
PODSYNC_API const char *podsync_checkpoint_errmsg(const podsync_checkpoint *checkpoint);
/* Abandons an unfinished checkpoint (its temporary file is removed). NULL is allowed. */
PODSYNC_API void podsync_checkpoint_free(podsync_checkpoint *checkpoint);

/* Forces the frame log to disk now (fsync), whatever the policy. */
PODSYNC_API int32_t podsync_store_sync(podsync_store *store);

/* Promotion: turns a replica into the writer of the stream it follows, in term `new_term` (greater
   than the term it follows; unique: see new_term above), continuing from its version. Its frames
   carry the term and its history (docs/FORMAT.md, "Terms and fencing"): replicas at versions up to
   the promotion point continue with deltas; one that applied later versions of the old term gets
   PODSYNC_E_HISTORY_DIVERGED and needs a snapshot; frames of the old term are refused by replicas
   that follow the new one (PODSYNC_E_TERM_FENCED). A durable store logs the promotion (fsync)
   before returning. Refused (PODSYNC_E_WRONG_ROLE, PODSYNC_E_DIVERGED, PODSYNC_E_INVALID_ARGUMENT)
   on a writer, a diverged or refreshing replica, one that follows no stream, or a term not above
   its own; a staged chunked snapshot is dropped. */
PODSYNC_API int32_t podsync_store_promote(podsync_store *store, uint64_t new_term);

/* --- Reads (writer and replica). Records are returned as borrowed pointers into the store, valid
   until the next write, apply or free on this store (info.generation changes when they may move). */

/* *record_out receives the record under key, or NULL with PODSYNC_NOT_FOUND. */
PODSYNC_API int32_t podsync_store_get(const podsync_store *store, uint32_t table_id, uint64_t key,
                                      const void **record_out);
PODSYNC_API int32_t podsync_store_count(const podsync_store *store, uint32_t table_id,
                                        size_t *count_out);
/* The table's live records as one contiguous array (count * record_size bytes, aligned to the
   table's alignment) and the parallel array of their keys. Order is unspecified (deleting moves the
   last record into the hole). With count 0 the pointers may be NULL. */
PODSYNC_API int32_t podsync_store_table(const podsync_store *store, uint32_t table_id,
                                        const void **records_out, const uint64_t **keys_out,
                                        size_t *count_out);

#define PODSYNC_STORE_INFO_VERSION 3

typedef struct podsync_store_info {
    uint32_t version;           /* set by the caller: PODSYNC_STORE_INFO_VERSION */
    uint32_t role;              /* PODSYNC_ROLE_* */
    uint64_t schema_hash;
    uint64_t stream_id;         /* replica: the stream it follows (0 before the first frame) */
    uint64_t state_version;     /* version of the flushed / applied state */
    uint64_t sequence;          /* writer: frames produced so far; replica: last applied frame's */
    uint64_t digest;            /* state digest of the flushed / applied state */
    uint64_t catchup_floor;     /* oldest since_version delta_since can serve; it rises as
                                   tombstones pass the horizon and as the change log (bounded at
                                   about twice the record count) drops its oldest versions */
    uint64_t pending_changes;   /* writer: distinct keys changed since the last flush (after
                                   coalescing: a key created and deleted in the batch is none) */
    uint64_t generation;        /* changes whenever borrowed record pointers may be invalid */
    uint32_t diverged;          /* replica: 1 after PODSYNC_E_DIGEST_MISMATCH until a snapshot */
    uint32_t table_count;
    /* since store info version 2 (library 0.5.0) */
    uint32_t refreshing;        /* PODSYNC_OPT_ONE_WAY replica: 1 while out of sync (its records
                                   are each some version's, state_version is the last version it
                                   was in sync at); it serves no deltas or snapshots meanwhile */
    uint32_t reserved;          /* written as 0 */
    /* since store info version 3 (library 0.6.0) */
    uint64_t term;              /* the term the writer writes, or the replica follows (0: none) */
    uint64_t durable_version;   /* durable store: the newest version on disk (checkpoint or
                                   fsynced log); 0 for a store without files */
    uint64_t log_bytes;         /* durable store: bytes in the log segments since the newest
                                   checkpoint (checkpoint when this grows large) */
    uint32_t durable;           /* 1 for a store opened with podsync_store_open */
    uint32_t log_failed;        /* 1 after a log write failed: frames are refused (PODSYNC_E_IO)
                                   until podsync_store_checkpoint succeeds */
} podsync_store_info;

#define PODSYNC_STORE_INFO_INIT { PODSYNC_STORE_INFO_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

PODSYNC_API int32_t podsync_store_info_get(const podsync_store *store, podsync_store_info *info);

/* The order-independent digest of the store's state (docs/FORMAT.md): equal on writer and replica
   when they hold the same records. The writer's digest covers flushed changes only. O(1). */
PODSYNC_API int32_t podsync_store_digest(const podsync_store *store, uint64_t *digest_out);

/* --- Reconciliation (since library 0.7.0). docs/FORMAT.md, "Repair frames"; README,
   "Catch-up, repair or snapshot". Every store keeps a hash tree of its state with its digest (a
   writer: of its flushed state), so a replica that differs from the writer in a few records (it
   diverged, fell below the catch-up floor, reopened an old checkpoint, followed another term) is
   healed by a repair frame holding only the records of the buckets that differ, in a few messages:

     replica:   podsync_store_summary(replica, 0, &n)       -> a summary message in its outbox
     responder: podsync_store_reconcile(writer, msg, ...)   -> a message back, or a repair frame
     replica:   podsync_store_reconcile(replica, msg, ...)  -> a message back (descending the tree)
     ...                                                      (each side answers what it is given)
     replica:   podsync_store_apply(replica, repair, ...)   -> the writer's state and version

   Messages and repair frames are format-2 frames (flags SUMMARY, REPAIR) that go through the
   outbox like any frame (podsync_store_frame; valid until the next call that produces frames). A
   responder is the writer or an up-to-date replica. The host carries the messages; each one holds
   all the exchange needs, so a lost message is simply sent again or the exchange started over.

   A replica applies a repair frame whatever its version, stream, term or diverged mark, when the
   repair was computed for its exact state (PODSYNC_E_REPAIR_STALE otherwise, nothing changed); a
   frame of an older term of its stream is PODSYNC_E_TERM_FENCED. After it, the replica holds the
   responder's state at the frame's version and continues with deltas. Bad input costs bounded
   work: a message naming more than 2^20 buckets is PODSYNC_E_FRAME_TOO_LARGE, a malformed one
   PODSYNC_E_FRAME_MALFORMED, before anything is done for it. */

/* Puts a summary of the store's state into its outbox (one message; *frame_count_out = 1): the
   hashes of every bucket of the tree at `level` (16^level buckets; 0 = chosen from the record
   count, 1 to 5 otherwise). Any role; usually a replica that needs healing. */
PODSYNC_API int32_t podsync_store_summary(podsync_store *store, uint32_t level, size_t *frame_count_out);

/* Answers a summary message from the other side of a reconciliation: the responder (writer or
   up-to-date replica) answers a replica's message with a message that descends the tree or with a
   repair frame; the replica answers the responder's message with a message. The answer goes to
   the outbox (*frame_count_out = 1), or nothing when there is nothing to repair
   (*frame_count_out = 0). PODSYNC_E_INVALID_ARGUMENT for a frame that is not a summary (frames are
   applied), PODSYNC_E_DIVERGED for a responder that is diverged or out of sync,
   PODSYNC_E_REPAIR_STALE when the exchange began at a version the responder can no longer
   describe (start again with podsync_store_summary). */
PODSYNC_API int32_t podsync_store_reconcile(podsync_store *store, const void *message, size_t size,
                                            size_t *frame_count_out);

/* --- Change events (replica; since library 0.7.0). A replica can say which keys each apply changed,
   table by table: a game client learns spawns and despawns, a cache what to invalidate. Tracking is
   off by default (it costs a key store per changed record, and a whole snapshot lists every key).

   With tracking on, every podsync_store_apply first empties the lists, then records the keys it
   upserted (inserted, or replaced with other bytes: a put that leaves a record's bytes as they were
   is not listed) and deleted, in the order it changed them: a frame's deletions come before its
   puts, so a key in both lists was deleted and then put. A key a frame lists twice may be listed
   twice. An apply that changed nothing (PODSYNC_DUPLICATE, GAP, STALE, CHUNK_GAP, an error) leaves
   the lists empty; PODSYNC_E_DIGEST_MISMATCH lists what it applied. A snapshot that replaces the
   state (a whole one, or the last chunk of a staged one) sets PODSYNC_CHANGES_REPLACED: upserted
   then lists every key the new state holds, deleted every key it no longer holds. A chunk filling
   an empty replica in place (PODSYNC_OPT_FILL_IN_PLACE) lists the keys it made visible. Unchanged
   writes are not sent in the first place: a writer's put of the bytes a clean key already holds
   (its value at the last flush) leaves the key clean. */

/* Turns change tracking on (enabled 1) or off (0); either way the lists start empty.
   PODSYNC_E_WRONG_ROLE on a writer. */
PODSYNC_API int32_t podsync_store_track_changes(podsync_store *store, uint32_t enabled);

#define PODSYNC_CHANGES_REPLACED   0x1u  /* the last apply replaced the whole state (a snapshot)   */
#define PODSYNC_CHANGES_INCOMPLETE 0x2u  /* memory for the lists could not be had: the apply went
                                            through, but treat every key of the table as changed  */

/* The keys of table table_id the last apply upserted and deleted. The arrays are borrowed from the
   store, valid until the next apply, podsync_store_track_changes or free on it; with a count of 0 a
   pointer may be NULL. flags_out receives PODSYNC_CHANGES_* (may be NULL). PODSYNC_E_WRONG_ROLE on a
   writer, PODSYNC_E_INVALID_ARGUMENT while tracking is off, PODSYNC_E_UNKNOWN_TABLE. */
PODSYNC_API int32_t podsync_store_changes(const podsync_store *store, uint32_t table_id,
                                          const uint64_t **upserted_out, size_t *upserted_count_out,
                                          const uint64_t **deleted_out, size_t *deleted_count_out,
                                          uint32_t *flags_out);

/* --- Subscriptions: selective sync (since library 0.8.0). docs/FORMAT.md, "Subscriptions"; README,
   "Subscriptions". A replica can hold part of a stream: some tables and, per table, key ranges,
   and/or the keys of some shards (a key's shard is the top shard_bits bits of its seed, the hash the
   digest and the hash tree already use, so shards split every table evenly). The writer serves
   each distinct subscription from a *feed*: a store that holds the subset, follows every flush of
   the writer, and produces the subscription's frames with the ordinary calls.

     replica: podsync_subscription_encode(&sub, buf, cap, &n)   -> the subscription's bytes
              podsync_store_subscribe(replica, buf, n)          -> it now holds only that subset
     (the replica sends the bytes to the writer once)
     writer:  podsync_store_feed(writer, buf, n, &feed)         -> a feed (the same one for every
                                                                   replica of that subscription)
     writer:  podsync_store_flush(writer, &n)                   -> the whole stream's frames
              podsync_store_flush(feed, &n)                     -> the subset's frames, encoded once
                                                                   for all its replicas
              podsync_store_delta_since(feed, v, &n), podsync_store_snapshot(feed, &n),
              podsync_snapshot_begin(feed, ...), podsync_store_reconcile(feed, summary, ...)
                                                                -> catch-up, snapshots, repairs

   Frames of a feed carry its SUBSCRIPTION record (they are format-2 frames); their state digest is
   the digest of the subset, and their versions are the writer's (a subscriber's version jumps over
   versions that changed nothing in its subset). A subscribed replica applies only frames of its
   subscription and a replica without one only frames of the whole stream: anything else is
   PODSYNC_E_NOT_SUBSCRIBED with nothing changed; summaries and repairs obey the same rule, so
   reconciliation heals a subscriber from its feed. A subscribed replica serves its subset to
   further replicas of the same subscription. */

/* A key range of a subscribed table: lo <= key <= hi. */
typedef struct podsync_key_range {
    uint64_t lo;
    uint64_t hi;
} podsync_key_range;

/* One table of a subscription: range_count ranges, ascending, not overlapping or adjacent
   (hi + 1 < the next lo); range_count 0 (ranges may be NULL) means every key of the table. */
typedef struct podsync_subscription_table {
    uint32_t table_id;
    uint32_t range_count;
    const podsync_key_range *ranges;
} podsync_subscription_table;

#define PODSYNC_SUBSCRIPTION_VERSION 1

/* A subscription: table_count tables in strictly ascending table_id (at least one), and with
   shard_bits s from 1 to 16 the shards kept, shard_count ids in strictly ascending order, each
   below 2^s (shard_bits 0: every shard; shard_count must be 0). A record belongs to the
   subscription when its table is listed, its key lies in one of the table's ranges (or the table
   lists none), and its shard is listed. */
typedef struct podsync_subscription {
    uint32_t version;                          /* PODSYNC_SUBSCRIPTION_VERSION */
    uint32_t shard_bits;
    uint32_t shard_count;
    uint32_t table_count;
    const uint32_t *shards;
    const podsync_subscription_table *tables;
} podsync_subscription;

/* Writes the canonical encoding of *subscription (docs/FORMAT.md, "Subscriptions"), the bytes a
   replica sends to its writer, to buffer. *size_out (required) receives its size;
   PODSYNC_E_BUFFER_TOO_SMALL when it exceeds capacity (buffer may then be NULL), with nothing
   written. hash_out (may be NULL) receives its hash, the subscription_hash its frames carry.
   PODSYNC_E_INVALID_ARGUMENT names what breaks the rules above (tables are checked against a
   schema by podsync_store_subscribe and podsync_store_feed). */
PODSYNC_API int32_t podsync_subscription_encode(const podsync_subscription *subscription, void *buffer,
                                                size_t capacity, size_t *size_out, uint64_t *hash_out);

/* Makes an empty replica a subscriber of the subscription encoded in data (size bytes, as
   podsync_subscription_encode writes them; every byte is checked). Only a replica that holds no
   record and follows no stream yet (and is not durable, in this version) may subscribe, once:
   PODSYNC_E_INVALID_ARGUMENT otherwise, or for an encoding that breaks a rule or names a table the
   schema lacks; PODSYNC_E_WRONG_ROLE on a writer. */
PODSYNC_API int32_t podsync_store_subscribe(podsync_store *store, const void *data, size_t size);

/* The feed of the subscription encoded in data on `store`, its *writer*: a writer, or a replica of
   the whole stream (a *relay*). The feed holds the writer's records of the subset as of its last
   flush (a relay: its last apply) and follows each later flush (apply). Asking again for the same subscription returns the same feed (compare the pointers):
   each feed is encoded once per flush whatever the number of its replicas. *feed_out receives a
   new reference: release it with podsync_store_free(); the writer stops updating the feed once
   every reference is released. A feed outliving its writer keeps its state and serves it, but no
   longer changes.

   A feed is a writer whose writes come from its writer: podsync_store_put, _delete and the like are
   PODSYNC_E_WRONG_ROLE on it. podsync_store_flush(feed) turns what the writer's flushes changed in
   the subset since the feed's last flush into one frame (or none when nothing changed in it) at
   the writer's version (a relay's feed takes each delta the relay applies key by key; any other
   frame the relay applies, a snapshot, a chunked one's last chunk, a repair, a one-way refresh,
   rebuilds the feed from the relay's state, whose catch-up floor then starts there, and ends the
   feed's chunked snapshots in flight: PODSYNC_E_SNAPSHOT_EXPIRED); podsync_store_flush_due(feed) says PODSYNC_FLUSH_DUE while there is such a
   change. Reads, digest, info, delta_since, snapshot, snapshot_begin, summary and reconcile work as
   on any writer (a feed's catch-up floor starts at the writer's version when it was made). The feed
   takes the writer's options (a relay's: set its compression_level for compressed feed frames) but
   refresh_flushes (a feed has no rolling refresh) and frame_format (always 2).
   PODSYNC_E_WRONG_ROLE on a feed or a subscribed replica; PODSYNC_E_DIVERGED on a relay that is
   diverged or out of sync; PODSYNC_E_INVALID_ARGUMENT for an encoding that breaks a rule or names
   a table the schema lacks; PODSYNC_E_NO_MEMORY.

   A writer and its feeds are one object for threads and borrowed memory: do not call them
   concurrently, and podsync_store_flush(writer) (a relay: podsync_store_apply) changes its feeds'
   tables (their info.generation moves), so record pointers borrowed from a feed (podsync_store_get,
   podsync_store_table) are valid only until the writer's next flush (apply); a feed's outbox
   (podsync_store_frame) changes only with calls on the feed. Every host reference to a feed shares
   its outbox. */
PODSYNC_API int32_t podsync_store_feed(podsync_store *store, const void *data, size_t size,
                                       podsync_store **feed_out);

/* The subscription a store holds (a subscribed replica, or a feed): *data_out and *size_out
   (required) describe its canonical encoding, owned by the store and valid until it is freed;
   hash_out (may be NULL) receives its hash. PODSYNC_NOT_FOUND, with *data_out NULL and *size_out 0,
   for a store of the whole stream. */
PODSYNC_API int32_t podsync_store_subscription(const podsync_store *store, const uint8_t **data_out,
                                               size_t *size_out, uint64_t *hash_out);

/* --- Metrics (since library 0.2.0). */

#define PODSYNC_METRICS_VERSION 3
#define PODSYNC_METRICS_BUCKETS 32   /* log2 time buckets */
#define PODSYNC_METRICS_STATUSES 32  /* rejects[k] counts status -k */

/* Counters since the store was created. Times are in nanoseconds on CLOCK_MONOTONIC; histogram
   bucket i counts calls that took [2^i, 2^(i+1)) ns (bucket 0 also counts 0 ns, the last bucket
   everything longer). */
typedef struct podsync_metrics {
    uint32_t version;             /* set by the caller: PODSYNC_METRICS_VERSION */
    uint32_t reserved;            /* written as 0 */
    /* producing frames (flush, delta_since, snapshot) */
    uint64_t frames_out;          /* frames produced */
    uint64_t records_out;         /* puts + deletes carried by them */
    uint64_t raw_bytes_out;       /* their size as plain frames */
    uint64_t wire_bytes_out;      /* their size as produced (compressed where that paid) */
    uint64_t saved_by_key_gaps;   /* bytes the KEY_GAPS transform saved before compression */
    uint64_t saved_by_compression;/* packed bytes minus compressed bytes: what zstd saved on
                                     the packed stream. XOR and TRANSPOSE save no bytes of their
                                     own; they make bytes zero or alike, which shows here and in
                                     saved_by_zero_columns (benchmarks/codec_bench.c measures
                                     each transform by turning it off) */
    uint64_t compressed_frames;   /* frames sent compressed */
    /* writer */
    uint64_t writes;              /* records put or deleted (deletes of absent keys excluded) */
    uint64_t coalesced_writes;    /* writes absorbed by a later write to the same key before a
                                     flush: writes - changes flushed */
    /* applying frames (replica) */
    uint64_t frames_applied;      /* frames whose changes were applied: PODSYNC_OK, and
                                     PODSYNC_E_DIGEST_MISMATCH (applied, then found diverged),
                                     and PODSYNC_REFRESHING (since 0.5.0) */
    uint64_t records_applied;     /* puts + deletes applied (staged chunks' records included) */
    uint64_t wire_bytes_in;       /* bytes of the frames applied */
    uint64_t duplicates;          /* PODSYNC_DUPLICATE */
    uint64_t gaps;                /* PODSYNC_GAP */
    uint64_t stale;               /* PODSYNC_STALE */
    uint64_t resyncs;             /* snapshots applied over an existing state */
    uint64_t rejects[PODSYNC_METRICS_STATUSES]; /* apply calls that returned status -k */
    uint64_t encode_ns[PODSYNC_METRICS_BUCKETS]; /* flush / delta_since / snapshot durations */
    uint64_t apply_ns[PODSYNC_METRICS_BUCKETS];  /* apply durations */
    /* since metrics version 2 (library 0.3.0) */
    uint64_t saved_by_zero_columns; /* zero bytes left out by COLUMNS: all-zero byte columns,
                                     and sparse columns' zeros net of their bitmaps */
    uint64_t raw_column_bytes;    /* bytes of columns sent uncompressed because zstd could not
                                     shrink them (COLUMNS) */
    uint64_t column_trials;       /* times the encoder re-tested which columns compress */
    uint64_t dictionary_frames;   /* frames produced compressed with a dictionary */
    /* since metrics version 3 (library 0.5.0) */
    uint64_t chunks_out;          /* chunks produced, of snapshots and catch-up deltas (also
                                     counted in frames_out) */
    uint64_t snapshot_bytes_held; /* now: memory held by unfinished chunked snapshots for the
                                     records changed since their version (copy-on-write) */
    uint64_t chunks_staged;       /* PODSYNC_CHUNK_STAGED */
    uint64_t chunk_gaps;          /* PODSYNC_CHUNK_GAP */
    uint64_t staging_bytes_held;  /* now: memory of a staged, unfinished snapshot */
} podsync_metrics;

/* Reads the store's counters into *metrics (whose version the caller sets: 1 to 3; a version-1
   struct is filled up to apply_ns, a version-2 one up to dictionary_frames). O(1). */
PODSYNC_API int32_t podsync_store_metrics(const podsync_store *store, podsync_metrics *metrics);

/* --- Compression dictionaries (since library 0.3.0).
   zstd compresses small frames better with a dictionary trained on earlier ones. A store can
   collect the packed streams of the frames it produces (the bytes zstd compresses), train a
   dictionary from them, and compress its next frames with it; replicas load the same dictionary
   bytes (sent out of band) before applying those frames. A frame names its dictionary by id (in
   its zstd frame header); a store without it returns PODSYNC_E_DICTIONARY_MISSING and changes
   nothing. A store keeps up to 8 dictionaries for decoding; the last one loaded or trained also
   compresses its frames. */

/* Starts keeping the packed stream (the bytes zstd compresses) of every frame this store produces
   from now on, each whole, while it fits in what is left of max_bytes: a frame that does not fit
   is skipped, not cut. 0 stops and discards them. Needs compression_level != 0. Training needs 8
   kept frames, so max_bytes should be at least 8 times a typical frame (100 times the dictionary
   size is ideal); the training error says how many frames were kept and how many skipped. */
PODSYNC_API int32_t podsync_store_collect_samples(podsync_store *store, size_t max_bytes);
/* Trains a dictionary of at most max_size bytes (0: 16 KiB; 256 .. 4 MiB) from the samples
   collected (at least 8 frames; about 100 times max_size is ideal), loads it, stops collecting and
   writes its id to *dict_id_out (may be NULL). Takes tens to hundreds of milliseconds: call it off
   the hot path. */
PODSYNC_API int32_t podsync_store_train_dictionary(podsync_store *store, size_t max_size,
                                                   uint32_t *dict_id_out);
/* Loads a zstd dictionary (copied; it must carry a dictionary id: one trained by PodSync or by
   `zstd --train`), so frames compressed with it can be applied; frames this store produces from now
   on are compressed with it. Loading an id already loaded replaces it. *dict_id_out may be NULL. */
PODSYNC_API int32_t podsync_store_load_dictionary(podsync_store *store, const void *dict, size_t size,
                                                  uint32_t *dict_id_out);
/* The dictionary this store compresses with: *dict_out borrows its bytes until the next
   train/load or podsync_store_free(). PODSYNC_NOT_FOUND (and NULL, 0, 0) when it has none. Any of
   the out-pointers may be NULL. */
PODSYNC_API int32_t podsync_store_dictionary(const podsync_store *store, const void **dict_out,
                                             size_t *size_out, uint32_t *dict_id_out);

/* ------------------------------------------------------------------------------------------ */
/* Reading frames without a store                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Fixed header size of format version 1. */
#define PODSYNC_FRAME_HEADER_SIZE 88
/* The prefix every frame starts with (magic, format version, header length; since 0.5.0). A reader
   of a byte stream reads this many bytes, calls podsync_frame_peek() (PODSYNC_E_FRAME_TRUNCATED
   with info.header_length filled), reads up to header_length, peeks again to learn frame_length,
   then reads the rest of the frame. A format-2 frame may be shorter than 88 bytes. */
#define PODSYNC_FRAME_PREFIX_SIZE 16

/* Frame flags */
#define PODSYNC_FRAME_RESET       0x1u   /* snapshot: replaces the receiver's state */
#define PODSYNC_FRAME_HAS_DIGEST  0x2u   /* state_digest holds the writer's digest after the frame */
#define PODSYNC_FRAME_CHUNK       0x4u   /* one chunk of a chunked snapshot (format 2; since 0.5.0) */
/* Not a header flag: set in podsync_frame_info.flags when the frame carries a refresh slice. */
#define PODSYNC_FRAME_SLICE       0x10000u

/* podsync_frame_info.chunk_flags */
#define PODSYNC_CHUNK_LAST        0x1u   /* the snapshot's last chunk */

#define PODSYNC_CODEC_NONE 0
#define PODSYNC_CODEC_ZSTD 1   /* payload is one zstd frame of payload_length bytes (docs/FORMAT.md) */

#define PODSYNC_FRAME_INFO_VERSION 3

typedef struct podsync_frame_info {
    uint32_t version;           /* set by the caller: PODSYNC_FRAME_INFO_VERSION */
    uint32_t format_version;
    uint32_t header_length;
    uint32_t flags;             /* PODSYNC_FRAME_* */
    uint32_t section_count;
    uint32_t codec;             /* PODSYNC_CODEC_* */
    uint64_t frame_length;      /* total bytes of the frame, header included */
    uint64_t schema_hash;
    uint64_t stream_id;
    uint64_t sequence;
    uint64_t base_version;
    uint64_t state_version;     /* the version the receiver reaches by applying the frame */
    uint64_t state_digest;      /* meaningful with PODSYNC_FRAME_HAS_DIGEST */
    /* since frame info version 2 (library 0.2.0) */
    uint32_t transforms;        /* PODSYNC_TRANSFORM_* the frame's payload uses */
    uint32_t dictionary_id;     /* id of the zstd dictionary the payload is compressed with, 0 for
                                   none (since library 0.3.0, which fills it where 0.2.0 wrote 0;
                                   podsync_frame_peek fills it only when `size` reaches the start
                                   of the zstd frame's header) */
    uint64_t payload_length;    /* plain frames: frame_length - header_length; encoded frames:
                                   the packed payload's size (what zstd decompresses to, or what
                                   codec 0 stores before the raw columns) */
    /* since frame info version 3 (library 0.5.0) */
    uint64_t term;              /* the writer's term (0 for format 1) */
    uint64_t snapshot_id;       /* PODSYNC_FRAME_CHUNK: the snapshot's id; else 0 */
    uint64_t chunk_index;
    uint64_t chunk_start_key;   /* the chunk covers keys from (chunk_start_table, chunk_start_key) */
    uint64_t chunk_end_key;     /* to (chunk_end_table, chunk_end_key) excluded; not LAST only */
    uint64_t chunk_record_count;/* LAST only: the records of all chunks together */
    uint32_t chunk_start_table;
    uint32_t chunk_end_table;
    uint32_t chunk_flags;       /* PODSYNC_CHUNK_* */
    uint32_t slice_section_count; /* PODSYNC_FRAME_SLICE: sections of the slice, after the
                                   section_count sections of changes (podsync_frame_section_get
                                   reads them at indices section_count and up) */
    uint64_t slice_pass;        /* PODSYNC_FRAME_SLICE: the refresh pass and the slice's index in it */
    uint64_t slice_index;
    uint64_t slice_start_key;   /* the slice covers (slice_start_table, slice_start_key) to */
    uint64_t slice_end_key;     /* (slice_end_table, slice_end_key) excluded; not LAST only */
    uint32_t slice_start_table;
    uint32_t slice_end_table;
    uint32_t slice_flags;       /* PODSYNC_CHUNK_LAST: the pass's last slice */
    uint32_t reserved;          /* written as 0 */
} podsync_frame_info;

#define PODSYNC_FRAME_INFO_INIT { PODSYNC_FRAME_INFO_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* Reads a frame's header from the first `size` bytes (the rest of the frame need not be there).
   Checks magic, format version and header length, and a format-2 header's fields. Fewer than
   PODSYNC_FRAME_PREFIX_SIZE bytes, or fewer than the header's length, return
   PODSYNC_E_FRAME_TRUNCATED (with format_version and header_length filled once the 16-byte
   prefix is there). */
PODSYNC_API int32_t podsync_frame_peek(const void *data, size_t size, podsync_frame_info *info);

/* Validates a whole frame (size must be exactly its length): header, checksum and the layout of
   every section, without a schema, decompressing a compressed payload of up to 1 GiB to check it
   (podsync_frame_validate_limited sets that limit). Records are checked, not decoded: the work is
   linear in the frame's size and its decompressed payload. info may be NULL; on failure after the
   header was read, info holds the header's fields. A frame compressed with a dictionary returns
   PODSYNC_E_DICTIONARY_MISSING (apply it to a store that has loaded the dictionary). */
PODSYNC_API int32_t podsync_frame_validate(const void *data, size_t size, podsync_frame_info *info);
/* podsync_frame_validate with the largest decompressed payload (payload_length), and the largest
   decoded size of the sections (8 bytes a key plus put_count * record_size, which zero columns can
   make far larger than payload_length), that it accepts for an encoded frame: larger ones return
   PODSYNC_E_FRAME_TOO_LARGE before anything is allocated. 0 means 1 GiB. A plain frame is read in
   place, so its own size bounds it and the limit does not apply. (since library 0.4.0) */
PODSYNC_API int32_t podsync_frame_validate_limited(const void *data, size_t size,
                                                   uint64_t max_decoded_bytes,
                                                   podsync_frame_info *info);

#define PODSYNC_FRAME_SECTION_VERSION 1

/* One table's changes in a frame, as pointers into the frame's own bytes (no copy): valid as long as
   the caller's buffer is. Keys are in place when the frame starts on an 8-byte boundary; records
   are aligned to their table's alignment when the frame starts on a 64-byte boundary. */
typedef struct podsync_frame_section {
    uint32_t version;           /* set by the caller: PODSYNC_FRAME_SECTION_VERSION */
    uint32_t table_id;
    uint32_t record_size;
    uint32_t reserved;
    uint64_t put_count;
    uint64_t delete_count;
    const uint64_t *put_keys;   /* put_count keys */
    const void *records;        /* put_count records of record_size bytes, parallel to put_keys */
    const uint64_t *delete_keys;/* delete_count keys */
} podsync_frame_section;

#define PODSYNC_FRAME_SECTION_INIT { PODSYNC_FRAME_SECTION_VERSION, 0, 0, 0, 0, 0, NULL, NULL, NULL }

/* Reads section `index` (< section_count) of a validated frame in place. data must be 8-byte
   aligned. The section layout is checked again (bounds), the checksum is not. Only frames that
   are neither compressed nor transformed can be read in place: others return
   PODSYNC_E_UNSUPPORTED_CODEC (apply them to a replica to read their records). */
PODSYNC_API int32_t podsync_frame_section_get(const void *data, size_t size, size_t index,
                                              podsync_frame_section *section);

/* ------------------------------------------------------------------------------------------ */
/* Metrics as Prometheus text (since library 0.4.0)                                           */
/* ------------------------------------------------------------------------------------------ */

/* Formats *metrics (as podsync_store_metrics filled it; struct version 1 or later, a version-1
   struct has no saved_by_zero_columns .. dictionary_frames and they are left out) as Prometheus
   text exposition (format 0.0.4) into buffer, NUL-terminated: for each metric a "# HELP" and a
   "# TYPE" line, then its samples, one per line. Every name starts with podsync_; counters end in
   _total, byte counters in _bytes_total (podsync_frames_out_total,
   podsync_frames_out_wire_bytes_total, ...); savings carry a label by="key_gaps" | "zero_columns" |
   "compression", rejected applies status="PODSYNC_E_..." (every error status that has a name, and
   the number for any other status counted). The time histograms are Prometheus histograms in
   seconds, podsync_encode_duration_seconds and podsync_apply_duration_seconds: log2 bucket i
   (durations in [2^i, 2^(i+1)) ns) is cumulated into le = (2^(i+1) - 1) ns, written in seconds
   (le="0.000000001", "0.000000003", ... "2.147483647"), and the last bucket into le="+Inf", which
   equals _count. They have no _sum: the struct keeps counts per bucket, not the total time.
   labels: NULL or "" for none, or labels added to every sample, preformatted as in the exposition
   format: name="value" pairs joined by commas, such as  store="a",role="writer"  (at most 4096
   bytes; names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__", are unique and are not le,
   by or status; values are UTF-8 in which a backslash, a double quote and a line break are written
   \\, \" and \n). Anything else returns PODSYNC_E_INVALID_ARGUMENT with a message naming it.
   *size_out (required) receives the size of the text including its NUL; if capacity is smaller,
   returns PODSYNC_E_BUFFER_TOO_SMALL and writes nothing. buffer may be NULL when capacity is 0 (to
   query the size). The text depends only on the arguments (a few KiB). */
PODSYNC_API int32_t podsync_metrics_prometheus(const podsync_metrics *metrics, const char *labels,
                                               char *buffer, size_t capacity, size_t *size_out);

#ifdef __cplusplus
}
#endif

#endif /* PODSYNC_H */
