"""The package's public surface, pinned: the dpm CLI and the embedded registry import exactly these."""

from __future__ import annotations

import click

import dpm_server
from dpm_server import cli


def test_public_names() -> None:
    assert sorted(dpm_server.__all__) == ["COMMAND_SUMMARIES", "Settings", "create_app", "embedded_admin_token"]


def test_cli_entry_points_named_by_the_dpm_cli() -> None:
    assert isinstance(cli.serve, click.Command)
    assert isinstance(cli.users, click.Group)
    assert sorted(cli.users.commands) == ["add"]
    assert {p.name for p in cli.serve.params} == {"host", "port", "database_url"}
