#!/usr/bin/python3
"""
Reference networks for the model-graph tests: two small PyTorch nets with seeded random weights
(and random batchnorm statistics, so that batchnorm is not the identity), their export through
pipelines/torch-export.py, and their layer outputs computed by PyTorch in float64, the oracle for
xfer-embed. Run with /usr/bin/python3 (Debian python3-torch, numpy, msgpack, msgpack_numpy).

  ref_torchnets.py export NET SEED PREFIX [--width W] [--in-ch C] [--size S]
      PREFIX.json + PREFIX.safetensors, for xfer-pack PREFIX.safetensors --arch PREFIX.json
  ref_torchnets.py run NET SEED IN.xs OUTDIR --layers A,B,... [--width W] [--in-ch C] [--size S]
                   [--mean M[,M...] --std S[,S...]]
      reads field "x" of the samples stream IN.xs (uint8 [C, H, W] images are scaled by 1/255 and
      then normalised (v - mean) / std per channel; float fields are used as they are), runs
      the net in float64 and saves each layer's output as OUTDIR/NAME.npy, float64 [N, prod]
      ("logits": the net's output)
  ref_torchnets.py nodes NET [--width W] [--in-ch C] [--size S]
      the node names of the exported graph, one per line

NET is lenet or resnet18; the input is [C, S, S] (default [1, 32, 32]); --width is resnet18's
(default 16). As a module: lenet(), resnet18(), randomize(), make(), layer_outputs(),
read_samples() and run_graph() (the exported graph evaluated op by op by ref_nn, in float64).
"""
import argparse
import importlib.util
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
NETS = ("lenet", "resnet18")


def _exporter():
    """pipelines/torch-export.py, imported by path (its name has a dash)."""
    mod = sys.modules.get("torch_export")
    if mod is None:
        spec = importlib.util.spec_from_file_location("torch_export", os.path.join(TOP, "pipelines",
                                                                                   "torch-export.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["torch_export"] = mod
        spec.loader.exec_module(mod)
    return mod


class LeNet(nn.Module):
    """conv 6@5x5 pad 2, relu, maxpool 2, conv 16@5x5, batchnorm, relu, avgpool 2, flatten,
    linear 120, relu, linear 84, gelu, linear 10; input [in_ch, size, size]."""

    def __init__(self, in_ch=1, size=32):
        super().__init__()
        s = (size // 2 - 4) // 2
        self.conv1 = nn.Conv2d(in_ch, 6, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * s * s, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.gelu = nn.GELU()
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.fc3(self.gelu(self.fc2(x)))


class BasicBlock(nn.Module):
    """conv3x3-bn-relu-conv3x3-bn, plus the input (through a 1x1 conv + bn when the shape
    changes), then relu."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu2(out + identity)


class ResNet18(nn.Module):
    """CIFAR-style ResNet-18: 3x3 stem (stride 1, no maxpool), four stages of two BasicBlocks of
    widths w, 2w, 4w, 8w, global average pool, flatten, linear."""

    def __init__(self, in_ch=1, width=16, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        c = width
        for i, mult in enumerate((1, 2, 4, 8)):
            stride = 1 if i == 0 else 2
            setattr(self, "layer%d" % (i + 1), nn.Sequential(BasicBlock(c, width * mult, stride),
                                                           BasicBlock(width * mult, width * mult, 1)))
            c = width * mult
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def lenet(in_ch=1, size=32):
    return LeNet(in_ch, size)


def resnet18(in_ch=1, width=16, classes=10):
    return ResNet18(in_ch, width, classes)


def randomize(module, seed):
    """Random weights from seed, in eval mode: weights U(+-sqrt(6 / fan_in)), biases N(0, 0.1);
    norms: weight U(0.5, 1.5), bias N(0, 0.2), running_mean N(0, 0.2), running_var U(0.5, 2).
    The same seed gives the same numbers on any machine (one CPU generator, float64 draws)."""
    g = torch.Generator().manual_seed(int(seed))

    def fill(t, kind, a=0.0, b=1.0):
        if kind == "u":
            v = torch.rand(t.shape, generator=g, dtype=torch.float64) * (b - a) + a
        else:
            v = torch.randn(t.shape, generator=g, dtype=torch.float64) * b + a
        with torch.no_grad():
            t.copy_(v)

    for _, m in module.named_modules():
        norm = isinstance(m, (nn.modules.batchnorm._NormBase, nn.LayerNorm))
        if norm:
            if getattr(m, "weight", None) is not None:
                fill(m.weight, "u", 0.5, 1.5)
            if getattr(m, "bias", None) is not None:
                fill(m.bias, "n", 0.0, 0.2)
            if getattr(m, "running_mean", None) is not None:
                fill(m.running_mean, "n", 0.0, 0.2)
                fill(m.running_var, "u", 0.5, 2.0)
            continue
        for name, p in m.named_parameters(recurse=False):
            if p.dim() >= 2:
                bound = (6.0 / (p[0].numel())) ** 0.5
                fill(p, "u", -bound, bound)
            else:
                fill(p, "n", 0.0, 0.1)
    return module.eval()


def make(net, seed, width=16, in_ch=1, size=32):
    """The named net with random weights from seed, in eval mode, and its per-sample input shape."""
    if net == "lenet":
        m = lenet(in_ch, size)
    elif net == "resnet18":
        m = resnet18(in_ch, width)
    else:
        raise ValueError("unknown net '%s' (lenet, resnet18)" % net)
    return randomize(m, seed), (in_ch, size, size)


def layer_outputs(module, input_shape, x, layers, batch=64):
    """float64 outputs of the named graph nodes ("logits": the model's output) for the float64
    array x [N, *input_shape], each flattened to [N, prod]. Uses the exporter's fx trace, so the
    names are those of the exported graph."""
    e = _exporter().build(module, input_shape)
    fx_of = dict(e.fx_names)
    for name in layers:
        if name != "logits" and name not in fx_of:
            raise KeyError("no node '%s'; the graph's nodes: %s" % (name, ", ".join(fx_of)))
    gm = e.gm.double()
    want = {fx_of[name] for name in layers if name != "logits"}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            r = super().run_node(n)
            if n.name in want:
                self.seen[n.name] = r
            return r

    parts = {name: [] for name in layers}
    with torch.no_grad():
        for i in range(0, len(x), batch):
            rec = Recorder(gm)
            rec.seen = {}
            xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch], dtype=np.float64))
            y = rec.run(xb)
            for name in layers:
                v = y if name == "logits" else rec.seen[fx_of[name]]
                if isinstance(v, (tuple, list)):
                    v = v[0]
                parts[name].append(v.reshape(v.shape[0], -1).numpy().copy())
    return {name: np.concatenate(p) if p else np.zeros((0, 0)) for name, p in parts.items()}


def read_samples(path, mean=None, std=None):
    """Field "x" of every segment of a samples stream, as float64 [N, ...]: uint8 scaled by
    1/255 then (v - mean) / std per channel (dimension 1); float fields unchanged."""
    import msgpack
    import msgpack_numpy as m
    chunks, last, dtype, shape = [], None, None, []
    with open(path, "rb") as f:
        for fr in msgpack.Unpacker(f, object_hook=m.decode, raw=False, max_buffer_size=0):
            last = fr
            if fr.get("t") == "header":
                if "x" not in fr.get("fields", {}):
                    raise ValueError("%s: a segment has no field 'x'" % path)
                dtype, shape = fr["fields"]["x"]["dtype"], fr["fields"]["x"]["shape"]
            elif fr.get("t") == "batch":
                chunks.append(np.asarray(fr["cols"]["x"]))
    if last is None or last.get("t") != "end":
        raise ValueError("%s: truncated stream" % path)
    x = np.concatenate(chunks) if chunks else np.zeros([0] + shape)
    if dtype == "|u1":
        x = x.astype(np.float64) / 255.0
        c = x.shape[1] if x.ndim > 1 else 1
        shape = [1, c] + [1] * (x.ndim - 2)
        if mean is not None:
            x = x - np.broadcast_to(np.asarray(mean, np.float64), (c,)).reshape(shape)
        if std is not None:
            x = x / np.broadcast_to(np.asarray(std, np.float64), (c,)).reshape(shape)
        return x
    return x.astype(np.float64)


def read_safetensors(path):
    """name -> array of a float32/float64 safetensors file."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        dt = {"F32": "<f4", "F64": "<f8"}[v["dtype"]]
        out[k] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=dt).reshape(v["shape"])
    return out


def run_graph(graph, tensors, x):
    """Evaluate an exported graph (the JSON object) on the float64 batch x with the op references
    of ref_nn; returns {node name: float64 array with the batch dimension}."""
    sys.path.insert(0, HERE)
    import ref_nn
    vals = {next(iter(graph["inputs"])): np.asarray(x, np.float64)}
    for node in graph["nodes"]:
        ins = [vals[i] for i in node["inputs"]]
        a = dict(node.get("attrs", {}))
        w = {r: np.asarray(tensors[t], np.float64) for r, t in node.get("weights", {}).items()}
        op, v = node["op"], ins[0]
        if op == "relu":
            y = np.maximum(v, 0)
        elif op == "tanh":
            y = np.tanh(v)
        elif op == "sigmoid":
            y = 1 / (1 + np.exp(-v))
        elif op == "flatten":
            y = v.reshape(len(v), -1)
        elif op == "add":
            y = sum(ins[1:], ins[0])
        elif op == "concat":
            ax = a.get("axis", 0)
            y = np.concatenate(ins, axis=ax + 1 if ax >= 0 else ax)
        elif op in ("maxpool2d", "avgpool2d"):
            a.pop("ceil_mode", None)
            y = getattr(ref_nn, op[:-2] + "2d")(v, **a)
        else:
            y = getattr(ref_nn, op)(v, **w, **a)
        vals[node["name"]] = y
    return vals


def _floats(text):
    return [float(v) for v in text.split(",")]


def main(argv=None):
    p = argparse.ArgumentParser(prog="ref_torchnets.py", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("export", "run", "nodes"):
        s = sub.add_parser(name)
        s.add_argument("net", choices=NETS)
        if name != "nodes":
            s.add_argument("seed", type=int)
        if name == "export":
            s.add_argument("prefix")
        if name == "run":
            s.add_argument("input")
            s.add_argument("outdir")
            s.add_argument("--layers", required=True)
            s.add_argument("--mean", type=_floats)
            s.add_argument("--std", type=_floats)
        s.add_argument("--width", type=int, default=16)
        s.add_argument("--in-ch", type=int, default=1)
        s.add_argument("--size", type=int, default=32)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    module, shape = make(a.net, getattr(a, "seed", 0), a.width, a.in_ch, a.size)
    if a.cmd == "export":
        _exporter().export(module, shape, a.prefix)
    elif a.cmd == "nodes":
        for node in _exporter().build(module, shape).graph["nodes"]:
            print(node["name"])
    else:
        x = read_samples(a.input, a.mean, a.std)
        if list(x.shape[1:]) != list(shape):
            sys.exit("ref_torchnets.py: %s: samples of shape %s, the net takes %s (see --in-ch, --size)"
                     % (a.input, list(x.shape[1:]), list(shape)))
        outs = layer_outputs(module.double(), shape, x, [s for s in a.layers.split(",") if s])
        os.makedirs(a.outdir, exist_ok=True)
        for name, v in outs.items():
            np.save(os.path.join(a.outdir, name + ".npy"), v)


if __name__ == "__main__":
    main()
