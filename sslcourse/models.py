"""Small encoders sized for a 2-core CPU: a ~240k-parameter CNN and a tiny Vision Transformer."""
from __future__ import annotations

import torch
from torch import nn


def conv_block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Four 3x3 conv blocks (32-64-128-128 channels) and global average pooling.

    Input (B, C, H, W) with H, W >= 8; output features (B, feature_dim). About 240k parameters.
    """

    def __init__(self, in_channels: int = 3, width: int = 32, feature_dim: int = 128):
        super().__init__()
        self.feature_dim = feature_dim
        self.features = nn.Sequential(
            conv_block(in_channels, width, pool=True),        # (B, 32, H/2, W/2)
            conv_block(width, 2 * width, pool=True),          # (B, 64, H/4, W/4)
            conv_block(2 * width, 4 * width, pool=True),      # (B, 128, H/8, W/8)
            conv_block(4 * width, feature_dim, pool=False),   # (B, D, H/8, W/8)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),            # (B, D)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4, f"expected images (B, C, H, W), got {tuple(x.shape)}"
        return self.features(x)


def mlp(in_dim: int, hidden_dim: int, out_dim: int, *, batch_norm: bool = True) -> nn.Sequential:
    """Linear -> (BatchNorm) -> ReLU -> Linear: the projection / prediction head of SimCLR, BYOL, ..."""
    norm = nn.BatchNorm1d(hidden_dim) if batch_norm else nn.Identity()
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), norm, nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))


class Block(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN(x)), then x + MLP(LN(x)). (B, L, D) -> (B, L, D)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A tiny ViT: patch embedding, learned positions, ``depth`` blocks, mean-pooled features.

    ``forward(x)`` maps images (B, C, H, W) to features (B, dim). ``embed(x)`` gives the patch tokens
    with positions (B, L, dim) and ``encode(tokens)`` runs the blocks on any subset of them, which is
    what MAE needs (the encoder sees only the kept patches).
    """

    def __init__(self, image_size: int = 32, patch_size: int = 4, in_channels: int = 3,
                 dim: int = 128, depth: int = 4, heads: int = 4, mlp_ratio: float = 2.0):
        super().__init__()
        assert image_size % patch_size == 0, f"image_size {image_size} must be a multiple of patch_size {patch_size}"
        self.patch_size, self.feature_dim = patch_size, dim
        self.num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.randn(1, self.num_patches, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, L, dim), patches row-major
        return tokens + self.pos_embed

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)  # (B, L', dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(self.embed(x)).mean(dim=1)  # (B, dim)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
