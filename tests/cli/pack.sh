#!/bin/sh
# xfer-pack: .npy/.npz arrays, CSV/TSV, image datasets and safetensors in; numpy is the oracle.
# Fixtures are made here with numpy (PNG/PGM written with zlib/struct, archives with
# tarfile/zipfile); the shared MNIST data is used only when present.
. "$(dirname "$0")/../lib.sh"

# pack OUT ARGS...: xfer-pack ARGS > OUT, carrying on when it fails (the checks on OUT then fail).
pack() {
	out=$1; shift
	xfer-pack "$@" >"$out" 2>"$T/pack.err" || { echo "# xfer-pack $*: exit $?"; sed 's/^/#   /' "$T/pack.err"; }
}

# agrees DESC STREAM [--classes JSON] NAME=FILE.npy...: STREAM is one samples segment whose
# fields are exactly these, in this order, with their dtypes, shapes and bytes.
agrees() {
	desc=$1; shift
	same "$desc" same "$("$PY" "$T/xs.py" cmp "$@" 2>&1)"
}

# Usage errors need no Python.
expect_fail 2 "no input is a usage error" xfer-pack
stderr_has "the synopsis follows the message" "*no input*usage: xfer-pack*"
expect_fail 2 "an unknown option is a usage error" xfer-pack --bogus x.npy
check "--help succeeds" xfer-pack --help
same "--help prints the usage on stdout" "usage: xfer-pack [NAME=]FILE.npy..." "$(head -c 35 "$T/check.out")"
expect_fail 2 "--size without an x is a usage error" xfer-pack --size 12 dir
expect_fail 2 "standard input is refused as a usage error" xfer-pack -
stderr_has "the message says to give a file" "*standard input*file*"

if ! has_python; then
	skip_oracle "$PY lacks numpy, msgpack or msgpack_numpy"
	finish
	exit
fi

cat >"$T/xs.py" <<'PY'
# Read xfer streams with msgpack + msgpack_numpy only, and compare them with numpy arrays.
import json, sys, msgpack, msgpack_numpy as m, numpy as np

def frames(path):
    with open(path, "rb") as f:
        return list(msgpack.Unpacker(f, object_hook=m.decode, raw=False, max_buffer_size=0))

def table(path):
    """The header and each field's rows (batches concatenated) of a one-segment stream."""
    fr = frames(path)
    h = fr[0]
    assert h["t"] == "header" and fr[-1]["t"] == "end", "not one complete segment"
    assert h["meta"]["history"][-1]["prog"] == "xfer-pack", "history lacks xfer-pack"
    parts = {k: [] for k in h["fields"]}
    n = 0
    for b in fr[1:-1]:
        assert b["t"] == "batch", "frame %r inside the segment" % b["t"]
        n += b["n"]
        for k in parts:
            parts[k].append(b["cols"][k])
    assert fr[-1]["rows"] == n, "end says %d rows, the batches hold %d" % (fr[-1]["rows"], n)
    cols = {}
    for k, f in h["fields"].items():
        if f["dtype"] == "str":
            cols[k] = [s for p in parts[k] for s in p]
        elif parts[k]:
            cols[k] = np.concatenate(parts[k])
        else:
            cols[k] = np.zeros([0] + f["shape"], np.dtype(f["dtype"]))
    return h, cols, fr

def differs(name, f, got, want):
    """Why field `name` (declared f, rows got) is not the array want, or None."""
    if want.dtype.kind in "US":
        if f != {"dtype": "str", "shape": []}:
            return "%s declared %r" % (name, f)
        return None if got == want.tolist() else "%s: %r != %r" % (name, got[:5], want.tolist()[:5])
    dt = want.dtype.newbyteorder("<")
    decl = {"dtype": dt.str, "shape": list(want.shape[1:])}
    if f != decl:
        return "%s declared %r, want %r" % (name, f, decl)
    if got.dtype != dt or got.shape != want.shape:
        return "%s is %s%r, want %s%r" % (name, got.dtype.str, got.shape, dt.str, want.shape)
    if got.tobytes() != np.ascontiguousarray(want, dt).tobytes():
        bad = np.flatnonzero(got.view(np.uint8) != np.ascontiguousarray(want, dt).view(np.uint8))
        return "%s differs at byte %d (%d bytes differ)" % (name, bad[0], bad.size)
    return None

def cmp(path, specs):
    classes = "absent"
    if specs[0] == "--classes":
        classes, specs = json.loads(specs[1]), specs[2:]
    h, cols, _ = table(path)
    names = [s.split("=", 1)[0] for s in specs]
    if h["kind"] != "samples" or list(h["fields"]) != names:
        return "kind %s, fields %r, want %r" % (h["kind"], list(h["fields"]), names)
    if h["meta"].get("classes", "absent") != classes:
        return "meta.classes %r, want %r" % (h["meta"].get("classes", "absent"), classes)
    for s in specs:
        name, file = s.split("=", 1)
        why = differs(name, h["fields"][name], cols[name], np.load(file))
        if why:
            return why
    return "same"

if __name__ == "__main__":
    try:
        if sys.argv[1] == "frames":   # the frame types, one letter each: h, b, t, e
            print("".join(f["t"][0] for f in frames(sys.argv[2])))
        else:
            print(cmp(sys.argv[2], sys.argv[3:]))
    except Exception as e:
        print("%s: %s" % (type(e).__name__, e))
PY

# ---- .npy arrays ----
"$PY" - "$T" <<'PY'
import sys, numpy as np
d = sys.argv[1] + "/"
r = np.random.default_rng(7)
def save(name, a):
    np.save(d + name, a)
save("u1.npy", r.integers(0, 256, (10, 3), dtype="u1"))
save("i8.npy", r.integers(-2**62, 2**62, 10, dtype="i8"))
save("f4.npy", r.standard_normal((10, 2, 3)).astype("f4"))
f8 = r.standard_normal((10, 4)); f8[0, :3] = [np.inf, -0.0, np.nan]
save("f8.npy", f8)
f2 = r.standard_normal((10, 5)).astype("f2"); f2[1, :3] = [-np.inf, 65504, 6e-8]
save("f2.npy", f2)
save("b1.npy", r.integers(0, 2, (10, 7)).astype(bool))
save("be-i4.npy", (np.arange(20, dtype=">i4").reshape(10, 2) - 7) * 123457)
save("be-f8.npy", np.linspace(-1, 1, 30).reshape(10, 3).astype(">f8"))
fo = np.asfortranarray(np.arange(60, dtype="f4").reshape(10, 3, 2))
assert fo.flags.f_contiguous and not fo.flags.c_contiguous
save("fortran.npy", fo)
save("ids.npy", np.array(["a", "b\u00e9", "", "\u00fcn\u00efcode", "x y", "0", "long" * 20, "7", "8", "9"]))
save("y.npy", np.arange(10, dtype="i8") % 3)
save("y9.npy", np.arange(9, dtype="i8"))
save("x0.npy", np.zeros((0, 3), "f4"))
save("y0.npy", np.zeros(0, "i8"))
save("scalar.npy", np.float32(3))
np.save(d + "object.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
save("big.npy", np.arange(2621440 * 4 // 4, dtype="<u4").reshape(-1, 4) * np.uint32(2654435761))
PY

for a in u1 i8 f4 f8 f2 b1 be-i4 be-f8 fortran; do
	pack "$T/o.xs" x="$T/$a.npy" y="$T/y.npy"
	agrees "npy round trip: $a" "$T/o.xs" x="$T/$a.npy" y="$T/y.npy"
done
pack "$T/o.xs" x="$T/f4.npy" id="$T/ids.npy"
agrees "npy round trip: a '<U' array becomes strings" "$T/o.xs" x="$T/f4.npy" id="$T/ids.npy"
pack "$T/o.xs" x="$T/x0.npy" y="$T/y0.npy"
agrees "npy round trip: zero rows" "$T/o.xs" x="$T/x0.npy" y="$T/y0.npy"
pack "$T/o.xs" "$T/f8.npy"
agrees "a plain FILE.npy is field x" "$T/o.xs" x="$T/f8.npy"
pack "$T/o.xs" "$T/u1.npy" --labels "$T/y.npy"
agrees "--labels is field y" "$T/o.xs" x="$T/u1.npy" y="$T/y.npy"
pack "$T/o.xs" w="$T/u1.npy" v="$T/i8.npy" "$T/f2.npy"
agrees "fields keep the order of the arguments" "$T/o.xs" w="$T/u1.npy" v="$T/i8.npy" x="$T/f2.npy"

expect_fail 1 "arrays with different row counts" xfer-pack x="$T/u1.npy" y="$T/y9.npy"
stderr_has "the message names the file and gives both counts" "xfer-pack: '$T/y9.npy': field \"y\" has 9 rows, \"x\" has 10"
expect_fail 1 "a 0-d array has no rows" xfer-pack "$T/scalar.npy"
stderr_has "the message says 0-d" '*"x" is a 0-d array*'
expect_fail 1 "an object array is refused" xfer-pack "$T/object.npy"
stderr_has "the message names the file and says object" "*object.npy*object*"
expect_fail 1 "a missing .npy file" xfer-pack "$T/nonesuch.npy"
stderr_has "the message names the file" "*nonesuch.npy*"
expect_fail 2 "arrays cannot be mixed with a CSV file" xfer-pack "$T/u1.npy" "$T/t.csv"
expect_fail 2 "--gray goes with images, not arrays" xfer-pack --gray "$T/u1.npy"
expect_fail 2 "--label-column goes with CSV, not arrays" xfer-pack --label-column y "$T/u1.npy"

pack "$T/big.xs" "$T/big.npy"
agrees "a 10 MB array arrives complete and in order" "$T/big.xs" x="$T/big.npy"
same "... in several batch frames" hbbbe "$("$PY" "$T/xs.py" frames "$T/big.xs" 2>&1)"
head -c 5000000 "$T/big.npy" >"$T/cut.npy"
set +e; xfer-pack "$T/cut.npy" >"$T/cut.xs" 2>"$T/fail.err"; st=$?; set -e
same "a truncated .npy fails with status 1" 1 "$st"
stderr_has "the message names the file and says truncated" "*'$T/cut.npy'*truncated*"
same "the rows before the cut went out, with no end frame" hb "$("$PY" "$T/xs.py" frames "$T/cut.xs" 2>&1)"
expect_fail 1 "... so the output is a truncated stream" xfer-cat --check "$T/cut.xs"
mkdir "$T/out"
expect_fail 1 "-o: a failure after some batches" xfer-pack -o "$T/out/cut.xs" "$T/cut.npy"
same "-o: ... leaves neither the file nor a temporary" "" "$(ls -A "$T/out")"
expect_fail 1 "-o: a failure before any output" xfer-pack -o "$T/out/bad.xs" x="$T/u1.npy" y="$T/y9.npy"
same "-o: ... leaves nothing either" "" "$(ls -A "$T/out")"
pack "$T/o.xs.zst" -z "$T/u1.npy"
zstd -q -dc "$T/o.xs.zst" >"$T/o.xs"
agrees "-z: the zstd tool decompresses the stream" "$T/o.xs" x="$T/u1.npy"
check "-o: success writes the file" xfer-pack -o "$T/out/ok.xs" "$T/u1.npy"
agrees "-o: ... with the data" "$T/out/ok.xs" x="$T/u1.npy"
same "-o: ... and no temporary" "ok.xs" "$(ls -A "$T/out")"

# (Not -o /dev/full: -o writes a temporary and renames it over the target.)
expect_fail 1 "a write error is reported" sh -c 'xfer-pack "$1" >/dev/full' sh "$T/big.npy"
stderr_has "the message says write error" "*write error*"
{ st=0; xfer-pack "$T/big.npy" || st=$?; echo "$st" >"$T/pipe.st"; } 2>"$T/pipe.err" | head -c 1 >/dev/null
same "a reader that goes away ends us by SIGPIPE (141)" 141 "$(cat "$T/pipe.st")"
same "... silently" "" "$(cat "$T/pipe.err")"

# ---- .npz archives ----
"$PY" - "$T" <<'PY'
import sys, numpy as np
d = sys.argv[1] + "/"
x = np.arange(24, dtype="<f4").reshape(6, 2, 2) / 3
y = np.array([5, 4, 3, 2, 1, 0], "<i2")
np.savez(d + "plain.npz", x=x, y=y)
np.savez_compressed(d + "comp.npz", feat=x, lab=y, name=np.array(list("abcdef")))
np.savez(d + "ragged.npz", x=x, y=y[:5])
np.save(d + "npz-x.npy", x); np.save(d + "npz-y.npy", y)
np.save(d + "npz-name.npy", np.array(list("abcdef")))
np.save(d + "w6.npy", np.arange(6, dtype="u1"))
n = 70000   # more rows than one read step (65536)
np.savez(d + "long.npz", a=np.arange(n, dtype="<u2"), b=np.arange(2 * n, dtype="<i4").reshape(n, 2) * -7)
np.save(d + "long-a.npy", np.arange(n, dtype="<u2"))
np.save(d + "long-b.npy", np.arange(2 * n, dtype="<i4").reshape(n, 2) * -7)
np.save(d + "long-c.npy", np.linspace(0, 1, n))
PY
pack "$T/o.xs" "$T/plain.npz"
agrees "np.savez members become fields" "$T/o.xs" x="$T/npz-x.npy" y="$T/npz-y.npy"
pack "$T/o.xs" "$T/comp.npz"
agrees "np.savez_compressed members become fields" "$T/o.xs" \
	feat="$T/npz-x.npy" lab="$T/npz-y.npy" name="$T/npz-name.npy"
pack "$T/o.xs" p="$T/plain.npz"
agrees "PREFIX=FILE.npz prefixes the names" "$T/o.xs" p.x="$T/npz-x.npy" p.y="$T/npz-y.npy"
pack "$T/o.xs" "$T/comp.npz" w="$T/w6.npy" --labels "$T/npz-y.npy"
agrees ".npz, .npy and --labels mix" "$T/o.xs" \
	feat="$T/npz-x.npy" lab="$T/npz-y.npy" name="$T/npz-name.npy" w="$T/w6.npy" y="$T/npz-y.npy"
pack "$T/o.xs" w="$T/w6.npy" q="$T/plain.npz"
agrees ".npy then PREFIX=FILE.npz" "$T/o.xs" w="$T/w6.npy" q.x="$T/npz-x.npy" q.y="$T/npz-y.npy"
pack "$T/o.xs" "$T/long.npz" c="$T/long-c.npy"
agrees "npz members and a .npy longer than one read step" "$T/o.xs" \
	a="$T/long-a.npy" b="$T/long-b.npy" c="$T/long-c.npy"
expect_fail 2 "a field named twice" xfer-pack x="$T/u1.npy" x="$T/y.npy"
stderr_has "the message names it" "*'x' is declared twice*"
expect_fail 1 "npz members with different row counts" xfer-pack "$T/ragged.npz"
stderr_has "the message gives both counts" '*field "y" has 5 rows, "x" has 6*'

# ---- CSV and TSV ----
"$PY" - "$T" <<'PY'
import sys, numpy as np
d = sys.argv[1] + "/"
np.seterr(over="ignore")    # "1e39" is inf as float32, as in C
def f32(rows):
    return np.array([[np.float32(float(c)) for c in r] for r in rows], "<f4").reshape(len(rows), -1)
def write(name, text):
    open(d + name, "w", newline="").write(text)
# Number spellings that strtod and Python's float() read alike; float32 as np.float32(float(text)).
nums = [["1.5", "-0", "1e-3", "3.4028235e38"], ["0.1", "-7", "1e-50", "16777217"],
        ["nan", "inf", "-inf", "+2.5"], ["1E5", ".5", "5.", "1e39"],
        ["0.333333333333333314829616256247", "-1.17549435e-38", "1.4e-45", " 2 "]]
write("num.csv", "a,b,c,d\n" + "".join(",".join(r) + "\n" for r in nums))
np.save(d + "num-x.npy", f32(nums))
# Integer labels, in the middle, and CRLF line ends.
write("intlab.csv", "f,label,g\r\n1,3,2\r\n4,-1,5\r\n6,007,7\r\n8,10,9\r\n")
np.save(d + "intlab-x.npy", f32([[1, 2], [4, 5], [6, 7], [8, 9]]))
np.save(d + "intlab-y.npy", np.array([3, -1, 7, 10], "<i8"))
# String labels: ids in sorted class order; ids with quotes, commas and a line break.
write("strlab.csv", 'name,w,species,v\n"a,b",1,"setosa, var",2\n"say ""hi""",3,virginica,4\n'
      '"two\nlines",5,"1",6\nplain,"7.25",virginica,8\n')
np.save(d + "strlab-x.npy", f32([[1, 2], [3, 4], [5, 6], [7.25, 8]]))
cls = sorted(["setosa, var", "virginica", "1"])
np.save(d + "strlab-y.npy", np.array([cls.index(c) for c in ["setosa, var", "virginica", "1", "virginica"]], "<i8"))
np.save(d + "strlab-id.npy", np.array(["a,b", 'say "hi"', "two\nlines", "plain"]))
# Tabs: detected from the header line, with or without the .tsv name.
write("tab.tsv", "x1\tx2\tclass\n0.5\t-2\tb\n1e2\t3\ta\n")
write("tab-named.csv", "x1\tx2\tclass\n0.5\t-2\tb\n1e2\t3\ta\n")
np.save(d + "tab-x.npy", f32([[0.5, -2], [1e2, 3]]))
np.save(d + "tab-y.npy", np.array([1, 0], "<i8"))
# More rows than one conversion block (4096), with ids and named labels.
r = np.random.default_rng(3)
n = 10000
vals = r.standard_normal((n, 3))
labs = r.choice(["dog", "cat", "emu"], n)
with open(d + "many.csv", "w") as f:
    f.write("id,p,q,r,animal\n")
    for i in range(n):
        f.write("row%d,%r,%r,%r,%s\n" % (i, vals[i, 0], vals[i, 1], vals[i, 2], labs[i]))
np.save(d + "many-x.npy", vals.astype("<f4"))
np.save(d + "many-y.npy", np.array([["cat", "dog", "emu"].index(a) for a in labs], "<i8"))
np.save(d + "many-id.npy", np.array(["row%d" % i for i in range(n)]))
write("header-only.csv", "a,b\n")
np.save(d + "header-only-x.npy", np.zeros((0, 2), "<f4"))
write("empty.csv", "")
write("ragged.csv", "a,b,c\n1,2,3\n4,5\n")
write("word.csv", "a,b,id\n1,2,p\n3,4,q\n5,6,\"r\n\"\n7,x1,s\n")
write("t.csv", "a,b\n1,2\n")
write("semi.csv", "a;b\n1.5;2\n-3;4e1\n")
np.save(d + "semi-x.npy", f32([[1.5, 2], [-3, 4e1]]))
PY
pack "$T/o.xs" "$T/num.csv"
agrees "CSV: numbers become float32 as np.float32(float(text))" "$T/o.xs" x="$T/num-x.npy"
pack "$T/o.xs" "$T/intlab.csv" --label-column label
agrees "CSV: integer labels are y int64, without classes" "$T/o.xs" x="$T/intlab-x.npy" y="$T/intlab-y.npy"
pack "$T/o.xs" "$T/strlab.csv" --label-column species --id-column name
agrees "CSV: named labels follow sorted classes; quoted ids" "$T/o.xs" --classes '["1", "setosa, var", "virginica"]' \
	x="$T/strlab-x.npy" y="$T/strlab-y.npy" id="$T/strlab-id.npy"
pack "$T/o.xs" "$T/tab.tsv" --label-column class
agrees "TSV is read" "$T/o.xs" --classes '["a", "b"]' x="$T/tab-x.npy" y="$T/tab-y.npy"
pack "$T/o.xs" "$T/tab-named.csv" --label-column class
agrees "tabs in the header line are detected" "$T/o.xs" --classes '["a", "b"]' x="$T/tab-x.npy" y="$T/tab-y.npy"
pack "$T/o.xs" "$T/many.csv" --label-column animal --id-column id
agrees "CSV: 10000 rows across conversion blocks" "$T/o.xs" --classes '["cat", "dog", "emu"]' \
	x="$T/many-x.npy" y="$T/many-y.npy" id="$T/many-id.npy"
pack "$T/o.xs" "$T/semi.csv" --delimiter ';'
agrees "--delimiter ';'" "$T/o.xs" x="$T/semi-x.npy"
zstd -q -c "$T/num.csv" >"$T/num.csv.zst"
pack "$T/o.xs" "$T/num.csv.zst"
agrees "a zstd-compressed .csv.zst is read (twice)" "$T/o.xs" x="$T/num-x.npy"
pack "$T/o.xs" "$T/header-only.csv"
agrees "CSV: a header and no rows is zero rows" "$T/o.xs" x="$T/header-only-x.npy"

expect_fail 1 "CSV: an empty file" xfer-pack "$T/empty.csv"
stderr_has "the message says no header row" "*empty.csv*header*"
expect_fail 1 "CSV: a row with too few cells" xfer-pack "$T/ragged.csv"
stderr_has "the message gives the line" "*ragged.csv: line 3 has 2 cells, the header has 3"
expect_fail 1 "CSV: a feature that is not a number" xfer-pack "$T/word.csv" --id-column id
stderr_has "the message gives line and column (lines of quoted breaks counted)" \
	"*word.csv: line 6, column 2: 'x1' is not a number"
expect_fail 1 "CSV: a label column of text as features" xfer-pack "$T/word.csv"
stderr_has "the message gives line and column" "*word.csv: line 2, column 3: 'p' is not a number"
expect_fail 2 "CSV: --label-column naming no column" xfer-pack "$T/t.csv" --label-column nope
stderr_has "the message names the column" "*no column 'nope' for --label-column*usage:*"
expect_fail 2 "CSV: --id-column naming no column" xfer-pack "$T/t.csv" --id-column nope
expect_fail 2 "CSV: the same column as label and id" xfer-pack "$T/t.csv" --label-column a --id-column a
expect_fail 2 "CSV: --labels goes with arrays" xfer-pack "$T/t.csv" --labels "$T/y.npy"
expect_fail 2 "CSV: --size goes with images" xfer-pack "$T/t.csv" --size 2x2
expect_fail 2 "-o: a usage error found while packing" xfer-pack -o "$T/out/u.xs" "$T/t.csv" --label-column nope
same "-o: ... leaves nothing" "ok.xs" "$(ls -A "$T/out")"
expect_fail 1 "CSV: a missing file" xfer-pack "$T/nonesuch.csv"
mkfifo "$T/fifo.csv"
cat "$T/t.csv" >"$T/fifo.csv" &
expect_fail 2 "CSV: a pipe cannot be read twice" xfer-pack "$T/fifo.csv"
stderr_has "the message says to give a file" "*fifo.csv*twice*give a file*"
wait

# ---- image datasets: a directory, a .tar.gz and a .zip of CLASS/FILE ----
"$PY" - "$T" <<'PY'
import os, struct, sys, tarfile, zipfile, zlib, numpy as np
d = sys.argv[1] + "/"
def png(a):
    h, w = a.shape[:2]
    raw = b"".join(b"\0" + a[i].tobytes() for i in range(h))
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2 if a.ndim == 3 else 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
def pgm(a):
    return b"P5\n%d %d\n255\n" % (a.shape[1], a.shape[0]) + a.tobytes()
def put(root, files):
    for name, a in files:
        os.makedirs(os.path.dirname(root + name) or root, exist_ok=True)
        open(root + name, "wb").write(pgm(a) if name.endswith(".pgm") else png(a))
def luma(a):
    if a.ndim == 2:
        return a
    a = a.astype(np.int64)
    return ((19595 * a[..., 0] + 38470 * a[..., 1] + 7471 * a[..., 2] + 32768) >> 16).astype("u1")
def save(prefix, files, ids):
    """Expected fields for images in this order: x [C, H, W] RGB and gray, y, id."""
    classes = sorted({n.split("/")[-2] for n, _ in files})
    rgb = [np.stack([a] * 3, -1) if a.ndim == 2 else a for _, a in files]
    np.save(d + prefix + "-x.npy", np.array([a.transpose(2, 0, 1) for a in rgb], "u1"))
    np.save(d + prefix + "-gray.npy", np.array([luma(a)[None] for _, a in files], "u1"))
    np.save(d + prefix + "-y.npy", np.array([classes.index(n.split("/")[-2]) for n, _ in files], "<i8"))
    np.save(d + prefix + "-id.npy", np.array(ids))
r = np.random.default_rng(11)
img = lambda *s: r.integers(0, 256, s, dtype="u1")
files = [("dog/b.png", img(4, 5, 3)), ("dog/a.png", img(4, 5, 3)), ("ant/z.png", img(4, 5, 3)),
         ("cat/m.pgm", img(4, 5)), ("cat/k.png", img(4, 5)), ("cat/sub/q.png", img(4, 5, 3))]
put(d + "imgs/", files)
open(d + "imgs/README.txt", "w").write("not an image\n")
srt = sorted(files, key=lambda f: f[0])
save("dir", srt, [n for n, _ in srt])
with tarfile.open(d + "imgs.tar.gz", "w:gz") as t:
    for n, _ in files:
        t.add(d + "imgs/" + n, arcname="set/" + n)
save("tar", files, ["set/" + n for n, _ in files])
with zipfile.ZipFile(d + "imgs.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for n, _ in files[::-1]:
        z.write(d + "imgs/" + n, arcname=n)
save("zip", files[::-1], [n for n, _ in files[::-1]])
# Sizes: constant images stay constant; 2x downscaling averages 2x2 blocks (ties to even).
put(d + "sizes/", [("a/1.pgm", np.full((5, 7), 77, "u1")), ("b/2.png", np.full((9, 4, 3), [10, 200, 77], "u1"))])
np.save(d + "sizes-y.npy", np.array([0, 1], "<i8"))
np.save(d + "sizes-id.npy", np.array(["a/1.pgm", "b/2.png"]))
np.save(d + "half-y.npy", np.array([0, 0], "<i8"))
np.save(d + "half-id.npy", np.array(["k/1.png", "k/2.png"]))
np.save(d + "sizes-x.npy", np.array([np.full((3, 6, 8), 77), np.broadcast_to(np.array([10, 200, 77])[:, None, None], (3, 6, 8))], "u1"))
half = [("k/1.png", img(8, 6, 3)), ("k/2.png", img(8, 6, 3))]
put(d + "half/", half)
blocks = lambda a: np.round(a.reshape(4, 2, 3, 2, 3).astype(float).mean((1, 3))).astype("u1").transpose(2, 0, 1)
np.save(d + "half-x.npy", np.array([blocks(a) for _, a in half]))
put(d + "flat/", [("1.png", img(2, 2, 3))])
os.makedirs(d + "empty")
PY
pack "$T/o.xs" "$T/imgs"
agrees "images in a directory: x [C, H, W], y by sorted parent name, id the relative path" "$T/o.xs" \
	--classes '["ant", "cat", "dog", "sub"]' x="$T/dir-x.npy" y="$T/dir-y.npy" id="$T/dir-id.npy"
pack "$T/o.xs" "$T/imgs" --gray
agrees "--gray: one channel of (19595 R + 38470 G + 7471 B + 32768) >> 16" "$T/o.xs" \
	--classes '["ant", "cat", "dog", "sub"]' x="$T/dir-gray.npy" y="$T/dir-y.npy" id="$T/dir-id.npy"
pack "$T/o.xs" "$T/imgs.tar.gz"
agrees "images in a .tar.gz, in archive order" "$T/o.xs" \
	--classes '["ant", "cat", "dog", "sub"]' x="$T/tar-x.npy" y="$T/tar-y.npy" id="$T/tar-id.npy"
pack "$T/o.xs" "$T/imgs.zip" --gray
agrees "images in a .zip, --gray" "$T/o.xs" \
	--classes '["ant", "cat", "dog", "sub"]' x="$T/zip-gray.npy" y="$T/zip-y.npy" id="$T/zip-id.npy"
pack "$T/o.xs" "$T/sizes" --size 6x8
agrees "--size: constant images stay constant" "$T/o.xs" --classes '["a", "b"]' \
	x="$T/sizes-x.npy" y="$T/sizes-y.npy" id="$T/sizes-id.npy"
pack "$T/o.xs" "$T/half" --size 4x3
agrees "--size: halving averages 2x2 blocks" "$T/o.xs" --classes '["k"]' \
	x="$T/half-x.npy" y="$T/half-y.npy" id="$T/half-id.npy"
cp -R "$T/half" "$T/set=v2"
pack "$T/o.xs" "$T/set=v2" --size 4x3
agrees "a directory with '=' in its name is a dataset" "$T/o.xs" --classes '["k"]' \
	x="$T/half-x.npy" y="$T/half-y.npy" id="$T/half-id.npy"
expect_fail 1 "images of different sizes without --size" xfer-pack "$T/sizes"
stderr_has "the message suggests --size" "*b/2.png*--size*"
expect_fail 1 "an empty directory" xfer-pack "$T/empty"
stderr_has "the message says no images" "*no images*"
expect_fail 1 "an image outside a class directory" xfer-pack "$T/flat"
expect_fail 1 "a missing directory" xfer-pack "$T/nonesuch"
stderr_has "the message names it" "*cannot open*nonesuch*"
expect_fail 2 "--id-column goes with CSV, not images" xfer-pack "$T/imgs" --id-column x
expect_fail 2 "one image dataset at a time" xfer-pack "$T/imgs" "$T/half"

# The shared MNIST sample, when present: pixels equal the rows of the .npy the file names give.
shared=${XFER_SHARED:-$top/../shared}/data
if [ -f "$shared/mnist-png-1000.tar.gz" ] && [ -f "$shared/mnist10k-images.npy" ]; then
	pack "$T/mnist.xs" "$shared/mnist-png-1000.tar.gz" --gray
	pack "$T/mnist3.xs" "$shared/mnist-png-1000.tar.gz"
	same "MNIST PNGs: 1000 rows equal to mnist10k-images.npy, labels to mnist10k-labels.npy" same \
		"$("$PY" - "$T" "$shared" <<'PY' 2>&1
import re, sys, numpy as np
sys.path.insert(0, sys.argv[1])
import xs
images = np.load(sys.argv[2] + "/mnist10k-images.npy")
labels = np.load(sys.argv[2] + "/mnist10k-labels.npy")
h, c, _ = xs.table(sys.argv[1] + "/mnist.xs")
_, c3, _ = xs.table(sys.argv[1] + "/mnist3.xs")
rows = [int(re.fullmatch(r"mnist-png/(\d)/(\d+)\.png", i).group(2)) for i in c["id"]]
digits = [int(i.split("/")[1]) for i in c["id"]]
checks = [len(rows) == 1000, len(set(rows)) == 1000, h["meta"]["classes"] == [str(k) for k in range(10)],
          h["fields"]["x"] == {"dtype": "|u1", "shape": [1, 28, 28]},
          np.array_equal(c["x"][:, 0], images[rows]), np.array_equal(c["y"], digits),
          np.array_equal(c["y"], labels[rows]), c3["x"].shape == (1000, 3, 28, 28),
          all(np.array_equal(c3["x"][:, k], images[rows]) for k in range(3))]
print("same" if all(checks) else "failed checks %r" % [i for i, ok in enumerate(checks) if not ok])
PY
)"
else
	pass "# skip: no shared MNIST data in $shared"
fi

# ---- safetensors weights ----
"$PY" - "$T" <<'PY'
import json, struct, sys, numpy as np
d = sys.argv[1] + "/"
def st(name, tensors, dtypes):
    head, data = {}, b""
    for (k, a), dt in zip(tensors, dtypes):
        head[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [len(data), len(data) + a.nbytes]}
        data += a.tobytes()
    text = json.dumps(head).encode()
    text += b" " * (-len(text) % 8)
    open(d + name, "wb").write(struct.pack("<Q", len(text)) + text + data)
r = np.random.default_rng(5)
lin = [("fc.weight", r.standard_normal((3, 4)).astype("<f4")), ("fc.bias", np.array([0.5, -0, 1e-30], "<f4"))]
st("linear.safetensors", lin, ["F32", "F32"])
mixed = [("a", r.standard_normal((2, 3)).astype("<f4")), ("b", np.array([1, -2.5, 65504, 0], "<f2")),
         ("c", np.array([[2**62, -1], [0, 7]], "<i8")), ("d", np.arange(5, dtype="u1")),
         ("e", np.array([0x3f80, 0xc040, 0x7f80], "<u2")), ("f", np.array([np.pi], "<f8"))]
st("mixed.safetensors", mixed, ["F32", "F16", "I64", "U8", "BF16", "F64"])
open(d + "linear.safetensors.bad", "wb").write(open(d + "linear.safetensors", "rb").read()[:-5])
graph = {"inputs": {"x": {"shape": [4]}},
         "nodes": [{"name": "fc", "op": "linear", "inputs": ["x"], "weights": {"weight": "fc.weight", "bias": "fc.bias"}}],
         "outputs": ["fc"]}
json.dump(graph, open(d + "arch.json", "w"), indent=2)
graph["inputs"]["x"]["shape"] = [5]
json.dump(graph, open(d + "arch5.json", "w"), indent=2)
open(d + "broken.json", "w").write('{\n  "inputs": {"x": {"shape": [4]}},\n  "nodes": [,]\n}\n')
PY
mv "$T/linear.safetensors.bad" "$T/cut.safetensors"
cat >"$T/model.py" <<'PY'
# model.py STREAM FILE.safetensors [ARCH.json]: the stream is one model segment with the file's
# tensors, in file order, bit for bit (bf16 arrives as its uint16 bits), and the graph if given.
import json, struct, sys, numpy as np
sys.path.insert(0, sys.path[0])
import xs
types = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "U8": "|u1", "BF16": "bf16"}
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = sorted(json.loads(raw[8:8 + n]).items(), key=lambda kv: kv[1]["data_offsets"][0])
fr = xs.frames(sys.argv[1])
h, body, end = fr[0], fr[1:-1], fr[-1]
want = {k: {"dtype": types[v["dtype"]], "shape": v["shape"]} for k, v in head}
graph = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None
if h["kind"] != "model" or h["fields"] != want or list(h["fields"]) != [k for k, _ in head]:
    print("header %r %r, want %r" % (h["kind"], h["fields"], want))
elif h.get("graph") != graph:
    print("graph %r, want %r" % (h.get("graph"), graph))
elif [f["name"] for f in body] != [k for k, _ in head] or end != {"t": "end", "tensors": len(head)}:
    print("frames %r, end %r" % ([f.get("name") for f in body], end))
else:
    for f, (k, v) in zip(body, head):
        b = raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
        a = f["data"]
        if list(a.shape) != v["shape"] or a.tobytes() != b or a.dtype.str != types[v["dtype"]].replace("bf16", "<u2"):
            print("tensor %s: %s%r differs" % (k, a.dtype.str, a.shape))
            break
    else:
        print("same")
PY
pack "$T/o.xs" "$T/linear.safetensors" --arch "$T/arch.json"
same "safetensors + --arch: a model segment with the tensors and the graph" same \
	"$("$PY" "$T/model.py" "$T/o.xs" "$T/linear.safetensors" "$T/arch.json" 2>&1)"
check "... which xfer-cat accepts" xfer-cat --check "$T/o.xs"
pack "$T/o.xs" "$T/mixed.safetensors"
same "safetensors of six dtypes, no --arch: tensors bit for bit, no graph" same \
	"$("$PY" "$T/model.py" "$T/o.xs" "$T/mixed.safetensors" 2>&1)"
expect_fail 1 "a graph that does not fit the weights" xfer-pack "$T/linear.safetensors" --arch "$T/arch5.json"
stderr_has "the message names the file and the node" "*arch5.json*node 'fc'*"
expect_fail 1 "a graph whose weights are missing" xfer-pack "$T/mixed.safetensors" --arch "$T/arch.json"
stderr_has "the message names the tensor" "*fc.weight*"
expect_fail 1 "--arch with invalid JSON" xfer-pack "$T/linear.safetensors" --arch "$T/broken.json"
stderr_has "the message gives line and column" "*broken.json: line 3, column [0-9]*"
expect_fail 1 "--arch naming no file" xfer-pack "$T/linear.safetensors" --arch "$T/nonesuch.json"
stderr_has "the message names the file and the reason" "*cannot open '*nonesuch.json': No such file*"
expect_fail 1 "--arch naming a directory" xfer-pack "$T/linear.safetensors" --arch "$T/imgs"
stderr_has "the message says why" "*cannot read '*imgs': Is a directory"
expect_fail 1 "a truncated safetensors file" xfer-pack "$T/cut.safetensors"
stderr_has "the message names the file" "*cut.safetensors*"
expect_fail 2 "--arch with arrays" xfer-pack "$T/u1.npy" --arch "$T/arch.json"
expect_fail 2 "--arch with CSV" xfer-pack "$T/t.csv" --arch "$T/arch.json"
expect_fail 2 "--arch with images" xfer-pack "$T/imgs" --arch "$T/arch.json"
expect_fail 2 "--gray with safetensors" xfer-pack "$T/linear.safetensors" --gray

finish
