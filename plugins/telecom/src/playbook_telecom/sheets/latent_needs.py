"""客户潜在需求分析表 — the latent-need sheet (step 3): what the SWOT suggests we could help
with, and the latent needs already predicted."""

from __future__ import annotations

from typing import Any

from ..facts import records
from ..swot import QUADRANTS, STRATEGY_TITLES, entries
from ..texts import label, pick, table, text
from .common import header, header_md, output

TITLE = text("客户潜在需求分析表", "Latent-need sheet")
HELP = {
    "strengths": text("帮助客户强化或扩大其优势", "Help the customer reinforce or extend its strengths"),
    "weaknesses": text("帮助客户克服其弱点，或让弱点不那么要紧", "Help the customer overcome its weaknesses or make them matter less"),
    "opportunities": text("帮助客户抓住机遇", "Help the customer seize its opportunities"),
    "threats": text("帮助客户防御或消除威胁", "Help the customer defend against or remove threats"),
}


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    swot = entries(facts)
    latent = [{k: n.get(k) for k in ("text", "priority", "swot", "addressed_by", "raised_by")}
              for n in records(facts, "needs.organisational") if n.get("latent") is True]
    swot_needs = derived.get("swot_needs") if isinstance(derived, dict) else None
    uncovered = swot_needs.get("uncovered", []) if isinstance(swot_needs, dict) else []
    data = {"header": header(facts, ctx), "help": {q: swot[q] for q in QUADRANTS}, "latent_needs": latent,
            "uncovered_strategies": uncovered}

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        for q in QUADRANTS:
            out.append(f"**{pick(HELP[q], lang)}{'：' if zh else ':'}**")
            out.extend([f"- {e}" for e in swot[q]] or ["- —"])
            out.append("")
        out.append("**已预测的潜在需求**" if zh else "**Latent needs predicted**")
        out.append(table([text("需求", "Need"), text("优先级", "Priority"), text("SWOT 策略", "SWOT strategy"),
                          text("我们的对应产品/服务", "Our answer"), text("确认人", "Confirmed by")],
                         [[n["text"], label(n["priority"]), (n["swot"] or "").upper() or None, n["addressed_by"], n["raised_by"]]
                          for n in latent], lang))
        if uncovered:
            names = ("、" if zh else ", ").join(pick(STRATEGY_TITLES[k], lang) for k in uncovered)
            out.append("\n" + (f"尚未据此提出潜在需求的策略：{names}" if zh
                               else f"Strategies with no latent need predicted from them yet: {names}"))
        return "\n".join(out)

    return output("latent_needs", data, render)
