"""tfjs-layers (+ float16 / uint8 quantized): written by the `tensorflowjs` package itself."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from browserdl.converter.base import Format
from browserdl.converter.source import SourceModel
from browserdl.quiet import import_quietly

LIBRARY = "@tensorflow/tfjs@4.22.0"
# tensorflowjs' own default shard size, so file counts match what users get
SHARD_BYTES = 4 * 1024 * 1024


def _write(source: SourceModel, out_dir: Path, quantize: str | None = None) -> list[str]:
    converter = import_quietly("tensorflowjs.converters.converter")
    dtype_map = {quantize: True} if quantize else None
    converter.dispatch_keras_h5_to_tfjs_layers_model_conversion(
        str(source.path), str(out_dir), quantization_dtype_map=dtype_map,
        weight_shard_size_bytes=SHARD_BYTES)
    notes = ["tensorflowjs 4.22.0 `keras` → `tfjs_layers_model` conversion of model.h5"]
    if quantize:
        notes.append(f"weights quantized to {quantize} (affine min/scale per weight for uint8); "
                     "TF.js dequantizes to float32 at load")
    return notes


FORMATS = [
    Format("tfjs-layers", "tfjs", LIBRARY, _write, entry="model.json"),
    Format("tfjs-layers-f16", "tfjs", LIBRARY, partial(_write, quantize="float16"),
           entry="model.json", precision="float16", variant=True),
    Format("tfjs-layers-u8", "tfjs", LIBRARY, partial(_write, quantize="uint8"),
           entry="model.json", precision="uint8", variant=True),
]
