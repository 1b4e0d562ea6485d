//! Subscriptions (since library 0.8.0): a replica that holds part of a stream ([`Subscription`],
//! [`Store::subscribe`]), served by a feed of its writer or of a replica of the whole stream, a
//! relay ([`Store::feed`], [`Feed`], [`FeedSource`]).

use std::fmt;
use std::ops::RangeInclusive;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result};
use crate::store::{Feed, FeedSource, Replica, Role, Store, StoreRole, unexpected};

/// A subscription (since library 0.8.0): the part of a stream a replica holds. A record of table
/// `t` under `key` belongs to it when `t` is listed, `key` lies in one of the table's key ranges
/// (or the table lists none), and, with `shard_bits` s > 0, the key's shard is listed. A key's
/// shard is the top s bits of its seed, the hash the digest and the hash tree already use, so the
/// 2^s shards split every table evenly.
///
/// The builder keeps tables, ranges and shards in the order given: the library's rules are
/// checked by [`encode`](Subscription::encode) ([`ErrorKind::InvalidArgument`] naming the rule
/// broken), which gives the canonical bytes a replica subscribes with
/// ([`Store::subscribe`]) and sends to its writer once, for [`Store::feed`]. Whether the tables
/// exist is checked against a schema by those two calls.
///
/// The rules (`podsync_subscription`): at least one table, in strictly ascending table id; each
/// table's ranges inclusive (`lo <= hi`), ascending, neither overlapping nor adjacent
/// (`hi + 1 <` the next `lo`; merge them instead); `shard_bits` 0 (no shard filter, no shards) or
/// 1 to 16, with shard ids strictly ascending, each below 2^`shard_bits`.
///
/// ```
/// use podsync::{ErrorKind, Subscription};
/// use std::ops::RangeInclusive;
/// # fn main() -> podsync::Result<()> {
/// // Keys 0 to 999 and 5000 to 5999 of table 1, every key of table 2, shards 0 and 3 of 4.
/// let sub = Subscription::new()
///     .table_ranges(1, [0..=999, 5000..=5999])
///     .table(2)
///     .shards(2, [0, 3]);
/// let (bytes, hash) = sub.encode()?;
/// assert!(!bytes.is_empty());
/// assert_eq!(Subscription::new().table(1).encode()?.0, Subscription::new().table(1).encode()?.0);
/// assert_ne!(Subscription::new().table(1).encode()?.1, hash);
///
/// // Rules broken: refused by the library, which says which.
/// let inverted = Subscription::new().table_ranges(1, [RangeInclusive::new(10, 5)]); // 10 > 5
/// assert_eq!(inverted.encode().unwrap_err().kind(), ErrorKind::InvalidArgument);
/// let unsorted = Subscription::new().table(2).table(1);
/// assert_eq!(unsorted.encode().unwrap_err().kind(), ErrorKind::InvalidArgument);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Subscription {
    tables: Vec<(u32, Vec<RangeInclusive<u64>>)>,
    shard_bits: u32,
    shards: Vec<u32>,
}

impl Subscription {
    /// An empty subscription (no table yet: [`encode`](Subscription::encode) refuses it until one
    /// is added).
    pub fn new() -> Subscription {
        Subscription::default()
    }

    /// Adds every key of table `table_id`.
    pub fn table(mut self, table_id: u32) -> Subscription {
        self.tables.push((table_id, Vec::new()));
        self
    }

    /// Adds the keys of table `table_id` that lie in `ranges` (each inclusive: `lo..=hi`),
    /// ascending, neither overlapping nor adjacent. No range at all means every key of the table,
    /// as [`table`](Subscription::table).
    pub fn table_ranges(
        mut self,
        table_id: u32,
        ranges: impl IntoIterator<Item = RangeInclusive<u64>>,
    ) -> Subscription {
        self.tables.push((table_id, ranges.into_iter().collect()));
        self
    }

    /// Keeps only the keys of `shards` (ids strictly ascending, each below 2^`shard_bits`) among
    /// the 2^`shard_bits` shards (`shard_bits` 1 to 16; 0, the default, keeps every shard and
    /// takes no shard id). Replaces the shards given before.
    pub fn shards(
        mut self,
        shard_bits: u32,
        shards: impl IntoIterator<Item = u32>,
    ) -> Subscription {
        self.shard_bits = shard_bits;
        self.shards = shards.into_iter().collect();
        self
    }

    /// The tables, in the order given, each with its ranges (empty: every key).
    pub fn tables(&self) -> &[(u32, Vec<RangeInclusive<u64>>)] {
        &self.tables
    }

    /// The shard bits (0: no shard filter).
    pub fn shard_bits(&self) -> u32 {
        self.shard_bits
    }

    /// The shard ids kept (empty with `shard_bits` 0).
    pub fn shard_ids(&self) -> &[u32] {
        &self.shards
    }

    /// The canonical encoding of the subscription and its hash (`podsync_subscription_encode`):
    /// the bytes a replica [subscribes](Store::subscribe) with and sends to its writer once, for
    /// [`Store::feed`]; the hash is the one the feed's frames carry and
    /// [`Store::subscription`] reports, and names the feed in [`Store::find_feed`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] when the subscription breaks a rule (see [`Subscription`]):
    /// no table, tables not in strictly ascending id, an inverted range (`lo > hi`), ranges out of
    /// order, overlapping or adjacent, `shard_bits` above 16, shards out of order or not below
    /// 2^`shard_bits`, shards without `shard_bits`; the message, the library's, names it. Also
    /// when a count does not fit the C struct's `u32` (checked by this binding).
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn encode(&self) -> Result<(Vec<u8>, u64)> {
        crate::ensure_abi();
        let too_many = |what: &str, n: usize| {
            Error::from_kind(
                ErrorKind::InvalidArgument,
                format!(
                    "Subscription::encode: {n} {what} do not fit a u32 (checked by the Rust \
                     binding)"
                ),
            )
        };
        let ranges: Vec<Vec<sys::podsync_key_range>> = self
            .tables
            .iter()
            .map(|(_, r)| {
                r.iter().map(|r| sys::podsync_key_range { lo: *r.start(), hi: *r.end() }).collect()
            })
            .collect();
        let mut tables = Vec::with_capacity(self.tables.len());
        for ((table_id, _), ranges) in self.tables.iter().zip(&ranges) {
            tables.push(sys::podsync_subscription_table {
                table_id: *table_id,
                range_count: u32::try_from(ranges.len())
                    .map_err(|_| too_many("ranges", ranges.len()))?,
                ranges: if ranges.is_empty() { ptr::null() } else { ranges.as_ptr() },
            });
        }
        let raw = sys::podsync_subscription {
            version: sys::PODSYNC_SUBSCRIPTION_VERSION,
            shard_bits: self.shard_bits,
            shard_count: u32::try_from(self.shards.len())
                .map_err(|_| too_many("shards", self.shards.len()))?,
            table_count: u32::try_from(tables.len())
                .map_err(|_| too_many("tables", tables.len()))?,
            shards: if self.shards.is_empty() { ptr::null() } else { self.shards.as_ptr() },
            tables: if tables.is_empty() { ptr::null() } else { tables.as_ptr() },
        };
        let (mut size, mut hash) = (0usize, 0u64);
        // SAFETY: `raw` points into `tables`, `ranges` and `self.shards`, alive and unchanged
        // for the call, with the counts it states; no buffer (capacity 0); valid out-pointers.
        let st = unsafe {
            sys::podsync_subscription_encode(&raw, ptr::null_mut(), 0, &mut size, &mut hash)
        };
        match st {
            sys::PODSYNC_OK => return Ok((Vec::new(), hash)),
            sys::PODSYNC_E_BUFFER_TOO_SMALL => {}
            s => return Err(encode_error(s)),
        }
        let mut bytes = vec![0u8; size];
        // SAFETY: as above, with a buffer of `size` writable bytes.
        let st = unsafe {
            sys::podsync_subscription_encode(
                &raw,
                bytes.as_mut_ptr().cast(),
                bytes.len(),
                &mut size,
                &mut hash,
            )
        };
        match st {
            sys::PODSYNC_OK if size <= bytes.len() => {
                bytes.truncate(size);
                Ok((bytes, hash))
            }
            s => Err(encode_error(s)),
        }
    }
}

/// The error of `podsync_subscription_encode` (no handle: the thread's last message).
fn encode_error(st: i32) -> Error {
    if st < 0 {
        let message = crate::error::last_message();
        Error::new(st, format!("podsync_subscription_encode: {message}"))
    } else {
        unexpected("podsync_subscription_encode", st)
    }
}

impl<R: Role> Store<R> {
    /// The subscription this store holds, as its canonical encoding (borrowed from the store,
    /// which keeps it until it is freed) and its hash (`podsync_store_subscription`, since library
    /// 0.8.0): a [subscribed](Store::subscribe) replica's, or a [feed](Store::feed)'s. `None` for a
    /// store of the whole stream.
    ///
    /// ```
    /// use podsync::{Schema, Store, Subscription};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut replica = Store::replica(&schema)?;
    /// assert_eq!(replica.subscription()?, None);
    /// let (bytes, hash) = Subscription::new().table_ranges(1, [0..=9]).encode()?;
    /// replica.subscribe(&bytes)?;
    /// assert_eq!(replica.subscription()?, Some((&bytes[..], hash)));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer,
    /// which this crate never passes; an error it returned would be passed on.
    pub fn subscription(&self) -> Result<Option<(&[u8], u64)>> {
        let (mut data, mut size, mut hash) = (ptr::null::<u8>(), 0usize, 0u64);
        // SAFETY: valid handle and out-pointers; a read of the store (its subscription never
        // changes once set).
        let st = unsafe {
            sys::podsync_store_subscription(self.as_ptr(), &mut data, &mut size, &mut hash)
        };
        match st {
            sys::PODSYNC_OK if !data.is_null() => {
                // SAFETY: the library lends `size` bytes owned by the store until it is freed,
                // which needs ownership of `self`: not while `&self` is borrowed.
                Ok(Some((unsafe { std::slice::from_raw_parts(data, size) }, hash)))
            }
            sys::PODSYNC_OK => Err(Error::from_kind(
                ErrorKind::Internal,
                "podsync_store_subscription returned PODSYNC_OK and NULL",
            )),
            sys::PODSYNC_NOT_FOUND => Ok(None),
            s if s < 0 => Err(self.error_of(s)),
            s => Err(unexpected("podsync_store_subscription", s)),
        }
    }

    /// The subscription's hash, or `None` for a store of the whole stream.
    fn subscription_hash(&self) -> Option<u64> {
        self.subscription().ok().flatten().map(|(_, hash)| hash)
    }
}

impl Store<Replica> {
    /// Makes this empty replica a subscriber of the subscription encoded in `subscription` (the
    /// bytes of [`Subscription::encode`]; every byte is checked) (`podsync_store_subscribe`,
    /// since library 0.8.0). From then on it holds only that subset of the stream: it applies
    /// the frames of the subscription's [feed](Store::feed) (snapshots, deltas, catch-up deltas,
    /// chunks and repairs) and refuses any other frame with [`ErrorKind::NotSubscribed`], and it
    /// serves the subset ([`delta_since`](Store::delta_since), [`snapshot`](Store::snapshot),
    /// [`reconcile`](Store::reconcile)) to further replicas of the same subscription. Its version
    /// is its writer's: it jumps over the versions that changed nothing in the subset.
    ///
    /// ```
    /// use podsync::{Applied, ErrorKind, Schema, Store, Subscription};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let (bytes, _) = Subscription::new().table_ranges(1, [100..=199]).encode()?;
    /// let mut replica = Store::replica(&schema)?;
    /// replica.subscribe(&bytes)?;
    /// let again = replica.subscribe(&bytes).unwrap_err(); // a replica subscribes once
    /// assert_eq!(again.kind(), ErrorKind::InvalidArgument);
    ///
    /// let mut writer = Store::writer(&schema)?;
    /// writer.put_many(1, &[1, 150, 199, 200], &[1u64, 150, 199, 200])?;
    /// writer.flush()?;
    /// // A frame of the whole stream is not for a subscriber; its feed's frames are.
    /// let err = replica.apply(writer.frame(0).unwrap()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NotSubscribed);
    /// let feed = writer.feed(&bytes)?;
    /// feed.snapshot()?;
    /// assert_eq!(replica.apply(feed.frame(0).unwrap())?, Applied::Ok);
    /// assert_eq!(replica.count(1)?, 2); // keys 150 and 199
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`], with nothing changed: a replica that holds records or
    /// follows a stream already, one subscribed already (a replica subscribes once), a durable
    /// replica ([`Store::open`]: not in this version), bytes that are not a valid encoding, or a
    /// subscription naming a table the schema lacks.
    pub fn subscribe(&mut self, subscription: &[u8]) -> Result<()> {
        self.reap_snapshots();
        // SAFETY: valid handle, used through `&mut self` (no view of the store is alive);
        // `subscription` valid for its length.
        let st = unsafe {
            sys::podsync_store_subscribe(
                self.raw_handle(),
                subscription.as_ptr().cast(),
                subscription.len(),
            )
        };
        match st {
            sys::PODSYNC_OK => Ok(()),
            s if s < 0 => Err(self.error_of(s)),
            s => Err(unexpected("podsync_store_subscribe", s)),
        }
    }
}

impl<R: FeedSource> Store<R> {
    /// The feed of the subscription encoded in `subscription` (the bytes of
    /// [`Subscription::encode`], as a replica sent them), made on the first call
    /// (`podsync_store_feed`, since library 0.8.0) and held by this store, its *writer*: a writer,
    /// or a replica of the whole stream (a *relay*). Asking again for the same subscription gives
    /// the same feed (the library returns the same handle, and the extra reference it hands out
    /// is released at once). A new feed holds this store's records of the subset as of its last
    /// flush (a relay: its last apply), at its version; each later [`flush`](Store::flush) of a
    /// writer, or [`apply`](Store::apply) of a relay, hands it the changes of its subset, which
    /// the feed's own [`flush`](Store::<Feed>::flush) turns into frames, once for every replica
    /// of the subscription. The store holds its feeds until [`close_feed`](Store::close_feed) or
    /// its drop, which release them.
    ///
    /// A relay's feed takes each delta the relay applies key by key; any other frame the relay
    /// applies (a snapshot, the last chunk of a chunked one, a repair, a one-way refresh)
    /// rebuilds the feed from the relay's state: the feed's catch-up floor then starts at the
    /// relay's version (a subscriber behind it needs a snapshot of the feed, or a
    /// [reconciliation](crate#reconciliation)), and the feed's chunked snapshots in flight end
    /// with [`ErrorKind::SnapshotExpired`]. So does the first frame of a relay that followed no
    /// stream yet (make the feeds once the relay follows its writer). A relay's feeds take the relay's options: set its
    /// [`compression_level`](crate::StoreOptions::compression_level) for compressed feed frames.
    ///
    /// The feed is borrowed from its writer, so the borrow checker proves what the library needs:
    /// nothing borrowed from the feed (a record, a table, a frame) lives across a call that
    /// changes the writer (a writer's flush, a relay's apply, each of which writes into the
    /// feed), and the feed is used by the thread that uses its writer. Find it again with
    /// [`find_feed`](Store::find_feed) (by the subscription's hash), [`feeds`](Store::feeds), or
    /// this call.
    ///
    /// ```
    /// use podsync::{Schema, Store, Subscription};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer(&schema)?;
    /// let (bytes, hash) = Subscription::new().table_ranges(1, [0..=9]).encode()?;
    /// let first = writer.feed(&bytes)?.as_ptr();
    /// assert_eq!(writer.feed(&bytes)?.as_ptr(), first); // the same feed
    /// assert_eq!(writer.feeds().len(), 1);
    /// assert_eq!(writer.find_feed(hash).map(|f| f.as_ptr()), Some(first));
    /// assert!(writer.close_feed(hash));
    /// assert_eq!(writer.feeds().len(), 0);
    /// # Ok(()) }
    /// ```
    ///
    /// A relay serves the same subscription from the frames it applies:
    ///
    /// ```
    /// use podsync::{Applied, Schema, Store, Subscription};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let (bytes, hash) = Subscription::new().table_ranges(1, [0..=9]).encode()?;
    /// let mut writer = Store::writer(&schema)?;
    /// let mut relay = Store::replica(&schema)?; // a replica of the whole stream
    /// writer.put_many(1, &[1, 100], &[1u64, 100])?;
    /// writer.flush()?;
    /// assert_eq!(relay.apply(writer.frame(0).unwrap())?, Applied::Ok);
    ///
    /// // A subscriber starts from a snapshot of the relay's feed, then takes its deltas.
    /// let mut subscriber = Store::replica(&schema)?;
    /// subscriber.subscribe(&bytes)?;
    /// let feed = relay.feed(&bytes)?;
    /// feed.snapshot()?;
    /// assert_eq!(subscriber.apply(feed.frame(0).unwrap())?, Applied::Ok);
    /// writer.put_many(1, &[5, 50], &[5u64, 50])?;
    /// writer.flush()?;
    /// assert_eq!(relay.apply(writer.frame(0).unwrap())?, Applied::Ok); // reaches the feed
    /// let feed = relay.find_feed_mut(hash).unwrap();
    /// assert_eq!(feed.flush()?, 1);
    /// assert_eq!(subscriber.apply(feed.frame(0).unwrap())?, Applied::Ok);
    /// assert_eq!((subscriber.count(1)?, subscriber.version()?), (2, writer.version()?));
    /// assert_eq!(subscriber.digest()?, feed.digest()?);
    /// # Ok(()) }
    /// ```
    ///
    /// What is borrowed from a feed cannot outlive its writer's next flush, which rewrites it:
    ///
    /// ```compile_fail,E0499
    /// # use podsync::{Schema, Store, Subscription};
    /// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
    /// # let (bytes, _) = Subscription::new().table(1).encode().unwrap();
    /// let mut writer = Store::writer(&schema).unwrap();
    /// let feed = writer.feed(&bytes).unwrap();
    /// let table = feed.table(1).unwrap();
    /// writer.flush().unwrap(); // error[E0499]: the flush would rewrite the feed's table
    /// println!("{}", table.len());
    /// ```
    ///
    /// Nor a relay's next apply:
    ///
    /// ```compile_fail,E0499
    /// # use podsync::{Schema, Store, Subscription};
    /// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
    /// # let (bytes, _) = Subscription::new().table(1).encode().unwrap();
    /// # let frame = vec![0u8; 88];
    /// let mut relay = Store::replica(&schema).unwrap();
    /// let feed = relay.feed(&bytes).unwrap();
    /// let table = feed.table(1).unwrap();
    /// relay.apply(&frame).unwrap(); // error[E0499]: the apply would rewrite the feed's table
    /// println!("{}", table.len());
    /// ```
    ///
    /// A feed serves no feeds of its own (nor does a subscribed replica, refused at run time):
    ///
    /// ```compile_fail,E0599
    /// # use podsync::{Schema, Store, Subscription};
    /// # let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
    /// # let (bytes, _) = Subscription::new().table(1).encode().unwrap();
    /// let mut writer = Store::writer(&schema).unwrap();
    /// let feed = writer.feed(&bytes).unwrap();
    /// feed.feed(&bytes).unwrap(); // error[E0599]: `Store<Feed>` has no method `feed`
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for bytes that are not a valid encoding, or a subscription
    /// naming a table the schema lacks; [`ErrorKind::NoMemory`]. On a replica:
    /// [`ErrorKind::WrongRole`] for a [subscribed](Store::subscribe) replica (it holds part of the
    /// stream only), [`ErrorKind::Diverged`] for a diverged or out-of-sync relay (it passes on
    /// only a state its writer had). Also [`ErrorKind::InvalidArgument`] (checked by this
    /// binding, before the library is called) if the store holds a feed of another store, which
    /// only [`std::mem::swap`] of two feeds can bring about (see [`flush`](Store::flush)).
    pub fn feed(&mut self, subscription: &[u8]) -> Result<&mut Store<Feed>> {
        self.check_own_feeds("Store::feed")?;
        self.reap_snapshots();
        let mut out: *mut sys::podsync_store = ptr::null_mut();
        // SAFETY: valid handle of a writer or a replica (the library refuses a subscribed one),
        // used through `&mut self` (the call may change the set of feeds it follows, never its
        // records); `subscription` valid for its length; valid out-pointer.
        let st = unsafe {
            sys::podsync_store_feed(
                self.raw_handle(),
                subscription.as_ptr().cast(),
                subscription.len(),
                &mut out,
            )
        };
        let handle = match NonNull::new(out) {
            Some(handle) if st == sys::PODSYNC_OK => handle,
            other => {
                if let Some(h) = other {
                    // Not expected (the header sets *feed_out on success only); do not leak it.
                    // SAFETY: the library returned this reference to us; nothing else uses it.
                    unsafe { sys::podsync_store_free(h.as_ptr()) };
                }
                return Err(if st < 0 {
                    self.error_of(st)
                } else {
                    unexpected("podsync_store_feed", st)
                });
            }
        };
        if let Some(i) = self.feeds.held().iter().position(|f| f.as_ptr() == handle.as_ptr()) {
            // The feed this store holds already: the library handed out one more reference to
            // it, which is not needed (the held feed keeps its own, so the feed stays attached).
            // SAFETY: a reference the library just gave us, released once, on the thread of the
            // feed's writer (`&mut self`).
            unsafe { sys::podsync_store_free(handle.as_ptr()) };
            return Ok(&mut self.feeds.held_mut()[i]);
        }
        // SAFETY: a reference to a new feed of this store (a writer or a relay), given up to the
        // Store; the library makes a feed with its writer's schema, whose tables these are; a
        // feed is a writer for the library, and `Store<Feed>` calls only what the header allows
        // on one.
        let mut feed: Store<Feed> = unsafe { Store::from_raw_parts(handle, self.table_metas()) };
        feed.feeds = FeedLinks::to_writer(self.feeds.token());
        Ok(self.feeds.hold(feed))
    }

    /// The feed of the subscription whose hash is `hash` (as [`Subscription::encode`] and
    /// [`Store::subscription`] give it), if this store (a writer or a relay) holds one.
    pub fn find_feed(&self, hash: u64) -> Option<&Store<Feed>> {
        self.feeds.held().iter().find(|f| f.subscription_hash() == Some(hash))
    }

    /// The feed of the subscription whose hash is `hash`, mutably (to [`flush`](Store::flush)
    /// it, or produce other frames), if this store (a writer or a relay) holds one.
    pub fn find_feed_mut(&mut self, hash: u64) -> Option<&mut Store<Feed>> {
        self.feeds.held_mut().iter_mut().find(|f| f.subscription_hash() == Some(hash))
    }

    /// The feeds this store (a writer or a relay) holds, in the order they were made.
    pub fn feeds(&self) -> impl ExactSizeIterator<Item = &Store<Feed>> + '_ {
        self.feeds.held().iter()
    }

    /// The feeds this store (a writer or a relay) holds, mutably (to flush each after the
    /// writer's flush, or the relay's apply).
    ///
    /// ```
    /// use podsync::{Schema, Store, Subscription};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let mut writer = Store::writer(&schema)?;
    /// for shard in 0..4 {
    ///     writer.feed(&Subscription::new().table(1).shards(2, [shard]).encode()?.0)?;
    /// }
    /// let keys: Vec<u64> = (0..1000).collect();
    /// writer.put_many(1, &keys, &keys)?;
    /// writer.flush()?;
    /// let mut records = 0;
    /// for feed in writer.feeds_mut() {
    ///     assert_eq!(feed.flush()?, 1);
    ///     records += feed.count(1)?;
    /// }
    /// assert_eq!(records, 1000); // the shards split the table
    /// # Ok(()) }
    /// ```
    pub fn feeds_mut(&mut self) -> impl ExactSizeIterator<Item = &mut Store<Feed>> + '_ {
        self.feeds.held_mut().iter_mut()
    }

    /// Releases the feed of the subscription whose hash is `hash`: this store (a writer or a
    /// relay) stops updating it and the library frees it (after the last
    /// [`Snapshot`](crate::Snapshot) of it, which may go on). Returns false if this store holds no
    /// such feed. Its replicas then need a new feed, which starts at the store's version (their
    /// catch-up from it needs a snapshot, or a [reconciliation](crate#reconciliation)).
    pub fn close_feed(&mut self, hash: u64) -> bool {
        let links = &self.feeds;
        let found = links
            .held()
            .iter()
            .position(|f| f.feeds.is_fed_by(links) && f.subscription_hash() == Some(hash));
        match (found, self.feeds.0.as_mut()) {
            (Some(i), Some(links)) => {
                // Dropped on the thread of its writer (this store), borrowed mutably: releasing
                // the reference detaches the feed from it.
                drop(links.held.remove(i));
                true
            }
            _ => false,
        }
    }

    /// Checks that every feed this store (a writer or a relay) holds is its own: then it holds
    /// all of its feeds (a feed leaves its store only by [`std::mem::swap`] with another store's,
    /// which brings one in), and a call that writes into them (a writer's `podsync_store_flush`,
    /// a relay's `podsync_store_apply`, directly or through a NATS follower's poll, and
    /// `podsync_store_feed`) writes only into stores borrowed with this one.
    pub(crate) fn check_own_feeds(&self, call: &str) -> Result<()> {
        let links = &self.feeds;
        let foreign = links.held().iter().filter(|f| !f.feeds.is_fed_by(links)).count();
        if foreign == 0 {
            return Ok(());
        }
        Err(Error::from_kind(
            ErrorKind::InvalidArgument,
            format!(
                "{call}: this {} holds {foreign} feed(s) of another store, swapped in with \
                 std::mem::swap; its own are held elsewhere, where this call would write: swap \
                 them back (checked by the Rust binding)",
                if R::ROLE == StoreRole::Replica { "relay" } else { "writer" }
            ),
        ))
    }
}

impl Store<Feed> {
    /// Turns what its writer's flushes (a relay's applies) changed in the subset since this
    /// feed's last flush into one frame at the writer's version (`podsync_store_flush` on a feed,
    /// since library 0.8.0); returns how many frames (1, or 0 when nothing changed in the
    /// subset). Read them with [`frames`](Store::frames) and send them to every replica of the
    /// subscription.
    ///
    /// The frames are format 2 and carry the subscription (its hash); their state digest is the
    /// subset's. A subscriber's version jumps over the writer's versions that changed nothing in
    /// its subset, so one feed frame may cover several writer flushes.
    ///
    /// ```
    /// use podsync::{Applied, Schema, Store, Subscription};
    /// # fn main() -> podsync::Result<()> {
    /// let schema = Schema::new().table(1, 8, 8, &[])?;
    /// let (bytes, hash) = Subscription::new().table_ranges(1, [0..=9]).encode()?;
    /// let mut writer = Store::writer(&schema)?;
    /// let mut replica = Store::replica(&schema)?;
    /// replica.subscribe(&bytes)?;
    /// writer.feed(&bytes)?;
    /// writer.put_as(1, 100, &100u64)?; // not in the subset
    /// writer.flush()?;
    /// writer.put_as(1, 5, &5u64)?;
    /// writer.flush()?;
    /// let version = writer.version()?;
    /// let feed = writer.find_feed_mut(hash).unwrap();
    /// assert!(feed.flush_due()?);
    /// assert_eq!(feed.flush()?, 1); // both flushes in one frame
    /// assert_eq!(feed.version()?, version);
    /// assert_eq!(replica.apply(feed.frame(0).unwrap())?, Applied::Ok);
    /// assert_eq!((replica.version()?, replica.count(1)?), (version, 1));
    /// assert_eq!(feed.flush()?, 0); // nothing new in the subset
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoMemory`] if the frame cannot be allocated: the changes stay pending, so the
    /// flush can be retried. After an error [`frames`](Store::frames) yields what the library's
    /// outbox still holds (see [Frames after an error](Store#frames-after-an-error)).
    pub fn flush(&mut self) -> Result<usize> {
        self.flush_outbox()
    }

    /// True while its writer's flushes (a relay's applies) changed something in the subset that
    /// this feed has not flushed yet (`podsync_store_flush_due` on a feed, since library 0.8.0). Moves nothing:
    /// views stay valid.
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle, which this crate
    /// never passes; an error it returned would be passed on.
    pub fn flush_due(&self) -> Result<bool> {
        self.flush_due_raw()
    }
}

/// The identity of a feed's writer (a writer or a relay) for its feeds (compared by address:
/// each writer makes one, and its feeds hold it, so it is never reused while one of them lives).
pub(crate) struct FeedToken;

/// A store's side of the writer-feed relation: a writer's (or a relay's) identity and the feeds
/// it holds, or a feed's link to its writer; `None` for a store that has neither (boxed: a store
/// stays small).
#[derive(Default)]
pub(crate) struct FeedLinks(Option<Box<Links>>);

struct Links {
    /// Writer: its identity, made with its first feed. Feed: its writer's.
    token: Arc<FeedToken>,
    /// Writer: its feeds, a reference each, freed before the writer. Feed: empty.
    held: Vec<Store<Feed>>,
}

impl FeedLinks {
    /// A feed's link to the writer whose token is `token`.
    fn to_writer(token: Arc<FeedToken>) -> FeedLinks {
        FeedLinks(Some(Box::new(Links { token, held: Vec::new() })))
    }

    /// A writer's links, made with its first feed.
    fn writer_links(&mut self) -> &mut Links {
        self.0
            .get_or_insert_with(|| Box::new(Links { token: Arc::new(FeedToken), held: Vec::new() }))
    }

    /// The writer's token (made with its first feed).
    fn token(&mut self) -> Arc<FeedToken> {
        Arc::clone(&self.writer_links().token)
    }

    /// Writer: holds a new feed, and lends it.
    fn hold(&mut self, feed: Store<Feed>) -> &mut Store<Feed> {
        let held = &mut self.writer_links().held;
        held.push(feed);
        let last = held.len() - 1;
        &mut held[last]
    }

    /// Writer: the feeds it holds.
    fn held(&self) -> &[Store<Feed>] {
        self.0.as_ref().map_or(&[], |l| &l.held)
    }

    /// Writer: the feeds it holds, mutably (none before its first feed).
    fn held_mut(&mut self) -> &mut [Store<Feed>] {
        self.0.as_mut().map_or(&mut [], |l| &mut l.held)
    }

    /// True if this store is a feed of the writer whose links are `writer`.
    fn is_fed_by(&self, writer: &FeedLinks) -> bool {
        match (&self.0, &writer.0) {
            (Some(feed), Some(writer)) => Arc::ptr_eq(&feed.token, &writer.token),
            _ => false,
        }
    }

    /// The writer's (or relay's) drop: releases each feed it holds (its reference: the feed detaches from the
    /// writer, which is alive and used by this thread). A feed of another writer, swapped in, is
    /// leaked instead: releasing it would detach it from that writer, which another thread may
    /// be using.
    pub(crate) fn release_all(&mut self) {
        let Some(links) = self.0.as_mut() else { return };
        let held = std::mem::take(&mut links.held);
        for feed in held {
            if feed.feeds.is_fed_by(self) {
                drop(feed);
            } else {
                std::mem::forget(feed);
            }
        }
    }
}

impl fmt::Debug for FeedLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedLinks").field("held", &self.held().len()).finish()
    }
}
