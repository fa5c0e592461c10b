"""Plan and apply against the real server application, in-process: convergence, exact plans, and faults."""

from __future__ import annotations

import hashlib
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

from dpm import pipeline
from dpm.engine.live import LiveState
from dpm.engine.outcome import Applied
from dpm.engine.plan import Gate, NotRoutable, Plan, RequestCost
from dpm.pipeline import CompiledConfig, compile_config
from dpm.registry.client import Credentials, RegistryClient
from dpm.values import Ownership
from dpm_server import Settings, create_app
from dpm_server.app import embedded_admin_token
from tests.conftest import REPO, example_secrets

# Starlette's TestClient asks for the httpx2 fork; dpm runs on httpx, which it still supports.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

CANARY = "sk-canary-operations-77aa"
SECRETS = example_secrets(CANARY)
Fault = Callable[[httpx.Request, int], str | None]


class FaultyTransport(httpx.BaseTransport):
    """Forwards to the app, but can fail the n-th write: answer 500, or commit and then drop the answer."""

    def __init__(self, app: TestClient, fault: Fault | None = None) -> None:
        self.app = app
        self.fault = fault
        self.writes = 0
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        is_write = request.url.path.endswith("/import") or request.method in ("PUT", "DELETE")
        if is_write:
            self.writes += 1
        action = self.fault(request, self.writes) if self.fault and is_write else None
        if action == "500":
            body = {"error": {"code": "INTERNAL_ERROR", "message": "injected"}, "timestamp": "t", "requestId": "r-1"}
            return httpx.Response(500, json=body)
        answer = self.app.request(request.method, str(request.url), headers=request.headers, content=request.read())
        if action == "drop":
            raise httpx.ReadError("connection dropped after the registry committed")
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


class Registry:
    def __init__(self, data_dir: Path) -> None:
        self.app = create_app(Settings(data_dir=data_dir, rate_limit="100000/900"))
        self.test_client = TestClient(self.app, base_url="http://registry.test")
        self.token = embedded_admin_token(self.app)

    def client(self, fault: Fault | None = None) -> tuple[RegistryClient, FaultyTransport]:
        transport = FaultyTransport(self.test_client, fault)
        client = RegistryClient(
            "http://registry.test/api",
            Credentials(token=self.token),
            http=httpx.Client(transport=transport),
            sleep=lambda _: None,
        )
        return client, transport


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    registry = Registry(tmp_path / "registry")
    with registry.test_client:
        yield registry


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO / "providers.d", target / "providers.d")
    shutil.copy(REPO / "dpm.yaml", target / "dpm.yaml")
    return target


def compiled(directory: Path, environ: dict[str, str] | None = None) -> CompiledConfig:
    config = compile_config([str(directory / "providers.d")], environ=SECRETS if environ is None else environ)
    assert config.valid, config.diagnostics
    return config


def make_plan(config: CompiledConfig, client: RegistryClient, owner: Ownership, **options: Any) -> Plan:
    with pipeline.read_ahead(client) as live:
        return pipeline.make_plan(config, live, "test registry", owner, **options)


def plan_and_apply(config: CompiledConfig, client: RegistryClient, max_bytes: int | None = None) -> Applied:
    owner = Ownership()
    planned = make_plan(config, client, owner, max_bytes=max_bytes)
    renderer = pipeline.renderer_for(planned, SECRETS)
    return pipeline.run_apply(planned, config.state, client, owner, max_bytes=max_bytes, renderer=renderer)


def plan(config: CompiledConfig, client: RegistryClient) -> Plan:
    return make_plan(config, client, Ownership())


def test_example_applies_in_four_requests_and_then_plans_clean(registry: Registry, config_dir: Path) -> None:
    config = compiled(config_dir)
    client, transport = registry.client()
    planned = plan(config, client)
    assert planned.counts.create == 19
    assert planned.requests.plan == 1
    assert planned.requests.apply == 3  # one import, then refresh and a verifying export
    renderer = pipeline.renderer_for(planned, SECRETS)
    applied = pipeline.run_apply(planned, config.state, client, Ownership(), renderer=renderer)
    assert applied.outcome.ok
    assert applied.left == []
    assert len(transport.requests) == 4
    assert plan(config, client).empty


def test_a_pricing_edit_plans_exactly_that_field(registry: Registry, config_dir: Path) -> None:
    client, _ = registry.client()
    plan_and_apply(compiled(config_dir), client)
    path = config_dir / "providers.d" / "anthropic.yaml"
    path.write_text(path.read_text().replace("inputTokenPrice: 0.001,", "inputTokenPrice: 0.0008,"))
    changes = plan(compiled(config_dir), client).changes
    assert [(c.action, c.kind, c.key) for c in changes] == [("update", "model", "anthropic/claude-haiku-4-5")]
    assert [(f.path, f.before, f.after) for f in changes[0].fields] == [("pricingInfo.inputTokenPrice", 0.001, 0.0008)]
    applied = plan_and_apply(compiled(config_dir), client)
    assert applied.left == []


def test_a_rotated_secret_shows_as_changed_and_an_unknown_one_warns(registry: Registry, config_dir: Path) -> None:
    client, _ = registry.client()
    plan_and_apply(compiled(config_dir), client)
    rotated = plan(compiled(config_dir, {**SECRETS, "DPM_OPENAI_API_KEY": "rotated"}), client)
    (change,) = rotated.changes
    assert (change.key, [f.path for f in change.fields]) == ("openai", ["authConfig.fields.apiKey"])
    assert [(s.field, s.status) for s in change.secrets] == [("apiKey", "changed")]
    missing = {k: v for k, v in SECRETS.items() if k != "DPM_OPENAI_API_KEY"}
    unknown = plan(compiled(config_dir, missing), client)
    assert unknown.empty
    assert unknown.warnings == [
        "openai: cannot tell whether secret authConfig.fields.apiKey changed "
        "(DPM_OPENAI_API_KEY is not set in the environment); it is left as it is"
    ]


def test_removed_models_are_deleted_bottom_up(registry: Registry, config_dir: Path) -> None:
    client, _ = registry.client()
    plan_and_apply(compiled(config_dir), client)
    path = config_dir / "providers.d" / "openai.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("  - identifier: gpt-4o\n")])
    changes = plan(compiled(config_dir), client).changes
    assert [(c.action, c.key) for c in changes] == [("delete", "openai/gpt-4o"), ("delete", "openai/gpt-4o-mini")]
    assert plan_and_apply(compiled(config_dir), client).left == []


def test_a_500_on_the_kth_write_is_reported_exactly_and_reapply_converges(registry: Registry, config_dir: Path) -> None:
    config = compiled(config_dir)
    client, _ = registry.client(lambda request, n: "500" if n == 3 else None)
    # A small body limit splits the import into one batch per provider, so there are several writes to fail.
    applied = plan_and_apply(config, client, max_bytes=1)
    outcome = applied.outcome
    assert not outcome.ok
    assert outcome.error is not None
    assert "500 INTERNAL_ERROR: injected" in outcome.error
    applied_keys = {c.key for c in outcome.applied}
    failed_keys = {c.key for c in outcome.failed}
    remaining_keys = {c.key for c in outcome.remaining}
    healthy, _ = registry.client()
    rest = {c.key for c in plan(config, healthy).changes}
    assert rest == failed_keys | remaining_keys
    assert not rest & applied_keys
    assert plan_and_apply(config, healthy).left == []


def test_a_dropped_answer_after_commit_creates_no_duplicates(registry: Registry, config_dir: Path) -> None:
    config = compiled(config_dir)
    client, transport = registry.client(lambda request, n: "drop" if n == 1 else None)
    applied = plan_and_apply(config, client)
    assert applied.outcome.ok
    assert applied.left == []
    export = registry.test_client.post(
        "/api/admin/providers/export",
        json={"includeModels": True},
        headers={"Authorization": f"Bearer {registry.token}"},
    ).json()
    identifiers = [p["identifier"] for p in export["data"]["providers"]]
    assert len(identifiers) == len(set(identifiers))
    assert len(export["data"]["models"]) == 13
    assert transport.writes == 2


def test_no_secret_reaches_a_plan_or_a_request_log(
    registry: Registry, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from dpm.reports.plan import JsonPlanReporter, TextPlanReporter  # noqa: PLC0415

    caplog.set_level("DEBUG", logger="dpm")
    client, _ = registry.client()
    planned = plan(compiled(config_dir), client)
    shown = TextPlanReporter().report(planned) + JsonPlanReporter().report(planned) + caplog.text
    assert "POST /admin/providers/export -> 200" in caplog.text
    assert CANARY not in shown


# -- property: a config that was just applied plans to zero changes ---------------------------------------------

ROLES = ["system", "user", "assistant", "tool"]
AUTH = {
    "api_key": {"apiKey": "sk-{}"},
    "oauth2": {"clientId": "c-{}", "clientSecret": "s-{}", "tokenUrl": "https://auth.example/{}"},
    "aws_iam": {"accessKeyId": "AKIA{}", "secretAccessKey": "k-{}", "region": "eu-west-1"},
    "custom": {"token": "t-{}"},
}
text = (
    st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs"]), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
price = st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda f: round(f, 6))


@st.composite
def capabilities(draw: st.DrawFn, maximum: int, model: bool) -> dict[str, Any]:
    caps: dict[str, Any] = {
        "supportsSystemMessages": draw(st.booleans()),
        "maxContextLength": draw(st.integers(1, maximum)) if model else maximum,
        "supportedRoles": draw(st.permutations(ROLES).map(lambda r: list(r[: draw(st.integers(1, 4))]))),
        "supportsStreaming": draw(st.booleans()),
        "supportsTools": draw(st.booleans()),
    }
    if model:
        caps["supportsFunctionCalling"] = draw(st.booleans())
        if draw(st.booleans()):
            caps["supportsVision"] = draw(st.booleans())
    elif draw(st.booleans()):
        caps["rateLimits"] = {"requestsPerMinute": draw(st.integers(1, 10_000))}
    return caps


@st.composite
def provider_document(draw: st.DrawFn, identifier: str) -> dict[str, Any]:
    method = draw(st.sampled_from(sorted(AUTH)))
    secret = draw(st.text(alphabet="abcdef0123456789", min_size=4, max_size=12))
    fields = {k: v.format(secret) for k, v in AUTH[method].items()}
    header = next(iter(fields))
    maximum = draw(st.integers(1000, 2_000_000))
    models = []
    for index in range(draw(st.integers(0, 4))):
        length = draw(st.integers(1, maximum))
        model: dict[str, Any] = {
            "identifier": f"m{index}-{draw(st.sampled_from(['a', 'b.c', 'd:e', 'f/g']))}",
            "name": draw(text),
            "contextLength": length,
            "capabilities": draw(capabilities(length, model=True)),
            "status": draw(st.sampled_from(["active", "inactive", "deprecated"])),
            "isDefault": index == 0 and draw(st.booleans()),
        }
        if draw(st.booleans()):
            model["pricingInfo"] = {"inputTokenPrice": draw(price), "outputTokenPrice": draw(price)}
            model["pricingInfo"]["currency"] = draw(st.sampled_from(["USD", "EUR"]))
        models.append(model)
    document: dict[str, Any] = {
        "kind": "Provider",
        "identifier": identifier,
        "name": draw(text),
        "apiEndpoint": draw(st.sampled_from(["https://api.example.com/v1", "http://localhost:11434/v1"])),
        "authMethod": method,
        "authConfig": {"type": method, "fields": fields, "headers": {"X-Auth": f"{{{{{header}}}}}"}},
        "capabilities": draw(capabilities(maximum, model=False)),
        "status": draw(st.sampled_from(["active", "inactive", "testing"])),
        "models": models,
    }
    if draw(st.booleans()):
        document["description"] = draw(text)
    return document


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    registry = Registry(tmp_path_factory.mktemp("property-registry"))
    with registry.test_client:
        yield registry


_counter = iter(range(1_000_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_applied_config_plans_to_zero_changes(
    data: st.DataObject, shared_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = next(_counter)
    documents = [data.draw(provider_document(f"p{run}-{i}")) for i in range(data.draw(st.integers(1, 3)))]
    directory = tmp_path_factory.mktemp("property") / "providers.d"
    directory.mkdir()
    (directory / "all.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))
    config = compile_config([str(directory)], environ={})
    assert config.valid, config.diagnostics
    client, _ = shared_registry.client()
    applied = plan_and_apply(config, client)
    assert applied.outcome.ok, applied.outcome.error
    assert applied.left == []
    assert plan(config, client).empty


def test_a_templated_provider_ends_as_the_apis_template_apply_leaves_it(registry: Registry, config_dir: Path) -> None:
    client, _ = registry.client()
    plan_and_apply(compiled(config_dir), client)
    auth = {"Authorization": f"Bearer {registry.token}"}
    body = {"identifier": "via-api", "name": "Mistral AI", "customizations": {"apiKey": "x", "status": "testing"}}
    made = registry.test_client.post("/api/admin/provider-templates/mistral-template/apply", json=body, headers=auth)
    assert made.status_code == 201, made.text
    export = client.export()["data"]
    by_identifier = {p["identifier"]: p for p in export["providers"]}
    from dpm.engine.normalize import model_view, provider_view  # noqa: PLC0415

    ours, theirs = provider_view(by_identifier["mistral"]), provider_view(by_identifier["via-api"])
    assert {k: v for k, v in ours.items() if k != "authConfig"} == {
        k: v for k, v in theirs.items() if k != "authConfig"
    }
    assert ours["authConfig"]["headers"] == theirs["authConfig"]["headers"]

    def models_of(identifier: str) -> list[dict[str, Any]]:
        owned = [m for m in export["models"] if m["providerIdentifier"] == identifier]
        return sorted((model_view(m) | {"identifier": m["identifier"]} for m in owned), key=lambda m: m["identifier"])

    assert models_of("mistral") == models_of("via-api")


def test_a_connectivity_test_the_registry_cannot_run_is_a_failure_beside_what_was_applied(
    registry: Registry, config_dir: Path
) -> None:
    config = compiled(config_dir)
    client, _ = registry.client()
    applied = plan_and_apply(config, client)
    assert applied.live is not None
    # Deleted by someone else before the tests run: its models first, as the registry demands.
    for model in applied.live.models["openai"].values():
        client.delete("model", str(model["id"]), None)
    client.delete("provider", str(applied.live.providers["openai"]["id"]), None)

    failures = pipeline.connectivity_failures(applied, client)

    assert failures
    assert any(f.startswith("openai: the test could not run: ") for f in failures)
    assert CANARY not in "".join(failures)


# ── writes that lost a race ───────────────────────────────────────────────────────────────────────────────────────


def _someone_else(registry: Registry, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    auth = {"Authorization": f"Bearer {registry.token}"}
    answer = registry.test_client.request(method, "/api" + path, json=body, headers=auth)
    assert answer.status_code < 300, answer.text
    return answer.json()


def test_a_create_that_someone_else_made_first_is_refused_whole(registry: Registry, config_dir: Path) -> None:
    config = compiled(config_dir)
    client, transport = registry.client()
    planned = plan(config, client)
    theirs = {
        "identifier": "ollama-local",
        "name": "Made by someone else",
        "apiEndpoint": "http://localhost:11434/v1",
        "authMethod": "api_key",
        "authConfig": {"type": "api_key", "fields": {"apiKey": "theirs"}, "headers": {}},
        "capabilities": {
            "supportsSystemMessages": True,
            "maxContextLength": 1000,
            "supportedRoles": ["user"],
            "supportsStreaming": False,
            "supportsTools": False,
        },
    }
    _someone_else(registry, "POST", "/admin/providers", theirs)

    applied = pipeline.run_apply(
        planned, config.state, client, Ownership(), renderer=pipeline.renderer_for(planned, SECRETS)
    )

    outcome = applied.outcome
    assert outcome.stale
    assert outcome.moved == ["provider ollama-local now exists (the plan would create it)"]
    assert outcome.applied == []
    assert [c.kind for c in outcome.failed].count("provider") == 5
    export = client.export()["data"]
    assert [(p["identifier"], p["name"]) for p in export["providers"]] == [("ollama-local", "Made by someone else")]
    assert transport.writes == 1  # refused whole, and nothing tried after it


def test_an_update_to_an_object_that_moved_is_refused(registry: Registry, config_dir: Path) -> None:
    client, _ = registry.client()
    plan_and_apply(compiled(config_dir), client)
    path = config_dir / "providers.d" / "anthropic.yaml"
    path.write_text(path.read_text().replace("inputTokenPrice: 0.001,", "inputTokenPrice: 0.0008,"))
    planned = plan(compiled(config_dir), client)
    (change,) = planned.changes
    _someone_else(registry, "PUT", f"/admin/models/{change.liveId}", {"description": "edited by hand"})

    applied = pipeline.run_apply(planned, None, client, Ownership(), renderer=pipeline.renderer_for(planned, SECRETS))

    assert applied.outcome.moved == ["model anthropic/claude-haiku-4-5 changed since the plan was made"]
    model = next(m for m in client.export()["data"]["models"] if m["id"] == change.liveId)
    assert (model["description"], model["pricingInfo"]["inputTokenPrice"]) == ("edited by hand", 0.001)


def test_a_delete_of_an_object_that_moved_is_refused(registry: Registry, config_dir: Path) -> None:
    client, _ = registry.client()
    plan_and_apply(compiled(config_dir), client)
    path = config_dir / "providers.d" / "openai.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("  - identifier: gpt-4o-mini\n")])
    planned = plan(compiled(config_dir), client)
    (change,) = planned.changes
    _someone_else(registry, "PUT", f"/admin/models/{change.liveId}", {"description": "still in use"})

    applied = pipeline.run_apply(planned, None, client, Ownership(), renderer=pipeline.renderer_for(planned, SECRETS))

    assert applied.outcome.moved == ["model openai/gpt-4o-mini changed since the plan was made"]
    assert any(m["id"] == change.liveId for m in client.export()["data"]["models"])


def test_a_lost_answer_then_a_refused_retry_counts_as_done_only_when_the_registry_holds_the_write(
    registry: Registry, config_dir: Path
) -> None:
    config = compiled(config_dir)
    edited: list[str] = []

    def drop_then_edit(request: httpx.Request, n: int) -> str | None:
        if n == 1:
            return "drop"  # the import commits; its answer is lost
        if n == 2 and not edited:  # before the retry arrives, someone else edits what the import created
            provider = next(p for p in _someone_else(registry, "GET", "/admin/providers")["data"])
            _someone_else(registry, "PUT", f"/admin/providers/{provider['id']}", {"description": "theirs"})
            edited.append(provider["identifier"])
        return None

    client, _ = registry.client(drop_then_edit)
    applied = plan_and_apply(config, client)

    assert applied.outcome.stale
    assert applied.outcome.error is not None
    assert "perhaps, by this apply's own first attempt" in applied.outcome.error
    assert f"provider {edited[0]} now exists (the plan would create it)" in applied.outcome.moved
    assert _someone_else(registry, "GET", "/admin/providers")["data"][0]["description"] == "theirs"


def test_a_targeted_apply_writes_only_its_targets_and_verifies_only_them(registry: Registry, config_dir: Path) -> None:
    config = compiled(config_dir)
    client, _ = registry.client()
    owner = Ownership()
    chosen = ["provider/search-team-gateway", "model/openai/gpt-4o"]
    planned = make_plan(config, client, owner, chosen=chosen)
    assert planned.targets == ["model/openai/gpt-4o", "provider/search-team-gateway"]
    # The provider's template is defined in another file, and is brought along; so is gpt-4o's missing provider.
    assert [(c.action, c.key) for c in planned.changes] == [
        ("create", "internal-gateway"),
        ("create", "openai"),
        ("create", "search-team-gateway"),
        ("create", "openai/gpt-4o"),
        ("create", "search-team-gateway/gateway/claude-sonnet-4-5"),
        ("create", "search-team-gateway/gateway/gpt-4o"),
    ]
    applied = pipeline.run_apply(planned, config.state, client, owner, renderer=pipeline.renderer_for(planned, SECRETS))
    assert applied.outcome.ok
    assert applied.left == []  # verified within the targets: the rest of the config is not applied, and not "left"
    assert applied.targets == planned.targets
    again = make_plan(config, client, owner, chosen=chosen)
    assert again.empty
    whole = plan(config, client)
    assert {c.key for c in whole.changes} >= {"anthropic", "openai/gpt-4.1", "mistral"}
    assert "openai/gpt-4o" not in {c.key for c in whole.changes}


def test_the_checksum_covers_the_targets_and_sums_the_plans_compact_json(registry: Registry, config_dir: Path) -> None:
    config = compiled(config_dir)
    client, _ = registry.client()
    targeted = make_plan(config, client, Ownership(), chosen=["provider/openai"])
    assert targeted.compute_checksum() != targeted.model_copy(update={"targets": []}).compute_checksum()
    whole = plan(config, client)
    # Anyone can check it: the sha256 of the plan's compact JSON without the checksum, in the order dpm writes it.
    compact = whole.model_dump_json(exclude={"checksum"}).encode()
    assert whole.checksum == "sha256:" + hashlib.sha256(compact).hexdigest()
    # Read back from the file dpm saves (indented), the plan sums to the same checksum.
    assert Plan.model_validate_json(whole.model_dump_json(indent=2)).compute_checksum() == whole.checksum


def test_the_config_keeps_where_objects_were_written_only_for_its_policies(config_dir: Path) -> None:
    with_policies = compiled(config_dir)
    assert with_policies.guard.active()
    assert "openai" in with_policies.guard.sources.providers  # a finding on a plan's change is placed in its file
    settings = config_dir / "dpm.yaml"  # no policies: no positions held past compiling
    settings.write_text(settings.read_text().replace('extends: ["dpm:recommended"]', ""))
    without = compiled(config_dir)
    assert not without.guard.active()
    assert without.guard.sources.providers == {}
    assert without.guard.sources.templates == {}


def test_a_saved_gated_plan_is_stale_once_a_provider_it_left_untested_under_has_changed() -> None:
    gate = Gate(untestedUnder=[NotRoutable(identifier="gamma", etag='"g1"')])
    saved = Plan(target="test registry", requests=RequestCost(plan=2, apply=0), gate=gate)
    live = LiveState()
    live.providers["gamma"] = {"identifier": "gamma", "status": "inactive", "etag": '"g1"'}
    pipeline.check_fresh(saved, live)  # as the plan saw it

    live.providers["gamma"] = {"identifier": "gamma", "status": "active", "etag": '"g2"'}
    with pytest.raises(pipeline.StalePlan) as stale:
        pipeline.check_fresh(saved, live)
    assert stale.value.moved == ["provider gamma changed since the plan was made, which relied on it as it was"]
