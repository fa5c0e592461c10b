"""Normalization: desired and live objects in one comparable form, so server defaults and ordering are no diff.

Both sides pass through the same functions. What the server adds on its own (ids, timestamps, counts, test
results, etags, fingerprints) is dropped; what it fills in by default (``supportedAuthMethods``, currency ``USD``,
``status``) is filled in on both sides; lists whose order carries no meaning are sorted.

Secrets cannot be compared by value, since the registry never returns them. ``pair_secrets`` compares a desired
secret with the live fingerprint and replaces both by tokens that are equal exactly when the values are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dpm.resources import models
from dpm.resources.secrets import REDACTED, fingerprint_matches, is_sensitive_field
from dpm.values import Secret

PROVIDER_FIELDS = ("name", "description", "apiEndpoint", "authMethod", "authConfig", "capabilities", "status")
MODEL_FIELDS = ("name", "description", "contextLength", "capabilities", "pricingInfo", "status", "isDefault")
TEMPLATE_FIELDS = ("description", "providerConfig", "defaultModels")
_UNORDERED = ("supportedRoles", "supportedAuthMethods")
AUTH_FIELDS = tuple(models.AuthConfig.model_fields)

SecretStatus = Literal["same", "changed", "unknown", "added", "removed"]


_PLAIN = frozenset({str, int, float, bool})


def _clean(value: Any) -> Any:
    """Drop ``None`` values and sort unordered lists, all the way down."""
    # Plain values, most of them, are kept without a call each or a (much slower) check against the Mapping ABC.
    if type(value) is dict or isinstance(value, Mapping):
        return {
            k: sorted(v) if k in _UNORDERED else v if type(v) in _PLAIN else _clean(v)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [v if type(v) in _PLAIN else _clean(v) for v in value]
    return value


def provider_view(provider: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable form of a provider (without models and without its secrets' values)."""
    view: dict[str, Any] = _clean({k: provider.get(k) for k in PROVIDER_FIELDS})
    view.setdefault("status", "active")
    auth = {k: v for k, v in (view.get("authConfig") or {}).items() if k in AUTH_FIELDS}
    view["authConfig"] = auth
    auth.setdefault("fields", {})
    auth.setdefault("headers", {})
    capabilities = view.get("capabilities")
    if isinstance(capabilities, dict):
        capabilities.setdefault("supportedAuthMethods", [view.get("authMethod")])
        if not capabilities.get("rateLimits"):
            capabilities.pop("rateLimits", None)
    return view


def model_view(model: Mapping[str, Any]) -> dict[str, Any]:
    # A plan compares every model twice over (desired and live), so this is _clean's first level written out.
    view: dict[str, Any] = {}
    for key in MODEL_FIELDS:
        value = model.get(key)
        if value is not None:
            view[key] = value if type(value) in _PLAIN else _clean(value)
    view.setdefault("status", "active")
    view.setdefault("isDefault", False)
    pricing = view.get("pricingInfo")
    if isinstance(pricing, dict):
        pricing.setdefault("currency", "USD")
        if set(pricing) == {"currency"} and pricing["currency"] == "USD":
            del view["pricingInfo"]
    return view


def template_view(template: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = _clean({k: template.get(k) for k in TEMPLATE_FIELDS})
    config = view.setdefault("providerConfig", {})
    if isinstance(config.get("authConfig"), dict):
        config["authConfig"] = {k: v for k, v in config["authConfig"].items() if k in AUTH_FIELDS}
    view.setdefault("defaultModels", [])
    view["defaultModels"] = sorted(
        (model_view(m) | {"identifier": m.get("identifier")} for m in view["defaultModels"]),
        key=lambda m: str(m["identifier"]),
    )
    return view


@dataclass(frozen=True)
class SecretComparison:
    field: str
    status: SecretStatus


def pair_secrets(
    desired_fields: dict[str, Any], live_fields: dict[str, Any], fingerprints: Mapping[str, str]
) -> list[SecretComparison]:
    """Compare sensitive fields in place: each side's value becomes a token; returns what was found per field.

    Equal tokens mean "the same value" or "cannot tell" (``unknown``, which the plan reports as a warning,
    never as a silent pass).
    """
    found = []
    names = [n for n in dict.fromkeys([*desired_fields, *live_fields]) if _sensitive(n, desired_fields, live_fields)]
    for name in names:
        status = _secret_status(desired_fields.get(name), live_fields.get(name), fingerprints.get(name))
        found.append(SecretComparison(name, status))
        if name in desired_fields:
            desired_fields[name] = "(sensitive value)" if status in ("same", "unknown") else "(sensitive value, new)"
        if name in live_fields:
            live_fields[name] = "(sensitive value)"
    return found


def _sensitive(name: str, desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    return is_sensitive_field(name) or isinstance(desired.get(name), Secret) or live.get(name) == REDACTED


def _secret_status(desired: Any, live: Any, print_: str | None) -> SecretStatus:
    if live is None:
        return "added"
    if desired is None:
        return "removed"
    value = desired.reveal() if isinstance(desired, Secret) else desired
    if value is None:
        return "unknown"
    if live != REDACTED:
        return "same" if live == value else "changed"
    if print_ is None:
        return "unknown"
    matches = fingerprint_matches(print_, str(value))
    if matches is None:
        return "unknown"
    return "same" if matches else "changed"
