"""Shared pieces of the sheets: the output envelope and the sheet header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..facts import get
from ..texts import LANGS, Text, pick


def output(sheet: str, data: dict[str, Any], render: Callable[[str], str]) -> dict[str, Any]:
    return {"sheet": sheet, "data": data, "markdown": {lang: render(lang).rstrip() + "\n" for lang in LANGS}}


def header(facts: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Customer, date and sales representative: the header of every paper sheet."""
    return {
        "customer": get(facts, "account.name"),
        "date": ctx.today.isoformat(),
        "sales_rep": get(facts, "account.owner"),
        "opportunity": get(facts, "opportunity.name"),
    }


def header_md(title: Text, head: dict[str, Any], lang: str) -> str:
    zh = lang == "zh"
    labels = ("客户名", "日期", "销售代表") if zh else ("Customer", "Date", "Sales rep")
    line = "  ".join(f"{label}{'：' if zh else ': '}{head[key] or '—'}"
                     for label, key in zip(labels, ("customer", "date", "sales_rep"), strict=True))
    return f"### {pick(title, lang)}\n\n{line}\n"
