"""Where a trial runs: this machine natively, a local engine (chromium, firefox, webkit), or a
remote browser named in workspace/targets.toml or by --target-url; and the fingerprint each
browser's page reports."""

from __future__ import annotations

import os
import platform
import socket
import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from browserdl.environment import machine
from browserdl.errors import UserError
from browserdl.loaders.drivers.base import TargetSpec
from browserdl.results.records import Target

if TYPE_CHECKING:
    from browserdl.loaders.drivers.base import Driver

NATIVE = "native"
LOCAL_ENGINES = ("chromium", "firefox", "webkit")
REMOTE_KINDS = ("playwright", "cdp", "webdriver")
DEFAULT_TARGETS = ("chromium",)
# a local engine's binary other than the one found on this machine
EXECUTABLE_VARS = {"chromium": "BROWSERDL_CHROMIUM", "firefox": "BROWSERDL_FIREFOX",
                   "webkit": "BROWSERDL_MINIBROWSER"}
LOCAL_CHROMIUM = TargetSpec("chromium", "chromium")
TARGETS_FILE = "targets.toml"
REACH_TIMEOUT_S = 10
EXAMPLE = ('[lab-chrome]\\nurl = "http://host:9222"  # or ws://… (Playwright server), or a '
           'WebDriver URL with kind = "webdriver" and capabilities = {browserName = "…"}')


@cache
def native_target() -> Target:
    """This host, for native TensorFlow and onnxruntime, Node runs and file sizes."""
    host = machine()
    return Target.of(NATIVE, {"host": platform.node(), "cpu_model": host["cpu_model"],
                              "cpu_count": host["cpu_count"], "memory_gib": host["memory_gib"],
                              "os": host["os"]})


def url_kind(url: str) -> str:
    """The protocol a URL speaks: a Playwright server (ws://), a DevTools endpoint (its
    /json/version answers, or a ws://…/devtools/browser/… address), else WebDriver."""
    from browserdl.loaders.drivers.playwright import cdp_version

    scheme = urlsplit(url).scheme
    if scheme in ("ws", "wss"):
        return "cdp" if "/devtools/browser/" in url else "playwright"
    if scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise UserError(f"target URL {url}: give ws://… (Playwright server), http://host:port "
                        "(DevTools) or a WebDriver http://… URL")
    return "cdp" if cdp_version(url) is not None else "webdriver"


def configured(ws_root: Path) -> dict[str, dict[str, Any]]:
    """workspace/targets.toml: one table per remote target."""
    path = ws_root / TARGETS_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid TOML ({exc}); fix it or move it aside") from None
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise UserError(f"{path}: [{name}] needs url = \"…\" (e.g. {EXAMPLE})")
        if entry.get("kind") not in (None, *REMOTE_KINDS):
            raise UserError(f"{path}: [{name}] kind = {entry['kind']!r}: choose one of "
                            f"{', '.join(REMOTE_KINDS)} (or leave it out to tell from the URL)")
        if name in LOCAL_ENGINES:
            raise UserError(f"{path}: [{name}] is a built-in target; give the remote one another name")
    return data


def parse_target_urls(values: list[str]) -> dict[str, str]:
    """--target-url NAME=URL (repeatable)."""
    urls = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise UserError(f"--target-url {value}: give NAME=URL, e.g. lab=http://host:9222")
        if name.strip() in LOCAL_ENGINES:
            raise UserError(f"--target-url {value}: {name} is a built-in target; pick another name")
        urls[name.strip()] = url.strip()
    return urls


def resolve(names: list[str], ws_root: Path, urls: dict[str, str] | None = None,
            executable: Path | None = None, serve_host: str = "127.0.0.1") -> list[TargetSpec]:
    """The targets to measure on, in the order named. A --target-url name that --targets does
    not list is measured too (naming a URL is asking for it)."""
    urls = urls or {}
    entries = configured(ws_root)
    wanted = list(dict.fromkeys([*names, *urls]))
    specs = []
    for name in wanted:
        if name in LOCAL_ENGINES:
            binary = str(executable or "") if name == "chromium" else os.environ.get(
                EXECUTABLE_VARS[name], "")
            specs.append(TargetSpec(name, name, executable=binary, serve_host=serve_host))
        elif name in urls:
            specs.append(TargetSpec(name, "", urls[name], serve_host=serve_host))
        elif name in entries:
            entry = entries[name]
            specs.append(TargetSpec(name, entry.get("kind", ""), entry["url"],
                                    dict(entry.get("capabilities", {})),
                                    serve_host=entry.get("serve_host", serve_host)))
        else:
            known = [*LOCAL_ENGINES, *entries]
            raise UserError(f"unknown target '{name}': choose from {', '.join(known)}, name it in "
                            f"{ws_root / TARGETS_FILE}, or give --target-url {name}=URL")
    return specs


def ready(spec: TargetSpec) -> TargetSpec:
    """The spec with its protocol known (a URL without `kind` is asked what it speaks); a remote
    one that does not answer is one line."""
    if spec.local:
        return spec
    parts = urlsplit(spec.url)
    try:
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
        with socket.create_connection((parts.hostname or "", port), timeout=REACH_TIMEOUT_S):
            pass
    except (OSError, ValueError) as exc:
        raise UserError(f"target {spec.name} ({spec.url}): cannot connect "
                        f"({getattr(exc, 'strerror', None) or exc}); is the browser running and "
                        "reachable?") from None
    if spec.kind:
        return spec
    return TargetSpec(spec.name, url_kind(spec.url), spec.url, spec.capabilities, spec.executable,
                      spec.serve_host)


def renderer_of(spec: TargetSpec, reported: str) -> str:
    """The WebGL renderer a page reports, said plainly where the engine hides it: WebKit answers
    a fixed "Apple GPU"; the local one draws with Mesa's llvmpipe on our Xvfb."""
    if spec.kind == "webkit" and reported == "Apple GPU":
        return "llvmpipe under Xvfb (WebKit reports a fixed 'Apple GPU')"
    return reported


def browser_target(spec: TargetSpec, driver: Driver, page: dict[str, Any]) -> Target:
    """A browser's target from what its page reports (see harness.js `environment`)."""
    step_us = round(float(page.get("timerResolutionMs", 0)) * 1000, 1)  # 5, 20 or 100 µs
    return Target.of(spec.name, {
        "engine": driver.engine, "version": driver.version, "driver": driver.name,
        "endpoint": "" if spec.local else spec.url,
        "user_agent": page.get("userAgent", ""),
        "hardware_concurrency": page.get("hardwareConcurrency"),
        "renderer": renderer_of(spec, page.get("renderer", "")), "timer_step_us": step_us,
        "cross_origin_isolated": page.get("crossOriginIsolated"),
    })
