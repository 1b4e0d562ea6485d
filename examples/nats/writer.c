/*
 * writer.c — the NATS demo's writer: a world of entities (40-byte records) that ticks 1% of them
 * at a fixed rate, published through the JetStream carrier (podsync_nats.h).
 *
 * Usage: writer URL STREAM ENTITIES SECONDS HZ FINAL_FILE
 * At the end it publishes everything still pending, writes "VERSION DIGEST" to FINAL_FILE (the
 * followers stop when they reach that version) and prints its own line.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"
#include "podsync_nats.h"

typedef struct entity { float x, y, z, yaw; float vx, vy, vz; uint32_t flags; uint64_t owner; } entity;

static uint64_t rng = 42;
static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char *what, int32_t st, const char *message) {
    fprintf(stderr, "writer: %s: %s: %s\n", what, podsync_nats_status_name(st), message);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: writer URL STREAM ENTITIES SECONDS HZ FINAL_FILE\n");
        return 2;
    }
    const char *url = argv[1], *stream = argv[2], *final_file = argv[6];
    uint64_t entities = strtoull(argv[3], NULL, 10);
    double seconds = atof(argv[4]), hz = atof(argv[5]);
    podsync_schema *schema = NULL;
    podsync_store *w = NULL;
    int32_t st = podsync_schema_create(&schema);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(schema, 1, sizeof(entity), 8, NULL, 0);
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.max_frame_bytes = 1000 * 1000;  /* below the server's 1 MiB max_payload less headers */
    if (st == PODSYNC_OK) st = podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w);
    if (st != PODSYNC_OK) fail("create", st, podsync_last_errmsg());
    entity e;
    memset(&e, 0, sizeof e);
    for (uint64_t id = 0; id < entities; id++) {
        e.x = (float)(rnd() % 10000);
        e.owner = id;
        podsync_store_put(w, 1, id, &e, sizeof e);
    }
    size_t n = 0;
    podsync_store_flush(w, &n);
    podsync_nats_options no = PODSYNC_NATS_OPTIONS_INIT;
    no.storage = PODSYNC_NATS_STORAGE_MEMORY;
    no.snapshot_every_ms = 2000;
    podsync_nats_publisher *p = NULL;
    st = podsync_nats_publisher_create(w, url, stream, &no, &p);
    if (st != PODSYNC_OK) fail("publisher", st, podsync_nats_last_errmsg());
    double start = now_s(), next = start;
    uint64_t ticks = 0, failed = 0;
    while (now_s() - start < seconds) {
        for (uint64_t i = 0; i < entities / 100; i++) {
            uint64_t id = rnd() % entities;
            e.x = (float)(rnd() % 10000);
            e.y = (float)ticks;
            e.owner = id;
            podsync_store_put(w, 1, id, &e, sizeof e);
        }
        size_t published = 0;
        st = podsync_nats_publisher_flush(p, &published);
        if (st < 0) {
            if (st != PODSYNC_NATS_E_CONNECTION && st != PODSYNC_NATS_E_TIMEOUT) fail("flush", st, podsync_nats_publisher_errmsg(p));
            failed++;
        }
        ticks++;
        next += 1.0 / hz;
        double wait = next - now_s();
        if (wait > 0) {
            struct timespec t = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&t, NULL);
        }
    }
    podsync_nats_publisher_stats ps = PODSYNC_NATS_PUBLISHER_STATS_INIT;
    for (int i = 0; i < 100; i++) {
        size_t published = 0;
        podsync_nats_publisher_flush(p, &published);
        podsync_nats_publisher_stats_get(p, &ps);
        if (ps.frames_pending == 0) break;
        struct timespec t = {0, 100000000L};
        nanosleep(&t, NULL);
    }
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    podsync_store_info_get(w, &info);
    FILE *f = fopen(final_file, "w");
    if (!f) { perror(final_file); return 1; }
    fprintf(f, "%" PRIu64 " %016" PRIx64 "\n", info.state_version, info.digest);
    fclose(f);
    uint64_t records = 0;
    podsync_store_count(w, 1, &records);
    printf("C writer:     version %" PRIu64 " digest %016" PRIx64 " records %" PRIu64 " (%" PRIu64 " ticks in %.1f s, %" PRIu64
           " frames and %" PRIu64 " snapshots published, %" PRIu64 " bytes, %" PRIu64 " flushes failed)\n",
           info.state_version, info.digest, records, ticks, now_s() - start, ps.frames_published, ps.snapshots_published,
           ps.bytes_published, failed);
    podsync_nats_publisher_free(p);
    podsync_store_free(w);
    podsync_schema_free(schema);
    return ps.frames_pending == 0 ? 0 : 1;
}
