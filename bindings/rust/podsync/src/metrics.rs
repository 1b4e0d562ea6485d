//! [`Metrics`]: a store's counters since it was created
//! ([`Store::metrics`](crate::Store::metrics)), as plain Rust values.

use std::ffi::CString;
use std::fmt;
use std::ptr;

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result};

/// Number of buckets of the time histograms [`Metrics::encode_ns`] and [`Metrics::apply_ns`]
/// (`PODSYNC_METRICS_BUCKETS`).
pub const HISTOGRAM_BUCKETS: usize = sys::PODSYNC_METRICS_BUCKETS;

/// A store's counters since it was created (`podsync_store_metrics`, read with
/// [`Store::metrics`](crate::Store::metrics)): frames and bytes produced and applied, coalesced
/// writes, duplicates, gaps, rejected frames by error, and log2 histograms of the time spent
/// encoding and applying frames.
///
/// Every field is a plain value copied out of the library; reading them costs nothing and holds
/// no borrow of the store. A writer fills the "producing" and "writer" counters, a replica the
/// "applying" ones; both produce frames when they serve [`delta_since`](crate::Store::delta_since)
/// or [`snapshot`](crate::Store::snapshot). The struct is `#[non_exhaustive]`: later library
/// versions append counters.
///
/// ```
/// use podsync::{Applied, ErrorKind, Schema, Store};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table(1, 8, 8, &[])?;
/// let mut writer = Store::writer(&schema)?;
/// let mut replica = Store::replica(&schema)?;
/// writer.put_many(1, &[1, 2, 3], &[10u64, 20, 30])?;
/// writer.put_as(1, 1, &11u64)?; // absorbed by the flush: a coalesced write
/// writer.flush()?;
/// let frame = writer.frame(0).unwrap().to_vec();
/// assert_eq!(replica.apply(&frame)?, Applied::Ok);
/// assert_eq!(replica.apply(&frame)?, Applied::Duplicate);
/// let mut bad = frame.clone();
/// *bad.last_mut().unwrap() ^= 1;
/// assert_eq!(replica.apply(&bad).unwrap_err().kind(), ErrorKind::FrameChecksum);
///
/// let w = writer.metrics()?;
/// assert_eq!((w.writes, w.coalesced_writes, w.frames_out, w.records_out), (4, 1, 1, 3));
/// assert_eq!(w.wire_bytes_out, frame.len() as u64);
/// assert_eq!(w.encode_ns.iter().sum::<u64>(), 1); // one flush
///
/// let r = replica.metrics()?;
/// assert_eq!((r.frames_applied, r.records_applied, r.duplicates), (1, 3, 1));
/// assert_eq!(r.rejects.get(ErrorKind::FrameChecksum), 1);
/// assert_eq!(r.rejects.iter().collect::<Vec<_>>(), [(ErrorKind::FrameChecksum, 1)]);
/// assert_eq!(r.apply_calls(), 3); // applied, duplicate, rejected
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Metrics {
    // ----- producing frames (flush, delta_since, snapshot) -----
    /// Frames produced (by flush, delta_since and snapshot).
    pub frames_out: u64,
    /// Puts and deletes carried by the frames produced.
    pub records_out: u64,
    /// Size of the frames produced, as plain (uncompressed, untransformed) frames, in bytes.
    pub raw_bytes_out: u64,
    /// Size of the frames produced as they were sent (compressed where that paid), in bytes.
    pub wire_bytes_out: u64,
    /// Bytes the `KEY_GAPS` transform saved before compression.
    pub saved_by_key_gaps: u64,
    /// Packed bytes minus compressed bytes: what zstd saved on the packed stream. `XOR` and
    /// `TRANSPOSE` save no bytes of their own; they make bytes zero or alike, which shows here and
    /// in [`saved_by_zero_columns`](Metrics::saved_by_zero_columns).
    pub saved_by_compression: u64,
    /// Frames sent compressed.
    pub compressed_frames: u64,
    /// Zero bytes left out by the `COLUMNS` transform: all-zero byte columns, and sparse columns'
    /// zeros net of their bitmaps (since library 0.3.0).
    pub saved_by_zero_columns: u64,
    /// Bytes of columns sent uncompressed because zstd could not shrink them (`COLUMNS`; since
    /// library 0.3.0).
    pub raw_column_bytes: u64,
    /// Times the encoder re-tested which columns compress (since library 0.3.0).
    pub column_trials: u64,
    /// Frames produced compressed with a dictionary (since library 0.3.0).
    pub dictionary_frames: u64,

    // ----- writer -----
    /// Records put or deleted (deletes of absent keys excluded).
    pub writes: u64,
    /// Writes absorbed by a later write to the same key before a flush: `writes` minus the
    /// changes flushed.
    pub coalesced_writes: u64,

    // ----- applying frames (replica) -----
    /// Frames whose changes were applied: [`Applied::Ok`](crate::Applied::Ok), and
    /// [`ErrorKind::DigestMismatch`] (applied, then found diverged).
    pub frames_applied: u64,
    /// Puts and deletes applied.
    pub records_applied: u64,
    /// Bytes of the frames applied.
    pub wire_bytes_in: u64,
    /// Applies that returned [`Applied::Duplicate`](crate::Applied::Duplicate).
    pub duplicates: u64,
    /// Applies that returned [`Applied::Gap`](crate::Applied::Gap).
    pub gaps: u64,
    /// Applies that returned [`Applied::Stale`](crate::Applied::Stale).
    pub stale: u64,
    /// Snapshots applied over an existing state.
    pub resyncs: u64,
    /// Applies that returned an error, by error ([`Rejects::get`]).
    pub rejects: Rejects,

    // ----- chunked snapshots (since library 0.5.0) -----
    /// Snapshot chunks produced ([`Snapshot::next_chunk`](crate::Snapshot::next_chunk), and
    /// [`snapshot`](crate::Store::snapshot) when it cuts the state into chunks); also counted in
    /// [`frames_out`](Metrics::frames_out).
    pub chunks_out: u64,
    /// A gauge, not a counter: memory held now by this store's unfinished chunked snapshots
    /// (sorted keys, records saved for them before flushes or applies changed them, the chunk
    /// being produced), in bytes.
    pub snapshot_bytes_held: u64,
    /// Applies that returned [`Applied::ChunkStaged`](crate::Applied::ChunkStaged).
    pub chunks_staged: u64,
    /// Applies that returned [`Applied::ChunkGap`](crate::Applied::ChunkGap).
    pub chunk_gaps: u64,
    /// A gauge, not a counter: memory held now by the chunked snapshot this replica is staging,
    /// in bytes (0 when it stages none, or fills in place).
    pub staging_bytes_held: u64,

    // ----- time histograms -----
    /// Durations of flush, delta_since and snapshot calls: bucket `i` counts calls that took
    /// `[2^i, 2^(i+1))` nanoseconds on `CLOCK_MONOTONIC` (bucket 0 also counts 0 ns, the last
    /// bucket everything longer; [`Metrics::bucket_bounds_ns`]).
    pub encode_ns: [u64; HISTOGRAM_BUCKETS],
    /// Durations of apply calls (every outcome, errors included), bucketed as
    /// [`encode_ns`](Metrics::encode_ns).
    pub apply_ns: [u64; HISTOGRAM_BUCKETS],
}

impl Metrics {
    /// The range of durations bucket `index` of [`encode_ns`](Metrics::encode_ns) and
    /// [`apply_ns`](Metrics::apply_ns) counts, in nanoseconds: `(lower, Some(upper))` for
    /// `lower <= t < upper`, `(lower, None)` for the last bucket (no upper bound), `None` for an
    /// index past the last bucket.
    ///
    /// ```
    /// use podsync::Metrics;
    /// assert_eq!(Metrics::bucket_bounds_ns(0), Some((0, Some(2)))); // 0 and 1 ns
    /// assert_eq!(Metrics::bucket_bounds_ns(10), Some((1024, Some(2048))));
    /// assert_eq!(Metrics::bucket_bounds_ns(31), Some((1 << 31, None)));
    /// assert_eq!(Metrics::bucket_bounds_ns(32), None);
    /// ```
    pub fn bucket_bounds_ns(index: usize) -> Option<(u64, Option<u64>)> {
        match index {
            0 => Some((0, Some(2))),
            i if i + 1 < HISTOGRAM_BUCKETS => Some((1 << i, Some(1 << (i + 1)))),
            i if i < HISTOGRAM_BUCKETS => Some((1 << i, None)),
            _ => None,
        }
    }

    /// Number of flush, delta_since and snapshot calls timed (the sum of
    /// [`encode_ns`](Metrics::encode_ns)).
    pub fn encode_calls(&self) -> u64 {
        self.encode_ns.iter().sum()
    }

    /// Number of apply calls timed, whatever their outcome (the sum of
    /// [`apply_ns`](Metrics::apply_ns)).
    pub fn apply_calls(&self) -> u64 {
        self.apply_ns.iter().sum()
    }

    /// The counters as Prometheus text exposition (format 0.0.4), for a `/metrics` endpoint
    /// (`podsync_metrics_prometheus`, since library 0.4.0): for each metric a `# HELP` and a
    /// `# TYPE` line, then its samples. Names start with `podsync_`; counters end in `_total`,
    /// byte counters in `_bytes_total`; the savings carry a label `by`, the rejected applies a
    /// label `status` (the status name, e.g. `status="PODSYNC_E_FRAME_CHECKSUM"`); the time
    /// histograms are `podsync_encode_duration_seconds` and `podsync_apply_duration_seconds`, in
    /// seconds, with cumulative `le` buckets and no `_sum`. The text depends only on the counters
    /// and `labels`. (The chunked-snapshot counters of struct version 3, such as
    /// [`chunks_out`](Metrics::chunks_out), are not in the text of library 0.5.0.)
    ///
    /// `labels` are added to every sample, preformatted as in the exposition format:
    /// `name="value"` pairs joined by commas, such as `store="a",role="writer"` (at most 4096
    /// bytes; names match `[a-zA-Z_][a-zA-Z0-9_]*`, do not start with `__`, are unique and are not
    /// `le`, `by` or `status`; in values a backslash, a double quote and a line break are written
    /// `\\`, `\"` and `\n`). `None` or `Some("")` adds none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if `labels` break those rules (the message, from
    /// `podsync_last_errmsg`, names what is wrong) or contain a NUL byte (checked by this
    /// binding); [`ErrorKind::Internal`] if the library's text is not UTF-8 (a bug).
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    ///
    /// # Examples
    ///
    /// ```
    /// use podsync::{Schema, Store};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer(&schema)?;
    /// writer.put_many(1, &[1, 2, 3], &[10u64, 20, 30])?;
    /// writer.flush()?;
    /// let text = writer.metrics()?.to_prometheus(Some(r#"store="a""#))?;
    /// assert!(text.contains("# TYPE podsync_frames_out_total counter\n"));
    /// assert!(text.contains("podsync_frames_out_total{store=\"a\"} 1\n"));
    /// # Ok(()) }
    /// ```
    pub fn to_prometheus(&self, labels: Option<&str>) -> Result<String> {
        crate::ensure_abi();
        let labels = match labels {
            None | Some("") => None,
            Some(l) => Some(CString::new(l).map_err(|_| {
                Error::from_kind(
                    ErrorKind::InvalidArgument,
                    "Prometheus labels contain a NUL byte (checked by the Rust binding)",
                )
            })?),
        };
        let labels = labels.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        let raw = self.c_struct();
        let mut size = 0usize;
        // SAFETY: raw is a struct of this header's version; labels is NULL or a NUL-terminated string that
        // outlives the call; a NULL buffer with capacity 0 queries the size.
        let st =
            unsafe { sys::podsync_metrics_prometheus(&raw, labels, ptr::null_mut(), 0, &mut size) };
        if st < 0 && st != sys::PODSYNC_E_BUFFER_TOO_SMALL {
            return Err(prometheus_error(st));
        }
        let mut buf = vec![0u8; size];
        let mut written = 0usize;
        // SAFETY: as above, with a buffer of `size` writable bytes.
        let st = unsafe {
            sys::podsync_metrics_prometheus(
                &raw,
                labels,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        };
        if st < 0 {
            return Err(prometheus_error(st));
        }
        // `written` counts the terminating NUL, which a Rust string does not keep.
        if written == 0 || written > buf.len() || buf[written - 1] != 0 {
            return Err(Error::from_kind(
                ErrorKind::Internal,
                format!(
                    "podsync_metrics_prometheus reported {written} bytes for a buffer of {}",
                    buf.len()
                ),
            ));
        }
        buf.truncate(written - 1);
        String::from_utf8(buf).map_err(|e| {
            Error::from_kind(
                ErrorKind::Internal,
                format!("podsync_metrics_prometheus wrote text that is not UTF-8: {e}"),
            )
        })
    }

    /// The C struct (this header's version) holding these counters.
    fn c_struct(&self) -> sys::podsync_metrics {
        sys::podsync_metrics {
            version: sys::PODSYNC_METRICS_VERSION,
            reserved: 0,
            frames_out: self.frames_out,
            records_out: self.records_out,
            raw_bytes_out: self.raw_bytes_out,
            wire_bytes_out: self.wire_bytes_out,
            saved_by_key_gaps: self.saved_by_key_gaps,
            saved_by_compression: self.saved_by_compression,
            compressed_frames: self.compressed_frames,
            writes: self.writes,
            coalesced_writes: self.coalesced_writes,
            frames_applied: self.frames_applied,
            records_applied: self.records_applied,
            wire_bytes_in: self.wire_bytes_in,
            duplicates: self.duplicates,
            gaps: self.gaps,
            stale: self.stale,
            resyncs: self.resyncs,
            rejects: self.rejects.counts,
            encode_ns: self.encode_ns,
            apply_ns: self.apply_ns,
            saved_by_zero_columns: self.saved_by_zero_columns,
            raw_column_bytes: self.raw_column_bytes,
            column_trials: self.column_trials,
            dictionary_frames: self.dictionary_frames,
            chunks_out: self.chunks_out,
            snapshot_bytes_held: self.snapshot_bytes_held,
            chunks_staged: self.chunks_staged,
            chunk_gaps: self.chunk_gaps,
            staging_bytes_held: self.staging_bytes_held,
        }
    }
}

/// The error of `podsync_metrics_prometheus`, with the thread's last message (no handle).
fn prometheus_error(st: i32) -> Error {
    let message = crate::error::last_message();
    if message.is_empty() {
        Error::new(st, "podsync_metrics_prometheus failed")
    } else {
        Error::new(st, format!("podsync_metrics_prometheus: {message}"))
    }
}

impl From<sys::podsync_metrics> for Metrics {
    /// The counters of a C struct filled by `podsync_store_metrics` (struct version 3; the fields
    /// an older struct version does not have are whatever it holds, normally 0).
    fn from(m: sys::podsync_metrics) -> Metrics {
        Metrics {
            frames_out: m.frames_out,
            records_out: m.records_out,
            raw_bytes_out: m.raw_bytes_out,
            wire_bytes_out: m.wire_bytes_out,
            saved_by_key_gaps: m.saved_by_key_gaps,
            saved_by_compression: m.saved_by_compression,
            compressed_frames: m.compressed_frames,
            saved_by_zero_columns: m.saved_by_zero_columns,
            raw_column_bytes: m.raw_column_bytes,
            column_trials: m.column_trials,
            dictionary_frames: m.dictionary_frames,
            writes: m.writes,
            coalesced_writes: m.coalesced_writes,
            frames_applied: m.frames_applied,
            records_applied: m.records_applied,
            wire_bytes_in: m.wire_bytes_in,
            duplicates: m.duplicates,
            gaps: m.gaps,
            stale: m.stale,
            resyncs: m.resyncs,
            rejects: Rejects { counts: m.rejects },
            chunks_out: m.chunks_out,
            snapshot_bytes_held: m.snapshot_bytes_held,
            chunks_staged: m.chunks_staged,
            chunk_gaps: m.chunk_gaps,
            staging_bytes_held: m.staging_bytes_held,
            encode_ns: m.encode_ns,
            apply_ns: m.apply_ns,
        }
    }
}

/// Apply calls that returned an error, counted by error status ([`Metrics::rejects`]).
///
/// The library counts the statuses -1 ..= -31 ([`Rejects::STATUSES`] slots, slot `k` for status
/// `-k`); others (such as [`ErrorKind::Internal`], -99) are not counted, and read as 0 here.
/// Look a count up by [`ErrorKind`] ([`get`](Rejects::get)) or by status
/// ([`by_status`](Rejects::by_status)), or list the errors that happened ([`iter`](Rejects::iter)).
/// `Debug` shows only the nonzero counts, by status name.
///
/// ```
/// use podsync::{ErrorKind, Metrics};
/// // SAFETY: podsync_metrics holds integers only; all-zero bytes are a valid value.
/// let mut raw: podsync::sys::podsync_metrics = unsafe { std::mem::zeroed() };
/// raw.rejects[13] = 2; // status -13: PODSYNC_E_FRAME_CHECKSUM
/// raw.rejects[23] = 1; // status -23: PODSYNC_E_LIMIT
/// let rejects = Metrics::from(raw).rejects;
/// assert_eq!(rejects.get(ErrorKind::FrameChecksum), 2);
/// assert_eq!(rejects.by_status(-23), 1);
/// assert_eq!(rejects.get(ErrorKind::Internal), 0); // not counted by the library
/// assert_eq!(rejects.total(), 3);
/// let seen: Vec<_> = rejects.iter().collect();
/// assert_eq!(seen, [(ErrorKind::FrameChecksum, 2), (ErrorKind::Limit, 1)]);
/// assert_eq!(
///     format!("{rejects:?}"),
///     r#"Rejects {"PODSYNC_E_FRAME_CHECKSUM": 2, "PODSYNC_E_LIMIT": 1}"#
/// );
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rejects {
    counts: [u64; sys::PODSYNC_METRICS_STATUSES],
}

impl Rejects {
    /// Number of slots (`PODSYNC_METRICS_STATUSES`): slot `k` counts status `-k`; slot 0 is
    /// unused (status 0 is success).
    pub const STATUSES: usize = sys::PODSYNC_METRICS_STATUSES;

    /// How many apply calls failed with `kind` (0 for a kind the library does not count).
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.by_status(kind.status())
    }

    /// How many apply calls returned `status` (a negative `PODSYNC_E_*` value; 0 for any status
    /// the library does not count, including every non-negative one).
    pub fn by_status(&self, status: i32) -> u64 {
        if status >= 0 {
            return 0;
        }
        usize::try_from(status.unsigned_abs())
            .ok()
            .and_then(|k| self.counts.get(k))
            .copied()
            .unwrap_or(0)
    }

    /// Apply calls that failed, all errors together.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// True if no apply call failed.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&n| n == 0)
    }

    /// The errors that happened, with their counts, from status -1 downwards; errors that did not
    /// happen are left out.
    pub fn iter(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        self.counts.iter().enumerate().filter(|&(_, &n)| n != 0).map(|(k, &n)| {
            // k < STATUSES (32), so -k fits an i32.
            (ErrorKind::from_status(-(k as i32)), n)
        })
    }

    /// The counts as the C array: index `k` counts status `-k`.
    pub fn as_array(&self) -> &[u64; sys::PODSYNC_METRICS_STATUSES] {
        &self.counts
    }
}

impl fmt::Debug for Rejects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rejects ")?;
        f.debug_map()
            .entries(self.iter().map(|(k, n)| (crate::status_name(k.status()), n)))
            .finish()
    }
}
