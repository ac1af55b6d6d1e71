#!/bin/sh
# The spec, the examples and the code agree: golden example streams (written by Python alone)
# read back to their stored dumps; the worked example's hex dump in schemas/stream.md is the
# example file's bytes; and every frame that xfer writes validates against the JSON Schemas.
. "$(dirname "$0")/../lib.sh"
ex=$top/schemas/examples

for f in "$ex"/*.msgpack "$ex"/*.zst; do
	same "$(basename "$f") reads back to its stored dump" "$(cat "$f.dump")" "$(xf-tool dump "$f")"
	check "$(basename "$f") passes --check" xfer-cat --check "$f"
done

sed -n '/^## 13. Worked example/,/^Reading the first bytes/p' "$top/schemas/stream.md" |
	sed -n 's/^\(0000[0-9a-f]*: .*\)$/\1/p' | cut -c1-50 >"$T/doc.hex"
od -An -tx1 -v "$ex/worked.msgpack" | tr -d ' \n' >"$T/file.hex"
same "the hex dump in stream.md section 13 is worked.msgpack" "$(cat "$T/file.hex")" \
	"$(cut -d: -f2 "$T/doc.hex" | tr -d ' \n')"

if has_python && "$PY" -c 'import jsonschema' 2>/dev/null; then
	xf-tool gen blobs --rows 30 --dim 4 --batch-bytes 200 | xfer-cat --fields x,y,id >"$T/blobs.xs"
	xf-tool gen model --dim 3 >"$T/model.xs"
	xfer-pack "$ex/../../tests/data/npy/f8-3d.npy" >"$T/packed.xs" 2>/dev/null || true
	for f in "$ex"/*.msgpack "$T"/*.xs; do
		[ -s "$f" ] || continue
		out=$("$PY" - "$top/schemas" "$f" <<'PY'
import json, sys, msgpack, jsonschema
def view(o):
    if isinstance(o, bytes):
        return {"$bin": len(o)}
    if isinstance(o, dict):
        return {(k.decode() if isinstance(k, bytes) else k): view(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [view(v) for v in o]
    return o
schemas = {t: json.load(open(f"{sys.argv[1]}/{t}.schema.json")) for t in ("header", "batch", "tensor", "end")}
n = 0
for frame in msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False, max_buffer_size=0):
    v = view(frame)
    jsonschema.Draft202012Validator(schemas[v["t"]]).validate(v)
    n += 1
print(f"valid {n}")
PY
)
		case $out in valid*) pass "$(basename "$f"): every frame validates ($out)" ;;
		*) fail "$(basename "$f"): schema validation"; echo "$out" | sed 's/^/#   /' | tail -n 5 ;; esac
	done
	echo '{"t": "header"}' | "$PY" -c 'import json,sys,msgpack; sys.stdout.buffer.write(msgpack.packb(json.load(sys.stdin)))' >"$T/bad.msgpack"
	set +e
	"$PY" -c '
import json, sys, msgpack, jsonschema
s = json.load(open(sys.argv[1] + "/header.schema.json"))
jsonschema.Draft202012Validator(s).validate(msgpack.unpackb(open(sys.argv[2], "rb").read(), raw=False))
' "$top/schemas" "$T/bad.msgpack" 2>/dev/null
	st=$?
	set -e
	same "the header schema rejects a header without fields" 1 "$st"
else
	skip_oracle "JSON Schema validation: /usr/bin/python3 lacks jsonschema"
fi
finish
