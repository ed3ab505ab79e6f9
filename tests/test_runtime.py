"""Run mode's runtime: events, waivers over the evaluator's result, the durable_rules adapter
and the runner -- all against real durable_rules and a real SQLite store."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from playbook.engine import evaluate
from playbook.errors import PlaybookError
from playbook.runtime import flow
from playbook.runtime.events import BadLine, Event, event_from_mapping, merge_facts, read_events
from playbook.runtime.flow import Chart, Hooks, RunModeError, Step
from playbook.runtime.gates import Gates, valid_waivers
from playbook.runtime.runner import Runner
from playbook.runtime.snapshot import snapshot_of
from playbook.store import open_store
from playbook.store.base import Waiver

MINI = """
id: mini-run
version: {version}
title: {{zh: 小流程, en: Mini run}}
stages:
  - id: qualify
    title: {{zh: 资格, en: Qualify}}
    max_days: 10
    entry:
      - id: has-account
        title: {{zh: 有客户, en: Has account}}
        when: "exists(account.name)"
    exit:
      - id: budget
        title: {{zh: 预算, en: Budget}}
        when: "opportunity.budget >= {budget}"
        hint: {{zh: 确认预算, en: Confirm the budget}}
      - id: champion
        title: {{zh: 支持者, en: Champion}}
        level: recommended
        when: "opportunity.champion == true"
    actions:
      - id: greet
        title: {{zh: 打招呼, en: Say hello}}
        on: enter
        do: task
        with: {{text: {{zh: 拜访, en: Visit the account}}}}
      - id: handover
        title: {{zh: 交接, en: Hand over}}
        on: exit
        do: task
        with: {{text: {{zh: 交接, en: Hand over to presales}}}}
  - id: propose
    title: {{zh: 方案, en: Propose}}
    max_days: 5
    entry:
      - id: need-known
        title: {{zh: 需求明确, en: Need known}}
        when: "opportunity.need == true"
    exit:
      - id: proposal-sent
        title: {{zh: 方案已发, en: Proposal sent}}
        when: "opportunity.proposal == true"
    actions:
      - id: write-proposal
        title: {{zh: 写方案, en: Write the proposal}}
        on: enter
        do: task
        with: {{text: {{zh: 写方案, en: Write it}}}}
  - id: close
    title: {{zh: 成交, en: Close}}
    entry:
      - id: accepted
        title: {{zh: 已接受, en: Accepted}}
        when: "opportunity.accepted == true"
outcomes:
  - id: lost
    kind: lost
    title: {{zh: 丢单, en: Lost}}
    when: "opportunity.status == 'lost'"
"""


def mini(version: int = 1, budget: int = 100) -> str:
    return MINI.format(version=version, budget=budget)


@pytest.fixture
def pb(load_yaml: Callable[..., Any]) -> Any:
    return load_yaml(mini())


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(str(tmp_path / "store.sqlite")) as s:
        yield s


def ev(case: str, eid: str, etype: str = "facts", **fields: Any) -> Event:
    return event_from_mapping({"case": case, "id": eid, "type": etype, "at": "2026-03-01", **fields})


# -- events ------------------------------------------------------------------------------------


def test_bad_lines_are_reported_with_their_number_and_the_rest_parses() -> None:
    lines = [
        '{"case": "a", "id": "1", "type": "facts", "facts": {"x": 1}}',
        "",
        "# a comment",
        "{not json",
        '{"case": "a", "id": "2", "type": "teleport"}',
        '{"case": "a", "type": "facts", "facts": {}}',
        '{"case": "a", "id": "3", "type": "facts", "facts": {"stage": "close"}}',
        '{"case": "a", "id": "4", "type": "facts", "facts": {}, "colour": "red"}',
        '{"case": "a", "id": "5", "type": "waive", "waive": {"criterion": "c", "reason": "r", "approver": "b"}}',
        '{"case": "a", "id": "6", "at": "yesterday", "facts": {}}',
        '[1, 2]',
        '{"case": "a", "id": "7", "type": "advance", "to": "propose", "waive": [{"criterion": "budget", '
        '"reason": "r", "approver": "b", "until": "2026-12-31"}]}',
    ]
    items = list(read_events(lines, "ev.jsonl"))
    bad = {i.line: i.message for i in items if isinstance(i, BadLine)}
    good = [i for i in items if not isinstance(i, BadLine)]
    assert [e.id for e in good] == ["1", "7"] and good[0].line == 1 and good[1].line == 12
    assert good[1].waive[0].until == "2026-12-31"
    assert set(bad) == {4, 5, 6, 7, 8, 9, 10, 11}
    assert "not valid JSON" in bad[4]
    assert "unknown event type 'teleport'" in bad[5]
    assert "`id` is required" in bad[6]
    assert "may not set stage" in bad[7]
    assert "unknown field(s)" in bad[8] and "colour" in bad[8]
    assert "`until` must be a date" in bad[9]
    assert "`at` must be an ISO date" in bad[10]
    assert "JSON object" in bad[11]
    assert str(items[1]).startswith("ev.jsonl:4: not valid JSON")


def test_facts_merge_as_json_merge_patch() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1, "keep": True}
    patch = {"a": {"b": 2, "c": [3]}, "d": None, "e": {"f": 1}}
    assert merge_facts(base, patch) == {"a": {"b": 2, "c": [3]}, "keep": True, "e": {"f": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1, "keep": True}  # not modified


# -- gates and waivers -------------------------------------------------------------------------


def test_gates_without_waivers_agree_with_the_evaluator(pb: Any) -> None:
    for facts in ({}, {"account": {"name": "A"}}, {"account": {"name": "A"}, "opportunity": {"budget": 500}},
                  {"account": {"name": "A"}, "opportunity": {"budget": 500, "need": True, "proposal": True}},
                  {"account": {"name": "A"}, "opportunity": {"budget": 5, "need": True, "proposal": True,
                                                             "accepted": True}}):
        result = evaluate(pb, facts, today=dt.date(2026, 3, 1))
        gates = Gates.of(result)
        assert gates.reach(None) == (result.inferred if result.entered else None), facts
        assert gates.ready(result.current) == result.ready, facts


def test_a_valid_waiver_counts_as_passed_and_an_expired_one_does_not(pb: Any) -> None:
    facts = {"account": {"name": "A"}, "opportunity": {"budget": 5, "need": True}}
    result = evaluate(pb, facts, today=dt.date(2026, 3, 1))
    waiver = Waiver(criterion="budget", reason="strategic", approver="boss", until="2026-03-01")
    recommended = Waiver(criterion="champion", reason="x", approver="boss", until="2026-12-31")
    assert Gates.of(result).reach(None) == 0
    gates = Gates.of(result, valid_waivers([waiver, recommended], dt.date(2026, 3, 1)))
    assert gates.reach(None) == 1 and [pb.criteria[i].id for i in gates.waived] == ["budget"]
    assert Gates.of(result, valid_waivers([waiver], dt.date(2026, 3, 2))).reach(None) == 0
    assert result.passed[pb.criterion("budget").index] is False  # the evaluator's result is untouched


# -- the durable_rules adapter -------------------------------------------------------------------


class Recording(Hooks):
    def __init__(self, fail_on: str | None = None):
        self.seen: list[tuple[str, str | None, str]] = []
        self.fail_on = fail_on

    def entered(self, stage: str, from_stage: str | None, via: str) -> None:
        if stage == self.fail_on:
            raise ValueError(f"action blew up in {stage}")
        self.seen.append((stage, from_stage, via))

    def closed(self, outcome: str, from_stage: str | None) -> None:
        self.seen.append(("$end:" + outcome, from_stage, "outcome"))


def test_the_flowchart_moves_a_case_and_releases_its_session(pb: Any) -> None:
    chart = Chart.for_playbook(pb, snapshot_of(pb).hash)
    assert Chart.for_playbook(pb, snapshot_of(pb).hash) is chart  # registered once per process
    hooks = Recording()
    chart.drive("qualify", [Step("propose"), Step("close"), Step("lost", close=True)], hooks)
    assert hooks.seen == [("propose", "qualify", "gate"), ("close", "propose", "gate"), ("$end:lost", "close", "outcome")]
    assert flow.live_sessions() == 0


def test_exceptions_swallowed_by_durable_rules_are_raised_as_ours(pb: Any) -> None:
    chart = Chart.for_playbook(pb, snapshot_of(pb).hash)
    with pytest.raises(RunModeError, match="action blew up in propose"):
        chart.drive("qualify", [Step("propose")], Recording(fail_on="propose"))
    assert flow.live_sessions() == 0
    hooks = Recording()  # the host still works afterwards
    chart.drive(None, [Step("qualify")], hooks)
    assert hooks.seen == [("qualify", None, "gate")]


def test_a_move_the_flowchart_cannot_make_is_an_error_not_a_queued_message(pb: Any) -> None:
    chart = Chart.for_playbook(pb, snapshot_of(pb).hash)
    hooks = Recording()
    with pytest.raises(RunModeError, match="has no move from 'propose' to 'propose'"):
        chart.drive("propose", [Step("propose")], hooks)  # no transition from a stage to itself
    # the session was discarded: the next drive starts clean and the stale message never fires
    chart.drive("qualify", [Step("propose")], hooks)
    assert hooks.seen == [("propose", "qualify", "gate")]


def test_the_flowchart_has_only_the_moves_the_playbook_has(load_yaml: Callable[..., Any]) -> None:
    """Forward one stage at a time, back only as a back move, an outcome only where it is open:
    durable_rules itself refuses anything else (the evaluator never asks for it)."""
    limited = load_yaml(mini().replace("    kind: lost\n", "    kind: lost\n    from: [propose]\n"))
    chart = Chart.for_playbook(limited, snapshot_of(limited).hash)
    hooks = Recording()
    for start, steps, error in [
            ("qualify", [Step("close")], "no move from 'qualify' to 'close'"),  # skips propose
            (None, [Step("propose")], "no move from '\\$new' to 'propose'"),  # a new case enters the first stage
            ("close", [Step("qualify")], "no move from 'close' to 'qualify'"),  # backwards, not as a back move
            ("qualify", [Step("close", via="back")], "no back move"),
            ("close", [Step("lost", close=True)], "'lost' is not open in stage 'close'"),
            ("nowhere", [Step("propose")], "no stage 'nowhere'")]:
        with pytest.raises(RunModeError, match=error):
            chart.drive(start, steps, hooks)
        assert flow.live_sessions() == 0
    chart.drive("close", [Step("qualify", via="back")], hooks)
    chart.drive("qualify", [Step("propose"), Step("lost", close=True)], hooks)
    assert hooks.seen == [("qualify", "close", "back"), ("propose", "qualify", "gate"),
                          ("$end:lost", "propose", "outcome")]


def test_more_sessions_than_the_durable_rules_cap_in_one_process(pb: Any) -> None:
    chart = Chart.for_playbook(pb, snapshot_of(pb).hash)
    hooks = Recording()
    for _ in range(1500):  # durable_rules caps a ruleset at 1024 live sessions
        chart.drive("qualify", [Step("propose")], hooks)
    assert len(hooks.seen) == 1500 and flow.live_sessions() == 0


# -- the runner ----------------------------------------------------------------------------------


def test_facts_advance_the_case_through_open_gates_firing_actions(pb: Any, store: Any, registry: Any) -> None:
    runner = Runner(store, registry, playbook=pb)
    out = runner.apply(ev("acme", "e1", facts={"account": {"name": "Acme"}}))
    assert (out.status, out.stage_before, out.stage_after) == ("applied", None, "qualify")
    assert [a["id"] for a in out.actions] == ["greet"]
    out = runner.apply(ev("acme", "e2", facts={"opportunity": {"budget": 200, "need": True}}))
    assert out.stage_after == "propose"
    assert [(a["stage"], a["on"], a["id"]) for a in out.actions] == [
        ("qualify", "exit", "handover"), ("propose", "enter", "write-proposal")]
    # kept (and stored) in every language, shown in one
    assert out.actions[1]["output"] == {"text": {"zh": "写方案", "en": "Write it"}}
    assert out.actions[1]["title"] == {"zh": "写方案", "en": "Write the proposal"}
    assert out.to_dict("en")["actions"][1] == {"stage": "propose", "id": "write-proposal", "do": "task",
                                              "on": "enter", "title": "Write the proposal",
                                              "output": {"text": "Write it"}}
    assert out.to_dict("zh")["actions"][1]["output"] == {"text": "写方案"}
    assert [e.data for e in store.history("acme") if e.kind == "action"][-1]["output"] == out.actions[1]["output"]
    out = runner.apply(ev("acme", "e3", facts={"opportunity": {"proposal": True}}))
    assert out.stage_after == "propose" and out.transitions == []  # close's entry gate still shut
    case = store.get_case("acme")
    assert case.facts == {"account": {"name": "Acme"}, "opportunity": {"budget": 200, "need": True, "proposal": True}}
    assert case.stage == "propose" and case.events == 3
    kinds = [e.kind for e in store.history("acme")]
    assert kinds == ["case-started", "event", "transition", "action", "event", "transition", "action", "action", "event"]
    transition = [e for e in store.history("acme") if e.kind == "transition"][1]
    assert (transition.from_stage, transition.to_stage, transition.at, transition.reason) == (
        "qualify", "propose", "2026-03-01", "gate passed")


def test_the_same_event_twice_changes_nothing(pb: Any, store: Any, registry: Any) -> None:
    runner = Runner(store, registry, playbook=pb)
    event = ev("acme", "e1", facts={"account": {"name": "Acme"}})
    assert runner.apply(event).status == "applied"
    log_before = [e.to_dict() for e in store.history("acme")]
    assert runner.apply(event).status == "duplicate"
    assert [e.to_dict() for e in store.history("acme")] == log_before and store.get_case("acme").events == 1


def test_an_event_for_another_stage_is_rejected_recorded_and_never_fires_later(pb: Any, store: Any,
                                                                               registry: Any) -> None:
    runner = Runner(store, registry, playbook=pb)
    runner.apply(ev("acme", "e1", facts={"account": {"name": "Acme"}}))
    out = runner.apply(ev("acme", "e2", stage="propose", facts={"opportunity": {"budget": 500, "need": True}}))
    assert out.status == "rejected" and out.reason.code == "wrong_stage"
    assert "the case is in qualify" in out.reason.text("en")
    blocked = runner.apply(ev("acme", "e3", "advance", to="close"))
    assert blocked.status == "rejected" and blocked.reason.code == "blocked"
    assert "budget" in blocked.reason.params["criteria"]
    case = store.get_case("acme")
    assert case.stage == "qualify" and "opportunity" not in case.facts
    # the rejected advance to `close` must not fire once the gates open: only open gates move
    out = runner.apply(ev("acme", "e4", facts={"opportunity": {"budget": 500, "need": True}}))
    assert out.stage_after == "propose"
    rejected = [e for e in store.history("acme") if e.kind == "rejected"]
    assert [(e.event_id, e.data["code"]) for e in rejected] == [("e2", "wrong_stage"), ("e3", "blocked")]
    assert store.has_event("acme", "e2")  # recorded: re-running it stays a no-op


def test_advance_with_a_waiver_back_moves_and_their_rules(pb: Any, store: Any, registry: Any) -> None:
    runner = Runner(store, registry, playbook=pb)
    runner.apply(ev("acme", "e1", facts={"account": {"name": "Acme"}, "opportunity": {"need": True}}))
    waiver = {"criterion": "budget", "reason": "strategic logo", "approver": "director", "until": "2026-06-30"}
    out = runner.apply(ev("acme", "e2", "advance", to="propose", actor="wang", waive=[waiver], reason="go"))
    assert out.status == "applied" and out.stage_after == "propose"
    assert out.transitions[0]["via"] == "manual" and out.transitions[0]["waived"] == ["budget"]
    assert [w.approver for w in store.waivers("acme")] == ["director"]
    bad = {"criterion": "champion", "reason": "x", "approver": "y", "until": "2026-06-30"}
    assert runner.apply(ev("acme", "e3", "waive", waive=bad)).reason.code == "not_required"
    gone = {"criterion": "nope", "reason": "x", "approver": "y", "until": "2026-06-30"}
    assert runner.apply(ev("acme", "e4", "waive", waive=gone)).reason.code == "unknown_criterion"
    old = {"criterion": "budget", "reason": "x", "approver": "y", "until": "2026-01-01"}
    assert runner.apply(ev("acme", "e5", "waive", waive=old)).reason.code == "waiver_expired"
    assert runner.apply(ev("acme", "e6", "advance", to="qualify")).reason.code == "back_needs_reason"
    back = runner.apply(ev("acme", "e7", "advance", to="qualify", reason="customer re-opened the budget"))
    assert back.stage_after == "qualify" and back.transitions[0]["via"] == "back"
    assert [a["id"] for a in back.actions] == ["greet"]  # entering again; no exit actions when moving back
    t = [e for e in store.history("acme") if e.kind == "transition"][-1]
    assert (t.from_stage, t.to_stage, t.reason) == ("propose", "qualify", "customer re-opened the budget")
    # the waiver still holds, so the next facts event goes through the budget gate again
    assert runner.apply(ev("acme", "e8", facts={"note": 1})).stage_after == "propose"


def test_an_outcome_closes_the_case_and_later_events_are_rejected(pb: Any, store: Any, registry: Any) -> None:
    runner = Runner(store, registry, playbook=pb)
    out = runner.apply(ev("acme", "e1", facts={"account": {"name": "A"}, "opportunity": {"status": "lost"}}))
    assert out.outcome == "lost" and out.transitions[-1] == {"from": "qualify", "to": None, "via": "outcome",
                                                             "outcome": "lost", "waived": [], "at": "2026-03-01"}
    case = store.get_case("acme")
    assert (case.status, case.outcome, case.stage) == ("closed", "lost", "qualify")
    logged = [(e.from_stage, e.to_stage, e.reason) for e in store.history("acme") if e.kind == "transition"]
    assert logged == [(None, "qualify", "gate passed"), ("qualify", None, "outcome reached")]
    out = runner.apply(ev("acme", "e2", facts={"opportunity": {"status": "open"}}))
    assert out.status == "rejected" and out.reason.code == "closed"


def test_cases_stay_pinned_to_the_playbook_version_they_started_on(write_file: Callable[..., Path],
                                                                   store: Any, registry: Any) -> None:
    from playbook.loader import load_playbook

    v1 = load_playbook(write_file("mini.yaml", mini(1, budget=100)), registry=registry)
    Runner(store, registry, playbook=v1).apply(ev("old", "e1", facts={"account": {"name": "A"}}))
    v2 = load_playbook(write_file("mini2.yaml", mini(2, budget=1000)), registry=registry)
    runner = Runner(store, registry, playbook=v2)
    budget = {"opportunity": {"budget": 500, "need": True}}
    assert runner.apply(ev("old", "e2", facts=budget)).stage_after == "propose"  # v1: budget >= 100
    runner.apply(ev("new", "e1", facts={"account": {"name": "B"}}))
    assert runner.apply(ev("new", "e2", facts=budget)).stage_after == "qualify"  # v2: budget >= 1000
    assert (store.get_case("old").playbook_version, store.get_case("new").playbook_version) == (1, 2)
    # a fresh process (empty caches) compiles the pinned version from the stored snapshot
    fresh = Runner(store, registry)
    assert fresh.cache.get(store.get_case("old").playbook_hash, store).version == 1


def test_another_playbook_and_unknown_cases_are_rejected(pb: Any, store: Any, registry: Any,
                                                        load_yaml: Callable[..., Any]) -> None:
    Runner(store, registry, playbook=pb).apply(ev("acme", "e1", facts={"account": {"name": "A"}}))
    other = load_yaml(mini().replace("id: mini-run", "id: other-run"), name="other.yaml")
    out = Runner(store, registry, playbook=other).apply(ev("acme", "e2", facts={}))
    assert out.reason.code == "other_playbook"
    assert Runner(store, registry).apply(ev("ghost", "e1", facts={})).reason.code == "unknown_case"


def test_durable_rules_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(flow, "_durable", None)
    monkeypatch.setitem(sys.modules, "durable", None)  # what an import failure (Python 3.13) looks like
    with pytest.raises(PlaybookError, match="run mode needs durable_rules") as info:
        flow.load_durable()
    assert "3.13" in str(info.value)


def test_event_payload_round_trips() -> None:
    raw = {"case": "a", "id": "1", "type": "advance", "to": "x", "at": "2026-03-01T10:00:00+08:00",
           "waive": [{"criterion": "c", "reason": "r", "approver": "b", "until": "2026-12-31"}]}
    event = event_from_mapping(raw)
    assert event_from_mapping(json.loads(json.dumps(event.payload()))).payload() == event.payload()
    assert event.date == dt.date(2026, 3, 1)


# -- batched posts and kept sessions (performance work, guarantees unchanged) -------------------


def test_a_batch_fires_in_its_one_possible_order_whatever_order_it_is_posted_in(pb: Any) -> None:
    chart = Chart.for_playbook(pb, snapshot_of(pb).hash)
    messages, expect = chart.messages("qualify", [Step("propose"), Step("close"), Step("lost", close=True)])
    assert expect == ["qualify", "propose", "close", "$end:lost"]
    host = flow._get_host()
    for order in (messages, list(reversed(messages))):
        hooks = Recording()
        sid = f"order-{len(order)}-{order[0]['kind']}"
        flow._active[sid] = flow._Drive(hooks)
        try:
            state = host.post_batch(chart.name, [{**m, "sid": sid, "id": f"{sid}.{i}"} for i, m in enumerate(order)])
        finally:
            del flow._active[sid]
            host.delete_state(chart.name, sid)
        assert state["stage"] == "$end:lost"
        assert hooks.seen == [("propose", "qualify", "gate"), ("close", "propose", "gate"),
                              ("$end:lost", "close", "outcome")]


def test_a_move_names_the_stage_it_leaves_and_fires_in_no_other(pb: Any) -> None:
    chart = Chart.for_playbook(pb, snapshot_of(pb).hash)
    host, hooks, sid = flow._get_host(), Recording(), "wrong-frm"
    flow._active[sid] = flow._Drive(hooks)
    try:  # "close" is a transition out of qualify too, but this message leaves "propose"
        state = host.post_batch(chart.name, [{"kind": "restore", "to": "qualify", "sid": sid, "id": f"{sid}.1"},
                                             {"kind": "move", "to": "close", "frm": "propose", "approved": True,
                                              "sid": sid, "id": f"{sid}.2"}])
        assert state["stage"] == "qualify" and hooks.seen == []
        assert [e["to"] for e in host.get_pending_events(chart.name, sid) if "kind" in e] == ["close"]
    finally:
        del flow._active[sid]
        host.delete_state(chart.name, sid)  # what drive() does: it never outlives its check
    assert flow.live_sessions() == 0


def test_a_kept_session_is_reused_only_while_the_case_is_in_its_stage(pb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    chart = Chart.for_playbook(pb, snapshot_of(pb).hash)
    posted: list[list[str]] = []
    original = Chart.messages

    def spy(self: Chart, start: str | None, steps: list[Step], *, restore: bool = True) -> Any:
        out = original(self, start, steps, restore=restore)
        posted.append([m["kind"] for m in out[0]])
        return out

    monkeypatch.setattr(Chart, "messages", spy)
    hooks = Recording()
    chart.drive("qualify", [Step("propose")], hooks, keep="acme")
    assert flow.live_sessions() == 1  # kept for acme's next event
    chart.drive("propose", [Step("close")], hooks, keep="acme")  # same case, same stage: no restore
    chart.drive("propose", [Step("close")], hooks, keep="acme")  # the store says propose, not close: restore
    chart.drive("qualify", [Step("propose")], hooks, keep="other")  # another case: the kept one is deleted
    assert posted == [["restore", "move"], ["move"], ["restore", "move"], ["restore", "move"]]
    assert flow.live_sessions() == 1
    with pytest.raises(RunModeError, match="action blew up"):  # an error deletes the session
        chart.drive("propose", [Step("close")], Recording(fail_on="close"), keep="other")
    assert flow.live_sessions() == 0
    chart.drive("close", [Step("lost", close=True)], hooks, keep="x")  # a closed case keeps nothing
    assert flow.live_sessions() == 0


def test_a_stream_releases_its_session_and_a_failed_transaction_drops_it(pb: Any, store: Any, registry: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from playbook.runtime.runfile import RunSummary, run_stream

    lines = [json.dumps({"case": "acme", "id": f"e{i}", "at": "2026-03-01", "facts": f})
             for i, f in enumerate([{"account": {"name": "Acme"}},
                                    {"opportunity": {"budget": 200, "need": True}},
                                    {"opportunity": {"proposal": True}}])]
    summary = run_stream(Runner(store, registry, playbook=pb), read_events(lines), RunSummary())
    assert summary.applied == 3 and flow.live_sessions() == 0
    runner = Runner(store, registry, playbook=pb)
    runner.apply(ev("beta", "e1", facts={"account": {"name": "Beta"}}), keep_session=True)
    assert flow.live_sessions() == 1

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(store), "save_case", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        runner.apply(ev("beta", "e2", facts={"opportunity": {"budget": 200, "need": True}}), keep_session=True)
    assert flow.live_sessions() == 0  # the session had moved past what the store holds
    monkeypatch.undo()
    out = runner.apply(ev("beta", "e2", facts={"opportunity": {"budget": 200, "need": True}}))
    assert (out.stage_before, out.stage_after) == ("qualify", "propose")


def test_big_integers_in_events_stay_exact() -> None:
    [event] = list(read_events(['{"case": "a", "id": "e1", "facts": {"n": 123456789012345678901234567890}}']))
    assert isinstance(event, Event) and event.facts == {"n": 123456789012345678901234567890}


# -- group commit ------------------------------------------------------------------------------


def _committed(store: Any) -> list[tuple[str, str]]:
    """What another connection sees: only what is committed."""
    import sqlite3

    conn = sqlite3.connect(store.location)
    try:
        return conn.execute("SELECT case_id, event_id FROM events ORDER BY case_id, event_id").fetchall()
    finally:
        conn.close()


def _stream(*events: tuple[str, str, dict[str, Any]]) -> list[str]:
    return [json.dumps({"case": c, "id": i, "at": "2026-03-01", "facts": f}) for c, i, f in events]


STREAM = _stream(("acme", "e1", {"account": {"name": "Acme"}}),
                 ("acme", "e2", {"opportunity": {"budget": 200, "need": True}}),
                 ("beta", "e1", {"account": {"name": "Beta"}}),
                 ("beta", "e2", {"opportunity": {"budget": 200, "need": True}}),
                 ("acme", "e3", {"opportunity": {"proposal": True}}))


def test_a_failing_event_is_undone_alone_and_the_events_before_it_are_committed(
        pb: Any, store: Any, registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from playbook.runtime.runfile import RunSummary, run_stream

    save_case = type(store).save_case

    def fail_beta_e2(self: Any, case: Any, **kw: Any) -> None:
        save_case(self, case, **kw)  # its writes happen, then the event fails: all of it must go
        if case.case_id == "beta" and case.events == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(type(store), "save_case", fail_beta_e2)
    summary = RunSummary()
    with pytest.raises(RuntimeError, match="disk full"):
        run_stream(Runner(store, registry, playbook=pb), read_events(STREAM), summary, commit_every=100)
    assert _committed(store) == [("acme", "e1"), ("acme", "e2"), ("beta", "e1")]
    assert summary.applied == 3 and flow.live_sessions() == 0
    beta = store.get_case("beta")
    assert beta.stage == "qualify" and beta.events == 1 and [e.event_id for e in store.history("beta")] == ["e1"] * 4
    monkeypatch.undo()
    again = run_stream(Runner(store, registry, playbook=pb), read_events(STREAM), RunSummary(), commit_every=2)
    assert (again.duplicate, again.applied) == (3, 2)


class _FailingCommit:
    """The store's connection, except that COMMIT fails (as on an I/O error)."""

    def __init__(self, conn: Any):
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            import sqlite3

            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_a_group_whose_commit_fails_counts_nothing_keeps_no_session_and_re_runs_clean(
        pb: Any, store: Any, registry: Any, tmp_path: Path) -> None:
    import sqlite3

    from playbook.runtime.runfile import RunSummary, run_stream

    runner = Runner(store, registry, playbook=pb)
    conn, store.conn = store.conn, _FailingCommit(store.conn)
    summary = RunSummary()
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        run_stream(runner, read_events(STREAM), summary)
    store.conn = conn
    assert summary.applied == summary.rejected == 0 and _committed(store) == []  # nothing counted, nothing stored
    assert flow.live_sessions() == 0 and not conn.in_transaction
    # the same runner goes on from what the store holds (the playbook snapshot is put again)
    done = run_stream(runner, read_events(STREAM), RunSummary(), commit_every=3)
    with open_store(str(tmp_path / "ref.sqlite")) as ref:
        expected = run_stream(Runner(ref, registry, playbook=pb), read_events(STREAM), RunSummary(), commit_every=1)
        assert done.counts() == expected.counts()
        for case in ("acme", "beta"):
            got, want = store.get_case(case), ref.get_case(case)
            assert (got.stage, got.facts, got.events) == (want.stage, want.facts, want.events)
            assert [(e.kind, e.event_id, e.to_stage) for e in store.history(case)] == \
                   [(e.kind, e.event_id, e.to_stage) for e in ref.history(case)]


def test_a_live_feed_commits_what_it_has_before_waiting_for_more(pb: Any, store: Any, registry: Any) -> None:
    import threading

    from playbook.runtime.runfile import RunSummary, run_stream

    more = threading.Event()
    seen: list[list[tuple[str, str]]] = []

    def feed() -> Any:  # like stdin: the next line comes when the sender sends it
        yield from STREAM[:2]
        more.wait(10)
        yield from STREAM[2:]

    def watch() -> None:
        deadline = time.monotonic() + 10
        while len(_committed(store)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(_committed(store))  # while the feed waits: committed, with no transaction open
        more.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    summary = run_stream(Runner(store, registry, playbook=pb), read_events(feed()), RunSummary(),
                         commit_every=100, commit_ms=60_000, may_wait=True)
    watcher.join()
    assert seen == [[("acme", "e1"), ("acme", "e2")]]
    assert summary.applied == 5 and len(_committed(store)) == 5


def test_group_commit_ends_in_the_state_of_one_transaction_per_event(pb: Any, registry: Any, tmp_path: Path) -> None:
    from playbook.runtime.runfile import RunSummary, run_stream

    states = []
    for every in (1, 2, 64):
        with open_store(str(tmp_path / f"s{every}.sqlite")) as store:
            summary = run_stream(Runner(store, registry, playbook=pb), read_events(STREAM + STREAM), RunSummary(),
                                 commit_every=every)
            states.append((summary.counts(),
                           [(c.case_id, c.stage, c.facts, c.events) for c in store.iter_cases()],
                           {c: [(e.kind, e.event_id, e.from_stage, e.to_stage) for e in store.history(c)]
                            for c in ("acme", "beta")}))
    assert states[0] == states[1] == states[2]
    assert states[0][0]["duplicate"] == len(STREAM)


# -- the case kept in memory within a group ----------------------------------------------------


def test_merged_facts_have_the_key_order_the_store_reads_back() -> None:
    from playbook.store.jsonio import dumps, loads

    base = loads(dumps({"m": 1, "c": {"x": 1, "a": 2}, "z": [1]}))
    patch = {"b": {"z": 1, "y": {"q": 1, "p": 2}}, "c": {"b": 0}, "l": [{"q": 1, "p": [{"s": 1, "r": 2}]}],
             "a": 1, "m": None}
    merged = merge_facts(base, patch)
    assert json.dumps(merged) == json.dumps(loads(dumps(merged)))  # the same keys in the same order
    assert list(merged) == ["a", "b", "c", "l", "z"] and list(merged["c"]) == ["a", "b", "x"]


def test_events_with_nan_or_infinite_numbers_are_bad_lines() -> None:
    lines = ['{"case": "a", "id": "e1", "facts": {"x": NaN}}',
             '{"case": "a", "id": "e2", "facts": {"x": [-Infinity]}}',
             '{"case": "a", "id": "e3", "facts": {"x": 1e999, "n": 1234567890123456789012}}',
             '{"case": "a", "id": "e4", "facts": {"x": 1.5e300}}']
    items = list(read_events(lines))
    assert [type(i).__name__ for i in items] == ["BadLine", "BadLine", "BadLine", "Event"]
    assert all("not a JSON number" in i.message or "too large" in i.message for i in items[:3])


def _waive(criterion: str, until: str = "2026-06-30") -> dict[str, Any]:
    return {"criterion": criterion, "reason": "r", "approver": "boss", "until": until}


KEPT = [json.dumps(e) for e in [
    {"case": "acme", "id": "e1", "at": "2026-03-01", "facts": {"account": {"name": "Acme"}, "z": 1}},
    {"case": "acme", "id": "e1", "at": "2026-03-01", "facts": {"account": {"name": "Again"}}},  # duplicate
    {"case": "acme", "id": "e2", "at": "2026-03-02", "stage": "propose", "facts": {"x": 1}},  # rejected
    {"case": "acme", "id": "e3", "at": "2026-03-02", "type": "waive", "waive": _waive("budget")},
    {"case": "acme", "id": "e4", "at": "2026-03-03", "facts": {"opportunity": {"need": True, "b": {"y": 1, "x": 2}}}},
    {"case": "acme", "id": "e5", "at": "2026-03-03", "type": "advance", "to": "qualify", "reason": "re-open"},
    {"case": "acme", "id": "e6", "at": "2026-03-04", "facts": {"a": [{"q": 1, "p": 2}], "opportunity": {"b": None}}},
    {"case": "beta", "id": "e1", "at": "2026-03-04", "facts": {"account": {"name": "Beta"}}},
    {"case": "acme", "id": "e7", "at": "2026-03-05", "facts": {"opportunity": {"proposal": True, "status": "lost"}}},
    {"case": "acme", "id": "e8", "at": "2026-03-06", "facts": {"late": True}},  # closed
    {"case": "acme", "id": "e3", "at": "2026-03-06", "type": "waive", "waive": _waive("budget")},  # duplicate
]]


def test_a_case_kept_in_memory_within_a_group_is_exactly_the_case_the_store_holds(
        pb: Any, registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within one group a case is kept in memory from one of its events to the next: it must be
    exactly what reading the store gives (same fields, facts with keys in the same order, same
    waivers), and the run must end as one transaction per event (each read from the store) does."""
    import dataclasses

    from playbook.runtime.runfile import RunSummary, run_stream

    def stable(case: Any) -> str:  # created/updated are wall-clock stamps
        return json.dumps({k: v for k, v in dataclasses.asdict(case).items() if k not in ("created_at", "updated_at")})

    seen: list[Any] = []
    decide = Runner._decide

    def spy(self: Any, pb: Any, case: Any, event: Any, waivers: Any, today: Any) -> Any:
        if case.created_at is not None:  # a stored case: what the store holds now, in this transaction
            stored = self.store.get_case(case.case_id)
            assert json.dumps(dataclasses.asdict(case)) == json.dumps(dataclasses.asdict(stored))
            assert waivers == self.store.waivers(case.case_id)
        seen.append((event.id, stable(case), [w.to_dict() for w in waivers]))
        return decide(self, pb, case, event, waivers, today)

    monkeypatch.setattr(Runner, "_decide", spy)
    runs = []
    for every in (1, 100):
        seen.clear()
        with open_store(str(tmp_path / f"k{every}.sqlite")) as store:
            summary = run_stream(Runner(store, registry, playbook=pb), read_events(KEPT), RunSummary(),
                                 commit_every=every)
            runs.append((list(seen), summary.counts(), summary.transitions, summary.actions, summary.rejections,
                         [stable(c) for c in store.iter_cases()],
                         {c: [(e.kind, e.event_id, e.from_stage, e.to_stage, e.reason, e.data)
                              for e in store.history(c)] for c in ("acme", "beta")},
                         [w.to_dict() for w in store.waivers("acme")]))
    assert runs[0] == runs[1]
    counts = runs[0][1]
    assert (counts["duplicate"], counts["rejected"], counts["closed"]) == (2, 2, 1)
    assert len(runs[0][0]) == 9  # every event but the duplicates reached the decision


def test_an_action_that_raises_is_reported_and_kept_in_the_history(
        load_yaml: Callable[..., Any], make_plugin: Callable[..., Any], make_registry: Callable[..., Any],
        store: Any) -> None:
    def explode(params: Any, facts: Any, derived: Any, ctx: Any) -> Any:
        raise RuntimeError("the CRM is down")

    reg = make_registry(make_plugin("boom", register_actions=lambda register: register("boom.explode", explode)))
    text = mini().replace("        do: task\n        with: {text: {zh: 拜访, en: Visit the account}}",
                          "        do: boom.explode")
    pb = load_yaml(text, reg=reg, name="boom.yaml")
    out = Runner(store, reg, playbook=pb).apply(ev("acme", "e1", facts={"account": {"name": "Acme"}}))
    assert out.status == "applied" and out.stage_after == "qualify"  # the event still applies
    assert len(out.errors) == 1 and "greet" in out.errors[0] and "the CRM is down" in out.errors[0]
    logged = [e for e in store.history("acme") if e.kind == "action-error"]
    assert [e.data["message"] for e in logged] == out.errors and logged[0].event_id == "e1"
