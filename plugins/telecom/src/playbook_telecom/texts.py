"""Bilingual texts and Markdown building blocks shared by the rules and the sheets.

Every sentence this plugin produces for people exists in Chinese and English; a text is a
``{"zh": …, "en": …}`` mapping that the core reporter resolves to the selected language.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

LANGS = ("zh", "en")
Text = dict[str, str]


def text(zh: str, en: str) -> Text:
    return {"zh": zh, "en": en}


def pick(value: Any, lang: str) -> str:
    """A text (or plain value) in ``lang``; English, then anything, as fallbacks."""
    if isinstance(value, dict):
        for key in (lang, "en", *value.keys()):
            if isinstance(value.get(key), str):
                return value[key]
        return ""
    return "" if value is None else str(value)


def per_lang(build: Any) -> Text:
    """``build(lang) -> str`` for each language, as a text."""
    return {lang: build(lang) for lang in LANGS}


def join(items: Iterable[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(items)


def cell(value: Any, lang: str) -> str:
    """A value as one Markdown table cell (lists joined, pipes and newlines escaped)."""
    if isinstance(value, list):
        value = join((pick(v, lang) for v in value), lang)
    elif isinstance(value, bool):
        value = ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    else:
        value = pick(value, lang)
    value = value.replace("|", "\\|").replace("\n", " ").strip()
    return value or "—"


def table(headers: Sequence[Text], rows: Iterable[Sequence[Any]], lang: str) -> str:
    head = [pick(h, lang) for h in headers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    body = ["| " + " | ".join(cell(v, lang) for v in row) + " |" for row in rows]
    if not body:
        body = ["| " + " | ".join(["—"] * len(head)) + " |"]
    return "\n".join(lines + body)


def item_text(entry: Any) -> str:
    """The text of a list entry given as a plain string or as ``{text: …}``."""
    if isinstance(entry, dict):
        value = entry.get("text")
        return value if isinstance(value, str) else ""
    return entry if isinstance(entry, str) else ""


# Labels used in several sheets.
YES_NO = {True: text("已具备", "yes"), False: text("未具备", "no")}

# Enumerated case values as people read them (unknown values are shown as they are).
VALUE_LABELS: dict[str, Text] = {
    # roles
    "decision_maker": text("决策人", "decision maker"), "technical": text("技术把关", "technical"),
    "business": text("业务负责", "business"), "finance": text("财务", "finance"), "user": text("使用者", "user"),
    "procurement": text("采购", "procurement"), "influencer": text("影响者", "influencer"),
    "coach": text("向导", "coach"), "other": text("其他", "other"),
    # administrative levels
    "executive": text("高层", "executive"), "senior": text("中高层", "senior"), "middle": text("中层", "middle"),
    "staff": text("基层", "staff"),
    # attitude and relationship
    "support": text("支持", "support"), "neutral": text("中立", "neutral"), "oppose": text("反对", "oppose"),
    "none": text("无", "none"), "liking": text("好感", "liking"), "meeting": text("约会", "meeting"),
    "trust": text("信赖", "trust"), "alliance": text("同盟", "alliance"),
    # priority, size, tier
    "high": text("高", "high"), "medium": text("中", "medium"), "low": text("低", "low"),
    "large": text("大型", "large"), "small": text("小型", "small"),
    "core": text("核心", "core"), "important": text("重要", "important"), "ordinary": text("普通", "ordinary"),
    # visit status and activity types
    "planned": text("计划中", "planned"), "done": text("已完成", "done"), "cancelled": text("已取消", "cancelled"),
    "visit": text("拜访", "visit"), "call": text("电话", "call"), "presentation": text("汇报演示", "presentation"),
    "negotiation": text("谈判", "negotiation"), "email": text("邮件", "email"), "event": text("活动", "event"),
}


def label(value: Any) -> Any:
    """A known enumerated value as a text; anything else unchanged."""
    return VALUE_LABELS.get(value, value) if isinstance(value, str) else value
