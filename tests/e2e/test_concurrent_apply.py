"""Two reviewed plans applied at the same moment: one wins, the other exits 3, and the registry holds one plan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import yaml

from tests.e2e.conftest import ADMIN, DPM, Server, clean_environment, run_dpm

ROUNDS = 20
KEY = "sk-canary-concurrent-31f0"


def _repo(root: Path, round_: int, author: str) -> Path:
    """A config that creates conc<round>-20 … conc<round>-39, each with one model, described as ``author``'s."""
    repo = root / f"round-{round_}-{author}"
    (repo / "providers.d").mkdir(parents=True)
    (repo / "dpm.yaml").write_text("scope: ['*']\n")
    documents = [
        {
            "kind": "Provider",
            "identifier": f"conc{round_}-{n}",
            "name": f"Concurrent {n}",
            "description": f"planned by {author}",
            "apiEndpoint": "https://api.example.com/v1",
            "authMethod": "api_key",
            "authConfig": {
                "type": "api_key",
                "fields": {"apiKey": "${{ secret.DPM_CONC_KEY }}"},
                "headers": {"Authorization": "Bearer {{apiKey}}"},
            },
            "capabilities": {
                "supportsSystemMessages": True,
                "maxContextLength": 8192,
                "supportedRoles": ["user", "assistant"],
                "supportsStreaming": True,
                "supportsTools": False,
            },
            "models": [
                {
                    "identifier": "m",
                    "name": f"Model of {author}",
                    "contextLength": 8192,
                    "capabilities": {
                        "supportsSystemMessages": True,
                        "maxContextLength": 8192,
                        "supportedRoles": ["user", "assistant"],
                        "supportsStreaming": True,
                        "supportsTools": False,
                        "supportsFunctionCalling": False,
                    },
                }
            ],
        }
        for n in range(20, 40)
    ]
    (repo / "providers.d" / "conc.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return repo


def _descriptions(server: Server, round_: int) -> dict[str, str]:
    with httpx.Client(base_url=server.url) as http:
        token = http.post("/auth/login", json={"username": "admin", "password": ADMIN["DPM_PASSWORD"]}).json()["token"]
        export = http.post("/admin/providers/export", headers={"Authorization": f"Bearer {token}"}).json()
    found = {p["identifier"]: p["description"] for p in export["data"]["providers"]}
    return {k: v for k, v in found.items() if k.startswith(f"conc{round_}-")}


def test_two_saved_plans_applied_at_once_never_both_succeed(server: Server, tmp_path: Path) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, DPM_CONC_KEY=KEY, **ADMIN)
    for round_ in range(ROUNDS):
        plans = {}
        for author in ("alice", "bob"):
            repo = _repo(tmp_path, round_, author)
            made = run_dpm("plan", "-o", "reviewed.plan", cwd=repo, env=env)
            assert made.exit_code == 0, made.err
            assert "Plan: 40 to create" in made.out
            plans[author] = repo

        running = {
            author: subprocess.Popen(
                [DPM, "apply", "--plan", "reviewed.plan"],
                cwd=repo,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for author, repo in plans.items()
        }
        results = {author: (process.wait(timeout=120), *process.communicate()) for author, process in running.items()}

        codes = sorted(code for code, _, _ in results.values())
        assert codes == [0, 3], f"round {round_}: {results}"
        winner = next(author for author, (code, _, _) in results.items() if code == 0)
        loser_out, loser_err = next((out, err) for code, out, err in results.values() if code == 3)
        assert "now exists (the plan would create it)" in loser_out + loser_err
        assert "Verified" not in loser_out
        assert set(_descriptions(server, round_).values()) == {f"planned by {winner}"}
        for _, out, err in results.values():
            assert KEY not in out + err
