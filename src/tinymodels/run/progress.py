"""Build progress on stderr: a tqdm bar on a terminal, plain periodic lines in CI and logs.

Either way every finished model type gets one ✓/✕ line (plus a few indented lines
naming failed architectures), printed above the bar so the bar stays at the bottom.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Final, TextIO

from tinymodels import log

# In CI logs (and when stderr is not a terminal) a status line at most this often.
LINE_INTERVAL: Final[float] = 30.0


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Counts finished/failed model types and shows them (bar or periodic lines)."""

    def __init__(self, total: int, initial: int = 0, stream: TextIO | None = None,
                 bar: bool | None = None, interval: float = LINE_INTERVAL) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.initial = initial
        self.done = initial
        self.failed = 0
        self.start = time.monotonic()
        self.interval = interval
        self._last_line = self.start
        self._bar: Any = None
        if bar is None:
            bar = not log.IN_CI and hasattr(self.stream, "isatty") and self.stream.isatty()
        if bar and total > initial:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, initial=initial, file=self.stream, unit="type", dynamic_ncols=True,
                                 smoothing=0.1, postfix={"failed": 0})

    def eta(self) -> float | None:
        """Seconds left at the rate so far (types already up to date do not count)."""
        built = self.done - self.initial
        if built <= 0:
            return None
        rate = built / max(1e-9, time.monotonic() - self.start)
        return (self.total - self.done) / rate

    def status(self) -> str:
        eta = self.eta()
        return (f"[{self.done}/{self.total}] {self.failed} failed, elapsed {_duration(time.monotonic() - self.start)}"
                + (f", ETA {_duration(eta)}" if eta is not None else ""))

    def write(self, text: str) -> None:
        """A line above the bar (or a plain line)."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def finished(self, ok: bool, lines: list[str]) -> None:
        """One model type is done: print its lines and advance."""
        for line in lines:
            self.write(line)
        self.done += 1
        self.failed += not ok
        if self._bar is not None:
            self._bar.set_postfix(failed=self.failed, refresh=False)
            self._bar.update(1)

    def tick(self) -> None:
        """Called about once a second: refresh the bar, or print a status line now and then."""
        now = time.monotonic()
        if self._bar is not None:
            self._bar.refresh()
        elif now - self._last_line >= self.interval and self.done < self.total:
            self._last_line = now
            print(self.status(), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
