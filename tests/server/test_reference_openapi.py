"""Real answers of the guide's workflows, validated against the upstream contract itself:
``../shared/reference/dynamic-providers-openapi.yaml`` (beside the repository; CI lays a copy there).

Each recorded answer is checked against the response schema the reference declares for its operation and status,
with ``$ref``s resolved inside the document and OpenAPI 3.0's ``nullable`` turned into JSON Schema. The few places
where the server deviates on purpose, as ``CONTRACT.md`` records, are listed in ``DEVIATIONS`` and nowhere else.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from starlette.testclient import TestClient

from tests.server import guide
from tests.server.databases import in_ci
from tests.server.outbound.fake_provider import FakeProvider

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "dynamic-providers-openapi.yaml"
API = "/api"

# What CONTRACT.md records as deliberate deviations from the reference document, and how each is checked instead.
DEVIATIONS = {
    "system template slugs": "system templates keep stable slugs (openai-template, …) as ids, not UUIDs",
    "422 statuses": "a parsed body that fails its schema or rules is 422 VALIDATION_ERROR, which the reference "
    "does not declare per operation: such answers are checked against its ErrorResponse",
}
SYSTEM_TEMPLATE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-template$")


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    status: int
    body: Any


def _reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        message = f"the reference contract is not at {REFERENCE} (CI lays shared/ beside the clone)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    document: dict[str, Any] = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    return document


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable: true`` admits ``null``; everything else carries over."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = json_schema(document)
        # Fixed paths first, so that /admin/providers/export is never read as /admin/providers/{id}.
        self.routes = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path)
            for path in sorted(self.document["paths"], key=lambda path: path.count("{"))
        ]

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def schema_for(self, exchange: Exchange) -> dict[str, Any] | None:
        """The reference's schema for this answer; None when it declares none (204, or an undeclared status)."""
        method, path = exchange.method.lower(), exchange.path.removeprefix(API)
        template = next(
            (t for pattern, t in self.routes if pattern.match(path) and method in self.document["paths"][t]), None
        )
        assert template is not None, f"{exchange.method} {exchange.path} is not in the reference"
        responses = self.document["paths"][template][method]["responses"]
        declared = responses.get(str(exchange.status))
        if declared is None:
            return None
        content = self._resolve(declared).get("content", {}).get("application/json")
        return None if content is None else content["schema"]

    def validate(self, body: Any, schema: dict[str, Any]) -> None:
        # The schema sits in the whole document, so that #/components/... refs resolve where they point.
        root = {"components": self.document["components"]} | schema
        jsonschema.validate(body, root, cls=jsonschema.Draft7Validator, format_checker=jsonschema.FormatChecker())

    def error_schema(self) -> dict[str, Any]:
        return {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture
def contract() -> Contract:
    return Contract(_reference())


@pytest.fixture
def recorded(allowed_admin: TestClient) -> list[Exchange]:
    exchanges: list[Exchange] = []

    def record(response: httpx.Response) -> None:
        response.read()
        body = response.json() if response.content else None
        exchanges.append(Exchange(response.request.method, response.request.url.path, response.status_code, body))

    allowed_admin.event_hooks["response"].append(record)
    return exchanges


def _guide_workflows(admin: TestClient, fake: FakeProvider) -> None:
    """The guide's workflows with its own bodies: set up a provider, test it, add a model, use templates, export
    into import, registry status and refresh, and the documented errors."""
    created = admin.post(f"{API}/admin/providers", json=guide.PROVIDER | {"apiEndpoint": f"{fake.url}/v1"}).json()
    provider = f"{API}/admin/providers/{created['id']}"
    admin.get(f"{API}/admin/providers", params={"status": "active", "page": 1, "limit": 10})
    admin.get(provider)
    admin.put(provider, json={"description": "Updated"})
    admin.post(f"{provider}/test")
    model = admin.post(f"{provider}/models", json=guide.MODEL).json()
    bare = admin.post(
        f"{provider}/models",
        json={k: v for k, v in guide.MODEL.items() if k != "description"}
        | {"identifier": "bare", "pricingInfo": {"currency": "USD"}},
    )
    assert bare.status_code == 201, bare.text
    admin.get(f"{provider}/models")
    admin.get(f"{API}/admin/models/{model['id']}")
    admin.put(f"{API}/admin/models/{model['id']}", json={"name": "GPT-4 (renamed)"})
    admin.post(f"{API}/admin/models/{model['id']}/test")
    templates = admin.get(f"{API}/admin/provider-templates").json()
    admin.get(f"{API}/admin/provider-templates/openai-template")
    admin.post(f"{API}/admin/provider-templates/openai-template/apply", json=guide.APPLY)
    custom = admin.post(f"{API}/admin/provider-templates", json={"name": "Mine", "providerConfig": {}}).json()
    admin.put(f"{API}/admin/provider-templates/{custom['id']}", json={"name": "Mine too"})
    assert any(t["isSystem"] for t in templates)
    exported = admin.post(f"{API}/admin/providers/export", json=guide.EXPORT)
    admin.post(f"{API}/admin/providers/import", content=exported.content, headers={"Content-Type": "application/json"})
    admin.get(f"{API}/admin/providers/registry-status")
    admin.post(f"{API}/admin/providers/refresh-registry")
    admin.post(f"{API}/admin/providers", json=guide.PROVIDER | {"identifier": "Custom_OpenAI"})  # 400
    admin.post(f"{API}/admin/providers", json=guide.PROVIDER)  # 409
    missing_key = copy.deepcopy(guide.PROVIDER) | {"identifier": "no-key"}
    missing_key["authConfig"] = {"type": "api_key", "fields": {}, "headers": {}}
    admin.post(f"{API}/admin/providers", json=missing_key)  # 422
    admin.get(f"{API}/admin/providers/no-such-id")  # 404
    admin.delete(f"{API}/admin/provider-templates/{custom['id']}")
    admin.get(f"{API}/admin/providers", headers={"Authorization": "Bearer not-a-jwt"})  # 401


def test_guide_workflow_answers_match_the_reference_contract(
    allowed_admin: TestClient, fake_provider: FakeProvider, recorded: list[Exchange], contract: Contract
) -> None:
    _guide_workflows(allowed_admin, fake_provider)

    statuses = {exchange.status for exchange in recorded}
    assert {200, 201, 204, 400, 401, 404, 409, 422} <= statuses
    checked = 0
    for exchange in recorded:
        schema = contract.schema_for(exchange)
        if exchange.status == 422:  # deviation "422 statuses"
            assert schema is None, "the reference now declares 422 here: drop the deviation"
            schema = contract.error_schema()
        if schema is None:
            assert exchange.status == 204 or exchange.body is None or exchange.status >= 400, exchange
            continue
        body = _with_deviations(exchange.body)
        try:
            contract.validate(body, schema)
        except jsonschema.ValidationError as error:
            pytest.fail(f"{exchange.method} {exchange.path} -> {exchange.status}: {error.message} at {error.json_path}")
        checked += 1
    assert checked >= 25


def _with_deviations(body: Any) -> Any:
    """The body with the recorded deviations taken out: a system template's slug id becomes a UUID-shaped id."""
    if isinstance(body, list):
        return [_with_deviations(item) for item in body]
    if isinstance(body, dict):
        copied = {key: _with_deviations(value) for key, value in body.items()}
        if body.get("isSystem") is True and isinstance(body.get("id"), str) and SYSTEM_TEMPLATE_ID.match(body["id"]):
            copied["id"] = "00000000-0000-4000-8000-000000000000"  # deviation "system template slugs"
        return copied
    return body


def test_no_answer_carries_null_for_an_optional_field(
    allowed_admin: TestClient, fake_provider: FakeProvider, recorded: list[Exchange]
) -> None:
    _guide_workflows(allowed_admin, fake_provider)

    def nulls(value: Any, path: str) -> list[str]:
        if isinstance(value, dict):
            return [found for key, child in value.items() for found in nulls(child, f"{path}.{key}")]
        if isinstance(value, list):
            return [found for index, child in enumerate(value) for found in nulls(child, f"{path}.{index}")]
        return [path] if value is None else []

    found = [
        f"{e.method} {e.path}: {where}"
        for e in recorded
        if e.status < 400 and e.body is not None  # the guide's own 422 example carries "value": null
        for where in nulls(e.body, "")
    ]
    assert found == []


def test_the_served_openapi_declares_optional_fields_non_nullable(admin: TestClient) -> None:
    schemas = admin.get(f"{API}/openapi.json").json()["components"]["schemas"]

    for name, fields in {
        "ProviderOut": ("description", "lastTested", "testResult", "createdBy"),
        "ModelOut": ("description", "lastTested", "testResult", "pricingInfo"),
        "TemplateOut": ("description", "createdBy"),
    }.items():
        for field in fields:
            declared = schemas[name]["properties"][field]
            assert field not in schemas[name].get("required", []), (name, field)
            assert {"type": "null"} not in declared.get("anyOf", []), (name, field, declared)
    # In an update body null still means "clear it", and says so.
    assert {"type": "null"} in schemas["ProviderUpdate"]["properties"]["description"]["anyOf"]
