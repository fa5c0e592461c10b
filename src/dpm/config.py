"""The front half of the pipeline, wired in one place: files ─load─▶ documents ─render─▶ ─validate─▶ desired state."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from dpm.compile import DesiredState, compile_state
from dpm.diagnostics import Diagnostic, has_errors
from dpm.load import load
from dpm.project import Project, load_project
from dpm.render import Renderer
from dpm.validate import check_documents


@dataclass
class CompiledConfig:
    project: Project
    state: DesiredState
    files: list[str] = field(default_factory=list)
    documents: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def summary(self) -> str:
        return f"{len(self.files)} file(s), {self.documents} document(s)"


def compile_config(
    paths: Sequence[str],
    *,
    environment: str | None = None,
    variables: Sequence[str] = (),
    require_secrets: bool = False,
    environ: Mapping[str, str] | None = None,
    stdin: BinaryIO | None = None,
) -> CompiledConfig:
    """Load, render, validate and compile the config that ``paths`` name. Needs no network."""
    project, problems = load_project(paths, environment, variables)
    with paused_gc():
        return _compile(
            paths, project=project, problems=problems, require_secrets=require_secrets, environ=environ, stdin=stdin
        )


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Compiling builds hundreds of thousands of small objects that all stay alive; cycle collection passes over
    them would only cost time (a fifth of a large validate), so it pauses, and they are exempted once built."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _compile(
    paths: Sequence[str],
    *,
    project: Project,
    problems: list[Diagnostic],
    require_secrets: bool,
    environ: Mapping[str, str] | None,
    stdin: BinaryIO | None,
) -> CompiledConfig:
    loaded = load(paths, stdin)
    problems += loaded.diagnostics
    renderer = Renderer(project.vars, os.environ if environ is None else environ)
    rendered = []
    for document in loaded.documents:
        result, found = renderer.render(document)
        rendered.append(result)
        problems += found
    checked, found = check_documents(rendered)
    # A value whose expression failed is still the raw expression; its schema error would only repeat the first.
    failed = {(p.file, p.line, p.column) for p in problems if p.code == "expression"}
    problems += [p for p in found if (p.file, p.line, p.column) not in failed]
    state, found = compile_state(checked, require_secrets=require_secrets)
    problems += found
    problems.sort(key=Diagnostic.sort_key)
    return CompiledConfig(project, state, loaded.files, len(loaded.documents), problems)
