"""Run the benchmarks and write one results file and one Markdown report.

    python bench/run_all.py                 # every notebook at full settings (make bench)
    python bench/run_all.py --smoke         # quick budgets, a few grading submissions (make bench-smoke)

Per notebook: wall-clock, peak memory and the numbers it reports (sslcourse.report_results); grading
throughput of the hidden suite with 1 and 2 workers. Results: bench/results.json and bench/REPORT.md.
Benchmarks never run in `make test`.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, run_notebook

sys.path.insert(0, str(ROOT))
from autograder.assignments import available  # noqa: E402


def machine() -> str:
    import os
    import torch
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {platform.python_version()}"


def grading_throughput(assignment: str, n: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "submitted"
        for i in range(n):
            folder = subs / f"s{i:03d}" / assignment
            folder.mkdir(parents=True)
            src = ROOT / ("solutions" if i % 2 == 0 else "notebooks") / assignment / f"{assignment}.ipynb"
            (folder / f"{assignment}.ipynb").write_bytes(src.read_bytes())
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder", "grade", assignment, str(subs), "--out",
                        str(Path(tmp) / "out"), "--workers", str(workers), "--quiet"], check=True, cwd=ROOT,
                       capture_output=True)
        seconds = time.perf_counter() - start
    return {"submissions": n, "workers": workers, "seconds": round(seconds, 1),
            "per_minute": round(60 * n / seconds, 1), "seconds_per_submission": round(seconds / n, 2)}


def report(results: dict) -> str:
    lines = [f"# Benchmarks", "", f"Measured on: {results['machine']} ({results['date']}).", "",
             "| notebook | wall-clock (s) | peak memory (MB) | errors | headline numbers |", "|---|---|---|---|---|"]
    for a, r in results["notebooks"].items():
        nums = r["results"].get(a, {})
        flat = ", ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in list(_flat(nums))[:8])
        lines.append(f"| {a} | {r['seconds']} | {r.get('peak_rss_mb', 0):.0f} | {len(r['errors'])} | {flat} |")
    lines += ["", "| grading | submissions | workers | s / submission | submissions / min |", "|---|---|---|---|---|"]
    for g in results["grading"]:
        lines.append(f"| {g['assignment']} | {g['submissions']} | {g['workers']} | {g['seconds_per_submission']} | {g['per_minute']} |")
    return "\n".join(lines) + "\n"


def _flat(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}/")
        else:
            yield f"{prefix}{k}", v


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--smoke", action="store_true", help="quick budgets: checks that the benchmark code works")
    p.add_argument("--out", default=str(ROOT / "bench"))
    a = p.parse_args()
    env = {"SSLCOURSE_QUICK": "1"} if a.smoke else {}
    notebooks = available()[:1] if a.smoke else available()
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "smoke": a.smoke, "notebooks": {}, "grading": []}
    for assignment in notebooks:
        print(f"running {assignment} ...", flush=True)
        results["notebooks"][assignment] = run_notebook(assignment, env=env)
    n = 4 if a.smoke else 20
    for workers in (1, 2):
        results["grading"].append({"assignment": "00_evaluation", **grading_throughput("00_evaluation", n, workers)})
    out = Path(a.out)
    name = "results-smoke" if a.smoke else "results"
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    (out / ("REPORT-smoke.md" if a.smoke else "REPORT.md")).write_text(report(results))
    print(report(results))
    errors = [x for r in results["notebooks"].values() for x in r["errors"]]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
