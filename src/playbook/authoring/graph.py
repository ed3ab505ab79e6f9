"""The stage flow of a playbook as a diagram: Mermaid, Graphviz DOT, or a self-drawn SVG.

One model (``flow``) feeds every format: stages in order, the gate on each transition (exit
criteria of the stage before + entry criteria of the stage after, required ● vs recommended ○),
terminal outcomes with the stages they can be reached from, and the end ("complete").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html import escape as _html_escape

from ..model import CompiledPlaybook
from ..text import tr
from .labels import label

REQUIRED_MARK = "●"
RECOMMENDED_MARK = "○"

# characters XML 1.0 forbids (a JSON playbook may carry them as \u0000-style escapes): an SVG or
# HTML holding one is not well-formed, and a terminal would act on them
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _printable(text: str) -> str:
    return _NOT_TEXT.sub("\ufffd", text)


def escape(text: str, quote: bool = True) -> str:
    """HTML/XML-escape playbook text; characters that are not text become U+FFFD."""
    return _html_escape(_printable(text), quote=quote)


@dataclass
class GateItem:
    id: str
    title: str
    required: bool
    gate: str  # entry | exit

    def line(self) -> str:
        return f"{REQUIRED_MARK if self.required else RECOMMENDED_MARK} {self.title}"


@dataclass
class Gate:
    source: int | None  # stage index; None = start
    target: int | None  # stage index; None = complete
    items: list[GateItem] = field(default_factory=list)


@dataclass
class OutcomeNode:
    id: str
    kind: str
    title: str
    sources: list[int] | None  # stage indexes; None = from any stage


@dataclass
class Flow:
    title: str
    lang: str
    stages: list[tuple[str, str]]  # (id, title)
    gates: list[Gate]
    outcomes: list[OutcomeNode]


def flow(pb: CompiledPlaybook, lang: str) -> Flow:
    def items(criteria: list, gate: str) -> list[GateItem]:
        return [GateItem(c.id, tr(c.title, lang), c.required, gate) for c in criteria]

    stages = pb.stages
    gates = [Gate(None, 0, items(stages[0].entry, "entry"))]
    for k in range(len(stages) - 1):
        gates.append(Gate(k, k + 1, items(stages[k].exit, "exit") + items(stages[k + 1].entry, "entry")))
    gates.append(Gate(len(stages) - 1, None, items(stages[-1].exit, "exit")))
    outcomes = [
        OutcomeNode(o.id, o.kind, tr(o.title, lang),
                    None if o.from_stages is None else [s.index for s in stages if s.id in o.from_stages])
        for o in pb.outcomes
    ]
    return Flow(tr(pb.title, lang), lang, [(s.id, tr(s.title, lang)) for s in stages], gates, outcomes)


# ---------------------------------------------------------------------------------------------
# Mermaid


def _mm(text: str) -> str:
    """Text inside a quoted Mermaid label (one line: a newline would end the statement).

    Mermaid decodes ``#name;``/``#123;`` entity codes in labels and reads a label that starts
    with a backtick as Markdown (an unclosed one is a parse error), so ``#``, ``"`` and backticks
    are written as entity codes; ``<``, ``>`` and ``&`` are escaped as HTML (labels are HTML).
    """
    text = _printable(_one_line(text)).replace("#", "#35;")
    return escape(text, quote=False).replace('"', "#quot;").replace("`", "#96;")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _node_id(prefix: str, raw: str) -> str:
    return prefix + "_" + "".join(ch if ch.isalnum() else "_" for ch in raw)


def outcome_text(o: OutcomeNode, lang: str) -> str:
    """The outcome's title, with its kind when the title does not already say it."""
    kind = label(o.kind, lang) if o.kind in ("won", "lost", "dropped") else o.kind
    return o.title if kind.lower() in o.title.lower() else f"{o.title} ({kind})"


def to_mermaid(f: Flow) -> str:
    lines = ["flowchart TD", f"  %% {_one_line(f.title)}", f"  %% {label('legend', f.lang)}"]
    lines.append(f'  start(["{_mm(label("start", f.lang))}"])')
    for sid, title in f.stages:
        lines.append(f'  {_node_id("s", sid)}["{_mm(title)}"]')
    lines.append(f'  done(["{_mm(label("complete", f.lang))}"])')
    for o in f.outcomes:
        lines.append(f'  {_node_id("o", o.id)}{{{{"{_mm(outcome_text(o, f.lang))}"}}}}')
    if any(o.sources is None for o in f.outcomes):
        lines.append(f'  anystage(("{_mm(label("any_stage", f.lang))}"))')
    for g in f.gates:
        src = "start" if g.source is None else _node_id("s", f.stages[g.source][0])
        dst = "done" if g.target is None else _node_id("s", f.stages[g.target][0])
        text = "<br/>".join(_mm(i.line()) for i in g.items)
        lines.append(f'  {src} -->|"{text}"| {dst}' if text else f"  {src} --> {dst}")
    for o in f.outcomes:
        target = _node_id("o", o.id)
        for src in (["anystage"] if o.sources is None else [_node_id("s", f.stages[i][0]) for i in o.sources]):
            lines.append(f"  {src} -.-> {target}")
    lines.append("  classDef outcome fill:#fff4e5,stroke:#c77700")
    if f.outcomes:
        lines.append("  class " + ",".join(_node_id("o", o.id) for o in f.outcomes) + " outcome")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Graphviz DOT


def _dot(text: str) -> str:
    """A DOT quoted string (``\\"`` and ``\\\\`` escaped; a newline is DOT's ``\\n`` line break).
    Graphviz decodes HTML entities such as ``&amp;`` in labels, so ``&`` is written ``&amp;``."""
    text = _printable(text).replace("\t", " ").replace("&", "&amp;")
    return json.dumps(text, ensure_ascii=False)


def to_dot(f: Flow) -> str:
    lines = [f"digraph {_dot(f.title)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef4fb", fontname="sans-serif"];',
             '  edge [fontname="sans-serif", fontsize=10];',
             f"  label={_dot(f.title + chr(10) + label('legend', f.lang))}; labelloc=t;",
             f"  start [shape=oval, fillcolor=white, label={_dot(label('start', f.lang))}];",
             f"  done [shape=oval, fillcolor=white, label={_dot(label('complete', f.lang))}];"]
    for sid, title in f.stages:
        lines.append(f"  {_dot('s:' + sid)} [label={_dot(title)}];")
    for o in f.outcomes:
        lines.append(f"  {_dot('o:' + o.id)} [shape=hexagon, fillcolor=\"#fff4e5\", "
                     f"label={_dot(outcome_text(o, f.lang))}];")
    if any(o.sources is None for o in f.outcomes):
        lines.append(f"  anystage [shape=circle, fillcolor=white, label={_dot(label('any_stage', f.lang))}];")
    for g in f.gates:
        src = "start" if g.source is None else _dot("s:" + f.stages[g.source][0])
        dst = "done" if g.target is None else _dot("s:" + f.stages[g.target][0])
        text = "\\l".join(_dot(_one_line(i.line()))[1:-1] for i in g.items)
        lines.append(f'  {src} -> {dst} [label="{text}\\l"];' if text else f"  {src} -> {dst};")
    for o in f.outcomes:
        for src in (["anystage"] if o.sources is None else [_dot("s:" + f.stages[i][0]) for i in o.sources]):
            lines.append(f"  {src} -> {_dot('o:' + o.id)} [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# SVG (for the HTML handbook: no JavaScript, no network)


def text_width(text: str, size: float) -> float:
    """Approximate rendered width: CJK characters are a full em, others about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.56 for ch in text)


def wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width`` (approximately): breaks at spaces and between CJK characters;
    a word longer than a line (a URL, an id) is cut; newlines and tabs are spaces."""
    lines: list[str] = []
    current = ""
    for token in _fit(_tokens(_one_line(text)), size, width):
        if current and text_width(current + token, size) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current += token
    if current.strip():
        lines.append(current.rstrip())
    return lines or [""]


def _fit(tokens: list[str], size: float, width: float) -> list[str]:
    """Cut tokens wider than ``width`` into pieces that fit."""
    out: list[str] = []
    for token in tokens:
        while text_width(token.rstrip(), size) > width and len(token.rstrip()) > 1:
            cut = 1
            while cut < len(token) and text_width(token[: cut + 1], size) <= width:
                cut += 1
            out.append(token[:cut])
            token = token[cut:]
        if token:
            out.append(token)
    return out


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) > 0x2E80:  # CJK: break anywhere
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        elif ch == " ":
            out.append(word + " ")
            word = ""
        else:
            word += ch
    if word:
        out.append(word)
    return out


def to_svg(f: Flow) -> str:
    size, line_h = 13.0, 17
    gate_w, box_x, box_w = 300, 330, 260
    out_x, out_w = 650, 200
    y = 16
    parts: list[str] = []
    centers: dict[int, float] = {}
    box_top: dict[int, float] = {}

    def gate_text(items: list[GateItem], top: float) -> float:
        lines: list[tuple[str, bool]] = []
        for item in items:
            for j, ln in enumerate(wrap(item.line(), size, gate_w - 10)):
                lines.append(("   " + ln if j else ln, item.required))
        for j, (ln, req) in enumerate(lines):
            weight = "600" if req else "400"
            fill = "#1a3550" if req else "#5b6b7a"
            parts.append(f'<text x="{box_x - 14}" y="{top + 14 + j * line_h}" text-anchor="end" '
                         f'font-size="{size}" font-weight="{weight}" fill="{fill}">{escape(ln)}</text>')
        return len(lines) * line_h

    def pill(text: str, top: float) -> float:
        parts.append(f'<rect x="{box_x + 60}" y="{top}" width="{box_w - 120}" height="30" rx="15" '
                     'fill="#ffffff" stroke="#7a8a99"/>')
        parts.append(f'<text x="{box_x + box_w / 2}" y="{top + 20}" text-anchor="middle" '
                     f'font-size="{size}" fill="#333">{escape(text)}</text>')
        return 30

    def arrow(top: float, height: float) -> None:
        x = box_x + box_w / 2
        parts.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{top + height - 6}" stroke="#4a6a8a" '
                     'stroke-width="1.6" marker-end="url(#arrow)"/>')

    y += pill(label("start", f.lang), y)
    for g in f.gates:
        top = y
        used = gate_text(g.items, top + 4) if g.items else 0
        gap = max(36.0, used + 12)
        arrow(top, gap)
        y += gap
        if g.target is None:
            y += pill(label("complete", f.lang), y)
            break
        sid, title = f.stages[g.target]
        lines = wrap(f"{g.target + 1}. {title}", 15, box_w - 24)
        h = 20 + len(lines) * 19
        box_top[g.target] = y
        parts.append(f'<rect x="{box_x}" y="{y}" width="{box_w}" height="{h}" rx="8" fill="#e8f0fa" '
                     'stroke="#4a6a8a" stroke-width="1.4"/>')
        for j, ln in enumerate(lines):
            parts.append(f'<text x="{box_x + box_w / 2}" y="{y + 24 + j * 19}" text-anchor="middle" '
                         f'font-size="15" font-weight="600" fill="#123">{escape(ln)}</text>')
        centers[g.target] = y + h / 2
        y += h
    height = y + 16
    # outcomes on the right, each beside the stages it can be reached from
    taken: list[tuple[float, float]] = []  # (centre, half height) of the outcomes placed
    kinds = {"won": "#2e7d32", "lost": "#c62828", "dropped": "#7a6a00"}
    for o in f.outcomes:
        sources = list(range(len(f.stages))) if o.sources is None else o.sources
        ys = [centers[i] for i in sources if i in centers]
        if not ys:
            continue
        cy = sum(ys) / len(ys)
        lines = wrap(outcome_text(o, f.lang), size, out_w - 24)
        half = 17 + (len(lines) - 1) * line_h / 2  # half the box height
        clash = next(((t, th) for t, th in taken if abs(cy - t) < half + th + 10), None)
        while clash is not None:  # below the box it would overlap
            cy = clash[0] + clash[1] + half + 10
            clash = next(((t, th) for t, th in taken if abs(cy - t) < half + th + 10), None)
        taken.append((cy, half))
        height = max(height, cy + half + 6)
        color = kinds.get(o.kind, "#555")
        for sy in ys:
            parts.append(f'<path d="M{box_x + box_w} {sy} C{box_x + box_w + 40} {sy}, {out_x - 40} {cy}, '
                         f'{out_x} {cy}" fill="none" stroke="{color}" stroke-dasharray="5 4" stroke-width="1.2" '
                         'marker-end="url(#arrow)"/>')
        parts.append(f'<rect x="{out_x}" y="{cy - half}" width="{out_w}" height="{2 * half}" rx="17" fill="#fff" '
                     f'stroke="{color}" stroke-width="1.6"/>')
        for j, ln in enumerate(lines):
            parts.append(f'<text x="{out_x + out_w / 2}" y="{cy - half + 22 + j * line_h}" text-anchor="middle" '
                         f'font-size="{size}" fill="{color}" font-weight="600">{escape(ln)}</text>')
    width = out_x + out_w + 20 if f.outcomes else box_x + box_w + 20
    legend = label("legend", f.lang)
    parts.append(f'<text x="10" y="{height + 4}" font-size="12" fill="#5b6b7a">{escape(legend)}</text>')
    height += 14
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="{width}" '
            f'height="{height:.0f}" role="img" aria-label="{escape(f.title)}" '
            'font-family="system-ui, -apple-system, \'Segoe UI\', \'Noto Sans CJK SC\', \'PingFang SC\', '
            '\'Microsoft YaHei\', sans-serif">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#4a6a8a"/></marker></defs>')
    return head + "".join(parts) + "</svg>"
