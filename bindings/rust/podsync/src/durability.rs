//! Durable stores (since library 0.6.0): a store that lives in a directory as well as in memory,
//! restored from its checkpoints and frame log when it is opened again ([`Store::open`],
//! [`AnyStore::open`], [`Durability`], [`OpenInfo`], [`Store::sync`]). Checkpoints are in
//! `checkpoint.rs`, promotion in `failover.rs`.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result, last_message};
use crate::schema::{Schema, TableMeta, table_metas};
use crate::store::{Replica, Role, Store, StoreOptions, StoreRole, Writer, unexpected};

/// When a durable store's frame log reaches the disk (`PODSYNC_LOG_*`, since library 0.6.0), and
/// so what a writer proves when it reopens.
///
/// | policy | a kill of the process loses | a power loss loses | a reopened writer is |
/// |---|---|---|---|
/// | [`EveryFrame`](LogPolicy::EveryFrame) (default) | nothing handed out | nothing handed out | at the last version it handed out, in the same term |
/// | [`Interval`](LogPolicy::Interval) | nothing written | up to `sync_interval_ms` of frames | at its last durable version, in a new term |
/// | [`Os`](LogPolicy::Os) | nothing written | what the OS had not written back | at its last durable version, in a new term |
/// | [`None`](LogPolicy::None) | everything after the last checkpoint | the same | at its last checkpoint, in a new term |
///
/// `#[non_exhaustive]`: later libraries may add policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LogPolicy {
    /// `PODSYNC_LOG_NONE`: no frame log; the store reopens at its last checkpoint.
    None,
    /// `PODSYNC_LOG_EVERY_FRAME` (the default): a writer logs and fsyncs the frames of a flush
    /// before [`Store::flush`] returns them, a replica each frame it applied.
    #[default]
    EveryFrame,
    /// `PODSYNC_LOG_INTERVAL`: fsync at the first append, flush or flush_due call after
    /// [`sync_interval_ms`](Durability::sync_interval_ms) passed since the last one (and on
    /// [`Store::sync`]).
    Interval,
    /// `PODSYNC_LOG_OS`: write, never fsync: survives a kill of the process, not a power loss.
    Os,
}

impl LogPolicy {
    /// The `PODSYNC_LOG_*` value.
    pub fn raw(self) -> u32 {
        match self {
            LogPolicy::None => sys::PODSYNC_LOG_NONE,
            LogPolicy::EveryFrame => sys::PODSYNC_LOG_EVERY_FRAME,
            LogPolicy::Interval => sys::PODSYNC_LOG_INTERVAL,
            LogPolicy::Os => sys::PODSYNC_LOG_OS,
        }
    }

    /// The policy of a `PODSYNC_LOG_*` value.
    pub fn from_raw(raw: u32) -> Option<LogPolicy> {
        match raw {
            sys::PODSYNC_LOG_NONE => Some(LogPolicy::None),
            sys::PODSYNC_LOG_EVERY_FRAME => Some(LogPolicy::EveryFrame),
            sys::PODSYNC_LOG_INTERVAL => Some(LogPolicy::Interval),
            sys::PODSYNC_LOG_OS => Some(LogPolicy::Os),
            _ => None,
        }
    }
}

/// How a durable store logs and checkpoints (`podsync_durability_options`, struct version 1,
/// since library 0.6.0). `Durability::default()` holds the library's defaults
/// (`podsync_durability_options_init`): [`LogPolicy::EveryFrame`], an interval of 100 ms, new
/// term 0 (previous + 1), two checkpoints kept. The methods change one option each.
///
/// ```
/// use podsync::{Durability, LogPolicy};
/// let d = Durability::new()
///     .log_policy(LogPolicy::Interval)
///     .sync_interval_ms(20)  // fsync the log at most 20 ms after a frame
///     .new_term(7)           // the term a writer starts if it cannot prove it lost nothing
///     .keep_checkpoints(3);
/// assert_eq!(d.raw().log_policy, podsync::sys::PODSYNC_LOG_INTERVAL);
/// assert_eq!((d.raw().sync_interval_ms, d.raw().new_term, d.raw().keep_checkpoints), (20, 7, 3));
/// assert_eq!(Durability::default().policy(), Some(LogPolicy::EveryFrame));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    raw: sys::podsync_durability_options,
}

impl Default for Durability {
    fn default() -> Durability {
        let mut raw = sys::PODSYNC_DURABILITY_OPTIONS_INIT;
        // SAFETY: raw is a valid, writable options struct of the version passed.
        let st = unsafe {
            sys::podsync_durability_options_init(&mut raw, sys::PODSYNC_DURABILITY_OPTIONS_VERSION)
        };
        if st < 0 {
            raw = sys::PODSYNC_DURABILITY_OPTIONS_INIT;
        }
        Durability { raw }
    }
}

impl Durability {
    /// The library's defaults.
    pub fn new() -> Durability {
        Durability::default()
    }

    /// When the frame log reaches the disk (default [`LogPolicy::EveryFrame`]).
    pub fn log_policy(mut self, policy: LogPolicy) -> Durability {
        self.raw.log_policy = policy.raw();
        self
    }

    /// The log policy set, or `None` for a raw value this binding does not know.
    pub fn policy(&self) -> Option<LogPolicy> {
        LogPolicy::from_raw(self.raw.log_policy)
    }

    /// [`LogPolicy::Interval`]: the most time between a frame and the fsync that makes it
    /// durable, in milliseconds (default 100).
    pub fn sync_interval_ms(mut self, ms: u64) -> Durability {
        self.raw.sync_interval_ms = ms;
        self
    }

    /// The term a writer that reopens without proof that it lost nothing starts (default 0: its
    /// previous term + 1). Terms of a stream must be unique: where replicas may be promoted
    /// ([`Store::promote`]), pass the term your coordinator assigns.
    pub fn new_term(mut self, term: u64) -> Durability {
        self.raw.new_term = term;
        self
    }

    /// Complete checkpoints kept, at least 1 (default 2: the newest and the one before, with the
    /// logs from it on, so a newest checkpoint that does not verify falls back to the one before
    /// without losing a version). 0 is refused by [`Store::open`] ([`ErrorKind::InvalidArgument`]).
    pub fn keep_checkpoints(mut self, n: u32) -> Durability {
        self.raw.keep_checkpoints = n;
        self
    }

    /// The C struct.
    pub fn raw(&self) -> &sys::podsync_durability_options {
        &self.raw
    }

    /// Options from a C struct (passed to the library as is).
    pub fn from_raw(raw: sys::podsync_durability_options) -> Durability {
        Durability { raw }
    }
}

/// What [`Store::open`] found in the directory (`podsync_open_info`, since library 0.6.0).
///
/// `#[non_exhaustive]`: later libraries may report more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OpenInfo {
    /// The directory held no checkpoint: a new store was made and its first checkpoint (version
    /// 0) written (`PODSYNC_OPENED_CREATED`).
    pub created: bool,
    /// The writer started a new term (`PODSYNC_OPENED_NEW_TERM`): it could not prove that it lost
    /// nothing it handed out (a policy other than [`LogPolicy::EveryFrame`], a damaged log), or
    /// it was told to. Replicas past its restored version get
    /// [`ErrorKind::HistoryDiverged`] and heal with a snapshot.
    pub new_term: bool,
    /// A newer checkpoint did not verify and an older one was restored
    /// (`PODSYNC_OPENED_FALLBACK`); [`skipped`](OpenInfo::skipped) says why.
    pub fallback: bool,
    /// The version of the checkpoint restored.
    pub checkpoint_version: u64,
    /// The version after replaying the log.
    pub restored_version: u64,
    /// Log frames replayed (duplicates of the checkpoint included).
    pub log_frames: u64,
    /// Log bytes dropped from the first torn or corrupt record on (later segments included).
    pub dropped_bytes: u64,
    /// The term the store writes (writer) or follows (replica).
    pub term: u64,
    /// Why a newer checkpoint was skipped (usually [`ErrorKind::FileCorrupt`]); `None` if none
    /// was.
    pub skipped: Option<ErrorKind>,
}

impl OpenInfo {
    /// The information a C struct holds (its `version` is not checked).
    pub fn from_raw(raw: &sys::podsync_open_info) -> OpenInfo {
        OpenInfo {
            created: raw.flags & sys::PODSYNC_OPENED_CREATED != 0,
            new_term: raw.flags & sys::PODSYNC_OPENED_NEW_TERM != 0,
            fallback: raw.flags & sys::PODSYNC_OPENED_FALLBACK != 0,
            checkpoint_version: raw.checkpoint_version,
            restored_version: raw.restored_version,
            log_frames: raw.log_frames,
            dropped_bytes: raw.dropped_bytes,
            term: raw.term,
            skipped: (raw.skipped_status != 0).then(|| ErrorKind::from_status(raw.skipped_status)),
        }
    }
}

/// A durable store of the role its files hold ([`AnyStore::open`]), for programs that learn the
/// role from the directory.
#[derive(Debug)]
pub enum AnyStore {
    /// The files held a writer.
    Writer(Store<Writer>),
    /// The files held a replica.
    Replica(Store<Replica>),
}

impl AnyStore {
    /// Opens the durable store in `directory` as [`Store::open`] does, in the role its files hold
    /// (`podsync_store_open` with role 0).
    ///
    /// # Errors
    ///
    /// As [`Store::open`], and [`ErrorKind::InvalidArgument`] for a directory without a
    /// checkpoint (creating a store needs a role: use [`Store::open`]).
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn open(
        directory: impl AsRef<Path>,
        schema: Option<&Schema>,
        options: &StoreOptions,
        durability: &Durability,
    ) -> Result<(AnyStore, OpenInfo)> {
        let directory = directory.as_ref();
        let (ptr, role, info) = open_raw(directory, schema, 0, options, durability)?;
        let tables = tables_of(ptr, directory, schema)?;
        // SAFETY: a handle just opened, of the role the library reports, with its schema's tables.
        let store = unsafe {
            match role {
                StoreRole::Writer => AnyStore::Writer(Store::from_raw_parts(ptr, tables)),
                StoreRole::Replica => AnyStore::Replica(Store::from_raw_parts(ptr, tables)),
            }
        };
        Ok((store, info))
    }

    /// The role of the store.
    pub fn role(&self) -> StoreRole {
        match self {
            AnyStore::Writer(_) => StoreRole::Writer,
            AnyStore::Replica(_) => StoreRole::Replica,
        }
    }

    /// The writer, or `None` for a replica.
    pub fn into_writer(self) -> Option<Store<Writer>> {
        match self {
            AnyStore::Writer(w) => Some(w),
            AnyStore::Replica(_) => None,
        }
    }

    /// The replica, or `None` for a writer.
    pub fn into_replica(self) -> Option<Store<Replica>> {
        match self {
            AnyStore::Replica(r) => Some(r),
            AnyStore::Writer(_) => None,
        }
    }
}

impl<R: Role> Store<R> {
    /// Opens the durable store in `directory`, or creates one there (`podsync_store_open`, since
    /// library 0.6.0). Returns the store and what was found ([`OpenInfo`]).
    ///
    /// - A directory without a checkpoint (missing, or empty: the library creates the directory,
    ///   not its parents): a store of `schema` (required) in role `R` is created, and its first
    ///   checkpoint (version 0) written at once, so a writer's stream id
    ///   ([`StoreOptions::stream_id`]) is durable before its first frame
    ///   ([`OpenInfo::created`]).
    /// - Otherwise the newest checkpoint that verifies is restored, then the frame log after it,
    ///   checking every checksum and stopping at the first torn or corrupt record
    ///   ([`OpenInfo::dropped_bytes`]); a newer checkpoint that does not verify is skipped
    ///   ([`OpenInfo::fallback`]). `schema` may be `None` (the binding then reads it from the
    ///   newest checkpoint file that holds the store's); given, it must be the store's. A
    ///   restored writer keeps its stream id, version and record versions: replicas continue with
    ///   deltas. With [`LogPolicy::EveryFrame`] it reopens at exactly the last version it handed
    ///   out, in the same term; otherwise at its last durable version in a new term
    ///   ([`OpenInfo::new_term`], [`Durability::new_term`]).
    ///
    /// `options` as for [`Store::with_options`] ([`stream_id`](StoreOptions::stream_id) is used
    /// only when creating). The store then logs what it does as `durability` says: a writer the
    /// frames of each [`flush`](Store::flush) before returning them, a replica each frame it
    /// applied. [`checkpoint`](Store::checkpoint) when [`StoreInfo::log_bytes`](crate::StoreInfo::log_bytes)
    /// grows large.
    ///
    /// The directory is locked while the store is open: until it is dropped and, since a
    /// [`Snapshot`](crate::Snapshot) keeps its C store alive, until its last snapshot is dropped
    /// too (a [`Checkpoint`](crate::Checkpoint) is abandoned when its store is dropped).
    ///
    /// ```
    /// use podsync::{Durability, Schema, Store, StoreOptions, Writer};
    /// # fn main() -> podsync::Result<()> {
    /// let dir = std::env::temp_dir().join(format!("podsync-doc-open-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let (mut writer, found) =
    ///     Store::<Writer>::open(&dir, Some(&schema), &StoreOptions::new(), &Durability::new())?;
    /// assert!(found.created);
    /// writer.put_as(1, 7, &42u64)?;
    /// writer.flush()?; // logged and fsynced before the frame is handed out
    /// drop(writer);
    ///
    /// // Reopened: the same version, stream and term; the schema comes from the files.
    /// let (writer, found) = Store::<Writer>::open(&dir, None, &StoreOptions::new(), &Durability::new())?;
    /// assert!(!found.created && !found.new_term);
    /// assert_eq!((writer.version()?, writer.get_as::<u64>(1, 7)?), (1, Some(&42)));
    /// # drop(writer);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Io`]: the directory cannot be created, read or locked (another store has
    ///   it open);
    /// - [`ErrorKind::FileCorrupt`]: no checkpoint verifies, or a log segment belongs to another
    ///   stream or schema; also when `schema` is `None` and no checkpoint file holds a schema of
    ///   the store's hash (pass the schema);
    /// - [`ErrorKind::InvalidArgument`]: no checkpoint and no `schema` to create a store of, an
    ///   option the library rejects (as for [`Store::with_options`], or
    ///   [`keep_checkpoints`](Durability::keep_checkpoints) 0), a path containing a NUL byte
    ///   (checked by this binding);
    /// - [`ErrorKind::SchemaMismatch`]: `schema` is not the store's;
    /// - [`ErrorKind::WrongRole`]: the files hold a store of the other role (open it as such, or
    ///   with [`AnyStore::open`]);
    /// - [`ErrorKind::NoMemory`], or an error of a frame inside the files.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn open(
        directory: impl AsRef<Path>,
        schema: Option<&Schema>,
        options: &StoreOptions,
        durability: &Durability,
    ) -> Result<(Store<R>, OpenInfo)> {
        crate::store::refuse_feed::<R>("Store::open")?;
        let directory = directory.as_ref();
        let (ptr, _, info) = open_raw(directory, schema, R::ROLE.raw(), options, durability)?;
        let tables = tables_of(ptr, directory, schema)?;
        // SAFETY: a handle just opened in role R (the library refuses another), with its schema's
        // tables.
        Ok((unsafe { Store::from_raw_parts(ptr, tables) }, info))
    }

    /// Forces the frame log of a durable store to disk now (`podsync_store_sync`, an fsync),
    /// whatever its [`LogPolicy`]: every frame handed out or applied so far survives a power loss
    /// ([`StoreInfo::durable_version`](crate::StoreInfo::durable_version) reaches the store's
    /// version). A writer reopened after a power loss still starts a new term unless its policy
    /// is [`LogPolicy::EveryFrame`] (it cannot prove that nothing came after the sync).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] if the fsync fails; [`ErrorKind::InvalidArgument`] for a store that was
    /// not opened with [`Store::open`] (it has no log).
    pub fn sync(&mut self) -> Result<()> {
        self.reap_snapshots();
        // SAFETY: valid handle, used by this thread only (`&mut self`).
        let st = unsafe { sys::podsync_store_sync(self.raw_handle()) };
        match st {
            s if s < 0 => Err(self.error_of(s)),
            sys::PODSYNC_OK => Ok(()),
            other => Err(unexpected("podsync_store_sync", other)),
        }
    }
}

/// `podsync_store_open`: the handle, its role and what was found.
fn open_raw(
    directory: &Path,
    schema: Option<&Schema>,
    role: u32,
    options: &StoreOptions,
    durability: &Durability,
) -> Result<(NonNull<sys::podsync_store>, StoreRole, OpenInfo)> {
    crate::ensure_abi();
    let path = CString::new(directory.as_os_str().as_bytes()).map_err(|_| {
        Error::from_kind(
            ErrorKind::InvalidArgument,
            format!(
                "Store::open: the path {} contains a NUL byte (checked by the Rust binding)",
                directory.display()
            ),
        )
    })?;
    let mut info = sys::PODSYNC_OPEN_INFO_INIT;
    let mut out: *mut sys::podsync_store = ptr::null_mut();
    // SAFETY: a NUL-terminated path, a valid schema handle (or NULL), valid options structs, a
    // version-1 info struct and an out-pointer.
    let st = unsafe {
        sys::podsync_store_open(
            path.as_ptr(),
            schema.map_or(ptr::null(), |s| s.as_ptr()),
            role,
            options.raw(),
            durability.raw(),
            &mut info,
            &mut out,
        )
    };
    let ptr = match NonNull::new(out) {
        Some(ptr) if st >= 0 => ptr,
        other => {
            if let Some(p) = other {
                // Not expected (the header says *out is NULL on failure); do not leak it.
                // SAFETY: the library returned this handle to us; nothing else refers to it.
                unsafe { sys::podsync_store_free(p.as_ptr()) };
            }
            // No handle: the message is the thread's last error.
            let message = if st < 0 { last_message() } else { String::new() };
            return Err(Error::new(
                if st < 0 { st } else { sys::PODSYNC_E_INTERNAL },
                if message.is_empty() {
                    format!("podsync_store_open ({}) failed", directory.display())
                } else {
                    format!("podsync_store_open ({}): {message}", directory.display())
                },
            ));
        }
    };
    let mut raw = sys::PODSYNC_STORE_INFO_INIT;
    // SAFETY: a valid handle and info struct.
    let st = unsafe { sys::podsync_store_info_get(ptr.as_ptr(), &mut raw) };
    match StoreRole::from_raw(raw.role) {
        Some(role) if st == sys::PODSYNC_OK => Ok((ptr, role, OpenInfo::from_raw(&info))),
        _ => {
            // SAFETY: the handle was just opened and is freed once.
            unsafe { sys::podsync_store_free(ptr.as_ptr()) };
            Err(Error::from_kind(
                ErrorKind::Internal,
                format!(
                    "podsync_store_info_get after podsync_store_open: status {st}, role {}",
                    raw.role
                ),
            ))
        }
    }
}

/// The tables of the store just opened: the schema's given, else those of the schema in its
/// checkpoint files. Frees the handle on error.
fn tables_of(
    ptr: NonNull<sys::podsync_store>,
    directory: &Path,
    schema: Option<&Schema>,
) -> Result<Box<[TableMeta]>> {
    let found = match schema {
        Some(s) => table_metas(s),
        None => {
            let mut raw = sys::PODSYNC_STORE_INFO_INIT;
            // SAFETY: a valid handle and info struct.
            let st = unsafe { sys::podsync_store_info_get(ptr.as_ptr(), &mut raw) };
            if st < 0 {
                Err(Error::new(st, "podsync_store_info_get after podsync_store_open failed"))
            } else {
                schema_of_directory(directory, raw.schema_hash).and_then(|s| table_metas(&s))
            }
        }
    };
    if found.is_err() {
        // SAFETY: the handle was just opened, is not wrapped yet, and is freed once.
        unsafe { sys::podsync_store_free(ptr.as_ptr()) };
    }
    found
}

/// The schema of hash `schema_hash` from the SCHEMA block of the directory's checkpoints, newest
/// first (docs/FORMAT.md, "Files": a 48-byte file header whose header_length is at byte 12, then
/// blocks of a 24-byte header, kind u32 and length u64 at byte 8, and the body). The C API has no
/// call that returns a store's schema, and the binding needs its tables to read records. The
/// block's checksum is not checked here: the body is decoded ([`Schema::from_bytes`] validates
/// every byte) and its hash compared with the store's.
fn schema_of_directory(directory: &Path, schema_hash: u64) -> Result<Schema> {
    let mut names: Vec<_> = fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|n| {
                    let n = n.as_bytes();
                    n.starts_with(b"checkpoint-") && n.ends_with(b".psc")
                })
                .collect()
        })
        .unwrap_or_default();
    // Fixed-width hex numbers: the newest sorts last.
    names.sort();
    for name in names.iter().rev() {
        let Some(body) = schema_block(&directory.join(name)) else { continue };
        if let Ok(schema) = Schema::from_bytes(&body) {
            if schema.hash().ok() == Some(schema_hash) {
                return Ok(schema);
            }
        }
    }
    Err(Error::from_kind(
        ErrorKind::FileCorrupt,
        format!(
            "no checkpoint in {} holds the schema of the store opened (hash {schema_hash:016x}); \
             pass the schema to Store::open (checked by the Rust binding)",
            directory.display()
        ),
    ))
}

/// The body of a checkpoint file's first block if it is a SCHEMA block.
fn schema_block(path: &Path) -> Option<Vec<u8>> {
    const FILE_HEADER: usize = 48;
    const BLOCK_HEADER: usize = 24;
    const KIND_SCHEMA: u32 = 1;
    const MAX_SCHEMA: u64 = 64 << 20;
    let mut file = fs::File::open(path).ok()?;
    let mut head = [0u8; FILE_HEADER];
    file.read_exact(&mut head).ok()?;
    if &head[..8] != b"PSYNCKPT" {
        return None;
    }
    let header_length = u32::from_le_bytes(head[12..16].try_into().ok()?);
    if (header_length as usize) < FILE_HEADER {
        return None;
    }
    file.seek(SeekFrom::Start(u64::from(header_length))).ok()?;
    let mut block = [0u8; BLOCK_HEADER];
    file.read_exact(&mut block).ok()?;
    let kind = u32::from_le_bytes(block[0..4].try_into().ok()?);
    let length = u64::from_le_bytes(block[8..16].try_into().ok()?);
    if kind != KIND_SCHEMA || length > MAX_SCHEMA {
        return None;
    }
    let mut body = vec![0u8; usize::try_from(length).ok()?];
    file.read_exact(&mut body).ok()?;
    Some(body)
}
