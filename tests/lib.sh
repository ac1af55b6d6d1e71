# Sourced by every CLI test: TAP output, a scratch directory, the built programs first on PATH.
#   check "description" command...      passes when the command exits 0
#   expect_fail STATUS "description" command...   exact exit status, empty stdout, a message on stderr
#   same "description" EXPECTED ACTUAL    compares two strings
set -eu
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
# XF_TEST_PATH: a directory of wrappers to run instead (tests/run-valgrind: the programs under valgrind)
PATH="${XF_TEST_PATH:+$XF_TEST_PATH:}$top/bin:$top/tests/helpers:$PATH"
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/xfer-test.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$T"' EXIT
n=0
failures=0

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $1"; }

check() {
	desc=$1; shift
	if "$@" >"$T/check.out" 2>"$T/check.err"; then pass "$desc"; else
		fail "$desc"; sed 's/^/#   /' "$T/check.err" | head -n 20; fi
}

expect_fail() {
	want=$1 desc=$2; shift 2
	set +e
	"$@" >"$T/fail.out" 2>"$T/fail.err"
	got=$?
	set -e
	if [ "$got" -gt 128 ] && [ "$want" -le 128 ]; then
		fail "$desc (killed by signal $((got - 128)))"
	elif [ "$got" -ne "$want" ]; then
		fail "$desc (exit $got, want $want)"; sed 's/^/#   /' "$T/fail.err" | head -n 5
	elif [ -s "$T/fail.out" ]; then
		fail "$desc (wrote to stdout)"
	elif [ "$want" -ne 141 ] && [ ! -s "$T/fail.err" ]; then
		fail "$desc (no message)"
	else
		pass "$desc"
	fi
}

# The stderr of the last expect_fail matches a glob.
stderr_has() {
	case $(cat "$T/fail.err") in
	$2) pass "$1" ;;
	*) fail "$1"; sed 's/^/#   got: /' "$T/fail.err" | head -n 3 ;;
	esac
}

same() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1"; printf '#   want: %s\n#   got:  %s\n' "$2" "$3" | head -n 10; fi
}

# An oracle (numpy, scipy, jsonschema) is missing: a skip on a developer's machine, a failure
# in CI, where tools/install-deps installs every oracle and a silent skip would hide a defect.
skip_oracle() {
	if [ -n "${CI:-}" ]; then fail "$1 (CI must have it)"; else pass "# skip: $1"; fi
}

# signal_and_reap SIG PID: send SIG, give PID 10 s to end, then SIGKILL (so a program that
# ignores SIG fails its test rather than hangs it); its exit status goes in $st.
signal_and_reap() {
	kill -"$1" "$2" 2>/dev/null || true
	i=0
	while [ "$i" -lt 200 ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$2" 2>/dev/null || true
	set +e
	wait "$2"
	st=$?
	set -e
}

has_python() { "$PY" -c 'import numpy, msgpack, msgpack_numpy' 2>/dev/null; }

finish() {
	echo "1..$n"
	[ "$failures" -eq 0 ]
}
