#!/bin/sh
# Benchmark: approximate k nearest neighbours (lib/knn_approx.c: RP forest + NN-descent) on a
# seeded 50-D Gaussian mixture, by default at N = 100 000 (1 000 000 on request: about 4 minutes and
# 2.2 GB) with k = 90 (t-SNE's 3 x perplexity): wall time of xf_knn_approx, recall@k against brute force on sampled rows
# (xf_knn_recall), and the driver's peak resident memory from /usr/bin/time -v. Aims
# (docs/project.md; 2 cores): N = 1e5 well under 10 s, recall >= 0.95; N = 1e6 feasible.
# The driver itself holds x (8 N D bytes) and the output (16 N k bytes).
# usage: tests/bench/knn.sh [N...]
#   environment: D=50 K=90 THREADS=2 SAMPLE (rows for recall; 1000, 200 above N = 200 000)
#                DATA=pca|iso (cluster spectrum, see knn-driver.c)  EXACT=1 (also time xf_knn_exact)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
d=${D:-50} k=${K:-90} threads=${THREADS:-2} data=${DATA:-pca}
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

make -C "$top" --no-print-directory lib/libxfer.a >/dev/null
blas=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
# shellcheck disable=SC2086  # $blas is a list of flags
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I"$top/lib" -o "$work/knn-driver" "$top/tests/bench/knn-driver.c" \
	"$top/lib/libxfer.a" $blas -llapacke -lpthread -lm
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"

# One run under /usr/bin/time -v: the driver's line, then its peak RSS and the wall time.
run() {
	/usr/bin/time -v "$work/knn-driver" "$@" 2>"$work/time" || { cat "$work/time" >&2; exit 1; }
	awk -F': ' '/Maximum resident set size/ { rss = $2 / 1024 }
		/Elapsed \(wall clock\)/ { wall = $2 }
		END { printf "  peak RSS %.0f MB, process wall %s\n", rss, wall }' "$work/time"
}

for n in ${*:-100000}; do
	if [ "$n" -gt 200000 ]; then sample=${SAMPLE:-200}; else sample=${SAMPLE:-1000}; fi
	run "$n" "$d" "$k" "$threads" "$sample" approx "$data"
	if [ "${EXACT:-0}" = 1 ]; then
		run "$n" "$d" "$k" "$threads" "$sample" exact "$data"
	fi
done
