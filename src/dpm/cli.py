"""The command line: thin commands over the pipeline, and ``main``, the one boundary that maps errors to exit codes.

Exit codes: 0 success, 1 error (including usage errors, so that 2 can keep meaning "changes present"),
2 changes or drift present, 3 a saved plan is stale, 130 interrupted.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from dpm import __version__
from dpm.config import paused_gc
from dpm.diagnostics import REPORTERS, TextReporter
from dpm.errors import DpmError
from dpm.options import compile_paths, config_options
from dpm.registry_commands import apply_command, drift, dump, plan
from dpm.schema import render_schema, schemas, write_schemas
from dpm.yamlio import dump_yaml


class _LazyGroup(click.Group):
    """Loads the server's commands only when they run, so the compiler starts without importing the server."""

    lazy = {"serve": "dpm_server.cli:serve", "users": "dpm_server.cli:users"}
    # What `dpm --help` shows for them, so that listing the commands imports nothing.
    summaries = {
        "serve": "Run the registry server (the Dynamic Provider Management API).",
        "users": "Manage the registry server's users.",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            command = None if name in self.summaries else self.get_command(ctx, name)
            summary = self.summaries.get(name) or (command.get_short_help_str(limit) if command else "")
            rows.append((name, summary))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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


@cli.command()
@config_options
@click.option("--format", "output", type=click.Choice(sorted(REPORTERS)), default="text", show_default=True)
def validate(
    paths: Sequence[str], environment: str | None, variables: Sequence[str], require_secrets: bool, output: str
) -> int:
    """Check config files offline: syntax, expressions, schema and business rules.

    PATH is a directory (its *.yaml and *.yml files, in sorted order), a file, or - for standard input;
    the default is providers.d. Every problem is reported with file:line:col. Exit 0 when valid, 1 when not.
    """
    config = compile_paths(paths, environment, variables, require_secrets)
    click.echo(REPORTERS[output]().report(config.diagnostics, config.summary))
    return 0 if config.valid else 1


@cli.command()
@config_options
@click.option("--format", "output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render(
    paths: Sequence[str], environment: str | None, variables: Sequence[str], require_secrets: bool, output: str
) -> int:
    """Print the compiled desired state, with templates expanded and every secret masked."""
    config = compile_paths(paths, environment, variables, require_secrets)
    if config.diagnostics:
        click.echo(TextReporter().report(config.diagnostics, config.summary), err=True)
    if not config.valid:
        return 1
    with paused_gc():
        data = config.state.to_data()
    click.echo(json.dumps(data, indent=2) if output == "json" else dump_yaml(data), nl=output == "json")
    return 0


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


for command in (plan, apply_command, drift, dump):
    cli.add_command(command)


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
