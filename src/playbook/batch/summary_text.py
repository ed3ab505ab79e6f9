"""The funnel summary as plain text (for terminals and e-mails)."""

from __future__ import annotations

import unicodedata
from typing import Any

from .texts import t


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def _rpad(text: str, width: int) -> str:
    """Right-align by display width (a CJK character takes two columns)."""
    return " " * max(width - _width(text), 0) + text


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}%" if whole else "-"


def render_summary_text(s: dict[str, Any]) -> str:
    lang = s["lang"]
    out: list[str] = []
    pb = s["playbook"]
    out.append(f"{t('title', lang)} — {pb['title']} ({pb['id']} v{pb['version']}), {t('as_of', lang)} {s['today']}")
    if s.get("stopped"):
        out.append(t("stopped", lang, n=s["stopped"]["max_errors"]))
    out.append("")
    rows = [
        (t("records", lang), s["records"]),
        (t("cases", lang), s["cases"]),
        (t("entered", lang), s["entered"]),
        (t("not_entered", lang), s["not_entered"]),
        (t("ready", lang), s["ready_to_advance"]),
        (t("complete", lang), s["complete"]),
        (t("rejected", lang), s["rejected"]["count"]),
    ]
    label_w = max(_width(label) for label, _ in rows)
    for label, value in rows:
        out.append(f"  {_pad(label, label_w)}  {value:>12,}")

    out.append("")
    out.append(t("stages", lang))
    name_w = max([_width(st["title"]) for st in s["stages"]] + [_width(t("stage", lang))])
    head = (f"  {_pad(t('stage', lang), name_w)}  {_rpad(t('in_stage', lang), 12)}  {_rpad(t('ready', lang), 12)}  "
            f"{_rpad(t('blocked', lang), 12)}  {_rpad(t('reached', lang), 12)}  {_rpad(t('conversion', lang), 10)}")
    out.append(head)
    for st in s["stages"]:
        conv = f"{st['conversion'] * 100:.1f}%" if st["conversion"] is not None else "-"
        out.append(f"  {_pad(st['title'], name_w)}  {st['cases']:>12,}  {st['ready_to_advance']:>12,}  "
                   f"{st['blocked']:>12,}  {st['reached']:>12,}  {conv:>10}")
        if st["top_blocking"]:
            top = st["top_blocking"][0]
            sep = "：" if lang == "zh" else ": "
            out.append(f"  {'':<{name_w}}    {t('top_blocker', lang)}{sep}{top['title']} ({top['cases']:,})")

    if any(o["cases"] for o in s["outcomes"]):
        out.append("")
        out.append(t("outcomes", lang))
        for o in s["outcomes"]:
            out.append(f"  {o['title']} ({o['kind']}): {o['cases']:,}")

    out.append("")
    out.append(t("blocking", lang))
    if not s["blocking"]:
        out.append(f"  {t('none', lang)}")
    for i, b in enumerate(s["blocking"], 1):
        gate = t("gate_" + b["gate"], lang)
        out.append(f"  {i:>2}. {b['title']} [{b['criterion']}] — {b['stage']} {gate}: "
                   f"{b['cases']:,} ({_pct(b['cases'], s['cases'])})")
        if b.get("hint"):
            out.append(f"      {t('hint', lang)}: {b['hint']}")

    ahead = s["declared_ahead"]
    out.append("")
    out.append(t("ahead", lang))
    if not ahead["cases"]:
        out.append(f"  {t('none', lang)}")
    else:
        out.append("  " + t("ahead_count", lang, n=f"{ahead['cases']:,}"))
        for row in ahead["by_stage"]:
            out.append(f"  {t('declared', lang)} {row['declared_title']} → {t('inferred', lang)} "
                       f"{row['inferred_title']}: {row['cases']:,}")

    rej = s["rejected"]
    out.append("")
    out.append(f"{t('rejected_title', lang)}: {rej['count']:,}")
    for r in rej["shown"]:
        where = f"{r['source']}:{r['line']}" if r["line"] else r["source"]
        out.append(f"  {where}: {r['message']}")
    if rej["truncated"]:
        out.append("  " + t("more_rejected", lang, n=f"{rej['count'] - len(rej['shown']):,}"))
    return "\n".join(out) + "\n"
