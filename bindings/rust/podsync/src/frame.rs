//! Reading frames without a store: [`peek`] a header, [`validate`] a whole frame (or
//! [`validate_limited`], bounding what a compressed frame may decode to), walk its [`sections`]
//! (and the sections of its refresh slice, [`slice_sections`]) in place, and [`FrameBuf`], a
//! 64-byte aligned buffer to receive frames into.
//!
//! A stream reader reads the [`PREFIX_SIZE`]-byte prefix, calls [`peek`] to learn the header's
//! length (a [`ErrorKind::FrameTruncated`] error whose [`Error::frame_info`] carries it), reads the
//! rest of the header, peeks again to learn the frame's length, then reads the rest of the frame:
//! a format-2 frame may be shorter than format 1's [`HEADER_SIZE`] (since library 0.5.0).
//! [`FrameBuf::read_frame`] does exactly that:
//!
//! ```
//! use podsync::frame::{self, FrameBuf};
//! use podsync::{Schema, Store};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let schema = Schema::new().table(1, 16, 16, &[])?;
//! let mut writer = Store::writer(&schema)?;
//! writer.put_many(1, &[42, 43], &[[7u64, 8u64], [9, 10]])?;
//! writer.delete(1, 43)?; // created and deleted in one batch: never sent
//! writer.flush()?;
//!
//! // A byte stream (a pipe, a socket): frames back to back.
//! let mut wire = Vec::new();
//! for f in writer.frames() {
//!     wire.extend_from_slice(f);
//! }
//! let mut stream = &wire[..];
//! let mut buf = FrameBuf::new();
//! while buf.read_frame(&mut stream, 1 << 20)? {
//!     let info = frame::peek(&buf)?;
//!     println!("frame v{} -> v{}, {} bytes", info.base_version, info.state_version, buf.len());
//!     for section in frame::sections(&buf)? {
//!         let section = section?;
//!         // Keys and records are read in place from the buffer.
//!         assert_eq!(section.put_keys(), &[42]);
//!         assert_eq!(section.records_as::<[u64; 2]>()?, &[[7, 8]]);
//!         assert!(section.delete_keys().is_empty());
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::io::{self, Read};
use std::ops::{Deref, DerefMut};

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result};
use crate::pod::{self, Pod};

/// Fixed header size of format version 1 (`PODSYNC_FRAME_HEADER_SIZE`). A format-2 header is
/// shorter (40 bytes and up, a multiple of 8): read [`PREFIX_SIZE`] bytes first.
pub const HEADER_SIZE: usize = sys::PODSYNC_FRAME_HEADER_SIZE;

/// The prefix every frame starts with: magic, format version and header length
/// (`PODSYNC_FRAME_PREFIX_SIZE`, since library 0.5.0). Given this many bytes, [`peek`] reports
/// the header's length; given the header, the frame's.
pub const PREFIX_SIZE: usize = sys::PODSYNC_FRAME_PREFIX_SIZE;

/// The newest frame format the library this binding was written for reads and writes
/// (`PODSYNC_FORMAT_VERSION`): 2 since library 0.5.0, which reads formats 1 and 2. Since library
/// 0.8.0 writers write format 2 by default, and format 1 (for the frames that need no format-2
/// feature) only with [`StoreOptions::frame_format`](crate::StoreOptions::frame_format)`(1)`.
pub const FORMAT_VERSION: u32 = sys::PODSYNC_FORMAT_VERSION;

/// Format-2 header flag REPAIR (docs/FORMAT.md, "Flags (version 2)"); the header has no macro
/// for it: `podsync_frame_info.flags` carries the header's flags.
const FLAG_REPAIR: u32 = 0x8;
/// Format-2 header flag SUMMARY (docs/FORMAT.md, "Flags (version 2)").
const FLAG_SUMMARY: u32 = 0x10;

/// A frame's header fields (`podsync_frame_info`, struct version 3 since library 0.5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// The frame format version: 2 (since library 0.5.0; every frame of a writer by default since
    /// library 0.8.0), or 1 (the frames without a format-2 feature of a writer with
    /// [`StoreOptions::frame_format`](crate::StoreOptions::frame_format)`(1)`, and of writers older
    /// than library 0.8.0).
    pub format_version: u32,
    /// Bytes of the header ([`HEADER_SIZE`] in format version 1; 40 and up in format 2).
    pub header_length: u32,
    /// `PODSYNC_FRAME_RESET` | `PODSYNC_FRAME_HAS_DIGEST` | `PODSYNC_FRAME_CHUNK`, and
    /// `PODSYNC_FRAME_SLICE` (not a header flag: set when the frame carries a refresh slice; see
    /// [`has_slice`](FrameInfo::has_slice)). Format 2 also has the header flags REPAIR (0x8) and
    /// SUMMARY (0x10) of docs/FORMAT.md (since library 0.7.0; see
    /// [`is_repair`](FrameInfo::is_repair) and [`is_summary`](FrameInfo::is_summary)).
    pub flags: u32,
    /// Number of sections of changes: one per table with changes (a refresh slice's sections come
    /// after them, [`slice_section_count`](FrameInfo::slice_section_count)).
    pub section_count: u32,
    /// `PODSYNC_CODEC_*`.
    pub codec: u32,
    /// Total bytes of the frame, header included.
    pub frame_length: u64,
    /// Hash of the schema the frame was written for; a store of another schema refuses it.
    pub schema_hash: u64,
    /// The writer stream the frame belongs to.
    pub stream_id: u64,
    /// The frame's sequence number in its stream.
    pub sequence: u64,
    /// The version a receiver must have reached for the frame to apply (0 for a snapshot).
    pub base_version: u64,
    /// The version a receiver reaches by applying the frame.
    pub state_version: u64,
    /// Meaningful with `PODSYNC_FRAME_HAS_DIGEST`; see [`FrameInfo::digest`].
    pub state_digest: u64,
    /// `PODSYNC_TRANSFORM_*` bits the payload uses.
    pub transforms: u32,
    /// Id of the zstd dictionary the payload is compressed with, 0 for none (library 0.3.0;
    /// [`peek`] fills it only when `data` reaches the zstd frame's header). A store needs that
    /// dictionary loaded ([`Store::load_dictionary`](crate::Store::load_dictionary)) to apply the
    /// frame.
    pub dictionary_id: u32,
    /// Plain frames: `frame_length - header_length`; encoded frames: the packed payload's size
    /// (what zstd decompresses to, or what codec 0 stores before the raw columns).
    pub payload_length: u64,
    /// The writer's term (0 for format 1). Since library 0.6.0 a writer in a term above 0 (one
    /// reopened in a new term, or a promoted replica: [`Store::promote`](crate::Store::promote))
    /// writes format-2 frames that carry it and the history of terms before it.
    pub term: u64,
    /// A chunk ([`is_chunk`](FrameInfo::is_chunk)): the id of its snapshot, the same in every
    /// chunk of it; else 0.
    pub snapshot_id: u64,
    /// A chunk: its index in its snapshot (0 for the first).
    pub chunk_index: u64,
    /// A chunk: the first key it covers is `(chunk_start_table, chunk_start_key)`, `(0, 0)` in
    /// chunk 0.
    pub chunk_start_key: u64,
    /// A chunk other than the last: the first key it does not cover is
    /// `(chunk_end_table, chunk_end_key)`, where the next chunk starts.
    pub chunk_end_key: u64,
    /// The last chunk: the records of all the snapshot's chunks together.
    pub chunk_record_count: u64,
    /// See [`chunk_start_key`](FrameInfo::chunk_start_key).
    pub chunk_start_table: u32,
    /// See [`chunk_end_key`](FrameInfo::chunk_end_key).
    pub chunk_end_table: u32,
    /// `PODSYNC_CHUNK_*` bits: `PODSYNC_CHUNK_LAST` on the last chunk.
    pub chunk_flags: u32,
    /// A frame with a refresh slice ([`has_slice`](FrameInfo::has_slice), since library 0.5.0):
    /// the slice's sections, which follow the [`section_count`](FrameInfo::section_count)
    /// sections of changes ([`slice_sections`] reads them); 0 for a slice of an empty range or
    /// state, and for a frame without a slice.
    pub slice_section_count: u32,
    /// A frame with a slice: the writer's refresh pass (0 for the first), which re-sends its
    /// whole state once.
    pub slice_pass: u64,
    /// A frame with a slice: the slice's index in its pass (0 for the first).
    pub slice_index: u64,
    /// A frame with a slice: the first key it covers is `(slice_start_table, slice_start_key)`,
    /// `(0, 0)` in slice 0 of a pass. Keys are ordered as in chunks: by table id, then by the
    /// key's hash (`seed(t, k)`).
    pub slice_start_key: u64,
    /// A slice other than its pass's last: the first key it does not cover is
    /// `(slice_end_table, slice_end_key)`, where the next slice starts.
    pub slice_end_key: u64,
    /// See [`slice_start_key`](FrameInfo::slice_start_key).
    pub slice_start_table: u32,
    /// See [`slice_end_key`](FrameInfo::slice_end_key).
    pub slice_end_table: u32,
    /// `PODSYNC_CHUNK_LAST` on the pass's last slice ([`is_last_slice`](FrameInfo::is_last_slice)).
    pub slice_flags: u32,
}

impl FrameInfo {
    /// A snapshot (flag RESET): replaces the receiver's state, or is one chunk of a snapshot
    /// ([`is_chunk`](FrameInfo::is_chunk)).
    pub fn is_snapshot(&self) -> bool {
        self.flags & sys::PODSYNC_FRAME_RESET != 0
    }

    /// One chunk of a chunked snapshot (flag CHUNK, format 2; since library 0.5.0): a replica
    /// stages it ([`Applied::ChunkStaged`](crate::Applied::ChunkStaged)) until the last one.
    pub fn is_chunk(&self) -> bool {
        self.flags & sys::PODSYNC_FRAME_CHUNK != 0
    }

    /// The last chunk of a chunked snapshot (`PODSYNC_CHUNK_LAST`): applying it switches the
    /// replica to the snapshot's state.
    pub fn is_last_chunk(&self) -> bool {
        self.is_chunk() && self.chunk_flags & sys::PODSYNC_CHUNK_LAST != 0
    }

    /// The frame carries a refresh slice (`PODSYNC_FRAME_SLICE`, since library 0.5.0): the
    /// writer has a rolling refresh ([`StoreOptions::refresh_flushes`](crate::StoreOptions::refresh_flushes))
    /// and put the next slice of its whole state into this frame, after its changes. Such frames
    /// are format 2. A frame with a slice and no changes (`section_count` 0, `base_version ==
    /// state_version`) is a refresh-only frame of an idle writer
    /// ([`StoreOptions::refresh_ms`](crate::StoreOptions::refresh_ms)).
    ///
    /// ```
    /// use podsync::{Schema, Store, StoreOptions, frame};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer_with(&schema, &StoreOptions::new().refresh_flushes(4))?;
    /// writer.put_many(1, &[1, 2, 3, 4, 5, 6, 7, 8], &[0u64; 8])?;
    /// writer.flush()?;
    /// let info = frame::peek(writer.frame(0).unwrap())?;
    /// assert!(info.has_slice());
    /// assert_eq!((info.format_version, info.slice_pass, info.slice_index), (2, 0, 0));
    /// assert_eq!(info.section_count, 1); // the changes; the slice's sections follow
    /// # Ok(()) }
    /// ```
    pub fn has_slice(&self) -> bool {
        self.flags & sys::PODSYNC_FRAME_SLICE != 0
    }

    /// The last slice of a refresh pass (`PODSYNC_CHUNK_LAST` in `slice_flags`): the next frame's
    /// slice starts pass `slice_pass + 1` at index 0.
    pub fn is_last_slice(&self) -> bool {
        self.has_slice() && self.slice_flags & sys::PODSYNC_CHUNK_LAST != 0
    }

    /// A repair frame (format-2 header flag REPAIR, 0x8; since library 0.7.0): the answer of a
    /// responder's [`Store::reconcile`](crate::Store::reconcile) that ends a reconciliation. A
    /// replica [applies](crate::Store::apply) it like any frame. See
    /// [Reconciliation](crate#reconciliation).
    pub fn is_repair(&self) -> bool {
        self.format_version >= 2 && self.flags & FLAG_REPAIR != 0
    }

    /// A summary message of a reconciliation (format-2 header flag SUMMARY, 0x10; since library
    /// 0.7.0), produced by [`Store::summary`](crate::Store::summary) or
    /// [`Store::reconcile`](crate::Store::reconcile): the other side answers it with
    /// [`Store::reconcile`](crate::Store::reconcile); it is never applied
    /// ([`ErrorKind::InvalidArgument`]).
    ///
    /// ```
    /// use podsync::{Schema, Store, frame};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer(&schema)?;
    /// let mut replica = Store::replica(&schema)?;
    /// writer.put_as(1, 1, &1u64)?;
    /// writer.flush()?;
    /// let message = replica.summary(0)?.next().unwrap();
    /// let info = frame::peek(message)?;
    /// assert!(info.is_summary() && !info.is_repair());
    /// let repair = writer.reconcile(message)?.next().unwrap(); // one record: repaired at once
    /// let info = frame::peek(repair)?;
    /// assert!(info.is_repair() && !info.is_summary());
    /// # Ok(()) }
    /// ```
    pub fn is_summary(&self) -> bool {
        self.format_version >= 2 && self.flags & FLAG_SUMMARY != 0
    }

    /// The writer's state digest after the frame, if the frame carries one.
    pub fn digest(&self) -> Option<u64> {
        (self.flags & sys::PODSYNC_FRAME_HAS_DIGEST != 0).then_some(self.state_digest)
    }

    fn from_raw(r: &sys::podsync_frame_info) -> FrameInfo {
        FrameInfo {
            format_version: r.format_version,
            header_length: r.header_length,
            flags: r.flags,
            section_count: r.section_count,
            codec: r.codec,
            frame_length: r.frame_length,
            schema_hash: r.schema_hash,
            stream_id: r.stream_id,
            sequence: r.sequence,
            base_version: r.base_version,
            state_version: r.state_version,
            state_digest: r.state_digest,
            transforms: r.transforms,
            dictionary_id: r.dictionary_id,
            payload_length: r.payload_length,
            term: r.term,
            snapshot_id: r.snapshot_id,
            chunk_index: r.chunk_index,
            chunk_start_key: r.chunk_start_key,
            chunk_end_key: r.chunk_end_key,
            chunk_record_count: r.chunk_record_count,
            chunk_start_table: r.chunk_start_table,
            chunk_end_table: r.chunk_end_table,
            chunk_flags: r.chunk_flags,
            slice_section_count: r.slice_section_count,
            slice_pass: r.slice_pass,
            slice_index: r.slice_index,
            slice_start_key: r.slice_start_key,
            slice_end_key: r.slice_end_key,
            slice_start_table: r.slice_start_table,
            slice_end_table: r.slice_end_table,
            slice_flags: r.slice_flags,
        }
    }
}

fn frame_error(func: &str, st: i32, size: usize) -> Error {
    // Functions without a handle report through the thread's last error (library 0.4.0).
    let message = crate::error::last_message();
    if message.is_empty() {
        Error::new(st, format!("{func}: {size} bytes rejected"))
    } else {
        Error::new(st, format!("{func}: {message}"))
    }
}

/// Reads a frame's header from the first bytes of `data` (the whole header; the rest of the frame
/// need not be there) (`podsync_frame_peek`). Checks magic, format version and header length
/// only.
///
/// # Errors
///
/// [`ErrorKind::FrameTruncated`] if `data` is shorter than the header: with at least
/// [`PREFIX_SIZE`] bytes, [`Error::frame_info`] then holds the `format_version` and
/// `header_length` the prefix announces (the other fields 0), which is how a stream reader learns
/// how much to read ([`FrameBuf::read_frame`]); [`ErrorKind::FrameMagic`] if it is not a PodSync
/// frame; [`ErrorKind::FrameVersion`] for a format version this library does not read;
/// [`ErrorKind::FrameMalformed`] for a header length that does not fit;
/// [`ErrorKind::FrameFeature`] for a critical flag or extension record this library does not
/// implement.
///
/// # Panics
///
/// If the loaded library implements another ABI version than this binding (checked once per
/// process; see [`check_abi`](crate::check_abi)).
pub fn peek(data: &[u8]) -> Result<FrameInfo> {
    crate::ensure_abi();
    let mut raw = sys::PODSYNC_FRAME_INFO_INIT;
    // SAFETY: data is valid for its length; raw is an info struct of this header's version.
    let st = unsafe { sys::podsync_frame_peek(data.as_ptr().cast(), data.len(), &mut raw) };
    if st < 0 {
        let e = frame_error("podsync_frame_peek", st, data.len());
        // A truncated header still names its length once the prefix is there (0.5.0).
        return Err(if raw.header_length != 0 {
            e.with_frame_info(FrameInfo::from_raw(&raw))
        } else {
            e
        });
    }
    Ok(FrameInfo::from_raw(&raw))
}

/// Validates a whole frame (`data` must be exactly the frame): header, checksum and the layout
/// of every section, without a schema (`podsync_frame_validate`); records are checked, not
/// decoded, and a compressed payload of up to 1 GiB is decompressed to check it
/// ([`validate_limited`] sets that bound). A frame compressed with a dictionary returns
/// [`ErrorKind::DictionaryMissing`]: without a store there is no dictionary (apply it to a store
/// that has loaded it).
///
/// # Errors
///
/// [`ErrorKind::FrameTruncated`] if `data` is shorter than the frame says,
/// [`ErrorKind::FrameMagic`], [`ErrorKind::FrameVersion`], [`ErrorKind::FrameChecksum`],
/// [`ErrorKind::FrameMalformed`] (a length, count, offset or flag is inconsistent, or `data` is
/// longer than the frame),
/// [`ErrorKind::UnsupportedCodec`], [`ErrorKind::FrameFeature`] (a critical feature this library
/// does not implement), [`ErrorKind::FrameTooLarge`] (a payload decoding to more than 1 GiB),
/// [`ErrorKind::DictionaryMissing`] (compressed with a dictionary),
/// [`ErrorKind::NoMemory`]. When the frame is rejected after its header was read,
/// [`Error::frame_info`] holds the header (since library 0.4.0), e.g. the `dictionary_id` the
/// frame needs.
///
/// # Panics
///
/// If the loaded library implements another ABI version than this binding (checked once per
/// process; see [`check_abi`](crate::check_abi)).
pub fn validate(data: &[u8]) -> Result<FrameInfo> {
    crate::ensure_abi();
    let mut raw = sys::PODSYNC_FRAME_INFO_INIT;
    // SAFETY: data is valid for its length; raw is an info struct of this header's version.
    let st = unsafe { sys::podsync_frame_validate(data.as_ptr().cast(), data.len(), &mut raw) };
    validated("podsync_frame_validate", st, data.len(), &raw)
}

/// [`validate`] with the largest decoded size the frame may have (`podsync_frame_validate_limited`,
/// since library 0.4.0): a compressed payload that decompresses to more than `max_decoded_bytes`,
/// or sections that decode to more (8 bytes a key plus the records), return
/// [`ErrorKind::FrameTooLarge`] before anything is allocated. 0 means the library's 1 GiB. The
/// same bound as a replica's [`StoreOptions::max_decoded_bytes`](crate::StoreOptions::max_decoded_bytes):
/// use it to check frames from an untrusted source.
///
/// # Errors
///
/// As [`validate`], with [`ErrorKind::FrameTooLarge`] for a frame that decodes to more than
/// `max_decoded_bytes`; [`Error::frame_info`] then holds what the frame claims to be.
///
/// # Panics
///
/// If the loaded library implements another ABI version than this binding (checked once per
/// process; see [`check_abi`](crate::check_abi)).
///
/// # Examples
///
/// ```
/// use podsync::{ErrorKind, Schema, Store, StoreOptions, frame};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table_of::<[u64; 4]>(1, &[])?;
/// let mut writer = Store::writer_with(&schema, &StoreOptions::new().compression_level(1))?;
/// let keys: Vec<u64> = (0..1000).collect();
/// writer.put_many(1, &keys, &vec![[7u64; 4]; 1000])?;
/// writer.flush()?;
/// let f = writer.frame(0).unwrap();
/// assert_eq!(frame::peek(f)?.codec, podsync::sys::PODSYNC_CODEC_ZSTD);
/// // 1000 keys and 32-byte records decode to 40,000 bytes.
/// assert_eq!(frame::validate_limited(f, 40_000)?.section_count, 1);
/// let err = frame::validate_limited(f, 4096).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::FrameTooLarge);
/// assert_eq!(err.frame_info().map(|i| i.frame_length), Some(f.len() as u64));
/// # Ok(()) }
/// ```
pub fn validate_limited(data: &[u8], max_decoded_bytes: u64) -> Result<FrameInfo> {
    crate::ensure_abi();
    let mut raw = sys::PODSYNC_FRAME_INFO_INIT;
    // SAFETY: data is valid for its length; raw is an info struct of this header's version.
    let st = unsafe {
        sys::podsync_frame_validate_limited(
            data.as_ptr().cast(),
            data.len(),
            max_decoded_bytes,
            &mut raw,
        )
    };
    validated("podsync_frame_validate_limited", st, data.len(), &raw)
}

/// The result of a validation call: the header, or the error with the header when the library
/// could read it (a valid header has a nonzero `header_length`; an untouched struct stays zero).
fn validated(func: &str, st: i32, size: usize, raw: &sys::podsync_frame_info) -> Result<FrameInfo> {
    if st < 0 {
        let e = frame_error(func, st, size);
        return Err(if raw.header_length != 0 {
            e.with_frame_info(FrameInfo::from_raw(raw))
        } else {
            e
        });
    }
    Ok(FrameInfo::from_raw(raw))
}

/// Validates the frame (as [`validate`]: a bad frame is reported as such first), then iterates
/// over its sections of changes, one per table with changes, reading keys and records in place
/// (`podsync_frame_section_get`; no copy). The sections of a refresh slice are not among them:
/// [`slice_sections`] reads those.
///
/// `data` must start on an 8-byte boundary, which the library requires to read keys in place:
/// otherwise this returns [`ErrorKind::InvalidArgument`] rather than copying behind your back.
/// Frames from [`Store::frames`](crate::Store::frames) and [`FrameBuf`] are 64-byte aligned,
/// which also aligns every table's records to the table's alignment; copy other bytes into a
/// `FrameBuf` ([`FrameBuf::from_slice`]).
///
/// # Errors
///
/// The errors of [`validate`] for a bad frame, then [`ErrorKind::InvalidArgument`] if `data`
/// is not 8-byte aligned. Each item of the iterator is a `Result` too:
/// [`ErrorKind::UnsupportedCodec`] for a frame that is compressed or transformed (only plain
/// frames can be read in place: apply others to a replica), after which the iterator ends.
///
/// # Panics
///
/// If the loaded library implements another ABI version than this binding (checked once per
/// process; see [`check_abi`](crate::check_abi)).
pub fn sections(data: &[u8]) -> Result<Sections<'_>> {
    let info = validate(data)?;
    let end = info.section_count;
    sections_in(data, info, 0, end)
}

/// Validates the frame (as [`validate`]), then iterates over the sections of its refresh slice
/// (since library 0.5.0), which follow its sections of changes: puts only, the current records of
/// the slice's range of keys at the frame's `state_version`. Empty for a frame without a slice
/// ([`FrameInfo::has_slice`]). Reads in place like [`sections`].
///
/// # Errors
///
/// As [`sections`].
///
/// # Panics
///
/// If the loaded library implements another ABI version than this binding (checked once per
/// process; see [`check_abi`](crate::check_abi)).
///
/// # Examples
///
/// ```
/// use podsync::{Schema, Store, StoreOptions, frame};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table(1, 8, 8, &[])?;
/// // A whole pass in one slice (refresh_flushes 1): the frame re-sends the whole state.
/// let mut writer = Store::writer_with(&schema, &StoreOptions::new().refresh_flushes(1))?;
/// writer.put_many(1, &[1, 2, 3], &[10u64, 20, 30])?;
/// writer.flush()?;
/// writer.put_as(1, 2, &21u64)?;
/// writer.flush()?;
/// let f = writer.frame(0).unwrap();
/// let changed: Vec<u64> = frame::sections(f)?.flat_map(|s| s.unwrap().put_keys().to_vec()).collect();
/// assert_eq!(changed, [2]);
/// let mut state: Vec<(u64, u64)> = Vec::new();
/// for s in frame::slice_sections(f)? {
///     let s = s?;
///     assert!(s.delete_keys().is_empty());
///     state.extend(s.put_keys().iter().copied().zip(s.records_as::<u64>()?.iter().copied()));
/// }
/// state.sort();
/// assert_eq!(state, [(1, 10), (2, 21), (3, 30)]);
/// # Ok(()) }
/// ```
pub fn slice_sections(data: &[u8]) -> Result<Sections<'_>> {
    let info = validate(data)?;
    let start = info.section_count;
    let end = if info.has_slice() { start.saturating_add(info.slice_section_count) } else { start };
    sections_in(data, info, start, end)
}

fn sections_in(data: &[u8], info: FrameInfo, start: u32, end: u32) -> Result<Sections<'_>> {
    if !(data.as_ptr() as usize).is_multiple_of(8) {
        return Err(Error::from_kind(
            ErrorKind::InvalidArgument,
            format!(
                "frame at {:p} is not 8-byte aligned; podsync_frame_section_get reads keys in place and \
                 needs an 8-byte boundary: copy the frame into a podsync::frame::FrameBuf (checked by \
                 the Rust binding)",
                data.as_ptr()
            ),
        ));
    }
    Ok(Sections { data, info, next: start, end })
}

/// Iterator over the sections of a validated frame: its changes ([`sections`]) or its refresh
/// slice ([`slice_sections`]).
#[derive(Clone)]
pub struct Sections<'a> {
    data: &'a [u8],
    info: FrameInfo,
    next: u32,
    /// One past the last section index to read.
    end: u32,
}

impl<'a> Sections<'a> {
    /// The frame's header.
    pub fn info(&self) -> &FrameInfo {
        &self.info
    }

    fn get(&self, index: u32) -> Result<Section<'a>> {
        let mut raw = sys::PODSYNC_FRAME_SECTION_INIT;
        let data = self.data;
        // SAFETY: data is valid for its length and 8-byte aligned; raw is a version-1 struct.
        let st = unsafe {
            sys::podsync_frame_section_get(
                data.as_ptr().cast(),
                data.len(),
                index as usize,
                &mut raw,
            )
        };
        if st < 0 {
            return Err(frame_error("podsync_frame_section_get", st, data.len()));
        }
        let record_size = raw.record_size as usize;
        let (Ok(puts), Ok(dels)) =
            (usize::try_from(raw.put_count), usize::try_from(raw.delete_count))
        else {
            return Err(Error::from_kind(ErrorKind::Internal, "section counts overflow"));
        };
        let range = data.as_ptr_range();
        let inside = |p: *const u8, len: usize| -> bool {
            len == 0
                || (p >= range.start
                    && (p as usize).checked_add(len).is_some_and(|end| end <= range.end as usize))
        };
        let keys_len = puts.checked_mul(8);
        let dels_len = dels.checked_mul(8);
        let rec_len = puts.checked_mul(record_size);
        let (Some(keys_len), Some(dels_len), Some(rec_len)) = (keys_len, dels_len, rec_len) else {
            return Err(Error::from_kind(ErrorKind::Internal, "section sizes overflow"));
        };
        if !inside(raw.put_keys.cast(), keys_len)
            || !inside(raw.delete_keys.cast(), dels_len)
            || !inside(raw.records.cast(), rec_len)
            || (puts > 0 && !(raw.put_keys as usize).is_multiple_of(8))
            || (dels > 0 && !(raw.delete_keys as usize).is_multiple_of(8))
        {
            return Err(Error::from_kind(
                ErrorKind::Internal,
                format!(
                    "podsync_frame_section_get({index}) returned pointers outside the frame or misaligned"
                ),
            ));
        }
        // SAFETY: each range lies inside `data` (checked above) and key arrays are 8-aligned;
        // u64 accepts every bit pattern; the lifetime is the frame buffer's.
        let (put_keys, delete_keys, records) = unsafe {
            (
                slice_or_empty(raw.put_keys, puts),
                slice_or_empty(raw.delete_keys, dels),
                slice_or_empty(raw.records.cast::<u8>(), rec_len),
            )
        };
        Ok(Section { table_id: raw.table_id, record_size, put_keys, records, delete_keys })
    }
}

/// `n` values at `p`, or an empty slice when `n` is 0 (whatever `p` is: the library may return
/// NULL for an empty array).
///
/// # Safety
///
/// When `n > 0`, `p` must point to `n` initialized, aligned values of `T` that stay valid and
/// unchanged for `'a`.
unsafe fn slice_or_empty<'a, T>(p: *const T, n: usize) -> &'a [T] {
    if n == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `n` valid values at `p` for 'a.
        unsafe { std::slice::from_raw_parts(p, n) }
    }
}

impl<'a> Iterator for Sections<'a> {
    type Item = Result<Section<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let item = self.get(index);
        if item.is_err() {
            self.next = self.end; // stop after an error
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Sections<'_> {}
impl std::iter::FusedIterator for Sections<'_> {}

impl fmt::Debug for Sections<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sections")
            .field("info", &self.info)
            .field("next", &self.next)
            .field("end", &self.end)
            .finish()
    }
}

/// One table's changes in a frame, pointing into the frame's bytes: the keys put with their
/// records, and the keys deleted (applied deletes first, then puts). A section of a refresh slice
/// ([`slice_sections`]) has puts only: the current records of the slice's range.
#[derive(Clone, Copy)]
pub struct Section<'a> {
    table_id: u32,
    record_size: usize,
    put_keys: &'a [u64],
    records: &'a [u8],
    delete_keys: &'a [u64],
}

impl<'a> Section<'a> {
    /// The table the section changes.
    pub fn table_id(&self) -> u32 {
        self.table_id
    }

    /// Bytes per record.
    pub fn record_size(&self) -> usize {
        self.record_size
    }

    /// Keys put, parallel to [`records`](Section::records).
    pub fn put_keys(&self) -> &'a [u64] {
        self.put_keys
    }

    /// The records put, back to back (`put_keys().len() * record_size()` bytes).
    pub fn records(&self) -> &'a [u8] {
        self.records
    }

    /// Keys deleted.
    pub fn delete_keys(&self) -> &'a [u64] {
        self.delete_keys
    }

    /// The records as `&[T]` in place.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::RecordSize`] if `size_of::<T>()` differs from the record size;
    /// [`ErrorKind::InvalidArgument`] if the records are not aligned for `T`, which cannot happen
    /// for a frame placed at a 64-byte boundary and a table declared with `T`'s alignment.
    pub fn records_as<T: Pod>(&self) -> Result<&'a [T]> {
        if std::mem::size_of::<T>() != self.record_size {
            return Err(pod::record_size_error::<T>(
                self.record_size,
                format_args!("section of table {}", self.table_id),
            ));
        }
        pod::cast_slice_named(self.records, format_args!("section of table {}", self.table_id))
    }

    /// `(key, record bytes)` of every put.
    pub fn puts(&self) -> impl ExactSizeIterator<Item = (u64, &'a [u8])> + 'a {
        self.put_keys.iter().copied().zip(self.records.chunks_exact(self.record_size.max(1)))
    }
}

impl fmt::Debug for Section<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Section")
            .field("table_id", &self.table_id)
            .field("record_size", &self.record_size)
            .field("puts", &self.put_keys.len())
            .field("deletes", &self.delete_keys.len())
            .finish()
    }
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; 64]);

/// A growable byte buffer whose first byte is on a 64-byte boundary: the alignment at which a
/// frame's keys and records can be read in place ([`sections`]). Derefs to `[u8]`.
///
/// ```
/// use podsync::frame::FrameBuf;
/// let mut buf = FrameBuf::from_slice(&[1, 2, 3]);
/// assert_eq!(buf.as_ptr() as usize % 64, 0);
/// assert_eq!(&buf[..], &[1, 2, 3]);
/// buf.resize(100)[99] = 7; // grow (new bytes are zero) and write into it
/// assert_eq!((buf.len(), buf[98], buf[99]), (100, 0, 7));
/// ```
#[derive(Clone, Default)]
pub struct FrameBuf {
    blocks: Vec<Block>,
    len: usize,
}

impl FrameBuf {
    /// An empty buffer.
    pub fn new() -> FrameBuf {
        FrameBuf::default()
    }

    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> FrameBuf {
        FrameBuf { blocks: Vec::with_capacity(capacity.div_ceil(64)), len: 0 }
    }

    /// An aligned copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> FrameBuf {
        let mut b = FrameBuf::with_capacity(bytes.len());
        b.resize(bytes.len()).copy_from_slice(bytes);
        b
    }

    /// Sets the length to `len` (new bytes are zero) and returns the whole buffer, to be filled.
    pub fn resize(&mut self, len: usize) -> &mut [u8] {
        let blocks = len.div_ceil(64);
        if blocks > self.blocks.len() {
            self.blocks.resize(blocks, Block([0; 64]));
        }
        if len > self.len {
            // Zero the bytes between the old and the new length (they may hold old data).
            let old = self.len;
            self.len = len;
            self.as_mut_slice()[old..].fill(0);
        } else {
            self.len = len;
        }
        self.as_mut_slice()
    }

    /// Empties the buffer (keeps its memory).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: blocks hold at least len initialized bytes, contiguous (Block is 64 bytes with
        // no padding).
        unsafe { std::slice::from_raw_parts(self.blocks.as_ptr().cast::<u8>(), self.len) }
    }

    /// The bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as as_slice, uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr().cast::<u8>(), self.len) }
    }

    /// Reads one frame from a byte stream into the buffer, replacing its contents: the
    /// [`PREFIX_SIZE`]-byte prefix, [`peek`] for the header's length, the rest of the header,
    /// [`peek`] for the frame's length, then the rest of the frame (a format-2 frame may be shorter
    /// than [`HEADER_SIZE`], so no more than the prefix is read before the header's length is
    /// known: the reader never consumes bytes of the next frame). Returns `Ok(false)` at a clean
    /// end of the stream (no byte of a next frame), `Ok(true)` with the frame in the buffer
    /// otherwise. A header or frame longer than `max_len` bytes is refused (`InvalidData`) before
    /// anything is allocated for it: the lengths come from the stream. The frame is not validated
    /// beyond [`peek`]'s checks; [`Store::apply`](crate::Store::apply) validates it fully.
    ///
    /// # Errors
    ///
    /// The reader's errors (`Interrupted` is retried); `UnexpectedEof` if the stream ends inside
    /// a frame; `InvalidData` if the bytes are not a PodSync frame header this library reads (the
    /// source is the [`Error`] of [`peek`]) or the header's or frame's length is above `max_len`
    /// (or the frame's below its header's). The buffer is empty after an error.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        max_len: usize,
    ) -> io::Result<bool> {
        let result = self.read_frame_inner(reader, max_len);
        if !matches!(result, Ok(true)) {
            self.clear();
        }
        result
    }

    fn read_frame_inner<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        max_len: usize,
    ) -> io::Result<bool> {
        self.clear();
        let got = read_full(reader, self.resize(PREFIX_SIZE))?;
        if got == 0 {
            return Ok(false);
        }
        if got < PREFIX_SIZE {
            return Err(eof_in_header(got, PREFIX_SIZE));
        }
        // The prefix names the header's length, the header the frame's: at most two peeks.
        let mut have = PREFIX_SIZE;
        let info = loop {
            let header_length = match peek(&self[..have]) {
                Ok(info) => break info,
                Err(e) => match e.frame_info().map(|i| i.header_length as usize) {
                    Some(n) if e.kind() == ErrorKind::FrameTruncated && n > have => n,
                    _ => return Err(e.into()),
                },
            };
            if header_length > max_len {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "frame header length {header_length} above the limit of {max_len} bytes"
                    ),
                ));
            }
            let buf = self.resize(header_length);
            let got = read_full(reader, &mut buf[have..])?;
            if have + got < header_length {
                return Err(eof_in_header(have + got, header_length));
            }
            have = header_length;
        };
        let len = match usize::try_from(info.frame_length) {
            Ok(n) if n >= have && n <= max_len => n,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("frame length {} outside {have}..={max_len}", info.frame_length),
                ));
            }
        };
        let buf = self.resize(len);
        reader.read_exact(&mut buf[have..])?;
        Ok(true)
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read. `Interrupted` is retried.
fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn eof_in_header(got: usize, want: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("stream ended inside a frame header ({got} of {want} bytes)"),
    )
}

impl Deref for FrameBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for FrameBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl AsRef<[u8]> for FrameBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for FrameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameBuf").field("len", &self.len).finish()
    }
}

impl PartialEq for FrameBuf {
    fn eq(&self, other: &FrameBuf) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for FrameBuf {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns one byte per call and an `Interrupted` error in between.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            match (self.data.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.data = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn read_frame_survives_short_reads_and_interrupts() {
        // The minimal frame of docs/FORMAT.md.
        let mut f = [0u8; 88];
        f[..8].copy_from_slice(&[0x50, 0x53, 0x59, 0x4e, 0x01, 0x00, 0x58, 0x00]);
        f[16] = 88;
        let twice = [f, f].concat();
        let mut r = Trickle { data: &twice, interrupt: false };
        let mut buf = FrameBuf::new();
        assert!(buf.read_frame(&mut r, 1024).unwrap());
        assert_eq!(&buf[..], &f[..]);
        assert!(buf.read_frame(&mut r, 1024).unwrap());
        assert!(!buf.read_frame(&mut r, 1024).unwrap());
        assert!(buf.is_empty());
    }

    #[test]
    fn frame_buf_zeroes_regrown_bytes_and_stays_aligned() {
        let mut b = FrameBuf::new();
        assert_eq!(b.as_ptr() as usize % 64, 0);
        b.resize(130).fill(0xff);
        b.resize(10);
        assert!(b.resize(130)[10..].iter().all(|&x| x == 0));
        assert_eq!(b.as_ptr() as usize % 64, 0);
        assert_eq!(FrameBuf::from_slice(&[]).len(), 0);
    }
}
