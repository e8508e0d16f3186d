"""The Jinja environment that fills uploaded templates, with limits on what one may cost.

Jinja's sandbox keeps a template away from Python's internals, not from running for
hours or filling the memory: `{% for a in range(10000) %}{% for b in range(10000) %}`
loops 100,000,000 times, `{{ "x" * 10**9 }}` asks for a gigabyte. A template here is a
contract or a letter; it gets:

- `MAX_LOOP_STEPS` loop iterations in all (a 360-installment schedule uses 360), and
  `MAX_SECONDS` of rendering, checked at every loop turn, every write and before and after
  every filter, test, operator and method call: one call costs little (sorting, removing
  duplicates and grouping take at most `MAX_SORTED_ITEMS` items), so a template stops soon
  after its time is up;
- values (text, lists) of at most `MAX_VALUE_LENGTH` characters or items, however they
  are built (`*`, `+`, `~`, `join`, `replace`, `format`, `%`, literals, any filter), and
  integers of at most `MAX_INT_BITS` bits. A list's size counts what it holds, so
  `[text] * 1000` is 1,000 times the text, as it is once written out;
- `MAX_OUTPUT_CHARS` characters written in all (a list or a number written counts as
  its text);
- only the attributes a document needs: keys of the data, the dict methods `items`,
  `keys`, `values`, `get`, text methods that cannot make text longer, the parts of a
  date, and the loop's and namespace's own.

Going over a limit raises `TemplateLimitError` (a Jinja `SecurityError`) saying which
limit, in Spanish.
"""

import datetime
import functools
import itertools
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any

from django.utils.translation import gettext as _
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import do_format, do_replace, sync_do_join
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_LOOP_STEPS = 100_000
MAX_SECONDS = 5.0
MAX_VALUE_LENGTH = 1_000_000
MAX_OUTPUT_CHARS = 5_000_000
MAX_INT_BITS = 4_096
# Filters that sort or compare every item with the others take at most this many items:
# one call stays well under a second, so the time limit is checked often enough.
MAX_SORTED_ITEMS = 100_000
_SORTING_FILTERS = ("sort", "dictsort", "unique", "groupby")
# A width or precision in "%10.2f" or "{:>10}" above this is refused.
MAX_FORMAT_WIDTH = 1_000

# Methods a template may call on the form data (`gestion.datos.items()`).
DICT_METHODS = frozenset({"items", "keys", "values", "get"})
# Text methods whose result is no longer than the text (or is a number or a yes/no).
_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "lower",
        "lstrip",
        "removeprefix",
        "removesuffix",
        "rfind",
        "rindex",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)
_DATE_ATTRIBUTES = frozenset({"year", "month", "day", "isoformat", "weekday", "isoweekday"})
_TIME_ATTRIBUTES = frozenset({"hour", "minute", "second"})
_LOOP_ATTRIBUTES = frozenset(
    {
        "index",
        "index0",
        "revindex",
        "revindex0",
        "first",
        "last",
        "length",
        "depth",
        "depth0",
        "previtem",
        "nextitem",
        "changed",
        "cycle",
    }
)
# Filters that make text wider than what they are given, by a number the template picks.
_WIDENING_FILTERS = ("center", "indent", "wordwrap")
_WIDE_FORMAT = re.compile(r"%[-+ #0]*(\*|\d{4,})|%[-+ #0]*\d*\.(\*|\d{4,})|\{[^{}]*:[^{}]*\d{4,}")


class TemplateLimitError(SecurityError):
    """A template went over one of the limits of this module."""


class _Budget:
    def __init__(self) -> None:
        self.steps = 0
        self.output = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                _("la plantilla tarda más de %(seconds)s segundos en llenarse")
                % {"seconds": f"{MAX_SECONDS:g}"}
            )

    def loop(self, iterable: Iterable[Any], weight: int) -> Iterator[Any]:
        """Count each turn of a loop whose body writes `weight` characters of its own."""
        for item in iterable:
            self.steps += 1
            self.add_output(weight)
            if self.steps > MAX_LOOP_STEPS:
                raise TemplateLimitError(
                    _("la plantilla repite sus bucles más de %(steps)s veces")
                    % {"steps": f"{MAX_LOOP_STEPS:,}".replace(",", ".")}
                )
            self.check_time()
            yield item

    def write(self, value: Any) -> Any:
        """Count what a `{{ … }}` writes (Jinja's finalize hook); a list or a number counts
        as the text it becomes, which is what is written then."""
        if not isinstance(value, str) and not hasattr(value, "__html__"):
            _check_length(value)  # before making its text
            value = str(value)
        self.add_output(len(value) if isinstance(value, str) else 0)
        self.check_time()
        return value

    def add_output(self, chars: int) -> None:
        self.output += chars
        if self.output > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(
                _("la plantilla escribe más de %(chars)s caracteres")
                % {"chars": f"{MAX_OUTPUT_CHARS:,}".replace(",", ".")}
            )


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_LOOP_STEPS:
        raise TemplateLimitError(
            _("la plantilla pide un rango de más de %(steps)s números")
            % {"steps": f"{MAX_LOOP_STEPS:,}".replace(",", ".")}
        )
    return numbers


def _size(value: Any, limit: int | None = None) -> int:
    """Return how many characters and items `value` holds, counted through nested lists,
    tuples, sets, dicts and namespaces (an item counts as its characters, at least 1);
    stop counting once over `limit`.

    A list holding the same text 1,000 times weighs 1,000 texts: so it does when written.
    """
    if isinstance(value, str):
        return len(value)
    limit = MAX_VALUE_LENGTH if limit is None else limit
    total, pending = 0, [value]
    while pending and total <= limit:
        children = _children(pending.pop())
        for child in children:
            if isinstance(child, str):
                total += max(len(child), 1)
            else:
                total += 1
                if _children(child):
                    pending.append(child)
    return total


def _children(value: Any) -> Iterable[Any]:
    """Return what a container holds (a dict's keys and values); () for anything else."""
    if isinstance(value, Namespace):
        value = object.__getattribute__(value, "_Namespace__attrs")
    if isinstance(value, Mapping) and not isinstance(value, Context):
        return [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return value
    return ()


def _check_length(value: Any) -> Any:
    if _size(value) > MAX_VALUE_LENGTH:
        raise _too_long()
    return value


def _check_arguments(args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        _check_length(value)


def _checked_items(items: Iterable[Any], budget: "_Budget") -> Iterator[Any]:
    """Yield a filter's lazy result (`map`, `select`…) while what it yields stays in bounds."""
    total = 0
    for item in items:
        total += max(_size(item), 1)
        if total > MAX_VALUE_LENGTH:
            raise _too_long()
        budget.check_time()
        yield item


def _too_long() -> TemplateLimitError:
    return TemplateLimitError(
        _("la plantilla arma un texto o una lista de más de %(length)s elementos")
        % {"length": f"{MAX_VALUE_LENGTH:,}".replace(",", ".")}
    )


def _sorted_input(value: Any) -> Any:
    """Return a sorting filter's input, refused over MAX_SORTED_ITEMS items; a lazy one
    (`x|map(…)|sort`) is read into a list, at most one item past the limit."""
    if not isinstance(value, Sized):
        value = list(itertools.islice(value, MAX_SORTED_ITEMS + 1))
    if len(value) > MAX_SORTED_ITEMS:
        raise TemplateLimitError(
            _("la plantilla ordena o agrupa una lista de más de %(items)s elementos")
            % {"items": f"{MAX_SORTED_ITEMS:,}".replace(",", ".")}
        )
    return value


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise TemplateLimitError(
            _("la plantilla pide un formato de más de %(width)s caracteres de ancho")
            % {"width": f"{MAX_FORMAT_WIDTH:,}".replace(",", ".")}
        )


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with `~` (text concatenation) checked like `+`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Each part is checked before it is made text, the whole after.
        for index, part in enumerate(node.nodes):
            node.nodes[index] = _checked(part)
        self.write("environment.checked_length(")
        super().visit_Concat(node, frame)
        self.write(")")

    # Literals: `[a, a, a]` holds three times `a`.
    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.checked_length(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.checked_length(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # `{% for a, b in … %}` assigns to it
            super().visit_Tuple(node, frame)
            return
        self.write("environment.checked_length(")
        super().visit_Tuple(node, frame)
        self.write(")")


def _checked(node: nodes.Expr) -> nodes.Expr:
    """Return `node` wrapped in `environment.checked_length(…)`."""
    return nodes.Call(
        nodes.EnvironmentAttribute("checked_length", lineno=node.lineno),
        [node],
        [],
        None,
        None,
        lineno=node.lineno,
    )


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """A sandbox whose templates stop at the limits above; one per rendering."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **options: Any) -> None:
        self.budget = _Budget()
        self.count_loop = self.budget.loop
        super().__init__(finalize=self.budget.write, **options)
        self.globals = {
            "range": _range,
            "dict": self._bounded(self.globals["dict"]),
            "namespace": self._bounded(self.globals["namespace"]),
            "cycler": self.globals["cycler"],
            "joiner": self.globals["joiner"],
        }
        for name in _WIDENING_FILTERS:
            self.filters.pop(name, None)
        # `safe` wrote its text into the document's XML unescaped: a placeholder could
        # break the file or add a field that fetches a URL. No template needs it.
        self.filters.pop("safe", None)
        self.filters["join"] = self._join
        self.filters["replace"] = self._replace
        self.filters["format"] = self._format
        # Every filter: nothing over the limits goes in (`huge|string`), nor comes out
        # (`texts|map("replace", "x", long_text)|list`).
        self.filters = {
            name: self._bounded(f, sorts=name in _SORTING_FILTERS)
            for name, f in self.filters.items()
        }
        self.tests = {name: self._timed(test) for name, test in self.tests.items()}

    checked_length = staticmethod(_check_length)

    # --- every for-loop counts against the budget ---
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            # The text of the loop's body (the document's XML) is written at every turn.
            weight = sum(
                len(data.data) for part in loop.body for data in part.find_all(nodes.TemplateData)
            )
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("count_loop", lineno=loop.lineno),
                [loop.iter, nodes.Const(weight, lineno=loop.lineno)],
                [],
                None,
                None,
                lineno=loop.lineno,
            )
        return tree

    # --- attributes ---
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, (Namespace, Mapping)):
            return isinstance(obj, Namespace) or attr in DICT_METHODS
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, LoopContext):
            return attr in _LOOP_ATTRIBUTES
        if isinstance(obj, datetime.datetime):
            return attr in _DATE_ATTRIBUTES | _TIME_ATTRIBUTES
        if isinstance(obj, datetime.date):
            return attr in _DATE_ATTRIBUTES
        return False

    # --- operators ---
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.budget.check_time()
        _check_length(left)
        _check_length(right)
        if operator == "*":
            if isinstance(left, int) and isinstance(right, (str, list, tuple)):
                left, right = right, left
            if isinstance(left, (str, list, tuple)) and isinstance(right, int):
                if max(_size(left), 1) * max(right, 0) > MAX_VALUE_LENGTH:
                    raise _too_long()
            elif isinstance(left, int) and isinstance(right, int):
                self._check_bits(abs(left).bit_length() + abs(right).bit_length())
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                self._check_bits(abs(left).bit_length() * right)
        elif operator == "+":
            if _size(left) + _size(right) > MAX_VALUE_LENGTH:
                raise _too_long()
        elif operator == "%":
            _check_format(left)
        result = super().call_binop(context, operator, left, right)
        self.budget.check_time()
        return _check_length(result)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a method, macro or global (`text.split(",")`), within the time limit."""
        __self.budget.check_time()
        result = super().call(__context, __obj, *args, **kwargs)
        __self.budget.check_time()
        return result

    @staticmethod
    def _check_bits(bits: int) -> None:
        if bits > MAX_INT_BITS:
            raise TemplateLimitError(_("la plantilla calcula un número demasiado grande"))

    def wrap_str_format(self, value: Any) -> Any:
        """`"{:>10}".format(x)`: the sandbox's formatter, with the width checked first."""
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None

        def checked(*args: Any, **kwargs: Any) -> str:
            self.budget.check_time()
            _check_format(value.__self__)
            _check_arguments(args, kwargs)
            result = formatter(*args, **kwargs)
            self.budget.check_time()
            return _check_length(result)

        return checked

    # --- filters and globals: bounded what they take and what they give ---
    def _bounded(self, func: Any, *, sorts: bool = False) -> Any:
        # The value is the first argument after what `jinja_pass_arg` asks for.
        value_at = 1 if hasattr(func, "jinja_pass_arg") else 0

        @functools.wraps(func)  # keeps `jinja_pass_arg` (context, environment…)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.budget.check_time()
            _check_arguments(args, kwargs)
            if sorts and len(args) > value_at:
                args = (*args[:value_at], _sorted_input(args[value_at]), *args[value_at + 1 :])
            result = func(*args, **kwargs)
            self.budget.check_time()
            if isinstance(result, Iterator):
                return _checked_items(result, self.budget)
            return _check_length(result)

        return bounded

    def _timed(self, func: Any) -> Any:
        """Return `func` (a test) with the time limit checked before and after it."""

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.budget.check_time()
            result = func(*args, **kwargs)
            self.budget.check_time()
            return result

        return timed

    # --- filters that can make long text out of short ---
    def _join(self, eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None):
        items = list(self.budget.loop(value, 0))
        if len(items) * len(str(d)) + sum(_length(str(item)) for item in items) > MAX_VALUE_LENGTH:
            raise _too_long()
        return sync_do_join(eval_ctx, items, d, attribute)

    _join.jinja_pass_arg = sync_do_join.jinja_pass_arg  # type: ignore[attr-defined]

    def _replace(self, eval_ctx: Any, s: str, old: str, new: str, count: int | None = None):
        occurrences = str(s).count(str(old)) if old else len(str(s)) + 1
        if count is not None and count >= 0:
            occurrences = min(occurrences, count)
        if len(str(s)) + occurrences * len(str(new)) > MAX_VALUE_LENGTH:
            raise _too_long()
        return do_replace(eval_ctx, s, old, new, count)

    _replace.jinja_pass_arg = do_replace.jinja_pass_arg  # type: ignore[attr-defined]

    @staticmethod
    def _format(value: str, *args: Any, **kwargs: Any) -> str:
        _check_format(value)
        return _check_length(do_format(value, *args, **kwargs))
