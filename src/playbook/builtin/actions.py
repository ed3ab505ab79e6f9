"""Core actions: checklist, task, template, lookup."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ..criteria.runtime import format_path, resolve_path
from ..text import LANGUAGES, is_text, tr

TEXT_SCHEMA = {
    "oneOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": False, "minProperties": 1,
         "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}},
    ]
}

CHECKLIST_SCHEMA = {
    "type": "object",
    "required": ["items"],
    "additionalProperties": False,
    "properties": {
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "text": TEXT_SCHEMA,
                    "done": {"type": "string", "description": "expression: true when the item is done"},
                },
            },
        }
    },
}

TASK_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"text": TEXT_SCHEMA, "due_days": {"type": "integer", "minimum": 0},
                   "owner": {"type": "string"}},
}

TEMPLATE_SCHEMA = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {"text": TEXT_SCHEMA},
}

LOOKUP_SCHEMA = {
    "type": "object",
    "required": ["table"],
    "additionalProperties": False,
    "properties": {"table": {"type": "string", "description": "id of a decision table or scorecard"}},
}


def _prepare_checklist(params: dict[str, Any], ctx: Any) -> list[dict[str, Any]]:
    items = []
    for item in params["items"]:
        done = ctx.compile(item["done"], item, "done", "checklist item `done`") if "done" in item else None
        items.append({"id": item.get("id"), "text": item["text"], "done": done})
    return items


def checklist(params: list[dict[str, Any]], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    out = []
    count = 0
    for item in params:
        done = item["done"]
        if done is not None:
            try:
                done = bool(done(facts, derived, ctx))
            except Exception:  # noqa: BLE001 - facts missing: not done
                done = False
            count += done
        out.append({"id": item["id"], "text": item["text"], "done": done})
    return {"items": out, "done": count, "total": len(out)}


def task(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "text" in params:
        out["text"] = params["text"]
    if "due_days" in params:
        out["due"] = (ctx.today + dt.timedelta(days=params["due_days"])).isoformat()
    if "owner" in params:
        out["owner"] = params["owner"]
    return out


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)\}")


def _parse_path(text: str) -> tuple[Any, ...]:
    parts: list[Any] = []
    for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", text):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)


def _display(value: Any, lang: str) -> str:
    if value is None:
        return ""
    if is_text(value):
        return tr(value, lang)
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, list):
        return "、".join(_display(v, lang) for v in value) if lang == "zh" else ", ".join(_display(v, lang) for v in value)
    return str(value)


@dataclass(frozen=True)
class _Placeholder:
    path: tuple[Any, ...]
    missing: str  # what stands for it when the case has no value there: {?path}


@dataclass(frozen=True)
class PreparedTemplate:
    """A template's text split once, at load, into literal pieces and placeholders per language
    (``fill`` does the same with a regular expression at every call)."""

    parts: tuple[tuple[str, tuple[str | _Placeholder, ...]], ...]  # (lang, pieces) per language


def _split_template(text: str) -> tuple[str | _Placeholder, ...]:
    pieces: list[str | _Placeholder] = []
    # split() with the one group gives literal, placeholder, literal, ...: the matches sub() replaces
    for i, piece in enumerate(_PLACEHOLDER.split(text)):
        if i % 2:
            path = _parse_path(piece)
            pieces.append(_Placeholder(path, "{?" + format_path(path) + "}"))
        elif piece:
            pieces.append(piece)
    return tuple(pieces)


def _prepare_template(params: dict[str, Any], ctx: Any = None) -> PreparedTemplate:
    text = params["text"]
    texts = text if is_text(text) else {lang: text for lang in LANGUAGES}
    return PreparedTemplate(tuple((lang, _split_template(tr(texts, lang))) for lang in LANGUAGES))


def _fill_pieces(pieces: tuple[str | _Placeholder, ...], facts: dict[str, Any], derived: dict[str, Any],
                 lang: str) -> str:
    filled = []
    for piece in pieces:
        if type(piece) is str:
            filled.append(piece)
            continue
        try:
            value = resolve_path(facts, derived, piece.path)
        except (KeyError, IndexError, TypeError):
            filled.append(piece.missing)
            continue
        filled.append(_display(value, lang))
    return "".join(filled)


def fill(template: str, facts: dict[str, Any], derived: dict[str, Any], lang: str = "en") -> str:
    """Replace ``{path}`` placeholders with case values; unknown paths stay visible as ``{?path}``."""
    return _fill_pieces(_split_template(template), facts, derived, lang)


def template(params: dict[str, Any] | PreparedTemplate, facts: dict[str, Any], derived: dict[str, Any],
             ctx: Any) -> dict[str, Any]:
    prepared = params if isinstance(params, PreparedTemplate) else _prepare_template(params)
    return {"text": {lang: _fill_pieces(pieces, facts, derived, lang) for lang, pieces in prepared.parts}}


def _prepare_lookup(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The table must be one this playbook derives: a typo would show an empty lookup forever."""
    data = getattr(ctx, "playbook_data", None)
    if isinstance(data, dict):
        known = [str(item.get("id")) for key in ("derive", "scorecards", "tables")
                 for item in data.get(key) or [] if isinstance(item, dict)]
        if params["table"] not in known:
            from ..errors import PlaybookError, Problem

            loc = ctx.locs.key(params, "table")[0] if hasattr(ctx, "locs") else None
            raise PlaybookError([Problem(
                f"lookup: unknown table {params['table']!r}", loc,
                f"tables, scorecards and derivations of this playbook: {', '.join(known) or 'none'}")])
    return params


def lookup(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    table = params["table"]
    if table not in derived:
        return {"table": table, "result": None}
    return {"table": table, "result": derived[table]}


def register_all(register: Any) -> None:
    register("checklist", checklist, schema=CHECKLIST_SCHEMA, prepare=_prepare_checklist,
             title={"en": "Checklist", "zh": "清单"}, description="items with done-conditions")
    register("task", task, schema=TASK_SCHEMA, title={"en": "Task", "zh": "任务"},
             description="one thing to do, optionally with a due date")
    register("template", template, schema=TEMPLATE_SCHEMA, prepare=_prepare_template, title={"en": "Template", "zh": "模板"},
             description="a text with {path} placeholders filled from the case")
    register("lookup", lookup, schema=LOOKUP_SCHEMA, prepare=_prepare_lookup,
             title={"en": "Decision lookup", "zh": "查表"},
             description="the outcome of a decision table or scorecard for this case")
