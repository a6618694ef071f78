"""Running the PyPI `webdnn==1.2.11` transpiler on Python 3.11 / NumPy 2, without editing it.

WebDNN 1.2.11 (2019) still uses names that Python 3.10 and NumPy 1.24 removed, imports
`pkg_resources` unconditionally, and its `generate_descriptor` raises the process-wide
recursion limit and thread stack size and leaves them so. `load()` imports it with the missing
names put back (only where absent); `generate()` runs the generator in its own thread with a
large stack and restores what it changed. The webassembly backend shells out to `em++`:
`emscripten_env()` finds what that needs.
"""

from __future__ import annotations

import collections
import collections.abc
import importlib
import importlib.util
import os
import shutil
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

# Removed from `collections` in Python 3.10 (webdnn.graph.operators.util imports Collection).
_COLLECTIONS_ABC = ("Collection", "Iterable", "Sequence", "Mapping", "MutableMapping", "Callable")
# Removed from NumPy in 1.24 (webdnn.util.json tests isinstance(obj, np.int) / np.float).
_NUMPY_ALIASES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "object": object}
# Deep graphs recurse deeply in copy.deepcopy and the optimizer; WebDNN asks for the same.
_STACK_BYTES = 64 * 1024 * 1024
_RECURSION_LIMIT = 16384
# Debian's emscripten runs its JS tools with the `node` on PATH but finds `acorn` only in
# Debian's own Node module folder; WebDNN's kernels include <Eigen/Dense>.
_DEBIAN_NODE_MODULES = Path("/usr/share/nodejs")
_EIGEN_DIRS = (Path("/usr/include/eigen3"), Path("/usr/local/include/eigen3"))


def _put_back_removed_names() -> None:
    for name in _COLLECTIONS_ABC:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:  # hasattr would trip NumPy's "removed alias" error path
            setattr(np, name, value)


def _no_distribution(name: str) -> None:
    raise LookupError(name)  # webdnn then reports its version as "1.x.x.git"


def load() -> types.ModuleType:
    """Import `webdnn` (idempotent); a missing package gives an ImportError naming the pin."""
    if "webdnn.backend" in sys.modules:
        return sys.modules["webdnn"]
    if importlib.util.find_spec("webdnn") is None:
        raise ImportError("the WebDNN transpiler is not installed: pip install webdnn==1.2.11")
    _put_back_removed_names()
    stub = None
    if importlib.util.find_spec("pkg_resources") is None:
        # Newer setuptools ship no pkg_resources; webdnn only asks it for its own version.
        stub = types.ModuleType("pkg_resources")
        stub.require = _no_distribution  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = stub
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources' deprecation notice
            module = importlib.import_module("webdnn")
            importlib.import_module("webdnn.backend")
    finally:
        if stub is not None and sys.modules.get("pkg_resources") is stub:
            del sys.modules["pkg_resources"]
    module.util.flags.NO_WORKER_THREAD = True  # generate() brings its own thread
    return module


def in_big_stack(fn: Callable[[], T]) -> T:
    """Run `fn` in a thread with WebDNN's stack and recursion limit, restoring both after."""
    result: list[T] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    old_stack, old_limit = threading.stack_size(), sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, _RECURSION_LIMIT))
    try:
        threading.stack_size(_STACK_BYTES)
        try:
            worker = threading.Thread(target=work, name="webdnn-generate")
            worker.start()
        finally:
            threading.stack_size(old_stack)  # only this one thread gets the big stack
        worker.join()
    finally:
        sys.setrecursionlimit(old_limit)
    if error:
        raise error[0]
    return result[0]


def generate(backend: str, graph: Any, **kwargs: Any) -> Any:
    """`webdnn.backend.generate_descriptor(backend, graph)`, without its global side effects."""
    webdnn = load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its console.warning is warnings.warn; nothing we act on
        return in_big_stack(lambda: webdnn.backend.generate_descriptor(backend, graph, **kwargs))


def save(data: Any, out_dir: Path) -> None:
    """`data.save(out_dir)`: the webassembly descriptor still reads its meta buffers with NumPy's
    deprecated binary `fromstring`; that warning is WebDNN's, not the user's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        data.save(str(out_dir))


def emscripten_env() -> dict[str, str] | str:
    """The variables em++ needs to compile WebDNN's kernels, or why it can't run here."""
    if shutil.which("em++") is None:
        return "needs emscripten's em++ at conversion time (Debian: apt-get install emscripten)"
    env: dict[str, str] = {}
    include = [p for p in os.environ.get("CPLUS_INCLUDE_PATH", "").split(os.pathsep) if p]
    if not any((Path(p) / "Eigen" / "Dense").is_file() for p in include):
        eigen = next((d for d in _EIGEN_DIRS if (d / "Eigen" / "Dense").is_file()), None)
        if eigen is None:
            return ("needs the Eigen C++ headers at conversion time (Debian: apt-get install "
                    "libeigen3-dev, or put their folder on CPLUS_INCLUDE_PATH)")
        include.append(str(eigen))
    env["CPLUS_INCLUDE_PATH"] = os.pathsep.join(include)
    if _DEBIAN_NODE_MODULES.is_dir():
        node_path = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
        env["NODE_PATH"] = os.pathsep.join([*node_path, str(_DEBIAN_NODE_MODULES)])
    return env


@contextmanager
def environment(changes: dict[str, str]) -> Iterator[None]:
    """WebDNN calls em++ with the process environment: set these variables for the call only."""
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
