/*
 * pipe_demo.c — replicate a 100,000-entity world from a writer process to a replica process.
 *
 * The writer builds a world of 100,000 entities (table 1: 40-byte records of id, position,
 * orientation and flags), forks a replica process connected by a pipe, sends it the schema and a
 * snapshot, then runs 100 ticks in which 1% of the entities drift a little: each tick is one
 * podsync_store_put_many() and one podsync_store_flush(), whose frames go down the pipe as they are.
 * The replica reads each frame (fixed header, podsync_frame_peek() for its length, then the rest,
 * into a 64-byte aligned buffer) and applies it. At the end the writer closes the pipe; the replica
 * sends its digest and record count back through a second pipe and the writer compares them.
 *
 * Build and run (from the repository root, after .ci/build-lib):
 *   gcc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/pipe_demo.c \
 *       -L.build/release -lpodsync -Wl,-rpath,"$PWD/.build/release" -o pipe_demo && ./pipe_demo
 * Options: pipe_demo [entities [ticks [moving_per_tick]]]   (defaults 100000 100 1000)
 * Exit status 0 when the replica's digest matches the writer's, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "podsync.h"

#define TABLE_ENTITIES 1u

typedef struct entity {
    uint64_t id;
    float position[3];
    float orientation[4]; /* quaternion x, y, z, w */
    uint32_t flags;
} entity;

typedef char entity_is_40_bytes[sizeof(entity) == 40 ? 1 : -1];

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform float in [lo, hi). */
static float rng_float(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rng_next() >> 40) / 16777216.0);
}

/* Writes all n bytes, retrying on EINTR and partial writes. Returns 0, or -1 with errno set. */
static int write_all(int fd, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) { /* should not happen for n > 0; do not spin */
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes, retrying on EINTR and partial reads. Returns 1 when all n bytes were
   read, 0 at end of file before the first byte, -1 on error or end of file in the middle. */
static int read_all(int fd, void *data, size_t n) {
    unsigned char *p = data;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) {
            if (got == 0) return 0;
            errno = EPIPE;
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

static int fail_store(const char *what, int32_t status, const podsync_store *store) {
    fprintf(stderr, "pipe_demo: %s: %s (%d): %s\n", what, podsync_status_name(status), (int)status,
            store ? podsync_store_errmsg(store) : "");
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The replica process                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* What the replica reports back to the writer through the result pipe. */
typedef struct replica_report {
    uint64_t digest;
    uint64_t records;
    uint64_t version;
    uint64_t frames;
    uint64_t bytes;
} replica_report;

static int replica_main(int in_fd, int result_fd) {
    /* 1. The schema, as a length-prefixed canonical encoding. */
    uint64_t schema_size = 0;
    if (read_all(in_fd, &schema_size, sizeof schema_size) != 1 || schema_size == 0 || schema_size > (1u << 24)) {
        fprintf(stderr, "replica: could not read the schema size\n");
        return 1;
    }
    unsigned char *schema_bytes = malloc((size_t)schema_size);
    if (!schema_bytes || read_all(in_fd, schema_bytes, (size_t)schema_size) != 1) {
        fprintf(stderr, "replica: could not read the schema\n");
        return 1;
    }
    podsync_schema *schema = NULL;
    int32_t st = podsync_schema_decode(schema_bytes, (size_t)schema_size, &schema);
    free(schema_bytes);
    if (st != PODSYNC_OK) return fail_store("replica: podsync_schema_decode", st, NULL);

    podsync_store *replica = NULL;
    st = podsync_store_create(schema, PODSYNC_ROLE_REPLICA, NULL, &replica);
    podsync_schema_free(schema);
    if (st != PODSYNC_OK) return fail_store("replica: podsync_store_create", st, NULL);

    /* 2. Frames until the writer closes the pipe. */
    size_t capacity = 1u << 20;
    void *buffer = NULL;
    if (posix_memalign(&buffer, 64, capacity) != 0) {
        fprintf(stderr, "replica: out of memory\n");
        return 1;
    }
    replica_report rep;
    memset(&rep, 0, sizeof rep);
    for (;;) {
        /* Every frame starts with a 16-byte prefix naming its header's length (88 bytes in format
           1, 40 and up in format 2); the header names the frame's length. */
        int r = read_all(in_fd, buffer, PODSYNC_FRAME_PREFIX_SIZE);
        if (r == 0) break; /* end of stream at a frame boundary: done */
        if (r < 0) {
            perror("replica: reading a frame header");
            return 1;
        }
        podsync_frame_info info = PODSYNC_FRAME_INFO_INIT;
        st = podsync_frame_peek(buffer, PODSYNC_FRAME_PREFIX_SIZE, &info);
        if (st != PODSYNC_E_FRAME_TRUNCATED || info.header_length < PODSYNC_FRAME_PREFIX_SIZE)
            return fail_store("replica: podsync_frame_peek of the prefix", st, NULL);
        size_t header = info.header_length; /* at most 2040 bytes: the buffer holds it */
        if (read_all(in_fd, (unsigned char *)buffer + PODSYNC_FRAME_PREFIX_SIZE, header - PODSYNC_FRAME_PREFIX_SIZE) != 1) {
            perror("replica: reading a frame header");
            return 1;
        }
        st = podsync_frame_peek(buffer, header, &info);
        if (st != PODSYNC_OK) return fail_store("replica: podsync_frame_peek", st, NULL);
        if (info.frame_length < header || info.frame_length > ((uint64_t)1 << 32)) {
            fprintf(stderr, "replica: implausible frame length %" PRIu64 "\n", info.frame_length);
            return 1;
        }
        size_t length = (size_t)info.frame_length;
        if (length > capacity) {
            void *bigger = NULL;
            size_t new_capacity = capacity;
            while (new_capacity < length) new_capacity *= 2;
            if (posix_memalign(&bigger, 64, new_capacity) != 0) {
                fprintf(stderr, "replica: out of memory\n");
                return 1;
            }
            memcpy(bigger, buffer, header);
            free(buffer);
            buffer = bigger;
            capacity = new_capacity;
        }
        if (read_all(in_fd, (unsigned char *)buffer + header, length - header) != 1) {
            perror("replica: reading a frame body");
            return 1;
        }
        uint64_t version = 0;
        st = podsync_store_apply(replica, buffer, length, &version);
        if (st != PODSYNC_OK) /* a pipe neither loses nor reorders: anything else is an error here */
            return fail_store("replica: podsync_store_apply", st, replica);
        rep.frames++;
        rep.bytes += length;
    }
    free(buffer);

    /* 3. Report the final state. */
    size_t count = 0;
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    if ((st = podsync_store_digest(replica, &rep.digest)) != PODSYNC_OK ||
        (st = podsync_store_count(replica, TABLE_ENTITIES, &count)) != PODSYNC_OK ||
        (st = podsync_store_info_get(replica, &info)) != PODSYNC_OK)
        return fail_store("replica: reading its state", st, replica);
    rep.records = count;
    rep.version = info.state_version;
    printf("replica (pid %ld): %" PRIu64 " frames, %" PRIu64 " bytes received; version %" PRIu64
           ", %" PRIu64 " records, digest %016" PRIx64 "\n",
           (long)getpid(), rep.frames, rep.bytes, rep.version, rep.records, rep.digest);
    fflush(stdout);
    podsync_store_free(replica);
    if (write_all(result_fd, &rep, sizeof rep) != 0) {
        perror("replica: writing the result");
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The writer process                                                                         */
/* ------------------------------------------------------------------------------------------ */

static podsync_schema *make_schema(void) {
    static const podsync_field fields[] = {
        {"id", PODSYNC_TYPE_U64, 0, 1, 0},
        {"position", PODSYNC_TYPE_F32, 8, 3, 0},
        {"orientation", PODSYNC_TYPE_F32, 20, 4, 0},
        {"flags", PODSYNC_TYPE_U32, 36, 1, 0},
    };
    podsync_schema *schema = NULL;
    int32_t st = podsync_schema_create(&schema);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "pipe_demo: podsync_schema_create: %s\n", podsync_status_name(st));
        return NULL;
    }
    st = podsync_schema_add_table(schema, TABLE_ENTITIES, sizeof(entity), 8, fields,
                                  sizeof fields / sizeof fields[0]);
    if (st != PODSYNC_OK) {
        fprintf(stderr, "pipe_demo: podsync_schema_add_table: %s: %s\n", podsync_status_name(st),
                podsync_schema_errmsg(schema));
        podsync_schema_free(schema);
        return NULL;
    }
    return schema;
}

/* Sends every frame of the store's outbox down the pipe, straight from the library's memory. */
static int send_outbox(podsync_store *writer, size_t frame_count, int fd, uint64_t *bytes_out) {
    for (size_t i = 0; i < frame_count; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        int32_t st = podsync_store_frame(writer, i, &data, &size);
        if (st != PODSYNC_OK) return fail_store("podsync_store_frame", st, writer);
        if (write_all(fd, data, size) != 0) {
            perror("pipe_demo: writing a frame");
            return 1;
        }
        *bytes_out += size;
    }
    return 0;
}

static void drift(entity *e, uint32_t tick) {
    for (int i = 0; i < 3; i++) e->position[i] += rng_float(-0.05f, 0.05f);
    float n = 0;
    for (int i = 0; i < 4; i++) {
        e->orientation[i] += rng_float(-0.01f, 0.01f);
        n += e->orientation[i] * e->orientation[i];
    }
    /* keep it a unit quaternion without libm: one Newton step of 1/sqrt(n) from 1 (n is near 1) */
    float s = 0.5f * (3.0f - n);
    for (int i = 0; i < 4; i++) e->orientation[i] *= s;
    e->flags = (e->flags & 0xFFFF0000u) | (tick & 0xFFFFu);
}

static int writer_main(size_t entity_count, uint32_t ticks, size_t moving, int out_fd, int result_fd,
                       pid_t child) {
    podsync_schema *schema = make_schema();
    if (!schema) return 1;

    /* Send the schema first, so the replica needs nothing but the pipe. */
    size_t schema_size = 0;
    int32_t st = podsync_schema_encode(schema, NULL, 0, &schema_size);
    if (st != PODSYNC_OK && st != PODSYNC_E_BUFFER_TOO_SMALL) {
        fprintf(stderr, "pipe_demo: podsync_schema_encode: %s\n", podsync_status_name(st));
        return 1;
    }
    unsigned char *schema_bytes = malloc(schema_size);
    uint64_t schema_size64 = schema_size, schema_hash = 0;
    if (!schema_bytes ||
        (st = podsync_schema_encode(schema, schema_bytes, schema_size, &schema_size)) != PODSYNC_OK ||
        (st = podsync_schema_hash(schema, &schema_hash)) != PODSYNC_OK) {
        fprintf(stderr, "pipe_demo: encoding the schema: %s\n", podsync_status_name(st));
        return 1;
    }
    if (write_all(out_fd, &schema_size64, sizeof schema_size64) != 0 ||
        write_all(out_fd, schema_bytes, schema_size) != 0) {
        perror("pipe_demo: sending the schema");
        return 1;
    }
    free(schema_bytes);

    podsync_store *writer = NULL;
    st = podsync_store_create(schema, PODSYNC_ROLE_WRITER, NULL, &writer);
    podsync_schema_free(schema);
    if (st != PODSYNC_OK) return fail_store("podsync_store_create", st, NULL);

    /* The world. */
    entity *world = malloc(entity_count * sizeof(entity));
    uint64_t *keys = malloc(entity_count * sizeof(uint64_t));
    size_t *order = malloc(entity_count * sizeof(size_t));
    entity *batch = malloc((moving ? moving : 1) * sizeof(entity));
    if (!world || !keys || !order || !batch) {
        fprintf(stderr, "pipe_demo: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < entity_count; i++) {
        entity *e = &world[i];
        e->id = 1000000 + i;
        for (int k = 0; k < 3; k++) e->position[k] = rng_float(-1000.0f, 1000.0f);
        e->orientation[0] = e->orientation[1] = e->orientation[2] = 0.0f;
        e->orientation[3] = 1.0f;
        e->flags = (uint32_t)(rng_next() & 0xFFFF0000u);
        keys[i] = e->id;
        order[i] = i;
    }
    st = podsync_store_put_many(writer, TABLE_ENTITIES, keys, world, entity_count, entity_count * sizeof(entity));
    if (st != PODSYNC_OK && st != PODSYNC_FLUSH_DUE) return fail_store("podsync_store_put_many (world)", st, writer);
    size_t frame_count = 0;
    st = podsync_store_flush(writer, &frame_count); /* nobody is listening yet: frames not sent */
    if (st != PODSYNC_OK) return fail_store("podsync_store_flush (world)", st, writer);

    /* A snapshot brings the new replica up to date. */
    uint64_t snapshot_bytes = 0;
    st = podsync_store_snapshot(writer, &frame_count);
    if (st != PODSYNC_OK) return fail_store("podsync_store_snapshot", st, writer);
    if (send_outbox(writer, frame_count, out_fd, &snapshot_bytes)) return 1;
    printf("writer: %zu entities of %zu bytes, schema %016" PRIx64 "; snapshot: %zu frame, %" PRIu64 " bytes\n",
           entity_count, sizeof(entity), schema_hash, frame_count, snapshot_bytes);

    /* The ticks. */
    uint64_t tick_frames = 0, tick_bytes = 0, window_frames = 0, window_bytes = 0, changed = 0;
    uint32_t window_start = 1;
    if (moving > entity_count) moving = entity_count;
    for (uint32_t tick = 1; tick <= ticks; tick++) {
        /* pick `moving` distinct entities (partial Fisher-Yates) and drift them */
        for (size_t j = 0; j < moving; j++) {
            size_t k = j + (size_t)(rng_next() % (entity_count - j));
            size_t t = order[j];
            order[j] = order[k];
            order[k] = t;
            entity *e = &world[order[j]];
            drift(e, tick);
            batch[j] = *e;
            keys[j] = e->id;
        }
        st = podsync_store_put_many(writer, TABLE_ENTITIES, keys, batch, moving, moving * sizeof(entity));
        if (st != PODSYNC_OK && st != PODSYNC_FLUSH_DUE) return fail_store("podsync_store_put_many", st, writer);
        st = podsync_store_flush(writer, &frame_count);
        if (st != PODSYNC_OK) return fail_store("podsync_store_flush", st, writer);
        uint64_t bytes = 0;
        if (send_outbox(writer, frame_count, out_fd, &bytes)) return 1;
        changed += moving;
        tick_frames += frame_count;
        tick_bytes += bytes;
        window_frames += frame_count;
        window_bytes += bytes;
        if (tick % 10 == 0 || tick == ticks) {
            printf("writer: ticks %3u-%3u: %" PRIu64 " frames, %" PRIu64 " bytes\n", window_start, tick, window_frames,
                   window_bytes);
            window_frames = window_bytes = 0;
            window_start = tick + 1;
        }
    }
    fflush(stdout);

    /* End of stream: closing the pipe is the final marker. */
    close(out_fd);

    uint64_t digest = 0;
    size_t count = 0;
    podsync_store_info info = PODSYNC_STORE_INFO_INIT;
    if ((st = podsync_store_digest(writer, &digest)) != PODSYNC_OK ||
        (st = podsync_store_count(writer, TABLE_ENTITIES, &count)) != PODSYNC_OK ||
        (st = podsync_store_info_get(writer, &info)) != PODSYNC_OK)
        return fail_store("reading the writer's state", st, writer);

    replica_report rep;
    memset(&rep, 0, sizeof rep);
    int got = read_all(result_fd, &rep, sizeof rep);
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("pipe_demo: waitpid");
            return 1;
        }
    }
    if (got != 1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "pipe_demo: the replica failed (exit status %d)\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 1;
    }

    printf("totals: %u ticks, %" PRIu64 " frames, %" PRIu64 " bytes; %.1f bytes per tick, %.2f bytes per changed "
           "record (%" PRIu64 " changes of %zu-byte records)\n",
           ticks, tick_frames, tick_bytes, ticks ? (double)tick_bytes / ticks : 0.0,
           changed ? (double)tick_bytes / (double)changed : 0.0, changed, sizeof(entity));
    printf("writer:  version %" PRIu64 ", %zu records, digest %016" PRIx64 "\n", info.state_version, count, digest);
    printf("replica: version %" PRIu64 ", %" PRIu64 " records, digest %016" PRIx64 "\n", rep.version, rep.records,
           rep.digest);
    int match = rep.digest == digest && rep.records == count && rep.version == info.state_version &&
                rep.frames == 1 + tick_frames && rep.bytes == snapshot_bytes + tick_bytes;
    printf("%s\n", match ? "MATCH" : "MISMATCH");

    podsync_store_free(writer);
    free(world);
    free(keys);
    free(order);
    free(batch);
    return match ? 0 : 1;
}

int main(int argc, char **argv) {
    size_t entity_count = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    uint32_t ticks = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 100;
    size_t moving = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : entity_count / 100;
    if (entity_count == 0) {
        fprintf(stderr, "usage: %s [entities [ticks [moving_per_tick]]]\n", argv[0]);
        return 2;
    }
    if (podsync_abi_version() != PODSYNC_ABI_VERSION) {
        fprintf(stderr, "pipe_demo: library ABI %u, header ABI %d\n", podsync_abi_version(), PODSYNC_ABI_VERSION);
        return 1;
    }

    int frames_pipe[2], result_pipe[2];
    if (pipe(frames_pipe) != 0 || pipe(result_pipe) != 0) {
        perror("pipe_demo: pipe");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead replica shows up as EPIPE from write(), not as a signal */
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("pipe_demo: fork");
        return 1;
    }
    if (child == 0) {
        close(frames_pipe[1]);
        close(result_pipe[0]);
        int rc = replica_main(frames_pipe[0], result_pipe[1]);
        close(frames_pipe[0]);
        close(result_pipe[1]);
        fflush(stdout);
        _exit(rc);
    }
    close(frames_pipe[0]);
    close(result_pipe[1]);
    int rc = writer_main(entity_count, ticks, moving, frames_pipe[1], result_pipe[0], child);
    close(result_pipe[0]);
    return rc;
}
