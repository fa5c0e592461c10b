"""dpm init: a new config repository, written without touching any file that is already there."""

from __future__ import annotations

from pathlib import Path

import click

from dpm import scaffold


@click.command()
@click.argument("directory", metavar="[DIR]", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--registry", metavar="URL", help="Write this registry API base URL into dpm.yaml.")
@click.option("--workflows", is_flag=True, help="Also write the example GitHub workflows to .github/workflows/.")
def init(directory: Path, registry: str | None, workflows: bool) -> int:
    """Start a config repository in DIR (default: the current directory).

    Writes dpm.yaml (each setting commented), providers.d/ with one example provider, a .gitignore holding .dpm/,
    and the JSON schemas that the files' $schema lines point editors at; with --workflows, the CI workflows of
    plan on pull request, apply on merge and a daily drift check. A file that exists is never overwritten: it is
    kept as it is, and listed as kept.
    """
    wrote = 0
    for name, text in scaffold.repository(registry, workflows).items():
        path = directory / name
        if write_new(path, text):
            click.echo(f"wrote {path}")
            wrote += 1
        else:
            click.echo(f"kept  {path} (it exists{_missing_ignore(path, name)})")
    click.echo(f"{wrote} file(s) written. Next: edit {directory / scaffold.EXAMPLE}, then dpm validate and dpm plan.")
    if workflows:
        click.echo("In .github/workflows/, replace your-org/dpm@v0 with where you keep dpm (see its README).")
    return 0


def write_new(path: Path, text: str) -> bool:
    """Write ``path`` unless it exists; whether it was written. Exclusive creation: never a file someone just made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        return False
    return True


def _missing_ignore(path: Path, name: str) -> str:
    if name != scaffold.GITIGNORE or not path.is_file():
        return ""
    lines = {line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()}
    return "" if lines & {".dpm", ".dpm/", "/.dpm", "/.dpm/"} else f"; add {scaffold.IGNORED} to it"
