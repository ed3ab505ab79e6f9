"""Unit tests of the plugin's rules: each judged on hand-made facts, both ways."""

from __future__ import annotations

import pytest
from playbook.errors import PlaybookError

from conftest import PLAYBOOK_ID
from playbook_telecom import effort, flow, objections, qualification, research


def q(condition, facts, ctx):
    return qualification.qualified_rule(facts, {}, {"condition": condition}, ctx)


# -- the four conditions of a qualified opportunity ---------------------------------------------

def test_qualified_conditions_all_met(complete, ctx):
    for condition in qualification.CONDITIONS:
        assert q(condition, complete, ctx).passed, condition


@pytest.mark.parametrize(("condition", "facts", "needle_zh", "needle_en"), [
    ("need", {}, "qualification.need 未填写", "not set"),
    ("need", {"qualification": {"need": False}}, "没有需求", "no need"),
    ("need", {"qualification": {"need": True}}, "没有记录任何具体需求", "no concrete need"),
    ("authority", {"qualification": {"authority": False}}, "决定权在别处", "decision lies elsewhere"),
    ("authority", {"qualification": {"authority": True}, "stakeholders": [{"name": "A", "role": "technical"}]},
     "还没有标出决策人", "no decision maker"),
    ("budget", {"opportunity": {"funded": True}}, "还没有经预算负责人确认", "no budget owner has confirmed"),
    ("budget", {"opportunity": {"budget_confirmed": False}}, "还没有为这次采购安排预算", "no budget"),
    ("budget", {}, "不知道客户有没有采购预算", "unknown"),
    ("timeline", {"opportunity": {}}, "还没有采购时间计划", "no purchase timeline"),
    ("timeline", {"opportunity": {"timeline": {"decision_date": "2026-01-31", "confirmed": True}}}, "已经过去", "has passed"),
    ("timeline", {"opportunity": {"timeline": {"decision_date": "2026-05-31"}}}, "还没有得到客户确认", "not confirmed"),
    ("timeline", {"opportunity": {"timeline": {"decision_date": "soon"}}}, "不是有效日期", "not a valid date"),
])
def test_qualified_condition_fails_with_its_own_message(condition, facts, needle_zh, needle_en, ctx):
    result = q(condition, facts, ctx)
    assert not result.passed
    assert needle_zh in result.message["zh"]
    assert needle_en in result.message["en"]


def test_past_decision_date_is_fine_once_the_deal_is_decided(ctx):
    facts = {"opportunity": {"status": "won", "timeline": {"decision_date": "2026-01-31", "confirmed": True}}}
    assert q("timeline", facts, ctx).passed


def test_authority_names_the_decision_maker(complete, ctx):
    result = q("authority", complete, ctx)
    assert "陈总" in result.message["zh"] and result.values["decision_makers"] == ["陈总"]


# -- the qualification flow ------------------------------------------------------------------------

def test_flow_steps_pass_on_the_complete_case(complete):
    assert all(flow.check(step, complete).met for step in flow.STEPS)


@pytest.mark.parametrize(("step", "facts", "needle"), [
    ("profile", {"account": {"profile": {"background": {}}}}, "current_use"),
    ("swot", {"swot": {"strengths": ["a"], "weaknesses": ["b"]}}, "opportunities"),
    ("latent_needs", {"needs": {"organisational": [{"text": "x"}]}}, "latent: true"),
    ("visits", {"visit_plan": [{"date": "2026-03-10"}]}, "objective"),
    ("sdi", {"sdi": [{"topic": "t", "situation": "s", "difficulty": "d"}]}, "situation, difficulty and impact"),
    ("interest", {}, "interest.shown"),
    ("project", {"project": {"committed": False}}, "project.committed"),
])
def test_flow_step_fails_saying_what_is_missing(step, facts, needle):
    verdict = flow.check(step, facts)
    assert not verdict.met
    assert needle in verdict.message["en"]


# -- need research quality -------------------------------------------------------------------------

def test_need_research_all_aspects_pass_on_the_complete_case(complete):
    for aspect in research.ASPECTS:
        result = research.need_research_rule(complete, {}, {"aspect": aspect}, None)
        assert result.passed, (aspect, result.message)


def test_broad_names_the_people_whose_pain_is_unknown(complete):
    complete["stakeholders"].append({"name": "钱工", "role": "technical"})
    result = research.need_research_rule(complete, {}, {"aspect": "broad"}, None)
    assert not result.passed and "钱工" in result.message["zh"]
    # restricted to the roles that form the project team, the engineer does not count
    only = research.need_research_rule(complete, {}, {"aspect": "broad", "roles": ["decision_maker"]}, None)
    assert only.passed


def test_other_aspects_fail_with_specific_messages(complete):
    complete["needs"]["organisational"][0].pop("priority")
    complete["needs"]["organisational"][1].pop("addressed_by")
    for need in complete["needs"]["organisational"]:
        need.pop("latent", None)
    complete["needs"]["personal"] = []
    checks = {
        "deep": "latent: true",
        "dual": "needs.personal",
        "prioritised": "实时掌握每辆冷藏车的位置",
        "relevant": "温度自动记录",
    }
    for aspect, needle in checks.items():
        result = research.need_research_rule(complete, {}, {"aspect": aspect}, None)
        assert not result.passed, aspect
        assert needle in result.message["zh"], (aspect, result.message["zh"])


def test_prioritised_needs_at_least_one_high(complete):
    for need in complete["needs"]["organisational"]:
        need["priority"] = "medium"
    result = research.need_research_rule(complete, {}, {"aspect": "prioritised"}, None)
    assert not result.passed and result.values["high"] == 0


# -- effort split ----------------------------------------------------------------------------------

class _Compile:
    playbook_data = {"stages": [{"id": "entrance", "title": {"zh": "确认商机", "en": "Entrance"}, "effort": 20},
                                {"id": "demand", "title": {"zh": "主导进程", "en": "Demand"}, "effort": 30},
                                {"id": "consulting", "title": "Consulting", "effort": 30}]}


def _hours(**by_phase):
    return {"activities": [{"date": "2026-01-01", "type": "visit", "phase": p, "hours": h} for p, h in by_phase.items()]}


def test_effort_split_renormalises_over_the_phases_compared():
    params = effort.prepare({"through": "demand"}, _Compile())
    assert params["planned"] == {"entrance": 40.0, "demand": 60.0}
    ok = effort.effort_rule(_hours(entrance=8, demand=12, consulting=50), {}, params, None)
    assert ok.passed and ok.values["share_pct"] == {"entrance": 40.0, "demand": 60.0}
    assert "确认商机 8 小时（40%，建议约 40%）" in ok.message["zh"]


def test_effort_split_says_where_too_much_time_went():
    params = effort.prepare({"through": "demand"}, _Compile())
    result = effort.effort_rule(_hours(entrance=30, demand=10, other=5), {}, params, None)
    assert not result.passed
    assert "确认商机用时偏多（高出 35 个百分点）" in result.message["zh"]
    assert "Too much time went into Entrance" in result.message["en"]
    assert result.values["hours_without_phase"] == 5


def test_effort_split_tolerance_and_explicit_split():
    params = effort.prepare({"through": "demand", "tolerance": 40, "split": {"entrance": 1, "demand": 1}}, _Compile())
    assert params["planned"] == {"entrance": 50.0, "demand": 50.0}
    assert effort.effort_rule(_hours(entrance=80, demand=20), {}, params, None).passed


def test_effort_split_without_hours_fails_and_says_so():
    params = effort.prepare({"through": "consulting"}, _Compile())
    result = effort.effort_rule({"activities": [{"phase": "entrance"}]}, {}, params, None)
    assert not result.passed and "activities[].hours" in result.message["en"]
    assert result.values["activities_without_hours"] == 1


def test_effort_split_bad_parameters_are_load_errors(playbook_kit, tmp_path):
    with pytest.raises(PlaybookError, match="unknown stage 'closing'"):
        effort.prepare({"through": "closing"}, _Compile())
    no_effort = type("C", (), {"playbook_data": {"stages": [{"id": "a"}]}})()
    with pytest.raises(PlaybookError, match="no suggested effort"):
        effort.prepare({"through": "a"}, no_effort)
    # through the loader: the problem is located in the playbook file
    import playbook_telecom

    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nversion: 1\ntitle: Bad\nstages:\n  - id: a\n    exit:\n      - id: e\n"
                   "        rule: telecom.effort-split\n        with: {through: nowhere}\n", encoding="utf-8")
    kit = playbook_kit(playbook_telecom, entry_points=False)
    with pytest.raises(PlaybookError) as info:
        kit.load(bad)
    assert "nowhere" in str(info.value) and "bad.yaml:7" in str(info.value)


# -- objections ------------------------------------------------------------------------------------

def test_objections_rule_uses_the_taxonomy_table(kit):
    from playbook.engine import evaluate

    pb = kit.load(PLAYBOOK_ID)
    facts = {"objections": [{"kind": "no_hurry", "text": "明年再说", "raised_by": "陈总"},
                            {"kind": "no_trust", "answered": True},
                            {"kind": "too_expensive"}]}
    result = evaluate(pb, facts)
    rule = result.results[pb.criterion("objections-answered").index]
    assert not rule.passed
    assert rule.values == {"logged": 3, "open": ["no_hurry", "too_expensive"]}
    zh = rule.message["zh"]
    assert zh.startswith("有 2 条客户异议尚未化解")
    assert "「不着急」" in zh and "明年再说" in zh and "业务节点" in zh
    assert "无法归类的异议（kind: 'too_expensive'" in zh


def test_objections_rule_passes_without_or_with_answered_objections():
    assert objections.objections_answered_rule({}, {}, {}, None).passed
    done = objections.objections_answered_rule({"objections": [{"kind": "no_money", "answered": True}]}, {}, {}, None)
    assert done.passed and "1" in done.message["en"]


def test_open_objections_function():
    assert objections.count_open(None) == 0
    assert objections.count_open([{"kind": "no_need"}, {"kind": "no_money", "answered": True}, "free text"]) == 2
    with pytest.raises(TypeError):
        objections.count_open("no_need")


def test_every_objection_kind_has_a_bilingual_row(kit):
    table = next(t for t in kit.load(PLAYBOOK_ID).data["tables"] if t["id"] == "objection_responses")
    classes = {r["then"]["class"]: r["then"] for r in table["rules"]}
    assert set(classes) == set(objections.KINDS)
    for row in classes.values():
        for key in ("title", "root_cause", "response"):
            assert set(row[key]) == {"zh", "en"} and all(row[key].values())
