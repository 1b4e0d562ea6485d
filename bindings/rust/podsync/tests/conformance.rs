//! The cross-language conformance fixtures (`Tests/fixtures/conformance`, written by
//! `Tests/fixtures/make_fixtures.c`): the frames of `frames.bin`, applied in order to a fresh
//! replica of `schema.bin`, must reproduce `expected.txt` line by line, as in the C and Swift
//! suites.
use podsync::frame::{self, FrameBuf};
use podsync::{Schema, Store, status_name};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../Tests/fixtures/conformance");
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

#[test]
fn replica_reproduces_the_expected_lines() {
    let schema = Schema::from_bytes(&fixture("schema.bin")).expect("schema.bin decodes");
    let frames = fixture("frames.bin");
    let expected = String::from_utf8(fixture("expected.txt")).expect("expected.txt is text");
    let mut replica = Store::replica(&schema).unwrap();
    let (mut offset, mut deliveries, mut finals) = (0usize, 0usize, 0usize);
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split(' ').collect();
        match words[0] {
            "delivery" => {
                // The header names the frame's length (at offset 16 in format 1; format 2
                // encodes it differently, so ask peek).
                let length = frame::peek(&frames[offset..]).unwrap().frame_length as usize;
                // Aligned, as a receiver reading a stream would place it.
                let frame = FrameBuf::from_slice(&frames[offset..offset + length]);
                offset += length;
                let outcome = replica.apply(&frame).unwrap_or_else(|e| panic!("{line}: {e}"));
                assert_eq!(status_name(outcome.status()), words[2], "{line}");
                assert_eq!(replica.version().unwrap(), words[3].parse::<u64>().unwrap(), "{line}");
                assert_eq!(
                    replica.digest().unwrap(),
                    u64::from_str_radix(words[4], 16).unwrap(),
                    "{line}"
                );
                deliveries += 1;
            }
            "final" => {
                assert_eq!(replica.version().unwrap(), words[1].parse::<u64>().unwrap());
                assert_eq!(replica.digest().unwrap(), u64::from_str_radix(words[2], 16).unwrap());
                assert_eq!(replica.count(1).unwrap(), words[3].parse::<usize>().unwrap());
                assert_eq!(replica.count(7).unwrap(), words[4].parse::<usize>().unwrap());
                finals += 1;
            }
            other => panic!("unexpected line kind {other:?} in expected.txt"),
        }
    }
    assert!(deliveries > 0 && finals == 1);
    assert_eq!(offset, frames.len(), "every frame of frames.bin was applied");
}
