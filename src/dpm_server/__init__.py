"""The dpm registry server: a faithful implementation of the Dynamic Provider Management API.

Build an app with :func:`create_app` from :class:`Settings`; ``dpm serve`` runs it under uvicorn, and the embedded
registry (``dpm_server.embedded``) runs the same app in-process.

Importing this package alone loads no server code: the dpm CLI reads ``COMMAND_SUMMARIES`` for its help without
paying for FastAPI and SQLAlchemy. The public names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpm_server.app import create_app, embedded_admin_token
    from dpm_server.settings import Settings

__all__ = ["COMMAND_SUMMARIES", "Settings", "create_app", "embedded_admin_token"]

# The one-line help of the commands the dpm CLI loads lazily from ``dpm_server.cli``.
COMMAND_SUMMARIES = {
    "serve": "Run the registry server (the Dynamic Provider Management API).",
    "users": "Manage the registry server's users.",
}

_LAZY = {"create_app": "dpm_server.app", "embedded_admin_token": "dpm_server.app", "Settings": "dpm_server.settings"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'dpm_server' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(_LAZY[name]), name)
