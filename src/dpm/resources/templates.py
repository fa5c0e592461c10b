"""Provider templates: the built-in system templates, and template apply as the API defines it.

``apply_template`` is the single definition of what applying a template builds. The server's apply route and
dpm's ``fromTemplate`` expansion both call it, so a provider planned from a template ends exactly as the API's
apply would leave it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

# Customization keys that override the provider itself; every other key fills authConfig.fields.
TOP_LEVEL_CUSTOMIZATIONS: tuple[str, ...] = ("description", "apiEndpoint", "capabilities", "status")


@cache
def _system_templates() -> tuple[Mapping[str, Any], ...]:
    # JSON, not YAML: the server shares this package and reads it without a YAML parser. Prices are per 1,000
    # tokens, in USD.
    text = resources.files(__package__).joinpath("system_templates.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


def system_templates() -> list[dict[str, Any]]:
    """The eight built-in templates, as fresh copies (``id`` is a stable slug)."""
    return [copy.deepcopy(dict(t)) for t in _system_templates()]


def find_system_template(ref: str) -> dict[str, Any] | None:
    """The system template whose id slug or name is ``ref``."""
    for template in _system_templates():
        if ref in (template["id"], template["name"]):
            return copy.deepcopy(dict(template))
    return None


def system_template_refs() -> list[str]:
    return [t["id"] for t in _system_templates()]


def apply_template(
    template: Mapping[str, Any], identifier: str, name: str, customizations: Mapping[str, Any]
) -> dict[str, Any]:
    """The provider (with its ``models``) that applying ``template`` builds."""
    provider: dict[str, Any] = {"identifier": identifier, "name": name, "status": "active"}
    provider.update(copy.deepcopy(dict(template.get("providerConfig") or {})))
    auth = provider.setdefault("authConfig", {"type": provider.get("authMethod")})
    fields = auth.setdefault("fields", {})
    for key, value in customizations.items():
        if key in TOP_LEVEL_CUSTOMIZATIONS:
            provider[key] = copy.deepcopy(value)
        else:
            fields[key] = value
    provider["models"] = copy.deepcopy(list(template.get("defaultModels") or []))
    return provider
