//! Failover by promotion (since library 0.6.0): a replica becomes the writer of the stream it
//! follows, in a new term ([`Store::promote`], [`PromoteError`]).

use std::fmt;

use podsync_sys as sys;

use crate::error::Error;
use crate::store::{Replica, Store, Writer, unexpected};

impl Store<Replica> {
    /// Turns this replica into the writer of the stream it follows, in term `new_term`,
    /// continuing from its version (`podsync_store_promote`, since library 0.6.0): the same
    /// stream id, version and records, and from now on frames of format 2 that carry the term
    /// and its history ([`FrameInfo::term`](crate::frame::FrameInfo::term)). Consumes the
    /// replica and returns it as a writer; on error the replica comes back in the
    /// [`PromoteError`].
    ///
    /// What the other stores then do with its frames (docs/FORMAT.md, "Terms and fencing"):
    /// replicas at versions up to the promotion point continue with deltas and follow the new
    /// term; one that applied later versions of the old term gets
    /// [`ErrorKind::HistoryDiverged`](crate::ErrorKind::HistoryDiverged), with nothing changed,
    /// and heals with a [`snapshot`](Store::snapshot) of the new writer; frames of the old term
    /// are refused by replicas that follow the new one
    /// ([`ErrorKind::TermFenced`](crate::ErrorKind::TermFenced)), so an old writer that comes
    /// back cannot overwrite the new one.
    ///
    /// PodSync does not elect: whoever promotes (an operator, a lease, a coordinator) picks a term
    /// above every term it has seen and never gives the same term twice; where replicas may be
    /// promoted, pass the coordinator's terms to reopened writers too
    /// ([`Durability::new_term`](crate::Durability::new_term)). A durable replica logs the
    /// promotion (fsync) before returning, so it reopens as the writer. A staged chunked snapshot
    /// is dropped; the outbox, the snapshots and the checkpoints being written go on with the
    /// writer.
    ///
    /// ```
    /// use podsync::{Applied, ErrorKind, Schema, Store, frame};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut old = Store::writer(&schema)?;
    /// let mut replica = Store::replica(&schema)?;
    /// old.put_as(1, 1, &10u64)?;
    /// old.flush()?;
    /// assert_eq!(replica.apply(old.frame(0).unwrap())?, Applied::Ok);
    ///
    /// // The writer's machine dies: the replica takes over in term 2.
    /// let mut writer = replica.promote(2)?;
    /// writer.put_as(1, 2, &20u64)?;
    /// writer.flush()?;
    /// assert_eq!(frame::peek(writer.frame(0).unwrap())?.term, 2);
    /// assert_eq!(writer.info()?.stream_id, old.info()?.stream_id);
    ///
    /// // A replica of the new term fences the old writer, which came back.
    /// let mut follower = Store::replica(&schema)?;
    /// writer.snapshot()?;
    /// assert_eq!(follower.apply(writer.frame(0).unwrap())?, Applied::Ok);
    /// old.put_as(1, 3, &30u64)?;
    /// old.flush()?;
    /// let err = follower.apply(old.frame(0).unwrap()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TermFenced);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) if the replica follows no
    /// stream yet (it applied no frame), or `new_term` is not above the term it follows;
    /// [`ErrorKind::Diverged`](crate::ErrorKind::Diverged) on a diverged or refreshing replica
    /// (its state is no writer's); [`ErrorKind::Io`](crate::ErrorKind::Io) if a durable replica
    /// cannot log the promotion. The replica is unchanged in each case.
    pub fn promote(self, new_term: u64) -> std::result::Result<Store<Writer>, PromoteError> {
        self.reap_snapshots();
        // SAFETY: valid handle, owned by this call (`self`).
        let st = unsafe { sys::podsync_store_promote(self.raw_handle(), new_term) };
        match st {
            sys::PODSYNC_OK => {
                // SAFETY: the C store is a writer now.
                Ok(unsafe { self.into_role::<Writer>() })
            }
            s => {
                let error =
                    if s < 0 { self.error_of(s) } else { unexpected("podsync_store_promote", s) };
                Err(PromoteError { error, replica: self })
            }
        }
    }
}

/// A failed [`Store::promote`]: the error and the replica, unchanged. Converts into [`Error`], so
/// `?` works in functions returning [`Result`](crate::Result).
pub struct PromoteError {
    error: Error,
    replica: Store<Replica>,
}

impl PromoteError {
    /// Why the promotion failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The replica, as it was.
    pub fn into_replica(self) -> Store<Replica> {
        self.replica
    }

    /// The error and the replica.
    pub fn into_parts(self) -> (Error, Store<Replica>) {
        (self.error, self.replica)
    }
}

impl From<PromoteError> for Error {
    fn from(e: PromoteError) -> Error {
        e.error
    }
}

impl fmt::Display for PromoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "promotion refused: {}", self.error)
    }
}

impl fmt::Debug for PromoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromoteError")
            .field("error", &self.error)
            .field("replica", &self.replica)
            .finish()
    }
}

impl std::error::Error for PromoteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
