#!/bin/sh
# Benchmark: the two products of a softmax head's evaluation (lib/train_linear.c) on one core,
# xfer's kernels xf_nn_gemm_nt (logits) and xf_nn_gemm_tn_acc (gradient, 8 rows at a time)
# against OpenBLAS SGEMM on the same arrays (tests/bench/head-driver.c), best of REPS: 256 rows
# (a block, in L2) and 8,000 rows (the digits, from memory) of 784 features and 10 classes, a
# narrow head on wide features, and a 32-class head, for which xfer-train uses SGEMM instead
# (the kernels serve heads of up to 12 classes). Prints GFLOPS of each, the ratio, and the
# difference of the results relative to their largest value.
# usage: tests/bench/head.sh [REPS]   (default 50)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
reps=${1:-50}
case $reps in '' | *[!0-9]*) echo "usage: $0 [REPS]" >&2; exit 2 ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
make -C "$top" --no-print-directory lib/libxfer.a >/dev/null
blas=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
# shellcheck disable=SC2086  # $blas is a list of flags
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I"$top/lib" -o "$work/head-driver" "$top/tests/bench/head-driver.c" \
	"$top/lib/libxfer.a" $blas -lpthread -lm
export OPENBLAS_NUM_THREADS=1
echo "one core; $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
for shape in "256 784 10" "8000 784 10" "8000 4096 4" "8000 2048 32"; do
	# shellcheck disable=SC2086  # three numbers
	"$work/head-driver" $shape "$reps"
done
