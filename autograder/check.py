"""``make check NB=...``: execute a notebook like the grader does and summarise the visible checks."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    if not argv:
        print("usage: make check NB=notebooks/00_evaluation/00_evaluation.ipynb", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable notebook gets one clear line
        print(f"{path}: not a readable notebook ({exc})")
        return 2
    os.environ["NBGRADER_EXECUTION"] = "validate"  # quick budgets, exactly as under the grader
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    failed, passed, todo = [], [], []
    for cell in nb.cells:
        nbg = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not nbg.get("grade"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        name = nbg.get("grade_id", "?")
        if not errors:
            passed.append((name, nbg.get("points", 0)))
        elif errors[0]["ename"] == "NotImplementedError":
            todo.append(name)
        else:
            failed.append((name, f"{errors[0]['ename']}: {errors[0]['evalue']}"))
    for name, pts in passed:
        print(f"  PASS  {name} ({pts} points)")
    for name in todo:
        print(f"  TODO  {name}: not implemented yet")
    for name, why in failed:
        print(f"  FAIL  {name}: {why.splitlines()[0] if why else ''}")
    print(f"{len(passed)} passed, {len(failed) + len(todo)} failed")
    return 0 if not failed and not todo else 1


if __name__ == "__main__":
    sys.exit(main())
