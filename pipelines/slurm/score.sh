#!/bin/sh
# score.sh - score candidate models on a large labelled input with a Slurm job array: task I
# of N embeds shard I of the rows with every model and keeps xfer-score --partial statistics
# (score-shard.sbatch); a job that starts when every task has succeeded
# (--dependency=afterok) reduces them to the final table (score-reduce.sbatch). The result is
# the one-machine `xfer-embed ... | xfer-score` on the whole input for the metrics that
# --reduce combines (logme with more rows than features, logme_exact, hscore, gbc,
# gbc_spherical, nce, accuracy, nll), to round-off (docs/metrics.md), provided each shard's
# rows fall in the same embedding batches as in one pass: the rows per shard a multiple of
# -b (float32 products change in the last bits with the batch). The others need every row at
# once and are reported as skipped.
#
# usage: pipelines/slurm/score.sh [-n SHARDS] [-l LAYER] [-p] [-b BATCH] [-m METRICS]
#                                 [-c CPUS] [-t TIME] [-o OUTDIR] DATA MODEL...
#   DATA        a labelled samples stream (a file: the shards count its rows)
#   MODEL       model streams; each is a candidate named after its file (net.xs: net)
#   -n SHARDS   array tasks (default 4)
#   -l LAYER    the layer whose features are scored (xfer-embed --layer; default: the
#               graph's output)
#   -p          also the models' probabilities (xfer-embed --probs), for nce, accuracy, nll
#   -b BATCH    xfer-embed --batch (default 64)
#   -m METRICS  xfer-score --metric for the reduce (default all: the combinable ones)
#   -c CPUS     CPUs per task (default: the job scripts' 2); the programs use as many threads
#   -t TIME     time limit per job (default: the job scripts' 1 hour)
#   -o OUTDIR   results (default score-out): scores.tsv and scores.txt, partial/ (the
#               statistics, NAME.I.xs), logs/ (one log per job and task); must be on a file
#               system the compute nodes share, as DATA, the models and the programs
# Prints the two job ids, "ARRAY REDUCE", on stdout.
# Environment: XFER_BIN, the directory of the programs (default: bin/ of this checkout when
# built, else the PATH), passed to the jobs with the rest of the environment (sbatch's
# default); sbatch's own SBATCH_PARTITION, SBATCH_ACCOUNT, ... choose where the jobs run.
# Example: pipelines/slurm/score.sh -n 8 -l fc1 -p -o scores digits.xs.zst lenet.xs mlp.xs
# A failed task can be rerun alone and the reduce after it, with the same arguments:
#   sbatch --array=3 pipelines/slurm/score-shard.sbatch 8 scores digits.xs.zst lenet.xs mlp.xs -- ...
set -eu
usage() { # [STATUS]: 2 (misuse, to stderr) or 0 (-h, to stdout)
	[ "${1:-2}" = 0 ] || exec >&2
	echo "usage: pipelines/slurm/score.sh [-n SHARDS] [-l LAYER] [-p] [-b BATCH] [-m METRICS]"
	echo "                                [-c CPUS] [-t TIME] [-o OUTDIR] DATA MODEL..."
	exit "${1:-2}"
}
here=$(cd "$(dirname "$0")" && pwd)
shards=4 layer="" probs="" batch=64 metrics=all cpus="" time="" out=score-out
while getopts hn:l:pb:m:c:t:o: opt; do
	case $opt in
	n) shards=$OPTARG ;;
	l) layer=$OPTARG ;;
	p) probs=1 ;;
	b) batch=$OPTARG ;;
	m) metrics=$OPTARG ;;
	c) cpus=$OPTARG ;;
	t) time=$OPTARG ;;
	o) out=$OPTARG ;;
	h) usage 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
case $shards in '' | *[!0-9]* | 0*) echo "score.sh: -n wants a positive integer" >&2; usage ;; esac
case $batch in '' | *[!0-9]* | 0*) echo "score.sh: -b wants a positive integer" >&2; usage ;; esac
case $cpus in *[!0-9]* | 0*) echo "score.sh: -c wants a positive integer" >&2; usage ;; esac
me=score.sh
. "$here/submit.sh"

# Absolute paths: the jobs start in this directory, but say so rather than rely on it.
data=$(abs "$1")
shift
[ -r "$data" ] || { echo "score.sh: cannot read $data" >&2; exit 1; }
models="" names=" "
for m in "$@"; do
	[ -r "$m" ] || { echo "score.sh: cannot read $m" >&2; exit 1; }
	name=$(basename "$m" .zst)
	name=${name%.xs}
	case $names in *" $name "*) echo "score.sh: two models named $name; rename one" >&2; exit 2 ;; esac
	names="$names$name "
	models="$models $(abs "$m")"
done
mkdir -p "$out/partial" "$out/logs"
out=$(cd "$out" && pwd)
rm -f "$out/scores.tsv" "$out/scores.txt" # an earlier run's, which a failed run would leave

embed_opts="--batch $batch${layer:+ --layer $layer}${probs:+ --probs}"
res="${cpus:+--cpus-per-task=$cpus} ${time:+--time=$time}"
# $models, $names, $embed_opts and $res split on spaces: paths with spaces are not supported.
# shellcheck disable=SC2086
array=$(sbatch --parsable --array=0-$((shards - 1)) $res --output="$out/logs/shard-%a.log" \
	"$here/score-shard.sbatch" "$shards" "$out" "$data" $models -- $embed_opts)
array=${array%%;*} # "ID;CLUSTER" on a federation
# shellcheck disable=SC2086
reduce=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes $res \
	--output="$out/logs/reduce.log" "$here/score-reduce.sbatch" "$shards" "$out" $names -- -m "$metrics") ||
	{ scancel "$array"; echo "score.sh: the reduce job was refused; job array $array cancelled" >&2; exit 1; }
reduce=${reduce%%;*}
echo "score.sh: job array $array ($shards tasks), reduce job $reduce: $out/scores.tsv" >&2
echo "$array $reduce"
