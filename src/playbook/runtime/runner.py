"""Run orchestration: apply one event to one case, atomically.

For each event, inside one exclusive store transaction: skip it if its (case, event id) is
already recorded; load the case (or start it, pinned to the playbook given); check that the
event applies to the case as it is now (else reject it with a reason -- never queue it);
merge its facts; evaluate them with ``engine.evaluate`` (plus valid waivers, see gates.py) to
decide which moves are approved; drive the case's durable_rules flowchart through those moves
(stage actions fire on enter/exit); then write the event row, the new state, the transitions,
waivers and fired actions. A crash before the commit leaves no trace, so re-running the same
events converges on exactly the state of an uninterrupted run. Inside ``Runner.group()``
(group commit, used by ``run_stream``) that unit is a unit of the group's transaction, undone alone
when it fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..engine import CheckResult, evaluate, reached_outcome
from ..model import CompiledPlaybook
from ..plugins import Registry
from ..report import json_texts, run_actions
from ..store.base import (
    ACTION,
    ACTION_ERROR,
    CASE_STARTED,
    CLOSED,
    EVENT,
    REJECTED,
    TRANSITION,
    WAIVER,
    CaseRecord,
    LogEntry,
    Store,
    StoreWriter,
    Waiver,
)
from .events import ADVANCE, FACTS, Event, merge_facts
from .flow import Chart, Hooks, Step
from .flow import release as release_sessions
from .gates import Gates, valid_waivers
from .messages import Reason, rmsg
from .snapshot import PlaybookCache

APPLIED = "applied"
REJECTED_STATUS = "rejected"
DUPLICATE = "duplicate"


def now_iso() -> str:
    """Now, in local time with its UTC offset: its date is the local date, as ``status``,
    ``cases`` and ``check`` take today to be (an event's date is its evaluation date)."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class Applied:
    """What one event did."""

    event: Event
    status: str  # applied | rejected | duplicate
    reason: Reason | None = None
    stage_before: str | None = None
    stage_after: str | None = None
    outcome: str | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)  # texts in every language (as stored)
    errors: list[str] = field(default_factory=list)
    playbook: str | None = None  # "id@version" the case is pinned to

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.event.case, "event": self.event.id, "line": self.event.line,
                               "status": self.status, "stage_before": self.stage_before,
                               "stage": self.stage_after, "outcome": self.outcome, "playbook": self.playbook,
                               "transitions": self.transitions, "actions": [json_texts(a, lang) for a in self.actions],
                               "errors": self.errors}
        if self.reason is not None:
            out["reason"] = self.reason.to_dict(lang)
        return out


def _outcomes_differ(pb: CompiledPlaybook, a: int, b: int) -> bool:
    """Whether the evaluator may pick another outcome at stage ``b`` than at stage ``a``: only
    when an outcome limited to some stages (``from_stages``) is open in one and not the other.
    Otherwise the same outcome functions run, in the same order, on the same facts and context."""
    sa, sb = pb.stages[a].id, pb.stages[b].id
    return any(o.from_stages is not None and (sa in o.from_stages) != (sb in o.from_stages) for o in pb.outcomes)


def outcome_at(result: CheckResult, stage: int) -> str | None:
    """The outcome ``engine.evaluate`` would pick for the same facts at stage ``stage``: the first
    outcome open in that stage (``from_stages``) whose function holds, one that raises is not
    reached. Computed from ``result`` -- the same outcome functions on the same facts, derived
    values and context (derivations are pure functions of the facts and the context) -- instead
    of evaluating every criterion again; tests/test_runtime_differential.py checks that it
    agrees with ``evaluate`` for every bundled playbook, example and stage."""
    return reached_outcome(result.playbook, result.playbook.stages[stage].id, result.facts, result.derived,
                           result.ctx)


class _Rejected(Exception):
    def __init__(self, reason: Reason):
        self.reason = reason


@dataclass
class _Plan:
    facts: dict[str, Any]
    result: CheckResult
    gates: Gates
    steps: list[Step]
    new_waivers: list[Waiver]
    final: int | None
    outcome: str | None


class _Recorder(Hooks):
    """Called by the flowchart's stage functions: fires actions, records transitions."""

    def __init__(self, pb: CompiledPlaybook, plan: _Plan, lang: str):
        self.pb = pb
        self.plan = plan
        self.lang = lang
        self.transitions: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def entered(self, stage: str, from_stage: str | None, via: str) -> None:
        pb, result = self.pb, self.plan.result
        to_index = pb.stage_index(stage)
        from_index = pb.stage_index(from_stage) if from_stage else None
        if to_index is None:
            raise RuntimeError(f"flowchart entered unknown stage {stage!r}")
        waived: list[str] = []
        if via != "back":
            if from_index is not None:
                self.actions += run_actions(result, self.lang, self.errors, on=("exit",), stage_index=from_index,
                                            resolve=False)
            waived = [pb.criteria[i].id for i in self.plan.gates.gate(from_index) if i in self.plan.gates.waived]
        self.actions += run_actions(result, self.lang, self.errors, on=("enter",), stage_index=to_index,
                                    resolve=False)
        self.transitions.append({"from": from_stage, "to": stage, "via": via, "waived": waived})

    def closed(self, outcome: str, from_stage: str | None) -> None:
        self.transitions.append({"from": from_stage, "to": None, "via": "outcome", "outcome": outcome, "waived": []})


class Runner:
    """Applies events to cases in ``store``. ``playbook`` starts new cases (pinned to it)."""

    def __init__(self, store: Store, registry: Registry, *, playbook: CompiledPlaybook | None = None,
                 today: dt.date | None = None, lang: str = "en"):
        self.store = store
        self.registry = registry
        self.playbook = playbook
        self.today = today
        self.lang = lang
        self.cache = PlaybookCache(registry)
        self._stored_hashes: set[str] = set()
        # Inside group() of a store whose groups are isolated: the case the last committed unit
        # left (as stored) and its waivers, so that the case's next event skips reading and
        # decoding it. Dropped at the end of the group and whenever a unit fails.
        self._isolated = False
        self._known: tuple[CaseRecord, list[Waiver]] | None = None
        self._unit_known: tuple[CaseRecord, list[Waiver]] | None = None

    # -- public -----------------------------------------------------------------------------
    def apply(self, event: Event, *, keep_session: bool = False) -> Applied:
        """Apply one event in one store transaction. ``keep_session``: keep the case's
        durable_rules session for its next event (a stream does; see ``flow.Chart.drive``) --
        it is deleted if this transaction does not commit."""
        known, self._known, self._unit_known = self._known, None, None
        try:
            applied = self._apply(event, keep_session, known)
        except BaseException:
            self._forget_uncommitted()
            raise
        if self._isolated:  # the unit is released: what it left is what the store holds
            self._known = self._unit_known
        self._unit_known = None
        return applied

    @contextmanager
    def group(self) -> Iterator[None]:
        """Group commit: the events applied inside the block share one store transaction (each
        is still its own unit, undone alone, see ``Store.group``). If the block raises or the commit
        fails, nothing of the group is stored -- and nothing of it is remembered here: the
        durable_rules session and the cache of stored snapshots are dropped, so the next event
        is derived from what the store holds."""
        try:
            with self.store.group():
                self._isolated = self.store.group_isolated
                try:
                    yield
                finally:
                    self._isolated, self._known = False, None
        except BaseException:
            self._forget_uncommitted()
            raise

    def _forget_uncommitted(self) -> None:
        self._stored_hashes.clear()  # a snapshot put by a rolled-back write is not in the store
        self._known = self._unit_known = None
        release_sessions()

    def _apply(self, event: Event, keep_session: bool, known: tuple[CaseRecord, list[Waiver]] | None) -> Applied:
        with self.store.write() as w:
            if known is not None and known[0].case_id == event.case:
                # the same case as the group's previous unit: only the event id is new to look up
                if w.has_event(event.case, event.id):
                    self._unit_known = known
                    return Applied(event, DUPLICATE)
                stored, waivers = known
            else:
                found = w.for_event(event.case, event.id)
                if found.duplicate:
                    return Applied(event, DUPLICATE)
                stored, waivers = found.case, found.waivers
            case = stored
            try:
                case, is_new = self._case_for(w, event, case)
                pb = self.cache.get(case.playbook_hash, w)
                today = self.today or event.date or dt.date.today()
                plan = self._decide(pb, case, event, waivers, today)
            except _Rejected as rejected:
                self._record_rejection(w, event, case, rejected.reason)
                if stored is not None:  # unchanged by a rejection (a new case is not stored)
                    self._unit_known = (stored, waivers)
                return Applied(event, REJECTED_STATUS, rejected.reason, stage_before=case.stage if case else None,
                               stage_after=case.stage if case else None,
                               playbook=f"{case.playbook_id}@{case.playbook_version}" if case else None)
            recorder = _Recorder(pb, plan, self.lang)
            Chart.for_playbook(pb, case.playbook_hash).drive(case.stage, plan.steps, recorder,
                                                             keep=case.case_id if keep_session else None)
            applied = self._persist(w, event, case, is_new, plan, recorder)
            self._unit_known = (case, [*waivers, *plan.new_waivers] if plan.new_waivers else waivers)
            return applied

    # -- deciding ---------------------------------------------------------------------------
    def _case_for(self, w: StoreWriter, event: Event, case: CaseRecord | None) -> tuple[CaseRecord, bool]:
        if case is not None:
            if self.playbook is not None and case.playbook_id != self.playbook.id:
                raise _Rejected(Reason("other_playbook", {"case": case.case_id, "case_playbook": case.playbook_id,
                                                          "playbook": self.playbook.id}))
            return case, False
        if self.playbook is None:
            raise _Rejected(Reason("unknown_case", {"case": event.case}))
        snap = self.cache.snapshot(self.playbook)
        if snap.hash not in self._stored_hashes:
            w.put_playbook(snap)
            self._stored_hashes.add(snap.hash)
        return CaseRecord(case_id=event.case, playbook_id=snap.playbook_id, playbook_version=snap.version,
                          playbook_hash=snap.hash, stage=None, stage_since=None, facts={}), True

    def _decide(self, pb: CompiledPlaybook, case: CaseRecord, event: Event, waivers: list[Waiver],
                today: dt.date) -> _Plan:
        if case.status == CLOSED:
            raise _Rejected(Reason("closed", {"outcome": case.outcome}))
        if event.stage is not None and event.stage != case.stage:
            raise _Rejected(Reason("wrong_stage", {"expected": event.stage,
                                                   "actual": case.stage or rmsg("not_entered", "en")}))
        new_waivers = [self._waiver(pb, w, event, today) for w in event.waive]
        facts = merge_facts(case.facts, event.facts) if event.type == FACTS and event.facts else case.facts
        result = evaluate(pb, facts, today=today, stage=case.stage, case_id=case.case_id)
        gates = Gates.of(result, valid_waivers([*waivers, *new_waivers], today))
        current = pb.stage_index(case.stage) if case.stage else None
        ids = [s.id for s in pb.stages]
        steps: list[Step] = []
        if event.type == ADVANCE:
            target = pb.stage_index(event.to or "")
            if target is None:
                raise _Rejected(Reason("unknown_stage", {"stage": event.to, "stages": ", ".join(ids)}))
            if current is None or target > current:
                blocking = gates.blocking(current, target)
                if blocking:
                    raise _Rejected(Reason("blocked", {"to": event.to,
                                                       "criteria": ", ".join(pb.criteria[i].id for i in blocking)}))
                first = 0 if current is None else current + 1
                steps = [Step(ids[s], via="manual") for s in range(first, target + 1)]
            elif target < current:
                if not event.reason:
                    raise _Rejected(Reason("back_needs_reason", {"to": event.to}))
                steps = [Step(ids[target], via="back")]
            final: int | None = target
        else:  # facts, waive: advance as far as the gates are open
            final = gates.reach(current)
            first = 0 if current is None else current + 1
            if final is not None:
                steps = [Step(ids[s]) for s in range(first, final + 1)]
        # result.outcome is the outcome at result.current (the inferred stage for a new case);
        # final is None only for a case that stays out, where asking again gives the same
        if final is not None and final != result.current and _outcomes_differ(pb, result.current, final):
            # an outcome limited to some stages is open in one of the two stages and not in the
            # other: the outcome at the stage reached
            outcome = outcome_at(result, final)
        else:
            outcome = result.outcome
        if outcome is not None:
            steps.append(Step(outcome, close=True))
        return _Plan(facts, result, gates, steps, new_waivers, final, outcome)

    @staticmethod
    def _waiver(pb: CompiledPlaybook, raw: Any, event: Event, today: dt.date) -> Waiver:
        criterion = pb.criterion(raw.criterion)
        if criterion is None:
            raise _Rejected(Reason("unknown_criterion", {"criterion": raw.criterion, "playbook": pb.id}))
        if not criterion.required:
            raise _Rejected(Reason("not_required", {"criterion": raw.criterion}))
        if raw.until < today.isoformat():
            raise _Rejected(Reason("waiver_expired", {"criterion": raw.criterion, "until": raw.until,
                                                      "today": today.isoformat()}))
        return Waiver(criterion=raw.criterion, reason=raw.reason, approver=raw.approver, until=raw.until,
                      at=event.at, actor=event.actor, event_id=event.id)

    # -- recording --------------------------------------------------------------------------
    def _record_rejection(self, w: StoreWriter, event: Event, case: CaseRecord | None, reason: Reason) -> None:
        w.record_event(event.case, event.id, type=event.type, at=event.at, actor=event.actor,
                       status=REJECTED_STATUS, reason=reason.text("en"))
        w.append_log(LogEntry(case_id=event.case, kind=REJECTED, event_id=event.id, at=event.at, actor=event.actor,
                              from_stage=case.stage if case else None, reason=reason.text("en"),
                              data={"code": reason.code, "params": reason.params, "event": event.payload()}))

    def _persist(self, w: StoreWriter, event: Event, case: CaseRecord, is_new: bool, plan: _Plan,
                 recorder: _Recorder) -> Applied:
        at = event.at or now_iso()
        before = case.stage
        w.record_event(case.case_id, event.id, type=event.type, at=event.at, actor=event.actor, status=APPLIED,
                       reason=event.reason)
        log: list[LogEntry] = []
        if is_new:
            log.append(LogEntry(case_id=case.case_id, kind=CASE_STARTED, event_id=event.id, at=at, actor=event.actor,
                                  data={"playbook": case.playbook_id, "version": case.playbook_version,
                                        "hash": case.playbook_hash}))
        log.append(LogEntry(case_id=case.case_id, kind=EVENT, event_id=event.id, at=at, actor=event.actor,
                              from_stage=before, reason=event.reason, data=event.payload()))
        for waiver in plan.new_waivers:
            w.add_waiver(case.case_id, waiver)
            log.append(LogEntry(case_id=case.case_id, kind=WAIVER, event_id=event.id, at=at, actor=event.actor,
                                  reason=waiver.reason, data=waiver.to_dict()))
        why = event.reason
        for t in recorder.transitions:
            if t["via"] in ("manual", "back"):
                reason = why
            elif t["via"] == "outcome":
                reason = why or "outcome reached"
            else:
                reason = why or "gate passed"
            data = {"via": t["via"]}
            if t["waived"]:
                data["waived"] = t["waived"]
            if t.get("outcome"):
                data["outcome"] = t["outcome"]
            log.append(LogEntry(case_id=case.case_id, kind=TRANSITION, event_id=event.id, at=at, actor=event.actor,
                                  from_stage=t["from"], to_stage=t["to"], reason=reason, data=data))
        for entry in recorder.actions:
            log.append(LogEntry(case_id=case.case_id, kind=ACTION, event_id=event.id, at=at, actor=event.actor,
                                  to_stage=entry.get("stage"), data=entry))
        for message in recorder.errors:  # in the run's language, as the run showed it
            log.append(LogEntry(case_id=case.case_id, kind=ACTION_ERROR, event_id=event.id, at=at,
                                actor=event.actor, data={"message": message}))
        w.append_logs(log)
        final_stage = plan.result.playbook.stages[plan.final].id if plan.final is not None else None
        case.facts = plan.facts
        moved = is_new or final_stage != before or plan.outcome is not None
        if final_stage != before:
            case.stage = final_stage
            case.stage_since = at
        if plan.outcome is not None:
            case.outcome = plan.outcome
            case.status = CLOSED
        case.events += 1
        w.save_case(case, moved=moved)
        return Applied(event, APPLIED, None, stage_before=before, stage_after=case.stage, outcome=plan.outcome,
                       transitions=[{**t, "at": at} for t in recorder.transitions], actions=recorder.actions,
                       errors=recorder.errors, playbook=f"{case.playbook_id}@{case.playbook_version}")
