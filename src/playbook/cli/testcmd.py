"""``playbook test``: run playbooks' example cases like a test runner, with coverage."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EXIT_BLOCKED, EXIT_OK, PlaybookError
from .common import dump_json, registry, to_date, today_option, warn_plugin_errors


@click.command("test")
@click.argument("playbook_refs", metavar="[PLAYBOOK...]", nargs=-1)
@click.option("--examples", "examples_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of example files (default: examples/<playbook id>/ beside the playbook).")
@click.option("--require-coverage", is_flag=True,
              help="Fail unless every criterion is seen both passing and failing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="List passing examples too.")
@today_option
@click.pass_context
def test_cmd(ctx: click.Context, playbook_refs: tuple[str, ...], examples_dir: str | None,
             require_coverage: bool, fmt: str, verbose: bool, today: Any) -> None:
    """Run the example cases of PLAYBOOKs (default: every installed playbook).

    Prints PASS/FAIL per example with what differed, then which criteria no example
    exercised passing or failing. Exit 1 when an example fails (or, with
    --require-coverage, when coverage is incomplete); 2 for bad input.
    """
    from pathlib import Path

    from ..examples import Coverage, find_examples, run_example
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    refs = list(playbook_refs) or sorted(reg.playbook_index())
    report: list[dict[str, Any]] = []
    failures = 0
    total = 0
    uncovered = 0
    for ref in refs:
        pb = load_playbook(ref, registry=reg)
        unreadable: list[tuple[str, PlaybookError]] = []
        examples = find_examples(pb, Path(examples_dir) if examples_dir else None, unreadable)
        coverage = Coverage()
        entries = []
        for name, exc in unreadable:  # a broken example fails alone; the others still run
            total += 1
            failures += 1
            first = exc.problems[0] if exc.problems else None
            entries.append({"name": name, "passed": False,
                            "differences": [f"cannot read the example: {p.message}" for p in exc.problems],
                            "location": str(first.location) if first and first.location else None})
        for example in examples:
            outcome = run_example(pb, example, today=to_date(today))
            total += 1
            if outcome.result is not None:
                coverage.add(pb, outcome.result)
            if not outcome.passed:
                failures += 1
            entries.append({"name": example.name, "passed": outcome.passed, "differences": outcome.differences,
                            "location": str(example.location) if example.location else None})
        gaps = coverage.gaps(pb)
        if not examples and not unreadable:
            gaps = {"never_passed": [c.id for c in pb.criteria], "never_failed": [c.id for c in pb.criteria]}
        uncovered += len(gaps["never_passed"]) + len(gaps["never_failed"])
        report.append({"playbook": pb.id, "examples": entries, "coverage": gaps,
                       "criteria": len(pb.criteria)})
    coverage_failed = require_coverage and uncovered > 0
    if fmt == "json":
        click.echo(dump_json({"playbooks": report, "passed": total - failures, "failed": failures,
                              "uncovered": uncovered}))
    else:
        for pb_report in report:
            pid = pb_report["playbook"]
            if not pb_report["examples"]:
                click.echo(f"NONE {pid}: no examples found")
            for e in pb_report["examples"]:
                if e["passed"]:
                    if verbose:
                        click.echo(f"PASS {pid}/{e['name']}")
                    continue
                click.echo(f"FAIL {pid}/{e['name']}" + (f"  ({e['location']})" if e["location"] else ""))
                for d in e["differences"]:
                    click.echo(f"    {d}")
            gaps = pb_report["coverage"]
            n = pb_report["criteria"]
            covered = n - len(set(gaps["never_passed"]) | set(gaps["never_failed"]))
            click.echo(f"{pid}: {sum(e['passed'] for e in pb_report['examples'])}/{len(pb_report['examples'])} "
                       f"examples passed; criteria exercised both ways: {covered}/{n}")
            if gaps["never_passed"]:
                click.echo(f"    never passing in any example: {', '.join(gaps['never_passed'])}")
            if gaps["never_failed"]:
                click.echo(f"    never failing in any example: {', '.join(gaps['never_failed'])}")
        click.echo(f"{total - failures} passed, {failures} failed")
    if failures or coverage_failed:
        ctx.exit(EXIT_BLOCKED)
    ctx.exit(EXIT_OK)


__all__ = ["test_cmd", "PlaybookError"]
