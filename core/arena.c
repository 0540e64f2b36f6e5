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
    chunk *first;         // chunks in creation order, kept across resets
    chunk *cur;           // the chunk allocations come from now
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
    a->first = a->cur = chunk_new(a->first_size);
    a->capacity = a->first_size;
    return a;
}

void lra_arena_free(lra_arena *a) {
    if (!a) return;
    chunk_free_list(a->first);
    free(a);
}

void *lra_arena_alloc(lra_arena *a, size_t bytes) {
    size_t need = (bytes + LRA_ARENA_ALIGN - 1) / LRA_ARENA_ALIGN * LRA_ARENA_ALIGN;
    if (need == 0) need = LRA_ARENA_ALIGN;
    // Move on through the chunks earlier steps reserved (their pages are already mapped), and reserve a new
    // one -- doubling the reserve, so the number of chunks stays logarithmic -- only past the last.
    while (a->cur->used + need > a->cur->size) {
        if (!a->cur->next) {
            size_t size = a->capacity > need ? a->capacity : need;
            a->cur->next = chunk_new(size);
            a->capacity += size;
        }
        a->cur = a->cur->next;
        a->cur->used = 0;
    }
    void *p = a->cur->base + a->cur->used;
    a->cur->used += need;
    a->used_total += need;
    if (a->used_total > a->high_water) a->high_water = a->used_total;
    return p;
}

void *lra_arena_calloc(lra_arena *a, size_t bytes) {
    void *p = lra_arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

// Rewinds to the first chunk and keeps every chunk: a step of the same shape reuses the same memory, so it
// neither reserves nor page-faults anything after the first.
void lra_arena_reset(lra_arena *a) {
    a->cur = a->first;
    a->cur->used = 0;
    a->used_total = 0;
}

size_t lra_arena_used(const lra_arena *a) { return a->used_total; }
size_t lra_arena_high_water(const lra_arena *a) { return a->high_water; }
size_t lra_arena_capacity(const lra_arena *a) { return a->capacity; }
