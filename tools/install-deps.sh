#!/bin/sh
# Installs the Debian packages the build needs, but only those whose files are missing.
# Usage: tools/install-deps.sh [--mpi] [--torch] [--fuzz] [--slurm]
#   --mpi    also Open MPI (for `make MPI=1`)
#   --torch  also python3-torch (developer tools: reference dumps, torch_ref benchmark)
#   --fuzz   also clang with its libFuzzer runtime and libomp (for `make fuzz`)
#   --slurm  also Slurm and munge (test_slurm starts a one-node cluster with them; `make test-slurm`)
# Runs apt-get as root or through sudo; otherwise prints the exact command and fails.
set -u
want_mpi=0; want_torch=0; want_fuzz=0; want_slurm=0
for a in "$@"; do
  case "$a" in
    --mpi) want_mpi=1 ;;
    --torch) want_torch=1 ;;
    --fuzz) want_fuzz=1 ;;
    --slurm) want_slurm=1 ;;
    *) echo "install-deps: unknown option '$a' (expected --mpi, --torch, --fuzz or --slurm)" >&2; exit 2 ;;
  esac
done

missing=""
have_header() { for f in "$@"; do [ -f "$f" ] && return 0; done; return 1; }
have_header /usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h /usr/include/*/openblas-openmp/cblas.h \
  || missing="$missing libopenblas-openmp-dev"
have_header /usr/include/yaml.h || missing="$missing libyaml-dev"
have_header /usr/include/zlib.h || missing="$missing zlib1g-dev"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"  # lra.pc of `make install` (and its test)
if [ "$want_mpi" = 1 ]; then
  have_header /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h /usr/include/*/openmpi/mpi.h /usr/lib/*/openmpi/include/mpi.h \
    || missing="$missing libopenmpi-dev"
  command -v mpirun >/dev/null 2>&1 || missing="$missing openmpi-bin"
fi
if [ "$want_fuzz" = 1 ]; then
  command -v clang >/dev/null 2>&1 || missing="$missing clang"
  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || missing="$missing libclang-rt-dev"
  ls /usr/lib/llvm-*/lib/libomp.so >/dev/null 2>&1 || missing="$missing libomp-dev"
fi
if [ "$want_slurm" = 1 ]; then
  { [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && command -v sbatch >/dev/null 2>&1; } \
    || missing="$missing slurm-wlm"
  [ -x /usr/sbin/munged ] || missing="$missing munge"
fi
if [ "$want_torch" = 1 ]; then
  /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing="$missing python3-torch python3-numpy"
fi

[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
else
  echo "install-deps: missing packages and no root rights. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || $SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $missing >/dev/null || {
  echo "install-deps: apt-get install failed for:$missing" >&2; exit 1; }
echo "install-deps: done" >&2
