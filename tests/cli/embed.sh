#!/bin/sh
# xfer-embed against PyTorch (Debian's python3-torch): a LeNet-style CNN and a ResNet-18-style
# network (width 16) with random weights and batchnorm statistics, on real digits resized to
# 32x32, every requested layer within 1e-4 (largest absolute error over the largest absolute
# value of the layer); preprocessing against numpy/torch; streaming and archives; bad input.
. "$(dirname "$0")/../lib.sh"

if ! has_python || ! "$PY" -c 'import torch' 2>/dev/null; then
	skip_oracle "/usr/bin/python3 with numpy, msgpack and torch is needed"
	finish
	exit 0
fi
ref="$top/tests/ref"
digits="$top/data/mnist10k.xs.zst"

# Largest error of field FIELD of OUT.xs against REF.npy, relative to the largest |REF|.
cat >"$T/err.py" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
fr = [f for f in msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False, max_buffer_size=0)]
assert fr[-1]["t"] == "end"
got = np.concatenate([f["cols"][sys.argv[2]] for f in fr if f["t"] == "batch"]).astype(np.float64)
want = np.load(sys.argv[3]).reshape(len(got), -1)
err = np.abs(got.reshape(len(got), -1) - want).max() / max(np.abs(want).max(), 1e-300)
print("%.2e" % err, "ok" if err <= float(sys.argv[4]) else "TOO LARGE")
PY
within() { # DESC OUT.xs FIELD REF.npy TOL
	r=$("$PY" "$T/err.py" "$2" "$3" "$4" "$5" 2>&1 | tail -n 1)
	case $r in *" ok") pass "$1 (error $r)" ;; *) fail "$1"; echo "#   $r" ;; esac
}

xfer-cat --head 200 "$digits" -o "$T/d200.xs"
"$PY" "$ref/ref_embed_data.py" digits32 "$T/d200.xs" "$T/d32.xs" 200

# ---- LeNet ----
"$PY" "$ref/ref_torchnets.py" export lenet 11 "$T/lenet"
xfer-pack "$T/lenet.safetensors" --arch "$T/lenet.json" -o "$T/lenet.xs"
layers=conv1,relu1,pool1,bn2,pool2,flatten,fc1,gelu
"$PY" "$ref/ref_torchnets.py" run lenet 11 "$T/d32.xs" "$T/ref-lenet" --layers "$layers,logits"
# shellcheck disable=SC2046
xfer-embed -m "$T/lenet.xs" $(echo "$layers" | tr , '\n' | sed 's/^/--layer=/') --logits --probs \
	"$T/d32.xs" -o "$T/lenet-out.xs"
for l in $(echo "$layers" | tr , ' '); do
	within "lenet: layer $l agrees with torch" "$T/lenet-out.xs" "x.$l" "$T/ref-lenet/$l.npy" 1e-4
done
within "lenet: logits agree with torch" "$T/lenet-out.xs" logits "$T/ref-lenet/logits.npy" 1e-4
"$PY" -c 'import sys, numpy as np; z = np.load(sys.argv[1]); e = np.exp(z - z.max(1, keepdims=True))
np.save(sys.argv[2], e / e.sum(1, keepdims=True))' "$T/ref-lenet/logits.npy" "$T/ref-lenet/probs.npy"
within "lenet: probs are the softmax of torch's logits" "$T/lenet-out.xs" probs "$T/ref-lenet/probs.npy" 1e-5

# ---- ResNet-18-style ----
"$PY" "$ref/ref_torchnets.py" export resnet18 12 "$T/rn"
xfer-pack "$T/rn.safetensors" --arch "$T/rn.json" -o "$T/rn.xs"
layers=relu,layer1.0.bn2,add,layer1.1.relu2,layer2.0.shortcut.1,add_2,layer2.1.relu2,layer3.0.relu2,layer3.1.relu2
layers=$layers,layer4.0.relu2,layer4.1.relu2,avgpool,flatten
"$PY" "$ref/ref_torchnets.py" run resnet18 12 "$T/d32.xs" "$T/ref-rn" --layers "$layers,logits"
# shellcheck disable=SC2046
xfer-embed -m "$T/rn.xs" $(echo "$layers" | tr , '\n' | sed 's/^/--layer=/') --logits \
	"$T/d32.xs" -o "$T/rn-out.xs"
for l in $(echo "$layers" | tr , ' '); do
	within "resnet18: layer $l agrees with torch" "$T/rn-out.xs" "x.$l" "$T/ref-rn/$l.npy" 1e-4
done
within "resnet18: logits agree with torch" "$T/rn-out.xs" logits "$T/ref-rn/logits.npy" 1e-4
xfer-embed -m "$T/rn.xs" --layer layer4.1.relu2 --pool avg "$T/d32.xs" -o "$T/rn-pool.xs"
"$PY" -c 'import sys, numpy as np; a = np.load(sys.argv[1]).reshape(200, 128, 16)
np.save(sys.argv[2], a.mean(2))' "$T/ref-rn/layer4.1.relu2.npy" "$T/ref-rn/pooled.npy"
within "resnet18: --pool avg is the mean over H and W" "$T/rn-pool.xs" x "$T/ref-rn/pooled.npy" 1e-5
within "resnet18: --pool avg of the last block is torch's avgpool" "$T/rn-pool.xs" x "$T/ref-rn/avgpool.npy" 1e-5

# Batches and threads: the same bits for every op but linear, whatever the batch size.
for b in 1 7 200; do
	xfer-embed -j 1 --batch "$b" -m "$T/rn.xs" --layer layer3.1.relu2 --layer avgpool "$T/d32.xs" \
		-o "$T/rn-b$b.xs"
done
xfer-embed -j 2 --batch 64 -m "$T/rn.xs" --layer layer3.1.relu2 --layer avgpool "$T/d32.xs" -o "$T/rn-j2.xs"
cat >"$T/bits.py" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
def cols(p):
    fr = [f for f in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False) if f["t"] == "batch"]
    return {k: np.concatenate([f["cols"][k] for f in fr]) for k in fr[0]["cols"]}
a = cols(sys.argv[1])
print(all(all(np.array_equal(a[k], b[k]) for k in a) for b in map(cols, sys.argv[2:])))
PY
same "convolutions give the same bits with batches of 1, 7, 64, 200 and 1 or 2 threads" True \
	"$("$PY" "$T/bits.py" "$T/rn-b1.xs" "$T/rn-b7.xs" "$T/rn-b200.xs" "$T/rn-j2.xs")"

# ---- preprocessing, through a model that only flattens its input ----
ident() { # NAME C H W: a model whose output is its input, flattened
	printf '{"inputs": {"x": {"shape": [%s, %s, %s]}}, "nodes": [{"name": "flat", "op": "flatten", "inputs": ["x"]}], "outputs": ["flat"]}' \
		"$2" "$3" "$4" >"$T/$1.json"
	"$PY" "$ref/ref_embed_data.py" model "$T/$1.xs" "$T/$1.json"
}
ident id1 1 32 32
ident id3 3 32 32
ident id28 1 28 28
xfer-embed -m "$T/id1.xs" --size 32x32 "$T/d200.xs" -o "$T/pre.xs"
"$PY" -c 'import sys, numpy as np, msgpack, msgpack_numpy as m
x = np.concatenate([f["cols"]["x"] for f in msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False) if f["t"] == "batch"])
np.save(sys.argv[2], x.reshape(len(x), -1).astype(np.float64))' "$T/d32.xs" "$T/d32.npy"
within "--size 32x32 on uint8 digits is x/255 resized by torch's bilinear interpolate" "$T/pre.xs" x "$T/d32.npy" 1e-6
xfer-embed -m "$T/id3.xs" --rgb --size 32x32 --mean 0.1,0.2,0.3 --std 0.5,0.25,2 "$T/d200.xs" -o "$T/pre3.xs"
"$PY" -c 'import sys, numpy as np; x = np.load(sys.argv[1])
m = np.array([0.1, 0.2, 0.3])[None, :, None]; s = np.array([0.5, 0.25, 2])[None, :, None]
np.save(sys.argv[2], ((np.repeat(x[:, None], 3, 1) - m) / s).reshape(len(x), -1))' "$T/d32.npy" "$T/d32rgb.npy"
within "--rgb copies the plane; --mean and --std per channel" "$T/pre3.xs" x "$T/d32rgb.npy" 1e-6
"$PY" - "$T/rgb.xs" "$T/gray.npy" <<'PY'
import sys, numpy as np, torch, torch.nn.functional as F, msgpack, msgpack_numpy as m
x = np.random.default_rng(4).integers(0, 256, (5, 3, 20, 24), dtype=np.uint8)
with open(sys.argv[1], "wb") as f:
    for fr in ({"t": "header", "xfer": 1, "kind": "samples", "fields": {"x": {"dtype": "|u1", "shape": [3, 20, 24]}},
                "meta": {"history": []}}, {"t": "batch", "n": 5, "cols": {"x": x}}, {"t": "end", "rows": 5}):
        f.write(msgpack.packb(fr, default=m.encode, use_bin_type=True))
g = (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]) / 255
y = F.interpolate(torch.from_numpy(g[:, None]), size=(32, 32), mode="bilinear", align_corners=False)
np.save(sys.argv[2], y.numpy().reshape(5, -1))
PY
xfer-embed -m "$T/id1.xs" --gray --size 32x32 "$T/rgb.xs" -o "$T/gray.xs"
within "--gray: torchvision's luma, then the resize" "$T/gray.xs" x "$T/gray.npy" 1e-6
xfer-embed -m "$T/lenet.xs" --size 32x32 "$T/d200.xs" --logits -o "$T/lenet-u8.xs"
within "lenet on uint8 digits with --size equals the float input" "$T/lenet-u8.xs" logits "$T/ref-lenet/logits.npy" 1e-4

# ---- streams: fields carried, replaced, dropped; segments; rows split across batches ----
same "fields: y carried, the input x dropped, the outputs last" "y x.fc1 x.fc2 logits probs" \
	"$(xfer-embed -m "$T/lenet.xs" --layer fc1 --layer fc2 --logits --probs "$T/d32.xs" | xfer-cat --info |
		awk '/<f4|\|u1|<i8/ {print $1}' | tr '\n' ' ' | sed 's/ $//')"
same "one layer is field x" "x [120]" \
	"$(xfer-embed -m "$T/lenet.xs" --layer fc1 "$T/d32.xs" | xfer-cat --info | awk '$1 == "x" {print $1, $3}')"
same "no layer asked: the graph's output" "x [10]" \
	"$(xfer-embed -m "$T/lenet.xs" "$T/d32.xs" | xfer-cat --info | awk '$1 == "x" {print $1, $3}')"
cat "$T/d32.xs" "$T/d32.xs" >"$T/two.xs"
same "two segments in, two out, 400 rows" "2 400" \
	"$(xfer-embed -m "$T/lenet.xs" --batch 64 "$T/two.xs" | xfer-cat --info | awk '/^segment/ {s++; r += $4} END {print s, r}')"
"$PY" - "$T/d32.xs" "$T/small-frames.xs" <<'PY'
import sys, msgpack, msgpack_numpy as m
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
x, y = (fr[1]["cols"][k] for k in ("x", "y"))
with open(sys.argv[2], "wb") as f:
    for out in [fr[0]] + [{"t": "batch", "n": len(x[i:i + 3]), "cols": {"x": x[i:i + 3], "y": y[i:i + 3]}}
                          for i in range(0, len(x), 3)] + [fr[-1]]:
        f.write(msgpack.packb(out, default=m.encode, use_bin_type=True))
PY
xfer-embed -m "$T/lenet.xs" --logits --batch 50 "$T/small-frames.xs" -o "$T/sf.xs"
within "frames of 3 rows gathered into batches of 50" "$T/sf.xs" logits "$T/ref-lenet/logits.npy" 1e-4
same "--list: inputs, nodes with ops and shapes, outputs" "x input [1, 32, 32]|conv1 conv2d [6, 32, 32]|outputs: fc3" \
	"$(xfer-embed -m "$T/lenet.xs" --list | sed -n '1p;2p;$p' | tr -s ' ' | paste -sd '|')"

# ---- archives ----
mkdir -p "$T/arch/a" "$T/arch/b"
"$PY" - "$T/arch" <<'PY'
import sys, struct, zlib, numpy as np
def png(path, img):
    h, w = img.shape
    raw = b"".join(b"\0" + img[i].tobytes() for i in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                          + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
rng = np.random.default_rng(3)
for k in range(6):
    png("%s/%s/%d.png" % (sys.argv[1], "ab"[k % 2], k), rng.integers(0, 256, (28, 28), dtype=np.uint8))
PY
tar -C "$T/arch" -cf "$T/imgs.tar" a b
xfer-embed -m "$T/lenet.xs" --archive "$T/imgs.tar" --size 32x32 --logits -o "$T/arch1.xs"
xfer-pack "$T/imgs.tar" --gray --size 32x32 | xfer-embed -m "$T/lenet.xs" --logits -o "$T/arch2.xs"
same "--archive equals xfer-pack --gray --size | xfer-embed" True "$("$PY" "$T/bits.py" "$T/arch1.xs" "$T/arch2.xs")"
printf 'not a png' >"$T/arch/b/9.png"
tar -C "$T/arch" -cf "$T/bad.tar" a b
expect_fail 1 "a corrupt image in an archive fails by default" \
	xfer-embed -m "$T/lenet.xs" --archive "$T/bad.tar" --size 32x32 -o "$T/never.xs"
stderr_has "... naming the image" "*b/9.png*"
same "... and leaves no output file" no "$([ -e "$T/never.xs" ] && echo yes || echo no)"
xfer-embed -m "$T/lenet.xs" --archive "$T/bad.tar" --size 32x32 --skip-corrupt --logits -o "$T/skip.xs" 2>"$T/skip.err"
same "--skip-corrupt: warns, naming the image" 1 "$(grep -c 'skipped:.*b/9.png' "$T/skip.err")"
same "--skip-corrupt: the other images, as without the bad one" True "$("$PY" "$T/bits.py" "$T/skip.xs" "$T/arch1.xs")"

# ---- bad input: clear errors naming the node, the field or the option ----
expect_fail 1 "digits 28x28 into a 32x32 model" xfer-embed -m "$T/lenet.xs" "$T/d200.xs"
stderr_has "... says which option fits" "*input 'x' is \[1, 32, 32\]; field 'x' rows are \[28, 28\] (use --size 32x32)*"
expect_fail 1 "one channel into a three-channel model" xfer-embed -m "$T/id3.xs" --size 32x32 "$T/d200.xs"
stderr_has "... suggests --rgb" "*(use --rgb)*"
expect_fail 2 "an unknown --layer" xfer-embed -m "$T/lenet.xs" --layer fc9 "$T/d32.xs"
stderr_has "... lists the nodes" "*no node 'fc9' in the model (nodes: conv1, relu1, pool1*"
expect_fail 2 "--mean with 2 values for 1 channel" xfer-embed -m "$T/lenet.xs" --mean 0.1,0.2 "$T/d32.xs"
expect_fail 2 "--size for a model whose input is not an image" xfer-embed -m "$T/id1.xs" --size 4x4 --field y "$T/d32.xs"
printf '{"inputs": {"x": {"shape": [4]}}, "nodes": [{"name": "lift", "op": "conv3d", "inputs": ["x"]}], "outputs": ["lift"]}' >"$T/unk.json"
"$PY" "$ref/ref_embed_data.py" model "$T/unk.xs" "$T/unk.json"
expect_fail 1 "an unknown op" xfer-embed -m "$T/unk.xs" "$T/d32.xs"
stderr_has "... names the node and the op" "*'lift'*conv3d*"
printf '{"inputs": {"x": {"shape": [1, 32, 32]}}, "nodes": [{"name": "flat", "op": "flatten", "inputs": ["x"]}, {"name": "fc", "op": "linear", "inputs": ["flat"], "weights": {"weight": "fc.weight", "bias": "fc.bias"}}], "outputs": ["fc"]}' >"$T/fc.json"
"$PY" "$ref/ref_embed_data.py" model "$T/fc-nobias.xs" "$T/fc.json" fc.weight=3,1024
expect_fail 1 "a weight the graph names but the model does not declare" xfer-embed -m "$T/fc-nobias.xs" "$T/d32.xs"
stderr_has "... names the node and the tensor" "*node 'fc' (linear)*fc.bias*"
"$PY" "$ref/ref_embed_data.py" model-missing "$T/fc-lost.xs" "$T/fc.json" fc.weight=3,1024 fc.bias=3
expect_fail 1 "a declared weight that never arrives" xfer-embed -m "$T/fc-lost.xs" "$T/d32.xs"
stderr_has "... names the node and the tensor" "*node 'fc' (linear): tensor 'fc.bias' never arrives*"
"$PY" "$ref/ref_embed_data.py" model "$T/fc-shape.xs" "$T/fc.json" fc.weight=3,1000 fc.bias=3
expect_fail 1 "a weight of the wrong shape" xfer-embed -m "$T/fc-shape.xs" "$T/d32.xs"
stderr_has "... names the node and the tensor" "*node 'fc' (linear)*fc.weight*"
expect_fail 1 "a samples stream as the model" xfer-embed -m "$T/d32.xs" "$T/d32.xs"
stderr_has "... says so" "*not a model*"
expect_fail 1 "a model stream as the input" xfer-embed -m "$T/lenet.xs" "$T/lenet.xs"
expect_fail 1 "a model without a graph" sh -c "xfer-pack '$T/lenet.safetensors' | xfer-embed -m - '$T/d32.xs'"
stderr_has "... says how to add one" "*no graph (xfer-pack --arch*"
: >"$T/empty.xs"
expect_fail 1 "empty input" xfer-embed -m "$T/lenet.xs" "$T/empty.xs"
head -c 5000 "$T/d32.xs" >"$T/trunc.xs"
expect_fail 1 "a truncated input" xfer-embed -m "$T/lenet.xs" "$T/trunc.xs" -o "$T/never.xs"
same "... leaves no output file" no "$([ -e "$T/never.xs" ] && echo yes || echo no)"
"$PY" - "$T/d32.xs" "$T/nan.xs" <<'PY'
import sys, numpy as np, msgpack, msgpack_numpy as m
fr = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
with open(sys.argv[2], "wb") as f:
    for x in fr:
        if x["t"] == "batch":
            x["cols"]["x"] = x["cols"]["x"].copy(); x["cols"]["x"][17, 0, 3, 3] = np.nan
        f.write(msgpack.packb(x, default=m.encode, use_bin_type=True))
PY
expect_fail 1 "NaN in an input row" xfer-embed -m "$T/lenet.xs" "$T/nan.xs"
stderr_has "... names the field and the row" "*field 'x': row 17 holds NaN or infinity*"
expect_fail 1 "no field for the model's input" xfer-embed -m "$T/lenet.xs" --field nope "$T/d32.xs"
expect_fail 2 "-m is required" xfer-embed "$T/d32.xs"
expect_fail 2 "--skip-corrupt without --archive" xfer-embed -m "$T/lenet.xs" --skip-corrupt "$T/d32.xs"
finish
