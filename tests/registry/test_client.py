"""The registry client against scripted answers (httpx.MockTransport): retries, rate limits, auth, errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dpm.registry.client import Credentials, RateLimitExceeded, RegistryClient, RegistryError

Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue: Iterator[httpx.Response | Exception] = iter(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(queue)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


def client_for(handler: Handler, **kwargs: object) -> tuple[RegistryClient, list[float]]:
    waits: list[float] = []
    client = RegistryClient(
        "http://registry.test/api",
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=waits.append,
        wait=lambda seconds, reason: waits.append(seconds),
        **kwargs,  # type: ignore[arg-type]
    )
    return client, waits


def envelope(status: int, code: str, message: str, **extra: object) -> httpx.Response:
    body = {"error": {"code": code, "message": message, **extra}, "timestamp": "t", "requestId": "req-42"}
    return httpx.Response(status, json=body, headers={"X-Request-ID": "req-42"})


EXPORT = httpx.Response(200, json={"data": {"providers": [], "models": [], "templates": []}, "metadata": {}})


def test_idempotent_requests_retry_gateway_errors_with_backoff() -> None:
    handler, seen = scripted(httpx.Response(503), httpx.Response(502), EXPORT)
    client, waits = client_for(handler)
    assert client.export()["data"]["providers"] == []
    assert len(seen) == 3
    assert waits == [0.5, 1.0]
    assert client.requests == 3


def test_non_idempotent_requests_do_not_retry_gateway_errors() -> None:
    handler, seen = scripted(httpx.Response(503))
    client, _ = client_for(handler)
    with pytest.raises(RegistryError):
        client.call("POST", "/admin/providers", json={})
    assert len(seen) == 1


def test_connect_errors_are_retried_then_reported() -> None:
    failures = [httpx.ConnectError("refused")] * 5
    handler, seen = scripted(*failures)
    client, _ = client_for(handler)
    with pytest.raises(RegistryError) as raised:
        client.export()
    assert len(seen) == 5
    assert "cannot reach the registry" in raised.value.message
    assert raised.value.hint is not None


def test_a_dropped_response_to_a_write_is_reported_as_uncertain() -> None:
    handler, _ = scripted(httpx.ReadError("connection reset"))
    client, _ = client_for(handler)
    with pytest.raises(RegistryError) as raised:
        client.call("POST", "/admin/providers", json={})
    assert "may or may not have been carried out" in raised.value.message


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_client_errors_are_never_retried(status: int) -> None:
    handler, seen = scripted(envelope(status, "X", "nope"))
    client, _ = client_for(handler)
    with pytest.raises(RegistryError) as raised:
        client.export()
    assert len(seen) == 1
    assert raised.value.status == status


def test_errors_carry_the_api_message_and_request_id() -> None:
    errors = [{"field": "authConfig.fields.apiKey", "message": "API key is required", "value": None}]
    handler, _ = scripted(envelope(422, "VALIDATION_ERROR", "Validation failed", validationErrors=errors))
    client, _ = client_for(handler)
    with pytest.raises(RegistryError) as raised:
        client.import_({})
    text = raised.value.message
    assert "422 VALIDATION_ERROR: Validation failed" in text
    assert "authConfig.fields.apiKey: API key is required" in text
    assert "request id: req-42" in text


def test_429_waits_for_retry_after_then_succeeds() -> None:
    handler, _ = scripted(httpx.Response(429, headers={"Retry-After": "7"}), EXPORT)
    client, waits = client_for(handler)
    client.export()
    assert waits == [7.0]


def test_429_without_retry_after_uses_the_reset_timestamp() -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    handler, _ = scripted(httpx.Response(429, headers={"X-RateLimit-Reset": reset}), EXPORT)
    client, waits = client_for(handler)
    client.export()
    assert 25 < waits[0] <= 30


def test_429_beyond_max_wait_stops_with_a_clear_message() -> None:
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "600"}))
    client, waits = client_for(handler, max_wait=60)
    with pytest.raises(RateLimitExceeded) as raised:
        client.export()
    assert waits == []
    assert len(seen) == 1
    assert "beyond --max-wait (60s)" in raised.value.message


def test_waits_add_up_against_max_wait() -> None:
    storm = [httpx.Response(429, headers={"Retry-After": "20"})] * 4
    handler, _ = scripted(*storm)
    client, waits = client_for(handler, max_wait=50)
    with pytest.raises(RateLimitExceeded):
        client.export()
    assert waits == [20.0, 20.0]


def test_rate_limit_headers_are_kept() -> None:
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "42", "X-RateLimit-Reset": "2026-01-01T00:00:00Z"}
    handler, _ = scripted(httpx.Response(200, json={"data": {}}, headers=headers))
    client, _ = client_for(handler)
    client.export()
    assert (client.rate.limit, client.rate.remaining, client.rate.reset) == (100, 42, "2026-01-01T00:00:00Z")


def login_answer(token: str) -> httpx.Response:
    return httpx.Response(200, json={"token": token, "refreshToken": f"r-{token}", "user": {}, "expiresIn": 3600})


def test_password_credentials_log_in_once_and_refresh_once_on_401() -> None:
    handler, seen = scripted(
        login_answer("t1"),
        envelope(401, "UNAUTHORIZED", "Invalid or expired JWT token"),
        login_answer("t2"),
        EXPORT,
    )
    client, _ = client_for(handler, credentials=Credentials(username="admin", password="pw-canary"))
    client.export()
    paths = [r.url.path for r in seen]
    assert paths == [
        "/api/auth/login",
        "/api/admin/providers/export",
        "/api/auth/refresh",
        "/api/admin/providers/export",
    ]
    assert json.loads(seen[2].content) == {"refreshToken": "r-t1"}
    assert seen[3].headers["Authorization"] == "Bearer t2"


def test_a_second_401_is_an_error_with_a_hint() -> None:
    handler, _ = scripted(envelope(401, "UNAUTHORIZED", "Invalid or expired JWT token"))
    client, _ = client_for(handler, credentials=Credentials(token="bad"))
    with pytest.raises(RegistryError) as raised:
        client.export()
    assert raised.value.hint is not None
    assert "DPM_TOKEN" in raised.value.hint


def test_token_is_sent_as_bearer() -> None:
    handler, seen = scripted(EXPORT)
    client, _ = client_for(handler, credentials=Credentials(token="tok"))
    client.export()
    assert seen[0].headers["Authorization"] == "Bearer tok"


def test_a_lost_answer_then_an_unreachable_registry_says_the_write_may_be_done() -> None:
    handler, _ = scripted(httpx.ReadError("reset"), *[httpx.ConnectError("refused")] * 4)
    client, _ = client_for(handler)
    with pytest.raises(RegistryError) as raised:
        client.import_({})
    assert "an earlier attempt lost its answer and may have been carried out" in raised.value.message


IMPORTED = httpx.Response(200, json={"success": True, "summary": {}, "details": []})
PRECONDITIONS = [{"type": "provider", "identifier": "p", "ifMatch": "absent"}]


def test_import_sends_its_preconditions() -> None:
    handler, seen = scripted(IMPORTED)
    client, _ = client_for(handler)

    client.import_({"providers": []}, preconditions=PRECONDITIONS)

    assert json.loads(seen[0].content)["options"] == {"conflictResolution": "replace", "preconditions": PRECONDITIONS}


def test_a_registry_without_import_preconditions_gets_the_import_without_them_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What a registry answers for an option it does not know: a validation error on that option.
    unknown = envelope(
        422,
        "VALIDATION_ERROR",
        "Validation failed",
        validationErrors=[{"field": "options.preconditions", "message": "Extra inputs are not permitted"}],
    )
    handler, seen = scripted(unknown, IMPORTED, IMPORTED)
    client, _ = client_for(handler)

    with caplog.at_level("WARNING", logger="dpm.http"):
        client.import_({"providers": []}, preconditions=PRECONDITIONS)
        client.import_({"providers": []}, preconditions=PRECONDITIONS)

    assert [json.loads(r.content)["options"] for r in seen] == [
        {"conflictResolution": "replace", "preconditions": PRECONDITIONS},
        {"conflictResolution": "replace"},
        {"conflictResolution": "replace"},  # asked once per session
    ]
    assert len(caplog.records) == 1
    assert "does not support import preconditions" in caplog.records[0].getMessage()


def test_other_validation_errors_of_an_import_are_not_mistaken_for_a_missing_extension() -> None:
    invalid = envelope(
        422,
        "VALIDATION_ERROR",
        "Validation failed",
        validationErrors=[{"field": "data.providers.0.apiEndpoint", "message": "not a URL"}],
    )
    handler, seen = scripted(invalid)
    client, _ = client_for(handler)

    with pytest.raises(RegistryError) as raised:
        client.import_({"providers": []}, preconditions=PRECONDITIONS)

    assert raised.value.status == 422
    assert len(seen) == 1
