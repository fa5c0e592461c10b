"""Optional dependencies: the PostgreSQL driver and the Redis client are extras, loaded only when a setting asks.

The plain install (the CLI and the embedded SQLite registry) needs neither; a setting that needs one names the
extra to install instead of failing with an import error.
"""

from __future__ import annotations

import importlib
from types import ModuleType

DISTRIBUTION = "dpm-gitops"


class MissingExtra(RuntimeError):
    """A setting asks for an optional dependency that is not installed."""

    def __init__(self, wanted_by: str, extra: str, missing: str | None) -> None:
        super().__init__(
            f"{wanted_by} needs the '{extra}' extra ({missing or 'a module'} is not installed): "
            f"pip install '{DISTRIBUTION}[{extra}]'"
        )


def optional_module(name: str, extra: str, wanted_by: str) -> ModuleType:
    """Import ``name``, which needs the ``extra``; ``wanted_by`` names the setting that asked for it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise MissingExtra(wanted_by, extra, exc.name) from None
