"""Rendering: ``${{ expression }}`` in string values, evaluated in a Jinja sandbox.

This package is the one place that talks to Jinja; ``sandbox`` holds the environment every expression runs in and
the bounds on what it may build. The delimiter is ``${{ }}`` rather than Jinja's ``{{ }}`` so the API's own
``{{apiKey}}`` header placeholders pass through untouched. A string that is nothing but one expression keeps the
expression's native type, so ``contextLength: ${{ vars.ctx }}`` is an int.

Expressions see ``vars``, ``env`` and ``secret``. ``env`` and ``secret`` read only ``DPM_*`` variables: config
files arrive in pull requests and must not read a CI runner's other secrets into a plan comment. A value that
touched ``secret`` in any way becomes a ``Secret``, which never prints its value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from dpm import redaction
from dpm.config.render.sandbox import environment
from dpm.config.yamlio import Document
from dpm.errors import RenderError
from dpm.resources.rules import did_you_mean
from dpm.values import Diagnostic, Path, Secret

LIBRARY = f"jinja2 {jinja2.__version__}"  # for the compile cache's keys: its messages reach diagnostics
ENV_PREFIX = "DPM_"
# dpm's own credentials for the registry: no expression may read them, as env or as secret (a provider built with
# them would hand the registry's admin password to whatever endpoint a pull request names).
CREDENTIALS = frozenset({"DPM_TOKEN", "DPM_USERNAME", "DPM_PASSWORD"})
_SECRET_READ = re.compile(r"""secret\s*(?:\.\s*|\[\s*["'])(DPM_[A-Za-z0-9_]+)""")
_SINGLE_EXPRESSION = re.compile(r"\$\{\{((?:(?!\}\}).)*)\}\}", re.DOTALL)
_MARKERS = ("${{", "${%", "${#")
_NATIVE_TYPES = (str, int, float, bool, list, dict, type(None))
_DOTTED_NAME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+)\s*")
_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']*)'")
_MISSING_NAME = re.compile(r"'([^']*)' is undefined")


class _EnvNamespace:
    """``env.NAME``: a non-secret ``DPM_*`` environment variable. A name that any config file reads as a secret is a
    secret here too: ``env`` must not print what ``secret`` would mask."""

    def __init__(self, environ: Mapping[str, str], secrets: _SecretNamespace, secret_names: frozenset[str]) -> None:
        self._environ = environ
        self._secrets = secrets
        self._secret_names = secret_names
        self.read: set[str] = set()  # every name read, for the compile cache: what a file's documents depend on

    def __getattr__(self, name: str) -> Any:
        return self[name]

    def __getitem__(self, name: str) -> Any:
        _check_name("env", name)
        self.read.add(name)
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
        value = self._environ[name]
        redaction.remember(value, name)
        return value


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
        self._jinja = environment()
        self._secrets = _SecretNamespace(self.environ)
        self._env = _EnvNamespace(self.environ, self._secrets, self.secret_names)
        self._context = {"vars": self.vars, "env": self._env, "secret": self._secrets}
        self._compiled: dict[str, Callable[[Mapping[str, Any]], Any]] = {}
        self._expressions: dict[str, Callable[[Mapping[str, Any]], Any]] = {}

    def env_reads(self) -> set[str]:
        """The ``env`` names read since the last call: the environment values what was rendered depends on."""
        read, self._env.read = self._env.read, set()
        return read

    def render(self, document: Document) -> tuple[Document, list[Diagnostic]]:
        problems: list[Diagnostic] = []
        secrets: dict[Path, Secret] = {}
        if document.expressions is None:
            data = self._walk(document, document.data, (), problems, secrets)
        else:
            data = self._at_paths(document, problems, secrets)
        return replace(document, data=data, secrets=secrets), problems

    def _at_paths(self, document: Document, problems: list[Diagnostic], secrets: dict[Path, Secret]) -> Any:
        """The document's data with each string the reader listed (``Document.expressions``) rendered: only the
        containers on the way to one are copied, the rest is shared with the document as read."""
        assert document.expressions is not None
        copies: dict[Path, Any] = {(): _shallow(document.data)}
        for path in document.expressions:
            for end in range(1, len(path)):
                if path[:end] not in copies:
                    parent = copies[path[: end - 1]]
                    copies[path[:end]] = parent[path[end - 1]] = _shallow(parent[path[end - 1]])
            parent = copies[path[:-1]] if path else None
            value = parent[path[-1]] if parent is not None else document.data
            rendered = self._walk(document, value, path, problems, secrets)
            if parent is None:
                return rendered
            parent[path[-1]] = rendered
        return copies[()]

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
            revealed = None if self._secrets.missing else str(value)
            redaction.remember(revealed, ", ".join(names))  # what an expression built from them is secret too
            return Secret(names, revealed, text)
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


def _shallow(value: Any) -> Any:
    return value.copy() if isinstance(value, dict | list) else value


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
