/* The carrier's per-thread last error (Swift has no thread-local storage without Foundation). */
#include <string.h>
#include "podsync_nats_shims.h"

static _Thread_local char last_error[1024];

void podsyncnats_internal_set_last_error(const char *message, size_t length) {
    if (length >= sizeof last_error) length = sizeof last_error - 1;
    memcpy(last_error, message, length);
    last_error[length] = 0;
}

const char *podsyncnats_internal_last_error(void) { return last_error; }
