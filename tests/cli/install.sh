#!/bin/sh
# make install puts the programs, man pages, library, headers and xfer.pc under PREFIX, and a
# program built against the installed library through pkg-config reads a stream.
. "$(dirname "$0")/../lib.sh"
prefix=$T/prefix

check "make install PREFIX=..." make -s -C "$top" install PREFIX="$prefix"
for f in bin/xfer-cat bin/xfer-pack lib/libxfer.a include/xfer/reader.h lib/pkgconfig/xfer.pc \
	share/man/man1/xfer-cat.1 share/man/man1/xfer-pack.1; do
	if [ -e "$prefix/$f" ]; then pass "installed $f"; else fail "installed $f"; fi
done
same "the installed xfer-cat runs" "xfer-cat (xfer) 0.1.0" "$("$prefix/bin/xfer-cat" --version)"

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
same "uninstall leaves no files" "" "$(find "$prefix" -type f)"
finish
