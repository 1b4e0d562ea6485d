/*
 * fuzz_model.h — an independent model of a writer's records for writer_program.c: per table, an
 * open-addressing map (linear probing, backward-shift deletion) from key to record, and the state
 * digest of docs/FORMAT.md computed from it (fz_record_digest).
 */
#ifndef FUZZ_MODEL_H
#define FUZZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

typedef struct model_table {
    uint32_t id, rs;
    size_t cap, count;
    uint64_t *keys;
    uint8_t *used;
    uint8_t *recs;
} model_table;

void model_init(model_table *m, const fz_table *t);
void model_free(model_table *m);
/* The record under key, or NULL. */
const uint8_t *model_get(const model_table *m, uint64_t key);
/* Inserts or replaces (copies m->rs bytes). */
void model_put(model_table *m, uint64_t key, const uint8_t *rec);
/* Returns 1 if the key was there. */
int model_delete(model_table *m, uint64_t key);
/* The state digest of `tables` tables. */
uint64_t model_digest(const model_table *m, size_t tables);

#endif /* FUZZ_MODEL_H */
