"""What commands share: their options, compiling the config they name, and a session with the registry."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import click

from dpm.client import DEFAULT_MAX_WAIT, RegistryClient
from dpm.config import CompiledConfig, compile_config
from dpm.diagnostics import TextReporter, has_errors
from dpm.errors import DpmError
from dpm.logs import configure_logging
from dpm.project import Project, load_project
from dpm.targets import choose_target, connect

DEFAULT_PATH = "providers.d"


def _stack(options: Sequence[Callable[[Any], Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


config_options = _stack(
    [
        click.argument("paths", nargs=-1, metavar="[PATH]..."),
        click.option("--env", "environment", metavar="NAME", help="Read vars from environments/NAME.yaml."),
        click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Set a var (repeatable)."),
        click.option(
            "--require-secrets", is_flag=True, help="Treat a secret missing from the environment as an error."
        ),
    ]
)

registry_options = _stack(
    [
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
        click.option("-v", "--verbose", is_flag=True, help="Log every request (never its secrets)."),
    ]
)


def compile_paths(
    paths: Sequence[str], environment: str | None, variables: Sequence[str], require_secrets: bool
) -> CompiledConfig:
    return compile_config(
        list(paths) or [DEFAULT_PATH],
        environment=environment,
        variables=variables,
        require_secrets=require_secrets,
        stdin=sys.stdin.buffer,
    )


def project_only(paths: Sequence[str], environment: str | None, variables: Sequence[str]) -> Project:
    """The project settings alone, for commands that read no config documents; invalid settings stop here."""
    project, problems = load_project(list(paths) or [DEFAULT_PATH], environment, variables)
    if has_errors(problems):
        click.echo(TextReporter().report(problems, "dpm.yaml"), err=True)
        raise DpmError("the project settings are invalid")
    return project


def valid_or_report(config: CompiledConfig) -> bool:
    """Print the config's problems to stderr; False when it is invalid (and no request may be made)."""
    if config.diagnostics:
        click.echo(TextReporter().report(config.diagnostics, config.summary), err=True)
    return config.valid


@dataclass
class Session:
    target: str
    url: str | None
    client: RegistryClient


@contextlib.contextmanager
def session(project: Project, registry: str | None, max_wait: float, verbose: bool) -> Iterator[Session]:
    configure_logging(verbose or "dynamic-providers" in os.environ.get("DEBUG", ""))
    choice = choose_target(registry, project.registry, os.environ, project.root)
    with connect(choice, os.environ, max_wait) as client:
        client.wait = countdown
        yield Session(choice.description, choice.url, client)


def countdown(seconds: float, reason: str) -> None:
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
