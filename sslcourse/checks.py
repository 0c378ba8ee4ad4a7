"""Visible checks: small comparisons that say *what* is wrong (shape, dtype, value, gradient).

Used in the notebooks' "check your work" cells. They raise ``AssertionError`` with a message written
for you, and print one line when everything passed.
"""
from __future__ import annotations

import torch


def _fmt(t) -> str:
    if isinstance(t, torch.Tensor):
        if t.numel() <= 8:
            return f"tensor({[round(v, 4) for v in t.detach().flatten().double().tolist()]}, shape={tuple(t.shape)})"
        return f"tensor(shape={tuple(t.shape)}, dtype={t.dtype}, mean={t.detach().double().mean():.4g})"
    return repr(t)


def expect_tensor(x, name: str) -> None:
    assert isinstance(x, torch.Tensor), f"{name}: expected a torch.Tensor, got {type(x).__name__}"


def expect_shape(x, shape: tuple, name: str) -> None:
    expect_tensor(x, name)
    assert tuple(x.shape) == tuple(shape), f"{name}: expected shape {tuple(shape)}, got {tuple(x.shape)}"


def expect_dtype(x, dtypes, name: str) -> None:
    dtypes = dtypes if isinstance(dtypes, (tuple, list)) else (dtypes,)
    assert x.dtype in dtypes, f"{name}: expected dtype {' or '.join(map(str, dtypes))}, got {x.dtype}"


def expect_close(got, expected, name: str, *, atol: float = 1e-5, rtol: float = 1e-4, hint: str = "") -> None:
    """Values must match within tolerance (shapes first, then values, then a hint)."""
    expected = torch.as_tensor(expected)
    if isinstance(got, (int, float)):
        got = torch.tensor(float(got))
    expect_tensor(got, name)
    assert got.shape == expected.shape, f"{name}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    assert torch.isfinite(got.double()).all(), f"{name}: contains NaN or inf: {_fmt(got)}"
    ok = torch.allclose(got.double(), expected.double(), atol=atol, rtol=rtol)
    assert ok, f"{name}: wrong values.\n  expected {_fmt(expected)}\n  got      {_fmt(got)}" + (f"\n  hint: {hint}" if hint else "")


def expect_equal(got, expected, name: str, *, hint: str = "") -> None:
    expected = torch.as_tensor(expected)
    expect_shape(got, tuple(expected.shape), name)
    assert torch.equal(got.cpu().long(), expected.long()), (
        f"{name}: wrong values.\n  expected {_fmt(expected)}\n  got      {_fmt(got)}" + (f"\n  hint: {hint}" if hint else ""))


def passed(name: str) -> None:
    print(f"\u2714 {name}: the visible checks pass. (The grader runs more, hidden ones.)")
