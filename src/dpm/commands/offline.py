"""Commands that need no registry: validate, render and schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dpm.commands.options import ConfigArgs, config_options, kept_for_the_process
from dpm.config.yamlio import dump_yaml
from dpm.reports.diagnostics import REPORTERS
from dpm.schemas import render_schema, schemas, write_schemas


@click.command()
@config_options
@click.option("--format", "output", type=click.Choice(sorted(REPORTERS)), default="text", show_default=True)
@click.option(
    "--policies-only",
    is_flag=True,
    help="Report only the policies' findings and the problems of the policy files (for tools that gate on them).",
)
def validate(*, config: ConfigArgs, output: str, policies_only: bool) -> int:
    """Check config files offline: syntax, expressions, schema, business rules and the policies (policies/*.yaml).

    PATH is a directory (its *.yaml and *.yml files, in sorted order), a file, or - for standard input;
    the default is providers.d. Every problem is reported with file:line:col. Exit 0 when valid, 1 when not.
    With --policies-only, the other problems are not listed, but a config that has any still exits 1 (and says so
    on standard error): a policy cannot vouch for an object it could not read.
    """
    compiled = config.compile()
    shown, summary = compiled.diagnostics, compiled.summary
    if policies_only:
        shown, summary = [d for d in shown if d.code in POLICY_CODES], f"{summary}, policies only"
        hidden = sum(d.severity == "error" for d in compiled.diagnostics if d.code not in POLICY_CODES)
        if hidden:
            click.echo(f"dpm: the config has {hidden} other error(s) as well; dpm validate lists them", err=True)
    click.echo(REPORTERS[output]().report(shown, summary))
    return 0 if compiled.valid else 1


POLICY_CODES = frozenset({"policy", "policy-file"})


@click.command()
@config_options
@click.option("--format", "output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render(*, config: ConfigArgs, output: str) -> int:
    """Print the compiled desired state, with templates expanded and every secret masked."""
    compiled = config.compile_valid()
    if compiled is None:
        return 1
    with kept_for_the_process():
        data = compiled.state.to_data()
    click.echo(json.dumps(data, indent=2) if output == "json" else dump_yaml(data), nl=output == "json")
    return 0


@click.command()
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
