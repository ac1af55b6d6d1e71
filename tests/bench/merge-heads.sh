#!/bin/sh
# Merging models trained on different digit subsets (the bundled digits: the first 8,000 for
# training, the last 2,000 for testing on all ten digits, the union of the subsets).
# Parent A sees only digits 0-4, parent B only 5-9, both with a ten-way output (--classes 10).
# The base is the same kind of model trained on 20 digits per class of all ten (a weak
# "pre-trained" model); for the MLPs the parents are fine-tuned from it (--init), as model
# merging assumes, while the L-BFGS heads are convex fits that do not depend on their start.
# Compared: each parent, the merges (xfer-merge), prediction fusion of the two parents
# (xfer-merge --fuse), and a model trained on the union (the upper bound).
# usage: tests/bench/merge-heads.sh [EPOCHS]   (MLP fine-tuning epochs, default 3)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
epochs=${1:-3}
case $epochs in *[!0-9]*|'') echo "usage: $0 [EPOCHS]" >&2; exit 2 ;; esac
PATH=$top/bin:$PATH
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
make -s -C "$top" >/dev/null

"$PY" - "$top/data/mnist10k.xs.zst" "$work" <<'PY'
import sys, subprocess, io, numpy as np, msgpack, msgpack_numpy as m
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=True).stdout
b = [f for f in msgpack.Unpacker(io.BytesIO(raw), object_hook=m.decode, raw=False) if f["t"] == "batch"]
x = np.concatenate([f["cols"]["x"] for f in b]); y = np.concatenate([f["cols"]["y"] for f in b]).astype(np.int64)
w = sys.argv[2]; rng = np.random.default_rng(0)
train, test = np.arange(8000), np.arange(8000, 10000)
few = np.concatenate([rng.choice(train[y[train] == c], 20, replace=False) for c in range(10)])
for name, idx in (("a", train[y[train] < 5]), ("b", train[y[train] >= 5]), ("base", few), ("union", train),
                  ("test", test)):
    np.save("%s/%s-x.npy" % (w, name), x[idx]); np.save("%s/%s-y.npy" % (w, name), y[idx])
PY
for s in a b base union test; do
	xfer-pack x="$work/$s-x.npy" y="$work/$s-y.npy" -o "$work/$s.xs"
done
acc() { # PREDICTIONS (a stream with logits or probs, and y): accuracy
	"$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
k = "logits" if "logits" in b[0]["cols"] else "probs"
print("%.4f" % (np.concatenate([f["cols"][k] for f in b]).argmax(1) == np.concatenate([f["cols"]["y"] for f in b])).mean())'
}
model_acc() { xfer-embed -m "$1" --logits "$work/test.xs" | acc; }
row() { printf '  %-34s %s\n' "$1" "$2"; }

# One family: $1 names it; $2 the options that train the base, $3 those that train each parent
# and the union model (with "--init BASE" for fine-tuning from the base).
family() {
	name=$1 base_opts=$2 opts=$3
	# shellcheck disable=SC2086 # the options are word lists
	xfer-train -q --classes 10 $base_opts "$work/base.xs" -o "$work/base-$name.xs"
	for s in a b union; do
		# shellcheck disable=SC2086
		xfer-train -q --classes 10 $(echo "$opts" | sed "s|BASE|$work/base-$name.xs|") "$work/$s.xs" \
			-o "$work/$s-$name.xs"
		xfer-embed -m "$work/$s-$name.xs" --probs "$work/test.xs" -o "$work/$s-$name-p.xs"
	done
	echo "$name (test: all ten digits, 2,000 rows)"
	row "base (20 digits per class)" "$(model_acc "$work/base-$name.xs")"
	row "parent A (digits 0-4)" "$(model_acc "$work/a-$name.xs")"
	row "parent B (digits 5-9)" "$(model_acc "$work/b-$name.xs")"
	m() { label=$1; shift; xfer-merge -q "$@" -o "$work/m.xs"; row "$label" "$(model_acc "$work/m.xs")"; }
	ab="$work/a-$name.xs $work/b-$name.xs"
	m "merge: linear (average)" --method linear $ab
	m "merge: task arithmetic, lambda 1" --method task-arithmetic --base "$work/base-$name.xs" $ab
	m "merge: task arithmetic, lambda 0.5" --method task-arithmetic --lambda 0.5 --base "$work/base-$name.xs" $ab
	m "merge: ties, density 0.2" --method ties --base "$work/base-$name.xs" $ab
	m "merge: ties, density 0.5" --method ties --density 0.5 --base "$work/base-$name.xs" $ab
	m "merge: dare --elect, density 0.5" --method dare --elect --seed 1 --base "$work/base-$name.xs" $ab
	for f in mean logit-mean dynamic; do
		row "fusion of the parents: $f" "$(xfer-merge -q --fuse $f "$work/a-$name-p.xs" "$work/b-$name-p.xs" | acc)"
	done
	row "trained on the union (upper bound)" "$(model_acc "$work/union-$name.xs")"
}
family softmax "--model softmax --l2 1e-3" "--model softmax --l2 1e-3"
family mlp "--model mlp --hidden 256 --epochs 20 --seed 1" "--init BASE --epochs $epochs --lr 1e-4 --seed 1"
