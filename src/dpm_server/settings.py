"""Server settings: one pydantic model, read from ``DPM_SERVER_*`` environment variables and command-line flags.

Every setting is documented in ``docs/server.md``. Nothing here is a module global: ``create_app`` takes a
``Settings`` value, so each test (and the embedded registry) builds its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from dpm_server.outbound.guard import AllowList

ENV_PREFIX = "DPM_SERVER_"
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

# Settings read from variables outside the DPM_SERVER_ prefix, as the guide and the issue name them.
_EXTRA_ENV = {
    "admin_username": "DPM_ADMIN_USERNAME",
    "admin_password": "DPM_ADMIN_PASSWORD",
    "admin_email": "DPM_ADMIN_EMAIL",
    "debug": "DEBUG",
}


class Rate(BaseModel):
    """``<requests>/<seconds>``: at most ``requests`` in a window of ``seconds``."""

    model_config = ConfigDict(frozen=True)

    requests: int = Field(ge=1)
    seconds: int = Field(ge=1)

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"rate limit must look like <requests>/<seconds>, e.g. 100/900, not {text!r}")
        return cls(requests=int(match[1]), seconds=int(match[2]))

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds}"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Field(default=Path(".dpm"), description="Holds the SQLite file and generated key files.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under data_dir.")
    secret_key: SecretStr | None = Field(default=None, description="Fernet key for secrets at rest.")
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 signing key for tokens.")
    access_token_ttl: int = Field(default=3600, ge=60)
    refresh_token_ttl: int = Field(default=7 * 24 * 3600, ge=60)
    rate_limit: Rate = Rate(requests=100, seconds=900)
    login_rate_limit: Rate = Rate(requests=10, seconds=900)
    rate_limit_storage: str | None = Field(
        default=None, description="Where rate-limit counts live: memory (this process; default) or redis://…"
    )
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_auth_body_bytes: int = Field(default=4096, ge=512, description="Largest body of an /api/auth route.")
    max_json_depth: int = Field(
        default=32, ge=2, le=200, description="Deepest nesting of arrays and objects a request body may have."
    )
    max_json_keys: int = Field(default=1000, ge=16, description="Most keys one object of a request body may have.")
    admin_username: str | None = None
    admin_password: SecretStr | None = None
    admin_email: str | None = None
    debug: str | None = Field(default=None, description="DEBUG namespaces, e.g. dynamic-providers:*")
    outbound_allow: tuple[str, ...] = Field(default=(), description="Hosts, IPs or CIDRs outbound calls may reach.")
    outbound_timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds for a whole outbound call.")
    outbound_max_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest outbound response body.")
    connectivity_tests: int = Field(
        default=8, ge=1, le=64, description="Connectivity tests one process runs at once; more answer 429."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per log line, for log pipelines."
    )
    metrics: bool = Field(default=False, description="Serve GET /metrics in the Prometheus text format.")
    metrics_token: SecretStr | None = Field(
        default=None, description="When set, GET /metrics needs Authorization: Bearer <this token>."
    )

    @field_validator("rate_limit", "login_rate_limit", mode="before")
    @classmethod
    def _parse_rate(cls, value: object) -> object:
        return Rate.parse(value) if isinstance(value, str) else value

    @field_validator("rate_limit_storage")
    @classmethod
    def _check_storage(cls, value: str | None) -> str | None:
        if value is None or value in {"memory", "memory://"}:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"rate-limit storage must be memory or a redis://, rediss:// or unix:// URL: {value!r}")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple):
            AllowList.parse(str(part) for part in value)
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'registry.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment, with ``overrides`` (command-line flags) winning; None means unset."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            key = _EXTRA_ENV.get(name, ENV_PREFIX + name.upper())
            if environ.get(key):
                values[name] = environ[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
