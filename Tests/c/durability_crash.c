/*
 * durability_crash.c — kill -9 a durable writer at random points; its directory must always reopen
 * at what it handed out.
 *
 * One directory, many rounds. Each round the parent forks a child writer that opens the directory
 * (podsync_store_open, the policy under test), then loops: a batch of random puts and deletes on a
 * table of 40-byte records (keys from a few thousand), a flush, and after each flush a message
 * (term, version, digest) to the parent through a pipe, written BEFORE the child goes on; now and
 * then it starts an incremental checkpoint (podsync_checkpoint_begin, one podsync_checkpoint_step
 * per flush after that) or writes a whole one (podsync_store_checkpoint), or forces the log out
 * (podsync_store_sync). The parent kills it with SIGKILL after a random delay (1 to 100 ms from the
 * fork: some kills land in the child's open, some in a flush, a checkpoint, a log rotation), then
 * checks the directory:
 *
 *   - every complete checkpoint file (checkpoint-*.psc, not .tmp) opens alone (copied into an
 *     empty directory) without PODSYNC_OPENED_FALLBACK, at a version the writer handed out, with
 *     that version's digest: a checkpoint is never torn;
 *   - podsync_store_open(dir, role 0) succeeds without fallback and leaves no *.tmp behind;
 *   - the restored version is the last version the parent received or one more (the child logs a
 *     flush's frame, returns from the flush, then writes to the pipe: a kill between the two
 *     leaves a logged version the parent never heard of). Its digest is exactly known either way:
 *     the child draws its batches from a seeded generator, and the parent replays the same batches
 *     on an in-memory writer (rebuilt each round from the restored records), checking every digest
 *     the child reported on the way. Both policies lose nothing a kill -9 can take: EVERY_FRAME
 *     fsyncs before the flush returns, OS has written (write(2)) before it returns;
 *   - the term: with PODSYNC_LOG_EVERY_FRAME the same term as the child's (no
 *     PODSYNC_OPENED_NEW_TERM); with PODSYNC_LOG_OS a new term (flag set, term above every term
 *     seen), on the parent's open and on each child's open;
 *   - the restored store: same stream id, state_version and digest as open_info says, durable,
 *     log not failed, and its records, put into a fresh writer, give the same digest.
 *
 * The next round's child reopens the same directory, so the state accumulates across crashes; the
 * digest of each version is kept for the current history (a new term re-uses the versions above
 * its start with other contents: entries above the restored version are forgotten).
 *
 * Usage: durability_crash [--rounds N] [--seed S] [every-frame] [os]
 *   (no policy: both; default 200 rounds each). Prints one line per policy; exits non-zero on any
 *   violation. DURABILITY_CRASH_TRACE=1 prints each round's kill and reopen. The kill points depend
 *   on timing, so a run is not reproducible to the round; the batches are (--seed).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "podsync.h"

#define TABLE 5
#define REC 40
#define KEYS 3000
#define MAX_OPS 64
#define DELETE_PCT 15

static int failures = 0;
static const char *policy_name = "";
static int round_no = -1;
#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "durability_crash: %s round %d: FAIL: ", policy_name, round_no); \
        fprintf(stderr, __VA_ARGS__);                                               \
        fprintf(stderr, "\n");                                                      \
        if (++failures > 20) exit(1);                                               \
    } while (0)

static void ok(int32_t st, const char *what, const podsync_store *s) {
    if (st < 0) {
        fprintf(stderr, "durability_crash: %s round %d: %s: %s (%s)\n", policy_name, round_no, what,
                podsync_status_name(st), s ? podsync_store_errmsg(s) : podsync_last_errmsg());
        exit(1);
    }
}

static uint64_t rnd_from(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t main_rng = 1;
static uint64_t rnd(void) { return rnd_from(&main_rng); }

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

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- batches: the child and the parent's replay draw the same ones from the same seed ---- */

typedef struct {
    int del;
    uint64_t key;
    uint64_t rec[REC / 8];
} op;

/* The last op is always a put, so every batch changes something (a key put and deleted within one
   batch is not sent) and every flush makes exactly one frame, one version. */
static size_t gen_batch(uint64_t *rng, op *ops) {
    size_t n = 1 + (size_t)(rnd_from(rng) % MAX_OPS);
    for (size_t i = 0; i < n; i++) {
        ops[i].del = i + 1 < n && rnd_from(rng) % 100 < DELETE_PCT;
        ops[i].key = rnd_from(rng) % KEYS;
        for (size_t j = 0; j < REC / 8; j++) ops[i].rec[j] = ops[i].del ? 0 : rnd_from(rng);
    }
    return n;
}

static int32_t apply_batch(podsync_store *s, const op *ops, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t st = ops[i].del ? podsync_store_delete(s, TABLE, ops[i].key)
                                : podsync_store_put(s, TABLE, ops[i].key, ops[i].rec, REC);
        if (st < 0) return st;
    }
    return PODSYNC_OK;
}

/* ---- files ---- */

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "durability_crash: path too long\n");
        exit(1);
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Names of the directory's entries (without . and ..), NULL-terminated; free with free_names. */
static char **list_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "durability_crash: opendir %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    struct dirent *e;
    while (v && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n + 2 > cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            if (!v) break;
        }
        v[n] = malloc(strlen(e->d_name) + 1);
        if (!v[n]) exit(1);
        strcpy(v[n], e->d_name);
        n++;
    }
    closedir(d);
    if (!v) exit(1);
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
        if (unlink(p) != 0) {
            fprintf(stderr, "durability_crash: unlink %s: %s\n", p, strerror(errno));
            exit(1);
        }
    }
    free_names(names);
}

static void copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0) {
        fprintf(stderr, "durability_crash: copy %s -> %s: %s\n", from, to, strerror(errno));
        exit(1);
    }
    char buf[65536];
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fprintf(stderr, "durability_crash: read %s: %s\n", from, strerror(errno));
            exit(1);
        }
        if (r == 0) break;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                fprintf(stderr, "durability_crash: write %s: %s\n", to, strerror(errno));
                exit(1);
            }
            off += w;
        }
    }
    close(in);
    close(out);
}

/* ---- the child writer ---- */

enum { MSG_OPENED = 1, MSG_FLUSHED = 2, MSG_ERROR = 3 };

typedef struct {
    uint32_t type;
    uint32_t arg; /* OPENED: open_info flags; FLUSHED: batch index; ERROR: the status (negated) */
    uint64_t term, version, digest;
} msg;

static void send_msg(int fd, uint32_t type, uint32_t arg, uint64_t term, uint64_t version, uint64_t digest) {
    msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.arg = arg;
    m.term = term;
    m.version = version;
    m.digest = digest;
    for (;;) {
        ssize_t w = write(fd, &m, sizeof m); /* <= PIPE_BUF: atomic */
        if (w == (ssize_t)sizeof m) return;
        if (w < 0 && errno == EINTR) continue;
        _exit(4);
    }
}

static void child_fail(int fd, int32_t st, const char *what, const podsync_store *s) {
    fprintf(stderr, "durability_crash: %s round %d: child: %s: %s (%s)\n", policy_name, round_no, what,
            podsync_status_name(st), s ? podsync_store_errmsg(s) : podsync_last_errmsg());
    send_msg(fd, MSG_ERROR, (uint32_t)-st, 0, 0, 0);
    _exit(2);
}

static const podsync_store_options *store_options(void) {
    static podsync_store_options o = PODSYNC_STORE_OPTIONS_INIT;
    o.stream_id = 0xC4A54ull;
    return &o;
}

static void child_main(const char *dir, uint32_t policy, uint64_t op_seed, uint64_t ctl_seed, int fd) {
    podsync_durability_options dur = PODSYNC_DURABILITY_OPTIONS_INIT;
    dur.log_policy = policy;
    podsync_open_info oi = PODSYNC_OPEN_INFO_INIT;
    podsync_store *s = NULL;
    int32_t st = podsync_store_open(dir, NULL, 0, store_options(), &dur, &oi, &s);
    if (st != PODSYNC_OK) child_fail(fd, st, "open", NULL);
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    uint64_t d = 0;
    if ((st = podsync_store_info_get(s, &i)) != PODSYNC_OK) child_fail(fd, st, "info", s);
    if ((st = podsync_store_digest(s, &d)) != PODSYNC_OK) child_fail(fd, st, "digest", s);
    send_msg(fd, MSG_OPENED, oi.flags, i.term, i.state_version, d);

    uint64_t op_rng = op_seed, ctl_rng = ctl_seed;
    static op ops[MAX_OPS];
    podsync_checkpoint *ck = NULL;
    for (uint32_t batch = 0;; batch++) {
        size_t n = gen_batch(&op_rng, ops);
        if ((st = apply_batch(s, ops, n)) < 0) child_fail(fd, st, "put/delete", s);
        size_t frames = 0;
        if ((st = podsync_store_flush(s, &frames)) != PODSYNC_OK) child_fail(fd, st, "flush", s);
        if (frames != 1) child_fail(fd, PODSYNC_E_INTERNAL, "flush made other than 1 frame", s);
        if ((st = podsync_store_info_get(s, &i)) != PODSYNC_OK) child_fail(fd, st, "info", s);
        if ((st = podsync_store_digest(s, &d)) != PODSYNC_OK) child_fail(fd, st, "digest", s);
        send_msg(fd, MSG_FLUSHED, batch, i.term, i.state_version, d);

        uint64_t c = rnd_from(&ctl_rng) % 100;
        if (ck) {
            st = podsync_checkpoint_step(ck, 1 + (size_t)(rnd_from(&ctl_rng) % 65536));
            if (st == PODSYNC_DONE) {
                podsync_checkpoint_free(ck);
                ck = NULL;
            } else if (st != PODSYNC_OK) {
                fprintf(stderr, "checkpoint_step: %s\n", podsync_checkpoint_errmsg(ck));
                child_fail(fd, st, "checkpoint_step", s);
            }
        } else if (c < 6) {
            if ((st = podsync_checkpoint_begin(s, &ck)) != PODSYNC_OK) child_fail(fd, st, "checkpoint_begin", s);
        } else if (c < 9) {
            if ((st = podsync_store_checkpoint(s)) != PODSYNC_OK) child_fail(fd, st, "checkpoint", s);
        } else if (c < 11) {
            if ((st = podsync_store_sync(s)) != PODSYNC_OK) child_fail(fd, st, "sync", s);
        }
    }
}

/* ---- the parent ---- */

typedef struct {
    uint32_t policy;
    uint64_t stream_id;
    uint64_t term;          /* the newest term seen (child's open or parent's open) */
    uint64_t *digest_at;    /* digest of each version of the current history, up to top */
    size_t cap;
    uint64_t top;
    uint64_t round_start;   /* the version the round's child should open at */
    uint32_t flushed;       /* FLUSHED messages this round */
    int opened;             /* OPENED message this round */
    int child_error;
    uint64_t replay_rng;    /* the round's batches, replayed */
    podsync_store *mirror;  /* in-memory writer: the state at round_start + flushed */
    /* counters */
    unsigned long kills_in_open, one_beyond, checkpoints_checked, fallback_free_opens, versions;
    uint64_t max_version;
} crash;

static void set_digest(crash *c, uint64_t version, uint64_t digest) {
    if (version >= c->cap) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap <= version) cap *= 2;
        c->digest_at = realloc(c->digest_at, cap * sizeof *c->digest_at);
        if (!c->digest_at) exit(1);
        c->cap = cap;
    }
    c->digest_at[version] = digest;
    c->top = version;
    if (version > c->max_version) c->max_version = version;
}

static void rebuild_mirror(crash *c, podsync_store *restored, uint64_t restored_digest) {
    podsync_store_free(c->mirror);
    c->mirror = NULL;
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    ok(podsync_schema_add_table(schema, TABLE, REC, 8, NULL, 0), "table", NULL);
    ok(podsync_store_create(schema, PODSYNC_ROLE_WRITER, NULL, &c->mirror), "mirror", NULL);
    podsync_schema_free(schema);
    const void *recs = NULL;
    const uint64_t *keys = NULL;
    size_t n = 0;
    ok(podsync_store_table(restored, TABLE, &recs, &keys, &n), "table", restored);
    if (n) ok(podsync_store_put_many(c->mirror, TABLE, keys, recs, n, n * REC), "put_many", c->mirror);
    size_t frames = 0;
    ok(podsync_store_flush(c->mirror, &frames), "mirror flush", c->mirror);
    if (digest_of(c->mirror) != restored_digest)
        FAIL("the restored records (%zu) give digest %016" PRIx64 ", the restored store says %016" PRIx64, n,
             digest_of(c->mirror), restored_digest);
}

/* Applies the round's next batch to the mirror; returns its digest. */
static uint64_t replay_next(crash *c) {
    static op ops[MAX_OPS];
    size_t n = gen_batch(&c->replay_rng, ops);
    ok(apply_batch(c->mirror, ops, n), "mirror put/delete", c->mirror);
    size_t frames = 0;
    ok(podsync_store_flush(c->mirror, &frames), "mirror flush", c->mirror);
    if (frames != 1) FAIL("mirror flush made %zu frames", frames);
    return digest_of(c->mirror);
}

static void on_msg(crash *c, const msg *m) {
    if (m->type == MSG_ERROR) {
        FAIL("the child failed: %s (its stderr above)", podsync_status_name(-(int32_t)m->arg));
        c->child_error = 1;
        return;
    }
    if (m->type == MSG_OPENED) {
        c->opened = 1;
        if (m->version != c->round_start || m->digest != c->digest_at[c->round_start])
            FAIL("child opened at version %" PRIu64 " digest %016" PRIx64 ", the parent left it at %" PRIu64
                 " digest %016" PRIx64,
                 m->version, m->digest, c->round_start, c->digest_at[c->round_start]);
        if (c->policy == PODSYNC_LOG_EVERY_FRAME) {
            if (m->term != c->term || (m->arg & PODSYNC_OPENED_NEW_TERM))
                FAIL("EVERY_FRAME: child opened in term %" PRIu64 " (flags %x), expected the same term %" PRIu64,
                     m->term, m->arg, c->term);
        } else {
            if (m->term <= c->term || !(m->arg & PODSYNC_OPENED_NEW_TERM))
                FAIL("OS: child opened in term %" PRIu64 " (flags %x), expected a new term above %" PRIu64, m->term,
                     m->arg, c->term);
        }
        if (m->arg & PODSYNC_OPENED_FALLBACK) FAIL("child's open fell back to an older checkpoint");
        c->term = m->term;
        return;
    }
    if (m->type != MSG_FLUSHED) {
        FAIL("unknown message %u", m->type);
        return;
    }
    if (!c->opened) FAIL("a flush message before the open message");
    uint64_t expect = c->round_start + c->flushed + 1;
    if (m->arg != c->flushed || m->version != expect)
        FAIL("flush message: batch %u version %" PRIu64 ", expected batch %u version %" PRIu64, m->arg, m->version,
             c->flushed, expect);
    if (m->term != c->term) FAIL("flush in term %" PRIu64 ", the child opened in %" PRIu64, m->term, c->term);
    uint64_t d = replay_next(c);
    if (d != m->digest)
        FAIL("version %" PRIu64 ": the child's digest %016" PRIx64 ", the replayed batches give %016" PRIx64,
             m->version, m->digest, d);
    set_digest(c, expect, m->digest);
    c->flushed++;
    c->versions++;
}

static void read_msgs(crash *c, int fd, uint8_t *buf, size_t *have, int *eof) {
    ssize_t r = read(fd, buf + *have, 4096 - *have);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) return;
        fprintf(stderr, "durability_crash: read pipe: %s\n", strerror(errno));
        exit(1);
    }
    if (r == 0) {
        *eof = 1;
        return;
    }
    *have += (size_t)r;
    size_t off = 0;
    while (*have - off >= sizeof(msg)) {
        msg m;
        memcpy(&m, buf + off, sizeof m);
        on_msg(c, &m);
        off += sizeof m;
    }
    memmove(buf, buf + off, *have - off);
    *have -= off;
}

static void tmp_files_absent(const char *dir, const char *when) {
    char **names = list_dir(dir);
    for (size_t i = 0; names[i]; i++)
        if (ends_with(names[i], ".tmp")) FAIL("%s: %s left in the directory", when, names[i]);
    free_names(names);
}

/* Every complete checkpoint file, alone in an empty directory, opens without fallback at a version
   the writer handed out, with that version's digest. */
static void check_checkpoints(crash *c, const char *dir, const char *scratch, uint64_t last) {
    char **names = list_dir(dir);
    char from[4096], to[4096];
    for (size_t i = 0; names[i]; i++) {
        if (!starts_with(names[i], "checkpoint-") || !ends_with(names[i], ".psc")) continue;
        path_join(from, sizeof from, dir, names[i]);
        path_join(to, sizeof to, scratch, names[i]);
        copy_file(from, to);
        podsync_durability_options dur = PODSYNC_DURABILITY_OPTIONS_INIT;
        dur.log_policy = c->policy;
        podsync_open_info oi = PODSYNC_OPEN_INFO_INIT;
        podsync_store *s = NULL;
        int32_t st = podsync_store_open(scratch, NULL, 0, store_options(), &dur, &oi, &s);
        if (st != PODSYNC_OK) {
            FAIL("%s alone does not open: %s (%s)", names[i], podsync_status_name(st), podsync_last_errmsg());
        } else {
            c->checkpoints_checked++;
            uint64_t d = digest_of(s);
            if (oi.flags & (PODSYNC_OPENED_FALLBACK | PODSYNC_OPENED_CREATED) || oi.skipped_status != 0)
                FAIL("%s alone: open flags %x skipped %s", names[i], oi.flags, podsync_status_name(oi.skipped_status));
            else if (oi.restored_version != oi.checkpoint_version)
                FAIL("%s alone: restored version %" PRIu64 " != checkpoint version %" PRIu64, names[i],
                     oi.restored_version, oi.checkpoint_version);
            else if (oi.checkpoint_version > last)
                FAIL("%s holds version %" PRIu64 ", beyond the last handed out (%" PRIu64 ")", names[i],
                     oi.checkpoint_version, last);
            else if (d != c->digest_at[oi.checkpoint_version])
                FAIL("%s: version %" PRIu64 " with digest %016" PRIx64 ", the writer had %016" PRIx64, names[i],
                     oi.checkpoint_version, d, c->digest_at[oi.checkpoint_version]);
            if (info_of(s).stream_id != c->stream_id) FAIL("%s: another stream id", names[i]);
            podsync_store_free(s);
        }
        clear_dir(scratch);
    }
    free_names(names);
}

static int run_policy(uint32_t policy, int rounds, uint64_t seed) {
    policy_name = policy == PODSYNC_LOG_EVERY_FRAME ? "every-frame" : "os";
    round_no = -1;
    int failures_before = failures;
    double t0 = now_s();
    main_rng = seed * 0x100000001B3ull + policy;

    char base[] = "/tmp/podsync-crash-XXXXXX";
    if (!mkdtemp(base)) {
        perror("durability_crash: mkdtemp");
        exit(1);
    }
    char dir[4096], scratch[4096];
    path_join(dir, sizeof dir, base, "store");
    path_join(scratch, sizeof scratch, base, "scratch");
    if (mkdir(scratch, 0755) != 0) {
        perror("durability_crash: mkdir");
        exit(1);
    }

    crash c;
    memset(&c, 0, sizeof c);
    c.policy = policy;

    /* create the store (so a kill in the child's first open finds a directory to reopen) */
    podsync_schema *schema = NULL;
    ok(podsync_schema_create(&schema), "schema", NULL);
    ok(podsync_schema_add_table(schema, TABLE, REC, 8, NULL, 0), "table", NULL);
    podsync_durability_options dur = PODSYNC_DURABILITY_OPTIONS_INIT;
    dur.log_policy = policy;
    podsync_open_info oi = PODSYNC_OPEN_INFO_INIT;
    podsync_store *s = NULL;
    ok(podsync_store_open(dir, schema, PODSYNC_ROLE_WRITER, store_options(), &dur, &oi, &s), "create", NULL);
    podsync_schema_free(schema);
    if (!(oi.flags & PODSYNC_OPENED_CREATED)) FAIL("the first open did not say CREATED (flags %x)", oi.flags);
    podsync_store_info si = info_of(s);
    c.stream_id = si.stream_id;
    c.term = si.term;
    if (si.state_version != 0 || !si.durable) FAIL("a created store at version %" PRIu64 ", durable %u", si.state_version, si.durable);
    set_digest(&c, 0, digest_of(s));
    rebuild_mirror(&c, s, c.digest_at[0]);
    podsync_store_free(s);
    c.round_start = 0;

    for (round_no = 0; round_no < rounds; round_no++) {
        uint64_t op_seed = rnd(), ctl_seed = rnd();
        unsigned delay_us = 1000 + (unsigned)(rnd() % 99000);
        c.flushed = 0;
        c.opened = 0;
        c.child_error = 0;
        c.replay_rng = op_seed;
        int p[2];
        if (pipe(p) != 0) {
            perror("durability_crash: pipe");
            exit(1);
        }
        fflush(stdout);
        fflush(stderr);
        double start = now_s();
        pid_t pid = fork();
        if (pid < 0) {
            perror("durability_crash: fork");
            exit(1);
        }
        if (pid == 0) {
            close(p[0]);
            child_main(dir, policy, op_seed, ctl_seed, p[1]);
            _exit(5);
        }
        close(p[1]);
        uint8_t buf[4096];
        size_t have = 0;
        int eof = 0;
        double deadline = start + delay_us / 1e6;
        while (!eof) {
            double left = deadline - now_s();
            if (left <= 0) break;
            struct pollfd pfd = {p[0], POLLIN, 0};
            int pr = poll(&pfd, 1, (int)(left * 1000) + 1);
            if (pr < 0 && errno != EINTR) {
                perror("durability_crash: poll");
                exit(1);
            }
            if (pr > 0 && now_s() < deadline) read_msgs(&c, p[0], buf, &have, &eof);
        }
        kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                perror("durability_crash: waitpid");
                exit(1);
            }
        }
        while (!eof) read_msgs(&c, p[0], buf, &have, &eof); /* what the child wrote before it died */
        close(p[0]);
        if (have) FAIL("a torn message in the pipe (%zu bytes)", have);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            FAIL("the child ended by itself (status %d)", status);
            break;
        }
        if (c.child_error) break;
        if (!c.opened) c.kills_in_open++;

        uint64_t last = c.round_start + c.flushed;
        check_checkpoints(&c, dir, scratch, last);

        oi = (podsync_open_info)PODSYNC_OPEN_INFO_INIT;
        s = NULL;
        int32_t st = podsync_store_open(dir, NULL, 0, store_options(), &dur, &oi, &s);
        if (st != PODSYNC_OK) {
            FAIL("open after the kill: %s (%s)", podsync_status_name(st), podsync_last_errmsg());
            break;
        }
        tmp_files_absent(dir, "after open");
        si = info_of(s);
        uint64_t d = digest_of(s);
        if (oi.flags & (PODSYNC_OPENED_FALLBACK | PODSYNC_OPENED_CREATED) || oi.skipped_status != 0)
            FAIL("open flags %x, skipped %s: a checkpoint did not verify after a kill", oi.flags,
                 podsync_status_name(oi.skipped_status));
        if (si.state_version != oi.restored_version || si.stream_id != c.stream_id || !si.durable || si.log_failed ||
            si.role != PODSYNC_ROLE_WRITER || si.term != oi.term)
            FAIL("restored info: version %" PRIu64 " (open_info %" PRIu64 "), stream %" PRIx64 ", durable %u, "
                 "log_failed %u, role %u, term %" PRIu64 " (open_info %" PRIu64 ")",
                 si.state_version, oi.restored_version, si.stream_id, si.durable, si.log_failed, si.role, si.term,
                 oi.term);
        if (oi.checkpoint_version > oi.restored_version)
            FAIL("checkpoint version %" PRIu64 " above the restored %" PRIu64, oi.checkpoint_version, oi.restored_version);
        uint64_t v = oi.restored_version;
        if (v == last) {
            if (d != c.digest_at[last])
                FAIL("restored version %" PRIu64 " with digest %016" PRIx64 ", the writer handed out %016" PRIx64, v, d,
                     c.digest_at[last]);
        } else if (v == last + 1) {
            c.one_beyond++;
            uint64_t next = replay_next(&c);
            if (d != next)
                FAIL("restored version %" PRIu64 " (one beyond the last received) with digest %016" PRIx64
                     ", the child's next batch gives %016" PRIx64,
                     v, d, next);
            set_digest(&c, v, d);
        } else {
            FAIL("restored version %" PRIu64 " (checkpoint %" PRIu64 ", %" PRIu64 " log frames, %" PRIu64
                 " bytes dropped); the last version handed out was %" PRIu64,
                 v, oi.checkpoint_version, oi.log_frames, oi.dropped_bytes, last);
            break;
        }
        if (policy == PODSYNC_LOG_EVERY_FRAME) {
            if (oi.term != c.term || (oi.flags & PODSYNC_OPENED_NEW_TERM))
                FAIL("EVERY_FRAME: reopened in term %" PRIu64 " (flags %x, %" PRIu64 " bytes dropped), the writer's was %" PRIu64,
                     oi.term, oi.flags, oi.dropped_bytes, c.term);
        } else {
            if (oi.term <= c.term || !(oi.flags & PODSYNC_OPENED_NEW_TERM))
                FAIL("OS: reopened in term %" PRIu64 " (flags %x), expected a new term above %" PRIu64, oi.term, oi.flags,
                     c.term);
        }
        if (getenv("DURABILITY_CRASH_TRACE"))
            fprintf(stderr, "trace %s round %d: opened %d flushed %u last %" PRIu64 " -> restored %" PRIu64
                    " checkpoint %" PRIu64 " log_frames %" PRIu64 " dropped %" PRIu64 " flags %x term %" PRIu64 " -> %" PRIu64 "\n",
                    policy_name, round_no, c.opened, c.flushed, last, v, oi.checkpoint_version, oi.log_frames,
                    oi.dropped_bytes, oi.flags, c.term, oi.term);
        c.term = oi.term;
        c.top = v; /* a new term may reach the versions above with other contents */
        c.round_start = v;
        c.fallback_free_opens++;
        rebuild_mirror(&c, s, d);
        podsync_store_free(s);
    }

    podsync_store_free(c.mirror);
    free(c.digest_at);
    clear_dir(scratch);
    rmdir(scratch);
    clear_dir(dir);
    rmdir(dir);
    rmdir(base);
    int bad = failures != failures_before;
    printf("durability_crash: %s: %s: %d kills (%lu during the child's open, %lu restored one version beyond the "
           "last received), %lu flushes reported, newest version %" PRIu64 ", term %" PRIu64
           ", %lu checkpoint files verified alone, %.1f s\n",
           policy_name, bad ? "FAILED" : "ok", round_no, c.kills_in_open, c.one_beyond, c.versions, c.max_version, c.term,
           c.checkpoints_checked, now_s() - t0);
    return bad;
}

int main(int argc, char **argv) {
    int rounds = 200;
    uint64_t seed = 20240606;
    uint32_t policies[4];
    int npol = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "every-frame") == 0 && npol < 4) {
            policies[npol++] = PODSYNC_LOG_EVERY_FRAME;
        } else if (strcmp(argv[i], "os") == 0 && npol < 4) {
            policies[npol++] = PODSYNC_LOG_OS;
        } else {
            fprintf(stderr, "usage: durability_crash [--rounds N] [--seed S] [every-frame] [os]\n");
            return 2;
        }
    }
    if (npol == 0) {
        policies[npol++] = PODSYNC_LOG_EVERY_FRAME;
        policies[npol++] = PODSYNC_LOG_OS;
    }
    int bad = 0;
    for (int i = 0; i < npol; i++) bad |= run_policy(policies[i], rounds, seed);
    return bad ? 1 : 0;
}
