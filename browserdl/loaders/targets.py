"""Where a trial runs: this machine natively, or a browser (its fingerprint read from the page)."""

from __future__ import annotations

import platform
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from browserdl.environment import machine
from browserdl.results.records import Target

NATIVE = "native"


@cache
def native_target() -> Target:
    """This host, for native TensorFlow and onnxruntime, Node runs and file sizes."""
    host = machine()
    return Target.of(NATIVE, {"host": platform.node(), "cpu_model": host["cpu_model"],
                              "cpu_count": host["cpu_count"], "memory_gib": host["memory_gib"],
                              "os": host["os"]})


def browser_target(engine: str, version: str, endpoint: str | None, page: dict[str, Any]) -> Target:
    """A browser's target from what its page reports (see harness.js `environment`). A browser
    reached at an endpoint is named after it (chromium@host:port), so it never shares a row with
    the local one."""
    name = engine if not endpoint else f"{engine}@{urlsplit(endpoint).netloc or endpoint}"
    step_us = round(float(page.get("timerResolutionMs", 0)) * 1000, 1)  # 5.0 or 100.0 µs
    return Target.of(name, {
        "engine": engine, "version": version, "driver": "playwright", "endpoint": endpoint or "",
        "user_agent": page.get("userAgent", ""),
        "hardware_concurrency": page.get("hardwareConcurrency"),
        "renderer": page.get("renderer", ""), "timer_step_us": step_us,
        "cross_origin_isolated": page.get("crossOriginIsolated"),
    })
