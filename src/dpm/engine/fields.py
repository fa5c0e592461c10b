"""The fields a change shows: an update's differences and a delete's old values as the plan lists them, and a
create's values read from its request body, as the diff saw them.

A create holds its body only (one copy of each value); its fields are derived here, when a report or a policy
asks, through the same normalization as the diff's: server defaults filled in, unordered lists sorted, and each
secret shown as a token, never as its marker or value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dpm.engine.normalize import model_view, provider_view, template_view
from dpm.engine.payload import is_marker
from dpm.engine.plan import Change, FieldChange
from dpm.values import Path, format_path, rebuild

NEW_SECRET = "(sensitive value, new)"  # what the diff shows for a secret the registry does not hold yet
_VIEWS = {"provider": provider_view, "model": model_view, "template": template_view}


def fields_of(change: Change) -> list[FieldChange]:
    """The fields ``change`` shows, in the order the diff lists them."""
    if change.action != "create" or change.body is None:
        return change.fields
    return [FieldChange(path=format_path(path), after=value) for path, value in leaves(created_view(change))]


def created_view(change: Change) -> dict[str, Any]:
    """The normalized form of what a create writes, with its secrets as tokens."""
    body = rebuild(change.body, lambda leaf: NEW_SECRET if is_marker(leaf) else leaf, is_leaf=is_marker)
    view = _VIEWS[change.kind](body)
    secrets = _secret_fields(view.get("providerConfig") if change.kind == "template" else view)
    for note in change.secrets:  # a sensitive name given as a literal reads as a secret too, as in the diff
        if note.field in secrets:
            secrets[note.field] = NEW_SECRET
    return view


def leaves(value: Mapping[str, Any], path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every non-mapping value with its path (an empty mapping is a value): a created object as a list of fields."""
    for key, child in value.items():
        if isinstance(child, Mapping) and child:
            yield from leaves(child, (*path, key))
        else:
            yield (*path, key), child


def _secret_fields(config: Any) -> dict[str, Any]:
    auth = config.get("authConfig") if isinstance(config, dict) else None
    fields = auth.get("fields") if isinstance(auth, dict) else None
    return fields if isinstance(fields, dict) else {}
