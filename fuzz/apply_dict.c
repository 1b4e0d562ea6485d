/*
 * apply_dict.c — libFuzzer target `apply_dict`: the `apply` target (apply.c) on a replica that has
 * the shared zstd dictionary loaded (fz_shared_dictionary, trained at startup from a writer's
 * frames; make_corpus.c compresses its dictionary seeds with the same one), so dictionary frames
 * are decoded instead of answered with PODSYNC_E_DICTIONARY_MISSING.
 */
#define FZ_APPLY_DICTIONARY 1
#include "apply.c"
