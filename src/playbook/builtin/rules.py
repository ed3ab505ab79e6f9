"""Core rules: reuse another playbook as a gate."""

from __future__ import annotations

from typing import Any

from ..rules import RuleResult

PLAYBOOK_PASSES_SCHEMA = {
    "type": "object",
    "required": ["playbook"],
    "additionalProperties": False,
    "properties": {
        "playbook": {"type": "string", "description": "id of the playbook used as a gate"},
        "stage": {"type": "string", "description": "pass when the case is past this stage (default: complete)"},
    },
}


def _prepare_playbook_passes(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    from ..errors import PlaybookError

    sub = ctx.load_playbook(params["playbook"])
    stage = params.get("stage")
    if stage is not None and sub.stage_index(stage) is None:
        raise PlaybookError(f"playbook {sub.id!r} has no stage {stage!r}")
    return {"playbook": sub, "stage": stage}


# The last sub-playbook result per sub-playbook id, with the `derived` dict of the evaluation it
# belongs to: several criteria reusing the same gate in one evaluation share one sub-evaluation.
# (`derived` is a fresh dict per evaluation and is held here, so identity cannot be reused.)
_MEMO: dict[str, tuple[dict[str, Any], Any]] = {}


def playbook_passes(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> RuleResult:
    from ..engine import evaluate

    sub = params["playbook"]
    memo = _MEMO.get(sub.id)
    if memo is not None and memo[0] is derived and memo[1].facts_source is facts:
        result = memo[1]
    else:
        # No local may keep the previous evaluation's result: a frame kept alive by anything
        # (a traceback) would chain every earlier evaluation to this one.
        memo = None
        facts_without_stage = {k: v for k, v in facts.items() if k != "stage"} if "stage" in facts else facts
        result = evaluate(sub, facts_without_stage, ctx=ctx)
        result.facts_source = facts
        _MEMO[sub.id] = (derived, result)
    stage = params["stage"]
    if stage is None:
        ok = result.complete
    else:
        target = sub.stage_index(stage)
        ok = result.entered and (result.complete or result.inferred > target)
    if ok:
        return RuleResult(True, None, _LazyValues(result))
    return RuleResult(False, _LazyMessage(result), _LazyValues(result))


class _LazyMessage:
    """The explanation, built only when a report is rendered (not on the batch hot path)."""

    def __init__(self, result: Any):
        self.result = result

    def __call__(self, lang: str) -> str:
        from ..text import tr

        sub, result = self.result.playbook, self.result
        blocking = "; ".join(tr(sub.criteria[i].title, lang) for i in result.blocking_indexes()) or "-"
        return f"{tr(sub.title, lang)}: {tr(sub.stages[result.inferred].title, lang)} — {blocking}"


class _LazyValues(dict):  # type: ignore[type-arg]
    """The sub-playbook's stage and blocking criteria, computed on first read."""

    def __init__(self, result: Any):
        super().__init__()
        self._result = result
        self._filled = False

    def _fill(self) -> None:
        if not self._filled:
            self._filled = True
            sub = self._result.playbook
            self[f"{sub.id}.stage"] = self._result.inferred_stage
            self[f"{sub.id}.blocking"] = self._result.blocking_ids()

    def items(self):  # type: ignore[no-untyped-def]
        self._fill()
        return super().items()

    def __bool__(self) -> bool:
        return True


def register_all(register: Any) -> None:
    register(
        "core.playbook-passes",
        playbook_passes,
        schema=PLAYBOOK_PASSES_SCHEMA,
        prepare=_prepare_playbook_passes,
        title={"en": "Passes another playbook", "zh": "通过另一打法的关口"},
        description="passes when the case completes another playbook (or gets past one of its stages)",
    )
