#!/usr/bin/python3
"""
Make the .npy/.npz fixtures of tests/unit/test-npy.c with numpy, the oracle.
Run from anywhere: /usr/bin/python3 tests/data/npy/make-fixtures.py
The values here are repeated in test-npy.c; change both together.
"""
import io
import os
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# dtype code -> the 5 values every dtype fixture holds
INTS = {c: [np.iinfo(c).min, -1, 0, 1, np.iinfo(c).max] for c in ("i1", "i2", "i4", "i8")}
UINTS = {c: [0, 1, 2, np.iinfo(c).max - 1, np.iinfo(c).max] for c in ("u1", "u2", "u4", "u8")}
FLOATS = {c: [-2.5, 0.0, 1.0, 0.375, 1024.0] for c in ("f2", "f4", "f8")}


def dtype_arrays():
    """Every numeric dtype; multi-byte ones as le_XX and be_XX, single-byte ones once."""
    out = {}
    for table in (INTS, UINTS, FLOATS):
        for code, values in table.items():
            if code[1] == "1":
                out[code] = np.array(values, dtype="|" + code)
            else:
                out["le_" + code] = np.array(values, dtype="<" + code)
                out["be_" + code] = np.array(values, dtype=">" + code)
    out["b1"] = np.array([True, False, True, True, False])
    return out


def save(name, arr, **kw):
    np.save(os.path.join(HERE, name), arr, **kw)


def write_version(name, arr, version):
    with open(os.path.join(HERE, name), "wb") as f:
        np.lib.format.write_array(f, arr, version=version)


def npy_bytes(header, data=b""):
    """A v1.0 .npy with a hand-written header dict (for files numpy itself would not write)."""
    text = header.encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def lying_zip(name, member, header, data):
    with zipfile.ZipFile(os.path.join(HERE, name), "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(member, (2000, 1, 1, 0, 0, 0)), npy_bytes(header, data))


def main():
    np.savez(os.path.join(HERE, "dtypes.npz"), **dtype_arrays())
    np.savez_compressed(os.path.join(HERE, "compressed.npz"),
                        x=np.arange(12, dtype="<f4").reshape(3, 4),
                        labels=np.array(["cat", "chien", "猫"]))
    save("f8-3d.npy", np.arange(24, dtype="<f8").reshape(2, 3, 4) / 4)
    save("be-i2-2d.npy", (np.arange(6).reshape(2, 3) - 3).astype(">i2"))
    save("scalar.npy", np.array(3.5))
    save("empty.npy", np.zeros((0, 3), dtype="<f4"))
    save("fortran.npy", np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)))
    save("unicode.npy", np.array(["a", "héllo", "日本語", "", "🙂x"]))
    save("be-unicode.npy", np.array(["ab", "é"], dtype=">U2"))
    save("bytes.npy", np.array([b"ab", "é".encode(), b"", b"xyz"]))
    write_version("v2.npy", np.arange(4, dtype="<u2"), (2, 0))
    write_version("v3.npy", np.arange(3, dtype="<i8"), (3, 0))
    save("object.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
    save("structured.npy", np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")]))
    # 2^31 float64 rows = 16 GiB, at the member cap, but only 16 bytes of data follow
    lying_zip("lying.npz", "big.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648,), }",
              b"\0" * 16)
    # 2^32 float64 rows = 32 GiB, above the 16 GiB member cap
    lying_zip("huge.npz", "huge.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296,), }",
              b"\0" * 16)


if __name__ == "__main__":
    main()
