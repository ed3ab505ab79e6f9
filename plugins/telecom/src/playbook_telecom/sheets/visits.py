"""客户拜访记录表 — the visit log (step 4): planned visits and the visits made."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..facts import records
from ..texts import label, table, text
from .common import header, header_md, output

TITLE = text("客户拜访记录表", "Visit log")
VISIT_TYPES = ("visit", "meeting", "presentation")
PHASES = {"entrance": text("确认商机", "entrance"), "demand": text("主导进程", "demand"),
          "consulting": text("方案论证", "consulting"), "business": text("商务洽谈", "business"),
          "action": text("销售成交", "action")}


def _overdue(visit: dict[str, Any], today: dt.date) -> bool:
    if visit.get("status", "planned") != "planned":
        return False
    try:
        return dt.date.fromisoformat(str(visit.get("date"))) < today
    except ValueError:
        return False


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    plan = [{k: v.get(k) for k in ("date", "with", "objective", "questions", "status")} | {"overdue": _overdue(v, ctx.today)}
            for v in records(facts, "visit_plan")]
    made = [{k: a.get(k) for k in ("date", "type", "with", "phase", "hours", "notes")}
            for a in records(facts, "activities") if a.get("type") in VISIT_TYPES]
    data = {"header": header(facts, ctx), "planned": plan, "made": made,
            "overdue": sum(1 for v in plan if v["overdue"])}

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        out.append("**拜访计划**" if zh else "**Planned visits**")
        out.append(table([text("日期", "Date"), text("拜访对象", "With"), text("拜访目的", "Objective"),
                          text("准备的问题", "Prepared questions"), text("状态", "Status")],
                         [[v["date"], v["with"], v["objective"], v["questions"],
                           (text("已过期未执行", "overdue") if v["overdue"] else label(v["status"] or "planned"))]
                          for v in plan], lang))
        out.append("\n" + ("**拜访记录**" if zh else "**Visits made**"))
        out.append(table([text("日期", "Date"), text("方式", "Type"), text("拜访对象", "With"),
                          text("阶段", "Phase"), text("小时", "Hours"), text("结果与约定", "Outcome")],
                         [[a["date"], label(a["type"]), a["with"], PHASES.get(a["phase"], a["phase"]), a["hours"], a["notes"]] for a in made], lang))
        return "\n".join(out)

    return output("visits", data, render)
