"""``python -m autograder nbgrader ASSIGNMENT``: nbgrader autograde, then the hidden suite, then the
gradebook.

1. ``nbgrader autograde ASSIGNMENT`` runs every submission's notebook (visible test cells, with the
   course's hardening from ``nbgrader_config.py``).
2. The hidden suite grades the same submissions in the sandbox (``grade_batch``), results under
   ``graded/<student>/<assignment>/`` (results.json, feedback.md, feedback.html) and ``graded/grades.csv``.
3. The gradebook receives the hidden-suite score as the manual score of the notebook's ``hidden_tests``
   task cell, so formgrader and ``nbgrader export`` show and total it. Visible test cells whose function
   fails **every** hidden check keep no points: their nbgrader score is overridden with 0 and a comment,
   because code running in the student's kernel can fake a visible test (an input transformer, a
   monkeypatched assert), but it cannot fake the hidden suite.

Final grade = visible test cells (nbgrader, after the override) + written answers (graded by hand in
formgrader) + hidden suite (task cell ``hidden_tests``).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .assignments import ROOT, release_path
from .batch import grade_batch
from .release import nbgrader_env
from .sandbox import Limits

TASK_CELL = "hidden_tests"


def course_db_url(root: Path) -> str:
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return cfg.CourseDirectory.get("db_url", "sqlite:///" + str(root / "gradebook.db"))


def test_cell_functions(assignment: str) -> dict[str, list[str]]:
    """nbgrader test cell grade id -> graded functions it checks (``metadata.sslcourse.checks``)."""
    nb = json.loads(release_path(assignment).read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"].get("sslcourse", {}).get("checks", [])
            for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "")


def tests_of(function: str, tests: list[dict]) -> list[dict]:
    """Hidden tests of a graded function: by convention their names start with test_<function name>."""
    return [t for t in tests if _norm(t["id"]).startswith(_norm(f"test_{function}"))]


def failed_functions(details: dict, functions: list[str]) -> set[str]:
    """Functions whose every hidden test scored 0."""
    out = set()
    for fn in functions:
        tests = tests_of(fn, details.get("tests", []))
        if tests and all(t["score"] == 0 for t in tests):
            out.add(fn)
    return out


def record_in_gradebook(db_url: str, assignment: str, graded: Path, students: list[str]) -> list[str]:
    from nbgrader.api import Gradebook, MissingEntry

    messages = []
    checks = test_cell_functions(assignment)
    with Gradebook(db_url) as gb:
        for student in students:
            details_path = graded / student / assignment / "details.json"
            if not details_path.exists():
                messages.append(f"{student}: no hidden-suite result")
                continue
            details = json.loads(details_path.read_text())
            score = sum(t["score"] for t in details["tests"])
            try:
                grade = gb.find_grade(TASK_CELL, assignment, assignment, student)
                comment = gb.find_comment(TASK_CELL, assignment, assignment, student)
            except MissingEntry:
                messages.append(f"{student}: not autograded by nbgrader (no submission in the gradebook)")
                continue
            grade.manual_score = min(score, grade.max_score)
            grade.needs_manual_grade = False
            comment.manual_comment = (f"Hidden suite: {score:g} / {grade.max_score:g}, status {details['status']}"
                                      + (f" ({details['reason']})" if details.get("reason") else "")
                                      + ". Details: feedback.html from the course autograder.")
            broken = failed_functions(details, sorted({f for fns in checks.values() for f in fns}))
            for cell_id, fns in checks.items():
                if fns and set(fns) <= broken:
                    g = gb.find_grade(cell_id, assignment, assignment, student)
                    if (g.auto_score or 0) > 0:
                        g.manual_score = 0
                        messages.append(f"{student}: {cell_id} passed in the kernel but {', '.join(fns)} fails every "
                                        "hidden check: visible-test points withdrawn")
            gb.db.commit()
            messages.append(f"{student}: hidden suite {score:g} / {grade.max_score:g} ({details['status']})")
    return messages


def main(assignment: str, *, root: Path = ROOT, workers: int = 1, out: Path | None = None,
         skip_autograde: bool = False, feedback: bool = False, limits: Limits | None = None,
         extra: list[str] | None = None) -> int:
    root = Path(root)
    out = out or root / "graded"
    if not skip_autograde:
        cmd = [sys.executable, "-m", "nbgrader", "autograde", assignment, *(extra or [])]
        proc = subprocess.run(cmd, cwd=root, env=nbgrader_env())
        if proc.returncode != 0:
            print(f"nbgrader autograde failed (exit {proc.returncode}); the hidden suite still runs")
    submitted = root / "submitted"
    students = sorted(d.name for d in submitted.iterdir() if (d / assignment).is_dir()) if submitted.is_dir() else []
    if not students:
        print(f"no submissions in {submitted}/<student>/{assignment}/")
        return 1
    grade_batch(assignment, [str(submitted)], out, workers=workers, limits=limits, force=True)
    for line in record_in_gradebook(course_db_url(root), assignment, out, students):
        print(line)
    if feedback:
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", assignment, "--force"],
                       cwd=root, env=nbgrader_env())
    print(f"hidden-suite feedback: {out}/<student>/{assignment}/feedback.html; grades: {out}/grades.csv")
    return 0
