"""The options commands share, each group collected into one value: ``ConfigArgs`` (which config, rendered how)
and ``RegistryArgs`` (which registry, how patiently). A command declares a group once and receives the value."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import click

from dpm.commands.console import configure_logging, countdown
from dpm.config.project import Project, load_project
from dpm.errors import DpmError, UsageError
from dpm.pipeline import CompiledConfig, LiveRead, compile_config, read_ahead
from dpm.registry.client import DEFAULT_MAX_WAIT
from dpm.registry.targets import Session, choose_target, connect
from dpm.reports.diagnostics import TextReporter
from dpm.values import has_errors

DEFAULT_PATH = "providers.d"

Command = Callable[..., Any]


@contextlib.contextmanager
def kept_for_the_process() -> Iterator[None]:
    """For work that builds hundreds of thousands of small objects that then live until the command ends (a
    compiled config): the cycle collector pauses while they are built, and they are frozen out of its later passes.
    Either would cost a fifth of a large validate. A process-wide setting, so only a command sets it."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@dataclass(frozen=True)
class ConfigArgs:
    paths: tuple[str, ...]
    environment: str | None
    variables: tuple[str, ...]
    require_secrets: bool
    waivers: bool = True
    cache: bool = True

    def compile(self) -> CompiledConfig:
        with kept_for_the_process():
            return compile_config(
                list(self.paths) or [DEFAULT_PATH],
                environment=self.environment,
                variables=self.variables,
                require_secrets=self.require_secrets,
                stdin=sys.stdin.buffer,
                waivers=self.waivers,
                cache=self.cache,
            )

    def compile_valid(self) -> CompiledConfig | None:
        """The compiled config, its problems printed to stderr; None when it is invalid."""
        config = self.compile()
        if config.diagnostics:
            click.echo(TextReporter().report(config.diagnostics, config.summary), err=True)
        return config if config.valid else None

    def project(self) -> Project:
        """The project settings alone, for commands that read no config documents; invalid settings stop here."""
        return project_at(self.paths, self.environment, self.variables)


def project_at(paths: tuple[str, ...], environment: str | None = None, variables: tuple[str, ...] = ()) -> Project:
    project, problems = load_project(list(paths) or [DEFAULT_PATH], environment, variables)
    if has_errors(problems):
        click.echo(TextReporter().report(problems, "dpm.yaml"), err=True)
        raise DpmError("the project settings are invalid")
    return project


class Ready(NamedTuple):
    """A valid config, and the session whose registry is being read for it."""

    config: CompiledConfig
    session: Session
    live: LiveRead


@dataclass(frozen=True)
class RegistryArgs:
    registry: str | None
    max_wait: float
    verbose: bool

    @contextlib.contextmanager
    def compile_and_read(self, config: ConfigArgs) -> Iterator[Ready | None]:
        """The config compiled, and the registry read, for the commands that compare the two; None when the config
        is invalid, its problems printed.

        A registry at a URL is read while the config compiles (``pipeline.read_ahead``), which takes the time it
        takes to answer off every plan. The project settings come first, and invalid ones stop before any request;
        an invalid config is found while the read is under way, so it may have cost the read's requests (a login
        and an export), never a write. The embedded registry starts only for a valid config: starting it writes
        its database into the project.
        """
        project = config.project()
        with contextlib.ExitStack() as stack:

            def opened() -> tuple[Session, LiveRead]:
                session = stack.enter_context(self.session(project))
                return session, stack.enter_context(read_ahead(session.client))

            early = opened() if self._remote(project) else None
            compiled = config.compile_valid()
            yield None if compiled is None else Ready(compiled, *(early or opened()))

    def _remote(self, project: Project) -> bool:
        """Whether these options name a registry at a URL. A malformed choice counts as not: its error comes once
        the config has compiled, after the config's own problems, and masking the secrets the config read."""
        try:
            return choose_target(self.registry, project.registry, os.environ, project.root).url is not None
        except UsageError:
            return False

    @contextlib.contextmanager
    def session(self, project: Project, default: str | None = None) -> Iterator[Session]:
        """A session with the registry these options name (``default`` when they name none)."""
        configure_logging(self.verbose or "dynamic-providers" in os.environ.get("DEBUG", ""))
        choice = choose_target(self.registry or default, project.registry, os.environ, project.root)
        with connect(choice, os.environ, self.max_wait) as opened:
            opened.client.wait = countdown
            yield opened


def _collect(
    into: str, factory: Callable[..., Any], names: tuple[str, ...], options: list[Callable[[Command], Command]]
) -> Callable[[Command], Command]:
    """A decorator that adds ``options`` to a command and hands it their values as one ``factory(...)`` value."""

    def decorate(function: Command) -> Command:
        @functools.wraps(function, updated=())
        def collected(**kwargs: Any) -> Any:
            value = factory(*(kwargs.pop(name) for name in names))
            return function(**{into: value}, **kwargs)

        # The options already declared below this group stay, in order; this group's go above them.
        collected.__click_params__ = list(getattr(function, "__click_params__", []))  # type: ignore[attr-defined]
        command: Command = collected
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _config_args(  # noqa: PLR0917 - one parameter per option, in the order declared
    paths: tuple[str, ...],
    environment: str | None,
    variables: tuple[str, ...],
    require: bool,
    no_waivers: bool,
    no_cache: bool,
) -> Any:
    return ConfigArgs(tuple(paths), environment, tuple(variables), require, not no_waivers, not no_cache)


config_options = _collect(
    "config",
    _config_args,
    ("paths", "environment", "variables", "require_secrets", "no_waivers", "no_cache"),
    [
        click.argument("paths", nargs=-1, metavar="[PATH]..."),
        click.option("--env", "environment", metavar="NAME", help="Read vars from environments/NAME.yaml."),
        click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Set a var (repeatable)."),
        click.option(
            "--require-secrets", is_flag=True, help="Treat a secret missing from the environment as an error."
        ),
        click.option("--no-waivers", is_flag=True, help="Ignore policy waivers: show what they hide, as it is."),
        click.option(
            "--no-cache",
            is_flag=True,
            help="Compile every file afresh, without the compile cache in .dpm/cache/ (which keeps each file's "
            "checked documents, never a secret's value, and is used only while the file, the vars, the env values "
            "it reads and dpm's version are unchanged).",
        ),
    ],
)

registry_options = _collect(
    "registry",
    RegistryArgs,
    ("registry", "max_wait", "verbose"),
    [
        click.option(
            "--registry",
            metavar="URL",
            help="Registry API base URL (or 'embedded'); default DPM_REGISTRY_URL, then dpm.yaml, then embedded.",
        ),
        click.option(
            "--max-wait",
            type=click.FloatRange(min=0),
            default=DEFAULT_MAX_WAIT,
            show_default=True,
            help="Seconds to wait in all for the registry's rate-limit window.",
        ),
        click.option("-v", "--verbose", is_flag=True, help="Log every request (never its secrets)."),
    ],
)


def select_patterns(selected: tuple[str, ...]) -> list[str]:
    """The globs of ``--select`` (repeatable, each comma-separated); one that is only commas or blanks is refused."""
    patterns = [p.strip() for text in selected for p in text.split(",") if p.strip()]
    if selected and not patterns:
        raise UsageError("--select needs an identifier or a pattern", "for example: --select openai,team-*")
    return patterns
