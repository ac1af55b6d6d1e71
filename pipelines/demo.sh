#!/bin/sh
# demo.sh - the main job on the bundled MNIST digits, with the programs that exist so far:
# inspect the data, split it into train and test, shard the training rows as a Slurm job
# array would and put the shards back together, round-trip the test rows through NumPy, and
# score the raw pixels' transferability with every metric that applies, and draw the t-SNE
# map of the digits.
#
# usage: pipelines/demo.sh [DATA.xs] [OUTDIR]
#   DATA.xs  an xfer stream (default: data/mnist10k.xs.zst)
#   OUTDIR   where results go (default: demo-out)
# Environment: XFER_BIN, the directory holding the programs (default: bin/ of this checkout).
# Example: pipelines/demo.sh data/mnist10k.xs.zst /tmp/demo
set -eu
usage() { echo "usage: pipelines/demo.sh [DATA.xs] [OUTDIR]" >&2; exit 2; }
[ $# -le 2 ] || usage
top=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$top/data/mnist10k.xs.zst}
out=${2:-demo-out}
PATH=${XFER_BIN:-$top/bin}:$PATH
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== the data"
xfer-cat --info "$data"

echo "== train (rows 0-7999) and test (rows 8000-9999)"
xfer-cat --rows 0:8000 "$data" -o "$out/train.xs.zst"
xfer-cat --rows 8000: "$data" -o "$out/test.xs.zst"

echo "== 4 shards of the training rows, as a job array would make them, put back together"
for i in 0 1 2 3; do
	xfer-cat --shard "$i/4" "$out/train.xs.zst" -o "$work/part-$i.xs"
done
cat "$work"/part-*.xs |
	xfer-cat --check
cat "$work"/part-*.xs |
	xfer-cat --to csv >"$work/joined.csv"
xfer-cat --to csv "$out/train.xs.zst" >"$work/train.csv"
cmp -s "$work/joined.csv" "$work/train.csv" || { echo "demo: shards do not add up to the training rows" >&2; exit 1; }
echo "8000 rows in 4 shards, joined again: identical"

echo "== test rows out to NumPy and back in"
xfer-cat --to npz "$out/test.xs.zst" -o "$out/test.npz"
xfer-pack "$out/test.npz" -o "$work/test-again.xs"
xfer-cat --to csv "$work/test-again.xs" >"$work/a.csv"
xfer-cat --to csv "$out/test.xs.zst" >"$work/b.csv"
cmp -s "$work/a.csv" "$work/b.csv" || { echo "demo: the npz round trip changed the data" >&2; exit 1; }
echo "2000 rows through test.npz and back: identical"

echo "== how well do raw pixels transfer to the digit labels? (every metric that applies)"
xfer-score --format text "$out/train.xs.zst" |
	tee "$out/scores.txt"

echo "== a t-SNE map of all 10,000 digits (PCA to 50 dimensions first), drawn to tsne.png"
xfer-project --plot "$out/tsne.png" --title "t-SNE of 10,000 MNIST digits (raw pixels)" "$data" \
	-o "$out/tsne.xs.zst"
xfer-cat --info "$out/tsne.xs.zst" | grep -E '^ +(x|y) '

echo "== first test digit, as text"
xfer-cat --head 1 --fields y --to jsonl "$out/test.xs.zst"
xfer-cat --head 1 --fields x --to jsonl "$out/test.xs.zst" |
	tr -d '{}"x:[' | tr ']' '\n' | sed '/^$/d' |
	awk -F, '{ s = ""; for (i = 1; i <= NF; i++) s = s ($i > 127 ? "#" : $i > 31 ? "+" : " "); print s }'
echo "demo: results in $out/"
