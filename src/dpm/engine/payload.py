"""Request bodies: what apply sends for each change, written into the plan without any secret value.

A secret in a body is a marker ``{"$secret": "<expression as written>", "fingerprint": "sha256:…"}``. Apply
resolves it from its own environment and refuses when the value no longer matches the fingerprint taken when the
plan was made: the reviewed plan is the one carried out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from dpm.config.compile import DesiredState
from dpm.config.render import Renderer
from dpm.engine.plan import Change
from dpm.errors import DpmError
from dpm.resources.secrets import REDACTED, fingerprint, fingerprint_matches
from dpm.values import Path, Secret, rebuild

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
    """``value`` with each secret as a marker. A dict or list that holds no secret is shared with the desired
    state rather than copied: bodies are only read (resolving one builds a new one), and a plan of ten thousand
    models would otherwise hold the config twice."""
    if isinstance(value, Secret):
        return _marker(value)
    if isinstance(value, dict):
        marked = {k: _marked(v) for k, v in value.items()}
        return value if all(marked[k] is v for k, v in value.items()) else marked
    if isinstance(value, list):
        items = [_marked(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _marker(value: Any) -> Any:
    if isinstance(value, Secret):
        revealed = value.reveal()
        return {MARKER: value.source, "fingerprint": fingerprint(revealed) if revealed is not None else None}
    return value


def is_marker(value: Any) -> bool:
    return isinstance(value, Mapping) and MARKER in value


def unresolved(value: Any, renderer: Renderer) -> list[tuple[Path, str]]:
    """Where ``value`` holds a secret whose variables are not set in the environment, and its expression."""
    return [(path, str(marker[MARKER])) for path, marker in markers(value) if _secret(marker, renderer) is None]


def markers(value: Any, path: Path = ()) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every secret marker in ``value``, with its path (a walk of containers only: every body is read)."""
    if isinstance(value, dict):
        if MARKER in value:
            yield path, value
            return
        for key, child in value.items():
            if isinstance(child, dict | list):
                yield from markers(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            if isinstance(child, dict | list):
                yield from markers(child, (*path, index))


def resolve(value: Any, renderer: Renderer) -> Any:
    """``value`` ready to send: each marker becomes the secret's value, or ``[REDACTED]`` (keep the stored one)
    when the environment lacks it. Raises ``SecretMoved`` when a value differs from the plan's fingerprint."""
    return rebuild(value, lambda leaf: _resolved(leaf, renderer) if is_marker(leaf) else leaf, is_leaf=is_marker)


def check_secrets(value: Any, renderer: Renderer) -> None:
    """Raise ``SecretMoved`` as ``resolve`` would, without building the resolved copy of ``value``."""
    for _, marker in markers(value):
        _resolved(marker, renderer)


def _secret(marker: Mapping[str, Any], renderer: Renderer) -> str | None:
    secret = renderer.render_string(str(marker[MARKER]))
    return secret.reveal() if isinstance(secret, Secret) else None


def _resolved(marker: Mapping[str, Any], renderer: Renderer) -> str:
    revealed = _secret(marker, renderer)
    if revealed is None:
        return REDACTED
    expected = marker.get("fingerprint")
    if expected and fingerprint_matches(str(expected), revealed) is False:
        raise SecretMoved(
            f"the secret {marker[MARKER]} has changed since the plan was made",
            "make a new plan with the current secrets, review it, and apply that",
        )
    return revealed


def live_version(live: Mapping[str, Any] | None) -> str | None:
    """What identifies the live object's current state: its etag, or a digest of its content."""
    if live is None:
        return None
    if live.get("etag"):
        return str(live["etag"])
    content = {k: v for k, v in live.items() if k not in _VOLATILE}
    return "sha256:" + hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
