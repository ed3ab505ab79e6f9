"""The four conditions of a qualified opportunity 合格销售商机 (exit of 确认商机):
need, decision authority, budget and a purchase timeline.

``assess(facts, today)`` judges each condition from the shared case sections and says, in
both languages, what is missing; the rule ``telecom.qualified`` turns one condition into a
criterion and the opportunity assessment sheet shows all four.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from playbook.rules import RuleResult

from .facts import get, records
from .texts import Text, text

CONDITIONS = ("need", "authority", "budget", "timeline")
CLOSED = ("won", "lost", "dropped")  # a past decision date no longer matters once the deal is decided

TITLES: dict[str, Text] = {
    "need": text("客户对我们的产品/服务有需求", "The customer needs our product or service"),
    "authority": text("客户自己有决策权", "The customer has the authority to decide"),
    "budget": text("客户有采购预算", "The customer has a budget for the purchase"),
    "timeline": text("客户有采购时间计划", "The customer has a purchase timeline"),
}

SCHEMA = {
    "type": "object",
    "required": ["condition"],
    "additionalProperties": False,
    "properties": {
        "condition": {"enum": list(CONDITIONS),
                      "description": "which of the four qualification conditions this criterion checks"},
    },
}


@dataclass
class Verdict:
    met: bool
    message: Text
    values: dict[str, Any] = field(default_factory=dict)


def _need(facts: dict[str, Any], today: dt.date) -> Verdict:
    flag = get(facts, "qualification.need")
    needs = records(facts, "needs.organisational")
    values = {"qualification.need": flag, "len(needs.organisational)": len(needs)}
    if flag is False:
        return Verdict(False, text(
            "客户目前对我们的产品/服务没有需求（qualification.need = false）。",
            "The customer has no need for our product or service at present (qualification.need = false)."), values)
    if flag is True and needs:
        return Verdict(True, text(
            f"需求已确认，已记录 {len(needs)} 条客户需求。",
            f"Need confirmed; {len(needs)} customer need(s) recorded."), values)
    if flag is True:
        return Verdict(False, text(
            "已判断客户有需求，但 needs.organisational 里还没有记录任何具体需求，无法核实。",
            "The need is marked as present, but no concrete need is recorded in needs.organisational to back it."),
            values)
    return Verdict(False, text(
        "还没有确认客户是否需要我们的产品/服务（qualification.need 未填写）。",
        "It is not yet established whether the customer needs our product or service (qualification.need is not set)."),
        values)


def _authority(facts: dict[str, Any], today: dt.date) -> Verdict:
    flag = get(facts, "qualification.authority")
    makers = [s.get("name") for s in records(facts, "stakeholders") if s.get("role") == "decision_maker"]
    makers = [m for m in makers if isinstance(m, str)]
    values = {"qualification.authority": flag, "decision_makers": makers}
    if flag is False:
        return Verdict(False, text(
            "我们接触的客户单位自己不能拍板（qualification.authority = false），决定权在别处。",
            "The customer unit we deal with cannot decide itself (qualification.authority = false); the decision lies elsewhere."),
            values)
    if flag is not True:
        return Verdict(False, text(
            "还没有弄清客户单位是否有权自己决定这次采购（qualification.authority 未填写）。",
            "It is not yet clear whether the customer unit can decide this purchase itself (qualification.authority is not set)."),
            values)
    if not makers:
        return Verdict(False, text(
            "已判断客户有决策权，但关系图（stakeholders）上还没有标出决策人（role: decision_maker）。",
            "Authority is marked as present, but no decision maker (role: decision_maker) is on the stakeholder map."),
            values)
    return Verdict(True, text(
        f"客户有决策权，决策人：{'、'.join(makers)}。",
        f"The customer can decide; decision maker(s): {', '.join(makers)}."), values)


def _budget(facts: dict[str, Any], today: dt.date) -> Verdict:
    confirmed = get(facts, "opportunity.budget_confirmed")
    funded = get(facts, "opportunity.funded")
    amount = get(facts, "opportunity.amount")
    values = {"opportunity.budget_confirmed": confirmed, "opportunity.funded": funded,
              "opportunity.amount": amount}
    if confirmed is True:
        shown = f"{amount:,.0f}" if isinstance(amount, (int, float)) and not isinstance(amount, bool) else None
        return Verdict(True, text(
            "预算已由预算负责人确认" + (f"，金额约 {shown} 元。" if shown else "。"),
            "Budget confirmed by its owner" + (f", about {shown}." if shown else ".")), values)
    if funded is True:
        return Verdict(False, text(
            "资金似乎有着落（opportunity.funded = true），但预算的金额和来源还没有经预算负责人确认。",
            "Money seems to be there (opportunity.funded = true), but no budget owner has confirmed the amount and source."),
            values)
    if funded is False or confirmed is False:
        return Verdict(False, text(
            "客户还没有为这次采购安排预算。",
            "The customer has no budget for this purchase yet."), values)
    return Verdict(False, text(
        "还不知道客户有没有采购预算（opportunity.budget_confirmed 未填写）。",
        "Whether the customer has a budget is unknown (opportunity.budget_confirmed is not set)."), values)


def _timeline(facts: dict[str, Any], today: dt.date) -> Verdict:
    date_text = get(facts, "opportunity.timeline.decision_date")
    confirmed = get(facts, "opportunity.timeline.confirmed")
    values = {"opportunity.timeline.decision_date": date_text, "opportunity.timeline.confirmed": confirmed}
    if date_text is None:
        return Verdict(False, text(
            "客户还没有采购时间计划（opportunity.timeline.decision_date 未填写）。",
            "The customer has no purchase timeline (opportunity.timeline.decision_date is not set)."), values)
    try:
        when = dt.date.fromisoformat(str(date_text))
    except ValueError:
        return Verdict(False, text(
            f"采购决策日期“{date_text}”不是有效日期，请写成 YYYY-MM-DD。",
            f"The decision date {date_text!r} is not a valid date; write it as YYYY-MM-DD."), values)
    decided = get(facts, "opportunity.contract.signed") is True or get(facts, "opportunity.status") in CLOSED
    if when < today and not decided:
        return Verdict(False, text(
            f"原定的决策日期 {when.isoformat()} 已经过去，采购计划可能已经变化。",
            f"The planned decision date {when.isoformat()} has passed; the purchase plan may have changed."), values)
    if confirmed is not True:
        return Verdict(False, text(
            f"决策日期 {when.isoformat()} 是我们的估计，还没有得到客户确认。",
            f"The decision date {when.isoformat()} is our estimate; the customer has not confirmed it."), values)
    if when < today:
        return Verdict(True, text(f"采购时间计划为 {when.isoformat()}，该单已有结果。",
                                  f"The purchase timeline was {when.isoformat()}; the deal is decided."), values)
    return Verdict(True, text(
        f"客户已确认在 {when.isoformat()} 前做出采购决定（还有 {(when - today).days} 天）。",
        f"The customer has confirmed a decision by {when.isoformat()} ({(when - today).days} days from now)."), values)


_JUDGES = {"need": _need, "authority": _authority, "budget": _budget, "timeline": _timeline}


def judge(condition: str, facts: dict[str, Any], today: dt.date) -> Verdict:
    return _JUDGES[condition](facts if isinstance(facts, dict) else {}, today)


def assess(facts: dict[str, Any], today: dt.date) -> dict[str, Verdict]:
    """All four conditions, in order."""
    return {c: judge(c, facts, today) for c in CONDITIONS}


def qualified_rule(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> RuleResult:
    verdict = judge(params["condition"], facts, ctx.today)
    return RuleResult(verdict.met, verdict.message, verdict.values)
