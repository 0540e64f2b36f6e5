# Build of the LRA framework: a static library of every module, the `lra` program and one test
# binary per tests/test_<module>.c.  Sources are found by wildcard, so a new module file needs no edit here.
#   make            release build (build/lra, build/liblra.a)
#   make test       build and run every test (T=name runs tests/test_name.c only)
#   make test-slurm the Slurm jobs of tests/test_slurm.c (installs slurm-wlm and munge when missing)
#   make asan       the tests under AddressSanitizer + UndefinedBehaviorSanitizer (ASAN_BUILD, default build-asan/)
#   make debug      -O0 -g build in build-debug/
#   make bench      op micro-benchmarks
#   make demo       the README's main job
#   make install PREFIX=/usr/local   (a portable build, see below, with headers and lra.pc)
# Variables: BUILD (output folder), MODE (release|debug|asan), WERROR=1, MPI=1.

BUILD   ?= build
MODE    ?= release
PREFIX  ?= /usr/local
CC      ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif

VERSION := 0.1.0
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wpedantic -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
INCS    := -I. $(shell test -d /usr/include/x86_64-linux-gnu/openblas-openmp && echo -I/usr/include/x86_64-linux-gnu/openblas-openmp)

# -march=native in every mode: the kernels use 32-byte vector types (core/fastmath.h), and all modes
# should run the same instruction paths.
ARCH    ?= -march=native
ifeq ($(MODE),release)
OPT := -O2 $(ARCH) -ftree-vectorize -g
else ifeq ($(MODE),debug)
OPT := -O0 -g3 $(ARCH)
else ifeq ($(MODE),asan)
OPT := -O1 -g $(ARCH) -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(MODE),fuzz)
OPT := -O1 -g $(ARCH) -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
else
$(error MODE must be release, debug, asan or fuzz)
endif

ifeq ($(MPI),1)
CC_MPI  := mpicc
DEFS_MPI := -DLRA_WITH_MPI
endif

CFLAGS  += $(CSTD) $(WARN) $(OPT) -fopenmp $(INCS) -DLRA_VERSION=\"$(VERSION)\" $(DEFS_MPI) -MMD -MP
LDFLAGS += -fopenmp $(if $(filter asan fuzz,$(MODE)),-fsanitize=address$(comma)undefined)
LDLIBS  += -lopenblas -lyaml -lz -lm -lpthread
comma := ,
ifeq ($(MPI),1)
CC := $(CC_MPI)
endif
# Switching MPI on or off in the same BUILD folder rebuilds every object (a stamp names the variant).
MPI_STAMP := $(BUILD)/.mpi-$(if $(filter 1,$(MPI)),on,off)
MPI_STAMP_OTHER := $(BUILD)/.mpi-$(if $(filter 1,$(MPI)),off,on)

LIB_DIRS := core layers attention optim data tasks
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard tools/lra/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
# The plotting library (tools/plot/): linked into the lra program and into tests/test_plot.
PLOT_SRC := $(wildcard tools/plot/*.c)
PLOT_OBJ := $(PLOT_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# Objects linked into every test binary: the harness and the op table's gradient-check cases (test code,
# kept out of liblra.a).
HARNESS  := $(BUILD)/tests/harness.o $(BUILD)/tests/gradcheck_cases.o $(BUILD)/tests/omp_nesting.o
BENCH_SRC := $(wildcard tests/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/%.c=$(BUILD)/tests/%)
DEPS_OK  := $(BUILD)/.deps-ok
# Fuzz targets (fuzz/fuzz_<name>.c, see fuzz/fuzz.h): linked into tests/test_fuzz_regress with the ordinary
# build, and into one libFuzzer binary each by `make fuzz`.
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_OBJ   := $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(BUILD)/fuzz/util.o
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME  ?= 20

.PHONY: test-slurm all test asan debug bench demo install clean check-deps tests fuzz fuzz-bins fuzz-run
all: $(BUILD)/lra $(BUILD)/liblra.a

# Installs missing Debian packages (or prints the command) before anything is compiled.
$(DEPS_OK): tools/install-deps.sh
	@sh tools/install-deps.sh $(if $(filter 1,$(MPI)),--mpi)
	@mkdir -p $(BUILD) && touch $@
check-deps: $(DEPS_OK)

# (made while the Makefile is read: a missing prerequisite would count as an up-to-date intermediate).
# A folder without stamps holds default objects: its first MPI-off stamp is dated 1970 (no rebuild).
$(shell test -f $(MPI_STAMP) || { mkdir -p $(BUILD); \
  if [ -f $(MPI_STAMP_OTHER) ] || [ "$(MPI)" = 1 ]; then rm -f $(MPI_STAMP_OTHER); touch $(MPI_STAMP); \
  else touch -d @0 $(MPI_STAMP); fi; })
$(LIB_OBJ) $(CLI_OBJ) $(PLOT_OBJ) $(HARNESS) $(TEST_BIN:=.o) $(BENCH_BIN:=.o) $(FUZZ_OBJ): $(MPI_STAMP)
# The list of fuzz targets as an X-macro include, rewritten only when the set of files changes.
$(shell mkdir -p $(BUILD); printf 'LRA_FUZZ(%s)\n' $(FUZZ_NAMES) > $(BUILD)/fuzz_targets.inc.new; \
  cmp -s $(BUILD)/fuzz_targets.inc.new $(BUILD)/fuzz_targets.inc || mv $(BUILD)/fuzz_targets.inc.new $(BUILD)/fuzz_targets.inc; \
  rm -f $(BUILD)/fuzz_targets.inc.new)

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# YOSO's per-pair arccos / power loops vectorise only when sqrtf need not set errno (its arguments are
# never negative there).  This changes no result: it only lets the compiler use the vector sqrt.
$(BUILD)/attention/yoso.o: CFLAGS += -fno-math-errno

$(BUILD)/liblra.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/lra: $(CLI_OBJ) $(PLOT_OBJ) $(BUILD)/liblra.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(PLOT_OBJ) $(BUILD)/liblra.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(HARNESS) $(BUILD)/liblra.a
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS) $(BUILD)/liblra.a $(LDLIBS)

tests: $(TEST_BIN) $(BUILD)/lra

$(BUILD)/tests/test_plot: $(BUILD)/tests/test_plot.o $(PLOT_OBJ) $(HARNESS) $(BUILD)/liblra.a
	$(CC) $(LDFLAGS) -o $@ $< $(PLOT_OBJ) $(HARNESS) $(BUILD)/liblra.a $(LDLIBS)

$(BUILD)/tests/test_fuzz_regress.o: CFLAGS += -I$(BUILD)
$(BUILD)/tests/test_fuzz_regress.o: $(BUILD)/fuzz_targets.inc
$(BUILD)/tests/test_fuzz_regress: $(BUILD)/tests/test_fuzz_regress.o $(FUZZ_OBJ) $(HARNESS) $(BUILD)/liblra.a
	$(CC) $(LDFLAGS) -o $@ $< $(FUZZ_OBJ) $(HARNESS) $(BUILD)/liblra.a $(LDLIBS)

# make fuzz: one libFuzzer binary per target in $(FUZZ_BUILD)/fuzzers/ (clang, ASan, UBSan);
# make fuzz-run FUZZ_TIME=S [FUZZ_TARGETS="png tar"]: runs each for S seconds (tools/fuzz.sh).
fuzz:
	@sh tools/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) MODE=fuzz CC=clang fuzz-bins
fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzzers/%)
$(BUILD)/fuzzers/%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/util.o fuzz/libfuzzer_main.c $(BUILD)/liblra.a
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -fsanitize=fuzzer -DLRA_FUZZ_NAME=$* -o $@ fuzz/libfuzzer_main.c $< $(BUILD)/fuzz/util.o \
	  $(BUILD)/liblra.a $(LDFLAGS) $(LDLIBS)
fuzz-run: fuzz
	@sh tools/fuzz.sh -b $(FUZZ_BUILD) -t $(FUZZ_TIME) $(FUZZ_TARGETS)

# T=name runs only tests/test_name.c.
test: $(if $(T),$(BUILD)/tests/test_$(T) $(BUILD)/lra,tests)
	@sh tests/run_all.sh $(BUILD) $(if $(T),$(BUILD)/tests/test_$(T),$(TEST_BIN))

# A one-node Slurm cluster on this machine runs the jobs (tests/slurm/cluster.sh); `make test` runs the
# same test and skips it with a message where Slurm is missing or cannot start.
test-slurm:
	@sh tools/install-deps.sh --slurm
	@$(MAKE) --no-print-directory test T=slurm

ASAN_BUILD ?= build-asan
asan:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) MODE=asan test T=$(T)

debug:
	@$(MAKE) --no-print-directory BUILD=build-debug MODE=debug all

bench: $(BENCH_BIN) $(BUILD)/lra
	@for b in $(BENCH_BIN); do $$b || exit 1; done

demo: all
	@sh tools/demo.sh $(BUILD)

# make install: the dev build's -march=native binary may not run on another CPU, so install builds a
# portable release build of its own (PORTABLE_BUILD, with PORTABLE_ARCH: x86-64-v2 = SSE4.2/POPCNT, every
# x86-64 CPU since about 2009) and installs it: bin/lra, lib/liblra.a, the headers under include/lra/, the
# task configs and lib/pkgconfig/lra.pc (`pkg-config --cflags --libs lra`: -I, -fopenmp and every library
# liblra.a needs, since it is static).  The default build is left as it is.
PORTABLE_BUILD ?= build-portable
# -Wno-psabi: without AVX, GCC notes that the 32-byte vector types of core/fastmath.h would be passed
# differently across calls; they only cross static inline functions, so no ABI is involved.
PORTABLE_ARCH  ?= -march=x86-64-v2 -mtune=generic -Wno-psabi
PC_CFLAGS := $(filter-out -I.,$(INCS)) -fopenmp $(DEFS_MPI)
PC_LIBS   := -fopenmp -lopenblas -lyaml -lz -lm -lpthread $(if $(filter 1,$(MPI)),$(shell mpicc --showme:link 2>/dev/null))
install:
	@$(MAKE) --no-print-directory BUILD=$(PORTABLE_BUILD) ARCH="$(PORTABLE_ARCH)" MODE=release all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/lra $(DESTDIR)$(PREFIX)/share/lra/configs
	install -m 755 $(PORTABLE_BUILD)/lra $(DESTDIR)$(PREFIX)/bin/lra
	install -m 644 $(PORTABLE_BUILD)/liblra.a $(DESTDIR)$(PREFIX)/lib/liblra.a
	for d in $(LIB_DIRS); do install -d $(DESTDIR)$(PREFIX)/include/lra/$$d; \
	  for h in $$d/*.h; do [ -f "$$h" ] && install -m 644 $$h $(DESTDIR)$(PREFIX)/include/lra/$$d/; done; done
	-install -m 644 configs/*.yaml $(DESTDIR)$(PREFIX)/share/lra/configs/ 2>/dev/null
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: lra' 'Description: Long Range Arena training: efficient-attention transformers in C' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}/lra $(PC_CFLAGS)' 'Libs: -L$${libdir} -llra $(PC_LIBS)' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/lra.pc
	install -d $(DESTDIR)$(PREFIX)/share/lra/reference
	install -m 644 data/reference/results.tsv $(DESTDIR)$(PREFIX)/share/lra/reference/results.tsv
	@echo "installed lra $(VERSION) ($(PORTABLE_ARCH)) under $(DESTDIR)$(PREFIX); pkg-config: PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig"

clean:
	rm -rf build build-asan build-debug build-*

.SECONDARY:
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(PLOT_OBJ:.o=.d) $(TEST_BIN:=.d) $(HARNESS:.o=.d) $(FUZZ_OBJ:.o=.d)
