"""The qualification flow 确认商机的流程, seven steps, each with its tool:

1 collect the full customer profile (profile sheet) → 2 customer SWOT (SWOT sheet) →
3 predict latent needs (latent-need sheet) → 4 planned visits (visit log) →
5 situation / difficulty / impact (SDI sheet and its question preparation) →
6 make the customer interested (success stories, FAB) → 7 the customer commits to a
project 立项 (opportunity assessment sheet).

``check(step, facts)`` judges one step; the rule ``telecom.flow-step`` makes it a criterion
and the opportunity assessment sheet lists all seven, so both always agree.
"""

from __future__ import annotations

from typing import Any

from playbook.rules import RuleResult

from .facts import get, records
from .qualification import Verdict
from .swot import QUADRANTS, entries
from .texts import Text, text

STEPS = ("profile", "swot", "latent_needs", "visits", "sdi", "interest", "project")
PROFILE_KINDS = ("background", "current_use", "organisation", "personal", "competitors")
PROFILE_REQUIRED = ("background", "current_use", "organisation")

TITLES: dict[str, Text] = {
    "profile": text("收集客户全貌信息", "Collect the full customer profile"),
    "swot": text("分析客户的 SWOT", "Analyse the customer's SWOT"),
    "latent_needs": text("预测客户潜在需求", "Predict the customer's latent needs"),
    "visits": text("有计划地拜访客户", "Visit the customer to a plan"),
    "sdi": text("分析现状、困难及影响", "Analyse situation, difficulty and impact"),
    "interest": text("让客户对我们的产品/服务感兴趣", "Make the customer interested in our offer"),
    "project": text("引导客户承诺立项", "Lead the customer to commit to a project (立项)"),
}
TOOLS: dict[str, Text] = {
    "profile": text("客户全貌表", "customer profile sheet"),
    "swot": text("客户 SWOT 分析表", "customer SWOT sheet"),
    "latent_needs": text("客户潜在需求分析表", "latent-need sheet"),
    "visits": text("客户拜访记录表", "visit log"),
    "sdi": text("现状、困难、影响分析表及问话准备表", "situation-difficulty-impact sheet and question preparation"),
    "interest": text("客户成功案例表、FAB 说服技巧", "customer success stories, FAB"),
    "project": text("销售商机评估表", "opportunity assessment sheet"),
}

SCHEMA = {
    "type": "object",
    "required": ["step"],
    "additionalProperties": False,
    "properties": {"step": {"enum": list(STEPS)}},
}


# How the missing parts are named to people (the case keys stay English).
PART_NAMES = {
    "background": ("背景资料", "background"),
    "current_use": ("使用现状", "current use"),
    "organisation": ("组织机构", "organisation"),
    "personal": ("个人资料", "personal data"),
    "competitors": ("竞争对手", "competitors"),
    "stakeholders": ("客户关系图", "stakeholder map"),
    "strengths": ("优势", "strengths"),
    "weaknesses": ("劣势", "weaknesses"),
    "opportunities": ("机会", "opportunities"),
    "threats": ("威胁", "threats"),
}


def _names(keys: list[str], lang: int) -> list[str]:
    return [PART_NAMES.get(k, (k, k))[lang] for k in keys]


def _profile(facts: dict[str, Any]) -> Verdict:
    profile = get(facts, "account.profile", {})
    profile = profile if isinstance(profile, dict) else {}
    have = [k for k in PROFILE_KINDS if isinstance(profile.get(k), dict)]
    missing = [k for k in PROFILE_REQUIRED if k not in have]
    people = len(records(facts, "stakeholders"))
    values = {"collected": have, "stakeholders": people}
    if missing or not people:
        gaps = missing + ([] if people else ["stakeholders"])
        return Verdict(False, text(
            f"客户全貌还不完整，缺：{'、'.join(gaps)}（背景、使用现状、组织机构三类资料和关系图是起码的）。",
            f"The customer profile is incomplete; missing: {', '.join(gaps)} (background, current use, organisation and the stakeholder map are the minimum)."),
            values)
    return Verdict(True, text(f"已收集 {len(have)}/5 类客户资料，关系图 {people} 人。",
                              f"{len(have)} of 5 kinds of customer data collected; {people} people on the map."), values)


def _swot(facts: dict[str, Any]) -> Verdict:
    swot = entries(facts)
    missing = [q for q in QUADRANTS if not swot[q]]
    values = {q: len(swot[q]) for q in QUADRANTS}
    if missing:
        return Verdict(False, text(f"SWOT 还缺：{'、'.join(_names(missing, 0))}。",
                                   f"SWOT lacks: {', '.join(_names(missing, 1))}."), values)
    return Verdict(True, text("SWOT 四个象限都已填写。", "All four SWOT quadrants are filled."), values)


def _latent(facts: dict[str, Any]) -> Verdict:
    latent = [n for n in records(facts, "needs.organisational") if n.get("latent") is True]
    values = {"latent": len(latent)}
    if not latent:
        return Verdict(False, text("还没有预测出客户的潜在需求（needs.organisational 中 latent: true 的条目）。",
                                   "No latent need predicted yet (needs.organisational entries with latent: true)."), values)
    return Verdict(True, text(f"已预测 {len(latent)} 条潜在需求。", f"{len(latent)} latent need(s) predicted."), values)


def _visits(facts: dict[str, Any]) -> Verdict:
    plan = records(facts, "visit_plan")
    aimless = [i + 1 for i, v in enumerate(plan) if not (isinstance(v.get("objective"), str) and v["objective"].strip())]
    values = {"planned": len(plan), "without_objective": len(aimless)}
    if not plan:
        return Verdict(False, text("还没有拜访计划（visit_plan）。", "No visit plan yet (visit_plan)."), values)
    if aimless:
        return Verdict(False, text(f"第 {'、'.join(map(str, aimless))} 次拜访没有写明目的。",
                                   f"Visit(s) {', '.join(map(str, aimless))} have no stated objective."), values)
    return Verdict(True, text(f"已计划 {len(plan)} 次有明确目的的拜访。",
                              f"{len(plan)} visit(s) planned, each with an objective."), values)


def _sdi(facts: dict[str, Any]) -> Verdict:
    rows = records(facts, "sdi")

    def filled(row: dict[str, Any], key: str) -> bool:
        return isinstance(row.get(key), str) and bool(row[key].strip())

    full = [r for r in rows if all(filled(r, k) for k in ("situation", "difficulty", "impact"))]
    values = {"rows": len(rows), "complete_rows": len(full)}
    if full:
        return Verdict(True, text(f"已有 {len(full)} 个话题把现状、困难、影响都谈透了。",
                                  f"{len(full)} topic(s) worked through situation, difficulty and impact."), values)
    if rows:
        return Verdict(False, text("已开始分析，但还没有一个话题同时弄清了现状、困难和影响。",
                                   "Analysis started, but no topic has situation, difficulty and impact all filled."), values)
    return Verdict(False, text("还没有做现状、困难、影响分析（sdi）。",
                               "No situation-difficulty-impact analysis yet (sdi)."), values)


def _interest(facts: dict[str, Any]) -> Verdict:
    shown = get(facts, "interest.shown")
    values = {"interest.shown": shown}
    if shown is True:
        return Verdict(True, text("客户已对我们的产品/服务表现出兴趣。", "The customer has shown interest in our offer."), values)
    return Verdict(False, text("客户还没有对我们的产品/服务表现出兴趣（interest.shown）。",
                               "The customer has not shown interest in our offer yet (interest.shown)."), values)


def _project(facts: dict[str, Any]) -> Verdict:
    committed = get(facts, "project.committed")
    values = {"project.committed": committed, "project.name": get(facts, "project.name")}
    if committed is True:
        return Verdict(True, text("客户已承诺立项。", "The customer has committed to a project."), values)
    return Verdict(False, text("客户还没有承诺立项（project.committed）。",
                               "The customer has not committed to a project yet (project.committed)."), values)


_CHECKS = {"profile": _profile, "swot": _swot, "latent_needs": _latent, "visits": _visits, "sdi": _sdi,
           "interest": _interest, "project": _project}


def check(step: str, facts: dict[str, Any]) -> Verdict:
    return _CHECKS[step](facts if isinstance(facts, dict) else {})


def flow_step_rule(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> RuleResult:
    verdict = check(params["step"], facts)
    return RuleResult(verdict.met, verdict.message, verdict.values)
