"""measure loading in the real headless Chromium: every runtime and backend, failures, hangs,
and a browser reached at an endpoint."""

import os
import re
import shutil
import time

import pytest
from conftest import copy_of, playwright_server, run_cli

from browserdl.converter.base import Manifest
from browserdl.results.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("studied")]  # one worker builds it

TIMED = {"library", "download", "parse", "build", "warmup", "inference", "batch_warmup",
         "batch_inference"}
RECORDED = TIMED | {"js_heap", "peak_rss", "cpu_load", "cpu_inference", "transfer_model",
                    "transfer_library"}
# every runtime/backend a dnn-d1-w64 can run on here (Mind refuses relu)
COMBOS = {(f, "tfjs", b) for f in ("tfjs-layers", "tfjs-graph")
          for b in ("cpu", "wasm", "webgl", "webgpu")} | {
    ("kerasjs", "kerasjs", "cpu"), ("kerasjs", "kerasjs", "gpu"),
    ("webdnn-fallback", "webdnn", "fallback"), ("webdnn-webgl", "webdnn", "webgl"),
    ("webdnn-webassembly", "webdnn", "webassembly"),
    ("convnetjs", "convnetjs", "cpu"), ("brainjs", "brainjs", "cpu"),
    ("synaptic", "synaptic", "cpu"), ("onnx", "ort", "wasm"), ("onnx", "ort", "webgpu"),
    ("onnx-webgl", "ort", "webgl")}


RUNS = 10  # the quick study's steady-state runs


@pytest.fixture(scope="module")
def converted(tmp_path_factory, studied):
    """Every format of dnn-d1-w64 after the shared study (conftest.studied), whose loading stage
    is the every-runtime sweep these tests read."""
    ws = copy_of(studied[0], tmp_path_factory, "loading")
    if not shutil.which("em++"):
        COMBOS.discard(("webdnn-webassembly", "webdnn", "webassembly"))
    return ws


@pytest.fixture(scope="module")
def swept(converted, studied):
    with Store(converted / "results.sqlite") as store:
        return studied[1], list(store.rows()), store.environments()


def _timing_rows(rows):
    """Cold loopback browser trials (not the study's network-profile ones)."""
    return [r for r in rows if r["kind"] == "load" and r["settings"] == {"cache": "cold"}]


def test_every_runtime_and_backend_stores_every_phase_positive(swept, converted):
    ran, rows, _ = swept
    rows = _timing_rows(rows)
    assert {(r["format"], r["runtime"], r["backend"]) for r in rows} == COMBOS
    for combo in COMBOS:
        phases = {r["phase"]: r for r in rows if (r["format"], r["runtime"], r["backend"]) == combo}
        assert set(phases) == RECORDED, combo
        assert all(phases[p]["value"] > 0 and phases[p]["unit"] == "ms" for p in TIMED), combo
        assert len(phases["inference"]["samples"]) == RUNS
        assert phases["js_heap"]["value"] > 100_000
        assert phases["peak_rss"]["value"] > 50e6  # Chromium's whole process tree, PSS
        # bytes on the wire, from the browser's resource timing: the files plus headers
        folder = converted / "formats" / "dnn-d1-w64" / combo[0]
        manifest = Manifest.load(folder)
        on_disk = manifest.total_bytes + (folder / "manifest.json").stat().st_size
        headers = 1_000 * (len(manifest.files) + 1)
        assert on_disk < phases["transfer_model"]["value"] < on_disk + headers, combo
        assert phases["transfer_library"]["value"] > 10_000, combo
        assert phases["build"]["detail"]["threads"] == 1  # wasm threads pinned to 1 by default
        for cpu in ("cpu_load", "cpu_inference"):  # % of one core: 0 … 100 × cores
            assert 0 <= phases[cpu]["value"] <= 100 * os.cpu_count() + 5, (combo, cpu)
    assert "software GPU" in ran.out
    assert "Browser ÷ native" in ran.out  # native rows ran in the same sweep


def test_isolation_timer_backend_and_outputs_are_the_ones_asked(swept):
    _, rows, envs = swept
    for row in _timing_rows(rows):
        env = envs[row["env_id"]]
        assert env["cross_origin_isolated"] is True
        assert env["timer_resolution_ms"] <= 0.01
        assert env["browser"].startswith("chromium") and env["runtime_library"]
        assert row["detail"]["backend_used"] == row["backend"]  # the page said so, not us
        assert row["detail"]["max_diff"] <= 1e-4  # the measured page computed the Keras outputs
    timed = _timing_rows(rows)
    tfjs = {envs[r["env_id"]]["runtime_library"] for r in timed if r["runtime"] == "tfjs"}
    assert tfjs == {"@tensorflow/tfjs@4.22.0"}
    webgl = next(r for r in timed if r["backend"] == "webgl")
    assert "SwiftShader" in envs[webgl["env_id"]]["renderer"]


def test_missing_or_corrupt_file_fails_its_trial_and_the_next_trial_runs(converted, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(converted, ws)
    (ws / "formats" / "dnn-d1-w64" / "tfjs-layers" / "group1-shard1of1.bin").unlink()
    (ws / "formats" / "dnn-d1-w64" / "convnetjs" / "model.json").write_text('{"layers": [')
    ran = run_cli(ws, "measure", "loading", "--runtimes", "tfjs,convnetjs", "--backends", "cpu",
                  "--trials", "2", "--runs", "3", "--force")
    assert ran.code == 1 and "Traceback" not in ran.err, (ran.code, ran.err)
    failures = [line for line in ran.err.splitlines() if line.startswith("failed")]
    assert len(failures) == 4  # 2 trials × 2 runtimes: each trial ran and failed on its own
    assert sum("HTTP 404" in line for line in failures) == 2
    assert sum("not valid JSON" in line for line in failures) == 2
    with Store(ws / "results.sqlite") as store:
        errors = {(r["runtime"], r["trial"]): r["error"] for r in store.rows()
                  if r["setting"] == "cache=cold" and not r["ok"]}
    assert set(errors) == {("tfjs", 0), ("tfjs", 1), ("convnetjs", 0), ("convnetjs", 1)}


def test_a_hanging_page_hits_the_timeout(converted, tmp_path):
    """synaptic compiles a network's numbers into JS source: a tampered weight that is an
    endless loop hangs the page, as a hostile or broken file would."""
    ws = tmp_path / "ws"
    shutil.copytree(converted, ws)
    network = ws / "formats" / "dnn-d1-w64" / "synaptic" / "network.json"
    text = network.read_text()
    text = re.sub(r'"weight":[^,]+,', '"weight":"(function(){while(true){}})()",', text, count=1)
    network.write_text(text)
    started = time.perf_counter()
    ran = run_cli(ws, "measure", "loading", "--runtimes", "synaptic", "--trials", "2",
                  "--runs", "2", "--timeout", "5", "--force")
    assert ran.code == 1
    failures = [line for line in ran.err.splitlines() if line.startswith("failed")]
    assert len(failures) == 2 and all("hung" in line or "timed out" in line for line in failures)
    assert time.perf_counter() - started < 90


def test_browser_endpoint_reaches_a_playwright_browser_server(converted, tmp_path):
    with playwright_server() as endpoint:
        ws = tmp_path / "ws"
        shutil.copytree(converted, ws)
        sweep = ("measure", "loading", "--runtimes", "tfjs", "--formats", "tfjs-layers", "--backends",
                 "cpu", "--trials", "1", "--runs", "3")
        local = run_cli(ws, *sweep)  # on the local Chromium (stored already by the study: skipped)
        assert local.code == 0 and "0 trials measured, 1 already stored" in local.err, local.err
        ran = run_cli(ws, *sweep, "--browser-endpoint", endpoint)  # another target: measured
        assert ran.code == 0 and "1 trials measured, 0 already stored" in ran.err, ran.err
        again = run_cli(ws, *sweep, "--browser-endpoint", endpoint)  # the same target: resumed
        assert "0 trials measured, 1 already stored" in again.err, again.err
        with Store(ws / "results.sqlite") as store:
            rows = [r for r in _timing_rows(store.rows()) if r["format"] == "tfjs-layers"
                    and r["backend"] == "cpu" and r["phase"] == "inference"]
            envs = store.environments()
            targets = store.targets()
        name = "chromium@" + endpoint.removeprefix("ws://").split("/")[0]
        assert sorted(r["target"] for r in rows) == sorted(["chromium", name])
        assert all(r["ok"] for r in rows)
        remote = next(r for r in rows if r["target"] == name)
        assert envs[remote["env_id"]]["browser_endpoint"] == endpoint
        assert targets[name]["endpoint"] == endpoint and targets["chromium"]["endpoint"] == ""
        assert targets[name]["user_agent"] and targets[name]["timer_step_us"] <= 10
        shown = run_cli(ws, "report")
        assert shown.code == 0, shown.err
        lines = [line for line in shown.out.splitlines() if "tfjs/cpu" in line]
        assert any(name in line for line in lines) and any(
            "chromium" in line and name not in line for line in lines), shown.out
    ran = run_cli(converted, "measure", "loading", "--runtimes", "tfjs", "--browser-endpoint",
                  "ws://127.0.0.1:9/nothing", "--force", "--trials", "1")
    said = [line for line in ran.err_lines if "cannot connect" in line]
    assert ran.code == 1 and len(said) == 1 and "127.0.0.1:9" in said[0], ran.err


def test_warm_cache_measures_a_second_load_in_the_same_context(converted, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(converted, ws)
    ran = run_cli(ws, "measure", "loading", "--runtimes", "tfjs", "--formats", "tfjs-layers",
                  "--backends", "cpu", "--cache", "warm", "--trials", "1", "--runs", "3")
    assert ran.code == 0, ran.err
    assert "warm cache" in ran.out and "In the browser" in ran.out
    with Store(ws / "results.sqlite") as store:
        warm = {r["phase"]: r["value"] for r in store.rows() if r["setting"] == "cache=warm"}
    assert set(warm) == RECORDED and all(warm[p] > 0 for p in TIMED)
    assert warm["transfer_model"] == 0  # every model file came from the HTTP cache
    assert run_cli(ws, "measure", "loading", "--cache", "hot").code == 2
