"""Load a playbook: read YAML/JSON, validate against the schema, merge ``extends`` and plugin
extensions, and compile every criterion, action, scorecard and table once.

Every problem found is collected and raised together as a PlaybookError whose problems carry
``file:line:col``; nothing half-valid is ever returned.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import vcache
from .criteria import CompiledExpression
from .criteria.compiler import CompileBatch
from .derive import build_scorecard, build_table
from .errors import CriteriaSyntaxError, Location, PlaybookError, Problem
from .merge import Locations, merge_playbook
from .model import (
    REQUIRED,
    Action,
    CompiledPlaybook,
    Criterion,
    Derivation,
    Outcome,
    Stage,
)
from .plugins import Registry, get_registry
from .resources import load_schema
from .schema import facts_problems, schema_problems, validator_for, validator_for_schema
from .sourcefile import SourceDoc, locate_in_scalar, read_document

PLAYBOOK_SUFFIXES = (".yaml", ".yml", ".json")


def looks_like_path(ref: str) -> bool:
    """A file name (by suffix or separator) or an existing file; anything else is an id.

    A folder that happens to be named like a playbook id (``examples/six-step-sales``) must not
    shadow the installed playbook when the command runs next to it.
    """
    return ref.lower().endswith(PLAYBOOK_SUFFIXES) or os.sep in ref or "/" in ref or os.path.isfile(ref)


def resolve_ref(ref: str | Path, registry: Registry) -> tuple[Path, str | None]:
    """A playbook reference (installed id or file path) -> (file, providing plugin)."""
    text = str(ref)
    if isinstance(ref, Path) or looks_like_path(text):
        return Path(text), None
    source = registry.find_playbook(text)
    if source is None:
        installed = ", ".join(sorted(registry.playbook_index())) or "none"
        raise PlaybookError(
            [Problem(f"unknown playbook {text!r}", None,
                     f"installed playbooks: {installed}; or give the path of a YAML/JSON file")]
        )
    return source.path, source.plugin


class CompileContext:
    """What rule/action ``prepare`` functions get: compile expressions, load other playbooks."""

    def __init__(self, registry: Registry, locs: Locations, playbook_id: str, stack: tuple[str, ...], *,
                 base_dir: Path | None = None, pinned: dict[str, Any] | None = None):
        self.registry = registry
        self.locs = locs
        self.playbook_id = playbook_id
        self.stack = stack
        self.base_dir = base_dir  # the folder of the playbook file: relative references start there
        self.pinned = pinned  # documents of reused playbooks, from a snapshot (see load_playbook)
        self.problems: list[Problem] = []
        self.sub_playbooks: dict[str, CompiledPlaybook] = {}
        self.uses: dict[str, CompiledPlaybook] = {}
        self.batch = CompileBatch(registry.functions)

    def compile(self, text: Any, owner: Any = None, key: str = "when", what: str = "expression") -> CompiledExpression:
        """Compile an expression found at ``owner[key]``; problems are located there."""
        try:
            if not isinstance(text, str):
                raise CriteriaSyntaxError("an expression must be text", repr(text))
            return self.batch.add(text)
        except CriteriaSyntaxError as exc:
            loc = self.locs.key(owner, key)[0] if owner is not None else None
            if loc is not None and exc.column and loc.line is not None:
                loc = locate_in_scalar(loc, text, exc.column - 1)
            detail = exc.reason + (f" (column {exc.column} of the expression)" if exc.column else "")
            raise PlaybookError([Problem(f"{what}: {detail}: {text!r}", loc)]) from None

    def load_playbook(self, ref: str) -> CompiledPlaybook:
        """Load another playbook (e.g. a reusable gate); cycles are reported, not followed."""
        if ref in self.stack:
            raise PlaybookError(f"playbook {ref!r} refers back to itself: {' -> '.join((*self.stack, ref))}")
        entry = self.pinned.get(ref) if self.pinned is not None else None
        if entry is not None:  # compiled from a snapshot: the playbook as it was when the case started
            import copy

            compiled = compile_document(copy.deepcopy(entry["document"]), self.registry, Locations(),
                                        plugin=entry.get("plugin"), stack=self.stack, pinned=entry.get("uses") or {})
        else:
            target = ref
            if self.base_dir is not None and looks_like_path(ref) and not os.path.isabs(ref):
                beside = self.base_dir / ref
                if beside.is_file():  # a file next to the playbook naming it (as `extends` reads it)
                    target = str(beside)
            compiled = load_playbook(target, registry=self.registry, _stack=self.stack)
        self.sub_playbooks[compiled.id] = compiled
        self.uses[ref] = compiled
        return compiled


# ---------------------------------------------------------------------------------------------
# reading and merging


def _read_validated(path: Path, *, relaxed: bool = False) -> SourceDoc:
    doc = read_document(path)
    if not isinstance(doc.data, dict):
        raise PlaybookError(
            [Problem("a playbook must be a mapping with id, version, title and stages", doc.locate(()))]
        )
    key = vcache.digest("playbook", relaxed, load_schema("playbook"), doc.data)
    if not vcache.seen(key):
        problems = schema_problems(validator_for("playbook", relaxed), doc)
        if not problems:
            problems = facts_problems(doc)
        if problems:
            raise PlaybookError(problems)
        vcache.remember(key)
    return doc


def _load_document(path: Path, registry: Registry, locs: Locations, chain: tuple[str, ...],
                   files: tuple[Path, ...] = ()) -> dict[str, Any]:
    here = path.resolve()
    if here in files:
        raise PlaybookError(f"extends cycle through {path}: {' -> '.join(str(f) for f in (*files, here))}")
    doc = _read_validated(path)
    locs.add_doc(doc)
    locs.read.append(path)
    data = doc.data
    base_id = data.get("extends")
    if base_id:
        if base_id in chain or base_id == data["id"]:
            raise PlaybookError(
                [Problem(f"extends cycle: {' -> '.join((*chain, data['id'], base_id))}", doc.locate(("extends",)))]
            )
        try:
            if looks_like_path(base_id):  # a file next to the child (relative to it)
                base_path = (path.parent / base_id) if not os.path.isabs(base_id) else Path(base_id)
            else:
                base_path, _ = resolve_ref(base_id, registry)
        except PlaybookError as exc:
            raise PlaybookError([Problem(f"extends: {exc.problems[0].message}", doc.locate(("extends",)),
                                         exc.problems[0].hint)]) from None
        base = _load_document(base_path, registry, locs, (*chain, data["id"]), (*files, here))
        data = merge_playbook(base, data, locs)
        data.setdefault("_extends", [])
        data["_extends"] = [base_id, *base.get("_extends", [])]
    if "stages" not in data:
        raise PlaybookError([Problem("a playbook needs `stages` (or `extends`)", doc.locate(()))])
    return data


def _apply_extensions(data: dict[str, Any], registry: Registry, locs: Locations) -> dict[str, Any]:
    for ext in registry.extensions.get(data["id"], []):
        doc = _read_validated(ext.path, relaxed=True)
        locs.add_doc(doc)
        locs.read.append(ext.path)
        patch = {k: v for k, v in doc.data.items() if k not in ("id", "version", "extends")}
        data = merge_playbook(data, patch, locs)
        data.setdefault("_extensions", []).append(ext.plugin)
    return data


# ---------------------------------------------------------------------------------------------
# compiling


def _validate_params(schema: dict[str, Any] | None, params: dict[str, Any], owner: dict[str, Any],
                     locs: Locations, what: str) -> list[Problem]:
    if not schema:
        return []
    key = vcache.digest("params", schema, params)
    if vcache.seen(key):
        return []
    validator = validator_for_schema(schema)
    problems = []
    for error in validator.iter_errors(params):
        from .schema import describe_error

        where = ".".join(str(p) for p in error.absolute_path)
        at = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):  # the unknown key's line
            at += [k for k in error.instance if k not in (error.schema.get("properties") or {})][:1]
        loc = _locate_within(params, at, locs) or locs.obj(owner)
        problems.append(Problem(f"{what}: `with{'.' + where if where else ''}`: {describe_error(error)}", loc))
    if not problems:
        vcache.remember(key)
    return problems


def _locate_within(root: Any, path: list[Any], locs: Locations) -> Location | None:
    """The location of the deepest value along ``path`` inside ``root`` that has one."""
    best = locs.obj(root)
    node = root
    for part in path:
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict):
            found = locs.key(node, part)[0]
            best = found or best
        elif isinstance(child, (dict, list)):
            best = locs.obj(child) or best
        node = child
    return best


class _Builder:
    def __init__(self, data: dict[str, Any], registry: Registry, locs: Locations, stack: tuple[str, ...],
                 base_dir: Path | None = None, pinned: dict[str, Any] | None = None):
        self.data = data
        self.registry = registry
        self.locs = locs
        self.ctx = CompileContext(registry, locs, data["id"], stack, base_dir=base_dir, pinned=pinned)
        self.ctx.playbook_data = data  # type: ignore[attr-defined]  # lets a prepare() read e.g. stage `effort`
        self.problems: list[Problem] = []
        self.criteria: list[Criterion] = []
        self.seen_criteria: dict[str, Any] = {}

    def guard(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except PlaybookError as exc:
            self.problems.extend(exc.problems)
            return None

    def criterion(self, raw: dict[str, Any], stage_id: str, gate: str) -> Criterion | None:
        cid = raw["id"]
        loc = self.locs.obj(raw)
        if cid in self.seen_criteria:
            self.problems.append(Problem(f"duplicate criterion id {cid!r} (ids must be unique in the playbook)", loc))
            return None
        self.seen_criteria[cid] = raw
        what = f"criterion {cid!r}"
        fn = None
        paths: list[tuple[Any, ...]] = []
        guarded: list[tuple[Any, ...]] = []
        params = raw.get("with") or {}
        if "when" not in raw and "rule" not in raw:
            self.problems.append(Problem(
                f"{what}: needs `when` (an expression) or `rule` (a plugin rule)", loc,
                "a criterion without either is only allowed to patch an inherited one under `extends`"))
            return None
        if "when" in raw:
            expr = self.guard(self.ctx.compile, raw["when"], raw, "when", f"{what} `when`")
            if expr is None:
                return None
            fn, paths, guarded = expr, expr.paths, expr.guarded
        else:
            spec = self.registry.rules.get(raw["rule"])
            if spec is None:
                known = ", ".join(sorted(self.registry.rules)) or "none"
                self.problems.append(Problem(
                    f"{what}: unknown rule {raw['rule']!r}",
                    self.locs.key(raw, "rule")[0],
                    f"installed rules: {known}; install the plugin that provides it or fix the name",
                ))
                return None
            ok, prepared = self.prepared(spec, params, raw, what, f"rule {spec.name!r}", loc)
            if not ok:
                return None
            fn = _rule_caller(spec.func, prepared)
        return Criterion(
            index=-1, id=cid, stage=stage_id, gate=gate, title=raw.get("title") or cid,
            level=raw.get("level", REQUIRED), fn=fn, paths=paths, when=raw.get("when"),
            rule=raw.get("rule"), params=params, hint=raw.get("hint"), guarded=guarded,
            description=raw.get("description"), location=loc,
        )

    def prepared(self, spec: Any, params: dict[str, Any], raw: dict[str, Any], what: str, name: str,
                 loc: Location | None) -> tuple[bool, Any]:
        """Validate a rule's or action's ``with`` against its schema and run its ``prepare``
        (plugin code: whatever it raises becomes a located problem). (False, None) on failure."""
        bad = _validate_params(spec.schema, params, raw, self.locs, what)
        if bad:
            self.problems.extend(bad)
            return False, None
        if spec.prepare is None:
            return True, params
        try:
            return True, spec.prepare(params, self.ctx)
        except PlaybookError as exc:
            self.problems.extend(Problem(f"{what}: {p.message}", p.location or loc, p.hint) for p in exc.problems)
        except Exception as exc:  # noqa: BLE001 - plugin code
            self.problems.append(Problem(
                f"{what}: {name} (plugin {spec.plugin!r}) failed to prepare: {type(exc).__name__}: {exc}", loc))
        return False, None

    def action(self, raw: dict[str, Any], stage_id: str) -> Action | None:
        what = f"action {raw['id']!r}"
        do = raw.get("do", "task")
        spec = self.registry.actions.get(do)
        loc = self.locs.obj(raw)
        if spec is None:
            known = ", ".join(sorted(self.registry.actions)) or "none"
            self.problems.append(Problem(f"{what}: unknown action {do!r}", self.locs.key(raw, "do")[0],
                                         f"installed actions: {known}"))
            return None
        params = raw.get("with") or {}
        ok, prepared = self.prepared(spec, params, raw, what, f"action {do!r}", loc)
        if not ok:
            return None
        when = None
        if "when" in raw:
            expr = self.guard(self.ctx.compile, raw["when"], raw, "when", f"{what} `when`")
            if expr is None:
                return None
            when = expr
        return Action(
            id=raw["id"], stage=stage_id, on=raw.get("on", "check"), do=do,
            title=raw.get("title") or spec.title or raw["id"], func=spec.func, params=prepared,
            raw_params=params, when=when, when_text=raw.get("when"),
            description=raw.get("description"), location=loc,
        )

    def stages(self) -> list[Stage]:
        stages: list[Stage] = []
        seen: set[str] = set()
        for i, raw in enumerate(self.data["stages"]):
            sid = raw["id"]
            if sid in seen:
                self.problems.append(Problem(f"duplicate stage id {sid!r}", self.locs.obj(raw)))
                continue
            seen.add(sid)
            entry = [c for c in (self.criterion(r, sid, "entry") for r in raw.get("entry") or []) if c]
            exit_ = [c for c in (self.criterion(r, sid, "exit") for r in raw.get("exit") or []) if c]
            action_ids: set[str] = set()
            actions = []
            for r in raw.get("actions") or []:
                if r["id"] in action_ids:
                    self.problems.append(Problem(f"duplicate action id {r['id']!r} in stage {sid!r}", self.locs.obj(r)))
                    continue
                action_ids.add(r["id"])
                a = self.action(r, sid)
                if a:
                    actions.append(a)
            stages.append(Stage(
                index=len(stages), id=sid, title=raw.get("title") or sid, goal=raw.get("goal"),
                guidance=raw.get("guidance"), max_days=raw.get("max_days"), effort=raw.get("effort"),
                entry=entry, exit=exit_, actions=actions, location=self.locs.obj(raw),
            ))
            del i
        for stage in stages:
            for c in (*stage.entry, *stage.exit):
                c.index = len(self.criteria)
                self.criteria.append(c)
            stage.required_entry = tuple(c.index for c in stage.entry if c.required)
            stage.required_exit = tuple(c.index for c in stage.exit if c.required)
        return stages

    def outcomes(self, stage_ids: set[str]) -> list[Outcome]:
        out = []
        for raw in self.data.get("outcomes") or []:
            lacking = [key for key in ("kind", "when") if key not in raw]
            if lacking:
                self.problems.append(Problem(
                    f"outcome {raw['id']!r}: needs {' and '.join(f'`{k}`' for k in lacking)}",
                    self.locs.obj(raw), "only a child playbook may patch an inherited outcome by id alone"))
                continue
            expr = self.guard(self.ctx.compile, raw["when"], raw, "when", f"outcome {raw['id']!r} `when`")
            unknown = [s for s in raw.get("from") or [] if s not in stage_ids]
            if unknown:
                self.problems.append(Problem(f"outcome {raw['id']!r}: unknown stage(s) in `from`: {', '.join(unknown)}",
                                             self.locs.key(raw, "from")[0]))
                continue
            if expr is None:
                continue
            out.append(Outcome(id=raw["id"], kind=raw["kind"], title=raw.get("title") or raw["id"], fn=expr,
                               when=raw["when"], from_stages=frozenset(raw["from"]) if raw.get("from") else None,
                               guidance=raw.get("guidance")))
        return out

    def derivations(self) -> list[Derivation]:
        out: list[Derivation] = []
        ids: set[str] = set()

        def claim(did: str, raw: Any) -> bool:
            if did in ids:
                self.problems.append(Problem(f"duplicate derived id {did!r}", self.locs.obj(raw)))
                return False
            ids.add(did)
            return True

        for raw in self.data.get("derive") or []:
            spec = self.registry.derivations.get(raw["use"])
            if spec is None:
                known = ", ".join(sorted(self.registry.derivations)) or "none"
                self.problems.append(Problem(f"derive {raw['id']!r}: unknown derivation {raw['use']!r}",
                                             self.locs.key(raw, "use")[0], f"installed derivations: {known}"))
                continue
            params = raw.get("with") or {}
            bad = _validate_params(spec.schema, params, raw, self.locs, f"derive {raw['id']!r}")
            if bad:
                self.problems.extend(bad)
                continue
            if claim(raw["id"], raw):
                out.append(Derivation(raw["id"], "derivation", _rule_caller(spec.func, params),
                                      raw.get("title"), raw))
        for raw in self.data.get("scorecards") or []:
            compute = self.guard(build_scorecard, raw, self.locs.obj(raw))
            if compute is not None and claim(raw["id"], raw):
                out.append(Derivation(raw["id"], "scorecard", compute, raw.get("title"), raw))
        for raw in self.data.get("tables") or []:
            rules = []
            for row in raw["rules"]:
                expr = self.guard(self.ctx.compile, row["when"], row, "when", f"table {raw['id']!r} row `when`")
                if expr is not None:
                    rules.append((expr, row["then"], row.get("id")))
            if len(rules) == len(raw["rules"]) and claim(raw["id"], raw):
                out.append(Derivation(raw["id"], "table", build_table(raw, rules), raw.get("title"), raw))
        return out


def _rule_caller(func: Any, params: Any) -> Any:
    def call(facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> Any:
        return func(facts, derived, params, ctx)

    return call


def compile_document(data: dict[str, Any], registry: Registry, locs: Locations, *, path: Path | None = None,
                     plugin: str | None = None, stack: tuple[str, ...] = (),
                     pinned: dict[str, Any] | None = None) -> CompiledPlaybook:
    """Compile a merged playbook document. ``pinned``: the documents of the playbooks it reuses,
    by reference, as a snapshot holds them (None: load them as installed / from their files)."""
    builder = _Builder(data, registry, locs, (*stack, data["id"]), base_dir=path.parent if path else None,
                       pinned=pinned)
    derivations = builder.derivations()
    stages = builder.stages()
    outcomes = builder.outcomes({s.id for s in stages})
    problems = builder.problems + builder.ctx.problems
    if problems:
        raise PlaybookError(problems)
    builder.ctx.batch.flush()
    fused = builder.ctx.batch.fuse([c.fn for c in builder.criteria])
    # Bind the compiled functions directly (no per-call indirection on the hot path).
    for c in builder.criteria:
        if isinstance(c.fn, CompiledExpression):
            c.fn = c.fn.fn
    for stage in stages:
        for a in stage.actions:
            if isinstance(a.when, CompiledExpression):
                a.when = a.when.fn
    for o in outcomes:
        if isinstance(o.fn, CompiledExpression):
            o.fn = o.fn.fn
    return CompiledPlaybook(
        id=data["id"], version=data["version"], title=data["title"], description=data.get("description"),
        stages=stages, criteria=builder.criteria, outcomes=outcomes, derivations=derivations,
        data=data, path=path, plugin=plugin, facts_schema=dict(data.get("facts") or {}),
        extends=list(data.get("_extends", [])), sub_playbooks=builder.ctx.sub_playbooks,
        uses=builder.ctx.uses, evaluate_all=fused,
    )


_compiled_cache: dict[tuple[Any, ...], CompiledPlaybook] = {}


def load_playbook(ref: str | Path, *, registry: Registry | None = None,
                  _stack: tuple[str, ...] = ()) -> CompiledPlaybook:
    """Load and compile a playbook by installed id or file path. Raises PlaybookError."""
    registry = registry if registry is not None else get_registry()
    path, plugin = resolve_ref(ref, registry)
    try:
        stat = path.stat()
        key: tuple[Any, ...] = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, id(registry))
    except OSError:
        key = ()
    cached = _compiled_cache.get(key) if key else None
    if cached is not None and _unchanged(cached.sources):
        return cached
    locs = Locations()
    data = _load_document(path, registry, locs, ())
    data = _apply_extensions(data, registry, locs)
    compiled = compile_document(data, registry, locs, path=path, plugin=plugin, stack=_stack)
    compiled.sources = (*_stamps(locs.read), *(s for sub in compiled.uses.values() for s in sub.sources))
    if key:
        _compiled_cache[key] = compiled
    return compiled


def _stamps(paths: list[Path]) -> list[tuple[str, int, int]]:
    out = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return out


def _unchanged(sources: tuple[tuple[str, int, int], ...]) -> bool:
    """Whether every file a compiled playbook was built from is as it was (a changed base,
    extension or reused playbook compiles it again, not only a changed file of its own)."""
    for name, mtime, size in sources:
        try:
            stat = os.stat(name)
        except OSError:
            return False
        if stat.st_mtime_ns != mtime or stat.st_size != size:
            return False
    return True
