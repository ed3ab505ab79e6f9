"""Run mode, attacked the way real users and unseen playbooks would: unusual playbooks, hostile
event streams, odd stores, every exit code, every command in --lang zh and --format json.

Each test asserts the documented (docs/run-mode.md) or plainly expected behaviour. A test that
fails because of a real bug is marked ``xfail(strict=True)`` with the bug in its reason, so the
suite stays green and the bug stays visible (a fix turns it into an XPASS, i.e. a failure, until
the mark is removed).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from playbook.loader import load_playbook
from playbook.runtime import flow
from playbook.runtime.events import event_from_mapping
from playbook.runtime.runner import APPLIED, DUPLICATE, REJECTED_STATUS, Runner
from playbook.store import open_store

# -- playbooks ---------------------------------------------------------------------------------

# Three stages with enter and exit actions everywhere, a recommended criterion, an outcome open
# only in the last stage (won), one open everywhere (lost) and one reachable before any stage is
# entered (dropped: the first stage's entry criterion is not needed for it).
TRIO = """
id: trio
version: {version}
title: {{zh: 三段, en: Trio}}
stages:
  - id: s1
    title: {{zh: 一, en: One}}
    max_days: 2
    entry:
      - {{id: lead, title: {{zh: 线索, en: Lead}}, when: "exists(lead.name)"}}
    exit:
      - {{id: qualified, title: {{zh: 合格, en: Qualified}}, when: "lead.qualified == true",
         hint: {{zh: 确认资格, en: Confirm it}}}}
      - {{id: bonus, title: {{zh: 加分, en: Bonus}}, level: recommended, when: "lead.bonus == true"}}
    actions:
      - {{id: s1-in, title: {{zh: 进一, en: Into one}}, "on": enter, do: task, with: {{text: {{zh: 一, en: one}}}}}}
      - {{id: s1-out, title: {{zh: 出一, en: Out of one}}, "on": exit, do: task, with: {{text: {{zh: 一, en: one}}}}}}
  - id: s2
    title: {{zh: 二, en: Two}}
    entry:
      - {{id: budget, title: {{zh: 预算, en: Budget}}, when: "deal.budget >= {budget}"}}
    exit:
      - {{id: proposal, title: {{zh: 方案, en: Proposal}}, when: "deal.proposal == true"}}
    actions:
      - {{id: s2-in, title: {{zh: 进二, en: Into two}}, "on": enter, do: task, with: {{text: {{zh: 二, en: two}}}}}}
      - {{id: s2-out, title: {{zh: 出二, en: Out of two}}, "on": exit, do: task, with: {{text: {{zh: 二, en: two}}}}}}
  - id: s3
    title: {{zh: 三, en: Three}}
    entry:
      - {{id: signed, title: {{zh: 签约, en: Signed}}, when: "deal.signed == true"}}
    actions:
      - {{id: s3-in, title: {{zh: 进三, en: Into three}}, "on": enter, do: template,
         with: {{text: {{zh: "客户 {{lead.name}}", en: "Client {{lead.name}}"}}}}}}
outcomes:
  - {{id: won, kind: won, title: {{zh: 赢单, en: Won}}, when: "deal.paid == true", from: [s3]}}
  - {{id: lost, kind: lost, title: {{zh: 丢单, en: Lost}}, when: "deal.lost == true"}}
  - {{id: dropped, kind: dropped, title: {{zh: 放弃, en: Dropped}}, when: "lead.dead == true"}}
"""


def trio_text(version: int = 1, budget: int = 100) -> str:
    return TRIO.format(version=version, budget=budget)


ONE_STAGE = """
id: one-stage
version: 1
title: {zh: 一段, en: One stage}
stages:
  - id: only
    title: {zh: 唯一, en: Only}
    max_days: 3
"""

TWO_STAGES = """
id: two-stages
version: 1
title: {zh: 两段, en: Two stages}
stages:
  - id: first
    title: {zh: 先, en: First}
    actions:
      - {id: hello, title: {zh: 你好, en: Hello}, "on": enter, do: task, with: {text: hi}}
  - id: second
    title: {zh: 后, en: Second}
    entry:
      - {id: ready, title: {zh: 就绪, en: Ready}, when: "x.ready == true"}
"""

RECOMMENDED_ONLY = """
id: advice-only
version: 1
title: {zh: 建议, en: Advice only}
stages:
  - id: a
    title: {zh: 甲, en: A}
    exit:
      - {id: tip, title: {zh: 提示, en: Tip}, level: recommended, when: "x.tip == true"}
  - id: b
    title: {zh: 乙, en: B}
    entry:
      - {id: tip2, title: {zh: 提示二, en: Tip two}, level: recommended, when: "x.tip2 == true"}
"""

# derivations (core.man), a scorecard, a decision table built on it, and a lookup action
DERIVED = """
id: derived-pb
version: 1
title: {zh: 派生, en: Derived}
derive:
  - {id: man, use: core.man}
scorecards:
  - id: value
    title: {zh: 价值, en: Value}
    input: scores
    scale:
      - {value: 0, label: {zh: 差, en: poor}}
      - {value: 1, label: {zh: 好, en: good}}
    dimensions:
      - id: worth
        title: {zh: 值得, en: Worth}
        factors:
          - id: money
            title: {zh: 钱, en: Money}
            indicators:
              - {id: roi, title: {zh: 回报, en: ROI}}
              - {id: size, title: {zh: 规模, en: Size}}
        bands:
          - {id: high, min: 2, title: {zh: 高, en: high}}
          - {id: low, title: {zh: 低, en: low}}
tables:
  - id: grade
    title: {zh: 等级, en: Grade}
    hit: first
    rules:
      - when: 'derived.value.dimensions.worth.band == "high" and derived.man.class == "M+A+N"'
        then: {grade: A}
    default: {grade: C}
stages:
  - id: look
    title: {zh: 看, en: Look}
    exit:
      - {id: grade-a, title: {zh: A 级, en: Grade A}, when: 'derived.grade.grade == "A"'}
  - id: go
    title: {zh: 做, en: Go}
    actions:
      - {id: show-grade, title: {zh: 等级, en: Grade}, "on": enter, do: lookup, with: {table: grade}}
"""

# a required gate that is another playbook (the bundled four-questions) through the core rule
PLAYBOOK_PASSES = """
id: gated
version: 1
title: {zh: 闸门, en: Gated}
stages:
  - id: screen
    title: {zh: 筛选, en: Screen}
    exit:
      - id: real
        title: {zh: 是机会, en: It is real}
        rule: core.playbook-passes
        with: {playbook: opportunity-four-questions, stage: is-it-real}
  - id: pursue
    title: {zh: 跟进, en: Pursue}
"""

BASE = """
id: base-pb
version: 1
title: {zh: 基础, en: Base}
stages:
  - id: one
    title: {zh: 一, en: One}
    entry:
      - {id: started, title: {zh: 开始, en: Started}, when: "exists(account.name)"}
    exit:
      - {id: done-one, title: {zh: 完成一, en: Done one}, when: "x.one == true"}
  - id: two
    title: {zh: 二, en: Two}
"""

CHILD = """
id: child-pb
version: 1
title: {zh: 子, en: Child}
extends: base.yaml
stages:
  - id: three
    title: {zh: 三, en: Three}
    entry:
      - {id: go-three, title: {zh: 三, en: Three}, when: "x.three == true"}
"""

# a plugin module (loaded with -p) that adds a rule and registers a playbook file beside it
PLUGIN = '''
from pathlib import Path

from playbook import hookimpl

HERE = Path(__file__).resolve().parent


def big(facts, derived, params, ctx):
    return (facts.get("deal") or {}).get("amount", 0) >= 10


@hookimpl
def register_rules(register):
    register("advplug.big", big, title={"en": "Big", "zh": "大"})


@hookimpl
def register_playbooks(register):
    register(HERE / "plugged.yaml")
'''

PLUGGED = """
id: plugged
version: {version}
title: {{zh: 插件, en: Plugged}}
stages:
  - id: a
    title: {{zh: 甲, en: A}}
    entry:
      - {{id: named, title: {{zh: 有名, en: Named}}, when: "exists(deal.name)"}}
    exit:
      - {{id: big-deal, title: {{zh: 大单, en: Big deal}}, rule: advplug.big}}
  - id: b
    title: {{zh: 乙, en: B}}
"""


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_default_store(_isolated_playbook_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing here may touch ~/.local/share/playbook: the default store is in tmp, and output
    is English unless a test asks for --lang zh."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("PLAYBOOK_STORE", raising=False)
    monkeypatch.setenv("PLAYBOOK_LANG", "en")


def jsonl(path: Path, *events: dict[str, Any] | str, newline: str = "\n") -> Path:
    lines = [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in events]
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def facts(case: str, eid: str, at: str, **data: Any) -> dict[str, Any]:
    return {"case": case, "id": eid, "at": at, "facts": data}


@pytest.fixture
def env(tmp_path: Path, write_file: Callable[..., Path], run_cli: Any) -> dict[str, Any]:
    """The trio playbook, a store path, and ``cli(*args)`` = run_cli with --store added."""
    store = tmp_path / "store.sqlite"

    def cli(*args: str, input: str | None = None) -> Any:
        return run_cli(*args, "--store", str(store), input=input)

    return {"playbook": str(write_file("trio.yaml", trio_text())), "store": str(store), "cli": cli,
            "dir": tmp_path}


def as_json(result: Any) -> Any:
    assert "Traceback" not in result.stderr, result
    return json.loads(result.stdout)


def status(env: dict[str, Any], case: str, today: str = "2026-01-10") -> dict[str, Any]:
    result = env["cli"]("status", case, "--format", "json", "--today", today)
    assert result.exit_code == 0, result
    return as_json(result)


def log_of(env: dict[str, Any], case: str) -> list[dict[str, Any]]:
    result = env["cli"]("history", case, "--format", "json")
    assert result.exit_code == 0, result
    return as_json(result)["log"]


def transitions(log: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["from"], e["to"], e["data"].get("via"), e["data"].get("outcome")) for e in log
            if e["kind"] == "transition"]


def run_json(env: dict[str, Any], events: Path, *extra: str, code: int | None = None) -> dict[str, Any]:
    result = env["cli"]("run", env["playbook"], str(events), "--format", "json", *extra)
    if code is not None:
        assert result.exit_code == code, result
    return as_json(result)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    with open_store(str(tmp_path / "direct.sqlite")) as s:
        yield s


def event(case: str, eid: str, etype: str = "facts", at: str = "2026-01-05", **fields: Any) -> Any:
    return event_from_mapping({"case": case, "id": eid, "type": etype, "at": at, **fields})


# -- unusual but valid playbooks ---------------------------------------------------------------


def test_one_stage_playbook_without_criteria_or_outcomes(tmp_path: Path, write_file: Callable[..., Path],
                                                         run_cli: Any) -> None:
    pb = write_file("one.yaml", ONE_STAGE)
    store = str(tmp_path / "s.sqlite")
    events = jsonl(tmp_path / "e.jsonl",
                   facts("a", "1", "2026-01-01"),  # empty facts: no criteria, so the case enters
                   facts("a", "2", "2026-01-02", x=1),
                   {"case": "a", "id": "3", "type": "advance", "to": "only", "at": "2026-01-03"},
                   {"case": "b", "id": "1", "type": "advance", "to": "only", "at": "2026-01-03"})
    result = run_cli("run", str(pb), str(events), "--store", store, "--format", "json")
    assert result.exit_code == 0, result
    data = as_json(result)
    assert data["counts"]["applied"] == 4 and data["counts"]["transitions"] == 2
    assert [(t["case"], t["from"], t["to"], t["via"]) for t in data["transitions"]] == [
        ("a", None, "only", "gate"), ("b", None, "only", "manual")]
    stalled = run_cli("cases", "--store", store, "--stalled", "--today", "2026-01-10")
    assert stalled.stdout.splitlines() == ["a  one-stage@1  only 9d/3d STALLED", "b  one-stage@1  only 7d/3d STALLED"]
    # advancing to the stage it is in: applied, nothing moves
    same = run_cli("advance", "a", "--to", "only", "--store", store)
    assert same.exit_code == 0 and "a: stays in only" in same.stdout, same


def test_two_stages_advance_back_and_to_the_current_stage(tmp_path: Path, write_file: Callable[..., Path],
                                                          run_cli: Any) -> None:
    pb = write_file("two.yaml", TWO_STAGES)
    store = str(tmp_path / "s.sqlite")
    events = jsonl(tmp_path / "e.jsonl",
                   facts("a", "1", "2026-01-01", x={"ready": True}),  # straight through to the last stage
                   {"case": "a", "id": "2", "type": "advance", "to": "first", "at": "2026-01-02"},  # no reason
                   {"case": "a", "id": "3", "type": "advance", "to": "first", "at": "2026-01-02", "reason": "redo"},
                   {"case": "a", "id": "4", "type": "advance", "to": "first", "at": "2026-01-03"},  # already there
                   facts("a", "5", "2026-01-04", y=1))  # gates open: it moves on by itself again
    result = run_cli("run", str(pb), str(events), "--store", store, "--format", "json")
    assert result.exit_code == 1, result  # event 2 rejected
    data = as_json(result)
    assert [r["reason"]["code"] for r in data["rejected"]] == ["back_needs_reason"]
    assert [(t["event"], t["from"], t["to"], t["via"]) for t in data["transitions"]] == [
        ("1", None, "first", "gate"), ("1", "first", "second", "gate"), ("3", "second", "first", "back"),
        ("5", "first", "second", "gate")]
    # moving back fires only the enter actions of the stage returned to
    assert [(a["event"], a["id"]) for a in data["actions"]] == [("1", "hello"), ("3", "hello")]


def test_an_outcome_limited_with_from_closes_only_in_its_stages(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A"}, deal={"paid": True}),  # won not open in s1
                   facts("a", "2", "2026-01-02", lead={"qualified": True},
                         deal={"budget": 100, "proposal": True, "signed": True}))  # s1 -> s3 and closed there
    data = run_json(env, events, code=0)
    assert [(t["event"], t["from"], t["to"], t.get("outcome")) for t in data["transitions"]] == [
        ("1", None, "s1", None), ("2", "s1", "s2", None), ("2", "s2", "s3", None), ("2", "s3", None, "won")]
    info = status(env, "a")
    assert (info["stage"], info["status"], info["outcome"]) == ("s3", "closed", "won")
    # the template action saw the merged facts
    assert [a["output"] for a in data["actions"] if a["id"] == "s3-in"] == [{"text": "Client A"}]


def test_an_outcome_reached_before_any_stage_is_entered_closes_the_case(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("d", "1", "2026-01-01", lead={"dead": True}),
                   facts("d", "2", "2026-01-02", lead={"name": "D"}))
    data = run_json(env, events, code=1)
    assert [(t["from"], t["to"], t["outcome"]) for t in data["transitions"]] == [(None, None, "dropped")]
    assert data["rejected"][0]["reason"]["code"] == "closed"
    info = status(env, "d")
    assert (info["stage"], info["status"], info["outcome"], info["clock"]["stalled"]) == (
        None, "closed", "dropped", False)
    cases = env["cli"]("cases", "--today", "2026-02-01")
    assert cases.stdout.splitlines() == ["d  trio@1  (not entered) [closed: dropped]"]
    text = env["cli"]("status", "d", "--today", "2026-02-01").stdout
    assert "Status: closed: Dropped" in text and "What blocks" not in text


def test_recommended_criteria_never_block_and_cannot_be_waived(tmp_path: Path, write_file: Callable[..., Path],
                                                               run_cli: Any) -> None:
    pb = write_file("adv.yaml", RECOMMENDED_ONLY)
    store = str(tmp_path / "s.sqlite")
    events = jsonl(tmp_path / "e.jsonl",
                   facts("a", "1", "2026-01-01", x={"tip": False}),
                   {"case": "b", "id": "1", "type": "waive", "at": "2026-01-01",
                    "waive": {"criterion": "tip", "reason": "r", "approver": "p", "until": "2026-12-31"}})
    result = run_cli("run", str(pb), str(events), "--store", store, "--format", "json")
    assert result.exit_code == 1, result
    data = as_json(result)
    assert [(t["case"], t["to"]) for t in data["transitions"]] == [("a", "a"), ("a", "b")]
    assert data["rejected"][0]["reason"]["code"] == "not_required"


def test_derivations_scorecards_and_tables_decide_gates_and_feed_actions(tmp_path: Path,
                                                                         write_file: Callable[..., Path],
                                                                         run_cli: Any) -> None:
    pb = write_file("derived.yaml", DERIVED)
    store = str(tmp_path / "s.sqlite")
    man = {"money": True, "authority": True, "need": True}
    events = jsonl(tmp_path / "e.jsonl",
                   facts("a", "1", "2026-01-01", qualification=man, scores={"roi": 1}),  # a score missing: C
                   facts("a", "2", "2026-01-02", scores={"size": 1}))  # high band + M+A+N: A
    result = run_cli("run", str(pb), str(events), "--store", store, "--format", "json")
    assert result.exit_code == 0, result
    data = as_json(result)
    assert [(t["event"], t["from"], t["to"]) for t in data["transitions"]] == [
        ("1", None, "look"), ("2", "look", "go")]
    [lookup] = [a for a in data["actions"] if a["id"] == "show-grade"]
    assert lookup["output"]["table"] == "grade" and lookup["output"]["result"]["grade"] == "A"


def test_a_playbook_gated_by_another_playbook_through_the_core_rule(tmp_path: Path,
                                                                   write_file: Callable[..., Path],
                                                                   run_cli: Any) -> None:
    pb = write_file("gated.yaml", PLAYBOOK_PASSES)
    store = str(tmp_path / "s.sqlite")
    events = jsonl(tmp_path / "e.jsonl",
                   facts("a", "1", "2026-01-01", opportunity={"name": "MES"}),
                   facts("a", "2", "2026-01-02", opportunity={"need_clear": True, "funded": True}))
    result = run_cli("run", str(pb), str(events), "--store", store, "--format", "json")
    assert result.exit_code == 0, result
    data = as_json(result)
    assert [(t["event"], t["to"]) for t in data["transitions"]] == [("1", "screen"), ("2", "pursue")]


SUB = """
id: sub-pb
version: 1
title: {zh: 子, en: Sub}
stages:
  - id: s
    title: {zh: 子, en: S}
    exit:
      - {id: ok, title: {zh: 好, en: OK}, when: "x.ok == true"}
"""

MAIN = """
id: main-pb
version: 1
title: {zh: 主, en: Main}
stages:
  - id: a
    title: {zh: 甲, en: A}
    exit:
      - {id: sub-ok, title: {zh: 子过, en: Sub ok}, rule: core.playbook-passes, with: {playbook: sub.yaml}}
  - id: b
    title: {zh: 乙, en: B}
"""


def test_a_case_gated_by_a_sub_playbook_file_works_from_any_directory(tmp_path: Path,
                                                                     write_file: Callable[..., Path],
                                                                     run_cli: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_file("pbs/sub.yaml", SUB)
    main = write_file("pbs/main.yaml", MAIN)
    store = str(tmp_path / "s.sqlite")
    events = jsonl(tmp_path / "e.jsonl", facts("m", "1", "2026-01-01", y=1))
    monkeypatch.chdir(main.parent)
    assert run_cli("run", "main.yaml", str(events), "--store", store).exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = run_cli("status", "m", "--store", store, "--format", "json")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["blocking"][0]["criterion"] == "sub-ok"


def test_a_reused_gate_playbook_is_found_next_to_its_parent_and_pinned_with_it(
        tmp_path: Path, write_file: Callable[..., Path], run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = write_file("pbs/sub.yaml", SUB)
    main = write_file("pbs/main.yaml", MAIN)
    store = str(tmp_path / "s.sqlite")
    monkeypatch.chdir(tmp_path)  # not the playbooks' folder: sub.yaml is found next to main.yaml
    started = jsonl(tmp_path / "e.jsonl", facts("m", "1", "2026-01-01", x={"ok": True}))
    assert run_cli("run", str(main), str(started), "--store", store).exit_code == 0
    assert json.loads(run_cli("status", "m", "--store", store, "--format", "json").stdout)["stage"] == "b"
    # the gate playbook changes (and then disappears): the case in flight keeps the one it started with
    sub.write_text(SUB.replace("x.ok == true", "x.ok == 'never'"), encoding="utf-8")
    later = jsonl(tmp_path / "e2.jsonl", facts("m", "2", "2026-01-02", x={"note": 1}),
                  {"case": "m", "id": "3", "type": "advance", "to": "a", "reason": "recheck"},
                  {"case": "m", "id": "4", "type": "advance", "to": "b"})
    data = as_json(run_cli("run", str(main), str(later), "--store", store, "--format", "json"))
    assert data["counts"]["applied"] == 3 and data["counts"]["rejected"] == 0, data
    sub.unlink()
    info = json.loads(run_cli("status", "m", "--store", store, "--format", "json").stdout)
    assert info["stage"] == "b" and info["regressed"] == []
    # a new case starts on the playbook as it is now: its gate is the changed one
    sub.write_text(SUB.replace("x.ok == true", "x.ok == 'never'"), encoding="utf-8")
    fresh = jsonl(tmp_path / "e3.jsonl", facts("n", "1", "2026-01-01", x={"ok": True}))
    assert run_cli("run", str(main), str(fresh), "--store", store).exit_code == 0
    assert json.loads(run_cli("status", "n", "--store", store, "--format", "json").stdout)["stage"] == "a"


def test_a_playbook_that_extends_a_file_keeps_running_from_its_snapshot(tmp_path: Path,
                                                                       write_file: Callable[..., Path],
                                                                       run_cli: Any, run_subprocess: Any) -> None:
    write_file("pbs/base.yaml", BASE)
    child = write_file("pbs/child.yaml", CHILD)
    store = str(tmp_path / "s.sqlite")
    first = jsonl(tmp_path / "e1.jsonl", facts("k", "1", "2026-01-01", account={"name": "K"}))
    assert run_cli("run", str(child), str(first), "--store", store).exit_code == 0
    # the base file disappears: the case runs on the merged snapshot taken when it started
    (tmp_path / "pbs" / "base.yaml").unlink()
    proc = run_subprocess("status", "k", "--store", store, "--format", "json", "--today", "2026-01-02",
                          cwd=str(Path(store).parent.parent))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["stage"] == "one" and [b["criterion"] for b in info["blocking"]] == ["done-one"]
    # `run` needs the playbook file (to start new cases); an advance needs only the store
    adv = run_subprocess("advance", "k", "--to", "three", "--store", store, "--format", "json",
                         "--today", "2026-01-02")
    assert adv.returncode == 1 and json.loads(adv.stdout)["reason"]["params"]["criteria"] == "done-one, go-three"
    adv = run_subprocess("advance", "k", "--to", "three", "--waive", "done-one", "--waive", "go-three", "--reason",
                         "r", "--approver", "a", "--until", "2099-01-01", "--store", store, "--format", "json")
    assert adv.returncode == 0, adv.stderr
    assert [(t["from"], t["to"]) for t in json.loads(adv.stdout)["transitions"]] == [("one", "two"), ("two", "three")]


# -- event streams -----------------------------------------------------------------------------


def test_unicode_and_very_long_ids(env: dict[str, Any], run_subprocess: Any) -> None:
    case = "客户-ünïcødé-🚀-" + "x" * 10_000
    eid = "事件-" + "y" * 10_000
    events = jsonl(env["dir"] / "e.jsonl", facts(case, eid, "2026-01-01", lead={"name": "名字 🚀"}))
    data = run_json(env, events, code=0)
    assert data["transitions"][0]["case"] == case and data["transitions"][0]["event"] == eid
    again = run_json(env, events, code=0)
    assert again["counts"]["duplicate"] == 1
    info = status(env, case)
    assert info["case"] == case and info["stage"] == "s1"
    assert [e["event"] for e in log_of(env, case)][:2] == [eid, eid]
    proc = run_subprocess("status", case, "--store", env["store"], "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["case"] == case, proc.stderr
    assert case in env["cli"]("cases").stdout


def test_the_same_event_id_twice_in_one_group_and_across_groups(env: dict[str, Any], tmp_path: Path,
                                                                run_cli: Any) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "First"}),
                   facts("a", "1", "2026-01-01", lead={"name": "Second"}),  # same group: skipped
                   facts("b", "1", "2026-01-01", lead={"name": "B"}),  # same id, other case: applied
                   facts("a", "2", "2026-01-01", lead={"qualified": True}, deal={"budget": 100}),
                   facts("a", "2", "2026-01-01", deal={"budget": 1}))
    states = {}
    for every in ("1", "2", "64"):
        store = tmp_path / f"s{every}.sqlite"
        data = as_json(run_cli("run", env["playbook"], str(events), "--store", str(store), "--format", "json",
                               "--commit-every", every))
        assert data["counts"]["applied"] == 3 and data["counts"]["duplicate"] == 2, data["counts"]
        with open_store(str(store)) as s:
            case = s.get_case("a")
            assert case is not None
            states[every] = (case.stage, case.facts, case.events)
    assert states["1"] == states["2"] == states["64"] == (
        "s2", {"deal": {"budget": 100}, "lead": {"name": "First", "qualified": True}}, 2)


def test_a_group_applies_a_duplicate_id_once_through_the_runner(store: Any, registry: Any,
                                                                write_file: Callable[..., Path]) -> None:
    pb = load_playbook(write_file("trio.yaml", trio_text()), registry=registry)
    runner = Runner(store, registry, playbook=pb)
    with runner.group():
        first = runner.apply(event("a", "1", facts={"lead": {"name": "A"}}), keep_session=True)
        second = runner.apply(event("a", "1", facts={"lead": {"name": "B"}}), keep_session=True)
    flow.release()
    assert (first.status, second.status) == (APPLIED, DUPLICATE)
    case = store.get_case("a")
    assert case.facts == {"lead": {"name": "A"}} and case.events == 1
    assert flow.live_sessions() == 0


def test_events_are_applied_in_file_order_not_time_order(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-03-10T10:00:00+08:00", lead={"name": "A"}),
                   facts("a", "2", "2026-03-01T09:00:00Z", lead={"qualified": True}, deal={"budget": 500}))
    data = run_json(env, events, code=0)
    assert [(t["to"], t["at"]) for t in data["transitions"]] == [
        ("s1", "2026-03-10T10:00:00+08:00"), ("s2", "2026-03-01T09:00:00Z")]
    info = status(env, "a", today="2026-03-05")
    assert info["clock"]["since"] == "2026-03-01T09:00:00Z" and info["clock"]["days"] == 4


def test_an_event_for_another_stage_is_rejected_and_never_fires_later(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   {**facts("n", "0", "2026-01-01", lead={"name": "N"}), "stage": "s1"},  # not entered yet
                   facts("a", "1", "2026-01-01", lead={"name": "A"}),
                   {**facts("a", "2", "2026-01-02", deal={"proposal": True}), "stage": "s2"},
                   {**facts("a", "3", "2026-01-02", lead={"qualified": True}, deal={"budget": 100}), "stage": "s1"},
                   {**facts("a", "4", "2026-01-03", deal={"signed": True}), "stage": "s2"})
    data = run_json(env, events, code=1)
    assert [(r["case"], r["event"], r["reason"]["code"]) for r in data["rejected"]] == [
        ("n", "0", "wrong_stage"), ("a", "2", "wrong_stage")]
    info = status(env, "a")
    assert info["stage"] == "s2" and "proposal" not in info["facts"]["deal"]  # event 2 never applied
    assert env["cli"]("status", "n").exit_code == 2  # a rejected first event starts no case
    assert [e["kind"] for e in log_of(env, "n")] == ["rejected"]


def test_null_deletes_facts_lists_are_replaced_and_stages_stay_sticky(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A", "tags": ["x", "y"], "note": "n"}),
                   facts("a", "2", "2026-01-02", lead={"tags": ["z"], "note": None}),
                   facts("a", "3", "2026-01-03", lead={"name": None}))
    run_json(env, events, code=0)
    info = status(env, "a")
    assert info["facts"] == {"lead": {"tags": ["z"]}}
    assert info["stage"] == "s1"  # the entry criterion no longer passes, the case stays


def test_status_reports_a_first_stage_entry_criterion_that_no_longer_passes(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A", "qualified": True}, deal={"budget": 100}),
                   facts("a", "2", "2026-01-03", lead={"name": None}))
    run_json(env, events, code=0)
    info = status(env, "a")
    assert info["stage"] == "s2"  # sticky
    assert "lead" in [r["criterion"] for r in info["regressed"]]


def test_advance_through_several_stages_with_waivers(env: dict[str, Any]) -> None:
    waive = [{"criterion": c, "reason": "strategic", "approver": "Li", "until": "2026-12-31"}
             for c in ("qualified", "budget", "proposal", "signed")]
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A"}, deal={"paid": True}),
                   {"case": "a", "id": "2", "type": "advance", "to": "s3", "at": "2026-01-02", "actor": "li",
                    "reason": "board decision", "waive": waive})
    data = run_json(env, events, code=0)
    assert [(t["from"], t["to"], t["via"], t["waived"], t.get("outcome")) for t in data["transitions"]] == [
        (None, "s1", "gate", [], None), ("s1", "s2", "manual", ["qualified", "budget"], None),
        ("s2", "s3", "manual", ["proposal", "signed"], None), ("s3", None, "outcome", [], "won")]
    log = log_of(env, "a")
    assert transitions(log) == [(None, "s1", "gate", None), ("s1", "s2", "manual", None),
                                ("s2", "s3", "manual", None), ("s3", None, "outcome", "won")]
    assert [e["data"]["criterion"] for e in log if e["kind"] == "waiver"] == ["qualified", "budget", "proposal",
                                                                                "signed"]
    assert {e["reason"] for e in log if e["kind"] == "transition" and e["data"]["via"] == "manual"} == {
        "board decision"}
    assert {e["actor"] for e in log if e["event"] == "2"} == {"li"}


@pytest.mark.parametrize("waiver, code", [
    ({"criterion": "qualified", "until": "2026-01-01"}, "waiver_expired"),
    ({"criterion": "no-such-thing", "until": "2026-12-31"}, "unknown_criterion"),
    ({"criterion": "bonus", "until": "2026-12-31"}, "not_required"),
])
def test_an_invalid_waiver_rejects_the_whole_event(store: Any, registry: Any, write_file: Callable[..., Path],
                                                   waiver: dict[str, str], code: str) -> None:
    pb = load_playbook(write_file("trio.yaml", trio_text()), registry=registry)
    runner = Runner(store, registry, playbook=pb)
    assert runner.apply(event("a", "1", facts={"lead": {"name": "A"}})).status == APPLIED
    good = {"criterion": "budget", "reason": "ok", "approver": "p", "until": "2026-12-31"}
    bad = {"reason": "r", "approver": "p", **waiver}
    for etype, extra in (("advance", {"to": "s2"}), ("waive", {})):
        result = runner.apply(event("a", f"{etype}-1", etype, at="2026-01-05", waive=[good, bad], **extra))
        assert result.status == REJECTED_STATUS and result.reason.code == code, result
    assert store.waivers("a") == [] and store.get_case("a").stage == "s1"  # not even the good waiver
    assert flow.live_sessions() == 0


def test_a_waive_event_moves_the_case_through_the_gate_it_opens(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A"}, deal={"budget": 100}),
                   {"case": "a", "id": "2", "type": "waive", "stage": "s1", "at": "2026-01-02",
                    "waive": {"criterion": "qualified", "reason": "known customer", "approver": "Li",
                              "until": "2026-01-31"}})
    data = run_json(env, events, code=0)
    assert [(t["from"], t["to"], t["via"], t["waived"]) for t in data["transitions"]] == [
        (None, "s1", "gate", []), ("s1", "s2", "gate", ["qualified"])]
    # the waiver has expired: sticky stage, the status says so
    info = status(env, "a", today="2026-02-15")
    assert info["stage"] == "s2" and info["waivers"][0]["valid"] is False


def test_advance_of_a_closed_case_and_to_the_current_stage(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A"}),
                   facts("z", "1", "2026-01-01", lead={"name": "Z"}, deal={"lost": True}))
    run_json(env, events, code=0)
    closed = env["cli"]("advance", "z", "--to", "s2", "--reason", "revive")
    assert closed.exit_code == 1 and "the case is closed (outcome lost)" in closed.stdout, closed
    back_closed = env["cli"]("advance", "z", "--to", "s1", "--format", "json")
    assert back_closed.exit_code == 1 and as_json(back_closed)["reason"]["code"] == "closed"
    here = env["cli"]("advance", "a", "--to", "s1", "--format", "json")
    assert here.exit_code == 0 and as_json(here)["transitions"] == [], here


def test_bad_lines_of_every_kind_are_reported_counted_and_the_rest_runs(env: dict[str, Any]) -> None:
    w = {"criterion": "x", "reason": "r", "approver": "a"}
    lines: list[dict[str, Any] | str] = [
        facts("a", "g1", "2026-01-01", lead={"name": "A"}),  # 1 good
        "not json",  # 2
        "[1, 2]",  # 3
        '"just a string"',  # 4
        '{"id": "x", "facts": {}}',  # 5 no case
        '{"case": "a", "facts": {}}',  # 6 no id
        '{"case": "a", "id": 5, "facts": {}}',  # 7 id not a string
        '{"case": "a", "id": "b1", "type": "teleport"}',  # 8 unknown type
        '{"case": "a", "id": "b2", "facts": {}, "colour": "red"}',  # 9 unknown field
        '{"case": "a", "id": "b3", "facts": [1]}',  # 10 facts not an object
        '{"case": "a", "id": "b4", "facts": {"stage": "s2"}}',  # 11 reserved fact
        '{"case": "a", "id": "b5", "at": "yesterday", "facts": {}}',  # 12 bad time
        '{"case": "a", "id": "b6", "type": "advance"}',  # 13 no target
        '{"case": "a", "id": "b7", "type": "advance", "to": "s2", "facts": {}}',  # 14 facts on advance
        '{"case": "a", "id": "b8", "type": "waive"}',  # 15 no waiver
        json.dumps({"case": "a", "id": "b9", "type": "waive", "waive": {"criterion": "x"}}),  # 16
        json.dumps({"case": "a", "id": "b10", "type": "waive", "waive": {**w, "until": "soon"}}),  # 17
        '{"case": "a", "id": "b11", "facts": {"x": NaN}}',  # 18
        '{"case": "a", "id": "b12", "facts": {}, "actor": 7}',  # 19
        '{"case": "a", "id": "b13", "facts": {}, "stage": ""}',  # 20
        "",  # 21 blank: skipped
        "   # an indented comment",  # 22 skipped
        '{"case": "a", "id": "b14", "facts": {"x": 1e999}}',  # 23
        json.dumps({"case": "a", "id": "b15", "type": "waive", "waive": [{**w, "until": "2026-01-01", "x": 1}]}),
        facts("a", "g2", "2026-01-02", lead={"qualified": True}),  # 25 good
        '{"case": "a", "id": "b16", "type": null, "facts": {}}',  # 26
        '{"case": "a", "id": "b17", "facts": {}, "reason": ["x"]}',  # 27
        '{"case": "a", "id": "b18"',  # 28 truncated
        '{"case": "a", "id": "b19", "facts": {}} trailing',  # 29
        '{"case": "a", "id": "b20", "type": "waive", "waive": []}',  # 30
        facts("b", "g3", "2026-01-02", lead={"name": "B"}),  # 31 good
    ]
    path = jsonl(env["dir"] / "mixed.jsonl", *lines)
    bad_numbers = [n for n in range(2, 31) if n not in (21, 22, 25)]
    data = run_json(env, path, code=2)
    assert [b["line"] for b in data["bad"]] == bad_numbers
    assert data["counts"] == {"read": 3 + len(bad_numbers), "applied": 3, "duplicate": 0, "rejected": 0,
                              "bad": len(bad_numbers), "transitions": 2, "actions": 2, "closed": 0}
    assert all(b["message"] and b["source"] == str(path) for b in data["bad"])
    text = env["cli"]("run", env["playbook"], str(path))
    assert text.exit_code == 2
    for n in bad_numbers:
        assert f"{path}:{n}: " in text.stdout
    assert "Traceback" not in text.stdout + text.stderr


def test_an_empty_file_and_a_file_of_comments_run_nothing_and_exit_0(env: dict[str, Any]) -> None:
    for name, content in (("empty.jsonl", ""), ("comments.jsonl", "# one\n\n   \n# two\n\t\n")):
        path = env["dir"] / name
        path.write_text(content, encoding="utf-8")
        data = run_json(env, path, code=0)
        assert data["counts"]["read"] == 0 and data["bad"] == []
    assert env["cli"]("cases").stdout.strip() == "no cases"


def test_crlf_line_endings(env: dict[str, Any]) -> None:
    path = jsonl(env["dir"] / "crlf.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"}),
                 "# comment", facts("a", "2", "2026-01-02", lead={"qualified": True}, deal={"budget": 100}),
                 newline="\r\n")
    data = run_json(env, path, code=0)
    assert data["counts"]["applied"] == 2 and status(env, "a")["stage"] == "s2"


def test_a_utf8_bom_at_the_start_of_the_file_is_not_a_bad_line(env: dict[str, Any]) -> None:
    path = env["dir"] / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(facts("a", "1", "2026-01-01", lead={"name": "A"})).encode() + b"\n")
    data = run_json(env, path)
    assert data["bad"] == [] and data["counts"]["applied"] == 1


def test_a_line_that_is_not_utf8_is_a_bad_line_and_the_rest_runs(env: dict[str, Any]) -> None:
    path = env["dir"] / "latin1.jsonl"
    path.write_bytes(b"\n".join([
        json.dumps(facts("a", "1", "2026-01-01", lead={"name": "A"})).encode(),
        b'{"case": "a", "id": "2", "at": "2026-01-01", "facts": {"note": "caf\xe9"}}',
        json.dumps(facts("b", "1", "2026-01-01", lead={"name": "B"})).encode(),
    ]) + b"\n")
    result = env["cli"]("run", env["playbook"], str(path), "--format", "json")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stdout, result  # a summary, with the bad line in it
    data = json.loads(result.stdout)
    assert [b["line"] for b in data["bad"]] == [2] and data["counts"]["applied"] == 2


def test_a_gzip_file_runs_and_a_truncated_one_ends_with_a_bad_line(env: dict[str, Any]) -> None:
    """`.jsonl.gz` is read as `check --input` reads it; a file cut short is one bad line at the
    point where it breaks off, and what came before it is applied."""
    lines = "\n".join(json.dumps(facts(case, "1", "2026-01-01", lead={"name": case})) for case in "abc") + "\n"
    path = env["dir"] / "events.jsonl.gz"
    path.write_bytes(gzip.compress(lines.encode()))
    result = env["cli"]("run", env["playbook"], str(path), "--format", "json")
    assert result.exit_code == 0 and as_json(result)["counts"]["applied"] == 3, result
    many = "".join(json.dumps(facts(f"c{i}", "1", "2026-01-01", lead={"name": "x" * 50})) + "\n"
                   for i in range(2000))
    cut = env["dir"] / "cut.jsonl.gz"
    whole = gzip.compress(many.encode())
    cut.write_bytes(whole[: len(whole) // 2])
    result = env["cli"]("run", env["playbook"], str(cut), "--format", "json")
    data = as_json(result)
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result
    assert data["counts"]["bad"] == 1 and "truncated" in data["bad"][0]["message"]
    assert 0 < data["counts"]["applied"] < 2000


def test_stdin_in_process_and_in_a_real_subprocess(env: dict[str, Any], run_subprocess: Any) -> None:
    text = "\n".join(json.dumps(e) for e in (facts("a", "1", "2026-01-01", lead={"name": "A"}),
                                             facts("b", "1", "2026-01-01", lead={"dead": True}))) + "\n"
    result = env["cli"]("run", env["playbook"], "-", "--format", "json", input=text)
    assert result.exit_code == 0, result
    assert as_json(result)["counts"]["applied"] == 2
    proc = run_subprocess("run", env["playbook"], "-", "--store", env["store"], "--format", "json", input=text)
    assert proc.returncode == 0 and json.loads(proc.stdout)["counts"]["duplicate"] == 2, proc.stderr
    empty = run_subprocess("run", env["playbook"], "-", "--store", env["store"], input="")
    assert empty.returncode == 0 and "0 read" in empty.stdout, empty.stderr


def test_a_huge_facts_payload(env: dict[str, Any]) -> None:
    blob = "长" * 1_000_000
    many = {f"k{i:05d}": i for i in range(20_000)}
    events = jsonl(env["dir"] / "big.jsonl", facts("big", "1", "2026-01-01", lead={"name": "Big", "blob": blob},
                                                   many=many))
    data = run_json(env, events, code=0)
    assert data["counts"]["applied"] == 1
    info = status(env, "big")
    assert info["stage"] == "s1" and info["facts"]["lead"]["blob"] == blob and info["facts"]["many"] == many


@pytest.mark.parametrize("depth", [1020, 5000])
def test_absurdly_deep_facts_are_a_bad_line_not_a_traceback(env: dict[str, Any], depth: int) -> None:
    deep = '{"a":' * depth + "1" + "}" * depth
    path = jsonl(env["dir"] / "deep.jsonl",
                 facts("ok", "1", "2026-01-01", lead={"name": "OK"}),
                 '{"case": "deep", "id": "1", "at": "2026-01-01", "facts": ' + deep + "}",
                 facts("ok2", "1", "2026-01-01", lead={"name": "OK2"}))
    result = env["cli"]("run", env["playbook"], str(path), "--format", "json")
    assert result.exception is None and "Traceback" not in result.stderr, result
    data = json.loads(result.stdout)
    assert data["counts"]["applied"] >= 2  # ok and ok2 at least
    assert data["counts"]["applied"] == 3 or [b["line"] for b in data["bad"]] == [2]


def test_a_lone_surrogate_escape_is_a_bad_line_and_the_rest_runs(env: dict[str, Any]) -> None:
    path = jsonl(env["dir"] / "sur.jsonl",
                 facts("ok", "1", "2026-01-01", lead={"name": "OK"}),
                 '{"case": "s", "id": "1", "at": "2026-01-01", "facts": {"lead": {"name": "x \\ud800 y"}}}',
                 facts("ok2", "1", "2026-01-01", lead={"name": "OK2"}))
    result = env["cli"]("run", env["playbook"], str(path), "--format", "json")
    assert result.exception is None and result.stdout, result
    data = json.loads(result.stdout)
    assert [b["line"] for b in data["bad"]] == [2] and data["counts"]["applied"] == 2


def test_nul_characters_and_astral_escapes_are_kept(env: dict[str, Any]) -> None:
    path = jsonl(env["dir"] / "nul.jsonl",
                 '{"case": "n\\u0000ul", "id": "1", "at": "2026-01-01", "facts": {"lead": {"name": "x\\u0000y"}}}',
                 '{"case": "\\ud83d\\ude80", "id": "1", "at": "2026-01-01", "facts": {"lead": {"name": "rocket"}}}')
    data = run_json(env, path, code=0)
    assert [t["case"] for t in data["transitions"]] == ["n\x00ul", "\U0001f680"]
    assert status(env, "n\x00ul")["facts"]["lead"]["name"] == "x\x00y"


# -- the store ---------------------------------------------------------------------------------


def test_store_locations(env: dict[str, Any], run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    events = jsonl(env["dir"] / "e.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"}))
    deep = env["dir"] / "no" / "such" / "dir" / "s.sqlite"
    assert run_cli("run", env["playbook"], str(events), "--store", str(deep)).exit_code == 0
    assert deep.is_file()
    # PLAYBOOK_STORE, and --store winning over it
    monkeypatch.setenv("PLAYBOOK_STORE", str(deep))
    assert json.loads(run_cli("status", "a", "--format", "json").stdout)["stage"] == "s1"
    assert run_cli("status", "a", "--store", str(env["dir"] / "other.sqlite")).exit_code == 2
    uri = run_cli("status", "a", "--store", f"sqlite:///{deep}", "--format", "json")
    assert uri.exit_code == 0 and json.loads(uri.stdout)["case"] == "a"
    monkeypatch.delenv("PLAYBOOK_STORE")
    # the documented default, under XDG_DATA_HOME (tmp here)
    assert run_cli("run", env["playbook"], str(events)).exit_code == 0
    assert (env["dir"] / "xdg" / "playbook" / "store.sqlite").is_file()


@pytest.mark.parametrize("kind", ["read-only", "directory", "not-sqlite", "random-bytes", "postgresql", "scheme",
                                  "newer-schema"])
def test_an_unusable_store_is_a_clear_error_for_every_command(env: dict[str, Any], run_cli: Any,
                                                             kind: str) -> None:
    tmp = env["dir"]
    if kind == "read-only":
        location = "/proc/playbook-adversarial/store.sqlite"  # not writable, even for root
    elif kind == "directory":
        location = str(tmp)
    elif kind == "not-sqlite":
        (tmp / "notes.txt").write_text("hello\n")
        location = str(tmp / "notes.txt")
    elif kind == "random-bytes":
        (tmp / "junk.bin").write_bytes(bytes(range(256)) * 8)
        location = str(tmp / "junk.bin")
    elif kind == "postgresql":
        location = "postgresql://db/playbook"
    elif kind == "scheme":
        location = "mysql://db/playbook"
    else:
        location = str(tmp / "newer.sqlite")
        with open_store(location):
            pass
        with sqlite3.connect(location) as conn:
            conn.execute("UPDATE schema_version SET version = 999")
    events = jsonl(tmp / "e.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"}))
    for args in (("run", env["playbook"], str(events)), ("status", "a"), ("history", "a"), ("cases",),
                 ("advance", "a", "--to", "s2")):
        result = run_cli(*args, "--store", location)
        assert result.exit_code == 2, (args, result)
        assert result.exception is None and result.stderr.startswith("error: "), (args, result)
    if kind == "not-sqlite":
        assert (tmp / "notes.txt").read_text() == "hello\n"  # never overwritten


def test_a_foreign_sqlite_database_is_refused_not_migrated(env: dict[str, Any], run_cli: Any) -> None:
    foreign = env["dir"] / "crm.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('bob')")
    conn.close()
    result = run_cli("cases", "--store", str(foreign))
    with sqlite3.connect(foreign) as conn:
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert (tables, mode) == (["users"], "delete")
    assert result.exit_code == 2 and "not a usable playbook store" in result.stderr, result


def test_two_playbooks_in_one_store(env: dict[str, Any], write_file: Callable[..., Path]) -> None:
    two = write_file("two.yaml", TWO_STAGES)
    jsonl(env["dir"] / "t.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"}))
    run_json(env, env["dir"] / "t.jsonl", code=0)
    other = jsonl(env["dir"] / "o.jsonl", facts("a", "2", "2026-01-01", x={"ready": True}),
                  facts("b", "1", "2026-01-01"))
    result = env["cli"]("run", str(two), str(other), "--format", "json")
    assert result.exit_code == 1
    data = as_json(result)
    assert data["rejected"][0]["reason"]["code"] == "other_playbook"
    rows = as_json(env["cli"]("cases", "--format", "json", "--today", "2026-01-02"))["cases"]
    assert {r["case"]: r["playbook"] for r in rows} == {"a": "trio", "b": "two-stages"}
    only = as_json(env["cli"]("cases", "--playbook", "two-stages", "--format", "json"))["cases"]
    assert [r["case"] for r in only] == ["b"]
    assert env["cli"]("cases", "--playbook", "nope").stdout.strip() == "no cases"


def test_cases_stay_pinned_when_the_playbook_file_changes_in_place(env: dict[str, Any]) -> None:
    first = jsonl(env["dir"] / "1.jsonl", facts("old", "1", "2026-01-01", lead={"name": "O", "qualified": True}))
    run_json(env, first, code=0)
    # same id, same version, stricter budget: the file is edited in place
    Path(env["playbook"]).write_text(trio_text(budget=1000), encoding="utf-8")
    second = jsonl(env["dir"] / "2.jsonl",
                   facts("old", "2", "2026-01-02", deal={"budget": 500}),
                   facts("new", "1", "2026-01-02", lead={"name": "N", "qualified": True}, deal={"budget": 500}))
    data = run_json(env, second, code=0)
    assert [(t["case"], t["to"]) for t in data["transitions"]] == [("old", "s2"), ("new", "s1")]
    old, new = status(env, "old"), status(env, "new")
    assert old["playbook"]["hash"] != new["playbook"]["hash"]
    assert [b["criterion"] for b in new["blocking"]] == ["budget"]
    # an advance of the old case uses the old snapshot too
    adv = env["cli"]("advance", "new", "--to", "s2", "--format", "json", "--today", "2026-01-02")
    assert adv.exit_code == 1 and as_json(adv)["reason"]["params"]["criteria"] == "budget"


def test_pinned_to_an_installed_playbook_and_status_shows_the_newer_version(tmp_path: Path, run_cli: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    plugdir = tmp_path / "plug"
    plugdir.mkdir()
    (plugdir / "adv_pin_plugin.py").write_text(PLUGIN, encoding="utf-8")
    (plugdir / "plugged.yaml").write_text(PLUGGED.format(version=1), encoding="utf-8")
    monkeypatch.syspath_prepend(str(plugdir))
    store = str(tmp_path / "s.sqlite")
    events = jsonl(tmp_path / "e.jsonl", facts("p", "1", "2026-01-01", deal={"name": "P", "amount": 1}))
    result = run_cli("-p", "adv_pin_plugin", "run", "plugged", str(events), "--store", store)
    assert result.exit_code == 0, result
    (plugdir / "plugged.yaml").write_text(PLUGGED.format(version=2), encoding="utf-8")
    text = run_cli("-p", "adv_pin_plugin", "status", "p", "--store", store).stdout
    assert "Playbook: plugged v1 — Plugged (pinned; installed version is 2)" in text
    more = jsonl(tmp_path / "m.jsonl", facts("p", "2", "2026-01-02", deal={"amount": 50}),
                 facts("q", "1", "2026-01-02", deal={"name": "Q"}))
    data = json.loads(run_cli("-p", "adv_pin_plugin", "run", "plugged", str(more), "--store", store,
                              "--format", "json").stdout)
    assert data["playbook"] == {"id": "plugged", "version": 2}
    rows = json.loads(run_cli("-p", "adv_pin_plugin", "cases", "--store", store, "--format", "json").stdout)["cases"]
    assert {r["case"]: (r["version"], r["stage"]) for r in rows} == {"p": (1, "b"), "q": (2, "a")}
    # without the plugin the pinned playbook no longer compiles: a clear error, exit 2
    missing = run_cli("status", "p", "--store", store)
    assert missing.exit_code == 2 and "no longer compiles" in missing.stderr and missing.exception is None


def test_cases_lists_the_other_cases_when_one_pinned_playbook_no_longer_compiles(
        tmp_path: Path, env: dict[str, Any], run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plugdir = tmp_path / "plug"
    plugdir.mkdir()
    (plugdir / "adv_pin_plugin2.py").write_text(PLUGIN, encoding="utf-8")
    (plugdir / "plugged.yaml").write_text(PLUGGED.format(version=1), encoding="utf-8")
    monkeypatch.syspath_prepend(str(plugdir))
    plugged = jsonl(tmp_path / "p.jsonl", facts("p", "1", "2026-01-01", deal={"name": "P"}))
    assert run_cli("-p", "adv_pin_plugin2", "run", "plugged", str(plugged), "--store", env["store"]).exit_code == 0
    run_json(env, jsonl(tmp_path / "t.jsonl", facts("t", "1", "2026-01-01", lead={"name": "T"})), code=0)
    result = env["cli"]("cases", "--format", "json")  # without the plugin
    assert result.stdout, result
    rows = {r["case"]: r for r in json.loads(result.stdout)["cases"]}
    assert "error" not in rows["t"] and rows["p"]["stalled"] is None and "no longer compiles" in rows["p"]["error"]
    assert result.exit_code == 2 and "warning: p:" in result.stderr  # listed, but one case could not be checked
    text = env["cli"]("cases")
    assert "t  " in text.stdout and "cannot be checked here" in text.stdout and text.exit_code == 2


# -- exit codes and error messages -------------------------------------------------------------


def test_run_exit_codes(env: dict[str, Any]) -> None:
    ok = jsonl(env["dir"] / "ok.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"}))
    assert env["cli"]("run", env["playbook"], str(ok)).exit_code == 0
    assert env["cli"]("run", env["playbook"], str(ok)).exit_code == 0  # already applied
    rejected = jsonl(env["dir"] / "rej.jsonl", {"case": "a", "id": "2", "type": "advance", "to": "s3"})
    assert env["cli"]("run", env["playbook"], str(rejected)).exit_code == 1
    both = jsonl(env["dir"] / "both.jsonl", {"case": "a", "id": "3", "type": "advance", "to": "s3"}, "{bad")
    assert env["cli"]("run", env["playbook"], str(both)).exit_code == 2  # bad input wins
    for args in (("run", env["playbook"], str(env["dir"] / "missing.jsonl")),
                 ("run", str(env["dir"] / "missing.yaml"), str(ok)),
                 ("run", "no-such-installed-playbook", str(ok)),
                 ("run", env["playbook"], str(ok), "--today", "2026-02-30"),
                 ("run", env["playbook"], str(ok), "--commit-every", "0"),
                 ("run", env["playbook"], str(ok), "--format", "xml"),
                 ("run", env["playbook"], str(env["dir"]))):
        result = env["cli"](*args)
        assert result.exit_code == 2 and result.exception is None, (args, result)
        assert "Traceback" not in result.stderr and result.stderr.strip(), (args, result)


def test_an_invalid_playbook_is_a_clear_error(env: dict[str, Any], write_file: Callable[..., Path]) -> None:
    ok = jsonl(env["dir"] / "ok.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"}))
    for name, text in (("yaml.yaml", "id: [\n"), ("schema.yaml", "id: x\nversion: 1\n"),
                       ("expr.yaml", ONE_STAGE.replace("max_days: 3", 'exit: [{id: e, title: E, when: "x ==="}]'))):
        result = env["cli"]("run", str(write_file(name, text)), str(ok))
        assert result.exit_code == 2 and result.exception is None, (name, result)
        assert result.stderr.startswith("error: ") and name in result.stderr, (name, result)
    assert not Path(env["store"]).exists() or env["cli"]("cases").stdout.strip() == "no cases"


def test_advance_exit_codes(env: dict[str, Any]) -> None:
    run_json(env, jsonl(env["dir"] / "e.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"})), code=0)
    cli = env["cli"]
    assert cli("advance", "a", "--to", "s2").exit_code == 1  # blocked
    waived = cli("advance", "a", "--to", "s2", "--waive", "qualified", "--waive", "budget", "--reason", "r",
                 "--approver", "Li", "--until", "2099-12-31")
    assert waived.exit_code == 0 and "a: s1 -> s2 (waived: qualified, budget)" in waived.stdout, waived
    assert cli("advance", "a", "--to", "s2").exit_code == 0  # already there
    for args, needle in ((("advance", "ghost", "--to", "s2"), "unknown case 'ghost'"),
                         (("advance", "a", "--to", "mars"), "unknown stage 'mars'"),
                         (("advance", "a", "--to", "s1"), "needs --reason"),
                         (("advance", "a", "--to", "s3", "--waive", "signed"), "--waive needs"),
                         (("advance", "a", "--to", "s3", "--waive", "signed", "--reason", "r", "--approver", "x",
                           "--until", "31/12/2099"), "Invalid value"),
                         (("advance", "a"), "Missing option")):
        result = cli(*args)
        assert result.exit_code == 2 and needle in result.stderr and result.exception is None, (args, result)
    # a waiver the playbook does not allow: recorded as a rejection, exit 1
    for crit, code in (("bonus", "not_required"), ("nope", "unknown_criterion")):
        result = cli("advance", "a", "--to", "s3", "--waive", crit, "--reason", "r", "--approver", "x",
                     "--until", "2099-12-31", "--format", "json")
        assert result.exit_code == 1 and as_json(result)["reason"]["code"] == code, result
    expired = cli("advance", "a", "--to", "s3", "--waive", "signed", "--waive", "proposal", "--reason", "r",
                  "--approver", "x", "--until", "2000-01-01", "--format", "json")
    assert expired.exit_code == 1 and as_json(expired)["reason"]["code"] == "waiver_expired"


def test_status_history_cases_exit_codes(env: dict[str, Any], run_subprocess: Any) -> None:
    cli = env["cli"]
    missing = cli("cases")  # --store names a file that does not exist: an error, and no store is made
    assert missing.exit_code == 2 and "no store at" in missing.stderr and not Path(env["store"]).exists()
    empty = env["dir"] / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert cli("run", env["playbook"], str(empty)).exit_code == 0  # run creates the store
    assert cli("cases").exit_code == 0 and cli("cases").stdout.strip() == "no cases"
    assert as_json(cli("cases", "--format", "json"))["cases"] == []
    for args in (("status", "ghost"), ("history", "ghost"), ("status", "x", "--today", "soon"),
                 ("cases", "--format", "yaml"), ("history",)):
        result = cli(*args)
        assert result.exit_code == 2 and result.exception is None and result.stderr.strip(), (args, result)
    proc = run_subprocess("history", "ghost", "--store", env["store"])
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown case 'ghost'"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_real_subprocesses_exit_codes_and_no_tracebacks(env: dict[str, Any], run_subprocess: Any) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A"}),
                   {"case": "a", "id": "2", "type": "advance", "to": "s3", "at": "2026-01-02"},
                   "{oops")
    proc = run_subprocess("run", env["playbook"], str(events), "--store", env["store"], "--lang", "zh")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "事件：读取 3，执行 1" in proc.stdout and f"{events}:3:" in proc.stdout
    adv = run_subprocess("advance", "a", "--to", "s3", "--store", env["store"], "--format", "json")
    assert adv.returncode == 1 and json.loads(adv.stdout)["status"] == "rejected", adv.stderr


# -- --lang zh and --format json ---------------------------------------------------------------


def test_every_command_speaks_chinese_and_json(env: dict[str, Any]) -> None:
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "甲"}),
                   {"case": "a", "id": "2", "type": "advance", "to": "s3", "at": "2026-01-02"},
                   facts("z", "1", "2026-01-01", lead={"name": "Z"}, deal={"lost": True}))
    cli = env["cli"]
    run = cli("run", env["playbook"], str(events), "--lang", "zh")
    assert run.exit_code == 1
    assert "打法: trio v1 — 三段" in run.stdout and "阶段转换" in run.stdout and "被拒绝的事件" in run.stdout
    assert "进一" in run.stdout and "结束：lost" in run.stdout and "无法推进到 s3" in run.stdout
    st = cli("status", "a", "--lang", "zh", "--today", "2026-01-10").stdout
    assert "案例: a" in st and "阶段: s1 — 一" in st and "停滞" in st and "卡住关口的条件" in st and "确认资格" in st
    hist = cli("history", "a", "--lang", "zh").stdout
    assert "（未进入） -> s1" in hist and "进一" in hist and "无法推进到 s3" in hist
    cases = cli("cases", "--lang", "zh", "--today", "2026-01-10").stdout
    assert "a  trio@1  s1 9d/2d 停滞" in cases and "[结束：lost]" in cases
    adv = cli("advance", "a", "--to", "s2", "--lang", "zh")
    assert adv.exit_code == 1 and adv.stdout.startswith("已拒绝：无法推进到 s2")
    # JSON: the same facts in both languages, texts in the language asked for
    for lang in ("en", "zh"):
        for args in (("status", "a"), ("history", "a"), ("cases",), ("advance", "a", "--to", "s1")):
            result = cli(*args, "--format", "json", "--lang", lang)
            assert result.exit_code == 0, (args, result)
            as_json(result)
    zh_status = as_json(cli("status", "a", "--format", "json", "--lang", "zh"))
    assert zh_status["stage_title"] == "一" and zh_status["blocking"][0]["hint"] == "确认资格"
    zh_adv = as_json(cli("advance", "a", "--to", "s3", "--format", "json", "--lang", "zh"))
    assert zh_adv["reason"]["message"].startswith("无法推进到 s3")


def test_chinese_output_has_no_english_labels(env: dict[str, Any]) -> None:
    waive = [{"criterion": "qualified", "reason": "r", "approver": "Li", "until": "2026-12-31"}]
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "甲"}, deal={"budget": 100}),
                   {"case": "a", "id": "2", "type": "advance", "to": "s2", "at": "2026-01-02", "waive": waive},
                   {"case": "a", "id": "3", "type": "advance", "to": "s3", "at": "2026-01-03"})
    run = env["cli"]("run", env["playbook"], str(events), "--lang", "zh").stdout
    hist = env["cli"]("history", "a", "--lang", "zh").stdout
    for english in ("line 3", "waived:", "gate passed"):
        assert english not in run + hist, english


# -- bugs in the advance command ---------------------------------------------------------------


def test_retrying_a_rejected_advance_with_the_same_id_does_not_report_success(env: dict[str, Any]) -> None:
    run_json(env, jsonl(env["dir"] / "e.jsonl", facts("a", "1", "2026-01-01", lead={"name": "A"})), code=0)
    first = env["cli"]("advance", "a", "--to", "s2", "--id", "adv-1", "--today", "2026-01-02")
    assert first.exit_code == 1
    retry = env["cli"]("advance", "a", "--to", "s2", "--id", "adv-1", "--today", "2026-01-02")
    assert status(env, "a")["stage"] == "s1"
    assert retry.exit_code != 0 and "already applied" not in retry.stdout, retry


def _zone_off_utc() -> tuple[str, dt.date, dt.date]:
    """A POSIX TZ whose date differs from the UTC date right now: (TZ, local date, UTC date)."""
    now = dt.datetime.now(dt.timezone.utc)
    offset = dt.timedelta(hours=-12) if now.hour < 12 else dt.timedelta(hours=13)
    tz = "XXX+12" if now.hour < 12 else "XXX-13"  # POSIX signs are inverted
    return tz, (now + offset).date(), now.date()


def test_advance_evaluates_waivers_as_of_the_local_date_like_status(env: dict[str, Any],
                                                                   run_subprocess: Any) -> None:
    run_json(env, jsonl(env["dir"] / "e.jsonl", facts("t", "1", "2026-01-01", lead={"name": "T"})), code=0)
    tz, local, utc = _zone_off_utc()
    assert local != utc
    # west of UTC: a waiver until (local) today must hold; east: one until (local) yesterday must not
    until = local if local < utc else utc
    proc = run_subprocess("advance", "t", "--to", "s2", "--waive", "qualified", "--waive", "budget",
                          "--reason", "r", "--approver", "a", "--until", until.isoformat(),
                          "--store", env["store"], env={"TZ": tz})
    expected = 0 if local < utc else 1
    assert proc.returncode == expected, (tz, local, utc, proc.stdout, proc.stderr)


# -- status --------------------------------------------------------------------------------------


def test_status_does_not_call_a_validly_waived_gate_regressed(env: dict[str, Any]) -> None:
    waive = [{"criterion": c, "reason": "r", "approver": "Li", "until": "2026-12-31"} for c in ("qualified", "budget")]
    events = jsonl(env["dir"] / "e.jsonl",
                   facts("a", "1", "2026-01-01", lead={"name": "A"}),
                   {"case": "a", "id": "2", "type": "advance", "to": "s2", "at": "2026-01-02", "waive": waive})
    run_json(env, events, code=0)
    info = status(env, "a", today="2026-01-03")
    assert info["stage"] == "s2" and sorted(info["waived"]) == ["budget", "qualified"]
    assert info["regressed"] == []


def test_interleaved_cases_in_one_stream_leave_no_live_session(env: dict[str, Any]) -> None:
    """Cases interleaved event by event (the kept session is never the next event's case)."""
    events = [facts(f"c{i}", "1", "2026-01-01", lead={"name": str(i)}) for i in range(40)]
    events += [facts(f"c{i}", "2", "2026-01-02", lead={"qualified": True}, deal={"budget": 100}) for i in range(40)]
    data = run_json(env, jsonl(env["dir"] / "e.jsonl", *events), code=0)
    assert data["counts"]["applied"] == 80 and data["counts"]["transitions"] == 80
    assert flow.live_sessions() == 0
    assert {r["stage"] for r in as_json(env["cli"]("cases", "--format", "json"))["cases"]} == {"s2"}
