/*
 * nats_bench.c — PodSync over its NATS JetStream carrier (include/podsync_nats.h) side by side with
 * what a user would otherwise build on NATS alone (a JetStream KV bucket, one key per entity), in
 * one run, against one nats-server this program starts on loopback (Tests/c/nats_harness.h, plus
 * an HTTP monitor port for /varz).
 *
 * Workload (both systems, same seed, same changes): E entities of 40 B, the suite's entity40
 *   { u64 id, f32 pos[3], f32 rot[4], u32 flags }
 * Every tick, at H Hz for S seconds, C distinct random entities (default 1% of E) drift (positions
 * move by up to +-0.05; one in 16 gets new flags). A KV value is the entity with the tick that
 * last changed it in place of the flags (the watcher needs it to know when a tick is complete;
 * KV's cost does not depend on the bytes of a value, only on its size, 40 B either way);
 * PodSync's records are the entities as they are, or, with --same-records, exactly the KV values
 * (the tick costs PodSync about one byte per change).
 *
 *   podsync  one writer store (zstd level L, all transforms) + podsync_nats_publisher: puts the
 *            tick's changes, then podsync_nats_publisher_flush (one frame per tick). F followers,
 *            each a replica store + podsync_nats_follower in its own thread, polling.
 *   kv       js_CreateKeyValue (history 1), key = entity index in decimal; the writer
 *            kvStore_Put's each changed entity (C puts per tick; --kv-put async: js_PublishAsync
 *            on $KV.<bucket>.<key> and one js_PublishAsyncComplete per tick). F watchers
 *            (kvStore_WatchAll), one per thread, each copying updates into its own array.
 *
 * Measured over the run window (after every follower has bootstrapped, until every follower has
 * caught up with the writer's last tick or the drain limit passed):
 *   latency  per follower and tick: from the writer's stamp of the tick (podsync: flush start;
 *            kv: just before the tick's first put) to the moment the follower holds it (podsync:
 *            its store reached the tick's version after a poll; kv: it received all C updates of
 *            the tick, known from the tick number in the value). Also from the tick's scheduled
 *            time, which adds how late the writer started the tick.
 *   bytes    the server's /varz in_bytes + out_bytes (message headers + payloads as the server
 *            counts them, every connection, JetStream's own acks included), TCP payload bytes of
 *            every client connection in both directions (TCP_INFO), and for podsync the frame
 *            bytes the publisher had acknowledged times (1 + F).
 *   engine   podsync: the stores' own apply / flush durations (podsync_store_metrics histograms),
 *            to tell engine pauses from transport delays.
 *   CPU      per follower: its thread (CLOCK_THREAD_CPUTIME_ID) plus the libnats threads of its
 *            connection (read loop, flusher, reply dispatcher: the threads that appeared while it
 *            connected and subscribed, read through their per-thread CPU clocks); the writer the
 *            same way; nats-server (/proc/<pid>/stat); the whole process.
 * A kv watcher is done when it has seen the bucket's last revision; ticks it never completes (an
 * update replaced by a newer put of its key before the watcher read it) are counted apart.
 * At the end every podsync follower's version and digest must equal the writer's (exit 1 if not),
 * and every kv follower's array must equal the writer's (reported; exit 1 with --strict-kv).
 *
 * usage: nats_bench [--seconds S] [--followers F] [--entities E] [--changes C] [--hz H]
 *                   [--level L] [--kv-put put|async] [--memory] [--only podsync|kv]
 *                   [--warmup SECONDS] [--drain SECONDS] [--seed N] [--smoke] [--verbose]
 *                   [--strict-kv] [--same-records] [--command TEXT]
 *   defaults: S 5, F 10, E 100000, C E/100, H 60, L 1, kv-put put, file storage, warm-up 0.5 s,
 *   drain 15 s; --smoke: S 1, F 2, E 10000, warm-up 0.25 s, drain 5 s.
 * Before the window, each system runs warmup_s of ticks on schedule (at least one) that its
 * followers apply but that are not measured (the first ticks after a bootstrap pay one-time costs).
 * Exit status: 0; 1 if a podsync follower did not converge (or a kv follower, with --strict-kv);
 * 2 on a setup error. Built and run by benchmarks/run-nats.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "nats_harness.h"
#pragma GCC diagnostic pop
#include <linux/tcp.h>

#include "podsync.h"
#include "podsync_nats.h"
#include <nats/nats.h>

/* ---------------------------------------------------------------------------------------------- */
/* Configuration                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

typedef struct entity {
    uint64_t id;
    float pos[3];
    float rot[4];
    uint32_t flags; /* the state's flags; in a KV value (and with --same-records in PodSync's
                       records too): the tick that last changed the entity, INITIAL_TICK if none */
} entity;
typedef char entity_is_40_bytes[(sizeof(entity) == 40) ? 1 : -1];

#define TABLE 1u
#define INITIAL_TICK UINT32_MAX
#define WARMUP_TICK 0xFFFFF000u /* warm-up ticks: WARMUP_TICK + w (never counted) */
#define MAX_WARMUP_TICKS 1024
#define MAX_FOLLOWERS 64
#define MAX_CONN_TIDS 32
#define KV_BUCKET "PODSYNC_BENCH"
#define STREAM "podsync_bench"

static struct {
    double seconds;
    int followers;
    size_t entities;
    size_t changes;
    double hz;
    int level;
    int kv_async;
    int memory;
    int run_podsync, run_kv;
    double drain_s;
    double warmup_s;
    uint64_t seed;
    int smoke;
    int verbose;
    int strict_kv;
    int same_records;
    const char *command;
} cfg = {5.0, 10, 100000, 0, 60.0, 1, 0, 0, 1, 1, 15.0, 0.5, 20261206, 0, 0, 0, 0, NULL};

static size_t ticks_planned; /* seconds * hz */

/* ---------------------------------------------------------------------------------------------- */
/* Small helpers                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until_ns(uint64_t t) {
    struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* The CPU clock of any thread of this process by its kernel thread id (what glibc's
   pthread_getcpuclockid computes for a pthread_t): MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED). */
static clockid_t tid_clock(pid_t tid) { return (clockid_t)(((unsigned int)~tid) << 3) | 6; }

static uint64_t tids_cpu_ns(const pid_t *tids, int n) {
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) sum += clock_ns(tid_clock(tids[i]));
    return sum;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float unit(uint64_t *s) { return (float)((splitmix(s) >> 40) * (1.0 / 16777216.0)); }

static void die(const char *what, const char *detail) {
    fprintf(stderr, "nats_bench: %s%s%s\n", what, detail && *detail ? ": " : "", detail ? detail : "");
    exit(2);
}

#define PS_OK(call, errmsg) do { int32_t st_ = (call); if (st_ < 0) { char b_[512]; \
    snprintf(b_, sizeof b_, "%s = %s: %s", #call, podsync_nats_status_name(st_), (errmsg)); die(b_, NULL); } } while (0)
#define NATS_OK_(call) do { natsStatus s_ = (call); if (s_ != NATS_OK) { char b_[512]; \
    snprintf(b_, sizeof b_, "%s = %s", #call, natsStatus_GetText(s_)); die(b_, nats_GetLastError(NULL)); } } while (0)

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in ms. */
static double pct_ms(const uint64_t *sorted, size_t n, double q) {
    if (n == 0) return NAN;
    size_t r = (size_t)ceil(q * (double)n);
    if (r < 1) r = 1;
    if (r > n) r = n;
    return (double)sorted[r - 1] / 1e6;
}

static uint64_t fnv1a(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

/* ---------------------------------------------------------------------------------------------- */
/* The server: nats-server on loopback with JetStream and an HTTP monitor port                    */
/* ---------------------------------------------------------------------------------------------- */

static int monitor_port;
static pid_t bench_pid;

static void server_stop(void) {
    if (getpid() == bench_pid) nats_stop_all();
}

static void on_signal(int sig) {
    server_stop();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* nats_setup(1) of the harness, with "-m <monitor port>" (which binds where `listen` does:
   127.0.0.1), and the server killed if this process dies (PR_SET_PDEATHSIG). */
static const char *server_start(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(nats_root, sizeof nats_root, "%s/podsync-nats-bench-XXXXXX", tmp && *tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    if (!mkdtemp(nats_root)) { perror("mkdtemp"); exit(2); }
    nats_server_count = 1;
    nats_server *s = &nats_servers[0];
    s->port = nats_free_port();
    s->cluster_port = 0;
    monitor_port = nats_free_port();
    while (monitor_port == s->port) monitor_port = nats_free_port();
    snprintf(s->name, sizeof s->name, "n1");
    snprintf(s->dir, sizeof s->dir, "%s/%s", nats_root, s->name);
    snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", s->port);
    char config[512], log[400], mport[16];
    snprintf(config, sizeof config, "%s/n1.conf", nats_root);
    snprintf(log, sizeof log, "%s/n1.log", nats_root);
    snprintf(mport, sizeof mport, "%d", monitor_port);
    FILE *f = fopen(config, "w");
    if (!f) { perror(config); exit(2); }
    fprintf(f, "server_name: n1\nlisten: 127.0.0.1:%d\njetstream { store_dir: \"%s\" }\n", s->port, s->dir);
    fclose(f);
    bench_pid = getpid();
    atexit(server_stop);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
        execlp("nats-server", "nats-server", "-c", config, "-m", mport, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int t = 0; t < 400; t++) {
        if (nats_port_open(s->port) && nats_port_open(monitor_port)) return s->url;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            fprintf(stderr, "nats-server exited at start (see %s; is nats-server installed?)\n", log);
            exit(2);
        }
        nats_sleep_ms(25);
    }
    fprintf(stderr, "nats-server did not listen on %d/%d in 10 s\n", s->port, monitor_port);
    exit(2);
}

/* GET http://127.0.0.1:<monitor_port><path> into buf (the body), a tiny HTTP/1.0 client. */
static size_t http_get(const char *path, char *buf, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)monitor_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("cannot reach the monitor port", strerror(errno));
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) die("monitor request", strerror(errno));
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        if (len >= cap - 1) break;
    }
    close(fd);
    buf[len] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (!body || strncmp(buf, "HTTP/1.", 7) != 0 || !strstr(buf, " 200 ")) die("monitor answered badly", buf);
    body += 4;
    size_t blen = len - (size_t)(body - buf);
    memmove(buf, body, blen + 1);
    return blen;
}

static uint64_t json_u64(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) die("varz has no field", key);
    p = strchr(p + strlen(pat), ':');
    if (!p) die("varz field without a value", key);
    return strtoull(p + 1, NULL, 10);
}

typedef struct varz {
    uint64_t in_bytes, out_bytes, in_msgs, out_msgs;
} varz;

static varz varz_read(void) {
    static char buf[1 << 16];
    http_get("/varz", buf, sizeof buf);
    varz v = {json_u64(buf, "in_bytes"), json_u64(buf, "out_bytes"), json_u64(buf, "in_msgs"), json_u64(buf, "out_msgs")};
    return v;
}

/* nats-server's CPU (user + system, all its threads), ns. */
static uint64_t server_cpu_ns(void) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)nats_servers[0].pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    unsigned long long utime = 0, stime = 0;
    /* after ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return 0;
    return (utime + stime) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* CPU time the whole machine spent busy (all processes, user + system + irq + softirq + steal),
   ns; *softirq_ns (may be NULL) gets the irq + softirq part (loopback networking is mostly there,
   charged to no process). */
static uint64_t machine_busy_ns2(uint64_t *softirq_ns) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8) return 0;
    /* user nice system idle iowait irq softirq steal */
    uint64_t tick = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
    if (softirq_ns) *softirq_ns = (v[5] + v[6]) * tick;
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * tick;
}

/* TCP payload bytes (sent and acknowledged + received) of every socket of this process connected
   to the server's client port: all client connections' wire bytes, both directions. */
static uint64_t socket_bytes(void) {
    uint64_t sum = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        int fd = atoi(e->d_name);
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0 || peer.sin_family != AF_INET) continue;
        if (ntohs(peer.sin_port) != nats_servers[0].port) continue;
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        memset(&ti, 0, sizeof ti);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0) continue;
        sum += ti.tcpi_bytes_acked + ti.tcpi_bytes_received;
    }
    closedir(d);
    return sum;
}

/* ---------------------------------------------------------------------------------------------- */
/* Thread attribution: which libnats threads belong to which connection                           */
/* ---------------------------------------------------------------------------------------------- */

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

static int list_tids(pid_t *out, int cap) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap)
        if (isdigit((unsigned char)e->d_name[0])) out[n++] = (pid_t)atoi(e->d_name);
    closedir(d);
    return n;
}

typedef struct tid_set {
    pid_t before[1024];
    int nbefore;
} tid_set;

static void attach_begin(tid_set *t) {
    pthread_mutex_lock(&attach_lock);
    t->nbefore = list_tids(t->before, 1024);
}

/* The threads that appeared since attach_begin (the connection's), into out. */
static int attach_end(tid_set *t, pid_t *out, int cap) {
    pid_t after[1024];
    int nafter = list_tids(after, 1024), n = 0;
    for (int i = 0; i < nafter; i++) {
        int seen = 0;
        for (int j = 0; j < t->nbefore && !seen; j++) seen = after[i] == t->before[j];
        if (!seen && n < cap) out[n++] = after[i];
    }
    if (getenv("NATS_BENCH_DEBUG_THREADS")) {
        fprintf(stderr, "attach by %d:", (int)gettid_());
        for (int i = 0; i < n; i++) fprintf(stderr, " %d", (int)out[i]);
        fprintf(stderr, "\n");
    }
    pthread_mutex_unlock(&attach_lock);
    return n;
}

/* ---------------------------------------------------------------------------------------------- */
/* The workload                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

static entity *truth;        /* the writer's state */
static uint32_t *last_tick;  /* per entity: the tick that last changed it */
static uint32_t *perm;       /* for picking distinct entities */
static uint32_t *changed;    /* this tick's entities */
static uint64_t rng;

static void world_init(void) {
    rng = cfg.seed;
    for (size_t i = 0; i < cfg.entities; i++) {
        uint64_t idseed = i;
        entity *e = &truth[i];
        e->id = splitmix(&idseed);
        for (int j = 0; j < 3; j++) e->pos[j] = unit(&rng) * 1000.0f;
        float q[4], norm = 0;
        for (int j = 0; j < 4; j++) { q[j] = unit(&rng) * 2 - 1; norm += q[j] * q[j]; }
        norm = sqrtf(norm) + 1e-6f;
        for (int j = 0; j < 4; j++) e->rot[j] = q[j] / norm;
        e->flags = (uint32_t)(splitmix(&rng) % 16);
        last_tick[i] = INITIAL_TICK;
        perm[i] = (uint32_t)i;
    }
}

/* Tick t: C distinct random entities drift; their indices in changed[]. */
static void world_tick(uint32_t t) {
    size_t n = cfg.entities;
    for (size_t i = 0; i < cfg.changes; i++) {
        size_t j = i + (size_t)(splitmix(&rng) % (n - i));
        uint32_t x = perm[i]; perm[i] = perm[j]; perm[j] = x;
        entity *e = &truth[perm[i]];
        for (int k = 0; k < 3; k++) e->pos[k] += (unit(&rng) - 0.5f) * 0.1f;
        if (splitmix(&rng) % 16 == 0) e->flags = (uint32_t)(splitmix(&rng) % 16);
        last_tick[perm[i]] = t;
        changed[i] = perm[i];
    }
}

/* Entity i as a system sends it: the state, or with the tick in place of the flags (a KV value,
   which needs it for the latency; PodSync's records with --same-records). */
static void record_of(size_t i, int with_tick, entity *out) {
    *out = truth[i];
    if (with_tick) out->flags = last_tick[i];
}

static const entity *ps_record(size_t i) {
    static entity scratch; /* the writer's thread only */
    record_of(i, cfg.same_records, &scratch);
    return &scratch;
}

static const entity *kv_record(size_t i) {
    static entity scratch; /* the writer's thread only */
    record_of(i, 1, &scratch);
    return &scratch;
}

/* ---------------------------------------------------------------------------------------------- */
/* Results                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

typedef struct follower_result {
    uint64_t *lat;          /* from the writer's stamp, ns, one per tick reached */
    uint64_t *lat_sched;    /* from the tick's scheduled time */
    size_t nlat;
    uint64_t cpu_thread_ns; /* the follower's own thread over the window */
    uint64_t cpu_conn_ns;   /* its connection's libnats threads */
    int nconn_tids;
    pid_t conn_tids[MAX_CONN_TIDS];
    double bootstrap_ms;
    double busy_s;          /* window start to caught up */
    int converged;
    uint64_t version, digest;
    uint64_t received;      /* kv: updates received in the window */
    size_t incomplete;      /* kv: ticks never complete */
    uint64_t transient_errors;
    uint64_t apply_hist[PODSYNC_METRICS_BUCKETS]; /* podsync: the replica's apply durations in the window (log2 ns) */
    char note[256];
    pid_t tid;
} follower_result;

typedef struct phase_result {
    const char *name;
    int ran;
    size_t ticks_done;
    double window_s;        /* start of the first tick .. every follower done */
    double writer_s;        /* start of the first tick .. end of the last */
    double max_late_ms;
    uint64_t writer_cpu_ns, writer_conn_cpu_ns;
    int writer_conn_tids;
    uint64_t server_cpu_ns, process_cpu_ns, machine_busy_ns, machine_irq_ns;
    varz v0, v1;
    uint64_t sock_bytes;
    uint64_t frame_bytes;   /* podsync: bytes_published delta */
    uint64_t frames;
    uint64_t snapshots;
    size_t warmup_ticks;
    uint64_t kv_updates;    /* kv: updates written in the window */
    uint64_t writer_errors; /* podsync: flushes that failed; kv: puts that failed */
    uint64_t encode_hist[PODSYNC_METRICS_BUCKETS]; /* podsync: the writer's flush (encode) durations in the window */
    uint64_t *tick_cost_ns; /* writer: flush (podsync) or the puts (kv) per tick */
    uint64_t *all_lat, *all_lat_sched;
    size_t nall;
    size_t incomplete;      /* follower-ticks never completed */
    int converged_all;
    uint64_t writer_digest, writer_version;
    double bootstrap_ms_max;
    double setup_s;
    follower_result f[MAX_FOLLOWERS];
} phase_result;

static phase_result R_ps = {.name = "PodSync"}, R_kv = {.name = "NATS KV"};

/* Shared between the writer and the followers of a phase. */
static _Atomic uint64_t *stamp;        /* per tick: the writer's stamp (0: not yet) */
static uint64_t *sched;                 /* per tick: scheduled start */
static _Atomic uint64_t final_mark;     /* podsync: final version; kv: the last revision; 0: running */
static _Atomic int abort_drain;
static _Atomic uint64_t warm_mark;      /* podsync: version after the warm-up; kv: the revision after it; 0: warming up */
static pthread_barrier_t bar_ready, bar_done;
static pthread_barrier_t bar_go, bar_release, bar_boot;
static uint64_t drain_deadline_ns;      /* set with final_mark */
static uint64_t window_start_ns;

static void tick_schedule(uint64_t start) {
    uint64_t period = (uint64_t)(1e9 / cfg.hz);
    for (size_t i = 0; i < ticks_planned; i++) sched[i] = start + i * period;
}

/* ---------------------------------------------------------------------------------------------- */
/* PodSync over the carrier                                                                       */
/* ---------------------------------------------------------------------------------------------- */

static podsync_schema *schema;
static const char *url;
static uint64_t ps_base_version; /* the writer's version before the first tick */

static podsync_schema *make_schema(void) {
    static const podsync_field fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    podsync_schema *s = NULL;
    PS_OK(podsync_schema_create(&s), podsync_last_errmsg());
    PS_OK(podsync_schema_add_table(s, TABLE, sizeof(entity), 8, fields, 4), podsync_schema_errmsg(s));
    return s;
}

static uint64_t version_of(const podsync_store *s) {
    podsync_store_info i = PODSYNC_STORE_INFO_INIT;
    PS_OK(podsync_store_info_get(s, &i), podsync_store_errmsg(s));
    return i.state_version;
}

static uint64_t digest_of(const podsync_store *s) {
    uint64_t d = 0;
    PS_OK(podsync_store_digest(s, &d), podsync_store_errmsg(s));
    return d;
}

static void metrics_hist(const podsync_store *s, int apply, uint64_t *out) {
    podsync_metrics m;
    memset(&m, 0, sizeof m);
    m.version = PODSYNC_METRICS_VERSION;
    PS_OK(podsync_store_metrics(s, &m), podsync_store_errmsg(s));
    memcpy(out, apply ? m.apply_ns : m.encode_ns, sizeof m.apply_ns);
}

static podsync_nats_options carrier_options(const char *name) {
    podsync_nats_options o = PODSYNC_NATS_OPTIONS_INIT;
    o.storage = cfg.memory ? PODSYNC_NATS_STORAGE_MEMORY : PODSYNC_NATS_STORAGE_FILE;
    o.client_name = name;
    return o;
}

static int transient(int32_t st) {
    return st == PODSYNC_NATS_E_CONNECTION || st == PODSYNC_NATS_E_TIMEOUT;
}

static void *ps_follower(void *arg) {
    follower_result *r = arg;
    r->tid = gettid_();
    int index = (int)(r - R_ps.f);
    char name[32];
    snprintf(name, sizeof name, "bench-follower-%d", index);
    podsync_store_options so = PODSYNC_STORE_OPTIONS_INIT;
    podsync_store *store = NULL;
    PS_OK(podsync_store_create(schema, PODSYNC_ROLE_REPLICA, &so, &store), podsync_last_errmsg());
    podsync_nats_options o = carrier_options(name);

    /* Connect and take the snapshot, with the threads that appear meanwhile counted as this
       follower's. */
    uint64_t t0 = now_ns();
    tid_set ts;
    attach_begin(&ts);
    podsync_nats_follower *f = NULL;
    PS_OK(podsync_nats_follower_create(store, url, STREAM, &o, &f), podsync_nats_last_errmsg());
    size_t applied = 0;
    int32_t st = podsync_nats_follower_poll(f, 0, &applied);
    if (st < 0 && !transient(st)) PS_OK(st, podsync_nats_follower_errmsg(f));
    r->nconn_tids = attach_end(&ts, r->conn_tids, MAX_CONN_TIDS);
    uint64_t target = ps_base_version;
    while (version_of(store) < target) {
        if (now_ns() - t0 > 60ull * 1000000000ull) die("a podsync follower did not bootstrap in 60 s", podsync_nats_follower_errmsg(f));
        st = podsync_nats_follower_poll(f, 50, &applied);
        if (st < 0 && !transient(st)) PS_OK(st, podsync_nats_follower_errmsg(f));
    }
    r->bootstrap_ms = (double)(now_ns() - t0) / 1e6;

    /* The warm-up ticks (not measured): follow them until the writer's version after them. */
    pthread_barrier_wait(&bar_boot);
    for (;;) {
        uint64_t warm = atomic_load_explicit(&warm_mark, memory_order_acquire);
        if (warm && version_of(store) >= warm) break;
        if (now_ns() - t0 > 120ull * 1000000000ull) die("a podsync follower did not follow the warm-up in 120 s", podsync_nats_follower_errmsg(f));
        st = podsync_nats_follower_poll(f, 20, &applied);
        if (st < 0 && !transient(st)) PS_OK(st, podsync_nats_follower_errmsg(f));
    }

    uint64_t hist0[PODSYNC_METRICS_BUCKETS];
    metrics_hist(store, 1, hist0);
    uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), conn0 = tids_cpu_ns(r->conn_tids, r->nconn_tids);
    pthread_barrier_wait(&bar_ready);
    pthread_barrier_wait(&bar_go);

    /* The run: poll; after each poll, every version newly reached is a tick applied. */
    uint64_t reached = version_of(store);
    size_t cap = ticks_planned;
    for (;;) {
        st = podsync_nats_follower_poll(f, 20, &applied);
        uint64_t now = now_ns();
        if (st < 0) {
            if (transient(st)) r->transient_errors++;
            else snprintf(r->note, sizeof r->note, "poll: %s: %s", podsync_nats_status_name(st), podsync_nats_follower_errmsg(f));
        }
        uint64_t v = version_of(store);
        for (uint64_t u = reached + 1; u <= v; u++) {
            uint64_t tick = u - ps_base_version - 1;
            if (tick >= cap) continue;
            uint64_t s = atomic_load_explicit(&stamp[tick], memory_order_acquire);
            if (s == 0 || r->nlat >= cap) continue;
            r->lat[r->nlat] = now - s;
            r->lat_sched[r->nlat] = now > sched[tick] ? now - sched[tick] : 0;
            r->nlat++;
        }
        if (v > reached) reached = v;
        uint64_t fin = atomic_load_explicit(&final_mark, memory_order_acquire);
        if (fin && reached >= fin) break;
        if (fin && (now > drain_deadline_ns || atomic_load(&abort_drain))) {
            snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note), "%sdrain limit: at version %" PRIu64 " of %" PRIu64,
                     r->note[0] ? "; " : "", reached, fin);
            break;
        }
    }
    r->busy_s = (double)(now_ns() - window_start_ns) / 1e9;
    r->cpu_thread_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    r->cpu_conn_ns = tids_cpu_ns(r->conn_tids, r->nconn_tids) - conn0;
    r->version = version_of(store);
    r->digest = digest_of(store);
    metrics_hist(store, 1, r->apply_hist);
    for (int b = 0; b < PODSYNC_METRICS_BUCKETS; b++) r->apply_hist[b] -= hist0[b];
    podsync_nats_follower_stats fs = PODSYNC_NATS_FOLLOWER_STATS_INIT;
    PS_OK(podsync_nats_follower_stats_get(f, &fs), podsync_nats_follower_errmsg(f));
    if (fs.rejected || fs.gaps_repaired || fs.snapshots_taken > 1)
        snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note), "%s%" PRIu64 " rejected, %" PRIu64 " gaps repaired, %" PRIu64 " snapshots",
                 r->note[0] ? "; " : "", fs.rejected, fs.gaps_repaired, fs.snapshots_taken);
    pthread_barrier_wait(&bar_done);
    pthread_barrier_wait(&bar_release);
    podsync_nats_follower_free(f);
    podsync_store_free(store);
    return NULL;
}

static void run_podsync(void) {
    phase_result *R = &R_ps;
    R->ran = 1;
    uint64_t setup0 = now_ns();
    world_init();
    schema = make_schema();
    podsync_store_options wo = PODSYNC_STORE_OPTIONS_INIT;
    wo.compression_level = cfg.level;
    wo.stream_id = 0x5EED0000C0DEull;
    wo.max_frame_bytes = 512 * 1024; /* below the server's max_payload less 4 KiB */
    podsync_store *w = NULL;
    PS_OK(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &wo, &w), podsync_last_errmsg());
    for (size_t i = 0; i < cfg.entities; i++)
        PS_OK(podsync_store_put(w, TABLE, i, ps_record(i), sizeof(entity)), podsync_store_errmsg(w));
    size_t nframes = 0;
    PS_OK(podsync_store_flush(w, &nframes), podsync_store_errmsg(w));

    podsync_nats_options o = carrier_options("bench-writer");
    tid_set ts;
    attach_begin(&ts);
    podsync_nats_publisher *p = NULL;
    PS_OK(podsync_nats_publisher_create(w, url, STREAM, &o, &p), podsync_nats_last_errmsg());
    pid_t wtids[MAX_CONN_TIDS];
    int nw = attach_end(&ts, wtids, MAX_CONN_TIDS);
    R->writer_conn_tids = nw;
    ps_base_version = version_of(w);

    /* The follower threads all exist before any of them connects (attach_lock), so that none of
       them is taken for a connection's thread. */
    pthread_t th[MAX_FOLLOWERS];
    pthread_mutex_lock(&attach_lock);
    for (int i = 0; i < cfg.followers; i++)
        if (pthread_create(&th[i], NULL, ps_follower, &R->f[i]) != 0) die("pthread_create", strerror(errno));
    pthread_mutex_unlock(&attach_lock);
    pthread_barrier_wait(&bar_boot);
    /* Warm-up: ticks on schedule for warmup_s (at least one), followed but not measured. */
    uint64_t period = (uint64_t)(1e9 / cfg.hz), w0 = now_ns(), wend0 = w0 + (uint64_t)(cfg.warmup_s * 1e9);
    for (size_t k = 0; k < MAX_WARMUP_TICKS; k++) {
        uint64_t at = w0 + k * period;
        if (k > 0 && (at >= wend0 || now_ns() >= wend0)) break;
        if (now_ns() < at) sleep_until_ns(at);
        world_tick(WARMUP_TICK + (uint32_t)k);
        for (size_t i = 0; i < cfg.changes; i++)
            PS_OK(podsync_store_put(w, TABLE, changed[i], ps_record(changed[i]), sizeof(entity)), podsync_store_errmsg(w));
        size_t published = 0;
        int32_t st = podsync_nats_publisher_flush(p, &published);
        if (st < 0) die("podsync_nats_publisher_flush in the warm-up", podsync_nats_publisher_errmsg(p));
        R->warmup_ticks++;
    }
    ps_base_version = version_of(w);
    atomic_store_explicit(&warm_mark, ps_base_version, memory_order_release);
    pthread_barrier_wait(&bar_ready);
    R->setup_s = (double)(now_ns() - setup0) / 1e9;

    /* The window starts. */
    podsync_nats_publisher_stats ps0 = PODSYNC_NATS_PUBLISHER_STATS_INIT, ps1 = PODSYNC_NATS_PUBLISHER_STATS_INIT;
    PS_OK(podsync_nats_publisher_stats_get(p, &ps0), podsync_nats_publisher_errmsg(p));
    R->v0 = varz_read();
    uint64_t sock0 = socket_bytes(), srv0 = server_cpu_ns(), proc0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), irq0 = 0, busy0 = machine_busy_ns2(&irq0);
    uint64_t wcpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), wconn0 = tids_cpu_ns(wtids, nw);
    uint64_t enc0[PODSYNC_METRICS_BUCKETS];
    metrics_hist(w, 0, enc0);
    uint64_t start = now_ns() + 5000000ull;
    tick_schedule(start);
    window_start_ns = start;
    uint64_t end = start + (uint64_t)(cfg.seconds * 1e9);
    pthread_barrier_wait(&bar_go);

    size_t t = 0;
    for (; t < ticks_planned; t++) {
        if (now_ns() < sched[t]) sleep_until_ns(sched[t]);
        uint64_t late = now_ns() - sched[t];
        if ((double)late / 1e6 > R->max_late_ms) R->max_late_ms = (double)late / 1e6;
        if (now_ns() >= end) break;
        world_tick((uint32_t)t);
        for (size_t i = 0; i < cfg.changes; i++)
            PS_OK(podsync_store_put(w, TABLE, changed[i], ps_record(changed[i]), sizeof(entity)), podsync_store_errmsg(w));
        uint64_t before = version_of(w);
        uint64_t s = now_ns();
        atomic_store_explicit(&stamp[t], s, memory_order_release); /* the version before+1 is tick t */
        size_t published = 0;
        int32_t st = podsync_nats_publisher_flush(p, &published);
        R->tick_cost_ns[t] = now_ns() - s;
        if (st < 0) {
            fprintf(stderr, "nats_bench: podsync_nats_publisher_flush at tick %zu: %s: %s\n", t, podsync_nats_status_name(st),
                    podsync_nats_publisher_errmsg(p));
            R->writer_errors++;
            if (!transient(st)) exit(2);
        }
        if (version_of(w) != before + 1) die("a flush did not produce exactly one version", NULL);
    }
    R->ticks_done = t;
    uint64_t wend = now_ns();
    R->writer_s = (double)(wend - start) / 1e9;
    R->writer_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - wcpu0;
    R->writer_conn_cpu_ns = tids_cpu_ns(wtids, nw) - wconn0;
    R->writer_version = version_of(w);
    R->writer_digest = digest_of(w);
    metrics_hist(w, 0, R->encode_hist);
    for (int b = 0; b < PODSYNC_METRICS_BUCKETS; b++) R->encode_hist[b] -= enc0[b];
    drain_deadline_ns = wend + (uint64_t)(cfg.drain_s * 1e9);
    atomic_store_explicit(&final_mark, R->writer_version, memory_order_release);

    pthread_barrier_wait(&bar_done);
    R->window_s = (double)(now_ns() - start) / 1e9;
    R->v1 = varz_read();
    R->sock_bytes = socket_bytes() - sock0;
    R->server_cpu_ns = server_cpu_ns() - srv0;
    R->process_cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - proc0;
    uint64_t irq1 = 0;
    R->machine_busy_ns = machine_busy_ns2(&irq1) - busy0;
    R->machine_irq_ns = irq1 - irq0;
    PS_OK(podsync_nats_publisher_stats_get(p, &ps1), podsync_nats_publisher_errmsg(p));
    R->frame_bytes = ps1.bytes_published - ps0.bytes_published;
    R->frames = ps1.frames_published - ps0.frames_published;
    R->snapshots = ps1.snapshots_published - ps0.snapshots_published;
    pthread_barrier_wait(&bar_release);
    for (int i = 0; i < cfg.followers; i++) pthread_join(th[i], NULL);
    R->converged_all = 1;
    for (int i = 0; i < cfg.followers; i++) {
        follower_result *r = &R->f[i];
        r->converged = r->version == R->writer_version && r->digest == R->writer_digest;
        if (!r->converged) R->converged_all = 0;
    }
    podsync_nats_publisher_free(p);
    podsync_store_free(w);
    podsync_schema_free(schema);
}

/* ---------------------------------------------------------------------------------------------- */
/* NATS KV alone                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

static void kv_connect(const char *name, natsConnection **nc, jsCtx **js) {
    natsOptions *opts = NULL;
    NATS_OK_(natsOptions_Create(&opts));
    NATS_OK_(natsOptions_SetURL(opts, url));
    NATS_OK_(natsOptions_SetName(opts, name));
    NATS_OK_(natsOptions_SetTimeout(opts, 5000));
    NATS_OK_(natsConnection_Connect(nc, opts));
    natsOptions_Destroy(opts);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jo.PublishAsync.MaxPending = 4096;
    NATS_OK_(natsConnection_JetStream(js, *nc, &jo));
}

/* The bucket stream's last sequence: the revision of the newest update (every put before it is
   acknowledged by then). */
static uint64_t kv_last_revision(jsCtx *js) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    NATS_OK_(js_GetStreamInfo(&si, js, "KV_" KV_BUCKET, NULL, &jerr));
    uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return last;
}

static int apply_entry(kvEntry *e, entity *local, follower_result *r, uint16_t *count, int counting) {
    const char *key = kvEntry_Key(e);
    char *endp = NULL;
    unsigned long idx = strtoul(key, &endp, 10);
    if (!endp || *endp || idx >= cfg.entities || kvEntry_ValueLen(e) != (int)sizeof(entity)) {
        snprintf(r->note, sizeof r->note, "unexpected entry %s (%d bytes)", key, kvEntry_ValueLen(e));
        return 0;
    }
    memcpy(&local[idx], kvEntry_Value(e), sizeof(entity));
    if (!counting) return 1;
    uint32_t tick = local[idx].flags; /* the tick, in a KV value */
    r->received++;
    if (tick < ticks_planned && ++count[tick] == cfg.changes) {
        uint64_t now = now_ns();
        uint64_t s = atomic_load_explicit(&stamp[tick], memory_order_acquire);
        if (s && r->nlat < ticks_planned) {
            r->lat[r->nlat] = now - s;
            r->lat_sched[r->nlat] = now > sched[tick] ? now - sched[tick] : 0;
            r->nlat++;
        }
    }
    return 1;
}

static void *kv_follower(void *arg) {
    follower_result *r = arg;
    r->tid = gettid_();
    int index = (int)(r - R_kv.f);
    char name[32];
    snprintf(name, sizeof name, "bench-watcher-%d", index);
    entity *local = calloc(cfg.entities, sizeof(entity));
    uint16_t *count = calloc(ticks_planned, sizeof(uint16_t));
    if (!local || !count) die("out of memory", NULL);

    uint64_t t0 = now_ns();
    tid_set ts;
    attach_begin(&ts);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    kv_connect(name, &nc, &js);
    kvStore *kv = NULL;
    NATS_OK_(js_KeyValue(&kv, js, KV_BUCKET));
    kvWatcher *w = NULL;
    NATS_OK_(kvStore_WatchAll(&w, kv, NULL));
    r->nconn_tids = attach_end(&ts, r->conn_tids, MAX_CONN_TIDS);
    /* The initial values, until the watcher's NULL entry. */
    size_t initial = 0;
    for (;;) {
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, w, 60000);
        if (s != NATS_OK) die("a kv watcher did not get its initial values in 60 s", natsStatus_GetText(s));
        if (!e) break;
        initial += (size_t)apply_entry(e, local, r, count, 0);
        kvEntry_Destroy(e);
    }
    if (initial != cfg.entities) die("a kv watcher got fewer initial values than entities", NULL);
    r->bootstrap_ms = (double)(now_ns() - t0) / 1e6;

    /* The warm-up ticks (not measured): every update of them. */
    pthread_barrier_wait(&bar_boot);
    uint64_t max_rev = 0;
    for (;;) {
        uint64_t warm = atomic_load_explicit(&warm_mark, memory_order_acquire);
        if (warm && max_rev >= warm) break;
        if (now_ns() - t0 > 120ull * 1000000000ull) die("a kv watcher did not follow the warm-up in 120 s", NULL);
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, w, 20);
        if (s == NATS_OK && e) {
            apply_entry(e, local, r, count, 0);
            if (kvEntry_Revision(e) > max_rev) max_rev = kvEntry_Revision(e);
            kvEntry_Destroy(e);
        } else if (s != NATS_OK && s != NATS_TIMEOUT) {
            die("kvWatcher_Next in the warm-up", natsStatus_GetText(s));
        }
    }

    uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), conn0 = tids_cpu_ns(r->conn_tids, r->nconn_tids);
    pthread_barrier_wait(&bar_ready);
    pthread_barrier_wait(&bar_go);
    for (;;) {
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, w, 20);
        if (s == NATS_OK && e) {
            apply_entry(e, local, r, count, 1);
            if (kvEntry_Revision(e) > max_rev) max_rev = kvEntry_Revision(e);
            kvEntry_Destroy(e);
        } else if (s != NATS_OK && s != NATS_TIMEOUT) {
            r->transient_errors++;
            snprintf(r->note, sizeof r->note, "kvWatcher_Next: %s", natsStatus_GetText(s));
            nats_sleep_ms(5);
        }
        /* Done when it has seen the writer's last revision (a consumer delivers in stream order). */
        uint64_t fin = atomic_load_explicit(&final_mark, memory_order_acquire);
        if (fin && max_rev >= fin) break;
        if (fin && (now_ns() > drain_deadline_ns || atomic_load(&abort_drain))) {
            snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note), "%sdrain limit: at revision %" PRIu64 " of %" PRIu64,
                     r->note[0] ? "; " : "", max_rev, fin);
            break;
        }
    }
    r->busy_s = (double)(now_ns() - window_start_ns) / 1e9;
    r->cpu_thread_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    r->cpu_conn_ns = tids_cpu_ns(r->conn_tids, r->nconn_tids) - conn0;
    for (size_t t = 0; t < R_kv.ticks_done; t++) r->incomplete += count[t] != cfg.changes;
    r->converged = 1;
    for (size_t i = 0; i < cfg.entities && r->converged; i++) {
        entity want;
        record_of(i, 1, &want);
        r->converged = memcmp(&local[i], &want, sizeof want) == 0;
    }
    r->digest = fnv1a(local, cfg.entities * sizeof(entity));
    pthread_barrier_wait(&bar_done);
    pthread_barrier_wait(&bar_release);
    kvWatcher_Destroy(w);
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    free(local);
    free(count);
    return NULL;
}

/* One tick's changes to the bucket, as configured (kvStore_Put each, or async + complete). */
static void kv_write_tick(phase_result *R, jsCtx *js, kvStore *kv, jsPubOptions *po, size_t t) {
    char subj[96], key[32];
    uint64_t rev = 0;
    for (size_t i = 0; i < cfg.changes; i++) {
        uint32_t idx = changed[i];
        if (cfg.kv_async) {
            snprintf(subj, sizeof subj, "$KV.%s.%u", KV_BUCKET, idx);
            natsStatus ps = js_PublishAsync(js, subj, kv_record(idx), (int)sizeof(entity), NULL);
            if (ps != NATS_OK && R->writer_errors++ == 0)
                fprintf(stderr, "nats_bench: js_PublishAsync at tick %zu: %s (counted; the run goes on)\n", t, natsStatus_GetText(ps));
        } else {
            snprintf(key, sizeof key, "%u", idx);
            natsStatus ps = kvStore_Put(&rev, kv, key, kv_record(idx), (int)sizeof(entity));
            if (ps != NATS_OK && R->writer_errors++ == 0)
                fprintf(stderr, "nats_bench: kvStore_Put at tick %zu: %s (counted; the run goes on)\n", t, natsStatus_GetText(ps));
        }
    }
    if (cfg.kv_async) {
        natsStatus ps = js_PublishAsyncComplete(js, po);
        if (ps != NATS_OK && R->writer_errors++ == 0)
            fprintf(stderr, "nats_bench: js_PublishAsyncComplete at tick %zu: %s (counted; the run goes on)\n", t, natsStatus_GetText(ps));
    }
}

static void run_kv(void) {
    phase_result *R = &R_kv;
    R->ran = 1;
    uint64_t setup0 = now_ns();
    world_init();
    tid_set ts;
    attach_begin(&ts);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    kv_connect("bench-kv-writer", &nc, &js);
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = KV_BUCKET;
    kc.History = 1;
    kc.StorageType = cfg.memory ? js_MemoryStorage : js_FileStorage;
    kvStore *kv = NULL;
    NATS_OK_(js_CreateKeyValue(&kv, js, &kc));
    /* The initial state, pipelined (not measured). */
    char subj[96];
    for (size_t i = 0; i < cfg.entities; i++) {
        snprintf(subj, sizeof subj, "$KV.%s.%zu", KV_BUCKET, i);
        NATS_OK_(js_PublishAsync(js, subj, kv_record(i), (int)sizeof(entity), NULL));
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    NATS_OK_(js_PublishAsyncComplete(js, &po));
    /* One synchronous put (its reply subscription is this connection's too). */
    uint64_t rev = 0;
    NATS_OK_(kvStore_Put(&rev, kv, "0", kv_record(0), (int)sizeof(entity)));
    pid_t wtids[MAX_CONN_TIDS];
    int nw = attach_end(&ts, wtids, MAX_CONN_TIDS);
    R->writer_conn_tids = nw;

    /* The follower threads all exist before any of them connects (attach_lock), so that none of
       them is taken for a connection's thread. */
    pthread_t th[MAX_FOLLOWERS];
    pthread_mutex_lock(&attach_lock);
    for (int i = 0; i < cfg.followers; i++)
        if (pthread_create(&th[i], NULL, kv_follower, &R->f[i]) != 0) die("pthread_create", strerror(errno));
    pthread_mutex_unlock(&attach_lock);
    pthread_barrier_wait(&bar_boot);
    /* Warm-up: ticks on schedule for warmup_s (at least one), followed but not measured. */
    uint64_t period = (uint64_t)(1e9 / cfg.hz), w0 = now_ns(), wend0 = w0 + (uint64_t)(cfg.warmup_s * 1e9);
    for (size_t k = 0; k < MAX_WARMUP_TICKS; k++) {
        uint64_t at = w0 + k * period;
        if (k > 0 && (at >= wend0 || now_ns() >= wend0)) break;
        if (now_ns() < at) sleep_until_ns(at);
        world_tick(WARMUP_TICK + (uint32_t)k);
        kv_write_tick(R, js, kv, &po, k);
        R->warmup_ticks++;
    }
    if (R->writer_errors) die("the kv writer failed in the warm-up", NULL);
    atomic_store_explicit(&warm_mark, kv_last_revision(js), memory_order_release);
    pthread_barrier_wait(&bar_ready);
    R->setup_s = (double)(now_ns() - setup0) / 1e9;

    R->v0 = varz_read();
    uint64_t sock0 = socket_bytes(), srv0 = server_cpu_ns(), proc0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), irq0 = 0, busy0 = machine_busy_ns2(&irq0);
    uint64_t wcpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), wconn0 = tids_cpu_ns(wtids, nw);
    uint64_t start = now_ns() + 5000000ull;
    tick_schedule(start);
    window_start_ns = start;
    uint64_t end = start + (uint64_t)(cfg.seconds * 1e9);
    pthread_barrier_wait(&bar_go);

    size_t t = 0;
    for (; t < ticks_planned; t++) {
        if (now_ns() < sched[t]) sleep_until_ns(sched[t]);
        uint64_t late = now_ns() - sched[t];
        if ((double)late / 1e6 > R->max_late_ms) R->max_late_ms = (double)late / 1e6;
        if (now_ns() >= end) break;
        world_tick((uint32_t)t);
        uint64_t s = now_ns();
        atomic_store_explicit(&stamp[t], s, memory_order_release);
        kv_write_tick(R, js, kv, &po, t);
        R->tick_cost_ns[t] = now_ns() - s;
    }
    R->ticks_done = t;
    uint64_t wend = now_ns();
    R->writer_s = (double)(wend - start) / 1e9;
    R->writer_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - wcpu0;
    R->writer_conn_cpu_ns = tids_cpu_ns(wtids, nw) - wconn0;
    {
        entity *values = malloc(cfg.entities * sizeof(entity));
        if (!values) die("out of memory", NULL);
        for (size_t i = 0; i < cfg.entities; i++) record_of(i, 1, &values[i]);
        R->writer_digest = fnv1a(values, cfg.entities * sizeof(entity));
        free(values);
    }
    drain_deadline_ns = wend + (uint64_t)(cfg.drain_s * 1e9);
    R->kv_updates = (uint64_t)t * cfg.changes;
    atomic_store_explicit(&final_mark, kv_last_revision(js), memory_order_release);

    pthread_barrier_wait(&bar_done);
    R->window_s = (double)(now_ns() - start) / 1e9;
    R->v1 = varz_read();
    R->sock_bytes = socket_bytes() - sock0;
    R->server_cpu_ns = server_cpu_ns() - srv0;
    R->process_cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - proc0;
    uint64_t irq1 = 0;
    R->machine_busy_ns = machine_busy_ns2(&irq1) - busy0;
    R->machine_irq_ns = irq1 - irq0;
    pthread_barrier_wait(&bar_release);
    for (int i = 0; i < cfg.followers; i++) pthread_join(th[i], NULL);
    R->converged_all = 1;
    for (int i = 0; i < cfg.followers; i++) if (!R->f[i].converged) R->converged_all = 0;
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* ---------------------------------------------------------------------------------------------- */
/* Report                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static void phase_reset(phase_result *R) {
    for (size_t i = 0; i < ticks_planned; i++) { atomic_store(&stamp[i], 0); sched[i] = 0; }
    atomic_store(&final_mark, 0);
    atomic_store(&warm_mark, 0);
    atomic_store(&abort_drain, 0);
    R->tick_cost_ns = calloc(ticks_planned, sizeof(uint64_t));
    for (int i = 0; i < cfg.followers; i++) {
        R->f[i].lat = calloc(ticks_planned, sizeof(uint64_t));
        R->f[i].lat_sched = calloc(ticks_planned, sizeof(uint64_t));
        if (!R->f[i].lat || !R->f[i].lat_sched) die("out of memory", NULL);
    }
}

static void phase_gather(phase_result *R) {
    size_t total = 0;
    for (int i = 0; i < cfg.followers; i++) total += R->f[i].nlat;
    R->all_lat = calloc(total + 1, sizeof(uint64_t));
    R->all_lat_sched = calloc(total + 1, sizeof(uint64_t));
    R->nall = 0;
    R->incomplete = 0;
    for (int i = 0; i < cfg.followers; i++) {
        follower_result *r = &R->f[i];
        memcpy(R->all_lat + R->nall, r->lat, r->nlat * sizeof(uint64_t));
        memcpy(R->all_lat_sched + R->nall, r->lat_sched, r->nlat * sizeof(uint64_t));
        R->nall += r->nlat;
        R->incomplete += R->ticks_done - (r->nlat < R->ticks_done ? r->nlat : R->ticks_done);
        if (r->bootstrap_ms > R->bootstrap_ms_max) R->bootstrap_ms_max = r->bootstrap_ms;
    }
    qsort(R->all_lat, R->nall, sizeof(uint64_t), cmp_u64);
    qsort(R->all_lat_sched, R->nall, sizeof(uint64_t), cmp_u64);
}

static double varz_bytes(const phase_result *R) {
    return (double)(R->v1.in_bytes - R->v0.in_bytes) + (double)(R->v1.out_bytes - R->v0.out_bytes);
}

static double per_tick(double x, const phase_result *R) { return R->ticks_done ? x / (double)R->ticks_done : NAN; }

static double follower_cpu_mean(const phase_result *R, int with_conn) {
    double s = 0;
    for (int i = 0; i < cfg.followers; i++) s += (double)R->f[i].cpu_thread_ns + (with_conn ? (double)R->f[i].cpu_conn_ns : 0);
    return s / cfg.followers;
}

static double follower_cpu_max(const phase_result *R, int with_conn) {
    double m = 0;
    for (int i = 0; i < cfg.followers; i++) {
        double x = (double)R->f[i].cpu_thread_ns + (with_conn ? (double)R->f[i].cpu_conn_ns : 0);
        if (x > m) m = x;
    }
    return m;
}

static void human_bytes(double b, char *out, size_t cap) {
    if (isnan(b)) snprintf(out, cap, "-");
    else if (b >= 1e9) snprintf(out, cap, "%.2f GB", b / 1e9);
    else if (b >= 1e6) snprintf(out, cap, "%.2f MB", b / 1e6);
    else if (b >= 1e3) snprintf(out, cap, "%.1f kB", b / 1e3);
    else snprintf(out, cap, "%.0f B", b);
}

static void print_phase(const phase_result *R) {
    if (getenv("NATS_BENCH_DUMP_TICKS")) {
        /* tick, writer cost, scheduled offset: for looking at the tail (not part of the report) */
        for (size_t t = 0; t < R->ticks_done; t++) {
            uint64_t mx = 0;
            for (int i = 0; i < cfg.followers; i++) if (t < R->f[i].nlat && R->f[i].lat[t] > mx) mx = R->f[i].lat[t];
            fprintf(stderr, "tick %zu at %.1f ms: writer %.2f ms, slowest follower %.2f ms", t, (double)(sched[t] - sched[0]) / 1e6,
                    (double)R->tick_cost_ns[t] / 1e6, (double)mx / 1e6);
            if (mx > 10000000ull)
                for (int i = 0; i < cfg.followers; i++) if (t < R->f[i].nlat) fprintf(stderr, " f%d=%.1f", i, (double)R->f[i].lat[t] / 1e6);
            fprintf(stderr, "\n");
        }
    }
    char a[32], b[32], c[32];
    double window = R->window_s, ticks = (double)R->ticks_done;
    printf("\n== %s%s\n", R->name,
           R == &R_ps ? "" : cfg.kv_async ? " (writer: js_PublishAsync on $KV.<bucket>.<key>, one js_PublishAsyncComplete per tick)"
                                          : " (writer: kvStore_Put, one synchronous put per changed entity)");
    if (R == &R_ps)
        printf("setup      %.1f s (load, first snapshot, %d followers bootstrapped from it: slowest %.0f ms; %zu warm-up ticks, not measured)\n",
               R->setup_s, cfg.followers, R->bootstrap_ms_max, R->warmup_ticks);
    else
        printf("setup      %.1f s (load %zu keys, %d watchers received the initial values: slowest %.0f ms; %zu warm-up ticks, not measured)\n",
               R->setup_s, cfg.entities, cfg.followers, R->bootstrap_ms_max, R->warmup_ticks);
    printf("ticks      %zu of %zu planned in %.2f s (%.1f Hz achieved, %.0f Hz planned)", R->ticks_done, ticks_planned, R->writer_s,
           R->writer_s > 0 ? ticks / R->writer_s : 0.0, cfg.hz);
    if (R->ticks_done < ticks_planned)
        printf("; FELL BEHIND: %zu ticks (%.2f s of schedule) not started by the %.0f s mark", ticks_planned - R->ticks_done,
               (double)(ticks_planned - R->ticks_done) / cfg.hz, cfg.seconds);
    else if (R->max_late_ms > 1000.0 / cfg.hz)
        printf("; a tick started up to %.1f ms late", R->max_late_ms);
    printf("\n");
    if (R->writer_errors) printf("errors     %" PRIu64 " writer calls failed (see stderr)\n", R->writer_errors);
    uint64_t *cost = malloc((R->ticks_done + 1) * sizeof(uint64_t));
    memcpy(cost, R->tick_cost_ns, R->ticks_done * sizeof(uint64_t));
    qsort(cost, R->ticks_done, sizeof(uint64_t), cmp_u64);
    printf("writer     %s per tick: p50 %.2f ms, p99 %.2f ms, max %.2f ms (tick budget %.2f ms)\n",
           R == &R_ps ? "podsync_nats_publisher_flush" : cfg.kv_async ? "1 tick of async publishes + complete" : "the tick's kvStore_Put calls",
           pct_ms(cost, R->ticks_done, 0.5), pct_ms(cost, R->ticks_done, 0.99), pct_ms(cost, R->ticks_done, 1.0), 1000.0 / cfg.hz);
    free(cost);
    printf("latency    stamp -> applied on a follower, over %zu follower-ticks: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
           R->nall, pct_ms(R->all_lat, R->nall, 0.5), pct_ms(R->all_lat, R->nall, 0.99), pct_ms(R->all_lat, R->nall, 1.0));
    if (R->incomplete)
        printf("; %zu follower-ticks never complete%s", R->incomplete,
               R == &R_kv ? " (an update was replaced by a newer put of its key before the watcher read it: history 1; not in the percentiles)" : "");
    printf("\n           scheduled tick time -> applied: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           pct_ms(R->all_lat_sched, R->nall, 0.5), pct_ms(R->all_lat_sched, R->nall, 0.99), pct_ms(R->all_lat_sched, R->nall, 1.0));
    double vb = varz_bytes(R);
    human_bytes(vb / window, a, sizeof a);
    human_bytes(per_tick(vb, R), b, sizeof b);
    printf("bytes      server /varz in+out: %s/s, %s/tick (in %" PRIu64 " B in %" PRIu64 " msgs, out %" PRIu64 " B in %" PRIu64 " msgs over %.2f s)\n",
           a, b, R->v1.in_bytes - R->v0.in_bytes, R->v1.in_msgs - R->v0.in_msgs, R->v1.out_bytes - R->v0.out_bytes,
           R->v1.out_msgs - R->v0.out_msgs, window);
    human_bytes((double)R->sock_bytes / window, a, sizeof a);
    human_bytes(per_tick((double)R->sock_bytes, R), b, sizeof b);
    printf("           TCP payload of all client connections (both directions): %s/s, %s/tick\n", a, b);
    if (R == &R_ps) {
        human_bytes((double)R->frame_bytes * (1 + cfg.followers) / window, a, sizeof a);
        human_bytes(per_tick((double)R->frame_bytes * (1 + cfg.followers), R), b, sizeof b);
        human_bytes(per_tick((double)R->frame_bytes, R), c, sizeof c);
        printf("           frames: bytes_published x (1 + %d): %s/s, %s/tick (one frame: %s; %" PRIu64 " frames, %" PRIu64 " snapshots in the window)\n",
               cfg.followers, a, b, c, R->frames, R->snapshots);
    }
    if (R == &R_ps) {
        /* The engine's own timings (podsync_store_metrics): how long podsync_store_apply took on
           the replicas and podsync_store_flush on the writer, apart from the transport. */
        uint64_t h[PODSYNC_METRICS_BUCKETS] = {0}, n = 0, slow = 0;
        for (int i = 0; i < cfg.followers; i++)
            for (int b = 0; b < PODSYNC_METRICS_BUCKETS; b++) h[b] += R->f[i].apply_hist[b];
        for (int b = 0; b < PODSYNC_METRICS_BUCKETS; b++) { n += h[b]; if (b >= 22) slow += h[b]; }
        int med = -1, top = -1;
        for (int b = 0, acc = 0; b < PODSYNC_METRICS_BUCKETS; b++) {
            acc += (int)h[b];
            if (med < 0 && n && (uint64_t)acc * 2 >= n) med = b;
            if (h[b]) top = b;
        }
        int emed = -1, etop = -1;
        uint64_t en = 0, eacc = 0;
        for (int b = 0; b < PODSYNC_METRICS_BUCKETS; b++) en += R->encode_hist[b];
        for (int b = 0; b < PODSYNC_METRICS_BUCKETS; b++) {
            eacc += R->encode_hist[b];
            if (emed < 0 && en && eacc * 2 >= en) emed = b;
            if (R->encode_hist[b]) etop = b;
        }
        if (med >= 0 && emed >= 0)
            printf("engine     podsync_store_apply on the replicas: %" PRIu64 " applies, median in [%.2f, %.2f) ms, slowest in [%.1f, %.1f) ms, %" PRIu64 " took 4 ms or more;"
                   " writer's podsync_store_flush: median in [%.2f, %.2f) ms, slowest in [%.1f, %.1f) ms\n",
                   n, ldexp(1, med) / 1e6, ldexp(1, med + 1) / 1e6, ldexp(1, top) / 1e6, ldexp(1, top + 1) / 1e6, slow,
                   ldexp(1, emed) / 1e6, ldexp(1, emed + 1) / 1e6, ldexp(1, etop) / 1e6, ldexp(1, etop + 1) / 1e6);
    }
    double fc = follower_cpu_mean(R, 1), ft = follower_cpu_mean(R, 0);
    printf("CPU        per follower (its thread + its connection's %d libnats threads): mean %.1f ms = %.1f%% of a core, %.0f us/tick; max %.1f ms\n",
           R->f[0].nconn_tids, fc / 1e6, fc / 1e7 / window, per_tick(fc, R) / 1e3, follower_cpu_max(R, 1) / 1e6);
    printf("           per follower, its thread alone: mean %.1f ms, %.0f us/tick\n", ft / 1e6, per_tick(ft, R) / 1e3);
    printf("           writer: thread %.1f ms + connection threads %.1f ms (%.0f us/tick); nats-server %.0f ms (%.0f%% of a core); this process %.0f ms; window %.2f s\n",
           (double)R->writer_cpu_ns / 1e6, (double)R->writer_conn_cpu_ns / 1e6,
           per_tick((double)(R->writer_cpu_ns + R->writer_conn_cpu_ns), R) / 1e3, (double)R->server_cpu_ns / 1e6,
           (double)R->server_cpu_ns / 1e7 / window, (double)R->process_cpu_ns / 1e6, window);
    double others = (double)R->machine_busy_ns - (double)R->machine_irq_ns - (double)R->server_cpu_ns - (double)R->process_cpu_ns;
    printf("           machine: %.0f%% of %ld cores busy; interrupts (loopback networking, charged to no process) %.0f%% of a core;"
           " other processes (not this benchmark, not its server) about %.0f%% of a core%s\n",
           (double)R->machine_busy_ns / 1e7 / window / (double)sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_NPROCESSORS_ONLN),
           (double)R->machine_irq_ns / 1e7 / window, others > 0 ? others / 1e7 / window : 0.0,
           others / 1e7 / window > 10 ? " (NOISY: figures disturbed)" : "");
    if (R == &R_ps) {
        printf("converged  writer version %" PRIu64 " digest %016" PRIx64 "; followers:", R->writer_version, R->writer_digest);
        for (int i = 0; i < cfg.followers; i++) printf(" %016" PRIx64 "%s", R->f[i].digest, R->f[i].converged ? "" : "(DIFFERS)");
        printf(" -> %s\n", R->converged_all ? "all equal" : "NOT ALL EQUAL");
    } else {
        uint64_t minrec = UINT64_MAX;
        for (int i = 0; i < cfg.followers; i++) if (R->f[i].received < minrec) minrec = R->f[i].received;
        printf("updates    %" PRIu64 " written in the window; every watcher received at least %" PRIu64 " of them\n", R->kv_updates, minrec);
        printf("converged  writer array fnv1a %016" PRIx64 "; watchers:", R->writer_digest);
        for (int i = 0; i < cfg.followers; i++) printf(" %016" PRIx64 "%s", R->f[i].digest, R->f[i].converged ? "" : "(DIFFERS)");
        printf(" -> %s\n", R->converged_all ? "all equal" : "NOT ALL EQUAL");
    }
    for (int i = 0; i < cfg.followers; i++) {
        const follower_result *r = &R->f[i];
        if (cfg.verbose || r->note[0] || !r->converged)
            printf("  follower %d: %zu ticks, caught up at %.2f s, CPU thread %.1f ms + conn %.1f ms (%d threads), bootstrap %.0f ms%s%s\n", i, r->nlat,
                   r->busy_s, (double)r->cpu_thread_ns / 1e6, (double)r->cpu_conn_ns / 1e6, r->nconn_tids, r->bootstrap_ms,
                   r->note[0] ? "; " : "", r->note);
    }
}

static void print_ratio_row(const char *what, double ps, double kv, const char *unit, double scale, int decimals) {
    char a[32], b[32];
    if (isnan(ps)) snprintf(a, sizeof a, "-"); else snprintf(a, sizeof a, "%.*f %s", decimals, ps / scale, unit);
    if (isnan(kv)) snprintf(b, sizeof b, "-"); else snprintf(b, sizeof b, "%.*f %s", decimals, kv / scale, unit);
    double r = kv / ps;
    char rb[32] = "-";
    if (!isnan(r) && !isinf(r)) snprintf(rb, sizeof rb, "%.1fx", r);
    printf("| %-52s | %16s | %16s | %9s |\n", what, a, b, rb);
}

static void print_summary(void) {
    const phase_result *P = &R_ps, *K = &R_kv;
    printf("\n== Side by side: %zu entities of 40 B, %zu changed per tick at %.0f Hz for %.0f s, %d followers, zstd level %d, %s storage\n",
           cfg.entities, cfg.changes, cfg.hz, cfg.seconds, cfg.followers, cfg.level, cfg.memory ? "memory" : "file");
    printf("| %-52s | %16s | %16s | %9s |\n", "figure", "PodSync", "NATS KV", "KV/PodSync");
    printf("|%s|%s|%s|%s|\n", "------------------------------------------------------", "-----------------:", "-----------------:", "----------:");
    char a[32], b[32];
    snprintf(a, sizeof a, "%zu", P->ticks_done);
    snprintf(b, sizeof b, "%zu", K->ticks_done);
    printf("| %-52s | %16s | %16s | %9s |\n", "ticks done (of planned)", a, b, "");
    print_ratio_row("server bytes per tick (/varz in+out)", per_tick(varz_bytes(P), P), per_tick(varz_bytes(K), K), "kB", 1e3, 1);
    print_ratio_row("server bytes per second (/varz in+out)", varz_bytes(P) / P->window_s, varz_bytes(K) / K->window_s, "MB/s", 1e6, 2);
    print_ratio_row("TCP bytes per tick (all connections, both ways)", per_tick((double)P->sock_bytes, P), per_tick((double)K->sock_bytes, K), "kB", 1e3, 1);
    print_ratio_row("follower CPU per tick (thread + its conn threads)", per_tick(follower_cpu_mean(P, 1), P), per_tick(follower_cpu_mean(K, 1), K), "us", 1e3, 0);
    print_ratio_row("follower CPU per tick (its thread alone)", per_tick(follower_cpu_mean(P, 0), P), per_tick(follower_cpu_mean(K, 0), K), "us", 1e3, 0);
    print_ratio_row("follower CPU, % of a core over the window", follower_cpu_mean(P, 1) / 1e7 / P->window_s, follower_cpu_mean(K, 1) / 1e7 / K->window_s, "%", 1, 1);
    print_ratio_row("writer CPU per tick (thread + conn threads)", per_tick((double)(P->writer_cpu_ns + P->writer_conn_cpu_ns), P),
                    per_tick((double)(K->writer_cpu_ns + K->writer_conn_cpu_ns), K), "us", 1e3, 0);
    print_ratio_row("nats-server CPU per tick", per_tick((double)P->server_cpu_ns, P), per_tick((double)K->server_cpu_ns, K), "us", 1e3, 0);
    print_ratio_row("latency p50 (stamp -> applied)", pct_ms(P->all_lat, P->nall, 0.5), pct_ms(K->all_lat, K->nall, 0.5), "ms", 1, 2);
    print_ratio_row("latency p99 (stamp -> applied)", pct_ms(P->all_lat, P->nall, 0.99), pct_ms(K->all_lat, K->nall, 0.99), "ms", 1, 2);
    print_ratio_row("latency max (stamp -> applied)", pct_ms(P->all_lat, P->nall, 1.0), pct_ms(K->all_lat, K->nall, 1.0), "ms", 1, 2);
    print_ratio_row("latency p99 (scheduled time -> applied)", pct_ms(P->all_lat_sched, P->nall, 0.99), pct_ms(K->all_lat_sched, K->nall, 0.99), "ms", 1, 2);

    double rb = per_tick(varz_bytes(K), K) / per_tick(varz_bytes(P), P);
    double rt = per_tick((double)K->sock_bytes, K) / per_tick((double)P->sock_bytes, P);
    double rc = per_tick(follower_cpu_mean(K, 1), K) / per_tick(follower_cpu_mean(P, 1), P);
    double rct = per_tick(follower_cpu_mean(K, 0), K) / per_tick(follower_cpu_mean(P, 0), P);
    double p99 = pct_ms(P->all_lat, P->nall, 0.99);
    printf("\nTargets (issue): measured vs target\n");
    printf("  bytes:   KV/PodSync per tick %.1fx on the server's counters (/varz), %.1fx on the TCP bytes; target >= 20x: %s on /varz, %s on TCP\n",
           rb, rt, rb >= 20 ? "met" : "MISSED", rt >= 20 ? "met" : "MISSED");
    printf("  CPU:     KV/PodSync follower CPU per tick %.1fx (%.1fx counting the follower's thread alone); target >= 10x: %s\n", rc, rct,
           rc >= 10 ? "met" : "MISSED");
    printf("  latency: PodSync p99 %.2f ms at %d followers on %ld cores, target <= 5 ms at 10 followers on 2 cores: %s%s\n", p99,
           cfg.followers, sysconf(_SC_NPROCESSORS_ONLN), p99 <= 5.0 ? "met" : "MISSED",
           cfg.followers == 10 ? "" : " (not the target's follower count)");
    if (K->ticks_done < ticks_planned)
        printf("  note:    NATS KV did %zu of %zu ticks (%.1f Hz of %.0f): it fell %.2f s of schedule behind in %.0f s; per-tick figures compare equal work\n",
               K->ticks_done, ticks_planned, (double)K->ticks_done / K->writer_s, cfg.hz, (double)(ticks_planned - K->ticks_done) / cfg.hz, cfg.seconds);
}

/* ---------------------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: nats_bench [--seconds S] [--followers F] [--entities E] [--changes C] [--hz H] [--level L]\n"
                    "                  [--kv-put put|async] [--memory] [--only podsync|kv] [--warmup SECONDS] [--drain SECONDS] [--seed N]\n"
                    "                  [--same-records] [--smoke] [--verbose] [--strict-kv] [--command TEXT]\n");
    exit(2);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int smoke_seen = 0;
    for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--smoke") == 0) smoke_seen = 1;
    if (smoke_seen) { cfg.smoke = 1; cfg.seconds = 1; cfg.followers = 2; cfg.entities = 10000; cfg.drain_s = 5; cfg.warmup_s = 0.25; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && (v || (usage(), 0)) && ++i)
        if (strcmp(a, "--smoke") == 0) continue;
        else if (strcmp(a, "--memory") == 0) cfg.memory = 1;
        else if (strcmp(a, "--verbose") == 0) cfg.verbose = 1;
        else if (strcmp(a, "--strict-kv") == 0) cfg.strict_kv = 1;
        else if (strcmp(a, "--same-records") == 0) cfg.same_records = 1;
        else if (ARG("--seconds")) cfg.seconds = atof(v);
        else if (ARG("--followers")) cfg.followers = atoi(v);
        else if (ARG("--entities")) cfg.entities = (size_t)strtoull(v, NULL, 10);
        else if (ARG("--changes")) cfg.changes = (size_t)strtoull(v, NULL, 10);
        else if (ARG("--hz")) cfg.hz = atof(v);
        else if (ARG("--level")) cfg.level = atoi(v);
        else if (ARG("--drain")) cfg.drain_s = atof(v);
        else if (ARG("--warmup")) cfg.warmup_s = atof(v);
        else if (ARG("--seed")) cfg.seed = strtoull(v, NULL, 10);
        else if (ARG("--command")) cfg.command = v;
        else if (ARG("--kv-put")) {
            if (strcmp(v, "put") == 0) cfg.kv_async = 0;
            else if (strcmp(v, "async") == 0) cfg.kv_async = 1;
            else usage();
        } else if (ARG("--only")) {
            cfg.run_podsync = strcmp(v, "podsync") == 0;
            cfg.run_kv = strcmp(v, "kv") == 0;
            if (!cfg.run_podsync && !cfg.run_kv) usage();
        } else usage();
#undef ARG
    }
    if (cfg.changes == 0) cfg.changes = cfg.entities / 100 ? cfg.entities / 100 : 1;
    if (cfg.followers < 1 || cfg.followers > MAX_FOLLOWERS || cfg.entities < 1 || cfg.changes > cfg.entities || cfg.changes > 65535 ||
        cfg.seconds <= 0 || cfg.hz <= 0 || cfg.seconds * cfg.hz > 1e6 || cfg.entities > 100000000)
        usage();
    ticks_planned = (size_t)llround(cfg.seconds * cfg.hz);

    truth = malloc(cfg.entities * sizeof(entity));
    last_tick = malloc(cfg.entities * sizeof(uint32_t));
    perm = malloc(cfg.entities * sizeof(uint32_t));
    changed = malloc(cfg.changes * sizeof(uint32_t));
    stamp = calloc(ticks_planned, sizeof(*stamp));
    sched = calloc(ticks_planned, sizeof(*sched));
    if (!truth || !last_tick || !perm || !changed || !stamp || !sched) die("out of memory", NULL);

    /* libnats' shared threads (timers, callbacks, GC) start here, before any connection, so they
       are nobody's connection threads; the process CPU figure includes them. */
    NATS_OK_(nats_Open(-1));
    url = server_start();
    char vbuf[1 << 16];
    http_get("/varz", vbuf, sizeof vbuf);
    if (!strstr(vbuf, "\"http_host\": \"127.0.0.1\"")) die("the monitor port is not bound to 127.0.0.1", NULL);

    char cpu[128] = "";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci) {
        char line[256];
        while (fgets(line, sizeof line, ci))
            if (strncmp(line, "model name", 10) == 0) { char *p = strchr(line, ':'); if (p) snprintf(cpu, sizeof cpu, "%s", p + 2); break; }
        fclose(ci);
        cpu[strcspn(cpu, "\n")] = 0;
    }
    printf("nats_bench: %zu entities x 40 B, %zu changed per tick (%.2f%%) at %.0f Hz for %.1f s (%zu ticks), %d followers%s\n",
           cfg.entities, cfg.changes, 100.0 * (double)cfg.changes / (double)cfg.entities, cfg.hz, cfg.seconds, ticks_planned, cfg.followers,
           cfg.smoke ? " [smoke]" : "");
    printf("records    PodSync: %s; KV values: the entity with its last tick in place of the flags (40 B)\n",
           cfg.same_records ? "the KV values exactly (--same-records)" : "the entities (id, pos, rot, flags), zstd level given below");
    printf("machine    %ld cpus; %s; nats-server at %s (monitor 127.0.0.1:%d, %s storage); libnats %s; podsync %u, carrier %u\n",
           sysconf(_SC_NPROCESSORS_ONLN), cpu, url, monitor_port, cfg.memory ? "memory" : "file", nats_GetVersion(),
           podsync_version_number(), podsync_nats_version_number());

    if (pthread_barrier_init(&bar_ready, NULL, (unsigned)cfg.followers + 1) || pthread_barrier_init(&bar_go, NULL, (unsigned)cfg.followers + 1) ||
        pthread_barrier_init(&bar_done, NULL, (unsigned)cfg.followers + 1) || pthread_barrier_init(&bar_release, NULL, (unsigned)cfg.followers + 1) ||
        pthread_barrier_init(&bar_boot, NULL, (unsigned)cfg.followers + 1))
        die("pthread_barrier_init", NULL);

    if (cfg.run_podsync) {
        phase_reset(&R_ps);
        run_podsync();
        phase_gather(&R_ps);
        print_phase(&R_ps);
    }
    if (cfg.run_kv) {
        phase_reset(&R_kv);
        run_kv();
        phase_gather(&R_kv);
        print_phase(&R_kv);
    }
    if (cfg.run_podsync && cfg.run_kv) print_summary();
    if (cfg.command) printf("\ncommand: %s\n", cfg.command);

    int status = 0;
    if (cfg.run_podsync && !R_ps.converged_all) {
        fprintf(stderr, "nats_bench: a PodSync follower's digest differs from the writer's\n");
        status = 1;
    }
    if (cfg.run_kv && !R_kv.converged_all) {
        fprintf(stderr, "nats_bench: a NATS KV watcher's array differs from the writer's%s\n", cfg.strict_kv ? "" : " (reported; --strict-kv fails on it)");
        if (cfg.strict_kv) status = 1;
    }
    nats_stop_all();
    nats_Close();
    return status;
}
