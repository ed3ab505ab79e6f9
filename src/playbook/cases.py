"""Reading case files (YAML/JSON, or stdin).

A case file is a mapping of facts. An example file (``case:`` and optionally ``expect:``,
``today:``, ``stage:``, as used by ``playbook test``) is accepted too: its ``case`` is the facts
and its ``today`` and ``stage`` are used unless the command line overrides them, so consultants
can check any example.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CaseError, Location, PlaybookError, Problem
from .sourcefile import SourceDoc, parse_text, read_document


@dataclass
class CaseInput:
    facts: dict[str, Any]
    case_id: str
    doc: SourceDoc
    today: dt.date | None = None  # from an example file
    stage: str | None = None  # from an example file


EXAMPLE_KEYS = frozenset(("name", "description", "today", "stage", "case", "expect"))


def is_example(data: Any) -> bool:
    """An example file: a ``case`` mapping, and nothing at the top level but the keys of an
    example (``expect`` is optional, as in ``playbook test``)."""
    return isinstance(data, dict) and isinstance(data.get("case"), dict) and data.keys() <= EXAMPLE_KEYS


def read_case(source: str) -> CaseInput:
    """A case file (or ``-`` for stdin) -> CaseInput. Raises CaseError."""
    try:
        if source == "-":
            stream = getattr(sys.stdin, "buffer", None)  # bytes: a bad encoding is reported, not raised
            raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise CaseError([Problem(f"not UTF-8 text (byte {exc.start})", Location("<stdin>"),
                                         "send the case as UTF-8")]) from None
            doc = _parse_stdin(text)
            default_id = "stdin"
        else:
            doc = read_document(source)
            default_id = Path(source).stem
    except PlaybookError as exc:
        raise CaseError(exc.problems) from None
    if doc.data is None:
        raise CaseError([Problem("the case is empty", Location(doc.file),
                                 "write the facts as key: value pairs (see schemas/case.schema.json)")])
    if not isinstance(doc.data, dict):
        raise CaseError([Problem(
            f"a case must be a mapping of facts (got {_kind(doc.data)})",
            doc.locate(()),
            "write the case as key: value pairs (see schemas/case.schema.json)",
        )])
    today = stage = None
    facts = doc.data
    if is_example(doc.data):
        facts = doc.data["case"]
        stage = doc.data.get("stage")
        if doc.data.get("today") is not None:
            try:
                today = dt.date.fromisoformat(str(doc.data["today"]))
            except ValueError:
                raise CaseError([Problem(f"`today` must be YYYY-MM-DD, got {doc.data['today']!r}",
                                         doc.locate(("today",)))]) from None
    raw_id = facts.get("id")
    return CaseInput(facts, str(raw_id) if raw_id is not None else default_id, doc, today, stage)


def _parse_stdin(text: str) -> SourceDoc:
    """Stdin has no file name: text starting with ``{`` or ``[`` is read as JSON, and as YAML
    (a flow mapping, ``{a: 1}``) when it is not JSON; if neither reads it, the JSON error."""
    if not text.lstrip().startswith(("{", "[")):
        return parse_text(text, "<stdin>", fmt="yaml")
    try:
        return parse_text(text, "<stdin>", fmt="json")
    except PlaybookError as as_json:
        try:
            return parse_text(text, "<stdin>", fmt="yaml")
        except PlaybookError:
            raise as_json from None


def _kind(value: Any) -> str:
    return {list: "a list", str: "a text", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)
