"""SQLite schema, as ordered migration steps. The ``schema_version`` table holds the version
reached; opening a store applies the missing steps in one transaction. Never edit a released
step: add a new one at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from ..errors import PlaybookError, Problem

Migration = tuple[int, Sequence[str]]

MIGRATIONS: list[Migration] = [
    (1, (
        """CREATE TABLE playbooks (
               hash TEXT PRIMARY KEY,
               playbook_id TEXT NOT NULL,
               version INTEGER NOT NULL,
               plugin TEXT,
               document TEXT NOT NULL,
               stored_at TEXT NOT NULL)""",
        """CREATE TABLE cases (
               case_id TEXT PRIMARY KEY,
               playbook_id TEXT NOT NULL,
               playbook_version INTEGER NOT NULL,
               playbook_hash TEXT NOT NULL REFERENCES playbooks(hash),
               stage TEXT,
               stage_since TEXT,
               facts TEXT NOT NULL,
               outcome TEXT,
               status TEXT NOT NULL,
               created_at TEXT NOT NULL,
               updated_at TEXT NOT NULL,
               events INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX cases_playbook ON cases(playbook_id, stage)",
        # one row per handled event: the unique key makes every event apply at most once
        """CREATE TABLE events (
               case_id TEXT NOT NULL,
               event_id TEXT NOT NULL,
               type TEXT NOT NULL,
               at TEXT,
               actor TEXT,
               status TEXT NOT NULL,
               reason TEXT,
               payload TEXT NOT NULL,
               recorded_at TEXT NOT NULL,
               PRIMARY KEY (case_id, event_id))""",
        """CREATE TABLE waivers (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               case_id TEXT NOT NULL,
               criterion TEXT NOT NULL,
               reason TEXT NOT NULL,
               approver TEXT NOT NULL,
               until TEXT NOT NULL,
               at TEXT,
               actor TEXT,
               event_id TEXT)""",
        "CREATE INDEX waivers_case ON waivers(case_id)",
        """CREATE TABLE log (
               seq INTEGER PRIMARY KEY AUTOINCREMENT,
               case_id TEXT NOT NULL,
               kind TEXT NOT NULL,
               event_id TEXT,
               at TEXT,
               actor TEXT,
               from_stage TEXT,
               to_stage TEXT,
               reason TEXT,
               data TEXT)""",
        "CREATE INDEX log_case ON log(case_id, seq)",
        # the audit log and the waivers are append-only
        """CREATE TRIGGER log_no_update BEFORE UPDATE ON log
               BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TRIGGER log_no_delete BEFORE DELETE ON log
               BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TRIGGER waivers_no_update BEFORE UPDATE ON waivers
               BEGIN SELECT RAISE(ABORT, 'waivers are append-only'); END""",
        """CREATE TRIGGER waivers_no_delete BEFORE DELETE ON waivers
               BEGIN SELECT RAISE(ABORT, 'waivers are append-only'); END""",
    )),
    # Fewer pages written per event (each commit writes every page it touched to the WAL, and
    # the checkpoints fsync them; measured: 8.3 pages per event before):
    # - events: the payload was stored twice (here and in the log's `event`/`rejected` entry,
    #   which stays the audit record); without it, the table is its primary key (WITHOUT ROWID:
    #   one b-tree instead of a table plus an index). Append-only like the log.
    # - log: `seq` without AUTOINCREMENT (which rewrote sqlite_sequence on every insert). Rows
    #   cannot be deleted (trigger), so seq still only grows and is never reused.
    (2, (
        """CREATE TABLE events_v2 (
               case_id TEXT NOT NULL,
               event_id TEXT NOT NULL,
               type TEXT NOT NULL,
               at TEXT,
               actor TEXT,
               status TEXT NOT NULL,
               reason TEXT,
               recorded_at TEXT NOT NULL,
               PRIMARY KEY (case_id, event_id)) WITHOUT ROWID""",
        """INSERT INTO events_v2 (case_id, event_id, type, at, actor, status, reason, recorded_at)
               SELECT case_id, event_id, type, at, actor, status, reason, recorded_at FROM events""",
        "DROP TABLE events",
        "ALTER TABLE events_v2 RENAME TO events",
        """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
               BEGIN SELECT RAISE(ABORT, 'handled events are append-only'); END""",
        """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
               BEGIN SELECT RAISE(ABORT, 'handled events are append-only'); END""",
        """CREATE TABLE log_v2 (
               seq INTEGER PRIMARY KEY,
               case_id TEXT NOT NULL,
               kind TEXT NOT NULL,
               event_id TEXT,
               at TEXT,
               actor TEXT,
               from_stage TEXT,
               to_stage TEXT,
               reason TEXT,
               data TEXT)""",
        """INSERT INTO log_v2 (seq, case_id, kind, event_id, at, actor, from_stage, to_stage, reason, data)
               SELECT seq, case_id, kind, event_id, at, actor, from_stage, to_stage, reason, data FROM log""",
        "DROP TABLE log",  # drops its index and triggers (DROP TABLE fires no DELETE trigger)
        "ALTER TABLE log_v2 RENAME TO log",
        "CREATE INDEX log_case ON log(case_id, seq)",
        """CREATE TRIGGER log_no_update BEFORE UPDATE ON log
               BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TRIGGER log_no_delete BEFORE DELETE ON log
               BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    )),
]

LATEST = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if row is None:
        return 0
    value = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    return int(value or 0)


def migrate(conn: sqlite3.Connection, location: str, steps: Sequence[Migration] = MIGRATIONS,
            begin: Callable[[], None] | None = None) -> int:
    """Bring the schema up to the last step; returns the version reached.

    ``conn`` must be in autocommit mode; the whole upgrade runs in one IMMEDIATE transaction
    (started by ``begin`` if given: the store's lock-polling BEGIN IMMEDIATE), so two processes
    opening a new store at once create it exactly once.
    """
    latest = steps[-1][0] if steps else 0
    if begin is not None:
        begin()
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        version = current_version(conn)
        if version > latest:
            raise PlaybookError([Problem(
                f"store schema version {version} is newer than this playbook release supports ({latest})",
                None, f"{location}: upgrade playbook, or use another store (--store / PLAYBOOK_STORE)")])
        for number, statements in steps:
            if number <= version:
                continue
            for sql in statements:
                conn.execute(sql)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))", (number,))
            version = number
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version
