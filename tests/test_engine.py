"""Stage semantics of the evaluator (issue 2, item 4) on a small three-stage playbook.

mini: qualify (entry: is-target; recommended has-region | exit: budget-known; recommended
industry-set) -> propose (entry: buyer-known | exit: proposal-sent) -> close (entry:
proposal-accepted | exit: signed). Outcomes: lost (any stage), won (from close only).
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from playbook.engine import evaluate
from playbook.errors import CaseError
from playbook.loader import load_playbook
from playbook.rules import RuleResult

MINI = Path(__file__).resolve().parent / "fixtures" / "core" / "mini.yaml"
TODAY = dt.date(2026, 3, 1)


@pytest.fixture
def pb(registry):
    return load_playbook(MINI, registry=registry)


def case(**overrides: Any) -> dict[str, Any]:
    """A case that completes mini; keyword arguments replace top-level sections."""
    facts: dict[str, Any] = {
        "id": "acme",
        "account": {"is_target": True, "region": "east", "industry": "energy", "name": "Acme"},
        "qualification": {"money": True, "authority": True, "need": True},
        "deal": {"amount": 250000, "proposal_sent": True, "accepted": True, "signed_on": "2026-02-01"},
        "contacts": [{"name": "Li", "role": "buyer"}],
    }
    facts.update(overrides)
    return facts


def deal(**fields: Any) -> dict[str, Any]:
    base = {"amount": 250000, "proposal_sent": True, "accepted": True, "signed_on": "2026-02-01"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def stage_summary(result) -> tuple[Any, ...]:
    return (result.entered, result.inferred_stage, result.current_stage, result.complete, result.ready)


def test_complete_case(pb):
    result = evaluate(pb, case(), today=TODAY)
    assert stage_summary(result) == (True, "close", "close", True, True)
    assert result.next_stage is None
    assert result.blocking_ids() == []
    assert all(result.passed)
    assert result.case_id == "acme"


def test_not_entered(pb):
    result = evaluate(pb, case(account={"is_target": False}), today=TODAY)
    assert stage_summary(result) == (False, "qualify", "qualify", False, False)
    assert result.blocking_ids() == ["is-target"]


def test_not_entered_when_entry_fact_missing(pb):
    result = evaluate(pb, {}, today=TODAY)
    assert not result.entered and not result.complete and not result.ready
    assert result.blocking_ids() == ["is-target"]
    assert result.case_id is None


def test_first_stage_exit_fails(pb):
    result = evaluate(pb, case(deal=deal(amount=0)), today=TODAY)
    assert stage_summary(result) == (True, "qualify", "qualify", False, False)
    assert result.blocking_ids() == ["budget-known"]


def test_next_stage_entry_fails_keeps_case_in_stage(pb):
    # qualify's exit passes, but propose's required entry (a buyer) does not
    result = evaluate(pb, case(contacts=[{"name": "Li", "role": "user"}]), today=TODAY)
    assert stage_summary(result) == (True, "qualify", "qualify", False, False)
    assert result.blocking_ids() == ["buyer-known"]


def test_blocking_lists_current_exit_and_next_entry(pb):
    result = evaluate(pb, case(deal=deal(proposal_sent=False, accepted=None)), today=TODAY)
    assert stage_summary(result) == (True, "propose", "propose", False, False)
    assert result.blocking_ids() == ["proposal-sent", "proposal-accepted"]
    assert result.next_stage == "close"


def test_last_stage_exit_fails(pb):
    result = evaluate(pb, case(deal=deal(signed_on=None)), today=TODAY)
    assert stage_summary(result) == (True, "close", "close", False, False)
    assert result.blocking_ids() == ["signed"]


def test_later_passing_gates_do_not_skip_an_earlier_failing_one(pb):
    # everything after qualify passes, but qualify's exit fails: the case is in qualify
    result = evaluate(pb, case(deal=deal(amount=-5)), today=TODAY)
    assert result.inferred_stage == "qualify"
    assert result.blocking_ids() == ["budget-known"]


def test_recommended_criteria_never_block_but_are_reported(pb):
    facts = case(account={"is_target": True, "name": "Acme"})  # no region, no industry
    result = evaluate(pb, facts, today=TODAY)
    assert result.complete and result.ready
    assert not result.passed[pb.criterion("has-region").index]
    assert not result.passed[pb.criterion("industry-set").index]
    assert result.blocking_ids() == []
    # in the first stage, its failing recommended entry and exit criteria are advice
    facts = case(account={"is_target": True, "name": "Acme"}, deal=deal(amount=0))
    report = evaluate(pb, facts, today=TODAY).to_dict("en")
    assert [b["criterion"] for b in report["blocking"]] == ["budget-known"]
    assert [r["criterion"] for r in report["recommended"]] == ["has-region", "industry-set"]
    assert report["recommended"][1]["hint"] == "Record the industry"
    levels = {i["id"]: i["level"] for s in report["stages"] for i in (*s["entry"], *s["exit"])}
    assert levels["has-region"] == "recommended" and levels["is-target"] == "required"


def test_declared_stage_in_the_case(pb):
    # inferred propose (proposal not sent); declared qualify: behind the inferred stage
    facts = case(deal=deal(proposal_sent=False), stage="qualify")
    result = evaluate(pb, facts, today=TODAY)
    assert (result.inferred_stage, result.current_stage, result.declared) == ("propose", "qualify", "qualify")
    assert result.ready  # qualify's exit and propose's entry pass
    assert result.blocking_ids() == []
    assert result.skipped_indexes() == []
    report = result.to_dict("en")
    assert report["warnings"] == [] and report["skipped"] == []
    assert report["stage"]["declared"] == "qualify"
    statuses = [s["status"] for s in report["stages"]]
    assert statuses == ["current", "pending", "pending"]


def test_declared_stage_ahead_of_inferred_is_a_warning_with_skipped_gates(pb):
    facts = case(deal=deal(amount=0, proposal_sent=False, accepted=False), stage="close")
    result = evaluate(pb, facts, today=TODAY)
    assert (result.inferred_stage, result.current_stage) == ("qualify", "close")
    assert [pb.criteria[i].id for i in result.skipped_indexes()] == [
        "budget-known", "proposal-sent", "proposal-accepted"]
    # close's own gate: exit (signed) passes and there is no next stage
    assert result.ready and not result.complete
    report = result.to_dict("en")
    assert len(report["warnings"]) == 1
    warning = report["warnings"][0]
    assert "'close'" in warning and "'qualify'" in warning
    assert "budget-known, proposal-sent, proposal-accepted" in warning
    assert [s["criterion"] for s in report["skipped"]] == ["budget-known", "proposal-sent", "proposal-accepted"]
    assert [s["status"] for s in report["stages"]] == ["passed", "passed", "current"]
    zh = result.to_dict("zh")["warnings"][0]
    assert "超前" in zh and "close" in zh


def test_declared_stage_argument_overrides_the_case(pb):
    facts = case(deal=deal(proposal_sent=False), stage="close")
    result = evaluate(pb, facts, stage="qualify", today=TODAY)
    assert result.current_stage == "qualify" and result.declared == "qualify"


def test_declared_stage_ahead_with_nothing_skipped(pb):
    # inferred close (not signed) ... declared close: not ahead
    result = evaluate(pb, case(deal=deal(signed_on=None)), stage="close", today=TODAY)
    assert result.skipped_indexes() == [] and result.to_dict("en")["warnings"] == []


@pytest.mark.parametrize("declared", ["nowhere", 3, ["qualify"]])
def test_unknown_declared_stage_is_a_case_error(pb, declared):
    with pytest.raises(CaseError) as info:
        evaluate(pb, case(stage=declared), today=TODAY)
    assert "unknown stage" in str(info.value) and "qualify, propose, close" in str(info.value)
    with pytest.raises(CaseError):
        evaluate(pb, case(), stage="nowhere")


def test_case_must_be_a_mapping(pb):
    with pytest.raises(CaseError):
        evaluate(pb, ["not", "a", "mapping"])  # type: ignore[arg-type]


def test_declared_stage_when_not_entered(pb):
    result = evaluate(pb, case(account={"is_target": False}), stage="propose", today=TODAY)
    assert not result.entered and not result.ready
    assert result.current_stage == "propose"


def test_outcomes(pb):
    lost = evaluate(pb, case(deal=deal(amount=0, status="lost")), today=TODAY)
    assert lost.outcome == "lost"
    assert lost.to_dict("en")["stage"]["outcome_kind"] == "lost"
    # `won` is only reachable from close
    early = evaluate(pb, case(deal=deal(amount=0, status="won")), today=TODAY)
    assert early.outcome is None
    won = evaluate(pb, case(deal=deal(status="won")), today=TODAY)
    assert won.outcome == "won" and won.to_dict("en")["stage"]["outcome_kind"] == "won"
    # an outcome whose facts are missing is simply not reached
    assert evaluate(pb, {}, today=TODAY).outcome is None


def test_evaluate_is_pure(pb):
    facts = case(deal=deal(amount=0))
    before = copy.deepcopy(facts)
    first = evaluate(pb, facts, today=TODAY).to_dict("en")
    second = evaluate(pb, facts, today=TODAY).to_dict("en")
    assert facts == before
    assert first == second


def test_derived_facts(pb):
    result = evaluate(pb, case(), today=TODAY)
    assert result.derived["man"]["class"] == "M+A+N"
    assert result.derived["grade"]["grade"] == "A"
    small = evaluate(pb, case(deal=deal(amount=10)), today=TODAY)
    assert small.derived["grade"] == {"grade": "C", "row": "default"}
    report = small.to_dict("zh")
    assert report["derived"]["man"]["strategy"] == "理想客户：立即推进成交。"


def test_failing_derivation_is_reported_not_raised(pb):
    result = evaluate(pb, case(qualification={"money": "yes", "authority": True, "need": True}), today=TODAY)
    assert "man" not in result.derived
    errors = result.to_dict("en")["errors"]
    assert len(errors) == 1 and "derivation 'man' failed" in errors[0]
    assert result.complete  # the rest of the evaluation is unaffected


# -- actions of the current stage -------------------------------------------------------------


def actions_of(pb, facts, lang: str = "en", **kw: Any) -> dict[str, dict[str, Any]]:
    report = evaluate(pb, facts, today=TODAY, **kw).to_dict(lang)
    return {a["id"]: a for a in report["actions"]}


def test_actions_listed_are_the_current_stages_enter_and_check_actions(pb):
    facts = case(account={"is_target": True, "name": "Acme"}, deal=deal(amount=0))
    actions = actions_of(pb, facts)
    assert list(actions) == ["profile", "call", "greet", "grade-lookup"]  # not `leave` (on exit)
    assert all(a["stage"] == "qualify" for a in actions.values())
    assert actions["profile"]["on"] == "enter" and actions["call"]["on"] == "check"
    # another stage: its own actions
    propose = actions_of(pb, case(deal=deal(proposal_sent=False)))
    assert list(propose) == ["write-proposal"]


def test_action_condition(pb):
    big = actions_of(pb, case(deal=deal(amount=0)) | {"deal": {"amount": 2_000_000}}, stage="qualify")
    assert "big-deal" in big
    assert "big-deal" not in actions_of(pb, case(deal=deal(amount=0)))


def test_checklist_done_states(pb):
    facts = case(account={"is_target": True, "name": "Acme"}, deal=deal(amount=0))
    out = actions_of(pb, facts)["profile"]["output"]
    assert [(i["id"], i["done"]) for i in out["items"]] == [("name", True), ("industry", False), ("free", None)]
    assert (out["done"], out["total"]) == (1, 3)
    assert out["items"][0]["text"] == "Account name"
    zh = evaluate(pb, facts, today=TODAY).to_dict("zh")
    assert zh["actions"][0]["output"]["items"][0]["text"] == "客户名称"
    assert zh["actions"][0]["title"] == "收集资料"


def test_task_due_date_follows_the_evaluation_date(pb):
    facts = case(deal=deal(amount=0))
    out = actions_of(pb, facts)["call"]["output"]
    assert out == {"text": "Phone the buyer", "due": "2026-03-08"}
    later = evaluate(pb, facts, today=dt.date(2026, 12, 30)).to_dict("en")
    assert later["actions"][1]["output"]["due"] == "2027-01-06"


def test_template_is_filled_from_the_case(pb):
    facts = case(deal=deal(amount=0))
    out = actions_of(pb, facts)["greet"]["output"]
    assert out["text"] == "Dear Acme, amount 0, {?account.nickname}"
    zh = evaluate(pb, facts, today=TODAY).to_dict("zh")
    assert zh["actions"][2]["output"]["text"] == "尊敬的Acme：金额 0，{?account.nickname}"


def test_lookup_shows_the_decision_table(pb):
    out = actions_of(pb, case(deal=deal(amount=0)))["grade-lookup"]["output"]
    assert out == {"table": "grade", "result": {"grade": "C", "row": "default"}}


def test_plugin_rule_and_action(make_plugin, make_registry, load_yaml):
    def at_least(facts, derived, params, ctx):
        amount = facts.get("amount", 0)
        return RuleResult(amount >= params["min"], {"en": f"amount {amount} < {params['min']}",
                                                    "zh": f"金额 {amount} 小于 {params['min']}"},
                          {"amount": amount})

    def explode(params, facts, derived, ctx):
        raise RuntimeError("action broke")

    plugin = make_plugin(
        "shop",
        register_rules=lambda register: register(
            "shop.at-least", at_least, schema={"type": "object", "required": ["min"],
                                               "properties": {"min": {"type": "number"}}}),
        register_actions=lambda register: [
            register("shop.explode", explode),
            register("shop.note", lambda params, facts, derived, ctx: {"text": {"en": "note", "zh": "备注"}}),
        ],
    )
    pb = load_yaml("""
        id: shop
        version: 1
        title: t
        stages:
          - id: one
            exit:
              - {id: enough, rule: shop.at-least, with: {min: 10}}
            actions:
              - {id: bad, do: shop.explode}
              - {id: good, do: shop.note}
    """, reg=make_registry(plugin))
    report = evaluate(pb, {"amount": 3}).to_dict("zh")
    item = report["stages"][0]["exit"][0]
    assert item["passed"] is False and item["message"] == "金额 3 小于 10"
    assert item["values"] == {"amount": 3}
    assert [a["id"] for a in report["actions"]] == ["bad", "good"]
    assert report["actions"][1]["output"] == {"text": "备注"}
    assert len(report["errors"]) == 1 and "action broke" in report["errors"][0]
    assert evaluate(pb, {"amount": 30}).complete


def test_plugin_rule_that_raises_fails_only_its_criterion(make_plugin, make_registry, load_yaml):
    def broken(facts, derived, params, ctx):
        raise KeyError("whatever")

    pb = load_yaml("""
        id: r
        version: 1
        title: t
        stages:
          - id: one
            exit:
              - {id: broken, rule: shop.broken}
              - {id: fine, when: "true"}
    """, reg=make_registry(make_plugin("shop", register_rules=lambda register: register("shop.broken", broken))))
    result = evaluate(pb, {})
    assert result.passed == [False, True]
    assert result.blocking_ids() == ["broken"]


def test_single_stage_and_empty_gates(load_yaml):
    pb = load_yaml("id: s\nversion: 1\ntitle: t\nstages:\n  - id: only\n")
    result = evaluate(pb, {})
    assert result.entered and result.complete and result.ready
    assert (result.inferred_stage, result.next_stage) == ("only", None)
