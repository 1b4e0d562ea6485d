//! Durable stores and failover (library 0.6.0): `Store::open` creating and restoring a directory
//! (digest, version, stream id, schema read from the files), what a reopened writer proves with
//! each log policy (same term with `EveryFrame`, a new term carried by its frames with `Os`),
//! checkpoints written step by step while the writer keeps writing, promotion (a replica behind
//! continues with deltas, one ahead is told and healed by a snapshot, the old writer is fenced),
//! a corrupt newest checkpoint, and a locked directory.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use podsync::frame;
use podsync::{
    AnyStore, Applied, Delta, Durability, ErrorKind, LogPolicy, OpenInfo, Replica, Schema, Store,
    StoreOptions, StoreRole, Writer,
};

/// A fresh directory under the system's temporary directory, unique to this process and test,
/// removed (with everything in it) on drop. The stores live in subdirectories of it, which the
/// library creates.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir()
            .join(format!("podsync-rs-durability-{tag}-{}-{nanos:x}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The names of the files of a store's directory that start with `prefix`, sorted (the newest
/// checkpoint or segment last).
fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

fn opts() -> StoreOptions {
    StoreOptions::new()
}

fn open_writer(dir: &Path, schema: Option<&Schema>, d: &Durability) -> (Store<Writer>, OpenInfo) {
    Store::<Writer>::open(dir, schema, &opts(), d).unwrap()
}

/// Puts `n` entities from key `from` (x = `x + key`) and one pair, then flushes: one version.
fn write_batch(w: &mut Store<Writer>, from: u64, n: u64, x: f32) {
    let keys: Vec<u64> = (from..from + n).collect();
    let records: Vec<Entity> = keys.iter().map(|&k| Entity::new(k, x + k as f32)).collect();
    w.put_many(ENTITIES, &keys, &records).unwrap();
    w.put_as(PAIRS, from, &[from, x.to_bits() as u64]).unwrap();
    w.flush().unwrap();
}

/// Applies every frame of `w`'s outbox to `r`, expecting each to apply.
fn follow(r: &mut Store<Replica>, w: &Store<Writer>) {
    for f in w.frames() {
        assert_eq!(r.apply(f).unwrap(), Applied::Ok);
    }
}

type Tables = (Vec<(u64, Vec<u8>)>, Vec<(u64, Vec<u8>)>);

fn tables<R: podsync::Role>(s: &Store<R>) -> Tables {
    (dump(s, ENTITIES), dump(s, PAIRS))
}

#[test]
fn a_created_store_reopens_with_its_digest_version_stream_and_schema() {
    let tmp = TempDir::new("roundtrip");
    let dir = tmp.join("writer");
    let schema = schema();
    let opts = opts().stream_id(0x5eed_0000_0000_0001);
    let d = Durability::new();

    let (mut w, found) = Store::<Writer>::open(&dir, Some(&schema), &opts, &d).unwrap();
    assert!(found.created && !found.new_term && !found.fallback, "{found:?}");
    assert_eq!((found.checkpoint_version, found.restored_version, found.skipped), (0, 0, None));
    assert_eq!(files(&dir, "checkpoint-").len(), 1, "the first checkpoint is written at once");
    let info = w.info().unwrap();
    assert!(info.durable && !info.log_failed);
    assert_eq!(
        (info.stream_id, info.state_version, info.term),
        (0x5eed_0000_0000_0001, 0, found.term)
    );

    write_batch(&mut w, 0, 50, 1.0);
    write_batch(&mut w, 40, 20, 2.0);
    assert!(w.delete(ENTITIES, 3).unwrap().found());
    w.flush().unwrap();
    let before = w.info().unwrap();
    let content = tables(&w);
    assert_eq!(before.state_version, 3);
    assert_eq!(before.durable_version, 3, "EveryFrame: durable when flush returns");
    assert!(before.log_bytes > 0);
    drop(w);

    // Reopened without a schema, in the role the files hold: the binding reads the schema from
    // the newest checkpoint, so records are readable as before.
    let (any, found) = AnyStore::open(&dir, None, &StoreOptions::new(), &d).unwrap();
    assert_eq!(any.role(), StoreRole::Writer);
    assert!(!found.created && !found.new_term && !found.fallback, "{found:?}");
    assert_eq!((found.checkpoint_version, found.restored_version), (0, 3));
    assert!(found.log_frames >= 3, "{found:?}");
    assert_eq!(found.dropped_bytes, 0);
    let w = any.into_writer().unwrap();
    let after = w.info().unwrap();
    assert_eq!(
        (after.state_version, after.digest, after.stream_id, after.schema_hash, after.term),
        (before.state_version, before.digest, before.stream_id, before.schema_hash, before.term)
    );
    assert_eq!(tables(&w), content);
    assert_eq!(w.get_as::<Entity>(ENTITIES, 45).unwrap(), Some(&Entity::new(45, 47.0)));
    assert_eq!(w.get(ENTITIES, 3).unwrap(), None);
    assert_eq!(w.table_ids().collect::<Vec<_>>(), [ENTITIES, PAIRS]);
    drop(w);

    // With the schema given: the same store; a store of another role or schema is refused.
    let (w, _) = open_writer(&dir, Some(&schema), &d);
    assert_eq!(w.digest().unwrap(), before.digest);
    drop(w);
    let err = Store::<Replica>::open(&dir, None, &StoreOptions::new(), &d).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongRole, "{err}");
    let other = Schema::new().table(ENTITIES, 8, 8, &[]).unwrap();
    let err = Store::<Writer>::open(&dir, Some(&other), &StoreOptions::new(), &d).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaMismatch, "{err}");
    assert!(!err.message().is_empty());

    // An empty directory needs a schema, and a role, to create a store in.
    let empty = tmp.join("empty");
    let err = Store::<Writer>::open(&empty, None, &StoreOptions::new(), &d).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err = AnyStore::open(&empty, Some(&schema), &StoreOptions::new(), &d).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err =
        Store::<Writer>::open(&empty, Some(&schema), &opts, &Durability::new().keep_checkpoints(0))
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");

    // A replica is durable too: it restores what it applied.
    let rdir = tmp.join("replica");
    let (mut r, found) =
        Store::<Replica>::open(&rdir, Some(&schema), &StoreOptions::new(), &d).unwrap();
    assert!(found.created);
    let (mut w, _) = open_writer(&dir, None, &d);
    w.snapshot().unwrap();
    follow(&mut r, &w);
    write_batch(&mut w, 100, 5, 3.0);
    follow(&mut r, &w);
    let applied = r.info().unwrap();
    drop(r);
    let (r, found) = Store::<Replica>::open(&rdir, None, &StoreOptions::new(), &d).unwrap();
    assert_eq!(found.restored_version, applied.state_version);
    let restored = r.info().unwrap();
    assert_eq!(
        (restored.state_version, restored.digest, restored.stream_id),
        (w.version().unwrap(), w.digest().unwrap(), before.stream_id)
    );
    assert_eq!(tables(&r), tables(&w));
}

#[test]
fn stores_without_files_say_so() {
    let mut w = writer();
    let info = w.info().unwrap();
    assert!(!info.durable && !info.log_failed);
    assert_eq!((info.term, info.durable_version, info.log_bytes), (0, 0, 0));
    assert_eq!(w.checkpoint().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(w.begin_checkpoint().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(w.sync().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(!w.checkpoint().unwrap_err().message().is_empty());
}

#[test]
fn an_every_frame_writer_reopens_at_its_last_flushed_version_in_the_same_term() {
    let tmp = TempDir::new("every-frame");
    let dir = tmp.join("writer");
    let d = Durability::new().log_policy(LogPolicy::EveryFrame);
    let (mut w, _) = open_writer(&dir, Some(&schema()), &d);
    let mut r = replica();
    for i in 0..5u64 {
        write_batch(&mut w, i * 10, 10, i as f32);
        follow(&mut r, &w);
    }
    let (term, stream, version) = {
        let i = w.info().unwrap();
        (i.term, i.stream_id, i.state_version)
    };
    assert_eq!(version, 5);
    w.sync().unwrap();
    drop(w); // as a crash would: no checkpoint since version 0

    let (mut w, found) = open_writer(&dir, None, &d);
    assert!(!found.new_term, "{found:?}");
    assert_eq!((found.restored_version, found.term, found.checkpoint_version), (5, term, 0));
    let info = w.info().unwrap();
    assert_eq!((info.state_version, info.term, info.stream_id), (5, term, stream));
    assert_eq!(info.durable_version, 5);

    // The replica, at the version the writer last handed out, goes on with deltas.
    write_batch(&mut w, 1000, 3, 9.0);
    let f = w.frame(0).unwrap();
    let fi = frame::peek(f).unwrap();
    assert_eq!((fi.base_version, fi.state_version, fi.term), (5, 6, term));
    assert_eq!(r.apply(f).unwrap(), Applied::Ok);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    assert_eq!(r.info().unwrap().term, term);
    // Catch-up deltas from before the reopen are served from the restored record versions.
    let mut late = replica();
    w.snapshot().unwrap();
    assert_eq!(late.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    assert!(matches!(w.delta_since(2).unwrap(), Delta::Frames(1)));
}

#[test]
fn an_os_policy_writer_reopens_in_a_new_term_and_its_frames_carry_it() {
    let tmp = TempDir::new("os");
    let dir = tmp.join("writer");
    let os = Durability::new().log_policy(LogPolicy::Os);
    let (mut w, found) = open_writer(&dir, Some(&schema()), &os);
    let first_term = found.term;
    let mut r = replica();
    for i in 0..3u64 {
        write_batch(&mut w, i * 10, 10, i as f32);
        follow(&mut r, &w);
    }
    // Written, not fsynced: on disk only through the last checkpoint, until a sync.
    let before = w.info().unwrap();
    assert_eq!((before.state_version, before.durable_version), (3, 0));
    w.sync().unwrap();
    assert_eq!(w.info().unwrap().durable_version, 3);
    write_batch(&mut w, 30, 10, 3.0);
    follow(&mut r, &w);
    let before = w.info().unwrap();
    assert_eq!((before.state_version, before.durable_version), (4, 3));
    drop(w);

    // A clean close loses nothing the OS was given, but an OS-policy log proves nothing about a
    // power loss: a new term, previous + 1, at the restored version.
    let (mut w, found) = open_writer(&dir, None, &os);
    assert!(found.new_term && !found.created, "{found:?}");
    assert_eq!(found.term, first_term + 1);
    assert_eq!(found.restored_version, before.state_version);
    let info = w.info().unwrap();
    assert_eq!((info.term, info.state_version, info.stream_id), (found.term, 4, before.stream_id));
    assert_eq!(info.digest, before.digest);

    // Its frames carry the new term (format 2), and the replica at the restored version follows
    // it with deltas.
    write_batch(&mut w, 500, 2, 5.0);
    let f = w.frame(0).unwrap();
    let fi = frame::peek(f).unwrap();
    assert_eq!((fi.term, fi.format_version), (found.term, 2));
    assert_eq!((fi.base_version, fi.state_version), (4, 5));
    assert_eq!(r.apply(f).unwrap(), Applied::Ok);
    assert_eq!(r.info().unwrap().term, found.term);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    drop(w);

    // The host may name the term (a coordinator's).
    let (w, found) = open_writer(&dir, None, &os.new_term(40));
    assert!(found.new_term);
    assert_eq!((found.term, w.info().unwrap().term, w.version().unwrap()), (40, 40, 5));
}

#[test]
fn a_checkpoint_is_written_in_steps_while_the_writer_keeps_writing() {
    let tmp = TempDir::new("checkpoint");
    let dir = tmp.join("writer");
    let d = Durability::new();
    // 16 KiB frames: checkpoint chunks of 16 KiB, so 3000 entities take many steps.
    let o = opts().max_frame_bytes(16 * 1024);
    let (mut w, _) = Store::<Writer>::open(&dir, Some(&schema()), &o, &d).unwrap();
    let mut r = Store::replica(&schema()).unwrap();
    write_batch(&mut w, 0, 3000, 1.0);
    follow(&mut r, &w);
    let image_version = w.version().unwrap();
    let image = tables(&w);
    let log_before = w.info().unwrap().log_bytes;
    assert!(log_before > 3000 * 40, "the frames of 3000 entities are logged: {log_before}");

    let mut checkpoint = w.begin_checkpoint().unwrap();
    // One checkpoint at a time.
    assert_eq!(w.begin_checkpoint().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(w.checkpoint().unwrap_err().kind(), ErrorKind::InvalidArgument);
    // A checkpoint steps with its own store only.
    let mut stranger = writer();
    let err = checkpoint.step(&mut stranger, 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(!checkpoint.is_finished());

    let mut steps = 0u64;
    let mut rng = Rng::new(seed(7));
    loop {
        let done = checkpoint.step(&mut w, 8 * 1024).unwrap();
        steps += 1;
        if done {
            break;
        }
        assert_eq!(files(&dir, "checkpoint-").iter().filter(|n| n.ends_with(".tmp")).count(), 1);
        // Between steps the store works: writes, flushes, deletes; the replica follows.
        let key = rng.below(3000);
        w.put_as(ENTITIES, key, &Entity::new(key, -(steps as f32))).unwrap();
        w.delete(ENTITIES, 3000 - steps).unwrap();
        w.put_as(ENTITIES, 10_000 + steps, &Entity::new(10_000 + steps, 0.5)).unwrap();
        w.flush().unwrap();
        follow(&mut r, &w);
    }
    assert!(steps >= 4, "{steps} steps");
    assert!(checkpoint.is_finished());
    assert!(checkpoint.step(&mut w, 0).unwrap(), "finished: true again, nothing written");
    let info = w.info().unwrap();
    // The log since the checkpoint: what was flushed while it was written, not what it holds.
    assert!(
        info.log_bytes > 0 && info.log_bytes < log_before / 4,
        "{} of {log_before}",
        info.log_bytes
    );
    assert_eq!(info.state_version, image_version + steps - 1);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    let names = files(&dir, "checkpoint-");
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.ends_with(".psc")), "{names:?}");
    drop(checkpoint);

    // An abandoned checkpoint leaves no file; the next one can begin once the store reaped it.
    let mut abandoned = w.begin_checkpoint().unwrap();
    assert!(!abandoned.step(&mut w, 1).unwrap());
    assert_eq!(files(&dir, "checkpoint-").len(), 3);
    drop(abandoned);
    write_batch(&mut w, 20_000, 1, 4.0); // reaps the dropped checkpoint
    follow(&mut r, &w);
    assert_eq!(files(&dir, "checkpoint-").len(), 2, "temporary file removed");
    let final_info = w.info().unwrap();
    let final_tables = tables(&w);
    assert_ne!(final_tables, image);
    drop(w);

    // Reopened: the stepped checkpoint (the image of its first step) plus the log after it.
    let (w, found) = Store::<Writer>::open(&dir, None, &o, &d).unwrap();
    assert!(!found.fallback && !found.new_term, "{found:?}");
    assert_eq!(found.checkpoint_version, image_version);
    assert_eq!(found.restored_version, final_info.state_version);
    assert_eq!(w.digest().unwrap(), final_info.digest);
    assert_eq!(tables(&w), final_tables);
    assert_eq!(tables(&r), final_tables);
}

#[test]
fn a_store_dropped_during_a_checkpoint_abandons_it_and_unlocks_its_directory() {
    let tmp = TempDir::new("drop-checkpoint");
    let dir = tmp.join("writer");
    let d = Durability::new();
    let o = opts().max_frame_bytes(4096);
    let (mut w, _) = Store::<Writer>::open(&dir, Some(&schema()), &o, &d).unwrap();
    write_batch(&mut w, 0, 500, 1.0);
    let (version, digest) = (w.version().unwrap(), w.digest().unwrap());
    assert!(version > 1, "frames of at most 4 KiB: {version}");
    let mut checkpoint = w.begin_checkpoint().unwrap();
    assert!(!checkpoint.step(&mut w, 1).unwrap());
    drop(w);
    assert!(files(&dir, "checkpoint-").iter().all(|n| !n.ends_with(".tmp")));
    let (mut w, found) = Store::<Writer>::open(&dir, None, &o, &d).unwrap();
    assert_eq!((found.checkpoint_version, found.restored_version), (0, version));
    assert_eq!(w.digest().unwrap(), digest);
    // The old checkpoint belongs to a store that is gone: stepping it with the new one is refused.
    assert_eq!(checkpoint.step(&mut w, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    drop(checkpoint);
    w.checkpoint().unwrap();
}

#[test]
fn a_promoted_replica_leads_the_behind_heals_the_ahead_and_fences_the_old_writer() {
    let tmp = TempDir::new("promotion");
    let schema = schema();
    let d = Durability::new();
    let wdir = tmp.join("w");
    let adir = tmp.join("a");
    let (mut w, _) = open_writer(&wdir, Some(&schema), &d);
    let (mut a, _) = Store::<Replica>::open(&adir, Some(&schema), &opts(), &d).unwrap();
    let (mut b, mut c) = (replica(), replica());
    let old_term = w.info().unwrap().term;

    // v1 reaches everyone, v2 A and C, v3 only C: B is behind A, C ahead of it.
    write_batch(&mut w, 0, 20, 1.0);
    follow(&mut a, &w);
    follow(&mut b, &w);
    follow(&mut c, &w);
    write_batch(&mut w, 10, 20, 2.0);
    follow(&mut a, &w);
    follow(&mut c, &w);
    write_batch(&mut w, 30, 5, 3.0);
    follow(&mut c, &w);
    let old_frames = take_frames(&w);
    drop(w); // W dies
    let versions = [&a, &b, &c].map(|s| s.version().unwrap());
    assert_eq!(versions, [2, 1, 3]);

    // A fresh replica follows no stream: it cannot be promoted, and comes back unchanged.
    let err = replica().promote(2).unwrap_err();
    assert_eq!(err.error().kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.into_replica().version().unwrap(), 0);
    // Nor can a replica be promoted to a term not above its own.
    let (err, a_back) = a.promote(old_term).unwrap_err().into_parts();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    a = a_back;

    // A is promoted: the writer of the same stream, at its version, in term 2.
    let stream = a.info().unwrap().stream_id;
    let mut a = a.promote(2).unwrap();
    let info = a.info().unwrap();
    assert_eq!(
        (info.role, info.term, info.state_version, info.stream_id),
        (StoreRole::Writer, 2, 2, stream)
    );
    write_batch(&mut a, 100, 4, 4.0);
    let g = a.frame(0).unwrap().to_vec();
    let gi = frame::peek(&g).unwrap();
    assert_eq!((gi.term, gi.stream_id, gi.base_version, gi.state_version), (2, stream, 2, 3));

    // B (behind the promotion point) catches up with a delta and follows term 2.
    let replica_version = match b.apply(&g).unwrap() {
        Applied::Gap { replica_version } => replica_version,
        other => panic!("B: {other:?}"),
    };
    assert_eq!(replica_version, 1);
    assert_eq!(a.delta_since(1).unwrap(), Delta::Frames(1));
    follow(&mut b, &a);
    assert_eq!(b.digest().unwrap(), a.digest().unwrap());
    assert_eq!(b.info().unwrap().term, 2);

    // C (past the promotion point, in the old term) is told, with nothing changed, and heals with
    // a snapshot of the new writer.
    let c_before = (c.version().unwrap(), c.digest().unwrap());
    let err = c.apply(&g).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HistoryDiverged, "{err}");
    assert_eq!((c.version().unwrap(), c.digest().unwrap()), c_before);
    a.snapshot().unwrap();
    follow(&mut c, &a);
    assert_eq!((c.version().unwrap(), c.digest().unwrap()), (3, a.digest().unwrap()));
    assert_eq!(c.info().unwrap().term, 2);
    assert_eq!(tables(&c), tables(&a));

    // W comes back from its files (same term: EveryFrame) and writes: replicas of term 2 fence
    // its frames, old or new, and change nothing.
    let (mut w, found) = open_writer(&wdir, None, &d);
    assert_eq!((found.term, found.restored_version), (old_term, 3));
    write_batch(&mut w, 200, 3, 6.0);
    let stale = w.frame(0).unwrap();
    assert_eq!(frame::peek(stale).unwrap().term, old_term);
    for r in [&mut b, &mut c] {
        let before = (r.version().unwrap(), r.digest().unwrap());
        let err = r.apply(stale).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TermFenced, "{err}");
        let err = r.apply(old_frames.last().unwrap()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TermFenced),
            "an old-term frame of a version the replica has: {err}"
        );
        assert_eq!((r.version().unwrap(), r.digest().unwrap()), before);
    }

    // The promotion was logged: A reopens as the writer of term 2.
    let a_info = a.info().unwrap();
    drop(a);
    let (any, found) = AnyStore::open(&adir, None, &opts(), &d).unwrap();
    assert_eq!(any.role(), StoreRole::Writer);
    assert_eq!((found.term, found.restored_version), (2, a_info.state_version));
    let a = any.into_writer().unwrap();
    assert_eq!(a.digest().unwrap(), a_info.digest);
    assert_eq!(a.info().unwrap().stream_id, stream);
}

#[test]
fn a_corrupt_newest_checkpoint_falls_back_to_the_one_before() {
    let tmp = TempDir::new("corrupt");
    let dir = tmp.join("writer");
    let d = Durability::new();
    let (mut w, _) = open_writer(&dir, Some(&schema()), &d);
    for i in 0..3u64 {
        write_batch(&mut w, i * 100, 100, i as f32);
    }
    w.checkpoint().unwrap();
    write_batch(&mut w, 1000, 10, 9.0);
    let before = w.info().unwrap();
    let content = tables(&w);
    drop(w);

    let names = files(&dir, "checkpoint-");
    assert_eq!(names.len(), 2, "{names:?}");
    let newest = dir.join(names.last().unwrap());
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&newest, &bytes).unwrap();

    // The checkpoint of version 0 and the log from it on hold everything.
    let (w, found) = open_writer(&dir, None, &d);
    assert!(found.fallback, "{found:?}");
    assert_eq!(found.skipped, Some(ErrorKind::FileCorrupt));
    assert_eq!((found.checkpoint_version, found.restored_version), (0, before.state_version));
    assert!(!found.new_term, "nothing handed out was lost");
    assert_eq!(w.digest().unwrap(), before.digest);
    assert_eq!(tables(&w), content);
    drop(w);

    // No checkpoint verifies: the store cannot be opened.
    for name in files(&dir, "checkpoint-") {
        let path = dir.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        let end = bytes.len() - 1;
        bytes[end / 2] ^= 0xa5;
        bytes[end] ^= 0xa5;
        std::fs::write(&path, &bytes).unwrap();
    }
    let err = Store::<Writer>::open(&dir, Some(&schema()), &opts(), &d).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FileCorrupt, "{err}");
    assert!(!err.message().is_empty());
}

#[test]
fn a_locked_directory_is_an_io_error() {
    let tmp = TempDir::new("locked");
    let dir = tmp.join("writer");
    let d = Durability::new();
    let (mut w, _) = open_writer(&dir, Some(&schema()), &d);
    write_batch(&mut w, 0, 10, 1.0);

    for err in [
        Store::<Writer>::open(&dir, None, &opts(), &d).unwrap_err(),
        AnyStore::open(&dir, None, &opts(), &d).unwrap_err(),
        Store::<Replica>::open(&dir, Some(&schema()), &opts(), &d).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert_eq!(err.status_name(), "PODSYNC_E_IO");
        assert!(!err.message().is_empty());
    }
    let digest = w.digest().unwrap();
    // A snapshot keeps its C store alive, and so the lock, until it is dropped too.
    let snapshot = w.begin_snapshot(0).unwrap();
    drop(w);
    let err = Store::<Writer>::open(&dir, None, &opts(), &d).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    drop(snapshot);
    let (w, _) = open_writer(&dir, None, &d);
    assert_eq!(w.digest().unwrap(), digest);
    drop(w);

    // A directory that cannot be made (its parent is missing), and a path the C API cannot take.
    let err = Store::<Writer>::open(tmp.join("no/such/parent"), Some(&schema()), &opts(), &d)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    let err =
        Store::<Writer>::open(tmp.join("nul\0byte"), Some(&schema()), &opts(), &d).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}

#[test]
fn a_durable_replica_checkpoints_while_applying_and_its_checkpoint_survives_promotion() {
    let tmp = TempDir::new("replica");
    let dir = tmp.join("replica");
    let d = Durability::new();
    let o = opts().max_frame_bytes(4096);
    let (mut r, _) = Store::<Replica>::open(&dir, Some(&schema()), &o, &d).unwrap();
    let mut w = writer();
    write_batch(&mut w, 0, 300, 1.0);
    follow(&mut r, &w);
    let image_version = r.version().unwrap();

    let mut checkpoint = r.begin_checkpoint().unwrap();
    let mut steps = 0u64;
    while !checkpoint.step(&mut r, 1).unwrap() {
        write_batch(&mut w, steps * 7, 3, 2.0);
        follow(&mut r, &w);
        steps += 1;
    }
    assert!(steps >= 2, "{steps}");
    let info = r.info().unwrap();
    assert_eq!(
        (info.state_version, info.durable_version),
        (image_version + steps, image_version + steps)
    );
    let digest = r.digest().unwrap();
    drop(r);
    let (mut r, found) = Store::<Replica>::open(&dir, None, &o, &d).unwrap();
    assert_eq!(found.checkpoint_version, image_version);
    assert_eq!((found.restored_version, found.log_frames), (image_version + steps, steps));
    assert_eq!(r.digest().unwrap(), digest);

    // A checkpoint begun on the replica goes on with the writer it is promoted to; the
    // promotion is in the log after the checkpoint's image, so the store reopens as the writer.
    let mut checkpoint = r.begin_checkpoint().unwrap();
    assert!(!checkpoint.step(&mut r, 1).unwrap());
    let mut promoted = r.promote(5).unwrap();
    checkpoint.finish(&mut promoted).unwrap();
    write_batch(&mut promoted, 9000, 2, 1.0);
    let (version, digest) = (promoted.version().unwrap(), promoted.digest().unwrap());
    drop(promoted);
    let (any, found) = AnyStore::open(&dir, None, &o, &d).unwrap();
    assert_eq!((any.role(), found.term, found.restored_version), (StoreRole::Writer, 5, version));
    assert!(!found.new_term, "{found:?}");
    assert_eq!(any.into_writer().unwrap().digest().unwrap(), digest);
}

/// After an open that dropped a torn last record, the store logs on; the next open keeps every
/// frame logged since (the torn bytes are cut from the disk at the first open), in the same term.
#[test]
fn frames_logged_after_a_torn_tail_recovery_survive_the_next_open() {
    let tmp = TempDir::new("torn");
    let dir = tmp.join("writer");
    let d = Durability::new();
    let (mut w, _) = open_writer(&dir, Some(&schema()), &d);
    for i in 0..5u64 {
        write_batch(&mut w, i * 10, 10, i as f32);
    }
    drop(w);
    // A crash in the middle of the last append: its record is torn.
    let newest = dir.join(files(&dir, "log-").last().unwrap());
    let len = std::fs::metadata(&newest).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&newest).unwrap().set_len(len - 3).unwrap();
    let (mut w, found) = open_writer(&dir, None, &d);
    assert!(!found.new_term && found.dropped_bytes > 0, "{found:?}");
    assert_eq!(found.restored_version, 4);
    write_batch(&mut w, 100, 10, 1.0);
    write_batch(&mut w, 200, 10, 2.0);
    let info = w.info().unwrap();
    assert_eq!((info.state_version, info.durable_version), (6, 6));
    drop(w);
    let (w, found) = open_writer(&dir, None, &d);
    assert_eq!((found.restored_version, found.new_term), (6, false), "{found:?}");
    assert_eq!(w.digest().unwrap(), info.digest);
}

// --- a full disk: the library clears its outbox, then fails --------------------------------------

/// The environment variable that makes `a_flush_that_cannot_log_leaves_no_stale_frames` run its
/// child part (in a process of its own, whose files may not grow past 4 KiB) in this directory.
const FULL_DISK_DIR: &str = "PODSYNC_RS_FULL_DISK_DIR";

/// Linux's file size limit (`RLIMIT_FSIZE`), and `SIGXFSZ` ignored so that a write past it fails
/// with EFBIG instead of killing the process (what the Python suite's full-disk test does).
#[cfg(all(
    target_os = "linux",
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")
))]
fn limit_file_size(bytes: u64) {
    #[repr(C)]
    struct Rlimit {
        cur: u64,
        max: u64,
    }
    const RLIMIT_FSIZE: i32 = 1;
    const SIGXFSZ: i32 = 25;
    const SIG_IGN: usize = 1;
    unsafe extern "C" {
        fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
        fn signal(signum: i32, handler: usize) -> usize;
    }
    let mut limit = Rlimit { cur: 0, max: 0 };
    // SAFETY: glibc's getrlimit/setrlimit/signal with the layout and constants of 64-bit Linux
    // on these architectures; this process is the test's own child, which only runs this test.
    unsafe {
        assert_eq!(getrlimit(RLIMIT_FSIZE, &mut limit), 0);
        assert_ne!(signal(SIGXFSZ, SIG_IGN), usize::MAX, "signal(SIGXFSZ, SIG_IGN)");
        limit.cur = bytes.min(limit.max);
        assert_eq!(setrlimit(RLIMIT_FSIZE, &limit), 0);
    }
}

/// A durable writer whose log write fails clears its outbox before `flush` returns the error
/// (Store+Produce.swift): the frames of the flush before are gone too. The crate's view of the
/// outbox must follow (re-read after the error), not keep pointers to the frames of that earlier
/// flush, which `frames()` would then read from memory the library reused or freed. Errors of
/// calls refused before the library touches its outbox leave it as it was.
#[cfg(all(
    target_os = "linux",
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")
))]
#[test]
fn a_flush_that_cannot_log_leaves_no_stale_frames() {
    if let Ok(dir) = std::env::var(FULL_DISK_DIR) {
        full_disk_child(Path::new(&dir));
        return;
    }
    let tmp = TempDir::new("full-disk");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_flush_that_cannot_log_leaves_no_stale_frames",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FULL_DISK_DIR, &tmp.0)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("full-disk child: ok"),
        "the child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(all(
    target_os = "linux",
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")
))]
fn full_disk_child(dir: &Path) {
    let d = Durability::new();
    let (mut w, _) = open_writer(&dir.join("w"), Some(&schema()), &d);
    let mut r = replica();
    limit_file_size(4096);

    // One entity a flush until the log cannot take the next frame.
    let mut handed_out = 0;
    let mut failed = None;
    for key in 0..1000u64 {
        w.put_as(ENTITIES, key, &Entity::new(key, key as f32)).unwrap();
        match w.flush() {
            Ok(n) => {
                assert_eq!(n, 1);
                assert_outbox_matches(&w, "a flush");
                follow(&mut r, &w);
                handed_out = w.version().unwrap();
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.expect("the log never filled");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(handed_out > 0, "the first flush failed: nothing to go stale");
    // The library cleared its outbox: the frame of the flush before is no longer there.
    assert_outbox_matches(&w, "the flush that could not log");
    assert_eq!(w.frame_count(), 0, "no frame is handed out after the failed flush");
    assert!(w.frames().next().is_none());
    let info = w.info().unwrap();
    assert!(info.log_failed, "{info:?}");
    assert_eq!((info.state_version, info.durable_version), (handed_out + 1, handed_out));

    // Refused before the outbox is touched (the log failed): it stays empty.
    assert_eq!(w.flush().unwrap_err().kind(), ErrorKind::Io);
    assert_outbox_matches(&w, "a flush refused");
    assert_eq!(w.snapshot().unwrap_err().kind(), ErrorKind::Io);
    assert_outbox_matches(&w, "a snapshot refused");
    assert_eq!(w.delta_since(1).unwrap_err().kind(), ErrorKind::Io);
    assert_outbox_matches(&w, "a delta refused");
    assert_eq!(w.frame_count(), 0);

    // A checkpoint (small: it fits) lifts the refusal; the replica heals with a delta.
    w.checkpoint().unwrap();
    assert!(!w.info().unwrap().log_failed);
    w.put_as(ENTITIES, 5000, &Entity::new(5000, 1.0)).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    assert_outbox_matches(&w, "a flush after the checkpoint");
    assert!(matches!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Gap { .. }));
    assert_eq!(w.delta_since(r.version().unwrap()).unwrap(), Delta::Frames(1));
    assert_outbox_matches(&w, "the delta");
    follow(&mut r, &w);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());

    // An error before the library touches its outbox leaves it as it was.
    let before = take_frames(&w);
    let ahead = w.version().unwrap() + 1;
    assert_eq!(w.delta_since(ahead).unwrap_err().kind(), ErrorKind::VersionAhead);
    assert_outbox_matches(&w, "a delta ahead of the store");
    assert_eq!(take_frames(&w), before, "an error before the outbox is touched keeps it");
    println!("full-disk child: ok");
}
