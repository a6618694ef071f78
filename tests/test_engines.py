"""Every engine: Firefox (WebDriver BiDi) and WebKitGTK (classic WebDriver, under Xvfb) beside
Chromium on the same files; remote targets (two Playwright servers at once, a WebDriver URL like
a grid node); the loopback server's network shaping on every engine and against CDP's; bad
targets. Real engines only: each runs once per sweep below, shared by the tests."""

import os
import re
import shutil
import subprocess
import time

import pytest
from conftest import copy_of, playwright_server, run_cli

from browserdl.loaders.browser_runner import BrowserOptions
from browserdl.loaders.drivers.webdriver import find_minibrowser, webkit_capabilities
from browserdl.loaders.drivers.xvfb import Xvfb
from browserdl.loaders.network import PROFILES
from browserdl.loaders.parity import reference
from browserdl.loaders.session import BrowserSession
from browserdl.results.store import Store
from browserdl.workspace import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("studied")]  # one worker builds it

ENGINES = ("firefox", "webkit")
COMBOS = {("tfjs-layers", "tfjs", "cpu"), ("tfjs-layers", "tfjs", "wasm"),
          ("convnetjs", "convnetjs", "cpu"), ("brainjs", "brainjs", "cpu"),
          ("synaptic", "synaptic", "cpu"), ("webdnn-fallback", "webdnn", "fallback"),
          ("onnx", "ort", "wasm")}
TIMED = ("library", "download", "parse", "build", "warmup", "inference", "batch_inference")
SHAPED = ("measure", "loading", "--runtimes", "webdnn", "--backends", "fallback", "--network", "3g",
          "--trials", "1", "--runs", "2")
DRIVERS = {"chromium": "playwright", "firefox": "bidi", "webkit": "webdriver"}


@pytest.fixture(scope="module")
def swept(tmp_path_factory, studied):
    """The study's workspace (Chromium timed already) timed on firefox and webkit, trained there,
    and every engine through the server's 3g shaping."""
    ws = copy_of(studied[0], tmp_path_factory, "engines")
    loading = run_cli(ws, "measure", "loading", "--runtimes", "tfjs,convnetjs,brainjs,synaptic,webdnn,ort",
                      "--backends", "cpu,wasm,fallback", "--targets", "chromium,firefox,webkit",
                      "--trials", "1", "--runs", "5")
    assert loading.code == 0, loading.err
    training = run_cli(ws, "measure", "training", "--runtimes", "tfjs", "--backends", "cpu",
                       "--targets", ",".join(ENGINES), "--trials", "1", "--batches", "5")
    assert training.code == 0, training.err
    shaped = run_cli(ws, *SHAPED, "--targets", "chromium,firefox,webkit")
    assert shaped.code == 0, shaped.err
    with Store(ws / "results.sqlite") as store:
        return ws, loading, list(store.rows()), store.environments(), store.targets()


def _phases(rows, target, combo, settings=None):
    return {r["phase"]: r for r in rows if r["target"] == target and r["kind"] == "load"
            and (r["format"], r["runtime"], r["backend"]) == combo
            and r["settings"] == (settings or {"cache": "cold"})}


def test_every_engine_loads_with_parity_and_times_every_phase(swept):
    _, loading, rows, envs, targets = swept
    assert "trials measured" in loading.err and "failed" not in loading.err.split("measured")[0]
    for engine in ENGINES:
        for combo in COMBOS:
            phases = _phases(rows, engine, combo)
            assert phases and all(r["ok"] for r in phases.values()), (engine, combo, phases)
            assert all(phases[p]["value"] > 0 for p in TIMED), (engine, combo)
            build = phases["build"]
            assert build["detail"]["backend_used"] == combo[2]  # the page said so
            assert build["detail"]["max_diff"] <= 1e-4  # the measured page computed Keras' outputs
            assert build["detail"]["threads"] == 1  # wasm threads pinned alike on every engine
            # no CDP: no JS heap; the process tree's CPU and memory instead (psutil)
            assert "js_heap" not in phases and phases["peak_rss"]["value"] > 50e6
            assert 0 < phases["cpu_inference"]["value"] <= 100 * os.cpu_count() + 5
            env = envs[build["env_id"]]
            assert env["browser"].startswith(engine) and env["driver"] in ("webdriver bidi",
                                                                           "webdriver classic")
            assert env["cross_origin_isolated"] is True and env["timer_resolution_ms"] <= 0.02
        info = targets[engine]
        assert info["engine"] == engine and info["driver"] == DRIVERS[engine]
        assert info["cross_origin_isolated"] is True and info["timer_step_us"] <= 20
    assert targets["webkit"]["hardware_concurrency"] == 4  # on 2 cores: why threads are pinned
    assert "Across engines" in loading.out  # the measure command prints the engines side by side


def test_training_lowers_the_loss_on_each_engine(swept):
    _, _, rows, _, _ = swept
    for engine in ENGINES:
        phases = {r["phase"]: r for r in rows if r["kind"] == "train" and r["target"] == engine}
        assert phases["train_batch"]["ok"] and len(phases["train_batch"]["samples"]) == 5
        assert phases["train_batch"]["value"] > 0
        assert phases["loss_after"]["value"] < phases["loss_before"]["value"], engine


def test_the_server_shapes_3g_for_every_engine(swept):
    _, _, rows, _, _ = swept
    bytes_per_ms = PROFILES["3g"].down_kbps * 1000 / 8 / 1000
    for target in ("chromium", *ENGINES):
        phases = _phases(rows, target, ("webdnn-fallback", "webdnn", "fallback"),
                         {"cache": "cold", "network": "3g"})
        sent = phases["transfer_model"]["value"]
        assert sent > 200_000  # dnn-d1-w64's float32 weights
        assert phases["download"]["value"] >= sent / bytes_per_ms, target  # ≥ 1.1 s at 1.6 Mbit/s
        assert phases["download"]["value"] < 2 * sent / bytes_per_ms + 2_000, target
        assert phases["library"]["value"] >= phases["transfer_library"]["value"] / bytes_per_ms


def _download(session, options, profile, cdp):
    context = session.driver.new_context()
    try:
        page = session.open_page(context, 60)
        if cdp:  # Chromium's own emulation, the server serving as is
            emulation = context.context.new_cdp_session(page.page)
            emulation.send("Network.enable")
            emulation.send("Network.emulateNetworkConditions", profile.cdp())
        else:
            session.shape(profile)
        try:
            return session.call(page, "measureLoad", options, 60)["phases"]["download"]
        finally:
            session.shape(None)
    finally:
        context.close()


def test_server_shaping_matches_cdp_emulation_in_chromium(swept):
    ws = Workspace(swept[0])
    ref = reference(ws, "dnn-d1-w64")
    profile = PROFILES["3g"]
    with BrowserSession(ws) as session:
        options = {"adapter": "webdnn", "backend": "fallback",
                   "formatUrl": session.url(ws.formats / "dnn-d1-w64" / "webdnn-fallback"),
                   "inputUrl": session.url(ref.input_path), "shape": list(ref.inputs.shape),
                   "runs": BrowserOptions().runs}
        server = _download(session, options, profile, cdp=False)
        cdp = _download(session, options, profile, cdp=True)
    assert abs(server / cdp - 1) < 0.15, (server, cdp)


def test_report_compares_the_engines(swept):
    ws = swept[0]
    ran = run_cli(ws, "report", "--html")
    assert ran.code == 0, ran.err
    for title in ("Across engines", "Table 1 per target", "Targets"):
        assert title in ran.out, title
    across = ran.out[ran.out.index("Across engines"):]
    assert any("tfjs/wasm" in line and "firefox" in line and "×)" in line
               for line in across.splitlines()), across[:3000]
    html = (ws / "report" / "index.html").read_text()
    assert "Across engines — inference, one sample" in html and "bidi" in html
    assert (ws / "report" / "figures" / "engines-inference.png").stat().st_size > 10_000


def test_two_playwright_servers_are_two_remote_targets_measured_at_once(swept, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(swept[0], ws)
    with playwright_server() as first, playwright_server() as second:
        ran = run_cli(ws, "measure", "loading", "--runtimes", "tfjs", "--formats", "tfjs-layers",
                      "--backends", "cpu", "--trials", "3", "--runs", "3", "--target-url", f"lab-a={first}",
                      "--target-url", f"lab-b={second}")
    assert ran.code == 0 and "6 trials measured" in ran.err, ran.err
    with Store(ws / "results.sqlite") as store:
        rows = [r for r in store.rows() if r["phase"] == "inference" and r["target"] in ("lab-a", "lab-b")]
        targets = store.targets()
    assert targets["lab-a"]["endpoint"] == first and targets["lab-b"]["endpoint"] == second
    spans = {name: [(r["detail"]["started_unix"], r["detail"]["started_unix"] + r["wall_s"])
                    for r in rows if r["target"] == name] for name in ("lab-a", "lab-b")}
    assert all(len(s) == 3 for s in spans.values()) and all(r["ok"] for r in rows)
    # concurrently: some trial of one ran while a trial of the other did
    assert any(a0 < b1 and b0 < a1 for a0, a1 in spans["lab-a"] for b0, b1 in spans["lab-b"]), spans


def test_a_webdriver_url_target_works_like_a_grid_node(swept, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(swept[0], ws)
    binary = find_minibrowser()
    port = 4444 + os.getpid() % 1000
    with Xvfb() as display:
        node = subprocess.Popen([shutil.which("WebKitWebDriver"), f"--port={port}"],
                                env={**os.environ, "DISPLAY": display, "JSC_useSharedArrayBuffer": "true"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            caps = webkit_capabilities(binary)
            (ws / "targets.toml").write_text(
                f'[grid-webkit]\nurl = "http://127.0.0.1:{port}"\nkind = "webdriver"\n'
                f'capabilities = {{ browserName = "{caps["browserName"]}", '
                f'"webkitgtk:browserOptions" = {{ binary = "{binary}", args = ["--automation"] }} }}\n')
            ran = run_cli(ws, "measure", "loading", "--runtimes", "tfjs", "--formats", "tfjs-layers",
                          "--backends", "cpu", "--trials", "1", "--runs", "3", "--targets", "grid-webkit")
        finally:
            node.kill()
            node.wait(10)
    assert ran.code == 0 and "1 trials measured" in ran.err, ran.err
    with Store(ws / "results.sqlite") as store:
        phases = {r["phase"]: r for r in store.rows() if r["target"] == "grid-webkit"}
        info = store.targets()["grid-webkit"]
    assert phases["inference"]["ok"] and phases["build"]["detail"]["max_diff"] <= 1e-4
    assert info["engine"] == "webkit" and info["driver"] == "webdriver"
    assert info["endpoint"] == f"http://127.0.0.1:{port}"
    assert "peak_rss" not in phases  # a remote browser's processes are not ours to read


def test_bad_targets_get_one_line_and_the_other_targets_go_on(swept, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(swept[0], ws)
    sweep = ("measure", "loading", "--runtimes", "tfjs", "--formats", "tfjs-layers", "--backends", "cpu",
             "--trials", "1", "--runs", "3")
    unknown = run_cli(ws, *sweep, "--targets", "chromium,safari")
    assert unknown.code == 2 and len(unknown.err_lines) == 1 and "unknown target 'safari'" in unknown.err
    ran = run_cli(ws, *sweep, "--targets", "chromium,firefox", "--target-url", "gone=ws://127.0.0.1:9/x",
                  env={"BROWSERDL_FIREFOX": "/no/firefox"})
    assert ran.code == 1, ran.err
    assert "0 trials measured, 1 already stored" in ran.err  # chromium went on (stored by the study)
    gone = [line for line in ran.err_lines if "gone" in line]
    missing = [line for line in ran.err_lines if "BROWSERDL_FIREFOX" in line]
    assert len(gone) == 1 and "cannot connect" in gone[0] and len(missing) == 1, ran.err
    broken = run_cli(ws, *sweep, "--target-url", "nothing")
    assert broken.code == 2 and len(broken.err_lines) == 1 and "NAME=URL" in broken.err
    (ws / "targets.toml").write_text("[lab]\nkind = 'grid'\n")
    bad = run_cli(ws, *sweep, "--targets", "lab")
    assert bad.code == 2 and len(bad.err_lines) == 1 and "targets.toml" in bad.err


def test_doctor_has_a_row_per_target(tmp_path):
    from browserdl.doctor import probe_targets

    reports = {r.name: r for r in probe_targets(tmp_path)}
    assert set(reports) == {"chromium", "firefox", "webkit"}
    for name, report in reports.items():
        assert report.launches and report.detail["isolated"] is True, (name, report.error)
        assert report.detail["shared"] is True  # wasm threads possible everywhere
        assert report.detail["stepMs"] <= 0.02
    assert "swiftshader" in reports["chromium"].detail["webgl2"].lower()
    assert "llvmpipe" in reports["firefox"].detail["webgl2"]  # under Xvfb: headless has none
    assert reports["webkit"].detail["cores"] == 4 and reports["firefox"].driver == "webdriver bidi"


def test_a_hanging_page_is_killed_on_every_engine_and_the_next_trial_runs(swept, tmp_path):
    """A tampered synaptic weight that is an endless loop (see test_browser_loading): the page's
    timer cannot fire, so the driver kills the browser's page processes, and the engine starts
    again for the next trial."""
    ws = tmp_path / "ws"
    shutil.copytree(swept[0], ws)
    network = ws / "formats" / "dnn-d1-w64" / "synaptic" / "network.json"
    network.write_text(re.sub(r'"weight":[^,]+,', '"weight":"(function(){while(true){}})()",',
                              network.read_text(), count=1))
    started = time.perf_counter()
    ran = run_cli(ws, "measure", "loading", "--runtimes", "synaptic", "--trials", "2", "--runs", "2",
                  "--timeout", "5", "--force", "--targets", ",".join(ENGINES))
    assert ran.code == 1, ran.err
    failures = [line for line in ran.err_lines if line.startswith("failed")]
    assert len(failures) == 4 and all("hung" in line for line in failures), ran.err
    assert {engine for engine in ENGINES if any(f"on {engine}" in line for line in failures)} == set(ENGINES)
    assert "not measured" not in ran.err  # each engine came back for its second trial
    assert time.perf_counter() - started < 150
