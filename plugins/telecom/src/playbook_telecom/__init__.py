"""playbook-telecom: the telecom industry plugin for playbook.

Adds the ``consultative-sales`` playbook (China Mobile consultative selling in five phases:
确认商机 → 主导进程 → 方案论证 → 商务洽谈 → 销售成交) and, all namespaced ``telecom.*``:

- rules ``telecom.qualified`` (the four conditions of a qualified opportunity),
  ``telecom.flow-step`` (the seven qualification steps), ``telecom.need-research`` (need
  research quality), ``telecom.effort-split`` (where the time went), and
  ``telecom.objections-answered`` (open objections block business negotiation);
- the derivation ``telecom.swot-needs`` (SO/WO/ST/WT need strategies);
- actions producing the tools of the qualification flow as sheets (JSON + Markdown, zh/en);
- the function ``telecom.open_objections`` for the criteria language;
- the case-fact schema ``telecom.case``.

Found by playbook through the entry point ``telecom`` in the group ``playbook``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playbook import hookimpl

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent


@hookimpl
def register_rules(register: Any) -> None:
    from . import effort, flow, objections, qualification, research

    register("telecom.qualified", qualification.qualified_rule, schema=qualification.SCHEMA,
             title={"en": "Qualified-opportunity condition", "zh": "合格商机条件"},
             description="one of the four conditions of a qualified opportunity: need, authority, budget, timeline")
    register("telecom.flow-step", flow.flow_step_rule, schema=flow.SCHEMA,
             title={"en": "Qualification flow step", "zh": "确认商机流程步骤"},
             description="one of the seven steps of the qualification flow (profile … project 立项)")
    register("telecom.need-research", research.need_research_rule, schema=research.SCHEMA,
             title={"en": "Need research quality", "zh": "需求调研质量"},
             description="need research is broad, deep, organisational and personal, prioritised, relevant")
    register("telecom.effort-split", effort.effort_rule, schema=effort.SCHEMA, prepare=effort.prepare,
             title={"en": "Effort split by phase", "zh": "各阶段时间分配"},
             description="logged activity hours by phase against the stages' suggested effort")
    register("telecom.objections-answered", objections.objections_answered_rule, schema=objections.SCHEMA,
             title={"en": "Objections answered", "zh": "客户异议已化解"},
             description="every logged objection is answered; explains root cause and response of open ones")


@hookimpl
def register_functions(register: Any) -> None:
    from . import objections

    register("telecom.open_objections", objections.count_open,
             description="telecom.open_objections(objections): how many logged objections are not answered")


@hookimpl
def register_actions(register: Any) -> None:
    from . import sheets

    sheets.register_all(register)


@hookimpl
def register_derivations(register: Any) -> None:
    from . import swot

    register("telecom.swot-needs", swot.derive_swot_needs, schema=swot.SCHEMA,
             description="SO/WO/ST/WT need strategies from the case's SWOT entries")


@hookimpl
def register_schemas(register: Any) -> None:
    register("telecom.case", _HERE / "schemas" / "telecom-case.schema.json")


@hookimpl
def register_playbooks(register: Any) -> None:
    for path in sorted((_HERE / "playbooks").glob("*.yaml")):
        register(path)
