"""Criterion rules: ``banking.grade-at-least``.

A rule is the way to give a criterion a tailored failure message; here, an ungraded project
says which scores are still missing instead of "derived.project_value.grade is null".
"""

from __future__ import annotations

from typing import Any

from playbook.rules import RuleResult

GRADES = ("A", "B", "C")

GRADE_AT_LEAST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["min"],
    "additionalProperties": False,
    "properties": {
        "min": {"enum": list(GRADES), "description": "the lowest grade that passes (A is best)"},
        "table": {"type": "string", "default": "project_value",
                  "description": "id of the decision table whose outcome has `grade`"},
        "scorecard": {"type": "string", "default": "project_scorecard",
                      "description": "id of the scorecard behind the grade (to name missing scores)"},
    },
}


def grade_at_least(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any],
                   ctx: Any) -> RuleResult:
    table = params.get("table", "project_value")
    wanted = params["min"]
    grade = (derived.get(table) or {}).get("grade")
    values = {f"derived.{table}.grade": grade}
    if grade not in GRADES:
        card = derived.get(params.get("scorecard", "project_scorecard")) or {}
        missing = card.get("missing") or []
        detail_en = f"{len(missing)} indicator score(s) missing: {', '.join(missing)}" if missing else \
            "the scorecard has not been filled in"
        detail_zh = f"评分表还缺 {len(missing)} 项评分：{', '.join(missing)}" if missing else "尚未填写项目价值评分表"
        return RuleResult(False, {"en": f"the project has no grade yet ({detail_en})",
                                  "zh": f"项目尚未评级（{detail_zh}）"}, values)
    ok = GRADES.index(grade) <= GRADES.index(wanted)
    if ok:
        return RuleResult(True, {"en": f"grade {grade} (at least {wanted})", "zh": f"{grade}级（不低于{wanted}级）"},
                          values)
    return RuleResult(False, {"en": f"grade {grade} is below {wanted}", "zh": f"项目为{grade}级，低于{wanted}级"},
                      values)
