"""Compile a criteria expression to a Python function, through a whitelist of AST nodes.

Only the nodes handled in ``_Generator`` are accepted; everything else (attribute access on
Python objects, lambdas, comprehensions, imports, keywords, slices, f-strings …) is a
``CriteriaSyntaxError`` at load time. Paths become dictionary lookups, so a dotted name can
never reach a Python attribute. Multiplication, powers and ``%`` go through bounded helpers.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import CriteriaSyntaxError
from .runtime import RUNTIME_GLOBALS

MAX_LENGTH = 5_000
MAX_NODES = 1_000
MAX_DEPTH = 40

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

CONSTANT_NAMES = {
    "true": "True",
    "false": "False",
    "null": "None",
    "True": "True",
    "False": "False",
    "None": "None",
}

# Forms whose second argument is evaluated once per list item (item scope).
ITEM_FORMS = {"count", "any", "all", "sum", "min_of", "max_of"}
SPECIAL_FORMS = ITEM_FORMS | {"exists"}

_COMPARE = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_BINARY_PLAIN = {ast.Sub: "-", ast.Div: "/", ast.FloorDiv: "//"}  # MISSING propagates itself
_BINARY_SAFE = {ast.Mult: "_mul", ast.Pow: "_pow", ast.Mod: "_mod", ast.Add: "_add"}


@dataclass(frozen=True)
class FunctionSpec:
    """A function callable from criteria: ``name`` (dotted when from a plugin) and its code.

    When ``needs_context`` is true the function receives the EvalContext as first argument
    (used by ``today()`` and the date functions, so that the date can be pinned).
    """

    name: str
    func: Callable[..., Any]
    needs_context: bool = False
    plugin: str = "core"
    description: str = ""
    handles_missing: bool = False  # receives MISSING itself instead of short-circuiting

    def check_arity(self, count: int) -> str | None:
        try:
            sig = inspect.signature(self.func)
        except (TypeError, ValueError):  # builtins without a signature
            return None
        args = ["ctx"] * self.needs_context + ["x"] * count
        try:
            sig.bind(*args)
        except TypeError:
            params = list(sig.parameters.values())[int(self.needs_context) :]
            names = ", ".join(p.name for p in params)
            return f"{self.name}() takes ({names}), got {count} argument(s)"
        return None


@dataclass
class CompiledExpression:
    """A compiled criteria expression: ``fn(facts, derived, ctx)`` returns its value.

    Expressions of one playbook are compiled together (one ``compile()`` call for all of them:
    Python's compiler costs ~0.5 ms per call, which dominated a one-case check's start-up);
    ``fn`` is bound when its batch is flushed, at the latest on first access.
    """

    text: str
    paths: list[tuple[Any, ...]] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    source: str = ""
    guarded: list[tuple[Any, ...]] = field(default_factory=list)
    body: str = ""  # the expression's generated code (used to fuse a playbook's criteria)
    _fn: Callable[[dict[str, Any], dict[str, Any], Any], Any] | None = None
    _batch: CompileBatch | None = None

    @property
    def fn(self) -> Callable[[dict[str, Any], dict[str, Any], Any], Any]:
        if self._fn is None:
            assert self._batch is not None
            self._batch.flush()
        assert self._fn is not None
        return self._fn

    def __call__(self, facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> Any:
        return self.fn(facts, derived, ctx)


def _column(text: str, node: ast.AST, lead: int = 0) -> int:
    offset = getattr(node, "col_offset", 0) or 0  # UTF-8 bytes into the keyword-escaped text
    chars = len(_escape_keywords(text).encode("utf-8")[:offset].decode("utf-8", "ignore"))
    return _unescaped_offset(text, chars) + 1 + lead


def _unescaped_offset(text: str, offset: int) -> int:
    """A character offset into ``_escape_keywords(text)`` -> the same place in ``text``."""
    import keyword

    escaped = _escape_keywords(text)
    if escaped == text:
        return offset
    renamed = re.findall(r"\.\s*" + _KEYWORD_PREFIX + r"(?:" + "|".join(keyword.kwlist) + r")\b", escaped[:offset])
    return max(offset - len(renamed) * len(_KEYWORD_PREFIX), 0)


class _Generator:
    def __init__(self, text: str, functions: Mapping[str, FunctionSpec], lead: int = 0, prefix: str = ""):
        self.text = text
        self.lead = lead
        self.prefix = prefix
        self.functions = functions
        self.helpers: list[str] = []
        self.bound: dict[str, Any] = {}
        self.paths: list[tuple[Any, ...]] = []
        self.used_functions: list[str] = []
        self.guarded: list[tuple[Any, ...]] = []  # paths tested by exists(): optional facts
        self.scopes: list[str] = []  # item variables, innermost last
        self.temps = 0
        self.nested_forms = False  # a nested count/any/… was generated inside the current form
        self.lenient = False  # inside exists(): fields of non-mappings are absent, not errors
        self.as_any = False  # `count(l, c) >= 1` is compiled as any(): it stops at the first match
        self.negate_any = False  # `count(l, c) == 0` is compiled as not any()

    def fail(self, message: str, node: ast.AST | None) -> CriteriaSyntaxError:
        column = _column(self.text, node, self.lead) if node else None
        return CriteriaSyntaxError(message, " " * self.lead + self.text, column)

    # -- helpers ---------------------------------------------------------------------------
    def _params(self) -> str:
        return ", ".join(["f", "d", "ctx", *self.scopes])

    def _helper(self, body: list[str]) -> str:
        name = f"_{self.prefix}h{len(self.helpers)}"
        lines = [f"def {name}({self._params()}):", *("    " + b for b in body)]
        self.helpers.append("\n".join(lines))
        return name

    def _temp(self) -> str:
        self.temps += 1
        return f"_{self.prefix}t{self.temps}"

    def _bind(self, value: Any, prefix: str) -> str:
        name = f"_{self.prefix}{prefix}{len(self.bound)}"
        self.bound[name] = value
        return name

    # -- nodes -----------------------------------------------------------------------------
    def gen(self, node: ast.AST) -> str:
        method = getattr(self, "gen_" + type(node).__name__, None)
        if method is None:
            raise self.fail(f"{_describe(node)} is not allowed in criteria", node)
        return method(node)

    def gen_Expression(self, node: ast.Expression) -> str:
        return self.gen(node.body)

    def gen_Constant(self, node: ast.Constant) -> str:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
            return repr(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail("number out of range", node)
            return repr(value)
        raise self.fail(f"{type(value).__name__} literals are not allowed", node)

    def gen_List(self, node: ast.List | ast.Tuple) -> str:
        items = [self.gen(e) for e in node.elts]
        if all(isinstance(e, ast.Constant) for e in node.elts):
            return "[" + ", ".join(items) + "]"
        # a list holding a missing fact is itself missing (`[x.missing] != [1]` must not pass)
        return "_lst(" + ", ".join(items) + ")"

    gen_Tuple = gen_List

    def gen_BoolOp(self, node: ast.BoolOp) -> str:
        values = [self.gen(v) for v in node.values]
        if isinstance(node.op, ast.And):  # the first falsy value: MISSING stays MISSING
            return "(" + " and ".join(values) + ")"
        # `or`: one true side is enough; when none is true and a side was missing, the result
        # is missing, not the last false value (else `not (x.missing or y.false)` would pass).
        temps = [self._temp() for _ in values]
        chain = [f"({t} := {v})" for t, v in zip(temps, values, strict=True)]
        any_missing = " or ".join(f"{t} is _MISSING" for t in temps[:-1])
        return "(" + " or ".join(chain) + f" or (_MISSING if {any_missing} else {temps[-1]}))"

    def gen_UnaryOp(self, node: ast.UnaryOp) -> str:
        # `not missing` must stay missing (falsy), so `not` goes through a helper.
        ops = {ast.Not: "_not", ast.USub: "_neg", ast.UAdd: "_pos"}
        op = ops.get(type(node.op))
        if op is None:
            raise self.fail(f"operator {_describe(node.op)} is not allowed", node)
        return f"{op}({self.gen(node.operand)})"

    def gen_BinOp(self, node: ast.BinOp) -> str:
        left, right = self.gen(node.left), self.gen(node.right)
        if type(node.op) in _BINARY_PLAIN:
            return f"({left} {_BINARY_PLAIN[type(node.op)]} {right})"
        if type(node.op) in _BINARY_SAFE:
            return f"{_BINARY_SAFE[type(node.op)]}({left}, {right})"
        raise self.fail(f"operator {_describe(node.op)} is not allowed", node)

    def gen_Compare(self, node: ast.Compare) -> str:
        shortcut = self._count_shortcut(node)
        if shortcut is not None:
            return shortcut
        parts = [self.gen(node.left)]
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            symbol = _COMPARE.get(type(op))
            if symbol is None:  # `is` / `is not`
                raise self.fail(
                    f"operator {_describe(op)} is not allowed (use == null / exists())", node
                )
            is_list = symbol in ("in", "not in") and isinstance(comparator, (ast.List, ast.Tuple))
            right = "" if is_list else self.gen(comparator)
            if symbol in ("in", "not in"):
                if len(node.ops) > 1:
                    raise self.fail("'in' cannot be chained with other comparisons; use and", node)
                # membership must not turn a missing fact into a pass (`x not in list`)
                if isinstance(comparator, (ast.List, ast.Tuple)):  # a tuple: missing items kept
                    elts = [self.gen(e) for e in comparator.elts]
                    right = "(" + ", ".join(elts) + ("," if len(elts) == 1 else "") + ")"
                    if symbol == "in" and all(isinstance(e, ast.Constant) for e in comparator.elts):
                        # constants only: a tuple test, no helper call; a missing item stays
                        # missing (else `not (x.missing in [...])` would pass)
                        t = self._temp()
                        return f"(_MISSING if ({t} := {parts[0]}) is _MISSING else {t} in {right})"
                helper = "_in" if symbol == "in" else "_nin"
                return f"{helper}({parts[0]}, {right})"
            parts += [symbol, right]
        return "(" + " ".join(parts) + ")"

    def _count_shortcut(self, node: ast.Compare) -> str | None:
        """``count(l, c) >= 1`` / ``> 0`` -> any(); ``== 0`` / ``< 1`` -> not any(): same truth
        value (and MISSING when the list is missing), but the scan stops at the first match."""
        left = node.left
        if not (len(node.ops) == 1 and isinstance(left, ast.Call) and isinstance(left.func, ast.Name)
                and left.func.id == "count" and len(left.args) == 2 and not left.keywords):
            return None
        right = node.comparators[0]
        if not (isinstance(right, ast.Constant) and type(right.value) is int):
            return None
        op, value = type(node.ops[0]), right.value
        if (op is ast.GtE and value == 1) or (op is ast.Gt and value == 0):
            self.as_any = True
        elif (op is ast.Eq and value == 0) or (op is ast.Lt and value == 1):
            self.negate_any = True
        else:
            return None
        return self.gen(left)

    def gen_IfExp(self, node: ast.IfExp) -> str:
        t = self._temp()
        test = self.gen(node.test)
        return (f"(_MISSING if ({t} := {test}) is _MISSING else "
                f"({self.gen(node.body)} if {t} else {self.gen(node.orelse)}))")

    def gen_Name(self, node: ast.Name) -> str:
        return self._path(node)

    def gen_Attribute(self, node: ast.Attribute) -> str:
        return self._path(node)

    def gen_Subscript(self, node: ast.Subscript) -> str:
        return self._path(node)

    def _check_name(self, name: str, node: ast.AST) -> None:
        if name.startswith("__"):
            raise self.fail(f"names starting with '__' are not allowed: {name!r}", node)

    def _path(self, node: ast.AST) -> str:
        """Dotted names and indexes -> dictionary/list lookups on the case."""
        chain: list[Any] = []
        cur = node
        while True:
            if isinstance(cur, ast.Attribute):
                attr = _unescape_keyword(cur.attr)
                if attr == cur.attr:
                    self._check_name(cur.attr, cur)
                chain.append(("key", attr))
                cur = cur.value
            elif isinstance(cur, ast.Subscript):
                index = cur.slice
                if isinstance(index, ast.Slice):
                    raise self.fail("slices are not allowed", cur)
                if isinstance(index, ast.Constant) and isinstance(index.value, (str, int)) and not isinstance(index.value, bool):
                    chain.append(("key", index.value))
                else:
                    chain.append(("expr", self.gen(index)))
                cur = cur.value
            else:
                break
        chain.reverse()
        if isinstance(cur, ast.Name):
            self._check_name(cur.id, cur)
            base_code, path = self._base(cur, bool(chain))
        else:
            base_code, path = self.gen(cur), None
        code = base_code
        for kind, value in chain:
            if kind == "key" and isinstance(value, str):
                # A missing or null parent gives an empty mapping, so the field is MISSING
                # (no exception on the hot path); a parent that is not a mapping is an error.
                if self.lenient:  # inside exists(): a parent that is not a mapping -> absent
                    t = self._temp()
                    code = f"({t} if _type({t} := {code}) is _dict else _E).get({value!r}, _MISSING)"
                else:
                    code = f"({code} or _E).get({value!r}, _MISSING)"
                if path is not None:
                    path = (*path, value)
            elif kind == "key":
                code = f"_ix({code}, {value!r})"
                if path is not None:
                    path = (*path, value)
            else:
                code = f"_ix({code}, {value})"
                path = None
        if path is not None and path != ("derived",) and path not in self.paths:
            self.paths.append(path)
        return code

    def _base(self, node: ast.Name, has_chain: bool) -> tuple[str, tuple[Any, ...] | None]:
        name = node.id
        if name in CONSTANT_NAMES:
            if has_chain:
                raise self.fail(f"{name} has no fields", node)
            return CONSTANT_NAMES[name], None
        if name == "it":
            if not self.scopes:
                raise self.fail("'it' is only defined inside count/any/all/sum(list, …)", node)
            return self.scopes[-1], None
        if name == "derived" and not self.scopes:
            return "d", ("derived",)
        if not self.scopes:
            return f"f.get({name!r}, _MISSING)", (name,)
        # Inside an item scope: the innermost item that has the key wins, then the case.
        # (`.get` with the outer lookup as default: one C call per level, no branches.)
        code = "d" if name == "derived" else f"f.get({name!r}, _MISSING)"
        for var in self.scopes:  # items that are not mappings (texts, numbers) have no fields
            code = f"({var}.get({name!r}, {code}) if _type({var}) is _dict else {code})"
        return code, None

    def gen_Call(self, node: ast.Call) -> str:
        name = _dotted(node.func)
        if name is None:
            raise self.fail("only named functions can be called", node)
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments", node)
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail("*arguments are not allowed", node)
        if name == "exists":
            return self._exists(node)
        if name in ITEM_FORMS:
            return self._item_form(name, node)
        spec = self.functions.get(name)
        if spec is None:
            raise self.fail(f"unknown function {name!r}", node)
        problem = spec.check_arity(len(node.args))
        if problem:
            raise self.fail(problem, node)
        if name not in self.used_functions:
            self.used_functions.append(name)
        fn = self._bind(spec.func, "f")
        args = [self.gen(a) for a in node.args]
        if spec.needs_context:
            args.insert(0, "ctx")
        if spec.handles_missing or not node.args:
            return f"{fn}({', '.join(args)})"
        if len(node.args) == 1:  # the common case, without the _call indirection
            t = self._temp()
            call_args = ", ".join([*(["ctx"] if spec.needs_context else []), t])
            return f"(_MISSING if ({t} := {args[-1]}) is _MISSING else {fn}({call_args}))"
        # a missing argument makes the call's value missing (the function never sees it)
        return f"_call({fn}, {', '.join(args)})"

    def _exists(self, node: ast.Call) -> str:
        if len(node.args) != 1:
            raise self.fail("exists() takes one path", node)
        before = len(self.paths)
        lenient, self.lenient = self.lenient, True
        try:
            inner = self.gen(node.args[0])
        finally:
            self.lenient = lenient
        for path in self.paths[before:]:
            if path not in self.guarded:
                self.guarded.append(path)
        if not self.scopes and isinstance(node.args[0], (ast.Name, ast.Attribute, ast.Subscript)):
            path = _static_path(node.args[0])
            if path is not None and path not in self.guarded:
                self.guarded.append(path)
        t = self._temp()
        return f"(({t} := {inner}) is not _MISSING and {t} is not None)"

    def _item_form(self, name: str, node: ast.Call) -> str:
        args = node.args
        if not 1 <= len(args) <= 2 or (name in ("min_of", "max_of") and len(args) != 2):
            usage = f"{name}(list, condition)" if name in ("count", "any", "all") else f"{name}(list, expression)"
            raise self.fail(f"{name}() is used as {usage}", node)
        as_any, negate_any = self.as_any, self.negate_any  # set by _count_shortcut for this call
        self.as_any = self.negate_any = False
        t = self._temp()
        source = self.gen(args[0])
        guard = f"_MISSING if ({t} := {source}) is _MISSING else "
        if self.scopes:  # nested: each pass is charged to the outermost form's visit budget
            self.nested_forms = True
            seq = f"_seqn({t})"
        else:  # a list is used as is (no call); anything else goes through the checks
            seq = f"({t} if _type({t}) is _list else _seq({t}))"
            outer_nested, self.nested_forms = self.nested_forms, False
        if len(args) == 1:
            return "(" + guard + {
                "count": f"_len({seq})",
                "any": f"_any({seq})",
                "all": f"_all({seq})",
                "sum": f"_agg_sum({seq})",
            }[name] + ")"
        if len(self.scopes) >= 5:
            raise self.fail("lists nested too deeply (at most 5 levels)", node)
        var = f"_i{len(self.scopes) + 1}"
        top = not self.scopes
        self.scopes.append(var)
        try:
            body = self.gen(args[1])
            if top:
                if self.nested_forms:  # start this form's budget of nested item visits
                    seq = f"_seq({t})"
                self.nested_forms = outer_nested
            if name in ("count", "any", "all"):
                # Inlined into the loop (no call per item). A missing field gives MISSING, which
                # is falsy: the item does not match. Items must be mappings to have fields.
                cond = f"({body})"
                if negate_any:
                    return f"({guard}_not(_any({cond} for {var} in {seq})))"
                if name == "count" and as_any:
                    return f"({guard}_any({cond} for {var} in {seq}))"
                if name == "count":
                    return f"({guard}_sum(1 for {var} in {seq} if {cond}))"
                return f"({guard}_{name}({cond} for {var} in {seq}))"
            else:
                helper = self._helper(
                    ["try:", f"    _v = {body}", "except _MISS:", "    return _SKIP",
                     "return _SKIP if _v is _MISSING or _v is None else _v"]
                )
            call = f"{helper}({self._params()})"
        finally:
            self.scopes.pop()
        loop = f"{call} for {var} in {seq}"
        if name == "count":
            return f"({guard}_sum(1 for {var} in {seq} if {call}))"
        return "(" + guard + {
            "any": f"_any({loop})",
            "all": f"_all({loop})",
            "sum": f"_agg_sum({loop})",
            "min_of": f"_agg_min({loop})",
            "max_of": f"_agg_max({loop})",
        }[name] + ")"


def _static_path(node: ast.AST) -> tuple[Any, ...] | None:
    parts: list[Any] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(_unescape_keyword(node.attr))
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            parts.append(node.slice.value)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return tuple(reversed(parts))
        else:
            return None


_KEYWORD_PREFIX = "_kw_"


def _escape_keywords(text: str) -> str:
    """``derived.man.class`` is not valid Python: rename keywords used as field names.

    A keyword right after a ``.`` (outside string literals) is a field name (``meeting.from``,
    ``man.class``); it is renamed to ``_kw_<keyword>`` for the parser and mapped back by the
    generator. A small scanner rather than ``tokenize``, whose import alone costs ~5 ms.
    """
    import keyword

    if "." not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":  # skip a string literal (escapes included)
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
            continue
        if ch == "." and not (i + 1 < n and text[i + 1].isdigit()) and not (i > 0 and text[i - 1].isdigit()):
            j = i + 1
            while j < n and text[j] == " ":
                j += 1
            k = j
            while k < n and (text[k].isalnum() or text[k] == "_"):
                k += 1
            word = text[j:k]
            if word and keyword.iskeyword(word):
                out.append(text[i:j] + _KEYWORD_PREFIX + word)
                i = k
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _unescape_keyword(name: str) -> str:
    import keyword

    if name.startswith(_KEYWORD_PREFIX) and keyword.iskeyword(name[len(_KEYWORD_PREFIX):]):
        return name[len(_KEYWORD_PREFIX):]
    return name


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _describe(node: ast.AST) -> str:
    names = {
        "Lambda": "lambda",
        "ListComp": "a list comprehension",
        "GeneratorExp": "a generator expression",
        "DictComp": "a dict comprehension",
        "SetComp": "a set comprehension",
        "Dict": "a mapping literal",
        "Set": "a set literal",
        "JoinedStr": "an f-string",
        "NamedExpr": "':='",
        "Starred": "'*'",
        "Await": "await",
        "Yield": "yield",
        "Is": "'is'",
        "IsNot": "'is not'",
        "BitAnd": "'&'",
        "BitOr": "'|'",
        "BitXor": "'^'",
        "LShift": "'<<'",
        "RShift": "'>>'",
        "Invert": "'~'",
        "MatMult": "'@'",
    }
    return names.get(type(node).__name__, type(node).__name__)


def _count_nodes(tree: ast.AST, text: str, lead: int) -> None:
    count = 0

    def depth(node: ast.AST, level: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise CriteriaSyntaxError(f"expression too complex (more than {MAX_NODES} parts)", text)
        if level > MAX_DEPTH:
            raise CriteriaSyntaxError(
                f"expression nested too deeply (more than {MAX_DEPTH})", text, _column(text, node, lead)
            )
        for child in ast.iter_child_nodes(node):
            depth(child, level + 1)

    depth(tree, 0)


def parse(text: str) -> tuple[ast.Expression, str, int]:
    """Parse to an AST; returns (tree, the text as parsed, leading characters stripped)."""
    if not isinstance(text, str) or not text.strip():
        raise CriteriaSyntaxError("empty expression", str(text))
    if len(text) > MAX_LENGTH:
        raise CriteriaSyntaxError(f"expression longer than {MAX_LENGTH} characters", text[:60] + "…")
    flat = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    parsed = flat.lstrip()
    lead = len(flat) - len(parsed)
    try:
        tree = ast.parse(_escape_keywords(parsed), mode="eval")
    except SyntaxError as exc:
        end = len(parsed.rstrip()) + 1  # Python gives no offset when the text ends too early (`x ==`)
        offset = min(_unescaped_offset(parsed, exc.offset - 1) + 1, end) if exc.offset else end
        raise CriteriaSyntaxError(f"syntax error: {exc.msg}", text, offset + lead) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise CriteriaSyntaxError(f"cannot parse: {type(exc).__name__}", text) from None
    _count_nodes(tree, parsed, lead)
    return tree, parsed, lead


class CompileBatch:
    """Collects generated expressions and compiles them in one go."""

    def __init__(self, functions: Mapping[str, FunctionSpec]):
        self.functions = functions
        self.namespace: dict[str, Any] = dict(RUNTIME_GLOBALS)  # shared: fused code calls helpers
        self.pending: list[tuple[CompiledExpression, str, dict[str, Any]]] = []
        self.count = 0

    def add(self, text: str) -> CompiledExpression:
        """Check and generate ``text`` now (errors are raised here); compile it later."""
        tree, parsed, lead = parse(text)
        prefix = f"e{self.count}_"
        self.count += 1
        generator = _Generator(parsed, self.functions, lead, prefix)
        try:
            body = generator.gen(tree)
        except RecursionError:
            raise CriteriaSyntaxError("expression nested too deeply", text) from None
        source = "\n\n".join([*generator.helpers, f"def _{prefix}main(f, d, ctx):\n    return {body}"])
        expr = CompiledExpression(text=text, paths=generator.paths, functions=generator.used_functions,
                                  source=source, guarded=generator.guarded, body=body, _batch=self)
        self.pending.append((expr, f"_{prefix}main", generator.bound))
        return expr

    def fuse(self, items: list[Any]) -> Callable[..., None]:
        """One function evaluating every item into ``out[i]``: a CompiledExpression of this
        batch (inlined) or a callable ``(facts, derived, ctx)`` (a plugin rule). Each item has
        its own try block, so one failing criterion never hides another; no call per
        criterion on the hot path."""
        name = f"_fused{self.count}"
        self.count += 1
        lines = [f"def {name}(f, d, ctx, out):"]
        bound: dict[str, Any] = {}
        for i, item in enumerate(items):
            if isinstance(item, CompiledExpression) and item._batch is self and item.body:
                code = item.body
            else:
                ref = f"_{name}_r{i}"
                bound[ref] = item
                code = f"{ref}(f, d, ctx)"
            lines += ["    try:", f"        out[{i}] = {code}", "    except _Exception as _exc:",
                      f"        out[{i}] = _Failure(_exc)"]
        if not items:
            lines.append("    pass")
        holder = CompiledExpression(text="<fused>", source="\n".join(lines), _batch=self)
        self.pending.append((holder, name, bound))
        self.flush()
        assert holder._fn is not None
        return holder._fn

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        namespace = self.namespace
        for _expr, _name, bound in pending:
            namespace.update(bound)
        source = "\n\n".join(expr.source for expr, _name, _bound in pending)
        try:
            code = compile(source, "<criteria>", "exec")
        except (SyntaxError, RecursionError, MemoryError) as exc:  # pragma: no cover - defensive
            raise CriteriaSyntaxError(f"cannot compile: {type(exc).__name__}", pending[0][0].text) from None
        exec(code, namespace)  # noqa: S102 - source generated from whitelisted nodes only
        for expr, name, _bound in pending:
            expr._fn = namespace[name]


def compile_expression(text: str, functions: Mapping[str, FunctionSpec]) -> CompiledExpression:
    """Compile ``text``; raises CriteriaSyntaxError (with a 1-based column) when it is not valid."""
    batch = CompileBatch(functions)
    expr = batch.add(text)
    batch.flush()
    return expr
