"""Grading on a Dask cluster: the same per-submission task, shipped to ``dask worker`` processes.

``python -m autograder grade A submitted/ --out out/ --dask tcp://scheduler:8786`` (or ``--dask local``
for a ``LocalCluster`` on this machine). Each task carries the notebook's bytes (workers need no shared
file system), grades it in a fresh grader subprocess on the worker (which starts the sandboxed worker
there), and returns plain JSON; the client writes every result into the usual output layout. When a
Dask worker dies mid-task, the scheduler reruns its tasks elsewhere; the client writes each submission's
result once, atomically, so every submission ends with exactly one result.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .report import write_reports
from .sandbox import Limits


def grade_task(assignment: str, student: str, notebook: bytes, limits: dict, seed: int | None) -> dict:
    """Runs on a Dask worker: grade one notebook (given as bytes) and return the result dict."""
    with tempfile.TemporaryDirectory(prefix="sslcourse-dask-") as tmp:
        nb_path = Path(tmp) / f"{assignment}.ipynb"
        nb_path.write_bytes(notebook)
        out = Path(tmp) / "out" / student / assignment
        cmd = [sys.executable, "-m", "autograder.grade_one", assignment, str(nb_path), "--student", student,
               "--out", str(out), "--call-timeout", str(limits["call_timeout"]),
               "--submission-timeout", str(limits["submission_timeout"]), "--memory-mb", str(limits["memory_mb"]),
               "--load-timeout", str(limits["load_timeout"])]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limits["submission_timeout"] + 180)
            ok = proc.returncode == 0 and (out / "details.json").exists()
            problem = "" if ok else f"the grader process failed (exit {proc.returncode}): {proc.stderr[-300:]}"
        except subprocess.TimeoutExpired:
            ok, problem = False, "the grader process did not finish in time"
        if not ok:
            return {"__failed__": problem}
        return json.loads((out / "details.json").read_text())


def _client(address: str, workers: int):
    from distributed import Client, LocalCluster

    if address == "local":
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    return Client(address), None


def grade_on_dask(address: str, assignment: str, subs: list, out: Path, limits: Limits, seed, done, *,
                  workers: int = 1) -> None:
    from distributed import as_completed

    from .batch import fallback_result

    client, cluster = _client(address, workers)
    try:
        lim = {"call_timeout": limits.call_timeout, "submission_timeout": limits.submission_timeout,
               "memory_mb": limits.memory_mb, "load_timeout": limits.load_timeout}
        futures = {}
        for sub in subs:
            try:
                data = Path(sub.notebook).read_bytes()
            except OSError:
                data = b""  # graded as invalid, like a broken upload
            fut = client.submit(grade_task, assignment, sub.student, data, lim, seed, key=f"grade-{assignment}-{sub.student}",
                                pure=False, retries=2)
            futures[fut] = sub
        written = set()
        for fut in as_completed(list(futures)):
            sub = futures[fut]
            if sub.student in written:
                continue
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - the task itself failed on every retry
                result = {"__failed__": f"the cluster could not grade it: {type(exc).__name__}: {exc}"}
            if "__failed__" in result:
                result = fallback_result(assignment, sub, "crashed", result["__failed__"])
            result["student"] = sub.student
            dest = out / sub.student / assignment
            write_reports(result, dest)
            written.add(sub.student)
            gs = json.loads((dest / "results.json").read_text())
            done({"student": sub.student, "score": gs["score"], "max_score": gs["max_score"],
                  "status": gs["extra_data"]["status"], "seconds": result.get("execution_time", 0)})
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
