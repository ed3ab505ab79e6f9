"""Feed a stream of JSONL events through a Runner and summarise what happened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location, PlaybookError, Problem
from .events import BadLine
from .flow import release as release_sessions
from .runner import APPLIED, DUPLICATE, Applied, Runner


@dataclass
class RunSummary:
    """Counts, plus details (all of them, or the first ``keep`` of each kind)."""

    keep: int | None = None  # None: keep every detail (JSON output)
    lang: str = "en"
    read: int = 0
    applied: int = 0
    duplicate: int = 0
    rejected: int = 0
    bad: int = 0
    transitions_total: int = 0
    actions_total: int = 0
    closed_total: int = 0
    transitions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def _keep(self, bucket: list[dict[str, Any]], item: dict[str, Any]) -> None:
        if self.keep is None or len(bucket) < self.keep:
            bucket.append(item)

    def add(self, outcome: Applied) -> None:
        self.read += 1
        ev = outcome.event
        where = {"case": ev.case, "event": ev.id, "line": ev.line}
        if outcome.status == DUPLICATE:
            self.duplicate += 1
            return
        if outcome.status != APPLIED:
            self.rejected += 1
            assert outcome.reason is not None
            self._keep(self.rejections, {**where, "reason": outcome.reason.to_dict(self.lang)})
            return
        self.applied += 1
        for t in outcome.transitions:
            self.transitions_total += 1
            if t.get("outcome"):
                self.closed_total += 1
            self._keep(self.transitions, {**where, **t})
        for a in outcome.actions:
            self.actions_total += 1
            self._keep(self.actions, {**where, **a})
        for e in outcome.errors:
            self._keep(self.errors, {**where, "message": e})

    def add_bad(self, bad: BadLine) -> None:
        self.read += 1
        self.bad += 1
        self._keep(self.bad_lines, {"line": bad.line, "source": bad.source, "message": bad.message})

    def counts(self) -> dict[str, int]:
        return {"read": self.read, "applied": self.applied, "duplicate": self.duplicate, "rejected": self.rejected,
                "bad": self.bad, "transitions": self.transitions_total, "actions": self.actions_total,
                "closed": self.closed_total}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "transitions": self.transitions, "actions": self.actions,
                "rejected": self.rejections, "bad": self.bad_lines, "errors": self.errors}


def run_stream(runner: Runner, items: Iterable[Any], summary: RunSummary, source: str = "<events>") -> RunSummary:
    """Apply every event of ``items`` (from ``read_events``) in order; bad lines are counted.

    A case's durable_rules session is kept from one of its events to the next (consecutive
    events of a case skip the restore) and released at the end."""
    try:
        for item in items:
            if isinstance(item, BadLine):
                summary.add_bad(item)
                continue
            try:
                outcome = runner.apply(item, keep_session=True)
            except PlaybookError as exc:
                # The event's transaction was rolled back: nothing of it is stored. Say where we stopped.
                where = Location(source, item.line)
                raise PlaybookError([Problem(f"event {item.id!r} of case {item.case!r}: {p.message}",
                                             p.location or where, p.hint) for p in exc.problems]) from exc
            summary.add(outcome)
    finally:
        release_sessions()
    return summary
