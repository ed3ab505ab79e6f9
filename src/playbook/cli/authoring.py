"""``playbook lint | graph | doc | diff | schema``: tools for consultants who write playbooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, PlaybookError
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
    unusable: list[str] = []  # PLAYBOOKs that name nothing: reported, and the others still linted
    for ref in playbook_refs:
        try:
            findings += lint_ref(ref, reg, examples=not no_examples)
        except PlaybookError as exc:
            unusable += [str(p) for p in exc.problems]
    errors = has_errors(findings)
    shown = [f for f in findings if SEVERITIES.index(f.severity) <= SEVERITIES.index(min_severity)]
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    if fmt == "json":
        click.echo(dump_json({"findings": [f.to_dict() for f in shown], "counts": counts,
                              "playbooks": list(playbook_refs), "unusable": unusable}))
    else:
        for f in shown:
            click.echo(str(f))
        click.echo(f"{len(playbook_refs)} playbook(s): {counts['error']} error(s), "
                   f"{counts['warning']} warning(s), {counts['info']} info")
    for message in unusable:
        click.echo(f"error: {message}", err=True)
    ctx.exit(EXIT_BAD_INPUT if unusable else EXIT_BLOCKED if errors else EXIT_OK)


@click.command("graph")
@click.argument("playbook_ref", metavar="PLAYBOOK")
@format_option("mermaid", "dot", "svg", default="mermaid")
@lang_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of standard output.")
@click.pass_context
def graph_cmd(ctx: click.Context, playbook_ref: str, fmt: str, lang: str | None, output: str | None) -> None:
    """Draw PLAYBOOK's stage flow: stages, the gate criteria on each transition (● required,
    ○ recommended), terminal outcomes and the stages they are reached from."""
    from ..authoring.graph import flow, to_dot, to_mermaid, to_svg
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    pb = load_playbook(playbook_ref, registry=reg)
    model = flow(pb, resolve_lang(lang))
    text = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}[fmt](model)
    _emit(text, output, pb)


@click.command("doc")
@click.argument("playbook_ref", metavar="PLAYBOOK")
@format_option("md", "html", default="md")
@lang_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of standard output.")
@click.pass_context
def doc_cmd(ctx: click.Context, playbook_ref: str, fmt: str, lang: str | None, output: str | None) -> None:
    """Write PLAYBOOK's handbook: stages with goals, entry/exit criteria in plain words,
    actions, guidance, scorecards and decision tables, and the stage diagram.

    HTML is one self-contained file (inline CSS and SVG, no script, no network).
    """
    from ..authoring.handbook import render_html, render_markdown
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    pb = load_playbook(playbook_ref, registry=reg)
    render = render_html if fmt == "html" else render_markdown
    _emit(render(pb, resolve_lang(lang)), output, pb)


def _emit(text: str, output: str | None, pb: Any = None) -> None:
    """Print ``text``, or write it to ``output`` — never over a file the playbook was read from
    (``-o six-step-sales.yaml`` by mistake would destroy it)."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    target = Path(output)
    if pb is not None:
        inputs = [pb.path, *(Path(src[0]) for src in pb.sources)] if pb.path is not None else []
        for source in inputs:
            try:
                same = target.exists() and target.samefile(source)
            except OSError:
                same = False
            if same:
                raise PlaybookError(f"cannot write {output}: it is the playbook file {source} that is being "
                                    "read; give another output file")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        hint = (f"; the folder {target.parent} does not exist: create it first"
                if not target.parent.is_dir() else "")
        raise PlaybookError(f"cannot write {output}: {exc.strerror}{hint}") from None
    click.echo(f"wrote {output}", err=True)


@click.command("diff")
@click.argument("old_ref", metavar="OLD")
@click.argument("new_ref", metavar="NEW")
@click.option("-i", "--input", "inputs", multiple=True, metavar="PORTFOLIO",
              help="Cases to re-check with both versions: JSONL, JSON array, CSV or a directory of "
                   "YAML/JSON case files (repeatable).")
@click.option("--input-format", type=click.Choice(("auto", "jsonl", "json", "csv", "dir")), default="auto",
              show_default=True, help="Input format (auto: from the file name).")
@format_option("text", "json")
@lang_option
@today_option
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Text: list at most this many affected cases.")
@click.pass_context
def diff_cmd(ctx: click.Context, old_ref: str, new_ref: str, inputs: tuple[str, ...], input_format: str, fmt: str,
             lang: str | None, today: Any, limit: int) -> None:
    """What changed from OLD to NEW (two versions of a playbook): stages, criteria, thresholds,
    actions, outcomes, scorecards, tables — and, with --input, which cases change current stage,
    readiness or blocking criteria, with counts.

    Exit 0 (changes are information, not failures); 2 for unusable input.
    """
    import datetime as dt

    from ..authoring.diff import portfolio_impact, render_text, structural_diff
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    lang = resolve_lang(lang)
    old = load_playbook(old_ref, registry=reg)
    new = load_playbook(new_ref, registry=reg)
    changes = structural_diff(old, new, lang)
    day = to_date(today) or dt.date.today()
    impact = portfolio_impact(old, new, list(inputs), day, input_format) if inputs else None
    if fmt == "json":
        out: dict[str, Any] = {"old": {"id": old.id, "version": old.version, "path": str(old.path)},
                               "new": {"id": new.id, "version": new.version, "path": str(new.path)},
                               "today": day.isoformat(), "changes": [c.to_dict() for c in changes]}
        if impact is not None:
            out["impact"] = impact.to_dict()
        click.echo(dump_json(out))
    else:
        click.echo(render_text(old, new, changes, impact, limit, lang), nl=False)
    ctx.exit(EXIT_OK)


@click.command("schema")
@click.option("--case", "case", is_flag=True, help="Print the case-facts schema instead (core + plugins).")
@click.option("--playbook", "playbook_ref", default=None, metavar="PLAYBOOK",
              help="With --case: include the sections PLAYBOOK declares under `facts:`.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of standard output.")
@click.pass_context
def schema_cmd(ctx: click.Context, case: bool, playbook_ref: str | None, output: str | None) -> None:
    """Print the playbook JSON Schema (2020-12), for editor completion and inline errors.

    See docs/authoring.md for VS Code (redhat.vscode-yaml) and JetBrains set-up.
    """
    from ..authoring.schemas import case_schema, playbook_schema

    if playbook_ref and not case:
        raise click.UsageError("--playbook only applies with --case")
    pb = None
    if case:
        reg = registry(ctx)
        warn_plugin_errors(reg)
        if playbook_ref:
            from ..loader import load_playbook

            pb = load_playbook(playbook_ref, registry=reg)
        schema = case_schema(reg, pb)
    else:
        schema = playbook_schema()
    _emit(dump_json(schema) + "\n", output, pb)
