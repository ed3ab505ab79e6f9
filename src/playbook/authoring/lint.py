"""``playbook lint``: what a consultant should fix before a playbook goes out.

Schema validity, expressions, rules and actions are the loader's job; a playbook that does not
load is reported as findings (one per located problem). On a loaded playbook the checks are:
facts and derived values that the case schema does not define, criteria that are constant,
stages that can never hold a case or never be reached, unreachable outcomes and table rows,
duplicate ids the loader does not catch, missing translations, lookups of unknown tables, and
example cases that no longer match. Rule codes and severities: ``findings.RULES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..criteria import compile_expression
from ..criteria.runtime import EvalContext
from ..errors import CriteriaSyntaxError, Location, PlaybookError, Problem
from ..model import CompiledPlaybook
from ..plugins import Registry
from ..sourcefile import locate_in_scalar
from ..text import LANGUAGES, is_text
from .exprrefs import ExprInfo, Ref, analyse, depends_on_today, unquoted_dates
from .factpaths import FactSchema, Node, derived_schema, resolve, suggest
from .findings import ERROR, Finding, make, sort_key
from .source import LocatedPlaybook, load_located, resolve_path

TEXT_KEYS = ("title", "description", "goal", "guidance", "hint", "text", "label")
_LOAD_CODES = [
    (re.compile(r"unknown rule|unknown derivation"), "PB101", None),
    (re.compile(r"unknown function"), "PB102", None),
    (re.compile(r"unknown action"), "PB103", None),
    (re.compile(r"duplicate"), "PB104", None),
    (re.compile(r"unknown stage\(s\) in `from`"), "PB403", ERROR),
    (re.compile(r"lookup: unknown table"), "PB601", ERROR),  # the loader checks lookups too
]


_WRITTEN_DATE = re.compile(r"(?<![\d\"])\d{4}-\d{2}-\d{2}(?![\d\"])")  # outside "…"


def lint_ref(ref: str, registry: Registry, *, examples: bool = True) -> list[Finding]:
    """Lint one playbook (installed id or path). Raises PlaybookError only when ``ref`` names
    nothing usable (unknown id, missing file); everything else is a finding."""
    path, _plugin = resolve_path(ref, registry)
    try:
        located = load_located(ref, registry)
    except PlaybookError as exc:
        return sorted((_load_finding(p, path) for p in exc.problems), key=sort_key)
    return Linter(located, registry, examples=examples).run()


def _load_finding(problem: Problem, path: Path) -> Finding:
    code, severity = "PB100", None
    for pattern, c, sev in _LOAD_CODES:
        if pattern.search(problem.message):
            code, severity = c, sev
            break
    message = problem.message + (f" ({problem.hint})" if problem.hint else "")
    if "leading zeros" in problem.message and _WRITTEN_DATE.search(problem.message):
        message += "; a date is text: write it in quotes (\"2026-01-31\")"
    return make(code, message, problem.location or Location(str(path)), severity=severity)


def is_installed(path: Path, registry: Registry) -> bool:
    try:
        target = path.resolve()
        return any(src.path.resolve() == target for src in registry.playbooks)
    except OSError:
        return False


class Linter:
    def __init__(self, located: LocatedPlaybook, registry: Registry, *, examples: bool = True):
        self.src = located
        self.pb: CompiledPlaybook = located.pb
        self.registry = registry
        self.examples = examples
        self.facts = FactSchema(self.pb, registry)
        self.findings: list[Finding] = []
        self.installed = is_installed(located.path, registry)
        self.constant: dict[int, bool | None] = {}  # criterion index -> constant value

    def add(self, code: str, message: str, location: Location | None, severity: str | None = None) -> None:
        self.findings.append(make(code, message, location, severity=severity, playbook=self.pb.id))

    def run(self) -> list[Finding]:
        self.check_expressions()
        self.check_stages()
        self.check_outcomes()
        self.check_tables()
        self.check_duplicates()
        self.check_texts()
        self.check_actions()
        if self.examples:
            self.check_examples()
        return sorted(self.findings, key=sort_key)

    # -- expressions: facts, derived, constants ----------------------------------------------
    def expressions(self) -> Iterator[tuple[str, str, Any, str, tuple[Ref, ...], dict[str, Any] | None]]:
        """(what, text, owner, key, scopes, derived schema) for every expression in the playbook."""
        data = self.pb.data
        for stage in data["stages"]:
            for gate in ("entry", "exit"):
                for raw in stage.get(gate) or []:
                    if "when" in raw:
                        yield f"criterion {raw['id']!r}", raw["when"], raw, "when", (), None
            for action in stage.get("actions") or []:
                if "when" in action:
                    yield f"action {action['id']!r} `when`", action["when"], action, "when", (), None
                params = action.get("with") or {}
                if action.get("do", "task") == "checklist":
                    for item in params.get("items") or []:
                        if isinstance(item, dict) and isinstance(item.get("done"), str):
                            label = item.get("id") or "item"
                            yield (f"action {action['id']!r} checklist {label!r} `done`", item["done"], item,
                                   "done", (), None)
        for raw in data.get("outcomes") or []:
            yield f"outcome {raw['id']!r}", raw["when"], raw, "when", (), None
        order = [d.id for d in self.pb.derivations]
        for table in data.get("tables") or []:
            upto = order.index(table["id"]) if table["id"] in order else 0
            scopes: tuple[Ref, ...] = ()
            if table.get("for_each"):
                scopes = (Ref(tuple(table["for_each"].split("."))),)
            for row in table.get("rules") or []:
                yield (f"table {table['id']!r} row", row["when"], row, "when", scopes,
                       derived_schema(self.pb, upto))

    def check_expressions(self) -> None:
        functions = self.registry.functions
        for what, text, owner, key, scopes, before in self.expressions():
            loc = self.src.where(owner, key)
            try:
                info = analyse(text, functions, scopes)
            except CriteriaSyntaxError:  # compiled by the loader, so this cannot happen
                continue
            for ref in info.refs:
                self.check_ref(what, ref, loc, before)
            for date in unquoted_dates(text):
                at = locate_in_scalar(loc, text, date.offset) if loc.line is not None else loc
                self.add("PB304", f"{what}: `{date.written}` is not a date: unquoted it is the subtraction "
                         f"{date.written.replace('-', ' - ')} = {date.value}; dates are text: write "
                         f"\"{date.iso}\" (in quotes)", at)
        for criterion in self.pb.criteria:
            if criterion.when is None:
                continue
            value = self.constant_value(criterion.when)
            self.constant[criterion.index] = value
            if value is None:
                continue
            where = criterion.location
            if value:
                self.add("PB302", f"criterion {criterion.id!r} always passes: `{criterion.when}` reads no "
                         "case fact, so it checks nothing", where)
            else:
                self.add("PB301", f"criterion {criterion.id!r} can never pass: `{criterion.when}` reads no "
                         "case fact and is always false", where,
                         severity=ERROR if criterion.required else "warning")

    def constant_value(self, text: str) -> bool | None:
        """The value of an expression that reads no fact and not the date, else None."""
        functions = self.registry.functions
        info = analyse(text, functions)
        if info.refs or depends_on_today(info, functions):
            return None
        try:
            return bool(compile_expression(text, functions).fn({}, {}, EvalContext()))
        except Exception:  # noqa: BLE001 - a constant expression that raises never passes
            return False

    def check_ref(self, what: str, ref: Ref, loc: Location, before: dict[str, Any] | None) -> None:
        # a table sees only what was derived before it
        if before is not None and ref.path[:1] == ("derived",) and not ref.item_only \
                and not resolve([Node(before, before)], ref.path[1:]).ok and self.facts.resolve_ref(ref).ok:
            self.add("PB203", f"{what}: `{ref.dotted}` is computed after this table (or by it), so it is "
                     "always missing here; move the table after the one it uses", loc)
            return
        result = self.facts.resolve_ref(ref)
        if result.ok:
            return
        derived = ref.path[:1] == ("derived",) and not ref.item_only
        offset = 1 if derived and not ref.scopes else 0  # derived paths resolve below `derived`
        prefix = ref.path[: result.failed_at + 1 + offset]
        shown = Ref(prefix, ref.scopes, ref.item_only).dotted
        failed = result.failed_at + offset
        hint = suggest(ref.path[failed], result.known) if failed < len(ref.path) else ""
        if derived:
            known = ", ".join(result.known) or "nothing"
            msg = (f"{what}: `{ref.dotted}` is not produced by the derive phase (`{shown}` undefined; "
                   f"defined there: {known})")
            self.add("PB202", msg + (f"; {hint}" if hint else ""), loc)
            return
        where = (f"an item of `{ref.scopes[-1].dotted}` or the case" if ref.scopes and not ref.item_only
                 else f"an item of `{ref.scopes[-1].dotted}`" if ref.scopes else "the case")
        msg = f"{what}: fact `{ref.dotted}` is not defined for {where} (`{shown}` is not in the case schema"
        if result.known:
            shown_keys = ", ".join(result.known[:12]) + (" …" if len(result.known) > 12 else "")
            msg += f"; defined there: {shown_keys}"
        msg += ")"
        if hint:
            msg += f"; {hint}"
        else:
            msg += "; declare new sections under `facts:` in the playbook"
        self.add("PB201", msg, loc)

    # -- stages: reachable, pass-through ---------------------------------------------------
    def check_stages(self) -> None:
        stages = self.pb.stages
        criteria = self.pb.criteria
        n = len(stages)

        def never(indexes: tuple[int, ...]) -> list[str]:
            return [criteria[i].id for i in indexes if self.constant.get(i) is False]

        def open_(indexes: tuple[int, ...]) -> bool:
            return all(self.constant.get(i) is True for i in indexes)

        blocked = never(stages[0].required_entry)
        if blocked:
            self.add("PB401", f"no case can ever enter the playbook: required entry criteria "
                     f"{', '.join(blocked)} of stage {stages[0].id!r} never pass", stages[0].location)
        for k in range(n - 1):
            gate = (*stages[k].required_exit, *stages[k + 1].required_entry)
            blocked = never(gate)
            if blocked and not never(stages[0].required_entry):
                later = ", ".join(s.id for s in stages[k + 1:])
                self.add("PB401", f"stage(s) {later} can never be reached: the gate after stage "
                         f"{stages[k].id!r} needs {', '.join(blocked)}, which never pass(es)", stages[k + 1].location)
                break
            if open_(gate):
                self.add("PB402", f"stage {stages[k].id!r} never holds a case: it has no required exit "
                         f"criteria and stage {stages[k + 1].id!r} has no required entry criteria, so every "
                         "case passes straight through (add a required exit criterion)", stages[k].location)
        last = stages[-1]
        blocked = never(last.required_exit)
        if blocked:
            self.add("PB401", f"no case can ever complete the playbook: required exit criteria "
                     f"{', '.join(blocked)} of the last stage {last.id!r} never pass", last.location)
        if open_(last.required_exit) and n > 1:
            self.add("PB402", f"last stage {last.id!r} has no required exit criteria: a case that reaches it "
                     "counts as complete at once (add the criterion that says the work is done)", last.location)
        elif n == 1 and open_(last.required_entry) and open_(last.required_exit):
            self.add("PB402", f"the only stage {last.id!r} has no required criteria: every case is complete at "
                     "once, so the playbook checks nothing (add the criterion that says the work is done)",
                     last.location)
        if self.pb.outcomes and not any(o.from_stages is None or last.id in o.from_stages for o in self.pb.outcomes):
            self.add("PB404", f"last stage {last.id!r} is in no outcome's `from`: a case there can never be "
                     "closed as won, lost or dropped", last.location)

    # -- outcomes: constant, shadowed ------------------------------------------------------
    def check_outcomes(self) -> None:
        raws = {raw["id"]: raw for raw in self.pb.data.get("outcomes") or []}
        earlier: list[tuple[Any, bool | None]] = []
        for outcome in self.pb.outcomes:
            raw = raws.get(outcome.id)
            loc = self.src.where(raw, "when") if raw is not None else None
            value = self.constant_value(outcome.when)
            if value is False:
                self.add("PB403", f"outcome {outcome.id!r} is never reached: `{outcome.when}` is always false", loc)
            elif value is True:
                self.add("PB302", f"outcome {outcome.id!r} is always reached: `{outcome.when}` reads no case "
                         "fact, so every case it applies to is closed at once", loc)
            for prior, prior_value in earlier:
                covers = prior.from_stages is None or (
                    outcome.from_stages is not None and outcome.from_stages <= prior.from_stages)
                same = prior_value is True or _normal(prior.when) == _normal(outcome.when)
                if covers and same:
                    self.add("PB403", f"outcome {outcome.id!r} is never reached: the earlier outcome "
                             f"{prior.id!r} matches the same cases in the same stages first", loc)
                    break
            earlier.append((outcome, value))

    # -- decision tables: rows after a catch-all -----------------------------------------
    def check_tables(self) -> None:
        for table in self.pb.data.get("tables") or []:
            if table.get("hit", "first") != "first":
                continue
            rows = table.get("rules") or []
            for i, row in enumerate(rows[:-1]):
                if self.constant_value(row["when"]) is True:
                    dead = len(rows) - i - 1
                    self.add("PB303", f"table {table['id']!r}: row {i + 1} (`{row['when']}`) always matches, so "
                             f"the {dead} row(s) after it are never used (hit: first)", self.src.where(rows[i + 1]))
                    break
            for i, row in enumerate(rows):
                if self.constant_value(row["when"]) is False:
                    self.add("PB303", f"table {table['id']!r}: row {i + 1} never matches: `{row['when']}` is "
                             "always false", self.src.where(row, "when"))

    # -- ids the loader does not check ----------------------------------------------------
    def check_duplicates(self) -> None:
        data = self.pb.data

        def unique(items: list[Any], what: str, key: str = "id") -> None:
            seen: set[Any] = set()
            for item in items:
                if not isinstance(item, dict) or key not in item:
                    continue
                if item[key] in seen:
                    self.add("PB104", f"duplicate {what} id {item[key]!r}", self.src.where(item))
                seen.add(item[key])

        unique(data.get("outcomes") or [], "outcome")
        for table in data.get("tables") or []:
            unique(table.get("rules") or [], f"row (table {table['id']!r})")
        for card in data.get("scorecards") or []:
            unique(card.get("dimensions") or [], f"dimension (scorecard {card['id']!r})")
            indicators = [ind for dim in card.get("dimensions") or [] for f in dim.get("factors") or []
                          for ind in f.get("indicators") or []]
            unique(indicators, f"indicator (scorecard {card['id']!r}; scores are keyed by indicator id)")
            for dim in card.get("dimensions") or []:
                unique(dim.get("factors") or [], f"factor (dimension {dim['id']!r})")
                unique(dim.get("bands") or [], f"band (dimension {dim['id']!r})")
        for stage in data["stages"]:
            for action in stage.get("actions") or []:
                if action.get("do") == "checklist":
                    unique((action.get("with") or {}).get("items") or [], f"checklist item (action {action['id']!r})")

    # -- translations and hints -------------------------------------------------------------
    def check_texts(self) -> None:
        strict = self.installed
        for owner, key, value in _texts(self.pb.data):
            loc = self.src.where(owner, key)
            if isinstance(value, str):
                if key in TEXT_KEYS and value.strip():
                    self.add("PB502", f"`{key}` is a plain string, not translated: give {{zh: …, en: …}}", loc,
                             severity=ERROR if strict else None)
                continue
            missing = [lang for lang in LANGUAGES if not str(value.get(lang) or "").strip()]
            if missing:
                self.add("PB501", f"`{key}` has no {' or '.join(missing)} text", loc,
                         severity=ERROR if strict else None)
        for stage in self.pb.data["stages"]:
            for gate in ("entry", "exit"):
                for raw in stage.get(gate) or []:
                    if raw.get("level", "required") == "required" and not raw.get("hint"):
                        self.add("PB503", f"required criterion {raw['id']!r} has no `hint`: the blocking list "
                                 "cannot say what to do when it fails", self.src.where(raw))

    # -- actions --------------------------------------------------------------------------
    def check_actions(self) -> None:
        derived_ids = {d.id for d in self.pb.derivations}
        for stage in self.pb.stages:
            for action in stage.actions:
                if action.do == "lookup":
                    table = (action.raw_params or {}).get("table")
                    if table not in derived_ids:
                        known = ", ".join(sorted(derived_ids)) or "none"
                        self.add("PB601", f"action {action.id!r}: lookup of unknown table {table!r} "
                                 f"(tables and scorecards: {known})", action.location)
                paths = _placeholders(action.raw_params) if action.do == "template" else iter(())
                for path in paths:
                    self.check_ref(f"action {action.id!r} template", Ref(path), action.location or
                                   Location(str(self.src.path)), None)

    # -- example cases ---------------------------------------------------------------------
    def check_examples(self) -> None:
        from ..examples import find_examples, run_example

        unreadable: list[tuple[str, PlaybookError]] = []  # each is reported; the others still run
        examples = find_examples(self.pb, errors=unreadable)
        for name, exc in unreadable:
            for p in exc.problems:
                self.add("PB702", f"example {name!r} cannot be read: {p.message}",
                         p.location or Location(str(self.src.path)))
        if not examples and not unreadable:
            self.add("PB703", f"no example cases (add some under examples/{self.pb.id}/ and run "
                     "`playbook test`)", Location(str(self.src.path)))
            return
        for example in examples:
            outcome = run_example(self.pb, example)
            if not outcome.passed:
                self.add("PB701", f"example {example.name!r} no longer matches: " + "; ".join(outcome.differences),
                         example.location)


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("'", '"'))


CORE_ACTIONS = ("checklist", "task", "template", "lookup")


def _plugin_params(owner: Any) -> bool:
    """Whether ``owner``'s ``with:`` holds the parameters of a plugin rule, derivation or action:
    their schema is the plugin's, and a `text` there may have to be a plain string."""
    return "rule" in owner or "use" in owner or ("do" in owner and owner["do"] not in CORE_ACTIONS)


def _texts(value: Any, owner: Any = None, key: str = "", plain: bool = True) -> Iterator[tuple[Any, str, Any]]:
    """(owner mapping, key, text) for every text of the document outside `facts` and examples
    (plain strings only where a {zh, en} text is allowed: not in a plugin's parameters)."""
    if isinstance(value, dict):
        if is_text(value) or (owner is not None and key in TEXT_KEYS and value
                              and set(value) <= set(LANGUAGES)):
            yield owner, key, value
            return
        for k, v in value.items():
            if k.startswith("_") or (owner is None and k in ("facts", "examples")):
                continue
            if isinstance(v, str):
                if k in TEXT_KEYS and plain:
                    yield value, k, v
            else:
                yield from _texts(v, value, k, plain and not (k == "with" and _plugin_params(value)))
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, owner, key, plain)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)\}")


def _placeholders(params: Any) -> Iterator[tuple[Any, ...]]:
    """Case paths in ``{path}`` placeholders of a template action's text."""
    texts: list[str] = []
    if isinstance(params, dict) and "text" in params:
        text = params["text"]
        texts = list(text.values()) if isinstance(text, dict) else [text] if isinstance(text, str) else []
    seen: set[tuple[Any, ...]] = set()
    for text in texts:
        for match in _PLACEHOLDER.finditer(text):
            parts: list[Any] = []
            for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", match.group(1)):
                parts.append(int(token[1:-1]) if token.startswith("[") else token)
            path = tuple(parts)
            if path not in seen:
                seen.add(path)
                yield path


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


__all__ = ["Finding", "Linter", "has_errors", "lint_ref", "ExprInfo"]
