//! Change events (since library 0.7.0): which keys each [`apply`](Store::apply) of a replica
//! upserted and deleted, table by table ([`Store::track_changes`], [`Store::changes`],
//! [`Changes`]).

use std::fmt;
use std::ptr;

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result};
use crate::store::{Replica, Store, unexpected};

impl Store<Replica> {
    /// Turns change tracking on or off (`podsync_store_track_changes`, since library 0.7.0);
    /// either way the lists start empty. Tracking is off when a replica is created or opened: it
    /// costs a key per changed record, and a whole snapshot lists every key.
    ///
    /// With tracking on, every [`apply`](Store::apply) first empties the lists, then records the
    /// keys it upserted (inserted, or replaced with other bytes: a put that leaves a record's bytes
    /// as they were is not listed) and deleted, table by table; read them with
    /// [`changes`](Store::changes). Only replicas track changes: `Store<Writer>` has no such
    /// method, so `PODSYNC_E_WRONG_ROLE` cannot happen through this crate.
    ///
    /// ```
    /// use podsync::{ErrorKind, Schema, Store};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut replica = Store::replica(&schema)?;
    /// assert_eq!(replica.changes(1).unwrap_err().kind(), ErrorKind::InvalidArgument); // off
    /// replica.track_changes(true)?;
    /// assert!(replica.changes(1)?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// A writer has no change events:
    ///
    /// ```compile_fail,E0599
    /// # use podsync::{Schema, Store};
    /// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
    /// let mut writer = Store::writer(&schema).unwrap();
    /// writer.track_changes(true).unwrap(); // error[E0599]: no method named `track_changes` for Store<Writer>
    /// ```
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only on a writer
    /// ([`ErrorKind::WrongRole`]), which a `Store<Replica>` is not; an error it returned would be
    /// passed on.
    pub fn track_changes(&mut self, enabled: bool) -> Result<()> {
        // SAFETY: valid handle, used through `&mut self`: no `Changes` borrowed from the store
        // (whose arrays this call frees) is alive.
        let st = unsafe { sys::podsync_store_track_changes(self.raw_handle(), u32::from(enabled)) };
        match st {
            sys::PODSYNC_OK => Ok(()),
            s if s < 0 => Err(self.error_of(s)),
            s => Err(unexpected("podsync_store_track_changes", s)),
        }
    }

    /// The keys of table `table` that the last [`apply`](Store::apply) upserted and deleted
    /// (`podsync_store_changes`, since library 0.7.0), borrowed from the store: no copy, and
    /// valid while the store is borrowed, so the next `apply` or
    /// [`track_changes`](Store::track_changes) (both `&mut self`) cannot be called while they are
    /// in use.
    ///
    /// What the lists hold (the header's "Change events" section):
    /// - keys in the order the apply changed them; a frame's deletions come before its puts, so
    ///   a key in both lists was deleted and then put; a key a frame carries twice may be listed
    ///   twice;
    /// - a put that left a record's bytes as they were is not listed (a catch-up delta re-sending
    ///   a value the replica holds, for example);
    /// - an apply that changed nothing ([`Applied::Duplicate`](crate::Applied::Duplicate),
    ///   [`Gap`](crate::Applied::Gap), [`Stale`](crate::Applied::Stale),
    ///   [`ChunkGap`](crate::Applied::ChunkGap), an error) leaves both lists empty;
    ///   [`ErrorKind::DigestMismatch`] lists what it applied; staged chunks
    ///   ([`Applied::ChunkStaged`](crate::Applied::ChunkStaged)) list nothing until the last
    ///   one, except that a chunk filling an empty replica in place
    ///   ([`fill_in_place`](crate::StoreOptions::fill_in_place)) lists the keys it made visible;
    /// - a snapshot that replaced the state (a whole one, or the last chunk of a staged one) sets
    ///   [`Changes::replaced`]: `upserted` then lists every key the new state holds (changed or
    ///   not) and `deleted` every key it no longer holds.
    ///
    /// Writers list nothing to begin with: a writer's put of the bytes a key held at the last
    /// flush leaves the key clean, and no frame carries it.
    ///
    /// ```
    /// use podsync::{Applied, Schema, Store};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer(&schema)?;
    /// let mut replica = Store::replica(&schema)?;
    /// replica.track_changes(true)?;
    ///
    /// writer.put_many(1, &[1, 2, 3], &[10u64, 20, 30])?;
    /// writer.flush()?;
    /// assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
    /// let mut spawned = replica.changes(1)?.upserted().to_vec();
    /// spawned.sort();
    /// assert_eq!(spawned, [1, 2, 3]);
    ///
    /// writer.put_as(1, 2, &21u64)?;
    /// writer.delete(1, 3)?;
    /// writer.flush()?;
    /// assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
    /// let changes = replica.changes(1)?;
    /// assert_eq!((changes.upserted(), changes.deleted()), (&[2][..], &[3][..]));
    /// assert!(!changes.replaced() && changes.complete());
    /// # Ok(()) }
    /// ```
    ///
    /// The lists cannot outlive the next apply, which replaces them:
    ///
    /// ```compile_fail,E0502
    /// # use podsync::{Schema, Store};
    /// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
    /// let mut replica = Store::replica(&schema).unwrap();
    /// replica.track_changes(true).unwrap();
    /// let upserted = replica.changes(1).unwrap().upserted();
    /// let _ = replica.apply(&[0u8; 88]); // error[E0502]: `upserted` would dangle
    /// println!("{}", upserted.len());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::UnknownTable`] if the schema has no table `table`;
    /// [`ErrorKind::InvalidArgument`] while tracking is off (see
    /// [`track_changes`](Store::track_changes)); [`ErrorKind::Internal`] if the library returned
    /// arrays that break its contract (NULL with a count, or misaligned).
    pub fn changes(&self, table: u32) -> Result<Changes<'_>> {
        let (mut up, mut up_count) = (ptr::null::<u64>(), 0usize);
        let (mut del, mut del_count) = (ptr::null::<u64>(), 0usize);
        let mut flags = 0u32;
        // SAFETY: valid handle and out-pointers.
        let st = unsafe {
            sys::podsync_store_changes(
                self.as_ptr(),
                table,
                &mut up,
                &mut up_count,
                &mut del,
                &mut del_count,
                &mut flags,
            )
        };
        match st {
            sys::PODSYNC_OK => {}
            s if s < 0 => return Err(self.error_of(s)),
            s => return Err(unexpected("podsync_store_changes", s)),
        }
        // SAFETY: the library lends `count` keys per list until the next apply, track_changes or
        // free on the store, each of which needs `&mut self` (or ownership): not while the
        // `&self` borrow that `Changes<'_>` carries lives.
        let (upserted, deleted) = unsafe {
            (keys_from_raw(up, up_count, "upserted")?, keys_from_raw(del, del_count, "deleted")?)
        };
        Ok(Changes { table_id: table, upserted, deleted, flags })
    }
}

/// The keys array `(p, n)` the library lent, checked against its contract.
///
/// # Safety
///
/// If `n > 0` and `p` is non-NULL and aligned, `p` points to `n` keys that stay valid and
/// unchanged for `'a`.
unsafe fn keys_from_raw<'a>(p: *const u64, n: usize, what: &str) -> Result<&'a [u64]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() || !(p as usize).is_multiple_of(std::mem::align_of::<u64>()) {
        return Err(Error::from_kind(
            ErrorKind::Internal,
            format!("podsync_store_changes returned a NULL or misaligned {what} array of {n} keys"),
        ));
    }
    // SAFETY: non-NULL and aligned (checked); the caller guarantees the rest.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// The change events of one table: the keys the last [`apply`](Store::apply) of a replica
/// upserted and deleted, borrowed from the store ([`Store::changes`], since library 0.7.0).
///
/// The slices live as long as the shared borrow of the store (`'a`), not as long as this value,
/// so they may be kept after it is dropped, but never across the next `apply` or
/// [`track_changes`](Store::track_changes), which take `&mut self`: copy them (`to_vec`) to keep
/// them longer.
///
/// ```
/// use podsync::{Applied, Schema, Store};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table(1, 8, 8, &[])?;
/// let mut old = Store::writer(&schema)?;
/// let mut new = Store::writer(&schema)?; // another stream
/// let mut replica = Store::replica(&schema)?;
/// replica.track_changes(true)?;
/// old.put_many(1, &[1, 2], &[1u64, 2])?;
/// old.flush()?;
/// assert_eq!(replica.apply(old.frame(0).unwrap())?, Applied::Ok);
///
/// // A snapshot of another stream replaces the whole state.
/// new.put_many(1, &[2, 3], &[2u64, 3])?;
/// new.flush()?;
/// new.snapshot()?;
/// assert_eq!(replica.apply(new.frame(0).unwrap())?, Applied::Ok);
/// let changes = replica.changes(1)?;
/// assert!(changes.replaced());
/// let mut upserted = changes.upserted().to_vec();
/// upserted.sort();
/// assert_eq!(upserted, [2, 3]); // every key the new state holds, key 2 too
/// assert_eq!(changes.deleted(), [1]); // the key it no longer holds
/// # Ok(()) }
/// ```
#[derive(Clone, Copy)]
pub struct Changes<'a> {
    table_id: u32,
    upserted: &'a [u64],
    deleted: &'a [u64],
    flags: u32,
}

impl<'a> Changes<'a> {
    /// The table these events are of.
    pub fn table_id(&self) -> u32 {
        self.table_id
    }

    /// Keys inserted, or replaced with other bytes, in the order the apply changed them. After a
    /// replacing snapshot ([`replaced`](Changes::replaced)): every key the new state holds.
    pub fn upserted(&self) -> &'a [u64] {
        self.upserted
    }

    /// Keys deleted, in the order the apply deleted them (a frame's deletions come before its
    /// puts). After a replacing snapshot: every key the new state no longer holds.
    pub fn deleted(&self) -> &'a [u64] {
        self.deleted
    }

    /// True when the last apply replaced the whole state, a snapshot (`PODSYNC_CHANGES_REPLACED`;
    /// the same for every table of the store).
    pub fn replaced(&self) -> bool {
        self.flags & sys::PODSYNC_CHANGES_REPLACED != 0
    }

    /// False when memory for this table's lists could not be had (`PODSYNC_CHANGES_INCOMPLETE`):
    /// the apply went through, but the lists may miss keys, so treat every key of the table as
    /// changed.
    pub fn complete(&self) -> bool {
        self.flags & sys::PODSYNC_CHANGES_INCOMPLETE == 0
    }

    /// True when both lists are empty (an apply that changed nothing in this table). Check
    /// [`complete`](Changes::complete) too: an incomplete list may be empty.
    pub fn is_empty(&self) -> bool {
        self.upserted.is_empty() && self.deleted.is_empty()
    }

    /// The `PODSYNC_CHANGES_*` flags as the library returned them.
    pub fn raw_flags(&self) -> u32 {
        self.flags
    }
}

impl fmt::Debug for Changes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changes")
            .field("table_id", &self.table_id)
            .field("upserted", &self.upserted.len())
            .field("deleted", &self.deleted.len())
            .field("replaced", &self.replaced())
            .field("complete", &self.complete())
            .finish()
    }
}
