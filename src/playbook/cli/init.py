"""``playbook init``: a new playbook that validates and whose examples pass, to start from."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..errors import PlaybookError

SKELETON = """\
# yaml-language-server: $schema={schema}
# A starting point: three stages with entry and exit criteria, an action and guidance.
# Edit it, then run:  playbook validate {file}  and  playbook test {file}
id: {id}
version: 1
title: {{zh: 新的销售打法, en: New sales playbook}}
description:
  zh: 用一句话说明这个打法适用于什么客户、什么场景。
  en: Say in one sentence which customers and situations this playbook is for.
stages:
  - id: discover
    title: {{zh: 发现机会, en: Discover}}
    goal: {{zh: 确认客户有值得跟进的需求。, en: Confirm the customer has a need worth pursuing.}}
    guidance:
      zh: 先了解客户的业务和当前难题，再判断是否存在明确的销售机会。
      en: Learn the customer's business and current problems, then judge whether there is a clear opportunity.
    entry:
      - id: account-is-target
        title: {{zh: 已锁定目标客户, en: Target account locked}}
        when: "account.is_target"
        hint: {{zh: 请先确认该客户属于目标客户。, en: First confirm the account is a target account.}}
    exit:
      - id: need-confirmed
        title: {{zh: 需求已确认, en: Need confirmed}}
        when: "opportunity.need_clear"
        hint: {{zh: 请与客户确认需求并记录下来。, en: Confirm the need with the customer and record it.}}
    actions:
      - id: discovery-checklist
        title: {{zh: 发现机会清单, en: Discovery checklist}}
        on: enter
        do: checklist
        with:
          items:
            - {{id: profile, text: {{zh: 收集客户基本资料, en: Collect the account profile}}, done: "exists(account.name)"}}
            - {{id: need, text: {{zh: 记录客户需求, en: Record the need}}, done: "opportunity.need_clear"}}
  - id: propose
    title: {{zh: 提交方案, en: Propose}}
    entry:
      - id: budget-confirmed
        title: {{zh: 预算已确认, en: Budget confirmed}}
        when: "opportunity.budget_confirmed"
        hint: {{zh: 请确认客户已有预算。, en: Confirm the customer has a budget.}}
    exit:
      - id: proposal-presented
        title: {{zh: 方案已提交, en: Proposal presented}}
        when: "opportunity.proposal.presented"
        hint: {{zh: 请向决策者提交方案。, en: Present the proposal to the decision maker.}}
  - id: close
    title: {{zh: 成交, en: Close}}
    exit:
      - id: contract-signed
        title: {{zh: 合同已签署, en: Contract signed}}
        when: "opportunity.contract.signed"
        hint: {{zh: 请推动签约。, en: Drive the contract to signature.}}
outcomes:
  - id: lost
    kind: lost
    title: {{zh: 丢单, en: Lost}}
    when: "opportunity.status == 'lost'"
"""

EXAMPLES = {
    "not-entered": ("The account is not a target yet", "discover", False,
                    "account: {{name: Example Co., is_target: false}}\n  opportunity: {{need_clear: false}}"),
    "discover": ("Target account, need not confirmed", "discover", True,
                 "account: {{name: Example Co., is_target: true}}\n  opportunity: {{need_clear: false}}"),
    "propose": ("Need and budget confirmed, no proposal yet", "propose", True,
                "account: {{name: Example Co., is_target: true}}\n"
                "  opportunity: {{need_clear: true, budget_confirmed: true, proposal: {{presented: false}}}}"),
    "close": ("Proposal presented, contract pending", "close", True,
              "account: {{name: Example Co., is_target: true}}\n"
              "  opportunity: {{need_clear: true, budget_confirmed: true, proposal: {{presented: true}}, "
              "contract: {{signed: false}}}}"),
    "complete": ("Contract signed", "close", True,
                 "account: {{name: Example Co., is_target: true}}\n"
                 "  opportunity: {{need_clear: true, budget_confirmed: true, proposal: {{presented: true}}, "
                 "contract: {{signed: true}}, status: won}}"),
}


def _example(name: str, description: str, current: str, entered: bool, facts: str) -> str:
    complete = name == "complete"
    return (
        f"description: {description}\n"
        f"today: '2026-01-15'\n"
        f"case:\n  id: example-{name}\n  {facts.format()}\n"
        f"expect:\n  entered: {str(entered).lower()}\n  current: {current}\n"
        f"  complete: {str(complete).lower()}\n  ready_to_advance: {str(complete).lower()}\n"
    )


@click.command("init")
@click.argument("playbook_id", metavar="ID")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to write ID.yaml and examples/ID/.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init_cmd(playbook_id: str, directory: str, force: bool) -> None:
    """Write a new playbook skeleton ID.yaml and example cases that pass `playbook test`."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", playbook_id):
        raise PlaybookError(f"invalid playbook id {playbook_id!r}: use lowercase letters, digits and hyphens")
    folder = Path(directory)
    target = folder / f"{playbook_id}.yaml"
    examples = folder / "examples" / playbook_id
    outputs = [target, *(examples / f"{name}.yaml" for name in EXAMPLES)]
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not force:
        raise PlaybookError(f"would overwrite {', '.join(existing)} (use --force to replace)")
    from ..resources import data_dir

    schema = (data_dir("schemas") / "playbook.schema.json").resolve().as_uri()
    examples.mkdir(parents=True, exist_ok=True)
    target.write_text(SKELETON.format(id=playbook_id, schema=schema, file=target), encoding="utf-8")
    for name, (description, current, entered, facts) in EXAMPLES.items():
        (examples / f"{name}.yaml").write_text(_example(name, description, current, entered, facts),
                                               encoding="utf-8")
    click.echo(f"wrote {target} and {len(EXAMPLES)} examples in {examples}")
    click.echo(f"next: playbook validate {target} && playbook test {target}")
