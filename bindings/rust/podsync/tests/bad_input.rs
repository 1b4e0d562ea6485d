//! Bad input: truncated and extended frames, every single-bit flip, frames of another schema,
//! random garbage. Each must give the status FORMAT.md's validation order names, and leave the
//! replica exactly as it was. The frames are format 1 (88-byte header), whose byte offsets
//! `expected_for_flip` models: the writer asks for it, since writers write format 2 by default
//! since library 0.8.0.

mod common;

use common::*;
use podsync::frame::{self, HEADER_SIZE};
use podsync::{Applied, ErrorKind, Replica, Schema, Store, StoreInfo, StoreOptions};

/// Everything observable about a replica.
#[derive(Debug, PartialEq)]
struct State {
    info: StoreInfo,
    digest: u64,
    tables: Vec<Vec<(u64, Vec<u8>)>>,
}

fn state(r: &Store<Replica>) -> State {
    State {
        info: r.info().unwrap(),
        digest: r.digest().unwrap(),
        tables: vec![dump(r, ENTITIES), dump(r, PAIRS)],
    }
}

/// A replica at version 1, and two frames that would apply to it: the delta 1 -> 2 and the
/// snapshot at 2 (both touching both tables, deletes included), both format 1.
fn fixture() -> (Store<Replica>, Vec<u8>, Vec<u8>) {
    let mut w = Store::writer_with(&schema(), &StoreOptions::new().frame_format(1)).unwrap();
    let mut r = replica();
    for k in 0..5u64 {
        w.put_as(ENTITIES, k, &Entity::new(k, k as f32)).unwrap();
        w.put_as(PAIRS, k, &[k, k * 2]).unwrap();
    }
    w.flush().unwrap();
    assert_eq!(r.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    w.put_as(ENTITIES, 9, &Entity::new(9, 9.0)).unwrap();
    w.delete(ENTITIES, 1).unwrap();
    w.put_as(PAIRS, 2, &[7u64, 7]).unwrap();
    w.delete(PAIRS, 3).unwrap();
    w.flush().unwrap();
    let delta = w.frame(0).unwrap().to_vec();
    w.snapshot().unwrap();
    let snap = w.frame(0).unwrap().to_vec();
    for f in [&delta, &snap] {
        let info = frame::peek(f).unwrap();
        assert_eq!((info.format_version, info.header_length as usize), (1, HEADER_SIZE));
    }
    (r, delta, snap)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// The status FORMAT.md's validation order gives for `frame` with bit `bit` of byte `byte`
/// flipped (a frame is exactly its buffer, so steps 1 and 5b pass unless frame_length moves).
fn expected_for_flip(frame: &[u8], byte: usize, bit: u32) -> ErrorKind {
    match byte {
        0..=3 => ErrorKind::FrameMagic,
        4..=5 => ErrorKind::FrameVersion,
        // header_length: step 4 or 5c, else the checksum passes (it does not cover bytes 0..16)
        // and step 8d finds payload_length != frame_length - header_length.
        6..=7 => ErrorKind::FrameMalformed,
        8..=15 => ErrorKind::FrameChecksum,
        16..=23 => {
            let len = u64_at(frame, 16) ^ (1u64 << ((byte - 16) * 8 + bit as usize));
            if len > frame.len() as u64 {
                ErrorKind::FrameTruncated
            } else {
                ErrorKind::FrameMalformed
            }
        }
        _ => ErrorKind::FrameChecksum,
    }
}

#[test]
fn every_truncation_is_refused_and_changes_nothing() {
    let (mut r, delta, snap) = fixture();
    let before = state(&r);
    for f in [&delta, &snap] {
        for n in 0..f.len() {
            let e = r.apply(&f[..n]).unwrap_err();
            // Shorter than the header, or than frame_length: truncated (steps 1 and 5a).
            assert_eq!(e.kind(), ErrorKind::FrameTruncated, "prefix {n} of {}: {e}", f.len());
            assert_eq!(frame::validate(&f[..n]).unwrap_err().kind(), ErrorKind::FrameTruncated);
            let p = frame::peek(&f[..n]);
            if n < HEADER_SIZE {
                assert_eq!(p.unwrap_err().kind(), ErrorKind::FrameTruncated);
            } else {
                assert_eq!(p.unwrap().frame_length, f.len() as u64);
            }
        }
        // Longer than the frame: the buffer must be exactly the frame (step 5b).
        for extra in [1usize, 8, 64] {
            let mut longer = f.clone();
            longer.resize(f.len() + extra, 0);
            assert_eq!(r.apply(&longer).unwrap_err().kind(), ErrorKind::FrameMalformed);
            assert_eq!(frame::validate(&longer).unwrap_err().kind(), ErrorKind::FrameMalformed);
        }
        assert_eq!(state(&r), before);
    }
    // The intact frames still apply.
    assert_eq!(r.apply(&delta).unwrap(), Applied::Ok);
    assert_eq!(r.apply(&snap).unwrap(), Applied::Duplicate);
}

#[test]
fn every_bit_flip_is_refused_with_the_status_of_the_first_failing_check() {
    let (mut r, delta, snap) = fixture();
    let before = state(&r);
    let mut checked = 0;
    for f in [&delta, &snap] {
        for byte in 0..f.len() {
            for bit in 0..8 {
                let mut bad = f.clone();
                bad[byte] ^= 1 << bit;
                let want = expected_for_flip(f, byte, bit);
                let e = r.apply(&bad).unwrap_err();
                assert_eq!(e.kind(), want, "apply, flip of byte {byte} bit {bit}: {e}");
                let e = frame::validate(&bad).unwrap_err();
                assert_eq!(e.kind(), want, "validate, flip of byte {byte} bit {bit}: {e}");
                checked += 1;
            }
        }
        assert_eq!(state(&r), before, "no flip changed the replica");
    }
    assert!(checked > 3000, "{checked} flips");
    assert_eq!(r.apply(&delta).unwrap(), Applied::Ok);
}

#[test]
fn frames_of_another_schema_are_refused() {
    let (_, delta, snap) = fixture();
    // Same tables, one field renamed: another hash.
    let other = Schema::new()
        .table_of::<Entity>(ENTITIES, &[podsync::Field::new("ID", podsync::FieldType::U64, 0, 1)])
        .unwrap()
        .table(PAIRS, 16, 16, &[])
        .unwrap();
    let mut r = Store::replica(&other).unwrap();
    let before = state(&r);
    for f in [&delta, &snap] {
        let e = r.apply(f).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SchemaMismatch, "{e}");
        assert!(!e.message().is_empty());
    }
    assert_eq!(state(&r), before);
    // Schema-free validation accepts them.
    assert!(frame::validate(&delta).is_ok());
}

#[test]
fn random_garbage_never_changes_a_replica() {
    let (mut r, delta, _) = fixture();
    let before = state(&r);
    let mut rng = Rng::new(seed(0x5eed_0bad));
    for i in 0..2000 {
        let n = rng.index(400);
        let mut g = rng.bytes(n);
        if i % 2 == 1 && n >= HEADER_SIZE {
            // A valid-looking start: magic, version, header length, and frame_length == n.
            g[..8].copy_from_slice(&delta[..8]);
            g[16..24].copy_from_slice(&(n as u64).to_le_bytes());
        }
        let e = r.apply(&g).unwrap_err();
        assert!(e.status() < 0);
        assert!(frame::validate(&g).is_err());
    }
    assert_eq!(state(&r), before);
}

#[test]
fn empty_and_header_only_input() {
    let (mut r, delta, _) = fixture();
    assert_eq!(r.apply(&[]).unwrap_err().kind(), ErrorKind::FrameTruncated);
    assert_eq!(frame::peek(&[]).unwrap_err().kind(), ErrorKind::FrameTruncated);
    assert_eq!(frame::sections(&[]).unwrap_err().kind(), ErrorKind::FrameTruncated);
    let e = r.apply(&delta[..HEADER_SIZE]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FrameTruncated);
    // Errors from handle-less functions carry the status and a generic message.
    let e = frame::validate(&delta[..10]).unwrap_err();
    assert_eq!(e.status_name(), "PODSYNC_E_FRAME_TRUNCATED");
}
