"""What every format module shares: the manifest it returns and the refusal it raises.

A format module exposes one or more `Format`s; `write(source, out_dir)` writes the files
into `out_dir` (empty, made by the caller) and returns the notes on how the model was
mapped (or a `Mapping` when the runtime adapter must transform the outputs). It raises
`Unsupported` naming the layer or activation the format can't express.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from browserdl.converter.source import SourceModel


class Unsupported(Exception):
    """The format cannot express this model faithfully; the message says which layer and why."""


# What a runtime adapter does to the library's raw outputs (manifest.outputs): the file can't
# say it. "softmax": the library has no softmax layer; "signed-pairs": the output layer holds
# +z then -z so that relu(z) - relu(-z) = z recovers logits a relu output would clip.
OUTPUT_TRANSFORMS = ("raw", "softmax", "signed-pairs", "signed-pairs-softmax")


@dataclass(frozen=True)
class Mapping:
    notes: list[str]
    outputs: str = "raw"  # one of OUTPUT_TRANSFORMS


@dataclass(frozen=True)
class Format:
    name: str  # the format id, e.g. tfjs-layers-f16
    runtime: str  # the runtime whose JS adapter loads it (loaders/js/adapters/<runtime>.js)
    library: str  # npm package@version the files are written for
    write: Callable[[SourceModel, Path], list[str] | Mapping]
    entry: str  # the file a loader starts from
    precision: str = "float32"  # float16 / uint8 for quantized formats: looser parity bounds
    backend: str = "cpu"  # the backend its parity check runs on (e.g. webdnn-webgl: webgl)
    pinned: bool = False  # compiled for `backend` alone (WebDNN); else any of the runtime's
    variant: bool = False  # an encoding variant (quantized): timed only when asked for by name
    reads: tuple[str, ...] = ("keras",)  # the source kinds `write` takes (converter/source.py)

    def backends(self, runtime_backends: tuple[str, ...]) -> tuple[str, ...]:
        """The backends this format can be timed on."""
        return (self.backend,) if self.pinned else runtime_backends


@dataclass(frozen=True)
class FileEntry:
    name: str
    bytes: int
    sha256: str


@dataclass
class Manifest:
    model: str
    format: str
    runtime: str
    library: str
    entry: str
    files: list[FileEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source_sha256: str = ""  # of the model.h5 it was converted from
    outputs: str = "raw"  # the adapter's output transform, see OUTPUT_TRANSFORMS

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def save(self, folder: Path) -> None:
        (folder / "manifest.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        raw = json.loads((folder / "manifest.json").read_text())
        raw["files"] = [FileEntry(**f) for f in raw["files"]]
        return cls(**raw)


def describe_files(folder: Path) -> list[FileEntry]:
    """Every file a format wrote (sub-folders included), as the loaders will fetch them."""
    return [
        FileEntry(str(p.relative_to(folder)), p.stat().st_size,
                  hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"
    ]
