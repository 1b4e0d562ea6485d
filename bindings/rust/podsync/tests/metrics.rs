//! `Store::metrics`: the counters as a `podsync::Metrics` of plain values, with exact counts for
//! every outcome of apply (ok, duplicate, gap, stale, resync, rejects) and for frames produced by
//! flush, delta_since and snapshot. (The known scenario of the Python suite is in compression.rs,
//! dictionaries in dictionary.rs, limits in limits.rs.)
mod common;

use common::*;
use podsync::{Applied, Delta, ErrorKind, Metrics, Rejects, frame};

#[test]
fn a_new_store_counts_nothing() {
    let (w, r) = (writer(), replica());
    assert_eq!(w.metrics().unwrap(), Metrics::default());
    assert_eq!(r.metrics().unwrap(), Metrics::default());
    assert!(r.metrics().unwrap().rejects.is_empty());
}

#[test]
fn every_apply_outcome_is_counted_once() {
    let mut w = writer();
    let mut r = replica();
    w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    w.flush().unwrap();
    let f1 = take_frames(&w).remove(0); // v0 -> v1, 1 put
    w.put_as(ENTITIES, 2, &Entity::new(2, 2.0)).unwrap();
    w.flush().unwrap(); // v1 -> v2: lost on the way
    w.snapshot().unwrap();
    let s2 = take_frames(&w).remove(0); // snapshot at v2, 2 puts
    w.put_as(ENTITIES, 3, &Entity::new(3, 3.0)).unwrap();
    w.delete(ENTITIES, 1).unwrap();
    w.flush().unwrap();
    let f3 = take_frames(&w).remove(0); // v2 -> v3, 1 put and 1 delete

    assert_eq!(r.apply(&f1).unwrap(), Applied::Ok);
    assert_eq!(r.apply(&f3).unwrap(), Applied::Gap { replica_version: 1 });
    assert_eq!(r.apply(&s2).unwrap(), Applied::Ok); // a snapshot over a state: a resync
    assert_eq!(r.apply(&f1).unwrap(), Applied::Duplicate);
    assert_eq!(r.apply(&f3).unwrap(), Applied::Ok);
    assert_eq!(r.apply(&s2).unwrap(), Applied::Stale); // an older snapshot
    assert_eq!(r.apply(&f3[..f3.len() - 1]).unwrap_err().kind(), ErrorKind::FrameTruncated);
    assert_eq!(r.apply(&[0u8; 88]).unwrap_err().kind(), ErrorKind::FrameMagic);
    assert_eq!(r.apply(&[]).unwrap_err().kind(), ErrorKind::FrameTruncated);
    assert_eq!(r.digest().unwrap(), w.digest().unwrap());

    let m = r.metrics().unwrap();
    assert_eq!((m.frames_applied, m.records_applied, m.resyncs), (3, 1 + 2 + 2, 1));
    assert_eq!((m.duplicates, m.gaps, m.stale), (1, 1, 1));
    assert_eq!(m.wire_bytes_in, (f1.len() + s2.len() + f3.len()) as u64);
    assert_eq!(m.apply_calls(), 9);
    assert_eq!(m.rejects.total(), 3);
    assert_eq!(
        m.rejects.iter().collect::<Vec<_>>(),
        [(ErrorKind::FrameTruncated, 2), (ErrorKind::FrameMagic, 1)]
    );
    assert_eq!(m.rejects.get(ErrorKind::FrameTruncated), 2);
    assert_eq!(m.rejects.by_status(-11), 1);
    assert_eq!(m.rejects.get(ErrorKind::FrameChecksum), 0);
    // A replica produces nothing unless asked.
    assert_eq!((m.frames_out, m.records_out, m.writes, m.encode_calls()), (0, 0, 0, 0));

    let m = w.metrics().unwrap();
    assert_eq!((m.writes, m.coalesced_writes), (4, 0));
    // f1, f2, s2 and f3: 1 + 1 + 2 + 2 records.
    assert_eq!((m.frames_out, m.records_out, m.encode_calls()), (4, 6, 4));
    assert_eq!(m.raw_bytes_out, m.wire_bytes_out, "no compression");
    assert_eq!((m.compressed_frames, m.saved_by_compression, m.saved_by_key_gaps), (0, 0, 0));
    assert_eq!((m.frames_applied, m.apply_calls(), m.rejects.total()), (0, 0, 0));
}

#[test]
fn frames_served_by_delta_since_and_snapshot_count_as_produced() {
    let mut w = writer();
    w.put_many(
        ENTITIES,
        &[1, 2, 3],
        &[Entity::new(1, 1.0), Entity::new(2, 2.0), Entity::new(3, 3.0)],
    )
    .unwrap();
    w.put_as(ENTITIES, 2, &Entity::new(2, 2.5)).unwrap(); // coalesced
    w.delete(ENTITIES, 9).unwrap(); // absent: not a write
    assert_eq!(w.flush().unwrap(), 1);
    assert_eq!(w.flush().unwrap(), 0); // an empty batch produces no frame
    assert_eq!(w.delta_since(1).unwrap(), Delta::Frames(0)); // nothing since v1
    assert_eq!(w.delta_since(0).unwrap(), Delta::Frames(1)); // a snapshot
    let wire: u64 = w.frames().map(|f| f.len() as u64).sum();
    let before = w.metrics().unwrap();
    w.snapshot().unwrap();
    let m = w.metrics().unwrap();
    assert_eq!((m.writes, m.coalesced_writes), (4, 1));
    assert_eq!((m.frames_out, m.records_out), (3, 9));
    assert_eq!(m.frames_out - before.frames_out, 1);
    assert_eq!(m.wire_bytes_out - before.wire_bytes_out, wire, "a snapshot is the same frame");
    // Every flush, delta_since and snapshot call is timed, those producing no frame too (library
    // 0.4.0 times delta_since(0) twice: as itself and as the snapshot it makes).
    assert!(m.encode_calls() >= 5, "{m:?}");

    // The replica that takes the served snapshot counts one frame of three records.
    let mut r = replica();
    for f in take_frames(&w) {
        assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    }
    let rm = r.metrics().unwrap();
    assert_eq!((rm.frames_applied, rm.records_applied, rm.resyncs), (1, 3, 0));
}

#[test]
fn compressed_frames_are_counted() {
    use podsync::{Store, StoreOptions};
    let keys: Vec<u64> = (0..1000).collect();
    // Records whose frame is smaller with COLUMNS (so zero columns are dropped and counted).
    let records = noisy_entities(&keys, 1000);
    let mut w = Store::writer_with(&schema(), &StoreOptions::new().compression_level(1)).unwrap();
    let mut r = replica();
    w.put_many(ENTITIES, &keys, &records).unwrap();
    w.flush().unwrap();
    let frames = take_frames(&w);
    for f in &frames {
        assert_eq!(frame::peek(f).unwrap().codec, podsync::sys::PODSYNC_CODEC_ZSTD);
        assert_eq!(r.apply(f).unwrap(), Applied::Ok);
    }
    let m = w.metrics().unwrap();
    let wire: u64 = frames.iter().map(|f| f.len() as u64).sum();
    assert_eq!((m.frames_out, m.compressed_frames), (frames.len() as u64, frames.len() as u64));
    assert_eq!(m.wire_bytes_out, wire);
    assert!(m.raw_bytes_out > m.wire_bytes_out, "{m:?}");
    assert!(m.saved_by_compression > 0 && m.saved_by_zero_columns > 0, "{m:?}");
    assert_eq!(r.metrics().unwrap().wire_bytes_in, wire);
}

#[test]
#[allow(deprecated)]
fn the_deprecated_raw_struct_holds_the_same_counters() {
    let mut w = writer();
    w.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    w.flush().unwrap();
    let raw = w.metrics_raw().unwrap();
    assert_eq!(raw.version, podsync::sys::PODSYNC_METRICS_VERSION);
    assert_eq!((raw.frames_out, raw.writes), (1, 1));
    assert_eq!(Metrics::from(raw), w.metrics().unwrap());
}

#[test]
fn histogram_bounds_cover_every_duration() {
    assert_eq!(podsync::HISTOGRAM_BUCKETS, 32);
    assert_eq!(Rejects::STATUSES, 32);
    let mut next = 0u64;
    for i in 0..podsync::HISTOGRAM_BUCKETS {
        let (lo, hi) = Metrics::bucket_bounds_ns(i).unwrap();
        assert_eq!(lo, next, "bucket {i} starts where the previous one ends");
        match hi {
            Some(hi) => next = hi,
            None => assert_eq!(i, podsync::HISTOGRAM_BUCKETS - 1, "only the last is open"),
        }
    }
    assert_eq!(Metrics::bucket_bounds_ns(podsync::HISTOGRAM_BUCKETS), None);
}

/// The samples of a Prometheus text: (name with labels, value) of every non-comment line.
fn samples(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit_once(' ').unwrap_or_else(|| panic!("sample without a value: {l:?}")))
        .collect()
}

#[test]
fn prometheus_text_carries_the_counters() {
    // The known scenario: 110 writes, 10 coalesced, one frame of 100 records; the replica
    // applies it, gets it again (duplicate) and a corrupt copy (checksum).
    let mut w = writer();
    let mut r = replica();
    let keys: Vec<u64> = (0..100).collect();
    let records: Vec<Entity> = keys.iter().map(|&k| Entity::new(k, k as f32)).collect();
    w.put_many(ENTITIES, &keys, &records).unwrap();
    w.put_many(ENTITIES, &keys[..10], &records[..10]).unwrap();
    w.flush().unwrap();
    let f = frame::FrameBuf::from_slice(w.frame(0).unwrap());
    assert_eq!(r.apply(&f).unwrap(), Applied::Ok);
    assert_eq!(r.apply(&f).unwrap(), Applied::Duplicate);
    let mut bad = f.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(r.apply(&bad).unwrap_err().kind(), ErrorKind::FrameChecksum);

    let text = w.metrics().unwrap().to_prometheus(None).unwrap();
    assert!(text.ends_with('\n') && !text.contains('\0'), "{text}");
    let wm = samples(&text);
    let value = |name: &str| -> &str {
        wm.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no {name} in\n{text}")).1
    };
    assert_eq!(value("podsync_frames_out_total"), "1");
    assert_eq!(value("podsync_frames_out_wire_bytes_total"), f.len().to_string());
    assert!(text.contains("# TYPE podsync_frames_out_total counter\n"), "{text}");
    assert!(text.contains("# HELP podsync_frames_out_total "), "{text}");
    // One flush, timed: a histogram whose +Inf bucket equals its count, without _sum.
    assert!(text.contains("# TYPE podsync_encode_duration_seconds histogram\n"), "{text}");
    assert_eq!(value(r#"podsync_encode_duration_seconds_bucket{le="+Inf"}"#), "1");
    assert_eq!(value("podsync_encode_duration_seconds_count"), "1");
    assert!(!text.contains("_sum"), "{text}");
    // Every sample name is a podsync_ metric with a HELP and a TYPE line.
    for (name, v) in &wm {
        assert!(name.starts_with("podsync_"), "{name}");
        assert!(v.parse::<f64>().is_ok() || *v == "+Inf", "{name} {v}");
        let family = name.split('{').next().unwrap();
        let family = ["_bucket", "_count"]
            .iter()
            .find_map(|s| {
                family.strip_suffix(s).filter(|f| text.contains(&format!("# TYPE {f} histogram")))
            })
            .unwrap_or(family);
        assert!(text.contains(&format!("# HELP {family} ")), "no HELP for {family}");
        assert!(text.contains(&format!("# TYPE {family} ")), "no TYPE for {family}");
    }

    let rm = r.metrics().unwrap();
    let text = rm.to_prometheus(Some(r#"store="r1",role="replica""#)).unwrap();
    let samples = samples(&text);
    for (name, _) in &samples {
        assert!(name.contains(r#"store="r1",role="replica""#), "labels on every sample: {name}");
    }
    let rejected: Vec<_> = samples.iter().filter(|(n, _)| n.contains("status=")).collect();
    let checksum: Vec<_> = rejected
        .iter()
        .filter(|(n, _)| n.contains(r#"status="PODSYNC_E_FRAME_CHECKSUM""#))
        .collect();
    assert_eq!(checksum.len(), 1, "{text}");
    assert_eq!(checksum[0].1, "1");
    assert!(rejected.iter().all(|(n, v)| *v == "0" || n.contains("FRAME_CHECKSUM")), "{text}");
    // Applied 3 times: every bucket up to +Inf is cumulative.
    let apply_inf = samples
        .iter()
        .find(|(n, _)| {
            n.starts_with("podsync_apply_duration_seconds_bucket") && n.contains(r#"le="+Inf""#)
        })
        .unwrap();
    assert_eq!(apply_inf.1, "3");
    // The same counters give the same text; no labels and empty labels are the same.
    assert_eq!(rm.to_prometheus(None).unwrap(), rm.to_prometheus(Some("")).unwrap());
    assert_eq!(
        text,
        r.metrics().unwrap().to_prometheus(Some(r#"store="r1",role="replica""#)).unwrap()
    );
}

#[test]
fn prometheus_labels_are_checked() {
    let m = Metrics::default();
    assert!(m.to_prometheus(None).unwrap().contains("podsync_frames_out_total 0\n"));
    for bad in ["store", "store=a", r#"le="1""#, r#"__x="1""#, r#"a="1",a="2""#, r#"9a="1""#] {
        let e = m.to_prometheus(Some(bad)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
        assert!(e.message().starts_with("podsync_metrics_prometheus: "), "{bad}: {e}");
        assert!(e.message().len() > "podsync_metrics_prometheus: ".len(), "{bad}: {e}");
    }
    let e = m.to_prometheus(Some("a=\"x\0\"")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("NUL"), "{e}");
    let long = format!(r#"a="{}""#, "x".repeat(5000));
    assert_eq!(m.to_prometheus(Some(&long)).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // Escaped values are accepted as they are.
    let text = m.to_prometheus(Some(r#"path="C:\\dir",q="say \"hi\"\n""#)).unwrap();
    assert!(
        text.contains(r#"podsync_frames_out_total{path="C:\\dir",q="say \"hi\"\n"} 0"#),
        "{text}"
    );
}
