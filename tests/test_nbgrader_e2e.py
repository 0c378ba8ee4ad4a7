"""End to end with plain nbgrader in a temporary course copy: generate, submit, autograde, gradebook,
then the course bridge: hidden-suite scores recorded in the gradebook, gamed visible tests withdrawn."""
import json
import shutil
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

from autograder.assignments import ROOT
from autograder.testing import solution_submission

from conftest import quick_env

pytestmark = pytest.mark.slow
A = "00_evaluation"

GAMING = '''
def extract_features(encoder, images, batch_size=256):
    raise NotImplementedError()

# rewrite every later cell that mentions the visible test's variables into `pass`
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"] if any("_enc" in l for l in lines) else lines)
'''


def nbgrader(course, *args):
    env = quick_env()
    env.pop("SSLCOURSE_QUICK", None)  # nbgrader itself sets NBGRADER_EXECUTION=autograde
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def submit(course, student, nb):
    dest = course / "submitted" / student / A
    dest.mkdir(parents=True)
    (dest / f"{A}.ipynb").write_text(json.dumps(nb))


def test_nbgrader_round_trip_and_hidden_suite_bridge(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    nbgrader(course, "generate_assignment", A, "--force")

    release = json.loads((course / "notebooks" / A / f"{A}.ipynb").read_text())
    gamed = solution_submission(A)
    cell = next(c for c in gamed["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "extract_features")
    cell["source"] = GAMING
    submit(course, "alice", json.loads((ROOT / "solutions" / A / f"{A}.ipynb").read_text()))
    submit(course, "bob", release)
    submit(course, "mallory", gamed)
    nbgrader(course, "autograde", A, "--create", "--force")

    db = "sqlite:///" + str(course / "gradebook.db")
    with Gradebook(db) as gb:
        nb = gb.find_notebook(A, A)
        max_auto = sum(c.max_score for c in nb.grade_cells if c.cell_type == "code")
        assert max_auto > 0
        scores = {s: gb.find_submission_notebook(A, A, s) for s in ("alice", "bob", "mallory")}
        assert scores["alice"].code_score == max_auto, [(g.name, g.auto_score) for g in scores["alice"].grades]
        assert scores["bob"].code_score == 0, [(g.name, g.auto_score) for g in scores["bob"].grades]
        # the input transformer fools nbgrader's visible test cell:
        assert gb.find_grade("test_extract_features", A, A, "mallory").auto_score > 0

    nbgrader(course, "generate_feedback", A, "--force")
    html = (course / "feedback" / "alice" / A / f"{A}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html and "_feats2" not in html, "hidden tests leaked into feedback"

    env = quick_env()
    env.pop("SSLCOURSE_QUICK", None)
    proc = subprocess.run([sys.executable, "-m", "autograder", "nbgrader", A, "--root", str(course),
                           "--skip-autograde", "--workers", "2"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(db) as gb:
        hidden = {s: gb.find_grade("hidden_tests", A, A, s) for s in ("alice", "bob", "mallory")}
        assert hidden["alice"].score == 10 and hidden["bob"].score == 0
        assert 0 < hidden["mallory"].score < 10 and not hidden["mallory"].needs_manual_grade
        assert gb.find_grade("test_extract_features", A, A, "mallory").score == 0, proc.stdout
        assert gb.find_grade("test_knn_predict", A, A, "mallory").score > 0
        assert "Hidden suite" in gb.find_comment("hidden_tests", A, A, "mallory").manual_comment
    assert (course / "graded" / "grades.csv").exists()
    export = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(tmp_path / "grades.csv")],
                            cwd=course, env=env, capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    alice = next(r for r in rows if ",alice," in r)
    assert ",15.0," in alice or "15.0" in alice.split(","), rows  # 5 visible + 10 hidden (answers still ungraded)
