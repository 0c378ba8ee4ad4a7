"""Shared benchmark helpers: execute a solution notebook at full settings in a fresh kernel and collect
its wall-clock time, peak memory and the numbers it reports through ``sslcourse.report_results``."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_watch(stop: threading.Event, out: dict) -> None:
    """Sample the resident memory of this process tree (the kernel is a child) every 0.2 s."""
    try:
        import psutil
    except ImportError:
        return
    me = psutil.Process()
    while not stop.is_set():
        try:
            rss = sum(p.memory_info().rss for p in [me, *me.children(recursive=True)])
            out["peak_rss_mb"] = max(out.get("peak_rss_mb", 0), rss / 2**20)
        except psutil.Error:
            pass
        stop.wait(0.2)


def inject_parameters(nb, parameters: dict) -> None:
    """Papermill's convention: a cell that overrides some budgets goes right after the ``parameters`` cell."""
    if not parameters:
        return
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "# injected by the benchmark\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


def run_notebook(assignment: str, *, env: dict | None = None, timeout: int = 1800, parameters: dict | None = None,
                 allow_errors: bool = False) -> dict:
    """Run ``solutions/<assignment>`` top to bottom; return seconds, peak memory and reported results.

    ``parameters`` override budgets of the notebook's parameters cell; ``allow_errors`` keeps going after
    a failing cell (its error is still reported)."""
    path = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, parameters or {})
    with tempfile.TemporaryDirectory() as results_dir:
        old = dict(os.environ)
        os.environ.update({"SSLCOURSE_RESULTS": results_dir, **(env or {})})
        for key in ("SSLCOURSE_QUICK", "NBGRADER_EXECUTION", "MPLBACKEND"):
            if key not in (env or {}):
                os.environ.pop(key, None)
        stop, mem = threading.Event(), {}
        watcher = threading.Thread(target=_peak_rss_watch, args=(stop, mem), daemon=True)
        watcher.start()
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except Exception as exc:  # a failing cell or a dead kernel: keep what was reported so far
            failure = type(exc).__name__
            print(f"{assignment}: {failure}: {str(exc)[-500:]}", file=sys.stderr)
        else:
            failure = None
        finally:
            seconds = time.perf_counter() - start
            stop.set()
            os.environ.clear()
            os.environ.update(old)
        results = {p.stem: json.loads(p.read_text()) for p in Path(results_dir).glob("*.json")}
    errors = [o["ename"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    if failure and not errors:  # the run stopped without an error output (kernel died, timeout)
        errors.append(failure)
    return {"assignment": assignment, "seconds": round(seconds, 1), "errors": errors, **mem,
            "slowest_cells": slowest_cells(nb), "results": results}


def slowest_cells(nb, n: int = 5) -> list[dict]:
    """The n code cells that took longest (nbclient's timing metadata): where a notebook's budget goes."""
    from datetime import datetime
    cells = []
    for index, cell in enumerate(nb.cells):
        timing = cell.metadata.get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type != "code" or not (start and end):
            continue
        seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                   - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
        first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
        cells.append({"cell": index, "seconds": round(seconds, 1), "source": first[:80]})
    return sorted(cells, key=lambda c: -c["seconds"])[:n]


def main_for(assignment: str) -> None:
    """Entry point of ``bench/bench_<assignment>.py``: run and print JSON."""
    out = run_notebook(assignment)
    print(json.dumps(out, indent=1))
    sys.exit(1 if out["errors"] else 0)
