"""Given helpers of ``03_pretext_tasks``: the two-patch network of context prediction and the pictures
(where the sampled patches came from, rotation confusion per shape class). Nothing graded lives here:
``rotate_batch``, ``sample_patch_pair`` and ``relative_position_batch`` are written in the notebook.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from torch import nn

from .models import mlp
from .plots import to_numpy_image

# label -> where the neighbour sits relative to the anchor (Doersch et al.: 0 1 2 / 3 . 4 / 5 6 7)
POSITIONS = ("top left", "top", "top right", "left", "right", "bottom left", "bottom", "bottom right")
ROTATIONS = ("0°", "90°", "180°", "270°")  # label k = torch.rot90(x, k, dims=(-2, -1)), counter-clockwise


class ContextNet(nn.Module):
    """Late-fusion siamese network of Doersch et al. (2015), sized for a CPU.

    One ``encoder`` (shared weights) embeds each patch, (B, C, P, P) -> (B, D); the two features are
    concatenated, (B, 2D), and an MLP predicts the 8 relative positions: ``forward(anchors, neighbors)``
    returns logits (B, 8). Each patch is mean-subtracted per channel first, as in the paper, so the
    overall brightness of a patch (the background's gradient) is not a free cue.
    """

    def __init__(self, encoder: nn.Module, hidden_dim: int = 256):
        super().__init__()
        self.encoder = encoder
        self.head = mlp(2 * encoder.feature_dim, hidden_dim, len(POSITIONS))

    def forward(self, anchors: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
        z = torch.cat([self.encoder(_center(anchors)), self.encoder(_center(neighbors))], dim=1)  # (B, 2D)
        return self.head(z)  # (B, 8)


def _center(patches: torch.Tensor) -> torch.Tensor:
    return patches - patches.mean(dim=(2, 3), keepdim=True)  # (B, C, P, P), zero mean per channel


@torch.no_grad()
def predict(model: nn.Module, *inputs: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits of ``model(*inputs)`` in eval mode, in batches, on the CPU; the training flag is restored."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        out = [model(*(x[i:i + batch_size].to(device) for x in inputs)).float().cpu()
               for i in range(0, len(inputs[0]), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def locate_patch(image: torch.Tensor, patch: torch.Tensor) -> tuple[int, int] | None:
    """Top-left (row, col) where ``patch`` (C, p, q) occurs exactly in ``image`` (C, H, W), or None."""
    p, q = patch.shape[-2:]
    windows = image.unfold(1, p, 1).unfold(2, q, 1)                      # (C, H-p+1, W-q+1, p, q)
    hits = (windows == patch[:, None, None]).flatten(3).all(-1).all(0)   # (H-p+1, W-q+1)
    found = hits.nonzero()
    return tuple(found[0].tolist()) if len(found) else None


def show_patch_pairs(images, anchors, neighbors, labels, *, ncols: int = 4):
    """Each example: the image with the anchor (white) and the neighbour (orange) where they were cut,
    then the two patches on their own, titled with the label. Returns the figure."""
    n = len(images)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, 3 * ncols, figsize=(2.1 * ncols * 1.9, 2.1 * nrows),
                             gridspec_kw={"width_ratios": [2, 1, 1] * ncols}, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax_img, ax_a, ax_n = axes[i // ncols, 3 * (i % ncols):3 * (i % ncols) + 3]
        ax_img.imshow(to_numpy_image(images[i]), interpolation="nearest")
        for patch, colour in ((anchors[i], "white"), (neighbors[i], "tab:orange")):
            where = locate_patch(images[i], patch)
            if where is not None:
                ax_img.add_patch(Rectangle((where[1] - 0.5, where[0] - 0.5), patch.shape[-1], patch.shape[-2],
                                           fill=False, edgecolor=colour, lw=1.5))
        label = int(labels[i])
        ax_img.set_title(f"label {label}: {POSITIONS[label] if 0 <= label < 8 else '?'}", fontsize=8)
        ax_a.imshow(to_numpy_image(anchors[i]), interpolation="nearest")
        ax_a.set_title("anchor", fontsize=7)
        ax_n.imshow(to_numpy_image(neighbors[i]), interpolation="nearest")
        ax_n.set_title("neighbour", fontsize=7)
    fig.tight_layout()
    return fig


def confusion_matrix(true: torch.Tensor, pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) counts: row = true label, column = predicted label."""
    idx = true.long() * num_classes + pred.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


def show_rotation_confusion(rot_true, rot_pred, shape_labels, classes, *, ncols: int = 5):
    """One 4x4 confusion matrix (true rotation x predicted rotation, rows normalised) per shape class,
    sorted from the most to the least rotation-predictable class. Returns the figure."""
    accs = [(rot_pred[shape_labels == c] == rot_true[shape_labels == c]).float().mean().item()
            for c in range(len(classes))]
    order = np.argsort(accs)[::-1]
    nrows = (len(classes) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.5 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, c in zip(axes.flat, order):
        sel = shape_labels == c
        cm = confusion_matrix(rot_true[sel], rot_pred[sel], 4).float()
        cm = cm / cm.sum(1, keepdim=True).clamp(min=1)
        ax.axis("on")
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        for (r, k), v in np.ndenumerate(cm.numpy()):
            ax.text(k, r, f"{v:.0%}".replace("%", ""), ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 else "black")
        ax.set_xticks(range(4), ROTATIONS, fontsize=7)
        ax.set_yticks(range(4), ROTATIONS, fontsize=7)
        ax.set_title(f"{classes[c]}: {accs[c]:.0%}", fontsize=9)
    fig.supxlabel("predicted rotation", fontsize=9)
    fig.supylabel("true rotation", fontsize=9)
    fig.tight_layout()
    return fig
