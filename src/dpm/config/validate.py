"""Validation: each rendered document against the resource vocabulary's schema.

Pydantic checks types, required keys, enums and unknown keys in one pass and reports every failure; this module
turns each failure into a diagnostic at the line it concerns, with a suggestion where one can be made.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dpm.config.yamlio import Document
from dpm.resources import models, rules
from dpm.resources.rules import did_you_mean
from dpm.values import Diagnostic, Path, Secret, rebuild

_PLACEHOLDER = "********"
_MESSAGES = {
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "string_too_short": "must be at least {min_length} character(s) long",
    "string_too_long": "must be at most {max_length} characters long",
    "string_pattern_mismatch": "must match the pattern {pattern}",
}


@dataclass(frozen=True)
class Checked:
    """A document that passed its schema: the source (for positions), the model it passed as, and its value as
    plain data (the model's fields, ``kind`` left out; unset optional fields too, except in a templated provider's
    ``customizations``). Plain data, so that the compile cache can keep it."""

    document: Document
    kind: type[BaseModel]
    data: dict[str, Any]


def checked_data(value: BaseModel) -> dict[str, Any]:
    """A validated document as ``Checked.data``."""
    # customizations keep their nulls: each key fills an authConfig.fields entry as written
    keep_nulls = isinstance(value, models.TemplatedProviderDocument)
    data: dict[str, Any] = value.model_dump(mode="python", exclude_none=not keep_nulls)
    data.pop("kind", None)
    return data


def check_documents(documents: Sequence[Document]) -> tuple[list[Checked], list[Diagnostic]]:
    """Schema and per-document business rules for each document; the rules run even where the schema fails."""
    checked: list[Checked] = []
    problems: list[Diagnostic] = []
    for document in documents:
        model, found = document_model(document)
        problems += found
        if model is None:
            continue
        value, found = check_schema(model, document)
        problems += found
        problems += rule_diagnostics(document, (), _document_rules(model, hidden(document)))
        if value is not None:
            checked.append(Checked(document, model, checked_data(value)))
    return checked, problems


def _document_rules(model: type[BaseModel], data: dict[str, Any]) -> list[rules.Violation]:
    if model is models.ProviderDocument:
        return rules.provider_tree_violations(data) + _reserved(data.get("identifier"))
    if model is models.TemplatedProviderDocument:
        return _reserved(data.get("identifier"))
    if model is models.ProviderTemplateDocument:
        config = data.get("providerConfig")
        capabilities = config.get("capabilities") if isinstance(config, dict) else None
        template = {"capabilities": capabilities, "defaultModels": data.get("defaultModels")}
        return [v for v in rules.provider_tree_violations(template, "defaultModels") if v.path[0] == "defaultModels"]
    return []


def _reserved(identifier: object) -> list[rules.Violation]:
    if not isinstance(identifier, str) or not identifier.startswith(models.CANARY_PREFIX):
        return []
    message = f"the prefix '{models.CANARY_PREFIX}' is reserved for the canary copies of a gated apply"
    return [rules.Violation(("identifier",), message, identifier, "choose an identifier without that prefix")]


def rule_diagnostics(document: Document, base: Path, violations: Sequence[rules.Violation]) -> list[Diagnostic]:
    return [
        Diagnostic.error("rule", v.message, document.mark((*base, *v.path)), (*base, *v.path), v.suggestion)
        for v in violations
    ]


def document_model(document: Document) -> tuple[type[BaseModel] | None, list[Diagnostic]]:
    """The model a document's ``kind`` names."""
    data = document.data
    if not isinstance(data, dict):
        message = f"a document must be a mapping with a 'kind' key, not a {_type_name(data)}"
        return None, [Diagnostic.error("not-a-mapping", message, document.mark(()))]
    kind = data.get("kind")
    if kind == "Provider":
        return (models.TemplatedProviderDocument if "fromTemplate" in data else models.ProviderDocument), []
    if kind == "ProviderTemplate":
        return models.ProviderTemplateDocument, []
    kinds = ", ".join(models.DOCUMENT_KINDS)
    if kind is None:
        hint = "add 'kind: Provider' or 'kind: ProviderTemplate'"
        return None, [Diagnostic.error("missing-kind", "missing required key 'kind'", document.mark(()), hint=hint)]
    hint = did_you_mean(str(kind), models.DOCUMENT_KINDS) or f"kind is one of: {kinds}"
    message = f"unknown kind {kind!r}"
    return None, [Diagnostic.error("unknown-kind", message, document.mark(("kind",)), ("kind",), hint)]


def check_schema(
    model: type[BaseModel], document: Document, data: Any = None, base: Path = ()
) -> tuple[BaseModel | None, list[Diagnostic]]:
    """``data`` (by default the whole document) validated as ``model``; ``base`` is its path in the document."""
    try:
        return model.model_validate(hidden(document) if data is None else without_secrets(data)), []
    except ValidationError as exc:
        return None, [_diagnostic(model, document, base, error) for error in exc.errors()]


def hidden(document: Document) -> Any:
    """The document's data as checks see it: each secret replaced by a placeholder. Only the containers on the
    way to a secret are copied; the rest is shared with the document."""
    copies: dict[Path, Any] = {(): _shallow(document.data)} if document.secrets else {}
    for path in document.secrets:
        for end in range(1, len(path)):
            if path[:end] not in copies:
                copies[path[:end]] = copies[path[: end - 1]][path[end - 1]] = _shallow(
                    copies[path[: end - 1]][path[end - 1]]
                )
        copies[path[:-1]][path[-1]] = _PLACEHOLDER
    return copies.get((), document.data)


def _shallow(value: Any) -> Any:
    return value.copy() if isinstance(value, dict | list) else value


def without_secrets(value: Any) -> Any:
    """``value`` with every ``Secret`` replaced by a placeholder: what checks see, since errors may echo values."""
    return rebuild(value, lambda leaf: _PLACEHOLDER if isinstance(leaf, Secret) else leaf)


def _diagnostic(model: type[BaseModel], document: Document, base: Path, error: ErrorDetails) -> Diagnostic:
    path: Path = (*base, *error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        hint = did_you_mean(name, _field_names(model, error["loc"][:-1]))
        return Diagnostic.error("unknown-key", f"unknown key '{name}'", document.mark(path, key=True), path, hint)
    if kind == "too_many_errors":  # an object with more unknown keys than are listed: the count of the rest
        return Diagnostic.error("unknown-key", error["msg"], document.mark(path), path)
    if kind == "missing":
        name = str(error["loc"][-1])
        where = document.mark(path[:-1])
        return Diagnostic.error("required", f"missing required key '{name}'", where, path)
    pattern = str(error.get("ctx", {}).get("pattern"))
    if kind == "string_pattern_mismatch" and (known := models.PATTERN_HELP.get(pattern)):
        return Diagnostic.error("pattern", known[0], document.mark(path), path, known[1])
    message = _MESSAGES[kind].format(**error.get("ctx", {})) if kind in _MESSAGES else error["msg"]
    hint = None
    if kind == "literal_error":
        expected = _literal_values(model, error["loc"])
        message = "must be one of: " + ", ".join(str(e) for e in expected)
        hint = did_you_mean(str(error["input"]), [str(e) for e in expected])
    return Diagnostic.error(_code(kind), f"{message}, got {_describe(error['input'])}", document.mark(path), path, hint)


def _code(kind: str) -> str:
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "type"
    return {"literal_error": "enum"}.get(kind, "schema")


def _describe(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a {_type_name(value)}"
    text = repr(value)
    return f"{_type_name(value)} {text if len(text) <= 60 else text[:57] + '...'}"


def _type_name(value: Any) -> str:
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _unwrap(annotation: Any) -> list[Any]:
    """The classes an annotation may hold, looking through Optional, unions, lists and dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, dict):
        return [inner for arg in typing.get_args(annotation) for inner in _unwrap(arg)]
    return []


def _owner(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class at ``loc`` inside ``model``."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        candidates = _unwrap(info.annotation) if info else []
        current = candidates[0] if candidates else None
    return current


def _field_names(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    owner = _owner(model, loc)
    return list(owner.model_fields) if owner else []


def _literal_values(model: type[BaseModel], loc: Sequence[int | str]) -> tuple[Any, ...]:
    """The values allowed at ``loc``, whose annotation holds a Literal somewhere (``list[AuthMethod] | None``)."""
    names = list(loc)
    while names and isinstance(names[-1], int):
        names.pop()
    owner = _owner(model, names[:-1]) if names else None
    info = owner.model_fields.get(str(names[-1])) if owner else None
    return _find_literal(info.annotation) if info else ()


def _find_literal(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if found := _find_literal(arg):
            return found
    return ()
