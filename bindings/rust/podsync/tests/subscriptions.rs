//! Subscriptions (library 0.8.0): `Subscription`, `Store::subscribe`, `Store::feed` and
//! `Store<Feed>`. A feed's frames hold only its subset; a subscribed replica that applies them
//! (deltas, snapshots, chunked snapshots, catch-up deltas, repairs) holds exactly the writer's
//! records of its subset (key ranges inclusive; shards disjoint and together the whole table),
//! at the writer's version, with the feed's digest; frames of another subset are refused
//! (`ErrorKind::NotSubscribed`) with nothing changed; bad subscriptions and late subscribers are
//! refused; a writer holds one reference per feed, whatever the number of times it is asked for.
//! A replica of the whole stream (a relay) serves feeds too: its feed follows the deltas it
//! applies and equals the writer's own feed of the subscription; a snapshot or a repair the relay
//! applies rebuilds the feed, whose subscribers catch up with a snapshot of it.

mod common;

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use common::*;
use podsync::frame::{self, FrameBuf};
use podsync::{
    Applied, Delta, Durability, ErrorKind, Feed, FeedSource, Replica, Role, Store, StoreOptions,
    StoreRole, Subscription, Writer,
};

type Records = Vec<(u64, Vec<u8>)>;

/// The subscription's bytes and hash.
fn encode(sub: &Subscription) -> (Vec<u8>, u64) {
    sub.encode().unwrap_or_else(|e| panic!("encode {sub:?}: {e}"))
}

/// A replica subscribed to `bytes`.
fn subscriber(bytes: &[u8]) -> Store<Replica> {
    let mut r = replica();
    r.subscribe(bytes).unwrap();
    r
}

fn in_ranges(ranges: &[RangeInclusive<u64>], key: u64) -> bool {
    ranges.is_empty() || ranges.iter().any(|r| r.contains(&key))
}

/// The writer's records of `table` whose keys `keep` accepts, sorted.
fn subset<R: Role>(w: &Store<R>, table: u32, keep: impl Fn(u64) -> bool) -> Records {
    dump(w, table).into_iter().filter(|(k, _)| keep(*k)).collect()
}

/// Two sets of records are equal; on failure says where they first differ (not all of them).
#[track_caller]
fn assert_records(left: &Records, right: &Records, what: &str) {
    if left != right {
        let at = left.iter().zip(right).position(|(a, b)| a != b);
        let at = at.unwrap_or(left.len().min(right.len()));
        panic!(
            "{what}: {} and {} records, first difference at index {at}: key {:?} vs {:?}",
            left.len(),
            right.len(),
            left.get(at).map(|r| r.0),
            right.get(at).map(|r| r.0)
        );
    }
}

/// Catches a subscriber up from its feed: a delta since its version, or a snapshot.
fn catch_up(r: &mut Store<Replica>, feed: &mut Store<Feed>) {
    match feed.delta_since(r.version().unwrap()).unwrap() {
        Delta::Frames(_) => {}
        Delta::SnapshotRequired => {
            feed.snapshot().unwrap();
        }
    }
    for f in feed.frames() {
        assert!(matches!(r.apply(f).unwrap(), Applied::Ok | Applied::ChunkStaged));
    }
}

/// Applies each frame; every one must apply.
fn apply_all(r: &mut Store<Replica>, frames: &[Vec<u8>], what: &str) {
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(r.apply(f).unwrap_or_else(|e| panic!("{what}: frame {i}: {e}")), Applied::Ok);
    }
}

/// Applies the chunks of a snapshot (or one whole snapshot): staged, then the last one applies.
fn apply_snapshot(r: &mut Store<Replica>, frames: &[Vec<u8>], what: &str) {
    for (i, f) in frames.iter().enumerate() {
        let expected = if i + 1 == frames.len() { Applied::Ok } else { Applied::ChunkStaged };
        assert_eq!(r.apply(f).unwrap_or_else(|e| panic!("{what}: chunk {i}: {e}")), expected);
    }
}

/// Flushes the writer, then the feed of `hash`; the feed's frames, copied.
fn flush_both(w: &mut Store<Writer>, hash: u64) -> Vec<Vec<u8>> {
    w.flush().unwrap();
    let feed = w.find_feed_mut(hash).expect("the writer holds the feed");
    feed.flush().unwrap();
    take_frames(feed)
}

/// Flushes the feed of `hash` that `store` (a writer or a relay) holds; its frames, copied.
fn flush_feed<R: FeedSource>(store: &mut Store<R>, hash: u64) -> Vec<Vec<u8>> {
    let feed = store.find_feed_mut(hash).expect("the store holds the feed");
    feed.flush().unwrap();
    take_frames(feed)
}

/// Random puts and deletes on both tables: `n` operations over keys below `keys`.
fn churn(w: &mut Store<Writer>, rng: &mut Rng, n: usize, keys: u64) {
    for _ in 0..n {
        let key = rng.below(keys);
        match rng.below(10) {
            0..=1 => {
                w.delete(ENTITIES, key).unwrap();
            }
            2 => {
                w.delete(PAIRS, key % 64).unwrap();
            }
            3..=4 => {
                w.put_as(PAIRS, key % 64, &[rng.next_u64(), key]).unwrap();
            }
            _ => {
                w.put_as(ENTITIES, key, &Entity::new(key, rng.below(1000) as f32)).unwrap();
            }
        }
    }
}

/// Every key a frame puts or deletes, per table.
fn keys_in(frame_bytes: &[u8]) -> Vec<(u32, u64)> {
    let buf = FrameBuf::from_slice(frame_bytes);
    let mut keys = Vec::new();
    for section in frame::sections(&buf).unwrap() {
        let section = section.unwrap();
        for &k in section.put_keys().iter().chain(section.delete_keys()) {
            keys.push((section.table_id(), k));
        }
    }
    keys
}

#[test]
fn a_feed_carries_exactly_the_subset_and_its_subscriber_holds_it() {
    // Table 1: keys 100 to 199 and 1000 to 1999 (bounds included); table 2: keys 0 to 9.
    let t1 = [100..=199, 1000..=1999];
    let t2 = [0..=9];
    let sub =
        Subscription::new().table_ranges(ENTITIES, t1.clone()).table_ranges(PAIRS, t2.clone());
    let (bytes, hash) = encode(&sub);
    let keep1 = |k: u64| in_ranges(&t1, k);
    let keep2 = |k: u64| in_ranges(&t2, k);

    // Plain frames (no transform), so that their sections can be read in place.
    let mut w = Store::writer_with(&schema(), &StoreOptions::new().transforms(0)).unwrap();
    let mut r = subscriber(&bytes);
    let mut whole = replica();
    w.feed(&bytes).unwrap();
    // The bounds and their neighbours.
    for k in [99, 100, 199, 200, 999, 1000, 1999, 2000] {
        w.put_as(ENTITIES, k, &Entity::new(k, 1.0)).unwrap();
    }
    for k in [0, 9, 10] {
        w.put_as(PAIRS, k, &[k, k]).unwrap();
    }
    let mut rng = Rng::new(seed(81));
    let mut frames_seen = 0;
    for tick in 0..40 {
        if tick > 0 {
            churn(&mut w, &mut rng, 200, 2500);
        }
        w.flush().unwrap();
        apply_all(&mut whole, &take_frames(&w), "whole stream");
        let version = w.version().unwrap();
        let feed = w.find_feed_mut(hash).unwrap();
        let due = feed.flush_due().unwrap();
        let n = feed.flush().unwrap();
        assert_eq!(n, usize::from(due), "tick {tick}: flush_due said whether a frame comes");
        assert!(n <= 1, "one frame a flush");
        let frames = take_frames(feed);
        for f in &frames {
            let info = frame::peek(f).unwrap();
            assert_eq!(info.format_version, 2, "a feed's frames are format 2");
            assert_eq!(info.state_version, version, "at the writer's version");
            for (table, key) in keys_in(f) {
                let keep = if table == ENTITIES { keep1(key) } else { keep2(key) };
                assert!(keep, "tick {tick}: the feed's frame carries key {key} of table {table}");
            }
        }
        frames_seen += frames.len();
        apply_all(&mut r, &frames, "subscriber");
        if n == 1 {
            assert_eq!(feed.version().unwrap(), version, "tick {tick}: the feed's version");
            assert_eq!(r.version().unwrap(), version, "tick {tick}: the subscriber's version");
        }
        assert_eq!(r.digest().unwrap(), feed.digest().unwrap(), "tick {tick}");
        let what = format!("tick {tick}");
        assert_records(&dump(&r, ENTITIES), &subset(&whole, ENTITIES, keep1), &what);
        assert_records(&dump(&r, PAIRS), &subset(&whole, PAIRS, keep2), &what);
        assert_records(&dump(feed, ENTITIES), &dump(&r, ENTITIES), &what);
    }
    assert!(frames_seen >= 30, "the subset changed in most ticks ({frames_seen} frames)");
    assert_eq!(whole.digest().unwrap(), w.digest().unwrap());
    // The bounds are in, their neighbours out.
    let held: BTreeSet<u64> = dump(&r, ENTITIES).into_iter().map(|(k, _)| k).collect();
    let all: BTreeSet<u64> = dump(&w, ENTITIES).into_iter().map(|(k, _)| k).collect();
    for k in [100, 199, 1000, 1999] {
        assert_eq!(held.contains(&k), all.contains(&k), "key {k} is in the subset");
    }
    for k in [99, 200, 999, 2000] {
        assert!(!held.contains(&k), "key {k} is not in the subset");
    }
    assert!(held.iter().all(|&k| keep1(k)));
    assert!(!held.is_empty());
}

#[test]
fn replicas_of_every_shard_are_disjoint_and_together_hold_the_writers_tables() {
    let mut w = writer();
    let subs: Vec<(Vec<u8>, u64)> = (0..4)
        .map(|s| encode(&Subscription::new().table(ENTITIES).table(PAIRS).shards(2, [s])))
        .collect();
    let mut replicas: Vec<Store<Replica>> = subs.iter().map(|(b, _)| subscriber(b)).collect();
    let mut rng = Rng::new(seed(82));
    // Records before the feeds exist: a new feed starts with the writer's flushed subset.
    churn(&mut w, &mut rng, 3000, 5000);
    w.flush().unwrap();
    for (bytes, hash) in &subs {
        let feed = w.feed(bytes).unwrap();
        assert_eq!(feed.subscription().unwrap(), Some((&bytes[..], *hash)));
    }
    assert_eq!(w.feeds().len(), 4);
    let mut caught_up = [false; 4];
    for tick in 0..10 {
        churn(&mut w, &mut rng, 500, 5000);
        w.flush().unwrap();
        let version = w.version().unwrap();
        for (i, (_, hash)) in subs.iter().enumerate() {
            let feed = w.find_feed_mut(*hash).unwrap();
            if !caught_up[i] {
                // The first time: the feed's state so far, as a snapshot.
                feed.snapshot().unwrap();
                apply_all(&mut replicas[i], &take_frames(feed), "snapshot");
                caught_up[i] = true;
            }
            feed.flush().unwrap();
            apply_all(&mut replicas[i], &take_frames(feed), "shard");
            assert_eq!(replicas[i].digest().unwrap(), feed.digest().unwrap(), "shard {i}");
            assert_eq!(replicas[i].version().unwrap(), version, "tick {tick}, shard {i}");
        }
        for table in [ENTITIES, PAIRS] {
            let mut union: Records = Vec::new();
            let mut seen = BTreeSet::new();
            for (i, r) in replicas.iter().enumerate() {
                let records = dump(r, table);
                for (k, _) in &records {
                    assert!(
                        seen.insert(*k),
                        "tick {tick}: key {k} of table {table} in two shards ({i})"
                    );
                }
                assert!(
                    !records.is_empty() || table == PAIRS,
                    "shard {i} of table {table} is empty"
                );
                union.extend(records);
            }
            union.sort();
            assert_records(&union, &dump(&w, table), &format!("tick {tick}: table {table}"));
        }
    }
    // Shards split a large table about evenly.
    let counts: Vec<usize> = replicas.iter().map(|r| r.count(ENTITIES).unwrap()).collect();
    let total: usize = counts.iter().sum();
    for c in &counts {
        assert!(*c * 8 > total, "uneven shards: {counts:?}");
    }
}

#[test]
fn late_and_lossy_subscribers_catch_up_from_the_feed() {
    let sub = Subscription::new().table_ranges(ENTITIES, [0..=4999]);
    let (bytes, hash) = encode(&sub);
    let keep = |k: u64| k <= 4999;
    let opts = StoreOptions::new().max_frame_bytes(4096);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    w.feed(&bytes).unwrap();
    let mut rng = Rng::new(seed(83));
    let mut in_sync = subscriber(&bytes);
    let mut lossy = subscriber(&bytes);
    for tick in 0..30 {
        churn(&mut w, &mut rng, 100, 10_000);
        let frames = flush_both(&mut w, hash);
        apply_all(&mut in_sync, &frames, "in sync");
        if tick % 3 != 0 {
            continue; // the lossy subscriber misses two frames in three
        }
        for f in &frames {
            match lossy.apply(f).unwrap() {
                Applied::Ok => {}
                Applied::Gap { .. } => catch_up(&mut lossy, w.find_feed_mut(hash).unwrap()),
                other => panic!("tick {tick}: {other:?}"),
            }
        }
        assert_eq!(lossy.digest().unwrap(), in_sync.digest().unwrap(), "tick {tick}");
    }
    catch_up(&mut lossy, w.find_feed_mut(hash).unwrap());
    let version = w.version().unwrap();
    assert_eq!(in_sync.version().unwrap(), version);
    assert_records(&dump(&in_sync, ENTITIES), &subset(&w, ENTITIES, keep), "in sync");
    assert_eq!(in_sync.count(PAIRS).unwrap(), 0, "table 2 is not subscribed");
    assert_records(&dump(&lossy, ENTITIES), &dump(&in_sync, ENTITIES), "lossy");

    // A late subscriber: the feed's snapshot (chunks: the state exceeds max_frame_bytes), then
    // a chunked snapshot streamed from the feed, then a catch-up delta since version 0.
    let feed = w.find_feed_mut(hash).unwrap();
    let n = feed.snapshot().unwrap();
    assert!(n > 1, "chunks");
    let mut late = subscriber(&bytes);
    apply_snapshot(&mut late, &take_frames(feed), "late");
    assert_records(&dump(&late, ENTITIES), &dump(&in_sync, ENTITIES), "late");
    assert_eq!(late.version().unwrap(), version);

    let mut streamed = subscriber(&bytes);
    let mut snapshot = w.find_feed_mut(hash).unwrap().begin_snapshot(1024).unwrap();
    let mut chunks = 0;
    while let Some(chunk) = snapshot.next_chunk(w.find_feed_mut(hash).unwrap()).unwrap() {
        chunks += 1;
        assert!(matches!(streamed.apply(chunk).unwrap(), Applied::Ok | Applied::ChunkStaged));
    }
    drop(snapshot);
    assert!(chunks > 1);
    assert_eq!(streamed.digest().unwrap(), in_sync.digest().unwrap());

    let mut from_zero = subscriber(&bytes);
    let feed = w.find_feed_mut(hash).unwrap();
    assert!(matches!(feed.delta_since(0).unwrap(), Delta::Frames(n) if n >= 1));
    apply_snapshot(&mut from_zero, &take_frames(feed), "delta since 0");
    assert_eq!(from_zero.digest().unwrap(), in_sync.digest().unwrap());

    // A subscribed replica serves its subset to another replica of the same subscription.
    let mut second_hand = subscriber(&bytes);
    in_sync.snapshot().unwrap();
    apply_all(&mut second_hand, &take_frames(&in_sync), "a subscriber's snapshot");
    churn(&mut w, &mut rng, 100, 10_000);
    let frames = flush_both(&mut w, hash);
    apply_all(&mut in_sync, &frames, "in sync");
    let before = second_hand.version().unwrap();
    assert!(matches!(in_sync.delta_since(before).unwrap(), Delta::Frames(1)));
    apply_all(&mut second_hand, &take_frames(&in_sync), "a subscriber's catch-up");
    assert_eq!(second_hand.digest().unwrap(), in_sync.digest().unwrap());
    assert_records(&dump(&second_hand, ENTITIES), &subset(&w, ENTITIES, keep), "second hand");
}

#[test]
fn frames_of_another_subset_are_not_subscribed_and_change_nothing() {
    let (a, hash_a) = encode(&Subscription::new().table_ranges(ENTITIES, [0..=99]));
    let (b, hash_b) = encode(&Subscription::new().table(PAIRS));
    assert_ne!(hash_a, hash_b);
    let mut w = writer();
    w.feed(&a).unwrap();
    w.feed(&b).unwrap();
    w.put_many(
        ENTITIES,
        &[1, 2, 500],
        &[Entity::new(1, 1.0), Entity::new(2, 2.0), Entity::new(500, 5.0)],
    )
    .unwrap();
    w.put_as(PAIRS, 3, &[3u64, 3]).unwrap();
    w.flush().unwrap();
    let whole_frame = w.frame(0).unwrap().to_vec();
    let a_frame = {
        let f = w.find_feed_mut(hash_a).unwrap();
        assert_eq!(f.flush().unwrap(), 1);
        f.frame(0).unwrap().to_vec()
    };
    let b_frame = {
        let f = w.find_feed_mut(hash_b).unwrap();
        assert_eq!(f.flush().unwrap(), 1);
        f.frame(0).unwrap().to_vec()
    };

    // A replica of the whole stream refuses a feed's frame.
    let mut whole = replica();
    for f in [&a_frame, &b_frame] {
        let err = whole.apply(f).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotSubscribed, "{err}");
        assert_eq!(err.status_name(), "PODSYNC_E_NOT_SUBSCRIBED");
        assert!(!err.message().is_empty());
    }
    assert_eq!((whole.version().unwrap(), whole.digest().unwrap()), (0, 0), "nothing changed");
    assert_eq!(whole.metrics().unwrap().rejects.get(ErrorKind::NotSubscribed), 2);
    assert_eq!(whole.subscription().unwrap(), None);
    assert_eq!(whole.apply(&whole_frame).unwrap(), Applied::Ok);

    // A subscriber refuses the whole stream's frame and another subscription's.
    let mut r = subscriber(&a);
    for f in [&whole_frame, &b_frame] {
        assert_eq!(r.apply(f).unwrap_err().kind(), ErrorKind::NotSubscribed);
    }
    assert_eq!((r.version().unwrap(), r.count(ENTITIES).unwrap()), (0, 0), "nothing changed");
    assert_eq!(r.apply(&a_frame).unwrap(), Applied::Ok);
    assert_eq!(r.count(ENTITIES).unwrap(), 2);
    let before = (r.version().unwrap(), r.digest().unwrap());
    assert_eq!(r.apply(&b_frame).unwrap_err().kind(), ErrorKind::NotSubscribed);
    assert_eq!((r.version().unwrap(), r.digest().unwrap()), before);
    assert_eq!(r.metrics().unwrap().rejects.get(ErrorKind::NotSubscribed), 3);

    // Summaries obey the same rule: a subscriber and the whole stream do not reconcile.
    let message = r.summary(0).unwrap().next().unwrap().to_vec();
    assert_eq!(w.reconcile(&message).unwrap_err().kind(), ErrorKind::NotSubscribed);
    let message = whole.summary(0).unwrap().next().unwrap().to_vec();
    let feed_b = w.find_feed_mut(hash_b).unwrap();
    assert_eq!(feed_b.reconcile(&message).unwrap_err().kind(), ErrorKind::NotSubscribed);
    assert_eq!(
        podsync::reconcile(&mut whole, w.find_feed_mut(hash_a).unwrap()).unwrap_err().kind(),
        ErrorKind::NotSubscribed
    );
}

#[test]
fn a_subscriber_that_missed_frames_is_healed_by_reconciliation_with_its_feed() {
    let (bytes, hash) = encode(&Subscription::new().table(ENTITIES).shards(3, [1, 2, 6]));
    let opts = StoreOptions::new().tombstone_horizon(2).max_tombstones(8);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    w.feed(&bytes).unwrap();
    let mut rng = Rng::new(seed(84));
    let mut r = subscriber(&bytes);
    churn(&mut w, &mut rng, 4000, 20_000);
    apply_all(&mut r, &flush_both(&mut w, hash), "first");
    let snapshot_bytes = {
        let feed = w.find_feed_mut(hash).unwrap();
        feed.snapshot().unwrap();
        feed.frames().map(<[u8]>::len).sum::<usize>()
    };
    // Ten flushes missed, each deleting a record of the subset: below the feed's catch-up floor.
    let doomed: Vec<u64> = dump(&r, ENTITIES).iter().map(|(k, _)| *k).step_by(7).take(10).collect();
    assert_eq!(doomed.len(), 10);
    for key in doomed {
        churn(&mut w, &mut rng, 20, 20_000);
        w.delete(ENTITIES, key).unwrap();
        flush_both(&mut w, hash);
    }
    let behind = r.version().unwrap();
    let feed = w.find_feed_mut(hash).unwrap();
    assert_eq!(feed.delta_since(behind).unwrap(), Delta::SnapshotRequired);
    let report = podsync::reconcile(&mut r, feed).unwrap();
    assert!(report.repaired, "{report:?}");
    assert!(report.total_bytes() < snapshot_bytes, "{report:?} vs a snapshot of {snapshot_bytes}");
    assert_eq!(r.digest().unwrap(), feed.digest().unwrap());
    assert_eq!(r.version().unwrap(), w.version().unwrap());
    assert_records(&dump(&r, ENTITIES), &dump(w.find_feed(hash).unwrap(), ENTITIES), "repaired");
    // In sync now, and it continues with the feed's deltas.
    assert!(!podsync::reconcile(&mut r, w.find_feed_mut(hash).unwrap()).unwrap().repaired);
    churn(&mut w, &mut rng, 50, 20_000);
    apply_all(&mut r, &flush_both(&mut w, hash), "after the repair");
    assert_eq!(r.digest().unwrap(), w.find_feed(hash).unwrap().digest().unwrap());
}

#[test]
fn bad_subscriptions_and_late_subscribers_are_refused() {
    let invalid = |sub: Subscription, what: &str| {
        let err = sub.encode().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{what}: {err}");
        assert!(!err.message().is_empty(), "{what}");
    };
    invalid(Subscription::new(), "no table");
    invalid(Subscription::new().table_ranges(1, [RangeInclusive::new(10, 5)]), "inverted range");
    invalid(Subscription::new().table(2).table(1), "unsorted tables");
    invalid(Subscription::new().table(1).table(1), "a table twice");
    invalid(Subscription::new().table_ranges(1, [20..=30, 0..=10]), "unsorted ranges");
    invalid(Subscription::new().table_ranges(1, [0..=10, 5..=30]), "overlapping ranges");
    invalid(Subscription::new().table_ranges(1, [0..=10, 11..=30]), "adjacent ranges");
    invalid(Subscription::new().table(1).shards(17, [0]), "17 shard bits");
    invalid(Subscription::new().table(1).shards(2, [4]), "shard 4 of 2 bits");
    invalid(Subscription::new().table(1).shards(2, [3, 1]), "unsorted shards");
    invalid(Subscription::new().table(1).shards(0, [0]), "shards without shard bits");
    // What the rules allow.
    encode(&Subscription::new().table_ranges(1, [0..=10, 12..=30, 5000..=u64::MAX]));
    encode(&Subscription::new().table_ranges(1, [7..=7]).shards(16, [0, 65535]));
    encode(&Subscription::new().table_ranges(1, []).table(2));
    assert_eq!(
        encode(&Subscription::new().table_ranges(1, [])),
        encode(&Subscription::new().table(1)),
        "no range is every key"
    );
    let sub = Subscription::new().table_ranges(1, [3..=4]).shards(1, [1]);
    assert_eq!(sub.tables(), &[(1, vec![3..=4])]);
    assert_eq!((sub.shard_bits(), sub.shard_ids()), (1, &[1][..]));

    // Tables the schema lacks, and bytes that are not a subscription.
    let (unknown, _) = encode(&Subscription::new().table(9));
    let (bytes, _) = encode(&Subscription::new().table(ENTITIES));
    let mut w = writer();
    let mut r = replica();
    for bad in [&unknown[..], &bytes[..bytes.len() - 1], b"not a subscription", &[]] {
        assert_eq!(r.subscribe(bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(w.feed(bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
    assert_eq!(w.feeds().len(), 0);
    assert_eq!(r.subscription().unwrap(), None, "nothing changed");
    r.subscribe(&bytes).unwrap();
    let again = r.subscribe(&bytes).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::InvalidArgument, "a replica subscribes once: {again}");

    // A replica that holds records (or follows a stream) may not subscribe.
    w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    w.flush().unwrap();
    let mut late = replica();
    assert_eq!(late.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    let err = late.subscribe(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(late.subscription().unwrap(), None);
    assert_eq!(late.count(ENTITIES).unwrap(), 1, "nothing changed");

    // Nor may a durable one, in this version.
    let dir = std::env::temp_dir().join(format!("podsync-rust-subscribe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut durable, _) =
        Store::<Replica>::open(&dir, Some(&schema()), &StoreOptions::new(), &Durability::new())
            .unwrap();
    assert_eq!(durable.subscribe(&bytes).unwrap_err().kind(), ErrorKind::InvalidArgument);
    drop(durable);

    // A feed is made by its writer only.
    let err = Store::<Feed>::new(&schema()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("Store::<Writer>::feed"), "{err}");
    let err = Store::<Feed>::with_options(&schema(), &StoreOptions::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err =
        Store::<Feed>::open(&dir, None, &StoreOptions::new(), &Durability::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_same_subscription_gives_the_same_feed_and_the_writer_holds_one_reference() {
    let (bytes, hash) = encode(&Subscription::new().table_ranges(ENTITIES, [0..=9]));
    let mut w = writer();
    assert_eq!(w.subscription().unwrap(), None);
    w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    w.put_as(ENTITIES, 50, &Entity::new(50, 1.0)).unwrap();
    w.flush().unwrap();
    w.put_as(ENTITIES, 2, &Entity::new(2, 2.0)).unwrap(); // pending: not in a new feed

    let feed = w.feed(&bytes).unwrap();
    let ptr = feed.as_ptr();
    // A new feed: the writer's flushed subset, at its version, with nothing to flush.
    assert_eq!((feed.version().unwrap(), feed.count(ENTITIES).unwrap()), (1, 1));
    assert!(!feed.flush_due().unwrap());
    assert_eq!(feed.flush().unwrap(), 0);
    assert_eq!(feed.subscription().unwrap(), Some((&bytes[..], hash)));
    let info = feed.info().unwrap();
    assert_eq!(info.role, StoreRole::Writer, "a writer for the library");
    assert!(format!("{feed:?}").contains("role: Feed"), "{feed:?}");
    assert_eq!(w.feed(&bytes).unwrap().as_ptr(), ptr, "asked again: the same feed");
    assert_eq!(w.feeds().len(), 1);
    assert_eq!(w.find_feed(hash).unwrap().as_ptr(), ptr);
    assert!(w.find_feed(hash ^ 1).is_none());

    // The library hands out a new reference each time (the binding released the extra ones):
    // one more through the raw API, released, leaves the binding's feed following the writer.
    let mut raw: *mut podsync::sys::podsync_store = std::ptr::null_mut();
    // SAFETY: a valid writer handle, the subscription's bytes and an out-pointer.
    let st = unsafe {
        podsync::sys::podsync_store_feed(
            w.as_mut_ptr(),
            bytes.as_ptr().cast(),
            bytes.len(),
            &mut raw,
        )
    };
    assert_eq!(st, podsync::sys::PODSYNC_OK);
    assert_eq!(raw.cast_const(), ptr, "the same C feed");
    // SAFETY: the reference just received, released once.
    unsafe { podsync::sys::podsync_store_free(raw) };
    w.flush().unwrap(); // key 2
    let feed = w.find_feed_mut(hash).unwrap();
    assert!(feed.flush_due().unwrap());
    assert_eq!(feed.flush().unwrap(), 1, "the feed still follows the writer");
    assert_eq!((feed.count(ENTITIES).unwrap(), feed.version().unwrap()), (2, 2));

    // Closed: the writer forgets it; a new feed of the same subscription starts afresh at the
    // writer's version.
    assert!(w.close_feed(hash));
    assert!(!w.close_feed(hash));
    assert_eq!(w.feeds().len(), 0);
    w.put_as(ENTITIES, 3, &Entity::new(3, 3.0)).unwrap();
    w.flush().unwrap();
    let feed = w.feed(&bytes).unwrap();
    assert_eq!((feed.count(ENTITIES).unwrap(), feed.version().unwrap()), (3, 3));
    let mut r = subscriber(&bytes);
    feed.snapshot().unwrap();
    apply_all(&mut r, &take_frames(feed), "snapshot of the new feed");
    assert_eq!(r.count(ENTITIES).unwrap(), 3);

    // A feed with a chunked snapshot under way can be closed; so can a writer with feeds be
    // dropped (its feeds go first).
    let mut snapshot = w.find_feed_mut(hash).unwrap().begin_snapshot(0).unwrap();
    assert!(snapshot.next_chunk(w.find_feed_mut(hash).unwrap()).unwrap().is_some());
    assert!(w.close_feed(hash));
    drop(snapshot);
    w.feed(&bytes).unwrap();
    w.feed(&encode(&Subscription::new().table(PAIRS)).0).unwrap();
    assert_eq!(w.feeds_mut().len(), 2);
    drop(w);
}

#[test]
fn pending_writes_reach_a_feed_only_with_the_writers_flush() {
    let (bytes, hash) = encode(&Subscription::new().table(PAIRS));
    let mut w = writer();
    w.feed(&bytes).unwrap();
    let mut r = subscriber(&bytes);
    w.put_as(PAIRS, 1, &[1u64, 1]).unwrap();
    w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    {
        let feed = w.find_feed_mut(hash).unwrap();
        assert!(!feed.flush_due().unwrap(), "the writer has not flushed");
        assert_eq!(feed.flush().unwrap(), 0);
        assert_eq!(feed.count(PAIRS).unwrap(), 0);
    }
    w.flush().unwrap(); // v1
    w.put_as(ENTITIES, 2, &Entity::new(2, 2.0)).unwrap();
    w.flush().unwrap(); // v2: nothing in the subset
    w.put_as(PAIRS, 2, &[2u64, 2]).unwrap();
    w.delete(PAIRS, 1).unwrap();
    w.flush().unwrap(); // v3
    let feed = w.find_feed_mut(hash).unwrap();
    assert!(feed.flush_due().unwrap());
    // The writer's records reached the feed before its flush: the pending changes of a writer.
    assert_eq!(feed.count(PAIRS).unwrap(), 1);
    assert_eq!(feed.get_as::<[u64; 2]>(PAIRS, 2).unwrap(), Some(&[2, 2]));
    assert_eq!(feed.info().unwrap().pending_changes, 1, "key 1, created and deleted, is none");
    assert_eq!(feed.flush().unwrap(), 1, "three flushes of the writer, one frame");
    let info = frame::peek(feed.frame(0).unwrap()).unwrap();
    assert_eq!((info.base_version, info.state_version), (0, 3), "its version jumps");
    apply_all(&mut r, &take_frames(feed), "jump");
    assert_eq!(r.version().unwrap(), 3);
    assert_eq!(dump(&r, PAIRS), dump(&w, PAIRS));
    assert_eq!(r.count(ENTITIES).unwrap(), 0);
}

#[test]
fn a_writer_holding_a_swapped_in_feed_refuses_to_write_into_feeds() {
    let (bytes, h) = encode(&Subscription::new().table(ENTITIES));
    let (mut w1, mut w2) = (writer(), writer());
    for w in [&mut w1, &mut w2] {
        w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
        w.flush().unwrap();
        w.feed(&bytes).unwrap();
    }
    let (p1, p2) = (w1.find_feed(h).unwrap().as_ptr(), w2.find_feed(h).unwrap().as_ptr());
    assert_ne!(p1, p2);
    std::mem::swap(w1.find_feed_mut(h).unwrap(), w2.find_feed_mut(h).unwrap());
    // Each writer's own feed is held by the other: neither writes into feeds.
    for w in [&mut w1, &mut w2] {
        w.put_as(ENTITIES, 2, &Entity::new(2, 2.0)).unwrap();
        let err = w.flush().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.message().contains("std::mem::swap"), "{err}");
        assert_eq!(w.feed(&bytes).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(w.version().unwrap(), 1, "nothing flushed");
    }
    // Swapped back, all is well.
    std::mem::swap(w1.find_feed_mut(h).unwrap(), w2.find_feed_mut(h).unwrap());
    assert_eq!(w1.find_feed(h).unwrap().as_ptr(), p1);
    for w in [&mut w1, &mut w2] {
        w.flush().unwrap();
        let feed = w.find_feed_mut(h).unwrap();
        assert_eq!(feed.flush().unwrap(), 1);
        assert_eq!(feed.count(ENTITIES).unwrap(), 2);
    }
    // Swapped and dropped: each writer leaks the other's feed rather than touch the other writer.
    std::mem::swap(w1.find_feed_mut(h).unwrap(), w2.find_feed_mut(h).unwrap());
    drop(w1);
    drop(w2);
}

#[test]
fn a_relay_serves_a_feed_equal_to_its_writers_and_rebuilds_it_after_a_snapshot() {
    let t1 = [0..=1999, 3000..=3499];
    let sub = Subscription::new().table_ranges(ENTITIES, t1.clone()).table(PAIRS);
    let (bytes, hash) = encode(&sub);
    let keep1 = |k: u64| in_ranges(&t1, k);
    let mut w = writer();
    let mut r = replica(); // the relay: a replica of the whole stream
    let mut rng = Rng::new(seed(85));
    // Records from before the relay and the feeds: the relay starts from a snapshot.
    churn(&mut w, &mut rng, 2000, 5000);
    w.flush().unwrap();
    w.snapshot().unwrap();
    apply_all(&mut r, &take_frames(&w), "the relay's first snapshot");

    // The writer's own feed and the relay's, made at the same point: the same subset, version
    // and digest.
    w.feed(&bytes).unwrap();
    let rf = r.feed(&bytes).unwrap();
    let rf_ptr = rf.as_ptr();
    assert_eq!(rf.subscription().unwrap(), Some((&bytes[..], hash)));
    assert_eq!(rf.info().unwrap().role, StoreRole::Writer, "a writer for the library");
    assert_eq!(rf.version().unwrap(), w.version().unwrap());
    assert_eq!(rf.digest().unwrap(), w.find_feed(hash).unwrap().digest().unwrap());
    assert!(!rf.flush_due().unwrap());
    assert_eq!(r.feed(&bytes).unwrap().as_ptr(), rf_ptr, "asked again: the same feed");
    assert_eq!(r.feeds().len(), 1);
    assert_eq!(r.find_feed(hash).unwrap().as_ptr(), rf_ptr);

    // The subscriber starts from a snapshot of the relay's feed, then follows its flushes.
    let mut s = subscriber(&bytes);
    let rf = r.find_feed_mut(hash).unwrap();
    rf.snapshot().unwrap();
    apply_all(&mut s, &take_frames(rf), "the subscriber's first snapshot");

    // Checks the subscriber against the writer and its own feed (flushed at the same point).
    let check = |s: &Store<Replica>, w: &Store<Writer>, r: &Store<Replica>, what: &str| {
        let wf = w.find_feed(hash).unwrap();
        let rf = r.find_feed(hash).unwrap();
        assert_eq!(s.digest().unwrap(), wf.digest().unwrap(), "{what}: the writer's feed");
        assert_eq!(rf.digest().unwrap(), wf.digest().unwrap(), "{what}: the relay's feed");
        assert_eq!(s.version().unwrap(), wf.version().unwrap(), "{what}: version");
        assert_records(&dump(s, ENTITIES), &subset(w, ENTITIES, keep1), what);
        assert_records(&dump(s, PAIRS), &dump(w, PAIRS), what);
        assert_records(&dump(rf, ENTITIES), &dump(s, ENTITIES), what);
    };
    check(&s, &w, &r, "start");

    let mut frames_seen = 0;
    for tick in 0..30 {
        // One to three flushes of the writer, each applied by the relay, before the feeds flush:
        // a feed frame covers them all.
        for _ in 0..=rng.below(3) {
            churn(&mut w, &mut rng, 150, 5000);
            w.flush().unwrap();
            apply_all(&mut r, &take_frames(&w), "relay");
        }
        assert_eq!(r.digest().unwrap(), w.digest().unwrap(), "tick {tick}: the relay");
        let due = r.find_feed(hash).unwrap().flush_due().unwrap();
        let wf_frames = flush_feed(&mut w, hash);
        let rf_frames = flush_feed(&mut r, hash);
        assert_eq!(rf_frames.len(), usize::from(due), "tick {tick}: flush_due said so");
        assert_eq!(rf_frames.len(), wf_frames.len(), "tick {tick}: a frame from both feeds");
        for (rf_frame, wf_frame) in rf_frames.iter().zip(&wf_frames) {
            let (a, b) = (frame::peek(rf_frame).unwrap(), frame::peek(wf_frame).unwrap());
            assert_eq!(a.format_version, 2);
            assert_eq!(
                (a.base_version, a.state_version, a.state_digest, a.stream_id),
                (b.base_version, b.state_version, b.state_digest, b.stream_id),
                "tick {tick}: the relay's feed frame is the writer's feed frame"
            );
        }
        frames_seen += rf_frames.len();
        apply_all(&mut s, &rf_frames, "subscriber");
        check(&s, &w, &r, &format!("tick {tick}"));
    }
    assert!(frames_seen >= 25, "the subset changed in most ticks ({frames_seen} frames)");

    // A chunked snapshot of the relay's feed is under way when the relay misses a frame.
    let mut streaming = r.find_feed_mut(hash).unwrap().begin_snapshot(1024).unwrap();
    assert!(streaming.next_chunk(r.find_feed_mut(hash).unwrap()).unwrap().is_some());
    let behind = s.version().unwrap();
    churn(&mut w, &mut rng, 150, 5000);
    w.flush().unwrap(); // lost on the way to the relay
    churn(&mut w, &mut rng, 150, 5000);
    w.flush().unwrap();
    let next = take_frames(&w);
    assert!(matches!(r.apply(&next[0]).unwrap(), Applied::Gap { .. }));
    assert!(!r.find_feed(hash).unwrap().flush_due().unwrap(), "a gap changes nothing");
    // The relay takes a snapshot of the writer: its feed is rebuilt from the relay's state.
    w.snapshot().unwrap();
    apply_snapshot(&mut r, &take_frames(&w), "the relay's snapshot");
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    flush_feed(&mut w, hash);
    let rf = r.find_feed_mut(hash).unwrap();
    assert_eq!(rf.as_ptr(), rf_ptr, "the same feed, rebuilt");
    assert_eq!(rf.version().unwrap(), w.version().unwrap(), "at the relay's version");
    assert!(!rf.flush_due().unwrap(), "a rebuilt feed has nothing to flush");
    assert_eq!(rf.flush().unwrap(), 0);
    let err = streaming.next_chunk(rf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SnapshotExpired, "{err}");
    drop(streaming);
    // The feed's catch-up floor starts at the rebuild: the subscriber needs a snapshot.
    assert!(s.version().unwrap() < rf.version().unwrap());
    assert_eq!(rf.delta_since(behind).unwrap(), Delta::SnapshotRequired);
    rf.snapshot().unwrap();
    apply_all(&mut s, &take_frames(rf), "the subscriber's snapshot after the rebuild");
    check(&s, &w, &r, "after the relay's snapshot");

    // Then the feed follows the relay's deltas again, key by key.
    for tick in 0..5 {
        churn(&mut w, &mut rng, 150, 5000);
        w.flush().unwrap();
        apply_all(&mut r, &take_frames(&w), "relay");
        let wf_frames = flush_feed(&mut w, hash);
        let rf_frames = flush_feed(&mut r, hash);
        assert_eq!(rf_frames.len(), wf_frames.len(), "after the rebuild, tick {tick}");
        apply_all(&mut s, &rf_frames, "subscriber");
        check(&s, &w, &r, &format!("after the rebuild, tick {tick}"));
    }

    // A repair the relay applies (the end of a reconciliation with its writer) rebuilds the
    // feed too.
    for k in 0..20 {
        w.delete(ENTITIES, k * 97).unwrap();
        w.put_as(PAIRS, k, &[k, k]).unwrap();
    }
    w.flush().unwrap(); // lost on the way to the relay
    let report = podsync::reconcile(&mut r, &mut w).unwrap();
    assert!(report.repaired, "{report:?}");
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    flush_feed(&mut w, hash);
    let rf = r.find_feed_mut(hash).unwrap();
    assert_eq!(rf.version().unwrap(), w.version().unwrap());
    assert_eq!(rf.flush().unwrap(), 0);
    catch_up(&mut s, rf);
    check(&s, &w, &r, "after the relay's repair");

    // Closed: the relay stops updating it.
    assert!(r.close_feed(hash));
    assert!(!r.close_feed(hash));
    assert_eq!(r.feeds().len(), 0);
}

#[test]
fn subscribed_and_diverged_replicas_serve_no_feeds() {
    let (bytes, _) = encode(&Subscription::new().table(ENTITIES));
    // A subscribed replica holds part of the stream only.
    let mut s = subscriber(&bytes);
    let err = s.feed(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongRole, "{err}");
    let (other, _) = encode(&Subscription::new().table(PAIRS));
    assert_eq!(s.feed(&other).unwrap_err().kind(), ErrorKind::WrongRole);
    assert_eq!(s.feeds().len(), 0);

    // A diverged relay passes on no state: two writers of one stream id, and a relay that
    // applied frames of both.
    let opts = StoreOptions::new().stream_id(0x5EED);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    let mut impostor = Store::writer_with(&schema(), &opts).unwrap();
    for x in [&mut w, &mut impostor] {
        x.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
        x.flush().unwrap();
    }
    let mut r = replica();
    apply_all(&mut r, &take_frames(&w), "v1");
    impostor.put_as(ENTITIES, 2, &Entity::new(2, 2.0)).unwrap();
    impostor.flush().unwrap();
    apply_all(&mut r, &take_frames(&impostor), "the impostor's v2");
    w.put_as(ENTITIES, 3, &Entity::new(3, 3.0)).unwrap();
    w.flush().unwrap(); // v2 of the writer: the relay misses it
    w.put_as(ENTITIES, 4, &Entity::new(4, 4.0)).unwrap();
    w.flush().unwrap();
    let err = r.apply(w.frame(0).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");
    let err = r.feed(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Diverged, "{err}");
    assert_eq!(r.feeds().len(), 0);
    // Healed by a snapshot, it serves feeds.
    w.snapshot().unwrap();
    apply_all(&mut r, &take_frames(&w), "snapshot");
    let feed = r.feed(&bytes).unwrap();
    assert_eq!(feed.count(ENTITIES).unwrap(), 3);
    assert_eq!(feed.version().unwrap(), w.version().unwrap());
}

#[test]
fn a_relay_holding_a_swapped_in_feed_refuses_to_apply() {
    let (bytes, h) = encode(&Subscription::new().table(ENTITIES));
    let mut w = writer();
    let mut r = replica();
    w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    w.flush().unwrap();
    apply_all(&mut r, &take_frames(&w), "v1");
    w.feed(&bytes).unwrap();
    r.feed(&bytes).unwrap();
    let (pw, pr) = (w.find_feed(h).unwrap().as_ptr(), r.find_feed(h).unwrap().as_ptr());
    assert_ne!(pw, pr);
    std::mem::swap(w.find_feed_mut(h).unwrap(), r.find_feed_mut(h).unwrap());
    // The relay's own feed is held by the writer and the writer's by the relay: neither writes
    // into feeds.
    w.put_as(ENTITIES, 2, &Entity::new(2, 2.0)).unwrap();
    let err = w.flush().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(w.version().unwrap(), 1, "nothing flushed");
    let mut other = writer();
    other.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    other.snapshot().unwrap();
    let frame = take_frames(&other).remove(0);
    let err = r.apply(&frame).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("std::mem::swap"), "{err}");
    assert!(err.message().contains("Store::apply"), "{err}");
    assert_eq!(r.feed(&bytes).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(r.version().unwrap(), 1, "nothing applied");
    assert_eq!(r.metrics().unwrap().frames_applied, 1, "the library was not called");
    // Swapped back, all is well.
    std::mem::swap(w.find_feed_mut(h).unwrap(), r.find_feed_mut(h).unwrap());
    assert_eq!(r.find_feed(h).unwrap().as_ptr(), pr);
    w.flush().unwrap();
    apply_all(&mut r, &take_frames(&w), "v2");
    for feed in [w.find_feed_mut(h).unwrap(), r.find_feed_mut(h).unwrap()] {
        assert_eq!(feed.flush().unwrap(), 1);
        assert_eq!(feed.count(ENTITIES).unwrap(), 2);
    }
    // Swapped and dropped: each leaks the other's feed rather than touch the other store.
    std::mem::swap(w.find_feed_mut(h).unwrap(), r.find_feed_mut(h).unwrap());
    drop(r);
    drop(w);
}
