"""The real ``dpm`` against the real ``dpm serve``: targeted plans and applies, partial dumps, and the JSON
documents scripts read (``apply --format json``, ``dump --format json``)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import ADMIN, CANARY, SECRETS, Server, clean_environment, run_dpm


def test_a_targeted_apply_writes_only_its_targets_then_the_rest_plans_as_before(
    server: Server, config_repo: Path
) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    saved = run_dpm(
        "plan",
        "--target",
        "provider/mistral",
        "--target",
        "template/internal-gateway",
        "-o",
        "p.json",
        cwd=config_repo,
        env=env,
    )
    assert saved.exit_code == 0, saved.err
    assert "Targeted: provider/mistral, template/internal-gateway and what they need" in saved.out
    assert "Plan: 4 to create, 0 to update, 0 to delete." in saved.out  # mistral, its 2 models, the template
    applied = run_dpm("apply", "--plan", "p.json", cwd=config_repo, env=env)
    assert applied.exit_code == 0, applied.err
    assert "Verified for the targeted objects (provider/mistral, template/internal-gateway)" in applied.out
    rest = run_dpm("plan", "--format", "json", cwd=config_repo, env=env)
    planned = {(c["kind"], c["identifier"]) for c in json.loads(rest.out)["changes"]}
    assert ("provider", "openai") in planned
    assert ("provider", "mistral") not in planned
    assert ("template", "internal-gateway") not in planned
    for result in (saved, applied, rest):
        assert CANARY not in result.out + result.err
