// Joins the per-file parts of the op table (see optable.h).
#include "core/optable.h"

#include <stddef.h>

#include "core/status.h"

extern const lra_op_info lra_optable_matmul[];
extern const lra_op_info lra_optable_heads[];
extern const lra_op_info lra_optable_elementwise[];
extern const lra_op_info lra_optable_reduce[];
extern const lra_op_info lra_optable_view[];
extern const lra_op_info lra_optable_nn[];
extern const lra_op_info lra_optable_index[];
extern const lra_op_info lra_optable_fft[];
extern const lra_op_info lra_optable_pool[];

static lra_op_info g_table[128];
static int g_count = -1;

static void append(const lra_op_info *part) {
    for (int i = 0; part[i].name; i++) {
        LRA_ASSERT(g_count < (int)(sizeof g_table / sizeof g_table[0]) - 1);
        g_table[g_count++] = part[i];
    }
}

const lra_op_info *lra_optable(void) {
    if (g_count < 0) {
        g_count = 0;
        const lra_op_info *parts[] = {lra_optable_matmul, lra_optable_heads, lra_optable_elementwise, lra_optable_reduce,
                                      lra_optable_view,   lra_optable_nn,          lra_optable_index,
                                      lra_optable_fft,    lra_optable_pool};
        for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) append(parts[p]);
        g_table[g_count].name = NULL;
    }
    return g_table;
}

int lra_optable_count(void) {
    lra_optable();
    return g_count;
}
