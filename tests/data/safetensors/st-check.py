#!/usr/bin/python3
"""Independent safetensors reader (json, struct, numpy only): the oracle for our writer.

  st-check.py [--strict] FILE
prints "metadata: {json}" (or "metadata: none") and then one line per tensor in data order:
"name DTYPE [shape] v1 v2 ..." (floats as Python repr, bools as 0/1). Exits 1 with a message
on anything the format forbids. --strict adds the reference implementation's rules: tensors
contiguous from offset 0 to the end of the file, and the writer's header padded with spaces
to a multiple of 8 bytes.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
          "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def fail(msg):
    print("st-check: " + msg)
    sys.exit(1)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        fail("duplicate key")
    return dict(pairs)


def value_text(dtype, arr):
    if dtype == "BF16":
        arr = (arr.astype("<u4") << 16).view("<f4")
    if arr.dtype.kind == "f":
        return [repr(float(x)) for x in arr.ravel()]
    return [str(int(x)) for x in arr.ravel()]


def main():
    args = sys.argv[1:]
    strict = args[:1] == ["--strict"]
    data = open(args[-1], "rb").read()
    if len(data) < 8:
        fail("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000 or 8 + n > len(data):
        fail("bad header length %d" % n)
    raw = data[8:8 + n]
    if strict and (n % 8 or not raw.startswith(b"{") or len(raw) - len(raw.rstrip(b" ")) > 7):
        fail("header does not start with { or is not space-padded to the next multiple of 8")
    header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    if not isinstance(header, dict):
        fail("header not an object")
    body = data[8 + n:]
    meta = header.pop("__metadata__", None)
    if meta is not None and not all(isinstance(v, str) for v in meta.values()):
        fail("metadata value not a string")
    print("metadata: " + (json.dumps(meta, sort_keys=True) if meta is not None else "none"))
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: (tuple(kv[1]["data_offsets"]), kv[0])):
        b, e = info["data_offsets"]
        dt = np.dtype(DTYPES[info["dtype"]])
        shape = info["shape"]
        if (strict and b != end) or b < end or e < b or e > len(body):
            fail("bad offsets for %s" % name)
        if int(np.prod(shape, dtype=np.int64)) * dt.itemsize != e - b:
            fail("size mismatch for %s" % name)
        arr = np.frombuffer(body[b:e], dtype=dt).reshape(shape)
        end = e
        print(" ".join([name, info["dtype"], json.dumps(shape)] + value_text(info["dtype"], arr)))
    if strict and end != len(body):
        fail("data does not end at the end of the file")


if __name__ == "__main__":
    main()
