"""``users add`` and the settings that ``serve`` reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from dpm_server import Settings, create_app
from dpm_server.cli import serve, users
from dpm_server.settings import Rate
from tests.server.conftest import login, make_settings


def test_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings)
    env = {"DPM_SERVER_DATABASE_URL": settings.resolved_database_url}

    added = CliRunner().invoke(
        users, ["add", "ops", "--role", "admin", "--email", "ops@example.com"], input="s3cret-pw\n", env=env
    )
    again = CliRunner().invoke(users, ["add", "ops"], input="s3cret-pw\n", env=env)
    short = CliRunner().invoke(users, ["add", "short"], input="pw\n", env=env)

    assert added.exit_code == 0, added.output
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert short.exit_code == 2
    with TestClient(app) as client:
        assert login(client, "ops@example.com", "s3cret-pw")["user"]["role"] == "admin"


def test_settings_from_environment_and_flags() -> None:
    environ = {
        "DPM_SERVER_RATE_LIMIT": "5/60",
        "DPM_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
        "DPM_SERVER_PORT": "9000",
        "DPM_ADMIN_USERNAME": "root",
        "DEBUG": "dynamic-providers:*",
    }

    settings = Settings.from_env(environ, port=9100, host=None)

    assert settings.rate_limit == Rate(requests=5, seconds=60)
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")
    assert settings.port == 9100
    assert settings.host == "127.0.0.1"
    assert settings.admin_username == "root"
    assert settings.resolved_database_url == "sqlite:///.dpm/registry.db"


def test_bad_rate_limit_is_a_usage_error() -> None:
    result = CliRunner().invoke(serve, [], env={"DPM_SERVER_RATE_LIMIT": "lots"})

    assert result.exit_code == 2
    assert "<requests>/<seconds>" in result.output


@pytest.mark.parametrize("text", ["100", "0/10", "1/0", "a/b"])
def test_rate_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"requests|greater"):
        Rate.parse(text)


def test_operations_settings_from_the_environment() -> None:
    environ = {
        "DPM_SERVER_METRICS": "true",
        "DPM_SERVER_METRICS_TOKEN": "scrape-me",
        "DPM_SERVER_LOG_FORMAT": "json",
    }

    settings = Settings.from_env(environ)
    defaults = Settings.from_env({})

    assert (settings.metrics, settings.log_format) == (True, "json")
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == "scrape-me"
    assert "scrape-me" not in repr(settings)
    assert (defaults.metrics, defaults.metrics_token, defaults.log_format) == (False, None, "text")


@pytest.mark.parametrize(
    ("variable", "value", "hint"),
    [("DPM_SERVER_LOG_FORMAT", "xml", "'text' or 'json'"), ("DPM_SERVER_METRICS", "sometimes", "boolean")],
)
def test_a_bad_operations_setting_is_a_usage_error(variable: str, value: str, hint: str) -> None:
    result = CliRunner().invoke(serve, [], env={variable: value})

    assert result.exit_code == 2
    assert variable.removeprefix("DPM_SERVER_").lower() in result.output
    assert hint in result.output
