"""The built-in pack ``dpm:recommended``: rules that fit almost every registry. ``extends: [dpm:recommended]`` in
dpm.yaml turns it on; ``disable: [name]`` turns one of them off."""

from __future__ import annotations

from typing import Any

RECOMMENDED = "dpm:recommended"
PACKS: tuple[str, ...] = (RECOMMENDED,)

# Loopback is where a local model server (Ollama, vLLM on a laptop) legitimately speaks plain HTTP.
_HTTPS_OR_LOOPBACK = r"^(https://|http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?(/|$))"
# Header names that carry credentials: their value must be the API's placeholder ({{apiKey}}), never the key itself.
_CREDENTIAL_HEADERS = r"(?i)^(authorization|proxy-authorization|x-api-key|api-key|.*-key|.*token.*|.*secret.*)$"

_PACK: list[dict[str, Any]] = [
    {
        "name": "https-endpoints",
        "description": "Providers use HTTPS, except on loopback.",
        "target": "Provider",
        "rule": {"properties": {"apiEndpoint": {"pattern": _HTTPS_OR_LOOPBACK}}},
    },
    {
        "name": "models-priced",
        "description": "Every model has input and output prices.",
        "target": "Model",
        "rule": {
            "required": ["pricingInfo"],
            "properties": {"pricingInfo": {"required": ["inputTokenPrice", "outputTokenPrice"]}},
        },
    },
    {
        "name": "price-currency",
        "description": "Every price names its currency.",
        "target": "Model",
        "rule": {"properties": {"pricingInfo": {"required": ["currency"]}}},
    },
    {
        "name": "one-default-model",
        "description": "A provider has at most one default model.",
        "target": "Provider",
        "rule": {
            "properties": {
                "models": {
                    "contains": {"properties": {"isDefault": {"const": True}}, "required": ["isDefault"]},
                    "minContains": 0,
                    "maxContains": 1,
                }
            }
        },
    },
    {
        "name": "no-literal-header-secrets",
        "description": "A credential header holds a {{field}} placeholder, never the secret itself.",
        "target": "Provider",
        "rule": {
            "properties": {
                "authConfig": {
                    "properties": {
                        "headers": {"patternProperties": {_CREDENTIAL_HEADERS: {"pattern": r"\{\{\s*\w+\s*\}\}"}}}
                    }
                }
            }
        },
    },
]


def pack(name: str) -> list[dict[str, Any]]:
    """The policy documents of a built-in pack, as a policy file would hold them."""
    assert name == RECOMMENDED
    return [{"kind": "Policy", "severity": "error", **policy} for policy in _PACK]
