"""Commands that talk to a registry: plan, apply, drift and dump. Each parses its options, calls the pipeline once,
and reports what came back."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dpm import pipeline, scaffold
from dpm.commands.console import apply_progress, use_color
from dpm.commands.init import write_new
from dpm.commands.options import (
    DEFAULT_PATH,
    ConfigArgs,
    RegistryArgs,
    config_options,
    project_at,
    registry_options,
    select_patterns,
)
from dpm.commands.show import load_plan
from dpm.config.load import PROJECT_FILES, find_upwards
from dpm.engine import targets
from dpm.engine.dump import project_settings
from dpm.engine.outcome import Applied
from dpm.errors import Cancelled, DpmError, UsageError
from dpm.redaction import scrub
from dpm.reports.diagnostics import policy_findings
from dpm.reports.drift import DRIFT_REPORTERS
from dpm.reports.dump import DUMP_REPORTERS, dump_report
from dpm.reports.outcome import OUTCOME_REPORTERS
from dpm.reports.plan import PLAN_FORMATS, TextPlanReporter, plan_reporter
from dpm.values import Ownership

prune_option = click.option(
    "--prune/--no-prune",
    default=None,
    help="Delete providers in scope that the files lack. Refused when PATH is a file rather than the config "
    "directory (it would delete everything else), unless --target keeps it within the targets.",
)
target_option = click.option(
    "--target",
    "chosen",
    multiple=True,
    metavar="KIND/IDENTIFIER",
    help="Plan only this object and what it needs (repeatable): provider/ID (with its models and the config "
    "template it is built from), model/PROVIDER/MODEL (with its provider if missing) or template/NAME. The whole "
    "config is still loaded and validated; prune applies within the targets only.",
)

gate_option = click.option(
    "--gate/--no-gate",
    default=None,
    help="Test before routable: write what becomes active as testing/inactive, test it through the registry, and "
    "switch it to active only when its test passes; test an active provider's new connection settings on a "
    "temporary canary copy first. Default: the rollout setting of dpm.yaml (direct).",
)


@click.command()
@config_options
@registry_options
@prune_option
@target_option
@gate_option
@click.option("--format", "output", type=click.Choice(PLAN_FORMATS), default="text", show_default=True)
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan (JSON).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
def plan(
    *,
    config: ConfigArgs,
    registry: RegistryArgs,
    prune: bool | None,
    chosen: tuple[str, ...],
    gate: bool | None,
    output: str,
    out: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Show what apply would change in the registry. Reads the registry once (one request).

    With -o, the plan is also saved for `dpm apply --plan`; it holds no secret values. A plan that needs a secret
    the environment lacks (for a create, or a secret an update adds), or that would write a secret's value into a
    field the registry stores in clear, fails instead, naming it, and is not saved.

    With --target, only those objects (and what they need) are planned, and the plan says so: it compared nothing
    else, so it never says the registry matches. A saved targeted plan records its targets.

    With --gate (or rollout: gated in dpm.yaml), the plan lists the tests a gated apply runs and what they cost; a
    saved plan records whether it was gated.
    """
    targets.parse_all(chosen)  # a malformed target is refused before anything is read
    with registry.compile_and_read(config) as ready:
        if ready is None:
            return 1
        compiled, session, live = ready
        _refuse_partial_prune(config, compiled, compiled.ownership(prune), chosen)
        made = pipeline.make_plan(
            compiled,
            live,
            session.target,
            compiled.ownership(prune),
            registry=session.url,
            chosen=chosen,
            gated=compiled.gated(gate),
        )
    problem = pipeline.blocked(made)
    saved_as = out if problem is None else None  # a plan that cannot be applied is shown, never saved
    if saved_as is not None:
        saved_as.write_text(made.model_dump_json(indent=2) + "\n", encoding="utf-8")
    click.echo(plan_reporter(output, color=use_color(), saved_as=saved_as).report(made))
    click.echo(policy_findings(made.policy), err=True, nl=False)  # change policies: shown before any refusal
    if problem is not None:
        raise problem
    return 2 if detailed_exitcode and not made.empty else 0


@click.command(name="apply")
@config_options
@registry_options
@prune_option
@target_option
@gate_option
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), help="Apply this saved plan.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation (implied by --plan).")
@click.option("--allow-deletes", type=click.IntRange(min=0), help="Allow this many deletes (beyond maxDeletes).")
@click.option("--test-connectivity", is_flag=True, help="Test each created or changed provider; fail if one fails.")
@click.option(
    "--format",
    "output",
    type=click.Choice(sorted(OUTCOME_REPORTERS)),
    default="text",
    show_default=True,
    help="json: what the apply did as one document on standard output; the plan and prompt go to standard error.",
)
def apply_command(
    *,
    config: ConfigArgs,
    registry: RegistryArgs,
    prune: bool | None,
    chosen: tuple[str, ...],
    gate: bool | None,
    plan_file: Path | None,
    auto_approve: bool,
    allow_deletes: int | None,
    test_connectivity: bool,
    output: str,
) -> int:
    """Carry out a plan: show it, ask, apply it, and verify that nothing is left to do.

    Without --plan, the plan is made now from PATH, shown, and applied once you say yes. With --plan, exactly that
    saved plan is applied without asking (it was reviewed when it was made), after checking in one request that
    nothing it touches has moved. Either way, every write carries the state its plan saw, so the registry refuses
    it when someone else changed an object in between. Exit 3 when something moved, and nothing of it was written.

    --target applies only those objects and what they need (see dpm plan --help); a saved targeted plan is applied
    as it was made, so --target goes with PATH, not with --plan.

    --gate (or rollout: gated in dpm.yaml): what the apply makes routable is written as testing/inactive first,
    tested through the registry, and switched to active in one write only when its test passes; an active
    provider's new connection settings are tested on a temporary canary copy (dpm-canary-…) before the live
    provider changes. A failed test leaves its object not routable (or the old settings in place) and exits 1;
    the next apply tries again. A saved plan is applied as it was made, gated or not.

    Progress goes to standard error, one line per import batch and per delete ("import 2/5: 1,200 change(s):
    done"), completed in place on a terminal.

    --format json prints what the apply did as one JSON document on standard output (schemas/apply.schema.json);
    the plan, the question and progress go to standard error. A stale saved plan gives a document too (result
    "moved", exit 3); any other refusal before a write (an invalid config, too many deletes, a missing secret)
    prints only its error, on standard error.
    """
    targets.parse_all(chosen)
    as_json = output == "json"
    conversation = pipeline.Conversation(
        show=lambda made: click.echo(
            TextPlanReporter(color=use_color()).report(made) + "\n" + policy_findings(made.policy),
            nl=False,
            err=as_json,
        ),
        # A saved plan was reviewed when it was made: applying that file is the approval, as in Terraform.
        confirm=lambda target: _confirm(auto_approve or plan_file is not None, target, err=as_json),
        progress=apply_progress,
    )
    try:
        done = _apply(config, registry, prune, chosen, gate, plan_file, allow_deletes, test_connectivity, conversation)
    except Cancelled as cancelled:
        if not as_json:
            raise
        click.echo(cancelled.message, err=True)  # standard output holds a JSON document or nothing
        return cancelled.exit_code
    except pipeline.StalePlan as stale:
        if not as_json:
            raise
        # Nothing was written, but what moved is what a script needs to know: the document says so, as for a write
        # the registry refused.
        click.echo(f"dpm: error: {stale.message}\n    hint: {stale.hint}", err=True)
        click.echo(OUTCOME_REPORTERS[output]().report(stale.as_applied(), stale.plan.target))
        return stale.exit_code
    if done is None:
        return 1
    applied, target = done
    summary = OUTCOME_REPORTERS[output]().report(applied, target)
    if summary:
        click.echo(summary)
    return applied.exit_code


def _apply(  # noqa: PLR0917 - the options of apply_command, passed through
    config: ConfigArgs,
    registry: RegistryArgs,
    prune: bool | None,
    chosen: tuple[str, ...],
    gate: bool | None,
    plan_file: Path | None,
    allow_deletes: int | None,
    test_connectivity: bool,
    conversation: pipeline.Conversation,
) -> tuple[Applied, str] | None:
    """Apply the saved plan, or a plan made now from PATH: what happened, and the registry it happened to; None
    when the config is invalid."""
    if plan_file is not None:
        if config.paths or chosen:
            what = "PATH" if config.paths else "--target"
            raise UsageError(f"give either {what} or --plan, not both", "a saved plan already holds the config")
        saved = load_plan(plan_file)
        if gate is not None and gate != (saved.gate is not None):
            made = "with" if saved.gate is not None else "without"
            raise UsageError(
                f"the saved plan was made {made} the gate; --{'' if gate else 'no-'}gate cannot change that",
                "a saved plan is applied as it was made: make a new plan with the option you want",
            )
        project = config.project()
        limit = allow_deletes if allow_deletes is not None else project.settings.maxDeletes
        with registry.session(project, default=saved.registry or "embedded") as session:
            applied = pipeline.apply_saved(
                saved, session, max_deletes=limit, test_connectivity=test_connectivity, conversation=conversation
            )
            return applied, session.target
    with registry.compile_and_read(config) as ready:
        if ready is None:
            return None  # its problems are printed; nothing was written
        compiled, session, live = ready
        _refuse_partial_prune(config, compiled, compiled.ownership(prune), chosen)
        limit = allow_deletes if allow_deletes is not None else compiled.project.settings.maxDeletes
        applied = pipeline.apply_config(
            compiled,
            session,
            live,
            compiled.ownership(prune),
            max_deletes=limit,
            test_connectivity=test_connectivity,
            conversation=conversation,
            chosen=chosen,
            gated=compiled.gated(gate),
        )
        return applied, session.target


def _refuse_partial_prune(
    config: ConfigArgs, compiled: pipeline.CompiledConfig, owner: Ownership, chosen: tuple[str, ...]
) -> None:
    """A file (or standard input) means "work on this", not "this is everything": pruning from it would delete every
    provider in scope that it lacks. Targets keep prune within themselves, so they may go with a file."""
    paths = config.paths or (DEFAULT_PATH,)
    if not owner.prune or chosen or any(path != "-" and Path(path).is_dir() for path in paths):
        return
    named = [f"provider/{i}" for i in sorted(compiled.state.providers)]
    named += [f"template/{n}" for n in sorted(compiled.state.templates)]
    suggestion = " ".join(f"--target {n}" for n in named[:5]) + (" …" if len(named) > 5 else "")
    one = len(paths) == 1
    files = [p for p in paths if p != "-"]
    directory = str(Path(files[0]).parent) if files else DEFAULT_PATH
    raise UsageError(
        f"refusing to prune from {', '.join(paths)}: {'it is a file' if one else 'they are files'}, not the config "
        f"directory, so prune would delete every provider in scope that {'it lacks' if one else 'they lack'}",
        f"to work on what {'it holds' if one else 'they hold'}, pass {suggestion or '--target KIND/IDENTIFIER'} "
        f"(prune then stays within the targets) or --no-prune; to prune, give the directory: {directory}",
    )


def _confirm(auto_approve: bool, target: str, *, err: bool = False) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise DpmError("refusing to apply without confirmation: there is no terminal to ask", "pass --auto-approve")
    if not click.confirm(f"Apply these changes to the {target}?", default=False, err=err):
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
    with registry.compile_and_read(config) as ready:
        if ready is None:
            return 1
        found = pipeline.detect_drift(*ready)
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
@click.option(
    "--select",
    "selected",
    multiple=True,
    metavar="IDENTIFIER",
    help="Dump only the providers (identifiers) and custom templates (names) that this matches; globs as in "
    "scope (team-*); repeatable or comma-separated. A new dpm.yaml then keeps prune off.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(sorted(DUMP_REPORTERS)),
    default="text",
    show_default=True,
    help="json: the files written, the objects in each and the secret variables to set, as one document.",
)
def dump(*, registry: RegistryArgs, directory: Path, selected: tuple[str, ...], output: str) -> int:
    """Write the live registry as config files: one per provider in scope, one per custom template.

    --select adopts one or a few existing objects instead of the whole registry; a pattern that matches nothing is
    an error that lists what the registry holds.
    """
    patterns = select_patterns(selected)
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty; dpm dump writes into a new or empty directory")
    project = project_at((str(directory.parent),))
    with registry.session(project) as session:
        dumped = pipeline.dump_registry(project, session, patterns)
        source = session.target
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in dumped.files.items():
        (directory / name).write_text(scrub(text), encoding="utf-8")
    # A new repository (no dpm.yaml that `dpm plan DIR` would read) is complete, so it prunes, unless --select chose
    # part of the registry; an existing one is never touched. A new one also gets what dpm init would give it: a
    # .gitignore holding .dpm/ and the schemas its files' modelines name, each only where no such file exists.
    settings = None
    started: list[str] = []
    complete = not patterns
    if find_upwards(directory.resolve(), sorted(PROJECT_FILES), levels=2) is None:
        settings = directory.parent / "dpm.yaml"
        settings.write_text(project_settings(project.settings.scope, source, complete=complete), encoding="utf-8")
        for name, text in {scaffold.GITIGNORE: scaffold.gitignore(), **scaffold.schema_files()}.items():
            if write_new(directory.parent / name, text):
                started.append(str(directory.parent / name))
    written = None if settings is None else str(settings)
    report = dump_report(
        dumped,
        source=source,
        directory=str(directory),
        selected=patterns,
        settings=written,
        prune=complete,
        started=started,
    )
    click.echo(DUMP_REPORTERS[output]().report(report))
    return 0
