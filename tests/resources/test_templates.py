"""System templates and template apply, the one definition both the server and fromTemplate use."""

from __future__ import annotations

import pytest

from dpm.resources import models, rules, templates

SLUGS = [
    "openai-template",
    "anthropic-template",
    "azure-openai-template",
    "google-gemini-template",
    "mistral-template",
    "cohere-template",
    "ai21-template",
    "ollama-template",
]


def test_the_eight_system_templates() -> None:
    assert templates.system_template_refs() == SLUGS


@pytest.mark.parametrize("slug", SLUGS)
def test_each_system_template_builds_a_valid_provider(slug: str) -> None:
    template = templates.find_system_template(slug)
    assert template is not None
    built = templates.apply_template(template, "my-provider", "Mine", {"apiKey": "k"})
    models.ProviderDocument.model_validate({"kind": "Provider", **built})
    assert rules.provider_tree_violations(built) == []
    assert built["models"], "every system template has default models"


def test_customizations_override_top_level_fields_and_fill_auth_fields() -> None:
    template = templates.find_system_template("openai-template")
    assert template is not None
    built = templates.apply_template(
        template,
        "p",
        "P",
        {"apiKey": "k", "organizationId": "org", "apiEndpoint": "https://proxy/v1", "status": "testing"},
    )
    assert built["authConfig"]["fields"] == {"apiKey": "k", "organizationId": "org"}
    assert built["apiEndpoint"] == "https://proxy/v1"
    assert built["status"] == "testing"


def test_apply_does_not_share_state_with_the_template() -> None:
    template = templates.find_system_template("mistral-template")
    assert template is not None
    built = templates.apply_template(template, "p", "P", {"apiKey": "k"})
    built["models"][0]["name"] = "changed"
    built["authConfig"]["fields"]["apiKey"] = "changed"
    again = templates.find_system_template("mistral-template")
    assert again is not None
    assert again["defaultModels"][0]["name"] != "changed"
    assert again["providerConfig"]["authConfig"]["fields"] == {}
