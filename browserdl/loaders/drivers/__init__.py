"""One driver per protocol, all with the face of base.Driver; `driver_for` picks one."""

from __future__ import annotations

from browserdl.loaders.drivers.base import Driver, TargetSpec
from browserdl.loaders.drivers.bidi import BidiDriver
from browserdl.loaders.drivers.playwright import PlaywrightDriver
from browserdl.loaders.drivers.webdriver import WebDriverDriver

# target kind -> its driver: local engines first, then the remote protocols
DRIVERS: dict[str, type[Driver]] = {
    "chromium": PlaywrightDriver, "firefox": BidiDriver, "webkit": WebDriverDriver,
    "playwright": PlaywrightDriver, "cdp": PlaywrightDriver, "webdriver": WebDriverDriver,
}


def driver_for(spec: TargetSpec, display: str = "") -> Driver:
    return DRIVERS[spec.kind](spec, display)
