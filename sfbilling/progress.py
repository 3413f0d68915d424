"""A one-line progress display on stderr for long CLI runs."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Redraws `stage: done/total` in place on a terminal; prints stage changes otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._stage = ""
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int | None,
                 eta_s: float | None = None) -> None:
        now = time.monotonic()
        if stage != self._stage:
            if self._tty and self._stage:
                self._stream.write("\n")
            self._stage = stage
        elif self._tty and now - self._last < 0.1 and done != total:
            return
        self._last = now
        if total:
            width = 30
            filled = int(width * min(done, total) / total)
            text = f"{stage}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
            if eta_s is not None and done < total:
                text += f", about {_duration(eta_s)} left"
        else:
            text = f"{stage}: {done}" if done else f"{stage}…"
        if self._tty:
            self._stream.write("\r" + text.ljust(79))
        elif done in (0, total):
            self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the line."""
        if self._tty and self._stage:
            self._stream.write("\n")
            self._stream.flush()


def _duration(seconds: float) -> str:
    """`45 s`, `12 min`, `1 h 05 min`."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
