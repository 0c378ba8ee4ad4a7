"""The student release is generated, up to date, clean, and leaks nothing."""
import ast
import json
import re

import nbformat
import pytest

from autograder.assignments import ASSIGNMENTS, available, release_path, solution_path
from autograder.release import main as release_main, notebook_outputs

ASSIGNED = available()


def test_every_assignment_has_a_solution_and_a_release():
    assert "00_evaluation" in ASSIGNED
    for a in ASSIGNED:
        assert release_path(a).exists(), f"notebooks/{a} missing: run `make release`"


@pytest.mark.slow
def test_release_is_byte_identical_to_a_fresh_regeneration():
    assert release_main(check=True) == 0, "notebooks/ differs from nbgrader generate_assignment: run `make release`"


@pytest.mark.parametrize("assignment", ASSIGNED)
def test_committed_notebooks_carry_no_outputs(assignment):
    assert notebook_outputs(solution_path(assignment)) == []
    assert notebook_outputs(release_path(assignment)) == []


@pytest.mark.parametrize("assignment", ASSIGNED)
def test_release_leaks_no_solution(assignment):
    text = release_path(assignment).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{marker} leaked into notebooks/{assignment}"
    rel = nbformat.read(release_path(assignment), as_version=4)
    code = {line.strip() for c in rel.cells if c.cell_type == "code" for line in c.source.splitlines()}
    sol = nbformat.read(solution_path(assignment), as_version=4)
    for cell in sol.cells:  # no line of any solution region appears as a line of release code
        for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
            for line in region.splitlines():
                if len(line.strip()) > 25:
                    assert line.strip() not in code, f"solution line leaked: {line.strip()!r}"


def _graded_signatures(path):
    nb = nbformat.read(path, as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.ClassDef):
                found[node.name] = "class"
            elif isinstance(node, ast.FunctionDef):
                args = node.args
                names = [a.arg for a in args.args]
                none = object()  # "no default" (a default may itself be None)
                defaults = [none] * (len(names) - len(args.defaults)) + [ast.literal_eval(d) for d in args.defaults]
                found[node.name] = ", ".join(n if d is none else f"{n}={d!r}" for n, d in zip(names, defaults))
    return found


@pytest.mark.parametrize("assignment", ASSIGNED)
@pytest.mark.parametrize("which", ["solution", "release"])
def test_graded_api_matches_the_spec(assignment, which):
    path = solution_path(assignment) if which == "solution" else release_path(assignment)
    found = _graded_signatures(path)
    for name, params in ASSIGNMENTS[assignment].items():
        assert name in found, f"{assignment}: graded {name} not defined at top level of an answer cell"
        expected = params
        assert found[name] == expected, f"{assignment}.{name}: signature ({found[name]}) != spec ({expected})"


@pytest.mark.parametrize("assignment", ASSIGNED)
def test_notebook_anatomy(assignment):
    nb = nbformat.read(solution_path(assignment), as_version=4)
    tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
    assert "parameters" in tags, "a `parameters` cell (papermill tag) holds the budgets"
    assert any(c.metadata.get("sslcourse", {}).get("worker_setup") for c in nb.cells), "a setup cell for the grader"
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(grade_ids) == len(set(grade_ids)), "duplicate grade ids"
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert all("### BEGIN HIDDEN TESTS" in c.source for c in tests), "every test cell has a hidden region"
    answers = [c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")]
    assert answers, "written questions (manually graded answer cells)"
    assert "interactive_plot" in "".join(c.source for c in nb.cells), "at least one widget"
    for c in nb.cells:  # our keys never inside metadata.nbgrader (breaks generate_assignment)
        assert set(c.metadata.get("nbgrader", {})) <= {"grade", "grade_id", "locked", "points", "schema_version",
                                                         "solution", "task", "checksum", "cell_type"}
    json.dumps(nb)  # serialisable


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_no_frontend_specific_code(folder):
    """Notebooks run the same in JupyterLab, Notebook 7, VS Code and nbclient: no IPython magics, shell
    escapes or get_ipython() calls (frontend- or kernel-specific), no JupyterLab-only display code."""
    import re
    bad = re.compile(r"^\s*(%|!)|get_ipython\(|jupyterlab|IPython\.display\.Javascript")
    for assignment in available():
        nb = json.loads((solution_path(assignment) if folder == "solutions" else release_path(assignment)).read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            hits = [line for line in src.splitlines() if bad.search(line)]
            assert not hits, f"{folder}/{assignment}: {hits}"
