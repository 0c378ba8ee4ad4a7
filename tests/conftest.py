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
