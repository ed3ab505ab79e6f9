"""Options and helpers shared by commands (defined once, as in pip-tools)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from ..text import LANGUAGES, default_language


def lang_option(f: Any) -> Any:
    return click.option(
        "--lang", type=click.Choice(LANGUAGES), default=None,
        help="Output language (default: PLAYBOOK_LANG or the locale, else en).",
    )(f)


def today_option(f: Any) -> Any:
    return click.option(
        "--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
        help="Evaluate as of this date (reproducible reports).",
    )(f)


def format_option(*choices: str, default: str = "text") -> Any:
    def decorator(f: Any) -> Any:
        return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                            help="Output format.")(f)

    return decorator


def resolve_lang(lang: str | None) -> str:
    return lang or default_language()


def to_date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


def registry(ctx: click.Context) -> Any:
    from ..plugins import get_registry

    root = ctx.find_root()
    return get_registry(tuple((root.obj or {}).get("plugins") or ()))


def warn_plugin_errors(reg: Any) -> None:
    for problem in reg.errors:
        click.echo(f"warning: {problem}", err=True)


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
