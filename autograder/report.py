"""Results in the formats people use: Gradescope ``results.json``, ``feedback.md``/``.html``, ``grades.csv``.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so a
crash or a kill never leaves a half-written result.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import tempfile
from pathlib import Path

STATUS_TEXT = {
    "ok": "graded", "timeout": "time limit exceeded", "memory": "memory limit exceeded",
    "crashed": "your code crashed", "missing": "graded function(s) missing", "tampered": "notebook tampered with",
    "invalid": "not a valid notebook",
}


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def totals(result: dict) -> tuple[float, float]:
    tests = result.get("tests", [])
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def gradescope(result: dict) -> dict:
    """Gradescope's autograder schema (score, output, tests[] with name/score/max_score/status/output/visibility)."""
    score, max_score = totals(result)
    tests = [{"name": t["name"], "score": t["score"], "max_score": t["max_score"], "status": t["status"],
              "output": _test_output(t), "visibility": "visible",
              "extra_data": {"cause": t["cause"], "id": t["id"]}} for t in result.get("tests", [])]
    return {"score": score, "max_score": max_score, "execution_time": result.get("execution_time"),
            "output": f"{result['assignment']}: {score:g} / {max_score:g} points. Status: {result['status']}"
                      + (f" ({result['reason']})" if result.get("reason") else ""),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {k: result.get(k) for k in ("student", "assignment", "status", "reason", "seed",
                                                       "defences", "missing", "tampered", "submission")}}


def _test_output(t: dict) -> str:
    if t["status"] == "passed":
        return t.get("description", "")
    out = f"{t.get('description', '')}\n{t['output']}".strip()
    return out + (f"\nHint: {t['hint']}" if t.get("hint") else "")


def feedback_markdown(result: dict) -> str:
    score, max_score = totals(result)
    lines = [f"# Feedback: {result['assignment']}", "",
             f"**Student:** {result.get('student', '?')}  ", f"**Score (hidden suite):** {score:g} / {max_score:g}  ",
             f"**Status:** {result['status']} ({STATUS_TEXT.get(result['status'], '')})"]
    if result.get("reason"):
        lines.append(f"**Why:** {result['reason']}")
    lines += ["", "| check | points | result |", "|---|---|---|"]
    for t in result.get("tests", []):
        mark = "passed" if t["status"] == "passed" else f"failed ({t['cause']})"
        lines.append(f"| {t['name']} | {t['score']:g} / {t['max_score']:g} | {mark} |")
    failed = [t for t in result.get("tests", []) if t["status"] != "passed"]
    if failed:
        lines += ["", "## What to fix", ""]
        for t in failed:
            lines += [f"### {t['name']} ({t['max_score']:g} points)", ""]
            if t.get("description"):
                lines.append(f"*What was checked:* {t['description']}  ")
            lines += [f"*What happened:* " + t["output"].replace("\n", "  \n"), ""]
            if t.get("hint"):
                lines += [f"*Hint:* {t['hint']}", ""]
    elif result.get("tests"):
        lines += ["", "Every hidden check passed. Well done."]
    lines += ["", "_Hidden checks use inputs that change at every grading run; their expected values are never shown._"]
    return "\n".join(lines) + "\n"


def feedback_html(result: dict) -> str:
    score, max_score = totals(result)
    esc = html.escape
    rows = "".join(
        f"<tr class='{'pass' if t['status'] == 'passed' else 'fail'}'><td>{esc(t['name'])}</td>"
        f"<td>{t['score']:g} / {t['max_score']:g}</td><td>{'passed' if t['status'] == 'passed' else 'failed (' + esc(t['cause']) + ')'}</td></tr>"
        for t in result.get("tests", []))
    details = "".join(
        f"<section class='failed'><h3>{esc(t['name'])} ({t['max_score']:g} points)</h3>"
        + (f"<p><b>What was checked:</b> {esc(t['description'])}</p>" if t.get("description") else "")
        + f"<pre>{esc(t['output'])}</pre>"
        + (f"<p class='hint'><b>Hint:</b> {esc(t['hint'])}</p>" if t.get("hint") else "") + "</section>"
        for t in result.get("tests", []) if t["status"] != "passed")
    reason = f"<p><b>Why:</b> {esc(result['reason'])}</p>" if result.get("reason") else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {esc(result['assignment'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; line-height: 1.45; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
tr.pass td:last-child {{ color: #17702a; }} tr.fail td:last-child {{ color: #b3261e; font-weight: 600; }}
pre {{ background: #f6f6f6; padding: .6rem; white-space: pre-wrap; }} .hint {{ background: #fff8e1; padding: .4rem; }}
</style></head><body>
<h1>Feedback: {esc(result['assignment'])}</h1>
<p><b>Student:</b> {esc(str(result.get('student', '?')))}<br>
<b>Score (hidden suite):</b> <span id="score">{score:g} / {max_score:g}</span><br>
<b>Status:</b> <span id="status">{esc(result['status'])}</span> ({esc(STATUS_TEXT.get(result['status'], ''))})</p>
{reason}
<table id="summary"><tr><th>check</th><th>points</th><th>result</th></tr>{rows}</table>
{('<h2>What to fix</h2>' + details) if details else ''}
<p><i>Hidden checks use inputs that change at every grading run; their expected values are never shown.</i></p>
</body></html>
"""


def write_reports(result: dict, outdir: Path) -> None:
    outdir = Path(outdir)
    atomic_write(outdir / "feedback.md", feedback_markdown(result))
    atomic_write(outdir / "feedback.html", feedback_html(result))
    atomic_write(outdir / "details.json", json.dumps(result, indent=1, default=str))
    atomic_write(outdir / "results.json", json.dumps(gradescope(result), indent=1, default=str))  # last: marks done


def write_grades_csv(out: Path, assignment: str) -> Path:
    """One row per student: total, max, status, reason, then one column per hidden test."""
    rows, test_ids = [], []
    for path in sorted(out.glob(f"*/{assignment}/results.json")):
        try:
            gs = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        extra = gs.get("extra_data", {})
        scores = {t["extra_data"]["id"]: t["score"] for t in gs.get("tests", [])}
        for tid in scores:
            if tid not in test_ids:
                test_ids.append(tid)
        rows.append((path.parent.parent.name, gs, extra, scores))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", "assignment", "score", "max_score", "status", "reason", *test_ids])
    for student, gs, extra, scores in rows:
        writer.writerow([student, assignment, gs["score"], gs["max_score"], extra.get("status"), extra.get("reason"),
                         *[scores.get(t, 0) for t in test_ids]])
    atomic_write(out / "grades.csv", buf.getvalue())
    return out / "grades.csv"
