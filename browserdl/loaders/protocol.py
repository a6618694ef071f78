"""The protocol a trial ran under: a hash of the sources that produced its numbers, so a
changed harness, adapter, worker or user library re-measures instead of reusing stale rows."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from browserdl.loaders.runtimes import JS_DIR, PAGES_DIR, RUNTIMES
from browserdl.results.records import Kind

LOADERS = Path(__file__).parent
# Bump when the Python side of a measurement changes what a number means (its sources are not
# hashed: an edit there rarely changes a number, and hashing them would re-measure on any edit).
PYTHON_SIDE = {Kind.LOAD: 1, Kind.TRAIN: 1, Kind.ACCURACY: 1, Kind.SIZE: 1}
_PAGE = (PAGES_DIR / "harness.html", JS_DIR / "harness.js", JS_DIR / "common.js")
_NODE = (JS_DIR / "node_run.js", JS_DIR / "common.js")
_SHARED_WORKER = LOADERS / "native_worker.py"  # every worker's timing protocol (Phases, emit)
_TRAIN_WORKER = LOADERS / "native_train_worker.py"


def for_trial(kind: Kind, runtime: str, libraries: Mapping[str, Path] | None = None,
              in_node: bool = False) -> str:
    """The protocol of a `kind` trial of `runtime`: 12 hex digits."""
    libraries = libraries or {}
    if kind is Kind.SIZE or runtime not in RUNTIMES:
        return _digest(str(kind), PYTHON_SIDE[kind], ())
    record = RUNTIMES[runtime]
    if record.native:
        worker = _TRAIN_WORKER if kind is Kind.TRAIN else LOADERS / f"{record.worker.rsplit('.', 1)[-1]}.py"
        files = tuple(dict.fromkeys((worker, _SHARED_WORKER)))
    else:
        files = (*(_NODE if in_node else _PAGE), record.adapter)
        if runtime in libraries:
            files += (Path(libraries[runtime]),)
    return _digest(str(kind), PYTHON_SIDE[kind], tuple(str(f) for f in files))


@cache
def _digest(kind: str, version: int, files: tuple[str, ...]) -> str:
    h = hashlib.sha256(f"{kind}:{version}".encode())
    for name in files:
        path = Path(name)
        h.update(path.name.encode())
        h.update(path.read_bytes() if path.is_file() else b"missing")
    return h.hexdigest()[:12]
