//! Raw FFI declarations of `libpodsync.so`, written by hand from `include/podsync.h` (ABI version 1).
//!
//! Every item here mirrors the header one to one: the same names, the same integer types, the same
//! struct layouts (checked at compile time below against the sizes and offsets of `docs/ABI.md`).
//! The header is the contract; read it for the meaning of each function. Use the safe `podsync`
//! crate unless you need the C API itself.
//!
//! Linking: the build script finds the library through `PODSYNC_LIB_DIR`, then an installed
//! PodSync through `pkg-config` (`podsync.pc`), then the repository's `.build/release`, and links
//! `dylib=podsync` (build.rs documents the order and the checks). It exports the directory to
//! dependents' build scripts as `DEP_PODSYNC_LIB_DIR`.
//!
//! Functions that take no pointer (the version queries, `podsync_status_name` and
//! `podsync_last_errmsg`) are declared `safe`; every other function is `unsafe` to call: the
//! caller guarantees that pointers are valid for the sizes passed and that a handle is used by
//! one thread at a time.
//!
//! ```
//! use podsync_sys::*;
//! assert_eq!(podsync_abi_version(), PODSYNC_ABI_VERSION);
//! let name = unsafe { std::ffi::CStr::from_ptr(podsync_status_name(PODSYNC_E_FRAME_CHECKSUM)) };
//! assert_eq!(name.to_str(), Ok("PODSYNC_E_FRAME_CHECKSUM"));
//!
//! let mut schema: *mut podsync_schema = std::ptr::null_mut();
//! assert_eq!(unsafe { podsync_schema_create(&mut schema) }, PODSYNC_OK);
//! let st = unsafe { podsync_schema_add_table(schema, 1, 16, 8, std::ptr::null(), 0) };
//! assert_eq!(st, PODSYNC_OK);
//! let mut hash = 0u64;
//! assert_eq!(unsafe { podsync_schema_hash(schema, &mut hash) }, PODSYNC_OK);
//! unsafe { podsync_schema_free(schema) };
//! ```
//!
//! # The NATS carrier (feature `nats`)
//!
//! With the cargo feature `nats` (off by default, so that a build without libnats works), this
//! crate also declares `include/podsync_nats.h` (the `podsync_nats_*` functions, structs and
//! constants of `libpodsync_nats.so`, the NATS JetStream carrier) and links
//! `dylib=podsync_nats`, found like `libpodsync.so`: `$PODSYNC_NATS_LIB_DIR`, else the directory
//! where `libpodsync.so` was found, else the repository's `.build/release`.

#![no_std]
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

use core::ffi::{c_char, c_void};
use core::marker::{PhantomData, PhantomPinned};
use core::mem::{offset_of, size_of};
use core::ptr;

#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "nats")]
pub use nats::*;

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/// Major version of the library this header declares.
pub const PODSYNC_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header declares.
pub const PODSYNC_VERSION_MINOR: u32 = 9;
/// Patch version of the library this header declares.
pub const PODSYNC_VERSION_PATCH: u32 = 0;
/// The library version as `MAJOR*10000 + MINOR*100 + PATCH` (compare with
/// `podsync_version_number()`).
pub const PODSYNC_VERSION_NUMBER: u32 =
    PODSYNC_VERSION_MAJOR * 10000 + PODSYNC_VERSION_MINOR * 100 + PODSYNC_VERSION_PATCH;
/// Bumped whenever a declaration in this file changes incompatibly (until 1.0).
pub const PODSYNC_ABI_VERSION: u32 = 1;
/// The newest frame format this library writes and reads (docs/FORMAT.md). The library reads
/// formats 1 and 2. Since library 0.8.0 it writes format 2 (the compact header) unless
/// `podsync_store_options.frame_format` asks for format 1, which it then writes for every frame
/// that needs no format-2 feature (chunks, refresh slices, terms, repairs, subscriptions do).
pub const PODSYNC_FORMAT_VERSION: u32 = 2;

// ---------------------------------------------------------------------------------------------
// Status codes (values pinned)
// ---------------------------------------------------------------------------------------------

/// Success.
pub const PODSYNC_OK: i32 = 0;
/// Write done; the flush policy says flush now.
pub const PODSYNC_FLUSH_DUE: i32 = 1;
/// get/delete: no record under that key.
pub const PODSYNC_NOT_FOUND: i32 = 2;
/// Apply: the replica already has these changes; no-op.
pub const PODSYNC_DUPLICATE: i32 = 3;
/// Apply: frame's base is ahead of the replica; nothing changed; ask the writer for a delta since
/// the replica's version.
pub const PODSYNC_GAP: i32 = 4;
/// Apply: snapshot older than the replica; ignored.
pub const PODSYNC_STALE: i32 = 5;
/// delta_since: that version is older than what the store still covers; send a snapshot instead.
pub const PODSYNC_SNAPSHOT_REQUIRED: i32 = 6;
/// Apply: a chunk ahead of the one the replica expects (or of a snapshot it has not started);
/// nothing changed; `podsync_store_staging()` names the chunk to resume from (since library 0.5.0).
pub const PODSYNC_CHUNK_GAP: i32 = 7;
/// Apply: a chunk was staged; the visible state stays as it was until the last chunk (since
/// library 0.5.0).
pub const PODSYNC_CHUNK_STAGED: i32 = 8;
/// Apply, `PODSYNC_OPT_ONE_WAY`: the replica is out of sync and took what the frame holds of
/// newer versions; it is in sync again (`PODSYNC_OK`) once its digest equals a frame's (since
/// library 0.5.0).
pub const PODSYNC_REFRESHING: i32 = 9;
/// snapshot_next: every chunk was produced (since library 0.5.0).
pub const PODSYNC_DONE: i32 = 10;
/// NULL pointer, bad value, wrong struct version.
pub const PODSYNC_E_INVALID_ARGUMENT: i32 = -1;
/// No table with that id in the schema.
pub const PODSYNC_E_UNKNOWN_TABLE: i32 = -2;
/// Record size differs from the table's.
pub const PODSYNC_E_RECORD_SIZE: i32 = -3;
/// Output buffer too small; the needed size is reported.
pub const PODSYNC_E_BUFFER_TOO_SMALL: i32 = -4;
/// Allocation failed or a limit would be exceeded.
pub const PODSYNC_E_NO_MEMORY: i32 = -5;
/// Writer-only call on a replica, or the reverse.
pub const PODSYNC_E_WRONG_ROLE: i32 = -6;
/// Table or field definition rejected.
pub const PODSYNC_E_SCHEMA_INVALID: i32 = -7;
/// Buffer shorter than the frame says it is.
pub const PODSYNC_E_FRAME_TRUNCATED: i32 = -10;
/// Not a PodSync frame.
pub const PODSYNC_E_FRAME_MAGIC: i32 = -11;
/// Frame format version not supported.
pub const PODSYNC_E_FRAME_VERSION: i32 = -12;
/// XXH3-64 checksum does not match.
pub const PODSYNC_E_FRAME_CHECKSUM: i32 = -13;
/// A length, count, offset or flag is inconsistent.
pub const PODSYNC_E_FRAME_MALFORMED: i32 = -14;
/// Frame written for another schema.
pub const PODSYNC_E_SCHEMA_MISMATCH: i32 = -15;
/// Delta from another writer stream; needs a snapshot.
pub const PODSYNC_E_STREAM_MISMATCH: i32 = -16;
/// Frame uses a codec this library does not implement.
pub const PODSYNC_E_UNSUPPORTED_CODEC: i32 = -17;
/// Frame applied, but the replica's state digest differs from the writer's: the replica is now
/// marked diverged and needs a snapshot.
pub const PODSYNC_E_DIGEST_MISMATCH: i32 = -18;
/// Replica is diverged: it accepts only a snapshot and serves no frames until one heals it.
pub const PODSYNC_E_DIVERGED: i32 = -19;
/// delta_since a version the store has not reached.
pub const PODSYNC_E_VERSION_AHEAD: i32 = -20;
/// Frame's decoded size exceeds max_decoded_bytes (since library 0.2.0)
pub const PODSYNC_E_FRAME_TOO_LARGE: i32 = -21;
/// Frame is compressed with a zstd dictionary this store has not loaded; nothing changed. Load it
/// (`podsync_store_load_dictionary`) and apply again (since library 0.3.0)
pub const PODSYNC_E_DICTIONARY_MISSING: i32 = -22;
/// A limit the host set (`podsync_store_options.max_records`) would be exceeded; nothing changed
/// (since library 0.4.0).
pub const PODSYNC_E_LIMIT: i32 = -23;
/// snapshot_resume: this store no longer holds the state of that snapshot; start a new one (since
/// library 0.5.0).
pub const PODSYNC_E_SNAPSHOT_EXPIRED: i32 = -24;
/// Apply: a frame of an older term than the one the replica follows (an old writer that came
/// back); nothing changed (since library 0.6.0).
pub const PODSYNC_E_TERM_FENCED: i32 = -25;
/// Apply: the replica applied versions of an older term past the point where the frame's term
/// took over (or cannot tell); nothing changed: it needs a snapshot (since library 0.6.0).
pub const PODSYNC_E_HISTORY_DIVERGED: i32 = -26;
/// Apply, reconcile: the frame or message is for another subset of the stream than this store
/// holds (another subscription, the whole stream, or a subscription this store lacks); nothing
/// changed (since library 0.8.0).
pub const PODSYNC_E_NOT_SUBSCRIBED: i32 = -27;
/// The frame uses a critical flag or extension record this library does not implement; upgrade it
/// (since library 0.5.0).
pub const PODSYNC_E_FRAME_FEATURE: i32 = -28;
/// Apply: a chunk contradicts the chunks staged before it (overlapping or missing keys, a forged
/// count); the staging was dropped, the visible state is unchanged (since library 0.5.0).
pub const PODSYNC_E_CHUNK_MISMATCH: i32 = -29;
/// Apply: a repair frame computed for another state than the replica's (its digest moved since
/// its summary); nothing changed: send a new summary. Reconcile: the comparison began at a version
/// this store can no longer describe: start again (since library 0.7.0).
pub const PODSYNC_E_REPAIR_STALE: i32 = -30;
/// A file operation failed (disk full, read-only, missing, locked by another store); the message
/// names the file and the system error (since library 0.6.0).
pub const PODSYNC_E_IO: i32 = -31;
/// A checkpoint or log file fails its checksum or its structure, or belongs to another stream or
/// schema (since library 0.6.0).
pub const PODSYNC_E_FILE_CORRUPT: i32 = -32;
/// A bug in PodSync; please report it.
pub const PODSYNC_E_INTERNAL: i32 = -99;

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

/// Opaque schema handle (`podsync_schema`).
#[repr(C)]
pub struct podsync_schema {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Most tables in a schema.
pub const PODSYNC_MAX_TABLES: u32 = 1024;
/// Per table.
pub const PODSYNC_MAX_FIELDS: u32 = 1024;
/// Bytes, without the terminating NUL.
pub const PODSYNC_MAX_FIELD_NAME: u32 = 255;
/// 1 MiB.
pub const PODSYNC_MAX_RECORD_SIZE: u32 = 1048576;
/// Largest table alignment (a power of two).
pub const PODSYNC_MAX_ALIGNMENT: u32 = 64;

/// Field element type: `u8`.
pub const PODSYNC_TYPE_U8: u32 = 1;
/// Field element type: `u16`.
pub const PODSYNC_TYPE_U16: u32 = 2;
/// Field element type: `u32`.
pub const PODSYNC_TYPE_U32: u32 = 3;
/// Field element type: `u64`.
pub const PODSYNC_TYPE_U64: u32 = 4;
/// Field element type: `i8`.
pub const PODSYNC_TYPE_I8: u32 = 5;
/// Field element type: `i16`.
pub const PODSYNC_TYPE_I16: u32 = 6;
/// Field element type: `i32`.
pub const PODSYNC_TYPE_I32: u32 = 7;
/// Field element type: `i64`.
pub const PODSYNC_TYPE_I64: u32 = 8;
/// Field element type: `f32`.
pub const PODSYNC_TYPE_F32: u32 = 9;
/// Field element type: `f64`.
pub const PODSYNC_TYPE_F64: u32 = 10;
/// Opaque bytes; count is the length in bytes.
pub const PODSYNC_TYPE_BYTES: u32 = 11;

/// `podsync_field`: one field of a record (24 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct podsync_field {
    /// NUL-terminated, 1..=PODSYNC_MAX_FIELD_NAME bytes, unique in its table.
    pub name: *const c_char,
    /// `PODSYNC_TYPE_*`.
    pub r#type: u32,
    /// Bytes from the start of the record.
    pub offset: u32,
    /// Number of elements, >= 1.
    pub count: u32,
    /// Must be 0.
    pub reserved: u32,
}

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

/// Opaque store handle (`podsync_store`): a writer or a replica.
#[repr(C)]
pub struct podsync_store {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Store role: a writer owns the state and produces frames.
pub const PODSYNC_ROLE_WRITER: u32 = 1;
/// Store role: a replica applies frames.
pub const PODSYNC_ROLE_REPLICA: u32 = 2;

/// Frames carry the writer's state digest (default on)
pub const PODSYNC_OPT_FRAME_DIGEST: u32 = 0x1;
/// Time comes only from `podsync_store_set_time()`.
pub const PODSYNC_OPT_MANUAL_CLOCK: u32 = 0x2;
/// Replica: while it is empty and follows no stream, the chunks of a snapshot are applied to its
/// tables as they arrive (readers see them fill; version 0 until the last chunk) instead of being
/// staged beside the state: no double memory for a late joiner (since library 0.5.0).
pub const PODSYNC_OPT_FILL_IN_PLACE: u32 = 0x4;
/// Replica on a link that cannot ask back: where another replica would return `PODSYNC_GAP` (or
/// is diverged) it takes the absolute content of the frames it gets, key by key, newest version
/// first (`PODSYNC_REFRESHING`), and is back in sync when its digest equals the frame's;
/// converges by the writer's rolling refresh (since library 0.5.0).
pub const PODSYNC_OPT_ONE_WAY: u32 = 0x8;

/// The options struct version of this header (4 since library 0.5.0; 3 since 0.4.0; 2 since
/// 0.2.0).
pub const PODSYNC_STORE_OPTIONS_VERSION: u32 = 4;

/// Records XOR-ed with the receiver's record at the base version (batch frames only)
pub const PODSYNC_TRANSFORM_XOR: u32 = 0x1;
/// Records stored byte-transposed per section.
pub const PODSYNC_TRANSFORM_TRANSPOSE: u32 = 0x2;
/// Keys sorted, stored as LEB128 gaps.
pub const PODSYNC_TRANSFORM_KEY_GAPS: u32 = 0x4;
/// With TRANSPOSE: all-zero byte columns omitted, columns zstd cannot shrink sent uncompressed
/// (since 0.3.0)
pub const PODSYNC_TRANSFORM_COLUMNS: u32 = 0x8;
/// Integer fields sent as zigzag differences to the receiver's value where that is smaller
/// (frame format 2, batch frames only; since 0.9.0)
pub const PODSYNC_TRANSFORM_FIELDS: u32 = 0x10;
/// Keys the receiver holds named by their rank among its keys' seeds (with KEY_GAPS; frame format
/// 2, deltas from v to v + 1 of the whole stream; since 0.9.0)
pub const PODSYNC_TRANSFORM_KEY_RANKS: u32 = 0x20;
/// Every transform.
pub const PODSYNC_TRANSFORM_ALL: u32 = 0x3F;

/// `podsync_store_options` (104 bytes, versioned; a version-1 struct ends at byte 56, a version-2
/// struct at byte 72, a version-3 struct at byte 88).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_store_options {
    /// `PODSYNC_STORE_OPTIONS_VERSION`.
    pub version: u32,
    /// `PODSYNC_OPT_*`; default `PODSYNC_OPT_FRAME_DIGEST`.
    pub flags: u32,
    /// Writer: this stream's id; 0 picks a random one. Replica: unused.
    pub stream_id: u64,
    /// Flush due at this many pending changes; 0 = no limit (65536)
    pub max_batch_records: u64,
    /// Flush due at this many pending bytes (records + 8 per key); 0 = no limit (4 MiB)
    pub max_batch_bytes: u64,
    /// Flush due when the oldest pending change is this old; 0 = no limit (50)
    pub max_batch_age_ms: u64,
    /// A flush splits its changes into frames of at most this size (a frame always holds at least
    /// one change); 0 = no limit (64 MiB). A snapshot larger than this is cut into chunks of at
    /// most this size (since library 0.5.0); catch-up deltas are single frames.
    pub max_frame_bytes: u64,
    /// Deletions are remembered for this many versions, so a delta since an older version needs a
    /// snapshot; 0 = forever (65536)
    pub tombstone_horizon: u64,
    /// Writer: 0 = frames are never compressed (the default); else the zstd level, ZSTD_minCLevel()
    /// .. ZSTD_maxCLevel() (-131072 .. 22 with libzstd 1.5: 1 is fast, 19 and above are slow,
    /// negative levels are faster still). A frame is compressed only where that makes it at least
    /// 5% smaller; otherwise it is sent as an uncompressed frame.
    ///
    /// Since options version 2 (library 0.2.0).
    pub compression_level: i32,
    /// Writer: `PODSYNC_TRANSFORM_*` used before compressing (`PODSYNC_TRANSFORM_ALL`)
    pub transforms: u32,
    /// Replica: largest decoded payload of a compressed frame it accepts, checked before
    /// allocating; 0 = 1 GiB (1 GiB)
    pub max_decoded_bytes: u64,
    /// Most live records the store holds, all tables together: a write or a frame that would exceed
    /// it returns `PODSYNC_E_LIMIT` and changes nothing. 0 = no limit but 2^30 per table (0). A
    /// replica fed from an untrusted source sets this and max_decoded_bytes.
    ///
    /// Since options version 3 (library 0.4.0).
    pub max_records: u64,
    /// Most deletions a store remembers for catch-up deltas, all tables together; past it the
    /// oldest are forgotten and catchup_floor rises to their version. 0 = no limit (1048576)
    ///
    /// Since options version 3 (library 0.4.0).
    pub max_tombstones: u64,
    /// Writer: the format of frames that need no format-2 feature: 1 or 2 (0 = 2; before
    /// library 0.8.0, 0 = 1 and 1 was the default). Chunks and refresh slices are always format
    /// 2. Replicas of library 0.5.0 and later read both; set 1 for older ones (docs/ABI.md).
    ///
    /// Since options version 4 (library 0.5.0).
    pub frame_format: u32,
    /// Writer: rolling refresh. 0 = off (the default); R > 0: every flush also carries the next
    /// slice of the whole state, about records / R of them (at most half of max_frame_bytes), so
    /// the state is re-sent every R flushes and a `PODSYNC_OPT_ONE_WAY` replica converges without
    /// asking back. Turns the XOR transform off (slices and changes travel as absolute values).
    ///
    /// Since options version 4 (library 0.5.0).
    pub refresh_flushes: u32,
    /// Writer with refresh_flushes: when no frame went out for this long,
    /// `podsync_store_flush_due` says `PODSYNC_FLUSH_DUE` and a flush of an empty batch sends a
    /// slice alone. 0 = only with flushes.
    ///
    /// Since options version 4 (library 0.5.0).
    pub refresh_ms: u64,
}

/// `PODSYNC_STORE_OPTIONS_INIT`.
pub const PODSYNC_STORE_OPTIONS_INIT: podsync_store_options = podsync_store_options {
    version: PODSYNC_STORE_OPTIONS_VERSION,
    flags: PODSYNC_OPT_FRAME_DIGEST,
    stream_id: 0,
    max_batch_records: 65536,
    max_batch_bytes: 4194304,
    max_batch_age_ms: 50,
    max_frame_bytes: 67108864,
    tombstone_horizon: 65536,
    compression_level: 0,
    transforms: PODSYNC_TRANSFORM_ALL,
    max_decoded_bytes: 1073741824,
    max_records: 0,
    max_tombstones: 1048576,
    frame_format: 2,
    refresh_flushes: 0,
    refresh_ms: 0,
};

/// The `podsync_store_info` struct version this header declares (3 since library 0.6.0; 2 since
/// 0.5.0).
pub const PODSYNC_STORE_INFO_VERSION: u32 = 3;

/// `podsync_store_info` (120 bytes, versioned output struct; version 1 ends at byte 80, version 2
/// at byte 88).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_store_info {
    /// Set by the caller: `PODSYNC_STORE_INFO_VERSION`.
    pub version: u32,
    /// `PODSYNC_ROLE_*`.
    pub role: u32,
    /// The schema hash.
    pub schema_hash: u64,
    /// Replica: the stream it follows (0 before the first frame)
    pub stream_id: u64,
    /// Version of the flushed / applied state.
    pub state_version: u64,
    /// Writer: frames produced so far; replica: last applied frame's.
    pub sequence: u64,
    /// State digest of the flushed / applied state.
    pub digest: u64,
    /// Oldest since_version delta_since can serve; it rises as tombstones pass the horizon and as
    /// the change log (bounded at about twice the record count) drops its oldest versions.
    pub catchup_floor: u64,
    /// Writer: distinct keys changed since the last flush (after coalescing: a key created and
    /// deleted in the batch is none)
    pub pending_changes: u64,
    /// Changes whenever borrowed record pointers may be invalid.
    pub generation: u64,
    /// Replica: 1 after `PODSYNC_E_DIGEST_MISMATCH` until a snapshot.
    pub diverged: u32,
    /// Number of tables in the schema.
    pub table_count: u32,
    /// `PODSYNC_OPT_ONE_WAY` replica: 1 while out of sync (its records are each some version's,
    /// state_version is the last version it was in sync at); it serves no deltas or snapshots
    /// meanwhile.
    ///
    /// Since store info version 2 (library 0.5.0).
    pub refreshing: u32,
    /// Written as 0.
    pub reserved: u32,
    /// The term the writer writes, or the replica follows (0: none).
    ///
    /// Since store info version 3 (library 0.6.0).
    pub term: u64,
    /// Durable store: the newest version on disk (checkpoint or fsynced log); 0 for a store
    /// without files.
    ///
    /// Since store info version 3 (library 0.6.0).
    pub durable_version: u64,
    /// Durable store: bytes in the log segments since the newest checkpoint (checkpoint when this
    /// grows large).
    ///
    /// Since store info version 3 (library 0.6.0).
    pub log_bytes: u64,
    /// 1 for a store opened with `podsync_store_open`.
    ///
    /// Since store info version 3 (library 0.6.0).
    pub durable: u32,
    /// 1 after a log write failed: frames are refused (`PODSYNC_E_IO`) until
    /// `podsync_store_checkpoint` succeeds.
    ///
    /// Since store info version 3 (library 0.6.0).
    pub log_failed: u32,
}

/// `PODSYNC_STORE_INFO_INIT`.
pub const PODSYNC_STORE_INFO_INIT: podsync_store_info = podsync_store_info {
    version: PODSYNC_STORE_INFO_VERSION,
    role: 0,
    schema_hash: 0,
    stream_id: 0,
    state_version: 0,
    sequence: 0,
    digest: 0,
    catchup_floor: 0,
    pending_changes: 0,
    generation: 0,
    diverged: 0,
    table_count: 0,
    refreshing: 0,
    reserved: 0,
    term: 0,
    durable_version: 0,
    log_bytes: 0,
    durable: 0,
    log_failed: 0,
};

// ---------------------------------------------------------------------------------------------
// Chunked snapshots (since library 0.5.0)
// ---------------------------------------------------------------------------------------------

/// Opaque handle of a chunked snapshot being produced (`podsync_snapshot`): it keeps its store
/// alive and belongs to it for threading (use both from one thread at a time).
#[repr(C)]
pub struct podsync_snapshot {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// The `podsync_chunk_position` struct version this header declares.
pub const PODSYNC_CHUNK_POSITION_VERSION: u32 = 1;

/// `podsync_chunk_position` (64 bytes, versioned): where a chunked snapshot continues, the
/// snapshot's identity and its next chunk.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct podsync_chunk_position {
    /// Set by the caller: `PODSYNC_CHUNK_POSITION_VERSION`.
    pub version: u32,
    /// The next chunk starts at key (start_table, start_key).
    pub start_table: u32,
    /// The writer stream of the snapshot.
    pub stream_id: u64,
    /// The writer's term (0 until a promotion or a new term; a resume of another term is
    /// `PODSYNC_E_SNAPSHOT_EXPIRED`).
    pub term: u64,
    /// The snapshot's id.
    pub snapshot_id: u64,
    /// The version the snapshot describes.
    pub state_version: u64,
    /// Index of the next chunk (0 for the first).
    pub chunk_index: u64,
    /// The next chunk starts at key (start_table, start_key).
    pub start_key: u64,
    /// 0 for a snapshot; a chunked catch-up delta's base version (a delta is not resumed: ask for
    /// `delta_since` again).
    pub base_version: u64,
}

/// `PODSYNC_CHUNK_POSITION_INIT`.
pub const PODSYNC_CHUNK_POSITION_INIT: podsync_chunk_position = podsync_chunk_position {
    version: PODSYNC_CHUNK_POSITION_VERSION,
    start_table: 0,
    stream_id: 0,
    term: 0,
    snapshot_id: 0,
    state_version: 0,
    chunk_index: 0,
    start_key: 0,
    base_version: 0,
};

/// The smallest `max_chunk_bytes` of `podsync_snapshot_begin` and `podsync_snapshot_resume` (a
/// chunk still holds at least one record, so a record larger than that makes a larger chunk).
pub const PODSYNC_MIN_CHUNK_BYTES: usize = 512;

// ---------------------------------------------------------------------------------------------
// Durability and failover (since library 0.6.0)
// ---------------------------------------------------------------------------------------------

/// No frame log: the store reopens at its last checkpoint.
pub const PODSYNC_LOG_NONE: u32 = 0;
/// fsync each flush's frames (writer: before handing them out) and each applied frame (replica).
pub const PODSYNC_LOG_EVERY_FRAME: u32 = 1;
/// fsync at the first append, flush or flush_due call after sync_interval_ms passed since the last
/// fsync (and on `podsync_store_sync`).
pub const PODSYNC_LOG_INTERVAL: u32 = 2;
/// Write, never fsync: survives a kill of the process, not a power loss.
pub const PODSYNC_LOG_OS: u32 = 3;

/// The `podsync_durability_options` struct version this header declares (since library 0.6.0).
pub const PODSYNC_DURABILITY_OPTIONS_VERSION: u32 = 1;

/// `podsync_durability_options` (32 bytes, versioned; since library 0.6.0): how a durable store
/// logs and checkpoints.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_durability_options {
    /// Set by the caller: `PODSYNC_DURABILITY_OPTIONS_VERSION`.
    pub version: u32,
    /// `PODSYNC_LOG_*`; default `PODSYNC_LOG_EVERY_FRAME`.
    pub log_policy: u32,
    /// `PODSYNC_LOG_INTERVAL`: default 100.
    pub sync_interval_ms: u64,
    /// A writer that reopens without proof that it lost nothing starts this term (0: its previous
    /// term + 1). Terms of a stream must be unique: where replicas may be promoted, pass the term
    /// your coordinator assigns.
    pub new_term: u64,
    /// Complete checkpoints kept, at least 1; default 2 (the newest and the one before, with the
    /// logs from it on).
    pub keep_checkpoints: u32,
    /// 0.
    pub flags: u32,
}

/// `PODSYNC_DURABILITY_OPTIONS_INIT`.
pub const PODSYNC_DURABILITY_OPTIONS_INIT: podsync_durability_options =
    podsync_durability_options {
        version: PODSYNC_DURABILITY_OPTIONS_VERSION,
        log_policy: PODSYNC_LOG_EVERY_FRAME,
        sync_interval_ms: 100,
        new_term: 0,
        keep_checkpoints: 2,
        flags: 0,
    };

/// The `podsync_open_info` struct version this header declares (since library 0.6.0).
pub const PODSYNC_OPEN_INFO_VERSION: u32 = 1;

/// `podsync_open_info.flags`: the directory held no checkpoint: a new store was made.
pub const PODSYNC_OPENED_CREATED: u32 = 0x1;
/// `podsync_open_info.flags`: the writer started a new term (it could not prove it lost nothing,
/// or it was told to).
pub const PODSYNC_OPENED_NEW_TERM: u32 = 0x2;
/// `podsync_open_info.flags`: a newer checkpoint did not verify; an older one was used.
pub const PODSYNC_OPENED_FALLBACK: u32 = 0x4;

/// `podsync_open_info` (56 bytes, versioned output struct; since library 0.6.0): what
/// `podsync_store_open` found.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_open_info {
    /// Set by the caller: `PODSYNC_OPEN_INFO_VERSION`.
    pub version: u32,
    /// `PODSYNC_OPENED_*`.
    pub flags: u32,
    /// The checkpoint restored.
    pub checkpoint_version: u64,
    /// The version after replaying the log.
    pub restored_version: u64,
    /// Log frames replayed (duplicates of the checkpoint included).
    pub log_frames: u64,
    /// Log bytes from the first torn or corrupt record on, dropped.
    pub dropped_bytes: u64,
    /// The term the store writes (writer) or follows (replica).
    pub term: u64,
    /// Why a newer checkpoint was skipped (0 if none was).
    pub skipped_status: i32,
    /// Written as 0.
    pub reserved: u32,
}

/// `PODSYNC_OPEN_INFO_INIT`.
pub const PODSYNC_OPEN_INFO_INIT: podsync_open_info = podsync_open_info {
    version: PODSYNC_OPEN_INFO_VERSION,
    flags: 0,
    checkpoint_version: 0,
    restored_version: 0,
    log_frames: 0,
    dropped_bytes: 0,
    term: 0,
    skipped_status: 0,
    reserved: 0,
};

/// Opaque handle of a checkpoint being written step by step (`podsync_checkpoint`, since library
/// 0.6.0): it belongs to its store for threading, like a snapshot.
#[repr(C)]
pub struct podsync_checkpoint {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// ---------------------------------------------------------------------------------------------
// Change events (replica; since library 0.7.0)
// ---------------------------------------------------------------------------------------------

/// `podsync_store_changes` flag: the last apply replaced the whole state (a snapshot): upserted
/// lists every key the new state holds, deleted every key it no longer holds.
pub const PODSYNC_CHANGES_REPLACED: u32 = 0x1;
/// `podsync_store_changes` flag: memory for the lists could not be had: the apply went through,
/// but treat every key of the table as changed.
pub const PODSYNC_CHANGES_INCOMPLETE: u32 = 0x2;

// ---------------------------------------------------------------------------------------------
// Subscriptions: selective sync (since library 0.8.0)
// ---------------------------------------------------------------------------------------------

/// `podsync_key_range` (16 bytes; since library 0.8.0): a key range of a subscribed table,
/// `lo <= key <= hi`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct podsync_key_range {
    /// The range's first key.
    pub lo: u64,
    /// The range's last key (included).
    pub hi: u64,
}

/// `podsync_subscription_table` (16 bytes; since library 0.8.0): one table of a subscription,
/// `range_count` ranges, ascending, not overlapping or adjacent (`hi + 1 <` the next `lo`);
/// `range_count` 0 (`ranges` may be NULL) means every key of the table.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct podsync_subscription_table {
    /// The table.
    pub table_id: u32,
    /// Number of ranges; 0: every key of the table.
    pub range_count: u32,
    /// `range_count` ranges (may be NULL when `range_count` is 0).
    pub ranges: *const podsync_key_range,
}

/// The `podsync_subscription` struct version this header declares (since library 0.8.0).
pub const PODSYNC_SUBSCRIPTION_VERSION: u32 = 1;

/// `podsync_subscription` (32 bytes, versioned; since library 0.8.0): `table_count` tables in
/// strictly ascending `table_id` (at least one), and with `shard_bits` s from 1 to 16 the shards
/// kept, `shard_count` ids in strictly ascending order, each below 2^s (`shard_bits` 0: every
/// shard; `shard_count` must be 0). A record belongs to the subscription when its table is listed,
/// its key lies in one of the table's ranges (or the table lists none), and its shard (the top
/// `shard_bits` bits of its key's seed) is listed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct podsync_subscription {
    /// Set by the caller: `PODSYNC_SUBSCRIPTION_VERSION`.
    pub version: u32,
    /// 0 (every shard) or 1 to 16.
    pub shard_bits: u32,
    /// Number of shards kept (0 with `shard_bits` 0).
    pub shard_count: u32,
    /// Number of tables (at least one).
    pub table_count: u32,
    /// `shard_count` shard ids, strictly ascending, each below 2^`shard_bits`.
    pub shards: *const u32,
    /// `table_count` tables, in strictly ascending `table_id`.
    pub tables: *const podsync_subscription_table,
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

/// The `podsync_metrics` struct version this header declares (since library 0.2.0; 3 since
/// 0.5.0).
pub const PODSYNC_METRICS_VERSION: u32 = 3;
/// Log2 time buckets.
pub const PODSYNC_METRICS_BUCKETS: usize = 32;
/// rejects\[k\] counts status -k.
pub const PODSYNC_METRICS_STATUSES: usize = 32;

/// `podsync_metrics` (976 bytes, versioned output struct; since library 0.2.0; a version-1 struct
/// ends at byte 904, after `apply_ns`, a version-2 struct at byte 936, after `dictionary_frames`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_metrics {
    /// Set by the caller: `PODSYNC_METRICS_VERSION`.
    pub version: u32,
    /// Written as 0.
    pub reserved: u32,
    /// Frames produced.
    pub frames_out: u64,
    /// Puts + deletes carried by them.
    pub records_out: u64,
    /// Their size as plain frames.
    pub raw_bytes_out: u64,
    /// Their size as produced (compressed where that paid)
    pub wire_bytes_out: u64,
    /// Bytes the KEY_GAPS transform saved before compression.
    pub saved_by_key_gaps: u64,
    /// Packed bytes minus compressed bytes: what zstd saved on the packed stream. XOR and TRANSPOSE
    /// save no bytes of their own; they make bytes zero or alike, which shows here and in
    /// saved_by_zero_columns (benchmarks/codec_bench.c measures each transform by turning it off)
    pub saved_by_compression: u64,
    /// Frames sent compressed.
    pub compressed_frames: u64,
    /// Records put or deleted (deletes of absent keys excluded)
    pub writes: u64,
    /// Writes absorbed by a later write to the same key before a flush: writes - changes flushed.
    pub coalesced_writes: u64,
    /// Frames whose changes were applied: `PODSYNC_OK`, and `PODSYNC_E_DIGEST_MISMATCH` (applied,
    /// then found diverged)
    pub frames_applied: u64,
    /// Puts + deletes applied.
    pub records_applied: u64,
    /// Bytes of the frames applied.
    pub wire_bytes_in: u64,
    /// `PODSYNC_DUPLICATE`.
    pub duplicates: u64,
    /// `PODSYNC_GAP`.
    pub gaps: u64,
    /// `PODSYNC_STALE`.
    pub stale: u64,
    /// Snapshots applied over an existing state.
    pub resyncs: u64,
    /// Apply calls that returned status -k.
    pub rejects: [u64; PODSYNC_METRICS_STATUSES],
    /// Flush / delta_since / snapshot durations.
    pub encode_ns: [u64; PODSYNC_METRICS_BUCKETS],
    /// Apply durations.
    pub apply_ns: [u64; PODSYNC_METRICS_BUCKETS],
    /// Zero bytes left out by COLUMNS: all-zero byte columns, and sparse columns' zeros net of
    /// their bitmaps.
    ///
    /// Since metrics version 2 (library 0.3.0).
    pub saved_by_zero_columns: u64,
    /// Bytes of columns sent uncompressed because zstd could not shrink them (COLUMNS)
    pub raw_column_bytes: u64,
    /// Times the encoder re-tested which columns compress.
    pub column_trials: u64,
    /// Frames produced compressed with a dictionary.
    pub dictionary_frames: u64,
    /// Snapshot chunks produced (also counted in frames_out).
    ///
    /// Since metrics version 3 (library 0.5.0).
    pub chunks_out: u64,
    /// Now: memory held by unfinished chunked snapshots (sorted keys, copy-on-write records, the
    /// chunk being produced).
    pub snapshot_bytes_held: u64,
    /// `PODSYNC_CHUNK_STAGED`.
    pub chunks_staged: u64,
    /// `PODSYNC_CHUNK_GAP`.
    pub chunk_gaps: u64,
    /// Now: memory of a staged, unfinished snapshot.
    pub staging_bytes_held: u64,
}

const _: () = {
    assert!(core::mem::size_of::<podsync_metrics>() == 976);
    assert!(core::mem::offset_of!(podsync_metrics, rejects) == 136);
    assert!(core::mem::offset_of!(podsync_metrics, saved_by_zero_columns) == 904);
    assert!(core::mem::offset_of!(podsync_metrics, dictionary_frames) == 928);
    assert!(core::mem::offset_of!(podsync_metrics, chunks_out) == 936);
    assert!(core::mem::offset_of!(podsync_metrics, staging_bytes_held) == 968);
};

/// Fixed header size of format version 1.
pub const PODSYNC_FRAME_HEADER_SIZE: usize = 88;
/// The prefix every frame starts with (magic, format version, header length; since library
/// 0.5.0). A reader of a byte stream reads this many bytes, calls `podsync_frame_peek()`
/// (`PODSYNC_E_FRAME_TRUNCATED` with info.header_length filled), reads up to header_length, peeks
/// again to learn frame_length, then reads the rest of the frame. A format-2 frame may be shorter
/// than 88 bytes.
pub const PODSYNC_FRAME_PREFIX_SIZE: usize = 16;

/// Snapshot: replaces the receiver's state.
pub const PODSYNC_FRAME_RESET: u32 = 0x1;
/// state_digest holds the writer's digest after the frame.
pub const PODSYNC_FRAME_HAS_DIGEST: u32 = 0x2;
/// One chunk of a chunked snapshot (format 2; since library 0.5.0).
pub const PODSYNC_FRAME_CHUNK: u32 = 0x4;
/// Not a header flag: set in `podsync_frame_info.flags` when the frame carries a refresh slice
/// (since library 0.5.0).
pub const PODSYNC_FRAME_SLICE: u32 = 0x10000;

/// `podsync_frame_info.chunk_flags`: the snapshot's last chunk (and in `slice_flags`: the refresh
/// pass's last slice).
pub const PODSYNC_CHUNK_LAST: u32 = 0x1;

/// The payload is not compressed.
pub const PODSYNC_CODEC_NONE: u32 = 0;
/// Payload is one zstd frame of payload_length bytes (docs/FORMAT.md)
pub const PODSYNC_CODEC_ZSTD: u32 = 1;

/// The `podsync_frame_info` struct version this header declares (3 since library 0.5.0).
pub const PODSYNC_FRAME_INFO_VERSION: u32 = 3;

/// `podsync_frame_info` (208 bytes, versioned output struct; version 1 ends at byte 80, version 2
/// at byte 96).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_frame_info {
    /// Set by the caller: `PODSYNC_FRAME_INFO_VERSION`.
    pub version: u32,
    /// The frame format version.
    pub format_version: u32,
    /// Bytes of the header.
    pub header_length: u32,
    /// `PODSYNC_FRAME_*`.
    pub flags: u32,
    /// Number of sections (one per table with changes).
    pub section_count: u32,
    /// `PODSYNC_CODEC_*`.
    pub codec: u32,
    /// Total bytes of the frame, header included.
    pub frame_length: u64,
    /// The schema hash.
    pub schema_hash: u64,
    /// The writer stream the frame belongs to.
    pub stream_id: u64,
    /// The frame's sequence number in its stream.
    pub sequence: u64,
    /// The version a receiver must have reached for the frame to apply.
    pub base_version: u64,
    /// The version the receiver reaches by applying the frame.
    pub state_version: u64,
    /// Meaningful with `PODSYNC_FRAME_HAS_DIGEST`.
    pub state_digest: u64,
    /// `PODSYNC_TRANSFORM_*` the frame's payload uses.
    ///
    /// Since frame info version 2 (library 0.2.0).
    pub transforms: u32,
    /// Id of the zstd dictionary the payload is compressed with, 0 for none (named `reserved`
    /// and always 0 before library 0.3.0).
    pub dictionary_id: u32,
    /// Plain frames: frame_length - header_length; encoded frames: the packed payload's size (what
    /// zstd decompresses to, or what codec 0 stores before the raw columns).
    pub payload_length: u64,
    /// The writer's term (0 for format 1).
    ///
    /// Since frame info version 3 (library 0.5.0).
    pub term: u64,
    /// `PODSYNC_FRAME_CHUNK`: the snapshot's id; else 0.
    pub snapshot_id: u64,
    /// The chunk's index in its snapshot (0 for the first).
    pub chunk_index: u64,
    /// The chunk covers keys from (chunk_start_table, chunk_start_key) ...
    pub chunk_start_key: u64,
    /// ... to (chunk_end_table, chunk_end_key) excluded; not LAST only.
    pub chunk_end_key: u64,
    /// LAST only: the records of all chunks together.
    pub chunk_record_count: u64,
    /// The table of the chunk's first key.
    pub chunk_start_table: u32,
    /// The table of the first key after the chunk (not LAST only).
    pub chunk_end_table: u32,
    /// `PODSYNC_CHUNK_*`.
    pub chunk_flags: u32,
    /// `PODSYNC_FRAME_SLICE`: sections of the slice, after the section_count sections of changes
    /// (`podsync_frame_section_get` reads them at indices section_count and up).
    pub slice_section_count: u32,
    /// `PODSYNC_FRAME_SLICE`: the refresh pass ...
    pub slice_pass: u64,
    /// ... and the slice's index in it.
    pub slice_index: u64,
    /// The slice covers (slice_start_table, slice_start_key) ...
    pub slice_start_key: u64,
    /// ... to (slice_end_table, slice_end_key) excluded; not LAST only.
    pub slice_end_key: u64,
    /// The table of the slice's first key.
    pub slice_start_table: u32,
    /// The table of the first key after the slice (not LAST only).
    pub slice_end_table: u32,
    /// `PODSYNC_CHUNK_LAST`: the pass's last slice.
    pub slice_flags: u32,
    /// Written as 0.
    pub reserved: u32,
}

/// `PODSYNC_FRAME_INFO_INIT`.
pub const PODSYNC_FRAME_INFO_INIT: podsync_frame_info = podsync_frame_info {
    version: PODSYNC_FRAME_INFO_VERSION,
    format_version: 0,
    header_length: 0,
    flags: 0,
    section_count: 0,
    codec: 0,
    frame_length: 0,
    schema_hash: 0,
    stream_id: 0,
    sequence: 0,
    base_version: 0,
    state_version: 0,
    state_digest: 0,
    transforms: 0,
    dictionary_id: 0,
    payload_length: 0,
    term: 0,
    snapshot_id: 0,
    chunk_index: 0,
    chunk_start_key: 0,
    chunk_end_key: 0,
    chunk_record_count: 0,
    chunk_start_table: 0,
    chunk_end_table: 0,
    chunk_flags: 0,
    slice_section_count: 0,
    slice_pass: 0,
    slice_index: 0,
    slice_start_key: 0,
    slice_end_key: 0,
    slice_start_table: 0,
    slice_end_table: 0,
    slice_flags: 0,
    reserved: 0,
};

/// The `podsync_frame_section` struct version this header declares.
pub const PODSYNC_FRAME_SECTION_VERSION: u32 = 1;

/// `podsync_frame_section` (56 bytes, versioned output struct): pointers into the frame's bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct podsync_frame_section {
    /// Set by the caller: `PODSYNC_FRAME_SECTION_VERSION`.
    pub version: u32,
    /// The table the section changes.
    pub table_id: u32,
    /// Bytes per record.
    pub record_size: u32,
    /// Written as 0.
    pub reserved: u32,
    /// Number of records put.
    pub put_count: u64,
    /// Number of keys deleted.
    pub delete_count: u64,
    /// put_count keys.
    pub put_keys: *const u64,
    /// put_count records of record_size bytes, parallel to put_keys.
    pub records: *const c_void,
    /// delete_count keys.
    pub delete_keys: *const u64,
}

/// `PODSYNC_FRAME_SECTION_INIT`.
pub const PODSYNC_FRAME_SECTION_INIT: podsync_frame_section = podsync_frame_section {
    version: PODSYNC_FRAME_SECTION_VERSION,
    table_id: 0,
    record_size: 0,
    reserved: 0,
    put_count: 0,
    delete_count: 0,
    put_keys: ptr::null(),
    records: ptr::null(),
    delete_keys: ptr::null(),
};

// ---------------------------------------------------------------------------------------------
// Layout checks: the sizes and offsets of docs/ABI.md ("Versioned structs", LP64).
// ---------------------------------------------------------------------------------------------

const _: () = {
    assert!(size_of::<usize>() == 8, "PodSync supports LP64 platforms only");
    assert!(cfg!(target_endian = "little"), "PodSync supports little-endian platforms only");

    assert!(size_of::<podsync_field>() == 24);
    assert!(offset_of!(podsync_field, name) == 0);
    assert!(offset_of!(podsync_field, r#type) == 8);
    assert!(offset_of!(podsync_field, offset) == 12);
    assert!(offset_of!(podsync_field, count) == 16);
    assert!(offset_of!(podsync_field, reserved) == 20);

    assert!(size_of::<podsync_store_options>() == 104);
    assert!(offset_of!(podsync_store_options, frame_format) == 88);
    assert!(offset_of!(podsync_store_options, refresh_flushes) == 92);
    assert!(offset_of!(podsync_store_options, refresh_ms) == 96);
    assert!(offset_of!(podsync_store_options, compression_level) == 56);
    assert!(offset_of!(podsync_store_options, transforms) == 60);
    assert!(offset_of!(podsync_store_options, max_decoded_bytes) == 64);
    assert!(offset_of!(podsync_store_options, max_records) == 72);
    assert!(offset_of!(podsync_store_options, max_tombstones) == 80);
    assert!(offset_of!(podsync_store_options, version) == 0);
    assert!(offset_of!(podsync_store_options, flags) == 4);
    assert!(offset_of!(podsync_store_options, stream_id) == 8);
    assert!(offset_of!(podsync_store_options, max_batch_records) == 16);
    assert!(offset_of!(podsync_store_options, max_batch_bytes) == 24);
    assert!(offset_of!(podsync_store_options, max_batch_age_ms) == 32);
    assert!(offset_of!(podsync_store_options, max_frame_bytes) == 40);
    assert!(offset_of!(podsync_store_options, tombstone_horizon) == 48);

    assert!(size_of::<podsync_store_info>() == 120);
    assert!(offset_of!(podsync_store_info, term) == 88);
    assert!(offset_of!(podsync_store_info, durable_version) == 96);
    assert!(offset_of!(podsync_store_info, log_bytes) == 104);
    assert!(offset_of!(podsync_store_info, durable) == 112);
    assert!(offset_of!(podsync_store_info, log_failed) == 116);
    assert!(offset_of!(podsync_store_info, refreshing) == 80);
    assert!(offset_of!(podsync_store_info, reserved) == 84);
    assert!(offset_of!(podsync_store_info, version) == 0);
    assert!(offset_of!(podsync_store_info, role) == 4);
    assert!(offset_of!(podsync_store_info, schema_hash) == 8);
    assert!(offset_of!(podsync_store_info, stream_id) == 16);
    assert!(offset_of!(podsync_store_info, state_version) == 24);
    assert!(offset_of!(podsync_store_info, sequence) == 32);
    assert!(offset_of!(podsync_store_info, digest) == 40);
    assert!(offset_of!(podsync_store_info, catchup_floor) == 48);
    assert!(offset_of!(podsync_store_info, pending_changes) == 56);
    assert!(offset_of!(podsync_store_info, generation) == 64);
    assert!(offset_of!(podsync_store_info, diverged) == 72);
    assert!(offset_of!(podsync_store_info, table_count) == 76);

    assert!(size_of::<podsync_frame_info>() == 208);
    assert!(offset_of!(podsync_frame_info, slice_section_count) == 156);
    assert!(offset_of!(podsync_frame_info, slice_pass) == 160);
    assert!(offset_of!(podsync_frame_info, slice_index) == 168);
    assert!(offset_of!(podsync_frame_info, slice_start_key) == 176);
    assert!(offset_of!(podsync_frame_info, slice_end_key) == 184);
    assert!(offset_of!(podsync_frame_info, slice_start_table) == 192);
    assert!(offset_of!(podsync_frame_info, slice_end_table) == 196);
    assert!(offset_of!(podsync_frame_info, slice_flags) == 200);
    assert!(offset_of!(podsync_frame_info, reserved) == 204);
    assert!(offset_of!(podsync_frame_info, term) == 96);
    assert!(offset_of!(podsync_frame_info, snapshot_id) == 104);
    assert!(offset_of!(podsync_frame_info, chunk_index) == 112);
    assert!(offset_of!(podsync_frame_info, chunk_start_key) == 120);
    assert!(offset_of!(podsync_frame_info, chunk_end_key) == 128);
    assert!(offset_of!(podsync_frame_info, chunk_record_count) == 136);
    assert!(offset_of!(podsync_frame_info, chunk_start_table) == 144);
    assert!(offset_of!(podsync_frame_info, chunk_end_table) == 148);
    assert!(offset_of!(podsync_frame_info, chunk_flags) == 152);
    assert!(offset_of!(podsync_frame_info, transforms) == 80);
    assert!(offset_of!(podsync_frame_info, dictionary_id) == 84);
    assert!(offset_of!(podsync_frame_info, payload_length) == 88);
    assert!(offset_of!(podsync_frame_info, version) == 0);
    assert!(offset_of!(podsync_frame_info, format_version) == 4);
    assert!(offset_of!(podsync_frame_info, header_length) == 8);
    assert!(offset_of!(podsync_frame_info, flags) == 12);
    assert!(offset_of!(podsync_frame_info, section_count) == 16);
    assert!(offset_of!(podsync_frame_info, codec) == 20);
    assert!(offset_of!(podsync_frame_info, frame_length) == 24);
    assert!(offset_of!(podsync_frame_info, schema_hash) == 32);
    assert!(offset_of!(podsync_frame_info, stream_id) == 40);
    assert!(offset_of!(podsync_frame_info, sequence) == 48);
    assert!(offset_of!(podsync_frame_info, base_version) == 56);
    assert!(offset_of!(podsync_frame_info, state_version) == 64);
    assert!(offset_of!(podsync_frame_info, state_digest) == 72);

    assert!(size_of::<podsync_frame_section>() == 56);
    assert!(offset_of!(podsync_frame_section, version) == 0);
    assert!(offset_of!(podsync_frame_section, table_id) == 4);
    assert!(offset_of!(podsync_frame_section, record_size) == 8);
    assert!(offset_of!(podsync_frame_section, reserved) == 12);
    assert!(offset_of!(podsync_frame_section, put_count) == 16);
    assert!(offset_of!(podsync_frame_section, delete_count) == 24);
    assert!(offset_of!(podsync_frame_section, put_keys) == 32);
    assert!(offset_of!(podsync_frame_section, records) == 40);
    assert!(offset_of!(podsync_frame_section, delete_keys) == 48);

    assert!(size_of::<podsync_chunk_position>() == 64);
    assert!(offset_of!(podsync_chunk_position, version) == 0);
    assert!(offset_of!(podsync_chunk_position, start_table) == 4);
    assert!(offset_of!(podsync_chunk_position, stream_id) == 8);
    assert!(offset_of!(podsync_chunk_position, term) == 16);
    assert!(offset_of!(podsync_chunk_position, snapshot_id) == 24);
    assert!(offset_of!(podsync_chunk_position, state_version) == 32);
    assert!(offset_of!(podsync_chunk_position, chunk_index) == 40);
    assert!(offset_of!(podsync_chunk_position, start_key) == 48);

    assert!(size_of::<podsync_durability_options>() == 32);
    assert!(offset_of!(podsync_durability_options, version) == 0);
    assert!(offset_of!(podsync_durability_options, log_policy) == 4);
    assert!(offset_of!(podsync_durability_options, sync_interval_ms) == 8);
    assert!(offset_of!(podsync_durability_options, new_term) == 16);
    assert!(offset_of!(podsync_durability_options, keep_checkpoints) == 24);
    assert!(offset_of!(podsync_durability_options, flags) == 28);

    assert!(size_of::<podsync_open_info>() == 56);
    assert!(offset_of!(podsync_open_info, version) == 0);
    assert!(offset_of!(podsync_open_info, flags) == 4);
    assert!(offset_of!(podsync_open_info, checkpoint_version) == 8);
    assert!(offset_of!(podsync_open_info, restored_version) == 16);
    assert!(offset_of!(podsync_open_info, log_frames) == 24);
    assert!(offset_of!(podsync_open_info, dropped_bytes) == 32);
    assert!(offset_of!(podsync_open_info, term) == 40);
    assert!(offset_of!(podsync_open_info, skipped_status) == 48);
    assert!(offset_of!(podsync_open_info, reserved) == 52);

    assert!(size_of::<podsync_key_range>() == 16);
    assert!(offset_of!(podsync_key_range, lo) == 0);
    assert!(offset_of!(podsync_key_range, hi) == 8);

    assert!(size_of::<podsync_subscription_table>() == 16);
    assert!(offset_of!(podsync_subscription_table, table_id) == 0);
    assert!(offset_of!(podsync_subscription_table, range_count) == 4);
    assert!(offset_of!(podsync_subscription_table, ranges) == 8);

    assert!(size_of::<podsync_subscription>() == 32);
    assert!(offset_of!(podsync_subscription, version) == 0);
    assert!(offset_of!(podsync_subscription, shard_bits) == 4);
    assert!(offset_of!(podsync_subscription, shard_count) == 8);
    assert!(offset_of!(podsync_subscription, table_count) == 12);
    assert!(offset_of!(podsync_subscription, shards) == 16);
    assert!(offset_of!(podsync_subscription, tables) == 24);

    // Opaque handles are zero-sized and only ever used behind pointers.
    assert!(size_of::<podsync_schema>() == 0);
    assert!(size_of::<podsync_store>() == 0);
    assert!(size_of::<podsync_snapshot>() == 0);
    assert!(size_of::<podsync_checkpoint>() == 0);
};

// ---------------------------------------------------------------------------------------------
// Functions (every declaration of include/podsync.h, in its order)
// ---------------------------------------------------------------------------------------------

#[link(name = "podsync")]
unsafe extern "C" {
    // Versions
    /// The library's version as MAJOR*10000 + MINOR*100 + PATCH.
    pub safe fn podsync_version_number() -> u32;
    /// The ABI version the library implements; a host compares it with `PODSYNC_ABI_VERSION`.
    pub safe fn podsync_abi_version() -> u32;

    // Status codes: the returned string is static.
    /// The status's name, e.g. "`PODSYNC_E_FRAME_CHECKSUM`"; "`PODSYNC_UNKNOWN_STATUS`" for other
    /// values. The string is static.
    pub safe fn podsync_status_name(status: i32) -> *const c_char;
    /// The message of the last error any PodSync function returned on the calling thread ("" if
    /// none yet). It is how the functions that have no handle to keep a message report one
    /// (`podsync_schema_create`, `podsync_schema_decode`, `podsync_store_options_init`,
    /// `podsync_store_create`, `podsync_frame_*`, and calls given a NULL handle); functions with a
    /// handle record it there too. A successful call does not clear it. The string is owned by the
    /// library (per thread, at most 1023 bytes) and valid until the next PodSync call on this
    /// thread. (since library 0.4.0)
    pub safe fn podsync_last_errmsg() -> *const c_char;

    // Schema
    /// Creates an empty schema. On success `*out` receives a handle to free with
    /// `podsync_schema_free()`.
    pub fn podsync_schema_create(out: *mut *mut podsync_schema) -> i32;
    /// Frees a schema (NULL is accepted).
    pub fn podsync_schema_free(schema: *mut podsync_schema);
    /// The message of the last error on this schema ("" if none). Valid until the next call on it.
    pub fn podsync_schema_errmsg(schema: *const podsync_schema) -> *const c_char;
    /// Adds a table. table_id: any value, unique in the schema. record_size:
    /// 1..`PODSYNC_MAX_RECORD_SIZE` and a multiple of alignment. alignment: a power of two,
    /// 1..`PODSYNC_MAX_ALIGNMENT`. fields may be NULL when field_count is 0 (an opaque record).
    /// Returns `PODSYNC_E_SCHEMA_INVALID` with a message naming the offending part; the schema is
    /// then unchanged.
    pub fn podsync_schema_add_table(
        schema: *mut podsync_schema,
        table_id: u32,
        record_size: u32,
        alignment: u32,
        fields: *const podsync_field,
        field_count: usize,
    ) -> i32;
    /// The schema hash: XXH3-64 of the schema's canonical encoding (docs/FORMAT.md). Every frame
    /// carries it; a replica rejects a frame of another schema.
    pub fn podsync_schema_hash(schema: *const podsync_schema, hash_out: *mut u64) -> i32;
    /// Writes the canonical encoding into buffer (capacity bytes). `*size_out` receives the
    /// encoding's size in every case; if capacity is too small, returns
    /// `PODSYNC_E_BUFFER_TOO_SMALL` and writes nothing. buffer may be NULL when capacity is 0 (to
    /// query the size).
    pub fn podsync_schema_encode(
        schema: *const podsync_schema,
        buffer: *mut c_void,
        capacity: usize,
        size_out: *mut usize,
    ) -> i32;
    /// Builds a schema from a canonical encoding (e.g. received from the writer's process). `*out`
    /// receives a new schema on success, or NULL. Every byte is validated.
    pub fn podsync_schema_decode(
        data: *const c_void,
        size: usize,
        out: *mut *mut podsync_schema,
    ) -> i32;

    // Stores
    /// Fills `*options` with the defaults of the given struct version (1 to 4; a version-1 struct
    /// has no compression fields and gets frames that are never compressed; a version-2 struct
    /// gets the defaults of the version-3 limits, an older struct format-1 frames; version 4
    /// defaults to format 2 since library 0.8.0).
    pub fn podsync_store_options_init(options: *mut podsync_store_options, version: u32) -> i32;
    /// Creates a store for `schema` (which is copied; it may be freed afterwards). role is
    /// `PODSYNC_ROLE_WRITER` or `PODSYNC_ROLE_REPLICA`; options may be NULL for the defaults. On
    /// success `*out` receives a handle to free with `podsync_store_free()`; on failure `*out` is
    /// NULL.
    pub fn podsync_store_create(
        schema: *const podsync_schema,
        role: u32,
        options: *const podsync_store_options,
        out: *mut *mut podsync_store,
    ) -> i32;
    /// Frees a store (NULL is accepted).
    pub fn podsync_store_free(store: *mut podsync_store);
    /// The message of the last error on this store ("" if none). Valid until the next call on it.
    pub fn podsync_store_errmsg(store: *const podsync_store) -> *const c_char;

    // Writes (writer only)
    /// Inserts or replaces one record. record_size must equal the table's record size.
    pub fn podsync_store_put(
        store: *mut podsync_store,
        table_id: u32,
        key: u64,
        record: *const c_void,
        record_size: usize,
    ) -> i32;
    /// Inserts or replaces `count` records: keys\[i\] gets the record at records + i*record_size.
    /// records_size must equal count * the table's record size. If the same key appears twice, the
    /// later record wins. Validated before any change: on error nothing was written.
    pub fn podsync_store_put_many(
        store: *mut podsync_store,
        table_id: u32,
        keys: *const u64,
        records: *const c_void,
        count: usize,
        records_size: usize,
    ) -> i32;
    /// Deletes one record; `PODSYNC_NOT_FOUND` (nothing changed) if there is none under key.
    pub fn podsync_store_delete(store: *mut podsync_store, table_id: u32, key: u64) -> i32;
    /// Deletes the records under `count` keys; absent keys are skipped. `*deleted_out` (may be
    /// NULL) receives how many records were deleted.
    pub fn podsync_store_delete_many(
        store: *mut podsync_store,
        table_id: u32,
        keys: *const u64,
        count: usize,
        deleted_out: *mut usize,
    ) -> i32;

    // Flush policy (writer only)
    /// Sets the store's clock to now_ms (milliseconds on any monotonic scale). With
    /// `PODSYNC_OPT_MANUAL_CLOCK` this is the only time source; otherwise CLOCK_MONOTONIC is used
    /// and this call is not needed.
    pub fn podsync_store_set_time(store: *mut podsync_store, now_ms: u64) -> i32;
    /// `PODSYNC_FLUSH_DUE` if the policy says the pending batch should be flushed now (limits
    /// reached or oldest change older than max_batch_age_ms), else `PODSYNC_OK`.
    pub fn podsync_store_flush_due(store: *mut podsync_store) -> i32;

    // Producing frames
    /// Writer only: turns the pending batch into frames. Each frame advances the writer's version
    /// by one. An empty batch produces no frame and leaves the version as it is.
    ///
    /// A durable store logs the frames before returning them (fsync with
    /// `PODSYNC_LOG_EVERY_FRAME`). If the log cannot be written (`PODSYNC_E_IO`), no frame is
    /// handed out, the version the flush reached stays in memory, and every call that produces
    /// frames (flush, delta_since, snapshot, snapshot_begin) is refused with `PODSYNC_E_IO` until
    /// `podsync_store_checkpoint` succeeds (since library 0.6.0).
    pub fn podsync_store_flush(store: *mut podsync_store, frame_count_out: *mut usize) -> i32;
    /// One frame carrying every change since `since_version` (absolute values and deletions), as of
    /// the last flush (pending writes are not included). Produces no frame if since_version is the
    /// current version. Returns `PODSYNC_SNAPSHOT_REQUIRED` (and no frame) if since_version is
    /// older than the store covers (info.catchup_floor), `PODSYNC_E_VERSION_AHEAD` if it is newer
    /// than the store. since_version 0 produces a snapshot.
    pub fn podsync_store_delta_since(
        store: *mut podsync_store,
        since_version: u64,
        frame_count_out: *mut usize,
    ) -> i32;
    /// The whole state as of the last flush, flagged RESET: one frame when it fits in
    /// max_frame_bytes, else (since library 0.5.0) the chunks of a chunked snapshot, each at most
    /// max_frame_bytes, all in the outbox. To hold only one chunk at a time, stream it with
    /// `podsync_snapshot_begin()`.
    pub fn podsync_store_snapshot(store: *mut podsync_store, frame_count_out: *mut usize) -> i32;
    /// Borrows frame `index` of the outbox: `*data_out` and `*size_out` describe its bytes, which
    /// are 64-byte aligned and stay valid and unchanged until the next flush, delta_since, snapshot
    /// or free on this store.
    pub fn podsync_store_frame(
        store: *const podsync_store,
        index: usize,
        data_out: *mut *const u8,
        size_out: *mut usize,
    ) -> i32;

    // Applying frames (replica only)
    /// Validates the whole frame, then applies it atomically. size must be exactly the frame's
    /// length. Returns `PODSYNC_OK` (applied), `PODSYNC_DUPLICATE` (already had it), `PODSYNC_GAP`
    /// (the frame's base is ahead: ask for a delta since `*version_out`), `PODSYNC_STALE` (an older
    /// snapshot), or an error with the state unchanged (`PODSYNC_E_DIGEST_MISMATCH` excepted: see
    /// its definition). A delta is applied when base_version <= replica version < frame version; a
    /// snapshot replaces the state. Terms (format 2, since library 0.6.0): a frame of an older
    /// term than the replica follows is `PODSYNC_E_TERM_FENCED`; one of a newer term whose history
    /// left the replica's term before the replica's version is `PODSYNC_E_HISTORY_DIVERGED`
    /// (needs a snapshot). A durable replica logs each frame it applied; if that fails the frame
    /// stays applied and the call returns `PODSYNC_E_IO`. version_out may be NULL; it receives
    /// the replica's version after the call.
    pub fn podsync_store_apply(
        store: *mut podsync_store,
        frame: *const c_void,
        size: usize,
        version_out: *mut u64,
    ) -> i32;

    // Chunked snapshots (since library 0.5.0)
    /// Starts a chunked snapshot of the store's state (a writer's as of its last flush, a
    /// replica's as applied). max_chunk_bytes: the largest chunk, 0 for the store's
    /// max_frame_bytes; at least `PODSYNC_MIN_CHUNK_BYTES` (a chunk still holds at least one
    /// record, so a record larger than that makes a larger chunk). On success `*out` receives a
    /// handle to free with `podsync_snapshot_free()`. The snapshot belongs to its store for
    /// threading: use both from one thread at a time. It keeps the store alive (freeing the store
    /// first is allowed; the snapshot then still finishes). A diverged replica refuses with
    /// `PODSYNC_E_DIVERGED`. O(n log n) in the records.
    pub fn podsync_snapshot_begin(
        store: *mut podsync_store,
        max_chunk_bytes: usize,
        out: *mut *mut podsync_snapshot,
    ) -> i32;
    /// Continues a snapshot from a position (what a receiver's `podsync_store_staging()`
    /// reported): chunks from position->chunk_index, starting at its key, under the same snapshot
    /// id. Served when a snapshot with that id and version is still alive on this store, or when
    /// the store is still at that version of that stream; otherwise `PODSYNC_E_SNAPSHOT_EXPIRED`
    /// (the receiver then needs a new snapshot, whose chunk 0 replaces its staging).
    pub fn podsync_snapshot_resume(
        store: *mut podsync_store,
        position: *const podsync_chunk_position,
        max_chunk_bytes: usize,
        out: *mut *mut podsync_snapshot,
    ) -> i32;
    /// Produces the next chunk: `*data_out` and `*size_out` borrow its bytes (64-byte aligned),
    /// valid until the next call on this snapshot or its free. Returns `PODSYNC_OK`, or
    /// `PODSYNC_DONE` (NULL, 0) after the last chunk. Chunks are compressed like the store's
    /// frames.
    pub fn podsync_snapshot_next(
        snapshot: *mut podsync_snapshot,
        data_out: *mut *const u8,
        size_out: *mut usize,
    ) -> i32;
    /// The position of the next chunk (its index and first key; after the last, the index past
    /// it).
    pub fn podsync_snapshot_position(
        snapshot: *const podsync_snapshot,
        position: *mut podsync_chunk_position,
    ) -> i32;
    /// The message of the last error on this snapshot ("" if none). Valid until the next call on
    /// it.
    pub fn podsync_snapshot_errmsg(snapshot: *const podsync_snapshot) -> *const c_char;
    /// Frees a snapshot handle (the store it kept alive is freed with it if the store was freed
    /// before).
    pub fn podsync_snapshot_free(snapshot: *mut podsync_snapshot);
    /// Replica: the chunked snapshot it is staging and the chunk it needs next (to resume after
    /// `PODSYNC_CHUNK_GAP`), or `PODSYNC_NOT_FOUND` when it stages none.
    pub fn podsync_store_staging(
        store: *const podsync_store,
        position: *mut podsync_chunk_position,
    ) -> i32;

    // Durability and failover (since library 0.6.0)
    /// Fills `*options` with the defaults of the given struct version (1).
    pub fn podsync_durability_options_init(
        options: *mut podsync_durability_options,
        version: u32,
    ) -> i32;
    /// Opens the durable store in `directory` (created if missing), or creates one there. With no
    /// checkpoint in it, a store is created from `schema` and `role` and its first checkpoint
    /// (version 0) is written at once, so a writer's stream id is durable before its first frame.
    /// Otherwise the newest checkpoint that verifies is restored, then every log record after it,
    /// checking every checksum and stopping at the first torn or corrupt record
    /// (info->dropped_bytes); a newer checkpoint that fails is skipped
    /// (`PODSYNC_OPENED_FALLBACK`, info->skipped_status). `schema` may be NULL when opening (the
    /// checkpoint's schema is used); given, it must hash equal (`PODSYNC_E_SCHEMA_MISMATCH`).
    /// `role` 0 takes the files' role; another role than the files' is `PODSYNC_E_WRONG_ROLE`.
    /// `options` as for `podsync_store_create` (NULL: defaults; stream_id is ignored when
    /// opening). `durability` NULL: defaults. `info` may be NULL. A restored writer keeps its
    /// stream id and version: replicas continue with deltas. On error `*out` is NULL and
    /// `podsync_last_errmsg()` says why: `PODSYNC_E_IO` (cannot create, read or lock the
    /// directory), `PODSYNC_E_FILE_CORRUPT` (no checkpoint verifies; a log of another stream), or
    /// an error of the frames inside. Work: the files' size.
    pub fn podsync_store_open(
        directory: *const c_char,
        schema: *const podsync_schema,
        role: u32,
        options: *const podsync_store_options,
        durability: *const podsync_durability_options,
        info: *mut podsync_open_info,
        out: *mut *mut podsync_store,
    ) -> i32;
    /// Writes a checkpoint of a durable store now (all chunks; see `podsync_checkpoint_begin` to
    /// spread the work): the state as of the last flush (writer) or apply (replica). On success
    /// the new checkpoint is complete and durable, a new log segment starts, and checkpoints and
    /// log segments older than the kept ones are removed. On `PODSYNC_E_IO` (disk full,
    /// read-only) nothing of the new checkpoint remains and the older files and the store are as
    /// they were. A store that was not opened with `podsync_store_open`:
    /// `PODSYNC_E_INVALID_ARGUMENT`.
    pub fn podsync_store_checkpoint(store: *mut podsync_store) -> i32;
    /// Starts a checkpoint of the store's state now, to be written step by step while the store
    /// keeps working (writes, flushes, applies: the image is kept by copy-on-write, as for
    /// `podsync_snapshot_begin`). The handle belongs to its store for threading, like a snapshot.
    pub fn podsync_checkpoint_begin(
        store: *mut podsync_store,
        out: *mut *mut podsync_checkpoint,
    ) -> i32;
    /// Writes at least one chunk and about max_bytes (0: everything). Returns `PODSYNC_OK` while
    /// more remains, `PODSYNC_DONE` when the checkpoint is complete and durable (as
    /// `podsync_store_checkpoint`), or an error (the checkpoint is abandoned; its temporary file
    /// removed).
    pub fn podsync_checkpoint_step(checkpoint: *mut podsync_checkpoint, max_bytes: usize) -> i32;
    /// The message of the last error on this checkpoint ("" if none). Valid until the next call on
    /// it.
    pub fn podsync_checkpoint_errmsg(checkpoint: *const podsync_checkpoint) -> *const c_char;
    /// Abandons an unfinished checkpoint (its temporary file is removed). NULL is allowed.
    pub fn podsync_checkpoint_free(checkpoint: *mut podsync_checkpoint);
    /// Forces the frame log to disk now (fsync), whatever the policy.
    pub fn podsync_store_sync(store: *mut podsync_store) -> i32;
    /// Promotion: turns a replica into the writer of the stream it follows, in term `new_term`
    /// (greater than the term it follows; unique), continuing from its version. Its frames carry
    /// the term and its history (docs/FORMAT.md, "Terms and fencing"): replicas at versions up to
    /// the promotion point continue with deltas; one that applied later versions of the old term
    /// gets `PODSYNC_E_HISTORY_DIVERGED` and needs a snapshot; frames of the old term are refused
    /// by replicas that follow the new one (`PODSYNC_E_TERM_FENCED`). A durable store logs the
    /// promotion (fsync) before returning. Refused (`PODSYNC_E_WRONG_ROLE`, `PODSYNC_E_DIVERGED`,
    /// `PODSYNC_E_INVALID_ARGUMENT`) on a writer, a diverged or refreshing replica, one that
    /// follows no stream, or a term not above its own; a staged chunked snapshot is dropped.
    pub fn podsync_store_promote(store: *mut podsync_store, new_term: u64) -> i32;

    // Reads (writer and replica)
    /// `*record_out` receives the record under key, or NULL with `PODSYNC_NOT_FOUND`.
    pub fn podsync_store_get(
        store: *const podsync_store,
        table_id: u32,
        key: u64,
        record_out: *mut *const c_void,
    ) -> i32;
    /// Writes the number of live records in the table to *count_out.
    pub fn podsync_store_count(
        store: *const podsync_store,
        table_id: u32,
        count_out: *mut usize,
    ) -> i32;
    /// The table's live records as one contiguous array (count * record_size bytes, aligned to the
    /// table's alignment) and the parallel array of their keys. Order is unspecified (deleting
    /// moves the last record into the hole). With count 0 the pointers may be NULL.
    pub fn podsync_store_table(
        store: *const podsync_store,
        table_id: u32,
        records_out: *mut *const c_void,
        keys_out: *mut *const u64,
        count_out: *mut usize,
    ) -> i32;
    /// Fills *info (whose version the caller sets) with the store's state.
    pub fn podsync_store_info_get(
        store: *const podsync_store,
        info: *mut podsync_store_info,
    ) -> i32;
    /// The order-independent digest of the store's state (docs/FORMAT.md): equal on writer and
    /// replica when they hold the same records. The writer's digest covers flushed changes only.
    /// O(1).
    pub fn podsync_store_digest(store: *const podsync_store, digest_out: *mut u64) -> i32;
    /// Reads the store's counters into `*metrics` (whose version the caller sets: 1 to 3; a
    /// version-1 struct is filled up to apply_ns, a version-2 one up to dictionary_frames). O(1).
    pub fn podsync_store_metrics(store: *const podsync_store, metrics: *mut podsync_metrics)
    -> i32;

    // Reconciliation (since library 0.7.0)
    /// Puts a summary of the store's state into its outbox (one message; `*frame_count_out` = 1):
    /// the hashes of every bucket of the tree at `level` (16^level buckets; 0 = chosen from the
    /// record count, 1 to 5 otherwise). Any role; usually a replica that needs healing. Messages
    /// and repair frames are format-2 frames (flags SUMMARY, REPAIR) that go through the outbox
    /// like any frame (`podsync_store_frame`; valid until the next call that produces frames).
    pub fn podsync_store_summary(
        store: *mut podsync_store,
        level: u32,
        frame_count_out: *mut usize,
    ) -> i32;
    /// Answers a summary message from the other side of a reconciliation: the responder (writer
    /// or up-to-date replica) answers a replica's message with a message that descends the tree or
    /// with a repair frame; the replica answers the responder's message with a message. The answer
    /// goes to the outbox (`*frame_count_out` = 1), or nothing when there is nothing to repair
    /// (`*frame_count_out` = 0). `PODSYNC_E_INVALID_ARGUMENT` for a frame that is not a summary
    /// (frames are applied), `PODSYNC_E_DIVERGED` for a responder that is diverged or out of
    /// sync, `PODSYNC_E_REPAIR_STALE` when the exchange began at a version the responder can no
    /// longer describe (start again with `podsync_store_summary`). A message naming more than
    /// 2^20 buckets is `PODSYNC_E_FRAME_TOO_LARGE`, a malformed one `PODSYNC_E_FRAME_MALFORMED`.
    pub fn podsync_store_reconcile(
        store: *mut podsync_store,
        message: *const c_void,
        size: usize,
        frame_count_out: *mut usize,
    ) -> i32;

    // Change events (replica; since library 0.7.0)
    /// Turns change tracking on (`enabled` 1) or off (0); either way the lists start empty. With
    /// tracking on, every `podsync_store_apply` first empties the lists, then records the keys it
    /// upserted (inserted, or replaced with other bytes) and deleted, table by table, in the order
    /// it changed them (a frame's deletions before its puts). An apply that changed nothing
    /// (`PODSYNC_DUPLICATE`, `GAP`, `STALE`, `CHUNK_GAP`, an error) leaves the lists empty;
    /// `PODSYNC_E_DIGEST_MISMATCH` lists what it applied. A snapshot that replaces the state sets
    /// `PODSYNC_CHANGES_REPLACED`. `PODSYNC_E_WRONG_ROLE` on a writer.
    pub fn podsync_store_track_changes(store: *mut podsync_store, enabled: u32) -> i32;
    /// The keys of table `table_id` the last apply upserted and deleted. The arrays are borrowed
    /// from the store, valid until the next apply, `podsync_store_track_changes` or free on it;
    /// with a count of 0 a pointer may be NULL. `flags_out` receives `PODSYNC_CHANGES_*` (may be
    /// NULL). `PODSYNC_E_WRONG_ROLE` on a writer, `PODSYNC_E_INVALID_ARGUMENT` while tracking is
    /// off, `PODSYNC_E_UNKNOWN_TABLE`.
    pub fn podsync_store_changes(
        store: *const podsync_store,
        table_id: u32,
        upserted_out: *mut *const u64,
        upserted_count_out: *mut usize,
        deleted_out: *mut *const u64,
        deleted_count_out: *mut usize,
        flags_out: *mut u32,
    ) -> i32;

    // Subscriptions: selective sync (since library 0.8.0)
    /// Writes the canonical encoding of `*subscription` (docs/FORMAT.md, "Subscriptions"), the
    /// bytes a replica sends to its writer, to buffer. `*size_out` (required) receives its size;
    /// `PODSYNC_E_BUFFER_TOO_SMALL` when it exceeds capacity (buffer may then be NULL), with
    /// nothing written. `hash_out` (may be NULL) receives its hash, the subscription_hash its frames carry.
    /// `PODSYNC_E_INVALID_ARGUMENT` names what breaks the rules of `podsync_subscription` (tables
    /// are checked against a schema by `podsync_store_subscribe` and `podsync_store_feed`).
    pub fn podsync_subscription_encode(
        subscription: *const podsync_subscription,
        buffer: *mut c_void,
        capacity: usize,
        size_out: *mut usize,
        hash_out: *mut u64,
    ) -> i32;
    /// Makes an empty replica a subscriber of the subscription encoded in data (size bytes, as
    /// `podsync_subscription_encode` writes them; every byte is checked): it then holds only that
    /// subset, applies only its feed's frames, and serves the subset to further replicas of the
    /// same subscription. Only a replica that holds no record and follows no stream yet (and is
    /// not durable, in this version) may subscribe, once: `PODSYNC_E_INVALID_ARGUMENT` otherwise,
    /// or for an encoding that breaks a rule or names a table the schema lacks;
    /// `PODSYNC_E_WRONG_ROLE` on a writer.
    pub fn podsync_store_subscribe(
        store: *mut podsync_store,
        data: *const c_void,
        size: usize,
    ) -> i32;
    /// The feed of the subscription encoded in data on `store`, its *writer*: a writer, or a
    /// replica of the whole stream (a *relay*). The feed holds the writer's records of the subset
    /// as of its last flush (a relay: its last apply) and follows each later flush (apply).
    /// Asking again for the same subscription returns the same feed (compare the pointers).
    /// `*feed_out` receives a new reference: release it with `podsync_store_free()`; the writer
    /// stops updating the feed once every reference is released. A feed outliving its writer
    /// keeps its state and serves it, but no longer changes.
    ///
    /// A feed is a writer whose writes come from its writer: `podsync_store_put`, `_delete` and
    /// the like are `PODSYNC_E_WRONG_ROLE` on it. `podsync_store_flush(feed)` turns what the
    /// writer's flushes changed in the subset since the feed's last flush into one frame (or none)
    /// at the writer's version (a relay's feed takes each delta the relay applies key by key; any
    /// other frame the relay applies, a snapshot, a chunked one's last chunk, a repair, a one-way
    /// refresh, rebuilds the feed from the relay's state, whose catch-up floor then starts there,
    /// and ends the feed's chunked snapshots in flight: `PODSYNC_E_SNAPSHOT_EXPIRED`). Reads,
    /// digest, info, delta_since, snapshot, snapshot_begin, summary and reconcile work as on any
    /// writer. `PODSYNC_E_WRONG_ROLE` on a feed or a subscribed replica; `PODSYNC_E_DIVERGED` on
    /// a relay that is diverged or out of sync; `PODSYNC_E_INVALID_ARGUMENT` for an encoding that
    /// breaks a rule or names a table the schema lacks; `PODSYNC_E_NO_MEMORY`.
    ///
    /// A writer and its feeds are one object for threads and borrowed memory: the writer's flush
    /// (a relay's apply) writes into the feed's store, so record pointers borrowed from a feed do
    /// not survive it; a feed's outbox changes only with calls on the feed.
    pub fn podsync_store_feed(
        store: *mut podsync_store,
        data: *const c_void,
        size: usize,
        feed_out: *mut *mut podsync_store,
    ) -> i32;
    /// The subscription a store holds (a subscribed replica, or a feed): `*data_out` and
    /// `*size_out` (required) describe its canonical encoding, owned by the store and valid until
    /// it is freed; `hash_out` (may be NULL) receives its hash. `PODSYNC_NOT_FOUND`, with
    /// `*data_out` NULL and `*size_out` 0, for a store of the whole stream.
    pub fn podsync_store_subscription(
        store: *const podsync_store,
        data_out: *mut *const u8,
        size_out: *mut usize,
        hash_out: *mut u64,
    ) -> i32;

    // Compression dictionaries (since library 0.3.0)
    /// Starts keeping the packed stream (the bytes zstd compresses) of every frame this store
    /// produces from now on, each whole, while it fits in what is left of max_bytes: a frame that
    /// does not fit is skipped, not cut. 0 stops and discards them. Needs compression_level != 0.
    /// Training needs 8 kept frames, so max_bytes should be at least 8 times a typical frame (100
    /// times the dictionary size is ideal); the training error says how many frames were kept and
    /// how many skipped.
    pub fn podsync_store_collect_samples(store: *mut podsync_store, max_bytes: usize) -> i32;
    /// Trains a dictionary of at most max_size bytes (0: 16 KiB; 256 .. 4 MiB) from the samples
    /// collected (at least 8 frames; about 100 times max_size is ideal), loads it, stops collecting
    /// and writes its id to `*dict_id_out` (may be NULL). Takes tens to hundreds of milliseconds:
    /// call it off the hot path.
    pub fn podsync_store_train_dictionary(
        store: *mut podsync_store,
        max_size: usize,
        dict_id_out: *mut u32,
    ) -> i32;
    /// Loads a zstd dictionary (copied; it must carry a dictionary id: one trained by PodSync or by
    /// `zstd --train`), so frames compressed with it can be applied; frames this store produces
    /// from now on are compressed with it. Loading an id already loaded replaces it. `*dict_id_out`
    /// may be NULL.
    pub fn podsync_store_load_dictionary(
        store: *mut podsync_store,
        dict: *const c_void,
        size: usize,
        dict_id_out: *mut u32,
    ) -> i32;
    /// The dictionary this store compresses with: `*dict_out` borrows its bytes until the next
    /// train/load or `podsync_store_free()`. `PODSYNC_NOT_FOUND` (and NULL, 0, 0) when it has none.
    /// Any of the out-pointers may be NULL.
    pub fn podsync_store_dictionary(
        store: *const podsync_store,
        dict_out: *mut *const c_void,
        size_out: *mut usize,
        dict_id_out: *mut u32,
    ) -> i32;

    // Reading frames without a store
    /// Reads a frame's header from the first `size` bytes (the rest of the frame need not be
    /// there). Checks magic, format version and header length only. Fewer than
    /// `PODSYNC_FRAME_PREFIX_SIZE` bytes, or fewer than the header's length, return
    /// `PODSYNC_E_FRAME_TRUNCATED` (with format_version and header_length filled once the prefix is
    /// there).
    pub fn podsync_frame_peek(
        data: *const c_void,
        size: usize,
        info: *mut podsync_frame_info,
    ) -> i32;
    /// Validates a whole frame (size must be exactly its length): header, checksum and the layout
    /// of every section, without a schema, decompressing a compressed payload of up to 1 GiB to
    /// check it (`podsync_frame_validate_limited` sets that limit). Records are checked, not
    /// decoded: the work is linear in the frame's size and its decompressed payload. info may be
    /// NULL; on failure after the header was read, info holds the header's fields. A frame
    /// compressed with a dictionary returns `PODSYNC_E_DICTIONARY_MISSING` (apply it to a store
    /// that has loaded the dictionary).
    pub fn podsync_frame_validate(
        data: *const c_void,
        size: usize,
        info: *mut podsync_frame_info,
    ) -> i32;
    /// `podsync_frame_validate` with the largest decompressed payload, and the largest decoded size
    /// of the sections (8 bytes a key plus the records), it accepts: larger ones return
    /// `PODSYNC_E_FRAME_TOO_LARGE` before anything is allocated. 0 means 1 GiB. (since library
    /// 0.4.0)
    pub fn podsync_frame_validate_limited(
        data: *const c_void,
        size: usize,
        max_decoded_bytes: u64,
        info: *mut podsync_frame_info,
    ) -> i32;
    /// Reads section `index` (< section_count) of a validated frame in place. data must be 8-byte
    /// aligned. The section layout is checked again (bounds), the checksum is not. Only frames that
    /// are neither compressed nor transformed can be read in place: others return
    /// `PODSYNC_E_UNSUPPORTED_CODEC` (apply them to a replica to read their records).
    pub fn podsync_frame_section_get(
        data: *const c_void,
        size: usize,
        index: usize,
        section: *mut podsync_frame_section,
    ) -> i32;

    // Metrics as Prometheus text (since library 0.4.0)
    /// Formats `*metrics` (as `podsync_store_metrics` filled it; struct version 1 or later, a
    /// version-1 struct has no saved_by_zero_columns .. dictionary_frames and they are left out)
    /// as Prometheus text exposition (format 0.0.4) into buffer, NUL-terminated: for each metric a
    /// "# HELP" and a "# TYPE" line, then its samples, one per line. Every name starts with
    /// `podsync_`; counters end in `_total`, byte counters in `_bytes_total`
    /// (`podsync_frames_out_total`, `podsync_frames_out_wire_bytes_total`, ...); savings carry a
    /// label `by="key_gaps" | "zero_columns" | "compression"`, rejected applies
    /// `status="PODSYNC_E_..."` (every error status that has a name, and the number for any other
    /// status counted). The time histograms are Prometheus histograms in seconds,
    /// `podsync_encode_duration_seconds` and `podsync_apply_duration_seconds`: log2 bucket i
    /// (durations in \[2^i, 2^(i+1)) ns) is cumulated into le = (2^(i+1) - 1) ns, written in
    /// seconds (`le="0.000000001"`, `"0.000000003"`, ... `"2.147483647"`), and the last bucket
    /// into `le="+Inf"`, which equals `_count`. They have no `_sum`: the struct keeps counts per
    /// bucket, not the total time.
    ///
    /// labels: NULL or "" for none, or labels added to every sample, preformatted as in the
    /// exposition format: `name="value"` pairs joined by commas, such as `store="a",role="writer"`
    /// (at most 4096 bytes; names match `[a-zA-Z_][a-zA-Z0-9_]*`, do not start with `__`, are
    /// unique and are not `le`, `by` or `status`; values are UTF-8 in which a backslash, a double
    /// quote and a line break are written `\\`, `\"` and `\n`). Anything else returns
    /// `PODSYNC_E_INVALID_ARGUMENT` with a message naming it.
    ///
    /// `*size_out` (required) receives the size of the text including its NUL; if capacity is
    /// smaller, returns `PODSYNC_E_BUFFER_TOO_SMALL` and writes nothing. buffer may be NULL when
    /// capacity is 0 (to query the size). The text depends only on the arguments (a few KiB).
    pub fn podsync_metrics_prometheus(
        metrics: *const podsync_metrics,
        labels: *const c_char,
        buffer: *mut c_char,
        capacity: usize,
        size_out: *mut usize,
    ) -> i32;
}
