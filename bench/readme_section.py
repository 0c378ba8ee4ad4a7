"""Copy the numbers of the last `make bench` (bench/results.json) into README.md.

    python bench/readme_section.py          # make bench runs it after run_all.py

Rewrites the part of the README between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` (the
benchmark section, with bench/grading.json from `make bench-grading` when it exists) and the runtime
column of the notebook table (``<!-- runtime:NN -->`` markers), so that the README shows exactly the
numbers the benchmarks printed.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from run_all import SEED0_ONLY, pct

ROOT = Path(__file__).resolve().parent.parent


def section(results: dict, at_scale: dict | None = None) -> str:
    lines = [f"Measured by `make bench` on {results['machine']} ({results['date']}); the whole run took "
             f"{results['total_seconds'] / 60:.1f} minutes. Every accuracy is the course's reference "
             "evaluation of frozen features on the shapes test split (L-BFGS linear probe; kNN: majority vote "
             f"of the 20 nearest training images), mean ± std over {results['seeds']} seeds, each at the "
             "notebook's full budget. The full report, with memory, throughput and the slowest cells of every "
             "notebook: [bench/REPORT.md](bench/REPORT.md).", "",
             "| method | linear probe % | kNN % | zero-shot % |", "|---|---|---|---|"]
    for method, row in results["table"].items():
        label = f"{method} (seed 0 only)" if method in SEED0_ONLY.values() else method
        lines.append(f"| {label} | {pct(row.get('linear'))} | {pct(row.get('knn'))} | {pct(row.get('zero-shot'))} |")
    lines += ["", "![Representation quality of every method](bench/quality.png)", "",
              "Accuracy against training time (linear probe; the last point is each method's full budget):", "",
              "![Accuracy against training time](bench/curves.png)", "",
              "Grading one assignment (00_evaluation; half correct, half blank submissions):", "",
              "| tool | workers | seconds per submission | submissions per minute |", "|---|---|---|---|"]
    for g in results["grading"]:
        lines.append(f"| {g['tool']} | {g['workers']} | {g['seconds_per_submission']} | {g['per_minute']} |")
    if at_scale:
        mix = ", ".join(f"{n} {kind}" for kind, n in at_scale["mix"].items())
        when = f", {at_scale['date']}" if at_scale.get("date") else ""
        lines += ["", f"Grading at scale (`make bench-grading`{when}): "
                  f"{at_scale['submissions']} submissions of {at_scale['assignment']} ({mix}), every one with "
                  "exactly one result and the same scores in every mode:", "",
                  "| mode | seconds | seconds per submission | submissions per minute |", "|---|---|---|---|"]
        for m in at_scale["modes"]:
            lines.append(f"| `{m['mode']}` | {m['seconds']} | {m['seconds_per_submission']} | {m['per_minute']} |")
    return "\n".join(lines)


def main() -> int:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    grading = ROOT / "bench" / "grading.json"  # written by `make bench-grading`
    at_scale = json.loads(grading.read_text()) if grading.exists() else None
    if results.get("smoke"):
        print("bench/results.json comes from a smoke run: README left alone", file=sys.stderr)
        return 1
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start not in text or end not in text:
        print(f"README.md has no {start} ... {end} section", file=sys.stderr)
        return 1
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    text = head + start + "\n" + section(results, at_scale) + "\n" + end + tail
    for assignment, run in results["notebooks"].items():
        number = assignment[:2]
        text = re.sub(rf"<!-- runtime:{number} -->[^|]*\|", f"<!-- runtime:{number} -->{run['seconds']:.0f} s |", text)
    readme.write_text(text)
    print("README.md: benchmark section and notebook runtimes updated from bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
