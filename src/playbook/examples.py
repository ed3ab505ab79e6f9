"""Example cases with expected results: the playbook's own tests (``playbook test``).

Examples live in ``examples/<playbook id>/*.yaml|json`` beside the playbook file, or inline
under ``examples:``. Each has ``case`` (the facts), optional ``today`` and ``stage``, and
``expect`` (see docs/playbook-format.md). Coverage: every criterion should be seen both
passing and failing across the examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cases import EXAMPLE_KEYS
from .engine import CheckResult, evaluate
from .errors import CaseError, Location, PlaybookError, Problem
from .model import CompiledPlaybook
from .sourcefile import read_document

STAGE_KEYS = ("entered", "current", "inferred", "ready_to_advance", "complete", "outcome")
LIST_KEYS = ("blocking", "failing", "passing")
EXPECT_KEYS = (*STAGE_KEYS, *LIST_KEYS, "derived", "warnings", "declared", "next")
_MISSING = object()


@dataclass
class Example:
    name: str
    case: dict[str, Any]
    expect: dict[str, Any]
    today: dt.date | None = None
    stage: str | None = None
    description: str = ""
    location: Location | None = None


@dataclass
class ExampleOutcome:
    example: Example
    passed: bool
    differences: list[str] = field(default_factory=list)
    result: CheckResult | None = None


_BOOL_KEYS = ("entered", "ready_to_advance", "complete")
_STAGE_ID_KEYS = ("current", "inferred", "outcome", "declared", "next")


def _expect_type_problem(key: str, value: Any) -> str | None:
    """What ``expect.<key>`` must be, when ``value`` is not that (a typo must not pass or crash)."""
    if key in _BOOL_KEYS and not isinstance(value, bool):
        return "true or false"
    if key in _STAGE_ID_KEYS and value is not None and not isinstance(value, str):
        return "an id (or null)"
    if key in LIST_KEYS and not (value is None or (isinstance(value, list)
                                                   and all(isinstance(v, str) for v in value))):
        return "a list of criterion ids"
    if key == "derived" and not (value is None or isinstance(value, dict)):
        return "a mapping of dotted path -> expected value"
    if key == "warnings" and (isinstance(value, bool) or not isinstance(value, int)):
        return "a number"
    return None


def _parse_example(data: Any, name: str, location: Location,
                   locate: Callable[[tuple[Any, ...]], Location] | None = None) -> Example:
    if not isinstance(data, dict) or not isinstance(data.get("case"), dict):
        raise PlaybookError([Problem("an example needs a `case` mapping (and usually `expect`)", location)])
    unknown = set(data) - EXAMPLE_KEYS
    if unknown:
        raise PlaybookError([Problem(f"unknown key(s) in example: {', '.join(sorted(unknown))}", location)])
    expect = data.get("expect") or {}
    if not isinstance(expect, dict):
        raise PlaybookError([Problem("`expect` must be a mapping", location)])
    bad = set(expect) - set(EXPECT_KEYS)
    if bad:
        raise PlaybookError([Problem(f"unknown key(s) in expect: {', '.join(sorted(bad))} "
                                     f"(allowed: {', '.join(EXPECT_KEYS)})", location)])
    for key, value in expect.items():
        wanted = _expect_type_problem(key, value)
        if wanted:
            where = locate(("expect", key)) if locate is not None else location
            raise PlaybookError([Problem(f"expect.{key}: expected {wanted}, got {value!r}", where)])
    today = data.get("today")
    try:
        today_date = dt.date.fromisoformat(str(today)) if today is not None else None
    except ValueError:
        raise PlaybookError([Problem(f"`today` must be YYYY-MM-DD, got {today!r}", location)]) from None
    return Example(
        name=str(data.get("name") or name), case=data["case"], expect=expect, today=today_date,
        stage=data.get("stage"), description=str(data.get("description") or ""), location=location,
    )


def find_examples(pb: CompiledPlaybook, directory: Path | None = None,
                  errors: list[tuple[str, PlaybookError]] | None = None) -> list[Example]:
    """Inline examples first, then files from ``directory`` (default: examples/<id>/ beside it).

    An example (inline or file) that cannot be read raises PlaybookError, unless ``errors`` is
    given: then it is recorded there as ``(name, error)`` and the other examples are still
    returned.
    """
    examples: list[Example] = []
    inline = pb.data.get("examples") or []
    locate = _inline_locator(pb, inline)
    for i, raw in enumerate(inline):
        name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
        try:
            examples.append(_parse_example(raw, name or f"inline-{i + 1}", locate(("examples", i)),
                                           lambda sub, i=i: locate(("examples", i, *sub))))
        except PlaybookError as exc:
            if errors is None:
                raise
            errors.append((name or f"inline-{i + 1}", exc))
    folder = directory or pb.examples_dir
    if folder is not None and folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in (".yaml", ".yml", ".json") and path.is_file():
                try:
                    doc = read_document(path)
                    examples.append(_parse_example(doc.data, path.stem, doc.locate(()), doc.locate))
                except PlaybookError as exc:
                    if errors is None:
                        raise
                    errors.append((path.stem, exc))
    return examples


def _inline_locator(pb: CompiledPlaybook, inline: list[Any]) -> Callable[[tuple[Any, ...]], Location]:
    """Locate within the playbook's inline ``examples:``. The compiled playbook keeps no
    positions, so its file is read again when it has inline examples (those of a base playbook
    reached through ``extends`` are located at the playbook file only)."""
    fallback = Location(str(pb.path)) if pb.path else Location(pb.id)
    doc = None
    if inline and pb.path is not None:
        try:
            doc = read_document(pb.path)
        except PlaybookError:
            doc = None
    if doc is None or not isinstance(doc.data, dict) or doc.data.get("examples") != inline:
        return lambda _path: fallback
    return doc.locate


def _lookup(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _show(value: Any) -> str:
    return "(missing)" if value is _MISSING else repr(value)


def compare(pb: CompiledPlaybook, example: Example, result: CheckResult) -> list[str]:
    """Differences between the example's expectations and the result (empty: it passes)."""
    exp = example.expect
    diffs: list[str] = []
    actual = {
        "entered": result.entered,
        "current": result.current_stage,
        "inferred": result.inferred_stage,
        "ready_to_advance": result.ready,
        "complete": result.complete,
        "outcome": result.outcome,
        "declared": result.declared,
        "next": result.next_stage,
    }
    for key in (*STAGE_KEYS, "declared", "next"):
        if key in exp and exp[key] != actual[key]:
            diffs.append(f"{key}: expected {exp[key]!r}, got {actual[key]!r}")
    ids = {c.id for c in pb.criteria}
    status = {c.id: result.passed[c.index] for c in pb.criteria}
    for key in LIST_KEYS:
        if key not in exp:
            continue
        listed = exp[key] or []
        unknown = [i for i in listed if i not in ids]
        if unknown:
            diffs.append(f"{key}: unknown criterion id(s) {', '.join(map(repr, unknown))}")
            continue
        if key == "blocking":
            got = set(result.blocking_ids())
            if set(listed) != got:
                missing, extra = sorted(set(listed) - got), sorted(got - set(listed))
                parts = []
                if missing:
                    parts.append(f"expected but not blocking: {', '.join(missing)}")
                if extra:
                    parts.append(f"blocking but not expected: {', '.join(extra)}")
                diffs.append("blocking: " + "; ".join(parts))
        else:
            want = key == "passing"
            wrong = [i for i in listed if status[i] != want]
            if wrong:
                diffs.append(f"{key}: {', '.join(wrong)} {'failed' if want else 'passed'}")
    for path, want in (exp.get("derived") or {}).items():
        got = _lookup(result.derived, str(path))
        if got != want:
            diffs.append(f"derived.{path}: expected {want!r}, got {_show(got)}")
    if "warnings" in exp:
        count = 1 if result.declared is not None and result.current > result.inferred else 0
        if exp["warnings"] != count:
            diffs.append(f"warnings: expected {exp['warnings']}, got {count}")
    return diffs


def run_example(pb: CompiledPlaybook, example: Example, *, today: dt.date | None = None) -> ExampleOutcome:
    try:
        result = evaluate(pb, example.case, today=example.today or today, stage=example.stage,
                          case_id=str(example.case.get("id") or example.name))
    except CaseError as exc:
        return ExampleOutcome(example, False, [f"case error: {exc}"])
    diffs = compare(pb, example, result)
    return ExampleOutcome(example, not diffs, diffs, result)


@dataclass
class Coverage:
    seen_pass: set[str] = field(default_factory=set)
    seen_fail: set[str] = field(default_factory=set)

    def add(self, pb: CompiledPlaybook, result: CheckResult) -> None:
        for c in pb.criteria:
            (self.seen_pass if result.passed[c.index] else self.seen_fail).add(c.id)

    def gaps(self, pb: CompiledPlaybook) -> dict[str, list[str]]:
        ids = [c.id for c in pb.criteria]
        return {
            "never_passed": [i for i in ids if i not in self.seen_pass],
            "never_failed": [i for i in ids if i not in self.seen_fail],
        }
