"""The bank-key-account playbook through the core's testing kit: examples, gates, grades,
quadrants, and the plugin's footprint (what the core alone does not have)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import TODAY, opportunity_case, scores


def test_every_example_passes_and_covers_every_criterion(kit: Any) -> None:
    outcomes = kit.run_examples("bank-key-account")
    assert len(outcomes) >= 17
    failed = {o.example.name: o.differences for o in outcomes if not o.passed}
    assert failed == {}
    pb = kit.load("bank-key-account")
    seen_pass = {c.id for o in outcomes for c in pb.criteria if o.result.passed[c.index]}
    seen_fail = {c.id for o in outcomes for c in pb.criteria if not o.result.passed[c.index]}
    ids = {c.id for c in pb.criteria}
    assert ids - seen_pass == set() and ids - seen_fail == set()


def test_examples_cover_every_grade_and_quadrant(kit: Any) -> None:
    outcomes = kit.run_examples("bank-key-account")
    grades = {o.result.derived.get("project_value", {}).get("grade") for o in outcomes}
    quadrants = {o.result.derived.get("quadrant", {}).get("quadrant") for o in outcomes}
    assert {"A", "B", "C"} <= grades
    assert {"A", "B", "C", "D"} <= quadrants
    assert any(o.result.complete for o in outcomes)


def test_six_stages_in_order_with_both_languages(kit: Any) -> None:
    pb = kit.load("bank-key-account")
    assert [s.id for s in pb.stages] == [
        "target-customer", "analyse-opportunity", "decision-process",
        "competitive-position", "competitive-tactics", "tracking"]
    assert [s.title["zh"] for s in pb.stages] == [
        "确定目标客户", "分析项目机会", "分析决策流程", "明确竞争定位", "选择竞争战术", "跟踪管理"]
    for stage in pb.stages:
        assert set(stage.guidance) == {"zh", "en"} and set(stage.goal) == {"zh", "en"}
        for c in (*stage.entry, *stage.exit):
            assert set(c.title) == {"zh", "en"}, c.id
            assert set(c.hint) == {"zh", "en"}, c.id


@pytest.mark.parametrize(
    ("overrides", "grade", "value_band", "feasibility_band"),
    [
        ({}, "A", "high", "high"),                                     # value 7, feasibility 4
        ({"roi": 0, "capability_lift": 0}, "A", "high", "high"),     # value 5: lowest high
        ({"roi": 0, "capability_lift": 0, "demonstration": 0}, "B", "medium", "high"),  # value 4
        ({"risk_policy": 0}, "A", "high", "high"),                   # feasibility 3: lowest high
        ({"risk_policy": 0, "advantaged_products": 0}, "B", "high", "medium"),  # feasibility 2
        ({"relationship_with_us": 0, "risk_policy": 0, "advantaged_products": 0,
          "fit_our_products": 0}, "B", "high", "medium"),            # feasibility 0: lowest medium
        ({"relationship_with_us": 0, "risk_policy": 0, "advantaged_products": 0,
          "fit_our_products": 0, "relationship_with_others": -1}, "C", "high", "low"),  # feasibility -1
        ({"roi": -1, "capability_lift": -1, "demonstration": -1, "profitability": 0,
          "solvency": 0, "credit_risk": 0, "policy_fit": 0}, "C", "low", "high"),  # value -3
    ],
)
def test_grade_at_the_band_edges(kit: Any, overrides: dict[str, int], grade: str, value_band: str,
                                 feasibility_band: str) -> None:
    report = kit.check("bank-key-account", opportunity_case(scores=scores(**overrides)), today=TODAY)
    card = report["derived"]["project_scorecard"]
    assert card["dimensions"]["value"]["band"] == value_band
    assert card["dimensions"]["feasibility"]["band"] == feasibility_band
    assert report["derived"]["project_value"]["grade"] == grade
    if grade == "C":
        kit.assert_stage(report, "analyse-opportunity", ready=False)
        kit.assert_fails(report, "grade-a-or-b", "project-worth-pursuing")
    else:
        kit.assert_passes(report, "grade-a-or-b", "project-worth-pursuing")


def test_missing_score_blocks_with_the_missing_indicators_named(kit: Any) -> None:
    sheet = scores()
    del sheet["solvency"], sheet["bank_resources"]
    report = kit.check("bank-key-account", opportunity_case(scores=sheet), today=TODAY, lang="zh")
    kit.assert_stage(report, "analyse-opportunity", ready=False)
    kit.assert_blocking(report, ["scorecard-complete", "grade-a-or-b", "project-worth-pursuing"])
    gate = kit.criterion(report, "project-worth-pursuing")
    assert gate["message"] == "项目尚未评级（评分表还缺 2 项评分：solvency, bank_resources）"
    summary = next(a for a in report["actions"] if a["id"] == "scorecard-summary")["output"]
    assert "待评分：偿债能力、银行资源状况" in summary["markdown"]
    assert summary["summary"]["missing"] == ["solvency", "bank_resources"]


def test_decision_maker_opposing_is_advice_not_a_gate(kit: Any) -> None:
    case = opportunity_case(scores=scores(), decision_process={"steps": ["董事会"]},
                            position={"standing": "main_bank", "advantages": ["结算网络"]})
    case["competitors"] = []
    case["stakeholders"] = [
        {"name": "甲", "role": "decision_maker", "level": "executive", "attitude": "oppose"},
        {"name": "乙", "role": "finance", "level": "senior", "attitude": "support"},
        {"name": "丙", "role": "user", "level": "staff", "attitude": "neutral"},
    ]
    report = kit.check("bank-key-account", case, today=TODAY)
    kit.assert_stage(report, "competitive-tactics", ready=False)
    kit.assert_fails(report, "decision-maker-not-opposed", "support-outweighs-opposition")
    assert report["derived"]["tactic_advice"]["tactic"] == "defend"


def test_core_alone_has_no_banking_additions(core_only: Any, kit: Any) -> None:
    assert "bank-key-account" not in core_only.registry.playbook_index()
    assert not [n for n in core_only.registry.actions if n.startswith("banking.")]
    plain = core_only.load("hall-marketing")
    extended = kit.load("hall-marketing")
    assert plain.criterion("banking-sales-cue") is None
    assert extended.criterion("banking-sales-cue") is not None
    assert len(extended.criteria) == len(plain.criteria) + 1
    assert "banking_lobby_cues" not in {d.id for d in plain.derivations}


def test_plugin_registers_only_namespaced_names(kit: Any) -> None:
    info = next(p for p in kit.registry.plugins if p.name == "playbook_banking.plugin")
    for kind in ("rules", "actions", "derivations", "schemas"):
        assert info.registered[kind] and all(n.startswith("banking.") for n in info.registered[kind]), kind
    assert info.registered["extensions"] == ["hall-marketing"]
