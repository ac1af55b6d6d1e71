#!/bin/sh
# Benchmark: k-means (lib/kmeans.c, Lloyd with Hamerly's bounds) against scikit-learn's KMeans
# (algorithm="lloyd", n_init=1) from the SAME initial centres (k-means++ computed once by
# scikit-learn and given to both; XF_KMEANS_GIVEN on our side), the same tol and max_iter and the
# same threads (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = THREADS for scikit-learn). Data: the
# bundled digits (data/mnist10k.xs.zst, 10000 x 784, / 255) with k = 10 and k = 100, and
# 100000 x 64 Gaussian blobs (make_blobs, 50 centres, std 3) with k = 50. Then mini-batch
# (Sculley) against scikit-learn's MiniBatchKMeans, MB_ITER passes of batches of BATCH.
# Prints the best wall time of REPEAT fits (the fit alone; the machine is shared, so the best is
# the least disturbed), the ratio sklearn / xfer (aim: >= 3), iterations, both inertias in
# float64 from each side's labels and centres, their relative difference (should be <= 1e-6 when
# both converged before max_iter) and the fraction of equal labels; mini-batch rows also give
# each side's inertia relative to xfer's full Lloyd result.
# usage: tests/bench/kmeans.sh
#   environment: THREADS=2 REPEAT=3 TOL=1e-4 MAX_ITER=300 BATCH=1024 MB_ITER=10
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
threads=${THREADS:-2} repeat=${REPEAT:-3} tol=${TOL:-1e-4} max_iter=${MAX_ITER:-300}
batch=${BATCH:-1024} mb_iter=${MB_ITER:-10}
py=/usr/bin/python3 ref=$top/tests/ref/ref_kmeans.py
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

make -C "$top" --no-print-directory lib/libxfer.a bin/xfer-cat >/dev/null
blas=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
# shellcheck disable=SC2086  # $blas is a list of flags
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I"$top/lib" -o "$work/kmeans-driver" "$top/tests/bench/kmeans-driver.c" \
	"$top/lib/libxfer.a" $blas -llapacke -lpthread -lm
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'); threads $threads," \
	"tol $tol, max_iter $max_iter, best of $repeat"

"$top/bin/xfer-cat" --fields x --to npy "$top/data/mnist10k.xs.zst" -o "$work/mnist.npy"
$py "$ref" prepare mnist 10 "$work/mnist" "$work/mnist.npy" >/dev/null
$py "$ref" prepare mnist 100 "$work/mnist" "$work/mnist.npy" >/dev/null
$py "$ref" prepare blobs 50 "$work/blobs" >/dev/null

# One comparison: SET D K [BATCH ITER]; prints a table row.
compare() {
	set_=$1 d=$2 k=$3 b=${4:-0} it=${5:-$max_iter}
	if [ "$b" -gt 0 ]; then
		sk=$($py "$ref" sklearn "$work/$set_" "$k" "$tol" "$it" "$repeat" "$b")
	else
		sk=$($py "$ref" sklearn "$work/$set_" "$k" "$tol" "$it" "$repeat")
	fi
	xf=$("$work/kmeans-driver" "$work/$set_.x.f32" "$d" "$k" "$threads" "$tol" "$it" \
		"$work/$set_.init$k.f32" "$b" "$repeat" "$work/out")
	cmp_=$($py "$ref" compare "$work/$set_" "$k" "$work/out.labels" "$work/out.centres")
	[ "$b" -gt 0 ] || echo "$xf" | cut -d' ' -f2 >"$work/lloyd-$set_-$k"
	full=$(cat "$work/lloyd-$set_-$k" 2>/dev/null || echo 0)
	# fields: set k batch iter | sk: seconds inertia iters | xf: seconds inertia iters empty | inertia equal
	echo "$set_ $k $b $it $sk $xf $cmp_" | awk -v full="$full" '{
		name = $1 " k=" $2 (($3 > 0) ? " batch=" $3 : "")
		rel = ($12 - $6) / $6; if (rel < 0) rel = -rel
		note = ($3 > 0 || ($7 < $4 && $10 < $4)) ? "" : "  (max_iter reached)"
		if ($3 > 0 && full > 0)
			note = sprintf("  (xfer %+.2f%%, sklearn %+.2f%% vs Lloyd)", 100 * ($12 / full - 1), 100 * ($6 / full - 1))
		printf "%-24s %8.3f %8.3f %6.2fx %5d %5d  %-16.10g %-16.10g %8.1e %7.4f%s\n",
			name, $5, $8, $5 / $8, $7, $10, $6, $12, rel, $13, note }'
}

printf '%-24s %8s %8s %7s %5s %5s  %-16s %-16s %8s %7s\n' "Lloyd" "sklearn" "xfer" "ratio" "it_sk" "it_xf" \
	"inertia_sk" "inertia_xf" "rel" "labels="
compare mnist 784 10
compare mnist 784 100
compare blobs 64 50
printf '\n%-24s %8s %8s %7s %5s %5s  %-16s %-16s %8s %7s\n' "mini-batch" "sklearn" "xfer" "ratio" "it_sk" "it_xf" \
	"inertia_sk" "inertia_xf" "rel" "labels="
compare mnist 784 100 "$batch" "$mb_iter"
compare blobs 64 50 "$batch" "$mb_iter"
