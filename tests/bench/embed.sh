#!/bin/sh
# Benchmark: xfer-embed against PyTorch's CPU forward pass (Debian's python3-torch), in the same
# run, with the same threads and batch size, on the same input: the first N bundled digits
# resized to 32x32 (float32 [1, 32, 32], made once by tests/ref/ref_embed_data.py), through
#   - the LeNet-style CNN of tests/ref/ref_torchnets.py (logits), and
#   - the ResNet-18-style network of the same file at full width (64 channels in the first
#     stage; 11 convolution layers of 3x3, about 0.56 GFLOP per image; logits),
# both with random weights and batchnorm statistics (seed 1). PyTorch runs the module in eval
# mode under torch.no_grad() (batchnorm not folded: as users run it), on tensors already in
# memory, after one warm-up batch; its time is the forward passes only. xfer-embed's time is
# the whole program: reading the model and the stream, the passes and writing the output.
# Images per second are the best of BENCH_RUNS runs (default 3); the ratio is xfer over torch
# (above 1: xfer is faster). Peak resident memory: xfer-embed's from /usr/bin/time, the torch
# process's from getrusage (it includes the interpreter and libtorch, about 0.3 GB, so also
# the increase over the process before the first pass). The logits are checked to agree.
# usage: tests/bench/embed.sh [N]   (digits for the ResNet, default 2000; LeNet takes all 10,000). Environment: BENCH_THREADS (default
#        2), BENCH_BATCH (default 64), BENCH_RUNS.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-2000}
threads=${BENCH_THREADS:-2}
batch=${BENCH_BATCH:-64}
runs=${BENCH_RUNS:-3}
case $n$threads$batch$runs in *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
PATH=$top/bin:$PATH
PY=/usr/bin/python3
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
make -s -C "$top" >/dev/null

# LeNet takes milliseconds per thousand digits, so it gets all 10,000 (startup then counts for little).
xfer-cat "$top/data/mnist10k.xs.zst" -o "$work/digits.xs"
"$PY" "$top/tests/ref/ref_embed_data.py" digits32 "$work/digits.xs" "$work/lenet-d32.xs" 10000
"$PY" "$top/tests/ref/ref_embed_data.py" digits32 "$work/digits.xs" "$work/resnet18-d32.xs" "$n"

cat >"$work/torch_run.py" <<'PY'
import resource, sys, time
import numpy as np, torch, msgpack, msgpack_numpy as m
sys.path.insert(0, sys.argv[1])
import ref_torchnets as R
net, width, path, threads, batch, runs = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
torch.set_num_threads(threads)
x = torch.from_numpy(np.concatenate([f["cols"]["x"] for f in msgpack.Unpacker(open(path, "rb"), object_hook=m.decode, raw=False)
                                     if f["t"] == "batch"]).copy())
module, _ = R.make(net, 1, width=width)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
best, out = None, None
with torch.no_grad():
    module(x[:batch])
    for _ in range(runs):
        t = time.perf_counter()
        out = torch.cat([module(x[i:i + batch]) for i in range(0, len(x), batch)])
        t = time.perf_counter() - t
        best = t if best is None else min(best, t)
np.save(sys.argv[8], out.numpy())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("%.6f %.1f %.1f" % (best, rss / 1024, (rss - rss0) / 1024))
PY
cat >"$work/agree.py" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
got = np.concatenate([f["cols"]["logits"] for f in msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False)
                      if f["t"] == "batch"]).astype(np.float64)
want = np.load(sys.argv[2]).astype(np.float64)
print("%.1e" % (np.abs(got - want).max() / np.abs(want).max()))
PY

printf 'xfer-embed vs PyTorch %s, digits 32x32 (LeNet 10000, ResNet %s), %s threads, batch %s (best of %s)\n' \
	"$("$PY" -c 'import torch; print(torch.__version__)')" "$n" "$threads" "$batch" "$runs"
printf '%-22s %10s %10s %7s %10s %16s %9s\n' network "xfer img/s" "torch img/s" ratio "xfer MB" "torch MB (+pass)" "rel err"
for spec in lenet:16 resnet18:64; do
	net=${spec%%:*} width=${spec#*:} rows=$n
	[ "$net" = lenet ] && rows=10000
	"$PY" "$top/tests/ref/ref_torchnets.py" export "$net" 1 "$work/$net" --width "$width"
	xfer-pack "$work/$net.safetensors" --arch "$work/$net.json" -o "$work/$net.xs"
	best=
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %M' -o "$work/time" xfer-embed -j "$threads" --batch "$batch" -m "$work/$net.xs" \
			--logits "$work/$net-d32.xs" -o "$work/out.xs"
		read -r secs kb <"$work/time"
		best=$(echo "$secs $kb ${best:-}" | awk '{ if ($3 == "" || $1 < $3) print $1, $2; else print $3, $4 }')
	done
	set -- $("$PY" "$work/torch_run.py" "$top/tests/ref" "$net" "$width" "$work/$net-d32.xs" "$threads" "$batch" "$runs" "$work/ref.npy")
	tsecs=$1 trss=$2 tpass=$3
	err=$("$PY" "$work/agree.py" "$work/out.xs" "$work/ref.npy")
	echo "$net $width $best $tsecs $trss $tpass $err" | awk -v n="$rows" '{
		xs = ($3 > 0 ? $3 : 0.01); printf "%-22s %10.0f %10.0f %6.2fx %10.0f %9.0f (+%.0f) %9s\n",
		$1 " (width " $2 ")", n / xs, n / $5, $5 / xs, $4 / 1024, $6, $7, $8 }'
done
