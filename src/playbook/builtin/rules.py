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


def playbook_passes(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> RuleResult:
    from ..engine import evaluate

    sub = params["playbook"]
    facts_without_stage = {k: v for k, v in facts.items() if k != "stage"} if "stage" in facts else facts
    result = evaluate(sub, facts_without_stage, ctx=ctx)
    stage = params["stage"]
    if stage is None:
        ok = result.complete
    else:
        target = sub.stage_index(stage)
        ok = result.entered and (result.complete or result.inferred > target)
    blocking = result.blocking_ids()
    from ..text import tr

    stage_title = sub.stages[result.inferred]
    message = None
    if not ok:
        message = {
            lang: (f"{tr(sub.title, lang)}: {tr(stage_title.title, lang)} — "
                   + ("; ".join(tr(sub.criteria[i].title, lang) for i in result.blocking_indexes()) or "-"))
            for lang in ("en", "zh")
        }
    return RuleResult(ok, message, {f"{sub.id}.stage": result.inferred_stage,
                                    f"{sub.id}.blocking": blocking})


def register_all(register: Any) -> None:
    register(
        "core.playbook-passes",
        playbook_passes,
        schema=PLAYBOOK_PASSES_SCHEMA,
        prepare=_prepare_playbook_passes,
        title={"en": "Passes another playbook", "zh": "通过另一打法的关口"},
        description="passes when the case completes another playbook (or gets past one of its stages)",
    )
