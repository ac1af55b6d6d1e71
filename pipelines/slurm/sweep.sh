#!/bin/sh
# sweep.sh - a parameter sweep as a Slurm job array, one value per task, each task writing one
# row (sweep-task.sbatch); a job that starts when every task has succeeded
# (--dependency=afterok) collects the rows, in the order of the values, into one table
# (sweep-collect.sbatch). Two sweeps:
#   tsne  t-SNE perplexities: xfer-project --perplexity P of DATA, scored by the 5-NN
#         leave-one-out accuracy of the map (xfer-score -m knn): columns perplexity, knn
#   ties  TIES-Merging densities: xfer-merge --method ties --density D of the MODELs onto
#         BASE, scored on the labelled TEST rows by the merged model's accuracy and
#         cross-entropy (xfer-score -m accuracy,nll): columns density, accuracy, nll
# Each row is what the same pipeline gives when run by hand with the same threads (-c).
#
# usage: pipelines/slurm/sweep.sh tsne [-v VALUES] [-c CPUS] [-t TIME] [-o OUTDIR] DATA [-- OPTION...]
#        pipelines/slurm/sweep.sh ties [-v VALUES] [-c CPUS] [-t TIME] [-o OUTDIR] BASE TEST MODEL... [-- OPTION...]
#   -v VALUES  comma-separated (default tsne: 5,10,20,30,50; ties: 0.1,0.2,0.3,0.5,0.7,1)
#   -c CPUS    CPUs per task (default: the job scripts' 2); the programs use as many threads
#   -t TIME    time limit per job (default: the job scripts' 1 hour)
#   -o OUTDIR  results (default sweep-out): sweep.tsv, rows/ (one row per task), logs/; on a
#              file system the compute nodes share, as the inputs and the programs
#   OPTION     more options for xfer-project (tsne) or xfer-merge (ties), e.g. --iters 500
# Prints the two job ids, "ARRAY COLLECT", on stdout.
# Environment: XFER_BIN, the directory of the programs (default: bin/ of this checkout when
# built, else the PATH), passed to the jobs with the rest of the environment (sbatch's
# default); sbatch's own SBATCH_PARTITION, SBATCH_ACCOUNT, ... choose where the jobs run.
# Examples: pipelines/slurm/sweep.sh tsne -v 5,30,100 -o tsne-sweep features.xs -- --iters 1000
#           pipelines/slurm/sweep.sh ties -o ties-sweep base.xs test.xs ft1.xs ft2.xs -- --lambda 1.5
set -eu
usage() { # [STATUS]: 2 (misuse, to stderr) or 0 (-h, to stdout)
	[ "${1:-2}" = 0 ] || exec >&2
	echo "usage: pipelines/slurm/sweep.sh tsne [-v VALUES] [-c CPUS] [-t TIME] [-o OUTDIR] DATA [-- OPTION...]"
	echo "       pipelines/slurm/sweep.sh ties [-v VALUES] [-c CPUS] [-t TIME] [-o OUTDIR] BASE TEST MODEL... [-- OPTION...]"
	exit "${1:-2}"
}
here=$(cd "$(dirname "$0")" && pwd)
kind=${1:-}
case $kind in
-h) usage 0 ;;
tsne) values=5,10,20,30,50 columns=perplexity,knn min=1 ;;
ties) values=0.1,0.2,0.3,0.5,0.7,1 columns=density,accuracy,nll min=3 ;;
*) usage ;;
esac
shift
cpus="" time="" out=sweep-out
while getopts hv:c:t:o: opt; do
	case $opt in
	v) values=$OPTARG ;;
	c) cpus=$OPTARG ;;
	t) time=$OPTARG ;;
	o) out=$OPTARG ;;
	h) usage 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
case $values in '' | ,* | *, | *,,* | *[!0-9.,e+-]*) echo "sweep.sh: -v wants numbers separated by commas" >&2; usage ;; esac
case $cpus in *[!0-9]* | 0*) echo "sweep.sh: -c wants a positive integer" >&2; usage ;; esac
me=sweep.sh
. "$here/submit.sh"

# The input files as absolute paths, then "--" and the options as they are.
files="" n_files=0
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	[ -r "$1" ] || { echo "sweep.sh: cannot read $1" >&2; exit 1; }
	files="$files $(abs "$1")"
	n_files=$((n_files + 1))
	shift
done
[ "$n_files" -ge "$min" ] || usage
[ "$kind" = ties ] || [ "$n_files" -eq 1 ] || usage
mkdir -p "$out/rows" "$out/logs"
out=$(cd "$out" && pwd)
rm -f "$out/sweep.tsv" # an earlier run's, which a failed run would leave
n=$(echo "$values" | tr , '\n' | wc -l)

res="${cpus:+--cpus-per-task=$cpus} ${time:+--time=$time}"
# $files and $res split on spaces: paths with spaces are not supported.
# shellcheck disable=SC2086
array=$(sbatch --parsable --array=0-$((n - 1)) $res --output="$out/logs/task-%a.log" \
	"$here/sweep-task.sbatch" "$kind" "$values" "$out" $files "$@")
array=${array%%;*} # "ID;CLUSTER" on a federation
# shellcheck disable=SC2086
collect=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes $res \
	--output="$out/logs/collect.log" "$here/sweep-collect.sbatch" "$n" "$out" "$columns") ||
	{ scancel "$array"; echo "sweep.sh: the collect job was refused; job array $array cancelled" >&2; exit 1; }
collect=${collect%%;*}
echo "sweep.sh: job array $array ($n tasks), collect job $collect: $out/sweep.tsv" >&2
echo "$array $collect"
