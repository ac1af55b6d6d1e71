#!/bin/sh
# Benchmark: TIES merging (density 0.2, weights 1, lambda 1) of a base and 3 fine-tuned models,
# xfer-merge --compat mergekit against the same merge in PyTorch the way mergekit computes it
# (tests/bench/merge-peer.py: per tensor, exact-k trim by torch.argsort of |delta|, election by
# sum, weighted disjoint mean; ../shared/docs/merge.md section 3b), in the same run, with the
# same threads, reading the same safetensors files and writing a safetensors file.
# Data (tests/bench/merge-gen.py): llama-like float32 tensors (embedding, q/k/v/o 4096x4096,
# gate/up 11008x4096, down 4096x11008, norms 4096), base + N(0, s^2) with s = 1e-3, 2e-3,
# 5e-4; made once under $BENCH_DIR/PARAMS (default /tmp/xfer-merge-bench) and reused.
# Both sides run on a warm page cache (the inputs are read once with cat just before each) and
# write to /dev/shm when it is there (BENCH_OUT), so that the disk's writeback, which varies
# by seconds from run to run, does not decide the comparison.
# Times are whole programs (start, read, merge, write); xfer's is the best of BENCH_RUNS, the
# peer runs once (about 2e6 parameters per second: two minutes at 2.5e8). Reported:
#  - parameters per second per model (one model's parameters / wall time) and xfer / peer;
#  - xfer's traffic at 20 B/param (4 inputs x 4 B read, 4 B written) as a fraction of this
#    machine's memory bandwidth: tests/bench/membw.c, BENCH_THREADS threads memcpy 1 GiB,
#    best of 5, traffic = 2 x bytes copied per second;
#  - peak resident memory of each (/usr/bin/time %M);
#  - agreement of the two outputs (merge-gen.py check): exact-k trimming may keep either of
#    two equal |delta| at the k-th place (torch's argsort order is unspecified), so entries at
#    such ties are counted apart from the float rounding elsewhere;
#  - then xfer-merge alone on BIG_PARAMS per model (about 20 B/param on disk; skipped if
#    less than 25 B/param are free, and deleted afterwards): peak memory against the largest
#    tensor.
# usage: tests/bench/merge.sh [PARAMS [BIG_PARAMS]]   (defaults 2.5e8 and 1e9; BIG_PARAMS 0
#        skips that part). Environment: BENCH_THREADS (default 2), BENCH_RUNS (3), BENCH_DIR.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
num() { echo "$1" | awk '$1 ~ /^[0-9.]+(e[0-9]+)?$/ { printf "%.0f", $1; exit } { print "bad" }'; }
params=$(num "${1:-2.5e8}") big=$(num "${2:-1e9}")
threads=${BENCH_THREADS:-2} runs=${BENCH_RUNS:-3} density=0.2
data=${BENCH_DIR:-/tmp/xfer-merge-bench}
case $params$big$threads$runs in *[!0-9]*) echo "usage: $0 [PARAMS [BIG_PARAMS]]" >&2; exit 2 ;; esac
[ "$params" -ge 1000000 ] || { echo "$0: PARAMS must be at least 1e6" >&2; exit 2; }
PATH=$top/bin:$PATH
PY=/usr/bin/python3
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
out=$(mktemp -d "${BENCH_OUT:-/dev/shm}/xfer-bench.XXXXXX" 2>/dev/null || echo "$work")
trap 'rm -rf "$work" "$out"' EXIT
make -s -C "$top" bin/xfer-merge >/dev/null
${CC:-cc} -std=c11 -O2 -pthread -o "$work/membw" "$top/tests/bench/membw.c"

# The set of PARAMS parameters per model, made if missing; sets $set to its directory.
inputs() {
	set=$data/$1
	[ -f "$set/m3.safetensors" ] || "$PY" "$top/tests/bench/merge-gen.py" gen "$1" "$set"
}
# Runs a command under /usr/bin/time; sets $secs (wall, from the shell clock) and $kb (peak RSS).
timed() {
	t0=$(date +%s.%N)
	/usr/bin/time -f %M -o "$work/rss" "$@"
	secs=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.3f", $2 - $1 }')
	kb=$(tail -n 1 "$work/rss")
}
xfer() { # OUT: xfer-merge on $set
	timed xfer-merge --method ties --compat mergekit --density "$density" -j "$threads" -q \
		--base "$set/base.safetensors" "$set/m1.safetensors" "$set/m2.safetensors" "$set/m3.safetensors" -o "$1"
}
warm() { cat "$set/base.safetensors" "$set/m1.safetensors" "$set/m2.safetensors" "$set/m3.safetensors" >/dev/null; }

bw=$("$work/membw" "$threads")
inputs "$params"
count=$("$PY" -c 'import json, struct, sys, math
f = open(sys.argv[1], "rb"); h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0])); h.pop("__metadata__", None)
print(sum(math.prod(v["shape"]) for v in h.values()))' "$set/base.safetensors")
printf 'TIES (density %s, weights 1, lambda 1), base + 3 models of %s float32 parameters in %s, %s threads, torch %s\n' \
	"$density" "$count" "$set" "$threads" "$("$PY" -c 'import torch; print(torch.__version__)')"
printf 'memory bandwidth: %s GB/s of traffic (membw.c: %s threads memcpy 1 GiB, best of 5, 2 x bytes copied/s)\n' "$bw" "$threads"

warm
best=
for _ in $(seq "$runs"); do
	xfer "$out/xfer.safetensors"
	best=$(echo "$secs $kb ${best:-}" | awk '{ if ($3 == "" || $1 < $3) print $1, $2; else print $3, $4 }')
done
xsecs=${best% *} xkb=${best#* }
warm
timed "$PY" "$top/tests/bench/merge-peer.py" "$threads" "$density" "$out/peer.safetensors" \
	"$set/base.safetensors" "$set/m1.safetensors" "$set/m2.safetensors" "$set/m3.safetensors"
agree=$("$PY" "$top/tests/bench/merge-gen.py" check "$density" "$out/xfer.safetensors" "$out/peer.safetensors" \
	"$set/base.safetensors" "$set/m1.safetensors" "$set/m2.safetensors" "$set/m3.safetensors")

printf '%-26s %9s %11s %9s %10s %12s\n' "" "wall s" "params/s" "GB/s*" "of membw" "peak RSS MB"
echo "$count $xsecs $xkb $secs $kb $bw" | awk '{
	printf "%-26s %9.3f %11.3g %9.2f %9.1f%% %12.0f\n", "xfer-merge (best of '"$runs"')", $2, $1 / $2, 20 * $1 / $2 / 1e9, 2000 * $1 / $2 / 1e9 / $6, $3 / 1024
	printf "%-26s %9.3f %11.3g %9.2f %9.1f%% %12.0f\n", "torch, mergekit-style", $4, $1 / $4, 20 * $1 / $4 / 1e9, 2000 * $1 / $4 / 1e9 / $6, $5 / 1024
	printf "xfer / peer: %.3gx (aim >= 100x); xfer at %.1f%% of memory bandwidth (aim >= 50%%)\n", $4 / $2, 2000 * $1 / $2 / 1e9 / $6 }'
echo "* 20 B/param: 4 inputs x 4 B read + 4 B written, per second"
echo "$agree" | awk '{ printf "agreement: max |xfer - peer| %.3g; off trim ties %.2g of the tensor'"'"'s max |out|; %d entries differ by more than 1e-6 of it, %d of them at a tie of the k-th |delta|\n", $1, $2, $3, $4 }'
rm -f "$out/xfer.safetensors" "$out/peer.safetensors"

[ "$big" -gt 0 ] || exit 0
free=$(df -Pk "$(dirname "$data")" | awk 'NR == 2 { print $4 }')
if [ "$(echo "$free $big" | awk '{ print ($1 * 1024 < 25 * $2) }')" = 1 ]; then
	echo "big run skipped: $((free / 1048576)) GiB free under $(dirname "$data"), $big parameters need $(echo "$big" | awk '{ printf "%.0f", 25 * $1 / 2^30 }') GiB"
	exit 0
fi
inputs "$big"
trap 'rm -rf "$work" "$out" "$set"' EXIT
largest=$("$PY" -c 'import json, struct, sys, math
f = open(sys.argv[1], "rb"); h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0])); h.pop("__metadata__", None)
n, name = max((math.prod(v["shape"]), k) for k, v in h.items()); print(n, sum(math.prod(v["shape"]) for v in h.values()), name)' "$set/base.safetensors")
warm # 16 GB at 1e9 may not all stay cached
xfer "$out/xfer.safetensors"
echo "$largest $secs $kb" | awk '{
	printf "xfer-merge alone, %.4g parameters per model: %.2f s, %.3g params/s, peak RSS %.0f MB; largest tensor %s %.0f MB (float32), RSS = %.1f x that\n",
		$2, $4, $2 / $4, $5 / 1024, $3, $1 * 4 / 2^20, $5 * 1024 / ($1 * 4) }'
