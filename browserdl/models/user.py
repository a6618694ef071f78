"""`browserdl add`: the user's own model registered under workspace/models/<id>/ like a zoo model.

What is stored: a copy of the file (the user's is only read), meta.json (kind, shapes, dtypes,
parameters, FLOPs where countable, source path and sha256), the inputs parity and timing feed it
(`input.npy`: the user's sample, else seeded random values of the declared shape, saying so) and,
when given, labelled data (`data/x.npy`, `data/y.npy`). Everything is written into a scratch
folder first: a refusal leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.errors import UserError
from browserdl.models import user_files
from browserdl.workspace import Workspace

FAMILY = "user"
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
INPUT_SEED = 0
LARGE_INPUT = 50_000  # values per sample above which the parity batch is 4, as for the applications


@dataclass(frozen=True)
class AddOptions:
    model_id: str | None = None
    sample: Path | None = None  # .npy: one sample or a batch
    input_shape: str | None = None  # "1,224,224,3": batch first
    data: str | None = None  # "X.npy,Y.npy": labelled data for accuracy and training
    force: bool = False


def sha256_of(path: Path) -> str:
    """Of a file, or of a folder's files (names and bytes, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        if path.is_dir():
            digest.update(str(p.relative_to(path)).encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def parse_shape(text: str) -> list[int]:
    """--input-shape 1,224,224,3 → [1, 224, 224, 3] (batch first); one line when it is not one."""
    try:
        dims = [int(part) for part in text.replace("x", ",").split(",")]
    except ValueError:
        dims = []
    if len(dims) < 2 or any(d < 1 for d in dims):
        raise UserError(f"--input-shape {text!r}: give positive integers, batch first, e.g. "
                        "--input-shape 1,224,224,3")
    return dims


def _default_id(path: Path) -> str:
    stem = path.name if path.is_dir() else path.stem
    if stem == "model" or not stem:
        stem = path.resolve().parent.name if not path.is_dir() else stem
    return re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-.") or "my-model"


def _resolve_shape(declared: list[int | None], given: list[int] | None,
                   sample: np.ndarray | None) -> list[int]:
    """Dynamic dimensions → --input-shape's, else the sample's, else 1."""
    if given is not None:
        if len(given) - 1 != len(declared):
            raise UserError(f"--input-shape {','.join(map(str, given))}: the model takes rank-"
                            f"{len(declared) + 1} inputs (batch first): {_show(declared)}")
        clash = [(d, g) for d, g in zip(declared, given[1:], strict=True) if d is not None and d != g]
        if clash:
            raise UserError(f"--input-shape {','.join(map(str, given))} does not fit the model's "
                            f"input {_show(declared)}")
        return given[1:]
    if sample is not None:
        return list(sample.shape[1:])
    return [d or 1 for d in declared]


def _show(shape: list[int | None]) -> str:
    return "[" + ", ".join("batch" if i == 0 else str(d if d else "?")
                          for i, d in enumerate([0, *shape])) + "]"


def _load_sample(path: Path, declared: list[int | None]) -> np.ndarray:
    try:
        sample = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"--input {path}: not a .npy array ({exc})") from None
    if sample.ndim == len(declared):
        sample = sample[None]  # one sample without its batch dimension
    if sample.ndim != len(declared) + 1 or any(
            d is not None and d != s for d, s in zip(declared, sample.shape[1:], strict=True)):
        raise UserError(f"--input {path.name}: shape {list(sample.shape)} does not fit the "
                        f"model's input {_show(declared)}")
    if not np.issubdtype(sample.dtype, np.floating) or not np.isfinite(sample).all():
        raise UserError(f"--input {path.name}: need finite float values, got {sample.dtype}")
    return sample.astype(np.float32)


def _load_data(text: str, shape: list[int], outputs: list[int]) -> tuple[np.ndarray, np.ndarray]:
    x_path, sep, y_path = text.partition(",")
    try:
        x = np.load(x_path, allow_pickle=False).astype(np.float32)
        y = np.load(y_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"--data {text}: give X.npy,Y.npy ({exc})") from None
    if not sep or list(x.shape[1:]) != shape or len(x) != len(y) or len(x) == 0:
        raise UserError(f"--data {text}: X must be (N, {', '.join(map(str, shape))}) and Y hold "
                        f"N labels; got {list(x.shape)} and {list(y.shape)}")
    if y.ndim == 1:  # class indices → one-hot, as the zoo's data
        y = np.eye(outputs[-1], dtype=np.float32)[y.astype(int)]
    return x, y.astype(np.float32)


def add(ws: Workspace, path: Path, options: AddOptions) -> dict[str, Any]:
    """Register `path`; returns its meta.json. Nothing is stored when anything is refused."""
    if not path.exists():
        raise UserError(f"{path} does not exist; give {user_files.ACCEPTED}")
    reader = user_files.READERS[user_files.detect(path)]
    given = parse_shape(options.input_shape) if options.input_shape else None
    model_id = options.model_id or _default_id(path)
    if not ID_PATTERN.fullmatch(model_id):
        raise UserError(f"--id {model_id!r}: use lower-case letters, digits, '.', '_' and '-'")
    from browserdl.models.zoo import parse

    try:
        parse(model_id)
    except UserError:
        pass  # not a zoo id: free to take
    else:
        raise UserError(f"'{model_id}' is a zoo model id; choose another with --id")
    digest = sha256_of(path)
    final = ws.model_dir(model_id)
    if (final / "meta.json").is_file() and not options.force:
        meta = json.loads((final / "meta.json").read_text())
        if meta.get("source", {}).get("sha256") != digest:
            taken_by = meta.get("source", {}).get("path", "a zoo model")
            raise UserError(f"model id '{model_id}' is taken by {taken_by}; pass --id NAME, or "
                            "--force to replace it")
    scratch = final.with_name(f".{model_id}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        meta = _register(path, scratch, reader, given, options, model_id, digest)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if sha256_of(path) != digest:  # the user's file is only ever read; say so if that broke
        shutil.rmtree(scratch, ignore_errors=True)
        raise UserError(f"{path} changed while it was read; add it again")
    shutil.rmtree(final, ignore_errors=True)
    scratch.rename(final)
    return meta


def _register(path: Path, out: Path, reader: Any, given: list[int] | None, options: AddOptions,
              model_id: str, digest: str) -> dict[str, Any]:
    read = reader(path, out)
    if read.kind == "keras":
        _keep_original(path, out / user_files.SOURCE / "original")
    if read.input_dtype != "float32" or any(d != "float32" for d in read.output_dtypes):
        raise UserError(f"{path.name} takes {read.input_dtype} and gives "
                        f"{', '.join(read.output_dtypes)}; browserdl feeds and compares float32")
    sample = _load_sample(options.sample, read.shape) if options.sample else None
    shape = _resolve_shape(read.shape, given, sample)
    per_sample = int(np.prod(shape))
    if sample is None:
        n = 4 if per_sample > LARGE_INPUT else 32
        sample = np.random.default_rng(INPUT_SEED).random((n, *shape), dtype=np.float32)
        inputs = (f"seeded random values in [0, 1) (seed {INPUT_SEED}), {n} × "
                  f"{'×'.join(map(str, shape))}")
    else:
        inputs = f"the user's sample {options.sample.name}, {len(sample)} × {'×'.join(map(str, shape))}"
    np.save(out / "input.npy", sample)
    output_shape: list[int | None] = []
    if read.run is not None:
        try:
            output_shape = list(np.asarray(read.run(sample[:1])).shape[1:])
        except Exception as exc:  # the model's own runtime refuses this input
            raise UserError(f"{path.name} does not run on a {_show(shape)} input "
                            f"({user_files._first_line(exc)}); pass --input-shape") from None
    meta: dict[str, Any] = {
        "id": model_id, "family": FAMILY, "task": FAMILY, "kind": read.kind,
        "description": f"{path.name}: {read.how}",
        "source": {"path": str(path.resolve()), "name": path.name, "sha256": digest,
                   "kind": read.kind, "how": read.how},
        "input_name": read.input_name, "input_shape": shape,
        "declared_input_shape": read.shape, "input_dtype": read.input_dtype,
        "output_shape": output_shape, "output_dtype": read.output_dtypes[0],
        "inputs": inputs, "batch": len(sample),
        "layers": read.layers, "ops": read.ops,
        "trainable_params": read.params, "total_params": read.params,
        "flops": read.flops, "loss": read.loss, "test_accuracy": None, "epochs": 0,
        "data_source": "", "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if options.data:
        x, y = _load_data(options.data, shape, [d or 1 for d in output_shape] or [1])
        (out / "data").mkdir()
        np.save(out / "data" / "x.npy", x)
        np.save(out / "data" / "y.npy", y)
        meta["data_source"] = f"user data {options.data} ({len(x)} samples)"
        meta["test_samples"] = len(x)
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def attach_data(ws: Workspace, model_id: str, data: str) -> dict[str, Any]:
    """`measure accuracy --data X.npy,Y.npy`: labelled data for an added model; its new meta."""
    if not is_user(ws, model_id):
        raise UserError(f"--data is for added models (`browserdl add`); {model_id} is a zoo model, "
                        "scored on the MNIST test digits")
    folder = ws.model_dir(model_id)
    meta = json.loads((folder / "meta.json").read_text())
    x, y = _load_data(data, meta["input_shape"], [d or 1 for d in meta["output_shape"]] or [1])
    (folder / "data").mkdir(exist_ok=True)
    np.save(folder / "data" / "x.npy", x)
    np.save(folder / "data" / "y.npy", y)
    meta.update(data_source=f"user data {data} ({len(x)} samples)", test_samples=len(x))
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _keep_original(path: Path, into: Path) -> None:
    """The user's file as given, beside the model.h5 made from it (a model.json with its shards)."""
    into.mkdir(parents=True)
    if path.is_dir():
        shutil.copytree(path, into / path.name)
    elif path.suffix.lower() == ".json":
        for group in json.loads(path.read_text())["weightsManifest"]:
            for shard in group["paths"]:
                shutil.copyfile(path.parent / shard, into / shard)
        shutil.copyfile(path, into / path.name)
    else:
        shutil.copyfile(path, into / path.name)


def is_user(ws: Workspace, model_id: str) -> bool:
    meta = ws.model_dir(model_id) / "meta.json"
    return meta.is_file() and json.loads(meta.read_text()).get("family") == FAMILY


def added_models(ws: Workspace) -> list[str]:
    """Ids of the user's models in this workspace, sorted."""
    return [m for m in ws.trained_models() if is_user(ws, m)]


def split_selection(ws: Workspace, pattern: str | None) -> tuple[str | None, list[str]]:
    """--models for `study`: (the zoo part of the globs, or None; the added models matched)."""
    if not pattern:
        return None, []
    import fnmatch

    added = added_models(ws)
    zoo_parts, chosen = [], []
    for part in (p.strip() for p in pattern.split(",") if p.strip()):
        hits = fnmatch.filter(added, part)
        chosen += hits
        if not hits:
            zoo_parts.append(part)
    return ",".join(zoo_parts) or None, list(dict.fromkeys(chosen))
