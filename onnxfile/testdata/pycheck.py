#!/usr/bin/python3
"""Python's onnx as the judge of package onnxfile's output; the Go tests run it with /usr/bin/python3.

  pycheck.py roundtrip   stdin: lines "ORIGINAL<TAB>REWRITTEN", model paths. For each pair,
                         onnx.checker.check_model must accept REWRITTEN (when it accepts ORIGINAL)
                         and onnx.load must see the same model in both, after both are put in a
                         canonical form that forgets what onnxfile documents it changes: tensor
                         data moved from typed fields to raw_data, empty optional strings, and the
                         annotations it drops (attribute doc strings, denotations, quantization
                         annotations). Prints a JSON list of {"model", "checked", "error"}.
  pycheck.py kinds       stdin: model paths. Prints JSON {path: {"inputs": [...], "outputs": [...]}}
                         describing the graph inputs that are not initializers and the outputs, in
                         order (the order of a test's input_K.pb and output_K.pb files), each as
                         {"name", "kind", "elem_type", "dims"}; dims is null for an unknown
                         shape and -1 stands for a symbolic or unknown dimension.
"""

import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from onnx.onnx_ml_pb2 import AttributeProto, TensorShapeProto, TypeProto


def canon_tensor(t):
    if t.data_type == TensorProto.STRING:
        return
    arr = numpy_helper.to_array(t)
    if t.data_type == TensorProto.BFLOAT16:
        raw = (arr.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    else:
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    for f in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
        t.ClearField(f)
    t.raw_data = raw


def canon_message(msg):
    if isinstance(msg, TensorProto):
        canon_tensor(msg)
    if isinstance(msg, AttributeProto):
        msg.ClearField("doc_string")
    if isinstance(msg, TypeProto):
        msg.ClearField("denotation")
    if isinstance(msg, TensorShapeProto.Dimension):
        msg.ClearField("denotation")
        if msg.HasField("dim_value") and msg.dim_value < 0:
            msg.ClearField("dim_value")
    if isinstance(msg, onnx.GraphProto):
        msg.ClearField("quantization_annotation")
    for field, value in msg.ListFields():
        if field.type == field.TYPE_MESSAGE:
            for v in (value if field.label == field.LABEL_REPEATED else [value]):
                canon_message(v)
        elif field.label != field.LABEL_REPEATED and field.type in (field.TYPE_STRING, field.TYPE_BYTES):
            if value in ("", b""):
                msg.ClearField(field.name)
    if isinstance(msg, onnx.ModelProto) and msg.model_version == 0:
        msg.ClearField("model_version")


def checks(model):
    try:
        onnx.checker.check_model(model)
        return True
    except onnx.checker.ValidationError:
        return False


def roundtrip(lines):
    results = []
    for line in lines:
        orig_path, new_path = line.rstrip("\n").split("\t")
        orig, new = onnx.load(orig_path), onnx.load(new_path)
        res = {"model": orig_path, "checked": False, "error": ""}
        if checks(orig):
            res["checked"] = True
            try:
                onnx.checker.check_model(new)
            except onnx.checker.ValidationError as e:
                res["error"] = "check_model rejects the rewritten model: %s" % e
        canon_message(orig)
        canon_message(new)
        if not res["error"] and orig != new:
            for name in ("ir_version", "opset_import", "producer_name", "producer_version", "domain",
                         "model_version", "doc_string", "metadata_props"):
                if getattr(orig, name) != getattr(new, name):
                    res["error"] = "model.%s differs: %r vs %r" % (name, getattr(orig, name), getattr(new, name))
            for name in ("node", "initializer", "input", "output", "value_info"):
                a, b = getattr(orig.graph, name), getattr(new.graph, name)
                if len(a) != len(b):
                    res["error"] = "graph.%s: %d entries, rewritten %d" % (name, len(a), len(b))
                for i, (x, y) in enumerate(zip(a, b)):
                    if x != y and not res["error"]:
                        res["error"] = "graph.%s[%d] differs:\n%s\nrewritten:\n%s" % (name, i, x, y)
            if not res["error"]:
                res["error"] = "the models differ"
        results.append(res)
    json.dump(results, sys.stdout)


def describe(v):
    kind = v.type.WhichOneof("value") or ""
    d = {"name": v.name, "kind": kind, "elem_type": 0, "dims": None}
    if kind == "tensor_type":
        tt = v.type.tensor_type
        d["elem_type"] = tt.elem_type
        if tt.HasField("shape"):
            d["dims"] = [x.dim_value if x.HasField("dim_value") else -1 for x in tt.shape.dim]
    return d


def kinds(lines):
    out = {}
    for line in lines:
        p = line.rstrip("\n")
        g = onnx.load(p).graph
        inits = {t.name for t in g.initializer}
        out[p] = {"inputs": [describe(v) for v in g.input if v.name not in inits],
                  "outputs": [describe(v) for v in g.output]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    {"roundtrip": roundtrip, "kinds": kinds}[sys.argv[1]](sys.stdin.readlines())
