/* catchup.c — a replica that starts from a snapshot, follows deltas over a lossy link, and heals
 * every gap with a catch-up delta (or a snapshot when it fell behind what the writer remembers).
 *
 * In-process for brevity: "send" copies a frame, and the loss is simulated. Across processes the
 * replica would send its version back to the writer (the GAP status reports it) and the writer
 * would answer with podsync_store_delta_since.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsync.h"

typedef struct sensor { uint32_t id; float value; uint64_t at; } sensor; /* 16 bytes */

#define CHECK(call)                                                                   \
    do {                                                                              \
        int32_t st_ = (call);                                                         \
        if (st_ < 0) {                                                                \
            fprintf(stderr, "%s: %s\n", #call, podsync_status_name(st_));             \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static uint64_t seed = 7;
static uint64_t next_random(void) { seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; return seed >> 33; }

/* Applies every frame in the writer's outbox to the replica; returns the last status. */
static int32_t deliver_outbox(podsync_store *from, size_t frames, podsync_store *to, uint64_t *version) {
    int32_t st = PODSYNC_OK;
    for (size_t i = 0; i < frames; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(from, i, &data, &size));
        st = podsync_store_apply(to, data, size, version);
        CHECK(st);
    }
    return st;
}

int main(void) {
    static const podsync_field fields[] = {{"id", PODSYNC_TYPE_U32, 0, 1, 0},
                                           {"value", PODSYNC_TYPE_F32, 4, 1, 0},
                                           {"at", PODSYNC_TYPE_U64, 8, 1, 0}};
    podsync_schema *schema = NULL;
    CHECK(podsync_schema_create(&schema));
    CHECK(podsync_schema_add_table(schema, 1, sizeof(sensor), 8, fields, 3));

    podsync_store_options opts = PODSYNC_STORE_OPTIONS_INIT;
    opts.tombstone_horizon = 20; /* remember deletions for 20 versions only, to show the fallback */
    podsync_store *writer = NULL, *replica = NULL;
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &opts, &writer));
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &replica));

    /* 1. Some state exists before the replica starts: it begins with a snapshot. */
    for (uint32_t id = 0; id < 1000; id++) {
        sensor s = {id, (float)id, 0};
        CHECK(podsync_store_put(writer, 1, id, &s, sizeof s));
    }
    size_t n = 0;
    uint64_t version = 0;
    CHECK(podsync_store_flush(writer, &n));
    CHECK(podsync_store_snapshot(writer, &n));
    deliver_outbox(writer, n, replica, &version);
    printf("replica starts from a snapshot at version %" PRIu64 "\n", version);

    /* 2. Ticks of deltas over a link that loses 20% of the frames, and one long outage. */
    int gaps = 0, healed_by_delta = 0, healed_by_snapshot = 0;
    for (uint64_t t = 1; t <= 100; t++) {
        for (int k = 0; k < 20; k++) {
            uint32_t id = (uint32_t)(next_random() % 1200);
            sensor s = {id, (float)(next_random() % 1000) / 10.0f, t};
            CHECK(podsync_store_put(writer, 1, id, &s, sizeof s));
        }
        if (t % 7 == 0) (void)podsync_store_delete(writer, 1, next_random() % 1200);
        CHECK(podsync_store_flush(writer, &n));
        int lost = next_random() % 5 == 0 || (t >= 40 && t < 70); /* outage: ticks 40..69 */
        if (lost) continue;
        int32_t st = deliver_outbox(writer, n, replica, &version);
        if (st == PODSYNC_GAP) {
            gaps++;
            /* The replica reports its version; the writer sends everything since then. */
            int32_t answer = podsync_store_delta_since(writer, version, &n);
            CHECK(answer);
            if (answer == PODSYNC_SNAPSHOT_REQUIRED) {
                CHECK(podsync_store_snapshot(writer, &n));
                healed_by_snapshot++;
            } else {
                healed_by_delta++;
            }
            deliver_outbox(writer, n, replica, &version);
        }
    }

    uint64_t dw = 0, dr = 0;
    CHECK(podsync_store_digest(writer, &dw));
    CHECK(podsync_store_digest(replica, &dr));
    printf("%d gaps: %d healed by a catch-up delta, %d by a snapshot (outage beyond the horizon)\n",
           gaps, healed_by_delta, healed_by_snapshot);
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    CHECK(podsync_store_info_get(writer, &info));
    printf("writer  version %" PRIu64 " digest %016" PRIx64 "\n", info.state_version, dw);
    printf("replica version %" PRIu64 " digest %016" PRIx64 " %s\n", version, dr, dw == dr ? "MATCH" : "MISMATCH");
    podsync_store_free(replica);
    podsync_store_free(writer);
    podsync_schema_free(schema);
    return dw == dr && healed_by_delta > 0 && healed_by_snapshot > 0 ? 0 : 1;
}
