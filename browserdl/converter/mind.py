"""mind: Mind's (stevenmiller888/mind, "node-mind" 1.0.1) own export — `JSON.stringify(mind.download())`,
read back with `new Mind({activator: 'htan', hiddenLayers: N}).upload(weights)`.

`download()` returns the weight matrices, one per layer (node-matrix 0.1.1 objects: rows under
"0".."R-1", then numRows, numCols, dimensions), inputs × units like a Keras kernel. Mind has no
biases and one activator for every layer (sigmoid, or its default htan); its file records neither
the activator nor the depth, so files are written for htan and the adapter sets hiddenLayers
from the number of matrices. Only bias-free tanh Dense stacks (`dnn-*-tanh`) map exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from browserdl.converter import jsjson
from browserdl.converter.base import Format, Unsupported
from browserdl.converter.source import Layer, SourceModel

# not on the npm registry (npm's `mind` is an unrelated package): the runtime is the user's file
LIBRARY = "node-mind@1.0.1"
ENTRY = "mind.json"

_RECURRENT = {"LSTM", "GRU", "SimpleRNN"}


def check(source: SourceModel) -> list[Layer]:
    """The Dense layers Mind can run exactly; Unsupported naming the first layer it can't."""
    for layer in source.layers:
        if layer.class_name in _RECURRENT:
            raise Unsupported(f"layer '{layer.name}' ({layer.class_name}): Mind has no recurrent layers")
        if layer.class_name != "Dense":
            raise Unsupported(f"layer '{layer.name}' ({layer.class_name}): Mind has fully connected "
                              "layers only")
        act = layer.activation or "linear"
        if act == "sigmoid":
            raise Unsupported(f"layer '{layer.name}' activation sigmoid: Mind's file does not record its "
                              "activator; files are written for its default, htan")
        if act != "tanh":
            raise Unsupported(f"layer '{layer.name}' activation {act}: Mind has sigmoid/htan only")
        if "bias" in layer.weights:
            raise Unsupported(f"layer '{layer.name}' has biases: Mind's layers have none")
    if len(source.input_shape) != 1:
        raise Unsupported(f"input shape {source.input_shape}: Mind takes a flat input vector")
    if len(source.layers) < 2:
        # Mind's forward pass always runs weights[0] and then weights[last]: one layer would run twice
        raise Unsupported(f"{len(source.layers)} Dense layer: Mind needs at least one hidden layer")
    return list(source.layers)


def matrix(kernel: np.ndarray) -> dict[str, Any]:
    """One node-matrix Matrix as JSON.stringify writes it: integer keys first (JS orders them so)."""
    rows, cols = kernel.shape
    out: dict[str, Any] = {str(i): row for i, row in enumerate(kernel.astype(np.float64).tolist())}
    out.update(numRows=rows, numCols=cols, dimensions=[rows, cols])
    return out


def _write(source: SourceModel, out_dir: Path) -> list[str]:
    layers = check(source)
    weights = [matrix(layer.weights["kernel"]) for layer in layers]
    (out_dir / ENTRY).write_text(jsjson.dumps(weights))
    shapes = " → ".join(f"{w['numRows']}×{w['numCols']}" for w in weights)
    return [f"Mind 1.0.1 download(): {len(weights)} weight matrices {shapes} (node-matrix objects of rows)",
            f"run with new Mind({{activator: 'htan', hiddenLayers: {len(weights) - 1}}}).upload(weights); "
            "Mind's htan is Keras' tanh, and the model has no biases"]


FORMATS = [Format("mind", "mind", LIBRARY, _write, entry=ENTRY)]
