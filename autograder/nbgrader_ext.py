"""nbgrader hardening used by ``nbgrader_config.py``."""
from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

DEFAULT_CELL_TIMEOUT = 120  # seconds, for a cell without metadata.sslcourse.timeout
MAX_CELL_TIMEOUT = 900      # a student editing the metadata cannot raise it past this


def cell_timeout(cell) -> int:
    """Per-cell timeout for nbclient: ``metadata.sslcourse.timeout`` clamped to [5, MAX_CELL_TIMEOUT]."""
    try:
        value = int(cell.metadata.get("sslcourse", {}).get("timeout", DEFAULT_CELL_TIMEOUT))
    except (TypeError, ValueError, AttributeError):
        value = DEFAULT_CELL_TIMEOUT
    return max(5, min(MAX_CELL_TIMEOUT, value))


HIDDEN = re.compile(r"[ \t]*#+ BEGIN HIDDEN TESTS.*?#+ END HIDDEN TESTS[^\n]*\n?", re.S)


def strip_hidden(source: str) -> tuple[str, bool]:
    """Remove every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region."""
    new = HIDDEN.sub("", source)
    return new, new != source


class StripHiddenTests(Preprocessor):
    """Feedback preprocessor: drop hidden test regions and the tracebacks that would quote them."""

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        cell.source, had_hidden = strip_hidden(cell.source)
        if had_hidden:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: a hidden test failed "
                                        "(its code is not shown; re-read the exercise and the visible checks)"]
        return cell, resources
