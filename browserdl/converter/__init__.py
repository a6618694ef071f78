"""Converters: one module per target format, each exposing `FORMATS`; this is the registry."""

from __future__ import annotations

from browserdl.converter import keras_h5, tfjs_layers
from browserdl.converter.base import Format

FORMATS: dict[str, Format] = {
    f.name: f
    for module in (keras_h5, tfjs_layers)
    for f in module.FORMATS
}
