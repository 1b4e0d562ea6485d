//! nats_follower.rs — the Rust follower of the NATS demo (examples/nats/run.sh): a replica that
//! follows the stream through the JetStream carrier until it reaches the version the writer
//! wrote to FINAL_FILE, then prints its digest.
//!
//! Usage: nats_follower URL STREAM FINAL_FILE [TIMEOUT_SECONDS]   (cargo feature `nats`)
use podsync::nats::{Follower, NatsOptions};
use podsync::{ErrorKind, Schema, Store};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: nats_follower URL STREAM FINAL_FILE [TIMEOUT_SECONDS]".into());
    }
    let timeout = Duration::from_secs_f64(args.get(4).map_or(Ok(120.0), |s| s.parse())?);
    let schema = Schema::new().table(1, 40, 8, &[])?;
    let mut replica = Store::replica(&schema)?;
    let mut follower = Follower::new(&mut replica, &args[1], &args[2], &NatsOptions::new())?;
    let start = Instant::now();
    while start.elapsed() < timeout {
        match follower.poll(Duration::from_millis(100)) {
            Ok(_) => {}
            // The server may be away for a moment: the carrier reconnects in the background.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::StreamMissing
                ) =>
            {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => return Err(e.into()),
        }
        let last = std::fs::read_to_string(&args[3]).ok();
        let last: u64 =
            last.as_deref().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0);
        let version = follower.store().version()?;
        if last != 0 && version == last {
            let stats = follower.stats()?;
            let store = follower.store();
            println!(
                "Rust follower: version {version} digest {:016x} records {} ({} frames applied, {} snapshots, {} bytes received)",
                store.digest()?,
                store.count(1)?,
                stats.frames_applied,
                stats.snapshots_taken,
                stats.bytes_received
            );
            return Ok(());
        }
    }
    Err(format!(
        "Rust follower: stuck at version {} after {timeout:?}",
        follower.store().version()?
    )
    .into())
}
