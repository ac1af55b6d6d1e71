#!/bin/sh
# make install puts the programs, their man pages and bash completion, the library, headers and
# xfer.pc under PREFIX (and under DESTDIR when given); every man page renders; the completion
# completes each program's options, the values --help names and file names; a program built
# against the installed library through pkg-config reads a stream; make uninstall removes it all.
. "$(dirname "$0")/../lib.sh"
prefix=$T/prefix
comp=share/bash-completion/completions
programs=""
for c in "$top"/bin/*.c; do programs="$programs xfer-$(basename "$c" .c)"; done

check "make install PREFIX=..." make -s -C "$top" install PREFIX="$prefix"
for f in lib/libxfer.a include/xfer/reader.h lib/pkgconfig/xfer.pc $comp/xfer; do
	if [ -e "$prefix/$f" ]; then pass "installed $f"; else fail "installed $f"; fi
done
same "the installed xfer-cat runs" "xfer-cat (xfer) 0.1.0" "$("$prefix/bin/xfer-cat" --version)"

# Every program, its man page (rendered as man(1) would) and its completion file.
if command -v man >/dev/null 2>&1; then
	render() { MANWIDTH=100 man -l "$1"; }
elif command -v groff >/dev/null 2>&1; then
	render() { groff -man -Tutf8 -rLL=100n "$1"; }
else
	render() { return 3; }
fi
for p in $programs; do
	for f in bin/$p share/man/man1/$p.1 $comp/$p; do
		if [ -e "$prefix/$f" ]; then pass "installed $f"; else fail "installed $f"; fi
	done
	status=0
	render "$prefix/share/man/man1/$p.1" >"$T/man.txt" 2>"$T/man.err" || status=$?
	if [ "$status" -eq 3 ]; then
		skip_oracle "man -l $p.1 renders (neither man nor groff: apt-get install man-db)"
		continue
	fi
	if [ "$status" -eq 0 ] && [ ! -s "$T/man.err" ] &&
		grep -q "^SYNOPSIS" "$T/man.txt" && grep -q "^OPTIONS" "$T/man.txt" &&
		grep -q "usage: $p" "$T/man.txt"; then
		pass "man -l share/man/man1/$p.1 renders"
	else
		fail "man -l share/man/man1/$p.1 renders (exit $status)"
		sed 's/^/#   /' "$T/man.err" | head -n 5
	fi
done

# Completion: source the installed file under a program's name, as bash-completion loads it,
# and call its function the way bash does (COMP_WORDS, COMP_CWORD), in a directory of files.
mkdir "$T/work"
: >"$T/work/a.xs"
: >"$T/work/ab.xs"
: >"$T/work/base.safetensors"
cat >"$T/complete.bash" <<'EOF'
# complete.bash COMPLETION_FILE WORD...: the candidates for the last word, one per line
file=$1
shift
source "$file"
complete -p "$1" >/dev/null || exit 3
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
_xfer "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort
EOF
completes() { # completes "description" "EXPECTED WORDS" WORD...
	desc=$1 want=$2
	shift 2
	got=$(cd "$T/work" && bash "$T/complete.bash" "$prefix/$comp/$1" "$@" 2>&1 | tr '\n' ' ')
	same "$desc" "$want" "${got% }"
}
if command -v bash >/dev/null 2>&1; then
	for p in $programs; do
		"$p" --help | LC_ALL=C awk -f "$top/tools/helpopts.awk" | cut -f1 | grep '^--' >"$T/want"
		echo --help >>"$T/want"
		(cd "$T/work" && bash "$T/complete.bash" "$prefix/$comp/$p" "$p" --) >"$T/got" 2>&1 || true
		same "$p --<TAB> offers every long option of its --help" "" \
			"$(sort -u "$T/want" | comm -23 - "$T/got" | tr '\n' ' ')"
		completes "$p <TAB> offers files" "a.xs ab.xs base.safetensors" "$p" ""
	done
	completes "xfer-merge --me<TAB>" "--method" xfer-merge --me
	completes "xfer-merge --method <TAB>: the methods" \
		"dare linear model-stock slerp task-arithmetic ties" xfer-merge --method ""
	completes "xfer-merge --method t<TAB>" "task-arithmetic ties" xfer-merge --method t
	completes "xfer-merge --method=t<TAB> (= a word of its own, as bash splits it)" \
		"task-arithmetic ties" xfer-merge --method = t
	completes "xfer-merge --method=t<TAB> (one word)" "--method=task-arithmetic --method=ties" \
		xfer-merge --method=t
	completes "xfer-merge --method ties a<TAB>: operands are files" "a.xs ab.xs" \
		xfer-merge --method ties a
	completes "xfer-merge --base <TAB>: a file" "a.xs ab.xs base.safetensors" xfer-merge --base ""
	completes "xfer-merge -o <TAB>: a file" "a.xs ab.xs base.safetensors" xfer-merge -o ""
	completes "xfer-merge --lambda <TAB>: a number, no candidates" "" xfer-merge --lambda ""
	completes "xfer-merge --elect <TAB>: takes no value, so files" "a.xs ab.xs base.safetensors" \
		xfer-merge --elect ""
	completes "xfer-score -m logme,hs<TAB>: a list after its comma" \
		"logme,hscore logme,hscore_shrinkage" xfer-score -m logme,hs
	completes "xfer-cat --to <TAB>" "csv jsonl npy npz" xfer-cat --to ""
	completes "xfer-project --dim <TAB>" "1 2 3" xfer-project --dim ""
	completes "xfer-train --model <TAB>: models and files" \
		"a.xs ab.xs base.safetensors krr mlp ridge softmax" xfer-train --model ""
	completes "xfer-cat -- -<TAB>: no options after --" "" xfer-cat -- -
else
	skip_oracle "bash completion (no bash)"
fi

if nm "$top/lib/libxfer.a" 2>/dev/null | grep -q __asan; then
	pass "# skip linking against the installed library: this build uses sanitizers"
else
	cat >"$T/count.c" <<'C'
#include <stdio.h>
#include <xfer/reader.h>
int main(int argc, char **argv)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_reader *r = xf_reader_open(argc > 1 ? argv[1] : "-", &err);
	struct xf_frame f;
	long long rows = 0;
	int rc;

	while (r && (rc = xf_reader_next(r, &f, &err)) > 0) {
		if (f.type == XF_FRAME_BATCH)
			rows += f.n_rows;
		xf_frame_release(&f);
	}
	xf_reader_close(r);
	if (err.code) {
		fprintf(stderr, "count: %s\n", err.msg);
		return 1;
	}
	printf("%lld\n", rows);
	return 0;
}
C
	flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs xfer)
	# shellcheck disable=SC2086
	check "a program compiles against the installed library via pkg-config" \
		cc -std=c11 -o "$T/count" "$T/count.c" $flags
	xf-tool gen blobs --rows 17 >"$T/s.xs"
	same "it reads a stream" 17 "$("$T/count" "$T/s.xs" 2>&1)"
fi
check "make uninstall" make -s -C "$top" uninstall PREFIX="$prefix"
same "uninstall leaves no files or links" "" "$(find "$prefix" ! -type d)"

# DESTDIR: a staged install for a package, with paths that name the final PREFIX.
dest=$T/dest
check "make install DESTDIR=... PREFIX=/opt/xfer" make -s -C "$top" install DESTDIR="$dest" PREFIX=/opt/xfer
for f in bin/xfer-merge share/man/man1/xfer-merge.1 $comp/xfer-merge; do
	if [ -e "$dest/opt/xfer/$f" ]; then pass "staged $f"; else fail "staged $f"; fi
done
same "the staged xfer.pc names the final prefix" "prefix=/opt/xfer" \
	"$(grep '^prefix=' "$dest/opt/xfer/lib/pkgconfig/xfer.pc")"
check "make uninstall DESTDIR=..." make -s -C "$top" uninstall DESTDIR="$dest" PREFIX=/opt/xfer
same "uninstall leaves nothing staged" "" "$(find "$dest" ! -type d)"
finish
