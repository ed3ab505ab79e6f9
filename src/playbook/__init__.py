"""playbook — run declarative, JSON-Schema-validated key-account sales playbooks.

The public API is small: load a playbook, evaluate a case, read the report.

    from playbook import load_playbook, evaluate
    compiled = load_playbook("six-step-sales")
    result = evaluate(compiled, facts, today=date(2026, 3, 1))
    report = result.to_dict(lang="en")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("playbook")
"""Marker for plugin hook implementations: ``@playbook.hookimpl``."""

if TYPE_CHECKING:  # pragma: no cover
    from .engine import evaluate as evaluate
    from .loader import load_playbook as load_playbook

__all__ = ["__version__", "evaluate", "hookimpl", "load_playbook"]


def __getattr__(name: str) -> Any:
    # Lazy re-exports keep `import playbook` (and so plugin imports) cheap.
    if name == "evaluate":
        from .engine import evaluate

        return evaluate
    if name == "load_playbook":
        from .loader import load_playbook

        return load_playbook
    raise AttributeError(name)
