"""The embedded SQLite store (the default).

Concurrency and durability: the database runs in WAL mode; every write is one
``BEGIN IMMEDIATE`` transaction (it takes the write lock up front, so two processes never
read a case, both change it and lose one change) and waits up to ``busy_timeout`` seconds for
another writer (polling, and a writer that commits pauses when another one waits -- see
``_yield_to_waiters`` -- so that concurrent writers interleave instead of starving).
``group()`` commits several writes (events) in one transaction, each a savepoint. ``synchronous=NORMAL`` keeps every committed transaction across a crash or a
kill of the process (only a power loss may drop the last commits).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import PlaybookError, Problem
from .base import (
    CaseRecord,
    DuplicateEvent,
    EventLookup,
    LogEntry,
    PlaybookSnapshot,
    Store,
    StoreWriter,
    Waiver,
)
from .jsonio import dumps as _dumps
from .jsonio import loads as _loads
from .migrations import LATEST, current_version, migrate

BUSY_TIMEOUT_S = 60.0
SQLITE_BUSY_MS = 2


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class _SQLiteAccess(StoreWriter):
    """Reads and writes on one connection (writes only happen inside ``SQLiteStore.write``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._stamp: str | None = None  # the time of the open write transaction

    def _now(self) -> str:
        return self._stamp or _now()

    # -- reads --------------------------------------------------------------------------
    @staticmethod
    def _case(row: sqlite3.Row) -> CaseRecord:
        return CaseRecord(
            case_id=row["case_id"], playbook_id=row["playbook_id"], playbook_version=row["playbook_version"],
            playbook_hash=row["playbook_hash"], stage=row["stage"], stage_since=row["stage_since"],
            facts=_loads(row["facts"]), outcome=row["outcome"], status=row["status"],
            created_at=row["created_at"], updated_at=row["updated_at"], events=row["events"],
        )

    def get_case(self, case_id: str) -> CaseRecord | None:
        row = self.conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return self._case(row) if row is not None else None

    def iter_cases(self, playbook_id: str | None = None) -> Iterator[CaseRecord]:
        if playbook_id is None:
            cursor = self.conn.execute("SELECT * FROM cases ORDER BY case_id")
        else:
            cursor = self.conn.execute("SELECT * FROM cases WHERE playbook_id = ? ORDER BY case_id", (playbook_id,))
        for row in cursor:
            yield self._case(row)

    def history(self, case_id: str) -> list[LogEntry]:
        rows = self.conn.execute("SELECT * FROM log WHERE case_id = ? ORDER BY seq", (case_id,)).fetchall()
        return [LogEntry(case_id=r["case_id"], kind=r["kind"], event_id=r["event_id"], at=r["at"], actor=r["actor"],
                         from_stage=r["from_stage"], to_stage=r["to_stage"], reason=r["reason"],
                         data=_loads(r["data"]) if r["data"] else {}, seq=r["seq"]) for r in rows]

    def waivers(self, case_id: str) -> list[Waiver]:
        rows = self.conn.execute("SELECT * FROM waivers WHERE case_id = ? ORDER BY id", (case_id,)).fetchall()
        return [Waiver(criterion=r["criterion"], reason=r["reason"], approver=r["approver"], until=r["until"],
                       at=r["at"], actor=r["actor"], event_id=r["event_id"]) for r in rows]

    def get_playbook(self, playbook_hash: str) -> PlaybookSnapshot | None:
        row = self.conn.execute("SELECT * FROM playbooks WHERE hash = ?", (playbook_hash,)).fetchone()
        if row is None:
            return None
        return PlaybookSnapshot(hash=row["hash"], playbook_id=row["playbook_id"], version=row["version"],
                                document=_loads(row["document"]), plugin=row["plugin"])

    def has_event(self, case_id: str, event_id: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM events WHERE case_id = ? AND event_id = ?", (case_id, event_id))
        return row.fetchone() is not None

    _LOOKUP_SQL = ("SELECT EXISTS (SELECT 1 FROM events WHERE case_id = ?1 AND event_id = ?2) AS duplicate,"
                   " EXISTS (SELECT 1 FROM waivers WHERE case_id = ?1) AS waived, cases.*"
                   " FROM (SELECT 1) LEFT JOIN cases ON cases.case_id = ?1")

    def for_event(self, case_id: str, event_id: str) -> EventLookup:
        row = self.conn.execute(self._LOOKUP_SQL, (case_id, event_id)).fetchone()
        if row["duplicate"]:
            return EventLookup(duplicate=True)
        case = self._case(row) if row["case_id"] is not None else None
        return EventLookup(case=case, waivers=self.waivers(case_id) if row["waived"] else [])

    # -- writes -------------------------------------------------------------------------
    def put_playbook(self, snapshot: PlaybookSnapshot) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO playbooks (hash, playbook_id, version, plugin, document, stored_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (snapshot.hash, snapshot.playbook_id, snapshot.version, snapshot.plugin, _dumps(snapshot.document),
             self._now()))

    def save_case(self, case: CaseRecord, *, moved: bool = True) -> None:
        now = self._now()
        case.updated_at = now
        if case.created_at is not None and not moved:
            # Neither stage nor status in the SET list: SQLite leaves the cases_playbook index alone.
            self.conn.execute("UPDATE cases SET facts = ?, updated_at = ?, events = ? WHERE case_id = ?",
                              (_dumps(case.facts), now, case.events, case.case_id))
            return
        case.created_at = case.created_at or now
        self.conn.execute(
            "INSERT INTO cases (case_id, playbook_id, playbook_version, playbook_hash, stage, stage_since, facts,"
            " outcome, status, created_at, updated_at, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(case_id) DO UPDATE SET stage = excluded.stage, stage_since = excluded.stage_since,"
            " facts = excluded.facts, outcome = excluded.outcome, status = excluded.status,"
            " updated_at = excluded.updated_at, events = excluded.events",
            (case.case_id, case.playbook_id, case.playbook_version, case.playbook_hash, case.stage, case.stage_since,
             _dumps(case.facts), case.outcome, case.status, case.created_at, case.updated_at, case.events))

    def record_event(self, case_id: str, event_id: str, *, type: str, at: str | None, actor: str | None,
                     status: str, reason: str | None) -> None:
        try:
            self.conn.execute(
                "INSERT INTO events (case_id, event_id, type, at, actor, status, reason, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, event_id, type, at, actor, status, reason, self._now()))
        except sqlite3.IntegrityError as exc:
            raise DuplicateEvent(f"{case_id}/{event_id}") from exc

    _LOG_SQL = ("INSERT INTO log (case_id, kind, event_id, at, actor, from_stage, to_stage, reason, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

    @staticmethod
    def _log_row(entry: LogEntry) -> tuple[Any, ...]:
        return (entry.case_id, entry.kind, entry.event_id, entry.at, entry.actor, entry.from_stage, entry.to_stage,
                entry.reason, _dumps(entry.data) if entry.data else None)

    def append_log(self, entry: LogEntry) -> None:
        self.conn.execute(self._LOG_SQL, self._log_row(entry))

    def append_logs(self, entries: list[LogEntry]) -> None:
        self.conn.executemany(self._LOG_SQL, [self._log_row(e) for e in entries])

    def add_waiver(self, case_id: str, waiver: Waiver) -> None:
        self.conn.execute(
            "INSERT INTO waivers (case_id, criterion, reason, approver, until, at, actor, event_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (case_id, waiver.criterion, waiver.reason, waiver.approver, waiver.until, waiver.at, waiver.actor,
             waiver.event_id))


class SQLiteStore(_SQLiteAccess, Store):
    """A store in one SQLite file, created (with its directory) on first use."""

    group_isolated = True  # a group is one BEGIN IMMEDIATE transaction: no other writer gets in

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_timeout = busy_timeout
        self._grouped = False  # inside group(): write() units are savepoints of its transaction
        self._half_done = False  # a savepoint unit is open (neither released nor undone)
        self._wait_path = f"{self.path}-waiting"  # see _yield_to_waiters
        self._wait_seen = self._wait_mtime()
        self._wait_mine = -1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise PlaybookError([Problem(f"cannot open the store: {exc}", None,
                                         f"{self.path}: give a writable path with --store or PLAYBOOK_STORE")]) from None
        conn.row_factory = sqlite3.Row
        super().__init__(conn)
        try:
            self._prepare(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise PlaybookError([Problem(f"not a usable playbook store: {exc}", None,
                                         f"{self.path}: point --store / PLAYBOOK_STORE at a playbook store "
                                         "(a new file is created on first use)")]) from None

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """WAL mode, pragmas and migrations, retried while another process holds the file.

        Switching a new file to WAL needs an exclusive lock, and SQLite reports "database is
        locked" at once (no busy handler) when another process is creating or migrating the
        same new store; so the whole step is retried in short jittered sleeps. The migration and
        every write then poll for the write lock themselves (_begin)."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
                if current_version(conn) != LATEST:
                    migrate(conn, self.location, begin=self._begin)
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                time.sleep(0.005 + random.random() * 0.02)

    def schema_version(self) -> int:
        return current_version(self.conn)

    def _begin(self) -> None:
        """BEGIN IMMEDIATE, retried in short jittered sleeps rather than in SQLite's busy handler:
        its growing sleeps let a busy writer re-take the lock between its transactions forever
        (measured: a second process got no event in until the first had finished), while short
        polls find the gap between two transactions of the other process."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise PlaybookError([Problem(
                        f"the store stayed locked by another writer for {self.busy_timeout:.0f} s", None,
                        f"{self.location}: try again when the other run has finished")]) from None
                self._announce_waiting()
                time.sleep(random.uniform(0.0002, 0.001))

    # Fairness between writers. The jittered polling above finds the gap between two
    # transactions of another process only by chance (short gaps, and group commit makes them
    # rare: measured, a run committing groups of 16 locked a second run out until it had
    # finished). So a writer that waits says so -- it sets the modification time of the file
    # ``<store>-waiting`` -- and a writer that commits looks at it: when another writer has
    # waited since it last looked, it pauses longer than the waiter's polling interval before
    # its next transaction, so the waiter takes the lock. One stat() per commit when nobody waits.
    YIELD_S = 0.002

    def _wait_mtime(self) -> int:
        try:
            return os.stat(self._wait_path).st_mtime_ns
        except OSError:
            return 0

    def _announce_waiting(self) -> None:
        stamp = time.time_ns()
        try:
            try:
                os.utime(self._wait_path, ns=(stamp, stamp))
            except FileNotFoundError:
                os.close(os.open(self._wait_path, os.O_WRONLY | os.O_CREAT, 0o644))
                os.utime(self._wait_path, ns=(stamp, stamp))
        except OSError:
            return  # a read-only directory: fairness is left to the polling
        self._wait_mine = self._wait_mtime()

    def _yield_to_waiters(self) -> None:
        seen = self._wait_mtime()
        if seen != self._wait_seen:
            self._wait_seen = seen
            if seen != self._wait_mine:  # another process waited (not this one)
                time.sleep(self.YIELD_S)

    @contextmanager
    def write(self) -> Iterator[StoreWriter]:
        """One atomic unit of writes: its own transaction, or, inside :meth:`group`, a savepoint
        of the group's transaction (undone alone when it raises; durable when the group commits)."""
        if self._grouped:
            yield from self._savepoint()
            return
        self._begin()
        self._stamp = _now()
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        finally:
            self._stamp = None
        self.conn.execute("COMMIT")
        self._yield_to_waiters()

    def _savepoint(self) -> Iterator[StoreWriter]:
        self.conn.execute("SAVEPOINT unit")
        self._half_done = True  # until the unit is released or undone: the group must not commit
        self._stamp = _now()
        try:
            yield self
        except BaseException:
            # A failed statement may have ended the whole transaction (SQLite rolls back on
            # some I/O and disk-full errors): then there is no savepoint left to undo, and the
            # group's commit reports that the group is lost.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK TO unit")
                self.conn.execute("RELEASE unit")
            self._half_done = False
            raise
        finally:
            self._stamp = None
        self.conn.execute("RELEASE unit")
        self._half_done = False

    @contextmanager
    def group(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``) around several ``write()`` units, committed
        at the end of the block -- or rolled back entirely when the block raises or the commit
        fails: then nothing of the group is stored. Groups do not nest."""
        if self._grouped:
            raise RuntimeError("store groups do not nest")
        self._begin()
        self._grouped, self._half_done = True, False
        try:
            yield
            if self._half_done:  # a unit was interrupted before it was released or undone
                raise PlaybookError([Problem("a write of this group of events was interrupted half-way", None,
                                             f"{self.location}: nothing of the group was stored; "
                                             "run the same events again")])
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self._grouped = False
        if not self.conn.in_transaction:
            raise PlaybookError([Problem("SQLite aborted the transaction of this group of events", None,
                                         f"{self.location}: nothing of the group was stored; run the same "
                                         "events again once the cause (disk full, I/O error) is fixed")])
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self._yield_to_waiters()

    def close(self) -> None:
        self.conn.close()
