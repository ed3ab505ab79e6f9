"""Authoring tools for consultants: lint, diagrams, handbooks and the impact of a change.

Everything here reads a playbook the way the engine does (``playbook.loader``) and never
evaluates anything but the playbook's own compiled expressions against example or portfolio
cases, so the tools see exactly what ``playbook check`` would see.
"""
