"""Logging, switched on as the guide says: ``DEBUG=dynamic-providers:*`` (or one namespace, e.g.
``dynamic-providers:http``).

Nothing logs request bodies or secret values. As a second line of defence every dpm_server logger masks bearer
tokens and JWTs in whatever it formats.

Lines are text by default; ``DPM_SERVER_LOG_FORMAT=json`` makes each one JSON object (``timestamp``, ``level``,
``logger``, ``message``, ``requestId`` while a request is being served, ``exception`` for a traceback) for log
pipelines, uvicorn's own lines included.
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import logging
import re
import sys
from datetime import UTC, datetime

NAMESPACE = "dynamic-providers"
SUBSYSTEMS = ("http", "auth", "audit", "registry")
_ROOT = "dpm_server"
_UVICORN = "uvicorn"
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("dpm_request_id", default=None)
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


def configure(debug: str | None, log_format: str = "text") -> None:
    """Sets each subsystem's level from the DEBUG patterns, and gives the server one stderr handler; in the json
    format uvicorn's loggers write through it too, so that every line of the process is JSON."""
    patterns = [p for p in re.split(r"[\s,]+", debug or "") if p]
    for subsystem in SUBSYSTEMS:
        name = f"{NAMESPACE}:{subsystem}"
        enabled = any(fnmatch.fnmatchcase(name, p) for p in patterns if not p.startswith("-"))
        disabled = any(fnmatch.fnmatchcase(name, p[1:]) for p in patterns if p.startswith("-"))
        get_logger(subsystem).setLevel(logging.DEBUG if enabled and not disabled else logging.INFO)
    root = logging.getLogger(_ROOT)
    handler = next((h for h in root.handlers if getattr(h, "_dpm", False)), None)
    if handler is None:
        handler = _Stderr()
        handler.addFilter(_Subsystem())
        handler._dpm = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
    json_lines = log_format == "json"
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s " + NAMESPACE + ":%(subsystem)s %(message)s")
    )
    uvicorn = logging.getLogger(_UVICORN)
    if json_lines and handler not in uvicorn.handlers:
        uvicorn.addHandler(handler)
        uvicorn.setLevel(logging.INFO)
    elif not json_lines and handler in uvicorn.handlers:  # a later app in this process asked for text again
        uvicorn.removeHandler(handler)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the message is masked already (``MaskSecrets``) and a newline in it stays
    inside its JSON string, so one record is always one line."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, object] = {
            "timestamp": moment.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": _logger_name(record.name),
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["requestId"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _logger_name(name: str) -> str:
    return f"{NAMESPACE}:{name.removeprefix(_ROOT + '.')}" if name.startswith(_ROOT + ".") else name


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    # Looks sys.stderr up on every record, so that a replaced stderr (pytest, a daemon) is honoured.
    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _Subsystem(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.subsystem = record.name.removeprefix(_ROOT + ".")
        return True
