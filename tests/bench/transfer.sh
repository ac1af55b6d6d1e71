#!/bin/sh
# Real transfer on the bundled digits: a LeNet-5 (pipelines/arch/lenet5.json) trained by
# xfer-train on digits 0-4 (the first 8,000 digits' 0-4), run by xfer-embed on digits 5-9;
# a softmax head (--l2 1e-3) on its convolutional features (flatten, 400) and on its fc2
# features (84) against the same head on raw pixels (784), with
# 10 and 100 labelled target digits per class (drawn from the first 8,000), tested on the
# 5-9 digits among the last 2,000; and fine-tuning the whole network from the source model
# (--init, --new-head) with the same labels. Prints test accuracies.
# usage: tests/bench/transfer.sh [EPOCHS]   (source training epochs, default 5)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
epochs=${1:-5}
case $epochs in *[!0-9]*|'') echo "usage: $0 [EPOCHS]" >&2; exit 2 ;; esac
PATH=$top/bin:$PATH
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
make -s -C "$top" >/dev/null

"$PY" - "$top/data/mnist10k.xs.zst" "$work" <<'PY'
import sys, subprocess, numpy as np, msgpack, msgpack_numpy as m
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=True).stdout
b = [f for f in msgpack.Unpacker(__import__("io").BytesIO(raw), object_hook=m.decode, raw=False) if f["t"] == "batch"]
x = np.concatenate([f["cols"]["x"] for f in b]); y = np.concatenate([f["cols"]["y"] for f in b]).astype(np.int64)
w = sys.argv[2]; rng = np.random.default_rng(0)
def save(name, idx, shift=0):
    np.save("%s/%s-x.npy" % (w, name), x[idx]); np.save("%s/%s-y.npy" % (w, name), y[idx] - shift)
train, test = np.arange(8000), np.arange(8000, 10000)
save("source", train[y[train] < 5])
save("test", test[y[test] >= 5], 5)
for k in (10, 100):
    pick = np.concatenate([rng.choice(train[y[train] == c], k, replace=False) for c in range(5, 10)])
    save("few%d" % k, pick, 5)
PY
for s in source test few10 few100; do
	xfer-pack x="$work/$s-x.npy" y="$work/$s-y.npy" -o "$work/$s.xs"
done
xfer-train -q --model "$top/pipelines/arch/lenet5.json" --epochs "$epochs" --lr 0.002 "$work/source.xs" -o "$work/source-model.xs"
acc() { # MODEL TEST [EMBED-ARGS...]: accuracy of a classifier on TEST
	model=$1 test=$2; shift 2
	xfer-embed "$@" -m "$model" --logits "$test" | "$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
print("%.4f" % (np.concatenate([f["cols"]["logits"] for f in b]).argmax(1) == np.concatenate([f["cols"]["y"] for f in b])).mean())'
}
printf 'transfer: LeNet-5 trained on digits 0-4 (%s epochs), target digits 5-9, %s test digits\n' "$epochs" \
	"$(xfer-cat --info "$work/test.xs" | awk '/^segment/ {print $4}')"
printf '%-10s %12s %14s %14s %14s\n' labels "raw pixels" "conv features" "fc2 features" "fine-tuned"
for k in 10 100; do
	xfer-train -q --l2 1e-3 "$work/few$k.xs" -o "$work/raw-head.xs"
	raw=$(acc "$work/raw-head.xs" "$work/test.xs")
	for layer in flatten fc2; do
		xfer-embed -m "$work/source-model.xs" --layer $layer "$work/few$k.xs" -o "$work/few$k-f.xs"
		xfer-embed -m "$work/source-model.xs" --layer $layer "$work/test.xs" -o "$work/test-f.xs"
		xfer-train -q --l2 1e-3 "$work/few$k-f.xs" -o "$work/feat-head.xs"
		eval "acc_$layer=\$(acc "$work/feat-head.xs" "$work/test-f.xs")"
	done
	xfer-train -q --init "$work/source-model.xs" --new-head --epochs 30 --batch 16 --lr 5e-4 "$work/few$k.xs" \
		-o "$work/tuned.xs"
	tuned=$(acc "$work/tuned.xs" "$work/test.xs")
	printf '%-10s %12s %14s %14s %14s\n' "$k/class" "$raw" "$acc_flatten" "$acc_fc2" "$tuned"
done
