"""Read a submitted notebook (untrusted JSON) and extract what the worker should load.

The grader never executes anything here: it parses JSON, compares the submission with the trusted
release and solution notebooks, and returns source strings. The setup imports come from the trusted
solution notebook, never from the submission.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from .assignments import ASSIGNMENTS, release_path, solution_path
from .nbgrader_ext import strip_hidden

MAX_NOTEBOOK_BYTES = 50 * 2**20


class InvalidSubmission(Exception):
    """The file is not a readable notebook."""


@dataclass
class Extracted:
    setup: str
    cells: list[dict]                      # [{"id": grade_id, "source": python source}] in notebook order
    names: list[str]                       # graded names the assignment defines
    missing: list[str] = field(default_factory=list)   # graded names no answer cell defines
    tampered: list[str] = field(default_factory=list)  # reasons


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _transform(source: str) -> str:
    """IPython syntax (magics, !shell) to plain Python calls, as the kernel would."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - an untransformable cell is loaded as is and fails clearly
        return source


def read_notebook(path: Path) -> dict:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidSubmission(f"cannot read {path.name}: {exc.strerror}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidSubmission(f"{path.name} is {size / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB cap")
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSubmission(f"{path.name} is not valid notebook JSON ({str(exc)[:120]})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidSubmission(f"{path.name} has no list of cells: not a Jupyter notebook")
    if not all(isinstance(c, dict) for c in nb["cells"]):
        raise InvalidSubmission(f"{path.name} has malformed cells")
    return nb


def _nbg(cell) -> dict:
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def trusted_setup(assignment: str) -> str:
    sol = json.loads(solution_path(assignment).read_text())
    return "\n\n".join(_source(c) for c in sol["cells"]
                       if c["cell_type"] == "code" and c.get("metadata", {}).get("sslcourse", {}).get("worker_setup"))


def extract(assignment: str, path: Path) -> Extracted:
    """Answer cells of a submission, by grade id, with tampering detected against the release."""
    nb = read_notebook(Path(path))
    release = json.loads(release_path(assignment).read_text())
    solution = json.loads(solution_path(assignment).read_text())
    names = list(ASSIGNMENTS[assignment])
    answer_ids = [_nbg(c)["grade_id"] for c in solution["cells"]
                  if c["cell_type"] == "code" and _nbg(c).get("solution")]
    sub_cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    by_id = {}
    for c in sub_cells:
        gid = _nbg(c).get("grade_id")
        if isinstance(gid, str) and _nbg(c).get("solution") and gid not in by_id:
            by_id[gid] = c
    tampered, cells, used = [], [], set()
    for gid in answer_ids:
        if gid in by_id:
            cells.append({"id": gid, "source": _transform(_source(by_id[gid]))})
            used.add(id(by_id[gid]))
    defined = set().union(*[_defined_names(c["source"]) for c in cells]) if cells else set()
    for name in names:  # a graded function outside its answer cell (metadata edited or cell replaced)
        if name in defined:
            continue
        for c in sub_cells:
            if id(c) not in used and not _nbg(c).get("grade") and name in _defined_names(_source(c)):
                cells.append({"id": f"unmarked cell defining {name}", "source": _transform(_source(c))})
                used.add(id(c))
                defined |= _defined_names(_source(c))
                tampered.append(f"{name} is defined outside its answer cell (answer cell metadata changed or deleted)")
                break
    missing = [n for n in names if n not in defined]
    tampered += _check_locked_cells(release, nb)
    return Extracted(trusted_setup(assignment), cells, names, missing, tampered)


def _check_locked_cells(release: dict, nb: dict) -> list[str]:
    """Locked cells (tests, tasks, read-only) must be present and unchanged, with their points."""
    reasons = []
    sub = {}
    for c in nb["cells"]:
        gid = _nbg(c).get("grade_id")
        if isinstance(gid, str):
            sub.setdefault(gid, c)
        tags = c.get("metadata", {}).get("tags", []) if isinstance(c.get("metadata"), dict) else []
        if isinstance(tags, list) and any("skip" in str(t) for t in tags):
            reasons.append(f"a cell carries the tag(s) {tags} (tests must not be skipped)")
    for c in release["cells"]:
        nbg = _nbg(c)
        if not nbg.get("locked"):
            continue
        gid = nbg["grade_id"]
        if gid not in sub:
            reasons.append(f"locked cell {gid} was deleted")
            continue
        theirs = sub[gid]
        if strip_hidden(_source(theirs))[0].strip() != strip_hidden(_source(c))[0].strip():
            reasons.append(f"locked cell {gid} was edited")
        if _nbg(theirs).get("points") != nbg.get("points") or bool(_nbg(theirs).get("grade")) != bool(nbg.get("grade")):
            reasons.append(f"the points or grading flags of {gid} were changed")
    return reasons
