"""A policy's rule: a JSON Schema (draft 2020-12). The one module that talks to jsonschema.

A rule is checked against the draft's metaschema when it is loaded (with its formats, so a bad ``pattern`` is
caught there), and may refer only to its own parts: a policy file arrives in a pull request, and dpm fetches
nothing that a file names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable

from dpm.values import Path

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
        self._validator = Draft202012Validator(schema)

    def violations(self, value: Any) -> list[Violation]:
        try:
            errors = sorted(self._validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
        except Unresolvable as exc:  # a '#/…' that names nothing: the rule is broken, never a silent pass
            return [Violation((), f"the rule cannot be evaluated: {exc}", None)]
        return [Violation(tuple(e.absolute_path), _describe(e), e.instance, str(e.validator)) for e in errors]


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
