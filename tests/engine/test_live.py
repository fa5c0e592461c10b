"""Live state: the registry's export indexed the way the diff reads it."""

from __future__ import annotations

import pytest

from dpm.engine.live import live_from_export
from dpm.errors import DpmError

EXPORT = {
    "data": {
        "providers": [
            {"id": "p-1", "identifier": "acme", "etag": '"e1"'},
            {"id": "p-2", "identifier": "beta"},
            {"id": "p-3", "identifier": "empty"},
        ],
        "models": [
            {"id": "m-1", "identifier": "small", "providerIdentifier": "acme"},
            {"id": "m-2", "identifier": "large", "providerId": "p-1"},  # an export without providerIdentifier
            {"id": "m-3", "identifier": "small", "providerId": "p-2"},
            {"id": "m-4", "identifier": "stray", "providerId": "p-unknown"},
        ],
        "templates": [
            {"id": "t-1", "name": "team-gateway", "isSystem": False},
            {"id": "t-2", "name": "openai-template", "isSystem": True},
        ],
    },
    "metadata": {"revision": 41},
}


def test_providers_and_templates_are_found_by_name_and_the_revision_is_kept() -> None:
    live = live_from_export(EXPORT)
    assert sorted(live.providers) == ["acme", "beta", "empty"]
    assert live.find("provider", "acme") == {"id": "p-1", "identifier": "acme", "etag": '"e1"'}
    assert live.find("template", "team-gateway") == {"id": "t-1", "name": "team-gateway", "isSystem": False}
    assert live.revision == 41


def test_models_belong_to_their_provider_by_identifier_or_by_id() -> None:
    live = live_from_export(EXPORT)
    assert {p: sorted(m) for p, m in live.models.items()} == {
        "acme": ["large", "small"],
        "beta": ["small"],
        "empty": [],
    }
    found = live.find("model", "small", "beta")
    assert found is not None
    assert found["id"] == "m-3"
    assert live.find("model", "stray", "p-unknown") is None  # a model whose provider is not exported is left out
    assert live.find("model", "small") is None


def test_system_templates_are_left_out() -> None:
    live = live_from_export(EXPORT)
    assert list(live.templates) == ["team-gateway"]
    assert live.find("template", "openai-template") is None


def test_an_empty_registry_is_an_empty_state() -> None:
    live = live_from_export({"data": {}})
    assert (live.providers, live.models, live.templates, live.revision) == ({}, {}, {}, None)


@pytest.mark.parametrize("document", [{}, {"data": None}, {"data": []}, {"providers": []}])
def test_a_document_without_data_is_refused_with_a_hint_at_the_url(document: dict[str, object]) -> None:
    with pytest.raises(DpmError) as refused:
        live_from_export(document)
    assert refused.value.message == "the registry's export has no 'data' object"
    assert refused.value.hint == "is the registry URL the API base, e.g. …/api?"
