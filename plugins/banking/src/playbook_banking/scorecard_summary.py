"""Action ``banking.scorecard-summary``: a scorecard and its decision, for people.

Reads ``derived.<scorecard>`` (computed by the core from the playbook's ``scorecards:``) and
``derived.<decision>`` (a decision table with ``grade``/``label``/``advice``), and returns a
Markdown summary in each language plus the same figures as JSON. It never recomputes a score:
the playbook's scorecard is the single source of truth.
"""

from __future__ import annotations

from typing import Any

from .advice import _text

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "scorecard": {"type": "string", "default": "project_scorecard"},
        "decision": {"type": "string", "default": "project_value",
                     "description": "decision table giving grade/label/advice (optional)"},
    },
}

WORDS = {
    "zh": {"title": "项目价值评分汇总", "dimension": "维度", "factor": "因素", "score": "得分",
           "range": "可能区间", "band": "档次", "missing": "待评分", "invalid": "分值不在量表内",
           "none": "—", "grade": "项目取舍", "ungraded": "尚未评级：请先补全全部指标的评分",
           "sep": "：", "join": "、"},
    "en": {"title": "Project value scorecard summary", "dimension": "Dimension", "factor": "Factor",
           "score": "Score", "range": "Range", "band": "Band", "missing": "Not yet scored",
           "invalid": "Score off the scale", "none": "-", "grade": "Decision",
           "ungraded": "No grade yet: score every indicator first", "sep": ": ", "join": ", "},
}


def _title(node: dict[str, Any], fallback: str, lang: str) -> str:
    return _text(node.get("title"), lang) or fallback


def _indicator_names(card: dict[str, Any], ids: list[str], lang: str) -> list[str]:
    names = {}
    for dim in card.get("dimensions", {}).values():
        for factor in dim.get("factors", {}).values():
            for ind_id, ind in factor.get("indicators", {}).items():
                names[ind_id] = _text(ind.get("title"), lang) or ind_id
    return [names.get(i, i) for i in ids]


def markdown(card: dict[str, Any], decision: dict[str, Any] | None, lang: str) -> str:
    w = WORDS[lang]
    lines = [f"### {w['title']}", "",
             f"| {w['dimension']} | {w['factor']} | {w['score']} | {w['range']} | {w['band']} |",
             "|---|---|---:|---|---|"]
    for dim_id, dim in card.get("dimensions", {}).items():
        band = _text(dim.get("band_title"), lang) or dim.get("band") or w["none"]
        lines.append(f"| **{_title(dim, dim_id, lang)}** | | **{dim['score']}** | {dim['min']}…{dim['max']} | "
                     f"**{band}** |")
        for f_id, factor in dim.get("factors", {}).items():
            mark = "" if factor.get("complete") else " *"
            lines.append(f"| | {_title(factor, f_id, lang)}{mark} | {factor['score']} | | |")
    lines.append("")
    if card.get("missing"):
        missing = [i for i in card["missing"] if i not in (card.get("invalid") or [])]
        if missing:
            lines.append(f"- {w['missing']}{w['sep']}{w['join'].join(_indicator_names(card, missing, lang))}")
    if card.get("invalid"):
        lines.append(f"- {w['invalid']}{w['sep']}{w['join'].join(_indicator_names(card, card['invalid'], lang))}")
    if decision and decision.get("grade"):
        label = _text(decision.get("label"), lang)
        lines.append(f"- **{w['grade']}{w['sep']}{decision['grade']}** {label} — {_text(decision.get('advice'), lang)}")
    else:
        lines.append(f"- {w['grade']}{w['sep']}{w['ungraded']}")
    return "\n".join(lines)


def scorecard_summary(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any],
                      ctx: Any) -> dict[str, Any]:
    card_id = params.get("scorecard", "project_scorecard")
    card = derived.get(card_id)
    decision = derived.get(params.get("decision", "project_value"))
    if not isinstance(card, dict):
        return {"text": {"zh": "评分表无法计算，请检查评分数据的格式", "en": "The scorecard could not be computed; check the scores"},
                "scorecard": card_id, "complete": False}
    summary = {
        "scorecard": card_id,
        "complete": card["complete"],
        "dimensions": {d: {"score": v["score"], "band": v["band"], "min": v["min"], "max": v["max"],
                           "missing": v["missing"]} for d, v in card["dimensions"].items()},
        "missing": card["missing"],
        "invalid": card.get("invalid", []),
        "grade": (decision or {}).get("grade"),
    }
    return {"markdown": {lang: markdown(card, decision, lang) for lang in WORDS}, "summary": summary}
