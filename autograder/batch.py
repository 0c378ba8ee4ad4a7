"""Grade many submissions: discovery, a pool of grader subprocesses, resume, progress, grades.csv.

Each submission is graded by its own ``python -m autograder.grade_one`` process (which in turn starts
the sandboxed worker). If that process dies or hangs, the batch writes a result for it anyway: every
submission gets exactly one result, and one bad submission never stops the batch.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .report import write_grades_csv, write_reports
from .sandbox import Limits


@dataclass
class Submission:
    student: str
    notebook: Path


def discover(assignment: str, paths: list[str]) -> list[Submission]:
    """Notebooks, nbgrader ``submitted/<student>/<assignment>/`` folders, or a whole ``submitted/``."""
    subs: list[Submission] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            parts = p.resolve().parts
            in_layout = len(parts) >= 4 and parts[-2] == assignment and parts[-4] == "submitted"
            student = parts[-3] if in_layout else p.stem
            subs.append(Submission(student, p))
        elif (p / f"{assignment}.ipynb").is_file():                     # submitted/<student>/<assignment>/
            subs.append(Submission(p.resolve().parent.name if p.name == assignment else p.name, p / f"{assignment}.ipynb"))
        elif (p / assignment).is_dir():                                  # submitted/<student>/
            nb = next(iter(sorted((p / assignment).glob("*.ipynb"))), p / assignment / f"{assignment}.ipynb")
            subs.append(Submission(p.name, nb))
        elif p.is_dir():                                                 # submitted/
            for student_dir in sorted(d for d in p.iterdir() if (d / assignment).is_dir()):
                nb = student_dir / assignment / f"{assignment}.ipynb"
                if not nb.exists():
                    nb = next(iter(sorted((student_dir / assignment).glob("*.ipynb"))), nb)
                subs.append(Submission(student_dir.name, nb))
        else:
            subs.append(Submission(p.stem, p))  # does not exist: graded as invalid, not skipped
    seen: set[str] = set()
    for s in subs:  # two notebooks with the same id: keep both, the second as <id>__2 (with a warning)
        base, n = s.student, 1
        while s.student in seen:
            n += 1
            s.student = f"{base}__{n}"
        if n > 1:
            print(f"warning: two submissions for {base!r}; grading {s.notebook} as {s.student!r}", file=sys.stderr)
        seen.add(s.student)
    return subs


def fallback_result(assignment: str, sub: Submission, status: str, reason: str) -> dict:
    from .suite_points import suite_tests
    tests = [{"name": t["name"], "id": t["id"], "description": t["description"], "max_score": t["points"],
              "score": 0.0, "status": "failed", "cause": status, "output": reason, "hint": "", "visible": False}
             for t in suite_tests(assignment)]
    return {"assignment": assignment, "student": sub.student, "submission": str(sub.notebook), "status": status,
            "reason": reason, "tests": tests, "defences": []}


def grade_submission(assignment: str, sub: Submission, out: Path, limits: Limits, seed: int | None = None) -> dict:
    """Grade one submission in a grader subprocess; return a short summary (never raises)."""
    dest = out / sub.student / assignment
    cmd = [sys.executable, "-m", "autograder.grade_one", assignment, str(sub.notebook), "--student", sub.student,
           "--out", str(dest), "--call-timeout", str(limits.call_timeout),
           "--submission-timeout", str(limits.submission_timeout), "--memory-mb", str(limits.memory_mb),
           "--load-timeout", str(limits.load_timeout)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    start = time.time()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limits.submission_timeout + 180)
        problem = None if proc.returncode == 0 else f"the grader process failed (exit {proc.returncode}): {proc.stderr[-400:]}"
    except subprocess.TimeoutExpired:
        problem = "the grader process did not finish in time"
    results = dest / "results.json"
    if problem or not results.exists():
        write_reports(fallback_result(assignment, sub, "crashed", problem or "no result was written"), dest)
    gs = json.loads(results.read_text())
    return {"student": sub.student, "score": gs["score"], "max_score": gs["max_score"],
            "status": gs["extra_data"]["status"], "seconds": round(time.time() - start, 1)}


def grade_batch(assignment: str, paths: list[str], out: Path, *, workers: int = 1, force: bool = False,
                limits: Limits | None = None, seed: int | None = None, progress: bool = True,
                dask: str | None = None) -> list[dict]:
    limits = limits or Limits()
    out.mkdir(parents=True, exist_ok=True)
    subs = discover(assignment, paths)
    todo = [s for s in subs if force or not (out / s.student / assignment / "results.json").exists()]
    summaries, failures = [], 0
    bar = tqdm(total=len(subs), initial=len(subs) - len(todo), desc=f"grading {assignment}", unit="sub",
               disable=not progress, dynamic_ncols=True)

    def done(summary):
        nonlocal failures
        summaries.append(summary)
        failures += summary["status"] != "ok"
        bar.set_postfix(failures=failures, refresh=False)
        bar.update(1)

    if dask:
        from .cluster import grade_on_dask
        grade_on_dask(dask, assignment, todo, out, limits, seed, done, workers=workers)
    else:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(grade_submission, assignment, s, out, limits, seed): s for s in todo}
            for fut in as_completed(futures):
                done(fut.result())
    bar.close()
    write_grades_csv(out, assignment)
    return summaries
