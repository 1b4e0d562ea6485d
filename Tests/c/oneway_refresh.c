/*
 * oneway_refresh.c — replicas on one-way lossy links converge by the writer's rolling refresh.
 *
 * A writer (two tables, 1% of the records changed every tick, some deleted and inserted, frames
 * compressed at level 1) sends every flush frame, carrying a refresh slice (refresh_flushes R), to
 * four PODSYNC_OPT_ONE_WAY replicas over links that drop 20% of the frames independently and
 * never ask back. One replica is there from the start, three join later (empty, mid-stream).
 *
 * Checked on every frame delivered: no replica ever reports PODSYNC_GAP; PODSYNC_OK means in sync:
 * its digest equals the writer's at its version; PODSYNC_REFRESHING means out of sync
 * (info.refreshing). Then the loss stops while the ticks go on: every replica must be in sync
 * again within two refresh periods (docs/FORMAT.md, "Rolling refresh", guarantee 3: one period
 * when slice boundaries do not move between passes, at most two otherwise), and at the end hold
 * exactly the writer's records. Last, an idle writer (no changes; refresh-only frames every
 * refresh_ms) with 20% loss: a replica that missed changes converges once it has each slice range
 * after them. Prints a summary line; exits non-zero on any violation.
 *
 * Usage: oneway_refresh [--seed N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsync.h"

#define REPLICAS 4
#define R 20
#define TICKS 600
#define LOSS_TICKS 400
#define N_A 4000
#define N_B 600

static uint64_t rng_state = 7;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int failures = 0;
#define FAIL(...)                                                     \
    do {                                                              \
        fprintf(stderr, "oneway_refresh: FAIL: " __VA_ARGS__);        \
        fprintf(stderr, "\n");                                        \
        if (++failures > 20) exit(1);                                 \
    } while (0)

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "oneway_refresh: %s: %s (%s)\n", what, podsync_status_name(st), s ? podsync_store_errmsg(s) : "");
        exit(1);
    }
}

static podsync_store_info info_of(const podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    ok(podsync_store_info_get(s, &i), "info", s);
    return i;
}

/* The writer's digest after every version it reached. */
static uint64_t digests[TICKS + 4096];

typedef struct {
    podsync_store *store;
    int joined_at;         /* first tick it receives */
    int synced_after_loss; /* tick at which it was first in sync after the loss stopped, or -1 */
    unsigned long lost, refreshing, in_sync;
} replica;

static void deliver(replica *r, const uint8_t *f, size_t size, int tick, int lossy) {
    if (tick < r->joined_at) return;
    if (lossy && rnd() % 100 < 20) {
        r->lost++;
        return;
    }
    uint64_t v = 0;
    int32_t st = podsync_store_apply(r->store, f, size, &v);
    podsync_store_info i = info_of(r->store);
    if (st == PODSYNC_OK) {
        if (i.refreshing) FAIL("tick %d: OK but info.refreshing", tick);
        uint64_t d = 0;
        ok(podsync_store_digest(r->store, &d), "digest", r->store);
        if (d != digests[i.state_version]) FAIL("tick %d: in sync at version %" PRIu64 " with another digest", tick, i.state_version);
        r->in_sync++;
        if (!lossy && r->synced_after_loss < 0) r->synced_after_loss = tick;
    } else if (st == PODSYNC_REFRESHING) {
        if (!i.refreshing) FAIL("tick %d: REFRESHING but not info.refreshing", tick);
        r->refreshing++;
    } else if (st == PODSYNC_DUPLICATE) {
        /* a refresh-only frame at the version it holds */
    } else {
        FAIL("tick %d: apply returned %s (%s)", tick, podsync_status_name(st), podsync_store_errmsg(r->store));
    }
}

static void expect_same(podsync_store *w, replica *r, uint32_t table, const char *when) {
    const void *wr = NULL, *rr = NULL;
    const uint64_t *wk = NULL, *rk = NULL;
    size_t wn = 0, rn = 0;
    ok(podsync_store_table(w, table, &wr, &wk, &wn), "table", w);
    ok(podsync_store_table(r->store, table, &rr, &rk, &rn), "table", r->store);
    if (wn != rn) {
        FAIL("%s: table %u has %zu records, the writer %zu", when, table, rn, wn);
        return;
    }
    size_t size = table == 1 ? 24 : 8;
    for (size_t i = 0; i < wn; i++) {
        const void *mine = NULL;
        if (podsync_store_get(r->store, table, wk[i], &mine) != PODSYNC_OK ||
            memcmp(mine, (const uint8_t *)wr + i * size, size) != 0) {
            FAIL("%s: table %u key %" PRIu64 " differs", when, table, wk[i]);
            return;
        }
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--seed") == 0) rng_state = strtoull(argv[i + 1], NULL, 10);
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    ok(podsync_schema_add_table(schema, 1, 24, 8, NULL, 0), "table 1", NULL);
    ok(podsync_schema_add_table(schema, 2, 8, 8, NULL, 0), "table 2", NULL);

    podsync_store_options wo = PODSYNC_STORE_OPTIONS_INIT;
    wo.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    wo.refresh_flushes = R;
    wo.refresh_ms = 100;
    wo.compression_level = 1;
    wo.stream_id = 0xD1CE;
    podsync_store *w = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &wo, &w), "writer", NULL);
    podsync_store_options ro = PODSYNC_STORE_OPTIONS_INIT;
    ro.flags |= PODSYNC_OPT_ONE_WAY;
    replica reps[REPLICAS];
    int joins[REPLICAS] = {0, 37, 150, 333};
    for (int i = 0; i < REPLICAS; i++) {
        memset(&reps[i], 0, sizeof reps[i]);
        ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &ro, &reps[i].store), "replica", NULL);
        reps[i].joined_at = joins[i];
        reps[i].synced_after_loss = -1;
    }

    uint64_t rec[3];
    for (uint64_t k = 0; k < N_A; k++) {
        rec[0] = k; rec[1] = rnd(); rec[2] = 0;
        ok(podsync_store_put(w, 1, k * 7, rec, 24), "put", w);
    }
    for (uint64_t k = 0; k < N_B; k++) ok(podsync_store_put(w, 2, k << 32, &k, 8), "put", w);
    uint64_t now = 0, frames_sent = 0, slices = 0;
    uint64_t next_key = N_A;
    for (int tick = 0; tick < TICKS; tick++) {
        if (tick > 0) {
            for (int j = 0; j < N_A / 100; j++) {
                rec[0] = rnd() % next_key; rec[1] = rnd(); rec[2] = (uint64_t)tick;
                ok(podsync_store_put(w, 1, rec[0] * 7, rec, 24), "put", w);
            }
            uint64_t gone = (rnd() % next_key) * 7;
            (void)podsync_store_delete(w, 1, gone);
            rec[0] = next_key; rec[1] = rnd(); rec[2] = (uint64_t)tick;
            ok(podsync_store_put(w, 1, next_key++ * 7, rec, 24), "put", w);
            uint64_t b = rnd() % N_B;
            ok(podsync_store_put(w, 2, b << 32, &now, 8), "put", w);
        }
        now += 16;
        ok(podsync_store_set_time(w, now), "set_time", w);
        size_t n = 0;
        ok(podsync_store_flush(w, &n), "flush", w);
        podsync_store_info wi = info_of(w);
        uint64_t d = 0;
        ok(podsync_store_digest(w, &d), "digest", w);
        digests[wi.state_version] = d;
        for (size_t k = 0; k < n; k++) {
            const uint8_t *f = NULL;
            size_t size = 0;
            ok(podsync_store_frame(w, k, &f, &size), "frame", w);
            podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
            ok(podsync_frame_validate(f, size, &fi), "validate", NULL);
            if (fi.flags & PODSYNC_FRAME_SLICE) slices++;
            frames_sent++;
            for (int i = 0; i < REPLICAS; i++) deliver(&reps[i], f, size, tick, tick < LOSS_TICKS);
        }
    }
    for (int i = 0; i < REPLICAS; i++) {
        replica *r = &reps[i];
        podsync_store_info ri = info_of(r->store), wi = info_of(w);
        uint64_t dr = 0, dw = 0;
        ok(podsync_store_digest(r->store, &dr), "digest", r->store);
        ok(podsync_store_digest(w, &dw), "digest", w);
        if (r->synced_after_loss < 0 || r->synced_after_loss > LOSS_TICKS + 2 * R)
            FAIL("replica %d: in sync again only at tick %d, the loss stopped at %d (R = %d)", i, r->synced_after_loss, LOSS_TICKS, R);
        if (ri.refreshing || ri.state_version != wi.state_version || dr != dw)
            FAIL("replica %d: at the end refreshing %u, version %" PRIu64 "/%" PRIu64, i, ri.refreshing, ri.state_version, wi.state_version);
        expect_same(w, r, 1, "end");
        expect_same(w, r, 2, "end");
        printf("replica %d (joined at tick %d): lost %lu frames, %lu applied out of sync, %lu in sync; "
               "in sync again %d ticks after the loss stopped\n",
               i, r->joined_at, r->lost, r->refreshing, r->in_sync, r->synced_after_loss - LOSS_TICKS);
    }

    /* An idle writer: a replica that lost the last changes converges from refresh-only frames. */
    podsync_store *late = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &ro, &late), "replica", NULL);
    replica idle = {late, 0, -1, 0, 0, 0};
    int frames_to_sync = -1;
    for (int step = 0; step < 40 * R && frames_to_sync < 0; step++) {
        now += 100;
        ok(podsync_store_set_time(w, now), "set_time", w);
        if (podsync_store_flush_due(w) != PODSYNC_FLUSH_DUE) FAIL("idle writer: no refresh due after refresh_ms");
        size_t n = 0;
        ok(podsync_store_flush(w, &n), "flush", w);
        if (n != 1) FAIL("idle writer: flush gave %zu frames, one refresh-only frame expected", n);
        const uint8_t *f = NULL;
        size_t size = 0;
        ok(podsync_store_frame(w, 0, &f, &size), "frame", w);
        deliver(&idle, f, size, 0, 1);
        if (idle.in_sync > 0) frames_to_sync = step + 1;
    }
    if (frames_to_sync < 0) FAIL("a replica fed only refresh-only frames with 20%% loss never got in sync");
    expect_same(w, &idle, 1, "idle");
    expect_same(w, &idle, 2, "idle");
    printf("idle writer, empty replica, 20%% loss: in sync after %d refresh-only frames (R = %d)\n", frames_to_sync, R);
    podsync_store_free(late);
    printf("oneway_refresh: %" PRIu64 " frames, %" PRIu64 " with a slice, %d failures\n", frames_sent, slices, failures);
    for (int i = 0; i < REPLICAS; i++) podsync_store_free(reps[i].store);
    podsync_store_free(w);
    podsync_schema_free(schema);
    return failures ? 1 : 0;
}
