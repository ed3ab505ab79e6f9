"""The tools of the qualification flow as actions that produce filled sheets from a case.

Each action returns ``{"sheet", "data", "markdown"}``: structured JSON for integrators and a
Markdown rendering in zh and en (the report picks the language). A sheet never invents facts:
what the case does not say is shown as blank (—) with a note on how to fill it.
"""

from __future__ import annotations

from typing import Any

from . import assessment, latent_needs, objections, profile, sdi, stories, swot, visits

SHEETS = {
    "telecom.profile-sheet": (profile.build, {"en": "Customer profile sheet", "zh": "客户全貌表"}),
    "telecom.swot-sheet": (swot.build, {"en": "Customer SWOT sheet", "zh": "客户SWOT分析表"}),
    "telecom.latent-need-sheet": (latent_needs.build, {"en": "Latent-need sheet", "zh": "客户潜在需求分析表"}),
    "telecom.visit-log": (visits.build, {"en": "Visit log", "zh": "客户拜访记录表"}),
    "telecom.sdi-sheet": (sdi.build, {"en": "Situation, difficulty and impact sheet with question preparation",
                                      "zh": "客户现状、困难、影响分析表及问话准备表"}),
    "telecom.success-stories": (stories.build, {"en": "Customer success stories with FAB", "zh": "客户成功案例表（FAB）"}),
    "telecom.opportunity-assessment": (assessment.build, {"en": "Opportunity assessment sheet", "zh": "销售商机评估表"}),
    "telecom.objection-responses": (objections.build, {"en": "Open objections and responses", "zh": "未化解异议及应对"}),
}

NO_PARAMS: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
SCHEMAS: dict[str, dict[str, Any]] = {
    "telecom.objection-responses": objections.SCHEMA,
    "telecom.success-stories": stories.SCHEMA,
    "telecom.swot-sheet": swot.SCHEMA,
}


def register_all(register: Any) -> None:
    for name, (func, title) in SHEETS.items():
        register(name, func, schema=SCHEMAS.get(name, NO_PARAMS), title=title,
                 description=f"produces the {title['en'].lower()} from the case (JSON + Markdown, zh/en)")
