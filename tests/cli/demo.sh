#!/bin/sh
# The main job's pipeline (pipelines/demo.sh over pipelines/zoo.sh) on a tiny configuration:
# 900 of the bundled digits, two one-epoch MLPs and the pixel and PCA baselines
# (pipelines/zoo/tiny.zoo), 10 labels per digit. Checks the ranking table and the taus, the
# kept streams, the split, the prune, merge and t-SNE stages, Kendall's tau-b on hand-checked
# rankings, the metric direction in the report, and misuse.
. "$(dirname "$0")/../lib.sh"
pl=$top/pipelines

# Kendall's tau-b (pipelines/zoo/kendall.awk) on rankings checked by hand: lines of x and y
# values, one case per blank-line-separated block.
cat >"$T/tau.awk" <<'EOF'
NF == 0 { if (n) print tau_b(n, x, y); n = 0; next }
{ n++; x[n] = $1; y[n] = $2 }
END { if (n) print tau_b(n, x, y) }
EOF
# same order: 1; reversed: -1; one adjacent swap among 5 (9 concordant, 1 discordant): 0.8;
# a tie in x among 4 (5 concordant, 1 tied pair): 5 / sqrt(5 * 6); constant x: undefined.
got=$(printf '%s\n' "1 10" "2 20" "3 30" "4 40" "" "1 4" "2 3" "3 2" "4 1" "" \
	"1 1" "2 2" "3 3" "5 4" "4 5" "" "1 1" "2 2" "2 3" "3 4" "" "7 1" "7 2" "7 3" |
	awk -f "$pl/zoo/kendall.awk" -f "$T/tau.awk" | awk '{ printf "%s ", ($1 == "nan" ? $1 : sprintf("%.6f", $1)) }')
same "kendall.awk: tau-b of hand-checked rankings, ties and a constant ranking" \
	"1.000000 -1.000000 0.800000 0.912871 nan " "$got"

# report.awk orients each metric by xfer-score's rank: a lower-is-better metric agreeing with
# the truth gets tau +1; candidates outside truth.tsv (ensembles) are left out.
printf 'candidate\tprobe\tfinetune\na\t0.9\t-\nb\t0.5\t0.4\nc\t0.7\t0.6\n' >"$T/truth.tsv"
printf 'candidate\tmetric\tvalue\trank\n%s\n' "a	up	3	1" "c	up	2	2" "b	up	1	3" \
	"a	down	0.1	1" "c	down	0.2	2" "b	down	0.3	3" "b	wrong	5	1" "c	wrong	4	2" "a	wrong	3	3" \
	"b+c	ens	1	1" >"$T/scores.tsv"
awk -F'\t' -f "$pl/zoo/kendall.awk" -f "$pl/zoo/report.awk" -v choose=down -v table="$T/table.tsv" \
	-v taus="$T/taus.tsv" "$T/truth.tsv" "$T/scores.tsv" >"$T/report.txt"
same "report.awk: tau vs probe and vs fine-tuning, lower is better found from the ranks" \
	"up 1 3 1 2 0|down 1 3 1 2 1|wrong -1 3 -1 2 0|" \
	"$(awk -F'\t' 'NR > 1 { printf "%s %g %s %g %s %s|", $1, $2, $3, $4, $5, $6 }' "$T/taus.tsv")"
same "report.awk: the table has a row per candidate and a column per metric" \
	"candidate probe finetune up down wrong|a 0.9 - 3 0.1 3|b 0.5 0.4 1 0.3 5|c 0.7 0.6 2 0.2 4|" \
	"$(tr '\t' ' ' <"$T/table.tsv" | tr '\n' '|')"
check "report.awk: the choice is the chosen metric's rank 1" grep -q '^chosen by down: a ' "$T/report.txt"

# The tiny main job: training rows 0-599, test rows 8000-8299 of the bundled digits.
xfer-cat --rows 0:600 "$top/data/mnist10k.xs.zst" -o "$T/a.xs"
xfer-cat --rows 8000:8300 "$top/data/mnist10k.xs.zst" -o "$T/b.xs"
cat "$T/a.xs" "$T/b.xs" >"$T/digits.xs"
out=$T/out
check "demo.sh runs the tiny zoo end to end" \
	"$pl/demo.sh" -z "$pl/zoo/tiny.zoo" -k 10 -e 1 -d "$T/digits.xs" -n 600 -j 1 "$out"
cp "$T/check.out" "$T/demo.out"

zoo_names=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$pl/zoo/tiny.zoo" | awk '{ printf "%s ", $1 }')
same "table.tsv: one row per candidate, in the zoo's order" "$zoo_names" \
	"$(awk -F'\t' 'NR > 1 { printf "%s ", $1 }' "$out/table.tsv")"
same "every metric of scores.tsv has a tau row and a table column" \
	"$(awk -F'\t' 'NR > 1 && $1 !~ /[+]/ && !s[$2]++ { printf "%s ", $2 }' "$out/scores.tsv")" \
	"$(awk -F'\t' 'NR > 1 { printf "%s ", $1 }' "$out/tau.tsv")"
same "-m all: 12 feature metrics score the 4 candidates, 4 probability metrics the 2 source models" \
	"4:12 2:4 " "$(awk -F'\t' 'NR > 1 && $1 !~ /[+]/ { n[$2]++ }
		END { for (m in n) k[n[m]]++; for (c = 4; c > 0; c--) if (k[c]) printf "%d:%d ", c, k[c] }' "$out/scores.tsv")"
check "every tau is in [-1, 1] or undefined, over 2 to 4 candidates" \
	awk -F'\t' 'NR > 1 { for (i = 2; i <= 4; i += 2) if ($i != "nan" && ($i < -1 || $i > 1)) exit 1
		if ($3 < 2 || $3 > 4 || $5 > 2) exit 1; n++ } END { exit !(n >= 14) }' "$out/tau.tsv"
check "the printed table: a row per candidate, the two tau rows, the choice" \
	awk -v names="$zoo_names" 'BEGIN { k = split(names, c, " ") }
		{ for (i = 1; i <= k; i++) if ($1 == c[i]) seen[i]++ }
		/^tau vs probe / { tp++ } /^tau vs finetune / { tf++ } /^chosen by logme_exact: / { ch++ }
		END { for (i = 1; i <= k; i++) if (seen[i] != 1) exit 1; exit !(tp == 1 && tf == 1 && ch == 1) }' \
	"$out/report.txt"
check "truth.tsv: probe accuracies in [0, 1]; fine-tuning for the source models only" \
	awk -F'\t' 'NR > 1 { if ($2 < 0 || $2 > 1 || $2 == "") exit 1
		if (($1 ~ /^(pixels|pca2)$/) != ($3 == "-")) exit 1; if ($3 != "-" && ($3 < 0 || $3 > 1)) exit 1 }' \
	"$out/truth.tsv"

# The split: 10 labelled rows per target digit, labels 0-4, the pixels of the rows they came from.
same "data/few.xs: 10 rows of each target digit, labelled 0-4" "0:10 1:10 2:10 3:10 4:10 " \
	"$(xfer-cat --fields y --to csv "$out/data/few.xs" | awk 'NR > 1 { n[$1]++ } END { for (c = 0; c < 5; c++) printf "%d:%d ", c, n[c] }')"
id=$(xfer-cat --head 1 --fields id --to csv "$out/data/few.xs" | sed -n 2p)
r=$(echo "$id" | sed 's|.*/0*\([0-9]\)|\1|; s|\.pgm$||')
same "data/few.xs: row 0 ($id) holds the pixels of digits row $r" \
	"$(xfer-cat --rows "$r:$((r + 1))" --fields x --to csv "$T/digits.xs" | sed -n 2p)" \
	"$(xfer-cat --head 1 --fields x --to csv "$out/data/few.xs" | sed -n 2p)"
same "data/source.xs holds the source digits' training rows" \
	"$(xfer-cat --to csv --fields y "$T/a.xs" | awk 'NR > 1 && $1 < 5' | wc -l)" "$(xfer-cat --info "$out/data/source.xs" | awk '/^segment/ { print $4 }')"

find "$out" -name '*.xs' >"$T/streams"
bad=0
while read -r f; do
	xfer-cat --check "$f" 2>>"$T/check-all.err" || { bad=$((bad + 1)); echo "#   $f" >>"$T/check-all.err"; }
done <"$T/streams"
if [ "$bad" -eq 0 ] && [ "$(wc -l <"$T/streams")" -ge 30 ]; then
	pass "every kept stream passes xfer-cat --check"
else
	fail "every kept stream passes xfer-cat --check ($bad bad)"; head -n 10 "$T/check-all.err"
fi
check "the probe and feature streams are where the demo says" \
	test -s "$out/models/mlp16.probe.xs" -a -s "$out/few/pca2.xs" -a -s "$out/test/mlp32x16.xs" \
	-a -s "$out/prune/source-lm.xs" -a -s "$out/merge/head-merged.xs" -a -s "$out/tsne.xs"
same "tsne.png is a PNG" "89504e47" "$(od -An -tx1 -N4 "$out/tsne.png" | tr -d ' \n')"
xfer-cat --fields y --to csv "$out/prune/source-lm.xs" >"$T/kept.csv"
check "the prune stage keeps 3 of the 5 source digits" awk 'NR > 1 && !s[$1]++ { n++ } END { exit n != 3 }' "$T/kept.csv"
check "the merge stage reports five accuracies in [0, 1]" \
	awk '/^  (head|A and B|one head)/ { v = $NF; if (v < 0 || v > 1) exit 1; n++ } END { exit n != 5 }' "$T/demo.out"

expect_fail 2 "zoo.sh: bad digits" "$pl/zoo.sh" 0-4 5-x "$T/z"
expect_fail 2 "zoo.sh: a digit in source and target" "$pl/zoo.sh" 0-5 5-9 "$T/z"
expect_fail 2 "zoo.sh: a missing OUTDIR" "$pl/zoo.sh" 0-4 5-9
expect_fail 2 "demo.sh: a bad option" "$pl/demo.sh" -x
expect_fail 1 "zoo.sh: too few labelled rows in the data" \
	"$pl/zoo.sh" -q -z "$pl/zoo/tiny.zoo" -k 500 -d "$T/digits.xs" -n 600 0-4 5-9 "$T/z"
stderr_has "zoo.sh: the message names the missing rows" "*lacks*500 labelled rows of digit 5*"
finish
