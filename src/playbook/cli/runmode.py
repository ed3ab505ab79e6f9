"""Run mode commands: ``run``, ``status``, ``history``, ``cases``, ``advance``.

Exit codes: 0 ok; 1 an event was rejected / the advance is blocked; 2 bad input.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import stat
import sys
import uuid
from collections.abc import Callable
from typing import Any

import click

from ..errors import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, PlaybookError, Problem
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

TEXT_LIMIT = 50  # details listed per kind in text output


def store_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--store", "store_location", default=None, metavar="PATH",
        help="Run-mode store (SQLite file, created on first use). Default: PLAYBOOK_STORE, else "
             "$XDG_DATA_HOME/playbook/store.sqlite (~/.local/share/playbook/store.sqlite).",
    )(f)


def _open(location: str | None, *, create: bool = False) -> Any:
    """The store; only `run` creates one (elsewhere a path with no store is a mistake)."""
    from ..store import open_store

    return open_store(location, create=create)


def _m(key: str, lang: str, **params: Any) -> str:
    from ..runtime.messages import rmsg

    return rmsg(key, lang, **params)


def _stage_label(stage: str | None, lang: str) -> str:
    return stage if stage is not None else _m("not_entered", lang)


# ---------------------------------------------------------------------------------------------
# run


@click.command("run")
@click.argument("playbook_ref", metavar="PLAYBOOK")
@click.argument("events", metavar="EVENTS")
@store_option
@click.option("--commit-every", "commit_every", type=click.IntRange(min=1), default=None, metavar="N",
              help="Group commit: up to N events per store transaction (default 64; 1 = one transaction "
                   "per event). A kill loses at most the uncommitted group, which a re-run applies.")
@click.option("--commit-ms", "commit_ms", type=click.FloatRange(min=0, min_open=True), default=None, metavar="MS",
              help="Commit a group after MS milliseconds at the latest (default 50): bounds how long "
                   "another writer waits for the store.")
@format_option("text", "json")
@lang_option
@today_option
@click.pass_context
def run_cmd(ctx: click.Context, playbook_ref: str, events: str, store_location: str | None,
            commit_every: int | None, commit_ms: float | None, fmt: str, lang: str | None, today: Any) -> None:
    """Apply EVENTS (JSONL file, or - for stdin) to cases run on PLAYBOOK.

    New cases start on PLAYBOOK and stay pinned to that version. Each event is applied at most
    once (its id is unique per case); re-running a file changes nothing. Events are committed
    in groups (--commit-every, --commit-ms; each event is undone alone if it fails), and the
    summary counts only committed events. The evaluation date is --today, else the event's
    `at`, else today. Format: docs/run-mode.md.

    Exit code 0: every event applied (or already applied); 1: some event was rejected;
    2: bad input (bad lines are reported with their line numbers and the rest still runs).
    """
    from ..loader import load_playbook
    from ..runtime.events import read_events
    from ..runtime.flow import load_durable
    from ..runtime.runfile import COMMIT_EVERY, COMMIT_MS, RunSummary, run_stream
    from ..runtime.runner import Runner

    lang = resolve_lang(lang)
    reg = registry(ctx)
    warn_plugin_errors(reg)
    pb = load_playbook(playbook_ref, registry=reg)
    load_durable()  # fail early and clearly where durable_rules cannot run (Python 3.13)
    if events == "-":  # bytes: read_events decodes each line (a bad one is a bad line)
        stream: Any = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
        source = "<stdin>"
    else:
        try:
            stream = gzip.open(events, "rb") if events.endswith(".gz") else open(events, "rb")  # noqa: SIM115
        except OSError as exc:
            raise PlaybookError([Problem(f"cannot read events: {exc.strerror}", None,
                                         f"{events}: give a JSONL file of events (.jsonl, or .jsonl.gz), or - for "
                                         "stdin")]) from None
        source = events
    summary = RunSummary(keep=None if fmt == "json" else TEXT_LIMIT, lang=lang)
    from ..gctune import tune_for_throughput

    tune_for_throughput()
    with _open(store_location, create=True) as store:
        try:
            run_stream(Runner(store, reg, playbook=pb, today=to_date(today), lang=lang),
                       read_events(stream, source), summary, source, commit_every=commit_every or COMMIT_EVERY,
                       commit_ms=commit_ms or COMMIT_MS, may_wait=not _regular_file(stream))
        finally:
            if events != "-":
                stream.close()
        location = store.location
    if fmt == "json":
        click.echo(dump_json({"playbook": {"id": pb.id, "version": pb.version}, "store": location,
                              **summary.to_dict()}))
    else:
        click.echo(_render_run(pb, location, summary, lang), nl=False)
    if summary.bad:
        ctx.exit(EXIT_BAD_INPUT)
    ctx.exit(EXIT_BLOCKED if summary.rejected else EXIT_OK)


def _regular_file(stream: Any) -> bool:
    """Whether reading ``stream`` never waits for a writer (a regular file, not a pipe or tty)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False  # CliRunner's stdin and the like: read ahead, to be safe


def _render_run(pb: Any, location: str, summary: Any, lang: str) -> str:
    from ..text import tr

    counts = summary.counts()
    lines = [f"{_m('playbook', lang)}: {pb.id} v{pb.version} — {tr(pb.title, lang)}",
             f"{_m('store', lang)}: {location}", _m("summary", lang, **counts), ""]

    def section(title: str, items: list[dict[str, Any]], total: int, show: Callable[[dict[str, Any]], str]) -> None:
        if not total:
            return
        lines.append(f"{title} ({total}):")
        lines.extend(f"  {show(item)}" for item in items)
        if total > len(items):
            lines.append("  " + _m("more", lang, count=total - len(items)))
        lines.append("")

    def transition(t: dict[str, Any]) -> str:
        if t.get("outcome"):
            return f"{t['case']}: {_stage_label(t['from'], lang)} -> {_m('closed_with', lang, outcome=t['outcome'])}"
        extra = f" [{t['via']}]" if t["via"] != "gate" else ""
        waived = _m("waived_list", lang, criteria=", ".join(t["waived"])) if t.get("waived") else ""
        return f"{t['case']}: {_stage_label(t['from'], lang)} -> {t['to']}{extra}{waived}"

    section(_m("transitions", lang), summary.transitions, summary.transitions_total, transition)
    section(_m("actions_fired", lang), summary.actions, summary.actions_total,
            lambda a: f"{a['case']}: {a['stage']} {a['on']} {a['id']} ({a['do']}) — {a['title']}")
    section(_m("rejected_events", lang), summary.rejections, summary.rejected,
            lambda r: f"{_m('line', lang, line=r['line'])}: {r['case']}/{r['event']}: {r['reason']['message']}")
    section(_m("bad_lines", lang), summary.bad_lines, summary.bad,
            lambda b: f"{b['source']}:{b['line']}: {b['message']}")
    for e in summary.errors:
        lines.append(f"error: {e['case']}/{e['event']}: {e['message']}")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# status


@click.command("status")
@click.argument("case_id", metavar="CASE")
@store_option
@format_option("text", "json")
@lang_option
@today_option
@click.pass_context
def status_cmd(ctx: click.Context, case_id: str, store_location: str | None, fmt: str, lang: str | None,
               today: Any) -> None:
    """Where CASE stands: pinned playbook, stage and time in it, what blocks the next gate,
    waivers. Exit code 0 (2 for an unknown case)."""
    from ..runtime.inspect import case_status, require_case

    lang = resolve_lang(lang)
    reg = registry(ctx)
    with _open(store_location) as store:
        case = require_case(store, case_id)
        info = case_status(store, reg, case, to_date(today) or dt.date.today(), lang)
    if fmt == "json":
        click.echo(dump_json(info))
        return
    click.echo(_render_status(info, lang), nl=False)


def _render_status(info: dict[str, Any], lang: str) -> str:
    pbi = info["playbook"]
    note = ""
    if pbi["installed_version"] is not None and pbi["installed_version"] != pbi["version"]:
        note = f" ({_m('pinned_note', lang, installed=pbi['installed_version'])})"
    lines = [f"{_m('case', lang)}: {info['case']}",
             f"{_m('playbook', lang)}: {pbi['id']} v{pbi['version']} — {pbi['title']}{note}"]
    clock = info["clock"]
    stage = _stage_label(info["stage"], lang)
    if info["stage_title"]:
        stage += f" — {info['stage_title']}"
    if clock["since"]:
        stage += " " + _m("since", lang, since=clock["since"], days=clock["days"])
        if clock["max_days"] is not None:
            stage += _m("of_max", lang, max_days=clock["max_days"])
        stage += ")" if lang != "zh" else "）"
        if clock["stalled"]:
            stage += f" {_m('stalled', lang)}"
    lines.append(f"{_m('stage', lang)}: {stage}")
    if info["outcome"]:
        lines.append(f"{_m('status', lang)}: {_m('closed_with', lang, outcome=info['outcome_title'] or info['outcome'])}")
    else:
        if info["ready_to_advance"]:
            state = _m("ready", lang, next=info["next"])
        elif info["next"] is None:
            state = _m("complete", lang)
        else:
            state = _m("open", lang)
        lines.append(f"{_m('status', lang)}: {state}")
    lines.append(f"{_m('events_count', lang)}: {info['events']}")
    if info["blocking"] and not info["outcome"]:
        lines.append("")
        lines.append(f"{_m('blocking', lang)}:")
        for b in info["blocking"]:
            hint = f" — {b['hint']}" if b.get("hint") else ""
            lines.append(f"  - {b['criterion']} ({b['stage']} {b['gate']}): {b['title']}{hint}")
    if info["regressed"] and not info["outcome"]:
        lines.append("")
        lines.append(f"{_m('regressed', lang)}:")
        lines.extend(f"  - {b['criterion']} ({b['stage']} {b['gate']}): {b['title']}" for b in info["regressed"])
    if info["waivers"]:
        lines.append("")
        lines.append(f"{_m('waivers', lang)}:")
        for w in info["waivers"]:
            lines.append("  - " + _m("waiver_line", lang, criterion=w["criterion"], reason=w["reason"],
                                     approver=w["approver"], until=w["until"],
                                     expired="" if w["valid"] else _m("expired", lang)))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# history


@click.command("history")
@click.argument("case_id", metavar="CASE")
@store_option
@format_option("text", "json")
@lang_option
@click.pass_context
def history_cmd(ctx: click.Context, case_id: str, store_location: str | None, fmt: str, lang: str | None) -> None:
    """The audit log of CASE: events (applied and rejected), stage transitions (from, to,
    when, by whom, why), waivers and fired actions, in order."""
    from ..runtime.messages import Reason

    lang = resolve_lang(lang)
    with _open(store_location) as store:
        entries = store.history(case_id)
        if not entries and store.get_case(case_id) is None:
            raise PlaybookError([Problem(f"unknown case {case_id!r} in store {store.location}", None,
                                         "list the cases with `playbook cases`")])
    from ..report import json_texts

    for e in entries:  # action entries keep their texts in every language: shown in lang
        if e.kind == "action":
            e.data = json_texts(e.data, lang)
    if fmt == "json":
        click.echo(dump_json({"case": case_id, "log": [e.to_dict() for e in entries]}))
        return
    lines = []
    for e in entries:
        head = f"{e.seq:>5} {e.at or '-'} {e.actor or '-'} {e.kind}"
        if e.kind == "transition":
            if e.data.get("outcome"):
                body = f"{_stage_label(e.from_stage, lang)} -> {_m('closed_with', lang, outcome=e.data['outcome'])}"
            else:
                body = f"{_stage_label(e.from_stage, lang)} -> {e.to_stage} [{e.data.get('via')}]"
            if e.data.get("waived"):
                body += _m("waived_list", lang, criteria=", ".join(e.data["waived"]))
            if e.reason:
                body += f": {_reason_label(e.reason, lang)}"
        elif e.kind == "rejected":
            reason = Reason(e.data["code"], e.data.get("params") or {}) if e.data.get("code") else None
            body = f"{e.event_id}: {reason.text(lang) if reason else e.reason}"
        elif e.kind == "waiver":
            body = _m("waiver_line", lang, criterion=e.data["criterion"], reason=e.data["reason"],
                      approver=e.data["approver"], until=e.data["until"], expired="")
        elif e.kind == "action":
            body = f"{e.data.get('stage')} {e.data.get('on')} {e.data.get('id')} ({e.data.get('do')}) — {e.data.get('title')}"
        elif e.kind == "action-error":
            body = e.data.get("message", "")
        elif e.kind == "event":
            keys = ", ".join(sorted((e.data.get("facts") or {}).keys()))
            body = f"{e.event_id} {e.data.get('type')}" + (f" {{{keys}}}" if keys else "")
            if e.data.get("to"):
                body += f" to {e.data['to']}"
        else:
            body = " ".join(f"{k}={v}" for k, v in e.data.items())
        lines.append(f"{head}: {body}")
    click.echo("\n".join(lines) + ("\n" if lines else ""), nl=False)


# ---------------------------------------------------------------------------------------------
# cases


@click.command("cases")
@store_option
@click.option("--stalled", is_flag=True, help="Only cases longer in their stage than its max_days.")
@click.option("--playbook", "playbook_id", default=None, metavar="ID", help="Only cases of this playbook.")
@format_option("text", "json")
@lang_option
@today_option
@click.pass_context
def cases_cmd(ctx: click.Context, store_location: str | None, stalled: bool, playbook_id: str | None, fmt: str,
              lang: str | None, today: Any) -> None:
    """List the cases in the store with their stage and time in stage (--stalled: only those
    over the stage's max_days)."""
    from ..runtime.inspect import list_cases

    lang = resolve_lang(lang)
    reg = registry(ctx)
    day = to_date(today) or dt.date.today()
    with _open(store_location) as store:
        rows = list_cases(store, reg, day, stalled_only=stalled, playbook_id=playbook_id)
    broken = [r for r in rows if "error" in r]
    for r in broken:
        click.echo(f"warning: {r['case']}: {r['error']}", err=True)
    if fmt == "json":
        click.echo(dump_json({"today": day.isoformat(), "cases": rows}))
    elif not rows:
        click.echo(_m("no_cases", lang))
    for r in rows if fmt != "json" else []:
        stage = _stage_label(r["stage"], lang)
        clock = ""
        if r["days"] is not None:
            clock = f" {r['days']}d" + (f"/{r['max_days']}d" if r["max_days"] is not None else "")
        flag = f" {_m('stalled', lang)}" if r["stalled"] else ""
        closed = f" [{_m('closed_with', lang, outcome=r['outcome'])}]" if r["outcome"] else ""
        error = f"  ({_m('cannot_check', lang)})" if "error" in r else ""
        click.echo(f"{r['case']}  {r['playbook']}@{r['version']}  {stage}{clock}{flag}{closed}{error}")
    if broken:  # listed, but not every case could be checked: like a bad record in a batch
        ctx.exit(EXIT_BAD_INPUT)


# ---------------------------------------------------------------------------------------------
# advance


@click.command("advance")
@click.argument("case_id", metavar="CASE")
@click.option("--to", "to_stage", required=True, metavar="STAGE", help="The stage to move the case to.")
@click.option("--waive", "waive", multiple=True, metavar="CRITERION",
              help="Waive a required criterion (repeatable); needs --reason, --approver and --until.")
@click.option("--reason", default=None, help="Why (required to move back, and for waivers).")
@click.option("--approver", default=None, help="Who approved the waiver(s).")
@click.option("--until", "until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
              help="Last day the waiver(s) hold.")
@click.option("--actor", default=None, help="Who does this (default: $USER).")
@click.option("--id", "event_id", default=None, help="Event id (default: generated); reuse it to make a retry idempotent.")
@store_option
@format_option("text", "json")
@lang_option
@today_option
@click.pass_context
def advance_cmd(ctx: click.Context, case_id: str, to_stage: str, waive: tuple[str, ...], reason: str | None,
                approver: str | None, until: Any, actor: str | None, event_id: str | None,
                store_location: str | None, fmt: str, lang: str | None, today: Any) -> None:
    """Move CASE to STAGE. Every gate on the way must pass or be waived; moving back is
    allowed with --reason. Recorded in the case's history either way.

    Exit code 0: moved (or already there); 1: blocked; 2: bad input.
    """
    from ..runtime.events import ADVANCE, Event, WaiverInput
    from ..runtime.flow import load_durable
    from ..runtime.inspect import require_case
    from ..runtime.runner import APPLIED, DUPLICATE, Runner, now_iso
    from ..runtime.snapshot import PlaybookCache

    lang = resolve_lang(lang)
    reg = registry(ctx)
    if waive and not (reason and approver and until):
        raise click.UsageError("--waive needs --reason, --approver and --until")
    load_durable()
    with _open(store_location) as store:
        case = require_case(store, case_id)
        pb = PlaybookCache(reg).get(case.playbook_hash, store)
        target = pb.stage_index(to_stage)
        if target is None:
            raise PlaybookError([Problem(f"unknown stage {to_stage!r} for case {case_id!r}", None,
                                         f"stages of {pb.id} v{pb.version}: {', '.join(s.id for s in pb.stages)}")])
        current = pb.stage_index(case.stage) if case.stage else None
        if current is not None and target < current and not reason:
            raise click.UsageError(f"moving {case_id} back from {case.stage} to {to_stage} needs --reason")
        event = Event(case=case_id, id=event_id or f"advance-{uuid.uuid4().hex[:12]}", type=ADVANCE, at=now_iso(),
                      actor=actor or os.environ.get("USER") or None, reason=reason, to=to_stage,
                      waive=[WaiverInput(criterion=c, reason=reason or "", approver=approver or "",
                                         until=until.date().isoformat()) for c in waive])
        outcome = Runner(store, reg, today=to_date(today), lang=lang).apply(event)
        earlier = _earlier_rejection(store, case_id, event.id, lang) if outcome.status == DUPLICATE else None
    data = outcome.to_dict(lang)
    if earlier is not None:  # the id was used by an advance that was rejected: a retry needs a new id
        data["earlier"] = {"status": "rejected", "reason": earlier}
    if fmt == "json":
        click.echo(dump_json(data))
    elif earlier is not None:
        click.echo(_m("duplicate_rejected", lang, id=event.id, case=case_id, reason=earlier))
    elif outcome.status == DUPLICATE:
        click.echo(_m("duplicate", lang, id=event.id, case=case_id))
    elif outcome.status == APPLIED:
        if not outcome.transitions:
            click.echo(_m("stayed", lang, case=case_id, stage=_stage_label(outcome.stage_after, lang)))
        for t in outcome.transitions:
            if t.get("outcome"):
                click.echo(f"{case_id}: {_m('closed_with', lang, outcome=t['outcome'])}")
            else:
                waived = _m("waived_list", lang, criteria=", ".join(t["waived"])) if t["waived"] else ""
                click.echo(_m("moved", lang, case=case_id, frm=_stage_label(t["from"], lang), to=t["to"]) + waived)
        for a in data["actions"]:  # resolved in lang
            click.echo(f"  {a['stage']} {a['on']} {a['id']} ({a['do']}) — {a['title']}")
    else:
        assert outcome.reason is not None
        click.echo(_m("advance_rejected", lang, reason=outcome.reason.text(lang)))
    ctx.exit(EXIT_OK if outcome.status != "rejected" and earlier is None else EXIT_BLOCKED)


def _earlier_rejection(store: Any, case_id: str, event_id: str, lang: str) -> str | None:
    """Why the event ``event_id`` was rejected when it was first handled (None: it was applied)."""
    from ..runtime.messages import Reason

    record = store.event_record(case_id, event_id)
    if record is None or record[0] != "rejected":
        return None
    for e in store.history(case_id):
        if e.kind == "rejected" and e.event_id == event_id and e.data.get("code"):
            return Reason(e.data["code"], e.data.get("params") or {}).text(lang)
    return record[1] or "-"


_AUTOMATIC_REASONS = {"gate passed": "gate_passed", "outcome reached": "outcome_reached"}


def _reason_label(reason: str, lang: str) -> str:
    """A transition's reason: the runner's own (stored in English) in ``lang``, a person's as given."""
    key = _AUTOMATIC_REASONS.get(reason)
    return _m(key, lang) if key else reason
