"""SWOT → needs 客户SWOT分析 → 潜在需求: from the customer's strengths, weaknesses,
opportunities and threats, derive the four need strategies as suggestions:

- SO: help the customer use a strength to seize an opportunity;
- WO: help it overcome a weakness so it can seize an opportunity;
- ST: help it use a strength to avoid a threat;
- WT: help it reduce a weakness to remove a threat.

Each pair of entries is one suggestion (the cross table of the method), capped per quadrant.
Latent needs recorded with ``swot: so|wo|st|wt`` count as covering that quadrant.
"""

from __future__ import annotations

from typing import Any

from .facts import get, records
from .texts import Text, item_text, text

QUADRANTS = ("strengths", "weaknesses", "opportunities", "threats")
SINGULAR = {"strengths": "strength", "weaknesses": "weakness", "opportunities": "opportunity", "threats": "threat"}
STRATEGIES = {
    "so": ("strengths", "opportunities"),
    "wo": ("weaknesses", "opportunities"),
    "st": ("strengths", "threats"),
    "wt": ("weaknesses", "threats"),
}
STRATEGY_TITLES: dict[str, Text] = {
    "so": text("SO：以优势抓机会", "SO: use strengths to seize opportunities"),
    "wo": text("WO：克服劣势把握机会", "WO: overcome weaknesses to seize opportunities"),
    "st": text("ST：以优势规避威胁", "ST: use strengths to avoid threats"),
    "wt": text("WT：减少劣势消除威胁", "WT: reduce weaknesses to remove threats"),
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "input": {"type": "string", "description": "case path of the SWOT section (default: swot)"},
        "max_per_strategy": {"type": "integer", "minimum": 1, "maximum": 100, "default": 12},
    },
}


def _suggestion(kind: str, a: str, b: str) -> Text:
    if kind == "so":
        return text(f"帮助客户借助“{a}”这一优势，抓住“{b}”的机会",
                    f"Help the customer use its strength “{a}” to seize “{b}”")
    if kind == "wo":
        return text(f"帮助客户弥补“{a}”的短板，从而把握“{b}”的机会",
                    f"Help the customer overcome “{a}” so it can seize “{b}”")
    if kind == "st":
        return text(f"帮助客户发挥“{a}”的优势，规避“{b}”的威胁",
                    f"Help the customer use “{a}” to avoid the threat of “{b}”")
    return text(f"帮助客户减少“{a}”带来的弱点，消除“{b}”的威胁",
                f"Help the customer reduce “{a}” to remove the threat of “{b}”")


def entries(facts: dict[str, Any], input_path: str = "swot") -> dict[str, list[str]]:
    section = get(facts, input_path, {})
    section = section if isinstance(section, dict) else {}
    out: dict[str, list[str]] = {}
    for quadrant in QUADRANTS:
        raw = section.get(quadrant)
        out[quadrant] = [t for t in (item_text(e).strip() for e in (raw if isinstance(raw, list) else [])) if t]
    return out


def derive_swot_needs(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    cap = int(params.get("max_per_strategy", 12))
    swot = entries(facts if isinstance(facts, dict) else {}, params.get("input", "swot"))
    strategies: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    truncated: dict[str, int] = {}
    for kind, (left, right) in STRATEGIES.items():
        pairs = [(a, b) for a in swot[left] for b in swot[right]]
        counts[kind] = len(pairs)
        if len(pairs) > cap:
            truncated[kind] = len(pairs) - cap
        strategies[kind] = [
            {SINGULAR[left]: a, SINGULAR[right]: b, "suggestion": _suggestion(kind, a, b)}
            for a, b in pairs[:cap]
        ]
    linked = {str(n.get("swot")).lower() for n in records(facts, "needs.organisational")
              if n.get("latent") is True and n.get("swot")}
    covered = [k for k in STRATEGIES if k in linked]
    return {
        "complete": all(swot[q] for q in QUADRANTS),
        "missing": [q for q in QUADRANTS if not swot[q]],
        "entries": {q: len(swot[q]) for q in QUADRANTS},
        "counts": counts,
        "strategies": strategies,
        "truncated": truncated,
        "covered_by_latent_needs": covered,
        "uncovered": [k for k in STRATEGIES if counts[k] and k not in linked],
    }
