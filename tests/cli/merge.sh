#!/bin/sh
# xfer-merge end to end: every method through the program against numpy references written
# here from ../shared/docs/merge.md (official TIES per tensor and global, mergekit's TIES),
# safetensors and model streams in and out (numpy reads our safetensors with the small reader
# below), float16/bfloat16, determinism, prediction fusion, and bad input. The methods' small
# hand-checked cases are in tests/unit/test-merge.c.
. "$(dirname "$0")/../lib.sh"

if ! has_python; then
	skip_oracle "/usr/bin/python3 with numpy and msgpack is needed"
	finish
	exit 0
fi
cat >"$T/st.py" <<'PY'
# A safetensors reader and writer in numpy (the format: u64 header length, JSON, raw data).
import json, struct, numpy as np
DT = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": "<u2", "I64": "<i8"}
def write(path, tensors):
    head, off, blobs = {}, 0, []
    for name, (dtype, a) in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        head[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(head).encode(); h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
    out = {}
    for name, e in head.items():
        if name == "__metadata__": continue
        a, b = e["data_offsets"]
        out[name] = (e["dtype"], np.frombuffer(data[a:b], DT[e["dtype"]]).reshape(e["shape"]))
    return out
def f32(path):
    return {k: (v.astype(np.uint32) << 16).view("<f4") if d == "BF16" else v.astype("<f4")
            for k, (d, v) in read(path).items()}
def bf16(x):   # round to nearest even, as the C code does
    u = np.asarray(x, "<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
PY
# Base and three fine-tuned models: tensors of 24, 7 and 1 entries (the 1-entry one is what
# mergekit refuses to trim), deltas of different scales so that global and per-tensor TIES differ.
"$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]; rng = np.random.default_rng(5)
shapes = {"l0.weight": (4, 6), "l0.bias": (7,), "scale": (1,)}
base = {k: rng.normal(size=s).astype("<f4") for k, s in shapes.items()}
st.write(t + "/base.safetensors", {k: ("F32", v) for k, v in base.items()})
st.write(t + "/nsbase.safetensors", {k: ("F32", v) for k, v in base.items() if k != "scale"})
for i, sd in enumerate([0.5, 0.05, 1.0]):
    ft = {k: (v + rng.normal(scale=sd * (0.1 if k == "l0.bias" else 1), size=v.shape)).astype("<f4")
          for k, v in base.items()}
    st.write(t + "/m%d.safetensors" % (i + 1), {k: ("F32", v) for k, v in ft.items()})
    st.write(t + "/nsm%d.safetensors" % (i + 1), {k: ("F32", v) for k, v in ft.items() if k != "scale"})
    st.write(t + "/m%d-f16.safetensors" % (i + 1), {k: ("F16", v.astype("<f2")) for k, v in ft.items()})
st.write(t + "/shape.safetensors", {"l0.weight": ("F32", np.zeros((6, 4), "<f4")),
                                    "l0.bias": ("F32", base["l0.bias"]), "scale": ("F32", base["scale"])})
st.write(t + "/missing.safetensors", {"l0.weight": ("F32", base["l0.weight"]), "scale": ("F32", base["scale"])})
nan = dict(base); nan["l0.bias"] = base["l0.bias"].copy(); nan["l0.bias"][3] = np.nan
st.write(t + "/nan.safetensors", {k: ("F32", v) for k, v in nan.items()})
st.write(t + "/int.safetensors", {k: ("I64", np.zeros(s, "<i8")) for k, s in shapes.items()})
PY
M="$T/m1.safetensors $T/m2.safetensors $T/m3.safetensors"
B="$T/base.safetensors"

# Compare our output (safetensors) with a numpy reference of the same method: the largest
# absolute difference over every tensor, printed as "ok" within tolerance.
cat >"$T/ref.py" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t, method, out = sys.argv[1], sys.argv[2], sys.argv[3]
args = dict(a.split("=") for a in sys.argv[4:])
pre = args.get("prefix", "")
base = st.f32(t + "/%sbase.safetensors" % pre)
models = [st.f32(t + "/%sm%d.safetensors" % (pre, i)) for i in (1, 2, 3)]
names = list(base)
lam = float(args.get("lambda", 1)); d = float(args.get("density", 0.2))
def official_trim(v):                       # keep |v| >= the kk-th smallest, kk = D - int(D d)
    kk = v.size - int(d * v.size)
    thr = np.sort(np.abs(v))[kk - 1]
    return np.where(np.abs(v) >= thr, v, 0)
def mergekit_trim(v):                       # exactly k = int(d n) largest
    k = int(d * v.size); keep = np.argsort(-np.abs(v), kind="stable")[:k]
    o = np.zeros_like(v); o[keep] = v[keep]; return o
def official_elect(T):                      # T: models x D, trimmed
    s = np.sign(T.sum(0)); maj = np.sign(np.sign(s).sum()); s[s == 0] = maj
    sel = np.where(s > 0, T > 0, T < 0)
    return (T * sel).sum(0) / np.maximum(sel.sum(0), 1)
def mergekit_elect(T):
    g = np.where(T.sum(0) >= 0, 1.0, -1.0); sel = np.sign(T) == g
    return (T * sel).sum(0) / np.where(sel.sum(0) == 0, 1, sel.sum(0))
ref = {}
if method == "ties-global":                  # the official code: one vector per model
    flat = lambda sd: np.concatenate([sd[k].ravel() for k in names])
    T = np.stack([official_trim(flat(m) - flat(base)) for m in models])
    merged = flat(base) + lam * official_elect(T); o = 0
    for k in names:
        ref[k] = merged[o:o + base[k].size].reshape(base[k].shape); o += base[k].size
for k in names:
    D = np.stack([m[k].ravel() - base[k].ravel() for m in models]).astype("<f4")
    if method == "linear":
        ref[k] = np.mean([m[k] for m in models], 0)
    elif method == "task-arithmetic":
        ref[k] = base[k] + lam * D.sum(0).reshape(base[k].shape)
    elif method == "ties":
        ref[k] = base[k] + lam * official_elect(np.stack([official_trim(v) for v in D])).reshape(base[k].shape)
    elif method == "ties-mergekit":
        ref[k] = base[k] + lam * mergekit_elect(np.stack([mergekit_trim(v) for v in D])).reshape(base[k].shape)
got = st.f32(out)
err = max(float(np.abs(got[k] - ref[k]).max()) for k in ref)
print("ok" if err <= 2e-6 and set(got) == set(ref) else "max error %g, tensors %s" % (err, sorted(got)))
PY
ref() { "$PY" "$T/ref.py" "$T" "$@"; }

xfer-merge -q --method linear $M -o "$T/lin.safetensors"
same "linear: the mean of the models (numpy reads our safetensors)" ok "$(ref linear "$T/lin.safetensors")"
xfer-merge -q --method task-arithmetic --lambda 0.7 --base "$B" $M -o "$T/ta.safetensors"
same "task arithmetic, lambda 0.7" ok "$(ref task-arithmetic "$T/ta.safetensors" lambda=0.7)"
xfer-merge -q --method task-arithmetic --lambda 0 --base "$B" $M -o "$T/ta0.safetensors"
same "task arithmetic with lambda 0 gives the base, bit for bit" \
	"$(tail -c 128 "$B" | od -An -tx1)" "$(tail -c 128 "$T/ta0.safetensors" | od -An -tx1)"
xfer-merge -q --method ties --density 0.3 --base "$B" $M -o "$T/ties.safetensors"
same "ties (official rule, per tensor) against numpy" ok "$(ref ties "$T/ties.safetensors" density=0.3)"
xfer-merge -q --method ties --density 0.3 --scope global --base "$B" $M -o "$T/tiesg.safetensors"
same "ties --scope global: one threshold over the model, as the TIES code" ok \
	"$(ref ties-global "$T/tiesg.safetensors" density=0.3)"
xfer-merge -q --method ties --density 0.5 --compat mergekit --base "$T/nsbase.safetensors" "$T/nsm1.safetensors" \
	"$T/nsm2.safetensors" "$T/nsm3.safetensors" -o "$T/tiesk.safetensors"
same "ties --compat mergekit: exactly k kept, weighted mean, +1 on a zero sum" ok \
	"$(ref ties-mergekit "$T/tiesk.safetensors" density=0.5 prefix=ns)"
expect_fail 2 "mergekit refuses to trim a 1-entry tensor at density < 1 (int(d n) = 0)" \
	xfer-merge --method ties --density 0.3 --compat mergekit --base "$B" $M -o "$T/no.safetensors"
stderr_has "... and the message names the tensor" "*scale*"
same "no output file is left behind" no "$([ -e "$T/no.safetensors" ] && echo yes || echo no)"

# The stream form: xfer-pack makes model streams of the same tensors.
for f in base m1 m2 m3; do xfer-pack "$T/$f.safetensors" -o "$T/$f.xs"; done
xfer-merge -q --method ties --density 0.3 --base "$T/base.xs" "$T/m1.xs" "$T/m2.xs" "$T/m3.xs" >"$T/ties.xs"
xfer-merge -q --method ties --density 0.3 --base "$T/base.xs" "$T/m1.xs" "$T/m2.xs" "$T/m3.xs" \
	-o "$T/ties-from-xs.safetensors"
same "model streams in: the same tensors as from safetensors" \
	"$(od -An -tx1 "$T/ties.safetensors")" "$(od -An -tx1 "$T/ties-from-xs.safetensors")"
same "a model stream out, with the merge recorded in its meta" "ties 3" \
	"$("$PY" -c 'import sys, msgpack; h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))); print(h["meta"]["merge"]["method"], h["meta"]["merge"]["models"])' "$T/ties.xs")"
xfer-merge -q --method ties --density 0.3 --base - "$T/m1.xs" "$T/m2.xs" "$T/m3.xs" <"$T/base.xs" \
	-o "$T/ties-stdin.safetensors"
same "the base from stdin" "$(od -An -tx1 "$T/ties.safetensors")" "$(od -An -tx1 "$T/ties-stdin.safetensors")"
expect_fail 2 "--scope global needs to read its inputs twice: not stdin" \
	xfer-merge --method ties --scope global --base - "$T/m1.xs" "$T/m2.xs" <"$T/base.xs"

# Tensor frames may come in any order: a stream listing them backwards merges the same.
"$PY" - "$T/m1.xs" "$T/m1-rev.xs" <<'PY'
import sys, msgpack
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
body = [f for f in fr if f["t"] == "tensor"][::-1]
with open(sys.argv[2], "wb") as f:
    for g in [fr[0]] + body + [fr[-1]]:
        f.write(msgpack.packb(g, use_bin_type=True))
PY
xfer-merge -q --method ties --density 0.3 --base "$T/base.xs" "$T/m1-rev.xs" "$T/m2.xs" "$T/m3.xs" \
	-o "$T/ties-rev.safetensors"
same "tensor frames out of the header's order" "$(od -An -tx1 "$T/ties.safetensors")" \
	"$(od -An -tx1 "$T/ties-rev.safetensors")"

# Two heads trained by xfer-train: the average keeps their graph, so xfer-embed runs it, and
# for linear heads it gives the average of their logits.
xfer-cat --head 300 "$top/data/mnist10k.xs.zst" -o "$T/d1.xs"
xfer-cat --rows 300:600 "$top/data/mnist10k.xs.zst" -o "$T/d2.xs"
xfer-train -q --classes 10 "$T/d1.xs" -o "$T/h1.xs"
xfer-train -q --classes 10 "$T/d2.xs" -o "$T/h2.xs"
xfer-merge -q --method linear "$T/h1.xs" "$T/h2.xs" -o "$T/h12.xs"
logits() { xfer-embed -m "$1" --logits "$T/d1.xs" | "$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
np.save(sys.argv[1], np.concatenate([f["cols"]["logits"] for f in b]))' "$2"; }
logits "$T/h1.xs" "$T/l1.npy"; logits "$T/h2.xs" "$T/l2.npy"; logits "$T/h12.xs" "$T/l12.npy"
same "merged heads run in xfer-embed; their logits are the parents' mean" ok "$("$PY" -c '
import sys, numpy as np
a, b, c = (np.load(sys.argv[i]) for i in (1, 2, 3))
print("ok" if np.abs(c - (a + b) / 2).max() <= 1e-4 * np.abs(c).max() else np.abs(c - (a + b) / 2).max())' \
	"$T/l1.npy" "$T/l2.npy" "$T/l12.npy")"

# Float16 in: arithmetic in float32, the output in the base's dtype unless --dtype.
xfer-merge -q --method linear "$T/m1-f16.safetensors" "$T/m2-f16.safetensors" -o "$T/h.safetensors"
same "float16 in, float16 out, the mean rounded once" ok "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]
a, b, got = st.read(t + "/m1-f16.safetensors"), st.read(t + "/m2-f16.safetensors"), st.read(t + "/h.safetensors")
ok = all(got[k][0] == "F16" and np.array_equal(got[k][1], ((a[k][1].astype("<f4") + b[k][1].astype("<f4")) / 2).astype("<f2")) for k in a)
print("ok" if ok else "differs")
PY
)"
"$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]
for i in (1, 2):
    st.write(t + "/m%d-bf.safetensors" % i, {k: ("BF16", st.bf16(v)) for k, v in st.f32(t + "/m%d.safetensors" % i).items()})
PY
xfer-merge -q --method linear "$T/m1-bf.safetensors" "$T/m2-bf.safetensors" -o "$T/bfin.safetensors"
same "bfloat16 in, bfloat16 out: the mean of the widened values, rounded once" ok "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]
a, b, got = st.f32(t + "/m1-bf.safetensors"), st.f32(t + "/m2-bf.safetensors"), st.read(t + "/bfin.safetensors")
print("ok" if all(got[k][0] == "BF16" and np.array_equal(got[k][1], st.bf16((a[k] + b[k]) / 2)) for k in a) else "differs")
PY
)"
xfer-merge -q --method linear --dtype bf16 $M -o "$T/bf.safetensors"
same "--dtype bf16: rounded to nearest even" ok "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]
ms = [st.f32(t + "/m%d.safetensors" % i) for i in (1, 2, 3)]
got = st.read(t + "/bf.safetensors")
ok = all(got[k][0] == "BF16" and np.array_equal(got[k][1], st.bf16(np.mean([m[k] for m in ms], 0))) for k in ms[0])
print("ok" if ok else "differs")
PY
)"

# DARE: reproducible from the seed, whatever the threads.
xfer-merge -q --method dare --density 0.5 --seed 7 -j 1 --base "$B" $M -o "$T/d1.safetensors"
xfer-merge -q --method dare --density 0.5 --seed 7 -j 2 --base "$B" $M -o "$T/d2.safetensors"
xfer-merge -q --method dare --density 0.5 --seed 8 --base "$B" $M -o "$T/d3.safetensors"
same "dare: the same seed gives the same bytes with 1 and 2 threads" \
	"$(od -An -tx1 "$T/d1.safetensors")" "$(od -An -tx1 "$T/d2.safetensors")"
same "dare: another seed drops other entries" differ \
	"$(cmp -s "$T/d1.safetensors" "$T/d3.safetensors" && echo same || echo differ)"
check "dare --elect and slerp and model-stock run" sh -c "
	xfer-merge -q --method dare --elect --base '$B' $M -o '$T/de.safetensors' &&
	xfer-merge -q --method slerp --t 0.3 --base '$B' '$T/m1.safetensors' -o '$T/sl.safetensors' &&
	xfer-merge -q --method model-stock --base '$B' $M -o '$T/ms.safetensors'"
xfer-merge -q --method slerp --t 0 --base "$B" "$T/m1.safetensors" -o "$T/sl0.safetensors"
same "slerp with t = 0 gives the base" ok "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]; b, g = st.f32(t + "/base.safetensors"), st.f32(t + "/sl0.safetensors")
print("ok" if all(np.allclose(b[k], g[k], rtol=0, atol=1e-6) for k in b) else "differs")
PY
)"

# Tensors missing from some inputs, other shapes: an error by default, or as --partial says.
expect_fail 1 "a tensor missing from a model: an error by default" \
	xfer-merge --method linear "$T/m1.safetensors" "$T/missing.safetensors"
stderr_has "... naming the tensor and both files" "*l0.bias*m1.safetensors*missing.safetensors*"
xfer-merge -q --method linear --partial intersect "$T/m1.safetensors" "$T/missing.safetensors" -o "$T/i.safetensors"
same "--partial intersect leaves it out" "l0.weight scale" \
	"$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import st; print(" ".join(sorted(st.read(sys.argv[2]))))' "$T" "$T/i.safetensors")"
xfer-merge -q --method linear --partial union "$T/m1.safetensors" "$T/missing.safetensors" -o "$T/u.safetensors"
same "--partial union merges the models that have it (here m1 alone)" ok "$("$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]; a, g = st.f32(t + "/m1.safetensors"), st.f32(t + "/u.safetensors")
print("ok" if np.array_equal(a["l0.bias"], g["l0.bias"]) else "differs")
PY
)"
expect_fail 1 "another shape: an error" xfer-merge --method linear "$T/m1.safetensors" "$T/shape.safetensors"
stderr_has "... naming the tensor and both shapes" "*l0.weight*[4, 6]*[6, 4]*"
expect_fail 1 "a NaN weight: an error naming the tensor" \
	xfer-merge --method task-arithmetic --base "$B" "$T/nan.safetensors"
stderr_has "... and the element" "*l0.bias*NaN*element 3*"
# NaN and infinity are caught by the merge's first pass over the values (not a check of its
# own): a tensor of 120 blocks, the bad value far into it, in a model or in the base, f32 or
# f16, through each method; and a tensor that slerp copies from the one model that has it.
"$PY" - "$T" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[1]); import st
t = sys.argv[1]; rng = np.random.default_rng(9)
big = {"w": rng.normal(size=(480, 1024)).astype("<f4"), "b": rng.normal(size=7).astype("<f4")}
st.write(t + "/bigbase.safetensors", {k: ("F32", v) for k, v in big.items()})
for i in (1, 2):
    ft = {k: (v + rng.normal(scale=0.01, size=v.shape)).astype("<f4") for k, v in big.items()}
    st.write(t + "/big%d.safetensors" % i, {k: ("F32", v) for k, v in ft.items()})
    if i == 2:
        bad = dict(ft); bad["w"] = ft["w"].copy(); bad["w"].flat[401234] = np.nan
        st.write(t + "/bignan.safetensors", {k: ("F32", v) for k, v in bad.items()})
        st.write(t + "/bigonly.safetensors", {"b": ("F32", ft["b"]), "only": ("F32", bad["w"])})
        bad["w"].flat[401234] = np.inf
        st.write(t + "/biginf16.safetensors", {k: ("F16", v.astype("<f2")) for k, v in bad.items()})
inf = dict(big); inf["w"] = big["w"].copy(); inf["w"].flat[491519] = -np.inf
st.write(t + "/biginfbase.safetensors", {k: ("F32", v) for k, v in inf.items()})
PY
BB="$T/bigbase.safetensors" B1="$T/big1.safetensors"
for method in linear task-arithmetic ties "ties --compat mergekit" "ties --scope global" dare "dare --elect" \
	slerp model-stock; do
	base="--base $BB" second=$B1
	case $method in linear | slerp) base= ;; esac
	expect_fail 1 "$method: a NaN deep in a large tensor of a model" \
		xfer-merge --method $method $base $second "$T/bignan.safetensors" -o "$T/nan-out.safetensors"
	stderr_has "... names the file, the tensor and the element" "*bignan.safetensors: tensor 'w' has NaN at element 401234*"
done
same "... and leaves no output" no "$([ -e "$T/nan-out.safetensors" ] && echo yes || echo no)"
expect_fail 1 "ties: -inf in the base's last block" xfer-merge --method ties --base "$T/biginfbase.safetensors" $B1
stderr_has "... named" "*biginfbase.safetensors: tensor 'w' has infinity at element 491519*"
expect_fail 1 "ties: infinity in an f16 model" xfer-merge --method ties --base "$BB" $B1 "$T/biginf16.safetensors"
stderr_has "... named" "*biginf16.safetensors: tensor 'w' has infinity at element 401234*"
expect_fail 1 "slerp: NaN in a tensor copied from the one model that has it" \
	xfer-merge --method slerp --partial union $B1 "$T/bigonly.safetensors" -o "$T/nan-out.safetensors"
stderr_has "... named" "*bigonly.safetensors: tensor 'only' has NaN at element 401234*"
xfer-merge --method ties --base "$BB" $B1 "$T/big2.safetensors" -o "$T/big-ok.safetensors"
same "the same tensors without the bad value merge" yes "$([ -s "$T/big-ok.safetensors" ] && echo yes || echo no)"
head -c 300 "$T/m2.safetensors" >"$T/trunc.safetensors"
expect_fail 1 "a truncated safetensors file" xfer-merge --method linear "$T/m1.safetensors" "$T/trunc.safetensors"
expect_fail 1 "integer tensors are not merged" xfer-merge --method linear "$T/m1.safetensors" "$T/int.safetensors"
expect_fail 2 "ties without --base" xfer-merge --method ties $M
expect_fail 2 "linear with --base" xfer-merge --method linear --base "$B" $M
expect_fail 2 "--weights: one per model" xfer-merge --method linear --weights 1,2 $M
expect_fail 2 "--density out of (0, 1]" xfer-merge --method ties --density 1.5 --base "$B" $M
expect_fail 2 "slerp takes two tensors" xfer-merge --method slerp --base "$B" $M
expect_fail 2 "slerp without a base takes two models" xfer-merge --method slerp "$T/m1.safetensors"
expect_fail 2 "model stock needs two models" xfer-merge --method model-stock --base "$B" "$T/m1.safetensors"
expect_fail 2 "an unknown method" xfer-merge --method soup $M
expect_fail 1 "empty input is not a model" sh -c "printf '' | xfer-merge --method linear - '$T/m1.safetensors'"

# Prediction fusion: two models' probabilities for three rows.
"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
np.save(t + "/pa.npy", np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]], "<f4"))
np.save(t + "/pb.npy", np.array([[0.5, 0.4, 0.1], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6]], "<f4"))
np.save(t + "/y.npy", np.array([0, 1, 2], "<i8"))
PY
xfer-pack probs="$T/pa.npy" y="$T/y.npy" -o "$T/pa.xs"
xfer-pack probs="$T/pb.npy" -o "$T/pb.xs"
col() { "$PY" -c 'import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
print(" ".join("%.4f" % v for v in np.concatenate([f["cols"][sys.argv[1]] for f in b]).ravel()))' "$1"; }
same "--fuse mean: the average of the probabilities" "0.6000 0.3000 0.1000 0.3500 0.5000 0.1500 0.2500 0.2500 0.5000" \
	"$(xfer-merge -q --fuse mean "$T/pa.xs" "$T/pb.xs" | col probs)"
same "--fuse mean --weights 3,1" "0.6500 0.2500 0.1000 0.2250 0.6500 0.1250 0.2750 0.2750 0.4500" \
	"$(xfer-merge -q --fuse mean --weights 3,1 "$T/pa.xs" "$T/pb.xs" | col probs)"
same "--fuse logit-mean: the normalised geometric mean" "$("$PY" -c 'import numpy as np
g = np.sqrt(np.load("'"$T"'/pa.npy").astype(float) * np.load("'"$T"'/pb.npy")); g /= g.sum(1, keepdims=True)
print(" ".join("%.4f" % v for v in g.ravel()))')" "$(xfer-merge -q --fuse logit-mean "$T/pa.xs" "$T/pb.xs" | col probs)"
same "the first input's other fields are carried through" "0.0000 1.0000 2.0000" \
	"$(xfer-merge -q --fuse dynamic "$T/pa.xs" "$T/pb.xs" | col y)"
same "--fuse dynamic: per-row weights on the simplex" ok "$(xfer-merge -q --fuse dynamic "$T/pa.xs" "$T/pb.xs" | "$PY" -c '
import sys, numpy as np, msgpack, msgpack_numpy as m
b = [f for f in msgpack.Unpacker(sys.stdin.buffer, object_hook=m.decode, raw=False) if f["t"] == "batch"]
w = np.concatenate([f["cols"]["fuse_weights"] for f in b])
print("ok" if w.shape == (3, 2) and np.allclose(w.sum(1), 1, atol=1e-6) and (w >= 0).all() else w)')"
expect_fail 1 "a samples stream is not a model" xfer-merge --method linear "$T/pa.xs" "$T/m1.safetensors"
expect_fail 1 "fusion: streams with different row counts" sh -c \
	"xfer-cat --head 2 '$T/pb.xs' | xfer-merge --fuse mean '$T/pa.xs' -"
stderr_has "... named" "*pa.xs*"
expect_fail 1 "fusion: no predictions field" xfer-merge --fuse mean --field p "$T/pa.xs" "$T/pb.xs"
expect_fail 2 "--fuse and --method together" xfer-merge --fuse mean --method linear "$T/pa.xs" "$T/pb.xs"
finish
