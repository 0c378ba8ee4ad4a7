"""Datasets: the embedded shapes (any size, from a seed), scikit-learn's digits, and optional CIFAR-10 /
STL-10 loaders for files the user already has. Nothing is ever downloaded."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import shapes as _shapes

SHAPES_VERSION = 1
SPLIT_SEEDS = {"train": 0, "test": 1}
DEFAULT_SIZES = {"train": 10_000, "test": 2_000}
CLASSES = _shapes.SHAPES
COLOURS = tuple(_shapes.COLOURS)
SIZES = _shapes.SIZES


@dataclass
class ImageDataset(torch.utils.data.Dataset):
    """Images as a float tensor in [0, 1], (N, C, H, W), with integer labels and optional extras."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple
    attributes: dict = field(default_factory=dict)
    captions: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    def subset(self, n: int) -> "ImageDataset":
        """The first ``n`` examples (classes stay balanced for shapes: chunks are balanced)."""
        return ImageDataset(self.images[:n], self.labels[:n], self.classes,
                            {k: v[:n] for k, v in self.attributes.items()}, self.captions[:n])

    def __repr__(self) -> str:
        return (f"ImageDataset({len(self)} images {tuple(self.images.shape[1:])}, "
                f"{len(self.classes)} classes, attributes={sorted(self.attributes)})")


def cache_dir() -> Path | None:
    """``SSLCOURSE_CACHE`` if set, else ``data/cache`` beside the package if writable, else None."""
    env = os.environ.get("SSLCOURSE_CACHE")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "data" / "cache"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path if os.access(path, os.W_OK) else None
    except OSError:
        return None


def shapes_arrays(split: str = "train", *, n: int | None = None, image_size: int = 32) -> dict:
    """The raw NumPy arrays of a shapes split (cached on disk when a cache folder is writable)."""
    assert split in SPLIT_SEEDS, f"split must be one of {sorted(SPLIT_SEEDS)}, got {split!r}"
    n = n or DEFAULT_SIZES[split]
    folder = cache_dir()
    path = folder / f"shapes-v{SHAPES_VERSION}-{split}-{image_size}px-{n}.npz" if folder else None
    if path is not None and path.exists():
        try:
            with np.load(path) as f:
                return dict(f)
        except (OSError, ValueError):
            pass  # a broken cache file is simply regenerated
    arrays = _shapes.render_shapes(n, seed=SPLIT_SEEDS[split], image_size=image_size)
    if path is not None:
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
    return arrays


def load_shapes(split: str = "train", *, n: int | None = None, image_size: int = 32) -> ImageDataset:
    """The shapes dataset: 10 balanced classes, RGB images of side ``image_size`` in [0, 1].

    >>> train = load_shapes("train")            # 10,000 images (3, 32, 32)
    >>> train.captions[0]                        # 'a small pink cross in the bottom center'
    """
    a = shapes_arrays(split, n=n, image_size=image_size)
    images = torch.from_numpy(a["images"]).float().div_(255)  # (N, 3, S, S)
    attrs = {k: torch.from_numpy(a[k]) for k in ("colour", "size", "row", "col", "angle", "center")}
    caps = [_shapes.caption(*map(int, t)) for t in zip(a["labels"], a["colour"], a["size"], a["row"], a["col"])]
    return ImageDataset(images, torch.from_numpy(a["labels"]), CLASSES, attrs, caps)


def shapes_checksum(split: str = "train", *, n: int | None = None, image_size: int = 32) -> str:
    """SHA-256 over the generated arrays (the value printed in ``data/shapes.md``)."""
    a = _shapes.render_shapes(n or DEFAULT_SIZES[split], seed=SPLIT_SEEDS[split], image_size=image_size)
    h = hashlib.sha256()
    for key in sorted(a):
        h.update(key.encode())
        h.update(np.ascontiguousarray(a[key]).tobytes())
    return h.hexdigest()


def load_digits(split: str = "train", *, test_fraction: float = 0.2) -> ImageDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images), as (N, 1, 8, 8) floats in [0, 1]; fixed split."""
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    order = np.random.default_rng(0).permutation(len(d.target))
    cut = int(len(order) * (1 - test_fraction))
    idx = order[:cut] if split == "train" else order[cut:]
    images = torch.from_numpy(d.images[idx] / 16.0).float().unsqueeze(1)  # (N, 1, 8, 8)
    return ImageDataset(images, torch.from_numpy(d.target[idx]).long(), tuple(str(i) for i in range(10)))


def _from_torchvision(ds, classes) -> ImageDataset:
    data = ds.data if hasattr(ds, "data") else None
    images = torch.as_tensor(np.asarray(data))
    if images.shape[-1] == 3:  # CIFAR stores (N, H, W, C)
        images = images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(getattr(ds, "targets", getattr(ds, "labels", []))))
    return ImageDataset(images.float().div_(255), labels.long(), tuple(classes))


def load_cifar10(root: str | os.PathLike, split: str = "train") -> ImageDataset:
    """CIFAR-10 from files you already have under ``root`` (never downloads)."""
    from torchvision.datasets import CIFAR10

    ds = CIFAR10(str(root), train=(split == "train"), download=False)
    return _from_torchvision(ds, ds.classes)


def load_stl10(root: str | os.PathLike, split: str = "train") -> ImageDataset:
    """STL-10 (96x96, labelled splits) from files you already have under ``root`` (never downloads)."""
    from torchvision.datasets import STL10

    ds = STL10(str(root), split=split, download=False)
    return _from_torchvision(ds, ds.classes)
