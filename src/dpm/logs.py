"""Logging for people: warnings always, every request with -v or DEBUG=dynamic-providers:*. Never a secret:
the client logs methods, paths, statuses and request ids only."""

from __future__ import annotations

import logging
import sys


def configure_logging(verbose: bool) -> None:
    logger = logging.getLogger("dpm")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("dpm: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False
