"""Checks of a JSON request body that run before the framework parses it: nesting depth, object size, text.

- **Depth.** Python's JSON parser recurses once per nesting level, so a body nested thousands of levels deep ends
  in a ``RecursionError`` inside the framework. The depth is measured here on the raw bytes instead, without
  building anything: escapes are dropped, then everything but quotes and brackets, then the strings, and what is
  left is a bracket sequence whose running sum is the depth. Every step is a C-level pass over at most ``_CHUNK``
  bytes, so a worker thread running it hands the interpreter lock back to the event loop between chunks, and a
  body that is too deep is refused at its first chunk that shows it.
- **Keys.** The framework validates a body into one error per unknown key, and builds all of them on the event
  loop before any handler runs: an object of 200,000 unknown keys took seconds. An object may hold at most
  ``max_keys`` keys, counted on the same bracket sequence with the colons kept, when the body has more colons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import accumulate

from dpm_server.errors import ApiError, InvalidInput

_CHUNK = 1 << 18
_BACKSLASH = 0x5C
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}:')))
_TOKENS = re.compile(rb"[\[\]{}]|:+")
_DELTA = tuple(1 if byte in b"[{" else -1 if byte in b"]}" else 0 for byte in range(256))
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def check(body: bytes, max_depth: int, max_keys: int) -> ApiError | None:
    """The error for a body that nests deeper than ``max_depth``, has an object of more than ``max_keys`` keys,
    or is not UTF-8 text; None when it is fine.

    A body that is not JSON at all passes: the route answers that with the usual message.
    """
    if nesting_exceeds(body, max_depth):
        return InvalidInput(
            f"Request body nests deeper than {max_depth} levels of arrays and objects",
            details={"maxDepth": max_depth},
        )
    if keys_exceed(body, max_keys):
        return InvalidInput(f"Request body has an object with more than {max_keys} keys", details={"maxKeys": max_keys})
    return _unreadable(body)


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """True when some array or object in ``body`` sits more than ``limit`` levels deep (``{}`` is one level)."""
    if _opens(body) <= limit:
        return False
    depth = 0
    for structure in _structure(body):
        opens = _opens(structure)
        if depth + opens > limit and max(accumulate(map(_DELTA.__getitem__, structure), initial=depth)) > limit:
            return True
        depth += opens - structure.count(b"]") - structure.count(b"}")
    return False


def keys_exceed(body: bytes, limit: int) -> bool:
    """True when some object in ``body`` has more than ``limit`` keys.

    A plain loop over brackets and runs of colons: it hands the interpreter lock back at the usual interval, where
    the C parser would hold it until a whole object is read.
    """
    if body.count(b":") <= limit:  # every key is followed by a colon
        return False
    keys: list[int] = []  # per open container: the keys of an object so far, or -1 for an array
    for structure in _structure(body):
        for token in _TOKENS.findall(structure):
            if token == b"{":
                keys.append(0)
            elif token == b"[":
                keys.append(-1)
            elif token in (b"}", b"]"):
                if keys:
                    keys.pop()
            elif keys and keys[-1] >= 0:
                keys[-1] += len(token)
                if keys[-1] > limit:
                    return True
    return False


def _opens(data: bytes) -> int:
    return data.count(b"[") + data.count(b"{")


def _structure(body: bytes) -> Iterator[bytes]:
    """Chunk by chunk, the brackets and colons of ``body`` that are outside strings, in order."""
    in_string = False
    for piece in _pieces(body):
        parts = _quotes_and_structure(piece).split(b'"')
        yield b"".join(parts[1::2] if in_string else parts[::2])  # text between a pair of quotes is a string
        in_string ^= len(parts) % 2 == 0  # an odd number of quotes: the next chunk starts inside a string


def _quotes_and_structure(piece: bytes) -> bytes:
    # An escaped backslash goes first, so that in \\" the quote still ends the string.
    return piece.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)


def _pieces(body: bytes) -> Iterator[bytes]:
    """``body`` in chunks that never end in a backslash, so each escape sequence lies within one chunk."""
    start = 0
    while start < len(body):
        end = min(start + _CHUNK, len(body))
        while end < len(body) and body[end - 1] == _BACKSLASH:
            end += 1
        yield body[start:end]
        start = end


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
