"""Reading case files (YAML/JSON, or stdin)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import CaseError, Location, PlaybookError, Problem
from .sourcefile import SourceDoc, parse_text, read_document


def read_case(source: str) -> tuple[dict[str, Any], str, SourceDoc]:
    """A case file (or ``-`` for stdin) -> (facts, case id, document). Raises CaseError."""
    try:
        if source == "-":
            text = sys.stdin.read()
            doc = parse_text(text, "<stdin>", fmt="json" if text.lstrip().startswith(("{", "[")) else "yaml")
            default_id = "stdin"
        else:
            doc = read_document(source)
            default_id = Path(source).stem
    except PlaybookError as exc:
        raise CaseError(exc.problems) from None
    if not isinstance(doc.data, dict):
        raise CaseError([Problem(
            f"a case must be a mapping of facts (got {type(doc.data).__name__})",
            doc.locate(()) if doc.positions else Location(doc.file),
            "write the case as key: value pairs (see schemas/case.schema.json)",
        )])
    raw_id = doc.data.get("id")
    return doc.data, str(raw_id) if raw_id is not None else default_id, doc
