#!/bin/sh
# -o FILE: through a temporary renamed into place for regular files; written in place for
# devices and FIFOs (never replaced); symbolic links followed.
. "$(dirname "$0")/../lib.sh"

xf-tool gen ramp --rows 5 >"$T/in.xs"
for prog in xfer-cat; do
	check "$prog -o /dev/null succeeds" "$prog" -o /dev/null "$T/in.xs"
	same "/dev/null is still a character device" yes "$(test -c /dev/null && echo yes)"
	expect_fail 1 "$prog -o /dev/full fails" "$prog" -o /dev/full "$T/in.xs"
	stderr_has "with a write error" "*write error*"
	same "/dev/full is still a character device" yes "$(test -c /dev/full && echo yes)"
done

echo old >"$T/target"
ln -s target "$T/link"
check "-o through a symbolic link" xfer-cat -o "$T/link" "$T/in.xs"
same "the link is still a link" yes "$(test -L "$T/link" && echo yes)"
check "the file it points at holds the stream" xfer-cat --check "$T/target"

mkfifo "$T/fifo"
xfer-cat --check "$T/fifo" >"$T/fifo.out" 2>&1 &
reader=$!
check "-o a FIFO writes into it" xfer-cat -o "$T/fifo" "$T/in.xs"
wait "$reader" && pass "the FIFO's reader got a valid stream" || fail "the FIFO's reader got a valid stream"
same "the FIFO is still a FIFO" yes "$(test -p "$T/fifo" && echo yes)"

xf-tool corrupt --truncate 40 "$T/in.xs" >"$T/cut.xs"
expect_fail 1 "a failing run" xfer-cat -o "$T/out.xs" "$T/cut.xs"
same "leaves neither the file nor a temporary" "" "$(ls "$T" | grep '^out\.xs' || true)"
echo keep >"$T/old.xs"
expect_fail 1 "a failing run over an existing file" xfer-cat -o "$T/old.xs" "$T/cut.xs"
same "leaves the old file as it was" keep "$(cat "$T/old.xs")"
(umask 027 && xfer-cat -o "$T/mode.xs" "$T/in.xs" && xfer-project --plot "$T/mode.png" "$T/in.xs" >/dev/null 2>&1 || true)
same "-o FILE and plots get the mode the umask gives, as with > FILE" "640 640" \
	"$(stat -c %a "$T/mode.xs") $(stat -c %a "$T/mode.png" 2>/dev/null || echo none)"
finish
