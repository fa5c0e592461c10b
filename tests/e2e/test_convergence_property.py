"""The plan is the contract, as a property: over random configs and random out-of-band edits (the registry edited
by hand, files deleted, secrets unset or rotated), a plan that exits 0 is followed by an apply that exits 0, and
after it a plan says "The registry matches the configuration." only when the registry holds exactly the files.

``dpm`` runs in-process through its real entry point (many runs per example), against a real ``dpm serve``.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dpm import redaction
from dpm.commands.main import main
from dpm.resources.secrets import fingerprint_matches
from tests.e2e.conftest import ADMIN, Server
from tests.test_pipeline import provider_document

MATCHES = "No changes. The registry matches the configuration."
EDITS = (
    "live-description",
    "live-model-status",
    "live-model-delete",
    "live-provider-add",
    "live-key-rotate",
    "file-delete",
    "file-rename",
    "file-add",
    "secret-unset",
    "secret-rotate",
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """The server, and one admin token for every run (logins have a budget of their own, as they should)."""
    running = Server(tmp_path_factory.mktemp("convergence") / "registry")
    running.start()
    with httpx.Client(base_url=running.url) as http:
        token = http.post("/auth/login", json={"username": "admin", "password": ADMIN["DPM_PASSWORD"]}).json()["token"]
    yield running, token
    running.stop()


@dataclass
class Repo:
    """One example's config repository, its environment, and the admin API beside it."""

    root: Path
    prefix: str
    api: httpx.Client
    base: dict[str, str]  # the registry and the token
    secrets: dict[str, str] = field(default_factory=dict)

    def write(self, number: int, document: dict[str, Any]) -> None:
        (self.root / "providers.d" / f"p{number}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    def documents(self) -> dict[str, dict[str, Any]]:
        found = (yaml.safe_load(p.read_text()) for p in sorted((self.root / "providers.d").glob("*.yaml")))
        return {d["identifier"]: d for d in found}

    def dpm(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        os.environ.update(self.base | self.secrets)
        redaction._known.clear()  # each run is a new process, knowing no secret of an earlier one
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([*args, str(self.root / "providers.d")])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return code, out.getvalue(), err.getvalue()

    def live(self) -> dict[str, Any]:
        data: dict[str, Any] = self.api.post("/admin/providers/export", json={"includeModels": True}).json()["data"]
        providers = {p["identifier"]: p for p in data["providers"] if p["identifier"].startswith(self.prefix)}
        models: dict[str, dict[str, Any]] = {identifier: {} for identifier in providers}
        for model in data["models"]:
            if model["providerIdentifier"] in providers:
                models[model["providerIdentifier"]][model["identifier"]] = model
        return {"providers": providers, "models": models}


def _variable(repo: Repo, number: int) -> str:
    return f"DPM_{repo.prefix.upper().replace('-', '_')}{number}_KEY"


def _document(draw: st.DrawFn, repo: Repo, number: int) -> dict[str, Any]:
    identifier = f"{repo.prefix}{number}"
    document = draw(provider_document(identifier))
    variable = _variable(repo, number)
    document["authMethod"] = "api_key"
    document["authConfig"] = {
        "type": "api_key",
        "fields": {"apiKey": f"${{{{ secret.{variable} }}}}"},
        "headers": {"Authorization": "Bearer {{apiKey}}"},
    }
    document["capabilities"].pop("supportedAuthMethods", None)
    # "sk-" keeps a key from equalling a generated name or description, which would (rightly) fail the plan
    repo.secrets[variable] = "sk-" + draw(st.text(alphabet="abcdef0123456789", min_size=12, max_size=24))
    return document


def _edit(draw: st.DrawFn, repo: Repo, edit: str, serial: int) -> None:
    # One draw picks the object, whatever the state: hypothesis replays an example only if its draws do not
    # depend on what the registry holds.
    pick = draw(st.integers(0, 999))

    def one(items: list[Any]) -> Any:
        return items[pick % len(items)]

    live = repo.live()
    providers = sorted(live["providers"])
    models = [(p, m) for p in providers for m in sorted(live["models"][p])]
    files = sorted((repo.root / "providers.d").glob("*.yaml"))
    if edit == "live-description" and providers:
        provider = live["providers"][one(providers)]
        repo.api.put(f"/admin/providers/{provider['id']}", json={"description": "edited by hand"})
    elif edit == "live-model-status" and models:
        owner, identifier = one(models)
        model = live["models"][owner][identifier]
        status = "deprecated" if model.get("status") != "deprecated" else "inactive"
        repo.api.put(f"/admin/models/{model['id']}", json={"status": status})
    elif edit == "live-model-delete" and models:
        owner, identifier = one(models)
        repo.api.delete(f"/admin/models/{live['models'][owner][identifier]['id']}")
    elif edit == "live-provider-add":
        document = _document(draw, repo, 100 + serial)
        del repo.secrets[_variable(repo, 100 + serial)]  # made by hand: the files know nothing of it
        body = {k: v for k, v in document.items() if k not in ("kind", "models")}
        body["authConfig"] = {**body["authConfig"], "fields": {"apiKey": "sk-made-by-hand-0000"}}
        assert repo.api.post("/admin/providers", json=body).status_code == 201
    elif edit == "live-key-rotate" and providers:
        provider = live["providers"][one(providers)]
        auth = {"type": "api_key", "fields": {"apiKey": "sk-rotated-by-hand-1111"}, "headers": {}}
        repo.api.put(f"/admin/providers/{provider['id']}", json={"authConfig": auth})
    elif edit == "file-delete" and len(files) > 1:  # an empty providers.d is refused, by design
        one(files).unlink()
    elif edit == "file-rename" and files:
        path = one(files)
        document = yaml.safe_load(path.read_text())
        document["name"] = f"Renamed {serial}"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    elif edit == "file-add":
        repo.write(200 + serial, _document(draw, repo, 200 + serial))
    elif edit in ("secret-unset", "secret-rotate"):
        variables = sorted(repo.secrets)
        if variables:
            variable = one(variables)
            if edit == "secret-unset":
                del repo.secrets[variable]
            else:
                repo.secrets[variable] += "-rotated"


def _assert_registry_equals_files(repo: Repo) -> None:
    """An independent check, from the export and the files, of what "matches" promises."""
    live, documents = repo.live(), repo.documents()
    assert sorted(live["providers"]) == sorted(documents)
    for identifier, document in documents.items():
        provider = live["providers"][identifier]
        assert provider["name"] == document["name"]
        assert provider.get("description") == document.get("description")
        wanted = {m["identifier"]: m for m in document["models"]}
        assert sorted(live["models"][identifier]) == sorted(wanted)
        for model_identifier, model in wanted.items():
            assert live["models"][identifier][model_identifier]["status"] == model["status"]
        expression = document["authConfig"]["fields"]["apiKey"]
        variable = expression.removeprefix("${{ secret.").removesuffix(" }}")
        fingerprint = provider["authConfig"]["fieldFingerprints"]["apiKey"]
        assert variable in repo.secrets, f"{identifier}: 'matches' said over a secret that was not compared"
        assert fingerprint_matches(fingerprint, repo.secrets[variable]), (
            f"{identifier}: the stored key is not the files'"
        )


_examples = iter(range(1_000_000))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_plan_that_passes_applies_and_matches_only_when_true(
    data: st.DataObject, registry: tuple[Server, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    server, token = registry
    example = next(_examples)
    root = tmp_path_factory.mktemp("example")
    (root / "providers.d").mkdir()
    prefix = f"cv{example}-"
    prune = data.draw(st.booleans(), label="prune")
    (root / "dpm.yaml").write_text(yaml.safe_dump({"scope": [f"{prefix}*"], "prune": prune, "maxDeletes": 100}))
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    repo = Repo(root, prefix, api, {"DPM_REGISTRY_URL": server.url, "DPM_TOKEN": token})
    with api:
        for number in range(data.draw(st.integers(1, 3), label="providers")):
            repo.write(number, _document(data.draw, repo, number))
        code, out, err = repo.dpm("apply", "--auto-approve")
        assert code == 0, out + err

        for serial, edit in enumerate(data.draw(st.lists(st.sampled_from(EDITS), max_size=4), label="edits")):
            _edit(data.draw, repo, edit, serial)

        code, out, err = repo.dpm("plan")
        if code != 0:
            # The only plan that may fail here is one that cannot be applied, and it must say why.
            assert code == 1, out + err
            assert "this plan cannot be applied" in err, out + err
            event("plan refused: it cannot be applied")
            return
        code, out, err = repo.dpm("apply", "--auto-approve")
        assert code == 0, out + err
        assert "Verified" in out or "No changes" in out, out

        code, out, err = repo.dpm("plan", "--detailed-exitcode")
        assert code == 0, out + err
        if MATCHES in out:
            event("matches: checked against the export")
            _assert_registry_equals_files(repo)
        else:
            event("no 'matches': objects kept or secrets not compared")
