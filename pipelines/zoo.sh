#!/bin/sh
# zoo.sh - the model-zoo experiment: does a transferability score pick the source model that
# transfers best? On a digits stream (rows before -n train, the rest test):
#   1. split: the SOURCE digits' training rows; K labelled training rows per TARGET digit; the
#      TARGET digits' test rows (labels 0.. in increasing digit order), through PGM folders;
#   2. train the zoo of source models (ZOO file) on the source rows (xfer-train);
#   3. embed the labelled target rows and the target test rows with each candidate: a layer of
#      a source model, with its probabilities over the source classes (xfer-embed --layer
#      --probs), or a baseline: the pixels, their PCA (xfer-project --method pca);
#   4. score every candidate with every metric on the labelled rows (xfer-score -m all);
#   5. measure the truth: a linear probe (softmax head on the labelled rows' features, accuracy
#      on the test rows) per candidate, and fine-tuning of each source model on the labelled
#      rows (xfer-train --init --new-head, accuracy on the test rows);
#   6. print the ranking table, each metric's Kendall tau-b against each truth, and the
#      candidate that the chosen metric (-c) puts first.
# usage: pipelines/zoo.sh [-k K] [-s SEED] [-z ZOO] [-d DATA] [-n NTRAIN] [-c METRIC]
#                         [-e EPOCHS] [-j THREADS] [-q] SOURCE TARGET OUTDIR
#   SOURCE, TARGET  digits: 0-4, 5-9, 0,2,4,6,8 (no digit in both)
#   -k K        labelled target rows per class (default 20)
#   -s SEED     which K rows: the SEED-th K of each digit in row order (default 0)
#   -z ZOO      the candidates (default pipelines/zoo/digits.zoo, which explains the format)
#   -d DATA     the digits: x [28, 28] or [1, 28, 28] uint8, y (default data/mnist10k.xs.zst)
#   -n NTRAIN   rows before NTRAIN are training rows, the rest test rows (default 8000)
#   -c METRIC   the metric that chooses the model (default logme_exact: the one whose first
#               choice was the best candidate in every task of tests/bench/zoo.sh)
#   -e EPOCHS   fine-tuning epochs; 0 measures no fine-tuning (default 30)
#   -j THREADS  threads of each program (default 2); -q: only the table
# Environment: XFER_BIN, the directory holding the programs (default: bin/ of this checkout).
# OUTDIR keeps every stream (inspect them with xfer-cat --info): data/{source,few,test}.xs,
# models/MODEL.xs (source models), models/NAME.probe.xs, models/MODEL.tuned.xs,
# few/NAME.xs and test/NAME.xs (each candidate's features: x, and probs from a source model),
# scores.tsv (xfer-score), truth.tsv, table.tsv (both and every metric per candidate),
# tau.tsv (per metric), report.txt (the printed table).
# Example: pipelines/zoo.sh -k 50 0,2,4,6,8 1,3,5,7,9 /tmp/zoo-even-odd
set -eu
usage() {
	echo "usage: pipelines/zoo.sh [-k K] [-s SEED] [-z ZOO] [-d DATA] [-n NTRAIN] [-c METRIC]" >&2
	echo "                        [-e EPOCHS] [-j THREADS] [-q] SOURCE TARGET OUTDIR" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
k=20 seed=0 zoo=$here/zoo/digits.zoo data=$top/data/mnist10k.xs.zst ntrain=8000
choose=logme_exact
epochs=30 threads=2 quiet=0
while getopts k:s:z:d:n:c:e:j:qh opt; do
	case $opt in
	k) k=$OPTARG ;; s) seed=$OPTARG ;; z) zoo=$OPTARG ;; d) data=$OPTARG ;; n) ntrain=$OPTARG ;;
	c) choose=$OPTARG ;; e) epochs=$OPTARG ;; j) threads=$OPTARG ;; q) quiet=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 3 ] || usage
for v in "$k" "$seed" "$ntrain" "$epochs" "$threads"; do
	case $v in '' | *[!0-9]*) echo "zoo.sh: not a count: '$v'" >&2; usage ;; esac
done
if [ "$k" -lt 2 ] || [ "$threads" -lt 1 ]; then echo "zoo.sh: -k needs 2 or more, -j 1 or more" >&2; usage; fi
[ -r "$zoo" ] || { echo "zoo.sh: cannot read the zoo '$zoo'" >&2; exit 2; }
[ -r "$data" ] || { echo "zoo.sh: cannot read the data '$data'" >&2; exit 2; }

# "0-4" or "0,2,4" to "0 1 2 3 4" / "0 2 4"
digits() {
	echo "$1" | awk -F, '{ for (i = 1; i <= NF; i++) {
		if ($i ~ /^[0-9]$/) s = s " " $i
		else if ($i ~ /^[0-9]-[0-9]$/ && substr($i, 1, 1) + 0 <= substr($i, 3, 1) + 0)
			for (d = substr($i, 1, 1) + 0; d <= substr($i, 3, 1) + 0; d++) s = s " " d
		else exit 1 } print substr(s, 2) }'
}
src=$(digits "$1") || src=
tgt=$(digits "$2") || tgt=
[ -n "$src" ] || { echo "zoo.sh: bad SOURCE digits '$1'" >&2; usage; }
[ -n "$tgt" ] || { echo "zoo.sh: bad TARGET digits '$2'" >&2; usage; }
for d in $src; do
	case " $tgt " in *" $d "*) echo "zoo.sh: digit $d is in SOURCE and TARGET" >&2; usage ;; esac
done
out=$3
PATH=${XFER_BIN:-$top/bin}:$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-zoo.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$out/data" "$out/models" "$out/few" "$out/test"
rm -f "$out"/few/*.xs "$out"/test/*.xs "$out"/models/*.xs
say() { [ "$quiet" = 1 ] || echo "$@"; }
stage() { say; say "== $*"; }
rows() { xfer-cat --info "$1" | awk '/^segment/ { n += $4 } END { print n + 0 }'; }
# accuracy PREDICTIONS: the fraction of rows whose argmax of probs is y
accuracy() { xfer-score -q -m accuracy --probs probs --format tsv | awk -F'\t' 'NR == 2 { printf "%.4f", $3 }'; }
t0=$(date +%s)

stage "1. data: source digits $src, target digits $tgt ($k labelled rows per digit, set $seed)"
xfer-cat --to csv "$data" |
	awk -F, -f "$here/zoo/split.awk" -v src="$src" -v tgt="$tgt" -v k="$k" -v seed="$seed" \
		-v ntrain="$ntrain" -v dir="$work/img"
for s in source few test; do
	xfer-pack -q --gray "$work/img/$s" -o "$out/data/$s.xs"
done
rm -rf "$work/img"
n_few=$(rows "$out/data/few.xs")
say "source rows $(rows "$out/data/source.xs"), labelled target rows $n_few," \
	"target test rows $(rows "$out/data/test.xs") (in $out/data/)"

# The zoo without comments, @ turned into this directory; one candidate a line.
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e "s|@|$here/|g" "$zoo" >"$work/zoo"
[ -s "$work/zoo" ] || { echo "zoo.sh: no candidates in '$zoo'" >&2; exit 2; }
set -f # the training options are split into words, never globbed

stage "2. source models: xfer-train on the source digits"
: >"$work/models"
while read -r name model layer args <&3; do
	[ "$model" = - ] && continue
	grep -qx "$model" "$work/models" && continue
	[ -n "$args" ] || { echo "zoo.sh: $zoo: the first line of model $model needs xfer-train options" >&2; exit 2; }
	s0=$(date +%s)
	# shellcheck disable=SC2086
	xfer-train -j "$threads" --seed 0 $args "$out/data/source.xs" -o "$out/models/$model.xs" 2>"$work/log" ||
		{ cat "$work/log" >&2; exit 1; }
	echo "$model" >>"$work/models"
	say "$(printf '%-18s %-62s train accuracy %s, %ss' "$model" "$args" \
		"$(sed -n 's/.*train accuracy //p' "$work/log")" $(($(date +%s) - s0)) | sed "s|$here/||")"
done 3<"$work/zoo"

stage "3. features of the labelled and the test target rows: xfer-embed, xfer-project"
pixels() { # the pixels scaled to [0, 1], flattened: the input node of a softmax head
	if [ ! -f "$work/pixels.xs" ]; then
		xfer-train -q -j "$threads" --max-iter 1 "$out/data/few.xs" -o "$work/pixels.xs"
		for s in few test; do
			xfer-embed -q -j "$threads" -m "$work/pixels.xs" --layer flatten "$out/data/$s.xs" -o "$work/pixels-$s.xs"
		done
	fi
}
while read -r name model layer args <&3; do
	case $model:$layer in
	-:pixels)
		pixels
		cp "$work/pixels-few.xs" "$out/few/$name.xs"
		cp "$work/pixels-test.xs" "$out/test/$name.xs"
		what="the pixels" ;;
	-:pca:[1-9]*)
		pixels
		cat "$work/pixels-few.xs" "$work/pixels-test.xs" |
			xfer-project -q -j "$threads" --method pca --dim "${layer#pca:}" -o "$work/pca.xs"
		xfer-cat --rows ":$n_few" "$work/pca.xs" -o "$out/few/$name.xs"
		xfer-cat --rows "$n_few:" "$work/pca.xs" -o "$out/test/$name.xs"
		what="PCA of the target images to ${layer#pca:} dimensions" ;;
	-:*)
		echo "zoo.sh: $zoo: candidate $name: a baseline is pixels or pca:D, not '$layer'" >&2; exit 2 ;;
	*)
		for s in few test; do
			xfer-embed -q -j "$threads" -m "$out/models/$model.xs" --layer "$layer" --probs "$out/data/$s.xs" \
				-o "$out/$s/$name.xs"
		done
		what="$model, node $layer" ;;
	esac
	say "$(printf '%-18s %-40s %s' "$name" "$what" "$(xfer-cat --info "$out/few/$name.xs" |
		awk '$1 == "x" { print "features " $3 }')")"
done 3<"$work/zoo"

stage "4. scores of every candidate on the $n_few labelled rows: xfer-score -m all"
# shellcheck disable=SC2046 # candidate names are words; the file names are their names
(cd "$out/few" && xfer-score -j "$threads" -m all --probs probs --format tsv $(awk '{ print $1 ".xs" }' "$work/zoo") \
	-o ../scores.tsv) 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
say "$(awk -F'\t' 'NR > 1 && $1 !~ /[+]/ { n[$2]++; v++ } END { for (m in n) k++; print k " metrics, " v " values" }' \
	"$out/scores.tsv") in $out/scores.tsv"

stage "5. truth: a softmax probe on each candidate's labelled rows, fine-tuning of each source model ($epochs epochs)"
printf 'candidate\tprobe\tfinetune\n' >"$out/truth.tsv"
: >"$work/tuned"
while read -r name model layer args <&3; do
	xfer-train -q -j "$threads" "$out/few/$name.xs" -o "$out/models/$name.probe.xs"
	probe=$(xfer-cat --fields x,y "$out/test/$name.xs" |
		xfer-embed -q -j "$threads" -m "$out/models/$name.probe.xs" --probs |
		accuracy)
	tuned=-
	if [ "$model" != - ] && [ "$epochs" -gt 0 ]; then
		if ! grep -q "^$model " "$work/tuned"; then
			xfer-train -q -j "$threads" --init "$out/models/$model.xs" --new-head --epochs "$epochs" --batch 16 --lr 5e-4 \
				"$out/data/few.xs" -o "$out/models/$model.tuned.xs"
			echo "$model $(xfer-embed -q -j "$threads" -m "$out/models/$model.tuned.xs" --probs "$out/data/test.xs" |
				accuracy)" >>"$work/tuned"
		fi
		tuned=$(awk -v m="$model" '$1 == m { print $2 }' "$work/tuned")
	fi
	printf '%s\t%s\t%s\n' "$name" "$probe" "$tuned" >>"$out/truth.tsv"
	say "$(printf '%-18s probe %s  fine-tuned %s' "$name" "$probe" "$tuned")"
done 3<"$work/zoo"

stage "6. ranking: every metric against the truth (Kendall tau-b over the candidates)"
awk -F'\t' -f "$here/zoo/kendall.awk" -f "$here/zoo/report.awk" -v choose="$choose" \
	-v table="$out/table.tsv" -v taus="$out/tau.tsv" "$out/truth.tsv" "$out/scores.tsv" >"$out/report.txt"
cat "$out/report.txt"
say "zoo: $(($(date +%s) - t0)) s; streams, models and tables in $out/"
