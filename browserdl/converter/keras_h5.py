"""keras-h5: the trained model file itself, the format native TensorFlow loads."""

from __future__ import annotations

import shutil
from pathlib import Path

from browserdl.converter.base import Format
from browserdl.converter.source import SourceModel


def _write(source: SourceModel, out_dir: Path) -> list[str]:
    shutil.copyfile(source.path, out_dir / "model.h5")
    return [f"the tf_keras {source.keras_version} HDF5 file in models/{source.id}/ (trained, or "
            "added), unchanged"]


FORMATS = [Format("keras-h5", "native", "tf_keras", _write, entry="model.h5")]
