"""Grade one submission: run the hidden suite in this (grader) process against a sandboxed worker.

``python -m autograder.grade_one ASSIGNMENT NOTEBOOK --student ID --out DIR`` writes
``DIR/results.json``, ``DIR/feedback.md`` and ``DIR/feedback.html`` atomically. This process parses the
submission as JSON and runs pytest; it never executes student code.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch

from . import suite as S
from .assignments import ASSIGNMENTS, suite_path
from .report import write_reports
from .sandbox import Limits
from .submission import InvalidSubmission, extract
from .suite_points import suite_tests

STATUS_ORDER = ("memory", "timeout", "crashed")


class Collector:
    """pytest plugin: provides the fixtures and records each test's outcome, points and messages."""

    def __init__(self, session: S.Session, seed: int):
        self.session, self.seed = session, seed
        self.results: list[dict] = []

    @pytest.fixture
    def student(self):
        return S.Student(self.session)

    @pytest.fixture
    def rng(self, request):
        return torch.Generator().manual_seed((self.seed + zlib.crc32(request.node.name.encode())) % 2**63)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        token = S._VISIBLE.set(item.get_closest_marker("visible") is not None)
        try:
            yield
        finally:
            S._VISIBLE.reset(token)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "setup" and report.passed:
            return
        if report.when == "teardown" and report.passed:
            return
        pts = item.get_closest_marker("points")
        hint_m = item.get_closest_marker("hint")
        doc = (item.function.__doc__ or "").strip().splitlines()
        entry = {"name": item.name.removeprefix("test_").replace("_", " "), "id": item.name,
                 "description": doc[0] if doc else "", "max_score": float(pts.args[0]) if pts else 1.0,
                 "visible": item.get_closest_marker("visible") is not None,
                 "hint": hint_m.args[0] if hint_m else ""}
        if report.passed:
            entry.update(score=entry["max_score"], status="passed", cause="ok", output="")
        else:
            exc = call.excinfo.value if call.excinfo else None
            cause = getattr(exc, "cause", "failed") if isinstance(exc, S.StudentFailure) else "failed"
            if exc is not None and not isinstance(exc, AssertionError):
                message = f"the check itself raised {type(exc).__name__}: {str(exc)[:300]}"
            else:
                message = str(exc) if exc is not None and str(exc) else "a hidden check failed"
            entry.update(score=0.0, status="failed", cause=cause, output=message)
        self.results = [r for r in self.results if r["id"] != item.name] + [entry]


def grade(assignment: str, notebook: Path, *, limits: Limits | None = None, seed: int | None = None) -> dict:
    """Grade one notebook; always returns a result dict (never raises for a bad submission)."""
    start = time.time()
    seed = secrets.randbits(48) if seed is None else seed
    base = {"assignment": assignment, "submission": str(notebook), "seed": seed}
    try:
        ex = extract(assignment, Path(notebook))
    except InvalidSubmission as exc:
        tests = [{"name": t["name"], "id": t["id"], "description": t["description"], "max_score": t["points"],
                  "score": 0.0, "status": "failed", "cause": "invalid", "output": str(exc), "hint": "",
                  "visible": False} for t in suite_tests(assignment)]
        return {**base, "status": "invalid", "reason": str(exc), "tests": tests, "defences": [],
                "execution_time": round(time.time() - start, 2)}
    session = S.Session(ex.setup, ex.cells, ex.names, limits)
    collector = Collector(session, seed)
    args = [str(suite_path(assignment)), "-q", "--assert=plain", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-c", str(suite_path(assignment).parent / "pytest.ini"), "--rootdir", str(suite_path(assignment).parent),
            "-W", "ignore"]
    with open(os.devnull, "w") as devnull:
        old = sys.stdout
        sys.stdout = devnull  # pytest's own progress output is not part of the result
        try:
            code = pytest.main(args, plugins=[collector])
        finally:
            sys.stdout = old
            session.close()
    tests = collector.results
    status, reason = "ok", ""
    if code not in (0, 1) or not tests:
        status, reason = "crashed", f"the hidden suite could not run (pytest exit code {int(code)})"
    failures = [e for e in STATUS_ORDER if e in session.events]
    if failures:
        status = failures[0]
        n = sum(1 for t in tests if t["cause"] == status)
        reason = {"memory": f"your code ran out of memory in {n} check(s)",
                  "timeout": f"your code did not finish in time in {n} check(s) (an infinite loop, or far too slow)",
                  "crashed": f"the process running your code died in {n} check(s)"}[status]
    elif ex.missing:
        status, reason = "missing", "not defined at the top level of an answer cell: " + ", ".join(ex.missing)
    elif ex.tampered:
        status, reason = "tampered", "; ".join(ex.tampered)
    if session.load_errors:
        errs = "; ".join(f"answer cell {e['cell']} raised {e['type']}: {e['message'][:120]}" for e in session.load_errors)
        reason = (reason + "; " if reason else "") + errs
        if status == "ok":
            status = "crashed"
    if ex.tampered and status != "tampered":
        reason += "; also: " + "; ".join(ex.tampered)
    return {**base, "status": status, "reason": reason, "tests": tests, "defences": session.defences,
            "load_errors": session.load_errors, "missing": ex.missing, "tampered": ex.tampered,
            "execution_time": round(time.time() - start, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder.grade_one")
    p.add_argument("assignment", choices=sorted(ASSIGNMENTS))
    p.add_argument("notebook", type=Path)
    p.add_argument("--student", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int)
    p.add_argument("--call-timeout", type=float, default=Limits.call_timeout)
    p.add_argument("--submission-timeout", type=float, default=Limits.submission_timeout)
    p.add_argument("--memory-mb", type=int, default=Limits.memory_mb)
    p.add_argument("--load-timeout", type=float, default=Limits.load_timeout)
    a = p.parse_args(argv)
    limits = Limits(call_timeout=a.call_timeout, submission_timeout=a.submission_timeout, memory_mb=a.memory_mb,
                    load_timeout=a.load_timeout,
                    hide=[a.out.resolve().parent.parent])
    result = grade(a.assignment, a.notebook, limits=limits, seed=a.seed)
    result["student"] = a.student
    write_reports(result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
