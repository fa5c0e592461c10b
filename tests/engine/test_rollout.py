"""Carrying out a gated apply against a real (embedded) registry: what the outcome says when a write fails part-way.
The registry's tests of providers at unreachable addresses fail, which is what these cases need; the end-to-end
cases with a provider that answers are in ``tests/e2e/test_gate.py``."""

from __future__ import annotations

from dpm.config.render import Renderer
from dpm.engine import apply
from dpm.engine.gate import plan_gate
from dpm.engine.live import LiveState, live_from_export
from dpm.engine.plan import Change
from dpm.engine.rollout import carry_out
from dpm.registry.client import RegistryClient
from tests.engine.test_apply import create_model, create_provider, keys, registry_holds


def with_status(change: Change) -> Change:
    assert change.body is not None
    return change.model_copy(update={"body": {**change.body, "status": "active"}})


def test_a_first_write_that_fails_part_way_reports_what_it_wrote_as_held_not_applied(client: RegistryClient) -> None:
    changes = [
        with_status(create_provider("acme")),
        with_status(create_model("acme", "small")),
        with_status(create_provider("beta", max_context=1000)),
        with_status(create_model("beta", "too-long", context=2000)),  # the registry refuses this batch
    ]
    gate = plan_gate(changes, LiveState())
    assert [t.key for t in gate.tests] == ["acme", "acme/small", "beta", "beta/too-long"]
    run = carry_out(changes, gate, client, Renderer({}, {}), max_bytes=1)
    outcome = run.outcome
    assert outcome.error is not None
    assert run.tests == []  # nothing is tested after a failed write
    assert keys(outcome.held) == ["create acme", "create acme/small"]  # written, never tested: not applied
    assert outcome.applied == []
    assert keys(outcome.failed) == ["create beta", "create beta/too-long"]
    held = registry_holds(client)
    assert (held["acme"]["status"], held["acme/small"]["status"]) == ("testing", "inactive")
    assert "beta" not in held


def test_a_test_that_fails_holds_its_object_and_its_models_are_not_tested(client: RegistryClient) -> None:
    changes = [with_status(create_provider("acme")), with_status(create_model("acme", "small"))]
    run = carry_out(changes, plan_gate(changes, LiveState()), client, Renderer({}, {}))
    assert [(r.test.key, r.result) for r in run.tests] == [("acme", "failed"), ("acme/small", "not-run")]
    assert run.outcome.ok  # no request failed: the gate held them back
    assert keys(run.outcome.held) == ["create acme", "create acme/small"]
    held = registry_holds(client)
    assert (held["acme"]["status"], held["acme/small"]["status"]) == ("testing", "inactive")


def test_a_provider_activated_since_the_plan_refuses_the_write_of_the_models_it_left_untested(
    client: RegistryClient,
) -> None:
    written = apply.carry_out(apply.steps([create_provider("quiet", status="inactive")]), client, Renderer({}, {}))
    assert written.ok
    changes = [with_status(create_model("quiet", "small"))]
    gate = plan_gate(changes, live_from_export(client.export()))
    assert gate.tests == []  # nothing routes to the provider's models while it is inactive
    assert [p.identifier for p in gate.untestedUnder] == ["quiet"]
    provider_id = registry_holds(client)["quiet"]["id"]
    client.call("PUT", f"/admin/providers/{provider_id}", json={"status": "active"})  # someone, in between

    run = carry_out(changes, gate, client, Renderer({}, {}))

    assert run.outcome.stale
    assert run.outcome.moved == ["provider quiet changed since the plan was made, which relied on it as it was"]
    assert "quiet/small" not in registry_holds(client)  # not made routable untested
