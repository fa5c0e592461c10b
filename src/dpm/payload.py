"""Request bodies: what apply sends for each change, written into the plan without any secret value.

A secret in a body is a marker ``{"$secret": "<expression as written>", "fingerprint": "sha256:…"}``. Apply
resolves it from its own environment and refuses when the value no longer matches the fingerprint taken when the
plan was made: the reviewed plan is the one carried out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from dpm.compile import DesiredState
from dpm.errors import DpmError
from dpm.plan import Change
from dpm.render import Renderer, Secret
from dpm.resources.secrets import REDACTED, fingerprint, fingerprint_matches

MARKER = "$secret"
_VOLATILE = frozenset({"lastTested", "testResult", "modelCount"})


class SecretMoved(DpmError):
    exit_code = 3


def body(change: Change, desired: DesiredState) -> dict[str, Any] | None:
    """The API object a create or update sends, with secrets as markers; None for a delete."""
    if change.action == "delete":
        return None
    if change.kind == "template":
        template: dict[str, Any] = _marked(desired.templates[change.identifier])
        return template
    if change.kind == "provider":
        provider: dict[str, Any] = _marked(
            {k: v for k, v in desired.providers[change.identifier].items() if k != "models"}
        )
        return provider
    assert change.provider is not None
    model = next(m for m in desired.providers[change.provider]["models"] if m["identifier"] == change.identifier)
    return {**_marked(model), "providerIdentifier": change.provider}


def _marked(value: Any) -> Any:
    if isinstance(value, Secret):
        revealed = value.reveal()
        return {MARKER: value.source, "fingerprint": fingerprint(revealed) if revealed is not None else None}
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value


def is_marker(value: Any) -> bool:
    return isinstance(value, Mapping) and MARKER in value


def unresolved(value: Any, renderer: Renderer) -> list[str]:
    """The secret expressions in ``value`` whose variables are not set in the environment."""
    if is_marker(value):
        secret = renderer.render_string(str(value[MARKER]))
        return [] if isinstance(secret, Secret) and secret.known else [str(value[MARKER])]
    if isinstance(value, Mapping):
        return [found for child in value.values() for found in unresolved(child, renderer)]
    if isinstance(value, list):
        return [found for child in value for found in unresolved(child, renderer)]
    return []


def resolve(value: Any, renderer: Renderer) -> Any:
    """``value`` ready to send: each marker becomes the secret's value, or ``[REDACTED]`` (keep the stored one)
    when the environment lacks it. Raises ``SecretMoved`` when a value differs from the plan's fingerprint."""
    if is_marker(value):
        secret = renderer.render_string(str(value[MARKER]))
        revealed = secret.reveal() if isinstance(secret, Secret) else None
        if revealed is None:
            return REDACTED
        expected = value.get("fingerprint")
        if expected and fingerprint_matches(str(expected), revealed) is False:
            raise SecretMoved(
                f"the secret {value[MARKER]} has changed since the plan was made",
                "make a new plan with the current secrets, review it, and apply that",
            )
        return revealed
    if isinstance(value, Mapping):
        return {k: resolve(v, renderer) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, renderer) for v in value]
    return value


def live_version(live: Mapping[str, Any] | None) -> str | None:
    """What identifies the live object's current state: its etag, or a digest of its content."""
    if live is None:
        return None
    if live.get("etag"):
        return str(live["etag"])
    content = {k: v for k, v in live.items() if k not in _VOLATILE}
    return "sha256:" + hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
