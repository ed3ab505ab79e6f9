"""The criteria language: safe Python-like expressions compiled once, evaluated per case.

See docs/playbook-format.md for the language. The pipeline is
``parse`` (Python's ``ast``, then a whitelist) -> ``generate`` (Python source built only from
whitelisted nodes, names validated, constants through ``repr``) -> ``compile`` once.
Per case, a criterion is one call of a plain Python function: no interpretation per case.
"""

from .compiler import CompiledExpression, FunctionSpec, compile_expression
from .runtime import EvalContext, ExpressionLimitError, diagnose

__all__ = [
    "CompiledExpression",
    "EvalContext",
    "ExpressionLimitError",
    "FunctionSpec",
    "compile_expression",
    "diagnose",
]
