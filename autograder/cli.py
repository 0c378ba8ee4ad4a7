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

    args = parser.parse_args(argv)
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
