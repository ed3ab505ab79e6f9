"""The funnel summary as ONE self-contained HTML file: inline CSS and SVG, no script, no
network, no fonts to fetch — it opens from an e-mail attachment and prints to a slide.

Every number on the page carries ``data-metric`` (a stable name) and ``data-value`` (the raw
number), so tests (and people's scripts) can check the page against the JSON summary.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .texts import t

COLORS = ["#0b3d91", "#1457b8", "#1f6fd6", "#3a87e6", "#5c9ff0", "#84b8f5", "#a9cff8", "#cbe2fb"]
BAR = "#d9534f"


def _num(metric: str, value: int, tag: str = "span", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<{tag}{klass} data-metric="{escape(metric)}" data-value="{value}">{value:,}</{tag}>'


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _funnel_svg(s: dict[str, Any], lang: str) -> str:
    stages = s["stages"]
    n = len(stages)
    width, row, gap, top = 960, 64, 8, 10
    label_w = 250  # stage titles on the left
    chart_w = width - label_w - 150  # room for conversion on the right
    height = top * 2 + n * (row + gap)
    base = max((st["reached"] for st in stages), default=0) or 1
    widths = [max(st["reached"] / base, 0.04) * chart_w for st in stages]
    cx = label_w + chart_w / 2
    parts = [f'<svg class="funnel" viewBox="0 0 {width} {height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(t("funnel", lang))}">']
    for k, st in enumerate(stages):
        y = top + k * (row + gap)
        w_top = widths[k]
        w_bot = widths[k + 1] if k + 1 < n else widths[k] * 0.85
        w_bot = min(w_bot, w_top)
        color = COLORS[min(k, len(COLORS) - 1)]
        pts = (f"{cx - w_top / 2:.1f},{y} {cx + w_top / 2:.1f},{y} "
               f"{cx + w_bot / 2:.1f},{y + row} {cx - w_bot / 2:.1f},{y + row}")
        text_color = "#fff" if k < 5 else "#0b2545"
        parts.append(f'<polygon points="{pts}" fill="{color}"><title>{escape(st["title"])}: '
                     f'{st["reached"]:,}</title></polygon>')
        parts.append(f'<text x="{label_w - 14}" y="{y + row / 2 + 6}" text-anchor="end" class="stage-label">'
                     f'{escape(st["title"])}</text>')
        parts.append(f'<text x="{cx}" y="{y + row / 2 + 8}" text-anchor="middle" class="funnel-num" '
                     f'fill="{text_color}" data-metric="funnel.{escape(st["id"])}.reached" '
                     f'data-value="{st["reached"]}">{st["reached"]:,}</text>')
        if st["conversion"] is not None:
            parts.append(f'<text x="{label_w + chart_w + 20}" y="{y + 14}" class="conv">'
                         f'↓ {_pct(st["conversion"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _blocking_svg(s: dict[str, Any], lang: str) -> str:
    rows = s["blocking"]
    if not rows:
        return f"<p>{escape(t('none', lang))}</p>"
    width, row, label_w = 960, 30, 380
    height = len(rows) * row + 10
    most = max(r["cases"] for r in rows) or 1
    bar_w = width - label_w - 110
    parts = [f'<svg class="bars" viewBox="0 0 {width} {height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(t("blocking", lang))}">']
    for i, r in enumerate(rows):
        y = 5 + i * row
        w = max(r["cases"] / most * bar_w, 2)
        title = r["title"] if len(r["title"]) <= 34 else r["title"][:33] + "…"
        parts.append(f'<text x="{label_w - 10}" y="{y + 19}" text-anchor="end" class="bar-label">'
                     f'{escape(title)}<title>{escape(r["title"])} [{escape(r["criterion"])}]</title></text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" rx="3" fill="{BAR}"/>')
        parts.append(f'<text x="{label_w + w + 8:.1f}" y="{y + 19}" class="bar-num">{r["cases"]:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


CSS = """
*{box-sizing:border-box}
body{margin:0;padding:32px 40px;font-family:-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",
"Noto Sans CJK SC","Noto Sans SC",Roboto,Helvetica,Arial,sans-serif;color:#0b2545;background:#f6f8fb}
h1{font-size:28px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 12px}
.sub{color:#5b6b82;margin:0 0 24px}
.kpis{display:flex;flex-wrap:wrap;gap:14px}
.kpi{background:#fff;border-radius:10px;padding:14px 18px;min-width:150px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.kpi .v{font-size:30px;font-weight:700;display:block}.kpi .l{color:#5b6b82;font-size:13px}
.kpi.bad .v{color:#b52b27}.kpi.good .v{color:#1d7a46}
.card{background:#fff;border-radius:10px;padding:18px 22px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
svg{width:100%;height:auto;display:block}
.stage-label{font-size:17px;fill:#0b2545}.funnel-num{font-size:22px;font-weight:700}
.conv{font-size:15px;fill:#5b6b82}.bar-label{font-size:14px;fill:#0b2545}.bar-num{font-size:14px;fill:#5b6b82}
table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}
th,td{padding:8px 10px;border-bottom:1px solid #e3e8ef;text-align:left;vertical-align:top}
th{background:#eef2f7;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5b6b82}.warn{background:#fff4e5;border-left:4px solid #f0ad4e;padding:10px 14px}
code{font-size:12px;color:#5b6b82}
footer{margin-top:32px;color:#8a97a8;font-size:12px}
@media print{body{background:#fff;padding:0}.card,.kpi{box-shadow:none;border:1px solid #e3e8ef}}
"""


def render_html(s: dict[str, Any]) -> str:
    lang = s["lang"]
    pb = s["playbook"]
    h: list[str] = []
    add = h.append
    add("<!DOCTYPE html>")
    add(f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">")
    add(f"<title>{escape(t('title', lang))} — {escape(pb['title'])}</title><style>{CSS}</style></head><body>")
    add(f"<h1>{escape(t('title', lang))} · {escape(pb['title'])}</h1>")
    add(f'<p class="sub">{escape(pb["id"])} v{pb["version"]} · {escape(t("as_of", lang))} '
        f'<span data-metric="today">{escape(s["today"])}</span> · {escape(t("inputs", lang))}: '
        f'{escape(", ".join(s["inputs"]))}</p>')
    if s.get("stopped"):
        add(f'<p class="warn">{escape(t("stopped", lang, n=s["stopped"]["max_errors"]))}</p>')

    add('<div class="kpis">')
    tiles = [("cases", "cases", s["cases"], ""), ("entered", "entered", s["entered"], ""),
             ("ready", "ready_to_advance", s["ready_to_advance"], "good"),
             ("complete", "complete", s["complete"], "good"), ("rejected", "rejected", s["rejected"]["count"], "bad")]
    for key, metric, value, cls in tiles:
        klass = f"kpi {cls}" if cls and value else "kpi"
        add(f'<div class="{klass}">{_num(metric, value, cls="v")}<span class="l">{escape(t(key, lang))}</span></div>')
    for o in s["outcomes"]:
        add(f'<div class="kpi">{_num("outcome." + o["id"], o["cases"], cls="v")}'
            f'<span class="l">{escape(o["title"])}</span></div>')
    add("</div>")

    add(f"<h2>{escape(t('funnel', lang))}</h2>")
    add(f'<div class="card">{_funnel_svg(s, lang)}</div>')

    add(f"<h2>{escape(t('stages', lang))}</h2>")
    add(f"<table><thead><tr><th>{escape(t('stage', lang))}</th><th class=n>{escape(t('in_stage', lang))}</th>"
        f"<th class=n>{escape(t('ready', lang))}</th><th class=n>{escape(t('blocked', lang))}</th>"
        f"<th class=n>{escape(t('reached', lang))}</th><th class=n>{escape(t('conversion', lang))}</th>"
        f"<th>{escape(t('top_blocker', lang))}</th></tr></thead><tbody>")
    for st in s["stages"]:
        sid = st["id"]
        top = st["top_blocking"][0] if st["top_blocking"] else None
        top_html = (f'{escape(top["title"])} <span class="muted">({_num(f"stage.{sid}.top_blocking", top["cases"])})'
                    f'</span>' if top else "")
        add(f"<tr><td>{escape(st['title'])} <code>{escape(sid)}</code></td>"
            f"{_num(f'stage.{sid}.cases', st['cases'], 'td', 'n')}"
            f"{_num(f'stage.{sid}.ready_to_advance', st['ready_to_advance'], 'td', 'n')}"
            f"{_num(f'stage.{sid}.blocked', st['blocked'], 'td', 'n')}"
            f"{_num(f'stage.{sid}.reached', st['reached'], 'td', 'n')}"
            f"<td class=n>{_pct(st['conversion'])}</td><td>{top_html}</td></tr>")
    add("</tbody></table>")
    add(f'<p class="muted">{escape(t("not_entered", lang))}: {_num("not_entered", s["not_entered"])}</p>')

    add(f"<h2>{escape(t('blocking', lang))}</h2>")
    add(f'<div class="card">{_blocking_svg(s, lang)}</div>')
    if s["blocking"]:
        add(f"<table><thead><tr><th>#</th><th>{escape(t('criterion', lang))}</th><th>{escape(t('stage', lang))}"
            f"</th><th class=n>{escape(t('cases_unit', lang))}</th><th>{escape(t('hint', lang))}</th></tr></thead><tbody>")
        for i, b in enumerate(s["blocking"], 1):
            add(f"<tr><td>{i}</td><td>{escape(b['title'])} <code>{escape(b['criterion'])}</code></td>"
                f"<td>{escape(b['stage'])} · {escape(t('gate_' + b['gate'], lang))}</td>"
                f"{_num('blocking.' + b['criterion'], b['cases'], 'td', 'n')}"
                f"<td>{escape(b.get('hint', ''))}</td></tr>")
        add("</tbody></table>")

    ahead = s["declared_ahead"]
    add(f"<h2>{escape(t('ahead', lang))}: {_num('declared_ahead', ahead['cases'])}</h2>")
    if ahead["by_stage"]:
        add(f"<table><thead><tr><th>{escape(t('declared', lang))}</th><th>{escape(t('inferred', lang))}</th>"
            f"<th class=n>{escape(t('cases_unit', lang))}</th></tr></thead><tbody>")
        for row in ahead["by_stage"]:
            add(f"<tr><td>{escape(row['declared_title'])}</td><td>{escape(row['inferred_title'])}</td>"
                f"{_num('ahead.' + row['declared'] + '.' + row['inferred'], row['cases'], 'td', 'n')}</tr>")
        add("</tbody></table>")

    rej = s["rejected"]
    add(f"<h2>{escape(t('rejected_title', lang))}: {_num('rejected_count', rej['count'])}</h2>")
    if rej["shown"]:
        add(f"<table><thead><tr><th>{escape(t('source', lang))}</th><th class=n>{escape(t('line', lang))}</th>"
            f"<th>{escape(t('message', lang))}</th></tr></thead><tbody>")
        for r in rej["shown"]:
            add(f"<tr><td>{escape(r['source'])}</td><td class=n>{r['line'] or ''}</td>"
                f"<td>{escape(r['message'])}</td></tr>")
        add("</tbody></table>")
        if rej["truncated"]:
            more = f"{rej['count'] - len(rej['shown']):,}"
            add(f'<p class="muted">{escape(t("more_rejected", lang, n=more))}</p>')
    add(f"<footer>{escape(t('generated', lang))} · {escape(t('records', lang))}: "
        f"{_num('records', s['records'])}</footer>")
    add("</body></html>")
    return "\n".join(h) + "\n"
