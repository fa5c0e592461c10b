"""Attacks on the data a registry stores: numbers JSON cannot carry, NUL characters, secrets that are no secret,
validation answers as an amplifier, and rows that an older version or a hand edit left behind.

Every case runs against the real app on SQLite and on PostgreSQL (the ``admin`` fixture), and ends with the
registry still exporting: no answer of 500, and no change committed behind one.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from dpm_server.context import AppContext
from dpm_server.errors import MAX_VALIDATION_ERRORS
from dpm_server.services import providers as provider_service
from tests.server import guide

PROVIDERS = "/api/admin/providers"
TEMPLATES = "/api/admin/provider-templates"
EXPORT = f"{PROVIDERS}/export"
IMPORT = f"{PROVIDERS}/import"
STATUS = f"{PROVIDERS}/registry-status"
NON_FINITE = ("1e400", "-1e400", "Infinity", "-Infinity", "NaN")
MARK = "__NUMBER__"


def _raw(client: TestClient, method: str, url: str, body: Any, literal: str) -> Any:
    """Sends ``body`` with the JSON text ``literal`` in place of the string ``MARK`` (json= cannot send NaN)."""
    content = json.dumps(body).replace(f'"{MARK}"', literal)
    return client.request(method, url, content=content, headers={"Content-Type": "application/json"})


def _revision(client: TestClient) -> int:
    value: int = client.get(STATUS).json()["revision"]
    return value


def _exports(client: TestClient) -> dict[str, Any]:
    response = client.post(EXPORT, json={"includeTemplates": True})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _errors(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    errors: list[dict[str, Any]] = response.json()["error"]["validationErrors"]
    return errors


def _fields(response: Any) -> list[str]:
    return [error["field"] for error in _errors(response)]


def _provider(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post(PROVIDERS, json=copy.deepcopy(guide.PROVIDER) | changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _model(client: TestClient, provider_id: str, **changes: Any) -> dict[str, Any]:
    response = client.post(f"{PROVIDERS}/{provider_id}/models", json=copy.deepcopy(guide.MODEL) | changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- finite numbers ---------------------------------------------------------------------------------------------


def _non_finite_writes(provider_id: str, model_id: str, template_id: str) -> list[tuple[str, str, Any, str]]:
    """(method, url, body with MARK, the field the 422 names) for every write path that takes a number."""
    model = copy.deepcopy(guide.MODEL) | {"identifier": "m2"}
    model["pricingInfo"]["inputTokenPrice"] = MARK
    capabilities = copy.deepcopy(guide.PROVIDER["capabilities"]) | {"maxContextLength": MARK}
    tree_model = copy.deepcopy(guide.MODEL)
    tree_model["capabilities"]["maxContextLength"] = MARK
    return [
        ("POST", f"{PROVIDERS}/{provider_id}/models", model, "pricingInfo.inputTokenPrice"),
        ("PUT", f"/api/admin/models/{model_id}", {"pricingInfo": {"outputTokenPrice": MARK}}, "pricingInfo"),
        ("PUT", f"/api/admin/models/{model_id}", {"contextLength": MARK}, "contextLength"),
        ("POST", PROVIDERS, guide.ANTHROPIC | {"capabilities": capabilities}, "capabilities.maxContextLength"),
        ("PUT", f"{PROVIDERS}/{provider_id}", {"capabilities": capabilities}, "capabilities.maxContextLength"),
        ("POST", TEMPLATES, {"name": "T", "providerConfig": {}, "defaultModels": [model]}, "defaultModels.0"),
        ("PUT", f"{TEMPLATES}/{template_id}", {"defaultModels": [model]}, "defaultModels.0"),
        ("PUT", f"{TEMPLATES}/{template_id}", {"providerConfig": {"capabilities": capabilities}}, "providerConfig"),
        (
            "POST",
            f"{TEMPLATES}/openai-template/apply",
            guide.APPLY | {"customizations": {"apiKey": "sk-x", "capabilities": capabilities}},
            "customizations",
        ),
        ("POST", IMPORT, {"data": {"models": [model | {"providerIdentifier": "custom-openai"}]}}, "data.models"),
        ("POST", IMPORT, {"data": {"providers": [guide.ANTHROPIC | {"capabilities": capabilities}]}}, "data"),
        ("POST", IMPORT, {"data": {}, "metadata": {"revision": MARK}}, "metadata"),
        ("POST", EXPORT, {"providerIds": [], "includeModels": True, "x": MARK}, "x"),
    ]


def test_non_finite_numbers_are_refused_on_every_write_path_and_nothing_is_stored(admin: TestClient) -> None:
    provider = _provider(admin)
    model = _model(admin, provider["id"])
    template = admin.post(TEMPLATES, json={"name": "Mine", "providerConfig": {}}).json()
    before, exported = _revision(admin), _exports(admin)

    for literal in NON_FINITE:
        for method, url, body, field in _non_finite_writes(provider["id"], model["id"], template["id"]):
            response = _raw(admin, method, url, body, literal)
            assert response.status_code == 422, (literal, method, url, response.text)
            assert any(f.startswith(field) for f in _fields(response)), (literal, url, _fields(response))

    assert _revision(admin) == before
    after = _exports(admin)
    assert after["data"] == exported["data"]
    assert "problems" not in after["metadata"]


def test_huge_integers_are_refused_and_small_edge_values_are_kept(admin: TestClient) -> None:
    provider = _provider(admin)
    huge = str(10**400)
    body = copy.deepcopy(guide.MODEL) | {"contextLength": MARK}
    assert _fields(_raw(admin, "POST", f"{PROVIDERS}/{provider['id']}/models", body, huge)) == ["contextLength"]
    limits = copy.deepcopy(guide.PROVIDER["capabilities"]) | {"rateLimits": {"requestsPerMinute": 2**31}}
    response = admin.put(f"{PROVIDERS}/{provider['id']}", json={"capabilities": limits})
    assert _fields(response) == ["capabilities.rateLimits.requestsPerMinute"]

    negative_zero = copy.deepcopy(guide.MODEL) | {"identifier": "free"}
    negative_zero["pricingInfo"] = {"inputTokenPrice": MARK, "outputTokenPrice": 0}
    created = _raw(admin, "POST", f"{PROVIDERS}/{provider['id']}/models", negative_zero, "-0.0")

    assert created.status_code == 201, created.text
    assert created.json()["pricingInfo"]["inputTokenPrice"] == 0
    assert len(_exports(admin)["data"]["models"]) == 1


# --- no 500 behind a commit -------------------------------------------------------------------------------------


def test_an_answer_that_cannot_be_built_rolls_its_change_back(
    admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _revision(admin)
    audit_before = admin.get("/api/admin/audit-log").json()["pagination"]["total"]
    built = provider_service.provider_view

    def unrenderable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return built(*args, **kwargs) | {"extra": object()}  # JSON cannot carry it: rendering fails

    monkeypatch.setattr(provider_service, "provider_view", unrenderable)
    response = admin.post(PROVIDERS, json=guide.PROVIDER)
    monkeypatch.undo()

    assert response.status_code == 500
    assert admin.get(PROVIDERS).json()["data"] == []
    assert _revision(admin) == before
    assert admin.get("/api/admin/audit-log").json()["pagination"]["total"] == audit_before
    assert _exports(admin)["data"]["providers"] == []


# --- rows that an older version or a hand edit left behind ------------------------------------------------------


def _edit_row(client: TestClient, statement: str, **values: Any) -> None:
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    with context.db.engine.begin() as connection:
        connection.execute(text(statement), values)


def test_a_stored_non_finite_number_is_reported_and_left_out_instead_of_failing_lists_and_export(
    admin: TestClient,
) -> None:
    provider = _provider(admin)
    model = _model(admin, provider["id"])
    healthy = _model(admin, provider["id"], identifier="gpt-4o")
    # As an older version stored it (SQLite) or a hand edit wrote it (both): JSON text that reads as infinity.
    pricing = '{"inputTokenPrice": 1e400, "outputTokenPrice": -1e400, "currency": "USD"}'
    _edit_row(admin, "UPDATE models SET pricing_info = :pricing WHERE id = :id", pricing=pricing, id=model["id"])
    capabilities = json.dumps(guide.PROVIDER["capabilities"]).replace("128000", "1e400")
    _edit_row(admin, "UPDATE providers SET capabilities = :c WHERE id = :id", c=capabilities, id=provider["id"])

    listed = admin.get(f"{PROVIDERS}/{provider['id']}/models")
    exported = admin.post(EXPORT, json={"includeTemplates": True})
    one = admin.get(f"/api/admin/models/{model['id']}")
    providers = admin.get(PROVIDERS)

    for response, count in ((listed, 2), (exported, 3), (one, 2), (providers, 1)):
        assert response.status_code == 200, response.text
        assert response.headers["X-DPM-Data-Problems"] == str(count)
    assert listed.json()[0]["pricingInfo"] == {"currency": "USD"}
    assert listed.json()[1] == admin.get(f"/api/admin/models/{healthy['id']}").json()
    assert "maxContextLength" not in providers.json()["data"][0]["capabilities"]
    assert exported.json()["metadata"]["problems"] == [
        {
            "resourceType": "provider",
            "id": provider["id"],
            "identifier": "custom-openai",
            "field": "capabilities.maxContextLength",
            "message": "the stored value is not a finite number and was left out; write a new value to repair it",
        },
        *[
            {
                "resourceType": "model",
                "id": model["id"],
                "identifier": "gpt-4",
                "field": f"pricingInfo.{name}",
                "message": "the stored value is not a finite number and was left out; write a new value to repair it",
            }
            for name in ("inputTokenPrice", "outputTokenPrice")
        ],
    ]
    renamed = admin.put(f"{PROVIDERS}/{provider['id']}", json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text  # an update of other fields leaves the bad value alone
    assert renamed.headers["X-DPM-Data-Problems"] == "1"
    # The operator repairs the row with an ordinary update, and the problems are gone.
    repaired = admin.put(f"/api/admin/models/{model['id']}", json={"pricingInfo": guide.MODEL["pricingInfo"]})
    admin.put(f"{PROVIDERS}/{provider['id']}", json={"capabilities": guide.PROVIDER["capabilities"]})
    assert repaired.status_code == 200, repaired.text
    clean = admin.post(EXPORT)
    assert "problems" not in clean.json()["metadata"]
    assert "X-DPM-Data-Problems" not in clean.headers


# --- secret fields ----------------------------------------------------------------------------------------------


API_KEY_MISSING = "API key is required for api_key authentication"


def _with_fields(method: str, fields: dict[str, Any], identifier: str = "new-provider") -> dict[str, Any]:
    body = copy.deepcopy(guide.PROVIDER) | {"identifier": identifier, "authMethod": method}
    body["authConfig"] = {"type": method, "fields": fields, "headers": {}}
    return body


@pytest.mark.parametrize(
    ("method", "fields", "missing"),
    [
        ("api_key", {"apiKey": ""}, "apiKey"),
        ("api_key", {"apiKey": "   "}, "apiKey"),
        ("api_key", {"apiKey": "\t\n"}, "apiKey"),
        ("oauth2", {"clientId": "id", "clientSecret": "", "tokenUrl": "https://t.example/token"}, "clientSecret"),
        ("aws_iam", {"accessKeyId": "AKIA", "secretAccessKey": " ", "region": "us-east-1"}, "secretAccessKey"),
    ],
)
def test_a_blank_required_secret_is_missing(
    admin: TestClient, method: str, fields: dict[str, str], missing: str
) -> None:
    errors = _errors(admin.post(PROVIDERS, json=_with_fields(method, fields)))

    label = "API key" if missing == "apiKey" else missing
    assert [(e["field"], e["message"]) for e in errors] == [
        (f"authConfig.fields.{missing}", f"{label} is required for {method} authentication")
    ]
    assert admin.get(PROVIDERS).json()["data"] == []


@pytest.mark.parametrize("value", [{"default": "sk-live-1", "required": True}, ["sk-live-1"], 42, True])
def test_a_secret_field_value_must_be_a_string(admin: TestClient, value: Any) -> None:
    response = admin.post(PROVIDERS, json=_with_fields("api_key", {"apiKey": value, "orgId": value}))

    assert set(_fields(response)) >= {"authConfig.fields.apiKey", "authConfig.fields.orgId"}
    assert "sk-live-1" not in response.text
    assert admin.get(PROVIDERS).json()["data"] == []


def test_blank_secrets_are_refused_on_update_import_and_template_apply(admin: TestClient) -> None:
    provider = _provider(admin)
    stored = provider["authConfig"]["fieldFingerprints"]

    update = admin.put(
        f"{PROVIDERS}/{provider['id']}", json={"authConfig": {"type": "api_key", "fields": {"apiKey": " "}}}
    )
    assert [e["message"] for e in _errors(update)] == [API_KEY_MISSING]
    blank_import = {"data": {"providers": [_with_fields("api_key", {"apiKey": "  "}, "imported")]}}
    assert _fields(admin.post(IMPORT, json=blank_import)) == ["data.providers.0.authConfig.fields.apiKey"]
    merge_blank = {
        "data": {"providers": [guide.PROVIDER | {"authConfig": {"type": "api_key", "fields": {"apiKey": ""}}}]}
    }
    assert _fields(admin.post(IMPORT, json=merge_blank)) == ["data.providers.0.authConfig.fields.apiKey"]
    applied = admin.post(f"{TEMPLATES}/openai-template/apply", json=guide.APPLY | {"customizations": {"apiKey": " "}})
    assert [e["message"] for e in _errors(applied)] == [API_KEY_MISSING]
    not_text = admin.post(f"{TEMPLATES}/openai-template/apply", json=guide.APPLY | {"customizations": {"apiKey": {}}})
    assert _fields(not_text) == ["customizations.apiKey"]

    assert admin.get(f"{PROVIDERS}/{provider['id']}").json()["authConfig"]["fieldFingerprints"] == stored
    assert [p["identifier"] for p in admin.get(PROVIDERS).json()["data"]] == ["custom-openai"]


def test_a_redacted_or_left_out_secret_still_counts_as_present(admin: TestClient) -> None:
    provider = _provider(admin)

    kept = admin.put(
        f"{PROVIDERS}/{provider['id']}", json={"authConfig": guide.PROVIDER["authConfig"] | {"fields": {}}}
    )
    redacted = admin.put(
        f"{PROVIDERS}/{provider['id']}",
        json={"authConfig": guide.PROVIDER["authConfig"] | {"fields": {"apiKey": "[REDACTED]"}}},
    )

    assert kept.status_code == 200, kept.text
    assert redacted.status_code == 200, redacted.text
    assert redacted.json()["authConfig"]["fieldFingerprints"] == provider["authConfig"]["fieldFingerprints"]


# --- NUL characters ---------------------------------------------------------------------------------------------


def test_a_nul_character_in_any_text_of_a_body_is_422(admin: TestClient) -> None:
    provider = _provider(admin)
    model = _model(admin, provider["id"])
    headers = {"Authorization": "Bearer {{apiKey}}"}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", PROVIDERS, guide.ANTHROPIC | {"name": "a\x00b"}, "name"),
        ("POST", PROVIDERS, guide.ANTHROPIC | {"description": "\x00"}, "description"),
        ("POST", PROVIDERS, guide.ANTHROPIC | {"apiEndpoint": "https://a.example/\x00"}, "apiEndpoint"),
        ("PUT", f"{PROVIDERS}/{provider['id']}", {"name": "x\x00"}, "name"),
        (
            "PUT",
            f"{PROVIDERS}/{provider['id']}",
            {"authConfig": {"type": "api_key", "fields": {"apiKey": "sk\x00"}, "headers": headers}},
            "authConfig.fields.apiKey",
        ),
        (
            "PUT",
            f"{PROVIDERS}/{provider['id']}",
            {"authConfig": {"type": "api_key", "fields": {"apiKey": "k"}, "headers": {"X-\x00": "v"}}},
            "authConfig.headers",
        ),
        (
            "PUT",
            f"{PROVIDERS}/{provider['id']}",
            {"authConfig": {"type": "api_key", "fields": {"apiKey": "k"}, "headers": {"X-A": "v\x00"}}},
            "authConfig.headers.X-A",
        ),
        ("PUT", f"/api/admin/models/{model['id']}", {"description": "\x00"}, "description"),
        ("POST", TEMPLATES, {"name": "T\x00", "providerConfig": {}}, "name"),
        ("POST", f"{TEMPLATES}/openai-template/apply", guide.APPLY | {"name": "n\x00"}, "name"),
        (
            "POST",
            f"{TEMPLATES}/openai-template/apply",
            guide.APPLY | {"customizations": {"apiKey": "k", "org\x00": "o"}},
            "customizations",
        ),
        ("POST", IMPORT, {"data": {"models": [{"providerId": "\x00", "identifier": "m"}]}}, "data.models"),
        ("POST", EXPORT, {"providerIds": ["\x00"]}, "providerIds.0"),
    ]
    for method, url, body, field in cases:
        response = admin.request(method, url, json=body)
        assert response.status_code == 422, (url, body, response.text)
        assert any(f.startswith(field) for f in _fields(response)), (url, field, _fields(response))
    assert [p["identifier"] for p in admin.get(PROVIDERS).json()["data"]] == ["custom-openai"]
    assert _exports(admin)["data"]["models"][0]["description"] == guide.MODEL["description"]


def test_a_nul_character_in_an_identifier_is_the_identifier_format_error(admin: TestClient) -> None:
    provider = admin.post(PROVIDERS, json=guide.PROVIDER | {"identifier": "bad\x00id"})
    model = admin.post(f"{PROVIDERS}/{_provider(admin)['id']}/models", json=guide.MODEL | {"identifier": "m\x00"})

    assert provider.status_code == 400
    assert provider.json()["error"]["field"] == "identifier"
    assert model.status_code == 400
    assert model.json()["error"]["field"] == "identifier"


def test_a_nul_character_in_a_parameter_is_400_on_both_databases(admin: TestClient) -> None:
    for url in (
        f"{PROVIDERS}/%00",
        f"{PROVIDERS}/%00/models",
        "/api/admin/models/a%00b",
        f"{TEMPLATES}/openai%00template",
        f"{PROVIDERS}?search=%00",
        "/api/admin/audit-log?username=%00",
        "/api/admin/audit-log?resourceId=x%00",
    ):
        response = admin.get(url)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"]["code"] == "INVALID_INPUT"
        assert "NUL" in response.json()["error"]["message"]
    deleted = admin.delete(f"{TEMPLATES}/%00", headers={"If-Match": "*"})
    assert deleted.status_code == 400


def test_a_nul_character_in_login_or_header_values_is_refused_not_a_500(client: TestClient) -> None:
    login = client.post("/api/auth/login", json={"username": "admin\x00", "password": "x"})
    refresh = client.post("/api/auth/refresh", json={"refreshToken": "a\x00b"})

    assert login.status_code == 422
    assert refresh.status_code == 422
    if_match = client.put(f"{PROVIDERS}/x", json={}, headers={"If-Match": '"a\x00"'})
    assert if_match.status_code == 401  # no token: refused before anything reads the header


# --- validation answers -----------------------------------------------------------------------------------------


def test_every_failure_is_listed_in_one_answer_and_no_hint_names_its_own_field(admin: TestClient) -> None:
    body = _with_fields("oauth2", {"clientId": "", "clientSecret": ""}) | {"name": ""}
    body["authConfig"]["headers"] = {"Authorization": "Bearer {{clientSecrt}}"}

    errors = _errors(admin.post(PROVIDERS, json=body))

    assert {e["field"] for e in errors} == {
        "name",
        "authConfig.fields.clientId",
        "authConfig.fields.clientSecret",
        "authConfig.fields.tokenUrl",
        "authConfig.headers.Authorization",
    }
    for error in errors:
        own = str(error["field"]).rsplit(".", 1)[-1]
        assert f"'{own}'" not in error.get("suggestion", ""), error
    assert (
        "did you mean 'clientSecret'?" in next(e for e in errors if e["field"].endswith("Authorization"))["suggestion"]
    )


def test_a_misspelt_secret_field_gets_a_hint_naming_what_was_sent(admin: TestClient) -> None:
    errors = _errors(admin.post(PROVIDERS, json=_with_fields("api_key", {"apikey": "sk-1"})))

    assert errors[0]["field"] == "authConfig.fields.apiKey"
    assert errors[0]["suggestion"] == "did you mean 'apikey'? (field names are case-sensitive)"
    assert "sk-1" not in json.dumps(errors)


def test_an_answer_lists_at_most_the_cap_and_counts_the_rest(admin: TestClient) -> None:
    # 900 keys: under the edge's keys-per-object limit (a body with more never reaches validation at all).
    hostile = {"name": "T", "providerConfig": {f"k{i}": i for i in range(900)}}

    response = admin.post(TEMPLATES, json=hostile)

    errors = _errors(response)
    assert len(errors) == MAX_VALIDATION_ERRORS
    assert errors[0] == {"field": "providerConfig.k0", "message": "Unknown field 'k0'", "value": None}
    assert response.json()["error"]["details"] == {"omittedErrors": 800, "maxErrors": MAX_VALIDATION_ERRORS}
    assert len(response.content) < 64 * 1024


def test_oversized_containers_are_one_error_each(admin: TestClient) -> None:
    # 900 of each: under the edge's keys-per-object limit, far over the containers' own bound of 100.
    fields = {f"f{i}": str(i) for i in range(900)} | {"apiKey": "sk-1"}
    roles = list(range(5_000))
    body = _with_fields("api_key", fields)
    # Placeholders that name no field: checking each against 900 field names is what the rules must not do here.
    body["authConfig"]["headers"] = {f"X-H{i}": f"{{{{missing{i}}}}}" for i in range(900)}
    body["capabilities"] = guide.PROVIDER["capabilities"] | {"supportedRoles": roles}

    errors = _errors(admin.post(PROVIDERS, json=body))

    assert [e["field"] for e in errors] == ["authConfig.fields", "authConfig.headers", "capabilities.supportedRoles"]
    assert errors[0]["message"] == "may hold at most 100 entries, not 901"


def test_an_import_stops_checking_once_the_answer_is_full(admin: TestClient) -> None:
    entries = [{"identifier": f"p{i}", "name": ""} for i in range(1_000)]

    response = admin.post(IMPORT, json={"data": {"providers": entries, "models": [1, 2, {}]}})

    assert response.status_code == 422
    assert response.json()["error"]["validationErrors"][0]["field"] == "data.models"
    assert len(response.json()["error"]["validationErrors"]) == 1  # the non-object entries: one error, no plan

    response = admin.post(IMPORT, json={"data": {"providers": entries}})
    details = response.json()["error"]["details"]
    assert len(_errors(response)) == MAX_VALIDATION_ERRORS
    assert details["uncheckedEntries"] > 0
    assert details["maxErrors"] == MAX_VALIDATION_ERRORS
    assert admin.get(PROVIDERS).json()["data"] == []
