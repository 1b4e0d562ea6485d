//! PodSync for Rust: replicate tables of fixed-size POD records, keyed by 64-bit ids, from one
//! writer to any number of replicas through self-describing binary frames.
//!
//! This is the safe binding of `libpodsync.so` (the C contract `include/podsync.h`; raw
//! declarations in [`sys`]). Everything a C program can do is here, in Rust's idiom:
//!
//! - handles own their C object and free it on drop: [`Schema`], [`Store<Writer>`](Store),
//!   [`Store<Replica>`](Store) (roles are types, so a writer-only call on a replica does not
//!   compile), and [`Store<Feed>`](Store), which its writer holds;
//! - every fallible call returns [`Result`]; an [`Error`] carries the status, its name and the
//!   message the library recorded; informational statuses are enums ([`WriteOutcome`],
//!   [`Applied`], [`Delta`], [`DeleteOutcome`]);
//! - nothing is copied where the engine can avoid it: records, tables ([`TableView`]) and frames
//!   are borrowed from the engine's memory, tied by lifetimes to the store, so a write while a
//!   view is alive does not compile; bulk calls ([`Store::put_many`], [`Store::delete_many`])
//!   cross the boundary once; records are your own `#[repr(C)]` types through [`Pod`];
//! - [`frame`] reads frames without a store: header, validation (bounded with
//!   [`frame::validate_limited`]), sections in place, and an aligned receive buffer;
//! - what a store may cost is bounded by [`StoreOptions`]: `max_records` (a write or frame past it
//!   fails with [`ErrorKind::Limit`], changing nothing), `max_tombstones` and `max_decoded_bytes`
//!   (since library 0.4.0). A replica fed from an untrusted source sets `max_records` and
//!   `max_decoded_bytes`;
//! - [`Store::metrics`] reads a store's counters as a [`Metrics`] of plain values: frames, records
//!   and bytes produced and applied, what compression saved, duplicates, gaps, apply errors by
//!   [`ErrorKind`] ([`Rejects`]) and log2 histograms of encode and apply times;
//!   [`Metrics::to_prometheus`] formats them as Prometheus text for a `/metrics` endpoint;
//! - a large state travels as a **chunked snapshot** (since library 0.5.0): frames of bounded size
//!   cut from the state at one version while the writer keeps writing
//!   ([`Store::begin_snapshot`] and [`Snapshot::next_chunk`], or the iterator
//!   [`Store::snapshot_chunks`]); a replica stages them beside its state
//!   ([`Applied::ChunkStaged`]) and switches at the last one, and a lost chunk is resumed
//!   ([`Applied::ChunkGap`], [`Store::staging`], [`Store::snapshot_resume`], [`ChunkPosition`]);
//!   [`Store::snapshot`] cuts a state larger than `max_frame_bytes` into chunks by itself;
//! - frames of format 2 (since library 0.5.0; compact headers, what writers write by default
//!   since library 0.8.0, [`StoreOptions::frame_format`]) are read like those of format 1: a
//!   stream reader reads the 16-byte prefix first ([`frame::PREFIX_SIZE`],
//!   [`frame::FrameBuf::read_frame`]);
//! - replicas on a link that cannot ask back converge by the writer's **rolling refresh** (since
//!   library 0.5.0): with [`StoreOptions::refresh_flushes`] every flush also carries the next
//!   slice of the writer's state ([`frame::FrameInfo::has_slice`], [`frame::slice_sections`]),
//!   and [`StoreOptions::refresh_ms`] keeps an idle writer sending them; a
//!   [`StoreOptions::one_way`] replica never reports a gap: out of sync it takes newer content key
//!   by key ([`Applied::Refreshing`], [`StoreInfo::refreshing`]) until its digest equals a
//!   frame's;
//! - a store may live in a **directory** as well as in memory (since library 0.6.0):
//!   [`Store::open`] creates it or restores it from its checkpoints and frame log
//!   ([`Durability`], [`LogPolicy`], [`OpenInfo`]), [`Store::checkpoint`] and
//!   [`Store::begin_checkpoint`] write checkpoints, and a replica takes over a dead writer's stream
//!   with [`Store::promote`] in a new **term** that fences the old writer
//!   ([`ErrorKind::TermFenced`], [`ErrorKind::HistoryDiverged`]); see
//!   [Durability and failover](#durability-and-failover);
//! - a replica can say which keys each apply changed, table by table (**change events**, since
//!   library 0.7.0): [`Store::track_changes`] turns them on, [`Store::changes`] lends the keys the
//!   last [`Store::apply`] upserted and deleted ([`Changes`]), tied by a lifetime to the store so
//!   that they cannot be read after the next apply; see [Change events](#change-events);
//! - a replica that differs from its writer in a few records (diverged, below the catch-up floor,
//!   restored from an old checkpoint, of another term) is healed by **reconciliation** (since
//!   library 0.7.0): summaries of both sides' hash trees ([`Store::summary`],
//!   [`Store::reconcile`]) narrow the difference down to a few buckets, and a repair frame holding
//!   only their records brings the replica to the responder's state ([`ErrorKind::RepairStale`]
//!   if the replica moved meanwhile); [`reconcile()`] runs a whole exchange between two stores of
//!   one process ([`ReconcileReport`]); see [Reconciliation](#reconciliation);
//! - a replica can hold part of a stream (**subscriptions**, since library 0.8.0): some tables,
//!   key ranges, shards ([`Subscription`], [`Store::subscribe`]); its writer, or a replica of
//!   the whole stream (a **relay**), serves each distinct subscription from a **feed**
//!   ([`Store::feed`], [`Store<Feed>`](Feed)) that follows the writer's flushes (the relay's
//!   applies) and produces the subset's frames once for all its replicas; any other frame is
//!   refused ([`ErrorKind::NotSubscribed`]); see [Subscriptions](#subscriptions);
//! - with the cargo feature `nats` (off by default; it links `libpodsync_nats.so`, which needs
//!   libnats), the module `nats` carries a store's frames over **NATS JetStream**
//!   (`include/podsync_nats.h`): a `Publisher` borrows a writer and publishes each flush's frames
//!   and periodic chunked snapshots, a `Follower` borrows a replica and applies them, bootstrapping
//!   from the newest snapshot and repairing gaps from the stream; the carrier's errors are
//!   `ErrorKind::Connection`, `Timeout`, `StreamMissing`, `MessageTooLarge`, `Server` and
//!   `NotAMessage`.
//!
//! # Quick start
//!
//! ```
//! use podsync::{Applied, Field, FieldType, Pod, Schema, Store};
//!
//! #[derive(Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Entity {
//!     id: u64,
//!     pos: [f32; 3],
//!     rot: [f32; 4],
//!     flags: u32,
//! }
//! // SAFETY: repr(C), Pod fields only, no padding (40 bytes).
//! unsafe impl Pod for Entity {}
//!
//! fn main() -> podsync::Result<()> {
//!     // 1. A schema: table 1 holds 40-byte entity records (fields describe the layout).
//!     let schema = Schema::new().table_of::<Entity>(1, &[
//!         Field::new("id", FieldType::U64, 0, 1),
//!         Field::new("pos", FieldType::F32, 8, 3),
//!         Field::new("rot", FieldType::F32, 20, 4),
//!         Field::new("flags", FieldType::U32, 36, 1),
//!     ])?;
//!
//!     // 2. A writer and a replica of that schema (each keeps its own copy of it).
//!     let mut writer = Store::writer(&schema)?;
//!     let mut replica = Store::replica(&schema)?;
//!
//!     // 3. Writes are coalesced per key until the next flush.
//!     let entity = |id: u64, x: f32| Entity { id, pos: [x, 0.0, 0.0], rot: [0.0, 0.0, 0.0, 1.0], flags: 0 };
//!     let ids = [1, 2, 3];
//!     writer.put_many(1, &ids, &ids.map(|id| entity(id, id as f32)))?; // one call
//!     writer.put_as(1, 2, &Entity { flags: 7, ..entity(2, 2.5) })?;     // the last value wins
//!     writer.delete(1, 3)?;                                             // created and deleted: not sent
//!
//!     // 4. Flush turns the batch into frames: borrowed, 64-byte aligned bytes to send anywhere.
//!     writer.flush()?;
//!     for frame in writer.frames() {
//!         // 5. The replica applies each frame (here in-process; normally after a pipe or socket).
//!         assert_eq!(replica.apply(frame)?, Applied::Ok);
//!     }
//!
//!     // 6. Equal digests mean equal records; reads borrow the store's memory.
//!     assert_eq!(replica.digest()?, writer.digest()?);
//!     assert_eq!(replica.count(1)?, 2);
//!     let e2: &Entity = replica.get_as(1, 2)?.expect("entity 2");
//!     assert_eq!((e2.pos[0], e2.flags), (2.5, 7));
//!     let all: &[Entity] = replica.table(1)?.as_slice()?;
//!     assert_eq!(all.len(), 2);
//!     Ok(())
//! }
//! ```
//!
//! # Catching up
//!
//! Frames may be lost, duplicated or reordered on their way: duplicates and late frames are
//! no-ops ([`Applied::Duplicate`], [`Applied::Stale`]) and a gap is healed by one catch-up frame:
//!
//! ```
//! # use podsync::{Applied, Delta, Schema, Store};
//! # fn main() -> podsync::Result<()> {
//! # let schema = Schema::new().table(1, 8, 8, &[])?;
//! # let mut writer = Store::writer(&schema)?;
//! # let mut replica = Store::replica(&schema)?;
//! writer.put_as(1, 1, &1u64)?;
//! writer.flush()?;            // frame v0 -> v1: lost
//! writer.put_as(1, 2, &2u64)?;
//! writer.flush()?;            // frame v1 -> v2
//! let frame = writer.frames().next().unwrap().to_vec();
//! if let Applied::Gap { replica_version } = replica.apply(&frame)? {
//!     match writer.delta_since(replica_version)? {
//!         Delta::Frames(_) => {}
//!         Delta::SnapshotRequired => { writer.snapshot()?; }
//!     }
//!     for f in writer.frames() {
//!         assert_eq!(replica.apply(f)?, Applied::Ok);
//!     }
//! }
//! assert_eq!(replica.version()?, 2);
//! assert_eq!(replica.digest()?, writer.digest()?);
//! # Ok(()) }
//! ```
//!
//! # Change events
//!
//! A game client needs to know which entities spawned and despawned, a cache which entries to
//! invalidate. A replica can tell, after every [`Store::apply`], which keys of each table it
//! upserted (inserted, or replaced with other bytes) and deleted (since library 0.7.0). Tracking
//! is off by default; [`Store::track_changes`] turns it on, and [`Store::changes`] borrows the
//! lists of one table ([`Changes`]) until the next apply. A put that leaves a record as it was is
//! not listed; a snapshot that replaces the state is flagged ([`Changes::replaced`]) and lists
//! every key it holds as upserted, every key that is gone as deleted.
//!
//! ```
//! use podsync::{Applied, Schema, Store};
//! # fn main() -> podsync::Result<()> {
//! let schema = Schema::new().table(1, 8, 8, &[])?;
//! let mut writer = Store::writer(&schema)?;
//! let mut replica = Store::replica(&schema)?;
//! replica.track_changes(true)?;
//!
//! writer.put_many(1, &[1, 2, 3], &[10u64, 20, 30])?;
//! writer.flush()?;
//! assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
//!
//! writer.put_as(1, 1, &10u64)?; // the value it holds: no change, nothing sent
//! writer.put_as(1, 2, &21u64)?;
//! writer.delete(1, 3)?;
//! writer.flush()?;
//! assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
//! let changes = replica.changes(1)?;
//! for key in changes.upserted() {
//!     println!("updated {key}: {:?}", replica.get_as::<u64>(1, *key)?);
//! }
//! for key in changes.deleted() {
//!     println!("despawned {key}");
//! }
//! assert_eq!((changes.upserted(), changes.deleted()), (&[2][..], &[3][..]));
//! assert!(!changes.replaced() && changes.complete());
//! # Ok(()) }
//! ```
//!
//! # Reconciliation
//!
//! A replica that holds nearly the writer's state but cannot continue with deltas (it applied
//! frames of another writer and [diverged](ErrorKind::DigestMismatch), it fell below the writer's
//! [catch-up floor](StoreInfo::catchup_floor) so [`Store::delta_since`] answers
//! [`Delta::SnapshotRequired`], it reopened an old checkpoint, it followed a term the new writer
//! fenced) need not take a whole snapshot (since library 0.7.0). Every store keeps a hash tree of
//! its state along with its digest, so a few **summary messages** find the buckets that differ
//! and a **repair frame** carries only their records, plus what changed meanwhile:
//!
//! 1. the replica summarizes its tree: [`Store::summary`] puts one message in its outbox;
//! 2. the responder (the writer, or an up-to-date replica) answers with [`Store::reconcile`]: a
//!    message one level down the tree where buckets differ, a repair frame, or nothing (in sync);
//! 3. the replica answers a message with [`Store::reconcile`] too, and so on;
//! 4. the replica [applies](Store::apply) the repair frame, whatever its version, stream, term or
//!    diverged mark, if its state is still the one it summarized ([`ErrorKind::RepairStale`]
//!    otherwise, with nothing changed: start again). It then holds the responder's state and
//!    version, and continues with its deltas.
//!
//! Messages and repair frames are format-2 frames ([`frame::FrameInfo::is_summary`],
//! [`frame::FrameInfo::is_repair`]) that travel like any frame, borrowed from the outbox; each
//! holds all the exchange needs, so a lost one is sent again or the exchange started over. Within
//! one process, [`reconcile()`] runs the whole exchange and reports its cost
//! ([`ReconcileReport`]):
//!
//! ```
//! use podsync::{Applied, ErrorKind, Schema, Store, StoreOptions};
//! # fn main() -> podsync::Result<()> {
//! let schema = Schema::new().table(1, 8, 8, &[])?;
//! // Two writers of one stream id (a writer that came back, a misrouted feed).
//! let opts = StoreOptions::new().stream_id(7);
//! let mut writer = Store::writer_with(&schema, &opts)?;
//! let mut impostor = Store::writer_with(&schema, &opts)?;
//! let keys: Vec<u64> = (0..10_000).collect();
//! for w in [&mut writer, &mut impostor] {
//!     w.put_many(1, &keys, &keys)?;
//!     w.flush()?;
//! }
//! let mut replica = Store::replica(&schema)?;
//! writer.snapshot()?;
//! let snapshot_bytes = writer.frame(0).unwrap().len();
//! assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
//!
//! // The replica takes the impostor's next frame, then finds the writer's does not fit.
//! impostor.put_as(1, 5, &55u64)?;
//! impostor.flush()?;
//! assert_eq!(replica.apply(impostor.frame(0).unwrap())?, Applied::Ok);
//! writer.put_as(1, 6, &66u64)?;
//! writer.flush()?;
//! writer.put_as(1, 7, &77u64)?;
//! writer.flush()?;
//! let err = replica.apply(writer.frame(0).unwrap()).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::DigestMismatch); // now diverged
//!
//! // Repaired in a few messages, with a few records instead of a 10,000-record snapshot.
//! let report = podsync::reconcile(&mut replica, &mut writer)?;
//! assert!(report.repaired);
//! assert_eq!(replica.digest()?, writer.digest()?);
//! assert_eq!(replica.get_as::<u64>(1, 5)?, Some(&5));
//! assert!(report.total_bytes() < snapshot_bytes / 10, "{report:?}");
//!
//! // And it continues with deltas.
//! writer.put_as(1, 8, &88u64)?;
//! writer.flush()?;
//! assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
//! # Ok(()) }
//! ```
//!
//! Between processes the host carries the messages itself, as [`Store::reconcile`] shows: each
//! answer goes to the other side's [`Store::reconcile`] if it is a summary, to the replica's
//! [`Store::apply`] if it is a repair.
//!
//! # Subscriptions
//!
//! A client that shows one region of a world, a service that caches one tenant's rows, a worker
//! that handles one shard: each needs part of a stream (since library 0.8.0). A
//! [`Subscription`] names it: tables, per table key ranges (inclusive), and/or some of the 2^s
//! shards that split every table evenly. The replica [subscribes](Store::subscribe) with the
//! subscription's bytes ([`Subscription::encode`]) while it is empty and sends the same bytes to
//! its writer once. The writer serves each distinct subscription from a **feed**
//! ([`Store::feed`]): a `Store<Feed>` that holds the writer's records of the subset, takes the
//! changes of each of the writer's flushes, and produces the subset's frames with the ordinary
//! calls: [`flush`](Store::flush) (one frame for all the replicas of the subscription),
//! [`delta_since`](Store::delta_since), [`snapshot`](Store::snapshot),
//! [`begin_snapshot`](Store::begin_snapshot), [`reconcile`](Store::reconcile). A feed's frames
//! carry the writer's versions and the subset's digest; a subscriber applies them only
//! ([`ErrorKind::NotSubscribed`] for the whole stream's frames or another subscription's), and a
//! replica of the whole stream only the whole stream's.
//!
//! The writer holds its feeds and lends them: its flush writes into them, so the borrow checker
//! keeps anything borrowed from a feed from living across it (copy frames with `to_vec` to keep
//! them longer). [`std::mem::swap`] of two stores' feeds would defeat that; a writer (or relay)
//! holding a feed of another store refuses the calls that write into feeds
//! ([`ErrorKind::InvalidArgument`]) until they are swapped back.
//!
//! ```
//! use podsync::{Applied, ErrorKind, Schema, Store, Subscription};
//! # fn main() -> podsync::Result<()> {
//! let schema = Schema::new().table(1, 8, 8, &[])?.table(2, 8, 8, &[])?;
//! let mut writer = Store::writer(&schema)?;
//!
//! // The replica's side: keys 0 to 99 of table 1.
//! let (bytes, hash) = Subscription::new().table_ranges(1, [0..=99]).encode()?;
//! let mut replica = Store::replica(&schema)?;
//! replica.subscribe(&bytes)?;
//!
//! // The writer's side, once the bytes arrived: the subscription's feed.
//! writer.feed(&bytes)?;
//! writer.put_many(1, &[1, 50, 500], &[1u64, 50, 500])?;
//! writer.put_as(2, 7, &7u64)?;
//! writer.flush()?; // the whole stream's frame
//! let version = writer.version()?;
//! let feed = writer.find_feed_mut(hash).expect("made above");
//! feed.flush()?; // the subset's frame, once for all its replicas
//! for frame in feed.frames() {
//!     assert_eq!(replica.apply(frame)?, Applied::Ok);
//! }
//! assert_eq!((replica.count(1)?, replica.count(2)?), (2, 0)); // keys 1 and 50
//! assert_eq!(replica.digest()?, feed.digest()?);
//! assert_eq!(replica.version()?, version);
//!
//! // The whole stream's frames are not for a subscriber.
//! let err = replica.apply(writer.frame(0).unwrap()).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::NotSubscribed);
//! # Ok(()) }
//! ```
//!
//! A subscriber that missed frames catches up from its feed ([`Store::delta_since`], a snapshot
//! below the feed's catch-up floor, or [`reconcile()`] with the feed as the responder), and a
//! subscribed replica serves its subset to further replicas of the same subscription.
//!
//! A replica of the whole stream serves feeds too: a **relay** (a region's, an edge's) follows
//! the writer and serves the subscriptions of its own subscribers, so the writer encodes nothing
//! for them ([`FeedSource`]: `Store<Writer>` and `Store<Replica>` have the same [`Store::feed`],
//! [`Store::find_feed`], [`Store::feeds`], [`Store::close_feed`]). A relay's
//! [`apply`](Store::apply) does to its feeds what a writer's flush does: a delta reaches them key
//! by key; any other frame that changes the relay (a snapshot, the last chunk of a chunked one,
//! a repair, a one-way refresh) rebuilds them from its state, so their catch-up floor restarts
//! there (a subscriber behind it takes a snapshot of the feed) and their chunked snapshots in
//! flight end ([`ErrorKind::SnapshotExpired`]); so does the first frame of a relay that followed
//! no stream yet (make its feeds once it follows the writer). The relay holds and lends its feeds as a writer
//! does, and `apply` (like every call that can apply a frame: [`reconcile()`]'s repair, the
//! chunks of a snapshot, a NATS follower's poll) takes it by `&mut`, so nothing borrowed from a
//! feed lives across it. A diverged relay makes no feed ([`ErrorKind::Diverged`]), nor does a
//! subscribed replica ([`ErrorKind::WrongRole`]).
//!
//! ```
//! use podsync::{Applied, Delta, Schema, Store, Subscription};
//! # fn main() -> podsync::Result<()> {
//! let schema = Schema::new().table(1, 8, 8, &[])?;
//! let (bytes, hash) = Subscription::new().table_ranges(1, [0..=99]).encode()?;
//! let mut writer = Store::writer(&schema)?;
//! let mut relay = Store::replica(&schema)?;
//! writer.put_as(1, 1, &1u64)?;
//! writer.flush()?;
//! assert_eq!(relay.apply(writer.frame(0).unwrap())?, Applied::Ok); // it follows the writer
//!
//! // The relay's side, once the subscriber's bytes arrived: a feed, and its snapshot.
//! let mut subscriber = Store::replica(&schema)?;
//! subscriber.subscribe(&bytes)?;
//! let feed = relay.feed(&bytes)?;
//! feed.snapshot()?;
//! assert_eq!(subscriber.apply(feed.frame(0).unwrap())?, Applied::Ok);
//!
//! // The writer's flushes reach the subscriber through the relay.
//! writer.put_many(1, &[50, 500], &[50u64, 500])?;
//! writer.flush()?;
//! assert_eq!(relay.apply(writer.frame(0).unwrap())?, Applied::Ok);
//! let feed = relay.find_feed_mut(hash).expect("made above");
//! feed.flush()?; // the subset's frame, made by the relay
//! assert_eq!(subscriber.apply(feed.frame(0).unwrap())?, Applied::Ok);
//! assert_eq!((subscriber.count(1)?, subscriber.version()?), (2, 2));
//!
//! // The relay misses a frame, then takes a snapshot of the writer: its feed is rebuilt at the
//! // writer's version, so the subscriber catches up with a snapshot of the feed.
//! writer.put_as(1, 2, &2u64)?;
//! writer.flush()?; // lost on the way to the relay
//! writer.put_as(1, 3, &3u64)?;
//! writer.flush()?;
//! assert!(matches!(relay.apply(writer.frame(0).unwrap())?, Applied::Gap { .. }));
//! writer.snapshot()?;
//! assert_eq!(relay.apply(writer.frame(0).unwrap())?, Applied::Ok);
//! let feed = relay.find_feed_mut(hash).unwrap();
//! assert_eq!(feed.delta_since(subscriber.version()?)?, Delta::SnapshotRequired);
//! feed.snapshot()?;
//! assert_eq!(subscriber.apply(feed.frame(0).unwrap())?, Applied::Ok);
//! assert_eq!((subscriber.count(1)?, subscriber.version()?), (4, 4));
//! assert_eq!(subscriber.digest()?, feed.digest()?);
//! # Ok(()) }
//! ```
//!
//! # Durability and failover
//!
//! A store opened with [`Store::open`] (instead of [`Store::writer`] or [`Store::replica`]) lives
//! in a directory: complete **checkpoints** (`checkpoint-<n>.psc`: the state, each record's
//! version, the remembered deletions) and a **frame log** (`log-<n>.psl`: every frame a writer
//! hands out, every frame a replica applies), locked while the store is open. Opening the
//! directory again restores the newest checkpoint that verifies, then the log after it
//! ([`OpenInfo`]). A restored writer keeps its stream id, version and record versions, so its
//! replicas continue with deltas. Checkpoint ([`Store::checkpoint`], or step by step with
//! [`Store::begin_checkpoint`] while the store keeps working) when [`StoreInfo::log_bytes`] grows
//! large. [`Store::sync`] fsyncs the log now.
//!
//! ```
//! use podsync::{Applied, Durability, LogPolicy, Schema, Store, StoreOptions, Writer};
//! # fn main() -> podsync::Result<()> {
//! let dir = std::env::temp_dir().join(format!("podsync-doc-durable-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let schema = Schema::new().table(1, 8, 8, &[])?;
//! let opts = StoreOptions::new();
//! let every_frame = Durability::new(); // LogPolicy::EveryFrame: fsync before flush returns
//! let (mut writer, found) = Store::<Writer>::open(&dir, Some(&schema), &opts, &every_frame)?;
//! assert!(found.created);
//! let mut replica = Store::replica(&schema)?;
//! for i in 0..3u64 {
//!     writer.put_as(1, i, &i)?;
//!     writer.flush()?;
//!     assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
//! }
//! writer.checkpoint()?;
//! drop(writer); // or a crash: every frame handed out was on disk first
//!
//! // Reopened at exactly the version it handed out, in the same term: the replica goes on.
//! let (mut writer, found) = Store::<Writer>::open(&dir, None, &opts, &every_frame)?;
//! assert_eq!((found.restored_version, found.new_term), (3, false));
//! writer.put_as(1, 9, &9u64)?;
//! writer.flush()?;
//! assert_eq!(replica.apply(writer.frame(0).unwrap())?, Applied::Ok);
//! assert_eq!(replica.digest()?, writer.digest()?);
//! drop(writer);
//!
//! // With any other policy a writer cannot prove it lost nothing: reopened, it starts a new
//! // term, so replicas that saw versions it lost are told (ErrorKind::HistoryDiverged).
//! let os = Durability::new().log_policy(LogPolicy::Os);
//! let (mut writer, _) = Store::<Writer>::open(&dir, None, &opts, &os)?;
//! writer.put_as(1, 10, &10u64)?;
//! writer.flush()?; // written, not fsynced
//! drop(writer);
//! let (writer, found) = Store::<Writer>::open(&dir, None, &opts, &os)?;
//! assert!(found.new_term);
//! assert_eq!(writer.info()?.term, found.term);
//! assert!(found.term > 0);
//! # drop(writer);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(()) }
//! ```
//!
//! **Failover.** When a writer's machine dies, [`Store::promote`] turns a replica into the writer
//! of the same stream in a new term, continuing from its version: replicas at versions up to the
//! promotion point continue with deltas from it; one that applied later versions of the old term
//! gets [`ErrorKind::HistoryDiverged`] (nothing changed) and heals with a snapshot of the new
//! writer; the old writer, if it comes back, is fenced ([`ErrorKind::TermFenced`]). PodSync does
//! not elect: whoever promotes picks a term above every term it has seen, never the same twice.
//! A full disk or a read-only directory fails the call that wrote with [`ErrorKind::Io`], leaving
//! the older files intact and the store working in memory ([`StoreInfo::log_failed`]); a
//! directory whose checkpoints are all damaged fails to open with [`ErrorKind::FileCorrupt`].
//!
//! # Linking
//!
//! `podsync-sys` links `libpodsync.so` from `$PODSYNC_LIB_DIR` (absolute, or relative to the
//! repository root), else from an installed PodSync that `pkg-config` finds (`podsync.pc`, written
//! by `make install`), else from the repository's `.build/release` (built by
//! `bash .ci/build-lib`), and sets an rpath for the tests, examples and doc tests of this
//! workspace. Cargo passes `rustc-link-arg` only to the package that prints it, so a program
//! outside the workspace needs the library on its loader path: an rpath of its own (a build
//! script printing `cargo::rustc-link-arg=-Wl,-rpath,DIR`, or
//! `RUSTFLAGS="-C link-arg=-Wl,-rpath,DIR"`), `LD_LIBRARY_PATH`, or a system directory.
//!
//! # Threads
//!
//! Handles are [`Send`], not [`Sync`]: a handle is used by one thread at a time and may move
//! between threads; distinct handles are independent. A [`Snapshot`] belongs to its store for
//! threading: it calls the library only inside [`Snapshot::next_chunk`], which borrows the store
//! mutably, and one dropped while its store lives is freed by the store (see [`Snapshot`]); a
//! [`Checkpoint`] the same, through [`Checkpoint::step`]. A writer's feeds ([`Store::feed`])
//! live in the writer and move with it: its flush writes into them; a relay's (a replica of the
//! whole stream serving feeds) the same, written into by its apply. A NATS publisher or follower
//! (feature `nats`) borrows its store mutably and moves with it: `Send`, not `Sync`.
//! There are no callbacks, so no panic can cross the C boundary.

#![warn(missing_debug_implementations)]
#![warn(missing_docs)]
// Every fallible function says when it fails, every panicking one when it panics; every unsafe
// block says why it is sound. `bash bindings/rust/lint.sh` denies these warnings.
#![warn(clippy::missing_errors_doc)]
#![warn(clippy::missing_panics_doc)]
#![warn(clippy::missing_safety_doc)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub use podsync_sys as sys;

mod changes;
mod checkpoint;
mod durability;
mod error;
mod failover;
pub mod frame;
mod metrics;
#[cfg(feature = "nats")]
pub mod nats;
mod pod;
mod reconcile;
mod registry;
mod schema;
mod snapshot;
mod store;
mod subscription;

pub use changes::Changes;
pub use checkpoint::Checkpoint;
pub use durability::{AnyStore, Durability, LogPolicy, OpenInfo};
pub use error::{Error, ErrorKind, Result, status_name};
pub use failover::PromoteError;
pub use metrics::{HISTOGRAM_BUCKETS, Metrics, Rejects};
pub use pod::{Pod, bytes_of, slice_as_bytes, try_cast_slice};
pub use reconcile::{ReconcileReport, reconcile};
pub use schema::{Field, FieldType, Schema, TableDef};
pub use snapshot::{ChunkPosition, MIN_CHUNK_BYTES, Snapshot, SnapshotChunks};
pub use store::{
    Applied, DeleteMany, DeleteOutcome, Delta, Feed, FeedSource, Frames, Replica, Role, Store,
    StoreInfo, StoreOptions, StoreRole, TableView, WriteOutcome, Writer,
};
pub use subscription::Subscription;

/// The ABI version this binding was written for (`PODSYNC_ABI_VERSION`).
pub const ABI_VERSION: u32 = sys::PODSYNC_ABI_VERSION;

/// The loaded library's version as `MAJOR*10000 + MINOR*100 + PATCH` (`podsync_version_number`).
pub fn library_version() -> u32 {
    sys::podsync_version_number()
}

/// The ABI version the loaded library implements (`podsync_abi_version`).
pub fn library_abi_version() -> u32 {
    sys::podsync_abi_version()
}

/// Checks that the loaded library implements the ABI this binding was written for, as
/// `docs/ABI.md` asks of bindings. Every constructor (and the [`frame`] functions) makes this
/// check once per process and panics on a mismatch, since no call into such a library can be
/// trusted.
///
/// # Errors
///
/// The library's ABI version if it differs from [`ABI_VERSION`].
pub fn check_abi() -> std::result::Result<(), u32> {
    match library_abi_version() {
        v if v == ABI_VERSION => Ok(()),
        v => Err(v),
    }
}

pub(crate) fn ensure_abi() {
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| {
        if let Err(v) = check_abi() {
            panic!(
                "libpodsync.so implements ABI version {v}, but the podsync crate was written for ABI version \
                 {ABI_VERSION}: rebuild against the matching library"
            );
        }
    });
}
