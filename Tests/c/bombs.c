/* Hostile frames (Tests/fixtures/bombs/NAME.bin, their schemas NAME.schema) cost a receiver only
 * what its limits allow, and never kill it: each frame is applied and validated in a child
 * process whose address space is capped (RLIMIT_AS, as `ulimit -v` does), once with the default
 * options and once with tight limits (max_decoded_bytes 64 MiB, max_records 1 M, max_tombstones
 * 100,000). The child must exit normally (a Swift trap or an allocation abort is a signal), a
 * rejected frame must leave the replica's version and digest as they were, the replica must still
 * apply a good frame afterwards, and with tight limits the peak RSS may grow by at most 256 MiB.
 *
 * Usage: bombs [DIR] [address-space-MiB]   (defaults Tests/fixtures/bombs, 2500) */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "podsync.h"

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    *size = (size_t)n;
    return p;
}

/* A /proc/self/status field in KiB ("VmRSS:", "VmHWM:"). */
static long status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, field, n) == 0) { v = atol(line + n); break; }
    }
    if (f) fclose(f);
    return v;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* What each known fixture must get: apply and validate with the default options (0 = OK or
   PODSYNC_E_NO_MEMORY, whichever the address-space limit allows) and with tight limits. */
static const struct expectation {
    const char *file;
    int32_t apply_default, validate_default, apply_tight, validate_tight;
} expectations[] = {
    {"zstd_bomb.bin", PODSYNC_E_UNKNOWN_TABLE, PODSYNC_E_FRAME_MALFORMED, PODSYNC_E_FRAME_TOO_LARGE, PODSYNC_E_FRAME_TOO_LARGE},
    {"validate_zero_columns.bin", 0, 0, PODSYNC_E_FRAME_TOO_LARGE, PODSYNC_E_FRAME_TOO_LARGE},
    {"validate_sparse_columns.bin", 0, 0, PODSYNC_E_FRAME_TOO_LARGE, PODSYNC_E_FRAME_TOO_LARGE},
    {"delta_insert_20m.bin", 0, 0, PODSYNC_E_LIMIT, PODSYNC_E_FRAME_TOO_LARGE},
    {"snapshot_insert_20m.bin", 0, 0, PODSYNC_E_LIMIT, PODSYNC_E_FRAME_TOO_LARGE},
    {"delta_tombstones_100m.bin", 0, 0, PODSYNC_E_FRAME_TOO_LARGE, PODSYNC_E_FRAME_TOO_LARGE},
    {"delta_tombstones_8m.bin", 0, 0, PODSYNC_OK, PODSYNC_OK},
    {"transpose_empty_sections.bin", 0, 0, PODSYNC_OK, PODSYNC_OK},
};

static int expected_status(const char *what, int32_t got, int32_t want) {
    if (want == 0 ? (got == PODSYNC_OK || got == PODSYNC_E_NO_MEMORY) : got == want) return 0;
    printf("    FAIL: %s returned %s, expected %s\n", what, podsync_status_name(got),
           want == 0 ? "PODSYNC_OK or PODSYNC_E_NO_MEMORY" : podsync_status_name(want));
    return 1;
}

/* Runs in the child: returns the exit code (0 = as expected). */
static int attack(const char *name, const unsigned char *frame, size_t size, podsync_schema *schema, int tight) {
    podsync_store_options o;
    podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION);
    if (tight) {
        o.max_decoded_bytes = 64u << 20;
        o.max_records = 1000000;
        o.max_tombstones = 100000;
    }
    podsync_store *r = NULL, *w = NULL;
    if (podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &o, &r) != PODSYNC_OK) return 10;
    uint64_t v0 = 0, d0 = 0, v1 = 0, d1 = 0;
    podsync_store_digest(r, &d0);
    long rss = status_kib("VmRSS:");
    double t0 = now_ms();
    int32_t st = podsync_store_apply(r, frame, size, &v1);
    double t1 = now_ms();
    int32_t vst = tight ? podsync_frame_validate_limited(frame, size, 64u << 20, NULL)
                        : podsync_frame_validate(frame, size, NULL);
    double t2 = now_ms();
    long growth = status_kib("VmHWM:") - rss;
    podsync_store_digest(r, &d1);
    printf("  %-28s %s apply %-28s %7.1f ms, validate %-28s %7.1f ms, peak RSS +%ld MiB\n", name,
           tight ? "tight  " : "default", podsync_status_name(st), t1 - t0, podsync_status_name(vst), t2 - t1,
           growth / 1024);
    for (size_t i = 0; i < sizeof expectations / sizeof expectations[0]; i++) {
        if (strcmp(expectations[i].file, name) != 0) continue;
        int bad = expected_status("apply", st, tight ? expectations[i].apply_tight : expectations[i].apply_default);
        bad |= expected_status("validate", vst, tight ? expectations[i].validate_tight : expectations[i].validate_default);
        if (bad) return 7;
    }
    if (st < 0 && st != PODSYNC_E_DIGEST_MISMATCH && (v1 != v0 || d1 != d0)) {
        printf("    FAIL: rejected with %s but the state changed\n", podsync_status_name(st));
        return 2;
    }
    if (tight && growth > 256 * 1024) {
        printf("    FAIL: peak RSS grew by %ld MiB under tight limits\n", growth / 1024);
        return 3;
    }
    /* Still alive and well: a writer's snapshot of one record per table applies. */
    if (podsync_store_create(schema, PODSYNC_ROLE_WRITER, NULL, &w) != PODSYNC_OK) return 4;
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    podsync_store_info_get(r, &info);
    size_t n = 0;
    if (podsync_store_snapshot(w, &n) != PODSYNC_OK || n != 1) return 5;
    const uint8_t *data;
    size_t len;
    podsync_store_frame(w, 0, &data, &len);
    int32_t again = podsync_store_apply(r, data, len, NULL);
    if (again != PODSYNC_OK) {
        printf("    FAIL: a good snapshot afterwards: %s (%s)\n", podsync_status_name(again), podsync_store_errmsg(r));
        return 6;
    }
    podsync_store_free(w);
    podsync_store_free(r);
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "Tests/fixtures/bombs";
    long limit_mib = argc > 2 ? atol(argv[2]) : 2500;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bombs: cannot open %s\n", dir);
        return 1;
    }
    int passed = 0, failed = 0;
    struct dirent *e;
    printf("bombs: each frame applied in a child limited to %ld MiB of address space\n", limit_mib);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".bin") != 0) continue;
        char path[4096], schema_path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(schema_path, sizeof schema_path, "%s/%.*s.schema", dir, (int)(len - 4), e->d_name);
        size_t fsize = 0, ssize = 0;
        unsigned char *frame = read_file(path, &fsize);
        unsigned char *schema_bytes = read_file(schema_path, &ssize);
        podsync_schema *schema = NULL;
        if (!frame || !schema_bytes || podsync_schema_decode(schema_bytes, ssize, &schema) != PODSYNC_OK) {
            printf("  %s: FAIL: cannot read the frame or its schema %s\n", e->d_name, schema_path);
            failed++;
            free(frame);
            free(schema_bytes);
            continue;
        }
        for (int tight = 0; tight <= 1; tight++) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                struct rlimit rl = {(rlim_t)limit_mib << 20, (rlim_t)limit_mib << 20};
                setrlimit(RLIMIT_AS, &rl);
                int rc = attack(e->d_name, frame, fsize, schema, tight);
                fflush(stdout);
                _exit(rc);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                passed++;
            } else {
                failed++;
                if (WIFSIGNALED(status)) {
                    printf("    FAIL: %s (%s limits) killed the host by signal %d\n", e->d_name, tight ? "tight" : "default",
                           WTERMSIG(status));
                } else {
                    printf("    FAIL: %s (%s limits) exit %d\n", e->d_name, tight ? "tight" : "default", WEXITSTATUS(status));
                }
            }
        }
        podsync_schema_free(schema);
        free(frame);
        free(schema_bytes);
    }
    closedir(d);
    if (passed + failed == 0) {
        printf("bombs: no NAME.bin in %s\n", dir);
        return 1;
    }
    printf("bombs: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
