"""The second line of defence: a value known to be secret is replaced wherever it would leave dpm.

The first line is that secrets never reach output at all: a ``Secret`` masks itself, plans hold markers, ``env``
cannot read a secret or dpm's own credentials. This module catches what a bug or an unforeseen path might still let
through. Every value dpm learns is secret (each ``secret.*`` read, the credentials, the tokens a login returns) is
remembered for the life of the process, and every output channel passes its text through ``scrub``: standard output
and error (``ScrubbedStream``), the log (``ScrubbingFilter``), and the files dpm writes.
"""

from __future__ import annotations

import io
import logging
from typing import TextIO

MIN_LENGTH = 8
"""Shorter values are not scrubbed: they would match ordinary words (a local Ollama's placeholder key is "ollama",
and the provider is called "ollama-local"), and are no secret worth the name."""

_known: dict[str, str] = {}  # value -> what it is, e.g. "DPM_OPENAI_API_KEY"


def remember(value: str | None, label: str) -> None:
    """From now on, ``value`` shows as ``[secret <label>]`` in anything dpm prints or writes."""
    if isinstance(value, str) and len(value) >= MIN_LENGTH and value not in _known:
        _known[value] = label


def scrub(text: str) -> str:
    """``text`` with every known secret value replaced."""
    # Longest first, so that a secret containing another is replaced whole.
    for value in sorted((v for v in _known if v in text), key=len, reverse=True):
        text = text.replace(value, f"[secret {_known[value]}]")
    return text


def found_in(text: str) -> list[str]:
    """The labels of the known secrets whose values ``text`` holds."""
    return sorted({label for value, label in _known.items() if value in text})


class ScrubbedStream(io.TextIOBase):
    """A text stream that scrubs what is written to it before passing it on.

    It has no ``buffer``, so that nothing (click included) can write around it in bytes.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    @property
    def encoding(self) -> str:  # type: ignore[override]  # io.TextIOBase declares it read-only
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # how click probes for a binary stream: this is not one
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._stream.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def writable(self) -> bool:
        return True


class ScrubbingFilter(logging.Filter):
    """Scrubs each log record's message once its arguments are filled in."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
