"""A browser session: the loopback server plus one Chromium (launched here, or reached at an
endpoint), for many page runs, each in a fresh context (a cold HTTP cache)."""

from __future__ import annotations

import os
import re
import threading
from contextlib import ExitStack, suppress
from functools import cached_property
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from browserdl.errors import UserError
from browserdl.loaders.browser import find_chromium, launch
from browserdl.loaders.runtimes import JS_DIR, PAGES_DIR
from browserdl.loaders.server import LoopbackServer
from browserdl.loaders.targets import browser_target
from browserdl.results.records import Target
from browserdl.workspace import Workspace, node_modules

PAGE = "/pages/harness.html"
# Grace after the page's own timer: a busy loop in the page blocks that timer, and then only
# killing the renderer ends the call (for a browser launched here).
KILL_GRACE_S = 5.0

# set_default_timeout does not bound page.evaluate: the page races the call against a timer.
_WITH_TIMEOUT = """([name, options, ms]) => Promise.race([
  browserdl[name](options),
  new Promise((_, reject) => setTimeout(
    () => reject(new Error(`${options.adapter}: timed out after ${ms / 1000} s`)), ms)),
])"""


class BrowserSession:
    """`with BrowserSession(ws) as s: s.run(...)` (parity) or `s.measure(...)` (timing)."""

    def __init__(self, ws: Workspace, executable: Path | None = None,
                 libraries: dict[str, Path] | None = None, endpoint: str | None = None,
                 serve_host: str = "127.0.0.1") -> None:
        self.ws = ws
        self.executable = executable
        self.endpoint = endpoint
        self.serve_host = serve_host
        self.libraries = libraries or {}  # runtime -> user-supplied library file
        self._stack = ExitStack()
        self.browser: Browser

    def __enter__(self) -> BrowserSession:
        from playwright.sync_api import sync_playwright

        mounts: dict[str, Path | str] = {
            "/node_modules/": node_modules(), "/formats/": self.ws.formats,
            "/cache/": self.ws.cache, "/js/": JS_DIR, "/pages/": PAGES_DIR,
        }
        mounts.update({f"/lib/{name}/": path.parent for name, path in self.libraries.items()})
        self.server = self._stack.enter_context(LoopbackServer(mounts, host=self.serve_host))
        if not self.endpoint:
            self.executable = self.executable or find_chromium()
        self._playwright = self._stack.enter_context(sync_playwright())
        self._connect()
        self._stack.callback(lambda: self.browser.close())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _connect(self) -> None:
        chromium = self._playwright.chromium
        if not self.endpoint:
            self.browser = launch(self._playwright, self.executable)
            return
        try:  # a CDP endpoint (Chrome's --remote-debugging-port, a phone) or a Playwright server
            if self.endpoint.startswith("http") or "/devtools/browser/" in self.endpoint:
                self.browser = chromium.connect_over_cdp(self.endpoint)
            else:
                self.browser = chromium.connect(self.endpoint)
        except PlaywrightError as exc:
            raise UserError(f"--browser-endpoint {self.endpoint}: cannot connect "
                            f"({_first_line(exc)}); is the browser running and reachable?") from None

    def ensure_browser(self) -> None:
        """Relaunch (or reconnect) when the browser died, e.g. after a GPU process crash."""
        if not self.browser.is_connected():
            self._connect()

    def describe(self) -> dict[str, Any]:
        """The browser part of a trial's environment."""
        where = {"browser_endpoint": self.endpoint} if self.endpoint else {
            "browser_executable": str(self.executable or "")}
        return {"browser": f"{self.browser.browser_type.name} {self.browser.version}", **where}

    @cached_property
    def target(self) -> Target:
        """Which browser this session measures: its fingerprint, read once from a page."""
        self.ensure_browser()
        context = self.browser.new_context()
        try:
            page = self._open(context, 60)
            seen = page.evaluate("browserdl.environment()")
        finally:
            _close_quietly(context)
        return browser_target(self.browser.browser_type.name, self.browser.version, self.endpoint,
                              seen)

    def url(self, path: Path) -> str:
        """The server URL of a file or folder inside the workspace's formats or cache."""
        if path.is_relative_to(self.ws.cache):
            return "/cache/" + path.relative_to(self.ws.cache).as_posix()
        return "/formats/" + path.relative_to(self.ws.formats).as_posix()

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        runtime = options.get("adapter")
        if runtime in self.libraries:
            options = {**options, "libraryUrl": f"/lib/{runtime}/{self.libraries[runtime].name}"}
        return options

    def _open(self, context: BrowserContext, timeout_s: float) -> Page:
        page = context.new_page()
        page.set_default_timeout(timeout_s * 1000)
        page.goto(self.server.url + PAGE)
        return page

    def _call(self, page: Page, name: str, options: dict[str, Any], timeout_s: float) -> Any:
        """browserdl[name](options) in the page, bounded by `timeout_s`; failures → RuntimeError."""
        watchdog = None
        if not self.endpoint:
            watchdog = threading.Timer(timeout_s + KILL_GRACE_S, _kill_renderers)
            watchdog.daemon = True
            watchdog.start()
        try:
            return page.evaluate(_WITH_TIMEOUT, [name, options, timeout_s * 1000])
        except PlaywrightError as exc:  # the adapter threw, the page crashed, or it hung
            if watchdog is not None and not watchdog.is_alive():
                raise RuntimeError(f"{options['adapter']}: page hung (busy), renderer killed "
                                   f"after {timeout_s + KILL_GRACE_S:.0f} s") from None
            reason = _first_line(exc)
            if reason == "Target crashed":  # e.g. V8 out of memory compiling a giant function
                reason = ("the page's renderer crashed (Target crashed), e.g. out of memory: "
                          "the browser itself could not run this model")
            raise RuntimeError(reason) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()

    def run(self, timeout_s: float = 120, **options: Any) -> dict[str, Any]:
        """One load + batch (the parity check) in a fresh context."""
        self.ensure_browser()
        context = self.browser.new_context()
        try:
            page = self._open(context, timeout_s)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            result = self._call(page, "run", self._options(options), timeout_s)
            result["page_errors"] = errors
            return result
        finally:
            _close_quietly(context)

    def measure(self, options: dict[str, Any], timeout_s: float, warm: bool = False,
                network: dict[str, Any] | None = None) -> dict[str, Any]:
        """One timed trial: load (library, download, parse, build), then warm-up, steady-state
        and batch inference; with the renderer's CPU time and JS heap read over CDP between the
        two halves. `warm` loads once first in the same context, so the HTTP cache is warm.
        `network`: Network.emulateNetworkConditions parameters, applied to each page once it
        has loaded the harness (emulation belongs to a page, not to the context)."""
        self.ensure_browser()
        options = self._options(options)
        context = self.browser.new_context()
        try:
            if warm:
                first = self._open(context, timeout_s)
                _emulate(context.new_cdp_session(first), network)
                self._call(first, "measureLoad", options, timeout_s)
            page = self._open(context, timeout_s)
            cdp = context.new_cdp_session(page)
            _emulate(cdp, network)
            cdp.send("Performance.enable")
            before = _metrics(cdp)
            loaded = self._call(page, "measureLoad", options, timeout_s)
            middle = _metrics(cdp)
            inferred = self._call(page, "measureInference", options, timeout_s)
            after = _metrics(cdp)
            return {
                "phases": {**loaded["phases"], **inferred["phases"]},
                "samples": inferred["samples"],
                "backend": loaded["backend"],
                "library_bytes": loaded["libraryBytes"],
                "threads": loaded["threads"],
                "transfer": loaded["transfer"],
                "env": loaded["env"],
                "output": inferred["output"],
                "cpu_load_percent": _cpu_percent(before, middle),
                "cpu_inference_percent": _cpu_percent(middle, after),
                "js_heap_bytes": max(middle["JSHeapUsedSize"], after["JSHeapUsedSize"]),
            }
        finally:
            _close_quietly(context)


    def train(self, options: dict[str, Any], timeout_s: float, window_ms: float) -> dict[str, Any]:
        """One training trial in a fresh context: load + warm-up batch, then the timed batches in
        chunks of at least `window_ms`, the renderer's CPU use read over CDP around each chunk
        (Table 2's max/min/average come from these windows), then the probe's loss again."""
        self.ensure_browser()
        options = self._options(options)
        name = {"adapter": options["adapter"]}
        context = self.browser.new_context()
        try:
            page = self._open(context, timeout_s)
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            started = self._call(page, "trainStart", options, timeout_s)
            times: list[float] = []
            losses: list[float] = []
            cpu: list[float] = []
            done = False
            while not done:
                before = _metrics(cdp)
                chunk = self._call(page, "trainChunk", {**name, "minMs": window_ms}, timeout_s)
                cpu.append(_cpu_percent(before, _metrics(cdp)))
                times += chunk["times"]
                losses += chunk["losses"]
                done = chunk["done"]
            heap = _metrics(cdp)["JSHeapUsedSize"]
            finished = self._call(page, "trainFinish", name, timeout_s)
            return {**started, "times": times, "losses": losses, "cpu_windows": cpu,
                    "js_heap_bytes": heap, "lossAfter": finished["lossAfter"]}
        finally:
            _close_quietly(context)


def _emulate(cdp: Any, network: dict[str, Any] | None) -> None:
    if network:
        cdp.send("Network.enable")  # without it the conditions are accepted but not applied
        cdp.send("Network.emulateNetworkConditions", network)


def _metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def _cpu_percent(start: dict[str, float], end: dict[str, float]) -> float:
    """The renderer's CPU time over wall time, in % of one core (the paper's Table 2)."""
    wall = end["Timestamp"] - start["Timestamp"]
    return 100.0 * (end["ProcessTime"] - start["ProcessTime"]) / wall if wall > 0 else 0.0


def _kill_renderers() -> None:
    """End the renderers of browsers this process launched: a page stuck in a busy loop."""
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if any(arg == "--type=renderer" for arg in child.cmdline()):
                child.kill()
        except psutil.Error:
            continue


def _close_quietly(context: BrowserContext) -> None:
    with suppress(PlaywrightError):  # a crashed or disconnected browser has nothing to close
        context.close()


def _first_line(exc: PlaywrightError) -> str:
    first = (str(exc.message or exc).strip().splitlines() or ["no message"])[0]
    return re.sub(r"^(Page|BrowserType)\.\w+: (Error: )?", "", first)
