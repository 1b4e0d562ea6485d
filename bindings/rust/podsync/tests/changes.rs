//! Change events (library 0.7.0): `Store::track_changes` and `Store::changes` list the keys each
//! apply upserted and deleted, table by table: deltas exactly, nothing for a duplicate (or a gap,
//! or an error), not the values a catch-up delta re-sends unchanged, every key of a replacing
//! snapshot (whole or chunked) with `replaced()`, the same lists from compressed frames; errors
//! while tracking is off; and writers that send nothing for unchanged writes.

mod common;

use common::*;
use podsync::frame;
use podsync::{Applied, Delta, ErrorKind, Replica, Store, StoreOptions, Writer, sys};

/// The lists of `table` after the last apply, sorted, as owned vectors, with the flags.
#[derive(Debug, PartialEq)]
struct Listed {
    upserted: Vec<u64>,
    deleted: Vec<u64>,
    replaced: bool,
    complete: bool,
}

fn listed(r: &Store<Replica>, table: u32) -> Listed {
    let c = r.changes(table).unwrap();
    assert_eq!(c.table_id(), table);
    let (mut upserted, mut deleted) = (c.upserted().to_vec(), c.deleted().to_vec());
    upserted.sort_unstable();
    deleted.sort_unstable();
    Listed { upserted, deleted, replaced: c.replaced(), complete: c.complete() }
}

/// A delta's lists: not replaced, complete.
fn delta(upserted: &[u64], deleted: &[u64]) -> Listed {
    Listed {
        upserted: upserted.to_vec(),
        deleted: deleted.to_vec(),
        replaced: false,
        complete: true,
    }
}

/// A replacing snapshot's lists.
fn replaced(upserted: &[u64], deleted: &[u64]) -> Listed {
    Listed {
        upserted: upserted.to_vec(),
        deleted: deleted.to_vec(),
        replaced: true,
        complete: true,
    }
}

fn tracking_replica() -> Store<Replica> {
    let mut r = replica();
    r.track_changes(true).unwrap();
    r
}

fn put_entities(w: &mut Store<Writer>, keys: &[u64], x: f32) {
    let records: Vec<Entity> = keys.iter().map(|&k| Entity::new(k, x + k as f32)).collect();
    w.put_many(ENTITIES, keys, &records).unwrap();
}

/// Flushes `w` and applies every frame to `r`, expecting `Applied::Ok` (one frame here).
fn ship(w: &mut Store<Writer>, r: &mut Store<Replica>) {
    assert_eq!(w.flush().unwrap(), 1, "one frame");
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
}

#[test]
fn deltas_list_inserts_updates_and_deletes_exactly() {
    let mut w = writer();
    let mut r = tracking_replica();

    // v1: five entities and two pairs, all new.
    put_entities(&mut w, &[1, 2, 3, 4, 5], 0.0);
    w.put_many(PAIRS, &[100, 101], &[[1u64, 1], [2, 2]]).unwrap();
    ship(&mut w, &mut r);
    assert_eq!(listed(&r, ENTITIES), delta(&[1, 2, 3, 4, 5], &[]));
    assert_eq!(listed(&r, PAIRS), delta(&[100, 101], &[]));
    // Reading does not consume: the same lists again, and the keys are there.
    assert_eq!(listed(&r, ENTITIES), delta(&[1, 2, 3, 4, 5], &[]));
    for &k in r.changes(ENTITIES).unwrap().upserted() {
        assert_eq!(r.get_as::<Entity>(ENTITIES, k).unwrap().unwrap().id, k);
    }

    // v2: update 2 and 4, delete 5, insert 6; the pairs untouched.
    put_entities(&mut w, &[2, 4, 6], 10.0);
    w.delete(ENTITIES, 5).unwrap();
    ship(&mut w, &mut r);
    assert_eq!(listed(&r, ENTITIES), delta(&[2, 4, 6], &[5]));
    assert_eq!(listed(&r, PAIRS), delta(&[], &[]));
    assert!(r.changes(PAIRS).unwrap().is_empty());

    // v3: only the pairs change (one update, one delete); the entities' lists are emptied.
    w.put_as(PAIRS, 100, &[9u64, 9]).unwrap();
    w.delete(PAIRS, 101).unwrap();
    ship(&mut w, &mut r);
    assert_eq!(listed(&r, ENTITIES), delta(&[], &[]));
    assert_eq!(listed(&r, PAIRS), delta(&[100], &[101]));

    // v4: many deletes and inserts in one frame; each key listed once.
    let gone: Vec<u64> = vec![1, 3];
    w.delete_many(ENTITIES, &gone).unwrap();
    let born: Vec<u64> = (1000..1100).collect();
    put_entities(&mut w, &born, 1.0);
    ship(&mut w, &mut r);
    let c = r.changes(ENTITIES).unwrap();
    assert_eq!((c.upserted().len(), c.deleted().len()), (100, 2), "{c:?}");
    assert_eq!(listed(&r, ENTITIES), delta(&born, &gone));
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn an_apply_that_changes_nothing_empties_the_lists() {
    let mut w = writer();
    let mut r = tracking_replica();
    put_entities(&mut w, &[1, 2], 0.0);
    w.flush().unwrap();
    let v1 = take_frames(&w).remove(0);
    assert_eq!(r.apply(&v1).unwrap(), Applied::Ok);
    assert_eq!(listed(&r, ENTITIES), delta(&[1, 2], &[]));

    // The same frame again: a duplicate, nothing listed.
    assert_eq!(r.apply(&v1).unwrap(), Applied::Duplicate);
    assert_eq!(listed(&r, ENTITIES), delta(&[], &[]));

    // Lists again, then a gap: the frame of v3 on a replica at v2.
    put_entities(&mut w, &[3], 0.0);
    ship(&mut w, &mut r);
    assert_eq!(listed(&r, ENTITIES), delta(&[3], &[]));
    put_entities(&mut w, &[4], 0.0);
    w.flush().unwrap(); // v3: lost
    put_entities(&mut w, &[5], 0.0);
    w.flush().unwrap();
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Gap { replica_version: 2 });
    assert_eq!(listed(&r, ENTITIES), delta(&[], &[]));

    // Lists again, then a frame that fails: nothing listed, nothing changed.
    assert_eq!(w.delta_since(2).unwrap(), Delta::Frames(1));
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    assert_eq!(listed(&r, ENTITIES), delta(&[4, 5], &[]));
    put_entities(&mut w, &[6], 0.0);
    w.flush().unwrap();
    let mut bad = w.frame(0).unwrap().to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(r.apply(&bad).is_err());
    assert_eq!(listed(&r, ENTITIES), delta(&[], &[]));
    assert_eq!(r.version().unwrap(), 4);
}

#[test]
fn a_catch_up_delta_does_not_list_values_the_replica_already_holds() {
    // Plain frames (whose sections can be read in place) and the default transforms (XOR).
    for transforms in [0, sys::PODSYNC_TRANSFORM_ALL] {
        let opts = StoreOptions::new().transforms(transforms);
        let mut w = Store::writer_with(&schema(), &opts).unwrap();
        let mut r = tracking_replica();

        // v1: the replica holds 1 = a, 2 = b, 3 = c.
        let (a, b, c) = (Entity::new(1, 1.0), Entity::new(2, 2.0), Entity::new(3, 3.0));
        w.put_many(ENTITIES, &[1, 2, 3], &[a, b, c]).unwrap();
        ship(&mut w, &mut r);

        // v2 and v3 are lost: 1 changes and changes back to a; 2 changes; 3 is deleted.
        w.put_as(ENTITIES, 1, &Entity::new(1, 9.0)).unwrap();
        w.put_as(ENTITIES, 2, &Entity::new(2, 9.0)).unwrap();
        w.flush().unwrap();
        w.put_as(ENTITIES, 1, &a).unwrap();
        w.delete(ENTITIES, 3).unwrap();
        w.flush().unwrap();
        assert_eq!(w.version().unwrap(), 3);

        // The catch-up delta since v1 re-sends key 1 (changed at v3) with the value it holds.
        assert_eq!(w.delta_since(1).unwrap(), Delta::Frames(1));
        let f = w.frame(0).unwrap();
        if transforms == 0 {
            let mut put = Vec::new();
            let mut deleted = Vec::new();
            for s in frame::sections(f).unwrap() {
                let s = s.unwrap();
                put.extend_from_slice(s.put_keys());
                deleted.extend_from_slice(s.delete_keys());
            }
            put.sort_unstable();
            assert_eq!((put, deleted), (vec![1, 2], vec![3]), "what the frame carries");
        }
        assert_eq!(r.apply(f).unwrap(), Applied::Ok);
        assert_eq!(listed(&r, ENTITIES), delta(&[2], &[3]), "transforms {transforms:#x}");
        assert_eq!(r.get_as::<Entity>(ENTITIES, 1).unwrap(), Some(&a));
        assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    }
}

#[test]
fn a_snapshot_of_another_writer_replaces_and_lists_every_key() {
    let mut old = writer();
    let mut r = tracking_replica();
    old.put_many(
        ENTITIES,
        &[1, 2, 3],
        &[Entity::new(1, 1.0), Entity::new(2, 2.0), Entity::new(3, 3.0)],
    )
    .unwrap();
    old.put_as(PAIRS, 10, &[1u64, 1]).unwrap();
    ship(&mut old, &mut r);

    // Another stream: 2 with the same bytes, 3 changed, 4 new, 1 and pair 10 gone, pair 20 new.
    let mut new = writer();
    new.put_many(
        ENTITIES,
        &[2, 3, 4],
        &[Entity::new(2, 2.0), Entity::new(3, 7.0), Entity::new(4, 4.0)],
    )
    .unwrap();
    new.put_as(PAIRS, 20, &[2u64, 2]).unwrap();
    new.flush().unwrap();
    assert_ne!(new.info().unwrap().stream_id, old.info().unwrap().stream_id);
    assert_eq!(new.snapshot().unwrap(), 1);
    assert_eq!(r.apply(new.frame(0).unwrap()).unwrap(), Applied::Ok);

    // Every key the new state holds (2 too), and the keys it no longer holds.
    assert_eq!(listed(&r, ENTITIES), replaced(&[2, 3, 4], &[1]));
    assert_eq!(listed(&r, PAIRS), replaced(&[20], &[10]));
    assert_eq!(r.digest().unwrap(), new.digest().unwrap());

    // The new writer's next delta is a delta again.
    new.delete(ENTITIES, 4).unwrap();
    ship(&mut new, &mut r);
    assert_eq!(listed(&r, ENTITIES), delta(&[], &[4]));
    assert_eq!(listed(&r, PAIRS), delta(&[], &[]));
}

#[test]
fn a_chunked_snapshot_lists_nothing_until_its_last_chunk_replaces_the_state() {
    let mut w = writer();
    let mut r = tracking_replica();
    put_entities(&mut w, &[0, 1], 0.0);
    ship(&mut w, &mut r);

    // The writer moves on while the replica misses it: 0 deleted, 1 .. 2000 (re)written.
    w.delete(ENTITIES, 0).unwrap();
    let keys: Vec<u64> = (1..2000).collect();
    put_entities(&mut w, &keys, 5.0);
    w.flush().unwrap();
    let chunks = w.snapshot_chunks(8 * 1024).unwrap().collect::<podsync::Result<Vec<_>>>().unwrap();
    assert!(chunks.len() > 2, "{} chunks", chunks.len());
    for chunk in &chunks[..chunks.len() - 1] {
        assert_eq!(r.apply(chunk).unwrap(), Applied::ChunkStaged);
        assert_eq!(listed(&r, ENTITIES), delta(&[], &[]), "a staged chunk changes nothing visible");
    }
    assert_eq!(r.apply(chunks.last().unwrap()).unwrap(), Applied::Ok);
    assert_eq!(listed(&r, ENTITIES), replaced(&keys, &[0]));
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());

    // Filling an empty replica in place: each chunk lists the keys it made visible.
    let mut fill =
        Store::replica_with(&schema(), &StoreOptions::new().fill_in_place(true)).unwrap();
    fill.track_changes(true).unwrap();
    let mut seen = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let outcome = fill.apply(chunk).unwrap();
        assert_eq!(outcome, if i + 1 < chunks.len() { Applied::ChunkStaged } else { Applied::Ok });
        let c = fill.changes(ENTITIES).unwrap();
        assert!(c.deleted().is_empty());
        assert_eq!(c.upserted().len(), fill.count(ENTITIES).unwrap() - seen.len(), "chunk {i}");
        seen.extend_from_slice(c.upserted());
    }
    seen.sort_unstable();
    assert_eq!(seen, keys);
}

#[test]
fn compressed_frames_give_the_same_lists() {
    let s = schema();
    let mut plain = Store::writer_with(&s, &StoreOptions::new()).unwrap();
    let mut packed = Store::writer_with(&s, &StoreOptions::new().compression_level(1)).unwrap();
    let (mut r_plain, mut r_packed) = (tracking_replica(), tracking_replica());
    let mut rng = Rng::new(seed(7));
    let mut live: std::collections::BTreeSet<u64> = (0..3000).collect();
    let keys: Vec<u64> = live.iter().copied().collect();
    for w in [&mut plain, &mut packed] {
        put_entities(w, &keys, 0.0);
    }
    let mut compressed = 0;
    for tick in 0..6u32 {
        if tick > 0 {
            // About 150 updates, 20 deletes and 20 inserts a tick, the same on both writers.
            let mut updated = std::collections::BTreeSet::new();
            while updated.len() < 150 {
                updated.insert(rng.below(3000));
            }
            let updated: Vec<u64> = updated.into_iter().filter(|k| live.contains(k)).collect();
            let mut deleted = Vec::new();
            while deleted.len() < 20 {
                let k = rng.below(3000);
                if live.contains(&k) && !updated.contains(&k) && !deleted.contains(&k) {
                    deleted.push(k);
                }
            }
            let inserted: Vec<u64> = (0..20).map(|i| 10_000 + u64::from(tick) * 100 + i).collect();
            for w in [&mut plain, &mut packed] {
                put_entities(w, &updated, tick as f32);
                put_entities(w, &inserted, tick as f32);
                w.delete_many(ENTITIES, &deleted).unwrap();
            }
            for k in &deleted {
                live.remove(k);
            }
            live.extend(&inserted);
            let mut upserted = [updated, inserted].concat();
            upserted.sort_unstable();
            deleted.sort_unstable();
            ship(&mut plain, &mut r_plain);
            ship(&mut packed, &mut r_packed);
            assert_eq!(listed(&r_plain, ENTITIES), delta(&upserted, &deleted), "tick {tick}");
        } else {
            ship(&mut plain, &mut r_plain);
            ship(&mut packed, &mut r_packed);
            assert_eq!(listed(&r_plain, ENTITIES), delta(&keys, &[]));
        }
        assert_eq!(frame::peek(plain.frame(0).unwrap()).unwrap().codec, sys::PODSYNC_CODEC_NONE);
        let codec = frame::peek(packed.frame(0).unwrap()).unwrap().codec;
        compressed += usize::from(codec == sys::PODSYNC_CODEC_ZSTD);
        assert_eq!(listed(&r_packed, ENTITIES), listed(&r_plain, ENTITIES), "tick {tick}");
        assert_eq!(r_packed.digest().unwrap(), packed.digest().unwrap());
    }
    assert_eq!(compressed, 6, "every frame of the level-1 writer is compressed");
}

#[test]
fn changes_fail_while_tracking_is_off_and_track_changes_empties_the_lists() {
    let mut w = writer();
    let mut r = replica();
    put_entities(&mut w, &[1], 0.0);
    w.flush().unwrap();
    let v1 = take_frames(&w).remove(0);

    // Off by default, also after an apply.
    let e = r.changes(ENTITIES).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.status(), sys::PODSYNC_E_INVALID_ARGUMENT);
    assert!(!e.message().is_empty());
    assert_eq!(r.apply(&v1).unwrap(), Applied::Ok);
    assert_eq!(r.changes(ENTITIES).unwrap_err().kind(), ErrorKind::InvalidArgument);

    // On: an unknown table is an error; known tables start empty (the apply before is not
    // listed).
    r.track_changes(true).unwrap();
    assert_eq!(r.changes(99).unwrap_err().kind(), ErrorKind::UnknownTable);
    assert_eq!(listed(&r, ENTITIES), delta(&[], &[]));
    assert_eq!(listed(&r, PAIRS), delta(&[], &[]));

    put_entities(&mut w, &[2], 0.0);
    ship(&mut w, &mut r);
    assert_eq!(listed(&r, ENTITIES), delta(&[2], &[]));
    // Turning it on again empties the lists.
    r.track_changes(true).unwrap();
    assert_eq!(listed(&r, ENTITIES), delta(&[], &[]));

    // Off: an error again, even for a known table after an apply.
    put_entities(&mut w, &[3], 0.0);
    ship(&mut w, &mut r);
    assert_eq!(listed(&r, ENTITIES), delta(&[3], &[]));
    r.track_changes(false).unwrap();
    assert_eq!(r.changes(ENTITIES).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(r.changes(99).unwrap_err().kind(), ErrorKind::UnknownTable);
    put_entities(&mut w, &[4], 0.0);
    ship(&mut w, &mut r);
    assert_eq!(r.changes(ENTITIES).unwrap_err().kind(), ErrorKind::InvalidArgument);

    // A writer's handle through the raw API: WRONG_ROLE (the safe type has no such method).
    let (mut up, mut up_n, mut del, mut del_n) = (std::ptr::null(), 0, std::ptr::null(), 0);
    // SAFETY: valid handle and out-pointers; flags_out may be NULL.
    let st = unsafe {
        sys::podsync_store_changes(
            w.as_ptr(),
            ENTITIES,
            &mut up,
            &mut up_n,
            &mut del,
            &mut del_n,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(ErrorKind::from_status(st), ErrorKind::WrongRole);
}

#[test]
fn unchanged_writes_on_a_writer_produce_no_frame() {
    let mut w = writer();
    let mut r = tracking_replica();
    let (a, b) = (Entity::new(1, 1.0), Entity::new(2, 2.0));
    w.put_many(ENTITIES, &[1, 2], &[a, b]).unwrap();
    w.put_as(PAIRS, 7, &[7u64, 7]).unwrap();
    ship(&mut w, &mut r);
    let (version, digest) = (w.version().unwrap(), w.digest().unwrap());
    assert_eq!(version, 1);

    // The bytes the clean keys hold: nothing pending, no frame, the same version.
    w.put_as(ENTITIES, 1, &a).unwrap();
    w.put_many(ENTITIES, &[1, 2], &[a, b]).unwrap();
    w.put_as(PAIRS, 7, &[7u64, 7]).unwrap();
    assert_eq!(w.info().unwrap().pending_changes, 0);
    assert_eq!(w.flush().unwrap(), 0);
    assert_eq!(w.frame_count(), 0);
    assert_eq!((w.version().unwrap(), w.digest().unwrap()), (version, digest));

    // One changed value among unchanged ones: one pending change, one frame, the next version,
    // and the replica lists that key alone.
    let b2 = Entity { flags: 1, ..b };
    w.put_many(ENTITIES, &[1, 2], &[a, b2]).unwrap();
    assert_eq!(w.info().unwrap().pending_changes, 1);
    assert_eq!(w.flush().unwrap(), 1);
    assert_eq!(w.version().unwrap(), version + 1);
    assert_eq!(frame::peek(w.frame(0).unwrap()).unwrap().state_version, version + 1);
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    assert_eq!(listed(&r, ENTITIES), delta(&[2], &[]));
    assert_eq!(listed(&r, PAIRS), delta(&[], &[]));
    assert_eq!(r.get_as::<Entity>(ENTITIES, 2).unwrap(), Some(&b2));
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}
