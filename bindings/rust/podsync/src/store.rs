//! [`Store`]: a writer or a replica of a schema's tables, with borrowed views of its records and
//! frames.

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of_val;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result, copy_message};
use crate::metrics::Metrics;
use crate::pod::{self, Pod};
use crate::registry::Registry;
use crate::schema::{Schema, TableMeta, table_metas};
use crate::subscription::FeedLinks;

mod sealed {
    pub trait Sealed {
        /// The marker's name, for `Debug`.
        const NAME: &'static str;
        /// A feed: made by its writer ([`Store::feed`](crate::Store::feed)), never by a
        /// constructor.
        const FEED: bool = false;
    }
    impl Sealed for super::Writer {
        const NAME: &'static str = "Writer";
    }
    impl Sealed for super::Replica {
        const NAME: &'static str = "Replica";
    }
    impl Sealed for super::Feed {
        const NAME: &'static str = "Feed";
        const FEED: bool = true;
    }
}

/// The role of a [`Store`], as a type: [`Writer`], [`Replica`] or [`Feed`]. Writer-only,
/// replica-only and feed-only methods exist only on `Store<Writer>`, `Store<Replica>` and
/// `Store<Feed>`, so `PODSYNC_E_WRONG_ROLE` cannot happen through this crate. Sealed.
pub trait Role: sealed::Sealed + 'static {
    /// The role's value.
    const ROLE: StoreRole;
}

/// The roles whose stores serve [subscriptions](crate#subscriptions) from feeds (since library
/// 0.8.0): [`Writer`], and [`Replica`] for a replica of the whole stream (a *relay*). Such a store
/// makes, holds and lends its feeds ([`Store::feed`], [`Store::find_feed`], [`Store::feeds`],
/// [`Store::close_feed`]), and the calls that write into them take it by `&mut`: a writer's
/// [`flush`](Store::flush), a relay's [`apply`](Store::apply). [`Feed`] is not one: a feed (or a
/// subscribed replica) serves no feeds of its own. Sealed.
pub trait FeedSource: Role {}

impl FeedSource for Writer {}
impl FeedSource for Replica {}

/// Marker type of a writer store: `Store<Writer>` owns the state, takes writes and produces
/// frames with [`Store::flush`].
#[derive(Debug)]
pub enum Writer {}

/// Marker type of a replica store: `Store<Replica>` changes only by [`Store::apply`].
#[derive(Debug)]
pub enum Replica {}

/// Marker type of a feed (since library 0.8.0): `Store<Feed>` serves one
/// [subscription](crate#subscriptions) of its writer's stream. Its *writer* is a writer, or a
/// replica of the whole stream (a *relay*, see [`FeedSource`]). It holds the writer's records of
/// the subset, takes the changes of each of the writer's flushes (a relay's: of each frame it
/// applies), and produces the subscription's frames with [`flush`](Store::flush),
/// [`delta_since`](Store::delta_since), [`snapshot`](Store::snapshot),
/// [`begin_snapshot`](Store::begin_snapshot) and [`reconcile`](Store::reconcile), once for every
/// replica of the subscription. It takes no writes: `Store<Feed>` has no `put` or `delete` (its
/// writes come from its writer).
///
/// A feed belongs to its writer, which makes it ([`Store::feed`]), holds it and lends it
/// ([`Store::find_feed`], [`Store::feeds`]): the writer's flush (a relay's apply) writes into the
/// feed's records, so a record or table borrowed from a feed must not outlive the next flush
/// (apply) of its writer, and a feed must not be used on one thread while its writer flushes
/// (applies) on another. Borrowing the feed from its writer makes the borrow checker prove both.
///
/// For the library a feed is a writer: its [`StoreInfo::role`] is [`StoreRole::Writer`].
///
/// A feed takes no writes:
///
/// ```compile_fail,E0599
/// # use podsync::{Schema, Store, Subscription};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// # let (bytes, _) = Subscription::new().table(1).encode().unwrap();
/// let mut writer = Store::writer(&schema).unwrap();
/// let feed = writer.feed(&bytes).unwrap();
/// feed.put(1, 5, &[0u8; 8]).unwrap(); // error[E0599]: no method named `put` for Store<Feed>
/// ```
#[derive(Debug)]
pub enum Feed {}

impl Role for Writer {
    const ROLE: StoreRole = StoreRole::Writer;
}
impl Role for Replica {
    const ROLE: StoreRole = StoreRole::Replica;
}
impl Role for Feed {
    const ROLE: StoreRole = StoreRole::Writer;
}

/// A store's role as a value (`PODSYNC_ROLE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreRole {
    /// `PODSYNC_ROLE_WRITER`: owns the state, takes writes and produces frames.
    Writer,
    /// `PODSYNC_ROLE_REPLICA`: changes only by applying frames.
    Replica,
}

impl StoreRole {
    /// The `PODSYNC_ROLE_*` value.
    pub fn raw(self) -> u32 {
        match self {
            StoreRole::Writer => sys::PODSYNC_ROLE_WRITER,
            StoreRole::Replica => sys::PODSYNC_ROLE_REPLICA,
        }
    }

    /// The role of a `PODSYNC_ROLE_*` value.
    pub fn from_raw(raw: u32) -> Option<StoreRole> {
        match raw {
            sys::PODSYNC_ROLE_WRITER => Some(StoreRole::Writer),
            sys::PODSYNC_ROLE_REPLICA => Some(StoreRole::Replica),
            _ => None,
        }
    }
}

/// Options of a store (`podsync_store_options`, struct version 4 since library 0.5.0).
/// `StoreOptions::default()` holds the library's defaults (`podsync_store_options_init`); the
/// methods change one option each.
///
/// ```
/// use podsync::StoreOptions;
/// let opts = StoreOptions::default()
///     .stream_id(0x1122_3344)
///     .manual_clock(true)          // time comes only from Store::set_time
///     .max_batch_records(1000)     // writes return WriteOutcome::FlushDue at 1000 pending changes
///     .max_frame_bytes(64 * 1024)  // a flush splits its changes into frames of at most 64 KiB
///     .max_records(1_000_000)      // a write or frame past a million records: ErrorKind::Limit
///     .frame_format(1);            // 88-byte format-1 headers (for replicas older than 0.5.0)
/// assert_eq!(opts.raw().stream_id, 0x1122_3344);
/// assert_eq!(opts.raw().max_records, 1_000_000);
/// assert_eq!(opts.raw().frame_format, 1);
/// // The defaults: compact format-2 headers (since library 0.8.0; format 1 before).
/// assert_eq!(StoreOptions::default().raw().frame_format, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    raw: sys::podsync_store_options,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        let mut raw = sys::PODSYNC_STORE_OPTIONS_INIT;
        // SAFETY: raw is a valid, writable options struct of the version passed.
        let st = unsafe {
            sys::podsync_store_options_init(&mut raw, sys::PODSYNC_STORE_OPTIONS_VERSION)
        };
        if st < 0 {
            raw = sys::PODSYNC_STORE_OPTIONS_INIT;
        }
        StoreOptions { raw }
    }
}

impl StoreOptions {
    /// The library's defaults.
    pub fn new() -> StoreOptions {
        StoreOptions::default()
    }

    /// Frames carry the writer's state digest (`PODSYNC_OPT_FRAME_DIGEST`, default on).
    pub fn frame_digest(mut self, on: bool) -> StoreOptions {
        self.set_flag(sys::PODSYNC_OPT_FRAME_DIGEST, on);
        self
    }

    /// Time comes only from [`Store::set_time`] (`PODSYNC_OPT_MANUAL_CLOCK`, default off).
    pub fn manual_clock(mut self, on: bool) -> StoreOptions {
        self.set_flag(sys::PODSYNC_OPT_MANUAL_CLOCK, on);
        self
    }

    /// Writer: this stream's id; 0 (default) picks a random one.
    pub fn stream_id(mut self, id: u64) -> StoreOptions {
        self.raw.stream_id = id;
        self
    }

    /// Flush due at this many pending changes; 0 = no limit.
    pub fn max_batch_records(mut self, n: u64) -> StoreOptions {
        self.raw.max_batch_records = n;
        self
    }

    /// Flush due at this many pending bytes (records + 8 per key); 0 = no limit.
    pub fn max_batch_bytes(mut self, n: u64) -> StoreOptions {
        self.raw.max_batch_bytes = n;
        self
    }

    /// Flush due when the oldest pending change is this old; 0 = no limit.
    pub fn max_batch_age_ms(mut self, ms: u64) -> StoreOptions {
        self.raw.max_batch_age_ms = ms;
        self
    }

    /// A flush splits its changes into frames of at most this size (a frame always holds at least
    /// one change); 0 = no limit. A [`Store::snapshot`] larger than this is cut into chunks of at
    /// most this size (since library 0.5.0), and it is the default chunk size of
    /// [`Store::begin_snapshot`]. Catch-up deltas stay single frames.
    pub fn max_frame_bytes(mut self, n: u64) -> StoreOptions {
        self.raw.max_frame_bytes = n;
        self
    }

    /// Deletions are remembered for this many versions; 0 = forever.
    pub fn tombstone_horizon(mut self, versions: u64) -> StoreOptions {
        self.raw.tombstone_horizon = versions;
        self
    }

    /// Writer: the zstd level for frames (0 = never compress, the default; 1 is fast; negative
    /// levels are faster still). A frame is compressed only where that makes it at least 5% smaller.
    pub fn compression_level(mut self, level: i32) -> StoreOptions {
        self.raw.compression_level = level;
        self
    }

    /// Writer: the `PODSYNC_TRANSFORM_*` bits the encoder may use before compressing.
    pub fn transforms(mut self, transforms: u32) -> StoreOptions {
        self.raw.transforms = transforms;
        self
    }

    /// Replica: the largest decoded payload a compressed frame may have (0 = 1 GiB), checked
    /// before anything is allocated ([`ErrorKind::FrameTooLarge`]); see also
    /// [`frame::validate_limited`](crate::frame::validate_limited).
    pub fn max_decoded_bytes(mut self, bytes: u64) -> StoreOptions {
        self.raw.max_decoded_bytes = bytes;
        self
    }

    /// The most live records the store holds, all tables together (since library 0.4.0;
    /// default 0 = no limit): a write, or a frame applied, that would exceed it fails with
    /// [`ErrorKind::Limit`] and changes nothing. Replacing a record or deleting one never does.
    /// A replica fed from an untrusted source sets this and
    /// [`max_decoded_bytes`](StoreOptions::max_decoded_bytes).
    ///
    /// ```
    /// use podsync::{ErrorKind, Schema, Store, StoreOptions};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer_with(&schema, &StoreOptions::new().max_records(2))?;
    /// writer.put_many(1, &[1, 2], &[10u64, 20])?;
    /// let err = writer.put_as(1, 3, &30u64).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Limit);
    /// assert_eq!(writer.count(1)?, 2); // nothing changed
    /// writer.put_as(1, 2, &21u64)?;    // replacing is no new record
    /// # Ok(()) }
    /// ```
    pub fn max_records(mut self, records: u64) -> StoreOptions {
        self.raw.max_records = records;
        self
    }

    /// The most deletions the store remembers for catch-up deltas, all tables together (since
    /// library 0.4.0; default 1,048,576; 0 = no limit): past it the oldest are forgotten and
    /// [`StoreInfo::catchup_floor`] rises to their version, so older replicas get
    /// [`Delta::SnapshotRequired`]. More deletions than this in one frame are not remembered at
    /// all.
    pub fn max_tombstones(mut self, deletions: u64) -> StoreOptions {
        self.raw.max_tombstones = deletions;
        self
    }

    /// Writer: the format of the frames that need no format-2 feature (since library 0.5.0): 2
    /// (the default since library 0.8.0; 0 means 2), whose compact headers (40 to 64 bytes
    /// instead of 88) only replicas of library 0.5.0 and later read, or 1, the 88-byte header
    /// older replicas read too (the default before library 0.8.0). Chunks of a chunked snapshot,
    /// refresh slices, terms, repairs and subscription feeds are format 2 whatever this says.
    /// Other values are refused by the store's constructor ([`ErrorKind::InvalidArgument`]).
    ///
    /// ```
    /// use podsync::{Applied, Schema, Store, StoreOptions, frame};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// // The default: compact format-2 headers.
    /// let mut writer = Store::writer(&schema)?;
    /// writer.put_as(1, 1, &7u64)?;
    /// writer.flush()?;
    /// let info = frame::peek(writer.frame(0).unwrap())?;
    /// assert_eq!(info.format_version, 2);
    /// assert!((info.header_length as usize) < frame::HEADER_SIZE);
    /// let mut replica = Store::replica(&schema)?;
    /// assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
    /// // Format 1, for replicas older than library 0.5.0.
    /// let mut writer = Store::writer_with(&schema, &StoreOptions::new().frame_format(1))?;
    /// writer.put_as(1, 1, &7u64)?;
    /// writer.flush()?;
    /// let info = frame::peek(writer.frame(0).unwrap())?;
    /// assert_eq!((info.format_version, info.header_length as usize), (1, frame::HEADER_SIZE));
    /// let mut replica = Store::replica(&schema)?;
    /// assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
    /// # Ok(()) }
    /// ```
    pub fn frame_format(mut self, format: u32) -> StoreOptions {
        self.raw.frame_format = format;
        self
    }

    /// Replica: while it is empty and follows no stream, the chunks of a chunked snapshot are
    /// applied to its tables as they arrive instead of being staged beside its state
    /// (`PODSYNC_OPT_FILL_IN_PLACE`, since library 0.5.0; default off): a late joiner needs no
    /// double memory, and readers see its tables fill while its version stays 0 until the last
    /// chunk. A delta offered meanwhile is a [`Applied::Gap`] (half a snapshot is no state a
    /// delta applies to); a whole snapshot replaces the partial fill.
    pub fn fill_in_place(mut self, on: bool) -> StoreOptions {
        self.set_flag(sys::PODSYNC_OPT_FILL_IN_PLACE, on);
        self
    }

    /// Writer: the rolling refresh (since library 0.5.0; default 0, off). With `flushes` R > 0,
    /// the last frame of every [`flush`](Store::flush) also carries the next slice of the
    /// writer's whole state, about records / R of them (at most half of
    /// [`max_frame_bytes`](StoreOptions::max_frame_bytes)), so the whole state is re-sent every R
    /// flushes and a [`one_way`](StoreOptions::one_way) replica that lost frames converges
    /// without asking back. Frames with a slice are format 2
    /// ([`FrameInfo::has_slice`](crate::frame::FrameInfo::has_slice)), and the XOR transform is
    /// off (changes and slices travel as absolute values, which a replica out of sync can take).
    ///
    /// ```
    /// use podsync::{Applied, Schema, Store, StoreOptions};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer_with(&schema, &StoreOptions::new().refresh_flushes(2))?;
    /// let mut replica = Store::replica_with(&schema, &StoreOptions::new().one_way(true))?;
    /// writer.put_many(1, &[1, 2, 3, 4], &[1u64, 2, 3, 4])?;
    /// writer.flush()?; // v1: lost on the way
    /// let mut last = None;
    /// for tick in 0..4u64 {
    ///     writer.put_as(1, 1, &(10 + tick))?;
    ///     writer.flush()?;
    ///     // A one-way replica never reports a gap: it takes what the frames hold.
    ///     last = Some(replica.apply(writer.frame(0).unwrap())?);
    ///     assert!(!matches!(last, Some(Applied::Gap { .. })));
    /// }
    /// // Two slices a pass: the state came around once, and the replica is in sync.
    /// assert_eq!(last, Some(Applied::Ok));
    /// assert_eq!(replica.digest()?, writer.digest()?);
    /// # Ok(()) }
    /// ```
    pub fn refresh_flushes(mut self, flushes: u32) -> StoreOptions {
        self.raw.refresh_flushes = flushes;
        self
    }

    /// Writer with [`refresh_flushes`](StoreOptions::refresh_flushes): when no frame went out
    /// for `ms` milliseconds, [`Store::flush_due`] says true and a [`flush`](Store::flush) of an
    /// empty batch sends one refresh-only frame (a slice alone, at the writer's version), so an
    /// idle writer keeps refreshing its replicas (since library 0.5.0; default 0: slices go out
    /// only with flushes of changes). Time is the store's clock
    /// ([`manual_clock`](StoreOptions::manual_clock), [`Store::set_time`]).
    pub fn refresh_ms(mut self, ms: u64) -> StoreOptions {
        self.raw.refresh_ms = ms;
        self
    }

    /// Replica on a link that cannot ask back (`PODSYNC_OPT_ONE_WAY`, since library 0.5.0; default
    /// off): where another replica would return [`Applied::Gap`] (or is diverged), it goes out of
    /// sync and takes the absolute content of the frames it gets, key by key, newest version
    /// first ([`Applied::Refreshing`], [`StoreInfo::refreshing`]), and is in sync again
    /// ([`Applied::Ok`]) once its digest equals a frame's. It converges by the writer's rolling
    /// refresh ([`refresh_flushes`](StoreOptions::refresh_flushes)); frames must carry the
    /// writer's digest ([`frame_digest`](StoreOptions::frame_digest), on by default) for it to
    /// know. Out of sync, it serves no deltas or snapshots ([`ErrorKind::Diverged`]).
    pub fn one_way(mut self, on: bool) -> StoreOptions {
        self.set_flag(sys::PODSYNC_OPT_ONE_WAY, on);
        self
    }

    /// The C struct.
    pub fn raw(&self) -> &sys::podsync_store_options {
        &self.raw
    }

    /// Options from a C struct (its `version` is passed to the library as is: a version-2 struct
    /// gets the library's default limits, whatever its `max_records` and `max_tombstones` hold, and
    /// an older struct than version 4 format-1 frames and no rolling refresh, whatever its
    /// `frame_format`, `refresh_flushes` and `refresh_ms` hold).
    pub fn from_raw(raw: sys::podsync_store_options) -> StoreOptions {
        StoreOptions { raw }
    }

    fn set_flag(&mut self, flag: u32, on: bool) {
        if on {
            self.raw.flags |= flag;
        } else {
            self.raw.flags &= !flag;
        }
    }
}

/// A snapshot of a store's counters (`podsync_store_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreInfo {
    /// Writer or replica.
    pub role: StoreRole,
    /// Hash of the store's schema; frames of another schema are refused.
    pub schema_hash: u64,
    /// Replica: the stream it follows (0 before the first frame).
    pub stream_id: u64,
    /// Version of the flushed / applied state.
    pub state_version: u64,
    /// Writer: frames produced so far; replica: last applied frame's.
    pub sequence: u64,
    /// State digest of the flushed / applied state.
    pub digest: u64,
    /// Oldest `since_version` that [`Store::delta_since`] can serve.
    pub catchup_floor: u64,
    /// Writer: distinct keys changed since the last flush.
    pub pending_changes: u64,
    /// Changes whenever borrowed record pointers may be invalid.
    pub generation: u64,
    /// Replica: true after [`ErrorKind::DigestMismatch`] until a snapshot.
    pub diverged: bool,
    /// Number of tables in the schema.
    pub table_count: u32,
    /// A [`one_way`](StoreOptions::one_way) replica out of sync (store info version 2, since
    /// library 0.5.0): true from its first [`Applied::Refreshing`] until an [`Applied::Ok`] (or a
    /// snapshot). Meanwhile its records are each some version's, `state_version` is the last
    /// version it was in sync at, and it serves no deltas or snapshots
    /// ([`ErrorKind::Diverged`]). Always false for other stores.
    pub refreshing: bool,
    /// The term the writer writes, or the replica follows (store info version 3, since library
    /// 0.6.0; 0: none). A writer's term rises when it reopens without proof that it lost nothing
    /// ([`OpenInfo::new_term`](crate::OpenInfo::new_term)) and when a replica is promoted
    /// ([`Store::promote`]); frames of a term above 0 carry it
    /// ([`FrameInfo::term`](crate::frame::FrameInfo::term)).
    pub term: u64,
    /// A durable store ([`Store::open`]): the newest version on disk, in a checkpoint or in the
    /// fsynced log (since library 0.6.0). 0 for a store without files.
    pub durable_version: u64,
    /// A durable store: bytes in the log segments since the newest checkpoint (since library
    /// 0.6.0). Checkpoint ([`Store::checkpoint`]) when this grows large: it bounds the time an
    /// open takes.
    pub log_bytes: u64,
    /// True for a store opened with [`Store::open`] (since library 0.6.0).
    pub durable: bool,
    /// True after a log write failed (disk full, I/O error; since library 0.6.0): the store
    /// produces no frames ([`ErrorKind::Io`]) until a [`Store::checkpoint`] of its current state
    /// succeeds. A replica keeps applying meanwhile, each apply reporting [`ErrorKind::Io`].
    pub log_failed: bool,
}

/// Outcome of a successful write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteOutcome {
    /// `PODSYNC_OK`.
    Ok,
    /// `PODSYNC_FLUSH_DUE`: the write was done and the flush policy says flush now.
    FlushDue,
}

impl WriteOutcome {
    /// True for [`WriteOutcome::FlushDue`].
    pub fn is_flush_due(self) -> bool {
        self == WriteOutcome::FlushDue
    }
}

/// Outcome of [`Store::delete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeleteOutcome {
    /// Deleted (`PODSYNC_OK`).
    Ok,
    /// Deleted, and the flush policy says flush now (`PODSYNC_FLUSH_DUE`).
    FlushDue,
    /// No record under that key; nothing changed (`PODSYNC_NOT_FOUND`).
    NotFound,
}

impl DeleteOutcome {
    /// True if a record was deleted.
    pub fn found(self) -> bool {
        self != DeleteOutcome::NotFound
    }
}

/// Outcome of [`Store::delete_many`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeleteMany {
    /// How many records were deleted (absent keys are skipped).
    pub deleted: usize,
    /// Whether the flush policy says to flush now.
    pub outcome: WriteOutcome,
}

/// Outcome of [`Store::delta_since`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "SnapshotRequired means the caller must send a snapshot instead"]
pub enum Delta {
    /// The outbox now holds this many frames: 1, or 0 when `since_version` is the current version.
    Frames(usize),
    /// `PODSYNC_SNAPSHOT_REQUIRED`: that version is older than what the store still covers
    /// (`catchup_floor`); no frame was produced; send a [`Store::snapshot`] instead.
    SnapshotRequired,
}

/// Outcome of [`Store::apply`] (errors aside).
///
/// `#[non_exhaustive]`: the outcomes grow with the library (library 0.5.0 alone added
/// [`ChunkStaged`](Applied::ChunkStaged), [`ChunkGap`](Applied::ChunkGap) and
/// [`Refreshing`](Applied::Refreshing), and docs/FORMAT.md reserves more features), so a variant
/// a later release of this crate adds must not break code that matches on this enum. Match the
/// variants you act on and give the rest an arm of their own:
///
/// ```
/// use podsync::Applied;
/// fn next_step(outcome: Applied) -> &'static str {
///     match outcome {
///         Applied::Gap { .. } => "ask for a delta since the replica's version",
///         Applied::ChunkGap => "ask for the snapshot from Store::staging's position",
///         Applied::Refreshing => "nothing: the writer's rolling refresh brings it back",
///         _ => "nothing", // Ok, Duplicate, Stale, ChunkStaged, and what later releases add
///     }
/// }
/// assert_eq!(next_step(Applied::Duplicate), "nothing");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "Gap means the replica needs a catch-up delta since replica_version, ChunkGap a resumed snapshot"]
#[non_exhaustive]
pub enum Applied {
    /// `PODSYNC_OK`: applied.
    Ok,
    /// `PODSYNC_DUPLICATE`: the replica already has these changes; nothing changed.
    Duplicate,
    /// `PODSYNC_GAP`: the frame's base is ahead of the replica; nothing changed. Ask a writer (or
    /// a replica that is ahead) for `delta_since(replica_version)`.
    Gap {
        /// The replica's version: ask for a delta since it.
        replica_version: u64,
    },
    /// `PODSYNC_STALE`: a snapshot older than the replica (or a chunk of a snapshot older than
    /// the one it stages); ignored.
    Stale,
    /// `PODSYNC_CHUNK_STAGED` (since library 0.5.0): a chunk of a chunked snapshot was staged
    /// beside the replica's state, which it keeps serving unchanged (reads, digest, version,
    /// `delta_since`, snapshots) until the last chunk switches it ([`Applied::Ok`]). With
    /// [`StoreOptions::fill_in_place`] an empty replica's tables fill instead, at version 0.
    ChunkStaged,
    /// `PODSYNC_CHUNK_GAP` (since library 0.5.0): a chunk ahead of the one the replica expects
    /// (or of a snapshot it has not started); nothing changed. [`Store::staging`] names the chunk
    /// to resume from: the producer continues with [`Store::snapshot_resume`] (or, if that
    /// fails with [`ErrorKind::SnapshotExpired`], sends a new snapshot).
    ChunkGap,
    /// `PODSYNC_REFRESHING` (since library 0.5.0): a [`one_way`](StoreOptions::one_way) replica
    /// is out of sync ([`StoreInfo::refreshing`]) and took what the frame holds of versions newer
    /// than its own of each key. It is in sync again ([`Applied::Ok`]) once its digest equals a
    /// frame's, which the writer's rolling refresh
    /// ([`refresh_flushes`](StoreOptions::refresh_flushes)) brings about without a request.
    /// Its version stays the last it was in sync at meanwhile.
    Refreshing,
}

impl Applied {
    /// The status code (`PODSYNC_OK`, `PODSYNC_DUPLICATE`, ...); [`status_name`](crate::status_name)
    /// names it.
    ///
    /// ```
    /// use podsync::{Applied, status_name};
    /// assert_eq!(status_name(Applied::ChunkStaged.status()), "PODSYNC_CHUNK_STAGED");
    /// assert_eq!(Applied::Gap { replica_version: 3 }.status(), podsync::sys::PODSYNC_GAP);
    /// ```
    pub fn status(&self) -> i32 {
        match self {
            Applied::Ok => sys::PODSYNC_OK,
            Applied::Duplicate => sys::PODSYNC_DUPLICATE,
            Applied::Gap { .. } => sys::PODSYNC_GAP,
            Applied::Stale => sys::PODSYNC_STALE,
            Applied::ChunkStaged => sys::PODSYNC_CHUNK_STAGED,
            Applied::ChunkGap => sys::PODSYNC_CHUNK_GAP,
            Applied::Refreshing => sys::PODSYNC_REFRESHING,
        }
    }
}

/// A writer, a replica or a feed (`podsync_store`), its role a type parameter: `Store<Writer>`,
/// `Store<Replica>` or (since library 0.8.0) `Store<Feed>`, which a writer makes and holds
/// ([`Store::feed`]).
///
/// Views borrow the store: a record from [`get`](Store::get), a [`TableView`] from
/// [`table`](Store::table), frames from [`frames`](Store::frames) and a replica's change events
/// from [`changes`](Store::changes) live as long as a shared borrow of the store, and every call
/// that may move records or replace the outbox (writes, `apply`, `flush`, `delta_since`,
/// `snapshot`, `summary`, `reconcile`, `track_changes`) takes `&mut self`, so using a view after
/// such a call does not compile. Nothing is copied: views point into the engine's memory.
///
/// A store is [`Send`] (it may move between threads) but not [`Sync`]: as the header says, a
/// handle is used by one thread at a time.
///
/// # Frames after an error
///
/// When a call that produces frames (`flush`, `delta_since`, `snapshot`, `summary`, `reconcile`)
/// fails, [`frames`](Store::frames), [`frame`](Store::frame) and
/// [`frame_count`](Store::frame_count) show the frames the library's outbox holds after the
/// failure, read from it again: the frames from before when the call was refused before it
/// touched the outbox (a version ahead, a diverged replica, a level above 5, a message that is
/// not a summary, ...), fewer or none when the library had already cleared it (a durable flush
/// whose log write failed hands out no frame, and the frames of the flush before are gone too).
///
/// ```
/// use podsync::{Applied, Replica, Schema, Store, Writer};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table_of::<[f64; 2]>(1, &[])?;
/// let mut writer = Store::writer(&schema)?;
/// let mut replica = Store::replica(&schema)?;
///
/// writer.put_as(1, 42, &[1.0, -2.5])?;
/// writer.put_many(1, &[7, 9], &[[0.0, 0.0], [9.0, 9.0]])?; // one call for many records
/// writer.delete(1, 7)?;
/// writer.flush()?;
/// for frame in writer.frames() {
///     assert_eq!(replica.apply(frame)?, Applied::Ok);
/// }
///
/// assert_eq!(replica.get_as::<[f64; 2]>(1, 42)?, Some(&[1.0, -2.5]));
/// let table = replica.table(1)?;
/// assert_eq!(table.len(), 2);
/// let total: f64 = table.as_slice::<[f64; 2]>()?.iter().map(|r| r[0]).sum();
/// assert_eq!(total, 10.0);
/// assert_eq!(replica.digest()?, writer.digest()?);
/// # Ok(()) }
/// ```
///
/// A view cannot outlive a write:
///
/// ```compile_fail,E0502
/// # use podsync::{Schema, Store};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut writer = Store::writer(&schema).unwrap();
/// let table = writer.table(1).unwrap();
/// writer.put(1, 5, &[0u8; 8]).unwrap(); // error[E0502]: cannot borrow `writer` as mutable
/// println!("{}", table.len());
/// ```
///
/// ```compile_fail,E0502
/// # use podsync::{Schema, Store};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut writer = Store::writer(&schema).unwrap();
/// writer.put(1, 5, &[0u8; 8]).unwrap();
/// let record = writer.get(1, 5).unwrap().unwrap();
/// writer.delete(1, 5).unwrap(); // error[E0502]: the record would dangle
/// println!("{record:?}");
/// ```
///
/// Frames cannot outlive the next flush:
///
/// ```compile_fail,E0502
/// # use podsync::{Schema, Store};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut writer = Store::writer(&schema).unwrap();
/// writer.put(1, 5, &[0u8; 8]).unwrap();
/// writer.flush().unwrap();
/// let frame = writer.frames().next().unwrap();
/// writer.snapshot().unwrap(); // error[E0502]: replaces the outbox that `frame` points into
/// println!("{}", frame.len());
/// ```
///
/// Roles are types: a replica has no `put`, a writer no `apply`:
///
/// ```compile_fail,E0599
/// # use podsync::{Schema, Store};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut replica = Store::replica(&schema).unwrap();
/// replica.put(1, 5, &[0u8; 8]).unwrap(); // error[E0599]: no method named `put` for Store<Replica>
/// ```
///
/// ```compile_fail,E0599
/// # use podsync::{Schema, Store};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut writer = Store::writer(&schema).unwrap();
/// let _ = writer.apply(&[0u8; 88]); // error[E0599]: no method named `apply` for Store<Writer>
/// ```
///
/// A store is not `Sync` (share it across threads behind a `Mutex`):
///
/// ```compile_fail,E0277
/// # use podsync::{Schema, Store, Writer};
/// fn needs_sync<T: Sync>(_: &T) {}
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let writer = Store::writer(&schema).unwrap();
/// needs_sync(&writer); // error[E0277]: `NonNull<podsync_store>` cannot be shared between threads
/// ```
pub struct Store<R: Role> {
    ptr: NonNull<sys::podsync_store>,
    /// Record size and alignment per table id, sorted by id.
    tables: Box<[TableMeta]>,
    /// The outbox as (pointer, length) per frame, read once after each flush / delta / snapshot
    /// / summary / reconcile that succeeds, and read again from the library after one that fails
    /// (`produce_error`): always the frames the library holds, never pointers it may have freed.
    outbox: Vec<(*const u8, usize)>,
    /// Chunked snapshots and checkpoints of this store dropped while it lives, freed by it; live
    /// checkpoints, abandoned by its drop (see `registry`).
    snapshots: Arc<Registry>,
    /// A writer's feeds, which it holds and frees before itself; a feed's link to its writer
    /// (see `subscription`).
    pub(crate) feeds: FeedLinks,
    _role: PhantomData<R>,
}

// SAFETY: the library keeps no thread-affine or global state; a handle may be used by any thread,
// one at a time. Store is not Sync (NonNull and the outbox pointers are !Sync), so `&Store` never
// reaches two threads at once: the header's "one thread at a time" holds.
unsafe impl<R: Role> Send for Store<R> {}

impl<R: Role> Store<R> {
    /// A store of `schema` (which is copied) with the default options.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if the library rejects an option (an unknown flag or
    /// transform bit, a compression level outside zstd's range, a struct version it does not
    /// know; the message names it); [`ErrorKind::NoMemory`] if the store cannot be allocated.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn new(schema: &Schema) -> Result<Store<R>> {
        Store::create(schema, None)
    }

    /// A store of `schema` with `options`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if the library rejects an option (an unknown flag or
    /// transform bit, a compression level outside zstd's range, a struct version it does not
    /// know; the message names it); [`ErrorKind::NoMemory`] if the store cannot be allocated.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn with_options(schema: &Schema, options: &StoreOptions) -> Result<Store<R>> {
        Store::create(schema, Some(options))
    }

    fn create(schema: &Schema, options: Option<&StoreOptions>) -> Result<Store<R>> {
        crate::ensure_abi();
        refuse_feed::<R>("Store::new")?;
        let tables = table_metas(schema)?;
        let opts = options.map_or(ptr::null(), |o| &o.raw as *const _);
        let mut out: *mut sys::podsync_store = ptr::null_mut();
        // SAFETY: valid schema handle, options struct (or NULL) and out-pointer.
        let st =
            unsafe { sys::podsync_store_create(schema.as_ptr(), R::ROLE.raw(), opts, &mut out) };
        match NonNull::new(out) {
            // SAFETY: a handle just created for `schema`, whose tables these are, in role R.
            Some(ptr) if st >= 0 => Ok(unsafe { Store::from_raw_parts(ptr, tables) }),
            other => {
                if let Some(p) = other {
                    // Not expected (the header says *out is NULL on failure); do not leak it.
                    // SAFETY: the library returned this handle to us; nothing else refers to it.
                    unsafe { sys::podsync_store_free(p.as_ptr()) };
                }
                // No handle: the message is the thread's last error (library 0.4.0).
                let message = if st < 0 { crate::error::last_message() } else { String::new() };
                Err(Error::new(
                    if st < 0 { st } else { sys::PODSYNC_E_INTERNAL },
                    if message.is_empty() {
                        format!("podsync_store_create ({:?}) failed", R::ROLE)
                    } else {
                        format!("podsync_store_create ({:?}): {message}", R::ROLE)
                    },
                ))
            }
        }
    }

    /// Wraps a handle the library returned.
    ///
    /// # Safety
    ///
    /// `ptr` is a store handle owned by the caller (given up to the result), of role `R`, whose
    /// schema's tables are `tables`.
    pub(crate) unsafe fn from_raw_parts(
        ptr: NonNull<sys::podsync_store>,
        tables: Box<[TableMeta]>,
    ) -> Store<R> {
        Store {
            ptr,
            tables,
            outbox: Vec::new(),
            snapshots: Registry::new(),
            feeds: FeedLinks::default(),
            _role: PhantomData,
        }
    }

    /// Changes the store's role type without freeing anything: a promoted replica becomes a
    /// writer with its handle, tables, outbox and registry (so its snapshots and checkpoints go
    /// on with it).
    ///
    /// # Safety
    ///
    /// The C store's role is now `T`.
    pub(crate) unsafe fn into_role<T: Role>(self) -> Store<T> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: each field is read once and `this` is never dropped, so nothing is freed or
        // dropped twice; the caller guarantees the role.
        unsafe {
            Store {
                ptr: this.ptr,
                tables: ptr::read(&this.tables),
                outbox: ptr::read(&this.outbox),
                snapshots: ptr::read(&this.snapshots),
                feeds: ptr::read(&this.feeds),
                _role: PhantomData,
            }
        }
    }

    // ----- reads -------------------------------------------------------------------------

    /// The store's counters (`podsync_store_info_get`).
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer,
    /// which this crate never passes; an error it returned would be passed on.
    pub fn info(&self) -> Result<StoreInfo> {
        let mut raw = sys::PODSYNC_STORE_INFO_INIT;
        // SAFETY: valid handle; raw is an info struct of this header's version (3).
        let st = unsafe { sys::podsync_store_info_get(self.ptr.as_ptr(), &mut raw) };
        self.check(st)?;
        Ok(StoreInfo {
            role: StoreRole::from_raw(raw.role).unwrap_or(R::ROLE),
            schema_hash: raw.schema_hash,
            stream_id: raw.stream_id,
            state_version: raw.state_version,
            sequence: raw.sequence,
            digest: raw.digest,
            catchup_floor: raw.catchup_floor,
            pending_changes: raw.pending_changes,
            generation: raw.generation,
            diverged: raw.diverged != 0,
            table_count: raw.table_count,
            refreshing: raw.refreshing != 0,
            term: raw.term,
            durable_version: raw.durable_version,
            log_bytes: raw.log_bytes,
            durable: raw.durable != 0,
            log_failed: raw.log_failed != 0,
        })
    }

    /// The version of the flushed (writer) or applied (replica) state.
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer,
    /// which this crate never passes; an error it returned would be passed on.
    pub fn version(&self) -> Result<u64> {
        Ok(self.info()?.state_version)
    }

    /// The order-independent state digest (`podsync_store_digest`, O(1)): equal on writer and
    /// replica when they hold the same records. The writer's covers flushed changes only.
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer,
    /// which this crate never passes; an error it returned would be passed on.
    pub fn digest(&self) -> Result<u64> {
        let mut d = 0u64;
        // SAFETY: valid handle and out-pointer.
        let st = unsafe { sys::podsync_store_digest(self.ptr.as_ptr(), &mut d) };
        self.check(st)?;
        Ok(d)
    }

    /// The store's counters since creation (`podsync_store_metrics`, struct version 3), as a
    /// [`Metrics`]: frames and bytes produced and applied, coalesced writes, duplicates, gaps,
    /// rejects by error, time histograms, (since library 0.3.0) the COLUMNS transform's and
    /// dictionaries' counters, and (since 0.5.0) the chunked snapshots' counters and the memory
    /// they hold. O(1); moves nothing, so views stay valid.
    ///
    /// # Errors
    ///
    /// Only if the library refuses the call, which it does not for a valid handle and struct
    /// version ([`ErrorKind::InvalidArgument`] would mean a library older than 0.2.0).
    pub fn metrics(&self) -> Result<Metrics> {
        self.read_metrics().map(Metrics::from)
    }

    /// The store's counters as the C struct `podsync_metrics` (struct version 3).
    ///
    /// **Deprecated:** use [`metrics`](Store::metrics), which returns them as a [`Metrics`] of
    /// plain Rust values (this method exists because `metrics` returned the C struct before).
    ///
    /// # Errors
    ///
    /// As [`metrics`](Store::metrics).
    #[deprecated(note = "use Store::metrics, which returns podsync::Metrics")]
    pub fn metrics_raw(&self) -> Result<sys::podsync_metrics> {
        self.read_metrics()
    }

    fn read_metrics(&self) -> Result<sys::podsync_metrics> {
        self.reap_snapshots();
        // SAFETY: all-zero bytes are a valid podsync_metrics (integers only).
        let mut m: sys::podsync_metrics = unsafe { std::mem::zeroed() };
        m.version = sys::PODSYNC_METRICS_VERSION;
        // SAFETY: valid handle and out-pointer.
        let st = unsafe { sys::podsync_store_metrics(self.ptr.as_ptr(), &mut m) };
        self.check(st)?;
        Ok(m)
    }

    // ----- compression dictionaries (since library 0.3.0) -----------------------------------

    /// Starts keeping the packed stream of every frame this store produces from now on, each
    /// whole, while it fits in what is left of `max_bytes` (a frame that does not fit is skipped,
    /// not cut; library 0.4.0), to train a dictionary from
    /// ([`train_dictionary`](Store::train_dictionary)); 0 stops and discards them
    /// (`podsync_store_collect_samples`). Training needs 8 kept frames, so `max_bytes` should be at
    /// least 8 times a typical frame.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if the store's compression level is 0 (it would never
    /// pack a frame to keep).
    pub fn collect_samples(&mut self, max_bytes: usize) -> Result<()> {
        // SAFETY: valid handle.
        let st = unsafe { sys::podsync_store_collect_samples(self.ptr.as_ptr(), max_bytes) };
        self.check(st).map(|_| ())
    }

    /// Trains a zstd dictionary of at most `max_size` bytes (0: 16 KiB; 256 ..= 4 MiB) from the
    /// samples collected (at least 8 frames), loads it so that the frames produced from now on
    /// are compressed with it, stops collecting and returns its id
    /// (`podsync_store_train_dictionary`). Takes tens to hundreds of milliseconds: call it off the
    /// hot path. Replicas need the same bytes ([`dictionary`](Store::dictionary), sent out of
    /// band) loaded with [`load_dictionary`](Store::load_dictionary).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if `max_size` is outside 256 ..= 4 MiB (0 aside), if fewer
    /// than 8 frames were collected (the message says how many were kept and how many skipped
    /// for the budget), or if zstd cannot train on them; [`ErrorKind::NoMemory`] if the
    /// training cannot allocate. The samples are kept on error.
    ///
    /// # Examples
    ///
    /// ```
    /// use podsync::{Applied, ErrorKind, Schema, Store, StoreOptions};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table_of::<[u32; 4]>(1, &[])?;
    /// let mut writer = Store::writer_with(&schema, &StoreOptions::new().compression_level(3))?;
    /// let mut replica = Store::replica(&schema)?;
    /// writer.collect_samples(1 << 20)?;
    /// for tick in 0..10u32 {
    ///     // Frames of 100 similar records: compressed, and kept as samples.
    ///     let keys: Vec<u64> = (0..100).collect();
    ///     let records: Vec<[u32; 4]> = (0..100).map(|k| [k, tick, k * tick, 7]).collect();
    ///     writer.put_many(1, &keys, &records)?;
    ///     writer.flush()?;
    ///     for f in writer.frames() {
    ///         replica.apply(f)?;
    ///     }
    /// }
    /// let id = writer.train_dictionary(4096)?;
    /// writer.put_many(1, &[1, 2], &[[1u32, 2, 3, 4], [5, 6, 7, 8]])?;
    /// writer.flush()?;
    /// let frame = writer.frame(0).unwrap();
    /// assert_eq!(podsync::frame::peek(frame)?.dictionary_id, id);
    /// // The replica needs the dictionary first; nothing changed meanwhile.
    /// assert_eq!(replica.apply(frame).unwrap_err().kind(), ErrorKind::DictionaryMissing);
    /// let (_, bytes) = writer.dictionary()?.expect("trained");
    /// assert_eq!(replica.load_dictionary(bytes)?, id);
    /// assert_eq!(replica.apply(frame)?, Applied::Ok);
    /// assert_eq!(replica.digest()?, writer.digest()?);
    /// # Ok(()) }
    /// ```
    pub fn train_dictionary(&mut self, max_size: usize) -> Result<u32> {
        let mut id = 0u32;
        // SAFETY: valid handle and out-pointer.
        let st =
            unsafe { sys::podsync_store_train_dictionary(self.ptr.as_ptr(), max_size, &mut id) };
        self.check(st)?;
        Ok(id)
    }

    /// Loads a zstd dictionary (copied by the library; it must carry an id, as those of
    /// [`train_dictionary`](Store::train_dictionary) or `zstd --train` do) so that frames
    /// compressed with it can be applied; frames this store produces from now on are compressed
    /// with it (`podsync_store_load_dictionary`). Returns its id. Loading an id already loaded
    /// replaces it; a store keeps up to 8.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if `dict` is not a zstd dictionary carrying an id (for
    /// example raw bytes, or a dictionary trained without one); [`ErrorKind::NoMemory`] if it
    /// cannot be copied. The store's dictionaries are unchanged on error.
    pub fn load_dictionary(&mut self, dict: &[u8]) -> Result<u32> {
        let mut id = 0u32;
        // SAFETY: valid handle; dict valid for its length; valid out-pointer.
        let st = unsafe {
            sys::podsync_store_load_dictionary(
                self.ptr.as_ptr(),
                dict.as_ptr().cast(),
                dict.len(),
                &mut id,
            )
        };
        self.check(st)?;
        Ok(id)
    }

    /// The dictionary this store compresses with, as `(id, bytes)` borrowed from the store (no
    /// copy), or `None` if it has none (`podsync_store_dictionary`). The bytes cannot outlive the
    /// next train or load, which replace them (see the example below).
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle, which this crate
    /// never passes; an error it returned would be passed on.
    ///
    /// # Examples
    ///
    /// ```compile_fail,E0502
    /// # use podsync::{Schema, Store};
    /// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
    /// let mut replica = Store::replica(&schema).unwrap();
    /// let (_, bytes) = replica.dictionary().unwrap().unwrap();
    /// replica.load_dictionary(&[0u8; 8]).unwrap(); // error[E0502]: `bytes` would dangle
    /// println!("{}", bytes.len());
    /// ```
    pub fn dictionary(&self) -> Result<Option<(u32, &[u8])>> {
        let mut data: *const std::ffi::c_void = ptr::null();
        let mut size = 0usize;
        let mut id = 0u32;
        // SAFETY: valid handle and out-pointers.
        let st = unsafe {
            sys::podsync_store_dictionary(self.ptr.as_ptr(), &mut data, &mut size, &mut id)
        };
        match self.check(st)? {
            sys::PODSYNC_OK if !data.is_null() => {
                // SAFETY: the library lends `size` bytes until the next train, load or free, all
                // of which need `&mut self` (or ownership): not while `&self` is borrowed.
                Ok(Some((id, unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) })))
            }
            sys::PODSYNC_OK => {
                Err(internal("podsync_store_dictionary returned PODSYNC_OK and a NULL dictionary"))
            }
            sys::PODSYNC_NOT_FOUND => Ok(None),
            other => Err(unexpected("podsync_store_dictionary", other)),
        }
    }

    /// Number of live records in `table` (`podsync_store_count`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`] if the schema has no table `table`.
    pub fn count(&self, table: u32) -> Result<usize> {
        let mut n = 0usize;
        // SAFETY: valid handle and out-pointer.
        let st = unsafe { sys::podsync_store_count(self.ptr.as_ptr(), table, &mut n) };
        self.check(st)?;
        Ok(n)
    }

    /// The record under `key`, borrowed from the store (no copy), or `None`
    /// (`podsync_store_get`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`] if the schema has no table `table`.
    pub fn get(&self, table: u32, key: u64) -> Result<Option<&[u8]>> {
        let mut rec: *const std::ffi::c_void = ptr::null();
        // SAFETY: valid handle and out-pointer.
        let st = unsafe { sys::podsync_store_get(self.ptr.as_ptr(), table, key, &mut rec) };
        match self.check(st)? {
            sys::PODSYNC_OK if !rec.is_null() => {
                let meta = self.meta(table)?;
                // SAFETY: the library returned a record of the table's size, valid until the next
                // write, apply or free, none of which can happen while `&self` is borrowed.
                Ok(Some(unsafe { std::slice::from_raw_parts(rec.cast::<u8>(), meta.record_size) }))
            }
            sys::PODSYNC_OK => {
                Err(internal("podsync_store_get returned PODSYNC_OK and a NULL record"))
            }
            sys::PODSYNC_NOT_FOUND => Ok(None),
            other => Err(unexpected("podsync_store_get", other)),
        }
    }

    /// The record under `key` as a `&T` in place, or `None`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::RecordSize`] if `size_of::<T>()` differs from the table's record size
    /// (checked even when the key is absent); [`ErrorKind::InvalidArgument`] if the record is not
    /// aligned for `T` (declare the table with at least `align_of::<T>()`, e.g. with
    /// [`Schema::table_of`]); [`ErrorKind::UnknownTable`] if the schema has no table `table`.
    pub fn get_as<T: Pod>(&self, table: u32, key: u64) -> Result<Option<&T>> {
        if let Ok(meta) = self.meta(table) {
            if meta.record_size != std::mem::size_of::<T>() {
                return Err(pod::record_size_error::<T>(
                    meta.record_size,
                    format_args!("table {table}"),
                ));
            }
        }
        match self.get(table, key)? {
            Some(bytes) => {
                pod::cast_record(bytes, format_args!("table {table}, key {key}")).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The table's live records as one contiguous array and the parallel array of their keys
    /// (`podsync_store_table`), borrowed from the store. Order is unspecified.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`] if the schema has no table `table`; [`ErrorKind::Internal`]
    /// if the library returned arrays that break its contract (NULL or misaligned).
    pub fn table(&self, table: u32) -> Result<TableView<'_>> {
        let mut records: *const std::ffi::c_void = ptr::null();
        let mut keys: *const u64 = ptr::null();
        let mut count = 0usize;
        // SAFETY: valid handle and out-pointers.
        let st = unsafe {
            sys::podsync_store_table(self.ptr.as_ptr(), table, &mut records, &mut keys, &mut count)
        };
        self.check(st)?;
        let meta = self.meta(table)?;
        if count == 0 {
            return Ok(TableView { meta, keys: &[], records: &[] });
        }
        let bytes =
            count.checked_mul(meta.record_size).ok_or_else(|| internal("table size overflows"))?;
        if records.is_null() || keys.is_null() {
            return Err(internal("podsync_store_table returned NULL for a non-empty table"));
        }
        if !(keys as usize).is_multiple_of(std::mem::align_of::<u64>())
            || !(records as usize).is_multiple_of(meta.alignment)
        {
            return Err(internal("podsync_store_table returned misaligned arrays"));
        }
        // SAFETY: the library returned `count` keys and `count * record_size` record bytes,
        // aligned (checked), valid until the next write, apply or free: not while `&self` lives.
        let (keys, records) = unsafe {
            (
                std::slice::from_raw_parts(keys, count),
                std::slice::from_raw_parts(records.cast::<u8>(), bytes),
            )
        };
        Ok(TableView { meta, keys, records })
    }

    /// Record size of `table` in bytes, or `None` if the schema has no such table.
    pub fn record_size(&self, table: u32) -> Option<usize> {
        self.meta(table).ok().map(|m| m.record_size)
    }

    /// The schema's table ids, ascending.
    pub fn table_ids(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.tables.iter().map(|t| t.id)
    }

    // ----- frames --------------------------------------------------------------------------

    /// One frame carrying every change since `since_version`, as of the last flush
    /// (`podsync_store_delta_since`); read it with [`frames`](Store::frames). Version 0 produces
    /// a snapshot. [`Delta::SnapshotRequired`] (and no frame) if the version is older than the
    /// store covers ([`StoreInfo::catchup_floor`]). The outbox is replaced in both cases.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::VersionAhead`] if `since_version` is newer than the store;
    /// [`ErrorKind::Diverged`] on a diverged replica, and on a [`one_way`](StoreOptions::one_way)
    /// replica out of sync ([`StoreInfo::refreshing`]); [`ErrorKind::Io`] while a durable store's
    /// log has failed ([`StoreInfo::log_failed`]); [`ErrorKind::NoMemory`] if the frame cannot be
    /// allocated. After an error [`frames`](Store::frames) yields what the library's outbox still
    /// holds (see [Frames after an error](Store#frames-after-an-error)).
    pub fn delta_since(&mut self, since_version: u64) -> Result<Delta> {
        self.reap_snapshots();
        let mut n = 0usize;
        // SAFETY: valid handle and out-pointer; `&mut self`: no frame borrowed from the outbox is
        // alive, and the crate's view of it is read again below whatever the call returns.
        let st =
            unsafe { sys::podsync_store_delta_since(self.ptr.as_ptr(), since_version, &mut n) };
        match st {
            sys::PODSYNC_OK => Ok(Delta::Frames(self.load_outbox(n)?)),
            sys::PODSYNC_SNAPSHOT_REQUIRED => {
                self.load_outbox(n)?;
                Ok(Delta::SnapshotRequired)
            }
            s => Err(self.produce_error("podsync_store_delta_since", s)),
        }
    }

    /// The whole state as of the last flush (writer) or as applied (replica), flagged RESET
    /// (`podsync_store_snapshot`): one frame when it fits in
    /// [`max_frame_bytes`](StoreOptions::max_frame_bytes), else (since library 0.5.0) the chunks
    /// of a chunked snapshot, each at most that size, all in the outbox: apply them in order
    /// ([`Applied::ChunkStaged`] until the last). Returns the number of frames in the outbox. To
    /// hold one chunk at a time, stream the snapshot with [`begin_snapshot`](Store::begin_snapshot).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Diverged`] on a diverged replica, and on a [`one_way`](StoreOptions::one_way)
    /// replica out of sync ([`StoreInfo::refreshing`]); [`ErrorKind::Io`] while a durable store's
    /// log has failed ([`StoreInfo::log_failed`]); [`ErrorKind::NoMemory`] if the frames cannot be
    /// allocated. After an error [`frames`](Store::frames) yields what
    /// the library's outbox still holds (see [Frames after an error](Store#frames-after-an-error)).
    pub fn snapshot(&mut self) -> Result<usize> {
        self.reap_snapshots();
        let mut n = 0usize;
        // SAFETY: valid handle and out-pointer; `&mut self`: no frame borrowed from the outbox is
        // alive, and the crate's view of it is read again below whatever the call returns.
        let st = unsafe { sys::podsync_store_snapshot(self.ptr.as_ptr(), &mut n) };
        match st {
            sys::PODSYNC_OK => self.load_outbox(n),
            s => Err(self.produce_error("podsync_store_snapshot", s)),
        }
    }

    /// Number of frames in the outbox (produced by the last flush, delta_since, snapshot,
    /// [`summary`](Store::summary) or [`reconcile`](Store::reconcile)).
    pub fn frame_count(&self) -> usize {
        self.outbox.len()
    }

    /// Frame `index` of the outbox: 64-byte aligned bytes in the store, valid while `&self` is
    /// borrowed (the next flush, delta_since, snapshot, summary or reconcile needs `&mut self`).
    pub fn frame(&self, index: usize) -> Option<&[u8]> {
        self.outbox.get(index).map(|&(p, n)| {
            // SAFETY: see Frames::next.
            unsafe { std::slice::from_raw_parts(p, n) }
        })
    }

    /// The frames of the outbox, in order.
    pub fn frames(&self) -> Frames<'_> {
        Frames { inner: self.outbox.iter() }
    }

    /// After a call that produced `n` frames: reads the outbox's frame pointers once (one call
    /// per frame, never per record).
    pub(crate) fn load_outbox(&mut self, n: usize) -> Result<usize> {
        self.outbox.clear();
        for i in 0..n {
            let mut data: *const u8 = ptr::null();
            let mut size = 0usize;
            // SAFETY: valid handle and out-pointers.
            let st =
                unsafe { sys::podsync_store_frame(self.ptr.as_ptr(), i, &mut data, &mut size) };
            if st < 0 || data.is_null() {
                let e = if st < 0 {
                    self.error(st)
                } else {
                    internal("podsync_store_frame returned NULL")
                };
                // The library holds fewer frames than it said: keep exactly those it holds.
                self.reload_outbox();
                return Err(Error::new(
                    sys::PODSYNC_E_INTERNAL,
                    format!("frame {i} of {n} produced could not be read: {e}"),
                ));
            }
            self.outbox.push((data, size));
        }
        Ok(n)
    }

    /// The error of a call that may produce frames (flush, delta_since, snapshot, summary,
    /// reconcile) and returned `st`, an error status or one it does not return; `call` names it.
    /// The library may have cleared, refilled or moved its outbox before it failed (a durable
    /// flush clears it when the log write fails; a delta or snapshot clears it before work that
    /// can still fail; a flush may reallocate it while reserving room), so the frame pointers
    /// read after the last successful call may dangle: the crate's view is read again from the
    /// library's outbox ([`reload_outbox`](Store::reload_outbox)), after the error's message was
    /// copied.
    pub(crate) fn produce_error(&mut self, call: &str, st: i32) -> Error {
        let e = if st < 0 { self.error(st) } else { unexpected(call, st) };
        self.reload_outbox();
        e
    }

    /// Rebuilds the crate's view of the outbox from the frames the library holds now:
    /// `podsync_store_frame` for index 0, 1, ... until it fails (the library answers
    /// `PODSYNC_E_INVALID_ARGUMENT` past its last frame, which also becomes the store's last error
    /// message; callers copy theirs first).
    pub(crate) fn reload_outbox(&mut self) {
        self.outbox.clear();
        loop {
            let mut data: *const u8 = ptr::null();
            let mut size = 0usize;
            // SAFETY: valid handle and out-pointers.
            let st = unsafe {
                sys::podsync_store_frame(self.ptr.as_ptr(), self.outbox.len(), &mut data, &mut size)
            };
            if st < 0 || data.is_null() {
                return;
            }
            self.outbox.push((data, size));
        }
    }

    /// `podsync_store_flush` (a writer's or a feed's): the outbox holds the frames afterwards.
    pub(crate) fn flush_outbox(&mut self) -> Result<usize> {
        // A snapshot dropped meanwhile no longer needs the records this flush changes.
        self.reap_snapshots();
        let mut n = 0usize;
        // SAFETY: valid handle and out-pointer; `&mut self`: no frame borrowed from the outbox is
        // alive, and the crate's view of it is read again below whatever the call returns.
        let st = unsafe { sys::podsync_store_flush(self.ptr.as_ptr(), &mut n) };
        match st {
            sys::PODSYNC_OK => self.load_outbox(n),
            s => Err(self.produce_error("podsync_store_flush", s)),
        }
    }

    /// `podsync_store_flush_due` (a writer's or a feed's).
    pub(crate) fn flush_due_raw(&self) -> Result<bool> {
        // SAFETY: valid handle. The call takes a non-const pointer but is not one of the events
        // that invalidate borrowed records or frames; Store is !Sync, so no other thread calls.
        let st = unsafe { sys::podsync_store_flush_due(self.ptr.as_ptr()) };
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(false),
            sys::PODSYNC_FLUSH_DUE => Ok(true),
            other => Err(unexpected("podsync_store_flush_due", other)),
        }
    }

    // ----- raw access ----------------------------------------------------------------------

    /// The raw handle, for calls through `podsync_sys`. Calls that write, apply or replace the
    /// outbox must not be made through it while views exist; use [`as_mut_ptr`](Store::as_mut_ptr).
    pub fn as_ptr(&self) -> *const sys::podsync_store {
        self.ptr.as_ptr()
    }

    /// The raw handle for mutating calls through `podsync_sys`. Because such a call may replace
    /// the outbox, this empties the outbox as this crate sees it: [`frames`](Store::frames)
    /// yields nothing until the next `flush`, `delta_since`, `snapshot`, `summary` or `reconcile`
    /// made through this crate.
    pub fn as_mut_ptr(&mut self) -> *mut sys::podsync_store {
        self.outbox.clear();
        self.ptr.as_ptr()
    }

    fn meta(&self, table: u32) -> Result<TableMeta> {
        match self.tables.binary_search_by_key(&table, |t| t.id) {
            Ok(i) => Ok(self.tables[i]),
            Err(_) => Err(Error::from_kind(
                ErrorKind::UnknownTable,
                format!("no table with id {table} in the schema"),
            )),
        }
    }

    fn check(&self, st: i32) -> Result<i32> {
        if st < 0 { Err(self.error(st)) } else { Ok(st) }
    }

    /// The error of status `st` with the store's message.
    pub(crate) fn error_of(&self, st: i32) -> Error {
        self.error(st)
    }

    /// The record size and alignment of each table, sorted by id (a feed's are its writer's).
    pub(crate) fn table_metas(&self) -> Box<[TableMeta]> {
        self.tables.clone()
    }

    /// The raw handle for the crate's own calls (which document why they are sound).
    pub(crate) fn raw_handle(&self) -> *mut sys::podsync_store {
        self.ptr.as_ptr()
    }

    /// The store's registry of chunked snapshots (identity of the store for `Snapshot`).
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.snapshots
    }

    /// Frees the handles of chunked snapshots dropped since the last call (see `Snapshot`).
    pub(crate) fn reap_snapshots(&self) {
        // SAFETY: `&self` on a store that is not Sync: no other thread uses it meanwhile.
        unsafe { self.snapshots.reap() }
    }

    fn error(&self, st: i32) -> Error {
        // SAFETY: valid handle; the message is copied before any other call on it.
        Error::new(st, copy_message(unsafe { sys::podsync_store_errmsg(self.ptr.as_ptr()) }))
    }
}

impl Store<Writer> {
    /// A writer of `schema` with the default options.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if the library rejects an option (an unknown flag or
    /// transform bit, a compression level outside zstd's range, a struct version it does not
    /// know; the message names it); [`ErrorKind::NoMemory`] if the store cannot be allocated.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn writer(schema: &Schema) -> Result<Store<Writer>> {
        Store::new(schema)
    }

    /// A writer of `schema` with `options`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if the library rejects an option (an unknown flag or
    /// transform bit, a compression level outside zstd's range, a struct version it does not
    /// know; the message names it); [`ErrorKind::NoMemory`] if the store cannot be allocated.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn writer_with(schema: &Schema, options: &StoreOptions) -> Result<Store<Writer>> {
        Store::with_options(schema, options)
    }

    /// Inserts or replaces one record (`podsync_store_put`); `record` must be exactly the table's
    /// record size. Writes are coalesced per key until the next flush.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`]; [`ErrorKind::RecordSize`] if `record.len()` is not the
    /// table's record size; [`ErrorKind::Limit`] if a new key would take the store past
    /// [`max_records`](StoreOptions::max_records); [`ErrorKind::NoMemory`]. Nothing is written
    /// on error.
    pub fn put(&mut self, table: u32, key: u64, record: &[u8]) -> Result<WriteOutcome> {
        // SAFETY: valid handle; record is valid for its length.
        let st = unsafe {
            sys::podsync_store_put(
                self.ptr.as_ptr(),
                table,
                key,
                record.as_ptr().cast(),
                record.len(),
            )
        };
        self.write_outcome("podsync_store_put", st)
    }

    /// Inserts or replaces one record given as a `Pod` value (its bytes, no copy).
    ///
    /// # Errors
    ///
    /// As [`put`](Store::put): [`ErrorKind::RecordSize`] if `size_of::<T>()` is not the table's
    /// record size.
    pub fn put_as<T: Pod>(&mut self, table: u32, key: u64, record: &T) -> Result<WriteOutcome> {
        self.put(table, key, pod::bytes_of(record))
    }

    /// Inserts or replaces `keys.len()` records in one call (`podsync_store_put_many`): `keys[i]`
    /// gets record `i` of `records`. `records` is a slice of record structs (`&[Entity]`) or of
    /// raw bytes (`&[u8]`, `keys.len() * record_size` of them); its total size must be
    /// `keys.len() * record_size`. A key given twice gets the later record.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`]; [`ErrorKind::RecordSize`] if the records' total size is not
    /// `keys.len() * record_size`; [`ErrorKind::Limit`] if the new keys would take the store
    /// past [`max_records`](StoreOptions::max_records); [`ErrorKind::NoMemory`]. Everything is
    /// validated before any change: on error nothing was written.
    pub fn put_many<T: Pod>(
        &mut self,
        table: u32,
        keys: &[u64],
        records: &[T],
    ) -> Result<WriteOutcome> {
        // SAFETY: valid handle; keys and records are valid for their lengths.
        let st = unsafe {
            sys::podsync_store_put_many(
                self.ptr.as_ptr(),
                table,
                keys.as_ptr(),
                records.as_ptr().cast(),
                keys.len(),
                size_of_val(records),
            )
        };
        self.write_outcome("podsync_store_put_many", st)
    }

    /// Deletes one record (`podsync_store_delete`); [`DeleteOutcome::NotFound`] if there is none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`]; [`ErrorKind::NoMemory`] if the deletion cannot be recorded.
    /// Nothing is deleted on error.
    pub fn delete(&mut self, table: u32, key: u64) -> Result<DeleteOutcome> {
        // SAFETY: valid handle.
        let st = unsafe { sys::podsync_store_delete(self.ptr.as_ptr(), table, key) };
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(DeleteOutcome::Ok),
            sys::PODSYNC_FLUSH_DUE => Ok(DeleteOutcome::FlushDue),
            sys::PODSYNC_NOT_FOUND => Ok(DeleteOutcome::NotFound),
            other => Err(unexpected("podsync_store_delete", other)),
        }
    }

    /// Deletes the records under `keys` in one call (`podsync_store_delete_many`); absent keys
    /// are skipped.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`]; [`ErrorKind::NoMemory`] if the deletions cannot be recorded.
    /// Nothing is deleted on error.
    pub fn delete_many(&mut self, table: u32, keys: &[u64]) -> Result<DeleteMany> {
        let mut deleted = 0usize;
        // SAFETY: valid handle; keys valid for its length; valid out-pointer.
        let st = unsafe {
            sys::podsync_store_delete_many(
                self.ptr.as_ptr(),
                table,
                keys.as_ptr(),
                keys.len(),
                &mut deleted,
            )
        };
        let outcome = self.write_outcome("podsync_store_delete_many", st)?;
        Ok(DeleteMany { deleted, outcome })
    }

    /// Sets the store's clock (milliseconds on any monotonic scale); with
    /// [`StoreOptions::manual_clock`] the only time source.
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer,
    /// which this crate never passes; an error it returned would be passed on.
    pub fn set_time(&mut self, now_ms: u64) -> Result<()> {
        // SAFETY: valid handle.
        let st = unsafe { sys::podsync_store_set_time(self.ptr.as_ptr(), now_ms) };
        self.check(st).map(|_| ())
    }

    /// True if the flush policy says the pending batch should be flushed now
    /// (`podsync_store_flush_due`), or (since library 0.5.0) if a writer with a rolling refresh
    /// and [`refresh_ms`](StoreOptions::refresh_ms) sent no frame for that long: a
    /// [`flush`](Store::flush) then sends a refresh-only frame even with nothing pending. Moves
    /// nothing: views stay valid.
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer,
    /// which this crate never passes; an error it returned would be passed on.
    pub fn flush_due(&self) -> Result<bool> {
        self.flush_due_raw()
    }

    /// Turns the pending batch into frames (`podsync_store_flush`), each advancing the version by
    /// one; returns how many (0 for an empty batch). Read them with [`frames`](Store::frames).
    ///
    /// With a rolling refresh ([`refresh_flushes`](StoreOptions::refresh_flushes), since library
    /// 0.5.0) the last frame also carries the next slice of the state
    /// ([`FrameInfo::has_slice`](crate::frame::FrameInfo::has_slice)); and when
    /// [`refresh_ms`](StoreOptions::refresh_ms) passed without a frame, an empty batch gives one
    /// refresh-only frame: a slice alone, at the current version (its `base_version` equals its
    /// `state_version`, which does not advance).
    ///
    /// A durable store ([`Store::open`], since library 0.6.0) logs the frames before returning
    /// them (and fsyncs them with [`LogPolicy::EveryFrame`](crate::LogPolicy::EveryFrame)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoMemory`] if the frames cannot be allocated: the batch stays pending and the
    /// version unchanged, so the flush can be retried. [`ErrorKind::Io`] if a durable store cannot
    /// log them (disk full, I/O error): no frame is handed out (the outbox is empty, the frames
    /// of the flush before included), the version the flush reached stays in memory, and the
    /// store refuses to produce frames (flush, `delta_since`, snapshots: [`ErrorKind::Io`]) until
    /// a [`checkpoint`](Store::checkpoint) of its state succeeds ([`StoreInfo::log_failed`]), so
    /// that no replica sees a version the disk does not have. After any error
    /// [`frames`](Store::frames) yields what the library's outbox still holds (see
    /// [Frames after an error](Store#frames-after-an-error)).
    ///
    /// A writer with [feeds](Store::feed) (since library 0.8.0) also hands each feed the changes
    /// of its subset; the feed's own [`flush`](Store::flush) then makes its frames. The borrow
    /// checker keeps a record or table borrowed from a feed from living across this call, which
    /// rewrites them. [`ErrorKind::InvalidArgument`] (checked by this binding; nothing flushed)
    /// if the writer holds a feed of another store (a writer or a relay), which only
    /// [`std::mem::swap`] of two feeds can bring about: its own feed is then held elsewhere, where
    /// this flush must not write.
    pub fn flush(&mut self) -> Result<usize> {
        self.check_own_feeds("Store::flush")?;
        self.flush_outbox()
    }

    fn write_outcome(&self, what: &str, st: i32) -> Result<WriteOutcome> {
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(WriteOutcome::Ok),
            sys::PODSYNC_FLUSH_DUE => Ok(WriteOutcome::FlushDue),
            other => Err(unexpected(what, other)),
        }
    }
}

impl Store<Replica> {
    /// A replica of `schema` with the default options.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if the library rejects an option (an unknown flag or
    /// transform bit, a compression level outside zstd's range, a struct version it does not
    /// know; the message names it); [`ErrorKind::NoMemory`] if the store cannot be allocated.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn replica(schema: &Schema) -> Result<Store<Replica>> {
        Store::new(schema)
    }

    /// A replica of `schema` with `options`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if the library rejects an option (an unknown flag or
    /// transform bit, a compression level outside zstd's range, a struct version it does not
    /// know; the message names it); [`ErrorKind::NoMemory`] if the store cannot be allocated.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn replica_with(schema: &Schema, options: &StoreOptions) -> Result<Store<Replica>> {
        Store::with_options(schema, options)
    }

    /// Validates the whole frame, then applies it atomically (`podsync_store_apply`). `frame`
    /// must be exactly one frame; it need not be aligned. Duplicates, gaps and old snapshots are
    /// outcomes, not errors ([`Applied`]); so are the chunks of a chunked snapshot (since library
    /// 0.5.0): [`Applied::ChunkStaged`] until the last one, which switches the replica to the
    /// snapshot's state in one step ([`Applied::Ok`]), [`Applied::Duplicate`] for a chunk staged
    /// already, [`Applied::ChunkGap`] for one ahead of the expected one (resume from
    /// [`staging`](Store::staging)), [`Applied::Stale`] for a chunk of an older snapshot. Chunk 0
    /// of a newer snapshot replaces an unfinished one. A [`one_way`](StoreOptions::one_way)
    /// replica (since library 0.5.0) never returns [`Applied::Gap`]: out of sync it takes what
    /// each frame holds of newer versions and returns [`Applied::Refreshing`] until its digest
    /// equals a frame's ([`Applied::Ok`]). A synced replica takes a frame's changes and ignores
    /// its refresh slice; a refresh-only frame at the replica's version is
    /// [`Applied::Duplicate`]. A repair frame (the end of a [reconciliation](crate#reconciliation),
    /// since library 0.7.0) applies whatever the replica's version, stream, term or diverged mark,
    /// when it was computed for the replica's exact state: the replica then holds the
    /// responder's state and version ([`Applied::Ok`]) and continues with deltas.
    ///
    /// # Errors
    ///
    /// On error the state is unchanged, except after [`ErrorKind::DigestMismatch`].
    /// - A frame that is not valid: [`ErrorKind::FrameTruncated`] (`frame` is shorter than the
    ///   frame says), [`ErrorKind::FrameMagic`], [`ErrorKind::FrameVersion`],
    ///   [`ErrorKind::FrameChecksum`], [`ErrorKind::FrameMalformed`] (a length, count, offset or
    ///   flag is inconsistent, or `frame` is longer than the frame), [`ErrorKind::UnsupportedCodec`],
    ///   [`ErrorKind::FrameFeature`] (a critical format-2 feature this library does not implement);
    /// - [`ErrorKind::ChunkMismatch`]: a chunk contradicts the chunks staged before it; the
    ///   staged chunks were dropped (the visible state is unchanged): start the snapshot again;
    /// - reconciliation (since library 0.7.0): [`ErrorKind::RepairStale`] (a repair frame computed
    ///   for another state than the replica's: its digest moved since its summary; start a new
    ///   exchange), [`ErrorKind::InvalidArgument`] (a summary message: answer it with
    ///   [`reconcile`](Store::reconcile) instead);
    /// - a frame of another schema or writer: [`ErrorKind::SchemaMismatch`],
    ///   [`ErrorKind::StreamMismatch`] (a delta of another stream: apply a snapshot of it);
    /// - subscriptions (since library 0.8.0): [`ErrorKind::NotSubscribed`], a frame of another
    ///   subset of the stream than the replica holds (a [feed](Store::feed)'s frame to a replica
    ///   of the whole stream, a frame of the whole stream or of another subscription to a
    ///   [subscribed](Store::subscribe) replica);
    /// - [`ErrorKind::DictionaryMissing`]: load the writer's dictionary
    ///   ([`load_dictionary`](Store::load_dictionary)) and apply the frame again;
    /// - limits: [`ErrorKind::Limit`] (the frame would take the replica past
    ///   [`max_records`](StoreOptions::max_records)), [`ErrorKind::FrameTooLarge`] (it decodes to
    ///   more than [`max_decoded_bytes`](StoreOptions::max_decoded_bytes)),
    ///   [`ErrorKind::NoMemory`];
    /// - divergence: [`ErrorKind::DigestMismatch`] (the frame **was applied**, and the replica's
    ///   digest differs from the writer's: it is now diverged and needs a snapshot),
    ///   [`ErrorKind::Diverged`] (a delta offered to a diverged replica; a
    ///   [`one_way`](StoreOptions::one_way) replica takes it instead, out of sync:
    ///   [`Applied::Refreshing`]);
    /// - terms (frame format 2, since library 0.6.0): [`ErrorKind::TermFenced`] (a frame of an
    ///   older term than the replica follows: an old writer that came back after a
    ///   [promotion](Store::promote)), [`ErrorKind::HistoryDiverged`] (a frame of a newer term
    ///   whose history left the replica's term before the replica's version: it holds versions
    ///   the new writer never had and needs a snapshot of it);
    /// - [`ErrorKind::Io`]: a durable replica ([`Store::open`]) could not log the frame, which
    ///   **was applied** ([`StoreInfo::log_failed`]);
    /// - [`ErrorKind::InvalidArgument`] (checked by this binding, before the library is called;
    ///   nothing applied, not counted in [`Metrics::rejects`]): the replica is a relay holding a
    ///   feed of another store, which only [`std::mem::swap`] of two feeds can bring about: its
    ///   own feed is then held elsewhere, where this apply must not write.
    ///
    /// Every error of the library is counted in [`Metrics::rejects`].
    ///
    /// A replica of the whole stream with [feeds](Store::feed) (a *relay*, since library 0.8.0)
    /// also hands each feed what the frame changed in its subset: a delta key by key; any other
    /// frame that changes the state (a snapshot, the last chunk of a chunked one, a repair, a
    /// one-way refresh) rebuilds the feed from the relay's state, whose catch-up floor then
    /// starts there, and ends the feed's chunked snapshots in flight
    /// ([`ErrorKind::SnapshotExpired`]). The feed's own [`flush`](Store::flush) then makes its
    /// frames. The borrow checker keeps a record or table borrowed from a feed from living across
    /// this call, which rewrites them.
    pub fn apply(&mut self, frame: &[u8]) -> Result<Applied> {
        self.check_own_feeds("Store::apply")?;
        self.reap_snapshots();
        let mut version = 0u64;
        // SAFETY: valid handle; frame valid for its length; valid out-pointer.
        let st = unsafe {
            sys::podsync_store_apply(
                self.ptr.as_ptr(),
                frame.as_ptr().cast(),
                frame.len(),
                &mut version,
            )
        };
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(Applied::Ok),
            sys::PODSYNC_DUPLICATE => Ok(Applied::Duplicate),
            sys::PODSYNC_GAP => Ok(Applied::Gap { replica_version: version }),
            sys::PODSYNC_STALE => Ok(Applied::Stale),
            sys::PODSYNC_CHUNK_STAGED => Ok(Applied::ChunkStaged),
            sys::PODSYNC_CHUNK_GAP => Ok(Applied::ChunkGap),
            sys::PODSYNC_REFRESHING => Ok(Applied::Refreshing),
            other => Err(unexpected("podsync_store_apply", other)),
        }
    }
}

impl<R: Role> Drop for Store<R> {
    fn drop(&mut self) {
        // A writer's feeds first: releasing a feed's last reference detaches it from this writer,
        // which must still be alive (and used by this thread only) then.
        self.feeds.release_all();
        // SAFETY: the handle is owned and freed once; no view can outlive `self`. Snapshots still
        // alive keep the C store alive and free their handles themselves from now on.
        unsafe { self.snapshots.close_store(self.ptr.as_ptr()) }
    }
}

impl<R: Role> fmt::Debug for Store<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Store");
        d.field("role", &format_args!("{}", <R as sealed::Sealed>::NAME));
        match self.info() {
            Ok(i) => {
                d.field("state_version", &i.state_version)
                    .field("digest", &format_args!("{:016x}", i.digest))
                    .field("stream_id", &format_args!("{:016x}", i.stream_id))
                    .field("pending_changes", &i.pending_changes)
                    .field("diverged", &i.diverged)
                    .field("refreshing", &i.refreshing)
                    .field("term", &i.term)
                    .field("durable", &i.durable);
            }
            Err(e) => {
                d.field("info", &e);
            }
        }
        d.field("frames", &self.outbox.len()).finish()
    }
}

/// Iterator over the frames of a store's outbox ([`Store::frames`], and what
/// [`Store::summary`] and [`Store::reconcile`] return); each frame borrows the store.
#[derive(Clone)]
pub struct Frames<'a> {
    inner: std::slice::Iter<'a, (*const u8, usize)>,
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // SAFETY: the pointers were returned by podsync_store_frame after the outbox was last
        // replaced; the bytes stay valid and unchanged until the next flush, delta_since,
        // snapshot, summary, reconcile or free, all of which need `&mut Store` (or ownership),
        // which the `'a` borrow of the store prevents.
        self.inner.next().map(|&(p, n)| unsafe { std::slice::from_raw_parts(p, n) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Frames<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        // SAFETY: as in next().
        self.inner.next_back().map(|&(p, n)| unsafe { std::slice::from_raw_parts(p, n) })
    }
}

impl ExactSizeIterator for Frames<'_> {}
impl std::iter::FusedIterator for Frames<'_> {}

impl fmt::Debug for Frames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frames").field("remaining", &self.inner.len()).finish()
    }
}

/// A table's live records and their keys, borrowed from a store ([`Store::table`]): `len()`
/// records of `record_size()` bytes back to back, aligned to the table's alignment, and the
/// parallel array of keys. No copy; valid while the store is borrowed.
///
/// ```
/// use podsync::{Pod, Schema, Store};
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// #[repr(C)]
/// struct Particle { pos: [f32; 3], mass: f32 }
/// unsafe impl Pod for Particle {} // repr(C), no padding
///
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table_of::<Particle>(7, &[])?;
/// let mut w = Store::writer(&schema)?;
/// w.put_many(7, &[1, 2, 3], &[
///     Particle { pos: [0.0; 3], mass: 1.0 },
///     Particle { pos: [1.0; 3], mass: 2.0 },
///     Particle { pos: [2.0; 3], mass: 4.0 },
/// ])?;
/// let view = w.table(7)?;
/// let particles: &[Particle] = view.as_slice()?; // in place
/// let mass: f32 = particles.iter().map(|p| p.mass).sum();
/// assert_eq!(mass, 7.0);
/// assert_eq!(view.keys().len(), particles.len());
/// for (key, p) in view.keys().iter().zip(particles) {
///     assert_eq!(p.mass, [1.0, 2.0, 4.0][*key as usize - 1]);
/// }
/// // A type of another size is refused:
/// assert_eq!(view.as_slice::<[f32; 3]>().unwrap_err().kind(), podsync::ErrorKind::RecordSize);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy)]
pub struct TableView<'a> {
    meta: TableMeta,
    keys: &'a [u64],
    records: &'a [u8],
}

impl<'a> TableView<'a> {
    /// The table id.
    pub fn table_id(&self) -> u32 {
        self.meta.id
    }

    /// Bytes per record.
    pub fn record_size(&self) -> usize {
        self.meta.record_size
    }

    /// The table's alignment (records start at a multiple of it).
    pub fn alignment(&self) -> usize {
        self.meta.alignment
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if the table holds no record.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, parallel to the records.
    pub fn keys(&self) -> &'a [u64] {
        self.keys
    }

    /// All records as one byte slice (`len() * record_size()` bytes).
    pub fn records(&self) -> &'a [u8] {
        self.records
    }

    /// Record `index` as bytes.
    pub fn record(&self, index: usize) -> Option<&'a [u8]> {
        let rs = self.meta.record_size;
        let start = index.checked_mul(rs)?;
        self.records.get(start..start.checked_add(rs)?)
    }

    /// The records as `&[T]` in place.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::RecordSize`] if `size_of::<T>()` differs from the record size;
    /// [`ErrorKind::InvalidArgument`] if the records are not aligned for `T` (declare the table
    /// with at least `align_of::<T>()`, e.g. with [`Schema::table_of`]).
    pub fn as_slice<T: Pod>(&self) -> Result<&'a [T]> {
        if std::mem::size_of::<T>() != self.meta.record_size {
            return Err(pod::record_size_error::<T>(
                self.meta.record_size,
                format_args!("table {}", self.meta.id),
            ));
        }
        pod::cast_slice_named(self.records, format_args!("table {}", self.meta.id))
    }

    /// `(key, record bytes)` pairs.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u64, &'a [u8])> + 'a {
        self.keys.iter().copied().zip(self.records.chunks_exact(self.meta.record_size))
    }
}

impl fmt::Debug for TableView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableView")
            .field("table_id", &self.meta.id)
            .field("record_size", &self.meta.record_size)
            .field("len", &self.keys.len())
            .finish()
    }
}

pub(crate) fn unexpected(what: &str, status: i32) -> Error {
    Error::new(
        status,
        format!(
            "{what} returned {} ({status}), which the header does not allow here",
            crate::status_name(status)
        ),
    )
}

fn internal(msg: &str) -> Error {
    Error::from_kind(ErrorKind::Internal, msg)
}

/// Refuses to make a `Store<Feed>` by a constructor (`what`): a feed is made by its writer.
pub(crate) fn refuse_feed<R: Role>(what: &str) -> Result<()> {
    if <R as sealed::Sealed>::FEED {
        return Err(Error::from_kind(
            ErrorKind::InvalidArgument,
            format!(
                "{what}: a feed is made by its writer, with Store::<Writer>::feed (checked by the \
                 Rust binding)"
            ),
        ));
    }
    Ok(())
}
