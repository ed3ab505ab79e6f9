"""The plugin's actions, rule and derivation: visit plan, scorecard summary, advice,
banking.grade-at-least and banking.stakeholder-map — called through real playbook checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playbook.errors import PlaybookError

from conftest import TODAY, opportunity_case, scores
from playbook_banking.advice import outcomes
from playbook_banking.rules import grade_at_least
from playbook_banking.stakeholders import stakeholder_map


def action(report: dict[str, Any], action_id: str) -> dict[str, Any]:
    found = [a for a in report["actions"] if a["id"] == action_id]
    assert found, f"no action {action_id!r} in {[a['id'] for a in report['actions']]}"
    return found[0]["output"]


# -- visit plan ---------------------------------------------------------------------------------


def test_visit_plan_is_generated_from_the_case(kit: Any) -> None:
    case = opportunity_case(needs=[{"kind": "purchasing", "text": "集中采购"}, {"kind": "sales", "sales_model": "distributor"}])
    case["competitors"] = [{"name": "甲银行"}]
    case["stakeholders"] = [{"name": "王总", "title": "总经理", "attitude": "oppose"}]
    out = action(kit.check("bank-key-account", case, today=TODAY, lang="zh"), "needs-visit-plan")
    plan = out["plan"]
    assert plan["customer"] == "测试客户"
    assert plan["theme"] == {"id": "understand_needs", "title": "了解客户需求"}
    assert [n["kind"] for n in plan["needs"]] == ["purchasing", "sales"]
    assert plan["products"][0]["product"] == "整合企业上下游，提供供应链融资方案"
    assert "票据融资" in plan["products"][1]["product"]
    assert "供应链融资方案介绍及同业案例" in plan["materials"]
    assert len(plan["questions"]) == 3  # one per need kind + the approval question
    assert plan["objections"][0]["objection"].startswith("我们和甲银行合作多年")
    assert plan["objections"][1]["objection"] == "王总（总经理）对与本行合作持保留态度。"
    md = out["markdown"]
    for heading in ("## 客户拜访计划：测试客户", "### 客户可能需要的服务", "### 银行准备提供的产品",
                    "### 拟介绍的情况及宣传资料", "### 拜访开始的策略", "### 客户可能提出的问题及解答",
                    "### 可能出现的异议及对策"):
        assert heading in md
    assert "- **会谈主题**：了解客户需求" in md
    json.dumps(out, ensure_ascii=False)  # the JSON half is plain JSON


def test_visit_plan_uses_what_the_manager_wrote(kit: Any) -> None:
    visit = {"date": "2026-03-05", "contact": "陈芳", "theme": "discuss_products", "goal": "敲定额度",
             "opening": "先谈上次的测算", "materials": ["额度测算表"],
             "questions": [{"question": "利率多少？", "answer": "按审批结果"}],
             "objections": [{"objection": "太贵", "response": "看综合成本"}]}
    case = opportunity_case(visit=visit, tactics={"products": ["供应链融资"]})
    out = action(kit.check("bank-key-account", case, today=TODAY, lang="en"), "needs-visit-plan")
    plan = out["plan"]
    assert (plan["goal"], plan["opening"], plan["materials"]) == ("敲定额度", "先谈上次的测算", ["额度测算表"])
    assert plan["theme"]["id"] == "discuss_products"  # the case's theme beats the action's default
    assert plan["products"] == [{"product": "供应链融资", "why": None}]
    assert plan["questions"] == [{"question": "利率多少？", "answer": "按审批结果"}]
    assert "- **Meeting with**: 陈芳" in out["markdown"] and "- **Date**: 2026-03-05" in out["markdown"]


def test_visit_plan_with_almost_nothing_known(kit: Any) -> None:
    out = action(kit.check("bank-key-account", {"account": {"name": "X"}}, today=TODAY, lang="en"),
                 "first-visit-plan")
    assert out["plan"]["needs"] == [] and out["plan"]["products"] == []
    assert "### Services the customer may need\n- to be decided" in out["markdown"]


# -- scorecard summary and advice -----------------------------------------------------------------


def test_scorecard_summary_english(kit: Any) -> None:
    out = action(kit.check("bank-key-account", opportunity_case(scores=scores()), today=TODAY, lang="en",
                           stage="analyse-opportunity"),
                 "scorecard-summary")
    assert out["summary"]["grade"] == "A"
    assert out["summary"]["dimensions"]["value"] == {"score": 7, "band": "high", "min": -13, "max": 13,
                                                     "missing": []}
    assert "| **Project value (worth doing?)** | | **7** | -13…13 | **high value** |" in out["markdown"]
    assert "**Decision: A** Grade A: go all out to win" in out["markdown"]


def test_scorecard_summary_reports_off_scale_scores(kit: Any) -> None:
    out = action(kit.check("bank-key-account", opportunity_case(scores=scores(roi=3)), today=TODAY, lang="zh"),
                 "scorecard-summary")
    assert out["summary"]["invalid"] == ["roi"] and out["summary"]["grade"] is None
    assert "分值不在量表内：项目投资回报率" in out["markdown"]
    assert "尚未评级" in out["markdown"]


def test_advice_for_each_table_and_default_row(kit: Any) -> None:
    case = opportunity_case(needs=[{"kind": "treasury"}, {"kind": "insurance"}])
    out = action(kit.check("bank-key-account", case, today=TODAY, lang="en"), "product-suggestions")
    lines = out["text"].splitlines()
    assert lines[0].startswith("Treasury need - entry point: a return on idle funds: ")
    assert lines[1].startswith("Other need: Place the need in one of the four core kinds")


def test_advice_empty_text_when_the_table_gives_nothing(kit: Any) -> None:
    case = opportunity_case()
    del case["bank"]["needs"]
    out = action(kit.check("bank-key-account", case, today=TODAY, lang="zh"), "product-suggestions")
    assert out["text"] == "请先在案例中记录客户的金融需求" and out["advice"] == []


def test_outcomes_flattens_every_hit_policy() -> None:
    assert outcomes({"label": "x", "row": "a"}) == [{"label": "x", "row": "a"}]
    assert outcomes({"matches": [{"label": "a"}, {"label": "b"}], "count": 2}) == [{"label": "a"}, {"label": "b"}]
    assert outcomes([{"index": 0, "label": "a"}, {"index": 1, "row": None}]) == [{"index": 0, "label": "a"}]
    assert outcomes(None) == []


# -- rule and derivation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("grade", "minimum", "ok"),
                         [("A", "A", True), ("B", "A", False), ("B", "B", True), ("C", "B", False), ("C", "C", True)])
def test_grade_at_least(grade: str, minimum: str, ok: bool) -> None:
    result = grade_at_least({}, {"project_value": {"grade": grade}}, {"min": minimum}, None)
    assert result.passed is ok
    assert result.values == {"derived.project_value.grade": grade}


def test_grade_at_least_without_a_grade_names_missing_scores() -> None:
    result = grade_at_least({}, {"project_value": {"grade": None}, "project_scorecard": {"missing": ["roi"]}},
                            {"min": "B"}, None)
    assert not result.passed
    assert result.message["en"] == "the project has no grade yet (1 indicator score(s) missing: roi)"
    assert not grade_at_least({}, {}, {"min": "C"}, None).passed


def test_bad_rule_parameter_is_a_load_error(kit: Any, tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("id: p\nversion: 1\ntitle: P\nstages:\n  - id: s\n    exit:\n"
                    "      - {id: g, rule: banking.grade-at-least, with: {min: D}}\n", encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        kit.load(path)
    assert "with.min" in str(info.value.problems[0]) and info.value.problems[0].location.line == 7


def test_stakeholder_map() -> None:
    people = [{"name": "甲", "role": "decision_maker", "level": "executive", "attitude": "support", "is_coach": True},
              {"name": "乙", "role": "finance", "attitude": "oppose"},
              {"name": "丙", "role": "finance", "level": "middle", "attitude": "neutral"}]
    got = stakeholder_map({"stakeholders": people}, {}, {}, None)
    assert (got["count"], got["support"], got["neutral"], got["oppose"]) == (3, 1, 1, 1)
    assert got["by_role"] == {"decision_maker": ["甲"], "finance": ["乙", "丙"]}
    assert got["decision_makers"] == [{"name": "甲", "attitude": "support"}]
    assert got["unmapped"] == ["乙"] and got["coaches"] == ["甲"]
    assert stakeholder_map({}, {}, {}, None)["count"] == 0
    with pytest.raises(TypeError):
        stakeholder_map({"stakeholders": {"name": "x"}}, {}, {}, None)
