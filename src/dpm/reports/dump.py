"""What a dump wrote: the files and the objects in each, the ``dpm.yaml`` it started (if any), and the secret
variables to set before planning; as text for people, or JSON for scripts (``schemas/dump.schema.json``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field

from dpm.engine.dump import Dumped
from dpm.engine.plan import Record

DUMP_FORMAT_VERSION = 1


class DumpedObjectRecord(Record):
    kind: Literal["provider", "template"]
    identifier: str = Field(description="Provider identifier or template name.")
    models: int = Field(default=0, description="For a provider: how many models the file lists.")


class DumpedFile(Record):
    path: str = Field(description="The file written, as given with --out.")
    objects: list[DumpedObjectRecord]


class ProjectFile(Record):
    path: str
    prune: bool = Field(description="True when the dump holds everything in scope; false after --select.")


class DumpReport(Record):
    """The output of ``dpm dump --format json``."""

    formatVersion: int = DUMP_FORMAT_VERSION
    source: str = Field(description="The registry that was dumped.")
    directory: str
    selected: list[str] = Field(default_factory=list, description="The --select patterns; empty for everything.")
    files: list[DumpedFile]
    projectFile: ProjectFile | None = Field(
        default=None, description="The dpm.yaml the dump started, if it wrote one (an existing one is never touched)."
    )
    secrets: list[str] = Field(
        default_factory=list,
        description="The DPM_* variables to set before dpm plan: the registry never returns secrets.",
    )
    started: list[str] = Field(
        default_factory=list,
        description="What else a new repository got (its .gitignore, the schemas), each only where none existed.",
    )


def dump_report(
    dumped: Dumped,
    *,
    source: str,
    directory: str,
    selected: list[str],
    settings: str | None,
    prune: bool,
    started: Sequence[str] = (),
) -> DumpReport:
    files = [
        DumpedFile(
            path=str(Path(directory) / name),
            objects=[DumpedObjectRecord(kind=o.kind, identifier=o.identifier, models=o.models) for o in objects],
        )
        for name, objects in dumped.objects.items()
    ]
    return DumpReport(
        source=source,
        directory=directory,
        selected=selected,
        files=files,
        projectFile=ProjectFile(path=settings, prune=prune) if settings is not None else None,
        secrets=sorted(dumped.secrets),
        started=list(started),
    )


class DumpReporter(Protocol):
    def report(self, report: DumpReport) -> str: ...


class TextDumpReporter:
    def report(self, report: DumpReport) -> str:
        lines = [f"wrote {len(report.files)} file(s) to {report.directory}"]
        project = report.projectFile
        if project is not None and project.prune:
            lines.append(f"wrote {project.path} with prune: true, since the dump holds everything in scope")
        elif project is not None:
            lines.append(f"wrote {project.path} with prune: false, since --select dumped only part of the registry")
        if report.started:
            lines.append(f"wrote {len(report.started)} more file(s) a new repository needs (.gitignore, schemas/)")
        if report.secrets:
            lines.append("the registry never returns secrets; set these before dpm plan:")
            lines += [f"  export {name}=…" for name in report.secrets]
        return "\n".join(lines)


class JsonDumpReporter:
    def report(self, report: DumpReport) -> str:
        return report.model_dump_json(indent=2)


DUMP_REPORTERS: dict[str, type[DumpReporter]] = {"json": JsonDumpReporter, "text": TextDumpReporter}
