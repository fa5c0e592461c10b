"""Stateful conformance: schemathesis follows the OpenAPI links through sequences of calls.

A created, read, updated or listed provider's id feeds the calls on that provider and its models, a model's the calls
on it, a template's the calls on it (apply among them) and an applied template's the calls on the provider it made;
etags feed If-Match. Every response gets the stateless run's checks. Runs on SQLite and on a fresh PostgreSQL
database (the ``database_url`` fixture), with the rate limit raised and the scenario count kept small.

Each scenario starts from the same state: the guide's provider and model, and the system templates; whatever the
previous scenario created is deleted. Hypothesis replays choices and needs a scenario's course to depend on its own
calls only (a provider identifier taken by an earlier scenario would turn a 201 into a 409 and change the course).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.generation.stateful.state_machine import APIStateMachine, StepOutput
from sqlalchemy import delete, select

from dpm_server import create_app, embedded_admin_token
from dpm_server.db.tables import Model, Provider, Template
from tests.server import guide
from tests.server.conftest import make_settings
from tests.server.test_openapi_schemathesis import CHECKS

SETTINGS = settings(
    max_examples=50,
    stateful_step_count=10,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_api_conforms_to_its_openapi_through_links(tmp_path: Path, database_url: str | None) -> None:
    app = create_app(
        make_settings(tmp_path, database_url=database_url, rate_limit="1000000/60", login_rate_limit="1000000/60")
    )
    auth = {"Authorization": f"Bearer {embedded_admin_token(app)}"}
    db = app.state.context.db
    with db.read() as session:
        initial = {table: set(session.scalars(select(table.id))) for table in (Model, Provider, Template)}
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    # Only the declared links: inferred ones mostly pair unrelated operations.
    schema.config.phases.stateful.inference.algorithms = []
    linked: set[str] = set()  # calls on one object that succeeded: their ids can only have come through a link

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            with db.change() as session:
                for table in (Model, Provider, Template):
                    session.execute(delete(table).where(table.id.not_in(initial[table])))
            # The guide's provider and model, as if the scenario had created them: their links are open from step one.
            provider = self._seed(schema["/api/admin/providers"]["POST"].Case(body=guide.PROVIDER))
            models = schema["/api/admin/providers/{providerId}/models"]["POST"]
            self._seed(models.Case(path_parameters={"providerId": provider["id"]}, body=guide.MODEL))

        def _seed(self, case: Any) -> Any:
            self.recorder.record_case(case=case)
            response = case.call(headers=auth)
            assert response.status_code == 201, response.text
            self.recorder.record_response(case_id=case.id, response=response)
            self._add_results_to_targets(("catch_all",), [StepOutput(response, case)])
            return response.json()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            if "{" in case.operation.path and response.status_code < 300:
                linked.add(case.operation.label)
            case.validate_response(response, checks=CHECKS, headers=auth)

    machine: type[APIStateMachine] = Machine
    try:
        run_state_machine_as_test(machine, settings=SETTINGS)
    finally:
        db.dispose()
    reads_and_writes = {
        f"{method} /api/admin/{kind}/{{id}}" for method in ("GET", "PUT") for kind in ("providers", "models")
    }
    assert reads_and_writes <= linked
