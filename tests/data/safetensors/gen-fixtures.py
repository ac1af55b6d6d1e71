#!/usr/bin/python3
"""Write the tiny .safetensors fixtures for tests/unit/test-safetensors.c.

Only json, struct and numpy, following https://huggingface.co/docs/safetensors: u64 LE
header length N, N bytes of JSON, then little-endian data. Run from anywhere:
  /usr/bin/python3 tests/data/safetensors/gen-fixtures.py
The expected values are spelled out again in the C test; change both together.
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def bf16(values):
    """bfloat16 bit patterns of values that are exact in bfloat16 (top half of float32)."""
    return (np.array(values, dtype="<f4").view("<u4") >> 16).astype("<u2")


# (name, safetensors dtype, array) in file (data) order.
ALL_DTYPES = [
    ("f64", "F64", np.array([1.0 / 3.0, -0.0, 1e300, 5e-324], dtype="<f8")),
    ("f32", "F32", np.array([[1.5, -2.25], [np.finfo(np.float32).max, 1.401298464324817e-45]], dtype="<f4")),
    ("f16", "F16", np.array([1.0, -2.0, 65504.0, 2.0 ** -24, 1.0 / 3.0], dtype="<f2")),
    ("bf16", "BF16", bf16([1.0, -3.0, 0.15625, 3.3895313892515355e38, np.inf])),
    ("i8", "I8", np.array([[-128, 127], [0, -1]], dtype="i1")),
    ("i16", "I16", np.array([-32768, 32767, 12345], dtype="<i2")),
    ("i32", "I32", np.array([[-2 ** 31], [2 ** 31 - 1], [7]], dtype="<i4")),
    ("i64", "I64", np.array([-2 ** 63, 2 ** 63 - 1, 42], dtype="<i8")),
    ("u8", "U8", np.array([[0, 255, 7]], dtype="u1")),
    ("u16", "U16", np.array([0, 65535], dtype="<u2")),
    ("u32", "U32", np.array([0, 2 ** 32 - 1], dtype="<u4")),
    ("u64", "U64", np.array([0, 2 ** 64 - 1, 2 ** 63], dtype="<u8")),
    ("bool", "BOOL", np.array([[True, False], [True, True]], dtype="?")),
]

# 0-d and zero-size tensors; the two empty ones share offset 4 with each other and "after".
SCALAR_EMPTY = [
    ("scalar", "F32", np.array(3.5, dtype="<f4")),
    ("empty", "F32", np.zeros((0,), dtype="<f4")),
    ("empty3d", "I64", np.zeros((2, 0, 3), dtype="<i8")),
    ("after", "BOOL", np.array(True, dtype="?")),
]

# Metadata with non-ASCII text, a 4-byte gap between the tensors, odd space padding.
METADATA = [
    ("a", "I32", np.array([1, 2], dtype="<i4")),
    ("b", "U8", np.array([9], dtype="u1")),
]


def write(path, tensors, metadata=None, key_order=None, gap=0, pad=None):
    header, offset, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    entries = {}
    for name, dtype, arr in tensors:
        data = arr.tobytes()
        entries[name] = {"dtype": dtype, "shape": list(arr.shape),
                         "data_offsets": [offset, offset + len(data)]}
        blobs.append(data + b"\0" * gap)
        offset += len(data) + gap
    for name in key_order or sorted(entries, reverse=True):
        header[name] = entries[name]
    text = json.dumps(header, ensure_ascii=False).encode("utf-8")
    text += b" " * (pad if pad is not None else (8 - len(text) % 8) % 8)
    with open(os.path.join(HERE, path), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    write("dtypes.safetensors", ALL_DTYPES)
    write("scalar-empty.safetensors", SCALAR_EMPTY)
    write("metadata.safetensors", METADATA, metadata={"format": "pt", "note": "h\u00e9llo \u2713"},
          key_order=["b", "a"], gap=4, pad=13)


if __name__ == "__main__":
    main()
