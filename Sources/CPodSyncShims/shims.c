#include "podsync_shims.h"
