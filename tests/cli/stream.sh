#!/bin/sh
# The stream format end to end: Python interop, truncation, corruption, zstd, concatenation.
. "$(dirname "$0")/../lib.sh"

xf-tool gen blobs --rows 40 --dim 3 --classes 4 --batch-bytes 300 >"$T/a.xs"
xf-tool dump "$T/a.xs" >"$T/a.dump"
same "small batches: several batch frames" "yes" "$(test "$(grep -c '^batch' "$T/a.dump")" -gt 3 && echo yes)"

# Truncation at every byte: --check fails with a message, except at the very end.
size=$(wc -c <"$T/a.xs")
bad=0 silent=0 i=0
while [ "$i" -lt "$size" ]; do
	head -c "$i" "$T/a.xs" >"$T/cut.xs"
	if xfer-cat --check "$T/cut.xs" 2>"$T/cut.err"; then bad=$((bad + 1)); fi
	[ -s "$T/cut.err" ] || silent=$((silent + 1))
	i=$((i + 1))
done
same "every truncation of a $size-byte stream fails --check" 0 "$bad"
same "every truncation is explained on stderr" 0 "$silent"
check "the whole stream passes --check" xfer-cat --check "$T/a.xs"

# A cut between segments leaves a valid shorter stream.
cat "$T/a.xs" "$T/a.xs" >"$T/aa.xs"
head -c "$size" "$T/aa.xs" >"$T/cut.xs"
check "a cut between segments is a valid stream" xfer-cat --check "$T/cut.xs"
head -c $((size + 1)) "$T/aa.xs" >"$T/cut.xs"
expect_fail 1 "a cut one byte into the second segment fails" xfer-cat --check "$T/cut.xs"
stderr_has "the message says truncated" "*truncated*"

# Flipping any single byte never crashes (status 0 or 1, never a signal).
crashed=0 i=0
while [ "$i" -lt "$size" ]; do
	xf-tool corrupt --flip "$i" "$T/a.xs" >"$T/flip.xs"
	set +e; xfer-cat --info "$T/flip.xs" >/dev/null 2>&1; st=$?; set -e
	[ "$st" -le 1 ] || crashed=$((crashed + 1))
	i=$((i + 7))
done
same "flipped bytes never crash xfer-cat" 0 "$crashed"

head -c 100000 /dev/urandom >"$T/garbage"
set +e; xfer-cat --check "$T/garbage" >/dev/null 2>"$T/g.err"; st=$?; set -e
same "random garbage is refused with status 1" 1 "$st"

if has_python; then
	# Python writes a stream with msgpack + msgpack_numpy only; xfer reads it.
	"$PY" - "$T/py.xs" <<'PY'
import sys, msgpack, msgpack_numpy as m, numpy as np
x = np.arange(12, dtype='<f8').reshape(4, 3) / 7
y = np.array([3, 1, 4, 1], dtype='<i4')
frames = [
    {"t": "header", "xfer": 1, "kind": "samples",
     "fields": {"x": {"dtype": "<f8", "shape": [3]}, "y": {"dtype": "<i4", "shape": []},
                "id": {"dtype": "str", "shape": []}},
     "meta": {"classes": ["a", "b", "c", "d", "e"]}},
    {"t": "batch", "n": 4, "cols": {"x": x, "y": y, "id": ["p", "q", "r", "s"]}},
    {"t": "end", "rows": 4},
]
with open(sys.argv[1], "wb") as f:
    for fr in frames:
        f.write(msgpack.packb(fr, default=m.encode, use_bin_type=True))
PY
	check "a stream written by Python passes --check" xfer-cat --check "$T/py.xs"
	same "xfer reads Python's values exactly" "x[0] 0 0.14285714285714285 0.2857142857142857" \
		"$(xf-tool dump "$T/py.xs" | sed -n 's/^  \(x\[0\]\)/\1/p')"
	# xfer writes (through xfer-cat, which re-encodes); Python reads back identical values.
	xfer-cat "$T/py.xs" >"$T/back.xs"
	"$PY" - "$T/back.xs" >"$T/py.out" <<'PY'
import sys, msgpack, msgpack_numpy as m, numpy as np
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
b = fr[1]["cols"]
x = np.arange(12, dtype='<f8').reshape(4, 3) / 7
ok = (np.array_equal(b["x"], x) and b["x"].dtype == np.float64 and list(b["y"]) == [3, 1, 4, 1]
      and b["y"].dtype == np.int32 and b["id"] == ["p", "q", "r", "s"]
      and fr[0]["meta"]["classes"] == ["a", "b", "c", "d", "e"]
      and fr[0]["meta"]["history"][-1]["prog"] == "xfer-cat" and fr[2] == {"t": "end", "rows": 4})
print("identical" if ok else repr(fr))
PY
	same "Python reads xfer's output identically" identical "$(cat "$T/py.out")"
	# A shape claiming more bytes than the data holds is refused.
	"$PY" - "$T/liar.xs" <<'PY'
import sys, msgpack
nd = {b"nd": True, b"type": "<f4", b"kind": b"", b"shape": [1000000000, 1000], b"data": b"\0" * 16}
fr = [{"t": "header", "xfer": 1, "kind": "samples", "fields": {"x": {"dtype": "<f4", "shape": [1000]}}, "meta": {}},
      {"t": "batch", "n": 1000000000, "cols": {"x": nd}}, {"t": "end", "rows": 1000000000}]
open(sys.argv[1], "wb").write(b"".join(msgpack.packb(f, use_bin_type=True) for f in fr))
PY
	expect_fail 1 "a shape that claims more bytes than exist is refused" xfer-cat --check "$T/liar.xs"
	stderr_has "the message gives the shape and the bytes" "*needs 4000000000000 bytes, data has 16*"
	printf '\xdd\xff\xff\xff\xff' >"$T/huge-array.xs"
	expect_fail 1 "an array header claiming 2^32 items is refused without allocating" xfer-cat --check "$T/huge-array.xs"
fi

# zstd: written with -z, detected on input, and the zstd command line reads it.
xfer-cat "$T/a.xs" | xf-tool dump >"$T/a.rebatched"
xfer-cat -z "$T/a.xs" >"$T/a.xs.zst"
check "zstd output passes --check" xfer-cat --check "$T/a.xs.zst"
same "zstd round trip" "$(cat "$T/a.rebatched")" "$(xf-tool dump "$T/a.xs.zst")"
zstd -dc "$T/a.xs.zst" >"$T/plain.xs"
same "the zstd tool decompresses it" "$(cat "$T/a.rebatched")" "$(xf-tool dump "$T/plain.xs")"
zstd -q -c "$T/a.xs" >"$T/z1.zst"
cat "$T/z1.zst" "$T/z1.zst" >"$T/zz.zst"
same "concatenated zstd frames are one stream of two segments" 80 \
	"$(xfer-cat "$T/zz.zst" | xf-tool dump | grep -c '^  y\[')"
head -c 30 "$T/z1.zst" >"$T/zcut.zst"
expect_fail 1 "a truncated zstd stream fails" xfer-cat --check "$T/zcut.zst"
xfer-cat -o "$T/out.xs.zst" "$T/a.xs"
same "-o NAME.zst compresses" "28b52ffd" "$(head -c 4 "$T/out.xs.zst" | od -An -tx1 | tr -d ' \n')"

finish
