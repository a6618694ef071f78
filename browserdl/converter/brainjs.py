"""brainjs: the JSON `JSON.stringify(net.toJSON())` writes for a brain.js 1.6.1 NeuralNetwork.

brain.js 1.x keeps one activation for every layer, the output included, and has no softmax.
What it can run exactly (checked in its source, dist/neural-network.js, and by parity):

- a stack of Dense layers that all use one of sigmoid, relu, tanh: `activation` as is
  (Keras use_bias=False → zero biases; e.g. the dnn-*-tanh family);
- relu hidden layers with a softmax (or linear) output: relu would erase negative logits, so
  the output layer is written twice, +z then -z ("signed pairs": relu(z) - relu(-z) = z) and
  the adapter computes softmax(out[i] - out[n+i]) — exact for every input.

Its 'leaky-relu' is not Keras's: 1.6.1 computes 0 below zero and alpha·x above, so it maps
nothing. Everything else is refused, naming the layer and activation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from browserdl.converter import jsjson
from browserdl.converter.base import Format, Mapping, Unsupported
from browserdl.converter.source import Layer, SourceModel

LIBRARY = "brain.js@1.6.1"
ENTRY = "model.json"
ACTIVATIONS = ("sigmoid", "relu", "tanh")  # brain.js names equal to Keras's, same function
# getTrainOptsJSON() of a NeuralNetwork built with default options, key order included
TRAIN_OPTS = {"iterations": 20000, "errorThresh": 0.005, "log": False, "logPeriod": 10,
              "learningRate": 0.3, "momentum": 0.1, "callbackPeriod": 10, "beta1": 0.9,
              "beta2": 0.999, "epsilon": 1e-8}
# the output transforms the brainjs adapter applies (manifest.outputs), with their notes
SIGNED_SOFTMAX = "signed-pairs-softmax"
SIGNED_LINEAR = "signed-pairs"
_TRANSFORM_NOTES = {
    SIGNED_SOFTMAX: "adapter: out = softmax(y[i] - y[n + i]) for the n logits (brain.js has no softmax)",
    SIGNED_LINEAR: "adapter: out = y[i] - y[n + i] for the n linear outputs",
}
LEAKY = ("brain.js 1.6.1 has sigmoid, relu, tanh and a 'leaky-relu' that is 0 below zero and "
         "0.01·x above (not Keras's leaky relu)")


def _refuse(layer: Layer, why: str) -> Unsupported:
    return Unsupported(f"layer '{layer.name}' ({layer.class_name}, activation "
                       f"'{layer.activation}'): {why}")


def _dense_layers(source: SourceModel) -> list[Layer]:
    flat = len(source.input_shape) == 1
    dense = []
    for layer in source.layers:
        if layer.class_name == "Flatten":
            flat = True  # the adapter feeds the sample in C order, as Keras flattens it
        elif layer.class_name != "Dense":
            what = ("brain.recurrent's LSTM is not a Keras LSTM and NeuralNetwork is feed-forward"
                    if layer.class_name in ("LSTM", "GRU", "SimpleRNN")
                    else "brain.js NeuralNetwork has fully connected layers only")
            raise Unsupported(f"layer '{layer.name}' ({layer.class_name}): {what}")
        elif not flat:
            raise Unsupported(f"layer '{layer.name}' (Dense): applied per position of a "
                              f"rank-{len(source.input_shape)} input, brain.js layers see one vector")
        else:
            dense.append(layer)
    return dense


def plan(source: SourceModel) -> tuple[str, str | None]:
    """(brain.js activation, adapter note or None), or Unsupported naming the layer."""
    dense = _dense_layers(source)
    if not dense:
        raise Unsupported(f"model {source.id}: no Dense layer for a brain.js NeuralNetwork")
    *hidden, output = dense
    act = hidden[0].activation if hidden else output.activation
    for layer in hidden:
        if layer.activation not in ACTIVATIONS:
            raise _refuse(layer, LEAKY)
        if layer.activation != act:
            raise _refuse(layer, f"brain.js uses one activation for every layer ('{act}' from "
                                 f"'{hidden[0].name}')")
    if output.activation == act and act in ACTIVATIONS:
        return act, None
    if (act == "relu" or not hidden) and output.activation in ("softmax", "linear"):
        return "relu", SIGNED_SOFTMAX if output.activation == "softmax" else SIGNED_LINEAR
    if not hidden:
        raise _refuse(output, LEAKY)
    raise _refuse(output, f"brain.js applies the hidden layers' '{act}' to the output layer too and "
                          "has no softmax; only a relu stack's logits can be recovered (signed pairs)")


def _neurons(kernel: np.ndarray, bias: np.ndarray) -> dict[str, Any]:
    # node.weights is an object keyed "0", "1", …: the same text as a typed array writes
    return {str(j): {"bias": float(b), "weights": jsjson.TypedArray(column)}
            for j, (column, b) in enumerate(zip(np.ascontiguousarray(kernel.T), bias, strict=True))}


def net_json(source: SourceModel) -> tuple[dict[str, Any], Mapping]:
    """The `NeuralNetwork.toJSON()` object for the model, and how it was mapped."""
    activation, transform = plan(source)
    dense = _dense_layers(source)
    inputs = dense[0].weights["kernel"].shape[0]
    sizes = [inputs]
    layers: list[dict[str, Any]] = [{str(i): {} for i in range(inputs)}]
    notes = [f"brain.js 1.6.1 NeuralNetwork.toJSON(): activation '{activation}' on every layer; "
             "per-neuron {bias, weights} objects keyed \"0\", \"1\", …; float32 Keras weights "
             "written as the doubles a Float32Array holds",
             "trainOpts: the defaults a new NeuralNetwork writes (the weights come from Keras)"]
    for i, layer in enumerate(dense):
        kernel = layer.weights["kernel"]
        bias = layer.weights.get("bias", np.zeros(kernel.shape[1], np.float32))
        if "bias" not in layer.weights:
            notes.append(f"{layer.name}: use_bias=False written as zero biases")
        if transform and i == len(dense) - 1:
            kernel, bias = np.concatenate([kernel, -kernel], 1), np.concatenate([bias, -bias])
            notes.append(f"{layer.name}: written as {kernel.shape[1]} relu outputs, +z then -z, so "
                         "relu(z) - relu(-z) recovers the logits z that relu alone would clip")
            notes.append(_TRANSFORM_NOTES[transform])
        sizes.append(kernel.shape[1])
        layers.append(_neurons(kernel, bias))
    net = {"sizes": sizes, "layers": layers, "outputLookup": False, "inputLookup": False,
           "activation": activation, "trainOpts": dict(TRAIN_OPTS)}
    return net, Mapping(notes, transform or "raw")


def _write(source: SourceModel, out_dir: Path) -> Mapping:
    net, mapping = net_json(source)
    (out_dir / ENTRY).write_text(jsjson.dumps(net), encoding="utf-8")
    return mapping


FORMATS = [Format("brainjs", "brainjs", LIBRARY, _write, entry=ENTRY)]
