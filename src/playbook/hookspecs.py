"""Hook specifications: what a plugin can add to playbook.

A plugin is a module (or object) with functions marked ``@playbook.hookimpl`` whose names match
the specs below. Each hook receives a ``register`` callback (the pattern of ``llm``), so a plugin
adds as many things as it likes and the registry can reject clashes with the plugin's name.
Names a plugin registers should be namespaced with its own prefix (``banking.grade-at-least``)
so that two plugins never clash; the core's own names carry ``core.`` or no prefix.

Plugins are found through the entry-point group ``playbook``, ``-p module`` on the command
line, and the ``PLAYBOOK_PLUGINS`` environment variable (comma-separated module names).
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("playbook")


@hookspec
def register_rules(register: Any) -> None:
    """Register criterion rules a playbook can name with ``rule:``.

    ``register(name, func, *, schema=None, prepare=None, title=None, description="")``

    ``func(facts, derived, params, ctx)`` returns a ``playbook.rules.RuleResult`` or a bool.
    ``schema`` is a JSON Schema for the criterion's ``with`` parameters; it is checked when the
    playbook loads, so a bad parameter is a load-time error with file and line.
    ``prepare(params, compile_ctx)``, when given, runs once at load and its return value is
    passed to ``func`` as ``params`` (use it to compile sub-expressions or load other playbooks).
    """


@hookspec
def register_functions(register: Any) -> None:
    """Register functions for the criteria language.

    ``register(name, func, *, needs_context=False, description="")``: a plugin's functions are
    called as ``prefix.name(args)`` in expressions; ``func`` receives evaluated values and must
    be pure (no I/O). With ``needs_context`` it receives the EvalContext (the pinned date) first.
    """


@hookspec
def register_actions(register: Any) -> None:
    """Register actions a stage can name with ``do:``.

    ``register(name, func, *, schema=None, prepare=None, title=None, description="")``;
    ``prepare(params, compile_ctx)`` runs once at load (compile expressions in ``params`` there);
    ``func(params, facts, derived, ctx)`` returns a JSON-like dict shown in the report (texts
    may be ``{"zh": …, "en": …}`` mappings; the reporter picks the language). Keys understood by
    the text report: ``text``, ``items`` (list of ``{text, done}``), ``markdown``.
    """


@hookspec
def register_derivations(register: Any) -> None:
    """Register fact derivations a playbook can use with ``derive: [{id, use, with}]``.

    ``register(name, func, *, schema=None, description="")``;
    ``func(facts, derived, params, ctx)`` returns a JSON-like value stored at ``derived.<id>``.
    """


@hookspec
def register_schemas(register: Any) -> None:
    """Register case-fact schemas: ``register(name, schema_dict_or_path)``.

    A plugin that adds case sections (``bank``, ``telecom`` …) documents them here; lint and
    ``playbook schema --case`` use them.
    """


@hookspec
def register_playbooks(register: Any) -> None:
    """Register playbook files: ``register(path)`` (YAML or JSON).

    Their examples are looked up in ``examples/<playbook id>/`` beside the file.
    """


@hookspec
def register_playbook_extensions(register: Any) -> None:
    """Extend another playbook without editing it: ``register(playbook_id, path)``.

    The file has the shape of a child playbook without ``id``/``extends`` (stages, criteria,
    actions, tables …) and is merged into the target with the ``extends`` rules when the
    target loads (entries with the same id are merged, new ones appended).
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``playbook`` CLI: ``cli.add_command(cmd)`` or ``@cli.command()``."""
