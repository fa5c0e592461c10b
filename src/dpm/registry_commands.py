"""Commands that talk to a registry: plan, apply, drift and dump. Each is a thin function over ``operations``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from pydantic import ValidationError

from dpm import operations
from dpm.config import CompiledConfig
from dpm.diff import Ownership
from dpm.drift import detect
from dpm.dump import dump as dump_registry
from dpm.errors import DpmError, UsageError
from dpm.options import (
    DEFAULT_PATH,
    Session,
    compile_paths,
    config_options,
    project_only,
    registry_options,
    session,
    valid_or_report,
)
from dpm.plan import Plan
from dpm.report import DRIFT_REPORTERS, PLAN_REPORTERS, TextPlanReporter, outcome_summary

prune_option = click.option("--prune/--no-prune", default=None, help="Delete providers in scope that the files lack.")


@click.command()
@config_options
@registry_options
@prune_option
@click.option("--format", "output", type=click.Choice(sorted(PLAN_REPORTERS)), default="text", show_default=True)
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan (JSON).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
def plan(
    *,
    paths: Sequence[str],
    environment: str | None,
    variables: Sequence[str],
    require_secrets: bool,
    registry: str | None,
    max_wait: float,
    verbose: bool,
    prune: bool | None,
    output: str,
    out: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Show what apply would change in the registry. Reads the registry once (one request).

    With -o, the plan is also saved for `dpm apply --plan`; it holds no secret values.
    """
    config = compile_paths(paths, environment, variables, require_secrets)
    if not valid_or_report(config):
        return 1
    with session(config.project, registry, max_wait, verbose) as live:
        owner = operations.ownership(config, prune)
        planned = operations.make_plan(config, live.client, live.target, owner, registry=live.url)
    if out is not None:
        out.write_text(planned.plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    reporter = PLAN_REPORTERS[output](color=sys.stdout.isatty(), saved_as=out)
    click.echo(reporter.report(planned.plan))
    return 2 if detailed_exitcode and not planned.plan.empty else 0


@click.command(name="apply")
@config_options
@registry_options
@prune_option
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), help="Apply this saved plan.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--allow-deletes", type=click.IntRange(min=0), help="Allow this many deletes (beyond maxDeletes).")
@click.option("--test-connectivity", is_flag=True, help="Test each created or changed provider; fail if one fails.")
def apply_command(
    *,
    paths: Sequence[str],
    environment: str | None,
    variables: Sequence[str],
    require_secrets: bool,
    registry: str | None,
    max_wait: float,
    verbose: bool,
    prune: bool | None,
    plan_file: Path | None,
    auto_approve: bool,
    allow_deletes: int | None,
    test_connectivity: bool,
) -> int:
    """Carry out a plan: show it, ask, apply it, and verify that nothing is left to do.

    Without --plan, the plan is made now from PATH. With --plan, exactly that saved plan is applied, after
    checking in one request that nothing it touches has moved (exit 3 when it has).
    """
    if plan_file is not None:
        if paths:
            raise UsageError("give either PATH or --plan, not both", "a saved plan already holds the config")
        saved = _load_plan(plan_file)
        project = project_only([], environment, variables)
        limit = allow_deletes if allow_deletes is not None else project.settings.maxDeletes
        with session(project, registry or saved.registry or "embedded", max_wait, verbose) as live:
            if live.target != saved.target:
                raise UsageError(f"the plan was made for the {saved.target}, not the {live.target}")
            operations.check_fresh(saved, operations.read_live(live.client))
            return _carry_out(
                saved,
                None,
                live,
                owner=Ownership(),
                auto_approve=auto_approve,
                max_deletes=limit,
                tests=test_connectivity,
            )
    config = compile_paths(paths, environment, variables, require_secrets)
    if not valid_or_report(config):
        return 1
    owner = operations.ownership(config, prune)
    with session(config.project, registry, max_wait, verbose) as live:
        made = operations.make_plan(config, live.client, live.target, owner, registry=live.url).plan
        limit = allow_deletes if allow_deletes is not None else config.project.settings.maxDeletes
        return _carry_out(
            made, config, live, owner=owner, auto_approve=auto_approve, max_deletes=limit, tests=test_connectivity
        )


def _carry_out(
    made: Plan,
    config: CompiledConfig | None,
    live: Session,
    *,
    owner: Ownership,
    auto_approve: bool,
    max_deletes: int | None,
    tests: bool,
) -> int:
    click.echo(TextPlanReporter(color=sys.stdout.isatty()).report(made))
    if made.empty:
        return 0
    renderer = operations.renderer_for(made)
    operations.check_applicable(made, renderer, max_deletes)
    _confirm(auto_approve, live.target)
    state = config.state if config is not None else None
    progress = lambda message: click.echo(message, err=True)  # noqa: E731
    applied = operations.run_apply(made, state, live.client, owner, progress=progress, renderer=renderer)
    click.echo(outcome_summary(applied.outcome, applied.left))
    if not applied.outcome.ok or applied.left:
        return 1
    if tests:
        failures = operations.test_connectivity(applied, live.client)
        for failure in failures:
            click.echo(f"connectivity test failed: {failure}")
        if failures:
            return 1
    return 0


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
        raise click.exceptions.Abort()


@click.command()
@config_options
@registry_options
@click.option("--format", "output", type=click.Choice(sorted(DRIFT_REPORTERS)), default="text", show_default=True)
def drift(
    *,
    paths: Sequence[str],
    environment: str | None,
    variables: Sequence[str],
    require_secrets: bool,
    registry: str | None,
    max_wait: float,
    verbose: bool,
    output: str,
) -> int:
    """Report what changed in the registry outside git (one request). Exit 2 when there is drift."""
    config = compile_paths(paths, environment, variables, require_secrets)
    if not valid_or_report(config):
        return 1
    with session(config.project, registry, max_wait, verbose) as live:
        found = detect(
            config.state, operations.read_live(live.client), tuple(config.project.settings.scope), live.target
        )
    click.echo(DRIFT_REPORTERS[output]().report(found))
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
def dump(*, registry: str | None, max_wait: float, verbose: bool, directory: Path) -> int:
    """Write the live registry as config files: one per provider in scope, one per custom template."""
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty; dpm dump writes into a new or empty directory")
    project = project_only([str(directory.parent)], None, [])
    with session(project, registry, max_wait, verbose) as live:
        dumped = dump_registry(operations.read_live(live.client), Ownership(tuple(project.settings.scope)), live.target)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in dumped.files.items():
        (directory / name).write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(dumped.files)} file(s) to {directory}")
    if dumped.secrets:
        click.echo("the registry never returns secrets; set these before dpm plan:")
        click.echo("".join(f"  export {name}=…\n" for name in sorted(dumped.secrets)), nl=False)
    return 0
