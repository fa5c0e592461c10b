"""A saved plan read back: ``load_plan`` (shared with ``dpm apply --plan``) and ``dpm show``, which prints one without
applying it or contacting any registry."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import BaseModel, ValidationError

from dpm.commands.console import use_color
from dpm.engine.plan import PLAN_FORMAT_VERSION, Plan
from dpm.errors import DpmError, UsageError
from dpm.reports.plan import PLAN_FORMATS, TextPlanReporter, plan_reporter


class _Version(BaseModel):
    """Only a saved plan's format version, read before the rest, whose shape depends on it."""

    formatVersion: object = None


def load_plan(path: Path) -> Plan:
    """The plan saved at ``path``, refused when it is not a dpm plan, was written by a dpm that writes another
    plan format, or was edited after dpm wrote it."""
    try:
        content = path.read_bytes()
        _check_version(path, _Version.model_validate_json(content).formatVersion)
        saved = Plan.model_validate_json(content)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such plan file", "save one with dpm plan -o FILE") from None
    except ValidationError as exc:
        raise DpmError(f"{path} is not a dpm plan: {exc.errors()[0]['msg']}") from None
    if saved.checksum != saved.compute_checksum():
        raise DpmError(f"{path} was modified after dpm wrote it (its checksum does not match)", "make a new plan")
    return saved


def _check_version(path: Path, version: object) -> None:
    """Refuse a plan of another format: its changes would be read wrong (a version-1 create lists its fields and
    its checksum sums another serialization), so it is made again rather than converted."""
    if version is None or version == PLAN_FORMAT_VERSION:
        return  # no version at all: not a plan, which validation says with the missing fields
    made_by = "another"
    if isinstance(version, int):
        made_by = "an older" if version < PLAN_FORMAT_VERSION else "a newer"
    raise DpmError(
        f"{path} is a plan of format version {version}, made by {made_by} dpm; this dpm reads plan format version "
        f"{PLAN_FORMAT_VERSION} only",
        "run dpm plan --out FILE again with this dpm, review the new plan, and apply that",
    )


@click.command()
@click.argument("plan_file", metavar="PLAN_FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output",
    type=click.Choice(PLAN_FORMATS),
    default="text",
    show_default=True,
    help="text as dpm plan prints it, json (the plan file itself) or markdown (a pull-request comment).",
)
def show(plan_file: Path, output: str) -> int:
    """Print a plan saved by `dpm plan -o FILE`, without applying it or contacting any registry.

    The file gets the same checks as `dpm apply --plan`: it must be a dpm plan in this dpm's plan format (a plan
    saved by a dpm that writes another is refused: plan again), unchanged since dpm wrote it.
    Whether it is still current is only known when it is applied.
    """
    saved = load_plan(plan_file)
    if output != "text":  # Markdown points at the file for the objects a long comment leaves out
        click.echo(plan_reporter(output, color=False, saved_as=plan_file).report(saved))
        return 0
    click.echo(TextPlanReporter(use_color()).report(saved))
    click.echo(f"Apply exactly this plan with: dpm apply --plan {plan_file}")
    return 0
