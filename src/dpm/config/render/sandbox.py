"""The sandbox every ``${{ }}`` expression runs in: Jinja's immutable sandbox, a whitelist of filters, no
statements, and a bound on what one step of an expression may build.

Expressions arrive in pull requests, so none may read outside its namespaces or make dpm allocate much more than
the config itself holds: repetition, powers, ``str.format``/``format_map``, ``%`` formatting, ``join``, ``replace``
and padding are each checked before the value is built.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

_SAFE_FILTERS = frozenset(
    {
        *("abs", "capitalize", "count", "d", "default", "first", "float", "int", "join", "last", "length"),
        *("list", "lower", "max", "min", "replace", "round", "sort", "string", "title", "tojson", "trim"),
        *("unique", "upper", "urlencode"),
    }
)
# The most characters (or items) one step of an expression may build: repetition, formatting (a width or precision
# above it is refused before anything is built), join, replace and padding. Expressions come in pull requests, so
# none may make dpm allocate much more than the config itself holds.
_MAX_SEQUENCE = 100_000
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_PERCENT_SPEC = re.compile(r"%(\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?.", re.DOTALL)
_DIGITS = re.compile(r"\d+")
_MAX_EXPONENT = 256
# Integers stay far below what Python can still print (4,300 digits) and what any config value needs.
_MAX_INT_BITS = 4096


def _too_large(what: str) -> SecurityError:
    return SecurityError(f"{what} would build a value larger than {_MAX_SEQUENCE:,} characters")


def _check_size(what: str, size: int) -> None:
    if size > _MAX_SEQUENCE:
        raise _too_large(what)


def _check_spec(what: str, spec: str) -> None:
    """Refuse a format spec whose width or precision alone exceeds the bound (``{:>1000000000}``)."""
    for digits in _DIGITS.findall(spec):
        _check_size(what, int(digits) if len(digits) < 8 else _MAX_SEQUENCE + 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` in the sandbox: each field's spec is checked before the field is built, and their total."""

    def __init__(self, env: jinja2.Environment, template: str) -> None:
        super().__init__(env)
        self._built = len(template)

    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_spec("formatting", format_spec)
        field = super().format_field(value, format_spec)
        self._built += len(field)
        _check_size("formatting", self._built)
        return field


def _check_percent(template: str, values: Any) -> None:
    """``template % values``: refuse '*' widths and sizes above the bound before anything is built."""
    specs = list(_PERCENT_SPEC.finditer(template))
    if any("*" in spec.group(0) for spec in specs):
        raise SecurityError("'%' formatting with a '*' width or precision is not supported")
    widths = sum(int(spec.group(2) or 0) + int(spec.group(3) or 0) for spec in specs)
    items = list(values.values()) if isinstance(values, Mapping) else values if isinstance(values, tuple) else [values]
    longest = max((len(str(item)) for item in items), default=0)
    _check_size("'%' formatting", len(template) + widths + len(specs) * longest)


def _check_join(separator: str, items: list[Any]) -> None:
    _check_size("join", sum(len(str(item)) for item in items) + len(separator) * max(len(items) - 1, 0))


def _check_replace(text: str, old: str, new: str, count: int | None = None) -> None:
    found = text.count(old) if count is None or count < 0 else min(count, text.count(old))
    _check_size("replace", len(text) + found * (len(new) - len(old)))


def _bounded_join(join: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(join)
    def bounded(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
        items = list(value)
        _check_join(str(d), items)
        return join(eval_ctx, items, d, attribute)

    return bounded


def _bounded_replace(replace_filter: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(replace_filter)
    def bounded(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
        _check_replace(str(s), str(old), str(new), count)
        return replace_filter(eval_ctx, s, old, new, count)

    return bounded


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, also bounded in the memory an expression can ask for."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and right > _MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large")
        if operator in {"*", "**"} and _is_int(left) and _is_int(right):
            bits = abs(left).bit_length() * right if operator == "**" else left.bit_length() + right.bit_length()
            if bits > _MAX_INT_BITS:
                raise SecurityError(f"the result would be an integer of more than {_MAX_INT_BITS:,} bits")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                sized = isinstance(sequence, str | list | tuple) and isinstance(count, int)
                if sized and len(sequence) * count > _MAX_SEQUENCE:
                    raise SecurityError("repetition would build a value that is too large")
        if operator == "%" and isinstance(left, str):
            _check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None or type(value.__self__) is not str:
            return wrapped  # not str.format, or Markup's (never made here: autoescape is off)
        template: str = value.__self__
        format_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                return _BoundedFormatter(self, template).vformat(template, (), args[0])
            return _BoundedFormatter(self, template).vformat(template, args, kwargs)

        return functools.update_wrapper(bounded, value)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(getattr(__obj, "__self__", None), str):
            _check_str_method(__obj.__self__, __obj.__name__, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """The methods of ``str`` whose result can be far larger than their inputs, checked before they run."""
    if name in _PADDING_METHODS and args and isinstance(args[0], int):
        _check_size(name, args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            _check_size(name, len(text) + text.count("\t") * tabsize)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 and isinstance(args[2], int) else None)
    elif name == "join" and args and isinstance(args[0], str | list | tuple | range | dict):
        _check_join(text, list(args[0]))


def environment() -> _Sandbox:
    env = _Sandbox(
        variable_start_string="${{",
        variable_end_string="}}",
        block_start_string="${%",
        block_end_string="%}",
        comment_start_string="${#",
        comment_end_string="#}",
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters = {name: f for name, f in env.filters.items() if name in _SAFE_FILTERS}
    env.filters["join"] = _bounded_join(env.filters["join"])
    env.filters["replace"] = _bounded_replace(env.filters["replace"])
    env.globals = {"range": env.globals["range"]}
    return env
