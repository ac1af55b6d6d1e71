#!/bin/sh
# xfer-cat: --info, --check, --head/--rows/--shard/--fields, merging segments, meta pass-through,
# exports (csv, jsonl, npy, npz; Python and numpy are the oracle), model streams, large output.
. "$(dirname "$0")/../lib.sh"

skip() { n=$((n + 1)); echo "ok $n - # skip $1"; }

# The values of field NAME (default x) in a stream, space-separated, in order.
vals() { xf-tool dump "$1" | sed -n "s/^  ${2:-x}\[[0-9]*\] //p" | tr '\n' ' ' | sed 's/ $//'; }
# The frame lines of a dump: header/batch/tensor/end.
frames() { xf-tool dump "$1" | grep -E '^(header|tensor|end)' | tr '\n' ';'; }
# An --info line with its columns squeezed to single spaces.
info_line() { tr -s ' ' | sed 's/^ //' | grep -F -x -- "$1" || true; }

version=$(xfer-cat --version | sed 's/.* //')
xf-tool gen ramp --rows 13 --dim 1 --batch-bytes 16 >"$T/r.xs"      # x = 0..12, 4 batches
xf-tool gen blobs --rows 13 --dim 2 --classes 3 --batch-bytes 200 >"$T/b.xs"
xf-tool gen blobs --rows 5 --dim 2 --classes 3 --seed 2 >"$T/b2.xs"
xf-tool gen blobs --rows 5 --dim 3 --classes 3 >"$T/b3.xs"
xf-tool gen model --dim 3 --classes 2 >"$T/m.xs"
seq13="0 1 2 3 4 5 6 7 8 9 10 11 12"
same "fixture: the ramp holds rows 0..12 in several batches" "$seq13:4" \
	"$(vals "$T/r.xs"):$(xf-tool dump "$T/r.xs" | grep -c '^batch')"

# --- --check -------------------------------------------------------------------------------
run_quiet() { "$@" >"$T/q.out" 2>"$T/q.err"; echo "$?:$(wc -c <"$T/q.out"):$(wc -c <"$T/q.err")"; }
same "--check: a valid stream: status 0, no output at all" "0:0:0" "$(run_quiet xfer-cat --check "$T/b.xs")"
same "--check: several inputs and segments" "0:0:0" \
	"$(run_quiet xfer-cat --check "$T/b.xs" "$T/m.xs" "$T/b3.xs")"
same "--check -o FILE writes no file" "0:" "$(set +e; xfer-cat --check -o "$T/chk.xs" "$T/b.xs"; echo "$?:$(ls "$T" | grep chk)")"

# --- row selection -------------------------------------------------------------------------
same "--head 5" "0 1 2 3 4" "$(xfer-cat --head 5 "$T/r.xs" | vals -)"
same "--head beyond the end gives every row" "$seq13" "$(xfer-cat --head 100 "$T/r.xs" | vals -)"
same "--head 0 gives a valid zero-row stream" "header kind=samples;end count=0;" "$(xfer-cat --head 0 "$T/r.xs" | frames -)"
same "--rows A:B" "2 3 4 5 6" "$(xfer-cat --rows 2:7 "$T/r.xs" | vals -)"
same "--rows A:" "10 11 12" "$(xfer-cat --rows 10: "$T/r.xs" | vals -)"
same "--rows :B" "0 1 2" "$(xfer-cat --rows :3 "$T/r.xs" | vals -)"
same "--rows A (one row)" "7" "$(xfer-cat --rows 7 "$T/r.xs" | vals -)"
same "--rows A:B with B beyond the end" "11 12" "$(xfer-cat --rows 11:100 "$T/r.xs" | vals -)"
same "--rows past the end: a valid zero-row stream" "header kind=samples;end count=0;" \
	"$(xfer-cat --rows 20:30 "$T/r.xs" | frames -)"
same "--rows A:A is empty" "end count=0" "$(xfer-cat --rows 5:5 "$T/r.xs" | xf-tool dump | grep '^end')"
same "--rows across a batch boundary keeps the rows' values" "3 4 5 6 7 8 9" "$(xfer-cat --rows 3:10 "$T/r.xs" | vals -)"
same "rows are counted across inputs" "11 12 0 1" "$(xfer-cat --rows 11:15 "$T/r.xs" "$T/r.xs" | vals -)"
same "... and across concatenated segments on stdin" "12 0" \
	"$(cat "$T/r.xs" "$T/r.xs" | xfer-cat --rows 12:14 | vals -)"
same "--rows keeps the other fields of the same rows" '"row-4" "row-5"' \
	"$(xfer-cat --rows 4:6 "$T/b.xs" | vals - id)"
for spec in 5:2 a:3 -1:3 3:x 1:2:3 "" " 3" +3 "3 " 99999999999999999999 :-1; do
	expect_fail 2 "--rows '$spec' is a usage error" xfer-cat --rows "$spec" "$T/r.xs"
done
stderr_has "... the message names --rows and the spec" "*--rows*bad row range*usage: xfer-cat*"
expect_fail 2 "--head -1 is a usage error" xfer-cat --head -1 "$T/r.xs"
expect_fail 2 "--head 3x is a usage error" xfer-cat --head 3x "$T/r.xs"
expect_fail 2 "--head with --rows is a usage error" xfer-cat --head 7 --rows 5:8 "$T/r.xs"
expect_fail 2 "--rows with --head is a usage error" xfer-cat --rows 5:8 --head 2 "$T/r.xs"
same "--head 2 given twice: the last one counts" "0 1 2" "$(xfer-cat --head 2 --head 3 "$T/r.xs" | vals -)"

# --- --fields ------------------------------------------------------------------------------
xfer-cat --fields id,x --rows 1 "$T/b.xs" >"$T/f.xs"
same "--fields: only those fields, in the order given" "  field id str [];  field x <f4 [2];" \
	"$(xf-tool dump "$T/f.xs" | grep '^  field' | tr '\n' ';')"
same "--fields: the values are those of the same row" \
	"$(xfer-cat --rows 1 "$T/b.xs" | vals - id) $(xfer-cat --rows 1 "$T/b.xs" | vals - x)" \
	"$(vals "$T/f.xs" id) $(vals "$T/f.xs" x)"
expect_fail 1 "--fields with an unknown field fails" xfer-cat --fields x,nope "$T/b.xs"
stderr_has "... naming the field" "*'nope'*"
expect_fail 2 "--fields naming a field twice is a usage error" xfer-cat --fields x,x "$T/b.xs"
stderr_has "... naming the field" "*'x'*twice*"
expect_fail 2 "--fields x,y,id,x (as many names as fields) is a usage error too" xfer-cat --fields x,y,id,x "$T/b.xs"
expect_fail 2 "--fields '' selects nothing: a usage error" xfer-cat --fields "" "$T/b.xs"
expect_fail 2 "--fields ',' selects nothing: a usage error" xfer-cat --fields , "$T/b.xs"
same "--fields with --to csv" "y,x_0,x_1" "$(xfer-cat --fields y,x --to csv "$T/b.xs" | head -n 1)"

# --- --shard -------------------------------------------------------------------------------
xfer-cat "$T/r.xs" | xf-tool dump >"$T/r.dump"
for count in 1 2 3 4 5; do
	i=0 sizes="" all=""
	rm -f "$T"/shard-*.xs
	while [ "$i" -lt "$count" ]; do
		xfer-cat --shard "$i/$count" "$T/r.xs" >"$T/shard-$i.xs"
		sizes="$sizes $(xf-tool dump "$T/shard-$i.xs" | grep -c '^  x\[' || true)"
		all="$all $(vals "$T/shard-$i.xs")"
		i=$((i + 1))
	done
	min=$(echo $sizes | tr ' ' '\n' | sort -n | head -n 1)
	max=$(echo $sizes | tr ' ' '\n' | sort -n | tail -n 1)
	same "--shard I/$count: sizes$sizes differ by at most one" yes "$([ $((max - min)) -le 1 ] && echo yes)"
	same "--shard I/$count: contiguous blocks, in order, make up the input" "$seq13" "$(echo $all)"
	i=0 list=""
	while [ "$i" -lt "$count" ]; do list="$list $T/shard-$i.xs"; i=$((i + 1)); done
	# shellcheck disable=SC2086
	same "--shard I/$count: cat of the shards is the input" "$(cat "$T/r.dump")" "$(cat $list | xfer-cat | xf-tool dump)"
done
same "--shard counts rows over all inputs" "6 7 8 9 10 11 12 $seq13" \
	"$(xfer-cat --shard 1/2 "$T/r.xs" "$T/r.xs" "$T/r.xs" | vals -)"
same "--shard with more shards than rows: some are empty and valid" "header kind=samples;end count=0;" \
	"$(xfer-cat --shard 0/20 "$T/r.xs" | frames -)"
expect_fail 2 "--shard on stdin is a usage error" sh -c 'xfer-cat --shard 0/2 <"$1"' sh "$T/r.xs"
stderr_has "... saying it needs files" "*--shard*files*"
expect_fail 2 "--shard on '-' is a usage error" sh -c 'xfer-cat --shard 0/2 "$1" - <"$1"' sh "$T/r.xs"
expect_fail 2 "--shard with --head is a usage error" xfer-cat --shard 0/2 --head 3 "$T/r.xs"
expect_fail 2 "--shard with --rows is a usage error" xfer-cat --rows 1:3 --shard 0/2 "$T/r.xs"
for spec in 2/2 -1/2 1/0 a/2 1 1/2/3 0/2x /2 1/; do
	expect_fail 2 "--shard '$spec' is a usage error" xfer-cat --shard "$spec" "$T/r.xs"
done

# --- merging segments ----------------------------------------------------------------------
cat "$T/b.xs" "$T/b2.xs" | xfer-cat >"$T/m1.xs"
same "same fields: one output segment" "header kind=samples;end count=18;" "$(frames "$T/m1.xs")"
same "... holding the rows of both, in order" \
	"$(vals "$T/b.xs" id) $(vals "$T/b2.xs" id)" "$(vals "$T/m1.xs" id)"
same "same fields, as two files: one segment" "header kind=samples;end count=18;" \
	"$(xfer-cat "$T/b.xs" "$T/b2.xs" | frames -)"
same "different fields: two segments" "header kind=samples;end count=13;header kind=samples;end count=5;" \
	"$(cat "$T/b.xs" "$T/b3.xs" | xfer-cat | frames -)"
same "--fields makes them compatible: one segment" "header kind=samples;end count=18;" \
	"$(cat "$T/b.xs" "$T/b3.xs" | xfer-cat --fields y,id | frames -)"
same "--info describes each input segment" "segment 1: samples, 13 rows in 4 batches;segment 2: samples, 5 rows in 1 batches;" \
	"$(cat "$T/b.xs" "$T/b2.xs" | xfer-cat --info | grep '^segment' | tr '\n' ';')"
same "a model between tables ends the table" \
	"header kind=samples;end count=13;header kind=model;tensor fc.weight;tensor fc.bias;end count=2;header kind=samples;end count=5;" \
	"$(cat "$T/b.xs" "$T/m.xs" "$T/b2.xs" | xfer-cat | frames -)"
cat "$T/m.xs" "$T/m.xs" | xfer-cat >"$T/mm.xs"
same "models are never merged" \
	"header kind=model;tensor fc.weight;tensor fc.bias;end count=2;header kind=model;tensor fc.weight;tensor fc.bias;end count=2;" \
	"$(frames "$T/mm.xs")"
check "... and the output of two models is valid" xfer-cat --check "$T/mm.xs"
expect_fail 1 "two models do not export to one npz" sh -c 'cat "$1" "$1" | xfer-cat --to npz' sh "$T/m.xs"
stderr_has "... saying why" "*second model*"
expect_fail 1 "tables with other fields do not export to one csv" xfer-cat --to csv "$T/b.xs" "$T/b3.xs"
stderr_has "... saying why" "*segment 2*other fields*"

# --- models --------------------------------------------------------------------------------
xfer-cat --info "$T/m.xs" >"$T/m.info"
same "--info on a model: the segment" "segment 1: model, 2 tensors" "$(head -n 1 "$T/m.info")"
same "--info on a model: tensor fc.weight" "fc.weight <f4 [2, 3] 0 0.625 1.25 0 0" \
	"$(info_line "fc.weight <f4 [2, 3] 0 0.625 1.25 0 0" <"$T/m.info")"
same "--info on a model: tensor fc.bias" "fc.bias <f4 [2] -1 -0.875 -0.75 0 0" \
	"$(info_line "fc.bias <f4 [2] -1 -0.875 -0.75 0 0" <"$T/m.info")"
same "--info on a model: the graph" 'graph: 1 nodes, outputs ["fc"]' "$(info_line 'graph: 1 nodes, outputs ["fc"]' <"$T/m.info")"
same "a model passes through unchanged, graph included" "$(xf-tool dump "$T/m.xs")" "$(xfer-cat "$T/m.xs" | xf-tool dump)"
xfer-cat --fields fc.bias "$T/m.xs" >"$T/mb.xs"
same "--fields selects tensors" "header kind=model;tensor fc.bias;end count=1;" "$(frames "$T/mb.xs")"
same "... with their values" "-1 -0.75" "$(vals "$T/mb.xs" fc.bias)"
check "... into a valid stream (the graph, which names the dropped tensor, goes)" xfer-cat --check "$T/mb.xs"
same "... and no graph" "" "$(xf-tool dump "$T/mb.xs" | grep graph || true)"
xfer-cat --fields fc.bias,fc.weight "$T/m.xs" >"$T/mbw.xs"
same "--fields naming every tensor keeps the graph" "$(xf-tool dump "$T/m.xs" | grep graph)" \
	"$(xf-tool dump "$T/mbw.xs" | grep graph)"
check "... and is valid" xfer-cat --check "$T/mbw.xs"
same "--info --fields on a model lists the chosen tensors" "fc.bias" \
	"$(xfer-cat --info --fields fc.bias "$T/m.xs" | sed -n 's/^  \(fc[^ ]*\).*/\1/p')"
same "--head 0 does not cut a model short" "$(xf-tool dump "$T/m.xs")" "$(xfer-cat --head 0 "$T/m.xs" | xf-tool dump)"
same "--rows do not select tensors" "$(xf-tool dump "$T/m.xs")" "$(xfer-cat --rows 1:2 "$T/m.xs" | xf-tool dump)"
expect_fail 2 "--to csv on a model is a usage error" xfer-cat --to csv "$T/m.xs"
expect_fail 2 "--to jsonl on a model is a usage error" xfer-cat --to jsonl "$T/m.xs"
expect_fail 2 "--to npy on a two-tensor model needs --fields" xfer-cat --to npy "$T/m.xs"

# --- option checks -------------------------------------------------------------------------
for t in csv jsonl npy npz; do
	expect_fail 2 "-z with --to $t is a usage error" xfer-cat -z --to "$t" --fields x "$T/r.xs"
done
expect_fail 2 "-z with --info is a usage error" xfer-cat -z --info "$T/r.xs"
for t in npy npz csv; do
	expect_fail 2 "--to $t -o NAME.zst is a usage error (the export is not compressed)" \
		xfer-cat --to "$t" --fields x -o "$T/export.$t.zst" "$T/r.xs"
done
same "... and leaves no file" "" "$(ls "$T" | grep '^export' || true)"
expect_fail 2 "--to with an unknown format is a usage error" xfer-cat --to xml "$T/r.xs"
stderr_has "... naming it" "*'xml'*"
expect_fail 2 "--info with --check is a usage error" xfer-cat --info --check "$T/r.xs"
expect_fail 2 "--to npy with several fields is a usage error" xfer-cat --to npy "$T/b.xs"
stderr_has "... saying to choose one with --fields" "*--fields*"

# --- history -------------------------------------------------------------------------------
xfer-cat --head 3 "$T/b.xs" | xfer-cat --info >"$T/h.info"
same "--info shows the history xfer-cat added, with its args" "xfer-cat $version [\"--head\",\"3\",\"$T/b.xs\"]" \
	"$(sed -n '/^  history:$/{n;p;}' "$T/h.info" | sed 's/^ *//')"
same "merging adds one record, not one per input segment" 1 \
	"$(cat "$T/b.xs" "$T/b2.xs" | xfer-cat | xfer-cat --info | grep -c '^    xfer-cat')"

# --- -v, -q, progress ----------------------------------------------------------------------
same "-v: a summary at the end" "xfer-cat: 2 segments in, 18 rows out" \
	"$(xfer-cat -v "$T/b.xs" "$T/b2.xs" 2>&1 >/dev/null)"
same "nothing on stderr by default" "" "$(xfer-cat "$T/b.xs" "$T/b2.xs" 2>&1 >/dev/null)"
same "--progress draws on stderr and clears the line" yes \
	"$(xfer-cat --progress "$T/b.xs" 2>&1 >/dev/null | tr '\r\033' 'RE' | grep -q '^Rxfer-cat: bytes read [0-9]*E\[K.*RE\[K$' && echo yes)"
same "no progress when stderr is not a terminal" "" "$(xfer-cat "$T/b.xs" 2>&1 >/dev/null)"
same "--fake-stderr-is-tty turns progress on" yes \
	"$(xfer-cat --fake-stderr-is-tty "$T/b.xs" 2>&1 >/dev/null | grep -q 'bytes read' && echo yes)"
same "-q silences it" "" "$(xfer-cat -q --fake-stderr-is-tty "$T/b.xs" 2>&1 >/dev/null)"

# --- large output into a reader that goes away ----------------------------------------------
xf-tool gen ramp --rows 200000 --dim 16 >"$T/big.xs"
same "fixture: big.xs is a multi-MB stream" yes "$([ "$(wc -c <"$T/big.xs")" -gt 4000000 ] && echo yes)"
for mode in "" "--to csv" "--to jsonl" "--to npz" "--rows 5:" "--fields x"; do
	# shellcheck disable=SC2086
	st=$(sh -c '{ xfer-cat "$@" 2>"$0.err"; echo $? >"$0.st"; } | head -c 100 >/dev/null; cat "$0.st"' "$T/big" $mode "$T/big.xs")
	same "xfer-cat $mode big.xs | head -c 100: status 141, nothing on stderr" "141:" "$st:$(cat "$T/big.err")"
done

if ! has_python; then
	skip_oracle "no numpy/msgpack/msgpack_numpy in $PY: the Python oracle tests"
	finish
	exit
fi

# --- Python-made streams --------------------------------------------------------------------
cat >"$T/mk.py" <<'PY'
import sys, msgpack, msgpack_numpy as m, numpy as np

def put(f, frame):
    f.write(msgpack.packb(frame, default=m.encode, use_bin_type=True))

def segment(f, fields, cols, n, meta, **top):
    put(f, dict({"t": "header", "xfer": 1, "kind": "samples", "fields": fields, "meta": meta}, **top))
    put(f, {"t": "batch", "n": n, "cols": cols})
    put(f, {"t": "end", "rows": n})

def hand(f):
    """x has one NaN and two infinities; ids need quoting in CSV; meta and header have unknown keys."""
    x = np.array([[1, 2], [0.5, -1], [np.nan, np.inf], [-np.inf, 3]], "<f4")
    segment(f, {"x": {"dtype": "<f4", "shape": [2]}, "y": {"dtype": "|u1", "shape": []},
                "id": {"dtype": "str", "shape": []}},
            {"x": x, "y": np.array([0, 1, 1, 0], "|u1"), "id": ["a", "b,c", 'say "hi"', ""]}, 4,
            {"classes": ["cat", "dog"],
             "history": [{"prog": "toy.py", "version": "1", "args": ["--a", "b"], "extra": 5}],
             "zz_custom": {"deep": [1, 2.5, None, True, {"k": "v"}]}, "aa_custom": "first"},
            zz_top={"k": [1, 2]}, aa_top="v")

def classes(f, names):
    meta = {} if names == "-" else {"classes": names.split(",")}
    segment(f, {"x": {"dtype": "<f4", "shape": [1]}}, {"x": np.array([[0], [1]], "<f4")}, 2, meta)

def types(f):
    """Every numeric dtype, extreme values, floats over the whole exponent range."""
    rng = np.random.default_rng(5)
    n = 64
    x = (rng.standard_normal((n, 2, 2)) * 10.0 ** rng.integers(-38, 38, (n, 2, 2))).astype("<f4")
    x[0, 0, 0] = np.float32(1e-45)   # a subnormal
    x[0, 0, 1] = np.finfo("<f4").max
    d = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    d[0] = 0.1
    h = rng.standard_normal(n).astype("<f2")
    i = rng.integers(-2**63, 2**63 - 1, n, dtype="<i8", endpoint=True)
    i[:2] = [-2**63, 2**63 - 1]
    u = rng.integers(0, 2**64 - 1, n, dtype="<u8", endpoint=True)
    u[:2] = [0, 2**64 - 1]
    bits = (rng.standard_normal(n).astype("<f4").view("<u4") >> 16).astype("<u2")
    fields = {"x": {"dtype": "<f4", "shape": [2, 2]}, "d": {"dtype": "<f8", "shape": []},
              "h": {"dtype": "<f2", "shape": []}, "i": {"dtype": "<i8", "shape": []},
              "u": {"dtype": "<u8", "shape": []}, "b": {"dtype": "|b1", "shape": []},
              "bf": {"dtype": "bf16", "shape": []}, "s": {"dtype": "|i1", "shape": [3]},
              "w": {"dtype": "<u2", "shape": []}}
    cols = {"x": x, "d": d.astype("<f8"), "h": h, "i": i, "u": u, "b": rng.integers(0, 2, n).astype(bool),
            "bf": bits, "s": rng.integers(-128, 127, (n, 3), dtype="|i1", endpoint=True),
            "w": rng.integers(0, 65535, n, dtype="<u2", endpoint=True)}
    put(f, {"t": "header", "xfer": 1, "kind": "table", "fields": fields, "meta": {}})
    for part in (slice(0, 40), slice(40, n)):   # two batches
        put(f, {"t": "batch", "n": len(bits[part]),
                "cols": {k: (bf16(v[part]) if k == "bf" else v[part]) for k, v in cols.items()}})
    put(f, {"t": "end", "rows": n})
    np.savez(sys.argv[2] + ".expect.npz", **cols)

def bf16(bits):
    d = m.encode(np.ascontiguousarray(bits))
    d[b"xfer_dtype"] = "bf16"
    return d

def names(f):
    segment(f, {"a,b": {"dtype": "<i4", "shape": [2]}, 'q"x': {"dtype": "str", "shape": []}},
            {"a,b": np.array([[1, 2], [3, 4]], "<i4"), 'q"x': ["line\nbreak", "tab\there \u00e9\\ \"q\""]}, 2, {})

def empty(f):
    """Fields whose rows hold no values: no CSV column for them."""
    segment(f, {"e": {"dtype": "<f4", "shape": [0]}, "x": {"dtype": "<i4", "shape": []},
                "g": {"dtype": "<f4", "shape": [2, 0]}, "y": {"dtype": "<i4", "shape": []}},
            {"e": np.zeros((2, 0), "<f4"), "x": np.array([1, 2], "<i4"), "g": np.zeros((2, 2, 0), "<f4"),
             "y": np.array([3, 4], "<i4")}, 2, {})

def oddhistory(f):
    """A history record without prog and with a non-string version (not ours to reject)."""
    segment(f, {"x": {"dtype": "<f4", "shape": []}}, {"x": np.zeros(1, "<f4")}, 1,
            {"history": [{"version": 3, "args": ["a"]}]})

def badcount(f):
    put(f, {"t": "header", "xfer": 1, "kind": "samples", "fields": {"x": {"dtype": "<f4", "shape": []}}, "meta": {}})
    put(f, {"t": "batch", "n": 2, "cols": {"x": np.zeros(2, "<f4")}})
    put(f, {"t": "end", "rows": 3})

with open(sys.argv[2], "wb") as f:
    globals()[sys.argv[1]](f, *sys.argv[3:])
PY
mk() { "$PY" "$T/mk.py" "$@"; }
mk hand "$T/hand.xs"
mk types "$T/types.xs"
mk names "$T/names.xs"
mk badcount "$T/badcount.xs"
mk empty "$T/e0.xs"
mk oddhistory "$T/oddh.xs"
mk classes "$T/cd.xs" cat,dog
mk classes "$T/cd2.xs" cat,dog
mk classes "$T/cc.xs" cat,cow
mk classes "$T/none.xs" -

# --- --info --------------------------------------------------------------------------------
xfer-cat --info "$T/hand.xs" >"$T/hand.info" 2>"$T/hand.err"
same "--info: nothing on stderr" "" "$(cat "$T/hand.err")"
same "--info: the segment line" "segment 1: samples, 4 rows in 1 batches" "$(head -n 1 "$T/hand.info")"
same "--info: the column titles" "field dtype shape min mean max nan inf" \
	"$(info_line "field dtype shape min mean max nan inf" <"$T/hand.info")"
same "--info: x: min/mean/max over finite values, NaN and Inf counted" "x <f4 [2] -1 1.1 3 1 2" \
	"$(info_line "x <f4 [2] -1 1.1 3 1 2" <"$T/hand.info")"
same "--info: y" "y |u1 [] 0 0.5 1 0 0" "$(info_line "y |u1 [] 0 0.5 1 0 0" <"$T/hand.info")"
same "--info: a str field has no statistics" "id str [] - - - 0 0" "$(info_line "id str [] - - - 0 0" <"$T/hand.info")"
same "--info: classes" 'classes (2): ["cat","dog"]' "$(info_line 'classes (2): ["cat","dog"]' <"$T/hand.info")"
same "--info: history" 'history:;toy.py 1 ["--a","b"];' \
	"$(sed -n '/history:/,$p' "$T/hand.info" | sed 's/^ *//' | tr '\n' ';')"
same "--info: exactly these lines" 8 "$(wc -l <"$T/hand.info")"
same "--info: a history record without prog or a string version shows ?" '? ? ["a"]' \
	"$(xfer-cat --info "$T/oddh.xs" | sed -n '/history:/{n;p;}' | sed 's/^ *//')"
xfer-cat --info --rows 1:2 "$T/hand.xs" >"$T/hand1.info"
same "--info --rows: statistics over the selected row" "x <f4 [2] -1 -0.25 0.5 0 0" \
	"$(info_line "x <f4 [2] -1 -0.25 0.5 0 0" <"$T/hand1.info")"
same "--info --rows: says so" yes "$(head -n 1 "$T/hand1.info" | grep -q 'statistics over the selected rows' && echo yes)"
same "--info --rows 2:3: all of x non-finite: no statistics" "x <f4 [2] - - - 1 1" \
	"$(xfer-cat --info --rows 2:3 "$T/hand.xs" | info_line "x <f4 [2] - - - 1 1")"
"$PY" - "$T/types.xs" >"$T/types.expect" <<'PY'
import sys, msgpack, msgpack_numpy as m, numpy as np
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
names = list(fr[0]["fields"])
for name in names:
    v = np.concatenate([b["cols"][name] for b in fr[1:-1]]).astype(np.float64)
    if name == "bf":
        v = (np.concatenate([b["cols"]["bf"] for b in fr[1:-1]]).astype("<u4") << 16).view("<f4").astype(np.float64)
    if name in ("i", "u"):   # exact sums of 64-bit integers, then rounded once like C's double
        raw = [int(t) for b in fr[1:-1] for t in b["cols"][name]]
        print(name, "%.6g %.6g %.6g" % (min(raw), float(sum(float(t) for t in raw)) / len(raw), max(raw)))
    else:
        print(name, "%.6g %.6g %.6g" % (v.min(), v.sum() / v.size, v.max()))
PY
xfer-cat --info "$T/types.xs" | sed 's/\[[^]]*\]//' | awk 'NR > 2 { print $1, $3, $4, $5 }' >"$T/types.got"
same "--info: min/mean/max of every dtype agree with numpy" "$(cat "$T/types.expect")" "$(cat "$T/types.got")"

# --- --check -------------------------------------------------------------------------------
expect_fail 1 "--check: an end frame whose count is wrong fails" xfer-cat --check "$T/badcount.xs"
stderr_has "... with the location" "*badcount.xs*frame 3*"
check "--check: a Python-written stream passes" xfer-cat --check "$T/types.xs"

# --- classes and merging -------------------------------------------------------------------
same "same classes: one segment" "header kind=samples;end count=4;" "$(cat "$T/cd.xs" "$T/cd2.xs" | xfer-cat | frames -)"
same "other classes: two segments" "header kind=samples;end count=2;header kind=samples;end count=2;" \
	"$(cat "$T/cd.xs" "$T/cc.xs" | xfer-cat | frames -)"
same "classes and no classes: two segments" "header kind=samples;end count=2;header kind=samples;end count=2;" \
	"$(cat "$T/cd.xs" "$T/none.xs" | xfer-cat | frames -)"
same "no classes on either side: one segment" "header kind=samples;end count=4;" \
	"$(cat "$T/none.xs" "$T/none.xs" | xfer-cat | frames -)"
same "each segment keeps its classes" 'meta {"classes":["cat","dog"]};meta {"classes":["cat","cow"]};' \
	"$(cat "$T/cd.xs" "$T/cc.xs" | xfer-cat | xf-tool dump | sed -n 's/^  meta/meta/p' | tr '\n' ';')"
expect_fail 1 "an export of tables whose classes differ fails" xfer-cat --to csv "$T/cd.xs" "$T/cc.xs"

# --- pass-through of meta, unknown keys and history (Python reads the result) ------------------
xfer-cat --rows 1:3 "$T/hand.xs" >"$T/hand.out"
"$PY" - "$T/hand.xs" "$T/hand.out" "$version" "$T/hand.xs" >"$T/pass.out" <<'PY'
import sys, msgpack
def header(p):
    return next(iter(msgpack.Unpacker(open(p, "rb"), raw=False)))
a, b = header(sys.argv[1]), header(sys.argv[2])
hist = b["meta"]["history"]
problems = []
if hist[:-1] != a["meta"]["history"]:
    problems.append("earlier history records changed: %r" % hist[:-1])
if hist[-1] != {"prog": "xfer-cat", "version": sys.argv[3], "args": ["--rows", "1:3", sys.argv[4]]}:
    problems.append("the new record is %r" % hist[-1])
if {k: v for k, v in b["meta"].items() if k != "history"} != {k: v for k, v in a["meta"].items() if k != "history"}:
    problems.append("meta changed: %r" % b["meta"])
if list(b["meta"]) != list(a["meta"]):
    problems.append("meta keys reordered: %r" % list(b["meta"]))
extra = lambda h: [(k, v) for k, v in h.items() if k not in ("t", "xfer", "kind", "fields", "meta")]
if extra(a) != extra(b):
    problems.append("unknown header keys changed: %r" % extra(b))
if b["fields"] != a["fields"] or list(b["fields"]) != list(a["fields"]):
    problems.append("fields changed: %r" % b["fields"])
print("; ".join(problems) or "preserved")
PY
same "meta, unknown meta and header keys pass through; history gains one record" preserved "$(cat "$T/pass.out")"

# --- --to csv ------------------------------------------------------------------------------
xfer-cat --to csv "$T/hand.xs" >"$T/hand.csv"
same "csv: the header line" "x_0,x_1,y,id" "$(head -n 1 "$T/hand.csv")"
same "csv: quoting of ids with commas and quotes; nan and inf spelled out" \
	'1,2,0,a;0.5,-1,1,"b,c";nan,inf,1,"say ""hi""";-inf,3,0,;' "$(sed 1d "$T/hand.csv" | tr '\n' ';')"
same "csv: a Python csv reader gets the ids back" "['a', 'b,c', 'say \"hi\"', '']" \
	"$("$PY" -c 'import csv, sys; print([r[3] for r in list(csv.reader(open(sys.argv[1])))[1:]])' "$T/hand.csv")"
same "csv: field names are quoted too" '"a,b_0","a,b_1","q""x"' "$(xfer-cat --to csv "$T/names.xs" | head -n 1)"
same "csv: strings with line breaks are quoted" "[['1', '2', 'line\\nbreak'], ['3', '4', 'tab\\there é\\\\ \"q\"']]" \
	"$(xfer-cat --to csv "$T/names.xs" | "$PY" -c 'import csv, sys; print(list(csv.reader(sys.stdin))[1:])')"
xfer-cat --to csv "$T/types.xs" >"$T/types.csv"
"$PY" - "$T/types.csv" "$T/types.xs.expect.npz" >"$T/csv.check" <<'PY'
import csv, sys, numpy as np
rows = list(csv.reader(open(sys.argv[1], newline="")))
e = np.load(sys.argv[2])
want_header = ["x_%d" % k for k in range(4)] + ["d", "h", "i", "u", "b", "bf"] + ["s_%d" % k for k in range(3)] + ["w"]
col = {name: [r[k] for r in rows[1:]] for k, name in enumerate(rows[0])}
bad = []
if rows[0] != want_header:
    bad.append("header %r" % rows[0])
if len(rows) != 65:
    bad.append("%d lines" % len(rows))
x = e["x"].reshape(64, 4)
for k in range(4):   # f4 reads back exactly through numpy's float32 parser
    if not all(np.float32(t).tobytes() == v.tobytes() for t, v in zip(col["x_%d" % k], x[:, k])):
        bad.append("x_%d" % k)
if not all(float(t) == v for t, v in zip(col["d"], e["d"])):
    bad.append("d")
if not all(np.float16(t) == v for t, v in zip(col["h"], e["h"])):
    bad.append("h")
bf = (e["bf"].astype("<u4") << 16).view("<f4")
if not all(np.float32(t) == v for t, v in zip(col["bf"], bf)):
    bad.append("bf")
for name in ("i", "u", "w"):
    if [int(t) for t in col[name]] != [int(v) for v in e[name]]:
        bad.append(name)
if col["b"] != [str(int(v)) for v in e["b"]]:
    bad.append("b")
for k in range(3):
    if [int(t) for t in col["s_%d" % k]] != [int(v) for v in e["s"][:, k]]:
        bad.append("s_%d" % k)
print(", ".join(bad) or "exact")
PY
same "csv: every value reads back exactly in numpy (f4, f8, f2, bf16, i8/u8 extremes, bool, i1, u2)" exact \
	"$(cat "$T/csv.check")"
same "csv: an f4 subnormal and the largest f4 keep their digits" "1.40129846e-45,3.40282347e+38" \
	"$(sed -n 2p "$T/types.csv" | cut -d, -f1-2)"
same "csv: 0.1 as f8 keeps 17 digits" "0.10000000000000001" "$(sed -n 2p "$T/types.csv" | cut -d, -f5)"
same "csv: two compatible segments: one header line" 1 "$(xfer-cat --to csv "$T/cd.xs" "$T/cd2.xs" | grep -c '^x_0$')"
same "csv: fields with no values per row give no columns" "x,y;1,3;2,4;" "$(xfer-cat --to csv "$T/e0.xs" | tr '\n' ';')"
same "jsonl: fields with no values per row are empty arrays" '{"e":[],"x":1,"g":[[],[]],"y":3}' \
	"$(xfer-cat --to jsonl "$T/e0.xs" | head -n 1)"
same "csv: zero rows: just the header line" "x_0,x_1,x_2" \
	"$(xf-tool gen ramp --rows 0 --dim 3 | xfer-cat --to csv)"

# --- --to jsonl ----------------------------------------------------------------------------
xfer-cat --to jsonl "$T/hand.xs" >"$T/hand.jsonl"
"$PY" - "$T/hand.jsonl" >"$T/jsonl.check" <<'PY'
import json, sys
got = [json.loads(line) for line in open(sys.argv[1])]
want = [{"x": [1, 2], "y": 0, "id": "a"}, {"x": [0.5, -1], "y": 1, "id": "b,c"},
        {"x": [None, None], "y": 1, "id": 'say "hi"'}, {"x": [None, 3], "y": 0, "id": ""}]
print("equal" if got == want and [list(g) for g in got] == [["x", "y", "id"]] * 4 else repr(got))
PY
same "jsonl: every line parses; NaN and infinities are null; keys in field order" equal "$(cat "$T/jsonl.check")"
same "jsonl: names and strings are escaped" \
	"[{'a,b': [1, 2], 'q\"x': 'line\\nbreak'}, {'a,b': [3, 4], 'q\"x': 'tab\\there é\\\\ \"q\"'}]" \
	"$(xfer-cat --to jsonl "$T/names.xs" | "$PY" -c 'import json, sys; print([json.loads(l) for l in sys.stdin])')"
xfer-cat --to jsonl "$T/types.xs" >"$T/types.jsonl"
"$PY" - "$T/types.jsonl" "$T/types.xs.expect.npz" >"$T/jsonl2.check" <<'PY'
import json, sys, numpy as np
rows = [json.loads(l) for l in open(sys.argv[1])]
e = np.load(sys.argv[2])
bad = []
if len(rows) != 64:
    bad.append("%d lines" % len(rows))
if not all(np.array(r["x"], np.float32).tobytes() == e["x"][k].tobytes() for k, r in enumerate(rows)):
    bad.append("x")
if [r["d"] for r in rows] != e["d"].tolist():
    bad.append("d")
for name in ("i", "u", "w", "b"):
    if [r[name] for r in rows] != e[name].tolist():
        bad.append(name)
if [r["s"] for r in rows] != e["s"].tolist():
    bad.append("s")
print(", ".join(bad) or "exact")
PY
same "jsonl: values exact (f4 bits, f8, 64-bit integer extremes, bools, shaped fields)" exact "$(cat "$T/jsonl2.check")"

# --- --to npy ------------------------------------------------------------------------------
expect_fail 2 "npy: several fields is a usage error" xfer-cat --to npy "$T/types.xs"
for f in x d h i u b bf s w; do
	xfer-cat --to npy --fields "$f" "$T/types.xs" >"$T/$f.npy"
done
"$PY" - "$T" <<'PY' >"$T/npy.check"
import sys, numpy as np
t = sys.argv[1]
e = np.load(t + "/types.xs.expect.npz")
bad = []
for f in "x d h i u b bf s w".split():
    a = np.load(t + "/" + f + ".npy")
    if a.dtype != e[f].dtype or a.shape != e[f].shape or a.tobytes() != e[f].tobytes():
        bad.append("%s: %s %s" % (f, a.dtype, a.shape))
print(", ".join(bad) or "identical")
PY
same "npy: every dtype and shape preserved bit for bit (bf16 as its uint16 bits)" identical "$(cat "$T/npy.check")"
xfer-cat --to npy --fields id "$T/hand.xs" >"$T/id.npy"
same "npy: a str field is a numpy unicode array" "<U8 ['a', 'b,c', 'say \"hi\"', '']" \
	"$("$PY" -c 'import numpy as np, sys; a = np.load(sys.argv[1]); print(a.dtype.str, a.tolist())' "$T/id.npy")"
xfer-cat --to npy --fields x --rows 2:5 "$T/r.xs" "$T/r.xs" -o "$T/rows.npy"
same "npy: rows from several batches and files, -o FILE" "float32 (3, 1) [2.0, 3.0, 4.0]" \
	"$("$PY" -c 'import numpy as np, sys; a = np.load(sys.argv[1]); print(a.dtype, a.shape, a.ravel().tolist())' "$T/rows.npy")"
xfer-cat --to npy --fields x --rows 11:15 "$T/r.xs" "$T/r.xs" >"$T/rows2.npy"
same "npy: rows across two inputs" "[11.0, 12.0, 0.0, 1.0]" \
	"$("$PY" -c 'import numpy as np, sys; print(np.load(sys.argv[1]).ravel().tolist())' "$T/rows2.npy")"
xfer-cat --to npy --fields x --rows 20:30 "$T/r.xs" >"$T/none.npy"
same "npy: zero rows keep the row shape" "float32 (0, 1)" \
	"$("$PY" -c 'import numpy as np, sys; a = np.load(sys.argv[1]); print(a.dtype, a.shape)' "$T/none.npy")"

# --- --to npz ------------------------------------------------------------------------------
xfer-cat --to npz "$T/types.xs" >"$T/types.npz"
"$PY" - "$T/types.npz" "$T/types.xs.expect.npz" >"$T/npz.check" <<'PY'
import sys, numpy as np
a, e = np.load(sys.argv[1]), np.load(sys.argv[2])
bad = [] if a.files == e.files else ["members %r" % a.files]
for f in e.files:
    if f in a.files and (a[f].dtype != e[f].dtype or a[f].tobytes() != e[f].tobytes() or a[f].shape != e[f].shape):
        bad.append(f)
print(", ".join(bad) or "identical")
PY
same "npz: every field, in field order, dtype and values preserved" identical "$(cat "$T/npz.check")"
xfer-cat --to npz "$T/hand.xs" >"$T/hand.npz"
same "npz: strings are numpy unicode arrays, ids included" "x float32 (4, 2); y uint8 (4,); id <U8 ['a', 'b,c', 'say \"hi\"', '']" \
	"$("$PY" -c '
import numpy as np, sys
d = np.load(sys.argv[1])
print("x %s %s; y %s %s; id %s %r" % (d["x"].dtype, d["x"].shape, d["y"].dtype, d["y"].shape, d["id"].dtype.str, d["id"].tolist()))' "$T/hand.npz")"
same "npz: NaN and infinities survive" "[[1.0, 2.0], [0.5, -1.0], [nan, inf], [-inf, 3.0]]" \
	"$("$PY" -c 'import numpy as np, sys; print(np.load(sys.argv[1])["x"].tolist())' "$T/hand.npz")"
xfer-cat --to npz "$T/m.xs" >"$T/m.npz"
same "npz: a model exports its tensors" "fc.weight float32 [[0.0, 0.25, 0.5], [0.75, 1.0, 1.25]]; fc.bias float32 [-1.0, -0.75]" \
	"$("$PY" -c '
import numpy as np, sys
d = np.load(sys.argv[1])
print("; ".join("%s %s %s" % (k, d[k].dtype, d[k].tolist()) for k in d.files))' "$T/m.npz")"
xfer-cat --to npz --fields id,y --head 2 "$T/b.xs" "$T/b2.xs" -o "$T/sel.npz"
same "npz: --fields and --head, -o FILE" "['id', 'y'] ['row-0', 'row-1']" \
	"$("$PY" -c 'import numpy as np, sys; d = np.load(sys.argv[1]); print(d.files, d["id"].tolist())' "$T/sel.npz")"
xfer-cat --to npz --fields x,y "$T/b.xs" "$T/b2.xs" >"$T/two.npz"
same "npz: two compatible segments are one table" "(18, 2) (18,)" \
	"$("$PY" -c 'import numpy as np, sys; d = np.load(sys.argv[1]); print(d["x"].shape, d["y"].shape)' "$T/two.npz")"
same "npz: a zero-row stream gives empty arrays" "(0, 3)" \
	"$(xf-tool gen ramp --rows 0 --dim 3 | xfer-cat --to npz -o "$T/z.npz" && "$PY" -c 'import numpy as np, sys; print(np.load(sys.argv[1])["x"].shape)' "$T/z.npz")"

# --- a model stream keeps its graph (Python compares the header) --------------------------------
xfer-cat "$T/m.xs" >"$T/m.out"
same "a model's graph passes through unchanged (Python compares)" same \
	"$("$PY" -c '
import msgpack, sys
h = [next(iter(msgpack.Unpacker(open(p, "rb"), raw=False))) for p in sys.argv[1:]]
print("same" if h[0]["graph"] == h[1]["graph"] and h[0]["fields"] == h[1]["fields"] else repr(h[1]))' "$T/m.xs" "$T/m.out")"

finish
