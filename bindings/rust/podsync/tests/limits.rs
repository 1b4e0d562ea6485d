//! Limits (library 0.4.0): `StoreOptions::max_records` and `max_tombstones` (options struct
//! version 3), `ErrorKind::Limit` (`PODSYNC_E_LIMIT`), and `frame::validate_limited`
//! (`podsync_frame_validate_limited`), with the header's fields on the error of a rejected frame.

mod common;

use common::*;
use podsync::sys;
use podsync::{Applied, Delta, Error, ErrorKind, Schema, Store, StoreOptions, frame};

// ----- options ---------------------------------------------------------------------------------

#[test]
fn options_round_trip_and_defaults() {
    let defaults = StoreOptions::default();
    let raw = defaults.raw();
    assert_eq!(raw.version, sys::PODSYNC_STORE_OPTIONS_VERSION);
    assert_eq!(raw.version, 4, "options struct version 4 since library 0.5.0");
    assert_eq!((raw.max_records, raw.max_tombstones), (0, 1_048_576));
    assert_eq!(raw.frame_format, 2, "format-2 frames by default (since library 0.8.0)");
    assert_eq!((raw.refresh_flushes, raw.refresh_ms), (0, 0), "no rolling refresh by default");
    assert_eq!(raw.flags & sys::PODSYNC_OPT_ONE_WAY, 0);
    assert_eq!(raw.flags & sys::PODSYNC_OPT_FILL_IN_PLACE, 0);
    assert_eq!(*raw, sys::PODSYNC_STORE_OPTIONS_INIT);

    let opts = StoreOptions::new().max_records(3).max_tombstones(u64::MAX).max_decoded_bytes(4096);
    let mut expected = *defaults.raw();
    expected.max_records = 3;
    expected.max_tombstones = u64::MAX;
    expected.max_decoded_bytes = 4096;
    assert_eq!(*opts.raw(), expected, "each method changes its field only");
    assert_eq!(StoreOptions::from_raw(expected), opts);
    assert_eq!(StoreOptions::new().max_records(0).max_tombstones(0).raw().max_tombstones, 0);
    // Every role takes them.
    Store::writer_with(&schema(), &opts).unwrap();
    Store::replica_with(&schema(), &opts).unwrap();
}

// ----- ErrorKind::Limit --------------------------------------------------------------------------

#[test]
fn limit_status_name_and_kind() {
    assert_eq!(sys::PODSYNC_E_LIMIT, -23);
    assert_eq!(podsync::status_name(-23), "PODSYNC_E_LIMIT");
    assert_eq!(ErrorKind::from_status(-23), ErrorKind::Limit);
    assert_eq!(ErrorKind::Limit.status(), -23);
    let e = Error::new(-23, "m");
    assert_eq!(
        (e.kind(), e.status_name(), e.message()),
        (ErrorKind::Limit, "PODSYNC_E_LIMIT", "m")
    );
    assert_eq!(e.to_string(), "PODSYNC_E_LIMIT (-23): m");
    assert_eq!(e.frame_info(), None);
}

type Snapshot = (podsync::StoreInfo, Vec<(u64, Vec<u8>)>, Vec<(u64, Vec<u8>)>);

fn snapshot<R: podsync::Role>(s: &Store<R>) -> Snapshot {
    (s.info().unwrap(), dump(s, ENTITIES), dump(s, PAIRS))
}

#[test]
fn a_writer_with_max_records_refuses_a_fourth_record() {
    let opts = StoreOptions::new().max_records(3).manual_clock(true);
    let mut w = Store::writer_with(&schema(), &opts).unwrap();
    w.put_many(ENTITIES, &[1, 2], &[Entity::new(1, 1.0), Entity::new(2, 2.0)]).unwrap();
    w.put_as(ENTITIES, 3, &Entity::new(3, 3.0)).unwrap();
    let before = snapshot(&w);

    let e = w.put_as(ENTITIES, 4, &Entity::new(4, 4.0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
    assert_eq!(e.status(), -23);
    assert!(e.message().contains("max_records"), "{e}");
    assert_eq!(snapshot(&w), before, "nothing changed");
    // All tables together.
    assert_eq!(w.put(PAIRS, 1, &[0; 16]).unwrap_err().kind(), ErrorKind::Limit);
    // A bulk write is refused whole.
    let e = w.put_many(ENTITIES, &[3, 4], &[Entity::new(3, 9.0), Entity::new(4, 4.0)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
    assert_eq!(snapshot(&w), before);
    assert_eq!(w.get(ENTITIES, 4).unwrap(), None);
    assert_eq!(w.count(ENTITIES).unwrap(), 3);

    // Replacing is no new record; after a delete a new key fits again.
    w.put_as(ENTITIES, 3, &Entity { flags: 9, ..Entity::new(3, 3.0) }).unwrap();
    assert_eq!(w.get_as::<Entity>(ENTITIES, 3).unwrap().unwrap().flags, 9);
    assert!(w.delete(ENTITIES, 1).unwrap().found());
    w.put_as(ENTITIES, 4, &Entity::new(4, 4.0)).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    let mut r = replica();
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    let keys: Vec<u64> = dump(&r, ENTITIES).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [2, 3, 4]);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn a_replica_with_max_records_refuses_a_frame() {
    let mut w = writer();
    let mut r = Store::replica_with(&schema(), &StoreOptions::new().max_records(3)).unwrap();
    w.put_many(ENTITIES, &[1, 2], &[Entity::new(1, 1.0), Entity::new(2, 2.0)]).unwrap();
    w.flush().unwrap();
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    w.put_many(ENTITIES, &[3, 4], &[Entity::new(3, 3.0), Entity::new(4, 4.0)]).unwrap();
    w.flush().unwrap();
    let second = w.frame(0).unwrap().to_vec();

    let before = snapshot(&r);
    let e = r.apply(&second).unwrap_err();
    assert_eq!((e.kind(), e.status_name()), (ErrorKind::Limit, "PODSYNC_E_LIMIT"));
    assert!(e.message().contains("max_records"), "{e}");
    assert_eq!(snapshot(&r), before, "nothing applied");
    assert_eq!(r.version().unwrap(), 1);
    // A snapshot of 4 records does not fit either.
    w.snapshot().unwrap();
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap_err().kind(), ErrorKind::Limit);
    assert_eq!(snapshot(&r), before);
    let rejects = r.metrics().unwrap().rejects;
    assert_eq!(rejects.iter().collect::<Vec<_>>(), [(ErrorKind::Limit, 2)]);
    assert_eq!(rejects.as_array()[23], 2, "slot k counts status -k");

    // The writer drops a record: the catch-up delta fits (its deletes count first).
    w.delete(ENTITIES, 1).unwrap();
    w.flush().unwrap();
    assert_eq!(w.delta_since(r.version().unwrap()).unwrap(), Delta::Frames(1));
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    assert_eq!(r.count(ENTITIES).unwrap(), 3);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn max_tombstones_raises_the_catchup_floor() {
    let mut w = Store::writer_with(&schema(), &StoreOptions::new().max_tombstones(2)).unwrap();
    w.put_many(PAIRS, &[1, 2, 3], &[[0u8; 16]; 3]).unwrap();
    w.flush().unwrap();
    for key in [1, 2] {
        w.delete(PAIRS, key).unwrap();
        w.flush().unwrap();
    }
    assert_eq!(w.info().unwrap().catchup_floor, 0, "two deletions remembered");
    w.delete(PAIRS, 3).unwrap();
    w.flush().unwrap(); // the third: the oldest (at version 2) is forgotten
    assert_eq!(w.info().unwrap().catchup_floor, 2);
    assert_eq!(w.delta_since(1).unwrap(), Delta::SnapshotRequired);
    assert_eq!(w.delta_since(2).unwrap(), Delta::Frames(1));
    assert!(!frame::peek(w.frame(0).unwrap()).unwrap().is_snapshot());

    let mut unlimited =
        Store::writer_with(&schema(), &StoreOptions::new().max_tombstones(0)).unwrap();
    unlimited.put_many(PAIRS, &[1, 2, 3], &[[0u8; 16]; 3]).unwrap();
    unlimited.flush().unwrap();
    for key in [1, 2, 3] {
        unlimited.delete(PAIRS, key).unwrap();
        unlimited.flush().unwrap();
    }
    assert_eq!(unlimited.info().unwrap().catchup_floor, 0);
}

// ----- frame::validate_limited -------------------------------------------------------------------

/// A zstd frame of 5,000 40-byte records (8 + 40 bytes each decoded: 240,000), in an aligned
/// buffer, and that decoded size.
fn compressed() -> (frame::FrameBuf, u64) {
    let s = Schema::new().table(1, 40, 8, &[]).unwrap();
    let mut w = Store::writer_with(&s, &StoreOptions::new().compression_level(1)).unwrap();
    let keys: Vec<u64> = (1..=5000).collect();
    let records: Vec<[u8; 40]> = keys
        .iter()
        .map(|k| {
            let mut r = [0u8; 40];
            r[..8].copy_from_slice(&k.to_le_bytes());
            r
        })
        .collect();
    w.put_many(1, &keys, &records).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    let f = frame::FrameBuf::from_slice(w.frame(0).unwrap());
    assert_eq!(frame::peek(&f).unwrap().codec, sys::PODSYNC_CODEC_ZSTD);
    (f, 5000 * (8 + 40))
}

#[test]
fn validate_with_a_small_max_decoded_bytes_is_frame_too_large() {
    let (f, decoded) = compressed();
    let header = frame::peek(&f).unwrap();
    assert_eq!(frame::validate(&f).unwrap(), header);
    assert_eq!(frame::validate_limited(&f, 0).unwrap(), header, "0: the library's 1 GiB");
    assert_eq!(frame::validate_limited(&f, decoded).unwrap(), header);
    assert_eq!(frame::validate_limited(&f, u64::MAX).unwrap(), header);
    for limit in [1, 1024, header.payload_length, decoded - 1] {
        let e = frame::validate_limited(&f, limit).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FrameTooLarge, "limit {limit}");
        assert_eq!(e.frame_info(), Some(&header), "the header's fields come with the error");
        assert!(e.message().starts_with("podsync_frame_validate_limited"), "{e}");
    }
    // The same bound as a replica's max_decoded_bytes.
    let s = Schema::new().table(1, 40, 8, &[]).unwrap();
    let opts = StoreOptions::new().max_decoded_bytes(decoded - 1);
    let mut r = Store::replica_with(&s, &opts).unwrap();
    assert_eq!(r.apply(&f).unwrap_err().kind(), ErrorKind::FrameTooLarge);
    let mut r = Store::replica_with(&s, &opts.max_decoded_bytes(decoded)).unwrap();
    assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
}

#[test]
fn frame_info_and_messages_on_validation_errors() {
    let mut w = writer();
    w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    w.flush().unwrap();
    let good = w.frame(0).unwrap().to_vec();
    let header = frame::peek(&good).unwrap();
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    let junk = vec![0x5a_u8; 100];
    for limited in [false, true] {
        let validate = |d: &[u8]| {
            if limited { frame::validate_limited(d, 1 << 20) } else { frame::validate(d) }
        };
        let e = validate(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FrameChecksum);
        assert_eq!(e.frame_info(), Some(&header), "read before the checksum failed");
        let e = validate(&good[..good.len() - 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FrameTruncated);
        assert_eq!(e.frame_info(), Some(&header));
        let e = validate(&junk).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FrameMagic);
        assert_eq!(e.frame_info(), None, "no header to report");
        // The library's message (podsync_last_errmsg), not only the binding's.
        assert!(!e.message().ends_with("bytes rejected"), "{e}");
    }
    // Other calls without a handle report the library's message too.
    let e = podsync::Schema::from_bytes(b"not a schema").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SchemaInvalid);
    assert!(e.message().len() > "podsync_schema_decode: ".len(), "{e}");
    let mut raw = sys::PODSYNC_STORE_OPTIONS_INIT;
    raw.version = 99;
    let e = Store::writer_with(&schema(), &StoreOptions::from_raw(raw)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("version"), "{e}");
}

#[test]
fn uncompressed_frames_are_not_bounded_by_max_decoded_bytes() {
    // max_decoded_bytes bounds what decoding allocates; a plain frame's sections are in place.
    let mut w = writer();
    let keys: Vec<u64> = (1..=100).collect();
    let records: Vec<Entity> = keys.iter().map(|&k| Entity::new(k, k as f32)).collect();
    w.put_many(ENTITIES, &keys, &records).unwrap();
    w.flush().unwrap();
    let f = w.frame(0).unwrap();
    assert_eq!(frame::peek(f).unwrap().codec, sys::PODSYNC_CODEC_NONE);
    assert_eq!(frame::validate_limited(f, 1).unwrap().section_count, 1);
    let mut r = Store::replica_with(&schema(), &StoreOptions::new().max_decoded_bytes(1)).unwrap();
    assert_eq!(r.apply(f).unwrap(), Applied::Ok);
    assert_eq!(r.count(ENTITIES).unwrap(), 100);
}
