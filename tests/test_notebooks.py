"""Every solution notebook runs top to bottom without error; every student notebook fails only with
NotImplementedError from the unimplemented graded cells. Quick budgets, fresh kernel."""
import nbformat
import pytest
from nbclient import NotebookClient

from autograder.assignments import available, release_path, solution_path

from conftest import quick_env

pytestmark = pytest.mark.slow


def execute(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    import os
    old = dict(os.environ)
    os.environ.update(quick_env())
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend shows figures
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def errors(nb):
    return [(i, o["ename"], o["evalue"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("assignment", available())
def test_solution_runs_clean(assignment, tmp_path):
    nb = execute(solution_path(assignment), tmp_path)
    assert errors(nb) == []
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}))
    assert images >= 2, "the notebook should end in pictures"


@pytest.mark.parametrize("assignment", available())
def test_release_fails_only_with_not_implemented(assignment, tmp_path):
    nb = execute(release_path(assignment), tmp_path)
    errs = errors(nb)
    assert errs, "the untouched release should raise NotImplementedError somewhere"
    assert {e[1] for e in errs} == {"NotImplementedError"}, errs
