//! roundtrip — the Rust counterpart of examples/pipe_demo.c: a writer thread replicates a world of
//! entities to a replica thread through an OS pipe, then both compare digests.
//!
//! The writer sends the schema's canonical encoding (length-prefixed), a snapshot, then one flush
//! per tick in which 1% of the entities move (one `put_many` per tick). The replica reads frames
//! off the pipe into a 64-byte aligned `FrameBuf` (header, `frame::peek` for the length, rest),
//! applies them, and reports its version, record count and digest. Prints MATCH (exit 0) or
//! MISMATCH (exit 1).
//!
//! Run: `cargo run --example roundtrip [entities [ticks]]` (default 100000 entities, 20 ticks).

use std::error::Error;
use std::io::{Read, Write};

use podsync::frame::{self, FrameBuf};
use podsync::{Applied, Field, FieldType, Pod, Schema, Store};

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Entity {
    id: u64,
    pos: [f32; 3],
    rot: [f32; 4],
    flags: u32,
}
// SAFETY: repr(C), Pod fields only, no padding (40 bytes).
unsafe impl Pod for Entity {}

const ENTITIES: u32 = 1;

type BoxError = Box<dyn Error + Send + Sync>;

struct ReplicaReport {
    frames: usize,
    bytes: usize,
    version: u64,
    count: usize,
    digest: u64,
}

fn replica_side(mut pipe: impl Read) -> Result<ReplicaReport, BoxError> {
    let mut len = [0u8; 4];
    pipe.read_exact(&mut len)?;
    let mut schema_bytes = vec![0u8; u32::from_le_bytes(len) as usize];
    pipe.read_exact(&mut schema_bytes)?;
    let schema = Schema::from_bytes(&schema_bytes)?;
    let mut replica = Store::replica(&schema)?;

    let mut buf = FrameBuf::new();
    let (mut frames, mut bytes) = (0, 0);
    while buf.read_frame(&mut pipe, 1 << 30)? {
        frames += 1;
        bytes += buf.len();
        match replica.apply(&buf)? {
            Applied::Ok => {}
            other => {
                return Err(
                    format!("frame {frames}: unexpected {other:?} on a lossless pipe").into()
                );
            }
        }
    }
    Ok(ReplicaReport {
        frames,
        bytes,
        version: replica.version()?,
        count: replica.count(ENTITIES)?,
        digest: replica.digest()?,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let entities: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let ticks: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let moving = (entities / 100).max(1);

    let schema = Schema::new().table_of::<Entity>(
        ENTITIES,
        &[
            Field::new("id", FieldType::U64, 0, 1),
            Field::new("pos", FieldType::F32, 8, 3),
            Field::new("rot", FieldType::F32, 20, 4),
            Field::new("flags", FieldType::U32, 36, 1),
        ],
    )?;

    let (rx, mut tx) = std::io::pipe()?;
    let replica = std::thread::spawn(move || replica_side(rx));

    // The schema first, so the replica builds the same one (equal hash).
    let encoded = schema.to_bytes()?;
    tx.write_all(&(encoded.len() as u32).to_le_bytes())?;
    tx.write_all(&encoded)?;

    let mut writer = Store::writer(&schema)?;
    let keys: Vec<u64> = (1..=entities).collect();
    let world: Vec<Entity> = keys
        .iter()
        .map(|&id| Entity { id, pos: [id as f32, 0.0, 0.0], rot: [0.0, 0.0, 0.0, 1.0], flags: 0 })
        .collect();
    writer.put_many(ENTITIES, &keys, &world)?;
    writer.flush()?;
    writer.snapshot()?; // a replica joining now gets the whole state in one frame
    for f in writer.frames() {
        tx.write_all(f)?;
    }

    let (mut sent_frames, mut sent_bytes) = (0usize, 0usize);
    let mut moved_keys = Vec::with_capacity(moving as usize);
    let mut moved = Vec::with_capacity(moving as usize);
    for tick in 0..ticks {
        moved_keys.clear();
        moved.clear();
        {
            // Read the current records in place, compute their next positions.
            let current: &[Entity] = writer.table(ENTITIES)?.as_slice()?;
            for i in 0..moving {
                let index = ((tick * moving + i) * 7919 % entities) as usize;
                let mut e = current[index];
                e.pos[1] += 1.0;
                e.flags = tick as u32;
                moved_keys.push(e.id);
                moved.push(e);
            }
        } // the view ends here: writes need `&mut writer`
        writer.put_many(ENTITIES, &moved_keys, &moved)?;
        writer.flush()?;
        for f in writer.frames() {
            if tick == 0 {
                let puts: usize = frame::sections(f)?
                    .map(|s| s.map(|s| s.put_keys().len()))
                    .sum::<Result<_, _>>()?;
                println!(
                    "tick 0: frame of {} bytes, {puts} puts, version {}",
                    f.len(),
                    frame::peek(f)?.state_version
                );
            }
            sent_frames += 1;
            sent_bytes += f.len();
            tx.write_all(f)?;
        }
    }
    drop(tx); // end of stream

    let r = replica.join().map_err(|_| "replica thread panicked")?.map_err(|e| e.to_string())?;
    let (wv, wd, wc) = (writer.version()?, writer.digest()?, writer.count(ENTITIES)?);
    println!(
        "replica: {} frames, {} bytes received; version {}, {} records, digest {:016x}",
        r.frames, r.bytes, r.version, r.count, r.digest
    );
    println!(
        "totals: {ticks} ticks, {sent_frames} frames, {sent_bytes} bytes; {:.1} bytes per changed record ({} changes of 40-byte records)",
        sent_bytes as f64 / (ticks * moving).max(1) as f64,
        ticks * moving
    );
    println!("writer:  version {wv}, {wc} records, digest {wd:016x}");
    println!("replica: version {}, {} records, digest {:016x}", r.version, r.count, r.digest);
    if (r.version, r.count, r.digest) == (wv, wc, wd) {
        println!("MATCH");
        Ok(())
    } else {
        println!("MISMATCH");
        std::process::exit(1)
    }
}
