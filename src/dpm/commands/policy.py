"""``dpm policy``: commands about the policies themselves."""

from __future__ import annotations

import click

from dpm.commands.options import project_at
from dpm.errors import DpmError
from dpm.policy.load import load_policies
from dpm.policy.selftest import report, run_cases
from dpm.reports.diagnostics import TextReporter
from dpm.values import has_errors


@click.group()
def policy() -> None:
    """Work with the policies in policies/ and the packs that dpm.yaml extends."""


@policy.command(name="test")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
def test_command(paths: tuple[str, ...]) -> int:
    """Run each policy's fixture cases (its tests: list): an object or change in, where the rule fails out.

    Exit 0 when every case passes; 1 when one fails, when a policy file is broken, or when no case ran at all.
    """
    found = load_policies(project_at(paths))
    if found.problems:
        click.echo(TextReporter().report(found.problems, "policies"), err=True)
    if has_errors(found.problems):
        return 1
    outcomes = run_cases(found.policies)
    click.echo(report(outcomes, [p.name for p in found.policies if not p.tests]))
    if not outcomes:
        raise DpmError("no policy has test cases, so nothing was tested", "add tests: to a policy (see README)")
    return 0 if all(o.passed for o in outcomes) else 1
