"""Upstream checks: the models a config names, against the models its providers really serve.

The registry's connectivity test of a provider lists the provider's models (``availableModels``); this module
turns those answers into findings, pure and without a request. A configured model that the provider no longer
lists (renamed or retired) is an error at the model's place in the config; a model the provider lists that the
config lacks is a notice, since the team may want it; a failed test is an error with the provider's own messages.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dpm.config.compile import DesiredState
from dpm.values import Diagnostic

# Diagnostic codes, one per kind of finding, so that a tool can filter on them.
RETIRED = "upstream-model-missing"
OFFERED = "upstream-model-new"
FAILED = "upstream-test-failed"
NOT_APPLIED = "upstream-not-applied"
NOT_LISTED = "upstream-no-model-list"


@dataclass(frozen=True)
class Probe:
    """What the registry answered for one provider: its test's result, or why there is none."""

    identifier: str
    result: Mapping[str, Any] | None = None  # {success, responseTime, availableModels?, errors, testedAt}
    absent: bool = False  # the registry does not hold the provider yet
    error: str | None = None  # the registry could not run the test


def select(desired: DesiredState, patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The configured providers that the glob ``patterns`` match (all of them without patterns), sorted, and the
    patterns that match none."""
    names = sorted(desired.providers)
    if not patterns:
        return names, []
    chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    return chosen, unmatched


def findings(desired: DesiredState, probes: Sequence[Probe]) -> list[Diagnostic]:
    """Every finding of the probed providers, in the order of the config's files and lines."""
    found: list[Diagnostic] = []
    for probe in probes:
        found += _provider_findings(desired, probe)
    return sorted(found, key=Diagnostic.sort_key)


def _provider_findings(desired: DesiredState, probe: Probe) -> list[Diagnostic]:
    identifier = probe.identifier
    origin = desired.origins.get(identifier)
    if probe.absent:
        message = f"provider '{identifier}' is not in the registry yet, so it cannot be tested"
        return [Diagnostic.error(NOT_APPLIED, message, origin, hint="apply the config first (dpm apply)")]
    if probe.error is not None:
        message = f"the registry could not test provider '{identifier}': {probe.error}"
        return [Diagnostic.error(FAILED, message, origin, hint="run dpm check again later")]
    result = probe.result or {}
    if not result.get("success"):
        errors = "; ".join(str(e) for e in result.get("errors") or []) or "no reason given"
        message = f"the connectivity test of provider '{identifier}' failed: {errors}"
        hint = "check its apiEndpoint and credentials (authConfig), then run dpm check again"
        return [Diagnostic.error(FAILED, message, origin, hint=hint)]
    available = result.get("availableModels")
    if not isinstance(available, list):
        message = f"provider '{identifier}' passed its test but did not list its models, so they were not compared"
        hint = "its authConfig.testEndpoint answers something other than a model list"
        return [Diagnostic.notice(NOT_LISTED, message, origin, hint=hint)]
    return _compare(desired, identifier, {str(m) for m in available})


def _compare(desired: DesiredState, identifier: str, available: set[str]) -> list[Diagnostic]:
    origin = desired.origins.get(identifier)
    configured = [str(m["identifier"]) for m in desired.providers[identifier].get("models", [])]
    found = []
    for model in configured:
        if model in available:
            continue
        # A templated provider's models come from its template: its document stands for them.
        where = desired.model_origins.get((identifier, model), origin)
        message = f"model '{model}' of provider '{identifier}' is no longer listed by the provider"
        hint = "it was renamed or retired upstream: rename it in the config, or remove it"
        found.append(Diagnostic.error(RETIRED, message, where, hint=hint))
    for model in sorted(available - set(configured)):
        message = f"provider '{identifier}' offers model '{model}', which the config lacks"
        found.append(Diagnostic.notice(OFFERED, message, origin, hint="add it to the provider's models if you want it"))
    return found
