#!/usr/bin/python3
"""
Inputs for tests/cli/embed.sh, written with numpy and msgpack only (no xfer code):

  ref_embed_data.py digits32 IN.xs OUT.xs N   the first N digits of IN.xs (uint8 [28, 28]),
                                              scaled by 1/255 and resized to 32x32 by
                                              torch.nn.functional.interpolate (bilinear,
                                              align_corners=False): float32 [1, 32, 32], with y
  ref_embed_data.py model OUT.xs GRAPH.json [NAME=SHAPE...]
                                              a model stream with this graph and tensors of
                                              random values (declared in order, all sent)
  ref_embed_data.py model-missing OUT.xs GRAPH.json NAME=SHAPE...
                                              the same, but the last tensor is declared and
                                              never sent (the end frame counts one fewer)
"""
import json
import sys

import msgpack
import msgpack_numpy as m
import numpy as np


def frames(path):
    out = list(msgpack.Unpacker(open(path, "rb"), object_hook=m.decode, raw=False, max_buffer_size=0))
    if not out or out[-1].get("t") != "end":
        raise SystemExit("%s: truncated stream" % path)
    return out


def column(path, name):
    return np.concatenate([f["cols"][name] for f in frames(path) if f["t"] == "batch"])


def put(f, frame):
    f.write(msgpack.packb(frame, default=m.encode, use_bin_type=True))


def history():
    return {"history": [{"prog": "ref_embed_data.py", "version": "1", "args": []}]}


def digits32(src, dst, n):
    import torch
    import torch.nn.functional as F
    x = column(src, "x")[:n].astype(np.float64) / 255
    y = column(src, "y")[:n].astype("<i8")
    x32 = F.interpolate(torch.from_numpy(x[:, None]), size=(32, 32), mode="bilinear",
                        align_corners=False).numpy().astype("<f4")
    with open(dst, "wb") as f:
        put(f, {"t": "header", "xfer": 1, "kind": "samples",
                "fields": {"x": {"dtype": "<f4", "shape": [1, 32, 32]}, "y": {"dtype": "<i8", "shape": []}},
                "meta": history()})
        put(f, {"t": "batch", "n": n, "cols": {"x": x32, "y": y}})
        put(f, {"t": "end", "rows": n})


def model(dst, graph_path, specs, send_all=True):
    graph = json.load(open(graph_path))
    rng = np.random.default_rng(5)
    tensors = []
    for spec in specs:
        name, shape = spec.split("=")
        tensors.append((name, [int(v) for v in shape.split(",")]))
    with open(dst, "wb") as f:
        put(f, {"t": "header", "xfer": 1, "kind": "model",
                "fields": {name: {"dtype": "<f4", "shape": shape} for name, shape in tensors},
                "graph": graph, "meta": history()})
        sent = tensors if send_all else tensors[:-1]
        for name, shape in sent:
            put(f, {"t": "tensor", "name": name, "data": rng.normal(size=shape).astype("<f4")})
        put(f, {"t": "end", "tensors": len(sent)})


def main(argv):
    if argv[0] == "digits32":
        digits32(argv[1], argv[2], int(argv[3]))
    elif argv[0] in ("model", "model-missing"):
        model(argv[1], argv[2], argv[3:], argv[0] == "model")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
