/*
 * threads.c — the threading contract of include/podsync.h under ThreadSanitizer: distinct handles
 * are independent and may be used concurrently; the functions that take no handle are thread-safe.
 *
 * Pairs of threads run at once, each pair with handles of its own: a writer thread builds its
 * schema, creates its writer (compression off, or on at several levels and transform masks; one
 * pair trains a zstd dictionary mid-run), writes and flushes rounds of changes, and sends copies of
 * its frames, its schema encoding, its dictionary and finally its digest through a queue to the
 * pair's replica thread. The replica thread decodes the schema, creates its replica, applies every
 * frame (each must return PODSYNC_OK), loads the dictionary when it arrives, serves a snapshot to a
 * second replica of its own and checks that all three digests are equal. Meanwhile hammer threads
 * call the handle-free functions (podsync_frame_peek, podsync_frame_validate, _validate_limited when
 * the library has it, podsync_frame_section_get, podsync_status_name, podsync_schema_decode,
 * podsync_last_errmsg, podsync_metrics_prometheus, podsync_version_number, podsync_abi_version,
 * podsync_store_options_init) on
 * frames and encodings shared read-only by every thread, and compare each answer with the one the
 * main thread computed alone before the threads started (podsync_last_errmsg: each thread's
 * message stays its own while the others fail).
 *
 * Usage: threads [--pairs N] [--hammers N] [--rounds N]    (defaults 4, 4, 60; .ci/tsan: 8, 6, 600)
 * Prints "threads: N passed, M failed" last; exits 1 if M > 0. .ci/tsan builds the library and
 * this program with -fsanitize=thread and runs it with TSAN_OPTIONS=halt_on_error=1 exitcode=66, so
 * a data race fails the run too. It also runs without a sanitizer:
 *   gcc -std=c11 -O2 -Wall -Wextra -Werror -pthread -Iinclude Tests/c/threads.c \
 *       -L.build/release -lpodsync -Wl,-rpath,$PWD/.build/release -o threads && ./threads
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsync.h"

/* ---------------------------------------------------------------------------------------------- */
/* Checks (counted atomically: every thread reports)                                              */
/* ---------------------------------------------------------------------------------------------- */

static atomic_ullong g_passed, g_failed;

static void failure(int line, const char *fmt, ...) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    atomic_fetch_add(&g_failed, 1);
    pthread_mutex_lock(&lock);
    if (atomic_load(&g_failed) <= 40) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "FAIL (threads.c:%d): ", line);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    pthread_mutex_unlock(&lock);
}

#define CHECK(cond, ...)                                       \
    do {                                                       \
        if (cond) atomic_fetch_add(&g_passed, 1);              \
        else failure(__LINE__, __VA_ARGS__);                   \
    } while (0)

/* A call that must return a non-negative status; on failure the thread gives up (returns). */
#define MUST(call, store)                                                                              \
    do {                                                                                               \
        int32_t st_ = (call);                                                                          \
        if (st_ < 0) {                                                                                 \
            failure(__LINE__, "%s returned %s: %s", #call, podsync_status_name(st_),                  \
                    (store) ? podsync_store_errmsg(store) : "");                                       \
            return NULL;                                                                               \
        }                                                                                              \
        atomic_fetch_add(&g_passed, 1);                                                                \
    } while (0)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* ---------------------------------------------------------------------------------------------- */
/* A message queue between a writer thread and its replica thread                                 */
/* ---------------------------------------------------------------------------------------------- */

enum { MSG_SCHEMA, MSG_FRAME, MSG_DICTIONARY, MSG_DONE };

typedef struct message {
    int kind;
    uint8_t *bytes; /* owned by the message */
    size_t size;
    uint64_t digest; /* MSG_DONE: the writer's final digest */
    struct message *next;
} message;

typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    message *head, *tail;
} queue;

static void queue_push(queue *q, int kind, const void *bytes, size_t size, uint64_t digest) {
    message *m = xmalloc(sizeof *m);
    m->kind = kind;
    m->bytes = xmalloc(size);
    if (size) memcpy(m->bytes, bytes, size);
    m->size = size;
    m->digest = digest;
    m->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail) q->tail->next = m;
    else q->head = m;
    q->tail = m;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

static message *queue_pop(queue *q) {
    pthread_mutex_lock(&q->lock);
    while (!q->head) pthread_cond_wait(&q->ready, &q->lock);
    message *m = q->head;
    q->head = m->next;
    if (!q->head) q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    return m;
}

static void message_free(message *m) {
    free(m->bytes);
    free(m);
}

/* ---------------------------------------------------------------------------------------------- */
/* Schema and records                                                                             */
/* ---------------------------------------------------------------------------------------------- */

static int32_t build_schema(podsync_schema **out) {
    static const podsync_field entity[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"pos", PODSYNC_TYPE_F32, 8, 3, 0},
        {"rot", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    static const podsync_field pair[] = {{"a", PODSYNC_TYPE_U64, 0, 1, 0}, {"b", PODSYNC_TYPE_I64, 8, 1, 0}};
    int32_t st = podsync_schema_create(out);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(*out, 1, 40, 8, entity, 4);
    if (st == PODSYNC_OK) st = podsync_schema_add_table(*out, 7, 16, 16, pair, 2);
    return st;
}

static uint64_t next_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct entity {
    uint64_t id;
    float pos[3];
    float rot[4];
    uint32_t flags;
} entity;

/* ---------------------------------------------------------------------------------------------- */
/* Writer and replica threads                                                                     */
/* ---------------------------------------------------------------------------------------------- */

typedef struct pair_ctx {
    int index;
    int rounds;
    int32_t level;
    uint32_t transforms;
    int train; /* collect samples, train a dictionary mid-run, send it */
    queue q;
    uint64_t writer_digest, replica_digest, served_digest;
    size_t frames;
} pair_ctx;

static void send_outbox(pair_ctx *p, podsync_store *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        int32_t st = podsync_store_frame(w, i, &f, &size);
        CHECK(st == PODSYNC_OK && ((uintptr_t)f % 64) == 0, "pair %d: frame %zu: %s, at %p", p->index, i, podsync_status_name(st),
              (const void *)f);
        if (st == PODSYNC_OK) queue_push(&p->q, MSG_FRAME, f, size, 0);
        p->frames++;
    }
}

/* The writer's work; returns early (NULL) on a failed call. */
static void *writer_body(pair_ctx *p) {
    podsync_schema *schema = NULL;
    MUST(build_schema(&schema), NULL);
    size_t enc = 0;
    CHECK(podsync_schema_encode(schema, NULL, 0, &enc) == PODSYNC_E_BUFFER_TOO_SMALL, "pair %d: encode size query", p->index);
    uint8_t *bytes = xmalloc(enc);
    MUST(podsync_schema_encode(schema, bytes, enc, &enc), NULL);
    queue_push(&p->q, MSG_SCHEMA, bytes, enc, 0);
    free(bytes);

    podsync_store_options o;
    MUST(podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION), NULL);
    o.flags |= PODSYNC_OPT_MANUAL_CLOCK;
    o.stream_id = 0x7000 + (uint64_t)p->index;
    o.compression_level = p->level;
    o.transforms = p->transforms;
    o.max_frame_bytes = p->index % 2 ? 4096 : 0; /* some flushes split into several frames */
    podsync_store *w = NULL;
    MUST(podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w), NULL);
    podsync_schema_free(schema);
    if (p->train) MUST(podsync_store_collect_samples(w, 1 << 20), w);

    uint64_t rng = 0xC0FFEE + (uint64_t)p->index;
    entity e;
    for (int round = 0; round < p->rounds; round++) {
        int count = round == 0 ? 500 : 40;
        for (int i = 0; i < count; i++) {
            uint64_t key = round == 0 ? (uint64_t)i + 1 : 1 + next_rand(&rng) % 600;
            memset(&e, 0, sizeof e);
            e.id = key;
            e.pos[0] = (float)round;
            e.pos[1] = (float)(next_rand(&rng) % 1000) / 8.0f;
            e.rot[3] = 1.0f;
            e.flags = (uint32_t)i;
            MUST(podsync_store_put(w, 1, key, &e, sizeof e), w);
        }
        uint64_t pairs[2] = {next_rand(&rng), (uint64_t)round};
        MUST(podsync_store_put(w, 7, (uint64_t)round % 50, pairs, sizeof pairs), w);
        if (round % 3 == 2) {
            uint64_t gone[4] = {1 + next_rand(&rng) % 600, 1 + next_rand(&rng) % 600, 1 + next_rand(&rng) % 600, 9999};
            MUST(podsync_store_delete_many(w, 1, gone, 4, NULL), w);
        }
        size_t n = 0;
        MUST(podsync_store_flush(w, &n), w);
        send_outbox(p, w, n);
        if (p->train && round == p->rounds / 2) {
            uint32_t id = 0;
            MUST(podsync_store_train_dictionary(w, 4096, &id), w);
            const void *dict = NULL;
            size_t size = 0;
            MUST(podsync_store_dictionary(w, &dict, &size, NULL), w);
            queue_push(&p->q, MSG_DICTIONARY, dict, size, 0);
        }
        if (round % 16 == 15) { /* a catch-up since 1 (the replica has it: DUPLICATE) */
            MUST(podsync_store_delta_since(w, 1, &n), w);
            send_outbox(p, w, n);
        }
    }
    MUST(podsync_store_digest(w, &p->writer_digest), w);
    podsync_store_free(w);
    return NULL;
}

static void *writer_thread(void *arg) {
    pair_ctx *p = arg;
    writer_body(p);
    queue_push(&p->q, MSG_DONE, NULL, 0, p->writer_digest); /* always: the replica thread waits for it */
    return NULL;
}

static void *replica_thread(void *arg) {
    pair_ctx *p = arg;
    podsync_store *r = NULL;
    for (;;) {
        message *m = queue_pop(&p->q);
        int kind = m->kind;
        if (kind == MSG_SCHEMA) {
            podsync_schema *s = NULL;
            int32_t st = podsync_schema_decode(m->bytes, m->size, &s);
            CHECK(st == PODSYNC_OK, "pair %d: schema_decode returned %s", p->index, podsync_status_name(st));
            podsync_store_options o;
            podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION);
            o.compression_level = p->level; /* frames it serves are compressed like the writer's */
            if (st == PODSYNC_OK) {
                st = podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &r);
                CHECK(st == PODSYNC_OK, "pair %d: replica create returned %s", p->index, podsync_status_name(st));
            }
            podsync_schema_free(s);
        } else if (kind == MSG_FRAME && r) {
            uint64_t version = 0;
            int32_t st = podsync_store_apply(r, m->bytes, m->size, &version);
            CHECK(st == PODSYNC_OK || st == PODSYNC_DUPLICATE, "pair %d: apply returned %s: %s", p->index, podsync_status_name(st),
                  podsync_store_errmsg(r));
        } else if (kind == MSG_DICTIONARY && r) {
            int32_t st = podsync_store_load_dictionary(r, m->bytes, m->size, NULL);
            CHECK(st == PODSYNC_OK, "pair %d: load_dictionary returned %s", p->index, podsync_status_name(st));
        } else if (kind == MSG_DONE) {
            message_free(m);
            break;
        }
        message_free(m);
    }
    if (!r) {
        failure(__LINE__, "pair %d: no replica", p->index);
        return NULL;
    }
    MUST(podsync_store_digest(r, &p->replica_digest), r);
    /* the replica serves a snapshot to a replica of its own */
    size_t n = 0;
    MUST(podsync_store_snapshot(r, &n), r);
    const uint8_t *f = NULL;
    size_t size = 0;
    MUST(podsync_store_frame(r, 0, &f, &size), r);
    podsync_schema *s = NULL;
    MUST(build_schema(&s), NULL);
    podsync_store *second = NULL;
    MUST(podsync_store_create(s, PODSYNC_ROLE_REPLICA, NULL, &second), NULL);
    podsync_schema_free(s);
    const void *dict = NULL;
    size_t dict_size = 0;
    if (podsync_store_dictionary(r, &dict, &dict_size, NULL) == PODSYNC_OK) MUST(podsync_store_load_dictionary(second, dict, dict_size, NULL), second);
    MUST(podsync_store_apply(second, f, size, NULL), second);
    MUST(podsync_store_digest(second, &p->served_digest), second);
    podsync_store_free(second);
    podsync_store_free(r);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Hammer threads: handle-free functions on shared read-only data                                 */
/* ---------------------------------------------------------------------------------------------- */

#define SHARED_FRAMES 8

typedef int32_t (*validate_limited_fn)(const void *, size_t, uint64_t, podsync_frame_info *);

static struct {
    uint8_t *frame[SHARED_FRAMES];
    size_t size[SHARED_FRAMES];
    int32_t validated[SHARED_FRAMES];
    podsync_frame_info info[SHARED_FRAMES];
    uint32_t sections[SHARED_FRAMES];
    uint64_t section_sum[SHARED_FRAMES];
    size_t count;
    uint8_t *schema;
    size_t schema_size;
    uint64_t schema_hash;
    const char *names[128];
    validate_limited_fn limited;
    podsync_metrics metrics;
    char *prometheus; /* podsync_metrics_prometheus of `metrics` with PROMETHEUS_LABELS */
    size_t prometheus_size;
} g_shared;

#define PROMETHEUS_LABELS "job=\"threads\",note=\"a \\\"quoted\\\" value\""


/* Sum of the keys of every section readable in place (plain frames), or 0. */
static uint64_t sum_sections(const uint8_t *f, size_t size, uint32_t count) {
    uint64_t sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
        if (podsync_frame_section_get(f, size, i, &sec) != PODSYNC_OK) continue;
        for (uint64_t k = 0; k < sec.put_count; k++) sum += sec.put_keys[k];
        for (uint64_t k = 0; k < sec.delete_count; k++) sum += 3 * sec.delete_keys[k];
    }
    return sum;
}

static void keep_shared(podsync_store *w, size_t n) {
    for (size_t i = 0; i < n && g_shared.count < SHARED_FRAMES; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        if (podsync_store_frame(w, i, &f, &size) != PODSYNC_OK) continue;
        uint8_t *copy = aligned_alloc(64, (size + 63) / 64 * 64);
        if (!copy) exit(1);
        memcpy(copy, f, size);
        g_shared.frame[g_shared.count] = copy;
        g_shared.size[g_shared.count] = size;
        g_shared.count++;
    }
}

/* Frames of two writers (plain and compressed), a schema encoding, and the answers computed here,
   before any thread starts. Returns 0 on success. */
static int prepare_shared(void) {
    podsync_schema *schema = NULL;
    if (build_schema(&schema) != PODSYNC_OK) return 1;
    podsync_schema_encode(schema, NULL, 0, &g_shared.schema_size);
    g_shared.schema = xmalloc(g_shared.schema_size);
    if (podsync_schema_encode(schema, g_shared.schema, g_shared.schema_size, &g_shared.schema_size) != PODSYNC_OK) return 1;
    if (podsync_schema_hash(schema, &g_shared.schema_hash) != PODSYNC_OK) return 1;
    for (int level = 0; level <= 3; level += 3) {
        podsync_store_options o;
        podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION);
        o.compression_level = level;
        podsync_store *w = NULL;
        if (podsync_store_create(schema, PODSYNC_ROLE_WRITER, &o, &w) != PODSYNC_OK) return 1;
        entity e;
        memset(&e, 0, sizeof e);
        for (uint64_t k = 1; k <= 300; k++) {
            e.id = k;
            e.pos[0] = (float)k;
            podsync_store_put(w, 1, k, &e, sizeof e);
        }
        size_t n = 0;
        podsync_store_flush(w, &n);
        keep_shared(w, n);
        if (level != 0) {
            g_shared.metrics.version = PODSYNC_METRICS_VERSION;
            if (podsync_store_metrics(w, &g_shared.metrics) != PODSYNC_OK) return 1;
        }
        podsync_store_delete(w, 1, 5);
        e.id = 77;
        e.flags = 1;
        podsync_store_put(w, 1, 77, &e, sizeof e);
        podsync_store_flush(w, &n);
        keep_shared(w, n);
        podsync_store_snapshot(w, &n);
        keep_shared(w, n);
        podsync_store_free(w);
    }
    podsync_schema_free(schema);
    g_shared.limited = NULL;
    union {
        void *p;
        validate_limited_fn f;
    } u;
    u.p = dlsym(RTLD_DEFAULT, "podsync_frame_validate_limited");
    g_shared.limited = u.f;
    for (size_t i = 0; i < g_shared.count; i++) {
        podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
        g_shared.validated[i] = podsync_frame_validate(g_shared.frame[i], g_shared.size[i], &info);
        g_shared.info[i] = info;
        g_shared.sections[i] = info.section_count;
        g_shared.section_sum[i] = sum_sections(g_shared.frame[i], g_shared.size[i], info.section_count);
        if (g_shared.validated[i] != PODSYNC_OK) return 1;
    }
    for (int s = 0; s < 128; s++) g_shared.names[s] = podsync_status_name(s - 100);
    if (podsync_metrics_prometheus(&g_shared.metrics, PROMETHEUS_LABELS, NULL, 0, &g_shared.prometheus_size) !=
        PODSYNC_E_BUFFER_TOO_SMALL)
        return 1;
    g_shared.prometheus = xmalloc(g_shared.prometheus_size);
    return podsync_metrics_prometheus(&g_shared.metrics, PROMETHEUS_LABELS, g_shared.prometheus, g_shared.prometheus_size,
                                      &g_shared.prometheus_size) != PODSYNC_OK;
}

typedef struct hammer_ctx {
    int index, iterations;
} hammer_ctx;

static void *hammer_thread(void *arg) {
    hammer_ctx *h = arg;
    for (int it = 0; it < h->iterations; it++) {
        size_t i = (size_t)(it + h->index) % g_shared.count;
        const uint8_t *f = g_shared.frame[i];
        size_t size = g_shared.size[i];
        podsync_frame_info info = PODSYNC_FRAME_INFO_INIT, peek = PODSYNC_FRAME_INFO_INIT;
        int32_t st = podsync_frame_validate(f, size, &info);
        CHECK(st == g_shared.validated[i] && memcmp(&info, &g_shared.info[i], sizeof info) == 0,
              "hammer %d: validate of shared frame %zu returned %s", h->index, i, podsync_status_name(st));
        st = podsync_frame_peek(f, size, &peek);
        CHECK(st == PODSYNC_OK && peek.frame_length == size && peek.state_version == g_shared.info[i].state_version,
              "hammer %d: peek of shared frame %zu returned %s", h->index, i, podsync_status_name(st));
        if (g_shared.limited) {
            st = g_shared.limited(f, size, 0, NULL);
            CHECK(st == g_shared.validated[i], "hammer %d: validate_limited returned %s", h->index, podsync_status_name(st));
            st = g_shared.limited(f, size, 64, NULL);
            CHECK(st == PODSYNC_OK || st == PODSYNC_E_FRAME_TOO_LARGE, "hammer %d: validate_limited(64) returned %s", h->index,
                  podsync_status_name(st));
        }
        uint64_t sum = sum_sections(f, size, g_shared.sections[i]);
        CHECK(sum == g_shared.section_sum[i], "hammer %d: sections of shared frame %zu sum to %" PRIu64 ", not %" PRIu64, h->index,
              i, sum, g_shared.section_sum[i]);
        int status = (int)((uint64_t)it * 7 % 128) - 100;
        const char *name = podsync_status_name(status);
        CHECK(name == g_shared.names[status + 100] || strcmp(name, g_shared.names[status + 100]) == 0,
              "hammer %d: status_name(%d) = %s", h->index, status, name);
        if (it % 4 == 0) {
            podsync_schema *s = NULL;
            st = podsync_schema_decode(g_shared.schema, g_shared.schema_size, &s);
            uint64_t hash = 0;
            if (st == PODSYNC_OK) st = podsync_schema_hash(s, &hash);
            CHECK(st == PODSYNC_OK && hash == g_shared.schema_hash, "hammer %d: schema_decode/hash returned %s", h->index,
                  podsync_status_name(st));
            podsync_schema_free(s);
            /* a malformed encoding: the shared bytes cut short */
            s = NULL;
            st = podsync_schema_decode(g_shared.schema, g_shared.schema_size - 1, &s);
            CHECK(st == PODSYNC_E_SCHEMA_INVALID && s == NULL, "hammer %d: a truncated schema returned %s", h->index,
                  podsync_status_name(st));
        }
        if (it % 4 == 1 && g_shared.schema_size > 1 + (size_t)h->index) {
            /* podsync_last_errmsg is per thread: this thread's message survives the other threads'
               errors and this thread's successful calls */
            podsync_schema *bad = NULL;
            st = podsync_schema_decode(g_shared.schema, g_shared.schema_size - 1 - (size_t)h->index, &bad);
            char mine[1024];
            snprintf(mine, sizeof mine, "%s", podsync_last_errmsg());
            CHECK(st == PODSYNC_E_SCHEMA_INVALID && mine[0] != 0, "hammer %d: decode of a cut schema: %s, message \"%s\"", h->index,
                  podsync_status_name(st), mine);
            sched_yield();
            CHECK(podsync_frame_validate(f, size, NULL) == g_shared.validated[i] && strcmp(podsync_last_errmsg(), mine) == 0,
                  "hammer %d: last_errmsg changed to \"%s\" (was \"%s\")", h->index, podsync_last_errmsg(), mine);
        }
        if (it % 8 == 3) { /* metrics as Prometheus text: the same bytes as the main thread's */
            char *text = xmalloc(g_shared.prometheus_size);
            size_t got = 0;
            st = podsync_metrics_prometheus(&g_shared.metrics, PROMETHEUS_LABELS, text, g_shared.prometheus_size, &got);
            CHECK(st == PODSYNC_OK && got == g_shared.prometheus_size && memcmp(text, g_shared.prometheus, got) == 0,
                  "hammer %d: metrics_prometheus returned %s, %zu bytes (%zu expected)%s", h->index, podsync_status_name(st), got,
                  g_shared.prometheus_size, st == PODSYNC_OK ? ", different text" : "");
            free(text);
            st = podsync_metrics_prometheus(&g_shared.metrics, "le=\"1\"", NULL, 0, &got);
            CHECK(st == PODSYNC_E_INVALID_ARGUMENT, "hammer %d: a reserved label name returned %s", h->index, podsync_status_name(st));
        }
        CHECK(podsync_version_number() == PODSYNC_VERSION_NUMBER && podsync_abi_version() == PODSYNC_ABI_VERSION,
              "hammer %d: version %u abi %u", h->index, podsync_version_number(), podsync_abi_version());
        podsync_store_options o;
        st = podsync_store_options_init(&o, PODSYNC_STORE_OPTIONS_VERSION);
        CHECK(st == PODSYNC_OK && o.version == PODSYNC_STORE_OPTIONS_VERSION, "hammer %d: options_init returned %s", h->index,
              podsync_status_name(st));
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    int pairs = 4, hammers = 4, rounds = 60;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--pairs") == 0) pairs = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--hammers") == 0) hammers = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: threads [--pairs N] [--hammers N] [--rounds N]\n");
            return 2;
        }
    }
    if (pairs < 1 || pairs > 64 || hammers < 0 || hammers > 64 || rounds < 2) {
        fprintf(stderr, "threads: pairs 1..64, hammers 0..64, rounds >= 2\n");
        return 2;
    }
    if (prepare_shared() != 0) {
        fprintf(stderr, "threads: preparing the shared frames failed\n");
        printf("threads: %llu passed, %llu failed\n", (unsigned long long)atomic_load(&g_passed),
               (unsigned long long)atomic_load(&g_failed) + 1);
        return 1;
    }

    /* compression off, then on at several levels and transform masks; pair 2 trains a dictionary */
    static const int32_t levels[] = {0, 1, 3, -1, 19, 1, 3, 1};
    static const uint32_t masks[] = {PODSYNC_TRANSFORM_ALL, PODSYNC_TRANSFORM_ALL, PODSYNC_TRANSFORM_ALL, 0x6, 0xF, 0x4, 0x2, 0xE};
    pair_ctx *ctx = calloc((size_t)pairs, sizeof *ctx);
    hammer_ctx *hctx = calloc((size_t)(hammers ? hammers : 1), sizeof *hctx);
    pthread_t *threads = calloc((size_t)(2 * pairs + hammers), sizeof *threads);
    if (!ctx || !hctx || !threads) return 1;
    int started = 0;
    for (int i = 0; i < pairs; i++) {
        ctx[i].index = i;
        ctx[i].rounds = rounds;
        ctx[i].level = levels[i % 8];
        ctx[i].transforms = masks[i % 8];
        ctx[i].train = i % 8 == 2;
        pthread_mutex_init(&ctx[i].q.lock, NULL);
        pthread_cond_init(&ctx[i].q.ready, NULL);
        if (pthread_create(&threads[started++], NULL, writer_thread, &ctx[i]) != 0 ||
            pthread_create(&threads[started++], NULL, replica_thread, &ctx[i]) != 0) {
            fprintf(stderr, "threads: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < hammers; i++) {
        hctx[i].index = i;
        hctx[i].iterations = 400 * rounds / 60;
        if (pthread_create(&threads[started++], NULL, hammer_thread, &hctx[i]) != 0) {
            fprintf(stderr, "threads: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);

    size_t frames = 0;
    for (int i = 0; i < pairs; i++) {
        pair_ctx *p = &ctx[i];
        CHECK(p->writer_digest != 0 && p->writer_digest == p->replica_digest && p->replica_digest == p->served_digest,
              "pair %d (level %d, transforms 0x%x%s): digests writer %016" PRIx64 ", replica %016" PRIx64
              ", served snapshot %016" PRIx64,
              i, (int)p->level, p->transforms, p->train ? ", dictionary" : "", p->writer_digest, p->replica_digest, p->served_digest);
        frames += p->frames;
        pthread_mutex_destroy(&p->q.lock);
        pthread_cond_destroy(&p->q.ready);
    }
    for (size_t i = 0; i < g_shared.count; i++) free(g_shared.frame[i]);
    free(g_shared.schema);
    free(g_shared.prometheus);
    free(ctx);
    free(hctx);
    free(threads);
    printf("threads: %d writer/replica pairs (%zu frames), %d hammer threads, %d rounds\n", pairs, frames, hammers, rounds);
    unsigned long long failed = atomic_load(&g_failed);
    printf("threads: %llu passed, %llu failed\n", (unsigned long long)atomic_load(&g_passed), failed);
    return failed ? 1 : 0;
}
