//! Shared helpers of the integration tests: schemas, a record type, a tiny PRNG.
#![allow(dead_code)]

use podsync::{Field, FieldType, Pod, Replica, Schema, Store, Writer};

/// The README's 40-byte entity record.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[repr(C)]
pub struct Entity {
    pub id: u64,
    pub pos: [f32; 3],
    pub rot: [f32; 4],
    pub flags: u32,
}
// SAFETY: repr(C), Pod fields, 8 + 12 + 16 + 4 = 40 bytes, no padding.
unsafe impl Pod for Entity {}

impl Entity {
    pub fn new(id: u64, x: f32) -> Entity {
        Entity { id, pos: [x, 0.0, 0.0], rot: [0.0, 0.0, 0.0, 1.0], flags: 0 }
    }
}

/// Entities `Entity::new(k, 0.0)` for `keys`, with positions of random bits: noise zstd cannot
/// shrink beside columns that are all zero (rot[0..2], flags, id's upper bytes). The COLUMNS
/// transform (noisy columns raw, zero columns dropped) gives their frames the smaller encoding,
/// so a compressing writer sends them with it (since library 0.8.0 a writer sends a frame
/// without COLUMNS where that is smaller, as it is for smooth records like `Entity::new(k, x)`).
pub fn noisy_entities(keys: &[u64], seed: u64) -> Vec<Entity> {
    let mut rng = Rng::new(seed);
    keys.iter()
        .map(|&k| Entity {
            pos: [(); 3].map(|_| f32::from_bits(rng.next_u64() as u32)),
            ..Entity::new(k, 0.0)
        })
        .collect()
}

pub const ENTITIES: u32 = 1;
pub const PAIRS: u32 = 2;

/// Table 1: Entity (40 bytes, align 8, described); table 2: opaque 16-byte records, align 16.
pub fn schema() -> Schema {
    Schema::new()
        .table_of::<Entity>(
            ENTITIES,
            &[
                Field::new("id", FieldType::U64, 0, 1),
                Field::new("pos", FieldType::F32, 8, 3),
                Field::new("rot", FieldType::F32, 20, 4),
                Field::new("flags", FieldType::U32, 36, 1),
            ],
        )
        .unwrap()
        .table(PAIRS, 16, 16, &[])
        .unwrap()
}

pub fn writer() -> Store<Writer> {
    Store::writer(&schema()).unwrap()
}

pub fn replica() -> Store<Replica> {
    Store::replica(&schema()).unwrap()
}

/// Copies the outbox (frames borrowed from the store) into owned buffers.
pub fn take_frames<R: podsync::Role>(store: &Store<R>) -> Vec<Vec<u8>> {
    store.frames().map(|f| f.to_vec()).collect()
}

/// The library's outbox as it is now, (address, length) per frame: `podsync_store_frame` for
/// index 0, 1, ... until it returns an error. Reads no frame bytes.
pub fn library_outbox<R: podsync::Role>(store: &Store<R>) -> Vec<(usize, usize)> {
    let mut frames = Vec::new();
    loop {
        let (mut data, mut size) = (std::ptr::null(), 0usize);
        // SAFETY: valid handle (borrowed for the call) and out-pointers; a read-only call.
        let st = unsafe {
            podsync_sys::podsync_store_frame(store.as_ptr(), frames.len(), &mut data, &mut size)
        };
        if st < 0 {
            return frames;
        }
        assert!(!data.is_null(), "podsync_store_frame returned OK and NULL");
        frames.push((data as usize, size));
    }
}

/// The crate's view of the outbox (`frames()`, `frame_count()`, `frame(i)`) is exactly the
/// library's: the same frames at the same addresses. Compares pointers and lengths only, so a
/// stale view is caught without reading the memory it points to.
#[track_caller]
pub fn assert_outbox_matches<R: podsync::Role>(store: &Store<R>, what: &str) {
    let library = library_outbox(store);
    let crate_view: Vec<(usize, usize)> =
        store.frames().map(|f| (f.as_ptr() as usize, f.len())).collect();
    assert_eq!(crate_view, library, "{what}: frames() and the library's outbox differ");
    assert_eq!(store.frame_count(), library.len(), "{what}: frame_count()");
    for (i, &(address, len)) in library.iter().enumerate() {
        let f = store.frame(i).unwrap();
        assert_eq!((f.as_ptr() as usize, f.len()), (address, len), "{what}: frame({i})");
    }
    assert!(store.frame(library.len()).is_none(), "{what}: frame past the outbox");
}

/// A table's contents, sorted by key, as owned (key, bytes) pairs.
pub fn dump<R: podsync::Role>(store: &Store<R>, table: u32) -> Vec<(u64, Vec<u8>)> {
    let view = store.table(table).unwrap();
    let mut v: Vec<_> = view.iter().map(|(k, r)| (k, r.to_vec())).collect();
    v.sort();
    v
}

/// splitmix64: a tiny, good enough, std-only PRNG; a seed always replays the same run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability percent/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

/// The seed of randomized tests: $PODSYNC_SEED or the given default.
pub fn seed(default: u64) -> u64 {
    match std::env::var("PODSYNC_SEED") {
        Ok(s) if !s.is_empty() => s.parse().expect("PODSYNC_SEED must be an integer"),
        _ => default,
    }
}
