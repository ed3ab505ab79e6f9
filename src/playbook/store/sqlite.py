"""The embedded SQLite store (the default).

Concurrency and durability: the database runs in WAL mode; every write is one
``BEGIN IMMEDIATE`` transaction (it takes the write lock up front, so two processes never
read a case, both change it and lose one change) and waits up to ``busy_timeout`` seconds for
another writer (polling, and a writer that commits pauses when another one waits -- see
``_yield_to_waiters`` -- so that concurrent writers interleave instead of starving).
``group()`` commits several writes (events) in one transaction: each is a unit undone alone when
it fails, held in memory (store/buffer.py) until the group commits. ``synchronous=NORMAL`` keeps
every committed transaction across a crash or a kill of the process (only a power loss may drop
the last commits).
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
from .buffer import GroupBuffer
from .jsonio import dumps as _dumps
from .jsonio import loads as _loads
from .migrations import LATEST, current_version, migrate

BUSY_TIMEOUT_S = 60.0
SQLITE_BUSY_MS = 2


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# -- the rows written (directly, or from a group's buffer when it commits) ------------------------
_PLAYBOOK_SQL = ("INSERT OR IGNORE INTO playbooks (hash, playbook_id, version, plugin, document, stored_at)"
                 " VALUES (?, ?, ?, ?, ?, ?)")
_UPSERT_CASE_SQL = (
    "INSERT INTO cases (case_id, playbook_id, playbook_version, playbook_hash, stage, stage_since, facts,"
    " outcome, status, created_at, updated_at, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(case_id) DO UPDATE SET stage = excluded.stage, stage_since = excluded.stage_since,"
    " facts = excluded.facts, outcome = excluded.outcome, status = excluded.status,"
    " updated_at = excluded.updated_at, events = excluded.events")
# Neither stage nor status in the SET list: SQLite leaves the cases_playbook index alone.
_UPDATE_FACTS_SQL = "UPDATE cases SET facts = ?, updated_at = ?, events = ? WHERE case_id = ?"
_EVENT_SQL = ("INSERT INTO events (case_id, event_id, type, at, actor, status, reason, recorded_at)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_LOG_SQL = ("INSERT INTO log (case_id, kind, event_id, at, actor, from_stage, to_stage, reason, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_WAIVER_SQL = ("INSERT INTO waivers (case_id, criterion, reason, approver, until, at, actor, event_id)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _playbook_row(snapshot: PlaybookSnapshot, now: str) -> tuple[Any, ...]:
    return (snapshot.hash, snapshot.playbook_id, snapshot.version, snapshot.plugin, _dumps(snapshot.document), now)


def _case_row(case: CaseRecord) -> tuple[Any, ...]:
    return (case.case_id, case.playbook_id, case.playbook_version, case.playbook_hash, case.stage, case.stage_since,
            _dumps(case.facts), case.outcome, case.status, case.created_at, case.updated_at, case.events)


def _facts_row(case: CaseRecord) -> tuple[Any, ...]:
    return (_dumps(case.facts), case.updated_at, case.events, case.case_id)


def _log_row(entry: LogEntry) -> tuple[Any, ...]:
    return (entry.case_id, entry.kind, entry.event_id, entry.at, entry.actor, entry.from_stage, entry.to_stage,
            entry.reason, _dumps(entry.data) if entry.data else None)


def _waiver_row(case_id: str, waiver: Waiver) -> tuple[Any, ...]:
    return (case_id, waiver.criterion, waiver.reason, waiver.approver, waiver.until, waiver.at, waiver.actor,
            waiver.event_id)


def _flush(conn: sqlite3.Connection, buf: GroupBuffer) -> None:
    """Write a group's buffer into the open transaction: one statement per table, rows in the
    order they were written (the log's ``seq`` follows it), each case once in its last state.
    Playbooks first: cases refer to them."""
    if buf.playbooks:
        conn.executemany(_PLAYBOOK_SQL, [_playbook_row(s, buf.stamp) for s in buf.playbooks.values()])
    moved = [_case_row(case) for case, was_moved in buf.cases.values() if was_moved]
    if moved:
        conn.executemany(_UPSERT_CASE_SQL, moved)
    facts_only = [_facts_row(case) for case, was_moved in buf.cases.values() if not was_moved]
    if facts_only:
        conn.executemany(_UPDATE_FACTS_SQL, facts_only)
    if buf.events:
        conn.executemany(_EVENT_SQL, buf.events)
    if buf.logs:
        conn.executemany(_LOG_SQL, [_log_row(e) for e in buf.logs])
    if buf.waivers:
        conn.executemany(_WAIVER_SQL, [_waiver_row(c, w) for c, w in buf.waivers])


class _SQLiteAccess(StoreWriter):
    """Reads and writes on one connection (writes only happen inside ``SQLiteStore.write``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._stamp: str | None = None  # the time of the open write transaction
        self._buf: GroupBuffer | None = None  # inside group(): the writes of its units

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
        if self._buf is not None and case_id in self._buf.cases:
            return self._buf.get_case(case_id)
        row = self.conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return self._case(row) if row is not None else None

    def iter_cases(self, playbook_id: str | None = None) -> Iterator[CaseRecord]:
        if playbook_id is None:
            cursor = self.conn.execute("SELECT * FROM cases ORDER BY case_id")
        else:
            cursor = self.conn.execute("SELECT * FROM cases WHERE playbook_id = ? ORDER BY case_id", (playbook_id,))
        stored = (self._case(row) for row in cursor)
        if self._buf is None or not self._buf.cases:
            yield from stored
            return
        yield from self._buf.over_cases(stored, playbook_id)

    def history(self, case_id: str) -> list[LogEntry]:
        rows = self.conn.execute("SELECT * FROM log WHERE case_id = ? ORDER BY seq", (case_id,)).fetchall()
        entries = [LogEntry(case_id=r["case_id"], kind=r["kind"], event_id=r["event_id"], at=r["at"],
                            actor=r["actor"], from_stage=r["from_stage"], to_stage=r["to_stage"], reason=r["reason"],
                            data=_loads(r["data"]) if r["data"] else {}, seq=r["seq"]) for r in rows]
        if self._buf is not None:
            entries += self._buf.log_of(case_id)
        return entries

    def waivers(self, case_id: str) -> list[Waiver]:
        rows = self.conn.execute("SELECT * FROM waivers WHERE case_id = ? ORDER BY id", (case_id,)).fetchall()
        found = [Waiver(criterion=r["criterion"], reason=r["reason"], approver=r["approver"], until=r["until"],
                        at=r["at"], actor=r["actor"], event_id=r["event_id"]) for r in rows]
        if self._buf is not None:
            found += self._buf.waivers_of(case_id)
        return found

    def get_playbook(self, playbook_hash: str) -> PlaybookSnapshot | None:
        if self._buf is not None and playbook_hash in self._buf.playbooks:
            return self._buf.playbooks[playbook_hash]
        row = self.conn.execute("SELECT * FROM playbooks WHERE hash = ?", (playbook_hash,)).fetchone()
        if row is None:
            return None
        return PlaybookSnapshot(hash=row["hash"], playbook_id=row["playbook_id"], version=row["version"],
                                document=_loads(row["document"]), plugin=row["plugin"])

    def _stored_event(self, case_id: str, event_id: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM events WHERE case_id = ? AND event_id = ?", (case_id, event_id))
        return row.fetchone() is not None

    def event_record(self, case_id: str, event_id: str) -> tuple[str, str | None] | None:
        if self._buf is not None and (case_id, event_id) in self._buf.event_keys:
            row = next(r for r in self._buf.events if r[0] == case_id and r[1] == event_id)
            return row[5], row[6]
        found = self.conn.execute("SELECT status, reason FROM events WHERE case_id = ? AND event_id = ?",
                                  (case_id, event_id)).fetchone()
        return (found["status"], found["reason"]) if found is not None else None

    def has_event(self, case_id: str, event_id: str) -> bool:
        buf = self._buf
        if buf is None:
            return self._stored_event(case_id, event_id)
        key = (case_id, event_id)
        if key in buf.event_keys:
            return True
        if key in buf.absent or case_id in buf.eventless:
            return False
        if self._stored_event(case_id, event_id):
            return True
        buf.absent.add(key)  # the group holds the write lock: nobody else can record it meanwhile
        return False

    _LOOKUP_SQL = ("SELECT EXISTS (SELECT 1 FROM events WHERE case_id = ?1 AND event_id = ?2) AS duplicate,"
                   " EXISTS (SELECT 1 FROM events WHERE case_id = ?1) AS known,"
                   " EXISTS (SELECT 1 FROM waivers WHERE case_id = ?1) AS waived, cases.*"
                   " FROM (SELECT 1) LEFT JOIN cases ON cases.case_id = ?1")

    def for_event(self, case_id: str, event_id: str) -> EventLookup:
        buf = self._buf
        if buf is not None and ((case_id, event_id) in buf.event_keys or case_id in buf.cases):
            # the case was written by this group: what the group holds is newer than the table
            if self.has_event(case_id, event_id):
                return EventLookup(duplicate=True)
            return EventLookup(case=buf.get_case(case_id), waivers=self.waivers(case_id))
        row = self.conn.execute(self._LOOKUP_SQL, (case_id, event_id)).fetchone()
        if row["duplicate"]:
            return EventLookup(duplicate=True)
        if buf is not None:
            buf.absent.add((case_id, event_id))
            if not row["known"]:  # a case new to the tables: its next events need no lookup
                buf.eventless.add(case_id)
        case = self._case(row) if row["case_id"] is not None else None
        waived = row["waived"] or (buf is not None and case_id in buf.waived_cases)
        return EventLookup(case=case, waivers=self.waivers(case_id) if waived else [])

    # -- writes: straight to the open transaction, or, inside a group, to its buffer --------
    def put_playbook(self, snapshot: PlaybookSnapshot) -> None:
        if self._buf is not None:
            self._buf.put_playbook(snapshot)
            return
        self.conn.execute(_PLAYBOOK_SQL, _playbook_row(snapshot, self._now()))

    def save_case(self, case: CaseRecord, *, moved: bool = True) -> None:
        now = self._now()
        case.updated_at = now
        if case.created_at is None:
            case.created_at = now
            moved = True
        if self._buf is not None:
            self._buf.save_case(case, moved)
            return
        if moved:
            self.conn.execute(_UPSERT_CASE_SQL, _case_row(case))
        else:
            self.conn.execute(_UPDATE_FACTS_SQL, _facts_row(case))

    def record_event(self, case_id: str, event_id: str, *, type: str, at: str | None, actor: str | None,
                     status: str, reason: str | None) -> None:
        row = (case_id, event_id, type, at, actor, status, reason, self._now())
        if self._buf is not None:
            if self.has_event(case_id, event_id):
                raise DuplicateEvent(f"{case_id}/{event_id}")
            self._buf.record_event(row)
            return
        try:
            self.conn.execute(_EVENT_SQL, row)
        except sqlite3.IntegrityError as exc:
            raise DuplicateEvent(f"{case_id}/{event_id}") from exc

    def append_log(self, entry: LogEntry) -> None:
        self.append_logs([entry])

    def append_logs(self, entries: list[LogEntry]) -> None:
        if self._buf is not None:
            self._buf.append_logs(entries)
            return
        self.conn.executemany(_LOG_SQL, [_log_row(e) for e in entries])

    def add_waiver(self, case_id: str, waiver: Waiver) -> None:
        if self._buf is not None:
            self._buf.add_waiver(case_id, waiver)
            return
        self.conn.execute(_WAIVER_SQL, _waiver_row(case_id, waiver))


class SQLiteStore(_SQLiteAccess, Store):
    """A store in one SQLite file, created (with its directory) on first use."""

    group_isolated = True  # a group is one BEGIN IMMEDIATE transaction: no other writer gets in

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_timeout = busy_timeout
        self._half_done = False  # a unit of the open group is neither released nor undone
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
                # tables but no schema_version: another application's database. One query: another
                # process may be creating this store right now (its tables come all at once)
                tables = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
                if tables and "schema_version" not in tables:
                    raise sqlite3.DatabaseError(f"it holds other tables ({', '.join(sorted(tables)[:5])}) and"
                                                " no playbook schema; it is left as it is")
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
        """One atomic unit of writes: its own transaction, or, inside :meth:`group`, a unit of the
        group (held in its buffer; undone alone when it raises; durable when the group commits)."""
        if self._buf is not None:
            yield from self._unit(self._buf)
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

    def _unit(self, buf: GroupBuffer) -> Iterator[StoreWriter]:
        buf.begin_unit()
        self._half_done = True  # until the unit is released or undone: the group must not commit
        self._stamp = buf.stamp  # the time of the group's transaction
        try:
            yield self
        except BaseException:
            buf.undo_unit()
            self._half_done = False
            raise
        finally:
            self._stamp = None
        buf.release_unit()
        self._half_done = False

    @contextmanager
    def group(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``) around several ``write()`` units, committed
        at the end of the block -- or rolled back entirely when the block raises or the commit
        fails: then nothing of the group is stored. Groups do not nest.

        The units' writes wait in a :class:`~playbook.store.buffer.GroupBuffer` (reads on this
        store see them) and are written when the group commits, one statement per table."""
        if self._buf is not None:
            raise RuntimeError("store groups do not nest")
        self._begin()
        buf = self._buf = GroupBuffer(_now())
        self._half_done = False
        try:
            yield
            if self._half_done:  # a unit was interrupted before it was released or undone
                raise PlaybookError([Problem("a write of this group of events was interrupted half-way", None,
                                             f"{self.location}: nothing of the group was stored; "
                                             "run the same events again")])
            if not self.conn.in_transaction:
                raise PlaybookError([Problem("SQLite aborted the transaction of this group of events", None,
                                             f"{self.location}: nothing of the group was stored; run the same "
                                             "events again once the cause (disk full, I/O error) is fixed")])
            self._buf = None
            _flush(self.conn, buf)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self._buf = None
        self._yield_to_waiters()

    def close(self) -> None:
        self.conn.close()
