/*
 * follower.c — the NATS demo's C follower: a replica store following the stream until it reaches
 * the version the writer wrote to FINAL_FILE, then prints its digest.
 *
 * Usage: follower URL STREAM FINAL_FILE [TIMEOUT_SECONDS]
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "podsync.h"
#include "podsync_nats.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: follower URL STREAM FINAL_FILE [TIMEOUT_SECONDS]\n");
        return 2;
    }
    double timeout = argc > 4 ? atof(argv[4]) : 120;
    podsync_schema *schema = NULL;
    podsync_store *r = NULL;
    podsync_nats_follower *f = NULL;
    int32_t st = podsync_schema_create(&schema);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(schema, 1, 40, 8, NULL, 0);
    if (st == PODSYNC_OK) st = podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &r);
    if (st == PODSYNC_OK) st = podsync_nats_follower_create(r, argv[1], argv[2], NULL, &f);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "C follower: %s: %s\n", podsync_nats_status_name(st), podsync_nats_last_errmsg());
        return 1;
    }
    double start = now_s();
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    while (now_s() - start < timeout) {
        size_t applied = 0;
        st = podsync_nats_follower_poll(f, 100, &applied);
        if (st < 0 && st != PODSYNC_NATS_E_CONNECTION && st != PODSYNC_NATS_E_TIMEOUT && st != PODSYNC_NATS_E_STREAM_MISSING)
            fprintf(stderr, "C follower: %s: %s\n", podsync_nats_status_name(st), podsync_nats_follower_errmsg(f));
        podsync_store_info_get(r, &info);
        uint64_t final_version = 0;
        FILE *file = fopen(argv[3], "r");
        if (file) {
            if (fscanf(file, "%" SCNu64, &final_version) != 1) final_version = 0;
            fclose(file);
        }
        if (final_version && info.state_version == final_version) {
            podsync_nats_follower_stats s = PODSYNC_NATS_FOLLOWER_STATS_INIT;
            podsync_nats_follower_stats_get(f, &s);
            uint64_t records = 0;
            podsync_store_count(r, 1, &records);
            printf("C follower:   version %" PRIu64 " digest %016" PRIx64 " records %" PRIu64 " (%" PRIu64 " frames applied, %" PRIu64
                   " snapshots, %" PRIu64 " bytes received)\n",
                   info.state_version, info.digest, records, s.frames_applied, s.snapshots_taken, s.bytes_received);
            podsync_nats_follower_free(f);
            podsync_store_free(r);
            podsync_schema_free(schema);
            return 0;
        }
    }
    fprintf(stderr, "C follower: stuck at version %" PRIu64 " after %.0f s\n", info.state_version, timeout);
    return 1;
}
