// libFuzzer entry point for one target; compiled with -DLRA_FUZZ_NAME=<name> (see fuzz/fuzz.h).
#include "fuzz/fuzz.h"

#define LRA_FUZZ_CAT2(a, b) a##b
#define LRA_FUZZ_CAT(a, b) LRA_FUZZ_CAT2(a, b)
#define LRA_FUZZ_FN LRA_FUZZ_CAT(lra_fuzz_, LRA_FUZZ_NAME)

int LRA_FUZZ_FN(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return LRA_FUZZ_FN(data, size); }
