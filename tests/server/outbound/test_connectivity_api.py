"""``POST /api/admin/providers/{id}/test`` and ``POST /api/admin/models/{id}/test`` against the fake provider.

The allow-list admits 127.0.0.1 (one server for the module, ``api``, to keep the suite fast; each test makes its
own providers), so every test here talks to the fake on loopback, and every failure path is checked for its exact
message, for what is stored, and for what must never leak.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dpm_server import create_app
from tests.server import guide
from tests.server.conftest import login, make_settings
from tests.server.outbound.fake_provider import API_KEY, CANARY, MODELS, FakeProvider
from tests.server.outbound.sandbox import Network

STATUS = "/api/admin/providers/registry-status"
ANTHROPIC_KEY = guide.ANTHROPIC["authConfig"]["fields"]["apiKey"]
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("api"), outbound_allow="127.0.0.1", outbound_timeout=0.5)
    with TestClient(create_app(settings)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {login(test_client)['token']}"
        yield test_client


def _openai(admin: TestClient, endpoint: str, **auth: Any) -> dict[str, Any]:
    body = guide.PROVIDER | {"identifier": f"openai-{next(_numbers)}", "apiEndpoint": endpoint}
    body["authConfig"] = body["authConfig"] | auth
    created = admin.post("/api/admin/providers", json=body)
    assert created.status_code == 201, created.text
    provider: dict[str, Any] = created.json()
    return provider


def _anthropic(admin: TestClient, fake: FakeProvider) -> dict[str, Any]:
    fake.api_key = ANTHROPIC_KEY
    body = guide.ANTHROPIC | {"identifier": f"anthropic-{next(_numbers)}", "apiEndpoint": fake.url}  # no /v1
    created = admin.post("/api/admin/providers", json=body)
    assert created.status_code == 201, created.text
    provider: dict[str, Any] = created.json()
    return provider


def _model(admin: TestClient, provider: dict[str, Any], identifier: str = "gpt-4") -> dict[str, Any]:
    body = guide.MODEL | {"identifier": identifier, "contextLength": 8192}
    created = admin.post(f"/api/admin/providers/{provider['id']}/models", json=body)
    assert created.status_code == 201, created.text
    model: dict[str, Any] = created.json()
    return model


def _test(admin: TestClient, path: str) -> dict[str, Any]:
    response = admin.post(f"{path}/test")
    assert response.status_code == 200, response.text
    assert CANARY not in response.text
    assert API_KEY not in response.text
    assert ANTHROPIC_KEY not in response.text
    result: dict[str, Any] = response.json()
    assert isinstance(result["responseTime"], int)
    assert result["responseTime"] >= 0
    assert result["testedAt"].endswith("Z")
    return result


def test_an_openai_provider_lists_its_models(api: TestClient, fake_provider: FakeProvider) -> None:
    provider = _openai(api, f"{fake_provider.url}/v1")
    revision = api.get(STATUS).json().get("revision")

    result = _test(api, f"/api/admin/providers/{provider['id']}")

    assert set(result) == {"success", "responseTime", "availableModels", "errors", "testedAt"}
    assert (result["success"], result["availableModels"], result["errors"]) == (True, MODELS, [])
    seen = fake_provider.seen[-1]
    assert (seen.method, seen.path, seen.headers["authorization"]) == ("GET", "/v1/models", f"Bearer {API_KEY}")
    stored = api.get(f"/api/admin/providers/{provider['id']}").json()
    assert stored["testResult"] == result
    assert stored["lastTested"] == result["testedAt"]
    assert stored["etag"] == provider["etag"]  # a test is not a configuration change
    assert api.get(STATUS).json().get("revision") == revision


def test_an_anthropic_provider_lists_its_models(api: TestClient, fake_provider: FakeProvider) -> None:
    provider = _anthropic(api, fake_provider)

    result = _test(api, f"/api/admin/providers/{provider['id']}")

    assert (result["success"], result["availableModels"], result["errors"]) == (True, MODELS, [])
    seen = fake_provider.seen[-1]
    assert (seen.method, seen.path) == ("GET", "/v1/models")
    assert seen.headers["x-api-key"] == ANTHROPIC_KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers


def test_an_openai_model_answers_a_one_token_chat(api: TestClient, fake_provider: FakeProvider) -> None:
    model = _model(api, _openai(api, f"{fake_provider.url}/v1"))

    result = _test(api, f"/api/admin/models/{model['id']}")

    assert result["success"] is True, result
    assert set(result) == {"success", "responseTime", "errors", "testedAt"}
    seen = fake_provider.seen[-1]
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.body == {
        "model": "gpt-4",
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "Reply with one word."}],
    }
    stored = api.get(f"/api/admin/models/{model['id']}").json()
    assert (stored["testResult"], stored["lastTested"], stored["etag"]) == (result, result["testedAt"], model["etag"])


def test_an_anthropic_model_answers_a_one_token_message(api: TestClient, fake_provider: FakeProvider) -> None:
    model = _model(api, _anthropic(api, fake_provider), "claude-haiku-4-5")

    result = _test(api, f"/api/admin/models/{model['id']}")

    assert result["success"] is True, result
    seen = fake_provider.seen[-1]
    assert (seen.method, seen.path, seen.body["model"], seen.body["max_tokens"]) == (
        "POST",
        "/v1/messages",
        "claude-haiku-4-5",
        1,
    )


def test_the_test_endpoint_replaces_the_model_list(api: TestClient, fake_provider: FakeProvider) -> None:
    provider = _openai(api, f"{fake_provider.url}/v1", testEndpoint=f"{fake_provider.url}/health")

    result = _test(api, f"/api/admin/providers/{provider['id']}")

    assert (result["success"], result["errors"]) == (True, [])
    assert "availableModels" not in result
    assert [(seen.method, seen.path) for seen in fake_provider.seen] == [("GET", "/health")]


PROVIDER_FAILURES = [
    ({"api_key": "sk-another-key"}, "the provider rejected the credentials (HTTP 401)"),
    ({"mode": "status", "status": 403}, "the provider rejected the credentials (HTTP 403)"),
    ({"mode": "status", "status": 500}, "the provider answered HTTP 500 (Internal Server Error)"),
    ({"mode": "status", "status": 429}, "the provider answered HTTP 429 (Too Many Requests)"),
    ({"mode": "not-json"}, "the provider's answer is not JSON"),
    ({"mode": "wrong-shape"}, "the provider's answer is not a model list (an object with a 'data' array of models)"),
    ({"mode": "huge"}, "the provider's answer is larger than the 1 MiB limit (DPM_SERVER_OUTBOUND_MAX_BYTES)"),
    ({"mode": "huge-chunked"}, "the provider's answer is larger than the 1 MiB limit (DPM_SERVER_OUTBOUND_MAX_BYTES)"),
    ({"mode": "gzip"}, "the provider sent a compressed answer although none was asked for"),
    ({"mode": "redirect"}, "the provider answered with a redirect (HTTP 302), which is not followed"),
    (
        {"mode": "slow", "delay": 5.0},
        "timed out waiting for the answer from 127.0.0.1:{port}: "
        "the whole call is limited to 0.5 s (DPM_SERVER_OUTBOUND_TIMEOUT)",
    ),
    (
        {"mode": "drip"},
        "timed out reading the answer from 127.0.0.1:{port}: "
        "the whole call is limited to 0.5 s (DPM_SERVER_OUTBOUND_TIMEOUT)",
    ),
]


@pytest.mark.parametrize(("behaviour", "error"), PROVIDER_FAILURES, ids=[e for _, e in PROVIDER_FAILURES])
def test_each_provider_failure_has_its_own_message(
    api: TestClient, fake_provider: FakeProvider, behaviour: dict[str, Any], error: str
) -> None:
    provider = _openai(api, f"{fake_provider.url}/v1")
    for name, value in behaviour.items():
        setattr(fake_provider, name, value)

    result = _test(api, f"/api/admin/providers/{provider['id']}")

    assert result["success"] is False
    assert result["errors"] == [error.format(port=fake_provider.port)]
    assert "availableModels" not in result
    stored = api.get(f"/api/admin/providers/{provider['id']}").json()
    assert stored["testResult"] == result


@pytest.mark.parametrize(
    ("style", "error"),
    [
        ("openai", "the provider's answer is not a chat completion (an object with a 'choices' array)"),
        ("anthropic", "the provider's answer is not a message (an object with a 'content' array)"),
    ],
)
def test_a_model_answer_of_the_wrong_shape(
    api: TestClient, fake_provider: FakeProvider, style: str, error: str
) -> None:
    provider = _openai(api, f"{fake_provider.url}/v1") if style == "openai" else _anthropic(api, fake_provider)
    model = _model(api, provider)
    fake_provider.mode = "wrong-shape"

    result = _test(api, f"/api/admin/models/{model['id']}")

    assert (result["success"], result["errors"]) == (False, [error])


def test_a_model_test_with_rejected_credentials(api: TestClient, fake_provider: FakeProvider) -> None:
    model = _model(api, _openai(api, f"{fake_provider.url}/v1"))
    fake_provider.api_key = "sk-rotated"

    result = _test(api, f"/api/admin/models/{model['id']}")

    assert result["errors"] == ["the provider rejected the credentials (HTTP 401)"]


def test_a_private_address_is_refused_without_connecting(
    api: TestClient, network: Network, fake_provider: FakeProvider
) -> None:
    provider = _openai(api, "http://10.0.0.1/v1")
    model = _model(api, provider)

    for path in (f"/api/admin/providers/{provider['id']}", f"/api/admin/models/{model['id']}"):
        result = _test(api, path)
        assert result["success"] is False
        assert result["errors"] == ["refused by the outbound guard: 10.0.0.1 is a private address"]
    assert network.connects == []
    assert network.name_lookups == []


def test_the_metadata_address_is_refused_as_a_test_endpoint(api: TestClient, network: Network) -> None:
    provider = _openai(api, "https://api.example.com/v1", testEndpoint="http://169.254.169.254/latest/")

    result = _test(api, f"/api/admin/providers/{provider['id']}")

    assert result["errors"] == [
        "refused by the outbound guard: 169.254.169.254 is a link-local address (the cloud metadata service)"
    ]
    assert network.connects == []


def test_without_the_allow_list_the_fake_on_loopback_is_refused(
    admin: TestClient, network: Network, fake_provider: FakeProvider
) -> None:
    provider = _openai(admin, f"{fake_provider.url}/v1")

    result = _test(admin, f"/api/admin/providers/{provider['id']}")

    assert result["errors"] == ["refused by the outbound guard: 127.0.0.1 is a loopback address"]
    assert network.connects == []
    assert fake_provider.seen == []


def test_connection_refused_and_dns_failure(api: TestClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = _openai(api, f"http://127.0.0.1:{port}/v1")
    unknown = api.post("/api/admin/providers", json=guide.ANTHROPIC | {"identifier": "dns-failure"}).json()

    assert _test(api, f"/api/admin/providers/{closed['id']}")["errors"] == [f"connection refused by 127.0.0.1:{port}"]
    assert _test(api, f"/api/admin/providers/{unknown['id']}")["errors"] == [
        "could not resolve api.anthropic.com: no such host"
    ]


def test_an_unknown_provider_or_model_is_404_without_a_call(api: TestClient, network: Network) -> None:
    assert api.post("/api/admin/providers/nope/test").status_code == 404
    assert api.post("/api/admin/models/nope/test").status_code == 404
    assert network.connects == []


def test_logs_carry_the_outcome_but_no_body_or_secret(
    api: TestClient, fake_provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    provider = _openai(api, f"{fake_provider.url}/v1")
    fake_provider.api_key = "sk-another-key"  # answers 401 with the canary in its body

    with caplog.at_level(logging.DEBUG):
        _test(api, f"/api/admin/providers/{provider['id']}")

    assert f"connectivity test of provider {provider['identifier']}: failed" in caplog.text
    assert "the provider rejected the credentials (HTTP 401)" in caplog.text
    assert CANARY not in caplog.text
    assert API_KEY not in caplog.text


def test_a_failed_test_makes_the_registry_degraded(allowed_admin: TestClient, fake_provider: FakeProvider) -> None:
    provider = _openai(allowed_admin, f"{fake_provider.url}/v1")
    _test(allowed_admin, f"/api/admin/providers/{provider['id']}")
    assert allowed_admin.get(STATUS).json()["status"] == "healthy"

    fake_provider.mode, fake_provider.status = "status", 503
    _test(allowed_admin, f"/api/admin/providers/{provider['id']}")

    assert allowed_admin.get(STATUS).json()["status"] == "degraded"
