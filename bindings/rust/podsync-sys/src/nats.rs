//! Raw FFI declarations of `libpodsync_nats.so`, written by hand from `include/podsync_nats.h`
//! (the NATS JetStream carrier, ABI version 1 of that header): compiled with the cargo feature
//! `nats`, which also links `dylib=podsync_nats` (see build.rs).
//!
//! The carrier drives a store only through `podsync.h`: a store attached to a publisher or a
//! follower must outlive it, and the store and its publisher or follower are used by one thread
//! at a time together. Carrier calls return the engine's statuses unchanged, or
//! `PODSYNC_NATS_E_*` (in the range -60 .. -79 that `podsync.h` reserves for carriers).
//! tests/header.rs checks these declarations against the header.

use core::ffi::c_char;
use core::marker::{PhantomData, PhantomPinned};
use core::mem::{offset_of, size_of};
use core::ptr;

use crate::podsync_store;

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/// The carrier library's version as `MAJOR*10000 + MINOR*100 + PATCH` (0.1.0; compare with
/// `podsync_nats_version_number()`).
pub const PODSYNC_NATS_VERSION_NUMBER: u32 = 100;
/// Bumped whenever a declaration in `podsync_nats.h` changes incompatibly (until 1.0).
pub const PODSYNC_NATS_ABI_VERSION: u32 = 1;

// ---------------------------------------------------------------------------------------------
// Statuses (the carrier's own errors; podsync.h reserves -60 .. -79 for carriers)
// ---------------------------------------------------------------------------------------------

/// Cannot connect, or the connection is lost or closed.
pub const PODSYNC_NATS_E_CONNECTION: i32 = -60;
/// The server did not answer within `timeout_ms`.
pub const PODSYNC_NATS_E_TIMEOUT: i32 = -61;
/// A follower's stream does not exist (yet).
pub const PODSYNC_NATS_E_STREAM_MISSING: i32 = -62;
/// A frame is larger than the server accepts; nothing was published (set `max_frame_bytes` on the
/// store).
pub const PODSYNC_NATS_E_MSG_TOO_LARGE: i32 = -63;
/// JetStream refused a request (the message has its error code and description).
pub const PODSYNC_NATS_E_SERVER: i32 = -64;
/// A message on the carrier's subjects that is not what it should be (not a frame, a snapshot
/// marker with missing or contradictory headers); it was skipped.
pub const PODSYNC_NATS_E_NOT_A_MESSAGE: i32 = -65;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// The `podsync_nats_options` struct version this header declares.
pub const PODSYNC_NATS_OPTIONS_VERSION: u32 = 1;

/// Streams a publisher creates are stored in files.
pub const PODSYNC_NATS_STORAGE_FILE: u32 = 0;
/// Streams a publisher creates are kept in memory.
pub const PODSYNC_NATS_STORAGE_MEMORY: u32 = 1;

/// `podsync_nats_options` (72 bytes, versioned): how a publisher or follower connects, and the
/// streams a publisher creates.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct podsync_nats_options {
    /// Set by the caller: `PODSYNC_NATS_OPTIONS_VERSION`.
    pub version: u32,
    /// Streams a publisher creates: `PODSYNC_NATS_STORAGE_*`.
    pub storage: u32,
    /// Streams a publisher creates: replicas (0: 1).
    pub replicas: u32,
    /// Reconnect attempts per server; -1 forever (default).
    pub max_reconnects: i32,
    /// The frame stream's age limit (0: none).
    pub max_age_ms: u64,
    /// The frame stream's size limit (0: none).
    pub max_bytes: u64,
    /// Publisher: a snapshot after this many versions (0: not by count); default 600.
    pub snapshot_every_versions: u64,
    /// Publisher: a snapshot when this much time passed since the last one and the version moved
    /// (0: not by time); default 10000.
    pub snapshot_every_ms: u64,
    /// Each request and publish acknowledgement (default 5000).
    pub timeout_ms: u64,
    /// Between reconnect attempts (default 100).
    pub reconnect_wait_ms: u64,
    /// The connection's name in the server's monitoring (NULL: "podsync"); copied.
    pub client_name: *const c_char,
}

/// `PODSYNC_NATS_OPTIONS_INIT`.
pub const PODSYNC_NATS_OPTIONS_INIT: podsync_nats_options = podsync_nats_options {
    version: PODSYNC_NATS_OPTIONS_VERSION,
    storage: PODSYNC_NATS_STORAGE_FILE,
    replicas: 1,
    max_reconnects: -1,
    max_age_ms: 0,
    max_bytes: 0,
    snapshot_every_versions: 600,
    snapshot_every_ms: 10000,
    timeout_ms: 5000,
    reconnect_wait_ms: 100,
    client_name: ptr::null(),
};

// ---------------------------------------------------------------------------------------------
// Publisher
// ---------------------------------------------------------------------------------------------

/// Opaque publisher handle (`podsync_nats_publisher`): a writer store attached to a stream.
#[repr(C)]
pub struct podsync_nats_publisher {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// The `podsync_nats_publisher_stats` struct version this header declares.
pub const PODSYNC_NATS_PUBLISHER_STATS_VERSION: u32 = 1;

/// `podsync_nats_publisher_stats` (72 bytes, versioned).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct podsync_nats_publisher_stats {
    /// Set by the caller: `PODSYNC_NATS_PUBLISHER_STATS_VERSION`.
    pub version: u32,
    /// 1 while the connection is up.
    pub connected: u32,
    /// Acknowledged frames.
    pub frames_published: u64,
    /// Their bytes.
    pub bytes_published: u64,
    /// Kept for the next flush.
    pub frames_pending: u64,
    /// Dropped past the pending limit.
    pub frames_dropped: u64,
    /// Snapshots published.
    pub snapshots_published: u64,
    /// The version of the newest complete snapshot.
    pub snapshot_version: u64,
    /// The frame stream's sequence of the last acknowledged frame.
    pub last_sequence: u64,
    /// Reconnects of the connection.
    pub reconnects: u64,
}

/// `PODSYNC_NATS_PUBLISHER_STATS_INIT`.
pub const PODSYNC_NATS_PUBLISHER_STATS_INIT: podsync_nats_publisher_stats =
    podsync_nats_publisher_stats {
        version: PODSYNC_NATS_PUBLISHER_STATS_VERSION,
        connected: 0,
        frames_published: 0,
        bytes_published: 0,
        frames_pending: 0,
        frames_dropped: 0,
        snapshots_published: 0,
        snapshot_version: 0,
        last_sequence: 0,
        reconnects: 0,
    };

// ---------------------------------------------------------------------------------------------
// Follower
// ---------------------------------------------------------------------------------------------

/// Opaque follower handle (`podsync_nats_follower`): a replica store attached to a stream.
#[repr(C)]
pub struct podsync_nats_follower {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// The `podsync_nats_follower_stats` struct version this header declares.
pub const PODSYNC_NATS_FOLLOWER_STATS_VERSION: u32 = 1;

/// `podsync_nats_follower_stats` (88 bytes, versioned).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct podsync_nats_follower_stats {
    /// Set by the caller: `PODSYNC_NATS_FOLLOWER_STATS_VERSION`.
    pub version: u32,
    /// 1 while the connection is up.
    pub connected: u32,
    /// Frames that changed the replica (snapshot chunks included).
    pub frames_applied: u64,
    /// Frames it already had.
    pub duplicates: u64,
    /// Bootstraps and fallbacks to the newest snapshot.
    pub snapshots_taken: u64,
    /// Gaps filled from the stream by sequence.
    pub gaps_repaired: u64,
    /// Messages skipped (see `podsync_nats_follower_poll`).
    pub rejected: u64,
    /// The frame stream's sequence it reads next.
    pub next_sequence: u64,
    /// The replica's version.
    pub state_version: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Reconnects of the connection.
    pub reconnects: u64,
    /// The status of the last skipped message (0: none).
    pub last_rejected_status: i32,
    /// Reserved.
    pub reserved: u32,
}

/// `PODSYNC_NATS_FOLLOWER_STATS_INIT`.
pub const PODSYNC_NATS_FOLLOWER_STATS_INIT: podsync_nats_follower_stats =
    podsync_nats_follower_stats {
        version: PODSYNC_NATS_FOLLOWER_STATS_VERSION,
        connected: 0,
        frames_applied: 0,
        duplicates: 0,
        snapshots_taken: 0,
        gaps_repaired: 0,
        rejected: 0,
        next_sequence: 0,
        state_version: 0,
        bytes_received: 0,
        reconnects: 0,
        last_rejected_status: 0,
        reserved: 0,
    };

// The layouts of the header's structs on LP64 (C99 natural alignment, no padding).
const _: () = {
    assert!(size_of::<podsync_nats_options>() == 72);
    assert!(offset_of!(podsync_nats_options, version) == 0);
    assert!(offset_of!(podsync_nats_options, storage) == 4);
    assert!(offset_of!(podsync_nats_options, replicas) == 8);
    assert!(offset_of!(podsync_nats_options, max_reconnects) == 12);
    assert!(offset_of!(podsync_nats_options, max_age_ms) == 16);
    assert!(offset_of!(podsync_nats_options, max_bytes) == 24);
    assert!(offset_of!(podsync_nats_options, snapshot_every_versions) == 32);
    assert!(offset_of!(podsync_nats_options, snapshot_every_ms) == 40);
    assert!(offset_of!(podsync_nats_options, timeout_ms) == 48);
    assert!(offset_of!(podsync_nats_options, reconnect_wait_ms) == 56);
    assert!(offset_of!(podsync_nats_options, client_name) == 64);

    assert!(size_of::<podsync_nats_publisher_stats>() == 72);
    assert!(offset_of!(podsync_nats_publisher_stats, version) == 0);
    assert!(offset_of!(podsync_nats_publisher_stats, connected) == 4);
    assert!(offset_of!(podsync_nats_publisher_stats, frames_published) == 8);
    assert!(offset_of!(podsync_nats_publisher_stats, bytes_published) == 16);
    assert!(offset_of!(podsync_nats_publisher_stats, frames_pending) == 24);
    assert!(offset_of!(podsync_nats_publisher_stats, frames_dropped) == 32);
    assert!(offset_of!(podsync_nats_publisher_stats, snapshots_published) == 40);
    assert!(offset_of!(podsync_nats_publisher_stats, snapshot_version) == 48);
    assert!(offset_of!(podsync_nats_publisher_stats, last_sequence) == 56);
    assert!(offset_of!(podsync_nats_publisher_stats, reconnects) == 64);

    assert!(size_of::<podsync_nats_follower_stats>() == 88);
    assert!(offset_of!(podsync_nats_follower_stats, version) == 0);
    assert!(offset_of!(podsync_nats_follower_stats, connected) == 4);
    assert!(offset_of!(podsync_nats_follower_stats, frames_applied) == 8);
    assert!(offset_of!(podsync_nats_follower_stats, duplicates) == 16);
    assert!(offset_of!(podsync_nats_follower_stats, snapshots_taken) == 24);
    assert!(offset_of!(podsync_nats_follower_stats, gaps_repaired) == 32);
    assert!(offset_of!(podsync_nats_follower_stats, rejected) == 40);
    assert!(offset_of!(podsync_nats_follower_stats, next_sequence) == 48);
    assert!(offset_of!(podsync_nats_follower_stats, state_version) == 56);
    assert!(offset_of!(podsync_nats_follower_stats, bytes_received) == 64);
    assert!(offset_of!(podsync_nats_follower_stats, reconnects) == 72);
    assert!(offset_of!(podsync_nats_follower_stats, last_rejected_status) == 80);
    assert!(offset_of!(podsync_nats_follower_stats, reserved) == 84);
};

unsafe extern "C" {
    // Versions and statuses
    /// The carrier library's version as `MAJOR*10000 + MINOR*100 + PATCH`.
    pub safe fn podsync_nats_version_number() -> u32;
    /// The status's name: the carrier's names, else `podsync_status_name(status)`. Static string.
    pub safe fn podsync_nats_status_name(status: i32) -> *const c_char;
    /// The message of the last error a carrier function returned on the calling thread ("" if
    /// none), for the constructors, which have no handle yet. Valid until the next carrier call on
    /// the thread.
    pub safe fn podsync_nats_last_errmsg() -> *const c_char;

    // Options
    /// Fills `*options` with the defaults of the given struct version (1).
    pub fn podsync_nats_options_init(options: *mut podsync_nats_options, version: u32) -> i32;

    // Publisher
    /// Connects to `url` (one server or a comma-separated list), creates the streams
    /// `<stream_name>` and `<stream_name>_SNAP` if they do not exist (existing streams are used as
    /// they are), and publishes a snapshot of the store's state. `store` must be a writer; give it
    /// a max_frame_bytes no larger than the server's max_payload less 4 KiB. stream_name: 1 to 64
    /// characters of `A-Z a-z 0-9 - _`. On error `*out` is NULL and `podsync_nats_last_errmsg()`
    /// says why. The store must outlive the publisher.
    pub fn podsync_nats_publisher_create(
        store: *mut podsync_store,
        url: *const c_char,
        stream_name: *const c_char,
        options: *const podsync_nats_options,
        out: *mut *mut podsync_nats_publisher,
    ) -> i32;
    /// Flushes the store (`podsync_store_flush`) and publishes its frames, after any frames an
    /// earlier call could not publish; then, when due, a snapshot. `PODSYNC_OK` when everything is
    /// acknowledged; else a carrier error with the unpublished frames kept (up to 64 MiB), or
    /// `PODSYNC_NATS_E_MSG_TOO_LARGE` for a frame larger than the server accepts (a snapshot is
    /// published instead). An engine error of the flush is returned as it is. `*published_out`
    /// (may be NULL) receives how many frames were acknowledged.
    pub fn podsync_nats_publisher_flush(
        publisher: *mut podsync_nats_publisher,
        published_out: *mut usize,
    ) -> i32;
    /// Publishes a chunked snapshot of the store's state now (as of its last flush) and removes
    /// the older snapshots once it is complete.
    pub fn podsync_nats_publisher_snapshot(publisher: *mut podsync_nats_publisher) -> i32;
    /// Fills `*stats` (whose version the caller sets).
    pub fn podsync_nats_publisher_stats_get(
        publisher: *const podsync_nats_publisher,
        stats: *mut podsync_nats_publisher_stats,
    ) -> i32;
    /// The message of the last error on this publisher ("" if none). Valid until the next call on
    /// it.
    pub fn podsync_nats_publisher_errmsg(publisher: *const podsync_nats_publisher)
    -> *const c_char;
    /// Closes the connection (waiting up to timeout_ms for publishes in flight). The store is not
    /// freed. NULL is accepted.
    pub fn podsync_nats_publisher_free(publisher: *mut podsync_nats_publisher);

    // Follower
    /// Connects to `url` and attaches the replica `store` to the stream `stream_name`. Nothing is
    /// read yet: `podsync_nats_follower_poll()` does the work. On error `*out` is NULL and
    /// `podsync_nats_last_errmsg()` says why. The store must outlive the follower.
    pub fn podsync_nats_follower_create(
        store: *mut podsync_store,
        url: *const c_char,
        stream_name: *const c_char,
        options: *const podsync_nats_options,
        out: *mut *mut podsync_nats_follower,
    ) -> i32;
    /// Applies what arrived, waiting up to timeout_ms for the first message (0: only what is
    /// already there): bootstraps from the newest snapshot when needed, applies frames in stream
    /// order, repairs gaps, skips (and counts) messages that are not good frames of this stream.
    /// `PODSYNC_OK` (also when nothing arrived), `PODSYNC_NATS_E_STREAM_MISSING` while the stream
    /// does not exist, or a carrier error while the server cannot be reached. `*applied_out` (may
    /// be NULL) receives how many frames changed the replica.
    pub fn podsync_nats_follower_poll(
        follower: *mut podsync_nats_follower,
        timeout_ms: u64,
        applied_out: *mut usize,
    ) -> i32;
    /// Fills `*stats` (whose version the caller sets).
    pub fn podsync_nats_follower_stats_get(
        follower: *const podsync_nats_follower,
        stats: *mut podsync_nats_follower_stats,
    ) -> i32;
    /// The message of the last error or skipped message ("" if none). Valid until the next call.
    pub fn podsync_nats_follower_errmsg(follower: *const podsync_nats_follower) -> *const c_char;
    /// Relays: from now on every frame the follower applies is republished to the stream
    /// `stream_name` at `url` (another server or cluster), with snapshots of the replica beside
    /// them exactly as a publisher keeps them, so followers there follow the relay as they would
    /// the writer. The relay publishes during `podsync_nats_follower_poll`, after applying; a
    /// relay that cannot publish keeps its frames (as a publisher does) and poll returns its
    /// carrier error. Closed with the follower.
    pub fn podsync_nats_follower_relay(
        follower: *mut podsync_nats_follower,
        url: *const c_char,
        stream_name: *const c_char,
        options: *const podsync_nats_options,
    ) -> i32;
    /// The relay's counters (`PODSYNC_NOT_FOUND` when the follower does not relay).
    pub fn podsync_nats_follower_relay_stats(
        follower: *const podsync_nats_follower,
        stats: *mut podsync_nats_publisher_stats,
    ) -> i32;
    /// Closes the connection (and a relay's). The store is not freed. NULL is accepted.
    pub fn podsync_nats_follower_free(follower: *mut podsync_nats_follower);
}
