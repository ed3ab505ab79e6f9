"""The compiled playbook: everything the evaluator needs, resolved and compiled once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Location
from .text import Text

Evaluator = Callable[[dict[str, Any], dict[str, Any], Any], Any]

REQUIRED = "required"
RECOMMENDED = "recommended"


@dataclass
class Criterion:
    index: int  # position in CompiledPlaybook.criteria
    id: str
    stage: str
    gate: str  # "entry" | "exit"
    title: Text
    level: str
    fn: Evaluator
    paths: list[tuple[Any, ...]]
    when: str | None = None
    guarded: list[tuple[Any, ...]] = field(default_factory=list)  # optional facts (exists())
    rule: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    hint: Text | None = None
    description: Text | None = None
    location: Location | None = None

    @property
    def required(self) -> bool:
        return self.level == REQUIRED


@dataclass
class Action:
    id: str
    stage: str
    on: str
    do: str
    title: Text
    func: Callable[..., Any]
    params: Any
    raw_params: dict[str, Any]
    when: Evaluator | None = None
    when_text: str | None = None
    description: Text | None = None
    location: Location | None = None


@dataclass
class Stage:
    index: int
    id: str
    title: Text
    goal: Text | None
    guidance: Text | None
    max_days: int | None
    effort: float | None
    entry: list[Criterion]
    exit: list[Criterion]
    actions: list[Action]
    required_entry: tuple[int, ...] = ()
    required_exit: tuple[int, ...] = ()
    location: Location | None = None


@dataclass
class Outcome:
    id: str
    kind: str
    title: Text
    fn: Evaluator
    when: str
    from_stages: frozenset[str] | None
    guidance: Text | None = None


@dataclass
class Derivation:
    """One step of the derive phase: a plugin derivation, a scorecard or a decision table."""

    id: str
    kind: str  # "derivation" | "scorecard" | "table"
    compute: Callable[[dict[str, Any], dict[str, Any], Any], Any]
    title: Text | None = None
    spec: Any = None  # the raw scorecard/table definition, for documentation


@dataclass
class CompiledPlaybook:
    id: str
    version: int
    title: Text
    description: Text | None
    stages: list[Stage]
    criteria: list[Criterion]
    outcomes: list[Outcome]
    derivations: list[Derivation]
    data: dict[str, Any]  # the merged, validated document
    path: Path | None = None
    plugin: str | None = None
    facts_schema: dict[str, Any] = field(default_factory=dict)
    extends: list[str] = field(default_factory=list)
    sub_playbooks: dict[str, CompiledPlaybook] = field(default_factory=dict)
    # the playbooks it reuses (core.playbook-passes), by the reference it names them with: a
    # snapshot pins them with it (runtime/snapshot.py)
    uses: dict[str, CompiledPlaybook] = field(default_factory=dict)
    # the files it was compiled from (its own, bases, extensions, reused playbooks'): (path, mtime, size)
    sources: tuple[tuple[str, int, int], ...] = ()
    # evaluate_all(facts, derived, ctx, out): every criterion into out[i] (see CompileBatch.fuse)
    evaluate_all: Callable[..., None] | None = None

    def stage_index(self, stage_id: str) -> int | None:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage.index
        return None

    def criterion(self, criterion_id: str) -> Criterion | None:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        return None

    @property
    def examples_dir(self) -> Path | None:
        if self.path is None:
            return None
        return self.path.parent / "examples" / self.id
