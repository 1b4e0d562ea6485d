/* late_joiner.c — a replica that joins a running stream late. It bootstraps from another replica
 * (replicas serve snapshots and catch-up deltas too, so the writer is not loaded by newcomers),
 * then follows the writer's live frames like everyone else: frames it already has are duplicates,
 * and the first frame past its snapshot applies directly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "podsync.h"

typedef struct level { double price; double quantity; uint32_t orders; uint32_t side; } level; /* 24 B */

#define CHECK(call)                                                                   \
    do {                                                                              \
        int32_t st_ = (call);                                                         \
        if (st_ < 0) {                                                                \
            fprintf(stderr, "%s: %s\n", #call, podsync_status_name(st_));             \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static int32_t apply_outbox(podsync_store *from, size_t frames, podsync_store *to) {
    int32_t st = PODSYNC_OK;
    for (size_t i = 0; i < frames; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(from, i, &data, &size));
        st = podsync_store_apply(to, data, size, NULL);
        CHECK(st);
    }
    return st;
}

/* One tick of an order book: a few price levels change, one empties. */
static void tick(podsync_store *w, uint64_t t, size_t *frames) {
    for (uint64_t k = 0; k < 8; k++) {
        uint64_t key = (t * 31 + k * 17) % 200;
        level l = {100.0 + (double)key / 100.0, (double)((t + k) % 50), (uint32_t)(k + 1), (uint32_t)(key % 2)};
        CHECK(podsync_store_put(w, 1, key, &l, sizeof l));
    }
    (void)podsync_store_delete(w, 1, (t * 13) % 200);
    CHECK(podsync_store_flush(w, frames));
}

int main(void) {
    static const podsync_field fields[] = {{"price", PODSYNC_TYPE_F64, 0, 1, 0},
                                           {"quantity", PODSYNC_TYPE_F64, 8, 1, 0},
                                           {"orders", PODSYNC_TYPE_U32, 16, 1, 0},
                                           {"side", PODSYNC_TYPE_U32, 20, 1, 0}};
    podsync_schema *schema = NULL;
    CHECK(podsync_schema_create(&schema));
    CHECK(podsync_schema_add_table(schema, 1, sizeof(level), 8, fields, 4));
    podsync_store *writer = NULL, *early = NULL, *late = NULL;
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, NULL, &writer));
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &early));
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &late));

    size_t n = 0;
    for (uint64_t t = 1; t <= 50; t++) {      /* the early replica follows from the start */
        tick(writer, t, &n);
        apply_outbox(writer, n, early);
    }

    /* The late replica asks the early one for a snapshot. */
    CHECK(podsync_store_snapshot(early, &n));
    apply_outbox(early, n, late);
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    CHECK(podsync_store_info_get(late, &info));
    printf("late replica joined from a peer's snapshot at version %" PRIu64 "\n", info.state_version);

    /* From here on both follow the writer's live frames. */
    for (uint64_t t = 51; t <= 80; t++) {
        tick(writer, t, &n);
        apply_outbox(writer, n, early);
        apply_outbox(writer, n, late);
    }
    uint64_t dw = 0, de = 0, dl = 0;
    size_t count = 0;
    CHECK(podsync_store_digest(writer, &dw));
    CHECK(podsync_store_digest(early, &de));
    CHECK(podsync_store_digest(late, &dl));
    CHECK(podsync_store_count(late, 1, &count));
    printf("writer %016" PRIx64 ", early replica %016" PRIx64 ", late replica %016" PRIx64 " (%zu levels): %s\n",
           dw, de, dl, count, dw == de && dw == dl ? "MATCH" : "MISMATCH");
    podsync_store_free(late);
    podsync_store_free(early);
    podsync_store_free(writer);
    podsync_schema_free(schema);
    return dw == de && dw == dl ? 0 : 1;
}
