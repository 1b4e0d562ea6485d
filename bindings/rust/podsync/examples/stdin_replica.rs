//! stdin_replica.rs — the Rust replica of the cross-language demo (examples/xlang/run.sh).
//!
//! Reads the writer's stream from standard input (u32 schema length, the schema's canonical
//! encoding, then frames back to back), applies every frame, and reports its version and digest.
use podsync::frame::FrameBuf;
use podsync::{Applied, Schema, Store};
use std::io::{self, Read};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = io::stdin().lock();
    let mut prefix = [0u8; 4];
    input.read_exact(&mut prefix)?;
    let mut schema_bytes = vec![0u8; u32::from_le_bytes(prefix) as usize];
    input.read_exact(&mut schema_bytes)?;
    let schema = Schema::from_bytes(&schema_bytes)?;
    let mut replica = Store::replica(&schema)?;

    // One aligned buffer, reused: frames are read into it and applied in place.
    let mut frame = FrameBuf::new();
    let (mut frames, mut applied) = (0usize, 0usize);
    while frame.read_frame(&mut input, 1 << 30)? {
        frames += 1;
        if replica.apply(&frame)? == Applied::Ok {
            applied += 1;
        }
    }
    println!(
        "Rust replica:   version {} digest {:016x} records {} ({frames} frames, {applied} applied)",
        replica.version()?,
        replica.digest()?,
        replica.count(1)?
    );
    Ok(())
}
