"""The plugin's hook implementations: what ``playbook-banking`` adds to the core.

The core finds this module through the entry point ``banking`` in the group ``playbook``
(see pyproject.toml). Every hook receives a ``register`` callback; every name registered here
carries the ``banking.`` prefix so it can never clash with another plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playbook import hookimpl

from . import __version__

HERE = Path(__file__).resolve().parent
PLAYBOOKS = HERE / "playbooks"
SCHEMAS = HERE / "schemas"

__all__ = ["__version__"]


@hookimpl
def register_playbooks(register: Any) -> None:
    # Examples are found beside the file, in playbooks/examples/bank-key-account/.
    register(PLAYBOOKS / "bank-key-account.yaml")


@hookimpl
def register_playbook_extensions(register: Any) -> None:
    # Bank-only lobby rules, merged into the core hall-marketing playbook when it loads.
    register("hall-marketing", PLAYBOOKS / "hall-marketing.banking.yaml")


@hookimpl
def register_schemas(register: Any) -> None:
    register("banking.case", SCHEMAS / "bank-case.schema.json")


@hookimpl
def register_rules(register: Any) -> None:
    from . import rules

    register("banking.grade-at-least", rules.grade_at_least, schema=rules.GRADE_AT_LEAST_SCHEMA,
             title={"zh": "项目评级不低于", "en": "Project grade at least"},
             description="passes when the project decision table's grade is at least `min` (A > B > C)")


@hookimpl
def register_derivations(register: Any) -> None:
    from . import stakeholders

    register("banking.stakeholder-map", stakeholders.stakeholder_map, schema=stakeholders.SCHEMA,
             description="stakeholder map: people by purchase role and attitude, who is not yet mapped")


@hookimpl
def register_actions(register: Any) -> None:
    from . import advice, scorecard_summary, visit_plan

    register("banking.visit-plan", visit_plan.visit_plan, schema=visit_plan.SCHEMA,
             title={"zh": "客户拜访计划", "en": "Customer visit plan"},
             description="a visit plan (goal, needs, products, materials, opening, Q&A, objections, "
                         "theme) generated from the case, as Markdown and JSON")
    register("banking.scorecard-summary", scorecard_summary.scorecard_summary,
             schema=scorecard_summary.SCHEMA,
             title={"zh": "项目价值评分汇总", "en": "Project value scorecard summary"},
             description="a scorecard's dimensions, factors, bands, missing scores and the A/B/C "
                         "decision, as Markdown and JSON")
    register("banking.advice", advice.advice, schema=advice.SCHEMA,
             title={"zh": "建议", "en": "Advice"},
             description="the `label`/`advice` texts of a decision table's outcome(s) for this case")
