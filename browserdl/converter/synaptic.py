"""synaptic: the JSON `Network.toJSON()` of synaptic 1.1.4 writes, one object per neuron and per
connection, loaded back with `synaptic.Network.fromJSON`.

A Keras Dense stack maps neuron by neuron: inputs, one synaptic layer per Dense layer, weights
on the connections, biases on the neurons. synaptic has no softmax: a softmax output layer
becomes IDENTITY neurons and the runtime adapter applies softmax to the raw outputs (argmax is
unchanged); a note in the manifest tells the adapter so (SOFTMAX_NOTE).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from browserdl.converter import jsjson
from browserdl.converter.base import Format, Mapping, Unsupported
from browserdl.converter.source import Layer, SourceModel

LIBRARY = "synaptic@1.1.4"
ENTRY = "network.json"

# Keras activation -> synaptic Neuron.squash name (the names toJSON writes and fromJSON reads)
SQUASH = {"relu": "RELU", "tanh": "TANH", "sigmoid": "LOGISTIC", "linear": "IDENTITY"}
_REFUSALS = {
    "Conv1D": "synaptic has no convolution layers", "Conv2D": "synaptic has no convolution layers",
    "MaxPooling2D": "synaptic has no pooling layers", "AveragePooling2D": "synaptic has no pooling layers",
    "LSTM": "synaptic's LSTM (peephole neurons, gated self-connections) is not a Keras LSTM",
    "GRU": "synaptic has no GRU", "SimpleRNN": "synaptic's recurrent nets are not Keras RNNs",
}


def dense_stack(source: SourceModel) -> list[tuple[Layer, str]]:
    """The model's Dense layers with their synaptic squash; Unsupported for anything else."""
    for layer in source.layers:
        if layer.class_name != "Dense":
            why = _REFUSALS.get(layer.class_name, "synaptic maps fully connected (Dense) layers only")
            raise Unsupported(f"layer '{layer.name}' ({layer.class_name}): {why}")
    if len(source.input_shape) != 1:
        raise Unsupported(f"input shape {source.input_shape}: synaptic takes a flat input vector")
    stack = []
    for i, layer in enumerate(source.layers):
        act = layer.activation or "linear"
        if act == "softmax" and i == len(source.layers) - 1:
            stack.append((layer, "IDENTITY"))
        elif act == "softmax":
            raise Unsupported(f"layer '{layer.name}' activation softmax: synaptic has no softmax, and "
                              "only an output layer's can be applied after the network")
        elif act in SQUASH:
            stack.append((layer, SQUASH[act]))
        else:
            raise Unsupported(f"layer '{layer.name}' activation {act}: synaptic's squashes are "
                              "LOGISTIC, TANH, IDENTITY, HLIM, RELU")
    return stack


def _neuron(bias: str, layer: str, squash: str) -> str:
    # key order and the empty traces exactly as Network.toJSON writes them
    return ('{"trace":{"elegibility":{},"extended":{}},"state":0,"old":0,"activation":0,'
            f'"bias":{bias},"layer":{layer},"squash":"{squash}"}}')


def _numbers(values: np.ndarray) -> list[str]:
    """JS's text for each value: the float32 widened to the double synaptic holds."""
    return [jsjson.number(v) for v in values.tolist()]


def _write(source: SourceModel, out_dir: Path) -> Mapping:
    stack = dense_stack(source)
    n_inputs = source.input_shape[0]
    neurons = [_neuron("0", '"input"', "LOGISTIC") for _ in range(n_inputs)]  # a fresh Neuron's
    connections: list[str] = []
    first = 0  # index of the previous layer's first neuron
    width = n_inputs
    for k, (layer, squash) in enumerate(stack):
        kernel = layer.weights["kernel"]
        if kernel.shape[0] != width:
            raise Unsupported(f"layer '{layer.name}' kernel {kernel.shape} does not follow a layer of "
                              f"{width} units")
        units = kernel.shape[1]
        bias = layer.weights.get("bias", np.zeros(units, dtype=np.float32))
        name = '"output"' if k == len(stack) - 1 else str(k)
        neurons += [_neuron(b, name, squash) for b in _numbers(bias)]
        here = first + width
        # toJSON walks neurons in order, each one's projected connections in creation order:
        # from-neuron major, to-neuron minor, i.e. the kernel in C order
        rows = np.repeat(np.arange(first, here), units).tolist()
        cols = np.tile(np.arange(here, here + units), width).tolist()
        connections += [f'{{"from":{a},"to":{b},"weight":{w},"gater":null}}'
                        for a, b, w in zip(rows, cols, _numbers(kernel.ravel()), strict=True)]
        first, width = here, units
    text = '{"neurons":[' + ",".join(neurons) + '],"connections":[' + ",".join(connections) + "]}"
    (out_dir / ENTRY).write_text(text)
    notes = [f"{n_inputs} input neurons; Dense layers → synaptic layers of "
             + ", ".join(f"{lay.weights['kernel'].shape[1]} {sq}" for lay, sq in stack)
             + f" neurons; {len(connections)} connections (one JSON object each)"]
    if not any("bias" in lay.weights for lay, _ in stack):
        notes.append("no biases in the Keras model: every neuron's bias is 0")
    if (stack[-1][0].activation or "") == "softmax":
        notes.append("adapter applies softmax to the outputs (synaptic has no softmax: output layer "
                     f"'{stack[-1][0].name}' written as IDENTITY neurons)")
        return Mapping(notes, "softmax")
    return Mapping(notes)


FORMATS = [Format("synaptic", "synaptic", LIBRARY, _write, entry=ENTRY)]
