"""What one target can do, read from a real page (for `doctor`): launches, cross-origin isolation,
timer step, wasm threads, WebGL renderer, WebGPU adapter."""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from browserdl.errors import UserError
from browserdl.loaders.drivers import TargetSpec, driver_for
from browserdl.loaders.drivers.xvfb import display_for
from browserdl.loaders.server import LoopbackServer
from browserdl.loaders.targets import ready, renderer_of

# One round trip: everything the page can tell about its GPU, isolation, clock and threads; a
# promise of the JSON text (every driver carries one string; JSON has no Infinity: a timer that
# never advanced arrives as null).
PROBE_JS = """(async () => {
  const renderer = (kind) => {
    const gl = document.createElement('canvas').getContext(kind);
    if (!gl) return '';
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || '');
  };
  let webgpu = 'none (navigator.gpu missing)';
  if (navigator.gpu) {
    try {
      const a = await navigator.gpu.requestAdapter();
      webgpu = !a ? 'none (no adapter)' : [a.info.vendor, a.info.architecture, a.info.description]
        .filter(Boolean).join(' / ') + (a.info.isFallbackAdapter ? ' (fallback adapter)' : '');
    } catch (e) { webgpu = 'none (' + e + ')'; }
  }
  let step = Infinity;  // smallest non-zero step of performance.now() over a 20 ms busy loop
  const end = performance.now() + 20;
  for (let last = performance.now(); last < end;) {
    const now = performance.now();
    if (now > last && now - last < step) step = now - last;
    last = now;
  }
  let shared = false;  // wasm threads need shared memory (SharedArrayBuffer)
  try { shared = new WebAssembly.Memory({initial: 1, maximum: 1, shared: true}).buffer
        instanceof SharedArrayBuffer; } catch (e) { shared = false; }
  return JSON.stringify({webgl2: renderer('webgl2'), webgl: renderer('webgl'), webgpu, shared,
    isolated: self.crossOriginIsolated === true, stepMs: step, cores: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent});
})()"""


@dataclass
class TargetReport:
    name: str
    launches: bool = False
    version: str = ""
    driver: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def software_label(renderer: str) -> str:
    """A renderer string, labelled when it is a CPU rasteriser."""
    if any(s in renderer.lower() for s in ("swiftshader", "llvmpipe", "softpipe")):
        return f"software GPU: {renderer}"
    return renderer


def probe(spec: TargetSpec) -> TargetReport:
    """Start the target as a sweep would, open one page, read what it reports."""
    report = TargetReport(spec.name)
    with ExitStack() as stack:
        try:
            server = stack.enter_context(LoopbackServer({}, host=spec.serve_host))
            spec = ready(spec)
            display = display_for(spec.kind, stack)
            driver = driver_for(spec, display)
            driver.start()
            stack.callback(driver.stop)
            report.launches, report.version, report.driver = True, driver.version, driver.protocol
            context = driver.new_context()
            stack.callback(context.close)
            page = context.open(server.url + "/", 60)
            report.detail = json.loads(page.evaluate(PROBE_JS, 60))
            for kind in ("webgl2", "webgl"):
                report.detail[kind] = renderer_of(spec, report.detail[kind])
            report.detail["headless"] = not display
        except (UserError, RuntimeError) as exc:
            report.error = str(exc)
    return report
