"""Device, seeding and training budgets.

Budgets: every notebook states its full-setting budgets (seconds of training, dataset sizes) in a
``parameters`` cell and passes them through :func:`budget`. Under nbgrader (``NBGRADER_EXECUTION`` is
set), in the course's tests (``SSLCOURSE_QUICK=1``) or with ``SSLCOURSE_BUDGET_SCALE`` set, the same
notebook runs with shrunken budgets, so the grader and CI execute exactly the code students run.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

QUICK_SCALE = 0.01  # seconds of training kept under autograde / tests (150 s -> 1.5 s)


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, else Apple MPS, else CPU. ``SSLCOURSE_DEVICE`` or ``prefer`` override."""
    name = prefer or os.environ.get("SSLCOURSE_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs natively on ``device``: oneDNN's bf16 on a CPU, or a CUDA GPU with bf16."""
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch.Generator seeded the same way.

    The benchmarks repeat a notebook with other seeds by setting ``SSLCOURSE_SEED``, which then
    replaces ``seed``.
    """
    seed = run_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def run_seed(default: int = 0) -> int:
    """The seed of this run: ``SSLCOURSE_SEED`` when set (benchmarks over seeds), else ``default``."""
    text = os.environ.get("SSLCOURSE_SEED", "").strip()
    return int(text) if text else default


def is_quick() -> bool:
    """True under nbgrader autograde/validate and in the course's own tests."""
    return bool(os.environ.get("NBGRADER_EXECUTION")) or os.environ.get("SSLCOURSE_QUICK", "") not in ("", "0")


def budget_scale() -> float:
    """Multiplier applied to every training budget (1.0 at full settings)."""
    if "SSLCOURSE_BUDGET_SCALE" in os.environ:
        return float(os.environ["SSLCOURSE_BUDGET_SCALE"])
    return QUICK_SCALE if is_quick() else 1.0


def budget(seconds: float) -> float:
    """A training budget in seconds, scaled for quick runs (never below 0.2 s)."""
    return max(0.2, seconds * budget_scale()) if budget_scale() != 1.0 else float(seconds)


def quick_or(full, quick):
    """``quick`` under autograde and in tests, ``full`` otherwise (dataset sizes, epochs...)."""
    return quick if is_quick() else full


def set_threads(n: int | None = None) -> int:
    """Use ``n`` torch threads (default: ``SSLCOURSE_THREADS`` if set, else all cores, at most 8); returns
    the number used."""
    n = n or int(os.environ.get("SSLCOURSE_THREADS") or 0) or min(8, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def report_results(name: str, results: dict) -> dict:
    """Print a notebook's headline numbers and, when ``SSLCOURSE_RESULTS`` names a folder (benchmarks),
    also save them there as ``<name>.json``. ``results`` maps strings to numbers or nested dicts."""

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k} / ")
            else:
                yield f"{prefix}{k}", v

    print(f"== {name}: results ==")
    for key, value in flat(results):
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    save_for_benchmarks(name, results)
    return results


def save_for_benchmarks(name: str, data: dict) -> None:
    """When ``SSLCOURSE_RESULTS`` names a folder (benchmarks), save ``data`` there as ``<name>.json``."""
    import json
    from pathlib import Path

    folder = os.environ.get("SSLCOURSE_RESULTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(json.dumps(data, indent=1, default=float))
