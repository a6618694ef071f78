"""Finding, installing and launching the headless Chromium every browser measurement runs in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from browserdl.errors import UserError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

ENV_VAR = "BROWSERDL_CHROMIUM"

LAUNCH_ARGS: list[str] = [
    "--no-sandbox",  # we often run as root (containers, CI), where the sandbox refuses to start
    # No update checks, field trials or sync traffic competing with the measurement.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # WebGL and WebGPU on SwiftShader (CPU) when there is no GPU; rows record the renderer.
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    # Without it requestAdapter() returns null headless on Linux (checked on Chromium 156);
    # no Vulkan feature flag was needed.
    "--enable-unsafe-webgpu",
    # Every host name fails to resolve except loopback: nothing a page does leaves the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

CHROME_NAMES = ("google-chrome", "google-chrome-stable")
DEBIAN_NAMES = ("/usr/bin/chromium", "chromium", "chromium-browser")
INSTALL_TIMEOUT_S = 180
VERSION_TIMEOUT_S = 30


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _which(names: tuple[str, ...]) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _playwright_browsers_dir() -> Path:
    """Where `playwright install` puts browsers (mirrors Playwright's own rule)."""
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if env == "0":  # "install inside the package"
        import playwright

        return Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ms-playwright"


def _playwright_chromium() -> Path | None:
    """Playwright's downloaded Chromium, if any."""
    # Starting Playwright's driver costs ~0.4 s; only ask it when a chromium-* folder exists.
    folder = _playwright_browsers_dir()
    if not folder.is_dir() or not any(folder.glob("chromium-*")):
        return None
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = Path(p.chromium.executable_path)
    except Exception:  # a broken driver just means "not this one"
        return None
    return path if _executable(path) else None


def find_chromium() -> Path | None:
    """$BROWSERDL_CHROMIUM, else Playwright's Chromium, else Google Chrome, else Debian's chromium."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if _executable(path):
            return path
        found = shutil.which(env)
        if found:
            return Path(found)
        # An explicit choice that is wrong should be said, not silently replaced.
        raise UserError(f"{ENV_VAR}={env} is not an executable; point it at chrome/chromium or unset it")
    return _playwright_chromium() or _which(CHROME_NAMES) or _which(DEBIAN_NAMES)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> bool:
    """Run an installer quietly; on failure say its last output line. True if it succeeded."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        _say(f"  gave up after {timeout:.0f} s")
        return False
    except OSError as exc:
        _say(f"  could not run {cmd[0]}: {exc.strerror or exc}")
        return False
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
        # The last "Error:"/"E:" line says why (stack frames follow Playwright's).
        errors = [ln for ln in lines if ln.startswith(("Error", "E:", "error"))]
        why = (errors or lines or ["no output"])[-1]
        _say(f"  failed (exit {done.returncode}): {why}"[:300])
        return False
    return True


def ensure_chromium() -> Path:
    """An installed Chromium; installs Playwright's (else Debian's, as root) when none is found."""
    found = find_chromium()
    if found:
        return found
    _say("no Chromium found; trying `playwright install chromium`")
    cmd = [sys.executable, "-m", "playwright", "install", "chromium"]
    if _run(cmd, INSTALL_TIMEOUT_S) and (found := find_chromium()):
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        _say("trying `apt-get install chromium`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if (
            _run(["apt-get", "update"], INSTALL_TIMEOUT_S, env)
            and _run(["apt-get", "install", "-y", "chromium"], INSTALL_TIMEOUT_S * 2, env)
            and (found := find_chromium())
        ):
            return found
    raise UserError(
        "no Chromium found and installing one failed: run `python -m playwright install chromium`"
        f" (or install Google Chrome / Debian's `chromium`), or set {ENV_VAR}=/path/to/chrome"
    )


def browser_version(executable: Path) -> str:
    """What `<executable> --version` prints, e.g. "Chromium 156.0.8078.108 built on Debian ..."."""
    try:
        # stderr ignored: Debian's wrapper script prints a harmless shell warning there.
        done = subprocess.run(
            [str(executable), "--version"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            timeout=VERSION_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(
            f"cannot run `{executable} --version` ({exc}); reinstall it or set {ENV_VAR}"
        ) from None
    version = (done.stdout.strip().splitlines() or [""])[0].strip()
    if done.returncode != 0 or not version:
        raise UserError(
            f"`{executable} --version` failed (exit {done.returncode}); reinstall it or set {ENV_VAR}"
        )
    return version


def launch(playwright: Playwright, executable: Path | None = None) -> Browser:
    """Headless Chromium with LAUNCH_ARGS, writing nothing into the user's home."""
    from playwright.sync_api import Error

    if executable is None:
        executable = find_chromium()
        if executable is None:
            raise UserError(f"no Chromium found: run `make setup`, or set {ENV_VAR}=/path/to/chrome")
    if not _executable(Path(executable)):
        raise UserError(f"Chromium executable {executable} is missing; run `make setup` or set {ENV_VAR}")
    # Chromium puts caches, crash dumps and font config under HOME/XDG dirs: keep them scratch.
    home = tempfile.mkdtemp(prefix="browserdl-home-")
    env = {
        **os.environ,
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
    }
    try:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=LAUNCH_ARGS, env=env
        )
    except Error as exc:
        shutil.rmtree(home, ignore_errors=True)
        lines = str(exc.message or exc).strip().splitlines() or ["no message"]
        raise UserError(
            f"Chromium {executable} failed to start: {lines[0]}; try another with {ENV_VAR}"
        ) from None
    browser.on("disconnected", lambda _: shutil.rmtree(home, ignore_errors=True))
    return browser


def _main(argv: list[str]) -> int:
    if argv != ["ensure"]:
        print("usage: python -m browserdl.loaders.browser ensure", file=sys.stderr)
        return 2
    try:
        path = ensure_chromium()
        print(f"chromium: {path} ({browser_version(path)})")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
