"""`make bench-smoke`: the benchmark code itself works (quick budgets; the real numbers come from `make bench`)."""
import json
import subprocess
import sys

import pytest

from autograder.assignments import ROOT, solution_path

from conftest import quick_env

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not solution_path("05_distillation").exists(), reason="the smoke run uses 05_distillation")
def test_bench_smoke_writes_results_report_and_plots(tmp_path):
    env = quick_env()
    env.pop("SSLCOURSE_QUICK")  # the runner sets it itself in --smoke
    proc = subprocess.run([sys.executable, "run_all.py", "--smoke", "--out", str(tmp_path)], cwd=ROOT / "bench",
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "results-smoke.json").read_text())
    run = results["notebooks"]["05_distillation"]
    assert run["errors"] == [] and run["seconds"] > 0 and run["peak_rss_mb"] > 100
    assert any(k.startswith("run-") and v["examples_per_s"] > 0 for k, v in run["results"].items())
    # two seeds of the table rows of that notebook, with a spread
    for method in ("BYOL", "DINO"):
        cell = results["table"][method]["linear"]
        assert len(cell["values"]) == 2 and 0 <= cell["mean"] <= 1 and cell["std"] >= 0
    seed1 = results["seed_runs"]["1"]["05_distillation"]
    assert seed1["errors"] == [] and seed1["results"]["run-byol"]["steps"] == run["results"]["run-byol"]["steps"], \
        "the other seeds repeat the steps of seed 0"
    baselines = results["seed_runs"]["1"]["00_evaluation"]  # seeds 1, 2 run only the baseline code of 00
    assert baselines["errors"] == [] and set(baselines["results"]["baselines"]) == {"raw pixels", "random init",
                                                                                  "supervised"}
    assert len(results["table"]["supervised"]["linear"]["values"]) == 1  # the smoke has seeds 0 and 1
    assert set(results["curves"]) == {"BYOL", "DINO"}  # the curve has its end point even in 3 quick steps
    tools = {g["tool"]: g for g in results["grading"]}
    assert len(tools) == 2 and all(g["graded"] == g["submissions"] > 0 and g["per_minute"] > 0 for g in tools.values())
    report = (tmp_path / "REPORT-smoke.md").read_text()
    assert "| BYOL |" in report and "nbgrader autograde" in report and "![representation quality]" in report
    assert (tmp_path / "quality.png").stat().st_size > 10_000 and (tmp_path / "curves.png").exists()
