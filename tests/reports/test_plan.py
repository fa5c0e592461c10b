"""Plan reports: the text a reviewer reads, and the JSON a tool reads against its published schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from dpm.engine.plan import PLAN_FORMAT_VERSION, Change, FieldChange, Plan, RequestCost, SecretNote, count
from dpm.reports.markdown import MarkdownPlanReporter
from dpm.reports.plan import JsonPlanReporter, TextPlanReporter, plan_reporter
from tests.conftest import REPO

CANARY = "sk-canary-plan-report-2f3e4d"


def small_plan(
    requests: RequestCost | None = None, warnings: tuple[str, ...] = (), secret: str = "(sensitive value)"
) -> Plan:
    changes = [
        Change(  # a create carries its body; the reports read its fields from it
            action="create",
            kind="provider",
            identifier="acme",
            secrets=[SecretNote(field="apiKey", status="added")],
            body={
                "identifier": "acme",
                "name": "Acme",
                "authMethod": "api_key",
                "authConfig": {"type": "api_key", "fields": {"apiKey": {"$secret": "${{ secret.DPM_ACME }}"}}},
                "capabilities": {"supportedRoles": ["user", "system"]},
            },
        ),
        Change(
            action="update",
            kind="model",
            provider="beta",
            identifier="small",
            fields=[
                FieldChange(path="contextLength", before=4096, after=8192),
                FieldChange(path="description", after="Fast"),
                FieldChange(path="pricingInfo", before={"inputTokenPrice": 0.1}),
            ],
        ),
        Change(
            action="update",
            kind="provider",
            identifier="beta",
            fields=[FieldChange(path="authConfig.fields.apiKey", before=secret, after=f"{secret}, new")],
            secrets=[SecretNote(field="apiKey", status="changed")],
        ),
        Change(action="delete", kind="provider", identifier="old", fields=[FieldChange(path="name", before="Old")]),
    ]
    return Plan(
        target="registry http://r/api",
        registry="http://r/api",
        liveRevision=7,
        changes=changes,
        counts=count(changes),
        warnings=list(warnings),
        requests=requests or RequestCost(plan=1, apply=5),
    ).sealed()


def test_the_text_plan_shows_each_change_with_its_symbol_and_fields() -> None:
    # A secret field is masked by its path, whatever its values: even one that should never reach a plan.
    text = TextPlanReporter().report(small_plan(warnings=("beta: a warning",), secret=CANARY))
    assert text.splitlines() == [
        "dpm plan for registry http://r/api (revision 7)",
        "",
        "+ provider acme",
        '    name: "Acme"',
        '    authMethod: "api_key"',
        '    authConfig.type: "api_key"',
        '    authConfig.fields.apiKey: "(sensitive value, new)"',
        "    authConfig.headers: {}",
        '    capabilities.supportedRoles: ["system", "user"]',
        '    capabilities.supportedAuthMethods: ["api_key"]',
        '    status: "active"',
        "~ model beta/small",
        "    ~ contextLength: 4096 → 8192",
        '    + description: "Fast"',
        "    - pricingInfo:",
        "        inputTokenPrice: 0.1",
        "~ provider beta",
        "    ~ authConfig.fields.apiKey: (sensitive value changed)",
        "- provider old",
        '    name: "Old"',
        "",
        "Plan: 1 to create, 2 to update, 1 to delete.",
        "Requests: this plan cost 1; applying it will cost 5.",
        "warning: beta: a warning",
    ]
    assert CANARY not in text


def test_an_empty_plan_says_so_and_still_shows_its_cost() -> None:
    plan = Plan(target="registry http://r/api", registry="http://r/api", requests=RequestCost(plan=1, apply=0))
    assert TextPlanReporter().report(plan).splitlines() == [
        "dpm plan for registry http://r/api",
        "",
        "No changes. The registry matches the configuration.",
        "",
        "Requests: this plan cost 1; applying it will cost 0.",
    ]


def test_the_embedded_registry_has_no_request_line() -> None:
    """Its requests never leave the machine and count against nothing."""
    plan = Plan(target="embedded registry (.dpm/registry.db)", requests=RequestCost(plan=1, apply=0))
    assert TextPlanReporter().report(plan).splitlines() == [
        "dpm plan for embedded registry (.dpm/registry.db)",
        "",
        "No changes. The registry matches the configuration.",
    ]
    assert "Requests:" not in TextPlanReporter().report(small_plan().model_copy(update={"registry": None}))


MODEL = {
    "name": "Large",
    "capabilities": {"supportedRoles": ["system", "user"], "maxContextLength": 64000},
    "pricingInfo": {"inputTokenPrice": 0.003, "currency": "USD"},
}


def nested_plan() -> Plan:
    changes = [
        Change(
            action="create",
            kind="template",
            identifier="gateway",
            fields=[
                FieldChange(path="defaultModels", after=[MODEL, {"name": "Small", "tags": []}]),
                FieldChange(path="providerConfig.authConfig.fields", after={}),
            ],
        ),
        Change(
            action="update",
            kind="template",
            identifier="team",
            fields=[
                FieldChange(path="defaultModels", before=[MODEL], after=[]),
                FieldChange(path="providerConfig.authConfig.headers", after={"X-Team": "{{team}}"}),
            ],
        ),
    ]
    return Plan(
        target="registry http://r/api", changes=changes, counts=count(changes), requests=RequestCost(plan=1, apply=3)
    )


def test_nested_values_are_indented_blocks_not_one_json_line() -> None:
    lines = TextPlanReporter().report(nested_plan()).splitlines()
    assert lines[2:24] == [
        "+ template gateway",
        "    defaultModels:",
        '      - name: "Large"',
        "        capabilities:",
        '          supportedRoles: ["system", "user"]',
        "          maxContextLength: 64000",
        "        pricingInfo:",
        "          inputTokenPrice: 0.003",
        '          currency: "USD"',
        '      - name: "Small"',
        "        tags: []",
        "    providerConfig.authConfig.fields: {}",
        "~ template team",
        "    ~ defaultModels:",
        "        before:",
        '          - name: "Large"',
        "            capabilities:",
        '              supportedRoles: ["system", "user"]',
        "              maxContextLength: 64000",
        "            pricingInfo:",
        "              inputTokenPrice: 0.003",
        '              currency: "USD"',
    ]
    assert lines[24:28] == [
        "        after: []",
        "    + providerConfig.authConfig.headers:",
        '        X-Team: "{{team}}"',
        "",
    ]


def test_each_line_of_a_block_carries_its_colour() -> None:
    lines = TextPlanReporter(color=True).report(nested_plan()).splitlines()
    assert "    \x1b[33m~ defaultModels:\x1b[0m" in lines
    assert '    \x1b[33m          currency: "USD"\x1b[0m' in lines
    assert '    \x1b[32m    X-Team: "{{team}}"\x1b[0m' in lines


@pytest.mark.parametrize(
    ("cost", "line"),
    [
        (
            RequestCost(plan=1, apply=5, remaining=40, limit=100, resetsAt="2026-01-01T00:15:00Z"),
            "Requests: this plan cost 1; applying it will cost 5, of 40 left in the registry's rate-limit window "
            "(limit 100, resets at 2026-01-01T00:15:00Z).",
        ),
        (
            RequestCost(plan=1, apply=5, remaining=40, limit=100),
            "Requests: this plan cost 1; applying it will cost 5, of 40 left in the registry's rate-limit window "
            "(limit 100).",
        ),
        (
            RequestCost(plan=2, apply=5, remaining=40),
            "Requests: this plan cost 2; applying it will cost 5, of 40 left in the registry's rate-limit window.",
        ),
    ],
)
def test_the_cost_line_adds_what_the_registry_says_about_its_rate_limit(cost: RequestCost, line: str) -> None:
    assert line in TextPlanReporter().report(small_plan(cost)).splitlines()


def test_colour_is_plain_ansi_and_only_when_asked_for() -> None:
    plain = TextPlanReporter().report(small_plan())
    coloured = TextPlanReporter(color=True).report(small_plan())
    assert "\x1b[" not in plain
    lines = coloured.splitlines()
    assert "\x1b[32m+ provider acme\x1b[0m" in lines
    assert "\x1b[33m~ model beta/small\x1b[0m" in lines
    assert "\x1b[31m- provider old\x1b[0m" in lines
    assert "    \x1b[33m~ authConfig.fields.apiKey: (sensitive value changed)\x1b[0m" in lines
    assert "\x1b[" not in "".join(line for line in lines if line.startswith("Plan:"))


def test_a_saved_plan_says_how_to_apply_exactly_it(tmp_path: Path) -> None:
    text = TextPlanReporter(saved_as=tmp_path / "plan.json").report(small_plan())
    saved = tmp_path / "plan.json"
    assert text.splitlines()[-1] == f"Saved the plan to {saved}; apply exactly it with: dpm apply --plan {saved}"


def test_the_json_plan_follows_its_published_schema_and_reads_back_whole() -> None:
    plan = small_plan(RequestCost(plan=1, apply=5, remaining=40, limit=100, resetsAt="2026-01-01T00:15:00Z"))
    document = json.loads(JsonPlanReporter().report(plan))
    jsonschema.validate(document, json.loads((REPO / "schemas" / "plan.schema.json").read_text()))
    assert document["formatVersion"] == PLAN_FORMAT_VERSION == 2
    assert document["changes"][0]["fields"] == []  # a create's fields are its body
    assert Plan.model_validate(document) == plan
    assert Plan.model_validate(document).compute_checksum() == document["checksum"]


def test_each_format_has_its_reporter(tmp_path: Path) -> None:
    assert isinstance(plan_reporter("json", color=True, saved_as=None), JsonPlanReporter)
    assert isinstance(plan_reporter("markdown", color=True, saved_as=tmp_path), MarkdownPlanReporter)
    text = plan_reporter("text", color=True, saved_as=tmp_path)
    assert isinstance(text, TextPlanReporter)
    assert (text.color, text.saved_as) == (True, tmp_path)
