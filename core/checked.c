// Size checks for data read from outside (see core/checked.h).
#include "core/checked.h"

#include <stddef.h>

lra_status lra_size_check(uint64_t declared, uint64_t available, uint64_t ratio, const char *where,
                          const char *what) {
    // Compressed input may expand `ratio` times, plus a header's worth.
    uint64_t limit = available;
    if (ratio > 1 && (!lra_mul_u64(available, ratio, &limit) || !lra_add_u64(limit, 64, &limit))) limit = UINT64_MAX;
    if (declared > limit)
        return lra_error(LRA_ERR_FORMAT, "%s: %s declares %llu bytes but only %llu bytes are present%s", where,
                         what, (unsigned long long)declared, (unsigned long long)available,
                         ratio > 1 ? " (more than compression can expand to)" : " (truncated or corrupt?)");
    if (declared > (uint64_t)SIZE_MAX / 2)
        return lra_error(LRA_ERR_FORMAT, "%s: %s declares %llu bytes, more than this machine can address", where,
                         what, (unsigned long long)declared);
    return LRA_OK;
}
