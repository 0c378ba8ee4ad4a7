"""End to end with plain nbgrader in a temporary course copy: generate, submit, autograde, gradebook."""
import os
import shutil
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

from autograder.assignments import ROOT, available

from conftest import quick_env

pytestmark = pytest.mark.slow


def nbgrader(course, *args):
    env = quick_env()
    env.pop("SSLCOURSE_QUICK", None)  # nbgrader itself sets NBGRADER_EXECUTION=autograde
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    return course


@pytest.mark.parametrize("assignment", available()[:1])
def test_autograde_full_marks_and_zero(course, assignment):
    nbgrader(course, "generate_assignment", assignment, "--force")
    release = course / "notebooks" / assignment / f"{assignment}.ipynb"
    for student, source in [("alice", ROOT / "solutions" / assignment / f"{assignment}.ipynb"), ("bob", release)]:
        dest = course / "submitted" / student / assignment
        dest.mkdir(parents=True)
        shutil.copy(source, dest / f"{assignment}.ipynb")
    nbgrader(course, "autograde", assignment, "--create", "--force")
    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        nb = gb.find_notebook(assignment, assignment)
        max_auto = sum(c.max_score for c in nb.grade_cells if c.cell_type == "code")
        assert max_auto > 0
        alice = gb.find_submission_notebook(assignment, assignment, "alice")
        bob = gb.find_submission_notebook(assignment, assignment, "bob")
        assert alice.code_score == max_auto, [(g.name, g.auto_score) for g in alice.grades]
        assert bob.code_score == 0, [(g.name, g.auto_score) for g in bob.grades]
    nbgrader(course, "generate_feedback", assignment, "--force")
    html = (course / "feedback" / "alice" / assignment / f"{assignment}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html and "_feats2" not in html, "hidden tests leaked into feedback"
