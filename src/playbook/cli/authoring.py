"""``playbook lint | graph | doc | diff | schema``: tools for consultants who write playbooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_BLOCKED, EXIT_OK, PlaybookError
from .common import (
    dump_json,
    format_option,
    lang_option,
    registry,
    resolve_lang,
    to_date,
    today_option,
    warn_plugin_errors,
)


@click.command("lint")
@click.argument("playbook_refs", metavar="PLAYBOOK...", nargs=-1, required=True)
@format_option("text", "json")
@click.option("--no-examples", is_flag=True, help="Do not run the example cases (PB701).")
@click.option("--min-severity", type=click.Choice(["info", "warning", "error"]), default="info",
              show_default=True, help="Hide findings below this severity.")
@click.pass_context
def lint_cmd(ctx: click.Context, playbook_refs: tuple[str, ...], fmt: str, no_examples: bool,
             min_severity: str) -> None:
    """Check PLAYBOOKs (installed ids or files) for mistakes beyond schema validity.

    Each finding: file:line, rule code, severity, message (codes in docs/authoring.md).
    Exit 1 when an error is found, 0 otherwise, 2 when a PLAYBOOK cannot be found.
    """
    from ..authoring.findings import SEVERITIES
    from ..authoring.lint import has_errors, lint_ref

    reg = registry(ctx)
    warn_plugin_errors(reg)
    findings = []
    for ref in playbook_refs:
        findings += lint_ref(ref, reg, examples=not no_examples)
    errors = has_errors(findings)
    shown = [f for f in findings if SEVERITIES.index(f.severity) <= SEVERITIES.index(min_severity)]
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    if fmt == "json":
        click.echo(dump_json({"findings": [f.to_dict() for f in shown], "counts": counts,
                              "playbooks": list(playbook_refs)}))
    else:
        for f in shown:
            click.echo(str(f))
        click.echo(f"{len(playbook_refs)} playbook(s): {counts['error']} error(s), "
                   f"{counts['warning']} warning(s), {counts['info']} info")
    ctx.exit(EXIT_BLOCKED if errors else EXIT_OK)
