"""Shared fixtures: the real CLI in a subprocess, and one trained workspace per test session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# what every `measure` command ends with, and the title of a table only `report` and `study` show
POINTER = "all tables, plots and findings: `browserdl report`"
FINDINGS_TITLE = "The paper's findings (Table 6)"


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `pytest -n 2 --dist loadgroup` (make test) a module's tests stay on one worker, so its
    module-scoped workspaces are built once; modules that read the shared study join its group."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def run_cli(workspace: Path, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> Ran:
    env = {**os.environ, "BROWSERDL_WORKSPACE": str(workspace), "COLUMNS": "200", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "browserdl", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding a trained dnn-d1-w64 (read-only for tests: copy it to change it)."""
    ws = tmp_path_factory.mktemp("trained")
    ran = run_cli(ws, "train", "--models", "dnn-d1-w64")
    assert ran.code == 0, ran.err
    return ws


@pytest.fixture(scope="session")
def converted_all(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """trained's dnn-d1-w64 converted into every format, parity checked (read-only: copy it)."""
    ws = tmp_path_factory.mktemp("converted-all")
    shutil.copytree(trained, ws, dirs_exist_ok=True)
    ran = run_cli(ws, "convert", "all-formats")
    assert ran.code == 0, ran.err
    return ws


@pytest.fixture(scope="session")
def small_sweep(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real sweep shared by the report tests (read-only: copy it): dnn-d1-w64 converted to
    keras-h5, tfjs-layers and convnetjs, sizes measured, timed natively and in headless Chromium
    (cpu, webgl), 2 cold trials of 5 runs each."""
    ws = tmp_path_factory.mktemp("small-sweep")
    shutil.copytree(trained, ws, dirs_exist_ok=True)
    for args in (("convert", "all-formats", "--formats", "keras-h5,tfjs-layers,convnetjs"),
                 ("measure", "sizes"),
                 ("measure", "loading", "--runtimes", "native,tfjs,convnetjs", "--backends",
                  "cpu,webgl", "--trials", "2", "--runs", "5")):
        ran = run_cli(ws, *args)
        assert ran.code == 0, ran.err
    return ws


@pytest.fixture(scope="session")
def studied(converted_all: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ran]:
    """`study --models dnn-d1-w64 --trials 1` on a copy of converted_all, and what it printed
    (read-only: copy it). Every stage once: test_study checks the stages, test_browser_loading
    its loading stage (every runtime and backend, natively too: 1 cold trial of 10 runs)."""
    ws = copy_of(converted_all, tmp_path_factory, "study")
    ran = run_cli(ws, "study", "--models", "dnn-d1-w64", "--trials", "1", timeout=1200)
    assert ran.code == 0, ran.err
    return ws, ran


@contextmanager
def playwright_server() -> Iterator[str]:
    """A Playwright browser server (Chromium) on loopback, as a remote machine would run one:
    yields its ws:// endpoint."""
    import playwright

    from browserdl.loaders.browser import LAUNCH_ARGS, find_chromium

    driver = os.path.join(os.path.dirname(playwright.__file__), "driver")
    script = ("const pw = require(process.argv[1]);"
              "pw.chromium.launchServer(JSON.parse(process.argv[2])).then(s => {"
              " console.log(s.wsEndpoint()); process.stdin.on('end', () => s.close());"
              " process.stdin.resume(); });")
    options = {"executablePath": str(find_chromium()), "host": "127.0.0.1",
               "args": [*LAUNCH_ARGS, "--headless=new"]}
    server = subprocess.Popen([os.path.join(driver, "node"), "-e", script,
                               os.path.join(driver, "package"), json.dumps(options)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        endpoint = server.stdout.readline().strip()
        assert endpoint.startswith("ws://127.0.0.1:"), endpoint
        yield endpoint
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def copy_of(source: Path, factory: pytest.TempPathFactory, name: str) -> Path:
    """A module's own copy of a shared workspace."""
    ws = factory.mktemp(name) / "ws"
    shutil.copytree(source, ws)
    return ws


@pytest.fixture
def workspace_copy(trained: Path, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(trained, ws)
    return ws


def train_workspace(factory: pytest.TempPathFactory, name: str, models: tuple[str, ...]):
    """A fresh workspace (for one test module) with these models trained."""
    from browserdl.workspace import Workspace

    root = factory.mktemp(name)
    ran = run_cli(root, "train", "--models", ",".join(models))
    assert ran.code == 0, ran.err
    return Workspace.open(root)


def convert_one(ws, model_id: str, fmt):
    """Convert one trained model into `fmt` (reusing an up-to-date conversion)."""
    from browserdl.converter.convert import convert, read_source

    source, digest = read_source(ws, model_id)
    return convert(ws, source, fmt, digest)


def trial_key(model: str, fmt: str, runtime: str, backend: str, setting: str = "", trial: int = 0,
              target: str | None = None, protocol: str = "test"):
    """A TrialKey for synthetic stores, written as v2 keys were: the kind follows from the
    setting text ("sizes", "accuracy", "train=…", else load), the target from the runtime."""
    from browserdl.loaders.runtimes import RUNTIMES
    from browserdl.results.migrate import legacy_kind, legacy_settings
    from browserdl.results.records import Target, TrialKey

    native = runtime in RUNTIMES and RUNTIMES[runtime].native
    name = target or ("native" if native or setting in ("sizes", "accuracy") else "chromium")
    return TrialKey(model, fmt, runtime, backend, legacy_kind(setting), legacy_settings(setting),
                    trial, Target.of(name, {"engine": name}), protocol)
