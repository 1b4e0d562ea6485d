/* fuzz_model.c — see fuzz_model.h. */
#include "fuzz_model.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

void model_init(model_table *m, const fz_table *t) {
    memset(m, 0, sizeof *m);
    m->id = t->id;
    m->rs = t->record_size;
    m->cap = 64;
    m->keys = calloc(m->cap, 8);
    m->used = calloc(m->cap, 1);
    m->recs = calloc(m->cap, m->rs);
    FZ_REQUIRE(m->keys && m->used && m->recs, "out of memory");
}

void model_free(model_table *m) {
    free(m->keys);
    free(m->used);
    free(m->recs);
}

static size_t model_find(const model_table *m, uint64_t key) {
    size_t i = mix(key) & (m->cap - 1);
    while (m->used[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    return i;
}

const uint8_t *model_get(const model_table *m, uint64_t key) {
    size_t i = model_find(m, key);
    return m->used[i] ? m->recs + i * m->rs : NULL;
}

static void model_grow(model_table *m) {
    model_table old = *m;
    m->cap *= 2;
    m->count = 0;
    m->keys = calloc(m->cap, 8);
    m->used = calloc(m->cap, 1);
    m->recs = calloc(m->cap, m->rs);
    FZ_REQUIRE(m->keys && m->used && m->recs, "out of memory");
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i]) model_put(m, old.keys[i], old.recs + i * old.rs);
    model_free(&old);
}

void model_put(model_table *m, uint64_t key, const uint8_t *rec) {
    if (2 * (m->count + 1) > m->cap) model_grow(m);
    size_t i = model_find(m, key);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->count++;
    }
    memcpy(m->recs + i * m->rs, rec, m->rs);
}

/* Returns 1 if the key was there. Backward-shift deletion keeps probe chains intact. */
int model_delete(model_table *m, uint64_t key) {
    size_t i = model_find(m, key);
    if (!m->used[i]) return 0;
    m->used[i] = 0;
    m->count--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->used[j]) break;
        size_t home = mix(m->keys[j]) & (m->cap - 1);
        /* move j into the hole at i if its home is not in (i, j] cyclically */
        int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            m->keys[i] = m->keys[j];
            memcpy(m->recs + i * m->rs, m->recs + j * m->rs, m->rs);
            m->used[i] = 1;
            m->used[j] = 0;
            i = j;
        }
    }
    return 1;
}

uint64_t model_digest(const model_table *m, size_t tables) {
    uint64_t sum = 0;
    for (size_t t = 0; t < tables; t++)
        for (size_t i = 0; i < m[t].cap; i++)
            if (m[t].used[i]) sum += fz_record_digest(m[t].id, m[t].keys[i], m[t].recs + i * m[t].rs, m[t].rs);
    return sum;
}
