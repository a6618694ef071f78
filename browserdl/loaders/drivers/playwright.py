"""CDP through Playwright: the local headless Chromium, a Playwright browser server (ws://…) or
a DevTools endpoint (http://host:9222: Chrome elsewhere, Chrome on a phone via adb forward)."""

from __future__ import annotations

import json
import re
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import Browser, BrowserContext
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page as PlaywrightPage

from browserdl.errors import UserError
from browserdl.loaders.browser import find_chromium, launch
from browserdl.loaders.drivers.base import Context, Driver, Page, TargetSpec, first_line


def _reason(exc: PlaywrightError) -> str:
    reason = re.sub(r"^(Page|BrowserType)\.\w+: (Error: )?", "", first_line(exc.message or exc))
    if reason == "Target crashed":  # e.g. V8 out of memory compiling a giant function
        reason = ("the page's renderer crashed (Target crashed), e.g. out of memory: "
                  "the browser itself could not run this model")
    return reason


class _Page(Page):
    def __init__(self, page: PlaywrightPage, context: BrowserContext) -> None:
        self.page = page
        self._cdp: Any = None
        self._context = context

    def evaluate(self, expression: str, timeout_s: float) -> str:
        try:
            return self.page.evaluate(expression)
        except PlaywrightError as exc:
            raise RuntimeError(_reason(exc)) from None

    def _metrics(self) -> dict[str, float]:
        if self._cdp is None:
            self._cdp = self._context.new_cdp_session(self.page)
            self._cdp.send("Performance.enable")
        return {m["name"]: m["value"] for m in self._cdp.send("Performance.getMetrics")["metrics"]}

    def heap_bytes(self) -> float | None:
        return self._metrics()["JSHeapUsedSize"]

    def renderer_cpu_s(self) -> float | None:
        return self._metrics()["ProcessTime"]


class _Context(Context):
    def __init__(self, context: BrowserContext) -> None:
        self.context = context

    def open(self, url: str, timeout_s: float) -> Page:
        try:
            page = self.context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.goto(url)
        except PlaywrightError as exc:
            raise RuntimeError(_reason(exc)) from None
        return _Page(page, self.context)

    def close(self) -> None:
        with suppress(PlaywrightError):  # a crashed or disconnected browser has nothing to close
            self.context.close()


class PlaywrightDriver(Driver):
    name = "playwright"
    protocol = "cdp (playwright)"
    context_kind = "new browser context"

    def __init__(self, spec: TargetSpec, display: str = "") -> None:
        super().__init__(spec, display)
        self.browser: Browser | None = None
        self._playwright: Any = None
        self.executable = Path(spec.executable) if spec.executable else None

    def start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._connect()
        except BaseException:
            self._playwright.stop()
            raise

    def _connect(self) -> None:
        chromium = self._playwright.chromium
        if self.spec.local:
            self.executable = self.executable or find_chromium()
            self.browser = launch(self._playwright, self.executable)
            return
        try:
            if self.spec.kind == "cdp":
                self.browser = chromium.connect_over_cdp(self.spec.url)
            else:
                self.browser = chromium.connect(self.spec.url)
        except PlaywrightError as exc:
            raise UserError(f"target {self.spec.name} ({self.spec.url}): cannot connect "
                            f"({_reason(exc)}); is the browser running and reachable?") from None

    def stop(self) -> None:
        if self.browser is not None:
            with suppress(PlaywrightError):
                self.browser.close()
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def alive(self) -> bool:
        return self.browser is not None and self.browser.is_connected()

    def new_context(self) -> Context:
        if not self.alive():  # e.g. after a GPU process crash, or a kill on hang
            self._connect()
        assert self.browser is not None
        try:
            return _Context(self.browser.new_context())
        except PlaywrightError as exc:  # the browser went away between the check and the call
            raise RuntimeError(_reason(exc)) from None

    @property
    def engine(self) -> str:
        return self.browser.browser_type.name if self.browser else "chromium"

    @property
    def version(self) -> str:
        return self.browser.version if self.browser else ""

    def describe(self) -> dict[str, Any]:
        return ({"browser_executable": str(self.executable or "")} if self.spec.local
                else {"browser_endpoint": self.spec.url})

    def processes(self) -> list[psutil.Process]:
        if not self.spec.local or self.executable is None:
            return []
        # Playwright's node driver starts Chromium: our descendants running the executable
        # (Debian's /usr/bin/chromium is a wrapper script for /usr/lib/chromium/chromium).
        names = {self.executable.name, Path(self.executable).resolve().name, "chromium", "chrome"}
        found = []
        for proc in psutil.Process().children(recursive=True):
            try:
                if proc.name() in names or Path(proc.exe()).name in names:
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def kill_hung(self) -> None:
        """Only the renderers: the browser and its other contexts live on."""
        for proc in self.processes():
            try:
                if "--type=renderer" in proc.cmdline():
                    proc.kill()
            except psutil.Error:
                continue


def cdp_version(url: str, timeout_s: float = 5) -> dict[str, Any] | None:
    """What a DevTools endpoint's /json/version says, or None when the URL is not one."""
    from urllib.request import urlopen

    try:
        with urlopen(url.rstrip("/") + "/json/version", timeout=timeout_s) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None
