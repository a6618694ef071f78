"""A private X display for engines without a headless mode (WebKitGTK's MiniBrowser) and for
Firefox when a WebGL backend is asked for (its headless mode has none)."""

from __future__ import annotations

import os
import shutil
import subprocess

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
