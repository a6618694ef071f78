"""The loopback server, Chromium discovery and `doctor`, driven for real (no mocks)."""

from __future__ import annotations

import http.client

import pytest

from browserdl.doctor import Check, diagnose, table
from browserdl.loaders.browser import browser_version, find_chromium
from browserdl.loaders.server import LoopbackServer
from browserdl.workspace import PROJECT_ROOT, node_modules

WASM = "/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"


def _request(server: LoopbackServer, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    # http.client sends the path as written, so "../" reaches the server un-normalised.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server():
    mounts = {"/node_modules/": node_modules(), "/pages/": PROJECT_ROOT / "browserdl"}
    with LoopbackServer(mounts) as s:
        yield s


def test_server_url_is_loopback(server):
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_wasm_served_with_isolation_headers(server):
    status, headers, body = _request(server, WASM)
    assert status == 200
    assert headers["content-type"] == "application/wasm"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert headers["cache-control"] == "public, max-age=3600"
    assert int(headers["content-length"]) == len(body) > 0
    assert body[:4] == b"\0asm"


def test_mime_types_and_head(server):
    status, headers, body = _request(server, "/node_modules/@tensorflow/tfjs/dist/tf.min.js", "HEAD")
    assert status == 200 and body == b""
    assert headers["content-type"] == "application/javascript"
    assert int(headers["content-length"]) > 100_000
    status, headers, _ = _request(server, "/node_modules/@tensorflow/tfjs/package.json")
    assert headers["content-type"] == "application/json"


def test_blank_page_at_root(server):
    status, headers, body = _request(server, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert b"<script" not in body


@pytest.mark.parametrize("path", [
    "/node_modules/../pyproject.toml",
    "/node_modules/%2e%2e/pyproject.toml",
    "/pages/../../etc/passwd",
    "/node_modules/@tensorflow/../../pyproject.toml",
    "/pyproject.toml",
    "/node_modules/",
])
def test_traversal_and_unknown_paths_refused(server, path):
    status, headers, body = _request(server, path)
    assert status == 404
    assert b"[project]" not in body and b"root:" not in body
    assert headers["cross-origin-opener-policy"] == "same-origin"


def test_server_stops_on_exit():
    with LoopbackServer({}) as s:
        port = s.port
        assert _request(s, "/")[0] == 200
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(OSError):
        conn.request("GET", "/")
        conn.getresponse()


@pytest.mark.browser
def test_find_chromium_reports_a_chromium():
    exe = find_chromium()
    assert exe is not None and exe.is_file()
    version = browser_version(exe)
    assert "Chromium" in version or "Chrome" in version


@pytest.fixture(scope="module")
def checks() -> dict[str, Check]:
    return {c.name: c for c in diagnose()}


@pytest.mark.browser
def test_doctor_browser_rows(checks):
    assert checks["browser launch"].ok, checks["browser launch"]
    assert checks["cross-origin isolated"].ok, checks["cross-origin isolated"]
    resolution = checks["timer resolution"]
    assert resolution.ok and float(resolution.detail.split()[0]) <= 0.01, resolution
    for name in ("WebGL renderer", "WebGL2 renderer"):
        assert checks[name].ok and checks[name].detail.strip(), checks[name]
    tfjs = checks["TF.js in page"]
    assert tfjs.ok and "tfjs 4.22.0" in tfjs.detail, tfjs


@pytest.mark.browser
def test_doctor_python_and_npm_rows(checks):
    assert checks["package tensorflowjs"].ok, checks["package tensorflowjs"]
    assert checks["npm @tensorflow/tfjs"].detail == "4.22.0"
    assert checks["mind"].ok
    assert table(list(checks.values())).row_count == len(checks)
