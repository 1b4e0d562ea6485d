//! Schemas: building, validation, canonical encoding (docs/FORMAT.md's worked example), decoding.

mod common;

use podsync::{ErrorKind, Field, FieldType, Schema, TableDef};

/// docs/FORMAT.md, "Schema canonical encoding", worked example (47 bytes).
const EXAMPLE_ENCODING: [u8; 47] = [
    0x50, 0x53, 0x59, 0x4e, 0x53, 0x43, 0x48, 0x31, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, //
    0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00,
    0x00, //
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x70, 0x6f, 0x73,
];
const EXAMPLE_HASH: u64 = 0x8116fbb5061e7903;

fn example() -> Schema {
    Schema::new().table(1, 16, 16, &[Field::new("pos", FieldType::F64, 0, 2)]).unwrap()
}

#[test]
fn encoding_and_hash_match_the_format_document() {
    let s = example();
    assert_eq!(s.to_bytes().unwrap(), EXAMPLE_ENCODING);
    assert_eq!(s.hash().unwrap(), EXAMPLE_HASH);
    let d = Schema::from_bytes(&EXAMPLE_ENCODING).unwrap();
    assert_eq!(d.hash().unwrap(), EXAMPLE_HASH);
    assert_eq!(
        d.tables().unwrap(),
        [TableDef {
            id: 1,
            record_size: 16,
            alignment: 16,
            fields: vec![Field::new("pos", FieldType::F64, 0, 2)]
        }]
    );
}

#[test]
fn tables_come_back_in_canonical_order() {
    let s = Schema::new()
        .table(
            9,
            8,
            4,
            &[Field::new("b", FieldType::U32, 4, 1), Field::new("a", FieldType::I32, 0, 1)],
        )
        .unwrap()
        .table(3, 3, 1, &[Field::new("rgb", FieldType::Bytes, 0, 3)])
        .unwrap();
    let t = s.tables().unwrap();
    assert_eq!(t.iter().map(|t| t.id).collect::<Vec<_>>(), [3, 9]);
    assert_eq!(t[1].fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(t[0].fields[0].ty, FieldType::Bytes);
    // Field order in the definition does not change the hash.
    let s2 = Schema::new()
        .table(3, 3, 1, &[Field::new("rgb", FieldType::Bytes, 0, 3)])
        .unwrap()
        .table(
            9,
            8,
            4,
            &[Field::new("a", FieldType::I32, 0, 1), Field::new("b", FieldType::U32, 4, 1)],
        )
        .unwrap();
    assert_eq!(s.hash().unwrap(), s2.hash().unwrap());
    assert_eq!(s.try_clone().unwrap().hash().unwrap(), s.hash().unwrap());
    assert!(format!("{s:?}").contains("rgb"));
}

#[test]
fn every_part_enters_the_hash() {
    let base = example().hash().unwrap();
    let variants = [
        Schema::new().table(2, 16, 16, &[Field::new("pos", FieldType::F64, 0, 2)]),
        Schema::new().table(1, 32, 16, &[Field::new("pos", FieldType::F64, 0, 2)]),
        Schema::new().table(1, 16, 8, &[Field::new("pos", FieldType::F64, 0, 2)]),
        Schema::new().table(1, 16, 16, &[Field::new("pos", FieldType::I64, 0, 2)]),
        Schema::new().table(1, 16, 16, &[Field::new("pos", FieldType::F64, 8, 1)]),
        Schema::new().table(1, 16, 16, &[Field::new("pos", FieldType::F64, 0, 1)]),
        Schema::new().table(1, 16, 16, &[Field::new("Pos", FieldType::F64, 0, 2)]),
        Schema::new().table(1, 16, 16, &[]),
    ];
    for v in variants {
        assert_ne!(v.unwrap().hash().unwrap(), base);
    }
}

#[test]
fn invalid_tables_are_rejected_and_leave_the_schema_unchanged() {
    let mut s = example();
    let before = s.to_bytes().unwrap();
    let name256 = "x".repeat(256);
    let bad: Vec<(u32, u32, u32, Vec<Field>)> = vec![
        (1, 16, 16, vec![]),                                    // duplicate id
        (2, 0, 1, vec![]),                                      // record size 0
        (2, 1048577, 1, vec![]),                                // > 1 MiB
        (2, 12, 8, vec![]),                                     // not a multiple of alignment
        (2, 16, 3, vec![]),                                     // not a power of two
        (2, 128, 128, vec![]),                                  // alignment > 64
        (2, 16, 0, vec![]),                                     // alignment 0
        (2, 8, 8, vec![Field::new("a", FieldType::U64, 4, 1)]), // outside the record
        (
            2,
            8,
            8,
            vec![Field::new("a", FieldType::U32, 0, 2), Field::new("b", FieldType::U8, 4, 1)],
        ), // overlap
        (2, 8, 8, vec![Field::new("a", FieldType::U8, 0, 1), Field::new("a", FieldType::U8, 1, 1)]), // same name
        (2, 8, 8, vec![Field::new("", FieldType::U8, 0, 1)]), // empty name
        (2, 8, 8, vec![Field::new(name256.clone(), FieldType::U8, 0, 1)]), // name too long
        (2, 8, 8, vec![Field::new("a", FieldType::U8, 0, 0)]), // count 0
        (2, 8, 8, vec![Field::new("a\0b", FieldType::U8, 0, 1)]), // NUL (binding check)
    ];
    for (id, size, align, fields) in bad {
        let e = s.add_table(id, size, align, &fields).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::SchemaInvalid,
            "table {id} size {size} align {align} {fields:?}: {e}"
        );
        assert!(!e.message().is_empty(), "{e}");
        assert_eq!(s.to_bytes().unwrap(), before, "the schema is unchanged after {e}");
    }
    // Limits that are fine.
    s.add_table(2, 1048576, 64, &[]).unwrap();
    s.add_table(3, 1, 1, &[Field::new("n".repeat(255), FieldType::U8, 0, 1)]).unwrap();
}

#[test]
fn decoding_rejects_every_bad_encoding() {
    assert_eq!(Schema::from_bytes(&[]).unwrap_err().kind(), ErrorKind::SchemaInvalid);
    // Every truncation, and one byte too many.
    for n in 0..EXAMPLE_ENCODING.len() {
        let e = Schema::from_bytes(&EXAMPLE_ENCODING[..n]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SchemaInvalid, "prefix of {n} bytes");
    }
    let mut longer = EXAMPLE_ENCODING.to_vec();
    longer.push(0);
    assert_eq!(Schema::from_bytes(&longer).unwrap_err().kind(), ErrorKind::SchemaInvalid);
    // Every single-bit flip either is rejected or decodes to a schema whose re-encoding is exactly
    // the flipped bytes (canonical: one encoding per schema).
    for byte in 0..EXAMPLE_ENCODING.len() {
        for bit in 0..8 {
            let mut b = EXAMPLE_ENCODING;
            b[byte] ^= 1 << bit;
            match Schema::from_bytes(&b) {
                Err(e) => assert_eq!(e.kind(), ErrorKind::SchemaInvalid, "flip {byte}.{bit}"),
                Ok(s) => assert_eq!(
                    s.to_bytes().unwrap(),
                    b,
                    "flip {byte}.{bit} decoded non-canonically"
                ),
            }
        }
    }
    // Empty schema round-trips.
    let empty = Schema::new();
    let bytes = empty.to_bytes().unwrap();
    assert_eq!(bytes.len(), 12);
    assert!(Schema::from_bytes(&bytes).unwrap().tables().unwrap().is_empty());
}

#[test]
fn field_types_and_sizes() {
    use FieldType::*;
    let all = [U8, U16, U32, U64, I8, I16, I32, I64, F32, F64, Bytes];
    for (i, t) in all.iter().enumerate() {
        assert_eq!(t.raw(), i as u32 + 1);
        assert_eq!(FieldType::from_raw(t.raw()), Some(*t));
    }
    assert_eq!(FieldType::from_raw(0), None);
    assert_eq!(FieldType::from_raw(12), None);
    assert_eq!(all.map(|t| t.element_size()), [1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 1]);
}

#[test]
fn table_of_takes_size_and_alignment_from_the_type() {
    let s =
        Schema::new().table_of::<common::Entity>(1, &[]).unwrap().table_of::<u128>(2, &[]).unwrap();
    let t = s.tables().unwrap();
    assert_eq!((t[0].record_size, t[0].alignment), (40, 8));
    assert_eq!((t[1].record_size, t[1].alignment), (16, std::mem::align_of::<u128>() as u32));
}
