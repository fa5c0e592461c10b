"""Logging, switched on as the guide says: ``DEBUG=dynamic-providers:*`` (or one namespace, e.g.
``dynamic-providers:http``).

Nothing logs request bodies or secret values. As a second line of defence every dpm_server logger masks bearer
tokens and JWTs in whatever it formats.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import sys

NAMESPACE = "dynamic-providers"
SUBSYSTEMS = ("http", "auth", "audit", "registry")
_ROOT = "dpm_server"
_MASKS = (
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+"), r"\1[REDACTED]"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), "[REDACTED-JWT]"),
)


class MaskSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for pattern, replacement in _MASKS:
            message = pattern.sub(replacement, message)
        record.msg, record.args = message, None
        return True


def get_logger(subsystem: str) -> logging.Logger:
    logger = logging.getLogger(f"{_ROOT}.{subsystem}")
    if not any(isinstance(f, MaskSecrets) for f in logger.filters):
        logger.addFilter(MaskSecrets())
    return logger


def configure(debug: str | None) -> None:
    """Sets each subsystem's level from the DEBUG patterns, and gives the server one stderr handler."""
    patterns = [p for p in re.split(r"[\s,]+", debug or "") if p]
    for subsystem in SUBSYSTEMS:
        name = f"{NAMESPACE}:{subsystem}"
        enabled = any(fnmatch.fnmatchcase(name, p) for p in patterns if not p.startswith("-"))
        disabled = any(fnmatch.fnmatchcase(name, p[1:]) for p in patterns if p.startswith("-"))
        get_logger(subsystem).setLevel(logging.DEBUG if enabled and not disabled else logging.INFO)
    root = logging.getLogger(_ROOT)
    if not any(getattr(h, "_dpm", False) for h in root.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s " + NAMESPACE + ":%(subsystem)s %(message)s"))
        handler.addFilter(_Subsystem())
        handler._dpm = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    # Looks sys.stderr up on every record, so that a replaced stderr (pytest, a daemon) is honoured.
    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _Subsystem(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.subsystem = record.name.removeprefix(_ROOT + ".")
        return True
