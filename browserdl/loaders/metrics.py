"""What a trial cost the browser outside the page's own timers: CPU time and peak memory of a local
browser's whole process tree (psutil, every engine alike), or the renderer's CPU over CDP for a
remote Chromium; the JS heap where the engine tells (CDP only: `—` elsewhere).

Memory is the tree's proportional set size (PSS: each shared page split among the processes
sharing it), so a many-process browser is not counted once per process as summed RSS would."""

from __future__ import annotations

import threading
import time

import psutil

from browserdl.loaders.drivers.base import Driver, Page

RSS_EVERY_S = 0.05


class TrialMeter:
    """`with TrialMeter(driver, page) as meter:` … `meter.mark()` around each span; afterwards
    `meter.cpu_percent(i, j)` between marks and `meter.peak_rss` (bytes, None when remote)."""

    def __init__(self, driver: Driver, page: Page) -> None:
        self.driver = driver
        self.page = page
        self.local = bool(driver.processes())
        self.marks: list[tuple[float, float | None]] = []  # (wall s, CPU s)
        self.heaps: list[float] = []
        self.peak_rss: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TrialMeter:
        if self.local:
            self.peak_rss = 0.0
            self._thread = threading.Thread(target=self._sample_rss, daemon=True)
            self._thread.start()
        self.mark()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _cpu_s(self) -> float | None:
        if not self.local:
            return self.page.renderer_cpu_s()
        total = 0.0
        for proc in self.driver.processes():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        return total

    def _sample_rss(self) -> None:
        while not self._stop.is_set():
            rss = 0
            for proc in self.driver.processes():
                try:
                    rss += proc.memory_full_info().pss
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss or 0.0, float(rss))
            self._stop.wait(RSS_EVERY_S)

    def mark(self) -> None:
        self.marks.append((time.perf_counter(), self._cpu_s()))
        heap = self.page.heap_bytes()
        if heap is not None:
            self.heaps.append(heap)

    def cpu_percent(self, start: int, end: int) -> float | None:
        """CPU time over wall time between two marks, in % of one core (Table 2)."""
        (wall0, cpu0), (wall1, cpu1) = self.marks[start], self.marks[end]
        if cpu0 is None or cpu1 is None or wall1 <= wall0:
            return None
        return 100.0 * (cpu1 - cpu0) / (wall1 - wall0)

    @property
    def heap(self) -> float | None:
        return max(self.heaps) if self.heaps else None
