//! The rolling refresh and one-way replicas (library 0.5.0): `StoreOptions::refresh_flushes`,
//! `refresh_ms` and `one_way`, `Applied::Refreshing` (`PODSYNC_REFRESHING`),
//! `StoreInfo::refreshing`, and the refresh slice of a frame (`FrameInfo::has_slice`, its
//! `slice_*` fields, `frame::slice_sections`).
//!
//! The randomized test takes its seed from `$PODSYNC_SEED` (default below), so a failure replays.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use podsync::frame::{self, FrameInfo};
use podsync::sys;
use podsync::{Applied, ErrorKind, Replica, Schema, Store, StoreOptions, Writer};

const R: u32 = 10;
const N_ENTITIES: u64 = 2000;
const N_PAIRS: u64 = 200;

fn refresh_writer(r: u32, extra: StoreOptions) -> Store<Writer> {
    let opts = extra.refresh_flushes(r).manual_clock(true);
    Store::writer_with(&schema(), &opts).unwrap()
}

fn one_way() -> Store<Replica> {
    Store::replica_with(&schema(), &StoreOptions::new().one_way(true)).unwrap()
}

/// Fills the writer with `N_ENTITIES` entities (keys 7k) and `N_PAIRS` pairs (keys k << 32).
fn fill(w: &mut Store<Writer>, rng: &mut Rng) {
    let keys: Vec<u64> = (0..N_ENTITIES).map(|k| k * 7).collect();
    let ents: Vec<Entity> =
        (0..N_ENTITIES).map(|k| Entity::new(k, rng.below(1000) as f32)).collect();
    w.put_many(ENTITIES, &keys, &ents).unwrap();
    let keys: Vec<u64> = (0..N_PAIRS).map(|k| k << 32).collect();
    let pairs: Vec<[u64; 2]> = (0..N_PAIRS).map(|k| [k, rng.next_u64()]).collect();
    w.put_many(PAIRS, &keys, &pairs).unwrap();
}

/// One tick of changes: 1% of the entities updated, one deleted, one inserted, one pair updated.
fn tick(w: &mut Store<Writer>, rng: &mut Rng, next_key: &mut u64, t: u64) {
    for _ in 0..N_ENTITIES / 100 {
        let k = rng.below(*next_key);
        w.put_as(ENTITIES, k * 7, &Entity { flags: t as u32, ..Entity::new(k, t as f32) }).unwrap();
    }
    let _ = w.delete(ENTITIES, rng.below(*next_key) * 7).unwrap();
    w.put_as(ENTITIES, *next_key * 7, &Entity::new(*next_key, -1.0)).unwrap();
    *next_key += 1;
    w.put_as(PAIRS, rng.below(N_PAIRS) << 32, &[t, rng.next_u64()]).unwrap();
}

/// Checks that `next`'s slice continues `prev`'s: the next index of the same pass starting where
/// `prev` ended, or slice 0 of the next pass starting at (0, 0) after a pass's last slice.
fn assert_contiguous(prev: &FrameInfo, next: &FrameInfo) {
    assert!(prev.has_slice() && next.has_slice());
    if prev.is_last_slice() {
        assert_eq!((next.slice_pass, next.slice_index), (prev.slice_pass + 1, 0), "{next:?}");
        assert_eq!((next.slice_start_table, next.slice_start_key), (0, 0), "{next:?}");
    } else {
        assert_eq!((next.slice_pass, next.slice_index), (prev.slice_pass, prev.slice_index + 1));
        assert_eq!(
            (next.slice_start_table, next.slice_start_key),
            (prev.slice_end_table, prev.slice_end_key),
            "slice {} of pass {} must start where slice {} ended",
            next.slice_index,
            next.slice_pass,
            prev.slice_index
        );
    }
}

/// A one-way replica on a lossy link, with what the test checks of it.
struct Receiver {
    store: Store<Replica>,
    joined_at: u64,
    /// The version it was last in sync at (what `version()` must say while refreshing).
    synced_at: u64,
    lost: u64,
    oks: u64,
    refreshing: u64,
    /// Frames delivered after the loss stopped until the first `Applied::Ok`.
    frames_to_sync: Option<u64>,
    delivered_since_loss: u64,
}

impl Receiver {
    fn new(joined_at: u64) -> Receiver {
        Receiver {
            store: one_way(),
            joined_at,
            synced_at: 0,
            lost: 0,
            oks: 0,
            refreshing: 0,
            frames_to_sync: None,
            delivered_since_loss: 0,
        }
    }

    fn deliver(&mut self, f: &[u8], digests: &HashMap<u64, u64>, lossy: bool, ctx: &str) {
        let info = frame::peek(f).unwrap();
        let got = self.store.apply(f).unwrap_or_else(|e| panic!("{ctx}: apply: {e}"));
        let si = self.store.info().unwrap();
        match got {
            Applied::Ok => {
                assert!(!si.refreshing, "{ctx}: Ok but info.refreshing");
                assert_eq!(si.state_version, info.state_version, "{ctx}");
                assert_eq!(
                    Some(&self.store.digest().unwrap()),
                    digests.get(&si.state_version),
                    "{ctx}: Ok at version {} with another digest than the writer's then",
                    si.state_version
                );
                self.synced_at = si.state_version;
                self.oks += 1;
            }
            Applied::Refreshing => {
                assert!(si.refreshing, "{ctx}: Refreshing but not info.refreshing");
                assert_eq!(si.state_version, self.synced_at, "{ctx}: version while refreshing");
                self.refreshing += 1;
            }
            Applied::Gap { replica_version } => {
                panic!("{ctx}: a one-way replica returned Gap (version {replica_version})")
            }
            other => panic!("{ctx}: unexpected {other:?}"),
        }
        if !lossy {
            self.delivered_since_loss += 1;
            if got == Applied::Ok && self.frames_to_sync.is_none() {
                self.frames_to_sync = Some(self.delivered_since_loss);
            }
        }
    }
}

#[test]
fn one_way_replicas_converge_over_a_lossy_link() {
    const LOSS_TICKS: u64 = 150;
    const TICKS: u64 = LOSS_TICKS + 3 * R as u64;
    let seed = seed(0x5EED_0A11);
    let ctx_seed = format!("seed {seed} (PODSYNC_SEED)");
    let mut rng = Rng::new(seed);
    // Compressed frames: the writer would XOR records with their base but must not (absolute
    // values for replicas out of sync).
    let mut w = refresh_writer(R, StoreOptions::new().compression_level(1).stream_id(0xD1CE));
    let mut receivers = [Receiver::new(0), Receiver::new(37)];
    let mut digests = HashMap::new();
    digests.insert(0u64, w.digest().unwrap());
    fill(&mut w, &mut rng);
    let mut next_key = N_ENTITIES;
    let mut now = 0u64;
    let mut prev: Option<FrameInfo> = None;
    let (mut slices, mut compressed) = (0u64, 0u64);
    for t in 0..TICKS {
        if t > 0 {
            tick(&mut w, &mut rng, &mut next_key, t);
        }
        now += 16;
        w.set_time(now).unwrap();
        assert_eq!(w.flush().unwrap(), 1, "tick {t}: one frame a flush");
        digests.insert(w.version().unwrap(), w.digest().unwrap());
        let f = w.frame(0).unwrap().to_vec();
        let info = frame::validate(&f).unwrap();
        assert!(info.has_slice(), "tick {t}: every flush carries a slice");
        assert_eq!(info.flags & sys::PODSYNC_FRAME_SLICE, sys::PODSYNC_FRAME_SLICE);
        assert_eq!(info.format_version, 2, "slices travel in format 2");
        assert_eq!(info.transforms & sys::PODSYNC_TRANSFORM_XOR, 0, "tick {t}: XOR is off");
        compressed += u64::from(info.codec == sys::PODSYNC_CODEC_ZSTD);
        slices += info.slice_section_count as u64;
        if let Some(p) = &prev {
            assert_contiguous(p, &info);
        } else {
            assert_eq!((info.slice_pass, info.slice_index), (0, 0));
        }
        prev = Some(info);
        let lossy = t < LOSS_TICKS;
        for (i, r) in receivers.iter_mut().enumerate() {
            if t < r.joined_at {
                continue;
            }
            if lossy && rng.chance(20) {
                r.lost += 1;
                continue;
            }
            let ctx = format!("{ctx_seed}, tick {t}, replica {i}");
            r.deliver(&f, &digests, lossy, &ctx);
        }
    }
    assert!(compressed > 0, "the frames were compressed, so XOR could have applied");
    assert!(slices > 0);
    let wi = w.info().unwrap();
    for (i, r) in receivers.iter().enumerate() {
        assert!(r.lost > 0 && r.refreshing > 0, "replica {i}: the loss must have mattered");
        let n = r.frames_to_sync.unwrap_or_else(|| panic!("{ctx_seed}: replica {i} never synced"));
        assert!(
            n <= 2 * R as u64,
            "{ctx_seed}: replica {i} in sync {n} frames after the loss stopped (R = {R})"
        );
        let ri = r.store.info().unwrap();
        assert!(!ri.refreshing, "replica {i}");
        assert_eq!((ri.state_version, ri.digest), (wi.state_version, wi.digest), "replica {i}");
        assert_eq!(ri.stream_id, 0xD1CE);
        for table in [ENTITIES, PAIRS] {
            assert!(dump(&r.store, table) == dump(&w, table), "replica {i}, table {table}");
        }
    }
    // In sync, they serve deltas again.
    for r in receivers.iter_mut() {
        assert!(matches!(r.store.delta_since(wi.state_version - 1), Ok(podsync::Delta::Frames(1))));
    }
}

#[test]
fn a_one_way_replica_refreshes_where_another_gaps() {
    let mut rng = Rng::new(seed(3));
    let mut w = refresh_writer(4, StoreOptions::new());
    let mut plain = replica();
    let mut ow = one_way();
    fill(&mut w, &mut rng);
    w.flush().unwrap();
    let v1 = w.frame(0).unwrap().to_vec();
    assert_eq!(plain.apply(&v1).unwrap(), Applied::Ok);
    assert_eq!(ow.apply(&v1).unwrap(), Applied::Ok);
    let mut next_key = N_ENTITIES;
    tick(&mut w, &mut rng, &mut next_key, 2);
    w.flush().unwrap(); // v2: lost
    tick(&mut w, &mut rng, &mut next_key, 3);
    w.flush().unwrap();
    let v3 = w.frame(0).unwrap().to_vec();

    assert_eq!(plain.apply(&v3).unwrap(), Applied::Gap { replica_version: 1 });
    assert!(!plain.info().unwrap().refreshing);
    let got = ow.apply(&v3).unwrap();
    assert_eq!(got, Applied::Refreshing);
    assert_eq!(got.status(), sys::PODSYNC_REFRESHING);
    assert_eq!(podsync::status_name(got.status()), "PODSYNC_REFRESHING");
    let info = ow.info().unwrap();
    assert!(info.refreshing);
    assert_eq!(info.state_version, 1, "the last version it was in sync at");
    assert!(format!("{ow:?}").contains("refreshing: true"), "{ow:?}");
    // Out of sync, it serves nothing.
    assert_eq!(ow.delta_since(1).unwrap_err().kind(), ErrorKind::Diverged);
    assert_eq!(ow.snapshot().unwrap_err().kind(), ErrorKind::Diverged);
    assert_eq!(ow.begin_snapshot(0).unwrap_err().kind(), ErrorKind::Diverged);
    // Took the newer content: v3's changes are there (a key changed in v3 only, put at -1.0).
    let inserted = (next_key - 1) * 7;
    assert_eq!(ow.get_as::<Entity>(ENTITIES, inserted).unwrap().map(|e| e.pos[0]), Some(-1.0));

    // The plain replica catches up by asking; the one-way one by the refresh, within a pass
    // and a bit (R = 4 slices, maybe an empty last one, and slice boundaries that move).
    assert!(matches!(w.delta_since(1).unwrap(), podsync::Delta::Frames(1)));
    assert_eq!(plain.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    let mut frames = 0;
    loop {
        tick(&mut w, &mut rng, &mut next_key, 4 + frames);
        w.flush().unwrap();
        frames += 1;
        match ow.apply(w.frame(0).unwrap()).unwrap() {
            Applied::Ok => break,
            Applied::Refreshing => assert!(frames < 2 * 4, "no sync after {frames} frames"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(plain.apply(w.frame(0).unwrap()).unwrap(), Applied::Gap { replica_version: 3 });
    let info = ow.info().unwrap();
    assert!(!info.refreshing);
    assert_eq!((info.state_version, info.digest), (w.version().unwrap(), w.digest().unwrap()));
    // In sync, it serves deltas again, from the version it got back in sync at: what changed
    // before is not in its log.
    assert_eq!(info.catchup_floor, info.state_version, "{info:?}");
    assert_eq!(ow.delta_since(info.state_version).unwrap(), podsync::Delta::Frames(0));
    assert_eq!(ow.delta_since(3).unwrap(), podsync::Delta::SnapshotRequired);
    assert!(matches!(w.delta_since(3).unwrap(), podsync::Delta::Frames(1)));
    assert_eq!(plain.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    tick(&mut w, &mut rng, &mut next_key, 99);
    w.flush().unwrap();
    assert_eq!(ow.apply(w.frame(0).unwrap()).unwrap(), Applied::Ok);
    assert_eq!(ow.delta_since(info.state_version).unwrap(), podsync::Delta::Frames(1));
    assert_eq!(plain.apply(ow.frame(0).unwrap()).unwrap(), Applied::Ok, "a catch-up from it");
    assert_eq!(plain.digest().unwrap(), w.digest().unwrap());
}

#[test]
fn an_idle_writer_sends_refresh_only_frames_after_refresh_ms() {
    let mut rng = Rng::new(seed(11));
    let mut w = refresh_writer(R, StoreOptions::new().refresh_ms(100));
    fill(&mut w, &mut rng);
    w.set_time(1000).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    let v1 = w.frame(0).unwrap().to_vec();
    let (version, digest) = (w.version().unwrap(), w.digest().unwrap());
    assert_eq!(version, 1);

    // Nothing pending, refresh_ms not reached: nothing due, nothing sent.
    w.set_time(1099).unwrap();
    assert!(!w.flush_due().unwrap(), "99 ms after the last frame");
    assert_eq!(w.flush().unwrap(), 0);
    // refresh_ms reached: due, and one refresh-only frame.
    w.set_time(1100).unwrap();
    assert!(w.flush_due().unwrap(), "100 ms after the last frame");
    assert_eq!(w.flush().unwrap(), 1);
    let f = w.frame(0).unwrap().to_vec();
    let info = frame::validate(&f).unwrap();
    assert!(info.has_slice());
    assert_eq!(info.section_count, 0, "no changes");
    assert!(info.slice_section_count > 0, "a slice of a non-empty state");
    assert_eq!((info.base_version, info.state_version), (version, version));
    assert_eq!(info.digest(), Some(digest));
    assert_eq!((info.slice_pass, info.slice_index), (0, 1), "the slice after v1's");
    assert_contiguous(&frame::peek(&v1).unwrap(), &info);
    assert_eq!((w.version().unwrap(), w.digest().unwrap()), (version, digest), "unchanged");
    assert!(!w.flush_due().unwrap(), "the refresh-only frame restarted the wait");
    assert!(frame::sections(&f).unwrap().next().is_none());
    assert_eq!(frame::slice_sections(&f).unwrap().len(), info.slice_section_count as usize);

    // Replicas: in sync at that version, a duplicate; an empty plain replica, a gap; an empty
    // one-way replica refreshes from such frames alone until it holds the writer's state.
    let mut synced = one_way();
    assert_eq!(synced.apply(&v1).unwrap(), Applied::Ok);
    assert_eq!(synced.apply(&f).unwrap(), Applied::Duplicate);
    assert_eq!(replica().apply(&f).unwrap(), Applied::Gap { replica_version: 0 });
    let mut late = one_way();
    assert_eq!(late.apply(&f).unwrap(), Applied::Refreshing);
    let mut now = 1100;
    let mut frames = 1;
    loop {
        now += 100;
        w.set_time(now).unwrap();
        assert!(w.flush_due().unwrap());
        assert_eq!(w.flush().unwrap(), 1);
        frames += 1;
        match late.apply(w.frame(0).unwrap()).unwrap() {
            Applied::Ok => break,
            // It lacks slices 1 .. of pass 0 and slice 0 of pass 1: one pass, R frames.
            Applied::Refreshing => assert!(frames < R, "not in sync after a whole pass"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(w.version().unwrap(), version, "refresh-only frames do not advance the version");
    assert_eq!(late.info().unwrap().state_version, version);
    for table in [ENTITIES, PAIRS] {
        assert!(dump(&late, table) == dump(&w, table), "table {table}");
    }

    // Without refresh_ms an idle writer sends nothing, however long it waits.
    let mut quiet = refresh_writer(R, StoreOptions::new());
    quiet.put_as(PAIRS, 1, &[1u64, 2]).unwrap();
    quiet.set_time(0).unwrap();
    assert_eq!(quiet.flush().unwrap(), 1);
    quiet.set_time(1 << 40).unwrap();
    assert!(!quiet.flush_due().unwrap());
    assert_eq!(quiet.flush().unwrap(), 0);
}

#[test]
fn a_pass_of_slices_holds_the_whole_state_once() {
    // Plain frames (no compression) so the slices' sections can be read in place.
    let mut rng = Rng::new(seed(5));
    let mut w = refresh_writer(R, StoreOptions::new().refresh_ms(1));
    fill(&mut w, &mut rng);
    w.set_time(0).unwrap();
    assert_eq!(w.flush().unwrap(), 1);
    let total = N_ENTITIES + N_PAIRS;
    let per_slice = total.div_ceil(R as u64);
    let mut seen: BTreeMap<(u32, u64), Vec<u8>> = BTreeMap::new();
    let mut prev = frame::peek(w.frame(0).unwrap()).unwrap();
    // Finish pass 0 (slice 0 went out with the flush), then read pass 1 whole.
    let mut now = 0;
    let mut pass1 = 0;
    while pass1 == 0 || prev.slice_pass == 1 {
        now += 1;
        w.set_time(now).unwrap();
        assert_eq!(w.flush().unwrap(), 1);
        let f = w.frame(0).unwrap();
        let info = frame::validate(f).unwrap();
        assert_contiguous(&prev, &info);
        if info.slice_pass == 1 {
            pass1 += 1;
            let mut records = 0u64;
            for s in frame::slice_sections(f).unwrap() {
                let s = s.unwrap();
                assert!(s.delete_keys().is_empty(), "a slice puts only");
                for (k, rec) in s.puts() {
                    records += 1;
                    let old = seen.insert((s.table_id(), k), rec.to_vec());
                    assert!(old.is_none(), "key {k} of table {} in two slices", s.table_id());
                }
            }
            assert!(records <= per_slice, "slice {}: {records} records", info.slice_index);
        }
        prev = info;
        assert!(now < 10 * R as u64, "pass 1 does not end");
    }
    // Header: slices of about records / R records, "so the state is re-sent every R flushes".
    assert!(pass1 as u32 <= R, "{pass1} slices in a pass, R = {R}");
    let mut state = BTreeMap::new();
    for table in [ENTITIES, PAIRS] {
        for (k, rec) in dump(&w, table) {
            state.insert((table, k), rec);
        }
    }
    assert_eq!(seen.len(), state.len());
    assert!(seen == state, "the slices of a pass are the writer's state");
}

#[test]
fn slices_take_at_most_half_of_max_frame_bytes() {
    // One slice a pass would be the whole state; max_frame_bytes 8 KiB caps it at 4 KiB of keys
    // and records.
    let mut rng = Rng::new(seed(9));
    let mut w = refresh_writer(1, StoreOptions::new().max_frame_bytes(8192).refresh_ms(1));
    fill(&mut w, &mut rng);
    w.set_time(0).unwrap();
    let n = w.flush().unwrap();
    assert!(n > 1, "the initial state needs several frames");
    let mut now = 0;
    let mut passes_seen = 0;
    let mut prev = frame::peek(w.frame(n - 1).unwrap()).unwrap();
    for i in 0..n - 1 {
        assert!(!frame::peek(w.frame(i).unwrap()).unwrap().has_slice(), "only the last frame");
    }
    while passes_seen < 1 {
        now += 1;
        w.set_time(now).unwrap();
        assert_eq!(w.flush().unwrap(), 1);
        let f = w.frame(0).unwrap();
        let info = frame::validate(f).unwrap();
        assert_contiguous(&prev, &info);
        let bytes: usize =
            frame::slice_sections(f).unwrap().map(|s| s.unwrap().records().len()).sum::<usize>();
        let keys: usize =
            frame::slice_sections(f).unwrap().map(|s| s.unwrap().put_keys().len()).sum::<usize>();
        assert!(
            bytes + 8 * keys <= 4096,
            "slice {}: {keys} records, {bytes} bytes",
            info.slice_index
        );
        assert!(f.len() <= 8192, "refresh-only frame of {} bytes", f.len());
        passes_seen += u32::from(info.is_last_slice());
        prev = info;
        assert!(now < 1000, "no pass ends");
    }
    assert!(now > 10, "a pass of 2200 records in slices of at most 4 KiB takes many frames");
}

#[test]
fn without_refresh_frames_carry_no_slice_and_xor_stays() {
    let mut rng = Rng::new(seed(13));
    let opts = StoreOptions::new().compression_level(1);
    let mut plain = Store::writer_with(&schema(), &opts).unwrap();
    let mut refreshing = refresh_writer(R, opts);
    for w in [&mut plain, &mut refreshing] {
        let mut rng = Rng::new(1);
        fill(w, &mut rng);
        w.flush().unwrap();
    }
    // Updates of existing records, the XOR transform's case.
    let keys: Vec<u64> = (0..500).map(|k| k * 7).collect();
    let ents: Vec<Entity> = (0..500).map(|k| Entity::new(k, rng.below(4) as f32)).collect();
    let mut transforms = Vec::new();
    for w in [&mut plain, &mut refreshing] {
        w.put_many(ENTITIES, &keys, &ents).unwrap();
        assert_eq!(w.flush().unwrap(), 1);
        let info = frame::peek(w.frame(0).unwrap()).unwrap();
        transforms.push((info.has_slice(), info.transforms & sys::PODSYNC_TRANSFORM_XOR));
        if !info.has_slice() {
            let zero =
                (info.slice_section_count, info.slice_pass, info.slice_index, info.slice_flags);
            assert_eq!(zero, (0, 0, 0, 0));
            assert!(!info.is_last_slice());
            assert!(frame::slice_sections(w.frame(0).unwrap()).unwrap().next().is_none());
        }
    }
    assert_eq!(transforms, [(false, sys::PODSYNC_TRANSFORM_XOR), (true, 0)]);
    assert!(!plain.info().unwrap().refreshing && !refreshing.info().unwrap().refreshing);
}

#[test]
fn a_one_way_replica_needs_the_frames_digest_to_get_back_in_sync() {
    // Without PODSYNC_OPT_FRAME_DIGEST no frame says what the writer's digest is, so a one-way
    // replica out of sync cannot tell that it is in sync again: it stays Refreshing although it
    // holds the writer's records.
    let mut rng = Rng::new(seed(17));
    let mut w = refresh_writer(2, StoreOptions::new().frame_digest(false));
    let mut ow = one_way();
    fill(&mut w, &mut rng);
    w.flush().unwrap(); // lost
    let mut next_key = N_ENTITIES;
    for t in 0..8 {
        tick(&mut w, &mut rng, &mut next_key, t);
        w.flush().unwrap();
        assert_eq!(ow.apply(w.frame(0).unwrap()).unwrap(), Applied::Refreshing, "frame {t}");
    }
    assert_eq!(ow.digest().unwrap(), w.digest().unwrap(), "the records did converge");
    assert!(ow.info().unwrap().refreshing);
}

#[test]
fn options_round_trip() {
    let o = StoreOptions::new().refresh_flushes(7).refresh_ms(250).one_way(true);
    let raw = o.raw();
    assert_eq!((raw.refresh_flushes, raw.refresh_ms), (7, 250));
    assert_eq!(raw.flags & sys::PODSYNC_OPT_ONE_WAY, sys::PODSYNC_OPT_ONE_WAY);
    assert_eq!(raw.flags & sys::PODSYNC_OPT_FRAME_DIGEST, sys::PODSYNC_OPT_FRAME_DIGEST);
    let off = o.one_way(false).refresh_flushes(0).refresh_ms(0);
    assert_eq!(*off.raw(), *StoreOptions::new().raw());
    // Every role takes them (a replica ignores the writer's options and the reverse).
    Store::writer_with(&schema(), &o).unwrap();
    Store::replica_with(&schema(), &o).unwrap();
    let s = Schema::new().table(1, 8, 8, &[]).unwrap();
    let r = Store::replica_with(&s, &o).unwrap();
    assert!(!r.info().unwrap().refreshing, "a new one-way replica is not out of sync");
}
