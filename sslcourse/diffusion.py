"""Given code for the diffusion notebook: small denoisers eps_theta(x_t, t) and a sample-quality metric.

Nothing graded lives here. The noise schedules, the forward process q(x_t | x_0), its posterior, the
loss and the reverse step are yours to write in ``01_diffusion``; this module only provides networks
that *predict the noise* and a way to compare two point clouds.

* :func:`timestep_embedding` - the sinusoidal embedding of the step t (as in DDPM / Transformers).
* :class:`ToyDenoiser` - an MLP for 2-D points, (B, 2) and t (B,) -> predicted noise (B, 2).
* :class:`DigitsDenoiser` - a residual MLP for 8x8 digit images, (B, 1, 8, 8) -> (B, 1, 8, 8).
* :func:`mmd_rbf` - maximum mean discrepancy between two samples with a sum of RBF kernels.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer (or real) timesteps: (B,) -> (B, dim), dim even.

    Frequencies are geometric between 1 and 1 / max_period, so nearby steps get nearby embeddings and
    the network can still tell t = 3 from t = 4.
    """
    assert t.ndim == 1, f"expected timesteps of shape (B,), got {tuple(t.shape)}"
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (half,)
    angles = t.float()[:, None] * freqs[None, :]                                             # (B, half)
    return torch.cat([angles.cos(), angles.sin()], dim=1)                                  # (B, dim)


class ToyDenoiser(nn.Module):
    """eps_theta for 2-D points: an MLP on [x_t, embedding(t)].

    ``forward(x_t, t)``: x_t (B, 2) float, t (B,) integer steps in [0, T) -> predicted noise (B, 2).
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, time_dim: int = 32):
        super().__init__()
        self.time_dim = time_dim
        layers, width = [], dim + time_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert x_t.ndim == 2 and t.shape == x_t.shape[:1], (
            f"expected x_t (B, D) and t (B,), got {tuple(x_t.shape)} and {tuple(t.shape)}")
        emb = timestep_embedding(t, self.time_dim)     # (B, time_dim)
        return self.net(torch.cat([x_t, emb], dim=1))  # (B, D)


class ResBlock(nn.Module):
    """x + MLP(LayerNorm(x) + time projection): (B, H) and (B, E) -> (B, H)."""

    def __init__(self, hidden: int, time_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.time = nn.Linear(time_dim, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.mlp(self.norm(h) + self.time(emb))


class DigitsDenoiser(nn.Module):
    """eps_theta for small images: a residual MLP on the flattened pixels with a time embedding.

    ``forward(x_t, t)``: x_t (B, C, H, W), t (B,) integer steps -> predicted noise (B, C, H, W).
    For 8x8 digits (64 pixels) an MLP is as good as a convolutional net and much faster on a CPU.
    """

    def __init__(self, image_shape: tuple = (1, 8, 8), hidden: int = 256, depth: int = 3, time_dim: int = 64):
        super().__init__()
        self.image_shape = tuple(image_shape)
        pixels = math.prod(self.image_shape)
        self.time_dim = time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU())
        self.inp = nn.Linear(pixels, hidden)
        self.blocks = nn.ModuleList(ResBlock(hidden, time_dim) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, pixels))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert tuple(x_t.shape[1:]) == self.image_shape and t.shape == x_t.shape[:1], (
            f"expected x_t (B, {', '.join(map(str, self.image_shape))}) and t (B,), "
            f"got {tuple(x_t.shape)} and {tuple(t.shape)}")
        emb = self.time_mlp(timestep_embedding(t, self.time_dim))  # (B, E)
        h = self.inp(x_t.flatten(1))                                 # (B, hidden)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h).view_as(x_t)                              # (B, C, H, W)


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, *, bandwidths=(0.1, 0.2, 0.5, 1.0, 2.0)) -> float:
    """Squared maximum mean discrepancy between samples x (N, D) and y (M, D) (unbiased estimate).

    MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y), with k a sum of Gaussian kernels
    exp(-|a - b|^2 / (2 h^2)) over the bandwidths h (in the data's units). About 0 when the two samples
    come from the same distribution; larger is worse.
    """
    x, y = x.double().flatten(1), y.double().flatten(1)

    def kernel(a, b):
        d2 = torch.cdist(a, b).pow(2)  # (Na, Nb)
        return sum(torch.exp(-d2 / (2 * h * h)) for h in bandwidths)

    n, m = len(x), len(y)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(term_x + term_y - 2 * kxy.mean())
