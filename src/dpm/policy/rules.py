"""A policy's rule: a JSON Schema (draft 2020-12). The one module that talks to jsonschema.

A rule is checked against the draft's metaschema when it is loaded (with its formats, so a bad ``pattern`` is
caught there), and may refer only to its own parts: a policy file arrives in a pull request, and dpm fetches
nothing that a file names.

jsonschema is imported when the first rule is, not when dpm starts: most runs of most commands have no policy, and
the import costs about a tenth of a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dpm.values import Path

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

_SHOWN = 60
_REFERENCES = ("$ref", "$dynamicRef")
_NAMES_KEYS = frozenset({"required", "additionalProperties", "unevaluatedProperties", "dependentRequired"})


@dataclass(frozen=True)
class Violation:
    """Where the checked value breaks the rule, why, and the value found there."""

    path: Path
    message: str
    value: Any
    keyword: str = ""


def rule_problems(rule: Any) -> list[tuple[Path, str]]:
    """Why ``rule`` is not a usable schema, each with its path inside the rule; empty when it is one."""
    from jsonschema import Draft202012Validator  # noqa: PLC0415 - see the module's docstring

    checker = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found = [(tuple(e.absolute_path), f"not a valid JSON Schema: {e.message}") for e in checker.iter_errors(rule)]
    found += [
        (path, f"{path[-1]} {target!r} points outside the rule; a rule may refer only to its own parts (#/…)")
        for path, target in _references(rule)
        if not (isinstance(target, str) and target.startswith("#"))
    ]
    return sorted(found, key=lambda item: [str(p) for p in item[0]])


def _references(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REFERENCES:
                yield (*path, key), value
            else:
                yield from _references(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, (*path, index))


class Rule:
    """A checked rule, compiled once and applied to many values."""

    def __init__(self, schema: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator  # noqa: PLC0415 - see the module's docstring
        from referencing.exceptions import Unresolvable  # noqa: PLC0415

        self._validator = Draft202012Validator(schema)
        self._unresolvable = Unresolvable
        self._holds = _predicate(schema)

    def violations(self, value: Any) -> list[Violation]:
        if self._holds is not None and self._holds(value):
            return []  # the common case, decided without jsonschema; a value that fails gets jsonschema's errors
        try:
            errors = sorted(self._validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
        except self._unresolvable as exc:  # a '#/…' that names nothing: the rule is broken, never a silent pass
            return [Violation((), f"the rule cannot be evaluated: {exc}", None)]
        return [Violation(tuple(e.absolute_path), _describe(e), e.instance, str(e.validator)) for e in errors]


# ── a fast path for the commonest rules ─────────────────────────────────────────────────────────────────────────────
#
# jsonschema builds a validator object for each subschema it descends into, which makes up most of a policy run on
# ten thousand models. A rule written only with the keywords below compiles to a plain predicate with the same
# meaning; when the predicate says a value holds, it does, and only a value that fails goes to jsonschema for its
# errors. A rule with any other keyword has no predicate and goes to jsonschema every time. (A test compares the two
# on generated values.)

Predicate = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default", "deprecated"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Predicate] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "number": _is_number,
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality, as JSON Schema's const and enum use it: true is not 1, and 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _predicate(schema: Any) -> Predicate | None:
    """``schema`` as a predicate, or None when it uses a keyword this fast path does not know."""
    if schema is True or schema == {}:
        return lambda _: True
    if schema is False:
        return lambda _: False
    if not isinstance(schema, dict):
        return None
    checks: list[Predicate] = []
    for keyword, expected in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _keyword(keyword, expected)
        if check is None:
            return None
        checks.append(check)
    return lambda value: all(check(value) for check in checks)


def _keyword(keyword: str, expected: Any) -> Predicate | None:
    if keyword == "properties" and isinstance(expected, dict):
        subs = {name: _predicate(sub) for name, sub in expected.items()}
        if any(sub is None for sub in subs.values()):
            return None
        checks = {name: sub for name, sub in subs.items() if sub is not None}
        return lambda v: not isinstance(v, dict) or all(c(v[k]) for k, c in checks.items() if k in v)
    if keyword == "patternProperties" and isinstance(expected, dict):
        pairs = [(re.compile(pattern), _predicate(sub)) for pattern, sub in expected.items()]
        if any(sub is None for _, sub in pairs):
            return None
        return lambda v: (
            not isinstance(v, dict)
            or all(sub(item) for key, item in v.items() for pattern, sub in pairs if sub and pattern.search(key))
        )
    if keyword == "required" and isinstance(expected, list):
        return lambda v: not isinstance(v, dict) or all(name in v for name in expected)
    if keyword == "type":
        names = expected if isinstance(expected, list) else [expected]
        tests = [_TYPES[name] for name in names if name in _TYPES]
        return None if len(tests) != len(names) else (lambda v: any(t(v) for t in tests))
    if keyword == "pattern" and isinstance(expected, str):
        compiled = re.compile(expected)
        return lambda v: not isinstance(v, str) or compiled.search(v) is not None
    if keyword in ("minLength", "maxLength") and isinstance(expected, int):
        longest = keyword == "maxLength"
        return lambda v: not isinstance(v, str) or (len(v) <= expected if longest else len(v) >= expected)
    if keyword in _BOUNDS and _is_number(expected):
        compare = _BOUNDS[keyword]
        return lambda v: not _is_number(v) or compare(v, expected)
    if keyword == "const":
        return lambda v: _equal(v, expected)
    if keyword == "enum" and isinstance(expected, list):
        return lambda v: any(_equal(v, option) for option in expected)
    return None


_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, b: bool(v >= b),
    "maximum": lambda v, b: bool(v <= b),
    "exclusiveMinimum": lambda v, b: bool(v > b),
    "exclusiveMaximum": lambda v, b: bool(v < b),
}


def shown(value: Any) -> str:
    """A value as a finding quotes it: short, and in JSON's words (null, true)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _describe(error: ValidationError) -> str:
    """jsonschema's message, without the whole value it quotes for some keywords (a change, a provider)."""
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword in _NAMES_KEYS:  # these name the keys at fault, and quote no value
        return str(error.message)
    if keyword == "pattern":
        return f"{shown(value)} does not match the pattern {expected}"
    if keyword == "const":
        return f"{shown(value)} is not {shown(expected)}"
    if keyword == "enum":
        allowed = expected if isinstance(expected, list) else []
        return f"{shown(value)} is not one of {', '.join(shown(e) for e in allowed)}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return f"{shown(value)} breaks {keyword} {shown(expected)}"
    if keyword == "not":
        return f"{shown(value)} is what the rule forbids"
    if keyword in ("contains", "minContains", "maxContains", "minItems", "maxItems"):
        return f"{shown(value)} breaks {keyword} {shown(expected)}"
    if keyword == "false":
        return "no value is allowed here"
    if isinstance(value, dict | list):  # never the whole object: it could be long, and it holds the credentials
        return f"{shown(value)} breaks {keyword} {shown(expected)}"
    message = str(error.message)
    return message if len(message) <= 2 * _SHOWN else message[: 2 * _SHOWN - 3] + "..."
