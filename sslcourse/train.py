"""A plain training loop with a wall-clock budget and a progress bar. No framework: you pass a
function that does one step and returns the loss; you get back a history dict."""
from __future__ import annotations

import math
import os
import time
from typing import Callable, Iterator

import torch
from tqdm.auto import tqdm

from .utils import save_for_benchmarks


def random_batches(n: int, batch_size: int, *, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Endless random mini-batch indices over ``range(n)``, epoch after epoch, each (batch_size,)."""
    batch_size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=generator)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]


_current = {"clock": 0.0}


def elapsed() -> float:
    """Seconds of its budget that the ``train`` call in progress has used, for schedules that follow the
    budget (e.g. a cosine learning rate over ``seconds``). The clock pauses while probing; in a benchmark
    replay (``SSLCOURSE_STEPS``) it is the time the earlier run had reached at the current step."""
    return _current["clock"]


def train(step: Callable[[int], float | dict], *, seconds: float, max_steps: int | None = None,
          min_steps: int = 1, desc: str = "training", log_every: int = 1, progress: bool = True,
          probe: Callable[[], dict] | None = None, batch_size: int | None = None) -> dict:
    """Call ``step(i)`` for i = 0, 1, ... until ``seconds`` of wall-clock time or ``max_steps``.

    ``step`` does one optimisation step and returns the loss (a float) or a dict of floats.
    Returns ``{"step": [...], "time": [...], "loss": [...], <other keys>: [...]}``.

    ``batch_size`` (optional): training examples per step, to report the throughput in examples per second.
    ``probe`` (optional) returns a dict of accuracies of the model being trained, e.g.
    ``lambda: evaluate(encoder)``. It runs only when the ``SSLCOURSE_CURVE`` environment variable lists
    training times in seconds (the benchmarks set "10,30,60"): at each of those times and at the end,
    with the training clock paused. The points go to ``history["curve"]`` and, when ``SSLCOURSE_RESULTS``
    names a folder, to ``curve-<desc>.json`` there (accuracy against training time).

    ``SSLCOURSE_STEPS`` (benchmarks only) names a JSON file ``{desc: {"steps": n, "seconds": s}}`` from an
    earlier run alone on the machine: a run listed there does exactly ``n`` steps whatever the clock says
    (``n`` scaled down when this call's ``seconds`` or ``max_steps`` ask for less), so other seeds can run
    side by side with the same budget; its curve marks fall at the steps the earlier run had reached at
    those times.
    """
    history: dict[str, list] = {"step": [], "time": []}
    replay = _replayed(desc)
    rate = 1.0  # steps per second of the clock the marks refer to
    if replay:  # the earlier run's steps, scaled down if this call asks for less (a shrunk side experiment)
        rate = replay["steps"] / max(replay["seconds"], 1e-9)
        target = max(1, math.ceil(replay["steps"] * min(1.0, seconds / max(replay["seconds"], 1e-9)) - 1e-6))
        max_steps = min_steps = target if max_steps is None else min(target, max_steps)
        seconds = float("inf")
    marks = _curve_marks() if probe is not None else []
    curve: list[dict] = []

    def take_point(i: int, at: float) -> float:
        """Probe with the clock stopped; return how long the probe took (added to ``start``)."""
        t0 = time.perf_counter()
        curve.append({"seconds": round(at, 1), "steps": i, **probe()})
        return time.perf_counter() - t0

    start = time.perf_counter()
    bar = tqdm(total=replay["steps"] if replay else round(seconds, 1), desc=desc, unit="step" if replay else "s",
               disable=not progress, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} " + ("steps" if replay else "s")
               + " {postfix}")
    i = 0
    while True:
        elapsed = time.perf_counter() - start
        if i >= min_steps and (elapsed >= seconds or (max_steps is not None and i >= max_steps)):
            break
        clock = i / rate if replay else elapsed  # replay: the earlier run's time at this step
        _current["clock"] = clock
        if marks and clock >= marks[0]:
            start += take_point(i, clock)
            marks = [m for m in marks if m > clock]
        out = step(i)
        values = out if isinstance(out, dict) else {"loss": out}
        if i % log_every == 0:
            history["step"].append(i)
            history["time"].append(time.perf_counter() - start)
            for key, value in values.items():
                history.setdefault(key, []).append(float(value))
            bar.set_postfix({k: f"{float(v):.3f}" for k, v in values.items()}, refresh=False)
        bar.n = i + 1 if replay else min(seconds, time.perf_counter() - start)
        bar.refresh()
        i += 1
    bar.close()
    history["steps"] = i
    history["seconds"] = time.perf_counter() - start
    if batch_size:
        history["examples_per_s"] = i * batch_size / max(history["seconds"], 1e-9)
    _save("run", desc, {"steps": i, "seconds": round(history["seconds"], 2), "batch_size": batch_size,
                        "examples_per_s": history.get("examples_per_s")})
    if probe is not None and _curve_marks():
        take_point(i, i / rate if replay else history["seconds"])
        history["curve"] = curve
        _save("curve", desc, {"curve": curve})
    return history


def _replayed(desc: str) -> dict | None:
    path = os.environ.get("SSLCOURSE_STEPS", "").strip()
    if not path:
        return None
    import json
    return json.loads(open(path).read()).get(desc)


def _curve_marks() -> list[float]:
    text = os.environ.get("SSLCOURSE_CURVE", "").strip()
    return sorted(float(x) for x in text.split(",") if x.strip()) if text else []


def _save(kind: str, desc: str, data: dict) -> None:
    """Under ``SSLCOURSE_RESULTS`` (benchmarks), keep ``<kind>-<desc>.json`` for the report."""
    name = "".join(ch if ch.isalnum() else "-" for ch in desc.lower()).strip("-")
    save_for_benchmarks(f"{kind}-{name}", {"method": desc, **data})
