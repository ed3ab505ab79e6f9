"""The store interface run mode talks to. Callers (runtime, CLI) use only these types, so a
server database (PostgreSQL) can be added as another implementation of :class:`Store`
without touching them.

A *write* is one atomic, exclusive transaction (``with store.write() as w: ...``): the event
row, the case state, its transitions, waivers and fired actions are committed together or
not at all, and no other writer (thread or process) interleaves with it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

OPEN = "open"
CLOSED = "closed"

# log entry kinds
EVENT = "event"
REJECTED = "rejected"
TRANSITION = "transition"
WAIVER = "waiver"
ACTION = "action"
ACTION_ERROR = "action-error"  # an action (plugin code) that raised: the event still applied
CASE_STARTED = "case-started"


@dataclass
class PlaybookSnapshot:
    """The merged playbook document a case started on (cases are pinned to it)."""

    hash: str
    playbook_id: str
    version: int
    document: dict[str, Any]
    plugin: str | None = None


@dataclass
class CaseRecord:
    case_id: str
    playbook_id: str
    playbook_version: int
    playbook_hash: str
    stage: str | None  # None: not entered yet
    stage_since: str | None  # ISO timestamp of the transition into ``stage``
    facts: dict[str, Any]
    outcome: str | None = None
    status: str = OPEN
    created_at: str | None = None
    updated_at: str | None = None
    events: int = 0  # applied events

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id, "playbook": {"id": self.playbook_id, "version": self.playbook_version,
                                                "hash": self.playbook_hash},
            "stage": self.stage, "stage_since": self.stage_since, "outcome": self.outcome,
            "status": self.status, "created_at": self.created_at, "updated_at": self.updated_at,
            "events": self.events,
        }


@dataclass
class Waiver:
    criterion: str
    reason: str
    approver: str
    until: str  # YYYY-MM-DD, inclusive
    at: str | None = None
    actor: str | None = None
    event_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "reason": self.reason, "approver": self.approver,
                "until": self.until, "at": self.at, "actor": self.actor, "event": self.event_id}


@dataclass
class LogEntry:
    """One line of a case's append-only audit log."""

    case_id: str
    kind: str  # EVENT | REJECTED | TRANSITION | WAIVER | ACTION | ACTION_ERROR | CASE_STARTED
    event_id: str | None = None
    at: str | None = None
    actor: str | None = None
    from_stage: str | None = None
    to_stage: str | None = None
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "kind": self.kind, "event": self.event_id, "at": self.at,
                               "actor": self.actor}
        if self.kind == TRANSITION:
            out["from"] = self.from_stage
            out["to"] = self.to_stage
        if self.reason is not None:
            out["reason"] = self.reason
        if self.data:
            out["data"] = self.data
        return out


class StoreReader(ABC):
    """Read access (also available inside a write transaction)."""

    @abstractmethod
    def get_case(self, case_id: str) -> CaseRecord | None: ...

    @abstractmethod
    def iter_cases(self, playbook_id: str | None = None) -> Iterator[CaseRecord]: ...

    @abstractmethod
    def history(self, case_id: str) -> list[LogEntry]: ...

    @abstractmethod
    def waivers(self, case_id: str) -> list[Waiver]: ...

    @abstractmethod
    def get_playbook(self, playbook_hash: str) -> PlaybookSnapshot | None: ...

    @abstractmethod
    def has_event(self, case_id: str, event_id: str) -> bool: ...

    @abstractmethod
    def event_record(self, case_id: str, event_id: str) -> tuple[str, str | None] | None:
        """How event ``event_id`` of ``case_id`` was handled -- (status, reason): ``applied`` or
        ``rejected`` and the reason recorded -- or None when it is not recorded."""

    def for_event(self, case_id: str, event_id: str) -> EventLookup:
        """What applying event ``event_id`` to ``case_id`` needs to read, at once: whether the
        event is already recorded, else the case and its waivers. Implementations answer it in
        as few round trips as they can (SQLite: one query, plus one for waivers if any)."""
        if self.has_event(case_id, event_id):
            return EventLookup(duplicate=True)
        case = self.get_case(case_id)
        return EventLookup(case=case, waivers=self.waivers(case_id) if case is not None else [])


@dataclass
class EventLookup:
    duplicate: bool = False
    case: CaseRecord | None = None
    waivers: list[Waiver] = field(default_factory=list)


class StoreWriter(StoreReader):
    """Writes inside one atomic transaction."""

    @abstractmethod
    def put_playbook(self, snapshot: PlaybookSnapshot) -> None:
        """Store a snapshot (no-op when its hash is already stored)."""

    @abstractmethod
    def save_case(self, case: CaseRecord, *, moved: bool = True) -> None:
        """Insert or update the case's current state. ``moved=False`` promises that its stage,
        stage_since, outcome and status are unchanged (an implementation may skip updating
        what indexes them)."""

    @abstractmethod
    def record_event(self, case_id: str, event_id: str, *, type: str, at: str | None, actor: str | None,
                     status: str, reason: str | None) -> None:
        """Record that event ``event_id`` of ``case_id`` was handled (raises DuplicateEvent if it
        was). Its payload is recorded once, in the log entry of the event (``event`` or
        ``rejected``)."""

    @abstractmethod
    def append_log(self, entry: LogEntry) -> None: ...

    def append_logs(self, entries: list[LogEntry]) -> None:
        """Append several entries in order (implementations may batch them)."""
        for entry in entries:
            self.append_log(entry)

    @abstractmethod
    def add_waiver(self, case_id: str, waiver: Waiver) -> None: ...


class DuplicateEvent(Exception):
    """The (case, event id) pair is already recorded."""


class Store(StoreReader):
    """A run-mode store. ``write()`` opens one exclusive, atomic transaction.

    ``group()`` (group commit) opens one transaction for several ``write()`` units: inside it,
    each ``write()`` is a nested unit that is undone alone when it raises, and
    becomes durable only when the group commits -- all of the group's units, or none of them.
    A store that cannot group keeps the default: ``group()`` does nothing, so every
    ``write()`` commits on its own (which keeps every guarantee, only slower).

    ``group_isolated``: inside ``group()`` nothing but this store object writes the store (the
    group holds the write lock from its start to its end), so what a caller wrote in one unit
    is still there, unchanged, in the next unit of the same group -- the runner then keeps a
    case in memory from one of its events to the next instead of reading it again."""

    location: str
    group_isolated: bool = False

    @abstractmethod
    def write(self) -> AbstractContextManager[StoreWriter]: ...

    @contextmanager
    def group(self) -> Iterator[None]:
        yield

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
