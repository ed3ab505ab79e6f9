"""销售商机评估表 — the opportunity assessment sheet (step 7): the four conditions of a
qualified opportunity, the seven flow steps, and a verdict with the first thing to do."""

from __future__ import annotations

from typing import Any

from .. import flow, qualification
from ..texts import YES_NO, pick, table, text
from .common import header, header_md, output

TITLE = text("销售商机评估表", "Opportunity assessment sheet")
NEXT: dict[str, Any] = {
    "need": text("先把客户的需求谈清楚，并记录到 needs.organisational。",
                 "Pin down the customer's need and record it in needs.organisational."),
    "authority": text("弄清谁能拍板：客户单位自己能否决定，决策人是谁。",
                      "Find out who decides: can the customer unit decide itself, and who is the decision maker?"),
    "budget": text("找预算负责人确认预算的金额和来源。", "Have the budget owner confirm the amount and source of the budget."),
    "timeline": text("和客户确认采购决策的时间。", "Agree the decision date with the customer."),
}


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    verdicts = qualification.assess(facts, ctx.today)
    steps = {s: flow.check(s, facts) for s in flow.STEPS}
    missing = [c for c, v in verdicts.items() if not v.met]
    man = derived.get("man") if isinstance(derived, dict) else None
    data = {
        "header": header(facts, ctx),
        "conditions": {c: {"met": v.met, "title": qualification.TITLES[c], "finding": v.message}
                       for c, v in verdicts.items()},
        "flow": {s: {"done": v.met, "title": flow.TITLES[s], "tool": flow.TOOLS[s], "finding": v.message}
                 for s, v in steps.items()},
        "qualified": not missing,
        "missing": missing,
        "next": NEXT[missing[0]] if missing else None,
        "man_class": man.get("class") if isinstance(man, dict) else None,
    }

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        out.append(table([text("合格商机条件", "Condition"), text("结论", "Met"), text("依据", "Finding")],
                         [[qualification.TITLES[c], YES_NO[v.met], v.message] for c, v in verdicts.items()], lang))
        out.append("\n" + table([text("确认商机步骤", "Qualification step"), text("完成", "Done"),
                                 text("工具", "Tool"), text("情况", "Finding")],
                                [[flow.TITLES[s], v.met, flow.TOOLS[s], v.message] for s, v in steps.items()], lang))
        if data["man_class"]:
            out.append("\n" + (f"MAN 分类：{data['man_class']}" if zh else f"MAN class: {data['man_class']}"))
        if missing:
            names = ("、" if zh else ", ").join(pick(qualification.TITLES[c], lang) for c in missing)
            out.append("\n" + (f"**结论：还不是合格商机。** 缺：{names}。先做：{pick(data['next'], lang)}" if zh
                               else f"**Verdict: not yet a qualified opportunity.** Missing: {names}. First: {pick(data['next'], lang)}"))
        else:
            out.append("\n" + ("**结论：合格商机，可以投入资源跟进。**" if zh
                               else "**Verdict: a qualified opportunity; commit resources to it.**"))
        return "\n".join(out)

    return output("opportunity_assessment", data, render)
