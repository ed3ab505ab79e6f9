"""Need-research quality 需求调研的目标: broad, deep, organisational and personal,
prioritised, relevant. One rule, ``telecom.need-research``, with the aspect as parameter;
each failing aspect names the people or needs that fall short."""

from __future__ import annotations

from typing import Any

from playbook.rules import RuleResult

from .facts import records
from .texts import text

ASPECTS = ("broad", "deep", "dual", "prioritised", "relevant")

SCHEMA = {
    "type": "object",
    "required": ["aspect"],
    "additionalProperties": False,
    "properties": {
        "aspect": {"enum": list(ASPECTS)},
        "roles": {
            "type": "array", "items": {"type": "string"},
            "description": "broad: stakeholder roles that form the customer's project team (default: every role but 'other')",
        },
    },
}


def _label(need: dict[str, Any], i: int) -> str:
    value = need.get("text")
    return f"“{value}”" if isinstance(value, str) and value else f"#{i + 1}"


def _broad(facts: dict[str, Any], params: dict[str, Any]) -> RuleResult:
    roles = params.get("roles")
    team = [s for s in records(facts, "stakeholders")
            if isinstance(s.get("name"), str) and (s.get("role") in roles if roles else s.get("role") != "other")]
    if not team:
        return RuleResult(False, text(
            "关系图上还没有客户项目小组的成员，无法判断需求是否覆盖到每个人。",
            "No member of the customer's project team is on the stakeholder map yet."), {"team": 0})
    voiced = {n.get("raised_by") for n in records(facts, "needs.organisational")}
    voiced |= {n.get("stakeholder") for n in records(facts, "needs.personal")}
    silent = [s["name"] for s in team if s["name"] not in voiced]
    values = {"team": len(team), "without_needs": silent}
    if silent:
        return RuleResult(False, text(
            f"还不了解这些项目小组成员的痛点：{'、'.join(silent)}。",
            f"The pains of these project-team members are not known yet: {', '.join(silent)}."), values)
    return RuleResult(True, text(
        f"项目小组 {len(team)} 人的痛点都已了解。", f"The pains of all {len(team)} project-team members are known."), values)


def _deep(facts: dict[str, Any], params: dict[str, Any]) -> RuleResult:
    needs = records(facts, "needs.organisational")
    latent = [n for n in needs if n.get("latent") is True]
    values = {"needs": len(needs), "latent": len(latent)}
    if latent:
        return RuleResult(True, text(
            f"已挖掘出 {len(latent)} 条客户自己没有意识到的潜在需求。",
            f"{len(latent)} latent need(s) the customer had not recognised have been uncovered."), values)
    return RuleResult(False, text(
        f"已记录的 {len(needs)} 条需求都是客户自己提出的，还没有挖出客户没意识到的需求（latent: true）。",
        f"All {len(needs)} recorded need(s) were stated by the customer; none goes beyond them (latent: true)."),
        values)


def _dual(facts: dict[str, Any], params: dict[str, Any]) -> RuleResult:
    org = len(records(facts, "needs.organisational"))
    personal = len(records(facts, "needs.personal"))
    values = {"organisational": org, "personal": personal}
    if org and personal:
        return RuleResult(True, text(
            f"公事需求 {org} 条、个人愿望 {personal} 条，公私兼顾。",
            f"{org} organisational and {personal} personal need(s): both sides covered."), values)
    missing = [t for t, n in ((text("公事需求（needs.organisational）", "organisational needs (needs.organisational)"), org),
                              (text("个人愿望（needs.personal）", "personal wishes (needs.personal)"), personal)) if not n]
    return RuleResult(False, text(
        "还缺少" + "和".join(m["zh"] for m in missing) + "。",
        "Missing: " + " and ".join(m["en"] for m in missing) + "."), values)


def _prioritised(facts: dict[str, Any], params: dict[str, Any]) -> RuleResult:
    needs = records(facts, "needs.organisational")
    if not needs:
        return RuleResult(False, text("还没有记录任何需求，谈不上排优先顺序。",
                                      "No need recorded yet, so nothing is prioritised."), {"needs": 0})
    unranked = [_label(n, i) for i, n in enumerate(needs) if n.get("priority") not in ("high", "medium", "low")]
    high = sum(1 for n in needs if n.get("priority") == "high")
    values = {"needs": len(needs), "unranked": len(unranked), "high": high}
    if unranked:
        return RuleResult(False, text(
            f"这些需求还没有排轻重缓急：{'、'.join(unranked)}。",
            f"These needs have no priority yet: {', '.join(unranked)}."), values)
    if not high:
        return RuleResult(False, text(
            "所有需求都不是“高”优先级，还没找出客户最急迫的事。",
            "No need is high priority: what matters most to the customer is not identified."), values)
    return RuleResult(True, text(f"需求已排序，其中 {high} 条为高优先级。",
                                 f"Needs are prioritised; {high} high priority."), values)


def _relevant(facts: dict[str, Any], params: dict[str, Any]) -> RuleResult:
    needs = records(facts, "needs.organisational")
    if not needs:
        return RuleResult(False, text("还没有记录任何需求。", "No need recorded yet."), {"needs": 0})
    loose = [_label(n, i) for i, n in enumerate(needs)
             if not (isinstance(n.get("addressed_by"), str) and n["addressed_by"].strip())]
    values = {"needs": len(needs), "unlinked": len(loose)}
    if loose:
        return RuleResult(False, text(
            f"这些需求还没有对应到我们的产品/服务（addressed_by）：{'、'.join(loose)}。",
            f"These needs are not linked to a product or service of ours (addressed_by): {', '.join(loose)}."), values)
    return RuleResult(True, text("每条需求都对应到了我们能提供的产品/服务。",
                                 "Every need maps to a product or service we offer."), values)


_ASPECTS = {"broad": _broad, "deep": _deep, "dual": _dual, "prioritised": _prioritised, "relevant": _relevant}


def need_research_rule(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> RuleResult:
    return _ASPECTS[params["aspect"]](facts if isinstance(facts, dict) else {}, params)
