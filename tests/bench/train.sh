#!/bin/sh
# Benchmark: xfer-train against its peers in the same run, on the bundled digits (the first
# 8,000 to train, the last 2,000 to test), with the same threads:
#  1. softmax regression on raw pixels (x/255) against scikit-learn's LogisticRegression
#     (lbfgs, C = 1, run to convergence: tol 1e-6, max_iter 5000): wall time (xfer: the whole
#     program, reading and writing included; scikit-learn: fit only) and test accuracy;
#  2. an MLP 784-512-256-10 (ReLU) and  3. LeNet-5 (pipelines/arch/lenet5.json) against the
#     same networks in PyTorch (torch.nn, the same schedule; OpenBLAS at one thread under
#     torch's own threads, its fastest setting here): AdamW (lr 1e-3; LeNet 2e-3; weight
#     decay 0.01 on weights), batch 64, cosine annealing per step, shuffled every epoch, for E
#     epochs; time per epoch (xfer: from its log; torch: the training loop only) and test
#     accuracy after the last epoch.
# Ratios are peer time over xfer time (above 1: xfer is faster).
# usage: tests/bench/train.sh [EPOCHS]   (default 5). Environment: BENCH_THREADS (default 2).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
epochs=${1:-5}
threads=${BENCH_THREADS:-2}
case $epochs$threads in *[!0-9]*) echo "usage: $0 [EPOCHS]" >&2; exit 2 ;; esac
PATH=$top/bin:$PATH
PY=/usr/bin/python3
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
make -s -C "$top" >/dev/null
data=$top/data/mnist10k.xs.zst
xfer-cat --head 8000 "$data" -o "$work/train.xs"
xfer-cat --rows 8000: "$data" -o "$work/test.xs"

cat >"$work/peers.py" <<'PY'
import sys, time, json, numpy as np, msgpack, msgpack_numpy as m
def load(p):
    b = [f for f in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False) if f["t"] == "batch"]
    return np.concatenate([f["cols"]["x"] for f in b]).astype(np.float32) / 255, np.concatenate([f["cols"]["y"] for f in b]).astype(np.int64)
x, y = load(sys.argv[2] + "/train.xs"); xt, yt = load(sys.argv[2] + "/test.xs")
what, epochs, threads = sys.argv[1], int(sys.argv[3]), int(sys.argv[4])
if what == "sklearn":
    from sklearn.linear_model import LogisticRegression
    t = time.perf_counter(); clf = LogisticRegression(C=1.0, tol=1e-6, max_iter=5000).fit(x.reshape(len(x), -1).astype(np.float64), y)
    print("%.3f %.4f" % (time.perf_counter() - t, clf.score(xt.reshape(len(xt), -1), yt)))
    sys.exit()
import torch, torch.nn as nn
torch.set_num_threads(threads); torch.manual_seed(0)
if what == "mlp":
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
else:
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
X = torch.from_numpy(x.reshape(len(x), 1, 28, 28)); Y = torch.from_numpy(y)
decay = [p for p in net.parameters() if p.dim() > 1]; rest = [p for p in net.parameters() if p.dim() <= 1]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=1e-3 if what == "mlp" else 2e-3)
steps = epochs * ((len(x) + 63) // 64)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * s / steps)))
loss_fn = nn.CrossEntropyLoss(); g = torch.Generator().manual_seed(0)
t = time.perf_counter()
for e in range(epochs):
    net.train()
    for idx in torch.randperm(len(x), generator=g).split(64):
        opt.zero_grad(); loss_fn(net(X[idx]), Y[idx]).backward(); opt.step(); sched.step()
secs = (time.perf_counter() - t) / epochs
net.eval()
with torch.no_grad():
    acc = (net(torch.from_numpy(xt.reshape(len(xt), 1, 28, 28))).argmax(1).numpy() == yt).mean()
print("%.3f %.4f" % (secs, acc))
PY

printf 'xfer-train vs peers, 8000 train / 2000 test digits, %s threads, %s epochs\n' "$threads" "$epochs"
printf '%-34s %10s %10s %7s %10s %10s\n' task "xfer s" "peer s" ratio "xfer acc" "peer acc"
start=$(date +%s.%N)
xfer-train -q -j "$threads" --tol 1e-6 "$work/train.xs" -o "$work/soft.xs"
end=$(date +%s.%N)
xacc=$(xfer-embed -m "$work/soft.xs" --logits "$work/test.xs" | "$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
print("%.4f" % (np.concatenate([f["cols"]["logits"] for f in b]).argmax(1) == np.concatenate([f["cols"]["y"] for f in b])).mean())')
set -- $("$PY" "$work/peers.py" sklearn "$work" 0 "$threads")
echo "$start $end $1 $xacc $2" | awk '{ x = $2 - $1; printf "%-34s %10.2f %10.2f %6.2fx %10s %10s\n", "softmax regression vs scikit-learn", x, $3, $3 / x, $4, $5 }'
for net in mlp lenet; do
	model="--model mlp --hidden 512,256"
	[ "$net" = lenet ] && model="--model $top/pipelines/arch/lenet5.json --lr 0.002"
	# shellcheck disable=SC2086
	xfer-train -j "$threads" $model --epochs "$epochs" --valid "$work/test.xs" "$work/train.xs" -o "$work/$net.xs" 2>"$work/$net.log"
	xsecs=$(awk '/^xfer-train: epoch/ { for (i = 1; i <= NF; i++) if ($i == "s") t += $(i - 1) } END { print t }' "$work/$net.log")
	xacc=$(awk '/^xfer-train: epoch/ { for (i = 1; i <= NF; i++) if ($i == "accuracy") a = $(i + 1) } END { print a }' "$work/$net.log" | tr -d ',')
	# torch parallelises with its own threads; OpenBLAS's on top of them oversubscribe the cores
	# (35x slower steps here), so it gets one.
	set -- $(OPENBLAS_NUM_THREADS=1 "$PY" "$work/peers.py" "$net" "$work" "$epochs" "$threads")
	echo "$net $xsecs $epochs $1 $xacc $2" | awk '{ x = $2 / $3; printf "%-34s %10.2f %10.2f %6.2fx %10s %10s\n", $1 " epoch vs PyTorch", x, $4, $4 / x, $5, $6 }'
done
