"""Plotting helpers: image grids, training curves and result bars."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def to_numpy_image(img: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor in [0, 1] -> (H, W, C) or (H, W) array for imshow."""
    arr = img.detach().float().cpu().clamp(0, 1).numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def show_images(images, titles=None, *, ncols: int = 8, scale: float = 1.3, suptitle: str | None = None):
    """A grid of (N, C, H, W) images with optional titles. Returns the figure."""
    n = len(images)
    nrows = max(1, (n + ncols - 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + (0.3 if titles else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(to_numpy_image(images[i]), cmap="gray", interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history: dict, keys=("loss",), *, ax=None, title: str | None = None, smooth: int = 10):
    """Training curves against steps, with a moving average."""
    ax = ax or plt.subplots(figsize=(5, 3))[1]
    for key in keys:
        y = np.asarray(history[key], dtype=float)
        ax.plot(history["step"], y, alpha=0.3)
        if len(y) > smooth:
            ax.plot(history["step"][smooth - 1:], np.convolve(y, np.ones(smooth) / smooth, "valid"), label=key)
        else:
            ax.plot(history["step"], y, label=key)
    ax.set_xlabel("step")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def bar_results(results: dict, *, metrics=("linear", "knn"), ax=None, title: str = "Accuracy on shapes (test)",
                chance: float | None = 0.1):
    """Grouped bars: ``results`` maps a method name to {metric: accuracy}."""
    ax = ax or plt.subplots(figsize=(1.5 + 1.3 * len(results), 3.2))[1]
    names = list(results)
    width = 0.8 / len(metrics)
    for j, metric in enumerate(metrics):
        vals = [results[name].get(metric, np.nan) for name in names]
        bars = ax.bar(np.arange(len(names)) + (j - (len(metrics) - 1) / 2) * width, vals, width, label=metric)
        ax.bar_label(bars, labels=[f"{v:.0%}" if v == v else "" for v in vals], fontsize=7)
    if chance is not None:
        ax.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def results_table(results: dict, metrics=("linear", "knn")) -> str:
    """A Markdown table of ``{method: {metric: accuracy}}`` (print it, or display(Markdown(...)))."""
    lines = ["| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, row in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[m]:.1%}" if m in row else "-" for m in metrics) + " |")
    return "\n".join(lines)
