/*
 * apply.c — libFuzzer target `apply` (and, built from apply_dict.c, `apply_dict`): frames from the
 * input applied in order to one replica store.
 *
 * Input: a container (fuzz_common.h): a configuration byte (the replica's schema among the four
 * test schemas, tight limits instead of moderate ones (max_decoded_bytes 64 KiB / 32 MiB, and with
 * library 0.4.0 max_records 64 / 2^20), 0..7 bytes of misalignment, a final serve check, and "own
 * schema": the first record is a schema encoding to use instead, as for the hostile frames of
 * Tests/fixtures/bombs, which come with theirs) and up to 16 frames. Seeds are real frame sequences (a snapshot, then deltas) from make_corpus.c; the
 * custom mutator (fuzz_mutate.c) mutates one frame and recomputes its checksum, or mutates its
 * packed payload under zstd, so inputs get past the checksum into the decoders.
 *
 * Checked after every apply (fz_apply_checked): a rejected frame, DUPLICATE, GAP and STALE leave
 * digest, records, version, stream, sequence and the diverged mark unchanged; OK reaches the
 * frame's version and digest; DIGEST_MISMATCH marks the replica diverged; the library's digest
 * equals the digest recomputed from the records, and every key's get() finds its slot. A frame the
 * replica accepted must also pass podsync_frame_validate (the schema-free checks are a subset).
 * With the serve bit, the replica finally produces a snapshot, a chunked snapshot (512-byte
 * chunks, podsync_snapshot_begin) and a catch-up delta: all must validate, the chunks must be
 * contiguous, at most 512 bytes unless they hold one record, and count their records in the last
 * one, and both snapshots must rebuild the same digest on a fresh replica. Any violation abort()s.
 * Chunks, slices, repair frames and format-2 frames follow docs/FORMAT.md as fz_apply_checked
 * says (seeds include real repair frames after the frames that made their replica diverge, so
 * the fuzzer reaches the repair path with a matching expected_digest).
 *
 * apply_dict.c defines FZ_APPLY_DICTIONARY: the replica then has the shared dictionary loaded
 * (fz_shared_dictionary: trained at startup from a writer, the same one make_corpus uses for its
 * dictionary frames), and the mutator recompresses dictionary frames with it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_mutate.h"

#ifndef FZ_APPLY_DICTIONARY
#define FZ_APPLY_DICTIONARY 0
#endif

static uint8_t *g_dict;
static size_t g_dict_size;
static uint32_t g_dict_id;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (FZ_APPLY_DICTIONARY) {
        g_dict = fz_shared_dictionary(&g_dict_size, &g_dict_id);
        fz_mutator_set_dictionary(g_dict, g_dict_size, g_dict_id);
        fprintf(stderr, "apply_dict: shared dictionary id %u (%zu bytes)\n", g_dict_id, g_dict_size);
    }
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    return fz_mutate_container(data, size, max_size, seed);
}

static podsync_store *new_replica(const podsync_schema *s, int tight) {
    /* Limits as for any replica fed from an untrusted source (the header's advice): without
       them, a mutated frame may make the replica spend the default 1 GiB, by design, and the
       fuzzer would only find that slow. Tight limits put their checks on the common path. */
    podsync_store_options o = fz_options(0, PODSYNC_TRANSFORM_ALL, 0);
    o.max_decoded_bytes = tight ? 64 << 10 : 32 << 20;
#ifdef PODSYNC_E_LIMIT
    o.max_records = tight ? 64 : 1 << 20;
#endif
    podsync_store *r = NULL;
    FZ_OK(podsync_store_create(s, PODSYNC_ROLE_REPLICA, &o, &r));
    if (FZ_APPLY_DICTIONARY) {
        uint32_t id = 0;
        FZ_OK(podsync_store_load_dictionary(r, g_dict, g_dict_size, &id));
        FZ_REQUIRE(id == g_dict_id, "loaded dictionary id %u, trained %u", id, g_dict_id);
    }
    return r;
}

/* A frame the replica accepted (or classified) has passed every schema-free check. */
static void require_valid(const uint8_t *frame, size_t size, int32_t applied) {
    podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
    FZ_REQUIRE(podsync_frame_peek(frame, size, &info) == PODSYNC_OK, "apply returned %s but podsync_frame_peek rejects the frame",
               podsync_status_name(applied));
    int32_t st = podsync_frame_validate(frame, size, NULL);
    FZ_REQUIRE(st == PODSYNC_OK || (st == PODSYNC_E_DICTIONARY_MISSING && info.dictionary_id != 0),
               "apply returned %s but podsync_frame_validate %s", podsync_status_name(applied), podsync_status_name(st));
}

/* The replica serves a snapshot and a catch-up delta; both must be valid frames of its state. */
/* A fresh replica takes the subscription of the replica whose frames it will apply. */
static void same_subscription(podsync_store *fresh, const podsync_store *replica) {
    const uint8_t *bytes = NULL;
    size_t n = 0;
    if (podsync_store_subscription(replica, &bytes, &n, NULL) == PODSYNC_OK) FZ_OK(podsync_store_subscribe(fresh, bytes, n));
}

static void serve_check(podsync_store *replica, const podsync_schema *handle, const fz_schema_desc *schema) {
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    FZ_OK(podsync_store_info_get(replica, &info));
    size_t n = 0;
    int32_t st = podsync_store_snapshot(replica, &n);
    if (info.diverged) {
        FZ_REQUIRE(st == PODSYNC_E_DIVERGED, "a diverged replica's snapshot returned %s", podsync_status_name(st));
        return;
    }
    if (info.stream_id == 0) return; /* follows no stream yet */
    FZ_REQUIRE(st == PODSYNC_OK && n == 1, "snapshot returned %s with %zu frames", podsync_status_name(st), n);
    const uint8_t *frame = NULL;
    size_t size = 0;
    FZ_OK(podsync_store_frame(replica, 0, &frame, &size));
    podsync_frame_info fi = PODSYNC_FRAME_INFO_INIT;
    st = podsync_frame_validate(frame, size, &fi);
    FZ_REQUIRE(st == PODSYNC_OK, "the replica's snapshot fails validation: %s", podsync_status_name(st));
    FZ_REQUIRE((fi.flags & PODSYNC_FRAME_RESET) && fi.state_version == info.state_version && fi.stream_id == info.stream_id,
               "the replica's snapshot: flags %x version %" PRIu64 " stream %016" PRIx64 ", replica at %" PRIu64 " %016" PRIx64,
               fi.flags, fi.state_version, fi.stream_id, info.state_version, info.stream_id);
    podsync_store *fresh = new_replica(handle, 0);
    same_subscription(fresh, replica);
    st = fz_apply_checked(fresh, schema, frame, size);
    FZ_REQUIRE(st == PODSYNC_OK, "the replica's snapshot does not apply to a fresh replica: %s (%s)", podsync_status_name(st),
               podsync_store_errmsg(fresh));
    uint64_t a = 0, b = 0;
    FZ_OK(podsync_store_digest(replica, &a));
    FZ_OK(podsync_store_digest(fresh, &b));
    FZ_REQUIRE(a == b, "snapshot rebuilt digest %016" PRIx64 ", replica has %016" PRIx64, b, a);
    podsync_store_free(fresh);

    /* the same state as a chunked snapshot of 512-byte chunks: each valid, contiguous, at most
       512 bytes unless it holds one record, staged by a fresh replica that switches at the last */
    podsync_snapshot *snap = NULL;
    FZ_OK(podsync_snapshot_begin(replica, PODSYNC_MIN_CHUNK_BYTES, &snap));
    fresh = new_replica(handle, 0);
    same_subscription(fresh, replica);
    uint64_t id = 0, next_key = 0, records = 0;
    uint32_t next_table = 0;
    for (uint64_t i = 0;; i++) {
        const uint8_t *chunk = NULL;
        size_t csize = 0;
        st = podsync_snapshot_next(snap, &chunk, &csize);
        FZ_REQUIRE(st == PODSYNC_OK || st == PODSYNC_DONE, "snapshot_next (chunk %" PRIu64 ") of the replica returned %s: %s", i,
                   podsync_status_name(st), podsync_snapshot_errmsg(snap));
        FZ_REQUIRE(st == PODSYNC_OK || i > 0, "snapshot_next: DONE before the first chunk");
        if (st == PODSYNC_DONE) break;
        st = podsync_frame_validate(chunk, csize, &fi);
        FZ_REQUIRE(st == PODSYNC_OK, "the replica's chunk %" PRIu64 " fails validation: %s", i, podsync_status_name(st));
        if (i == 0) id = fi.snapshot_id;
        int last = (fi.chunk_flags & PODSYNC_CHUNK_LAST) != 0;
        FZ_REQUIRE((fi.flags & (PODSYNC_FRAME_RESET | PODSYNC_FRAME_CHUNK)) == (PODSYNC_FRAME_RESET | PODSYNC_FRAME_CHUNK) &&
                       fi.snapshot_id == id && fi.chunk_index == i && fi.chunk_start_table == next_table && fi.chunk_start_key == next_key &&
                       fi.state_version == info.state_version && fi.stream_id == info.stream_id,
                   "the replica's chunk %" PRIu64 ": flags %x snapshot %016" PRIx64 " index %" PRIu64 " from (%u, %016" PRIx64 ") v%" PRIu64,
                   i, fi.flags, fi.snapshot_id, fi.chunk_index, fi.chunk_start_table, fi.chunk_start_key, fi.state_version);
        podsync_metrics m0 = {0};
        m0.version = PODSYNC_METRICS_VERSION;
        FZ_OK(podsync_store_metrics(fresh, &m0));
        st = fz_apply_checked(fresh, schema, chunk, csize);
        FZ_REQUIRE(st == (last ? PODSYNC_OK : PODSYNC_CHUNK_STAGED), "the replica's chunk %" PRIu64 "%s on a fresh replica: %s (%s)", i,
                   last ? " (last)" : "", podsync_status_name(st), podsync_store_errmsg(fresh));
        podsync_metrics m1 = {0};
        m1.version = PODSYNC_METRICS_VERSION;
        FZ_OK(podsync_store_metrics(fresh, &m1));
        uint64_t in_chunk = m1.records_applied - m0.records_applied;
        records += in_chunk;
        FZ_REQUIRE(csize <= PODSYNC_MIN_CHUNK_BYTES || in_chunk == 1, "the replica's chunk %" PRIu64 " is %zu bytes with %" PRIu64 " records",
                   i, csize, in_chunk);
        next_table = fi.chunk_end_table;
        next_key = fi.chunk_end_key;
        if (last) FZ_REQUIRE(fi.chunk_record_count == records, "the last chunk counts %" PRIu64 " records, the chunks hold %" PRIu64,
                             fi.chunk_record_count, records);
    }
    podsync_snapshot_free(snap);
    FZ_OK(podsync_store_digest(fresh, &b));
    FZ_REQUIRE(a == b, "chunked snapshot rebuilt digest %016" PRIx64 ", replica has %016" PRIx64, b, a);
    podsync_store_free(fresh);

    uint64_t since = info.state_version / 2;
    st = podsync_store_delta_since(replica, since, &n);
    FZ_REQUIRE(st == PODSYNC_OK || st == PODSYNC_SNAPSHOT_REQUIRED, "delta_since(%" PRIu64 ") at version %" PRIu64 " returned %s",
               since, info.state_version, podsync_status_name(st));
    if (st == PODSYNC_OK && since < info.state_version) {
        FZ_REQUIRE(n == 1, "delta_since produced %zu frames", n);
        FZ_OK(podsync_store_frame(replica, 0, &frame, &size));
        st = podsync_frame_validate(frame, size, &fi);
        FZ_REQUIRE(st == PODSYNC_OK, "the replica's delta fails validation: %s", podsync_status_name(st));
        FZ_REQUIRE(since == 0 ? (fi.flags & PODSYNC_FRAME_RESET) != 0 : fi.base_version == since,
                   "delta_since(%" PRIu64 "): frame base %" PRIu64 " flags %x", since, fi.base_version, fi.flags);
        FZ_REQUIRE(fi.state_version == info.state_version, "delta_since: frame reaches %" PRIu64 ", replica at %" PRIu64,
                   fi.state_version, info.state_version);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_container c;
    if (fz_container_parse(data, size, &c) == 0) return 0;
    size_t misalign = (c.cfg & FZ_CFG_MISALIGN) >> 3;
    /* the replica's schema: the first record's encoding, or (when it is none) a test schema */
    podsync_schema *handle = NULL;
    fz_parsed_schema parsed;
    memset(&parsed, 0, sizeof parsed);
    const fz_schema_desc *schema = NULL;
    size_t first = 0;
    if (c.cfg & FZ_CFG_OWN_SCHEMA) {
        first = 1;
        if (podsync_schema_decode(c.frame[0], c.size[0], &handle) == PODSYNC_OK) {
            const char *why = "";
            FZ_REQUIRE(fz_parse_schema(c.frame[0], c.size[0], &parsed, &why) == 0,
                       "podsync_schema_decode accepted an encoding that breaks a rule: %s", why);
            schema = &parsed.desc;
        }
    }
    if (!schema) {
        handle = fz_schema_new(c.cfg & FZ_CFG_SCHEMA_MASK);
        schema = fz_schema_desc_get(c.cfg & FZ_CFG_SCHEMA_MASK);
    }
    podsync_store *replica = new_replica(handle, (c.cfg & FZ_CFG_TIGHT) != 0);
    for (size_t i = first; i < c.count; i++) {
        /* an exact-size heap copy, so ASan sees any read past the frame */
        uint8_t *buf = malloc(misalign + c.size[i] + 1);
        FZ_REQUIRE(buf != NULL, "out of memory");
        memcpy(buf + misalign, c.frame[i], c.size[i]);
        if (c.size[i] >= 8 && memcmp(c.frame[i], "PSYNSUB1", 8) == 0) {
            /* a subscription encoding: the replica subscribes (refused unless valid and empty) */
            uint64_t d0 = 0, d1 = 0;
            podsync_store_digest(replica, &d0);
            int32_t sub = podsync_store_subscribe(replica, buf + misalign, c.size[i]);
            podsync_store_digest(replica, &d1);
            FZ_REQUIRE(sub == PODSYNC_OK || sub == PODSYNC_E_INVALID_ARGUMENT, "subscribe returned %s", podsync_status_name(sub));
            FZ_REQUIRE(d0 == d1, "subscribe changed the digest");
            free(buf);
            continue;
        }
        int32_t st = fz_apply_checked(replica, schema, buf + misalign, c.size[i]);
        /* statuses that come after validation: the frame passes every schema-free check */
        if (st >= 0 || st == PODSYNC_E_DIGEST_MISMATCH || st == PODSYNC_E_DIVERGED || st == PODSYNC_E_STREAM_MISMATCH ||
            st == PODSYNC_E_CHUNK_MISMATCH || st == PODSYNC_E_REPAIR_STALE || st == PODSYNC_E_NOT_SUBSCRIBED)
            require_valid(buf + misalign, c.size[i], st);
        free(buf);
    }
    if (c.cfg & FZ_CFG_SERVE) serve_check(replica, handle, schema);
    podsync_store_free(replica);
    podsync_schema_free(handle);
    fz_parsed_schema_free(&parsed);
    return 0;
}
