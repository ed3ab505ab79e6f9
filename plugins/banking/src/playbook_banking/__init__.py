"""playbook-banking: the banking industry plugin for playbook.

Adds the ``bank-key-account`` playbook (银行大客户营销六步), the project-value scorecard and
A/B/C decision, visit plans, the stakeholder-map derivation, and bank lobby rules merged into
the core ``hall-marketing`` playbook. Everything is registered in :mod:`playbook_banking.plugin`.
"""

from __future__ import annotations

__version__ = "0.1.0"
