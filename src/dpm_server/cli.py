"""``dpm serve`` and ``dpm users``. The main dpm CLI loads these lazily ("dpm_server.cli:serve", ":users")."""

from __future__ import annotations

import sys
from typing import Any

import click
import uvicorn
from pydantic import ValidationError

from dpm_server import COMMAND_SUMMARIES, logs
from dpm_server.app import create_app
from dpm_server.auth.users import create_user
from dpm_server.db import migrate
from dpm_server.db.engine import Database, make_engine
from dpm_server.errors import ApiError
from dpm_server.extras import MissingExtra
from dpm_server.settings import Settings


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.UsageError(f"invalid server settings: {problems}") from exc


@click.command(short_help=COMMAND_SUMMARIES["serve"])
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1; DPM_SERVER_HOST].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8000; DPM_SERVER_PORT].")
@click.option(
    "--database-url", default=None, help="SQLAlchemy URL [default: sqlite under .dpm/; DPM_SERVER_DATABASE_URL]."
)
def serve(host: str | None, port: int | None, database_url: str | None) -> None:
    """Run the registry server (the Dynamic Provider Management API) under uvicorn."""
    settings = _settings(host=host, port=port, database_url=database_url)
    try:
        app = create_app(settings)
    except MissingExtra as exc:
        raise click.UsageError(str(exc)) from None
    where = f"dpm registry on http://{settings.host}:{settings.port}/api"
    if settings.log_format == "json":
        # create_app sent uvicorn's loggers through the JSON handler; uvicorn's own text set-up would undo that.
        logs.get_logger("http").info(where)
        options: dict[str, Any] = {"log_config": None}
    else:
        click.echo(where, err=True)
        options = {}
    uvicorn.run(app, host=settings.host, port=settings.port, proxy_headers=False, server_header=False, **options)


@click.group(short_help=COMMAND_SUMMARIES["users"])
def users() -> None:
    """Manage the registry server's users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "user"]), default="user", show_default=True)
@click.option("--email", default=None, help="Lets the user log in with this email as well.")
@click.option("--database-url", default=None, help="SQLAlchemy URL [default: DPM_SERVER_DATABASE_URL].")
def add_user(name: str, role: str, email: str | None, database_url: str | None) -> None:
    """Add user NAME; the password is read from stdin (one line)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise click.UsageError("the password (read from stdin) must be at least 8 characters")
    settings = _settings(database_url=database_url)
    db = Database(make_engine(settings.resolved_database_url))
    try:
        migrate.upgrade(db.engine)
        with db.write() as session:
            create_user(
                session, username=name, password=password, role="admin" if role == "admin" else "user", email=email
            )
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()
    click.echo(f"added {role} '{name}'")


@click.group()
def main() -> None:
    """The dpm registry server (standalone entry point: python -m dpm_server)."""


main.add_command(serve)
main.add_command(users)
