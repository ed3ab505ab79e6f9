"""``playbook doc``: a handbook a consultant can hand out, in Markdown or one HTML file.

The handbook is built once as a list of blocks (headings, paragraphs, lists, tables, the
diagram) and rendered by two small writers, so both formats say exactly the same thing.
Criteria appear in plain words (title, required/recommended, what to do when not met); the raw
expressions go to an appendix for authors. The HTML embeds its CSS and an SVG of the stage
flow: no script, no font or image from the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..model import Action, CompiledPlaybook, Criterion, Stage
from ..text import is_text, tr
from .graph import escape, flow, to_mermaid, to_svg
from .labels import label

# -- blocks ------------------------------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str
    css: str = ""


@dataclass
class Item:
    text: str
    note: str = ""  # a secondary line (e.g. what to do if not met)
    badge: str = ""  # required / recommended
    strong: bool = False
    sub: list[str] = field(default_factory=list)


@dataclass
class Bullets:
    items: list[Item]
    checklist: bool = False


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    code_columns: tuple[int, ...] = ()


@dataclass
class Diagram:
    pass


Block = Heading | Para | Bullets | Table | Diagram


# -- building ----------------------------------------------------------------------------------


_SENTENCE_END = (".", "!", "?", ":", "。", "！", "？", "：", "；", ")", "）", "”")


def _paragraphs(text: str) -> list[str]:
    """Paragraphs of a multi-line text. Authors hard-wrap English at ~95 columns and write one
    Chinese paragraph per line, so a line joins the next unless it ends a sentence; a blank
    line always ends a paragraph."""
    out: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if current:
                out.append(current)
            current = ""
            continue
        if current:
            cjk = ord(current[-1]) > 0x2E80 or ord(line[0]) > 0x2E80
            current += ("" if cjk else " ") + line
        else:
            current = line
        if current.endswith(_SENTENCE_END):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


def _colon(lang: str) -> str:
    return "：" if lang == "zh" else ": "


def _value_text(value: Any, lang: str) -> str:
    if is_text(value):
        return tr(value, lang)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value_text(v, lang)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value_text(v, lang) for v in value)
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    return "" if value is None else str(value)


# -- `code` spans (CommonMark rules, shared by both writers) -----------------------------------

_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def code(text: str, beside: str = "") -> str:
    """``text`` as a Markdown code span: the fence is one backtick longer than the longest run
    inside it (an expression may hold a backtick) or in the text ``beside`` it (so a stray
    backtick there cannot pair with the fence), padded when the text starts or ends with one."""
    text = _MD_BREAK.sub(" ", text)
    longest = max((len(m) for m in re.findall(r"`+", text + " " + beside)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _with_code(text: str, ident: str) -> str:
    return f"{text} {code(ident, text)}"


def _span_text(span: str) -> str:
    """The text inside a code span (its fences and one padding space removed)."""
    inner = span.strip("`")
    if len(inner) > 1 and inner.startswith(" ") and inner.endswith(" ") and inner.strip():
        inner = inner[1:-1]
    return inner


def _spans(text: str) -> list[tuple[str, str | None]]:
    """``text`` cut into (literal, None) and (span, span) pieces, span = a whole code span."""
    out: list[tuple[str, str | None]] = []
    last = 0
    for m in _SPAN.finditer(text):
        if m.start() > last:
            out.append((text[last:m.start()], None))
        out.append((m.group(0), m.group(0)))
        last = m.end()
    if last < len(text):
        out.append((text[last:], None))
    return out


class HandbookBuilder:
    def __init__(self, pb: CompiledPlaybook, lang: str):
        self.pb = pb
        self.lang = lang
        self.blocks: list[Block] = []
        self.tables = {d.id: d for d in pb.derivations}

    def t(self, text: Any) -> str:
        return tr(text, self.lang)

    def add(self, block: Block) -> None:
        self.blocks.append(block)

    def build(self) -> list[Block]:
        pb, lang = self.pb, self.lang
        self.add(Heading(1, self.t(pb.title), "top"))
        self.add(Para(label("generated", lang, id=pb.id, v=pb.version), "meta"))
        if pb.description:
            for p in _paragraphs(self.t(pb.description)):
                self.add(Para(p))
        self.overview()
        for stage in pb.stages:
            self.stage(stage)
        if pb.outcomes:
            self.outcomes()
        scorecards = [d for d in pb.derivations if d.kind == "scorecard"]
        tables = [d for d in pb.derivations if d.kind == "table"]
        if scorecards:
            self.add(Heading(2, label("scorecards", lang), "scorecards"))
            for card in scorecards:
                self.scorecard(card.spec)
        if tables:
            self.add(Heading(2, label("tables", lang), "tables"))
            for table in tables:
                self.table(table.spec)
        self.appendix()
        return self.blocks

    def overview(self) -> None:
        lang = self.lang
        self.add(Heading(2, label("overview", lang), "overview"))
        rows = []
        for s in self.pb.stages:
            limit = label("days", lang, n=s.max_days) if s.max_days else ""
            effort = f"{s.effort:g}%" if s.effort is not None else ""  # `effort` is in percent (0-100)
            rows.append([f"{s.index + 1}", self.t(s.title), self.t(s.goal), limit, effort])
        headers = ["#", label("stage", lang), label("goal", lang), label("max_days", lang), label("effort", lang)]
        keep = [i for i in range(len(headers)) if i < 3 or any(r[i] for r in rows)]
        self.add(Table([headers[i] for i in keep], [[r[i] for i in keep] for r in rows]))
        self.add(Heading(3, label("flow", lang), "flow"))
        self.add(Diagram())

    def criteria(self, criteria: list[Criterion], heading: str) -> None:
        self.add(Heading(4, heading))
        if not criteria:
            self.add(Para(label("none", self.lang)))
            return
        items = []
        for c in criteria:
            note = f"{label('if_not_met', self.lang)}{_colon(self.lang)}{self.t(c.hint)}" if c.hint else ""
            items.append(Item(self.t(c.title), note, label("required" if c.required else "recommended", self.lang),
                              strong=c.required))
        self.add(Bullets(items))

    def action_item(self, a: Action) -> Item:
        lang = self.lang
        when = label({"enter": "on_enter", "exit": "on_exit"}.get(a.on, "on_check"), lang)
        params = a.raw_params or {}
        sub: list[str] = []
        note = when
        if a.do == "checklist":
            sub = [self.t(i.get("text")) for i in params.get("items") or []]
        elif a.do in ("task", "template") and params.get("text") is not None:
            sub = _paragraphs(self.t(params["text"]))
            if params.get("due_days") is not None:
                note += " · " + label("due", lang, n=params["due_days"])
        elif a.do == "lookup":
            target = self.tables.get(params.get("table"))
            name = self.t(target.title) if target and target.title else str(params.get("table"))
            sub = [label("see_table", lang, t=name)]
        if a.description:
            sub.insert(0, self.t(a.description))
        return Item(self.t(a.title), note, sub=sub)

    def stage(self, s: Stage) -> None:
        lang = self.lang
        self.add(Heading(2, f"{s.index + 1}. {self.t(s.title)}", f"stage-{s.id}"))
        if s.goal:
            self.add(Para(f"{label('goal', lang)}{_colon(lang)}{self.t(s.goal)}", "goal"))
        if s.max_days:
            self.add(Para(f"{label('max_days', lang)}{_colon(lang)}{label('days', lang, n=s.max_days)}", "meta"))
        self.criteria(s.entry, label("entry", lang))
        self.criteria(s.exit, label("exit", lang))
        if s.actions:
            self.add(Heading(4, label("actions", lang)))
            self.add(Bullets([self.action_item(a) for a in s.actions], checklist=True))
        if s.guidance:
            self.add(Heading(4, label("guidance", lang)))
            for p in _paragraphs(self.t(s.guidance)):
                self.add(Para(p))

    def outcomes(self) -> None:
        lang = self.lang
        self.add(Heading(2, label("outcomes", lang), "outcomes"))
        titles = {s.id: self.t(s.title) for s in self.pb.stages}
        rows = []
        for o in self.pb.outcomes:
            sources = label("any_stage", lang) if o.from_stages is None else "、".join(
                titles[s.id] for s in self.pb.stages if s.id in o.from_stages) if lang == "zh" else ", ".join(
                titles[s.id] for s in self.pb.stages if s.id in o.from_stages)
            kind = label(o.kind, lang) if o.kind in ("won", "lost", "dropped") else o.kind
            rows.append([self.t(o.title), kind, sources, self.t(o.guidance)])
        headers = [label("outcome", lang), label("kind", lang), label("reached_from", lang),
                   label("outcome_guidance", lang)]
        if not any(r[3] for r in rows):
            headers, rows = headers[:3], [r[:3] for r in rows]
        self.add(Table(headers, rows))

    def scorecard(self, spec: dict[str, Any]) -> None:
        lang = self.lang
        self.add(Heading(3, self.t(spec.get("title")) or spec["id"], f"scorecard-{spec['id']}"))
        if spec.get("description"):
            self.add(Para(self.t(spec["description"])))
        if spec.get("input"):
            self.add(Para(label("score_input", lang, p=spec["input"]), "meta"))
        scales = {"scale": spec.get("scale") or []} | dict(spec.get("scales") or {})
        for name, entries in scales.items():
            if entries:
                caption = label("scale", lang) + ("" if name == "scale" else f" ({name})")
                self.add(Para(caption, "caption"))
                self.add(Table([label("score", lang), label("meaning", lang)],
                               [[str(e["value"]), self.t(e.get("label"))] for e in entries]))
        rows = []
        weighted = False
        for dim in spec.get("dimensions") or []:
            for factor in dim.get("factors") or []:
                for ind in factor.get("indicators") or []:
                    weight = ind.get("weight", 1)
                    weighted = weighted or weight != 1 or "scale" in ind
                    extra = f" ×{weight}" if weight != 1 else ""
                    extra += f" ({ind['scale']})" if "scale" in ind else ""
                    rows.append([self.t(dim.get("title")) or dim["id"], self.t(factor.get("title")) or factor["id"],
                                 _with_code(self.t(ind.get("title")) or ind["id"], ind["id"]), extra.strip()])
        headers = [label("dimension", lang), label("factor", lang), label("indicator", lang), label("weight", lang)]
        if not weighted:
            headers, rows = headers[:3], [r[:3] for r in rows]
        self.add(Table(headers, rows, code_columns=()))
        band_rows = []
        for owner in [*(spec.get("dimensions") or []), spec]:
            for band in owner.get("bands") or []:
                name = self.t(owner.get("title")) or owner["id"]
                low = str(band["min"]) if "min" in band else label("below", lang)
                band_rows.append([name, self.t(band.get("title")) or band["id"], low])
        if band_rows:
            self.add(Para(label("bands", lang), "caption"))
            self.add(Table([label("dimension", lang), label("band", lang), label("min_total", lang)], band_rows))

    def table(self, spec: dict[str, Any]) -> None:
        lang = self.lang
        self.add(Heading(3, self.t(spec.get("title")) or spec["id"], f"table-{spec['id']}"))
        if spec.get("description"):
            self.add(Para(self.t(spec["description"])))
        note = label("hit_collect" if spec.get("hit") == "collect" else "hit_first", lang)
        if spec.get("for_each"):
            note += " " + label("for_each", lang, p=spec["for_each"])
        self.add(Para(note, "meta"))
        keys: list[str] = []
        for row in [*(spec.get("rules") or []), {"then": spec.get("default") or {}}]:
            keys += [k for k in row.get("then") or {} if k not in keys]
        rows = []
        for i, row in enumerate(spec.get("rules") or []):
            cond = self.t(row["description"]) if row.get("description") else code(row["when"])
            rows.append([str(i + 1), cond, *(_value_text((row.get("then") or {}).get(k), lang) for k in keys)])
        if spec.get("default"):
            rows.append(["", label("otherwise", lang), *(_value_text(spec["default"].get(k), lang) for k in keys)])
        self.add(Table([label("row", lang), label("condition", lang), *keys], rows))

    def appendix(self) -> None:
        lang = self.lang
        self.add(Heading(2, label("appendix", lang), "appendix"))
        self.add(Para(label("appendix_note", lang), "meta"))
        rows = []
        for c in self.pb.criteria:
            expr = code(c.when) if c.when is not None else label("rule_with", lang, r=c.rule)
            stage = self.pb.stages[self.pb.stage_index(c.stage) or 0]
            rows.append([_with_code(self.t(c.title), c.id), f"{stage.index + 1}. {self.t(stage.title)}", expr])
        self.add(Table([label("criterion", lang), label("stage", lang), label("expression", lang)], rows))


# -- Markdown ----------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|")


_MD_BREAK = re.compile(r"\s*[\r\n\x85\u2028\u2029]+\s*")
# what Markdown (CommonMark + GFM) would read as markup in plain text: escapes, a stray backtick,
# emphasis (`_` only at a word edge: snake_case stays readable), GFM strikethrough (`3~6 个月`
# twice in a line), raw HTML, entities, and the `](`/`][`/`]:` that make links and images
_MD_SPECIAL = re.compile(r"[\\`*~<]|&(?=#?[A-Za-z0-9]+;)|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|\](?=[(\[:])")


def _md_text(text: str) -> str:
    """Playbook text in Markdown, on one line (a block is one line or paragraph: a title
    with a line break must not start a heading or a list), shown as written: only `code`
    spans stay markup, everything else that Markdown would read as markup is escaped."""
    return "".join(span if span is not None else _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), literal)
                   for literal, span in _spans(_MD_BREAK.sub(" ", text)))


def render_markdown(pb: CompiledPlaybook, lang: str) -> str:
    out: list[str] = []
    for block in HandbookBuilder(pb, lang).build():
        if isinstance(block, Heading):
            text = re.sub(r"(^|\s)(#+)$", r"\1\\\2", _md_text(block.text).strip())  # not a closing `#`
            out.append("#" * block.level + " " + text)
        elif isinstance(block, Para):
            text = _md_text(block.text)
            out.append(f"*{text}*" if block.css in ("meta", "caption") else text)
        elif isinstance(block, Bullets):
            lines = []
            for item in block.items:
                prefix = "- [ ] " if block.checklist else "- "
                text = f"**{_md_text(item.text)}**" if item.strong else _md_text(item.text)
                badge = f" *({item.badge})*" if item.badge else ""
                note = f" — {_md_text(item.note)}" if item.note and block.checklist else ""
                lines.append(prefix + text + badge + note)
                if item.note and not block.checklist:
                    lines.append(f"  <br>{_md_text(item.note)}")
                lines += [f"    - {_md_text(s)}" for s in item.sub]
            out.append("\n".join(lines))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in block.headers) + " |",
                     "|" + "|".join("---" for _ in block.headers) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Diagram):
            out.append("```mermaid\n" + to_mermaid(flow(pb, lang)) + "```")
    return "\n\n".join(out) + "\n"


# -- HTML --------------------------------------------------------------------------------------

CSS = """
:root { --ink:#1d2733; --muted:#5b6b7a; --line:#d5dde6; --accent:#2f5d8a; --soft:#f3f6fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.6;
  font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 28px 64px; }
h1 { font-size: 2rem; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 1.45rem; margin: 40px 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.15rem; margin: 26px 0 8px; }
h4 { font-size: 1rem; margin: 18px 0 6px; color: var(--accent); }
p { margin: 6px 0; }
p.meta, p.caption { color: var(--muted); font-size: .92rem; }
p.caption { font-weight: 600; margin-top: 14px; }
p.goal { background: var(--soft); border-left: 4px solid var(--accent); padding: 8px 12px; }
ul { margin: 6px 0 10px; padding-left: 22px; }
li { margin: 4px 0; }
li .note { display: block; color: var(--muted); font-size: .92rem; }
ul.checklist { list-style: none; padding-left: 4px; }
ul.checklist > li::before { content: "☐"; margin-right: 8px; color: var(--accent); }
ul.checklist ul { list-style: disc; }
.badge { display: inline-block; font-size: .75rem; padding: 0 7px; border-radius: 9px; margin-left: 6px;
  vertical-align: 1px; border: 1px solid var(--accent); color: var(--accent); }
.badge.required { background: var(--accent); color: #fff; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: .94rem; }
th, td { border: 1px solid var(--line); padding: 6px 9px; text-align: left; vertical-align: top; }
th { background: var(--soft); }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85em;
  background: var(--soft); padding: 1px 4px; border-radius: 3px; word-break: break-word; }
figure.flow { margin: 10px 0 20px; overflow-x: auto; }
figure.flow svg { max-width: 100%; height: auto; }
nav.toc { background: var(--soft); padding: 10px 16px; border-radius: 6px; margin: 18px 0; }
nav.toc ol { margin: 4px 0; padding-left: 4px; list-style: none; }
@media print { main { max-width: none; padding: 0; } h2 { break-before: auto; } a { color: inherit; } }
"""


def _inline(text: str) -> str:
    """Escape, and render `code` spans as <code>."""
    return "".join(escape(literal) if span is None else f"<code>{escape(_span_text(span))}</code>"
                   for literal, span in _spans(text))


def render_html(pb: CompiledPlaybook, lang: str) -> str:
    blocks = HandbookBuilder(pb, lang).build()
    body: list[str] = []
    toc = [b for b in blocks if isinstance(b, Heading) and b.level == 2 and b.anchor]
    for block in blocks:
        if isinstance(block, Heading):
            anchor = f' id="{escape(block.anchor)}"' if block.anchor else ""
            body.append(f"<h{block.level}{anchor}>{escape(block.text)}</h{block.level}>")
            if block.level == 1:
                continue
        elif isinstance(block, Para):
            css = f' class="{block.css}"' if block.css else ""
            body.append(f"<p{css}>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = []
            for item in block.items:
                text = f"<strong>{_inline(item.text)}</strong>" if item.strong else _inline(item.text)
                if item.badge:
                    css = "badge required" if item.strong else "badge"
                    text += f'<span class="{css}">{escape(item.badge)}</span>'
                if item.note:
                    text += f'<span class="note">{_inline(item.note)}</span>'
                if item.sub:
                    text += "<ul>" + "".join(f"<li>{_inline(s)}</li>" for s in item.sub) + "</ul>"
                items.append(f"<li>{text}</li>")
            css = ' class="checklist"' if block.checklist else ""
            body.append(f"<ul{css}>" + "".join(items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
            rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Diagram):
            body.append(f'<figure class="flow">{to_svg(flow(pb, lang))}</figure>')
        if isinstance(block, Para) and block.css == "meta" and len(body) == 2:
            body.append('<nav class="toc"><strong>' + escape(label("contents", lang)) + "</strong><ol>"
                        + "".join(f'<li><a href="#{escape(h.anchor)}">{escape(h.text)}</a></li>' for h in toc)
                        + "</ol></nav>")
    html_lang = "zh-CN" if lang == "zh" else "en"
    title = escape(f"{tr(pb.title, lang)} — {label('handbook', lang)}")
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="playbook doc">\n<title>{title}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")
