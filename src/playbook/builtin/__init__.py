"""The core plugin: the language's functions, core rules, actions and derivations, and the
bundled playbooks and schemas — registered through the same hooks any plugin uses."""

from __future__ import annotations

from typing import Any

from .. import hookimpl
from ..resources import data_dir


@hookimpl
def register_functions(register: Any) -> None:
    from ..criteria.functions import CORE_FUNCTIONS

    for spec in CORE_FUNCTIONS:
        register(spec.name, spec.func, needs_context=spec.needs_context, description=spec.description,
                 handles_missing=spec.handles_missing)


@hookimpl
def register_rules(register: Any) -> None:
    from . import rules

    rules.register_all(register)


@hookimpl
def register_actions(register: Any) -> None:
    from . import actions

    actions.register_all(register)


@hookimpl
def register_derivations(register: Any) -> None:
    from . import man

    register("core.man", man.derive_man, schema=man.SCHEMA,
             description="MAN rule: Money/Authority/Need class and the strategy for it")


@hookimpl
def register_playbooks(register: Any) -> None:
    for path in sorted(data_dir("playbooks").glob("*.y*ml")):
        register(path)
    for path in sorted(data_dir("playbooks").glob("*.json")):
        register(path)


@hookimpl
def register_schemas(register: Any) -> None:
    path = data_dir("schemas") / "case.schema.json"
    if path.exists():
        register("core.case", path)
