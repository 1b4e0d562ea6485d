/* writer.c — the C writer of the cross-language demo (examples/xlang/run.sh).
 *
 * Owns a world of entities (40-byte records), and streams it to standard output: the schema's
 * canonical encoding (u32 length, little-endian, then the bytes), a chunked snapshot (256 KiB
 * chunks, format 2), then the frames of every tick, in which 1% of the entities move, in format 2.
 * Frames are self-delimiting (16-byte prefix, header, frame_length: podsync.h,
 * PODSYNC_FRAME_PREFIX_SIZE). At the end it writes its records to RECORDS_OUT (u64 count, the keys, the records) so a
 * replica can compare its table with them, and reports its digest on standard error.
 *
 * Usage: writer ENTITIES TICKS RECORDS_OUT > stream
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "podsync.h"

typedef struct entity { uint64_t id; float pos[3]; float rot[4]; uint32_t flags; } entity;

#define CHECK(call)                                                                   \
    do {                                                                              \
        int32_t st_ = (call);                                                         \
        if (st_ < 0) {                                                                \
            fprintf(stderr, "writer: %s: %s\n", #call, podsync_status_name(st_));     \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static uint64_t rng_state = 42;
static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static float drift(void) { return (float)((int)(rng() % 2001) - 1000) / 10000.0f; }

static size_t frames_sent, bytes_sent;

static void write_all(const void *data, size_t size) {
    if (fwrite(data, 1, size, stdout) != size) { perror("writer: stdout"); exit(1); }
}

static void send_outbox(podsync_store *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        CHECK(podsync_store_frame(w, i, &data, &size));
        write_all(data, size);
        frames_sent++;
        bytes_sent += size;
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s ENTITIES TICKS RECORDS_OUT\n", argv[0]); return 2; }
    size_t count = strtoull(argv[1], NULL, 10), ticks = strtoull(argv[2], NULL, 10);
    size_t moving = count / 100 ? count / 100 : 1;

    static const podsync_field fields[] = {{"id", PODSYNC_TYPE_U64, 0, 1, 0}, {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
                                           {"rot", PODSYNC_TYPE_F32, 20, 4, 0}, {"flags", PODSYNC_TYPE_U32, 36, 1, 0}};
    podsync_schema *schema = NULL;
    CHECK(podsync_schema_create(&schema));
    CHECK(podsync_schema_add_table(schema, 1, sizeof(entity), 8, fields, 4));
    podsync_store *w = NULL;
    /* Format-2 frames (compact headers): the replicas are all of this library's version. */
    podsync_store_options options = PODSYNC_STORE_OPTIONS_INIT;
    options.frame_format = 2;
    CHECK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &options, &w));

    size_t schema_size = 0;
    (void)podsync_schema_encode(schema, NULL, 0, &schema_size);
    uint8_t *schema_bytes = malloc(schema_size);
    CHECK(podsync_schema_encode(schema, schema_bytes, schema_size, &schema_size));
    uint8_t prefix[4] = {(uint8_t)schema_size, (uint8_t)(schema_size >> 8), (uint8_t)(schema_size >> 16), (uint8_t)(schema_size >> 24)};
    write_all(prefix, 4);
    write_all(schema_bytes, schema_size);

    entity *world = malloc(count * sizeof *world);
    uint64_t *keys = malloc(count * sizeof *keys);
    for (size_t i = 0; i < count; i++) {
        keys[i] = i + 1;
        world[i] = (entity){keys[i], {(float)(rng() % 1000), (float)(rng() % 1000), 0}, {0, 0, 0, 1}, 0};
    }
    size_t n = 0;
    CHECK(podsync_store_put_many(w, 1, keys, world, count, count * sizeof *world));
    CHECK(podsync_store_flush(w, &n));
    /* The initial state as a chunked snapshot: 256 KiB at a time, never the whole of it. */
    podsync_snapshot *snap = NULL;
    CHECK(podsync_snapshot_begin(w, 256 << 10, &snap));
    const uint8_t *chunk = NULL;
    size_t chunk_size = 0;
    int32_t st;
    while ((st = podsync_snapshot_next(snap, &chunk, &chunk_size)) == PODSYNC_OK) write_all(chunk, chunk_size);
    CHECK(st);
    podsync_snapshot_free(snap);

    uint64_t *tick_keys = malloc(moving * sizeof *tick_keys);
    entity *tick_records = malloc(moving * sizeof *tick_records);
    for (size_t t = 1; t <= ticks; t++) {
        for (size_t j = 0; j < moving; j++) {
            entity *e = &world[rng() % count];
            e->pos[0] += drift();
            e->pos[1] += drift();
            e->rot[2] += drift() / 10;
            if (rng() % 1000 == 0) e->flags ^= 1;
            tick_keys[j] = e->id;
            tick_records[j] = *e;
        }
        CHECK(podsync_store_put_many(w, 1, tick_keys, tick_records, moving, moving * sizeof *tick_records));
        CHECK(podsync_store_flush(w, &n));
        send_outbox(w, n);
    }

    /* The writer's records, for the replicas to compare their tables with. */
    const void *records = NULL;
    const uint64_t *record_keys = NULL;
    size_t live = 0;
    CHECK(podsync_store_table(w, 1, &records, &record_keys, &live));
    FILE *dump = fopen(argv[3], "wb");
    uint64_t live64 = live;
    if (!dump || fwrite(&live64, 8, 1, dump) != 1 || fwrite(record_keys, 8, live, dump) != live ||
        fwrite(records, sizeof(entity), live, dump) != live || fclose(dump) != 0) {
        perror(argv[3]);
        return 1;
    }
    if (fclose(stdout) != 0) { perror("writer: stdout"); return 1; }

    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    CHECK(podsync_store_info_get(w, &info));
    fprintf(stderr, "C writer:       version %" PRIu64 " digest %016" PRIx64 " records %zu (%zu frames, %zu bytes sent)\n",
            info.state_version, info.digest, live, frames_sent, bytes_sent);
    free(tick_records);
    free(tick_keys);
    free(keys);
    free(world);
    free(schema_bytes);
    podsync_store_free(w);
    podsync_schema_free(schema);
    return 0;
}
