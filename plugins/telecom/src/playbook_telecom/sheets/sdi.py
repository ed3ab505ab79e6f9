"""客户现状、困难、影响分析表 and 问话准备表 — the situation-difficulty-impact sheet and the
question preparation for the next visit (step 5).

For each topic the next questions follow the first thing still unknown: the situation, then
the difficulty, then its impact; once all three are known, a pay-off question asks the
customer to say what solving it would be worth (that is how interest is raised).
"""

from __future__ import annotations

from typing import Any

from ..facts import records
from ..texts import Text, pick, table, text
from .common import header, header_md, output

TITLE = text("客户现状、困难、影响分析表", "Situation, difficulty and impact sheet")
PREP_TITLE = text("现状、困难、影响问话准备表", "Question preparation: situation, difficulty, impact")
FIELDS = ("situation", "difficulty", "impact")

QUESTIONS: dict[str, list[Text]] = {
    "situation": [
        text("关于{topic}，贵单位现在是怎么做的？用的是哪些系统或业务？",
             "How does your organisation handle {topic} today, and with which systems or services?"),
        text("{topic}目前由谁负责？涉及多少人、多少个网点？",
             "Who is responsible for {topic} now, and how many people and sites does it involve?"),
    ],
    "difficulty": [
        text("在{topic}上，目前最让您头疼的是什么？", "What gives you the most trouble with {topic} today?"),
        text("现在的做法，哪些地方还达不到您的要求？", "Where does the current way fall short of what you need?"),
    ],
    "impact": [
        text("“{difficulty}”对业务造成了哪些影响？大概损失多少时间或费用？",
             "What does “{difficulty}” cost the business, in time or money?"),
        text("如果一直不解决，对成本、效率或客户服务会有什么后果？",
             "If it stays unsolved, what happens to cost, efficiency or customer service?"),
    ],
    "payoff": [
        text("如果“{difficulty}”解决了，对您和团队意味着什么？",
             "If “{difficulty}” were solved, what would it mean for you and your team?"),
    ],
}


def _filled(row: dict[str, Any], key: str) -> bool:
    return isinstance(row.get(key), str) and bool(row[key].strip())


def next_step(row: dict[str, Any]) -> str:
    for key in FIELDS:
        if not _filled(row, key):
            return key
    return "payoff"


def questions(row: dict[str, Any], step: str) -> list[Text]:
    topic = row.get("topic") or "这方面"
    topic_en = row.get("topic") or "this area"
    difficulty = row.get("difficulty") or ""
    return [{"zh": q["zh"].format(topic=topic, difficulty=difficulty),
             "en": q["en"].format(topic=topic_en, difficulty=difficulty)} for q in QUESTIONS[step]]


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    rows = records(facts, "sdi")
    analysis = [{k: r.get(k) for k in ("topic", "stakeholder", *FIELDS)} for r in rows]
    prep = []
    for r in rows:
        step = next_step(r)
        prep.append({"topic": r.get("topic"), "stakeholder": r.get("stakeholder"), "ask_about": step,
                     "questions": questions(r, step)})
    covered = {r.get("stakeholder") for r in rows}
    team = [s.get("name") for s in records(facts, "stakeholders")
            if isinstance(s.get("name"), str) and s.get("role") != "other"]
    not_asked = [n for n in team if n not in covered]
    data = {"header": header(facts, ctx), "analysis": analysis, "preparation": prep, "not_asked": not_asked}
    step_titles = {"situation": text("现状", "situation"), "difficulty": text("困难", "difficulty"),
                   "impact": text("影响", "impact"), "payoff": text("解决后的价值", "pay-off")}

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        out.append(table([text("话题", "Topic"), text("对象", "Person"), text("现状", "Situation"),
                          text("困难", "Difficulty"), text("影响", "Impact")],
                         [[a["topic"], a["stakeholder"], a["situation"], a["difficulty"], a["impact"]]
                          for a in analysis], lang))
        out.append(f"\n**{pick(PREP_TITLE, lang)}**")
        if not prep:
            out.append("- " + ("先在 sdi 中列出要谈的话题和对象。" if zh else "List the topics and people to talk to in sdi first."))
        for p in prep:
            who = p["stakeholder"] or "—"
            out.append(f"- {p['topic'] or '—'}（{who}）→ 问{pick(step_titles[p['ask_about']], lang)}：" if zh
                       else f"- {p['topic'] or '—'} ({who}) → ask about the {pick(step_titles[p['ask_about']], lang)}:")
            out.extend(f"  - {pick(q, lang)}" for q in p["questions"])
        if not_asked:
            names = ("、" if zh else ", ").join(not_asked)
            out.append("\n" + (f"还没有和这些人谈过现状和困难：{names}" if zh
                               else f"Not yet asked about situation and difficulties: {names}"))
        return "\n".join(out)

    return output("sdi", data, render)
