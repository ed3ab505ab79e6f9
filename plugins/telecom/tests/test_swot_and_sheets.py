"""The SWOT → needs derivation and the sheets (actions) produced from a case."""

from __future__ import annotations

import json

from playbook.engine import evaluate

from conftest import PLAYBOOK_ID, TODAY, example
from playbook_telecom import sheets
from playbook_telecom.sheets import sdi, stories
from playbook_telecom.swot import derive_swot_needs


def test_swot_needs_crosses_the_quadrants():
    facts = {"swot": {"strengths": ["S1", {"text": "S2", "area": "brand"}], "weaknesses": ["W1"],
                      "opportunities": ["O1", "O2"], "threats": ["T1"]},
             "needs": {"organisational": [{"text": "n", "latent": True, "swot": "WO"}]}}
    out = derive_swot_needs(facts, {}, {}, None)
    assert out["complete"] and out["missing"] == []
    assert out["counts"] == {"so": 4, "wo": 2, "st": 2, "wt": 1}
    assert out["strategies"]["wt"] == [{"weakness": "W1", "threat": "T1", "suggestion": {
        "zh": "帮助客户减少“W1”带来的弱点，消除“T1”的威胁", "en": "Help the customer reduce “W1” to remove the threat of “T1”"}}]
    assert out["strategies"]["so"][1]["strength"] == "S1" and out["strategies"]["so"][2]["strength"] == "S2"
    assert out["covered_by_latent_needs"] == ["wo"]
    assert out["uncovered"] == ["so", "st", "wt"]


def test_swot_needs_with_gaps_and_cap():
    facts = {"swot": {"strengths": [f"S{i}" for i in range(5)], "opportunities": [f"O{i}" for i in range(5)],
                      "threats": "not a list", "weaknesses": ["", {"area": "x"}]}}
    out = derive_swot_needs(facts, {}, {"max_per_strategy": 10}, None)
    assert not out["complete"] and out["missing"] == ["weaknesses", "threats"]
    assert out["counts"]["so"] == 25 and len(out["strategies"]["so"]) == 10 and out["truncated"] == {"so": 15}
    assert out["strategies"]["wo"] == [] and out["uncovered"] == ["so"]
    assert derive_swot_needs({}, {}, {}, None)["missing"] == ["strengths", "weaknesses", "opportunities", "threats"]


def run_sheet(name, facts, derived=None, params=None):
    func, _title = sheets.SHEETS[name]
    out = func(params or {}, facts, derived or {}, type("Ctx", (), {"today": TODAY})())
    json.dumps(out, ensure_ascii=False)  # structured JSON
    assert set(out) == {"sheet", "data", "markdown"} and set(out["markdown"]) == {"zh", "en"}
    return out


def test_every_sheet_renders_an_empty_case_without_crashing():
    for name in sheets.SHEETS:
        out = run_sheet(name, {})
        assert out["markdown"]["zh"].startswith("### ") and out["markdown"]["en"].startswith("### ")


def test_profile_sheet_lists_missing_kinds_with_sources(complete):
    del complete["account"]["profile"]["competitors"]
    out = run_sheet("telecom.profile-sheet", complete)
    assert out["data"]["missing"] == ["competitors"]
    assert out["data"]["account"]["name"] == "江南冷链物流有限公司"
    zh = out["markdown"]["zh"]
    assert "| 竞争对手资料 | 未收集 | 客户的客户和伙伴" in zh
    assert "| 陈总 | 总经理 | 决策人 | 高层 | 支持 | 信赖 |" in zh


def test_swot_sheet_shows_quadrants_and_strategies(complete):
    out = run_sheet("telecom.swot-sheet", complete)
    assert out["data"]["swot"]["threats"] == ["冷链食品安全监管趋严"]
    assert "- ST：以优势规避威胁" in out["markdown"]["zh"]
    assert "Help the customer use its strength" in out["markdown"]["en"]


def test_latent_need_sheet(complete):
    derived = {"swot_needs": derive_swot_needs(complete, {}, {}, None)}
    out = run_sheet("telecom.latent-need-sheet", complete, derived)
    assert [n["text"] for n in out["data"]["latent_needs"]] == ["温度自动记录，应付食品安全审计"]
    assert out["data"]["uncovered_strategies"] == ["so", "wo", "wt"]
    assert "| 温度自动记录，应付食品安全审计 | 高 | ST |" in out["markdown"]["zh"]


def test_visit_log_flags_overdue_planned_visits(complete):
    complete["visit_plan"].append({"date": "2026-02-01", "with": ["赵经理"], "objective": "预算", "status": "planned"})
    out = run_sheet("telecom.visit-log", complete)
    assert out["data"]["overdue"] == 1
    assert len(out["data"]["made"]) == 5  # visits, meetings and presentations; not the negotiation
    assert "已过期未执行" in out["markdown"]["zh"] and "| 确认商机 |" in out["markdown"]["zh"]


def test_sdi_question_preparation_follows_the_first_unknown():
    assert sdi.next_step({"topic": "t"}) == "situation"
    assert sdi.next_step({"situation": "s"}) == "difficulty"
    assert sdi.next_step({"situation": "s", "difficulty": "d"}) == "impact"
    assert sdi.next_step({"situation": "s", "difficulty": "d", "impact": "i"}) == "payoff"
    facts = {"sdi": [{"topic": "冷库联网", "stakeholder": "刘主任", "situation": "各库独立拉宽带", "difficulty": "断网没人知道"}],
             "stakeholders": [{"name": "刘主任", "role": "technical"}, {"name": "赵经理", "role": "finance"}]}
    out = run_sheet("telecom.sdi-sheet", facts)
    prep = out["data"]["preparation"][0]
    assert prep["ask_about"] == "impact"
    assert prep["questions"][0]["zh"] == "“断网没人知道”对业务造成了哪些影响？大概损失多少时间或费用？"
    assert out["data"]["not_asked"] == ["赵经理"]


def test_success_stories_rank_same_industry_first_and_build_fab(complete):
    complete["success_stories"].insert(0, {"customer": "某银行", "industry": "banking", "results": "—"})
    out = run_sheet("telecom.success-stories", complete, params={"limit": 1})
    assert [s["customer"] for s in out["data"]["stories"]] == ["华东生鲜配送公司"]
    assert out["data"]["stories"][0]["fab"][0]["zh"] == "因为温度传感器每分钟上报，所以货物变质前就能报警，对您来说意味着少报损，审计一次过。"
    assert out["data"]["fab"][0]["en"].startswith("Because it has 物联网卡全国漫游")
    assert stories.fab_sentence({"feature": "x", "advantage": ""}) is None


def test_opportunity_assessment_verdict(complete):
    out = run_sheet("telecom.opportunity-assessment", complete, {"man": {"class": "M+A+N"}})
    assert out["data"]["qualified"] and out["data"]["missing"] == [] and out["data"]["man_class"] == "M+A+N"
    assert "合格商机，可以投入资源跟进" in out["markdown"]["zh"]
    complete["qualification"]["authority"] = False
    out = run_sheet("telecom.opportunity-assessment", complete)
    assert out["data"]["missing"] == ["authority"]
    assert "先做：弄清谁能拍板" in out["markdown"]["zh"]


def test_objection_responses_sheet_through_the_playbook(kit):
    pb = kit.load(PLAYBOOK_ID)
    result = evaluate(pb, example("17-objection-no-difference"), today=TODAY)
    out = run_sheet("telecom.objection-responses", result.facts, result.derived)
    row = out["data"]["open"][0]
    assert row["class"] == "no_difference" and row["raised_by"] == "赵经理"
    assert "差异性评估" in row["response"]["zh"]
    assert "| 没有差别 | 友商的方案也差不多，价格还便宜 | 赵经理 |" in out["markdown"]["zh"]
