"""Writing one (model, format): into a scratch folder, then renamed into place.

A refusal or a crash leaves nothing behind; a finished folder always has its manifest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from browserdl.converter import FORMATS
from browserdl.converter.base import Format, Manifest, Mapping, Unsupported, describe_files
from browserdl.converter.source import SourceModel, read, read_added
from browserdl.errors import UserError
from browserdl.workspace import Workspace


@dataclass
class Outcome:
    model: str
    format: str
    folder: Path
    manifest: Manifest | None = None
    refused: str | None = None  # why the format can't express the model
    reused: bool = False  # already converted from this very model.h5


def lookup(names: list[str] | None) -> list[Format]:
    if not names:
        return list(FORMATS.values())
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise UserError(f"unknown format(s) {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    return [FORMATS[n] for n in names]


def source_digest(model_h5: Path) -> str:
    return hashlib.sha256(model_h5.read_bytes()).hexdigest()


def convert(ws: Workspace, source: SourceModel, fmt: Format, digest: str,
            force: bool = False) -> Outcome:
    folder = ws.formats / source.id / fmt.name
    outcome = Outcome(source.id, fmt.name, folder)
    if not force and (folder / "manifest.json").is_file():
        manifest = Manifest.load(folder)
        if manifest.source_sha256 == digest:
            outcome.manifest, outcome.reused = manifest, True
            return outcome
    if source.kind not in fmt.reads:
        outcome.refused = (f"{source.id} is an added {source.kind} model without Keras layers; "
                           f"{fmt.name} is written from Keras layers (formats that take it: "
                           f"{', '.join(f.name for f in FORMATS.values() if source.kind in f.reads)})")
        shutil.rmtree(folder, ignore_errors=True)
        return outcome
    scratch = folder.with_name(f".{fmt.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        written = fmt.write(source, scratch)
    except Unsupported as exc:
        outcome.refused = str(exc)
        shutil.rmtree(folder, ignore_errors=True)  # an older conversion no longer stands
        return outcome
    finally:
        if outcome.refused is not None or not any(scratch.iterdir()):
            shutil.rmtree(scratch, ignore_errors=True)
    mapping = written if isinstance(written, Mapping) else Mapping(written)
    manifest = Manifest(source.id, fmt.name, fmt.runtime, fmt.library, fmt.entry,
                        describe_files(scratch), mapping.notes, digest, mapping.outputs)
    manifest.save(scratch)
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    outcome.manifest = manifest
    return outcome


def read_source(ws: Workspace, model_id: str) -> tuple[SourceModel, str]:
    """The model a conversion starts from and the digest its manifests record."""
    folder = ws.model_dir(model_id)
    path = folder / "model.h5"
    if path.is_file():
        return read(path, model_id), source_digest(path)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        return read_added(folder, meta), meta["source"]["sha256"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{folder} holds neither a model.h5 nor a readable added model ({exc}); "
                        f"add it again with `browserdl add PATH --id {model_id} --force`") from None
