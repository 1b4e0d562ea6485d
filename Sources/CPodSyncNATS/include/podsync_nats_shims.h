/* Internal to libpodsync_nats.so: the calling thread's last carrier error (podsync_nats_last_errmsg). */
#ifndef PODSYNC_NATS_SHIMS_H
#define PODSYNC_NATS_SHIMS_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
static inline uint64_t podsyncnats_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void podsyncnats_internal_set_last_error(const char *message, size_t length);
const char *podsyncnats_internal_last_error(void);
#endif
