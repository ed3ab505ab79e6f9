"""客户成功案例表 with FAB — success stories to raise interest (step 6).

Stories from the same industry as the customer come first; each story's FAB statements
(feature → advantage → benefit) and the case's own ``value_proposition.fab`` are turned into
sentences the account manager can say.
"""

from __future__ import annotations

from typing import Any

from ..facts import get, records
from ..texts import Text, pick, table, text
from .common import header, header_md, output

TITLE = text("客户成功案例表", "Customer success stories")
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3,
                             "description": "how many stories to show"}},
}


def fab_sentence(fab: dict[str, Any]) -> Text | None:
    f, a, b = (fab.get(k) for k in ("feature", "advantage", "benefit"))
    if not all(isinstance(v, str) and v.strip() for v in (f, a, b)):
        return None
    return text(f"因为{f}，所以{a}，对您来说意味着{b}。",
                f"Because it has {f}, it {a}; for you that means {b}.")


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    industry = get(facts, "account.industry")
    stories = records(facts, "success_stories")
    ranked = sorted(stories, key=lambda s: 0 if industry and s.get("industry") == industry else 1)
    chosen = ranked[: int(params.get("limit", 3))]
    shown = []
    for s in chosen:
        fab = [fab_sentence(f) for f in s.get("fab") or [] if isinstance(f, dict)]
        shown.append({k: s.get(k) for k in ("customer", "industry", "challenge", "solution", "results")}
                     | {"same_industry": bool(industry) and s.get("industry") == industry,
                        "fab": [f for f in fab if f]})
    own = [f for f in (fab_sentence(x) for x in records(facts, "value_proposition.fab")) if f]
    data = {"header": header(facts, ctx), "stories": shown, "fab": own, "available": len(stories)}

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        out.append(table([text("案例客户", "Customer"), text("行业", "Industry"), text("当时的难题", "Challenge"),
                          text("我们的方案", "Solution"), text("效果", "Results")],
                         [[s["customer"], s["industry"], s["challenge"], s["solution"], s["results"]] for s in shown],
                         lang))
        sentences = [f for s in shown for f in s["fab"]] + own
        out.append("\n" + ("**FAB 说法**" if zh else "**FAB statements**"))
        out.extend([f"- {pick(f, lang)}" for f in sentences]
                   or ["- " + ("在 value_proposition.fab 或案例的 fab 中写下特性、优势、利益。" if zh
                               else "Write feature, advantage and benefit in value_proposition.fab or a story's fab.")])
        return "\n".join(out)

    return output("success_stories", data, render)
