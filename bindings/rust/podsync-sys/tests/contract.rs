//! The raw C contract as a binding sees it: NULL arguments, struct versions, failed constructors,
//! out-of-range indexes, messages. Each case cites the header (or docs/ABI.md) it checks.

use core::ffi::c_void;
use std::ffi::CStr;
use std::ptr::{null, null_mut};

use podsync_sys::*;

fn msg(p: *const core::ffi::c_char) -> String {
    assert!(!p.is_null(), "errmsg never returns NULL");
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

struct Fixture {
    schema: *mut podsync_schema,
    writer: *mut podsync_store,
    replica: *mut podsync_store,
    frame: Vec<u8>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        unsafe {
            podsync_store_free(self.writer);
            podsync_store_free(self.replica);
            podsync_schema_free(self.schema);
        }
    }
}

/// The frame of a flush of one 16-byte record (key 1) by a new writer of `schema` created with
/// `options` (NULL: the defaults).
unsafe fn first_frame(
    schema: *mut podsync_schema,
    options: *const podsync_store_options,
) -> Vec<u8> {
    unsafe {
        let mut w = null_mut();
        assert_eq!(podsync_store_create(schema, PODSYNC_ROLE_WRITER, options, &mut w), PODSYNC_OK);
        let rec = [7u8; 16];
        assert_eq!(podsync_store_put(w, 1, 1, rec.as_ptr().cast(), 16), PODSYNC_OK);
        let mut n = 0;
        assert_eq!(podsync_store_flush(w, &mut n), PODSYNC_OK);
        assert_eq!(n, 1);
        let (mut data, mut size) = (null(), 0);
        assert_eq!(podsync_store_frame(w, 0, &mut data, &mut size), PODSYNC_OK);
        let frame = std::slice::from_raw_parts(data, size).to_vec();
        podsync_store_free(w);
        frame
    }
}

/// The format version of a frame, as `podsync_frame_peek` reads it.
fn format_of(frame: &[u8]) -> u32 {
    let mut info = PODSYNC_FRAME_INFO_INIT;
    // SAFETY: a valid buffer of frame.len() bytes and an initialized info struct.
    let st = unsafe { podsync_frame_peek(frame.as_ptr().cast(), frame.len(), &mut info) };
    assert_eq!(st, PODSYNC_OK);
    info.format_version
}

/// Table 1: 16-byte records, alignment 8; a writer with one flushed record and its frame (in the
/// default frame format: 2 since library 0.8.0).
fn fixture() -> Fixture {
    unsafe {
        let mut schema = null_mut();
        assert_eq!(podsync_schema_create(&mut schema), PODSYNC_OK);
        assert_eq!(podsync_schema_add_table(schema, 1, 16, 8, null(), 0), PODSYNC_OK);
        let (mut writer, mut replica) = (null_mut(), null_mut());
        assert_eq!(
            podsync_store_create(schema, PODSYNC_ROLE_WRITER, null(), &mut writer),
            PODSYNC_OK
        );
        assert_eq!(
            podsync_store_create(schema, PODSYNC_ROLE_REPLICA, null(), &mut replica),
            PODSYNC_OK
        );
        let rec = [7u8; 16];
        assert_eq!(podsync_store_put(writer, 1, 1, rec.as_ptr().cast(), 16), PODSYNC_OK);
        let mut n = 0;
        assert_eq!(podsync_store_flush(writer, &mut n), PODSYNC_OK);
        assert_eq!(n, 1);
        let (mut data, mut size) = (null(), 0);
        assert_eq!(podsync_store_frame(writer, 0, &mut data, &mut size), PODSYNC_OK);
        let frame = std::slice::from_raw_parts(data, size).to_vec();
        Fixture { schema, writer, replica, frame }
    }
}

#[test]
fn null_where_a_value_is_required_is_invalid_argument() {
    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;
    let f = fixture();
    let (w, r, s) = (f.writer, f.replica, f.schema);
    let rec = [0u8; 16];
    let keys = [1u64];
    let mut u = 0u64;
    let mut z = 0usize;
    let mut p: *const c_void = null();
    let mut k: *const u64 = null();
    let mut b: *const u8 = null();
    let mut info = PODSYNC_STORE_INFO_INIT;
    let mut finfo = PODSYNC_FRAME_INFO_INIT;
    let mut sec = PODSYNC_FRAME_SECTION_INIT;
    let mut opts = PODSYNC_STORE_OPTIONS_INIT;
    unsafe {
        let cases: Vec<(&str, i32)> = vec![
            ("schema_create(NULL)", podsync_schema_create(null_mut())),
            (
                "schema_add_table(NULL schema)",
                podsync_schema_add_table(null_mut(), 2, 8, 8, null(), 0),
            ),
            (
                "schema_add_table(NULL fields, count 1)",
                podsync_schema_add_table(s, 2, 8, 8, null(), 1),
            ),
            ("schema_hash(NULL schema)", podsync_schema_hash(null(), &mut u)),
            ("schema_hash(NULL out)", podsync_schema_hash(s, null_mut())),
            ("schema_encode(NULL schema)", podsync_schema_encode(null(), null_mut(), 0, &mut z)),
            ("schema_encode(NULL size_out)", podsync_schema_encode(s, null_mut(), 0, null_mut())),
            (
                "schema_encode(NULL buffer, capacity 100)",
                podsync_schema_encode(s, null_mut(), 100, &mut z),
            ),
            ("schema_decode(NULL data)", podsync_schema_decode(null(), 10, &mut null_mut())),
            ("schema_decode(NULL out)", podsync_schema_decode(rec.as_ptr().cast(), 16, null_mut())),
            ("store_options_init(NULL)", podsync_store_options_init(null_mut(), 1)),
            ("store_create(NULL schema)", podsync_store_create(null(), 1, null(), &mut null_mut())),
            ("store_create(NULL out)", podsync_store_create(s, 1, null(), null_mut())),
            ("store_put(NULL store)", podsync_store_put(null_mut(), 1, 1, rec.as_ptr().cast(), 16)),
            ("store_put(NULL record)", podsync_store_put(w, 1, 1, null(), 16)),
            (
                "store_put_many(NULL keys)",
                podsync_store_put_many(w, 1, null(), rec.as_ptr().cast(), 1, 16),
            ),
            (
                "store_put_many(NULL records)",
                podsync_store_put_many(w, 1, keys.as_ptr(), null(), 1, 16),
            ),
            ("store_delete(NULL store)", podsync_store_delete(null_mut(), 1, 1)),
            ("store_delete_many(NULL keys)", podsync_store_delete_many(w, 1, null(), 1, &mut z)),
            ("store_set_time(NULL)", podsync_store_set_time(null_mut(), 1)),
            ("store_flush_due(NULL)", podsync_store_flush_due(null_mut())),
            ("store_flush(NULL count)", podsync_store_flush(w, null_mut())),
            ("store_delta_since(NULL count)", podsync_store_delta_since(w, 0, null_mut())),
            ("store_snapshot(NULL count)", podsync_store_snapshot(w, null_mut())),
            ("store_frame(NULL data_out)", podsync_store_frame(w, 0, null_mut(), &mut z)),
            ("store_frame(NULL size_out)", podsync_store_frame(w, 0, &mut b, null_mut())),
            ("store_apply(NULL frame)", podsync_store_apply(r, null(), 88, &mut u)),
            ("store_get(NULL out)", podsync_store_get(w, 1, 1, null_mut())),
            ("store_count(NULL out)", podsync_store_count(w, 1, null_mut())),
            ("store_table(NULL records)", podsync_store_table(w, 1, null_mut(), &mut k, &mut z)),
            ("store_table(NULL keys)", podsync_store_table(w, 1, &mut p, null_mut(), &mut z)),
            ("store_table(NULL count)", podsync_store_table(w, 1, &mut p, &mut k, null_mut())),
            ("store_info_get(NULL info)", podsync_store_info_get(w, null_mut())),
            ("store_info_get(NULL store)", podsync_store_info_get(null(), &mut info)),
            ("store_digest(NULL out)", podsync_store_digest(w, null_mut())),
            ("frame_peek(NULL data)", podsync_frame_peek(null(), 88, &mut finfo)),
            (
                "frame_peek(NULL info)",
                podsync_frame_peek(f.frame.as_ptr().cast(), f.frame.len(), null_mut()),
            ),
            ("frame_validate(NULL data)", podsync_frame_validate(null(), 88, &mut finfo)),
            (
                "frame_validate_limited(NULL data)",
                podsync_frame_validate_limited(null(), 88, 0, &mut finfo),
            ),
            ("frame_section_get(NULL data)", podsync_frame_section_get(null(), 88, 0, &mut sec)),
            (
                "frame_section_get(NULL section)",
                podsync_frame_section_get(f.frame.as_ptr().cast(), f.frame.len(), 0, null_mut()),
            ),
        ];
        for (what, st) in cases {
            assert_eq!(st, E, "{what}: got {st}");
        }
        // NULL buffer with a nonzero capacity (even one smaller than the encoding) is a NULL
        // where a value is required: INVALID_ARGUMENT, as the header's conventions say.
        let st = podsync_schema_encode(s, null_mut(), 8, &mut z);
        assert_eq!(st, E, "schema_encode(NULL buffer, capacity 8): {st}");
        // Optional out-pointers may be NULL.
        assert_eq!(podsync_store_delete_many(w, 1, keys.as_ptr(), 1, null_mut()), PODSYNC_OK);
        assert_eq!(
            podsync_frame_validate(f.frame.as_ptr().cast(), f.frame.len(), null_mut()),
            PODSYNC_OK
        );
        assert_eq!(
            podsync_frame_validate_limited(f.frame.as_ptr().cast(), f.frame.len(), 1, null_mut()),
            PODSYNC_OK
        );
        assert_eq!(
            podsync_store_apply(r, f.frame.as_ptr().cast(), f.frame.len(), null_mut()),
            PODSYNC_OK
        );
        assert_eq!(podsync_store_options_init(&mut opts, 1), PODSYNC_OK);
        // *_free accept NULL; errmsg of NULL is not specified, so it is not called.
        podsync_store_free(null_mut());
        podsync_schema_free(null_mut());
    }
}

#[test]
fn struct_versions() {
    let f = fixture();
    unsafe {
        // Output structs: version 0 rejected; any version >= 1 accepted (docs/ABI.md).
        let mut info = PODSYNC_STORE_INFO_INIT;
        info.version = 0;
        assert_eq!(podsync_store_info_get(f.writer, &mut info), PODSYNC_E_INVALID_ARGUMENT);
        info.version = 7;
        assert_eq!(podsync_store_info_get(f.writer, &mut info), PODSYNC_OK);
        assert_eq!(info.version, 7, "the caller's version is left as set");
        assert_eq!(info.state_version, 1);
        // A version-1 struct (80 bytes) is not written past table_count; version 2 writes
        // refreshing and reserved (0 for a writer).
        let mut info = PODSYNC_STORE_INFO_INIT;
        info.version = 1;
        info.refreshing = 5;
        info.reserved = 5;
        assert_eq!(podsync_store_info_get(f.writer, &mut info), PODSYNC_OK);
        assert_eq!((info.table_count, info.refreshing, info.reserved), (1, 5, 5), "bytes 80..88");
        info.version = PODSYNC_STORE_INFO_VERSION;
        assert_eq!(podsync_store_info_get(f.replica, &mut info), PODSYNC_OK);
        assert_eq!((info.refreshing, info.reserved), (0, 0));
        // A version-2 struct (88 bytes) is not written past reserved; version 3 (0.6.0) writes
        // term .. log_failed (all 0 for a store without files and terms).
        let mut info = PODSYNC_STORE_INFO_INIT;
        info.version = 2;
        (info.term, info.durable_version, info.log_bytes) = (5, 5, 5);
        (info.durable, info.log_failed) = (5, 5);
        assert_eq!(podsync_store_info_get(f.writer, &mut info), PODSYNC_OK);
        assert_eq!(
            (info.term, info.durable_version, info.log_bytes, info.durable, info.log_failed),
            (5, 5, 5, 5, 5),
            "bytes 88..120"
        );
        info.version = PODSYNC_STORE_INFO_VERSION;
        assert_eq!(podsync_store_info_get(f.writer, &mut info), PODSYNC_OK);
        assert_eq!(
            (info.term, info.durable_version, info.log_bytes, info.durable, info.log_failed),
            (0, 0, 0, 0, 0)
        );

        let mut fi = PODSYNC_FRAME_INFO_INIT;
        fi.version = 0;
        assert_eq!(
            podsync_frame_peek(f.frame.as_ptr().cast(), f.frame.len(), &mut fi),
            PODSYNC_E_INVALID_ARGUMENT
        );
        fi.version = 7;
        assert_eq!(podsync_frame_peek(f.frame.as_ptr().cast(), f.frame.len(), &mut fi), PODSYNC_OK);
        assert_eq!(fi.state_version, 1);

        let mut sec = PODSYNC_FRAME_SECTION_INIT;
        sec.version = 0;
        let st = podsync_frame_section_get(f.frame.as_ptr().cast(), f.frame.len(), 0, &mut sec);
        assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT);
        sec.version = 2;
        sec.reserved = 99;
        let st = podsync_frame_section_get(f.frame.as_ptr().cast(), f.frame.len(), 0, &mut sec);
        assert_eq!(st, PODSYNC_OK);
        assert_eq!((sec.table_id, sec.record_size, sec.put_count, sec.reserved), (1, 16, 1, 0));

        // Input struct: versions 1..=known accepted, newer and 0 rejected.
        let mut opts = PODSYNC_STORE_OPTIONS_INIT;
        assert_eq!(podsync_store_options_init(&mut opts, 0), PODSYNC_E_INVALID_ARGUMENT);
        let newer = PODSYNC_STORE_OPTIONS_VERSION + 1;
        assert_eq!(podsync_store_options_init(&mut opts, newer), PODSYNC_E_INVALID_ARGUMENT);
        assert_eq!(
            podsync_store_options_init(&mut opts, 1),
            PODSYNC_OK,
            "older struct versions stay accepted"
        );
        for v in [0u32, newer] {
            let mut o = PODSYNC_STORE_OPTIONS_INIT;
            o.version = v;
            let mut out = std::ptr::dangling_mut::<podsync_store>(); // must be overwritten with NULL
            let st = podsync_store_create(f.schema, PODSYNC_ROLE_WRITER, &o, &mut out);
            assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT, "options version {v}");
            assert!(out.is_null(), "a failed constructor stores NULL in *out");
        }
    }
}

#[test]
fn failed_constructors_store_null() {
    let f = fixture();
    unsafe {
        for role in [0u32, 3, 99] {
            let mut out = std::ptr::dangling_mut::<podsync_store>();
            let st = podsync_store_create(f.schema, role, null(), &mut out);
            assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT, "role {role}");
            assert!(out.is_null());
        }
        let mut out = std::ptr::dangling_mut::<podsync_schema>();
        let st = podsync_schema_decode(b"not a schema".as_ptr().cast(), 12, &mut out);
        assert_eq!(st, PODSYNC_E_SCHEMA_INVALID);
        assert!(out.is_null());
    }
}

#[test]
fn indexes_roles_and_messages() {
    let f = fixture();
    unsafe {
        assert_eq!(msg(podsync_store_errmsg(f.replica)), "", "no error yet");
        assert_eq!(msg(podsync_schema_errmsg(f.schema)), "");

        let (mut b, mut z) = (null(), 0usize);
        assert_eq!(podsync_store_frame(f.writer, 1, &mut b, &mut z), PODSYNC_E_INVALID_ARGUMENT);
        assert!(!msg(podsync_store_errmsg(f.writer)).is_empty());
        let mut sec = PODSYNC_FRAME_SECTION_INIT;
        let st = podsync_frame_section_get(f.frame.as_ptr().cast(), f.frame.len(), 1, &mut sec);
        assert!(st < 0, "section index past section_count: {st}");

        // Wrong role: writer-only calls on a replica and apply on a writer.
        let rec = [0u8; 16];
        let mut n = 0usize;
        assert_eq!(
            podsync_store_put(f.replica, 1, 1, rec.as_ptr().cast(), 16),
            PODSYNC_E_WRONG_ROLE
        );
        assert!(!msg(podsync_store_errmsg(f.replica)).is_empty());
        assert_eq!(podsync_store_flush(f.replica, &mut n), PODSYNC_E_WRONG_ROLE);
        assert_eq!(podsync_store_set_time(f.replica, 5), PODSYNC_E_WRONG_ROLE);
        assert_eq!(podsync_store_flush_due(f.replica), PODSYNC_E_WRONG_ROLE);
        let st = podsync_store_apply(f.writer, f.frame.as_ptr().cast(), f.frame.len(), null_mut());
        assert_eq!(st, PODSYNC_E_WRONG_ROLE);

        // The encode size query: capacity 0 reports the size.
        let mut size = 0usize;
        let st = podsync_schema_encode(f.schema, null_mut(), 0, &mut size);
        assert!(st == PODSYNC_E_BUFFER_TOO_SMALL || st == PODSYNC_OK, "{st}");
        assert_eq!(size, 12 + 16);
        let mut buf = vec![0u8; size - 1];
        let mut size2 = 0usize;
        let st = podsync_schema_encode(f.schema, buf.as_mut_ptr().cast(), buf.len(), &mut size2);
        assert_eq!((st, size2), (PODSYNC_E_BUFFER_TOO_SMALL, size));
        assert!(buf.iter().all(|&b| b == 0), "nothing written when too small");
    }
}

#[test]
fn dictionaries_null_arguments_and_not_found() {
    // Header, "Compression dictionaries" (since library 0.3.0).
    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;
    let f = fixture();
    let (w, r) = (f.writer, f.replica);
    let mut id = 0u32;
    let mut z = 0usize;
    let mut p: *const c_void = null();
    unsafe {
        assert_eq!(podsync_store_collect_samples(null_mut(), 1 << 20), E);
        assert_eq!(podsync_store_train_dictionary(null_mut(), 0, &mut id), E);
        assert_eq!(podsync_store_load_dictionary(r, null(), 100, &mut id), E);
        assert_eq!(
            podsync_store_load_dictionary(null_mut(), [0u8; 8].as_ptr().cast(), 8, &mut id),
            E
        );
        assert_eq!(podsync_store_dictionary(null(), &mut p, &mut z, &mut id), E);
        // Collecting needs compression_level != 0 (the fixture's writer has the default, 0);
        // 0 (stop) is always accepted.
        assert_eq!(podsync_store_collect_samples(w, 1 << 20), E);
        assert!(!msg(podsync_store_errmsg(w)).is_empty());
        assert_eq!(podsync_store_collect_samples(w, 0), PODSYNC_OK);
        // Nothing collected: nothing to train from.
        assert_eq!(podsync_store_train_dictionary(w, 0, null_mut()), E);
        // Not a dictionary.
        let junk = [0x5au8; 512];
        assert_eq!(
            podsync_store_load_dictionary(r, junk.as_ptr().cast(), junk.len(), null_mut()),
            E
        );
        // No dictionary: NOT_FOUND with NULL, 0, 0; every out-pointer may be NULL.
        p = std::ptr::dangling();
        z = 5;
        id = 9;
        assert_eq!(podsync_store_dictionary(r, &mut p, &mut z, &mut id), PODSYNC_NOT_FOUND);
        assert_eq!((p.is_null(), z, id), (true, 0, 0));
        assert_eq!(
            podsync_store_dictionary(w, null_mut(), null_mut(), null_mut()),
            PODSYNC_NOT_FOUND
        );
    }
}

#[test]
fn a_version_1_metrics_struct_is_filled_up_to_apply_ns() {
    // Header: "a version-1 struct is filled up to apply_ns"; the 4 fields of version 2 follow it.
    let f = fixture();
    unsafe {
        let mut m: podsync_metrics = std::mem::zeroed();
        m.version = 1;
        m.saved_by_zero_columns = 7;
        m.raw_column_bytes = 7;
        m.column_trials = 7;
        m.dictionary_frames = 7;
        assert_eq!(podsync_store_metrics(f.writer, &mut m), PODSYNC_OK);
        assert_eq!((m.frames_out, m.records_out), (1, 1));
        assert_eq!(
            (m.saved_by_zero_columns, m.raw_column_bytes, m.column_trials, m.dictionary_frames),
            (7, 7, 7, 7),
            "a version-1 caller's memory past byte 904 is not written"
        );
        // A version-2 struct is filled up to dictionary_frames (header, 0.5.0).
        m.version = 2;
        m.chunks_out = 7;
        m.staging_bytes_held = 7;
        assert_eq!(podsync_store_metrics(f.writer, &mut m), PODSYNC_OK);
        assert_eq!((m.chunks_out, m.staging_bytes_held), (7, 7), "bytes 936.. not written");
        m.version = PODSYNC_METRICS_VERSION;
        assert_eq!(podsync_store_metrics(f.writer, &mut m), PODSYNC_OK);
        // No compression in the fixture: the version-2 counters are 0; no chunk either.
        assert_eq!(
            (m.saved_by_zero_columns, m.raw_column_bytes, m.column_trials, m.dictionary_frames),
            (0, 0, 0, 0)
        );
        assert_eq!((m.chunks_out, m.staging_bytes_held), (0, 0));
    }
}

#[test]
fn prometheus_text_follows_the_buffer_contract() {
    // Header: *size_out (required) receives the size including the NUL; a smaller capacity is
    // PODSYNC_E_BUFFER_TOO_SMALL and writes nothing; buffer may be NULL when capacity is 0; a
    // version-1 struct has no saved_by_zero_columns .. dictionary_frames and they are left out.
    let f = fixture();
    unsafe {
        let mut m: podsync_metrics = std::mem::zeroed();
        m.version = PODSYNC_METRICS_VERSION;
        assert_eq!(podsync_store_metrics(f.writer, &mut m), PODSYNC_OK);
        let labels = c"store=\"w\"".as_ptr();

        let mut size = 0usize;
        let st = podsync_metrics_prometheus(&m, labels, null_mut(), 0, &mut size);
        assert_eq!(st, PODSYNC_E_BUFFER_TOO_SMALL);
        assert!(size > 1, "{size}");
        let mut buf = vec![0x55u8; size];
        let mut got = 0usize;
        let st =
            podsync_metrics_prometheus(&m, labels, buf.as_mut_ptr().cast(), size - 1, &mut got);
        assert_eq!((st, got), (PODSYNC_E_BUFFER_TOO_SMALL, size));
        assert!(buf.iter().all(|&b| b == 0x55), "nothing written");
        let st = podsync_metrics_prometheus(&m, labels, buf.as_mut_ptr().cast(), size, &mut got);
        assert_eq!((st, got), (PODSYNC_OK, size));
        assert_eq!(buf[size - 1], 0, "NUL-terminated");
        let v2 = std::str::from_utf8(&buf[..size - 1]).unwrap().to_owned();
        assert!(v2.contains("podsync_frames_out_total{store=\"w\"} 1\n"), "{v2}");
        assert!(v2.contains("by=\"zero_columns\"}"), "{v2}");

        // Version 1: the counters appended by version 2 are left out; version 2: the 5 counters
        // and gauges of version 3 (chunked snapshots, library 0.5.0).
        let text_of = |m: &podsync_metrics| {
            let mut size = 0usize;
            let st = podsync_metrics_prometheus(m, null(), null_mut(), 0, &mut size);
            assert_eq!(st, PODSYNC_E_BUFFER_TOO_SMALL);
            let mut buf = vec![0u8; size];
            let mut got = 0usize;
            let st = podsync_metrics_prometheus(m, null(), buf.as_mut_ptr().cast(), size, &mut got);
            assert_eq!((st, got), (PODSYNC_OK, size));
            String::from_utf8(buf[..size - 1].to_vec()).unwrap()
        };
        let samples = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
        m.version = 2;
        let v2_struct = text_of(&m);
        assert!(!v2_struct.contains("podsync_chunks_out_total"), "{v2_struct}");
        assert_eq!(samples(&v2), samples(&v2_struct) + 5, "5 of version 3:\n{v2_struct}");
        m.version = 1;
        m.saved_by_zero_columns = 7;
        let v1 = &text_of(&m);
        assert_eq!(samples(&v2_struct), samples(v1) + 4, "4 counters of version 2 left out:\n{v1}");
        assert!(!v1.contains("by=\"zero_columns\"}"), "{v1}");
        assert!(v1.contains("podsync_frames_out_total 1\n"), "{v1}");

        // NULL where a value is required, and bad labels, with a message (no handle: the
        // thread's last error).
        let cases = [
            ("metrics NULL", podsync_metrics_prometheus(null(), null(), null_mut(), 0, &mut size)),
            ("size_out NULL", podsync_metrics_prometheus(&m, null(), null_mut(), 0, null_mut())),
            (
                "buffer NULL, capacity 8",
                podsync_metrics_prometheus(&m, null(), null_mut(), 8, &mut size),
            ),
            (
                "label le",
                podsync_metrics_prometheus(&m, c"le=\"1\"".as_ptr(), null_mut(), 0, &mut size),
            ),
        ];
        for (what, st) in cases {
            assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT, "{what}");
        }
        assert!(!msg(podsync_last_errmsg()).is_empty());
        m.version = 0;
        let st = podsync_metrics_prometheus(&m, null(), null_mut(), 0, &mut size);
        assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT, "struct version 0");
    }
}

#[test]
fn a_version_2_options_struct_is_read_and_written_only_up_to_byte_72() {
    // docs/ABI.md: the library never reads or writes past the fields of the caller's version; a
    // version-2 struct (library 0.2.0 / 0.3.0 hosts) gets the default limits (header, 0.4.0).
    let f = fixture();
    unsafe {
        let mut o = PODSYNC_STORE_OPTIONS_INIT;
        o.max_records = 1;
        o.max_tombstones = 7;
        assert_eq!(podsync_store_options_init(&mut o, 2), PODSYNC_OK);
        assert_eq!((o.version, o.max_decoded_bytes), (2, 1 << 30));
        assert_eq!((o.max_records, o.max_tombstones), (1, 7), "bytes 72..88 are not written");
        // max_records = 1 past the version-2 struct is not read: three records fit.
        let mut w = null_mut();
        assert_eq!(podsync_store_create(f.schema, PODSYNC_ROLE_WRITER, &o, &mut w), PODSYNC_OK);
        let keys = [1u64, 2, 3];
        let recs = [0u8; 48];
        let st = podsync_store_put_many(w, 1, keys.as_ptr(), recs.as_ptr().cast(), 3, 48);
        assert_eq!(st, PODSYNC_OK);
        podsync_store_free(w);
        // The same struct as version 3: the limit applies, and nothing is written.
        o.version = 3;
        let mut w = null_mut();
        assert_eq!(podsync_store_create(f.schema, PODSYNC_ROLE_WRITER, &o, &mut w), PODSYNC_OK);
        let st = podsync_store_put_many(w, 1, keys.as_ptr(), recs.as_ptr().cast(), 3, 48);
        assert_eq!(st, PODSYNC_E_LIMIT);
        assert!(msg(podsync_store_errmsg(w)).contains("max_records"));
        let mut n = 9usize;
        assert_eq!(podsync_store_count(w, 1, &mut n), PODSYNC_OK);
        assert_eq!(n, 0, "nothing changed");
        podsync_store_free(w);
    }
}

#[test]
fn validate_fills_the_header_on_failure_and_limited_bounds_decoding() {
    // Header (0.4.0): "on failure after the header was read, info holds the header's fields".
    let f = fixture();
    unsafe {
        let mut good = PODSYNC_FRAME_INFO_INIT;
        assert_eq!(
            podsync_frame_peek(f.frame.as_ptr().cast(), f.frame.len(), &mut good),
            PODSYNC_OK
        );
        let mut bad = f.frame.clone();
        *bad.last_mut().unwrap() ^= 1;
        for limit in [None, Some(0u64), Some(1 << 20)] {
            let mut info = PODSYNC_FRAME_INFO_INIT;
            let st = match limit {
                None => podsync_frame_validate(bad.as_ptr().cast(), bad.len(), &mut info),
                Some(l) => {
                    podsync_frame_validate_limited(bad.as_ptr().cast(), bad.len(), l, &mut info)
                }
            };
            assert_eq!(st, PODSYNC_E_FRAME_CHECKSUM);
            assert_eq!(info, good, "limit {limit:?}");
            assert!(!msg(podsync_last_errmsg()).is_empty());
        }
        // No header: the struct stays as initialized.
        let junk = [0x5au8; 100];
        let mut info = PODSYNC_FRAME_INFO_INIT;
        let st = podsync_frame_validate_limited(junk.as_ptr().cast(), junk.len(), 0, &mut info);
        assert_eq!(st, PODSYNC_E_FRAME_MAGIC);
        assert_eq!(info, PODSYNC_FRAME_INFO_INIT);
        info.version = 0;
        let st =
            podsync_frame_validate_limited(f.frame.as_ptr().cast(), f.frame.len(), 0, &mut info);
        assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT, "info version 0");
    }
}

#[test]
fn last_errmsg_reports_calls_without_a_handle() {
    // Header (0.4.0): podsync_last_errmsg is the calling thread's last error message.
    let f = fixture();
    unsafe {
        let mut out = std::ptr::dangling_mut::<podsync_store>();
        assert_eq!(
            podsync_store_create(f.schema, 99, null(), &mut out),
            PODSYNC_E_INVALID_ARGUMENT
        );
        let create = msg(podsync_last_errmsg());
        assert!(!create.is_empty());
        let mut info = PODSYNC_FRAME_INFO_INIT;
        assert_eq!(
            podsync_frame_peek(f.frame.as_ptr().cast(), 10, &mut info),
            PODSYNC_E_FRAME_TRUNCATED
        );
        let peek = msg(podsync_last_errmsg());
        assert!(!peek.is_empty() && peek != create, "{peek:?}");
        // A successful call does not clear it.
        assert_eq!(
            podsync_frame_peek(f.frame.as_ptr().cast(), f.frame.len(), &mut info),
            PODSYNC_OK
        );
        assert_eq!(msg(podsync_last_errmsg()), peek);
        // Handles record their errors there too.
        assert_eq!(
            podsync_store_put(f.replica, 1, 1, [0u8; 16].as_ptr().cast(), 16),
            PODSYNC_E_WRONG_ROLE
        );
        assert_eq!(msg(podsync_last_errmsg()), msg(podsync_store_errmsg(f.replica)));
        // Per thread: a new thread has none.
        let other = std::thread::spawn(|| msg(podsync_last_errmsg())).join().unwrap();
        assert_eq!(other, "");
    }
}

#[test]
fn chunked_snapshots_follow_the_header() {
    // Header, "Chunked snapshots" (since library 0.5.0).
    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;
    let f = fixture();
    unsafe {
        let mut snap: *mut podsync_snapshot = null_mut();
        let mut pos = PODSYNC_CHUNK_POSITION_INIT;
        let (mut data, mut size) = (std::ptr::dangling::<u8>(), 7usize);
        // NULL where a value is required; a failed constructor stores NULL in *out.
        assert_eq!(podsync_snapshot_begin(null_mut(), 0, &mut snap), E);
        assert_eq!(podsync_snapshot_begin(f.writer, 0, null_mut()), E);
        assert_eq!(podsync_snapshot_resume(f.writer, null(), 0, &mut snap), E);
        assert_eq!(podsync_store_staging(f.replica, null_mut()), E);
        assert_eq!(podsync_store_staging(null(), &mut pos), E);
        let mut out = std::ptr::dangling_mut::<podsync_snapshot>();
        assert_eq!(podsync_snapshot_begin(f.writer, 1, &mut out), E, "below the minimum");
        assert!(out.is_null());
        assert!(!msg(podsync_store_errmsg(f.writer)).is_empty());
        // A replica that stages nothing: NOT_FOUND (a writer stages nothing either).
        assert_eq!(podsync_store_staging(f.replica, &mut pos), PODSYNC_NOT_FOUND);
        assert_eq!(podsync_store_staging(f.writer, &mut pos), PODSYNC_NOT_FOUND);
        pos.version = 0;
        assert_eq!(podsync_store_staging(f.replica, &mut pos), E, "struct version 0");

        // One record: one chunk, then DONE with (NULL, 0).
        assert_eq!(podsync_snapshot_begin(f.writer, 0, &mut snap), PODSYNC_OK);
        assert!(!snap.is_null());
        let mut p = PODSYNC_CHUNK_POSITION_INIT;
        assert_eq!(podsync_snapshot_position(snap, &mut p), PODSYNC_OK);
        assert_eq!((p.version, p.chunk_index, p.start_table, p.start_key), (1, 0, 0, 0));
        assert_eq!(p.state_version, 1);
        assert_ne!(p.snapshot_id, 0);
        assert_eq!(podsync_snapshot_next(snap, &mut data, &mut size), PODSYNC_OK);
        assert_eq!(data as usize % 64, 0, "64-byte aligned");
        let chunk = std::slice::from_raw_parts(data, size).to_vec();
        let mut info = PODSYNC_FRAME_INFO_INIT;
        assert_eq!(podsync_frame_validate(chunk.as_ptr().cast(), size, &mut info), PODSYNC_OK);
        assert_eq!(info.format_version, 2);
        assert_eq!(info.flags & (PODSYNC_FRAME_CHUNK | PODSYNC_FRAME_RESET), 5);
        assert_eq!((info.snapshot_id, info.chunk_index), (p.snapshot_id, 0));
        assert_eq!((info.chunk_flags, info.chunk_record_count), (PODSYNC_CHUNK_LAST, 1));
        assert_eq!(podsync_snapshot_next(snap, &mut data, &mut size), PODSYNC_DONE);
        assert_eq!((data.is_null(), size), (true, 0));
        assert_eq!(podsync_snapshot_position(snap, &mut p), PODSYNC_OK);
        assert_eq!(p.chunk_index, 1, "after the last chunk, the index past it");
        assert_eq!(msg(podsync_snapshot_errmsg(snap)), "");
        p.version = 0;
        assert_eq!(podsync_snapshot_position(snap, &mut p), E);
        podsync_snapshot_free(snap);

        // Applied by a replica: a one-chunk snapshot switches at once.
        let mut v = 0u64;
        let st = podsync_store_apply(f.replica, chunk.as_ptr().cast(), chunk.len(), &mut v);
        assert_eq!((st, v), (PODSYNC_OK, 1));
        let mut m: podsync_metrics = std::mem::zeroed();
        m.version = PODSYNC_METRICS_VERSION;
        assert_eq!(podsync_store_metrics(f.writer, &mut m), PODSYNC_OK);
        assert_eq!((m.chunks_out, m.snapshot_bytes_held), (1, 0), "freed: nothing held");

        // A snapshot keeps its store alive: freeing the store first is allowed.
        let mut w = null_mut();
        assert_eq!(podsync_store_create(f.schema, PODSYNC_ROLE_WRITER, null(), &mut w), PODSYNC_OK);
        let rec = [1u8; 16];
        assert_eq!(podsync_store_put(w, 1, 9, rec.as_ptr().cast(), 16), PODSYNC_OK);
        let mut n = 0usize;
        assert_eq!(podsync_store_flush(w, &mut n), PODSYNC_OK);
        assert_eq!(podsync_snapshot_begin(w, 0, &mut snap), PODSYNC_OK);
        podsync_store_free(w);
        assert_eq!(podsync_snapshot_next(snap, &mut data, &mut size), PODSYNC_OK);
        assert!(size > 0);
        assert_eq!(podsync_snapshot_next(snap, &mut data, &mut size), PODSYNC_DONE);
        podsync_snapshot_free(snap);
    }
}

#[test]
fn options_version_4_frame_format_and_the_prefix() {
    // Header: options version 4 appends frame_format (0/1/2; 0 = 2, the default since library
    // 0.8.0, and an older struct's writer writes format 1), refresh_flushes and refresh_ms (the
    // rolling refresh); a version-3 struct is read and written only up to byte 88; peek given the
    // 16-byte prefix only returns FRAME_TRUNCATED with format_version and header_length filled.
    let f = fixture();
    unsafe {
        let mut o = PODSYNC_STORE_OPTIONS_INIT;
        o.frame_format = 9;
        o.refresh_flushes = 9;
        o.refresh_ms = 9;
        assert_eq!(podsync_store_options_init(&mut o, 3), PODSYNC_OK);
        assert_eq!(
            (o.version, o.frame_format, o.refresh_flushes, o.refresh_ms),
            (3, 9, 9, 9),
            "bytes 88..104 not written"
        );
        // An older struct has no frame_format: its writer writes format 1 (whatever bytes
        // 88..104 hold).
        assert_eq!(format_of(&first_frame(f.schema, &o)), 1, "a version-3 struct: format 1");
        // Version 4 fills them with their defaults: format 2 (since library 0.8.0; format 1
        // before), refresh off.
        o.version = 4;
        assert_eq!(podsync_store_options_init(&mut o, 4), PODSYNC_OK);
        assert_eq!((o.frame_format, o.refresh_flushes, o.refresh_ms), (2, 0, 0));
        assert_eq!(o, PODSYNC_STORE_OPTIONS_INIT);
        assert_eq!(format_of(&first_frame(f.schema, &o)), 2, "the default: format 2");
        assert_eq!(format_of(&f.frame), 2, "NULL options: the default, format 2");
        // 0 means 2; 1 asks for format 1.
        for (format, want) in [(0, 2), (1, 1), (2, 2)] {
            let mut o = PODSYNC_STORE_OPTIONS_INIT;
            o.frame_format = format;
            assert_eq!(format_of(&first_frame(f.schema, &o)), want, "frame_format {format}");
        }
        for (format, refresh, want) in [
            (0, 0, PODSYNC_OK),
            (1, 0, PODSYNC_OK),
            (2, 0, PODSYNC_OK),
            (3, 0, -1),
            (1, 1, PODSYNC_OK),
            (2, u32::MAX, PODSYNC_OK),
        ] {
            let mut o = PODSYNC_STORE_OPTIONS_INIT;
            o.frame_format = format;
            o.refresh_flushes = refresh;
            o.refresh_ms = 100;
            let mut w = null_mut();
            let st = podsync_store_create(f.schema, PODSYNC_ROLE_WRITER, &o, &mut w);
            assert_eq!(st, want, "frame_format {format}, refresh_flushes {refresh}");
            podsync_store_free(w);
        }
        // PODSYNC_OPT_ONE_WAY is a known flag (an unknown one is refused).
        let mut o = PODSYNC_STORE_OPTIONS_INIT;
        o.flags |= PODSYNC_OPT_ONE_WAY;
        let mut r = null_mut();
        assert_eq!(podsync_store_create(f.schema, PODSYNC_ROLE_REPLICA, &o, &mut r), PODSYNC_OK);
        podsync_store_free(r);
        o.flags |= 0x10;
        let mut r = null_mut();
        let st = podsync_store_create(f.schema, PODSYNC_ROLE_REPLICA, &o, &mut r);
        assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT, "flag 0x10 is not defined");
        assert!(r.is_null());
        let opts = PODSYNC_STORE_OPTIONS_INIT;
        o = opts;
        o.flags |= PODSYNC_OPT_FILL_IN_PLACE;
        let mut r = null_mut();
        assert_eq!(podsync_store_create(f.schema, PODSYNC_ROLE_REPLICA, &o, &mut r), PODSYNC_OK);
        podsync_store_free(r);

        // Format 1: the prefix announces an 88-byte header.
        let mut o = PODSYNC_STORE_OPTIONS_INIT;
        o.frame_format = 1;
        let format1 = first_frame(f.schema, &o);
        let mut info = PODSYNC_FRAME_INFO_INIT;
        let st = podsync_frame_peek(format1.as_ptr().cast(), PODSYNC_FRAME_PREFIX_SIZE, &mut info);
        assert_eq!(st, PODSYNC_E_FRAME_TRUNCATED);
        assert_eq!((info.format_version, info.header_length), (1, 88));
        assert_eq!(info.frame_length, 0, "the rest is not read");
        // Format 2 (the default): the prefix announces a compact header (40 to 64 bytes).
        let mut info = PODSYNC_FRAME_INFO_INIT;
        let st = podsync_frame_peek(f.frame.as_ptr().cast(), PODSYNC_FRAME_PREFIX_SIZE, &mut info);
        assert_eq!(st, PODSYNC_E_FRAME_TRUNCATED);
        assert_eq!(info.format_version, 2);
        assert!((40..=64).contains(&info.header_length), "{}", info.header_length);
        assert_eq!(info.header_length % 8, 0);
        assert_eq!(info.frame_length, 0, "the rest is not read");
        // Version-3 fields of a format-1 frame are 0.
        let mut info = PODSYNC_FRAME_INFO_INIT;
        info.term = 5;
        info.reserved = 5;
        info.slice_pass = 5;
        info.slice_flags = 5;
        assert_eq!(
            podsync_frame_peek(format1.as_ptr().cast(), format1.len(), &mut info),
            PODSYNC_OK
        );
        assert_eq!((info.term, info.snapshot_id, info.chunk_flags, info.reserved), (0, 0, 0, 0));
        assert_eq!((info.slice_pass, info.slice_flags, info.slice_section_count), (0, 0, 0));
        assert_eq!(info.flags & PODSYNC_FRAME_SLICE, 0, "no slice without a rolling refresh");
        // A version-2 struct is filled up to payload_length only.
        let mut info = PODSYNC_FRAME_INFO_INIT;
        info.version = 2;
        info.term = 5;
        info.chunk_index = 5;
        assert_eq!(
            podsync_frame_peek(f.frame.as_ptr().cast(), f.frame.len(), &mut info),
            PODSYNC_OK
        );
        assert_eq!((info.term, info.chunk_index), (5, 5), "bytes 96..208 not written");
    }
}

#[test]
fn rolling_refresh_slices_refreshing_and_one_way() {
    // Header (0.5.0): a writer with refresh_flushes R puts the next slice of its state into the
    // last frame of every flush (PODSYNC_FRAME_SLICE in info.flags, slice_* fields, its sections
    // after the section_count change sections); a PODSYNC_OPT_ONE_WAY replica given a frame past
    // a gap returns PODSYNC_REFRESHING with info.refreshing = 1 where another returns PODSYNC_GAP.
    let f = fixture();
    unsafe {
        let mut o = PODSYNC_STORE_OPTIONS_INIT;
        o.refresh_flushes = 2;
        let mut w = null_mut();
        assert_eq!(podsync_store_create(f.schema, PODSYNC_ROLE_WRITER, &o, &mut w), PODSYNC_OK);
        let mut o = PODSYNC_STORE_OPTIONS_INIT;
        o.flags |= PODSYNC_OPT_ONE_WAY;
        let (mut one_way, mut plain) = (null_mut(), null_mut());
        assert_eq!(
            podsync_store_create(f.schema, PODSYNC_ROLE_REPLICA, &o, &mut one_way),
            PODSYNC_OK
        );
        assert_eq!(
            podsync_store_create(f.schema, PODSYNC_ROLE_REPLICA, null(), &mut plain),
            PODSYNC_OK
        );
        let mut frames = Vec::new();
        for k in 0..4u64 {
            let rec = [k as u8 + 1; 16];
            assert_eq!(podsync_store_put(w, 1, k, rec.as_ptr().cast(), 16), PODSYNC_OK);
            let mut n = 0;
            assert_eq!(podsync_store_flush(w, &mut n), PODSYNC_OK);
            assert_eq!(n, 1);
            let (mut data, mut size) = (null(), 0);
            assert_eq!(podsync_store_frame(w, 0, &mut data, &mut size), PODSYNC_OK);
            frames.push(std::slice::from_raw_parts(data, size).to_vec());
        }
        let mut ends = Vec::new();
        for (i, fr) in frames.iter().enumerate() {
            let mut info = PODSYNC_FRAME_INFO_INIT;
            assert_eq!(podsync_frame_validate(fr.as_ptr().cast(), fr.len(), &mut info), PODSYNC_OK);
            assert_eq!(info.flags & PODSYNC_FRAME_SLICE, PODSYNC_FRAME_SLICE, "frame {i}");
            assert_eq!(info.format_version, 2, "a slice makes a format-2 frame");
            assert_eq!((info.section_count, info.reserved), (1, 0));
            assert!(info.slice_section_count <= 1, "one table");
            // A slice section sits after the change sections and puts only (a slice of a range
            // that holds no record has none).
            for idx in 0..info.slice_section_count as usize {
                let mut sec = PODSYNC_FRAME_SECTION_INIT;
                let idx = info.section_count as usize + idx;
                let st = podsync_frame_section_get(fr.as_ptr().cast(), fr.len(), idx, &mut sec);
                assert_eq!(st, PODSYNC_OK, "slice section of frame {i}");
                assert_eq!((sec.table_id, sec.delete_count), (1, 0));
                assert!(sec.put_count >= 1);
            }
            let past = info.section_count as usize + info.slice_section_count as usize;
            let mut sec = PODSYNC_FRAME_SECTION_INIT;
            let st = podsync_frame_section_get(fr.as_ptr().cast(), fr.len(), past, &mut sec);
            assert_eq!(st, PODSYNC_E_INVALID_ARGUMENT, "index past the slice's sections");
            ends.push((
                info.slice_pass,
                info.slice_index,
                info.slice_flags,
                info.slice_section_count,
            ));
        }
        // Pass 0 starts at frame 0; with R = 2 and up to 4 records a pass ends within 4 flushes,
        // and some slice holds records.
        assert_eq!((ends[0].0, ends[0].1), (0, 0));
        assert!(ends.iter().any(|e| e.2 & PODSYNC_CHUNK_LAST != 0), "{ends:?}");
        assert!(ends.iter().any(|e| e.3 > 0), "{ends:?}");

        // Frame 0 lost: GAP for the plain replica, REFRESHING for the one-way one.
        let (fr, mut v) = (&frames[1], 0u64);
        assert_eq!(podsync_store_apply(plain, fr.as_ptr().cast(), fr.len(), &mut v), PODSYNC_GAP);
        assert_eq!(v, 0);
        let st = podsync_store_apply(one_way, fr.as_ptr().cast(), fr.len(), &mut v);
        assert_eq!(st, PODSYNC_REFRESHING);
        let mut info = PODSYNC_STORE_INFO_INIT;
        assert_eq!(podsync_store_info_get(one_way, &mut info), PODSYNC_OK);
        assert_eq!((info.refreshing, info.state_version), (1, 0));
        let name = std::ffi::CStr::from_ptr(podsync_status_name(PODSYNC_REFRESHING));
        assert_eq!(name.to_str(), Ok("PODSYNC_REFRESHING"));
        podsync_store_free(one_way);
        podsync_store_free(plain);
        podsync_store_free(w);
    }
}

/// A fresh, empty directory under the system's temporary directory (whose subdirectories the
/// library creates: it makes the store's directory, not its parents); removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir()
            .join(format!("podsync-sys-{tag}-{}-{n}-{nanos:08x}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn c_path(&self, sub: &str) -> std::ffi::CString {
        std::ffi::CString::new(self.0.join(sub).to_str().unwrap()).unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn durability_calls_validate_their_arguments() {
    // Header (0.6.0), "Durability and failover".
    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;
    let f = fixture();
    let tmp = TempDir::new("contract");
    unsafe {
        // Options: NULL and unknown struct versions are refused.
        let mut d = PODSYNC_DURABILITY_OPTIONS_INIT;
        assert_eq!(podsync_durability_options_init(null_mut(), 1), E);
        assert_eq!(podsync_durability_options_init(&mut d, 0), E);
        assert_eq!(podsync_durability_options_init(&mut d, 2), E);
        assert!(!msg(podsync_last_errmsg()).is_empty());

        // Open: a NULL directory or out-pointer; no checkpoint and no schema or role to create
        // one from; *out is NULL after every failure.
        let dir = tmp.c_path("store");
        let mut out = std::ptr::dangling_mut::<podsync_store>();
        let st = podsync_store_open(null(), f.schema, 1, null(), null(), null_mut(), &mut out);
        assert_eq!((st, out), (E, null_mut()));
        let st =
            podsync_store_open(dir.as_ptr(), f.schema, 1, null(), null(), null_mut(), null_mut());
        assert_eq!(st, E);
        let mut out = std::ptr::dangling_mut::<podsync_store>();
        let st = podsync_store_open(dir.as_ptr(), null(), 1, null(), null(), null_mut(), &mut out);
        assert_eq!(
            (st, out),
            (E, null_mut()),
            "creating needs a schema: {}",
            msg(podsync_last_errmsg())
        );
        let st =
            podsync_store_open(dir.as_ptr(), f.schema, 0, null(), null(), null_mut(), &mut out);
        assert_eq!((st, out), (E, null_mut()), "creating needs a role");
        let mut bad = PODSYNC_DURABILITY_OPTIONS_INIT;
        bad.keep_checkpoints = 0;
        let st = podsync_store_open(dir.as_ptr(), f.schema, 1, null(), &bad, null_mut(), &mut out);
        assert_eq!((st, out), (E, null_mut()), "keep_checkpoints 0");
        let mut info = PODSYNC_OPEN_INFO_INIT;
        info.version = 0;
        let st = podsync_store_open(dir.as_ptr(), f.schema, 1, null(), null(), &mut info, &mut out);
        assert_eq!((st, out), (E, null_mut()), "open info version 0");
        assert!(!msg(podsync_last_errmsg()).is_empty());

        // Created: version 0, flag CREATED; the store info says durable.
        let mut info = PODSYNC_OPEN_INFO_INIT;
        let st = podsync_store_open(dir.as_ptr(), f.schema, 1, null(), null(), &mut info, &mut out);
        assert_eq!(st, PODSYNC_OK, "{}", msg(podsync_last_errmsg()));
        assert!(!out.is_null());
        assert_eq!(info.flags, PODSYNC_OPENED_CREATED);
        assert_eq!(
            (info.checkpoint_version, info.restored_version, info.skipped_status),
            (0, 0, 0)
        );
        let mut si = PODSYNC_STORE_INFO_INIT;
        assert_eq!(podsync_store_info_get(out, &mut si), PODSYNC_OK);
        assert_eq!((si.durable, si.log_failed, si.durable_version), (1, 0, 0));
        // Locked while it lives: a second open is PODSYNC_E_IO.
        let mut second = std::ptr::dangling_mut::<podsync_store>();
        let st =
            podsync_store_open(dir.as_ptr(), null(), 0, null(), null(), null_mut(), &mut second);
        assert_eq!((st, second), (PODSYNC_E_IO, null_mut()));
        assert_eq!(podsync_store_sync(out), PODSYNC_OK);
        assert_eq!(podsync_store_checkpoint(out), PODSYNC_OK);
        podsync_store_free(out);

        // Checkpoints of a store without files are refused; NULL handles too.
        assert_eq!(podsync_store_checkpoint(f.writer), E);
        assert!(!msg(podsync_store_errmsg(f.writer)).is_empty());
        let mut cp = std::ptr::dangling_mut::<podsync_checkpoint>();
        assert_eq!(podsync_checkpoint_begin(f.writer, &mut cp), E);
        assert!(cp.is_null());
        assert_eq!(podsync_checkpoint_begin(null_mut(), &mut cp), E);
        assert_eq!(podsync_checkpoint_begin(f.writer, null_mut()), E);
        assert_eq!(podsync_checkpoint_step(null_mut(), 0), E);
        assert!(!podsync_checkpoint_errmsg(null()).is_null());
        podsync_checkpoint_free(null_mut());
        assert_eq!(podsync_store_checkpoint(null_mut()), E);
        assert_eq!(podsync_store_sync(null_mut()), E);

        // Promotion: refused on a writer, on a replica that follows no stream, below its term.
        assert_eq!(podsync_store_promote(null_mut(), 2), E);
        assert_eq!(podsync_store_promote(f.writer, 2), PODSYNC_E_WRONG_ROLE);
        assert_eq!(podsync_store_promote(f.replica, 2), E, "follows no stream yet");
        let fr = &f.frame;
        let st = podsync_store_apply(f.replica, fr.as_ptr().cast(), fr.len(), null_mut());
        assert_eq!(st, PODSYNC_OK);
        assert_eq!(podsync_store_promote(f.replica, 0), E, "term 0 is not above 0");
        assert_eq!(podsync_store_promote(f.replica, 3), PODSYNC_OK);
        let mut si = PODSYNC_STORE_INFO_INIT;
        assert_eq!(podsync_store_info_get(f.replica, &mut si), PODSYNC_OK);
        assert_eq!((si.role, si.term, si.state_version), (PODSYNC_ROLE_WRITER, 3, 1));
        assert_eq!(podsync_store_promote(f.replica, 4), PODSYNC_E_WRONG_ROLE, "now a writer");
    }
}

#[test]
fn change_events_follow_the_header() {
    // Header (0.7.0), "Change events (replica)": replicas only, INVALID_ARGUMENT while tracking
    // is off, UNKNOWN_TABLE, borrowed arrays (NULL allowed with a count of 0), flags_out may be
    // NULL, an apply that changed nothing leaves the lists empty.
    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;
    let f = fixture();
    let (w, r) = (f.writer, f.replica);
    let (mut up, mut up_n): (*const u64, usize) = (std::ptr::dangling(), 9);
    let (mut del, mut del_n): (*const u64, usize) = (std::ptr::dangling(), 9);
    let mut flags = 9u32;
    unsafe {
        assert_eq!(podsync_store_track_changes(null_mut(), 1), E);
        assert_eq!(podsync_store_track_changes(w, 1), PODSYNC_E_WRONG_ROLE);
        assert!(!msg(podsync_store_errmsg(w)).is_empty());
        let st = podsync_store_changes(w, 1, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags);
        assert_eq!(st, PODSYNC_E_WRONG_ROLE);
        // Off by default.
        let st = podsync_store_changes(r, 1, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags);
        assert_eq!(st, E);
        assert!(!msg(podsync_store_errmsg(r)).is_empty());
        assert_eq!(podsync_store_track_changes(r, 2), E, "enabled is 0 or 1");

        assert_eq!(podsync_store_track_changes(r, 1), PODSYNC_OK);
        let st = podsync_store_changes(r, 9, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags);
        assert_eq!(st, PODSYNC_E_UNKNOWN_TABLE);
        // The key lists' out-pointers are required; flags_out is not.
        let st =
            podsync_store_changes(r, 1, null_mut(), &mut up_n, &mut del, &mut del_n, null_mut());
        assert_eq!(st, E);
        let st = podsync_store_changes(r, 1, &mut up, &mut up_n, &mut del, null_mut(), null_mut());
        assert_eq!(st, E);
        // Nothing applied yet: empty lists, no flag.
        let st = podsync_store_changes(r, 1, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags);
        assert_eq!((st, up_n, del_n, flags), (PODSYNC_OK, 0, 0, 0));

        // The fixture's frame puts key 1.
        let st = podsync_store_apply(r, f.frame.as_ptr().cast(), f.frame.len(), null_mut());
        assert_eq!(st, PODSYNC_OK);
        let st = podsync_store_changes(r, 1, &mut up, &mut up_n, &mut del, &mut del_n, null_mut());
        assert_eq!((st, up_n, del_n), (PODSYNC_OK, 1, 0));
        assert_eq!(std::slice::from_raw_parts(up, up_n), [1]);
        let st = podsync_store_changes(r, 1, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags);
        assert_eq!((st, flags), (PODSYNC_OK, 0), "a delta: neither REPLACED nor INCOMPLETE");

        // The same frame again: DUPLICATE, and the lists are emptied.
        let st = podsync_store_apply(r, f.frame.as_ptr().cast(), f.frame.len(), null_mut());
        assert_eq!(st, PODSYNC_DUPLICATE);
        let st = podsync_store_changes(r, 1, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags);
        assert_eq!((st, up_n, del_n, flags), (PODSYNC_OK, 0, 0, 0));

        // A snapshot (RESET) replaces the state: REPLACED, every key it holds upserted.
        let mut n = 0usize;
        assert_eq!(podsync_store_snapshot(w, &mut n), PODSYNC_OK);
        let (mut data, mut size) = (null(), 0);
        assert_eq!(podsync_store_frame(w, 0, &mut data, &mut size), PODSYNC_OK);
        let snapshot = std::slice::from_raw_parts(data, size).to_vec();
        let mut replica2 = null_mut();
        assert_eq!(
            podsync_store_create(f.schema, PODSYNC_ROLE_REPLICA, null(), &mut replica2),
            PODSYNC_OK
        );
        assert_eq!(podsync_store_track_changes(replica2, 1), PODSYNC_OK);
        let st =
            podsync_store_apply(replica2, snapshot.as_ptr().cast(), snapshot.len(), null_mut());
        assert_eq!(st, PODSYNC_OK);
        let st = podsync_store_changes(
            replica2, 1, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags,
        );
        assert_eq!((st, up_n, del_n, flags), (PODSYNC_OK, 1, 0, PODSYNC_CHANGES_REPLACED));
        assert_eq!(*up, 1);
        podsync_store_free(replica2);

        // Off again: INVALID_ARGUMENT.
        assert_eq!(podsync_store_track_changes(r, 0), PODSYNC_OK);
        let st = podsync_store_changes(r, 1, &mut up, &mut up_n, &mut del, &mut del_n, &mut flags);
        assert_eq!(st, E);
    }
}

/// The outbox's frames after a call that produced `n`, copied.
unsafe fn outbox(store: *mut podsync_store, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let (mut data, mut size) = (null(), 0);
            assert_eq!(unsafe { podsync_store_frame(store, i, &mut data, &mut size) }, PODSYNC_OK);
            assert!(!data.is_null() && size > 0);
            unsafe { std::slice::from_raw_parts(data, size) }.to_vec()
        })
        .collect()
}

/// The u16 flags of a format-2 frame (docs/FORMAT.md, "Flags (version 2)").
fn v2_flags(frame: &[u8]) -> u16 {
    assert_eq!(frame[4], 2, "a format-2 frame");
    u16::from_le_bytes([frame[6], frame[7]])
}

const FLAG_REPAIR: u16 = 0x8;
const FLAG_SUMMARY: u16 = 0x10;

#[test]
fn reconciliation_follows_the_header() {
    // Header (0.7.0), "Reconciliation": any role summarizes (one message in the outbox, level 0
    // or 1 to 5), reconcile answers a summary with one message or nothing, messages and repairs
    // go through podsync_store_frame, a summary is not applied and a frame is not reconciled
    // (INVALID_ARGUMENT), a repair applies to the exact state it was computed for
    // (PODSYNC_E_REPAIR_STALE otherwise, nothing changed).
    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;
    let f = fixture();
    let (w, r) = (f.writer, f.replica);
    let mut n = 9usize;
    unsafe {
        assert_eq!(podsync_store_summary(null_mut(), 0, &mut n), E);
        assert_eq!(podsync_store_summary(r, 0, null_mut()), E);
        assert_eq!(podsync_store_summary(r, 6, &mut n), E, "levels are 0 to 5");
        assert!(!msg(podsync_store_errmsg(r)).is_empty());
        let mut digest = 0u64;
        assert_eq!(podsync_store_digest(r, &mut digest), PODSYNC_OK);
        assert_eq!(digest, 0, "an empty replica");

        // Both roles summarize: one format-2 SUMMARY message each.
        for (store, level) in [(w, 1), (r, 0), (r, 5)] {
            n = 9;
            assert_eq!(podsync_store_summary(store, level, &mut n), PODSYNC_OK);
            assert_eq!(n, 1);
            let m = outbox(store, 1);
            assert_eq!(v2_flags(&m[0]) & (FLAG_SUMMARY | FLAG_REPAIR), FLAG_SUMMARY);
            assert_eq!(m[0].len() % 8, 0);
        }
        // Level 5: 16^5 hashes of 8 bytes.
        assert!(outbox(r, 1)[0].len() > 8 << 20);
        assert_eq!(podsync_store_summary(r, 1, &mut n), PODSYNC_OK);
        let summary = outbox(r, 1).remove(0);

        // The arguments of reconcile.
        assert_eq!(
            podsync_store_reconcile(null_mut(), summary.as_ptr().cast(), summary.len(), &mut n),
            E
        );
        assert_eq!(podsync_store_reconcile(w, null(), summary.len(), &mut n), E);
        assert_eq!(
            podsync_store_reconcile(w, summary.as_ptr().cast(), summary.len(), null_mut()),
            E
        );
        // A frame is applied, not reconciled; a summary is reconciled, not applied.
        let fr = &f.frame;
        assert_eq!(podsync_store_reconcile(w, fr.as_ptr().cast(), fr.len(), &mut n), E);
        assert!(!msg(podsync_store_errmsg(w)).is_empty());
        let mut version = 9u64;
        let st = podsync_store_apply(r, summary.as_ptr().cast(), summary.len(), &mut version);
        assert_eq!(st, E);
        assert_eq!(podsync_store_digest(r, &mut digest), PODSYNC_OK);
        assert_eq!(digest, 0, "nothing applied");
        // A truncated message is refused as a frame would be.
        let st = podsync_store_reconcile(w, summary.as_ptr().cast(), summary.len() - 8, &mut n);
        assert_eq!(st, PODSYNC_E_FRAME_TRUNCATED);

        // The writer (one record at version 1) answers the empty replica: a repair this small.
        n = 9;
        assert_eq!(
            podsync_store_reconcile(w, summary.as_ptr().cast(), summary.len(), &mut n),
            PODSYNC_OK
        );
        assert_eq!(n, 1);
        let repair = outbox(w, 1).remove(0);
        assert_eq!(v2_flags(&repair) & (FLAG_SUMMARY | FLAG_REPAIR), FLAG_REPAIR);
        let mut info = PODSYNC_FRAME_INFO_INIT;
        assert_eq!(
            podsync_frame_validate(repair.as_ptr().cast(), repair.len(), &mut info),
            PODSYNC_OK
        );
        assert_eq!((info.format_version, info.state_version), (2, 1));

        // A replica that changed since its summary refuses it: REPAIR_STALE, nothing changed.
        let other = fixture(); // another stream, one record: key 1
        let st = podsync_store_apply(r, other.frame.as_ptr().cast(), other.frame.len(), null_mut());
        assert_eq!(st, PODSYNC_OK);
        let mut before = PODSYNC_STORE_INFO_INIT;
        assert_eq!(podsync_store_info_get(r, &mut before), PODSYNC_OK);
        let st = podsync_store_apply(r, repair.as_ptr().cast(), repair.len(), &mut version);
        assert_eq!(st, PODSYNC_E_REPAIR_STALE);
        assert!(!msg(podsync_store_errmsg(r)).is_empty());
        let mut after = PODSYNC_STORE_INFO_INIT;
        assert_eq!(podsync_store_info_get(r, &mut after), PODSYNC_OK);
        assert_eq!(
            (after.digest, after.stream_id, after.state_version),
            (before.digest, before.stream_id, before.state_version)
        );

        // A fresh exchange: the replica is repaired to the writer's stream, version and digest.
        assert_eq!(podsync_store_summary(r, 0, &mut n), PODSYNC_OK);
        let mut message = outbox(r, 1).remove(0);
        let mut repaired = false;
        for _ in 0..16 {
            assert_eq!(
                podsync_store_reconcile(w, message.as_ptr().cast(), message.len(), &mut n),
                PODSYNC_OK
            );
            assert_eq!(n, 1, "the states differ: an answer");
            let answer = outbox(w, 1).remove(0);
            if v2_flags(&answer) & FLAG_REPAIR != 0 {
                let st = podsync_store_apply(r, answer.as_ptr().cast(), answer.len(), &mut version);
                assert_eq!((st, version), (PODSYNC_OK, 1));
                repaired = true;
                break;
            }
            assert_eq!(
                podsync_store_reconcile(r, answer.as_ptr().cast(), answer.len(), &mut n),
                PODSYNC_OK
            );
            assert_eq!(n, 1);
            message = outbox(r, 1).remove(0);
        }
        assert!(repaired);
        let (mut wi, mut ri) = (PODSYNC_STORE_INFO_INIT, PODSYNC_STORE_INFO_INIT);
        assert_eq!(podsync_store_info_get(w, &mut wi), PODSYNC_OK);
        assert_eq!(podsync_store_info_get(r, &mut ri), PODSYNC_OK);
        assert_eq!(
            (ri.digest, ri.stream_id, ri.state_version),
            (wi.digest, wi.stream_id, wi.state_version)
        );

        // In sync: nothing to repair, an empty outbox.
        assert_eq!(podsync_store_summary(r, 0, &mut n), PODSYNC_OK);
        let summary = outbox(r, 1).remove(0);
        n = 9;
        assert_eq!(
            podsync_store_reconcile(w, summary.as_ptr().cast(), summary.len(), &mut n),
            PODSYNC_OK
        );
        assert_eq!(n, 0);
        let (mut data, mut size) = (null(), 0);
        assert_eq!(podsync_store_frame(w, 0, &mut data, &mut size), E, "no frame 0");
    }
}

/// A subscription of table 1 with these ranges (none: every key), without shards.
fn subscription_of(table: &podsync_subscription_table) -> podsync_subscription {
    podsync_subscription {
        version: PODSYNC_SUBSCRIPTION_VERSION,
        shard_bits: 0,
        shard_count: 0,
        table_count: 1,
        shards: null(),
        tables: table,
    }
}

/// `podsync_subscription_encode` into a buffer of the size it reports: the bytes and the hash.
unsafe fn encoded(sub: &podsync_subscription) -> (Vec<u8>, u64) {
    let mut size = 0usize;
    let st = unsafe { podsync_subscription_encode(sub, null_mut(), 0, &mut size, null_mut()) };
    assert_eq!(st, PODSYNC_E_BUFFER_TOO_SMALL, "{}", msg(podsync_last_errmsg()));
    let mut buf = vec![0u8; size];
    let mut hash = 0u64;
    let st = unsafe {
        podsync_subscription_encode(sub, buf.as_mut_ptr().cast(), size, &mut size, &mut hash)
    };
    assert_eq!((st, size), (PODSYNC_OK, buf.len()));
    (buf, hash)
}

/// `podsync_store_subscription`: the status, the bytes (copied) and the hash.
unsafe fn subscription_held(store: *const podsync_store) -> (i32, Option<Vec<u8>>, u64) {
    let (mut data, mut size, mut hash) = (std::ptr::dangling::<u8>(), 9usize, 0u64);
    let st = unsafe { podsync_store_subscription(store, &mut data, &mut size, &mut hash) };
    let bytes =
        (!data.is_null()).then(|| unsafe { std::slice::from_raw_parts(data, size) }.to_vec());
    if data.is_null() {
        assert_eq!(size, 0, "NULL data with size 0");
    }
    (st, bytes, hash)
}

#[test]
fn subscriptions_follow_the_header() {
    // Header (0.8.0), "Subscriptions: selective sync": the encoder's arguments and rules
    // (BUFFER_TOO_SMALL reports the size and writes nothing, hash_out may be NULL), subscribe on
    // empty replicas only and once, feeds on writers and replicas of the whole stream (relays),
    // not on feeds or subscribed replicas (the same pointer for the same subscription, a new
    // reference each time, no writes on a feed), podsync_store_subscription
    // (NOT_FOUND with NULL and 0 for the whole stream), and PODSYNC_E_NOT_SUBSCRIBED with nothing
    // changed for a frame of another subset.
    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;
    let f = fixture(); // the writer holds key 1 at version 1
    let (w, r) = (f.writer, f.replica);
    let low = [podsync_key_range { lo: 0, hi: 99 }];
    let table = podsync_subscription_table { table_id: 1, range_count: 1, ranges: low.as_ptr() };
    let sub = subscription_of(&table);
    unsafe {
        // The encoder's arguments: subscription and size_out are required.
        let (mut size, mut hash) = (0usize, 0u64);
        assert_eq!(podsync_subscription_encode(null(), null_mut(), 0, &mut size, null_mut()), E);
        assert_eq!(podsync_subscription_encode(&sub, null_mut(), 0, null_mut(), null_mut()), E);
        assert!(!msg(podsync_last_errmsg()).is_empty());
        let (bytes, sub_hash) = encoded(&sub);
        assert_ne!(sub_hash, 0);
        // Too small a buffer: the size, and nothing written (neither bytes nor hash).
        let mut buf = vec![0xAAu8; bytes.len() + 8];
        let st = podsync_subscription_encode(
            &sub,
            buf.as_mut_ptr().cast(),
            bytes.len() - 1,
            &mut size,
            &mut hash,
        );
        assert_eq!((st, size, hash), (PODSYNC_E_BUFFER_TOO_SMALL, bytes.len(), 0));
        assert!(buf.iter().all(|&b| b == 0xAA));
        // A larger buffer: the same bytes, nothing past them; hash_out may be NULL.
        let st = podsync_subscription_encode(
            &sub,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut size,
            null_mut(),
        );
        assert_eq!((st, size), (PODSYNC_OK, bytes.len()));
        assert_eq!(&buf[..size], &bytes[..]);
        assert!(buf[size..].iter().all(|&b| b == 0xAA));

        // The rules of podsync_subscription, each refused by the encoder.
        let inverted = [podsync_key_range { lo: 5, hi: 4 }];
        let adjacent = [podsync_key_range { lo: 0, hi: 9 }, podsync_key_range { lo: 10, hi: 20 }];
        let t = |ranges: &[podsync_key_range]| podsync_subscription_table {
            table_id: 1,
            range_count: ranges.len() as u32,
            ranges: ranges.as_ptr(),
        };
        let (t_inverted, t_adjacent) = (t(&inverted), t(&adjacent));
        let unsorted = [
            podsync_subscription_table { table_id: 2, range_count: 0, ranges: null() },
            podsync_subscription_table { table_id: 1, range_count: 0, ranges: null() },
        ];
        let shard = [4u32];
        let mut cases: Vec<(&str, podsync_subscription)> = vec![
            ("inverted range", subscription_of(&t_inverted)),
            ("adjacent ranges", subscription_of(&t_adjacent)),
            (
                "unsorted tables",
                podsync_subscription { table_count: 2, tables: unsorted.as_ptr(), ..sub },
            ),
            ("no table", podsync_subscription { table_count: 0, tables: null(), ..sub }),
            ("NULL tables", podsync_subscription { tables: null(), ..sub }),
            ("struct version 2", podsync_subscription { version: 2, ..sub }),
            ("shard_bits 17", podsync_subscription { shard_bits: 17, ..sub }),
        ];
        cases.push((
            "shard 4 of 2 bits",
            podsync_subscription { shard_bits: 2, shard_count: 1, shards: shard.as_ptr(), ..sub },
        ));
        cases.push((
            "shards without shard_bits",
            podsync_subscription { shard_count: 1, shards: shard.as_ptr(), ..sub },
        ));
        for (what, bad) in &cases {
            size = 7;
            let st = podsync_subscription_encode(
                bad,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut size,
                null_mut(),
            );
            assert_eq!(st, E, "{what}");
            assert!(!msg(podsync_last_errmsg()).is_empty(), "{what}");
        }

        // podsync_store_subscription: the whole stream is NOT_FOUND, NULL and 0; out-pointers
        // data_out and size_out are required.
        assert_eq!(subscription_held(w), (PODSYNC_NOT_FOUND, None, 0));
        assert_eq!(subscription_held(r), (PODSYNC_NOT_FOUND, None, 0));
        let mut data: *const u8 = null();
        assert_eq!(podsync_store_subscription(w, null_mut(), &mut size, null_mut()), E);
        assert_eq!(podsync_store_subscription(w, &mut data, null_mut(), null_mut()), E);
        assert_eq!(podsync_store_subscription(null(), &mut data, &mut size, null_mut()), E);

        // Feeds: of writers and relays, of tables the schema has.
        let data = bytes.as_ptr().cast::<c_void>();
        let mut feed: *mut podsync_store = std::ptr::dangling_mut();
        assert_eq!(podsync_store_feed(w, data, bytes.len(), null_mut()), E);
        assert_eq!(podsync_store_feed(w, null(), bytes.len(), &mut feed), E);
        assert_eq!(podsync_store_feed(w, data, bytes.len() - 1, &mut feed), E, "truncated");
        let t9 = podsync_subscription_table { table_id: 9, range_count: 0, ranges: null() };
        let (unknown, _) = encoded(&subscription_of(&t9));
        let st = podsync_store_feed(w, unknown.as_ptr().cast(), unknown.len(), &mut feed);
        assert_eq!(st, E, "table 9 is not in the schema");
        assert!(feed.is_null());
        assert!(!msg(podsync_store_errmsg(w)).is_empty());

        // The same subscription, the same feed: two references.
        let mut feed2 = null_mut();
        assert_eq!(podsync_store_feed(w, data, bytes.len(), &mut feed), PODSYNC_OK);
        assert_eq!(podsync_store_feed(w, data, bytes.len(), &mut feed2), PODSYNC_OK);
        assert!(!feed.is_null());
        assert_eq!(feed, feed2);
        let (st, held, h) = subscription_held(feed);
        assert_eq!((st, held.as_deref(), h), (PODSYNC_OK, Some(&bytes[..]), sub_hash));
        let mut info = PODSYNC_STORE_INFO_INIT;
        assert_eq!(podsync_store_info_get(feed, &mut info), PODSYNC_OK);
        assert_eq!(
            (info.role, info.state_version),
            (PODSYNC_ROLE_WRITER, 1),
            "the writer's version"
        );
        // A feed takes no writes, serves no feeds and subscribes to nothing.
        let rec = [1u8; 16];
        assert_eq!(podsync_store_put(feed, 1, 2, rec.as_ptr().cast(), 16), PODSYNC_E_WRONG_ROLE);
        assert_eq!(podsync_store_delete(feed, 1, 1), PODSYNC_E_WRONG_ROLE);
        let mut nested = null_mut();
        assert_eq!(podsync_store_feed(feed, data, bytes.len(), &mut nested), PODSYNC_E_WRONG_ROLE);
        assert_eq!(podsync_store_subscribe(feed, data, bytes.len()), PODSYNC_E_WRONG_ROLE);
        // Subscribing is for replicas.
        assert_eq!(podsync_store_subscribe(w, data, bytes.len()), PODSYNC_E_WRONG_ROLE);

        // The feed's snapshot: format 2, for subscribers of this subscription only.
        let mut n = 0usize;
        assert_eq!(podsync_store_snapshot(feed, &mut n), PODSYNC_OK);
        let snapshot = outbox(feed, n).remove(0);
        assert_eq!(snapshot[4], 2, "a format-2 frame");
        let mut version = 9u64;
        let st = podsync_store_apply(r, snapshot.as_ptr().cast(), snapshot.len(), &mut version);
        assert_eq!((st, version), (PODSYNC_E_NOT_SUBSCRIBED, 0), "a replica of the whole stream");
        assert!(!msg(podsync_store_errmsg(r)).is_empty());
        assert_eq!(subscription_held(r).0, PODSYNC_NOT_FOUND, "nothing changed");

        // Subscribing: NULL data, bad bytes and unknown tables refused; then once.
        assert_eq!(podsync_store_subscribe(null_mut(), data, bytes.len()), E);
        assert_eq!(podsync_store_subscribe(r, null(), bytes.len()), E);
        assert_eq!(podsync_store_subscribe(r, data, bytes.len() - 1), E);
        assert_eq!(podsync_store_subscribe(r, unknown.as_ptr().cast(), unknown.len()), E);
        assert_eq!(podsync_store_subscribe(r, data, bytes.len()), PODSYNC_OK);
        let (st, held, h) = subscription_held(r);
        assert_eq!((st, held.as_deref(), h), (PODSYNC_OK, Some(&bytes[..]), sub_hash));
        assert_eq!(podsync_store_subscribe(r, data, bytes.len()), E, "once");
        // A subscribed replica serves no feeds.
        let mut refused: *mut podsync_store = std::ptr::dangling_mut();
        assert_eq!(podsync_store_feed(r, data, bytes.len(), &mut refused), PODSYNC_E_WRONG_ROLE);
        assert!(refused.is_null(), "*feed_out is NULL on failure");
        // A whole-stream frame is NOT_SUBSCRIBED; the feed's snapshot applies.
        let fr = &f.frame;
        let st = podsync_store_apply(r, fr.as_ptr().cast(), fr.len(), &mut version);
        assert_eq!((st, version), (PODSYNC_E_NOT_SUBSCRIBED, 0));
        let st = podsync_store_apply(r, snapshot.as_ptr().cast(), snapshot.len(), &mut version);
        assert_eq!((st, version), (PODSYNC_OK, 1));
        let (mut dr, mut df) = (0u64, 0u64);
        assert_eq!(podsync_store_digest(r, &mut dr), PODSYNC_OK);
        assert_eq!(podsync_store_digest(feed, &mut df), PODSYNC_OK);
        assert_eq!(dr, df);

        // A replica that holds state may not subscribe.
        let mut late = null_mut();
        assert_eq!(
            podsync_store_create(f.schema, PODSYNC_ROLE_REPLICA, null(), &mut late),
            PODSYNC_OK
        );
        assert_eq!(podsync_store_apply(late, fr.as_ptr().cast(), fr.len(), null_mut()), PODSYNC_OK);
        assert_eq!(podsync_store_subscribe(late, data, bytes.len()), E);
        assert_eq!(subscription_held(late).0, PODSYNC_NOT_FOUND);
        // It serves feeds instead (a relay): the same feed for the same subscription, at its
        // version, with the subset's digest.
        let (mut relayed, mut relayed2) = (null_mut(), null_mut());
        assert_eq!(podsync_store_feed(late, data, bytes.len(), &mut relayed), PODSYNC_OK);
        assert_eq!(podsync_store_feed(late, data, bytes.len(), &mut relayed2), PODSYNC_OK);
        assert!(!relayed.is_null());
        assert_eq!(relayed, relayed2);
        let (st, held, h) = subscription_held(relayed);
        assert_eq!((st, held.as_deref(), h), (PODSYNC_OK, Some(&bytes[..]), sub_hash));
        assert_eq!(podsync_store_info_get(relayed, &mut info), PODSYNC_OK);
        assert_eq!((info.role, info.state_version), (PODSYNC_ROLE_WRITER, 1));
        let mut dl = 0u64;
        assert_eq!(podsync_store_digest(relayed, &mut dl), PODSYNC_OK);
        assert_eq!(dl, df, "the relay's feed is the writer's");
        podsync_store_free(relayed2);
        podsync_store_free(relayed);
        podsync_store_free(late);

        // One reference released: the feed still follows the writer. Key 2 is in its range,
        // key 500 is not: one frame of one put.
        podsync_store_free(feed2);
        assert_eq!(podsync_store_put(w, 1, 2, rec.as_ptr().cast(), 16), PODSYNC_OK);
        assert_eq!(podsync_store_put(w, 1, 500, rec.as_ptr().cast(), 16), PODSYNC_OK);
        assert_eq!(podsync_store_flush(w, &mut n), PODSYNC_OK);
        assert_eq!(podsync_store_flush_due(feed), PODSYNC_FLUSH_DUE);
        assert_eq!(podsync_store_flush(feed, &mut n), PODSYNC_OK);
        assert_eq!(n, 1);
        let delta = outbox(feed, 1).remove(0);
        let st = podsync_store_apply(r, delta.as_ptr().cast(), delta.len(), &mut version);
        assert_eq!((st, version), (PODSYNC_OK, 2));
        let mut count = 0usize;
        assert_eq!(podsync_store_count(r, 1, &mut count), PODSYNC_OK);
        assert_eq!(count, 2, "keys 1 and 2");
        assert_eq!(podsync_store_flush(feed, &mut n), PODSYNC_OK);
        assert_eq!(n, 0, "nothing new in the subset");
        podsync_store_free(feed);
    }
}

/// The carrier's C contract (include/podsync_nats.h), without a server: what is checked before
/// connecting, and the conventions of podsync.h it follows (NULL arguments, `*out` NULL on
/// failure, options versions, `podsync_nats_last_errmsg`, `*_free(NULL)`). The calls against a
/// real nats-server are in the podsync crate's tests/nats.rs.
#[cfg(feature = "nats")]
mod nats {
    use std::ffi::CString;
    use std::ptr::{dangling_mut, null, null_mut};

    use super::{fixture, msg};
    use podsync_sys::*;

    const E: i32 = PODSYNC_E_INVALID_ARGUMENT;

    /// A URL where nothing listens (a port the kernel just gave out and took back).
    fn nobody() -> CString {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        CString::new(format!("nats://127.0.0.1:{port}")).unwrap()
    }

    fn last() -> String {
        msg(podsync_nats_last_errmsg())
    }

    #[test]
    fn null_where_a_value_is_required_is_invalid_argument() {
        let f = fixture();
        let url = nobody();
        let name = c"contract";
        unsafe {
            assert_eq!(podsync_nats_options_init(null_mut(), PODSYNC_NATS_OPTIONS_VERSION), E);
            assert!(!last().is_empty());

            let st = podsync_nats_publisher_create(
                f.writer,
                url.as_ptr(),
                name.as_ptr(),
                null(),
                null_mut(),
            );
            assert_eq!(st, E, "publisher_create(NULL out)");
            for (what, store, u, n) in [
                ("NULL store", null_mut(), url.as_ptr(), name.as_ptr()),
                ("NULL url", f.writer, null(), name.as_ptr()),
                ("NULL stream_name", f.writer, url.as_ptr(), null()),
            ] {
                let mut p = dangling_mut::<podsync_nats_publisher>();
                assert_eq!(podsync_nats_publisher_create(store, u, n, null(), &mut p), E, "{what}");
                assert!(p.is_null(), "publisher_create({what}): *out is NULL on failure");
                assert!(!last().is_empty(), "{what}: a message");
            }
            assert!(last().contains("stream_name"), "{}", last());

            let st = podsync_nats_follower_create(
                f.replica,
                url.as_ptr(),
                name.as_ptr(),
                null(),
                null_mut(),
            );
            assert_eq!(st, E, "follower_create(NULL out)");
            for (what, store, u, n) in [
                ("NULL store", null_mut(), url.as_ptr(), name.as_ptr()),
                ("NULL url", f.replica, null(), name.as_ptr()),
                ("NULL stream_name", f.replica, url.as_ptr(), null()),
            ] {
                let mut fo = dangling_mut::<podsync_nats_follower>();
                assert_eq!(podsync_nats_follower_create(store, u, n, null(), &mut fo), E, "{what}");
                assert!(fo.is_null(), "follower_create({what}): *out is NULL on failure");
            }

            let mut n = 7usize;
            assert_eq!(podsync_nats_publisher_flush(null_mut(), &mut n), E);
            assert_eq!(n, 0, "published_out is written even on failure");
            assert_eq!(podsync_nats_publisher_flush(null_mut(), null_mut()), E);
            assert_eq!(podsync_nats_publisher_snapshot(null_mut()), E);
            let mut ps = PODSYNC_NATS_PUBLISHER_STATS_INIT;
            assert_eq!(podsync_nats_publisher_stats_get(null(), &mut ps), E);
            n = 7;
            assert_eq!(podsync_nats_follower_poll(null_mut(), 0, &mut n), E);
            assert_eq!(n, 0, "applied_out is written even on failure");
            let mut fs = PODSYNC_NATS_FOLLOWER_STATS_INIT;
            assert_eq!(podsync_nats_follower_stats_get(null(), &mut fs), E);
            let st = podsync_nats_follower_relay(null_mut(), url.as_ptr(), name.as_ptr(), null());
            assert_eq!(st, E, "follower_relay(NULL follower)");
            assert_eq!(podsync_nats_follower_relay_stats(null(), &mut ps), E);
            // *_free accept NULL.
            podsync_nats_publisher_free(null_mut());
            podsync_nats_follower_free(null_mut());
        }
    }

    #[test]
    fn options_are_validated_before_connecting() {
        let f = fixture();
        let url = nobody();
        let name = c"contract";
        unsafe {
            let mut o = PODSYNC_NATS_OPTIONS_INIT;
            for version in [0, 2, 99] {
                assert_eq!(
                    podsync_nats_options_init(&mut o, version),
                    E,
                    "options_init({version})"
                );
            }
            let long_name = CString::new("n".repeat(5000)).unwrap();
            let cases: Vec<(&str, podsync_nats_options)> = vec![
                ("version 0", podsync_nats_options { version: 0, ..PODSYNC_NATS_OPTIONS_INIT }),
                ("version 2", podsync_nats_options { version: 2, ..PODSYNC_NATS_OPTIONS_INIT }),
                ("storage 2", podsync_nats_options { storage: 2, ..PODSYNC_NATS_OPTIONS_INIT }),
                ("replicas 6", podsync_nats_options { replicas: 6, ..PODSYNC_NATS_OPTIONS_INIT }),
                (
                    "max_reconnects -2",
                    podsync_nats_options { max_reconnects: -2, ..PODSYNC_NATS_OPTIONS_INIT },
                ),
                (
                    "timeout_ms 0",
                    podsync_nats_options { timeout_ms: 0, ..PODSYNC_NATS_OPTIONS_INIT },
                ),
                (
                    "client_name of 5000 bytes",
                    podsync_nats_options {
                        client_name: long_name.as_ptr(),
                        ..PODSYNC_NATS_OPTIONS_INIT
                    },
                ),
            ];
            for (what, o) in &cases {
                let mut p = dangling_mut();
                let st =
                    podsync_nats_publisher_create(f.writer, url.as_ptr(), name.as_ptr(), o, &mut p);
                assert_eq!(st, E, "publisher, options {what}: {}", last());
                assert!(p.is_null());
                let mut fo = dangling_mut();
                let st = podsync_nats_follower_create(
                    f.replica,
                    url.as_ptr(),
                    name.as_ptr(),
                    o,
                    &mut fo,
                );
                assert_eq!(st, E, "follower, options {what}: {}", last());
                assert!(fo.is_null());
            }
            // Valid options (and NULL for the defaults) get as far as connecting.
            let named =
                podsync_nats_options { client_name: c"c".as_ptr(), ..PODSYNC_NATS_OPTIONS_INIT };
            for o in [null(), &PODSYNC_NATS_OPTIONS_INIT as *const _, &named] {
                let mut p = dangling_mut();
                let st =
                    podsync_nats_publisher_create(f.writer, url.as_ptr(), name.as_ptr(), o, &mut p);
                assert_eq!(st, PODSYNC_NATS_E_CONNECTION, "{}", last());
                assert!(p.is_null());
            }
        }
    }

    #[test]
    fn roles_and_stream_names_are_checked_before_connecting() {
        let f = fixture();
        let url = nobody();
        unsafe {
            for bad in [c"", c"a b", c"a.b", c"a*", c"a>"] {
                let mut p = dangling_mut();
                let st = podsync_nats_publisher_create(
                    f.writer,
                    url.as_ptr(),
                    bad.as_ptr(),
                    null(),
                    &mut p,
                );
                assert_eq!(st, E, "{bad:?}");
                assert!(p.is_null());
                assert!(last().contains("stream_name"), "{}", last());
            }
            let long = CString::new("x".repeat(65)).unwrap();
            let mut p = dangling_mut();
            let st = podsync_nats_publisher_create(
                f.writer,
                url.as_ptr(),
                long.as_ptr(),
                null(),
                &mut p,
            );
            assert_eq!(st, E, "65 characters");

            // A replica given to a publisher, a writer to a follower.
            let mut p = dangling_mut();
            let st = podsync_nats_publisher_create(
                f.replica,
                url.as_ptr(),
                c"s".as_ptr(),
                null(),
                &mut p,
            );
            assert_eq!(st, PODSYNC_E_WRONG_ROLE, "{}", last());
            assert!(p.is_null());
            assert!(last().contains("writer"), "{}", last());
            let mut fo = dangling_mut();
            let st = podsync_nats_follower_create(
                f.writer,
                url.as_ptr(),
                c"s".as_ptr(),
                null(),
                &mut fo,
            );
            assert_eq!(st, PODSYNC_E_WRONG_ROLE, "{}", last());
            assert!(fo.is_null());
            assert!(last().contains("replica"), "{}", last());

            // Everything valid: the connection fails, saying where.
            let longest = CString::new("x".repeat(64)).unwrap();
            let mut fo = dangling_mut();
            let st = podsync_nats_follower_create(
                f.replica,
                url.as_ptr(),
                longest.as_ptr(),
                null(),
                &mut fo,
            );
            assert_eq!(st, PODSYNC_NATS_E_CONNECTION, "{}", last());
            assert!(fo.is_null());
            assert!(last().contains(url.to_str().unwrap()), "{}", last());
        }
    }

    #[test]
    fn last_errmsg_is_per_thread_and_empty_before_any_error() {
        let empty = std::thread::spawn(|| msg(podsync_nats_last_errmsg())).join().unwrap();
        assert_eq!(empty, "");
        let (mine, other) = std::thread::spawn(|| {
            let mut o = PODSYNC_NATS_OPTIONS_INIT;
            assert_eq!(unsafe { podsync_nats_options_init(&mut o, 0) }, E);
            let other = std::thread::spawn(|| msg(podsync_nats_last_errmsg())).join().unwrap();
            (msg(podsync_nats_last_errmsg()), other)
        })
        .join()
        .unwrap();
        assert!(!mine.is_empty());
        assert_eq!(other, "", "another thread's error is not this thread's");
    }
}
