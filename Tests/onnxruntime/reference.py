"""An independent forward pass of an exported ONNX graph: plain NumPy, one function per op, direct
convolution as a sum over kernel taps. It shares no code with sharesc or ONNX Runtime."""
import math

import numpy as np
from onnx import numpy_helper

erf = np.vectorize(math.erf, otypes=[np.float64])


def attributes(node) -> dict:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad_spatial(x, pad, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value)


def conv(x, w, b, strides, pads, group):
    n, c, h, width = x.shape
    out_channels, in_per_group, kh, kw = w.shape
    s = strides[0]
    x = pad_spatial(x.astype(np.float64), pads[0])
    oh = (x.shape[2] - kh) // s + 1
    ow = (x.shape[3] - kw) // s + 1
    per_group = out_channels // group
    # Channels split into groups: x as (n, group, in per group, h, w), w as (group, out per group, in per group, kh, kw).
    xs = x.reshape(n, group, in_per_group, x.shape[2], x.shape[3])
    ws = w.astype(np.float64).reshape(group, per_group, in_per_group, kh, kw)
    y = np.zeros((n, group, per_group, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xs[:, :, :, i:i + s * oh:s, j:j + s * ow:s]            # n, group, cin, oh, ow
            y += np.einsum("ngchw,goc->ngohw", patch, ws[:, :, :, i, j])
    y = y.reshape(n, out_channels, oh, ow)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def pool(x, kernel, strides, pads, reduce, pad_value):
    x = pad_spatial(x, pads[0], pad_value)
    k, s = kernel[0], strides[0]
    oh = (x.shape[2] - k) // s + 1
    ow = (x.shape[3] - k) // s + 1
    windows = [x[:, :, i:i + s * oh:s, j:j + s * ow:s] for i in range(k) for j in range(k)]
    return reduce(np.stack(windows), axis=0)


def run(model, x: np.ndarray) -> np.ndarray:
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    values[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        a = attributes(node)
        inputs = [values[name] if name else None for name in node.input]
        op = node.op_type
        if op == "Conv":
            y = conv(inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None, a.get("strides", [1, 1]),
                     a.get("pads", [0, 0, 0, 0]), a.get("group", 1))
        elif op == "BatchNormalization":
            x_, scale, shift, mean, var = inputs
            shape = (1, -1) + (1,) * (x_.ndim - 2)
            y = (x_ - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + a["epsilon"]) * scale.reshape(shape) + shift.reshape(shape)
        elif op == "Relu":
            y = np.maximum(inputs[0], 0)
        elif op == "Add":
            y = inputs[0] + inputs[1]
        elif op == "MaxPool":
            y = pool(inputs[0], a["kernel_shape"], a["strides"], a["pads"], np.max, -np.inf)
        elif op == "AveragePool":
            assert a.get("count_include_pad", 0) == 1
            y = pool(inputs[0], a["kernel_shape"], a["strides"], a["pads"], np.mean, 0.0)
        elif op == "GlobalAveragePool":
            y = inputs[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            y = inputs[0].reshape(inputs[0].shape[0], -1)
        elif op == "Gemm":
            assert a.get("transB") == 1
            y = inputs[0] @ inputs[1].T + inputs[2]
        elif op == "Mul":
            y = inputs[0] * inputs[1]
        elif op == "Div":
            y = inputs[0] / inputs[1]
        elif op == "Erf":
            y = erf(inputs[0])
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-inputs[0]))
        elif op == "Clip":
            low, high = (inputs + [None, None])[1:3]
            y = inputs[0]
            y = y if low is None else np.maximum(y, low)
            y = y if high is None else np.minimum(y, high)
        elif op == "HardSwish":
            y = inputs[0] * np.clip(inputs[0] / 6 + 0.5, 0, 1)
        elif op == "Transpose":
            y = np.transpose(inputs[0], a["perm"])
        elif op == "Unsqueeze":
            y = np.expand_dims(inputs[0], tuple(int(axis) for axis in inputs[1]))
        elif op == "LayerNormalization":
            x_, scale, shift = inputs
            axes = tuple(range(a.get("axis", -1) % x_.ndim, x_.ndim))
            mean = x_.mean(axis=axes, keepdims=True)
            variance = ((x_ - mean) ** 2).mean(axis=axes, keepdims=True)
            y = (x_ - mean) / np.sqrt(variance + a.get("epsilon", 1e-5)) * scale + shift
        elif op == "Identity":
            y = inputs[0]
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"])
        elif op == "Slice":
            data, starts, ends, axes, steps = inputs
            index = [slice(None)] * data.ndim
            for start, end, axis, step in zip(starts, ends, axes, steps):
                index[int(axis)] = slice(int(start), int(min(end, data.shape[int(axis)])), int(step))
            y = data[tuple(index)]
        elif op == "Pad":
            pads = [int(p) for p in inputs[1]]
            half = len(pads) // 2
            y = np.pad(inputs[0], list(zip(pads[:half], pads[half:])))
        else:
            raise NotImplementedError(op)
        values[node.output[0]] = y
    return values[model.graph.output[0].name]
