"""A text progress bar for the management commands (one line per stage, redrawn in place)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

LABELS = {"load": "loading events", "fit": "fitting", "evaluate": "evaluating", "refit": "refitting", "save": "saving"}


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.stage = ""
        self.started = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            if self.stage and self.tty:
                self.stream.write("\n")
            self.stage, self.started = stage, time.monotonic()
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{LABELS.get(stage, stage):<15} [{bar}] {done}/{total}  {time.monotonic() - self.started:6.1f}s"
        if self.tty:
            self.stream.write("\r" + line)
        elif done in (0, total) or done % max(1, total // 5) == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stage and self.tty:
            self.stream.write("\n")
        self.stream.flush()
