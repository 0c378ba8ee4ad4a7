"""Run the benchmarks and write one results file and one Markdown report with plots.

    python bench/run_all.py                 # make bench: everything below, under 30 minutes on 2 cores
    python bench/run_all.py --seeds 1       # one seed only (no spread, no curves): about 15 minutes
    python bench/run_all.py --smoke         # make bench-smoke: quick budgets, checks the benchmark code

1. **Notebooks** (seed 0, each alone on the machine): every solution notebook at full settings in a fresh
   kernel: wall-clock, peak memory, training throughput (examples per second of each training run, from
   ``sslcourse.train``) and the numbers the notebook reports (``sslcourse.report_results``).
2. **Seeds 1 and 2** of the notebooks behind the representation table, side by side (one process and one
   torch thread per seed). Every training run repeats exactly the number of steps that seed 0 did in its
   time budget alone (``SSLCOURSE_STEPS``), so running side by side changes the wall-clock, never the
   budget. The side experiments that feed no row of the table (CPC, the MoCo queue sweep, the collapse
   runs, the masked language model) get tiny budgets through an injected parameters cell, papermill-style,
   or a twentieth of seed 0's steps (the MAE with norm_pix_loss: its row shows seed 0 only); the baseline
   rows run only the code of notebook 00 that makes them (``baseline_results``).
   These runs also record accuracy against training time (``SSLCOURSE_CURVE``: linear probe and kNN after
   the steps seed 0 had done at 10, 30 and 60 s, and at the end) for SimCLR, MoCo, BYOL, DINO.
3. **Grading**: the hidden suite of 00_evaluation on a batch of submissions (half solutions, half blank
   releases) with 1 and 2 workers, and plain ``nbgrader autograde`` on a smaller batch of the same kind.

Writes bench/results.json, bench/REPORT.md, bench/quality.png and bench/curves.png (``--out`` elsewhere).
Benchmarks never run in ``make test``.
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
import time
from pathlib import Path

from common import ROOT, run_notebook

sys.path.insert(0, str(ROOT))
from autograder.assignments import available  # noqa: E402

# Rows of the representation table: (method, notebook, {metric: path into the results that notebook's run
# reported}). Every row is the reference evaluation (sslcourse.evaluate: L-BFGS linear probe, majority-vote
# kNN with k=20 on cosine similarity); the baselines come from sslcourse.save_baselines, which notebook 00 calls.
def probe(*path: str) -> dict:
    """Linear-probe and kNN paths of a result reported as ``{..., path: {"linear": x, "knn": y}}``."""
    return {"linear": [*path, "linear"], "knn": [*path, "knn"]}


TABLE = [
    ("raw pixels", "00_evaluation", probe("baselines", "raw pixels")),
    ("random init (CNN)", "00_evaluation", probe("baselines", "random init")),
    ("supervised", "00_evaluation", probe("baselines", "supervised")),
    ("relative position", "03_pretext_tasks", probe("03_pretext_tasks", "relative position")),
    ("rotation", "03_pretext_tasks", probe("03_pretext_tasks", "rotation")),
    ("random init (ViT)", "02_masked_modeling", probe("02_masked_modeling", "probe", "random-init ViT")),
    ("MAE (pixels)", "02_masked_modeling", probe("02_masked_modeling", "probe", "MAE (pixels)")),
    ("MAE (norm_pix)", "02_masked_modeling", probe("02_masked_modeling", "probe", "MAE (norm_pix)")),
    ("SimCLR", "04_contrastive", probe("04_contrastive", "SimCLR")),
    ("MoCo (K=4096)", "04_contrastive", probe("04_contrastive", "MoCo (K=4096)")),
    ("BYOL", "05_distillation", probe("05_distillation", "BYOL")),
    ("DINO", "05_distillation", probe("05_distillation", "DINO")),
    ("CLIP", "06_clip", {"linear": ["06_clip", "linear_probe"], "zero-shot": ["06_clip", "zero_shot", "shape"]}),
]
# Seeds 1, 2: side experiments that feed no table row shrink to almost nothing (full-setting units).
SEED_PARAMETERS = {
    "02_masked_modeling": {"MLM_SECONDS": 1},
    "04_contrastive": {"CPC_SECONDS": 1, "QUEUE_SIZES": (4096,)},
    "05_distillation": {"COLLAPSE_STEPS": 5},
}
# Seeds 1, 2: {training run's desc: its table row}: replayed with a twentieth of seed 0's steps, so the row
# shows seed 0 alone. The MAE with norm_pix_loss is the notebook's comparison with the pixel-loss MAE.
SEED0_ONLY = {"MAE (norm_pix)": "MAE (norm_pix)"}
CURVE_MARKS = "10,30,60"
CURVES = {"SimCLR": "curve-simclr", "MoCo (K=4096)": "curve-moco--queue-4096", "BYOL": "curve-byol",
          "DINO": "curve-dino"}


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, Python {platform.python_version()}"


def dig(d, path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d if isinstance(d, (int, float)) else None


# ------------------------------------------------------------------------------------------ grading
def make_batch(folder: Path, assignment: str, n: int) -> Path:
    subs = folder / "submitted"
    for i in range(n):
        student = subs / f"s{i:03d}" / assignment
        student.mkdir(parents=True)
        src = ROOT / ("solutions" if i % 2 == 0 else "notebooks") / assignment / f"{assignment}.ipynb"
        (student / f"{assignment}.ipynb").write_bytes(src.read_bytes())
    return subs


def grading_throughput(assignment: str, n: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        subs = make_batch(Path(tmp), assignment, n)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder", "grade", assignment, str(subs), "--out",
                        str(Path(tmp) / "out"), "--workers", str(workers), "--quiet"], check=True, cwd=ROOT,
                       capture_output=True)
        seconds = time.perf_counter() - start
        grades = (Path(tmp) / "out" / "grades.csv").read_text().splitlines()
    return {"tool": "course autograder (hidden suite)", "submissions": n, "workers": workers,
            "seconds": round(seconds, 1), "per_minute": round(60 * n / seconds, 1),
            "seconds_per_submission": round(seconds / n, 2), "graded": len(grades) - 1}


def nbgrader_throughput(assignment: str, n: int) -> dict:
    """Plain ``nbgrader autograde`` of the same kind of batch (it runs every notebook, one at a time)."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        for folder in ("solutions", "notebooks"):
            shutil.copytree(ROOT / folder / assignment, course / folder / assignment)
        make_batch(course, assignment, n)
        env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
        nb = [sys.executable, "-m", "nbgrader"]
        subprocess.run(nb + ["generate_assignment", assignment, "--force"], check=True, cwd=course, env=env,
                       capture_output=True)
        start = time.perf_counter()
        subprocess.run(nb + ["autograde", assignment, "--create", "--force"], check=True, cwd=course, env=env,
                       capture_output=True)
        seconds = time.perf_counter() - start
    return {"tool": "nbgrader autograde (whole notebooks)", "submissions": n, "workers": 1,
            "seconds": round(seconds, 1), "per_minute": round(60 * n / seconds, 1),
            "seconds_per_submission": round(seconds / n, 2), "graded": n}


# ------------------------------------------------------------------------------------------ summaries
def representation_table(runs: dict[int, dict]) -> dict:
    """{method: {metric: {"mean", "std", "values"}}} over the seeds that reported the number."""
    table = {}
    for method, notebook, metrics in TABLE:
        row = {}
        for metric, path in metrics.items():
            seeds = [0] if method in SEED0_ONLY.values() else sorted(runs)
            values = [v for seed in seeds if seed in runs
                      if (v := dig(runs[seed].get(notebook, {}).get("results", {}), path)) is not None]
            if values:
                row[metric] = {"mean": statistics.fmean(values),
                               "std": statistics.stdev(values) if len(values) > 1 else 0.0, "values": values}
        if row:
            table[method] = row
    return table


def curves(runs: dict[int, dict]) -> dict:
    """{method: [{"seconds", "linear", "knn", "n"}...]}: points averaged over seeds, by mark."""
    out = {}
    for method, key in CURVES.items():
        series = [r["results"][key]["curve"] for seed in runs for nb, r in runs[seed].items()
                  if key in r.get("results", {})]
        if not series:
            continue
        points = []
        for i in range(min(len(s) for s in series)):
            group = [s[i] for s in series]
            points.append({"seconds": statistics.fmean(p["seconds"] for p in group),
                           "linear": statistics.fmean(p["linear"] for p in group),
                           "knn": statistics.fmean(p["knn"] for p in group), "n": len(group)})
        out[method] = points
    return out


def throughput(run: dict) -> list[str]:
    items = []
    for key, value in sorted(run.get("results", {}).items()):
        if key.startswith("run-") and value.get("examples_per_s"):
            items.append(f"{value['method']}: {value['examples_per_s']:,.0f}/s")
    return items


def plots(results: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    files = []
    table = results["table"]
    if table:
        methods = list(table)
        fig, ax = plt.subplots(figsize=(12, 4))
        x = np.arange(len(methods))
        for j, metric in enumerate(("linear", "knn", "zero-shot")):
            means = [table[m].get(metric, {}).get("mean", np.nan) for m in methods]
            stds = [table[m].get(metric, {}).get("std", 0) for m in methods]
            ax.bar(x + (j - 1) * 0.27, means, 0.27, yerr=stds, capsize=3, label=metric)
        ax.set_xticks(x, methods, rotation=25, ha="right")
        ax.set_ylabel("test accuracy (10 shape classes)")
        ax.set_ylim(0, 1)
        ax.axhline(0.1, color="gray", ls=":", lw=1)
        ax.legend(ncol=3)
        ax.set_title(f"Frozen features on shapes: mean and spread over {results['seeds']} seed(s)")
        fig.tight_layout()
        fig.savefig(out / "quality.png", dpi=110)
        plt.close(fig)
        files.append("quality.png")
    if results["curves"]:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
        for method, points in results["curves"].items():
            for ax, metric in zip(axes, ("linear", "knn")):
                ax.plot([p["seconds"] for p in points], [p[metric] for p in points], "o-", label=method)
        for ax, metric in zip(axes, ("linear probe", "kNN")):
            ax.set_xlabel("training time (s)")
            ax.set_title(f"{metric} accuracy against training time")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("test accuracy")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(out / "curves.png", dpi=110)
        plt.close(fig)
        files.append("curves.png")
    return files


def pct(cell: dict | None) -> str:
    if not cell:
        return "–"
    return f"{100 * cell['mean']:.1f}" + (f" ± {100 * cell['std']:.1f}" if len(cell["values"]) > 1 else "")


def report(results: dict) -> str:
    lines = ["# Benchmarks", "", f"Measured on: {results['machine']}, {results['date']}; `make bench` took "
             f"{results['total_seconds'] / 60:.1f} min" + (" (smoke: quick budgets)" if results["smoke"] else "") + ".",
             "", "Seed 0 runs every notebook at full settings, one at a time, alone on the machine. Seeds 1 "
             "and 2 run the notebooks behind the table side by side (one torch thread each), every training "
             "run repeating exactly the steps seed 0 did in its time budget: the same budget, whatever the "
             "clock. Every accuracy is the course's reference evaluation of frozen features (L-BFGS linear probe; "
             "kNN: majority vote of the 20 nearest training images by cosine similarity).", "", "## Notebooks at full settings (seed 0, one at a time)", "",
             "| notebook | wall-clock (s) | peak memory (MB) | errors | training throughput (examples/s) |",
             "|---|---|---|---|---|"]
    for a, r in results["notebooks"].items():
        lines.append(f"| {a} | {r['seconds']} | {r.get('peak_rss_mb', 0):.0f} | {len(r['errors'])} | "
                     f"{'; '.join(throughput(r)) or '–'} |")
    lines += ["", f"## Representation quality on shapes (test accuracy %, mean ± std over {results['seeds']} seed(s))",
              "", "| method | linear probe | kNN | zero-shot |", "|---|---|---|---|"]
    for method, row in results["table"].items():
        label = f"{method} (seed 0 only)" if method in SEED0_ONLY.values() else method
        lines.append(f"| {label} | {pct(row.get('linear'))} | {pct(row.get('knn'))} | {pct(row.get('zero-shot'))} |")
    if "quality.png" in results["plots"]:
        lines += ["", "![representation quality](quality.png)"]
    if results["curves"]:
        lines += ["", "## Accuracy against training time (linear probe / kNN, %)", "",
                  "Seeds 1 and 2, probed after the number of steps seed 0 had done alone at 10, 30 and 60 s "
                  "of training and at the end of its budget (\"–\": the budget ends before that time); the "
                  "times are seed 0's.", "",
                  "| method | 10 s | 30 s | 60 s | full budget |", "|---|---|---|---|---|"]
        for method, points in results["curves"].items():
            *before, last = points
            cells = []
            for mark in (10, 30, 60):
                p = next((p for p in before if abs(p["seconds"] - mark) < 1), None)
                cells.append(f"{100 * p['linear']:.1f} / {100 * p['knn']:.1f}" if p else "–")
            cells.append(f"{100 * last['linear']:.1f} / {100 * last['knn']:.1f} ({last['seconds']:.0f} s)")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines += ["", "![accuracy against training time](curves.png)"]
    lines += ["", "## Grading throughput (00_evaluation, half solutions and half blank releases)", "",
              "| tool | submissions | workers | s / submission | submissions / min |", "|---|---|---|---|---|"]
    for g in results["grading"]:
        lines.append(f"| {g['tool']} | {g['submissions']} | {g['workers']} | {g['seconds_per_submission']} | "
                     f"{g['per_minute']} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ other seeds
def steps_of(run: dict) -> dict:
    """``{desc: {"steps", "seconds"}}`` of every training run of a notebook run (for ``SSLCOURSE_STEPS``)."""
    return {v["method"]: {"steps": v["steps"], "seconds": v["seconds"]}
            for k, v in run.get("results", {}).items() if k.startswith("run-") and v.get("steps")}


def other_seeds(seeds, notebooks: list[str], seed0: dict, quick: dict) -> dict[int, dict]:
    """Run the table notebooks for ``seeds``, one worker process per core, each seed in one worker."""
    seeds = list(seeds)
    if not seeds:
        return {}
    n_workers = max(1, min(len(seeds), os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    with tempfile.TemporaryDirectory() as tmp:
        for nb in notebooks:
            steps = steps_of(seed0.get(nb, {}))
            for desc in SEED0_ONLY:
                if desc in steps:
                    steps[desc]["steps"] = max(1, steps[desc]["steps"] // 20)
            (Path(tmp) / f"{nb}.steps.json").write_text(json.dumps(steps))
        procs = []
        for w in range(n_workers):
            mine = seeds[w::n_workers]
            cmd = [sys.executable, __file__, "--seed-worker", ",".join(map(str, mine)), "--steps-dir", tmp,
                   "--threads", str(threads), "--notebooks", ",".join(notebooks)] + (["--smoke"] if quick else [])
            print(f"[seeds {','.join(map(str, mine))}] {', '.join(notebooks)} ({threads} thread(s), "
                  f"{n_workers} side by side) ...", flush=True)
            procs.append(subprocess.Popen(cmd, cwd=Path(__file__).parent))
        for proc in procs:
            proc.wait()
        runs = {}
        for seed in seeds:
            path = Path(tmp) / f"seed{seed}.json"
            runs[seed] = json.loads(path.read_text()) if path.exists() else {}
    return runs


def run_baselines(env: dict) -> dict:
    """Seeds 1, 2 of the baseline rows: what notebook 00 calls (``train_supervised`` then ``save_baselines``)
    without the rest of that notebook, in a fresh process; it also caches the baselines the later notebooks
    of this seed compare with."""
    code = ("import sslcourse; sslcourse.set_threads(); from sslcourse.baselines import baseline_results; "
            "baseline_results(use_cache=False)")
    with tempfile.TemporaryDirectory() as results_dir:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, **env, "SSLCOURSE_RESULTS": results_dir})
        seconds = time.perf_counter() - start
        results = {p.stem: json.loads(p.read_text()) for p in Path(results_dir).glob("*.json")}
    errors = [] if proc.returncode == 0 else [proc.stderr.strip().splitlines()[-1] if proc.stderr.strip()
                                              else f"exit status {proc.returncode}"]
    return {"assignment": "00_evaluation (baselines only)", "seconds": round(seconds, 1), "errors": errors,
            "results": results}


def seed_worker(seeds: list[int], notebooks: list[str], steps_dir: str, threads: int, quick: dict) -> None:
    for seed in seeds:
        runs = {}
        for assignment in notebooks:
            env = {**quick, "SSLCOURSE_SEED": str(seed), "SSLCOURSE_CURVE": CURVE_MARKS,
                   "SSLCOURSE_STEPS": str(Path(steps_dir) / f"{assignment}.steps.json"),
                   "SSLCOURSE_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
            if assignment == "00_evaluation":
                runs[assignment] = run_baselines(env)
            else:
                runs[assignment] = run_notebook(assignment, env=env, allow_errors=True,
                                                parameters=SEED_PARAMETERS.get(assignment))
            print(f"  [seed {seed}] {assignment}: {runs[assignment]['seconds']} s", flush=True)
            (Path(steps_dir) / f"seed{seed}.json").write_text(json.dumps(runs))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--smoke", action="store_true", help="quick budgets: checks that the benchmark code works")
    p.add_argument("--seeds", type=int, default=3, help="seeds of the representation table (default 3)")
    p.add_argument("--out", default=str(ROOT / "bench"))
    p.add_argument("--seed-worker", help=argparse.SUPPRESS)  # internal: run these seeds (comma-separated)
    p.add_argument("--steps-dir", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--notebooks", help=argparse.SUPPRESS)
    a = p.parse_args()
    t0 = time.perf_counter()
    quick = {"SSLCOURSE_QUICK": "1"} if a.smoke else {}
    if a.seed_worker:
        seed_worker([int(x) for x in a.seed_worker.split(",")], a.notebooks.split(","), a.steps_dir, a.threads, quick)
        return 0
    seeds = 2 if a.smoke else a.seeds
    notebooks = ["05_distillation"] if a.smoke else available()  # smoke: table rows, curves and seeds of one notebook
    table_notebooks = sorted({nb for _, nb, _ in TABLE} & set(notebooks))
    if a.smoke:  # the smoke run also checks the baselines-only path of the other seeds (no seed 0 for it)
        table_notebooks = ["00_evaluation", *table_notebooks]
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "smoke": a.smoke, "seeds": seeds,
               "notebooks": {}, "seed_runs": {}, "grading": []}
    runs: dict[int, dict] = {0: {}}
    for assignment in notebooks:
        print(f"[notebooks] {assignment} at full settings ...", flush=True)
        runs[0][assignment] = results["notebooks"][assignment] = run_notebook(assignment, env=quick)
        print(f"  {results['notebooks'][assignment]['seconds']} s", flush=True)
    runs.update(other_seeds(range(1, seeds), table_notebooks, runs[0], quick))
    results["seed_runs"] = {str(s): r for s, r in runs.items() if s}
    results["table"] = representation_table(runs)
    results["curves"] = curves({s: r for s, r in runs.items() if s})
    n = 4 if a.smoke else 6  # make bench-grading measures 200 submissions
    for workers in (1, 2):
        print(f"[grading] {n} submissions, {workers} worker(s) ...", flush=True)
        results["grading"].append({"assignment": "00_evaluation", **grading_throughput("00_evaluation", n, workers)})
    print("[grading] nbgrader autograde ...", flush=True)
    results["grading"].append({"assignment": "00_evaluation", **nbgrader_throughput("00_evaluation", 2)})
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results["plots"] = plots(results, out)
    name = "results-smoke" if a.smoke else "results"
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    (out / ("REPORT-smoke.md" if a.smoke else "REPORT.md")).write_text(report(results))
    errors = [x for r in results["notebooks"].values() for x in r["errors"]]
    print(report(results))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
