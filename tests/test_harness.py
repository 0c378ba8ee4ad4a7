"""The grading harness end to end: bad and hostile submissions all get a result, the batch goes on,
the CLI writes Gradescope results, feedback and a CSV, and the protocol only carries plain data."""
import csv
import json
import math
import subprocess
import sys

import pytest
import torch

from autograder import protocol
from autograder.assignments import ROOT
from autograder.testing import build_variant, solution_submission, replace_definition

A = "00_evaluation"


# ------------------------------------------------------------------------------- protocol (fast)
def test_protocol_round_trip():
    value = {"a": [1, 2.5, None, True, "s"], "t": (torch.arange(6).reshape(2, 3), torch.zeros(0, 4)),
             "x": torch.tensor(3.0, dtype=torch.float64), "nan": math.nan, "b": torch.tensor([True, False])}
    blobs = []
    data = protocol.encode(value, blobs)
    back = protocol.decode(json.loads(json.dumps(data)), blobs)
    assert back["a"] == [1, 2.5, None, True, "s"] and math.isnan(back["nan"])
    assert torch.equal(back["t"][0], value["t"][0]) and back["t"][1].shape == (0, 4)
    assert back["x"].dtype == torch.float64 and back["b"].dtype == torch.bool


def test_protocol_refuses_objects_and_malformed_data():
    class Liar:
        def __eq__(self, other):
            return True
    with pytest.raises(protocol.ProtocolError, match="cannot send"):
        protocol.encode(Liar(), [])
    with pytest.raises(protocol.ProtocolError):
        protocol.decode({"__tensor__": 0, "dtype": "float32", "shape": [3]}, [b"\x00" * 5])  # size mismatch
    with pytest.raises(protocol.ProtocolError):
        protocol.decode({"__pickle__": "gASV"}, [])
    with pytest.raises(protocol.ProtocolError):
        protocol.decode({"__tensor__": 0, "dtype": "object", "shape": [1]}, [b"x"])


# ------------------------------------------------------------------------- submissions (slow)
def _nb_with(cell_edits=None, **replacements):
    nb = solution_submission(A)
    for name, src in replacements.items():
        replace_definition(nb, name, src)
    for edit in cell_edits or []:
        edit(nb)
    return nb


def _answer_cell(nb, gid):
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)


def _append_to(gid, code):
    def edit(nb):
        cell = _answer_cell(nb, gid)
        cell["source"] = "".join(cell["source"]) + "\n" + code
    return edit


WRONG_EF = '''
def extract_features(encoder, images, batch_size=256):
    return encoder(images).detach()
'''

PATCHES = '''
import builtins, torch, torch.testing
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
builtins.isinstance = lambda *a: True
builtins.AssertionError = type("Nope", (Exception,), {})
'''


def _rename_cell(nb):
    _answer_cell(nb, "knn_predict")["metadata"]["nbgrader"]["grade_id"] = "my_knn"


def _delete_test_cell(nb):
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "test_knn_predict"]


def _skip_tag(nb):
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade"):
            c["metadata"]["tags"] = ["skip-execution"]


SUBMISSIONS = {
    "good": lambda: _nb_with(),
    "blank": lambda: build_variant(A, "<release>"),
    "missing": lambda: _nb_with(knn_predict="def knn_predictor(*args):\n    return None"),
    "renamed_cell": lambda: _nb_with([_rename_cell]),
    "raises_at_import": lambda: _nb_with([_append_to("knn_predict", "raise ValueError('boom')")]),
    "exits_at_import": lambda: _nb_with([_append_to("extract_features", "import os\nos._exit(3)")]),
    "exits_in_call": lambda: _nb_with(knn_predict="def knn_predict(*args, **kwargs):\n    import os\n    os._exit(1)"),
    "infinite_loop": lambda: _nb_with(knn_predict="def knn_predict(*args, **kwargs):\n    while True:\n        pass"),
    "loops_at_import": lambda: _nb_with([_append_to("knn_predict", "while True:\n    pass")]),
    "memory_bomb": lambda: _nb_with(
        knn_predict="def knn_predict(*args, **kwargs):\n    return torch.ones(int(50e9), dtype=torch.uint8).sum()"),
    "sys_exit": lambda: _nb_with(knn_predict="def knn_predict(*args, **kwargs):\n    import sys\n    sys.exit(0)"),
    "prints_a_lot": lambda: _nb_with(knn_predict="def knn_predict(*a, **k):\n    print('x' * 10**8)\n    return torch.zeros(1)"),
    "lying_object": lambda: _nb_with(
        knn_predict="class Eq:\n    def __eq__(self, o): return True\n    shape = (7,)\ndef knn_predict(*a, **k):\n    return Eq()"),
    "wrong_ef": lambda: _nb_with(extract_features=WRONG_EF),
    "wrong_ef_patched": lambda: _nb_with([_append_to("extract_features", PATCHES)], extract_features=WRONG_EF),
    "deleted_test_cell": lambda: _nb_with([_delete_test_cell]),
    "skip_tag": lambda: _nb_with([_skip_tag]),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    subs = tmp / "submitted"
    for name, make in SUBMISSIONS.items():
        (subs / name / A).mkdir(parents=True)
        (subs / name / A / f"{A}.ipynb").write_text(json.dumps(make()))
    (subs / "not_json" / A).mkdir(parents=True)
    (subs / "not_json" / A / f"{A}.ipynb").write_text("{ this is not json")
    out = tmp / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", A, str(subs), "--out", str(out), "--workers", "2",
           "--call-timeout", "4", "--load-timeout", "15", "--submission-timeout", "90", "--memory-mb", "4096",
           "--seed", "7", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {}
    for name in [*SUBMISSIONS, "not_json"]:
        results[name] = json.loads((out / name / A / "results.json").read_text())
    return out, results


def score(results, name):
    return results[name]["score"]


def status(results, name):
    return results[name]["extra_data"]["status"]


@pytest.mark.slow
def test_every_submission_gets_a_result(batch):
    out, results = batch
    assert len(results) == len(SUBMISSIONS) + 1
    for name, r in results.items():
        assert r["max_score"] == 10 and len(r["tests"]) == 11, name
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(r["tests"][0])
        assert (out / name / A / "feedback.md").exists() and (out / name / A / "feedback.html").exists()
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert {r["student"] for r in rows} == set(results)


@pytest.mark.slow
@pytest.mark.parametrize("name,expected_status,expected_score", [
    ("good", "ok", 10), ("blank", "ok", 0), ("not_json", "invalid", 0), ("missing", "missing", 4),
    ("renamed_cell", "tampered", 10), ("raises_at_import", "crashed", 10), ("exits_at_import", "crashed", 0),
    ("exits_in_call", "crashed", 4), ("infinite_loop", "timeout", 4), ("loops_at_import", "timeout", 0),
    ("memory_bomb", "memory", 4), ("sys_exit", "ok", 4), ("prints_a_lot", "ok", 4), ("lying_object", "ok", 4),
    ("deleted_test_cell", "tampered", 10), ("skip_tag", "tampered", 10),
])
def test_bad_submission_status_and_score(batch, name, expected_status, expected_score):
    _, results = batch
    assert status(results, name) == expected_status, results[name]["output"]
    assert score(results, name) == expected_score, [(t["name"], t["score"], t["output"][:100]) for t in results[name]["tests"]]


@pytest.mark.slow
def test_monkeypatching_earns_nothing(batch):
    _, results = batch
    assert score(results, "wrong_ef_patched") <= score(results, "wrong_ef") < 10


@pytest.mark.slow
def test_feedback_explains_failures_without_hidden_values(batch):
    out, results = batch
    md = (out / "wrong_ef" / A / "feedback.md").read_text()
    assert "## What to fix" in md and "Hint:" in md and "What was checked" in md
    # a hidden test's message gives shapes and error size, never the reference values
    hidden = [t for t in results["wrong_ef"]["tests"] if t["status"] == "failed" and "differ from the reference" in t["output"]]
    assert all("expected [" not in t["output"] for t in hidden)
    html = (out / "wrong_ef" / A / "feedback.html").read_text()
    assert "<table id=\"summary\">" in html


@pytest.mark.slow
def test_acceptance_commands(tmp_path):
    """The issue's commands: the solution gets full marks, the untouched release gets 0."""
    for nb, expected in [(ROOT / "solutions" / A / f"{A}.ipynb", 10), (ROOT / "notebooks" / A / f"{A}.ipynb", 0)]:
        out = tmp_path / nb.parent.parent.name
        subprocess.run([sys.executable, "-m", "autograder", "grade", A, str(nb), "--out", str(out), "--quiet"],
                       check=True, capture_output=True, timeout=600)
        r = json.loads((out / A / A / "results.json").read_text())
        assert r["score"] == expected and r["max_score"] == 10
