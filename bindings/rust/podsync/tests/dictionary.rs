//! Compression dictionaries (library 0.3.0): a writer collects samples, trains a dictionary and
//! compresses its next frames with it; a replica without that dictionary refuses them with
//! `DictionaryMissing` and nothing changed, and applies them once it has loaded the writer's
//! bytes. Also the metrics fields of struct version 2 and the COLUMNS transform.

mod common;

use common::*;
use podsync::sys;
use podsync::{Applied, ErrorKind, Replica, Store, StoreOptions, Writer, frame};

const N: u64 = 200; // entities in the world; a tick changes half of them

struct World {
    keys: Vec<u64>,
    records: Vec<Entity>,
    rng: Rng,
}

impl World {
    fn new() -> World {
        let mut rng = Rng::new(3);
        let keys: Vec<u64> = (1..=N).collect();
        let records =
            keys.iter().map(|&k| Entity::new(k, (rng.below(10_000) as f32) / 100.0)).collect();
        World { keys, records, rng }
    }

    /// Moves half of the entities and flushes; returns the frames (owned).
    fn tick(&mut self, w: &mut Store<Writer>) -> Vec<Vec<u8>> {
        let (mut keys, mut records) = (Vec::new(), Vec::new());
        for i in 0..self.keys.len() {
            if self.rng.chance(50) {
                self.records[i].pos[0] += 0.5;
                keys.push(self.keys[i]);
                records.push(self.records[i]);
            }
        }
        w.put_many(ENTITIES, &keys, &records).unwrap();
        w.flush().unwrap();
        take_frames(w)
    }
}

fn compressing_writer(level: i32) -> Store<Writer> {
    Store::writer_with(&schema(), &StoreOptions::new().compression_level(level)).unwrap()
}

/// A compressing writer that trained a dictionary on 12 ticks, and a replica at its state that
/// has NOT loaded the dictionary.
fn trained_pair(max_size: usize) -> (Store<Writer>, Store<Replica>, World, u32) {
    let mut world = World::new();
    let mut w = compressing_writer(3);
    let mut r = replica();
    w.collect_samples(1 << 20).unwrap();
    w.put_many(ENTITIES, &world.keys, &world.records).unwrap();
    w.flush().unwrap();
    for f in take_frames(&w) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    for _ in 0..12 {
        // training needs at least 8 sample frames
        for f in world.tick(&mut w) {
            assert_eq!(frame::peek(&f).unwrap().dictionary_id, 0);
            assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
        }
    }
    assert_eq!(w.dictionary().unwrap(), None);
    let id = w.train_dictionary(max_size).unwrap();
    (w, r, world, id)
}

#[test]
fn train_missing_load_apply() {
    let (mut w, mut r, mut world, id) = trained_pair(4096);
    assert_ne!(id, 0);
    let (cur_id, bytes) = w.dictionary().unwrap().expect("trained");
    assert_eq!(cur_id, id);
    assert!((256..=4096).contains(&bytes.len()), "{} bytes", bytes.len());
    let bytes = bytes.to_vec();

    let frames = world.tick(&mut w);
    assert_eq!(frames.len(), 1);
    let f = &frames[0];
    let info = frame::peek(f).unwrap();
    assert_eq!((info.codec, info.dictionary_id), (sys::PODSYNC_CODEC_ZSTD, id));

    // Without the dictionary: refused, nothing changed.
    let before = (r.version().unwrap(), r.digest().unwrap(), dump(&r, ENTITIES));
    let e = r.apply(f).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DictionaryMissing);
    assert_eq!((e.status(), e.status_name()), (-22, "PODSYNC_E_DICTIONARY_MISSING"));
    assert!(e.message().contains(&id.to_string()), "{e}");
    assert_eq!((r.version().unwrap(), r.digest().unwrap(), dump(&r, ENTITIES)), before);
    // Validation needs the dictionary too; since library 0.4.0 the error carries the header,
    // which names the dictionary.
    for e in [frame::validate(f).unwrap_err(), frame::validate_limited(f, 1 << 20).unwrap_err()] {
        assert_eq!(e.kind(), ErrorKind::DictionaryMissing);
        assert_eq!(e.frame_info(), Some(&info));
        assert_eq!(e.frame_info().unwrap().dictionary_id, id);
    }
    assert_eq!(r.dictionary().unwrap(), None);

    // Load the writer's bytes (sent out of band): the same frame now applies.
    assert_eq!(r.load_dictionary(&bytes).unwrap(), id);
    assert_eq!(r.dictionary().unwrap(), Some((id, &bytes[..])));
    assert_eq!(r.apply(f).unwrap(), Applied::Ok);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    assert_eq!(r.version().unwrap(), w.version().unwrap());

    for _ in 0..3 {
        // and so do the next ones
        for f in world.tick(&mut w) {
            assert_eq!(frame::peek(&f).unwrap().dictionary_id, id);
            assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
        }
    }
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    assert_eq!(dump(&r, ENTITIES), dump(&w, ENTITIES));

    let (wm, rm) = (w.metrics().unwrap(), r.metrics().unwrap());
    assert_eq!(wm.dictionary_frames, 4);
    assert_eq!(rm.rejects.iter().collect::<Vec<_>>(), [(ErrorKind::DictionaryMissing, 1)]);
    assert_eq!(rm.rejects.as_array()[22], 1, "slot k counts status -k");
}

#[test]
fn a_fresh_replica_with_the_dictionary_takes_a_snapshot() {
    let (mut w, _r, mut world, id) = trained_pair(0); // 0: the default size
    world.tick(&mut w);
    let bytes = w.dictionary().unwrap().expect("trained").1.to_vec();
    let mut fresh = replica();
    assert_eq!(fresh.load_dictionary(&bytes).unwrap(), id);
    w.snapshot().unwrap();
    for f in take_frames(&w) {
        assert_eq!(fresh.apply(&f).unwrap(), Applied::Ok);
    }
    assert_eq!(fresh.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn reloading_the_same_id_replaces_it() {
    let (mut w, mut r, mut world, id) = trained_pair(4096);
    let bytes = w.dictionary().unwrap().expect("trained").1.to_vec();
    assert_eq!(r.load_dictionary(&bytes).unwrap(), id);
    assert_eq!(r.load_dictionary(&bytes).unwrap(), id);
    for f in world.tick(&mut w) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn train_without_samples_is_invalid() {
    let mut w = compressing_writer(1);
    let e = w.train_dictionary(0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("collect_samples"), "{e}");
    assert_eq!(w.dictionary().unwrap(), None);
}

#[test]
fn train_with_too_few_frames_is_invalid() {
    let mut world = World::new();
    let mut w = compressing_writer(1);
    w.collect_samples(1 << 20).unwrap();
    w.put_many(ENTITIES, &world.keys, &world.records).unwrap();
    w.flush().unwrap();
    for _ in 0..3 {
        world.tick(&mut w);
    }
    let e = w.train_dictionary(0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains('8'), "{e}");
    assert_eq!(w.dictionary().unwrap(), None);
}

#[test]
fn collecting_zero_stops_and_discards() {
    let mut world = World::new();
    let mut w = compressing_writer(1);
    w.collect_samples(1 << 20).unwrap();
    for _ in 0..10 {
        world.tick(&mut w);
    }
    w.collect_samples(0).unwrap();
    assert_eq!(w.train_dictionary(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn collecting_needs_compression() {
    let mut w = writer(); // compression_level 0, the default
    let e = w.collect_samples(1 << 20).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("compression_level"), "{e}");
}

#[test]
fn bad_dictionaries_and_sizes_are_invalid() {
    let mut r = replica();
    let text = b"not a zstd dictionary at all".repeat(20);
    for garbage in [&text[..], &[0u8; 1024][..], &[][..]] {
        let e = r.load_dictionary(garbage).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{} bytes", garbage.len());
    }
    assert_eq!(r.dictionary().unwrap(), None);
    let mut w = compressing_writer(1);
    assert_eq!(w.train_dictionary(100).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn dictionary_missing_is_its_own_kind() {
    let k = ErrorKind::from_status(sys::PODSYNC_E_DICTIONARY_MISSING);
    assert_eq!(k, ErrorKind::DictionaryMissing);
    assert_eq!(k.status(), -22);
    assert_eq!(podsync::status_name(-22), "PODSYNC_E_DICTIONARY_MISSING");
}

#[test]
fn metrics_v2_fields() {
    // Records whose frame is smaller with COLUMNS, so the writer sends it with COLUMNS.
    let keys: Vec<u64> = (1..=N).collect();
    let records = noisy_entities(&keys, 3);
    let mut w = compressing_writer(1);
    let mut plain = writer();
    for s in [&mut w, &mut plain] {
        s.put_many(ENTITIES, &keys, &records).unwrap(); // >= 64 records of one table
        s.flush().unwrap();
    }
    let sent = frame::peek(w.frame(0).unwrap()).unwrap();
    assert_ne!(sent.transforms & sys::PODSYNC_TRANSFORM_COLUMNS, 0, "{sent:?}");
    let (wm, pm) = (w.metrics().unwrap(), plain.metrics().unwrap());
    assert_eq!(wm.compressed_frames, 1);
    assert!(wm.column_trials >= 1);
    assert!(wm.saved_by_zero_columns > 0, "rot[0..2], flags and id's upper bytes are all zero");
    assert_eq!(wm.dictionary_frames, 0);
    // Nothing is packed without compression.
    assert_eq!(
        (pm.saved_by_zero_columns, pm.raw_column_bytes, pm.column_trials, pm.dictionary_frames),
        (0, 0, 0, 0)
    );
}

#[test]
fn without_columns_no_column_is_dropped() {
    let world = World::new();
    let transforms = sys::PODSYNC_TRANSFORM_ALL & !sys::PODSYNC_TRANSFORM_COLUMNS;
    let opts = StoreOptions::new().compression_level(1).transforms(transforms);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    let mut r = replica();
    w.put_many(ENTITIES, &world.keys, &world.records).unwrap();
    w.flush().unwrap();
    for f in take_frames(&w) {
        assert_eq!(frame::peek(&f).unwrap().transforms & sys::PODSYNC_TRANSFORM_COLUMNS, 0);
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    let m = w.metrics().unwrap();
    assert_eq!((m.saved_by_zero_columns, m.raw_column_bytes), (0, 0));
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}
