"""A private X display for engines without a headless mode (WebKitGTK's MiniBrowser) and for
Firefox, whose headless mode has no WebGL. Firefox runs under Xvfb whenever Xvfb exists, not
only for GL backends: otherwise the same Firefox would report two renderers ("" and llvmpipe),
i.e. two fingerprints, and its CPU trials would split into two targets by what a plan held."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import ExitStack

from browserdl.errors import UserError

INSTALL = "apt-get install xvfb (or run `make setup` as root)"


class Xvfb:
    """`with Xvfb() as display:` → ":N"; the server ends with the block."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.display = ""

    def __enter__(self) -> str:
        binary = shutil.which("Xvfb")
        if binary is None:
            raise UserError(f"no Xvfb: {INSTALL}")
        read, write = os.pipe()
        # -displayfd: Xvfb picks a free display and writes its number once it accepts clients
        self.proc = subprocess.Popen(
            [binary, "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.__exit__()
            raise UserError(f"Xvfb did not start: {INSTALL}")
        self.display = f":{number}"
        return self.display

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


def display_for(kind: str, stack: ExitStack) -> str:
    """The X display a target kind runs on ("" = headless), kept open by `stack`. WebKit needs
    one; Firefox falls back to headless (GL trials then n/a) when there is no Xvfb."""
    if kind not in ("webkit", "firefox"):
        return ""
    try:
        return stack.enter_context(Xvfb())
    except UserError:
        if kind == "webkit":
            raise
        return ""
