//! Errors: every negative PodSync status becomes an [`Error`] carrying the status code, its name
//! and the message the library recorded on the handle.

use std::ffi::CStr;
use std::fmt;

use podsync_sys as sys;

use crate::frame::FrameInfo;

/// `Result<T, podsync::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong: one variant per negative status of `include/podsync.h` (values pinned by
/// `docs/ABI.md`), plus [`Unknown`](ErrorKind::Unknown) for a status this binding does not know
/// and [`UnexpectedStatus`](ErrorKind::UnexpectedStatus) for an informational status where the
/// header allows none. With the feature `nats`, also the NATS carrier's statuses
/// (`PODSYNC_NATS_E_*` of `include/podsync_nats.h`, in the range -60 .. -79 that `podsync.h`
/// reserves for carriers): `Connection`, `Timeout`, `StreamMissing`, `MessageTooLarge`, `Server`
/// and `NotAMessage`.
///
/// Programs branch on the kind (or the status); the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `PODSYNC_E_INVALID_ARGUMENT`: NULL pointer, bad value, wrong struct version.
    InvalidArgument,
    /// `PODSYNC_E_UNKNOWN_TABLE`: no table with that id in the schema.
    UnknownTable,
    /// `PODSYNC_E_RECORD_SIZE`: record size differs from the table's.
    RecordSize,
    /// `PODSYNC_E_BUFFER_TOO_SMALL`: output buffer too small.
    BufferTooSmall,
    /// `PODSYNC_E_NO_MEMORY`: allocation failed or a limit would be exceeded.
    NoMemory,
    /// `PODSYNC_E_WRONG_ROLE`: writer-only call on a replica, or the reverse. The safe API makes
    /// this impossible (roles are types); it can only come from raw calls.
    WrongRole,
    /// `PODSYNC_E_SCHEMA_INVALID`: table or field definition rejected.
    SchemaInvalid,
    /// `PODSYNC_E_FRAME_TRUNCATED`: buffer shorter than the frame says it is.
    FrameTruncated,
    /// `PODSYNC_E_FRAME_MAGIC`: not a PodSync frame.
    FrameMagic,
    /// `PODSYNC_E_FRAME_VERSION`: frame format version not supported.
    FrameVersion,
    /// `PODSYNC_E_FRAME_CHECKSUM`: XXH3-64 checksum does not match.
    FrameChecksum,
    /// `PODSYNC_E_FRAME_MALFORMED`: a length, count, offset or flag is inconsistent.
    FrameMalformed,
    /// `PODSYNC_E_SCHEMA_MISMATCH`: frame written for another schema.
    SchemaMismatch,
    /// `PODSYNC_E_STREAM_MISMATCH`: delta from another writer stream; needs a snapshot.
    StreamMismatch,
    /// `PODSYNC_E_UNSUPPORTED_CODEC`: frame uses a codec this library does not implement.
    UnsupportedCodec,
    /// `PODSYNC_E_DIGEST_MISMATCH`: the frame **was applied**, but the replica's digest differs
    /// from the writer's; the replica is now diverged and needs a snapshot. The one error after
    /// which state has changed.
    DigestMismatch,
    /// `PODSYNC_E_DIVERGED`: the replica is diverged; it accepts only a snapshot and serves no
    /// frames until one heals it.
    Diverged,
    /// `PODSYNC_E_VERSION_AHEAD`: `delta_since` a version the store has not reached.
    VersionAhead,
    /// `PODSYNC_E_FRAME_TOO_LARGE`: a compressed frame decodes to more than the replica's
    /// `max_decoded_bytes` (checked before anything is allocated).
    FrameTooLarge,
    /// `PODSYNC_E_DICTIONARY_MISSING`: the frame is compressed with a zstd dictionary this store
    /// has not loaded; nothing changed. Load it ([`Store::load_dictionary`](crate::Store::load_dictionary))
    /// and apply the frame again.
    DictionaryMissing,
    /// `PODSYNC_E_LIMIT` (since library 0.4.0): a limit the host set
    /// ([`StoreOptions::max_records`](crate::StoreOptions::max_records)) would be exceeded: a write
    /// or a frame would leave the store holding more live records than that. Nothing changed.
    Limit,
    /// `PODSYNC_E_SNAPSHOT_EXPIRED` (since library 0.5.0): a resumed chunked snapshot
    /// ([`Store::snapshot_resume`](crate::Store::snapshot_resume)) whose state this store no
    /// longer holds: no live snapshot of that id and version, and the store has moved past that
    /// version. Start a new snapshot ([`Store::begin_snapshot`](crate::Store::begin_snapshot));
    /// its chunk 0 replaces what the receiver staged. Also returned by
    /// [`Snapshot::next_chunk`](crate::Snapshot::next_chunk) when the state the snapshot describes
    /// was replaced on its store (a replica that switched to another snapshot).
    SnapshotExpired,
    /// `PODSYNC_E_TERM_FENCED` (since library 0.6.0): a frame of an older term than the one the
    /// replica follows: an old writer that came back after a replica was promoted
    /// ([`Store::promote`](crate::Store::promote)) cannot overwrite the new one. Nothing changed.
    TermFenced,
    /// `PODSYNC_E_HISTORY_DIVERGED` (since library 0.6.0): the replica applied versions of an older
    /// term past the point where the frame's term took over (or cannot tell): it holds versions
    /// the new writer never had. Nothing changed; it heals with a snapshot of the new writer
    /// ([`Store::snapshot`](crate::Store::snapshot)).
    HistoryDiverged,
    /// `PODSYNC_E_NOT_SUBSCRIBED` (since library 0.8.0): [`Store::apply`](crate::Store::apply) of
    /// a frame, or [`Store::reconcile`](crate::Store::reconcile) of a message, for another subset
    /// of the stream than the store holds: a feed's frame to a replica of the whole stream, a frame
    /// of the whole stream to a [subscribed](crate::Store::subscribe) replica, or a frame of
    /// another subscription. Nothing changed; send it the frames of its own feed (see
    /// [Subscriptions](crate#subscriptions)).
    NotSubscribed,
    /// `PODSYNC_E_FRAME_FEATURE` (since library 0.5.0): the frame uses a critical flag or extension
    /// record this library does not implement; upgrade the library. Nothing changed.
    FrameFeature,
    /// `PODSYNC_E_CHUNK_MISMATCH` (since library 0.5.0): a chunk contradicts the chunks staged
    /// before it (overlapping or missing keys, a forged record count). The replica dropped the
    /// staged chunks; its visible state is unchanged. Start the snapshot again.
    ChunkMismatch,
    /// `PODSYNC_E_REPAIR_STALE` (since library 0.7.0): [`Store::apply`](crate::Store::apply) of a
    /// repair frame computed for another state than the replica's (its digest moved since the
    /// summary that began the exchange): nothing changed; start a new exchange
    /// ([`Store::summary`](crate::Store::summary)). From [`Store::reconcile`](crate::Store::reconcile):
    /// the exchange began at a version the responder can no longer describe (it moved past its
    /// catch-up floor meanwhile); start again. See [Reconciliation](crate#reconciliation).
    RepairStale,
    /// `PODSYNC_E_IO` (since library 0.6.0): a file operation of a durable store failed (disk
    /// full, read-only, missing, or the directory locked by another store that has it open); the
    /// message names the file and the system error. A failed checkpoint leaves the older files as
    /// they were; a failed log append leaves the store working in memory but producing no frames
    /// until a checkpoint succeeds ([`StoreInfo::log_failed`](crate::StoreInfo::log_failed)); a
    /// replica's apply that fails to log **was applied**.
    Io,
    /// `PODSYNC_E_FILE_CORRUPT` (since library 0.6.0): a checkpoint or log file fails its checksum
    /// or its structure, or belongs to another stream or schema: no checkpoint of the directory
    /// verifies, or a log segment names another stream.
    FileCorrupt,
    /// `PODSYNC_E_INTERNAL`: a bug in PodSync (or in this binding); please report it.
    Internal,
    /// `PODSYNC_NATS_E_CONNECTION` (feature `nats`): cannot connect to the NATS server, or the
    /// connection is lost or closed. The client reconnects in the background; nothing is lost (a
    /// [`Publisher`](crate::nats::Publisher) keeps the frames it could not publish, a
    /// [`Follower`](crate::nats::Follower) resumes where it was): call again later.
    #[cfg(feature = "nats")]
    Connection,
    /// `PODSYNC_NATS_E_TIMEOUT` (feature `nats`): the server did not answer within
    /// [`NatsOptions::timeout_ms`](crate::nats::NatsOptions::timeout_ms); as for
    /// [`Connection`](ErrorKind::Connection), nothing is lost.
    #[cfg(feature = "nats")]
    Timeout,
    /// `PODSYNC_NATS_E_STREAM_MISSING` (feature `nats`): a follower's stream does not exist (yet):
    /// no publisher created it.
    #[cfg(feature = "nats")]
    StreamMissing,
    /// `PODSYNC_NATS_E_MSG_TOO_LARGE` (feature `nats`): a frame is larger than the server accepts;
    /// it was not published and a snapshot in chunks that fit replaced it. Give the writer a
    /// [`max_frame_bytes`](crate::StoreOptions::max_frame_bytes) below the server's
    /// `max_payload` less 4 KiB.
    #[cfg(feature = "nats")]
    MessageTooLarge,
    /// `PODSYNC_NATS_E_SERVER` (feature `nats`): JetStream refused a request; the message has its
    /// error code and description.
    #[cfg(feature = "nats")]
    Server,
    /// `PODSYNC_NATS_E_NOT_A_MESSAGE` (feature `nats`): a message on the carrier's subjects that
    /// is not what it should be (not a frame, a snapshot marker with missing or contradictory
    /// headers); it was skipped.
    #[cfg(feature = "nats")]
    NotAMessage,
    /// A negative status this binding does not know (a newer library); the value is kept.
    Unknown(i32),
    /// A non-negative status where the header allows none: a contract violation (a bug).
    UnexpectedStatus(i32),
}

impl ErrorKind {
    /// The kind of a status code (`< 0` for errors).
    pub fn from_status(status: i32) -> ErrorKind {
        use ErrorKind::*;
        match status {
            sys::PODSYNC_E_INVALID_ARGUMENT => InvalidArgument,
            sys::PODSYNC_E_UNKNOWN_TABLE => UnknownTable,
            sys::PODSYNC_E_RECORD_SIZE => RecordSize,
            sys::PODSYNC_E_BUFFER_TOO_SMALL => BufferTooSmall,
            sys::PODSYNC_E_NO_MEMORY => NoMemory,
            sys::PODSYNC_E_WRONG_ROLE => WrongRole,
            sys::PODSYNC_E_SCHEMA_INVALID => SchemaInvalid,
            sys::PODSYNC_E_FRAME_TRUNCATED => FrameTruncated,
            sys::PODSYNC_E_FRAME_MAGIC => FrameMagic,
            sys::PODSYNC_E_FRAME_VERSION => FrameVersion,
            sys::PODSYNC_E_FRAME_CHECKSUM => FrameChecksum,
            sys::PODSYNC_E_FRAME_MALFORMED => FrameMalformed,
            sys::PODSYNC_E_SCHEMA_MISMATCH => SchemaMismatch,
            sys::PODSYNC_E_STREAM_MISMATCH => StreamMismatch,
            sys::PODSYNC_E_UNSUPPORTED_CODEC => UnsupportedCodec,
            sys::PODSYNC_E_DIGEST_MISMATCH => DigestMismatch,
            sys::PODSYNC_E_DIVERGED => Diverged,
            sys::PODSYNC_E_VERSION_AHEAD => VersionAhead,
            sys::PODSYNC_E_FRAME_TOO_LARGE => FrameTooLarge,
            sys::PODSYNC_E_DICTIONARY_MISSING => DictionaryMissing,
            sys::PODSYNC_E_LIMIT => Limit,
            sys::PODSYNC_E_SNAPSHOT_EXPIRED => SnapshotExpired,
            sys::PODSYNC_E_TERM_FENCED => TermFenced,
            sys::PODSYNC_E_HISTORY_DIVERGED => HistoryDiverged,
            sys::PODSYNC_E_NOT_SUBSCRIBED => NotSubscribed,
            sys::PODSYNC_E_FRAME_FEATURE => FrameFeature,
            sys::PODSYNC_E_CHUNK_MISMATCH => ChunkMismatch,
            sys::PODSYNC_E_REPAIR_STALE => RepairStale,
            sys::PODSYNC_E_IO => Io,
            sys::PODSYNC_E_FILE_CORRUPT => FileCorrupt,
            sys::PODSYNC_E_INTERNAL => Internal,
            #[cfg(feature = "nats")]
            sys::PODSYNC_NATS_E_CONNECTION => Connection,
            #[cfg(feature = "nats")]
            sys::PODSYNC_NATS_E_TIMEOUT => Timeout,
            #[cfg(feature = "nats")]
            sys::PODSYNC_NATS_E_STREAM_MISSING => StreamMissing,
            #[cfg(feature = "nats")]
            sys::PODSYNC_NATS_E_MSG_TOO_LARGE => MessageTooLarge,
            #[cfg(feature = "nats")]
            sys::PODSYNC_NATS_E_SERVER => Server,
            #[cfg(feature = "nats")]
            sys::PODSYNC_NATS_E_NOT_A_MESSAGE => NotAMessage,
            s if s < 0 => Unknown(s),
            s => UnexpectedStatus(s),
        }
    }

    /// The status code of this kind.
    pub fn status(self) -> i32 {
        use ErrorKind::*;
        match self {
            InvalidArgument => sys::PODSYNC_E_INVALID_ARGUMENT,
            UnknownTable => sys::PODSYNC_E_UNKNOWN_TABLE,
            RecordSize => sys::PODSYNC_E_RECORD_SIZE,
            BufferTooSmall => sys::PODSYNC_E_BUFFER_TOO_SMALL,
            NoMemory => sys::PODSYNC_E_NO_MEMORY,
            WrongRole => sys::PODSYNC_E_WRONG_ROLE,
            SchemaInvalid => sys::PODSYNC_E_SCHEMA_INVALID,
            FrameTruncated => sys::PODSYNC_E_FRAME_TRUNCATED,
            FrameMagic => sys::PODSYNC_E_FRAME_MAGIC,
            FrameVersion => sys::PODSYNC_E_FRAME_VERSION,
            FrameChecksum => sys::PODSYNC_E_FRAME_CHECKSUM,
            FrameMalformed => sys::PODSYNC_E_FRAME_MALFORMED,
            SchemaMismatch => sys::PODSYNC_E_SCHEMA_MISMATCH,
            StreamMismatch => sys::PODSYNC_E_STREAM_MISMATCH,
            UnsupportedCodec => sys::PODSYNC_E_UNSUPPORTED_CODEC,
            DigestMismatch => sys::PODSYNC_E_DIGEST_MISMATCH,
            Diverged => sys::PODSYNC_E_DIVERGED,
            VersionAhead => sys::PODSYNC_E_VERSION_AHEAD,
            FrameTooLarge => sys::PODSYNC_E_FRAME_TOO_LARGE,
            DictionaryMissing => sys::PODSYNC_E_DICTIONARY_MISSING,
            Limit => sys::PODSYNC_E_LIMIT,
            SnapshotExpired => sys::PODSYNC_E_SNAPSHOT_EXPIRED,
            TermFenced => sys::PODSYNC_E_TERM_FENCED,
            HistoryDiverged => sys::PODSYNC_E_HISTORY_DIVERGED,
            NotSubscribed => sys::PODSYNC_E_NOT_SUBSCRIBED,
            FrameFeature => sys::PODSYNC_E_FRAME_FEATURE,
            ChunkMismatch => sys::PODSYNC_E_CHUNK_MISMATCH,
            RepairStale => sys::PODSYNC_E_REPAIR_STALE,
            Io => sys::PODSYNC_E_IO,
            FileCorrupt => sys::PODSYNC_E_FILE_CORRUPT,
            Internal => sys::PODSYNC_E_INTERNAL,
            #[cfg(feature = "nats")]
            Connection => sys::PODSYNC_NATS_E_CONNECTION,
            #[cfg(feature = "nats")]
            Timeout => sys::PODSYNC_NATS_E_TIMEOUT,
            #[cfg(feature = "nats")]
            StreamMissing => sys::PODSYNC_NATS_E_STREAM_MISSING,
            #[cfg(feature = "nats")]
            MessageTooLarge => sys::PODSYNC_NATS_E_MSG_TOO_LARGE,
            #[cfg(feature = "nats")]
            Server => sys::PODSYNC_NATS_E_SERVER,
            #[cfg(feature = "nats")]
            NotAMessage => sys::PODSYNC_NATS_E_NOT_A_MESSAGE,
            Unknown(s) | UnexpectedStatus(s) => s,
        }
    }
}

/// The name of any status code, e.g. `"PODSYNC_E_FRAME_CHECKSUM"` (`podsync_status_name`);
/// `"PODSYNC_UNKNOWN_STATUS"` for values the library does not know. With the feature `nats`, the
/// carrier's statuses have their names too (`podsync_nats_status_name`, e.g.
/// `"PODSYNC_NATS_E_TIMEOUT"`).
pub fn status_name(status: i32) -> &'static str {
    #[cfg(not(feature = "nats"))]
    let p = sys::podsync_status_name(status);
    #[cfg(feature = "nats")]
    let p = sys::podsync_nats_status_name(status);
    if p.is_null() {
        return "PODSYNC_UNKNOWN_STATUS";
    }
    // SAFETY: the header promises a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("PODSYNC_UNKNOWN_STATUS")
}

/// A failed PodSync call: the status code, its [`ErrorKind`], and the message the library
/// recorded on the handle (copied right after the call, so it stays readable).
///
/// Errors detected by this binding before calling the library (a record type whose size differs
/// from the table's, a misaligned view, a field name containing NUL) use the status the library
/// would report for the same mistake, with a message saying so.
///
/// ```
/// use podsync::{ErrorKind, Schema};
/// let err = Schema::new().table(1, 12, 8, &[]).unwrap_err(); // 12 is not a multiple of 8
/// assert_eq!(err.kind(), ErrorKind::SchemaInvalid);
/// assert_eq!(err.status(), -7);
/// assert_eq!(err.status_name(), "PODSYNC_E_SCHEMA_INVALID");
/// assert!(!err.message().is_empty());
/// println!("{err}"); // PODSYNC_E_SCHEMA_INVALID (-7): <the library's message>
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    status: i32,
    message: String,
    /// The header of the frame a store-less frame call rejected, when it could be read.
    frame_info: Option<Box<FrameInfo>>,
}

impl Error {
    /// An error with the given status and message.
    pub fn new(status: i32, message: impl Into<String>) -> Error {
        Error { status, message: message.into(), frame_info: None }
    }

    /// The error with the header of the frame it is about.
    pub(crate) fn with_frame_info(mut self, info: FrameInfo) -> Error {
        self.frame_info = Some(Box::new(info));
        self
    }

    pub(crate) fn from_kind(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind.status(), message)
    }

    /// The status code (negative for errors; see [`ErrorKind::UnexpectedStatus`]).
    pub fn status(&self) -> i32 {
        self.status
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_status(self.status)
    }

    /// The status's name (`podsync_status_name`), e.g. `"PODSYNC_E_FRAME_CHECKSUM"`.
    pub fn status_name(&self) -> &'static str {
        status_name(self.status)
    }

    /// The human-readable message the library recorded: on the handle (`podsync_store_errmsg` /
    /// `podsync_schema_errmsg`, and with the feature `nats` `podsync_nats_publisher_errmsg` /
    /// `podsync_nats_follower_errmsg`) or, for calls without one (frame functions, constructors,
    /// [`Schema::from_bytes`](crate::Schema::from_bytes)), the thread's last error
    /// (`podsync_last_errmsg`, since library 0.4.0; `podsync_nats_last_errmsg`); or written by
    /// this binding. May be empty.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The header of the frame that [`frame::validate`](crate::frame::validate) or
    /// [`frame::validate_limited`](crate::frame::validate_limited) rejected, when the library
    /// could read it before the check that failed (since library 0.4.0): for example the
    /// `dictionary_id` of a frame refused with [`ErrorKind::DictionaryMissing`], or what a frame
    /// refused with [`ErrorKind::FrameTooLarge`] claims to be. For [`frame::peek`](crate::frame::peek)
    /// given fewer bytes than the header (since library 0.5.0): [`ErrorKind::FrameTruncated`]
    /// with the `format_version` and `header_length` the 16-byte prefix announces (the other
    /// fields 0), so that a stream reader knows how many bytes to read. `None` for every other
    /// error.
    pub fn frame_info(&self) -> Option<&FrameInfo> {
        self.frame_info.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.status_name(), self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("status", &self.status)
            .field("name", &self.status_name())
            .field("kind", &self.kind())
            .field("message", &self.message)
            .field("frame_info", &self.frame_info)
            .finish()
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    /// Frame errors and corrupt files become `InvalidData`, the others `Other`; the PodSync error
    /// is the source.
    fn from(e: Error) -> std::io::Error {
        use ErrorKind::*;
        let kind = match e.kind() {
            FrameTruncated | FrameMagic | FrameVersion | FrameChecksum | FrameMalformed
            | SchemaMismatch | UnsupportedCodec | FrameFeature | ChunkMismatch | FileCorrupt => {
                std::io::ErrorKind::InvalidData
            }
            NoMemory => std::io::ErrorKind::OutOfMemory,
            #[cfg(feature = "nats")]
            NotAMessage => std::io::ErrorKind::InvalidData,
            #[cfg(feature = "nats")]
            Connection => std::io::ErrorKind::NotConnected,
            #[cfg(feature = "nats")]
            Timeout => std::io::ErrorKind::TimedOut,
            #[cfg(feature = "nats")]
            StreamMissing => std::io::ErrorKind::NotFound,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// The calling thread's last error message (`podsync_last_errmsg`), copied: the message of a
/// call without a handle, read right after it.
pub(crate) fn last_message() -> String {
    copy_message(sys::podsync_last_errmsg())
}

/// Copies a library-owned C string (may be NULL).
pub(crate) fn copy_message(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns a NUL-terminated string valid until the next call on the
    // handle; it is copied before any further call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_display() {
        for s in -100..=10 {
            let k = ErrorKind::from_status(s);
            assert_eq!(k.status(), s);
            if s >= 0 {
                assert_eq!(k, ErrorKind::UnexpectedStatus(s));
            }
        }
        let e = Error::new(sys::PODSYNC_E_FRAME_CHECKSUM, "bad");
        assert_eq!(e.to_string(), "PODSYNC_E_FRAME_CHECKSUM (-13): bad");
        assert_eq!(Error::new(-7, "").to_string(), "PODSYNC_E_SCHEMA_INVALID (-7)");
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(copy_message(std::ptr::null()), "");
        assert_eq!(ErrorKind::from_status(-23), ErrorKind::Limit);
        assert_eq!(ErrorKind::Limit.status(), sys::PODSYNC_E_LIMIT);
        let limit = Error::new(-23, "");
        assert_eq!(limit.to_string(), "PODSYNC_E_LIMIT (-23)");
        assert_eq!(limit.frame_info(), None);
        for (s, k) in [
            (-24, ErrorKind::SnapshotExpired),
            (-28, ErrorKind::FrameFeature),
            (-29, ErrorKind::ChunkMismatch),
        ] {
            assert_eq!(ErrorKind::from_status(s), k);
            assert_eq!(k.status(), s);
        }
        for (s, k, name) in [
            (-25, ErrorKind::TermFenced, "PODSYNC_E_TERM_FENCED"),
            (-26, ErrorKind::HistoryDiverged, "PODSYNC_E_HISTORY_DIVERGED"),
            (-31, ErrorKind::Io, "PODSYNC_E_IO"),
            (-32, ErrorKind::FileCorrupt, "PODSYNC_E_FILE_CORRUPT"),
        ] {
            assert_eq!(ErrorKind::from_status(s), k);
            assert_eq!(k.status(), s);
            assert_eq!(Error::new(s, "").status_name(), name);
        }
        assert_eq!(ErrorKind::from_status(-27), ErrorKind::NotSubscribed, "since library 0.8.0");
        assert_eq!(ErrorKind::NotSubscribed.status(), sys::PODSYNC_E_NOT_SUBSCRIBED);
        assert_eq!(Error::new(-27, "").status_name(), "PODSYNC_E_NOT_SUBSCRIBED");
        let routing: std::io::Error = Error::new(sys::PODSYNC_E_NOT_SUBSCRIBED, "").into();
        assert_eq!(routing.kind(), std::io::ErrorKind::Other, "not bad data: another subset's");
        assert_eq!(ErrorKind::from_status(-30), ErrorKind::RepairStale, "since library 0.7.0");
        assert_eq!(ErrorKind::RepairStale.status(), sys::PODSYNC_E_REPAIR_STALE);
        assert_eq!(Error::new(-30, "").status_name(), "PODSYNC_E_REPAIR_STALE");
        let stale: std::io::Error = Error::new(sys::PODSYNC_E_REPAIR_STALE, "").into();
        assert_eq!(stale.kind(), std::io::ErrorKind::Other, "not bad data: a state that moved");
        assert_eq!(ErrorKind::from_status(-33), ErrorKind::Unknown(-33));
        assert_eq!(Error::new(-31, "LOCK: busy").to_string(), "PODSYNC_E_IO (-31): LOCK: busy");
        let corrupt: std::io::Error = Error::new(sys::PODSYNC_E_FILE_CORRUPT, "").into();
        assert_eq!(corrupt.kind(), std::io::ErrorKind::InvalidData);
        let feature: std::io::Error = Error::new(sys::PODSYNC_E_FRAME_FEATURE, "").into();
        assert_eq!(feature.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(
            Error::new(sys::PODSYNC_E_CHUNK_MISMATCH, "x").to_string(),
            "PODSYNC_E_CHUNK_MISMATCH (-29): x"
        );
        #[cfg(not(feature = "nats"))]
        assert_eq!(ErrorKind::from_status(-60), ErrorKind::Unknown(-60));
    }

    #[cfg(feature = "nats")]
    #[test]
    fn carrier_kinds_names_and_io_kinds() {
        for (s, k, name, io) in [
            (
                -60,
                ErrorKind::Connection,
                "PODSYNC_NATS_E_CONNECTION",
                std::io::ErrorKind::NotConnected,
            ),
            (-61, ErrorKind::Timeout, "PODSYNC_NATS_E_TIMEOUT", std::io::ErrorKind::TimedOut),
            (
                -62,
                ErrorKind::StreamMissing,
                "PODSYNC_NATS_E_STREAM_MISSING",
                std::io::ErrorKind::NotFound,
            ),
            (
                -63,
                ErrorKind::MessageTooLarge,
                "PODSYNC_NATS_E_MSG_TOO_LARGE",
                std::io::ErrorKind::Other,
            ),
            (-64, ErrorKind::Server, "PODSYNC_NATS_E_SERVER", std::io::ErrorKind::Other),
            (
                -65,
                ErrorKind::NotAMessage,
                "PODSYNC_NATS_E_NOT_A_MESSAGE",
                std::io::ErrorKind::InvalidData,
            ),
        ] {
            assert_eq!(ErrorKind::from_status(s), k);
            assert_eq!(k.status(), s);
            let e = Error::new(s, "m");
            assert_eq!(e.status_name(), name);
            assert_eq!(e.to_string(), format!("{name} ({s}): m"));
            assert_eq!(std::io::Error::from(e).kind(), io);
        }
        // Engine statuses keep their names through podsync_nats_status_name.
        assert_eq!(status_name(-13), "PODSYNC_E_FRAME_CHECKSUM");
        assert_eq!(status_name(-66), "PODSYNC_UNKNOWN_STATUS");
        assert_eq!(ErrorKind::from_status(-66), ErrorKind::Unknown(-66));
    }
}
