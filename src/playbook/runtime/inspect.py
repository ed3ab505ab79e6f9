"""Read-only views of stored cases for ``status``, ``history`` and ``cases`` (no durable_rules
needed: these work wherever the store can be opened)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..engine import evaluate
from ..errors import PlaybookError, Problem
from ..model import CompiledPlaybook
from ..plugins import Registry
from ..store.base import CLOSED, CaseRecord, Store
from ..text import tr
from .events import parse_when
from .gates import Gates, valid_waivers
from .snapshot import PlaybookCache


def require_case(store: Store, case_id: str) -> CaseRecord:
    case = store.get_case(case_id)
    if case is None:
        raise PlaybookError([Problem(f"unknown case {case_id!r} in store {store.location}", None,
                                     "list the cases with `playbook cases`, or check --store / PLAYBOOK_STORE")])
    return case


def days_in_stage(case: CaseRecord, today: dt.date) -> int | None:
    if not case.stage_since:
        return None
    try:
        return (today - parse_when(case.stage_since).date()).days
    except ValueError:
        return None


def stage_clock(case: CaseRecord, pb: CompiledPlaybook, today: dt.date) -> dict[str, Any]:
    """Time in the current stage against the stage's ``max_days`` (closed cases never stall)."""
    index = pb.stage_index(case.stage) if case.stage else None
    max_days = pb.stages[index].max_days if index is not None else None
    days = days_in_stage(case, today)
    stalled = (case.status != CLOSED and max_days is not None and days is not None and days > max_days)
    return {"since": case.stage_since, "days": days, "max_days": max_days, "stalled": stalled}


def installed_version(registry: Registry, playbook_id: str) -> int | None:
    from ..loader import load_playbook

    if registry.find_playbook(playbook_id) is None:
        return None
    try:
        return load_playbook(playbook_id, registry=registry).version
    except PlaybookError:
        return None


def case_status(store: Store, registry: Registry, case: CaseRecord, today: dt.date, lang: str,
                cache: PlaybookCache | None = None) -> dict[str, Any]:
    cache = cache or PlaybookCache(registry)
    pb = cache.get(case.playbook_hash, store)
    waivers = store.waivers(case.case_id)
    result = evaluate(pb, case.facts, today=today, stage=case.stage, case_id=case.case_id)
    gates = Gates.of(result, valid_waivers(waivers, today))
    current = pb.stage_index(case.stage) if case.stage else None
    nxt = 0 if current is None else current + 1
    blocking = gates.blocking(current, nxt) if nxt < len(pb.stages) else []
    iso = today.isoformat()

    def brief(i: int) -> dict[str, Any]:
        c = pb.criteria[i]
        out = {"criterion": c.id, "stage": c.stage, "gate": c.gate, "title": tr(c.title, lang)}
        if c.hint is not None:
            out["hint"] = tr(c.hint, lang)
        return out

    installed = installed_version(registry, pb.id)
    outcome = next((o for o in pb.outcomes if o.id == case.outcome), None)
    stage = pb.stages[current] if current is not None else None
    return {
        "case": case.case_id,
        "playbook": {"id": pb.id, "version": pb.version, "hash": case.playbook_hash, "title": tr(pb.title, lang),
                     "installed_version": installed},
        "today": iso,
        "status": case.status,
        "stage": case.stage,
        "stage_title": tr(stage.title, lang) if stage else None,
        "entered": case.stage is not None,
        "clock": stage_clock(case, pb, today),
        "outcome": case.outcome,
        "outcome_title": tr(outcome.title, lang) if outcome else None,
        "next": pb.stages[nxt].id if nxt < len(pb.stages) else None,
        "ready_to_advance": case.status != CLOSED and gates.ready(current),
        "blocking": [brief(i) for i in blocking],
        # gates behind the current stage that no longer pass (stages never move back by themselves):
        # every gate on the way into it, the first stage's entry included; a valid waiver counts
        "regressed": [brief(i) for i in gates.path(None, current) if not gates.passed[i]] if current is not None
        else [],
        "waived": [pb.criteria[i].id for i in sorted(gates.waived)],
        "waivers": [{**w.to_dict(), "valid": w.until >= iso} for w in waivers],
        "events": case.events,
        "facts": case.facts,
        "updated_at": case.updated_at,
    }


def list_cases(store: Store, registry: Registry, today: dt.date, *, stalled_only: bool = False,
               playbook_id: str | None = None) -> list[dict[str, Any]]:
    """One row per case. A case whose pinned playbook cannot be compiled here (a plugin it was
    started with is missing) is listed with ``error`` and no verdict on stalling; the others are
    listed as usual."""
    cache = PlaybookCache(registry)
    out = []
    for case in store.iter_cases(playbook_id):
        error = None
        try:
            clock = stage_clock(case, cache.get(case.playbook_hash, store), today)
        except PlaybookError as exc:
            error = "; ".join(p.message for p in exc.problems)
            clock = {"since": case.stage_since, "days": days_in_stage(case, today), "max_days": None, "stalled": None}
        if stalled_only and not clock["stalled"]:
            continue
        row = {"case": case.case_id, "playbook": case.playbook_id, "version": case.playbook_version,
               "stage": case.stage, "status": case.status, "outcome": case.outcome, **clock, "events": case.events}
        if error is not None:
            row["error"] = error
        out.append(row)
    return out
