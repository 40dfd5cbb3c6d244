#!/usr/bin/python3
"""Independent safetensors writer and reader for tlkit's checkpoint tests.

The safetensors package is not installed here, so this follows the format specification
(https://github.com/huggingface/safetensors#format) with struct and json only:
8-byte little-endian header length N, N bytes of JSON header (padded with spaces),
then the little-endian tensor data addressed by each entry's data_offsets.

  safetensors_ref.py fixtures DIR   write python.safetensors/.json and python_dtypes.safetensors/.json
  safetensors_ref.py read FILE      validate FILE and print its content as JSON on stdout

The JSON content is {"meta": {...}, "tensors": {name: {"dtype", "shape", "values"}}} with
floats written by repr (NaN and infinities as the strings "nan", "inf", "-inf").
"""
import json
import math
import struct
import sys

FORMATS = {  # dtype: (struct code, bytes per element)
    "BOOL": ("?", 1), "U8": ("B", 1), "I8": ("b", 1),
    "I16": ("h", 2), "U16": ("H", 2), "F16": ("e", 2), "BF16": (None, 2),
    "I32": ("i", 4), "U32": ("I", 4), "F32": ("f", 4),
    "I64": ("q", 8), "U64": ("Q", 8), "F64": ("d", 8),
}


def pack(dtype, values):
    if dtype == "BF16":  # the upper half of the float32 bits
        return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)
    code, _ = FORMATS[dtype]
    return struct.pack("<%d%s" % (len(values), code), *values)


def unpack(dtype, raw):
    _, size = FORMATS[dtype]
    n = len(raw) // size
    if dtype == "BF16":
        return [struct.unpack("<f", b"\0\0" + raw[2 * i:2 * i + 2])[0] for i in range(n)]
    vals = list(struct.unpack("<%d%s" % (n, FORMATS[dtype][0]), raw))
    if dtype == "BOOL":
        vals = [int(v) for v in vals]
    return vals


def write(path, tensors, meta):
    """tensors: {name: (dtype, shape, values)}. Data order: wider dtypes first, then by name."""
    order = sorted(tensors, key=lambda k: (-FORMATS[tensors[k][0]][1], k))
    header, data, offset = {}, b"", 0
    for name in order:
        dtype, shape, values = tensors[name]
        raw = pack(dtype, values)
        assert len(values) == math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header length beyond the end of the file"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        begin, stop = info["data_offsets"]
        assert begin == end, "%s: data not contiguous" % name
        assert stop - begin == math.prod(info["shape"]) * FORMATS[info["dtype"]][1], "%s: size" % name
        end = stop
    assert end == len(data), "data length"
    out = {}
    for name, info in header.items():
        begin, stop = info["data_offsets"]
        out[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": unpack(info["dtype"], data[begin:stop])}
    return {"meta": meta, "tensors": out}


def to_json(content):
    def enc(v):
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return v
    for t in content["tensors"].values():
        t["values"] = [enc(v) for v in t["values"]]
    return json.dumps(content, sort_keys=True, indent=1, ensure_ascii=False)


def f32(v):
    """v rounded to float32, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def fixtures(out):
    main = {
        "conv1.weight": ("F32", [2, 1, 3, 3], [f32((i - 9) / 7) for i in range(18)]),
        "bn.running_var": ("F32", [2], [1.0, f32(0.1)]),
        "bn.num_batches_tracked": ("I64", [], [12345678901]),
        "special": ("F32", [7], [0.0, -0.0, math.inf, -math.inf, math.nan, f32(1e-45), f32(3.4028234663852886e38)]),
        "double": ("F64", [2, 2], [math.pi, math.e, -1e300, 5e-324]),
        "empty": ("F32", [0, 3], []),
        "labels": ("I64", [3], [-1, 0, 2 ** 63 - 1]),
    }
    meta = {"tlkit.model": '{"layers":[1,2]}', "note": 'ünïcode "quoted" <tag>\n', "format": "pt"}
    write(out + "/python.safetensors", main, meta)
    dtypes = {
        "half": ("F16", [5], [1.0, -2.5, 65504.0, 2.0 ** -24, math.inf]),
        "bhalf": ("BF16", [2, 2], [1.5, -2.0, 3.140625, 1e30]),
        "i32": ("I32", [3], [-2 ** 31, 0, 2 ** 31 - 1]),
        "u32": ("U32", [1], [2 ** 32 - 1]),
        "i16": ("I16", [2], [-32768, 32767]),
        "u16": ("U16", [1], [65535]),
        "i8": ("I8", [2], [-128, 127]),
        "u8": ("U8", [2], [0, 255]),
        "u64": ("U64", [1], [2 ** 63 - 1]),
        "mask": ("BOOL", [3], [True, False, True]),
    }
    write(out + "/python_dtypes.safetensors", dtypes, {})
    for name in ("python", "python_dtypes"):
        with open("%s/%s.json" % (out, name), "w", encoding="utf-8") as f:
            f.write(to_json(read("%s/%s.safetensors" % (out, name))) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "fixtures":
        fixtures(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "read":
        print(to_json(read(sys.argv[2])))
    else:
        sys.exit(__doc__)
