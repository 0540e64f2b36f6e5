// Chunked bump allocator (see arena.h).
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    unsigned char *base;  // 64-byte aligned
} chunk;

struct lra_arena {
    chunk *head;          // current chunk (allocations come from here)
    chunk *full;          // earlier chunks of this step
    size_t first_size;
    size_t used_total;    // across chunks, since reset
    size_t high_water;
    size_t capacity;
};

static chunk *chunk_new(size_t size) {
    chunk *c = lra_xmalloc(sizeof *c);
    c->base = aligned_alloc(LRA_ARENA_ALIGN, (size + LRA_ARENA_ALIGN - 1) / LRA_ARENA_ALIGN * LRA_ARENA_ALIGN);
    LRA_ASSERT_MSG(c->base != NULL, "arena: out of memory reserving %zu bytes", size);
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

static void chunk_free_list(chunk *c) {
    while (c) {
        chunk *n = c->next;
        free(c->base);
        free(c);
        c = n;
    }
}

lra_arena *lra_arena_new(size_t chunk_bytes) {
    lra_arena *a = lra_xcalloc(1, sizeof *a);
    a->first_size = chunk_bytes ? chunk_bytes : ((size_t)16 << 20);
    a->head = chunk_new(a->first_size);
    a->capacity = a->first_size;
    return a;
}

void lra_arena_free(lra_arena *a) {
    if (!a) return;
    chunk_free_list(a->head);
    chunk_free_list(a->full);
    free(a);
}

void *lra_arena_alloc(lra_arena *a, size_t bytes) {
    size_t need = (bytes + LRA_ARENA_ALIGN - 1) / LRA_ARENA_ALIGN * LRA_ARENA_ALIGN;
    if (need == 0) need = LRA_ARENA_ALIGN;
    if (a->head->used + need > a->head->size) {
        // Grow: the new chunk doubles the reserve so that the number of chunks stays logarithmic.
        size_t size = a->capacity > need ? a->capacity : need;
        chunk *c = chunk_new(size);
        a->head->next = a->full;
        a->full = a->head;
        a->head = c;
        a->capacity += size;
    }
    void *p = a->head->base + a->head->used;
    a->head->used += need;
    a->used_total += need;
    if (a->used_total > a->high_water) a->high_water = a->used_total;
    return p;
}

void *lra_arena_calloc(lra_arena *a, size_t bytes) {
    void *p = lra_arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

void lra_arena_reset(lra_arena *a) {
    if (a->full) {
        // Fold all chunks into one of the total size: the next step fits without growing.
        size_t total = a->capacity;
        chunk_free_list(a->full);
        chunk_free_list(a->head);
        a->full = NULL;
        a->head = chunk_new(total);
        a->capacity = total;
    }
    a->head->used = 0;
    a->used_total = 0;
}

size_t lra_arena_used(const lra_arena *a) { return a->used_total; }
size_t lra_arena_high_water(const lra_arena *a) { return a->high_water; }
size_t lra_arena_capacity(const lra_arena *a) { return a->capacity; }
