"""What a command shows on the terminal: whether it is coloured, and, while it talks to a registry, its request
log, the progress of an apply, and a countdown while dpm waits for the registry's rate-limit window.

Colour follows the common conventions: ``--color always|never`` decides; otherwise (``auto``) standard output is
coloured only when it is a terminal, and not when ``NO_COLOR`` holds any value (https://no-color.org) or
``TERM=dumb``.

Logging is for people: warnings always, every request with -v or DEBUG=dynamic-providers:*. Never a secret: the
client logs methods, paths, statuses and request ids only.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

import click

from dpm.engine.apply import StepProgress
from dpm.redaction import ScrubbingFilter

COLOR_MODES = ("auto", "always", "never")


def decide_color(mode: str, stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether what is written to ``stream`` is coloured, for ``--color mode``."""
    if mode != "auto":
        return mode == "always"
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def use_color() -> bool:
    """Whether this command colours its output: decided once, by the ``dpm`` group, for every command (a plan shown
    on standard error under ``apply --format json`` follows the same decision)."""
    context = click.get_current_context(silent=True)
    if context is not None and context.color is not None:
        return context.color
    return decide_color("auto", sys.stdout, os.environ)


def configure_logging(verbose: bool) -> None:
    logger = logging.getLogger("dpm")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("dpm: %(message)s"))
        handler.addFilter(ScrubbingFilter())
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False


def countdown(seconds: float, reason: str) -> None:
    """Wait for a rate-limit window, showing the time left."""
    end = time.monotonic() + seconds
    interactive = sys.stderr.isatty()
    # On a terminal, an apply's live progress line may be open: clear it, and the step's line comes back when done.
    clear = "\r\x1b[K" if interactive else ""
    click.echo(f"{clear}dpm: {reason}; waiting {seconds:.0f}s for the next window", err=True, color=True)
    while (left := end - time.monotonic()) > 0:
        if interactive:
            click.echo(f"\r  {left:4.0f}s left ", nl=False, err=True)
        time.sleep(min(1.0 if interactive else 30.0, left))
    if interactive:
        click.echo("", err=True)


def apply_progress(step: StepProgress) -> None:
    """One line per import batch and per delete on standard error: on a terminal it is written as the step is sent
    and completed in place, so a long apply shows what it is waiting for; piped, only the finished line is written."""
    if sys.stderr.isatty():
        # \x1b[K clears what a longer line before it left behind. It is a terminal control, not colour: kept even
        # when colour is off (color=True stops click from stripping it).
        click.echo(f"\r{step.line}\x1b[K", nl=step.state != "sending", err=True, color=True)
    elif step.state != "sending":
        click.echo(step.line, err=True)
