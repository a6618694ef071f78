"""The face every browser driver has, whatever protocol it speaks (CDP through Playwright,
WebDriver BiDi, classic WebDriver): start, a fresh context per cold trial, open the harness,
evaluate, close, kill on hang. Timing stays inside the page; a driver only carries strings."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import psutil

# browserdl[name](options), raced against the page's own timer; the value comes back as JSON
# text so every protocol carries one string (BiDi and WebDriver serialise objects differently).
# JSON has no NaN or Infinity (a diverged loss): they travel as {"nonfinite": "NaN"}.
CALL = """(([name, options, ms]) => Promise.race([
  browserdl[name](options),
  new Promise((_, reject) => setTimeout(
    () => reject(new Error(`${options.adapter}: timed out after ${ms / 1000} s`)), ms)),
]))(%s).then((value) => JSON.stringify(value, (key, v) =>
  typeof v === 'number' && !Number.isFinite(v) ? {nonfinite: String(v)} : v))"""


def call_expression(name: str, options: dict[str, Any], timeout_s: float) -> str:
    return CALL % json.dumps([name, options, timeout_s * 1000])


def parse_result(text: str) -> Any:
    """The JSON a CALL returned, NaN and ±Infinity restored."""
    return json.loads(text, object_hook=lambda d: float(d["nonfinite"]) if d.keys() == {"nonfinite"}
                      else d)


@dataclass
class TargetSpec:
    """What a target is before it runs: a local engine or a remote browser at a URL.
    kind: chromium | firefox | webkit (local) or playwright | cdp | webdriver (remote)."""

    name: str
    kind: str
    url: str = ""
    capabilities: dict[str, Any] = field(default_factory=dict)
    executable: str = ""  # a local engine's binary ("" = the one found on this machine)
    serve_host: str = "127.0.0.1"  # where the model server listens (a remote browser must reach it)

    @property
    def local(self) -> bool:
        return self.kind in ("chromium", "firefox", "webkit")


class Page(ABC):
    """One open harness page."""

    @abstractmethod
    def evaluate(self, expression: str, timeout_s: float) -> str:
        """The expression's value (a promise is awaited) as the JSON text it resolves to;
        RuntimeError with the page's first message line when it throws."""

    def heap_bytes(self) -> float | None:
        """The page's used JS heap where the engine tells (CDP), else None."""
        return None

    def renderer_cpu_s(self) -> float | None:
        """The renderer's CPU seconds over CDP (remote Chromium, where no process is ours)."""
        return None


class Context(ABC):
    """A fresh browsing context with its own cache: a Playwright context, a BiDi user context,
    or a new WebDriver session where the protocol has no contexts."""

    @abstractmethod
    def open(self, url: str, timeout_s: float) -> Page: ...

    @abstractmethod
    def close(self) -> None: ...


class Driver(ABC):
    name: str  # playwright, bidi, webdriver
    protocol: str  # "cdp (playwright)", "webdriver bidi", "webdriver classic"
    context_kind: str  # what a fresh trial gets, as the environment table says it

    def __init__(self, spec: TargetSpec, display: str = "") -> None:
        self.spec = spec
        self.display = display  # an X display to run headful on (WebKit; Firefox for WebGL)

    @abstractmethod
    def start(self) -> None:
        """Launch or connect; UserError with one line when that is impossible."""

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def new_context(self) -> Context: ...

    @property
    @abstractmethod
    def engine(self) -> str:
        """chromium, firefox or webkit."""

    @property
    @abstractmethod
    def version(self) -> str: ...

    def describe(self) -> dict[str, Any]:
        """Where the browser is, for each trial's environment (its executable or its URL)."""
        return {"browser_endpoint": self.spec.url} if not self.spec.local else {}

    def alive(self) -> bool:
        return True

    def processes(self) -> list[psutil.Process]:
        """The browser's local process tree (empty for a remote browser)."""
        return []

    def kill_hung(self) -> None:
        """End a page stuck in a busy loop: by default the whole local browser (restarted on
        the next trial)."""
        for proc in self.processes():
            try:
                proc.kill()
            except psutil.Error:
                continue


def first_line(text: str) -> str:
    return (str(text).strip().splitlines() or ["no message"])[0]


def descendants(root: psutil.Process | int) -> list[psutil.Process]:
    """A process and all its children, skipping ones that vanished."""
    try:
        proc = root if isinstance(root, psutil.Process) else psutil.Process(root)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []
