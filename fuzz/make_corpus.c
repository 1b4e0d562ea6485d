/*
 * make_corpus.c — writes the seed corpora of the fuzz targets: real frames, schemas, dictionaries
 * and writer programs, made with the library (fuzz/make-corpus builds and runs it).
 *
 * Usage: make_corpus OUTDIR [FILE...]
 * Writes OUTDIR/<target>/<name> for the targets apply, apply_dict, validate, schema_decode,
 * load_dictionary, writer_program, metrics_prometheus and reconcile:
 *   - scenarios on each of the four test schemas (fuzz_common.c), plain and compressed (levels
 *     1, 3, -1, 19; on schema 0 every transforms mask 0..15), some with small max_frame_bytes: a
 *     first flush of new records, a snapshot, flushes of small changes (XOR-able), new keys and
 *     deletes, a catch-up delta since version 1, a final snapshot. Every frame is a `validate` seed;
 *     `apply` gets containers of them in orders that apply (all flushes; snapshot then the later
 *     flushes; the first frame then the catch-up delta; the final snapshot);
 *   - KEY_RANKS: 1,100 sparse keys whose ticks go as ranks, in containers from the start and without
 *     the frames before the ranked ones;
 *   - the same in frame format 2 (also with FIELDS: masks 0x1F, 0x15, 0x1E), and with a rolling
 *     refresh (slices in every flush, a refresh-only
 *     frame when idle), plain and compressed, some with small max_frame_bytes (chunked snapshots);
 *   - chunked snapshots (podsync_snapshot_begin with 512- to 700-byte chunks) written while the
 *     writer goes on, and resumed (podsync_snapshot_resume from a replica's podsync_store_staging):
 *     every chunk a `validate` seed, containers that stage them in order and switch, lose one
 *     (CHUNK_GAP) and resume, interleave two snapshots, and switch over a replica that had a delta;
 *   - the same compressed with the shared dictionary (fz_shared_dictionary) for `apply_dict`
 *     (which also gets a share of the plain containers) and `validate`;
 *   - canonical schema encodings (the test schemas and some edge cases) for `schema_decode`;
 *   - dictionaries (the shared one, others trained by the library, small and large) and a few
 *     near-dictionaries for `load_dictionary`;
 *   - writer programs (writer_program.c's format) over levels, masks, schemas and frame sizes, in
 *     frame format 2, streaming chunked snapshots (lost chunks, resumes, closed snapshots), with a
 *     rolling refresh, an idle clock and a one-way replica losing frames;
 *   - reconciliation: for `reconcile`, the messages of real exchanges (podsync_store_summary, then
 *     podsync_store_reconcile of the writer and the replica in turn) between the writer and replica
 *     fuzz_pair.c sets up for a configuration byte (every schema and kind, some larger, tracking
 *     changes, with pending writes, level 2 summaries), summary ids made stable: replayed as they
 *     were, with the writer moving on between them, the first one followed by the harness (to the
 *     writer, and to the replica as a responder), after honest heals, after a reverted write, and
 *     the repair applied directly and again; for `apply` (and `apply_dict`), repair frames after
 *     the frames that put their replica in the state they were computed for (a snapshot, an
 *     impostor's delta of the same stream, the writer's next delta: diverged), applied then,
 *     too early (REPAIR_STALE), twice, and a repair computed for an empty replica on a fresh one;
 *     every message and repair frame is also a `validate` seed;
 *   - metrics of a real writer and replica (version 3: chunks out, a snapshot held open, chunks
 *     staged, a chunk gap) with valid and invalid label sets for `metrics_prometheus`;
 *   - each FILE (fuzz/make-corpus passes every file of Tests/fixtures/bombs) as a `validate`
 *     seed; schema encodings also for `schema_decode`; frames also for `apply` and `apply_dict`,
 *     in containers with the schema of NAME.schema next to NAME.bin (default and tight limits).
 * Output is deterministic. Exits non-zero if the library fails at any step.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "fuzz_pair.h"

static const char *g_out;
static size_t g_files;

static void mkdir_p(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

static void write_file(const char *target, const char *name, const void *data, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    g_files++;
}

/* ------------------------------------------------------------------------------------------ */
/* Frames                                                                                     */
/* ------------------------------------------------------------------------------------------ */

#define MAX_KEPT 64

typedef struct kept {
    size_t count;
    uint8_t *data[MAX_KEPT];
    size_t size[MAX_KEPT];
    char name[MAX_KEPT][32];
} kept;

/* Copies the store's outbox (valid until its next flush/delta/snapshot) into k. Returns the index
   of the first frame copied. */
static size_t keep_outbox(kept *k, podsync_store *w, size_t n, const char *name) {
    size_t first = k->count;
    for (size_t i = 0; i < n && k->count < MAX_KEPT; i++) {
        const uint8_t *f = NULL;
        size_t size = 0;
        FZ_OK(podsync_store_frame(w, i, &f, &size));
        k->data[k->count] = malloc(size);
        FZ_REQUIRE(k->data[k->count] != NULL, "out of memory");
        memcpy(k->data[k->count], f, size);
        k->size[k->count] = size;
        snprintf(k->name[k->count], sizeof k->name[0], "%s%zu", name, i);
        k->count++;
    }
    return first;
}

static void kept_free(kept *k) {
    for (size_t i = 0; i < k->count; i++) free(k->data[i]);
    k->count = 0;
}

static void write_container(const char *target, const char *name, uint8_t cfg, kept *k, const size_t *idx, size_t n) {
    const uint8_t *frames[FZ_MAX_FRAMES];
    size_t sizes[FZ_MAX_FRAMES], total = 1;
    for (size_t i = 0; i < n && i < FZ_MAX_FRAMES; i++) {
        frames[i] = k->data[idx[i]];
        sizes[i] = k->size[idx[i]];
        total += 4 + sizes[i];
    }
    if (n > FZ_MAX_FRAMES) n = FZ_MAX_FRAMES;
    uint8_t *buf = malloc(total);
    FZ_REQUIRE(buf != NULL, "out of memory");
    size_t size = fz_container_write(buf, total, cfg, frames, sizes, n);
    FZ_REQUIRE(size == total, "container of %zu bytes does not fit %zu", size, total);
    write_file(target, name, buf, size);
    free(buf);
}

/* One writer history; its frames go to `validate` and in containers to `container_target`.
   format: the writer's frame_format; refresh: refresh_flushes (with refresh_ms 10, and a
   refresh-only frame after the last flush). */
static void scenario_ex(unsigned schema, int32_t level, uint32_t transforms, uint64_t max_frame_bytes, const uint8_t *dict,
                        size_t dict_size, const char *container_target, uint32_t format, uint32_t refresh) {
    const fz_schema_desc *d = fz_schema_desc_get(schema);
    podsync_schema *s = fz_schema_new(schema);
    podsync_store_options o = fz_options(level, transforms, max_frame_bytes);
    o.frame_format = format;
    o.refresh_flushes = refresh;
    o.refresh_ms = refresh ? 10 : 0;
    podsync_store *w = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    podsync_schema_free(s);
    if (dict) FZ_OK(podsync_store_load_dictionary(w, dict, dict_size, NULL));
    uint64_t rng = schema * 1000003u + (uint64_t)(level + 100) * 131 + transforms;
    kept k = {0};
    size_t n = 0, flushes[4][2];

    /* 1: new records; the first table gets enough rows for the column trials */
    for (size_t t = 0; t < d->table_count; t++) {
        size_t count = t == 0 ? 70 : (d->tables[t].record_size > 64 ? 12 : 24);
        uint64_t stride = schema == 2 ? (1ull << 36) + 1 : 1 + t;
        fz_put_records(w, &d->tables[t], 1 + 1000 * t, stride, count, (unsigned)(t == 0 ? 3 : t), &rng, 1);
    }
    FZ_OK(podsync_store_flush(w, &n));
    flushes[0][0] = keep_outbox(&k, w, n, "flush1-");
    flushes[0][1] = k.count;
    FZ_OK(podsync_store_snapshot(w, &n));
    size_t snap1 = keep_outbox(&k, w, n, "snapshot1-");
    /* 2: small changes (XOR finds few changed bytes) and deletes */
    for (size_t t = 0; t < d->table_count; t++) fz_put_records(w, &d->tables[t], 1 + 1000 * t, schema == 2 ? (1ull << 36) + 1 : 1 + t, 9, 1, &rng, 1);
    FZ_OK(podsync_store_delete(w, d->tables[0].id, 1 + 69 * (schema == 2 ? (1ull << 36) + 1 : 1)));
    FZ_OK(podsync_store_flush(w, &n));
    flushes[1][0] = keep_outbox(&k, w, n, "flush2-");
    flushes[1][1] = k.count;
    /* 3: new keys far away, more changes */
    fz_put_records(w, &d->tables[0], 1ull << 40, 7, 30, 0, &rng, 1);
    fz_put_records(w, &d->tables[d->table_count - 1], 5000, 3, 6, 2, &rng, 1);
    FZ_OK(podsync_store_flush(w, &n));
    flushes[2][0] = keep_outbox(&k, w, n, "flush3-");
    flushes[2][1] = k.count;
    /* 4: deletes only */
    uint64_t del[10];
    for (size_t i = 0; i < 10; i++) del[i] = (1ull << 40) + 7 * i;
    FZ_OK(podsync_store_delete_many(w, d->tables[0].id, del, 10, NULL));
    FZ_OK(podsync_store_flush(w, &n));
    flushes[3][0] = keep_outbox(&k, w, n, "flush4-");
    if (refresh) { /* idle: a slice alone */
        FZ_OK(podsync_store_set_time(w, 1000));
        FZ_OK(podsync_store_flush(w, &n));
        FZ_REQUIRE(n == 1, "an idle flush with a rolling refresh made %zu frames", n);
        keep_outbox(&k, w, n, "refresh-only");
    }
    flushes[3][1] = k.count;
    FZ_OK(podsync_store_delta_since(w, 1, &n));
    size_t catchup = keep_outbox(&k, w, n, "catchup1-");
    FZ_OK(podsync_store_snapshot(w, &n));
    size_t snap_end = keep_outbox(&k, w, n, "snapshot-");

    char prefix[96], name[160];
    snprintf(prefix, sizeof prefix, "s%u-l%d-t%x-m%" PRIu64 "%s-f%u-r%u", schema, (int)level, transforms, max_frame_bytes,
             dict ? "-dict" : "", format, refresh);
    for (size_t i = 0; i < k.count; i++) {
        snprintf(name, sizeof name, "%s-%s", prefix, k.name[i]);
        write_file("validate", name, k.data[i], k.size[i]);
    }
    uint8_t cfg = (uint8_t)schema;
    size_t idx[MAX_KEPT], m = 0;
    for (size_t f = 0; f < 4; f++)
        for (size_t i = flushes[f][0]; i < flushes[f][1]; i++) idx[m++] = i;
    snprintf(name, sizeof name, "%s-flushes", prefix);
    write_container(container_target, name, cfg | FZ_CFG_SERVE, &k, idx, m);
    m = 0;
    idx[m++] = snap1;
    for (size_t f = 1; f < 4; f++)
        for (size_t i = flushes[f][0]; i < flushes[f][1]; i++) idx[m++] = i;
    snprintf(name, sizeof name, "%s-snapshot-then-flushes", prefix);
    write_container(container_target, name, cfg | (transforms & 1 ? 0x08 : 0), &k, idx, m); /* misaligned by 1 sometimes */
    /* the first frame (version 1), then the catch-up delta since version 1 (one frame, or its chunks) */
    m = 0;
    idx[m++] = flushes[0][0];
    for (size_t i = catchup; i < snap_end && m < FZ_MAX_FRAMES; i++) idx[m++] = i;
    snprintf(name, sizeof name, "%s-catchup", prefix);
    write_container(container_target, name, cfg | FZ_CFG_SERVE, &k, idx, m);
    /* the final snapshot (one frame, or all its chunks), then a delta it already has: DUPLICATE */
    m = 0;
    for (size_t i = snap_end; i < k.count && m < FZ_MAX_FRAMES - 1; i++) idx[m++] = i;
    idx[m++] = flushes[0][0];
    snprintf(name, sizeof name, "%s-final-snapshot", prefix);
    write_container(container_target, name, cfg | FZ_CFG_TIGHT, &k, idx, m);
    kept_free(&k);
    podsync_store_free(w);
}

/* KEY_RANKS: 1,100 sparse keys (a writer ranks tables of at least 1,024 once their keys settle),
   then ticks that change 40 of them; containers of every frame from the start, and of a replica
   that holds other keys at the base (its ranks are past its keys, or name others). */
static void ranked_seeds(unsigned schema) {
    const fz_schema_desc *d = fz_schema_desc_get(schema);
    podsync_schema *s = fz_schema_new(schema);
    podsync_store_options o = fz_options(1, PODSYNC_TRANSFORM_ALL, 0);
    o.frame_format = 2;
    podsync_store *w = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    podsync_schema_free(s);
    uint64_t rng = 0x4A4E5 + schema;
    kept k = {0};
    size_t n = 0;
    const uint64_t stride = (1ull << 36) + 1;
    fz_put_records(w, &d->tables[0], 3, stride, 1100, 3, &rng, 1);
    FZ_OK(podsync_store_flush(w, &n));
    size_t first = keep_outbox(&k, w, n, "bulk-");
    size_t ranked = 0;
    for (unsigned tick = 0; tick < 5; tick++) {
        fz_put_records(w, &d->tables[0], 3 + stride * 7 * tick, stride, 40, 1, &rng, 1);
        FZ_OK(podsync_store_flush(w, &n));
        for (size_t i = 0; i < n; i++) {
            podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
            const uint8_t *f = NULL;
            size_t size = 0;
            FZ_OK(podsync_store_frame(w, i, &f, &size));
            FZ_OK(podsync_frame_peek(f, size, &info));
            if (info.transforms & PODSYNC_TRANSFORM_KEY_RANKS) ranked++;
        }
        char name[32];
        snprintf(name, sizeof name, "tick%u-", tick);
        keep_outbox(&k, w, n, name);
    }
    FZ_REQUIRE(ranked >= 3, "schema %u: only %zu ranked frames", schema, ranked);
    char name[160];
    for (size_t i = 0; i < k.count; i++) {
        snprintf(name, sizeof name, "ranks-s%u-%s", schema, k.name[i]);
        write_file("validate", name, k.data[i], k.size[i]);
    }
    size_t idx[MAX_KEPT], m = 0;
    for (size_t i = first; i < k.count; i++) idx[m++] = i;
    snprintf(name, sizeof name, "ranks-s%u-all", schema);
    write_container("apply", name, (uint8_t)schema, &k, idx, m);
    /* the ranked ticks alone: a fresh replica is not at their base (GAP) */
    m = 0;
    for (size_t i = first + 2; i < k.count; i++) idx[m++] = i;
    snprintf(name, sizeof name, "ranks-s%u-ticks", schema);
    write_container("apply", name, (uint8_t)schema, &k, idx, m);
    kept_free(&k);
    podsync_store_free(w);
}

static void scenario(unsigned schema, int32_t level, uint32_t transforms, uint64_t max_frame_bytes, const uint8_t *dict,
                     size_t dict_size, const char *container_target) {
    scenario_ex(schema, level, transforms, max_frame_bytes, dict, dict_size, container_target, 1, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Chunked snapshots                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Up to `max` chunks of a snapshot stream into k (named prefix<i>); returns how many. */
static size_t keep_chunks(kept *k, podsync_snapshot *h, size_t max, const char *prefix, size_t first_index) {
    size_t n = 0;
    while (n < max && k->count < MAX_KEPT) {
        const uint8_t *f = NULL;
        size_t size = 0;
        int32_t st = podsync_snapshot_next(h, &f, &size);
        if (st == PODSYNC_DONE) break;
        FZ_REQUIRE(st == PODSYNC_OK, "snapshot_next returned %s", podsync_status_name(st));
        k->data[k->count] = malloc(size);
        FZ_REQUIRE(k->data[k->count] != NULL, "out of memory");
        memcpy(k->data[k->count], f, size);
        k->size[k->count] = size;
        snprintf(k->name[k->count], sizeof k->name[0], "%s%zu", prefix, first_index + n);
        k->count++;
        n++;
    }
    return n;
}

/* Chunked snapshots of a writer (podsync_snapshot_begin with small chunks), written while the
   writer goes on: chunks for `validate`, and for `target` containers that stage them in order,
   lose one and get CHUNK_GAP, resume (podsync_snapshot_resume from a replica's staging, with
   other chunk sizes), interleave two snapshots, and apply a later delta after the switch. */
static void chunk_scenario(unsigned schema, int32_t level, uint32_t transforms, const char *target) {
    const fz_schema_desc *d = fz_schema_desc_get(schema);
    podsync_schema *s = fz_schema_new(schema);
    podsync_store_options o = fz_options(level, transforms, 0);
    podsync_store *w = NULL, *r = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    podsync_store_options ro = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &ro, &r));
    podsync_schema_free(s);
    uint64_t rng = 77 + schema * 13 + (uint64_t)(level + 100) + transforms;
    kept k = {0};
    size_t n = 0;
    for (size_t t = 0; t < d->table_count; t++)
        fz_put_records(w, &d->tables[t], 1 + 1000 * t, schema == 2 ? (1ull << 36) + 1 : 1 + t, t == 0 ? 60 : 20, (unsigned)(t + 2), &rng, 1);
    FZ_OK(podsync_store_flush(w, &n));
    size_t flush1 = keep_outbox(&k, w, n, "flush1-");
    /* snapshot A of version 1, in chunks of 512 bytes (at most 12 kept) */
    podsync_snapshot *a = NULL;
    FZ_OK(podsync_snapshot_begin(w, 512, &a));
    size_t a0 = k.count, an = keep_chunks(&k, a, 3, "a", 0);
    /* changes and a flush while A streams: A's later chunks still describe version 1 */
    fz_put_records(w, &d->tables[0], 1, 1, 10, 1, &rng, 1);
    FZ_OK(podsync_store_delete(w, d->tables[d->table_count - 1].id, 1000 * (d->table_count - 1) + 1));
    FZ_OK(podsync_store_flush(w, &n));
    size_t flush2 = keep_outbox(&k, w, n, "flush2-");
    an += keep_chunks(&k, a, 9, "a", 3);
    /* a replica stages A's first three chunks; it then needs chunk 3: resume there with 700-byte chunks */
    for (size_t i = 0; i < 3 && i < an; i++) podsync_store_apply(r, k.data[a0 + i], k.size[a0 + i], NULL);
    podsync_chunk_position pos = PODSYNC_CHUNK_POSITION_INIT;
    size_t resumed0 = k.count, resumed = 0;
    if (podsync_store_staging(r, &pos) == PODSYNC_OK) {
        podsync_snapshot *b = NULL;
        FZ_OK(podsync_snapshot_resume(w, &pos, 700, &b));
        resumed = keep_chunks(&k, b, 10, "resumed", pos.chunk_index);
        podsync_snapshot_free(b);
    }
    podsync_snapshot_free(a);
    /* snapshot C of version 2 (the writer's state now), 600-byte chunks */
    podsync_snapshot *c = NULL;
    FZ_OK(podsync_snapshot_begin(w, 600, &c));
    size_t c0 = k.count, cn = keep_chunks(&k, c, 12, "c", 0);
    podsync_snapshot_free(c);
    podsync_store_free(r);

    char prefix[96], name[160];
    snprintf(prefix, sizeof prefix, "chunks-s%u-l%d-t%x", schema, (int)level, transforms);
    for (size_t i = 0; i < k.count; i++) {
        snprintf(name, sizeof name, "%s-%s", prefix, k.name[i]);
        write_file("validate", name, k.data[i], k.size[i]);
    }
    uint8_t cfg = (uint8_t)schema;
    size_t idx[FZ_MAX_FRAMES], m = 0;
    /* A in order (the switch at its last chunk), then the delta from version 1 to 2 */
    for (size_t i = 0; i < an && m < FZ_MAX_FRAMES - 2; i++) idx[m++] = a0 + i;
    if (m == an) idx[m++] = flush2;
    snprintf(name, sizeof name, "%s-in-order", prefix);
    write_container(target, name, cfg | FZ_CFG_SERVE, &k, idx, m);
    /* a lost chunk: CHUNK_GAP, then the resumed chunks */
    m = 0;
    for (size_t i = 0; i < 3 && i < an; i++) idx[m++] = a0 + i;
    if (an > 4) idx[m++] = a0 + 4;
    for (size_t i = 0; i < resumed && m < FZ_MAX_FRAMES; i++) idx[m++] = resumed0 + i;
    snprintf(name, sizeof name, "%s-gap-resume", prefix);
    write_container(target, name, cfg | FZ_CFG_SERVE, &k, idx, m);
    /* two snapshots interleaved: A's chunk 0, C's chunk 0 (newer: replaces), A's chunk 1 (STALE),
       the rest of C, a chunk repeated (DUPLICATE) */
    m = 0;
    idx[m++] = a0;
    idx[m++] = c0;
    if (an > 1) idx[m++] = a0 + 1;
    for (size_t i = 1; i < cn && m < FZ_MAX_FRAMES - 1; i++) idx[m++] = c0 + i;
    if (cn > 1) idx[m++] = c0 + 1;
    snprintf(name, sizeof name, "%s-interleaved", prefix);
    write_container(target, name, cfg, &k, idx, m);
    /* a replica at version 1 (the delta) gets C; then A's chunks are STALE */
    m = 0;
    idx[m++] = flush1;
    for (size_t i = 0; i < cn && m < FZ_MAX_FRAMES - 2; i++) idx[m++] = c0 + i;
    if (an > 2) idx[m++] = a0 + 2;
    idx[m++] = flush2; /* DUPLICATE after the switch to version 2 */
    snprintf(name, sizeof name, "%s-over-delta", prefix);
    write_container(target, name, cfg | FZ_CFG_TIGHT, &k, idx, m);
    kept_free(&k);
    podsync_store_free(w);
}

/* Terms (FORMAT.md, "Terms and fencing"): writer W, replica A promoted to term 3 at version 2.
   Frames of both: A's carry TERM_HISTORY; W's later ones are fenced at replicas of term 3, and a
   replica that took W's version 3 is told its history diverged, then heals with A's snapshot. */
static void term_scenario(unsigned schema) {
    const fz_schema_desc *d = fz_schema_desc_get(schema);
    podsync_schema *s = fz_schema_new(schema);
    podsync_store_options o = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    podsync_store *w = NULL, *a = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &a));
    podsync_schema_free(s);
    uint64_t rng = 991 + schema;
    kept k = {0};
    size_t n = 0;
    size_t wf[3], af = 0, as = 0, ad = 0;
    for (int v = 0; v < 3; v++) {
        fz_put_records(w, &d->tables[0], 1 + (uint64_t)v * 5, 1, 8, (unsigned)v + 1, &rng, 1);
        FZ_OK(podsync_store_flush(w, &n));
        wf[v] = keep_outbox(&k, w, n, v == 0 ? "w1-" : v == 1 ? "w2-" : "w3-");
        if (v < 2)
            for (size_t i = 0; i < n; i++) podsync_store_apply(a, k.data[wf[v] + i], k.size[wf[v] + i], NULL);
    }
    FZ_OK(podsync_store_promote(a, 3));
    fz_put_records(a, &d->tables[0], 500, 1, 6, 9, &rng, 1);
    FZ_OK(podsync_store_flush(a, &n));
    af = keep_outbox(&k, a, n, "a3-");
    FZ_OK(podsync_store_snapshot(a, &n));
    as = keep_outbox(&k, a, n, "asnap-");
    FZ_OK(podsync_store_delta_since(a, 1, &n));
    ad = keep_outbox(&k, a, n, "adelta-");
    char name[160];
    for (size_t i = 0; i < k.count; i++) {
        snprintf(name, sizeof name, "terms-s%u-%s", schema, k.name[i]);
        write_file("validate", name, k.data[i], k.size[i]);
    }
    size_t idx[FZ_MAX_FRAMES], m = 0;
    /* follows W to 2, takes A's term-3 frame, then W's version 3 is fenced */
    idx[m++] = wf[0];
    idx[m++] = wf[1];
    idx[m++] = af;
    idx[m++] = wf[2];
    idx[m++] = ad;
    snprintf(name, sizeof name, "terms-s%u-fenced", schema);
    write_container("apply", name, (uint8_t)schema | FZ_CFG_SERVE, &k, idx, m);
    /* took W's version 3: A's frame says its history diverged; A's snapshot heals it */
    m = 0;
    idx[m++] = wf[0];
    idx[m++] = wf[1];
    idx[m++] = wf[2];
    idx[m++] = af;
    idx[m++] = as;
    idx[m++] = wf[2];
    snprintf(name, sizeof name, "terms-s%u-diverged", schema);
    write_container("apply", name, (uint8_t)schema, &k, idx, m);
    kept_free(&k);
    podsync_store_free(a);
    podsync_store_free(w);
}

/* ------------------------------------------------------------------------------------------ */
/* Subscriptions                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* Frames of a feed (shard 1 of 2 bits, compressed with XOR): deltas whose versions jump, a
   catch-up delta, a snapshot, for `validate`; and for `apply` the same frames given to a replica
   of the whole stream (PODSYNC_E_NOT_SUBSCRIBED, nothing changed) after the writer's own. */
static void subscription_seeds(unsigned schema) {
    const fz_schema_desc *d = fz_schema_desc_get(schema);
    podsync_schema *s = fz_schema_new(schema);
    podsync_store_options o = fz_options(1, PODSYNC_TRANSFORM_ALL, 0);
    podsync_store *w = NULL, *feed = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    podsync_schema_free(s);
    podsync_subscription_table table = {d->tables[0].id, 0, NULL};
    uint32_t shard = 1;
    podsync_subscription sub = {PODSYNC_SUBSCRIPTION_VERSION, 2, 1, 1, &shard, &table};
    uint8_t bytes[64];
    size_t size = 0;
    FZ_OK(podsync_subscription_encode(&sub, bytes, sizeof bytes, &size, NULL));
    write_file("validate", "subscription-encoding", bytes, size);  /* not a frame: refused */
    uint64_t rng = 4242 + schema;
    kept k = {0};
    size_t n = 0, wf = 0;
    fz_put_records(w, &d->tables[0], 1, 1, 40, 1, &rng, 1);
    FZ_OK(podsync_store_flush(w, &n));
    wf = keep_outbox(&k, w, n, "w1-");
    FZ_OK(podsync_store_feed(w, bytes, size, &feed));
    FZ_OK(podsync_store_snapshot(feed, &n));  /* the subset at version 1, where the feed begins */
    size_t first_snapshot = keep_outbox(&k, feed, n, "fsnap1-");
    for (int v = 0; v < 4; v++) {
        fz_put_records(w, &d->tables[0], 1 + (uint64_t)v * 3, 2, 12, (unsigned)v + 2, &rng, 1);
        FZ_OK(podsync_store_flush(w, &n));
        if (v % 2 == 1) {  /* every other writer flush: the feed's versions jump */
            FZ_OK(podsync_store_flush(feed, &n));
            keep_outbox(&k, feed, n, v == 1 ? "f1-" : "f2-");
        }
    }
    FZ_OK(podsync_store_snapshot(feed, &n));
    keep_outbox(&k, feed, n, "fsnap-");
    FZ_OK(podsync_store_delta_since(feed, 1, &n));
    keep_outbox(&k, feed, n, "fdelta-");
    char name[160];
    for (size_t i = 0; i < k.count; i++) {
        snprintf(name, sizeof name, "subscription-s%u-%s", schema, k.name[i]);
        write_file("validate", name, k.data[i], k.size[i]);
    }
    size_t idx[FZ_MAX_FRAMES], m = 0;
    idx[m++] = wf;
    for (size_t i = wf + 1; i < k.count && m < FZ_MAX_FRAMES; i++) idx[m++] = i;
    snprintf(name, sizeof name, "subscription-s%u-refused", schema);
    write_container("apply", name, (uint8_t)schema, &k, idx, m);
    /* a replica that subscribes first, then takes the feed's frames (and the writer's: refused) */
    if (k.count < MAX_KEPT) {
        k.data[k.count] = malloc(size);
        FZ_REQUIRE(k.data[k.count] != NULL, "out of memory");
        memcpy(k.data[k.count], bytes, size);
        k.size[k.count] = size;
        snprintf(k.name[k.count], sizeof k.name[0], "sub");
        k.count++;
        m = 0;
        idx[m++] = k.count - 1;
        for (size_t i = first_snapshot; i < k.count - 1 && m < FZ_MAX_FRAMES; i++) idx[m++] = i;
        idx[m++] = wf;
        snprintf(name, sizeof name, "subscription-s%u-subscribed", schema);
        write_container("apply", name, (uint8_t)schema | FZ_CFG_SERVE, &k, idx, m);
    }
    kept_free(&k);
    podsync_store_free(feed);
    podsync_store_free(w);
}

/* ------------------------------------------------------------------------------------------ */
/* Reconciliation                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Summary ids are random: the seeds get stable ones (the same mapping within one exchange, so
   in_reply_to still names the message it answers), with the checksum fixed. */
typedef struct id_map {
    size_t n;
    uint64_t from[64];
} id_map;

static uint64_t stable_id(id_map *map, uint64_t id) {
    if (id == 0) return 0;
    for (size_t i = 0; i < map->n; i++)
        if (map->from[i] == id) return 0x51D0000000000001ull + i;
    FZ_REQUIRE(map->n < 64, "too many summaries in one exchange");
    map->from[map->n] = id;
    return 0x51D0000000000001ull + map->n++;
}

static void stabilize(uint8_t *m, size_t size, id_map *map) {
    fz_recon r;
    if (fz_recon_parse(m, size, &r) || !r.has_summary) return;
    fz_wr64(m + r.summary_at + 3, stable_id(map, r.summary_id));
    fz_wr64(m + r.summary_at + 11, stable_id(map, r.in_reply_to));
    FZ_REQUIRE(fz_fix_checksum(m, size) == 1, "cannot fix a summary's checksum");
}

/* A real exchange: the replica's summary (level 0: automatic), then the writer's and the replica's
   answers in turn, into k (stabilized), until the writer answers nothing or a repair (*repair: its
   index, else -1). Nothing is applied. */
static void record_exchange(podsync_store *writer, podsync_store *replica, unsigned level, kept *k, long *repair, const char *prefix) {
    id_map map = {0};
    size_t n = 0;
    char name[32];
    *repair = -1;
    FZ_OK(podsync_store_summary(replica, level, &n));
    snprintf(name, sizeof name, "%s0-", prefix);
    size_t at = keep_outbox(k, replica, n, name);
    stabilize(k->data[at], k->size[at], &map);
    for (int round = 1; round < 15; round++) {
        podsync_store *to = round % 2 ? writer : replica;
        int32_t st = podsync_store_reconcile(to, k->data[k->count - 1], k->size[k->count - 1], &n);
        FZ_REQUIRE(st == PODSYNC_OK, "reconcile (%s) in a real exchange returned %s (%s)", round % 2 ? "writer" : "replica",
                   podsync_status_name(st), podsync_store_errmsg(to));
        if (n == 0) return;
        snprintf(name, sizeof name, "%s%d-", prefix, round);
        at = keep_outbox(k, to, n, name);
        stabilize(k->data[at], k->size[at], &map);
        if (fz_rd16(k->data[at] + FZ_V2_OFF_FLAGS) & FZ_V2_FLAG_REPAIR) {
            *repair = (long)at;
            return;
        }
    }
}

static void write_reconcile(const char *name, uint8_t cfg, const uint8_t *routes, size_t nroutes, kept *k, const size_t *idx,
                            size_t n) {
    kept all = {0};
    all.data[0] = (uint8_t *)routes;
    all.size[0] = nroutes;
    size_t ids[FZ_MAX_FRAMES];
    ids[0] = 0;
    for (size_t i = 0; i < n && i + 1 < FZ_MAX_FRAMES; i++) {
        all.data[i + 1] = k->data[idx[i]];
        all.size[i + 1] = k->size[idx[i]];
        ids[i + 1] = i + 1;
    }
    all.count = n + 1 < FZ_MAX_FRAMES ? n + 1 : FZ_MAX_FRAMES;
    write_container("reconcile", name, cfg, &all, ids, all.count);
}

/* Seeds of the reconcile target for one configuration (fuzz_pair.h): the messages of a real
   exchange between its writer and replica, replayed as they were, followed by the harness, with a
   repair applied directly, with the writer moving on between messages, with the first summary sent
   to the replica, and an honest heal first. Every message is also a `validate` seed. */
static void reconcile_seeds(uint8_t cfg, unsigned level) {
    fz_pair p;
    fz_pair_create(&p, cfg);
    kept k = {0};
    long repair = -1;
    record_exchange(p.writer, p.replica, level, &k, &repair, "m");
    fz_pair_free(&p);
    char prefix[64], name[160];
    snprintf(prefix, sizeof prefix, "rc-%02x-l%u", cfg, level);
    for (size_t i = 0; i < k.count; i++) {
        snprintf(name, sizeof name, "%s-%s", prefix, k.name[i]);
        write_file("validate", name, k.data[i], k.size[i]);
    }
    size_t idx[FZ_MAX_FRAMES], m = 0;
    uint8_t routes[FZ_MAX_FRAMES];
    memset(routes, 0, sizeof routes);
    for (size_t i = 0; i < k.count && m < FZ_MAX_FRAMES - 1; i++)
        if ((long)i != repair) idx[m++] = i;
    snprintf(name, sizeof name, "%s-exchange", prefix);
    write_reconcile(name, cfg, routes, m, &k, idx, m);
    /* the writer moves on (and the replica gets its frames) during the exchange */
    for (size_t i = 1; i < m; i++) routes[i] = i % 2 ? FZ_RC_STEP : FZ_RC_STEP | FZ_RC_DELIVER;
    snprintf(name, sizeof name, "%s-moving", prefix);
    write_reconcile(name, cfg, routes, m, &k, idx, m);
    memset(routes, 0, sizeof routes);
    /* the first summary, the rest followed by the harness */
    routes[0] = FZ_RC_FOLLOW;
    snprintf(name, sizeof name, "%s-follow", prefix);
    write_reconcile(name, cfg, routes, 1, &k, idx, 1);
    /* the first summary to the replica (a responder too), followed */
    routes[0] = FZ_RC_FOLLOW | FZ_RC_OTHER;
    snprintf(name, sizeof name, "%s-other", prefix);
    write_reconcile(name, cfg, routes, 1, &k, idx, 1);
    /* an honest heal, then the (now stale) first summary followed, with pending writes */
    routes[0] = FZ_RC_HEAL | FZ_RC_FOLLOW;
    routes[1] = FZ_RC_PENDING | FZ_RC_HEAL | FZ_RC_FOLLOW;
    idx[1] = idx[0];
    snprintf(name, sizeof name, "%s-heal", prefix);
    write_reconcile(name, cfg, routes, 2, &k, idx, 2);
    /* the writer changes a record and back (its version moves, its state does not), then the
       first summary followed (a replica in sync gets a repair of one bucket that brings it to the
       writer's version); then its two frames delivered and the summary again */
    routes[0] = FZ_RC_REVERT | FZ_RC_FOLLOW;
    routes[1] = FZ_RC_DELIVER | FZ_RC_FOLLOW;
    snprintf(name, sizeof name, "%s-revert", prefix);
    write_reconcile(name, cfg, routes, 2, &k, idx, 2);
    if (repair >= 0) {
        /* the repair applied directly (expected_digest is the replica's), then again (REPAIR_STALE) */
        routes[0] = routes[1] = FZ_RC_APPLY;
        idx[0] = idx[1] = (size_t)repair;
        snprintf(name, sizeof name, "%s-repair", prefix);
        write_reconcile(name, cfg, routes, 2, &k, idx, 2);
    }
    kept_free(&k);
}

/* Repair frames for the `apply` target, after the frames that put their replica in the state they
   were computed for: a replica that took a snapshot of writer W, then version 2 of an impostor of
   W's stream, then W's version 3 (DIGEST_MISMATCH: diverged) is healed by W's repair and goes on
   with W's version 4; the repair given too early (REPAIR_STALE), twice, and to an empty replica
   (a repair computed for an empty one). */
static void repair_apply_seeds(unsigned schema) {
    const fz_schema_desc *d = fz_schema_desc_get(schema);
    podsync_schema *s = fz_schema_new(schema);
    podsync_store_options o = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    o.frame_format = 2;
    podsync_store *w = NULL, *impostor = NULL, *r = NULL, *empty = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &impostor));
    podsync_store_options ro = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &ro, &r));
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &ro, &empty));
    podsync_schema_free(s);
    kept k = {0};
    size_t n = 0;
    for (int twice = 0; twice < 2; twice++) {
        podsync_store *x = twice ? impostor : w;
        uint64_t rng = 4242 + schema;
        for (size_t t = 0; t < d->table_count; t++)
            fz_put_records(x, &d->tables[t], 1 + 1000 * t, schema == 2 ? (1ull << 36) + 1 : 1 + t, t == 0 ? 50 : 12, (unsigned)(t == 0 ? 3 : 2),
                           &rng, 1);
        FZ_OK(podsync_store_flush(x, &n));
    }
    FZ_OK(podsync_store_snapshot(w, &n));
    size_t s1 = keep_outbox(&k, w, n, "snapshot1-");
    uint64_t rng = 99 + schema;
    fz_put_records(impostor, &d->tables[0], 1, 1, 5, 2, &rng, 1);
    FZ_OK(podsync_store_flush(impostor, &n));
    size_t i2 = keep_outbox(&k, impostor, n, "impostor2-");
    fz_put_records(w, &d->tables[0], 3, 2, 4, 1, &rng, 1);
    FZ_OK(podsync_store_flush(w, &n));
    keep_outbox(&k, w, n, "w2-");
    fz_put_records(w, &d->tables[d->table_count - 1], 1000 * (d->table_count - 1) + 1, 1, 3, 1, &rng, 1);
    FZ_OK(podsync_store_delete(w, d->tables[0].id, 1 + 49 * (schema == 2 ? (1ull << 36) + 1 : 1)));
    FZ_OK(podsync_store_flush(w, &n));
    size_t w3 = keep_outbox(&k, w, n, "w3-");
    FZ_OK(podsync_store_apply(r, k.data[s1], k.size[s1], NULL));
    FZ_OK(podsync_store_apply(r, k.data[i2], k.size[i2], NULL));
    int32_t st = podsync_store_apply(r, k.data[w3], k.size[w3], NULL);
    FZ_REQUIRE(st == PODSYNC_E_DIGEST_MISMATCH, "the replica that followed an impostor took the writer's version 3: %s", podsync_status_name(st));
    long x = -1, xe = -1;
    record_exchange(w, r, 0, &k, &x, "heal");
    record_exchange(w, empty, 0, &k, &xe, "heal-empty");
    FZ_REQUIRE(x >= 0 && xe >= 0, "a real exchange ended without a repair");
    st = podsync_store_apply(r, k.data[x], k.size[x], NULL);
    FZ_REQUIRE(st == PODSYNC_OK, "the writer's repair on the diverged replica: %s (%s)", podsync_status_name(st), podsync_store_errmsg(r));
    fz_put_records(w, &d->tables[0], 2, 3, 4, 1, &rng, 1);
    FZ_OK(podsync_store_flush(w, &n));
    size_t w4 = keep_outbox(&k, w, n, "w4-");
    char prefix[64], name[160];
    snprintf(prefix, sizeof prefix, "repair-s%u", schema);
    for (size_t i = 0; i < k.count; i++) {
        snprintf(name, sizeof name, "%s-%s", prefix, k.name[i]);
        write_file("validate", name, k.data[i], k.size[i]);
    }
    uint8_t cfg = (uint8_t)schema;
    const size_t healed[] = {s1, i2, w3, (size_t)x, w4};
    snprintf(name, sizeof name, "%s-diverged-healed", prefix);
    write_container("apply", name, cfg | FZ_CFG_SERVE, &k, healed, 5);
    const size_t early[] = {s1, i2, (size_t)x, w3, (size_t)x, w4};
    snprintf(name, sizeof name, "%s-early", prefix);
    write_container("apply", name, cfg, &k, early, 6);
    const size_t twice[] = {s1, i2, w3, w4, (size_t)x, (size_t)x, w4};
    snprintf(name, sizeof name, "%s-twice", prefix);
    write_container("apply", name, cfg | (schema % 2 ? 0x08 : 0), &k, twice, 7);
    const size_t fresh[] = {(size_t)xe, w4, s1};
    snprintf(name, sizeof name, "%s-empty", prefix);
    write_container("apply", name, cfg | FZ_CFG_SERVE, &k, fresh, 3);
    snprintf(name, sizeof name, "%s-diverged-healed", prefix);
    write_container("apply_dict", name, cfg, &k, healed, 5);
    kept_free(&k);
    podsync_store_free(w);
    podsync_store_free(impostor);
    podsync_store_free(r);
    podsync_store_free(empty);
}

/* ------------------------------------------------------------------------------------------ */
/* Metrics and label sets                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* metrics_prometheus.c's format: version selector, label length (u16), labels, the struct. */
static void metrics_seeds(void) {
    /* real counters: a writer and a replica after a few compressed flushes and a rejected frame */
    podsync_schema *s = fz_schema_new(0);
    podsync_store_options o = fz_options(1, PODSYNC_TRANSFORM_ALL, 0);
    podsync_store *w = NULL, *r = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &r));
    podsync_schema_free(s);
    uint64_t rng = 5;
    for (int f = 0; f < 5; f++) {
        fz_put_records(w, &fz_schema_desc_get(0)->tables[0], 1, 1, 80, 3, &rng, 1);
        size_t n = 0;
        FZ_OK(podsync_store_flush(w, &n));
        for (size_t i = 0; i < n; i++) {
            const uint8_t *frame = NULL;
            size_t size = 0;
            FZ_OK(podsync_store_frame(w, i, &frame, &size));
            FZ_OK(podsync_store_apply(r, frame, size, NULL));
            if (f == 4) podsync_store_apply(r, frame, size - 8, NULL); /* a rejected (truncated) frame */
        }
    }
    /* metrics version 3: chunks out, a snapshot held open over a flush (copy-on-write), chunks
       staged on a fresh replica and a chunk gap */
    podsync_schema *s0 = fz_schema_new(0);
    podsync_store *r2 = NULL;
    FZ_OK(podsync_store_create(s0, PODSYNC_ROLE_REPLICA, &o, &r2));
    podsync_schema_free(s0);
    podsync_snapshot *snap = NULL;
    FZ_OK(podsync_snapshot_begin(w, 512, &snap));
    for (int i = 0; i < 4; i++) {
        const uint8_t *chunk = NULL;
        size_t size = 0;
        if (podsync_snapshot_next(snap, &chunk, &size) != PODSYNC_OK) break;
        if (i != 2) podsync_store_apply(r2, chunk, size, NULL);
    }
    fz_put_records(w, &fz_schema_desc_get(0)->tables[0], 1, 1, 80, 2, &rng, 1);
    size_t n = 0;
    FZ_OK(podsync_store_flush(w, &n));
    podsync_metrics m[2];
    memset(m, 0, sizeof m);
    m[0].version = m[1].version = PODSYNC_METRICS_VERSION;
    FZ_OK(podsync_store_metrics(w, &m[0]));
    FZ_OK(podsync_store_metrics(r2, &m[1]));
    m[1].frames_applied += 0; /* the replica's own counters */
    podsync_metrics applied;
    memset(&applied, 0, sizeof applied);
    applied.version = PODSYNC_METRICS_VERSION;
    FZ_OK(podsync_store_metrics(r, &applied));
    m[1].duplicates = applied.duplicates;
    memcpy(m[1].rejects, applied.rejects, sizeof m[1].rejects);
    m[1].rejects[25] = 3; /* a status without a name, counted */
    podsync_snapshot_free(snap);
    podsync_store_free(w);
    podsync_store_free(r);
    podsync_store_free(r2);
    static const char *labels[] = {
        "", "store=\"a\",role=\"writer\"", "x=\"\"", "_a1=\"esc \\\\ \\\" \\n\",b=\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "le=\"1\"", "a=\"1\",a=\"2\"", "a=\"1\",", "__x=\"1\"", "a=\"\\q\"", "a=\"\xff\"", "1a=\"x\"", "a=\"open",
    };
    uint8_t buf[16 + 4096 + sizeof(podsync_metrics)];
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        size_t n = strlen(labels[i]);
        buf[0] = i == 2 ? 3 : (uint8_t)(i % 3); /* struct versions 1, 2, current; once 0 */
        buf[1] = (uint8_t)n;
        buf[2] = (uint8_t)(n >> 8);
        memcpy(buf + 3, labels[i], n);
        memcpy(buf + 3 + n, (const uint8_t *)&m[i % 2] + 8, sizeof m[0] - 8);
        char name[32];
        snprintf(name, sizeof name, "labels-%zu", i);
        write_file("metrics_prometheus", name, buf, 3 + n + sizeof m[0] - 8);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Schemas, dictionaries, programs                                                            */
/* ------------------------------------------------------------------------------------------ */

static void write_schema(const char *name, podsync_schema *s) {
    size_t size = 0;
    int32_t st = podsync_schema_encode(s, NULL, 0, &size);
    FZ_REQUIRE(st == PODSYNC_E_BUFFER_TOO_SMALL, "encode size query returned %s", podsync_status_name(st));
    uint8_t *buf = malloc(size);
    FZ_REQUIRE(buf != NULL, "out of memory");
    FZ_OK(podsync_schema_encode(s, buf, size, &size));
    write_file("schema_decode", name, buf, size);
    free(buf);
    podsync_schema_free(s);
}

static void schemas(void) {
    for (unsigned i = 0; i < FZ_SCHEMAS; i++) {
        char name[32];
        snprintf(name, sizeof name, "test-schema-%u", i);
        write_schema(name, fz_schema_new(i));
    }
    podsync_schema *s = NULL;
    FZ_OK(podsync_schema_create(&s));
    write_schema("empty", s);

    FZ_OK(podsync_schema_create(&s));
    static const podsync_field every[] = {
        {"u8", PODSYNC_TYPE_U8, 0, 1, 0},    {"i8", PODSYNC_TYPE_I8, 1, 1, 0},    {"u16", PODSYNC_TYPE_U16, 2, 1, 0},
        {"u32", PODSYNC_TYPE_U32, 4, 1, 0},  {"u64", PODSYNC_TYPE_U64, 8, 1, 0},  {"i16", PODSYNC_TYPE_I16, 16, 2, 0},
        {"i32", PODSYNC_TYPE_I32, 20, 1, 0}, {"i64", PODSYNC_TYPE_I64, 24, 1, 0}, {"f32", PODSYNC_TYPE_F32, 32, 2, 0},
        {"f64", PODSYNC_TYPE_F64, 40, 1, 0}, {"bytes", PODSYNC_TYPE_BYTES, 48, 16, 0},
    };
    FZ_OK(podsync_schema_add_table(s, 42, 64, 64, every, sizeof every / sizeof every[0]));
    write_schema("every-type", s);

    FZ_OK(podsync_schema_create(&s));
    static const podsync_field tail[] = {{"x", PODSYNC_TYPE_BYTES, 1048575, 1, 0}};
    FZ_OK(podsync_schema_add_table(s, 0, 1048576, 64, tail, 1));
    FZ_OK(podsync_schema_add_table(s, 0xFFFFFFFFu, 1, 1, NULL, 0));
    write_schema("extremes", s);

    FZ_OK(podsync_schema_create(&s));
    for (uint32_t t = 0; t < 40; t++) {
        podsync_field f = {"v", PODSYNC_TYPE_U32, 0, 1 + t % 3, 0};
        FZ_OK(podsync_schema_add_table(s, t * 77, 4 * (1 + t % 3), 4, &f, 1));
    }
    write_schema("forty-tables", s);

    FZ_OK(podsync_schema_create(&s));
    char names[64][8];
    podsync_field many[64];
    for (uint32_t f = 0; f < 64; f++) {
        snprintf(names[f], sizeof names[f], "f%u", f);
        many[f] = (podsync_field){names[f], PODSYNC_TYPE_U16, 2 * f, 1, 0};
    }
    FZ_OK(podsync_schema_add_table(s, 5, 128, 2, many, 64));
    write_schema("many-fields", s);
}

static void dictionaries(const uint8_t *shared, size_t shared_size) {
    write_file("load_dictionary", "shared", shared, shared_size);
    /* more trained by the library, on other schemas and sizes */
    for (unsigned schema = 1; schema < FZ_SCHEMAS; schema++) {
        const fz_schema_desc *d = fz_schema_desc_get(schema);
        podsync_schema *s = fz_schema_new(schema);
        podsync_store_options o = fz_options(1, PODSYNC_TRANSFORM_ALL, 0);
        podsync_store *w = NULL;
        FZ_OK(podsync_store_create(s, PODSYNC_ROLE_WRITER, &o, &w));
        podsync_schema_free(s);
        FZ_OK(podsync_store_collect_samples(w, 1 << 20));
        uint64_t rng = schema;
        for (int f = 0; f < 24; f++) {
            for (size_t t = 0; t < d->table_count; t++) fz_put_records(w, &d->tables[t], 1, 1, 20, (unsigned)(f % 3 + 1), &rng, 1);
            size_t n = 0;
            FZ_OK(podsync_store_flush(w, &n));
        }
        static const size_t sizes[] = {256, 2048, 1024};
        int32_t st = podsync_store_train_dictionary(w, sizes[schema - 1], NULL);
        if (st == PODSYNC_OK) {
            const void *dict = NULL;
            size_t size = 0;
            FZ_OK(podsync_store_dictionary(w, &dict, &size, NULL));
            char name[32];
            snprintf(name, sizeof name, "trained-schema-%u", schema);
            write_file("load_dictionary", name, dict, size);
        } else {
            fprintf(stderr, "make_corpus: note: training on schema %u: %s (%s)\n", schema, podsync_status_name(st),
                    podsync_store_errmsg(w));
        }
        podsync_store_free(w);
    }
    /* near-dictionaries: the magic and an id only; the shared one cut short; a raw-content one */
    uint8_t stub[16] = {0x37, 0xA4, 0x30, 0xEC, 0x2A, 0, 0, 0};
    write_file("load_dictionary", "magic-and-id", stub, sizeof stub);
    write_file("load_dictionary", "shared-cut", shared, shared_size / 3);
    write_file("load_dictionary", "raw-content", shared + 8, shared_size > 200 ? 200 : shared_size - 8);
}

/* writer_program's format: level index, transforms, options byte, then operations, each an opcode
   and a table byte, then its operands (writer_program.c, run_program). */
typedef struct program {
    uint8_t b[2048];
    size_t n;
} program;

static void emit(program *p, size_t count, const uint8_t *bytes) {
    FZ_REQUIRE(p->n + count <= sizeof p->b, "program too long");
    memcpy(p->b + p->n, bytes, count);
    p->n += count;
}
#define EMIT(p, ...) emit(p, sizeof((const uint8_t[]){__VA_ARGS__}), (const uint8_t[]){__VA_ARGS__})

enum { OP_PUT = 0, OP_PUT_MANY = 3, OP_DELETE = 4, OP_DELETE_MANY = 5, OP_FLUSH = 6, OP_CATCH_UP = 8, OP_DELTA_SINCE = 9,
       OP_SNAPSHOT = 10, OP_DICTIONARY = 11, OP_SERVE = 12, OP_REPLAY_READ = 13, OP_SNAP_BEGIN = 14, OP_SNAP_STEP = 15,
       OP_TIME = 16, OP_LOSE = 17 };
/* OP_SNAP_BEGIN's byte: bit 0 the replica in step produces, bit 1 the lagging replica receives,
   bits 2-4 max_chunk_bytes among {0, 512, 600, 1000, 4096, 100, 511, 2048}. OP_SNAP_STEP's byte:
   bits 0-2 % 6: 0-1 deliver, 2 lose, 3 deliver the last again, 4 resume (bit 3: with
   512/777/3000-byte chunks by bits 6-7), 5 close; bits 4-5: 1-4 chunks. */
enum { STEP_DELIVER = 0, STEP_LOSE = 2, STEP_AGAIN = 3, STEP_RESUME = 4, STEP_CLOSE = 5 };
#define STEPS(action, count) ((uint8_t)((action) | (((count) - 1) << 4)))

static void programs(void) {
    program body = {{0}, 0};
    EMIT(&body, OP_PUT_MANY, 0, 40, 0, 1, 3);      /* table 0: 41 keys from 0, stride 1, float-like */
    EMIT(&body, OP_PUT_MANY, 1, 10, 200, 2, 0);    /* table 1: 11 keys from 200, stride 2, id-like */
    EMIT(&body, OP_FLUSH, 0);
    EMIT(&body, OP_PUT, 0, 5, 1, OP_PUT, 0, 77, 1); /* a change, a new key */
    EMIT(&body, OP_DELETE, 0, 7);
    EMIT(&body, OP_PUT_MANY, 0, 90, 0, 1, 1);      /* 91 keys: small changes and new ones */
    EMIT(&body, OP_FLUSH, 0, OP_CATCH_UP, 0);
    EMIT(&body, OP_DELETE_MANY, 1, 5, 200, 2);
    EMIT(&body, OP_PUT, 0, 0xF1, 3, 2);           /* a wide key (2^63 + 3), noise */
    EMIT(&body, OP_FLUSH, 0, OP_DELTA_SINCE, 0, 1, OP_SNAPSHOT, 0);
    EMIT(&body, OP_DICTIONARY, 0, 0);              /* collect samples */
    for (int i = 0; i < 9; i++) EMIT(&body, OP_PUT_MANY, 0, 63, 0, 1, 1, OP_FLUSH, 0);
    EMIT(&body, OP_DICTIONARY, 0, 5);              /* train a 1 KiB dictionary */
    EMIT(&body, OP_PUT_MANY, 0, 63, 0, 1, 1, OP_FLUSH, 0);
    EMIT(&body, OP_SERVE, 0, OP_SERVE, 1);         /* the replica: a snapshot, a catch-up */
    EMIT(&body, OP_REPLAY_READ, 0, OP_REPLAY_READ, 1, 3);
    EMIT(&body, OP_DELETE, 0, 3, OP_DELETE_MANY, 0, 20, 0, 3, OP_FLUSH, 0);

    static const uint8_t levels[] = {0, 1, 3}; /* indices into {0, 1, -1, 3, 19} */
    static const uint8_t masks[] = {0xF, 0x6, 0x2, 0x4};
    uint8_t buf[3 + sizeof body.b];
    memcpy(buf + 3, body.b, body.n);
    for (size_t l = 0; l < sizeof levels; l++)
        for (size_t m = 0; m < sizeof masks; m++)
            for (unsigned schema = 0; schema < FZ_SCHEMAS; schema++) {
                if (levels[l] == 0 && m > 0) continue;
                buf[0] = levels[l];
                buf[1] = masks[m];
                buf[2] = (uint8_t)(schema | (m == 1 ? 0x04 | 0x08 : 0) | (schema == 3 ? 0x40 : 0) | (m == 2 ? 0x20 : 0));
                char name[64];
                snprintf(name, sizeof name, "program-l%u-t%x-s%u", levels[l], masks[m], schema);
                write_file("writer_program", name, buf, 3 + body.n);
            }
    /* ticks: a few changes per flush, as a live writer sends them (small frames, where the codec
       weighs plain against packed most closely) */
    program ticks = {{0}, 0};
    EMIT(&ticks, OP_PUT_MANY, 0, 19, 1, 1, 3, OP_PUT_MANY, 1, 7, 1, 3, 2, OP_FLUSH, 0);
    for (uint8_t i = 0; i < 6; i++) {
        EMIT(&ticks, OP_PUT, 1, (uint8_t)(1 + 3 * i), 2, OP_FLUSH, 0);          /* one new noisy record */
        EMIT(&ticks, OP_PUT, 0, (uint8_t)(2 + i), 1, OP_PUT, 0, 200, 3, OP_FLUSH, 0); /* a change, a new key */
        EMIT(&ticks, OP_DELETE, 1, (uint8_t)(1 + 3 * i), OP_FLUSH, 0);
    }
    EMIT(&ticks, OP_CATCH_UP, 0, OP_SNAPSHOT, 0);
    static const uint8_t tick_levels[] = {1, 3, 4}; /* 1, 3, 19 */
    for (size_t l = 0; l < sizeof tick_levels; l++)
        for (size_t m = 0; m < sizeof masks; m++)
            for (unsigned schema = 0; schema < FZ_SCHEMAS; schema++) {
                buf[0] = tick_levels[l];
                buf[1] = masks[m];
                buf[2] = (uint8_t)schema;
                memcpy(buf + 3, ticks.b, ticks.n);
                char name[64];
                snprintf(name, sizeof name, "ticks-l%u-t%x-s%u", tick_levels[l], masks[m], schema);
                write_file("writer_program", name, buf, 3 + ticks.n);
            }
    memcpy(buf + 3, body.b, body.n);

    /* level 19 and -1, once each */
    buf[0] = 4;
    buf[1] = 0xF;
    buf[2] = 0;
    write_file("writer_program", "program-l19", buf, 3 + body.n);
    buf[0] = 2;
    write_file("writer_program", "program-l-1", buf, 3 + body.n);

    /* chunked snapshot streams: a receiver stages chunks while the writer goes on, loses one,
       resumes, a closed snapshot resumed (served at the same version, else expired) */
    program chunks = {{0}, 0};
    EMIT(&chunks, OP_PUT_MANY, 0, 95, 0, 1, 3, OP_PUT_MANY, 0, 95, 100, 1, 2, OP_PUT_MANY, 1, 40, 0, 3, 0, OP_FLUSH, 0);
    EMIT(&chunks, OP_SNAP_BEGIN, 0, 1 << 2);                              /* writer -> fresh, 512-byte chunks */
    EMIT(&chunks, OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 2));
    EMIT(&chunks, OP_PUT_MANY, 0, 30, 0, 1, 1, OP_DELETE, 0, 5, OP_FLUSH, 0); /* copy-on-write */
    EMIT(&chunks, OP_SNAP_STEP, 0, STEPS(STEP_LOSE, 1), OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 1)); /* CHUNK_GAP */
    EMIT(&chunks, OP_SNAP_STEP, 0, STEP_RESUME | 8 | 0x40);              /* resume with 777-byte chunks */
    EMIT(&chunks, OP_SNAP_STEP, 0, STEPS(STEP_AGAIN, 1));
    for (int i = 0; i < 5; i++) EMIT(&chunks, OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 4), OP_PUT, 0, (uint8_t)(10 + i), 1, OP_FLUSH, 0);
    EMIT(&chunks, OP_CATCH_UP, 0);
    EMIT(&chunks, OP_SNAP_BEGIN, 0, 1 | 2 | (3 << 2));                  /* replica -> lagging replica, 1000 bytes */
    EMIT(&chunks, OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 1), OP_SNAP_STEP, 0, STEP_CLOSE);
    EMIT(&chunks, OP_SNAP_STEP, 0, STEP_RESUME);                         /* served: the replica is still at that version */
    EMIT(&chunks, OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 4), OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 4));
    EMIT(&chunks, OP_SNAP_BEGIN, 0, 2 | (1 << 2));                       /* writer -> lagging replica */
    EMIT(&chunks, OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 2), OP_SNAP_STEP, 0, STEP_CLOSE);
    EMIT(&chunks, OP_PUT, 0, 3, 2, OP_FLUSH, 0, OP_SNAP_STEP, 0, STEP_RESUME);   /* expired */
    EMIT(&chunks, OP_SNAP_BEGIN, 0, 5 << 2);                             /* 100-byte chunks: refused */
    EMIT(&chunks, OP_SNAP_BEGIN, 0, 0, OP_SNAP_STEP, 0, STEPS(STEP_DELIVER, 4));
    EMIT(&chunks, OP_SNAPSHOT, 0, OP_DELTA_SINCE, 0, 0);
    static const uint8_t chunk_opts[][3] = {
        {0, 0x0, 0x00}, {0, 0x10, 0x01}, {1, 0xE, 0x02}, {3, 0x1F, 0x03}, {0, 0x0, 0x04 | 0x08}, {1, 0x16, 0x04 | 0x10},
        {0, 0x10, 0x24}, {1, 0x6, 0x04 | 0x18},
    };
    for (size_t i = 0; i < sizeof chunk_opts / sizeof chunk_opts[0]; i++) {
        memcpy(buf, chunk_opts[i], 3);
        memcpy(buf + 3, chunks.b, chunks.n);
        char name[64];
        snprintf(name, sizeof name, "chunks-%zu", i);
        write_file("writer_program", name, buf, 3 + chunks.n);
    }

    /* rolling refresh: slices in every flush, frames lost on the way to the one-way replica,
       refresh-only frames when idle, passes it must converge in */
    program refresh = {{0}, 0};
    EMIT(&refresh, OP_PUT_MANY, 0, 60, 0, 1, 3, OP_PUT_MANY, 1, 20, 0, 2, 0, OP_FLUSH, 0);
    EMIT(&refresh, OP_LOSE, 0, 1);                                        /* two frames lost */
    for (uint8_t i = 0; i < 4; i++) EMIT(&refresh, OP_PUT, 0, (uint8_t)(i * 7), 1, OP_DELETE, 1, (uint8_t)(2 * i), OP_FLUSH, 0);
    for (uint8_t i = 0; i < 10; i++) EMIT(&refresh, OP_PUT, 0, (uint8_t)(100 + i), 2, OP_FLUSH, 0);
    EMIT(&refresh, OP_TIME, 0, 3, OP_FLUSH, 0, OP_TIME, 0, 0, OP_FLUSH, 0); /* idle: a slice alone, then nothing due */
    EMIT(&refresh, OP_TIME, 0, 2, OP_FLUSH, 0, OP_TIME, 0, 3, OP_FLUSH, 0);
    EMIT(&refresh, OP_LOSE, 0, 0, OP_PUT_MANY, 0, 40, 50, 1, 1, OP_FLUSH, 0);
    for (uint8_t i = 0; i < 12; i++) EMIT(&refresh, OP_PUT, 1, (uint8_t)(3 * i), 1, OP_FLUSH, 0);
    EMIT(&refresh, OP_CATCH_UP, 0, OP_SNAPSHOT, 0, OP_REPLAY_READ, 0);
    static const uint8_t refresh_opts[][3] = {
        {0, 0x40 | 0x80, 0x80},        {0, 0x20 | 0x80 | 0x10, 0x81}, {1, 0x60 | 0x0E, 0x82}, {0, 0x40 | 0x80, 0x84 | 0x08},
        {3, 0x60 | 0x80 | 0x1F, 0x83}, {0, 0x20, 0x80 | 0x20},        {1, 0x40 | 0x80 | 0x16, 0x84 | 0x10 | 0x40},
    };
    for (size_t i = 0; i < sizeof refresh_opts / sizeof refresh_opts[0]; i++) {
        memcpy(buf, refresh_opts[i], 3);
        memcpy(buf + 3, refresh.b, refresh.n);
        char name[64];
        snprintf(name, sizeof name, "refresh-%zu", i);
        write_file("writer_program", name, buf, 3 + refresh.n);
    }
    /* the first programs again in frame format 2 */
    memcpy(buf + 3, body.b, body.n);
    for (unsigned schema = 0; schema < FZ_SCHEMAS; schema++) {
        buf[0] = (uint8_t)(schema % 2);
        buf[1] = 0x10 | 0xF;
        buf[2] = (uint8_t)(schema | (schema == 1 ? 0x04 | 0x08 : 0));
        char name[64];
        snprintf(name, sizeof name, "program-f2-s%u", schema);
        write_file("writer_program", name, buf, 3 + body.n);
    }
}

static uint8_t *read_all(const char *path, size_t *size_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, size = 0;
    uint8_t *buf = malloc(cap);
    FZ_REQUIRE(buf != NULL, "out of memory");
    for (size_t got; (got = fread(buf + size, 1, cap - size, f)) > 0;) {
        size += got;
        if (size == cap) {
            buf = realloc(buf, cap *= 2);
            FZ_REQUIRE(buf != NULL, "out of memory");
        }
    }
    fclose(f);
    *size_out = size;
    return buf;
}

/* A file from elsewhere (Tests/fixtures/bombs): every one is a `validate` seed; a schema encoding
   is a `schema_decode` seed; a frame goes to `apply` and `apply_dict` in containers, with its own
   schema when a NAME.schema lies next to its NAME.bin, else for the test schema its header names. */
static void extra_file(const char *path) {
    size_t size = 0;
    uint8_t *buf = read_all(path, &size);
    if (!buf) {
        perror(path);
        exit(1);
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[256];
    snprintf(name, sizeof name, "extra-%s", base);
    write_file("validate", name, buf, size);
    if (size >= 8 && memcmp(buf, "PSYNSCH1", 8) == 0) {
        write_file("schema_decode", name, buf, size);
        free(buf);
        return;
    }
    if (size < PODSYNC_FRAME_HEADER_SIZE || memcmp(buf, "PSYN", 4) != 0) {
        free(buf);
        return;
    }
    kept k = {0};
    size_t schema_size = 0;
    uint8_t *schema_bytes = NULL;
    char schema_path[4096];
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".bin") == 0 && len < sizeof schema_path - 8) {
        snprintf(schema_path, sizeof schema_path, "%.*s.schema", (int)(len - 4), path);
        schema_bytes = read_all(schema_path, &schema_size);
    }
    uint8_t cfg;
    size_t idx[2], n = 0;
    if (schema_bytes) {
        k.data[k.count] = schema_bytes;
        k.size[k.count++] = schema_size;
        idx[n++] = 0;
        cfg = FZ_CFG_OWN_SCHEMA;
    } else {
        int schema = fz_schema_by_hash(fz_rd64(buf + FZ_OFF_SCHEMA_HASH));
        cfg = (uint8_t)(schema < 0 ? 0 : schema);
    }
    k.data[k.count] = buf;
    k.size[k.count] = size;
    idx[n++] = k.count++;
    write_container("apply", name, cfg, &k, idx, n);
    write_container("apply_dict", name, cfg, &k, idx, n);
    snprintf(name, sizeof name, "extra-tight-%s", base);
    write_container("apply", name, cfg | FZ_CFG_TIGHT, &k, idx, n);
    kept_free(&k);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_corpus OUTDIR [FILE...]\n");
        return 2;
    }
    g_out = argv[1];
    mkdir_p(g_out);
    static const char *targets[] = {"apply", "apply_dict", "validate", "schema_decode", "load_dictionary", "writer_program",
                                    "metrics_prometheus", "reconcile"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", g_out, targets[i]);
        mkdir_p(path);
    }
    size_t dict_size = 0;
    uint32_t dict_id = 0;
    uint8_t *dict = fz_shared_dictionary(&dict_size, &dict_id);

    for (unsigned schema = 0; schema < FZ_SCHEMAS; schema++) {
        scenario(schema, 0, 0, 0, NULL, 0, "apply");
        scenario(schema, 0, 0, schema == 1 ? 512 : 2048, NULL, 0, "apply");
        static const uint32_t some[] = {0x0, 0x1, 0x2, 0x4, 0x6, 0xE, 0xF};
        for (size_t m = 0; m < sizeof some / sizeof some[0]; m++) scenario(schema, 1, some[m], 0, NULL, 0, "apply");
        scenario(schema, 3, 0xF, 0, NULL, 0, "apply");
        scenario(schema, 3, 0xF, 0, dict, dict_size, "apply_dict");
        scenario(schema, 1, 0xE, 1024, dict, dict_size, "apply_dict");
    }
    for (uint32_t mask = 0; mask < 16; mask++) {
        if (mask == 0 || mask == 1 || mask == 2 || mask == 4 || mask == 6 || mask == 0xE || mask == 0xF) continue;
        scenario(0, 1, mask, 0, NULL, 0, "apply");
    }
    scenario(0, -1, 0xF, 0, NULL, 0, "apply");
    scenario(0, 19, 0xF, 0, NULL, 0, "apply");
    /* format 2 (compact headers), chunked snapshots, rolling refresh slices */
    for (unsigned schema = 0; schema < FZ_SCHEMAS; schema++) {
        scenario_ex(schema, 0, 0, 0, NULL, 0, "apply", 2, 0);
        scenario_ex(schema, 1, 0xF, 0, NULL, 0, "apply", 2, 0);
        /* FIELDS (format 2 only): with every other transform, without TRANSPOSE, without XOR */
        scenario_ex(schema, 1, 0x1F, 0, NULL, 0, "apply", 2, 0);
        scenario_ex(schema, 1, 0x15, 0, NULL, 0, "apply", 2, 0);
        scenario_ex(schema, 3, 0x1E, 0, NULL, 0, "apply", 2, 0);
        scenario_ex(schema, 0, 0, 0, NULL, 0, "apply", 1, 3);
        scenario_ex(schema, 1, 0xE, 1024, NULL, 0, "apply", 1, 2);
        scenario_ex(schema, 0, 0, 512, NULL, 0, "apply", 2, 4);
        chunk_scenario(schema, 0, 0, "apply");
        chunk_scenario(schema, 1, 0xE, "apply");
        term_scenario(schema);
    }
    chunk_scenario(0, 3, 0xF, "apply_dict");
    scenario_ex(0, 3, 0xF, 0, dict, dict_size, "apply_dict", 2, 3);
    chunk_scenario(2, 19, 0xF, "apply");
    scenario(0, 1, 0x7, 0, dict, dict_size, "apply_dict");
    scenario(0, 0, 0, 0, NULL, 0, "apply_dict"); /* plain frames on the dictionary replica too */
    scenario(2, 1, 0xF, 0, NULL, 0, "apply_dict");

    /* reconciliation: real exchanges for `reconcile`, repair frames for `apply` */
    for (unsigned schema = 0; schema < FZ_SCHEMAS; schema++) {
        for (unsigned kind = 0; kind < FZ_PAIR_KINDS; kind++) {
            uint8_t cfg = (uint8_t)(schema | kind << FZ_PAIR_KIND_SHIFT | ((schema + kind) % 2 ? FZ_PAIR_TRACK : 0));
            reconcile_seeds(cfg, 0);
            if (schema % 2 == 0) reconcile_seeds((uint8_t)(cfg | FZ_PAIR_LARGE | (kind % 3 == 0 ? FZ_PAIR_PENDING : 0)), schema == 2 ? 2 : 0);
        }
        repair_apply_seeds(schema);
        subscription_seeds(schema);
        if (schema == 0 || schema == 3) ranked_seeds(schema);
    }

    schemas();
    dictionaries(dict, dict_size);
    programs();
    metrics_seeds();
    for (int i = 2; i < argc; i++) extra_file(argv[i]);
    free(dict);
    printf("make_corpus: %zu files in %s (%d extra files; shared dictionary id %u, %zu bytes)\n", g_files, g_out, argc - 2,
           dict_id, dict_size);
    return 0;
}
