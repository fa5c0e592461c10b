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
import re
from typing import Any, TextIO

MIN_LENGTH = 8
"""Shorter values are not scrubbed: they would match ordinary words (a local Ollama's placeholder key is "ollama",
and the provider is called "ollama-local"), and are no secret worth the name."""

_known: dict[str, str] = {}  # value -> what it is, e.g. "DPM_OPENAI_API_KEY"
# Read as a snapshot (``tuple(_known)``, one step under the GIL): a registry read on a thread learns its tokens while
# the main thread writes.


def remember(value: str | None, label: str) -> None:
    """From now on, ``value`` shows as ``[secret <label>]`` in anything dpm prints or writes."""
    if isinstance(value, str) and len(value) >= MIN_LENGTH and value not in _known:
        _known[value] = label


SEARCH_LIMIT = 256
"""Up to this many known values, each is searched for on its own (a fast C search per value); beyond it, one
pattern of them all (``_patterns``) once searching value by value has cost more than building it would. Measured
over 24 MB of plan output: about 3-6 ms per value searched on its own, 1.4 s for the pattern whatever the number of
values."""

PATTERN_AFTER = 20_000
"""Beyond ``SEARCH_LIMIT`` values, how many characters are searched value by value before the pattern is built.
Building it costs about as much as searching 25,000-50,000 characters once per value (measured with 1,000 values:
0.05 s to compile, 1-2 ms per 1,000 characters searched), whatever the number of values, so a run that writes
little (a plan with no changes, with a key per provider) never pays for it."""

_searched = 0  # characters searched value by value since there were more than SEARCH_LIMIT values


def _one_by_one(text: str) -> bool:
    global _searched  # noqa: PLW0603 - counts the work of the one process-wide set of known values
    if len(_known) <= SEARCH_LIMIT:
        return True
    if _searched <= PATTERN_AFTER:  # counts the text at hand too: a long one goes to the pattern at once
        _searched += len(text)
    return _searched <= PATTERN_AFTER


def scrub(text: str) -> str:
    """``text`` with every known secret value replaced."""
    if _one_by_one(text):
        # Longest first, so that a secret containing another is replaced whole.
        for value in sorted((v for v in tuple(_known) if v in text), key=len, reverse=True):
            text = text.replace(value, f"[secret {_known[value]}]")
        return text
    patterns = _patterns()
    return patterns[0].sub(lambda match: f"[secret {_known[match[0]]}]", text) if patterns is not None else text


def found_in(text: str) -> list[str]:
    """The labels of the known secrets whose values ``text`` holds."""
    if _one_by_one(text):
        return sorted({label for value, label in tuple(_known.items()) if value in text})
    patterns = _patterns()
    # The lookahead finds a value at every place it starts, also one that overlaps a value found before it.
    return sorted({_known[match[1]] for match in patterns[1].finditer(text)}) if patterns is not None else []


_compiled: tuple[tuple[str, ...], tuple[re.Pattern[str], re.Pattern[str]] | None] = ((), None)


def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """One pattern for every known value (and the same as a lookahead, for ``found_in``), compiled again only when
    a value was added.

    Searching the text once per value costs (values x text): with a key per provider, 5,000 keys over the output
    of a plan of 5,000 providers took 25 s. The pattern is the values' trie, so the regex engine follows one branch
    per character instead of trying every value at every position; at a branch a longer value is tried before a
    shorter one that it extends, so a secret containing another is replaced whole.
    """
    global _compiled  # noqa: PLW0603 - the cache of the one process-wide set of known values
    values = tuple(_known)
    if values != _compiled[0]:
        regex = _trie_regex(values)
        _compiled = (values, (re.compile(regex), re.compile(f"(?=({regex}))")) if values else None)
    return _compiled[1]


def _trie_regex(values: tuple[str, ...]) -> str:
    trie: dict[str, Any] = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}  # a value ends here
    return _branches(trie)


def _branches(node: dict[str, Any]) -> str:
    # Iterative over each chain of single children, so that a long value does not nest one group per character.
    ends = "" in node
    children = sorted((char, child) for char, child in node.items() if char)
    if not children:
        return ""
    parts = []
    for first, below in children:
        chain, node_below = re.escape(first), below
        while len(node_below) == 1 and "" not in node_below:
            ((char, node_below),) = node_below.items()
            chain += re.escape(char)
        parts.append(chain + _branches(node_below))
    body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
    return f"(?:{body})?" if ends else body


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
