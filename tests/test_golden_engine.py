"""Golden cases for plan and drift: a config and a registry state in, the exact output of every report format out.

Each folder under ``tests/golden_engine/`` is one case, so a regression case is a new folder::

    case.yaml        ``about`` (what the case shows), the registry state, the secrets, the commands and exit codes
    registry/        a config repo (providers.d/, optional dpm.yaml) applied first: the registry state
    providers.d/     the config in git that the commands run on (and an optional dpm.yaml)
    expected/NAME    what ``dpm ARGS`` printed on stdout, for each ``NAME: {args: ARGS, exit: CODE}`` of case.yaml;
                     NAME.err holds its stderr when that is not empty

The registry state is written as config, not as an export document: ``registry/`` is applied with ``dpm apply
--auto-approve``, so the state reads like the config beside it, and the plan is the difference of two folders a
reviewer can diff. What git cannot express, the changes made outside git that drift reports, are ``edits`` in
case.yaml: admin API calls (``method``, ``path``, optional ``body``) made after the apply, in which ``{identifier}``
(a provider), ``{provider/model}`` (a model) or ``{name}`` (a template) stands for the id the registry gave the
object. Secrets are canaries, set for the apply (``registry.secrets``) and for the commands (``secrets``) separately,
so a rotated or unknown secret is a difference of two lines; no canary may appear in any output.

Every case runs against a fresh ``dpm serve`` on loopback, and all its commands run, in order, against that one
registry, through the ``dpm`` console script in a subprocess with a clean environment. This module imports nothing
of ``dpm``, so moving its modules around leaves these cases alone.

Outputs carry parts that change from run to run; these substitutions, and no others, are made before comparing:

- the registry's URL (its port is free-chosen) → ``<URL>``; the case's temporary directory → ``<TMP>``
- ``(revision N)`` and JSON ``liveRevision`` → ``<REVISION>`` (it counts the writes that made the state)
- the rate-limit window: remaining requests, limit and reset time → ``<REMAINING>``, ``<LIMIT>``, ``<RESET>``
  (the plan's own request costs are kept: they are dpm's behaviour)
- request ids → ``<REQUEST-ID>``
- in JSON only, by key: ``liveId`` → ``<ID>``, ``etag`` and ``liveVersion`` → ``<ETAG>`` (or ``<DIGEST>`` for
  a content digest), ``checksum`` → ``<CHECKSUM>``, a secret's salted ``fingerprint`` → ``<FINGERPRINT>``

JSON outputs are compared as parsed JSON after these substitutions; text and markdown as text.

After a deliberate change of output, regenerate the expected files with ``DPM_UPDATE_GOLDEN=1 pytest
tests/test_golden_engine.py`` (the same switch as ``tests/test_golden.py``), and review the diff as you would code.
Exit codes in case.yaml are never rewritten: a changed exit code is a decision to make by hand.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.conftest import ADMIN, Result, Server, clean_environment, run_dpm
from tests.server.serving import Served

CASES_DIR = Path(__file__).parent / "golden_engine"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())
UPDATE = bool(os.environ.get("DPM_UPDATE_GOLDEN"))  # read at import: the tests themselves run without DPM_*
CANARY = "sk-canary-golden-"
CONFIG = ("providers.d", "dpm.yaml", "environments", "policies")

_REVISION = re.compile(r"\(revision \d+\)")
_RATE = re.compile(r"of \d+ left in the registry's rate-limit window \(limit \d+(, resets at [0-9TZ:.-]+)?\)")
_REQUEST_ID = re.compile(r"\breq-[0-9a-f]{8,}\b")
_JSON_KEYS = {"liveId": "<ID>", "checksum": "<CHECKSUM>", "fingerprint": "<FINGERPRINT>"}
_REQUESTS = {"remaining": "<REMAINING>", "limit": "<LIMIT>", "resetsAt": "<RESET>"}


@dataclass(frozen=True)
class Volatile:
    """What differs between two runs of the same case."""

    url: str
    tmp: Path

    def text(self, text: str) -> str:
        text = text.replace(self.url, "<URL>").replace(str(self.tmp), "<TMP>")
        text = _REVISION.sub("(revision <REVISION>)", text)
        text = _RATE.sub(_rate, text)
        return _REQUEST_ID.sub("<REQUEST-ID>", text)

    def json(self, value: Any, key: str = "", parent: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.json(v, k, key) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, key, parent) for v in value]
        if value is None:
            return None
        if key == "liveRevision":
            return "<REVISION>"
        if key in ("etag", "liveVersion"):
            return "<DIGEST>" if str(value).startswith("sha256:") else "<ETAG>"
        if key in _JSON_KEYS:
            return _JSON_KEYS[key]
        if parent == "requests" and key in _REQUESTS:
            return _REQUESTS[key]
        return self.text(value) if isinstance(value, str) else value


def _rate(match: re.Match[str]) -> str:
    reset = ", resets at <RESET>" if match.group(1) else ""
    return f"of <REMAINING> left in the registry's rate-limit window (limit <LIMIT>{reset})"


@dataclass(frozen=True)
class Case:
    folder: Path
    spec: Mapping[str, Any]

    @classmethod
    def read(cls, folder: Path) -> Case:
        return cls(folder, yaml.safe_load((folder / "case.yaml").read_text()))

    @property
    def registry(self) -> Mapping[str, Any]:
        return self.spec.get("registry") or {}

    def secrets(self, which: Mapping[str, Any]) -> dict[str, str]:
        values = {str(k): str(v) for k, v in (which.get("secrets") or {}).items()}
        assert all(v.startswith(CANARY) for v in values.values()), "secrets in golden cases must be canaries"
        return values


class _Registries:
    """Fresh registries, one per case; the next case's server starts while this case runs (it takes a second)."""

    def __init__(self, root: Path, count: int) -> None:
        self.root, self.left = root, count
        self.spare = self._start() if count else None

    def _start(self) -> Server:
        server = Server(self.root / f"registry-{self.left}")
        Served.start(server)  # the process only: Server.start would wait until it listens
        return server

    def take(self) -> Server:
        assert self.spare is not None
        server, self.left = self.spare, self.left - 1
        self.spare = self._start() if self.left else None
        server.wait_until_up()
        return server


@pytest.fixture(scope="module")
def _registries(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Registries]:
    count = sum(item.name.startswith("test_golden_engine[") for item in request.session.items)
    registries = _Registries(tmp_path_factory.mktemp("registries"), count)
    yield registries
    if registries.spare is not None:
        registries.spare.stop()


@pytest.fixture
def registry(_registries: _Registries) -> Iterator[Server]:
    server = _registries.take()
    yield server
    server.stop()


@pytest.mark.parametrize("folder", CASES, ids=[c.name for c in CASES])
def test_golden_engine(folder: Path, registry: Server, tmp_path: Path) -> None:
    case = Case.read(folder)
    _prepare(case, registry, tmp_path)
    repo = _copy_config(folder, tmp_path / "repo")
    volatile = Volatile(registry.url, tmp_path)
    env = clean_environment(DPM_REGISTRY_URL=registry.url, **ADMIN, **case.secrets(case.spec))
    for name, command in case.spec["commands"].items():
        result = run_dpm(*command["args"], cwd=repo, env=env)
        assert result.exit_code == command.get("exit", 0), f"{name}: {result.out}\n{result.err}"
        assert CANARY not in result.out + result.err
        _compare(folder / "expected" / name, result, volatile)
        assert ADMIN["DPM_PASSWORD"] not in result.out + result.err


def _prepare(case: Case, server: Server, tmp_path: Path) -> None:
    """The registry state: ``registry/`` applied with dpm, then the API edits made outside git."""
    if (case.folder / "registry").is_dir():
        repo = _copy_config(case.folder / "registry", tmp_path / "registry-repo")
        env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **case.secrets(case.registry))
        applied = run_dpm("apply", "--auto-approve", cwd=repo, env=env)
        assert applied.exit_code == 0, applied.out + applied.err
        assert CANARY not in applied.out + applied.err
    edits = case.registry.get("edits") or []
    if edits:
        with httpx.Client(base_url=server.url, headers=server.admin_headers()) as api:
            for edit in edits:
                path = _resolve(edit["path"], api)
                response = api.request(edit["method"], path, json=edit.get("body"))
                assert response.is_success, f"{edit['method']} {path}: {response.status_code} {response.text}"


def _resolve(path: str, api: httpx.Client) -> str:
    """``/admin/models/{acme/acme-large}`` → ``/admin/models/<its id>``, looked up in one export."""
    if "{" not in path:
        return path
    exported = api.post("/admin/providers/export", json={"includeModels": True, "includeTemplates": True})
    data = exported.raise_for_status().json()["data"]
    ids = {
        "providers": {p["identifier"]: p["id"] for p in data["providers"]},
        "models": {f"{m['providerIdentifier']}/{m['identifier']}": m["id"] for m in data["models"]},
        "provider-templates": {t["name"]: t["id"] for t in data["templates"]},
    }
    return re.sub(r"(?<=/)([a-z-]+)/\{([^}]+)\}", lambda m: f"{m[1]}/{ids[m[1]][m[2]]}", path)


def _copy_config(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in CONFIG:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        elif (source / name).is_file():
            shutil.copy(source / name, target / name)
    return target


def _compare(expected_file: Path, result: Result, volatile: Volatile) -> None:
    errors_file = expected_file.with_name(expected_file.name + ".err")
    out = _normalized(expected_file.suffix, result.out, volatile)
    err = volatile.text(result.err)
    if UPDATE:
        expected_file.parent.mkdir(exist_ok=True)
        expected_file.write_text(out)
        if err:
            errors_file.write_text(err)
        else:
            errors_file.unlink(missing_ok=True)
    if expected_file.suffix == ".json":
        assert json.loads(out) == json.loads(expected_file.read_text()), expected_file
    else:
        assert out == expected_file.read_text(), expected_file
    assert err == (errors_file.read_text() if errors_file.exists() else ""), errors_file


def _normalized(suffix: str, out: str, volatile: Volatile) -> str:
    if suffix != ".json":
        return volatile.text(out)
    return json.dumps(volatile.json(json.loads(out)), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("folder", CASES, ids=[c.name for c in CASES])
def test_every_expected_file_belongs_to_a_command(folder: Path) -> None:
    """A renamed or removed command leaves no stale expected file behind."""
    names = set(Case.read(folder).spec["commands"])
    expected = folder / "expected"
    written = {p.name.removesuffix(".err") for p in expected.iterdir()} if expected.is_dir() else set()
    assert written == names


def test_no_expected_file_holds_a_secret_or_an_unmasked_address() -> None:
    files = [p for p in CASES_DIR.rglob("*") if p.is_file() and "expected" in p.parts]
    assert files
    for path in files:
        text = path.read_text()
        assert CANARY not in text, path
        assert ADMIN["DPM_PASSWORD"] not in text, path
        assert "127.0.0.1" not in text, path
