#!/bin/sh
# Each program's man page: its SYNOPSIS is the --help synopsis, word for word, and its
# EXAMPLES are the ones --help shows.
. "$(dirname "$0")/../lib.sh"

for page in "$top"/bin/*.1; do
	prog=xfer-$(basename "$page" .1)
	sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$page" | sed '/^\./d; s/\\-/-/g' >"$T/man.syn"
	"$prog" --help | sed -n '1,/^$/p' | sed '/^$/d' >"$T/help.syn"
	same "$prog: the man page's synopsis is --help's" "$(cat "$T/help.syn")" "$(cat "$T/man.syn")"
	sed -n '/^\.SH EXAMPLES/,/^\.SH SEE ALSO/p' "$page" | sed '/^\./d; s/\\-/-/g' >"$T/man.ex"
	"$prog" --help | sed -n '/^Examples:/,/^$/p' | sed '1d; /^$/d; s/^  //' >"$T/help.ex"
	same "$prog: the man page's examples are --help's" "$(cat "$T/help.ex")" "$(cat "$T/man.ex")"
	expect_fail 2 "$prog: a bad option prints the synopsis" "$prog" --no-such-option
	stderr_has "$prog: the synopsis is on stderr" "*usage: $prog*"
done
finish
