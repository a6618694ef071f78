"""Converters: one module per target format, each exposing `FORMATS`; this is the registry."""

from __future__ import annotations

from browserdl.converter import (
    brainjs,
    convnetjs,
    keras_h5,
    kerasjs,
    mind,
    onnx,
    synaptic,
    tfjs_graph,
    tfjs_layers,
    webdnn,
)
from browserdl.converter.base import Format

FORMATS: dict[str, Format] = {
    f.name: f
    for module in (keras_h5, tfjs_layers, tfjs_graph, kerasjs, webdnn, convnetjs, brainjs, synaptic, mind,
                   onnx)
    for f in module.FORMATS
}
