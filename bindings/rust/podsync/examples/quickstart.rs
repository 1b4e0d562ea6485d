//! quickstart.rs — the README's Rust quick start: schema, writer, put, flush, frames, replica, digest.
use podsync::{Field, FieldType, Pod, Schema, Store};

/// 40 bytes, no padding.
#[derive(Clone, Copy)]
#[repr(C)]
struct Entity {
    id: u64,
    pos: [f32; 3],
    rot: [f32; 4],
    flags: u32,
}
// SAFETY: #[repr(C)], only Pod fields, no padding: any 40 bytes are a valid Entity.
unsafe impl Pod for Entity {}

fn main() -> podsync::Result<()> {
    // 1. A schema: table 1 holds 40-byte entity records (fields describe the layout).
    let fields = [
        Field::new("id", FieldType::U64, 0, 1),
        Field::new("pos", FieldType::F32, 8, 3),
        Field::new("rot", FieldType::F32, 20, 4),
        Field::new("flags", FieldType::U32, 36, 1),
    ];
    let schema = Schema::new().table_of::<Entity>(1, &fields)?;

    // 2. A writer and a replica of that schema (each keeps its own copy of it).
    let mut writer = Store::writer(&schema)?;
    let mut replica = Store::replica(&schema)?;

    // 3. Writes are coalesced per key until the next flush; put_many is one call for many records.
    let ids = [1, 2, 3];
    let entity =
        |id: u64, x: f32| Entity { id, pos: [x, 0.0, 0.0], rot: [0.0, 0.0, 0.0, 1.0], flags: 0 };
    writer.put_many(1, &ids, &ids.map(|id| entity(id, id as f32)))?;
    let moved = Entity { flags: 7, ..entity(2, 2.5) };
    writer.put_as(1, 2, &moved)?; // the last value wins
    writer.delete(1, 3)?; // created and deleted: not sent

    // 4. Flush turns the batch into frames: borrowed, 64-byte aligned bytes to send anywhere.
    writer.flush()?;
    for (i, frame) in writer.frames().enumerate() {
        // 5. The replica applies each frame (here in-process; normally after a pipe or socket).
        let outcome = replica.apply(frame)?;
        println!(
            "frame {i}: {} bytes, {outcome:?}, replica at version {}",
            frame.len(),
            replica.version()?
        );
    }

    // 6. Equal digests mean equal records. Reads borrow the replica's memory (no copy).
    let (dw, dr) = (writer.digest()?, replica.digest()?);
    let e2: &Entity = replica.get_as(1, 2)?.expect("entity 2");
    let all: &[Entity] = replica.table(1)?.as_slice()?;
    let verdict = if dw == dr { "in sync" } else { "DIFFERENT" };
    println!(
        "replica: {} records, entity 2 at x={:.1}; digests {dw:016x} / {dr:016x}: {verdict}",
        all.len(),
        e2.pos[0]
    );
    if dw != dr || all.len() != 2 {
        std::process::exit(1);
    }
    Ok(())
}
