"""Benchmark of ``dpm plan`` against the floor of parsing the config: cold (no compile cache), warm (a re-plan
that finds every file in the cache) and ``--no-cache``, beside a PyYAML ``CSafeLoader`` parse of the same files.

Run from the repository root::

    .venv/bin/python benchmarks/plan_cache_bench.py [--providers 1000] [--models 10] [--rounds 5]
        [--before /path/to/other/checkout/src]

It generates the config of ``plan_apply_bench.py`` (N providers x M models, one file each, every api key a
``${{ secret.… }}``) in a temporary directory, starts ``dpm serve`` on loopback, applies the config once, and then
runs ``--rounds`` rounds, each of these processes one after the other (alternating, so that a change in the
machine's load touches every row alike):

- the parse floor: ``python -c`` that reads each file and ``yaml.load_all(..., Loader=yaml.CSafeLoader)``s it (a
  process, as the dpm runs are: start-up included);
- ``dpm plan --detailed-exitcode`` cold: ``.dpm/cache/`` removed first, so the run compiles every file and fills it;
- ``dpm plan`` warm: the same again, with the cache the cold run left;
- ``dpm plan --no-cache``;
- with ``--before SRC``, ``dpm plan`` of that checkout (``PYTHONPATH=SRC``; a commit without the cache, so every
  run of it is cold), alternating with the rows above.

Each process is the only child of a wrapper that reports its wall time and ``getrusage(RUSAGE_CHILDREN)`` CPU time
and peak RSS. The plans run with ``-v``, whose request log (``METHOD path -> status (N ms``) gives the time the
registry took to answer (its login and export, on a server sharing the machine); since dpm reads the registry while
it compiles, that time overlaps the rest and is shown beside the wall time, not taken from it. The table gives
medians, and each row's median over the parse floor's. Every plan must exit 0 (no changes), or the script fails.

The children get Python's usual bytecode cache, under the temporary directory (filled by warm-up runs), as an
installed dpm has it: this machine's ``PYTHONDONTWRITEBYTECODE`` would otherwise make each run compile dpm's modules
from source, about 0.06 s that no installed copy spends.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from plan_apply_bench import ADMIN, CLIENT_LINE, DPM, WRAPPER, clean_environment, generate, running_server

PARSE = """
import os, sys, yaml
directory = sys.argv[1]
for name in sorted(os.listdir(directory)):
    with open(os.path.join(directory, name), "rb") as handle:
        list(yaml.load_all(handle.read(), Loader=yaml.CSafeLoader))
"""


@dataclass
class Row:
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)  # waiting for the registry's answers, from dpm -v

    def add(self, result: dict[str, float]) -> None:
        self.walls.append(result["wall"])
        self.cpus.append(result["cpu"])
        self.peaks.append(result["maxrss_kb"] / 1000 * 1.024)
        self.waits.append(result.get("waited", 0.0))


def timed(argv: list[str], *, cwd: Path, env: dict[str, str], work: Path) -> dict[str, float]:
    base = work / "run"
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(base), *argv], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout)
    stderr = Path(f"{base}.err").read_text(errors="replace")
    if result["code"] != 0:
        raise RuntimeError(f"{argv} exited {result['code']}: {stderr[-2000:]}")
    result["waited"] = sum(int(ms) for *_, ms in CLIENT_LINE.findall(stderr)) / 1000
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", type=Path, help="the src/ of another checkout, measured alternately")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dpm-plan-cache-bench-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        repo.mkdir()
        secrets = generate(repo, args.providers, args.models)
        env = clean_environment(**secrets, DPM_USERNAME=ADMIN["username"], DPM_PASSWORD=ADMIN["password"])
        # Python's usual bytecode cache, as an installed dpm has it (pip compiles at install): under the temporary
        # directory, filled by the warm-up runs, so that PYTHONDONTWRITEBYTECODE does not make each run compile
        # dpm's modules from source.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        before_env = env | {"PYTHONPATH": str(args.before)} if args.before else None
        rows = {name: Row(name) for name in ("parse", "cold", "warm", "no-cache", "before")}
        loads = []
        with running_server(work, "registry") as server:
            env["DPM_REGISTRY_URL"] = server.url
            if before_env is not None:
                before_env["DPM_REGISTRY_URL"] = server.url
            timed([DPM, "apply", "--auto-approve", "providers.d"], cwd=repo, env=env, work=work)
            plan = [DPM, "plan", "--detailed-exitcode", "-v", "providers.d"]
            timed(plan, cwd=repo, env=env, work=work)  # warm-up: the bytecode cache
            if before_env is not None:
                timed(plan, cwd=repo, env=before_env, work=work)
            for _ in range(args.rounds):
                rows["parse"].add(timed([sys.executable, "-c", PARSE, "providers.d"], cwd=repo, env=env, work=work))
                shutil.rmtree(repo / ".dpm" / "cache", ignore_errors=True)
                rows["cold"].add(timed(plan, cwd=repo, env=env, work=work))
                rows["warm"].add(timed(plan, cwd=repo, env=env, work=work))
                rows["no-cache"].add(timed([*plan, "--no-cache"], cwd=repo, env=env, work=work))
                if before_env is not None:
                    rows["before"].add(timed(plan, cwd=repo, env=before_env, work=work))
                loads.append(os.getloadavg()[0])

    floor = statistics.median(rows["parse"].walls)
    print(f"# dpm plan and the parse floor: {args.providers} providers x {args.models} models\n")
    print(
        f"machine: nproc {len(os.sched_getaffinity(0))}, {platform.platform()}, Python {platform.python_version()}; "
        f"load average (1 min) during the rounds {min(loads):.2f}-{max(loads):.2f}; {args.rounds} rounds\n"
    )
    print("| run | median wall | min wall | median CPU | peak RSS | wall / parse floor | the registry's answers |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = {
        "parse": "parse floor: PyYAML `CSafeLoader`, same files (process)",
        "cold": "`dpm plan`, cold (empty cache, fills it)",
        "warm": "`dpm plan`, warm (every file cached)",
        "no-cache": "`dpm plan --no-cache`",
        "before": f"`dpm plan` of {args.before}",
    }
    for name, row in rows.items():
        if not row.walls:
            continue
        wall = statistics.median(row.walls)
        answers = f"{statistics.median(row.waits):.2f} s" if name != "parse" else "-"
        print(
            f"| {labels[name]} | {wall:.2f} s | {min(row.walls):.2f} s | {statistics.median(row.cpus):.2f} s | "
            f"{max(row.peaks):.0f} MB | {wall / floor:.2f}x | {answers} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
