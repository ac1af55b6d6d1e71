#!/bin/sh
# demo.sh - the main job (`make demo`) on the bundled MNIST digits: which of a zoo of source
# models, trained on digits 0-4, transfers best to digits 5-9 with 20 labels per digit?
#   1-6. pipelines/zoo.sh 0-4 5-9: train the zoo (MLPs and CNNs of several widths, depths and
#        training lengths) on the source digits, embed the target digits with each candidate
#        (and the raw-pixel and PCA baselines), score every candidate with every metric, measure
#        the truth (linear probe and fine-tuning), print the ranking table with each metric's
#        Kendall tau against the truth and the candidate chosen by the default metric;
#   7. prune the source for the target with the chosen model (DP4TL label mapping,
#      xfer-prune --method lm), retrain it on the pruned source and probe it again;
#   8. merge two heads on the chosen features, one trained on the source digits, one on the
#      labelled target digits, into one ten-digit classifier (xfer-merge), against prediction
#      fusion and a head trained on both;
#   9. draw the t-SNE map of the chosen features of the target test digits (xfer-project).
# Every intermediate stream stays in OUTDIR; inspect any of them with xfer-cat --info.
# usage: pipelines/demo.sh [-z ZOO] [-k K] [-d DATA] [-n NTRAIN] [-c METRIC] [-e EPOCHS] [-j N]
#                          [OUTDIR]
#   OUTDIR  where everything goes (default demo-out); the options are zoo.sh's (a smaller zoo,
#           other data); the source digits are 0-4, the target digits 5-9
# Environment: XFER_BIN, the directory holding the programs (default: bin/ of this checkout).
# Example: pipelines/demo.sh /tmp/demo
set -eu
usage() {
	echo "usage: pipelines/demo.sh [-z ZOO] [-k K] [-d DATA] [-n NTRAIN] [-c METRIC] [-e EPOCHS] [-j N] [OUTDIR]" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
zoo=$here/zoo/digits.zoo data=$top/data/mnist10k.xs.zst ntrain=8000 choose=logme_exact threads=2
zoo_args=
while getopts z:k:d:n:c:e:j:h opt; do
	case $opt in
	z) zoo=$OPTARG ;; d) data=$OPTARG ;; n) ntrain=$OPTARG ;; c) choose=$OPTARG ;; j) threads=$OPTARG ;;
	k | e) zoo_args="$zoo_args -$opt $OPTARG" ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
out=${1:-demo-out}
PATH=${XFER_BIN:-$top/bin}:$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$(date +%s)
rows() { xfer-cat --info "$1" | awk '/^segment/ { n += $4 } END { print n + 0 }'; }
accuracy() { xfer-score -q -m accuracy --probs probs --format tsv "$@" | awk -F'\t' 'NR == 2 { printf "%.4f", $3 }'; }

echo "== the data"
xfer-cat --info "$data" | sed -n '1,4p'

# shellcheck disable=SC2086
"$here/zoo.sh" -z "$zoo" -d "$data" -n "$ntrain" -c "$choose" -j "$threads" $zoo_args 0-4 5-9 "$out"

# The chosen candidate, or the first source model of the chosen metric's ranking when the
# chosen one is a baseline; its model, node and training options from the zoo.
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e "s|@|$here/|g" "$zoo" >"$work/zoo"
pick=$(awk -v m="$choose" 'NR == FNR { if ($2 != "-") model[$1] = $2; next }
	$2 == m && ($1 in model) && (best == "" || $4 + 0 < rank) { best = $1; rank = $4 + 0 }
	END { print best }' "$work/zoo" "$out/scores.tsv")
[ -n "$pick" ] || { echo "demo: no source model among the candidates" >&2; exit 1; }
model=$(awk -v c="$pick" '$1 == c { print $2 }' "$work/zoo")
layer=$(awk -v c="$pick" '$1 == c { print $3 }' "$work/zoo")
recipe=$(awk -v m="$model" '$2 == m && NF > 3 { $1 = $2 = $3 = ""; print; exit }' "$work/zoo")

echo
echo "== 7. prune the source for the target: DP4TL label mapping with $model (xfer-prune --method lm)"
mkdir -p "$out/prune"
xfer-prune -q -j "$threads" --method lm --keep 3 --target "$out/few/$pick.xs" "$out/data/source.xs" -o "$out/prune/source-lm.xs"
kept=$(xfer-cat --fields y --to csv "$out/prune/source-lm.xs" | awk 'NR > 1 { n[$1]++ } END { for (d in n) printf "%s ", d }' |
	tr ' ' '\n' | sort -n | tr '\n' ' ')
echo "the source digits that $model predicts most often for the labelled target digits: $kept"
echo "kept $(rows "$out/prune/source-lm.xs") of $(rows "$out/data/source.xs") source rows; $model retrained on them:"
set -f
# shellcheck disable=SC2086
xfer-train -q -j "$threads" --seed 0 $recipe "$out/prune/source-lm.xs" -o "$out/prune/model.xs"
set +f
for s in few test; do
	xfer-embed -q -j "$threads" -m "$out/prune/model.xs" --layer "$layer" "$out/data/$s.xs" -o "$out/prune/$s.xs"
done
xfer-train -q -j "$threads" "$out/prune/few.xs" -o "$out/prune/probe.xs"
printf '  probe accuracy on the target digits: %s pruned source, %s full source\n' \
	"$(xfer-embed -q -j "$threads" -m "$out/prune/probe.xs" --probs "$out/prune/test.xs" | accuracy)" \
	"$(awk -F'\t' -v c="$pick" '$1 == c { print $2 }' "$out/truth.tsv")"

echo
echo "== 8. merge two heads on $model's $layer features into one ten-digit classifier (xfer-merge)"
mkdir -p "$out/merge"
# Heads with ten outputs (--classes 10): A on the source digits 0-4 (labels 0-4), B on the
# labelled target digits 5-9 (their labels 0-4 back to 5-9, through CSV).
xfer-embed -q -j "$threads" -m "$out/models/$model.xs" --layer "$layer" "$out/data/source.xs" -o "$out/merge/source.xs"
xfer-cat --fields x,y --to csv "$out/few/$pick.xs" |
	awk -F, -v OFS=, 'NR > 1 { $NF += 5 } { print }' >"$work/few.csv"
xfer-pack -q "$work/few.csv" --label-column y -o "$out/merge/few.xs"
xfer-cat --rows "$ntrain:" "$data" |
	xfer-embed -q -j "$threads" -m "$out/models/$model.xs" --layer "$layer" -o "$out/merge/test.xs"
xfer-train -q -j "$threads" --classes 10 "$out/merge/source.xs" -o "$out/merge/head-a.xs"
xfer-train -q -j "$threads" --classes 10 "$out/merge/few.xs" -o "$out/merge/head-b.xs"
xfer-cat "$out/merge/source.xs" "$out/merge/few.xs" --fields x,y -o "$work/both.xs"
xfer-train -q -j "$threads" --classes 10 "$work/both.xs" -o "$out/merge/head-both.xs"
xfer-merge -q --method linear "$out/merge/head-a.xs" "$out/merge/head-b.xs" -o "$out/merge/head-merged.xs"
for h in a b merged both; do
	xfer-embed -q -j "$threads" -m "$out/merge/head-$h.xs" --probs "$out/merge/test.xs" -o "$out/merge/pred-$h.xs"
done
xfer-merge -q --fuse logit-mean "$out/merge/pred-a.xs" "$out/merge/pred-b.xs" -o "$out/merge/pred-fused.xs"
echo "accuracy on all $(rows "$out/merge/test.xs") test digits 0-9:"
printf '  %-52s %s\n' "head A (source digits 0-4, $(rows "$out/merge/source.xs") rows)" "$(accuracy "$out/merge/pred-a.xs")" \
	"head B (labelled target digits 5-9, $(rows "$out/merge/few.xs") rows)" "$(accuracy "$out/merge/pred-b.xs")" \
	"A and B merged (xfer-merge --method linear)" "$(accuracy "$out/merge/pred-merged.xs")" \
	"A and B fused (xfer-merge --fuse logit-mean)" "$(accuracy "$out/merge/pred-fused.xs")" \
	"one head trained on both (upper bound)" "$(accuracy "$out/merge/pred-both.xs")"
echo "(linear heads: averaging their weights averages their logits, so merge and fusion agree)"

echo
echo "== 9. t-SNE of $pick's features of the $(rows "$out/test/$pick.xs") target test digits (xfer-project)"
xfer-project -q -j "$threads" --plot "$out/tsne.png" --title "$pick features of the digits 5-9 (model trained on 0-4)" \
	"$out/test/$pick.xs" -o "$out/tsne.xs"
echo "drawn to $out/tsne.png"

echo
echo "== demo: $(($(date +%s) - t0)) s; every stage's streams are in $out/:"
echo "  data/        source.xs (digits 0-4), few.xs (labelled digits 5-9), test.xs (digits 5-9)"
echo "  models/      the source models, each candidate's probe (NAME.probe.xs), the fine-tuned models"
echo "  few/ test/   each candidate's features (x) and source-model probabilities (probs)"
echo "  scores.tsv truth.tsv table.tsv tau.tsv report.txt   the scores, the truth, the ranking"
echo "  prune/ merge/ tsne.xs tsne.png"
echo "for example: xfer-cat --info $out/few/$pick.xs; xfer-cat --head 5 --fields y,probs --to csv $out/few/$pick.xs"
echo "             column -t $out/tau.tsv; xfer-embed -m $out/models/$model.xs --list"
