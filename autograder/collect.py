"""Import a folder (or zip files) of submissions downloaded from an LMS into nbgrader's layout.

Like ``nbgrader zip_collect``: the student id is read from each file name with a regular expression
(named group ``student_id``); every notebook becomes ``submitted/<student_id>/<assignment>/<assignment>.ipynb``.
When a student has several files, the newest wins (and the others are reported).

    python -m autograder collect 00_evaluation downloads/ --to submitted/
    python -m autograder collect 00_evaluation canvas.zip --pattern '^(?P<student_id>[a-z]+)_\\d+'
"""
from __future__ import annotations

import re
import shutil
import time
import zipfile
from pathlib import Path

DEFAULT_PATTERN = r"^(?P<student_id>[A-Za-z0-9.\-]+?)_"  # id = the file name up to its first underscore


def _candidates(paths: list[str]):
    """(name, mtime, read_bytes) for every notebook in the given files, folders and zip archives."""
    for raw in paths:
        p = Path(raw)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.suffix == ".ipynb" and f.is_file():
                yield f.name, f.stat().st_mtime, f.read_bytes
            elif f.suffix == ".zip" and f.is_file():
                with zipfile.ZipFile(f) as z:
                    for info in z.infolist():
                        if info.filename.endswith(".ipynb") and not info.is_dir():
                            data = z.read(info)
                            yield Path(info.filename).name, time.mktime(info.date_time + (0, 0, -1)), (lambda d=data: d)


def collect(assignment: str, paths: list[str], dest: Path, *, pattern: str = DEFAULT_PATTERN) -> dict:
    regex = re.compile(pattern)
    chosen: dict[str, tuple] = {}
    skipped, superseded = [], []
    for name, mtime, read in _candidates(paths):
        m = regex.search(name)
        if not m or not m.groupdict().get("student_id"):
            skipped.append(name)
            continue
        sid = m.group("student_id")
        if sid in chosen:
            older, newer = sorted([chosen[sid], (name, mtime, read)], key=lambda t: t[1])
            superseded.append(older[0])
            chosen[sid] = newer
        else:
            chosen[sid] = (name, mtime, read)
    for sid, (name, _, read) in sorted(chosen.items()):
        folder = dest / sid / assignment
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_bytes(read())
    return {"students": sorted(chosen), "skipped": skipped, "superseded": superseded}
