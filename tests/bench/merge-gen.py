#!/usr/bin/python3
"""Data and the agreement check for tests/bench/merge.sh (numpy only).

gen PARAMS DIR
    DIR/base.safetensors and DIR/m1..m3.safetensors: a llama-like float32 model of about PARAMS
    parameters (embed_tokens [rows, h], then layers of norm, q/k/v/o [h, h], norm, gate/up
    [ffn, h], down [h, ffn], then a final norm; h = 4096 and ffn = 11008 from 2.5e8 parameters
    up, smaller below; the embedding's rows make up the count). base ~ N(0, 0.02^2) (norms
    1 + that); model i = base + N(0, s_i^2) with s = 1e-3, 2e-3, 5e-4. Written under temporary
    names and renamed, so a set that exists is complete.
check DENSITY XFER PEER BASE M1 M2 M3
    prints: max |xfer - peer| over all entries; the largest difference relative to the
    tensor's max |peer| over the entries that are not at a trim tie; the entries differing by
    more than 1e-6 of that max; how many of those are at a tie, i.e. some model's |delta|
    there equals its k-th largest |delta| (k = int(density n)), where exact-k trimming may keep
    either of the equal entries (torch's argsort order is unspecified).
"""
import json, os, struct, sys
import numpy as np

SCALES = (1e-3, 2e-3, 5e-4)


def layout(params):
    for h in (4096, 2048, 1024, 512, 256, 128):
        ffn = h * 43 // 16                   # 4096 -> 11008, llama's ratio
        layer = 4 * h * h + 3 * ffn * h + 2 * h
        if layer + 1001 * h <= params:
            break
    nl = max(1, (params - 1001 * h) // layer)
    rows = max(1000, (params - nl * layer - h) // h)
    out = [("model.embed_tokens.weight", (rows, h))]
    for i in range(nl):
        p = "model.layers.%d." % i
        out += [(p + "input_layernorm.weight", (h,))]
        out += [(p + "self_attn.%s_proj.weight" % x, (h, h)) for x in "qkvo"]
        out += [(p + "post_attention_layernorm.weight", (h,)),
                (p + "mlp.gate_proj.weight", (ffn, h)), (p + "mlp.up_proj.weight", (ffn, h)),
                (p + "mlp.down_proj.weight", (h, ffn))]
    return out + [("model.norm.weight", (h,))]


def header_bytes(tensors):
    hdr, off = {}, 0
    for name, shape in tensors:
        n = 4 * int(np.prod(shape))
        hdr[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    b = json.dumps(hdr, separators=(",", ":")).encode()
    b += b" " * (-len(b) % 8)                # data 8-byte aligned, as the safetensors library does
    return struct.pack("<Q", len(b)) + b


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    hdr.pop("__metadata__", None)
    return 8 + n, hdr


def load(path, start, info):
    assert info["dtype"] == "F32"
    a, b = info["data_offsets"]
    return np.fromfile(path, dtype="<f4", count=(b - a) // 4, offset=start + a)


def gen(params, d):
    os.makedirs(d, exist_ok=True)
    tensors = layout(params)
    names = ["base"] + ["m%d" % (i + 1) for i in range(len(SCALES))]
    files = [open(os.path.join(d, n + ".safetensors.tmp"), "wb") for n in names]
    for f in files:
        f.write(header_bytes(tensors))
    chunk = 1 << 24                           # bounded memory for any size
    for idx, (name, shape) in enumerate(tensors):
        n = int(np.prod(shape))
        rngs = [np.random.default_rng([1, idx, j]) for j in range(len(files))]
        for at in range(0, n, chunk):
            m = min(chunk, n - at)
            base = rngs[0].standard_normal(m, dtype=np.float32)
            base *= np.float32(0.02)
            if len(shape) == 1:
                base += np.float32(1)
            base.tofile(files[0])
            for j, s in enumerate(SCALES):
                ft = rngs[j + 1].standard_normal(m, dtype=np.float32)
                ft *= np.float32(s)
                ft += base
                ft.tofile(files[j + 1])
    for f, n in zip(files, names):
        f.close()
        os.rename(f.name, os.path.join(d, n + ".safetensors"))
    total = sum(int(np.prod(s)) for _, s in tensors)
    print("generated %d tensors, %d parameters per model, in %s" % (len(tensors), total, d))


def check(density, xfer, peer, base, *models):
    sx, hx = read_header(xfer)
    sp, hp = read_header(peer)
    sb, hb = read_header(base)
    sm = [read_header(m) for m in models]
    worst = worst_rest = 0.0
    nbad = nties = 0
    for name, info in hb.items():
        a, b = load(xfer, sx, hx[name]), load(peer, sp, hp[name])
        diff = np.abs(a.astype(np.float64) - b)
        scale = float(np.abs(b).max()) or 1.0
        worst = max(worst, float(diff.max()))
        bad = diff > 1e-6 * scale             # beyond float rounding of the terms
        if not bad.any():
            worst_rest = max(worst_rest, float(diff.max()) / scale)
            continue
        t = load(base, sb, info)
        tie = np.zeros(len(t), bool)
        for m, (s, h) in zip(models, sm):
            mag = np.abs(load(m, s, h[name]) - t)
            k = int(density * len(t))
            tie |= mag == np.partition(mag, len(t) - k)[len(t) - k]
        nbad += int(bad.sum())
        nties += int((bad & tie).sum())
        worst_rest = max(worst_rest, float(diff[~tie].max(initial=0)) / scale)
    print("%.3g %.3g %d %d" % (worst, worst_rest, nbad, nties))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(float(sys.argv[2])), sys.argv[3])
    elif sys.argv[1] == "check":
        check(float(sys.argv[2]), *sys.argv[3:])
    else:
        sys.exit("usage: merge-gen.py gen PARAMS DIR | check DENSITY XFER PEER BASE M...")
