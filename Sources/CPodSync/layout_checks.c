/* Compile-time checks that the public structs have the layout docs/ABI.md promises, so a change
   that would break bindings (ctypes, Rust) fails the build instead. */
#include <stddef.h>

#include "podsync.h"

#define PODSYNC_STATIC_ASSERT(cond, name) typedef char podsync_static_assert_##name[(cond) ? 1 : -1]

PODSYNC_STATIC_ASSERT(sizeof(podsync_field) == 24, field_size);
PODSYNC_STATIC_ASSERT(sizeof(podsync_store_options) == 104, store_options_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_store_options, frame_format) == 88, store_options_v3_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_store_options, max_records) == 72, store_options_v2_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_store_options, compression_level) == 56, store_options_v1_size);
PODSYNC_STATIC_ASSERT(sizeof(podsync_store_info) == 120, store_info_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_store_info, term) == 88, store_info_v2_size);
PODSYNC_STATIC_ASSERT(sizeof(podsync_durability_options) == 32, durability_options_size);
PODSYNC_STATIC_ASSERT(sizeof(podsync_open_info) == 56, open_info_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_store_info, refreshing) == 80, store_info_v1_size);
PODSYNC_STATIC_ASSERT(sizeof(podsync_frame_info) == 208, frame_info_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_frame_info, term) == 96, frame_info_v2_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_frame_info, transforms) == 80, frame_info_v1_size);
PODSYNC_STATIC_ASSERT(sizeof(podsync_frame_section) == 56, frame_section_size);
PODSYNC_STATIC_ASSERT(sizeof(podsync_metrics) == 976, metrics_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_metrics, chunks_out) == 936, metrics_v2_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_metrics, saved_by_zero_columns) == 904, metrics_v1_size);
PODSYNC_STATIC_ASSERT(offsetof(podsync_metrics, dictionary_frames) == 928, metrics_dictionary_frames);
PODSYNC_STATIC_ASSERT(offsetof(podsync_frame_info, dictionary_id) == 84, frame_info_dictionary_id);
PODSYNC_STATIC_ASSERT(offsetof(podsync_metrics, rejects) == 136, metrics_rejects);
PODSYNC_STATIC_ASSERT(sizeof(podsync_chunk_position) == 64, chunk_position_size);
