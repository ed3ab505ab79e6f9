"""``playbook check``: which stage a case is in, what passes, what blocks, what to do next —
for one CASE, or for a whole portfolio with ``--input`` (see ``playbook.batch``)."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EXIT_BLOCKED, EXIT_OK, CaseError, Problem
from .common import (
    dump_json,
    lang_option,
    registry,
    resolve_lang,
    to_date,
    today_option,
    warn_plugin_errors,
)

SINGLE_FORMATS = ("text", "json")
BATCH_FORMATS = ("summary-text", "summary-json", "html", "jsonl")
BATCH_ALIASES = {"text": "summary-text", "json": "summary-json"}


def _parse_write(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        fmt, sep, path = value.partition("=")
        fmt = BATCH_ALIASES.get(fmt, fmt)
        if not sep or not path or fmt not in BATCH_FORMATS:
            raise click.BadParameter(f"{value!r}: expected FORMAT=PATH with FORMAT one of {', '.join(BATCH_FORMATS)}",
                                     ctx, param)
        out.append((fmt, path))
    return out


@click.command("check")
@click.argument("playbook_ref", metavar="PLAYBOOK")
@click.argument("case", required=False)
@click.option("--input", "inputs", multiple=True, metavar="PATH",
              help="Check a portfolio: a JSONL file (one case per line), a JSON array, a CSV file with "
                   "dotted headers (opportunity.amount), or a directory of YAML/JSON case files; "
                   "repeatable; .gz allowed; - reads JSONL from stdin.")
@click.option("--input-format", type=click.Choice(("auto", "jsonl", "json", "csv", "dir")), default="auto",
              show_default=True, help="Input format (auto: from the file name).")
@click.option("--format", "fmt", type=click.Choice((*SINGLE_FORMATS, *BATCH_FORMATS)), default=None,
              help="Output format. One CASE: text (default) or json. --input: summary-text (default, "
                   "also 'text'), summary-json (also 'json'), html (one self-contained file), or jsonl "
                   "(the JSON report of every case, one per line).")
@click.option("-o", "--output", default=None, metavar="PATH",
              help="--input: write the --format output to PATH instead of stdout.")
@click.option("--write", "writes", multiple=True, metavar="FORMAT=PATH", callback=_parse_write,
              help="--input: also write FORMAT to PATH in the same run (repeatable), "
                   "e.g. --write html=funnel.html --write jsonl=cases.jsonl.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="--input: worker processes (default: the cores available).")
@click.option("--max-errors", type=click.IntRange(min=1), default=None, metavar="N",
              help="--input: stop once N records have been rejected as bad input (exit code 4).")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="--input: how many blocking criteria the summary ranks.")
@lang_option
@click.option("--stage", default=None, help="Declare the current stage (overrides `stage` in the case).")
@today_option
@click.option("-v", "--verbose", is_flag=True, help="Text: show every stage's criteria and the derived facts.")
@click.pass_context
def check_cmd(ctx: click.Context, playbook_ref: str, case: str | None, inputs: tuple[str, ...],
              input_format: str, fmt: str | None, output: str | None, writes: list[tuple[str, str]],
              jobs: int | None, max_errors: int | None, top: int, lang: str | None, stage: str | None,
              today: Any, verbose: bool) -> None:
    """Check one CASE (YAML/JSON file, or - for stdin) against PLAYBOOK (installed id or file),
    or a whole portfolio with --input.

    \b
    One CASE, exit code: 0 ready to advance, complete, or closed by an outcome;
                         1 something blocks; 2 bad input.
    --input, exit code:  0 every record checked (blocked cases are normal);
                         2 unusable input (nothing checked); 3 some records were rejected
                         as bad input (each on stderr as SOURCE:LINE: problem, and counted
                         in the summary); 4 stopped by --max-errors;
                         130 interrupted (Ctrl-C; no summary written).

    \b
    CSV: separated by , ; or tab (as the header line shows); UTF-8 (Excel: "CSV UTF-8").
    Cells are typed by the case schema and the playbook's facts: an empty cell is a
    missing fact; booleans true/false, yes/no, 1/0, 是/否; lists as JSON or a;b;c.
    """
    if inputs:
        if case is not None:
            raise click.UsageError("give either a CASE or --input, not both")
        if verbose:
            raise click.UsageError("--verbose applies to one CASE; a portfolio gives a summary")
        _check_batch(ctx, playbook_ref, inputs, input_format, BATCH_ALIASES.get(fmt or "", fmt) or "summary-text",
                     output, writes, jobs, max_errors, top, lang, stage, today)
        return
    batch_only = {"--output": output, "--write": writes, "--jobs": jobs, "--max-errors": max_errors}
    used = [name for name, value in batch_only.items() if value]
    if used or input_format != "auto":
        raise click.UsageError(f"{', '.join(used) or '--input-format'} only applies with --input")
    if case is None:
        raise click.UsageError("give a CASE file (or - for stdin), or a portfolio with --input")
    fmt = fmt or "text"
    if fmt not in SINGLE_FORMATS:
        raise click.UsageError(f"--format {fmt} applies to a portfolio (--input); for one case use text or json")
    _check_one(ctx, playbook_ref, case, fmt, lang, stage, today, verbose)


def _check_one(ctx: click.Context, playbook_ref: str, case: str, fmt: str, lang: str | None,
               stage: str | None, today: Any, verbose: bool) -> None:
    from ..cases import read_case
    from ..engine import evaluate
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    lang = resolve_lang(lang)
    compiled = load_playbook(playbook_ref, registry=reg)
    case_input = read_case(case)
    try:
        result = evaluate(compiled, case_input.facts, today=to_date(today) or case_input.today,
                          stage=stage if stage is not None else case_input.stage, case_id=case_input.case_id)
    except CaseError as exc:  # an unknown stage: point at the case's `stage` when it came from there
        if stage is not None or len(exc.problems) != 1 or exc.problems[0].location is not None:
            raise
        from ..cases import is_example

        in_case = case_input.stage is None and is_example(case_input.doc.data)  # `case: {stage: …}`
        loc = case_input.doc.locate(("case", "stage") if in_case else ("stage",))
        raise CaseError([Problem(exc.problems[0].message, loc)]) from None
    report = result.to_dict(lang)
    if fmt == "json":
        click.echo(dump_json(report))
    else:
        from ..render_text import render
        from ..text import tr

        guidance = tr(compiled.stages[result.current].guidance, lang) or None
        outcome = next((o for o in compiled.outcomes if o.id == result.outcome), None)
        click.echo(render(report, guidance=guidance, verbose=verbose,
                          outcome_title=tr(outcome.title, lang) if outcome else None), nl=False)
    ok = result.ready or result.complete or result.outcome is not None
    ctx.exit(EXIT_OK if ok else EXIT_BLOCKED)


def _check_batch(ctx: click.Context, playbook_ref: str, inputs: tuple[str, ...], input_format: str, fmt: str,
                 output: str | None, writes: list[tuple[str, str]], jobs: int | None, max_errors: int | None,
                 top: int, lang: str | None, stage: str | None, today: Any) -> None:
    import datetime as dt
    import sys

    from ..batch import EXIT_INTERRUPTED, EXIT_REJECTED, EXIT_STOPPED
    from ..batch.outputs import Outputs
    from ..batch.progress import Progress
    from ..batch.readers import open_sources
    from ..batch.runner import default_jobs, run_batch
    from ..batch.worker import Job
    from ..errors import PlaybookError
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    lang = resolve_lang(lang)
    compiled = load_playbook(playbook_ref, registry=reg)
    if stage is not None and compiled.stage_index(stage) is None:
        known = ", ".join(s.id for s in compiled.stages)
        raise PlaybookError(f"--stage {stage!r}: playbook {compiled.id!r} has no such stage (stages: {known})")
    sources = open_sources(inputs, input_format)
    targets = [(fmt, output or "-"), *writes]
    day = to_date(today) or dt.date.today()
    job = Job(
        playbook_ref=playbook_ref,
        plugins=tuple((ctx.find_root().obj or {}).get("plugins") or ()),
        today=day, lang=lang, stage=stage,
        jsonl=any(f == "jsonl" for f, _ in targets),
        source_names=[s.name for s in sources],
        playbook=compiled,
    )
    with Outputs(targets, [s.path for s in sources if s.path is not None]) as outs:
        def reject(source: str, line: int, message: str) -> None:
            where = f"{source}:{line}" if line else source
            click.echo(f"rejected: {where}: {message}", err=True)

        run = run_batch(job, sources, jobs=jobs or default_jobs(), max_errors=max_errors,
                        on_jsonl=outs.write_jsonl if job.jsonl else None, on_reject=reject,
                        progress=Progress.wanted(sys.stderr))
        if run.interrupted:
            click.echo(run.interrupted_message(), err=True)
            ctx.exit(EXIT_INTERRUPTED)
        stopped = {"reason": "max_errors", "max_errors": max_errors} if run.stopped else None
        summary = run.funnel.summary(compiled, lang, today=day.isoformat(), inputs=[s.name for s in sources],
                                     top=top, stopped=stopped)
        outs.write_summaries(summary)
    if run.stopped:
        ctx.exit(EXIT_STOPPED)
    ctx.exit(EXIT_REJECTED if run.funnel.rejected else EXIT_OK)
