/*
 * chunked_scenario.c — a deterministic randomized test of chunked snapshots and chunked catch-up
 * deltas over a lossy channel.
 *
 * Each run is two "worlds" (the op count is split between them). A world is one writer over three
 * tables of different record sizes and alignments (48 bytes aligned 8, 16 aligned 16, 192 aligned
 * 64; tens of thousands of records: dense key runs, random sparse keys, the keys 0 and 2^64 - 1)
 * that ticks: every tick updates, inserts and deletes records (put, put_many, delete,
 * delete_many) and usually flushes; the flush frames are broadcast to every replica. World 0's
 * writer sends plain format-1 frames; world 1's compresses (zstd level 1, every transform) and
 * writes format 2 for every frame. Replicas join at different times, leave and come back, go
 * offline (so that catching up needs PODSYNC_SNAPSHOT_REQUIRED and a snapshot), and get their
 * snapshots as chunks (podsync_snapshot_begin/next, or podsync_store_snapshot's outbox) from the
 * writer or from a peer replica that keeps applying deltas while it serves them; one joiner fills
 * in place (PODSYNC_OPT_FILL_IN_PLACE). Several snapshots stream at once, a few chunks a tick,
 * produced before, between and after the writer's writes and flushes (copy-on-write).
 *
 * The channel to each replica drops 10% of the messages, duplicates 10% (half of the copies arrive
 * soon, half up to 220 ticks late), delays 4% by 1-3 ticks and swaps 4% with their neighbour:
 * chunks and deltas alike. The back channel (requests from a replica to a producer) is reliable
 * but delayed 1 or 2 ticks. A replica that gets PODSYNC_CHUNK_GAP asks for
 * podsync_snapshot_resume() from podsync_store_staging()'s position; a producer that answers
 * PODSYNC_E_SNAPSHOT_EXPIRED makes it ask for a new snapshot; a delta GAP asks for
 * podsync_store_delta_since(), or for a snapshot on PODSYNC_SNAPSHOT_REQUIRED. Finished snapshot
 * handles are kept alive a few ticks (so some resumes are served from a live image and some
 * expire). A resume mostly asks for the chunk size the snapshot began with, sometimes another.
 *
 * A catch-up delta larger than the producer's max_frame_bytes comes as the chunks of a chunked
 * delta (all at once from delta_since), over the same lossy channel; 6% of them also go to another
 * replica (half of the time one that needs a snapshot), as on a shared channel. A replica stages
 * them and applies the staged delta at the LAST chunk. A delta is not resumed: a replica that loses
 * a chunk of the delta it stages asks for delta_since again at once (chunk 0 of the new one
 * replaces the staging), and after three such losses in a row asks for a snapshot instead (whose
 * chunk 0 replaces the delta staged). So delta chunks and snapshot chunks meet on one replica, and
 * chunk 0 of either replaces the staging of the other when at least as new.
 *
 * Checked at every step:
 *   - every chunk of a delta a producer makes: validates, format 2, CHUNK without RESET, base =
 *     the since version, version and digest the producer's, one fresh id, consecutive indexes and
 *     ranges from (0, 0), LAST on the last only, at most max_frame_bytes; a plain one holds puts of
 *     the writer's records at that version and deletes of keys it lacks there, all in its range,
 *     in ascending position, a change in every chunk but maybe the LAST, whose count is the sum;
 *     a one-frame catch-up delta fits in max_frame_bytes;
 *   - every chunk a producer makes: validates, format 2, RESET|CHUNK, the snapshot's id, stream,
 *     version and digest (the model's digest of the writer at that version), consecutive indexes,
 *     chunk 0 starting at (0, 0) and each next one where the previous ended (or where a resume
 *     asked), at most max_chunk_bytes (unless one record), a record in every chunk but maybe the
 *     LAST, the LAST chunk's record count; a plain chunk holds exactly the records of the writer at
 *     the snapshot's version whose position (table id, seed(t, k)) lies in its range, in ascending
 *     position (read in place); podsync_snapshot_position agrees; PODSYNC_DONE right after the
 *     LAST chunk;
 *   - every apply's status equals the one docs/FORMAT.md's rules 1-5 predict from an independent
 *     model of the replica's staging (a delta chunk: E_DIVERGED, E_STREAM_MISMATCH or DUPLICATE
 *     first, as the delta would be; at the LAST GAP or the apply), and podsync_store_staging()
 *     agrees with that model;
 *   - a replica's visible version, digest, stream and record counts never change on
 *     CHUNK_STAGED, CHUNK_GAP, DUPLICATE, STALE, GAP or an error (a fill-in-place joiner: version
 *     0, and its tables hold exactly the records of the chunks so far);
 *   - after a switch, or a staged delta applied, the replica's version and digest are the frame's,
 *     the digest is the model's for that version, and its records equal the model's copy of the
 *     writer at that version (when the test has that copy: always for the writer's deltas);
 *   - every resume is served or expires exactly as the header says (a live snapshot with that id
 *     on the producer, or the producer still at that version);
 *   - the counters of podsync_store_metrics (chunks_out, chunks_staged, chunk_gaps,
 *     snapshot_bytes_held, staging_bytes_held) agree with what happened (chunks of deltas count
 *     in all of them);
 *   - at the end every replica holds exactly the writer's records and digest, which equal the
 *     model's (a staging it may keep is not newer than its state).
 *
 * Usage: chunked_scenario [--seed N] [--ops N] [--verbose]   (ops: about the write operations of the whole run,
 *        default 1000000: 2 x 5000 ticks, 20-35 s)
 * Prints a summary per world (snapshots, then chunked deltas), a total line and "N passed, M failed";
 * exits 1 on any failure.
 *
 * Build: gcc -std=c99 -Wall -Wextra -Werror -O2 -Iinclude Tests/c/chunked_scenario.c \
 *            -L.build/release -lpodsync -Wl,-rpath,$PWD/.build/release -lxxhash -o chunked_scenario
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "podsync.h"

/* ---------------------------------------------------------------------------------------------- */
/* Checks                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static unsigned long long g_passed, g_failed;
#define MAX_REPORTED_FAILURES 40

static void fail_report(int line, const char *fmt, ...) {
    if (g_failed > MAX_REPORTED_FAILURES) {
        if (g_failed == MAX_REPORTED_FAILURES + 1) fprintf(stderr, "(further failures not shown)\n");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL (chunked_scenario.c:%d): ", line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define CHECK(cond, ...)                        \
    do {                                        \
        if (cond) {                             \
            g_passed++;                         \
        } else {                                \
            g_failed++;                         \
            fail_report(__LINE__, __VA_ARGS__); \
        }                                       \
    } while (0)

static int check_st(int line, const char *what, int32_t st, int32_t want, const char *msg) {
    if (st == want) {
        g_passed++;
        return 1;
    }
    g_failed++;
    fail_report(line, "%s returned %s (%d), expected %s: %s", what, podsync_status_name(st), (int)st,
                podsync_status_name(want), msg ? msg : "");
    return 0;
}
#define EXPECT_ST(what, st, want, store) check_st(__LINE__, what, st, want, (store) ? podsync_store_errmsg(store) : "")

static void die(const char *what) {
    fprintf(stderr, "fatal: %s\n", what);
    printf("%llu passed, %llu failed\n", g_passed, g_failed + 1);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}
static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory");
    return p;
}
static unsigned char *xalloc64(size_t size) {
    void *p = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0 || !p) die("out of memory");
    return p;
}

/* ---------------------------------------------------------------------------------------------- */
/* Deterministic PRNG (splitmix64)                                                                */
/* ---------------------------------------------------------------------------------------------- */

static uint64_t g_rng;
static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static int pm(unsigned permille) { return below(1000) < permille; }

/* ---------------------------------------------------------------------------------------------- */
/* Schema: three tables, ascending ids (the snapshot order is table id, then key)                 */
/* ---------------------------------------------------------------------------------------------- */

#define NT 3
static const uint32_t TID[NT] = {3, 9, 20};
static const uint32_t TSIZE[NT] = {48, 16, 192};
static const uint32_t TALIGN[NT] = {8, 16, 64};
#define MAX_REC 192u

static int table_index(uint32_t id) {
    for (int t = 0; t < NT; t++)
        if (TID[t] == id) return t;
    return -1;
}

static podsync_schema *make_schema(void) {
    podsync_schema *schema = NULL;
    if (podsync_schema_create(&schema) != PODSYNC_OK) die("podsync_schema_create");
    static const podsync_field f0[] = {{"id", PODSYNC_TYPE_U64, 0, 1, 0},
                                       {"pos", PODSYNC_TYPE_F32, 8, 6, 0},
                                       {"state", PODSYNC_TYPE_U32, 32, 1, 0},
                                       {"pad", PODSYNC_TYPE_BYTES, 36, 12, 0}};
    static const podsync_field f1[] = {
        {"a", PODSYNC_TYPE_U64, 0, 1, 0}, {"b", PODSYNC_TYPE_U32, 8, 1, 0}, {"c", PODSYNC_TYPE_I32, 12, 1, 0}};
    static const podsync_field f2[] = {{"id", PODSYNC_TYPE_U64, 0, 1, 0}, {"blob", PODSYNC_TYPE_BYTES, 8, 184, 0}};
    /* added out of order on purpose: the snapshot order is by table id, not by insertion */
    if (podsync_schema_add_table(schema, TID[2], TSIZE[2], TALIGN[2], f2, 2) != PODSYNC_OK ||
        podsync_schema_add_table(schema, TID[0], TSIZE[0], TALIGN[0], f0, 4) != PODSYNC_OK ||
        podsync_schema_add_table(schema, TID[1], TSIZE[1], TALIGN[1], f1, 3) != PODSYNC_OK) {
        fprintf(stderr, "%s\n", podsync_schema_errmsg(schema));
        die("podsync_schema_add_table");
    }
    return schema;
}

/* docs/FORMAT.md "State digest": the sum of h(table_id, key, record). */
static uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}
/* seed(t, k): the key's hash, also the order of a chunked snapshot within a table. */
static uint64_t key_seed(int t, uint64_t key) { return fmix64(key ^ ((uint64_t)TID[t] * 0x9E3779B97F4A7C15ull)); }
static uint64_t record_hash(int t, uint64_t key, const void *rec) {
    return XXH3_64bits_withSeed(rec, TSIZE[t], key_seed(t, key));
}

/* ---------------------------------------------------------------------------------------------- */
/* The model of the writer: per table an open-addressing hash of key -> live and flushed record   */
/* ---------------------------------------------------------------------------------------------- */

#define F_USED 1u
#define F_LIVE 2u
#define F_FLUSHED 4u
#define F_DIRTY 8u
#define NONE32 0xFFFFFFFFu

typedef struct mtab {
    uint32_t cap, used;
    uint64_t *key;
    uint8_t *flag;
    unsigned char *val, *fval;   /* the live value, the value at the last flush */
    uint32_t *dirty;
    size_t ndirty;
    uint32_t *live_list, *live_pos; /* the live slots, for picking existing keys */
    size_t nlive, nflushed;
    uint64_t dense_base, dense_next;
} mtab;

static mtab g_m[NT];
static uint64_t g_live_digest, g_flushed_digest;

static uint32_t mt_hash(const mtab *m, uint64_t key) { return (uint32_t)fmix64(key ^ 0x5bd1e995ull) & (m->cap - 1); }

static void mt_init(mtab *m, uint32_t cap) {
    memset(m, 0, sizeof *m);
    m->cap = cap;
    m->key = xcalloc(cap, 8);
    m->flag = xcalloc(cap, 1);
    m->val = xcalloc(cap, MAX_REC);
    m->fval = xcalloc(cap, MAX_REC);
    m->dirty = xcalloc(cap, 4);
    m->live_list = xcalloc(cap, 4);
    m->live_pos = xcalloc(cap, 4);
}

static void mt_free(mtab *m) {
    free(m->key);
    free(m->flag);
    free(m->val);
    free(m->fval);
    free(m->dirty);
    free(m->live_list);
    free(m->live_pos);
    memset(m, 0, sizeof *m);
}

static void mt_grow(mtab *m, uint32_t rsize) {
    mtab n = *m;
    n.cap = m->cap * 2;
    n.key = xcalloc(n.cap, 8);
    n.flag = xcalloc(n.cap, 1);
    n.val = xcalloc(n.cap, rsize);
    n.fval = xcalloc(n.cap, rsize);
    n.dirty = xcalloc(n.cap, 4);
    n.live_list = xcalloc(n.cap, 4);
    n.live_pos = xcalloc(n.cap, 4);
    uint32_t *map = xcalloc(m->cap, 4);
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!(m->flag[i] & F_USED)) continue;
        uint32_t j = mt_hash(&n, m->key[i]);
        while (n.flag[j] & F_USED) j = (j + 1) & (n.cap - 1);
        n.flag[j] = m->flag[i];
        n.key[j] = m->key[i];
        memcpy(n.val + (size_t)j * rsize, m->val + (size_t)i * rsize, rsize);
        memcpy(n.fval + (size_t)j * rsize, m->fval + (size_t)i * rsize, rsize);
        map[i] = j;
    }
    for (size_t i = 0; i < m->ndirty; i++) n.dirty[i] = map[m->dirty[i]];
    for (size_t i = 0; i < m->nlive; i++) {
        n.live_list[i] = map[m->live_list[i]];
        n.live_pos[n.live_list[i]] = (uint32_t)i;
    }
    free(map);
    mt_free(m);
    *m = n;
}

/* The slot of key in table t (created, not live, if create), or NONE32. */
static uint32_t mt_find(int t, uint64_t key, int create) {
    mtab *m = &g_m[t];
    if (create && (m->used + 1) * 10 > m->cap * 7) mt_grow(m, TSIZE[t]);
    uint32_t i = mt_hash(m, key);
    for (;;) {
        if (!(m->flag[i] & F_USED)) {
            if (!create) return NONE32;
            m->flag[i] = F_USED;
            m->key[i] = key;
            m->used++;
            return i;
        }
        if (m->key[i] == key) return i;
        i = (i + 1) & (m->cap - 1);
    }
}

static unsigned char *mval(int t, uint32_t slot) { return g_m[t].val + (size_t)slot * TSIZE[t]; }
static unsigned char *mfval(int t, uint32_t slot) { return g_m[t].fval + (size_t)slot * TSIZE[t]; }

static void mt_dirty(mtab *m, uint32_t slot) {
    if (!(m->flag[slot] & F_DIRTY)) {
        m->flag[slot] |= F_DIRTY;
        m->dirty[m->ndirty++] = slot;
    }
}

static void model_put(int t, uint64_t key, const void *rec) {
    mtab *m = &g_m[t];
    uint32_t s = mt_find(t, key, 1);
    if (m->flag[s] & F_LIVE) {
        g_live_digest -= record_hash(t, key, mval(t, s));
    } else {
        m->flag[s] |= F_LIVE;
        m->live_pos[s] = (uint32_t)m->nlive;
        m->live_list[m->nlive++] = s;
    }
    memcpy(mval(t, s), rec, TSIZE[t]);
    g_live_digest += record_hash(t, key, rec);
    mt_dirty(m, s);
}

static int model_delete(int t, uint64_t key) {
    mtab *m = &g_m[t];
    uint32_t s = mt_find(t, key, 0);
    if (s == NONE32 || !(m->flag[s] & F_LIVE)) return 0;
    g_live_digest -= record_hash(t, key, mval(t, s));
    m->flag[s] &= (uint8_t)~F_LIVE;
    uint32_t p = m->live_pos[s], last = m->live_list[--m->nlive];
    m->live_list[p] = last;
    m->live_pos[last] = p;
    mt_dirty(m, s);
    return 1;
}

/* Changes a flush must send: dirty keys, except those created and deleted within the batch. */
static size_t model_pending_changes(void) {
    size_t n = 0;
    for (int t = 0; t < NT; t++)
        for (size_t i = 0; i < g_m[t].ndirty; i++) {
            uint8_t f = g_m[t].flag[g_m[t].dirty[i]];
            if ((f & F_LIVE) || (f & F_FLUSHED)) n++;
        }
    return n;
}

static void model_flushed(void) {
    for (int t = 0; t < NT; t++) {
        mtab *m = &g_m[t];
        for (size_t i = 0; i < m->ndirty; i++) {
            uint32_t s = m->dirty[i];
            uint8_t f = m->flag[s];
            if ((f & F_FLUSHED) && !(f & F_LIVE)) m->nflushed--;
            if (!(f & F_FLUSHED) && (f & F_LIVE)) m->nflushed++;
            f &= (uint8_t) ~(F_DIRTY | F_FLUSHED);
            if (f & F_LIVE) {
                f |= F_FLUSHED;
                memcpy(mfval(t, s), mval(t, s), TSIZE[t]);
            }
            m->flag[s] = f;
        }
        m->ndirty = 0;
    }
    g_flushed_digest = g_live_digest;
}

/* ---------------------------------------------------------------------------------------------- */
/* Version images: the model's copy of the writer's records at one version, in snapshot order:    */
/* table by table (ascending id), within a table by seed(t, k) (include/podsync.h: a chunk covers */
/* a range of (table id, seed))                                                                   */
/* ---------------------------------------------------------------------------------------------- */

typedef struct vimg {
    uint64_t version, digest;
    int refs;
    size_t n[NT], start[NT + 1];
    uint64_t *keys[NT];
    uint64_t *seeds[NT]; /* ascending */
    unsigned char *recs[NT];
    uint64_t *prefix; /* prefix[i]: the digest of the first i records in snapshot order */
} vimg;

static unsigned long long g_images_built;

/* Sorts n (seed, slot) pairs by seed: an LSD radix sort, 8 passes of 8 bits (with qsort, building
   the images of chunked catch-up deltas took a third of the run). */
static void sort_pairs(uint64_t *pairs, size_t n) {
    if (n < 2) return;
    uint64_t *tmp = xmalloc(n * 16), *src = pairs, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257];
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) count[((src[2 * i] >> shift) & 255) + 1]++;
        if (count[((src[0] >> shift) & 255) + 1] == n) continue; /* one digit value: nothing moves */
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) {
            size_t d = count[(src[2 * i] >> shift) & 255]++;
            dst[2 * d] = src[2 * i];
            dst[2 * d + 1] = src[2 * i + 1];
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != pairs) memcpy(pairs, src, n * 16);
    free(tmp);
}

static vimg *img_build(uint64_t version) {
    vimg *im = xcalloc(1, sizeof *im);
    im->version = version;
    im->refs = 1;
    size_t total = 0;
    for (int t = 0; t < NT; t++) {
        mtab *m = &g_m[t];
        uint64_t *pairs = xmalloc((m->nflushed + 1) * 16);
        size_t n = 0;
        for (uint32_t s = 0; s < m->cap; s++)
            if (m->flag[s] & F_FLUSHED) {
                pairs[2 * n] = key_seed(t, m->key[s]);
                pairs[2 * n + 1] = s;
                n++;
            }
        if (n != m->nflushed) die("model flushed count");
        sort_pairs(pairs, n);
        im->n[t] = n;
        im->start[t] = total;
        im->keys[t] = xmalloc(n * 8);
        im->seeds[t] = xmalloc(n * 8);
        im->recs[t] = xmalloc(n * TSIZE[t]);
        for (size_t i = 0; i < n; i++) {
            im->seeds[t][i] = pairs[2 * i];
            im->keys[t][i] = m->key[pairs[2 * i + 1]];
            memcpy(im->recs[t] + i * TSIZE[t], mfval(t, (uint32_t)pairs[2 * i + 1]), TSIZE[t]);
        }
        free(pairs);
        total += n;
    }
    im->start[NT] = total;
    im->prefix = xmalloc((total + 1) * 8);
    im->prefix[0] = 0;
    size_t g = 0;
    for (int t = 0; t < NT; t++)
        for (size_t i = 0; i < im->n[t]; i++, g++)
            im->prefix[g + 1] = im->prefix[g] + record_hash(t, im->keys[t][i], im->recs[t] + i * TSIZE[t]);
    im->digest = im->prefix[total];
    g_images_built++;
    return im;
}

static void img_unref(vimg *im) {
    if (!im || --im->refs > 0) return;
    for (int t = 0; t < NT; t++) {
        free(im->keys[t]);
        free(im->seeds[t]);
        free(im->recs[t]);
    }
    free(im->prefix);
    free(im);
}

static size_t img_total(const vimg *im) { return im->start[NT]; }

/* Index of the first seed >= h in table t's seeds. */
static size_t seed_lower_bound(const vimg *im, int t, uint64_t h) {
    size_t lo = 0, hi = im->n[t];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (im->seeds[t][mid] < h) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The position (in snapshot order) of the first record at or after (table_id, seed h). */
static size_t img_lower_bound(const vimg *im, uint32_t table_id, uint64_t h) {
    for (int t = 0; t < NT; t++) {
        if (TID[t] < table_id) continue;
        if (TID[t] > table_id) return im->start[t];
        return im->start[t] + seed_lower_bound(im, t, h);
    }
    return im->start[NT];
}

/* ---------------------------------------------------------------------------------------------- */
/* World state                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

#define NREP 6
#define MAX_SESS 48
#define PEER 0  /* replica 0 also serves snapshots */
#define INPLACE 2 /* replica 2 fills in place */

typedef struct reg reg;

typedef struct msg {
    unsigned char *data;
    size_t size;
    uint64_t ready;
    reg *rg; /* the snapshot or chunked delta a chunk belongs to; NULL for other frames */
} msg;

typedef struct queue {
    msg *v;
    size_t n, cap;
} queue;

/* A snapshot id known to the test: its image, its producer (-1 the writer, else a replica). A
   chunked catch-up delta has one too (a fresh id per podsync_store_delta_since call). */
struct reg {
    uint64_t id, stream;
    vimg *img; /* a snapshot's image; a delta's: the image at its version, NULL when the test has none */
    int producer;
    size_t max_chunk; /* as the snapshot began (a resume mostly asks for the same size) */
    int is_delta;     /* the chunks of a catch-up delta (CHUNK without RESET) */
    uint64_t base;    /* a delta's base_version (the since version), 0 for a snapshot */
    uint64_t version; /* the state_version */
    int refs;
    reg *next;
};

typedef struct session {
    int used, producer, target;
    podsync_snapshot *h;
    reg *rg;
    size_t max_chunk;   /* as asked (0: the producer's max_frame_bytes) */
    size_t limit;       /* the effective limit */
    size_t per_tick;    /* chunks produced per tick */
    uint64_t next_index;
    size_t pos;         /* image position of the next chunk */
    uint32_t next_table; /* where the next chunk must start: the previous chunk's end, or the */
    uint64_t next_key;   /* start a resume asked for */
    int last_seen, done, grace;
    unsigned producer_resets; /* the producer's switches when the session began (replica producers) */
} session;

enum { REQ_SNAPSHOT = 1, REQ_RESUME, REQ_DELTA };

typedef struct req {
    int kind, target;
    uint64_t ready, since;
    podsync_chunk_position pos;
    reg *rg;
} req;

typedef struct replica {
    podsync_store *s;
    podsync_store_options opts;
    int alive, inplace_opt;
    int needs_snapshot;
    uint64_t offline_until, offline_until_version, last_progress;
    uint64_t snap_req_tick, resume_req_tick, delta_req_tick, delta_req_since;
    uint64_t delta_lost_id; /* the chunked delta whose lost chunk made it ask again at once */
    unsigned delta_losses;  /* chunked deltas lost in a row (at 3 it asks for a snapshot instead) */
    podsync_chunk_position resume_req_pos;
    queue q;
    struct {
        int active, inplace;
        reg *rg;
        uint64_t next_index, next_key;
        uint32_t next_table;
        size_t pos;
    } stg;
    reg *wanted; /* nothing staged: chunk 0 of this snapshot, after a CHUNK_GAP */
    unsigned resets;
    uint64_t need_since; /* when it last began to need a snapshot */
    unsigned long long n_staged, n_gaps; /* since the store was created (metrics cross-check) */
    unsigned recreations;
} replica;

typedef struct counters {
    unsigned long long ticks, writes, flushes, frames, chunks, chunk_bytes, sent, dropped, duplicated, delayed,
        swapped, delivered, outages, snapshots, writer_snapshots, peer_snapshots, outbox_snapshots, resumes,
        resumes_live, expiries, obsolete_requests, switches, inplace_switches, staged, gaps, chunk_dups,
        chunk_stale, delta_ok, delta_dups, delta_gaps, delta_heals, peer_heals, snapshot_required, recreations,
        content_checks, switch_stale, resize_resumes, mismatches, max_sessions, empty_last_chunks,
        /* chunked catch-up deltas: produced, their chunks, sent to another replica too; at the
           replicas: applied at the LAST chunk, GAP there, chunks staged, CHUNK_GAP, DUPLICATE,
           STALE; a new delta asked after a lost chunk; a staging replaced by chunk 0 of another
           kind or another delta; replicas checked record by record after one */
        dchunked, dchunks, dchunk_bytes, doverheard, dswitch_ok, dswitch_gap, dstaged, dgaps, ddups, dstale,
        drerequests, dfallbacks, delta_over_snapshot, snapshot_over_delta, delta_over_delta, dcontent_checks, dleftover,
        dinplace_dropped;
} counters;

static counters C, CT; /* this world's, the run's */

typedef struct world {
    int index;
    int32_t level;
    uint32_t frame_format;
    uint64_t max_frame_bytes;
    int32_t peer_level;
} world;

static world g_w;
static podsync_schema *g_schema;
static uint64_t g_schema_hash;
static podsync_store *g_writer;
static podsync_store_options g_wopts;
static uint64_t g_stream;
static uint64_t g_version;
static uint64_t *g_digest_hist;
static uint8_t *g_digest_known; /* 2: the model's digest, 1: a frame's */
static size_t g_hist_cap;
static vimg *g_cur_img;
static uint64_t g_tick;
static int g_ending;            /* the final phase: no loss, no writes */
static replica g_rep[NREP];
static session g_sess[MAX_SESS];
static reg *g_regs;
static req *g_reqs;
static size_t g_nreq, g_req_cap;
static unsigned long long g_writer_chunks; /* chunks the writer produced (metrics.chunks_out) */
static unsigned long long g_peer_chunks;   /* by the current peer store */
static uint64_t g_horizon;
static int g_verbose; /* --verbose: a line per switch */

static uint64_t store_version(const podsync_store *s) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    if (podsync_store_info_get(s, &info) != PODSYNC_OK) die("podsync_store_info_get");
    return info.state_version;
}

static void hist_set(uint64_t v, uint64_t digest, uint8_t known) {
    if (v >= g_hist_cap) {
        size_t cap = g_hist_cap ? g_hist_cap : 1024;
        while (cap <= v) cap *= 2;
        g_digest_hist = realloc(g_digest_hist, cap * 8);
        g_digest_known = realloc(g_digest_known, cap);
        if (!g_digest_hist || !g_digest_known) die("out of memory");
        memset(g_digest_known + g_hist_cap, 0, cap - g_hist_cap);
        g_hist_cap = cap;
    }
    if (g_digest_known[v] == 2 && known < 2) {
        CHECK(g_digest_hist[v] == digest, "version %" PRIu64 ": frame digest %016" PRIx64 " != model %016" PRIx64, v,
              digest, g_digest_hist[v]);
        return;
    }
    if (g_digest_known[v] && g_digest_known[v] >= known) {
        CHECK(g_digest_hist[v] == digest, "version %" PRIu64 " seen with two digests %016" PRIx64 " and %016" PRIx64,
              v, g_digest_hist[v], digest);
    }
    g_digest_hist[v] = digest;
    g_digest_known[v] = known;
}

static vimg *current_image(void) {
    if (!g_cur_img || g_cur_img->version != g_version) {
        img_unref(g_cur_img);
        g_cur_img = img_build(g_version);
        CHECK(g_cur_img->digest == g_flushed_digest, "image digest differs from the model's flushed digest");
    }
    return g_cur_img;
}

/* ---------------------------------------------------------------------------------------------- */
/* Registry of snapshot ids                                                                       */
/* ---------------------------------------------------------------------------------------------- */

static reg *reg_find(uint64_t id) {
    for (reg *r = g_regs; r; r = r->next)
        if (r->id == id) return r;
    return NULL;
}

static reg *reg_add(uint64_t id, uint64_t stream, vimg *img, int producer) {
    reg *r = xcalloc(1, sizeof *r);
    r->id = id;
    r->stream = stream;
    r->img = img;
    if (img) {
        img->refs++;
        r->version = img->version;
    }
    r->producer = producer;
    r->refs = 0;
    r->next = g_regs;
    g_regs = r;
    return r;
}

static reg *reg_ref(reg *r) {
    if (r) r->refs++;
    return r;
}

static void reg_unref(reg *r) {
    if (!r || --r->refs > 0) return;
    for (reg **p = &g_regs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    img_unref(r->img);
    free(r);
}

/* ---------------------------------------------------------------------------------------------- */
/* The lossy channel to each replica and the reliable, delayed back channel                       */
/* ---------------------------------------------------------------------------------------------- */

static void enqueue(int r, const uint8_t *data, size_t size, reg *rg, uint64_t ready) {
    queue *q = &g_rep[r].q;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 256;
        q->v = realloc(q->v, q->cap * sizeof(msg));
        if (!q->v) die("out of memory");
    }
    msg *m = &q->v[q->n++];
    m->data = xalloc64(size);
    memcpy(m->data, data, size);
    m->size = size;
    m->ready = ready;
    m->rg = reg_ref(rg);
}

/* Cut off: everything sent to it is lost, it sends nothing (until a tick, or until the writer has
   passed a version: long enough that catching up needs a snapshot). */
static int offline(const replica *R) { return g_tick < R->offline_until || g_version < R->offline_until_version; }

static void chan_send(int r, const uint8_t *data, size_t size, reg *rg) {
    replica *R = &g_rep[r];
    if (!R->alive) return;
    C.sent++;
    if (g_ending) {
        enqueue(r, data, size, rg, g_tick);
        return;
    }
    if (offline(R) || pm(100)) {
        C.dropped++;
        return;
    }
    uint64_t ready = g_tick;
    if (pm(40)) {
        ready += 1 + below(3);
        C.delayed++;
    }
    enqueue(r, data, size, rg, ready);
    if (pm(100)) {
        C.duplicated++;
        /* mostly soon, sometimes very late (a chunk of a snapshot the replica has left behind) */
        enqueue(r, data, size, rg, g_tick + (pm(50) ? 20 + below(200) : below(4)));
    }
}

static void queue_clear(queue *q) {
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].data);
        reg_unref(q->v[i].rg);
    }
    q->n = 0;
}

static void send_req(int kind, int target, uint64_t since, const podsync_chunk_position *pos, reg *rg) {
    if (g_nreq == g_req_cap) {
        g_req_cap = g_req_cap ? g_req_cap * 2 : 64;
        g_reqs = realloc(g_reqs, g_req_cap * sizeof(req));
        if (!g_reqs) die("out of memory");
    }
    req *q = &g_reqs[g_nreq++];
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->target = target;
    q->ready = g_tick + (g_ending ? 0 : pm(800) ? 1 : 2);
    q->since = since;
    if (pos) q->pos = *pos;
    q->rg = reg_ref(rg);
}

/* ---------------------------------------------------------------------------------------------- */
/* Visible state of a replica                                                                     */
/* ---------------------------------------------------------------------------------------------- */

typedef struct vis {
    uint64_t version, digest, stream;
    size_t count[NT];
    uint32_t diverged;
} vis;

static vis capture(const podsync_store *s) {
    vis v;
    memset(&v, 0, sizeof v);
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    if (podsync_store_info_get(s, &info) != PODSYNC_OK) die("podsync_store_info_get");
    v.version = info.state_version;
    v.digest = info.digest;
    v.stream = info.stream_id;
    v.diverged = info.diverged;
    uint64_t d = 0;
    if (podsync_store_digest(s, &d) != PODSYNC_OK || d != info.digest) {
        g_failed++;
        fail_report(__LINE__, "podsync_store_digest %016" PRIx64 " != info.digest %016" PRIx64, d, info.digest);
    }
    for (int t = 0; t < NT; t++)
        if (podsync_store_count(s, TID[t], &v.count[t]) != PODSYNC_OK) die("podsync_store_count");
    return v;
}

static int vis_equal(const vis *a, const vis *b) {
    if (a->version != b->version || a->digest != b->digest || a->stream != b->stream || a->diverged != b->diverged)
        return 0;
    for (int t = 0; t < NT; t++)
        if (a->count[t] != b->count[t]) return 0;
    return 1;
}

/* The replica holds exactly the image's records (count per table, then every record). */
static void check_contents(int r, const vimg *im, const char *when) {
    podsync_store *s = g_rep[r].s;
    C.content_checks++;
    for (int t = 0; t < NT; t++) {
        size_t count = 0;
        podsync_store_count(s, TID[t], &count);
        CHECK(count == im->n[t], "%s: replica %d table %u holds %zu records, the writer had %zu at version %" PRIu64,
              when, r, TID[t], count, im->n[t], im->version);
        size_t bad = 0;
        for (size_t i = 0; i < im->n[t]; i++) {
            const void *rec = NULL;
            int32_t st = podsync_store_get(s, TID[t], im->keys[t][i], &rec);
            if (st != PODSYNC_OK || !rec || memcmp(rec, im->recs[t] + i * TSIZE[t], TSIZE[t]) != 0) {
                if (bad++ < 3)
                    fail_report(__LINE__, "%s: replica %d record (%u, %" PRIu64 "): %s / bytes differ (version %" PRIu64
                                ")", when, r, TID[t], im->keys[t][i], podsync_status_name(st), im->version);
            }
        }
        CHECK(bad == 0, "%s: replica %d: %zu of %zu records of table %u differ from the writer's at version %" PRIu64,
              when, r, bad, im->n[t], TID[t], im->version);
    }
}

/* podsync_store_staging agrees with the model of replica r's staging. */
static void check_staging(int r, const char *when) {
    replica *R = &g_rep[r];
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    int32_t st = podsync_store_staging(R->s, &p);
    if (R->stg.active) {
        if (!EXPECT_ST("podsync_store_staging (staging)", st, PODSYNC_OK, R->s)) return;
        CHECK(p.snapshot_id == R->stg.rg->id && p.stream_id == R->stg.rg->stream &&
                  p.state_version == R->stg.rg->version && p.chunk_index == R->stg.next_index &&
                  p.start_table == R->stg.next_table && p.start_key == R->stg.next_key && p.term == 0,
              "%s: replica %d staging() says snapshot %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64 " at (%u, %" PRIu64
              "), the model %s %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64 " at (%u, %" PRIu64 ")",
              when, r, p.snapshot_id, p.state_version, p.chunk_index, p.start_table, p.start_key,
              R->stg.rg->is_delta ? "delta" : "snapshot", R->stg.rg->id, R->stg.rg->version, R->stg.next_index,
              R->stg.next_table, R->stg.next_key);
    } else if (R->wanted) {
        if (!EXPECT_ST("podsync_store_staging (wanted)", st, PODSYNC_OK, R->s)) return;
        CHECK(p.snapshot_id == R->wanted->id && p.stream_id == R->wanted->stream &&
                  p.state_version == R->wanted->version && p.chunk_index == 0 && p.start_table == 0 &&
                  p.start_key == 0,
              "%s: replica %d staging() says snapshot %016" PRIx64 " chunk %" PRIu64 ", the model chunk 0 of %016" PRIx64,
              when, r, p.snapshot_id, p.chunk_index, R->wanted->id);
    } else {
        EXPECT_ST("podsync_store_staging (nothing)", st, PODSYNC_NOT_FOUND, R->s);
    }
    podsync_metrics mt;
    memset(&mt, 0, sizeof mt);
    mt.version = PODSYNC_METRICS_VERSION;
    if (podsync_store_metrics(R->s, &mt) == PODSYNC_OK) {
        CHECK(mt.chunks_staged == R->n_staged && mt.chunk_gaps == R->n_gaps,
              "%s: replica %d metrics chunks_staged %" PRIu64 " chunk_gaps %" PRIu64 ", the test counted %llu and %llu",
              when, r, mt.chunks_staged, mt.chunk_gaps, R->n_staged, R->n_gaps);
        int holds = R->stg.active && !R->stg.inplace;
        CHECK(holds ? mt.staging_bytes_held > 0 : mt.staging_bytes_held == 0,
              "%s: replica %d staging_bytes_held %" PRIu64 " while %s", when, r, mt.staging_bytes_held,
              holds ? "staging" : "staging nothing beside its state");
    } else {
        CHECK(0, "podsync_store_metrics failed");
    }
}

static void stg_drop(replica *R) {
    if (R->stg.active) reg_unref(R->stg.rg);
    memset(&R->stg, 0, sizeof R->stg);
}

static void set_wanted(replica *R, reg *rg) {
    reg_ref(rg);
    reg_unref(R->wanted);
    R->wanted = rg;
}

/* What podsync_store_staging() names (in the model): the staging, or chunk 0 of the chunked frame
   wanted after a CHUNK_GAP with nothing staged; NULL for neither. */
static reg *stg_target(const replica *R) { return R->stg.active ? R->stg.rg : R->wanted; }

/* A staging that can still switch: newer than the visible state. (docs/FORMAT.md rule 1 keeps an
   older one staged: its chunks are STALE or DUPLICATE until a chunk 0 of a newer frame replaces
   it.) */
static int stg_pending(const replica *R) { return R->stg.active && R->stg.rg->version > store_version(R->s); }

/* ---------------------------------------------------------------------------------------------- */
/* Producers and sessions                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static podsync_store *producer_store(int producer) { return producer < 0 ? g_writer : g_rep[producer].s; }
static const podsync_store_options *producer_opts(int producer) {
    return producer < 0 ? &g_wopts : &g_rep[producer].opts;
}

static void session_free(session *s) {
    if (!s->used) return;
    podsync_snapshot_free(s->h);
    reg_unref(s->rg);
    memset(s, 0, sizeof *s);
}

static session *session_new(void) {
    for (int i = 0; i < MAX_SESS; i++)
        if (!g_sess[i].used) {
            memset(&g_sess[i], 0, sizeof g_sess[i]);
            g_sess[i].used = 1;
            return &g_sess[i];
        }
    return NULL;
}

static void cancel_sessions_to(int target, const session *except) {
    for (int i = 0; i < MAX_SESS; i++)
        if (g_sess[i].used && g_sess[i].target == target && &g_sess[i] != except && !g_sess[i].done)
            session_free(&g_sess[i]);
}

static size_t pick_chunk_size(void) {
    static const size_t sizes[] = {2048, 5000, 8192, 16384, 16384, 24000, 32768, 32768, 65536, 65536, 0, 0};
    if (!pm(150)) return sizes[2 + below(sizeof sizes / sizeof sizes[0] - 2)];
    return sizes[below(sizeof sizes / sizeof sizes[0])];
}

static size_t effective_limit(int producer, size_t asked) {
    if (asked) return asked;
    uint64_t m = producer_opts(producer)->max_frame_bytes;
    return m ? (size_t)m : (size_t)67108864;
}

static size_t chunks_per_tick(size_t limit) {
    /* about 64-192 KiB a tick and session, 2 to 8 chunks */
    size_t bytes = (size_t)(64 + below(129)) * 1024;
    size_t n = bytes / (limit < 4096 ? 4096 : limit);
    return n < 2 ? 2 : n > 16 ? 16 : n;
}

/* Checks a chunk the session's producer made, and advances the session. Returns 1 if good enough
   to send. */
static int check_chunk(session *s, const uint8_t *data, size_t size, const char *what) {
    const vimg *im = s->rg->img;
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    int32_t st = podsync_frame_validate(data, size, &fi);
    if (!EXPECT_ST(what, st, PODSYNC_OK, NULL)) return 0;
    CHECK(((uintptr_t)data & 63) == 0, "%s: chunk not 64-byte aligned", what);
    uint32_t want_flags = PODSYNC_FRAME_RESET | PODSYNC_FRAME_CHUNK | PODSYNC_FRAME_HAS_DIGEST;
    CHECK(fi.format_version == 2 && fi.flags == want_flags && fi.frame_length == size,
          "%s: format %u flags 0x%x length %" PRIu64 " (size %zu)", what, fi.format_version, fi.flags, fi.frame_length,
          size);
    CHECK(fi.snapshot_id == s->rg->id && fi.stream_id == s->rg->stream && fi.state_version == im->version &&
              fi.base_version == 0 && fi.term == 0 && fi.schema_hash == g_schema_hash,
          "%s: snapshot %016" PRIx64 " stream %016" PRIx64 " version %" PRIu64 " base %" PRIu64 ", expected %016" PRIx64
          " %016" PRIx64 " %" PRIu64, what, fi.snapshot_id, fi.stream_id, fi.state_version, fi.base_version, s->rg->id,
          s->rg->stream, im->version);
    CHECK(fi.state_digest == im->digest, "%s: chunk digest %016" PRIx64 " != the writer's %016" PRIx64 " at version %"
          PRIu64, what, fi.state_digest, im->digest, im->version);
    CHECK(fi.chunk_index == s->next_index, "%s: chunk index %" PRIu64 ", expected %" PRIu64, what, fi.chunk_index,
          s->next_index);
    size_t total = img_total(im);
    /* where it starts: (0, 0), or where the previous chunk ended (or the resume asked) */
    uint32_t want_table = fi.chunk_index == 0 ? 0u : s->next_table;
    uint64_t want_key = fi.chunk_index == 0 ? 0u : s->next_key;
    CHECK(fi.chunk_start_table == want_table && fi.chunk_start_key == want_key,
          "%s: chunk %" PRIu64 " starts at (%u, %016" PRIx64 "), expected (%u, %016" PRIx64 ")", what, fi.chunk_index,
          fi.chunk_start_table, fi.chunk_start_key, want_table, want_key);
    int last = (fi.chunk_flags & PODSYNC_CHUNK_LAST) != 0;
    CHECK((fi.chunk_flags & ~PODSYNC_CHUNK_LAST) == 0, "%s: chunk flags 0x%x", what, fi.chunk_flags);
    size_t end = last ? total : img_lower_bound(im, fi.chunk_end_table, fi.chunk_end_key);
    if (last) {
        CHECK(fi.chunk_record_count == total, "%s: LAST chunk says %" PRIu64 " records, the snapshot has %zu", what,
              fi.chunk_record_count, total);
    } else {
        CHECK(fi.chunk_end_table > fi.chunk_start_table ||
                  (fi.chunk_end_table == fi.chunk_start_table && fi.chunk_end_key > fi.chunk_start_key),
              "%s: chunk %" PRIu64 " ends at (%u, %016" PRIx64 "), not after its start", what, fi.chunk_index,
              fi.chunk_end_table, fi.chunk_end_key);
    }
    if (end < s->pos) end = s->pos;
    size_t n = end - s->pos;
    /* docs/FORMAT.md: "A chunk holds at least one record, except the only chunk of an empty state
       (and, from PodSync's writer, a LAST chunk whose range holds no record)" */
    CHECK(n >= 1 || total == 0 || last, "%s: chunk %" PRIu64 " of snapshot %016" PRIx64 " (v%" PRIu64 ", %zu records) "
          "from (%u, %016" PRIx64 ") holds no record", what, fi.chunk_index, fi.snapshot_id, fi.state_version, total,
          fi.chunk_start_table, fi.chunk_start_key);
    if (n == 0 && last && total > 0) C.empty_last_chunks++;
    CHECK(size <= s->limit || n == 1, "%s: chunk of %zu bytes (%zu records), max_chunk_bytes %zu", what, size, n,
          s->limit);
    /* codec: what the producer's options allow */
    const podsync_store_options *o = producer_opts(s->producer);
    CHECK(o->compression_level != 0 || (fi.codec == PODSYNC_CODEC_NONE && fi.transforms == 0),
          "%s: codec %u transforms 0x%x from a producer that does not compress", what, fi.codec, fi.transforms);
    CHECK((fi.transforms & (PODSYNC_TRANSFORM_XOR | PODSYNC_TRANSFORM_FIELDS)) == 0, "%s: a chunk with XOR or FIELDS", what);
    /* a plain chunk: its records, read in place, are exactly the snapshot's records of its range */
    if (fi.codec == PODSYNC_CODEC_NONE && fi.transforms == 0) {
        unsigned char *seen = xcalloc(n ? n : 1, 1);
        size_t got = 0, bad = 0;
        for (uint32_t i = 0; i < fi.section_count; i++) {
            podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
            st = podsync_frame_section_get(data, size, i, &sec);
            if (!EXPECT_ST("podsync_frame_section_get(chunk)", st, PODSYNC_OK, NULL)) break;
            int t = table_index(sec.table_id);
            CHECK(t >= 0 && sec.record_size == TSIZE[t] && sec.delete_count == 0, "%s: section of table %u", what,
                  sec.table_id);
            if (t < 0) break;
            for (uint64_t j = 0; j < sec.put_count; j++, got++) {
                uint64_t key = sec.put_keys[j];
                /* PodSync's writer sends a section in ascending position (docs/FORMAT.md) */
                if (j > 0 && key_seed(t, key) <= key_seed(t, sec.put_keys[j - 1]) && bad++ < 3)
                    fail_report(__LINE__, "%s: chunk %" PRIu64 " section %u: key %" PRIu64 " not after the previous "
                                "one in position", what, fi.chunk_index, i, key);
                size_t q = seed_lower_bound(im, t, key_seed(t, key));
                size_t p = im->start[t] + q;
                int good = q < im->n[t] && im->keys[t][q] == key && p >= s->pos && p < end && !seen[p - s->pos] &&
                           memcmp((const unsigned char *)sec.records + j * TSIZE[t], im->recs[t] + q * TSIZE[t],
                                  TSIZE[t]) == 0;
                if (good) seen[p - s->pos] = 1;
                else if (bad++ < 3)
                    fail_report(__LINE__, "%s: chunk %" PRIu64 " record %" PRIu64 " of section %u (table %u key %" PRIu64
                                "): not a record of the snapshot's range at version %" PRIu64 " (or twice, or its bytes "
                                "differ)", what, fi.chunk_index, j, i, sec.table_id, key, im->version);
            }
        }
        CHECK(bad == 0 && got == n, "%s: chunk %" PRIu64 " holds %zu records (%zu wrong), its range %zu", what,
              fi.chunk_index, got, bad, n);
        free(seen);
    }
    if (!last) {
        s->next_table = fi.chunk_end_table;
        s->next_key = fi.chunk_end_key;
    }
    s->pos = end;
    s->next_index++;
    if (last) s->last_seen = 1;
    C.chunks++;
    C.chunk_bytes += size;
    if (s->producer < 0) g_writer_chunks++;
    else if (s->producer == PEER) g_peer_chunks++;
    return 1;
}

/* Produces up to `count` chunks of session s and sends them. */
static void session_step(session *s, size_t count) {
    if (!s->used || s->done) return;
    for (size_t k = 0; k < count; k++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        int32_t st = podsync_snapshot_next(s->h, &data, &size);
        if (st == PODSYNC_DONE) {
            CHECK(s->last_seen && data == NULL && size == 0, "snapshot_next: DONE before the LAST chunk (chunk %" PRIu64
                  ")", s->next_index);
            podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
            EXPECT_ST("podsync_snapshot_position(done)", podsync_snapshot_position(s->h, &p), PODSYNC_OK, NULL);
            CHECK(p.chunk_index == s->next_index && p.snapshot_id == s->rg->id,
                  "position after the last chunk: index %" PRIu64 ", expected %" PRIu64, p.chunk_index, s->next_index);
            s->done = 1;
            s->grace = (int)below(12);
            return;
        }
        if (st != PODSYNC_OK) {
            int expired = s->producer >= 0 && g_rep[s->producer].resets != s->producer_resets;
            if (expired) {
                CHECK(st == PODSYNC_E_SNAPSHOT_EXPIRED, "snapshot_next on a producer whose state was replaced: %s",
                      podsync_status_name(st));
            } else {
                CHECK(0, "podsync_snapshot_next: %s: %s", podsync_status_name(st), podsync_snapshot_errmsg(s->h));
            }
            session_free(s);
            return;
        }
        CHECK(!s->last_seen, "snapshot_next produced a chunk after the LAST one");
        if (!check_chunk(s, data, size, "snapshot_next")) {
            session_free(s);
            return;
        }
        podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
        EXPECT_ST("podsync_snapshot_position", podsync_snapshot_position(s->h, &p), PODSYNC_OK, NULL);
        uint32_t tt = s->last_seen ? 0xFFFFFFFFu : s->next_table;
        uint64_t kk = s->last_seen ? UINT64_MAX : s->next_key;
        CHECK(p.chunk_index == s->next_index && p.snapshot_id == s->rg->id && p.stream_id == s->rg->stream &&
                  p.state_version == s->rg->img->version && p.start_table == tt && p.start_key == kk,
              "snapshot_position: chunk %" PRIu64 " at (%u, %016" PRIx64 "), expected chunk %" PRIu64 " at (%u, %016"
              PRIx64 ")", p.chunk_index, p.start_table, p.start_key, s->next_index, tt, kk);
        chan_send(s->target, data, size, s->rg);
    }
}

static void sessions_step(int phase) {
    unsigned long long streaming = 0;
    for (int i = 0; i < MAX_SESS; i++) streaming += g_sess[i].used && !g_sess[i].done;
    if (streaming > C.max_sessions) C.max_sessions = streaming;
    for (int i = 0; i < MAX_SESS; i++) {
        session *s = &g_sess[i];
        if (!s->used) continue;
        if (s->done) {
            if (phase == 2 && s->grace-- <= 0) session_free(s);
            continue;
        }
        /* spread a tick's chunks over the three phases (before, amid and after the writes) */
        size_t n = s->per_tick / 3 + (phase == 0 ? s->per_tick % 3 : 0);
        if (g_ending) n = s->per_tick * 4;
        session_step(s, n);
    }
}

/* A new snapshot of `producer` for `target`: a session (begin), or the outbox of
   podsync_store_snapshot (writer). */
static void start_snapshot(int target, int producer) {
    cancel_sessions_to(target, NULL);
    podsync_store *ps = producer_store(producer);
    vimg *im = current_image();
    C.snapshots++;
    if (producer < 0 && (pm(200) || (target == 3 && g_rep[3].recreations == 0 && !g_rep[3].stg.active && !g_rep[3].wanted))) {
        /* the whole snapshot at once, cut into chunks of max_frame_bytes */
        size_t n = 0;
        int32_t st = podsync_store_snapshot(ps, &n);
        if (!EXPECT_ST("podsync_store_snapshot", st, PODSYNC_OK, ps)) return;
        CHECK(n > 1, "podsync_store_snapshot of %zu records in %" PRIu64 "-byte frames: %zu frame(s)", img_total(im),
              g_wopts.max_frame_bytes, n);
        session tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.used = 1;
        tmp.producer = producer;
        tmp.target = target;
        tmp.limit = effective_limit(producer, 0);
        reg *rg = NULL;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *data = NULL;
            size_t size = 0;
            if (!EXPECT_ST("podsync_store_frame", podsync_store_frame(ps, i, &data, &size), PODSYNC_OK, ps)) break;
            if (i == 0) {
                podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
                if (podsync_frame_peek(data, size, &fi) != PODSYNC_OK) {
                    CHECK(0, "outbox chunk 0 unreadable");
                    break;
                }
                rg = reg_ref(reg_add(fi.snapshot_id, g_stream, im, producer));
                tmp.rg = rg;
                rg->max_chunk = 0;
            }
            if (!check_chunk(&tmp, data, size, "podsync_store_snapshot")) break;
            chan_send(target, data, size, rg);
        }
        CHECK(tmp.last_seen, "podsync_store_snapshot: no LAST chunk among %zu", n);
        reg_unref(rg);
        C.outbox_snapshots++;
        g_rep[target].snap_req_tick = g_tick;
        return;
    }
    session *s = session_new();
    if (!s) die("too many sessions");
    s->producer = producer;
    s->target = target;
    s->max_chunk = pick_chunk_size();
    s->limit = effective_limit(producer, s->max_chunk);
    s->per_tick = chunks_per_tick(s->limit);
    if (producer >= 0) s->producer_resets = g_rep[producer].resets;
    int32_t st = podsync_snapshot_begin(ps, s->max_chunk, &s->h);
    if (!EXPECT_ST("podsync_snapshot_begin", st, PODSYNC_OK, ps)) {
        s->used = 0;
        return;
    }
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    EXPECT_ST("podsync_snapshot_position(begin)", podsync_snapshot_position(s->h, &p), PODSYNC_OK, NULL);
    CHECK(p.snapshot_id != 0 && p.stream_id == g_stream && p.state_version == im->version && p.chunk_index == 0 &&
              p.start_table == 0 && p.start_key == 0 && p.term == 0,
          "position of a new snapshot: id %016" PRIx64 " stream %016" PRIx64 " version %" PRIu64 " (expected %" PRIu64
          ") chunk %" PRIu64, p.snapshot_id, p.stream_id, p.state_version, im->version, p.chunk_index);
    CHECK(reg_find(p.snapshot_id) == NULL, "snapshot id %016" PRIx64 " reused", p.snapshot_id);
    s->rg = reg_ref(reg_add(p.snapshot_id, g_stream, im, producer));
    s->rg->max_chunk = s->max_chunk;
    if (producer < 0) C.writer_snapshots++;
    else C.peer_snapshots++;
    g_rep[target].snap_req_tick = g_tick;
}

/* Is a live snapshot handle with this id held on the producer (its image not expired)? */
static session *live_session(const reg *rg) {
    for (int i = 0; i < MAX_SESS; i++) {
        session *s = &g_sess[i];
        if (s->used && s->rg == rg && s->producer == rg->producer &&
            (s->producer < 0 || g_rep[s->producer].resets == s->producer_resets))
            return s;
    }
    return NULL;
}

static void do_resume(req *q) {
    reg *rg = q->rg;
    int producer = rg->producer;
    replica *T = &g_rep[q->target];
    if (producer >= 0 && (!g_rep[producer].alive || producer == q->target)) {
        /* that producer is gone: a new snapshot */
        C.expiries++;
        send_req(REQ_SNAPSHOT, q->target, 0, NULL, NULL);
        return;
    }
    podsync_store *ps = producer_store(producer);
    session *live = live_session(rg);
    int at_version;
    if (producer < 0) {
        at_version = g_version == q->pos.state_version && g_stream == q->pos.stream_id;
    } else {
        vis pv = capture(ps);
        at_version = pv.stream == q->pos.stream_id && pv.version == q->pos.state_version && !pv.diverged;
    }
    session *s = session_new();
    if (!s) die("too many sessions");
    s->producer = producer;
    s->target = q->target;
    /* mostly the chunk size the snapshot began with (the same boundaries); sometimes another one,
       whose boundaries differ from the chunks still in flight: a late chunk of the first cut then
       contradicts the staging (PODSYNC_E_CHUNK_MISMATCH, rule 2) and the replica starts over */
    s->max_chunk = pm(950) ? rg->max_chunk : pick_chunk_size();
    if (s->max_chunk != rg->max_chunk) C.resize_resumes++;
    s->limit = effective_limit(producer, s->max_chunk);
    s->per_tick = chunks_per_tick(s->limit);
    if (producer >= 0) s->producer_resets = g_rep[producer].resets;
    int32_t st = podsync_snapshot_resume(ps, &q->pos, s->max_chunk, &s->h);
    int32_t want = (live || at_version) ? PODSYNC_OK : PODSYNC_E_SNAPSHOT_EXPIRED;
    if (st != want) {
        g_failed++;
        fail_report(__LINE__, "resume of snapshot %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64 " on %s (%s, %s): %s, "
                    "expected %s: %s", rg->id, q->pos.state_version, q->pos.chunk_index,
                    producer < 0 ? "the writer" : "the peer", live ? "a live handle" : "no live handle",
                    at_version ? "at that version" : "moved on", podsync_status_name(st), podsync_status_name(want),
                    podsync_store_errmsg(ps));
    } else {
        g_passed++;
    }
    if (st != PODSYNC_OK) {
        CHECK(s->h == NULL, "resume failed but set *out");
        podsync_snapshot_free(s->h);
        memset(s, 0, sizeof *s);
        if (st == PODSYNC_E_SNAPSHOT_EXPIRED) {
            C.expiries++;
            T->resume_req_tick = 0;
            send_req(REQ_SNAPSHOT, q->target, 0, NULL, NULL);
        }
        return;
    }
    C.resumes++;
    if (live) C.resumes_live++;
    s->rg = reg_ref(rg);
    s->next_index = q->pos.chunk_index;
    s->pos = img_lower_bound(rg->img, q->pos.start_table, q->pos.start_key);
    s->next_table = q->pos.start_table;
    s->next_key = q->pos.start_key;
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    EXPECT_ST("podsync_snapshot_position(resume)", podsync_snapshot_position(s->h, &p), PODSYNC_OK, NULL);
    CHECK(p.snapshot_id == q->pos.snapshot_id && p.stream_id == q->pos.stream_id &&
              p.state_version == q->pos.state_version && p.chunk_index == q->pos.chunk_index &&
              p.start_table == q->pos.start_table && p.start_key == q->pos.start_key,
          "position of a resumed snapshot: chunk %" PRIu64 " at (%u, %" PRIu64 "), asked chunk %" PRIu64 " at (%u, %" PRIu64
          ")", p.chunk_index, p.start_table, p.start_key, q->pos.chunk_index, q->pos.start_table, q->pos.start_key);
    cancel_sessions_to(q->target, s);
}

/* ---------------------------------------------------------------------------------------------- */
/* Replicas                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

static void replica_create(int r) {
    replica *R = &g_rep[r];
    if (podsync_store_options_init(&R->opts, PODSYNC_STORE_OPTIONS_VERSION) != PODSYNC_OK) die("options_init");
    R->opts.flags = PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK;
    if (R->inplace_opt) R->opts.flags |= PODSYNC_OPT_FILL_IN_PLACE;
    R->opts.tombstone_horizon = g_horizon;
    R->opts.max_frame_bytes = 32768;
    R->opts.compression_level = r == PEER ? g_w.peer_level : 0;
    if (podsync_store_create(g_schema, PODSYNC_ROLE_REPLICA, &R->opts, &R->s) != PODSYNC_OK) die("replica create");
    R->alive = 1;
    R->needs_snapshot = 1;
    R->need_since = g_tick;
    R->last_progress = g_tick;
    R->snap_req_tick = R->resume_req_tick = R->delta_req_tick = 0;
    R->n_staged = R->n_gaps = 0;
    R->delta_lost_id = 0;
    R->delta_losses = 0;
    send_req(REQ_SNAPSHOT, r, 0, NULL, NULL);
    R->snap_req_tick = g_tick;
}

static void replica_destroy(int r) {
    replica *R = &g_rep[r];
    if (!R->alive) return;
    cancel_sessions_to(r, NULL);
    /* sessions it produced: a replica's handle keeps its store alive; free them too */
    for (int i = 0; i < MAX_SESS; i++)
        if (g_sess[i].used && g_sess[i].producer == r) session_free(&g_sess[i]);
    queue_clear(&R->q);
    stg_drop(R);
    set_wanted(R, NULL);
    podsync_store_free(R->s);
    R->s = NULL;
    R->alive = 0;
    R->resets++;
    if (r == PEER) g_peer_chunks = 0;
}

static void maybe_request_resume(int r) {
    replica *R = &g_rep[r];
    if (!R->needs_snapshot) return;
    podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
    if (podsync_store_staging(R->s, &p) != PODSYNC_OK) return;
    reg *rg = stg_target(R);
    /* podsync_snapshot_resume serves snapshots only: a delta staged is asked for again with
       delta_since (or, needing a snapshot, replaced by the snapshot's chunk 0) */
    if (!rg || rg->is_delta) return;
    /* one request in flight for a position */
    if (R->resume_req_tick && g_tick < R->resume_req_tick + 2 && R->resume_req_pos.snapshot_id == p.snapshot_id &&
        R->resume_req_pos.chunk_index == p.chunk_index)
        return;
    R->resume_req_tick = g_tick;
    R->resume_req_pos = p;
    send_req(REQ_RESUME, r, 0, &p, rg);
}

static void maybe_request_delta(int r) {
    replica *R = &g_rep[r];
    if (R->needs_snapshot) return;
    uint64_t v = store_version(R->s);
    if (R->delta_req_tick && R->delta_req_since == v && g_tick < R->delta_req_tick + 8) return;
    R->delta_req_tick = g_tick;
    R->delta_req_since = v;
    send_req(REQ_DELTA, r, v, NULL, NULL);
}

/* Applies one delivered message to replica r, predicting the outcome. */
static void replica_apply(int r, msg *m) {
    replica *R = &g_rep[r];
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    int32_t st = podsync_frame_peek(m->data, m->size, &fi);
    if (!EXPECT_ST("podsync_frame_peek", st, PODSYNC_OK, NULL)) return;
    vis before = capture(R->s);
    int bound = before.stream != 0;
    int is_chunk = (fi.flags & PODSYNC_FRAME_CHUNK) != 0;
    int is_delta = is_chunk && !(fi.flags & PODSYNC_FRAME_RESET); /* a chunk of a catch-up delta */
    int32_t expect = PODSYNC_OK;
    enum { A_NONE, A_CONT, A_NEW, A_WANT, A_DROP, A_DROP0 } act = A_NONE;
    int will_switch = 0;
    size_t n = 0;
    reg *rg = m->rg;
    if (is_chunk) {
        if (!rg || rg->id != fi.snapshot_id || rg->is_delta != is_delta) die("chunk without its registry entry");
        int last = (fi.chunk_flags & PODSYNC_CHUNK_LAST) != 0;
        if (!is_delta) {
            const vimg *im = rg->img;
            size_t from = img_lower_bound(im, fi.chunk_start_table, fi.chunk_start_key);
            size_t to = last ? img_total(im) : img_lower_bound(im, fi.chunk_end_table, fi.chunk_end_key);
            n = to > from ? to - from : 0;
        }
        int decided = 0;
        if (is_delta) {
            /* a chunk of a catch-up delta is first checked like the delta it is part of */
            if (before.diverged) expect = PODSYNC_E_DIVERGED, decided = 1;
            else if (bound && fi.stream_id != before.stream) expect = PODSYNC_E_STREAM_MISMATCH, decided = 1;
            else if (bound && fi.state_version <= before.version) expect = PODSYNC_DUPLICATE, decided = 1;
        } else if (bound && fi.stream_id == before.stream && !before.diverged) { /* rule 1 */
            if (fi.state_version < before.version) expect = PODSYNC_STALE, decided = 1;
            else if (fi.state_version == before.version) expect = PODSYNC_DUPLICATE, decided = 1;
        }
        if (!decided) {
            /* the registry entry stands for the staging identity (stream, id, base, version, kind):
               a resume keeps a snapshot's entry, every delta_since call makes a new one */
            if (R->stg.active && R->stg.rg == rg) { /* rule 2 */
                if (fi.chunk_index < R->stg.next_index) expect = PODSYNC_DUPLICATE;
                else if (fi.chunk_index > R->stg.next_index) expect = PODSYNC_CHUNK_GAP;
                else if (fi.chunk_start_table != R->stg.next_table || fi.chunk_start_key != R->stg.next_key)
                    expect = PODSYNC_E_CHUNK_MISMATCH, act = A_DROP;
                /* (a delta's chunks all come from one delta_since call and are never resumed: their
                   count agrees; do_delta checks it on the plain ones) */
                else if (!is_delta && last && fi.chunk_record_count != R->stg.pos + n)
                    expect = PODSYNC_E_CHUNK_MISMATCH, act = A_DROP;
                else act = A_CONT;
            } else if (fi.chunk_index == 0 &&
                       (!R->stg.active || fi.stream_id != R->stg.rg->stream ||
                        fi.state_version >= R->stg.rg->version)) { /* rule 3: snapshot or delta alike */
                act = A_NEW;
                if (!is_delta && last && fi.chunk_record_count != n) expect = PODSYNC_E_CHUNK_MISMATCH, act = A_DROP0;
            } else { /* rule 4 */
                if (R->stg.active && fi.stream_id == R->stg.rg->stream && fi.state_version < R->stg.rg->version) {
                    expect = PODSYNC_STALE;
                } else {
                    expect = PODSYNC_CHUNK_GAP;
                    if (!R->stg.active) act = A_WANT;
                }
            }
            if (act == A_CONT || act == A_NEW) {
                if (!last) {
                    expect = PODSYNC_CHUNK_STAGED;
                } else if (is_delta) {
                    /* rule 5 for a delta: classified as the unchunked delta would be (its DUPLICATE
                       was decided above, against the same visible state) */
                    will_switch = 1;
                    expect = fi.base_version > before.version ? PODSYNC_GAP : PODSYNC_OK;
                } else { /* rule 5 */
                    will_switch = 1;
                    int inplace = act == A_NEW ? (R->inplace_opt && !bound && before.version == 0) : R->stg.inplace;
                    expect = PODSYNC_OK;
                    if (!inplace && bound && fi.stream_id == before.stream && !before.diverged) {
                        if (fi.state_version < before.version) expect = PODSYNC_STALE;
                        else if (fi.state_version == before.version) expect = PODSYNC_DUPLICATE;
                    }
                }
            }
        }
    } else if (fi.flags & PODSYNC_FRAME_RESET) {
        expect = PODSYNC_OK;
        if (bound && fi.stream_id == before.stream && !before.diverged) {
            if (fi.state_version < before.version) expect = PODSYNC_STALE;
            else if (fi.state_version == before.version) expect = PODSYNC_DUPLICATE;
        }
    } else if (bound) {
        if (fi.state_version <= before.version) expect = PODSYNC_DUPLICATE;
        else if (fi.base_version > before.version) expect = PODSYNC_GAP;
    } else {
        if (fi.base_version > before.version) expect = PODSYNC_GAP;
        else if (R->stg.active && R->stg.inplace) expect = PODSYNC_GAP;
    }
    /* chunk 0 of a delta replacing a snapshot filled in place empties the tables (the fill is
       dropped like a staging; the delta is staged beside them) */
    int empties_inplace = act == A_NEW && is_delta && R->stg.active && R->stg.inplace;

    uint64_t v = 0xdeadbeefull;
    st = podsync_store_apply(R->s, m->data, m->size, &v);
    vis after = capture(R->s);
    if (st == expect) {
        g_passed++;
    } else {
        g_failed++;
        fail_report(__LINE__, "replica %d (version %" PRIu64 ", %s%s) apply %s %016" PRIx64 " v%" PRIu64 " chunk %" PRIu64
                    "%s / base %" PRIu64 ": got %s, docs/FORMAT.md's rules say %s (%s)", r, before.version,
                    R->stg.active ? (R->stg.rg->is_delta ? "staging a delta" : "staging a snapshot") : "not staging",
                    R->needs_snapshot ? ", needs a snapshot" : "",
                    is_delta ? "delta chunk of" : is_chunk ? "chunk of" : "frame", fi.snapshot_id,
                    fi.state_version, fi.chunk_index, (fi.chunk_flags & PODSYNC_CHUNK_LAST) ? " LAST" : "",
                    fi.base_version, podsync_status_name(st), podsync_status_name(expect), podsync_store_errmsg(R->s));
    }
    CHECK(v == after.version, "replica %d: version_out %" PRIu64 ", info %" PRIu64, r, v, after.version);

    /* the model of the staging follows what the library did (the expected outcome when they agree) */
    int inplace_staged = 0;
    if (is_chunk) {
        if (st == PODSYNC_CHUNK_GAP) R->n_gaps++;
        if (st == PODSYNC_CHUNK_STAGED) R->n_staged++;
        if (is_delta) {
            if (st == PODSYNC_CHUNK_GAP) C.dgaps++;
            if (st == PODSYNC_CHUNK_STAGED) C.dstaged++;
            if (st == PODSYNC_DUPLICATE) C.ddups++;
            if (st == PODSYNC_STALE) C.dstale++;
            if (st == PODSYNC_OK) C.dswitch_ok++;
            if (st == PODSYNC_GAP) C.dswitch_gap++;
        } else {
            if (st == PODSYNC_CHUNK_GAP) C.gaps++;
            if (st == PODSYNC_CHUNK_STAGED) C.staged++;
            if (st == PODSYNC_DUPLICATE) C.chunk_dups++;
            if (st == PODSYNC_STALE) C.chunk_stale++;
        }
        if (st == PODSYNC_E_CHUNK_MISMATCH) C.mismatches++;
        if (st == expect) {
            if (act == A_DROP || act == A_DROP0) {
                stg_drop(R);
                if (act == A_DROP0) set_wanted(R, NULL);
            } else if (act == A_WANT) {
                set_wanted(R, rg);
            } else if (act == A_NEW || act == A_CONT) {
                if (act == A_NEW) {
                    if (R->stg.active && R->stg.rg->is_delta != is_delta) {
                        if (is_delta) C.delta_over_snapshot++;
                        else C.snapshot_over_delta++;
                    } else if (R->stg.active && is_delta) {
                        C.delta_over_delta++;
                    }
                    stg_drop(R);
                    set_wanted(R, NULL);
                    R->stg.active = 1;
                    R->stg.rg = reg_ref(rg);
                    R->stg.inplace = !is_delta && R->inplace_opt && !bound && before.version == 0;
                }
                R->stg.pos += n;
                R->stg.next_index = fi.chunk_index + 1;
                R->stg.next_table = fi.chunk_end_table;
                R->stg.next_key = fi.chunk_end_key;
                inplace_staged = R->stg.inplace && !will_switch;
                if (will_switch) stg_drop(R);
                if (will_switch && !is_delta && st != PODSYNC_OK) {
                    /* the replica moved past the snapshot while the chunks came: deltas from here */
                    R->needs_snapshot = 0;
                    C.switch_stale++;
                }
            }
        } else {
            /* resynchronize the model with the library, to keep reporting what follows */
            stg_drop(R);
            set_wanted(R, NULL);
            podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
            if (podsync_store_staging(R->s, &p) == PODSYNC_OK) {
                reg *g = reg_find(p.snapshot_id);
                if (g && p.chunk_index > 0) {
                    R->stg.active = 1;
                    R->stg.rg = reg_ref(g);
                    R->stg.next_index = p.chunk_index;
                    R->stg.next_table = p.start_table;
                    R->stg.next_key = p.start_key;
                    R->stg.pos = g->is_delta ? 0 : img_lower_bound(g->img, p.start_table, p.start_key);
                    R->stg.inplace = !g->is_delta && R->inplace_opt && !bound && before.version == 0;
                } else if (g) {
                    set_wanted(R, g);
                }
            }
        }
    }

    if (st == PODSYNC_OK) {
        R->last_progress = g_tick;
        CHECK(after.version == fi.state_version && after.stream == fi.stream_id && !after.diverged,
              "replica %d after OK: version %" PRIu64 " stream %016" PRIx64 ", frame %" PRIu64 " %016" PRIx64, r,
              after.version, after.stream, fi.state_version, fi.stream_id);
        if (fi.flags & PODSYNC_FRAME_HAS_DIGEST)
            CHECK(after.digest == fi.state_digest, "replica %d digest %016" PRIx64 " != the frame's %016" PRIx64, r,
                  after.digest, fi.state_digest);
        if (fi.state_version < g_hist_cap && g_digest_known[fi.state_version])
            CHECK(after.digest == g_digest_hist[fi.state_version],
                  "replica %d at version %" PRIu64 ": digest %016" PRIx64 " != the writer's %016" PRIx64, r,
                  after.version, after.digest, g_digest_hist[fi.state_version]);
        if (is_chunk && !is_delta) {
            if (g_verbose)
                printf("  world %d tick %" PRIu64 ": replica %d switched to version %" PRIu64 " (writer at %" PRIu64
                       "), %" PRIu64 " ticks after it asked\n", g_w.index, g_tick, r, fi.state_version, g_version,
                       g_tick - R->need_since);
            C.switches++;
            if (before.version == 0 && !bound && R->inplace_opt) C.inplace_switches++;
            R->resets++;
            R->needs_snapshot = 0;
            R->resume_req_tick = 0;
            CHECK(after.digest == rg->img->digest, "replica %d switched to a digest %016" PRIx64 " != the writer's %016"
                  PRIx64 " at version %" PRIu64, r, after.digest, rg->img->digest, rg->img->version);
            check_contents(r, rg->img, "after the switch");
        } else if (is_delta) {
            R->delta_losses = 0;
            /* the staged delta applied in one step: the replica holds the writer's state at the
               delta's version (not a reset: the snapshots it serves stay valid) */
            if (rg->img) {
                C.dcontent_checks++;
                CHECK(after.digest == rg->img->digest, "replica %d after a chunked delta: digest %016" PRIx64
                      " != the writer's %016" PRIx64 " at version %" PRIu64, r, after.digest, rg->img->digest,
                      rg->img->version);
                check_contents(r, rg->img, "after a chunked delta");
            }
        } else {
            C.delta_ok++;
            R->delta_losses = 0;
        }
    } else if (inplace_staged) {
        /* fill in place: version 0, no stream; the tables hold exactly the chunks so far */
        R->last_progress = g_tick;
        const vimg *im = R->stg.rg->img;
        size_t p = R->stg.pos;
        int counts_ok = 1;
        for (int t = 0; t < NT; t++) {
            size_t want = p <= im->start[t] ? 0 : (p >= im->start[t + 1] ? im->n[t] : p - im->start[t]);
            if (after.count[t] != want) counts_ok = 0;
        }
        CHECK(after.version == 0 && after.stream == 0 && counts_ok && after.digest == im->prefix[p],
              "replica %d filling in place: version %" PRIu64 ", %zu+%zu+%zu records, digest %016" PRIx64
              "; expected version 0 and the first %zu records of the snapshot (digest %016" PRIx64 ")", r,
              after.version, after.count[0], after.count[1], after.count[2], p, im->prefix[p]);
    } else {
        if (st == PODSYNC_CHUNK_STAGED) R->last_progress = g_tick;
        int dropped_inplace = (st == PODSYNC_E_CHUNK_MISMATCH && before.version == 0 && !bound && R->inplace_opt) ||
                              (st == expect && empties_inplace);
        if (dropped_inplace && empties_inplace) C.dinplace_dropped++;
        if (dropped_inplace)
            CHECK(after.version == 0 && after.stream == 0 && after.digest == 0 &&
                      after.count[0] + after.count[1] + after.count[2] == 0,
                  "replica %d: the chunks it filled in place were not removed after %s", r, podsync_status_name(st));
        else
            CHECK(vis_equal(&before, &after),
                  "replica %d: %s changed the visible state: version %" PRIu64 " -> %" PRIu64 ", digest %016" PRIx64
                  " -> %016" PRIx64 ", records %zu+%zu+%zu -> %zu+%zu+%zu", r, podsync_status_name(st), before.version,
                  after.version, before.digest, after.digest, before.count[0], before.count[1], before.count[2],
                  after.count[0], after.count[1], after.count[2]);
    }
    if (!is_chunk) {
        if (st == PODSYNC_DUPLICATE) C.delta_dups++;
        if (st == PODSYNC_GAP) C.delta_gaps++;
    }
    check_staging(r, is_chunk ? "after a chunk" : "after a frame");

    /* what the replica asks for next: after a CHUNK_GAP, a resume of the snapshot staging() names;
       a delta is not resumed: the replica asks for delta_since again, whose chunk 0 replaces the
       staging (at once when a chunk of the staged delta itself went missing, once per delta). A
       replica that lost three chunked deltas in a row (a large one over this channel rarely comes
       whole) asks for a snapshot instead, whose chunk 0 then replaces the delta staged. */
    if (st == PODSYNC_CHUNK_GAP) {
        reg *g = stg_target(R);
        if (g && g->is_delta) {
            if (!R->needs_snapshot && g == rg && R->delta_lost_id != rg->id) {
                R->delta_lost_id = rg->id;
                R->delta_req_tick = 0;
                if (++R->delta_losses >= 3) {
                    R->delta_losses = 0;
                    R->needs_snapshot = 1;
                    R->need_since = g_tick;
                    R->snap_req_tick = g_tick;
                    send_req(REQ_SNAPSHOT, r, 0, NULL, NULL);
                    C.dfallbacks++;
                }
            }
            if (!R->needs_snapshot) {
                uint64_t asked = R->delta_req_tick;
                maybe_request_delta(r);
                if (R->delta_req_tick != asked) C.drerequests++;
            }
        } else {
            maybe_request_resume(r);
        }
    }
    if (st == PODSYNC_GAP && bound && !stg_pending(R)) maybe_request_delta(r);
}

static void deliver(int r) {
    replica *R = &g_rep[r];
    queue *q = &R->q;
    if (!R->alive || q->n == 0) return;
    msg *ready = xmalloc(q->n * sizeof(msg));
    size_t nr = 0, keep = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (g_ending || q->v[i].ready <= g_tick) ready[nr++] = q->v[i];
        else q->v[keep++] = q->v[i];
    }
    q->n = keep;
    /* bounded reordering: neighbours swap */
    if (!g_ending)
        for (size_t i = 0; i + 1 < nr; i++)
            if (pm(40)) {
                msg t = ready[i];
                ready[i] = ready[i + 1];
                ready[i + 1] = t;
                C.swapped++;
                i++;
            }
    for (size_t i = 0; i < nr; i++) {
        C.delivered++;
        if (R->alive) replica_apply(r, &ready[i]);
        free(ready[i].data);
        reg_unref(ready[i].rg);
    }
    free(ready);
}

/* ---------------------------------------------------------------------------------------------- */
/* Requests                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

static int peer_can_serve(int target) {
    replica *P = &g_rep[PEER];
    if (target == PEER || !P->alive || P->needs_snapshot) return 0;
    vis pv = capture(P->s);
    return pv.stream == g_stream && pv.version == g_version;
}

/* The model's image of the writer at version v, if the test has one (the current version, or one
   a snapshot registered). */
static vimg *image_at(uint64_t v) {
    if (v == g_version) return current_image();
    if (g_cur_img && g_cur_img->version == v) return g_cur_img;
    for (reg *r = g_regs; r; r = r->next)
        if (r->img && r->img->version == v) return r->img;
    return NULL;
}

static int pos_less(uint32_t t1, uint64_t k1, uint32_t t2, uint64_t k2) { return t1 < t2 || (t1 == t2 && k1 < k2); }

/* Checks chunk i of a chunked catch-up delta since `since` at version `version` that `producer`
   put into its outbox (n chunks), against what the previous chunks said (*next_table, *next_key)
   and the image at that version (if the test has it): a plain chunk holds puts of records of the
   image and deletes of keys the image lacks, all in its range, in ascending position. Adds its
   changes to *changes (or clears *plain for a compressed chunk). Returns 1 if it is to be sent. */
static int check_delta_chunk(const uint8_t *data, size_t size, size_t i, size_t n, int producer, uint64_t since,
                             uint64_t version, const vimg *im, uint64_t id, uint32_t *next_table, uint64_t *next_key,
                             uint64_t *changes, int *plain) {
    const char *what = producer < 0 ? "writer delta chunk" : "peer delta chunk";
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    int32_t st = podsync_frame_validate(data, size, &fi);
    if (!EXPECT_ST(what, st, PODSYNC_OK, NULL)) return 0;
    CHECK(((uintptr_t)data & 63) == 0, "%s: not 64-byte aligned", what);
    /* CHUNK without RESET; format 2 whatever frame_format says (chunks need it) */
    uint32_t want_flags = PODSYNC_FRAME_CHUNK | PODSYNC_FRAME_HAS_DIGEST;
    CHECK(fi.format_version == 2 && fi.flags == want_flags && fi.frame_length == size,
          "%s %zu of %zu: format %u flags 0x%x length %" PRIu64 " (size %zu)", what, i, n, fi.format_version, fi.flags,
          fi.frame_length, size);
    CHECK(fi.snapshot_id == id && fi.stream_id == g_stream && fi.base_version == since && fi.state_version == version &&
              fi.term == 0 && fi.schema_hash == g_schema_hash,
          "%s %zu of %zu: id %016" PRIx64 " stream %016" PRIx64 " %" PRIu64 " -> %" PRIu64 ", expected %016" PRIx64
          " %" PRIu64 " -> %" PRIu64, what, i, n, fi.snapshot_id, fi.stream_id, fi.base_version, fi.state_version, id,
          since, version);
    hist_set(fi.state_version, fi.state_digest, 1);
    int last = (fi.chunk_flags & PODSYNC_CHUNK_LAST) != 0;
    CHECK(fi.chunk_index == i && last == (i + 1 == n) && (fi.chunk_flags & ~PODSYNC_CHUNK_LAST) == 0,
          "%s %zu of %zu: index %" PRIu64 ", chunk flags 0x%x", what, i, n, fi.chunk_index, fi.chunk_flags);
    CHECK(fi.chunk_start_table == (i ? *next_table : 0u) && fi.chunk_start_key == (i ? *next_key : 0u),
          "%s %zu: starts at (%u, %016" PRIx64 "), expected (%u, %016" PRIx64 ")", what, i, fi.chunk_start_table,
          fi.chunk_start_key, i ? *next_table : 0u, i ? *next_key : 0u);
    if (!last)
        CHECK(pos_less(fi.chunk_start_table, fi.chunk_start_key, fi.chunk_end_table, fi.chunk_end_key),
              "%s %zu: ends at (%u, %016" PRIx64 "), not after its start", what, i, fi.chunk_end_table, fi.chunk_end_key);
    size_t limit = (size_t)producer_opts(producer)->max_frame_bytes; /* at least PODSYNC_MIN_CHUNK_BYTES here */
    CHECK(size <= limit, "%s %zu: %zu bytes, max_frame_bytes %zu", what, i, size, limit);
    const podsync_store_options *o = producer_opts(producer);
    CHECK(o->compression_level != 0 || (fi.codec == PODSYNC_CODEC_NONE && fi.transforms == 0),
          "%s: codec %u transforms 0x%x from a producer that does not compress", what, fi.codec, fi.transforms);
    CHECK((fi.transforms & (PODSYNC_TRANSFORM_XOR | PODSYNC_TRANSFORM_FIELDS)) == 0, "%s: a catch-up chunk with XOR or FIELDS", what);
    if (fi.codec == PODSYNC_CODEC_NONE && fi.transforms == 0) {
        uint64_t got = 0;
        size_t bad = 0;
        for (uint32_t j = 0; j < fi.section_count; j++) {
            podsync_frame_section sec = PODSYNC_FRAME_SECTION_INIT;
            st = podsync_frame_section_get(data, size, j, &sec);
            if (!EXPECT_ST("podsync_frame_section_get(delta chunk)", st, PODSYNC_OK, NULL)) break;
            int t = table_index(sec.table_id);
            CHECK(t >= 0 && sec.record_size == TSIZE[t], "%s: section of table %u", what, sec.table_id);
            if (t < 0) break;
            for (int del = 0; del < 2; del++) {
                const uint64_t *keys = del ? sec.delete_keys : sec.put_keys;
                uint64_t count = del ? sec.delete_count : sec.put_count;
                for (uint64_t k = 0; k < count; k++) {
                    uint64_t key = keys[k], h = key_seed(t, key);
                    const char *problem = NULL;
                    if (k > 0 && h <= key_seed(t, keys[k - 1])) problem = "not after the previous key in position";
                    else if (pos_less(TID[t], h, fi.chunk_start_table, fi.chunk_start_key) ||
                             (!last && !pos_less(TID[t], h, fi.chunk_end_table, fi.chunk_end_key)))
                        problem = "outside the chunk's range";
                    else if (im) {
                        size_t q = seed_lower_bound(im, t, h);
                        int present = q < im->n[t] && im->keys[t][q] == key;
                        if (del && present) problem = "deleted, but the writer holds it at the delta's version";
                        if (!del && !present) problem = "put, but the writer lacks it at the delta's version";
                        if (!del && present &&
                            memcmp((const unsigned char *)sec.records + k * TSIZE[t], im->recs[t] + q * TSIZE[t], TSIZE[t]))
                            problem = "put with other bytes than the writer's at the delta's version";
                    }
                    if (problem && bad++ < 3)
                        fail_report(__LINE__, "%s %zu (%" PRIu64 " -> %" PRIu64 "): %s of table %u key %" PRIu64 ": %s",
                                    what, i, since, version, del ? "delete" : "put", TID[t], key, problem);
                }
            }
            got += sec.put_count + sec.delete_count;
        }
        CHECK(bad == 0, "%s %zu: %zu wrong changes", what, i, bad);
        /* like a snapshot chunk: a change in every chunk but maybe the LAST */
        CHECK(got > 0 || last, "%s %zu of %zu (%" PRIu64 " -> %" PRIu64 ") holds no change", what, i, n, since, version);
        *changes += got;
    } else {
        *plain = 0;
    }
    if (last && *plain)
        CHECK(fi.chunk_record_count == *changes, "%s: the LAST chunk counts %" PRIu64 " changes, the chunks hold %" PRIu64,
              what, fi.chunk_record_count, *changes);
    *next_table = fi.chunk_end_table;
    *next_key = fi.chunk_end_key;
    return 1;
}

static void do_delta(req *q) {
    replica *T = &g_rep[q->target];
    podsync_store *src = g_writer;
    int producer = -1;
    if (pm(250) && q->target != PEER && g_rep[PEER].alive && !g_rep[PEER].needs_snapshot &&
        store_version(g_rep[PEER].s) > q->since) {
        src = g_rep[PEER].s;
        producer = PEER;
    }
    int from_peer = producer >= 0;
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    podsync_store_info_get(src, &info);
    size_t n = 99;
    int32_t st = podsync_store_delta_since(src, q->since, &n);
    int32_t want = q->since < info.catchup_floor ? PODSYNC_SNAPSHOT_REQUIRED : PODSYNC_OK;
    if (!EXPECT_ST("podsync_store_delta_since", st, want, src)) return;
    if (st == PODSYNC_SNAPSHOT_REQUIRED) {
        C.snapshot_required++;
        T->needs_snapshot = 1;
        T->need_since = g_tick;
        if (from_peer) start_snapshot(q->target, -1);
        else start_snapshot(q->target, peer_can_serve(q->target) && pm(300) ? PEER : -1);
        return;
    }
    uint64_t version = info.state_version;
    CHECK((n == 0) == (q->since == version), "delta_since(%" PRIu64 ") at %" PRIu64 ": %zu frames", q->since, version, n);
    if (n == 0) return;
    const uint8_t *data = NULL;
    size_t size = 0;
    if (!EXPECT_ST("podsync_store_frame", podsync_store_frame(src, 0, &data, &size), PODSYNC_OK, src)) return;
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    EXPECT_ST("podsync_frame_validate(delta)", podsync_frame_validate(data, size, &fi), PODSYNC_OK, NULL);
    size_t limit = (size_t)producer_opts(producer)->max_frame_bytes;
    if (!(fi.flags & PODSYNC_FRAME_CHUNK)) {
        /* one frame: it fits in max_frame_bytes */
        CHECK(n == 1 && fi.base_version == q->since && fi.state_version == version && !(fi.flags & PODSYNC_FRAME_RESET),
              "catch-up delta %" PRIu64 " -> %" PRIu64 " flags 0x%x in %zu frames (asked since %" PRIu64 ")",
              fi.base_version, fi.state_version, fi.flags, n, q->since);
        CHECK(size <= limit, "a one-frame catch-up delta of %zu bytes, max_frame_bytes %zu", size, limit);
        if (!from_peer)
            CHECK(fi.format_version == g_w.frame_format, "writer catch-up delta in format %u, frame_format %u",
                  fi.format_version, g_w.frame_format);
        if (from_peer) C.peer_heals++;
        else C.delta_heals++;
        chan_send(q->target, data, size, NULL);
        return;
    }
    /* a chunked delta: every chunk checked, then all sent over the lossy channel (and sometimes to
       another replica too, as on a shared channel: a replica that follows the stream takes it as
       DUPLICATE, GAP or a catch-up; one staging a snapshot sees its staging replaced by the
       delta's chunk 0, or the delta's chunks STALE, by the "at least as new" rule) */
    if (producer < 0) g_writer_chunks += n;
    else g_peer_chunks += n;
    C.dchunked++;
    C.dchunks += n;
    CHECK(reg_find(fi.snapshot_id) == NULL && fi.snapshot_id != 0, "chunked delta id %016" PRIx64 " reused",
          fi.snapshot_id);
    reg *rg = reg_ref(reg_add(fi.snapshot_id, g_stream, image_at(version), producer));
    rg->is_delta = 1;
    rg->base = q->since;
    rg->version = version;
    uint32_t next_table = 0;
    uint64_t next_key = 0, changes = 0;
    int plain = 1;
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        if (!EXPECT_ST("podsync_store_frame(delta chunk)", podsync_store_frame(src, i, &data, &size), PODSYNC_OK, src))
            break;
        if (!check_delta_chunk(data, size, i, n, producer, q->since, version, rg->img, rg->id, &next_table, &next_key,
                               &changes, &plain))
            break;
        good++;
        C.dchunk_bytes += size;
    }
    int other = -1;
    if (!g_ending && pm(60)) {
        /* half of the time a replica that needs a snapshot, if there is one */
        int cand[NREP], nc = 0, prefer = pm(500);
        for (int pass = 0; pass < 2 && nc == 0; pass++)
            for (int r = 0; r < NREP; r++)
                if (r != q->target && g_rep[r].alive && (pass || !prefer || g_rep[r].needs_snapshot)) cand[nc++] = r;
        if (nc) other = cand[below((uint64_t)nc)];
    }
    if (other >= 0) C.doverheard++;
    for (size_t i = 0; i < good; i++) {
        podsync_store_frame(src, i, &data, &size);
        chan_send(q->target, data, size, rg);
        if (other >= 0) chan_send(other, data, size, rg);
    }
    reg_unref(rg);
}

static void process_requests(void) {
    size_t keep = 0;
    size_t n = g_nreq;
    req *now = xmalloc((n ? n : 1) * sizeof(req));
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        if (g_reqs[i].ready <= g_tick) now[nn++] = g_reqs[i];
        else g_reqs[keep++] = g_reqs[i];
    }
    g_nreq = keep;
    for (size_t i = 0; i < nn; i++) {
        req *q = &now[i];
        replica *T = &g_rep[q->target];
        if (!T->alive || offline(T)) {
            /* lost with its sender */
        } else if (q->kind == REQ_SNAPSHOT) {
            if (!T->needs_snapshot) C.obsolete_requests++;
            else start_snapshot(q->target, peer_can_serve(q->target) && pm(300) ? PEER : -1);
        } else if (q->kind == REQ_RESUME) {
            /* the replica still wants this snapshot from this chunk? */
            podsync_chunk_position p = PODSYNC_CHUNK_POSITION_INIT;
            if (!T->needs_snapshot || podsync_store_staging(T->s, &p) != PODSYNC_OK || p.snapshot_id != q->pos.snapshot_id ||
                p.chunk_index != q->pos.chunk_index)
                C.obsolete_requests++;
            else
                do_resume(q);
        } else if (q->kind == REQ_DELTA) {
            if (T->needs_snapshot || store_version(T->s) != q->since) C.obsolete_requests++;
            else do_delta(q);
        }
        reg_unref(q->rg);
    }
    free(now);
}

/* Each tick: replicas that waited too long ask again. */
static void stall_checks(void) {
    uint64_t patience = g_ending ? 3 : 14;
    for (int r = 0; r < NREP; r++) {
        replica *R = &g_rep[r];
        if (!R->alive || offline(R)) continue;
        if (g_tick < R->last_progress + patience) continue;
        int has_session = 0;
        for (int i = 0; i < MAX_SESS; i++)
            if (g_sess[i].used && !g_sess[i].done && g_sess[i].target == r) has_session = 1;
        if (R->needs_snapshot) {
            reg *g = stg_target(R);
            if (g && !g->is_delta) {
                if (!has_session) maybe_request_resume(r);
            } else if (!has_session && g_tick >= R->snap_req_tick + patience * 2) {
                R->snap_req_tick = g_tick;
                send_req(REQ_SNAPSHOT, r, 0, NULL, NULL);
            }
        } else if (store_version(R->s) < g_version) {
            maybe_request_delta(r);
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* The writer                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

#define REC_BUF (64 * 1024)
static unsigned char *g_rec; /* records for put_many (64-byte aligned, REC_BUF bytes) */
static uint64_t g_keys[4096];

static void make_record(int t, uint64_t key, unsigned char *out) {
    memset(out, 0, TSIZE[t]);
    if (t == 0) {
        memcpy(out, &key, 8);
        for (int i = 0; i < 6; i++) {
            float f = (float)((double)(rnd() >> 11) * 0x1.0p-53 * 2000.0 - 1000.0);
            memcpy(out + 8 + 4 * i, &f, 4);
        }
        uint32_t state = (uint32_t)below(8);
        memcpy(out + 32, &state, 4);
        if (pm(100)) {
            uint64_t x = rnd();
            memcpy(out + 36, &x, 8);
        }
    } else if (t == 1) {
        uint64_t a = key * 3 + 1;
        uint32_t b = (uint32_t)below(1000);
        int32_t c = (int32_t)(rnd() & 0xFFFF) - 30000;
        memcpy(out, &a, 8);
        memcpy(out + 8, &b, 4);
        memcpy(out + 12, &c, 4);
    } else {
        memcpy(out, &key, 8);
        size_t random_bytes = 16 + (size_t)below(64);
        for (size_t i = 8; i < 8 + random_bytes; i += 8) {
            uint64_t x = rnd();
            memcpy(out + i, &x, 8);
        }
        for (size_t i = 8 + random_bytes + 8; i < 192; i += 16) out[i] = (unsigned char)i;
    }
}

static uint64_t new_key(int t) {
    mtab *m = &g_m[t];
    unsigned x = (unsigned)below(1000);
    if (x < 480) return rnd();
    if (x < 960) return m->dense_base + m->dense_next++;
    if (x < 980) return below(64);
    return x & 1 ? 0 : UINT64_MAX;
}

static int pick_table(void) {
    unsigned x = (unsigned)below(100);
    return x < 55 ? 0 : x < 90 ? 1 : 2;
}

static int g_need_flush;

static void write_status(const char *what, int32_t st) {
    if (st == PODSYNC_FLUSH_DUE) {
        g_need_flush = 1;
        g_passed++;
        return;
    }
    EXPECT_ST(what, st, PODSYNC_OK, g_writer);
}

static size_t g_target[NT];

static void writer_op(void) {
    int t = pick_table();
    mtab *m = &g_m[t];
    unsigned x = (unsigned)below(1000);
    /* keep each table near its target size */
    int grow = m->nlive < g_target[t];
    C.writes++;
    /* weights: update, insert, delete, delete absent, put_many, delete_many */
    static const unsigned grow_w[6] = {400, 300, 100, 20, 150, 30}, shrink_w[6] = {400, 100, 250, 20, 150, 80};
    const unsigned *wt = grow ? grow_w : shrink_w;
    unsigned acc = 0, action = 0;
    for (action = 0; action < 5; action++) {
        acc += wt[action];
        if (x < acc) break;
    }
    if (action == 0 && m->nlive > 0) { /* update */
        uint64_t key = m->key[m->live_list[below(m->nlive)]];
        make_record(t, key, g_rec);
        write_status("podsync_store_put(update)", podsync_store_put(g_writer, TID[t], key, g_rec, TSIZE[t]));
        model_put(t, key, g_rec);
    } else if (action <= 1) { /* insert */
        uint64_t key = new_key(t);
        make_record(t, key, g_rec);
        write_status("podsync_store_put(insert)", podsync_store_put(g_writer, TID[t], key, g_rec, TSIZE[t]));
        model_put(t, key, g_rec);
    } else if (action == 2 && m->nlive > 0) { /* delete */
        uint64_t key = m->key[m->live_list[below(m->nlive)]];
        write_status("podsync_store_delete", podsync_store_delete(g_writer, TID[t], key));
        model_delete(t, key);
    } else if (action == 3) { /* delete an absent key */
        uint64_t key = rnd();
        uint32_t s = mt_find(t, key, 0);
        if (s == NONE32 || !(m->flag[s] & F_LIVE))
            EXPECT_ST("podsync_store_delete(absent)", podsync_store_delete(g_writer, TID[t], key), PODSYNC_NOT_FOUND,
                      g_writer);
    } else if (action == 4) { /* put_many: new and existing keys, some repeated */
        size_t n = 1 + (size_t)below(pm(30) ? 1500 : 32);
        if (n * TSIZE[t] > REC_BUF) n = REC_BUF / TSIZE[t];
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && pm(30)) g_keys[i] = g_keys[below(i)];
            else if (m->nlive > 0 && pm(grow ? 500 : 900)) g_keys[i] = m->key[m->live_list[below(m->nlive)]];
            else g_keys[i] = new_key(t);
            make_record(t, g_keys[i], g_rec + i * TSIZE[t]);
        }
        write_status("podsync_store_put_many",
                     podsync_store_put_many(g_writer, TID[t], g_keys, g_rec, n, n * TSIZE[t]));
        for (size_t i = 0; i < n; i++) model_put(t, g_keys[i], g_rec + i * TSIZE[t]);
        C.writes += n - 1;
    } else if (m->nlive > 0) { /* delete_many */
        size_t n = 1 + (size_t)below(grow ? 8 : 48), expected = 0;
        for (size_t i = 0; i < n; i++) {
            g_keys[i] = pm(800) ? m->key[m->live_list[below(m->nlive)]] : rnd();
            int dup = 0;
            for (size_t j = 0; j < i; j++) dup |= g_keys[j] == g_keys[i];
            uint32_t s = mt_find(t, g_keys[i], 0);
            if (!dup && s != NONE32 && (m->flag[s] & F_LIVE)) expected++;
        }
        size_t deleted = 12345;
        write_status("podsync_store_delete_many", podsync_store_delete_many(g_writer, TID[t], g_keys, n, &deleted));
        CHECK(deleted == expected, "delete_many deleted %zu, the model %zu", deleted, expected);
        for (size_t i = 0; i < n; i++) model_delete(t, g_keys[i]);
        C.writes += n - 1;
    }
}

static void writer_flush(void) {
    size_t expected = model_pending_changes();
    size_t n = 99;
    int32_t st = podsync_store_flush(g_writer, &n);
    if (!EXPECT_ST("podsync_store_flush", st, PODSYNC_OK, g_writer)) die("flush failed");
    g_need_flush = 0;
    C.flushes++;
    CHECK((expected == 0) == (n == 0), "flush of %zu changes made %zu frames", expected, n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        if (!EXPECT_ST("podsync_store_frame", podsync_store_frame(g_writer, i, &data, &size), PODSYNC_OK, g_writer))
            continue;
        podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
        EXPECT_ST("podsync_frame_validate(flush)", podsync_frame_validate(data, size, &fi), PODSYNC_OK, NULL);
        CHECK(fi.format_version == g_w.frame_format && fi.base_version == g_version + i &&
                  fi.state_version == g_version + i + 1 && !(fi.flags & (PODSYNC_FRAME_RESET | PODSYNC_FRAME_CHUNK)) &&
                  fi.stream_id == g_stream,
              "flush frame %zu: format %u, %" PRIu64 " -> %" PRIu64 " flags 0x%x; writer at %" PRIu64 ", frame_format %u",
              i, fi.format_version, fi.base_version, fi.state_version, fi.flags, g_version, g_w.frame_format);
        CHECK(g_w.level != 0 || fi.codec == PODSYNC_CODEC_NONE, "flush frame compressed at level 0");
        hist_set(fi.state_version, fi.state_digest, 1);
        C.frames++;
        for (int r = 0; r < NREP; r++) chan_send(r, data, size, NULL);
    }
    model_flushed();
    g_version += n;
    hist_set(g_version, g_flushed_digest, 2);
    uint64_t d = 0;
    podsync_store_digest(g_writer, &d);
    CHECK(d == g_flushed_digest, "writer digest %016" PRIx64 " != model %016" PRIx64 " after flush", d, g_flushed_digest);
    CHECK(store_version(g_writer) == g_version, "writer version %" PRIu64 ", model %" PRIu64, store_version(g_writer),
          g_version);
}

static void check_writer_equals_model(const char *when) {
    for (int t = 0; t < NT; t++) {
        const void *records = NULL;
        const uint64_t *keys = NULL;
        size_t count = 0;
        if (!EXPECT_ST("podsync_store_table", podsync_store_table(g_writer, TID[t], &records, &keys, &count),
                       PODSYNC_OK, g_writer))
            continue;
        CHECK(count == g_m[t].nlive, "%s: writer table %u holds %zu, model %zu", when, TID[t], count, g_m[t].nlive);
        CHECK(count == 0 || (uintptr_t)records % TALIGN[t] == 0, "%s: table %u not aligned", when, TID[t]);
        size_t bad = 0;
        for (size_t i = 0; i < count; i++) {
            uint32_t s = mt_find(t, keys[i], 0);
            if (s == NONE32 || !(g_m[t].flag[s] & F_LIVE) ||
                memcmp(mval(t, s), (const unsigned char *)records + i * TSIZE[t], TSIZE[t]) != 0)
                bad++;
        }
        CHECK(bad == 0, "%s: %zu writer records of table %u differ from the model", when, bad, TID[t]);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* A world                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static int all_converged(void) {
    for (int r = 0; r < NREP; r++) {
        replica *R = &g_rep[r];
        if (!R->alive) continue;
        /* a staging left at or below the replica's version never switches (rule 1 keeps it) */
        if (R->needs_snapshot || stg_pending(R) || store_version(R->s) != g_version) return 0;
    }
    return 1;
}

static void check_metrics_producers(const char *when) {
    podsync_metrics mt;
    memset(&mt, 0, sizeof mt);
    mt.version = PODSYNC_METRICS_VERSION;
    EXPECT_ST("podsync_store_metrics(writer)", podsync_store_metrics(g_writer, &mt), PODSYNC_OK, g_writer);
    CHECK(mt.chunks_out == g_writer_chunks, "%s: writer metrics chunks_out %" PRIu64 ", the test saw %llu chunks", when,
          mt.chunks_out, g_writer_chunks);
    int held = 0;
    for (int i = 0; i < MAX_SESS; i++)
        if (g_sess[i].used && g_sess[i].producer < 0) held = 1;
    if (!held)
        CHECK(mt.snapshot_bytes_held == 0, "%s: writer holds %" PRIu64 " snapshot bytes with no snapshot handle", when,
              mt.snapshot_bytes_held);
    if (g_rep[PEER].alive) {
        memset(&mt, 0, sizeof mt);
        mt.version = PODSYNC_METRICS_VERSION;
        EXPECT_ST("podsync_store_metrics(peer)", podsync_store_metrics(g_rep[PEER].s, &mt), PODSYNC_OK, NULL);
        CHECK(mt.chunks_out == g_peer_chunks, "%s: peer metrics chunks_out %" PRIu64 ", the test saw %llu", when,
              mt.chunks_out, g_peer_chunks);
    }
}

static void run_world(const world *w, uint64_t seed, unsigned long ops) {
    memset(&C, 0, sizeof C);
    g_w = *w;
    g_rng = seed ^ (0x1000003ull * (uint64_t)(w->index + 1));
    g_tick = 0;
    g_ending = 0;
    g_version = 0;
    g_live_digest = g_flushed_digest = 0;
    g_writer_chunks = g_peer_chunks = 0;
    g_horizon = 192;
    memset(g_rep, 0, sizeof g_rep);
    memset(g_sess, 0, sizeof g_sess);
    g_rep[INPLACE].inplace_opt = 1;

    /* the writer's initial tables: 20k-100k records in all */
    g_target[0] = 10000 + (size_t)below(35000);
    g_target[1] = 5000 + (size_t)below(30000);
    g_target[2] = 1000 + (size_t)below(4000);
    for (int t = 0; t < NT; t++) {
        uint32_t cap = 1024;
        while (cap < g_target[t] * 3) cap *= 2;
        mt_init(&g_m[t], cap);
        g_m[t].dense_base = t == 1 ? 0 : (uint64_t)(t + 1) << 40;
    }

    if (podsync_store_options_init(&g_wopts, PODSYNC_STORE_OPTIONS_VERSION) != PODSYNC_OK) die("options_init");
    g_wopts.flags = PODSYNC_OPT_FRAME_DIGEST | PODSYNC_OPT_MANUAL_CLOCK;
    g_wopts.stream_id = 0xC4C4000000000000ull + (uint64_t)w->index;
    g_wopts.max_batch_records = 1u << 20;
    g_wopts.max_batch_bytes = 1u << 28;
    g_wopts.max_frame_bytes = w->max_frame_bytes;
    g_wopts.tombstone_horizon = g_horizon;
    g_wopts.compression_level = w->level;
    g_wopts.transforms = PODSYNC_TRANSFORM_ALL;
    g_wopts.frame_format = w->frame_format;
    if (podsync_store_create(g_schema, PODSYNC_ROLE_WRITER, &g_wopts, &g_writer) != PODSYNC_OK) die("writer create");
    g_stream = g_wopts.stream_id;
    podsync_store_set_time(g_writer, 1);

    /* load and flush the initial state (version 1) */
    for (int t = 0; t < NT; t++) {
        size_t per = REC_BUF / TSIZE[t];
        if (per > 4096) per = 4096;
        while (g_m[t].nlive < g_target[t]) {
            size_t n = g_target[t] - g_m[t].nlive;
            if (n > per) n = per;
            for (size_t i = 0; i < n; i++) {
                g_keys[i] = pm(600) ? g_m[t].dense_base + g_m[t].dense_next++ : rnd();
                make_record(t, g_keys[i], g_rec + i * TSIZE[t]);
            }
            write_status("put_many(initial)", podsync_store_put_many(g_writer, TID[t], g_keys, g_rec, n, n * TSIZE[t]));
            for (size_t i = 0; i < n; i++) model_put(t, g_keys[i], g_rec + i * TSIZE[t]);
        }
    }
    writer_flush();

    /* when the replicas join: the peer at once, three others together at about 10%, two at about
       45% (so that several snapshots stream at once) */
    unsigned long ticks = ops / 100;
    if (ticks < 60) ticks = 60;
    uint64_t join_at[NREP];
    join_at[PEER] = 0;
    for (int r = 1; r < NREP; r++) join_at[r] = (uint64_t)(ticks * (r < 4 ? 10 : 45) / 100) + below(ticks / 40 + 1);
    int recreations_left = 4;

    for (g_tick = 1; g_tick <= ticks; g_tick++) {
        C.ticks++;
        podsync_store_set_time(g_writer, 1 + g_tick);
        for (int r = 0; r < NREP; r++)
            if (!g_rep[r].alive && g_tick >= join_at[r] && join_at[r] != UINT64_MAX) {
                replica_create(r);
                join_at[r] = UINT64_MAX;
            }
        /* outages: a short one heals with a delta, a long one needs a snapshot */
        if (pm(8)) {
            int r = 1 + (int)below(NREP - 1);
            if (g_rep[r].alive && !g_rep[r].needs_snapshot && !offline(&g_rep[r])) {
                if (pm(500)) g_rep[r].offline_until = g_tick + 3 + below(40);
                else g_rep[r].offline_until_version = g_version + g_horizon + below(20);
                C.outages++;
            }
        }
        /* a replica leaves and joins again (maybe filling in place this time) */
        if (recreations_left > 0 && g_tick > ticks / 3 && pm(2)) {
            int r = 1 + (int)below(NREP - 1);
            if (g_rep[r].alive && r != INPLACE) {
                replica_destroy(r);
                g_rep[r].inplace_opt = (int)below(2);
                g_rep[r].offline_until = g_rep[r].offline_until_version = 0;
                replica_create(r);
                g_rep[r].recreations++;
                C.recreations++;
                recreations_left--;
            }
        }

        process_requests();
        sessions_step(0);
        size_t nops = 5 + (size_t)below(50);
        for (size_t i = 0; i < nops; i++) {
            writer_op();
            if (i == nops / 2) sessions_step(1); /* chunks amid pending writes */
        }
        if (g_need_flush || pm(350)) writer_flush();
        sessions_step(2);
        for (int r = 0; r < NREP; r++) deliver(r);
        stall_checks();
        if (g_tick % 500 == 0) {
            writer_flush();
            check_writer_equals_model("periodic");
            check_metrics_producers("periodic");
            vimg *im = current_image();
            for (int r = 0; r < NREP; r++)
                if (g_rep[r].alive && !g_rep[r].needs_snapshot && store_version(g_rep[r].s) == g_version)
                    check_contents(r, im, "periodic, caught up");
        }
    }

    /* the end: a last flush, then no loss and no writes until everyone has converged */
    writer_flush();
    g_ending = 1;
    for (int r = 0; r < NREP; r++) g_rep[r].offline_until = g_rep[r].offline_until_version = 0;
    unsigned rounds = 0;
    for (; rounds < 4000 && !all_converged(); rounds++, g_tick++) {
        process_requests();
        sessions_step(0);
        sessions_step(2);
        for (int r = 0; r < NREP; r++) deliver(r);
        stall_checks();
    }
    CHECK(all_converged(), "world %d: the replicas did not converge in %u rounds", w->index, rounds);
    for (int i = 0; i < MAX_SESS; i++) session_free(&g_sess[i]);
    for (int r = 0; r < NREP; r++) deliver(r);

    check_writer_equals_model("final");
    check_metrics_producers("final");
    vimg *im = current_image();
    uint64_t wd = 0;
    podsync_store_digest(g_writer, &wd);
    CHECK(wd == g_flushed_digest && im->digest == wd, "final writer digest %016" PRIx64 ", model %016" PRIx64, wd,
          g_flushed_digest);
    int alive = 0;
    for (int r = 0; r < NREP; r++) {
        if (!g_rep[r].alive) continue;
        alive++;
        vis v = capture(g_rep[r].s);
        CHECK(v.version == g_version && v.digest == wd && v.stream == g_stream && !v.diverged,
              "final: replica %d at version %" PRIu64 " digest %016" PRIx64 ", writer %" PRIu64 " %016" PRIx64, r,
              v.version, v.digest, g_version, wd);
        check_contents(r, im, "final");
        check_staging(r, "final");
        if (g_rep[r].stg.active) {
            /* a staging that can no longer switch (rule 1 kept it) may stay behind */
            C.dleftover++;
            CHECK(g_rep[r].stg.rg->version <= v.version, "final: replica %d at version %" PRIu64 " stages %s of version %"
                  PRIu64, r, v.version, g_rep[r].stg.rg->is_delta ? "a delta" : "a snapshot", g_rep[r].stg.rg->version);
        }
    }
    CHECK(alive == NREP, "world %d: %d of %d replicas alive at the end", w->index, alive, NREP);

    size_t total = img_total(im);
    printf("world %d (level %d, frame_format %u, writer frames <= %" PRIu64 " B, peer level %d): ticks=%llu "
           "writes=%llu version=%" PRIu64 " records=%zu (%zu+%zu+%zu)\n"
           "  chunks=%llu (%llu MB) sent=%llu drops=%llu dups=%llu delayed=%llu swaps=%llu delivered=%llu | "
           "snapshots=%llu (writer %llu, peer %llu, outbox %llu) resumes=%llu (live %llu) expiries=%llu "
           "switches=%llu (in place %llu) | staged=%llu gaps=%llu chunk_dups=%llu chunk_stale=%llu | deltas ok=%llu "
           "dup=%llu gap=%llu heals=%llu (peer %llu) snapshot_required=%llu | outages=%llu recreations=%llu "
           "obsolete_requests=%llu content_checks=%llu stale_switches=%llu resized_resumes=%llu mismatches=%llu "
           "max_concurrent_snapshots=%llu empty_last_chunks=%llu end_rounds=%u\n"
           "  chunked deltas=%llu (%llu chunks, %llu MB; also sent to another replica %llu) | at the replicas: "
           "applied=%llu (checked record by record %llu) gap_at_last=%llu staged=%llu chunk_gaps=%llu dups=%llu "
           "stale=%llu asked_again=%llu snapshot_instead=%llu | replaced by a delta's chunk 0: a snapshot staged %llu "
           "(filled in place %llu), a delta %llu; by a snapshot's chunk 0: a delta %llu | stagings left behind %llu\n",
           w->index, w->level, w->frame_format, w->max_frame_bytes, w->peer_level, C.ticks, C.writes, g_version, total,
           im->n[0], im->n[1], im->n[2], C.chunks, C.chunk_bytes >> 20, C.sent, C.dropped, C.duplicated, C.delayed,
           C.swapped, C.delivered, C.snapshots, C.writer_snapshots, C.peer_snapshots, C.outbox_snapshots, C.resumes,
           C.resumes_live, C.expiries, C.switches, C.inplace_switches, C.staged, C.gaps, C.chunk_dups, C.chunk_stale,
           C.delta_ok, C.delta_dups, C.delta_gaps, C.delta_heals, C.peer_heals, C.snapshot_required, C.outages,
           C.recreations, C.obsolete_requests, C.content_checks, C.switch_stale, C.resize_resumes, C.mismatches, C.max_sessions, C.empty_last_chunks, rounds,
           C.dchunked, C.dchunks, C.dchunk_bytes >> 20, C.doverheard, C.dswitch_ok, C.dcontent_checks, C.dswitch_gap,
           C.dstaged, C.dgaps, C.ddups, C.dstale, C.drerequests, C.dfallbacks, C.delta_over_snapshot,
           C.dinplace_dropped, C.delta_over_delta, C.snapshot_over_delta, C.dleftover);

    /* run totals */
    unsigned long long *a = (unsigned long long *)&CT, *b = (unsigned long long *)&C;
    for (size_t i = 0; i < sizeof C / sizeof(unsigned long long); i++) a[i] += b[i];

    for (int r = 0; r < NREP; r++) {
        replica_destroy(r);
        free(g_rep[r].q.v);
    }
    for (size_t i = 0; i < g_nreq; i++) reg_unref(g_reqs[i].rg);
    g_nreq = 0;
    img_unref(g_cur_img);
    g_cur_img = NULL;
    CHECK(g_regs == NULL, "registry entries left after the world (a reference leak in the test)");
    podsync_store_free(g_writer);
    g_writer = NULL;
    for (int t = 0; t < NT; t++) mt_free(&g_m[t]);
    memset(g_digest_known, 0, g_hist_cap);
}

int main(int argc, char **argv) {
    uint64_t seed = 20261206;
    unsigned long ops = 1000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc) ops = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--verbose")) g_verbose = 1;
        else {
            fprintf(stderr, "usage: %s [--seed N] [--ops N] [--verbose]\n", argv[0]);
            return 2;
        }
    }
    CHECK(podsync_version_number() >= 500, "library %u predates chunked snapshots", podsync_version_number());
    g_rec = xalloc64(REC_BUF);
    g_schema = make_schema();
    EXPECT_ST("podsync_schema_hash", podsync_schema_hash(g_schema, &g_schema_hash), PODSYNC_OK, NULL);

    static const world worlds[2] = {
        {0, 0, 1, 65536, 1},     /* plain format-1 frames; the peer's chunks compressed */
        {1, 1, 2, 32768, 0},     /* zstd level 1, every transform, format 2 for every frame */
    };
    for (int i = 0; i < 2; i++) run_world(&worlds[i], seed, ops / 2);

    if (ops >= 200000) {
        /* a default-sized run must have exercised every path */
        CHECK(CT.resumes > 0 && CT.resumes_live > 0 && CT.expiries > 0 && CT.switches > 0 && CT.inplace_switches > 0 &&
                  CT.peer_snapshots > 0 && CT.outbox_snapshots > 0 && CT.snapshot_required > 0 && CT.gaps > 0 &&
                  CT.chunk_dups > 0 && CT.chunk_stale > 0 && CT.delta_heals > 0,
              "paths not all exercised: resumes %llu (live %llu) expiries %llu switches %llu in place %llu peer %llu "
              "outbox %llu snapshot_required %llu gaps %llu chunk_dups %llu chunk_stale %llu heals %llu",
              CT.resumes, CT.resumes_live, CT.expiries, CT.switches, CT.inplace_switches, CT.peer_snapshots,
              CT.outbox_snapshots, CT.snapshot_required, CT.gaps, CT.chunk_dups, CT.chunk_stale, CT.delta_heals);
    }
    if (ops >= 1000000) {
        /* a default-sized run must have exercised every path of the chunked catch-up deltas (a GAP
           at the LAST, from a delta sent to a replica behind its base, comes 13-24 times in seeds
           1-8 at this size, and may not come at all at a fifth of it) */
        CHECK(CT.dchunked > 0 && CT.doverheard > 0 && CT.dswitch_ok > 0 && CT.dcontent_checks > 0 && CT.dswitch_gap > 0 &&
                  CT.dstaged > 0 && CT.dgaps > 0 && CT.ddups > 0 && CT.dstale > 0 && CT.drerequests > 0 &&
                  CT.dfallbacks > 0 && CT.delta_over_snapshot > 0 && CT.snapshot_over_delta > 0 &&
                  CT.delta_over_delta > 0,
              "chunked delta paths not all exercised: deltas %llu overheard %llu applied %llu (checked %llu) gap at "
              "the last %llu staged %llu chunk_gaps %llu dups %llu stale %llu asked again %llu snapshot instead %llu "
              "replaced: snapshot by delta %llu, delta by snapshot %llu, delta by delta %llu",
              CT.dchunked, CT.doverheard, CT.dswitch_ok, CT.dcontent_checks, CT.dswitch_gap, CT.dstaged, CT.dgaps,
              CT.ddups, CT.dstale, CT.drerequests, CT.dfallbacks, CT.delta_over_snapshot, CT.snapshot_over_delta,
              CT.delta_over_delta);
    }
    printf("chunked_scenario seed=%" PRIu64 " ops=%lu: chunks=%llu drops=%llu dups=%llu resumes=%llu expiries=%llu "
           "switches=%llu (in place %llu) snapshots=%llu (peer %llu, outbox %llu) gaps=%llu images=%llu | chunked "
           "deltas=%llu (%llu chunks) applied=%llu gap_at_last=%llu chunk_gaps=%llu replaced: snapshot by delta %llu, "
           "delta by snapshot %llu\n",
           seed, ops, CT.chunks, CT.dropped, CT.duplicated, CT.resumes, CT.expiries, CT.switches, CT.inplace_switches,
           CT.snapshots, CT.peer_snapshots, CT.outbox_snapshots, CT.gaps, g_images_built, CT.dchunked, CT.dchunks,
           CT.dswitch_ok, CT.dswitch_gap, CT.dgaps, CT.delta_over_snapshot, CT.snapshot_over_delta);
    podsync_schema_free(g_schema);
    free(g_digest_hist);
    free(g_digest_known);
    free(g_reqs);
    free(g_rec);
    printf("%llu passed, %llu failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
