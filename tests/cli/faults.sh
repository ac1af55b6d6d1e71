#!/bin/sh
# Faults (issue 10), for every program: a full disk (/dev/full: status 1 and a message), the
# reader of the output going away (quiet: SIGPIPE or status 0, no message, even when the parent
# ignores SIGPIPE), SIGINT and SIGTERM in the middle of a -o FILE run (status 130 or 143, no FILE,
# no FILE.tmp.*, no message), and an address-space limit (ulimit -v) that makes a large allocation
# fail (status 1, "out of memory", nothing left behind).
. "$(dirname "$0")/../lib.sh"

if ! has_python; then
	skip_oracle "/usr/bin/python3 with numpy and msgpack makes the inputs"
	finish
	exit
fi

# Fixtures: a small labelled stream and model, big ones (200,000 rows of 16 features, about 16 MB;
# a model of 16 tensors of 1 MB), the same rows as .npy, and probabilities for xfer-merge --fuse.
xf-tool gen blobs --rows 12 --dim 3 --classes 3 >"$T/small.xs"
xf-tool gen model --dim 3 --classes 3 >"$T/small-model.xs"
xf-tool gen blobs --rows 200000 --dim 16 --classes 3 >"$T/big.xs"
xf-tool gen model --dim 16 --classes 3 >"$T/m16.xs"
xfer-cat --fields x --to npy "$T/big.xs" -o "$T/big.npy"
xfer-embed -q -m "$T/m16.xs" --probs "$T/big.xs" -o "$T/probs.xs"
xfer-embed -q -m "$T/small-model.xs" --probs "$T/small.xs" -o "$T/small-probs.xs"
"$PY" - "$T/many.xs" <<'PY'
import sys, msgpack, msgpack_numpy as m, numpy as np
def put(f, frame):
    f.write(msgpack.packb(frame, default=m.encode, use_bin_type=True))
rng = np.random.default_rng(0)
names = ["t%02d" % i for i in range(16)]
with open(sys.argv[1], "wb") as f:
    put(f, {"t": "header", "xfer": 1, "kind": "model", "meta": {},
            "fields": {k: {"dtype": "<f4", "shape": [512, 512]} for k in names}})
    for k in names:
        put(f, {"t": "tensor", "name": k, "data": rng.standard_normal((512, 512)).astype("<f4")})
    put(f, {"t": "end", "tensors": len(names)})
PY

# --- a full disk ------------------------------------------------------------------------------
# full OUT PROG ARGS...: PROG ARGS with its output (stdout, or -o OUT) on /dev/full.
full() {
	how=$1 prog=$2
	shift 2
	set +e
	if [ "$how" = stdout ]; then "$prog" "$@" >/dev/full 2>"$T/full.err"; else "$prog" -o "$how" "$@" 2>"$T/full.err"; fi
	st=$?
	set -e
	case $st:$(cat "$T/full.err") in
	1:"$prog: "*"write"*) pass "$prog $* > $how: status 1, a write error" ;;
	*) fail "$prog $* > $how: status 1, a write error (status $st)"; sed 's/^/#   /' "$T/full.err" | head -n 3 ;;
	esac
}
ln -s /dev/full "$T/full.png"
ln -s /dev/full "$T/full.tar"
for how in stdout /dev/full; do
	full "$how" xfer-pack "$T/big.npy"
	full "$how" xfer-cat "$T/small.xs"
	full "$how" xfer-cat --to csv "$T/small.xs"
	full "$how" xfer-cat --to npz "$T/small.xs"
	full "$how" xfer-embed -m "$T/small-model.xs" "$T/small.xs"
	full "$how" xfer-score -q "$T/small.xs"
	full "$how" xfer-score -q --format text "$T/small.xs"
	full "$how" xfer-project -q "$T/small.xs"
	full "$how" xfer-train -q "$T/small.xs"
	full "$how" xfer-prune -q --method kcenter --keep 2 "$T/small.xs"
	full "$how" xfer-merge -q --method linear "$T/small-model.xs" "$T/small-model.xs"
	full "$how" xfer-merge -q --fuse mean "$T/small-probs.xs" "$T/small-probs.xs"
done
full stdout xfer-cat --info "$T/small.xs"
full stdout xfer-embed -m "$T/small-model.xs" --list
full /dev/null xfer-project -q --plot "$T/full.png" "$T/small.xs"
full /dev/null xfer-project -q --image 4x4 --layout-method pca --images-to "$T/full.tar" "$T/small.xs"

# --- the reader of a pipe closing early ---------------------------------------------------------
# Status of PROG ARGS... with stdout piped into `head -c 100`; IGN=1: under a shell that ignores
# SIGPIPE (prog_init restores the default, and an EPIPE is turned back into SIGPIPE).
pipe_status() {
	trap_cmd=:
	[ "${IGN:-0}" = 1 ] && trap_cmd='trap "" PIPE'
	sh -c "$trap_cmd"'; { "$@" 2>"$0.err"; echo $? >"$0.st"; } | head -c 100 >/dev/null' "$T/pipe" "$@"
	cat "$T/pipe.st"
}
pipe() {
	for ign in 0 1; do
		st=$(IGN=$ign pipe_status "$@")
		what="$* | head -c 100: ends quietly"
		[ "$ign" = 0 ] || what="$what, with SIGPIPE ignored by the parent"
		case $st:$(cat "$T/pipe.err") in
		141: | 0:) pass "$what (status $st)" ;;
		*) fail "$what (status $st)"; sed 's/^/#   /' "$T/pipe.err" | head -n 3 ;;
		esac
	done
}
pipe xfer-cat "$T/big.xs"
pipe xfer-cat -z "$T/big.xs"
pipe xfer-cat --to csv "$T/big.xs"
pipe xfer-cat --to npz "$T/big.xs"
pipe xfer-pack "$T/big.npy"
pipe xfer-embed -m "$T/m16.xs" "$T/big.xs"
pipe xfer-score -q --format text "$T/small.xs"
pipe xfer-project -q --method pca "$T/big.xs"
pipe xfer-train -q "$T/small.xs"
pipe xfer-prune -q --method random --keep 0.5 "$T/big.xs"
pipe xfer-merge -q --method linear "$T/many.xs" "$T/many.xs"
pipe xfer-merge -q --fuse mean "$T/probs.xs" "$T/probs.xs"

# --- SIGINT and SIGTERM in the middle of a -o FILE run -----------------------------------------
# The run reads a FIFO that is given the first part of its input and then held open, so the
# program is caught mid-stream: its temporary FILE.tmp.* exists (and for a program that streams,
# holds what it wrote so far). xfer-prune opens its output only after choosing the rows, so it is
# given a file and caught while it writes a large compressed output.
O=$T/sig
mkdir "$O"
# Poll until $O holds a temporary (non-empty with NONEMPTY=1); at most 10 s.
await_temp() {
	i=0
	while [ "$i" -lt 200 ]; do
		tmp=$(ls -A "$O" | grep '^out\.xs\.tmp\.' || true)
		if [ -n "$tmp" ] && { [ "${NONEMPTY:-0}" = 0 ] || [ -s "$O/$tmp" ]; }; then
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# killed SIG WANT DESC: signal the background run $pid, wait for it and check what is left.
killed() {
	sig=$1 want=$2 desc=$3
	if await_temp; then caught=yes; else caught=no; fi
	signal_and_reap "$sig" "$pid"
	exec 3>&-
	same "$desc: SIG$sig mid-run: status $want, no FILE, no temporary, no message" \
		"yes:$want::" "$caught:$st:$(ls -A "$O" | tr '\n' ' '):$(cat "$T/sig.err")"
	rm -f "$O"/*
}
status_of() { case $1 in INT) echo 130 ;; TERM) echo 143 ;; esac; }
# interrupt SIG PART INPUT PROG ARGS...: PROG ARGS -o $O/out.xs, @ in ARGS standing for a FIFO
# that gets the first PART bytes of INPUT.
interrupt() {
	sig=$1 part=$2 input=$3 prog=$4
	shift 4
	fifo=$T/fifo.${input##*.}
	rm -f "$fifo"
	mkfifo "$fifo"
	n_args=$#
	for a in "$@"; do
		[ "$a" = @ ] && a=$fifo
		set -- "$@" "$a"
	done
	shift "$n_args"
	"$prog" -q -o "$O/out.xs" "$@" 2>"$T/sig.err" &
	pid=$!
	exec 3<>"$fifo"   # read-write: never blocks, and the FIFO stays open for the program
	timeout 20 head -c "$part" "$input" >&3 || true
	case $prog in xfer-score | xfer-train | xfer-project) NONEMPTY=0 ;; *) NONEMPTY=1 ;; esac
	killed "$sig" "$(status_of "$sig")" "$prog $*"
}
for sig in INT TERM; do
	interrupt "$sig" 8000000 "$T/big.xs" xfer-cat @
	interrupt "$sig" 6000000 "$T/big.npy" xfer-pack @
	interrupt "$sig" 15000000 "$T/big.xs" xfer-embed -m "$T/m16.xs" @
	interrupt "$sig" 8000000 "$T/many.xs" xfer-merge --method linear "$T/many.xs" @
	interrupt "$sig" 8000000 "$T/big.xs" xfer-score @
	interrupt "$sig" 8000000 "$T/big.xs" xfer-project --method pca @
	interrupt "$sig" 8000000 "$T/big.xs" xfer-train @
	xfer-prune -q -z19 -j1 --method random --keep 0.9 -o "$O/out.xs" "$T/big.xs" 2>"$T/sig.err" &
	pid=$!
	exec 3>/dev/null
	NONEMPTY=0 killed "$sig" "$(status_of "$sig")" "xfer-prune -z19 (writing)"
done

# --- memory limits ------------------------------------------------------------------------------
# In a subshell with `ulimit -v`. `limited` sizes the inputs so that our own allocation fails
# first; the sweep below also meets OpenBLAS's 128 MiB work buffer, which OpenBLAS 0.3.21 maps at
# a thread's first BLAS call and retries forever when it cannot (lib/prog_mmap.c ends it).
# limited KB DESC PROG ARGS...: PROG ARGS -o FILE under `ulimit -v KB`.
limited() {
	kb=$1 desc=$2
	shift 2
	set +e
	(ulimit -v "$kb" && OPENBLAS_NUM_THREADS=1 exec timeout 60 "$@" -j 1 -o "$O/out.xs") >"$T/mem.out" 2>"$T/mem.err"
	st=$?
	set -e
	case $st:$(cat "$T/mem.err") in
	1:"$1: "*"out of memory"*) pass "$desc: status 1, out of memory" ;;
	*) fail "$desc: status 1, out of memory (status $st)"; sed 's/^/#   /' "$T/mem.err" | head -n 3 ;;
	esac
	same "$desc: nothing on stdout, no file left" ":" "$(cat "$T/mem.out"):$(ls -A "$O")"
	rm -f "$O"/*
}
if nm "$top/lib/libxfer.a" 2>/dev/null | grep -q __asan; then
	pass "# skip memory limits: AddressSanitizer reserves terabytes of address space"
	finish
	exit
fi
xf-tool gen blobs --rows 16000 --dim 8 --classes 3 >"$T/krr.xs"
limited 400000 "xfer-train --model krr, 16,000 rows (2 GB kernel matrix), ulimit -v 400 MB" \
	xfer-train -q --model krr "$T/krr.xs"
xf-tool gen blobs --rows 62500 --dim 256 --classes 5 >"$T/wide.xs"   # 64 MB of float32
limited 160000 "xfer-score -m logme, 64 MB of features, ulimit -v 160 MB" \
	xfer-score -q -m logme "$T/wide.xs"
limited 160000 "xfer-project --method pca, 64 MB of features, ulimit -v 160 MB" \
	xfer-project -q --method pca "$T/wide.xs"
limited 160000 "xfer-train, 64 MB of features, ulimit -v 160 MB" xfer-train -q "$T/wide.xs"
limited 160000 "xfer-prune --method kcenter, 64 MB of features, ulimit -v 160 MB" \
	xfer-prune -q --method kcenter --keep 10 "$T/wide.xs"

# sweep DESC PROG ARGS...: PROG ARGS -j 2 -o FILE under every limit from 200 to 800 MB in 50 MB
# steps. Each run must end (no hang) with status 0, or status 1, "out of memory" and no file
# left. Within the range the data fits but a 128 MiB BLAS buffer does not: "a library cannot
# map" (at least once, as the steps are finer than the buffer), and at the top the run succeeds.
sweep() {
	desc=$1 prog=$2 bad="" lib=0 ok=0
	shift
	for kb in $(seq 200000 50000 800000); do
		set +e
		(ulimit -v "$kb" && exec timeout 60 "$@" -j 2 -o "$O/out.xs") >"$T/mem.out" 2>"$T/mem.err"
		st=$?
		set -e
		case $st:$(cat "$T/mem.err") in
		0:) ok=$((ok + 1)); rm -f "$O/out.xs" ;;
		1:"$prog: out of memory: a library cannot map"*) lib=$((lib + 1)) ;;
		1:"$prog: "*"out of memory"*) ;;
		*) bad="$bad ${kb}K:$st:$(head -c 80 "$T/mem.err")" ;;
		esac
		[ -z "$(ls -A "$O")" ] || { bad="$bad ${kb}K:left $(ls -A "$O")"; rm -f "$O"/*; }
	done
	same "$desc, ulimit -v 200-800 MB: each run ends, with success or out of memory" "" "$bad"
	same "$desc: the BLAS buffer's map fails at some limit, and the run succeeds at some" yes \
		"$([ "$lib" -ge 1 ] && [ "$ok" -ge 1 ] && echo yes || echo "no ($lib, $ok)")"
}
sweep "xfer-score -m logme, 64 MB of features" xfer-score -q -m logme "$T/wide.xs"
xf-tool gen blobs --rows 3000 --dim 64 --classes 5 >"$T/tsne.xs"
sweep "xfer-project t-SNE (k-NN workers calling BLAS)" xfer-project -q --method tsne --iters 50 "$T/tsne.xs"
finish
