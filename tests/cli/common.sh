#!/bin/sh
# The cases every program gets (style 2.12), for xfer-cat and xfer-pack: zero rows, segments,
# truncated and malformed input, usage, --help/--version, write errors, SIGPIPE, terminals, -o.
. "$(dirname "$0")/../lib.sh"

skip() { n=$((n + 1)); echo "ok $n - # skip $1"; }

# Run a command, keeping stdout, stderr and the status: run OUT ERR cmd...; then $st.
run() {
	out=$1 err=$2; shift 2
	set +e
	"$@" >"$out" 2>"$err"
	st=$?
	set -e
}

# Status and stderr of PROG ARGS... with stdout piped into `head -c 1`; IGN=1 runs it under a
# shell that ignores SIGPIPE (the program must restore the default).
pipe_status() {
	trap_cmd=:
	[ "${IGN:-0}" = 1 ] && trap_cmd='trap "" PIPE'
	rm -f "$T/pipe.st"
	sh -c "$trap_cmd"'; { "$@" 2>"$0.err"; echo $? >"$0.st"; } | head -c 1 >/dev/null' "$T/pipe" "$@"
	cat "$T/pipe.st"
}

# Fixtures. xfer-cat reads streams; xfer-pack reads arrays (its input is never a stream).
xf-tool gen blobs --rows 13 --dim 2 --classes 3 --batch-bytes 200 >"$T/ok.xs"
xf-tool gen ramp --rows 0 --dim 3 >"$T/zero.xs"
xf-tool gen ramp --rows 200000 --dim 16 >"$T/big.xs"
size=$(wc -c <"$T/ok.xs")
head -c $((size - 3)) "$T/ok.xs" >"$T/trunc.xs"
: >"$T/empty.xs"
: >"$T/empty.npy"
mkdir "$T/adir.xs" "$T/adir.npy"
if has_python; then
	"$PY" - "$T" <<'PY'
import sys, msgpack, numpy as np
t = sys.argv[1]
np.save(t + "/ok.npy", np.arange(39, dtype="<f4").reshape(13, 3))
np.save(t + "/zero.npy", np.zeros((0, 3), "<f4"))
np.save(t + "/big.npy", np.arange(200000 * 16, dtype="<f4").reshape(200000, 16))
np.save(t + "/baddtype.npy", np.zeros((4, 3), "<c8"))
fr = [{"t": "header", "xfer": 1, "kind": "samples", "fields": {"x": {"dtype": "<c8", "shape": []}}, "meta": {}},
      {"t": "end", "rows": 0}]
open(t + "/baddtype.xs", "wb").write(b"".join(msgpack.packb(f, use_bin_type=True) for f in fr))
PY
	size=$(wc -c <"$T/ok.npy")
	head -c $((size - 3)) "$T/ok.npy" >"$T/trunc.npy"
	size=$(wc -c <"$T/big.npy")
	head -c $((size / 2)) "$T/big.npy" >"$T/bigtrunc.npy"
fi
size=$(wc -c <"$T/big.xs")
head -c $((size / 2)) "$T/big.xs" >"$T/bigtrunc.xs"
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")
have_script=no
if command -v script >/dev/null 2>&1 && script --version 2>/dev/null | grep -q util-linux; then
	have_script=yes
fi

for prog in xfer-cat xfer-pack; do
	case $prog in
	xfer-cat) ext=xs ;;
	xfer-pack) ext=npy ;;
	esac
	ok=$T/ok.$ext
	if [ ! -e "$ok" ]; then
		skip "$prog: the standard cases need numpy and msgpack in $PY"
		continue
	fi

	# zero rows in, a valid zero-row stream out
	run "$T/zero.out" "$T/zero.err" "$prog" "$T/zero.$ext"
	same "$prog: zero rows in gives a zero-row stream" "header kind=samples
  field x <f4 [3]
end count=0" "$(xf-tool dump "$T/zero.out" | grep -v '^  meta')"
	check "$prog: the zero-row output passes --check" xfer-cat --check "$T/zero.out"

	# a truncated input: status 1, the location in the message, no end frame written
	expect_fail 1 "$prog: truncated input fails" "$prog" "$T/trunc.$ext"
	case $prog in
	xfer-cat) stderr_has "$prog: the message gives file, frame and byte" "*trunc.xs*frame*byte*truncated*" ;;
	xfer-pack) stderr_has "$prog: the message gives the file and how far it got" "*trunc.npy*truncated*rows*" ;;
	esac
	run "$T/part.out" "$T/part.err" "$prog" "$T/bigtrunc.$ext"
	same "$prog: a large truncated input fails" 1 "$st"
	expect_fail 1 "$prog: what it wrote before failing is not a complete stream" xfer-cat --check "$T/part.out"

	# an unknown dtype
	expect_fail 1 "$prog: an unknown dtype fails" "$prog" "$T/baddtype.$ext"
	case $prog in
	xfer-cat) stderr_has "$prog: the message names the field and the location" "*baddtype.xs*frame 1*'x'*dtype*" ;;
	xfer-pack) stderr_has "$prog: the message names the dtype" "*baddtype.npy*dtype*<c8*" ;;
	esac

	# empty input, a directory, a missing file
	expect_fail 1 "$prog: empty input fails" "$prog" "$T/empty.$ext"
	stderr_has "$prog: the message says empty input and names the file" "*empty.$ext*empty input*"
	expect_fail 1 "$prog: a directory as input fails" "$prog" "$T/adir.$ext"
	stderr_has "$prog: the message names the directory" "*adir.$ext*"
	expect_fail 1 "$prog: a missing file fails" "$prog" "$T/missing.$ext"
	stderr_has "$prog: the message names the missing file" "*missing.$ext*No such file*"

	# usage errors: status 2, one line, the synopsis on stderr, nothing on stdout
	"$prog" --help >"$T/help.out"
	synopsis_lines=$(sed -n '/^$/q;p' "$T/help.out" | wc -l)
	expect_fail 2 "$prog: a bad option is a usage error" "$prog" --no-such-option "$ok"
	stderr_has "$prog: the message names the option and gives the synopsis" \
		"*no-such-option*usage: $prog *Try '$prog --help'*"
	same "$prog: the synopsis on stderr is the one --help begins with" "$(head -n "$synopsis_lines" "$T/help.out")" \
		"$(sed -n '/^usage:/,/^Try/p' "$T/fail.err" | sed '$d')"
	expect_fail 2 "$prog: a bad option value is a usage error" "$prog" --threads 0 "$ok"
	stderr_has "$prog: the message names the option" "*--threads*out of range*usage: $prog *"
	expect_fail 2 "$prog: a bad zstd level is a usage error" "$prog" -z99 "$ok"
	expect_fail 2 "$prog: trailing junk in a number is a usage error" "$prog" -j 2x "$ok"

	# --help and --version
	run "$T/help.out" "$T/help.err" "$prog" --help
	same "$prog --help: status 0, quiet stderr" "0:" "$st:$(cat "$T/help.err")"
	same "$prog --help: usage on stdout" "usage: $prog " "$(head -n 1 "$T/help.out" | cut -c 1-$((${#prog} + 8)))"
	same "$prog --help: examples that run $prog" yes \
		"$(sed -n '/^Examples:$/,$p' "$T/help.out" | grep -q "^  $prog " && echo yes)"
	man=$top/bin/${prog#xfer-}.1
	if [ -f "$man" ]; then
		same "$prog: the man page SYNOPSIS is the usage text" "$(head -n "$synopsis_lines" "$T/help.out")" \
			"$(sed -n '/^\.SH SYNOPSIS/,/^\.fi/p' "$man" | sed '1,2d;$d' | sed 's/\\-/-/g')"
	else
		skip "$prog: no man page $man"
	fi
	run "$T/h.out" "$T/h.err" "$prog" -h
	same "$prog -h is --help" "$(cat "$T/help.out")" "$(cat "$T/h.out")"
	run "$T/h.out" "$T/h.err" "$prog" --help "$T/missing.$ext" --no-such-option
	same "$prog --help wins over what follows" 0 "$st"
	run /dev/null "$T/h.err" sh -c "\"$prog\" --help >/dev/full"
	same "$prog --help to a full disk fails" "1:yes" "$st:$(grep -q 'write error' "$T/h.err" && echo yes)"
	run /dev/null "$T/h.err" sh -c "\"$prog\" --version >/dev/full"
	same "$prog --version to a full disk fails" "1:yes" "$st:$(grep -q 'write error' "$T/h.err" && echo yes)"
	run "$T/v.out" "$T/v.err" "$prog" --version
	same "$prog --version" "0:$prog (xfer) $version" "$st:$(cat "$T/v.out")"
	run "$T/v.out" "$T/v.err" "$prog" -V
	same "$prog -V" "0:$prog (xfer) $version:" "$st:$(cat "$T/v.out"):$(cat "$T/v.err")"

	# write errors
	run /dev/null "$T/full.err" sh -c "\"$prog\" \"$ok\" >/dev/full"
	same "$prog > /dev/full fails with status 1" 1 "$st"
	case $(cat "$T/full.err") in
	"$prog: "*"write error"*) pass "$prog > /dev/full says write error" ;;
	*) fail "$prog > /dev/full says write error"; sed 's/^/#   /' "$T/full.err" ;;
	esac
	run /dev/null "$T/full.err" sh -c "\"$prog\" -z \"$ok\" >/dev/full"
	same "$prog -z > /dev/full fails with status 1" "1:yes" "$st:$(grep -q 'write error' "$T/full.err" && echo yes)"

	# SIGPIPE: a reader that goes away kills the program quietly, even if SIGPIPE was ignored
	same "$prog: large output into head -c 1 dies of SIGPIPE" 141 "$(pipe_status "$prog" "$T/big.$ext")"
	same "$prog: ... and says nothing" "" "$(cat "$T/pipe.err")"
	same "$prog: SIGPIPE ignored by the parent shell: still status 141" 141 \
		"$(IGN=1 pipe_status "$prog" "$T/big.$ext")"
	same "$prog: ... and still says nothing" "" "$(cat "$T/pipe.err")"
	same "$prog -z: into head -c 1 with SIGPIPE ignored: status 141" 141 \
		"$(IGN=1 pipe_status "$prog" -z "$T/big.$ext")"

	# binary output to a terminal: refused without -f
	if [ "$have_script" = yes ]; then
		rm -f "$T/tty.st"
		script -qec "'$prog' '$ok' 2>'$T/tty.err'; echo \$? >'$T/tty.st'" /dev/null </dev/null >"$T/tty.out" 2>&1
		same "$prog: binary to a terminal is refused with status 2" 2 "$(cat "$T/tty.st")"
		same "$prog: ... saying why" yes "$(grep -q 'refusing to write binary data to a terminal' "$T/tty.err" && echo yes)"
		same "$prog: ... and writing nothing to it" 0 "$(wc -c <"$T/tty.out")"
		script -qec "'$prog' -f '$ok' 2>'$T/tty.err'; echo \$? >'$T/tty.st'" /dev/null </dev/null >"$T/tty.out" 2>&1
		same "$prog -f: binary to a terminal is written" "0:yes" \
			"$(cat "$T/tty.st"):$(test "$(wc -c <"$T/tty.out")" -gt 100 && echo yes)"
		script -qec "'$prog' -o '$T/tty.$prog.xs' '$ok' 2>'$T/tty.err'; echo \$? >'$T/tty.st'" /dev/null </dev/null >/dev/null 2>&1
		same "$prog -o FILE with stdout a terminal is fine" 0 "$(cat "$T/tty.st")"
		if [ "$prog" = xfer-cat ]; then
			script -qec "xfer-cat --check 2>'$T/tty.err'; echo \$? >'$T/tty.st'" /dev/null </dev/null >/dev/null 2>&1
			same "xfer-cat: reading a stream from a terminal is refused" "2:yes" \
				"$(cat "$T/tty.st"):$(grep -q 'refusing to read binary data from a terminal' "$T/tty.err" && echo yes)"
		fi
	else
		skip "$prog: util-linux script is not available for the terminal tests"
	fi

	# -o FILE: a temporary renamed on success, removed on failure
	o=$T/o-$prog
	mkdir "$o"
	run "$o.out" "$o.err" "$prog" -o "$o/out.xs" "$T/trunc.$ext"
	same "$prog -o: a failed run fails" 1 "$st"
	same "$prog -o: a failed run leaves no file and no temporary" "" "$(ls -A "$o")"
	run "$o.out" "$o.err" "$prog" -o "$o/out.xs" "$T/bigtrunc.$ext"
	same "$prog -o: a failed run that wrote a lot leaves nothing either" "1:" "$st:$(ls -A "$o")"
	echo precious >"$o/keep.xs"
	run "$o.out" "$o.err" "$prog" -o "$o/keep.xs" "$T/trunc.$ext"
	same "$prog -o: a failed run leaves an existing FILE alone" "1:precious:keep.xs" \
		"$st:$(cat "$o/keep.xs"):$(ls -A "$o")"
	run "$o.out" "$o.err" "$prog" -o "$o/keep.xs" "$ok"
	same "$prog -o: success replaces FILE, leaves no temporary, prints nothing" "0:keep.xs::" \
		"$st:$(ls -A "$o"):$(cat "$o.out"):$(cat "$o.err")"
	"$prog" "$ok" >"$T/stdout.xs"
	same "$prog -o: FILE holds what stdout gets" "$(xf-tool dump "$T/stdout.xs")" "$(xf-tool dump "$o/keep.xs")"
	"$prog" -o - "$ok" >"$T/dash.xs"
	same "$prog -o -: stdout" "$(xf-tool dump "$T/stdout.xs")" "$(xf-tool dump "$T/dash.xs")"
	expect_fail 1 "$prog -o in a missing directory fails" "$prog" -o "$o/no/such/dir.xs" "$ok"
	stderr_has "$prog -o: the message names the file" "*no/such/dir.xs*"

	# -o FILE and SIGINT: the temporary goes, the status says SIGINT. The input is a FIFO that
	# nobody writes, so the program waits in open() with its temporary already created.
	mkfifo "$T/fifo-$prog.$ext"
	"$prog" -o "$o/int.xs" "$T/fifo-$prog.$ext" 2>"$T/int.err" &
	pid=$!
	i=0
	while [ "$i" -lt 200 ] && [ -z "$(ls -A "$o" | grep '^int\.xs\.tmp\.' || true)" ]; do
		sleep 0.05
		i=$((i + 1))
	done
	same "$prog -o: the temporary is FILE.tmp.* next to FILE" yes "$(ls -A "$o" | grep -q '^int\.xs\.tmp\.' && echo yes)"
	signal_and_reap INT "$pid"
	same "$prog -o: SIGINT: status 130, no FILE, no temporary, no message" "130:keep.xs:" \
		"$st:$(ls -A "$o"):$(cat "$T/int.err")"
done

# Two concatenated segments (xfer-pack's input is never a stream, so this is xfer-cat's alone).
xf-tool gen blobs --rows 5 --dim 2 --classes 3 --seed 9 >"$T/five.xs"
cat "$T/ok.xs" "$T/five.xs" >"$T/two.xs"
xfer-cat "$T/two.xs" >"$T/two.out"
same "xfer-cat: two concatenated segments are read to the end (18 rows)" 18 \
	"$(xf-tool dump "$T/two.out" | grep -c '^  id\[')"
check "xfer-cat: two segments pass --check" xfer-cat --check "$T/two.xs"
cat "$T/ok.xs" "$T/trunc.xs" >"$T/oktrunc.xs"
expect_fail 1 "xfer-cat: a truncated second segment fails" xfer-cat "$T/oktrunc.xs"
stderr_has "xfer-cat: ... naming the frame in the whole stream" "*oktrunc.xs: frame 1[0-9] (byte [1-9]*"

# Empty input on stdin, and empty among other inputs.
expect_fail 1 "xfer-cat: empty stdin fails" sh -c 'xfer-cat <"$1"' sh "$T/empty.xs"
stderr_has "xfer-cat: ... saying so" "*<stdin>*empty input*"
expect_fail 1 "xfer-cat: an empty file among others fails" xfer-cat "$T/ok.xs" "$T/empty.xs"

finish
