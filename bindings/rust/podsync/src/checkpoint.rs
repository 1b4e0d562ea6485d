//! Checkpoints of a durable store (since library 0.6.0): written at once ([`Store::checkpoint`])
//! or step by step while the store keeps working ([`Store::begin_checkpoint`], [`Checkpoint`]).

use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result, copy_message, last_message};
use crate::registry::Registry;
use crate::store::{Role, Store, unexpected};

/// A checkpoint of a durable store being written step by step (`podsync_checkpoint`, since
/// library 0.6.0), made by [`Store::begin_checkpoint`]: the image of the store's state was taken
/// when it began, and each [`step`](Checkpoint::step) writes about `max_bytes` more of it (at
/// least one chunk) to a temporary file; the last step makes it durable and renames it into
/// place, as [`Store::checkpoint`] does at once.
///
/// The store keeps working between steps: writes, flushes and applies do not change the image
/// (the library keeps the records they change at their checkpoint-time value, copy-on-write, as
/// for a [`Snapshot`](crate::Snapshot)). Like a snapshot, the checkpoint does not borrow its
/// store; [`step`](Checkpoint::step) takes it explicitly, which is how the borrow checker keeps
/// the two from being used at the same time, as the C contract requires.
///
/// ```
/// use podsync::{Durability, Schema, Store, StoreOptions, Writer};
/// # fn main() -> podsync::Result<()> {
/// let dir = std::env::temp_dir().join(format!("podsync-doc-checkpoint-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let schema = Schema::new().table(1, 64, 8, &[])?;
/// let opts = StoreOptions::new().max_frame_bytes(16 * 1024); // checkpoint chunks of 16 KiB
/// let (mut writer, _) = Store::<Writer>::open(&dir, Some(&schema), &opts, &Durability::new())?;
/// let keys: Vec<u64> = (0..2000).collect();
/// writer.put_many(1, &keys, &vec![[7u64; 8]; 2000])?;
/// writer.flush()?;
///
/// let logged = writer.info()?.log_bytes; // the log since the last checkpoint (version 0)
/// let mut checkpoint = writer.begin_checkpoint()?; // the image of version 1
/// let mut steps = 0;
/// while !checkpoint.step(&mut writer, 32 * 1024)? {
///     // Between steps the writer keeps writing and flushing.
///     writer.put_as(1, 5000 + steps, &[1u64; 8])?;
///     writer.flush()?;
///     steps += 1;
/// }
/// assert!(steps > 0 && checkpoint.is_finished());
/// // The log since the new checkpoint: only what was flushed while it was written.
/// assert!(writer.info()?.log_bytes < logged);
/// # drop(writer);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok(()) }
/// ```
///
/// # Threads and drop
///
/// A `Checkpoint` is [`Send`] but not [`Sync`]. Every call it makes into the library happens
/// inside [`step`](Checkpoint::step), which holds `&mut` of its store. Dropping an unfinished
/// checkpoint abandons it (its temporary file is removed; the older checkpoints stay): while its
/// store lives the store does it at its next call that reaps dropped handles (flush, apply,
/// `delta_since`, snapshot, checkpoint, sync, metrics) or when it is dropped; a store dropped
/// first abandons the checkpoints still alive (no step is possible without it, and the directory
/// must not stay locked). A store writes one checkpoint at a time: begin the next one after this
/// one finished, failed or was dropped.
///
/// ```compile_fail,E0277
/// fn needs_sync<T: Sync>(_: &T) {}
/// # let dir = std::env::temp_dir().join("podsync-compile-fail-checkpoint");
/// # let schema = podsync::Schema::new().table(1, 8, 8, &[]).unwrap();
/// # let (mut writer, _) = podsync::Store::<podsync::Writer>::open(&dir, Some(&schema),
/// #     &podsync::StoreOptions::new(), &podsync::Durability::new()).unwrap();
/// let checkpoint = writer.begin_checkpoint().unwrap();
/// needs_sync(&checkpoint); // error[E0277]: `NonNull<podsync_checkpoint>` cannot be shared between threads
/// ```
pub struct Checkpoint {
    /// `None` once finished, failed (freed by `step`) or dropped.
    handle: Option<NonNull<sys::podsync_checkpoint>>,
    registry: Arc<Registry>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Writing,
    Finished,
    Failed,
}

// SAFETY: the library keeps no thread-affine state. The handle is used only inside step, which
// holds `&mut` of its store (checked to be the right one), so never concurrently with the store;
// Drop hands the handle to the store (Registry) while the store lives. Checkpoint is not Sync
// (NonNull is not).
unsafe impl Send for Checkpoint {}

impl Checkpoint {
    /// Writes at least one chunk of the checkpoint and about `max_bytes` (0: everything left)
    /// (`podsync_checkpoint_step`). Returns `true` when the checkpoint is complete and durable
    /// (as [`Store::checkpoint`]: a new log segment began, and files older than the kept
    /// checkpoints were removed), `false` while more remains. After it completed, `true` again
    /// without writing anything.
    ///
    /// `store` must be the store the checkpoint was begun on; passing it here is how the borrow
    /// checker proves that the two are not used at the same time.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] if `store` is not this checkpoint's (checked by this
    /// binding; nothing is written), or if an earlier step failed (begin a new checkpoint);
    /// [`ErrorKind::Io`] if a write, the fsync or the rename fails (disk full, read-only
    /// directory): the checkpoint is abandoned, its temporary file removed, the older files and
    /// the store as they were; [`ErrorKind::NoMemory`].
    pub fn step<R: Role>(&mut self, store: &mut Store<R>, max_bytes: usize) -> Result<bool> {
        if !Arc::ptr_eq(&self.registry, store.registry()) {
            return Err(Error::from_kind(
                ErrorKind::InvalidArgument,
                "Checkpoint::step: the checkpoint was begun on another store than the one passed \
                 (checked by the Rust binding)",
            ));
        }
        store.reap_snapshots();
        let handle = match (self.state, self.handle) {
            (State::Finished, _) => return Ok(true),
            (State::Writing, Some(h)) => h,
            _ => {
                return Err(Error::from_kind(
                    ErrorKind::InvalidArgument,
                    "Checkpoint::step: this checkpoint was abandoned after an error; begin a new one",
                ));
            }
        };
        // SAFETY: a live handle (tracked by the registry of `store`, which is alive and borrowed
        // mutably: nothing else uses it).
        let st = unsafe { sys::podsync_checkpoint_step(handle.as_ptr(), max_bytes) };
        let result = match st {
            sys::PODSYNC_OK => return Ok(false),
            sys::PODSYNC_DONE => {
                self.state = State::Finished;
                Ok(true)
            }
            s => {
                self.state = State::Failed;
                Err(if s < 0 {
                    self.error(handle, s)
                } else {
                    unexpected("podsync_checkpoint_step", s)
                })
            }
        };
        // Finished or abandoned: nothing more to do with the handle; free it while the store is
        // borrowed.
        self.handle = None;
        // SAFETY: `store` (this registry's) is borrowed mutably; the handle is not used again.
        unsafe { self.registry.free_checkpoint(handle) };
        result
    }

    /// Writes everything left of the checkpoint: [`step`](Checkpoint::step) with `max_bytes` 0.
    ///
    /// # Errors
    ///
    /// As [`step`](Checkpoint::step).
    pub fn finish<R: Role>(&mut self, store: &mut Store<R>) -> Result<()> {
        self.step(store, 0).map(|_| ())
    }

    /// True once the checkpoint is complete and durable.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    fn error(&self, handle: NonNull<sys::podsync_checkpoint>, st: i32) -> Error {
        // SAFETY: a live handle; the message is copied before any other call on it.
        let message = copy_message(unsafe { sys::podsync_checkpoint_errmsg(handle.as_ptr()) });
        let message = if message.is_empty() { last_message() } else { message };
        Error::new(st, message)
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.registry.release_checkpoint(h);
        }
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint").field("state", &self.state).finish()
    }
}

impl<R: Role> Store<R> {
    /// Writes a checkpoint of a durable store now (`podsync_store_checkpoint`, since library
    /// 0.6.0): the state as of the last flush (writer) or apply (replica), every chunk at once
    /// (see [`begin_checkpoint`](Store::begin_checkpoint) to spread the work). On success the
    /// checkpoint is complete and durable (written to a temporary file, fsynced, renamed, the
    /// directory fsynced), a new log segment starts ([`StoreInfo::log_bytes`](crate::StoreInfo::log_bytes)
    /// 0) and files older than the kept checkpoints ([`Durability::keep_checkpoints`](crate::Durability::keep_checkpoints))
    /// are removed. It also heals a failed log ([`StoreInfo::log_failed`](crate::StoreInfo::log_failed)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a store that was not opened with
    /// [`Store::open`](Store::open), or while a [`Checkpoint`] of it is being written;
    /// [`ErrorKind::Diverged`] on a diverged or refreshing replica (its state is no writer's;
    /// its log keeps what it applies); [`ErrorKind::Io`] (disk full, read-only directory):
    /// nothing of the new checkpoint remains, and the older files and the store are as they
    /// were; [`ErrorKind::NoMemory`].
    pub fn checkpoint(&mut self) -> Result<()> {
        self.reap_snapshots();
        // SAFETY: valid handle, used by this thread only (`&mut self`).
        let st = unsafe { sys::podsync_store_checkpoint(self.raw_handle()) };
        match st {
            s if s < 0 => Err(self.error_of(s)),
            sys::PODSYNC_OK => Ok(()),
            other => Err(unexpected("podsync_store_checkpoint", other)),
        }
    }

    /// Starts a checkpoint of the store's state now, to be written step by step with
    /// [`Checkpoint::step`] while the store keeps working (`podsync_checkpoint_begin`, since
    /// library 0.6.0). Chunks are of at most 4 MiB, or of
    /// [`max_frame_bytes`](crate::StoreOptions::max_frame_bytes) when that is less.
    ///
    /// # Errors
    ///
    /// As [`checkpoint`](Store::checkpoint): [`ErrorKind::InvalidArgument`] for a store without
    /// files or while another checkpoint of it is being written, [`ErrorKind::Diverged`],
    /// [`ErrorKind::Io`] (the temporary file cannot be created or written),
    /// [`ErrorKind::NoMemory`].
    pub fn begin_checkpoint(&mut self) -> Result<Checkpoint> {
        self.reap_snapshots();
        let mut out: *mut sys::podsync_checkpoint = ptr::null_mut();
        // SAFETY: valid handle and out-pointer.
        let st = unsafe { sys::podsync_checkpoint_begin(self.raw_handle(), &mut out) };
        match NonNull::new(out) {
            Some(handle) if st == sys::PODSYNC_OK => {
                self.registry().track_checkpoint(handle);
                Ok(Checkpoint {
                    handle: Some(handle),
                    registry: Arc::clone(self.registry()),
                    state: State::Writing,
                })
            }
            other => {
                if let Some(h) = other {
                    // Not expected (the header says *out is set on success only); do not leak it.
                    // SAFETY: the library returned this handle to us; nothing else refers to it.
                    unsafe { sys::podsync_checkpoint_free(h.as_ptr()) };
                }
                Err(if st < 0 {
                    self.error_of(st)
                } else {
                    unexpected("podsync_checkpoint_begin", st)
                })
            }
        }
    }
}
