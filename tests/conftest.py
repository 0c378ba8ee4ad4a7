import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def quick_env(**extra) -> dict:
    """Environment for executing notebooks with shrunken budgets, as the grader does."""
    env = dict(os.environ)
    env.update(SSLCOURSE_QUICK="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (--dist loadgroup) keep each test file on one worker (module fixtures are
    expensive: graded batches, course copies, servers), except the notebook executions, which spread."""
    from autograder.assignments import solution_path

    for item in items:
        module = item.module.__name__.split(".")[-1]
        if module != "test_notebooks":
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
        if module.startswith("test_suite_") and not solution_path(module[len("test_suite_"):]).exists():
            item.add_marker(pytest.mark.skip(reason="the assignment's notebook is not in this checkout yet"))
