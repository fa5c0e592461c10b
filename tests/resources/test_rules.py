"""The business rules shared by dpm validate and the server's 422 answers."""

from __future__ import annotations

from typing import Any

import pytest

from dpm.resources.rules import (
    model_list_violations,
    model_violations,
    provider_tree_violations,
    provider_violations,
)


def provider(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "identifier": "acme",
        "apiEndpoint": "https://api.acme.example/v1",
        "authMethod": "api_key",
        "authConfig": {"type": "api_key", "fields": {"apiKey": "k"}, "headers": {"Authorization": "Bearer {{apiKey}}"}},
        "capabilities": {"maxContextLength": 8192},
    }
    base.update(overrides)
    return base


def test_a_correct_provider_has_no_violations() -> None:
    assert provider_violations(provider()) == []


def test_guide_message_for_missing_api_key() -> None:
    (violation,) = provider_violations(provider(authConfig={"type": "api_key", "fields": {}}))
    assert violation.path == ("authConfig", "fields", "apiKey")
    assert violation.message == "API key is required for api_key authentication"


@pytest.mark.parametrize(
    ("method", "fields", "missing"),
    [
        ("oauth2", {"clientId": "a"}, {"clientSecret", "tokenUrl"}),
        ("aws_iam", {"region": "eu-west-1"}, {"accessKeyId", "secretAccessKey"}),
        ("custom", {}, {"fields"}),
    ],
)
def test_required_fields_per_method(method: str, fields: dict[str, str], missing: set[str]) -> None:
    found = provider_violations(provider(authMethod=method, authConfig={"type": method, "fields": fields}))
    assert {v.path[-1] for v in found} == missing


def test_auth_type_must_equal_method() -> None:
    (violation,) = provider_violations(provider(authConfig={"type": "oauth2", "fields": {"apiKey": "k"}}))
    assert violation.path == ("authConfig", "type")


def test_placeholders_must_name_fields() -> None:
    auth = {"type": "api_key", "fields": {"apiKey": "k"}, "headers": {"Authorization": "Bearer {{apikey}}"}}
    (violation,) = provider_violations(provider(authConfig=auth))
    assert violation.suggestion == "did you mean 'apiKey'?"


@pytest.mark.parametrize("url", ["api.acme.example", "ftp://acme.example", "https://", "file:///etc/passwd"])
def test_endpoints_must_be_http_urls(url: str) -> None:
    (violation,) = provider_violations(provider(apiEndpoint=url))
    assert violation.path == ("apiEndpoint",)


def test_model_context_may_not_exceed_the_provider() -> None:
    assert model_violations({"contextLength": 8192}, 8192) == []
    (violation,) = model_violations({"contextLength": 8193}, 8192)
    assert violation.path == ("contextLength",)


def test_one_default_and_unique_identifiers() -> None:
    models = [
        {"identifier": "a", "isDefault": True},
        {"identifier": "b", "isDefault": True},
        {"identifier": "a"},
    ]
    found = model_list_violations(models)
    assert {v.path for v in found} == {(1, "isDefault"), (2, "identifier")}


def test_rules_tolerate_data_that_failed_its_schema() -> None:
    broken = {"authConfig": "nope", "capabilities": [], "models": ["x", {"contextLength": "big"}]}
    assert isinstance(provider_tree_violations(broken), list)


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "Proxy-Authorization"])
def test_a_credential_header_must_use_a_placeholder(header: str) -> None:
    auth = {"type": "api_key", "fields": {"apiKey": "k"}, "headers": {header: "Bearer sk-literal"}}
    (violation,) = provider_violations(provider(authConfig=auth))
    assert violation.path == ("authConfig", "headers", header)
    assert violation.value == "[REDACTED]"
