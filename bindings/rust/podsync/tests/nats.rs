//! The NATS JetStream carrier (feature `nats`) against real `nats-server` processes that each test
//! starts itself: `nats-server -js -a 127.0.0.1 -p <free port> -sd <temporary directory>`, killed
//! and its directory removed when the test's guard is dropped (also when the test fails).
//!
//! - a publisher and a follower converge (equal digests, equal tables) over 50 ticks of 1%
//!   changes on 1,000 records, the pair moving to another thread on the way, and their counters
//!   move as they should;
//! - a follower that joins late bootstraps from the newest snapshot instead of replaying frames;
//! - errors: invalid stream names, a replica given to a publisher (and a writer to a follower)
//!   through the raw C API (the safe API does not compile it: see the compile_fail examples of
//!   src/nats.rs), no server, a stream that does not exist, options out of range;
//! - a frame larger than the server accepts: `MessageTooLarge`, replaced by a snapshot;
//! - the server killed and restarted from its store directory while the writer goes on: frames
//!   kept pending, published after the restart, the follower converges;
//! - a follower relaying to a stream on another server: a follower there converges too.
//!
//! Needs `nats-server` on PATH (or `$NATS_SERVER`).

mod common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{ENTITIES, Entity, PAIRS, Rng};
use podsync::nats::{Follower, NatsOptions, Publisher};
use podsync::{ErrorKind, Store, StoreOptions, Writer, sys};

const RECORDS: u64 = 1000;

/// A nats-server with JetStream on a free loopback port and a temporary store directory; killed
/// and the directory removed on drop.
struct NatsServer {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

static SERVERS: AtomicU32 = AtomicU32::new(0);

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

impl NatsServer {
    /// Starts a server (a few attempts: another process may take the port meanwhile).
    fn start() -> NatsServer {
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("podsync-rust-nats-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the server's directory");
        let mut server = NatsServer { child: None, dir, port: 0 };
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("nats-server did not start (see {})", server.dir.join("server.log").display());
    }

    /// Starts the process on `self.port` and waits until it accepts connections; false if it
    /// exited (the port was taken).
    fn spawn(&mut self) -> bool {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("server log");
        let program = std::env::var_os("NATS_SERVER").unwrap_or_else(|| "nats-server".into());
        let child = Command::new(&program)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.dir.join("store"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {program:?} ({e}): install nats-server or set NATS_SERVER")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            if let Ok(Some(_)) = self.child.as_mut().unwrap().try_wait() {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.stop();
        false
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL) and waits for it; the store directory stays.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port and directory.
    fn restart(&mut self) {
        for _ in 0..40 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("nats-server did not restart on port {}", self.port);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn options() -> NatsOptions {
    NatsOptions::new().timeout_ms(2000).client_name("podsync-rust-test")
}

/// A writer whose frames fit in a NATS message (the header asks for max_payload - 4 KiB at
/// most), holding RECORDS entities, flushed.
fn world(rng: &mut Rng) -> Store<Writer> {
    let mut w =
        Store::writer_with(&common::schema(), &StoreOptions::new().max_frame_bytes(256 << 10))
            .unwrap();
    for key in 0..RECORDS {
        w.put_as(ENTITIES, key, &Entity::new(key, rng.next_u64() as f32)).unwrap();
    }
    w.flush().unwrap();
    w
}

/// 1% of the records change.
fn tick(w: &mut Store<Writer>, rng: &mut Rng) {
    for _ in 0..RECORDS / 100 {
        let key = rng.below(RECORDS);
        let mut e = Entity::new(key, rng.next_u64() as f32);
        e.flags = rng.next_u64() as u32;
        w.put_as(ENTITIES, key, &e).unwrap();
    }
}

/// Polls until the replica reaches `version` (or 20 s pass); returns whether it did.
fn follow_to(f: &mut Follower<'_>, version: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match f.poll(Duration::from_millis(20)) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::StreamMissing
                ) => {}
            Err(e) => panic!("poll: {e}"),
        }
        if f.store().version().unwrap() == version {
            return true;
        }
    }
    false
}

fn assert_converged(what: &str, f: &mut Follower<'_>, writer: &Store<Writer>) {
    let version = writer.version().unwrap();
    let reached = follow_to(f, version);
    assert!(
        reached,
        "{what}: follower at version {}, writer at {version} ({:?}; {})",
        f.store().version().unwrap(),
        f.stats().unwrap(),
        f.message()
    );
    assert_eq!(f.store().digest().unwrap(), writer.digest().unwrap(), "{what}: digests");
    assert_eq!(common::dump(f.store(), ENTITIES), common::dump(writer, ENTITIES), "{what}");
}

#[test]
fn publisher_and_follower_converge_over_50_ticks() {
    let server = NatsServer::start();
    let url = server.url();
    let mut rng = Rng::new(common::seed(0x5eed));
    let mut writer = world(&mut rng);
    let mut replica = Store::replica(&common::schema()).unwrap();

    let mut publisher = Publisher::new(&mut writer, &url, "converge", &options()).unwrap();
    assert_eq!(publisher.stream(), "converge");
    let s0 = publisher.stats().unwrap();
    assert!(s0.connected, "{s0:?}");
    assert_eq!((s0.frames_published, s0.snapshots_published, s0.snapshot_version), (0, 1, 1));
    assert_eq!((s0.frames_pending, s0.frames_dropped, s0.last_sequence), (0, 0, 0));
    assert_eq!(publisher.flush().unwrap(), 0, "nothing changed: nothing published");

    let mut follower = Follower::new(&mut replica, &url, "converge", &options()).unwrap();
    let f0 = follower.stats().unwrap();
    assert_eq!((f0.frames_applied, f0.snapshots_taken, f0.next_sequence), (0, 0, 0));
    assert_eq!(f0.last_rejected, None);

    let mut applied = 0;
    for t in 0..50 {
        tick(publisher.store_mut(), &mut rng);
        assert_eq!(publisher.flush().unwrap(), 1, "tick {t}: one frame acknowledged");
        applied += follower.poll(Duration::ZERO).unwrap();
        if t == 24 {
            // The store and its carrier move between threads together (Send).
            let (p, f, n) = std::thread::scope(|s| {
                s.spawn(move || {
                    let mut p = publisher;
                    let mut f = follower;
                    tick(p.store_mut(), &mut Rng::new(99));
                    assert_eq!(p.flush().unwrap(), 1);
                    let n = f.poll(Duration::from_millis(10)).unwrap();
                    (p, f, n)
                })
                .join()
                .unwrap()
            });
            publisher = p;
            follower = f;
            applied += n;
        }
    }
    let version = publisher.store().version().unwrap();
    assert_eq!(version, 52, "the world's version, then 51 ticks");
    let deadline = Instant::now() + Duration::from_secs(20);
    while follower.store().version().unwrap() < version && Instant::now() < deadline {
        applied += follower.poll(Duration::from_millis(50)).unwrap();
    }
    assert_converged("follower from the start", &mut follower, publisher.store());

    let p = publisher.stats().unwrap();
    assert!(p.connected);
    assert_eq!(p.frames_published, 51);
    assert!(p.bytes_published > 51 * 10 * 40, "{p:?}");
    assert_eq!((p.frames_pending, p.frames_dropped, p.last_sequence), (0, 0, 51));
    assert_eq!(p.snapshots_published, 1, "600 versions per snapshot by default");
    assert_eq!(p.reconnects, 0);
    let f = follower.stats().unwrap();
    assert!(f.connected);
    assert_eq!(f.snapshots_taken, 1, "the bootstrap: {f:?}");
    assert_eq!(f.frames_applied, 52, "the snapshot's chunk and 51 frames: {f:?}");
    assert_eq!(applied as u64, f.frames_applied, "poll's counts add up");
    assert_eq!((f.duplicates, f.rejected, f.gaps_repaired), (0, 0, 0), "{f:?}");
    assert_eq!((f.next_sequence, f.state_version), (52, version));
    assert!(f.bytes_received >= p.bytes_published, "{f:?} {p:?}");
    assert_eq!(f.last_rejected, None);

    // An explicit snapshot: counted, at the current version.
    publisher.snapshot().unwrap();
    let p2 = publisher.stats().unwrap();
    assert_eq!((p2.snapshots_published, p2.snapshot_version), (2, version));
    assert!(format!("{publisher:?}").contains("converge"));
    assert!(format!("{follower:?}").contains("frames_applied: 52"));
    assert_eq!(publisher.message(), "");

    // Dropping the carriers gives the stores back.
    drop(publisher);
    drop(follower);
    writer.put_as(ENTITIES, 1, &Entity::new(1, 1.0)).unwrap();
    assert_eq!(writer.flush().unwrap(), 1);
    assert_eq!(replica.version().unwrap(), version);
}

#[test]
fn a_late_follower_bootstraps_from_the_snapshot() {
    let server = NatsServer::start();
    let url = server.url();
    let mut rng = Rng::new(common::seed(7));
    let mut writer = world(&mut rng);
    let opts = options().snapshot_every_versions(10);
    let mut publisher = Publisher::new(&mut writer, &url, "late", &opts).unwrap();
    for _ in 0..50 {
        tick(publisher.store_mut(), &mut rng);
        publisher.flush().unwrap();
    }
    let p = publisher.stats().unwrap();
    assert_eq!(p.frames_published, 50);
    // The first, then one every 10 versions; a due snapshot is spread over the next flushes (a
    // chunk each, then its marker), so each completes a flush or two after it fell due.
    assert_eq!(p.snapshots_published, 5, "the first and one every 10 versions: {p:?}");
    assert!(
        (41..=51).contains(&p.snapshot_version),
        "the newest is at most 10 versions old: {p:?}"
    );

    let mut replica = Store::replica(&common::schema()).unwrap();
    let mut follower = Follower::new(&mut replica, &url, "late", &opts).unwrap();
    assert_converged("late follower", &mut follower, publisher.store());
    let f = follower.stats().unwrap();
    assert_eq!(f.snapshots_taken, 1, "{f:?}");
    // The snapshot (a chunk) and the at most 10 frames after it.
    assert!(f.frames_applied <= 11, "bootstrapped from the snapshot, not the 50 frames: {f:?}");
    assert_eq!(f.next_sequence, 51, "continues after the frames the snapshot covers: {f:?}");

    // And keeps following with frames.
    for _ in 0..5 {
        tick(publisher.store_mut(), &mut rng);
        publisher.flush().unwrap();
    }
    assert_converged("late follower, then frames", &mut follower, publisher.store());
    let f2 = follower.stats().unwrap();
    assert_eq!(f2.snapshots_taken, 1);
    assert_eq!(f2.frames_applied, f.frames_applied + 5, "{f2:?}");
}

#[test]
fn errors_have_kinds_and_messages() {
    let server = NatsServer::start();
    let url = server.url();
    let schema = common::schema();
    let mut writer = Store::writer(&schema).unwrap();
    let mut replica = Store::replica(&schema).unwrap();

    // Invalid stream names: refused before connecting.
    for name in ["", "has space", "dots.are.subjects", "star*", "ü", &"x".repeat(65)] {
        let e = Publisher::new(&mut writer, &url, name, &options()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}: {e}");
        assert!(e.message().contains("stream_name"), "{name:?}: {e}");
        let e = Follower::new(&mut replica, &url, name, &options()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}: {e}");
    }
    let e = Publisher::new(&mut writer, &url, "nul\0", &options()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = Follower::new(&mut replica, "nats://127.0.0.1:1\0", "s", &options()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let longest = "x".repeat(64);
    Publisher::new(&mut writer, &url, &longest, &options()).expect("64 characters are allowed");

    // A replica given to a publisher, a writer to a follower: the safe API does not compile it
    // (src/nats.rs, compile_fail E0308); the C API refuses it before connecting.
    let c_url = std::ffi::CString::new(url.as_str()).unwrap();
    let name = c"roles";
    unsafe {
        let mut p = ptr::null_mut();
        let st = sys::podsync_nats_publisher_create(
            replica.as_mut_ptr(),
            c_url.as_ptr(),
            name.as_ptr(),
            ptr::null(),
            &mut p,
        );
        assert_eq!(st, sys::PODSYNC_E_WRONG_ROLE);
        assert!(p.is_null());
        let msg = std::ffi::CStr::from_ptr(sys::podsync_nats_last_errmsg()).to_string_lossy();
        assert!(msg.contains("writer"), "{msg}");
        let mut f = ptr::null_mut();
        let st = sys::podsync_nats_follower_create(
            writer.as_mut_ptr(),
            c_url.as_ptr(),
            name.as_ptr(),
            ptr::null(),
            &mut f,
        );
        assert_eq!(st, sys::PODSYNC_E_WRONG_ROLE);
        assert!(f.is_null());
    }

    // Options out of range.
    let e = Publisher::new(&mut writer, &url, "s", &options().timeout_ms(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("timeout_ms"), "{e}");
    let e = Follower::new(&mut replica, &url, "s", &options().replicas(6)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let e = Follower::new(&mut replica, &url, "s", &options().client_name("a\0b")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");

    // No server there.
    let nobody = format!("nats://127.0.0.1:{}", free_port());
    let e = Publisher::new(&mut writer, &nobody, "s", &options()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    assert_eq!(e.status(), sys::PODSYNC_NATS_E_CONNECTION);
    assert_eq!(e.status_name(), "PODSYNC_NATS_E_CONNECTION");
    assert!(!e.message().is_empty());
    let e = Follower::new(&mut replica, &nobody, "s", &options()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    let e = Follower::new(&mut replica, "not a url at all", "s", &options()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Connection | ErrorKind::Server), "{e}");

    // A stream nobody created: the follower is created, its polls say so.
    let mut follower = Follower::new(&mut replica, &url, "nobody_here", &options()).unwrap();
    let e = follower.poll(Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StreamMissing, "{e}");
    assert!(e.to_string().starts_with("PODSYNC_NATS_E_STREAM_MISSING (-62): "), "{e}");
    assert!(e.message().contains("nobody_here"), "{e}");
    assert_eq!(follower.message(), e.message());
    let e = follower.poll(Duration::from_secs(3601)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let io: std::io::Error = follower.poll(Duration::ZERO).unwrap_err().into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    drop(follower);

    // After all that, the stores are as they were and usable.
    assert_eq!(writer.version().unwrap(), 0);
    assert_eq!(replica.version().unwrap(), 0);
    writer.put(PAIRS, 1, &[1u8; 16]).unwrap();
    assert_eq!(writer.flush().unwrap(), 1);
}

#[test]
fn a_frame_larger_than_the_server_accepts_is_replaced_by_a_snapshot() {
    let server = NatsServer::start();
    let url = server.url();
    let schema = common::schema();
    // Frames up to 8 MiB: more than the server's 1 MiB max_payload.
    let mut writer =
        Store::writer_with(&schema, &StoreOptions::new().max_frame_bytes(8 << 20)).unwrap();
    let mut replica = Store::replica(&schema).unwrap();
    let mut publisher = Publisher::new(&mut writer, &url, "large", &options()).unwrap();
    let mut follower = Follower::new(&mut replica, &url, "large", &options()).unwrap();
    assert_converged("empty", &mut follower, publisher.store());

    let mut rng = Rng::new(3);
    let keys: Vec<u64> = (0..100_000).collect();
    let records: Vec<[u8; 16]> = keys
        .iter()
        .map(|_| {
            let mut r = [0u8; 16];
            rng.fill(&mut r);
            r
        })
        .collect();
    publisher.store_mut().put_many(PAIRS, &keys, &records).unwrap();
    let e = publisher.flush().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MessageTooLarge, "{e}");
    assert!(e.message().contains("max_frame_bytes"), "{e}");
    let p = publisher.stats().unwrap();
    assert_eq!((p.frames_published, p.frames_dropped, p.frames_pending), (0, 1, 0), "{p:?}");
    assert_eq!(p.snapshots_published, 2, "a snapshot replaced the frame: {p:?}");
    assert_eq!(p.snapshot_version, publisher.store().version().unwrap());

    // The next frame shows the follower the gap; it heals from the snapshot.
    publisher.store_mut().put(PAIRS, 1, &[9u8; 16]).unwrap();
    assert_eq!(publisher.flush().unwrap(), 1);
    assert_converged("after the large frame", &mut follower, publisher.store());
    let f = follower.stats().unwrap();
    // The first snapshot was of the empty state at version 0, where the replica is already: it
    // started with the frames. The replacement snapshot healed the gap.
    assert_eq!(f.snapshots_taken, 1, "the replacement: {f:?}");
    assert_eq!(common::dump(follower.store(), PAIRS), common::dump(publisher.store(), PAIRS));
}

#[test]
fn frames_wait_while_the_server_is_down() {
    let mut server = NatsServer::start();
    let url = server.url();
    let mut rng = Rng::new(common::seed(11));
    let mut writer = world(&mut rng);
    let mut replica = Store::replica(&common::schema()).unwrap();
    let opts = options().timeout_ms(500).reconnect_wait_ms(50);
    let mut publisher = Publisher::new(&mut writer, &url, "outage", &opts).unwrap();
    let mut follower = Follower::new(&mut replica, &url, "outage", &opts).unwrap();
    for _ in 0..5 {
        tick(publisher.store_mut(), &mut rng);
        publisher.flush().unwrap();
    }
    assert_converged("before the outage", &mut follower, publisher.store());

    server.stop();
    for t in 0..5 {
        tick(publisher.store_mut(), &mut rng);
        let e = publisher.flush().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout), "tick {t}: {e}");
        assert!(!e.message().is_empty());
        assert_eq!(publisher.message(), e.message());
    }
    let p = publisher.stats().unwrap();
    assert_eq!(p.frames_pending, 5, "{p:?}");
    assert!(!p.connected);
    match follower.poll(Duration::from_millis(20)) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert!(matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout), "{e}"),
    }

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match publisher.flush() {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                assert!(
                    matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout),
                    "after the restart: {e}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the publisher did not publish after the restart: {e}"),
        }
    }
    let p = publisher.stats().unwrap();
    assert_eq!((p.frames_pending, p.frames_published), (0, 10), "{p:?}");
    assert!(p.reconnects >= 1, "{p:?}");
    tick(publisher.store_mut(), &mut rng);
    publisher.flush().unwrap();
    assert_converged("after the restart", &mut follower, publisher.store());
    let f = follower.stats().unwrap();
    assert_eq!(f.rejected, 0, "{f:?}");
}

#[test]
fn a_relay_republishes_to_another_server() {
    let (home, region) = (NatsServer::start(), NatsServer::start());
    let mut rng = Rng::new(common::seed(21));
    let mut writer = world(&mut rng);
    let mut edge = Store::replica(&common::schema()).unwrap();
    let mut remote = Store::replica(&common::schema()).unwrap();
    let mut publisher = Publisher::new(&mut writer, &home.url(), "world", &options()).unwrap();
    let mut relay = Follower::new(&mut edge, &home.url(), "world", &options()).unwrap();
    assert_eq!(relay.relay_stats().unwrap(), None, "not relaying yet");
    let e = relay.relay(&region.url(), "bad name", &options()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let nobody = format!("nats://127.0.0.1:{}", free_port());
    let e = relay.relay(&nobody, "world_eu", &options()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    relay.relay(&region.url(), "world_eu", &options()).unwrap();
    let mut follower = Follower::new(&mut remote, &region.url(), "world_eu", &options()).unwrap();

    let poll_both = |relay: &mut Follower<'_>, follower: &mut Follower<'_>| {
        relay.poll(Duration::from_millis(5)).unwrap();
        match follower.poll(Duration::from_millis(5)) {
            Ok(_) => {}
            // Until the relay published its first snapshot, the stream does not exist there.
            Err(e) if e.kind() == ErrorKind::StreamMissing => {}
            Err(e) => panic!("remote follower: {e}"),
        }
    };
    for _ in 0..20 {
        tick(publisher.store_mut(), &mut rng);
        assert_eq!(publisher.flush().unwrap(), 1);
        poll_both(&mut relay, &mut follower);
    }
    let version = publisher.store().version().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline
        && (relay.store().version().unwrap() < version
            || follower.store().version().unwrap() < version)
    {
        poll_both(&mut relay, &mut follower);
    }
    let digest = publisher.store().digest().unwrap();
    assert_eq!(relay.store().version().unwrap(), version, "{:?}", relay.stats().unwrap());
    assert_eq!(relay.store().digest().unwrap(), digest);
    assert_eq!(
        follower.store().version().unwrap(),
        version,
        "remote: {:?}, relay: {:?} ({})",
        follower.stats().unwrap(),
        relay.relay_stats().unwrap(),
        relay.message()
    );
    assert_eq!(follower.store().digest().unwrap(), digest);
    assert_eq!(common::dump(follower.store(), ENTITIES), common::dump(publisher.store(), ENTITIES));

    let r = relay.relay_stats().unwrap().expect("relaying");
    assert!(r.connected, "{r:?}");
    assert!(r.snapshots_published >= 1, "{r:?}");
    assert!(r.frames_published >= 1 && r.frames_pending == 0, "{r:?}");
    assert_eq!(follower.relay_stats().unwrap(), None);
    let f = follower.stats().unwrap();
    assert_eq!(f.rejected, 0, "{f:?}");
}
