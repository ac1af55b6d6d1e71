#!/bin/sh
# The DP4TL experiment on the bundled digits: source = digits 0-4 of the first 8,000, target =
# digits 5-9. A surrogate LeNet-5 trained on the whole source gives the target's predictions
# (label mapping) and the features of both (feature mapping: 50 k-means clusters of the source's
# flatten features; the coreset methods work on the same features). Each method prunes the
# source at 20%, 50% and 80% (lm and fm: of classes or clusters, as the paper; the others: of
# rows); a LeNet-5 is trained on each pruned set (EPOCHS epochs), its flatten features of the
# target are probed by a softmax head on 100 labelled target digits per class, tested on the
# target digits among the last 2,000. Prints the probe accuracy per method and pruning ratio,
# with the fraction of source rows kept (n/a: the pruned source has a single class, so no
# source model can be trained on it).
# usage: tests/bench/prune.sh [EPOCHS]   (default 3)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
epochs=${1:-3}
case $epochs in *[!0-9]*|'') echo "usage: $0 [EPOCHS]" >&2; exit 2 ;; esac
PATH=$top/bin:$PATH
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
make -s -C "$top" >/dev/null
# LeNet-5 with 5 outputs: label mapping needs predictions over exactly the source classes.
arch=$work/lenet5-5.json
"$PY" -c 'import json, sys; a = json.load(open(sys.argv[1])); a["tensors"]["fc3.weight"] = [5, 84]; a["tensors"]["fc3.bias"] = [5]
json.dump(a, open(sys.argv[2], "w"))' "$top/pipelines/arch/lenet5.json" "$arch"

"$PY" - "$top/data/mnist10k.xs.zst" "$work" <<'PY'
import io, sys, subprocess, numpy as np, msgpack, msgpack_numpy as m
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=True).stdout
b = [f for f in msgpack.Unpacker(io.BytesIO(raw), object_hook=m.decode, raw=False) if f["t"] == "batch"]
x = np.concatenate([f["cols"]["x"] for f in b]); y = np.concatenate([f["cols"]["y"] for f in b]).astype(np.int64)
w = sys.argv[2]; rng = np.random.default_rng(0)
def save(name, idx, shift=0):
    np.save("%s/%s-x.npy" % (w, name), x[idx]); np.save("%s/%s-y.npy" % (w, name), y[idx] - shift)
train, test = np.arange(8000), np.arange(8000, 10000)
save("source", train[y[train] < 5])
save("ttrain", np.concatenate([rng.choice(train[y[train] == c], 100, replace=False) for c in range(5, 10)]), 5)
save("ttest", test[y[test] >= 5], 5)
PY
for s in source ttrain ttest; do xfer-pack x="$work/$s-x.npy" y="$work/$s-y.npy" -o "$work/$s.xs"; done
xfer-train -q --model "$arch" --epochs "$epochs" --lr 0.002 "$work/source.xs" -o "$work/surrogate.xs"
xfer-embed -m "$work/surrogate.xs" --probs "$work/ttrain.xs" -o "$work/target-pred.xs"
xfer-embed -m "$work/surrogate.xs" --layer flatten "$work/ttrain.xs" -o "$work/target-feat.xs"
xfer-embed -m "$work/surrogate.xs" --layer flatten "$work/source.xs" -o "$work/source-feat.xs"

probe() { # MODEL: target probe accuracy of its flatten features
	xfer-embed -m "$1" --layer flatten "$work/ttrain.xs" -o "$work/pf.xs"
	xfer-embed -m "$1" --layer flatten "$work/ttest.xs" -o "$work/pt.xs"
	xfer-train -q --l2 1e-3 "$work/pf.xs" -o "$work/probe.xs"
	xfer-embed -m "$work/probe.xs" --logits "$work/pt.xs" | "$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
print("%.4f" % (np.concatenate([f["cols"]["logits"] for f in b]).argmax(1) == np.concatenate([f["cols"]["y"] for f in b])).mean())'
}

n=$(xfer-cat --info "$work/source.xs" | awk '/^segment/ {print $4}')
printf 'DP4TL on digits: source 0-4 (%s rows), target 5-9, LeNet-5 %s epochs, probe on 100 labels/class\n' "$n" "$epochs"
printf 'full source: probe accuracy %s\n' "$(probe "$work/surrogate.xs")"
printf '%-10s %16s %16s %16s\n' method "prune 20%" "prune 50%" "prune 80%"
for m in lm fm random kcenter herding moderate codebook semdedup; do
	line=$m
	for prune in 0.2 0.5 0.8; do
		keep=$(echo "$prune" | awk '{ printf "%g", 1 - $1 }')
		case $m in
		lm) args="--target $work/target-pred.xs" ;;
		fm) args="--clusters 50 --target $work/target-feat.xs --field x" ;;
		codebook|semdedup) args="--clusters 50" ;;
		*) args= ;;
		esac
		# The coreset methods choose on the surrogate's features; the rows kept are the images'.
		# shellcheck disable=SC2086
		xfer-prune -q --method "$m" --keep "$keep" --seed 1 --indices $args "$work/source-feat.xs" -o "$work/idx.xs"
		"$PY" - "$work" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
w = sys.argv[1]
idx = np.concatenate([f["cols"]["index"] for f in msgpack.Unpacker(open(w + "/idx.xs", "rb"), object_hook=m.decode, raw=False) if f["t"] == "batch"])
np.save(w + "/px.npy", np.load(w + "/source-x.npy")[idx]); np.save(w + "/py.npy", np.load(w + "/source-y.npy")[idx])
PY
		xfer-pack x="$work/px.npy" y="$work/py.npy" -o "$work/pruned.xs"
		kept=$(xfer-cat --info "$work/pruned.xs" | awk -v n="$n" '/^segment/ {printf "%.2f", $4 / n}')
		# lm and fm keep whole classes: at 80% of five classes one is left, and nothing to classify.
		if xfer-train -q --model "$arch" --epochs "$epochs" --lr 0.002 "$work/pruned.xs" -o "$work/pm.xs" 2>/dev/null; then
			line="$line $(probe "$work/pm.xs") ($kept)"
		else
			line="$line n/a ($kept)"
		fi
	done
	echo "$line" | awk '{ printf "%-10s %8s %7s %8s %7s %8s %7s\n", $1, $2, $3, $4, $5, $6, $7 }'
done
