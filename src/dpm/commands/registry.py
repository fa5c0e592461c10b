"""Commands that talk to a registry: plan, apply, drift and dump. Each parses its options, calls the pipeline once,
and reports what came back."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from pydantic import ValidationError

from dpm import pipeline
from dpm.commands.options import DEFAULT_PATH, ConfigArgs, RegistryArgs, config_options, project_at, registry_options
from dpm.config.load import PROJECT_FILES, find_upwards
from dpm.engine.dump import project_settings
from dpm.engine.plan import Plan
from dpm.errors import Cancelled, DpmError, UsageError
from dpm.redaction import scrub
from dpm.reports.diagnostics import policy_findings
from dpm.reports.drift import DRIFT_REPORTERS
from dpm.reports.outcome import outcome_summary
from dpm.reports.plan import PLAN_FORMATS, TextPlanReporter, plan_reporter

prune_option = click.option("--prune/--no-prune", default=None, help="Delete providers in scope that the files lack.")


@click.command()
@config_options
@registry_options
@prune_option
@click.option("--format", "output", type=click.Choice(PLAN_FORMATS), default="text", show_default=True)
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan (JSON).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
def plan(
    *,
    config: ConfigArgs,
    registry: RegistryArgs,
    prune: bool | None,
    output: str,
    out: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Show what apply would change in the registry. Reads the registry once (one request).

    With -o, the plan is also saved for `dpm apply --plan`; it holds no secret values. A plan that needs a secret
    the environment lacks (for a create, or a secret an update adds), or that would write a secret's value into a
    field the registry stores in clear, fails instead, naming it, and is not saved.
    """
    compiled = config.compile_valid()
    if compiled is None:
        return 1
    with registry.session(compiled.project) as session:
        made = pipeline.make_plan(
            compiled, session.client, session.target, compiled.ownership(prune), registry=session.url
        )
    problem = pipeline.blocked(made)
    saved_as = out if problem is None else None  # a plan that cannot be applied is shown, never saved
    if saved_as is not None:
        saved_as.write_text(made.model_dump_json(indent=2) + "\n", encoding="utf-8")
    click.echo(plan_reporter(output, color=sys.stdout.isatty(), saved_as=saved_as).report(made))
    click.echo(policy_findings(made.policy), err=True, nl=False)  # change policies: shown before any refusal
    if problem is not None:
        raise problem
    return 2 if detailed_exitcode and not made.empty else 0


@click.command(name="apply")
@config_options
@registry_options
@prune_option
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), help="Apply this saved plan.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation (implied by --plan).")
@click.option("--allow-deletes", type=click.IntRange(min=0), help="Allow this many deletes (beyond maxDeletes).")
@click.option("--test-connectivity", is_flag=True, help="Test each created or changed provider; fail if one fails.")
def apply_command(
    *,
    config: ConfigArgs,
    registry: RegistryArgs,
    prune: bool | None,
    plan_file: Path | None,
    auto_approve: bool,
    allow_deletes: int | None,
    test_connectivity: bool,
) -> int:
    """Carry out a plan: show it, ask, apply it, and verify that nothing is left to do.

    Without --plan, the plan is made now from PATH, shown, and applied once you say yes. With --plan, exactly that
    saved plan is applied without asking (it was reviewed when it was made), after checking in one request that
    nothing it touches has moved. Either way, every write carries the state its plan saw, so the registry refuses
    it when someone else changed an object in between. Exit 3 when something moved, and nothing of it was written.
    """
    conversation = pipeline.Conversation(
        show=lambda made: click.echo(
            TextPlanReporter(color=sys.stdout.isatty()).report(made) + "\n" + policy_findings(made.policy), nl=False
        ),
        # A saved plan was reviewed when it was made: applying that file is the approval, as in Terraform.
        confirm=lambda target: _confirm(auto_approve or plan_file is not None, target),
        progress=lambda message: click.echo(message, err=True),
    )
    if plan_file is not None:
        if config.paths:
            raise UsageError("give either PATH or --plan, not both", "a saved plan already holds the config")
        saved = _load_plan(plan_file)
        project = config.project()
        limit = allow_deletes if allow_deletes is not None else project.settings.maxDeletes
        with registry.session(project, default=saved.registry or "embedded") as session:
            applied = pipeline.apply_saved(
                saved, session, max_deletes=limit, test_connectivity=test_connectivity, conversation=conversation
            )
    else:
        compiled = config.compile_valid()
        if compiled is None:
            return 1
        limit = allow_deletes if allow_deletes is not None else compiled.project.settings.maxDeletes
        with registry.session(compiled.project) as session:
            applied = pipeline.apply_config(
                compiled,
                session,
                compiled.ownership(prune),
                max_deletes=limit,
                test_connectivity=test_connectivity,
                conversation=conversation,
            )
    if applied.nothing_to_do:
        return 0
    click.echo(outcome_summary(applied))
    if applied.outcome.stale:
        return 3  # as for a stale saved plan: what was reviewed is not what the registry holds any more
    return 0 if applied.ok else 1


def _load_plan(path: Path) -> Plan:
    try:
        saved = Plan.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such plan file", "save one with dpm plan -o FILE") from None
    except ValidationError as exc:
        raise DpmError(f"{path} is not a dpm plan: {exc.errors()[0]['msg']}") from None
    if saved.checksum != saved.compute_checksum():
        raise DpmError(f"{path} was modified after dpm wrote it (its checksum does not match)", "make a new plan")
    return saved


def _confirm(auto_approve: bool, target: str) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise DpmError("refusing to apply without confirmation: there is no terminal to ask", "pass --auto-approve")
    if not click.confirm(f"Apply these changes to the {target}?", default=False):
        raise Cancelled("Apply cancelled.")


@click.command()
@config_options
@registry_options
@click.option("--format", "output", type=click.Choice(sorted(DRIFT_REPORTERS)), default="text", show_default=True)
@click.option("--skip-secrets", is_flag=True, help="Report the rest when secrets cannot be compared (not set).")
def drift(*, config: ConfigArgs, registry: RegistryArgs, output: str, skip_secrets: bool) -> int:
    """Report what changed in the registry outside git (one request). Exit 2 when there is drift.

    A secret whose DPM_* variable is not set cannot be compared: that fails the run (exit 1), naming the variables,
    unless --skip-secrets says to report on everything else; the report then lists them as not compared.
    """
    compiled = config.compile_valid()
    if compiled is None:
        return 1
    with registry.session(compiled.project) as session:
        found = pipeline.detect_drift(compiled, session)
    click.echo(DRIFT_REPORTERS[output]().report(found))
    if found.secretsNotCompared and not skip_secrets:
        raise DpmError(
            f"cannot compare the secrets {', '.join(found.secretsNotCompared)}: not set in the environment",
            "export them, or pass --skip-secrets to check everything else",
        )
    return 2 if found.drifted else 0


@click.command()
@registry_options
@click.option(
    "--out",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    help="Write the config files here (a new or empty directory).",
)
def dump(*, registry: RegistryArgs, directory: Path) -> int:
    """Write the live registry as config files: one per provider in scope, one per custom template."""
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty; dpm dump writes into a new or empty directory")
    project = project_at((str(directory.parent),))
    with registry.session(project) as session:
        dumped = pipeline.dump_registry(project, session)
        source = session.target
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in dumped.files.items():
        (directory / name).write_text(scrub(text), encoding="utf-8")
    click.echo(f"wrote {len(dumped.files)} file(s) to {directory}")
    # A new repository (no dpm.yaml that `dpm plan DIR` would read) is complete, so it prunes; an existing one is
    # never touched.
    if find_upwards(directory.resolve(), sorted(PROJECT_FILES), levels=2) is None:
        settings = directory.parent / "dpm.yaml"
        settings.write_text(project_settings(project.settings.scope, source), encoding="utf-8")
        click.echo(f"wrote {settings} with prune: true, since the dump holds everything in scope")
    if dumped.secrets:
        click.echo("the registry never returns secrets; set these before dpm plan:")
        click.echo("".join(f"  export {name}=…\n" for name in sorted(dumped.secrets)), nl=False)
    return 0
