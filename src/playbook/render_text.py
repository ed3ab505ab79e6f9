"""The text report: for people, in the selected language."""

from __future__ import annotations

from typing import Any

from .messages import msg

MARK = {True: "✓", False: "✗", None: "·"}


def _criterion_line(item: dict[str, Any], lang: str) -> str:
    level = "" if item["level"] == "required" else f" [{msg('level_recommended', lang)}]"
    line = f"    {MARK[item['passed']]} {item['title']}{level}"
    if not item["passed"]:
        line += f" — {item['message']}"
    return line


_BOOKKEEPING = ("row", "index")


def _plain(value: Any) -> str:
    """A value as a person reads it: mappings as `key: value` pairs, lists joined."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items() if k not in _BOOKKEEPING)
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _describe_result(result: Any) -> list[str]:
    """A decision-table or scorecard outcome as lines: one per matched row or list item."""
    if isinstance(result, dict) and isinstance(result.get("matches"), list):  # hit: collect
        return [f"• {_plain(m)}" for m in result["matches"]] or ["-"]
    if isinstance(result, list):  # for_each: one result per item
        return [f"#{item.get('index', i) + 1 if isinstance(item.get('index'), int) else i + 1}: {_plain(item)}"
                if isinstance(item, dict) else f"#{i + 1}: {_plain(item)}" for i, item in enumerate(result)]
    if isinstance(result, dict):
        return [f"{k}: {_plain(v)}" for k, v in result.items() if k not in _BOOKKEEPING]
    return [] if result is None else [_plain(result)]


def _output_lines(output: dict[str, Any]) -> list[str]:
    lines = []
    if isinstance(output.get("text"), str):
        lines += ["      " + part for part in output["text"].splitlines()]
    for item in output.get("items") or []:
        if isinstance(item, dict):
            lines.append(f"      [{'x' if item.get('done') else ' '}] {item.get('text', '')}")
    if "result" in output:
        lines += ["      " + line for line in _describe_result(output["result"])]
    if isinstance(output.get("markdown"), str):
        lines += ["      " + part for part in output["markdown"].splitlines()]
    return lines


def render(report: dict[str, Any], *, guidance: str | None = None, verbose: bool = False,
           outcome_title: str | None = None) -> str:
    """The text report; ``outcome_title`` names the reached outcome (else its id is shown)."""
    lang = report["lang"]
    st = report["stage"]
    titles = {s["id"]: s["title"] for s in report["stages"]}
    out: list[str] = []
    c = "：" if lang == "zh" else ": "
    case_id = report["case"]["id"] or "-"
    lp, rp, semi = ("（", "）", "；") if lang == "zh" else (" (", ")", "; ")
    out.append(f"{msg('playbook', lang)}{c}{report['playbook']['title']}{lp}{report['playbook']['id']} "
               f"v{report['playbook']['version']}{rp}")
    out.append(f"{msg('case', lang)}{c}{case_id}    {msg('date', lang)}{c if lang == 'zh' else ' '}{report['today']}")
    stage_line = f"{msg('stage_now', lang)}{c}{titles[st['current']]}"
    if st["declared"] and st["declared"] != st["inferred"]:
        stage_line += f"{lp}{msg('declared', lang)}{semi}{msg('inferred', lang)}{c}{titles[st['inferred']]}{rp}"
    out.append(stage_line)
    if st.get("outcome"):
        out.append(msg("outcome", lang, outcome=st["outcome"], title=outcome_title or st["outcome"]))
    if not st["entered"]:
        out.append(msg("not_entered", lang))
    elif st["complete"]:
        out.append(msg("complete", lang))
    elif st.get("outcome"):
        pass  # closed by the outcome: nothing blocks any more (the gates below are for reference)
    elif st["ready_to_advance"]:
        # ready without a next stage and not complete: a declared last stage with skipped gates
        out.append(msg("ready", lang, next=titles[st["next"]]) if st["next"] else msg("ready_last", lang))
    else:
        out.append(msg("blocked", lang, count=len(report["blocking"])))
    skipped_stages = {b["stage"] for b in report.get("skipped") or []}
    out.append("")
    out.append(f"{msg('progress', lang)}{c.strip()}")
    for i, stage in enumerate(report["stages"], 1):
        skipped = stage["status"] == "passed" and stage["id"] in skipped_stages
        status = msg("status_skipped" if skipped else f"status_{stage['status']}", lang)
        arrow = "▶" if stage["status"] == "current" else " "
        out.append(f"  {arrow} {i}. {stage['title']} — {status}")
        if stage["status"] == "current" or verbose:
            for gate in ("entry", "exit"):
                if stage[gate]:
                    out.append(f"    {msg(gate, lang)}{c.strip()}")
                    out.extend(_criterion_line(item, lang) for item in stage[gate])
    if report["blocking"]:
        out.append("")
        out.append(f"{msg('blocking', lang)}{c.strip()}")
        for b in report["blocking"]:
            out.append(f"  ✗ {b['title']} — {b['message']}")
            if b.get("hint"):
                out.append(f"    → {msg('todo', lang)}{c}{b['hint']}")
    if report.get("recommended"):
        out.append("")
        out.append(f"{msg('recommended', lang)}{c.strip()}")
        for b in report["recommended"]:
            out.append(f"  · {b['title']} — {b['message']}")
            if b.get("hint"):
                out.append(f"    → {b['hint']}")
    if report["actions"]:
        out.append("")
        out.append(f"{msg('next_actions', lang)}{c.strip()}")
        for a in report["actions"]:
            out.append(f"  - {a['title']}")
            out.extend(_output_lines(a.get("output") or {}))
    if guidance:
        out.append("")
        out.append(f"{msg('guidance', lang)}{c.strip()}")
        out.extend("  " + line for line in guidance.strip().splitlines())
    if report["derived"] and verbose:
        out.append("")
        out.append(f"{msg('derived', lang)}{c.strip()}")
        for key, value in report["derived"].items():
            out.append(f"  {key}: {value}")
    for key in ("warnings", "errors"):
        if report[key]:
            out.append("")
            out.append(f"{msg(key, lang)}{c.strip()}")
            out.extend(f"  ! {w}" for w in report[key])
    return "\n".join(out) + "\n"
