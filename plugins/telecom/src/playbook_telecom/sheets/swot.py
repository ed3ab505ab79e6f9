"""客户SWOT分析表 — the SWOT sheet with the SO/WO/ST/WT need strategies (step 2)."""

from __future__ import annotations

from typing import Any

from ..swot import QUADRANTS, STRATEGY_TITLES, derive_swot_needs, entries
from ..texts import pick, text
from .common import header, header_md, output

TITLE = text("客户SWOT分析表", "Customer SWOT sheet")
QUADRANT_TITLES = {
    "strengths": text("强项 S（内部）", "Strengths S (internal)"),
    "weaknesses": text("弱项 W（内部）", "Weaknesses W (internal)"),
    "opportunities": text("机会 O（外部）", "Opportunities O (external)"),
    "threats": text("威胁 T（外部）", "Threats T (external)"),
}
HINTS = {
    "strengths": text("从营销、财务、产品、技术、品牌、产能、质量、渠道、行业地位、客户关系等方面找",
                      "look at marketing, finance, products, technology, brand, capacity, quality, channels, standing, customer relations"),
    "weaknesses": text("同样的内部方面，看客户比对手弱在哪里", "the same internal areas: where the customer is weaker than its rivals"),
    "opportunities": text("从政策、经济、社会、科技、客户喜好、行业规则等外部变化找",
                          "external change: policy, economy, society, technology, customer preferences, industry rules"),
    "threats": text("竞争对手、替代品、法规、供应商、危机等", "competitors, substitutes, regulation, suppliers, crises"),
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"derived": {"type": "string", "description": "id of the telecom.swot-needs derivation (default swot_needs)"}},
}


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    swot = entries(facts)
    needs = derived.get(params.get("derived", "swot_needs")) if isinstance(derived, dict) else None
    if not isinstance(needs, dict):
        needs = derive_swot_needs(facts, {}, {}, ctx)
    data = {"header": header(facts, ctx), "swot": swot, "strategies": needs["strategies"],
            "missing": needs["missing"], "truncated": needs["truncated"]}

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        for q in QUADRANTS:
            out.append(f"**{pick(QUADRANT_TITLES[q], lang)}**")
            if swot[q]:
                out.extend(f"- {e}" for e in swot[q])
            else:
                out.append(f"- —（{pick(HINTS[q], lang)}）" if zh else f"- — ({pick(HINTS[q], lang)})")
            out.append("")
        out.append("**由 SWOT 推出的需求策略**" if zh else "**Need strategies from the SWOT**")
        for kind, rows in data["strategies"].items():
            out.append(f"- {pick(STRATEGY_TITLES[kind], lang)}")
            if not rows:
                out.append("  - —")
            out.extend(f"  - {pick(r['suggestion'], lang)}" for r in rows)
            if kind in data["truncated"]:
                more = data["truncated"][kind]
                out.append(f"  - ……另有 {more} 条组合未列出" if zh else f"  - … {more} more combination(s) not listed")
        return "\n".join(out)

    return output("swot", data, render)
