"""Where a batch writes: JSONL streamed as chunks finish, summaries once at the end.

Every destination is checked before the batch starts, so an unwritable path costs nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from ..errors import PlaybookError, Problem


class Outputs:
    def __init__(self, targets: list[tuple[str, str]]):
        seen: set[str] = set()
        problems: list[Problem] = []
        for _fmt, path in targets:
            if path in seen:
                problems.append(Problem(f"{path}: two outputs write to the same place"))
            seen.add(path)
            if path != "-" and not Path(path).parent.is_dir():
                problems.append(Problem(f"{path}: the folder does not exist", None, "create it first"))
        if problems:
            raise PlaybookError(problems)
        self.targets = targets
        self._jsonl: list[TextIO] = []
        self._opened: list[TextIO] = []

    def __enter__(self) -> Outputs:
        try:
            for fmt, path in self.targets:
                if fmt == "jsonl":
                    self._jsonl.append(self._open(path))
        except OSError as exc:
            self.close()
            raise PlaybookError(f"{exc.filename}: cannot write: {exc.strerror}") from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _open(self, path: str) -> TextIO:
        if path == "-":
            return sys.stdout
        fh = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()
        self._opened.append(fh)
        return fh

    def close(self) -> None:
        for fh in self._opened:
            fh.close()
        self._opened.clear()

    def write_jsonl(self, text: str) -> None:
        for fh in self._jsonl:
            fh.write(text)

    def write_summaries(self, summary: dict[str, Any]) -> None:
        for fmt, path in self.targets:
            if fmt == "jsonl":
                continue
            text = render(fmt, summary)
            try:
                fh = self._open(path)
                fh.write(text)
                fh.flush()
            except OSError as exc:
                raise PlaybookError(f"{path}: cannot write: {exc.strerror}") from None


def render(fmt: str, summary: dict[str, Any]) -> str:
    if fmt == "summary-json":
        return json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    if fmt == "summary-text":
        from .summary_text import render_summary_text

        return render_summary_text(summary)
    if fmt == "html":
        from .html import render_html

        return render_html(summary)
    raise ValueError(fmt)
