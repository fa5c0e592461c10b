"""The policy file's vocabulary: ``kind: Policy`` documents and their waivers. ``dpm schema`` publishes the
policy document's JSON Schema (``schemas/policy.schema.json``) from these models, and the loader checks files
with the same models, so editors and ``dpm validate`` agree."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import Field

from dpm.resources import models
from dpm.resources.models import Strict

Target = Literal["Provider", "Model", "ProviderTemplate", "Change"]
TARGETS: tuple[str, ...] = ("Provider", "Model", "ProviderTemplate", "Change")

CHANGE_SHAPE = (
    "For target Change the rule sees each change of the plan as {action: create|update|delete, kind: "
    "Provider|Model|ProviderTemplate, identifier (provider/model for a model), provider, before, after (the fields "
    "the change touches, every field for a create or delete; null on the side that does not exist), changed (dotted "
    "field paths), ratios (after/before for each number that changed from a non-zero value, by dotted path)}."
)


def _fields(model: type[Strict]) -> frozenset[str]:
    return frozenset(model.model_fields) - {"kind"}


# The top-level fields of what each target's rule sees, for the self-check that a rule names only fields that exist.
FIELDS: dict[str, frozenset[str]] = {
    "Provider": _fields(models.ProviderDocument),
    "Model": _fields(models.ModelSpec),
    "ProviderTemplate": _fields(models.ProviderTemplateDocument),
    "Change": frozenset({"action", "kind", "identifier", "provider", "before", "after", "changed", "ratios"}),
}


class Match(Strict):
    """Which objects a policy applies to; every condition given must hold."""

    identifiers: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Glob patterns on the identifier: provider/model for a model, the name for a template.",
    )
    environments: list[str] | None = Field(
        default=None, description="Only when --env names one of these; without it, in every environment."
    )


class Waiver(Strict):
    """An exception to a policy for one object. ``reason`` and ``expires`` are required for it to apply: a waiver
    without them, or past its date, lets the finding fire again, saying why."""

    policy: str | None = Field(default=None, description="The policy waived (implied inside a policy file).")
    identifier: str = Field(min_length=1, description="The object: provider, provider/model, or template name.")
    path: str | None = Field(default=None, description="Only findings at or below this field path, e.g. apiEndpoint.")
    environments: list[str] | None = Field(default=None, description="Only in these environments.")
    reason: str | None = Field(default=None, description="Why the exception is right: required.")
    expires: datetime.date | str | None = Field(default=None, description="YYYY-MM-DD; required.")


class PolicyTest(Strict):
    """A fixture case for ``dpm policy test``: an object (or, for target Change, a change) and where the rule must
    fail on it."""

    name: str = Field(min_length=1, description="What the case shows.")
    input: dict[str, Any] = Field(description="The object as the rule sees it (dpm render's form), or a change.")
    fails: list[str] = Field(
        default_factory=list,
        description='The dotted paths where the rule must fail ("" for the object itself); empty: it must pass.',
    )


class PolicyDocument(Strict):
    """``kind: Policy``: a rule that every matched object (or plan change) must satisfy."""

    kind: Literal["Policy"]
    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Unique; shown in every finding, and the name that disable: and waivers use.",
    )
    description: str = Field(min_length=1, description="What the policy asks for, in a sentence: shown in findings.")
    severity: Literal["error", "warning"] = Field(
        default="error", description="error fails the command (exit 1); warning is shown and counted."
    )
    target: Target = Field(description="What the rule checks: each Provider, Model, ProviderTemplate, or Change.")
    match: Match = Field(default_factory=Match)
    rule: dict[str, Any] = Field(description="A JSON Schema (draft 2020-12). " + CHANGE_SHAPE)
    waivers: list[Any] = Field(default_factory=list, description="Waivers of this policy (see Waiver).")
    tests: list[PolicyTest] = Field(default_factory=list, description="Fixture cases that dpm policy test runs.")
