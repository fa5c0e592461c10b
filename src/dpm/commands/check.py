"""``dpm check``: the config's models against what the providers really serve, through the registry's tests."""

from __future__ import annotations

import click

from dpm import pipeline
from dpm.commands.options import ConfigArgs, RegistryArgs, config_options, registry_options, select_patterns
from dpm.reports.diagnostics import REPORTERS
from dpm.reports.markdown import MarkdownCheckReporter

CHECK_FORMATS = sorted([*REPORTERS, "markdown"])


@click.command()
@config_options
@registry_options
@click.option(
    "--select",
    "selected",
    multiple=True,
    metavar="PATTERN",
    help="Check only the configured providers whose identifier this matches; globs (team-*); repeatable or "
    "comma-separated. A pattern that matches none is an error.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(CHECK_FORMATS),
    default="text",
    show_default=True,
    help="markdown: an issue for a scheduled job; github: annotations on the config's lines; json: "
    "schemas/diagnostics.schema.json.",
)
def check(*, config: ConfigArgs, registry: RegistryArgs, selected: tuple[str, ...], output: str) -> int:
    """Check the configured models against what each provider really serves. Exit 2 on an error finding.

    Each provider in the config (or in --select) gets one connectivity test through the registry, which asks the
    provider for its models; the cost is one export plus one request per provider, and a rate-limited run waits
    for the next window (--max-wait). Findings:

    \b
      error   a configured model the provider no longer lists (renamed or retired), at its line in the config;
              a templated provider's models point at its document
      error   a provider whose test fails, with the provider's own messages
      error   a provider the registry does not hold yet: apply it first
      notice  a model the provider lists that the config lacks

    Exit 0 when there is no error finding (notices included), 2 when there is one, 1 when dpm itself fails.
    """
    patterns = select_patterns(selected)
    compiled = config.compile_valid()
    if compiled is None:
        return 1
    with registry.session(compiled.project) as session:
        checked = pipeline.check_upstream(compiled, session, patterns)
    if output == "markdown":
        click.echo(MarkdownCheckReporter().report(checked.findings, checked.summary))
    else:
        click.echo(REPORTERS[output]().report(checked.findings, checked.summary))
    return 2 if any(d.severity == "error" for d in checked.findings) else 0
