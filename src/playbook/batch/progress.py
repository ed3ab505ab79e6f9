"""A one-line progress bar on stderr (only when stderr is a terminal; never in pipes or CI logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .readers import Meter


class Progress:
    def __init__(self, meter: Meter, stream: TextIO | None = None, interval: float = 0.2):
        self.meter = meter
        self.stream = stream or sys.stderr
        self.interval = interval
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    @staticmethod
    def wanted(stream: TextIO | None = None) -> bool:
        stream = stream or sys.stderr
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def update(self, cases: int, rejected: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = cases / elapsed
        total = self.meter.total_bytes
        if total:
            frac = min(self.meter.bytes / total, 1.0)
            filled = int(frac * 24)
            bar = f"[{'#' * filled}{'.' * (24 - filled)}] {frac * 100:5.1f}% "
            remaining = (elapsed / frac - elapsed) if frac > 0 else 0
            eta = f"  ETA {remaining:,.0f}s" if frac < 1 else ""
        else:
            bar, eta = "", ""
        bad = f"  {rejected:,} rejected" if rejected else ""
        self.stream.write(f"\r{bar}{cases:,} cases  {rate:,.0f}/s{bad}{eta}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Wipe the bar's line so a message can be printed; the next update draws it again."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.last = 0.0

    def close(self, cases: int, rejected: int) -> None:
        if self.shown:
            self.update(cases, rejected, force=True)
            self.stream.write("\n")
            self.stream.flush()
