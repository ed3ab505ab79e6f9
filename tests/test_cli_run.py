"""`playbook run / status / history / cases / advance`, in-process (CliRunner) and as real
subprocesses."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from test_runtime import mini  # the small playbook with enter/exit actions and an outcome

EVENTS = [
    {"case": "acme", "id": "e1", "type": "facts", "at": "2026-01-05", "actor": "wang",
     "facts": {"account": {"name": "Acme"}}},
    {"case": "acme", "id": "e2", "type": "facts", "at": "2026-01-10", "actor": "wang",
     "facts": {"opportunity": {"budget": 500, "need": True}}},
    {"case": "beta", "id": "e1", "type": "facts", "at": "2026-01-06", "facts": {"account": {"name": "Beta"}}},
    {"case": "beta", "id": "e2", "type": "advance", "at": "2026-01-07", "to": "close"},
    {"case": "gone", "id": "e1", "type": "facts", "at": "2026-01-08",
     "facts": {"account": {"name": "Gone"}, "opportunity": {"status": "lost"}}},
]


@pytest.fixture
def setup(tmp_path: Path, write_file: Callable[..., Path]) -> dict[str, Any]:
    playbook = write_file("mini.yaml", mini())
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n", encoding="utf-8")
    return {"playbook": str(playbook), "events": str(events), "store": str(tmp_path / "store.sqlite")}


def test_run_summarises_transitions_actions_and_rejections(setup: dict[str, Any], run_cli: Any) -> None:
    result = run_cli("run", setup["playbook"], setup["events"], "--store", setup["store"])
    assert result.exit_code == 1, result  # beta's advance is blocked
    out = result.stdout
    assert "events: 5 read, 4 applied, 0 already recorded, 1 rejected, 0 bad" in out
    assert "acme: (not entered) -> qualify" in out and "acme: qualify -> propose" in out
    assert "acme: qualify exit handover (task)" in out and "acme: propose enter write-proposal (task)" in out
    assert "gone: qualify -> closed: lost" in out
    assert "beta/e2: cannot advance to close: blocked by budget" in out
    again = run_cli("run", setup["playbook"], setup["events"], "--store", setup["store"], "--format", "json")
    assert again.exit_code == 0, again
    data = json.loads(again.stdout)
    assert data["counts"] == {"read": 5, "applied": 0, "duplicate": 5, "rejected": 0, "bad": 0,
                              "transitions": 0, "actions": 0, "closed": 0}


def test_run_json_and_bad_lines(setup: dict[str, Any], run_cli: Any, tmp_path: Path) -> None:
    events = Path(setup["events"])
    events.write_text(events.read_text() + "{broken\n" + json.dumps({"case": "x", "type": "facts"}) + "\n")
    result = run_cli("run", setup["playbook"], setup["events"], "--store", setup["store"], "--format", "json")
    assert result.exit_code == 2, result
    data = json.loads(result.stdout)
    assert data["counts"]["applied"] == 4 and data["counts"]["bad"] == 2
    assert [b["line"] for b in data["bad"]] == [6, 7] and "`id` is required" in data["bad"][1]["message"]
    moves = [(t["case"], t["from"], t["to"], t["via"]) for t in data["transitions"]]
    assert ("acme", "qualify", "propose", "gate") in moves
    assert data["rejected"][0]["reason"]["code"] == "blocked"


def test_run_reads_stdin_and_speaks_chinese(setup: dict[str, Any], run_cli: Any) -> None:
    text = Path(setup["events"]).read_text()
    result = run_cli("run", setup["playbook"], "-", "--store", setup["store"], "--lang", "zh", input=text)
    assert result.exit_code == 1, result
    assert "事件：读取 5，执行 4" in result.stdout and "无法推进到 close" in result.stdout


def test_bad_input_exits_2_with_a_clear_message(setup: dict[str, Any], run_cli: Any, tmp_path: Path) -> None:
    missing = run_cli("run", setup["playbook"], str(tmp_path / "nope.jsonl"), "--store", setup["store"])
    assert missing.exit_code == 2 and "cannot read events" in missing.stderr
    nowhere = run_cli("status", "ghost", "--store", setup["store"])  # no store there: not created
    assert nowhere.exit_code == 2 and "no store at" in nowhere.stderr and not Path(setup["store"]).exists()
    assert run_cli("history", "ghost", "--store", setup["store"]).exit_code == 2
    assert run_cli("cases", "--store", setup["store"]).exit_code == 2 and not Path(setup["store"]).exists()
    run_cli("run", setup["playbook"], setup["events"], "--store", setup["store"])
    unknown = run_cli("status", "ghost", "--store", setup["store"])
    assert unknown.exit_code == 2 and "unknown case 'ghost'" in unknown.stderr
    assert run_cli("history", "ghost", "--store", setup["store"]).exit_code == 2
    empty = run_cli("cases", "--store", "")
    assert empty.exit_code == 2 and "--store is empty" in empty.stderr


def test_status_history_and_cases(setup: dict[str, Any], run_cli: Any) -> None:
    run_cli("run", setup["playbook"], setup["events"], "--store", setup["store"])
    status = run_cli("status", "acme", "--store", setup["store"], "--today", "2026-01-20", "--format", "json")
    assert status.exit_code == 0, status
    info = json.loads(status.stdout)
    assert info["stage"] == "propose" and info["playbook"]["version"] == 1
    assert info["clock"] == {"since": "2026-01-10", "days": 10, "max_days": 5, "stalled": True}
    assert [b["criterion"] for b in info["blocking"]] == ["proposal-sent", "accepted"]
    text = run_cli("status", "acme", "--store", setup["store"], "--today", "2026-01-20")
    assert "Stage: propose — Propose since 2026-01-10 (10 days, max 5) STALLED" in text.stdout
    assert "proposal-sent (propose exit): Proposal sent" in text.stdout

    history = json.loads(run_cli("history", "acme", "--store", setup["store"], "--format", "json").stdout)
    transitions = [e for e in history["log"] if e["kind"] == "transition"]
    assert [(t["from"], t["to"], t["at"], t["actor"], t["reason"]) for t in transitions] == [
        (None, "qualify", "2026-01-05", "wang", "gate passed"), ("qualify", "propose", "2026-01-10", "wang", "gate passed")]
    beta = run_cli("history", "beta", "--store", setup["store"]).stdout
    assert "rejected: e2: cannot advance to close: blocked by budget" in beta
    # actions are stored in every language: the history shows them in the one asked for
    acme_en = run_cli("history", "acme", "--store", setup["store"], "--lang", "en").stdout
    acme_zh = run_cli("history", "acme", "--store", setup["store"], "--lang", "zh").stdout
    assert "propose enter write-proposal (task) — Write the proposal" in acme_en
    assert "propose enter write-proposal (task) — 写方案" in acme_zh
    zh_json = json.loads(run_cli("history", "acme", "--store", setup["store"], "--lang", "zh", "--format", "json").stdout)
    assert [e["data"]["output"] for e in zh_json["log"] if e["kind"] == "action"][-1] == {"text": "写方案"}

    cases = json.loads(run_cli("cases", "--store", setup["store"], "--today", "2026-01-20", "--format", "json").stdout)
    assert {c["case"]: (c["stage"], c["stalled"], c["outcome"]) for c in cases["cases"]} == {
        "acme": ("propose", True, None), "beta": ("qualify", True, None), "gone": ("qualify", False, "lost")}
    stalled = run_cli("cases", "--store", setup["store"], "--today", "2026-01-16", "--stalled")
    assert stalled.stdout.splitlines() == ["acme  mini-run@1  propose 6d/5d STALLED"]  # beta: 10 of 10 days


def test_advance_blocked_waived_back_and_idempotent(setup: dict[str, Any], run_cli: Any) -> None:
    store = setup["store"]
    run_cli("run", setup["playbook"], setup["events"], "--store", store)
    blocked = run_cli("advance", "beta", "--to", "propose", "--store", store, "--today", "2026-02-01")
    assert blocked.exit_code == 1 and "blocked by budget, need-known" in blocked.stdout
    usage = run_cli("advance", "beta", "--to", "propose", "--waive", "budget", "--store", store)
    assert usage.exit_code == 2 and "--waive needs --reason, --approver and --until" in usage.stderr
    waived = run_cli("advance", "beta", "--to", "propose", "--waive", "budget", "--waive", "need-known",
                     "--reason", "strategic account", "--approver", "director", "--until", "2026-12-31",
                     "--actor", "li", "--id", "adv-1", "--store", store, "--today", "2026-02-01")
    assert waived.exit_code == 0, waived
    assert "beta: qualify -> propose (waived: budget, need-known)" in waived.stdout
    repeat = run_cli("advance", "beta", "--to", "propose", "--id", "adv-1", "--store", store)
    assert repeat.exit_code == 0 and "already applied" in repeat.stdout
    back = run_cli("advance", "beta", "--to", "qualify", "--store", store)
    assert back.exit_code == 2 and "needs --reason" in back.stderr
    back = run_cli("advance", "beta", "--to", "qualify", "--reason", "budget cut", "--store", store, "--format", "json")
    assert back.exit_code == 0 and json.loads(back.stdout)["transitions"][0]["via"] == "back"
    unknown = run_cli("advance", "beta", "--to", "mars", "--store", store)
    assert unknown.exit_code == 2 and "unknown stage 'mars'" in unknown.stderr
    info = json.loads(run_cli("status", "beta", "--store", store, "--format", "json", "--today", "2026-02-01").stdout)
    assert [w["criterion"] for w in info["waivers"]] == ["budget", "need-known"] and info["ready_to_advance"]
    log = json.loads(run_cli("history", "beta", "--store", store, "--format", "json").stdout)["log"]
    assert [(e["from"], e["to"], e["reason"]) for e in log if e["kind"] == "transition"][-2:] == [
        ("qualify", "propose", "strategic account"), ("propose", "qualify", "budget cut")]
    assert [e["actor"] for e in log if e["kind"] == "transition"][-2] == "li"


def test_the_commands_run_as_real_subprocesses(setup: dict[str, Any], run_subprocess: Any) -> None:
    env = {"PLAYBOOK_STORE": setup["store"]}
    run = run_subprocess("run", setup["playbook"], setup["events"], "--format", "json", env=env)
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["counts"]["applied"] == 4
    status = run_subprocess("status", "acme", "--format", "json", env=env)
    assert status.returncode == 0 and json.loads(status.stdout)["stage"] == "propose"
    assert run_subprocess("history", "acme", env=env).stdout.count("transition") == 2
    assert "acme  mini-run@1  propose" in run_subprocess("cases", env=env).stdout
    advance = run_subprocess("advance", "acme", "--to", "qualify", "--reason", "redo", env=env)
    assert advance.returncode == 0 and "acme: propose -> qualify" in advance.stdout
    bad = run_subprocess("status", "nobody", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_without_durable_rules_run_mode_says_why_and_queries_still_work(setup: dict[str, Any],
                                                                        run_subprocess: Any,
                                                                        tmp_path: Path) -> None:
    """What Python 3.13 looks like (durable_rules 2.0.28 fails to import there)."""
    import subprocess

    env = {"PLAYBOOK_STORE": setup["store"]}
    assert run_subprocess("run", setup["playbook"], setup["events"], env=env).returncode == 1
    block = tmp_path / "sitecustomize.py"
    block.write_text("import sys\nsys.modules['durable'] = None\n")
    import os

    full = {**os.environ, **env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "playbook", "run", setup["playbook"], setup["events"]],
                          capture_output=True, text=True, env=full, timeout=60)
    assert proc.returncode == 2 and "run mode needs durable_rules" in proc.stderr and "Traceback" not in proc.stderr
    status = subprocess.run([sys.executable, "-m", "playbook", "status", "acme", "--format", "json"],
                            capture_output=True, text=True, env=full, timeout=60)
    assert status.returncode == 0 and json.loads(status.stdout)["stage"] == "propose"


def test_commit_every_and_commit_ms_options(setup: dict[str, Any], run_cli: Any, tmp_path: Path) -> None:
    results = {}
    for every in ("1", "2", "64"):
        store = str(tmp_path / f"s{every}.sqlite")
        result = run_cli("run", setup["playbook"], setup["events"], "--store", store, "--format", "json",
                         "--commit-every", every, "--commit-ms", "5")
        assert result.exit_code == 1, result
        data = json.loads(result.stdout)
        results[every] = (data["counts"], data["transitions"], data["rejected"])
    assert results["1"] == results["2"] == results["64"]
    for bad in (("--commit-every", "0"), ("--commit-ms", "0"), ("--commit-every", "x")):
        result = run_cli("run", setup["playbook"], setup["events"], "--store", setup["store"], *bad)
        assert result.exit_code == 2 and "Invalid value" in result.stderr, result
