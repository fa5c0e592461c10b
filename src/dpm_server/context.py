"""What one app instance holds: its settings, database, keys and in-memory state. Never a module global."""

from __future__ import annotations

from dataclasses import dataclass

from dpm_server.auth.principals import PrincipalCache
from dpm_server.auth.sessions import TokenPolicy
from dpm_server.db.engine import Database
from dpm_server.metrics import Metrics
from dpm_server.secretbox import SecretBox
from dpm_server.services.connectivity import ConnectivityPool
from dpm_server.services.operations import Readiness
from dpm_server.services.registry import Registry
from dpm_server.settings import Settings
from dpm_server.workers import BackgroundPool


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    box: SecretBox
    tokens: TokenPolicy
    registry: Registry
    principals: PrincipalCache
    connectivity: ConnectivityPool
    password_checks: BackgroundPool  # argon2 checks, CHECKS_AT_ONCE at a time, below the event loop's priority
    body_checks: BackgroundPool  # the depth and key checks of large request bodies, likewise
    readiness: Readiness  # /readyz: one database check at a time
    metrics: Metrics | None = None  # None unless DPM_SERVER_METRICS is on

    def close(self) -> None:
        for pool in (self.connectivity, self.password_checks, self.body_checks):
            pool.close()
        self.db.dispose()
