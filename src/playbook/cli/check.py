"""``playbook check``: which stage a case is in, what passes, what blocks, what to do next."""

from __future__ import annotations

import click

from ..errors import EXIT_BLOCKED, EXIT_OK
from .common import dump_json, format_option, lang_option, registry, resolve_lang, to_date, today_option, warn_plugin_errors


@click.command("check")
@click.argument("playbook_ref", metavar="PLAYBOOK")
@click.argument("case", required=False)
@format_option("text", "json")
@lang_option
@click.option("--stage", default=None, help="Declare the case's current stage (overrides `stage` in the case).")
@today_option
@click.option("-v", "--verbose", is_flag=True, help="Text: show every stage's criteria and the derived facts.")
@click.pass_context
def check_cmd(ctx: click.Context, playbook_ref: str, case: str | None, fmt: str, lang: str | None,
              stage: str | None, today: object, verbose: bool) -> None:
    """Check one CASE (YAML/JSON file, or - for stdin) against PLAYBOOK (installed id or file).

    Exit code 0: ready to advance, complete, or closed by an outcome; 1: something blocks;
    2: bad input.
    """
    from ..cases import read_case
    from ..engine import evaluate
    from ..loader import load_playbook

    if case is None:
        raise click.UsageError("give a CASE file (or - for stdin)")
    reg = registry(ctx)
    warn_plugin_errors(reg)
    lang = resolve_lang(lang)
    compiled = load_playbook(playbook_ref, registry=reg)
    case_input = read_case(case)
    result = evaluate(compiled, case_input.facts, today=to_date(today) or case_input.today,
                      stage=stage or case_input.stage, case_id=case_input.case_id)
    report = result.to_dict(lang)
    if fmt == "json":
        click.echo(dump_json(report))
    else:
        from ..render_text import render
        from ..text import tr

        guidance = tr(compiled.stages[result.current].guidance, lang) or None
        click.echo(render(report, guidance=guidance, verbose=verbose), nl=False)
    ok = result.ready or result.complete or result.outcome is not None
    ctx.exit(EXIT_OK if ok else EXIT_BLOCKED)
