/*
 * durability_bench.c — what durable stores cost, N records of 40 B, each figure against a baseline
 * measured in the same run (benchmarks/run-core runs it after snapshot_bench).
 *
 *   checkpoint   podsync_store_checkpoint of a writer holding N records (after a 1% tick), against
 *                write() + fsync() of as many bytes as the checkpoint file has, to a file in the same
 *                directory (target <= 1.5x); for context, a chunked snapshot of the same state
 *                (podsync_snapshot_begin/next, 4 MiB chunks discarded), the encoding part of it
 *   open         podsync_store_open restoring that checkpoint (the log after it is empty; the file is
 *                in the page cache, as it is right after a restart of the process), against a memcpy
 *                of as many bytes (target <= 4x); for context, a memcpy into freshly allocated memory
 *                (page faults included), as a restored store's tables are
 *   tick flush   podsync_store_flush of a 1% tick (N/100 random keys updated with put_many), on a
 *                store from podsync_store_create and on durable writers with each log policy: NONE,
 *                OS, INTERVAL (sync_interval_ms 100), EVERY_FRAME; the stores take the same tick in
 *                turn, so their samples are interleaved
 *
 * Files go to a directory under $TMPDIR (default /tmp), removed at the end.
 *
 * Usage: durability_bench [N] [REPS] [TICKS]   (defaults 1000000, 5, 50). Checkpoint and open are
 * medians of REPS, tick flushes medians of TICKS.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "podsync.h"

#define TABLE 1
#define RECORD_SIZE 40
#define MAX_REPS 64
#define MAX_TICKS 1000
#define POLICIES 5 /* plain (no files), NONE, OS, INTERVAL, EVERY_FRAME */

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void check(int32_t st, const char *what, const podsync_store *store) {
    if (st >= 0) return;
    fprintf(stderr, "durability_bench: %s returned %s: %s\n", what, podsync_status_name(st),
            store ? podsync_store_errmsg(store) : podsync_last_errmsg());
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "durability_bench: out of memory\n");
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* The size of the newest complete checkpoint file (checkpoint-*.psc) in dir. */
static uint64_t newest_checkpoint_size(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    char path[1024], best[512] = "";
    uint64_t size = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "checkpoint-", 11) != 0 || len < 16 || strcmp(e->d_name + len - 4, ".psc") != 0)
            continue;
        /* names carry the number in fixed-width hex, so the greatest name is the newest; compare
           lengths first in case they do not */
        if (best[0] == 0 || len > strlen(best) || (len == strlen(best) && strcmp(e->d_name, best) > 0)) {
            snprintf(best, sizeof best, "%s", e->d_name);
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat sb;
            size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        }
    }
    closedir(d);
    return size;
}

static double write_fsync(const char *path, const unsigned char *buf, size_t size) {
    double t = now_ns();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror("durability_bench: open");
        exit(1);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, buf + done, size - done);
        if (w <= 0) {
            perror("durability_bench: write");
            exit(1);
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        perror("durability_bench: fsync");
        exit(1);
    }
    close(fd);
    return now_ns() - t;
}

static podsync_schema *schema;
static uint64_t *keys;
static unsigned char *recs;
static size_t n;

static podsync_store_options writer_options(void) {
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = 0x5EED0000D15Cull;
    o.max_batch_records = 0;
    o.max_batch_bytes = 0;
    return o;
}

static podsync_store *open_writer(const char *dir, uint32_t policy) {
    podsync_store_options o = writer_options();
    podsync_durability_options d = PODSYNC_DURABILITY_OPTIONS_INIT;
    d.log_policy = policy;
    podsync_store *s = NULL;
    check(podsync_store_open(dir, schema, PODSYNC_ROLE_WRITER, &o, &d, NULL, &s), "podsync_store_open", NULL);
    return s;
}

/* N/100 random keys get new records (the same for every store given the same rng state). */
static void tick_writes(podsync_store *w, uint64_t rng, size_t count, unsigned char *buf, uint64_t *tick_keys) {
    for (size_t i = 0; i < count; i++) {
        tick_keys[i] = keys[splitmix64(&rng) % n];
        memset(buf + i * RECORD_SIZE, (int)(splitmix64(&rng) & 0xFF), RECORD_SIZE);
    }
    check(podsync_store_put_many(w, TABLE, tick_keys, buf, count, count * RECORD_SIZE), "put_many", w);
}

int main(int argc, char **argv) {
    n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    int ticks = argc > 3 ? atoi(argv[3]) : 50;
    if (n < 1000 || reps < 1 || reps > MAX_REPS || ticks < 1 || ticks > MAX_TICKS) {
        fprintf(stderr, "usage: %s [N >= 1000] [REPS 1..%d] [TICKS 1..%d]\n", argv[0], MAX_REPS, MAX_TICKS);
        return 2;
    }
    check(podsync_schema_create(&schema), "schema_create", NULL);
    check(podsync_schema_add_table(schema, TABLE, RECORD_SIZE, 8, NULL, 0), "add_table", NULL);
    size_t bytes = n * RECORD_SIZE;
    size_t tick_n = n / 100;
    uint64_t rng = 42;
    keys = xmalloc(n * sizeof *keys);
    recs = xmalloc(bytes);
    for (size_t i = 0; i < n; i++) keys[i] = splitmix64(&rng) >> 20 << 20 | i; /* sparse, distinct */
    for (size_t i = 0; i < bytes; i++) recs[i] = (unsigned char)splitmix64(&rng);
    unsigned char *tick_buf = xmalloc(tick_n * RECORD_SIZE);
    uint64_t *tick_keys = xmalloc(tick_n * sizeof *tick_keys);

    const char *tmp = getenv("TMPDIR");
    char root[512];
    snprintf(root, sizeof root, "%s/podsync-durability-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("durability_bench: mkdtemp");
        return 1;
    }
    char dir[600], plain_path[700];
    snprintf(dir, sizeof dir, "%s/ckpt", root);
    snprintf(plain_path, sizeof plain_path, "%s/plain.bin", dir);

    printf("PodSync durability benchmark\n");
    printf("command   %s %zu %d %d\n", argv[0], n, reps, ticks);
    printf("workload  N = %zu records of %d B in one table (sparse random keys), tick = %zu random keys; "
           "files in %s\n\n", n, RECORD_SIZE, tick_n, root);

    /* (a) checkpoint vs write+fsync, (b) open vs memcpy, interleaved rep by rep. */
    {
        podsync_store *w = open_writer(dir, PODSYNC_LOG_EVERY_FRAME);
        check(podsync_store_put_many(w, TABLE, keys, recs, n, bytes), "put_many", w);
        size_t frames = 0;
        check(podsync_store_flush(w, &frames), "flush", w);
        check(podsync_store_checkpoint(w), "checkpoint", w); /* warm-up; the log starts afresh */
        podsync_store_free(w);
        uint64_t file_size = newest_checkpoint_size(dir);
        if (file_size == 0) {
            fprintf(stderr, "durability_bench: no checkpoint file in %s\n", dir);
            return 1;
        }
        size_t cap = (size_t)file_size * 2 + 4096; /* checkpoints of later reps may be a bit larger */
        unsigned char *src = xmalloc(cap), *dst = xmalloc(cap);
        for (size_t i = 0; i < cap; i++) src[i] = (unsigned char)splitmix64(&rng);
        memset(dst, 1, cap);

        double s_ckpt[MAX_REPS], s_write[MAX_REPS], s_open[MAX_REPS], s_memcpy[MAX_REPS], s_fresh[MAX_REPS],
            s_encode[MAX_REPS];
        podsync_open_info last = PODSYNC_OPEN_INFO_INIT;
        uint64_t ckpt_bytes = file_size, open_bytes = file_size;
        for (int rep = 0; rep < reps; rep++) {
            int32_t st;
            /* open: the newest checkpoint (and an empty log after it) */
            open_bytes = newest_checkpoint_size(dir);
            podsync_store_options o = writer_options();
            podsync_durability_options d = PODSYNC_DURABILITY_OPTIONS_INIT;
            podsync_open_info oi = PODSYNC_OPEN_INFO_INIT;
            w = NULL;
            double t = now_ns();
            check(podsync_store_open(dir, NULL, 0, &o, &d, &oi, &w), "podsync_store_open", NULL);
            s_open[rep] = now_ns() - t;
            last = oi;
            size_t count = 0;
            check(podsync_store_count(w, TABLE, &count), "count", w);
            if (count != n) {
                fprintf(stderr, "durability_bench: reopened store holds %zu records, not %zu\n", count, n);
                return 1;
            }
            t = now_ns();
            memcpy(dst, src, (size_t)open_bytes);
            s_memcpy[rep] = now_ns() - t;
            t = now_ns();
            unsigned char *fresh = xmalloc((size_t)open_bytes);
            memcpy(fresh, src, (size_t)open_bytes);
            s_fresh[rep] = now_ns() - t;
            if (fresh[open_bytes / 2] != src[open_bytes / 2]) return 1; /* keep the copy */
            free(fresh);

            /* checkpoint after a 1% tick, then the same number of bytes with write + fsync */
            tick_writes(w, splitmix64(&rng), tick_n, tick_buf, tick_keys);
            check(podsync_store_flush(w, &frames), "flush", w);
            t = now_ns();
            check(podsync_store_checkpoint(w), "checkpoint", w);
            s_ckpt[rep] = now_ns() - t;
            ckpt_bytes = newest_checkpoint_size(dir);
            if (ckpt_bytes > cap) {
                fprintf(stderr, "durability_bench: checkpoint grew to %llu bytes\n", (unsigned long long)ckpt_bytes);
                return 1;
            }
            s_write[rep] = write_fsync(plain_path, src, (size_t)ckpt_bytes);
            unlink(plain_path);
            podsync_snapshot *snap = NULL;
            const uint8_t *data;
            size_t size;
            t = now_ns();
            check(podsync_snapshot_begin(w, 4u << 20, &snap), "snapshot_begin", w);
            while ((st = podsync_snapshot_next(snap, &data, &size)) == PODSYNC_OK) {
            }
            s_encode[rep] = now_ns() - t;
            check(st, "snapshot_next", w);
            podsync_snapshot_free(snap);
            podsync_store_free(w);
        }
        double ck = median(s_ckpt, reps), wr = median(s_write, reps), op = median(s_open, reps),
               mc = median(s_memcpy, reps), fr = median(s_fresh, reps), en = median(s_encode, reps);
        printf("checkpoint file: %llu bytes (%.2f B a record; raw records %zu bytes)\n",
               (unsigned long long)ckpt_bytes, (double)ckpt_bytes / (double)n, bytes);
        printf("checkpoint: %.2f ms, %.0f MB/s; write+fsync same bytes: %.2f ms; ratio %.2fx (target <= 1.5x)\n",
               ck / 1e6, (double)ckpt_bytes / (ck / 1e9) / 1e6, wr / 1e6, ck / wr);
        printf("  context: a chunked snapshot of the same state (4 MiB chunks, discarded) %.2f ms\n", en / 1e6);
        printf("open: %.2f ms; memcpy: %.2f ms; %.2fx memcpy (target <= 4x; restored version %llu, "
               "%llu log frames)\n",
               op / 1e6, mc / 1e6, op / mc, (unsigned long long)last.restored_version,
               (unsigned long long)last.log_frames);
        printf("  context: memcpy into freshly allocated memory %.2f ms (open = %.2fx that)\n", fr / 1e6, op / fr);
        free(src);
        free(dst);
        remove_tree(dir);
    }

    /* (c) the 1% tick's flush on a plain store and on durable writers with each log policy. */
    {
        static const char *names[POLICIES] = {"plain", "none", "os", "interval", "every_frame"};
        static const uint32_t policies[POLICIES] = {0, PODSYNC_LOG_NONE, PODSYNC_LOG_OS, PODSYNC_LOG_INTERVAL,
                                                   PODSYNC_LOG_EVERY_FRAME};
        podsync_store *stores[POLICIES];
        for (int p = 0; p < POLICIES; p++) {
            if (p == 0) {
                podsync_store_options o = writer_options();
                stores[p] = NULL;
                check(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &stores[p]), "podsync_store_create", NULL);
            } else {
                char pdir[700];
                snprintf(pdir, sizeof pdir, "%s/%s", root, names[p]);
                stores[p] = open_writer(pdir, policies[p]);
            }
            check(podsync_store_put_many(stores[p], TABLE, keys, recs, n, bytes), "put_many", stores[p]);
            size_t frames = 0;
            check(podsync_store_flush(stores[p], &frames), "flush", stores[p]);
            if (p > 0) check(podsync_store_checkpoint(stores[p]), "checkpoint", stores[p]);
        }
        static double samples[POLICIES][MAX_TICKS];
        double sum[POLICIES] = {0}, worst[POLICIES] = {0};
        uint64_t log_bytes[POLICIES] = {0};
        for (int t = 0; t < ticks; t++) {
            uint64_t seed = splitmix64(&rng);
            for (int p = 0; p < POLICIES; p++) {
                tick_writes(stores[p], seed, tick_n, tick_buf, tick_keys);
                size_t frames = 0;
                double t0 = now_ns();
                check(podsync_store_flush(stores[p], &frames), "flush", stores[p]);
                double dt = now_ns() - t0;
                samples[p][t] = dt;
                sum[p] += dt;
                if (dt > worst[p]) worst[p] = dt;
            }
        }
        uint64_t d0 = 0;
        check(podsync_store_digest(stores[0], &d0), "digest", stores[0]);
        for (int p = 0; p < POLICIES; p++) {
            podsync_store_info info = PODSYNC_STORE_INFO_INIT;
            check(podsync_store_info_get(stores[p], &info), "info", stores[p]);
            log_bytes[p] = info.log_bytes;
            if (info.digest != d0) {
                fprintf(stderr, "durability_bench: store %s ended with another digest\n", names[p]);
                return 1;
            }
        }
        double med[POLICIES];
        for (int p = 0; p < POLICIES; p++) med[p] = median(samples[p], ticks);
        printf("\ntick flush (%zu updates, median of %d): plain %.0f µs, none %.0f, os %.0f, interval %.0f, "
               "every_frame %.0f (ratio to plain: none %.2fx, os %.2fx, interval %.2fx, every_frame %.2fx)\n",
               tick_n, ticks, med[0] / 1e3, med[1] / 1e3, med[2] / 1e3, med[3] / 1e3, med[4] / 1e3,
               med[1] / med[0], med[2] / med[0], med[3] / med[0], med[4] / med[0]);
        printf("  mean / max µs:");
        for (int p = 0; p < POLICIES; p++)
            printf(" %s %.0f/%.0f%s", names[p], sum[p] / ticks / 1e3, worst[p] / 1e3, p + 1 < POLICIES ? "," : "\n");
        printf("  log bytes after the ticks: none %llu, os %llu, interval %llu, every_frame %llu "
               "(%.0f B a tick)\n",
               (unsigned long long)log_bytes[1], (unsigned long long)log_bytes[2], (unsigned long long)log_bytes[3],
               (unsigned long long)log_bytes[4], (double)log_bytes[4] / ticks);
        for (int p = 0; p < POLICIES; p++) podsync_store_free(stores[p]);
    }

    remove_tree(root);
    podsync_schema_free(schema);
    free(tick_keys);
    free(tick_buf);
    free(recs);
    free(keys);
    return 0;
}
