#!/bin/sh
# pipelines/torch-export.py: PyTorch modules to a model graph + safetensors that xfer-pack accepts.
# The oracles are PyTorch itself (the module's forward against the exported graph evaluated by
# tests/ref/ref_nn.py, the state_dict against a numpy safetensors reader) and the refusals.
. "$(dirname "$0")/../lib.sh"

EXPORT=$top/pipelines/torch-export.py
REF=$top/tests/ref/ref_torchnets.py

if ! has_python || ! "$PY" -c 'import torch, torch.fx' 2>/dev/null; then
	skip_oracle "/usr/bin/python3 with numpy, msgpack and torch (python3-torch) is needed"
	finish
	exit 0
fi

# ---- usage ----
expect_fail 2 "no arguments is a usage error" "$PY" "$EXPORT"
stderr_has "the message is followed by the synopsis" "torch-export: *usage: torch-export.py --module*"
expect_fail 2 "--input-shape that is not integers" "$PY" "$EXPORT" --module m.py:f --input-shape 1,a -o p
expect_fail 2 "--input-shape with a zero" "$PY" "$EXPORT" --module m.py:f --input-shape 1,0,3 -o p
check "--help succeeds" "$PY" "$EXPORT" --help
same "--help prints the usage on stdout" "usage: torch-export.py --module" "$(head -c 31 "$T/check.out")"

# ---- the two reference nets ----
for net in lenet resnet18; do
	check "ref_torchnets.py export $net" "$PY" "$REF" export $net 7 "$T/$net"
	check "xfer-pack --arch accepts the $net graph and weights" \
		xfer-pack "$T/$net.safetensors" --arch "$T/$net.json" -o "$T/$net.xs"
	check "... and xfer-cat --check the stream" xfer-cat --check "$T/$net.xs"
	xfer-cat --info "$T/$net.xs" >"$T/$net.info" 2>&1 || true
	case $net in lenet) want="13 nodes 14 tensors" ;; resnet18) want="68 nodes 102 tensors" ;; esac
	same "$net: xfer-cat --info lists the tensors and the graph" "$want" \
		"$(sed -n 's/.*graph: \([0-9]*\) nodes.*/\1 nodes/p' "$T/$net.info") $(sed -n 's/.*model, \([0-9]*\) tensors.*/\1 tensors/p' "$T/$net.info")"
	same "nodes $net prints the graph's node names" \
		"$("$PY" -c 'import json, sys; print("\n".join(n["name"] for n in json.load(open(sys.argv[1]))["nodes"]))' "$T/$net.json")" \
		"$("$PY" "$REF" nodes $net)"
done
same "lenet: the ops in order" \
	"conv2d relu maxpool2d conv2d batchnorm relu avgpool2d flatten linear relu linear gelu linear" \
	"$("$PY" -c 'import json, sys; print(" ".join(n["op"] for n in json.load(open(sys.argv[1]))["nodes"]))' "$T/lenet.json")"
same "resnet18: a block with a shortcut" \
	"layer2.0.shortcut.1 add_2 layer2.0.relu2 fc" \
	"$("$PY" "$REF" nodes resnet18 | grep -E '^(layer2\.0\.shortcut\.1|add_2|layer2\.0\.relu2|fc)$' | tr '\n' ' ' | sed 's/ $//')"

# A numpy safetensors reader, independent of the exporter's writer.
cat >"$T/st.py" <<'PY'
import json, struct, numpy as np

def read(path):
    """name -> float32 array; checks the header's padding and that the data is contiguous."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0, "header length %d is not a multiple of 8" % n
    head = json.loads(raw[8:8 + n].decode())
    out, end = {}, 0
    for k, v in sorted(head.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        assert v["dtype"] == "F32", "%s: dtype %s" % (k, v["dtype"])
        b, e = v["data_offsets"]
        assert b == end and e - b == 4 * int(np.prod(v["shape"])), "%s: offsets %r" % (k, v["data_offsets"])
        end = e
        out[k] = np.frombuffer(raw[8 + n + b:8 + n + e], "<f4").reshape(v["shape"])
    assert 8 + n + end == len(raw), "trailing bytes"
    return out

def same_as(tensors, state):
    """'same' when the tensors are the state_dict without num_batches_tracked, bit for bit."""
    want = {k: v.detach().float().numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")}
    if set(want) != set(tensors):
        return "names differ: %r" % sorted(set(want) ^ set(tensors))
    bad = [k for k in want if want[k].shape != tensors[k].shape or want[k].tobytes() != tensors[k].tobytes()]
    return "differ: %r" % bad if bad else "same"
PY

# The weights read back equal the state_dict; the graph evaluated op by op (ref_nn, float64) equals
# the module's forward in float64 on random inputs.
cat >"$T/nets.py" <<'PY'
import json, sys, numpy as np, torch
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import st, ref_torchnets as R
net, t = sys.argv[3], sys.argv[1]
m, shape = R.make(net, 7)
print(st.same_as(st.read("%s/%s.safetensors" % (t, net)), m.state_dict()))
g = json.load(open("%s/%s.json" % (t, net)))
x = np.random.default_rng(3).normal(size=(5,) + shape)
want = m.double()(torch.from_numpy(x)).detach().numpy()
got = R.run_graph(g, st.read("%s/%s.safetensors" % (t, net)), x)[g["outputs"][0]]
err = np.abs(got - want).max() / np.abs(want).max()
print("same" if got.shape == want.shape and err < 1e-9 else "error %g, shapes %r %r" % (err, got.shape, want.shape))
PY
for net in lenet resnet18; do
	"$PY" "$T/nets.py" "$T" "$top/tests/ref" $net >"$T/nets.out" 2>&1 || true
	same "$net: the safetensors file holds the state_dict, bit for bit" same "$(sed -n 1p "$T/nets.out")"
	same "$net: the graph computes what the module computes" same "$(sed -n 2p "$T/nets.out")"
done

# ref_torchnets.py run: uint8 images scaled and normalised, layers flattened, float64.
"$PY" -c 'import numpy as np; np.save("'"$T"'/img.npy", np.random.default_rng(1).integers(0, 256, (6, 1, 32, 32)).astype("u1"))'
xfer-pack x="$T/img.npy" -o "$T/img.xs"
check "ref_torchnets.py run" "$PY" "$REF" run resnet18 7 "$T/img.xs" "$T/layers" \
	--layers logits,avgpool,layer1.0.bn1,flatten --mean 0.5 --std 0.25
same "run: the logits and the layers, as [N, prod] float64" same "$("$PY" - "$T" "$top/tests/ref" <<'PY' 2>&1
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[2])
import ref_torchnets as R
t = sys.argv[1]
m, _ = R.make("resnet18", 7)
m = m.double()
x = torch.from_numpy((np.load(t + "/img.npy") / 255.0 - 0.5) / 0.25)
got = {k: np.load("%s/layers/%s.npy" % (t, k)) for k in ("logits", "avgpool", "layer1.0.bn1", "flatten")}
with torch.no_grad():
    bn = m.layer1[0].bn1(m.layer1[0].conv1(m.relu(m.bn1(m.conv1(x)))))
    logits = m(x)
h = m.relu(m.bn1(m.conv1(x)))
for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
    h = layer(h)
pooled = h.mean((2, 3)).detach()
ok = [got["logits"].dtype == np.float64, np.allclose(got["logits"], logits.numpy(), rtol=1e-12, atol=1e-12),
      got["avgpool"].shape == (6, 128), np.allclose(got["avgpool"], pooled.numpy(), rtol=1e-12, atol=1e-12),
      np.array_equal(got["avgpool"], got["flatten"]),
      got["layer1.0.bn1"].shape == (6, 16 * 32 * 32),
      np.allclose(got["layer1.0.bn1"], bn.reshape(6, -1).detach().numpy(), rtol=1e-12, atol=1e-12)]
print("same" if all(ok) else "failed %r" % ok)
PY
)"
expect_fail 1 "run with a layer that is not a node" "$PY" "$REF" run lenet 7 "$T/img.xs" "$T/layers" --layers pool9

# ---- modules given on the command line: what is exported and what is refused ----
cat >"$T/models.py" <<'PY'
import torch, torch.nn as nn, torch.nn.functional as F

class Seq(nn.Module):
    """The given modules in order, under the given names."""
    def __init__(self, **mods):
        super().__init__()
        for k, v in mods.items():
            setattr(self, k, v)
    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x

def small():
    torch.manual_seed(0)
    return Seq(conv=nn.Conv2d(1, 4, 3, padding="same"), relu=nn.ReLU(), pool=nn.AdaptiveAvgPool2d((1, 1)),
               flat=nn.Flatten(), fc=nn.Linear(4, 3))

def skipped():
    return Seq(conv=nn.Conv2d(1, 4, 3), drop=nn.Dropout(0.5), same=nn.Identity(), relu=nn.ReLU(),
               drop2=nn.Dropout2d(), pool=nn.AdaptiveAvgPool2d(1), drop3=nn.Dropout(), flat=nn.Flatten(),
               fc=nn.Linear(4, 3), out=nn.Dropout())

class Functional(nn.Module):
    """Functions and methods, modules called twice, norms without affine parameters."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.ln = nn.LayerNorm([6], elementwise_affine=False)
        self.bn = nn.BatchNorm1d(6, affine=False)
        self.lin2 = nn.Linear(30, 24)
        self.gelu = nn.GELU(approximate="tanh")
        self.lin = nn.Linear(24, 5)
        self.sm = nn.Softmax(dim=-1)
    def forward(self, x):                                   # [2, 8, 8]
        a = self.act(self.conv(x))                          # [4, 8, 8]
        b = torch.cat([a, F.relu(x)], 1).contiguous()       # [6, 8, 8]
        c = F.max_pool2d(b, 3, 2, 1) + F.avg_pool2d(b, 3, stride=2, padding=1, count_include_pad=False)
        d = self.act(F.adaptive_avg_pool2d(c, 2))           # [6, 2, 2]
        e = d.view(d.size(0), -1)                           # [24]
        f = torch.tanh(self.ln(c.mean((2, 3))))             # [6]
        g = torch.sigmoid(self.bn(f))
        g = g.reshape(g.shape[0], -1)                       # the same shape: nothing
        h = F.softmax(torch.cat([e, g], dim=-1), dim=1)     # [30]
        u = torch.add(self.lin2(h), self.lin2(h).relu())
        return self.sm(self.lin(self.gelu(u)))

def functional():
    torch.manual_seed(1)
    m = Functional()
    with torch.no_grad():
        m.bn.running_mean.normal_(0, 0.2)
        m.bn.running_var.uniform_(0.5, 2)
    return m

def upsample():
    return Seq(body=nn.Sequential(nn.Conv2d(1, 2, 3), nn.Upsample(scale_factor=2)), flat=nn.Flatten())

def lstm():
    return Seq(enc=nn.Sequential(nn.Flatten(), nn.LSTM(16, 4)))

def reflect():
    return Seq(conv=nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))

def pool_to_conv():
    return Seq(pool=nn.AdaptiveAvgPool2d(1), conv=nn.Conv2d(1, 2, 1))

class Permute(nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1)

def permute():
    return Permute()

class Interp(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2)

def interp():
    return Interp()

def softmax_batch():
    return Seq(flat=nn.Flatten(), sm=nn.Softmax(dim=0))

def ceil():
    return Seq(pool=nn.MaxPool2d(2, ceil_mode=True))

def same_odd():
    return Seq(conv=nn.Conv2d(1, 2, 4, padding="same"))

class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.relu = nn.ReLU(inplace=True)
    def forward(self, x):
        y = self.conv(x)
        return self.relu(y) + y

def in_place():
    return InPlace()

def not_a_module():
    return 42
PY
# torch-export.py --module models.py:FACTORY ... -o OUT
texport() {
	factory=$1 shape=$2; shift 2
	"$PY" "$EXPORT" --module "$T/models.py:$factory" --input-shape "$shape" "$@"
}

check "--module FILE.py:FACTORY exports" texport small 1,6,6 -o "$T/small"
check "... and xfer-pack accepts it" xfer-pack "$T/small.safetensors" --arch "$T/small.json" -o "$T/small.xs"
same "padding 'same' with an odd kernel becomes a symmetric padding; AdaptiveAvgPool2d(1) global_avgpool" \
	'conv2d [1, 1]; global_avgpool' \
	"$("$PY" -c 'import json, sys; n = json.load(open(sys.argv[1]))["nodes"]; print(n[0]["op"], n[0]["attrs"]["padding"], end="; "); print(n[2]["op"])' "$T/small.json")"
"$PY" -c 'import sys, torch; sys.path.insert(0, sys.argv[1]); import models; torch.manual_seed(9); m = models.small(); [p.data.normal_() for p in m.parameters()]; torch.save(m.state_dict(), sys.argv[1] + "/small.pt")' "$T"
check "--state-dict loads the weights" texport small 1,6,6 --state-dict "$T/small.pt" -o "$T/small2"
same "... which are the ones written" same "$("$PY" -c 'import sys, torch; sys.path.insert(0, sys.argv[1]); import st; print(st.same_as(st.read(sys.argv[1] + "/small2.safetensors"), torch.load(sys.argv[1] + "/small.pt")))' "$T" 2>&1)"
check "--input-name names the graph input" texport small 1,6,6 --input-name image -o "$T/small3"
same "... in the graph" '{"image": {"shape": [1, 6, 6]}} conv ["image"]' \
	"$("$PY" -c 'import json, sys; g = json.load(open(sys.argv[1])); print(json.dumps(g["inputs"]), g["nodes"][0]["name"], json.dumps(g["nodes"][0]["inputs"]))' "$T/small3.json")"

check "Dropout and Identity export" texport skipped 1,6,6 -o "$T/skipped"
same "... as no node: the next node reads their input" \
	'conv relu:conv pool:relu flat:pool fc:flat -> fc' \
	"$("$PY" -c 'import json, sys; g = json.load(open(sys.argv[1])); print(" ".join(n["name"] + ("" if n["op"] == "conv2d" else ":" + n["inputs"][0]) for n in g["nodes"]), "->", *g["outputs"])' "$T/skipped.json")"
check "... and xfer-pack accepts it" xfer-pack "$T/skipped.safetensors" --arch "$T/skipped.json" -o "$T/skipped.xs"

check "functions, methods, a module called twice, norms without affine parameters" \
	texport functional 2,8,8 -o "$T/functional"
check "... xfer-pack accepts them" xfer-pack "$T/functional.safetensors" --arch "$T/functional.json" -o "$T/functional.xs"
same "... with these nodes" \
	"conv:conv2d act:relu relu:relu cat:concat/0 max_pool2d:maxpool2d avg_pool2d:avgpool2d add:add adaptive_avg_pool2d:avgpool2d act_1:relu view:flatten mean:global_avgpool ln:layernorm tanh:tanh bn:batchnorm sigmoid:sigmoid cat_1:concat/-1 softmax:softmax/0 lin2:linear lin2_1:linear relu_1:relu add_1:add gelu:gelu lin:linear sm:softmax/-1" \
	"$("$PY" -c 'import json, sys
g = json.load(open(sys.argv[1]))
print(" ".join(n["name"] + ":" + n["op"] + ("/%d" % n["attrs"]["axis"] if "axis" in n.get("attrs", {}) else "") for n in g["nodes"]))' "$T/functional.json")"
same "... computing what the module computes" same "$("$PY" - "$T" "$top/tests/ref" <<'PY' 2>&1
import json, sys, numpy as np, torch
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import st, models, ref_torchnets as R
t = sys.argv[1]
m = models.functional().eval().double()
g = json.load(open(t + "/functional.json"))
w = st.read(t + "/functional.safetensors")
ok = [np.array_equal(w["ln.weight"], np.ones(6)), np.array_equal(w["bn.bias"], np.zeros(6)),
      sorted(w) == sorted(["conv.weight", "conv.bias", "ln.weight", "ln.bias", "bn.weight", "bn.bias",
                           "bn.running_mean", "bn.running_var", "lin2.weight", "lin2.bias", "lin.weight", "lin.bias"])]
x = np.random.default_rng(4).normal(size=(3, 2, 8, 8))
want = m(torch.from_numpy(x)).detach().numpy()
got = R.run_graph(g, w, x)[g["outputs"][0]]
ok.append(np.abs(got - want).max() < 1e-6)   # float32 weights against float64 ones
print("same" if all(ok) else "failed %r" % ok)
PY
)"

expect_fail 1 "an unsupported module is refused" texport upsample 1,6,6 -o "$T/no"
stderr_has "the message names its path and type" "torch-export: module 'body.1' (Upsample) is not supported; supported: Linear, Conv2d,*"
expect_fail 1 "an LSTM is refused before anything runs it" texport lstm 1,4,4 -o "$T/no"
stderr_has "the message names its path and type" "torch-export: module 'enc.1' (LSTM) is not supported*"
expect_fail 1 "padding_mode 'reflect' is refused" texport reflect 1,6,6 -o "$T/no"
stderr_has "the message names the module and the mode" "torch-export: module 'conv' (Conv2d): padding_mode 'reflect' is not supported*"
expect_fail 1 "AdaptiveAvgPool2d(1) into a conv is refused" texport pool_to_conv 1,6,6 -o "$T/no"
stderr_has "the message names both and says why" "torch-export: module 'conv' (Conv2d) reads the \[C, 1, 1\] output of module 'pool' (AdaptiveAvgPool2d)*flatten*"
expect_fail 1 "an unsupported method is refused" texport permute 1,6,6 -o "$T/no"
stderr_has "the message names the method and the node" "torch-export: method 'permute' (node 'permute') is not supported*"
expect_fail 1 "an unsupported function is refused" texport interp 1,6,6 -o "$T/no"
stderr_has "the message names the function and the node" "torch-export: function 'F.interpolate' (node 'interpolate') is not supported*"
expect_fail 1 "softmax over the batch is refused" texport softmax_batch 1,6,6 -o "$T/no"
stderr_has "the message says why" "*module 'sm' (Softmax): dim 0 is the batch dimension"
expect_fail 1 "ceil_mode is refused" texport ceil 1,6,6 -o "$T/no"
expect_fail 1 "padding 'same' that would be uneven is refused" texport same_odd 1,6,6 -o "$T/no"
stderr_has "the message says why" "*module 'conv' (Conv2d): padding 'same' needs 3 pixels*"
expect_fail 1 "an in-place op whose input is read again is refused" texport in_place 1,6,6 -o "$T/no"
stderr_has "the message names the module" "torch-export: module 'relu' (ReLU) works in place on 'conv'*"
expect_fail 1 "a factory that gives no module" texport not_a_module 1,6,6 -o "$T/no"
expect_fail 1 "a factory that does not exist" texport nonesuch 1,6,6 -o "$T/no"
stderr_has "the message names it" "*has no function 'nonesuch'"
expect_fail 1 "an input shape that does not fit the module" texport small 3,6,6 -o "$T/no"
stderr_has "the message gives the shape and the module" "torch-export: the module fails on an input of shape \[2, 3, 6, 6\] at module 'conv' (Conv2d): *"
same "refusals write no files" "" "$(find "$T" -maxdepth 1 -name 'no*')"

finish
