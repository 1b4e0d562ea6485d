//! The NATS JetStream carrier (feature `nats`; `include/podsync_nats.h`, `libpodsync_nats.so`).
//!
//! A [`Publisher`] attaches a writer store to a NATS connection and a stream name: each
//! [`flush`](Publisher::flush) flushes the store and publishes its frames to the JetStream stream
//! `<name>` (one message per frame), and from time to time a chunked snapshot to the stream
//! `<name>_SNAP`, which keeps only the newest complete one. A [`Follower`] attaches a replica
//! store: each [`poll`](Follower::poll) takes the newest complete snapshot when the replica needs
//! it, then applies the frames of `<name>` in stream order, repairing a gap from the stream itself
//! and falling back to the newest snapshot when the stream no longer holds what it needs. A
//! follower may also [`relay`](Follower::relay) what it applies to a stream on another server or
//! cluster, where followers follow it as they would the writer.
//!
//! **The store outlives its carrier, provably.** A publisher or follower borrows its store
//! mutably for its whole life (`Publisher<'s>` holds a `&'s mut Store<Writer>`, `Follower<'s>` a
//! `&'s mut Store<Replica>`), so the store cannot be dropped, moved or used behind the carrier's
//! back while the carrier lives, and the header's threading rule (one thread at a time for the
//! store and its publisher or follower together) holds because the pair moves as one value
//! ([`Send`], not [`Sync`]). Between carrier calls the store is reached through the carrier:
//! [`Publisher::store_mut`] to write, [`Publisher::store`] / [`Follower::store`] to read. A
//! carrier call may replace the store's outbox, so [`Store::frames`] yields nothing after one
//! until the next flush made through the store itself. Roles are types: a follower of a writer
//! does not compile.
//!
//! Faults: a connection lost is reconnected by the client in the background; calls made
//! meanwhile fail with [`ErrorKind::Connection`] or [`ErrorKind::Timeout`] and leave nothing lost
//! (a publisher keeps the frames it could not publish and publishes them first at its next flush;
//! a follower resumes from the last stream sequence it applied): call again later.
//!
//! ```no_run
//! use std::time::Duration;
//! use podsync::nats::{Follower, NatsOptions, Publisher};
//! use podsync::{Schema, Store};
//!
//! fn main() -> podsync::Result<()> {
//!     let schema = Schema::new().table(1, 8, 8, &[])?;
//!     let mut writer = Store::writer(&schema)?;
//!     let mut replica = Store::replica(&schema)?;
//!     let url = "nats://127.0.0.1:4222";
//!     let options = NatsOptions::new().timeout_ms(1000);
//!
//!     // Creates the streams `world` and `world_SNAP` if needed and publishes a first snapshot.
//!     let mut publisher = Publisher::new(&mut writer, url, "world", &options)?;
//!     let mut follower = Follower::new(&mut replica, url, "world", &options)?;
//!     for tick in 0..100u64 {
//!         publisher.store_mut().put_as(1, tick % 10, &tick)?;
//!         publisher.flush()?; // flushes the writer and publishes its frames
//!         follower.poll(Duration::from_millis(10))?; // applies what arrived
//!     }
//!     println!("{:?} {:?}", publisher.stats()?, follower.stats()?);
//!     let version = publisher.store().version()?;
//!     while follower.store().version()? < version {
//!         follower.poll(Duration::from_millis(100))?;
//!     }
//!     assert_eq!(follower.store().digest()?, publisher.store().digest()?);
//!     Ok(())
//! }
//! ```
//!
//! Compile-time guarantees (each checked by tests/compile_fail.rs). The store cannot be used
//! behind its publisher's back, nor dropped before it:
//!
//! ```compile_fail,E0499
//! # use podsync::nats::{NatsOptions, Publisher};
//! # use podsync::{Schema, Store};
//! # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
//! let mut writer = Store::writer(&schema).unwrap();
//! let mut publisher =
//!     Publisher::new(&mut writer, "nats://127.0.0.1:4222", "world", &NatsOptions::new()).unwrap();
//! writer.put(1, 5, &[0u8; 8]).unwrap(); // error[E0499]: use publisher.store_mut()
//! publisher.flush().unwrap();
//! ```
//!
//! ```compile_fail,E0505
//! # use podsync::nats::{NatsOptions, Publisher};
//! # use podsync::{Schema, Store};
//! # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
//! let mut writer = Store::writer(&schema).unwrap();
//! let publisher =
//!     Publisher::new(&mut writer, "nats://127.0.0.1:4222", "world", &NatsOptions::new()).unwrap();
//! drop(writer); // error[E0505]: the store must outlive its publisher
//! drop(publisher);
//! ```
//!
//! A record read through the publisher cannot outlive its next flush:
//!
//! ```compile_fail,E0502
//! # use podsync::nats::{NatsOptions, Publisher};
//! # use podsync::{Schema, Store};
//! # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
//! let mut writer = Store::writer(&schema).unwrap();
//! let mut publisher =
//!     Publisher::new(&mut writer, "nats://127.0.0.1:4222", "world", &NatsOptions::new()).unwrap();
//! let record = publisher.store().get(1, 5).unwrap();
//! publisher.flush().unwrap(); // error[E0502]: the flush may move the record
//! println!("{record:?}");
//! ```
//!
//! A follower needs a replica, a publisher a writer:
//!
//! ```compile_fail,E0308
//! # use podsync::nats::{Follower, NatsOptions};
//! # use podsync::{Schema, Store};
//! # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
//! let mut writer = Store::writer(&schema).unwrap();
//! let follower = Follower::new(&mut writer, "nats://127.0.0.1:4222", "world", &NatsOptions::new());
//! ```
//!
//! ```compile_fail,E0308
//! # use podsync::nats::{NatsOptions, Publisher};
//! # use podsync::{Schema, Store};
//! # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
//! let mut replica = Store::replica(&schema).unwrap();
//! let publisher = Publisher::new(&mut replica, "nats://127.0.0.1:4222", "world", &NatsOptions::new());
//! ```
//!
//! A publisher is not `Sync` (the store and its carrier are used by one thread at a time):
//!
//! ```compile_fail,E0277
//! # use podsync::nats::{NatsOptions, Publisher};
//! # use podsync::{Schema, Store};
//! fn needs_sync<T: Sync>(_: &T) {}
//! # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
//! let mut writer = Store::writer(&schema).unwrap();
//! let publisher =
//!     Publisher::new(&mut writer, "nats://127.0.0.1:4222", "world", &NatsOptions::new()).unwrap();
//! needs_sync(&publisher); // error[E0277]
//! ```

use std::ffi::CString;
use std::fmt;
use std::ptr::{self, NonNull};
use std::time::Duration;

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result, copy_message};
use crate::store::{Replica, Store, Writer, unexpected};

/// The carrier library's version as `MAJOR*10000 + MINOR*100 + PATCH`
/// (`podsync_nats_version_number`).
pub fn library_version() -> u32 {
    sys::podsync_nats_version_number()
}

/// The version of `include/podsync_nats.h` this binding was written for
/// (`PODSYNC_NATS_VERSION_NUMBER`).
pub const VERSION_NUMBER: u32 = sys::PODSYNC_NATS_VERSION_NUMBER;

/// Where the streams a publisher creates keep their messages (`PODSYNC_NATS_STORAGE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Storage {
    /// In files (`PODSYNC_NATS_STORAGE_FILE`, the default): they survive a server restart.
    #[default]
    File,
    /// In memory (`PODSYNC_NATS_STORAGE_MEMORY`).
    Memory,
}

/// Options of a [`Publisher`] or [`Follower`] (`podsync_nats_options`), as a builder whose
/// defaults are the library's (`podsync_nats_options_init`).
///
/// ```
/// use podsync::nats::{NatsOptions, Storage};
/// let o = NatsOptions::new();
/// assert_eq!((o.raw().timeout_ms, o.raw().snapshot_every_versions, o.raw().max_reconnects), (5000, 600, -1));
/// let o = NatsOptions::new()
///     .storage(Storage::Memory)
///     .timeout_ms(1000)             // each request and publish acknowledgement
///     .snapshot_every_versions(100) // a snapshot every 100 versions
///     .max_reconnects(Some(10))     // per server; None: forever
///     .client_name("sim-1");        // the connection's name in the server's monitoring
/// assert_eq!(o.raw().storage, podsync::sys::PODSYNC_NATS_STORAGE_MEMORY);
/// assert_eq!((o.raw().timeout_ms, o.raw().max_reconnects), (1000, 10));
/// ```
///
/// The library checks the values when a publisher or follower is created
/// ([`ErrorKind::InvalidArgument`] naming the option): `timeout_ms` 1 to 3,600,000,
/// `reconnect_wait_ms` at most 3,600,000, `replicas` at most 5.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsOptions {
    /// `client_name` is always NULL here: the name lives in `client_name` and is passed for the
    /// duration of a call.
    raw: sys::podsync_nats_options,
    client_name: Option<String>,
}

// SAFETY: the only pointer in `raw`, client_name, is always NULL (see the field); the rest are
// plain integers.
unsafe impl Send for NatsOptions {}
// SAFETY: as for Send; `&NatsOptions` gives no access to anything shared.
unsafe impl Sync for NatsOptions {}

impl Default for NatsOptions {
    fn default() -> NatsOptions {
        let mut raw = sys::PODSYNC_NATS_OPTIONS_INIT;
        // SAFETY: raw is a valid, writable options struct of the version passed.
        let st =
            unsafe { sys::podsync_nats_options_init(&mut raw, sys::PODSYNC_NATS_OPTIONS_VERSION) };
        if st < 0 {
            raw = sys::PODSYNC_NATS_OPTIONS_INIT;
        }
        raw.client_name = ptr::null();
        NatsOptions { raw, client_name: None }
    }
}

impl NatsOptions {
    /// The library's defaults: file storage, 1 replica, reconnect forever every 100 ms, a
    /// snapshot every 600 versions or 10 s, requests timing out after 5 s, no stream limits.
    pub fn new() -> NatsOptions {
        NatsOptions::default()
    }

    /// Where the streams a publisher creates keep their messages (default [`Storage::File`]).
    /// Streams that exist already are used as they are.
    pub fn storage(mut self, storage: Storage) -> NatsOptions {
        self.raw.storage = match storage {
            Storage::File => sys::PODSYNC_NATS_STORAGE_FILE,
            Storage::Memory => sys::PODSYNC_NATS_STORAGE_MEMORY,
        };
        self
    }

    /// Replicas of the streams a publisher creates (default 1; 0 means 1; at most 5).
    pub fn replicas(mut self, replicas: u32) -> NatsOptions {
        self.raw.replicas = replicas;
        self
    }

    /// Reconnect attempts per server of the URL list; `None` (the default) tries forever.
    pub fn max_reconnects(mut self, attempts: Option<u32>) -> NatsOptions {
        self.raw.max_reconnects = attempts.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
        self
    }

    /// The frame stream's age limit in milliseconds (0, the default: none). Frames older than
    /// that are dropped by the server; followers that needed them take the newest snapshot.
    pub fn max_age_ms(mut self, ms: u64) -> NatsOptions {
        self.raw.max_age_ms = ms;
        self
    }

    /// The frame stream's size limit in bytes (0, the default: none).
    pub fn max_bytes(mut self, bytes: u64) -> NatsOptions {
        self.raw.max_bytes = bytes;
        self
    }

    /// Publisher: a snapshot after this many versions (0: not by count; default 600).
    pub fn snapshot_every_versions(mut self, versions: u64) -> NatsOptions {
        self.raw.snapshot_every_versions = versions;
        self
    }

    /// Publisher: a snapshot when this many milliseconds passed since the last one and the version
    /// moved (0: not by time; default 10,000).
    pub fn snapshot_every_ms(mut self, ms: u64) -> NatsOptions {
        self.raw.snapshot_every_ms = ms;
        self
    }

    /// How long each request and publish acknowledgement may take, in milliseconds (default
    /// 5,000; 1 to 3,600,000).
    pub fn timeout_ms(mut self, ms: u64) -> NatsOptions {
        self.raw.timeout_ms = ms;
        self
    }

    /// Milliseconds between reconnect attempts (default 100).
    pub fn reconnect_wait_ms(mut self, ms: u64) -> NatsOptions {
        self.raw.reconnect_wait_ms = ms;
        self
    }

    /// The connection's name in the server's monitoring (default `"podsync"`). A name containing
    /// a NUL byte makes the constructors fail with [`ErrorKind::InvalidArgument`].
    pub fn client_name(mut self, name: impl Into<String>) -> NatsOptions {
        self.client_name = Some(name.into());
        self
    }

    /// The C struct, without the client name (its `client_name` is NULL; the name is passed to
    /// the library only for the duration of a call).
    pub fn raw(&self) -> sys::podsync_nats_options {
        self.raw
    }

    /// Calls `f` with the C struct, its client name pointing at a NUL-terminated copy valid
    /// during the call.
    fn with_raw<T>(&self, f: impl FnOnce(*const sys::podsync_nats_options) -> T) -> Result<T> {
        let name = match &self.client_name {
            None => None,
            Some(n) => Some(CString::new(n.as_str()).map_err(|_| {
                Error::from_kind(
                    ErrorKind::InvalidArgument,
                    format!("client_name {n:?} contains a NUL byte (checked by the Rust binding)"),
                )
            })?),
        };
        let mut raw = self.raw;
        raw.client_name = name.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        Ok(f(&raw))
    }
}

impl fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.raw;
        f.debug_struct("NatsOptions")
            .field("storage", &r.storage)
            .field("replicas", &r.replicas)
            .field("max_reconnects", &r.max_reconnects)
            .field("max_age_ms", &r.max_age_ms)
            .field("max_bytes", &r.max_bytes)
            .field("snapshot_every_versions", &r.snapshot_every_versions)
            .field("snapshot_every_ms", &r.snapshot_every_ms)
            .field("timeout_ms", &r.timeout_ms)
            .field("reconnect_wait_ms", &r.reconnect_wait_ms)
            .field("client_name", &self.client_name)
            .finish()
    }
}

/// A publisher's counters (`podsync_nats_publisher_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PublisherStats {
    /// True while the connection is up.
    pub connected: bool,
    /// Frames the stream acknowledged.
    pub frames_published: u64,
    /// Their bytes.
    pub bytes_published: u64,
    /// Frames kept for the next flush (the server could not be reached).
    pub frames_pending: u64,
    /// Frames dropped past the pending limit (64 MiB) or larger than the server accepts; a
    /// snapshot heals the followers.
    pub frames_dropped: u64,
    /// Snapshots published (the first one by [`Publisher::new`]).
    pub snapshots_published: u64,
    /// The version of the newest complete snapshot.
    pub snapshot_version: u64,
    /// The frame stream's sequence of the last acknowledged frame.
    pub last_sequence: u64,
    /// Times the connection was re-established.
    pub reconnects: u64,
}

impl PublisherStats {
    fn from_raw(raw: &sys::podsync_nats_publisher_stats) -> PublisherStats {
        PublisherStats {
            connected: raw.connected != 0,
            frames_published: raw.frames_published,
            bytes_published: raw.bytes_published,
            frames_pending: raw.frames_pending,
            frames_dropped: raw.frames_dropped,
            snapshots_published: raw.snapshots_published,
            snapshot_version: raw.snapshot_version,
            last_sequence: raw.last_sequence,
            reconnects: raw.reconnects,
        }
    }
}

/// A follower's counters (`podsync_nats_follower_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FollowerStats {
    /// True while the connection is up.
    pub connected: bool,
    /// Frames that changed the replica (snapshot chunks included).
    pub frames_applied: u64,
    /// Frames it already had.
    pub duplicates: u64,
    /// Bootstraps from, and fallbacks to, the newest snapshot.
    pub snapshots_taken: u64,
    /// Gaps filled from the stream by sequence.
    pub gaps_repaired: u64,
    /// Messages skipped: not good frames of this stream (another schema or stream, damaged,
    /// fenced by a newer term, not a frame at all).
    pub rejected: u64,
    /// The frame stream's sequence it reads next (0: not started).
    pub next_sequence: u64,
    /// The replica's version.
    pub state_version: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Times the connection was re-established.
    pub reconnects: u64,
    /// Why the last skipped message was skipped (`None`: none was), e.g.
    /// [`ErrorKind::SchemaMismatch`] or [`ErrorKind::NotAMessage`].
    pub last_rejected: Option<ErrorKind>,
}

/// Turns a Rust string into a C string for `what`, or the error the library would give.
fn c_string(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::from_kind(
            ErrorKind::InvalidArgument,
            format!("{what} {s:?} contains a NUL byte (checked by the Rust binding)"),
        )
    })
}

/// The error of a constructor that returned `st` without a handle: the thread's last carrier
/// message.
fn create_error(what: &str, st: i32) -> Error {
    let message = copy_message(sys::podsync_nats_last_errmsg());
    let status = if st < 0 { st } else { sys::PODSYNC_E_INTERNAL };
    if message.is_empty() {
        Error::new(status, format!("{what} failed"))
    } else {
        Error::new(status, message)
    }
}

/// Milliseconds of a timeout, rounded up (a nonzero duration never becomes "do not wait").
fn millis(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// A writer store attached to a NATS JetStream stream (`podsync_nats_publisher`): each
/// [`flush`](Publisher::flush) flushes the store and publishes its frames. It borrows the store
/// mutably for its whole life (the store must outlive it, and is reached through
/// [`store`](Publisher::store) and [`store_mut`](Publisher::store_mut) meanwhile); dropping it
/// closes the connection and gives the store back. See the [module](self) documentation.
pub struct Publisher<'s> {
    ptr: NonNull<sys::podsync_nats_publisher>,
    store: &'s mut Store<Writer>,
    stream: String,
}

// SAFETY: the carrier keeps no thread-affine state (libnats connections may be used from any
// thread; its own threads touch only the connection's internals), and the header asks only that
// the store and its publisher be used by one thread at a time together: the publisher holds the
// store's only borrow, so moving it moves both. It is not Sync (NonNull is !Sync).
unsafe impl Send for Publisher<'_> {}

impl<'s> Publisher<'s> {
    /// Connects to `url` (one server or a comma-separated list such as
    /// `"nats://10.0.0.1:4222,nats://10.0.0.2:4222"`), creates the streams `<stream>` and
    /// `<stream>_SNAP` if they do not exist (with the options' storage, replicas and limits;
    /// existing streams are used as they are), and publishes a snapshot of the store's flushed
    /// state, so that a follower can start at once (`podsync_nats_publisher_create`).
    ///
    /// Give the writer a [`max_frame_bytes`](crate::StoreOptions::max_frame_bytes) no larger than
    /// the server's `max_payload` less 4 KiB (1 MiB - 4 KiB by default): frames are never split
    /// after the fact (see [`flush`](Publisher::flush)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`]: `stream` is not 1 to 64 characters of `A-Z a-z 0-9 - _`,
    /// an option is out of range, or a string contains a NUL byte; [`ErrorKind::Connection`]: no
    /// server of `url` can be reached (or the URL is not valid); [`ErrorKind::Timeout`];
    /// [`ErrorKind::Server`]: JetStream refused to create a stream (JetStream not enabled, a
    /// stream of that name with other subjects, limits); an engine error of the first snapshot.
    /// The message says which.
    ///
    /// # Panics
    ///
    /// If the loaded libpodsync implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn new(
        store: &'s mut Store<Writer>,
        url: &str,
        stream: &str,
        options: &NatsOptions,
    ) -> Result<Publisher<'s>> {
        crate::ensure_abi();
        let c_url = c_string("url", url)?;
        let c_stream = c_string("stream_name", stream)?;
        store.reap_snapshots();
        // The carrier may replace the outbox (as_mut_ptr empties this crate's view of it).
        let handle = store.as_mut_ptr();
        let mut out: *mut sys::podsync_nats_publisher = ptr::null_mut();
        let st = options.with_raw(|raw| {
            // SAFETY: a valid writer handle that `store` keeps alive and exclusively borrowed for
            // the publisher's life; NUL-terminated strings and an options struct valid during the
            // call (the library copies what it keeps); a valid out-pointer.
            unsafe {
                sys::podsync_nats_publisher_create(
                    handle,
                    c_url.as_ptr(),
                    c_stream.as_ptr(),
                    raw,
                    &mut out,
                )
            }
        })?;
        match NonNull::new(out) {
            Some(ptr) if st >= 0 => Ok(Publisher { ptr, store, stream: stream.to_string() }),
            other => {
                let e = create_error("podsync_nats_publisher_create", st);
                if let Some(p) = other {
                    // Not expected (the header says *out is NULL on failure); do not leak it.
                    // SAFETY: the library returned this handle to us; nothing else refers to it.
                    unsafe { sys::podsync_nats_publisher_free(p.as_ptr()) };
                }
                Err(e)
            }
        }
    }

    /// Flushes the store and publishes its frames, after any frames an earlier call could not
    /// publish; then, when due, a snapshot (`podsync_nats_publisher_flush`). Returns how many
    /// frames the stream acknowledged (0 when nothing changed).
    ///
    /// # Errors
    ///
    /// A carrier error, with the frames not published kept for the next flush (up to 64 MiB:
    /// past that they are dropped and a snapshot is published once the server answers again, so
    /// followers heal): [`ErrorKind::Connection`], [`ErrorKind::Timeout`],
    /// [`ErrorKind::Server`]. [`ErrorKind::MessageTooLarge`]: a frame was larger than the server
    /// accepts; it was not published and a snapshot in chunks that fit was published instead.
    /// An engine error of the store's flush ([`ErrorKind::NoMemory`], [`ErrorKind::Io`] for a
    /// durable store, ...) is returned as it is. How many frames an erring call published shows in
    /// [`stats`](Publisher::stats).
    pub fn flush(&mut self) -> Result<usize> {
        // A snapshot dropped meanwhile no longer needs the records this flush changes.
        self.store.reap_snapshots();
        // The store's flush replaces its outbox.
        let _ = self.store.as_mut_ptr();
        let mut published = 0usize;
        // SAFETY: a valid publisher handle whose store is alive and borrowed by `self`; a valid
        // out-pointer.
        let st = unsafe { sys::podsync_nats_publisher_flush(self.ptr.as_ptr(), &mut published) };
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(published),
            other => Err(unexpected("podsync_nats_publisher_flush", other)),
        }
    }

    /// Publishes a chunked snapshot of the store's state now (the writer's state as of its last
    /// flush) and removes the older snapshots from `<stream>_SNAP` once it is complete
    /// (`podsync_nats_publisher_snapshot`). Frames still pending are published first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Connection`], [`ErrorKind::Timeout`], [`ErrorKind::Server`]; an engine
    /// error of the snapshot ([`ErrorKind::NoMemory`]).
    pub fn snapshot(&mut self) -> Result<()> {
        self.store.reap_snapshots();
        let _ = self.store.as_mut_ptr();
        // SAFETY: a valid publisher handle whose store is alive and borrowed by `self`.
        let st = unsafe { sys::podsync_nats_publisher_snapshot(self.ptr.as_ptr()) };
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(()),
            other => Err(unexpected("podsync_nats_publisher_snapshot", other)),
        }
    }

    /// The publisher's counters (`podsync_nats_publisher_stats_get`).
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or a struct version
    /// it does not know, which this crate never passes.
    pub fn stats(&self) -> Result<PublisherStats> {
        let mut raw = sys::PODSYNC_NATS_PUBLISHER_STATS_INIT;
        // SAFETY: a valid handle; raw is a stats struct of this header's version.
        let st = unsafe { sys::podsync_nats_publisher_stats_get(self.ptr.as_ptr(), &mut raw) };
        self.check(st)?;
        Ok(PublisherStats::from_raw(&raw))
    }

    /// The message of the last error on this publisher (`podsync_nats_publisher_errmsg`; `""`
    /// after a call that succeeded).
    pub fn message(&self) -> String {
        // SAFETY: a valid handle; the string is copied before any other call on it.
        copy_message(unsafe { sys::podsync_nats_publisher_errmsg(self.ptr.as_ptr()) })
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The store, to read.
    pub fn store(&self) -> &Store<Writer> {
        self.store
    }

    /// The store, to write between flushes. Its [`Store::flush`] and snapshots work as well, but
    /// frames flushed that way are not published: [`Publisher::flush`] publishes what its own
    /// flush produces (followers then heal from a gap by the next snapshot).
    pub fn store_mut(&mut self) -> &mut Store<Writer> {
        self.store
    }

    /// The raw handle, for calls through [`sys`].
    pub fn as_ptr(&self) -> *const sys::podsync_nats_publisher {
        self.ptr.as_ptr()
    }

    fn check(&self, st: i32) -> Result<i32> {
        if st >= 0 {
            return Ok(st);
        }
        // SAFETY: a valid handle; the string is copied before any other call on it.
        let message =
            copy_message(unsafe { sys::podsync_nats_publisher_errmsg(self.ptr.as_ptr()) });
        Err(Error::new(st, message))
    }
}

impl Drop for Publisher<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and freed once; the store it uses is still borrowed (alive).
        unsafe { sys::podsync_nats_publisher_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Publisher<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Publisher");
        d.field("stream", &self.stream);
        match self.stats() {
            Ok(s) => d.field("stats", &s),
            Err(e) => d.field("stats", &e),
        };
        d.finish_non_exhaustive()
    }
}

/// A replica store following a NATS JetStream stream (`podsync_nats_follower`): each
/// [`poll`](Follower::poll) applies what arrived. It borrows the store mutably for its whole life
/// (the store must outlive it, and is reached through [`store`](Follower::store) meanwhile);
/// dropping it closes the connection and gives the store back. See the [module](self)
/// documentation.
pub struct Follower<'s> {
    ptr: NonNull<sys::podsync_nats_follower>,
    store: &'s mut Store<Replica>,
    stream: String,
}

// SAFETY: as for Publisher: the follower holds its store's only borrow, so the pair moves between
// threads together and is used by one thread at a time. Not Sync (NonNull is !Sync).
unsafe impl Send for Follower<'_> {}

impl<'s> Follower<'s> {
    /// Connects to `url` (one server or a comma-separated list) and attaches the replica `store`
    /// to the stream `stream` (`podsync_nats_follower_create`). Nothing is read yet:
    /// [`poll`](Follower::poll) does the work. A store restored from disk
    /// ([`Store::open`](crate::Store::open)) at a version no older than the newest snapshot
    /// continues with the frames after it; an older one takes the snapshot.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`]: `stream` is not 1 to 64 characters of `A-Z a-z 0-9 - _`,
    /// an option is out of range, or a string contains a NUL byte; [`ErrorKind::Connection`]: no
    /// server of `url` can be reached (or the URL is not valid); [`ErrorKind::Timeout`]. The
    /// stream need not exist yet.
    ///
    /// # Panics
    ///
    /// If the loaded libpodsync implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn new(
        store: &'s mut Store<Replica>,
        url: &str,
        stream: &str,
        options: &NatsOptions,
    ) -> Result<Follower<'s>> {
        crate::ensure_abi();
        let c_url = c_string("url", url)?;
        let c_stream = c_string("stream_name", stream)?;
        store.reap_snapshots();
        let handle = store.as_mut_ptr();
        let mut out: *mut sys::podsync_nats_follower = ptr::null_mut();
        let st = options.with_raw(|raw| {
            // SAFETY: a valid replica handle that `store` keeps alive and exclusively borrowed for
            // the follower's life; NUL-terminated strings and an options struct valid during the
            // call (the library copies what it keeps); a valid out-pointer.
            unsafe {
                sys::podsync_nats_follower_create(
                    handle,
                    c_url.as_ptr(),
                    c_stream.as_ptr(),
                    raw,
                    &mut out,
                )
            }
        })?;
        match NonNull::new(out) {
            Some(ptr) if st >= 0 => Ok(Follower { ptr, store, stream: stream.to_string() }),
            other => {
                let e = create_error("podsync_nats_follower_create", st);
                if let Some(p) = other {
                    // Not expected (the header says *out is NULL on failure); do not leak it.
                    // SAFETY: the library returned this handle to us; nothing else refers to it.
                    unsafe { sys::podsync_nats_follower_free(p.as_ptr()) };
                }
                Err(e)
            }
        }
    }

    /// Applies what arrived, waiting up to `timeout` (rounded up to milliseconds; at most one
    /// hour) for the first message (`Duration::ZERO`: only what is already there)
    /// (`podsync_nats_follower_poll`): bootstraps from the newest snapshot when the replica needs
    /// one, applies the frames in stream order, repairs a gap by fetching the missing sequences
    /// from the stream, and takes the newest snapshot when the stream no longer holds them (or
    /// the replica's history diverged). Messages that are not good frames of this stream are
    /// skipped and counted ([`FollowerStats::rejected`], [`FollowerStats::last_rejected`]): the
    /// follower keeps following. Returns how many frames changed the replica (0 when nothing
    /// arrived).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::StreamMissing`] while the stream does not exist (no publisher created it
    /// yet); [`ErrorKind::Connection`] or [`ErrorKind::Timeout`] while the server cannot be
    /// reached (the follower resumes from where it was at a later poll); [`ErrorKind::Server`];
    /// [`ErrorKind::InvalidArgument`] for a timeout over one hour; an engine error of the replica
    /// that is not about one message ([`ErrorKind::NoMemory`], [`ErrorKind::Io`] for a durable
    /// replica). [`ErrorKind::InvalidArgument`] (checked by this binding; nothing read) if the
    /// replica is a relay holding a feed of another store, as for
    /// [`Store::apply`](crate::Store::apply).
    ///
    /// A replica with [feeds](crate::Store::feed) (a relay) hands them what each frame applied
    /// changed in their subsets, as [`Store::apply`](crate::Store::apply) does: flush them
    /// through [`store_mut`](Follower::store_mut) after the poll.
    pub fn poll(&mut self, timeout: Duration) -> Result<usize> {
        // The polls apply frames, which write into the relay's feeds: its own only.
        self.store.check_own_feeds("Follower::poll")?;
        self.store.reap_snapshots();
        let _ = self.store.as_mut_ptr();
        let mut applied = 0usize;
        // SAFETY: a valid follower handle whose store is alive and borrowed by `self`; a valid
        // out-pointer.
        let st = unsafe {
            sys::podsync_nats_follower_poll(self.ptr.as_ptr(), millis(timeout), &mut applied)
        };
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(applied),
            other => Err(unexpected("podsync_nats_follower_poll", other)),
        }
    }

    /// The follower's counters (`podsync_nats_follower_stats_get`).
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or a struct version
    /// it does not know, which this crate never passes.
    pub fn stats(&self) -> Result<FollowerStats> {
        let mut raw = sys::PODSYNC_NATS_FOLLOWER_STATS_INIT;
        // SAFETY: a valid handle (whose store `self` keeps borrowed: the call reads its info); raw
        // is a stats struct of this header's version.
        let st = unsafe { sys::podsync_nats_follower_stats_get(self.ptr.as_ptr(), &mut raw) };
        self.check(st)?;
        Ok(FollowerStats {
            connected: raw.connected != 0,
            frames_applied: raw.frames_applied,
            duplicates: raw.duplicates,
            snapshots_taken: raw.snapshots_taken,
            gaps_repaired: raw.gaps_repaired,
            rejected: raw.rejected,
            next_sequence: raw.next_sequence,
            state_version: raw.state_version,
            bytes_received: raw.bytes_received,
            reconnects: raw.reconnects,
            last_rejected: (raw.last_rejected_status != 0)
                .then(|| ErrorKind::from_status(raw.last_rejected_status)),
        })
    }

    /// Relays (`podsync_nats_follower_relay`): from now on every frame this follower applies is
    /// republished to the stream `stream` at `url` (another server or cluster, such as a
    /// region's), with snapshots of the replica beside them exactly as a [`Publisher`] keeps them
    /// (one at once when the replica follows a stream already, one whenever the follower takes a
    /// snapshot, and when due by `options`), so that followers there follow the relay as they
    /// would the writer. The relay publishes during [`poll`](Follower::poll), after applying; a
    /// relay that cannot publish keeps its frames (as a publisher does) and `poll` returns its
    /// carrier error. It is closed with the follower.
    ///
    /// # Errors
    ///
    /// As [`Publisher::new`]: [`ErrorKind::InvalidArgument`] (stream name, options, a NUL byte),
    /// [`ErrorKind::Connection`], [`ErrorKind::Timeout`], [`ErrorKind::Server`].
    pub fn relay(&mut self, url: &str, stream: &str, options: &NatsOptions) -> Result<()> {
        let c_url = c_string("url", url)?;
        let c_stream = c_string("stream_name", stream)?;
        let _ = self.store.as_mut_ptr();
        let st = options.with_raw(|raw| {
            // SAFETY: a valid follower handle whose store is alive and borrowed by `self`;
            // NUL-terminated strings and an options struct valid during the call (the library
            // copies what it keeps).
            unsafe {
                sys::podsync_nats_follower_relay(
                    self.ptr.as_ptr(),
                    c_url.as_ptr(),
                    c_stream.as_ptr(),
                    raw,
                )
            }
        })?;
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(()),
            other => Err(unexpected("podsync_nats_follower_relay", other)),
        }
    }

    /// The relay's counters (`podsync_nats_follower_relay_stats`), or `None` when this follower
    /// does not relay.
    ///
    /// # Errors
    ///
    /// None in practice, as for [`stats`](Follower::stats).
    pub fn relay_stats(&self) -> Result<Option<PublisherStats>> {
        let mut raw = sys::PODSYNC_NATS_PUBLISHER_STATS_INIT;
        // SAFETY: a valid handle; raw is a stats struct of this header's version.
        let st = unsafe { sys::podsync_nats_follower_relay_stats(self.ptr.as_ptr(), &mut raw) };
        match self.check(st)? {
            sys::PODSYNC_OK => Ok(Some(PublisherStats::from_raw(&raw))),
            sys::PODSYNC_NOT_FOUND => Ok(None),
            other => Err(unexpected("podsync_nats_follower_relay_stats", other)),
        }
    }

    /// The message of the last error or skipped message, or what the follower waits for
    /// (`podsync_nats_follower_errmsg`; may be `""`).
    pub fn message(&self) -> String {
        // SAFETY: a valid handle; the string is copied before any other call on it.
        copy_message(unsafe { sys::podsync_nats_follower_errmsg(self.ptr.as_ptr()) })
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The replica, to read.
    pub fn store(&self) -> &Store<Replica> {
        self.store
    }

    /// The replica, for calls that need `&mut` between polls (a
    /// [`checkpoint`](crate::Store::checkpoint) of a durable replica, a chunked snapshot of its
    /// state). Frames applied to it this way are seen by the follower like any other change
    /// (a replica whose history diverged from the stream's takes the newest snapshot).
    pub fn store_mut(&mut self) -> &mut Store<Replica> {
        self.store
    }

    /// The raw handle, for calls through [`sys`].
    pub fn as_ptr(&self) -> *const sys::podsync_nats_follower {
        self.ptr.as_ptr()
    }

    fn check(&self, st: i32) -> Result<i32> {
        if st >= 0 {
            return Ok(st);
        }
        // SAFETY: a valid handle; the string is copied before any other call on it.
        let message = copy_message(unsafe { sys::podsync_nats_follower_errmsg(self.ptr.as_ptr()) });
        Err(Error::new(st, message))
    }
}

impl Drop for Follower<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and freed once; the store it uses is still borrowed (alive).
        unsafe { sys::podsync_nats_follower_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Follower<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Follower");
        d.field("stream", &self.stream);
        match self.stats() {
            Ok(s) => d.field("stats", &s),
            Err(e) => d.field("stats", &e),
        };
        d.finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_defaults_and_builder() {
        let o = NatsOptions::new();
        let r = o.raw();
        assert_eq!(r, sys::PODSYNC_NATS_OPTIONS_INIT);
        let o = NatsOptions::new()
            .storage(Storage::Memory)
            .replicas(3)
            .max_reconnects(Some(u32::MAX))
            .max_age_ms(1)
            .max_bytes(2)
            .snapshot_every_versions(3)
            .snapshot_every_ms(4)
            .timeout_ms(5)
            .reconnect_wait_ms(6)
            .client_name("x");
        let r = o.raw();
        assert_eq!((r.storage, r.replicas, r.max_reconnects), (1, 3, i32::MAX));
        assert_eq!((r.max_age_ms, r.max_bytes, r.snapshot_every_versions), (1, 2, 3));
        assert_eq!((r.snapshot_every_ms, r.timeout_ms, r.reconnect_wait_ms), (4, 5, 6));
        assert!(r.client_name.is_null());
        let name = o
            .with_raw(|p| {
                // SAFETY: the struct and its name are valid during the closure.
                unsafe { std::ffi::CStr::from_ptr((*p).client_name) }.to_owned()
            })
            .unwrap();
        assert_eq!(name.to_str(), Ok("x"));
        let bad = NatsOptions::new().client_name("a\0b").with_raw(|_| ()).unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::InvalidArgument);
        assert_eq!(NatsOptions::new().max_reconnects(None).raw().max_reconnects, -1);
        assert!(format!("{o:?}").contains("client_name: Some(\"x\")"));
    }

    #[test]
    fn timeouts_round_up_to_milliseconds() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_nanos(1)), 1);
        assert_eq!(millis(Duration::from_millis(20)), 20);
        assert_eq!(millis(Duration::from_micros(20_001)), 21);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn versions() {
        assert_eq!(library_version(), VERSION_NUMBER);
    }
}
