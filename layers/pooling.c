// The pooling modes' names (see pooling.h; the pooling itself is lra_op_layer_norm_pool).
#include "layers/pooling.h"

#include <string.h>

lra_status lra_pooling_parse(const char *name, lra_pooling *out) {
    if (!strcmp(name, "mean")) *out = LRA_POOL_MEAN;
    else if (!strcmp(name, "cls")) *out = LRA_POOL_CLS;
    else return lra_error(LRA_ERR_CONFIG, "unknown pooling '%s' (expected mean or cls)", name);
    return LRA_OK;
}
