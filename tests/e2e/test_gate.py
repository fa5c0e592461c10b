"""Gated rollouts end to end: the real ``dpm`` against a real ``dpm serve`` whose outbound allow-list admits a fake
provider on loopback, which accepts one key, can refuse a model, and can answer slowly.

A watcher reads the registry from outside, between dpm's requests, all through each gated apply: an object whose
test fails must never be seen routable (``active``, under an active provider).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ADMIN, DPM, Server, clean_environment, fake_provider_file, run_dpm
from tests.server.outbound.fake_provider import CANARY as UPSTREAM_CANARY
from tests.server.outbound.fake_provider import FakeProvider

KEY = "sk-gate-canary-4b1e90"  # the key the fake provider accepts: never printed
WRONG = "sk-gate-wrong-key-77a2"


@dataclass
class Watcher:
    """Reads the registry's export over and over from its own connection: every status it ever saw, by object."""

    api: httpx.Client
    seen: dict[str, set[str]] = field(default_factory=dict)
    reads: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> dict[str, Any]:
        answer = self.api.post("/admin/providers/export", json={"includeModels": True, "includeTemplates": False})
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()["data"]
        return data

    def watch(self) -> None:
        while not self._stop.is_set():
            data = self.snapshot()
            providers = {p["id"]: p for p in data["providers"]}
            for provider in providers.values():
                self.seen.setdefault(provider["identifier"], set()).add(provider["status"])
            for model in data["models"]:
                owner = providers.get(model["providerId"])
                routable = model["status"] == "active" and owner is not None and owner["status"] == "active"
                name = f"{owner['identifier'] if owner else '?'}/{model['identifier']}"
                self.seen.setdefault(name, set()).add("routable" if routable else model["status"])
            self.reads += 1
            time.sleep(0.02)

    @contextlib.contextmanager
    def running(self) -> Iterator[Watcher]:
        thread = threading.Thread(target=self.watch, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(10)
            self._stop.clear()
            self.watch_once()

    def watch_once(self) -> None:
        self._stop.set()
        self.watch()  # returns at once: the stop is set
        self._stop.clear()


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider.running() as running:
        running.api_key = KEY
        yield running


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Watcher]]:
    repo = tmp_path / "repo"
    (repo / "providers.d").mkdir(parents=True)
    server = Server(tmp_path / "registry", outbound_allow="127.0.0.1")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            token = api.post("/auth/login", json={"username": "admin", "password": ADMIN["DPM_PASSWORD"]}).json()
            api.headers["Authorization"] = f"Bearer {token['token']}"
            env = clean_environment(DPM_REGISTRY_URL=server.url, DPM_FAKE_KEY=KEY, **ADMIN)
            yield repo, env, Watcher(api)
    finally:
        server.stop()


def statuses(watcher: Watcher) -> dict[str, str]:
    data = watcher.snapshot()
    providers = {p["id"]: p for p in data["providers"]}
    found = {p["identifier"]: p["status"] for p in providers.values()}
    for model in data["models"]:
        found[f"{providers[model['providerId']]['identifier']}/{model['identifier']}"] = model["status"]
    return found


def no_secret_in(*outputs: str) -> None:
    for text in outputs:
        assert KEY not in text
        assert WRONG not in text
        assert UPSTREAM_CANARY not in text


def test_a_good_provider_goes_active_only_after_its_tests_and_the_summary_lists_them(
    setup: tuple[Path, dict[str, str], Watcher], fake: FakeProvider
) -> None:
    repo, env, watcher = setup
    (repo / "providers.d" / "good.yaml").write_text(fake_provider_file("good", fake.url, ("fake-gpt-4", "fake-claude")))
    planned = run_dpm("plan", "--gate", cwd=repo, env=env)
    assert planned.exit_code == 0, planned.out + planned.err
    assert "Gated rollout: 3 test(s) before what they test goes live, at most 5 more request(s)" in planned.out
    assert "provider good: new: written testing, active once its test passes" in planned.out

    with watcher.running():
        done = run_dpm("apply", "--gate", "--auto-approve", "--format", "json", cwd=repo, env=env)
    assert done.exit_code == 0, done.out + done.err
    report = json.loads(done.out)
    assert report["result"] == "applied"
    assert [(t["test"]["kind"], t["test"]["identifier"], t["result"]) for t in report["tests"]] == [
        ("provider", "good", "passed"),
        ("model", "fake-claude", "passed"),
        ("model", "fake-gpt-4", "passed"),
    ]
    assert all(isinstance(t["responseTime"], int) for t in report["tests"])
    assert [s.path for s in fake.seen] == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]
    # Seen from outside: written held, then active; never routable before its test.
    assert watcher.seen["good"] <= {"testing", "active"}
    assert statuses(watcher) == {"good": "active", "good/fake-gpt-4": "active", "good/fake-claude": "active"}
    assert "test 1/3: provider good" in done.err  # progress, on standard error with --format json
    no_secret_in(planned.out, planned.err, done.out, done.err)

    again = run_dpm("plan", "--gate", "--detailed-exitcode", cwd=repo, env=env)
    assert again.exit_code == 0, again.out + again.err
    assert "The registry matches the configuration" in again.out


def test_a_bad_key_is_never_routable_fails_with_the_providers_message_and_the_next_apply_tries_again(
    setup: tuple[Path, dict[str, str], Watcher], fake: FakeProvider
) -> None:
    repo, env, watcher = setup
    (repo / "providers.d" / "bad.yaml").write_text(fake_provider_file("bad", fake.url))
    with watcher.running():
        failed = run_dpm("apply", "--gate", "--auto-approve", cwd=repo, env=env | {"DPM_FAKE_KEY": WRONG})
    assert failed.exit_code == 1, failed.out + failed.err
    assert "✗ provider bad: failed in" in failed.out
    assert "the provider rejected the credentials (HTTP 401)" in failed.out
    assert "- model bad/fake-gpt-4: not tested: provider bad failed its test" in failed.out
    assert "matches" not in failed.out
    assert "Held back (2), since a test failed; the next apply tries again:" in failed.out
    assert watcher.reads >= 2
    assert watcher.seen["bad"] == {"testing"}
    assert "routable" not in watcher.seen["bad/fake-gpt-4"]
    assert statuses(watcher) == {"bad": "testing", "bad/fake-gpt-4": "inactive"}

    # The plan says so: the next apply makes it active, gated again.
    replanned = run_dpm("plan", "--gate", cwd=repo, env=env)
    assert "provider bad: becomes active: written testing, active once its test passes" in replanned.out
    fixed = run_dpm("apply", "--gate", "--auto-approve", cwd=repo, env=env)
    assert fixed.exit_code == 0, fixed.out + fixed.err
    assert statuses(watcher) == {"bad": "active", "bad/fake-gpt-4": "active"}
    no_secret_in(failed.out, failed.err, replanned.out, fixed.out, fixed.err)


def test_a_missing_model_stays_inactive_while_its_provider_and_the_other_models_go_active(
    setup: tuple[Path, dict[str, str], Watcher], fake: FakeProvider
) -> None:
    repo, env, watcher = setup
    fake.missing = {"fake-retired"}
    (repo / "providers.d" / "mixed.yaml").write_text(
        fake_provider_file("mixed", fake.url, ("fake-gpt-4", "fake-retired"))
    )
    with watcher.running():
        done = run_dpm("apply", "--gate", "--auto-approve", "--format", "json", cwd=repo, env=env)
    assert done.exit_code == 1, done.out + done.err
    report = json.loads(done.out)
    assert report["result"] == "gate-failed"
    assert report["verification"]["matches"] is False
    assert report["heldBack"] == [
        {"action": "create", "kind": "model", "provider": "mixed", "identifier": "fake-retired"}
    ]
    failed = next(t for t in report["tests"] if t["result"] == "failed")
    assert failed["errors"] == ["the provider answered HTTP 404 (Not Found)"]
    assert "routable" not in watcher.seen["mixed/fake-retired"]
    assert statuses(watcher) == {"mixed": "active", "mixed/fake-gpt-4": "active", "mixed/fake-retired": "inactive"}


def test_a_rotated_key_that_fails_on_the_canary_leaves_the_old_key_working_and_no_canary(
    setup: tuple[Path, dict[str, str], Watcher], fake: FakeProvider
) -> None:
    repo, env, watcher = setup
    (repo / "providers.d" / "live.yaml").write_text(fake_provider_file("live", fake.url))
    assert run_dpm("apply", "--gate", "--auto-approve", cwd=repo, env=env).exit_code == 0
    fake.seen.clear()

    planned = run_dpm("plan", "--gate", cwd=repo, env=env | {"DPM_FAKE_KEY": WRONG})
    assert "provider live: new connection settings: tested on canary copy dpm-canary-live first" in planned.out
    fake.mode, fake.delay = "slow", 0.5  # the canary lives long enough for the watcher to see it
    with watcher.running():
        rotated = run_dpm("apply", "--gate", "--auto-approve", cwd=repo, env=env | {"DPM_FAKE_KEY": WRONG})
    assert rotated.exit_code == 1, rotated.out + rotated.err
    assert "✗ provider live on canary copy dpm-canary-live: failed in" in rotated.out
    assert "provider live (not written: the live provider keeps its current settings)" in rotated.out
    assert watcher.seen["dpm-canary-live"] == {"testing"}  # the canary was there, never routable
    assert watcher.seen["live"] == {"active"}
    assert "dpm-canary-live" not in statuses(watcher)  # and it is gone
    # The live provider still holds the old, working key: its own test passes.
    live_id = next(p["id"] for p in watcher.snapshot()["providers"] if p["identifier"] == "live")
    assert watcher.api.post(f"/admin/providers/{live_id}/test").json()["success"] is True
    no_secret_in(planned.out, rotated.out, rotated.err)

    fake.mode = "ok"
    # A rotation the provider accepts passes the canary, with a copy of a new model there, and changes the live
    # provider and switches the model on in one write.
    fake.api_key = "sk-gate-new-key-1f0c"
    (repo / "providers.d" / "live.yaml").write_text(fake_provider_file("live", fake.url, ("fake-gpt-4", "fake-claude")))
    accepted = run_dpm(
        "apply", "--gate", "--auto-approve", cwd=repo, env=env | {"DPM_FAKE_KEY": "sk-gate-new-key-1f0c"}
    )
    assert accepted.exit_code == 0, accepted.out + accepted.err
    assert "✓ provider live on canary copy dpm-canary-live: passed" in accepted.out
    assert "✓ model live/fake-claude on canary copy dpm-canary-live: passed" in accepted.out
    assert statuses(watcher) == {"live": "active", "live/fake-gpt-4": "active", "live/fake-claude": "active"}
    assert watcher.api.post(f"/admin/providers/{live_id}/test").json()["success"] is True
    assert "dpm-canary-live" not in statuses(watcher)


def test_a_killed_gated_apply_leaves_a_canary_that_the_next_run_removes_and_ctrl_c_or_sigterm_leave_none(
    setup: tuple[Path, dict[str, str], Watcher], fake: FakeProvider
) -> None:
    repo, env, watcher = setup
    (repo / "providers.d" / "live.yaml").write_text(fake_provider_file("live", fake.url))
    assert run_dpm("apply", "--auto-approve", cwd=repo, env=env).exit_code == 0
    rotated = env | {"DPM_FAKE_KEY": "sk-gate-next-key-93aa"}
    fake.api_key = "sk-gate-next-key-93aa"

    for how in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
        fake.mode, fake.delay = "slow", 30.0
        fake.seen.clear()
        process = subprocess.Popen(
            [DPM, "apply", "--gate", "--auto-approve"],
            cwd=repo,
            env=rotated,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not fake.seen and time.monotonic() < deadline:  # the canary's test is waiting on the provider
            time.sleep(0.05)
        assert fake.seen, "the canary was never tested"
        assert "dpm-canary-live" in statuses(watcher)
        process.send_signal(how)
        _, err = process.communicate(timeout=60)
        fake.reset()
        fake.api_key = "sk-gate-next-key-93aa"
        if how != signal.SIGKILL:  # interrupted or terminated, dpm deletes its canary on the way out
            assert process.returncode != 0
            assert "dpm-canary-live" not in statuses(watcher), err.decode()
            continue
        assert statuses(watcher)["dpm-canary-live"] == "testing"  # killed outright: left behind, never routable
        planned = run_dpm("plan", cwd=repo, env=env)
        assert "- provider dpm-canary-live" in planned.out
        assert "dpm-canary-live: a canary copy left behind by an interrupted gated apply" in planned.out
        assert statuses(watcher)["live"] == "active"
        # The next gated apply of the same rotation deletes the leftover before it makes a canary of that name.
        cleaned = run_dpm("apply", "--gate", "--auto-approve", cwd=repo, env=rotated)
        assert cleaned.exit_code == 0, cleaned.out + cleaned.err
        assert "✓ provider live on canary copy dpm-canary-live: passed" in cleaned.out
        assert "- provider dpm-canary-live" in cleaned.out
        assert "dpm-canary-live" not in statuses(watcher)
        restored = run_dpm("apply", "--auto-approve", cwd=repo, env=env)  # back to the first key for the next round
        assert restored.exit_code == 0, restored.out + restored.err


def test_a_saved_plan_records_the_gate_and_a_config_may_not_use_the_canary_prefix(
    setup: tuple[Path, dict[str, str], Watcher], fake: FakeProvider
) -> None:
    repo, env, _ = setup
    (repo / "providers.d" / "good.yaml").write_text(fake_provider_file("good", fake.url))
    (repo / "dpm.yaml").write_text("rollout: gated\n")
    saved = repo / "gated.plan.json"
    planned = run_dpm("plan", "-o", str(saved), cwd=repo, env=env)
    assert planned.exit_code == 0, planned.out + planned.err
    plan = json.loads(saved.read_text())
    assert [t["identifier"] for t in plan["gate"]["tests"]] == ["good", "fake-gpt-4"]
    refused = run_dpm("apply", "--plan", str(saved), "--no-gate", cwd=repo, env=env)
    assert refused.exit_code == 1
    assert "the saved plan was made with the gate; --no-gate cannot change that" in refused.err
    applied = run_dpm("apply", "--plan", str(saved), cwd=repo, env=env)
    assert applied.exit_code == 0, applied.out + applied.err
    assert "Gate: 2 of 2 test(s) passed" in applied.out

    (repo / "providers.d" / "reserved.yaml").write_text(fake_provider_file("dpm-canary-good", fake.url))
    invalid = run_dpm("validate", cwd=repo, env=env)
    assert invalid.exit_code == 1
    assert "the prefix 'dpm-canary-' is reserved for the canary copies of a gated apply" in invalid.out


def test_a_gate_that_costs_more_than_the_quota_left_says_so_in_the_plan(tmp_path: Path, fake: FakeProvider) -> None:
    repo = tmp_path / "repo"
    (repo / "providers.d").mkdir(parents=True)
    (repo / "providers.d" / "wide.yaml").write_text(
        fake_provider_file("wide", fake.url, ("m1", "m2", "m3", "m4", "m5"))
    )
    server = Server(tmp_path / "registry", rate_limit="12/900", outbound_allow="127.0.0.1").start()
    try:
        env = clean_environment(DPM_REGISTRY_URL=server.url, DPM_FAKE_KEY=KEY, **ADMIN)
        direct = run_dpm("plan", cwd=repo, env=env)
        gated = run_dpm("plan", "--gate", cwd=repo, env=env)
    finally:
        server.stop()
    assert "more than the" not in direct.out  # 3 requests to apply, within what is left
    # 3 + an export, 6 tests and the final write = 11, of the 8 left after two plans
    assert "applying it will cost 11, of 8 left in the registry's rate-limit window" in gated.out
    assert (
        "warning: applying this plan costs 11 requests, more than the 8 left in the registry's rate-limit window"
        in gated.out
    )
