//! Frames without a store: peek, validate, sections in place, FrameBuf; docs/FORMAT.md's worked
//! examples byte for byte.

mod common;

use podsync::frame::{self, FrameBuf, HEADER_SIZE};
use podsync::{Applied, ErrorKind, Field, FieldType, Schema, Store, StoreOptions};

/// docs/FORMAT.md, "Example frame": stream 0x1122334455667788, delta 6 -> 7, 7th frame; table 1
/// puts key 42 = {1.0, -2.5} and deletes keys 7 and 9.
const EXAMPLE_FRAME: [u8; 176] = [
    0x50, 0x53, 0x59, 0x4e, 0x01, 0x00, 0x58, 0x00, 0x2b, 0xd3, 0xf5, 0x4f, 0xae, 0x60, 0x75,
    0x94, //
    0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, //
    0x03, 0x79, 0x1e, 0x06, 0xb5, 0xfb, 0x16, 0x81, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22,
    0x11, //
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x4d, 0x5a, 0x1f, 0x93, 0x39, 0xcf,
    0x4f, //
    0x58, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x00, //
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x48, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xc0,
];

/// docs/FORMAT.md, "A minimal frame": the empty snapshot at version 0 of the same stream.
const MINIMAL_FRAME: [u8; 88] = [
    0x50, 0x53, 0x59, 0x4e, 0x01, 0x00, 0x58, 0x00, 0x88, 0xb5, 0xa8, 0xc5, 0xb5, 0x92, 0x1e,
    0x06, //
    0x58, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x03, 0x79, 0x1e, 0x06, 0xb5, 0xfb, 0x16, 0x81, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22,
    0x11, //
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

const STREAM: u64 = 0x1122334455667788;

fn example_schema() -> Schema {
    Schema::new().table(1, 16, 16, &[Field::new("pos", FieldType::F64, 0, 2)]).unwrap()
}

#[test]
fn peek_and_validate_the_example_frame() {
    let info = frame::validate(&EXAMPLE_FRAME).unwrap();
    assert_eq!(frame::peek(&EXAMPLE_FRAME).unwrap(), info);
    assert_eq!(
        frame::peek(&EXAMPLE_FRAME[..HEADER_SIZE]).unwrap(),
        info,
        "peek needs the header only"
    );
    assert_eq!(
        (info.format_version, info.header_length, info.flags, info.section_count, info.codec),
        (1, 88, podsync::sys::PODSYNC_FRAME_HAS_DIGEST, 1, 0)
    );
    assert_eq!(info.frame_length, 176);
    assert_eq!(info.schema_hash, 0x8116fbb5061e7903);
    assert_eq!(
        (info.stream_id, info.sequence, info.base_version, info.state_version),
        (STREAM, 7, 6, 7)
    );
    assert_eq!(info.digest(), Some(0x4fcf39931f5a4d0c));
    assert!(!info.is_snapshot());

    let m = frame::validate(&MINIMAL_FRAME).unwrap();
    assert!(m.is_snapshot());
    assert_eq!((m.section_count, m.frame_length, m.state_version, m.digest()), (0, 88, 0, Some(0)));
}

#[test]
fn sections_read_keys_and_records_in_place() {
    let buf = FrameBuf::from_slice(&EXAMPLE_FRAME);
    let mut it = frame::sections(&buf).unwrap();
    assert_eq!(it.len(), 1);
    assert_eq!(it.info().state_version, 7);
    let s = it.next().unwrap().unwrap();
    assert!(it.next().is_none());
    assert_eq!((s.table_id(), s.record_size()), (1, 16));
    assert_eq!(s.put_keys(), &[42]);
    assert_eq!(s.delete_keys(), &[7, 9]);
    assert_eq!(s.records_as::<[f64; 2]>().unwrap(), &[[1.0, -2.5]]);
    assert_eq!(
        s.records_as::<u128>().unwrap().len(),
        1,
        "records at frame offset 160 are 16-aligned"
    );
    assert_eq!(s.records_as::<u64>().unwrap_err().kind(), ErrorKind::RecordSize);
    // In place: the slices point into the buffer.
    let range = buf.as_ptr_range();
    for p in
        [s.put_keys().as_ptr().cast::<u8>(), s.delete_keys().as_ptr().cast(), s.records().as_ptr()]
    {
        assert!(range.contains(&p));
    }
    assert_eq!(s.records().as_ptr() as usize - buf.as_ptr() as usize, 160);
    let puts: Vec<_> = s.puts().collect();
    assert_eq!(puts, [(42, &EXAMPLE_FRAME[160..176])]);

    assert_eq!(frame::sections(&FrameBuf::from_slice(&MINIMAL_FRAME)).unwrap().count(), 0);
}

#[test]
fn sections_refuse_a_misaligned_frame_instead_of_copying() {
    let mut buf = FrameBuf::new();
    buf.resize(EXAMPLE_FRAME.len() + 8);
    for shift in 1..8 {
        buf[shift..shift + 176].copy_from_slice(&EXAMPLE_FRAME);
        let e = frame::sections(&buf[shift..shift + 176]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "shift {shift}");
        assert!(e.message().contains("FrameBuf"), "{e}");
        // validate and peek take any alignment.
        assert!(frame::validate(&buf[shift..shift + 176]).is_ok());
    }
    // At an 8-byte (not 64-byte) boundary the keys are in place; the records are 8-aligned only.
    buf[8..8 + 176].copy_from_slice(&EXAMPLE_FRAME);
    let s = frame::sections(&buf[8..184]).unwrap().next().unwrap().unwrap();
    assert_eq!(s.put_keys(), &[42]);
    assert_eq!(s.records_as::<[f64; 2]>().unwrap(), &[[1.0, -2.5]]);
    assert_eq!(s.records_as::<u128>().unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// A writer of the example's stream brought to version 6 holding keys 7 and 9. It writes format
/// 1, the example's (writers write format 2 by default since library 0.8.0).
fn writer_at_v6() -> (Store<podsync::Writer>, Vec<Vec<u8>>) {
    let opts = StoreOptions::new().stream_id(STREAM).frame_format(1);
    let mut w = Store::writer_with(&example_schema(), &opts).unwrap();
    let mut frames = Vec::new();
    let mut step = |w: &mut Store<podsync::Writer>, f: &dyn Fn(&mut Store<podsync::Writer>)| {
        f(w);
        assert_eq!(w.flush().unwrap(), 1);
        frames.push(w.frame(0).unwrap().to_vec());
    };
    step(&mut w, &|w| {
        w.put_as(1, 7, &[7.0f64, 7.0]).unwrap();
    });
    step(&mut w, &|w| {
        w.put_as(1, 9, &[9.0f64, 9.0]).unwrap();
    });
    for i in 0..4 {
        if i % 2 == 0 {
            step(&mut w, &|w| {
                w.put_as(1, 100, &[0.0f64, 0.0]).unwrap();
            });
        } else {
            step(&mut w, &|w| assert!(w.delete(1, 100).unwrap().found()));
        }
    }
    assert_eq!(w.version().unwrap(), 6);
    (w, frames)
}

#[test]
fn a_replica_applies_the_example_frame_as_the_document_says() {
    let (_, frames) = writer_at_v6();
    let mut r = Store::replica(&example_schema()).unwrap();
    for f in &frames {
        assert_eq!(r.apply(f).unwrap(), Applied::Ok);
    }
    assert_eq!(r.version().unwrap(), 6);
    assert_eq!(r.apply(&EXAMPLE_FRAME).unwrap(), Applied::Ok);
    assert_eq!(r.version().unwrap(), 7);
    assert_eq!(
        r.digest().unwrap(),
        0x4fcf39931f5a4d0c,
        "FORMAT.md's digest of {{key 42: (1.0, -2.5)}}"
    );
    assert_eq!(r.count(1).unwrap(), 1);
    assert_eq!(r.get_as::<[f64; 2]>(1, 42).unwrap(), Some(&[1.0, -2.5]));
    // "At version 7 or later it answers DUPLICATE".
    assert_eq!(r.apply(&EXAMPLE_FRAME).unwrap(), Applied::Duplicate);

    // "At version 5 or earlier, GAP": a fresh replica that took the minimal snapshot (version 0).
    let mut fresh = Store::replica(&example_schema()).unwrap();
    assert_eq!(fresh.apply(&MINIMAL_FRAME).unwrap(), Applied::Ok);
    assert_eq!(fresh.info().unwrap().stream_id, STREAM);
    assert_eq!(fresh.apply(&EXAMPLE_FRAME).unwrap(), Applied::Gap { replica_version: 0 });
    let mut at5 = Store::replica(&example_schema()).unwrap();
    for f in &frames[..5] {
        assert_eq!(at5.apply(f).unwrap(), Applied::Ok);
    }
    assert_eq!(at5.apply(&EXAMPLE_FRAME).unwrap(), Applied::Gap { replica_version: 5 });
}

#[test]
fn the_writer_produces_the_example_frame() {
    let (mut w, _) = writer_at_v6();
    w.put_as(1, 42, &[1.0f64, -2.5]).unwrap();
    w.delete(1, 7).unwrap();
    w.delete(1, 9).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    let f = w.frame(0).unwrap();
    assert_eq!(f.len(), EXAMPLE_FRAME.len());
    let info = frame::validate(f).unwrap();
    assert_eq!(info, frame::validate(&EXAMPLE_FRAME).unwrap());
    let s = frame::sections(f).unwrap().next().unwrap().unwrap();
    let mut dels = s.delete_keys().to_vec();
    dels.sort();
    assert_eq!(dels, [7, 9]);
    // Deleted in this order, the keys come out in this order: the frame is FORMAT.md's bytes.
    assert_eq!(s.delete_keys(), [7, 9]);
    assert_eq!(f, &EXAMPLE_FRAME[..]);
}

#[test]
fn frame_buf_reads_a_stream_of_frames() {
    let (w, frames) = writer_at_v6();
    let mut wire: Vec<u8> = frames.concat();
    let mut stream = &wire[..];
    let mut buf = FrameBuf::new();
    let mut r = Store::replica(&example_schema()).unwrap();
    let mut n = 0;
    while buf.read_frame(&mut stream, 1 << 20).unwrap() {
        assert_eq!(buf.as_ptr() as usize % 64, 0);
        assert_eq!(&buf[..], &frames[n][..]);
        assert_eq!(r.apply(&buf).unwrap(), Applied::Ok);
        n += 1;
    }
    assert_eq!(n, 6);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());

    // A stream that ends inside a header or a frame.
    for cut in [1, 50, 88, 100] {
        let mut s = &wire[..cut];
        let e = buf.read_frame(&mut s, 1 << 20).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "cut at {cut}");
        assert!(buf.is_empty());
    }
    // A frame longer than allowed is refused before its body is read.
    let e = buf.read_frame(&mut &wire[..], 100).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    // Garbage instead of a header.
    wire[0] ^= 0xff;
    let e = buf.read_frame(&mut &wire[..], 1 << 20).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let inner = e.into_inner().unwrap().downcast::<podsync::Error>().unwrap();
    assert_eq!(inner.kind(), ErrorKind::FrameMagic);
}

#[test]
fn frame_buf_behaves_like_a_byte_vector() {
    let mut b = FrameBuf::with_capacity(10);
    assert!(b.is_empty());
    b.resize(3).copy_from_slice(&[1, 2, 3]);
    b.resize(1);
    assert_eq!(&b[..], &[1]);
    b.resize(3);
    assert_eq!(&b[..], &[1, 0, 0], "bytes past the old length are zeroed");
    b.resize(200)[199] = 9;
    assert_eq!(b.as_ptr() as usize % 64, 0);
    let c = b.clone();
    assert_eq!(c, b);
    assert_eq!(c.as_ptr() as usize % 64, 0);
    b.clear();
    assert_eq!(b.len(), 0);
    assert_eq!(podsync::try_cast_slice::<u64>(&c[..16]).unwrap(), &[1, 0]);
    assert_eq!(
        podsync::try_cast_slice::<u64>(&c[1..9]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(podsync::try_cast_slice::<u64>(&c[..12]).unwrap_err().kind(), ErrorKind::RecordSize);
    assert_eq!(podsync::bytes_of(&0x0102u16), &[2, 1]);
    assert_eq!(podsync::slice_as_bytes(&[1u32, 2]), &[1, 0, 0, 0, 2, 0, 0, 0]);
}

/// docs/FORMAT.md, "Worked example: a compact header": the example's delta in format version 2,
/// from version 41 to 42, the stream's 300th frame (144 bytes instead of 176).
const COMPACT_EXAMPLE: &str = "
0000: 50 53 59 4e 02 07 02 00 5b 65 31 43 03 02 e2 0c
0010: 03 79 1e 06 b5 fb 16 81 88 77 66 55 44 33 22 11
0020: 0c 4d 5a 1f 93 39 cf 4f 90 01 00 ac 02 29 01 01
0030: 00 00 00 00 00 00 00 00 01 00 00 00 10 00 00 00
0040: 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
0050: 48 00 00 00 00 00 00 00 58 00 00 00 00 00 00 00
0060: 2a 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00
0070: 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0080: 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 04 c0
";

fn hex_dump(text: &str) -> Vec<u8> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .flat_map(|(_, bytes)| bytes.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()))
        .collect()
}

#[test]
fn a_format_2_writer_produces_the_compact_example_frame() {
    let expected = hex_dump(COMPACT_EXAMPLE);
    assert_eq!(expected.len(), 144);
    let opts = StoreOptions::new().stream_id(STREAM).frame_format(2);
    let mut w = Store::writer_with(&example_schema(), &opts).unwrap();
    // Version 41 holding keys 7 and 9: 41 flushes, one frame each.
    w.put_as(1, 7, &[7.0f64, 7.0]).unwrap();
    w.put_as(1, 9, &[9.0f64, 9.0]).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    for v in 2..=41 {
        w.put_as(1, 7, &[v as f64, 7.0]).unwrap();
        assert_eq!(w.flush().unwrap(), 1);
    }
    assert_eq!(w.version().unwrap(), 41);
    // Every frame produced counts in the sequence: snapshots bring it to 299.
    while w.info().unwrap().sequence < 299 {
        assert_eq!(w.snapshot().unwrap(), 1);
    }
    assert_eq!(w.info().unwrap().sequence, 299);
    w.put_as(1, 42, &[1.0f64, -2.5]).unwrap();
    w.delete(1, 7).unwrap();
    w.delete(1, 9).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    let f = w.frame(0).unwrap();
    let info = frame::validate(f).unwrap();
    assert_eq!(
        (info.format_version, info.header_length, info.frame_length, info.sequence),
        (2, 56, 144, 300)
    );
    assert_eq!(
        (info.base_version, info.state_version, info.digest()),
        (41, 42, Some(0x4fcf39931f5a4d0c))
    );
    assert_eq!(f, &expected[..], "FORMAT.md's compact header, byte for byte");
    // The document's bytes apply like the writer's.
    let mut r = Store::replica(&example_schema()).unwrap();
    assert_eq!(r.apply(&expected).unwrap(), Applied::Gap { replica_version: 0 });
    assert_eq!(
        frame::peek(&expected[..frame::PREFIX_SIZE])
            .unwrap_err()
            .frame_info()
            .map(|i| i.header_length),
        Some(56)
    );
}
