"""``dpm check`` end to end: the real executable against a real ``dpm serve`` whose outbound allow-list admits a
fake provider on loopback, which lists its models, retires one, or rejects the key."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN, Server, clean_environment, fake_provider_file, run_dpm
from tests.server.outbound.fake_provider import CANARY as UPSTREAM_CANARY
from tests.server.outbound.fake_provider import FakeProvider

KEY = "sk-check-canary-7d3e2f"  # the provider's key: it must never be printed

MODEL_LINE, MODEL_COLUMN = 19, 17  # where "fake-gpt-4" stands in fake_provider_file's document


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider.running() as running:
        running.api_key = KEY
        yield running


@contextlib.contextmanager
def registry_with(tmp_path: Path, fake: FakeProvider, rate_limit: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A repository with two providers at the fake provider, applied to a registry that may call it."""
    repo = tmp_path / "repo"
    (repo / "providers.d").mkdir(parents=True)
    for identifier in ("fake-one", "fake-two"):
        (repo / "providers.d" / f"{identifier}.yaml").write_text(fake_provider_file(identifier, fake.url))
    server = Server(tmp_path / "registry", rate_limit=rate_limit, outbound_allow="127.0.0.1")
    server.start()
    try:
        env = clean_environment(DPM_REGISTRY_URL=server.url, DPM_FAKE_KEY=KEY, **ADMIN)
        done = run_dpm("apply", "--auto-approve", "--max-wait", "60", cwd=repo, env=env)
        assert done.exit_code == 0, done.out + done.err
        fake.seen.clear()
        yield repo, env
    finally:
        server.stop()


@pytest.fixture
def applied(tmp_path: Path, fake: FakeProvider) -> Iterator[tuple[Path, dict[str, str]]]:
    with registry_with(tmp_path, fake, "100000/900") as ready:
        yield ready


def test_check_passes_with_a_notice_then_finds_a_retired_model_at_its_line(
    applied: tuple[Path, dict[str, str]], fake: FakeProvider
) -> None:
    repo, env = applied
    served = run_dpm("check", cwd=repo, env=env)
    assert served.exit_code == 0, served.out + served.err
    # One test per provider, each one request to the provider.
    assert [s.path for s in fake.seen] == ["/v1/models", "/v1/models"]
    assert "provider 'fake-one' offers model 'fake-claude', which the config lacks" in served.out
    assert served.out.rstrip().endswith("valid, 0 error(s), 0 warning(s), 2 notice(s)")

    fake.models = ["fake-claude"]  # fake-gpt-4 retired upstream
    retired = run_dpm("check", cwd=repo, env=env)
    assert retired.exit_code == 2, retired.out + retired.err
    where = f"providers.d/fake-one.yaml:{MODEL_LINE}:{MODEL_COLUMN}: error:"
    line = next(x for x in retired.out.splitlines() if x.startswith(where))
    assert "model 'fake-gpt-4' of provider 'fake-one' is no longer listed by the provider" in line

    document = json.loads(run_dpm("check", "--format", "json", cwd=repo, env=env).out)
    assert (document["errors"], document["notices"]) == (2, 2)  # fake-claude is still offered
    markdown = run_dpm("check", "--format", "markdown", cwd=repo, env=env)
    assert markdown.exit_code == 2
    assert markdown.out.startswith("### dpm check of 2 provider(s) in the registry")
    github = run_dpm("check", "--format", "github", cwd=repo, env=env).out
    assert f"::error file=providers.d/fake-one.yaml,line={MODEL_LINE},col={MODEL_COLUMN}," in github
    for result in (served, retired, markdown):
        assert KEY not in result.out + result.err
        assert UPSTREAM_CANARY not in result.out + result.err


def test_a_failing_provider_is_an_error_with_its_message_and_select_tests_only_the_chosen(
    applied: tuple[Path, dict[str, str]], fake: FakeProvider
) -> None:
    repo, env = applied
    fake.api_key = "sk-rotated-upstream"  # the registry's key is no longer accepted
    failed = run_dpm("check", "--select", "fake-t*", cwd=repo, env=env)
    assert failed.exit_code == 2, failed.out + failed.err
    assert len(fake.seen) == 1  # only the selected provider was tested
    assert (
        "error: the connectivity test of provider 'fake-two' failed: the provider rejected the credentials (HTTP 401)"
        in failed.out
    )
    assert "fake-one" not in failed.out
    assert "dpm check of 1 provider(s)" in failed.out
    assert KEY not in failed.out + failed.err
    assert UPSTREAM_CANARY not in failed.out + failed.err

    nothing = run_dpm("check", "--select", "nope-*", cwd=repo, env=env)
    assert nothing.exit_code == 1
    assert "--select nope-* matches no provider in the config" in nothing.err

    (repo / "providers.d" / "fake-new.yaml").write_text(fake_provider_file("fake-new", fake.url))
    fake.api_key = KEY
    unapplied = run_dpm("check", "--select", "fake-new", cwd=repo, env=env)
    assert unapplied.exit_code == 2, unapplied.out + unapplied.err
    assert "provider 'fake-new' is not in the registry yet" in unapplied.out
    assert "hint: apply the config first (dpm apply)" in unapplied.out


def test_a_rate_limited_check_costs_one_export_and_one_test_per_provider_and_waits_for_the_window(
    tmp_path: Path, fake: FakeProvider
) -> None:
    # Two requests per 3 s, from a fresh window: the check's export and two tests need the next one.
    with registry_with(tmp_path, fake, "2/3") as (repo, env):
        time.sleep(3.2)  # the apply's last window closes
        checked = run_dpm("check", "-v", "--max-wait", "60", cwd=repo, env=env)
    assert checked.exit_code == 0, checked.out + checked.err
    assert "the registry's rate limit is exhausted; waiting" in checked.err
    answered = [p for _, p in re.findall(r"(GET|POST) (\S+) -> 200", checked.err) if not p.endswith("/login")]
    assert answered[0] == "/admin/providers/export"
    assert len(answered) == 3
    assert all(re.fullmatch(r"/admin/providers/[^/]+/test", p) for p in answered[1:])
    assert len(fake.seen) == 2
    assert "(3 request(s))" in checked.out
