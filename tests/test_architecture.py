"""The package boundaries, read from the import graph of ``src/`` (every import, at any depth in a module).

- The server reaches the client only through the shared vocabulary, ``dpm.resources``.
- The client reaches the server only through its light package (command summaries), the embedded-registry entry
  point, and the lazy ``serve``/``users`` commands (named by string, imported when they run).
- Each third-party library is wrapped in one place, so a change of library is a change of one module or package.
- The layers point one way: the offline config language needs no engine, registry, report or command; the engine
  needs no command or report; reports and the pipeline print nothing and ask nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src"

SERVER_MAY_IMPORT_FROM_DPM = ("dpm.resources",)
CLIENT_MAY_IMPORT_FROM_SERVER = {"dpm_server", "dpm_server.embedded"}
WRAPPED = {
    "httpx": "dpm.registry.client",
    "jinja2": "dpm.config.render",
    "deepdiff": "dpm.engine.fielddiff",
    "yaml": "dpm.config.yamlio",
    "ruamel": "dpm.config.layout",
    "click": "dpm.commands",
    "jsonschema": "dpm.policy.rules",
    "referencing": "dpm.policy.rules",  # jsonschema's reference resolver, whose error a broken $ref raises
    "uvicorn": None,  # the client never starts a server itself: dpm_server.embedded does
    "prometheus_client": "dpm_server.metrics",  # a server library: its home is checked across both packages
}
# A library both packages use has a home in each: the server may import nothing of the client but its vocabulary.
WRAPPED_IN_EACH = {
    "orjson": {"dpm": "dpm.fastjson", "dpm_server": "dpm_server.fastjson"},  # JSON in bulk: the export, the cache
}
# (importing package, packages it must not import)
LAYERS = [
    ("dpm.config", ("dpm.policy", "dpm.engine", "dpm.registry", "dpm.reports", "dpm.commands", "dpm.pipeline")),
    ("dpm.engine", ("dpm.commands", "dpm.reports", "dpm.pipeline", "dpm.policy")),
    ("dpm.policy", ("dpm.commands", "dpm.reports", "dpm.pipeline", "dpm.registry")),
    ("dpm.registry", ("dpm.config", "dpm.engine", "dpm.commands", "dpm.reports", "dpm.pipeline")),
    ("dpm.reports", ("dpm.commands", "dpm.registry")),
    ("dpm.pipeline", ("dpm.commands", "dpm.reports")),
    ("dpm.schemas", ("dpm.commands", "dpm.registry", "dpm.pipeline")),
    ("dpm.scaffold", ("dpm.commands", "dpm.registry", "dpm.pipeline")),
    ("dpm.resources", ("dpm.config", "dpm.engine", "dpm.registry", "dpm.reports", "dpm.commands", "dpm.pipeline")),
    ("dpm.values", ("dpm.config", "dpm.engine", "dpm.registry", "dpm.reports", "dpm.commands", "dpm.pipeline")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, absolute, including imports inside functions and ``TYPE_CHECKING``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def graph(package: str) -> dict[str, set[str]]:
    return {module_name(p): set(imports(p)) for p in sorted((SRC / package).rglob("*.py"))}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_server_imports_from_dpm_only_the_shared_vocabulary() -> None:
    wrong = {
        (module, name)
        for module, names in graph("dpm_server").items()
        for name in names
        if within(name, "dpm") and not any(within(name, allowed) for allowed in SERVER_MAY_IMPORT_FROM_DPM)
    }
    assert wrong == set()


def test_the_client_reaches_the_server_only_through_its_entry_points() -> None:
    wrong = {
        (module, name)
        for module, names in graph("dpm").items()
        for name in names
        if within(name, "dpm_server") and name not in CLIENT_MAY_IMPORT_FROM_SERVER
    }
    assert wrong == set()


def test_the_lazy_server_commands_name_a_module_that_exists() -> None:
    from dpm.commands.main import _LazyGroup  # noqa: PLC0415

    for target in _LazyGroup.lazy.values():
        module = target.partition(":")[0]
        assert (SRC / (module.replace(".", "/") + ".py")).exists(), target


@pytest.mark.parametrize("library", sorted(WRAPPED))
def test_each_library_is_imported_in_one_place(library: str) -> None:
    home = WRAPPED[library]
    packages = ("dpm", "dpm_server") if home is not None and within(home, "dpm_server") else ("dpm",)
    users = {module for p in packages for module, names in graph(p).items() if any(within(n, library) for n in names)}
    assert all(home is not None and within(user, home) for user in users), users


@pytest.mark.parametrize("library", sorted(WRAPPED_IN_EACH))
def test_a_library_both_packages_use_is_imported_in_one_place_in_each(library: str) -> None:
    for package, home in WRAPPED_IN_EACH[library].items():
        users = {module for module, names in graph(package).items() if any(within(n, library) for n in names)}
        assert users == {home}, (package, users)


def reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every dpm module ``start`` imports, directly or through others (``from pkg import module`` counts as the
    package: close enough for layers, which are packages)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for name in edges.get(todo.pop(), ()):
            if name in edges and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


@pytest.mark.parametrize(("package", "forbidden"), LAYERS, ids=[package for package, _ in LAYERS])
def test_layers_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    edges = graph("dpm")
    wrong = {
        (module, name)
        for module in edges
        if within(module, package)
        for name in reachable(module, edges)
        if any(within(name, f) for f in forbidden)
    }
    assert wrong == set()


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The graph reader finds imports at any depth, so a forbidden one added inside a function still fails."""
    module = tmp_path / "sneaky.py"
    module.write_text("def f():\n    import httpx\n    from dpm_server.app import create_app\n")
    assert set(imports(module)) == {"httpx", "dpm_server.app"}
    assert "dpm_server.app" not in CLIENT_MAY_IMPORT_FROM_SERVER


# The server's optional extras: imported only by the module a setting loads when it asks for them.
EXTRAS = {"redis": "dpm_server.http.redis_limits", "psycopg": None}  # psycopg: loaded by SQLAlchemy's dialect


@pytest.mark.parametrize("library", sorted(EXTRAS))
def test_optional_extras_are_imported_only_where_a_setting_loads_them(library: str) -> None:
    users = {module for module, names in graph("dpm_server").items() if any(within(n, library) for n in names)}
    home = EXTRAS[library]
    assert all(home is not None and within(user, home) for user in users), users
