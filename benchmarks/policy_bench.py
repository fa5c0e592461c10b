"""Benchmark of policies: ``dpm validate`` on the 1,000 x 10 config of ``config_bench.py``, without policies and with
the recommended pack plus five custom policies (every target that validate checks, globs, and a waiver).

Run from the repository root::

    .venv/bin/python benchmarks/policy_bench.py [--providers 1000] [--models 10] [--repeat 5]

Each run is a separate ``dpm`` process, reaped with ``os.wait4`` (``config_bench.measure``); the two configs differ
only in ``dpm.yaml``'s ``extends``/``waivers`` and the ``policies/`` folder. The aim of issue 13: with policies,
at most 1.25 times the median time without, judged on CPU time, which load beside the runs disturbs least. Exit
status 1 means the benchmark went wrong (a run failed, or a policy found something in the generated config, which
satisfies all of them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config_bench import DPM, DPM_YAML, generate, measure, secret_name

AIM_RATIO = 1.25

POLICIES = """\
kind: Policy
name: bench-https
description: Providers use HTTPS.
target: Provider
match: {identifiers: ["bench-*"]}
rule: {properties: {apiEndpoint: {pattern: "^https://"}}}
---
kind: Policy
name: bench-context
description: Models read at least 4096 tokens.
severity: warning
target: Model
rule: {properties: {contextLength: {minimum: 4096}}}
---
kind: Policy
name: bench-prices
description: Prices are not negative and below 1 per token.
target: Model
match: {identifiers: ["bench-provider-0*/*", "bench-provider-1*/*"]}
rule:
  properties:
    pricingInfo:
      properties:
        inputTokenPrice: {minimum: 0, maximum: 1}
        outputTokenPrice: {minimum: 0, maximum: 1}
---
kind: Policy
name: bench-roles
description: Every provider takes user messages.
target: Provider
rule: {properties: {capabilities: {properties: {supportedRoles: {contains: {const: user}}}}}}
---
kind: Policy
name: bench-names
description: Names are short.
target: Provider
rule: {properties: {name: {maxLength: 80}}, required: [name]}
"""
POLICY_YAML = (
    DPM_YAML
    + """extends: ["dpm:recommended"]
waivers:
  - policy: bench-names
    identifier: bench-provider-0000
    reason: the benchmark's waiver, matched against every finding
    expires: 2099-12-31
"""
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dpm-policy-bench-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DPM_", "PYTHONDONTWRITEBYTECODE"))}
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        env.update({secret_name(i): f"sk-bench-{i:04d}-0123456789abcdef" for i in range(args.providers)})
        plain, guarded = work / "plain", work / "guarded"
        for directory in (plain, guarded):
            directory.mkdir()
            generate(directory, args.providers, args.models)
        (guarded / "dpm.yaml").write_text(POLICY_YAML)
        (guarded / "policies").mkdir()
        (guarded / "policies" / "bench.yaml").write_text(POLICIES)
        argv = [str(DPM), "validate", "providers.d"]
        without = measure("dpm validate, no policies", argv, plain, env, args.repeat)
        with_policies = measure("dpm validate, recommended + 5 policies", argv, guarded, env, args.repeat)
        if any(run.exit_code != 0 or "policy" in run.stdout for run in without.runs + with_policies.runs):
            print(with_policies.runs[-1].stdout[-2000:], file=sys.stderr)
            return 1
        ratio = with_policies.median_seconds / without.median_seconds
        cpu_ratio = with_policies.median_cpu_seconds / without.median_cpu_seconds
        load = os.getloadavg()[0]
        print("| run | median wall | median CPU | peak RSS |\n|---|---:|---:|---:|")
        for result in (without, with_policies):
            print(
                f"| {result.label} | {result.median_seconds:.2f} s | {result.median_cpu_seconds:.2f} s "
                f"| {result.peak_mb:.0f} MB |"
            )
        verdict = "met" if cpu_ratio <= AIM_RATIO else "missed"  # CPU: on a shared machine, wall time is noise
        print(f"ratio: wall {ratio:.2f}, CPU {cpu_ratio:.2f} (aim at most {AIM_RATIO}: {verdict}); load {load:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
