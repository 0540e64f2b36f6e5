// Fuzz targets: one file fuzz/fuzz_<name>.c per parser, each defining its entry point with
//   LRA_FUZZ_TARGET(name) { ... use data[0..size) ...; return 0; }
// The same function serves two builds:
//   - `make fuzz` compiles it with clang, libFuzzer, ASan and UBSan into build-fuzz/fuzz/fuzz_<name>
//     (fuzz/libfuzzer_main.c supplies LLVMFuzzerTestOneInput);
//   - `make test` links every target into tests/test_fuzz_regress.c, which replays the regression corpus
//     tests/fuzz/<name>/* with the ordinary build (no clang needed).
// A target must return 0, free everything it allocated and write files only under lra_fuzz_tmpdir().
// Seed corpora: fuzz/seeds/<name> lists globs (relative to the repository root), one per line.
#ifndef LRA_FUZZ_FUZZ_H
#define LRA_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define LRA_FUZZ_TARGET(name) int lra_fuzz_##name(const uint8_t *data, size_t size)

// A private scratch folder for this process (created on first use, removed at exit).
const char *lra_fuzz_tmpdir(void);
// The `lra train` config schema, built once and kept for the process.
struct lra_config_schema;
struct lra_config_schema *lra_fuzz_settings_schema(void);
// Runs the targets on one thread: OpenMP workers spinning on a busy machine made tiny models take seconds.
void lra_fuzz_single_thread(void);
// Writes data to lra_fuzz_tmpdir()/<leaf> and returns the full path in buf (cap bytes); aborts on failure.
const char *lra_fuzz_write_file(const char *leaf, const uint8_t *data, size_t size, char *buf, size_t cap);

#endif
