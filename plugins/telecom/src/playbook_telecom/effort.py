"""Where the time went: logged activity hours by phase against the suggested effort split.

The consultative-sales method suggests 20/30/30/10/10 percent of the effort for its five
phases (the stages' ``effort:``). ``telecom.effort-split`` compares the hours in
``activities[].hours`` by ``activities[].phase`` over the phases up to and including
``through`` with the suggested shares of those same phases, renormalised, so it is meaningful
while the sale is still under way. It fails when any phase is off by more than ``tolerance``
percentage points, or when no hours are logged, and always says how the hours were spent.
"""

from __future__ import annotations

from typing import Any

from playbook.errors import PlaybookError
from playbook.rules import RuleResult

from .facts import records
from .texts import pick, text

SCHEMA = {
    "type": "object",
    "required": ["through"],
    "additionalProperties": False,
    "properties": {
        "through": {"type": "string", "description": "compare the phases from the first up to this stage id"},
        "tolerance": {"type": "number", "minimum": 0, "maximum": 100, "default": 15,
                      "description": "largest allowed gap, in percentage points"},
        "split": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0},
                  "description": "stage id -> suggested percent (default: the stages' `effort:`)"},
    },
}


def prepare(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Resolve the phases and their suggested shares once, at load time."""
    data = getattr(ctx, "playbook_data", None) or {}
    stages = [s for s in data.get("stages") or [] if isinstance(s, dict)]
    titles = {s["id"]: s.get("title") or s["id"] for s in stages}
    order = [s["id"] for s in stages]
    split = params.get("split") or {s["id"]: s["effort"] for s in stages if "effort" in s}
    through = params["through"]
    if not order:  # no access to the playbook (older core): the explicit split gives the order
        order = list(split)
        titles = {k: k for k in order}
    if through not in order:
        raise PlaybookError(f"telecom.effort-split: unknown stage {through!r} in `with.through` "
                            f"(stages: {', '.join(order) or 'none'})")
    phases = order[: order.index(through) + 1]
    missing = [p for p in phases if p not in split]
    if missing:
        raise PlaybookError(f"telecom.effort-split: no suggested effort for stage(s) {', '.join(missing)}; "
                            "give them `effort:` or pass `with.split`")
    planned_total = sum(split[p] for p in phases)
    if planned_total <= 0:
        raise PlaybookError("telecom.effort-split: the suggested efforts of the compared stages add up to 0")
    return {
        "phases": phases,
        "titles": {p: titles[p] for p in phases},
        "planned": {p: 100.0 * split[p] / planned_total for p in phases},
        "tolerance": float(params.get("tolerance", 15)),
        "known": set(order),
    }


def hours_by_phase(facts: dict[str, Any], known: set[str]) -> tuple[dict[str, float], float, int]:
    """(hours per known phase, hours with an unknown or no phase, activities without hours)."""
    by_phase: dict[str, float] = {}
    unassigned = 0.0
    no_hours = 0
    for activity in records(facts, "activities"):
        hours = activity.get("hours")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours < 0:
            no_hours += 1
            continue
        phase = activity.get("phase")
        if phase in known:
            by_phase[phase] = by_phase.get(phase, 0.0) + float(hours)
        else:
            unassigned += float(hours)
    return by_phase, unassigned, no_hours


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def effort_rule(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> RuleResult:
    phases, planned, titles = params["phases"], params["planned"], params["titles"]
    by_phase, unassigned, no_hours = hours_by_phase(facts if isinstance(facts, dict) else {}, params["known"])
    total = sum(by_phase.get(p, 0.0) for p in phases)
    values: dict[str, Any] = {"hours": {p: by_phase.get(p, 0.0) for p in phases}, "total_hours": total}
    if unassigned:
        values["hours_without_phase"] = unassigned
    if no_hours:
        values["activities_without_hours"] = no_hours
    if total <= 0:
        return RuleResult(False, text(
            "还没有按阶段记录工时（activities[].phase 和 activities[].hours），看不出时间花在了哪里。",
            "No hours logged by phase yet (activities[].phase and activities[].hours), so where the time went is unknown."),
            values)
    actual = {p: 100.0 * by_phase.get(p, 0.0) / total for p in phases}
    gaps = {p: actual[p] - planned[p] for p in phases}
    worst = max(phases, key=lambda p: abs(gaps[p]))
    values["share_pct"] = {p: round(actual[p], 1) for p in phases}
    values["suggested_pct"] = {p: round(planned[p], 1) for p in phases}
    ok = abs(gaps[worst]) <= params["tolerance"]

    def sentence(lang: str) -> str:
        zh = lang == "zh"
        parts = [
            (f"{pick(titles[p], lang)} {_fmt(by_phase.get(p, 0.0))} 小时（{actual[p]:.0f}%，建议约 {planned[p]:.0f}%）"
             if zh else
             f"{pick(titles[p], lang)} {_fmt(by_phase.get(p, 0.0))} h ({actual[p]:.0f}%, suggested ~{planned[p]:.0f}%)")
            for p in phases
        ]
        head = (f"共记录 {_fmt(total)} 小时：" if zh else f"{_fmt(total)} h logged: ") + ("；" if zh else "; ").join(parts)
        if ok:
            tail = "。时间分配与建议比例基本一致。" if zh else ". The split is in line with the suggestion."
        else:
            name = pick(titles[worst], lang)
            points = abs(gaps[worst])
            if gaps[worst] > 0:
                tail = (f"。{name}用时偏多（高出 {points:.0f} 个百分点）。" if zh
                        else f". Too much time went into {name} ({points:.0f} points over).")
            else:
                tail = (f"。{name}用时偏少（低了 {points:.0f} 个百分点）。" if zh
                        else f". Too little time went into {name} ({points:.0f} points under).")
        if unassigned:
            tail += (f"另有 {_fmt(unassigned)} 小时没有标明阶段。" if zh
                     else f" Another {_fmt(unassigned)} h have no phase.")
        return head + tail

    return RuleResult(ok, {"zh": sentence("zh"), "en": sentence("en")}, values)
