//! Reconciliation (since library 0.7.0): a replica that differs from a responder in a few records
//! is healed by a repair frame holding only the records of the hash-tree buckets that differ,
//! after a few summary messages ([`Store::summary`], [`Store::reconcile`], and the in-process
//! exchange [`reconcile()`] with its [`ReconcileReport`]).

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result};
use crate::frame;
use crate::store::{Applied, Frames, Replica, Role, Store, unexpected};

/// The most messages [`reconcile()`] exchanges before it gives up. A descent adds one tree level
/// (16 children a bucket) per two messages and the tree has at most 8 levels, so an exchange
/// between two stores that do not change meanwhile ends well before this.
const MAX_MESSAGES: usize = 64;

impl<R: Role> Store<R> {
    /// Puts a summary of the store's state into its outbox and returns it: one message, the
    /// hashes of every bucket of the store's hash tree at `level` (`podsync_store_summary`, since
    /// library 0.7.0). `level` 0 lets the library choose it from the record count; 1 to 5 ask for
    /// 16^`level` buckets (8 bytes of hash each).
    ///
    /// A replica that needs healing (diverged, below its writer's catch-up floor, of another term
    /// or stream, restored from an old checkpoint) sends this to a responder, which answers with
    /// [`reconcile`](Store::reconcile); see [Reconciliation](crate#reconciliation). Any role can
    /// summarize, a diverged replica too. A writer's summary describes its flushed state.
    ///
    /// The message is a format-2 frame with the SUMMARY flag
    /// ([`FrameInfo::is_summary`](crate::frame::FrameInfo::is_summary)) in the outbox, borrowed
    /// like the frames of [`flush`](Store::flush): valid until the next call that produces frames
    /// (which takes `&mut self`). Copy it (`to_vec`) to keep it longer.
    ///
    /// ```
    /// use podsync::{Schema, Store, frame};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut replica = Store::replica(&schema)?;
    /// let message = replica.summary(1)?.next().expect("one message");
    /// assert_eq!(message.len() % 8, 0);
    /// assert!(message.len() > 16 * 8); // 16 buckets of 8-byte hashes, and a header
    /// assert!(frame::peek(message)?.is_summary());
    /// assert_eq!(replica.frame_count(), 1); // the outbox holds it
    /// # Ok(()) }
    /// ```
    ///
    /// The message cannot outlive the next call that replaces the outbox:
    ///
    /// ```compile_fail,E0499
    /// # use podsync::{Schema, Store};
    /// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
    /// let mut replica = Store::replica(&schema).unwrap();
    /// let message = replica.summary(0).unwrap().next().unwrap();
    /// replica.summary(1).unwrap(); // error[E0499]: replaces the outbox `message` points into
    /// println!("{}", message.len());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a `level` above 5 (the outbox is left as it was);
    /// [`ErrorKind::NoMemory`] if the message cannot be allocated. After an error
    /// [`frames`](Store::frames) yields what the library's outbox still holds (see
    /// [Frames after an error](Store#frames-after-an-error)).
    pub fn summary(&mut self, level: u32) -> Result<Frames<'_>> {
        self.reap_snapshots();
        let mut n = 0usize;
        // SAFETY: valid handle and out-pointer; `&mut self`: no frame borrowed from the outbox is
        // alive, and the crate's view of it is read again below whatever the call returns (the
        // library may clear its outbox before it fails).
        let st = unsafe { sys::podsync_store_summary(self.raw_handle(), level, &mut n) };
        match st {
            sys::PODSYNC_OK => {
                self.load_outbox(n)?;
                Ok(self.frames())
            }
            s => Err(self.produce_error("podsync_store_summary", s)),
        }
    }

    /// Answers a summary message from the other side of a reconciliation
    /// (`podsync_store_reconcile`, since library 0.7.0) and returns the answer, in the outbox:
    ///
    /// - a responder (a writer, or an up-to-date replica) given a replica's message answers with
    ///   a message that descends the hash tree where buckets differ, or with a **repair frame**
    ///   ([`FrameInfo::is_repair`](crate::frame::FrameInfo::is_repair)) that the replica
    ///   [applies](Store::apply); or with nothing (no frame) when the states are equal: nothing
    ///   to repair;
    /// - a replica given the responder's message answers with the next message (one frame).
    ///
    /// Each message holds all the exchange needs, so a lost one is simply sent again, or the
    /// exchange started over with [`summary`](Store::summary). Tell the answers apart with
    /// [`frame::peek`](crate::frame::peek): [`is_summary`](crate::frame::FrameInfo::is_summary)
    /// goes back to the other side's `reconcile`, [`is_repair`](crate::frame::FrameInfo::is_repair)
    /// to the replica's `apply`. [`reconcile()`] runs a whole exchange between two stores of one
    /// process; see [Reconciliation](crate#reconciliation).
    ///
    /// The answer is borrowed from the outbox like the frames of [`flush`](Store::flush), until
    /// the next call that produces frames. `message` need not be aligned.
    ///
    /// ```
    /// use podsync::{Applied, Schema, Store, frame};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer(&schema)?;
    /// let mut replica = Store::replica(&schema)?;
    /// writer.put_many(1, &[1, 2, 3], &[10u64, 20, 30])?;
    /// writer.flush()?; // the replica misses this frame
    ///
    /// // The replica summarizes; the two sides answer each other until the writer sends a repair.
    /// let mut message = replica.summary(0)?.next().unwrap().to_vec();
    /// loop {
    ///     let answer = writer.reconcile(&message)?.next().expect("the states differ");
    ///     if frame::peek(answer)?.is_repair() {
    ///         assert_eq!(replica.apply(answer)?, Applied::Ok);
    ///         break;
    ///     }
    ///     message = replica.reconcile(answer)?.next().unwrap().to_vec();
    /// }
    /// assert_eq!(replica.digest()?, writer.digest()?);
    /// assert_eq!(replica.version()?, 1);
    ///
    /// // In sync: nothing to repair.
    /// let message = replica.summary(0)?.next().unwrap();
    /// assert_eq!(writer.reconcile(message)?.len(), 0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The store's state does not change on error. [`frames`](Store::frames) then yields what the
    /// library's outbox still holds: the frames from before for the errors found before any work
    /// (a message that is not a summary or not valid, a diverged responder, a stale exchange),
    /// else what the library left (see [Frames after an error](Store#frames-after-an-error)).
    /// - [`ErrorKind::InvalidArgument`]: `message` is a frame, not a summary (frames are
    ///   [applied](Store::apply));
    /// - a message that is not valid, checked as [`apply`](Store::apply) checks frames:
    ///   [`ErrorKind::FrameTruncated`], [`ErrorKind::FrameMagic`], [`ErrorKind::FrameVersion`],
    ///   [`ErrorKind::FrameChecksum`], [`ErrorKind::FrameMalformed`] (also a malformed bucket
    ///   block), [`ErrorKind::FrameFeature`], [`ErrorKind::SchemaMismatch`] (a message of another
    ///   schema); [`ErrorKind::FrameTooLarge`] for a message naming more than 2^20 buckets,
    ///   refused before any work is done for it;
    /// - [`ErrorKind::Diverged`]: a responder that is diverged, or a
    ///   [`one_way`](crate::StoreOptions::one_way) replica out of sync, cannot describe the state
    ///   to repair to;
    /// - [`ErrorKind::RepairStale`]: the exchange began at a version the responder can no longer
    ///   describe (it moved past its catch-up floor meanwhile): start again with
    ///   [`summary`](Store::summary);
    /// - [`ErrorKind::NotSubscribed`] (since library 0.8.0): a message of another subset of the
    ///   stream than this store holds; a [subscribed](Store::subscribe) replica reconciles with
    ///   its subscription's [feed](Store::feed) (or another replica of it), a replica of the whole
    ///   stream with a writer or a replica of the whole stream;
    /// - [`ErrorKind::NoMemory`].
    pub fn reconcile(&mut self, message: &[u8]) -> Result<Frames<'_>> {
        self.reap_snapshots();
        let mut n = 0usize;
        // SAFETY: valid handle; `message` valid for its length (it cannot point into this store's
        // outbox: that would need a shared borrow of `self` alive across this `&mut self` call);
        // valid out-pointer. As in `summary`, the crate's view of the outbox is read again below
        // whatever the call returns.
        let st = unsafe {
            sys::podsync_store_reconcile(
                self.raw_handle(),
                message.as_ptr().cast(),
                message.len(),
                &mut n,
            )
        };
        match st {
            sys::PODSYNC_OK => {
                self.load_outbox(n)?;
                Ok(self.frames())
            }
            s => Err(self.produce_error("podsync_store_reconcile", s)),
        }
    }
}

/// What a reconciliation ([`reconcile()`]) exchanged and did.
///
/// `#[non_exhaustive]`: later releases may report more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Summary messages exchanged, both ways (the replica's first summary included): 1 when the
    /// stores were in sync.
    pub messages: usize,
    /// Their bytes, together.
    pub summary_bytes: usize,
    /// Bytes of the repair frame; 0 when there was nothing to repair.
    pub repair_bytes: usize,
    /// True when a repair frame was applied: the replica now holds the responder's state, version,
    /// stream and term. False when there was nothing to repair.
    pub repaired: bool,
}

impl ReconcileReport {
    /// Bytes that travelled: the summaries and the repair.
    pub fn total_bytes(&self) -> usize {
        self.summary_bytes + self.repair_bytes
    }
}

/// Runs a whole reconciliation between two stores of this process: `replica` summarizes
/// ([`Store::summary`], level chosen by the library), `responder` (a writer, or an up-to-date
/// replica) and `replica` answer each other's messages ([`Store::reconcile`]) until the responder
/// sends a repair frame, which `replica` [applies](Store::apply), or finds nothing to repair.
/// Messages and the repair are passed between the outboxes without copies. Afterwards `replica`
/// holds the responder's state and version (a writer's as of its last flush) and continues with
/// its deltas. Both outboxes hold the last thing each produced.
///
/// Between processes, the host carries the same messages: see
/// [Reconciliation](crate#reconciliation) and [`Store::reconcile`].
///
/// ```
/// use podsync::{Applied, Delta, Schema, Store, StoreOptions};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table(1, 8, 8, &[])?;
/// let opts = StoreOptions::new().tombstone_horizon(2).max_tombstones(4);
/// let mut writer = Store::writer_with(&schema, &opts)?;
/// let mut replica = Store::replica(&schema)?;
/// let keys: Vec<u64> = (0..1000).collect();
/// writer.put_many(1, &keys, &keys)?;
/// writer.flush()?;
/// writer.snapshot()?;
/// assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
///
/// // The replica misses ten versions, deletions among them: too far back for a delta.
/// for v in 0..10u64 {
///     writer.put_as(1, v, &(v + 5000))?;
///     writer.delete(1, 900 + v)?;
///     writer.flush()?;
/// }
/// assert_eq!(writer.delta_since(replica.version()?)?, Delta::SnapshotRequired);
///
/// let report = podsync::reconcile(&mut replica, &mut writer)?;
/// assert!(report.repaired);
/// assert_eq!(replica.digest()?, writer.digest()?);
/// assert_eq!(replica.version()?, 11);
/// // A snapshot holds 1,000 records of 16 bytes with their keys; the repair, a few dozen.
/// assert!(report.repair_bytes < 1000 * 16 / 4, "{report:?}");
/// assert!(!podsync::reconcile(&mut replica, &mut writer)?.repaired); // in sync now
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// The errors of [`Store::summary`] and [`Store::reconcile`] on either side (a
/// [`Diverged`](ErrorKind::Diverged) responder, messages of another schema:
/// [`SchemaMismatch`](ErrorKind::SchemaMismatch)), and those of [`Store::apply`] for the repair:
/// [`ErrorKind::TermFenced`] (the responder writes an older term than the replica follows),
/// [`ErrorKind::DigestMismatch`] (the repair was applied but did not bring the replica to the
/// responder's digest), [`ErrorKind::Limit`], and the others it lists. [`ErrorKind::Internal`] if
/// an answer breaks the header's contract (a replica's answer missing, a responder's answer
/// neither a summary nor a repair), or if the exchange does not end within 64 messages.
pub fn reconcile<R: Role>(
    replica: &mut Store<Replica>,
    responder: &mut Store<R>,
) -> Result<ReconcileReport> {
    let mut report = ReconcileReport::default();
    let mut message = one_message(replica.summary(0)?, "podsync_store_summary")?;
    loop {
        if report.messages >= MAX_MESSAGES {
            return Err(Error::from_kind(
                ErrorKind::Internal,
                format!("the reconciliation did not end within {MAX_MESSAGES} messages"),
            ));
        }
        report.messages += 1;
        report.summary_bytes += message.len();
        let Some(answer) = responder.reconcile(message)?.next() else {
            return Ok(report); // nothing to repair
        };
        let info = frame::peek(answer)?;
        if info.is_repair() {
            report.repair_bytes = answer.len();
            return match replica.apply(answer)? {
                Applied::Ok => {
                    report.repaired = true;
                    Ok(report)
                }
                other => Err(unexpected("podsync_store_apply of a repair frame", other.status())),
            };
        }
        if !info.is_summary() {
            return Err(Error::from_kind(
                ErrorKind::Internal,
                "podsync_store_reconcile answered with a frame that is neither a summary nor a repair",
            ));
        }
        report.messages += 1;
        report.summary_bytes += answer.len();
        message = one_message(replica.reconcile(answer)?, "podsync_store_reconcile (replica)")?;
    }
}

/// The one message a summary or a replica's answer puts in the outbox.
fn one_message<'a>(mut frames: Frames<'a>, what: &str) -> Result<&'a [u8]> {
    match (frames.len(), frames.next()) {
        (1, Some(m)) => Ok(m),
        (n, _) => Err(Error::from_kind(
            ErrorKind::Internal,
            format!("{what} produced {n} messages, where the header promises one"),
        )),
    }
}
