"""The benchmarks workflow parses, is a thin call of benchmarks/ci.sh, and runs only what the repository has."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from harness.commands.bench_ci import MODES

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "benchmarks.yml"
SCRIPT_MODES = (*MODES, "install", "comment")  # ci.sh's own modes besides bench-ci's
ACTIONS = ("actions/checkout@", "actions/setup-python@", "actions/cache@", "actions/upload-artifact@")


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def run_lines(step: dict) -> list[list[str]]:
    return [shlex.split(line) for line in step["run"].splitlines() if line.strip() and not line.startswith("#")]


def test_the_workflow_parses_and_runs_on_pull_requests_and_pushes_to_main() -> None:
    document = workflow()
    triggers = document[True] if True in document else document["on"]  # YAML 1.1 reads `on` as true
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    assert set(document["jobs"]) == {"change", "history"}
    assert "pull_request" in document["jobs"]["change"]["if"] and "push" in document["jobs"]["history"]["if"]


def test_every_step_runs_a_script_of_this_repository_or_a_stock_action() -> None:
    for name, job in workflow()["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                assert step["uses"].startswith(ACTIONS), f"{name}: {step['uses']}"
                continue
            for words in run_lines(step):
                assert words[0] == "bash", f"{name}: {words} is not a repository script"
                script = ROOT / words[1]
                assert script.is_file(), f"{name}: {words[1]} does not exist"
                assert words[2] in SCRIPT_MODES, f"{name}: unknown mode {words[2]}"
                assert f"  {words[2]})" in script.read_text() or words[2] in MODES


def test_the_change_job_gates_and_the_history_job_keeps_results_and_publishes_html() -> None:
    jobs = workflow()["jobs"]
    modes = {name: [w[2] for s in job["steps"] if "run" in s for w in run_lines(s)] for name, job in jobs.items()}
    assert "change" in modes["change"] and "history" in modes["history"]
    assert jobs["change"]["steps"][0]["with"]["fetch-depth"] == 0  # asv builds the base commit too
    cached = [s["with"]["path"] for s in jobs["history"]["steps"] if str(s.get("uses", "")).startswith("actions/cache")]
    assert ".asv/results" in cached
    uploaded = [s["with"]["path"] for s in jobs["history"]["steps"]
                if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert ".asv/html" in uploaded
