"""Progress of a long batch on stderr: the running count and an estimate of the time left.

On a terminal, one line redrawn in place:

    batch [##########----------]  100/200  50%  about 2 min 10 s left

Otherwise (a log file, CI), one line per finished submission:

    batch: 100/200 alice 85/100 (about 2 min 10 s left)

The estimate assumes the submissions still to grade take as long, on average, as those already
graded: time left = elapsed / done * (total - done).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 20


def duration(seconds: float) -> str:
    """ "45 s", "2 min 10 s", "1 h 05 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        terminal: bool | None = None,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.started = clock()
        self.done = 0
        self._width = 0  # of the last line drawn in place (to blank out what a shorter one leaves)

    def left(self) -> str:
        if not self.done:
            return ""
        remaining = (self.clock() - self.started) / self.done * (self.total - self.done)
        return f"about {duration(remaining)} left" if self.done < self.total else "done"

    def advance(self, name: str, detail: str = "") -> None:
        """One more submission finished (`detail`: e.g. its score)."""
        self.done += 1
        if self.terminal:
            filled = BAR_WIDTH * self.done // max(self.total, 1)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            share = 100 * self.done // max(self.total, 1)
            line = f"batch [{bar}] {self.done:>4}/{self.total}  {share:3d}%  {self.left()}"
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            if self.done == self.total:
                self.stream.write("\n")
        else:
            what = f"{name} {detail}".strip()
            self.stream.write(f"batch: {self.done}/{self.total} {what} ({self.left()})\n")
        self.stream.flush()
