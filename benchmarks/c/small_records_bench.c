/*
 * small_records_bench.c — bytes a tick of small game objects at 60 Hz, by transform set.
 *
 * 5,000 objects of 12 bytes (x, y, z, heading, hp, flags: i16/u16, quantized), CHANGES of them
 * moving a little each tick (x, y by -2..2, heading by 0..6, hp down now and then), 600 ticks (ten
 * seconds at 60 Hz), zstd level 1. The schema declares the six fields (so the FIELDS transform can
 * send the integers as differences). The same ticks go to writers whose options allow every
 * transform, every transform but FIELDS, but COLUMNS, but XOR, and none, each with a replica that
 * applies every frame (its digest must equal the writer's at the end); printed: frame bytes a tick
 * (medians are not needed: the bytes are deterministic) and encode time a tick.
 *
 *   usage: small_records_bench [CHANGES...]     default: 10 40 200 1000
 *
 * C99 + POSIX clock_gettime; uses only include/podsync.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podsync.h"

typedef struct {
    int16_t x, y, z;
    uint16_t heading, hp, flags;
} object; /* 12 bytes */

#define OBJECTS 5000
#define TICKS 600

static uint64_t rng;
static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void ok(int32_t st, const char *what) {
    if (st < 0) {
        fprintf(stderr, "small_records_bench: %s: %s (%s)\n", what, podsync_status_name(st), podsync_last_errmsg());
        exit(1);
    }
}

static void apply_all(podsync_store *w, podsync_store *r, size_t n) {
    for (size_t f = 0; f < n; f++) {
        const uint8_t *p = NULL;
        size_t size = 0;
        ok(podsync_store_frame(w, f, &p, &size), "frame");
        ok(podsync_store_apply(r, p, size, NULL), "apply");
    }
}

int main(int argc, char **argv) {
#define SET_COUNT 5
    static const uint32_t SETS[SET_COUNT] = {PODSYNC_TRANSFORM_ALL, PODSYNC_TRANSFORM_ALL & ~PODSYNC_TRANSFORM_FIELDS,
                                             PODSYNC_TRANSFORM_ALL & ~PODSYNC_TRANSFORM_COLUMNS,
                                             PODSYNC_TRANSFORM_ALL & ~PODSYNC_TRANSFORM_XOR, 0};
    static const char *NAMES[SET_COUNT] = {"every transform", "all but FIELDS", "all but COLUMNS", "all but XOR", "none"};
    static const podsync_field FIELDS[6] = {
        {"x", PODSYNC_TYPE_I16, 0, 1, 0},       {"y", PODSYNC_TYPE_I16, 2, 1, 0},  {"z", PODSYNC_TYPE_I16, 4, 1, 0},
        {"heading", PODSYNC_TYPE_U16, 6, 1, 0}, {"hp", PODSYNC_TYPE_U16, 8, 1, 0}, {"flags", PODSYNC_TYPE_U16, 10, 1, 0}};
    int defaults[4] = {10, 40, 200, 1000};
    int count = argc > 1 ? argc - 1 : 4;
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema");
    ok(podsync_schema_add_table(schema, 1, sizeof(object), 2, FIELDS, 6), "table");
    printf("%-8s %-16s %12s %12s\n", "changes", "transforms", "bytes/tick", "encode/tick");
    for (int a = 0; a < count; a++) {
        int changes = argc > 1 ? atoi(argv[a + 1]) : defaults[a];
        if (changes < 1 || changes > OBJECTS) {
            fprintf(stderr, "usage: small_records_bench [CHANGES (1..%d)...]\n", OBJECTS);
            return 2;
        }
        for (int v = 0; v < SET_COUNT; v++) {
            rng = 1;
            podsync_store_options o;
            ok(podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION), "options");
            o.compression_level = 1;
            o.transforms = SETS[v];
            o.flags |= PODSYNC_OPT_MANUAL_CLOCK;
            podsync_store *w = NULL;
            ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w), "writer");
            podsync_store *r = NULL;
            ok(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &r), "replica");
            static object objs[OBJECTS];
            for (uint64_t i = 0; i < OBJECTS; i++) {
                objs[i] = (object){(int16_t)(rnd() % 2000), (int16_t)(rnd() % 2000), (int16_t)(rnd() % 100), (uint16_t)(rnd() % 360), 100, 0};
                ok(podsync_store_put(w, 1, i, &objs[i], sizeof(object)), "put");
            }
            size_t n = 0;
            ok(podsync_store_flush(w, &n), "flush");
            apply_all(w, r, n);
            size_t bytes = 0;
            double ms = 0;
            for (int t = 0; t < TICKS; t++) {
                for (int c = 0; c < changes; c++) {
                    size_t i = (size_t)(rnd() % OBJECTS);
                    objs[i].x = (int16_t)(objs[i].x + (int)(rnd() % 5) - 2);
                    objs[i].y = (int16_t)(objs[i].y + (int)(rnd() % 5) - 2);
                    objs[i].heading = (uint16_t)((objs[i].heading + rnd() % 7) % 360);
                    if (rnd() % 10 == 0) objs[i].hp--;
                    ok(podsync_store_put(w, 1, i, &objs[i], sizeof(object)), "put");
                }
                double s = now_ms();
                ok(podsync_store_flush(w, &n), "flush");
                ms += now_ms() - s;
                for (size_t f = 0; f < n; f++) {
                    const uint8_t *p = NULL;
                    size_t size = 0;
                    ok(podsync_store_frame(w, f, &p, &size), "frame");
                    bytes += size;
                }
                apply_all(w, r, n);
            }
            uint64_t dw = 0, dr = 0;
            ok(podsync_store_digest(w, &dw), "digest");
            ok(podsync_store_digest(r, &dr), "digest");
            if (dw != dr) {
                fprintf(stderr, "small_records_bench: %s: the replica's digest differs from the writer's\n", NAMES[v]);
                return 1;
            }
            printf("%-8d %-16s %12.1f %9.1f us\n", changes, NAMES[v], (double)bytes / TICKS, ms * 1e3 / TICKS);
            podsync_store_free(w);
            podsync_store_free(r);
        }
    }
    podsync_schema_free(schema);
    return 0;
}
