"""Each config file on its own: read, rendered and validated, or taken from the compile cache (``dpm.config.cache``).

A file's documents leave this stage with only the positions that compiling needs (each document's start, each
model's identifier, each secret), so that a large config holds one file's position maps at a time; a later problem
elsewhere in a document reads its file's text again to find it (``Document.mark``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from dpm import fastjson
from dpm.config import cache as store
from dpm.config.load import documents_of
from dpm.config.render import Renderer, secret_reads
from dpm.config.validate import Checked, check_documents
from dpm.config.yamlio import Document, read_text, rereader
from dpm.errors import RenderError
from dpm.resources import models
from dpm.values import Diagnostic, Path, Secret

_KINDS: dict[str, type[BaseModel]] = {
    kind.__name__: kind
    for kind in (models.ProviderDocument, models.TemplatedProviderDocument, models.ProviderTemplateDocument)
}
_KIND_NAMES = {
    kind: "ProviderTemplate" if kind is models.ProviderTemplateDocument else "Provider" for kind in _KINDS.values()
}
# A YAML tag can build values that JSON would not give back as they were (a date, a set, ordered pairs): a file
# that may hold one, a '!' where a tag could start, is compiled every time.
_MAY_HOLD_TAG = re.compile(r"(?:^|[\s\[{,:-])!|%TAG", re.MULTILINE)


@dataclass
class Prepared:
    files: list[str] = field(default_factory=list)
    documents: int = 0
    checked: list[Checked] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class _Source:
    name: str
    raw: bytes
    text: str | None
    problems: list[Diagnostic]


def secret_names(sources: Sequence[tuple[str, bytes]]) -> tuple[list[_Source], frozenset[str]]:
    """Each file decoded, and the ``DPM_*`` names that any of them reads as a secret (a secret everywhere)."""
    decoded = [_Source(name, raw, *read_text(name, raw)) for name, raw in sources]
    names: set[str] = set()
    for source in decoded:
        if source.text is not None:
            names |= secret_reads(source.text)
    return decoded, frozenset(names)


def prepare(
    sources: Sequence[_Source],
    renderer: Renderer,
    cache: store.CompileCache,
    *,
    variables: Mapping[str, Any],
    environment: str | None,
) -> Prepared:
    """Every file's documents rendered and checked, in order, each from the cache when an entry still holds."""
    prepared = Prepared()
    run = store.run_key(variables, environment) if cache.enabled else b""
    for source in sources:
        prepared.files.append(source.name)
        prepared.diagnostics += source.problems
        if source.text is None:
            continue
        key = store.entry_key(run, source.name, source.raw) if cache.enabled else ""
        entry = _from_entry(cache.get(source.name, key), source, renderer) if cache.enabled else None
        if entry is None:
            entry = _compile_file(source.name, source.text, renderer)
            if cache.enabled and entry.cacheable and not _may_hold_tag(source.text):
                text = _entry_text(entry)
                if text is not None:
                    cache.put(source.name, key, text)
        prepared.documents += entry.documents
        prepared.checked += entry.checked
        prepared.diagnostics += entry.problems
    cache.save()
    return prepared


def _may_hold_tag(text: str) -> bool:
    return "!" in text and _MAY_HOLD_TAG.search(text) is not None


@dataclass
class _FileResult:
    documents: int
    checked: list[Checked]
    problems: list[Diagnostic]
    env: dict[str, str | None]
    cacheable: bool


def _compile_file(name: str, text: str, renderer: Renderer) -> _FileResult:
    # A templated provider's problems point anywhere in its few lines, and compiling finds more: all positions.
    documents, problems = documents_of(name, text, positions="fromTemplate" in text)
    renderer.env_reads()
    rendered = []
    for document in documents:
        result, found = renderer.render(document)
        rendered.append(result)
        problems += found
    env = {n: store.env_state(n, renderer.environ, renderer.secret_names) for n in sorted(renderer.env_reads())}
    # What failed to render can depend on a secret's value (an error message may even show it): never cached.
    cacheable = not any(p.code == "expression" for p in problems)
    checked, found = check_documents(rendered)
    # A value whose expression failed is still the raw expression; its schema error would only repeat the first.
    failed = {(p.file, p.line, p.column) for p in problems if p.code == "expression"}
    problems += [p for p in found if (p.file, p.line, p.column) not in failed]
    for item in checked:
        if "fromTemplate" not in item.data and item.document.reread is None:  # all positions were read
            item.document.keep_positions(_kept_paths(item.document), text)
    return _FileResult(len(documents), checked, problems, env, cacheable)


def _kept_paths(document: Document) -> list[Path]:
    """The positions compiling needs: the document's own, each written model's identifier's, each secret's."""
    paths: list[Path] = [(), *document.secrets]
    written = document.data.get("models") if isinstance(document.data, dict) else None
    if isinstance(written, list):
        paths += [("models", index, "identifier") for index in range(len(written))]
    return paths


# ── entries ──────────────────────────────────────────────────────────────────────────────────────────────────────


def _entry_text(result: _FileResult) -> str | None:
    """``result`` as an entry, or None when it holds what an entry cannot: a value JSON would not give back, or a
    secret's value anywhere (there should be none: a ``Secret`` is written as null and its expression kept)."""
    checked = []
    revealed = set()
    for item in result.checked:
        document = item.document
        complete = document.reread is None
        secrets = []
        for path, secret in document.secrets.items():
            secrets.append([list(path), list(secret.names), secret.source])
            value = secret.reveal()
            if value:
                revealed.add(value)
        checked.append(
            {
                "index": document.index,
                "kind": item.kind.__name__,
                "value": item.data,
                "secrets": secrets,
                "marks": [[*path, *at] for path, at in document.marks.items()],
                "key_marks": [[*path, *at] for path, at in document.key_marks.items()] if complete else None,
            }
        )
    entry = {
        "env": result.env,
        "documents": result.documents,
        "problems": [dataclasses.astuple(problem) for problem in result.problems],
        "checked": checked,
    }
    try:
        text = fastjson.dumps(entry, default=_secret_as_null)
    except (TypeError, ValueError):
        return None
    return None if any(value in text for value in revealed) else text


def _secret_as_null(value: Any) -> None:
    if isinstance(value, Secret):
        return None
    raise TypeError(f"{type(value).__name__} is no JSON value")


def _from_entry(entry: Any, source: _Source, renderer: Renderer) -> _FileResult | None:
    """The file's result from its cache entry, or None when there is none that still holds."""
    if not isinstance(entry, dict):
        return None
    try:
        env = entry["env"]
        if any(store.env_state(name, renderer.environ, renderer.secret_names) != state for name, state in env.items()):
            return None
        checked = [_checked(item, source, renderer) for item in entry["checked"]]
        problems = [Diagnostic(*row) for row in entry["problems"]]
        return _FileResult(int(entry["documents"]), checked, problems, env, cacheable=True)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RenderError):
        return None  # an entry of another shape, or a secret that no longer renders: compiled afresh


def _checked(item: dict[str, Any], source: _Source, renderer: Renderer) -> Checked:
    """A document from its entry. Its ``data`` is its checked value with ``kind`` and its secrets: what later
    stages read of it (``kind``, ``fromTemplate``, the models' identifiers) reads the same as the data as
    written, and the entry need not keep both."""
    assert source.text is not None
    kind = _KINDS[item["kind"]]
    value = item["value"]
    copies: dict[Path, Any] = {(): {"kind": _KIND_NAMES[kind], **value}}  # ``value`` itself stays as checked
    secrets: dict[Path, Any] = {}
    for written, names, expression in item["secrets"]:
        secret = renderer.render_string(expression)  # from this run's environment
        if not isinstance(secret, Secret) or list(secret.names) != names:
            raise ValueError("the secret's expression no longer gives that secret")
        path = tuple(written)
        for end in range(1, len(path)):
            if path[:end] not in copies:
                parent = copies[path[: end - 1]]
                copies[path[:end]] = parent[path[end - 1]] = _shallow(parent[path[end - 1]])
        copies[path[:-1]][path[-1]] = secret
        secrets[path] = secret
    renderer.env_reads()
    marks = {tuple(row[:-2]): (row[-2], row[-1]) for row in item["marks"]}
    complete = item["key_marks"] is not None
    key_marks = {tuple(row[:-2]): (row[-2], row[-1]) for row in item["key_marks"]} if complete else {}
    index = int(item["index"])
    document = Document(source.name, index, copies[()], marks, key_marks, [], secrets)
    if not complete:
        document.reread = rereader(source.name, index, source.text)
    return Checked(document, kind, value)


def _shallow(value: Any) -> Any:
    if not isinstance(value, dict | list):
        raise TypeError("a secret's path runs through a value that holds none")
    return value.copy()
