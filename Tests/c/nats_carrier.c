/*
 * nats_carrier.c — the NATS JetStream carrier against real nats-server processes that the test
 * starts itself (Tests/c/nats_harness.h: loopback ports, temporary store directories).
 *
 *   single: a writer of 1,000 entities (40-byte records) publishes 1% ticks; follower A follows
 *           from the start, B joins late (bootstraps from the snapshot); garbage, a frame of
 *           another schema and an oversized message are published on the frame subject: skipped
 *           and counted, state unchanged, the followers keep following; the server is killed
 *           (SIGKILL) and restarted from its store directory while the writer goes on (frames
 *           pending, then published); a stream whose max_bytes limit drops frames that a slow
 *           follower C still needed: C falls back to the newest snapshot. Every follower ends at
 *           the writer's version with the writer's digest.
 *   cluster: three servers with routes, streams with 3 replicas; while the writer publishes and
 *           two followers apply, the server a follower is connected to is killed and restarted,
 *           then the whole cluster is stopped and restarted from its store directories. The
 *           followers converge to the writer's digest, every frame applied once (no duplicates
 *           counted beyond the snapshot overlap, no gap left).
 *
 *   edges:  an oversized frame (not published: MSG_TOO_LARGE, a snapshot replaces it), a stream
 *           that does not exist (STREAM_MISSING), another writer publishing on the subject
 *           (skipped), and failover through the carrier: replica A promoted and publishing under
 *           the same stream name, follower B continuing with its frames, the old writer's
 *           publisher refused (TERM_FENCED) and its frames fenced, a late follower bootstrapping
 *           from A's snapshot. A relay: a follower republishing to another stream, followed
 *           there by a late follower.
 *
 * Usage: nats_carrier [single|cluster|edges]...   (default all). Exits non-zero on any failure.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_harness.h"
#include "podsync.h"
#include "podsync_nats.h"
#include <nats/nats.h>

#define ENTITIES 1000
#define RECORD 40

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define MUST(call) do { int32_t st_ = (call); if (st_ < 0) { fprintf(stderr, "FATAL %s:%d: %s = %s: %s\n", __FILE__, __LINE__, \
    #call, podsync_nats_status_name(st_), podsync_nats_last_errmsg()); nats_stop_all(); exit(1); } } while (0)

static uint64_t rng = 0x5eed;
static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static podsync_schema *make_schema(uint32_t record) {
    podsync_schema *s = NULL;
    MUST(podsync_schema_create(&s));
    MUST(podsync_schema_add_table(s, 1, record, 8, NULL, 0));
    return s;
}

static podsync_store *make_store(podsync_schema *schema, uint32_t role) {
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.max_frame_bytes = 256 * 1024;
    podsync_store *s = NULL;
    MUST(podsync_store_create(schema, role, &o, &s));
    return s;
}

static void tick(podsync_store *w, int changes) {
    uint8_t rec[RECORD];
    for (int i = 0; i < changes; i++) {
        uint64_t key = rnd() % ENTITIES;
        for (int b = 0; b < RECORD; b++) rec[b] = (uint8_t)rnd();
        MUST(podsync_store_put(w, 1, key, rec, RECORD));
    }
}

static uint64_t version_of(podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    MUST(podsync_store_info_get(s, &i));
    return i.state_version;
}

static uint64_t digest_of(podsync_store *s) {
    uint64_t d = 0;
    MUST(podsync_store_digest(s, &d));
    return d;
}

/* Polls until the follower's replica reaches `version` (or `ms` pass); returns 1 if it did. */
/* Polls for up to `ms` milliseconds of wall-clock time: a poll that fails at once (JetStream still
   electing its leaders after a restart) must not use up the wait in a burst of quick failures. */
static int follow_to(podsync_nats_follower *f, podsync_store *r, uint64_t version, long ms) {
    int64_t deadline = nats_Now() + ms;
    while (nats_Now() < deadline) {
        size_t applied = 0;
        int64_t started = nats_Now();
        int32_t st = podsync_nats_follower_poll(f, 20, &applied);
        if (st < 0 && st != PODSYNC_NATS_E_CONNECTION && st != PODSYNC_NATS_E_TIMEOUT && st != PODSYNC_NATS_E_STREAM_MISSING)
            fprintf(stderr, "  poll: %s: %s\n", podsync_nats_status_name(st), podsync_nats_follower_errmsg(f));
        if (version_of(r) == version) return 1;
        if (st < 0 && nats_Now() - started < 20) nats_sleep_ms(20);
    }
    return 0;
}

static void flush_publish(podsync_nats_publisher *p) {
    size_t published = 0;
    int32_t st = podsync_nats_publisher_flush(p, &published);
    if (st < 0 && st != PODSYNC_NATS_E_CONNECTION && st != PODSYNC_NATS_E_TIMEOUT)
        MUST(st);
}

static void expect_converged(const char *what, podsync_nats_follower *f, podsync_store *r, podsync_store *w) {
    uint64_t v = version_of(w);
    /* Generous: after a cluster restart JetStream elects its stream leaders first. */
    int reached = follow_to(f, r, v, 60000);
    podsync_nats_follower_stats st = PODSYNC_NATS_FOLLOWER_STATS_INIT;
    MUST(podsync_nats_follower_stats_get(f, &st));
    CHECK(reached, "%s: follower at version %" PRIu64 ", writer at %" PRIu64 " (%s; next sequence %" PRIu64 ", %" PRIu64
          " snapshots, %" PRIu64 " applied, %" PRIu64 " duplicates, %" PRIu64 " rejected)", what, version_of(r), v,
          podsync_nats_follower_errmsg(f), st.next_sequence, st.snapshots_taken, st.frames_applied, st.duplicates, st.rejected);
    CHECK(digest_of(r) == digest_of(w), "%s: digest %016" PRIx64 " != writer's %016" PRIx64, what, digest_of(r), digest_of(w));
}

static podsync_nats_follower_stats fstats(podsync_nats_follower *f) {
    podsync_nats_follower_stats s = PODSYNC_NATS_FOLLOWER_STATS_INIT;
    MUST(podsync_nats_follower_stats_get(f, &s));
    return s;
}

/* Publishes raw bytes on a subject through a plain JetStream client (hostile input). */
static void publish_raw(const char *url, const char *subject, const void *data, int size) {
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsPubAck *ack = NULL;
    jsErrCode err = 0;
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK || natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
        fprintf(stderr, "raw client cannot connect\n");
        exit(1);
    }
    natsStatus s = js_Publish(&ack, js, subject, data, size, NULL, &err);
    CHECK(s == NATS_OK, "raw publish on %s: %s", subject, natsStatus_GetText(s));
    jsPubAck_Destroy(ack);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static void single(void) {
    const char *url = nats_setup(1);
    printf("single: nats-server at %s\n", url);
    podsync_schema *schema = make_schema(RECORD);
    podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER);
    tick(w, ENTITIES);  /* the world exists before the publisher starts */
    size_t n = 0;
    MUST(podsync_store_flush(w, &n));

    podsync_nats_options o = PODSYNC_NATS_OPTIONS_INIT;
    o.snapshot_every_versions = 40;
    o.timeout_ms = 1000;
    podsync_nats_publisher *p = NULL;
    MUST(podsync_nats_publisher_create(w, url, "world", &o, &p));
    podsync_store *ra = make_store(schema, PODSYNC_ROLE_REPLICA), *rb = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fa = NULL, *fb = NULL;
    MUST(podsync_nats_follower_create(ra, url, "world", &o, &fa));
    for (int t = 0; t < 60; t++) {
        tick(w, ENTITIES / 100);
        flush_publish(p);
        size_t applied = 0;
        MUST(podsync_nats_follower_poll(fa, 0, &applied));
    }
    expect_converged("A from the start", fa, ra, w);
    MUST(podsync_nats_follower_create(rb, url, "world", &o, &fb));
    expect_converged("B joining late", fb, rb, w);
    CHECK(fstats(fb).snapshots_taken == 1, "B bootstraps from one snapshot (took %" PRIu64 ")", fstats(fb).snapshots_taken);
    CHECK(fstats(fa).snapshots_taken == 1 && fstats(fa).rejected == 0, "A: one snapshot, nothing rejected");

    /* Hostile messages on the frame subject: skipped, counted, state unchanged. */
    uint64_t before_digest = digest_of(ra), before_version = version_of(ra);
    publish_raw(url, "podsync.world.frames", "not a frame at all", 18);
    podsync_schema *other = make_schema(16);
    podsync_store *stranger = make_store(other, PODSYNC_ROLE_WRITER);
    uint8_t rec16[16] = {1};
    MUST(podsync_store_put(stranger, 1, 7, rec16, 16));
    MUST(podsync_store_flush(stranger, &n));
    const uint8_t *fd = NULL;
    size_t fs = 0;
    MUST(podsync_store_frame(stranger, 0, &fd, &fs));
    publish_raw(url, "podsync.world.frames", fd, (int)fs);
    follow_to(fa, ra, before_version + 1, 500);
    CHECK(digest_of(ra) == before_digest && version_of(ra) == before_version, "hostile messages change nothing");
    podsync_nats_follower_stats sa = fstats(fa);
    CHECK(sa.rejected == 2, "two messages rejected (got %" PRIu64 ", last %s)", sa.rejected, podsync_nats_status_name(sa.last_rejected_status));
    CHECK(sa.last_rejected_status == PODSYNC_E_SCHEMA_MISMATCH, "the last one for its schema (%s)", podsync_nats_status_name(sa.last_rejected_status));
    for (int t = 0; t < 10; t++) { tick(w, 10); flush_publish(p); }
    expect_converged("A after hostile input", fa, ra, w);
    expect_converged("B after hostile input", fb, rb, w);

    /* The server dies (kill -9) and comes back from its store directory. */
    nats_stop(0, 1);
    int failed = 0;
    for (int t = 0; t < 5; t++) {
        tick(w, 10);
        size_t published = 0;
        int32_t st = podsync_nats_publisher_flush(p, &published);
        if (st == PODSYNC_NATS_E_CONNECTION || st == PODSYNC_NATS_E_TIMEOUT) failed++;
        else MUST(st);
    }
    podsync_nats_publisher_stats ps = PODSYNC_NATS_PUBLISHER_STATS_INIT;
    MUST(podsync_nats_publisher_stats_get(p, &ps));
    CHECK(failed == 5 && ps.frames_pending == 5, "with the server down every flush fails and keeps its frame (%d, %" PRIu64 " pending)",
          failed, ps.frames_pending);
    nats_start(0);
    for (int t = 0; t < 200; t++) {
        size_t published = 0;
        if (podsync_nats_publisher_flush(p, &published) == PODSYNC_OK) break;
        nats_sleep_ms(50);
    }
    MUST(podsync_nats_publisher_stats_get(p, &ps));
    CHECK(ps.frames_pending == 0, "pending frames published after the restart");
    for (int t = 0; t < 10; t++) { tick(w, 10); flush_publish(p); }
    expect_converged("A after a server restart", fa, ra, w);
    expect_converged("B after a server restart", fb, rb, w);
    printf("single: followers A and B at version %" PRIu64 ", digest %016" PRIx64 "; A rejected %" PRIu64 "\n",
           version_of(ra), digest_of(ra), fstats(fa).rejected);

    /* Limits: a stream holding ~20 KB and no periodic snapshots. Follower C stops (its process
       ends; its replica stays) while the stream trims frames C still needs; a new follower on
       that replica starts after C's version, finds the frames gone (a gap), takes the newest
       snapshot, which is older than it, and waits; the publisher notices that the stream no
       longer reaches back to its snapshot and publishes a new one; C converges. */
    podsync_nats_options lim = o;
    lim.max_bytes = 20000;
    lim.snapshot_every_versions = 0;
    lim.snapshot_every_ms = 0;
    podsync_nats_publisher *pl = NULL;
    MUST(podsync_nats_publisher_create(w, url, "limited", &lim, &pl));
    podsync_store *rc = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fc = NULL;
    MUST(podsync_nats_follower_create(rc, url, "limited", &lim, &fc));
    for (int t = 0; t < 5; t++) { tick(w, 10); flush_publish(pl); }
    expect_converged("C at the start", fc, rc, w);
    podsync_nats_follower_free(fc);
    for (int t = 0; t < 120; t++) { tick(w, 10); flush_publish(pl); }
    podsync_nats_publisher_stats pls = PODSYNC_NATS_PUBLISHER_STATS_INIT;
    MUST(podsync_nats_publisher_stats_get(pl, &pls));
    uint64_t snapshots_before = pls.snapshots_published;
    MUST(podsync_nats_follower_create(rc, url, "limited", &lim, &fc));
    follow_to(fc, rc, version_of(w), 300);
    CHECK(version_of(rc) < version_of(w), "C cannot catch up from the trimmed stream alone");
    nats_sleep_ms(1100);
    /* A due snapshot goes out a chunk per flush, then its marker: three flushes for this one. */
    for (int t = 0; t < 3; t++) { tick(w, 10); flush_publish(pl); }
    MUST(podsync_nats_publisher_stats_get(pl, &pls));
    CHECK(pls.snapshots_published == snapshots_before + 1, "the publisher saw the stream trimmed past its snapshot (%" PRIu64 " -> %" PRIu64 ")",
          snapshots_before, pls.snapshots_published);
    expect_converged("C after the stream dropped what it needed", fc, rc, w);
    podsync_nats_follower_stats sc = fstats(fc);
    CHECK(sc.snapshots_taken >= 1, "C healed by a snapshot (took %" PRIu64 ")", sc.snapshots_taken);
    printf("single: slow follower C healed: %" PRIu64 " snapshots, %" PRIu64 " frames applied\n", sc.snapshots_taken, sc.frames_applied);

    podsync_nats_follower_free(fa);
    podsync_nats_follower_free(fb);
    podsync_nats_follower_free(fc);
    podsync_nats_publisher_free(p);
    podsync_nats_publisher_free(pl);
    podsync_store_free(ra);
    podsync_store_free(rb);
    podsync_store_free(rc);
    podsync_store_free(stranger);
    podsync_store_free(w);
    podsync_schema_free(other);
    podsync_schema_free(schema);
    nats_stop_all();
}

/* More single-server cases: an oversized frame, a stream that does not exist, another writer of
   the same schema publishing on the subject, and failover through the carrier (a replica promoted
   and published from under the same stream name; the old writer fenced). */
static void edges(void) {
    const char *url = nats_setup(1);
    printf("edges: nats-server at %s\n", url);
    podsync_schema *schema = make_schema(RECORD);
    podsync_nats_options o = PODSYNC_NATS_OPTIONS_INIT;
    o.timeout_ms = 2000;

    /* A follower of a stream nobody created yet. */
    podsync_store *lonely = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fl = NULL;
    MUST(podsync_nats_follower_create(lonely, url, "nobody", &o, &fl));
    size_t applied = 0;
    int32_t st = podsync_nats_follower_poll(fl, 10, &applied);
    CHECK(st == PODSYNC_NATS_E_STREAM_MISSING, "a missing stream: %s", podsync_nats_status_name(st));
    podsync_nats_follower_free(fl);
    podsync_store_free(lonely);

    /* A writer whose max_frame_bytes exceeds what the server takes: the frame is not published,
       the flush says so, and a snapshot in chunks that fit replaces it. */
    podsync_store_options big = PODSYNC_STORE_OPTIONS_INIT;  /* max_frame_bytes 64 MiB */
    podsync_store *wb = NULL;
    MUST(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &big, &wb));
    podsync_nats_publisher *pb = NULL;
    MUST(podsync_nats_publisher_create(wb, url, "big", &o, &pb));
    podsync_store *rb = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fb = NULL;
    MUST(podsync_nats_follower_create(rb, url, "big", &o, &fb));
    /* Following already when the oversized frame is dropped, and the writer then goes idle: the
       follower notices on its own that it stays behind the newest snapshot, and takes it. */
    MUST(podsync_nats_follower_poll(fb, 10, &applied));
    uint8_t rec[RECORD] = {0};
    for (uint64_t k = 0; k < 40000; k++) { rec[0] = (uint8_t)k; rec[9] = (uint8_t)(k >> 8); MUST(podsync_store_put(wb, 1, k, rec, RECORD)); }
    size_t published = 0;
    st = podsync_nats_publisher_flush(pb, &published);
    CHECK(st == PODSYNC_NATS_E_MSG_TOO_LARGE && published == 0, "a 1.9 MB frame: %s, %zu published", podsync_nats_status_name(st), published);
    podsync_nats_publisher_stats ps = PODSYNC_NATS_PUBLISHER_STATS_INIT;
    MUST(podsync_nats_publisher_stats_get(pb, &ps));
    CHECK(ps.frames_dropped == 1 && ps.snapshots_published == 2 && ps.snapshot_version == version_of(wb),
          "dropped 1, snapshot at the writer's version (%" PRIu64 ", %" PRIu64 ", %" PRIu64 ")", ps.frames_dropped, ps.snapshots_published,
          ps.snapshot_version);
    expect_converged("a follower after an oversized frame", fb, rb, wb);

    /* Another writer of the same schema publishes on the subject: skipped. */
    podsync_store *wf = make_store(schema, PODSYNC_ROLE_WRITER);
    tick(wf, 5);
    size_t n = 0;
    MUST(podsync_store_flush(wf, &n));
    const uint8_t *fd = NULL;
    size_t fs = 0;
    MUST(podsync_store_frame(wf, 0, &fd, &fs));
    publish_raw(url, "podsync.big.frames", fd, (int)fs);
    uint64_t d = digest_of(rb);
    follow_to(fb, rb, version_of(rb) + 1, 300);
    CHECK(digest_of(rb) == d && fstats(fb).last_rejected_status == PODSYNC_E_STREAM_MISMATCH,
          "a stranger's frame is skipped (%s)", podsync_nats_status_name(fstats(fb).last_rejected_status));
    /* A forged snapshot marker (no headers) on the marker subject: a new follower skips it,
       counts it, and bootstraps from the valid marker before it. */
    publish_raw(url, "podsync.big.snap.done", "", 0);
    podsync_store *rb2 = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fb2 = NULL;
    MUST(podsync_nats_follower_create(rb2, url, "big", &o, &fb2));
    expect_converged("a new follower past a forged snapshot marker", fb2, rb2, wb);
    /* Two rejections, each counted once: the forged marker, then the stranger's frame above. */
    CHECK(fstats(fb2).rejected == 2 && fstats(fb2).last_rejected_status == PODSYNC_E_STREAM_MISMATCH,
          "the forged marker and the stranger's frame are counted once (%" PRIu64 ", %s)", fstats(fb2).rejected,
          podsync_nats_status_name(fstats(fb2).last_rejected_status));
    podsync_nats_follower_free(fb2);
    podsync_store_free(rb2);
    podsync_nats_follower_free(fb);
    podsync_nats_publisher_free(pb);
    podsync_store_free(rb);
    podsync_store_free(wb);
    podsync_store_free(wf);

    /* Failover. W publishes; A and B follow; W dies; A is promoted and publishes on; B continues
       with A's frames; W comes back: its publisher is refused, and frames it pushes anyway are
       fenced. A late follower C bootstraps from A's snapshot. */
    podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER);
    tick(w, ENTITIES);
    podsync_nats_publisher *pw = NULL;
    MUST(podsync_nats_publisher_create(w, url, "failover", &o, &pw));
    podsync_store *ra = make_store(schema, PODSYNC_ROLE_REPLICA), *rbb = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fa = NULL, *fbb = NULL;
    MUST(podsync_nats_follower_create(ra, url, "failover", &o, &fa));
    MUST(podsync_nats_follower_create(rbb, url, "failover", &o, &fbb));
    for (int t = 0; t < 20; t++) { tick(w, 10); flush_publish(pw); }
    expect_converged("failover: A follows W", fa, ra, w);
    expect_converged("failover: B follows W", fbb, rbb, w);
    uint64_t b_snapshots = fstats(fbb).snapshots_taken;
    podsync_nats_publisher_free(pw);  /* W's machine dies */
    podsync_nats_follower_free(fa);
    MUST(podsync_store_promote(ra, 1));
    podsync_nats_publisher *pa = NULL;
    MUST(podsync_nats_publisher_create(ra, url, "failover", &o, &pa));
    for (int t = 0; t < 20; t++) { tick(ra, 10); flush_publish(pa); }
    expect_converged("failover: B follows the promoted A", fbb, rbb, ra);
    CHECK(fstats(fbb).snapshots_taken == b_snapshots, "B continued with A's frames, no new snapshot (took %" PRIu64 "; %s; rejected %" PRIu64 " last %s)",
          fstats(fbb).snapshots_taken, podsync_nats_follower_errmsg(fbb), fstats(fbb).rejected, podsync_nats_status_name(fstats(fbb).last_rejected_status));
    podsync_nats_publisher *pw2 = NULL;
    st = podsync_nats_publisher_create(w, url, "failover", &o, &pw2);
    CHECK(st == PODSYNC_E_TERM_FENCED && pw2 == NULL, "the old writer's publisher is fenced: %s", podsync_nats_status_name(st));
    tick(w, 10);
    MUST(podsync_store_flush(w, &n));
    MUST(podsync_store_frame(w, 0, &fd, &fs));
    publish_raw(url, "podsync.failover.frames", fd, (int)fs);
    tick(ra, 10);
    flush_publish(pa);
    expect_converged("failover: B after the old writer's frame", fbb, rbb, ra);
    CHECK(fstats(fbb).last_rejected_status == PODSYNC_E_TERM_FENCED, "the old writer's frame is fenced (%s)",
          podsync_nats_status_name(fstats(fbb).last_rejected_status));
    podsync_store *rc = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fc = NULL;
    MUST(podsync_nats_follower_create(rc, url, "failover", &o, &fc));
    expect_converged("failover: a late follower", fc, rc, ra);
    printf("edges: oversized frame, missing stream, stranger, failover to term 1 at version %" PRIu64 ": ok so far (%d failures)\n",
           version_of(ra), failures);

    /* A relay: follower R republishes what it applies to the stream "regional" (a region's
       server would hold it; here the same server), and follower Q follows the relay. Q joins
       late and bootstraps from the relay's snapshot. */
    podsync_store *wr = make_store(schema, PODSYNC_ROLE_WRITER);
    tick(wr, ENTITIES);
    podsync_nats_publisher *po = NULL;
    MUST(podsync_nats_publisher_create(wr, url, "origin", &o, &po));
    podsync_store *rr = make_store(schema, PODSYNC_ROLE_REPLICA), *rq = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *fr = NULL, *fq = NULL;
    MUST(podsync_nats_follower_create(rr, url, "origin", &o, &fr));
    MUST(podsync_nats_follower_relay(fr, url, "regional", &o));
    podsync_nats_publisher_stats rs = PODSYNC_NATS_PUBLISHER_STATS_INIT;
    CHECK(podsync_nats_follower_relay_stats(fr, &rs) == PODSYNC_OK, "relay stats");
    for (int t = 0; t < 30; t++) {
        tick(wr, 10);
        flush_publish(po);
        podsync_nats_follower_poll(fr, 5, &applied);
    }
    expect_converged("relay: the relaying follower", fr, rr, wr);
    MUST(podsync_nats_follower_create(rq, url, "regional", &o, &fq));
    for (int t = 0; t < 10; t++) {
        tick(wr, 10);
        flush_publish(po);
        podsync_nats_follower_poll(fr, 5, &applied);
        podsync_nats_follower_poll(fq, 5, &applied);
    }
    for (int t = 0; t < 100 && version_of(rr) != version_of(wr); t++) podsync_nats_follower_poll(fr, 10, &applied);
    expect_converged("relay: a follower of the relay", fq, rq, wr);
    MUST(podsync_nats_follower_relay_stats(fr, &rs));
    CHECK(rs.frames_published >= 30 && rs.snapshots_published >= 1, "the relay republished (%" PRIu64 " frames, %" PRIu64 " snapshots)",
          rs.frames_published, rs.snapshots_published);
    CHECK(podsync_nats_follower_relay_stats(fq, &rs) == PODSYNC_NOT_FOUND, "a follower that does not relay has no relay stats");
    printf("edges: relay: follower of the relay at version %" PRIu64 " digest %016" PRIx64 "\n", version_of(rq), digest_of(rq));
    podsync_nats_follower_free(fr);
    podsync_nats_follower_free(fq);
    podsync_nats_publisher_free(po);
    podsync_store_free(wr);
    podsync_store_free(rr);
    podsync_store_free(rq);
    podsync_nats_follower_free(fbb);
    podsync_nats_follower_free(fc);
    podsync_nats_publisher_free(pa);
    podsync_store_free(w);
    podsync_store_free(ra);
    podsync_store_free(rbb);
    podsync_store_free(rc);
    podsync_schema_free(schema);
    nats_stop_all();
}

/* Flushes until the publisher has nothing pending (the cluster may be electing leaders). */
static void publish_all(podsync_nats_publisher *p, long ms) {
    podsync_nats_publisher_stats ps = PODSYNC_NATS_PUBLISHER_STATS_INIT;
    for (long waited = 0; waited < ms; waited += 100) {
        size_t published = 0;
        int32_t st = podsync_nats_publisher_flush(p, &published);
        MUST(podsync_nats_publisher_stats_get(p, &ps));
        if (st == PODSYNC_OK && ps.frames_pending == 0) return;
        nats_sleep_ms(100);
    }
    CHECK(0, "the publisher could not publish its %" PRIu64 " pending frames in %ld ms: %s", ps.frames_pending, ms,
          podsync_nats_publisher_errmsg(p));
}

static void cluster(void) {
    nats_setup(3);
    printf("cluster: nats-servers at %s, %s, %s\n", nats_servers[0].url, nats_servers[1].url, nats_servers[2].url);
    podsync_schema *schema = make_schema(RECORD);
    podsync_store *w = make_store(schema, PODSYNC_ROLE_WRITER);
    tick(w, ENTITIES);
    size_t n = 0;
    MUST(podsync_store_flush(w, &n));
    podsync_nats_options o = PODSYNC_NATS_OPTIONS_INIT;
    o.replicas = 3;
    o.timeout_ms = 2000;
    o.snapshot_every_versions = 25;
    /* The publisher talks to n3, follower 1 to n1, follower 2 to n2: each learns the others from
       the cluster and reconnects there when its server dies. Until the cluster has elected its
       JetStream leader, creating the streams fails: retry for up to 30 s. */
    podsync_nats_publisher *p = NULL;
    int32_t st = PODSYNC_NATS_E_TIMEOUT;
    for (int t = 0; t < 60 && st < 0; t++) {
        st = podsync_nats_publisher_create(w, nats_servers[2].url, "clustered", &o, &p);
        if (st < 0) nats_sleep_ms(500);
    }
    MUST(st);
    podsync_store *r1 = make_store(schema, PODSYNC_ROLE_REPLICA), *r2 = make_store(schema, PODSYNC_ROLE_REPLICA);
    podsync_nats_follower *f1 = NULL, *f2 = NULL;
    MUST(podsync_nats_follower_create(r1, nats_servers[0].url, "clustered", &o, &f1));
    MUST(podsync_nats_follower_create(r2, nats_servers[1].url, "clustered", &o, &f2));
    for (int t = 0; t < 30; t++) {
        tick(w, 10);
        flush_publish(p);
        size_t a = 0;
        podsync_nats_follower_poll(f1, 0, &a);
        podsync_nats_follower_poll(f2, 0, &a);
    }
    publish_all(p, 30000);
    expect_converged("cluster: follower 1", f1, r1, w);
    expect_converged("cluster: follower 2", f2, r2, w);

    /* n1, follower 1's server, dies (kill -9) while the writer goes on. */
    nats_stop(0, 1);
    for (int t = 0; t < 30; t++) {
        tick(w, 10);
        flush_publish(p);
        size_t a = 0;
        podsync_nats_follower_poll(f1, 10, &a);
        podsync_nats_follower_poll(f2, 10, &a);
    }
    publish_all(p, 30000);
    expect_converged("cluster: follower 1 after its server died", f1, r1, w);
    expect_converged("cluster: follower 2 while n1 is down", f2, r2, w);
    CHECK(fstats(f1).reconnects >= 1, "follower 1 reconnected to another server");
    nats_start(0);
    for (int t = 0; t < 20; t++) { tick(w, 10); flush_publish(p); }
    publish_all(p, 30000);
    expect_converged("cluster: follower 1 after n1 came back", f1, r1, w);
    expect_converged("cluster: follower 2 after n1 came back", f2, r2, w);

    /* The whole cluster stops and restarts from its store directories. */
    for (int i = 0; i < 3; i++) nats_stop(i, 0);
    for (int t = 0; t < 5; t++) { tick(w, 10); flush_publish(p); }
    for (int i = 0; i < 3; i++) nats_start(i);
    publish_all(p, 60000);
    for (int t = 0; t < 10; t++) { tick(w, 10); flush_publish(p); }
    publish_all(p, 30000);
    expect_converged("cluster: follower 1 after the cluster restarted", f1, r1, w);
    expect_converged("cluster: follower 2 after the cluster restarted", f2, r2, w);
    podsync_nats_follower_stats s1 = fstats(f1), s2 = fstats(f2);
    CHECK(s1.rejected == 0 && s2.rejected == 0, "nothing rejected in the cluster (%" PRIu64 ", %" PRIu64 ")", s1.rejected, s2.rejected);
    /* Stored once: a publish retried after a lost acknowledgement is deduplicated by its
       Nats-Msg-Id, so no follower ever sees a frame twice. */
    CHECK(s1.duplicates == 0 && s2.duplicates == 0, "no frame delivered twice (%" PRIu64 ", %" PRIu64 ")", s1.duplicates, s2.duplicates);
    printf("cluster: followers at version %" PRIu64 " (writer %" PRIu64 "), digest %016" PRIx64 "; follower 1: %" PRIu64
           " applied, %" PRIu64 " duplicates, %" PRIu64 " snapshots, %" PRIu64 " reconnects; follower 2: %" PRIu64 " applied, %" PRIu64
           " duplicates, %" PRIu64 " snapshots, %" PRIu64 " reconnects\n",
           version_of(r1), version_of(w), digest_of(r1), s1.frames_applied, s1.duplicates, s1.snapshots_taken, s1.reconnects,
           s2.frames_applied, s2.duplicates, s2.snapshots_taken, s2.reconnects);
    podsync_nats_follower_free(f1);
    podsync_nats_follower_free(f2);
    podsync_nats_publisher_free(p);
    podsync_store_free(r1);
    podsync_store_free(r2);
    podsync_store_free(w);
    podsync_schema_free(schema);
    nats_stop_all();
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int run_single = argc < 2, run_cluster = argc < 2, run_edges = argc < 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "single")) run_single = 1;
        else if (!strcmp(argv[i], "cluster")) run_cluster = 1;
        else if (!strcmp(argv[i], "edges")) run_edges = 1;
    }
    if (run_single) single();
    if (run_edges) edges();
    if (run_cluster) cluster();
    if (failures) {
        printf("nats_carrier: %d failures\n", failures);
        return 1;
    }
    printf("nats_carrier: ok\n");
    return 0;
}
