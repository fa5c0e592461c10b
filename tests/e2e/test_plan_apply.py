"""The real ``dpm`` against the real ``dpm serve`` over loopback, as a user runs them."""

from __future__ import annotations

import json
import os
import pty
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import httpx
import jsonschema

from dpm import pipeline
from dpm.pipeline import compile_config
from dpm.registry.client import Credentials, RegistryClient
from dpm.values import Ownership
from tests.conftest import REPO
from tests.e2e.conftest import ADMIN, CANARY, DPM, SECRETS, Server, clean_environment, fake_provider_file, run_dpm
from tests.server.outbound.fake_provider import FakeProvider


def test_quickstart_then_a_pricing_edit(server: Server, config_repo: Path) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    applied = run_dpm("apply", "--auto-approve", "-v", cwd=config_repo, env=env)
    assert applied.exit_code == 0, applied.err
    assert applied.out.splitlines()[0] == f"dpm plan for registry {server.url}"
    assert "Plan: 19 to create, 0 to update, 0 to delete." in applied.out
    assert "Verified: the registry matches the configuration." in applied.out
    assert "POST /admin/providers/import -> 200" in applied.err

    clean = run_dpm("plan", "--detailed-exitcode", cwd=config_repo, env=env)
    assert clean.exit_code == 0
    assert "No changes." in clean.out

    path = config_repo / "providers.d" / "openai.yaml"
    path.write_text(path.read_text().replace("inputTokenPrice: 0.00015,", "inputTokenPrice: 0.0002,"))
    edited = run_dpm("plan", "--detailed-exitcode", cwd=config_repo, env=env)
    assert edited.exit_code == 2
    body = edited.out.split("\n\n")[1]
    assert body == "~ model openai/gpt-4o-mini\n    ~ pricingInfo.inputTokenPrice: 0.00015 → 0.0002"
    assert run_dpm("apply", "--auto-approve", cwd=config_repo, env=env).exit_code == 0
    assert run_dpm("plan", "--detailed-exitcode", cwd=config_repo, env=env).exit_code == 0

    for result in (applied, clean, edited):
        assert CANARY not in result.out + result.err
        assert ADMIN["DPM_PASSWORD"] not in result.out + result.err


def test_json_plan_is_versioned_and_secret_free(server: Server, config_repo: Path) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    result = run_dpm("plan", "--format", "json", cwd=config_repo, env=env)
    assert result.exit_code == 0, result.err
    assert '"formatVersion": 2' in result.out
    assert CANARY not in result.out


def test_the_embedded_registry_is_the_default(config_repo: Path) -> None:
    env = clean_environment(**SECRETS)
    applied = run_dpm("apply", "--auto-approve", cwd=config_repo, env=env)
    assert applied.exit_code == 0, applied.err
    assert applied.out.splitlines()[0] == "dpm plan for embedded registry (.dpm/registry.db)"
    assert (config_repo / ".dpm" / "registry.db").is_file()
    again = run_dpm("plan", "--detailed-exitcode", cwd=config_repo, env=env)
    assert again.exit_code == 0
    assert CANARY not in (config_repo / ".dpm" / "registry.db").read_bytes().decode("latin-1")


def test_the_embedded_registry_never_shows_in_git_status(config_repo: Path) -> None:
    """The quick start in a git repository whose .gitignore does not name .dpm/: its keys and database stay out."""
    git = shutil.which("git")
    assert git is not None

    def status() -> list[str]:
        done = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=all", "--ignored=no"],
            cwd=config_repo,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.splitlines()

    subprocess.run([git, "init", "-q", str(config_repo)], check=True)
    before = status()
    assert "?? dpm.yaml" in before  # the control: git sees what is untracked here
    env = clean_environment(**SECRETS)
    applied = run_dpm("apply", "--auto-approve", "providers.d", cwd=config_repo, env=env)
    assert applied.exit_code == 0, applied.err
    assert run_dpm("plan", "--detailed-exitcode", "providers.d", cwd=config_repo, env=env).exit_code == 0
    assert status() == before
    assert {p.name for p in (config_repo / ".dpm").iterdir()} >= {".gitignore", "registry.db", "secret.key", "jwt.key"}
    assert (config_repo / ".dpm" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_ci_refuses_the_embedded_default_unless_named(config_repo: Path) -> None:
    env = clean_environment(CI="true", **SECRETS)
    refused = run_dpm("plan", cwd=config_repo, env=env)
    assert refused.exit_code == 1
    assert "under CI=true dpm refuses to fall back to the embedded registry" in refused.err
    assert not (config_repo / ".dpm" / "registry.db").exists()  # the compile cache may be there, no registry
    named = run_dpm("plan", "--registry", "embedded", cwd=config_repo, env=env)
    assert named.exit_code == 0, named.err


def test_apply_without_a_terminal_or_auto_approve_refuses(server: Server, config_repo: Path) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    result = run_dpm("apply", cwd=config_repo, env=env, stdin="yes\n")
    assert result.exit_code == 1
    assert "refusing to apply without confirmation" in result.err
    assert run_dpm("plan", "--detailed-exitcode", cwd=config_repo, env=env).exit_code == 2


UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def test_an_invalid_config_costs_at_most_the_read_and_ends_it_at_its_first_retry(config_repo: Path) -> None:
    # The registry is read while the config compiles; this one answers every request 503, so the read retries.
    requests: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    done = threading.Event()

    def answer_unavailable() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                requests.append(connection.recv(65536).split(b"\r\n")[0])
                connection.sendall(UNAVAILABLE)

    watcher = threading.Thread(target=answer_unavailable, daemon=True)
    watcher.start()
    (config_repo / "providers.d" / "broken.yaml").write_text("kind: Provider\nidentifier: Bad\n")
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    try:
        env = clean_environment(**SECRETS)
        result = run_dpm("apply", "--auto-approve", "--registry", url, cwd=config_repo, env=env)
    finally:
        done.set()
        watcher.join(10)
        listener.close()
    assert result.exit_code == 1
    assert "broken.yaml:2:13: error: identifier" in result.err
    assert "503" not in result.err  # the config's problems are the answer; the read's trouble is not reported
    # A read at most, never a write; and not retried four times over (0.5 + 1 + 2 + 4 s of backoff) once not needed.
    assert set(requests) <= {b"POST /api/admin/providers/export HTTP/1.1"}
    assert len(requests) <= 2


def test_a_rate_limited_apply_waits_for_the_window_and_finishes(tmp_path: Path, config_repo: Path) -> None:
    # Three requests per 5 s: the apply's fourth request (of five) has to wait for the next window.
    server = Server(tmp_path / "limited", rate_limit="3/5")
    server.start()
    try:
        env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
        result = run_dpm("apply", "--auto-approve", "--max-wait", "60", cwd=config_repo, env=env)
        assert result.exit_code == 0, result.err
        assert "the registry's rate limit is exhausted; waiting" in result.err
        assert "Verified" in result.out
    finally:
        server.stop()


def test_a_rate_limit_beyond_max_wait_stops_with_a_clear_message(tmp_path: Path, config_repo: Path) -> None:
    # One request per minute: the plan's login passes, its export gets 429 with the window a minute away.
    server = Server(tmp_path / "starved", rate_limit="1/60")
    server.start()
    try:
        env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
        stopped = run_dpm("plan", "--max-wait", "5", cwd=config_repo, env=env)
        assert stopped.exit_code == 1
        assert "the registry's rate limit is exhausted and its window opens in" in stopped.err
        assert "beyond --max-wait (5s)" in stopped.err
        assert "Traceback" not in stopped.err
    finally:
        server.stop()


def test_a_server_killed_mid_apply_then_restarted_converges(tmp_path: Path, config_repo: Path) -> None:
    server = Server(tmp_path / "killed")
    server.start()
    config = compile_config([str(config_repo / "providers.d")], environ=SECRETS)
    imports: list[int] = []

    def kill_before_second_import(request: httpx.Request) -> None:
        if request.url.path.endswith("/import"):
            imports.append(1)
            if len(imports) == 2:
                server.kill()

    http = httpx.Client(event_hooks={"request": [kill_before_second_import]})
    client = RegistryClient(server.url, Credentials(**_credentials()), http=http, sleep=lambda _: None)
    owner = Ownership()
    with pipeline.read_ahead(client) as live:
        planned = pipeline.make_plan(config, live, server.url, owner, max_bytes=1)
    renderer = pipeline.renderer_for(planned, SECRETS)
    applied = pipeline.run_apply(planned, config.state, client, owner, max_bytes=1, renderer=renderer)
    client.close()
    assert not applied.outcome.ok
    assert applied.outcome.error is not None
    assert "cannot reach the registry" in applied.outcome.error
    assert [c.key for c in applied.outcome.applied] == [c.key for c in planned.changes if not c.provider][:1]

    server.start()
    try:
        again = RegistryClient(server.url, Credentials(**_credentials()))
        with pipeline.read_ahead(again) as live:
            replanned = pipeline.make_plan(config, live, server.url, owner)
        assert {c.key for c in replanned.changes} == {c.key for c in applied.outcome.failed} | {
            c.key for c in applied.outcome.remaining
        }
        renderer = pipeline.renderer_for(replanned, SECRETS)
        assert pipeline.run_apply(replanned, config.state, again, owner, renderer=renderer).left == []
        again.close()
    finally:
        server.stop()


def _credentials() -> dict[str, str]:
    return {"username": ADMIN["DPM_USERNAME"], "password": ADMIN["DPM_PASSWORD"]}


def test_json_plan_follows_its_published_schema(server: Server, config_repo: Path) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    result = run_dpm("plan", "--format", "json", cwd=config_repo, env=env)
    assert result.exit_code == 0, result.err
    schema = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    plan = json.loads(result.out)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(plan)) == []
    assert plan["counts"]["create"] == len(plan["changes"]) == 19


def test_test_connectivity_calls_the_provider_and_fails_the_run_when_a_test_fails(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "providers.d").mkdir(parents=True)
    with FakeProvider.running() as fake:
        provider = fake_provider_file("fake-openai", fake.url, models=())
        (repo / "providers.d" / "fake.yaml").write_text(provider)
        server = Server(tmp_path / "registry", outbound_allow="127.0.0.1")
        server.start()
        try:
            env = clean_environment(DPM_REGISTRY_URL=server.url, DPM_FAKE_KEY=fake.api_key, **ADMIN)
            passed = run_dpm("apply", "--auto-approve", "--test-connectivity", cwd=repo, env=env)
            assert passed.exit_code == 0, passed.out + passed.err
            assert [s.path for s in fake.seen] == ["/v1/models"]
            assert {k.lower(): v for k, v in fake.seen[0].headers.items()}["authorization"] == f"Bearer {fake.api_key}"

            (repo / "providers.d" / "fake.yaml").write_text(provider.replace("8192", "9000"))
            wrong = env | {"DPM_FAKE_KEY": "sk-wrong-key"}
            failed = run_dpm("apply", "--auto-approve", "--test-connectivity", cwd=repo, env=wrong)
            assert failed.exit_code == 1
            assert "Verified: the registry matches the configuration." in failed.out
            expected = "connectivity test failed: fake-openai: the provider rejected the credentials (HTTP 401)"
            assert expected in failed.out
            assert "sk-wrong-key" not in failed.out + failed.err
        finally:
            server.stop()


def test_declining_the_prompt_cancels_the_apply_and_exits_1(server: Server, config_repo: Path) -> None:
    """As in Terraform: answering anything but yes at a real terminal prints "Apply cancelled." and exits 1."""
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"n\n")
        done = subprocess.run(
            [DPM, "apply"],
            cwd=config_repo,
            env=env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("Apply cancelled.")
    assert "interrupted" not in done.stderr
    assert run_dpm("plan", "--detailed-exitcode", cwd=config_repo, env=env).exit_code == 2  # nothing was written
