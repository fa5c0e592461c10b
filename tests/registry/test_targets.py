"""Targets: which registry a command talks to, and a working session with it, the embedded one included."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from dpm.errors import UsageError
from dpm.registry.client import RegistryError
from dpm.registry.targets import TargetChoice, choose_target, connect
from dpm_server.embedded import embedded_registry

URL = "https://registry.example.com/api"


@pytest.mark.parametrize(
    ("option", "environ", "configured", "chosen"),
    [
        ("http://from-option/api", {"DPM_REGISTRY_URL": "http://from-env/api"}, "http://from-config/api", "option"),
        (None, {"DPM_REGISTRY_URL": "http://from-env/api"}, "http://from-config/api", "env"),
        (None, {}, "http://from-config/api", "config"),
    ],
)
def test_the_option_wins_then_the_environment_then_the_config(
    option: str | None, environ: dict[str, str], configured: str, chosen: str, tmp_path: Path
) -> None:
    choice = choose_target(option, configured, environ, tmp_path)
    assert choice.url == f"http://from-{chosen}/api"
    assert choice.description == f"registry http://from-{chosen}/api"


def test_embedded_named_anywhere_wins_over_a_url_below_it(tmp_path: Path) -> None:
    choice = choose_target(None, URL, {"DPM_REGISTRY_URL": "embedded"}, tmp_path)
    assert choice == TargetChoice(None, tmp_path / ".dpm")
    assert choice.description == f"embedded registry ({tmp_path / '.dpm' / 'registry.db'})"


def test_with_nothing_named_the_embedded_registry_lives_beside_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert choose_target(None, None, {}, tmp_path / "repo").description == "embedded registry (repo/.dpm/registry.db)"
    assert choose_target(None, None, {}, None).data_dir == Path(".dpm")


@pytest.mark.parametrize("named", ["registry.example.com/api", "ftp://registry.example.com", "localhost:8000"])
def test_a_registry_that_is_not_an_http_url_is_refused_with_an_example(named: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        choose_target(named, None, {}, tmp_path)
    assert refused.value.message == f"registry {named!r} is not an http(s) URL"
    assert refused.value.hint == "name the API base, e.g. http://localhost:8000/api"


@pytest.mark.parametrize("ci", ["true", "TRUE", "True"])
def test_under_ci_the_embedded_fallback_is_refused(ci: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        choose_target(None, None, {"CI": ci}, tmp_path)
    assert "under CI=true dpm refuses to fall back to the embedded registry" in refused.value.message
    assert refused.value.hint is not None
    assert "--registry embedded" in refused.value.hint


def test_under_ci_a_registry_named_anywhere_is_used(tmp_path: Path) -> None:
    assert choose_target("embedded", None, {"CI": "true"}, tmp_path).url is None
    assert choose_target(None, "embedded", {"CI": "true"}, tmp_path).url is None
    assert choose_target(None, None, {"CI": "true", "DPM_REGISTRY_URL": URL}, tmp_path).url == URL
    assert choose_target(None, None, {"CI": "false"}, tmp_path).url is None


def test_connect_to_the_embedded_registry_serves_real_requests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    choice = TargetChoice(None, tmp_path / ".dpm")
    with caplog.at_level(logging.WARNING), connect(choice, {}, max_wait=1) as session:
        export = session.client.export()
        assert (session.url, session.target) == (None, choice.description)
        assert session.client.base_url.startswith("http://127.0.0.1:")
    assert export["data"]["providers"] == []
    assert export["metadata"]["revision"] is not None
    assert (tmp_path / ".dpm" / "registry.db").is_file()
    # Private from the start, like the data directory of `dpm serve`, so nothing warns about it.
    assert stat.S_IMODE((tmp_path / ".dpm").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / ".dpm" / "registry.db").stat().st_mode) == 0o600
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_connect_to_a_url_takes_its_credentials_from_the_environment(tmp_path: Path) -> None:
    with embedded_registry(tmp_path / "server") as server:
        with connect(TargetChoice(server.url, tmp_path), {"DPM_TOKEN": server.token}, max_wait=1) as session:
            assert session.client.export()["data"]["providers"] == []
            assert (session.url, session.target) == (server.url, f"registry {server.url}")
        with connect(TargetChoice(server.url, tmp_path), {}, max_wait=1) as anonymous:
            with pytest.raises(RegistryError) as refused:
                anonymous.client.export()
            assert refused.value.status == 401


@pytest.mark.parametrize("blocker", ["data dir is a file", "parent is a file", "database is a directory"])
def test_a_data_dir_that_cannot_be_written_fails_with_a_clear_error(blocker: str, tmp_path: Path) -> None:
    data_dir = tmp_path / ".dpm"
    if blocker == "data dir is a file":
        data_dir.write_text("not a directory")
    elif blocker == "parent is a file":
        (tmp_path / "file").write_text("not a directory")
        data_dir = tmp_path / "file" / ".dpm"
    else:
        (data_dir / "registry.db").mkdir(parents=True)
    with pytest.raises(UsageError) as refused, connect(TargetChoice(None, data_dir), {}, max_wait=1):
        pass
    assert refused.value.hint == f"check {data_dir} is writable"


@pytest.mark.parametrize(
    ("named", "problem"),
    [
        ("http://[::1/api", "an IPv6 host must be enclosed in [ ]"),
        ("http://::1]/api", "an IPv6 host must be enclosed in [ ]"),
        ("http://", "it names no host"),
        ("https:///api", "it names no host"),
        ("http://host:99999/api", "the port must be a number from 1 to 65535"),
        ("http://host:abc/api", "the port must be a number from 1 to 65535"),
        ("http://host:0/api", "the port must be a number from 1 to 65535"),
        ("http://a b/api", "it contains a space or a control character"),
        ("http://host/api\n", "it contains a space or a control character"),
    ],
)
def test_a_malformed_registry_url_is_a_usage_error_naming_it(named: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        choose_target(named, None, {}, tmp_path)
    assert refused.value.message == f"registry URL {named!r} is malformed: {problem}"
    assert refused.value.hint == "name the API base, e.g. http://localhost:8000/api"


def test_a_password_in_a_malformed_url_is_not_repeated(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        choose_target(None, None, {"DPM_REGISTRY_URL": "https://admin:hunter2@host:99999/api"}, tmp_path)
    assert (
        refused.value.message
        == "registry URL 'https://***@host:99999/api' is malformed: the port must be a number from 1 to 65535"
    )


@pytest.mark.parametrize("named", ["http://[::1]:8000/api", "https://user:pw@host:443/api", "http://localhost/api"])
def test_well_formed_urls_are_taken_as_written(named: str, tmp_path: Path) -> None:
    assert choose_target(named, None, {}, tmp_path).url == named
