"""Benchmark of ``dpm apply`` and ``dpm plan`` against the registry server on loopback, side by side with a
per-resource client written as in the API guide's examples.

Run from the repository root::

    .venv/bin/python benchmarks/plan_apply_bench.py [--providers 1000] [--models 10] [--plan-repeat 3]
        [--per-resource-fraction 1.0]

What it does, all on 127.0.0.1:

1. Generates a config of N providers x M models in a temporary directory: ``providers.d/`` with one file per
   provider, each with an api key ``${{ secret.DPM_BENCH_KEY_nnnn }}``, and a ``dpm.yaml`` with vars. The secrets
   are set in the environment of the dpm runs.
2. Starts ``dpm serve`` (uvicorn, in a subprocess) on a free port with a fresh data directory and the rate limit
   raised to 1000000/900, so that the wall times measure dpm and the server, not waits for the rate-limit window.
3. ``dpm apply --auto-approve -v`` of the whole config onto the empty registry.
4. ``dpm plan --detailed-exitcode -v`` on the converged registry (exit code 0: no changes), ``--plan-repeat``
   times.
5. A per-resource client (httpx, sequential, one login, then one ``POST /admin/providers`` per provider and one
   ``POST /admin/providers/{id}/models`` per model, as in the guide) onto a second fresh, empty server. Its request
   bodies come from ``dpm render --format json`` (secrets filled in from the environment), built before timing.
   With ``--per-resource-fraction F < 1`` it sends only the first F of the providers (with their models) and
   extrapolates linearly, and says so.
6. Checks that both registries hold N providers and N x M models, and prints a Markdown table.

Measurement: each dpm run is a child of a small wrapper process (``python -c``) that reports
``resource.getrusage(RUSAGE_CHILDREN)``, so peak RSS is the dpm process's own, not this script's. Wall time is taken
in the wrapper around the child. Requests are counted twice: server-side from uvicorn's access log, and client-side
from dpm's ``-v`` log (``METHOD path -> status``); the table shows the server's count, and the script fails when the
two disagree. The dpm runs import dpm like this script does, so ``PYTHONPATH=<checkout>/src`` measures another
checkout than the installed one; the report prints which. Exit status 1 means the benchmark itself went wrong (a
run failed or the registries do not hold the config); a missed aim shows in the table only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
DPM = str(BIN / "dpm")
ADMIN = {"username": "admin", "password": "benchmark-admin-password"}
RATE_LIMIT = "1000000/900"
DEFAULT_LIMIT = (100, 15 * 60)  # the API's rate limit: 100 requests per 15 minutes
SECRET_PREFIX = "DPM_BENCH_KEY_"
PLAN_AIM_SECONDS = 3.0
PLAN_AIM_REQUESTS = 2  # 1 export + 1 login

# dpm -v logs "dpm: POST /admin/providers/export -> 200 (12 ms, request …)"; uvicorn logs
# '127.0.0.1:5555 - "POST /api/admin/providers/export HTTP/1.1" 200 OK'.
CLIENT_LINE = re.compile(r"^dpm: (GET|POST|PUT|PATCH|DELETE) (\S+) -> (\d{3}) \((\d+) ms", re.MULTILINE)
ACCESS_LINE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE) /api(\S*) HTTP/[\d.]+" (\d{3})')

# Runs argv[2:] as its only child and prints the child's exit code, wall time and peak RSS (ru_maxrss, KiB on
# Linux) as JSON on stdout; the child's stdout and stderr go to the files named by argv[1] + ".out" / ".err".
WRAPPER = """
import json, resource, subprocess, sys, time
base = sys.argv[1]
with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
    started = time.perf_counter()
    code = subprocess.call(sys.argv[2:], stdout=out, stderr=err)
    wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "wall": wall, "maxrss_kb": usage.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime}))
"""


# --- generation -------------------------------------------------------------------------------------------------


DPM_YAML = """\
vars:
  environment: benchmark
  default_context: 128000
scope: ["*"]
prune: false
"""

ROLES = ("[system, user, assistant]", "[user, assistant]", "[system, user, assistant, tool]")


def provider_id(index: int) -> str:
    return f"bench-provider-{index:04d}"


def secret_name(index: int) -> str:
    return f"{SECRET_PREFIX}{index:04d}"


def provider_yaml(index: int, models: int) -> str:
    roles = ROLES[index % len(ROLES)]
    lines = [
        "kind: Provider",
        f"identifier: {provider_id(index)}",
        f"name: Benchmark provider {index}",
        f"description: Generated provider {index} (${{{{ vars.environment }}}}).",
        f"apiEndpoint: https://api-{index:04d}.example.com/v1",
        "authMethod: api_key",
        "authConfig:",
        "  type: api_key",
        "  fields:",
        f"    apiKey: ${{{{ secret.{secret_name(index)} }}}}",
        "  headers:",
        '    Authorization: "Bearer {{apiKey}}"',
        "capabilities:",
        "  supportsSystemMessages: true",
        "  maxContextLength: ${{ vars.default_context }}",
        f"  supportedRoles: {roles}",
        "  supportsStreaming: true",
        "  supportsTools: true",
        "  rateLimits:",
        f"    requestsPerMinute: {1000 + index}",
        "    tokensPerMinute: 400000",
        "models:",
    ]
    for model in range(models):
        lines += [
            f"  - identifier: model-{index:04d}-{model:02d}",
            f"    name: Model {model} of provider {index}",
            f"    description: Generated model {model}, tier {model % 3}.",
            f"    contextLength: {8192 * (1 + model % 4)}",
        ]
        if model == 0:
            lines.append("    isDefault: true")
        lines += [
            "    capabilities:",
            "      supportsSystemMessages: true",
            f"      maxContextLength: {8192 * (1 + model % 4)}",
            f"      supportedRoles: {roles}",
            "      supportsStreaming: true",
            f"      supportsTools: {'true' if model % 2 == 0 else 'false'}",
            "      supportsFunctionCalling: true",
            "    pricingInfo:",
            f"      inputTokenPrice: {0.0001 * (1 + model):.4f}",
            f"      outputTokenPrice: {0.0003 * (1 + model):.4f}",
            "      currency: USD",
        ]
    if models == 0:
        lines[-1] = "models: []"
    return "\n".join(lines) + "\n"


def generate(directory: Path, providers: int, models: int) -> dict[str, str]:
    """Writes ``dpm.yaml`` and ``providers.d/``; returns the secrets the config references."""
    (directory / "dpm.yaml").write_text(DPM_YAML)
    config = directory / "providers.d"
    config.mkdir(parents=True)
    for index in range(providers):
        (config / f"{provider_id(index)}.yaml").write_text(provider_yaml(index, models))
    return {secret_name(index): f"sk-bench-{index:04d}-0123456789abcdef" for index in range(providers)}


# --- the server ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without DPM_*, CI or DEBUG, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DPM_") and k not in ("CI", "DEBUG")}
    return base | extra


@dataclass
class Server:
    url: str
    log: Path

    def requests(self) -> Counter[str]:
        """The requests the server has answered so far, by ``METHOD route``, ids folded to ``{id}``."""
        routes: Counter[str] = Counter()
        for method, path, _status in ACCESS_LINE.findall(self.log.read_text(errors="replace")):
            routes[f"{method} {_fold(path)}"] += 1
        return routes


def _fold(path: str) -> str:
    return re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27,}", "/{id}", path.split("?", maxsplit=1)[0])


@contextmanager
def running_server(work: Path, name: str) -> Iterator[Server]:
    """``dpm serve`` on a free loopback port over a fresh data directory; terminated on the way out."""
    data_dir = work / name
    data_dir.mkdir()
    port = free_port()
    env = clean_environment(
        DPM_SERVER_DATA_DIR=str(data_dir),
        DPM_SERVER_RATE_LIMIT=RATE_LIMIT,
        DPM_ADMIN_USERNAME=ADMIN["username"],
        DPM_ADMIN_PASSWORD=ADMIN["password"],
    )
    log = work / f"{name}.log"
    with log.open("wb") as sink:
        command = [DPM, "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dpm serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            # A bare TCP connect: an HTTP request would show in the request counts.
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("dpm serve did not start within 30 s")
            time.sleep(0.05)
        yield Server(f"http://127.0.0.1:{port}/api", log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# --- measured runs -------------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    code: int
    wall: float
    cpu: float
    peak_mb: float
    server_requests: Counter[str]
    client_requests: Counter[str] | None  # from dpm -v; None for runs without it
    route_seconds: dict[str, float]  # time spent waiting for responses, by route, from dpm -v
    stdout: str
    stderr: str

    @property
    def requests(self) -> int:
        return sum(self.server_requests.values())


def run_dpm(label: str, argv: list[str], *, cwd: Path, env: dict[str, str], server: Server, work: Path) -> Run:
    before = server.requests()
    base = work / label.replace(" ", "-")
    wrapper = [sys.executable, "-c", WRAPPER, str(base), DPM, *argv]
    done = subprocess.run(wrapper, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=True)
    result = json.loads(done.stdout)
    stdout = Path(f"{base}.out").read_text(errors="replace")
    stderr = Path(f"{base}.err").read_text(errors="replace")
    lines = CLIENT_LINE.findall(stderr)
    client: Counter[str] = Counter(f"{method} {_fold(path)}" for method, path, _status, _ms in lines)
    route_seconds: dict[str, float] = {}
    for method, path, _status, ms in lines:
        route = f"{method} {_fold(path)}"
        route_seconds[route] = route_seconds.get(route, 0.0) + int(ms) / 1000
    time.sleep(0.2)  # let uvicorn flush its access log
    return Run(
        label,
        result["code"],
        result["wall"],
        result["cpu"],
        result["maxrss_kb"] / 1000 * 1.024,  # KiB -> MB of 10^6 bytes
        server.requests() - before,
        client,
        route_seconds,
        stdout,
        stderr,
    )


def measured_code(env: dict[str, str]) -> str:
    """Where the dpm runs import dpm from (PYTHONPATH may point at another checkout than the installed one)."""
    script = "import dpm, dpm_server; print(dpm.__file__.rsplit('/', 2)[0])"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def rendered_config(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [DPM, "render", "--format", "json", "providers.d"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    config: dict[str, Any] = json.loads(done.stdout)
    return config


SECRET_MASK = re.compile(r"^\[secret (DPM_\w+) sha256:[0-9a-f]+\]$")


def _reveal(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        masked = SECRET_MASK.match(value)
        return env[masked.group(1)] if masked else value
    if isinstance(value, dict):
        return {k: _reveal(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v, env) for v in value]
    return value


# The fields of the API's CreateProviderRequest and CreateModelRequest.
CREATE_PROVIDER_FIELDS = ("identifier", "name", "description", "apiEndpoint", "authMethod", "authConfig")
CREATE_PROVIDER_FIELDS += ("capabilities",)
CREATE_MODEL_FIELDS = ("identifier", "name", "description", "contextLength", "capabilities", "pricingInfo")
CREATE_MODEL_FIELDS += ("isDefault",)


def per_resource_apply(server: Server, providers: list[dict[str, Any]], env: dict[str, str]) -> Run:
    """The guide's client: log in once, then one POST per provider and one POST per model, sequentially."""
    bodies = []
    for provider in providers:
        body = {k: _reveal(provider[k], env) for k in CREATE_PROVIDER_FIELDS if k in provider}
        models = [{k: m[k] for k in CREATE_MODEL_FIELDS if k in m} for m in provider.get("models", [])]
        bodies.append((body, models))
    before = server.requests()
    sent = 0
    started = time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        login = http.post("/auth/login", json=ADMIN)
        sent += 1
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        for body, models in bodies:
            created = http.post("/admin/providers", json=body, headers=headers)
            sent += 1
            created.raise_for_status()
            new_id = created.json()["id"]
            for model in models:
                http.post(f"/admin/providers/{new_id}/models", json=model, headers=headers).raise_for_status()
                sent += 1
    wall = time.perf_counter() - started
    time.sleep(0.2)
    counted = server.requests() - before
    if sum(counted.values()) != sent:
        raise RuntimeError(f"per-resource client sent {sent} requests, the server logged {sum(counted.values())}")
    return Run("per-resource client", 0, wall, float("nan"), float("nan"), counted, None, {}, "", "")


def registry_counts(server: Server) -> tuple[int, int, int]:
    """(providers, models, active providers) in the registry, by one export (after the measured runs)."""
    with httpx.Client(base_url=server.url, timeout=120) as http:
        token = http.post("/auth/login", json=ADMIN).json()["token"]
        body = {"includeModels": True, "includeTemplates": True}
        data = http.post("/admin/providers/export", json=body, headers={"Authorization": f"Bearer {token}"})
        data.raise_for_status()
        exported = data.json()["data"]
    active = sum(1 for p in exported["providers"] if p.get("status") == "active")
    return len(exported["providers"]), len(exported["models"]), active


# --- report --------------------------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    if seconds == 0:
        return "none"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def at_default_limit(requests: int) -> float:
    """Seconds that ``requests`` take at 100 per 15 minutes: every full window of 100 beyond the first waits."""
    limit, window = DEFAULT_LIMIT
    return max(0, (requests - 1) // limit) * window


def routes(run: Run) -> str:
    parts = []
    for route, n in sorted(run.server_requests.items(), key=lambda item: -item[1]):
        waited = run.route_seconds.get(route)
        parts.append(f"{n} x {route}" + (f" ({waited:.2f} s)" if waited is not None else ""))
    return ", ".join(parts)


def check_counts(run: Run) -> list[str]:
    if run.client_requests is not None and run.client_requests != run.server_requests:
        return [f"{run.label}: dpm logged {dict(run.client_requests)}, the server {dict(run.server_requests)}"]
    return []


@dataclass
class Results:
    providers: int
    models: int
    apply: Run
    plans: list[Run]
    per_resource: Run
    per_resource_providers: int  # how many providers the per-resource client sent
    code: str  # where the measured dpm was imported from
    problems: list[str]


def measure(providers: int, models: int, plan_repeat: int, fraction: float) -> Results:
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dpm-plan-apply-bench-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        repo.mkdir()
        secrets = generate(repo, providers, models)
        env = clean_environment(**secrets, DPM_USERNAME=ADMIN["username"], DPM_PASSWORD=ADMIN["password"])
        rendered = rendered_config(repo, env)

        with running_server(work, "registry-dpm") as server:
            env["DPM_REGISTRY_URL"] = server.url

            def dpm(label: str, *argv: str) -> Run:
                return run_dpm(label, list(argv), cwd=repo, env=env, server=server, work=work)

            applied = dpm("dpm apply", "apply", "--auto-approve", "-v", "providers.d")
            if applied.code != 0:
                problems.append(f"dpm apply exited {applied.code}: {applied.stderr[-3000:]}")
            plans = [
                dpm(f"dpm plan {i}", "plan", "--detailed-exitcode", "-v", "providers.d") for i in range(plan_repeat)
            ]
            problems += [f"dpm plan exited {p.code} (0 = no changes): {p.stdout[-2000:]}" for p in plans if p.code]
            problems += [p for run in [applied, *plans] for p in check_counts(run)]
            wanted = (providers, providers * models, providers)
            held = registry_counts(server)
            if held != wanted:
                problems.append(f"after dpm apply the registry holds {held} (providers, models, active), not {wanted}")

        count = max(1, round(providers * fraction))
        with running_server(work, "registry-per-resource") as server:
            per_resource = per_resource_apply(server, rendered["providers"][:count], env)
            wanted = (count, count * models, count)
            held = registry_counts(server)
            if held != wanted:
                problems.append(f"after the per-resource client the registry holds {held}, not {wanted}")
    return Results(providers, models, applied, plans, per_resource, count, measured_code(env), problems)


def report(results: Results) -> None:
    n, m, applied, plans = results.providers, results.models, results.apply, results.plans
    scale = n / results.per_resource_providers if results.per_resource_providers else 1.0
    pr_requests = round(results.per_resource.requests * scale)
    pr_wall = results.per_resource.wall * scale
    extrapolated = "" if scale == 1 else f", extrapolated x{scale:.2f} from {results.per_resource_providers} providers"
    plan_wall = statistics.median(p.wall for p in plans)
    plan_wall_max = max(p.wall for p in plans)
    plan_requests = max(p.requests for p in plans)
    aim = plan_requests <= PLAN_AIM_REQUESTS and plan_wall_max <= PLAN_AIM_SECONDS
    clean = all(p.code == 0 for p in plans)
    plan_in_requests = statistics.median(sum(p.route_seconds.values()) for p in plans)

    print(f"# dpm plan/apply benchmark: {n} providers x {m} models = {n * m} models\n")
    print(
        f"machine: nproc {len(os.sched_getaffinity(0))}, {platform.platform()}, Python {platform.python_version()}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"code: {results.code}")
    print(f"server: dpm serve (uvicorn, SQLite) on 127.0.0.1, DPM_SERVER_RATE_LIMIT={RATE_LIMIT}\n")
    print(
        "| run | requests | wall | of which in requests | CPU (dpm) | peak RSS (dpm) "
        "| waiting at 100 requests / 15 min | result |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| `dpm apply --auto-approve`, empty registry | {applied.requests} | {applied.wall:.2f} s | "
        f"{sum(applied.route_seconds.values()):.2f} s | {applied.cpu:.2f} s | {applied.peak_mb:.0f} MB | "
        f"{duration(at_default_limit(applied.requests))} | "
        f"{'converged, verified' if applied.code == 0 else f'exit {applied.code}'} |"
    )
    print(
        f"| `dpm plan`, converged registry (median of {len(plans)}; max) | {plan_requests} | "
        f"{plan_wall:.2f} s; {plan_wall_max:.2f} s | {plan_in_requests:.2f} s | "
        f"{statistics.median(p.cpu for p in plans):.2f} s | {max(p.peak_mb for p in plans):.0f} MB | none | "
        f"{'no changes' if clean else 'CHANGES'}; aim ≤ {PLAN_AIM_REQUESTS} requests, ≤ {PLAN_AIM_SECONDS:.0f} s: "
        f"{'met' if aim else 'MISSED'} |"
    )
    print(
        f"| per-resource client (httpx, sequential{extrapolated}) | {pr_requests} | {duration(pr_wall)} | "
        f"≈ all | - | - | {duration(at_default_limit(pr_requests))} | created |"
    )
    print(
        f"| ratio per-resource / `dpm apply` | {pr_requests / applied.requests:.0f}x | "
        f"{pr_wall / applied.wall:.1f}x | | | | | |"
    )
    print()
    print(f"- `dpm apply`: {routes(applied)}")
    print(f"- `dpm plan`: {routes(plans[0])}")
    print(f"- per-resource client: {routes(results.per_resource)}{extrapolated.replace(',', ';')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--plan-repeat", type=int, default=3)
    parser.add_argument(
        "--per-resource-fraction",
        type=float,
        default=1.0,
        help="send only this fraction of the providers (with their models) per resource, and extrapolate",
    )
    args = parser.parse_args()
    if args.providers < 1 or args.models < 0 or args.plan_repeat < 1 or not 0 < args.per_resource_fraction <= 1:
        parser.error("needs --providers >= 1, --models >= 0, --plan-repeat >= 1, 0 < --per-resource-fraction <= 1")
    results = measure(args.providers, args.models, args.plan_repeat, args.per_resource_fraction)
    report(results)
    if results.problems:
        print("\nPROBLEMS:", *results.problems, sep="\n- ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
