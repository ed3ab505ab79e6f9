"""The 37 criteria of ``bench-sales.yaml`` as durable_rules used directly: one ruleset, one rule
per criterion, one session, one asserted fact per case (unique ``id``; durable_rules caps a
ruleset at 1024 sessions, so a session per case is not an option).

durable_rules conditions cannot count (``>= 2``), measure list lengths or do date arithmetic;
those few inputs are computed in Python into ``h_*`` helper fields before the fact is asserted,
and that time is included. Each firing rule sets the criterion's bit for the case; the stage
is inferred from the bits as in ``baseline.check``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from baseline import stages

PRIORITY = None  # set in build(): the durable "item" conditions for priority in (high, medium, low)


def helpers(case: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """What durable_rules conditions cannot express, computed per case."""
    fact = dict(case)
    stakeholders = case.get("stakeholders")
    if isinstance(stakeholders, list):
        fact["h_trusted"] = sum(1 for s in stakeholders if s.get("relationship") in ("trust", "alliance"))
        fact["h_opposing"] = sum(1 for s in stakeholders
                                 if s.get("attitude") == "oppose" and s.get("level") in ("executive", "senior"))
    activities = case.get("activities")
    if isinstance(activities, list):
        fact["h_recent"] = any(a.get("type") in ("visit", "meeting")
                               and (today - dt.date.fromisoformat(a["date"])).days <= 30 for a in activities)
    needs = case.get("needs") or {}
    if isinstance(needs.get("purchase_criteria"), list):
        fact["h_pc"] = len(needs["purchase_criteria"])
    if isinstance(needs.get("organisational"), list):
        fact["h_org"] = len(needs["organisational"])
    vp = case.get("value_proposition") or {}
    if isinstance(vp.get("fab"), list):
        fact["h_fab"] = len(vp["fab"])
    if isinstance(vp.get("differentiators"), list):
        fact["h_diff"] = len(vp["differentiators"])
    competitors = case.get("competitors")
    if isinstance(competitors, list):
        fact["h_comp"] = bool(competitors) and all(c.get("strengths") and c.get("weaknesses") for c in competitors)
    service = case.get("service") or {}
    if isinstance(service.get("complaints"), list):
        fact["h_complaints_ok"] = all(c.get("resolved") is True for c in service["complaints"])
    receivables = case.get("receivables")
    if isinstance(receivables, list):
        fact["h_recv_ok"] = not any(r.get("days_overdue", 0) > 90 and r.get("amount", 0) >= 100000 for r in receivables)
    return fact


class DurableChecker:
    def __init__(self, name: str = "bench_sales"):
        from durable.lang import item, m, ruleset, when_all

        self.name = name
        bits: dict[Any, int] = {}
        self.bits = bits

        def rule(index: int, condition: Any) -> None:
            def action(c: Any) -> None:
                cid = c.m.cid
                bits[cid] = bits.get(cid, 0) | (1 << index)

            action.__name__ = f"c{index}"
            when_all(condition)(action)

        def in_(expr: Any, values: tuple[str, ...]) -> Any:
            cond = expr == values[0]
            for v in values[1:]:
                cond = cond | (expr == v)
            return cond

        o, s = m.opportunity, m.stakeholders
        trusted = in_(item.relationship, ("trust", "alliance"))
        prio = in_(item.priority, ("high", "medium", "low"))
        with ruleset(name):
            rule(0, m.account.is_target == True)  # noqa: E712 - durable_rules DSL
            rule(1, (o.identified == True) & (o.need_clear == True))  # noqa: E712
            rule(2, s.anyItem(item.is_coach == True))  # noqa: E712
            prof = m.account.profile
            rule(3, (+prof.background) & (+prof.current_use) & (+prof.organisation) & (+prof.personal)
                 & (+prof.competitors))
            rule(4, s.anyItem(item.role == "decision_maker"))
            rule(5, o.funded == True)  # noqa: E712
            rule(6, o.amount >= 100000)
            rule(7, o.identified == True)  # noqa: E712
            rule(8, s.anyItem((item.role == "decision_maker") & trusted))
            rule(9, s.anyItem((item.role == "decision_maker")
                              & in_(item.style, ("analytical", "expressive", "amiable", "driver"))))
            rule(10, m.h_trusted >= 2)
            rule(11, m.h_recent == True)  # noqa: E712
            rule(12, s.anyItem(item.is_coach == True))  # noqa: E712
            rule(13, m.h_trusted >= 1)
            rule(14, m.needs.organisational.anyItem(prio) & m.needs.personal.anyItem(prio))
            rule(15, m.h_pc >= 1)
            rule(16, m.needs.organisational.anyItem(item.latent == True))  # noqa: E712
            sp = m.needs.spin
            rule(17, (sp.situation == True) & (sp.problem == True) & (sp.implication == True)  # noqa: E712
                 & (sp.need_payoff == True))  # noqa: E712
            rule(18, o.budget_confirmed == True)  # noqa: E712
            rule(19, m.h_org >= 1)
            rule(20, (o.proposal.presented == True) & (o.proposal.reviewed_by_decision_maker == True))  # noqa: E712
            rule(21, m.h_fab >= 1)
            rule(22, m.h_comp == True)  # noqa: E712
            rule(23, m.h_opposing == 0)
            sec = o.proposal.sections
            rule(24, (sec.background == True) & (sec.problems == True) & (sec.solution == True)  # noqa: E712
                 & (sec.quotation == True) & (sec.credentials == True))  # noqa: E712
            rule(25, m.h_diff >= 1)
            rule(26, o.proposal.presented == True)  # noqa: E712
            rule(27, (o.contract.signed == True) & (+o.contract.date))  # noqa: E712
            n = m.negotiation
            rule(28, (n.team_roles_assigned == True) & (n.interests_mapped == True) & (+n.walk_away_point))  # noqa: E712
            rule(29, o.credit_checked == True)  # noqa: E712
            rule(30, o.contract.signed == True)  # noqa: E712
            rule(31, m.service.satisfaction.score >= 4)
            rule(32, m.service.referral_asked == True)  # noqa: E712
            rule(33, m.service.acceptance.passed == True)  # noqa: E712
            rule(34, m.h_complaints_ok == True)  # noqa: E712
            rule(35, m.h_recv_ok == True)  # noqa: E712
            rule(36, m.service.delivery.on_time == True)  # noqa: E712

    def check(self, case: dict[str, Any], today: dt.date, cid: int) -> tuple[list[bool], bool, int, bool, bool]:
        from durable.engine import MessageNotHandledException
        from durable.lang import assert_fact

        fact = helpers(case, today)
        fact.pop("stage", None)
        fact["id"] = fact["cid"] = cid
        try:
            assert_fact(self.name, fact)
        except MessageNotHandledException:  # no rule matched: every criterion fails
            self.bits.pop(cid, None)
        mask = self.bits.pop(cid, 0)  # the bits set by the rules that fired
        return stages([bool(mask >> i & 1) for i in range(37)])
