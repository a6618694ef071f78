"""A loopback-only static file server with the headers browser measurements need.

With `compression` set ("gzip" or "br") it answers a request whose Accept-Encoding allows it
with that Content-Encoding, as a CDN does: every file but images, compressed as `measure
sizes` counts them (converter/sizes.py), each compressed once and kept in memory.

With `shaping` set (a network profile) it is the network: every response waits one round trip
before its headers, and every body byte goes through one rate limit shared by all open responses
(a link's downstream bandwidth), so every engine gets the same 3g/4g/wifi whatever its protocol.
Requests carry no bodies here, so the upstream rate only applies to their headers (ignored).
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from browserdl.converter.sizes import compress
from browserdl.loaders.network import NetworkProfile

HOST = "127.0.0.1"

# Cross-origin isolation: performance.now() ticks in 5 µs instead of 100 µs, and
# SharedArrayBuffer (wasm threads) becomes available.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Warm-cache trials reuse a context and should hit the HTTP cache; cold ones use a new context.
CACHE_CONTROL = "public, max-age=3600"

# A fixed table rather than `mimetypes`, which reads /etc/mime.types and differs by machine
# (and a wrong type for .wasm disables streaming compilation).
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".js": "application/javascript",
    ".mjs": "application/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".bin": "application/octet-stream",
    ".pb": "application/octet-stream",
}
DEFAULT_MIME = "application/octet-stream"
CHUNK = 16 << 10  # bytes per write: a rate limit this fine makes a 3g download smooth
COMPRESSIONS = ("none", "gzip", "br")
_ALREADY_COMPRESSED = ("image/png", "image/jpeg")

BLANK_PAGE = (
    b"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>browserdl</title></head>"
    b"<body></body></html>\n"
)


def mime_type(path: Path) -> str:
    return MIME_TYPES.get(path.suffix.lower(), DEFAULT_MIME)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real page load over HTTP/1.1 would
    timeout = 60  # idle keep-alive connections end instead of holding a thread forever
    mounts: ClassVar[dict[str, Path]] = {}  # each server's handler subclass sets its own

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: no stderr line per request

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def send_response(self, code: int, message: str | None = None) -> None:
        shaping = self.server.shaping  # type: ignore[attr-defined]
        if shaping is not None:  # one round trip: request up, first byte down
            time.sleep(shaping.rtt_ms / 1000)
        super().send_response(code, message)

    def _write(self, body: bytes | memoryview) -> None:
        """The body, through the shared rate limit when shaping."""
        link: _Link | None = self.server.link  # type: ignore[attr-defined]
        view = memoryview(body)
        for start in range(0, len(view), CHUNK):
            piece = view[start:start + CHUNK]
            if link is not None:
                link.wait(len(piece))
            self.wfile.write(piece)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        url_path = unquote(urlsplit(self.path).path)
        if url_path in ("/", "/index.html"):
            self._send_bytes(BLANK_PAGE, "text/html; charset=utf-8", head)
            return
        path = self._resolve(url_path)
        if path is None:
            self._send_error(404, head)
            return
        self._send_file(path, head)

    def _resolve(self, url_path: str) -> Path | None:
        """The file a URL path names inside its mount, or None (unknown, directory, traversal)."""
        for prefix in sorted(self.mounts, key=len, reverse=True):
            if url_path.startswith(prefix):
                folder, rest = self.mounts[prefix], url_path[len(prefix):]
                break
        else:
            return None
        parts = [p for p in rest.split("/") if p not in ("", ".")]
        # Refuse anything that could climb out of the mount: "..", backslashes, NUL bytes.
        if any(p == ".." or "\\" in p or "\x00" in p for p in parts):
            return None
        path = folder.joinpath(*parts)
        if path.is_dir():
            path = path / "index.html"
        return path if path.is_file() else None

    def _send_file(self, path: Path, head: bool) -> None:
        """A file's bytes: compressed when asked for and accepted."""
        encoding = self.server.compression  # type: ignore[attr-defined]
        if encoding != "none" and self._accepts(encoding) and mime_type(path) not in _ALREADY_COMPRESSED:
            body = self.server.encoded(path, encoding)  # type: ignore[attr-defined]
            self._send_bytes(body, mime_type(path), head, encoding)
            return
        try:
            body = path.read_bytes()
        except OSError:
            self._send_error(404, head)
            return
        self._send_bytes(body, mime_type(path), head)

    def _accepts(self, encoding: str) -> bool:
        """Whether the request's Accept-Encoding lists `encoding` with a non-zero q."""
        for item in self.headers.get("Accept-Encoding", "").split(","):
            token, _, params = item.strip().partition(";")
            if token.strip() == encoding:
                return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
        return False

    def _send_bytes(self, body: bytes, content_type: str, head: bool, encoding: str = "") -> None:
        """The one place a 200 goes out (headers, then the body through the shaping)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if encoding:
            self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", CACHE_CONTROL)
        self.end_headers()
        if not head:
            try:
                self._write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the page navigated away mid-download

    def _send_error(self, status: int, head: bool) -> None:
        body = b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)


class _Link:
    """One downstream link: bytes leave at `bytes_per_s`, whichever response they belong to."""

    def __init__(self, bytes_per_s: float) -> None:
        self.bytes_per_s = bytes_per_s
        self.free_at = 0.0
        self.lock = threading.Lock()

    def wait(self, size: int) -> None:
        """Block until `size` more bytes may go out."""
        with self.lock:
            start = max(time.perf_counter(), self.free_at)
            self.free_at = start + size / self.bytes_per_s
            done = self.free_at
        time.sleep(max(0.0, done - time.perf_counter()))


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a browser's open keep-alive connection must not block shutdown
    compression = "none"
    shaping: NetworkProfile | None = None
    link: _Link | None = None
    cache: dict[tuple[Path, int, str], bytes]
    lock: threading.Lock

    def handle_error(self, request: object, client_address: object) -> None:
        """A page that went away mid-response (a closed context, a killed renderer) is normal
        here; anything else is one line, never socketserver's traceback."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            print(f"loopback server: {type(exc).__name__}: {exc}", file=sys.stderr)

    def encoded(self, path: Path, encoding: str) -> bytes:
        """The file compressed, computed once per (file, mtime, encoding)."""
        key = (path, path.stat().st_mtime_ns, encoding)
        with self.lock:
            if key not in self.cache:
                self.cache[key] = compress(path.read_bytes(), encoding)
            return self.cache[key]


class LoopbackServer:
    """Serves folders under URL prefixes on 127.0.0.1 at a free port, in a daemon thread.
    `host` opens it to a browser on another machine (a phone over `adb reverse` needs none).

    with LoopbackServer({"/node_modules/": path}) as server:
        page.goto(server.url + "/")
    """

    def __init__(self, mounts: dict[str, Path | str] | None = None, host: str = HOST,
                 compression: str = "none") -> None:
        self.host = host
        self._compression = compression
        self._shaping: NetworkProfile | None = None
        self.mounts: dict[str, Path] = {}
        for prefix, folder in (mounts or {}).items():
            key = "/" + prefix.strip("/") + "/"
            self.mounts[key] = Path(folder).resolve()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LoopbackServer is not running; use it as a context manager")
        return self._server.server_address[1]

    @property
    def compression(self) -> str:
        return self._compression

    @compression.setter
    def compression(self, encoding: str) -> None:
        """Switch the Content-Encoding served from the next request on ("none", "gzip", "br")."""
        if encoding not in COMPRESSIONS:
            raise ValueError(f"compression {encoding}: choose one of {', '.join(COMPRESSIONS)}")
        self._compression = encoding
        if self._server is not None:
            self._server.compression = encoding

    @property
    def shaping(self) -> NetworkProfile | None:
        return self._shaping

    @shaping.setter
    def shaping(self, profile: NetworkProfile | None) -> None:
        """Serve as over this network from the next response on (None: loopback as it is)."""
        self._shaping = profile
        if self._server is not None:
            self._server.shaping = profile
            self._server.link = _Link(profile.down_kbps * 1000 / 8) if profile else None

    @property
    def url(self) -> str:
        """The origin, e.g. "http://127.0.0.1:41234" (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> LoopbackServer:
        handler = type("Handler", (_Handler,), {"mounts": dict(self.mounts)})
        self._server = _Server((self.host, 0), handler)
        self._server.compression = self._compression
        self.shaping = self._shaping
        self._server.cache, self._server.lock = {}, threading.Lock()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="browserdl-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
