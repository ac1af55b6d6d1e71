#!/bin/sh
# Benchmark: xfer-cat against its peers on the same machine, in the same run.
#  1. 2 GB of float32 rows through `xfer-cat` versus plain `cat` on the same pipe
#     (throughput ratio; aim >= 0.5) and xfer-cat's peak resident memory (aim < 64 MB);
#  2. zstd-compressed output: `xfer-cat -z LEVEL` versus the `zstd` command line at the same
#     level and thread count (time ratio).
# usage: tests/bench/cat-throughput.sh [GB] [ZSTD_LEVEL]     (defaults: 2, 3)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
gb=${1:-2}
level=${2:-3}
PATH=$top/bin:$top/tests/helpers:$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/xfer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
rows=$((gb * 1000000000 / 1024))

xf-tool gen blobs --rows "$rows" --dim 256 --classes 10 >"$work/big.xs"
bytes=$(wc -c <"$work/big.xs")
echo "input: $bytes bytes, $rows rows of 256 float32 (+ label, id)"

# Best of three wall-clock times of a shell pipeline, in seconds.
best() {
	b=""
	for _ in 1 2 3; do
		/usr/bin/time -f %e -o "$work/t" sh -c "$1"
		t=$(cat "$work/t")
		b=$(echo "$t ${b:-$t}" | awk '{print ($1 < $2) ? $1 : $2}')
	done
	echo "$b"
}
ratio() { echo "$1 $2" | awk '{printf "%.2f", $1 / $2}'; }

t_cat=$(best "cat '$work/big.xs' | cat | cat >/dev/null")
t_xf=$(best "cat '$work/big.xs' | xfer-cat | cat >/dev/null")
/usr/bin/time -f %M -o "$work/rss" sh -c "xfer-cat <'$work/big.xs' >/dev/null"
printf 'pass-through: cat %.2f s (%.0f MB/s), xfer-cat %.2f s (%.0f MB/s): xfer-cat/cat throughput %s (aim >= 0.5)\n' \
	"$t_cat" "$(echo "$bytes $t_cat" | awk '{print $1 / $2 / 1e6}')" \
	"$t_xf" "$(echo "$bytes $t_xf" | awk '{print $1 / $2 / 1e6}')" "$(ratio "$t_cat" "$t_xf")"
echo "xfer-cat peak resident memory: $(($(cat "$work/rss") / 1024)) MB (aim < 64 MB)"

for threads in 1 $(nproc); do
	t_zstd=$(best "zstd -q -$level -T$threads -c <'$work/big.xs' >'$work/z1'")
	t_xz=$(best "xfer-cat -z$level -j$threads <'$work/big.xs' >'$work/z2'")
	printf 'zstd -%s, %s thread(s): zstd %.2f s -> %s bytes, xfer-cat -z %.2f s -> %s bytes: xfer-cat/zstd speed %s\n' \
		"$level" "$threads" "$t_zstd" "$(wc -c <"$work/z1")" "$t_xz" "$(wc -c <"$work/z2")" "$(ratio "$t_zstd" "$t_xz")"
done
