"""Action ``banking.advice``: show the advice a decision table gives for this case.

Convention: an advice table's outcomes carry ``label`` (what situation this is) and ``advice``
(what to do), both texts. The action reads ``derived.<table>`` whatever the hit policy:
one outcome (``first``), ``{matches: [...]}`` (``collect``) or a list (``for_each``).
"""

from __future__ import annotations

from typing import Any

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["table"],
    "additionalProperties": False,
    "properties": {
        "table": {"type": "string", "description": "id of a decision table whose outcomes have label/advice"},
        "empty": {"description": "text shown when the table gives nothing ({zh, en} or a string)"},
    },
}

LANGS = ("zh", "en")
SEPARATOR = {"zh": "：", "en": ": "}


def _text(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or next(iter(value.values()), ""))
    if isinstance(value, list):
        return ("、" if lang == "zh" else ", ").join(_text(v, lang) for v in value)
    return "" if value is None else str(value)


def outcomes(result: Any) -> list[dict[str, Any]]:
    """The outcomes in a table result, flattened (first / collect / for_each)."""
    if isinstance(result, list):
        out: list[dict[str, Any]] = []
        for item in result:
            out += outcomes(item)
        return out
    if not isinstance(result, dict):
        return []
    if "matches" in result:
        return [m for m in result["matches"] if isinstance(m, dict)]
    if result.get("row") is None and "label" not in result and "advice" not in result:
        return []  # a for_each item that matched no row
    return [result]


def advice(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    found = outcomes(derived.get(params["table"]))
    entries = [{"label": o.get("label"), "advice": o.get("advice")} for o in found
               if o.get("label") is not None or o.get("advice") is not None]
    text: dict[str, str] = {}
    for lang in LANGS:
        lines = []
        for e in entries:
            label, tip = _text(e["label"], lang), _text(e["advice"], lang)
            lines.append(f"{label}{SEPARATOR[lang]}{tip}" if label and tip else label or tip)
        if not lines:
            lines.append(_text(params.get("empty"), lang) or
                         ("（暂无建议：相关事实尚未填写）" if lang == "zh" else "(no advice yet: the facts it needs are missing)"))
        text[lang] = "\n".join(lines)
    return {"table": params["table"], "text": text, "advice": entries}
