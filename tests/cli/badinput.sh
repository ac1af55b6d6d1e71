#!/bin/sh
# The bad-input matrix (issue 10): every program against empty input, garbage bytes, a truncated
# input, the wrong kind, mismatched shapes, NaN/Inf, labels out of range (negative; at or above
# the declared classes), a single class, D > N, and a declared shape of 2^60 elements. Where the
# case is an error: status 1, one message naming the program and the input, nothing on stdout,
# nothing left by -o, no crash, no hang (timeout 20). Where it is not an error for the program
# (marked 0 in the table), the documented success: status 0. The table is printed at the end;
# SHOW=1 also prints each message.
. "$(dirname "$0")/../lib.sh"

if ! has_python; then
	skip_oracle "/usr/bin/python3 with numpy and msgpack makes the bad streams"
	finish
	exit
fi

# Inputs, one directory per kind of input, each case as bad-CASE.*:
#   s samples streams (x <f4 [3], y <i8, 3 classes, 12 rows)   m models for -m (linear 3 -> 3)
#   e as s, but D > N fits the model (2 rows of 3)             g models for xfer-merge
#   n .npy/.npz for xfer-pack                                  c .csv for xfer-pack
I=$T/in
mkdir -p "$I/s" "$I/e" "$I/m" "$I/g" "$I/n" "$I/c"
"$PY" - "$I" <<'PY'
import sys, msgpack, msgpack_numpy as m, numpy as np

I = sys.argv[1]
def put(f, frame):
    f.write(msgpack.packb(frame, default=m.encode, use_bin_type=True))
def raw(path, data):
    open(path, "wb").write(data)
def huge_array(shape):  # an ndarray that declares 2^60 elements and holds 16 bytes
    return {b"nd": True, b"type": "<f4", b"kind": b"", b"shape": shape, b"data": bytes(16)}

def samples(path, x, y, meta=None):
    with open(path, "wb") as f:
        put(f, {"t": "header", "xfer": 1, "kind": "samples", "meta": meta or {},
                "fields": {"x": {"dtype": "<f4", "shape": list(x.shape[1:])},
                           "y": {"dtype": "<i8", "shape": []}}})
        put(f, {"t": "batch", "n": len(x), "cols": {"x": x, "y": y}})
        put(f, {"t": "end", "rows": len(x)})

def model(path, w, b, n_in=None):
    n_in = n_in or w.shape[1]
    with open(path, "wb") as f:
        put(f, {"t": "header", "xfer": 1, "kind": "model", "meta": {},
                "fields": {"fc.weight": {"dtype": "<f4", "shape": list(w.shape)},
                           "fc.bias": {"dtype": "<f4", "shape": list(b.shape)}},
                "graph": {"inputs": {"x": {"shape": [n_in]}}, "outputs": ["fc"],
                          "nodes": [{"name": "fc", "op": "linear", "inputs": ["x"],
                                     "weights": {"weight": "fc.weight", "bias": "fc.bias"}}]}})
        put(f, {"t": "tensor", "name": "fc.weight", "data": w})
        put(f, {"t": "tensor", "name": "fc.bias", "data": b})
        put(f, {"t": "end", "tensors": 2})

rng = np.random.default_rng(1)
n, d, c = 12, 3, 3
y = np.arange(n, dtype="<i8") % c
x = (3 * y[:, None] + rng.standard_normal((n, d))).astype("<f4")
xnan = x.copy(); xnan[4, 1] = np.nan; xnan[7, 0] = np.inf
yneg = y.copy(); yneg[5] = -1
ybig = y.copy(); ybig[5] = 7
xwide, ywide = rng.standard_normal((4, 10)).astype("<f4"), np.array([0, 1, 0, 1], "<i8")
classes = {"classes": ["a", "b", "c"]}
garbage = bytes(range(256)) * 4

s = I + "/s/"
samples(s + "good.xs", x, y, classes)
raw(s + "bad-empty.xs", b"")
raw(s + "bad-garbage.xs", garbage)
raw(s + "bad-trunc.xs", open(s + "good.xs", "rb").read()[:-40])     # inside the batch
samples(s + "bad-shape.xs", x[:10], y[:9])                            # n = 10, y has 9 rows
samples(s + "bad-nan.xs", xnan, y)
samples(s + "bad-neg.xs", x, yneg, classes)
samples(s + "bad-big.xs", x, ybig, classes)                           # label 7 of 3 classes
samples(s + "bad-single.xs", x, np.zeros(n, "<i8"))
samples(s + "bad-wide.xs", xwide, ywide)                              # D = 10 > N = 4
with open(s + "bad-huge.xs", "wb") as f:
    put(f, {"t": "header", "xfer": 1, "kind": "samples", "meta": {},
            "fields": {"x": {"dtype": "<f4", "shape": [2**60]}, "y": {"dtype": "<i8", "shape": []}}})
    put(f, {"t": "batch", "n": 1, "cols": {"x": huge_array([1, 2**60]), "y": np.zeros(1, "<i8")}})
    put(f, {"t": "end", "rows": 1})
samples(I + "/e/bad-wide.xs", x[:2], y[:2])                           # D = 3 > N = 2

w, b = rng.standard_normal((c, d)).astype("<f4"), np.zeros(c, "<f4")
wnan = w.copy(); wnan[1, 1] = np.nan
for k in "mg":
    p = I + "/" + k + "/"
    model(p + "good.xs", w, b)
    raw(p + "bad-empty.xs", b"")
    raw(p + "bad-garbage.xs", garbage)
    raw(p + "bad-trunc.xs", open(p + "good.xs", "rb").read()[:-30])  # inside the last tensor
    raw(p + "bad-kind.xs", open(s + "good.xs", "rb").read())
    model(p + "bad-nan.xs", wnan, b)
    with open(p + "bad-huge.xs", "wb") as f:
        put(f, {"t": "header", "xfer": 1, "kind": "model", "meta": {},
                "fields": {"fc.weight": {"dtype": "<f4", "shape": [2**30, 2**30]}}})
        put(f, {"t": "tensor", "name": "fc.weight", "data": huge_array([2**30, 2**30])})
        put(f, {"t": "end", "tensors": 1})
model(I + "/m/bad-shape.xs", np.ones((c, d + 1), "<f4"), b, n_in=d)  # weight [3, 4], input 3
model(I + "/g/bad-shape.xs", np.ones((c, d + 1), "<f4"), b)          # the other model is [3, 3]
raw(s + "bad-kind.xs", open(I + "/m/good.xs", "rb").read())

p = I + "/n/"
raw(p + "bad-empty.npy", b"")
raw(p + "bad-garbage.npy", garbage)
np.save(p + "x.npy", x)
raw(p + "bad-trunc.npy", open(p + "x.npy", "rb").read()[:-20])
raw(p + "bad-kind.npy", open(s + "good.xs", "rb").read())          # a stream is not an array
np.savez(p + "bad-shape.npz", x=x[:10], y=y[:9])
np.savez(p + "bad-nan.npz", x=xnan, y=y)
np.savez(p + "bad-neg.npz", x=x, y=yneg)
np.savez(p + "bad-single.npz", x=x, y=np.zeros(n, "<i8"))
np.savez(p + "bad-wide.npz", x=xwide, y=ywide)
head = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 2), }" % 2**60
head += " " * (117 - len(head)) + "\n"
raw(p + "bad-huge.npy", b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode() + bytes(64))

p = I + "/c/"
def csv(path, x, y, header="a,b,c,label"):
    open(path, "w").write(header + "\n" + "".join(",".join("%g" % v for v in r) + ",%d\n" % l
                                                 for r, l in zip(x, y)))
raw(p + "bad-empty.csv", b"")
raw(p + "bad-garbage.csv", garbage)
csv(p + "good.csv", x, y)
raw(p + "bad-trunc.csv", open(p + "good.csv", "rb").read().rsplit(b",", 1)[0])  # no last label
raw(p + "bad-kind.csv", open(s + "good.xs", "rb").read())
csv(p + "bad-shape.csv", x, y)
open(p + "bad-shape.csv", "a").write("1,2,0\n")                     # a row of 3 cells of 4
csv(p + "bad-nan.csv", xnan, y)
csv(p + "bad-neg.csv", x, yneg)
csv(p + "bad-single.csv", x, np.zeros(n, "<i8"))
csv(p + "bad-wide.csv", xwide, ywide, ",".join("f%d" % j for j in range(10)) + ",label")
PY
for f in "$I"/s/*; do [ -e "$I/e/${f##*/}" ] || ln -s "$f" "$I/e/${f##*/}"; done

cases="empty garbage trunc kind shape nan neg big single wide huge"
O=$T/o
mkdir "$O"
table=""

# cell ROW CASE WANT FILE PROG ARGS...: run PROG -q -o $O/out.xs ARGS, with @ in ARGS standing for
# FILE, and check it against WANT (1: an error, 0: success). Sets $mark, the table's cell.
cell() {
	row=$1 case=$2 want=$3 file=$4 prog=$5
	shift 5
	n_args=$#
	for a in "$@"; do
		case $a in *@*) a=${a%%@*}$file${a#*@} ;; esac
		set -- "$@" "$a"
	done
	shift "$n_args"
	set +e
	timeout 20 "$prog" -q -o "$O/out.xs" "$@" >"$T/cell.out" 2>"$T/cell.err"
	st=$?
	set -e
	why=""
	if [ "$st" -ne "$want" ]; then
		why="status $st"
		mark=!$st
		[ "$st" -gt 128 ] && why="killed by signal $((st - 128))"
		[ "$st" -eq 124 ] && why="timed out" mark=!hang
	elif [ -s "$T/cell.out" ]; then
		why="wrote to stdout" mark=!stdout
	elif [ "$want" -eq 1 ] && [ "$(wc -l <"$T/cell.err")" -ne 1 ]; then
		why="$(wc -l <"$T/cell.err") lines on stderr, want one" mark=!msg
	elif [ "$want" -eq 1 ] && ! grep -q "^$prog: .*bad-$case" "$T/cell.err"; then
		why="the message does not name $prog and the input" mark=!msg
	elif [ "$want" -eq 1 ] && [ "$(grep -o "bad-$case" "$T/cell.err" | wc -l)" -ne 1 ]; then
		why="the message names the input more than once" mark=!msg
	elif [ "$want" -eq 1 ] && [ -n "$(ls -A "$O")" ]; then
		why="left $(ls -A "$O" | tr '\n' ' ')" mark=!file
	else
		mark=ok
		[ "$want" -eq 0 ] && mark=0
	fi
	if [ -z "$why" ]; then
		[ -n "${SHOW:-}" ] && sed "s/^/#   /" "$T/cell.err"
		pass "$row: $case: $([ "$want" -eq 1 ] && echo "status 1, one message, nothing left" || echo "not an error: status 0")"
	else
		fail "$row: $case: $why"
		sed 's/^/#   /' "$T/cell.err" | head -n 3
	fi
	rm -rf "$O"/* "$O"/.[!.]*
}

# row LABEL DIR WANTS PROG ARGS...: one cell per case, the input being DIR/bad-CASE.*; WANTS has
# one word per case: 1 (an error), 0 (not an error for this program), - (does not apply).
row() {
	label=$1 dir=$2 wants=$3
	shift 3
	line=$(printf '%-26s' "$label")
	i=0
	for c in $cases; do
		i=$((i + 1))
		want=$(echo "$wants" | cut -d' ' -f"$i")
		file=$(ls "$I/$dir/bad-$c".* 2>/dev/null | head -n 1)
		if [ "$want" = - ] || [ -z "$file" ]; then
			mark=-
		else
			cell "$label" "$c" "$want" "$file" "$@"
		fi
		line="$line $(printf '%-7s' "$mark")"
	done
	table="$table
$line"
}

# The successes: xfer-pack stores NaN and any labels as they are (schemas/stream.md §6: floats
# MAY be NaN; labels are only numbers or names to it), and so does xfer-cat, which reads any kind;
# xfer-embed carries labels through untouched; labels count 0..max (score, project, prune)
# unless classes are declared (xfer-train --classes); kcenter and t-SNE need no classes;
# D > N is fine for all (ridge-regularised, rank-deficient PCA, t-SNE on 4 points).
#                                 empty garb trunc kind shape nan neg big single wide huge
row "xfer-pack NPY"         n    "1 1 1 1 1 0 0 - 0 0 1" xfer-pack @
row "xfer-pack CSV"         c    "1 1 1 1 1 0 0 - 0 0 -" xfer-pack @ --label-column label
row "xfer-cat --check"      s    "1 1 1 0 1 0 0 0 0 0 1" xfer-cat --check @
row "xfer-cat"              s    "1 1 1 0 1 0 0 0 0 0 1" xfer-cat @
row "xfer-embed"            e    "1 1 1 1 1 1 0 0 0 0 1" xfer-embed -m "$I/m/good.xs" @
row "xfer-embed -m MODEL"   m    "1 1 1 1 1 1 - - - - 1" xfer-embed -m @ "$I/s/good.xs"
row "xfer-score -m all"     s    "1 1 1 1 1 1 1 0 1 0 1" xfer-score -m all @
row "xfer-project --plot"   s    "1 1 1 1 1 1 1 0 0 0 1" xfer-project --plot "$O/plot.png" @
row "xfer-train softmax"    s    "1 1 1 1 1 1 1 1 1 0 1" xfer-train --model softmax --classes 3 @
row "xfer-prune kcenter"    s    "1 1 1 1 1 1 1 0 0 0 1" xfer-prune --method kcenter --keep 2 @
row "xfer-merge --method linear" g "1 1 1 1 1 1 - - - - 1" xfer-merge --method linear "$I/g/good.xs" @

echo "# bad-input matrix: ok = status 1 with one message, nothing left; 0 = not an error for the"
echo "# program, status 0 (documented); - = does not apply; !X = a failure: the status X, a hang,"
echo "# output on stdout, a missing or unclear message, a file left behind"
printf '# %-26s %-7s %-7s %-7s %-7s %-7s %-7s %-7s %-7s %-7s %-7s %-7s\n' program empty garbage \
	trunc kind shape NaN/Inf 'y<0' 'y>=C' '1 class' 'D>N' '2^60'
echo "$table" | sed '1d; s/^/# /'
finish
