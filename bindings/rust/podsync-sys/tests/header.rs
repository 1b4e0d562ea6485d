//! Checks the hand-written declarations of src/lib.rs against include/podsync.h, textually:
//! the same functions with the same parameter names and types (C types translated one to one),
//! and every integer `#define PODSYNC_*` with the same value. A change to the header that the
//! binding does not follow fails here, not at run time. The fields of the subscription structs
//! (since library 0.8.0) are compared too. With the feature `nats`, the same for src/nats.rs
//! against include/podsync_nats.h, and the fields of its structs too.

use std::collections::BTreeMap;
use std::path::PathBuf;

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn header() -> String {
    read("../../../include/podsync.h")
}

fn rust_source() -> String {
    read("src/lib.rs")
}

#[cfg(feature = "nats")]
fn nats_header() -> String {
    read("../../../include/podsync_nats.h")
}

#[cfg(feature = "nats")]
fn nats_rust_source() -> String {
    read("src/nats.rs")
}

/// Removes /* */ and // comments.
fn strip_c_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'*' {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
            out.push(' ');
        } else if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'/' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A C type ("const uint8_t **") as the Rust type the binding must use, without spaces
/// ("*mut*constu8").
fn c_type_to_rust(c: &str) -> String {
    let c = c.trim();
    let stars = c.matches('*').count();
    let base = c.replace('*', " ");
    let mut words: Vec<&str> = base.split_whitespace().collect();
    let is_const = words.first() == Some(&"const");
    if is_const {
        words.remove(0);
    }
    assert_eq!(words.len(), 1, "unexpected C type {c:?}");
    let base = match words[0] {
        "void" if stars == 0 => return String::new(),
        "void" => "c_void",
        "char" => "c_char",
        "uint8_t" => "u8",
        "uint32_t" => "u32",
        "uint64_t" => "u64",
        "int32_t" => "i32",
        "size_t" => "usize",
        other if other.starts_with("podsync_") => other,
        other => panic!("unmapped C type {other:?} in {c:?}"),
    };
    let mut t = base.to_string();
    for level in 0..stars {
        // `const` qualifies the pointee of the innermost pointer.
        let q = if level == 0 && is_const { "*const" } else { "*mut" };
        t = format!("{q}{t}");
    }
    t
}

#[derive(Debug, PartialEq)]
struct Sig {
    params: Vec<(String, String)>,
    ret: String,
}

fn header_functions() -> BTreeMap<String, Sig> {
    header_functions_of(&header())
}

fn header_functions_of(header: &str) -> BTreeMap<String, Sig> {
    let text = strip_c_comments(header);
    let text: String =
        text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let mut out = BTreeMap::new();
    for chunk in text.split("PODSYNC_API").skip(1) {
        let decl = squash(&chunk[..chunk.find(';').expect("declaration ends with ;")]);
        let open = decl.find('(').unwrap();
        let close = decl.rfind(')').unwrap();
        let head = decl[..open].trim();
        let (ret, name) = match head.rfind([' ', '*']) {
            Some(i) => (&head[..=i], head[i + 1..].trim()),
            None => panic!("cannot parse {decl:?}"),
        };
        let params_text = decl[open + 1..close].trim();
        let mut params = Vec::new();
        if params_text != "void" {
            for p in params_text.split(',') {
                let p = p.trim();
                let i = p.rfind([' ', '*']).unwrap();
                params.push((p[i + 1..].to_string(), c_type_to_rust(&p[..=i])));
            }
        }
        out.insert(name.to_string(), Sig { params, ret: c_type_to_rust(ret) });
    }
    out
}

fn rust_functions() -> BTreeMap<String, Sig> {
    rust_functions_of(&rust_source())
}

fn rust_functions_of(src: &str) -> BTreeMap<String, Sig> {
    let start = src.find("unsafe extern \"C\" {").expect("extern block");
    let block = &src[start..];
    let block = &block[..block.find("\n}").unwrap()];
    let block = strip_c_comments(block);
    let mut out = BTreeMap::new();
    for chunk in block.split("pub ").skip(1) {
        let decl = squash(&chunk[..chunk.find(';').unwrap()]);
        let decl = decl.strip_prefix("safe ").unwrap_or(&decl);
        let decl = decl.strip_prefix("fn ").expect("fn");
        let open = decl.find('(').unwrap();
        let close = decl.rfind(')').unwrap();
        let name = decl[..open].trim().to_string();
        let mut params = Vec::new();
        for p in decl[open + 1..close].split(',') {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (n, t) = p.split_once(':').unwrap();
            params.push((n.trim().to_string(), t.replace(' ', "")));
        }
        let ret = decl[close + 1..].trim().strip_prefix("->").unwrap_or("").replace(' ', "");
        out.insert(name, Sig { params, ret });
    }
    out
}

#[test]
fn every_header_function_is_declared_with_the_same_signature() {
    let c = header_functions();
    let r = rust_functions();
    assert!(c.len() >= 59, "parsed only {} functions from the header", c.len());
    let missing: Vec<_> = c.keys().filter(|k| !r.contains_key(*k)).collect();
    let extra: Vec<_> = r.keys().filter(|k| !c.contains_key(*k)).collect();
    assert!(missing.is_empty(), "declared in podsync.h but not in podsync-sys: {missing:?}");
    assert!(extra.is_empty(), "declared in podsync-sys but not in podsync.h: {extra:?}");
    for (name, sig) in &c {
        assert_eq!(&r[name], sig, "signature of {name}");
    }
}

#[test]
fn change_events_are_declared_as_the_header_says() {
    // Since library 0.7.0: podsync_store_track_changes, podsync_store_changes and the
    // PODSYNC_CHANGES_* flags (the generic checks above cover them too; this pins them by name,
    // so a parser that missed them could not pass unnoticed).
    let c = header_functions();
    let r = rust_functions();
    let sig = |params: &[(&str, &str)]| Sig {
        params: params.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        ret: "i32".to_string(),
    };
    let track = sig(&[("store", "*mutpodsync_store"), ("enabled", "u32")]);
    let changes = sig(&[
        ("store", "*constpodsync_store"),
        ("table_id", "u32"),
        ("upserted_out", "*mut*constu64"),
        ("upserted_count_out", "*mutusize"),
        ("deleted_out", "*mut*constu64"),
        ("deleted_count_out", "*mutusize"),
        ("flags_out", "*mutu32"),
    ]);
    for (name, expected) in
        [("podsync_store_track_changes", track), ("podsync_store_changes", changes)]
    {
        assert_eq!(c.get(name), Some(&expected), "{name} in podsync.h");
        assert_eq!(r.get(name), Some(&expected), "{name} in podsync-sys");
    }
    let header = strip_c_comments(&header());
    let consts = rust_integer_consts(&rust_source());
    for (name, value) in [("PODSYNC_CHANGES_REPLACED", 1), ("PODSYNC_CHANGES_INCOMPLETE", 2)] {
        assert!(header.contains(&format!("#define {name} ")), "{name} in podsync.h");
        assert_eq!(consts.get(name), Some(&value), "{name} in podsync-sys");
    }
    assert_eq!(podsync_sys::PODSYNC_CHANGES_REPLACED, 0x1);
    assert_eq!(podsync_sys::PODSYNC_CHANGES_INCOMPLETE, 0x2);
    // Both files say since when.
    assert!(self::header().contains("Change events (replica; since library 0.7.0)"));
    assert!(rust_source().contains("// Change events (replica; since library 0.7.0)"));
}

#[test]
fn reconciliation_is_declared_as_the_header_says() {
    // Since library 0.7.0: podsync_store_summary, podsync_store_reconcile and
    // PODSYNC_E_REPAIR_STALE (pinned by name, as the change events above).
    let c = header_functions();
    let r = rust_functions();
    let sig = |params: &[(&str, &str)]| Sig {
        params: params.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        ret: "i32".to_string(),
    };
    let summary =
        sig(&[("store", "*mutpodsync_store"), ("level", "u32"), ("frame_count_out", "*mutusize")]);
    let reconcile = sig(&[
        ("store", "*mutpodsync_store"),
        ("message", "*constc_void"),
        ("size", "usize"),
        ("frame_count_out", "*mutusize"),
    ]);
    for (name, expected) in
        [("podsync_store_summary", summary), ("podsync_store_reconcile", reconcile)]
    {
        assert_eq!(c.get(name), Some(&expected), "{name} in podsync.h");
        assert_eq!(r.get(name), Some(&expected), "{name} in podsync-sys");
    }
    let header = strip_c_comments(&header());
    assert!(
        header.contains("#define PODSYNC_E_REPAIR_STALE "),
        "PODSYNC_E_REPAIR_STALE in podsync.h"
    );
    let consts = rust_integer_consts(&rust_source());
    assert_eq!(
        consts.get("PODSYNC_E_REPAIR_STALE"),
        Some(&-30),
        "PODSYNC_E_REPAIR_STALE in podsync-sys"
    );
    assert_eq!(podsync_sys::PODSYNC_E_REPAIR_STALE, -30);
    let name = unsafe { std::ffi::CStr::from_ptr(podsync_sys::podsync_status_name(-30)) };
    assert_eq!(name.to_str(), Ok("PODSYNC_E_REPAIR_STALE"));
    // Both files say since when.
    assert!(self::header().contains("Reconciliation (since library 0.7.0)"));
    assert!(rust_source().contains("// Reconciliation (since library 0.7.0)"));
}

#[test]
fn subscriptions_are_declared_as_the_header_says() {
    // Since library 0.8.0: podsync_subscription_encode, podsync_store_subscribe,
    // podsync_store_feed, podsync_store_subscription, the three structs,
    // PODSYNC_SUBSCRIPTION_VERSION and PODSYNC_E_NOT_SUBSCRIBED (pinned by name, as the change
    // events above; the structs field by field).
    let c = header_functions();
    let r = rust_functions();
    let sig = |params: &[(&str, &str)]| Sig {
        params: params.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        ret: "i32".to_string(),
    };
    let encode = sig(&[
        ("subscription", "*constpodsync_subscription"),
        ("buffer", "*mutc_void"),
        ("capacity", "usize"),
        ("size_out", "*mutusize"),
        ("hash_out", "*mutu64"),
    ]);
    let subscribe =
        sig(&[("store", "*mutpodsync_store"), ("data", "*constc_void"), ("size", "usize")]);
    let feed = sig(&[
        ("store", "*mutpodsync_store"),
        ("data", "*constc_void"),
        ("size", "usize"),
        ("feed_out", "*mut*mutpodsync_store"),
    ]);
    let subscription = sig(&[
        ("store", "*constpodsync_store"),
        ("data_out", "*mut*constu8"),
        ("size_out", "*mutusize"),
        ("hash_out", "*mutu64"),
    ]);
    for (name, expected) in [
        ("podsync_subscription_encode", encode),
        ("podsync_store_subscribe", subscribe),
        ("podsync_store_feed", feed),
        ("podsync_store_subscription", subscription),
    ] {
        assert_eq!(c.get(name), Some(&expected), "{name} in podsync.h");
        assert_eq!(r.get(name), Some(&expected), "{name} in podsync-sys");
    }
    let (header, src) = (self::header(), rust_source());
    for (name, fields) in [
        ("podsync_key_range", &[("lo", "u64"), ("hi", "u64")][..]),
        (
            "podsync_subscription_table",
            &[("table_id", "u32"), ("range_count", "u32"), ("ranges", "*constpodsync_key_range")],
        ),
        (
            "podsync_subscription",
            &[
                ("version", "u32"),
                ("shard_bits", "u32"),
                ("shard_count", "u32"),
                ("table_count", "u32"),
                ("shards", "*constu32"),
                ("tables", "*constpodsync_subscription_table"),
            ],
        ),
    ] {
        let expected: Vec<(String, String)> =
            fields.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        assert_eq!(header_struct_fields(&header, name), expected, "fields of {name} in podsync.h");
        assert_eq!(rust_struct_fields(&src, name), expected, "fields of {name} in podsync-sys");
    }
    let stripped = strip_c_comments(&header);
    let consts = rust_integer_consts(&src);
    for (name, value) in [("PODSYNC_SUBSCRIPTION_VERSION", 1), ("PODSYNC_E_NOT_SUBSCRIBED", -27)] {
        assert!(stripped.contains(&format!("#define {name} ")), "{name} in podsync.h");
        assert_eq!(consts.get(name), Some(&value), "{name} in podsync-sys");
    }
    assert_eq!(podsync_sys::PODSYNC_E_NOT_SUBSCRIBED, -27);
    let name = unsafe { std::ffi::CStr::from_ptr(podsync_sys::podsync_status_name(-27)) };
    assert_eq!(name.to_str(), Ok("PODSYNC_E_NOT_SUBSCRIBED"));
    // Both files say since when; -27 is no longer reserved.
    assert!(header.contains("Subscriptions: selective sync (since library 0.8.0)"));
    assert!(src.contains("// Subscriptions: selective sync (since library 0.8.0)"));
    assert!(!src.contains("-25 .. -27 are reserved"));
}

fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches(['u', 'U']);
    if let Some(h) = s.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// The integer `pub const`s of a Rust source.
fn rust_integer_consts(src: &str) -> BTreeMap<String, i64> {
    let mut rust_consts = BTreeMap::new();
    for line in src.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("pub const ") {
            let (name, rest) = rest.split_once(':').unwrap();
            if let Some((_, value)) = rest.split_once('=') {
                if let Some(v) = parse_int(value.trim().trim_end_matches(';')) {
                    rust_consts.insert(name.trim().to_string(), v);
                }
            }
        }
    }
    rust_consts
}

/// Checks every integer `#define PODSYNC_*` of a header against the Rust constants; returns how
/// many were checked.
fn check_integer_macros(header: &str, rust_consts: &BTreeMap<String, i64>) -> usize {
    let header = strip_c_comments(header);
    let mut checked = 0;
    for line in header.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#define") {
            continue;
        }
        let Some(name) = words.next() else { continue };
        let Some(v) = words.next().and_then(parse_int) else {
            continue;
        };
        if words.next().is_some() || !name.starts_with("PODSYNC_") {
            continue;
        }
        assert_eq!(rust_consts.get(name), Some(&v), "constant {name}");
        checked += 1;
    }
    checked
}

#[test]
fn every_integer_macro_has_the_same_value() {
    let checked = check_integer_macros(&header(), &rust_integer_consts(&rust_source()));
    assert!(checked >= 103, "checked only {checked} constants");
    assert_eq!(podsync_sys::PODSYNC_VERSION_NUMBER, 900);
    assert_eq!(podsync_sys::PODSYNC_FORMAT_VERSION, 2);
}

#[test]
fn init_macros_match_the_header() {
    use podsync_sys::*;
    let header = squash(&header().replace("\\\n", " "));
    assert!(header.contains(
        "{ PODSYNC_STORE_OPTIONS_VERSION, PODSYNC_OPT_FRAME_DIGEST, 0, 65536, 4194304, 50, 67108864, 65536, 0, PODSYNC_TRANSFORM_ALL, 1073741824, 0, 1048576, 2, 0, 0 }"
    ));
    let o = PODSYNC_STORE_OPTIONS_INIT;
    assert_eq!(
        (o.version, o.flags, o.stream_id, o.max_batch_records, o.max_batch_bytes),
        (PODSYNC_STORE_OPTIONS_VERSION, PODSYNC_OPT_FRAME_DIGEST, 0, 65536, 4194304)
    );
    assert_eq!((o.max_batch_age_ms, o.max_frame_bytes, o.tombstone_horizon), (50, 67108864, 65536));
    assert_eq!(
        (o.compression_level, o.transforms, o.max_decoded_bytes),
        (0, PODSYNC_TRANSFORM_ALL, 1 << 30)
    );
    assert_eq!((o.max_records, o.max_tombstones), (0, 1048576));
    // Format-2 frames by default since library 0.8.0 (format 1 before).
    assert_eq!((o.frame_format, o.refresh_flushes, o.refresh_ms), (2, 0, 0));
    // The library's own defaults for this header's version equal the macro.
    let mut lib = podsync_store_options {
        version: 0,
        flags: 0,
        stream_id: 9,
        max_batch_records: 0,
        max_batch_bytes: 0,
        max_batch_age_ms: 0,
        max_frame_bytes: 0,
        tombstone_horizon: 0,
        compression_level: 5,
        transforms: 0,
        max_decoded_bytes: 0,
        max_records: 9,
        max_tombstones: 0,
        frame_format: 7,
        refresh_flushes: 7,
        refresh_ms: 7,
    };
    assert_eq!(unsafe { podsync_store_options_init(&mut lib, PODSYNC_STORE_OPTIONS_VERSION) }, 0);
    assert_eq!(lib, o);

    // Since library 0.5.0: the chunk position, and the frame info's 34 fields (18 of version 3:
    // the chunk's and the refresh slice's).
    assert!(header.contains(
        "#define PODSYNC_CHUNK_POSITION_INIT { PODSYNC_CHUNK_POSITION_VERSION, 0, 0, 0, 0, 0, 0, 0, 0 }"
    ));
    let p = PODSYNC_CHUNK_POSITION_INIT;
    assert_eq!(
        p,
        podsync_chunk_position { version: PODSYNC_CHUNK_POSITION_VERSION, ..zeroed_position() }
    );
    let info_init = "#define PODSYNC_FRAME_INFO_INIT { PODSYNC_FRAME_INFO_VERSION,";
    let start = header.find(info_init).expect("PODSYNC_FRAME_INFO_INIT") + info_init.len();
    let zeros = &header[start..start + header[start..].find('}').unwrap()];
    assert_eq!(zeros.split(',').filter(|z| z.trim() == "0").count(), 33, "{zeros}");
    let f = PODSYNC_FRAME_INFO_INIT;
    assert_eq!(f.version, PODSYNC_FRAME_INFO_VERSION);
    assert_eq!(
        (f.term, f.snapshot_id, f.chunk_index, f.chunk_record_count, f.chunk_flags, f.reserved),
        (0, 0, 0, 0, 0, 0)
    );
    assert_eq!(
        (f.slice_section_count, f.slice_pass, f.slice_index, f.slice_start_key, f.slice_end_key),
        (0, 0, 0, 0, 0)
    );
    assert_eq!((f.slice_start_table, f.slice_end_table, f.slice_flags), (0, 0, 0));

    // Store info version 3 (library 0.6.0): 19 fields, all 0 but the version.
    assert!(header.contains(
        "#define PODSYNC_STORE_INFO_INIT { PODSYNC_STORE_INFO_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }"
    ));
    let i = PODSYNC_STORE_INFO_INIT;
    assert_eq!((i.version, i.diverged, i.table_count, i.refreshing, i.reserved), (3, 0, 0, 0, 0));
    assert_eq!((i.term, i.durable_version, i.log_bytes, i.durable, i.log_failed), (0, 0, 0, 0, 0));

    // Durability (library 0.6.0): the options' defaults, and the open info's 9 fields.
    assert!(header.contains(
        "#define PODSYNC_DURABILITY_OPTIONS_INIT { PODSYNC_DURABILITY_OPTIONS_VERSION, PODSYNC_LOG_EVERY_FRAME, 100, 0, 2, 0 }"
    ));
    let d = PODSYNC_DURABILITY_OPTIONS_INIT;
    assert_eq!(
        (d.version, d.log_policy, d.sync_interval_ms, d.new_term, d.keep_checkpoints, d.flags),
        (PODSYNC_DURABILITY_OPTIONS_VERSION, PODSYNC_LOG_EVERY_FRAME, 100, 0, 2, 0)
    );
    // The library's own defaults equal the macro.
    let mut lib = podsync_durability_options {
        version: 0,
        log_policy: 9,
        sync_interval_ms: 9,
        new_term: 9,
        keep_checkpoints: 9,
        flags: 9,
    };
    let st =
        unsafe { podsync_durability_options_init(&mut lib, PODSYNC_DURABILITY_OPTIONS_VERSION) };
    assert_eq!(st, PODSYNC_OK);
    assert_eq!(lib, d);
    assert!(header.contains(
        "#define PODSYNC_OPEN_INFO_INIT { PODSYNC_OPEN_INFO_VERSION, 0, 0, 0, 0, 0, 0, 0, 0 }"
    ));
    let o = PODSYNC_OPEN_INFO_INIT;
    assert_eq!(
        o,
        podsync_open_info {
            version: PODSYNC_OPEN_INFO_VERSION,
            flags: 0,
            checkpoint_version: 0,
            restored_version: 0,
            log_frames: 0,
            dropped_bytes: 0,
            term: 0,
            skipped_status: 0,
            reserved: 0,
        }
    );
}

fn zeroed_position() -> podsync_sys::podsync_chunk_position {
    podsync_sys::podsync_chunk_position {
        version: 0,
        start_table: 0,
        stream_id: 0,
        term: 0,
        snapshot_id: 0,
        state_version: 0,
        chunk_index: 0,
        start_key: 0,
        base_version: 0,
    }
}

#[test]
fn the_loaded_library_implements_this_abi() {
    use podsync_sys::*;
    assert_eq!(podsync_abi_version(), PODSYNC_ABI_VERSION);
    assert_eq!(podsync_version_number(), PODSYNC_VERSION_NUMBER);
}

#[test]
fn status_names_are_the_macro_names() {
    use podsync_sys::*;
    let src = rust_source();
    let mut n = 0;
    for line in src.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        let (name, rest) = rest.split_once(':').unwrap();
        if rest.trim_start().starts_with("i32") {
            let v: i32 =
                rest.split_once('=').unwrap().1.trim().trim_end_matches(';').parse().unwrap();
            let got = unsafe { std::ffi::CStr::from_ptr(podsync_status_name(v)) };
            assert_eq!(got.to_str().unwrap(), name, "podsync_status_name({v})");
            n += 1;
        }
    }
    assert_eq!(n, 42);
    let unknown = unsafe { std::ffi::CStr::from_ptr(podsync_status_name(-8)) };
    assert_eq!(unknown.to_str().unwrap(), "PODSYNC_UNKNOWN_STATUS");
}

/// The fields of `typedef struct NAME { ... } NAME;` as (name, Rust type).
fn header_struct_fields(header: &str, name: &str) -> Vec<(String, String)> {
    let text = strip_c_comments(header);
    let open = format!("typedef struct {name} {{");
    let start =
        text.find(&open).unwrap_or_else(|| panic!("struct {name} in the header")) + open.len();
    let body = &text[start..start + text[start..].find('}').unwrap()];
    body.split(';')
        .map(squash)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let i = f.rfind([' ', '*']).unwrap();
            (f[i + 1..].to_string(), c_type_to_rust(&f[..=i]))
        })
        .collect()
}

/// The fields of `pub struct NAME { ... }` as (name, type without spaces).
fn rust_struct_fields(src: &str, name: &str) -> Vec<(String, String)> {
    let open = format!("pub struct {name} {{");
    let start =
        src.find(&open).unwrap_or_else(|| panic!("struct {name} in the Rust source")) + open.len();
    let body = &src[start..start + src[start..].find("\n}").unwrap()];
    body.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("pub "))
        .map(|l| {
            let (n, t) = l.trim_end_matches(',').split_once(':').unwrap();
            (n.trim().to_string(), t.replace(' ', ""))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// include/podsync_nats.h (feature `nats`)
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "nats")]
#[test]
fn every_nats_header_function_is_declared_with_the_same_signature() {
    let c = header_functions_of(&nats_header());
    let r = rust_functions_of(&nats_rust_source());
    assert!(c.len() >= 17, "parsed {} functions from podsync_nats.h: {:?}", c.len(), c.keys());
    let missing: Vec<_> = c.keys().filter(|k| !r.contains_key(*k)).collect();
    let extra: Vec<_> = r.keys().filter(|k| !c.contains_key(*k)).collect();
    assert!(missing.is_empty(), "declared in podsync_nats.h but not in podsync-sys: {missing:?}");
    assert!(
        extra.is_empty(),
        "declared in podsync-sys (nats.rs) but not in podsync_nats.h: {extra:?}"
    );
    for (name, sig) in &c {
        assert_eq!(&r[name], sig, "signature of {name}");
    }
    // The carrier's functions are not declared twice (in lib.rs too).
    let engine = rust_functions();
    assert!(c.keys().all(|k| !engine.contains_key(k)));
}

#[cfg(feature = "nats")]
#[test]
fn every_nats_integer_macro_has_the_same_value() {
    let consts = rust_integer_consts(&nats_rust_source());
    let checked = check_integer_macros(&nats_header(), &consts);
    assert_eq!(checked, 13, "checked {checked} constants of podsync_nats.h");
    // Nothing in nats.rs that the header does not define.
    let header = strip_c_comments(&nats_header());
    for name in consts.keys() {
        assert!(header.contains(&format!("#define {name} ")), "{name} is not in podsync_nats.h");
    }
    assert_eq!(podsync_sys::PODSYNC_NATS_VERSION_NUMBER, 100);
    // The carrier's statuses are in the range podsync.h reserves for carriers.
    assert!(header_reserves_carrier_range());
    for (name, v) in &consts {
        if name.starts_with("PODSYNC_NATS_E_") {
            assert!((-79..=-60).contains(v), "{name} = {v}");
        }
    }
}

#[cfg(feature = "nats")]
fn header_reserves_carrier_range() -> bool {
    header().contains("-60 .. -79 are reserved for carriers")
}

#[cfg(feature = "nats")]
#[test]
fn nats_structs_have_the_header_fields() {
    let (header, src) = (nats_header(), nats_rust_source());
    for (name, count) in [
        ("podsync_nats_options", 11),
        ("podsync_nats_publisher_stats", 10),
        ("podsync_nats_follower_stats", 13),
    ] {
        let c = header_struct_fields(&header, name);
        assert_eq!(c.len(), count, "{name}: {c:?}");
        assert_eq!(rust_struct_fields(&src, name), c, "fields of {name}");
    }
}

#[cfg(feature = "nats")]
#[test]
fn nats_init_macros_match_the_header() {
    use podsync_sys::*;
    let header = squash(&nats_header().replace("\\\n", " "));
    assert!(header.contains(
        "#define PODSYNC_NATS_OPTIONS_INIT { PODSYNC_NATS_OPTIONS_VERSION, PODSYNC_NATS_STORAGE_FILE, 1, -1, 0, 0, 600, 10000, 5000, 100, NULL }"
    ), "{header}");
    let o = PODSYNC_NATS_OPTIONS_INIT;
    assert_eq!(
        (o.version, o.storage, o.replicas, o.max_reconnects, o.max_age_ms, o.max_bytes),
        (PODSYNC_NATS_OPTIONS_VERSION, PODSYNC_NATS_STORAGE_FILE, 1, -1, 0, 0)
    );
    assert_eq!(
        (o.snapshot_every_versions, o.snapshot_every_ms, o.timeout_ms, o.reconnect_wait_ms),
        (600, 10000, 5000, 100)
    );
    assert!(o.client_name.is_null());
    // The library's own defaults for this header's version equal the macro.
    let mut lib = podsync_nats_options {
        version: 0,
        storage: 9,
        replicas: 9,
        max_reconnects: 9,
        max_age_ms: 9,
        max_bytes: 9,
        snapshot_every_versions: 9,
        snapshot_every_ms: 9,
        timeout_ms: 9,
        reconnect_wait_ms: 9,
        client_name: c"x".as_ptr(),
    };
    let st = unsafe { podsync_nats_options_init(&mut lib, PODSYNC_NATS_OPTIONS_VERSION) };
    assert_eq!(st, PODSYNC_OK);
    assert_eq!(lib, o);

    for (init, version, zeros, fields) in [
        ("PODSYNC_NATS_PUBLISHER_STATS_INIT", "PODSYNC_NATS_PUBLISHER_STATS_VERSION", 9, 10),
        ("PODSYNC_NATS_FOLLOWER_STATS_INIT", "PODSYNC_NATS_FOLLOWER_STATS_VERSION", 12, 13),
    ] {
        let prefix = format!("#define {init} {{ {version},");
        let start = header.find(&prefix).unwrap_or_else(|| panic!("{init}")) + prefix.len();
        let rest = &header[start..start + header[start..].find('}').unwrap()];
        assert_eq!(rest.split(',').filter(|z| z.trim() == "0").count(), zeros, "{init}: {rest}");
        assert_eq!(rest.split(',').count() + 1, fields, "{init}: {rest}");
    }
    assert_eq!(
        PODSYNC_NATS_PUBLISHER_STATS_INIT,
        podsync_nats_publisher_stats {
            version: PODSYNC_NATS_PUBLISHER_STATS_VERSION,
            ..Default::default()
        }
    );
    assert_eq!(
        PODSYNC_NATS_FOLLOWER_STATS_INIT,
        podsync_nats_follower_stats {
            version: PODSYNC_NATS_FOLLOWER_STATS_VERSION,
            ..Default::default()
        }
    );
}

#[cfg(feature = "nats")]
#[test]
fn the_loaded_carrier_is_this_version() {
    assert_eq!(
        podsync_sys::podsync_nats_version_number(),
        podsync_sys::PODSYNC_NATS_VERSION_NUMBER
    );
}

#[cfg(feature = "nats")]
#[test]
fn nats_status_names_are_the_macro_names() {
    use podsync_sys::*;
    let name = |v: i32| {
        unsafe { std::ffi::CStr::from_ptr(podsync_nats_status_name(v)) }
            .to_str()
            .unwrap()
            .to_string()
    };
    let mut n = 0;
    for (macro_name, v) in rust_integer_consts(&nats_rust_source()) {
        if macro_name.starts_with("PODSYNC_NATS_E_") {
            assert_eq!(name(v as i32), macro_name, "podsync_nats_status_name({v})");
            n += 1;
        }
    }
    assert_eq!(n, 6);
    // Every other status is podsync_status_name's.
    for v in [-99, -32, -1, 0, 3, 10, -59, -66, -79] {
        let engine = unsafe { std::ffi::CStr::from_ptr(podsync_status_name(v)) };
        assert_eq!(name(v), engine.to_str().unwrap(), "status {v}");
    }
}
