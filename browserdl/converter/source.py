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

    @property
    def sequential(self) -> bool:
        return self.model_config["class_name"] == "Sequential"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
                layers.append(Layer(name, layer_config["class_name"], layer_config["config"],
                                    weights))
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"{model_h5} is not a readable Keras model file ({exc}); retrain with "
                        f"`browserdl train --models {model_id} --force`") from None
    if layers and layers[0].class_name == "InputLayer":
        input_shape = tuple(layers[0].config["batch_input_shape"][1:])
        layers = layers[1:]
    else:
        input_shape = tuple(layers[0].config["batch_input_shape"][1:])
    return SourceModel(model_id, model_h5, config, layers, input_shape, keras_version)
