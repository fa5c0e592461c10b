"""The integration guide's request bodies, verbatim."""

from __future__ import annotations

from typing import Any

PROVIDER: dict[str, Any] = {
    "identifier": "custom-openai",
    "name": "Custom OpenAI Provider",
    "description": "Custom OpenAI configuration for our organization",
    "apiEndpoint": "https://api.openai.com/v1",
    "authMethod": "api_key",
    "authConfig": {
        "type": "api_key",
        "fields": {"apiKey": "sk-your-api-key-here"},
        "headers": {"Authorization": "Bearer {{apiKey}}"},
    },
    "capabilities": {
        "supportsSystemMessages": True,
        "maxContextLength": 128000,
        "supportedRoles": ["system", "user", "assistant"],
        "supportsStreaming": True,
        "supportsTools": True,
        "supportedAuthMethods": ["api_key"],
    },
}

MODEL: dict[str, Any] = {
    "identifier": "gpt-4",
    "name": "GPT-4",
    "description": "OpenAI GPT-4 model",
    "contextLength": 8192,
    "capabilities": {
        "supportsSystemMessages": True,
        "maxContextLength": 8192,
        "supportedRoles": ["system", "user", "assistant"],
        "supportsStreaming": True,
        "supportsTools": True,
        "supportsFunctionCalling": True,
    },
    "pricingInfo": {"inputTokenPrice": 0.03, "outputTokenPrice": 0.06, "currency": "USD"},
}

APPLY: dict[str, Any] = {
    "identifier": "my-openai-provider",
    "name": "My OpenAI Provider",
    "customizations": {"apiKey": "sk-your-api-key-here", "organizationId": "org-your-org-id"},
}

EXPORT: dict[str, Any] = {"includeModels": True, "includeTemplates": False}

ANTHROPIC: dict[str, Any] = {
    "identifier": "my-anthropic",
    "name": "My Anthropic Provider",
    "apiEndpoint": "https://api.anthropic.com",
    "authMethod": "api_key",
    "authConfig": {"type": "api_key", "fields": {"apiKey": "sk-ant-test"}, "headers": {"x-api-key": "{{apiKey}}"}},
    "capabilities": {
        "supportsSystemMessages": True,
        "maxContextLength": 200000,
        "supportedRoles": ["system", "user", "assistant"],
        "supportsStreaming": True,
        "supportsTools": True,
    },
}
