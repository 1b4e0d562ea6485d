/* quickstart.c — the README's C quick start: schema, writer, put, flush, frames, replica, digest. */
#include <inttypes.h>
#include <stdio.h>

#include "podsync.h"

typedef struct entity { /* 40 bytes, no padding */
    uint64_t id;
    float pos[3];
    float rot[4];
    uint32_t flags;
} entity;

#define CHECK(call)                                                                  \
    do {                                                                             \
        int32_t st_ = (call);                                                        \
        if (st_ < 0) { /* negative = error; positive = informational */              \
            fprintf(stderr, "%s: %s\n", #call, podsync_status_name(st_));            \
            return 1;                                                                \
        }                                                                            \
    } while (0)

int main(void) {
    /* 1. A schema: table 1 holds 40-byte entity records (fields describe the layout). */
    static const podsync_field fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    podsync_schema *schema = NULL;
    CHECK(podsync_schema_create(&schema));
    CHECK(podsync_schema_add_table(schema, 1, sizeof(entity), 8, fields, 4));

    /* 2. A writer and a replica of that schema (each keeps its own copy of it). */
    podsync_store *writer = NULL, *replica = NULL;
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, NULL, &writer));
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &replica));
    podsync_schema_free(schema);

    /* 3. Writes are coalesced per key until the next flush. */
    for (uint64_t id = 1; id <= 3; id++) {
        entity e = {id, {(float)id, 0, 0}, {0, 0, 0, 1}, 0};
        CHECK(podsync_store_put(writer, 1, id, &e, sizeof e));
    }
    entity moved = {2, {2.5f, 0, 0}, {0, 0, 0, 1}, 7};
    CHECK(podsync_store_put(writer, 1, 2, &moved, sizeof moved)); /* the last value wins */
    CHECK(podsync_store_delete(writer, 1, 3));                    /* created and deleted: not sent */

    /* 4. Flush turns the batch into frames: borrowed, 64-byte aligned bytes to send anywhere. */
    size_t n = 0;
    CHECK(podsync_store_flush(writer, &n));
    for (size_t i = 0; i < n; i++) {
        const uint8_t *frame = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(writer, i, &frame, &size));
        /* 5. The replica applies each frame (here in-process; normally after a pipe or socket). */
        uint64_t version = 0;
        CHECK(podsync_store_apply(replica, frame, size, &version));
        printf("frame %zu: %zu bytes, replica at version %" PRIu64 "\n", i, size, version);
    }

    /* 6. Equal digests mean equal records. */
    uint64_t dw = 0, dr = 0;
    size_t count = 0;
    const void *rec = NULL;
    CHECK(podsync_store_digest(writer, &dw));
    CHECK(podsync_store_digest(replica, &dr));
    CHECK(podsync_store_count(replica, 1, &count));
    CHECK(podsync_store_get(replica, 1, 2, &rec));
    printf("replica: %zu records, entity 2 at x=%.1f; digests %016" PRIx64 " / %016" PRIx64 ": %s\n", count,
           rec ? ((const entity *)rec)->pos[0] : -1.0f, dw, dr, dw == dr ? "in sync" : "DIFFERENT");

    podsync_store_free(writer);
    podsync_store_free(replica);
    return dw == dr && count == 2 ? 0 : 1;
}
