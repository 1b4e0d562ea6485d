#include "podsync_shims.h"

#include <string.h>

/* One message per thread, truncated to fit: errors are rare, and a host reads the message right
   after the failing call on the same thread. */
static _Thread_local char last_error[1024];

void podsyncinternal_set_last_error(const char *message, size_t length) {
    if (length >= sizeof last_error) length = sizeof last_error - 1;
    memcpy(last_error, message, length);
    last_error[length] = 0;
}

const char *podsyncinternal_last_error(void) { return last_error; }
