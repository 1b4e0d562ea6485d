/*
 * podsync_nats.h — PodSync's carrier on NATS JetStream (C99; only <stdint.h>, <stddef.h> and
 * podsync.h).
 *
 * A publisher attaches a writer store to a NATS connection and a stream name: each flush's frames
 * are published to the JetStream stream <name> (one message per frame), and from time to time a
 * chunked snapshot to the stream <name>_SNAP, which keeps only the newest complete one. A follower
 * attaches a replica store: it takes the newest complete snapshot, then applies the frames of
 * <name> from the stream position right after it, repairing a gap from the stream itself and
 * falling back to the newest snapshot when the stream no longer holds what it needs. The layout
 * of the subjects, headers and snapshots is in docs/NATS.md.
 *
 * This is its own library, libpodsync_nats.so, so that libpodsync.so does not depend on libnats.
 * It drives the store only through podsync.h: a store attached to a publisher or follower must
 * outlive it, and is used by the carrier only inside the carrier's calls (so the threading rule
 * of podsync.h holds: one thread at a time for the store and its publisher or follower together).
 * The conventions of podsync.h apply: int32_t statuses (engine statuses pass through unchanged,
 * carrier errors are PODSYNC_NATS_E_*), options structs that begin with a version, *_errmsg()
 * strings valid until the next call on the handle, *_free() accepting NULL.
 *
 * Faults: a connection lost is reconnected by the client in the background (every server of the
 * URL list is tried, forever unless max_reconnects says otherwise); calls made meanwhile return
 * PODSYNC_NATS_E_CONNECTION or PODSYNC_NATS_E_TIMEOUT and leave nothing lost: a publisher keeps
 * the frames it could not publish and publishes them first at its next flush (each message has a
 * Nats-Msg-Id, so a publish that reached the server but whose acknowledgement was lost is stored
 * once); a follower resumes from the last stream sequence it applied.
 */
#ifndef PODSYNC_NATS_H
#define PODSYNC_NATS_H

#include "podsync.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PODSYNC_NATS_VERSION_NUMBER 100  /* 0.1.0 */
/* Bumped whenever a declaration in this file changes incompatibly (until 1.0). */
#define PODSYNC_NATS_ABI_VERSION 1

PODSYNC_API uint32_t podsync_nats_version_number(void);

/* --- Statuses. The carrier's own errors; podsync.h reserves -60 .. -79 for carriers. Any other
   status a carrier call returns is the engine's (podsync_status_name). */
#define PODSYNC_NATS_E_CONNECTION     -60  /* cannot connect, or the connection is lost or closed */
#define PODSYNC_NATS_E_TIMEOUT        -61  /* the server did not answer within timeout_ms          */
#define PODSYNC_NATS_E_STREAM_MISSING -62  /* a follower's stream does not exist (yet)             */
#define PODSYNC_NATS_E_MSG_TOO_LARGE  -63  /* a frame is larger than the server accepts; nothing
                                              was published (set max_frame_bytes on the store)    */
#define PODSYNC_NATS_E_SERVER         -64  /* JetStream refused a request (the message has its
                                              error code and description)                          */
#define PODSYNC_NATS_E_NOT_A_MESSAGE  -65  /* a message on the carrier's subjects that is not what
                                              it should be (not a frame, a snapshot marker with
                                              missing or contradictory headers); it was skipped   */

/* The status's name: the carrier's names, else podsync_status_name(status). Static string. */
PODSYNC_API const char *podsync_nats_status_name(int32_t status);

/* The message of the last error a carrier function returned on the calling thread ("" if none),
   for the constructors, which have no handle yet. Valid until the next carrier call on the
   thread. */
PODSYNC_API const char *podsync_nats_last_errmsg(void);

/* --- Options. */

#define PODSYNC_NATS_OPTIONS_VERSION 1

#define PODSYNC_NATS_STORAGE_FILE   0
#define PODSYNC_NATS_STORAGE_MEMORY 1

typedef struct podsync_nats_options {
    uint32_t version;               /* set by the caller: PODSYNC_NATS_OPTIONS_VERSION */
    uint32_t storage;               /* streams a publisher creates: PODSYNC_NATS_STORAGE_* */
    uint32_t replicas;              /* streams a publisher creates: replicas (0: 1) */
    int32_t max_reconnects;         /* reconnect attempts per server; -1 forever (default) */
    uint64_t max_age_ms;            /* the frame stream's age limit (0: none) */
    uint64_t max_bytes;             /* the frame stream's size limit (0: none) */
    uint64_t snapshot_every_versions; /* publisher: a snapshot after this many versions (0: not
                                       by count); default 600 */
    uint64_t snapshot_every_ms;     /* publisher: a snapshot when this much time passed since the
                                       last one and the version moved (0: not by time);
                                       default 10000 */
    uint64_t timeout_ms;            /* each request and publish acknowledgement (default 5000) */
    uint64_t reconnect_wait_ms;     /* between reconnect attempts (default 100) */
    const char *client_name;        /* the connection's name in the server's monitoring (NULL:
                                       "podsync"); copied */
} podsync_nats_options;

#define PODSYNC_NATS_OPTIONS_INIT { PODSYNC_NATS_OPTIONS_VERSION, PODSYNC_NATS_STORAGE_FILE, 1, -1, \
                                    0, 0, 600, 10000, 5000, 100, NULL }

PODSYNC_API int32_t podsync_nats_options_init(podsync_nats_options *options, uint32_t version);

/* --- Publisher. */

typedef struct podsync_nats_publisher podsync_nats_publisher;

/* Connects to `url` (one server or a comma-separated list: "nats://127.0.0.1:4222,nats://..."),
   creates the streams <stream_name> and <stream_name>_SNAP if they do not exist (with the
   options' storage, replicas and limits; existing streams are used as they are), and publishes a
   snapshot of the store's state, so a follower can start at once. `store` must be a writer. Give
   it a max_frame_bytes no larger than the server's max_payload less 4 KiB (1 MiB - 4 KiB by
   default): frames are never split after the fact (see podsync_nats_publisher_flush). A writer of
   an older term than the stream's newest snapshot (an old writer back after a promotion) is
   refused with PODSYNC_E_TERM_FENCED. stream_name:
   1 to 64 characters of A-Z a-z 0-9 - _. On error *out is NULL and podsync_nats_last_errmsg()
   says why. The store must outlive the publisher. */
PODSYNC_API int32_t podsync_nats_publisher_create(podsync_store *store, const char *url,
                                                  const char *stream_name,
                                                  const podsync_nats_options *options,
                                                  podsync_nats_publisher **out);

/* Flushes the store (podsync_store_flush) and publishes its frames, after any frames an earlier
   call could not publish; then, when a snapshot is due, its next chunk (a due snapshot is spread
   over flushes, a chunk of at most 256 KiB each, then its marker). Returns PODSYNC_OK when everything is
   acknowledged by the stream; else a carrier error, with the unpublished frames kept (up to
   64 MiB: past that they are dropped and a snapshot is published once the server answers again,
   so followers heal). A frame larger than the server accepts is not published: the call returns
   PODSYNC_NATS_E_MSG_TOO_LARGE and publishes a snapshot in chunks that fit instead, so followers
   heal. An engine error of the flush is returned as it is. *published_out (may be NULL) receives
   how many frames were acknowledged. */
PODSYNC_API int32_t podsync_nats_publisher_flush(podsync_nats_publisher *publisher,
                                                 size_t *published_out);

/* Publishes a chunked snapshot of the store's state now (the writer's state as of its last flush)
   and removes the older snapshots from <stream_name>_SNAP once it is complete. */
PODSYNC_API int32_t podsync_nats_publisher_snapshot(podsync_nats_publisher *publisher);

#define PODSYNC_NATS_PUBLISHER_STATS_VERSION 1

typedef struct podsync_nats_publisher_stats {
    uint32_t version;               /* set by the caller */
    uint32_t connected;             /* 1 while the connection is up */
    uint64_t frames_published;      /* acknowledged frames */
    uint64_t bytes_published;       /* their bytes */
    uint64_t frames_pending;        /* kept for the next flush */
    uint64_t frames_dropped;        /* dropped past the pending limit */
    uint64_t snapshots_published;
    uint64_t snapshot_version;      /* the version of the newest complete snapshot */
    uint64_t last_sequence;         /* the frame stream's sequence of the last acknowledged frame */
    uint64_t reconnects;
} podsync_nats_publisher_stats;

#define PODSYNC_NATS_PUBLISHER_STATS_INIT { PODSYNC_NATS_PUBLISHER_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

PODSYNC_API int32_t podsync_nats_publisher_stats_get(const podsync_nats_publisher *publisher,
                                                     podsync_nats_publisher_stats *stats);
/* The message of the last error on this publisher ("" if none). Valid until the next call on it. */
PODSYNC_API const char *podsync_nats_publisher_errmsg(const podsync_nats_publisher *publisher);
/* Closes the connection (waiting up to timeout_ms for publishes in flight). The store is not
   freed. */
PODSYNC_API void podsync_nats_publisher_free(podsync_nats_publisher *publisher);

/* --- Follower. */

typedef struct podsync_nats_follower podsync_nats_follower;

/* Connects to `url` and attaches the replica `store` to the stream `stream_name`. Nothing is read
   yet: podsync_nats_follower_poll() does the work. A store restored from disk (podsync_store_open)
   at a version no older than the newest snapshot continues with the frames after it; an older
   one takes the snapshot. On error *out is NULL and podsync_nats_last_errmsg() says why. The store
   must outlive the follower. */
PODSYNC_API int32_t podsync_nats_follower_create(podsync_store *store, const char *url,
                                                 const char *stream_name,
                                                 const podsync_nats_options *options,
                                                 podsync_nats_follower **out);

/* Applies what arrived, waiting up to timeout_ms for the first message (0: only what is already
   there): bootstraps from the newest snapshot when the replica needs one, applies the frames in
   stream order, repairs a gap by fetching the missing sequences from the stream, and takes the
   newest snapshot when the stream no longer holds them (or the replica's history diverged).
   Messages that are not good frames of this stream (another schema or stream, damaged, fenced
   by a newer term) are skipped and counted (stats.rejected, last_rejected_status): the follower
   keeps following. Returns PODSYNC_OK (also when nothing arrived), PODSYNC_NATS_E_STREAM_MISSING
   while the stream does not exist, or a carrier error while the server cannot be reached.
   *applied_out (may be NULL) receives how many frames changed the replica. */
PODSYNC_API int32_t podsync_nats_follower_poll(podsync_nats_follower *follower,
                                               uint64_t timeout_ms, size_t *applied_out);

#define PODSYNC_NATS_FOLLOWER_STATS_VERSION 1

typedef struct podsync_nats_follower_stats {
    uint32_t version;               /* set by the caller */
    uint32_t connected;             /* 1 while the connection is up */
    uint64_t frames_applied;        /* frames that changed the replica (snapshot chunks included) */
    uint64_t duplicates;            /* frames it already had */
    uint64_t snapshots_taken;       /* bootstraps and fallbacks to the newest snapshot */
    uint64_t gaps_repaired;         /* gaps filled from the stream by sequence */
    uint64_t rejected;              /* messages skipped (see poll) */
    uint64_t next_sequence;         /* the frame stream's sequence it reads next */
    uint64_t state_version;         /* the replica's version */
    uint64_t bytes_received;
    uint64_t reconnects;
    int32_t last_rejected_status;   /* the status of the last skipped message (0: none) */
    uint32_t reserved;
} podsync_nats_follower_stats;

#define PODSYNC_NATS_FOLLOWER_STATS_INIT { PODSYNC_NATS_FOLLOWER_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

PODSYNC_API int32_t podsync_nats_follower_stats_get(const podsync_nats_follower *follower,
                                                    podsync_nats_follower_stats *stats);
/* The message of the last error or skipped message ("" if none). Valid until the next call. */
PODSYNC_API const char *podsync_nats_follower_errmsg(const podsync_nats_follower *follower);
/* Relays: from now on every frame the follower applies is republished to the stream
   `stream_name` at `url` (another server or cluster: a region's), with snapshots of the replica
   beside them exactly as a publisher keeps them (one at once when the replica follows a stream
   already, one whenever the follower takes a snapshot, and when due by the options), so
   followers there follow the relay as they would the writer. The relay publishes during
   podsync_nats_follower_poll, after applying; a relay that cannot publish keeps its frames (as a
   publisher does) and poll returns its carrier error. Closed with the follower. */
PODSYNC_API int32_t podsync_nats_follower_relay(podsync_nats_follower *follower, const char *url,
                                                const char *stream_name,
                                                const podsync_nats_options *options);
/* The relay's counters (PODSYNC_NOT_FOUND when the follower does not relay). */
PODSYNC_API int32_t podsync_nats_follower_relay_stats(const podsync_nats_follower *follower,
                                                      podsync_nats_publisher_stats *stats);
/* Closes the connection (and a relay's). The store is not freed. */
PODSYNC_API void podsync_nats_follower_free(podsync_nats_follower *follower);

#ifdef __cplusplus
}
#endif

#endif /* PODSYNC_NATS_H */
