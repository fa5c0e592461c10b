"""Field-level differences between two normalized objects. The one module that talks to DeepDiff.

A change inside a list is shown as the whole list before and after: ``supportedRoles: [user] → [system, user]``
reads better in a review than "item 1 added".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dpm.values import Path


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[Path, Any, Any]]:
    """Every changed path with its value before and after (``None`` where the field is absent)."""
    if before == after:  # the common case in a clean plan, and far cheaper than asking DeepDiff
        return []
    # Imported on the first difference: a converged plan never needs DeepDiff, and it is a tenth of dpm's start-up.
    from deepdiff import DeepDiff  # noqa: PLC0415

    difference = DeepDiff(before, after, view="tree", verbose_level=2, ignore_numeric_type_changes=True)
    paths: dict[Path, None] = {}
    for levels in difference.values():
        for level in levels:
            path = tuple(level.path(output_format="list"))
            cut = next((i for i, part in enumerate(path) if isinstance(part, int)), len(path))
            paths[path[:cut]] = None
    return [(path, _get(before, path), _get(after, path)) for path in sorted(paths, key=_sort_key)]


def _get(value: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _sort_key(path: Path) -> tuple[str, ...]:
    return tuple(str(part) for part in path)
