"""kerasjs: the Keras.js 1.0.3 protobuf (model.bin), written by the project from keras-js's schema.

Keras.js's own encoder.py is stale (old h5py/protobuf APIs), so the message is built here from
the source model. Keras.js was written for Keras 2.1: its Sequential reader wants `config` to be
a plain list of layers whose first one carries `batch_input_shape` (tf_keras 2.19 writes
{"name", "layers": [InputLayer, ...]}), and it finds each weight by the regular expression
`^.*<layer>/<param>` over the weight names, taking the first match.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.converter import kerasjs_proto
from browserdl.converter.base import Format, Unsupported
from browserdl.converter.source import Layer, SourceModel

LIBRARY = "keras-js@1.0.3"
ENTRY = "model.bin"

# Every layer class Keras.js 1.0.3 implements (lib/layers); others are refused as missing there.
KERASJS_LAYERS = frozenset({
    "Dense", "Activation", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "Flatten", "Reshape", "Permute", "RepeatVector", "ELU", "LeakyReLU", "PReLU", "ThresholdedReLU",
    "Conv1D", "Conv2D", "SeparableConv2D", "Conv2DTranspose", "Conv3D", "UpSampling1D", "UpSampling2D",
    "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
    "Cropping3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "SimpleRNN", "GRU",
    "LSTM", "Embedding", "Add", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "Subtract", "BatchNormalization", "GaussianNoise", "GaussianDropout", "Bidirectional",
    "TimeDistributed", "InputLayer",
})
# The subset this converter maps, with the weights Keras.js reads (Layer.params order) and the
# input rank it handles: Keras.js's Dense uses gemv (one vector), Conv2D/pooling (rows, cols,
# channels), LSTM (timesteps, features).
PARAMS = {"Dense": ("kernel", "bias"), "Conv2D": ("kernel", "bias"), "MaxPooling2D": (),
          "Flatten": (), "LSTM": ("kernel", "recurrent_kernel", "bias")}
INPUT_RANK = {"Dense": 1, "Conv2D": 3, "MaxPooling2D": 3, "LSTM": 2}
# Keras.js's activations (lib/activations, each with a WebGL program) whose definition equals
# tf_keras 2.19's: hard_sigmoid is 0.2x+0.5 clipped in both. Softmax only on vectors (its CPU
# softmax throws on rank 3).
ACTIVATIONS = frozenset({"linear", "relu", "sigmoid", "hard_sigmoid", "tanh", "softmax"})


def _refuse(layer: Layer, why: str) -> Unsupported:
    return Unsupported(f"layer {layer.name} ({layer.class_name}): {why}")


def _check_activation(layer: Layer, key: str, rank_out: int) -> None:
    name = layer.config.get(key, "linear")
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise _refuse(layer, f"{key} {name!r} has no equal in Keras.js 1.0.3 "
                      f"(it has {', '.join(sorted(ACTIVATIONS))}, elu, selu, softplus, softsign)")
    if name == "softmax" and rank_out != 1:
        raise _refuse(layer, "softmax on a tensor of rank > 1 (Keras.js's softmax takes vectors)")


def _check_layer(layer: Layer, rank: int) -> int:
    """Refuse what Keras.js can't run as Keras does; returns the layer's output rank."""
    cls, cfg = layer.class_name, layer.config
    if cls not in PARAMS:
        where = ("not mapped by this converter" if cls in KERASJS_LAYERS
                 else "Keras.js 1.0.3 has no such layer")
        raise _refuse(layer, f"{where} (mapped: {', '.join(PARAMS)})")
    if cls in INPUT_RANK and rank != INPUT_RANK[cls]:
        raise _refuse(layer, f"input of rank {rank}; Keras.js's {cls} takes rank {INPUT_RANK[cls]}")
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise _refuse(layer, "data_format channels_first (mapped for channels_last only)")
    out_rank = {"Dense": 1, "Conv2D": 3, "MaxPooling2D": 3, "Flatten": 1}.get(cls, 0)
    if cls == "LSTM":
        for key in ("stateful", "return_state", "time_major"):
            if cfg.get(key):
                raise _refuse(layer, f"{key}=True is not supported by Keras.js's LSTM")
        out_rank = 2 if cfg.get("return_sequences") else 1
        _check_activation(layer, "recurrent_activation", 1)
    if cls == "Conv2D":
        if cfg.get("groups", 1) != 1:
            raise _refuse(layer, f"groups={cfg['groups']} (Keras.js's Conv2D ignores groups)")
        if cfg.get("padding") not in ("valid", "same"):
            raise _refuse(layer, f"padding {cfg.get('padding')!r}")
    if cls == "MaxPooling2D" and cfg.get("padding") not in ("valid", "same"):
        raise _refuse(layer, f"padding {cfg.get('padding')!r}")
    if "activation" in cfg:  # an LSTM applies it to vectors (its candidate and cell state)
        _check_activation(layer, "activation", 1 if cls == "LSTM" else out_rank)
    expected = [p for p in PARAMS[cls] if p != "bias" or cfg.get("use_bias", True)]
    if sorted(layer.weights) != sorted(expected):
        raise _refuse(layer, f"weights {sorted(layer.weights)}, Keras.js expects {expected}")
    return out_rank


def _safe_names(layers: list[Layer]) -> dict[str, str]:
    """Layer names Keras.js resolves unambiguously: it names the Sequential input layer 'input'
    and picks the first weight whose name *contains* '<layer>/<param>'."""
    names = {layer.name: layer.name for layer in layers}

    def ambiguous() -> bool:
        if "input" in names.values():
            return True
        written = [f"{names[la.name]}/{p}:0" for la in layers for p in la.weights]
        for la in layers:
            for p in la.weights:
                try:
                    pattern = re.compile(f"^.*{names[la.name]}/{p}")
                except re.error:
                    return True
                if next((w for w in written if pattern.match(w)), None) != f"{names[la.name]}/{p}:0":
                    return True
        return False

    if ambiguous():
        names = {layer.name: f"l{i}_{layer.class_name.lower()}" for i, layer in enumerate(layers)}
    return names


def kerasjs_config(source: SourceModel, names: dict[str, str]) -> dict[str, Any]:
    """The Keras 2.1-style Sequential topology Keras.js's _buildDAG reads."""
    layers = []
    for i, layer in enumerate(source.layers):
        config = copy.deepcopy(layer.config)
        config["name"] = names[layer.name]
        config.pop("batch_input_shape", None)
        if i == 0:
            config["batch_input_shape"] = [None, *source.input_shape]
        layers.append({"class_name": layer.class_name, "config": config})
    return {"class_name": "Sequential", "config": layers, "keras_version": source.keras_version,
            "backend": "tensorflow"}


def build(source: SourceModel) -> tuple[Any, list[str]]:
    """The Model message for `source`, and the mapping notes; raises Unsupported."""
    source.refuse_branches("the kerasjs converter's Sequential file")
    rank = len(source.input_shape)
    for layer in source.layers:
        rank = _check_layer(layer, rank)
    names = _safe_names(source.layers)
    digest = hashlib.sha256(source.path.read_bytes()).hexdigest()
    model = kerasjs_proto.Model(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"browserdl:{digest}")),  # stable bytes per source
        name=source.id, keras_version=source.keras_version, backend="tensorflow",
        model_config=json.dumps(kerasjs_config(source, names)))
    for layer in source.layers:
        for param in PARAMS[layer.class_name]:
            if param in layer.weights:
                values = np.ascontiguousarray(layer.weights[param], dtype="<f4")
                model.model_weights.add(
                    layer_name=names[layer.name], weight_name=f"{names[layer.name]}/{param}:0",
                    shape=list(values.shape), type="float32", data=values.tobytes())
    notes = [
        "Keras.js protobuf written from keras-js 1.0.3 proto/model.proto (float32 weights, not quantized)",
        "model_config as Keras 2.1 Sequential: InputLayer dropped, batch_input_shape on the first layer",
    ]
    renamed = {k: v for k, v in names.items() if k != v}
    if renamed:
        notes.append(f"layers renamed so Keras.js's weight lookup is unambiguous: {renamed}")
    return model, notes


def _write(source: SourceModel, out_dir: Path) -> list[str]:
    model, notes = build(source)
    (out_dir / ENTRY).write_bytes(model.SerializeToString())
    return notes


FORMATS = [Format("kerasjs", "kerasjs", LIBRARY, _write, entry=ENTRY)]
