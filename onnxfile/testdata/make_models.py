#!/usr/bin/python3
"""Writes the reference models for package onnxfile's tests, and what Python's onnx sees in them.

Run with Debian's /usr/bin/python3 (torch 1.13, onnx 1.12, numpy) from any directory:

    /usr/bin/python3 onnxfile/testdata/make_models.py

It writes, next to itself:
  cnn.onnx            a small CNN exported by torch.onnx (Conv, BatchNormalization, Relu, MaxPool,
                      GlobalAveragePool, Flatten, Gemm; symbolic batch dimension, raw float data)
  attributes.onnx     every supported attribute type, Constant nodes, omitted optional inputs,
                      symbolic, unknown and scalar shapes, metadata, a custom-domain operator
  dtypes.onnx         initializers of every supported element type, in typed fields and in
                      raw_data, scalars and empty tensors
  sequence.onnx       a sequence-typed graph input (kept, uninterpreted, by onnxfile)
  if_subgraph.onnx, sparse_initializer.onnx, external_data.onnx (+ external_data.bin):
                      valid ONNX that onnxfile reports as unsupported
  reference.json      for each model, what onnx.load and numpy_helper.to_array see; plus float16
                      and bfloat16 rounding tables computed by numpy and onnx.helper
  fuzz/FuzzDecode/seed-*  the models and truncations of them, as Go fuzz seed corpus entries
Every model except the unsupported ones passes onnx.checker.check_model.
"""

import json
import os
import struct

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


# ---------------------------------------------------------------------------------------------
# Models


def make_cnn():
    torch.manual_seed(0)

    class TinyCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.bn1 = torch.nn.BatchNorm2d(4)
            self.pool = torch.nn.MaxPool2d(2)
            self.conv2 = torch.nn.Conv2d(4, 4, 3, stride=2, groups=2, bias=False)
            self.fc = torch.nn.Linear(4, 3)

        def forward(self, x):
            x = self.pool(torch.relu(self.bn1(self.conv1(x))))
            x = self.conv2(x)
            x = torch.nn.functional.adaptive_avg_pool2d(x, 1)
            return self.fc(torch.flatten(x, 1))

    net = TinyCNN()
    with torch.no_grad():  # non-trivial running statistics
        net.bn1.running_mean.uniform_(-0.5, 0.5)
        net.bn1.running_var.uniform_(0.5, 1.5)
    net.eval()
    torch.onnx.export(net, torch.randn(2, 1, 8, 8), path("cnn.onnx"), opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)


def make_attributes():
    conv_w = numpy_helper.from_array(
        np.arange(2 * 1 * 3 * 3, dtype=np.float32).reshape(2, 1, 3, 3) / 8, "conv.w")
    nodes = [
        helper.make_node("Conv", ["x", "conv.w"], ["c"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[1, 1], group=1, auto_pad="NOTSET"),
        helper.make_node("LeakyRelu", ["c"], ["l"], name="leaky", alpha=0.125,
                         doc_string="LeakyRelu with a slope of 1/8"),
        helper.make_node("Constant", [], ["k_tensor"], name="const_tensor",
                         value=helper.make_tensor("k", TensorProto.FLOAT, [2, 2],
                                                  [1.5, -2.25, 3e-8, 65504.0])),
        helper.make_node("Constant", [], ["k_floats"], name="const_floats",
                         value_floats=[0.1, -1.0, 3.4028234663852886e38, 1e-45]),
        helper.make_node("Constant", [], ["k_ints"], name="const_ints",
                         value_ints=[-1, 0, 2**40, -(2**63), 2**63 - 1]),
        helper.make_node("Constant", [], ["k_float"], name="const_float", value_float=-0.0),
        helper.make_node("Constant", [], ["k_int"], name="const_int", value_int=-7),
        helper.make_node("Constant", [], ["k_string"], name="const_string",
                         value_string="héllo"),
        helper.make_node("Constant", [], ["k_strings"], name="const_strings",
                         value_strings=["a", "", "ünïcode"]),
        # An omitted optional input (min) and a node without a name.
        helper.make_node("Clip", ["l", "", "clip_max"], ["clipped"]),
        helper.make_node("Relu", ["clipped"], ["y"], name="relu"),
        helper.make_node(
            "AllKinds", ["y"], ["z"], name="custom", domain="tlkit.test",
            f=2.5, i=-3, s=b"\xff\x00bytes", t=numpy_helper.from_array(
                np.array([[1, -2, 3]], dtype=np.int64), "t_attr"),
            floats=[1.0, float("inf"), -float("inf")], ints=[5, -6], strings=[b"x", b"\x80yz"],
            tensors=[numpy_helper.from_array(np.array([1.25], dtype=np.float32), "first"),
                     helper.make_tensor("second", TensorProto.INT32, [2], [7, -8])]),
    ]
    empty = onnx.AttributeProto()
    empty.name = "empty_ints"
    empty.type = onnx.AttributeProto.INTS
    nodes[-1].attribute.append(empty)
    graph = helper.make_graph(
        nodes, "attribute_zoo",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 5, None]),
                helper.make_tensor_value_info("clip_max", TensorProto.FLOAT, [])],
        outputs=[helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 2, 5, None]),
                 helper.make_tensor_value_info("k_ints", TensorProto.INT64, [5])],
        initializer=[conv_w],
        value_info=[helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 2, 5, "W"]),
                    helper.make_tensor_value_info("l", TensorProto.FLOAT, None)],
        doc_string="a graph with every attribute type")
    model = helper.make_model(
        graph, producer_name="make_models.py", producer_version="1", domain="tlkit.test",
        model_version=3, doc_string="onnxfile test model",
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("tlkit.test", 1)])
    helper.set_model_props(model, {"author": "tlkit", "purpose": "tests"})
    return model


def make_dtypes():
    rng = np.random.default_rng(7)
    inits = []

    def add(arr, name, typed_type=None):
        # raw_data, from numpy
        inits.append(numpy_helper.from_array(arr, name + "_raw"))
        # typed fields (float_data, int32_data, ...), as onnx.helper writes them
        if typed_type is not None:
            inits.append(helper.make_tensor(name + "_typed", typed_type, arr.shape,
                                            arr.reshape(-1).tolist()))

    special = np.array([0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 1e-40], dtype=np.float32)
    add(np.concatenate([special, rng.standard_normal(16).astype(np.float32)]).reshape(2, 3, 4),
        "float32", TensorProto.FLOAT)
    add(np.array([np.pi, -1e300, 5e-324, -0.0], dtype=np.float64), "float64", TensorProto.DOUBLE)
    add(np.array([[0, -1], [2**62, -(2**63)]], dtype=np.int64), "int64", TensorProto.INT64)
    add(np.array([2**31 - 1, -(2**31), 0, -5], dtype=np.int32), "int32", TensorProto.INT32)
    add(np.array([-32768, 32767, -1], dtype=np.int16), "int16", TensorProto.INT16)
    add(np.array([-128, 127, 0, -1, 5], dtype=np.int8), "int8", TensorProto.INT8)
    add(np.array([0, 255, 128], dtype=np.uint8), "uint8", TensorProto.UINT8)
    add(np.array([0, 65535, 40000], dtype=np.uint16), "uint16", TensorProto.UINT16)
    add(np.array([0, 2**32 - 1, 3000000000], dtype=np.uint32), "uint32", TensorProto.UINT32)
    add(np.array([0, 2**64 - 1, 2**63 + 5], dtype=np.uint64), "uint64", TensorProto.UINT64)
    add(np.array([[True, False], [False, True]]), "bool", TensorProto.BOOL)
    add(np.array([0.0, -0.0, 1.0, 65504.0, -2.0**-24, 2.0**-14, np.inf, np.nan, 0.333],
                 dtype=np.float16), "float16", TensorProto.FLOAT16)
    # bfloat16: numpy has no such type; onnx.helper rounds float32 values for us.
    bf = [1.0, -3.140625, 1e30, 2.0**-130, 0.1]
    inits.append(helper.make_tensor("bfloat16_typed", TensorProto.BFLOAT16, [5], bf))
    bf_bits = [helper.float32_to_bfloat16(v) for v in bf]
    inits.append(helper.make_tensor("bfloat16_raw", TensorProto.BFLOAT16, [5],
                                    struct.pack("<5H", *bf_bits), raw=True))
    inits.append(helper.make_tensor("strings", TensorProto.STRING, [3],
                                    [b"alpha", b"", "ünïcode".encode()]))
    add(np.array(2.5, dtype=np.float32), "scalar_float", TensorProto.FLOAT)
    add(np.array(-9, dtype=np.int64), "scalar_int64", TensorProto.INT64)
    add(np.zeros((2, 0, 3), dtype=np.float32), "empty_float", TensorProto.FLOAT)
    add(np.zeros((0,), dtype=np.int64), "empty_int64", TensorProto.INT64)

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"], name="identity")], "dtypes",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["batch", 3])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["batch", 3])],
        initializer=inits)
    return helper.make_model(graph, producer_name="make_models.py",
                             opset_imports=[helper.make_opsetid("", 13)])


def make_sequence():
    seq_type = helper.make_sequence_type_proto(
        helper.make_tensor_type_proto(TensorProto.FLOAT, ["n"]))
    graph = helper.make_graph(
        [helper.make_node("SequenceLength", ["seq"], ["len"], name="length")], "sequence",
        inputs=[helper.make_value_info("seq", seq_type)],
        outputs=[helper.make_tensor_value_info("len", TensorProto.INT64, [])])
    return helper.make_model(graph, producer_name="make_models.py",
                             opset_imports=[helper.make_opsetid("", 13)])


def make_if():
    def branch(name, value):
        return helper.make_graph(
            [helper.make_node("Constant", [], [name + "_out"], value_float=value)], name, [],
            [helper.make_tensor_value_info(name + "_out", TensorProto.FLOAT, [])])

    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], name="if", then_branch=branch("then", 1.0),
                          else_branch=branch("else", 0.0))], "if_subgraph",
        inputs=[helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def make_sparse():
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), "w"),
        numpy_helper.from_array(np.array([0, 3], dtype=np.int64), "w_indices"), [4])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")], "sparse",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        sparse_initializer=[sparse])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def make_external():
    w = numpy_helper.from_array(np.arange(8, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")], "external",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [8])],
        initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.external_data_helper.convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location="external_data.bin", size_threshold=0)
    return model


# ---------------------------------------------------------------------------------------------
# What Python's onnx sees


def f32_bits(values):
    return np.asarray(values, dtype=np.float32).reshape(-1).view(np.uint32).tolist()


def dump_tensor(t):
    d = {"name": t.name, "dims": list(t.dims), "data_type": TensorProto.DataType.Name(t.data_type),
         "raw": t.HasField("raw_data"), "doc_string": t.doc_string}
    if t.data_type == TensorProto.STRING:
        d["strings_hex"] = [s.hex() for s in t.string_data]
        return d
    arr = numpy_helper.to_array(t).reshape(-1)
    if t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16):
        d["float32_bits"] = f32_bits(arr.astype(np.float32))
    elif t.data_type == TensorProto.DOUBLE:
        d["float64_bits"] = [str(v) for v in arr.view(np.uint64).tolist()]
    else:
        d["ints"] = [str(int(v)) for v in arr.tolist()]
    return d


def dump_attribute(a):
    d = {"name": a.name, "type": onnx.AttributeProto.AttributeType.Name(a.type)}
    t = a.type
    if t == onnx.AttributeProto.FLOAT:
        d["float32_bits"] = f32_bits([a.f])
    elif t == onnx.AttributeProto.INT:
        d["ints"] = [str(a.i)]
    elif t == onnx.AttributeProto.STRING:
        d["strings_hex"] = [a.s.hex()]
    elif t == onnx.AttributeProto.TENSOR:
        d["tensors"] = [dump_tensor(a.t)]
    elif t == onnx.AttributeProto.FLOATS:
        d["float32_bits"] = f32_bits(list(a.floats))
    elif t == onnx.AttributeProto.INTS:
        d["ints"] = [str(v) for v in a.ints]
    elif t == onnx.AttributeProto.STRINGS:
        d["strings_hex"] = [s.hex() for s in a.strings]
    elif t == onnx.AttributeProto.TENSORS:
        d["tensors"] = [dump_tensor(x) for x in a.tensors]
    else:
        raise ValueError("unexpected attribute type in a supported model: %s" % d["type"])
    return d


def dump_value_info(v):
    kind = v.type.WhichOneof("value")
    d = {"name": v.name, "kind": kind or "", "doc_string": v.doc_string}
    if kind == "tensor_type":
        tt = v.type.tensor_type
        d["elem_type"] = TensorProto.DataType.Name(tt.elem_type)
        d["has_shape"] = tt.HasField("shape")
        d["dims"] = [{"value": x.dim_value} if x.HasField("dim_value") else
                     {"param": x.dim_param} if x.HasField("dim_param") else {}
                     for x in tt.shape.dim]
    return d


def dump_model(m):
    g = m.graph
    return {
        "ir_version": m.ir_version,
        "opset_import": [{"domain": o.domain, "version": o.version} for o in m.opset_import],
        "producer_name": m.producer_name, "producer_version": m.producer_version,
        "domain": m.domain, "model_version": m.model_version, "doc_string": m.doc_string,
        "metadata_props": [{"key": p.key, "value": p.value} for p in m.metadata_props],
        "graph": {
            "name": g.name, "doc_string": g.doc_string,
            "nodes": [{"name": n.name, "op_type": n.op_type, "domain": n.domain,
                       "inputs": list(n.input), "outputs": list(n.output),
                       "doc_string": n.doc_string,
                       "attributes": [dump_attribute(a) for a in n.attribute]} for n in g.node],
            "initializers": [dump_tensor(t) for t in g.initializer],
            "inputs": [dump_value_info(v) for v in g.input],
            "outputs": [dump_value_info(v) for v in g.output],
            "value_info": [dump_value_info(v) for v in g.value_info],
        },
    }


def rounding_tables():
    """float32 values with their float16 (numpy) and bfloat16 (onnx.helper) roundings."""
    rng = np.random.default_rng(11)
    h = rng.integers(0, 0x7c00, 200, dtype=np.uint16)
    lo = h.view(np.float16).astype(np.float32)
    hi = (h + 1).view(np.float16).astype(np.float32)
    mid = ((lo.astype(np.float64) + hi.astype(np.float64)) / 2).astype(np.float32)  # exact ties
    near = np.nextafter(mid, np.float32(np.inf))
    scales = 10.0 ** rng.integers(-9, 6, 200)
    rand = (rng.standard_normal(200) * scales).astype(np.float32)
    edge = np.array([0.0, -0.0, 65504.0, 65519.99, 65520.0, 1e9, -1e9, 2.0**-24, 2.0**-25,
                     2.0**-25 * 1.0001, 2.0**-26, 6.0e-8, -5.96e-8, 1e-10, np.inf, -np.inf],
                    dtype=np.float32)
    f32 = np.concatenate([mid, -mid, near, rand, edge]).astype(np.float32)
    with np.errstate(over="ignore"):
        f16 = f32.astype(np.float16).view(np.uint16)
    nan_bits = np.array([0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x7fffffff],
                        dtype=np.uint32)
    nan_f16 = nan_bits.view(np.float32).astype(np.float16).view(np.uint16)
    bf_in = np.concatenate([rand, edge, mid]).astype(np.float32)
    bf = [helper.float32_to_bfloat16(float(v)) for v in bf_in]
    return {
        "checksums": rounding_checksums(),
        "float16": {"float32_bits": f32.view(np.uint32).tolist() + nan_bits.tolist(),
                    "float16_bits": f16.tolist() + nan_f16.tolist()},
        "bfloat16": {"float32_bits": bf_in.view(np.uint32).tolist(), "bfloat16_bits": bf},
    }


def golden_bits(n, offset):
    """n float32 bit patterns spread over the whole range: (i * 0x9E3779B1 + offset) mod 2^32."""
    i = np.arange(n, dtype=np.uint64)
    return ((i * 0x9E3779B1 + offset) % (1 << 32)).astype(np.uint32)


def rounding_checksums():
    """SHA-256 checksums of conversions over large input sets that the Go test regenerates:
    float16_widen: float32 bits (little-endian) of all 65536 float16 values, by numpy;
    float16_round: float16 bits of golden_bits(2^20, 0) followed by, for k in [0, 2^19), the
      float32 bits k<<13 + d for d in (0, 0xfff, 0x1000, 0x1001, 0x1fff) (every rounding tie
      and its neighbours), by numpy;
    bfloat16_round: bfloat16 bits, by onnx.helper.float32_to_bfloat16, of the non-NaN values of
      golden_bits(2^14, 12345) followed by, for k in [0, 2^16) step 7, k<<16 + d for d in
      (0x7fff, 0x8000, 0x8001)."""
    import hashlib

    def sha(a):
        return hashlib.sha256(a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest()

    widen = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    k = np.arange(1 << 19, dtype=np.uint64)[:, None] << 13
    ties = (k + np.array([0, 0xfff, 0x1000, 0x1001, 0x1fff], dtype=np.uint64)).reshape(-1)
    f32 = np.concatenate([golden_bits(1 << 20, 0), ties.astype(np.uint32)]).view(np.float32)
    with np.errstate(over="ignore"):
        f16 = f32.astype(np.float16).view(np.uint16)
    k = np.arange(0, 1 << 16, 7, dtype=np.uint64)[:, None] << 16
    bf_bits = np.concatenate([golden_bits(1 << 14, 12345), (k + np.array(
        [0x7fff, 0x8000, 0x8001], dtype=np.uint64)).reshape(-1).astype(np.uint32)])
    bf_in = bf_bits.view(np.float32)
    bf_in = bf_in[~np.isnan(bf_in)]
    bf = np.array([helper.float32_to_bfloat16(float(v)) for v in bf_in], dtype=np.uint16)
    return {"float16_widen": sha(widen.view(np.uint32)), "float16_round": sha(f16),
            "bfloat16_round": sha(bf), "bfloat16_round_count": int(len(bf))}


# ---------------------------------------------------------------------------------------------
# Go fuzz seed corpus


def go_bytes_literal(data):
    out = []
    for c in data:
        ch = chr(c)
        if ch == '"' or ch == '\\':
            out.append('\\' + ch)
        elif 0x20 <= c < 0x7f:
            out.append(ch)
        else:
            out.append('\\x%02x' % c)
    return '[]byte("' + ''.join(out) + '")'


def write_corpus(names):
    corpus = path(os.path.join("fuzz", "FuzzDecode"))
    os.makedirs(corpus, exist_ok=True)
    for f in os.listdir(corpus):
        if f.startswith("seed-"):
            os.remove(os.path.join(corpus, f))
    for name in names:
        with open(path(name), "rb") as f:
            data = f.read()
        stem = os.path.splitext(name)[0]
        cuts = {"full": len(data), "cut_third": len(data) // 3, "cut_half": len(data) // 2,
                "cut_last": len(data) - 1, "cut_17": min(17, len(data))}
        for label, n in cuts.items():
            with open(os.path.join(corpus, "seed-%s-%s" % (stem, label)), "w") as f:
                f.write("go test fuzz v1\n" + go_bytes_literal(data[:n]) + "\n")


def main():
    make_cnn()
    models = {
        "attributes.onnx": make_attributes(),
        "dtypes.onnx": make_dtypes(),
        "sequence.onnx": make_sequence(),
    }
    unsupported = {
        "if_subgraph.onnx": (make_if(), "GRAPH attribute (If branches)"),
        "sparse_initializer.onnx": (make_sparse(), "sparse initializer"),
        "external_data.onnx": (make_external(), "external data"),
    }
    for name, m in models.items():
        onnx.checker.check_model(m)
        onnx.save(m, path(name))
    if os.path.exists(path("external_data.bin")):
        os.remove(path("external_data.bin"))  # onnx.save appends to an existing data file
    for name, (m, _) in unsupported.items():
        onnx.save(m, path(name))
    ref = {"models": {}, "unsupported": {}}
    for name in ["cnn.onnx"] + list(models):
        m = onnx.load(path(name))
        onnx.checker.check_model(m)
        ref["models"][name] = dump_model(m)
    for name, (_, why) in unsupported.items():
        ref["unsupported"][name] = why
    ref["rounding"] = rounding_tables()
    with open(path("reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")
    write_corpus(["cnn.onnx", "attributes.onnx", "dtypes.onnx", "sequence.onnx",
                  "if_subgraph.onnx", "sparse_initializer.onnx", "external_data.onnx"])


if __name__ == "__main__":
    main()
