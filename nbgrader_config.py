"""Course-level nbgrader configuration: ``solutions/`` is the source, ``notebooks/`` the release.

On top of nbgrader's defaults this file turns on the hardening nbgrader lacks out of the box (see
``autograder/nbgrader_ext.py``): per-cell timeouts from our own cell metadata, warnings on stderr no
longer zero a test cell, deleted grade and task cells are restored, the skip-execution tag is defused,
and hidden tests are stripped from the feedback students receive.
"""
import os
import secrets

from autograder.nbgrader_ext import StripHiddenTests, cell_timeout

c = get_config()  # noqa: F821 (provided by nbgrader)
here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "sslcourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

c.GenerateAssignment.create_assignment = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution: per-cell timeouts from metadata.sslcourse.timeout (capped), a generous kernel start.
c.Execute.timeout_func = cell_timeout
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True
# Defuse "skip-execution": nbclient skips cells carrying this tag; make it one nobody can guess.
c.Execute.skip_cells_with_tag = "sslcourse-never-skip-" + secrets.token_hex(16)

# A Python warning printed to stderr must not zero a test cell (nbgrader zeroes any stderr output).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning|warn\(|warnings\.warn)"

# Restore grade / task cells a student deleted (they come back from the gradebook, source included).
c.OverwriteCells.add_missing_cells = True

# Feedback: hidden test regions and their tracebacks never reach the student.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    StripHiddenTests,
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
