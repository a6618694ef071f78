"""convnetjs: the JSON `JSON.stringify(net.toJSON())` writes for a ConvNetJS 0.3.0 `Net`.

Every layer is written with the keys, in the order, its own `toJSON()` uses; weights live in
`Vol{sx, sy, depth, w}` objects whose `w` is a Float64Array, so JSON has {"0": …, "1": …}.
ConvNetJS indexes a Vol as ((sx*y)+x)*depth+d, i.e. channels-last (H, W, C) like Keras: an
image, a Conv2D kernel slice kernel[:, :, :, d] and Keras's Flatten order all map unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.converter import jsjson
from browserdl.converter.base import Format, Unsupported
from browserdl.converter.source import Layer, SourceModel

LIBRARY = "convnetjs@0.3.0"
ENTRY = "model.json"
ELEMENTWISE = ("relu", "tanh", "sigmoid")  # ConvNetJS activation layers Keras has too
# what the library's constructors default to, and so what its toJSON() writes
L1_DECAY, L2_DECAY = 0, 1

Shape = tuple[int, int, int]  # (height = sy, width = sx, depth)


def _refuse(layer: Layer, why: str) -> Unsupported:
    return Unsupported(f"layer '{layer.name}' ({layer.class_name}): {why}")


def _vol(sx: int, sy: int, depth: int, w: np.ndarray) -> dict[str, Any]:
    return {"sx": sx, "sy": sy, "depth": depth, "w": jsjson.TypedArray(w)}


def _bias(layer: Layer, n: int) -> np.ndarray:
    return layer.weights["bias"] if "bias" in layer.weights else np.zeros(n, np.float32)


def _activation(layer: Layer, shape: Shape, last: bool) -> list[dict[str, Any]]:
    act, (h, w, c) = layer.activation, shape
    if act in ELEMENTWISE:
        return [{"out_depth": c, "out_sx": w, "out_sy": h, "layer_type": act}]
    if act == "linear":
        # a final linear Dense is ConvNetJS's `regression` layer (identity forward)
        return [{"out_depth": c, "out_sx": 1, "out_sy": 1, "layer_type": "regression",
                 "num_inputs": c}] if last and layer.class_name == "Dense" else []
    if act == "softmax" and last and layer.class_name == "Dense":
        return [{"out_depth": c, "out_sx": 1, "out_sy": 1, "layer_type": "softmax", "num_inputs": c}]
    where = "only as the output layer of a Dense" if act == "softmax" else "no such activation"
    raise _refuse(layer, f"activation '{act}': ConvNetJS has {where}")


def _pad(layer: Layer, size: tuple[int, int], kernel: tuple[int, int],
         stride: int) -> tuple[int, int, int]:
    """(pad, out_h, out_w). ConvNetJS pads every side by one `pad`; Keras 'same' pads
    total // 2 before (more after when uneven). Equal only where both start the first window
    at the same place and give the same output size."""
    axes = list(zip(size, kernel, strict=True))
    if layer.config.get("padding") == "valid":
        oh, ow = ((n - k) // stride + 1 for n, k in axes)
        if min(oh, ow) < 1:
            raise _refuse(layer, f"kernel {kernel} is larger than its input {size}")
        return 0, oh, ow
    oh, ow = (math.ceil(n / stride) for n in size)
    before = {max((o - 1) * stride + k - n, 0) // 2 for (n, k), o in zip(axes, (oh, ow), strict=True)}
    pad = max(before)
    if len(before) > 1 or any((n + 2 * pad - k) // stride + 1 != o
                              for (n, k), o in zip(axes, (oh, ow), strict=True)):
        raise _refuse(layer, f"padding 'same' with kernel {kernel} and stride {stride}: Keras pads "
                             "unevenly here, ConvNetJS pads every side by the same amount")
    return pad, oh, ow


def _stride(layer: Layer) -> int:
    strides = layer.config.get("strides") or layer.config["pool_size"]
    if strides[0] != strides[1]:
        raise _refuse(layer, f"strides {tuple(strides)}: ConvNetJS has one stride for both axes")
    if layer.config.get("data_format", "channels_last") != "channels_last":
        raise _refuse(layer, "data_format 'channels_first': ConvNetJS volumes are channels-last")
    return int(strides[0])


def _conv(layer: Layer, shape: Shape) -> tuple[dict[str, Any], Shape]:
    cfg = layer.config
    if tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1) or cfg.get("groups", 1) != 1:
        raise _refuse(layer, "dilated or grouped convolution: ConvNetJS has plain convolution only")
    stride = _stride(layer)
    kernel = layer.weights["kernel"]  # (kh, kw, in, out): kernel[fy, fx, fd, d]
    kh, kw, depth, filters = kernel.shape
    pad, oh, ow = _pad(layer, shape[:2], (kh, kw), stride)
    # ConvNetJS filter d holds f.w[((kw*fy)+fx)*depth+fd]: the C-order ravel of kernel[..., d]
    rows = np.ascontiguousarray(np.moveaxis(kernel, 3, 0)).reshape(filters, -1)
    js = {"sx": kw, "sy": kh, "stride": stride, "in_depth": depth, "out_depth": filters,
          "out_sx": ow, "out_sy": oh, "layer_type": "conv", "l1_decay_mul": L1_DECAY,
          "l2_decay_mul": L2_DECAY, "pad": pad,
          "filters": [_vol(kw, kh, depth, r) for r in rows],
          "biases": _vol(1, 1, filters, _bias(layer, filters))}
    return js, (oh, ow, filters)


def _pool(layer: Layer, shape: Shape) -> tuple[dict[str, Any], Shape]:
    stride = _stride(layer)
    ph, pw = layer.config["pool_size"]
    pad, oh, ow = _pad(layer, shape[:2], (ph, pw), stride)
    js = {"sx": pw, "sy": ph, "stride": stride, "in_depth": shape[2], "out_depth": shape[2],
          "out_sx": ow, "out_sy": oh, "layer_type": "pool", "pad": pad}
    return js, (oh, ow, shape[2])


def _dense(layer: Layer, shape: Shape) -> tuple[dict[str, Any], Shape]:
    kernel = layer.weights["kernel"]  # (inputs, units)
    inputs, units = kernel.shape
    js = {"out_depth": units, "out_sx": 1, "out_sy": 1, "layer_type": "fc", "num_inputs": inputs,
          "l1_decay_mul": L1_DECAY, "l2_decay_mul": L2_DECAY,
          "filters": [_vol(1, 1, inputs, r) for r in np.ascontiguousarray(kernel.T)],
          "biases": _vol(1, 1, units, _bias(layer, units))}
    return js, (1, 1, units)


def net_json(source: SourceModel) -> tuple[dict[str, Any], list[str]]:
    """The `Net.toJSON()` object for the model, and notes on how it was mapped."""
    dims = source.input_shape
    source.refuse_branches("a ConvNetJS Net")
    if len(dims) > 3:
        raise Unsupported(f"input shape {tuple(dims)}: a ConvNetJS Net takes a volume of at most "
                          "3 axes")
    # a volume (sy, sx, depth): rank-1 and rank-2 inputs keep their C order in Vol.w
    shape: Shape = (1,) * (3 - len(dims)) + tuple(dims)  # type: ignore[assignment]
    start, flat = shape, len(dims) == 1
    notes: list[str] = []
    layers: list[dict[str, Any]] = []
    for i, layer in enumerate(source.layers):
        kind, last = layer.class_name, i == len(source.layers) - 1
        if kind in ("LSTM", "GRU", "SimpleRNN"):
            raise _refuse(layer, "ConvNetJS has no recurrent layers")
        if kind == "Flatten":
            if layer.config.get("data_format", "channels_last") != "channels_last":
                raise _refuse(layer, "channels-first flatten order: ConvNetJS volumes are channels-last")
            shape, flat = (1, 1, math.prod(shape)), True  # a no-op: fc layers read Vol.w in order
            continue
        if kind == "Dense" and not flat:
            raise _refuse(layer, "Dense on a non-flat input (applied per position): ConvNetJS fc "
                                 "layers see the whole volume")
        if kind == "Conv2D":
            js, shape = _conv(layer, shape)
        elif kind == "MaxPooling2D":
            js, shape = _pool(layer, shape)
        elif kind == "Dense":
            js, shape = _dense(layer, shape)
        else:
            raise _refuse(layer, "ConvNetJS 0.3.0 has no such layer")
        if not layers:
            h, w, c = start
            layers.append({"out_depth": c, "out_sx": w, "out_sy": h, "layer_type": "input"})
        layers.append(js)
        if layer.activation is not None:
            layers += _activation(layer, shape, last)
        if "kernel" in layer.weights and "bias" not in layer.weights:
            notes.append(f"{layer.name}: use_bias=False written as zero biases")
        if layer.activation == "tanh":
            notes.append(f"{layer.name}: ConvNetJS computes tanh as (e^2x-1)/(e^2x+1), which is NaN "
                         "for pre-activations above ~354")
    notes[:0] = [
        "ConvNetJS 0.3.0 Net.toJSON() layout: input, fc/conv/pool layers each followed by its "
        "relu/tanh/sigmoid layer, softmax (or regression for a linear output) last",
        "Vol weights w are Float64Arrays (JSON objects keyed \"0\", \"1\", …) holding the float32 "
        "Keras values exactly; numbers as JSON.stringify writes them",
        "channels-last everywhere: Conv2D kernel[:, :, :, d] → filter Vol(sx=kw, sy=kh, depth=in); "
        "Flatten has no layer (Keras's (H, W, C) order is ConvNetJS's Vol order)",
    ]
    return {"layers": layers}, notes


def _write(source: SourceModel, out_dir: Path) -> list[str]:
    net, notes = net_json(source)
    (out_dir / ENTRY).write_text(jsjson.dumps(net), encoding="utf-8")
    return notes


FORMATS = [Format("convnetjs", "convnetjs", LIBRARY, _write, entry=ENTRY)]
