"""Checks of a JSON request body that run before anything parses it: nesting depth and readable text.

Python's JSON parser recurses once per nesting level, so a body nested thousands of levels deep ends in a
``RecursionError`` inside the framework. The depth is measured here on the raw bytes instead, without building
anything: escapes are dropped, then everything but quotes and brackets, then the strings, and what is left is a
bracket sequence whose running sum is the depth. Every step is a C-level pass over at most ``_CHUNK`` bytes at a
time, so a worker thread running it hands the interpreter lock back to the event loop between chunks.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from dpm_server.errors import ApiError, InvalidInput

_CHUNK = 1 << 18
_BACKSLASH = 0x5C
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_DELTA = tuple(1 if byte in b"[{" else -1 if byte in b"]}" else 0 for byte in range(256))
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def check(body: bytes, max_depth: int) -> ApiError | None:
    """The error for a body that nests deeper than ``max_depth`` or is not UTF-8 text; None when it is fine.

    A body that is not JSON at all passes: the route answers that with the usual message.
    """
    if nesting_exceeds(body, max_depth):
        return InvalidInput(
            f"Request body nests deeper than {max_depth} levels of arrays and objects",
            details={"maxDepth": max_depth},
        )
    return _unreadable(body)


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """True when some array or object in ``body`` sits more than ``limit`` levels deep (``{}`` is one level)."""
    if _opens(body) <= limit:
        return False
    brackets = _structure(body)
    if _opens(brackets) <= limit:
        return False
    depth = 0
    for start in range(0, len(brackets), _CHUNK):
        chunk = brackets[start : start + _CHUNK]
        if max(accumulate(map(_DELTA.__getitem__, chunk), initial=depth)) > limit:
            return True
        depth += _opens(chunk) - chunk.count(b"]") - chunk.count(b"}")
    return False


def _opens(data: bytes) -> int:
    return data.count(b"[") + data.count(b"{")


def _structure(body: bytes) -> bytes:
    """The brackets of ``body`` that are outside strings, in order."""
    kept = b"".join(_quotes_and_brackets(piece) for piece in _pieces(body))
    return b"".join(kept.split(b'"')[::2])  # text between a pair of quotes is a string


def _quotes_and_brackets(piece: bytes) -> bytes:
    # An escaped backslash goes first, so that in \\" the quote still ends the string.
    return piece.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)


def _pieces(body: bytes) -> list[bytes]:
    """``body`` in chunks that never end in a backslash, so each escape sequence lies within one chunk."""
    pieces: list[bytes] = []
    start = 0
    while start < len(body):
        end = min(start + _CHUNK, len(body))
        while end < len(body) and body[end - 1] == _BACKSLASH:
            end += 1
        pieces.append(body[start:end])
        start = end
    return pieces


def _unreadable(body: bytes) -> ApiError | None:
    """Bodies that would parse as JSON yet break later: bytes that are not UTF-8, or unpaired surrogates."""
    try:
        body.decode("utf-8")
        if _SURROGATE_ESCAPE.search(body):
            json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        return InvalidInput("Request body must be UTF-8 JSON without unpaired surrogates")
    except ValueError:
        return None  # not JSON at all: the route answers that, with the usual message
    return None
