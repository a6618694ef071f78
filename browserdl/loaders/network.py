"""Named network profiles. The loopback server applies them itself (server.py: one round trip
before each response's headers, one downstream rate shared by parallel responses, on the bytes
on the wire, compressed when it compresses), so every engine gets the same network whatever its
protocol. `cdp()` is Chromium's emulation of the same profile (its `latency` is likewise added
once per request, request sent → response headers), which the server's shaping is checked
against (tests/test_network.py, benchmarks/network_shaping.py).
Sources:
- 3g, 4g: WebPageTest's connectivity profiles, catchpoint/WebPageTest
  www/settings/connectivity.ini.sample: [3G] "1.6 Mbps/768 Kbps 300ms RTT", [4G] "9 Mbps, 170ms
  RTT" (WebPageTest's shaper applies RTT/2 per direction: the 150 ms and 85 ms one-way delays).
- wifi: 30 Mbit/s, the former Chrome DevTools "WiFi" preset (chromium
  chrome/test/chromedriver/chrome/network_list.cc), with WebPageTest's [4GFast] / Lighthouse's
  desktopDense4G 40 ms RTT (20 ms one way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NONE = "none"  # loopback as it is: no shaping


@dataclass(frozen=True)
class NetworkProfile:
    name: str
    down_kbps: float
    up_kbps: float
    rtt_ms: float
    source: str

    def cdp(self) -> dict[str, Any]:
        """Network.emulateNetworkConditions parameters (throughput in bytes per second)."""
        return {"offline": False, "latency": self.rtt_ms,
                "downloadThroughput": self.down_kbps * 1000 / 8,
                "uploadThroughput": self.up_kbps * 1000 / 8}

    def describe(self) -> str:
        return (f"{self.name}: {self.down_kbps / 1000:g} Mbit/s down, {self.up_kbps / 1000:g} up, "
                f"{self.rtt_ms:g} ms per request ({self.source})")


PROFILES: dict[str, NetworkProfile] = {p.name: p for p in (
    NetworkProfile("wifi", 30_000, 15_000, 40, "DevTools' former WiFi preset; WebPageTest 4GFast RTT"),
    NetworkProfile("4g", 9_000, 9_000, 170, "WebPageTest 4G"),
    NetworkProfile("3g", 1_600, 768, 300, "WebPageTest 3G"),
)}
NAMES = (NONE, *PROFILES)


def profile(name: str) -> NetworkProfile | None:
    """The profile for a name, None for `none`; KeyError for an unknown one."""
    return None if name == NONE else PROFILES[name]
