"""Rendering: ``${{ expression }}`` in string values, evaluated in a Jinja sandbox.

The one module that talks to Jinja. The delimiter is ``${{ }}`` rather than Jinja's ``{{ }}`` so the API's own
``{{apiKey}}`` header placeholders pass through untouched. A string that is nothing but one expression keeps the
expression's native type, so ``contextLength: ${{ vars.ctx }}`` is an int.

Expressions see ``vars``, ``env`` and ``secret``. ``env`` and ``secret`` read only ``DPM_*`` variables: config
files arrive in pull requests and must not read a CI runner's other secrets into a plan comment. A value that
touched ``secret`` in any way becomes a ``Secret``, which never prints its value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

from dpm.config.yamlio import Document
from dpm.errors import RenderError
from dpm.resources.rules import did_you_mean
from dpm.values import Diagnostic, Path, Secret

ENV_PREFIX = "DPM_"
# dpm's own credentials for the registry: no expression may read them, as env or as secret (a provider built with
# them would hand the registry's admin password to whatever endpoint a pull request names).
CREDENTIALS = frozenset({"DPM_TOKEN", "DPM_USERNAME", "DPM_PASSWORD"})
_SECRET_READ = re.compile(r"""secret\s*(?:\.\s*|\[\s*["'])(DPM_[A-Za-z0-9_]+)""")
_SINGLE_EXPRESSION = re.compile(r"\$\{\{((?:(?!\}\}).)*)\}\}", re.DOTALL)
_MARKERS = ("${{", "${%", "${#")
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
_NATIVE_TYPES = (str, int, float, bool, list, dict, type(None))
_DOTTED_NAME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+)\s*")
_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']*)'")
_MISSING_NAME = re.compile(r"'([^']*)' is undefined")


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


def _environment() -> _Sandbox:
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


class _EnvNamespace:
    """``env.NAME``: a non-secret ``DPM_*`` environment variable. A name that any config file reads as a secret is a
    secret here too: ``env`` must not print what ``secret`` would mask."""

    def __init__(self, environ: Mapping[str, str], secrets: _SecretNamespace, secret_names: frozenset[str]) -> None:
        self._environ = environ
        self._secrets = secrets
        self._secret_names = secret_names

    def __getattr__(self, name: str) -> Any:
        return self[name]

    def __getitem__(self, name: str) -> Any:
        _check_name("env", name)
        if name in self._secret_names:
            return self._secrets[name]
        if name in self._environ:
            return self._environ[name]
        return jinja2.StrictUndefined(hint=f"environment variable {name} is not set")


class _SecretNamespace:
    """``secret.NAME``: a secret ``DPM_*`` environment variable; every read is recorded."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.read: list[str] = []
        self.missing: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return self[name]

    def __getitem__(self, name: str) -> Any:
        _check_name("secret", name)
        self.read.append(name)
        if name not in self._environ:
            self.missing.append(name)
            return ""
        return self._environ[name]


def _check_name(namespace: str, name: str) -> None:
    if name in CREDENTIALS:
        raise RenderError(
            f"{namespace}.{name} is not readable: it is one of dpm's own credentials, and config files arrive in "
            "pull requests",
            "give the provider a secret of its own, e.g. secret.DPM_<PROVIDER>_API_KEY",
        )
    if not name.startswith(ENV_PREFIX):
        raise RenderError(
            f"{namespace}.{name} is not readable: expressions read only {ENV_PREFIX}* environment variables",
            f"export the value as {ENV_PREFIX}{name.upper()} and use {namespace}.{ENV_PREFIX}{name.upper()}",
        )


@dataclass
class Renderer:
    """Renders documents against one set of ``vars`` and one environment."""

    vars: Mapping[str, Any]
    environ: Mapping[str, str]
    secret_names: frozenset[str] = frozenset()  # read as secret somewhere in the config: secret everywhere

    def __post_init__(self) -> None:
        self._jinja = _environment()
        self._secrets = _SecretNamespace(self.environ)
        env = _EnvNamespace(self.environ, self._secrets, self.secret_names)
        self._context = {"vars": self.vars, "env": env, "secret": self._secrets}
        self._compiled: dict[str, Callable[[Mapping[str, Any]], Any]] = {}
        self._expressions: dict[str, Callable[[Mapping[str, Any]], Any]] = {}

    def render(self, document: Document) -> tuple[Document, list[Diagnostic]]:
        problems: list[Diagnostic] = []
        secrets: dict[Path, Secret] = {}
        data = self._walk(document, document.data, (), problems, secrets)
        return replace(document, data=data, secrets=secrets), problems

    def _walk(
        self, document: Document, value: Any, path: Path, problems: list[Diagnostic], secrets: dict[Path, Secret]
    ) -> Any:
        if isinstance(value, dict):
            return {k: self._walk(document, v, (*path, k), problems, secrets) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(document, v, (*path, i), problems, secrets) for i, v in enumerate(value)]
        if isinstance(value, str) and any(marker in value for marker in _MARKERS):
            try:
                rendered = self.render_string(value)
            except RenderError as exc:
                problems.append(Diagnostic.error("expression", exc.message, document.mark(path), path, exc.hint))
                return value
            if isinstance(rendered, Secret):
                secrets[path] = rendered
            return rendered
        return value

    def render_string(self, text: str) -> Any:
        """The value of ``text``; a ``Secret`` when any ``secret.*`` was read. Raises ``RenderError``."""
        self._secrets.read, self._secrets.missing = [], []
        try:
            value = self._compile(text)(self._context)
        except RenderError:
            raise
        except jinja2.TemplateSyntaxError as exc:
            hint = "expressions look like ${{ vars.name }}"
            raise RenderError(f"expression syntax error: {exc.message}", hint) from None
        except jinja2.UndefinedError as exc:
            raise _undefined(exc.message or "undefined value", self.vars) from None
        except SecurityError as exc:
            raise RenderError(f"refused by the sandbox: {exc}") from None
        except NameError as exc:
            if exc.name not in {"inf", "nan"}:
                raise RenderError(f"expression failed: NameError: {exc}") from None
            # Jinja folds a constant such as 1e400 into its generated code as the name 'inf'
            raise RenderError("the expression gives a number that is not finite (inf or nan)") from None
        except Exception as exc:  # an expression is user code: any failure is the user's to fix, not a crash
            raise RenderError(f"expression failed: {type(exc).__name__}: {exc}") from None
        if self._secrets.read:
            names = tuple(dict.fromkeys(self._secrets.read))
            return Secret(names, None if self._secrets.missing else str(value), text)
        return value

    def _compile(self, text: str) -> Callable[[Mapping[str, Any]], Any]:
        compiled = self._compiled.get(text)
        if compiled is None:
            compiled = self._compiled[text] = self._build(text)
        return compiled

    def _build(self, text: str) -> Callable[[Mapping[str, Any]], Any]:
        if "${%" in text:
            raise RenderError("statements (${% … %}) are not supported; use an expression ${{ … }}")
        single = _SINGLE_EXPRESSION.fullmatch(text)
        if single is not None:
            return self._expression(single.group(1))
        parts = _SINGLE_EXPRESSION.split(text)
        literals, sources = parts[::2], parts[1::2]
        if "${#" in text or any("${{" in literal for literal in literals):
            # Comments, or an expression left open: Jinja's own parser handles (or reports) those.
            return self._jinja.from_string(text).render
        expressions = [self._expression(source) for source in sources]

        def render(context: Mapping[str, Any]) -> str:
            values = (str(evaluate(context)) for evaluate in expressions)
            return literals[0] + "".join(value + literal for value, literal in zip(values, literals[1:], strict=True))

        return render

    def _expression(self, source: str) -> Callable[[Mapping[str, Any]], Any]:
        """One expression, compiled once. A plain dotted name (``vars.a.b``, ``secret.DPM_X``) is looked up
        directly: most expressions are just that, and compiling each through Jinja dominates large configs."""
        cached = self._expressions.get(source)
        if cached is not None:
            return cached
        dotted = _DOTTED_NAME.fullmatch(source)
        if dotted is not None and dotted.group(1).split(".")[0] in self._context:
            names = dotted.group(1).split(".")
            compiled = self._lookup(names, source)
        else:
            expression = self._jinja.compile_expression(source, undefined_to_none=False)
            compiled = lambda context: _native(expression(context))  # noqa: E731
        self._expressions[source] = compiled
        return compiled

    def _lookup(self, names: list[str], source: str) -> Callable[[Mapping[str, Any]], Any]:
        def lookup(context: Mapping[str, Any]) -> Any:
            value = context[names[0]]
            for name in names[1:]:
                if isinstance(value, dict):
                    if name not in value:
                        raise jinja2.UndefinedError(f"'dict object' has no attribute '{name}'")
                    value = value[name]
                elif isinstance(value, _EnvNamespace | _SecretNamespace):
                    value = value[name]
                else:  # an attribute of some other value: Jinja's sandboxed rules decide
                    expression = self._jinja.compile_expression(source, undefined_to_none=False)
                    return _native(expression(context))
            return _native(value)

        return lookup


def _native(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError, carrying the sandbox's or the lookup's reason
    if isinstance(value, tuple):
        return list(value)
    if not isinstance(value, _NATIVE_TYPES):
        raise RenderError(f"expression gives a {type(value).__name__}, which a config value cannot hold")
    return value


def _undefined(message: str, variables: Mapping[str, Any]) -> RenderError:
    """A readable account of a StrictUndefined failure, naming what is defined."""
    attribute = _MISSING_ATTRIBUTE.search(message)
    if attribute and message.startswith("'dict object'"):
        name = attribute.group(1)
        defined = ", ".join(sorted(variables)) or "none"
        hint = (
            did_you_mean(name, variables) or f"defined vars: {defined}; set vars in dpm.yaml, environments/, or --var"
        )
        return RenderError(f"'{name}' is undefined", hint)
    name = _MISSING_NAME.fullmatch(message)
    if name:
        return RenderError(f"'{name.group(1)}' is undefined", "expressions can read vars, env and secret")
    return RenderError(message)


def secret_reads(text: str) -> set[str]:
    """The ``DPM_*`` names that ``text`` (a whole config file) reads as ``secret.NAME`` or ``secret['NAME']``."""
    return set(_SECRET_READ.findall(text)) if "secret" in text else set()
