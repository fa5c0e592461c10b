"""The project: ``dpm.yaml``, the chosen environment, and the variables that expressions see.

``dpm.yaml`` is found in the directory of the first path given, or in its parent (``dpm.yaml`` beside
``providers.d/``); ``environments/`` lies
beside it. Variables come from ``dpm.yaml``, then ``environments/<env>.yaml``, then ``--var``, each overriding
the one before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpm.config.load import PROJECT_FILES, find_upwards, load_file
from dpm.config.validate import check_schema
from dpm.config.yamlio import scalar
from dpm.errors import UsageError
from dpm.resources import models
from dpm.resources.rules import did_you_mean
from dpm.values import Diagnostic

ENVIRONMENTS_DIR = "environments"


@dataclass
class Project:
    root: Path | None = None
    settings: models.ProjectConfig = field(default_factory=models.ProjectConfig)
    environment: str | None = None
    registry: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)


def parse_var(text: str) -> tuple[str, Any]:
    """``--var name=value``; the value is read as a YAML scalar, so ``ctx=8192`` gives an int."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--var {text!r} is not name=value", "for example: --var region=eu-west-1")
    value = scalar(raw) if raw.strip() else raw
    if isinstance(value, dict | list):
        value = raw
    return name.strip(), value


def load_project(
    paths: Sequence[str], environment: str | None, variables: Sequence[str]
) -> tuple[Project, list[Diagnostic]]:
    start = _start_directory(paths)
    # Only the path's own directory and its parent: a stray dpm.yaml higher up must not change what a file means.
    config_path = find_upwards(start, sorted(PROJECT_FILES), levels=2)
    project = Project(root=config_path.parent if config_path else None, environment=environment)
    problems: list[Diagnostic] = []
    if config_path is not None:
        settings, found = _read(config_path, models.ProjectConfig)
        problems += found
        if isinstance(settings, models.ProjectConfig):
            project.settings = settings
    project.registry = project.settings.registry
    project.vars = dict(project.settings.vars)
    if environment is not None:
        problems += _apply_environment(project, environment)
    for text in variables:
        name, value = parse_var(text)
        project.vars[name] = value
    return project, problems


def _start_directory(paths: Sequence[str]) -> Path:
    first = next((Path(p) for p in paths if p != "-"), Path.cwd())
    return (first if first.is_dir() else first.parent).resolve()


def _apply_environment(project: Project, name: str) -> list[Diagnostic]:
    directory = (project.root or Path.cwd()) / ENVIRONMENTS_DIR
    if not name.isprintable() or Path(name).name != name or name in {"", ".", ".."} or "\\" in name:
        # --env picks a file in environments/, never a path: ``--env ../dpm`` must not read another file as one
        raise UsageError(f"--env {name!r} is not an environment name", "name a file in environments/, e.g. --env prod")
    path = next(
        (directory / f"{name}{suffix}" for suffix in (".yaml", ".yml") if (directory / f"{name}{suffix}").is_file()),
        None,
    )
    if path is None:
        known = sorted(p.stem for p in directory.glob("*.y*ml")) if directory.is_dir() else []
        hint = did_you_mean(name, known) or (
            f"environments: {', '.join(known)}" if known else f"create {directory}/{name}.yaml"
        )
        raise UsageError(f"--env {name}: no environment file {directory / name}.yaml", hint)
    settings, problems = _read(path, models.EnvironmentConfig)
    if isinstance(settings, models.EnvironmentConfig):
        project.vars.update(settings.vars)
        project.registry = settings.registry or project.registry
    return problems


def _read(path: Path, model: type[models.Strict]) -> tuple[models.Strict | None, list[Diagnostic]]:
    document, problems = load_file(path)
    if document is None:
        return (None if problems else model()), problems
    value, found = check_schema(model, document)
    return (value if isinstance(value, model) else None), problems + found
