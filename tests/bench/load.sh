#!/bin/sh
# Load: N rows of 256 float32 features through
#     xfer-pack x=X.npy | xfer-cat | xfer-embed -m MLP | xfer-cat --check
# with each stage under /usr/bin/time: peak resident memory, CPU time and exit status per stage,
# wall time and rows/s for the pipeline. The same pipeline then runs on N/10 rows, and memory is
# bounded when no stage's peak at N exceeds its peak at N/10 by more than 10% + 16 MB (judged
# only when N/10 >= 262144: xfer-pack reads 65536 rows at a time, so smaller runs have not yet
# filled its buffers).
# X.npy is a named pipe: a NumPy writer sends a valid .npy header for [N, 256] float32 and then
# one 65536-row block of standard normal values over and over (the content does not matter
# here, and the writer then costs no more than a `cat`), so no 10 GB file is needed on disk;
# xfer-pack reads it exactly as it reads a file (sequential read(2) calls). The model is a
# 256-256-64 ReLU MLP from `xfer-train --model mlp` (one epoch on 2000 blob rows); xfer-embed
# writes its logits. Exits 1 if a stage fails, the row count is wrong or memory is not bounded.
# usage: tests/bench/load.sh [ROWS]        (default 1e7; e.g. 1e5 for a quick run)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$top/bin:$top/tests/helpers:$PATH
PY=/usr/bin/python3
rows=$(awk -v n="${1:-1e7}" 'BEGIN { if (n !~ /^[0-9]+(\.[0-9]+)?([eE][0-9]+)?$/ || n + 0 < 10) exit 1;
	printf "%.0f", n }') || { echo "usage: $0 [ROWS]   (an integer >= 10, 1e7 notation allowed)" >&2; exit 2; }
dim=256
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-load.XXXXXX")
trap 'rm -rf "$work"' EXIT

xf-tool gen blobs --rows 2000 --dim "$dim" --classes 64 >"$work/train.xs"
xfer-train -q --model mlp --hidden 256 --epochs 1 "$work/train.xs" -o "$work/mlp.xs"

# The .npy writer: header, then the same block until N rows are written. It creates $3 once
# its block is ready, so that the pipeline's time leaves out Python's start.
gen_npy() {
	"$PY" - "$1" "$dim" "$2" "$3" <<'EOF'
import sys, numpy as np
n, d, path, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
block = np.random.default_rng(0).standard_normal((65536, d), dtype=np.float32)
open(ready, "w").close()
with open(path, "wb") as f:
    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
    done = 0
    while done < n:
        k = min(len(block), n - done)
        f.write(block[:k].data)
        done += k
EOF
}

# One run over $1 rows; stage results in $work/$1.{pack,cat,embed,check} as
# "RSS_KB WALL_S USER_S SYS_S STATUS", pipeline wall time in $work/$1.wall, rows seen in $work/$1.rows.
run() {
	n=$1 tm="/usr/bin/time -f %M_%e_%U_%S_%x -o"
	rm -f "$work/x.npy" "$work/ready"
	mkfifo "$work/x.npy"
	gen_npy "$n" "$work/x.npy" "$work/ready" &
	gen=$!
	while [ ! -e "$work/ready" ] && kill -0 "$gen" 2>/dev/null; do sleep 0.05; done
	start=$(date +%s.%N)
	$tm "$work/$n.pack" xfer-pack "x=$work/x.npy" |
		$tm "$work/$n.cat" xfer-cat |
		$tm "$work/$n.embed" xfer-embed -m "$work/mlp.xs" |
		$tm "$work/$n.check" xfer-cat --check -v 2>"$work/$n.log" || true
	end=$(date +%s.%N)
	wait "$gen" || echo "load: the .npy writer failed" >&2
	echo "$start $end" | awk '{ printf "%.2f\n", $2 - $1 }' >"$work/$n.wall"
	sed -n 's/.* \([0-9][0-9]*\) rows out$/\1/p' "$work/$n.log" >"$work/$n.rows"
	for s in pack cat embed check; do
		tail -n 1 "$work/$n.$s" | tr _ ' ' >"$work/$n.$s.v"
	done
}

small=$((rows / 10))
echo "load: $rows rows x $dim float32 ($(awk -v n="$rows" -v d="$dim" 'BEGIN { printf "%.2f", n * d * 4 / 1e9 }') GB)," \
	"then $small rows; $(nproc) cores"
run "$rows"
run "$small"

status=0
printf '\n%-28s %12s %12s %10s %8s\n' "stage" "RSS@$rows" "RSS@$small" "CPU s" "status"
for s in pack cat embed check; do
	read -r big _ u1 s1 x1 <"$work/$rows.$s.v"
	read -r sm _ _ _ x2 <"$work/$small.$s.v"
	case $s in
	pack) label="xfer-pack x=X.npy" ;; cat) label="xfer-cat" ;;
	embed) label="xfer-embed -m MLP" ;; check) label="xfer-cat --check" ;;
	esac
	printf '%-28s %9.1f MB %9.1f MB %10.2f %8s\n' "$label" "$(echo "$big" | awk '{ print $1 / 1024 }')" \
		"$(echo "$sm" | awk '{ print $1 / 1024 }')" "$(echo "$u1 $s1" | awk '{ print $1 + $2 }')" "$x1/$x2"
	if [ "$x1" != 0 ] || [ "$x2" != 0 ]; then
		echo "load: $label failed" >&2; status=1
	fi
	if [ "$small" -ge 262144 ] && ! awk -v b="$big" -v s="$sm" 'BEGIN { exit !(b <= 1.1 * s + 16384) }'; then
		echo "load: $label: memory grows with the rows ($big kB at $rows rows, $sm kB at $small)" >&2
		status=1
	fi
done
for n in "$rows" "$small"; do
	wall=$(cat "$work/$n.wall") seen=$(cat "$work/$n.rows")
	printf '%-28s %9s rows in %8.2f s: %10.0f rows/s, %6.0f MB/s of features\n' "pipeline" "$n" "$wall" \
		"$(echo "$n $wall" | awk '{ print $1 / $2 }')" "$(echo "$n $wall $dim" | awk '{ print $1 * $3 * 4 / $2 / 1e6 }')"
	if [ "$seen" != "$n" ]; then
		echo "load: xfer-cat --check saw ${seen:-no} rows, want $n" >&2; status=1
	fi
done
if [ "$small" -lt 262144 ]; then
	echo "memory: not judged (give at least 2621440 rows)"
elif [ "$status" -eq 0 ]; then
	echo "memory bounded: every stage within 10% + 16 MB of its peak at a tenth of the rows"
fi
exit "$status"
