"""``playbook diff``: what changed between two versions of a playbook, and what it does to deals.

The structural part compares the compiled playbooks by id: stages (added, removed, moved,
retitled, time limit), criteria (added, removed, moved to another stage/gate, level, the
expression — and when only numbers changed, the thresholds old → new), actions, outcomes,
scorecards and decision tables. The impact part runs every case of a portfolio through both
versions with the one evaluator and counts the cases whose current stage, readiness to
advance, blocking set or outcome changes. Portfolios are read with ``playbook.batch.readers``
(JSONL, JSON array, CSV, a directory of case files); a bad record is reported and counted.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..criteria.compiler import parse
from ..engine import evaluate
from ..errors import CaseError, CriteriaSyntaxError, PlaybookError
from ..model import CompiledPlaybook, Criterion
from ..text import tr
from .diffwords import word

# -- structure ---------------------------------------------------------------------------------


@dataclass
class Change:
    kind: str  # stage | criterion | action | outcome | scorecard | table | playbook
    id: str
    change: str  # added | removed | moved | changed
    details: list[str] = field(default_factory=list)
    thresholds: list[tuple[Any, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "change": self.change, "details": self.details}
        if self.thresholds:
            out["thresholds"] = [{"old": a, "new": b} for a, b in self.thresholds]
        return out

    def text(self, lang: str = "en") -> str:
        sign = {"added": "+", "removed": "-"}.get(self.change, "~")
        text = f"{sign} {word('k.' + self.kind, lang)} {self.id}: {word('c.' + self.change, lang)}"
        if self.details:
            text += "\n" + "\n".join(f"    {d}" for d in self.details)
        return text

    def __str__(self) -> str:
        return self.text()


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _tree(text: str) -> ast.Expression | None:
    """The expression as the criteria language parses it (``derived.man.class`` included)."""
    try:
        return parse(text)[0]
    except CriteriaSyntaxError:
        return None


def _numbers(text: str) -> tuple[str, list[Any]] | None:
    """The expression with its thresholds replaced by a placeholder, and those thresholds in
    order: numbers (a minus sign included) and dates written as text (``"2026-12-31"``)."""
    tree = _tree(text)
    if tree is None:
        return None
    found: list[Any] = []

    class Strip(ast.NodeTransformer):
        def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
            operand = node.operand
            if isinstance(node.op, ast.USub) and isinstance(operand, ast.Constant) \
                    and isinstance(operand.value, (int, float)) and not isinstance(operand.value, bool):
                found.append(-operand.value)
                return ast.copy_location(ast.Name(id="_NUM_", ctx=ast.Load()), node)
            return self.generic_visit(node)

        def visit_Constant(self, node: ast.Constant) -> Any:
            value = node.value
            if (isinstance(value, (int, float)) and not isinstance(value, bool)) or \
                    (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
                found.append(value)
                return ast.copy_location(ast.Name(id="_NUM_", ctx=ast.Load()), node)
            return node

    skeleton = ast.dump(Strip().visit(tree))
    return skeleton, found


def expression_change(old: str, new: str, lang: str = "en") -> tuple[list[str], list[tuple[Any, Any]]]:
    """Describe how an expression changed; thresholds when only numbers (or dates) did."""
    if _normal(old) == _normal(new):
        return [], []
    a, b = _numbers(old), _numbers(new)
    if a and b and a[0] == b[0] and len(a[1]) == len(b[1]):
        pairs = [(x, y) for x, y in zip(a[1], b[1], strict=True) if x != y]
        if pairs:
            shown = ", ".join(f"{x} → {y}" for x, y in pairs)
            return [word("threshold", lang, pairs=shown, old=f"`{old}`", new=f"`{new}`")], pairs
    return [word("expression", lang, old=f"`{old}`", new=f"`{new}`")], []


def _normal(text: str) -> str:
    tree = _tree(text)
    return ast.dump(tree) if tree is not None else re.sub(r"\s+", "", text)


def _check(c: Criterion) -> str:
    """What a criterion checks, whatever its id: the expression, or the rule and its parameters."""
    if c.when is not None:
        return _normal(c.when)
    return f"rule {c.rule} {json.dumps(c.params, sort_keys=True, default=str)}"


def _where(c: Criterion, lang: str) -> str:
    return word("where", lang, stage=c.stage, gate=word("g." + c.gate, lang))


def _criterion_changes(old: Criterion, new: Criterion, lang: str) -> Change | None:
    details: list[str] = []
    thresholds: list[tuple[Any, Any]] = []
    moved = (old.stage, old.gate) != (new.stage, new.gate)
    if moved:
        details.append(word("moved_to", lang, old=_where(old, lang), new=_where(new, lang)))
    if old.level != new.level:
        details.append(word("level", lang, old=word("l." + old.level, lang), new=word("l." + new.level, lang)))
    if old.when is not None and new.when is not None:
        d, thresholds = expression_change(old.when, new.when, lang)
        details += d
    elif (old.rule, old.params) != (new.rule, new.params):
        before = f"`{old.when}`" if old.when is not None else word("rule", lang, r=old.rule, p=json.dumps(old.params))
        after = f"`{new.when}`" if new.when is not None else word("rule", lang, r=new.rule, p=json.dumps(new.params))
        details.append(word("check", lang, old=before, new=after))
    if tr(old.title, lang) != tr(new.title, lang):
        details.append(word("title", lang, old=tr(old.title, lang), new=tr(new.title, lang)))
    if old.hint != new.hint:
        details.append(word("hint", lang))
    if not details:
        return None
    change = "moved" if moved and len(details) == 1 else "changed"
    return Change("criterion", new.id, change, details, thresholds)


def _dict_changes(kind: str, old: dict[str, Any], new: dict[str, Any], lang: str) -> Iterator[Change]:
    for key in old:
        if key not in new:
            yield Change(kind, key, "removed")
    for key, value in new.items():
        if key not in old:
            yield Change(kind, key, "added")
        elif old[key] != value:
            yield Change(kind, key, "changed", _json_diff(old[key], value, lang=lang))


def _json_diff(old: Any, new: Any, path: str = "", lang: str = "en") -> list[str]:
    """Leaf-level differences of two JSON values, as ``path: old → new`` lines."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in new:
                out.append(word("path_removed", lang, path=sub))
            elif k not in old:
                out.append(word("path_added", lang, path=sub, value=json.dumps(new[k], ensure_ascii=False)))
            else:
                out += _json_diff(old[k], new[k], sub, lang)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if all(isinstance(x, dict) and "id" in x for x in [*old, *new]):
            return _json_diff({x["id"]: x for x in old}, {x["id"]: x for x in new}, path, lang)
        if len(old) == len(new):
            return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                    for d in _json_diff(a, b, f"{path}[{i}]", lang)]
    if old == new:
        return []
    if isinstance(old, str) and isinstance(new, str) and path.endswith("when"):
        return [f"{path}: " + d for d in expression_change(old, new, lang)[0]]
    return [f"{path}: {json.dumps(old, ensure_ascii=False)} → {json.dumps(new, ensure_ascii=False)}"]


def structural_diff(old: CompiledPlaybook, new: CompiledPlaybook, lang: str = "en") -> list[Change]:
    changes: list[Change] = []
    top: list[str] = []
    if old.id != new.id:
        top.append(word("id", lang, old=old.id, new=new.id))
    if old.version != new.version:
        top.append(word("version", lang, old=old.version, new=new.version))
    if tr(old.title, lang) != tr(new.title, lang):
        top.append(word("title", lang, old=tr(old.title, lang), new=tr(new.title, lang)))
    if old.description != new.description:
        top.append(word("description", lang))
    top += _json_diff(old.data.get("facts") or {}, new.data.get("facts") or {}, "facts", lang)
    top += _json_diff(old.data.get("derive") or [], new.data.get("derive") or [], "derive", lang)
    if top:
        changes.append(Change("playbook", new.id, "changed", top))
    old_stages = {s.id: s for s in old.stages}
    new_stages = {s.id: s for s in new.stages}
    old_order = [s.id for s in old.stages if s.id in new_stages]
    new_order = [s.id for s in new.stages if s.id in old_stages]
    for s in old.stages:
        if s.id not in new_stages:
            changes.append(Change("stage", s.id, "removed", [word("was_stage", lang, n=s.index + 1,
                                                                   title=tr(s.title, lang))]))
    gone_titles = {tr(s.title, lang): s.id for s in old.stages if s.id not in new_stages}
    for s in new.stages:
        if s.id not in old_stages:
            details = [word("new_stage", lang, n=s.index + 1, title=tr(s.title, lang))]
            if tr(s.title, lang) in gone_titles:
                details.append(word("same_title", lang, old=gone_titles[tr(s.title, lang)]))
            changes.append(Change("stage", s.id, "added", details))
            continue
        o = old_stages[s.id]
        details = []
        reordered = old_order.index(s.id) != new_order.index(s.id)
        if reordered:
            details.append(word("order", lang, old=o.index + 1, new=s.index + 1))
        if tr(o.title, lang) != tr(s.title, lang):
            details.append(word("title", lang, old=tr(o.title, lang), new=tr(s.title, lang)))
        if o.max_days != s.max_days:
            details.append(word("max_days", lang, old=o.max_days, new=s.max_days))
        if o.effort != s.effort:
            details.append(word("effort", lang, old=o.effort, new=s.effort))
        if (o.goal, o.guidance) != (s.goal, s.guidance):
            details.append(word("guidance", lang))
        if details:
            changes.append(Change("stage", s.id, "moved" if reordered else "changed", details))
    old_criteria = {c.id: c for c in old.criteria}
    new_criteria = {c.id: c for c in new.criteria}
    for c in old.criteria:
        if c.id not in new_criteria:
            changes.append(Change("criterion", c.id, "removed", [word("was_criterion", lang, level=word(
                "l." + c.level, lang), where=word("of_stage", lang, gate=word("g." + c.gate, lang), stage=c.stage))]))
    gone_checks = {_check(c): c.id for c in old.criteria if c.id not in new_criteria}
    for c in new.criteria:
        if c.id not in old_criteria:
            what = f"`{c.when}`" if c.when is not None else word("rule", lang, r=c.rule, p="").rstrip()
            where = word("of_stage", lang, gate=word("g." + c.gate, lang), stage=c.stage)
            details = [word("new_criterion", lang, level=word("l." + c.level, lang), where=where, what=what)]
            if _check(c) in gone_checks:
                details.append(word("same_check", lang, old=gone_checks[_check(c)]))
            changes.append(Change("criterion", c.id, "added", details))
        else:
            found = _criterion_changes(old_criteria[c.id], c, lang)
            if found:
                changes.append(found)
    old_actions = {(a.stage, a.id): a for s in old.stages for a in s.actions}
    new_actions = {(a.stage, a.id): a for s in new.stages for a in s.actions}
    for key in old_actions:
        if key not in new_actions:
            changes.append(Change("action", f"{key[0]}/{key[1]}", "removed"))
    for key, a in new_actions.items():
        if key not in old_actions:
            changes.append(Change("action", f"{key[0]}/{key[1]}", "added", [f"{a.do} ({a.on})"]))
            continue
        o = old_actions[key]
        before = {"do": o.do, "on": o.on, "when": o.when_text, "with": o.raw_params, "title": o.title}
        after = {"do": a.do, "on": a.on, "when": a.when_text, "with": a.raw_params, "title": a.title}
        if before != after:
            changes.append(Change("action", f"{key[0]}/{key[1]}", "changed", _json_diff(before, after, lang=lang)))
    outcomes_old = {o.id: {"kind": o.kind, "when": o.when, "from": sorted(o.from_stages or []) or "any",
                           "title": tr(o.title, lang)} for o in old.outcomes}
    outcomes_new = {o.id: {"kind": o.kind, "when": o.when, "from": sorted(o.from_stages or []) or "any",
                           "title": tr(o.title, lang)} for o in new.outcomes}
    changes += _dict_changes("outcome", outcomes_old, outcomes_new, lang)
    for kind, key in (("scorecard", "scorecards"), ("table", "tables")):
        changes += _dict_changes(kind, {x["id"]: x for x in old.data.get(key) or []},
                                 {x["id"]: x for x in new.data.get(key) or []}, lang)
    return changes


# -- impact on a portfolio -----------------------------------------------------------------------


@dataclass
class CaseImpact:
    case_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    changed: list[str]  # which of: stage, ready, blocking, outcome, complete

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "changed": self.changed, "before": self.before, "after": self.after}


@dataclass
class Impact:
    cases: int = 0
    changed: list[CaseImpact] = field(default_factory=list)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # (source, line, message)
    counts: dict[str, int] = field(default_factory=lambda: {
        "stage": 0, "ready": 0, "blocking": 0, "outcome": 0, "complete": 0,
        "now_ready": 0, "no_longer_ready": 0, "moved_forward": 0, "moved_back": 0})

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        shown = self.changed if limit is None else self.changed[:limit]
        return {
            "cases": self.cases, "changed_cases": len(self.changed), "unchanged_cases": self.cases - len(self.changed),
            "rejected": len(self.rejected), "counts": dict(self.counts),
            "changes": [c.to_dict() for c in shown],
            "rejected_records": [{"source": s, "line": ln or None, "message": m} for s, ln, m in self.rejected],
        }


def _state(pb: CompiledPlaybook, facts: dict[str, Any], today: dt.date, case_id: str) -> dict[str, Any]:
    result = evaluate(pb, facts, today=today, case_id=case_id)
    return {"stage": result.current_stage, "stage_index": result.current, "ready": result.ready,
            "complete": result.complete, "blocking": sorted(result.blocking_ids()), "outcome": result.outcome}


def compare_case(old: CompiledPlaybook, new: CompiledPlaybook, facts: dict[str, Any], case_id: str,
                 today: dt.date) -> CaseImpact | None:
    """How one case fares under both versions (None when nothing that matters changed).
    A case that one version cannot check (its declared stage was removed, or is new) is
    affected, with the reason; one that neither version can check raises CaseError."""
    states: list[dict[str, Any]] = []
    errors: list[CaseError] = []
    for pb in (old, new):
        try:
            states.append(_state(pb, facts, today, case_id))
        except CaseError as exc:  # e.g. the declared stage is not in this version
            errors.append(exc)
            states.append({"stage": None, "stage_index": None, "ready": False, "complete": False, "blocking": [],
                           "outcome": None, "error": "; ".join(p.message for p in exc.problems)})
    if len(errors) == 2:
        raise errors[1]
    before, after = states
    changed = [k for k in ("stage", "ready", "blocking", "outcome", "complete") if before[k] != after[k]]
    if not changed:
        return None
    return CaseImpact(case_id, {k: v for k, v in before.items() if k != "stage_index"},
                      {k: v for k, v in after.items() if k != "stage_index"}, changed)


def portfolio_impact(old: CompiledPlaybook, new: CompiledPlaybook, inputs: list[str], today: dt.date,
                     input_format: str = "auto") -> Impact:
    """Run every case of ``inputs`` through both versions. Unusable inputs raise PlaybookError."""
    from ..batch.readers import iter_records, open_sources

    sources = open_sources(inputs, input_format)
    names = [s.name for s in sources]
    impact = Impact()
    converters: dict[int, Any] = {}
    for source, line, kind, payload in iter_records(sources):
        where = payload if kind == "f" else names[source]
        try:
            facts, case_id = _facts(kind, payload, source, sources, converters, new)
            if not isinstance(facts, dict):
                raise CaseError(f"a case must be a mapping of facts, got {type(facts).__name__}")
            case_id = case_id or (str(facts["id"]) if facts.get("id") is not None else f"{names[source]}:{line}")
            found = compare_case(old, new, facts, case_id, today)
        except PlaybookError as exc:
            if kind == "f":  # a case file: the line inside it, as `playbook check` reports it
                line = next((p.location.line for p in exc.problems
                             if p.location is not None and p.location.line is not None), line)
            impact.rejected.append((str(where), line, "; ".join(p.message for p in exc.problems)))
            continue
        except (ValueError, TypeError) as exc:
            impact.rejected.append((str(where), line, str(exc)))
            continue
        impact.cases += 1
        if found is None:
            continue
        impact.changed.append(found)
        for key in found.changed:
            impact.counts[key] += 1
        if "ready" in found.changed:
            impact.counts["now_ready" if found.after["ready"] else "no_longer_ready"] += 1
        if "stage" in found.changed and found.before["stage"] is not None:
            before = old.stage_index(found.before["stage"])
            after = new.stage_index(found.after["stage"]) if found.after["stage"] else None
            old_ids = [s.id for s in old.stages]
            # compare positions by the old order when both stages exist there, else by index
            if found.after["stage"] in old_ids and before is not None:
                after_pos = old_ids.index(found.after["stage"])
                impact.counts["moved_forward" if after_pos > before else "moved_back"] += 1
            elif before is not None and after is not None:
                impact.counts["moved_forward" if after > before else "moved_back"] += 1
    return impact


def _facts(kind: str, payload: Any, source: int, sources: list[Any], converters: dict[int, Any],
           pb: CompiledPlaybook) -> tuple[Any, str | None]:
    """A raw record of ``playbook.batch.readers`` -> (facts, default case id)."""
    if kind == "j":
        try:
            return json.loads(payload), None
        except ValueError as exc:
            raise ValueError(f"invalid JSON: {exc}") from None
    if kind == "d":
        return payload, None
    if kind == "c":
        conv = converters.get(source)
        if conv is None:
            from ..batch.csvfacts import RowConverter, SchemaTypes
            from ..resources import load_schema

            conv = converters[source] = RowConverter(sources[source].header or [],
                                                     SchemaTypes(load_schema("case"), pb.facts_schema))
        return conv(payload), None
    if kind == "f":
        from ..cases import read_case

        case = read_case(payload)
        return case.facts, case.case_id
    raise ValueError(str(payload))


# -- text ----------------------------------------------------------------------------------------


def render_text(old: CompiledPlaybook, new: CompiledPlaybook, changes: list[Change], impact: Impact | None,
                limit: int = 50, lang: str = "en") -> str:
    lines = [word("header", lang, old=old.id, ov=old.version, new=new.id, nv=new.version, n=len(changes))]
    lines += [c.text(lang) for c in changes] or [word("no_change", lang)]
    if impact is not None:
        c = impact.counts
        lines.append("")
        lines.append(word("portfolio", lang, cases=impact.cases, affected=len(impact.changed),
                          unchanged=impact.cases - len(impact.changed), rejected=len(impact.rejected)))
        lines.append(word("p.stage", lang, n=c["stage"], f=c["moved_forward"], b=c["moved_back"]))
        lines.append(word("p.ready", lang, n=c["ready"], r=c["now_ready"], u=c["no_longer_ready"]))
        lines.append(word("p.blocking", lang, n=c["blocking"]))
        lines.append(word("p.outcome", lang, o=c["outcome"], c=c["complete"]))
        for case in impact.changed[:limit]:
            parts = []
            b, a = case.before, case.after
            if "stage" in case.changed:
                parts.append(word("x.stage", lang, old=b["stage"], new=a["stage"]))
            if "ready" in case.changed:
                parts.append(word("x.ready", lang, old=b["ready"], new=a["ready"]))
            if "blocking" in case.changed:
                added = sorted(set(a["blocking"]) - set(b["blocking"]))
                removed = sorted(set(b["blocking"]) - set(a["blocking"]))
                parts.append(word("x.blocking", lang) + (f" +{','.join(added)}" if added else "")
                             + (f" -{','.join(removed)}" if removed else ""))
            if "outcome" in case.changed:
                parts.append(word("x.outcome", lang, old=b["outcome"], new=a["outcome"]))
            if "complete" in case.changed:
                parts.append(word("x.complete", lang, old=b["complete"], new=a["complete"]))
            if b.get("error"):
                parts.append(word("x.old_error", lang, e=b["error"]))
            if a.get("error"):
                parts.append(word("x.new_error", lang, e=a["error"]))
            lines.append(f"  {case.case_id}: " + "; ".join(parts))
        if len(impact.changed) > limit:
            lines.append(word("more", lang, n=len(impact.changed) - limit))
        for source, line, message in impact.rejected[:limit]:
            lines.append(word("rejected", lang, where=f"{source}{f':{line}' if line else ''}", message=message))
    return "\n".join(lines) + "\n"
