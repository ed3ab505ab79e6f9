"""客户全貌表 — the customer profile sheet (step 1 of the qualification flow)."""

from __future__ import annotations

from typing import Any

from ..facts import get, records
from ..flow import PROFILE_KINDS
from ..texts import label, table, text
from .common import header, header_md, output

TITLE = text("客户全貌表", "Customer profile sheet")
KIND_TITLES = {
    "background": text("背景资料", "Background"),
    "current_use": text("使用现状", "Current use"),
    "organisation": text("组织机构", "Organisation"),
    "personal": text("关键人个人资料", "Key people (personal)"),
    "competitors": text("竞争对手资料", "Competitors"),
}
# Where to look for each kind of data (the sources of customer information).
SOURCES = {
    "background": text("客户网站、公司年报、企业/产品介绍、行业协会、新闻媒体",
                       "the customer's website, annual report, company and product brochures, industry associations, press"),
    "current_use": text("我们的营销和服务人员、知识信息系统、客户的其他供应商",
                        "our sales and service staff, our knowledge systems, the customer's other suppliers"),
    "organisation": text("客户内部的向导、现在及过去的员工、关系企业和人脉",
                         "a coach inside the customer, current and former employees, related companies and personal networks"),
    "personal": text("向导、共同的朋友、行业活动", "the coach, mutual acquaintances, industry events"),
    "competitors": text("客户的客户和伙伴、渠道、咨询调研公司、证券商/银行",
                        "the customer's customers, partners and channels, research firms, brokers and banks"),
}
ACCOUNT_FIELDS = {
    "name": text("客户名称", "Name"), "industry": text("行业", "Industry"), "region": text("区域", "Region"),
    "size": text("规模", "Size"), "tier": text("客户级别", "Tier"), "owner": text("客户经理", "Account manager"),
}


def build(params: dict[str, Any], facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
    facts = facts if isinstance(facts, dict) else {}
    profile = get(facts, "account.profile", {})
    profile = profile if isinstance(profile, dict) else {}
    kinds = {k: profile.get(k) if isinstance(profile.get(k), dict) else None for k in PROFILE_KINDS}
    people = records(facts, "stakeholders")
    rivals = records(facts, "competitors")
    data = {
        "header": header(facts, ctx),
        "account": {f: get(facts, f"account.{f}") for f in ACCOUNT_FIELDS},
        "profile": kinds,
        "missing": [k for k, v in kinds.items() if v is None],
        "stakeholders": [{k: p.get(k) for k in ("name", "title", "department", "role", "level", "attitude",
                                                 "relationship", "influence")} for p in people],
        "competitors": [{k: c.get(k) for k in ("name", "products_in_use", "customer_satisfaction", "relationship")}
                        for c in rivals],
    }

    def render(lang: str) -> str:
        zh = lang == "zh"
        out = [header_md(TITLE, data["header"], lang)]
        out.append(table([text("项目", "Item"), text("内容", "Value")],
                         [[t, label(data["account"][f])] for f, t in ACCOUNT_FIELDS.items()], lang))
        rows = []
        for kind, content in kinds.items():
            if content is None:
                rows.append([KIND_TITLES[kind], text("未收集", "not collected"), SOURCES[kind]])
            else:
                summary = "; ".join(f"{k}: {v}" for k, v in content.items())
                rows.append([KIND_TITLES[kind], summary or text("已建档", "on file"), ""])
        out.append("\n" + table([text("资料类别", "Kind of data"), text("内容", "Content"),
                                 text("缺失时的信息来源", "Where to find it")], rows, lang))
        out.append("\n" + ("**关系图**" if zh else "**Stakeholder map**"))
        out.append(table([text("姓名", "Name"), text("职务", "Title"), text("采购角色", "Role"),
                          text("行政级别", "Level"), text("态度", "Attitude"), text("关系", "Relationship")],
                         [[p["name"], p["title"], label(p["role"]), label(p["level"]), label(p["attitude"]), label(p["relationship"])]
                          for p in data["stakeholders"]], lang))
        out.append("\n" + ("**竞争对手**" if zh else "**Competitors**"))
        out.append(table([text("名称", "Name"), text("在用产品", "Products in use"),
                          text("客户满意度", "Satisfaction"), text("关系", "Relationship")],
                         [[c["name"], c["products_in_use"], label(c["customer_satisfaction"]), label(c["relationship"])]
                          for c in data["competitors"]], lang))
        return "\n".join(out)

    return output("profile", data, render)
