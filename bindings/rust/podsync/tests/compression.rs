//! Compressed frames (library 0.2.0): a writer with a compression level sends zstd frames with transforms
//! where that pays, a replica applies them, and `max_decoded_bytes` bounds what a frame decodes to.
use podsync::{ErrorKind, Metrics, Schema, Store, StoreOptions, frame};

fn schema() -> Schema {
    Schema::new().table(1, 40, 8, &[]).unwrap()
}

fn record(key: u64, step: u32) -> [u8; 40] {
    let mut r = [0u8; 40];
    r[..8].copy_from_slice(&key.to_le_bytes());
    r[8..12].copy_from_slice(&((key as f32) + step as f32 * 0.01).to_le_bytes());
    r
}

#[test]
fn compressed_ticks_round_trip() {
    let s = schema();
    let mut w = Store::writer_with(&s, &StoreOptions::new().compression_level(1)).unwrap();
    let mut r = Store::replica(&s).unwrap();
    let keys: Vec<u64> = (0..5000).collect();
    let records: Vec<[u8; 40]> = keys.iter().map(|&k| record(k, 0)).collect();
    w.put_many(1, &keys, &records).unwrap();
    w.flush().unwrap();
    for f in w.frames() {
        assert_eq!(r.apply(f).unwrap(), podsync::Applied::Ok);
    }
    let (mut wire, mut compressed) = (0usize, 0usize);
    for step in 1..=5u32 {
        let changed: Vec<u64> = (0..100).map(|i| (i * 37 + step as u64) % 5000).collect();
        let values: Vec<[u8; 40]> = changed.iter().map(|&k| record(k, step)).collect();
        w.put_many(1, &changed, &values).unwrap();
        w.flush().unwrap();
        for f in w.frames() {
            let info = frame::peek(f).unwrap();
            compressed += usize::from(info.codec == podsync::sys::PODSYNC_CODEC_ZSTD);
            wire += f.len();
            assert_eq!(r.apply(f).unwrap(), podsync::Applied::Ok);
        }
        assert_eq!(r.digest().unwrap(), w.digest().unwrap());
    }
    assert_eq!(compressed, 5, "every tick frame compresses");
    assert!(wire < 5 * 100 * 48 / 3, "{wire} bytes for 500 changed records");
}

#[test]
fn a_replica_bounds_decoded_size() {
    let s = schema();
    let mut w = Store::writer_with(&s, &StoreOptions::new().compression_level(1)).unwrap();
    let keys: Vec<u64> = (0..2000).collect();
    let records: Vec<[u8; 40]> = keys.iter().map(|&k| record(k, 0)).collect();
    w.put_many(1, &keys, &records).unwrap();
    w.flush().unwrap();
    let f = w.frame(0).unwrap().to_vec();
    let mut r = Store::replica_with(&s, &StoreOptions::new().max_decoded_bytes(1024)).unwrap();
    let aligned = frame::FrameBuf::from_slice(&f);
    let e = r.apply(&aligned).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FrameTooLarge);
    assert_eq!(r.count(1).unwrap(), 0);
}

#[test]
fn metrics_count_a_known_scenario() {
    // The scenario of bindings/python/tests/test_compression.py, with the same exact counts.
    let s = schema();
    let mut w = Store::writer(&s).unwrap();
    let mut r = Store::replica(&s).unwrap();
    let keys: Vec<u64> = (0..100).collect();
    let records: Vec<[u8; 40]> = keys.iter().map(|&k| record(k, 0)).collect();
    w.put_many(1, &keys, &records).unwrap();
    w.put_many(1, &keys[..10], &records[..10]).unwrap(); // 10 coalesced writes
    w.flush().unwrap();
    let f = frame::FrameBuf::from_slice(w.frame(0).unwrap());
    assert_eq!(r.apply(&f).unwrap(), podsync::Applied::Ok);
    assert_eq!(r.apply(&f).unwrap(), podsync::Applied::Duplicate);
    let mut bad = f.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(r.apply(&bad).unwrap_err().kind(), ErrorKind::FrameChecksum);

    let wm: Metrics = w.metrics().unwrap();
    assert_eq!((wm.writes, wm.coalesced_writes, wm.frames_out, wm.records_out), (110, 10, 1, 100));
    assert_eq!((wm.raw_bytes_out, wm.wire_bytes_out), (f.len() as u64, f.len() as u64));
    assert_eq!(wm.encode_ns.iter().sum::<u64>(), 1);
    assert_eq!(wm.encode_calls(), 1);
    assert_eq!((wm.frames_applied, wm.apply_calls()), (0, 0));
    assert!(wm.rejects.is_empty());

    let rm = r.metrics().unwrap();
    assert_eq!((rm.frames_applied, rm.records_applied, rm.duplicates), (1, 100, 1));
    assert_eq!(rm.wire_bytes_in, f.len() as u64);
    assert_eq!(rm.rejects.iter().collect::<Vec<_>>(), [(ErrorKind::FrameChecksum, 1)]);
    assert_eq!(rm.rejects.get(ErrorKind::FrameChecksum), 1);
    assert_eq!(rm.rejects.by_status(podsync::sys::PODSYNC_E_FRAME_CHECKSUM), 1);
    assert_eq!(rm.rejects.total(), 1);
    assert_eq!(rm.apply_ns.iter().sum::<u64>(), 3);
    assert_eq!((rm.frames_out, rm.writes, rm.encode_calls()), (0, 0, 0));
}
