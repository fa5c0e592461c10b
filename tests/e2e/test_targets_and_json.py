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


def test_prune_from_one_file_is_refused_before_any_request(server: Server, config_repo: Path) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    refused = run_dpm("apply", "--auto-approve", "--prune", "providers.d/mistral.yaml", cwd=config_repo, env=env)
    assert refused.exit_code == 1
    assert "refusing to prune from providers.d/mistral.yaml" in refused.err
    assert "--target provider/mistral" in refused.err
    assert "dpm plan for" not in refused.out  # refused before the registry was read
    allowed = run_dpm(
        "apply",
        "--auto-approve",
        "--prune",
        "--target",
        "provider/mistral",
        "providers.d/mistral.yaml",
        cwd=config_repo,
        env=env,
    )
    assert allowed.exit_code == 0, allowed.err
    assert "Plan: 3 to create, 0 to update, 0 to delete." in allowed.out


def test_dump_select_adopts_one_provider_which_then_plans_clean(server: Server, config_repo: Path) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    assert run_dpm("apply", "--auto-approve", cwd=config_repo, env=env).exit_code == 0
    adopted = config_repo.parent / "adopted"
    dumped = run_dpm("dump", "--out", "adopted/providers.d", "--select", "anthropic", cwd=config_repo.parent, env=env)
    assert dumped.exit_code == 0, dumped.err
    assert [p.name for p in (adopted / "providers.d").iterdir()] == ["anthropic.yaml"]
    assert "prune: false" in (adopted / "dpm.yaml").read_text()
    env["DPM_ANTHROPIC_API_KEY"] = SECRETS["DPM_ANTHROPIC_API_KEY"]
    clean = run_dpm("plan", "--detailed-exitcode", cwd=adopted, env=env)
    assert clean.exit_code == 0, clean.out + clean.err
    assert "Kept: 5 object(s) in scope that the files lack." in clean.out  # the rest stays; nothing is deleted
