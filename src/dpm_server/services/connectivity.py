"""Connectivity tests (``POST .../test``).

Real outbound calls, behind an SSRF guard, arrive with the next server issue. Until then a test answers the
documented shape with ``success: false`` and says why: it never claims a provider works without calling it.
The result is stored as ``lastTested``/``testResult`` like a real one; it is not a configuration change, so the
etag and the registry revision stay as they were.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dpm_server.db.tables import Model, Provider, utcnow
from dpm_server.services.common import load
from dpm_server.views import timestamp

NOT_IMPLEMENTED = (
    "Connectivity testing is not implemented in this server version yet: no request was sent to the provider"
)


def _result() -> dict[str, Any]:
    return {"success": False, "responseTime": 0, "errors": [NOT_IMPLEMENTED], "testedAt": timestamp(utcnow())}


def run_provider_test(session: Session, *, provider_id: str) -> dict[str, Any]:
    row = load(session, Provider, provider_id, "Provider")
    result = _result()
    row.last_tested, row.test_result = utcnow(), result
    return result


def run_model_test(session: Session, *, model_id: str) -> dict[str, Any]:
    row = load(session, Model, model_id, "Model")
    result = _result()
    row.last_tested, row.test_result = utcnow(), result
    return result
