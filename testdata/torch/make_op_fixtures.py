#!/usr/bin/env python3
"""PyTorch reference fixtures for tlkit's ONNX operators (forward and backward) and its Adam optimizer.

Run from the repository root with the Debian Python that has torch 1.13 and onnx 1.12:

    /usr/bin/python3 testdata/torch/make_op_fixtures.py

Everything is float64 and deterministic: every case draws its tensors from its own torch.Generator
seeded with crc32(case name), so adding or removing a case leaves the others unchanged.

For every operator case the script
  * computes the outputs with PyTorch from the ONNX semantics of the node (opset in the case),
  * draws one random upstream gradient R_k per output k that takes part in the backward pass and
    records d(sum_k <output_k, R_k>)/d(input_i) from torch.autograd,
  * checks those gradients against a central finite difference along a random direction,
  * builds the node with onnx.helper.make_node in a one-node model, checks the attribute names and
    the input/output arity against onnx.defs.get_schema, runs onnx.checker.check_model with
    full_check (strict shape inference against the recorded output shapes) and compares the
    shapes that onnx's shape inference infers with the recorded ones.
See README.md in this directory for the file format.
"""

import json
import math
import os
import sys
import zlib

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, checker, defs, helper, shape_inference

torch.set_default_dtype(torch.float64)

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "make_op_fixtures.py"


def f32(x):
    """Round to the nearest float32, as ONNX stores float attributes (AttributeProto.f)."""
    return float(np.float32(x))


# --------------------------------------------------------------------------------------------
# Deterministic random tensors


class Rand:
    def __init__(self, name):
        self.g = torch.Generator().manual_seed(zlib.crc32(name.encode()))

    def normal(self, *shape, scale=1.0):
        return torch.randn(tuple(shape), generator=self.g, dtype=torch.float64) * scale

    def uniform(self, lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(tuple(shape), generator=self.g, dtype=torch.float64)

    def away(self, lo, hi, shape, kinks, margin=0.05):
        """Uniform in [lo, hi), each value at least `margin` from every point in `kinks`."""
        x = self.uniform(lo, hi, *shape)
        for _ in range(100):
            bad = torch.zeros(x.shape, dtype=torch.bool)
            for k in kinks:
                bad |= (x - k).abs() < margin
            if not bad.any():
                return x
            x = torch.where(bad, self.uniform(lo, hi, *shape), x)
        raise RuntimeError("could not draw values away from the kinks")

    def signed(self, lo, hi, *shape):
        """Magnitudes uniform in [lo, hi) with random signs."""
        mag = self.uniform(lo, hi, *shape)
        sign = torch.where(torch.rand(tuple(shape), generator=self.g) < 0.5, -1.0, 1.0)
        return mag * sign

    def distinct(self, *shape, lo=-2.0, hi=2.0):
        """Pairwise distinct values (gap at least (hi-lo)/(2n)) in random order: no ties in a max."""
        n = int(np.prod(shape)) if shape else 1
        perm = torch.randperm(n, generator=self.g).to(torch.float64)
        jitter = torch.rand(n, generator=self.g, dtype=torch.float64) * 0.5
        return (lo + (hi - lo) * (perm + jitter) / n).reshape(shape)

    def labels(self, n_classes, *shape):
        return torch.randint(0, n_classes, shape, generator=self.g, dtype=torch.int64)


# --------------------------------------------------------------------------------------------
# Case construction


class In:
    """One operator input. dtype: 'float64' (default), 'int64' or 'bool'; value None = absent."""

    def __init__(self, name, value=None, dtype="float64", diff=None):
        self.name = name
        self.value = value
        self.dtype = dtype
        self.diff = diff  # None: follow the ONNX schema; False: force non-differentiable

    @property
    def absent(self):
        return self.value is None


def absent():
    return In("", None)


ONNX_DTYPE = {"float64": TensorProto.DOUBLE, "int64": TensorProto.INT64, "bool": TensorProto.BOOL}


def tensor_json(t, name=None, dtype="float64"):
    t = t.detach()
    d = {}
    if name is not None:
        d["name"] = name
    d["shape"] = list(t.shape)
    if dtype == "int64":
        d["dtype"] = "int64"
        d["data"] = [int(v) for v in t.reshape(-1).tolist()]
    elif dtype == "bool":
        d["dtype"] = "bool"
        d["data"] = [1 if v else 0 for v in t.reshape(-1).tolist()]
    else:
        data = [float(v) for v in t.reshape(-1).tolist()]
        for v in data:
            if not math.isfinite(v):
                raise ValueError("non-finite value in %s" % name)
        d["data"] = data
    return d


def schema_for(op, opset):
    return defs.get_schema(op, opset)


def check_onnx(case_name, op, opset, attrs, inputs, out_names, outputs):
    """One-node model: schema attribute names and arity, checker with strict shape inference."""
    schema = schema_for(op, opset)
    unknown = set(attrs) - set(schema.attributes)
    if unknown:
        raise AssertionError("%s: attributes %s not in %s-%d schema" % (case_name, unknown, op, schema.since_version))
    n_in = len(inputs)
    if not (schema.min_input <= n_in <= schema.max_input):
        raise AssertionError("%s: %d inputs, schema allows %d..%d" % (case_name, n_in, schema.min_input, schema.max_input))
    formal = schema.inputs
    for i, x in enumerate(inputs):
        p = formal[min(i, len(formal) - 1)]
        if x.absent and p.option != defs.OpSchema.FormalParameterOption.Optional:
            raise AssertionError("%s: input %d (%s) is required" % (case_name, i, p.name))
    if not (schema.min_output <= len(out_names) <= schema.max_output):
        raise AssertionError("%s: %d outputs, schema allows %d..%d" % (case_name, len(out_names), schema.min_output, schema.max_output))

    node_inputs, graph_inputs, inits = [], [], []
    for x in inputs:
        if x.absent:
            node_inputs.append("")
            continue
        node_inputs.append(x.name)
        if x.dtype == "float64":
            graph_inputs.append(helper.make_tensor_value_info(x.name, TensorProto.DOUBLE, list(x.value.shape)))
        else:
            vals = x.value.reshape(-1).tolist()
            inits.append(helper.make_tensor(x.name, ONNX_DTYPE[x.dtype], list(x.value.shape), vals))
    node = helper.make_node(op, node_inputs, out_names, name=case_name, **attrs)
    declared = [helper.make_tensor_value_info(n, TensorProto.DOUBLE, list(o.shape)) for n, o in zip(out_names, outputs)]
    graph = helper.make_graph([node], case_name, graph_inputs, declared, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    checker.check_model(model, full_check=True)

    # Shapes inferred by onnx without the declared output shapes must equal the recorded ones.
    bare = [helper.make_tensor_value_info(n, TensorProto.DOUBLE, None) for n in out_names]
    graph2 = helper.make_graph([node], case_name, graph_inputs, bare, initializer=inits)
    model2 = helper.make_model(graph2, opset_imports=[helper.make_opsetid("", opset)])
    model2.ir_version = 8
    inferred = shape_inference.infer_shapes(model2, check_type=True, strict_mode=True)
    for vi, o in zip(inferred.graph.output, outputs):
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            raise AssertionError("%s: onnx inferred no shape for %s" % (case_name, vi.name))
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if dims != list(o.shape):
            raise AssertionError("%s: onnx infers %s for %s, torch gives %s" % (case_name, dims, vi.name, list(o.shape)))
    return model


def fd_check(case_name, fn, vals, diff_idx, outs, routs, grads, g):
    """Central finite difference of sum_k <out_k, R_k> along a random direction."""
    if not diff_idx:
        return
    dirs = {i: torch.randn(vals[i].shape, generator=g, dtype=torch.float64) for i in diff_idx}
    analytic = sum(float((grads[i] * dirs[i]).sum()) for i in diff_idx)

    def objective(h):
        shifted = list(vals)
        for i in diff_idx:
            shifted[i] = vals[i].detach() + h * dirs[i]
        with torch.no_grad():
            o = fn(*shifted)
        if not isinstance(o, tuple):
            o = (o,)
        return sum(float((ok * rk).sum()) for ok, rk in zip(o, routs) if rk is not None)

    h = 1e-6
    numeric = (objective(h) - objective(-h)) / (2 * h)
    scale = max(1.0, abs(analytic), abs(numeric))
    if abs(numeric - analytic) > 1e-6 * scale:
        raise AssertionError("%s: finite difference %.12g vs autograd %.12g" % (case_name, numeric, analytic))


def op_case(name, op, attrs, inputs, fn, opset=13, note=None, grad_outputs=None):
    """Build one operator case.

    fn(*values) -> tuple of output tensors, values[i] None for absent inputs.
    grad_outputs: list of bools, which outputs get an upstream gradient (default: all).
    """
    schema = schema_for(op, opset)
    formal = schema.inputs
    vals, diff_idx = [], []
    for i, x in enumerate(inputs):
        if x.absent:
            vals.append(None)
            continue
        p = formal[min(i, len(formal) - 1)]
        differentiable = (
            x.dtype == "float64"
            and p.differentiationCategory != defs.OpSchema.DifferentiationCategory.NonDifferentiable
            and x.diff is not False
        )
        v = x.value.clone()
        if differentiable:
            v.requires_grad_(True)
            diff_idx.append(i)
        vals.append(v)
    outs = fn(*vals)
    if not isinstance(outs, tuple):
        outs = (outs,)
    if grad_outputs is None:
        grad_outputs = [True] * len(outs)
    r = Rand(name + "/grad_outputs")
    routs = [r.normal(*o.shape) if use else None for o, use in zip(outs, grad_outputs)]
    total = sum((o * rk).sum() for o, rk in zip(outs, routs) if rk is not None)
    diff_vals = [vals[i] for i in diff_idx]
    gs = torch.autograd.grad(total, diff_vals, allow_unused=True) if diff_vals else ()
    grads = {}
    for i, gr in zip(diff_idx, gs):
        grads[i] = gr if gr is not None else torch.zeros_like(vals[i])
    fd_check(name, fn, vals, diff_idx, outs, routs, grads, r.g)

    out_names = [p.name for p in schema.outputs[: len(outs)]]
    # Output names that collide with input names would make an invalid graph.
    in_names = {x.name for x in inputs if not x.absent}
    out_names = [n + "_out" if n in in_names else n for n in out_names]
    check_onnx(name, op, opset, attrs, inputs, out_names, outs)

    c = {"name": name, "op": op, "opset": opset, "attrs": attrs}
    if note:
        c["note"] = note
    c["inputs"] = [
        {"name": "", "absent": True} if x.absent else tensor_json(x.value, x.name, x.dtype) for x in inputs
    ]
    c["outputs"] = [tensor_json(o, n) for o, n in zip(outs, out_names)]
    c["grad_outputs"] = [tensor_json(rk) if rk is not None else None for rk in routs]
    c["grads"] = [tensor_json(grads[i]) if i in grads else None for i in range(len(inputs))]
    return c


# --------------------------------------------------------------------------------------------
# Reference computations (2-D spatial, ONNX pads order [h_begin, w_begin, h_end, w_end])


def torch_pad_order(pads):
    hb, wb, he, we = pads
    return (wb, we, hb, he)


def symmetric(pads):
    return pads[0] == pads[2] and pads[1] == pads[3]


def conv_ref(strides, pads, dilations, group):
    def fn(x, w, b=None):
        if symmetric(pads):
            return F.conv2d(x, w, b, tuple(strides), (pads[0], pads[1]), tuple(dilations), group)
        xp = F.pad(x, torch_pad_order(pads))
        return F.conv2d(xp, w, b, tuple(strides), 0, tuple(dilations), group)

    return fn


def same_pads(in_hw, kernel, strides, lower):
    """Explicit ONNX pads [h_b, w_b, h_e, w_e] for auto_pad SAME_UPPER / SAME_LOWER."""
    begins, ends = [], []
    for n, k, s in zip(in_hw, kernel, strides):
        out = -(-n // s)
        total = max(0, (out - 1) * s + k - n)
        small, big = total // 2, total - total // 2
        begins.append(big if lower else small)
        ends.append(small if lower else big)
    return begins + ends


def maxpool_ref(kernel, strides, pads, dilations, ceil_mode):
    def fn(x):
        if symmetric(pads):
            return F.max_pool2d(x, tuple(kernel), tuple(strides), (pads[0], pads[1]), tuple(dilations), bool(ceil_mode))
        assert not ceil_mode
        xp = F.pad(x, torch_pad_order(pads), value=-math.inf)
        return F.max_pool2d(xp, tuple(kernel), tuple(strides), 0, tuple(dilations), False)

    return fn


def avgpool_ref(kernel, strides, pads, ceil_mode, count_include_pad):
    def fn(x):
        if symmetric(pads):
            return F.avg_pool2d(x, tuple(kernel), tuple(strides), (pads[0], pads[1]), bool(ceil_mode), bool(count_include_pad))
        assert not ceil_mode
        tp = torch_pad_order(pads)
        sums = F.avg_pool2d(F.pad(x, tp), tuple(kernel), tuple(strides), 0, False, True, divisor_override=1)
        if count_include_pad:
            return sums / (kernel[0] * kernel[1])
        ones = torch.ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype)
        counts = F.avg_pool2d(F.pad(ones, tp), tuple(kernel), tuple(strides), 0, False, True, divisor_override=1)
        return sums / counts

    return fn


# --------------------------------------------------------------------------------------------
# conv.json


def conv_cases():
    cases = []

    def add(name, xs, ws, bias, strides=None, pads=None, dilations=None, group=1, auto_pad=None,
            kernel_attr=True, note=None, omit_defaults=False):
        r = Rand(name)
        x = r.normal(*xs)
        w = r.normal(*ws, scale=1.0 / math.sqrt(ws[1] * ws[2] * ws[3]))
        b = r.normal(ws[0]) if bias else None
        kernel = list(ws[2:])
        s = strides or [1, 1]
        d = dilations or [1, 1]
        attrs = {}
        if auto_pad is not None:
            attrs["auto_pad"] = auto_pad
            if auto_pad == "VALID":
                p = [0, 0, 0, 0]
            else:
                p = same_pads(xs[2:], kernel, s, auto_pad == "SAME_LOWER")
            extra = "auto_pad %s is computed with the explicit pads %s ([h_begin, w_begin, h_end, w_end])" % (auto_pad, p)
            note = (note + "; " if note else "") + extra
        else:
            p = pads or [0, 0, 0, 0]
        if not omit_defaults:
            if strides is not None or auto_pad is None:
                attrs["strides"] = s
            if auto_pad is None:
                attrs["pads"] = p
            attrs["dilations"] = d
            attrs["group"] = group
        if kernel_attr:
            attrs["kernel_shape"] = kernel
        inputs = [In("X", x), In("W", w), In("B", b) if bias else absent()]
        cases.append(op_case(name, "Conv", attrs, inputs, conv_ref(s, p, d, group), note=note))

    add("conv_s1_p1_bias", [2, 3, 6, 7], [4, 3, 3, 3], True, [1, 1], [1, 1, 1, 1])
    add("conv_s1_p0_nobias", [2, 3, 6, 5], [5, 3, 3, 3], False, [1, 1], [0, 0, 0, 0])
    add("conv_s2_p1_d1_g2_bias", [2, 4, 7, 6], [6, 2, 3, 3], True, [2, 2], [1, 1, 1, 1], group=2)
    add("conv_s2_p0_even_input_bias", [2, 2, 8, 8], [3, 2, 3, 3], True, [2, 2], [0, 0, 0, 0],
        note="the last input row/column is not covered by any window (floor division)")
    add("conv_asym_pads_0_1_2_1_bias", [2, 3, 6, 6], [4, 3, 3, 3], True, [1, 1], [0, 1, 2, 1])
    add("conv_asym_pads_1_0_0_1_s2_nobias", [2, 2, 7, 8], [3, 2, 3, 3], False, [2, 2], [1, 0, 0, 1])
    add("conv_dilation2_p2_bias", [2, 3, 8, 8], [4, 3, 3, 3], True, [1, 1], [2, 2, 2, 2], [2, 2])
    add("conv_stride1x2_dilation2x1_bias", [2, 2, 7, 8], [3, 2, 3, 3], True, [1, 2], [2, 1, 2, 1], [2, 1])
    add("conv_g2_d2_s2_asym_pads_nobias", [2, 4, 9, 8], [4, 2, 3, 3], False, [2, 2], [2, 1, 1, 2], [2, 2], group=2)
    add("conv_depthwise_s1_p1_bias", [2, 4, 6, 6], [4, 1, 3, 3], True, [1, 1], [1, 1, 1, 1], group=4)
    add("conv_depthwise_mult2_s2_p1_nobias", [2, 3, 7, 7], [6, 1, 3, 3], False, [2, 2], [1, 1, 1, 1], group=3,
        note="depthwise with channel multiplier 2: output channel o reads input channel o // 2")
    add("conv_1x1_nobias", [2, 4, 5, 5], [6, 4, 1, 1], False, [1, 1], [0, 0, 0, 0])
    add("conv_1x1_s2_nobias", [2, 4, 6, 6], [3, 4, 1, 1], False, [2, 2], [0, 0, 0, 0],
        note="ResNet downsample shortcut")
    add("conv_7x7_s2_p3_stem_nobias", [2, 3, 9, 10], [4, 3, 7, 7], False, [2, 2], [3, 3, 3, 3],
        note="ResNet stem geometry on a small input")
    add("conv_kernel_3x1_p1x0_bias", [2, 3, 6, 5], [4, 3, 3, 1], True, [1, 1], [1, 0, 1, 0])
    add("conv_kernel_2x3_s2x1_asym_pads_bias", [2, 2, 7, 6], [3, 2, 2, 3], True, [2, 1], [0, 1, 1, 1])
    add("conv_auto_pad_same_upper_s1_bias", [2, 2, 6, 5], [3, 2, 3, 3], True, auto_pad="SAME_UPPER")
    add("conv_auto_pad_same_upper_s2_bias", [2, 2, 7, 8], [3, 2, 3, 3], True, [2, 2], auto_pad="SAME_UPPER")
    add("conv_auto_pad_same_lower_s2_bias", [2, 2, 7, 8], [3, 2, 3, 3], True, [2, 2], auto_pad="SAME_LOWER")
    add("conv_auto_pad_same_upper_k2_nobias", [2, 2, 5, 6], [3, 2, 2, 2], False, auto_pad="SAME_UPPER")
    add("conv_auto_pad_same_lower_k2_nobias", [2, 2, 5, 6], [3, 2, 2, 2], False, auto_pad="SAME_LOWER")
    add("conv_auto_pad_valid_s2_bias", [2, 2, 7, 6], [3, 2, 3, 3], True, [2, 2], auto_pad="VALID")
    add("conv_no_attrs_bias", [2, 3, 5, 5], [2, 3, 3, 3], True, omit_defaults=True, kernel_attr=False,
        note="no attributes: kernel_shape from W, strides/dilations 1, pads 0, group 1 (ONNX defaults)")
    return cases


# --------------------------------------------------------------------------------------------
# pool.json


def pool_cases():
    cases = []

    def maxpool(name, xs, kernel, strides=None, pads=None, dilations=None, ceil_mode=None, auto_pad=None, note=None):
        r = Rand(name)
        x = r.distinct(*xs)
        s = strides or [1, 1]
        attrs = {"kernel_shape": kernel}
        if strides is not None:
            attrs["strides"] = strides
        if auto_pad is not None:
            attrs["auto_pad"] = auto_pad
            p = same_pads(xs[2:], kernel, s, auto_pad == "SAME_LOWER")
            extra = "auto_pad %s is computed with the explicit pads %s" % (auto_pad, p)
            note = (note + "; " if note else "") + extra
        else:
            p = pads or [0, 0, 0, 0]
            if pads is not None:
                attrs["pads"] = pads
        if dilations is not None:
            attrs["dilations"] = dilations
        if ceil_mode is not None:
            attrs["ceil_mode"] = ceil_mode
        fn = maxpool_ref(kernel, s, p, dilations or [1, 1], ceil_mode or 0)
        cases.append(op_case(name, "MaxPool", attrs, [In("X", x)], fn, note=note))

    maxpool("maxpool_k2_s2", [2, 3, 8, 8], [2, 2], [2, 2])
    maxpool("maxpool_k3_s1_default_strides", [2, 2, 6, 7], [3, 3])
    maxpool("maxpool_k3_s2_p1_resnet_odd", [2, 3, 9, 9], [3, 3], [2, 2], [1, 1, 1, 1])
    maxpool("maxpool_k3_s2_p1_resnet_even", [2, 2, 8, 8], [3, 3], [2, 2], [1, 1, 1, 1])
    maxpool("maxpool_k3_s2_ceil0", [2, 2, 8, 8], [3, 3], [2, 2], ceil_mode=0)
    maxpool("maxpool_k3_s2_ceil1", [2, 2, 8, 8], [3, 3], [2, 2], ceil_mode=1,
            note="ceil_mode 1 gives 4x4 where floor gives 3x3; the last window hangs over the input's end")
    maxpool("maxpool_k2_s2_ceil1_odd", [2, 2, 7, 7], [2, 2], [2, 2], ceil_mode=1)
    maxpool("maxpool_k3_s2_p1_ceil1", [2, 2, 8, 8], [3, 3], [2, 2], [1, 1, 1, 1], ceil_mode=1,
            note="5x5 output: the last window starts on the last input element and extends past the end pad")
    maxpool("maxpool_k2_d2_s1", [2, 2, 7, 7], [2, 2], [1, 1], dilations=[2, 2])
    maxpool("maxpool_k3_s2_asym_pads_0_1_1_0", [2, 2, 6, 7], [3, 3], [2, 2], [0, 1, 1, 0],
            note="padded positions never win the max (they act as -inf)")
    maxpool("maxpool_k2x3_s2x1_p0x1", [2, 2, 6, 5], [2, 3], [2, 1], [0, 1, 0, 1])
    maxpool("maxpool_auto_pad_same_upper_k3_s2", [2, 2, 7, 8], [3, 3], [2, 2], auto_pad="SAME_UPPER")

    def avgpool(name, xs, kernel, strides=None, pads=None, ceil_mode=None, count_include_pad=None, auto_pad=None,
                note=None):
        r = Rand(name)
        x = r.normal(*xs)
        s = strides or [1, 1]
        attrs = {"kernel_shape": kernel}
        if strides is not None:
            attrs["strides"] = strides
        if auto_pad is not None:
            attrs["auto_pad"] = auto_pad
            p = same_pads(xs[2:], kernel, s, auto_pad == "SAME_LOWER")
            extra = "auto_pad %s is computed with the explicit pads %s" % (auto_pad, p)
            note = (note + "; " if note else "") + extra
        else:
            p = pads or [0, 0, 0, 0]
            if pads is not None:
                attrs["pads"] = pads
        if ceil_mode is not None:
            attrs["ceil_mode"] = ceil_mode
        if count_include_pad is not None:
            attrs["count_include_pad"] = count_include_pad
        fn = avgpool_ref(kernel, s, p, ceil_mode or 0, count_include_pad or 0)
        cases.append(op_case(name, "AveragePool", attrs, [In("X", x)], fn, note=note))

    avgpool("avgpool_k2_s2", [2, 3, 8, 8], [2, 2], [2, 2])
    avgpool("avgpool_k3_s1_p1_cip0", [2, 2, 6, 7], [3, 3], [1, 1], [1, 1, 1, 1], count_include_pad=0)
    avgpool("avgpool_k3_s1_p1_cip1", [2, 2, 6, 7], [3, 3], [1, 1], [1, 1, 1, 1], count_include_pad=1)
    avgpool("avgpool_k3_s2_p1_default_cip", [2, 2, 7, 7], [3, 3], [2, 2], [1, 1, 1, 1],
            note="count_include_pad omitted: ONNX default 0, padded positions are not counted")
    avgpool("avgpool_k3_s2_p1_cip1", [2, 2, 7, 7], [3, 3], [2, 2], [1, 1, 1, 1], count_include_pad=1)
    avgpool("avgpool_k2_s2_ceil1_odd", [2, 2, 7, 7], [2, 2], [2, 2], ceil_mode=1,
            note="the last row/column windows hold one input element each and divide by 1 (no pads)")
    avgpool("avgpool_k3_s2_p1_ceil1_cip0", [2, 2, 8, 8], [3, 3], [2, 2], [1, 1, 1, 1], ceil_mode=1, count_include_pad=0)
    avgpool("avgpool_k3_s2_p1_ceil1_cip1", [2, 2, 8, 8], [3, 3], [2, 2], [1, 1, 1, 1], ceil_mode=1, count_include_pad=1,
            note="PyTorch semantics: the last window (rows/cols 7..9 with input 0..7 and end pad 8) divides by "
                 "the positions inside input+pads only (2 per axis, not 3). The ONNX spec does not define the "
                 "divisor of a ceil_mode window that extends past the pads; onnxruntime 1.20 divides by the full "
                 "kernel (9) there and differs in the last row/column. tlkit follows PyTorch")
    avgpool("avgpool_k3_s2_asym_pads_1_0_0_1_cip0", [2, 2, 6, 7], [3, 3], [2, 2], [1, 0, 0, 1], count_include_pad=0)
    avgpool("avgpool_k3_s2_asym_pads_1_0_0_1_cip1", [2, 2, 6, 7], [3, 3], [2, 2], [1, 0, 0, 1], count_include_pad=1)
    avgpool("avgpool_k2x3_s1x2_p1_cip1", [2, 2, 5, 7], [2, 3], [1, 2], [1, 1, 1, 1], count_include_pad=1)
    avgpool("avgpool_auto_pad_same_upper_k3_s2_cip0", [2, 2, 7, 8], [3, 3], [2, 2], auto_pad="SAME_UPPER",
            count_include_pad=0)

    r = Rand("global_average_pool")
    cases.append(op_case("global_average_pool", "GlobalAveragePool", {}, [In("X", r.normal(2, 3, 5, 6))],
                         lambda x: x.mean(dim=(2, 3), keepdim=True)))
    r = Rand("global_average_pool_1x1")
    cases.append(op_case("global_average_pool_1x1", "GlobalAveragePool", {}, [In("X", r.normal(2, 4, 1, 1))],
                         lambda x: x.mean(dim=(2, 3), keepdim=True)))
    r = Rand("global_max_pool")
    cases.append(op_case("global_max_pool", "GlobalMaxPool", {}, [In("X", r.distinct(2, 3, 5, 6))],
                         lambda x: x.amax(dim=(2, 3), keepdim=True)))
    return cases


# --------------------------------------------------------------------------------------------
# batchnorm.json


def batchnorm_cases():
    cases = []
    stat_note = ("input_mean and input_var get no gradient (null): tlkit treats them as buffers")

    def infer(name, xs, eps=None, momentum=None, opset=13, training_mode_attr=False):
        r = Rand(name)
        c = xs[1]
        x = r.normal(*xs, scale=1.5) + 0.3
        scale, b = r.uniform(0.5, 1.5, c), r.normal(c, scale=0.5)
        mean, var = r.normal(c, scale=0.5), r.uniform(0.3, 2.0, c)
        attrs = {}
        if eps is not None:
            attrs["epsilon"] = f32(eps)
        if momentum is not None:
            attrs["momentum"] = f32(momentum)
        if training_mode_attr:
            attrs["training_mode"] = 0
        e = f32(eps if eps is not None else 1e-5)
        fn = lambda x, s, bb, m, v: F.batch_norm(x, m, v, s, bb, training=False, eps=e)
        note = "inference mode: Y = scale * (X - input_mean) / sqrt(input_var + epsilon) + B; " + stat_note
        if eps is None:
            note += "; epsilon omitted: ONNX default 1e-5 as float32 (9.999999747378752e-06) was used"
        inputs = [In("X", x), In("scale", scale), In("B", b), In("input_mean", mean, diff=False),
                  In("input_var", var, diff=False)]
        cases.append(op_case(name, "BatchNormalization", attrs, inputs, fn, opset=opset, note=note))

    infer("bn_infer_eps1e-5_4d", [2, 3, 5, 4], eps=1e-5)
    infer("bn_infer_eps1e-3_momentum_4d", [2, 4, 3, 3], eps=1e-3, momentum=0.9)
    infer("bn_infer_default_eps_4d", [3, 2, 4, 4])
    infer("bn_infer_eps1e-5_2d", [4, 3], eps=1e-5)
    infer("bn_infer_training_mode0_opset15", [2, 3, 4, 3], eps=1e-5, opset=15, training_mode_attr=True)

    def train(name, xs, eps=None, momentum=None):
        r = Rand(name)
        c = xs[1]
        x = r.normal(*xs, scale=1.5) + r.normal(c).reshape([1, c] + [1] * (len(xs) - 2))
        scale, b = r.uniform(0.5, 1.5, c), r.normal(c, scale=0.5)
        mean, var = r.normal(c, scale=0.5), r.uniform(0.3, 2.0, c)
        attrs = {"training_mode": 1}
        if eps is not None:
            attrs["epsilon"] = f32(eps)
        if momentum is not None:
            attrs["momentum"] = f32(momentum)
        e = f32(eps if eps is not None else 1e-5)
        onnx_momentum = f32(momentum if momentum is not None else 0.9)
        torch_momentum = 1.0 - onnx_momentum

        def fn(x, s, bb, m, v):
            rm, rv = m.detach().clone(), v.detach().clone()
            y = F.batch_norm(x, rm, rv, s, bb, training=True, momentum=torch_momentum, eps=e)
            return y, rm, rv

        n = xs[0] * int(np.prod(xs[2:]))
        note = ("training mode: Y uses the batch mean and the biased batch variance; running_mean = "
                "momentum * input_mean + (1 - momentum) * batch_mean; running_var = momentum * input_var + "
                "(1 - momentum) * unbiased batch variance (PyTorch; factor n/(n-1) with n = %d here). The ONNX "
                "spec text uses the biased variance for running_var; tlkit follows PyTorch. ONNX momentum %r "
                "(float32) = PyTorch momentum 1 - %r. Gradients come from Y only (running statistics have no "
                "grad_output); %s" % (n, onnx_momentum, onnx_momentum, stat_note))
        if momentum is None or eps is None:
            note += "; omitted epsilon/momentum take the ONNX defaults 1e-5 / 0.9 as float32"
        inputs = [In("X", x), In("scale", scale), In("B", b), In("input_mean", mean, diff=False),
                  In("input_var", var, diff=False)]
        cases.append(op_case(name, "BatchNormalization", attrs, inputs, fn, opset=15, note=note,
                             grad_outputs=[True, False, False]))

    train("bn_train_eps1e-5_momentum0.9_4d", [3, 4, 5, 5], eps=1e-5, momentum=0.9)
    train("bn_train_eps1e-5_momentum0.9_2d", [6, 3], eps=1e-5, momentum=0.9)
    train("bn_train_eps1e-3_momentum0.75_4d", [2, 3, 4, 4], eps=1e-3, momentum=0.75)
    train("bn_train_default_attrs_4d", [2, 2, 3, 3])
    return cases


# --------------------------------------------------------------------------------------------
# activation.json


def activation_cases():
    cases = []
    shape = [2, 3, 4, 5]

    def unary(name, op, attrs, x, fn, opset=13, note=None):
        cases.append(op_case(name, op, attrs, [In("X", x)], fn, opset=opset, note=note))

    unary("relu", "Relu", {}, Rand("relu").signed(0.01, 2.0, *shape), F.relu)
    for alpha in (0.01, 0.2):
        a = f32(alpha)
        unary("leakyrelu_alpha%g" % alpha, "LeakyRelu", {"alpha": a}, Rand("leaky%g" % alpha).signed(0.01, 2.0, *shape),
              lambda x, a=a: F.leaky_relu(x, a))
    a = f32(0.01)
    unary("leakyrelu_default_alpha", "LeakyRelu", {}, Rand("leaky_default").signed(0.01, 2.0, *shape),
          lambda x: F.leaky_relu(x, a), note="alpha omitted: ONNX default 0.01 as float32 (%r)" % a)
    unary("sigmoid", "Sigmoid", {}, Rand("sigmoid").normal(*shape, scale=2.0), torch.sigmoid)
    unary("tanh", "Tanh", {}, Rand("tanh").normal(*shape, scale=1.5), torch.tanh)
    unary("identity", "Identity", {}, Rand("identity").normal(*shape), lambda x: x * 1.0)

    # Clip (opset 13): min/max are optional scalar inputs, not differentiable in ONNX.
    def clip(name, lo, hi, xlo, xhi, note=None):
        r = Rand(name)
        kinks = [v for v in (lo, hi) if v is not None]
        x = r.away(xlo, xhi, shape, kinks)
        inputs = [In("input", x),
                  In("min", torch.tensor(float(lo))) if lo is not None else absent(),
                  In("max", torch.tensor(float(hi))) if hi is not None else absent()]
        fn = lambda x, mn=None, mx=None: torch.clamp(x, min=lo, max=hi) if kinks else x * 1.0
        cases.append(op_case(name, "Clip", {}, inputs, fn, note=note))

    clip("clip_relu6", 0.0, 6.0, -3.0, 9.0, note="ReLU6: min 0, max 6")
    clip("clip_min_only", -0.5, None, -2.0, 2.0)
    clip("clip_max_only", None, 1.0, -2.0, 3.0, note="min absent: no lower bound")
    clip("clip_no_bounds", None, None, -2.0, 2.0, note="min and max absent: identity")

    def hardsigmoid(name, alpha, beta, attrs, note=None, torch_builtin=False):
        r = Rand(name)
        a, b = f32(alpha), f32(beta)
        kinks = [(0.0 - b) / a, (1.0 - b) / a]
        x = r.away(-5.0, 5.0, shape, kinks)
        if torch_builtin:
            fn = F.hardsigmoid
        else:
            fn = lambda x: torch.clamp(a * x + b, 0.0, 1.0)
        unary(name, "HardSigmoid", attrs, x, fn, note=note)

    hardsigmoid("hardsigmoid_default_attrs", 0.2, 0.5, {},
                note="alpha/beta omitted: ONNX defaults 0.2/0.5 as float32 (alpha %r)" % f32(0.2))
    hardsigmoid("hardsigmoid_alpha0.2_beta0.5", 0.2, 0.5, {"alpha": f32(0.2), "beta": f32(0.5)})
    hardsigmoid("hardsigmoid_alpha1_6_beta0.5", 1 / 6, 0.5, {"alpha": f32(1 / 6), "beta": f32(0.5)},
                note="PyTorch's hardsigmoid slope 1/6, stored as the float32 attribute %r; the values use "
                     "exactly that alpha" % f32(1 / 6))
    r = Rand("hardsigmoid_torch_exact_check")
    xx = r.away(-5, 5, [50], [-3, 3])
    assert torch.allclose(F.hardsigmoid(xx), torch.clamp(xx / 6 + 0.5, 0, 1), rtol=0, atol=1e-15)

    unary("hardswish", "HardSwish", {}, Rand("hardswish").away(-5.0, 5.0, shape, [-3.0, 3.0]), F.hardswish, opset=14,
          note="Y = X * max(0, min(1, X/6 + 0.5)) (opset 14)")

    unary("elu_default_alpha", "Elu", {}, Rand("elu_default").signed(0.01, 3.0, *shape), F.elu,
          note="alpha omitted: ONNX default 1.0")
    a = f32(0.5)
    unary("elu_alpha0.5", "Elu", {"alpha": a}, Rand("elu0.5").signed(0.01, 3.0, *shape), lambda x, a=a: F.elu(x, a))
    # ONNX's SELU constants are float32 attributes; PyTorch's F.selu keeps them in double, so the
    # reference uses the float32 values themselves.
    sa, sg = f32(1.6732632423543772), f32(1.0507009873554805)
    unary("selu_default_attrs", "Selu", {}, Rand("selu_default").signed(0.01, 3.0, *shape),
          lambda x: sg * torch.where(x > 0, x, sa * torch.expm1(x)),
          note="alpha/gamma omitted: ONNX defaults as float32 (%r, %r)" % (sa, sg))
    unary("softplus", "Softplus", {}, Rand("softplus").normal(*shape, scale=3.0), F.softplus,
          note="log(1 + exp(x)); PyTorch's threshold (20) is never reached by these inputs")
    unary("softsign", "Softsign", {}, Rand("softsign").normal(*shape, scale=2.0), F.softsign)

    # PRelu: nn.PReLU(C) exports its slope as a [C,1,1] initializer; F.prelu's own reference.
    r = Rand("prelu_channels")
    x, slope = r.signed(0.01, 2.0, *shape), r.normal(shape[1], 1, 1, scale=0.5)
    cases.append(op_case("prelu_channels", "PRelu", {}, [In("X", x), In("slope", slope)],
                         lambda x, s: F.prelu(x, s.reshape(-1)), opset=16,
                         note="slope [C,1,1], as nn.PReLU(C) exports it; gradient for the slope too"))
    r = Rand("prelu_scalar")
    x = r.signed(0.01, 2.0, *shape)
    cases.append(op_case("prelu_single_slope", "PRelu", {}, [In("X", x), In("slope", torch.tensor([0.25], dtype=torch.float64))],
                         lambda x, s: F.prelu(x, s), opset=16, note="nn.PReLU()'s single slope, shape [1]"))

    r = Rand("dropout_inference_default")
    cases.append(op_case("dropout_inference_default", "Dropout", {}, [In("data", r.normal(*shape)), absent(), absent()],
                         lambda x, ratio=None, tm=None: x * 1.0,
                         note="ratio and training_mode absent: inference, output = data"))
    r = Rand("dropout_inference_ratio_training_false")
    cases.append(op_case("dropout_inference_ratio_training_false", "Dropout", {"seed": 7},
                         [In("data", r.normal(2, 3, 4)), In("ratio", torch.tensor(0.5)),
                          In("training_mode", torch.tensor(False), dtype="bool")],
                         lambda x, ratio, tm: x * 1.0,
                         note="training_mode given as a bool scalar false (data [0]): output = data, ratio unused"))
    return cases


# --------------------------------------------------------------------------------------------
# softmax.json


def softmax_cases():
    cases = []
    for op, f in (("Softmax", torch.softmax), ("LogSoftmax", torch.log_softmax)):
        low = op.lower()

        def add(name, shape, axis, scale=2.0, note=None):
            r = Rand(name)
            x = r.normal(*shape, scale=scale)
            attrs = {} if axis is None else {"axis": axis}
            dim = -1 if axis is None else axis
            cases.append(op_case(name, op, attrs, [In("input", x)], lambda x: f(x, dim), note=note))

        add(low + "_2d_axis1", [3, 5], 1)
        add(low + "_2d_axis-1", [4, 3], -1)
        add(low + "_2d_default_axis", [3, 4], None, note="axis omitted: opset-13 default -1")
        add(low + "_4d_axis1", [2, 3, 4, 3], 1, note="opset 13: normalizes along axis 1 only (not the flattened "
                                                     "trailing dims as opset < 13 would)")
        add(low + "_4d_axis-1", [2, 3, 2, 4], -1)
        add(low + "_4d_axis2", [2, 2, 4, 3], 2)
        add(low + "_2d_large_logits", [3, 6], 1, scale=60.0,
            note="logits up to a few hundred: a naive exp overflows float32")
    return cases


# --------------------------------------------------------------------------------------------
# binary.json


def binary_cases():
    cases = []
    fns = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}
    layouts = [
        ("same_shape", [2, 3, 4, 5], [2, 3, 4, 5]),
        ("scalar_b", [2, 3, 4, 5], []),
        ("c11_b_vs_nchw", [2, 3, 4, 5], [3, 1, 1]),
        ("1c11_b_vs_nchw", [2, 3, 4, 5], [1, 3, 1, 1]),
        ("col_a_vs_row_b", [3, 1], [1, 4]),
        ("c11_a_vs_nchw", [3, 1, 1], [2, 3, 4, 4]),
        ("trailing_1d_b", [2, 3, 4], [4]),
        ("both_broadcast", [2, 1, 4], [3, 1]),
    ]
    for op, fn in fns.items():
        for lname, sa, sb in layouts:
            name = "%s_%s" % (op.lower(), lname)
            r = Rand(name)
            a = r.normal(*sa)
            b = r.signed(0.5, 2.0, *sb) if op == "Div" else r.normal(*sb)
            note = "|B| in [0.5, 2)" if op == "Div" else None
            cases.append(op_case(name, op, {}, [In("A", a), In("B", b)], fn, note=note))
    return cases


# --------------------------------------------------------------------------------------------
# gemm.json


def gemm_cases():
    cases = []
    M, K, N = 3, 4, 5

    def gemm(name, trans_a=None, trans_b=None, alpha=None, beta=None, c_shape=(M, N), m=M, k=K, n=N, note=None):
        r = Rand(name)
        a = r.normal(*((k, m) if trans_a else (m, k)))
        b = r.normal(*((n, k) if trans_b else (k, n)))
        c = r.normal(*c_shape) if c_shape is not None else None
        attrs = {}
        if alpha is not None:
            attrs["alpha"] = f32(alpha)
        if beta is not None:
            attrs["beta"] = f32(beta)
        if trans_a is not None:
            attrs["transA"] = trans_a
        if trans_b is not None:
            attrs["transB"] = trans_b
        al = f32(alpha) if alpha is not None else 1.0
        be = f32(beta) if beta is not None else 1.0

        def fn(a, b, c=None):
            aa = a.t() if trans_a else a
            bb = b.t() if trans_b else b
            y = al * (aa @ bb)
            return y + be * c if c is not None else y

        inputs = [In("A", a), In("B", b), In("C", c) if c is not None else absent()]
        cases.append(op_case(name, "Gemm", attrs, inputs, fn, note=note))

    gemm("gemm_no_attrs_C_MN", note="alpha = beta = 1, no transposes")
    gemm("gemm_tA1_tB0_C_N", 1, 0, 0.7, 1.3, c_shape=(N,))
    gemm("gemm_tA0_tB1_C_1N", 0, 1, 0.7, 1.3, c_shape=(1, N))
    gemm("gemm_tA1_tB1_C_M1", 1, 1, 0.7, 1.3, c_shape=(M, 1))
    gemm("gemm_tA0_tB0_alpha0.7_beta-0.4_C_MN", 0, 0, 0.7, -0.4)
    gemm("gemm_C_scalar_beta2", 0, 0, None, 2.0, c_shape=())
    gemm("gemm_C_shape1", 0, 1, 1.5, 0.5, c_shape=(1,))
    gemm("gemm_no_C_alpha1.5", 0, 0, 1.5, None, c_shape=None, note="C absent: Y = alpha * A @ B")
    gemm("gemm_linear_layer_tB1", None, 1, None, None, c_shape=(4,), m=2, k=6, n=4,
         note="fully connected layer as exported by PyTorch: Y = X @ W^T + b")

    def matmul(name, sa, sb):
        r = Rand(name)
        cases.append(op_case(name, "MatMul", {}, [In("A", r.normal(*sa)), In("B", r.normal(*sb))], torch.matmul))

    matmul("matmul_2d", [3, 4], [4, 5])
    matmul("matmul_1d_2d", [4], [4, 5])
    matmul("matmul_2d_1d", [3, 4], [4])
    matmul("matmul_1d_1d", [4], [4])
    matmul("matmul_3d_batched", [2, 3, 4], [2, 4, 5])
    matmul("matmul_3d_2d_broadcast", [2, 3, 4], [4, 5])
    matmul("matmul_2d_3d_broadcast", [3, 4], [2, 4, 5])
    matmul("matmul_4d_3d_broadcast", [2, 1, 3, 4], [3, 4, 2])
    matmul("matmul_4d_4d_broadcast", [2, 3, 3, 4], [1, 3, 4, 2])
    matmul("matmul_1d_3d", [4], [2, 4, 5])
    matmul("matmul_3d_1d", [2, 3, 4], [4])
    return cases


# --------------------------------------------------------------------------------------------
# shape.json


def i64(values):
    return torch.tensor(values, dtype=torch.int64)


def shape_cases():
    cases = []
    xs = [2, 3, 2, 3]

    for axis in (0, 1, 2, -1, 4, None):
        name = "flatten_default_axis" if axis is None else "flatten_axis%d" % axis
        r = Rand(name)
        a = 1 if axis is None else axis
        k = a + len(xs) if a < 0 else a

        def fn(x, k=k):
            lead = int(np.prod(x.shape[:k])) if k > 0 else 1
            return x.reshape(lead, -1)

        cases.append(op_case(name, "Flatten", {} if axis is None else {"axis": axis}, [In("input", r.normal(*xs))], fn,
                             note="axis omitted: default 1" if axis is None else None))

    for name, shp in (("reshape_0_-1", [0, -1]), ("reshape_0_0_-1", [0, 0, -1]), ("reshape_-1_3", [-1, 3]),
                      ("reshape_explicit_3_4_3", [3, 4, 3]), ("reshape_0_-1_1", [0, -1, 1])):
        r = Rand(name)
        x = r.normal(*xs)
        target = [xs[i] if v == 0 else v for i, v in enumerate(shp)]
        cases.append(op_case(name, "Reshape", {}, [In("data", x), In("shape", i64(shp), "int64")],
                             lambda x, s, t=target: x.reshape(t),
                             note="0 copies the input dimension at that index, -1 is inferred"))

    for name, shape, perm in (("transpose_perm_0231", [2, 3, 2, 4], [0, 2, 3, 1]),
                              ("transpose_perm_3102", [2, 3, 2, 4], [3, 1, 0, 2]),
                              ("transpose_default_reverse", [2, 3, 4], None),
                              ("transpose_2d", [3, 5], [1, 0])):
        r = Rand(name)
        p = perm if perm is not None else list(range(len(shape)))[::-1]
        cases.append(op_case(name, "Transpose", {} if perm is None else {"perm": perm}, [In("data", r.normal(*shape))],
                             lambda x, p=p: x.permute(*p),
                             note="perm omitted: dimensions reversed" if perm is None else None))

    for name, shape, axes in (("squeeze_axes_1_3", [2, 1, 3, 1], [1, 3]), ("squeeze_axes_neg1", [2, 3, 1], [-1]),
                              ("squeeze_no_axes", [1, 2, 1, 3], None)):
        r = Rand(name)
        out = [d for i, d in enumerate(shape)
               if not (d == 1 and (axes is None or i in [a % len(shape) for a in axes]))]
        inputs = [In("data", r.normal(*shape)), In("axes", i64(axes), "int64") if axes is not None else absent()]
        cases.append(op_case(name, "Squeeze", {}, inputs, lambda x, a=None, o=out: x.reshape(o),
                             note="axes absent: every size-1 dimension is removed" if axes is None else None))

    for name, shape, axes in (("unsqueeze_axes_0", [2, 3], [0]), ("unsqueeze_axes_1_4", [2, 3, 4], [1, 4]),
                              ("unsqueeze_axes_neg1", [2, 3], [-1]), ("unsqueeze_axes_3_0_unsorted", [2, 3], [3, 0])):
        r = Rand(name)
        rank = len(shape) + len(axes)
        norm = sorted(a % rank for a in axes)
        out, it = [], iter(shape)
        for i in range(rank):
            out.append(1 if i in norm else next(it))
        cases.append(op_case(name, "Unsqueeze", {}, [In("data", r.normal(*shape)), In("axes", i64(axes), "int64")],
                             lambda x, a, o=out: x.reshape(o),
                             note="axes index the output; negative axes count from the output's rank"))

    for name, shapes, axis in (("concat_axis0", [[1, 3, 2, 2], [2, 3, 2, 2], [3, 3, 2, 2]], 0),
                               ("concat_axis1", [[2, 2, 3, 3], [2, 3, 3, 3], [2, 1, 3, 3]], 1),
                               ("concat_axis-1", [[2, 3, 2], [2, 3, 1], [2, 3, 4]], -1)):
        r = Rand(name)
        inputs = [In("inputs_%d" % i, r.normal(*s)) for i, s in enumerate(shapes)]
        cases.append(op_case(name, "Concat", {"axis": axis}, inputs, lambda *ts, a=axis: torch.cat(ts, a)))

    def pad(name, shape, pads, value, mode_attr, note=None):
        r = Rand(name)
        x = r.normal(*shape)
        rank = len(shape)
        tp = []
        for d in reversed(range(rank)):
            tp += [pads[d], pads[d + rank]]
        cv = value if value is not None else 0.0
        inputs = [In("data", x), In("pads", i64(pads), "int64"),
                  In("constant_value", torch.tensor(float(value))) if value is not None else absent()]
        attrs = {"mode": "constant"} if mode_attr else {}
        cases.append(op_case(name, "Pad", attrs, inputs, lambda x, p, c=None: F.pad(x, tuple(tp), value=cv),
                             note=note))

    pad("pad_constant_value_absent_4d", [2, 3, 4, 4], [0, 0, 1, 2, 0, 0, 2, 1], None, False,
        note="mode omitted (constant), constant_value absent (0); pads [x1_begin.., x1_end..]")
    pad("pad_constant_1.5_4d_channels", [2, 2, 3, 4], [0, 1, 0, 1, 0, 0, 1, 0], 1.5, True,
        note="pads the channel axis too; constant_value 1.5")
    pad("pad_constant_0_2d", [3, 4], [1, 0, 0, 2], 0.0, True)

    # reflect and edge (PyTorch's "replicate") pad the spatial axes of a 4-D input.
    for mode, tmode in (("reflect", "reflect"), ("edge", "replicate")):
        name = "pad_%s_4d" % mode
        r = Rand(name)
        pads = [0, 0, 1, 3, 0, 0, 2, 1]
        inputs = [In("data", r.normal(2, 3, 4, 5)), In("pads", i64(pads), "int64")]
        cases.append(op_case(name, "Pad", {"mode": mode}, inputs,
                             lambda x, p, tm=tmode: F.pad(x, (3, 1, 1, 2), mode=tm),
                             note="mode %s = F.pad mode %r; H pads 1/2, W pads 3/1; the gradient adds the "
                                  "copies back" % (mode, tmode)))
    return cases


# --------------------------------------------------------------------------------------------
# loss.json


def loss_cases():
    cases = []

    def sce(name, scores_shape, reduction, weights=False, ignore_index=None, log_prob=False, reduction_attr=True,
            note=None):
        r = Rand(name)
        n, c = scores_shape[0], scores_shape[1]
        scores = r.normal(*scores_shape, scale=1.5)
        labels = r.labels(c, n, *scores_shape[2:])
        if ignore_index is not None:
            flat = labels.reshape(-1)
            flat[1] = ignore_index
            flat[-1] = ignore_index
        w = r.uniform(0.5, 2.0, c) if weights else None
        attrs = {}
        if reduction_attr:
            attrs["reduction"] = reduction
        if ignore_index is not None:
            attrs["ignore_index"] = ignore_index
        ii = ignore_index if ignore_index is not None else -100

        def fn(s, lab, wt=None):
            loss = F.cross_entropy(s, lab, weight=wt, ignore_index=ii, reduction=reduction)
            if log_prob:
                return loss, F.log_softmax(s, dim=1)
            return loss

        inputs = [In("scores", scores), In("labels", labels, "int64"), In("weights", w) if weights else absent()]
        gos = [True, False] if log_prob else None
        cases.append(op_case(name, "SoftmaxCrossEntropyLoss", attrs, inputs, fn, note=note, grad_outputs=gos))

    sce("sce_mean", [4, 5], "mean", note="output = F.cross_entropy(scores, labels), scalar")
    sce("sce_sum", [4, 5], "sum")
    sce("sce_none", [4, 5], "none", note="per-sample losses, shape [N]")
    sce("sce_default_reduction", [3, 4], "mean", reduction_attr=False, note="reduction omitted: default mean")
    sce("sce_mean_weights", [5, 4], "mean", weights=True,
        note="weighted mean: sum_i w[y_i] * l_i / sum_i w[y_i]; weights get no gradient (ONNX: non-differentiable)")
    sce("sce_mean_ignore_index-1", [5, 4], "mean", ignore_index=-1,
        note="two samples carry label -1 = ignore_index: zero loss and excluded from the mean's count")
    sce("sce_sum_weights_ignore_index2", [6, 4], "sum", weights=True, ignore_index=2,
        note="class 2 is ignored wherever it is the label")
    sce("sce_mean_spatial_4d", [2, 3, 4, 4], "mean", note="scores [N,C,H,W], labels [N,H,W]: mean over N*H*W")
    sce("sce_none_spatial_3d", [2, 3, 5], "none", note="scores [N,C,D], labels [N,D]; output [N,D]")
    sce("sce_mean_with_log_prob", [4, 5], "mean", log_prob=True,
        note="second output log_prob = log_softmax(scores, axis 1); it has no grad_output (null), so the grads "
             "are those of the loss output alone")
    return cases


# --------------------------------------------------------------------------------------------
# adam.json


def adam_reference(params, grads, lr, betas, eps, wd, decoupled):
    """Adam as written in torch 1.13's single-tensor code path, in numpy (self-check)."""
    b1, b2 = betas
    p = [np.array(x, dtype=np.float64) for x in params]
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    out = []
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            g = np.array(g, dtype=np.float64)
            if decoupled:
                p[i] = p[i] * (1 - lr * wd)
            elif wd:
                g = g + wd * p[i]
            m[i] = m[i] * b1 + (1 - b1) * g
            v[i] = v[i] * b2 + (1 - b2) * g * g
            denom = np.sqrt(v[i]) / math.sqrt(1 - b2 ** t) + eps
            p[i] = p[i] - (lr / (1 - b1 ** t)) * m[i] / denom
        out.append([x.copy() for x in p])
    return out


def adam_cases():
    cases = []
    shapes = [[3, 4], [4], [2, 2, 3]]

    def adam(name, lr, betas=(0.9, 0.999), eps=1e-8, wd=0.0, decoupled=False, steps=5):
        r = Rand(name)
        init = [r.normal(*s) for s in shapes]
        scales = [1.0, 0.5, 2.0, 0.1, 1.0]
        grads = [[r.normal(*s, scale=scales[t % len(scales)]) for s in shapes] for t in range(steps)]
        params = [p.clone().requires_grad_(True) for p in init]
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        opt = cls(params, lr=lr, betas=betas, eps=eps, weight_decay=wd, amsgrad=False, foreach=False, maximize=False)
        after = []
        for gs in grads:
            opt.zero_grad()
            for p, g in zip(params, gs):
                p.grad = g.clone()
            opt.step()
            after.append([p.detach().clone() for p in params])
        ref = adam_reference([p.numpy() for p in init], [[g.numpy() for g in gs] for gs in grads], lr, betas, eps, wd,
                             decoupled)
        for step_t, step_r in zip(after, ref):
            for a, b in zip(step_t, step_r):
                if not np.allclose(a.numpy(), b, rtol=1e-14, atol=1e-15):
                    raise AssertionError("%s: torch and the written-out update rule disagree" % name)
        kind = "torch.optim.AdamW (decoupled: p *= 1 - lr*weight_decay before the Adam step)" if decoupled else \
            "torch.optim.Adam" + (" (coupled L2: grad += weight_decay * p before the moments)" if wd else "")
        cases.append({
            "name": name,
            "op": "Adam",
            "note": kind + "; amsgrad off; per step t: m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g^2, "
                           "p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)",
            "hparams": {"lr": lr, "betas": list(betas), "eps": eps, "weight_decay": wd, "decoupled": decoupled,
                        "amsgrad": False},
            "params": [tensor_json(p) for p in init],
            "grads": [[tensor_json(g) for g in gs] for gs in grads],
            "after": [[tensor_json(p) for p in ps] for ps in after],
        })

    adam("adam_lr1e-3", 1e-3)
    adam("adam_lr1e-4", 1e-4)
    adam("adam_lr1e-3_weight_decay0.01_coupled", 1e-3, wd=0.01)
    adam("adamw_lr1e-3_weight_decay0.01", 1e-3, wd=0.01, decoupled=True)
    adam("adam_lr1e-2_betas0.8_0.99_eps1e-6", 1e-2, betas=(0.8, 0.99), eps=1e-6)
    adam("adamw_lr1e-2_weight_decay0.1_betas0.85_0.995", 1e-2, betas=(0.85, 0.995), wd=0.1, decoupled=True)
    return cases


# --------------------------------------------------------------------------------------------


def write(fname, cases):
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        raise AssertionError("%s: duplicate case names" % fname)
    head = {"generator": GENERATOR, "torch": torch.__version__, "onnx": onnx.__version__, "dtype": "float64"}
    lines = [json.dumps(head, allow_nan=False)[:-1] + ', "cases": [']
    for i, c in enumerate(cases):
        lines.append(json.dumps(c, allow_nan=False) + ("," if i + 1 < len(cases) else ""))
    lines.append("]}")
    path = os.path.join(OUT_DIR, fname)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    json.load(open(path))  # well-formed
    print("%-16s %3d cases %8d bytes" % (fname, len(cases), os.path.getsize(path)))


# --------------------------------------------------------------------------------------------
# reduce.json

def reduce_cases():
    cases = []
    r = Rand("reduce_mean_spatial")
    cases.append(op_case("reduce_mean_spatial_keepdims0", "ReduceMean", {"axes": [2, 3], "keepdims": 0},
                         [In("data", r.normal(2, 3, 4, 5))], lambda x: x.mean(dim=(2, 3)),
                         note="ShuffleNetV2's global pooling: mean over H, W (opset 13: axes an attribute)"))
    r = Rand("reduce_mean_default")
    cases.append(op_case("reduce_mean_default_axes", "ReduceMean", {},
                         [In("data", r.normal(2, 3, 4))], lambda x: x.mean().reshape(1, 1, 1),
                         note="axes omitted: every axis, keepdims default 1"))
    r = Rand("reduce_sum_channels")
    cases.append(op_case("reduce_sum_channels_keepdims", "ReduceSum", {"keepdims": 1},
                         [In("data", r.normal(2, 3, 4, 5)), In("axes", torch.tensor([1]), dtype="int64")],
                         lambda x, axes: x.sum(dim=1, keepdim=True),
                         note="opset 13: axes a constant input"))
    r = Rand("reduce_sum_negative")
    cases.append(op_case("reduce_sum_negative_axes_keepdims0", "ReduceSum", {"keepdims": 0},
                         [In("data", r.normal(2, 3, 4)), In("axes", torch.tensor([-1, 0]), dtype="int64")],
                         lambda x, axes: x.sum(dim=(0, 2))))
    return cases


def main():
    families = [
        ("conv.json", conv_cases),
        ("pool.json", pool_cases),
        ("batchnorm.json", batchnorm_cases),
        ("activation.json", activation_cases),
        ("softmax.json", softmax_cases),
        ("binary.json", binary_cases),
        ("gemm.json", gemm_cases),
        ("shape.json", shape_cases),
        ("reduce.json", reduce_cases),
        ("loss.json", loss_cases),
        ("adam.json", adam_cases),
    ]
    only = set(sys.argv[1:])
    for fname, make in families:
        if only and fname not in only:
            continue
        write(fname, make())


if __name__ == "__main__":
    main()
