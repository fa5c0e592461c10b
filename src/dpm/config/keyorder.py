"""The canonical key order of config files, read from the resource models that the published schemas come from.

A ``Shape`` is the order of one object's keys and the shapes of the objects below it. It is derived from the
pydantic models (``dpm.resources.models``), so a field added there is placed by ``dpm fmt`` without another list to
keep in step. Two rules sit on top of the models' order:

- ``kind`` comes first: it says how to read everything after it.
- A model's flags, ``isDefault`` and ``status``, come right after ``contextLength``, before the nested
  ``capabilities`` and ``pricingInfo``, as in the README and the example config.

Free-form mappings (``authConfig.fields``, ``headers``, ``customizations``, ``vars``) are the user's own data and
keep the order they were written in.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dpm.config.load import PROJECT_FILES
from dpm.resources import models

_FIRST = ("kind",)
_AFTER: dict[type[BaseModel], tuple[str, tuple[str, ...]]] = {
    models.ModelSpec: ("contextLength", ("isDefault", "status"))
}


@dataclass(frozen=True)
class Shape:
    """The canonical order of an object's keys, and the shape of each key's value when that is an object too."""

    keys: tuple[str, ...] = ()
    children: Mapping[str, Shape] = field(default_factory=dict)

    def order(self, keys: Iterable[str]) -> list[str]:
        """``keys`` in canonical order. A key the shape does not know (a typo, say) stays right after the known key
        written before it, so that validate's error and the key are still found together."""
        placed: list[tuple[int, int, str]] = []
        last = -1
        for position, key in enumerate(keys):
            if key in self.keys:
                last = self.keys.index(key)
            placed.append((last, position if key not in self.keys else -1, key))
        return [key for _, _, key in sorted(placed)]


def shape_of(model: type[BaseModel]) -> Shape:
    keys = _ordered(model, [name for name in _FIRST if name in model.model_fields] + list(model.model_fields))
    children = {}
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation)
        if nested is not None:
            children[name] = shape_of(nested)
    return Shape(tuple(dict.fromkeys(keys)), children)


def _ordered(model: type[BaseModel], keys: list[str]) -> list[str]:
    if model not in _AFTER:
        return keys
    anchor, moved = _AFTER[model]
    rest = [key for key in keys if key not in moved]
    at = rest.index(anchor) + 1
    return [*rest[:at], *moved, *rest[at:]]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None``, ``list[X]`` or ``Annotated[X, …]``; None for anything free-form."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for argument in typing.get_args(annotation):
            found = _nested_model(argument)
            if found is not None:
                return found
    return None


PROVIDER = shape_of(models.ProviderDocument)
TEMPLATED_PROVIDER = shape_of(models.TemplatedProviderDocument)
TEMPLATE = shape_of(models.ProviderTemplateDocument)
PROJECT = shape_of(models.ProjectConfig)
ENVIRONMENT = shape_of(models.EnvironmentConfig)


def document_shape(document: Mapping[str, Any]) -> Shape | None:
    """The shape of a config document, chosen by its ``kind``; None for a kind dpm does not know."""
    kind = document.get("kind")
    if kind == "Provider":
        return TEMPLATED_PROVIDER if "fromTemplate" in document else PROVIDER
    if kind == "ProviderTemplate":
        return TEMPLATE
    return None


def file_shapes(path: Path) -> Callable[[Mapping[str, Any]], Shape | None]:
    """How to order the documents of the file at ``path``: ``dpm.yaml`` and ``environments/*.yaml`` by their own
    schemas, every other file by each document's ``kind``."""
    if path.name in PROJECT_FILES:
        return lambda _: PROJECT
    if path.parent.name == "environments":
        return lambda _: ENVIRONMENT
    return document_shape
