// Step arena: 64-byte aligned bump allocation for everything that lives for one training step
// (activations, tape nodes, gradients of activations).  It grows by chunks as needed, so there is no
// size to guess; lra_arena_reset frees nothing but rewinds to the first chunk, so the next step of the
// same shape reuses the same (already mapped) memory and reserves nothing new.
#ifndef LRA_CORE_ARENA_H
#define LRA_CORE_ARENA_H

#include <stddef.h>

#define LRA_ARENA_ALIGN 64

typedef struct lra_arena lra_arena;

// chunk_bytes: size of the first chunk (0 = 16 MiB); later chunks are at least as large as a request.
lra_arena *lra_arena_new(size_t chunk_bytes);
void lra_arena_free(lra_arena *a);
void *lra_arena_alloc(lra_arena *a, size_t bytes);    // uninitialised, 64-byte aligned, never NULL
void *lra_arena_calloc(lra_arena *a, size_t bytes);   // zeroed
void lra_arena_reset(lra_arena *a);
size_t lra_arena_used(const lra_arena *a);        // bytes handed out since the last reset
size_t lra_arena_high_water(const lra_arena *a);  // most bytes ever in use at once
size_t lra_arena_capacity(const lra_arena *a);    // bytes currently reserved from the system

#endif
