"""WebDriver BiDi straight from Python, for Firefox: no geckodriver exists in any registry here,
and Firefox speaks BiDi itself (`--remote-debugging-port`). A fresh trial is a new user context
(its own cookies and HTTP cache)."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil

from browserdl.errors import UserError
from browserdl.loaders.drivers.base import Context, Driver, Page, TargetSpec, descendants, first_line

NAMES = ("firefox-esr", "firefox")
INSTALL = "apt-get install firefox-esr (or run `make setup` as root)"
LAUNCH_TIMEOUT_S = 60
# Quiet and private: no updates, telemetry or first-run pages, and no way off the machine
# (every host but loopback goes to a dead proxy; Firefox never proxies localhost).
PREFS = {
    "app.update.enabled": False, "app.update.auto": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "extensions.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.proxy.type": 1, "network.proxy.http": "127.0.0.1", "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 9,
    "network.proxy.no_proxies_on": "127.0.0.1",
}


def find_firefox(executable: str = "") -> Path | None:
    if executable:
        return Path(executable) if Path(executable).is_file() else None
    for name in NAMES:
        if found := shutil.which(name):
            return Path(found)
    return None


class _Page(Page):
    def __init__(self, driver: BidiDriver, context: str) -> None:
        self.driver = driver
        self.context = context

    def evaluate(self, expression: str, timeout_s: float) -> str:
        answer = self.driver.send("script.evaluate", {
            "expression": expression, "target": {"context": self.context}, "awaitPromise": True,
            "resultOwnership": "none"}, timeout_s)
        if answer.get("type") == "exception":
            details = answer.get("exceptionDetails", {})
            raise RuntimeError(first_line(details.get("text") or "the page threw"))
        return answer["result"].get("value", "null")


class _Context(Context):
    def __init__(self, driver: BidiDriver) -> None:
        self.driver = driver
        self.user_context = driver.send("browser.createUserContext", {})["userContext"]

    def open(self, url: str, timeout_s: float) -> Page:
        tab = self.driver.send("browsingContext.create", {
            "type": "tab", "userContext": self.user_context}, timeout_s)["context"]
        self.driver.send("browsingContext.navigate", {"context": tab, "url": url, "wait": "complete"},
                         timeout_s)
        return _Page(self.driver, tab)

    def close(self) -> None:
        if self.driver.alive():
            with suppress(RuntimeError):  # removing it closes its tabs too
                self.driver.send("browser.removeUserContext", {"userContext": self.user_context})


class BidiDriver(Driver):
    name = "bidi"
    protocol = "webdriver bidi"
    context_kind = "new user context"

    def __init__(self, spec: TargetSpec, display: str = "") -> None:
        super().__init__(spec, display)
        self.proc: subprocess.Popen[str] | None = None
        self.socket: Any = None
        self._ids = itertools.count(1)
        self._version = ""
        self._home = ""

    def start(self) -> None:
        import websocket

        binary = find_firefox(self.spec.executable)
        if binary is None and self.spec.executable:
            raise UserError(f"target {self.spec.name}: BROWSERDL_FIREFOX={self.spec.executable} is not "
                            "a Firefox executable; point it at one or unset it")
        if binary is None:
            raise UserError(f"target {self.spec.name}: no Firefox found: {INSTALL}")
        self._home = tempfile.mkdtemp(prefix="browserdl-firefox-")
        profile = Path(self._home) / "profile"
        profile.mkdir()
        (profile / "user.js").write_text("".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        env = {**os.environ, "HOME": self._home, "MOZ_CRASHREPORTER_DISABLE": "1"}
        args = [str(binary), "--no-remote", "--profile", str(profile), "--remote-debugging-port", "0"]
        if self.display:
            env["DISPLAY"] = self.display
        else:
            args.insert(1, "--headless")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env=env, start_new_session=True)
        url = self._listening_url()
        try:
            self.socket = websocket.create_connection(url + "/session", suppress_origin=True,
                                                      timeout=LAUNCH_TIMEOUT_S)
            caps = self.send("session.new", {"capabilities": {}})["capabilities"]
        except (OSError, websocket.WebSocketException, RuntimeError) as exc:
            self.stop()
            raise UserError(f"target {self.spec.name}: Firefox's BiDi at {url} refused a session "
                            f"({first_line(exc)})") from None
        self._version = f"{caps.get('browserName', 'firefox')} {caps.get('browserVersion', '')}"

    def _listening_url(self) -> str:
        """Firefox prints `WebDriver BiDi listening on ws://127.0.0.1:PORT` on stderr."""
        assert self.proc is not None and self.proc.stderr is not None
        found: list[str] = []
        seen: list[str] = []
        ready = threading.Event()

        def read() -> None:
            for line in self.proc.stderr:  # type: ignore[union-attr]
                if not found and (hit := re.search(r"WebDriver BiDi listening on (ws://\S+)", line)):
                    found.append(hit.group(1))
                    ready.set()
                elif not found:
                    seen.append(line.strip())
            ready.set()  # stderr closed: Firefox exited

        threading.Thread(target=read, daemon=True).start()  # keeps draining stderr afterwards
        ready.wait(LAUNCH_TIMEOUT_S)
        if not found:
            self.stop()
            said = next((s for s in reversed(seen) if s), "no output")
            raise UserError(f"target {self.spec.name}: Firefox did not start ({said[:200]})")
        return found[0]

    def send(self, method: str, params: dict[str, Any], timeout_s: float = 60) -> dict[str, Any]:
        """One BiDi command and its answer (events in between are dropped)."""
        import websocket

        ident = next(self._ids)
        try:
            self.socket.settimeout(timeout_s + 10)  # the page's own timer fires first
            self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
            while True:
                message = json.loads(self.socket.recv())
                if message.get("id") == ident:
                    break
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            raise RuntimeError(f"Firefox stopped answering ({method}: {first_line(exc) or 'closed'})"
                               ) from None
        if message.get("type") == "error":
            raise RuntimeError(first_line(f"{message.get('error')}: {message.get('message', '')}"))
        return message["result"]

    def stop(self) -> None:
        if self.socket is not None:
            with suppress(OSError):
                self.socket.close()
            self.socket = None
        self.kill_hung()
        if self.proc is not None:
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            self.proc = None
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.socket is not None

    def new_context(self) -> Context:
        if not self.alive():  # killed on hang, or crashed: a new Firefox
            self.stop()
            self.start()
        return _Context(self)

    @property
    def engine(self) -> str:
        return "firefox"

    @property
    def version(self) -> str:
        return self._version

    def describe(self) -> dict[str, Any]:
        return {"browser_executable": str(find_firefox(self.spec.executable) or "")}

    def processes(self) -> list[psutil.Process]:
        return descendants(self.proc.pid) if self.proc is not None and self.proc.poll() is None else []
