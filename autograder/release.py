"""Generate the student release ``notebooks/`` from ``solutions/`` with ``nbgrader generate_assignment``.

The generation runs in a temporary copy of the course (its own gradebook), so it never touches the
instructor's database; ``--check`` compares the result with the committed ``notebooks/`` byte for byte.
"""
from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .assignments import ROOT, available


def notebook_outputs(path: Path) -> list[int]:
    """Indices of code cells that carry outputs or execution counts."""
    nb = nbformat.read(path, as_version=4)
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]


def nbgrader_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # alembic, nbgrader
    env.pop("NBGRADER_EXECUTION", None)
    return env


def generate(assignments: list[str], workdir: Path) -> Path:
    """Run generate_assignment for ``assignments`` in a copy of the course under ``workdir``."""
    shutil.copy(ROOT / "nbgrader_config.py", workdir / "nbgrader_config.py")
    for a in assignments:
        shutil.copytree(ROOT / "solutions" / a, workdir / "solutions" / a,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", a, "--force", "--log-level=WARN"]
        proc = subprocess.run(cmd, cwd=workdir, env=nbgrader_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {a} failed:\n{proc.stdout}\n{proc.stderr}")
    return workdir / "notebooks"


def diff_trees(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two folders (missing on either side, or different bytes)."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()} if a.exists() else set()
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()} if b.exists() else set()
    out = [str(p) for p in sorted(files_a ^ files_b)]
    out += [str(p) for p in sorted(files_a & files_b) if not filecmp.cmp(a / p, b / p, shallow=False)]
    return out


def main(check: bool = False, assignments: list[str] | None = None) -> int:
    assignments = assignments or available()
    dirty = [f"{a}: cells {notebook_outputs(ROOT / 'solutions' / a / f'{a}.ipynb')}" for a in assignments
             if notebook_outputs(ROOT / "solutions" / a / f"{a}.ipynb")]
    if dirty:
        print("solutions carry outputs (clear them before committing):\n  " + "\n  ".join(dirty))
        if check:
            return 1
    with tempfile.TemporaryDirectory(prefix="sslcourse-release-") as tmp:
        fresh = generate(assignments, Path(tmp))
        if check:
            diffs = [f"{a}/{d}" for a in assignments for d in diff_trees(fresh / a, ROOT / "notebooks" / a)]
            if diffs:
                print("notebooks/ is out of date with solutions/ (run `make release`):\n  " + "\n  ".join(diffs))
                return 1
            print(f"notebooks/ is up to date for {', '.join(assignments)}")
            return 0
        for a in assignments:
            shutil.rmtree(ROOT / "notebooks" / a, ignore_errors=True)
            shutil.copytree(fresh / a, ROOT / "notebooks" / a)
            print(f"released notebooks/{a}")
    return 0
