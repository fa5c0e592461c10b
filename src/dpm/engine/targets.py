"""Targets: a plan narrowed to a few objects (``--target KIND/IDENTIFIER``) and what they need.

The whole config is still loaded and compiled, so a ``fromTemplate`` that names a template in another file
resolves; only the diff is narrowed. Both sides are cut down to the targets before the diff runs, so prune and the
"kept" list apply within the targets only, and the same cut is made again when apply verifies its work.

What a target brings along:

- ``provider/ID``: the provider and every model it holds, and the config template its ``fromTemplate`` names;
- ``model/PROVIDER/MODEL``: that model, and its provider when the provider does not exist yet (created, never
  otherwise changed: a model needs its provider to exist, not to match);
- ``template/NAME``: that template.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from dpm.config.compile import DesiredState
from dpm.engine.live import LiveState
from dpm.engine.plan import Change, Kept, Kind
from dpm.errors import UsageError
from dpm.resources.rules import did_you_mean

KINDS: tuple[Kind, ...] = ("provider", "model", "template")
FORM = {"provider": "provider/IDENTIFIER", "model": "model/PROVIDER/MODEL", "template": "template/NAME"}
FORMS = "provider/IDENTIFIER, model/PROVIDER/MODEL or template/NAME"


@dataclass(frozen=True, order=True)
class Target:
    kind: Kind
    identifier: str  # for a model, PROVIDER/MODEL

    def __str__(self) -> str:
        return f"{self.kind}/{self.identifier}"


def parse(text: str) -> Target:
    """``provider/acme``, ``model/acme/acme-large`` or ``template/gateway``; anything else is a usage error."""
    kind, _, identifier = text.strip().partition("/")
    if kind not in KINDS:
        hint = did_you_mean(kind, KINDS)
        raise UsageError(
            f"--target {text!r}: unknown kind {kind!r}", f"{hint} a target is {FORMS}" if hint else f"use {FORMS}"
        )
    provider, _, model = identifier.partition("/")
    if not identifier or (kind == "model" and not (provider and model)) or (kind != "model" and "/" in identifier):
        raise UsageError(f"--target {text!r}: a {kind} target is {FORM[kind]}", f"a target is {FORMS}")
    return Target(kind, identifier)


def parse_all(texts: Iterable[str]) -> list[Target]:
    """Each ``--target`` once, in a stable order."""
    return sorted({parse(text) for text in texts})


@dataclass(frozen=True)
class Selection:
    """What a set of targets covers: whole templates and providers, single models, and the providers that those
    models need only to exist."""

    templates: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    models: frozenset[tuple[str, str]] = frozenset()
    needed: frozenset[str] = frozenset()  # providers of targeted models, not targeted themselves

    def keeps(self, change: Change) -> bool:
        """A needed provider is only created; every other change on the narrowed states is a targeted one."""
        return not (change.kind == "provider" and change.identifier in self.needed and change.action != "create")


def select(targets: Sequence[str], desired: DesiredState, live: LiveState, *, check: bool = True) -> Selection:
    """What ``targets`` (as a plan records them) cover; with ``check``, a target that names nothing known is a usage
    error. Verification does not check: a target that apply pruned is rightly known to neither side any more."""
    parsed = parse_all(targets)
    if check:
        _check_known(parsed, desired, live)
    providers = {t.identifier for t in parsed if t.kind == "provider"}
    models = {_split(t.identifier) for t in parsed if t.kind == "model"}
    needed = {p for p, _ in models} - providers
    templates = {t.identifier for t in parsed if t.kind == "template"}
    # A provider built from a config template needs it; a model's provider brings it only when it is created.
    for identifier in providers | {p for p in needed if p not in live.providers}:
        name = desired.built_from.get(identifier)
        if name in desired.templates:
            templates.add(name)
    return Selection(frozenset(templates), frozenset(providers), frozenset(models), frozenset(needed))


def narrow(desired: DesiredState, live: LiveState, selection: Selection) -> tuple[DesiredState, LiveState]:
    """Both states cut down to what ``selection`` covers, so that the diff sees nothing else."""
    covered = selection.providers | selection.needed

    def wanted(provider: str, model: str) -> bool:
        return provider in selection.providers or (provider, model) in selection.models

    providers = {}
    for identifier in sorted(covered & desired.providers.keys()):
        provider = desired.providers[identifier]
        if identifier in selection.needed:
            provider = {
                **provider,
                "models": [m for m in provider.get("models", []) if wanted(identifier, m["identifier"])],
            }
        providers[identifier] = provider
    narrowed = replace(
        desired,
        providers=providers,
        templates={n: t for n, t in desired.templates.items() if n in selection.templates},
    )
    cut = LiveState(
        providers={i: p for i, p in live.providers.items() if i in covered},
        models={
            i: {m: model for m, model in models.items() if wanted(i, m)}
            for i, models in live.models.items()
            if i in covered
        },
        templates={n: t for n, t in live.templates.items() if n in selection.templates},
        revision=live.revision,
    )
    return narrowed, cut


def kept_within(kept: Sequence[Kept], selection: Selection) -> list[Kept]:
    """A needed provider is never pruned, so it is never "kept" either."""
    return [k for k in kept if not (k.kind == "provider" and k.identifier in selection.needed)]


def warnings_within(warnings: Sequence[str], changes: Sequence[Change], selection: Selection) -> list[str]:
    """A needed provider that is not created is not written: what it could not compare does not matter here."""
    created = {c.identifier for c in changes if c.kind == "provider" and c.action == "create"}
    quiet = tuple(f"{p}: " for p in selection.needed - created)
    return [w for w in warnings if not quiet or not w.startswith(quiet)]


def _split(identifier: str) -> tuple[str, str]:
    provider, _, model = identifier.partition("/")
    return provider, model


def _check_known(targets: Sequence[Target], desired: DesiredState, live: LiveState) -> None:
    known: dict[str, set[str]] = {
        "template": set(desired.templates) | set(live.templates),
        "provider": set(desired.providers) | set(live.providers),
        "model": {
            f"{p}/{m['identifier']}" for p, provider in desired.providers.items() for m in provider.get("models", [])
        }
        | {f"{p}/{m}" for p, models in live.models.items() for m in models},
    }
    unknown = [t for t in targets if t.identifier not in known[t.kind]]
    if not unknown:
        return
    hints = []
    for target in unknown:
        close = did_you_mean(str(target), [f"{target.kind}/{name}" for name in known[target.kind]])
        hints.append(close or _existing(target.kind, known[target.kind]))
    names = ", ".join(str(t) for t in unknown)
    raise UsageError(
        f"--target {names}: not in the config or the registry (the {'targets' if len(unknown) > 1 else 'target'} "
        "must name an object one of them holds)",
        "; ".join(hints),
    )


def _existing(kind: str, names: set[str]) -> str:
    if not names:
        return f"there is no {kind} at all"
    listed = sorted(names)
    return f"{kind}s: " + ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")
