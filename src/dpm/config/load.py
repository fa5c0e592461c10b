"""Loading: paths on the command line become YAML documents that remember their positions."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dpm.config.render import secret_reads
from dpm.config.yamlio import Document, load_documents, read_text
from dpm.errors import UsageError
from dpm.values import Diagnostic, Mark

PROJECT_FILES = frozenset({"dpm.yaml", "dpm.yml"})
SUFFIXES = (".yaml", ".yml")
STDIN = "-"


@dataclass
class Loaded:
    files: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    secret_names: set[str] = field(default_factory=set)  # the DPM_* names any file reads as a secret


def display_name(path: Path) -> str:
    """A path as the user would write it: relative to the working directory when it lies below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path.resolve()) if relative.startswith("..") else relative


def config_files(paths: Sequence[str]) -> list[Path]:
    """The files that ``paths`` name: each directory's ``*.yaml`` and ``*.yml`` in sorted order, then single files."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if _is_config_file(p))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{text}: no such file or directory")
    return found


def layout_files(paths: Sequence[str]) -> list[Path]:
    """The files ``dpm fmt`` lays out: like ``config_files``, but a directory's ``dpm.yaml`` too."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        else:
            found += config_files([text])
    return found


def _is_config_file(path: Path) -> bool:
    return path.is_file() and path.suffix in SUFFIXES and path.name not in PROJECT_FILES


def load(paths: Sequence[str], stdin: BinaryIO | None = None) -> Loaded:
    """Read every config file that ``paths`` name (``-`` is standard input) into documents."""
    sources, problems = read_sources(paths, stdin)
    loaded = Loaded(diagnostics=problems)
    for name, raw in sources:
        _load_one(loaded, name, raw)
    return loaded


def read_sources(
    paths: Sequence[str], stdin: BinaryIO | None = None
) -> tuple[list[tuple[str, bytes]], list[Diagnostic]]:
    """The name and bytes of every config file that ``paths`` name (``-`` is standard input)."""
    problems: list[Diagnostic] = []
    sources: list[tuple[str, bytes]] = []
    for text in paths:
        if text == STDIN:
            if stdin is None:
                raise UsageError("'-' names standard input, but none is available")
            sources.append(("<stdin>", stdin.read()))
        else:
            sources += [(display_name(p), p.read_bytes()) for p in config_files([text])]
            if Path(text).is_dir() and not any(_is_config_file(p) for p in Path(text).iterdir()):
                problems.append(Diagnostic.error("no-files", f"{text} holds no *.yaml or *.yml files", None))
    return sources, problems


def _load_one(loaded: Loaded, name: str, raw: bytes) -> None:
    loaded.files.append(name)
    text, problems = read_text(name, raw)
    loaded.diagnostics += problems
    if text is None:
        return
    loaded.secret_names |= secret_reads(text)
    documents, problems = documents_of(name, text)
    loaded.documents += documents
    loaded.diagnostics += problems


def documents_of(name: str, text: str, *, positions: bool = True) -> tuple[list[Document], list[Diagnostic]]:
    """The documents of a config file's ``text``; a file that holds none is a problem. ``positions`` as for
    ``load_documents``."""
    documents, problems = load_documents(name, text, positions=positions)
    if not documents and not problems:
        hint = "add a document (kind: Provider or kind: ProviderTemplate) or delete the file"
        problems = [Diagnostic.error("empty-file", "file holds no documents", Mark(name, 1, 1), hint=hint)]
    return documents, problems


def load_file(path: Path) -> tuple[Document | None, list[Diagnostic]]:
    """A single-document file such as ``dpm.yaml``; None when it is empty or unreadable."""
    name = display_name(path)
    text, problems = read_text(name, path.read_bytes())
    if text is None:
        return None, problems
    documents, problems = load_documents(name, text)
    if len(documents) > 1:
        extra = documents[1]
        problems.append(Diagnostic.error("multiple-documents", "expected a single document", extra.mark(())))
    return (documents[0] if documents else None), problems


def find_upwards(start: Path, names: Iterable[str], levels: int) -> Path | None:
    """The first of ``names`` found in ``start`` or its parents, looking at most ``levels`` directories."""
    wanted = list(names)
    for directory in [start, *start.parents][:levels]:
        for name in wanted:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None
