"""Bilingual texts: a plain string, or a mapping of language -> string."""

from __future__ import annotations

import locale
import os
from typing import Any

Text = str | dict[str, str]

LANGUAGES = ("en", "zh")
FALLBACK = "en"


LANGUAGE_SET = frozenset(LANGUAGES)


def is_text(value: Any) -> bool:
    """A dict whose keys are all language codes and whose values are strings is a text.
    (``report.json_texts`` has this test and ``tr`` inlined: keep them in step.)"""
    if type(value) is not dict or not value or not value.keys() <= LANGUAGE_SET:
        return False
    for text in value.values():  # noqa: SIM110 - a plain loop: no generator per call (hot path)
        if type(text) is not str:
            return False
    return True


def tr(text: Text | None, lang: str) -> str:
    """Resolve a text in ``lang``, falling back to English, then to any language given."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if lang in text:
        return text[lang]
    if FALLBACK in text:
        return text[FALLBACK]
    return next(iter(text.values()), "")


def resolve_texts(value: Any, lang: str) -> Any:
    """Resolve every text nested in a JSON-like value (used for action outputs)."""
    if is_text(value):
        return tr(value, lang)
    if isinstance(value, dict):
        return {k: resolve_texts(v, lang) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_texts(v, lang) for v in value]
    return value


def default_language() -> str:
    """The CLI language from PLAYBOOK_LANG or the locale; English when in doubt."""
    explicit = os.environ.get("PLAYBOOK_LANG")
    if explicit in LANGUAGES:
        return explicit
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else FALLBACK
    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:  # pragma: no cover - broken locale settings
        loc = ""
    return "zh" if loc.lower().startswith("zh") else FALLBACK
