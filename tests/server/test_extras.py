"""Optional extras: a setting that needs one that is not installed names the extra to install."""

from __future__ import annotations

import pytest

from dpm_server.extras import MissingExtra, optional_module


def test_a_missing_extra_names_the_install_command() -> None:
    with pytest.raises(MissingExtra) as raised:
        optional_module("dpm_server_no_such_driver", "redis", "DPM_SERVER_RATE_LIMIT_STORAGE=redis://…")

    assert str(raised.value) == (
        "DPM_SERVER_RATE_LIMIT_STORAGE=redis://… needs the 'redis' extra (dpm_server_no_such_driver is not "
        "installed): pip install 'dpm-gitops[redis]'"
    )


def test_an_installed_extra_is_imported() -> None:
    module = optional_module("dpm_server.http.redis_limits", "redis", "DPM_SERVER_RATE_LIMIT_STORAGE=redis://…")

    assert module.RedisRateLimiter.__name__ == "RedisRateLimiter"
