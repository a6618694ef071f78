"""The trained Keras model as the converters see it: layer configs and weights, read with h5py.

Reading the .h5 directly (no TensorFlow) keeps conversion fast and shows exactly what the
file holds; every format module starts from this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from browserdl.errors import UserError


@dataclass
class Layer:
    name: str
    class_name: str
    config: dict[str, Any]
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # kernel, bias, recurrent_kernel…
    inputs: list[str] = field(default_factory=list)  # the layers it reads (a functional model's)

    @property
    def activation(self) -> str | None:
        return self.config.get("activation")


@dataclass
class SourceModel:
    id: str
    path: Path
    model_config: dict[str, Any]  # the Keras JSON topology, as stored in model.h5
    layers: list[Layer]
    input_shape: tuple[int, ...]  # without the batch dimension
    keras_version: str
    kind: str = "keras"  # or an added model's own kind: savedmodel | tfjs-graph | onnx (no layers)

    def branching_layer(self) -> Layer | None:
        """The first layer that makes the model no plain stack: it joins several inputs, is
        called more than once, or reads a layer other than the one before it."""
        if self.model_config.get("class_name") == "Sequential":
            return None
        previous = None
        for layer in self.layers:
            if len(layer.inputs) != 1 or (previous is not None and layer.inputs[0] != previous):
                return layer
            previous = layer.name
        return None

    def refuse_branches(self, what: str) -> None:
        """Raise Unsupported naming the layer where the graph branches, for a format (`what`)
        that holds a plain stack only."""
        from browserdl.converter.base import Unsupported  # base imports this module

        if (layer := self.branching_layer()) is not None:
            joins = f"joins {len(layer.inputs)} branches" if len(layer.inputs) > 1 else (
                "reads a layer other than the one before it" if len(layer.inputs) == 1 else
                "is called more than once")
            raise Unsupported(f"layer '{layer.name}' ({layer.class_name}) {joins}: {what} holds "
                              "a plain stack of layers only")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# where an added model of each kind keeps its working copy (models/user_files.py writes them)
NON_KERAS = {"savedmodel": "source/saved_model", "tfjs-graph": "source/tfjs-graph",
             "onnx": "source/model.onnx"}


def read_added(model_dir: Path, meta: dict[str, Any]) -> SourceModel:
    """An added model without Keras layers: its kind and file, for the formats that take it."""
    kind = meta["kind"]
    return SourceModel(meta["id"], model_dir / NON_KERAS[kind], {}, [], tuple(meta["input_shape"]),
                       "", kind)


def read(model_h5: Path, model_id: str | None = None) -> SourceModel:
    """Read a tf_keras model.h5; a file that is not one gives a one-line UserError."""
    model_id = model_id or model_h5.parent.name
    try:
        with h5py.File(model_h5, "r") as h5:
            config = json.loads(_text(h5.attrs["model_config"]))
            keras_version = _text(h5.attrs.get("keras_version", ""))
            groups = h5["model_weights"]
            layers = []
            for layer_config in config["config"]["layers"]:
                name = layer_config["config"]["name"]
                weights = {}
                if name in groups:
                    group = groups[name]
                    for weight_name in (_text(w) for w in group.attrs.get("weight_names", [])):
                        short = weight_name.split("/")[-1].split(":")[0]
                        weights[short] = np.asarray(group[weight_name], dtype=np.float32)
                nodes = layer_config.get("inbound_nodes") or []
                # one node: the layers it reads; none or several (a shared layer): no chain
                inputs = [entry[0] for entry in nodes[0]] if len(nodes) == 1 else []
                layers.append(Layer(name, layer_config["class_name"], layer_config["config"],
                                    weights, inputs))
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"{model_h5} is not a readable Keras model file ({exc}); retrain with "
                        f"`browserdl train --models {model_id} --force`") from None
    if layers and layers[0].class_name == "InputLayer":
        input_shape = tuple(layers[0].config["batch_input_shape"][1:])
        layers = layers[1:]
    else:
        input_shape = tuple(layers[0].config["batch_input_shape"][1:])
    return SourceModel(model_id, model_h5, config, layers, input_shape, keras_version)
