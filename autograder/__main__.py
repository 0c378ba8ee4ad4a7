"""Command line of the course's grading harness: ``python -m autograder --help``."""
from .cli import main

raise SystemExit(main())
