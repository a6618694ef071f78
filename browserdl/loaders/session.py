"""A browser session: the loopback server plus one target's browser (launched here, or reached at
a URL) through its protocol's driver, for many page runs, each in a fresh context."""

from __future__ import annotations

import json
import re
import threading
from contextlib import ExitStack
from functools import cached_property
from pathlib import Path
from typing import Any

from browserdl.errors import UserError
from browserdl.loaders.drivers import TargetSpec, driver_for
from browserdl.loaders.drivers.base import Context, Page, call_expression, parse_result
from browserdl.loaders.drivers.xvfb import display_for
from browserdl.loaders.metrics import TrialMeter
from browserdl.loaders.network import NetworkProfile
from browserdl.loaders.runtimes import GL_BACKENDS, JS_DIR, PAGES_DIR
from browserdl.loaders.server import LoopbackServer
from browserdl.loaders.targets import browser_target, ready
from browserdl.results.records import Target
from browserdl.workspace import Workspace, node_modules

PAGE = "/pages/harness.html"
# Grace after the page's own timer: a busy loop in the page blocks that timer, and then only
# killing the page's process ends the call (for a browser launched here).
KILL_GRACE_S = 5.0
LOCAL = TargetSpec("chromium", "chromium")
_COLLECT_ERRORS = """(() => { self.__pageErrors = [];
  addEventListener('error', (e) => self.__pageErrors.push(String(e.message)));
  addEventListener('unhandledrejection', (e) => self.__pageErrors.push(String(e.reason)));
  return 'null'; })()"""


class BrowserSession:
    """`with BrowserSession(ws, spec) as s: s.run(...)` (parity) or `s.measure(...)` (timing)."""

    def __init__(self, ws: Workspace, spec: TargetSpec = LOCAL,
                 libraries: dict[str, Path] | None = None) -> None:
        self.ws = ws
        self.spec = spec
        self.libraries = libraries or {}  # runtime -> user-supplied library file
        self._stack = ExitStack()

    def __enter__(self) -> BrowserSession:
        mounts: dict[str, Path | str] = {
            "/node_modules/": node_modules(), "/formats/": self.ws.formats,
            "/cache/": self.ws.cache, "/js/": JS_DIR, "/pages/": PAGES_DIR,
        }
        mounts.update({f"/lib/{name}/": path.parent for name, path in self.libraries.items()})
        try:
            self.server = self._stack.enter_context(LoopbackServer(mounts, host=self.spec.serve_host))
            self.spec = ready(self.spec)
            self.driver = driver_for(self.spec, display_for(self.spec.kind, self._stack))
            self.driver.start()
        except BaseException:
            self._stack.close()
            raise
        self._stack.callback(self.driver.stop)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def describe(self) -> dict[str, Any]:
        """The browser part of a trial's environment."""
        return {"browser": f"{self.driver.engine} {self.driver.version}", "driver": self.driver.protocol,
                "fresh_trial": self.driver.context_kind, **self.driver.describe()}

    @cached_property
    def page_info(self) -> dict[str, Any]:
        """What the harness page says of this browser (harness.js `environment`), read once."""
        context = self.driver.new_context()
        try:
            return json.loads(self.open_page(context, 60).evaluate(
                "browserdl.environment().then(JSON.stringify)", 60))
        except RuntimeError as exc:
            raise UserError(f"target {self.spec.name}: the harness page did not open ({exc})") from None
        finally:
            context.close()

    @cached_property
    def target(self) -> Target:
        """Which browser this session measures: its fingerprint."""
        return browser_target(self.spec, self.driver, self.page_info)

    def lacks(self, backend: str) -> str | None:
        """Why this browser cannot run a GPU backend at all (a trial there is n/a), or None."""
        engine = f"{self.spec.name} ({self.driver.version})"
        if backend == "webgpu" and not self.page_info.get("webgpu"):
            return f"{engine} has no WebGPU here (navigator.gpu is missing)"
        if backend in GL_BACKENDS and backend != "webgpu" and not self.page_info.get("renderer"):
            why = (" (headless Firefox has none: install xvfb to run it under Xvfb)"
                   if self.driver.engine == "firefox" and not self.driver.display else "")
            return f"{engine} gives no WebGL context{why}"
        return None

    def url(self, path: Path) -> str:
        """The server URL of a file or folder inside the workspace's formats or cache."""
        if path.is_relative_to(self.ws.cache):
            return "/cache/" + path.relative_to(self.ws.cache).as_posix()
        return "/formats/" + path.relative_to(self.ws.formats).as_posix()

    def shape(self, network: NetworkProfile | None) -> None:
        """Every response from now on goes out at this profile's rate and latency (None: as is)."""
        self.server.shaping = network

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        runtime = options.get("adapter")
        if runtime in self.libraries:
            options = {**options, "libraryUrl": f"/lib/{runtime}/{self.libraries[runtime].name}"}
        return options

    def open_page(self, context: Context, timeout_s: float) -> Page:
        return context.open(self.server.url + PAGE, timeout_s)

    def call(self, page: Page, name: str, options: dict[str, Any], timeout_s: float) -> Any:
        """browserdl[name](options) in the page, bounded by `timeout_s`; failures → RuntimeError."""
        watchdog = None
        fired = threading.Event()  # set before killing: the call may fail while the kill runs

        def kill() -> None:
            fired.set()
            self.driver.kill_hung()

        if self.spec.local:
            watchdog = threading.Timer(timeout_s + KILL_GRACE_S, kill)
            watchdog.daemon = True
            watchdog.start()
        try:
            return parse_result(page.evaluate(call_expression(name, options, timeout_s), timeout_s))
        except RuntimeError as exc:  # the adapter threw, the page crashed, or it hung
            if fired.is_set():
                raise RuntimeError(f"{options['adapter']}: page hung (busy), killed after "
                                   f"{timeout_s + KILL_GRACE_S:.0f} s") from None
            raise RuntimeError(re.sub(r"^(Uncaught )?Error: ", "", str(exc))) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()

    def run(self, timeout_s: float = 120, **options: Any) -> dict[str, Any]:
        """One load + batch (the parity check) in a fresh context, with the page's uncaught
        errors (`page_errors`: collected in the page, so every protocol reports them alike)."""
        context = self.driver.new_context()
        try:
            page = self.open_page(context, timeout_s)
            page.evaluate(_COLLECT_ERRORS, timeout_s)
            result = self.call(page, "run", self._options(options), timeout_s)
            result["page_errors"] = json.loads(page.evaluate("JSON.stringify(self.__pageErrors)", timeout_s))
            return result
        finally:
            context.close()

    def measure(self, options: dict[str, Any], timeout_s: float, warm: bool = False,
                network: NetworkProfile | None = None) -> dict[str, Any]:
        """One timed trial: load (library, download, parse, build), then warm-up, steady-state
        and batch inference; CPU use around each half, peak memory and JS heap (where known).
        `warm` loads once first in the same context, so the HTTP cache is warm. `network`
        shapes every response once the harness page is open (its own load is not timed)."""
        options = self._options(options)
        context = self.driver.new_context()
        try:
            if warm:
                first = self.open_page(context, timeout_s)
                self.shape(network)
                self.call(first, "measureLoad", options, timeout_s)
                self.shape(None)
            page = self.open_page(context, timeout_s)
            self.shape(network)
            with TrialMeter(self.driver, page) as meter:
                loaded = self.call(page, "measureLoad", options, timeout_s)
                meter.mark()
                inferred = self.call(page, "measureInference", options, timeout_s)
                meter.mark()
            return {
                "phases": {**loaded["phases"], **inferred["phases"]},
                "samples": inferred["samples"],
                "backend": loaded["backend"],
                "library_bytes": loaded["libraryBytes"],
                "threads": loaded["threads"],
                "transfer": loaded["transfer"],
                "env": loaded["env"],
                "output": inferred["output"],
                "cpu_load_percent": meter.cpu_percent(0, 1),
                "cpu_inference_percent": meter.cpu_percent(1, 2),
                "js_heap_bytes": meter.heap,
                "peak_rss_bytes": meter.peak_rss,
            }
        finally:
            self.shape(None)
            context.close()

    def train(self, options: dict[str, Any], timeout_s: float, window_ms: float) -> dict[str, Any]:
        """One training trial in a fresh context: load + warm-up batch, then the timed batches in
        chunks of at least `window_ms`, CPU use read around each chunk (Table 2's max/min/average
        come from these windows), then the probe's loss again."""
        options = self._options(options)
        name = {"adapter": options["adapter"]}
        context = self.driver.new_context()
        try:
            page = self.open_page(context, timeout_s)
            with TrialMeter(self.driver, page) as meter:
                started = self.call(page, "trainStart", options, timeout_s)
                times: list[float] = []
                losses: list[float] = []
                cpu: list[float | None] = []
                done = False
                while not done:
                    meter.mark()
                    chunk = self.call(page, "trainChunk", {**name, "minMs": window_ms}, timeout_s)
                    meter.mark()
                    cpu.append(meter.cpu_percent(-2, -1))
                    times += chunk["times"]
                    losses += chunk["losses"]
                    done = chunk["done"]
            finished = self.call(page, "trainFinish", name, timeout_s)
            return {**started, "times": times, "losses": losses,
                    "cpu_windows": [c for c in cpu if c is not None], "js_heap_bytes": meter.heap,
                    "peak_rss_bytes": meter.peak_rss, "lossAfter": finished["lossAfter"]}
        finally:
            context.close()
