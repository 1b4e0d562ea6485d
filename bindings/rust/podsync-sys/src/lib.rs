//! Raw FFI declarations of `libpodsync.so`, written by hand from `include/podsync.h` (ABI version 1).
//!
//! Every item here mirrors the header one to one: the same names, the same integer types, the same
//! struct layouts (checked at compile time below against the sizes and offsets of `docs/ABI.md`).
//! The header is the contract; read it for the meaning of each function. Use the safe `podsync`
//! crate unless you need the C API itself.
//!
//! Linking: the build script finds the library through `PODSYNC_LIB_DIR`, then the repository's
//! `.build/release`, and links `dylib=podsync`. It exports the directory to dependents' build
//! scripts as `DEP_PODSYNC_LIB_DIR`.
//!
//! Functions that take no pointer (the version queries and `podsync_status_name`) are declared
//! `safe`; every other function is `unsafe` to call: the caller guarantees that pointers are valid
//! for the sizes passed and that a handle is used by one thread at a time.
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

#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_void};
use core::marker::{PhantomData, PhantomPinned};
use core::mem::{offset_of, size_of};
use core::ptr;

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

pub const PODSYNC_VERSION_MAJOR: u32 = 0;
pub const PODSYNC_VERSION_MINOR: u32 = 3;
pub const PODSYNC_VERSION_PATCH: u32 = 0;
pub const PODSYNC_VERSION_NUMBER: u32 =
    PODSYNC_VERSION_MAJOR * 10000 + PODSYNC_VERSION_MINOR * 100 + PODSYNC_VERSION_PATCH;
pub const PODSYNC_ABI_VERSION: u32 = 1;
pub const PODSYNC_FORMAT_VERSION: u32 = 1;

// ---------------------------------------------------------------------------------------------
// Status codes (values pinned)
// ---------------------------------------------------------------------------------------------

pub const PODSYNC_OK: i32 = 0;
pub const PODSYNC_FLUSH_DUE: i32 = 1;
pub const PODSYNC_NOT_FOUND: i32 = 2;
pub const PODSYNC_DUPLICATE: i32 = 3;
pub const PODSYNC_GAP: i32 = 4;
pub const PODSYNC_STALE: i32 = 5;
pub const PODSYNC_SNAPSHOT_REQUIRED: i32 = 6;
pub const PODSYNC_E_INVALID_ARGUMENT: i32 = -1;
pub const PODSYNC_E_UNKNOWN_TABLE: i32 = -2;
pub const PODSYNC_E_RECORD_SIZE: i32 = -3;
pub const PODSYNC_E_BUFFER_TOO_SMALL: i32 = -4;
pub const PODSYNC_E_NO_MEMORY: i32 = -5;
pub const PODSYNC_E_WRONG_ROLE: i32 = -6;
pub const PODSYNC_E_SCHEMA_INVALID: i32 = -7;
pub const PODSYNC_E_FRAME_TRUNCATED: i32 = -10;
pub const PODSYNC_E_FRAME_MAGIC: i32 = -11;
pub const PODSYNC_E_FRAME_VERSION: i32 = -12;
pub const PODSYNC_E_FRAME_CHECKSUM: i32 = -13;
pub const PODSYNC_E_FRAME_MALFORMED: i32 = -14;
pub const PODSYNC_E_SCHEMA_MISMATCH: i32 = -15;
pub const PODSYNC_E_STREAM_MISMATCH: i32 = -16;
pub const PODSYNC_E_UNSUPPORTED_CODEC: i32 = -17;
pub const PODSYNC_E_DIGEST_MISMATCH: i32 = -18;
pub const PODSYNC_E_DIVERGED: i32 = -19;
pub const PODSYNC_E_VERSION_AHEAD: i32 = -20;
pub const PODSYNC_E_FRAME_TOO_LARGE: i32 = -21;
pub const PODSYNC_E_DICTIONARY_MISSING: i32 = -22;
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

pub const PODSYNC_MAX_TABLES: u32 = 1024;
pub const PODSYNC_MAX_FIELDS: u32 = 1024;
pub const PODSYNC_MAX_FIELD_NAME: u32 = 255;
pub const PODSYNC_MAX_RECORD_SIZE: u32 = 1048576;
pub const PODSYNC_MAX_ALIGNMENT: u32 = 64;

pub const PODSYNC_TYPE_U8: u32 = 1;
pub const PODSYNC_TYPE_U16: u32 = 2;
pub const PODSYNC_TYPE_U32: u32 = 3;
pub const PODSYNC_TYPE_U64: u32 = 4;
pub const PODSYNC_TYPE_I8: u32 = 5;
pub const PODSYNC_TYPE_I16: u32 = 6;
pub const PODSYNC_TYPE_I32: u32 = 7;
pub const PODSYNC_TYPE_I64: u32 = 8;
pub const PODSYNC_TYPE_F32: u32 = 9;
pub const PODSYNC_TYPE_F64: u32 = 10;
pub const PODSYNC_TYPE_BYTES: u32 = 11;

/// `podsync_field`: one field of a record (24 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct podsync_field {
    /// NUL-terminated, 1..=PODSYNC_MAX_FIELD_NAME bytes, unique in its table.
    pub name: *const c_char,
    /// `PODSYNC_TYPE_*`.
    pub r#type: u32,
    pub offset: u32,
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

pub const PODSYNC_ROLE_WRITER: u32 = 1;
pub const PODSYNC_ROLE_REPLICA: u32 = 2;

pub const PODSYNC_OPT_FRAME_DIGEST: u32 = 0x1;
pub const PODSYNC_OPT_MANUAL_CLOCK: u32 = 0x2;

pub const PODSYNC_STORE_OPTIONS_VERSION: u32 = 2;

pub const PODSYNC_TRANSFORM_XOR: u32 = 0x1;
pub const PODSYNC_TRANSFORM_TRANSPOSE: u32 = 0x2;
pub const PODSYNC_TRANSFORM_KEY_GAPS: u32 = 0x4;
/// Since library 0.3.0.
pub const PODSYNC_TRANSFORM_COLUMNS: u32 = 0x8;
pub const PODSYNC_TRANSFORM_ALL: u32 = 0xF;

/// `podsync_store_options` (72 bytes, versioned; a version-1 struct ends at byte 56).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_store_options {
    pub version: u32,
    pub flags: u32,
    pub stream_id: u64,
    pub max_batch_records: u64,
    pub max_batch_bytes: u64,
    pub max_batch_age_ms: u64,
    pub max_frame_bytes: u64,
    pub tombstone_horizon: u64,
    /// Since options version 2 (library 0.2.0).
    pub compression_level: i32,
    pub transforms: u32,
    pub max_decoded_bytes: u64,
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
};

pub const PODSYNC_STORE_INFO_VERSION: u32 = 1;

/// `podsync_store_info` (80 bytes, versioned output struct).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_store_info {
    pub version: u32,
    pub role: u32,
    pub schema_hash: u64,
    pub stream_id: u64,
    pub state_version: u64,
    pub sequence: u64,
    pub digest: u64,
    pub catchup_floor: u64,
    pub pending_changes: u64,
    pub generation: u64,
    pub diverged: u32,
    pub table_count: u32,
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
};

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

pub const PODSYNC_METRICS_VERSION: u32 = 2;
pub const PODSYNC_METRICS_BUCKETS: usize = 32;
pub const PODSYNC_METRICS_STATUSES: usize = 32;

/// `podsync_metrics` (936 bytes, versioned output struct; since library 0.2.0; a version-1 struct
/// ends at byte 904, after `apply_ns`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_metrics {
    pub version: u32,
    pub reserved: u32,
    pub frames_out: u64,
    pub records_out: u64,
    pub raw_bytes_out: u64,
    pub wire_bytes_out: u64,
    pub saved_by_key_gaps: u64,
    pub saved_by_compression: u64,
    pub compressed_frames: u64,
    pub writes: u64,
    pub coalesced_writes: u64,
    pub frames_applied: u64,
    pub records_applied: u64,
    pub wire_bytes_in: u64,
    pub duplicates: u64,
    pub gaps: u64,
    pub stale: u64,
    pub resyncs: u64,
    pub rejects: [u64; PODSYNC_METRICS_STATUSES],
    pub encode_ns: [u64; PODSYNC_METRICS_BUCKETS],
    pub apply_ns: [u64; PODSYNC_METRICS_BUCKETS],
    /// Since metrics version 2 (library 0.3.0).
    pub saved_by_zero_columns: u64,
    pub raw_column_bytes: u64,
    pub column_trials: u64,
    pub dictionary_frames: u64,
}

const _: () = {
    assert!(core::mem::size_of::<podsync_metrics>() == 936);
    assert!(core::mem::offset_of!(podsync_metrics, rejects) == 136);
    assert!(core::mem::offset_of!(podsync_metrics, saved_by_zero_columns) == 904);
    assert!(core::mem::offset_of!(podsync_metrics, dictionary_frames) == 928);
};

pub const PODSYNC_FRAME_HEADER_SIZE: usize = 88;

pub const PODSYNC_FRAME_RESET: u32 = 0x1;
pub const PODSYNC_FRAME_HAS_DIGEST: u32 = 0x2;

pub const PODSYNC_CODEC_NONE: u32 = 0;
pub const PODSYNC_CODEC_ZSTD: u32 = 1;

pub const PODSYNC_FRAME_INFO_VERSION: u32 = 2;

/// `podsync_frame_info` (96 bytes, versioned output struct; version 1 ends at byte 80).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_frame_info {
    pub version: u32,
    pub format_version: u32,
    pub header_length: u32,
    pub flags: u32,
    pub section_count: u32,
    pub codec: u32,
    pub frame_length: u64,
    pub schema_hash: u64,
    pub stream_id: u64,
    pub sequence: u64,
    pub base_version: u64,
    pub state_version: u64,
    pub state_digest: u64,
    /// Since frame info version 2 (library 0.2.0).
    pub transforms: u32,
    /// Id of the zstd dictionary the payload is compressed with, 0 for none (named `reserved`
    /// and always 0 before library 0.3.0).
    pub dictionary_id: u32,
    pub payload_length: u64,
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
};

pub const PODSYNC_FRAME_SECTION_VERSION: u32 = 1;

/// `podsync_frame_section` (56 bytes, versioned output struct): pointers into the frame's bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct podsync_frame_section {
    pub version: u32,
    pub table_id: u32,
    pub record_size: u32,
    pub reserved: u32,
    pub put_count: u64,
    pub delete_count: u64,
    pub put_keys: *const u64,
    pub records: *const c_void,
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

    assert!(size_of::<podsync_store_options>() == 72);
    assert!(offset_of!(podsync_store_options, compression_level) == 56);
    assert!(offset_of!(podsync_store_options, transforms) == 60);
    assert!(offset_of!(podsync_store_options, max_decoded_bytes) == 64);
    assert!(offset_of!(podsync_store_options, version) == 0);
    assert!(offset_of!(podsync_store_options, flags) == 4);
    assert!(offset_of!(podsync_store_options, stream_id) == 8);
    assert!(offset_of!(podsync_store_options, max_batch_records) == 16);
    assert!(offset_of!(podsync_store_options, max_batch_bytes) == 24);
    assert!(offset_of!(podsync_store_options, max_batch_age_ms) == 32);
    assert!(offset_of!(podsync_store_options, max_frame_bytes) == 40);
    assert!(offset_of!(podsync_store_options, tombstone_horizon) == 48);

    assert!(size_of::<podsync_store_info>() == 80);
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

    assert!(size_of::<podsync_frame_info>() == 96);
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

    // Opaque handles are zero-sized and only ever used behind pointers.
    assert!(size_of::<podsync_schema>() == 0);
    assert!(size_of::<podsync_store>() == 0);
};

// ---------------------------------------------------------------------------------------------
// Functions (every declaration of include/podsync.h, in its order)
// ---------------------------------------------------------------------------------------------

#[link(name = "podsync")]
unsafe extern "C" {
    // Versions
    pub safe fn podsync_version_number() -> u32;
    pub safe fn podsync_abi_version() -> u32;

    // Status codes: the returned string is static.
    pub safe fn podsync_status_name(status: i32) -> *const c_char;

    // Schema
    pub fn podsync_schema_create(out: *mut *mut podsync_schema) -> i32;
    pub fn podsync_schema_free(schema: *mut podsync_schema);
    pub fn podsync_schema_errmsg(schema: *const podsync_schema) -> *const c_char;
    pub fn podsync_schema_add_table(
        schema: *mut podsync_schema,
        table_id: u32,
        record_size: u32,
        alignment: u32,
        fields: *const podsync_field,
        field_count: usize,
    ) -> i32;
    pub fn podsync_schema_hash(schema: *const podsync_schema, hash_out: *mut u64) -> i32;
    pub fn podsync_schema_encode(
        schema: *const podsync_schema,
        buffer: *mut c_void,
        capacity: usize,
        size_out: *mut usize,
    ) -> i32;
    pub fn podsync_schema_decode(
        data: *const c_void,
        size: usize,
        out: *mut *mut podsync_schema,
    ) -> i32;

    // Stores
    pub fn podsync_store_options_init(options: *mut podsync_store_options, version: u32) -> i32;
    pub fn podsync_store_create(
        schema: *const podsync_schema,
        role: u32,
        options: *const podsync_store_options,
        out: *mut *mut podsync_store,
    ) -> i32;
    pub fn podsync_store_free(store: *mut podsync_store);
    pub fn podsync_store_errmsg(store: *const podsync_store) -> *const c_char;

    // Writes (writer only)
    pub fn podsync_store_put(
        store: *mut podsync_store,
        table_id: u32,
        key: u64,
        record: *const c_void,
        record_size: usize,
    ) -> i32;
    pub fn podsync_store_put_many(
        store: *mut podsync_store,
        table_id: u32,
        keys: *const u64,
        records: *const c_void,
        count: usize,
        records_size: usize,
    ) -> i32;
    pub fn podsync_store_delete(store: *mut podsync_store, table_id: u32, key: u64) -> i32;
    pub fn podsync_store_delete_many(
        store: *mut podsync_store,
        table_id: u32,
        keys: *const u64,
        count: usize,
        deleted_out: *mut usize,
    ) -> i32;

    // Flush policy (writer only)
    pub fn podsync_store_set_time(store: *mut podsync_store, now_ms: u64) -> i32;
    pub fn podsync_store_flush_due(store: *mut podsync_store) -> i32;

    // Producing frames
    pub fn podsync_store_flush(store: *mut podsync_store, frame_count_out: *mut usize) -> i32;
    pub fn podsync_store_delta_since(
        store: *mut podsync_store,
        since_version: u64,
        frame_count_out: *mut usize,
    ) -> i32;
    pub fn podsync_store_snapshot(store: *mut podsync_store, frame_count_out: *mut usize) -> i32;
    pub fn podsync_store_frame(
        store: *const podsync_store,
        index: usize,
        data_out: *mut *const u8,
        size_out: *mut usize,
    ) -> i32;

    // Applying frames (replica only)
    pub fn podsync_store_apply(
        store: *mut podsync_store,
        frame: *const c_void,
        size: usize,
        version_out: *mut u64,
    ) -> i32;

    // Reads (writer and replica)
    pub fn podsync_store_get(
        store: *const podsync_store,
        table_id: u32,
        key: u64,
        record_out: *mut *const c_void,
    ) -> i32;
    pub fn podsync_store_count(
        store: *const podsync_store,
        table_id: u32,
        count_out: *mut usize,
    ) -> i32;
    pub fn podsync_store_table(
        store: *const podsync_store,
        table_id: u32,
        records_out: *mut *const c_void,
        keys_out: *mut *const u64,
        count_out: *mut usize,
    ) -> i32;
    pub fn podsync_store_info_get(
        store: *const podsync_store,
        info: *mut podsync_store_info,
    ) -> i32;
    pub fn podsync_store_digest(store: *const podsync_store, digest_out: *mut u64) -> i32;
    pub fn podsync_store_metrics(store: *const podsync_store, metrics: *mut podsync_metrics) -> i32;

    // Compression dictionaries (since library 0.3.0)
    pub fn podsync_store_collect_samples(store: *mut podsync_store, max_bytes: usize) -> i32;
    pub fn podsync_store_train_dictionary(
        store: *mut podsync_store,
        max_size: usize,
        dict_id_out: *mut u32,
    ) -> i32;
    pub fn podsync_store_load_dictionary(
        store: *mut podsync_store,
        dict: *const c_void,
        size: usize,
        dict_id_out: *mut u32,
    ) -> i32;
    pub fn podsync_store_dictionary(
        store: *const podsync_store,
        dict_out: *mut *const c_void,
        size_out: *mut usize,
        dict_id_out: *mut u32,
    ) -> i32;

    // Reading frames without a store
    pub fn podsync_frame_peek(
        data: *const c_void,
        size: usize,
        info: *mut podsync_frame_info,
    ) -> i32;
    pub fn podsync_frame_validate(
        data: *const c_void,
        size: usize,
        info: *mut podsync_frame_info,
    ) -> i32;
    pub fn podsync_frame_section_get(
        data: *const c_void,
        size: usize,
        index: usize,
        section: *mut podsync_frame_section,
    ) -> i32;
}
