"""Procedural "shapes": the course's embedded image dataset.

Every image is drawn from a seed, in memory, with NumPy only: a coloured shape on a textured
background. The class is the shape; everything else is nuisance (colour, size, position, a small
rotation, background tint, gradient, texture and pixel noise). Each image also carries its attributes
and a caption built from them ("a small red star in the top left") for the CLIP notebook.

The renderer works on a supersampled pixel grid: each shape is an *inside test* in its own unit frame
(u, v in [-1, 1], v pointing down), every image moves the grid into that frame (translate, rotate,
scale), and the inside test averaged over 2x2 subpixels gives an anti-aliased alpha mask.
"""
from __future__ import annotations

import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "hexagon",
          "star", "cross", "arrow", "heart", "crescent")
COLOURS = {  # name -> RGB in [0, 1]
    "red": (0.90, 0.15, 0.15), "orange": (1.00, 0.55, 0.10), "yellow": (0.95, 0.90, 0.15),
    "green": (0.20, 0.80, 0.25), "cyan": (0.15, 0.85, 0.90), "blue": (0.20, 0.35, 0.95),
    "purple": (0.60, 0.25, 0.85), "pink": (1.00, 0.50, 0.78),
}
SIZES = ("small", "medium", "large")
SIZE_RADIUS = (0.17, 0.24, 0.31)  # shape radius as a fraction of the image side
ROWS = ("top", "middle", "bottom")
COLS = ("left", "center", "right")
MAX_ROTATION_DEG = 20.0
CHUNK = 1000  # images are generated in chunks seeded (seed, chunk): any n is a prefix of a larger n
SUPERSAMPLE = 2


def _regular_polygon(k: int, radius: float = 1.0, phase: float = 0.0) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(k) / k
    return np.stack([radius * np.sin(angles), -radius * np.cos(angles)], axis=1)  # (k, 2), first vertex up


def _star(points: int = 5, inner: float = 0.42) -> np.ndarray:
    outer = _regular_polygon(points, 1.0)
    inner_v = _regular_polygon(points, inner, phase=np.pi / points)
    return np.stack([outer, inner_v], axis=1).reshape(-1, 2)  # alternate outer / inner vertices


POLYGONS = {
    "square": np.array([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]]),
    "triangle": np.array([[0.0, -1.0], [0.9, 0.6], [-0.9, 0.6]]),
    "diamond": np.array([[0.0, -1.0], [0.62, 0.0], [0.0, 1.0], [-0.62, 0.0]]),
    "hexagon": _regular_polygon(6, 0.95, phase=np.pi / 6),
    "star": _star(),
    "cross": np.array([[-0.3, -1], [0.3, -1], [0.3, -0.3], [1, -0.3], [1, 0.3], [0.3, 0.3], [0.3, 1],
                       [-0.3, 1], [-0.3, 0.3], [-1, 0.3], [-1, -0.3], [-0.3, -0.3]]),
    "arrow": np.array([[0.0, -1.0], [0.75, -0.15], [0.27, -0.15], [0.27, 1.0],
                       [-0.27, 1.0], [-0.27, -0.15], [-0.75, -0.15]]),
}


def _inside_polygon(u: np.ndarray, v: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd crossing test. u, v: (n, P) points; poly: (V, 2). Returns bool (n, P)."""
    inside = np.zeros(u.shape, dtype=bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for a, b, c, d in zip(x0, y0, x1, y1):  # one polygon edge at a time: (n, P) work each
        crosses = (b > v) != (d > v)
        x_at = a + (v - b) * (c - a) / (d - b if d != b else 1e-12)
        inside ^= crosses & (u < x_at)
    return inside


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if shape in POLYGONS:
        return _inside_polygon(u, v, POLYGONS[shape])
    if shape == "circle":
        return u * u + v * v < 0.85
    if shape == "heart":  # (x^2 + y^2 - 1)^3 - x^2 y^3 < 0, y up, centred and scaled into the frame
        x, y = u * 1.25, -(v * 1.25) + 0.15
        return (x * x + y * y - 1) ** 3 - x * x * y ** 3 < 0
    if shape == "crescent":
        return (u * u + v * v < 1.0) & ((u - 0.42) ** 2 + (v + 0.18) ** 2 > 0.72)
    raise KeyError(shape)


def _background(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Dark-to-mid grey, slightly tinted, with a gradient, a smooth texture and pixel noise: (n, size, size, 3)."""
    base = rng.uniform(0.05, 0.45, size=(n, 1, 1, 1)) + rng.uniform(-0.05, 0.05, size=(n, 1, 1, 3))
    ys, xs = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    direction = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    ramp = np.cos(direction) * xs + np.sin(direction) * ys  # (n, size, size)
    gradient = rng.uniform(0.0, 0.12, size=(n, 1, 1)) * ramp
    coarse = rng.normal(0, 1, size=(n, 5, 5))
    idx = np.linspace(0, 4, size)
    lo, frac = np.floor(idx).astype(int).clip(0, 3), idx - np.floor(idx).clip(0, 3)
    rows = coarse[:, lo] * (1 - frac)[None, :, None] + coarse[:, lo + 1] * frac[None, :, None]
    texture = rows[:, :, lo] * (1 - frac) + rows[:, :, lo + 1] * frac  # bilinear upsample (n, size, size)
    texture *= rng.uniform(0.0, 0.06, size=(n, 1, 1))
    noise = rng.normal(0, 0.025, size=(n, size, size, 3))
    return base + (gradient + texture)[..., None] + noise


def _render_chunk(rng: np.random.Generator, n: int, size: int) -> dict:
    labels = rng.permutation(np.arange(n) % len(SHAPES))  # balanced classes inside every chunk
    colour = rng.integers(0, len(COLOURS), size=n)
    size_idx = rng.integers(0, len(SIZES), size=n)
    radius = np.asarray(SIZE_RADIUS)[size_idx] * size * rng.uniform(0.92, 1.08, size=n)
    fx, fy = rng.uniform(0, 1, size=n), rng.uniform(0, 1, size=n)
    cx = radius + (size - 2 * radius) * fx  # keep the whole shape inside the image
    cy = radius + (size - 2 * radius) * fy
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG, size=n))
    rgb = np.asarray(list(COLOURS.values()))[colour] + rng.uniform(-0.06, 0.06, size=(n, 3))
    rgb *= rng.uniform(0.8, 1.05, size=(n, 1))
    images = _background(rng, n, size)

    s = SUPERSAMPLE
    sub = (np.arange(size * s) + 0.5) / s  # subpixel centres in pixel units
    gy, gx = np.meshgrid(sub, sub, indexing="ij")
    gx, gy = gx.ravel()[None], gy.ravel()[None]  # (1, P)
    for k, shape in enumerate(SHAPES):
        sel = np.flatnonzero(labels == k)
        if sel.size == 0:
            continue
        dx, dy = gx - cx[sel, None], gy - cy[sel, None]  # (m, P)
        cos, sin = np.cos(angle[sel])[:, None], np.sin(angle[sel])[:, None]
        u = (cos * dx + sin * dy) / radius[sel, None]
        v = (-sin * dx + cos * dy) / radius[sel, None]
        inside = _inside(shape, u, v).reshape(-1, size, s, size, s)
        alpha = inside.mean(axis=(2, 4))[..., None]  # (m, size, size, 1) anti-aliased coverage
        shade = 1.0 + 0.12 * (v.reshape(-1, size, s, size, s).mean(axis=(2, 4)) * -0.5)[..., None]
        images[sel] = images[sel] * (1 - alpha) + alpha * rgb[sel, None, None, :] * shade

    images = (np.clip(images, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 3, 1, 2)  # (n, 3, H, W)
    col = np.minimum((fx * 3).astype(int), 2)
    row = np.minimum((fy * 3).astype(int), 2)
    return {"images": images, "labels": labels.astype(np.int64), "colour": colour.astype(np.int64),
            "size": size_idx.astype(np.int64), "row": row.astype(np.int64), "col": col.astype(np.int64),
            "angle": np.rad2deg(angle).astype(np.float32),
            "center": np.stack([cx, cy], 1).astype(np.float32) / size}


def render_shapes(n: int, *, seed: int, image_size: int = 32) -> dict:
    """Draw ``n`` images deterministically from ``seed``. Returns NumPy arrays:

    images (n, 3, S, S) uint8, labels (n,), colour (n,), size (n,), row (n,), col (n,) int64,
    angle (n,) degrees, center (n, 2) in [0, 1]. The first n images of a larger draw are the same.
    """
    assert n > 0 and image_size >= 16, f"need n > 0 and image_size >= 16, got {n}, {image_size}"
    parts = []
    for chunk in range((n + CHUNK - 1) // CHUNK):
        rng = np.random.default_rng([seed, chunk, image_size])
        parts.append(_render_chunk(rng, CHUNK, image_size))
    return {key: np.concatenate([p[key] for p in parts])[:n] for key in parts[0]}


def position_phrase(row: int, col: int) -> str:
    """'the top left', 'the middle right', 'the bottom center', or 'the center'."""
    if row == 1 and col == 1:
        return "the center"
    return f"the {ROWS[row]} {COLS[col]}"


def caption(shape: int, colour: int, size: int, row: int, col: int) -> str:
    """'a small red star in the top left'."""
    return f"a {SIZES[size]} {list(COLOURS)[colour]} {SHAPES[shape]} in {position_phrase(row, col)}"
