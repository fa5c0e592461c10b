"""The command line: thin commands over the pipeline, and ``main``, the one boundary that maps errors to exit codes.

Exit codes: 0 success, 1 error (including usage errors, so that 2 can keep meaning "changes present"),
2 changes, drift or failed checks present, 3 a saved plan is stale, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

import click

import dpm_server
from dpm import __version__
from dpm.commands.check import check
from dpm.commands.completion import COMPLETE_VAR, completion
from dpm.commands.console import COLOR_MODES, decide_color
from dpm.commands.fmt import fmt
from dpm.commands.init import init
from dpm.commands.offline import render, schema, validate
from dpm.commands.policy import policy
from dpm.commands.registry import apply_command, drift, dump, plan
from dpm.commands.show import show
from dpm.errors import Cancelled, DpmError
from dpm.redaction import ScrubbedStream


class _LazyGroup(click.Group):
    """Loads the server's commands only when they run, so the compiler starts without importing the server."""

    lazy = {"serve": "dpm_server.cli:serve", "users": "dpm_server.cli:users"}
    # What `dpm --help` shows for them, from the server's own light package, so that listing imports no server code.
    summaries = dpm_server.COMMAND_SUMMARIES

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
@click.option(
    "--color",
    type=click.Choice(COLOR_MODES),
    default="auto",
    show_default=True,
    help="Colour: auto (on a terminal, unless NO_COLOR is set or TERM=dumb), always or never. Goes before the "
    "command: dpm --color never plan.",
)
@click.pass_context
def cli(context: click.Context, color: str) -> None:
    """dpm: GitOps for LLM provider registries.

    Keep providers, models and provider templates as YAML in git; dpm validates them, plans the changes against
    the live registry, applies them, and catches drift.
    """
    # Decided once for every command: each command's context inherits it, and click.echo then keeps or strips
    # escape sequences to match (it would strip them from a pipe even under --color always).
    context.color = decide_color(color, sys.stdout, os.environ)


for command in (init, validate, render, schema, fmt, plan, show, apply_command, drift, check, dump, completion, policy):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run dpm and return its exit code. No traceback reaches a user unless DPM_DEBUG is set, and no known secret
    value reaches its standard output or error."""
    if COMPLETE_VAR in os.environ:
        # The shell asking for completions (see dpm completion): click answers in bytes, which the scrubbed streams
        # refuse, and the answer holds only dpm's own commands, options and choices, since no config is read.
        return _run(argv)
    with _scrubbed_output(), _terminate_as_interrupt():
        return _run(argv)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, ``kill``) ends dpm as Ctrl-C does, so that what a run must tidy up on the way out
    (a gated apply's canary copy) is tidied up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


@contextlib.contextmanager
def _scrubbed_output() -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (s if isinstance(s, ScrubbedStream) else ScrubbedStream(s) for s in saved)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _run(argv: Sequence[str] | None) -> int:
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
    except Cancelled as exc:
        click.echo(exc.message)
        return exc.exit_code
    except DpmError as exc:
        click.echo(f"dpm: error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"    hint: {exc.hint}", err=True)
        return exc.exit_code
    except OSError as exc:  # a path that cannot be read or written is the user's to fix, not a bug in dpm
        if os.environ.get("DPM_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"dpm: error: {where}{(exc.strerror or str(exc)).lower()}", err=True)
        if exc.filename:
            click.echo("    hint: check that the path exists and that dpm may read and write it", err=True)
        return 1
    except Exception as exc:
        if os.environ.get("DPM_DEBUG"):
            raise
        click.echo(f"dpm: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("    hint: this is a bug in dpm; rerun with DPM_DEBUG=1 for a traceback and report it", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
