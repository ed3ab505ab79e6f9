"""Feed a stream of JSONL events through a Runner, in groups of events that share one store
transaction (group commit), and summarise what was committed."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location, PlaybookError, Problem
from ..report import json_texts
from .events import BadLine
from .flow import release as release_sessions
from .runner import APPLIED, DUPLICATE, Applied, Runner

# Group commit defaults, chosen by measurement (docs/run-mode.md, Performance): past ~32 events
# a group the commit's share of an event's time is already small, and 50 ms bounds how long
# another writer waits for the lock and how much work a kill throws away.
COMMIT_EVERY = 64
COMMIT_MS = 50.0


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
            if self.keep is None or len(self.actions) < self.keep:  # resolved only when kept
                self.actions.append({**where, **json_texts(a, self.lang)})
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


class _Feed:
    """The items of a stream that never waits for long (a file, a list): read when needed."""

    EMPTY: Any = object()  # nothing read yet (only a _ReadAhead answers this)
    END: Any = object()

    def __init__(self, items: Iterable[Any]):
        self._items = iter(items)

    def get(self, block: bool = True) -> Any:
        return next(self._items, self.END)

    def close(self) -> None:
        return None


class _ReadAhead(_Feed):
    """The items of a stream that may wait for input (stdin, a pipe), read ahead in a daemon
    thread.

    A group holds the store's write lock; it must never sit waiting for input (a live feed)
    with its events applied but not committed. So the group ends as soon as the next item is
    not read yet: ``get(block=False)`` answers ``EMPTY`` instead of waiting."""

    def __init__(self, items: Iterable[Any], ahead: int = 256):
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        thread = threading.Thread(target=self._read, args=(iter(items),), name="playbook-run-feed", daemon=True)
        thread.start()

    def _read(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(self.END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer (e.g. UnicodeDecodeError)
            self._put(_Failed(exc))

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, block: bool = True) -> Any:
        try:
            item = self._queue.get(block)
        except queue.Empty:
            return self.EMPTY
        if isinstance(item, _Failed):
            raise item.error
        return item

    def close(self) -> None:
        self._stop.set()


@dataclass
class _Failed:
    error: BaseException


def _located(exc: PlaybookError, item: Any, source: str) -> PlaybookError:
    where = Location(source, item.line)
    return PlaybookError([Problem(f"event {item.id!r} of case {item.case!r}: {p.message}", p.location or where,
                                  p.hint) for p in exc.problems])


def run_stream(runner: Runner, items: Iterable[Any], summary: RunSummary, source: str = "<events>", *,
               commit_every: int = COMMIT_EVERY, commit_ms: float = COMMIT_MS, may_wait: bool = True) -> RunSummary:
    """Apply every event of ``items`` (from ``read_events``) in order; bad lines are counted.

    Group commit: events are applied in groups that share one store transaction -- a group
    ends after ``commit_every`` events, after ``commit_ms`` milliseconds, or when the next item
    is not read yet (``commit_every=1``: one transaction per event). ``may_wait``: reading
    ``items`` may wait for input (stdin, a pipe): they are read ahead in a thread, so that no
    group waits for input with its events uncommitted; pass False for a file or a list (no
    thread). Each event is a unit
    of the group, so a failing event is undone alone: the events before it are committed, then
    its error is raised. The summary counts an event only once its group has committed; if the
    commit fails, nothing of the group counts (or is stored) and the error is raised.

    A case's durable_rules session is kept from one of its events to the next (consecutive
    events of a case skip the restore); it is dropped with a group that does not commit, and
    released at the end."""
    if commit_every < 1 or commit_ms <= 0:
        raise ValueError("commit_every must be >= 1 and commit_ms > 0")
    feed = _ReadAhead(items) if may_wait else _Feed(items)
    try:
        item = feed.get()
        while item is not _Feed.END:
            if isinstance(item, BadLine):  # not a store matter: no transaction for it
                summary.add_bad(item)
                item = feed.get()
                continue
            item = _run_group(runner, feed, item, summary, source, commit_every, commit_ms / 1000)
            if item is _Feed.EMPTY:
                item = feed.get()  # wait for input with no transaction open
    finally:
        feed.close()
        release_sessions()
    return summary


def _run_group(runner: Runner, feed: _Feed, item: Any, summary: RunSummary, source: str, commit_every: int,
               commit_s: float) -> Any:
    """Apply events from ``item`` on in one group; returns the item after the group (or
    ``_Feed.EMPTY`` / ``_Feed.END``)."""
    done: list[Applied] = []
    bad: list[BadLine] = []
    failure: Exception | None = None
    deadline = time.monotonic() + commit_s
    try:
        with runner.group():
            while True:
                if isinstance(item, BadLine):
                    bad.append(item)
                else:
                    try:
                        done.append(runner.apply(item, keep_session=True))
                    except PlaybookError as exc:  # undone alone: commit the events before it, then raise
                        failure = _located(exc, item, source)
                        failure.__cause__ = exc
                        break
                    except Exception as exc:  # noqa: BLE001 - likewise; re-raised below
                        failure = exc
                        break
                item = feed.get(block=False)
                if (item is _Feed.EMPTY or item is _Feed.END or len(done) >= commit_every
                        or time.monotonic() >= deadline):
                    break
    except BaseException as exc:
        for b in bad:
            summary.add_bad(b)
        if failure is not None:
            raise exc from failure
        raise
    for b in bad:
        summary.add_bad(b)
    for outcome in done:  # committed: now they count
        summary.add(outcome)
    if failure is not None:
        raise failure
    return item
