"""The real ``dpm`` against the real ``dpm serve``: targeted plans and applies, partial dumps, and the JSON
documents scripts read (``apply --format json``, ``dump --format json``)."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
import threading
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import REPO
from tests.e2e.conftest import ADMIN, CANARY, DPM, SECRETS, Server, clean_environment, run_dpm


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
    assert "Targeted: provider/mistral, template/internal-gateway, with what they need" in saved.out
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
    as_json = run_dpm(
        "dump",
        "--out",
        "json/providers.d",
        "--select",
        "anth*,internal-gateway",
        "--format",
        "json",
        cwd=config_repo.parent,
        env=env,
    )
    assert as_json.exit_code == 0, as_json.err
    document = json.loads(as_json.out)
    schema = json.loads((REPO / "schemas" / "dump.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    assert [(f["path"], [o["identifier"] for o in f["objects"]]) for f in document["files"]] == [
        ("json/providers.d/anthropic.yaml", ["anthropic"]),
        ("json/providers.d/template-internal-gateway.yaml", ["internal-gateway"]),
    ]
    assert document["secrets"] == ["DPM_ANTHROPIC_API_KEY"]  # the template holds no secret value
    assert "prune: false" in (adopted / "dpm.yaml").read_text()
    env["DPM_ANTHROPIC_API_KEY"] = SECRETS["DPM_ANTHROPIC_API_KEY"]
    clean = run_dpm("plan", "--detailed-exitcode", cwd=adopted, env=env)
    assert clean.exit_code == 0, clean.out + clean.err
    assert "Kept: 5 object(s) in scope that the files lack." in clean.out  # the rest stays; nothing is deleted


def _valid_apply_document(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)  # the whole of standard output: one document
    schema = json.loads((REPO / "schemas" / "apply.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    return document


def test_apply_format_json_reports_what_happened_in_one_document_the_schema_accepts(
    server: Server, config_repo: Path
) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    assert run_dpm("plan", "-o", "reviewed.json", cwd=config_repo, env=env).exit_code == 0
    first = run_dpm("apply", "--plan", "reviewed.json", "--format", "json", cwd=config_repo, env=env)
    assert first.exit_code == 0, first.err
    applied = _valid_apply_document(first.out)
    assert (applied["result"], applied["exitCode"], len(applied["applied"])) == ("applied", 0, 19)
    assert applied["verification"]["matches"] is True
    assert "Plan: 19 to create" in first.err  # the plan, for people, on standard error
    assert "import 1/1: 19 change(s): done" in first.err

    again = run_dpm("apply", "--plan", "reviewed.json", "--format", "json", cwd=config_repo, env=env)
    assert again.exit_code == 3
    stale = _valid_apply_document(again.out)
    assert (stale["result"], stale["exitCode"], stale["applied"]) == ("moved", 3, [])
    assert "provider openai now exists (the plan would create it)" in stale["moved"]
    assert len(stale["notAttempted"]) == 19
    assert "the saved plan is stale" in again.err

    # The registry cannot reach the providers (no outbound host is allowed): each connectivity test fails.
    path = config_repo / "providers.d" / "mistral.yaml"
    path.write_text(path.read_text().replace("name: Mistral AI", "name: Mistral"))
    tested = run_dpm("apply", "--auto-approve", "--test-connectivity", "--format", "json", cwd=config_repo, env=env)
    assert tested.exit_code == 1, tested.err
    failed = _valid_apply_document(tested.out)
    assert failed["result"] == "connectivity-failed"
    assert [f.split(":")[0] for f in failed["connectivityFailures"]] == ["mistral"]
    for result in (first, again, tested):
        assert CANARY not in result.out + result.err


def _on_a_terminal(args: list[str], cwd: Path, env: dict[str, str], answer: bytes) -> tuple[int, str, str]:
    """Run dpm with standard input and error on a pseudo-terminal (standard output piped); its exit code, standard
    output, and what the terminal showed."""
    controller, terminal = pty.openpty()
    shown = bytearray()

    def drain() -> None:
        with contextlib.suppress(OSError):  # EIO once the last holder of the terminal side is gone
            while chunk := os.read(controller, 4096):
                shown.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        os.write(controller, answer)
        process = subprocess.Popen(
            [DPM, *args], cwd=cwd, env=env, stdin=terminal, stderr=terminal, stdout=subprocess.PIPE, text=True
        )
        out, _ = process.communicate(timeout=120)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    return process.returncode, out, shown.decode(errors="replace")


def test_on_a_terminal_json_apply_asks_on_standard_error_and_progress_updates_in_place(
    server: Server, config_repo: Path
) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    args = ["apply", "--format", "json", "--target", "provider/mistral"]
    code, out, terminal = _on_a_terminal(args, config_repo, env, b"yes\n")
    assert code == 0, out + terminal
    assert json.loads(out)["result"] == "applied"  # standard output is the document alone
    assert "Apply these changes to the registry" in terminal
    assert "\rimport 1/1: 3 change(s): …\x1b[K\rimport 1/1: 3 change(s): done\x1b[K" in terminal
    # Piped, each step is one plain line, written when it is done.
    (config_repo / "providers.d" / "mistral.yaml").unlink()
    pruned = run_dpm("apply", "--auto-approve", "--prune", "--target", "provider/mistral", cwd=config_repo, env=env)
    assert pruned.exit_code == 0, pruned.err
    assert pruned.err.splitlines() == [
        "delete 1/3: model mistral/mistral-large-latest: done",
        "delete 2/3: model mistral/mistral-small-latest: done",
        "delete 3/3: provider mistral: done",
    ]
