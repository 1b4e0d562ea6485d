//! Freeing the handles that belong to a store for threading (chunked snapshots, checkpoints
//! written step by step) by their store's rules.
//!
//! The header says a snapshot "belongs to its store for threading: use both from one thread at a
//! time", and a checkpoint the same; freeing one is a use. A [`Snapshot`](crate::Snapshot) or a
//! [`Checkpoint`](crate::Checkpoint) does not borrow its [`Store`](crate::Store) (the store keeps
//! working while it streams), so its `Drop`, which may run on any thread, cannot know that the
//! store is not in use elsewhere. While the store lives, a dropped handle is therefore handed to
//! the store, which frees it from its next call (it then holds a borrow of itself, so no other
//! thread uses it) or when it is dropped.
//!
//! Once the store is gone: a snapshot keeps the C store alive (the header says so) and frees its
//! handle itself; a checkpoint still alive is abandoned by the store's drop, before the store is
//! freed (it cannot be stepped without its store any more, and it must not keep the directory
//! locked). The lock orders all these frees with the store's own free.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use podsync_sys as sys;

/// A handle waiting to be freed, or a live checkpoint the store abandons when it is dropped.
enum Handle {
    Snapshot(NonNull<sys::podsync_snapshot>),
    Checkpoint(NonNull<sys::podsync_checkpoint>),
}

// SAFETY: a handle is only a value here; it is freed under the registry's lock, by the store's
// thread (with a borrow of the store), by the store's drop, or (a snapshot) after the store was
// freed.
unsafe impl Send for Handle {}

impl Handle {
    /// Frees the handle.
    ///
    /// # Safety
    ///
    /// A handle the library returned, freed once; no other thread uses its store meanwhile.
    unsafe fn free(self) {
        match self {
            // SAFETY: as the caller guarantees.
            Handle::Snapshot(h) => unsafe { sys::podsync_snapshot_free(h.as_ptr()) },
            // SAFETY: as the caller guarantees; an unfinished checkpoint is abandoned.
            Handle::Checkpoint(h) => unsafe { sys::podsync_checkpoint_free(h.as_ptr()) },
        }
    }
}

/// The handles of one store (shared by the store and its snapshots and checkpoints; its identity
/// is the store's, which `Arc::ptr_eq` compares).
pub(crate) struct Registry {
    /// Some handle waits in `state.dropped` (a hint read without the lock).
    pending: AtomicBool,
    state: Mutex<RegistryState>,
}

struct RegistryState {
    store_alive: bool,
    /// Handles dropped while the store lives, freed by its next call.
    dropped: Vec<Handle>,
    /// Checkpoints not dropped yet: the store's drop abandons them.
    live_checkpoints: Vec<Handle>,
}

impl Registry {
    pub(crate) fn new() -> Arc<Registry> {
        Arc::new(Registry {
            pending: AtomicBool::new(false),
            state: Mutex::new(RegistryState {
                store_alive: true,
                dropped: Vec::new(),
                live_checkpoints: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, RegistryState> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Frees the handles dropped since the last call.
    ///
    /// # Safety
    ///
    /// The caller holds a borrow of the store this registry belongs to, on the thread using it
    /// (a `Store` is not `Sync`, so no other thread uses it meanwhile).
    pub(crate) unsafe fn reap(&self) {
        if !self.pending.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.lock();
        for h in state.dropped.drain(..) {
            // SAFETY: a handle the library gave us, freed once (it left the list); the caller
            // guarantees that the store is not used by another thread meanwhile.
            unsafe { h.free() };
        }
        self.pending.store(false, Ordering::Release);
    }

    /// The store's `Drop`: frees the dropped handles and abandons the live checkpoints, then
    /// frees the store; from then on snapshots free their handles themselves.
    ///
    /// # Safety
    ///
    /// `store` is this registry's store, owned by the caller, and freed by this call only.
    pub(crate) unsafe fn close_store(&self, store: *mut sys::podsync_store) {
        let mut state = self.lock();
        let state = &mut *state;
        for h in state.dropped.drain(..).chain(state.live_checkpoints.drain(..)) {
            // SAFETY: as in reap(); the store is being dropped by its owner. A live checkpoint's
            // owner sees `store_alive` false from now on and does not free it again.
            unsafe { h.free() };
        }
        // SAFETY: the caller owns the handle; snapshots still alive keep the C store alive.
        unsafe { sys::podsync_store_free(store) };
        state.store_alive = false;
        self.pending.store(false, Ordering::Release);
    }

    /// A snapshot's `Drop`.
    pub(crate) fn release_snapshot(&self, handle: NonNull<sys::podsync_snapshot>) {
        let mut state = self.lock();
        if state.store_alive {
            state.dropped.push(Handle::Snapshot(handle));
            self.pending.store(true, Ordering::Release);
        } else {
            // SAFETY: the Rust store was dropped, so nothing uses the C store but its snapshots,
            // whose frees are serialized by this lock; this handle is freed once.
            unsafe { Handle::Snapshot(handle).free() };
        }
    }

    /// A checkpoint just begun on this registry's store: abandoned by the store's drop unless it
    /// is released first.
    pub(crate) fn track_checkpoint(&self, handle: NonNull<sys::podsync_checkpoint>) {
        self.lock().live_checkpoints.push(Handle::Checkpoint(handle));
    }

    /// A checkpoint's `Drop`: the store frees the handle at its next call, or already abandoned
    /// it when it was dropped.
    pub(crate) fn release_checkpoint(&self, handle: NonNull<sys::podsync_checkpoint>) {
        let mut state = self.lock();
        if !state.store_alive {
            return; // freed by close_store
        }
        state.live_checkpoints.retain(|h| !matches!(h, Handle::Checkpoint(p) if *p == handle));
        state.dropped.push(Handle::Checkpoint(handle));
        self.pending.store(true, Ordering::Release);
    }

    /// Frees a live checkpoint now (it finished or failed).
    ///
    /// # Safety
    ///
    /// As [`reap`](Registry::reap): the caller holds a borrow of this registry's store; `handle`
    /// is tracked here and not used again.
    pub(crate) unsafe fn free_checkpoint(&self, handle: NonNull<sys::podsync_checkpoint>) {
        let mut state = self.lock();
        state.live_checkpoints.retain(|h| !matches!(h, Handle::Checkpoint(p) if *p == handle));
        // SAFETY: as the caller guarantees; it left the list, so it is freed once.
        unsafe { Handle::Checkpoint(handle).free() };
    }
}
