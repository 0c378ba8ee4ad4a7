"""Grading on a real Dask cluster on loopback: a scheduler and two worker processes; one worker is
killed in the middle of the batch, and every submission still ends with exactly one correct result."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.assignments import ROOT

pytestmark = pytest.mark.slow
A = "00_evaluation"
DASK = str(Path(sys.executable).parent / "dask")


def _start(cmd, log):
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    procs = [_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], tmp_path / "scheduler.log")]
    deadline = time.time() + 60
    while not sched_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    address = json.loads(sched_file.read_text())["address"]
    for i in range(2):
        procs.append(_start([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                             "--name", f"w{i}", "--host", "127.0.0.1"], tmp_path / f"worker{i}.log"))
    yield address, procs
    for p in procs:
        _kill(p)


def test_dask_batch_survives_a_killed_worker(tmp_path, cluster):
    address, procs = cluster
    sol = ROOT / "solutions" / A / f"{A}.ipynb"
    rel = ROOT / "notebooks" / A / f"{A}.ipynb"
    subs = tmp_path / "submitted"
    expected = {}
    for i in range(20):
        student = f"s{i:02d}"
        (subs / student / A).mkdir(parents=True)
        src = sol if i % 2 == 0 else rel
        (subs / student / A / f"{A}.ipynb").write_bytes(src.read_bytes())
        expected[student] = 10 if i % 2 == 0 else 0
    out = tmp_path / "out"
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", A, str(subs), "--out", str(out),
                               "--dask", address, "--quiet", "--seed", "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 900
    while len(list(out.glob(f"*/{A}/results.json"))) < 3 and time.time() < deadline and grader.poll() is None:
        time.sleep(0.5)
    assert grader.poll() is None, grader.stdout.read()
    _kill(procs[1])  # a worker dies in the middle of the batch
    output, _ = grader.communicate(timeout=900)
    assert grader.returncode == 0, output
    for student, score in expected.items():
        files = list((out / student).rglob("results.json"))
        assert len(files) == 1, (student, files)
        r = json.loads(files[0].read_text())
        assert r["score"] == score and r["extra_data"]["status"] == "ok", (student, r["output"])
    rows = (out / "grades.csv").read_text().strip().splitlines()
    assert len(rows) == 21
