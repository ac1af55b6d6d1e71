#!/usr/bin/python3
"""
torch-export: write a PyTorch nn.Module as an xfer model graph (schemas/stream.md section 9)
plus its weights, for `xfer-pack PREFIX.safetensors --arch PREFIX.json -o model.xs`.
User documentation: docs/torch-export.md. Run with /usr/bin/python3 (python3-torch, numpy).

usage: torch-export.py --module FILE.py:FACTORY [--state-dict CKPT.pt] --input-shape C,H,W
                       [--input-name NAME] -o PREFIX

  --module FILE.py:FACTORY  load FILE.py and call FACTORY() with no arguments: an nn.Module
  --state-dict CKPT.pt      load these weights into it (torch.load; a state_dict, a dict
                            holding one under "state_dict" or "model", or a whole module)
  --input-shape C,H,W       the shape of one sample, without the batch dimension
  --input-name NAME         the graph input's name (default x)
  -o, --output PREFIX       write PREFIX.json (the graph) and PREFIX.safetensors (float32)

As a module: export(module, input_shape, prefix, input_name="x") writes the same two files
(module is put in eval mode) and returns an Export (.graph, .tensors, .gm, .fx_names);
build(...) does the same without writing.

The module is traced with torch.fx (symbolic_trace) and its shapes found with ShapeProp on
a zero batch of two samples. Supported, with the graph op each becomes:

  modules   Linear -> linear; Conv2d (padding_mode 'zeros'; 'same' only when symmetric)
            -> conv2d; BatchNorm1d/2d with running stats -> batchnorm; LayerNorm ->
            layernorm; ReLU, Tanh, Sigmoid, GELU -> relu, tanh, sigmoid, gelu; Softmax(dim
            >= 1 or < 0) -> softmax; MaxPool2d (dilation 1, floor mode) -> maxpool2d;
            AvgPool2d (floor mode, no divisor_override) -> avgpool2d; AdaptiveAvgPool2d ->
            global_avgpool for output size 1, avgpool2d when the size divides the input;
            Flatten(1, -1) -> flatten; Dropout*, Identity -> nothing (an alias)
  functions +, torch.add, x.add -> add; torch.cat(dim >= 1 or < 0) -> concat;
            torch.flatten(x, 1), x.flatten(1), x.view(x.size(0), -1), x.reshape(N, -1)
            -> flatten; F.relu, torch.relu, x.relu, torch.tanh, torch.sigmoid, F.gelu,
            F.softmax, torch.softmax, x.softmax, F.max_pool2d, F.avg_pool2d,
            F.adaptive_avg_pool2d like the modules; x.mean((2, 3)) -> global_avgpool;
            F.dropout (not training), x.contiguous() -> nothing

Node names are the modules' qualified paths ("layer1.0.conv1"; a module called twice gets
"_1" on its second node) and fx's node names for functions ("add", "add_1", "flatten").
Tensor names are the state_dict keys; a norm without affine parameters gets ones and zeros
named "<path>.weight" and "<path>.bias". Anything else is refused: exit 1 and one message
naming the module path and type, or the function and its node. Exit 2 on misuse.
"""
import argparse
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import math
import operator
import os
import struct
import sys

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

PROG = "torch-export"
SHAPE_BATCH = 2   # batch of the example input: 2 shows up ops that mix samples


class ExportError(Exception):
    """A module that cannot be written as a graph; the message says why."""


class Export:
    """The result: graph (the JSON object), tensors (name -> float32 ndarray, in first-use
    order), gm (the traced torch.fx GraphModule) and fx_names (graph node -> fx node name)."""

    def __init__(self, graph, tensors, gm, fx_names):
        self.graph, self.tensors, self.gm, self.fx_names = graph, tensors, gm, fx_names


# Modules: the supported types, in the order the refusal message lists them.
MODULES = [getattr(nn, t) for t in (
    "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "ReLU", "Tanh", "Sigmoid", "GELU", "Softmax",
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "FeatureAlphaDropout", "Identity") if hasattr(nn, t)]
DROPOUTS = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "Identity")
SUPPORTED_MODULES = ("Linear, Conv2d, BatchNorm1d, BatchNorm2d, LayerNorm, ReLU, Tanh, Sigmoid, GELU, "
                     "Softmax, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout*, Identity")
SUPPORTED_FUNCTIONS = ("+, torch.add, torch.cat, torch.flatten, torch.reshape, torch.mean, F.relu, "
                       "torch.relu, torch.tanh, torch.sigmoid, F.gelu, F.softmax, torch.softmax, "
                       "F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.dropout")
SUPPORTED_METHODS = ("add, relu, tanh, sigmoid, softmax, flatten, view, reshape, mean, size, contiguous")


def _functions():
    """fx call_function targets -> handler kind."""
    table = {operator.add: "add", operator.iadd: "add", torch.add: "add",
             torch.cat: "concat", torch.flatten: "flatten", torch.reshape: "reshape",
             torch.mean: "mean", F.relu: "relu", torch.relu: "relu", torch.relu_: "relu",
             torch.tanh: "tanh", F.tanh: "tanh", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
             F.gelu: "gelu", F.softmax: "softmax", torch.softmax: "softmax",
             F.max_pool2d: "maxpool", torch.max_pool2d: "maxpool", F.avg_pool2d: "avgpool",
             F.adaptive_avg_pool2d: "adaptive", F.dropout: "dropout", F.dropout2d: "dropout",
             getattr: "getattr", operator.getitem: "getitem"}
    if hasattr(torch, "concat"):
        table[torch.concat] = "concat"
    return table


FUNCTIONS = _functions()
METHODS = {"add": "add", "add_": "add", "relu": "relu", "relu_": "relu", "tanh": "tanh",
           "tanh_": "tanh", "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "softmax": "softmax",
           "flatten": "flatten", "view": "reshape", "reshape": "reshape", "mean": "mean",
           "size": "size", "contiguous": "alias"}


def _fn_name(target):
    """A readable name for a function target: F.relu, torch.cat, operator.add."""
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or repr(target)
    if mod.startswith("torch.nn.functional") or mod == "torch._C._nn":
        return "F." + name
    if mod == "_operator":
        return "operator." + name
    if mod.startswith("torch"):
        return "torch." + name
    return (mod + "." if mod else "") + name


def _describe(n, module=None):
    if n.op == "call_module":
        return "module '%s' (%s)" % (n.target, type(module).__name__)
    if n.op == "call_function":
        return "function '%s' (node '%s')" % (_fn_name(n.target), n.name)
    if n.op == "call_method":
        return "method '%s' (node '%s')" % (n.target, n.name)
    return "node '%s'" % n.name


def _pair(v, what, desc):
    if isinstance(v, int):
        return [int(v), int(v)]
    if isinstance(v, (tuple, list)) and len(v) in (1, 2) and all(isinstance(a, int) for a in v):
        return [int(v[0]), int(v[-1])]
    raise ExportError("%s: %s %r is not an int or a pair of ints" % (desc, what, v))


def _args(n, names, defaults, desc):
    """Bind an fx node's args and kwargs to parameter names, like a call would."""
    out = dict(defaults)
    if len(n.args) > len(names):
        raise ExportError("%s: too many arguments" % desc)
    out.update(zip(names, n.args))
    for k, v in n.kwargs.items():
        if k not in names:
            raise ExportError("%s: argument '%s' is not supported" % (desc, k))
        out[k] = v
    for k in names:
        if k not in out:
            raise ExportError("%s: argument '%s' is missing" % (desc, k))
    return out


class _Leafy(torch.fx.Tracer):
    """torch.nn modules are leaves, and so are subclasses of the supported ones that keep
    their forward (say `class MyConv(nn.Conv2d)` with another __init__)."""

    def is_leaf_module(self, m, qualname):
        if super().is_leaf_module(m, qualname):
            return True
        return any(isinstance(m, t) and type(m).forward is t.forward for t in MODULES)


class _Shapes(ShapeProp):
    """ShapeProp that remembers the node it is running, for messages."""

    node = None

    def run_node(self, n):
        self.node = n
        return super().run_node(n)


class _Value:
    """A tensor of the graph: the name of the graph input or node holding it. pooled names
    the op whose [C, 1, 1] output the graph holds as global_avgpool's [C]."""

    def __init__(self, name, pooled=None):
        self.name, self.pooled = name, pooled


class _Builder:
    def __init__(self, module, input_shape, input_name):
        self.root = module
        self.input_shape = [int(d) for d in input_shape]
        self.input_name = input_name
        self.nodes, self.tensors, self.fx_names = [], {}, {}
        self.env = {}            # fx node name -> _Value, or None for a non-tensor (sizes)
        self.used = {input_name}
        self.order = {}

    # ---- tracing ----

    def trace(self):
        if not self.input_shape or len(self.input_shape) > 7 or min(self.input_shape) < 1:
            raise ExportError("input shape %r: want 1 to 7 dimensions, each at least 1" % self.input_shape)
        try:
            graph = _Leafy().trace(self.root)
        except Exception as e:
            raise ExportError("torch.fx cannot trace the module: %s" % str(e).splitlines()[0])
        self.gm = torch.fx.GraphModule(self.root, graph)
        for i, n in enumerate(self.gm.graph.nodes):
            self.order[n.name] = i
        placeholders = [n for n in self.gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ExportError("forward takes %d inputs; one tensor is supported" % len(placeholders))
        for n in self.gm.graph.nodes:     # refuse unsupported ops before running anything
            self.kind(n)
        p = next(self.root.parameters(), None)
        dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
        x = torch.zeros([SHAPE_BATCH] + self.input_shape, dtype=dtype)
        shapes = _Shapes(self.gm)
        try:
            with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):   # ShapeProp prints tracebacks
                shapes.propagate(x)
        except Exception as e:
            e = e.__context__ or e
            where = " at %s" % _describe(shapes.node, self.root.get_submodule(shapes.node.target)
                                         if shapes.node.op == "call_module" else None) if shapes.node else ""
            raise ExportError("the module fails on an input of shape %s%s: %s"
                              % (list(x.shape), where, str(e).strip().splitlines()[0] if str(e).strip()
                                 else type(e).__name__))

    def kind(self, n):
        """The handler for an fx node, or ExportError when the op is not supported."""
        if n.op in ("placeholder", "output"):
            return n.op
        if n.op == "get_attr":
            raise ExportError("node '%s' reads '%s' directly; weights are supported only inside "
                              "modules of the supported types" % (n.name, n.target))
        if n.op == "call_module":
            m = self.root.get_submodule(n.target)
            for t in MODULES:
                if isinstance(m, t) and type(m).forward is t.forward:
                    return t.__name__
            raise ExportError("%s is not supported; supported: %s" % (_describe(n, m), SUPPORTED_MODULES))
        if n.op == "call_function":
            k = FUNCTIONS.get(n.target) if _hashable(n.target) else None
            if k is None:
                raise ExportError("%s is not supported; supported: %s" % (_describe(n), SUPPORTED_FUNCTIONS))
            return k
        k = METHODS.get(n.target)
        if k is None:
            raise ExportError("%s is not supported; supported: %s" % (_describe(n), SUPPORTED_METHODS))
        return k

    # ---- helpers ----

    def shape(self, n):
        """The per-sample shape of an fx node's tensor."""
        meta = n.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise ExportError("node '%s' does not give one tensor" % n.name)
        s = list(meta.shape)
        if not s or s[0] != SHAPE_BATCH:
            raise ExportError("node '%s' has shape %s for a batch of %d: it mixes the samples of a batch"
                              % (n.name, s, SHAPE_BATCH))
        return s[1:]

    def value(self, arg, n, desc, allow_pooled=False):
        """The graph value of a tensor argument of node n."""
        if not isinstance(arg, torch.fx.Node):
            raise ExportError("%s: argument %r is not a tensor of the model" % (desc, arg))
        v = self.env[arg.name]
        if v is None:
            raise ExportError("%s: argument '%s' is not a tensor" % (desc, arg.name))
        if v.pooled and not allow_pooled:
            raise ExportError("%s reads the [C, 1, 1] output of %s; the graph's global_avgpool gives [C], "
                              "so that output may only go to a flatten or be an output of the model"
                              % (desc, v.pooled))
        return v.name

    def unique(self, name):
        base, k = name, 0
        while name in self.used:
            k += 1
            name = "%s_%d" % (base, k)
        self.used.add(name)
        return name

    def tensor(self, name, t):
        a = t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4")
        if name in self.tensors:
            if not np.array_equal(self.tensors[name], a):
                raise ExportError("two different tensors are both named '%s'" % name)
        else:
            self.tensors[name] = a
        return name

    def emit(self, n, op, inputs, attrs=None, weights=None, name=None, pooled=None):
        name = self.unique(name or (n.target if n.op == "call_module" else n.name))
        node = {"name": name, "op": op, "inputs": inputs}
        if attrs:
            node["attrs"] = attrs
        if weights:
            node["weights"] = weights
        self.nodes.append(node)
        self.fx_names[name] = n.name
        self.env[n.name] = _Value(name, pooled)

    def alias(self, n, arg, desc):
        if not isinstance(arg, torch.fx.Node) or self.env[arg.name] is None:
            raise ExportError("%s: its input is not a tensor" % desc)
        self.env[n.name] = self.env[arg.name]

    def check_in_place(self, n, arg, desc):
        """An in-place op whose input is read again later would change what that reader sees."""
        if not isinstance(arg, torch.fx.Node):
            return
        for u in arg.users:
            if u is not n and self.order[u.name] > self.order[n.name]:
                raise ExportError("%s works in place on '%s', which node '%s' reads afterwards; the graph has "
                                  "no in-place ops (use inplace=False)" % (desc, arg.name, u.name))

    def axis(self, dim, rank, desc, what="dim"):
        """A torch dim over [N, *s] as a per-sample axis: d >= 1 -> d - 1; negative kept."""
        if not isinstance(dim, int):
            raise ExportError("%s: %s %r is not an int" % (desc, what, dim))
        if dim == 0 or dim == -rank:
            raise ExportError("%s: %s %d is the batch dimension" % (desc, what, dim))
        if dim >= rank or dim < -rank:
            raise ExportError("%s: %s %d is out of range" % (desc, what, dim))
        return dim - 1 if dim > 0 else dim

    # ---- the ops ----

    def run(self):
        for n in self.gm.graph.nodes:
            k = self.kind(n)
            m = self.root.get_submodule(n.target) if n.op == "call_module" else None
            desc = _describe(n, m)
            if k == "placeholder":
                self.env[n.name] = _Value(self.input_name)
            elif k == "output":
                self.outputs(n)
            elif n.op == "call_module":
                self.module(n, m, k, desc)
            else:
                self.function(n, k, desc)
        return {"inputs": {self.input_name: {"shape": self.input_shape}}, "nodes": self.nodes,
                "outputs": self.out_names}

    def outputs(self, n):
        flat = []

        def walk(a):
            if isinstance(a, (tuple, list)):
                for b in a:
                    walk(b)
            elif isinstance(a, dict):
                for b in a.values():
                    walk(b)
            else:
                flat.append(a)
        walk(n.args[0])
        names = []
        for a in flat:
            name = self.value(a, n, "the model's output", allow_pooled=True)
            if name == self.input_name:
                raise ExportError("the model's output is its input; there is no node to export")
            if name in names:
                raise ExportError("the model returns '%s' twice" % name)
            names.append(name)
        if not self.nodes:
            raise ExportError("the model has no ops")
        self.out_names = names

    def module(self, n, m, k, desc):
        if len(n.args) != 1 or n.kwargs:
            raise ExportError("%s: called with %d arguments; one tensor is supported"
                              % (desc, len(n.args) + len(n.kwargs)))
        x = n.args[0]
        path = n.target
        if k in DROPOUTS:      # in eval mode these do nothing, in place or not
            self.alias(n, x, desc)
            return
        if getattr(m, "inplace", False):
            self.check_in_place(n, x, desc)
        if k == "Flatten":
            if m.start_dim != 1 or m.end_dim not in (-1, len(self.shape(x))):
                raise ExportError("%s: only Flatten(start_dim=1, end_dim=-1) is supported, not (%d, %d)"
                                  % (desc, m.start_dim, m.end_dim))
            self.emit(n, "flatten", [self.value(x, n, desc, allow_pooled=True)])
            return
        inp = [self.value(x, n, desc)]
        if k == "Linear":
            w = {"weight": self.tensor(path + ".weight", m.weight)}
            if m.bias is not None:
                w["bias"] = self.tensor(path + ".bias", m.bias)
            self.emit(n, "linear", inp, weights=w)
        elif k == "Conv2d":
            self.emit(n, "conv2d", inp, attrs=self.conv_attrs(m, desc), weights=self.weights(m, path, ("weight", "bias")))
        elif k in ("BatchNorm1d", "BatchNorm2d"):
            if m.running_mean is None or m.running_var is None:
                raise ExportError("%s: it has no running statistics (track_running_stats=False)" % desc)
            w = self.affine(m, path, [m.num_features])
            w["running_mean"] = self.tensor(path + ".running_mean", m.running_mean)
            w["running_var"] = self.tensor(path + ".running_var", m.running_var)
            self.emit(n, "batchnorm", inp, attrs={"eps": float(m.eps)}, weights=w)
        elif k == "LayerNorm":
            self.emit(n, "layernorm", inp, attrs={"eps": float(m.eps)},
                      weights=self.affine(m, path, list(m.normalized_shape)))
        elif k in ("ReLU", "Tanh", "Sigmoid"):
            self.emit(n, k.lower(), inp)
        elif k == "GELU":
            self.emit(n, "gelu", inp, attrs={"approximate": m.approximate})
        elif k == "Softmax":
            rank = len(self.shape(x)) + 1
            dim = m.dim
            if dim is None:    # torch's legacy choice for an implicit dim
                dim = 0 if rank in (0, 1, 3) else 1
            self.emit(n, "softmax", inp, attrs={"axis": self.axis(dim, rank, desc)})
        elif k == "MaxPool2d":
            self.emit(n, "maxpool2d", inp, attrs=self.pool_attrs(desc, m.kernel_size, m.stride, m.padding,
                      m.dilation, m.ceil_mode, m.return_indices))
        elif k == "AvgPool2d":
            self.emit(n, "avgpool2d", inp, attrs=self.pool_attrs(desc, m.kernel_size, m.stride, m.padding, 1,
                      m.ceil_mode, False, m.count_include_pad, m.divisor_override))
        elif k == "AdaptiveAvgPool2d":
            self.adaptive(n, x, m.output_size, desc)
        else:
            raise AssertionError("no handler for " + k)

    def weights(self, m, path, roles):
        return {r: self.tensor(path + "." + r, getattr(m, r)) for r in roles if getattr(m, r, None) is not None}

    def affine(self, m, path, shape):
        """weight and bias of a norm: its own, or ones and zeros when it has none."""
        if m.weight is not None:
            w = {"weight": self.tensor(path + ".weight", m.weight)}
        else:
            w = {"weight": self.tensor(path + ".weight", torch.ones(shape))}
        if m.bias is not None:
            w["bias"] = self.tensor(path + ".bias", m.bias)
        elif m.weight is None:
            w["bias"] = self.tensor(path + ".bias", torch.zeros(shape))
        return w

    def conv_attrs(self, m, desc):
        if m.padding_mode != "zeros":
            raise ExportError("%s: padding_mode '%s' is not supported; the graph's conv2d pads with zeros"
                              % (desc, m.padding_mode))
        dilation = _pair(m.dilation, "dilation", desc)
        if m.padding == "valid":
            padding = [0, 0]
        elif m.padding == "same":
            padding = []
            for d, k in zip(dilation, m.kernel_size):
                total = d * (k - 1)
                if total % 2:
                    raise ExportError("%s: padding 'same' needs %d pixels, which cannot be split evenly; the "
                                      "graph's conv2d pads both sides alike" % (desc, total))
                padding.append(total // 2)
        else:
            padding = _pair(m.padding, "padding", desc)
        return {"stride": _pair(m.stride, "stride", desc), "padding": padding, "dilation": dilation,
                "groups": int(m.groups)}

    def pool_attrs(self, desc, kernel, stride, padding, dilation, ceil_mode, return_indices,
                   count_include_pad=None, divisor_override=None):
        if _pair(dilation, "dilation", desc) != [1, 1]:
            raise ExportError("%s: dilation %r is not supported" % (desc, dilation))
        if ceil_mode:
            raise ExportError("%s: ceil_mode=True is not supported (the graph has floor mode only)" % desc)
        if return_indices:
            raise ExportError("%s: return_indices=True is not supported" % desc)
        if divisor_override is not None:
            raise ExportError("%s: divisor_override is not supported" % desc)
        k = _pair(kernel, "kernel_size", desc)
        attrs = {"kernel": k, "stride": k if stride is None or stride == [] else _pair(stride, "stride", desc),
                 "padding": _pair(padding, "padding", desc)}
        if count_include_pad is not None:
            attrs["count_include_pad"] = bool(count_include_pad)
        return attrs

    def adaptive(self, n, x, size, desc):
        """Output size 1: global_avgpool, whose [C] stands for torch's [C, 1, 1]. A size that
        divides the input: avgpool2d with the kernel that gives the same windows."""
        s = self.shape(x)
        if len(s) != 3:
            raise ExportError("%s: input shape %s is not [C, H, W]" % (desc, s))
        size = [s[1 + i] if v is None else v for i, v in enumerate(
            (size, size) if isinstance(size, int) or size is None else tuple(size))]
        inp = [self.value(x, n, desc)]
        if size == [1, 1]:
            self.emit(n, "global_avgpool", inp, pooled=desc)
        elif s[1] % size[0] == 0 and s[2] % size[1] == 0:
            k = [s[1] // size[0], s[2] // size[1]]
            self.emit(n, "avgpool2d", inp, attrs={"kernel": k, "stride": k, "padding": [0, 0]})
        else:
            raise ExportError("%s: output size %s does not divide the input's %s; only sizes that do are "
                              "supported" % (desc, size, s[1:]))

    def function(self, n, k, desc):
        first = "self" if n.op == "call_method" else "input"
        x = n.args[0] if n.args else n.kwargs.get(first)
        if k in ("size", "getattr") or (k == "getitem" and isinstance(x, torch.fx.Node)
                                        and self.env.get(x.name, 0) is None):
            if k == "getattr" and n.args[1] != "shape":
                raise ExportError("%s: attribute '%s' is not supported" % (desc, n.args[1]))
            self.env[n.name] = None    # a size: only view and reshape may read it, and they ignore it
            return
        if k == "getitem":
            raise ExportError("%s: indexing tensors is not supported" % desc)
        in_place = (n.op == "call_method" and n.target.endswith("_")) or n.target in (torch.relu_, operator.iadd) \
            or n.kwargs.get("inplace") is True or (n.target is F.relu and len(n.args) > 1 and n.args[1] is True)
        if in_place and k != "dropout":
            self.check_in_place(n, x, desc)
        if k == "alias":
            _args(n, [first], {}, desc)
            self.alias(n, x, desc)
        elif k == "add":
            names = ["a", "b"] if n.target in (operator.add, operator.iadd) else [first, "other", "alpha"]
            a = _args(n, names, {"alpha": 1}, desc)
            if a["alpha"] != 1:
                raise ExportError("%s: alpha %r is not supported" % (desc, a["alpha"]))
            x, y = a[names[0]], a[names[1]]
            if not isinstance(x, torch.fx.Node) or not isinstance(y, torch.fx.Node):
                raise ExportError("%s: adding a constant is not supported; both sides must be tensors" % desc)
            ins = [self.value(x, n, desc), self.value(y, n, desc)]
            if self.shape(x) != self.shape(y):
                raise ExportError("%s: shapes %s and %s differ; the graph's add does not broadcast"
                                  % (desc, self.shape(x), self.shape(y)))
            self.emit(n, "add", ins)
        elif k == "concat":
            a = _args(n, ["tensors", "dim"], {"dim": 0}, desc)
            xs = list(a["tensors"]) if isinstance(a["tensors"], (list, tuple)) else [a["tensors"]]
            ins = [self.value(t, n, desc) for t in xs]
            axis = self.axis(a["dim"], len(self.shape(n)) + 1, desc)
            if len(ins) == 1:
                self.alias(n, xs[0], desc)
            else:
                self.emit(n, "concat", ins, attrs={"axis": axis})
        elif k == "flatten":
            a = _args(n, [first, "start_dim", "end_dim"], {"start_dim": 0, "end_dim": -1}, desc)
            x = a[first]
            rank = len(self.shape(x)) + 1
            if a["start_dim"] != 1 or a["end_dim"] not in (-1, rank - 1):
                raise ExportError("%s: only flatten(x, 1) is supported, not start_dim %r, end_dim %r"
                                  % (desc, a["start_dim"], a["end_dim"]))
            self.emit(n, "flatten", [self.value(x, n, desc, allow_pooled=True)])
        elif k == "reshape":
            s, out = self.shape(x), self.shape(n)
            if out == s:
                self.alias(n, x, desc)
            elif out == [math.prod(s)]:
                self.emit(n, "flatten", [self.value(x, n, desc, allow_pooled=True)])
            else:
                raise ExportError("%s: reshaping %s to %s is not supported; only flattening to [N, -1] is"
                                  % (desc, s, out))
        elif k in ("relu", "tanh", "sigmoid"):
            a = _args(n, [first, "inplace"] if n.target is F.relu else [first], {"inplace": False}, desc)
            self.emit(n, k, [self.value(a[first], n, desc)])
        elif k == "gelu":
            a = _args(n, [first, "approximate"], {"approximate": "none"}, desc)
            self.emit(n, "gelu", [self.value(a[first], n, desc)], attrs={"approximate": a["approximate"]})
        elif k == "softmax":
            names = [first, "dim", "_stacklevel", "dtype"] if n.target is F.softmax else [first, "dim", "dtype"]
            a = _args(n, names, {"dim": None, "dtype": None, "_stacklevel": 3}, desc)
            if a["dtype"] is not None:
                raise ExportError("%s: dtype is not supported" % desc)
            rank = len(self.shape(a[first])) + 1
            dim = a["dim"] if a["dim"] is not None else (0 if rank in (0, 1, 3) else 1)
            self.emit(n, "softmax", [self.value(a[first], n, desc)], attrs={"axis": self.axis(dim, rank, desc)})
        elif k == "maxpool":
            a = _args(n, [first, "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
                      {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
                      desc)
            self.emit(n, "maxpool2d", [self.value(a[first], n, desc)], attrs=self.pool_attrs(
                desc, a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"],
                a["return_indices"]))
        elif k == "avgpool":
            a = _args(n, [first, "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                          "divisor_override"], {"stride": None, "padding": 0, "ceil_mode": False,
                                                "count_include_pad": True, "divisor_override": None}, desc)
            self.emit(n, "avgpool2d", [self.value(a[first], n, desc)], attrs=self.pool_attrs(
                desc, a["kernel_size"], a["stride"], a["padding"], 1, a["ceil_mode"], False,
                a["count_include_pad"], a["divisor_override"]))
        elif k == "adaptive":
            a = _args(n, [first, "output_size"], {}, desc)
            self.adaptive(n, a[first], a["output_size"], desc)
        elif k == "mean":
            a = _args(n, [first, "dim", "keepdim", "dtype"], {"dim": None, "keepdim": False, "dtype": None}, desc)
            s = self.shape(a[first])
            dims = a["dim"] if isinstance(a["dim"], (list, tuple)) else [a["dim"]]
            ok = len(s) == 3 and a["dtype"] is None and all(isinstance(d, int) for d in dims) \
                and sorted(d % 4 for d in dims) == [2, 3]
            if not ok:
                raise ExportError("%s: only the mean over H and W of [N, C, H, W] (dims 2 and 3) is supported"
                                  % desc)
            self.emit(n, "global_avgpool", [self.value(a[first], n, desc)], pooled=desc if a["keepdim"] else None)
        elif k == "dropout":
            a = _args(n, [first, "p", "training", "inplace"], {"p": 0.5, "training": True, "inplace": False}, desc)
            if a["training"] is not False:
                raise ExportError("%s: training=%r drops values even in eval mode; pass training=self.training"
                                  % (desc, a["training"]))
            self.alias(n, a[first], desc)
        else:
            raise AssertionError("no handler for " + k)


def _hashable(t):
    try:
        hash(t)
        return True
    except TypeError:
        return False


def build(module, input_shape, input_name="x"):
    """Trace module (put in eval mode) and return an Export; ExportError when it cannot be."""
    if not isinstance(module, nn.Module):
        raise ExportError("the model is a %s, not a torch.nn.Module" % type(module).__name__)
    module.eval()
    if any(isinstance(module, t) for t in MODULES):
        module = nn.Sequential(module)     # fx traces the root's forward: make the module a leaf
    b = _Builder(module, input_shape, input_name)
    b.trace()
    graph = b.run()
    return Export(graph, b.tensors, b.gm, b.fx_names)


def safetensors_bytes(tensors):
    """A safetensors file of float32 tensors, in this order."""
    head, offset = {}, 0
    for name, a in tensors.items():
        head[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(head, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text] + [a.tobytes() for a in tensors.values()])


def graph_json(graph):
    """The graph as JSON text, one node a line."""
    d = lambda v: json.dumps(v)
    nodes = ",\n".join("  " + d(n) for n in graph["nodes"])
    return '{\n "inputs": %s,\n "nodes": [\n%s\n ],\n "outputs": %s\n}\n' % (
        d(graph["inputs"]), nodes, d(graph["outputs"]))


def _write(path, data):
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def export(module, input_shape, prefix, input_name="x"):
    """Write PREFIX.json (the graph) and PREFIX.safetensors (its float32 weights); return the
    Export. Raises ExportError when the module cannot be written as a graph."""
    e = build(module, input_shape, input_name)
    _write(prefix + ".safetensors", safetensors_bytes(e.tensors))
    _write(prefix + ".json", graph_json(e.graph).encode())
    return e


# ---- command line ----

USAGE = ("usage: torch-export.py --module FILE.py:FACTORY [--state-dict CKPT.pt] --input-shape C,H,W\n"
         "                       [--input-name NAME] -o PREFIX\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write("%s: %s\n%s" % (PROG, message, USAGE))
        sys.exit(2)

    def print_help(self, file=None):
        (file or sys.stdout).write(USAGE + "\nWrite a PyTorch module as an xfer model graph and its weights.\n\n"
                                   + __doc__.split("\n\n", 3)[2] + "\n\nThen: xfer-pack PREFIX.safetensors "
                                   "--arch PREFIX.json -o model.xs. See docs/torch-export.md.\n")


def _shape_arg(text):
    try:
        s = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("'%s' is not a list of integers like 1,32,32" % text)
    if not 1 <= len(s) <= 7 or min(s) < 1:
        raise argparse.ArgumentTypeError("'%s': want 1 to 7 dimensions, each at least 1" % text)
    return s


def load_factory(spec):
    """FILE.py:FACTORY -> FACTORY() from that file."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise ExportError("--module '%s' is not FILE.py:FACTORY" % spec)
    if not os.path.isfile(path):
        raise ExportError("cannot open '%s': No such file" % path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    modname = "_torch_export_" + os.path.splitext(os.path.basename(path))[0]
    loader = importlib.machinery.SourceFileLoader(modname, path)    # any file name, not only *.py
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(modname, loader))
    sys.modules[modname] = mod
    try:
        loader.exec_module(mod)
    except Exception as e:
        raise ExportError("cannot load '%s': %s: %s" % (path, type(e).__name__, e))
    factory = getattr(mod, name, None)
    if not callable(factory):
        raise ExportError("'%s' has no function '%s'" % (path, name))
    try:
        return factory()
    except Exception as e:
        raise ExportError("%s() failed: %s: %s" % (name, type(e).__name__, e))


def load_state(module, path):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:
        raise ExportError("cannot load '%s': %s" % (path, e))
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise ExportError("'%s' holds a %s, not a state_dict" % (path, type(obj).__name__))
    try:
        module.load_state_dict(obj)
    except Exception as e:
        raise ExportError("'%s' does not fit the module: %s" % (path, str(e).strip().splitlines()[0]))


def main(argv=None):
    p = _Parser(prog=PROG, add_help=False)
    p.add_argument("-h", "--help", action="help")
    p.add_argument("--module", required=True)
    p.add_argument("--state-dict")
    p.add_argument("--input-shape", required=True, type=_shape_arg)
    p.add_argument("--input-name", default="x")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args(argv)
    if not a.input_name or len(a.input_name.encode()) > 255:
        p.error("--input-name must be 1 to 255 bytes")
    try:
        module = load_factory(a.module)
        if not isinstance(module, nn.Module):
            raise ExportError("%s returned a %s, not a torch.nn.Module" % (a.module, type(module).__name__))
        if a.state_dict:
            load_state(module, a.state_dict)
        export(module, a.input_shape, a.output, a.input_name)
    except ExportError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
