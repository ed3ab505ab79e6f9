"""The run-mode store: created on first use, schema-versioned, atomic, append-only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from playbook.errors import PlaybookError
from playbook.store import default_location, open_store, resolve_location
from playbook.store.base import (
    EVENT,
    CaseRecord,
    DuplicateEvent,
    EventLookup,
    LogEntry,
    PlaybookSnapshot,
    Store,
    Waiver,
)
from playbook.store.migrations import LATEST, MIGRATIONS, current_version, migrate


def _snapshot() -> PlaybookSnapshot:
    return PlaybookSnapshot(hash="h1", playbook_id="pb", version=1, document={"id": "pb", "version": 1})


def _case(case_id: str = "acme") -> CaseRecord:
    return CaseRecord(case_id=case_id, playbook_id="pb", playbook_version=1, playbook_hash="h1", stage="a",
                      stage_since="2026-01-01", facts={"x": {"y": [1, 2]}, "名": "值"})


def test_created_on_first_use_with_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "store.sqlite"
    with open_store(str(path)) as store:
        assert path.is_file()
        assert store.schema_version() == LATEST
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"schema_version", "playbooks", "cases", "events", "log", "waivers"} <= tables
    with open_store(str(path)) as store:  # reopening does not migrate again
        rows = store.conn.execute("SELECT version FROM schema_version").fetchall()
        assert [r[0] for r in rows] == [m[0] for m in MIGRATIONS]


def test_round_trip_of_a_case_its_log_and_waivers(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        with store.write() as w:
            w.put_playbook(_snapshot())
            w.put_playbook(_snapshot())  # idempotent
            w.save_case(_case())
            w.record_event("acme", "e1", type="facts", at="2026-01-01", actor="wang", status="applied", reason=None)
            w.append_log(LogEntry(case_id="acme", kind=EVENT, event_id="e1", at="2026-01-01", data={"k": "v"}))
            w.add_waiver("acme", Waiver(criterion="c", reason="r", approver="boss", until="2026-12-31"))
        case = store.get_case("acme")
        assert case is not None and case.facts == {"x": {"y": [1, 2]}, "名": "值"} and case.stage == "a"
        assert store.has_event("acme", "e1") and not store.has_event("acme", "e2")
        assert [e.data for e in store.history("acme")] == [{"k": "v"}]
        assert [w.approver for w in store.waivers("acme")] == ["boss"]
        assert store.get_playbook("h1").document == {"id": "pb", "version": 1}
        assert [c.case_id for c in store.iter_cases("pb")] == ["acme"] and list(store.iter_cases("other")) == []


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        with pytest.raises(RuntimeError), store.write() as w:
            w.put_playbook(_snapshot())
            w.save_case(_case())
            w.record_event("acme", "e1", type="facts", at=None, actor=None, status="applied", reason=None)
            raise RuntimeError("killed mid-event")
        assert store.get_case("acme") is None and not store.has_event("acme", "e1")


def test_an_event_id_is_recorded_once_per_case(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        with store.write() as w:
            w.record_event("a", "e1", type="facts", at=None, actor=None, status="applied", reason=None)
            w.record_event("b", "e1", type="facts", at=None, actor=None, status="applied", reason=None)
        with pytest.raises(DuplicateEvent), store.write() as w:
            w.record_event("a", "e1", type="facts", at=None, actor=None, status="applied", reason=None)


def test_the_audit_log_and_waivers_are_append_only(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        with store.write() as w:
            w.append_log(LogEntry(case_id="acme", kind=EVENT))
            w.add_waiver("acme", Waiver(criterion="c", reason="r", approver="boss", until="2026-12-31"))
        for sql in ("UPDATE log SET kind = 'x'", "DELETE FROM log", "UPDATE waivers SET until = '2099-01-01'",
                    "DELETE FROM waivers"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                store.conn.execute(sql)


def test_migrations_apply_only_the_missing_steps(tmp_path: Path) -> None:
    conn = sqlite3.connect(str(tmp_path / "m.sqlite"), isolation_level=None)
    steps = [(1, ["CREATE TABLE t (a INTEGER)"])]
    assert migrate(conn, "m", steps) == 1
    conn.execute("INSERT INTO t VALUES (1)")
    steps.append((2, ["ALTER TABLE t ADD COLUMN b TEXT", "UPDATE t SET b = 'new'"]))
    assert migrate(conn, "m", steps) == 2
    assert conn.execute("SELECT a, b FROM t").fetchall() == [(1, "new")]
    assert migrate(conn, "m", steps) == 2 and current_version(conn) == 2
    with pytest.raises(PlaybookError, match="newer than this playbook release"):
        migrate(conn, "m", steps[:1])


def test_a_newer_store_or_a_non_store_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    open_store(str(path)).close()
    conn = sqlite3.connect(str(path))
    conn.execute("INSERT INTO schema_version VALUES (999, 'future')")
    conn.commit()
    conn.close()
    with pytest.raises(PlaybookError, match="schema version 999"):
        open_store(str(path))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(PlaybookError, match="not a usable playbook store"):
        open_store(str(junk))


def test_location_option_then_environment_then_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYBOOK_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_location() == str(tmp_path / "xdg" / "playbook" / "store.sqlite")
    assert resolve_location(None) == default_location()
    monkeypatch.setenv("PLAYBOOK_STORE", str(tmp_path / "env.sqlite"))
    assert resolve_location(None) == str(tmp_path / "env.sqlite")
    assert resolve_location("given.sqlite") == "given.sqlite"
    with open_store(f"sqlite://{tmp_path / 'url.sqlite'}") as store:
        assert store.location == str(tmp_path / "url.sqlite")
    monkeypatch.delenv("PLAYBOOK_STORE")
    with open_store() as store:
        assert Path(store.location).is_file() and store.location.startswith(str(tmp_path / "xdg"))


def test_server_stores_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="PostgreSQL stores are not available yet"):
        open_store("postgresql://user@host/db")
    with pytest.raises(PlaybookError, match="unknown store kind"):
        open_store("mongodb://x")


def test_a_version_1_store_is_migrated_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(str(path), isolation_level=None)
    migrate(conn, "v1", MIGRATIONS[:1])
    conn.execute("INSERT INTO events VALUES ('acme', 'e1', 'facts', '2026-01-01', 'wang', 'applied', NULL,"
                 " '{\"facts\":{}}', 'now')")
    for kind in ("case-started", "event"):
        conn.execute("INSERT INTO log (case_id, kind, event_id, data) VALUES ('acme', ?, 'e1', '{\"k\":1}')", (kind,))
    conn.close()
    with open_store(str(path)) as store:
        assert store.schema_version() == LATEST == 2
        assert store.has_event("acme", "e1") and not store.has_event("acme", "e2")
        assert [(e.seq, e.kind, e.data) for e in store.history("acme")] == [(1, "case-started", {"k": 1}),
                                                                           (2, "event", {"k": 1})]
        with store.write() as w:  # seq goes on growing after the copied rows
            w.append_log(LogEntry(case_id="acme", kind=EVENT, event_id="e2"))
        assert [e.seq for e in store.history("acme")] == [1, 2, 3]
        columns = [r[1] for r in store.conn.execute("PRAGMA table_info(events)")]
        assert "payload" not in columns  # stored once, in the log
        for sql in ("UPDATE events SET status = 'x'", "DELETE FROM events", "DELETE FROM log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                store.conn.execute(sql)


def test_for_event_reads_the_duplicate_flag_the_case_and_its_waivers_at_once(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        assert store.for_event("acme", "e1") == EventLookup()
        with store.write() as w:
            w.put_playbook(_snapshot())
            w.save_case(_case())
            w.record_event("acme", "e1", type="facts", at=None, actor=None, status="applied", reason=None)
        found = store.for_event("acme", "e2")
        assert not found.duplicate and found.case is not None and found.case.facts == _case().facts
        assert found.waivers == []
        assert store.for_event("acme", "e1") == EventLookup(duplicate=True)
        with store.write() as w:
            w.add_waiver("acme", Waiver(criterion="c", reason="r", approver="boss", until="2026-12-31"))
        assert [w.criterion for w in store.for_event("acme", "e2").waivers] == ["c"]
        # the generic implementation (what another store gets for free) answers the same
        assert Store.for_event(store, "acme", "e2") == store.for_event("acme", "e2")
        assert Store.for_event(store, "acme", "e1") == EventLookup(duplicate=True)


def test_saving_an_unmoved_case_keeps_its_stage_and_updates_the_rest(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        with store.write() as w:
            w.put_playbook(_snapshot())
            w.save_case(_case())
        case = store.get_case("acme")
        assert case is not None
        case.facts, case.events = {"new": True}, 5
        with store.write() as w:
            w.save_case(case, moved=False)
        again = store.get_case("acme")
        assert again is not None and (again.stage, again.facts, again.events) == ("a", {"new": True}, 5)
        assert again.created_at == case.created_at


def test_store_json_falls_back_to_the_standard_library(monkeypatch: pytest.MonkeyPatch) -> None:
    from playbook.store import jsonio

    value = {"b": [1, 2.5, None, "名"], "a": {"z": True, "y": 10**30}}  # 10**30: beyond orjson
    text = jsonio.dumps(value)
    assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert jsonio.loads(text) == value
    assert jsonio.dumps({1: "x"}) == '{"1":"x"}'  # non-string keys: json's way
    assert jsonio.loads('{"x": NaN}')["x"] != 0  # written by json without orjson: still readable
    monkeypatch.setattr(jsonio, "_orjson", None)
    assert jsonio.dumps(value) == text and jsonio.loads(text) == value


def test_canonical_is_what_the_store_reads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from playbook.store import jsonio

    values = [{"b": [{"y": 1, "x": 2**64 - 1}], "a": {"z": 0.1, "y": -(2**63)}, "é": "名"},
              {"n": 10**30, "m": {"q": [1.5e300, None], "p": True}}]  # 10**30: beyond orjson

    def shape(v: object) -> str:  # keys in their order, at every level
        return json.dumps(v)

    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(jsonio, "_orjson", None)
        for value in values:
            got, want = jsonio.canonical(value), jsonio.loads(jsonio.dumps(value))
            assert got == want == value and shape(got) == shape(want) != shape(value)


def test_events_are_read_without_nan_or_infinities() -> None:
    from playbook.store import jsonio

    for text in ('{"x": NaN}', '[Infinity]', '{"x": -Infinity}', '{"x": 1e400}'):
        with pytest.raises(ValueError, match="not a JSON number|too large"):
            jsonio.loads_finite(text)
    assert jsonio.loads_finite('{"n": 123456789012345678901234567890, "f": 1e300}') == \
        {"n": 123456789012345678901234567890, "f": 1e300}


def test_processes_opening_one_new_store_at_the_same_time_all_succeed(tmp_path: Path) -> None:
    """Creating a new store switches it to WAL and migrates it; SQLite answers "database is
    locked" at once (no busy handler) to a second process doing the same, so opening retries."""
    import subprocess
    import sys

    for round_ in range(8):
        path = tmp_path / f"store-{round_}.sqlite"
        code = f"from playbook.store.sqlite import SQLiteStore; SQLiteStore({str(path)!r})"
        procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], errors


# -- group commit ------------------------------------------------------------------------------


def _record(w: object, case: str, event: str) -> None:
    w.record_event(case, event, type="facts", at=None, actor=None, status="applied", reason=None)  # type: ignore[attr-defined]


def _events(path: Path) -> list[tuple[str, str]]:
    """What another connection sees: only committed rows."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("SELECT case_id, event_id FROM events ORDER BY case_id, event_id").fetchall()
    finally:
        conn.close()


def test_a_group_commits_its_units_together_and_a_failed_unit_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as store:
        with store.group():
            with store.write() as w:
                _record(w, "a", "e1")
            with pytest.raises(RuntimeError), store.write() as w:
                _record(w, "a", "e2")
                w.put_playbook(_snapshot())
                w.save_case(_case("a"))
                raise RuntimeError("event failed half-way")
            with store.write() as w:
                _record(w, "a", "e3")
            assert _events(path) == []  # nothing is visible to others before the group commits
            assert store.has_event("a", "e1") and not store.has_event("a", "e2")  # this connection sees it
        assert _events(path) == [("a", "e1"), ("a", "e3")]
        assert store.get_case("a") is None and store.get_playbook("h1") is None  # all of the failed unit is gone


def test_a_group_that_raises_stores_nothing_and_groups_do_not_nest(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as store:
        with pytest.raises(KeyboardInterrupt), store.group():
            with store.write() as w:
                _record(w, "a", "e1")
            raise KeyboardInterrupt
        assert _events(path) == [] and not store.conn.in_transaction
        with store.group(), pytest.raises(RuntimeError, match="do not nest"), store.group():
            pass
        with store.write() as w:  # outside a group, write() is its own transaction again
            _record(w, "a", "e2")
        assert _events(path) == [("a", "e2")]


def test_a_group_never_commits_a_half_done_unit(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as store:
        with pytest.raises(PlaybookError, match="interrupted half-way"), store.group():
            with store.write() as w:
                _record(w, "a", "e1")
            unit = store.write()
            w = unit.__enter__()  # a unit left open (as if its undo had been interrupted)
            _record(w, "a", "e2")
        unit.gen.close()  # type: ignore[attr-defined]  # its transaction is gone: nothing left to undo
        assert _events(path) == [] and not store.conn.in_transaction


def test_a_group_lost_by_sqlite_is_reported_not_committed(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as store:
        with pytest.raises(PlaybookError, match="aborted the transaction"), store.group():
            with store.write() as w:
                _record(w, "a", "e1")
            store.conn.execute("ROLLBACK")  # what SQLite does itself on some I/O and disk-full errors
        assert _events(path) == []


def test_a_second_writer_waits_for_the_group_and_then_sees_all_of_it(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as first, open_store(str(path)) as second:
        second.busy_timeout = 0.05
        with first.group():
            with first.write() as w:
                _record(w, "a", "e1")
            with pytest.raises(PlaybookError, match="stayed locked"), second.write():
                pass
        with second.write() as w:
            assert w.has_event("a", "e1")
            with pytest.raises(DuplicateEvent):
                _record(w, "a", "e1")


def test_inside_a_group_reads_see_the_groups_writes_and_a_failed_unit_restores_what_it_replaced(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as store:
        with store.write() as w:  # committed before the group: the tables hold it
            w.put_playbook(_snapshot())
            w.save_case(_case("old"))
        with store.group():
            with store.write() as w:
                case = _case("acme")
                w.save_case(case)
                _record(w, "acme", "e1")
                w.append_log(LogEntry(case_id="acme", kind=EVENT, event_id="e1", data={"n": 1}))
                w.add_waiver("acme", Waiver(criterion="c", reason="r", approver="boss", until="2026-12-31"))
                case.stage = "changed after saving"  # the caller's record is not the store's
            with pytest.raises(RuntimeError), store.write() as w:
                moved = w.get_case("acme")
                assert moved is not None and moved.stage == "a"
                moved.stage, moved.facts = "b", {"new": True}
                w.save_case(moved)
                _record(w, "acme", "e2")
                w.add_waiver("acme", Waiver(criterion="d", reason="r", approver="boss", until="2026-12-31"))
                raise RuntimeError("event failed half-way")
            seen = store.get_case("acme")
            assert seen is not None and (seen.stage, seen.facts) == ("a", _case().facts)  # the failed unit is undone
            assert store.has_event("acme", "e1") and not store.has_event("acme", "e2")
            assert [w.criterion for w in store.waivers("acme")] == ["c"]
            assert [e.data for e in store.history("acme")] == [{"n": 1}]
            assert [c.case_id for c in store.iter_cases()] == ["acme", "old"]
            found = store.for_event("acme", "e2")
            assert not found.duplicate and found.case is not None and [w.criterion for w in found.waivers] == ["c"]
            assert store.for_event("acme", "e1").duplicate
            with store.write() as w:  # moves the case, then a facts-only save in a later unit
                moved = w.get_case("acme")
                assert moved is not None
                moved.stage = "b"
                w.save_case(moved)
            with store.write() as w:
                again = w.get_case("acme")
                assert again is not None
                again.facts = {"last": 1}
                w.save_case(again, moved=False)
            assert _events(path) == []  # nothing is in the tables before the group commits
        case = store.get_case("acme")
        assert case is not None and (case.stage, case.facts) == ("b", {"last": 1})  # both saves are kept
        assert _events(path) == [("acme", "e1")]
        assert [(e.seq is not None, e.data) for e in store.history("acme")] == [(True, {"n": 1})]
        with store.write() as w, pytest.raises(DuplicateEvent):
            _record(w, "acme", "e1")


def test_inside_a_group_a_case_new_to_the_tables_needs_no_event_lookup_and_an_old_one_does(
        tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        with store.write() as w:  # a rejected event of a case that was never started: no case row
            _record(w, "ghost", "e1")
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        with store.group():
            assert not store.for_event("ghost", "e2").duplicate
            assert store.has_event("ghost", "e1")  # in the table, though the case has no row
            assert not store.for_event("new", "e1").duplicate
            with store.write() as w:
                _record(w, "new", "e1")
            statements.clear()
            assert store.has_event("new", "e1") and not store.has_event("new", "e2")
            assert statements == []  # answered from what the group knows
            with pytest.raises(DuplicateEvent), store.write() as w:
                _record(w, "new", "e1")
        store.conn.set_trace_callback(None)
        assert store.has_event("new", "e1") and not store.has_event("new", "e2")
