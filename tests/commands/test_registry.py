"""The GitOps loop through the real ``dpm`` entry point on the embedded registry: saved plans, prune, drift, dump."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dpm.schemas import schemas
from tests.conftest import REPO, RunDpm, example_secrets

CANARY = "sk-canary-gitops-31f0"
SECRETS = example_secrets(CANARY)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "providers.d", tmp_path / "providers.d")
    shutil.copy(REPO / "dpm.yaml", tmp_path / "dpm.yaml")
    monkeypatch.chdir(tmp_path)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_saved_plan_holds_no_secret_and_applies_exactly_once(repo: Path, dpm: RunDpm) -> None:
    made = dpm("plan", "-o", "plan.json")
    assert made.exit_code == 0
    assert "dpm apply --plan plan.json" in made.out
    text = (repo / "plan.json").read_text()
    assert CANARY not in text
    assert '"$secret": "${{ secret.DPM_OPENAI_API_KEY }}"' in text
    first = dpm("apply", "--plan", "plan.json", "--auto-approve")
    assert first.exit_code == 0, first.err
    assert "Verified" in first.out
    second = dpm("apply", "--plan", "plan.json", "--auto-approve")
    assert second.exit_code == 3
    assert "the saved plan is stale; nothing was applied" in second.err
    assert "provider openai now exists (the plan would create it)" in second.err


def test_a_saved_plan_applies_without_asking_since_the_file_is_what_was_reviewed(repo: Path, dpm: RunDpm) -> None:
    assert dpm("plan", "-o", "plan.json").exit_code == 0
    applied = dpm("apply", "--plan", "plan.json")  # no terminal and no --auto-approve: the file is the approval
    assert applied.exit_code == 0, applied.err
    assert "Verified: the registry matches the configuration." in applied.out
    assert dpm("plan", "--detailed-exitcode").exit_code == 0


def test_a_plan_that_needs_an_unset_secret_fails_and_is_not_saved(
    repo: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DPM_OPENAI_API_KEY")
    refused = dpm("plan", "-o", "plan.json")
    assert refused.exit_code == 1
    assert "+ provider openai" in refused.out  # shown for review all the same
    assert "this plan cannot be applied: provider openai: ${{ secret.DPM_OPENAI_API_KEY }}" in refused.err
    assert "Saved the plan" not in refused.out
    assert not (repo / "plan.json").exists()

    # Once openai exists, its unset key is kept as it is: no obstacle, only the warning.
    monkeypatch.setenv("DPM_OPENAI_API_KEY", SECRETS["DPM_OPENAI_API_KEY"])
    assert dpm("apply", "--auto-approve").exit_code == 0
    monkeypatch.delenv("DPM_OPENAI_API_KEY")
    kept = dpm("plan", "--detailed-exitcode")
    assert kept.exit_code == 0, kept.err
    assert "secret DPM_OPENAI_API_KEY is not set" in kept.err


def test_a_stale_plan_exits_3_and_writes_nothing(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    edit(repo / "providers.d" / "openai.yaml", "name: GPT-4o mini", "name: GPT-4o mini (cheap)")
    edit(repo / "providers.d" / "anthropic.yaml", "name: Claude Haiku 4.5", "name: Claude Haiku")
    assert dpm("plan", "-o", "plan.json").exit_code == 0
    # Someone changes one object the plan touches, through the registry, in the meantime.
    edit(repo / "providers.d" / "openai.yaml", "name: GPT-4o mini (cheap)", "name: GPT-4o mini (hand edit)")
    assert dpm("apply", "--auto-approve", "providers.d/openai.yaml").exit_code == 0
    stale = dpm("apply", "--plan", "plan.json", "--auto-approve")
    assert stale.exit_code == 3
    assert "model openai/gpt-4o-mini changed since the plan was made" in stale.err
    assert "claude-haiku" not in stale.err
    after = json.loads(dpm("plan", "--format", "json").out)
    assert [c["identifier"] for c in after["changes"]] == ["claude-haiku-4-5"]  # the stale plan wrote nothing


def test_an_unrelated_change_does_not_block_a_saved_plan(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    edit(repo / "providers.d" / "anthropic.yaml", "name: Claude Haiku 4.5", "name: Claude Haiku")
    assert dpm("plan", "-o", "plan.json").exit_code == 0
    edit(repo / "providers.d" / "anthropic.yaml", "name: Claude Haiku", "name: Claude Haiku 4.5")
    edit(repo / "providers.d" / "openai.yaml", "name: GPT-4o mini", "name: GPT-4o mini (elsewhere)")
    assert dpm("apply", "--auto-approve", "providers.d/openai.yaml").exit_code == 0
    assert dpm("apply", "--plan", "plan.json", "--auto-approve").exit_code == 0


def test_a_secret_rotated_after_the_plan_is_refused(repo: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dpm("plan", "-o", "plan.json").exit_code == 0
    monkeypatch.setenv("DPM_OPENAI_API_KEY", "rotated-after-review")
    refused = dpm("apply", "--plan", "plan.json", "--auto-approve")
    assert refused.exit_code == 3
    assert "${{ secret.DPM_OPENAI_API_KEY }} has changed since the plan was made" in refused.err


def test_a_modified_plan_file_is_refused(repo: Path, dpm: RunDpm) -> None:
    assert dpm("plan", "-o", "plan.json").exit_code == 0
    edit(repo / "plan.json", '"https://api.openai.com/v1"', '"https://evil.example/v1"')
    refused = dpm("apply", "--plan", "plan.json", "--auto-approve")
    assert refused.exit_code == 1
    assert "was modified after dpm wrote it" in refused.err


def test_prune_is_off_by_default_and_guarded(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    (repo / "providers.d" / "openai.yaml").unlink()
    (repo / "providers.d" / "anthropic.yaml").unlink()
    kept = dpm("plan", "--detailed-exitcode")
    assert kept.exit_code == 0  # nothing for apply to do
    # Deleting a file never passes for "matches": the plan lists what the registry still holds, and its fate.
    assert "The registry matches the configuration" not in kept.out
    assert "? provider openai (4 model(s)): in the registry, not in the files; kept (--prune deletes it)" in kept.out
    assert "Kept: 2 object(s) in scope that the files lack." in kept.out
    as_json = json.loads(dpm("plan", "--format", "json").out)
    assert {k["identifier"] for k in as_json["kept"]} == {"openai", "anthropic"}
    assert "**Kept:** 2 object(s)" in dpm("plan", "--format", "markdown").out
    pruning = dpm("plan", "--prune")
    assert "- provider openai" in pruning.out
    assert "Plan: 0 to create, 0 to update, 9 to delete." in pruning.out
    guarded = dpm("apply", "--prune", "--auto-approve")
    assert guarded.exit_code == 1
    assert "the plan deletes 9 objects, more than maxDeletes (5) allows" in guarded.err
    assert "--allow-deletes 9" in guarded.err
    allowed = dpm("apply", "--prune", "--auto-approve", "--allow-deletes", "9")
    assert allowed.exit_code == 0, allowed.err
    assert dpm("plan", "--prune", "--detailed-exitcode").exit_code == 0


def test_scope_limits_what_prune_touches(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    edit(repo / "dpm.yaml", 'scope: ["*"]', 'scope: ["open*"]')
    (repo / "providers.d" / "openai.yaml").unlink()
    (repo / "providers.d" / "anthropic.yaml").unlink()
    out = dpm("plan", "--prune").out
    assert "- provider openai" in out
    assert "anthropic" not in out


def test_drift_classifies_what_changed_outside_git(repo: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    assert dpm("drift").exit_code == 0
    # What the registry now holds differs from git in three ways.
    edit(repo / "providers.d" / "anthropic.yaml", "name: Anthropic\n", "name: Anthropic PBC\n")
    shutil.move(repo / "providers.d" / "ollama.yaml", repo / "ollama.yaml")
    monkeypatch.setenv("DPM_OPENAI_API_KEY", "rotated-by-hand")
    report = dpm("drift", "--format", "json")
    assert report.exit_code == 2
    findings = {(f["kind"], f["object"], f["key"]) for f in json.loads(report.out)["findings"]}
    assert ("changed", "provider", "anthropic") in findings
    assert ("changed", "provider", "openai") in findings
    assert ("unmanaged", "provider", "ollama-local") in findings
    text = dpm("drift").out
    assert 'name: git "Anthropic PBC", registry "Anthropic"' in text
    assert "authConfig.fields.apiKey: (sensitive value changed)" in text
    assert CANARY not in text + report.out + dpm("drift", "--format", "markdown").out


def test_drift_reports_deletions_outside_git(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve", "providers.d/openai.yaml").exit_code == 0
    (repo / "providers.d" / "extra.yaml").write_text((repo / "providers.d" / "ollama.yaml").read_text())
    found = json.loads(dpm("drift", "--format", "json", "providers.d/openai.yaml", "providers.d/ollama.yaml").out)
    assert {(f["kind"], f["key"]) for f in found["findings"]} >= {("deleted", "ollama-local")}


def test_dump_then_plan_shows_no_changes(repo: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    dumped = dpm("dump", "--out", "dumped")
    assert dumped.exit_code == 0, dumped.err
    assert "export DPM_OLLAMA_LOCAL_API_KEY=…" in dumped.out
    files = sorted(p.name for p in (repo / "dumped").iterdir())
    assert files == [
        "anthropic.yaml",
        "mistral.yaml",
        "ollama-local.yaml",
        "openai.yaml",
        "search-team-gateway.yaml",
        "template-internal-gateway.yaml",
    ]
    openai = (repo / "dumped" / "openai.yaml").read_text()
    assert "apiKey: ${{ secret.DPM_OPENAI_API_KEY }}" in openai
    monkeypatch.setenv("DPM_OLLAMA_LOCAL_API_KEY", "ollama")
    monkeypatch.setenv("DPM_SEARCH_TEAM_GATEWAY_API_KEY", SECRETS["DPM_SEARCH_GATEWAY_KEY"])
    assert dpm("validate", "dumped").exit_code == 0
    clean = dpm("plan", "dumped", "--detailed-exitcode")
    assert clean.exit_code == 0, clean.out
    again = dpm("dump", "--out", "dumped-again")
    assert again.exit_code == 0
    for name in files:
        assert (repo / "dumped" / name).read_text() == (repo / "dumped-again" / name).read_text()
    refused = dpm("dump", "--out", "dumped")
    assert refused.exit_code == 1
    assert "is not empty" in refused.err


def test_system_providers_and_templates_are_never_touched(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    for path in (repo / "providers.d").glob("*.yaml"):
        path.unlink()
    (repo / "providers.d" / "keep.yaml").write_text((REPO / "providers.d" / "ollama.yaml").read_text())
    out = dpm("plan", "--prune", "--format", "json").out
    deleted = {(c["kind"], c["identifier"]) for c in json.loads(out)["changes"] if c["action"] == "delete"}
    assert ("template", "internal-gateway") in deleted
    assert not any(name.endswith("-template") or name in ("OpenAI", "Anthropic") for _, name in deleted)


def test_drift_fails_when_it_cannot_compare_a_secret_unless_told_to_skip_them(
    repo: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    monkeypatch.delenv("DPM_OPENAI_API_KEY")  # a key rotated by hand would go unseen without it
    refused = dpm("drift")
    assert refused.exit_code == 1
    assert "cannot compare the secrets DPM_OPENAI_API_KEY: not set in the environment" in refused.err
    assert "--skip-secrets" in refused.err
    assert "matches" not in refused.out
    skipped = dpm("drift", "--skip-secrets")
    assert skipped.exit_code == 0, skipped.err
    assert "No drift in what could be compared" in skipped.out
    assert "Secrets not compared (not set in the environment): DPM_OPENAI_API_KEY." in skipped.out
    as_json = json.loads(dpm("drift", "--skip-secrets", "--format", "json").out)
    assert as_json["secretsNotCompared"] == ["DPM_OPENAI_API_KEY"]
    markdown = dpm("drift", "--skip-secrets", "--format", "markdown").out
    assert "Secrets not compared (not set in the environment): `DPM_OPENAI_API_KEY`" in markdown
    assert "matches" not in markdown


def test_a_dump_that_starts_a_repository_writes_a_dpm_yaml_that_prunes(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    started = repo / "adopted" / "team"  # no dpm.yaml here or in its parent: a new repository
    dumped = dpm("dump", "--out", str(started / "providers.d"))
    assert dumped.exit_code == 0, dumped.err
    assert f"wrote {started / 'dpm.yaml'} with prune: true" in dumped.out
    settings = (started / "dpm.yaml").read_text()
    assert "prune: true" in settings
    assert 'scope: ["*"]' in settings
    # An existing dpm.yaml is never touched.
    before = (repo / "dpm.yaml").read_text()
    assert dpm("dump", "--out", "dumped").exit_code == 0
    assert (repo / "dpm.yaml").read_text() == before


def test_a_template_cannot_print_dpm_own_credentials(repo: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    password = "sk-canary-admin-password-77"
    monkeypatch.setenv("DPM_PASSWORD", password)
    edit(
        repo / "providers.d" / "openai.yaml", "name: OpenAI\n", 'name: OpenAI\ndescription: "${{ env.DPM_PASSWORD }}"\n'
    )
    for args in (("validate",), ("plan", "--format", "markdown", "-o", "plan.json"), ("render",)):
        result = dpm(*args)
        assert result.exit_code == 1, args
        assert "env.DPM_PASSWORD is not readable: it is one of dpm's own credentials" in result.out + result.err
        assert password not in result.out + result.err
    assert not (repo / "plan.json").exists()


def test_a_targeted_apply_changes_only_its_targets_and_never_says_the_registry_matches(repo: Path, dpm: RunDpm) -> None:
    applied = dpm("apply", "--auto-approve", "--target", "provider/search-team-gateway")
    assert applied.exit_code == 0, applied.err
    assert "Targeted: provider/search-team-gateway, with what it needs" in applied.out
    assert "+ template internal-gateway" in applied.out  # defined in another file, built from: brought along
    assert "+ provider openai" not in applied.out
    assert "Verified for the targeted objects (provider/search-team-gateway): they match the configuration." in (
        applied.out
    )
    assert "the registry matches" not in applied.out
    clean = dpm("plan", "--target", "provider/search-team-gateway", "--detailed-exitcode")
    assert clean.exit_code == 0
    assert "No changes to the targeted objects." in clean.out
    assert "matches" not in clean.out
    assert "+ provider openai" in dpm("plan").out  # the rest is still to do


def test_a_saved_targeted_plan_records_its_targets_and_applies_exactly_them(repo: Path, dpm: RunDpm) -> None:
    assert dpm("plan", "--target", "model/openai/gpt-4o", "-o", "plan.json").exit_code == 0
    saved = json.loads((repo / "plan.json").read_text())
    assert saved["targets"] == ["model/openai/gpt-4o"]
    assert [(c["action"], c["kind"], c["identifier"]) for c in saved["changes"]] == [
        ("create", "provider", "openai"),
        ("create", "model", "gpt-4o"),
    ]
    both = dpm("apply", "--plan", "plan.json", "--target", "provider/openai")
    assert both.exit_code == 1
    assert "give either --target or --plan, not both" in both.err
    applied = dpm("apply", "--plan", "plan.json")
    assert applied.exit_code == 0, applied.err
    assert "Verified for the targeted objects (model/openai/gpt-4o)" in applied.out
    models = json.loads(dpm("plan", "--format", "json").out)["changes"]
    assert {(c["provider"], c["identifier"]) for c in models if c["kind"] == "model" and c["provider"] == "openai"} == {
        ("openai", "gpt-4.1"),
        ("openai", "gpt-4.1-mini"),
        ("openai", "gpt-4o-mini"),
    }


def test_a_malformed_or_unknown_target_is_a_usage_error_before_anything_is_written(repo: Path, dpm: RunDpm) -> None:
    malformed = dpm("plan", "--target", "providers/openai")
    assert malformed.exit_code == 1
    assert "unknown kind 'providers'" in malformed.err
    assert "did you mean 'provider'?" in malformed.err
    unknown = dpm("apply", "--auto-approve", "--target", "model/openai/gpt-40")
    assert unknown.exit_code == 1
    assert "--target model/openai/gpt-40: not in the config or the registry" in unknown.err
    assert "did you mean 'model/openai/gpt-4o'?" in unknown.err
    assert "+ provider openai" in dpm("plan").out  # nothing was applied


def test_prune_from_a_single_file_is_refused_with_the_targets_to_use_instead(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    for command in ("plan", "apply"):
        refused = dpm(command, "--prune", "--auto-approve" if command == "apply" else "-v", "providers.d/openai.yaml")
        assert refused.exit_code == 1
        assert "refusing to prune from providers.d/openai.yaml: it is a file, not the config directory" in refused.err
        assert "pass --target provider/openai (prune then stays within the targets)" in refused.err
        assert "give the directory: providers.d" in refused.err
    edit(repo / "dpm.yaml", "prune: false", "prune: true")  # the project's setting counts as much as the flag
    assert "refusing to prune" in dpm("plan", "providers.d/openai.yaml").err
    assert dpm("plan", "--no-prune", "providers.d/openai.yaml").exit_code == 0
    targeted = dpm("plan", "--target", "provider/openai", "providers.d/openai.yaml", "--detailed-exitcode")
    assert targeted.exit_code == 0, targeted.err
    assert dpm("plan", "--detailed-exitcode", "providers.d").exit_code == 0  # the directory is everything


def test_dump_select_adopts_a_few_objects_and_its_dpm_yaml_does_not_prune(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    started = repo / "adopted"
    dumped = dpm("dump", "--out", str(started / "providers.d"), "--select", "openai,search-*", "--select", "internal-*")
    assert dumped.exit_code == 0, dumped.err
    assert sorted(p.name for p in (started / "providers.d").iterdir()) == [
        "openai.yaml",
        "search-team-gateway.yaml",
        "template-internal-gateway.yaml",
    ]
    assert "with prune: false, since --select dumped only part of the registry" in dumped.out
    settings = (started / "dpm.yaml").read_text()
    assert "prune: false" in settings
    assert "prune: true" not in settings
    unknown = dpm("dump", "--out", "other", "--select", "openai", "--select", "antropic")
    assert unknown.exit_code == 1
    assert "--select antropic: matches no provider in scope and no custom template" in unknown.err
    assert "did you mean 'anthropic'?" in unknown.err
    assert not (repo / "other").exists()  # nothing is written when a pattern is wrong


def _apply_schema() -> Any:
    return jsonschema.Draft202012Validator(json.loads((REPO / "schemas" / "apply.schema.json").read_text()))


def test_apply_format_json_prints_one_document_that_the_schema_accepts(repo: Path, dpm: RunDpm) -> None:
    refused = dpm("apply", "--format", "json")  # no terminal to ask, and no --auto-approve: refused as in text
    assert refused.exit_code == 1
    assert refused.out == ""
    assert "refusing to apply without confirmation: there is no terminal to ask" in refused.err
    assert "+ provider openai" in refused.err  # the plan was shown, on standard error
    applied = dpm("apply", "--format", "json", "--auto-approve", "--target", "provider/openai")
    assert applied.exit_code == 0, applied.err
    document = json.loads(applied.out)
    _apply_schema().validate(document)
    assert document["result"] == "applied"
    assert document["exitCode"] == 0
    assert document["targets"] == ["provider/openai"]
    assert len(document["applied"]) == 5
    assert document["verification"] == {"performed": True, "changesLeft": [], "kept": [], "matches": False}
    assert "Plan: 5 to create" in applied.err
    assert CANARY not in applied.out + applied.err
    everything = json.loads(dpm("apply", "--format", "json", "--auto-approve").out)
    assert everything["verification"]["matches"] is True
    (repo / "providers.d" / "anthropic.yaml").unlink()
    kept = json.loads(dpm("apply", "--format", "json", "--auto-approve").out)
    _apply_schema().validate(kept)
    assert kept["result"] == "nothing-to-do"
    assert kept["verification"]["kept"] == [{"kind": "provider", "identifier": "anthropic", "models": 3}]
    assert kept["verification"]["matches"] is False


def test_dump_format_json_lists_the_files_their_objects_and_the_secrets_to_set(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    dumped = dpm("dump", "--out", "new/providers.d", "--format", "json")
    assert dumped.exit_code == 0, dumped.err
    document = json.loads(dumped.out)
    jsonschema.Draft202012Validator(json.loads((REPO / "schemas" / "dump.schema.json").read_text())).validate(document)
    by_path = {f["path"]: f["objects"] for f in document["files"]}
    assert by_path["new/providers.d/openai.yaml"] == [{"kind": "provider", "identifier": "openai", "models": 4}]
    assert by_path["new/providers.d/template-internal-gateway.yaml"] == [
        {"kind": "template", "identifier": "internal-gateway", "models": 0}
    ]
    assert sorted(Path(p).name for p in by_path) == sorted(p.name for p in (repo / "new" / "providers.d").iterdir())
    assert document["projectFile"] == {"path": "new/dpm.yaml", "prune": True}
    assert "DPM_OLLAMA_LOCAL_API_KEY" in document["secrets"]
    assert document["selected"] == []
    partial = json.loads(dpm("dump", "--out", "part/providers.d", "--select", "openai", "--format", "json").out)
    assert partial["projectFile"] == {"path": "part/dpm.yaml", "prune": False}
    assert partial["secrets"] == ["DPM_OPENAI_API_KEY"]


def test_a_dump_starts_a_repository_an_editor_and_git_understand(repo: Path, dpm: RunDpm) -> None:
    assert dpm("apply", "--auto-approve").exit_code == 0
    (repo / "new").mkdir()
    (repo / "new" / ".gitignore").write_text("mine\n")  # kept: a file that exists is never overwritten

    dumped = json.loads(dpm("dump", "--out", "new/providers.d", "--format", "json").out)

    started = sorted(dumped["started"])
    assert started == sorted(f"new/schemas/{name}" for name in schemas())  # not the .gitignore, which existed
    assert (repo / "new" / ".gitignore").read_text() == "mine\n"
    for path in (repo / "new" / "providers.d").iterdir():
        modeline = path.read_text().splitlines()[0]
        assert modeline == "# yaml-language-server: $schema=../schemas/document.schema.json"
        assert (path.parent / modeline.split("=", 1)[1]).resolve().is_file()
    fresh = json.loads(dpm("dump", "--out", "fresh/providers.d", "--format", "json").out)
    assert "fresh/.gitignore" in fresh["started"]
    assert (repo / "fresh" / ".gitignore").read_text().splitlines()[-1] == ".dpm/"
