"""LMS round trip: downloads (loose files and a zip) -> submitted/ -> grades.csv with per-test columns."""
import csv
import json
import os
import subprocess
import sys
import zipfile

import pytest

from autograder.assignments import ROOT
from autograder.collect import collect

A = "00_evaluation"


def test_collect_reads_ids_from_file_names(tmp_path):
    dl = tmp_path / "downloads"
    dl.mkdir()
    (dl / "alice_12_345_00_evaluation.ipynb").write_text("{}")
    (dl / "bob_late_00_evaluation.ipynb").write_text('{"old": 1}')
    os.utime(dl / "bob_late_00_evaluation.ipynb", (1, 1))
    (dl / "README.txt").write_text("not a notebook")
    (dl / "noid.ipynb").write_text("{}")
    with zipfile.ZipFile(dl / "export.zip", "w") as z:
        z.writestr("sub/carol_9_00_evaluation.ipynb", "{}")
        z.writestr("bob_2_00_evaluation.ipynb", '{"new": 1}')
    report = collect(A, [str(dl)], tmp_path / "submitted")
    assert report["students"] == ["alice", "bob", "carol"]
    assert report["skipped"] == ["noid.ipynb"] and report["superseded"] == ["bob_late_00_evaluation.ipynb"]
    assert json.loads((tmp_path / "submitted" / "bob" / A / f"{A}.ipynb").read_text()) == {"new": 1}


@pytest.mark.slow
def test_collect_then_grade_exports_per_test_columns(tmp_path):
    dl = tmp_path / "downloads"
    dl.mkdir()
    (dl / "dana_1_sub.ipynb").write_bytes((ROOT / "solutions" / A / f"{A}.ipynb").read_bytes())
    (dl / "eve_1_sub.ipynb").write_text("garbage")
    run = lambda *a: subprocess.run([sys.executable, "-m", "autograder", *a], capture_output=True, text=True, timeout=600)
    assert run("collect", A, str(dl), "--to", str(tmp_path / "submitted")).returncode == 0
    proc = run("grade", A, str(tmp_path / "submitted"), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "grades.csv"))}
    assert float(rows["dana"]["score"]) == 10 and rows["eve"]["status"] == "invalid"
    assert "test_knn_predict_weights_votes" in rows["dana"] and float(rows["eve"]["test_knn_predict_weights_votes"]) == 0
    assert (tmp_path / "out" / "dana" / A / "results.json").exists()
