"""Classic W3C WebDriver through Selenium: WebKitGTK's MiniBrowser via WebKitWebDriver here (under
Xvfb: MiniBrowser has no headless mode), or any WebDriver / Selenium Grid URL with capabilities.
The protocol has no contexts: a fresh trial is a new session, i.e. a new browser process, so its
cache is cold by construction."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from contextlib import suppress
from typing import Any
from urllib.request import urlopen

import psutil

from browserdl.errors import UserError
from browserdl.loaders.drivers.base import Context, Driver, Page, TargetSpec, descendants, first_line

WEBKIT_DRIVER = "WebKitWebDriver"
MINIBROWSER_GLOB = "/usr/lib/*/webkit2gtk-*/MiniBrowser"
INSTALL = "apt-get install webkit2gtk-driver xvfb (or run `make setup` as root)"
GRACE_S = 10  # WebDriver's own script timeout, after the page's timer


def find_minibrowser(executable: str = "") -> str | None:
    if executable:
        return executable if os.path.isfile(executable) else None
    return next(iter(sorted(glob.glob(MINIBROWSER_GLOB), reverse=True)), None)


def webkit_capabilities(binary: str) -> dict[str, Any]:
    """What WebKitWebDriver needs to start MiniBrowser under automation."""
    return {"browserName": "MiniBrowser",
            "webkitgtk:browserOptions": {"binary": binary, "args": ["--automation"]}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# execute_async_script's callback gets {value} or {error}: the error text survives every driver.
_ASYNC = """const done = arguments[arguments.length - 1];
Promise.resolve().then(() => %s).then((value) => done({value}),
  (e) => done({error: String((e && e.message) || e)}));"""


class _Page(Page):
    def __init__(self, session: Any) -> None:
        self.session = session

    def evaluate(self, expression: str, timeout_s: float) -> str:
        from selenium.common.exceptions import WebDriverException

        try:
            self.session.set_script_timeout(timeout_s + GRACE_S)
            answer = self.session.execute_async_script(_ASYNC % expression)
        except WebDriverException as exc:
            raise RuntimeError(first_line(exc.msg or exc)) from None
        if answer.get("error"):
            raise RuntimeError(first_line(answer["error"]))
        return answer["value"]


class _Context(Context):
    def __init__(self, driver: WebDriverDriver) -> None:
        self.session = driver.new_session()

    def open(self, url: str, timeout_s: float) -> Page:
        from selenium.common.exceptions import WebDriverException

        try:
            self.session.set_page_load_timeout(timeout_s)
            self.session.get(url)
        except WebDriverException as exc:
            raise RuntimeError(first_line(exc.msg or exc)) from None
        return _Page(self.session)

    def close(self) -> None:
        from selenium.common.exceptions import WebDriverException

        with suppress(WebDriverException, OSError):
            self.session.quit()


class WebDriverDriver(Driver):
    name = "webdriver"
    protocol = "webdriver classic"
    context_kind = "new session (a new browser process)"

    def __init__(self, spec: TargetSpec, display: str = "") -> None:
        super().__init__(spec, display)
        self.service: subprocess.Popen[bytes] | None = None
        self.url = spec.url
        self.capabilities = dict(spec.capabilities)
        self._info: dict[str, Any] = {}

    def start(self) -> None:
        if self.spec.local:
            self._start_webkit()
        try:  # the first session says what the browser is (and that the URL answers)
            probe = self.new_session()
        except RuntimeError as exc:
            self.stop()
            raise UserError(f"target {self.spec.name}: {exc}") from None
        self._info = dict(probe.capabilities)
        probe.quit()

    def _start_webkit(self) -> None:
        driver = shutil.which(WEBKIT_DRIVER)
        binary = find_minibrowser(self.spec.executable)
        if binary is None and self.spec.executable:
            raise UserError(f"target {self.spec.name}: BROWSERDL_MINIBROWSER={self.spec.executable} is "
                            "not WebKitGTK's MiniBrowser; point it at one or unset it")
        if driver is None or binary is None:
            raise UserError(f"target {self.spec.name}: no {WEBKIT_DRIVER} or MiniBrowser: {INSTALL}")
        port = _free_port()
        # SharedArrayBuffer (wasm threads) exists in JavaScriptCore only with this switch.
        env = {**os.environ, "DISPLAY": self.display, "JSC_useSharedArrayBuffer": "true"}
        self.service = subprocess.Popen([driver, f"--port={port}", "--host=127.0.0.1"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        self.capabilities = {**webkit_capabilities(binary), **self.capabilities}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urlopen(self.url + "/status", timeout=2):
                    return
            except OSError:
                if self.service.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise UserError(f"target {self.spec.name}: {WEBKIT_DRIVER} did not start on port {port}")

    def new_session(self) -> Any:
        from selenium import webdriver
        from selenium.webdriver.common.options import ArgOptions
        from selenium.webdriver.remote.client_config import ClientConfig
        from selenium.webdriver.remote.remote_connection import RemoteConnection

        options = ArgOptions()
        for name, value in self.capabilities.items():
            options.set_capability(name, value)
        try:
            connection = RemoteConnection(client_config=ClientConfig(self.url))
            return webdriver.Remote(command_executor=connection, options=options)
        except Exception as exc:  # WebDriverException, or urllib3's errors when it went away
            message = getattr(exc, "msg", None) or str(exc)
            raise RuntimeError(f"WebDriver at {self.url} gave no session ({first_line(message)})"
                               ) from None

    def stop(self) -> None:
        if self.service is not None:
            for proc in reversed(descendants(self.service.pid)):
                try:
                    proc.kill()
                except psutil.Error:
                    continue
            self.service.wait(10)
            self.service = None

    def new_context(self) -> Context:
        try:
            return _Context(self)
        except RuntimeError:
            if not self.spec.local:
                raise
            self.stop()  # a killed MiniBrowser can take the driver with it: start both again
            self._start_webkit()
            return _Context(self)

    @property
    def engine(self) -> str:
        name = str(self._info.get("browserName", "")).lower()
        return "webkit" if name in ("minibrowser", "safari", "webkitgtk", "epiphany") else name

    @property
    def version(self) -> str:
        return f"{self._info.get('browserName', '')} {self._info.get('browserVersion', '')}".strip()

    def describe(self) -> dict[str, Any]:
        return ({"browser_executable": find_minibrowser(self.spec.executable) or ""} if self.spec.local
                else {"browser_endpoint": self.url})

    def processes(self) -> list[psutil.Process]:
        # the browser under the driver; the driver itself only relays commands
        return descendants(self.service.pid)[1:] if self.service is not None else []
