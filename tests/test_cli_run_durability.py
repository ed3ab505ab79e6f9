"""Idempotence and durability of `playbook run`, for real: re-runs, SIGKILL mid-run (and
mid-group: events are committed in groups), and two processes racing on one store. The end
state is compared with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from playbook.plugins import get_registry
from playbook.sourcefile import read_document

CASES = 400  # big enough that a run is still going when the test kills it (runs got faster)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cases of six-step-sales built from its examples, one fact event per top-level fact."""
    from playbook.loader import load_playbook

    pb = load_playbook("six-step-sales", registry=get_registry())
    examples = [read_document(p).data for p in sorted(pb.examples_dir.glob("*.yaml"))]
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for c in range(CASES):
            case = json.loads(json.dumps(examples[c % len(examples)]["case"], default=str))
            facts = {k: v for k, v in case.items() if k not in ("id", "stage")}
            for i, key in enumerate(facts):
                out.write(json.dumps({"case": f"case-{c:03d}", "id": f"e{i}", "type": "facts",
                                      "at": f"2026-02-{i + 1:02d}T10:00:00+08:00", "actor": "feed",
                                      "facts": {key: facts[key]}}) + "\n")
    return path


def _run(store: Path, events: Path | str, *options: str, stdin: Any = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.Popen([sys.executable, "-m", "playbook", "run", "six-step-sales", str(events),
                             "--store", str(store), "--format", "json", *options],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), err[-2000:]
    return json.loads(out)


def state(store: Path) -> dict[str, Any]:
    """Everything run mode stored, minus wall-clock bookkeeping (created/updated/recorded at)."""
    conn = sqlite3.connect(str(store))
    try:
        cases = conn.execute("SELECT case_id, playbook_id, playbook_version, playbook_hash, stage, stage_since,"
                             " facts, outcome, status, events FROM cases ORDER BY case_id").fetchall()
        events = conn.execute("SELECT case_id, event_id, type, at, actor, status, reason FROM events"
                              " ORDER BY case_id, event_id").fetchall()
        log: dict[str, list[Any]] = {}
        for row in conn.execute("SELECT case_id, kind, event_id, at, actor, from_stage, to_stage, reason, data"
                                " FROM log ORDER BY seq"):
            log.setdefault(row[0], []).append(row[1:])
        waivers = conn.execute("SELECT case_id, criterion, reason, approver, until FROM waivers ORDER BY id").fetchall()
    finally:
        conn.close()
    return {"cases": cases, "events": events, "log": log, "waivers": waivers}


def _count(store: Path) -> int:
    try:
        conn = sqlite3.connect(str(store), timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def reference(events_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("ref") / "store.sqlite"
    report = _finish(_run(store, events_file))
    total = sum(1 for line in events_file.read_text().splitlines() if line.strip())
    assert report["counts"]["applied"] + report["counts"]["rejected"] == total
    return {"state": state(store), "total": total, "store": store}


def test_re_running_the_same_events_changes_nothing(events_file: Path, reference: dict[str, Any]) -> None:
    report = _finish(_run(reference["store"], events_file))
    assert report["counts"]["duplicate"] == reference["total"] and report["counts"]["applied"] == 0
    assert state(reference["store"]) == reference["state"]


@pytest.mark.parametrize("options", [("--commit-every", "1"), ("--commit-every", "25", "--commit-ms", "60000"), ()],
                         ids=["one-per-event", "groups-of-25", "defaults"])
def test_a_run_killed_mid_way_and_re_run_ends_in_the_same_state(events_file: Path, reference: dict[str, Any],
                                                                 tmp_path: Path, options: tuple[str, ...]) -> None:
    store = tmp_path / "store.sqlite"
    total = reference["total"]
    first = True
    for threshold in (total // 5, total // 2, 4 * total // 5):  # kill three times, at different points
        proc = _run(store, events_file, *options)
        deadline = time.monotonic() + 60
        while _count(store) < threshold and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed; make the file bigger"
        proc.send_signal(signal.SIGKILL)  # almost surely mid-group: a group is committed whole or not at all
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        applied = _count(store)
        assert threshold <= applied < total
        if first and "25" in options:  # a fresh store: every event of a group adds one row
            assert applied % 25 == 0, f"{applied} events stored: a group was committed in part"
        first = False
    report = _finish(_run(store, events_file, *options))
    assert report["counts"]["duplicate"] == applied
    assert report["counts"]["applied"] + report["counts"]["rejected"] == total - applied
    assert state(store) == reference["state"]


def test_a_live_feed_killed_mid_group_and_re_run_ends_in_the_same_state(events_file: Path, reference: dict[str, Any],
                                                                       tmp_path: Path) -> None:
    """Events arrive on stdin a few at a time: each arrival is committed before the run waits
    for the next (a group never waits for input); a kill loses at most the group in flight."""
    store = tmp_path / "store.sqlite"
    lines = events_file.read_text(encoding="utf-8").splitlines(keepends=True)
    proc = _run(store, "-", "--commit-every", "1000", "--commit-ms", "60000", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    sent = 0
    for burst in (7, 30, 3):
        proc.stdin.writelines(lines[sent:sent + burst])
        proc.stdin.flush()
        sent += burst
        deadline = time.monotonic() + 60
        while _count(store) < sent and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _count(store) == sent  # committed although far fewer than 1000 events and 60 s
    proc.stdin.writelines(lines[sent:])  # the rest at once, then kill it in the middle
    proc.stdin.flush()
    while _count(store) < sent + 50 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    applied = _count(store)
    assert sent + 50 <= applied < reference["total"]
    report = _finish(_run(store, events_file))
    assert report["counts"]["duplicate"] == applied
    assert state(store) == reference["state"]


@pytest.mark.parametrize("options", [((), ()), (("--commit-every", "1"), ("--commit-every", "16"))],
                         ids=["both-default-groups", "per-event-vs-groups-of-16"])
def test_two_processes_feeding_one_store_lose_nothing_and_apply_nothing_twice(
        events_file: Path, reference: dict[str, Any], tmp_path: Path,
        options: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    total = reference["total"]
    done = lambda r: r["counts"]["applied"] + r["counts"]["rejected"]  # noqa: E731
    # Whether the two processes overlap depends on the machine's load (one may finish before
    # the other has started): the guarantees are checked on every attempt, and at least one
    # attempt must have been a real race.
    for attempt in range(6):
        store = tmp_path / f"store-{attempt}.sqlite"
        # the same events, at the same time
        first, second = _run(store, events_file, *options[0]), _run(store, events_file, *options[1])
        a, b = _finish(first), _finish(second)
        assert done(a) + done(b) == total  # each event applied by exactly one process
        assert a["counts"]["duplicate"] + b["counts"]["duplicate"] == total
        assert state(store) == reference["state"]
        print(f"race: process A applied {done(a)}, process B applied {done(b)} of {total} events")
        if min(done(a), done(b)) > 0:
            break
    assert min(done(a), done(b)) > 0, "no actual race happened in 6 attempts (one process did everything)"
    got = state(store)
    for case_log in got["log"].values():
        ids = [row[1] for row in case_log if row[0] == "event"]
        assert len(ids) == len(set(ids))
    assert got == reference["state"]
