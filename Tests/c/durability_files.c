/*
 * durability_files.c — a durable store's files damaged, a full disk, a read-only directory, a
 * locked directory.
 *
 * A small durable writer (PODSYNC_LOG_EVERY_FRAME, 300 records of 40 bytes) is built in a temporary
 * directory: checkpoint A at version 5, checkpoint B at version 10 (written with
 * podsync_checkpoint_begin/step), then ten small flushes (versions 11 to 20) in the log segment B
 * started; the digest of every version is recorded. Its files are read into memory once; each
 * trial writes them (one of them damaged) into a fresh directory and opens it
 * (podsync_store_open, role 0, schema NULL). Every store that opens must be at a recorded version
 * with that version's digest, and its records, put into a fresh writer, must give that digest.
 *
 * A store that opens from damaged files must also go on durably: after the trials of (c) (and every
 * 16th of (a) and (b)) it flushes one more version, is freed, and the directory must reopen at
 * that version in the same term (what the first open dropped must not take later frames with it).
 *
 *  (a) checkpoint B truncated at every length, and (b) one bit flipped at every byte of it: the
 *      open falls back to A (PODSYNC_OPENED_FALLBACK, skipped_status PODSYNC_E_FILE_CORRUPT) and
 *      replays the intact logs to version 20. A stray checkpoint-*.psc.tmp is removed at open.
 *  (c) B's log segment truncated at every length: the store opens at the version of the last
 *      whole FRAME block, dropped_bytes = the bytes from the first incomplete piece on (> 0
 *      exactly when a block or the file header was cut), in the same term (a torn tail is what a
 *      crash leaves with EVERY_FRAME). One bit flipped at every byte of it: the replay stops at
 *      the block holding the flip (dropped_bytes = from its start to the end), a new term when the
 *      damage cannot be a torn append. Then checkpoint B removed and A's segment truncated at
 *      every length: the replay stops there and B's segment (which no longer follows) is dropped
 *      too: dropped_bytes counts both.
 *  (d) a log segment of another store (other stream id; another schema), in place of B's segment
 *      or after it: PODSYNC_E_FILE_CORRUPT.
 *  (e) every checkpoint corrupt or truncated: PODSYNC_E_FILE_CORRUPT, no store.
 *  (f) a full disk: as root a 256 KiB tmpfs filled up (mount -t tmpfs), else RLIMIT_FSIZE (SIGXFSZ
 *      ignored). The checkpoint fails with PODSYNC_E_IO leaving the files as they were and no
 *      *.tmp; the store keeps working in memory; flushes go on until the log append fails:
 *      PODSYNC_E_IO, info.log_failed 1, and then flush, delta_since, snapshot and snapshot_begin
 *      are refused with PODSYNC_E_IO; a copy of the directory opens at the last version handed out.
 *      Space freed: the checkpoint succeeds, log_failed 0, flushing resumes, and the directory
 *      reopens at the newest version.
 *  (g) a read-only directory: as root, `mount -o remount,ro` of the tmpfs when the kernel allows it
 *      (it refuses, EBUSY, while a store holds its log open for writing), else chmod 0555 in a
 *      child process running as uid/gid 65534 (root ignores the mode bits): the checkpoint fails
 *      with PODSYNC_E_IO, no *.tmp, the store keeps working; writable again, it checkpoints.
 *  (h) a locked directory: a second podsync_store_open while the first store is alive, from this
 *      process and from a child process: PODSYNC_E_IO; after podsync_store_free it opens.
 *
 * Prints one line per part; exits non-zero on any violation.
 *
 * Usage: durability_files   (DURABILITY_FILES_NO_MOUNT=1: part f uses RLIMIT_FSIZE even as root)
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "podsync.h"

#define TABLE 5
#define REC 40
#define RECORDS 300
#define STREAM 0xF11E5ull
#define MAX_V 64

static int failures = 0;
static const char *part = "";
static unsigned long part_trials, part_failures;
#define FAIL(...)                                                             \
    do {                                                                      \
        failures++;                                                           \
        if (++part_failures <= 10) {                                          \
            fprintf(stderr, "durability_files: %s: FAIL: ", part);            \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
        }                                                                     \
    } while (0)

static void die(const char *what) {
    fprintf(stderr, "durability_files: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "durability_files: %s: %s: %s (%s)\n", part, what, podsync_status_name(st),
                s ? podsync_store_errmsg(s) : podsync_last_errmsg());
        exit(1);
    }
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double part_start;
static void begin_part(const char *name) {
    part = name;
    part_trials = 0;
    part_failures = 0;
    part_start = now_s();
}
static void end_part(void) {
    printf("durability_files: %s: %s: %lu trials, %lu failures, %.1f s\n", part, part_failures ? "FAILED" : "ok",
           part_trials, part_failures, now_s() - part_start);
    if (part_failures > 10) fprintf(stderr, "durability_files: %s: (%lu failures not shown)\n", part, part_failures - 10);
    fflush(stdout);
}

static podsync_store_info info_of(const podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    ok(podsync_store_info_get(s, &i), "info", s);
    return i;
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    ok(podsync_store_digest(s, &d), "digest", s);
    return d;
}

static uint64_t rng_state = 99;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static podsync_schema *make_schema(uint32_t record_size) {
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    ok(podsync_schema_add_table(schema, TABLE, record_size, 8, NULL, 0), "table", NULL);
    return schema;
}

/* ---- paths and files ---- */

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "durability_files: path too long\n");
        exit(1);
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static char **list_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) die(dir);
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    if (!v) exit(1);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n + 2 > cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            if (!v) exit(1);
        }
        v[n] = malloc(strlen(e->d_name) + 1);
        if (!v[n]) exit(1);
        strcpy(v[n], e->d_name);
        n++;
    }
    closedir(d);
    /* sorted, so listings compare and the newest file of a kind is the last */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    v[n] = NULL;
    return v;
}

static void free_names(char **v) {
    for (size_t i = 0; v[i]; i++) free(v[i]);
    free(v);
}

static void clear_dir(const char *dir) {
    char **names = list_dir(dir);
    char p[4096];
    for (size_t i = 0; names[i]; i++) {
        path_join(p, sizeof p, dir, names[i]);
        if (unlink(p) != 0) die(p);
    }
    free_names(names);
}

static void remove_dir(const char *dir) {
    clear_dir(dir);
    if (rmdir(dir) != 0) die(dir);
}

static int tmp_files(const char *dir) {
    char **names = list_dir(dir);
    int n = 0;
    for (size_t i = 0; names[i]; i++) n += ends_with(names[i], ".tmp");
    free_names(names);
    return n;
}

static uint8_t *read_file(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die(path);
    struct stat st;
    if (fstat(fd, &st) != 0) die(path);
    uint8_t *data = malloc((size_t)st.st_size + 1);
    if (!data) exit(1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die(path);
        got += (size_t)r;
    }
    close(fd);
    *size = got;
    return data;
}

/* 0 on success, else errno (a full disk is expected in part f) */
static int write_file(const char *path, const uint8_t *data, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return errno;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return e;
        }
        off += (size_t)w;
    }
    close(fd);
    return 0;
}

/* "name size" per file, for comparing a directory before and after a failed call */
static char *describe_dir(const char *dir) {
    char **names = list_dir(dir);
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out) exit(1);
    out[0] = 0;
    char p[4096], line[512];
    for (size_t i = 0; names[i]; i++) {
        path_join(p, sizeof p, dir, names[i]);
        struct stat st;
        if (stat(p, &st) != 0) die(p);
        int n = snprintf(line, sizeof line, "%s %lld; ", names[i], (long long)st.st_size);
        while (len + (size_t)n + 1 > cap) {
            cap *= 2;
            out = realloc(out, cap);
            if (!out) exit(1);
        }
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    free_names(names);
    return out;
}

static void copy_dir(const char *from, const char *to) {
    if (mkdir(to, 0755) != 0 && errno != EEXIST) die(to);
    clear_dir(to);
    char **names = list_dir(from);
    char a[4096], b[4096];
    for (size_t i = 0; names[i]; i++) {
        path_join(a, sizeof a, from, names[i]);
        path_join(b, sizeof b, to, names[i]);
        size_t size = 0;
        uint8_t *data = read_file(a, &size);
        if (write_file(b, data, size) != 0) die(b);
        free(data);
    }
    free_names(names);
}

/* ---- the files of the store under test, kept in memory ---- */

typedef struct {
    char name[128];
    uint8_t *data;
    size_t size;
} file_t;

typedef struct {
    file_t f[32];
    int n;
} fileset;

static void load_set(const char *dir, fileset *fs) {
    char **names = list_dir(dir);
    char p[4096];
    fs->n = 0;
    for (size_t i = 0; names[i]; i++) {
        if (fs->n == 32) {
            fprintf(stderr, "durability_files: too many files in %s\n", dir);
            exit(1);
        }
        if (strlen(names[i]) >= sizeof fs->f[0].name) continue;
        path_join(p, sizeof p, dir, names[i]);
        strcpy(fs->f[fs->n].name, names[i]);
        fs->f[fs->n].data = read_file(p, &fs->f[fs->n].size);
        fs->n++;
    }
    free_names(names);
}

static int find_last(const fileset *fs, const char *prefix, const char *suffix, int skip) {
    for (int i = fs->n - 1; i >= 0; i--)
        if (starts_with(fs->f[i].name, prefix) && ends_with(fs->f[i].name, suffix) && skip-- == 0) return i;
    return -1;
}

/* Writes the set into dir (emptied first): file `which` replaced by (data, size), or left out when
   data is NULL; `extra_name` (if any) added with extra_data. */
static void write_set(const char *dir, const fileset *fs, int which, const uint8_t *data, size_t size,
                      int omit_which, const char *extra_name, const uint8_t *extra_data, size_t extra_size) {
    clear_dir(dir);
    char p[4096];
    for (int i = 0; i < fs->n; i++) {
        path_join(p, sizeof p, dir, fs->f[i].name);
        if (i == which) {
            if (omit_which) continue;
            if (write_file(p, data, size) != 0) die(p);
        } else if (write_file(p, fs->f[i].data, fs->f[i].size) != 0) {
            die(p);
        }
    }
    if (extra_name) {
        path_join(p, sizeof p, dir, extra_name);
        if (write_file(p, extra_data, extra_size) != 0) die(p);
    }
}

/* ---- the history of the store under test ---- */

static const char *trial_dir; /* where each trial writes the files */
static uint64_t digest_at[MAX_V + 1];
static uint64_t top_version;
static uint64_t build_term;

/* Opens dir (role 0, schema NULL, EVERY_FRAME); info filled. */
static int32_t open_dir(const char *dir, podsync_open_info *oi, podsync_store **out) {
    podsync_durability_options dur = PODSYNC_DURABILITY_OPTIONS_INIT;
    *oi = (podsync_open_info)PODSYNC_OPEN_INFO_INIT;
    *out = NULL;
    int32_t st = podsync_store_open(dir, NULL, 0, NULL, &dur, oi, out);
    if (st != PODSYNC_OK && *out != NULL) FAIL("open returned %s but a store", podsync_status_name(st));
    return st;
}

/* The store's records, put into a fresh writer, give digest d. */
static int records_give(const podsync_store *s, uint64_t d) {
    podsync_schema *schema = make_schema(REC);
    podsync_store *m = NULL;
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, NULL, &m), "mirror", NULL);
    podsync_schema_free(schema);
    const void *recs = NULL;
    const uint64_t *keys = NULL;
    size_t n = 0;
    ok(podsync_store_table(s, TABLE, &recs, &keys, &n), "table", s);
    if (n) ok(podsync_store_put_many(m, TABLE, keys, recs, n, n * REC), "put_many", m);
    size_t frames = 0;
    ok(podsync_store_flush(m, &frames), "mirror flush", m);
    int same = digest_of(m) == d;
    podsync_store_free(m);
    return same;
}

/* A restored store is at a recorded version with its digest; returns that version. */
static uint64_t check_restored(const char *what, const podsync_store *s, const podsync_open_info *oi) {
    podsync_store_info i = info_of(s);
    uint64_t d = digest_of(s);
    if (i.state_version != oi->restored_version)
        FAIL("%s: info.state_version %" PRIu64 " != open_info.restored_version %" PRIu64, what, i.state_version,
             oi->restored_version);
    if (i.stream_id != STREAM || i.role != PODSYNC_ROLE_WRITER || !i.durable || i.log_failed || i.term != oi->term)
        FAIL("%s: stream %" PRIx64 " role %u durable %u log_failed %u term %" PRIu64 " (open_info %" PRIu64 ")", what,
             i.stream_id, i.role, i.durable, i.log_failed, i.term, oi->term);
    if (oi->restored_version > top_version) {
        FAIL("%s: restored version %" PRIu64 ", the writer never went past %" PRIu64, what, oi->restored_version,
             top_version);
    } else if (d != digest_at[oi->restored_version]) {
        FAIL("%s: version %" PRIu64 " with digest %016" PRIx64 ", recorded %016" PRIx64, what, oi->restored_version, d,
             digest_at[oi->restored_version]);
    } else if (!records_give(s, d)) {
        FAIL("%s: the restored records do not give the restored digest", what);
    }
    return oi->restored_version;
}

/* A store opened from a damaged directory goes on durably: a flush, then the directory reopens at
   that version, in the same term, whatever the first open dropped. Frees s. */
static void continues(const char *what, podsync_store *s, const podsync_open_info *first) {
    uint64_t rec[REC / 8];
    for (uint64_t k = 0; k < 3; k++) {
        for (size_t j = 0; j < REC / 8; j++) rec[j] = rnd();
        ok(podsync_store_put(s, TABLE, 7000 + k, rec, REC), "put", s);
    }
    size_t frames = 0;
    int32_t st = podsync_store_flush(s, &frames);
    if (st != PODSYNC_OK || frames != 1) {
        FAIL("%s, reopened: flush: %s, %zu frames", what, podsync_status_name(st), frames);
        podsync_store_free(s);
        return;
    }
    podsync_store_info i = info_of(s);
    uint64_t d = digest_of(s);
    podsync_store_free(s);
    podsync_durability_options dur = PODSYNC_DURABILITY_OPTIONS_INIT;
    podsync_open_info oi = PODSYNC_OPEN_INFO_INIT;
    podsync_store *again = NULL;
    st = podsync_store_open(trial_dir, NULL, 0, NULL, &dur, &oi, &again);
    if (st != PODSYNC_OK) {
        FAIL("%s, then version %" PRIu64 " flushed: the next open: %s (%s)", what, i.state_version,
             podsync_status_name(st), podsync_last_errmsg());
        return;
    }
    if (oi.restored_version != i.state_version || digest_of(again) != d || oi.term != first->term ||
        (oi.flags & PODSYNC_OPENED_NEW_TERM))
        FAIL("%s, then version %" PRIu64 " flushed (term %" PRIu64 ", fsynced): the next open restores version %" PRIu64
             " (%" PRIu64 " bytes dropped) in term %" PRIu64 ", flags %x",
             what, i.state_version, first->term, oi.restored_version, oi.dropped_bytes, oi.term, oi.flags);
    podsync_store_free(again);
}

/* ---- log parsing (docs/FORMAT.md, "Files"), to know what each damage must cost ---- */

typedef struct {
    size_t start, end;  /* the block, padding included */
    uint32_t kind;
    uint64_t version;   /* FRAME: the frame's state_version */
} block;

typedef struct {
    block b[256];
    int n;
} blocks;

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void parse_log(const file_t *f, blocks *bs) {
    bs->n = 0;
    if (f->size < 48 || memcmp(f->data, "PSYNCLOG", 8) != 0) {
        fprintf(stderr, "durability_files: %s is not a log segment\n", f->name);
        exit(1);
    }
    size_t off = 48;
    while (off + 24 <= f->size) {
        uint32_t kind = le32(f->data + off);
        uint64_t len = le64(f->data + off + 8);
        size_t end = off + 24 + (size_t)((len + 7) & ~7ull);
        if (end > f->size || bs->n == 256) {
            fprintf(stderr, "durability_files: %s: unexpected block layout\n", f->name);
            exit(1);
        }
        block *b = &bs->b[bs->n++];
        b->start = off;
        b->end = end;
        b->kind = kind;
        b->version = 0;
        if (kind == 5) {
            void *aligned = NULL;
            if (posix_memalign(&aligned, 64, (size_t)len + 1) != 0) exit(1);
            memcpy(aligned, f->data + off + 24, (size_t)len);
            podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
            ok(podsync_frame_validate(aligned, (size_t)len, &fi), "validate a logged frame", NULL);
            b->version = fi.state_version;
            free(aligned);
        }
        off = end;
    }
    if (off != f->size) {
        fprintf(stderr, "durability_files: %s: trailing bytes\n", f->name);
        exit(1);
    }
}

/* The version after replaying the blocks that end at or before `len`, from `base`. */
static uint64_t version_within(const blocks *bs, size_t len, uint64_t base) {
    uint64_t v = base;
    for (int i = 0; i < bs->n; i++)
        if (bs->b[i].end <= len && bs->b[i].kind == 5) v = bs->b[i].version;
    return v;
}

/* Where the first incomplete piece of a segment cut at `len` starts (len itself if none is). */
static size_t cut_start(const blocks *bs, size_t len) {
    if (len < 48) return 0;
    size_t b = 48;
    for (int i = 0; i < bs->n; i++)
        if (bs->b[i].end <= len) b = bs->b[i].end;
    return b;
}

/* ---- building the store ---- */

static void put_random(podsync_store *s, uint64_t key) {
    uint64_t rec[REC / 8];
    for (size_t j = 0; j < REC / 8; j++) rec[j] = rnd();
    rec[0] = key;
    ok(podsync_store_put(s, TABLE, key, rec, REC), "put", s);
}

static void flush_one(podsync_store *s) {
    size_t frames = 0;
    ok(podsync_store_flush(s, &frames), "flush", s);
    if (frames != 1) FAIL("flush made %zu frames", frames);
    podsync_store_info i = info_of(s);
    if (i.state_version > MAX_V) {
        fprintf(stderr, "durability_files: too many versions\n");
        exit(1);
    }
    digest_at[i.state_version] = digest_of(s);
    top_version = i.state_version;
}

static void small_change(podsync_store *s) {
    for (int k = 0; k < 5; k++) {
        uint64_t key = rnd() % (RECORDS + 40);
        if (rnd() % 4 == 0) {
            int32_t st = podsync_store_delete(s, TABLE, key);
            if (st != PODSYNC_OK && st != PODSYNC_NOT_FOUND) ok(st, "delete", s);
        } else {
            put_random(s, key);
        }
    }
    put_random(s, rnd() % (RECORDS + 40)); /* never an empty batch */
}

/* record_size REC: the store under test (its history recorded) or, with another stream, a foreign
   store; another record size: a store of another schema. */
static void build(const char *dir, uint64_t stream, uint32_t record_size) {
    int record = stream == STREAM && record_size == REC;
    uint64_t keep_digests[MAX_V + 1], keep_top = top_version;
    memcpy(keep_digests, digest_at, sizeof keep_digests);
    podsync_schema *schema = make_schema(record_size);
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = stream;
    podsync_durability_options dur = PODSYNC_DURABILITY_OPTIONS_INIT;
    podsync_open_info oi = PODSYNC_OPEN_INFO_INIT;
    podsync_store *s = NULL;
    ok(podsync_store_open(dir, schema, PODSYNC_ROLE_WRITER, &o, &dur, &oi, &s), "create", NULL);
    podsync_schema_free(schema);
    if (!(oi.flags & PODSYNC_OPENED_CREATED)) FAIL("create: flags %x", oi.flags);
    if (record_size != REC) { /* another schema's store: a few flushes are enough */
        uint64_t rec[8] = {0};
        for (int v = 0; v < 3; v++) {
            rec[0] = (uint64_t)v;
            ok(podsync_store_put(s, TABLE, (uint64_t)v, rec, record_size), "put", s);
            size_t frames = 0;
            ok(podsync_store_flush(s, &frames), "flush", s);
        }
        podsync_store_free(s);
        return;
    }
    digest_at[0] = digest_of(s);
    top_version = 0;
    if (record) build_term = oi.term;
    for (uint64_t k = 0; k < RECORDS; k++) put_random(s, k);
    flush_one(s); /* 1 */
    while (top_version < 5) {
        small_change(s);
        flush_one(s);
    }
    ok(podsync_store_checkpoint(s), "checkpoint A", s);
    while (top_version < 10) {
        small_change(s);
        flush_one(s);
    }
    podsync_checkpoint *ck = NULL;
    ok(podsync_checkpoint_begin(s, &ck), "checkpoint_begin", s);
    int32_t st;
    while ((st = podsync_checkpoint_step(ck, 1024)) == PODSYNC_OK) {
    }
    if (st != PODSYNC_DONE) {
        fprintf(stderr, "durability_files: checkpoint_step: %s (%s)\n", podsync_status_name(st),
                podsync_checkpoint_errmsg(ck));
        exit(1);
    }
    podsync_checkpoint_free(ck);
    while (top_version < 20) {
        small_change(s);
        flush_one(s);
    }
    podsync_store_free(s);
    if (!record) { /* a foreign store: keep the history of the store under test */
        memcpy(digest_at, keep_digests, sizeof keep_digests);
        top_version = keep_top;
    }
}

/* ---- parts ---- */

static fileset set;
static int ck_new, ck_old, log_new, log_old; /* indices into set */

/* Frees s. */
static void expect_fallback(const char *what, int32_t st, podsync_store *s, const podsync_open_info *oi, int then_continue) {
    part_trials++;
    if (st != PODSYNC_OK) {
        FAIL("%s: open: %s (%s)", what, podsync_status_name(st), podsync_last_errmsg());
        podsync_store_free(s);
        return;
    }
    if (!(oi->flags & PODSYNC_OPENED_FALLBACK) || oi->skipped_status != PODSYNC_E_FILE_CORRUPT)
        FAIL("%s: flags %x skipped_status %s: expected a fallback for PODSYNC_E_FILE_CORRUPT", what, oi->flags,
             podsync_status_name(oi->skipped_status));
    if (oi->checkpoint_version != 5) FAIL("%s: restored checkpoint %" PRIu64 ", expected A (5)", what, oi->checkpoint_version);
    uint64_t v = check_restored(what, s, oi);
    if (v != 20 || oi->dropped_bytes != 0)
        FAIL("%s: restored version %" PRIu64 " (%" PRIu64 " bytes dropped), the intact logs reach 20", what, v,
             oi->dropped_bytes);
    if (then_continue)
        continues(what, s, oi);
    else
        podsync_store_free(s);
}

static void part_checkpoint_damage(void) {
    const file_t *f = &set.f[ck_new];
    uint8_t *buf = malloc(f->size);
    if (!buf) exit(1);
    char what[256];
    podsync_open_info oi;
    podsync_store *s = NULL;

    begin_part("(a) newest checkpoint truncated at every length");
    for (size_t len = 0; len < f->size; len++) {
        write_set(trial_dir, &set, ck_new, f->data, len, 0, NULL, NULL, 0);
        snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", f->name, len, f->size);
        int32_t st = open_dir(trial_dir, &oi, &s);
        expect_fallback(what, st, s, &oi, len % 16 == 0);
    }
    /* a checkpoint being written when the writer died: removed at open, no fallback */
    {
        char tmpname[256]; /* named after a checkpoint number above the newest */
        snprintf(tmpname, sizeof tmpname, "checkpoint-%016" PRIx64 ".psc.tmp", (uint64_t)0xFFFFFF);
        write_set(trial_dir, &set, -1, NULL, 0, 0, tmpname, f->data, f->size / 2);
        part_trials++;
        int32_t st = open_dir(trial_dir, &oi, &s);
        if (st != PODSYNC_OK) {
            FAIL("a stray %s: open: %s (%s)", tmpname, podsync_status_name(st), podsync_last_errmsg());
        } else {
            if (oi.flags & PODSYNC_OPENED_FALLBACK) FAIL("a stray .tmp made the open fall back");
            if (check_restored("stray .tmp", s, &oi) != 20) FAIL("a stray .tmp: restored %" PRIu64, oi.restored_version);
            if (tmp_files(trial_dir)) FAIL("the stray %s was not removed at open", tmpname);
            continues("a stray .tmp", s, &oi);
            s = NULL;
        }
        podsync_store_free(s);
    }
    end_part();

    begin_part("(b) one bit flipped at every byte of the newest checkpoint");
    for (size_t pos = 0; pos < f->size; pos++) {
        memcpy(buf, f->data, f->size);
        unsigned bit = (unsigned)(pos * 5 % 8);
        buf[pos] ^= (uint8_t)(1u << bit);
        write_set(trial_dir, &set, ck_new, buf, f->size, 0, NULL, NULL, 0);
        snprintf(what, sizeof what, "%s with bit %u of byte %zu flipped", f->name, bit, pos);
        int32_t st = open_dir(trial_dir, &oi, &s);
        expect_fallback(what, st, s, &oi, pos % 16 == 0);
    }
    end_part();
    free(buf);
}

static void part_log_damage(void) {
    const file_t *f = &set.f[log_new];
    blocks bs;
    parse_log(f, &bs);
    uint8_t *buf = malloc(f->size);
    if (!buf) exit(1);
    char what[256];
    podsync_open_info oi;
    podsync_store *s = NULL;

    begin_part("(c) newest log segment truncated at every length");
    for (size_t len = 0; len <= f->size; len++) {
        write_set(trial_dir, &set, log_new, f->data, len, 0, NULL, NULL, 0);
        snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", f->name, len, f->size);
        part_trials++;
        int32_t st = open_dir(trial_dir, &oi, &s);
        if (st != PODSYNC_OK) {
            FAIL("%s: open: %s (%s)", what, podsync_status_name(st), podsync_last_errmsg());
            continue;
        }
        uint64_t v = check_restored(what, s, &oi);
        uint64_t want_v = version_within(&bs, len, 10);
        uint64_t want_dropped = len - cut_start(&bs, len);
        if (v != want_v || oi.dropped_bytes != want_dropped)
            FAIL("%s: restored %" PRIu64 " with %" PRIu64 " bytes dropped, expected %" PRIu64 " with %" PRIu64, what, v,
                 oi.dropped_bytes, want_v, want_dropped);
        if (oi.checkpoint_version != 10 || (oi.flags & PODSYNC_OPENED_FALLBACK))
            FAIL("%s: checkpoint %" PRIu64 " flags %x", what, oi.checkpoint_version, oi.flags);
        if ((oi.flags & PODSYNC_OPENED_NEW_TERM) || oi.term != build_term)
            FAIL("%s: a torn tail opened in term %" PRIu64 " (flags %x), expected the same term %" PRIu64, what, oi.term,
                 oi.flags, build_term);
        continues(what, s, &oi);
    }
    end_part();

    begin_part("(c) one bit flipped at every byte of the newest log segment");
    for (size_t pos = 0; pos < f->size; pos++) {
        memcpy(buf, f->data, f->size);
        unsigned bit = (unsigned)(pos * 3 % 8);
        buf[pos] ^= (uint8_t)(1u << bit);
        write_set(trial_dir, &set, log_new, buf, f->size, 0, NULL, NULL, 0);
        snprintf(what, sizeof what, "%s with bit %u of byte %zu flipped", f->name, bit, pos);
        part_trials++;
        int32_t st = open_dir(trial_dir, &oi, &s);
        if (st != PODSYNC_OK) {
            FAIL("%s: open: %s (%s)", what, podsync_status_name(st), podsync_last_errmsg());
            continue;
        }
        uint64_t v = check_restored(what, s, &oi);
        size_t start = 0; /* the damaged piece: the file header, or the block holding pos */
        int in_length = 0;
        for (int i = 0; i < bs.n; i++)
            if (pos >= bs.b[i].start && pos < bs.b[i].end) {
                start = bs.b[i].start;
                in_length = pos >= start + 8 && pos < start + 16;
            }
        uint64_t want_v = version_within(&bs, start, 10);
        uint64_t want_dropped = f->size - start;
        if (v != want_v || oi.dropped_bytes != want_dropped)
            FAIL("%s: restored %" PRIu64 " with %" PRIu64 " bytes dropped, expected %" PRIu64 " with %" PRIu64, what, v,
                 oi.dropped_bytes, want_v, want_dropped);
        /* damage that cannot be a torn append (anything but a block's length) costs the term */
        if (!in_length && (!(oi.flags & PODSYNC_OPENED_NEW_TERM) || oi.term <= build_term))
            FAIL("%s: a corrupt block, yet the writer kept term %" PRIu64 " (flags %x)", what, oi.term, oi.flags);
        continues(what, s, &oi);
    }
    end_part();
    free(buf);

    /* checkpoint B gone: A's segment replays, then B's, which must start where A's ended */
    const file_t *g = &set.f[log_old];
    blocks bo;
    parse_log(g, &bo);
    begin_part("(c) older log segment truncated at every length, newest checkpoint removed");
    for (size_t len = 0; len <= g->size; len++) {
        /* write the set without checkpoint B, with A's segment cut */
        clear_dir(trial_dir);
        char p[4096];
        for (int i = 0; i < set.n; i++) {
            if (i == ck_new) continue;
            path_join(p, sizeof p, trial_dir, set.f[i].name);
            if (write_file(p, set.f[i].data, i == log_old ? len : set.f[i].size) != 0) die(p);
        }
        snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", g->name, len, g->size);
        part_trials++;
        int32_t st = open_dir(trial_dir, &oi, &s);
        if (st != PODSYNC_OK) {
            FAIL("%s: open: %s (%s)", what, podsync_status_name(st), podsync_last_errmsg());
            continue;
        }
        uint64_t v = check_restored(what, s, &oi);
        uint64_t want_v = len == g->size ? 20 : version_within(&bo, len, 5);
        uint64_t want_dropped = len == g->size ? 0 : (len - cut_start(&bo, len)) + f->size;
        if (v != want_v || oi.dropped_bytes != want_dropped)
            FAIL("%s: restored %" PRIu64 " with %" PRIu64 " bytes dropped, expected %" PRIu64 " with %" PRIu64
                 " (the later segment no longer follows)",
                 what, v, oi.dropped_bytes, want_v, want_dropped);
        if (oi.checkpoint_version != 5) FAIL("%s: checkpoint %" PRIu64, what, oi.checkpoint_version);
        if (len == g->size && ((oi.flags & PODSYNC_OPENED_NEW_TERM) || oi.term != build_term))
            FAIL("%s: nothing lost, yet a new term %" PRIu64 " (flags %x)", what, oi.term, oi.flags);
        if (len < g->size && (!(oi.flags & PODSYNC_OPENED_NEW_TERM) || oi.term <= build_term))
            FAIL("%s: frames of a later segment dropped, yet the writer kept term %" PRIu64 " (flags %x)", what, oi.term,
                 oi.flags);
        continues(what, s, &oi);
    }
    end_part();
}

static void part_foreign_logs(const char *base) {
    char other[4096], schema2[4096], what[256], name[128];
    path_join(other, sizeof other, base, "other-stream");
    path_join(schema2, sizeof schema2, base, "other-schema");
    build(other, STREAM + 1, REC);
    build(schema2, STREAM, 16);
    fileset so, ss;
    load_set(other, &so);
    load_set(schema2, &ss);
    int so_log = find_last(&so, "log-", ".psl", 0), ss_log = find_last(&ss, "log-", ".psl", 0);
    if (so_log < 0 || ss_log < 0) {
        fprintf(stderr, "durability_files: the other stores have no log segment\n");
        exit(1);
    }
    unsigned long long newest = 0;
    if (sscanf(set.f[log_new].name, "log-%16llx.psl", &newest) != 1) {
        fprintf(stderr, "durability_files: cannot read the number of %s\n", set.f[log_new].name);
        exit(1);
    }
    snprintf(name, sizeof name, "log-%016llx.psl", newest + 1);

    begin_part("(d) a log segment of another store");
    const fileset *src[2] = {&so, &ss};
    const int idx[2] = {so_log, ss_log};
    const char *kind[2] = {"another stream", "another schema"};
    for (int k = 0; k < 2; k++) {
        const file_t *x = &src[k]->f[idx[k]];
        for (int where = 0; where < 2; where++) {
            if (where == 0) {
                write_set(trial_dir, &set, log_new, x->data, x->size, 0, NULL, NULL, 0);
                snprintf(what, sizeof what, "%s's segment %s in place of %s", kind[k], x->name, set.f[log_new].name);
            } else {
                write_set(trial_dir, &set, -1, NULL, 0, 0, name, x->data, x->size);
                snprintf(what, sizeof what, "%s's segment %s added as %s", kind[k], x->name, name);
            }
            podsync_open_info oi;
            podsync_store *s = NULL;
            part_trials++;
            int32_t st = open_dir(trial_dir, &oi, &s);
            if (st != PODSYNC_E_FILE_CORRUPT)
                FAIL("%s: open returned %s (restored %" PRIu64 ", dropped %" PRIu64 "), expected PODSYNC_E_FILE_CORRUPT",
                     what, podsync_status_name(st), oi.restored_version, oi.dropped_bytes);
            podsync_store_free(s);
        }
    }
    end_part();
    for (int i = 0; i < so.n; i++) free(so.f[i].data);
    for (int i = 0; i < ss.n; i++) free(ss.f[i].data);
    remove_dir(other);
    remove_dir(schema2);
}

static void part_all_checkpoints_corrupt(void) {
    begin_part("(e) every checkpoint corrupt");
    const file_t *a = &set.f[ck_old], *b = &set.f[ck_new];
    uint8_t *ba = malloc(a->size), *bb = malloc(b->size);
    if (!ba || !bb) exit(1);
    char pa[4096], pb[4096];
    path_join(pa, sizeof pa, trial_dir, a->name);
    path_join(pb, sizeof pb, trial_dir, b->name);
    for (int trial = 0; trial < 64; trial++) {
        write_set(trial_dir, &set, -1, NULL, 0, 0, NULL, NULL, 0);
        const char *how;
        if (trial % 4 == 0) { /* both flipped */
            memcpy(ba, a->data, a->size);
            memcpy(bb, b->data, b->size);
            ba[rnd() % a->size] ^= (uint8_t)(1u << (rnd() % 8));
            bb[rnd() % b->size] ^= (uint8_t)(1u << (rnd() % 8));
            if (write_file(pa, ba, a->size) || write_file(pb, bb, b->size)) die(pa);
            how = "both with a bit flipped";
        } else if (trial % 4 == 1) { /* both truncated */
            if (truncate(pa, (off_t)(rnd() % a->size)) || truncate(pb, (off_t)(rnd() % b->size))) die(pa);
            how = "both truncated";
        } else if (trial % 4 == 2) { /* one truncated, one flipped */
            memcpy(bb, b->data, b->size);
            bb[rnd() % b->size] ^= (uint8_t)(1u << (rnd() % 8));
            if (write_file(pb, bb, b->size) || truncate(pa, (off_t)(rnd() % a->size))) die(pa);
            how = "the older truncated, the newer flipped";
        } else { /* the older one gone, the newer one flipped */
            memcpy(bb, b->data, b->size);
            bb[rnd() % b->size] ^= (uint8_t)(1u << (rnd() % 8));
            if (write_file(pb, bb, b->size) || unlink(pa)) die(pa);
            how = "only the newer, flipped";
        }
        podsync_open_info oi;
        podsync_store *s = NULL;
        part_trials++;
        int32_t st = open_dir(trial_dir, &oi, &s);
        if (st != PODSYNC_E_FILE_CORRUPT || s != NULL)
            FAIL("checkpoints %s: open returned %s (store %s), expected PODSYNC_E_FILE_CORRUPT and none", how,
                 podsync_status_name(st), s ? "given" : "none");
        podsync_store_free(s);
    }
    free(ba);
    free(bb);
    end_part();
}

/* ---- (f) disk full, (g) read-only ---- */

static int run(const char *cmd) {
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

static podsync_store *open_writer(const char *dir) {
    podsync_schema *schema = make_schema(REC);
    podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = STREAM + 7;
    podsync_durability_options dur = PODSYNC_DURABILITY_OPTIONS_INIT;
    podsync_open_info oi = PODSYNC_OPEN_INFO_INIT;
    podsync_store *s = NULL;
    ok(podsync_store_open(dir, schema, PODSYNC_ROLE_WRITER, &o, &dur, &oi, &s), "open writer", NULL);
    podsync_schema_free(schema);
    return s;
}

static void puts_work(podsync_store *s, uint64_t key, const char *when) {
    uint64_t rec[REC / 8];
    for (size_t j = 0; j < REC / 8; j++) rec[j] = rnd();
    int32_t st = podsync_store_put(s, TABLE, key, rec, REC);
    const void *got = NULL;
    if (st != PODSYNC_OK && st != PODSYNC_FLUSH_DUE) {
        FAIL("%s: put: %s (%s)", when, podsync_status_name(st), podsync_store_errmsg(s));
    } else if (podsync_store_get(s, TABLE, key, &got) != PODSYNC_OK || memcmp(got, rec, REC) != 0) {
        FAIL("%s: get does not return the record just put", when);
    }
}

static void newest_log(const char *dir, char *out, size_t cap) {
    char **names = list_dir(dir);
    out[0] = 0;
    for (size_t i = 0; names[i]; i++)
        if (starts_with(names[i], "log-") && ends_with(names[i], ".psl")) path_join(out, cap, dir, names[i]);
    free_names(names);
}

static void part_disk_full(const char *base) {
    begin_part("(f) disk full");
    char mp[4096], dir[4096], filler[4096], copy[4096], cmd[9000];
    path_join(mp, sizeof mp, base, "small");
    path_join(dir, sizeof dir, mp, "store");
    path_join(filler, sizeof filler, mp, "filler");
    path_join(copy, sizeof copy, base, "full-copy");
    if (mkdir(mp, 0755) != 0) die(mp);
    int mounted = 0;
    if (geteuid() == 0 && !getenv("DURABILITY_FILES_NO_MOUNT")) {
        snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=256k tmpfs '%s'", mp);
        mounted = run(cmd) == 0;
        if (!mounted) printf("durability_files: (f) mount failed: using RLIMIT_FSIZE\n");
    }
    printf("durability_files: (f) a full disk by %s\n", mounted ? "a 256 KiB tmpfs filled up" : "RLIMIT_FSIZE");
    struct rlimit saved;
    if (getrlimit(RLIMIT_FSIZE, &saved) != 0) die("getrlimit");
    signal(SIGXFSZ, SIG_IGN);

    podsync_store *s = open_writer(dir);
    for (uint64_t k = 0; k < RECORDS; k++) put_random(s, k);
    size_t frames = 0;
    ok(podsync_store_flush(s, &frames), "flush", s);
    ok(podsync_store_checkpoint(s), "checkpoint before the disk fills", s);
    for (uint64_t k = 0; k < 20; k++) put_random(s, k);
    ok(podsync_store_flush(s, &frames), "flush", s);

    /* fill the disk */
    if (mounted) {
        int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) die(filler);
        static uint8_t junk[4096];
        memset(junk, 0xAB, sizeof junk);
        for (;;) {
            ssize_t w = write(fd, junk, sizeof junk);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno == ENOSPC) break;
            if (w <= 0) die(filler);
        }
        close(fd);
    } else {
        char log[4096];
        newest_log(dir, log, sizeof log);
        struct stat st;
        if (stat(log, &st) != 0) die(log);
        struct rlimit lim = saved;
        lim.rlim_cur = (rlim_t)st.st_size + 100; /* the next append is cut short, the one after fails */
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) die("setrlimit");
    }

    /* a checkpoint fails and leaves everything as it was */
    char *before = describe_dir(dir);
    part_trials++;
    int32_t st = podsync_store_checkpoint(s);
    if (st != PODSYNC_E_IO) FAIL("checkpoint on a full disk: %s, expected PODSYNC_E_IO", podsync_status_name(st));
    char *after = describe_dir(dir);
    if (strcmp(before, after) != 0) FAIL("a failed checkpoint changed the directory:\n  before: %s\n  after:  %s", before, after);
    free(after);
    podsync_checkpoint *ck = NULL;
    part_trials++;
    st = podsync_checkpoint_begin(s, &ck);
    if (st == PODSYNC_OK) {
        while ((st = podsync_checkpoint_step(ck, 4096)) == PODSYNC_OK) {
        }
        podsync_checkpoint_free(ck);
    }
    if (st != PODSYNC_E_IO) FAIL("checkpoint_begin/step on a full disk: %s, expected PODSYNC_E_IO", podsync_status_name(st));
    after = describe_dir(dir);
    if (strcmp(before, after) != 0) FAIL("a failed stepped checkpoint changed the directory:\n  before: %s\n  after:  %s", before, after);
    free(after);
    free(before);

    /* the store works in memory */
    puts_work(s, 5, "after a failed checkpoint");
    if (info_of(s).log_failed) FAIL("a failed checkpoint set log_failed");

    /* flush until the log cannot take a frame */
    uint64_t handed = info_of(s).state_version, handed_digest = digest_of(s), versions_before = handed;
    int failed = 0;
    for (int i = 0; i < 400 && !failed; i++) {
        for (uint64_t k = 0; k < 50; k++) put_random(s, (uint64_t)i * 50 + k);
        frames = 0;
        st = podsync_store_flush(s, &frames);
        part_trials++;
        if (st == PODSYNC_OK) {
            if (frames != 1) FAIL("flush made %zu frames", frames);
            handed = info_of(s).state_version;
            handed_digest = digest_of(s);
        } else if (st == PODSYNC_E_IO) {
            failed = 1;
            if (frames != 0) FAIL("a failed flush handed out %zu frames", frames);
        } else {
            FAIL("flush on a full disk: %s (%s)", podsync_status_name(st), podsync_store_errmsg(s));
            break;
        }
    }
    if (!failed) FAIL("400 flushes of 50 records each on a full disk all succeeded");
    printf("durability_files: (f) the log took %" PRIu64 " more frames, then its append failed\n", handed - versions_before);
    podsync_store_info i = info_of(s);
    if (i.log_failed != 1) FAIL("after a failed log append: info.log_failed %u", i.log_failed);
    if (i.state_version != handed + 1) FAIL("after a failed flush: version %" PRIu64 ", expected %" PRIu64 " (in memory)", i.state_version, handed + 1);
    if (i.durable_version > handed) FAIL("durable_version %" PRIu64 " above the last version logged (%" PRIu64 ")", i.durable_version, handed);
    uint64_t memory_version = i.state_version;
    size_t n = 99;
    part_trials += 4;
    if ((st = podsync_store_flush(s, &n)) != PODSYNC_E_IO) FAIL("flush with the log failed: %s", podsync_status_name(st));
    if ((st = podsync_store_delta_since(s, 1, &n)) != PODSYNC_E_IO) FAIL("delta_since with the log failed: %s", podsync_status_name(st));
    if ((st = podsync_store_snapshot(s, &n)) != PODSYNC_E_IO) FAIL("snapshot with the log failed: %s", podsync_status_name(st));
    podsync_snapshot *snap = NULL;
    if ((st = podsync_snapshot_begin(s, 0, &snap)) != PODSYNC_E_IO) FAIL("snapshot_begin with the log failed: %s", podsync_status_name(st));
    podsync_snapshot_free(snap);
    puts_work(s, 7, "with the log failed");
    if (tmp_files(dir)) FAIL("a *.tmp left on the full disk");

    /* what is on disk opens: at the last version handed out (the log cut back to its last whole block) */
    if (!mounted && setrlimit(RLIMIT_FSIZE, &saved) != 0) die("setrlimit");
    copy_dir(dir, copy);
    {
        podsync_open_info oi;
        podsync_store *c = NULL;
        part_trials++;
        st = open_dir(copy, &oi, &c);
        if (st != PODSYNC_OK) {
            FAIL("a copy of the full disk's directory: open: %s (%s)", podsync_status_name(st), podsync_last_errmsg());
        } else {
            if (oi.restored_version != handed || digest_of(c) != handed_digest)
                FAIL("the full disk's directory opens at version %" PRIu64 ", the last handed out was %" PRIu64 " (or another digest)",
                     oi.restored_version, handed);
            if (oi.flags & PODSYNC_OPENED_FALLBACK) FAIL("the full disk's directory falls back (flags %x)", oi.flags);
            if (oi.dropped_bytes != 0 || (oi.flags & PODSYNC_OPENED_NEW_TERM))
                FAIL("the failed append was not cut back: %" PRIu64 " bytes dropped, flags %x", oi.dropped_bytes, oi.flags);
            podsync_store_free(c);
        }
        remove_dir(copy);
    }

    /* space again */
    if (mounted) {
        if (unlink(filler) != 0) die(filler);
    }
    part_trials++;
    st = podsync_store_checkpoint(s);
    if (st != PODSYNC_OK) FAIL("checkpoint with space again: %s (%s)", podsync_status_name(st), podsync_store_errmsg(s));
    i = info_of(s);
    if (i.log_failed != 0) FAIL("after a successful checkpoint: log_failed %u", i.log_failed);
    if (i.durable_version != memory_version) FAIL("after the checkpoint: durable_version %" PRIu64 ", expected %" PRIu64, i.durable_version, memory_version);
    if (tmp_files(dir)) FAIL("a *.tmp left after the checkpoint");
    frames = 0;
    part_trials++;
    st = podsync_store_flush(s, &frames);
    if (st != PODSYNC_OK || frames != 1) FAIL("flush after the checkpoint: %s, %zu frames", podsync_status_name(st), frames);
    for (uint64_t k = 0; k < 10; k++) put_random(s, 1000 + k);
    st = podsync_store_flush(s, &frames);
    if (st != PODSYNC_OK || frames != 1) FAIL("second flush after the checkpoint: %s, %zu frames", podsync_status_name(st), frames);
    uint64_t final_version = info_of(s).state_version, final_digest = digest_of(s);
    if (final_version != memory_version + 2) FAIL("flushing resumed at version %" PRIu64 ", expected %" PRIu64, final_version, memory_version + 2);
    podsync_store_free(s);
    {
        podsync_open_info oi;
        podsync_store *c = NULL;
        part_trials++;
        st = open_dir(dir, &oi, &c);
        if (st != PODSYNC_OK) {
            FAIL("reopen after the disk had space again: %s (%s)", podsync_status_name(st), podsync_last_errmsg());
        } else {
            if (oi.restored_version != final_version || digest_of(c) != final_digest || (oi.flags & PODSYNC_OPENED_NEW_TERM))
                FAIL("reopened at version %" PRIu64 " flags %x, expected %" PRIu64 " in the same term", oi.restored_version,
                     oi.flags, final_version);
            podsync_store_free(c);
        }
    }
    signal(SIGXFSZ, SIG_DFL);
    remove_dir(dir);
    if (mounted) {
        snprintf(cmd, sizeof cmd, "umount '%s'", mp);
        if (run(cmd) != 0) FAIL("umount %s", mp);
    }
    if (rmdir(mp) != 0) die(mp);
    end_part();
}

/* The read-only scenario; remounted: the tmpfs went read-only (log appends fail too), else the
   directory lost its write permission (the open log segment stays writable). */
static void read_only_scenario(const char *dir, int (*make_ro)(const char *), int (*make_rw)(const char *), int remounted) {
    podsync_store *s = open_writer(dir);
    for (uint64_t k = 0; k < RECORDS; k++) put_random(s, k);
    size_t frames = 0;
    ok(podsync_store_flush(s, &frames), "flush", s);
    ok(podsync_store_checkpoint(s), "checkpoint while writable", s);
    if (make_ro(dir) != 0) {
        FAIL("could not make %s read-only", dir);
        podsync_store_free(s);
        return;
    }
    char *before = describe_dir(dir);
    part_trials++;
    int32_t st = podsync_store_checkpoint(s);
    if (st != PODSYNC_E_IO) FAIL("checkpoint in a read-only directory: %s, expected PODSYNC_E_IO", podsync_status_name(st));
    podsync_checkpoint *ck = NULL;
    part_trials++;
    st = podsync_checkpoint_begin(s, &ck);
    if (st == PODSYNC_OK) {
        while ((st = podsync_checkpoint_step(ck, 4096)) == PODSYNC_OK) {
        }
        podsync_checkpoint_free(ck);
    }
    if (st != PODSYNC_E_IO) FAIL("checkpoint_begin/step in a read-only directory: %s, expected PODSYNC_E_IO", podsync_status_name(st));
    char *after = describe_dir(dir);
    if (strcmp(before, after) != 0) FAIL("a failed checkpoint changed the directory:\n  before: %s\n  after:  %s", before, after);
    free(before);
    free(after);
    if (tmp_files(dir)) FAIL("a *.tmp in the read-only directory");
    puts_work(s, 3, "read-only directory");
    part_trials++;
    frames = 0;
    st = podsync_store_flush(s, &frames);
    if (remounted) {
        if (st != PODSYNC_OK && !(st == PODSYNC_E_IO && info_of(s).log_failed))
            FAIL("flush on a read-only file system: %s", podsync_status_name(st));
    } else if (st != PODSYNC_OK || frames != 1) {
        FAIL("flush with the log segment already open, directory read-only: %s (%s)", podsync_status_name(st),
             podsync_store_errmsg(s));
    }
    if (make_rw(dir) != 0) FAIL("could not make %s writable again", dir);
    part_trials++;
    st = podsync_store_checkpoint(s);
    if (st != PODSYNC_OK) FAIL("checkpoint writable again: %s (%s)", podsync_status_name(st), podsync_store_errmsg(s));
    if (info_of(s).log_failed) FAIL("log_failed after a successful checkpoint");
    puts_work(s, 4, "writable again");
    st = podsync_store_flush(s, &frames);
    if (st != PODSYNC_OK || frames != 1) FAIL("flush writable again: %s", podsync_status_name(st));
    uint64_t v = info_of(s).state_version, d = digest_of(s);
    podsync_store_free(s);
    podsync_open_info oi;
    part_trials++;
    st = open_dir(dir, &oi, &s);
    if (st != PODSYNC_OK || oi.restored_version != v || digest_of(s) != d)
        FAIL("reopen after the read-only spell: %s at version %" PRIu64 ", expected %" PRIu64, podsync_status_name(st),
             oi.restored_version, v);
    podsync_store_free(s);
}

static char ro_mount[4096];
static int remount_ro(const char *dir) {
    (void)dir;
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "mount -o remount,ro '%s' 2>/dev/null", ro_mount);
    return run(cmd);
}
static int remount_rw(const char *dir) {
    (void)dir;
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "mount -o remount,rw '%s'", ro_mount);
    return run(cmd);
}
static int chmod_ro(const char *dir) { return chmod(dir, 0555); }
static int chmod_rw(const char *dir) { return chmod(dir, 0755); }

static void part_read_only(const char *base) {
    begin_part("(g) read-only directory");
    char dir[4096], cmd[9000];
    int done = 0;
    if (geteuid() == 0) {
        /* a tmpfs remounted read-only: the kernel refuses (EBUSY) while a file on it is open for
           writing, as the store's log is; try it, and fall back to permissions */
        path_join(ro_mount, sizeof ro_mount, base, "ro");
        if (mkdir(ro_mount, 0755) != 0) die(ro_mount);
        snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=1m tmpfs '%s'", ro_mount);
        if (run(cmd) == 0) {
            path_join(dir, sizeof dir, ro_mount, "store");
            podsync_store *s = open_writer(dir);
            int ro = remount_ro(dir) == 0;
            if (ro) remount_rw(dir);
            podsync_store_free(s);
            remove_dir(dir);
            if (ro) {
                printf("durability_files: (g) mount -o remount,ro\n");
                read_only_scenario(dir, remount_ro, remount_rw, 1);
                remove_dir(dir);
                done = 1;
            } else {
                printf("durability_files: (g) mount -o remount,ro refused while the store is open: chmod 0555 as uid 65534\n");
            }
            snprintf(cmd, sizeof cmd, "umount '%s'", ro_mount);
            if (run(cmd) != 0) FAIL("umount %s", ro_mount);
        }
        rmdir(ro_mount);
        if (!done) {
            /* root ignores mode bits: run the scenario in a child as nobody */
            path_join(dir, sizeof dir, base, "ro-store");
            if (mkdir(dir, 0755) != 0 || chown(dir, 65534, 65534) != 0 || chmod(base, 0755) != 0) die(dir);
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) die("fork");
            if (pid == 0) {
                if (setgid(65534) != 0 || setuid(65534) != 0) {
                    fprintf(stderr, "durability_files: cannot become uid 65534: %s\n", strerror(errno));
                    _exit(3);
                }
                int before = failures; /* inherited from the parent */
                read_only_scenario(dir, chmod_ro, chmod_rw, 0);
                fflush(stdout);
                fflush(stderr);
                _exit(failures != before ? 1 : 0);
            }
            int status = 0;
            if (waitpid(pid, &status, 0) < 0) die("waitpid");
            part_trials += 7;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAIL("the read-only scenario as uid 65534 failed (status %d)", status);
            chmod(dir, 0755);
            remove_dir(dir);
            chmod(base, 0700);
        }
    } else {
        printf("durability_files: (g) chmod 0555\n");
        path_join(dir, sizeof dir, base, "ro-store");
        read_only_scenario(dir, chmod_ro, chmod_rw, 0);
        chmod(dir, 0755);
        remove_dir(dir);
    }
    end_part();
}

static void part_locked(const char *base) {
    begin_part("(h) locked directory");
    char dir[4096];
    path_join(dir, sizeof dir, base, "locked");
    podsync_store *s = open_writer(dir);
    podsync_open_info oi;
    podsync_store *t = NULL;
    part_trials++;
    int32_t st = open_dir(dir, &oi, &t);
    if (st != PODSYNC_E_IO || t != NULL)
        FAIL("a second open in this process: %s, expected PODSYNC_E_IO and no store", podsync_status_name(st));
    podsync_store_free(t);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        podsync_open_info coi;
        podsync_store *c = NULL;
        int32_t cst = open_dir(dir, &coi, &c);
        _exit(cst == PODSYNC_E_IO && c == NULL ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) die("waitpid");
    part_trials++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAIL("a second open from another process did not return PODSYNC_E_IO");
    /* the first store is not disturbed */
    puts_work(s, 1, "after a refused second open");
    size_t frames = 0;
    st = podsync_store_flush(s, &frames);
    if (st != PODSYNC_OK || frames != 1) FAIL("flush after a refused second open: %s", podsync_status_name(st));
    uint64_t v = info_of(s).state_version;
    podsync_store_free(s);
    part_trials++;
    st = open_dir(dir, &oi, &t);
    if (st != PODSYNC_OK || oi.restored_version != v)
        FAIL("open after the first store was freed: %s at %" PRIu64 ", expected version %" PRIu64, podsync_status_name(st),
             oi.restored_version, v);
    podsync_store_free(t);
    remove_dir(dir);
    end_part();
}

int main(void) {
    char base[] = "/tmp/podsync-files-XXXXXX";
    if (!mkdtemp(base)) die("mkdtemp");
    char orig[4096], trial[4096];
    path_join(orig, sizeof orig, base, "orig");
    path_join(trial, sizeof trial, base, "trial");
    if (mkdir(trial, 0755) != 0) die(trial);
    trial_dir = trial;

    part = "build";
    build(orig, STREAM, REC);
    load_set(orig, &set);
    ck_new = find_last(&set, "checkpoint-", ".psc", 0);
    ck_old = find_last(&set, "checkpoint-", ".psc", 1);
    log_new = find_last(&set, "log-", ".psl", 0);
    log_old = find_last(&set, "log-", ".psl", 1);
    if (ck_new < 0 || ck_old < 0 || log_new < 0 || log_old < 0) {
        fprintf(stderr, "durability_files: expected two checkpoints and two log segments in %s\n", orig);
        exit(1);
    }
    printf("durability_files: built %s (%zu bytes), %s (%zu), %s (%zu), %s (%zu)\n", set.f[ck_old].name,
           set.f[ck_old].size, set.f[ck_new].name, set.f[ck_new].size, set.f[log_old].name, set.f[log_old].size,
           set.f[log_new].name, set.f[log_new].size);

    /* the intact copy */
    begin_part("intact copy");
    {
        write_set(trial_dir, &set, -1, NULL, 0, 0, NULL, NULL, 0);
        podsync_open_info oi;
        podsync_store *s = NULL;
        part_trials++;
        int32_t st = open_dir(trial_dir, &oi, &s);
        if (st != PODSYNC_OK) {
            FAIL("open: %s (%s)", podsync_status_name(st), podsync_last_errmsg());
        } else {
            if (check_restored("intact", s, &oi) != 20 || oi.checkpoint_version != 10 || oi.flags != 0 ||
                oi.dropped_bytes != 0 || oi.term != build_term)
                FAIL("intact: restored %" PRIu64 " checkpoint %" PRIu64 " flags %x dropped %" PRIu64 " term %" PRIu64,
                     oi.restored_version, oi.checkpoint_version, oi.flags, oi.dropped_bytes, oi.term);
            podsync_store_free(s);
        }
    }
    end_part();

    part_checkpoint_damage();
    part_log_damage();
    part_foreign_logs(base);
    part_all_checkpoints_corrupt();
    part_disk_full(base);
    part_read_only(base);
    part_locked(base);

    for (int i = 0; i < set.n; i++) free(set.f[i].data);
    remove_dir(trial);
    remove_dir(orig);
    if (rmdir(base) != 0) die(base);
    if (failures) {
        printf("durability_files: FAILED: %d violations\n", failures);
        return 1;
    }
    printf("durability_files: ok\n");
    return 0;
}
