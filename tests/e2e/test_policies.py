"""Change policies against the real ``dpm serve``: a plan that breaks one fails before any write."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import ADMIN, CANARY, SECRETS, Server, clean_environment, run_dpm

NO_DELETES = """\
kind: Policy
name: no-deletes
description: Nothing is deleted without a second look.
target: Change
rule:
  properties:
    action: {not: {const: delete}}
"""
_REQUEST = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/\S+) -> \d+")


def requests(log: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in _REQUEST.finditer(log)]


def test_a_plan_that_deletes_under_a_no_deletes_policy_fails_before_any_write(
    server: Server, config_repo: Path
) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    assert run_dpm("apply", "--auto-approve", cwd=config_repo, env=env).exit_code == 0
    (config_repo / "policies").mkdir()
    (config_repo / "policies" / "no-deletes.yaml").write_text(NO_DELETES)
    (config_repo / "providers.d" / "ollama.yaml").unlink()

    planned = run_dpm("plan", "--prune", "-o", "plan.json", cwd=config_repo, env=env)
    assert planned.exit_code == 1
    assert not (config_repo / "plan.json").exists()  # a plan that breaks an error policy is never saved
    assert "delete of provider ollama-local breaks policy no-deletes" in planned.err
    assert "this plan cannot be applied" in planned.err

    markdown = run_dpm("plan", "--prune", "--format", "markdown", cwd=config_repo, env=env)
    assert markdown.exit_code == 1
    assert "**Policy:** " in markdown.out
    assert "❌ **no-deletes**" in markdown.out

    applied = run_dpm("apply", "--prune", "--auto-approve", "-v", cwd=config_repo, env=env)
    assert applied.exit_code == 1
    assert "breaks policy no-deletes" in applied.out
    # -v logs every request: one login and one export, and not a single write
    assert requests(applied.err) == [("POST", "/auth/login"), ("POST", "/admin/providers/export")], applied.err

    # The registry still holds everything: without the policy, the same plan still has its deletes to make.
    (config_repo / "policies" / "no-deletes.yaml").unlink()
    again = run_dpm("plan", "--prune", "--detailed-exitcode", cwd=config_repo, env=env)
    assert again.exit_code == 2
    assert "- provider ollama-local" in again.out
    for result in (planned, markdown, applied, again):
        assert CANARY not in result.out + result.err
        assert ADMIN["DPM_PASSWORD"] not in result.out + result.err
