#!/usr/bin/python3
"""Builds the small ONNX models that package ort's tests run through ONNX Runtime, and their reference outputs.

The models are written with onnx's helper API; the expected outputs come from PyTorch (and numpy for the
gather), an implementation independent of ONNX Runtime. Everything lands next to this script:
  conv_relu_gemm.onnx  image[batch,3,8,8] -> Conv(3->4, 3x3, stride 2, pad 1) -> Relu -> Flatten -> Gemm -> logits[batch,5]
  softmax_argmax.onnx  scores[batch,6], temperature[batch,1] -> probs = Softmax(scores / temperature),
                       best = ArgMax(scores) (int64): two inputs, two outputs
  embedding.onnx       ids[batch,tokens] (int64) -> Gather(table[10,4]) -> vectors[batch,tokens,4]
  no_inputs.onnx       a Constant with no graph inputs, which package ort rejects
  reference.json       each model's declared inputs/outputs and, per case, its inputs and expected outputs
Run with Debian's Python (torch 1.13, onnx 1.12): /usr/bin/python3 ort/testdata/make_models.py
"""
import json
import os

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
rng = np.random.RandomState(20240611)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def save(graph, filename):
    model = helper.make_model(graph, producer_name="tlkit ort/testdata/make_models.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(HERE, filename))
    return model


def io_info(values):
    """The declared name, element type and shape (-1 for a symbolic dim) of graph inputs or outputs."""
    out = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        out.append({"name": v.name, "type": TensorProto.DataType.Name(t.elem_type).lower(), "shape": dims})
    return out


def tensor_json(a):
    a = np.asarray(a)
    if a.dtype == np.float32:
        data = [float(x) for x in a.ravel()]
    elif a.dtype == np.int64:
        data = [int(x) for x in a.ravel()]
    else:
        raise TypeError(a.dtype)
    return {"shape": list(a.shape), "data": data}


def conv_relu_gemm():
    w1, b1 = f32(4, 3, 3, 3, scale=0.5), f32(4, scale=0.1)
    w2, b2 = f32(5, 64, scale=0.2), f32(5, scale=0.1)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "conv.weight", "conv.bias"], ["conv"],
                             kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"]),
            helper.make_node("Flatten", ["relu"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], transB=1),
        ],
        "conv_relu_gemm",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5])],
        initializer=[numpy_helper.from_array(w1, "conv.weight"), numpy_helper.from_array(b1, "conv.bias"),
                     numpy_helper.from_array(w2, "fc.weight"), numpy_helper.from_array(b2, "fc.bias")],
    )
    model = save(graph, "conv_relu_gemm.onnx")
    cases = []
    for batch in (1, 5):
        x = f32(batch, 3, 8, 8)
        with torch.no_grad():
            h = F.relu(F.conv2d(torch.from_numpy(x), torch.from_numpy(w1), torch.from_numpy(b1), stride=2, padding=1))
            y = F.linear(torch.flatten(h, 1), torch.from_numpy(w2), torch.from_numpy(b2)).numpy()
        cases.append({"batch": batch, "inputs": {"image": tensor_json(x)}, "outputs": {"logits": tensor_json(y)}})
    return model, cases


def softmax_argmax():
    graph = helper.make_graph(
        [
            helper.make_node("Div", ["scores", "temperature"], ["scaled"]),
            helper.make_node("Softmax", ["scaled"], ["probs"], axis=-1),
            helper.make_node("ArgMax", ["scores"], ["best"], axis=1, keepdims=0),
        ],
        "softmax_argmax",
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 6]),
         helper.make_tensor_value_info("temperature", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 6]),
         helper.make_tensor_value_info("best", TensorProto.INT64, ["batch"])],
    )
    model = save(graph, "softmax_argmax.onnx")
    cases = []
    for batch in (1, 5):
        x = f32(batch, 6, scale=2.0)
        temp = rng.uniform(0.5, 2.0, size=(batch, 1)).astype(np.float32)
        t = torch.from_numpy(x)
        probs = torch.softmax(t / torch.from_numpy(temp), dim=-1).numpy()
        best = torch.argmax(t, dim=1).numpy().astype(np.int64)
        cases.append({"batch": batch, "inputs": {"scores": tensor_json(x), "temperature": tensor_json(temp)},
                      "outputs": {"probs": tensor_json(probs), "best": tensor_json(best)}})
    return model, cases


def embedding():
    table = f32(10, 4)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["vectors"], axis=0)],
        "embedding",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("vectors", TensorProto.FLOAT, ["batch", "tokens", 4])],
        initializer=[numpy_helper.from_array(table, "table")],
    )
    model = save(graph, "embedding.onnx")
    cases = []
    for batch, tokens in ((1, 3), (5, 2)):
        ids = rng.randint(0, 10, size=(batch, tokens)).astype(np.int64)
        vectors = table[ids]
        cases.append({"batch": batch, "inputs": {"ids": tensor_json(ids)}, "outputs": {"vectors": tensor_json(vectors)}})
    return model, cases


def no_inputs():
    """A model that package ort must refuse (it needs at least one input), not crash on."""
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["answer"], value=numpy_helper.from_array(np.array([42.0], np.float32)))],
        "no_inputs", [], [helper.make_tensor_value_info("answer", TensorProto.FLOAT, [1])])
    save(graph, "no_inputs.onnx")


def main():
    no_inputs()
    reference = {"generator": "ort/testdata/make_models.py", "torch": torch.__version__, "onnx": onnx.__version__,
                 "models": {}}
    for build in (conv_relu_gemm, softmax_argmax, embedding):
        model, cases = build()
        reference["models"][model.graph.name + ".onnx"] = {
            "inputs": io_info(model.graph.input),
            "outputs": io_info(model.graph.output),
            "cases": cases,
        }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
