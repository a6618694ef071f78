"""webdnn-<backend>: WebDNN 1.2.11 graph descriptors, written by the PyPI `webdnn` transpiler.

WebDNN's own Keras frontend needs TensorFlow 1.x, so the graph IR is built here from the
model's weights (`SourceModel`), layer by layer, the way that frontend maps each Keras layer;
`webdnn.backend.generate_descriptor` then optimizes it and writes the backend's files:

- fallback:    graph_fallback.json + kernels_fallback.js + weight_fallback.bin
- webgl:       graph_webgl_4096.json + weight_webgl_4096.bin (the shaders are in the JSON)
- webassembly: graph_webassembly.json + kernels_webassembly.js/.wasm + weight_webassembly.bin
               (em++ compiles the generated C++ at conversion time)

The `-8bit` variants store the weights with WebDNN's `eightbit` encoding (a 7-bit log table
and a sign bit per value, a scale per tensor, zlib-compressed); the runtime expands them to
float32 at load.
"""

from __future__ import annotations

import math
import subprocess
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from browserdl.converter import webdnn_compat
from browserdl.converter.base import Format, Unsupported
from browserdl.converter.source import Layer, SourceModel
from browserdl.errors import UserError

LIBRARY = "webdnn@1.2.11"
# The only texture size webdnn.js 1.2.11 ever asks for (WebGLHandler.MAX_TEXTURE_SIZE returns
# 4096 whatever the GPU allows); the transpiler also writes 8192 and 16384 variants.
WEBGL_TEXTURE = 4096
ACTIVATIONS = ("relu", "softmax", "tanh", "sigmoid", "linear")
# WebDNN has LSTM kernels for webassembly and webgpu only.
LSTM_BACKENDS = ("webassembly",)


def _ops() -> SimpleNamespace:
    """The webdnn names this module uses, imported once through the compatibility shims."""
    webdnn_compat.load()
    from webdnn.graph import order
    from webdnn.graph.axis import Axis
    from webdnn.graph.graph import Graph
    from webdnn.graph.operators.convolution2d import Convolution2D
    from webdnn.graph.operators.lstm import LSTM
    from webdnn.graph.operators.max_pooling_2d import MaxPooling2D
    from webdnn.graph.operators.relu import Relu
    from webdnn.graph.operators.sigmoid import Sigmoid
    from webdnn.graph.operators.softmax import Softmax
    from webdnn.graph.operators.tanh import Tanh
    from webdnn.graph.operators.tensordot import Tensordot
    from webdnn.graph.variable import Variable
    from webdnn.graph.variables.attributes.input import Input
    from webdnn.graph.variables.attributes.output import Output
    from webdnn.graph.variables.constant_variable import ConstantVariable

    return SimpleNamespace(
        order=order, Axis=Axis, Graph=Graph, Convolution2D=Convolution2D, LSTM=LSTM,
        MaxPooling2D=MaxPooling2D, Relu=Relu, Sigmoid=Sigmoid, Softmax=Softmax, Tanh=Tanh,
        Tensordot=Tensordot, Variable=Variable, Input=Input, Output=Output,
        ConstantVariable=ConstantVariable)


def _refuse(layer: Layer, why: str) -> Unsupported:
    return Unsupported(f"layer '{layer.name}' ({layer.class_name}): {why}")


def _same_padding(layer: Layer, size: int, k: int, s: int) -> int:
    """TensorFlow's 'same' padding for one spatial axis; WebDNN pads both sides equally."""
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    if total % 2:
        raise _refuse(layer, f"'same' padding of {total} is uneven (TensorFlow pads one more at the "
                             "end); WebDNN pads both sides equally")
    return total // 2


class _Builder:
    """SourceModel → WebDNN IR graph with a batch of 1, refusing what it can't map exactly."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.w = _ops()

    def activation(self, layer: Layer, x: Any, name: str | None) -> Any:
        w = self.w
        if name in (None, "linear"):
            return x
        if name == "relu":
            return w.Relu(None)(x)[0]
        if name == "tanh":
            return w.Tanh(None)(x)[0]
        if name == "sigmoid":
            return w.Sigmoid(None)(x)[0]
        if name == "softmax":
            return w.Softmax(None, axis=x.order.axes[-1])(x)[0]
        raise _refuse(layer, f"activation '{name}' (WebDNN here maps {', '.join(ACTIVATIONS)})")

    def constant(self, data: np.ndarray, order: Any) -> Any:
        return self.w.ConstantVariable(np.ascontiguousarray(data, dtype=np.float32), order)

    def dense(self, layer: Layer, x: Any) -> Any:
        order = self.w.order
        kernel = self.constant(layer.weights["kernel"], order.Order([None, None]))
        y, = self.w.Tensordot(None, axes=[x.order.axes[-1], kernel.order.axes[0]])(x, kernel)
        if layer.config.get("use_bias", True):
            bias = self.constant(layer.weights["bias"], order.Order([None]))
            bias.order.axes[0].unify(kernel.order.axes[1])
            y = y + bias
        return self.activation(layer, y, layer.activation)

    def conv2d(self, layer: Layer, x: Any) -> Any:
        cfg, axis = layer.config, self.w.Axis
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise _refuse(layer, f"data_format '{cfg['data_format']}' (only channels_last)")
        if tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1) or cfg.get("groups", 1) != 1:
            raise _refuse(layer, "dilated or grouped convolution")
        kh, kw = cfg["kernel_size"]
        sh, sw = cfg["strides"]
        padding = (0, 0)
        if cfg["padding"] == "same":
            padding = (_same_padding(layer, x.shape_dict[axis.H], kh, sh),
                       _same_padding(layer, x.shape_dict[axis.W], kw, sw))
        elif cfg["padding"] != "valid":
            raise _refuse(layer, f"padding '{cfg['padding']}'")
        # Keras kernels are (KH, KW, C_in, C_out): WebDNN calls the output channels N.
        kernel = self.constant(layer.weights["kernel"],
                               self.w.order.Order([axis.KH, axis.KW, axis.C, axis.N]))
        y, = self.w.Convolution2D(None, ksize=(kh, kw), stride=(sh, sw), padding=padding)(x, kernel)
        if cfg.get("use_bias", True):
            y = y + self.constant(layer.weights["bias"], self.w.order.OrderC)
        return self.activation(layer, y, layer.activation)

    def max_pool(self, layer: Layer, x: Any) -> Any:
        cfg, axis = layer.config, self.w.Axis
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise _refuse(layer, f"data_format '{cfg['data_format']}' (only channels_last)")
        (kh, kw), (sh, sw) = cfg["pool_size"], cfg["strides"] or cfg["pool_size"]
        if cfg["padding"] == "same":
            padding = (_same_padding(layer, x.shape_dict[axis.H], kh, sh),
                       _same_padding(layer, x.shape_dict[axis.W], kw, sw))
            if padding != (0, 0):  # Keras ignores padded cells; WebDNN would compare with them
                raise _refuse(layer, "'same' pooling that needs padding")
        elif cfg["padding"] != "valid":
            raise _refuse(layer, f"padding '{cfg['padding']}'")
        # cover_all=False: Keras drops a partial window at the edge (floor), as Chainer's False does.
        return self.w.MaxPooling2D(None, ksize=(kh, kw), stride=(sh, sw), padding=(0, 0),
                                   cover_all=False)(x)[0]

    def flatten(self, layer: Layer, x: Any) -> Any:
        # Keras flattens channels-last (H, W, C) row-major: reshape the NHWC variable as it lies;
        # WebDNN inserts a transpose itself if an optimizer later stores it in another order.
        size = int(np.prod([int(s) for s in x.shape[1:]]))
        return x.reshape([x.shape[0], size], self.w.order.OrderNC)

    def lstm(self, layer: Layer, x: Any) -> Any:
        cfg = layer.config
        if self.backend not in LSTM_BACKENDS:
            raise _refuse(layer, f"WebDNN 1.2.11 has no LSTM kernel for the {self.backend} backend "
                                 "(webassembly and webgpu only)")
        for flag in ("go_backwards", "stateful", "return_state"):
            if cfg.get(flag):
                raise _refuse(layer, f"{flag}=True")
        if cfg.get("activation", "tanh") != "tanh":
            raise _refuse(layer, f"activation '{cfg['activation']}' (WebDNN's LSTM has tanh only)")
        recurrent = cfg.get("recurrent_activation", "sigmoid")
        if recurrent not in ("sigmoid", "hard_sigmoid"):
            raise _refuse(layer, f"recurrent_activation '{recurrent}' (sigmoid or hard_sigmoid)")
        order = self.w.order
        x.order.unify(order.OrderNTC)
        use_bias = bool(cfg.get("use_bias", True))
        # Keras' gate order (i, f, c, o) is the one WebDNN's kernel reads.
        w_in = self.constant(layer.weights["kernel"], order.OrderCN)
        w_rec = self.constant(layer.weights["recurrent_kernel"], order.OrderCN)
        bias = self.constant(layer.weights["bias"], order.OrderC) if use_bias else None
        y, _ = self.w.LSTM(None, use_bias, bool(cfg.get("return_sequences")), use_initial_c=False,
                           use_initial_h=False, activation="tanh",
                           recurrent_activation=recurrent)(x, w_in, w_rec, bias)
        return y

    def graph(self, source: SourceModel) -> Any:
        w, order = self.w, self.w.order
        source.refuse_branches("browserdl's WebDNN graph builder")
        first = {1: order.OrderNC, 2: order.OrderNTC, 3: order.OrderNHWC}.get(len(source.input_shape))
        if first is None or any(s is None for s in source.input_shape):
            raise Unsupported(f"input shape {source.input_shape}: WebDNN needs a fixed 1-, 2- or 3-D input")
        x = w.Variable([1, *source.input_shape], first)
        handlers = {"Dense": self.dense, "Conv2D": self.conv2d, "MaxPooling2D": self.max_pool,
                    "Flatten": self.flatten, "LSTM": self.lstm,
                    "Activation": lambda layer, v: self.activation(layer, v, layer.activation),
                    "Dropout": lambda layer, v: v}  # inference: dropout is the identity
        y = x
        for layer in source.layers:
            handler = handlers.get(layer.class_name)
            if handler is None:
                raise _refuse(layer, "no WebDNN mapping here (Dense, Conv2D, MaxPooling2D, Flatten, "
                                     "Activation, Dropout, and LSTM on webassembly)")
            y = handler(layer, y)
        x.attributes.add(w.Input())
        y.attributes.add(w.Output())
        return w.Graph([x], [y])


def graph(source: SourceModel, backend: str) -> Any:
    """The WebDNN IR graph (batch 1) of `source` for `backend`; `Unsupported` names what can't map."""
    return _Builder(backend).graph(source)


def _write(source: SourceModel, out_dir: Path, backend: str, encoding: str = "raw") -> list[str]:
    env = webdnn_compat.emscripten_env() if backend == "webassembly" else {}
    if isinstance(env, str):
        raise Unsupported(f"webdnn-webassembly {env}")
    try:
        data = webdnn_compat.generate(backend, graph(source, backend), constant_encoder_name=encoding)
    except NotImplementedError as exc:  # an operator this backend has no kernel for: it says which
        raise Unsupported(f"WebDNN's {backend} backend: {exc}") from None
    notes = [f"graph IR built from the model's weights with the PyPI webdnn 1.2.11 transpiler "
             f"(batch 1; Keras layers mapped as webdnn's own Keras frontend does), descriptor "
             f"generated for the {backend} backend, weights encoded '{encoding}'"]
    if backend == "webassembly":
        # asm.js is for browsers without WebAssembly, and its build needs closure-compiler.
        data._compile_fallback_asmjs = lambda dirname: None
        try:
            with webdnn_compat.environment(env):
                webdnn_compat.save(data, out_dir)
        except subprocess.CalledProcessError as exc:  # em++ printed why on stderr
            raise UserError(f"em++ failed (exit {exc.returncode}) compiling WebDNN's webassembly "
                            f"kernels for {source.id}: check that `em++ --version` runs") from None
        (out_dir / "kernels_webassembly.cpp").unlink()
        notes.append("kernels compiled by em++ (-O3); the C++ source and the asm.js fallback the "
                     "transpiler would also emit are not part of what Chromium fetches")
    else:
        webdnn_compat.save(data, out_dir)
    if backend == "webgl":
        for path in out_dir.iterdir():
            if not path.stem.endswith(f"_{WEBGL_TEXTURE}"):
                path.unlink()
        notes.append(f"only the {WEBGL_TEXTURE}-texel pair is kept: webdnn.js 1.2.11 always loads "
                     f"graph_webgl_{WEBGL_TEXTURE}.json (the transpiler also writes 8192/16384)")
    if encoding == "eightbit":
        notes.append("weights quantized by WebDNN's eightbit encoder (log table, sign bit, scale per "
                     "tensor, zlib); webdnn.js expands them to float32 at load")
    return notes


def _format(backend: str, encoding: str = "raw") -> Format:
    entry = f"graph_webgl_{WEBGL_TEXTURE}.json" if backend == "webgl" else f"graph_{backend}.json"
    suffix = "-8bit" if encoding == "eightbit" else ""
    return Format(f"webdnn-{backend}{suffix}", "webdnn", LIBRARY,
                  partial(_write, backend=backend, encoding=encoding), entry=entry,
                  precision="uint8" if encoding == "eightbit" else "float32", backend=backend,
                  pinned=True, variant=encoding == "eightbit")


FORMATS = [_format("fallback"), _format("webgl"), _format("webassembly"),
           _format("fallback", "eightbit"), _format("webgl", "eightbit")]
