"""Live state: the registry's bulk export, read once, indexed the way the diff needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dpm.errors import DpmError
from dpm.resources.models import CANARY_PREFIX


def is_canary(identifier: str) -> bool:
    return identifier.startswith(CANARY_PREFIX)


@dataclass
class LiveState:
    """What the registry holds. Providers by identifier, models by provider then model identifier, custom
    templates by name (system templates are left out). Objects are the export's own dicts (with ``id``, ``etag``
    and fingerprints).

    The canary copies of a gated apply (``dpm-canary-…``) and their models are kept apart, in ``canaries``: they
    are dpm's own, for the length of one test, so nothing compares, keeps, prunes or dumps them."""

    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    revision: int | None = None
    canaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    canary_models: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def find(self, kind: str, identifier: str, provider: str | None = None) -> dict[str, Any] | None:
        """The live object a change of ``kind`` names, or None."""
        if kind == "template":
            return self.templates.get(identifier)
        if kind == "provider":
            return (self.canaries if is_canary(identifier) else self.providers).get(identifier)
        models = self.canary_models if is_canary(provider or "") else self.models
        return models.get(provider or "", {}).get(identifier)


def live_from_export(document: Mapping[str, Any]) -> LiveState:
    """Index an export document (``{data: {providers, models, templates}, metadata}``)."""
    data = document.get("data")
    if not isinstance(data, Mapping):
        raise DpmError("the registry's export has no 'data' object", "is the registry URL the API base, e.g. …/api?")
    state = LiveState(revision=(document.get("metadata") or {}).get("revision"))
    by_id: dict[str, str] = {}
    for provider in data.get("providers") or []:
        identifier = provider["identifier"]
        providers, models = (
            (state.canaries, state.canary_models) if is_canary(identifier) else (state.providers, state.models)
        )
        providers[identifier] = provider
        models.setdefault(identifier, {})
        by_id[str(provider.get("id"))] = identifier
    for model in data.get("models") or []:
        owner = model.get("providerIdentifier") or by_id.get(str(model.get("providerId")))
        if owner is not None:
            models = state.canary_models if is_canary(owner) else state.models
            models.setdefault(owner, {})[model["identifier"]] = model
    for template in data.get("templates") or []:
        if not template.get("isSystem"):  # built into every registry: never managed, never deleted
            state.templates[template["name"]] = template
    return state
