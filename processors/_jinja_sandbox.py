"""A Jinja sandbox with a budget: each render has a deadline, a size bound and a cancel flag,
checked wherever a template can spend time or memory (see the `template` processor)."""

from __future__ import annotations

import functools
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

#: The globals a template sees: Jinja's defaults without `lipsum` (CPU on demand), `cycler`
#: and `joiner` (objects whose internals are one more thing to probe, of no use for a row).
GLOBALS = ("range", "dict", "namespace")

#: Largest integer an arithmetic operator may produce, in bits: a `10 ** 10 ** 9` would keep
#: a core busy inside one C call, where no check can reach it.
MAX_INT_BITS = 1 << 16

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class RenderLimit(SecurityError):
    """A render went past one of its node's bounds (time or size): that row fails."""


class RenderCancelled(Exception):
    """The run is stopping (forced stop, a failure elsewhere): the render gives up at once,
    and so does the batch it belongs to."""


class Budget:
    """What one render may spend: until `deadline` (monotonic), `max_chars` characters (and
    elements, for lists and dicts) per value and in its output, while `cancelled` is not set."""

    __slots__ = ("cancelled", "deadline", "max_chars", "timeout")

    def __init__(self, timeout: float, max_chars: int, cancelled: threading.Event | None = None):
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.max_chars = max_chars
        self.cancelled = cancelled

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled.is_set():
            raise RenderCancelled("the run is stopping: render abandoned")
        if time.monotonic() > self.deadline:
            raise RenderLimit(
                f"the render took longer than {self.timeout:g} s (render_timeout_seconds)"
            )

    def size(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise RenderLimit(f"{what} would exceed {self.max_chars} characters (max_output_chars)")


def weight(value: Any, limit: int) -> int:
    """About the size of `value` in characters and elements, containers walked (shared parts
    counted each time they appear, as printing would); stops counting past `limit`."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, range):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 8 + 1
        else:
            total += 1
    return total


def _int_args(args: Iterable[Any]) -> Iterator[int]:
    return (a for a in args if isinstance(a, int) and not isinstance(a, bool))


def _check_printf(budget: Budget, fmt: str, args: Any) -> None:
    """`fmt % args`: widths and precisions, written or passed with `*`, stay in the budget."""
    star = False
    for match in _PRINTF_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                star = True
            elif part is not None:
                budget.size(int(part), f"a width of {part}")
    if star:
        values = args if isinstance(args, tuple) else (args,)
        for n in _int_args(values):
            budget.size(n, f"a width of {n}")
    budget.size(len(fmt) + weight(args, budget.max_chars), "the formatted text")


def _check_format(budget: Budget, fmt: str, args: Iterable[Any]) -> None:
    """`fmt.format(...)`: the same for format specs (`{:>1000}`, `{:{width}}`)."""
    nested = False
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if not spec:
            continue
        nested = nested or "{" in spec
        for digits in _DIGITS.findall(spec):
            budget.size(int(digits), f"a width of {digits}")
    if nested:
        for n in _int_args(args):
            budget.size(n, f"a width of {n}")


def _arg(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any
) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _replaced_size(text: str, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


def _lines(text: str, width: Any) -> int:
    per_line = width if isinstance(width, int) and width > 0 else 1
    return len(text) // per_line + text.count("\n") + 1


class _Prechecks:
    """Operations whose result can be far bigger than their inputs: their size is checked
    before they run (what they return is measured after, like everything else)."""

    @staticmethod
    def str_method(
        budget: Budget, text: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[Any, ...]:
        if name in ("center", "ljust", "rjust", "zfill"):
            width = _arg(args, kwargs, 0, "width", 0)
            if isinstance(width, int):
                budget.size(width, f"{name}({width})")
        elif name == "expandtabs":
            size = _arg(args, kwargs, 0, "tabsize", 8)
            if isinstance(size, int):
                budget.size(len(text) + text.count("\t") * size, "expandtabs()")
        elif name == "replace":
            old, new = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", "")
            count = _arg(args, kwargs, 2, "count", -1)
            budget.size(_replaced_size(text, old, new, count), "replace()")
        elif name == "join" and args:
            items = list(args[0])  # a generator is consumed here, so the call gets the list
            budget.size(
                len(text) * max(0, len(items) - 1) + weight(items, budget.max_chars), "join()"
            )
            args = (items, *args[1:])
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
            budget.size(len(text) * longest, "translate()")
        return args

    @staticmethod
    def filter(
        budget: Budget, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[Any, ...]:
        if not args:
            return args
        value = args[0]
        if name == "attr" and isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()  # the first problem of a chain, not the last
        text = value if isinstance(value, str) else ""
        if name == "center":
            width = _arg(args, kwargs, 1, "width", 80)
            if isinstance(width, int):
                budget.size(width, f"center({width})")
        elif name == "indent":
            width = _arg(args, kwargs, 1, "width", 4)
            pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            budget.size(len(text) + (text.count("\n") + 1) * pad, "indent()")
        elif name == "wordwrap":
            width = _arg(args, kwargs, 1, "width", 79)
            wrap = _arg(args, kwargs, 3, "wrapstring", None)
            glue = len(wrap) if isinstance(wrap, str) else 1
            budget.size(len(text) + _lines(text, width) * glue, "wordwrap()")
        elif name == "replace":
            old, new = _arg(args, kwargs, 1, "old", ""), _arg(args, kwargs, 2, "new", "")
            count = _arg(args, kwargs, 3, "count", None)
            budget.size(_replaced_size(text, old, new, count), "replace")
        elif name == "format" and isinstance(value, str):
            _check_printf(budget, value, kwargs or args[1:])
        elif name == "join":
            items = list(value)
            glue = _arg(args, kwargs, 1, "d", "")
            glue_size = len(glue) if isinstance(glue, str) else 0
            budget.size(
                glue_size * max(0, len(items) - 1) + weight(items, budget.max_chars), "join"
            )
            args = (items, *args[1:])
        elif name in ("batch", "slice"):
            count = _arg(args, kwargs, 1, "linecount" if name == "batch" else "slices", 1)
            if isinstance(count, int):
                budget.size(count, f"{name}({count})")
        elif name == "sum":
            start = _arg(args, kwargs, 2, "start", 0)
            if not isinstance(start, int | float):
                # Adding up lists copies the total each time: quadratic, in one C call.
                raise RenderLimit("sum() adds numbers only (start must be a number)")
        return args


class _GuardNodes(NodeTransformer):
    """Rewrites a parsed template so that loops, `~` and list/tuple/dict literals go through
    the environment (a loop without calls in it would otherwise never meet a check)."""

    # generic_visit rewrites the children in place.
    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guarded("bounded_iter", node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guarded("bounded_concat", *node.nodes)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # an assignment target
            return node
        return _guarded("bounded_value", node)

    visit_List = visit_Tuple = visit_Dict = _literal


def _guarded(attribute: str, *args: nodes.Node) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(attribute), list(args), [], None, None)
    call.set_lineno(args[0].lineno if args and args[0].lineno else 1)
    return call


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no attribute starting with `_`, no `str.format` escapes,
    no list or dict mutation), plus a budget per render checked at every call, filter,
    intercepted operator, loop iteration, `~` and output chunk. Render with `render()`."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.globals = {name: self.globals[name] for name in GLOBALS}
        self.filters = {name: self._guard_filter(name, f) for name, f in self.filters.items()}
        self._local = threading.local()

    # -- the budget ------------------------------------------------------------------------
    def budget(self) -> Budget:
        budget: Budget | None = getattr(self._local, "budget", None)
        if budget is None:
            raise RuntimeError("render through BoundedEnvironment.render(), which sets a budget")
        return budget

    def measure(self, value: Any) -> Any:
        if isinstance(value, str):  # the common case, without the walk
            if len(value) > self.budget().max_chars:
                self.budget().size(len(value), "a str")
        elif isinstance(value, bytes | list | tuple | Mapping | set | frozenset):
            budget = self.budget()
            budget.size(weight(value, budget.max_chars), f"a {type(value).__name__}")
        elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise RenderLimit(f"a number of more than {MAX_INT_BITS} bits")
        return value

    def render(
        self, template: jinja2.Template, variables: Mapping[str, Any], budget: Budget
    ) -> str:
        """Render within `budget`: RenderLimit when it runs out (the row fails),
        RenderCancelled when its cancel flag is set."""
        self._local.budget = budget
        try:
            parts: list[str] = []
            total, limit = 0, budget.max_chars
            # No time check per chunk: whatever repeats (loops, calls, macros) checks itself.
            for chunk in template.generate(variables):
                total += len(chunk)
                if total > limit:
                    budget.size(total, "the output")
                parts.append(chunk)
            return "".join(parts)
        finally:
            self._local.budget = None

    # -- parsing: loops, `~` and literals become calls --------------------------------------
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _GuardNodes().visit(tree)  # a Template node stays itself: only its children change
        tree.set_environment(self)
        return tree

    def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = self.budget()
        for item in iterable:
            budget.check()
            yield item

    def bounded_concat(self, *parts: Any) -> str:
        return str(self.measure("".join(map(str, parts))))

    def bounded_value(self, value: Any) -> Any:
        return self.measure(value)

    # -- the sandbox's hooks -----------------------------------------------------------------
    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, jinja2.Undefined):  # report the first problem of a chain, not the last
            obj._fail_with_undefined_error()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, jinja2.Undefined):
            obj._fail_with_undefined_error()
        return super().getitem(obj, argument)

    def call(self, context: jinja2.runtime.Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = self.budget()
        budget.check()
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str) and not isinstance(obj, functools.partial):
            args = _Prechecks.str_method(budget, owner, getattr(obj, "__name__", ""), args, kwargs)
        elif getattr(obj, "__name__", "") in ("format", "format_map") and getattr(
            obj, "__wrapped__", None
        ):
            fmt = getattr(obj.__wrapped__, "__self__", None)
            if isinstance(fmt, str):
                values = list(args) + list(kwargs.values())
                if obj.__name__ == "format_map" and args and isinstance(args[0], Mapping):
                    values = list(args[0].values())
                _check_format(budget, fmt, values)
        return self.measure(super().call(context, obj, *args, **kwargs))

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        budget = self.budget()
        budget.check()
        if operator == "*":
            _check_product(budget, left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_printf(budget, left, right)
        return self.measure(super().call_binop(context, operator, left, right))

    def _guard_filter(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        skip = 1 if _PassArg.from_obj(function) is not None else 0  # context/environment first

        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            budget = self.budget()
            budget.check()
            checked = _Prechecks.filter(budget, name, args[skip:], kwargs)
            return self.measure(function(*args[:skip], *checked, **kwargs))

        return guarded


def _check_product(budget: Budget, left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise RenderLimit(f"a number of more than {MAX_INT_BITS} bits")
        return
    sequence, times = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(times, int) and isinstance(sequence, str | bytes | list | tuple) and times > 0:
        budget.size(
            weight(sequence, budget.max_chars) * times, f"a {type(sequence).__name__} times {times}"
        )


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return
    if abs(base) > 1 and exponent * base.bit_length() > MAX_INT_BITS:
        raise RenderLimit(f"a number of more than {MAX_INT_BITS} bits")
