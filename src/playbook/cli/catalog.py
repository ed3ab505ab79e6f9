"""``playbook list | show | validate | plugins``: what is installed and whether it is valid."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EXIT_BAD_INPUT, PlaybookError
from ..text import tr
from .common import dump_json, lang_option, registry, resolve_lang, warn_plugin_errors


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@lang_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool, lang: str | None) -> None:
    """List installed playbooks: id, version, title, source plugin."""
    from ..sourcefile import read_document

    reg = registry(ctx)
    lang = resolve_lang(lang)
    rows = []
    for pid, src in sorted(reg.playbook_index().items()):
        data = read_document(src.path).data
        rows.append({"id": pid, "version": data.get("version"), "title": tr(data.get("title"), lang),
                     "plugin": src.plugin, "path": str(src.path),
                     "stages": len(data.get("stages") or [])})
    warn_plugin_errors(reg)
    if as_json:
        click.echo(dump_json(rows))
        return
    if not rows:
        click.echo("no playbooks installed")
        return
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        click.echo(f"{r['id']:<{width}}  v{r['version']}  {r['title']}  [{r['plugin']}]")


SHOW_WORDS = {
    "en": {"entry": "entry", "exit": "exit ", "recommended": " (recommended)", "action": "action",
           "outcome": "outcome", "from": "from", "max_days": "  max {n} days"},
    "zh": {"entry": "进入", "exit": "退出", "recommended": "（推荐）", "action": "动作",
           "outcome": "结局", "from": "可发生于", "max_days": "  最长 {n} 天"},
}


@click.command("show")
@click.argument("playbook_ref", metavar="PLAYBOOK")
@click.option("--json", "as_json", is_flag=True, help="Output the merged, validated playbook as JSON.")
@lang_option
@click.pass_context
def show_cmd(ctx: click.Context, playbook_ref: str, as_json: bool, lang: str | None) -> None:
    """Show a playbook's stages, criteria and actions."""
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    lang = resolve_lang(lang)
    pb = load_playbook(playbook_ref, registry=reg)
    if as_json:
        click.echo(dump_json({k: v for k, v in pb.data.items() if not k.startswith("_")}))
        return
    click.echo(f"{tr(pb.title, lang)} ({pb.id} v{pb.version})")
    if pb.description:
        click.echo(tr(pb.description, lang).strip())
    words = SHOW_WORDS[lang]
    for stage in pb.stages:
        click.echo(f"\n{stage.index + 1}. {tr(stage.title, lang)} [{stage.id}]"
                   + (words["max_days"].format(n=stage.max_days) if stage.max_days else ""))
        if stage.goal:
            click.echo(f"   {tr(stage.goal, lang)}")
        for gate, items in (("entry", stage.entry), ("exit", stage.exit)):
            for c in items:
                level = "" if c.required else words["recommended"]
                rule = c.when if c.when is not None else f"rule {c.rule}"
                click.echo(f"   {words[gate]} {c.id}{level}: {tr(c.title, lang)}  — {rule}")
        for a in stage.actions:
            click.echo(f"   {words['action']} {a.id} ({a.on}, {a.do}): {tr(a.title, lang)}")
    for o in pb.outcomes:
        reached = (f"  [{words['from']}: {', '.join(sorted(o.from_stages))}]"
                   if o.from_stages is not None else "")
        click.echo(f"\n{words['outcome']} {o.id} ({o.kind}): {tr(o.title, lang)} — {o.when}{reached}")


@click.command("validate")
@click.argument("playbook_refs", metavar="PLAYBOOK...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_context
def validate_cmd(ctx: click.Context, playbook_refs: tuple[str, ...], as_json: bool) -> None:
    """Validate playbooks (schema, expressions, rules, actions). Exit 2 if any is invalid."""
    from ..loader import load_playbook

    reg = registry(ctx)
    warn_plugin_errors(reg)
    results: list[dict[str, Any]] = []
    for ref in playbook_refs:
        try:
            pb = load_playbook(ref, registry=reg)
            results.append({"playbook": ref, "id": pb.id, "valid": True, "problems": [],
                            "stages": len(pb.stages), "criteria": len(pb.criteria)})
        except PlaybookError as exc:
            results.append({"playbook": ref, "valid": False, "problems": [str(p) for p in exc.problems]})
    if as_json:
        click.echo(dump_json(results))
    else:
        for r in results:
            if r["valid"]:
                click.echo(f"ok: {r['playbook']} ({r['stages']} stages, {r['criteria']} criteria)")
            else:
                for p in r["problems"]:
                    click.echo(f"error: {p}", err=True)
    if not all(r["valid"] for r in results):
        ctx.exit(EXIT_BAD_INPUT)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_context
def plugins_cmd(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins, the hooks each implements and what it registered."""
    reg = registry(ctx)
    rows = [
        {"name": p.name, "module": p.module, "version": p.version, "hooks": p.hooks, "registered": p.registered}
        for p in reg.plugins
    ]
    problems = [{"plugin": e.plugin, "where": e.where, "message": e.message} for e in reg.errors]
    if as_json:
        click.echo(dump_json({"plugins": rows, "errors": problems}))
        return
    for row in rows:
        version = f" {row['version']}" if row["version"] else ""
        click.echo(f"{row['name']}{version} ({row['module']})")
        click.echo(f"  hooks: {', '.join(row['hooks']) or '-'}")
        for kind, names in sorted(row["registered"].items()):
            shown = [n if kind not in ("playbooks", "schemas") else n.rsplit('/', 1)[-1] for n in names]
            click.echo(f"  {kind}: {', '.join(shown)}")
    for e in problems:
        click.echo(f"error: plugin {e['plugin']!r} ({e['where']}): {e['message']}", err=True)
