"""Helpers for the project's own tests of the hidden suites: build submissions with one function
replaced by a deliberately wrong ("mutant") or alternative implementation, and grade many of them in
one grader process.

    results = grade_variants("00_evaluation", {
        "solution": {},                                   # the solution's answers in the release notebook
        "no_eval": {"extract_features": MUTANT_SOURCE},   # one function replaced
    })
    results["no_eval"]["scores"]   # {test id: points}
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .assignments import release_path, solution_path

RELEASE = "<release>"  # variant value: the untouched student release


def _src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def solution_submission(assignment: str) -> dict:
    """The release notebook with every answer cell filled in from the solution (a perfect student)."""
    release = json.loads(release_path(assignment).read_text())
    solution = json.loads(solution_path(assignment).read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: _src(c) for c in solution["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in release["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in answers:
            lines = answers[gid].split("\n")
            cell["source"] = "\n".join(l for l in lines if l.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return release


def replace_definition(nb: dict, name: str, new_source: str) -> dict:
    """Replace the top-level ``def``/``class`` ``name`` in whichever code cell defines it."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = _src(cell)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                lines = source.split("\n")
                start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
                cell["source"] = "\n".join(lines[:start] + new_source.strip("\n").split("\n") + lines[node.end_lineno:])
                return nb
    raise KeyError(f"no cell defines {name}")


def build_variant(assignment: str, replacements) -> dict:
    if replacements == RELEASE:
        return json.loads(release_path(assignment).read_text())
    nb = solution_submission(assignment)
    for name, source in replacements.items():
        nb = replace_definition(nb, name, source)
    return nb


def grade_variants(assignment: str, variants: dict, *, seed: int = 0, timeout: float = 1200) -> dict:
    """Grade each variant (a dict name -> replacement source, or RELEASE) in ONE grader subprocess.

    Returns {label: result} where result has "status", "score", "max_score" and "scores" {test id: points}.
    """
    with tempfile.TemporaryDirectory(prefix="sslcourse-variants-") as tmp:
        spec = {"assignment": assignment, "seed": seed, "variants": {}}
        for label, replacements in variants.items():
            path = Path(tmp) / f"{label}.ipynb"
            path.write_text(json.dumps(build_variant(assignment, replacements)))
            spec["variants"][label] = str(path)
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        proc = subprocess.run([sys.executable, "-m", "autograder.testing", str(Path(tmp) / "spec.json")],
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"grading variants failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        return json.loads((Path(tmp) / "results.json").read_text())


def _run(spec_path: str) -> None:
    from .grade_one import grade

    spec = json.loads(Path(spec_path).read_text())
    out = {}
    for label, path in spec["variants"].items():
        result = grade(spec["assignment"], Path(path), seed=spec["seed"])
        tests = result["tests"]
        out[label] = {"status": result["status"], "reason": result["reason"],
                      "score": sum(t["score"] for t in tests), "max_score": sum(t["max_score"] for t in tests),
                      "scores": {t["id"]: t["score"] for t in tests},
                      "outputs": {t["id"]: t["output"] for t in tests if t["status"] != "passed"}}
    (Path(spec_path).parent / "results.json").write_text(json.dumps(out))


if __name__ == "__main__":
    _run(sys.argv[1])
