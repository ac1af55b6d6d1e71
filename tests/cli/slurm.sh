#!/bin/sh
# pipelines/slurm/ through the real sbatch of a one-node cluster (tools/slurm-local), started
# once here and stopped at the end: the sharded scoring array and its reduce job give the
# one-machine `xfer-embed | xfer-score` values (1e-9 relative: the reduce's contract in
# docs/metrics.md; the shards keep the embedding batches of one pass, so the features are the
# same bits), the two sweeps give byte for byte the tables of their pipelines run here, and a
# failing shard fails the pipeline without a table. Skipped without root and the Slurm and
# munge packages, except in CI (tools/install-deps installs them).
. "$(dirname "$0")/../lib.sh"

slurm=$top/tools/slurm-local
if ! "$slurm" check 2>"$T/check.err"; then
	skip_oracle "a one-node Slurm cluster cannot start here: $(head -n 1 "$T/check.err")"
	finish
	exit 0
fi
# Nothing from an enclosing Slurm job or the user's sbatch defaults reaches our cluster.
for v in $(env | sed -n 's/^\(S\(LURM\|BATCH\)_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export SLURM_LOCAL_DIR="$T/slurm"
# Stop the cluster whatever happens (set +e: a failing command would end the trap); KEEP=1
# keeps the daemons' logs too, which down would delete with the cluster's directory.
trap 'set +e; [ "${KEEP:-0}" != 1 ] || cp "$T"/slurm/*.log "$T" 2>/dev/null
	"$slurm" down 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$T"' EXIT
trap 'exit 130' HUP INT TERM
wait_s=${SLURM_TEST_WAIT:-300} # at most this long for all the jobs (ASan builds are slower)

if ! up=$("$slurm" up 2>"$T/up.err"); then
	fail "tools/slurm-local up starts a one-node cluster"
	sed 's/^/#   /' "$T/up.err" | tail -n 30
	finish
	exit 1
fi
eval "$up"
pass "tools/slurm-local up starts a one-node cluster"

# Small data: 2,000 target digits, two MLPs trained briefly on 300 others, two fine-tuned from
# the first for merging; 300 digits for the sweeps.
data=$top/data/mnist10k.xs.zst
xfer-cat --rows 8000:10000 "$data" -o "$T/target.xs"
xfer-cat --rows 8000:8300 "$data" -o "$T/small.xs"
xfer-cat --rows 0:300 "$data" -o "$T/src.xs"
xfer-cat --rows 300:600 "$data" -o "$T/src1.xs"
xfer-cat --rows 600:900 "$data" -o "$T/src2.xs"
for h in 16 32; do
	xfer-train -q -j 1 --model mlp --hidden "$h" --epochs 2 "$T/src.xs" -o "$T/mlp$h.xs"
done
for i in 1 2; do
	xfer-train -q -j 1 --init "$T/mlp16.xs" --epochs 2 "$T/src$i.xs" -o "$T/ft$i.xs"
done
head -c 100000 "$T/target.xs" >"$T/truncated.xs"

# Submit everything, then compute the one-machine results while the jobs run. The broken
# pipeline goes first so that its failure is known at once.
submit() { # NAME COMMAND...: the two job ids in $T/NAME.ids
	name=$1
	shift
	if "$@" >"$T/$name.ids" 2>"$T/$name.err" && grep -qx '[0-9]* [0-9]*' "$T/$name.ids"; then
		pass "$name: submitted, two job ids printed"
	else
		fail "$name: submitted, two job ids printed"
		sed 's/^/#   /' "$T/$name.err" "$T/$name.ids" | head -n 10
		echo "0 0" >"$T/$name.ids"
	fi
}
submit broken "$top/pipelines/slurm/score.sh" -n 2 -c 1 -o "$T/broken" "$T/truncated.xs" "$T/mlp16.xs"
submit score "$top/pipelines/slurm/score.sh" -n 4 -c 1 -l relu1 -p -b 100 -o "$T/score" \
	"$T/target.xs" "$T/mlp16.xs" "$T/mlp32.xs"
submit tsne "$top/pipelines/slurm/sweep.sh" tsne -v 5,20 -c 1 -o "$T/tsne" "$T/small.xs" -- --iters 300
submit ties "$top/pipelines/slurm/sweep.sh" ties -v 0.2,0.6,1 -c 1 -o "$T/ties" \
	"$T/mlp16.xs" "$T/small.xs" "$T/ft1.xs" "$T/ft2.xs"

mkdir "$T/one"
reducible=logme,logme_exact,hscore,gbc,gbc_spherical,nce,accuracy,nll
for m in mlp16 mlp32; do
	xfer-embed -j 1 --batch 100 -m "$T/$m.xs" --layer relu1 --probs "$T/target.xs" -o "$T/one/$m.xs"
done
xfer-score -j 1 -m "$reducible" --probs probs --format tsv "$T/one/mlp16.xs" "$T/one/mlp32.xs" >"$T/one.tsv"
{
	printf 'perplexity\tknn\n'
	for p in 5 20; do
		xfer-project -q -j 1 --perplexity "$p" --iters 300 "$T/small.xs" |
			xfer-score -j 1 -m knn --format tsv |
			awk -F'\t' -v p="$p" 'NR == 2 { print p "\t" $3 }'
	done
} >"$T/tsne.expect"
{
	printf 'density\taccuracy\tnll\n'
	for d in 0.2 0.6 1; do
		xfer-merge -q -j 1 --method ties --density "$d" --base "$T/mlp16.xs" "$T/ft1.xs" "$T/ft2.xs" \
			-o "$T/merged.xs"
		xfer-embed -j 1 -m "$T/merged.xs" --probs "$T/small.xs" |
			xfer-score -j 1 -m accuracy,nll --probs probs --format tsv |
			awk -F'\t' -v d="$d" 'NR == 2 { a = $3 } NR == 3 { print d "\t" a "\t" $3 }'
	done
} >"$T/ties.expect"

# A job that fails, and what its logs say.
logs() { for f in "$T/$1"/logs/*.log; do [ -s "$f" ] && sed "s|^|#   $(basename "$f"): |" "$f" | tail -n 8; done; }
waited() { # NAME: wait for its jobs (bounded); pass when all completed
	# shellcheck disable=SC2046
	if "$slurm" wait -t "$wait_s" $(cat "$T/$1.ids") 2>"$T/$1.wait"; then
		pass "$1: the job array and its dependent job completed"
	else
		fail "$1: the job array and its dependent job completed"
		sed 's/^/#   /' "$T/$1.wait"
		logs "$1"
	fi
}
# shellcheck disable=SC2046
if "$slurm" wait -t "$wait_s" $(cat "$T/broken.ids") 2>"$T/broken.wait"; then
	fail "broken: a shard that fails fails the pipeline"
else
	same "broken: a shard that fails fails the pipeline, the reduce job is cancelled" \
		"FAILED CANCELLED" "$(grep -o 'JobState=[A-Z]*' "$T/broken.wait" | cut -d= -f2 | tr '\n' ' ' | sed 's/ $//')"
fi
same "broken: no table, and the shard's log says why" "no table, truncated" \
	"$([ -e "$T/broken/scores.tsv" ] && echo table || echo no table), $(grep -q 'truncated stream' \
		"$T"/broken/logs/shard-*.log && echo truncated)"

waited score
same "score: 4 shards reduced equal one pass for 2 models x 8 metrics (names, ranks; values to 1e-9)" yes \
	"$(sed 1d "$T/one.tsv" | sort >"$T/a"; sed 1d "$T/score/scores.tsv" 2>/dev/null | sort >"$T/b"
		paste "$T/a" "$T/b" |
		awk -F'\t' '$1 != $5 || $2 != $6 || $4 != $8 { bad = 1 }
			{ r = ($3 - $7) / ($3 == 0 ? 1 : $3); if (r < 0) r = -r; if (r > 1e-9) bad = 1 }
			END { print (NR == 16 && !bad) ? "yes" : "no (" NR " rows)" }')"
same "score: the text table ranks the same candidates" \
	"$(awk 'NR > 1 && !/^skipped/ { print $1, $2, $3 }' "$T/score/scores.txt" 2>/dev/null | sort)" \
	"$(awk -F'\t' 'NR > 1 { print $2, $4, $1 }' "$T/one.tsv" | sort)"

for s in tsne ties; do
	waited "$s"
	if cmp -s "$T/$s.expect" "$T/$s/sweep.tsv"; then
		pass "$s: the collected table is the one-machine table, byte for byte"
	else
		fail "$s: the collected table is the one-machine table, byte for byte"
		diff "$T/$s.expect" "$T/$s/sweep.tsv" 2>&1 | sed 's/^/#   /' | head -n 10
	fi
done

"$slurm" down 2>/dev/null
same "tools/slurm-local down stops the daemons and removes the state directory" "down, gone" \
	"$("$slurm" status >/dev/null 2>&1 && echo up || echo down), $([ -e "$T/slurm" ] && echo left || echo gone)"
finish
