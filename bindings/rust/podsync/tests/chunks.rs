//! Chunked snapshots and format-2 frames (library 0.5.0): `Store::begin_snapshot` /
//! `Snapshot::next_chunk` while the writer keeps writing, `Store::snapshot_chunks`, replicas that
//! stage chunks (`Applied::ChunkStaged`) and switch at the last one, lost chunks
//! (`Applied::ChunkGap`, `Store::staging`, `Store::snapshot_resume`), expired snapshots, fill in
//! place, `Store::snapshot` cutting a large state into chunks, two snapshots interleaved, and the
//! frame format option.

mod common;

use common::*;
use podsync::frame::{self, FrameBuf, FrameInfo};
use podsync::{
    Applied, ChunkPosition, ErrorKind, Replica, Snapshot, Store, StoreOptions, Writer, sys,
};

/// A writer holding `entities` entities and `pairs` pairs, flushed (one version).
fn filled_writer(opts: &StoreOptions, entities: u64, pairs: u64) -> Store<Writer> {
    let mut w = Store::writer_with(&schema(), opts).unwrap();
    fill(&mut w, 0, entities, pairs, 1.0);
    w.flush().unwrap();
    w
}

fn fill(w: &mut Store<Writer>, from: u64, entities: u64, pairs: u64, x: f32) {
    let keys: Vec<u64> = (from..from + entities).collect();
    let records: Vec<Entity> = keys.iter().map(|&k| Entity::new(k, x + k as f32)).collect();
    w.put_many(ENTITIES, &keys, &records).unwrap();
    let keys: Vec<u64> = (from..from + pairs).collect();
    let records: Vec<[u64; 2]> = keys.iter().map(|&k| [k, x.to_bits() as u64]).collect();
    w.put_many(PAIRS, &keys, &records).unwrap();
}

/// Every chunk of a snapshot, copied.
fn all_chunks(snapshot: &mut Snapshot, w: &mut Store<Writer>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = snapshot.next_chunk(w).unwrap() {
        out.push(c.to_vec());
    }
    out
}

/// A table's records, sorted by key.
type Dump = Vec<(u64, Vec<u8>)>;

fn tables<R: podsync::Role>(s: &Store<R>) -> (Dump, Dump) {
    (dump(s, ENTITIES), dump(s, PAIRS))
}

fn peek(f: &[u8]) -> FrameInfo {
    frame::peek(f).unwrap()
}

#[test]
fn a_snapshot_streams_in_chunks_while_the_writer_writes_and_flushes() {
    // The replica follows the writer at version 1 (1000 entities).
    let mut w = filled_writer(&StoreOptions::new(), 1000, 0);
    let mut r = replica();
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    let (old_info, old_tables) = (r.info().unwrap(), tables(&r));

    // About 50,000 records in two tables.
    fill(&mut w, 0, 30_000, 20_000, 2.0);
    w.flush().unwrap();
    let (vs, ds, stream) = (w.version().unwrap(), w.digest().unwrap(), w.info().unwrap().stream_id);
    let at_snapshot = tables(&w);
    assert_eq!((at_snapshot.0.len(), at_snapshot.1.len()), (30_000, 20_000));

    const MAX: usize = 16 * 1024;
    let mut snap = w.begin_snapshot(MAX).unwrap();
    let first = snap.position();
    assert_ne!(first.snapshot_id, 0);
    assert_eq!(
        first,
        ChunkPosition {
            stream_id: stream,
            term: 0,
            snapshot_id: first.snapshot_id,
            state_version: vs,
            chunk_index: 0,
            start_table: 0,
            start_key: 0,
            base_version: 0,
        }
    );
    assert!(!snap.is_finished());

    let mut deltas: Vec<Vec<u8>> = Vec::new();
    let mut n = 0u64;
    let mut held_while_streaming = 0;
    while let Some(chunk) = snap.next_chunk(&mut w).unwrap() {
        assert!(chunk.len() <= MAX, "chunk {n}: {} bytes", chunk.len());
        assert_eq!(chunk.as_ptr() as usize % 64, 0, "chunks are 64-byte aligned");
        let info = peek(chunk);
        assert!(info.is_chunk() && info.is_snapshot(), "{info:?}");
        assert_eq!(info.format_version, 2, "chunks are format 2");
        assert_eq!(
            (info.snapshot_id, info.chunk_index, info.state_version, info.base_version),
            (first.snapshot_id, n, vs, 0)
        );
        assert_eq!((info.stream_id, info.digest(), info.term), (stream, Some(ds), 0));
        let last = info.is_last_chunk();
        // The chunk borrows the snapshot only: the replica applies it in place.
        let outcome = r.apply(chunk).unwrap();
        n += 1;
        if last {
            assert_eq!(outcome, Applied::Ok, "the last chunk switches the replica");
            assert_eq!(info.chunk_record_count, 50_000);
        } else {
            assert_eq!(outcome, Applied::ChunkStaged, "chunk {}", n - 1);
            // Staged beside the state: the replica still serves version 1, unchanged.
            assert_eq!(r.info().unwrap(), old_info, "chunk {}", n - 1);
            assert_eq!(r.count(ENTITIES).unwrap(), 1000);
            // It expects the chunk the producer makes next.
            assert_eq!(r.staging().unwrap(), Some(snap.position()), "chunk {}", n - 1);
            assert_eq!(snap.position().chunk_index, n);
        }

        // The writer keeps working: records the snapshot holds change ahead of and behind the
        // chunk produced, some are deleted, new ones appear; every change is flushed.
        let k = n * 997;
        w.put_many(
            ENTITIES,
            &[k % 30_000, (k + 15_000) % 30_000],
            &[Entity::new(k, -1.0), Entity::new(k + 1, -2.0)],
        )
        .unwrap();
        w.delete(PAIRS, (k + 7) % 20_000).unwrap();
        w.put_as(PAIRS, 100_000 + n, &[n, n]).unwrap();
        assert!(w.flush().unwrap() >= 1);
        deltas.extend(take_frames(&w));
        held_while_streaming = held_while_streaming.max(w.metrics().unwrap().snapshot_bytes_held);
    }
    assert!(n >= 50, "50,000 records in 16 KiB chunks: {n} chunks");
    assert!(snap.is_finished());
    assert_eq!(snap.position().chunk_index, n, "after the last chunk, the index past it");
    assert_eq!(snap.next_chunk(&mut w).unwrap(), None, "done stays done");

    // Switched to the state of the snapshot's version, whatever the writer did meanwhile.
    assert_ne!(w.version().unwrap(), vs);
    assert_eq!((r.version().unwrap(), r.digest().unwrap()), (vs, ds));
    assert_eq!(tables(&r), at_snapshot);
    assert_ne!(tables(&r), old_tables);
    assert_eq!(r.staging().unwrap(), None);
    let rm = r.metrics().unwrap();
    assert_eq!((rm.chunks_staged, rm.chunk_gaps, rm.staging_bytes_held), (n - 1, 0, 0));

    // The writer held copies of the records it changed; dropping the snapshot frees them.
    let wm = w.metrics().unwrap();
    assert_eq!(wm.chunks_out, n);
    assert!(held_while_streaming > 0 && wm.snapshot_bytes_held > 0, "{wm:?}");
    drop(snap);
    assert_eq!(w.metrics().unwrap().snapshot_bytes_held, 0);

    // The deltas flushed meanwhile bring the replica to the writer's current state.
    for d in &deltas {
        assert_eq!(r.apply(d).unwrap(), Applied::Ok);
    }
    assert_eq!(
        (r.version().unwrap(), r.digest().unwrap()),
        (w.version().unwrap(), w.digest().unwrap())
    );
    assert_eq!(tables(&r), tables(&w));
}

#[test]
fn snapshot_chunks_iterates_owned_chunks_and_frees_the_snapshot() {
    let w = filled_writer(&StoreOptions::new(), 3000, 3000);
    let mut r = replica();
    let mut chunks = w.snapshot_chunks(8192).unwrap();
    assert_eq!(chunks.position().chunk_index, 0);
    let first = chunks.next().unwrap().unwrap();
    assert_eq!(chunks.position().chunk_index, 1);
    let rest: Vec<Vec<u8>> = chunks.by_ref().map(Result::unwrap).collect();
    assert!(chunks.next().is_none(), "fused after the last chunk");
    // Dropping the iterator frees the snapshot at once (it borrows the store).
    drop(chunks);
    assert_eq!(w.metrics().unwrap().snapshot_bytes_held, 0);
    assert_eq!(w.metrics().unwrap().chunks_out, 1 + rest.len() as u64);

    let all: Vec<Vec<u8>> = std::iter::once(first).chain(rest).collect();
    assert!(all.len() > 3, "{} chunks", all.len());
    for (i, c) in all.iter().enumerate() {
        assert!(c.len() <= 8192);
        let want = if i + 1 < all.len() { Applied::ChunkStaged } else { Applied::Ok };
        assert_eq!(r.apply(c).unwrap(), want, "chunk {i}");
    }
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    assert_eq!(tables(&r), tables(&w));

    // Too small a chunk is refused (below PODSYNC_MIN_CHUNK_BYTES), and 0 means max_frame_bytes.
    let e = w.snapshot_chunks(64).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(!e.message().is_empty());
    assert_eq!(w.snapshot_chunks(0).unwrap().count(), 1, "64 MiB chunks: one");
}

#[test]
fn a_lost_chunk_is_a_chunk_gap_and_the_writer_resumes_from_the_staging_position() {
    let mut w = filled_writer(&StoreOptions::new(), 4000, 2000);
    let (vs, ds) = (w.version().unwrap(), w.digest().unwrap());
    let at_snapshot = tables(&w);
    let mut r = replica();
    let mut snap = w.begin_snapshot(8192).unwrap();
    let chunks = all_chunks(&mut snap, &mut w);
    assert!(chunks.len() >= 5, "{} chunks", chunks.len());

    assert_eq!(r.apply(&chunks[0]).unwrap(), Applied::ChunkStaged);
    assert_eq!(r.apply(&chunks[1]).unwrap(), Applied::ChunkStaged);
    assert_eq!(r.apply(&chunks[1]).unwrap(), Applied::Duplicate, "a chunk staged already");
    // Chunk 2 is lost: chunk 3 is ahead of the expected one, and changes nothing.
    let before = r.info().unwrap();
    assert_eq!(r.apply(&chunks[3]).unwrap(), Applied::ChunkGap);
    assert_eq!(r.info().unwrap(), before);
    let lost = peek(&chunks[2]);
    let pos = r.staging().unwrap().expect("staging after CHUNK_GAP");
    assert_eq!(
        (pos.snapshot_id, pos.state_version, pos.chunk_index, pos.start_table, pos.start_key),
        (lost.snapshot_id, vs, 2, lost.chunk_start_table, lost.chunk_start_key)
    );
    assert_eq!(r.metrics().unwrap().chunk_gaps, 1);

    // The writer moved on meanwhile; the snapshot is still alive, so it still serves version vs.
    w.put_as(ENTITIES, 1, &Entity::new(1, 99.0)).unwrap();
    w.delete(PAIRS, 5).unwrap();
    w.flush().unwrap();
    let mut resumed = w.snapshot_resume(&pos, 16 * 1024).unwrap();
    assert_eq!(resumed.position(), pos, "resumed where the replica asked");
    let rest = all_chunks(&mut resumed, &mut w);
    assert!(rest.len() < chunks.len() - 2, "bigger chunks: fewer of them");
    let mut outcomes = Vec::new();
    for c in &rest {
        let info = peek(c);
        assert_eq!((info.snapshot_id, info.state_version), (pos.snapshot_id, vs));
        outcomes.push(r.apply(c).unwrap());
    }
    assert_eq!(outcomes.pop(), Some(Applied::Ok));
    assert!(outcomes.iter().all(|o| *o == Applied::ChunkStaged), "{outcomes:?}");
    assert_eq!((r.version().unwrap(), r.digest().unwrap()), (vs, ds));
    assert_eq!(tables(&r), at_snapshot);
    // The original stream's late chunks are of the replica's version now.
    assert_eq!(r.apply(&chunks[4]).unwrap(), Applied::Duplicate);
    // And the delta since then completes it.
    assert!(matches!(w.delta_since(vs).unwrap(), podsync::Delta::Frames(1)));
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn resuming_a_dropped_snapshot_after_a_flush_is_expired() {
    let mut w = filled_writer(&StoreOptions::new(), 3000, 0);
    let mut r = replica();
    let mut snap = w.begin_snapshot(4096).unwrap();
    let c0 = snap.next_chunk(&mut w).unwrap().unwrap().to_vec();
    assert_eq!(r.apply(&c0).unwrap(), Applied::ChunkStaged);
    let pos = r.staging().unwrap().unwrap();
    assert_eq!(pos.chunk_index, 1);
    drop(snap);

    // Still at that version: the store serves the resume from its state.
    let mut again = w.snapshot_resume(&pos, 4096).unwrap();
    assert_eq!(again.position(), pos);
    let c1 = again.next_chunk(&mut w).unwrap().unwrap().to_vec();
    assert_eq!((peek(&c1).chunk_index, peek(&c1).snapshot_id), (1, pos.snapshot_id));
    assert_eq!(r.apply(&c1).unwrap(), Applied::ChunkStaged);
    let pos = r.staging().unwrap().unwrap();
    drop(again);

    // Dropped, and the writer flushed: that state is gone.
    w.put_as(ENTITIES, 5, &Entity::new(5, 5.0)).unwrap();
    w.flush().unwrap();
    let e = w.snapshot_resume(&pos, 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SnapshotExpired, "{e}");
    assert_eq!(e.status_name(), "PODSYNC_E_SNAPSHOT_EXPIRED");
    assert!(!e.message().is_empty());

    // A new snapshot's chunk 0 replaces the staging, and completes.
    let mut fresh = w.begin_snapshot(4096).unwrap();
    assert_ne!(fresh.position().snapshot_id, pos.snapshot_id);
    let chunks = all_chunks(&mut fresh, &mut w);
    for (i, c) in chunks.iter().enumerate() {
        let want = if i + 1 < chunks.len() { Applied::ChunkStaged } else { Applied::Ok };
        assert_eq!(r.apply(c).unwrap(), want, "chunk {i}");
    }
    assert_eq!(
        (r.version().unwrap(), r.digest().unwrap()),
        (w.version().unwrap(), w.digest().unwrap())
    );

    // A position that names no snapshot.
    let e = w.snapshot_resume(&ChunkPosition::default(), 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[test]
fn a_fill_in_place_replica_grows_at_version_0_as_chunks_arrive() {
    let mut w = filled_writer(&StoreOptions::new(), 2000, 2000);
    let (vs, ds) = (w.version().unwrap(), w.digest().unwrap());
    let mut filling =
        Store::replica_with(&schema(), &StoreOptions::new().fill_in_place(true)).unwrap();
    let mut staging = replica();
    let mut snap = w.begin_snapshot(4096).unwrap();
    let chunks = all_chunks(&mut snap, &mut w);
    assert!(chunks.len() > 3);
    let mut seen = 0;
    for (i, c) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let want = if last { Applied::Ok } else { Applied::ChunkStaged };
        assert_eq!(filling.apply(c).unwrap(), want, "chunk {i}");
        assert_eq!(staging.apply(c).unwrap(), want, "chunk {i}");
        let count = filling.count(ENTITIES).unwrap() + filling.count(PAIRS).unwrap();
        if !last {
            assert!(count > seen, "chunk {i}: the tables fill ({count} records)");
            assert_eq!(filling.version().unwrap(), 0, "version 0 until the last chunk");
            assert_eq!(staging.count(ENTITIES).unwrap() + staging.count(PAIRS).unwrap(), 0);
            assert!(staging.metrics().unwrap().staging_bytes_held > 0);
        }
        seen = count;
    }
    assert_eq!(seen, 4000);
    for s in [&filling, &staging] {
        assert_eq!((s.version().unwrap(), s.digest().unwrap()), (vs, ds));
        assert_eq!(tables(s), tables(&w));
    }
    assert_eq!(filling.info().unwrap().stream_id, w.info().unwrap().stream_id);
}

#[test]
fn store_snapshot_cuts_a_large_state_into_chunks_applied_in_order() {
    let opts = StoreOptions::new().max_frame_bytes(4096);
    let mut w = filled_writer(&opts, 1500, 1000);
    let n = w.snapshot().unwrap();
    assert!(n > 5, "{n} chunks");
    assert_eq!(w.frame_count(), n);
    let frames = take_frames(&w);
    let infos: Vec<FrameInfo> = frames.iter().map(|f| peek(f)).collect();
    let id = infos[0].snapshot_id;
    for (i, (f, info)) in frames.iter().zip(&infos).enumerate() {
        assert!(f.len() <= 4096, "chunk {i}: {} bytes", f.len());
        assert!(info.is_chunk() && info.is_snapshot());
        assert_eq!((info.chunk_index, info.snapshot_id), (i as u64, id));
        assert_eq!(info.is_last_chunk(), i + 1 == n);
        if i > 0 {
            // Consecutive chunks cover consecutive key ranges.
            let prev = &infos[i - 1];
            assert_eq!(
                (info.chunk_start_table, info.chunk_start_key),
                (prev.chunk_end_table, prev.chunk_end_key)
            );
        }
    }
    assert_eq!(infos[n - 1].chunk_record_count, 2500);
    assert_eq!(w.metrics().unwrap().chunks_out, n as u64);

    let mut r = replica();
    for (i, f) in frames.iter().enumerate() {
        let want = if i + 1 < n { Applied::ChunkStaged } else { Applied::Ok };
        assert_eq!(r.apply(f).unwrap(), want, "chunk {i}");
    }
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    assert_eq!(tables(&r), tables(&w));
    // Out of order: a chunk ahead of chunk 0 is a gap for a fresh replica.
    let mut fresh = replica();
    assert_eq!(fresh.apply(&frames[1]).unwrap(), Applied::ChunkGap);
    let wanted = fresh.staging().unwrap().expect("chunk 0 of that snapshot");
    assert_eq!((wanted.snapshot_id, wanted.chunk_index), (id, 0));

    // A state that fits stays one unchunked frame, in the writer's format: 2 by default (since
    // library 0.8.0), 1 when it asks for it (chunks are format 2 either way).
    for (options, format) in [(opts, 2), (opts.frame_format(1), 1)] {
        let mut small = filled_writer(&options, 10, 0);
        assert_eq!(small.snapshot().unwrap(), 1);
        let info = peek(small.frame(0).unwrap());
        assert!(info.is_snapshot() && !info.is_chunk());
        assert_eq!(info.format_version, format);
    }
}

#[test]
fn interleaved_chunks_of_two_snapshots_give_the_documented_statuses() {
    let mut w = filled_writer(&StoreOptions::new(), 1500, 0);
    let (va, da) = (w.version().unwrap(), w.digest().unwrap());
    let mut a = w.begin_snapshot(4096).unwrap();
    fill(&mut w, 0, 1500, 500, 3.0);
    w.flush().unwrap();
    let (vb, db) = (w.version().unwrap(), w.digest().unwrap());
    let mut b = w.begin_snapshot(4096).unwrap();
    let ca = all_chunks(&mut a, &mut w);
    let cb = all_chunks(&mut b, &mut w);
    assert!(ca.len() >= 4 && cb.len() >= 4, "{} and {} chunks", ca.len(), cb.len());
    assert!(va < vb);

    let mut r = replica();
    // A (older) starts staging; B's chunk 0 (newer) replaces it.
    assert_eq!(r.apply(&ca[0]).unwrap(), Applied::ChunkStaged);
    assert_eq!(r.apply(&ca[1]).unwrap(), Applied::ChunkStaged);
    assert_eq!(r.apply(&cb[0]).unwrap(), Applied::ChunkStaged);
    assert_eq!(r.staging().unwrap().map(|p| (p.state_version, p.chunk_index)), Some((vb, 1)));
    // A's later chunks, and its chunk 0 again, are older than the staging: STALE.
    assert_eq!(r.apply(&ca[2]).unwrap(), Applied::Stale);
    assert_eq!(r.apply(&ca[0]).unwrap(), Applied::Stale);
    // B's chunks: a repeat is a duplicate, one ahead a gap.
    assert_eq!(r.apply(&cb[1]).unwrap(), Applied::ChunkStaged);
    assert_eq!(r.apply(&cb[0]).unwrap(), Applied::Duplicate);
    assert_eq!(r.apply(&cb[3]).unwrap(), Applied::ChunkGap);
    for (i, c) in cb.iter().enumerate().skip(2) {
        let want = if i + 1 < cb.len() { Applied::ChunkStaged } else { Applied::Ok };
        assert_eq!(r.apply(c).unwrap(), want, "B chunk {i}");
    }
    assert_eq!((r.version().unwrap(), r.digest().unwrap()), (vb, db));
    // After the switch: A is older than the replica, B its own version.
    assert_eq!(r.apply(&ca[3]).unwrap(), Applied::Stale);
    assert_eq!(r.apply(&cb[1]).unwrap(), Applied::Duplicate);
    assert_eq!(r.staging().unwrap(), None);

    // The other order: B staged first, then A's chunk 0 (older) does not replace it.
    let mut r2 = replica();
    assert_eq!(r2.apply(&cb[0]).unwrap(), Applied::ChunkStaged);
    assert_eq!(r2.apply(&ca[0]).unwrap(), Applied::Stale);
    // A replica at A's version takes A's chunks as duplicates.
    let mut at_a = replica();
    for (i, c) in ca.iter().enumerate() {
        let want = if i + 1 < ca.len() { Applied::ChunkStaged } else { Applied::Ok };
        assert_eq!(at_a.apply(c).unwrap(), want);
    }
    assert_eq!(at_a.digest().unwrap(), da);
    assert_eq!(at_a.apply(&ca[1]).unwrap(), Applied::Duplicate);
}

#[test]
fn a_chunk_that_contradicts_the_staged_ones_is_a_chunk_mismatch() {
    // Two snapshots of the same version and stream, resumed under one id with other boundaries,
    // cannot be mixed: a chunk whose start is not where the staged chunks end is refused.
    let mut w = filled_writer(&StoreOptions::new(), 3000, 0);
    let mut snap = w.begin_snapshot(4096).unwrap();
    let small = all_chunks(&mut snap, &mut w);
    let pos = ChunkPosition { chunk_index: 1, ..snap.position() };
    let pos = ChunkPosition { start_table: ENTITIES, start_key: 1, ..pos }; // not chunk 0's end
    let mut r = replica();
    assert_eq!(r.apply(&small[0]).unwrap(), Applied::ChunkStaged);
    let mut forged = w.snapshot_resume(&pos, 4096).unwrap();
    let c = forged.next_chunk(&mut w).unwrap().unwrap().to_vec();
    assert_eq!((peek(&c).chunk_index, peek(&c).chunk_start_key), (1, 1));
    let before = r.info().unwrap();
    let e = r.apply(&c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ChunkMismatch, "{e}");
    assert_eq!(r.info().unwrap(), before, "the visible state is unchanged");
    assert_eq!(r.staging().unwrap(), None, "the staging was dropped");
    assert_eq!(r.metrics().unwrap().rejects.get(ErrorKind::ChunkMismatch), 1);
}

#[test]
fn next_chunk_refuses_another_store_and_a_snapshot_outlives_its_store() {
    let mut w = filled_writer(&StoreOptions::new(), 2000, 0);
    let mut other = filled_writer(&StoreOptions::new(), 2000, 0);
    let mut snap = w.begin_snapshot(4096).unwrap();
    let e = snap.next_chunk(&mut other).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("another store"), "{e}");
    assert_eq!(snap.position().chunk_index, 0, "nothing produced");
    let mut r: Store<Replica> = replica();
    let mut as_replica = replica();
    assert_eq!(snap.next_chunk(&mut as_replica).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let c0 = snap.next_chunk(&mut w).unwrap().unwrap().to_vec();
    assert_eq!(peek(&c0).chunk_index, 0);
    assert_eq!(r.apply(&c0).unwrap(), Applied::ChunkStaged);

    // The snapshot keeps the C store alive: dropping the store first is allowed.
    drop(w);
    assert_eq!(snap.position().chunk_index, 1);
    drop(snap);
    // A snapshot dropped on another thread while its store keeps working is freed by the store.
    let mut snap = other.begin_snapshot(4096).unwrap();
    let _ = snap.next_chunk(&mut other).unwrap().unwrap();
    other.put_as(ENTITIES, 1, &Entity::new(1, -1.0)).unwrap();
    other.flush().unwrap();
    assert!(other.metrics().unwrap().snapshot_bytes_held > 0);
    std::thread::spawn(move || drop(snap)).join().unwrap();
    other.put_as(ENTITIES, 2, &Entity::new(2, -1.0)).unwrap();
    other.flush().unwrap();
    assert_eq!(other.metrics().unwrap().snapshot_bytes_held, 0);
}

#[test]
fn a_snapshot_moves_to_another_thread_with_its_store() {
    fn is_send<T: Send>(_: &T) {}
    let mut w = filled_writer(&StoreOptions::new(), 2000, 1000);
    let digest = w.digest().unwrap();
    let snap = w.begin_snapshot(4096).unwrap();
    is_send(&snap);
    let (chunks, w) = std::thread::spawn(move || {
        let (mut w, mut snap) = (w, snap);
        (all_chunks(&mut snap, &mut w), w)
    })
    .join()
    .unwrap();
    let mut r = replica();
    for (i, c) in chunks.iter().enumerate() {
        let want = if i + 1 < chunks.len() { Applied::ChunkStaged } else { Applied::Ok };
        assert_eq!(r.apply(c).unwrap(), want);
    }
    assert_eq!(r.digest().unwrap(), digest);
    assert_eq!(w.metrics().unwrap().chunks_out, chunks.len() as u64);
}

#[test]
fn a_replica_serves_a_chunked_snapshot_until_its_state_is_replaced() {
    let mut w = filled_writer(&StoreOptions::new(), 3000, 0);
    let mut source = replica();
    assert_eq!(source.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    let mut snap = source.begin_snapshot(4096).unwrap();
    assert_eq!(snap.position().stream_id, w.info().unwrap().stream_id);
    let c0 = snap.next_chunk(&mut source).unwrap().unwrap().to_vec();
    let mut r = replica();
    assert_eq!(r.apply(&c0).unwrap(), Applied::ChunkStaged);

    // Deltas applied meanwhile do not change the snapshot.
    w.put_as(ENTITIES, 7, &Entity::new(7, 70.0)).unwrap();
    w.flush().unwrap();
    assert_eq!(source.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    let c1 = snap.next_chunk(&mut source).unwrap().unwrap().to_vec();
    assert_eq!(r.apply(&c1).unwrap(), Applied::ChunkStaged);

    // A whole (newer) snapshot replaces the source's state: the chunked one can no longer be
    // produced.
    w.put_as(ENTITIES, 8, &Entity::new(8, 80.0)).unwrap();
    w.flush().unwrap();
    assert_eq!(w.snapshot().unwrap(), 1);
    assert_eq!(source.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    let e = snap.next_chunk(&mut source).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SnapshotExpired, "{e}");
    assert!(!e.message().is_empty());
}

#[test]
fn a_format_2_writer_frames_apply_and_read_from_a_stream() {
    let opts = StoreOptions::new().frame_format(2);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    let mut wire = Vec::new();
    let mut sizes = Vec::new();
    // The snapshot of the empty state: a header only, shorter than format 1's 88 bytes.
    assert_eq!(w.snapshot().unwrap(), 1);
    for f in w.frames() {
        wire.extend_from_slice(f);
        sizes.push(f.len());
    }
    assert!(sizes[0] < frame::HEADER_SIZE, "{sizes:?}");
    for round in 0..5u64 {
        w.put_as(PAIRS, round, &[round, round]).unwrap();
        if round > 0 {
            w.delete(PAIRS, round - 1).unwrap();
        }
        w.put_as(ENTITIES, round, &Entity::new(round, 1.0)).unwrap();
        w.flush().unwrap();
        for f in w.frames() {
            let info = peek(f);
            assert_eq!(info.format_version, 2);
            assert!((info.header_length as usize) < frame::HEADER_SIZE, "{info:?}");
            assert_eq!(info.header_length % 8, 0);
            assert!(!info.is_chunk());
            assert_eq!(frame::validate(f).unwrap(), info);
            wire.extend_from_slice(f);
            sizes.push(f.len());
        }
    }

    // A stream reader reads the 16-byte prefix, then the header, then the rest.
    let mut r = replica();
    let mut buf = FrameBuf::new();
    let mut stream = &wire[..];
    let mut n = 0;
    while buf.read_frame(&mut stream, 1 << 20).unwrap() {
        assert_eq!(buf.len(), sizes[n], "frame {n}");
        let info = frame::peek(&buf).unwrap();
        assert_eq!(info.format_version, 2);
        assert_eq!(r.apply(&buf).unwrap(), Applied::Ok, "frame {n}");
        n += 1;
    }
    assert_eq!(n, sizes.len());
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());

    // The prefix names the header's length: peek of a truncated header says how much to read.
    let e = frame::peek(&wire[..frame::PREFIX_SIZE]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FrameTruncated);
    let told = e.frame_info().expect("the prefix's fields");
    assert_eq!((told.format_version, told.header_length as usize), (2, sizes[0]));
    let e = frame::peek(&wire[..3]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FrameTruncated);
    assert_eq!(e.frame_info(), None, "no prefix, nothing known");

    // Streams that end inside the prefix, the header or the body.
    for cut in [1, frame::PREFIX_SIZE, sizes[0] - 1, sizes[0] + 20] {
        let mut s = &wire[..cut];
        let mut first = true;
        let mut err = None;
        loop {
            match buf.read_frame(&mut s, 1 << 20) {
                Ok(true) => first = false,
                Ok(false) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let e =
            err.unwrap_or_else(|| panic!("cut at {cut}: no error (first frame read: {})", !first));
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "cut at {cut}");
        assert!(buf.is_empty());
    }
    // A header longer than the limit is refused before it is read.
    let e = buf.read_frame(&mut &wire[..], frame::PREFIX_SIZE).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);

    // Unknown formats are refused; 0 means 2 (since library 0.8.0; 1 before), and so does the
    // default; 1 is format 1.
    let e = Store::writer_with(&schema(), &StoreOptions::new().frame_format(3)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    for (options, format) in [
        (StoreOptions::new().frame_format(0), 2),
        (StoreOptions::new(), 2),
        (StoreOptions::new().frame_format(1), 1),
    ] {
        let mut w0 = Store::writer_with(&schema(), &options).unwrap();
        w0.put_as(PAIRS, 1, &[1u64, 1]).unwrap();
        w0.flush().unwrap();
        let info = peek(w0.frame(0).unwrap());
        assert_eq!(info.format_version, format, "{options:?}");
        assert_eq!(info.header_length as usize == frame::HEADER_SIZE, format == 1, "{info:?}");
    }
}

#[test]
fn chunks_read_from_a_byte_stream_with_deltas_between_them() {
    let mut w = filled_writer(&StoreOptions::new(), 2000, 500);
    let mut snap = w.begin_snapshot(4096).unwrap();
    let vs = w.version().unwrap();
    let mut wire = Vec::new();
    let mut chunks = 0u64;
    while let Some(c) = snap.next_chunk(&mut w).unwrap() {
        wire.extend_from_slice(c);
        chunks += 1;
        // A delta sent between chunks: the staging replica is not at its base.
        w.put_as(PAIRS, 10_000 + chunks, &[1u64, 2]).unwrap();
        w.flush().unwrap();
        wire.extend_from_slice(w.frame(0).unwrap());
    }
    assert!(chunks > 3);
    let mut r = replica();
    let mut buf = FrameBuf::new();
    let mut stream = &wire[..];
    let (mut staged, mut gaps, mut switched) = (0, 0, 0);
    while buf.read_frame(&mut stream, 1 << 20).unwrap() {
        match r.apply(&buf).unwrap() {
            Applied::ChunkStaged => staged += 1,
            Applied::Gap { replica_version } => {
                assert!(replica_version == 0 || replica_version == vs);
                gaps += 1;
            }
            Applied::Ok => switched += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((staged, switched, gaps), (chunks - 1, 1, chunks));
    assert_eq!(r.version().unwrap(), vs);
    // The catch-up delta since the snapshot's version completes it.
    assert!(matches!(w.delta_since(vs).unwrap(), podsync::Delta::Frames(1)));
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn raw_chunk_structs_round_trip() {
    let p = ChunkPosition {
        stream_id: 1,
        term: 2,
        snapshot_id: 3,
        state_version: 4,
        chunk_index: 5,
        start_table: 6,
        start_key: 7,
        base_version: 8,
    };
    let raw = p.raw();
    assert_eq!(raw.version, sys::PODSYNC_CHUNK_POSITION_VERSION);
    assert_eq!(ChunkPosition::from_raw(&raw), p);
    assert_eq!(podsync::MIN_CHUNK_BYTES, sys::PODSYNC_MIN_CHUNK_BYTES);
    assert_eq!(podsync::status_name(Applied::ChunkGap.status()), "PODSYNC_CHUNK_GAP");
    let opts = StoreOptions::new().fill_in_place(true).frame_format(2);
    assert_eq!(opts.raw().flags & sys::PODSYNC_OPT_FILL_IN_PLACE, sys::PODSYNC_OPT_FILL_IN_PLACE);
    assert_eq!(opts.fill_in_place(false).raw().flags & sys::PODSYNC_OPT_FILL_IN_PLACE, 0);
}
