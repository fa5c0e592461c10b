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
        "tests": [
            {"name": "https passes", "input": {"apiEndpoint": "https://api.example.com/v1"}},
            {"name": "loopback passes", "input": {"apiEndpoint": "http://localhost:11434/v1"}},
            {"name": "plain http fails", "input": {"apiEndpoint": "http://api.example.com"}, "fails": ["apiEndpoint"]},
            {
                "name": "a lookalike host fails",
                "input": {"apiEndpoint": "http://localhost.evil.example/"},
                "fails": ["apiEndpoint"],
            },
        ],
    },
    {
        "name": "models-priced",
        "description": "Every model has input and output prices.",
        "target": "Model",
        "rule": {
            "required": ["pricingInfo"],
            "properties": {"pricingInfo": {"required": ["inputTokenPrice", "outputTokenPrice"]}},
        },
        "tests": [
            {"name": "no price fails", "input": {"identifier": "m"}, "fails": [""]},
            {"name": "half a price fails", "input": {"pricingInfo": {"inputTokenPrice": 1}}, "fails": ["pricingInfo"]},
            {"name": "both prices pass", "input": {"pricingInfo": {"inputTokenPrice": 1, "outputTokenPrice": 2}}},
        ],
    },
    {
        "name": "price-currency",
        "description": "Every price names its currency.",
        "target": "Model",
        "rule": {"properties": {"pricingInfo": {"required": ["currency"]}}},
        "tests": [
            {"name": "no currency fails", "input": {"pricingInfo": {"inputTokenPrice": 1}}, "fails": ["pricingInfo"]},
            {"name": "a currency passes", "input": {"pricingInfo": {"currency": "USD"}}},
        ],
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
        "tests": [
            {
                "name": "two defaults fail",
                "input": {"models": [{"isDefault": True}, {"isDefault": True}]},
                "fails": ["models"],
            },
            {"name": "one default passes", "input": {"models": [{"isDefault": True}, {"isDefault": False}]}},
        ],
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
        "tests": [
            {
                "name": "a literal key fails",
                "input": {"authConfig": {"headers": {"x-api-key": "sk-live-123"}}},
                "fails": ["authConfig.headers.x-api-key"],
            },
            {
                "name": "a placeholder passes",
                "input": {"authConfig": {"headers": {"Authorization": "Bearer {{apiKey}}"}}},
            },
            {"name": "other headers are free", "input": {"authConfig": {"headers": {"x-team": "search"}}}},
        ],
    },
]


def pack(name: str) -> list[dict[str, Any]]:
    """The policy documents of a built-in pack, as a policy file would hold them."""
    assert name == RECOMMENDED
    return [{"kind": "Policy", "severity": "error", **policy} for policy in _PACK]
