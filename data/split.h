// The three dataset splits every task reads, with their names as used in configs and reports.
#ifndef LRA_DATA_SPLIT_H
#define LRA_DATA_SPLIT_H

#include <string.h>

#include "core/status.h"

typedef enum { LRA_SPLIT_TRAIN, LRA_SPLIT_VAL, LRA_SPLIT_TEST } lra_split;

// "train", "val" or "test".
static inline const char *lra_split_name(lra_split s) {
    switch (s) {
    case LRA_SPLIT_TRAIN: return "train";
    case LRA_SPLIT_VAL: return "val";
    case LRA_SPLIT_TEST: return "test";
    }
    return "?";
}

// Accepts "train", "test", and "val" with its usual synonyms "validation", "valid", "dev", "eval".
static inline lra_status lra_split_parse(const char *name, lra_split *out) {
    if (!name) return lra_error(LRA_ERR_ARG, "split name missing (expected train, val or test)");
    if (!strcmp(name, "train")) {
        *out = LRA_SPLIT_TRAIN;
    } else if (!strcmp(name, "val") || !strcmp(name, "validation") || !strcmp(name, "valid") ||
               !strcmp(name, "dev") || !strcmp(name, "eval")) {
        *out = LRA_SPLIT_VAL;
    } else if (!strcmp(name, "test")) {
        *out = LRA_SPLIT_TEST;
    } else {
        return lra_error(LRA_ERR_ARG, "unknown split '%s' (expected train, val or test)", name);
    }
    return LRA_OK;
}

#endif
