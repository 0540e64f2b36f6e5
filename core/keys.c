// Random-stream keys (see keys.h).
#include "core/keys.h"

#include "core/status.h"

// How a purpose's coordinates become lra_rng_stream words.  S(a, b, c, d) = lra_rng_stream(a, b, c, d).
typedef enum {
    KEY_DEFAULT = 0,  // S(step, layer, DEFAULT_ID + purpose, DEFAULT_SALT + tower), then the (e, h) sub-stream
    KEY_STEP,         // S(step, layer, id, salt + tower)
    KEY_STEP_EH,      // KEY_STEP, then S(that, example, head, SUB_SALT)
    KEY_LAYER_FIRST,  // S(layer, id, salt, 0)
    KEY_ID_LAYER,     // S(id, layer, 0, 0)
    KEY_ID_EPOCH,     // S(id, epoch, 0, 0)
} key_layout;

typedef struct {
    key_layout layout;
    uint64_t id, salt;
} key_recipe;

#define DEFAULT_ID 0x6b657900ull  // "key\0" + purpose
#define DEFAULT_SALT 0x6b79ull
#define SUB_SALT 0x5eedull

// The historical words of every purpose that existed when the keys were unified (changing one changes
// trained weights): encoder dropout salts 0xd00, kernel dropout 0xa77, kernel draws 0xa770.
static const key_recipe k_recipes[LRA_KEY_COUNT] = {
    [LRA_KEY_DROPOUT_EMBEDDING] = {KEY_STEP, 1, 0xd00},
    [LRA_KEY_DROPOUT_ATTN_OUT] = {KEY_STEP, 2, 0xd00},
    [LRA_KEY_DROPOUT_MLP_HIDDEN] = {KEY_STEP, 3, 0xd00},
    [LRA_KEY_DROPOUT_MLP_OUT] = {KEY_STEP, 4, 0xd00},
    [LRA_KEY_DROPOUT_ATTN_PROBS] = {KEY_STEP, 5, 0xa77},
    [LRA_KEY_S3_DROPOUT_TOKEN] = {KEY_STEP, 0x5a52, 0xa77},
    [LRA_KEY_S3_DROPOUT_FEATURE] = {KEY_STEP, 0x5a53, 0xa77},
    [LRA_KEY_S3_DROPOUT_SMOOTHER] = {KEY_STEP, 0x5a54, 0xd00},
    [LRA_KEY_SKEIN_PILOT] = {KEY_STEP_EH, 0x5a01, 0xa770},
    [LRA_KEY_SKEIN_COLUMNS] = {KEY_STEP_EH, 0x5a02, 0xa770},
    [LRA_KEY_INFORMER_KEYS] = {KEY_STEP, 0x5a03, 0xa770},
    [LRA_KEY_SKYFORMER_LANDMARKS] = {KEY_STEP, 0x5a04, 0xa770},
    [LRA_KEY_YOSO_HASH] = {KEY_STEP_EH, 0x5a40, 0xa770},
    [LRA_KEY_S3_INDEX_CALL] = {KEY_STEP_EH, 0x5a51, 0xa770},
    [LRA_KEY_PERFORMER_FEATURES] = {KEY_LAYER_FIRST, 0x5a05, 0xfa70},
    [LRA_KEY_S3_INDEX_INIT] = {KEY_ID_LAYER, 0x5a50, 0},
    [LRA_KEY_SCATTERBRAIN_FEATURES] = {KEY_LAYER_FIRST, 0x5a60, 0xfa70},
    [LRA_KEY_BATCH_ORDER] = {KEY_ID_EPOCH, 0x44415441, 0},
};

lra_key lra_key_make(const lra_key_fields *f) {
    LRA_ASSERT_MSG((unsigned)f->purpose < LRA_KEY_COUNT, "unknown random-stream purpose %d", (int)f->purpose);
    const key_recipe *r = &k_recipes[f->purpose];
    const uint64_t layer = (uint64_t)(int64_t)f->layer;  // -1 -> 2^64 - 1, as before
    uint64_t s = 0;
    switch (r->layout) {
    case KEY_DEFAULT:
        s = lra_rng_stream(f->step, layer, DEFAULT_ID + (uint64_t)f->purpose, DEFAULT_SALT + f->tower);
        s = lra_rng_stream(s, f->example, f->head, SUB_SALT);
        break;
    case KEY_STEP:
        s = lra_rng_stream(f->step, layer, r->id, r->salt + f->tower);
        break;
    case KEY_STEP_EH:
        s = lra_rng_stream(f->step, layer, r->id, r->salt + f->tower);
        s = lra_rng_stream(s, f->example, f->head, SUB_SALT);
        break;
    case KEY_LAYER_FIRST:
        s = lra_rng_stream(layer, r->id, r->salt, 0);
        break;
    case KEY_ID_LAYER:
        s = lra_rng_stream(r->id, layer, 0, 0);
        break;
    case KEY_ID_EPOCH:
        s = lra_rng_stream(r->id, f->epoch, 0, 0);
        break;
    }
    return (lra_key){.seed = f->seed, .stream = s};
}
