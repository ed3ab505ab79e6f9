"""Where a batch writes: JSONL streamed as chunks finish, summaries once at the end.

Every destination is checked before the batch starts, so an unwritable path costs nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from ..errors import PlaybookError, Problem


class Outputs:
    def __init__(self, targets: list[tuple[str, str]], inputs: list[Path] | None = None):
        seen: set[str] = set()
        problems: list[Problem] = []
        for _fmt, path in targets:
            key = path if path == "-" else os.path.realpath(path)
            if key in seen:
                problems.append(Problem(f"{path}: two outputs write to the same place"))
            seen.add(key)
            if path != "-":
                problem = _unwritable(Path(path), inputs or [])
                if problem is not None:
                    problems.append(problem)
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
        try:
            self.close()
        except PlaybookError:
            if exc is None:
                raise  # else the error already on its way is the one to report

    def _open(self, path: str) -> TextIO:
        if path == "-":
            return sys.stdout
        fh = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()
        self._opened.append(fh)
        return fh

    def close(self) -> None:
        failed: list[Problem] = []
        for fh in self._opened:
            try:
                fh.close()  # flushes: a full disk shows up here
            except OSError as exc:
                failed.append(Problem(f"{fh.name}: cannot write: {exc.strerror or exc}"))
        self._opened.clear()
        if failed:
            raise PlaybookError(failed)

    def write_jsonl(self, text: str) -> None:
        for fh in self._jsonl:
            try:
                fh.write(text)
            except OSError as exc:
                raise PlaybookError(f"{getattr(fh, 'name', '-')}: cannot write: {exc.strerror or exc}") from None

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
                where = "<stdout>" if path == "-" else path
                raise PlaybookError(f"{where}: cannot write: {exc.strerror or exc}") from None


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


def _read_from(path: Path, folder: Path) -> bool:
    """Would the folder reader pick ``path`` up (a case or portfolio file, not hidden)?"""
    from .readers import CASE_SUFFIXES, PORTFOLIO_SUFFIXES

    try:
        inside = Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    if any(part.startswith(".") for part in inside.parts):
        return False
    return path.name.lower().endswith(CASE_SUFFIXES + PORTFOLIO_SUFFIXES)


def _unwritable(path: Path, inputs: list[Path]) -> Problem | None:
    """Why ``path`` cannot take an output, checked before the batch runs (an hour's batch must
    not end on a typo, and an output must never overwrite the portfolio it reads)."""
    if not path.parent.is_dir():
        return Problem(f"{path}: the folder does not exist", None, "create it first")
    if path.is_dir():
        return Problem(f"{path}: is a folder", None, "give a file name, e.g. funnel.html")
    for source in inputs:
        try:
            if path.exists() and os.path.samefile(path, source):
                return Problem(f"{path}: is also an --input; writing it would destroy the portfolio",
                               None, "write the output to another file")
        except OSError:
            continue
        if source.is_dir() and _read_from(path, source):
            return Problem(f"{path}: is inside the input folder {source}, where it would be read as a case "
                           "(in this run or the next)", None, "write the output outside that folder")
    existed = path.exists()
    try:  # append mode: proves the file can be written without truncating a previous report
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        return Problem(f"{path}: cannot write: {exc.strerror or exc}")
    if not existed:
        path.unlink(missing_ok=True)
    return None
