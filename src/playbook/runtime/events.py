"""Run-mode events: the JSONL format, its validation, and the fact merge.

One JSON object per line (blank lines and lines starting with ``#`` are skipped)::

    {"case": "acme", "id": "evt-1", "type": "facts", "at": "2026-03-01T09:30:00+08:00",
     "actor": "wang.lei", "facts": {"opportunity": {"identified": true}}}

See docs/run-mode.md for every field. A line that is not a valid event is a :class:`BadLine`
(reported with its line number and counted); the other lines still run.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# orjson (the optional `fast` extra) parses a line in about a third of the time; jsonio falls
# back to json where orjson would change a value (integers beyond 64 bits) or is not installed.
from ..store.jsonio import canonical as _canonical
from ..store.jsonio import loads_finite as _loads

_DecodeError: tuple[type[Exception], ...] = (ValueError,)  # orjson's and json's decode errors

FACTS = "facts"
ADVANCE = "advance"
WAIVE = "waive"
TYPES = (FACTS, ADVANCE, WAIVE)

COMMON_FIELDS = ("case", "id", "type", "at", "actor", "stage", "reason")
TYPE_FIELDS = {FACTS: ("facts",), ADVANCE: ("to", "waive"), WAIVE: ("waive",)}
RESERVED_FACTS = ("id", "stage")  # managed by run mode, not by fact changes
WAIVER_FIELDS = ("criterion", "reason", "approver", "until")

_FACTS_FIELDS = frozenset(COMMON_FIELDS + TYPE_FIELDS[FACTS])  # what a well-formed 'facts' event may hold


@dataclass(frozen=True)
class WaiverInput:
    criterion: str
    reason: str
    approver: str
    until: str  # YYYY-MM-DD


@dataclass
class Event:
    case: str
    id: str
    type: str
    at: str | None = None  # ISO date or timestamp, as given
    actor: str | None = None
    stage: str | None = None  # the stage the sender expects the case to be in
    reason: str | None = None
    facts: dict[str, Any] | None = None
    to: str | None = None
    waive: list[WaiverInput] = field(default_factory=list)
    line: int | None = None

    @property
    def date(self) -> dt.date | None:
        """The calendar date of ``at`` (the evaluation date unless --today overrides it)."""
        return parse_when(self.at).date() if self.at else None

    def payload(self) -> dict[str, Any]:
        """The event as recorded in the store (JSON)."""
        out: dict[str, Any] = {"case": self.case, "id": self.id, "type": self.type}
        # spelled out rather than a getattr loop: this runs for every event applied
        if self.at is not None:
            out["at"] = self.at
        if self.actor is not None:
            out["actor"] = self.actor
        if self.stage is not None:
            out["stage"] = self.stage
        if self.reason is not None:
            out["reason"] = self.reason
        if self.facts is not None:
            out["facts"] = self.facts
        if self.to is not None:
            out["to"] = self.to
        if self.waive:
            out["waive"] = [w.__dict__ for w in self.waive]
        return out


@dataclass(frozen=True)
class BadLine:
    line: int
    message: str
    source: str = "<events>"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class EventFormatError(ValueError):
    """Why a mapping is not a valid event."""


@functools.lru_cache(maxsize=4096)
def parse_when(text: str) -> dt.datetime:
    """``at`` as a datetime (a date alone is its midnight). Cached: every event's ``at`` is parsed
    when the event is read (to validate it) and again for its ``date`` when it is applied, and a
    stream's events often share one. A datetime is immutable, so sharing it is safe."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text or " " in text else None
    if value is None:
        value = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    return value


def _text(raw: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise EventFormatError(f"`{key}` is required (a non-empty string)")
        return None
    if not isinstance(value, str) or not value.strip():
        raise EventFormatError(f"`{key}` must be a non-empty string, got {json.dumps(value, ensure_ascii=False)}")
    return value


def _date(value: Any, what: str) -> str:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise EventFormatError(f"{what} must be a date YYYY-MM-DD, got {json.dumps(value, ensure_ascii=False)}")


def parse_waiver(raw: Any, where: str = "waiver") -> WaiverInput:
    if not isinstance(raw, dict):
        raise EventFormatError(f"{where} must be an object with {', '.join(WAIVER_FIELDS)}")
    unknown = sorted(set(raw) - set(WAIVER_FIELDS))
    if unknown:
        raise EventFormatError(f"{where}: unknown field(s) {', '.join(unknown)} (expected {', '.join(WAIVER_FIELDS)})")
    values = {}
    for key in ("criterion", "reason", "approver"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise EventFormatError(f"{where}: `{key}` is required (a non-empty string)")
        values[key] = value
    return WaiverInput(until=_date(raw.get("until"), f"{where}: `until`"), **values)


def _well_formed_facts_event(raw: dict[str, Any], line: int | None) -> Event | None:
    """The common case, checked without building sets or messages: a 'facts' event whose
    fields are all valid. Returns None for anything else -- then the full validation below runs
    and decides (an error, or an event this conservative check did not accept, e.g. a string
    subclass), so every error and its precedence stay those of the full validation."""
    etype = raw.get("type", FACTS)
    if type(etype) is not str or etype != FACTS or not raw.keys() <= _FACTS_FIELDS:
        return None
    case, event_id, facts = raw.get("case"), raw.get("id"), raw.get("facts")
    if (type(case) is not str or not case.strip() or type(event_id) is not str or not event_id.strip()
            or type(facts) is not dict or "id" in facts or "stage" in facts):
        return None
    at, actor, stage, reason = raw.get("at"), raw.get("actor"), raw.get("stage"), raw.get("reason")
    for value in (at, actor, stage, reason):
        if value is not None and (type(value) is not str or not value.strip()):
            return None
    if at is not None:
        try:
            parse_when(at)
        except ValueError:
            return None
    return Event(case=case, id=event_id, type=FACTS, at=at, actor=actor, stage=stage, reason=reason, facts=facts,
                 line=line)


def event_from_mapping(raw: Any, line: int | None = None) -> Event:
    """Validate one decoded event. Raises EventFormatError with what is wrong."""
    if type(raw) is dict:
        event = _well_formed_facts_event(raw, line)
        if event is not None:
            return event
    return _validated_event(raw, line)


def _validated_event(raw: Any, line: int | None) -> Event:
    """The full validation of every field, in order: the first problem found is the error."""
    if not isinstance(raw, dict):
        raise EventFormatError(f"an event must be a JSON object, got {type(raw).__name__}")
    etype = raw.get("type", FACTS)
    if etype not in TYPES:
        raise EventFormatError(f"unknown event type {etype!r} (expected one of: {', '.join(TYPES)})")
    allowed = COMMON_FIELDS + TYPE_FIELDS[etype]
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise EventFormatError(f"unknown field(s) for a {etype!r} event: {', '.join(unknown)} "
                               f"(allowed: {', '.join(allowed)})")
    case = _text(raw, "case", required=True)
    event_id = _text(raw, "id", required=True)
    at = _text(raw, "at")
    if at is not None:
        try:
            parse_when(at)
        except ValueError:
            raise EventFormatError(f"`at` must be an ISO date or timestamp (2026-03-01T09:30:00+08:00), got {at!r}") from None
    event = Event(case=case or "", id=event_id or "", type=etype, at=at, actor=_text(raw, "actor"),
                  stage=_text(raw, "stage"), reason=_text(raw, "reason"), line=line)
    if etype == FACTS:
        facts = raw.get("facts")
        if not isinstance(facts, dict):
            raise EventFormatError("a 'facts' event needs `facts`: an object of fact changes")
        reserved = [k for k in RESERVED_FACTS if k in facts]
        if reserved:
            raise EventFormatError(f"`facts` may not set {', '.join(reserved)}: run mode manages the case id and "
                                   "stage (use an 'advance' event to move a case)")
        event.facts = facts
    if etype == ADVANCE:
        event.to = _text(raw, "to", required=True)
    if etype in (ADVANCE, WAIVE):
        waive = raw.get("waive")
        if waive is None and etype == WAIVE:
            raise EventFormatError("a 'waive' event needs `waive`: a waiver object or a list of them")
        items = waive if isinstance(waive, list) else ([waive] if waive is not None else [])
        if etype == WAIVE and not items:
            raise EventFormatError("a 'waive' event needs at least one waiver")
        event.waive = [parse_waiver(w, f"waive[{i}]") for i, w in enumerate(items)]
    return event


MAX_DEPTH = 64  # objects and lists nested deeper than this in one event: a bad line


def read_events(lines: Iterable[str | bytes], source: str = "<events>") -> Iterator[Event | BadLine]:
    """Parse JSONL lazily (constant memory): yields an Event or a BadLine per non-blank line.

    ``lines`` may be bytes (a file opened in binary, stdin's buffer): each line is decoded on its
    own, so a line that is not UTF-8 is one bad line, not the end of the run. A UTF-8 byte-order
    mark before the first line is skipped. A stream that breaks off (a truncated gzip file, a
    read error) ends with a bad line saying so."""
    iterator = iter(lines)
    number = 0
    while True:
        try:
            text = next(iterator)
        except StopIteration:
            return
        except EOFError:  # gzip: the compressed file stops short
            yield BadLine(number + 1, "the compressed file is truncated here; the rest is lost (copy or download it "
                                      "again)", source)
            return
        except OSError as exc:
            yield BadLine(number + 1, f"cannot read further: {exc.strerror or exc}", source)
            return
        number += 1
        if type(text) is bytes:
            if number == 1 and text.startswith(b"\xef\xbb\xbf"):
                text = text[3:]
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadLine(number, f"not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line): save "
                                      "the file as UTF-8", source)
                continue
        elif number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            raw = _loads(stripped)
        except _DecodeError as exc:
            yield BadLine(number, f"not valid JSON: {exc}", source)
            continue
        except RecursionError:
            yield BadLine(number, f"nested more than {MAX_DEPTH} levels deep", source)
            continue
        # depth <= the number of brackets: a count (fast, in C) spares the walk for nearly every line
        if stripped.count("{") + stripped.count("[") > MAX_DEPTH and _depth(raw, MAX_DEPTH + 1) > MAX_DEPTH:
            yield BadLine(number, f"nested more than {MAX_DEPTH} levels deep", source)
            continue
        try:
            yield event_from_mapping(raw, number)
        except EventFormatError as exc:
            yield BadLine(number, str(exc), source)


def _depth(value: Any, limit: int) -> int:
    """How deep objects and lists nest in ``value``, counted up to ``limit`` (no recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest >= limit:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def merge_facts(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7396): objects merge key by key, ``null`` deletes a key, anything
    else (lists included) replaces. Returns a new mapping; ``target`` is not modified.

    Every object of the result has its keys in sorted order when ``target``'s have (facts read
    from the store do: it writes them with sorted keys), so merged facts are exactly what the
    store gives back once they are saved -- the runner may keep them for a case's next event in
    the same transaction instead of reading them again (see ``Runner.group``). The patch is put
    in that form first (``jsonio.canonical``: sorted keys at every level)."""
    return _merge(target, _canonical(patch))


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(target)
    added = False
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            continue
        if key not in out:
            added = True
        if isinstance(value, dict):
            base = out.get(key)
            # an object merged into nothing is the object without its nulls: most of a patch,
            # taken as it is (it is canonical's copy) instead of rebuilt key by key
            out[key] = _merge(base, value) if isinstance(base, dict) and base else _without_nulls(value)
        else:
            out[key] = value
    # keys new to a non-empty object go to their sorted place; into an empty one the (sorted)
    # patch's keys come in order already
    return {k: out[k] for k in sorted(out)} if added and target else out


def _without_nulls(value: dict[str, Any]) -> dict[str, Any]:
    """``_merge({}, value)``: ``value`` without the null members of its objects (lists are values
    and keep theirs); ``value`` itself when it has none, else a new mapping (never modified)."""
    out: dict[str, Any] | None = None
    for key, item in value.items():
        if item is None:
            if out is None:
                out = _before(value, key)
            continue
        if isinstance(item, dict):
            kept = _without_nulls(item)
            if kept is not item and out is None:
                out = _before(value, key)
            item = kept
        if out is not None:
            out[key] = item
    return value if out is None else out


def _before(value: dict[str, Any], stop: str) -> dict[str, Any]:
    """The members of ``value`` before the key ``stop``, in order."""
    out = {}
    for key, item in value.items():
        if key == stop:
            break
        out[key] = item
    return out
