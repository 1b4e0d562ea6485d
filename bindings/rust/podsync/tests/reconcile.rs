//! Reconciliation (library 0.7.0): `Store::summary`, `Store::reconcile` and `podsync::reconcile`
//! heal a replica that applied another writer's frames (diverged), one below the writer's
//! catch-up floor, and one of another stream, with a repair frame far smaller than a snapshot;
//! a repair for a state the replica left is refused (`ErrorKind::RepairStale`), as is an exchange
//! the responder can no longer describe; stores in sync exchange one message; bad input gives the
//! error the header names and changes nothing on either side.

mod common;

use common::*;
use podsync::frame;
use podsync::{
    Applied, Delta, ErrorKind, ReconcileReport, Replica, Role, Schema, Store, StoreInfo,
    StoreOptions, Writer,
};

/// Everything observable about a store.
#[derive(Debug, PartialEq)]
struct State {
    info: StoreInfo,
    digest: u64,
    tables: Vec<Vec<(u64, Vec<u8>)>>,
}

fn state<R: Role>(s: &Store<R>) -> State {
    State {
        info: s.info().unwrap(),
        digest: s.digest().unwrap(),
        tables: vec![dump(s, ENTITIES), dump(s, PAIRS)],
    }
}

/// `n` distinct random keys.
fn keys(seed: u64, n: usize) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let mut keys: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n);
    keys
}

/// Puts an entity under each key, its position salted.
fn put(w: &mut Store<Writer>, keys: &[u64], salt: f32) {
    let records: Vec<Entity> =
        keys.iter().map(|&k| Entity::new(k, salt + (k % 1000) as f32)).collect();
    w.put_many(ENTITIES, keys, &records).unwrap();
}

/// The writer's snapshot, copied (one frame).
fn snapshot_of(w: &mut Store<Writer>) -> Vec<u8> {
    assert_eq!(w.snapshot().unwrap(), 1, "one frame");
    w.frame(0).unwrap().to_vec()
}

/// Flushes `w`; the frames, copied.
fn flush(w: &mut Store<Writer>) -> Vec<Vec<u8>> {
    w.flush().unwrap();
    take_frames(w)
}

/// Both stores hold the same records at the same version, stream and digest.
fn assert_same<R: Role>(r: &Store<Replica>, responder: &Store<R>) {
    let (ri, wi) = (r.info().unwrap(), responder.info().unwrap());
    assert_eq!(
        (ri.state_version, ri.stream_id, ri.digest, ri.term),
        (wi.state_version, wi.stream_id, wi.digest, wi.term)
    );
    assert!(!ri.diverged);
    assert_eq!(dump(r, ENTITIES), dump(responder, ENTITIES));
    assert_eq!(dump(r, PAIRS), dump(responder, PAIRS));
}

/// What a hand-driven exchange saw: the repair frame (unapplied; `None` if there was nothing to
/// repair), the summary messages both ways and their bytes.
#[derive(Debug)]
struct Exchanged {
    repair: Option<Vec<u8>>,
    messages: usize,
    summary_bytes: usize,
}

/// Drives an exchange by hand (as two processes would, with copies) until the responder answers
/// with a repair frame or with nothing.
fn exchange<R: Role>(
    replica: &mut Store<Replica>,
    responder: &mut Store<R>,
    level: u32,
) -> Exchanged {
    let mut message = replica.summary(level).unwrap().next().unwrap().to_vec();
    let mut seen = Exchanged { repair: None, messages: 0, summary_bytes: 0 };
    for _ in 0..16 {
        assert!(frame::peek(&message).unwrap().is_summary());
        seen.messages += 1;
        seen.summary_bytes += message.len();
        let Some(answer) = responder.reconcile(&message).unwrap().next().map(<[u8]>::to_vec) else {
            return seen;
        };
        let info = frame::peek(&answer).unwrap();
        if info.is_repair() {
            assert!(!info.is_summary());
            seen.repair = Some(answer);
            return seen;
        }
        assert!(info.is_summary(), "a responder answers with a summary or a repair: {info:?}");
        seen.messages += 1;
        seen.summary_bytes += answer.len();
        let mut next = replica.reconcile(&answer).unwrap();
        assert_eq!(next.len(), 1, "a replica answers every message");
        message = next.next().unwrap().to_vec();
    }
    panic!("the exchange did not end in 16 rounds");
}

#[test]
fn a_replica_that_applied_another_writers_frames_is_repaired_and_continues() {
    // Two writers of one stream id with the same initial records: frames of either apply to a
    // replica of the other until its digest gives the mix away.
    let opts = StoreOptions::new().stream_id(0x5EED);
    let schema = schema();
    let mut w = Store::writer_with(&schema, &opts).unwrap();
    let mut impostor = Store::writer_with(&schema, &opts).unwrap();
    let keys = keys(9, 5000);
    for s in [&mut w, &mut impostor] {
        put(s, &keys, 0.0);
        s.put_many(PAIRS, &[1, 2], &[[1u64, 1], [2, 2]]).unwrap();
        s.flush().unwrap();
    }
    assert_eq!(w.digest().unwrap(), impostor.digest().unwrap());
    let mut r = replica();
    assert_eq!(r.apply(&snapshot_of(&mut w)).unwrap(), Applied::Ok);

    put(&mut w, &keys[..30], 1.0);
    w.delete(PAIRS, 1).unwrap();
    w.flush().unwrap(); // the replica misses it
    put(&mut impostor, &keys[100..120], 2.0);
    for f in flush(&mut impostor) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok, "the impostor's frame fits");
    }
    put(&mut w, &keys[200..210], 3.0);
    let next = flush(&mut w).remove(0);
    let err = r.apply(&next).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");
    assert!(r.info().unwrap().diverged);
    assert_eq!(r.apply(&next).unwrap_err().kind(), ErrorKind::Diverged);
    assert_ne!(dump(&r, ENTITIES), dump(&w, ENTITIES));

    // A diverged replica cannot be a responder.
    let mut late = replica();
    let message = late.summary(0).unwrap().next().unwrap().to_vec();
    assert_eq!(r.reconcile(&message).unwrap_err().kind(), ErrorKind::Diverged);
    assert_outbox_matches(&r, "a diverged responder");
    assert_eq!(r.frame_count(), 0, "it produced nothing, before or now");
    // Nor can it serve deltas or snapshots; its outbox stays what the library holds.
    assert_eq!(r.snapshot().unwrap_err().kind(), ErrorKind::Diverged);
    assert_eq!(r.delta_since(0).unwrap_err().kind(), ErrorKind::Diverged);
    assert_outbox_matches(&r, "a diverged replica's snapshot and delta");

    let report = podsync::reconcile(&mut r, &mut w).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_same(&r, &w);
    assert!(report.messages >= 1 && report.messages <= 8, "{report:?}");
    // 30 + 20 + 10 entities and a pair differ: the repair carries tens of records, not 5,000.
    assert!(report.repair_bytes > 0 && report.repair_bytes < 5000 * 48 / 20, "{report:?}");
    assert_eq!(report.total_bytes(), report.summary_bytes + report.repair_bytes);
    // Both outboxes hold what they produced last: the replica's last message, the repair.
    assert_eq!(r.frame_count(), 1);
    assert!(frame::peek(r.frame(0).unwrap()).unwrap().is_summary());
    assert_eq!(w.frame(0).unwrap().len(), report.repair_bytes);
    assert!(frame::peek(w.frame(0).unwrap()).unwrap().is_repair());

    // It continues with deltas.
    put(&mut w, &keys[4000..4010], 4.0);
    w.delete(ENTITIES, keys[4999]).unwrap();
    for f in flush(&mut w) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    assert_same(&r, &w);

    // An up-to-date replica is a responder too: it brings a new one to its state.
    let report = podsync::reconcile(&mut late, &mut r).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_same(&late, &r);
    put(&mut w, &keys[..1], 5.0);
    for f in flush(&mut w) {
        assert_eq!(late.apply(&f).unwrap(), Applied::Ok, "and follows the writer");
    }
    assert_same(&late, &w);
}

#[test]
fn a_replica_below_the_catch_up_floor_is_repaired_to_the_flushed_state() {
    let opts = StoreOptions::new().tombstone_horizon(2).max_tombstones(4);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    let all: Vec<u64> = (0..4000).collect();
    put(&mut w, &all, 0.0);
    w.flush().unwrap();
    let mut old = replica();
    assert_eq!(old.apply(&snapshot_of(&mut w)).unwrap(), Applied::Ok);
    for v in 1..=10u64 {
        let ks: Vec<u64> = (0..8).map(|k| k * 97 + v).collect();
        put(&mut w, &ks, v as f32);
        w.delete(ENTITIES, 3000 + v).unwrap();
        w.flush().unwrap(); // the replica misses them all
    }
    let floor = w.info().unwrap().catchup_floor;
    assert!(floor > old.version().unwrap(), "floor {floor}");
    assert_eq!(w.delta_since(old.version().unwrap()).unwrap(), Delta::SnapshotRequired);

    // Pending writes are not the writer's state yet: the repair brings the flushed one.
    put(&mut w, &[1, 2, 3], 99.0);
    w.delete(ENTITIES, 3500).unwrap();
    let flushed_digest = w.digest().unwrap();
    let report = podsync::reconcile(&mut old, &mut w).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_eq!(old.version().unwrap(), 11);
    assert_eq!(old.digest().unwrap(), flushed_digest);
    assert!(old.get_as::<Entity>(ENTITIES, 3500).unwrap().is_some(), "a pending delete");
    assert!(old.get_as::<Entity>(ENTITIES, 3005).unwrap().is_none(), "a flushed delete");
    let e = old.get_as::<Entity>(ENTITIES, 97 + 10).unwrap().unwrap();
    assert_eq!(e.pos[0], 10.0 + 107.0, "the last flushed value");

    // The next flush applies as a delta.
    for f in flush(&mut w) {
        assert_eq!(old.apply(&f).unwrap(), Applied::Ok);
    }
    assert_same(&old, &w);
    assert!(old.get_as::<Entity>(ENTITIES, 3500).unwrap().is_none());
}

#[test]
fn a_repair_is_small_against_a_snapshot() {
    // 20,000 records of 40 bytes (48 with the key), 20 of them differing.
    let mut w = writer();
    let keys = keys(77, 20_000);
    put(&mut w, &keys, 0.0);
    w.flush().unwrap();
    let (mut r, mut twin) = (replica(), replica());
    let snapshot = snapshot_of(&mut w);
    assert_eq!(r.apply(&snapshot).unwrap(), Applied::Ok);
    assert_eq!(twin.apply(&snapshot).unwrap(), Applied::Ok);
    let changed: Vec<u64> = (0..20).map(|i| keys[i * 997]).collect();
    put(&mut w, &changed, 5.0);
    w.flush().unwrap();
    assert_eq!(w.info().unwrap().pending_changes, 0);

    // By hand first (answering changes nothing on the responder), then by podsync::reconcile:
    // the same messages, counted the same.
    let seen = exchange(&mut twin, &mut w, 0);
    let repair = seen.repair.as_ref().expect("a repair");
    assert!(seen.messages >= 3, "20 of 20,000 differ: the tree descends: {seen:?}");
    let report = podsync::reconcile(&mut r, &mut w).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_same(&r, &w);
    assert_eq!(
        (report.messages, report.summary_bytes, report.repair_bytes),
        (seen.messages, seen.summary_bytes, repair.len())
    );
    assert_eq!(twin.apply(repair).unwrap(), Applied::Ok);
    assert_same(&twin, &w);
    let ideal = 20 * 48;
    assert!(report.repair_bytes < 2 * ideal + 512, "{report:?}, ideal {ideal} bytes");
    assert!(
        report.total_bytes() < snapshot.len() / 10,
        "{report:?} against a snapshot of {} bytes",
        snapshot.len()
    );
    assert!(snapshot.len() > 20_000 * 48, "a snapshot carries every record");
}

#[test]
fn a_repair_for_a_state_the_replica_left_is_stale() {
    let mut w = writer();
    let all: Vec<u64> = (0..500).collect();
    put(&mut w, &all, 0.0);
    let mut r = replica();
    for f in flush(&mut w) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    // Another stream whose state differs in five records.
    let mut other = Store::writer_with(&schema(), &StoreOptions::new().stream_id(0x99)).unwrap();
    put(&mut other, &all, 0.0);
    put(&mut other, &all[..5], 1.0);
    other.flush().unwrap();

    let repair = exchange(&mut r, &mut other, 1).repair.expect("the states differ");
    // The replica moves on before the repair arrives.
    put(&mut w, &[7], 7.0);
    for f in flush(&mut w) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    let before = state(&r);
    let rejects = r.metrics().unwrap().rejects.get(ErrorKind::RepairStale);
    let err = r.apply(&repair).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RepairStale, "{err}");
    assert_eq!(err.status_name(), "PODSYNC_E_REPAIR_STALE");
    assert_eq!(state(&r), before, "nothing changed");
    assert_eq!(r.metrics().unwrap().rejects.get(ErrorKind::RepairStale), rejects + 1);

    // A new exchange brings it to the other stream (the same repair from the start would too).
    let report = podsync::reconcile(&mut r, &mut other).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_same(&r, &other);
    assert_eq!(r.info().unwrap().stream_id, 0x99);
}

#[test]
fn an_exchange_the_responder_can_no_longer_describe_is_stale() {
    // The responder answered with a descent at version V; before the replica's request arrives,
    // it forgets deletions back past V (its catch-up floor rises above V).
    let opts = StoreOptions::new().tombstone_horizon(2).max_tombstones(4);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    let keys = keys(5, 20_000);
    put(&mut w, &keys, 0.0);
    w.flush().unwrap();
    let mut r = replica();
    assert_eq!(r.apply(&snapshot_of(&mut w)).unwrap(), Applied::Ok);
    put(&mut w, &keys[..20], 1.0);
    w.flush().unwrap();
    let anchor = w.version().unwrap();

    let message = r.summary(0).unwrap().next().unwrap().to_vec();
    let answer = w.reconcile(&message).unwrap().next().unwrap().to_vec();
    assert!(frame::peek(&answer).unwrap().is_summary(), "20 of 20,000 differ: the tree descends");
    let request = r.reconcile(&answer).unwrap().next().unwrap().to_vec();

    for v in 0..10 {
        w.delete(ENTITIES, keys[1000 + v]).unwrap();
        w.flush().unwrap();
    }
    assert!(w.info().unwrap().catchup_floor > anchor);
    let (before, last_flush) = (state(&w), take_frames(&w));
    let err = w.reconcile(&request).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RepairStale, "{err}");
    assert_eq!(state(&w), before);
    // Refused before any work: the outbox still holds the last flush's frame, as the crate shows.
    assert_outbox_matches(&w, "a stale request");
    assert_eq!(take_frames(&w), last_flush);

    // Started again, it ends.
    let report = podsync::reconcile(&mut r, &mut w).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_same(&r, &w);
}

#[test]
fn stores_in_sync_have_nothing_to_repair() {
    let mut w = writer();
    put(&mut w, &(0..500).collect::<Vec<_>>(), 0.0);
    w.put_as(PAIRS, 9, &[9u64, 9]).unwrap();
    let mut r = replica();
    for f in flush(&mut w) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    let (before_r, before_w) = (state(&r), state(&w));
    let report = podsync::reconcile(&mut r, &mut w).unwrap();
    assert!(!report.repaired);
    assert_eq!((report.messages, report.repair_bytes), (1, 0), "{report:?}");
    assert!(report.summary_bytes > 0);
    assert_eq!(report.total_bytes(), report.summary_bytes);
    assert_eq!(state(&r), before_r);
    assert_eq!(state(&w), before_w);
    assert_eq!(w.frame_count(), 0, "an answer of no frame");

    // At every level, and from a replica that is itself up to date.
    for level in 1..=3 {
        let seen = exchange(&mut r, &mut w, level);
        assert!(seen.repair.is_none() && seen.messages == 1, "level {level}: {seen:?}");
    }
    let mut second = replica();
    assert!(podsync::reconcile(&mut second, &mut r).unwrap().repaired);
    assert!(!podsync::reconcile(&mut second, &mut r).unwrap().repaired);
    assert!(!podsync::reconcile(&mut second, &mut w).unwrap().repaired);

    // The same records under another stream (or version) are not in sync: two empty stores,
    // the replica following no stream yet, get a repair of no records that makes the replica
    // follow the writer's stream. Then they are in sync.
    let mut empty = writer();
    let mut fresh = replica();
    assert_eq!(fresh.digest().unwrap(), empty.digest().unwrap());
    let report = podsync::reconcile(&mut fresh, &mut empty).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_same(&fresh, &empty);
    assert_ne!(fresh.info().unwrap().stream_id, 0);
    let report = podsync::reconcile(&mut fresh, &mut empty).unwrap();
    assert_ne!(report, ReconcileReport::default());
    assert_eq!((report.messages, report.repaired, report.repair_bytes), (1, false, 0));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut w = writer();
    put(&mut w, &(0..100).collect::<Vec<_>>(), 0.0);
    let frame = flush(&mut w).remove(0);
    let mut r = replica();
    assert_eq!(r.apply(&frame).unwrap(), Applied::Ok);
    put(&mut w, &[1, 2], 1.0);
    w.flush().unwrap(); // the replica misses it: there is something to repair
    let summary = r.summary(2).unwrap().next().unwrap().to_vec();
    let repair = w.reconcile(&summary).unwrap().next().unwrap().to_vec();
    assert!(frame::peek(&repair).unwrap().is_repair());
    let (before_r, before_w) = (state(&r), state(&w));

    // A summary is not applied; frames (a delta, a repair) are not reconciled.
    let err = r.apply(&summary).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    for (what, bytes) in [("a delta", &frame), ("a repair", &repair)] {
        let err = w.reconcile(bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{what} given to reconcile: {err}");
        assert!(!err.message().is_empty());
        assert_eq!(r.reconcile(bytes).unwrap_err().kind(), ErrorKind::InvalidArgument, "{what}");
    }
    // Refused before any work: the outbox holds what it held, the summary, as the crate shows.
    assert_outbox_matches(&r, "reconcile given frames");
    assert_eq!(
        take_frames(&r),
        std::slice::from_ref(&summary),
        "the replica's summary is still there"
    );
    assert_eq!(r.summary(6).unwrap_err().kind(), ErrorKind::InvalidArgument, "levels 0 to 5");
    assert_outbox_matches(&r, "summary(6)");
    assert_eq!(
        take_frames(&r),
        std::slice::from_ref(&summary),
        "a failed summary leaves the outbox"
    );

    // Damaged messages, checked as frames are.
    let mut flipped = summary.clone();
    *flipped.last_mut().unwrap() ^= 0x40; // a hash byte: the checksum
    let mut magic = summary.clone();
    magic[0] ^= 0x01;
    let mut longer = summary.clone();
    longer.extend_from_slice(&[0; 8]);
    let cases: [(&str, &[u8], ErrorKind); 6] = [
        ("truncated", &summary[..summary.len() - 8], ErrorKind::FrameTruncated),
        ("a header alone", &summary[..40], ErrorKind::FrameTruncated),
        ("empty", &[], ErrorKind::FrameTruncated),
        ("a flipped byte", &flipped, ErrorKind::FrameChecksum),
        ("a flipped magic", &magic, ErrorKind::FrameMagic),
        ("8 bytes too long", &longer, ErrorKind::FrameMalformed),
    ];
    for (what, bytes, kind) in cases {
        let err = w.reconcile(bytes).unwrap_err();
        assert_eq!(err.kind(), kind, "{what}: {err}");
        assert_outbox_matches(&w, what);
        assert_eq!(
            take_frames(&w),
            std::slice::from_ref(&repair),
            "{what}: no answer; the repair stays"
        );
    }
    // The same damage to a repair frame, at apply.
    let mut flipped_repair = repair.clone();
    *flipped_repair.last_mut().unwrap() ^= 0x40;
    assert_eq!(r.apply(&flipped_repair).unwrap_err().kind(), ErrorKind::FrameChecksum);
    assert_eq!(r.apply(&repair[..repair.len() - 8]).unwrap_err().kind(), ErrorKind::FrameTruncated);

    // A message of another schema.
    let other = Schema::new().table(77, 8, 8, &[]).unwrap();
    let mut stranger = Store::replica(&other).unwrap();
    let foreign = stranger.summary(1).unwrap().next().unwrap().to_vec();
    assert_eq!(w.reconcile(&foreign).unwrap_err().kind(), ErrorKind::SchemaMismatch);

    assert_eq!(state(&r), before_r, "the replica is unchanged");
    assert_eq!(state(&w), before_w, "the responder is unchanged");
    // The undamaged repair still applies: none of this consumed it.
    assert_eq!(r.apply(&repair).unwrap(), Applied::Ok);
    assert_same(&r, &w);
}
