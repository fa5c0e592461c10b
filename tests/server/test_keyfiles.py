"""The data directory ignores itself in git: a .gitignore of * in every directory dpm makes, and in no other."""

from __future__ import annotations

import stat
from pathlib import Path

from dpm_server.embedded import embedded_registry
from dpm_server.keyfiles import ignored_by_git, private_dir

IGNORE_ALL = "*"


def test_a_directory_dpm_makes_is_private_and_ignored(tmp_path: Path) -> None:
    made = tmp_path / "new" / ".dpm"
    private_dir(made)
    ignore = made / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == IGNORE_ALL
    assert stat.S_IMODE(ignore.stat().st_mode) == 0o600
    assert not (tmp_path / "new" / ".gitignore").exists()  # a parent made on the way is not dpm's data directory


def test_a_directory_that_exists_gets_no_gitignore_from_private_dir(tmp_path: Path) -> None:
    """For example the folder of a SQLite file named by a database URL: a * there would hide everything beside it."""
    private_dir(tmp_path)
    assert not (tmp_path / ".gitignore").exists()


def test_someones_own_gitignore_stays_as_it_is(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("registry.db\n")
    ignored_by_git(tmp_path)
    assert (tmp_path / ".gitignore").read_text() == "registry.db\n"


def test_an_embedded_registry_made_before_the_gitignore_gets_one(tmp_path: Path) -> None:
    data_dir = tmp_path / ".dpm"
    data_dir.mkdir(mode=0o700)  # as an earlier dpm left it, without a .gitignore
    with embedded_registry(data_dir):
        pass
    assert (data_dir / ".gitignore").read_text().splitlines()[-1] == IGNORE_ALL
