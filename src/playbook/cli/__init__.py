"""The ``playbook`` command line. Commands are imported lazily, so ``playbook check`` pays
only for what it uses (cold start matters for scripts and CI)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ..errors import EXIT_BAD_INPUT, EXIT_INTERNAL, PlaybookError

# command name -> "module:attribute" (relative to playbook.cli)
COMMANDS: dict[str, str] = {
    "list": "catalog:list_cmd",
    "show": "catalog:show_cmd",
    "validate": "catalog:validate_cmd",
    "plugins": "catalog:plugins_cmd",
    "check": "check:check_cmd",
    "test": "testcmd:test_cmd",
    "run": "runmode:run_cmd", "status": "runmode:status_cmd", "history": "runmode:history_cmd",
    "cases": "runmode:cases_cmd", "advance": "runmode:advance_cmd",
    "lint": "authoring:lint_cmd",
    "graph": "authoring:graph_cmd",
    "doc": "authoring:doc_cmd",
    "diff": "authoring:diff_cmd",
    "schema": "authoring:schema_cmd",
    "init": "init:init_cmd",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(COMMANDS) | set(self.commands) | set(_plugin_commands(ctx))
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name in COMMANDS:
            module_name, attr = COMMANDS[name].split(":")
            module = importlib.import_module(f"{__name__}.{module_name}")
            return getattr(module, attr)
        return _plugin_commands(ctx).get(name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PlaybookError as exc:
            if (ctx.obj and ctx.obj.get("debug")) or os.environ.get("PLAYBOOK_DEBUG") == "1":
                raise
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:  # not click's "Aborted!" + exit 1, which reads as "blocked"
            click.echo("interrupted (Ctrl-C)", err=True)
            ctx.exit(130)


def _plugin_commands(ctx: click.Context) -> dict[str, click.Command]:
    """Commands added by plugins through the ``register_commands`` hook (loaded on demand)."""
    root = ctx.find_root()
    cache = root.meta.setdefault("playbook.plugin_commands", None)
    if cache is not None:
        return cache
    from ..plugins import get_registry

    registry = get_registry(tuple((root.params or {}).get("plugin") or ()))
    group = click.Group()
    pm = registry.plugin_manager  # type: ignore[attr-defined]
    for impl in pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(group)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the CLI down
            click.echo(f"warning: plugin {impl.plugin_name!r} failed to add commands: {exc}", err=True)
    cache = {n: c for n, c in group.commands.items() if n not in COMMANDS}
    root.meta["playbook.plugin_commands"] = cache
    return cache


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="playbook", prog_name="playbook")
@click.option("-p", "--plugin", "plugin", multiple=True, metavar="MODULE",
              help="Load a local plugin module (repeatable; also PLAYBOOK_PLUGINS=mod1,mod2).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, plugin: tuple[str, ...], debug: bool) -> None:
    """Run declarative key-account sales playbooks: which stage a case is in, what passes,
    what blocks the gate and why, and what to do next.

    \b
    Exit codes: 0 ready to advance / complete (or command succeeded),
                1 something blocks (or tests/lint failed),
                2 bad input or usage,
                70 internal error (a bug: please report it; --debug shows the traceback).
    """
    ctx.ensure_object(dict)
    ctx.obj["plugins"] = plugin
    ctx.obj["debug"] = debug


def main() -> None:
    debug = "--debug" in sys.argv[1:] or os.environ.get("PLAYBOOK_DEBUG") == "1"
    try:
        cli.main(prog_name="playbook")
    except PlaybookError as exc:  # raised outside a command's invoke (e.g. option parsing)
        if debug:
            raise
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except Exception as exc:  # noqa: BLE001 - last resort: a bug must not pass for "blocked" (exit 1)
        if debug:
            raise
        detail = " ".join(str(exc).split())[:300]
        click.echo(f"internal error: {type(exc).__name__}: {detail} — please report; --debug shows the traceback",
                   err=True)
        sys.exit(EXIT_INTERNAL)
