#!/usr/bin/python3
"""The peer of tests/bench/merge.sh: TIES computed the way mergekit computes it (merge method
`ties`: sparsify.magnitude, then the generalized task arithmetic of
merge_methods/generalized_task_arithmetic.py; ../shared/docs/merge.md section 3b), written out
here in plain torch, tensor by tensor: read the tensor of the base and of every model, merge,
append it to the output. Weights 1, normalize true, lambda 1, float32 throughout.

usage: merge-peer.py THREADS DENSITY OUT.safetensors BASE.safetensors M1.safetensors ...
"""
import json, struct, sys
import numpy as np
import torch


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    hdr.pop("__metadata__", None)
    return 8 + n, hdr


def load(path, start, info):
    a, b = info["data_offsets"]
    x = np.fromfile(path, dtype="<f4", count=(b - a) // 4, offset=start + a)
    return torch.from_numpy(x).view(info["shape"])


def magnitude(delta, density):
    """Keep exactly k = int(density n) entries: the first k of argsort(|delta|, descending)."""
    k = int(density * delta.numel())
    assert k > 0, "int(density * n) = 0: mergekit refuses the tensor"
    keep = torch.argsort(delta.abs().view(-1).float(), descending=True)[:k]
    mask = torch.zeros_like(delta)
    mask.view(-1)[keep] = 1
    return delta * mask


def ties(base, models, density, weights):
    deltas = torch.stack([magnitude(m - base, density) for m in models])
    w = torch.tensor(weights, dtype=deltas.dtype).view(-1, *[1] * base.dim())
    u = deltas * w
    elected = (u.sum(dim=0) >= 0).to(u.dtype) * 2 - 1      # sign of the total; an exact 0 elects +
    mask = (u.sign() == elected).to(u.dtype)               # zeros (trimmed entries) never agree
    mixed = (u * mask).sum(dim=0)
    divisor = (w * mask).sum(dim=0)
    divisor[divisor == 0] = 1
    return (base + mixed / divisor).to(base.dtype)          # lambda 1


def main():
    threads, density, out, base, models = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
    torch.set_num_threads(threads)
    sb, hb = read_header(base)
    heads = [read_header(m) for m in models]
    names = sorted(hb, key=lambda n: hb[n]["data_offsets"][0])
    hdr, off = {}, 0
    for n in names:
        size = 4 * int(np.prod(hb[n]["shape"]))
        hdr[n] = {"dtype": "F32", "shape": hb[n]["shape"], "data_offsets": [off, off + size]}
        off += size
    blob = json.dumps(hdr, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with torch.no_grad(), open(out, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for n in names:
            t = load(base, sb, hb[n])
            ms = [load(m, s, h[n]) for m, (s, h) in zip(models, heads)]
            ties(t, ms, density, [1.0] * len(ms)).numpy().tofile(f)


if __name__ == "__main__":
    main()
