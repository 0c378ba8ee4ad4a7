"""``python -m autograder`` subcommands: release, check, grade, nbgrader."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/ (nbgrader generate_assignment)")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--check", action="store_true", help="fail if notebooks/ differs from a fresh regeneration")

    p = sub.add_parser("check", help="run a notebook's visible checks the way the grader runs them")
    p.add_argument("notebook")

    p = sub.add_parser("grade", help="grade submissions with the hidden suite in a sandbox")
    p.add_argument("assignment")
    p.add_argument("paths", nargs="+", help="notebooks, submitted/<student>/<assignment>/ folders or submitted/")
    p.add_argument("--out", required=True, help="output folder: <out>/<student>/<assignment>/results.json, grades.csv")
    p.add_argument("--workers", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--force", action="store_true", help="regrade submissions that already have a result")
    p.add_argument("--seed", type=int, help="fix the hidden inputs (default: new random inputs every run)")
    p.add_argument("--call-timeout", type=float, default=30.0)
    p.add_argument("--submission-timeout", type=float, default=300.0)
    p.add_argument("--memory-mb", type=int, default=4096)
    p.add_argument("--load-timeout", type=float, default=60.0)
    p.add_argument("--dask", metavar="ADDRESS", help="grade on a Dask cluster (tcp://host:8786), or `local`")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("nbgrader", help="nbgrader autograde + hidden suite, scores recorded in the gradebook")
    p.add_argument("assignment")
    p.add_argument("--root", default=None, help="course directory (default: this repository)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default=None, help="hidden-suite results (default: <root>/graded)")
    p.add_argument("--skip-autograde", action="store_true", help="only run the hidden suite and record it")
    p.add_argument("--feedback", action="store_true", help="also run nbgrader generate_feedback")
    p.add_argument("--call-timeout", type=float, default=30.0)
    p.add_argument("--submission-timeout", type=float, default=300.0)

    p = sub.add_parser("collect", help="import LMS downloads (files, folders, zips) into submitted/<student>/<assignment>/")
    p.add_argument("assignment")
    p.add_argument("paths", nargs="+")
    p.add_argument("--to", default="submitted", help="destination folder (default: submitted)")
    p.add_argument("--pattern", default=None, help="regex with a named group student_id, matched on file names")

    args = parser.parse_args(argv)
    if args.command == "collect":
        from pathlib import Path

        from .collect import DEFAULT_PATTERN, collect
        report = collect(args.assignment, args.paths, Path(args.to), pattern=args.pattern or DEFAULT_PATTERN)
        print(f"collected {len(report['students'])} students into {args.to}/<student>/{args.assignment}/")
        for name in report["superseded"]:
            print(f"  older file ignored: {name}")
        for name in report["skipped"]:
            print(f"  no student id in file name, skipped: {name}")
        return 0
    if args.command == "grade":
        from pathlib import Path

        from .assignments import ASSIGNMENTS
        from .batch import grade_batch
        from .sandbox import Limits
        if args.assignment not in ASSIGNMENTS:
            parser.error(f"unknown assignment {args.assignment!r}; choose from {', '.join(ASSIGNMENTS)}")
        limits = Limits(call_timeout=args.call_timeout, submission_timeout=args.submission_timeout,
                        memory_mb=args.memory_mb, load_timeout=args.load_timeout)
        summaries = grade_batch(args.assignment, args.paths, Path(args.out), workers=args.workers,
                                force=args.force, limits=limits, seed=args.seed, progress=not args.quiet,
                                dask=args.dask)
        for s in sorted(summaries, key=lambda s: s["student"]):
            print(f"{s['student']:>20}  {s['score']:5g} / {s['max_score']:<5g} {s['status']:>9}  ({s['seconds']} s)")
        print(f"grades: {Path(args.out) / 'grades.csv'}")
        return 0
    if args.command == "nbgrader":
        from pathlib import Path

        from .assignments import ROOT
        from .nbgrader_bridge import main as bridge_main
        from .sandbox import Limits
        return bridge_main(args.assignment, root=Path(args.root) if args.root else ROOT, workers=args.workers,
                           out=Path(args.out) if args.out else None, skip_autograde=args.skip_autograde,
                           feedback=args.feedback,
                           limits=Limits(call_timeout=args.call_timeout, submission_timeout=args.submission_timeout))
    if args.command == "release":
        from .release import main as release_main
        return release_main(check=args.check, assignments=args.assignments or None)
    if args.command == "check":
        from .check import main as check_main
        return check_main([args.notebook])
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
