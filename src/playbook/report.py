"""Turn a CheckResult into the JSON report (schemas/report.schema.json)."""

from __future__ import annotations

import json
import math
from typing import Any

from .criteria.runtime import Diagnosis, diagnose, format_path, resolve_path
from .engine import CheckResult, Failure
from .messages import msg
from .model import Criterion
from .rules import RuleResult
from .text import FALLBACK, LANGUAGE_SET, LANGUAGES, resolve_texts, tr

MAX_VALUE_ITEMS = 5


def _json_safe(value: Any) -> Any:
    """``value`` if it is strict JSON, else a copy where what JSON cannot hold (NaN and
    infinities, sets, objects) is replaced by its text, so the report always parses."""
    if type(value) in _SCALARS or _is_strict_json(value, 0):  # the common case: no copy
        return value
    return _json_copy(value, 0)


_SCALARS = frozenset({str, int, bool, type(None)})


def _is_strict_json(value: Any, depth: int) -> bool:
    """Plain JSON data (str keys, finite numbers), checked without serialising it."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if depth > 50:
        return False
    if kind is dict:
        return all(type(k) is str and _is_strict_json(v, depth + 1) for k, v in value.items())
    if kind is list:
        return all(_is_strict_json(v, depth + 1) for v in value)
    return False


def _json_copy(value: Any, depth: int) -> Any:
    if depth > 50:  # cyclic or absurdly deep: its text is enough
        return str(value)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _json_copy(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_copy(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)


def json_texts(value: Any, lang: str) -> Any:
    """``_json_safe(resolve_texts(value, lang))`` in one walk: every text (see ``text.is_text``)
    resolved in ``lang`` and what JSON cannot hold replaced by its text. Action outputs go
    through this for every action fired, so it matters that it is one pass, not two.

    Values nested deeper than ``_json_copy``'s limit take the two walks: where the limit
    applies, the result of the composition depends on the whole value (a scalar below the limit
    is kept in strict JSON, turned into text otherwise), which one pass cannot know."""
    try:
        return _texts_walk(value, lang, 0)
    except _TooDeep:
        return _json_safe(resolve_texts(value, lang))


class _TooDeep(Exception):
    """A value nested beyond ``_json_copy``'s depth limit: ``json_texts`` takes the two walks."""


def _texts_walk(value: Any, lang: str, depth: int) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if kind is dict:
        # text.is_text and text.tr, inlined: checklists are mostly texts
        if value and value.keys() <= LANGUAGE_SET:
            for text in value.values():
                if type(text) is not str:
                    break
            else:
                if lang in value:
                    return value[lang]
                return value[FALLBACK] if FALLBACK in value else next(iter(value.values()))
        return _texts_dict(value, lang, depth)
    if kind is list:
        return _texts_list(value, lang, depth)
    # rarer: subclasses of dict and list are walked like them (never a text: is_text wants a
    # dict); a tuple is not entered by resolve_texts -- _json_copy makes it a list of its items
    # as they are -- and any other value is _json_copy's too (a number, or its text)
    if isinstance(value, dict):
        return _texts_dict(value, lang, depth)
    if isinstance(value, list):
        return _texts_list(value, lang, depth)
    return _json_copy(value, depth)


def _texts_dict(value: dict[Any, Any], lang: str, depth: int) -> dict[str, Any]:
    if depth >= 50:  # its members would be beyond the limit
        raise _TooDeep
    depth += 1
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            key = key if isinstance(key, str) else str(key)
        out[key] = item if type(item) in _SCALARS else _texts_walk(item, lang, depth)
    return out


def _texts_list(value: list[Any], lang: str, depth: int) -> list[Any]:
    if depth >= 50:
        raise _TooDeep
    depth += 1
    return [item if type(item) in _SCALARS else _texts_walk(item, lang, depth) for item in value]


def looked_at(criterion: Criterion, facts: dict[str, Any], derived: dict[str, Any]) -> dict[str, Any]:
    """The values a criterion looked at, by path (lists are given by their length)."""
    values: dict[str, Any] = {}
    for path in criterion.paths:
        try:
            value = resolve_path(facts, derived, path)
        except (KeyError, IndexError, TypeError):
            continue
        key = format_path(path)
        if isinstance(value, list):
            values[f"len({key})"] = len(value)
        elif isinstance(value, dict):
            values[key] = {"keys": len(value)}
        else:
            values[key] = _json_safe(value)
    return values


def _diagnosis_message(d: Diagnosis, lang: str) -> str:
    if d.kind == "missing":
        return msg("missing_item" if d.detail == "in a list item" else "missing", lang, path=d.path)
    if d.kind == "null":
        return msg("null", lang, path=d.path)
    return msg(d.kind, lang, detail=d.detail)


def criterion_message(criterion: Criterion, raw: Any, facts: dict[str, Any], derived: dict[str, Any],
                      values: dict[str, Any], lang: str) -> str:
    if isinstance(raw, RuleResult) and raw.message is not None:
        return raw.message(lang) if callable(raw.message) else tr(raw.message, lang)
    if isinstance(raw, Failure):
        return _diagnosis_message(diagnose(criterion.paths, facts, derived, raw.exc), lang)
    if raw:
        return msg("met", lang)
    # Failed: a missing fact is the most useful explanation, then the values seen. Facts the
    # expression tests with exists() are optional by design: their absence explains nothing.
    for path in criterion.paths:
        if path in criterion.guarded:
            continue
        try:
            value = resolve_path(facts, derived, path)
        except (KeyError, IndexError, TypeError):
            return msg("missing", lang, path=format_path(path))
        if value is None:
            return msg("null", lang, path=format_path(path))
    if values:
        shown = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in list(values.items())[:4])
        return msg("not_met_values", lang, values=shown)
    return msg("not_met", lang)


def criterion_entry(result: CheckResult, criterion: Criterion, lang: str) -> dict[str, Any]:
    raw = result.results[criterion.index]
    values = looked_at(criterion, result.facts, result.derived)
    if isinstance(raw, RuleResult) and raw.values:
        values.update({k: _json_safe(v) for k, v in raw.values.items()})
    entry: dict[str, Any] = {
        "id": criterion.id,
        "title": tr(criterion.title, lang),
        "level": criterion.level,
        "passed": result.passed[criterion.index],
        "message": criterion_message(criterion, raw, result.facts, result.derived, values, lang),
        "values": values,
    }
    if criterion.hint is not None and not entry["passed"]:
        entry["hint"] = tr(criterion.hint, lang)
    return entry


def run_actions(result: CheckResult, lang: str, errors: list[str], on: tuple[str, ...] = ("enter", "check"),
                stage_index: int | None = None, *, resolve: bool = True) -> list[dict[str, Any]]:
    """Fire the stage's actions whose ``on`` is in ``on``. Their titles and outputs are resolved in
    ``lang``; with ``resolve=False`` their texts stay in every language (run mode stores them so,
    and resolves them when it shows them), only made JSON-safe. Errors are in ``lang``."""
    stage = result.playbook.stages[result.current if stage_index is None else stage_index]
    out = []
    for action in stage.actions:
        if action.on not in on:
            continue
        if action.when is not None:
            try:
                if not action.when(result.facts, result.derived, result.ctx):
                    continue
            except Exception:  # noqa: BLE001 - facts for the condition missing: suggest the action
                pass
        entry: dict[str, Any] = {
            "stage": stage.id,
            "id": action.id,
            "do": action.do,
            "on": action.on,
            "title": tr(action.title, lang) if resolve else action.title,
        }
        try:
            output = action.func(action.params, result.facts, result.derived, result.ctx)
        except Exception as exc:  # noqa: BLE001 - plugin code; reported, never a crash
            errors.append(msg("action_error", lang, id=action.id, detail=f"{type(exc).__name__}: {exc}"))
            output = None
        if output is not None:
            try:
                entry["output"] = json_texts(output, lang) if resolve else _json_safe(output)
            except RecursionError:  # plugin code returned a cyclic or absurdly deep value
                errors.append(msg("action_error", lang, id=action.id, detail="its output is cyclic or nested too deeply"))
        out.append(entry)
    return out


def build_report(result: CheckResult, lang: str = "en", *, include_actions: bool = True) -> dict[str, Any]:
    if lang not in LANGUAGES:  # the report's `lang` is part of its schema
        raise ValueError(f"unsupported report language {lang!r} (use one of {', '.join(LANGUAGES)})")
    pb = result.playbook
    stages_out = []
    by_index: dict[int, dict[str, Any]] = {}
    for stage in pb.stages:
        status = "passed" if stage.index < result.current else ("current" if stage.index == result.current else "pending")
        entry_items = [criterion_entry(result, c, lang) for c in stage.entry]
        exit_items = [criterion_entry(result, c, lang) for c in stage.exit]
        for c, item in zip((*stage.entry, *stage.exit), (*entry_items, *exit_items), strict=True):
            by_index[c.index] = item
        stages_out.append({"id": stage.id, "title": tr(stage.title, lang), "status": status,
                           "entry": entry_items, "exit": exit_items})

    def brief(i: int) -> dict[str, Any]:
        c = pb.criteria[i]
        item = by_index[i]
        out = {"stage": c.stage, "gate": c.gate, "criterion": c.id, "title": item["title"], "message": item["message"]}
        if "hint" in item:
            out["hint"] = item["hint"]
        return out

    warnings: list[str] = []
    errors: list[str] = []
    skipped = result.skipped_indexes()
    if result.declared is not None and result.current > result.inferred:
        warnings.append(msg("skipped_gate", lang, declared=result.declared, inferred=result.inferred_stage,
                            declared_title=tr(pb.stages[result.current].title, lang),
                            inferred_title=tr(pb.stages[result.inferred].title, lang),
                            criteria=", ".join(pb.criteria[i].id for i in skipped) or "-"))
    for derived_id, exc in result.derive_errors:
        detail = _diagnosis_message(diagnose([], result.facts, result.derived, exc), lang)
        errors.append(msg("derive_error", lang, id=derived_id, detail=detail))

    outcome = next((o for o in pb.outcomes if o.id == result.outcome), None)
    report: dict[str, Any] = {
        "playbook": {"id": pb.id, "version": pb.version, "title": tr(pb.title, lang)},
        "case": {"id": result.case_id},
        "lang": lang,
        "today": result.ctx.today_iso,
        "stage": {
            "current": result.current_stage,
            "inferred": result.inferred_stage,
            "declared": result.declared,
            "next": result.next_stage,
            "entered": result.entered,
            "ready_to_advance": result.ready,
            "complete": result.complete,
            "outcome": result.outcome,
            "outcome_kind": outcome.kind if outcome else None,
        },
        "stages": stages_out,
        "blocking": [brief(i) for i in result.blocking_indexes()],
        "recommended": [brief(c.index) for c in _advice(result)],
        "skipped": [brief(i) for i in skipped],
        "actions": run_actions(result, lang, errors) if include_actions else [],
        "derived": json_texts(result.derived, lang),
        "warnings": warnings,
        "errors": errors,
    }
    return report


def _advice(result: CheckResult) -> list[Criterion]:
    """Failing recommended criteria of the current stage's gates (exit, and next entry)."""
    pb = result.playbook
    stage = pb.stages[result.current]
    pool = list(stage.exit) + (list(pb.stages[result.current + 1].entry) if result.current + 1 < len(pb.stages) else [])
    if result.current == 0:
        pool = list(stage.entry) + pool
    return [c for c in pool if not c.required and not result.passed[c.index]]
