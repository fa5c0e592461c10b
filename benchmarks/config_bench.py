"""Benchmark of dpm's config language: ``dpm validate`` and ``dpm render`` on a large generated config.

Run from the repository root::

    .venv/bin/python benchmarks/config_bench.py [--providers 1000] [--models 10] [--repeat 3] [--ref HEAD]

It generates, in a temporary directory, N provider files (one provider per file, each with M models) and a
``dpm.yaml`` with vars, then times the installed ``dpm`` console script as separate processes:

- ``dpm validate providers.d`` and ``dpm render providers.d --format json > /dev/null``;
- ``check-jsonschema --schemafile schemas/document.schema.json`` on the same files (schema only), for the ratio;
- two hostile inputs through ``dpm validate``: a YAML alias bomb and a 50 MB file, which dpm must reject.

Measurement: every run is one child started with ``subprocess.Popen`` and reaped with ``os.wait4``, which returns
that child's own resource usage. Wall time is taken around start and reap; CPU time (user + sys) and peak RSS
(``ru_maxrss``) are the child's own, so the maximum is per run, not accumulated over runs. Sizes are MB of 10^6 bytes,
like the aims. One untimed warm-up run per command fills the page cache and the bytecode cache. The machine's load
average is printed: on a shared machine wall time can exceed CPU time. Exit status 1 means the benchmark itself went
wrong (the generated config was not valid, or hostile input was not rejected); a missed aim shows in the table only.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DPM = BIN / "dpm"
CHECK_JSONSCHEMA = BIN / "check-jsonschema"
DOCUMENT_SCHEMA = ROOT / "schemas" / "document.schema.json"

# The aims of issue 2.
AIM_SECONDS = 2.0
AIM_MB = 300
HOSTILE_SECONDS = 2.0
HOSTILE_MB = 200

SECRET_PREFIX = "DPM_BENCH_KEY_"
ROLES = ("[system, user, assistant, tool]", "[user, assistant]", "[system, user, assistant]")
CONTEXTS = (8192, 32768, 128000, 200000)


# --- generation -------------------------------------------------------------------------------------------------


def provider_id(index: int) -> str:
    return f"bench-provider-{index:04d}"


def secret_name(index: int) -> str:
    return f"{SECRET_PREFIX}{index:04d}"


def model_yaml(provider: int, model: int, max_context: int, roles: str) -> str:
    context = CONTEXTS[model % len(CONTEXTS)]
    context = min(context, max_context)
    # A string that is a single expression keeps its native type, so this is an int.
    context_text = "${{ vars.default_context }}" if model % 4 == 0 else str(context)
    lines = [
        f"  - identifier: family-{model % 3}/model-{provider:04d}-{model:02d}",
        f"    name: Model {model} of provider {provider}",
        f"    description: Generated model {model} ({'${{ vars.environment }}'}), tier {model % 3}.",
        f"    contextLength: {context_text}",
    ]
    if model == 0:
        lines.append("    isDefault: true")
    if model % 5 == 4:
        lines.append("    status: ${{ vars.model_status }}")
    lines += [
        "    capabilities:",
        "      supportsSystemMessages: true",
        f"      maxContextLength: {context_text}",
        f"      supportedRoles: {roles}",
        "      supportsStreaming: true",
        "      supportsTools: true",
        f"      supportsFunctionCalling: {'true' if model % 7 else 'false'}",
        f"      supportsVision: {'true' if model % 2 else 'false'}",
    ]
    if model % 3 == 0:
        lines.append("      supportsAudio: false")
    price_in = round(0.0001 * (1 + (provider + model) % 50), 6)
    lines.append(
        f"    pricingInfo: {{inputTokenPrice: {price_in}, outputTokenPrice: {round(price_in * 4, 6)}, currency: USD}}"
    )
    return "\n".join(lines)


def provider_yaml(index: int, models: int) -> str:
    identifier = provider_id(index)
    roles = ROLES[index % len(ROLES)]
    through_gateway = index % 4 == 0
    endpoint = "${{ vars.gateway_endpoint }}" if through_gateway else f"https://api.{identifier}.example.com/v1"
    max_context_text = "${{ vars.max_context }}" if index % 2 == 0 else "200000"
    lines = [
        "# yaml-language-server: $schema=../schemas/document.schema.json",
        "kind: Provider",
        f"identifier: {identifier}",
        f"name: Bench Provider {index}",
        f"description: Generated provider {index} for team-{index % 40} (${{{{ vars.environment }}}}).",
        f"apiEndpoint: {endpoint}",
        "authMethod: api_key",
        "authConfig:",
        "  type: api_key",
        "  fields:",
        f"    apiKey: ${{{{ secret.{secret_name(index)} }}}}",
        f"    organizationId: org-team-{index % 40}",
        "  headers:",
        "    Authorization: Bearer {{apiKey}}",
        '    X-Organization: "{{organizationId}}"',
        f"    X-Region: ${{{{ vars.region }}}}-{index % 3}",
        "capabilities:",
        "  supportsSystemMessages: true",
        f"  maxContextLength: {max_context_text}",
        f"  supportedRoles: {roles}",
        "  supportsStreaming: true",
        "  supportsTools: true",
        "  supportedAuthMethods: [api_key]",
    ]
    if index % 3 == 0:
        lines += [
            "  rateLimits:",
            f"    requestsPerMinute: {500 + index}",
            f"    tokensPerMinute: {100000 + index * 10}",
        ]
    if index % 5 == 0:
        lines.append("status: ${{ vars.default_status }}")
    lines.append("models:")
    lines += [model_yaml(index, model, 200000, roles) for model in range(models)]
    return "\n".join(lines) + "\n"


DPM_YAML = """\
# yaml-language-server: $schema=../schemas/dpm.schema.json
vars:
  environment: bench
  region: eu-west-1
  gateway_endpoint: https://llm-gateway.bench.example.com/v1
  default_status: testing
  model_status: active
  max_context: 200000
  default_context: 128000
scope: ["bench-*"]
prune: false
maxDeletes: 5
"""


def generate(directory: Path, providers: int, models: int) -> list[Path]:
    (directory / "dpm.yaml").write_text(DPM_YAML)
    config = directory / "providers.d"
    config.mkdir()
    files = []
    for index in range(providers):
        path = config / f"{provider_id(index)}.yaml"
        path.write_text(provider_yaml(index, models))
        files.append(path)
    return files


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" document: ``width ** levels`` values once every alias is expanded."""
    lines = [
        "kind: Provider",
        "identifier: alias-bomb",
        "name: Alias bomb",
        "a0: &a0 [" + ", ".join(["lol"] * width) + "]",
    ]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    lines.append(f"description: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def write_big_file(path: Path, mebibytes: int = 50) -> int:
    """A plausible provider whose model list runs to ``mebibytes`` MiB."""
    head = provider_yaml(0, 0).replace("bench-provider-0000", "huge-provider")
    target = mebibytes * 1024 * 1024
    with path.open("w") as out:
        out.write(head)
        written = len(head)
        model = 0
        while written < target:
            block = model_yaml(1, model, 200000, ROLES[0]).replace("isDefault: true", "isDefault: false") + "\n"
            out.write(block)
            written += len(block)
            model += 1
    return path.stat().st_size


# --- measurement ------------------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_mb: float
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Result:
    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def max_seconds(self) -> float:
        return max(run.seconds for run in self.runs)

    @property
    def median_cpu_seconds(self) -> float:
        return statistics.median(run.cpu_seconds for run in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(run.peak_mb for run in self.runs)

    @property
    def exit_codes(self) -> str:
        return ",".join(sorted({str(run.exit_code) for run in self.runs}))


def run_once(argv: list[str], cwd: Path, env: dict[str, str], discard_stdout: bool = False) -> Run:
    """One child process; wall time around start and reap, peak RSS from that child's own rusage (os.wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdout = subprocess.DEVNULL if discard_stdout else out
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_mb=usage.ru_maxrss * 1024 / 1e6,  # Linux reports KiB
            exit_code=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def measure(
    label: str, argv: list[str], cwd: Path, env: dict[str, str], repeat: int, *, discard_stdout: bool = False
) -> Result:
    run_once(argv, cwd, env, discard_stdout)  # warm-up, untimed
    result = Result(label)
    for _ in range(repeat):
        result.runs.append(run_once(argv, cwd, env, discard_stdout))
    last = result.runs[-1]
    print(
        f"  {label}: median {result.median_seconds:.2f} s, max {result.max_seconds:.2f} s, "
        f"peak {result.peak_mb:.0f} MB, exit {result.exit_codes}",
        file=sys.stderr,
    )
    if last.exit_code not in (0, 1):
        print(last.stderr[-2000:], file=sys.stderr)
    return result


def dpm_source(ref: str | None, directory: Path) -> tuple[str, str | None]:
    """What dpm code the children run: the work tree as it is, or ``src/`` of a commit, put first on PYTHONPATH.

    The installed console script and dependencies are used either way. A commit gives a stable snapshot when
    others are editing the work tree while the benchmark runs.
    """
    git = ["git", "-C", str(ROOT)]
    if ref is None:
        described = subprocess.run(
            [*git, "describe", "--always", "--dirty"], check=False, capture_output=True, text=True
        )
        return f"work tree at {described.stdout.strip() or 'unknown'}", None
    commit = subprocess.run([*git, "rev-parse", "--short", ref], capture_output=True, text=True, check=True)
    archive = subprocess.run([*git, "archive", commit.stdout.strip(), "src"], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(directory, filter="data")
    return f"commit {commit.stdout.strip()} (src/ exported, on PYTHONPATH)", str(directory / "src")


# --- report -----------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(rows: list[tuple[Result, str]]) -> str:
    lines = [
        "| Command | Runs | Median wall | Max wall | Median CPU | Peak RSS (max of runs) | Exit | Aim | Aim met |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for result, aim in rows:
        lines.append(
            f"| {result.label} | {len(result.runs)} | {result.median_seconds:.2f} s | {result.max_seconds:.2f} s "
            f"| {result.median_cpu_seconds:.2f} s | {result.peak_mb:.0f} MB | {result.exit_codes} | {aim} |"
        )
    return "\n".join(lines)


def within(result: Result, seconds: float, megabytes: float) -> bool:
    return result.max_seconds <= seconds and result.peak_mb <= megabytes


def rejected(result: Result) -> bool:
    return result.exit_codes == "1" and within(result, HOSTILE_SECONDS, HOSTILE_MB)


def check_accepted(results: list[Result], schema: Result) -> list[str]:
    """The generated config must be valid, and free of warnings, for dpm and for check-jsonschema alike."""
    failures = []
    for result in results:
        last = result.runs[-1]
        if result.exit_codes != "0":
            failures.append(f"{result.label} exited {result.exit_codes}: {last.stderr[-1500:]}")
        elif ": warning:" in last.stdout + last.stderr:
            failures.append(f"{result.label} warned on the generated config: {last.stdout[-1500:]}")
    if schema.exit_codes != "0":
        failures.append(f"check-jsonschema rejected the generated config: {schema.runs[-1].stdout[-1500:]}")
    return failures


def check_rejected(results: list[Result]) -> list[str]:
    """Hostile input must end in exit 1 with an error message, not a crash or a success."""
    failures = []
    for result in results:
        output = result.runs[-1].stdout + result.runs[-1].stderr
        if result.exit_codes != "1" or ": error:" not in output:
            failures.append(f"{result.label} was not rejected: exit {result.exit_codes}, output {output[-800:]!r}")
        else:
            print(f"    rejected with: {output.strip().splitlines()[0][:200]}", file=sys.stderr)
    return failures


def run(args: argparse.Namespace, work: Path) -> tuple[list[tuple[Result, str]], float, list[str]]:
    # Children get no DPM_* but the generated secrets, and Python's usual bytecode cache: it goes under the
    # temporary directory (filled by the warm-up run), so PYTHONDONTWRITEBYTECODE does not make every run
    # recompile dpm from source and the work tree gets no __pycache__.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DPM_", "PYTHONDONTWRITEBYTECODE"))}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    source, python_path = dpm_source(args.ref, work / "snapshot")
    if python_path:
        env["PYTHONPATH"] = python_path
    print(f"dpm code: {source}")
    env.update({secret_name(index): f"sk-bench-{index:04d}-0123456789abcdef" for index in range(args.providers)})
    files = generate(work, args.providers, args.models)
    size = sum(path.stat().st_size for path in files)
    print(f"generated {args.providers} providers x {args.models} models: {len(files)} files, {size / 1e6:.1f} MB")

    def dpm(label: str, *argv: str, discard_stdout: bool = False) -> Result:
        return measure(label, [str(DPM), *argv], work, env, args.repeat, discard_stdout=discard_stdout)

    startup = dpm("`dpm --version` (start-up only)", "--version")
    validate = dpm("`dpm validate providers.d`", "validate", "providers.d")
    render = dpm(
        "`dpm render providers.d --format json > /dev/null`",
        "render",
        "providers.d",
        "--format",
        "json",
        discard_stdout=True,
    )
    schema_argv = [str(CHECK_JSONSCHEMA), "--schemafile", str(DOCUMENT_SCHEMA), *(str(p) for p in files)]
    schema_label = "`check-jsonschema --schemafile schemas/document.schema.json` (schema only)"
    schema = measure(schema_label, schema_argv, work, env, args.repeat)
    failures = check_accepted([validate, render], schema)

    hostile = work / "hostile"
    hostile.mkdir()
    (hostile / "alias-bomb.yaml").write_text(alias_bomb())
    big_size = write_big_file(hostile / "big.yaml")
    bomb = dpm("`dpm validate alias-bomb.yaml` (9 levels x 9 aliases)", "validate", "hostile/alias-bomb.yaml")
    big = dpm(f"`dpm validate big.yaml` ({big_size / 2**20:.0f} MiB)", "validate", "hostile/big.yaml")
    failures += check_rejected([bomb, big])

    if args.keep:
        keep = Path(tempfile.mkdtemp(prefix="dpm-bench-kept-"))
        os.rename(work / "providers.d", keep / "providers.d")
        os.rename(work / "dpm.yaml", keep / "dpm.yaml")
        print(f"kept the generated config in {keep}", file=sys.stderr)

    aim = f"<= {AIM_SECONDS:.0f} s, <= {AIM_MB} MB"
    hostile_aim = f"exit 1, <= {HOSTILE_SECONDS:.0f} s, <= {HOSTILE_MB} MB"
    rows = [
        (startup, "- | -"),
        (validate, f"{aim} | {verdict(within(validate, AIM_SECONDS, AIM_MB))}"),
        (render, f"{aim} | {verdict(within(render, AIM_SECONDS, AIM_MB))}"),
        (schema, "- | -"),
        (bomb, f"{hostile_aim} | {verdict(rejected(bomb))}"),
        (big, f"{hostile_aim} | {verdict(rejected(big))}"),
    ]
    return rows, validate.median_seconds / schema.median_seconds, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ref", help="run dpm's src/ as of this git commit instead of the work tree (e.g. HEAD)")
    parser.add_argument("--keep", action="store_true", help="keep the generated config and print where")
    args = parser.parse_args()

    print(f"machine: nproc {len(os.sched_getaffinity(0))}, Python {platform.python_version()}, {platform.platform()}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="dpm-bench-") as temp:
        rows, ratio, failures = run(args, Path(temp))
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print()
    print(table(rows))
    print()
    print(f"Ratio dpm validate / check-jsonschema (median wall): {ratio:.2f} (aim <= 1: {verdict(ratio <= 1.0)})")
    if failures:
        print("\nProblems:", file=sys.stderr)
        for failure in failures:
            print(f"- {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
