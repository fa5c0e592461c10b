"""The command line: thin commands over the pipeline, and ``main``, the one boundary that maps errors to exit codes.

Exit codes: 0 success, 1 error (including usage errors, so that 2 can keep meaning "changes present"),
2 changes or drift present, 3 a saved plan is stale, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from dpm import __version__, operations
from dpm.client import DEFAULT_MAX_WAIT, RegistryClient
from dpm.config import CompiledConfig, compile_config
from dpm.diagnostics import REPORTERS, TextReporter
from dpm.errors import DpmError
from dpm.logs import configure_logging
from dpm.report import PLAN_REPORTERS, JsonPlanReporter, TextPlanReporter, outcome_summary
from dpm.schema import render_schema, schemas, write_schemas
from dpm.targets import choose_target, connect
from dpm.yamlio import dump_yaml

DEFAULT_PATH = "providers.d"


class _LazyGroup(click.Group):
    """Loads the server's commands only when they run, so the compiler starts without importing the server."""

    lazy = {"serve": "dpm_server.cli:serve", "users": "dpm_server.cli:users"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, name = self.lazy[cmd_name].partition(":")
            try:
                command = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError) as exc:
                return _unavailable(cmd_name, exc)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


def _unavailable(name: str, reason: Exception) -> click.Command:
    """A command whose module cannot be imported: help still lists it, and running it says why."""

    def fail() -> None:
        raise DpmError(f"dpm {name} is unavailable: {reason}", "reinstall dpm: pip install -e .")

    return click.Command(name, callback=fail, help="(unavailable in this installation)")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dpm")
def cli() -> None:
    """dpm: GitOps for LLM provider registries.

    Keep providers, models and provider templates as YAML in git; dpm validates them, plans the changes against
    the live registry, applies them, and catches drift.
    """


def _config_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("paths", nargs=-1, metavar="[PATH]..."),
        click.option("--env", "environment", metavar="NAME", help="Read vars from environments/NAME.yaml."),
        click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Set a var (repeatable)."),
        click.option(
            "--require-secrets", is_flag=True, help="Treat a secret missing from the environment as an error."
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _compile(
    paths: Sequence[str], environment: str | None, variables: Sequence[str], require_secrets: bool
) -> CompiledConfig:
    return compile_config(
        list(paths) or [DEFAULT_PATH],
        environment=environment,
        variables=variables,
        require_secrets=require_secrets,
        stdin=sys.stdin.buffer,
    )


@cli.command()
@_config_options
@click.option("--format", "output", type=click.Choice(sorted(REPORTERS)), default="text", show_default=True)
def validate(
    paths: Sequence[str], environment: str | None, variables: Sequence[str], require_secrets: bool, output: str
) -> int:
    """Check config files offline: syntax, expressions, schema and business rules.

    PATH is a directory (its *.yaml and *.yml files, in sorted order), a file, or - for standard input;
    the default is providers.d. Every problem is reported with file:line:col. Exit 0 when valid, 1 when not.
    """
    config = _compile(paths, environment, variables, require_secrets)
    click.echo(REPORTERS[output]().report(config.diagnostics, config.summary))
    return 0 if config.valid else 1


@cli.command()
@_config_options
@click.option("--format", "output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render(
    paths: Sequence[str], environment: str | None, variables: Sequence[str], require_secrets: bool, output: str
) -> int:
    """Print the compiled desired state, with templates expanded and every secret masked."""
    config = _compile(paths, environment, variables, require_secrets)
    if config.diagnostics:
        click.echo(TextReporter().report(config.diagnostics, config.summary), err=True)
    if not config.valid:
        return 1
    data = config.state.to_data()
    click.echo(json.dumps(data, indent=2) if output == "json" else dump_yaml(data), nl=output == "json")
    return 0


def _registry_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--registry",
            metavar="URL",
            help="Registry API base URL (or 'embedded'); default DPM_REGISTRY_URL, then dpm.yaml, then embedded.",
        ),
        click.option(
            "--max-wait",
            type=click.FloatRange(min=0),
            default=DEFAULT_MAX_WAIT,
            show_default=True,
            help="Seconds to wait in all for the registry's rate-limit window.",
        ),
        click.option("--prune/--no-prune", default=None, help="Delete providers in scope that the files lack."),
        click.option("-v", "--verbose", is_flag=True, help="Log every request (never its secrets)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@contextlib.contextmanager
def _session(config: CompiledConfig, registry: str | None, max_wait: float, verbose: bool) -> Iterator[Session]:
    configure_logging(verbose or "dynamic-providers" in os.environ.get("DEBUG", ""))
    choice = choose_target(registry, config.project.registry, os.environ, config.project.root)
    with connect(choice, os.environ, max_wait) as client:
        client.wait = _countdown
        yield Session(choice.description, client)


@dataclass
class Session:
    target: str
    client: RegistryClient


def _countdown(seconds: float, reason: str) -> None:
    """Wait for a rate-limit window, showing the time left."""
    end = time.monotonic() + seconds
    interactive = sys.stderr.isatty()
    click.echo(f"dpm: {reason}; waiting {seconds:.0f}s for the next window", err=True)
    while (left := end - time.monotonic()) > 0:
        if interactive:
            click.echo(f"\r  {left:4.0f}s left ", nl=False, err=True)
        time.sleep(min(1.0 if interactive else 30.0, left))
    if interactive:
        click.echo("", err=True)


def _valid_or_report(config: CompiledConfig) -> bool:
    """Print the config's problems to stderr; False when it is invalid (and no request may be made)."""
    if config.diagnostics:
        click.echo(TextReporter().report(config.diagnostics, config.summary), err=True)
    return config.valid


@cli.command()
@_config_options
@_registry_options
@click.option("--format", "output", type=click.Choice(sorted(PLAN_REPORTERS)), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 none, 1 error).")
def plan(
    *,
    paths: Sequence[str],
    environment: str | None,
    variables: Sequence[str],
    require_secrets: bool,
    registry: str | None,
    max_wait: float,
    prune: bool | None,
    verbose: bool,
    output: str,
    detailed_exitcode: bool,
) -> int:
    """Show what apply would change in the registry. Reads the registry once (one request)."""
    config = _compile(paths, environment, variables, require_secrets)
    if not _valid_or_report(config):
        return 1
    with _session(config, registry, max_wait, verbose) as session:
        planned = operations.make_plan(config, session.client, session.target, operations.ownership(config, prune))
    reporter = TextPlanReporter(color=sys.stdout.isatty()) if output == "text" else JsonPlanReporter()
    click.echo(reporter.report(planned.plan))
    return 2 if detailed_exitcode and not planned.plan.empty else 0


@cli.command(name="apply")
@_config_options
@_registry_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--test-connectivity", is_flag=True, help="Test each created or changed provider; fail if one fails.")
def apply_command(
    *,
    paths: Sequence[str],
    environment: str | None,
    variables: Sequence[str],
    require_secrets: bool,
    registry: str | None,
    max_wait: float,
    prune: bool | None,
    verbose: bool,
    auto_approve: bool,
    test_connectivity: bool,
) -> int:
    """Carry out the plan: show it, ask, apply it, and verify that nothing is left to do."""
    config = _compile(paths, environment, variables, require_secrets)
    if not _valid_or_report(config):
        return 1
    owner = operations.ownership(config, prune)
    with _session(config, registry, max_wait, verbose) as session:
        planned = operations.make_plan(config, session.client, session.target, owner)
        click.echo(TextPlanReporter(color=sys.stdout.isatty()).report(planned.plan))
        if planned.plan.empty:
            return 0
        operations.check_applicable(planned, config)
        _confirm(auto_approve, session.target)
        applied = operations.run_apply(planned, config, session.client, owner, lambda m: click.echo(m, err=True))
        click.echo(outcome_summary(applied.outcome, applied.left))
        if not applied.outcome.ok or applied.left:
            return 1
        if test_connectivity:
            failures = operations.test_connectivity(applied, session.client)
            for failure in failures:
                click.echo(f"connectivity test failed: {failure}")
            if failures:
                return 1
    return 0


def _confirm(auto_approve: bool, target: str) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise DpmError("refusing to apply without confirmation: there is no terminal to ask", "pass --auto-approve")
    if not click.confirm(f"Apply these changes to the {target}?", default=False):
        raise click.exceptions.Abort()


@cli.command()
@click.option("--out", "directory", type=click.Path(file_okay=False, path_type=Path), help="Write every schema here.")
def schema(directory: Path | None) -> int:
    """Print the JSON Schema of config documents, or write all of dpm's schemas to a directory.

    Point an editor at them with a '# yaml-language-server: $schema=…' line, or check files with check-jsonschema.
    """
    if directory is None:
        click.echo(render_schema(schemas()["document.schema.json"]), nl=False)
        return 0
    for path in write_schemas(directory):
        click.echo(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run dpm and return its exit code. No traceback reaches a user unless DPM_DEBUG is set."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="dpm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("dpm: interrupted", err=True)
        return 130
    except DpmError as exc:
        click.echo(f"dpm: error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"    hint: {exc.hint}", err=True)
        return exc.exit_code
    except Exception as exc:
        if os.environ.get("DPM_DEBUG"):
            raise
        click.echo(f"dpm: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("    hint: this is a bug in dpm; rerun with DPM_DEBUG=1 for a traceback and report it", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
