"""The evaluator: a pure function from (compiled playbook, case facts) to a CheckResult.

No I/O, no globals, deterministic for a given evaluation date. Every channel (single check,
batch, run mode, tests) goes through ``evaluate`` so the same gates are enforced everywhere.

Stage semantics: stages are checked in order. The case is *entered* when the first stage's
required entry criteria pass. The *inferred* stage is the first stage whose required exit
criteria do not all pass, or whose next stage's required entry criteria do not all pass;
when every gate passes the case is *complete*. A declared stage (``stage`` in the case or the
``stage`` argument) is the *current* stage; one ahead of the inferred stage is reported as a
skipped gate. ``ready_to_advance``: the current stage's required exit criteria and the next
stage's required entry criteria all pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import compress
from operator import not_
from typing import Any

from .criteria.runtime import EvalContext, Failure, detach
from .errors import CaseError
from .model import CompiledPlaybook


@dataclass
class CheckResult:
    playbook: CompiledPlaybook
    facts: dict[str, Any]
    derived: dict[str, Any]
    ctx: EvalContext
    case_id: str | None
    results: list[Any]  # per criterion: the raw result (bool-like) or a Failure
    passed: list[bool]
    entered: bool
    inferred: int
    current: int
    declared: str | None
    complete: bool
    ready: bool
    outcome: str | None
    derive_errors: list[tuple[str, BaseException]] = field(default_factory=list)
    facts_source: Any = None  # for memoising a reused sub-playbook (builtin/rules.py)

    # -- quick accessors used by batch and run mode ------------------------------------
    @property
    def current_stage(self) -> str:
        return self.playbook.stages[self.current].id

    @property
    def inferred_stage(self) -> str:
        return self.playbook.stages[self.inferred].id

    @property
    def next_stage(self) -> str | None:
        stages = self.playbook.stages
        return stages[self.current + 1].id if self.current + 1 < len(stages) else None

    def blocking_indexes(self) -> list[int]:
        stages = self.playbook.stages
        if not self.entered:
            return [i for i in stages[0].required_entry if not self.passed[i]]
        out = [i for i in stages[self.current].required_exit if not self.passed[i]]
        if self.current + 1 < len(stages):
            out += [i for i in stages[self.current + 1].required_entry if not self.passed[i]]
        return out

    def blocking_ids(self) -> list[str]:
        criteria = self.playbook.criteria
        return [criteria[i].id for i in self.blocking_indexes()]

    def skipped_indexes(self) -> list[int]:
        """Required gates between the inferred and a declared stage ahead of it that fail."""
        if self.declared is None or self.current <= self.inferred:
            return []
        stages = self.playbook.stages
        out: list[int] = []
        for s in range(self.inferred, self.current):
            out += [i for i in stages[s].required_exit if not self.passed[i]]
            out += [i for i in stages[s + 1].required_entry if not self.passed[i]]
        return out

    def to_dict(self, lang: str = "en", *, actions: bool = True) -> dict[str, Any]:
        from .report import build_report

        return build_report(self, lang, include_actions=actions)


def compute_derived(pb: CompiledPlaybook, facts: dict[str, Any], ctx: EvalContext,
                    errors: list[tuple[str, BaseException]]) -> dict[str, Any]:
    derived: dict[str, Any] = {}
    for step in pb.derivations:
        try:
            derived[step.id] = step.compute(facts, derived, ctx)
        except Exception as exc:  # noqa: BLE001 - reported per derivation, never a crash
            errors.append((step.id, detach(exc)))  # kept without its frames (see detach)
    return derived


def _as_date(today: Any) -> dt.date:
    """The evaluation date: a date, a datetime (its date) or an ISO date text."""
    if isinstance(today, dt.datetime):
        return today.date()
    if isinstance(today, dt.date):
        return today
    try:
        return dt.date.fromisoformat(today)
    except (TypeError, ValueError):
        raise CaseError(f"the evaluation date must be a date or YYYY-MM-DD, got {today!r}") from None


def reached_outcome(pb: CompiledPlaybook, stage_id: str, facts: dict[str, Any], derived: dict[str, Any],
                    ctx: EvalContext) -> str | None:
    """The first outcome open in ``stage_id`` (its ``from`` stages) whose condition holds; an
    outcome whose condition cannot be evaluated (missing facts) is not reached."""
    for candidate in pb.outcomes:
        if candidate.from_stages is not None and stage_id not in candidate.from_stages:
            continue
        try:
            if candidate.fn(facts, derived, ctx):
                return candidate.id
        except Exception:  # noqa: BLE001 - an outcome whose facts are missing is not reached
            continue
    return None


def evaluate(
    pb: CompiledPlaybook,
    facts: dict[str, Any],
    *,
    today: dt.date | None = None,
    stage: str | None = None,
    case_id: str | None = None,
    ctx: EvalContext | None = None,
) -> CheckResult:
    """Check ``facts`` against ``pb``. Raises CaseError only for an unusable case or stage."""
    if not isinstance(facts, dict):
        raise CaseError(f"a case must be a mapping of facts, got {type(facts).__name__}")
    if ctx is None:
        ctx = EvalContext(_as_date(today)) if today is not None else EvalContext()
    derive_errors: list[tuple[str, BaseException]] = []
    derived = compute_derived(pb, facts, ctx, derive_errors) if pb.derivations else {}

    criteria = pb.criteria
    if pb.evaluate_all is not None:
        results: list[Any] = [None] * len(criteria)
        pb.evaluate_all(facts, derived, ctx, results)
    else:  # a playbook assembled by hand, without the fused evaluator
        results = []
        for criterion in criteria:
            try:
                results.append(criterion.fn(facts, derived, ctx))
            except Exception as exc:  # noqa: BLE001 - explained in the report, never a crash
                results.append(Failure(exc))
    passed = list(map(bool, results))

    stages = pb.stages
    n = len(stages)
    failed = set(compress(range(len(passed)), map(not_, passed)))
    entry_ok = [failed.isdisjoint(s.required_entry) for s in stages]
    exit_ok = [failed.isdisjoint(s.required_exit) for s in stages]
    entered = entry_ok[0]
    inferred = n - 1
    complete = entered
    if entered:
        for s in range(n):
            if not exit_ok[s] or (s + 1 < n and not entry_ok[s + 1]):
                inferred = s
                complete = False
                break
    else:
        inferred = 0

    declared = stage if stage is not None else facts.get("stage")
    current = inferred
    if declared is not None:
        index = pb.stage_index(declared) if isinstance(declared, str) else None
        if index is None:
            known = ", ".join(s.id for s in stages)
            raise CaseError(f"unknown stage {declared!r} for playbook {pb.id!r} (stages: {known})")
        current = index

    ready = entered and exit_ok[current] and (current + 1 >= n or entry_ok[current + 1])

    outcome = reached_outcome(pb, stages[current].id, facts, derived, ctx)

    if case_id is None:
        raw_id = facts.get("id")
        case_id = str(raw_id) if raw_id is not None else None
    return CheckResult(
        playbook=pb, facts=facts, derived=derived, ctx=ctx, case_id=case_id, results=results,
        passed=passed, entered=entered, inferred=inferred, current=current,
        declared=declared if isinstance(declared, str) else None, complete=complete, ready=ready,
        outcome=outcome, derive_errors=derive_errors,
    )
