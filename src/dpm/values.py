"""The values every stage passes along: where a problem was written, the problem itself, a secret, and ownership.

They live here, apart from the stages that make them, so that a stage needs only the values it handles: the
engine reads ``Secret`` without importing the Jinja sandbox that creates it, and a reporter reads ``Diagnostic``
without importing the validator.

Every stage reports problems as ``Diagnostic`` values instead of raising, so one run shows all of them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Path = tuple[str | int, ...]
Severity = Literal["error", "warning", "notice"]  # a notice informs; it never fails a run


@dataclass(frozen=True, order=True)
class Mark:
    file: str
    line: int
    column: int


def format_path(path: Path) -> str:
    """``("models", 1, "contextLength")`` as ``models[1].contextLength``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    file: str | None
    line: int | None
    column: int | None
    path: str
    suggestion: str | None = None
    policy: str | None = None  # the policy that found it (code "policy")
    waived: str | None = None  # the reason of the waiver that lets it pass, shown beside it

    @classmethod
    def at(  # noqa: PLR0917 - the error/warning shorthands below pass these through
        cls, severity: Severity, code: str, message: str, mark: Mark | None, path: Path = (), hint: str | None = None
    ) -> Diagnostic:
        return cls(
            severity,
            code,
            message,
            mark.file if mark else None,
            mark.line if mark else None,
            mark.column if mark else None,
            format_path(path),
            hint,
        )

    @classmethod
    def error(cls, code: str, message: str, mark: Mark | None, path: Path = (), hint: str | None = None) -> Diagnostic:
        return cls.at("error", code, message, mark, path, hint)

    @classmethod
    def warning(
        cls, code: str, message: str, mark: Mark | None, path: Path = (), hint: str | None = None
    ) -> Diagnostic:
        return cls.at("warning", code, message, mark, path, hint)

    @classmethod
    def notice(cls, code: str, message: str, mark: Mark | None, path: Path = (), hint: str | None = None) -> Diagnostic:
        return cls.at("notice", code, message, mark, path, hint)

    @property
    def location(self) -> str:
        if self.file is None:
            return "dpm"
        return f"{self.file}:{self.line}:{self.column}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file or "", self.line or 0, self.column or 0, self.message)


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


class Secret:
    """A rendered value that came from ``secret.*``. Its value is reachable only through ``reveal()``.

    ``source`` is the expression as written in the config (``${{ secret.DPM_KEY }}``): no secret itself, it is
    what a saved plan records so that apply can resolve the value from its own environment.
    """

    __slots__ = ("_value", "names", "source")

    def __init__(self, names: tuple[str, ...], value: str | None, source: str = "") -> None:
        self.names = names
        self._value = value
        self.source = source

    @property
    def known(self) -> bool:
        return self._value is not None

    def reveal(self) -> str | None:
        return self._value

    def masked(self) -> str:
        # Nothing derived from the value: even a short unsalted hash in a CI log lets anyone test guesses of a
        # weak secret. Whether it changed is the plan's to say, against the registry's salted fingerprint.
        label = ", ".join(self.names)
        return f"[secret {label}: not set]" if self._value is None else f"[secret {label}]"

    def __repr__(self) -> str:
        return f"Secret({self.masked()})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self.names, self._value) == (other.names, other._value)

    def __hash__(self) -> int:
        return hash(self.names)


@dataclass(frozen=True)
class Ownership:
    """Which live providers dpm may touch."""

    scope: Sequence[str] = ("*",)
    prune: bool = False

    def owns(self, provider: Mapping[str, Any]) -> bool:
        identifier = str(provider.get("identifier"))
        return not provider.get("isSystem") and any(fnmatch.fnmatchcase(identifier, p) for p in self.scope)


def rebuild(value: Any, leaf: Callable[[Any], Any], *, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``value`` with every leaf replaced by ``leaf(it)``: dicts and lists are copied around the new leaves.

    Anything that is not a dict or a list is a leaf, and so is a container that ``is_leaf`` claims (a secret
    marker, say). Mapping keys are kept as they are.
    """
    if is_leaf is not None and is_leaf(value):
        return leaf(value)
    if isinstance(value, Mapping):
        return {k: rebuild(v, leaf, is_leaf=is_leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [rebuild(v, leaf, is_leaf=is_leaf) for v in value]
    return leaf(value)


def leaves(value: Any, path: Path = (), *, is_leaf: Callable[[Any], bool] | None = None) -> Iterator[tuple[Path, Any]]:
    """Every leaf of ``value`` (as ``rebuild`` defines them) with its path."""
    if is_leaf is not None and is_leaf(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield from leaves(child, (*path, key), is_leaf=is_leaf)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, (*path, index), is_leaf=is_leaf)
    else:
        yield path, value
