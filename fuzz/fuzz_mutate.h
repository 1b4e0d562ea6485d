/*
 * fuzz_mutate.h — the structure-aware frame mutator of the frame targets (apply, apply_dict,
 * validate). Random byte mutations almost never survive the XXH3 checksum, so after mutating, the
 * mutator usually repairs frame_length, the payload_length of plain frames and the checksum. It
 * also mutates the packed payload of an encoded frame *under* its codec: it decompresses the zstd
 * frame (with the shared dictionary when the frame names it), mutates the packed sections, and
 * compresses them again, so mutations reach the packed-section, key-gap and column decoders.
 * Uses LLVMFuzzerMutate (libFuzzer) for the byte-level changes.
 */
#ifndef FUZZ_MUTATE_H
#define FUZZ_MUTATE_H

#include <stddef.h>
#include <stdint.h>

/* The dictionary the mutator decompresses and recompresses dictionary frames with (copied). */
void fz_mutator_set_dictionary(const void *dict, size_t size, uint32_t id);

/* Mutates one frame in place (size bytes of a buffer of max bytes); returns the new size. */
size_t fz_mutate_frame(uint8_t *frame, size_t size, size_t max, uint64_t *rng);

/* Mutates a container (fuzz_common.h) in place: one of its frames (mostly), its configuration byte,
   or its list of frames (duplicate, drop, swap). Returns the new size. */
size_t fz_mutate_container(uint8_t *data, size_t size, size_t max, unsigned int seed);

#endif /* FUZZ_MUTATE_H */
