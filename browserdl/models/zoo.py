"""The reference models: one family per network type, identified by id, built with tf_keras.

Ids: dnn-d{depth}-w{width}, cnn-l{layers}-w{width}, rnn-l{layers}-w{width}, and the Keras
applications of the paper's Table 4. Builders import tf_keras lazily (the CLI starts fast).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from browserdl.errors import UserError

SEED = 1234


@dataclass(frozen=True)
class Family:
    """A network type: how its ids look, what it is trained on, and how it is built."""

    name: str  # dnn, cnn, rnn, app
    pattern: re.Pattern[str]
    task: str  # digits-flat | digits-image | chars | imagenet (what data feeds it)
    build: Callable[..., Any]  # (**id fields, n_chars=...) -> tf_keras model
    describe: Callable[..., str]
    loss: str = "categorical_crossentropy"


def _dense_stack(depth: int, width: int) -> Any:
    from tf_keras import Sequential, layers

    stack = [layers.Dense(width, activation="relu", input_shape=(784,), name="dense_1")]
    stack += [layers.Dense(width, activation="relu", name=f"dense_{i + 2}") for i in range(depth - 1)]
    stack.append(layers.Dense(10, activation="softmax", name="output"))
    return Sequential(stack, name=f"dnn-d{depth}-w{width}")


def _tanh_stack(depth: int, width: int) -> Any:
    """What Mind can run exactly: no biases, tanh on every layer (output included)."""
    from tf_keras import Sequential, layers

    sizes = [width] * depth + [10]
    stack = [layers.Dense(n, activation="tanh", use_bias=False, name=f"dense_{i + 1}",
                          **({"input_shape": (784,)} if i == 0 else {}))
             for i, n in enumerate(sizes)]
    return Sequential(stack, name=f"dnn-d{depth}-w{width}-tanh")


def cnn_plan(layers_total: int, width: int) -> list[tuple[str, int]]:
    """The CNN's layer list, as (kind, kernels). See README "Model grids" for the reading of Table 5.

    The TensorFlow.js MNIST example is conv5x5 → maxpool → conv5x5 → maxpool → flatten → dense
    (6 layers). More layers add 3×3 'same' convolutions to the two blocks; `width` is the total
    number of kernels, split evenly over the convolutions, so that every model of the grid
    stays under 25M parameters (27 layers of 800 kernels each would be ~130M).
    """
    convs = layers_total - 4
    if convs < 2:
        raise UserError(f"cnn-l{layers_total}-w{width}: a CNN needs at least 6 layers")
    per_conv = max(1, round(width / convs))
    first_block = math.ceil(convs / 2)
    plan: list[tuple[str, int]] = []
    for block_convs in (first_block, convs - first_block):
        plan += [("conv5", per_conv)] + [("conv3", per_conv)] * (block_convs - 1) + [("pool", 0)]
    return [*plan, ("flatten", 0), ("dense", 10)]


def _cnn(layers_total: int, width: int) -> Any:
    from tf_keras import Sequential, layers

    stack: list[Any] = []
    shape: dict[str, Any] = {"input_shape": (28, 28, 1)}
    for i, (kind, kernels) in enumerate(cnn_plan(layers_total, width)):
        name = f"{kind}_{i + 1}"
        if kind == "conv5":
            stack.append(layers.Conv2D(kernels, 5, activation="relu", name=name, **shape))
        elif kind == "conv3":
            stack.append(layers.Conv2D(kernels, 3, padding="same", activation="relu", name=name))
        elif kind == "pool":
            stack.append(layers.MaxPooling2D(2, strides=2, name=name))
        elif kind == "flatten":
            stack.append(layers.Flatten(name=name))
        else:
            stack.append(layers.Dense(kernels, activation="softmax", name="output"))
        shape = {}
    return Sequential(stack, name=f"cnn-l{layers_total}-w{width}")


def _rnn(layers_total: int, width: int, n_chars: int, seq_len: int) -> Any:
    from tf_keras import Sequential, layers

    stack = [
        layers.LSTM(
            width,
            return_sequences=i < layers_total - 1,
            recurrent_activation="sigmoid",  # explicit: Keras.js reads it from the config
            name=f"lstm_{i + 1}",
            **({"input_shape": (seq_len, n_chars)} if i == 0 else {}),
        )
        for i in range(layers_total)
    ]
    stack.append(layers.Dense(n_chars, activation="softmax", name="output"))
    return Sequential(stack, name=f"rnn-l{layers_total}-w{width}")


APPLICATIONS = {
    "mobilenetv2": "MobileNetV2",
    "densenet121": "DenseNet121",
    "xception": "Xception",
    "inceptionv3": "InceptionV3",
    "resnet50": "ResNet50",
}


def _application(name: str) -> Any:
    from tf_keras import applications

    return getattr(applications, APPLICATIONS[name])(weights=None, classes=1000)


FAMILIES: dict[str, Family] = {
    "dnn": Family(
        "dnn", re.compile(r"dnn-d(?P<depth>\d+)-w(?P<width>\d+)"), "digits-flat",
        lambda depth, width, **_: _dense_stack(depth, width),
        lambda depth, width: f"784 → {depth} × Dense({width}, relu) → Dense(10, softmax)",
    ),
    "dnn-tanh": Family(
        "dnn-tanh", re.compile(r"dnn-d(?P<depth>\d+)-w(?P<width>\d+)-tanh"), "digits-flat",
        lambda depth, width, **_: _tanh_stack(depth, width),
        lambda depth, width: f"784 → {depth} × Dense({width}, tanh, no bias) → Dense(10, tanh, no bias)",
        loss="mean_squared_error",  # tanh outputs are no probabilities: fit the one-hot targets
    ),
    "cnn": Family(
        "cnn", re.compile(r"cnn-l(?P<layers>\d+)-w(?P<width>\d+)"), "digits-image",
        lambda layers, width, **_: _cnn(layers, width),
        lambda layers, width: " → ".join(
            f"{k}({n})" if n else k for k, n in cnn_plan(layers, width)
        ),
    ),
    "rnn": Family(
        "rnn", re.compile(r"rnn-l(?P<layers>\d+)-w(?P<width>\d+)"), "chars",
        lambda layers, width, n_chars, seq_len, **_: _rnn(layers, width, n_chars, seq_len),
        lambda layers, width: f"chars → {layers} × LSTM({width}) → Dense(chars, softmax)",
    ),
    "app": Family(
        "app", re.compile("|".join(APPLICATIONS)), "imagenet",
        lambda name, **_: _application(name),
        lambda name: f"tf_keras.applications.{APPLICATIONS[name]}(weights=None)",
    ),
}


@dataclass(frozen=True)
class ModelSpec:
    id: str
    family: Family
    fields: dict[str, Any]

    @property
    def description(self) -> str:
        return self.family.describe(**self.fields)

    def build(self, **data_shape: Any) -> Any:
        import tf_keras

        tf_keras.utils.set_random_seed(SEED)
        return self.family.build(**self.fields, **data_shape)


def parse(model_id: str) -> ModelSpec:
    for family in FAMILIES.values():
        match = family.pattern.fullmatch(model_id)
        if not match:
            continue
        fields: dict[str, Any] = {k: int(v) for k, v in match.groupdict().items()}
        if family.name == "app":
            fields = {"name": model_id}
        if any(v == 0 for v in fields.values() if isinstance(v, int)):
            break
        if family.name == "cnn":
            cnn_plan(fields["layers"], fields["width"])  # refuses impossible shapes early
        return ModelSpec(model_id, family, fields)
    raise UserError(
        f"unknown model id '{model_id}': use dnn-d<depth>-w<width>, cnn-l<layers>-w<width> "
        f"(layers ≥ 6), rnn-l<layers>-w<width> or one of {', '.join(APPLICATIONS)}"
    )


# --- presets -----------------------------------------------------------------------------

def _grid(fmt: str, a: Iterable[int], b: Iterable[int]) -> list[str]:
    return [fmt.format(x, y) for x in a for y in b]


PAPER_41 = _grid("dnn-d{}-w{}", (1, 2, 4, 8), (64, 128, 256))  # §4.1: the 12-model grid
PRESETS: dict[str, list[str]] = {
    # small enough that every runtime and backend, software GPUs included, takes minutes
    "quick": ["dnn-d1-w64", "dnn-d2-w128", "dnn-d1-w64-tanh", "cnn-l6-w40", "rnn-l1-w16"],
    "paper": list(dict.fromkeys(
        PAPER_41
        + [f"{m}-tanh" for m in PAPER_41]  # the same grid in the form Mind can express
        + _grid("dnn-d{}-w{}", (1, 2, 4, 8, 16), (64, 128, 256, 512))  # Table 5
        + _grid("cnn-l{}-w{}", (6, 9, 15, 27), (200, 400, 800))
        + _grid("rnn-l{}-w{}", (1, 2, 3), (4, 8, 16, 32, 64, 256))
        + list(APPLICATIONS)  # Table 4
    )),
}
CATALOG = list(dict.fromkeys(PRESETS["quick"] + PRESETS["paper"]))


def select(preset: str | None, pattern: str | None) -> list[ModelSpec]:
    """The models a command works on: a preset, narrowed (or, alone, chosen from all) by a glob.

    A pattern without wildcards that is a valid id is taken even outside the presets.
    """
    if preset is not None and preset not in PRESETS:
        raise UserError(f"unknown preset '{preset}': choose one of {', '.join(PRESETS)}")
    pool = PRESETS[preset] if preset else (CATALOG if pattern else PRESETS["quick"])
    if not pattern:
        return [parse(m) for m in pool]
    ids: list[str] = []
    for part in (p.strip() for p in pattern.split(",") if p.strip()):
        if not any(ch in part for ch in "*?["):
            parse(part)
            ids.append(part)
            continue
        hits = fnmatch.filter(pool, part)
        if not hits:
            raise UserError(f"no model matches '{part}' in {preset or 'the catalog'}; "
                            f"ids look like {pool[0]} (see `browserdl train --help`)")
        ids += hits
    return [parse(m) for m in dict.fromkeys(ids)]


# --- model statistics --------------------------------------------------------------------

def count_flops(model: Any) -> int:
    """Floating-point operations of one forward pass on one sample: 2 × multiply-accumulates of
    the dense, convolution and LSTM layers (elementwise ops are left out, as usual)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            n_in = layer.input_shape[-1]
            positions = math.prod(d for d in layer.input_shape[1:-1] if d) or 1
            total += 2 * n_in * layer.units * positions
        elif kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
            kh, kw = layer.kernel_size
            out_h, out_w, out_c = layer.output_shape[1:]
            in_c = layer.input_shape[-1]
            if kind == "Conv2D":
                macs = kh * kw * in_c // layer.groups * out_c
            elif kind == "DepthwiseConv2D":
                macs = kh * kw * in_c * layer.depth_multiplier
            else:
                macs = kh * kw * in_c * layer.depth_multiplier + in_c * layer.depth_multiplier * out_c
            total += 2 * macs * out_h * out_w
        elif kind == "LSTM":
            steps, n_in = layer.input_shape[1], layer.input_shape[2]
            total += 2 * 4 * layer.units * (n_in + layer.units) * steps
    return total
