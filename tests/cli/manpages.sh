#!/bin/sh
# Each program's man page, bin/xfer-NAME.1, is made by tools/mkman from the hand-written
# bin/NAME.1.in and the program's --help. Checked here: every program has a source; the built
# page is what tools/mkman makes from today's --help; its SYNOPSIS and EXAMPLES are --help's word
# for word and every option --help lists has an entry under OPTIONS; groff renders it without a
# warning; the options --help lists are the ones the program's getopt table takes, with an
# argument exactly when the table says so; a bad option prints the synopsis.
. "$(dirname "$0")/../lib.sh"

# roff text back to plain text: requests out, escapes undone
unroff() { sed '/^\./d; s/\\-/-/g; s/\\e/\\/g; s/\\&//g; s/\\f[BIRP]//g'; }

# --name no|required|optional for each long option of a getopt table (lib/prog.h has the common
# ones every program appends)
c_options() {
	cat "$1" "$top/lib/prog.h" | grep -o '{ *"[a-z0-9-]*", *[a-z_]*_argument' |
		sed 's/{ *"\([^"]*\)", *\([a-z]*\)_argument/--\1 \2/' | sort -u
}

for c in "$top"/bin/*.c; do
	name=$(basename "$c" .c)
	prog=xfer-$name
	src=$top/bin/$name.1.in
	page=$top/bin/$prog.1
	if [ ! -f "$src" ]; then
		fail "$prog: bin/$name.1.in, the source of its man page, exists"
		continue
	fi
	if [ ! -f "$page" ]; then
		fail "$prog: make built bin/$prog.1"
		continue
	fi
	"$prog" --help >"$T/help"
	LC_ALL=C awk -f "$top/tools/helpopts.awk" "$T/help" >"$T/opts"

	if (cd "$top" && tools/mkman "bin/$name.1.in" "bin/$prog") >"$T/page" 2>"$T/mkman.err" &&
		cmp -s "$T/page" "$page"; then
		pass "$prog: bin/$prog.1 is what tools/mkman makes from --help now"
	else
		fail "$prog: bin/$prog.1 is what tools/mkman makes from --help now (run make)"
		sed 's/^/#   /' "$T/mkman.err"
	fi

	sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$page" | unroff >"$T/man.syn"
	sed -n '1,/^$/p' "$T/help" | sed '/^$/d' >"$T/help.syn"
	same "$prog: the man page's synopsis is --help's" "$(cat "$T/help.syn")" "$(cat "$T/man.syn")"
	sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$page" | unroff >"$T/man.ex"
	sed -n '/^Examples:/,/^$/p' "$T/help" | sed '1d; /^$/d; s/^  //' >"$T/help.ex"
	same "$prog: the man page's examples are --help's" "$(cat "$T/help.ex")" "$(cat "$T/man.ex")"

	# every option of --help, in one of its spellings (-o, --output), is named in an OPTIONS
	# heading (the line after .TP)
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$page" | sed -n '/^\.TP/{n;p;}' | unroff >"$T/headings"
	missing=""
	cut -f1,3 "$T/opts" >"$T/spellings"
	while read -r o alias; do
		for spelling in $o $alias; do
			grep -q -e "\(^\|[ ,]\)$spelling\([] ,[]\|\$\)" "$T/headings" && continue 2
		done
		missing="$missing $o"
	done <"$T/spellings"
	same "$prog: every option --help lists has an entry under OPTIONS" "" "$missing"

	if command -v groff >/dev/null 2>&1; then
		groff -man -Tutf8 -ww -z "$page" >"$T/groff.err" 2>&1 || true
		same "$prog: groff renders the page without a warning" "" "$(cat "$T/groff.err")"
	else
		skip_oracle "$prog: groff renders the page (no groff: apt-get install groff-base)"
	fi

	awk -F '\t' '$1 ~ /^--/ { print $1, ($2 == "" ? "no" : ($2 ~ /^\[/ ? "optional" : "required")) }' \
		"$T/opts" | sort -u >"$T/help.longopts"
	c_options "$c" >"$T/c.longopts"
	same "$prog: --help's options are in its getopt table, each with its kind of argument" "" \
		"$(comm -23 "$T/help.longopts" "$T/c.longopts" | tr '\n' ' ')"

	expect_fail 2 "$prog: a bad option prints the synopsis" "$prog" --no-such-option
	stderr_has "$prog: the synopsis is on stderr" "*usage: $prog*"
done
finish
