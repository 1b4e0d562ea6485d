//! Chunked snapshots (since library 0.5.0): a store's state at one version streamed as chunks,
//! complete frames of bounded size, while the store keeps working ([`Store::begin_snapshot`],
//! [`Snapshot`], [`Store::snapshot_chunks`]); and where a receiver that lost a chunk resumes
//! ([`ChunkPosition`], [`Store::staging`], [`Store::snapshot_resume`]).

use std::fmt;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result, copy_message};
use crate::frame;
use crate::registry::Registry;
use crate::store::{Replica, Role, Store, unexpected};

/// The smallest `max_chunk_bytes` [`Store::begin_snapshot`], [`Store::snapshot_resume`] and
/// [`Store::snapshot_chunks`] accept (`PODSYNC_MIN_CHUNK_BYTES`); 0 means the store's
/// [`max_frame_bytes`](crate::StoreOptions::max_frame_bytes). A chunk holds at least one record,
/// so a record larger than the limit makes a larger chunk.
pub const MIN_CHUNK_BYTES: usize = sys::PODSYNC_MIN_CHUNK_BYTES;

/// Where a chunked snapshot continues (`podsync_chunk_position`): the snapshot's identity
/// (`stream_id`, `term`, `snapshot_id`, `state_version`) and its next chunk (`chunk_index`, which
/// starts at key `(start_table, start_key)`).
///
/// A replica that got [`Applied::ChunkGap`](crate::Applied::ChunkGap) reports the chunk it needs
/// with [`Store::staging`]; the host sends the position to the producer (its fields are plain
/// integers: any encoding will do), which continues the snapshot from there with
/// [`Store::snapshot_resume`]. [`Snapshot::position`] is the producer's own position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChunkPosition {
    /// The writer stream whose state the snapshot holds.
    pub stream_id: u64,
    /// The writer's term (0 until a promotion or a new term, since library 0.6.0; a resume of
    /// another term is [`ErrorKind::SnapshotExpired`](crate::ErrorKind::SnapshotExpired)).
    pub term: u64,
    /// The snapshot's id, the same in every chunk of it ([`FrameInfo::snapshot_id`](crate::frame::FrameInfo::snapshot_id)).
    pub snapshot_id: u64,
    /// The version the snapshot describes.
    pub state_version: u64,
    /// Index of the next chunk (0 for the first).
    pub chunk_index: u64,
    /// The table of the next chunk's first key.
    pub start_table: u32,
    /// The next chunk's first key in `start_table`.
    pub start_key: u64,
    /// 0 for a snapshot; a chunked catch-up delta's base version. A delta is not resumed
    /// ([`Store::snapshot_resume`] fails with
    /// [`ErrorKind::SnapshotExpired`](crate::ErrorKind::SnapshotExpired)): ask for the delta again.
    pub base_version: u64,
}

impl ChunkPosition {
    /// The C struct (`PODSYNC_CHUNK_POSITION_VERSION`).
    pub fn raw(&self) -> sys::podsync_chunk_position {
        sys::podsync_chunk_position {
            version: sys::PODSYNC_CHUNK_POSITION_VERSION,
            start_table: self.start_table,
            stream_id: self.stream_id,
            term: self.term,
            snapshot_id: self.snapshot_id,
            state_version: self.state_version,
            chunk_index: self.chunk_index,
            start_key: self.start_key,
            base_version: self.base_version,
        }
    }

    /// The position a C struct holds (its `version` is not checked).
    pub fn from_raw(raw: &sys::podsync_chunk_position) -> ChunkPosition {
        ChunkPosition {
            stream_id: raw.stream_id,
            term: raw.term,
            snapshot_id: raw.snapshot_id,
            state_version: raw.state_version,
            chunk_index: raw.chunk_index,
            start_table: raw.start_table,
            start_key: raw.start_key,
            base_version: raw.base_version,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------------

/// A chunked snapshot being produced (`podsync_snapshot`, since library 0.5.0): the state of its
/// store at one version (a writer's as of its last flush, a replica's as applied), cut into
/// chunks of at most `max_chunk_bytes` on demand. Made by [`Store::begin_snapshot`] or
/// [`Store::snapshot_resume`].
///
/// The store keeps working while the chunks go out: writes, flushes and applies do not change
/// the snapshot (the library keeps the records they change at their snapshot-time value until the
/// snapshot is dropped: [`Metrics::snapshot_bytes_held`](crate::Metrics::snapshot_bytes_held)).
/// The snapshot does not borrow its store; [`next_chunk`](Snapshot::next_chunk) takes it
/// explicitly, which is how the borrow checker keeps the two from being used at the same time,
/// as the C contract requires.
///
/// ```
/// use podsync::{Applied, Schema, Store};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new().table(1, 64, 8, &[])?;
/// let mut writer = Store::writer(&schema)?;
/// let mut replica = Store::replica(&schema)?;
/// let keys: Vec<u64> = (0..1000).collect();
/// writer.put_many(1, &keys, &vec![[7u64; 8]; 1000])?;
/// writer.flush()?;
/// let digest = writer.digest()?;
///
/// let mut snapshot = writer.begin_snapshot(16 * 1024)?;
/// let mut deltas = Vec::new();
/// while let Some(chunk) = snapshot.next_chunk(&mut writer)? {
///     // The chunk borrows the snapshot only: the writer keeps writing and flushing.
///     match replica.apply(chunk)? {
///         Applied::ChunkStaged => assert_eq!(replica.version()?, 0), // staged beside the state
///         Applied::Ok => assert_eq!(replica.digest()?, digest),      // the last chunk: switched
///         other => panic!("{other:?}"),
///     }
///     writer.put_as(1, 5000, &[1u64; 8])?;
///     writer.flush()?;
///     deltas.extend(writer.frames().map(<[u8]>::to_vec));
/// }
/// for delta in &deltas {
///     assert_eq!(replica.apply(delta)?, Applied::Ok);
/// }
/// assert_eq!(replica.digest()?, writer.digest()?);
/// # Ok(()) }
/// ```
///
/// A chunk cannot outlive the next one:
///
/// ```compile_fail,E0499
/// # use podsync::{Schema, Store};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut writer = Store::writer(&schema).unwrap();
/// let mut snapshot = writer.begin_snapshot(0).unwrap();
/// let first = snapshot.next_chunk(&mut writer).unwrap();
/// let second = snapshot.next_chunk(&mut writer).unwrap(); // error[E0499]: `first` would dangle
/// println!("{first:?} {second:?}");
/// ```
///
/// # Threads
///
/// A `Snapshot` is [`Send`] (it may move between threads with its store) but not [`Sync`]. Every
/// call it makes into the library happens inside [`next_chunk`](Snapshot::next_chunk), which holds
/// `&mut` of its store; [`position`](Snapshot::position) reads a copy kept on the Rust side. A
/// `Snapshot` dropped while its store lives is freed by the store at its next `flush`, `apply`,
/// `delta_since`, `snapshot`, `metrics` or snapshot call, or when the store is dropped (the C
/// contract lets a snapshot be used only by the thread using its store, and a drop may happen on
/// any thread); dropped after its store, it is freed at once.
///
/// ```compile_fail,E0277
/// fn needs_sync<T: Sync>(_: &T) {}
/// # let schema = podsync::Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut writer = podsync::Store::writer(&schema).unwrap();
/// let snapshot = writer.begin_snapshot(0).unwrap();
/// needs_sync(&snapshot); // error[E0277]: `NonNull<podsync_snapshot>` cannot be shared between threads
/// ```
pub struct Snapshot {
    /// `None` once freed (by [`SnapshotChunks`]' drop).
    handle: Option<NonNull<sys::podsync_snapshot>>,
    registry: Arc<Registry>,
    position: ChunkPosition,
    finished: bool,
}

// SAFETY: the library keeps no thread-affine state. The handle is used only inside next_chunk,
// which holds `&mut` of its store (checked to be the right one), so never concurrently with the
// store; Drop hands the handle to the store (Registry) while the store lives. Snapshot is not
// Sync (NonNull is not).
unsafe impl Send for Snapshot {}

impl Snapshot {
    /// Wraps a handle the library returned, reading its first position.
    ///
    /// # Safety
    ///
    /// `handle` was just returned by `podsync_snapshot_begin` / `_resume` on the store whose
    /// registry this is; the caller holds a borrow of that store.
    unsafe fn new(
        handle: NonNull<sys::podsync_snapshot>,
        registry: Arc<Registry>,
    ) -> Result<Snapshot> {
        let mut snapshot = Snapshot {
            handle: Some(handle),
            registry,
            position: ChunkPosition::default(),
            finished: false,
        };
        // SAFETY: no chunk is borrowed yet; the caller holds the store.
        snapshot.position = unsafe { snapshot.c_position() }?;
        Ok(snapshot)
    }

    /// Produces the next chunk (`podsync_snapshot_next`): a complete, checksummed frame of at
    /// most `max_chunk_bytes` (more only for a single larger record), 64-byte aligned, borrowed
    /// from the snapshot until the next call on it. `None` after the last chunk. Apply the chunks
    /// in order to a replica ([`Store::apply`]): [`Applied::ChunkStaged`](crate::Applied::ChunkStaged)
    /// until the last, which switches it to the snapshot's state ([`Applied::Ok`](crate::Applied::Ok)).
    ///
    /// `store` must be the store the snapshot was made from (the C snapshot reads that store's
    /// records); passing it here is how the borrow checker proves that the two are not used at
    /// the same time. The chunk borrows only the snapshot: the store may be written, flushed or
    /// applied to while it is alive.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if `store` is not the store this snapshot was made from
    /// (checked by this binding; nothing is produced); [`ErrorKind::SnapshotExpired`] if the state
    /// the snapshot describes was replaced on its store (a replica serving a snapshot that
    /// switched to another one meanwhile): start a new one; [`ErrorKind::NoMemory`] if the chunk
    /// cannot be allocated (the same chunk is produced by the next call).
    pub fn next_chunk<R: Role>(&mut self, store: &mut Store<R>) -> Result<Option<&[u8]>> {
        if !Arc::ptr_eq(&self.registry, store.registry()) {
            return Err(Error::from_kind(
                ErrorKind::InvalidArgument,
                format!(
                    "Snapshot::next_chunk: snapshot {:016x} was made from another store than the one \
                     passed (checked by the Rust binding)",
                    self.position.snapshot_id
                ),
            ));
        }
        store.reap_snapshots();
        // SAFETY: `store` is this snapshot's store, borrowed mutably: nothing else uses it.
        match unsafe { self.advance() }? {
            // SAFETY: the library lends `n` bytes at `p` until the next call on this snapshot
            // or its free, both of which need `&mut self` (or ownership): not while the returned
            // borrow of `self` lives.
            Some((p, n)) => Ok(Some(unsafe { std::slice::from_raw_parts(p, n) })),
            None => Ok(None),
        }
    }

    /// Where the snapshot continues: its identity and the index and first key of the next chunk
    /// (`podsync_snapshot_position` as of the last call). After the last chunk, `chunk_index` is
    /// one past it and [`is_finished`](Snapshot::is_finished) is true (the start key then lies
    /// past every key). A receiver's [`Store::staging`] reports the same position after applying
    /// the chunks produced so far.
    pub fn position(&self) -> ChunkPosition {
        self.position
    }

    /// True once every chunk was produced (the last call of [`next_chunk`](Snapshot::next_chunk)
    /// returned the last chunk or `None`).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// One chunk: `podsync_snapshot_next`, then the position that follows it.
    ///
    /// # Safety
    ///
    /// The caller holds a borrow of this snapshot's store (no other thread uses it).
    unsafe fn advance(&mut self) -> Result<Option<(*const u8, usize)>> {
        let handle = self.live_handle()?;
        let mut data: *const u8 = ptr::null();
        let mut size = 0usize;
        // SAFETY: a live handle and valid out-pointers; the caller holds the store.
        let st = unsafe { sys::podsync_snapshot_next(handle.as_ptr(), &mut data, &mut size) };
        if st < 0 {
            return Err(self.error(st));
        }
        match st {
            sys::PODSYNC_OK if !data.is_null() && size > 0 => {
                // SAFETY: the library returned `size` bytes at `data`, valid until the next call
                // on this snapshot; read here before any.
                let chunk = unsafe { std::slice::from_raw_parts(data, size) };
                // The position after this chunk comes from its own header: calling the snapshot
                // again (podsync_snapshot_position) would end the chunk's loan.
                let info = frame::peek(chunk).map_err(|e| {
                    Error::from_kind(
                        ErrorKind::Internal,
                        format!(
                            "podsync_snapshot_next returned a chunk whose header peek refuses: {e}"
                        ),
                    )
                })?;
                self.position.chunk_index = info.chunk_index.wrapping_add(1);
                if info.is_last_chunk() {
                    self.position.start_table = u32::MAX;
                    self.position.start_key = u64::MAX;
                    self.finished = true;
                } else {
                    self.position.start_table = info.chunk_end_table;
                    self.position.start_key = info.chunk_end_key;
                }
                Ok(Some((data, size)))
            }
            sys::PODSYNC_OK => Err(Error::from_kind(
                ErrorKind::Internal,
                "podsync_snapshot_next returned PODSYNC_OK and no chunk",
            )),
            sys::PODSYNC_DONE => {
                self.finished = true;
                // SAFETY: no chunk is lent after DONE; the caller holds the store.
                self.position = unsafe { self.c_position() }?;
                Ok(None)
            }
            other => Err(unexpected("podsync_snapshot_next", other)),
        }
    }

    /// `podsync_snapshot_position`.
    ///
    /// # Safety
    ///
    /// The caller holds a borrow of this snapshot's store, and no chunk of it is borrowed (a call
    /// on the snapshot ends the loan of its last chunk).
    unsafe fn c_position(&self) -> Result<ChunkPosition> {
        let handle = self.live_handle()?;
        let mut raw = sys::PODSYNC_CHUNK_POSITION_INIT;
        // SAFETY: a live handle and a version-1 struct; the caller holds the store.
        let st = unsafe { sys::podsync_snapshot_position(handle.as_ptr(), &mut raw) };
        if st < 0 {
            return Err(self.error(st));
        }
        Ok(ChunkPosition::from_raw(&raw))
    }

    fn live_handle(&self) -> Result<NonNull<sys::podsync_snapshot>> {
        self.handle
            .ok_or_else(|| Error::from_kind(ErrorKind::Internal, "snapshot handle already freed"))
    }

    fn error(&self, st: i32) -> Error {
        let message = match self.handle {
            // SAFETY: a live handle; the message is copied before any other call on it.
            Some(h) => copy_message(unsafe { sys::podsync_snapshot_errmsg(h.as_ptr()) }),
            None => String::new(),
        };
        let message = if message.is_empty() { crate::error::last_message() } else { message };
        Error::new(st, message)
    }

    /// Frees the handle now.
    ///
    /// # Safety
    ///
    /// The caller holds a borrow of this snapshot's store (no other thread uses it).
    unsafe fn free_now(&mut self) {
        if let Some(h) = self.handle.take() {
            // SAFETY: a live handle, freed once (taken); the caller holds the store.
            unsafe { sys::podsync_snapshot_free(h.as_ptr()) };
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.registry.release_snapshot(h);
        }
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("snapshot_id", &format_args!("{:016x}", self.position.snapshot_id))
            .field("state_version", &self.position.state_version)
            .field("next_chunk", &self.position.chunk_index)
            .field("finished", &self.finished)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// SnapshotChunks
// ---------------------------------------------------------------------------------------------

/// The chunks of a snapshot as an iterator of owned frames ([`Store::snapshot_chunks`]). It
/// borrows the store, so the store cannot be written, flushed or applied to until it is dropped
/// (use [`Store::begin_snapshot`] to keep writing while a snapshot streams). Each item is a copy
/// of one chunk; after an error the iterator ends. Dropping it frees the snapshot.
///
/// ```compile_fail,E0502
/// # use podsync::{Schema, Store};
/// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
/// let mut writer = Store::writer(&schema).unwrap();
/// let mut chunks = writer.snapshot_chunks(0).unwrap();
/// writer.put(1, 5, &[0u8; 8]).unwrap(); // error[E0502]: the store is borrowed by `chunks`
/// println!("{:?}", chunks.next());
/// ```
pub struct SnapshotChunks<'a> {
    snapshot: Snapshot,
    failed: bool,
    /// The shared borrow of the store; `*const ()` makes the iterator neither Send nor Sync, so
    /// it is used on the store's thread only (a `Store` is not `Sync`).
    _store: PhantomData<(&'a (), *const ())>,
}

impl SnapshotChunks<'_> {
    /// The snapshot's position: its identity and the next chunk ([`Snapshot::position`]).
    pub fn position(&self) -> ChunkPosition {
        self.snapshot.position
    }
}

impl Iterator for SnapshotChunks<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Result<Vec<u8>>> {
        if self.failed || self.snapshot.finished {
            return None;
        }
        // SAFETY: the store is borrowed for 'a and this iterator is not Send: no other thread
        // uses the store meanwhile.
        match unsafe { self.snapshot.advance() } {
            // SAFETY: the library lends `n` bytes at `p` until the next call on the snapshot;
            // copied before any.
            Ok(Some((p, n))) => Some(Ok(unsafe { std::slice::from_raw_parts(p, n) }.to_vec())),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for SnapshotChunks<'_> {}

impl Drop for SnapshotChunks<'_> {
    fn drop(&mut self) {
        // SAFETY: the store is still borrowed for 'a, on this thread (the iterator is not Send).
        unsafe { self.snapshot.free_now() };
    }
}

impl fmt::Debug for SnapshotChunks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotChunks").field("snapshot", &self.snapshot).finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Store methods
// ---------------------------------------------------------------------------------------------

impl<R: Role> Store<R> {
    /// Starts a chunked snapshot of the store's state (`podsync_snapshot_begin`, since library
    /// 0.5.0): a writer's as of its last flush, a replica's as applied. Produce its chunks with
    /// [`Snapshot::next_chunk`], passing this store; the store may keep writing, flushing and
    /// applying between chunks, which do not change the snapshot. `max_chunk_bytes` is the
    /// largest chunk: 0 for the store's [`max_frame_bytes`](crate::StoreOptions::max_frame_bytes),
    /// else at least [`MIN_CHUNK_BYTES`]. Sorting the keys costs O(n log n) in the records; the
    /// extra memory is 8 bytes a record, one chunk, and the records changed while the snapshot
    /// lives ([`Metrics::snapshot_bytes_held`](crate::Metrics::snapshot_bytes_held)).
    ///
    /// Takes `&mut self` although it changes no record and no frame: a snapshot is part of the
    /// store's state for threading.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if `max_chunk_bytes` (or, for 0, `max_frame_bytes`) is below
    /// [`MIN_CHUNK_BYTES`]; [`ErrorKind::Diverged`] on a diverged replica, and on a
    /// [`one_way`](crate::StoreOptions::one_way) replica out of sync
    /// ([`StoreInfo::refreshing`](crate::StoreInfo::refreshing));
    /// [`ErrorKind::NoMemory`] if the sorted keys cannot be allocated.
    pub fn begin_snapshot(&mut self, max_chunk_bytes: usize) -> Result<Snapshot> {
        self.start_snapshot(None, max_chunk_bytes)
    }

    /// Continues a chunked snapshot from `position` (`podsync_snapshot_resume`, since library
    /// 0.5.0): what a receiver that got [`Applied::ChunkGap`](crate::Applied::ChunkGap) reports
    /// with [`Store::staging`]. The chunks start at `position.chunk_index` and its key, under the
    /// same snapshot id (their later boundaries may differ from the lost ones: only continuity
    /// counts). Served while a snapshot with that id and version is alive on this store, or while
    /// the store is still at that version of that stream; `max_chunk_bytes` as in
    /// [`begin_snapshot`](Store::begin_snapshot).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::SnapshotExpired`] when this store no longer holds that state: the receiver
    /// needs a new snapshot ([`begin_snapshot`](Store::begin_snapshot)), whose chunk 0 replaces
    /// what it staged; [`ErrorKind::InvalidArgument`] for a position that names no snapshot
    /// (snapshot id 0, chunk 0 not at key (0, 0)) or a `max_chunk_bytes` below
    /// [`MIN_CHUNK_BYTES`]; [`ErrorKind::NoMemory`].
    pub fn snapshot_resume(
        &mut self,
        position: &ChunkPosition,
        max_chunk_bytes: usize,
    ) -> Result<Snapshot> {
        self.start_snapshot(Some(position), max_chunk_bytes)
    }

    /// The chunks of a new snapshot of the store's state as an iterator of owned frames
    /// (`podsync_snapshot_begin` and `_next`, since library 0.5.0), `max_chunk_bytes` as in
    /// [`begin_snapshot`](Store::begin_snapshot). The iterator borrows the store, so nothing can
    /// change it meanwhile; to keep writing while a snapshot streams, use
    /// [`begin_snapshot`](Store::begin_snapshot).
    ///
    /// ```
    /// use podsync::{Applied, Schema, Store};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer(&schema)?;
    /// let mut replica = Store::replica(&schema)?;
    /// let keys: Vec<u64> = (0..2000).collect();
    /// writer.put_many(1, &keys, &keys)?;
    /// writer.flush()?;
    /// let chunks = writer.snapshot_chunks(4096)?
    ///     .collect::<podsync::Result<Vec<Vec<u8>>>>()?;
    /// assert!(chunks.len() > 1);
    /// for (i, chunk) in chunks.iter().enumerate() {
    ///     let want = if i + 1 < chunks.len() { Applied::ChunkStaged } else { Applied::Ok };
    ///     assert_eq!(replica.apply(chunk)?, want);
    /// }
    /// assert_eq!(replica.digest()?, writer.digest()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`begin_snapshot`](Store::begin_snapshot); each item as
    /// [`Snapshot::next_chunk`] ([`ErrorKind::NoMemory`]).
    pub fn snapshot_chunks(&self, max_chunk_bytes: usize) -> Result<SnapshotChunks<'_>> {
        let snapshot = self.start_snapshot(None, max_chunk_bytes)?;
        Ok(SnapshotChunks { snapshot, failed: false, _store: PhantomData })
    }

    /// `podsync_snapshot_begin` or `_resume`. Changes no record and no frame of the store, so a
    /// shared borrow suffices (a `Store` is not `Sync`: no other thread uses it meanwhile).
    fn start_snapshot(
        &self,
        resume: Option<&ChunkPosition>,
        max_chunk_bytes: usize,
    ) -> Result<Snapshot> {
        self.reap_snapshots();
        let mut out: *mut sys::podsync_snapshot = ptr::null_mut();
        let st = match resume {
            None => {
                // SAFETY: valid handle and out-pointer.
                unsafe { sys::podsync_snapshot_begin(self.raw_handle(), max_chunk_bytes, &mut out) }
            }
            Some(p) => {
                let raw = p.raw();
                // SAFETY: valid handle, position struct and out-pointer.
                unsafe {
                    sys::podsync_snapshot_resume(self.raw_handle(), &raw, max_chunk_bytes, &mut out)
                }
            }
        };
        let what =
            if resume.is_some() { "podsync_snapshot_resume" } else { "podsync_snapshot_begin" };
        match NonNull::new(out) {
            // SAFETY: a handle just returned for this store, which `&self` borrows.
            Some(handle) if st == sys::PODSYNC_OK => unsafe {
                Snapshot::new(handle, Arc::clone(self.registry()))
            },
            other => {
                if let Some(h) = other {
                    // Not expected (the header says *out is set on success only); do not leak it.
                    // SAFETY: the library returned this handle to us; nothing else refers to it.
                    unsafe { sys::podsync_snapshot_free(h.as_ptr()) };
                }
                Err(if st < 0 { self.error_of(st) } else { unexpected(what, st) })
            }
        }
    }
}

impl Store<Replica> {
    /// The chunked snapshot this replica is staging and the chunk it needs next
    /// (`podsync_store_staging`, since library 0.5.0), or `None` when it stages none. After
    /// [`Applied::ChunkGap`](crate::Applied::ChunkGap), send this position to the producer, which
    /// continues with [`Store::snapshot_resume`] (if the chunk that arrived belongs to a snapshot
    /// the replica had not started, the position names that snapshot's chunk 0).
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer, or
    /// a struct version 0, which this crate never passes; an error it returned would be passed
    /// on.
    pub fn staging(&self) -> Result<Option<ChunkPosition>> {
        self.reap_snapshots();
        let mut raw = sys::PODSYNC_CHUNK_POSITION_INIT;
        // SAFETY: valid handle; raw is a version-1 struct.
        let st = unsafe { sys::podsync_store_staging(self.raw_handle(), &mut raw) };
        if st < 0 {
            return Err(self.error_of(st));
        }
        match st {
            sys::PODSYNC_OK => Ok(Some(ChunkPosition::from_raw(&raw))),
            sys::PODSYNC_NOT_FOUND => Ok(None),
            other => Err(unexpected("podsync_store_staging", other)),
        }
    }
}
