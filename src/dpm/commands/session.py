"""A command's session with its registry: request logging, the target, and a visible countdown while dpm waits for
the registry's rate-limit window.

Logging is for people: warnings always, every request with -v or DEBUG=dynamic-providers:*. Never a secret: the
client logs methods, paths, statuses and request ids only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator

import click

from dpm.config.project import Project
from dpm.registry.targets import Session, choose_target, connect


@contextlib.contextmanager
def session(project: Project, registry: str | None, max_wait: float, verbose: bool) -> Iterator[Session]:
    configure_logging(verbose or "dynamic-providers" in os.environ.get("DEBUG", ""))
    choice = choose_target(registry, project.registry, os.environ, project.root)
    with connect(choice, os.environ, max_wait) as opened:
        opened.client.wait = countdown
        yield opened


def configure_logging(verbose: bool) -> None:
    logger = logging.getLogger("dpm")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("dpm: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False


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
