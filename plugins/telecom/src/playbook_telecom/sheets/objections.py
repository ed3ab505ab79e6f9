"""Open objections with their root cause and recommended response (from the taxonomy table)."""

from __future__ import annotations

from typing import Any

from ..facts import items
from ..objections import classify, open_objections
from ..texts import table, text
from .common import header, header_md, output

TITLE = text("未化解的客户异议及应对", "Open objections and how to answer them")
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"table": {"type": "string", "default": "objection_responses"}},
}


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    table_id = params.get("table", "objection_responses")
    rows = []
    for i, o in open_objections(items(facts, "objections")):
        row = classify(derived, table_id, i)
        rows.append({"index": i, "kind": o.get("kind"), "text": o.get("text"), "raised_by": o.get("raised_by"),
                     "date": o.get("date"), "class": row.get("class") if row else None,
                     "title": row.get("title") if row else None,
                     "root_cause": row.get("root_cause") if row else None,
                     "response": row.get("response") if row else None})
    data = {"header": header(facts, ctx), "open": rows}

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        out.append(table([text("异议", "Objection"), text("客户原话", "In the customer's words"), text("提出人", "Raised by"),
                          text("根本原因", "Root cause"), text("建议回应", "Recommended response")],
                         [[r["title"] or text(f"无法归类：{r['kind']}", f"unclassified: {r['kind']}"), r["text"],
                           r["raised_by"], r["root_cause"], r["response"]] for r in rows], lang))
        if rows:
            out.append("\n" + ("客户认可回应后，把该异议标记为 answered: true，并在 response 中写下怎么回应的。" if zh
                               else "Once the customer accepts the answer, mark the objection answered: true and note the response."))
        return "\n".join(out)

    return output("objections", data, render)
