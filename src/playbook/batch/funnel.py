"""The funnel: portfolio counters that stay the same size however many cases are added.

A worker folds each case of its chunk into a ``Funnel`` (plain ints and dicts, cheap to pickle);
the main process merges the chunks' funnels in input order and turns the total into the summary
(``summary()``, the JSON contract the text and HTML renderings are made from).
"""

from __future__ import annotations

from typing import Any

from ..engine import CheckResult
from ..model import CompiledPlaybook
from ..text import tr

MAX_REJECTED_SHOWN = 100


class Funnel:
    __slots__ = ("cases", "stage_cases", "stage_ready", "not_entered", "complete", "outcomes",
                 "blocking", "ahead", "rejected", "rejected_shown")

    def __init__(self, n_stages: int):
        self.cases = 0
        self.stage_cases = [0] * n_stages
        self.stage_ready = [0] * n_stages
        self.not_entered = 0
        self.complete = 0
        self.outcomes: dict[str, int] = {}
        self.blocking: dict[tuple[int, int], int] = {}  # (current stage, criterion index) -> cases
        self.ahead: dict[tuple[int, int], int] = {}  # (declared, inferred) -> cases
        self.rejected = 0
        self.rejected_shown: list[tuple[str, int, str]] = []  # (source, line, message)

    def add(self, result: CheckResult) -> None:
        self.cases += 1
        current = result.current
        self.stage_cases[current] += 1
        if result.ready:
            self.stage_ready[current] += 1
        if not result.entered:
            self.not_entered += 1
        if result.complete:
            self.complete += 1
        if result.outcome is not None:
            self.outcomes[result.outcome] = self.outcomes.get(result.outcome, 0) + 1
        if not result.ready:
            blocking = self.blocking
            for i in result.blocking_indexes():
                key = (current, i)
                blocking[key] = blocking.get(key, 0) + 1
        if result.declared is not None and current > result.inferred:
            key = (current, result.inferred)
            self.ahead[key] = self.ahead.get(key, 0) + 1

    def reject(self, source: str, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.rejected_shown) < MAX_REJECTED_SHOWN:
            self.rejected_shown.append((source, line, message))

    def merge(self, other: Funnel) -> None:
        self.cases += other.cases
        for k, n in enumerate(other.stage_cases):
            self.stage_cases[k] += n
        for k, n in enumerate(other.stage_ready):
            self.stage_ready[k] += n
        self.not_entered += other.not_entered
        self.complete += other.complete
        for key, n in other.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + n
        for pair, n in other.blocking.items():
            self.blocking[pair] = self.blocking.get(pair, 0) + n
        for pair, n in other.ahead.items():
            self.ahead[pair] = self.ahead.get(pair, 0) + n
        self.rejected += other.rejected
        room = MAX_REJECTED_SHOWN - len(self.rejected_shown)
        if room > 0:
            self.rejected_shown.extend(other.rejected_shown[:room])

    # -- the summary ---------------------------------------------------------------------------
    def summary(self, pb: CompiledPlaybook, lang: str, *, today: str, inputs: list[str],
                top: int = 10, stopped: dict[str, Any] | None = None) -> dict[str, Any]:
        """The funnel summary as JSON-ready data (titles in ``lang``)."""
        stages = pb.stages
        criteria = pb.criteria
        n = len(stages)
        entered = self.cases - self.not_entered
        # reached[k]: entered cases whose current stage is k or later (the funnel's bars)
        reached = [0] * n
        running = 0
        for k in range(n - 1, -1, -1):
            running += self.stage_cases[k]
            reached[k] = running
        if n:
            reached[0] = entered

        totals: dict[int, int] = {}
        per_stage: dict[int, dict[int, int]] = {}
        for (stage, crit), count in self.blocking.items():
            totals[crit] = totals.get(crit, 0) + count
            per_stage.setdefault(stage, {})[crit] = count

        def brief(i: int, count: int) -> dict[str, Any]:
            c = criteria[i]
            out = {"criterion": c.id, "stage": c.stage, "gate": c.gate, "title": tr(c.title, lang), "cases": count}
            if c.hint is not None:
                out["hint"] = tr(c.hint, lang)
            return out

        def ranked(counts: dict[int, int]) -> list[tuple[int, int]]:
            return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

        stage_rows = []
        for k, stage in enumerate(stages):
            cases = self.stage_cases[k]
            ready = self.stage_ready[k]
            stage_rows.append({
                "id": stage.id,
                "title": tr(stage.title, lang),
                "cases": cases,
                "ready_to_advance": ready,
                "blocked": cases - ready,
                "not_entered": self.not_entered if k == 0 else 0,
                "reached": reached[k],
                "conversion": (round(reached[k] / reached[k - 1], 4) if k and reached[k - 1] else None),
                "top_blocking": [brief(i, c) for i, c in ranked(per_stage.get(k, {}))[:3]],
            })

        outcome_rows = []
        for o in pb.outcomes:
            outcome_rows.append({"id": o.id, "kind": o.kind, "title": tr(o.title, lang),
                                 "cases": self.outcomes.get(o.id, 0)})

        ahead_rows = [
            {"declared": stages[d].id, "inferred": stages[i].id, "cases": count,
             "declared_title": tr(stages[d].title, lang), "inferred_title": tr(stages[i].title, lang)}
            for (d, i), count in sorted(self.ahead.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

        return {
            "playbook": {"id": pb.id, "version": pb.version, "title": tr(pb.title, lang)},
            "lang": lang,
            "today": today,
            "inputs": inputs,
            "records": self.cases + self.rejected,
            "cases": self.cases,
            "entered": entered,
            "not_entered": self.not_entered,
            "ready_to_advance": sum(self.stage_ready),
            "complete": self.complete,
            "stages": stage_rows,
            "outcomes": outcome_rows,
            "blocking": [brief(i, c) for i, c in ranked(totals)[:top]],
            "declared_ahead": {"cases": sum(self.ahead.values()), "by_stage": ahead_rows},
            "rejected": {
                "count": self.rejected,
                "shown": [{"source": s, "line": ln or None, "message": m} for s, ln, m in self.rejected_shown],
                "truncated": self.rejected > len(self.rejected_shown),
            },
            "stopped": stopped,
        }
