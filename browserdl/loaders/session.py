"""A browser session: the loopback server plus one headless Chromium, for many page runs."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from browserdl.loaders.browser import launch
from browserdl.loaders.runtimes import JS_DIR, PAGES_DIR
from browserdl.loaders.server import LoopbackServer
from browserdl.workspace import Workspace, node_modules

PAGE = "/pages/harness.html"


class BrowserSession:
    """`with BrowserSession(ws) as s: s.run(adapter=..., backend=..., ...)`; a fresh context per run."""

    def __init__(self, ws: Workspace, executable: Path | None = None,
                 libraries: dict[str, Path] | None = None) -> None:
        self.ws = ws
        self.executable = executable
        self.libraries = libraries or {}  # runtime -> user-supplied library file
        self._stack = ExitStack()

    def __enter__(self) -> BrowserSession:
        from playwright.sync_api import sync_playwright

        mounts: dict[str, Path | str] = {
            "/node_modules/": node_modules(), "/formats/": self.ws.formats,
            "/js/": JS_DIR, "/pages/": PAGES_DIR,
        }
        mounts.update({f"/lib/{name}/": path.parent for name, path in self.libraries.items()})
        self.server = self._stack.enter_context(LoopbackServer(mounts))
        playwright = self._stack.enter_context(sync_playwright())
        self.browser = launch(playwright, self.executable)
        self._stack.callback(self.browser.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def url(self, path: Path) -> str:
        """The server URL of a file or folder inside the workspace's formats."""
        return "/formats/" + path.relative_to(self.ws.formats).as_posix()

    def run(self, timeout_s: float = 120, **options: Any) -> dict[str, Any]:
        """One run of harness.js `browserdl.run(options)` in a fresh context (cold HTTP cache)."""
        runtime = options.get("adapter")
        if runtime in self.libraries:
            options["libraryUrl"] = f"/lib/{runtime}/{self.libraries[runtime].name}"
        context = self.browser.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(self.server.url + PAGE)
            try:
                result = page.evaluate(_RUN_WITH_TIMEOUT, {"options": options, "ms": timeout_s * 1000})
            except PlaywrightError as exc:  # the adapter threw, the page crashed, or it hung
                first = (str(exc.message or exc).strip().splitlines() or ["no message"])[0]
                raise RuntimeError(re.sub(r"^Page\.evaluate: (Error: )?", "", first)) from None
            result["page_errors"] = errors
            return result
        finally:
            context.close()


# set_default_timeout does not bound page.evaluate: the page races the run against a timer.
_RUN_WITH_TIMEOUT = """({options, ms}) => Promise.race([
  browserdl.run(options),
  new Promise((_, reject) => setTimeout(
    () => reject(new Error(`${options.adapter}: timed out after ${ms / 1000} s`)), ms)),
])"""
