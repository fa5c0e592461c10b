"""Import preconditions (ext): checked in the import's own transaction; 412 lists every failed one, writes nothing."""

from __future__ import annotations

import copy
from typing import Any

from starlette.testclient import TestClient

from tests.server import guide

EXPORT, IMPORT = "/api/admin/providers/export", "/api/admin/providers/import"
STATUS = "/api/admin/providers/registry-status"


def _seed(admin: TestClient) -> dict[str, Any]:
    """A provider with one model and a custom template; the export that describes them."""
    provider = admin.post("/api/admin/providers", json=guide.PROVIDER).json()
    admin.post(f"/api/admin/providers/{provider['id']}/models", json=guide.MODEL)
    template = {"name": "Mine", "providerConfig": {"apiEndpoint": "https://example.com/v1"}, "defaultModels": []}
    admin.post("/api/admin/provider-templates", json=template)
    exported: dict[str, Any] = admin.post(EXPORT, json={"includeTemplates": True}).json()
    return exported


def _etags(exported: dict[str, Any]) -> dict[str, str]:
    data = exported["data"]
    return {
        "provider": data["providers"][0]["etag"],
        "model": data["models"][0]["etag"],
        "template": next(t["etag"] for t in data["templates"] if t["name"] == "Mine"),
    }


def _renamed(name: str) -> dict[str, Any]:
    return copy.deepcopy(guide.PROVIDER) | {"name": name}


def _import(admin: TestClient, data: dict[str, Any], preconditions: list[dict[str, str]], **options: Any) -> Any:
    body = {"data": data, "options": {"conflictResolution": "replace", "preconditions": preconditions, **options}}
    return admin.post(IMPORT, json=body)


def test_holding_preconditions_let_the_import_through(admin: TestClient) -> None:
    etags = _etags(_seed(admin))
    data = {
        "providers": [_renamed("Renamed"), guide.ANTHROPIC],
        "models": [guide.MODEL | {"providerIdentifier": "custom-openai"}],
    }
    preconditions = [
        {"type": "provider", "identifier": "custom-openai", "ifMatch": etags["provider"]},
        {"type": "provider", "identifier": "my-anthropic", "ifMatch": "absent"},
        {"type": "model", "identifier": "custom-openai/gpt-4", "ifMatch": etags["model"]},
        {"type": "template", "identifier": "Mine", "ifMatch": etags["template"]},
        {"type": "template", "identifier": "Never made", "ifMatch": "absent"},
    ]

    response = _import(admin, data, preconditions)

    assert response.status_code == 200, response.text
    names = sorted(p["name"] for p in admin.get("/api/admin/providers").json()["data"])
    assert names == ["My Anthropic Provider", "Renamed"]


def test_etags_compare_with_or_without_quotes_and_weak_prefix(admin: TestClient) -> None:
    _seed(admin)

    for spell in (lambda etag: etag.strip('"'), lambda etag: f"W/{etag}"):
        etag = admin.post(EXPORT).json()["data"]["providers"][0]["etag"]
        precondition = {"type": "provider", "identifier": "custom-openai", "ifMatch": spell(etag)}
        response = _import(admin, {"providers": [_renamed("Again")]}, [precondition])
        assert response.status_code == 200, response.text


def test_every_failed_precondition_is_listed_and_nothing_is_written(admin: TestClient) -> None:
    etags = _etags(_seed(admin))
    admin.post("/api/admin/providers", json=guide.ANTHROPIC)  # someone else created it meanwhile
    revision = admin.get(STATUS).json()["revision"]
    audit_before = admin.get("/api/admin/audit-log").json()["pagination"]["total"]
    data = {"providers": [_renamed("Mine now"), guide.ANTHROPIC]}
    preconditions = [
        {"type": "provider", "identifier": "custom-openai", "ifMatch": etags["provider"]},  # holds
        {"type": "provider", "identifier": "my-anthropic", "ifMatch": "absent"},  # exists now
        {"type": "model", "identifier": "custom-openai/gpt-4", "ifMatch": '"0000000000000000"'},  # moved
        {"type": "template", "identifier": "Gone", "ifMatch": etags["template"]},  # never there
    ]

    response = _import(admin, data, preconditions)

    assert response.status_code == 412
    error = response.json()["error"]
    assert error["code"] == "PRECONDITION_FAILED"
    assert error["details"] == [
        {
            "type": "provider",
            "identifier": "my-anthropic",
            "expected": "absent",
            "actual": _current(admin, "my-anthropic"),
        },
        {
            "type": "model",
            "identifier": "custom-openai/gpt-4",
            "expected": '"0000000000000000"',
            "actual": etags["model"],
        },
        {"type": "template", "identifier": "Gone", "expected": etags["template"], "actual": "absent"},
    ]
    assert admin.get(STATUS).json()["revision"] == revision
    assert admin.get("/api/admin/audit-log").json()["pagination"]["total"] == audit_before
    assert {p["name"] for p in admin.get("/api/admin/providers").json()["data"]} == {
        guide.PROVIDER["name"],
        guide.ANTHROPIC["name"],
    }


def _current(admin: TestClient, identifier: str) -> str:
    providers = admin.post(EXPORT).json()["data"]["providers"]
    return str(next(p["etag"] for p in providers if p["identifier"] == identifier))


def test_a_dry_run_checks_preconditions_too(admin: TestClient) -> None:
    _seed(admin)

    response = _import(
        admin,
        {"providers": [guide.PROVIDER]},
        [{"type": "provider", "identifier": "custom-openai", "ifMatch": "absent"}],
        validateOnly=True,
    )

    assert response.status_code == 412


def test_a_model_identifier_without_its_provider_never_matches_an_etag(admin: TestClient) -> None:
    etags = _etags(_seed(admin))

    response = _import(
        admin, {"providers": [guide.PROVIDER]}, [{"type": "model", "identifier": "gpt-4", "ifMatch": etags["model"]}]
    )

    assert response.status_code == 412
    assert response.json()["error"]["details"][0]["actual"] == "absent"


def test_malformed_preconditions_are_refused(admin: TestClient) -> None:
    for precondition in (
        {"type": "user", "identifier": "admin", "ifMatch": "absent"},
        {"type": "provider", "identifier": "", "ifMatch": "absent"},
        {"type": "provider", "identifier": "x", "ifMatch": "absent", "extra": 1},
        {"type": "provider", "identifier": "x\u0000", "ifMatch": "absent"},
        {"type": "provider", "identifier": "x", "ifMatch": "e" * 129},
    ):
        response = _import(admin, {"providers": []}, [precondition])
        assert response.status_code in {400, 422}, precondition


def test_thousands_of_preconditions_are_checked_in_bounded_queries(admin: TestClient) -> None:
    # More than SQLite's bound-parameter limit would allow in one IN list: answered, not a 500.
    preconditions = [{"type": "model", "identifier": f"p-{i}/m-{i}", "ifMatch": "absent"} for i in range(20_000)]
    preconditions += [{"type": "provider", "identifier": f"p-{i}", "ifMatch": "absent"} for i in range(20_000)]

    response = _import(admin, {"providers": [guide.PROVIDER]}, preconditions)

    assert response.status_code == 200, response.text[:500]
