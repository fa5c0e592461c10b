"""``dpm fmt``: config files in one canonical layout, every comment kept (the layout is ``dpm.config.layout``)."""

from __future__ import annotations

import difflib
import sys
from typing import TYPE_CHECKING

import click

from dpm.commands.options import DEFAULT_PATH
from dpm.config.keyorder import document_shape, file_shapes
from dpm.config.load import STDIN, display_name, layout_files
from dpm.errors import UsageError
from dpm.reports.diagnostics import TextReporter

if TYPE_CHECKING:
    from dpm.config.layout import Formatted

STDIN_NAME = "<stdin>"


@click.command("fmt")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--check", is_flag=True, help="Write nothing; list the files that would change, and exit 1 if any.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff of what would change.")
def fmt(*, paths: tuple[str, ...], check: bool, show_diff: bool) -> int:
    """Rewrite config files in one canonical layout, keeping every comment.

    Keys in the schemas' order (kind first), two-space indentation, double quotes only where a string needs
    quotes, flow collections ({...}, [...]) kept while they fit in 120 columns. Comments, anchors and aliases,
    merge keys, block scalars, ${{ }} expressions and documents (---) stay as written, and what a file means never
    changes: dpm reads the result back and leaves a file alone if it would.

    PATH is a directory (its *.yaml and *.yml files, dpm.yaml included), a file, or - (standard input to standard
    output); the default is providers.d. Without flags, changed files are rewritten and listed. --check and --diff
    write nothing; --check exits 1 when a file would change (for CI and pre-commit). A file that cannot be read as
    YAML is reported with file:line:col, the others are still formatted, and the exit code is 1.
    """
    named = list(paths) or [DEFAULT_PATH]
    if STDIN in named and len(named) > 1:
        raise UsageError("'-' (standard input) cannot be formatted together with files")
    done = [formatted for path in named for formatted in _format(path)]
    failed = [problem for formatted in done for problem in formatted.problems]
    changed = [formatted for formatted in done if formatted.changed]
    if show_diff:
        click.echo("".join(_diff(formatted) for formatted in changed), nl=False)
    elif not check:
        _write(changed)
    _summarize(done, changed, check=check or show_diff, err=show_diff)
    if failed:
        click.echo(TextReporter().report(failed, f"{len(failed)} file(s) could not be formatted"), err=True)
    return 1 if failed or (check and changed) else 0


def _format(path: str) -> list[Formatted]:
    # ruamel.yaml is loaded by this command alone: every other command starts without it.
    from dpm.config.layout import format_text  # noqa: PLC0415

    if path == STDIN:
        return [format_text(STDIN_NAME, sys.stdin.buffer.read(), document_shape)]
    return [format_text(display_name(file), file.read_bytes(), file_shapes(file)) for file in layout_files([path])]


def _write(changed: list[Formatted]) -> None:
    for formatted in changed:
        assert formatted.text is not None
        if formatted.name == STDIN_NAME:
            continue
        with open(formatted.name, "w", encoding="utf-8", newline="") as file:
            file.write(formatted.text)


def _summarize(done: list[Formatted], changed: list[Formatted], *, check: bool, err: bool) -> None:
    if done and done[0].name == STDIN_NAME and not check and done[0].text is not None:
        click.echo(done[0].text, nl=False)  # standard input is formatted to standard output, and nothing else
        return
    verb = "would reformat" if check else "reformatted"
    for formatted in changed:
        click.echo(f"{verb} {formatted.name}", err=err)
    unchanged = sum(1 for formatted in done if formatted.text is not None and not formatted.changed)
    if changed or unchanged:
        summary = f"{len(changed)} file(s) {'would be ' if check else ''}reformatted, {unchanged} already formatted"
        click.echo(summary, err=err)


def _diff(formatted: Formatted) -> str:
    assert formatted.text is not None
    lines = difflib.unified_diff(
        (formatted.original or "").splitlines(keepends=True),
        formatted.text.splitlines(keepends=True),
        fromfile=_side("a", formatted.name),
        tofile=_side("b", formatted.name),
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _side(prefix: str, name: str) -> str:
    """``a/NAME`` and ``b/NAME``, as git writes them, so the diff applies with ``git apply`` or ``patch -p1``."""
    return name if name.startswith(("/", "<")) else f"{prefix}/{name}"
