#!/bin/sh
# Do the transferability scores rank source models as transfer does? The model-zoo experiment
# of pipelines/zoo.sh (the zoo of pipelines/zoo/digits.zoo trained on the source digits, every
# xfer-score metric on K labelled rows per target digit, the truth measured by a linear probe
# and by fine-tuning) over several target tasks on the bundled digits: source 0-4 -> target
# 5-9, 5-9 -> 0-4, even -> odd, each with K labels per digit for every K in -k, and each
# labelled set -s (the SEED-th K rows of each digit). Prints Kendall's tau-b of each metric
# against each truth per task (the mean over the labelled sets), as the transferability papers
# report it, with the mean over the tasks, and
# the probe accuracy of each metric's top-1 choice relative to the best candidate's.
# usage: tests/bench/zoo.sh [-k "10 50"] [-s "0"] [-z ZOO] [-j THREADS]
# KEEP=1 keeps every run's directory (printed).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
budgets="10 50" seeds=0 zoo=$top/pipelines/zoo/digits.zoo threads=2
usage() { echo "usage: $0 [-k \"10 50\"] [-s \"0 1\"] [-z ZOO] [-j THREADS]" >&2; exit 2; }
while getopts k:s:z:j:h opt; do
	case $opt in
	k) budgets=$OPTARG ;; s) seeds=$OPTARG ;; z) zoo=$OPTARG ;; j) threads=$OPTARG ;; *) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
[ -n "${XFER_BIN:-}" ] || make -s -C "$top" >/dev/null   # XFER_BIN: use those programs as they are

t0=$(date +%s)
: >"$work/all.tsv"
for task in 0-4:5-9 5-9:0-4 0,2,4,6,8:1,3,5,7,9; do
	src=${task%%:*} tgt=${task#*:}
	case $task in 0,2*) name="even>odd" ;; *) name="$src>$tgt" ;; esac
	for k in $budgets; do
		for s in $seeds; do
			col="$name k$k"
			dir=$work/$(echo "$col s$s" | tr ' >' '_-')
			echo "zoo: $col, labelled set $s ($(($(date +%s) - t0)) s)" >&2
			"$top/pipelines/zoo.sh" -q -j "$threads" -z "$zoo" -k "$k" -s "$s" "$src" "$tgt" "$dir" >/dev/null
			# every metric's tau, and its top-1 choice's probe accuracy over the best one's
			awk -F'\t' -v col="$col" '
				FNR == 1 { f++; next }
				f == 1 { probe[$1] = $2; if ($2 > best) best = $2; next }
				f == 2 { if ($4 == 1 && ($1 in probe)) pick[$2] = probe[$1]; next }
				{ printf "%s\t%s\t%s\t%s\t%s\n", col, $1, $2, $4,
					($1 in pick) ? sprintf("%.3f", pick[$1] / best) : "nan" }' \
				"$dir/truth.tsv" "$dir/scores.tsv" "$dir/tau.tsv" >>"$work/all.tsv"
		done
	done
done

# One table per measure: a row per metric (first-seen order), a column per task (the mean over
# the labelled sets), and the mean over the columns.
table() { # FIELD TITLE
	echo
	echo "$2"
	awk -F'\t' -v f="$1" '
		!($1 in cseen) { cseen[$1] = 1; col[++nc] = $1 }
		!($2 in mseen) { mseen[$2] = 1; met[++nm] = $2 }
		$f != "nan" { v[$2, $1] += $f; n[$2, $1]++ }
		END {
			printf "%-17s", "metric"
			for (c = 1; c <= nc; c++) printf " %12s", col[c]
			printf " %8s\n", "mean"
			for (m = 1; m <= nm; m++) {
				printf "%-17s", met[m]; s = k = 0
				for (c = 1; c <= nc; c++) {
					if (!n[met[m], col[c]]) { printf " %12s", "-"; continue }
					x = v[met[m], col[c]] / n[met[m], col[c]]
					printf " %12.2f", x; s += x; k++
				}
				if (k) printf " %8.2f\n", s / k; else printf " %8s\n", "-"
			}
		}' "$work/all.tsv"
}
echo "zoo of $(grep -cv '^[[:space:]]*\(#\|$\)' "$zoo") candidates ($zoo), $(($(date +%s) - t0)) s"
table 3 "Kendall tau-b against the linear probe's test accuracy (all candidates):"
table 4 "Kendall tau-b against fine-tuning's test accuracy (source models only):"
table 5 "Probe accuracy of each metric's top-1 candidate over the best candidate's:"
[ -z "${KEEP:-}" ] || echo "runs kept in $work"
