"""A plain training loop with a wall-clock budget and a progress bar. No framework: you pass a
function that does one step and returns the loss; you get back a history dict."""
from __future__ import annotations

import time
from typing import Callable, Iterator

import torch
from tqdm.auto import tqdm


def random_batches(n: int, batch_size: int, *, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Endless random mini-batch indices over ``range(n)``, epoch after epoch, each (batch_size,)."""
    batch_size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=generator)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]


def train(step: Callable[[int], float | dict], *, seconds: float, max_steps: int | None = None,
          min_steps: int = 1, desc: str = "training", log_every: int = 1, progress: bool = True) -> dict:
    """Call ``step(i)`` for i = 0, 1, ... until ``seconds`` of wall-clock time or ``max_steps``.

    ``step`` does one optimisation step and returns the loss (a float) or a dict of floats.
    Returns ``{"step": [...], "time": [...], "loss": [...], <other keys>: [...]}``.
    """
    history: dict[str, list] = {"step": [], "time": []}
    start = time.perf_counter()
    bar = tqdm(total=round(seconds, 1), desc=desc, unit="s", disable=not progress,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}")
    i = 0
    while True:
        elapsed = time.perf_counter() - start
        if i >= min_steps and (elapsed >= seconds or (max_steps is not None and i >= max_steps)):
            break
        out = step(i)
        values = out if isinstance(out, dict) else {"loss": out}
        if i % log_every == 0:
            history["step"].append(i)
            history["time"].append(time.perf_counter() - start)
            for key, value in values.items():
                history.setdefault(key, []).append(float(value))
            bar.set_postfix({k: f"{float(v):.3f}" for k, v in values.items()}, refresh=False)
        bar.n = min(seconds, time.perf_counter() - start)
        bar.refresh()
        i += 1
    bar.close()
    history["steps"] = i
    history["seconds"] = time.perf_counter() - start
    return history
