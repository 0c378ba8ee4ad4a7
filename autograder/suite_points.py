"""Points of a hidden suite, read statically (for submissions that never reach the suite)."""
from __future__ import annotations

import ast

from .assignments import suite_path


def suite_max_points(assignment: str) -> float:
    """Sum of @points(n) over the suite's test functions (1 for a test without @points)."""
    return sum(t["points"] for t in suite_tests(assignment))


def suite_tests(assignment: str) -> list[dict]:
    """The suite's tests as {id, name, description, points}, read without importing the suite."""
    path = suite_path(assignment)
    if not path.exists():
        return []
    out = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            pts = 1.0
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and getattr(dec.func, "id", "") == "points" and dec.args:
                    pts = float(ast.literal_eval(dec.args[0]))
            doc = (ast.get_docstring(node) or "").strip().splitlines()
            out.append({"id": node.name, "name": node.name.removeprefix("test_").replace("_", " "),
                        "description": doc[0] if doc else "", "points": pts})
    return out
