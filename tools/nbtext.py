"""Round-trip a solution notebook to a readable text form and back (an authoring aid).

The ``.ipynb`` under ``solutions/`` stays the single source of truth. This tool lets you edit it as
plain text (review diffs, search, replace) and write it back. Cells start with a ``# %%`` line:

    # %% [markdown]                       a markdown cell; its lines are prefixed with "# "
    # %%                                  a plain code cell
    # %% solution id=knn                  nbgrader answer cell (code)
    # %% tests id=test_knn points=2       nbgrader autograder test cell (locked)
    # %% [markdown] answer id=q1 points=2 manually graded written answer
    # %% [markdown] task id=hidden points=10   locked task cell (manually graded / set by the harness)
    # %% locked id=setup                  read-only cell
    # options: tags=a,b  timeout=120 (per-cell seconds)  checks=f,g  setup (worker imports)
    #          and a trailing JSON object merged into the metadata

Usage:  python tools/nbtext.py export NOTEBOOK.ipynb > nb.py
        python tools/nbtext.py import nb.py NOTEBOOK.ipynb
"""
from __future__ import annotations

import json
import shlex
import sys

import nbformat

ROLES = {
    "solution": dict(grade=False, locked=False, solution=True, task=False),
    "tests": dict(grade=True, locked=True, solution=False, task=False),
    "answer": dict(grade=True, locked=False, solution=True, task=False),
    "task": dict(grade=False, locked=True, solution=False, task=True),
    "locked": dict(grade=False, locked=True, solution=False, task=False),
}


def _nbgrader_meta(role: str, grade_id: str, points) -> dict:
    meta = dict(ROLES[role], grade_id=grade_id, schema_version=3)
    if role in ("tests", "answer", "task"):
        meta["points"] = points
    return dict(sorted(meta.items()))


def parse_header(line: str) -> tuple[str, dict]:
    rest = line[len("# %%"):].strip()
    cell_type = "code"
    if rest.startswith("[markdown]"):
        cell_type, rest = "markdown", rest[len("[markdown]"):].strip()
    extra = {}
    if "{" in rest:
        rest, js = rest[:rest.index("{")], rest[rest.index("{"):]
        extra = json.loads(js)
    opts = dict(kv.split("=", 1) if "=" in kv else (kv, True) for kv in shlex.split(rest))
    meta: dict = {}
    role = next((r for r in ROLES if r in opts), None)
    if role:
        assert "id" in opts, f"a {role} cell needs id=...: {line!r}"
        points = opts.get("points")
        points = None if points is None else (float(points) if "." in points else int(points))
        meta["nbgrader"] = _nbgrader_meta(role, opts["id"], points)
    ours = {}
    if "timeout" in opts:
        ours["timeout"] = int(opts["timeout"])
    if "checks" in opts:
        ours["checks"] = opts["checks"].split(",")
    if "setup" in opts:
        ours["worker_setup"] = True
    if ours:
        meta["sslcourse"] = ours
    if "tags" in opts:
        meta["tags"] = opts["tags"].split(",")
    for key, value in extra.items():
        meta.setdefault(key, {}).update(value) if isinstance(value, dict) else meta.__setitem__(key, value)
    return cell_type, meta


def text_to_notebook(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    chunks = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            chunks.append([line, []])
        elif chunks:
            chunks[-1][1].append(line)
    for index, (header, body) in enumerate(chunks):
        cell_type, meta = parse_header(header)
        while body and not body[-1].strip():
            body.pop()
        if cell_type == "markdown":
            body = [b[2:] if b.startswith("# ") else b[1:] if b.startswith("#") else b for b in body]
            cell = nbformat.v4.new_markdown_cell("\n".join(body))
        else:
            cell = nbformat.v4.new_code_cell("\n".join(body))
        cell.metadata = meta
        grade_id = meta.get("nbgrader", {}).get("grade_id")
        cell.id = grade_id.replace("_", "-") if grade_id else f"cell-{index:03d}"
        nb.cells.append(cell)
    return nb


def header_for(cell) -> str:
    meta = dict(cell.metadata)
    parts = ["# %%"] + (["[markdown]"] if cell.cell_type == "markdown" else [])
    nbg = meta.pop("nbgrader", None)
    if nbg:
        role = next((r for r, flags in ROLES.items() if all(nbg.get(k) == v for k, v in flags.items())), None)
        if role and _nbgrader_meta(role, nbg["grade_id"], nbg.get("points")) == dict(sorted(nbg.items())):
            parts += [role, f"id={nbg['grade_id']}"] + ([f"points={nbg['points']}"] if "points" in nbg else [])
        else:
            meta["nbgrader"] = nbg
    ours = dict(meta.pop("sslcourse", {}))
    if "timeout" in ours:
        parts.append(f"timeout={ours.pop('timeout')}")
    if "checks" in ours:
        parts.append("checks=" + ",".join(ours.pop("checks")))
    if ours.pop("worker_setup", False):
        parts.append("setup")
    if ours:
        meta["sslcourse"] = ours
    if meta.get("tags"):
        parts.append("tags=" + ",".join(meta.pop("tags")))
    meta.pop("tags", None)
    if meta:
        parts.append(json.dumps(meta, sort_keys=True))
    return " ".join(parts)


def notebook_to_text(nb) -> str:
    out = []
    for cell in nb.cells:
        out.append(header_for(cell))
        if cell.cell_type == "markdown":
            out += [("# " + line) if line else "#" for line in cell.source.splitlines()]
        else:
            out += cell.source.splitlines()
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    argv = argv or sys.argv[1:]
    if len(argv) == 2 and argv[0] == "export":
        sys.stdout.write(notebook_to_text(nbformat.read(argv[1], as_version=4)))
        return 0
    if len(argv) == 3 and argv[0] == "import":
        with open(argv[1]) as f:
            nb = text_to_notebook(f.read())
        nbformat.validate(nb)
        nbformat.write(nb, argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
