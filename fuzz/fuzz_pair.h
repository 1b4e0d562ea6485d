/*
 * fuzz_pair.h — the writer and the replica of the `reconcile` target, set up deterministically
 * from a configuration byte, the same way by the target (reconcile.c) and by the corpus generator
 * (make_corpus.c, whose seeds are the messages of real exchanges between them), so that a seed's
 * messages describe the target's stores exactly (expected_digest, hashes, anchors).
 *
 * Besides the two, a "mirror" replica is given every frame the writer flushes: it holds the
 * writer's flushed state, which is what the writer's hash tree, digest, summaries and repairs
 * describe (pending writes are not part of it), so the target checks those against its records.
 */
#ifndef FUZZ_PAIR_H
#define FUZZ_PAIR_H

#include "fuzz_common.h"

/* The configuration byte of the reconcile target. */
#define FZ_PAIR_SCHEMA_MASK 0x03u /* one of the four test schemas */
#define FZ_PAIR_KIND_MASK   0x1Cu /* how the replica differs from the writer (>> 2): FZ_PAIR_LAG ... */
#define FZ_PAIR_KIND_SHIFT  2
#define FZ_PAIR_LARGE       0x20u /* about 300 records in the first table instead of 40 */
#define FZ_PAIR_TRACK       0x40u /* the replica tracks change events (podsync_store_track_changes) */
#define FZ_PAIR_PENDING     0x80u /* the writer ends the setup with writes it has not flushed */

enum {
    FZ_PAIR_LAG = 0,          /* the replica got the first flush of the writer's four */
    FZ_PAIR_SYNC = 1,         /* the replica got every flush: nothing to repair */
    FZ_PAIR_DIVERGED = 2,     /* the replica followed an impostor of the same stream, then took the
                                 writer's delta: diverged (DIGEST_MISMATCH) */
    FZ_PAIR_EMPTY = 3,        /* a fresh replica that follows no stream */
    FZ_PAIR_OTHER_STREAM = 4, /* the replica follows another writer (other stream id, same keys) */
    FZ_PAIR_FLOOR = 5,        /* the writer forgets deletions after 2 versions: its catch-up floor
                                 passed the replica's version (anchors go stale quickly) */
    FZ_PAIR_ONE_WAY = 6,      /* a PODSYNC_OPT_ONE_WAY replica that lost frames: refreshing */
    FZ_PAIR_TERMS = 7,        /* the writer is a replica promoted to term 3 at version 2; the
                                 replica took the old writer's version 3 (term 0) */
    FZ_PAIR_KINDS = 8
};

/* Actions, one byte per message of a reconcile input (record 0 of its container). */
#define FZ_RC_OTHER   0x01u /* to the other side than the message's mode says (0, 1: the writer;
                               2: the replica) */
#define FZ_RC_STEP    0x02u /* before it: the writer changes a few records and flushes */
#define FZ_RC_DELIVER 0x04u /* before it: the writer's last flush goes to the replica's apply */
#define FZ_RC_APPLY   0x08u /* the message goes to the replica's podsync_store_apply instead */
#define FZ_RC_FOLLOW  0x10u /* after it: every answer goes on to the other side (up to 12 rounds) */
#define FZ_RC_PENDING 0x20u /* before it: the writer writes without flushing */
#define FZ_RC_HEAL    0x40u /* before it: an honest exchange from a fresh summary of the replica
                               (level: the message's index % 4, 0 automatic), which must heal it */
#define FZ_RC_REVERT  0x80u /* before it (after STEP and PENDING): the writer changes a record and
                               changes it back, flushing each: its version moves, its state does not */

#define FZ_PAIR_MAX_KEPT 4

typedef struct fz_pair {
    uint8_t cfg;
    unsigned kind;
    unsigned schema_index;
    const fz_schema_desc *schema;
    podsync_store *writer;
    podsync_store *replica;
    uint32_t replica_flags; /* PODSYNC_OPT_ONE_WAY for FZ_PAIR_ONE_WAY (for fz_apply_checked_ex) */
    podsync_store *mirror;  /* every frame the writer flushed: its flushed state */
    int pending;            /* the writer holds writes it has not flushed */
    uint64_t rng;
    uint64_t steps;
    size_t kept;            /* the frames of the writer's last flush (two with REVERT) */
    int appending;
    uint8_t *frame[FZ_PAIR_MAX_KEPT];
    size_t size[FZ_PAIR_MAX_KEPT];
} fz_pair;

/* Creates the stores of configuration byte cfg (deterministic). */
void fz_pair_create(fz_pair *p, uint8_t cfg);
void fz_pair_free(fz_pair *p);
/* The writer changes three records, adds two, deletes one, and flushes: the frames go to the
   mirror (whose digest must then equal the writer's) and are kept for delivery. */
void fz_pair_writer_step(fz_pair *p);
/* The writer changes a record, flushes, puts its old bytes back and flushes again: two versions
   later it holds the state it had (both flushes' frames are kept). */
void fz_pair_writer_revert(fz_pair *p);
/* The writer writes without flushing: a put of the bytes a clean key holds (which leaves it clean),
   a changed record, a new key, a delete. */
void fz_pair_writer_pending(fz_pair *p);

#endif /* FUZZ_PAIR_H */
