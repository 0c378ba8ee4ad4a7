"""The baselines of ``00_evaluation`` (raw pixels, random init, supervised), reusable and cached.

Later notebooks compare every self-supervised method with these three numbers. The supervised encoder is
given code (plain supervised training), not a graded exercise. Results are cached in ``data/cache`` per
setting, so only the first notebook that asks pays for the training.
"""
from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import nn

from .data import cache_dir, load_shapes
from .evaluation import evaluate
from .models import SmallCNN
from .train import random_batches, train
from .utils import budget, is_quick, quick_or, run_seed, save_for_benchmarks


def train_supervised(train_set, *, seconds: float, device: torch.device | str = "cpu", seed: int | None = None,
                     progress: bool = True) -> tuple[nn.Module, dict]:
    """A SmallCNN trained with labels (linear head, cross-entropy, flips and shifts) for ``seconds``.
    ``seed`` defaults to the run's seed (0 unless the benchmarks set ``SSLCOURSE_SEED``)."""
    seed = run_seed(0) if seed is None else seed
    torch.manual_seed(seed)
    encoder = SmallCNN(in_channels=train_set.images.shape[1]).to(device)
    head = nn.Linear(encoder.feature_dim, len(train_set.classes)).to(device)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=2e-3)
    batches = random_batches(len(train_set), 128, generator=torch.Generator().manual_seed(seed))

    def step(i):
        idx = next(batches)
        x, y = train_set.images[idx], train_set.labels[idx]
        x = torch.roll(x, shifts=torch.randint(-3, 4, (2,)).tolist(), dims=(2, 3))
        x = torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(3), x)
        loss = F.cross_entropy(head(encoder(x.to(device))), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return encoder, train(step, seconds=seconds, desc="supervised baseline", progress=progress, batch_size=128)


def baseline_results(*, supervised_seconds: float = 30, n_train: int = 10_000, n_test: int = 2_000,
                     device: torch.device | str = "cpu", use_cache: bool = True) -> dict:
    """``{"raw pixels": {...}, "random init": {...}, "supervised": {...}}`` with linear / kNN accuracy.

    Cached on disk per (budget, sizes); under quick mode the sizes and budget shrink.
    """
    supervised_seconds = budget(supervised_seconds)
    n_train, n_test = quick_or(n_train, 1_000), quick_or(n_test, 500)
    seed = run_seed(0)
    path = _cache_path(supervised_seconds, n_train, n_test)
    if use_cache and path is not None and path.exists() and not is_quick():
        return json.loads(path.read_text())
    train_set, test_set = load_shapes("train", n=n_train), load_shapes("test", n=n_test)
    torch.manual_seed(seed)
    random_init = SmallCNN().to(device)
    encoder, _ = train_supervised(train_set, seconds=supervised_seconds, device=device, seed=seed)
    return save_baselines(random_init, encoder, train_set, test_set, supervised_seconds=supervised_seconds)


def save_baselines(random_init: nn.Module, supervised: nn.Module, train_set, test_set, *,
                   supervised_seconds: float) -> dict:
    """Evaluate the three baselines with the course's reference code and cache them for later notebooks.

    Notebook 00 calls this with the encoders it has just trained, so that no later notebook has to train
    the supervised baseline again. Nothing is cached under quick mode."""
    results = {"raw pixels": evaluate(None, train_set, test_set),
               "random init": evaluate(random_init, train_set, test_set),
               "supervised": evaluate(supervised, train_set, test_set)}
    save_for_benchmarks("baselines", results)  # the benchmark table's baseline rows (reference evaluation)
    path = _cache_path(supervised_seconds, len(train_set), len(test_set))
    if path is not None and not is_quick():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(path)
    return results


def _cache_path(supervised_seconds: float, n_train: int, n_test: int):
    folder = cache_dir()
    seed = run_seed(0)
    key = f"baselines-{supervised_seconds:g}s-{n_train}-{n_test}" + (f"-seed{seed}" if seed else "") + ".json"
    return folder / key if folder is not None else None
