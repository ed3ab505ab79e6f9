"""Action ``banking.visit-plan``: the customer visit plan (客户拜访计划) generated from the case.

The plan has the fields of the bank's visit-plan form: customer, goal of the visit, services the
customer may need, products to offer, materials to bring, how to open, questions the customer may
ask (with answers), likely objections (with responses) and the meeting theme. What the account
manager wrote in ``bank.visit`` always wins; what is missing is proposed from the rest of the
case — the classified needs, the product table, the other banks on the account, opposing
stakeholders — so a plan exists from the first check on. Output: Markdown per language and the
plan as JSON.
"""

from __future__ import annotations

from typing import Any

from .advice import _text, outcomes

Text = dict[str, str]

THEMES: dict[str, Text] = {
    "establish_contact": {"zh": "建立联系", "en": "Establish contact"},
    "deepen_rapport": {"zh": "增进情感", "en": "Deepen rapport"},
    "preliminary_intent": {"zh": "达成初步合作意向", "en": "Reach a preliminary intent to cooperate"},
    "clear_progress": {"zh": "推动合作取得明显进展", "en": "Make clear progress in the cooperation"},
    "gather_information": {"zh": "收集信息", "en": "Gather information"},
    "understand_needs": {"zh": "了解客户需求", "en": "Understand the customer's needs"},
    "discuss_products": {"zh": "商讨产品合作", "en": "Discuss product cooperation"},
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "theme": {"enum": list(THEMES), "description": "meeting theme when the case gives none (bank.visit.theme)"},
        "products_table": {"type": "string", "default": "product_suggestions",
                           "description": "decision table mapping needs to products (label/advice outcomes)"},
    },
}

GOALS: dict[str, Text] = {
    "establish_contact": {"zh": "认识客户财务负责人，介绍本行，约定下次深入交流的时间",
                          "en": "Meet the customer's head of finance, introduce the bank and agree on a follow-up meeting"},
    "deepen_rapport": {"zh": "加深与关键人的个人关系，了解其关注点和顾虑",
                       "en": "Deepen the relationship with the key people and learn what they care and worry about"},
    "preliminary_intent": {"zh": "就合作方向达成初步意向，明确下一步需要的资料和时间表",
                           "en": "Agree in principle on what to do together, and on the documents and timetable for the next step"},
    "clear_progress": {"zh": "推动方案进入客户内部决策流程，确认审批节点和时间",
                       "en": "Move the proposal into the customer's decision process and confirm its approval steps and dates"},
    "gather_information": {"zh": "补齐客户经营、财务和金融业务使用情况的资料",
                           "en": "Complete the picture of the customer's operations, finances and use of banking services"},
    "understand_needs": {"zh": "弄清客户在融资、采购、销售和理财四方面的真实需求及其轻重缓急",
                         "en": "Find the customer's real needs in financing, purchasing, sales and treasury, and their priority"},
    "discuss_products": {"zh": "围绕已确认的需求讨论产品方案、价格和实施安排",
                         "en": "Discuss the product solution, pricing and implementation for the confirmed needs"},
}

OPENINGS: dict[str, Text] = {
    "establish_contact": {"zh": "先感谢对方抽时间，简要介绍本行在{industry}行业服务同类企业的经验，再请对方谈谈企业今年的经营重点。",
                          "en": "Thank them for their time, briefly present our experience with similar {industry} companies, then ask about this year's business priorities."},
    "understand_needs": {"zh": "从企业近期的经营动态切入，请对方谈谈资金安排上最费心的事情。",
                         "en": "Start from the company's recent business news and ask what takes the most effort in managing its money."},
    "discuss_products": {"zh": "先复述上次确认的需求，请对方确认没有变化，再展开方案。",
                         "en": "Play back the needs confirmed last time, check nothing has changed, then present the solution."},
}
DEFAULT_OPENING: Text = {"zh": "先回顾上次会谈的共识和客户关心的问题，再说明本次来访想谈的内容，征得对方同意后展开。",
                         "en": "Recap what was agreed last time and the customer's concerns, say what this visit is for, and go on once they agree."}

NEED_TITLES: dict[str, Text] = {
    "financing": {"zh": "融资：降低融资成本、提高资金使用效率", "en": "Financing: lower funding cost, use money more efficiently"},
    "purchasing": {"zh": "采购：降低支付和采购成本、延缓现金流出", "en": "Purchasing: lower payment and purchase costs, pay out later"},
    "sales": {"zh": "销售：加快回款、提高销售质量", "en": "Sales: collect faster, sell on better terms"},
    "treasury": {"zh": "理财：让闲置资金增值", "en": "Treasury: earn a return on idle funds"},
}

QUESTIONS: dict[str, tuple[Text, Text]] = {
    "financing": ({"zh": "贵行的方案能比我们现在的融资成本低多少？", "en": "How much cheaper than our current funding is your solution?"},
                  {"zh": "先了解现有融资的结构、期限和成本，回行后用产品组合做对比测算，不当场承诺利率。",
                   "en": "Learn the structure, terms and cost of current funding, then compare with a product bundle back at the bank; do not promise a rate on the spot."}),
    "purchasing": ({"zh": "供应链融资对我们的供应商有什么要求？", "en": "What does supply-chain finance ask of our suppliers?"},
                   {"zh": "以贵司的信用和真实交易为基础，供应商提供合同和发票即可融资，不增加贵司负债。",
                    "en": "It rests on your credit and real trades: suppliers finance with the contract and invoice, without adding to your debt."}),
    "sales": ({"zh": "保理或买方信贷会不会影响我们和客户的关系？", "en": "Will factoring or buyer's credit affect our relationship with our customers?"},
              {"zh": "说明流程对买方透明、手续简单，并举同行业使用案例；经销商模式可改用票据融资。",
               "en": "Explain that the process is transparent and light for buyers, with cases from the same industry; with distributors, bill financing fits better."}),
    "treasury": ({"zh": "闲置资金放在贵行收益多少？要用钱时能随时取出吗？", "en": "What would idle funds earn with you, and can we take the money out when needed?"},
                 {"zh": "按资金可闲置的期限分层配置，活期部分保证流动性，其余部分配置收益更高的产品，并给出测算。",
                  "en": "Split the funds by how long they can stay idle: keep a liquid part, place the rest in higher-yield products, and show the figures."}),
}

GENERIC_QA: tuple[Text, Text] = (
    {"zh": "贵行的审批要多长时间？", "en": "How long does your approval take?"},
    {"zh": "说明审批流程和一般时限，当场列出需要客户准备的资料清单，资料齐全后主动跟进进度。",
     "en": "Explain the approval path and usual timing, list the documents the customer must prepare, and chase progress once they are in."},
)

OTHER_BANK_OBJECTION: tuple[Text, Text] = (
    {"zh": "我们和{bank}合作多年，暂时没有换银行的打算。", "en": "We have worked with {bank} for years and have no plan to change banks."},
    {"zh": "不要求替换，建议先在对方覆盖不到或做得不够好的一项业务上试合作，用服务效果说话；不贬低同业。",
     "en": "Do not ask them to switch: propose a trial on one service {bank} does not cover well, and let the results speak; never run down the other bank."},
)

OPPONENT_OBJECTION: tuple[Text, Text] = (
    {"zh": "{name}（{title}）对与本行合作持保留态度。", "en": "{name} ({title}) has reservations about working with us."},
    {"zh": "会前弄清其顾虑的真实原因，准备针对性的材料，必要时请支持本行的人引荐单独沟通。",
     "en": "Find the real reason for the concern before the meeting, bring material that answers it, and if needed ask a supporter to arrange a one-to-one talk."},
)

MATERIALS: dict[str, list[Text]] = {
    "always": [{"zh": "本行简介及服务团队名片", "en": "Bank introduction and the service team's cards"}],
    "financing": [{"zh": "融资产品组合方案及成本测算表", "en": "Financing bundle and cost comparison"}],
    "purchasing": [{"zh": "供应链融资方案介绍及同业案例", "en": "Supply-chain finance brochure and peer cases"}],
    "sales": [{"zh": "保理、买方信贷及票据融资产品说明", "en": "Factoring, buyer's credit and bill financing sheets"}],
    "treasury": [{"zh": "对公理财产品说明及收益测算", "en": "Corporate investment products and yield illustration"}],
}

LABELS: dict[str, Text] = {
    "heading": {"zh": "客户拜访计划", "en": "Customer visit plan"},
    "customer": {"zh": "客户名称", "en": "Customer"},
    "contact": {"zh": "拜访对象", "en": "Meeting with"},
    "date": {"zh": "拜访日期", "en": "Date"},
    "theme": {"zh": "会谈主题", "en": "Meeting theme"},
    "goal": {"zh": "此次拜访准备达到的目标", "en": "Goal of this visit"},
    "needs": {"zh": "客户可能需要的服务", "en": "Services the customer may need"},
    "products": {"zh": "银行准备提供的产品", "en": "Products to offer"},
    "materials": {"zh": "拟介绍的情况及宣传资料", "en": "What to present and material to bring"},
    "opening": {"zh": "拜访开始的策略", "en": "Opening"},
    "questions": {"zh": "客户可能提出的问题及解答", "en": "Questions the customer may ask, and answers"},
    "objections": {"zh": "可能出现的异议及对策", "en": "Likely objections and responses"},
    "unknown": {"zh": "待定", "en": "to be decided"},
    "answer": {"zh": "答", "en": "A"},
    "response": {"zh": "对策", "en": "Response"},
}


def _both(text: Text, **values: str) -> Text:
    return {lang: s.format(**{k: _text(v, lang) if isinstance(v, dict) else v for k, v in values.items()})
            for lang, s in text.items()}


def _section(facts: dict[str, Any], *path: str) -> Any:
    node: Any = facts
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def build_plan(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any]) -> dict[str, Any]:
    """The plan as JSON-like data (texts as {zh, en}, or as the account manager wrote them)."""
    visit = _section(facts, "bank", "visit") or {}
    account = facts.get("account") if isinstance(facts.get("account"), dict) else {}
    theme_id = visit.get("theme") if visit.get("theme") in THEMES else params.get("theme", "understand_needs")
    industry = account.get("industry") or {"zh": "同", "en": "its"}

    needs = []
    for need in _list(_section(facts, "bank", "needs")):
        if isinstance(need, dict) and need.get("kind") in NEED_TITLES:
            needs.append({"kind": need["kind"], "title": NEED_TITLES[need["kind"]], "detail": need.get("text")})
    kinds = [n["kind"] for n in needs]

    chosen = _list(_section(facts, "bank", "tactics", "products"))
    if chosen:
        products = [{"product": p, "why": None} for p in chosen]
    else:
        products = [{"product": o.get("advice"), "why": o.get("label")}
                    for o in outcomes(derived.get(params.get("products_table", "product_suggestions")))
                    if o.get("row") != "default" and o.get("advice") is not None]

    materials = _list(visit.get("materials")) or [
        *MATERIALS["always"], *(m for k in dict.fromkeys(kinds) for m in MATERIALS[k])]

    questions = [{"question": q.get("question"), "answer": q.get("answer")}
                 for q in _list(visit.get("questions")) if isinstance(q, dict)]
    if not questions:
        questions = [{"question": QUESTIONS[k][0], "answer": QUESTIONS[k][1]} for k in dict.fromkeys(kinds)]
        questions.append({"question": GENERIC_QA[0], "answer": GENERIC_QA[1]})

    objections = [{"objection": o.get("objection"), "response": o.get("response")}
                  for o in _list(visit.get("objections")) if isinstance(o, dict)]
    if not objections:
        for bank in _list(facts.get("competitors")):
            if isinstance(bank, dict) and bank.get("name"):
                objections.append({"objection": _both(OTHER_BANK_OBJECTION[0], bank=bank["name"]),
                                   "response": _both(OTHER_BANK_OBJECTION[1], bank=bank["name"])})
        for person in _list(facts.get("stakeholders")):
            if isinstance(person, dict) and person.get("attitude") == "oppose":
                title = person.get("title") or person.get("role") or ""
                objections.append({"objection": _both(OPPONENT_OBJECTION[0], name=str(person.get("name")), title=title),
                                   "response": OPPONENT_OBJECTION[1]})

    return {
        "customer": account.get("name"),
        "contact": visit.get("contact"),
        "date": visit.get("date"),
        "theme": {"id": theme_id, "title": THEMES[theme_id]},
        "goal": visit.get("goal") or GOALS[theme_id],
        "needs": needs,
        "products": products,
        "materials": materials,
        "opening": visit.get("opening") or _both(OPENINGS.get(theme_id, DEFAULT_OPENING), industry=industry),
        "questions": questions,
        "objections": objections,
    }


def to_markdown(plan: dict[str, Any], lang: str) -> str:
    def L(key: str) -> str:  # noqa: N802 - a label
        return LABELS[key][lang]

    unknown = L("unknown")
    lines = [f"## {L('heading')}：{plan['customer'] or unknown}" if lang == "zh"
             else f"## {L('heading')}: {plan['customer'] or unknown}", ""]
    sep = "：" if lang == "zh" else ": "
    lines.append(f"- **{L('contact')}**{sep}{_text(plan['contact'], lang) or unknown}")
    lines.append(f"- **{L('date')}**{sep}{plan['date'] or unknown}")
    lines.append(f"- **{L('theme')}**{sep}{_text(plan['theme']['title'], lang)}")
    lines.append(f"- **{L('goal')}**{sep}{_text(plan['goal'], lang)}")
    lines += ["", f"### {L('needs')}"]
    lines += [f"- {_text(n['title'], lang)}" + (f"（{n['detail']}）" if n.get("detail") and lang == "zh"
                                                else f" ({n['detail']})" if n.get("detail") else "")
              for n in plan["needs"]] or [f"- {unknown}"]
    lines += ["", f"### {L('products')}"]
    lines += [f"- {_text(p['product'], lang)}" + (f" — {_text(p['why'], lang)}" if p.get("why") else "")
              for p in plan["products"]] or [f"- {unknown}"]
    lines += ["", f"### {L('materials')}"]
    lines += [f"- {_text(m, lang)}" for m in plan["materials"]]
    lines += ["", f"### {L('opening')}", _text(plan["opening"], lang)]
    lines += ["", f"### {L('questions')}"]
    for i, qa in enumerate(plan["questions"], 1):
        lines.append(f"{i}. {_text(qa['question'], lang)}")
        lines.append(f"   - {L('answer')}{sep}{_text(qa['answer'], lang) or unknown}")
    lines += ["", f"### {L('objections')}"]
    if not plan["objections"]:
        lines.append(f"- {unknown}")
    for i, ob in enumerate(plan["objections"], 1):
        lines.append(f"{i}. {_text(ob['objection'], lang)}")
        lines.append(f"   - {L('response')}{sep}{_text(ob['response'], lang) or unknown}")
    return "\n".join(lines)


def visit_plan(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    plan = build_plan(params, facts, derived)
    return {"markdown": {lang: to_markdown(plan, lang) for lang in ("zh", "en")}, "plan": plan}
