"""Gate decisions for run mode, on top of the evaluator's result.

``engine.evaluate`` stays pure and is the only place criteria are evaluated. This module only
combines its per-criterion ``passed`` list with the case's valid waivers: a waived *required*
criterion counts as passed for gate decisions while the waiver holds (``until`` on or after
the evaluation date). Gate = the required exit criteria of a stage plus the required entry
criteria of the next one (the same definition as ``CheckResult.ready``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ..engine import CheckResult
from ..model import CompiledPlaybook
from ..store.base import Waiver


def valid_waivers(waivers: Iterable[Waiver], today: dt.date) -> list[Waiver]:
    iso = today.isoformat()
    return [w for w in waivers if w.until >= iso]


@dataclass
class Gates:
    pb: CompiledPlaybook
    passed: list[bool]  # the evaluator's results, with waived criteria counted as passed
    waived: frozenset[int]  # failing required criteria that a valid waiver lets through

    @classmethod
    def of(cls, result: CheckResult, waivers: Iterable[Waiver] = ()) -> Gates:
        pb = result.playbook
        passed = list(result.passed)
        waived: set[int] = set()
        for w in waivers:
            criterion = pb.criterion(w.criterion)
            if criterion is not None and criterion.required and not passed[criterion.index]:
                passed[criterion.index] = True
                waived.add(criterion.index)
        return cls(pb, passed, frozenset(waived))

    def gate(self, frm: int | None) -> list[int]:
        """Required criteria guarding the step out of ``frm`` (None: into the first stage)."""
        stages = self.pb.stages
        if frm is None:
            return list(stages[0].required_entry)
        out = list(stages[frm].required_exit)
        if frm + 1 < len(stages):
            out += stages[frm + 1].required_entry
        return out

    def path(self, frm: int | None, to: int) -> list[int]:
        """Required criteria of every gate between ``frm`` and a later stage ``to``."""
        out: list[int] = []
        step = frm
        while (step if step is not None else -1) < to:
            out += self.gate(step)
            step = 0 if step is None else step + 1
        return out

    def blocking(self, frm: int | None, to: int) -> list[int]:
        return [i for i in self.path(frm, to) if not self.passed[i]]

    def waived_on(self, frm: int | None, to: int) -> list[int]:
        return [i for i in self.path(frm, to) if i in self.waived]

    def reach(self, frm: int | None) -> int | None:
        """The furthest stage reachable from ``frm`` through open gates (None: not entered)."""
        last = len(self.pb.stages) - 1
        stage = frm
        while stage is None or stage < last:
            if not all(self.passed[i] for i in self.gate(stage)):
                break
            stage = 0 if stage is None else stage + 1
        return stage

    def ready(self, current: int | None) -> bool:
        """The gate out of ``current`` is open (and there is a next stage)."""
        if current is not None and current + 1 >= len(self.pb.stages):
            return False
        return all(self.passed[i] for i in self.gate(current))
