"""What a hidden test suite sees: a proxy to the student's functions, markers, fixtures and checks.

A suite is a pytest file ``autograder/suites/test_<assignment>.py`` that runs in the **grader**
process. It never sees student objects: every call goes to a sandboxed worker and comes back as plain
data (tensors, numbers, strings, lists, tuples, dicts). Example::

    from autograder.suite import points, hint, visible, ModuleArg, Gen, Grad, assert_close

    @points(2)
    @hint("normalise the features before the dot product")
    def test_cosine_not_dot(student, rng):
        '''kNN predictions do not change when training features are rescaled.'''
        x = torch.randn(20, 4, generator=rng)
        ...
        pred = student.knn_predict(x, y, q, 3, k=5)      # runs in the worker
        assert_equal(pred, expected, "predictions")

Arguments: tensors, numbers, strings and containers of them; ``ModuleArg("<assignment>:<factory>",
**config)`` for an ``nn.Module`` built identically on both sides from ``autograder/fixtures``;
``Gen(seed)`` for a ``torch.Generator``; ``Grad(tensor)`` for an input that requires grad.
``student.call(name, ...)`` returns a :class:`CallResult` (``.value``, ``.grads``, ``.modules``);
``student.new(cls, ...)`` a :class:`RemoteObject`.

Naming: a test of graded function ``f`` is called ``test_<f>_<what>`` (e.g. ``test_knn_predict_uses_cosine``;
``test_memory_queue_...`` for ``MemoryQueue``): the nbgrader bridge uses it to map hidden tests to functions.

Markers: ``@points(n)`` (default 1), ``@hint("...")`` (shown when the test fails), ``@visible`` (the
test's inputs are public, so feedback may show expected values; hidden tests never do).
Fixtures: ``student``, ``rng`` (a ``torch.Generator`` seeded per grading run: inputs change from run to
run, so reading this file does not reveal them).
"""
from __future__ import annotations

import contextvars
import importlib
import math
import time
from dataclasses import dataclass, field

import pytest
import torch

from .sandbox import Limits, Worker, WorkerError, WorkerTimeout

# --------------------------------------------------------------------------------------- markers
def points(n: float):
    """Points of a hidden test (all or nothing)."""
    return pytest.mark.points(n)


def hint(text: str):
    """A hint shown to the student when the test fails."""
    return pytest.mark.hint(text)


visible = pytest.mark.visible
_VISIBLE = contextvars.ContextVar("visible", default=False)


# ------------------------------------------------------------------------------ argument markers
@dataclass
class ModuleArg:
    """An ``nn.Module`` built from ``autograder/fixtures/<assignment>.py`` on both sides."""

    name: str
    config: dict = field(default_factory=dict)
    training: bool = True
    state: dict | None = None
    grads: bool = False

    def __init__(self, name: str, *, training: bool = True, state: dict | None = None, grads: bool = False,
                 **config):
        self.name, self.config, self.training, self.state, self.grads = name, config, training, state, grads

    def build(self) -> torch.nn.Module:
        assignment, _, factory = self.name.partition(":")
        module = importlib.import_module(f"autograder.fixtures.{assignment}").FACTORIES[factory](**self.config)
        if self.state is not None:
            module.load_state_dict(self.state)
        return module.train(self.training)

    def wire(self) -> dict:
        return {"__module__": {"name": self.name, "config": self.config, "training": self.training,
                               "state": self.state, "grads": self.grads}}


@dataclass
class Gen:
    """A ``torch.Generator().manual_seed(seed)`` created in the worker."""

    seed: int


@dataclass
class Grad:
    """A tensor that requires grad in the worker; its gradient comes back in ``CallResult.grads``."""

    tensor: torch.Tensor


def _wire(value):
    if isinstance(value, ModuleArg):
        return value.wire()
    if isinstance(value, Gen):
        return {"__generator__": int(value.seed)}
    if isinstance(value, Grad):
        return {"__grad__": value.tensor.detach()}
    if isinstance(value, RemoteObject):
        return {"__object__": value.handle}
    if isinstance(value, (list, tuple)):
        return type(value)(_wire(v) for v in value)
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------ exceptions
class StudentFailure(AssertionError):
    """A failure caused by the student's code; ``cause`` becomes the test's status detail."""

    cause = "error"


class StudentError(StudentFailure):
    cause = "error"


class StudentMissing(StudentFailure):
    cause = "missing"


class StudentTimeout(StudentFailure):
    cause = "timeout"


class StudentCrashed(StudentFailure):
    cause = "crashed"


class StudentMemory(StudentFailure):
    cause = "memory"


_CAUSES = {"timeout": StudentTimeout, "crashed": StudentCrashed, "memory": StudentMemory}


# ------------------------------------------------------------------------------------- session
@dataclass
class CallResult:
    value: object
    grads: list
    modules: list


class Session:
    """The grader's side of one submission: starts (and restarts) the worker, loads the answer cells."""

    def __init__(self, setup: str, cells: list[dict], names: list[str], limits: Limits | None = None):
        self.setup, self.cells, self.names = setup, cells, names
        self.limits = limits or Limits()
        self.deadline = time.monotonic() + self.limits.submission_timeout
        self.worker: Worker | None = None
        self.load_errors: list[dict] = []
        self.defined: list[str] = []
        self.events: list[str] = []   # worker failures, in order: the submission's status comes from them
        self.defences: list[str] = []
        self.calls = 0
        self.load_failure: Exception | None = None   # loading crashed/hung once: do not retry for every test
        self.broken: dict[str, list] = {}             # function -> worker failures (timeouts, crashes) so far

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StudentTimeout(f"the submission's time limit ({self.limits.submission_timeout:.0f} s) is used up")
        return left

    def ensure_worker(self) -> Worker:
        if self.worker is not None and self.worker.alive():
            return self.worker
        if self.load_failure is not None:
            raise type(self.load_failure)(str(self.load_failure))
        if self.worker is not None:
            self.worker.close()
        self.worker = Worker(self.limits)
        try:
            self.worker.start()
            self.defences = list(self.worker.defences)
            reply = self.worker.request({"op": "load", "setup": self.setup, "cells": self.cells, "names": self.names},
                                        timeout=min(self.limits.load_timeout, self._remaining()))
        except WorkerError as exc:
            self.worker.close()
            self.events.append(exc.cause)
            self.worker = None
            self.load_failure = _CAUSES[exc.cause](f"loading your answer cells failed: {exc}")
            raise self.load_failure
        if not reply.get("ok"):
            raise StudentError(f"loading the course imports failed: {reply.get('error')}")
        self.load_errors = reply.get("errors", [])
        self.defined = reply.get("defined", [])
        return self.worker

    def request(self, message: dict, what: str) -> dict:
        key = message.get("fn") or message.get("cls") or message.get("method") or ""
        if len(self.broken.get(key, [])) >= 2:  # a function that hung or crashed twice is not retried
            last = self.broken[key][-1]
            raise type(last)(f"{what} was not run again: it failed twice already ({last})")
        worker = self.ensure_worker()
        self.calls += 1
        try:
            reply = worker.request(message, timeout=min(self.limits.call_timeout, self._remaining()))
        except WorkerError as exc:
            worker.close()
            failure = _CAUSES[exc.cause](f"{what} did not finish: {exc}" if isinstance(exc, WorkerTimeout) else f"{what}: {exc}")
            self.broken.setdefault(key, []).append(failure)
            self.events.append(exc.cause)
            self.worker = None
            raise failure
        if not isinstance(reply, dict) or "ok" not in reply:
            raise StudentCrashed(f"{what}: the worker's reply was malformed")
        if not reply["ok"]:
            err = reply.get("error") or {}
            etype, msg = str(err.get("type", "Error")), str(err.get("message", ""))
            if etype == "MissingFunction":
                raise StudentMissing(f"{msg}: define it at the top level of its answer cell, with exactly this name")
            if etype == "MemoryError" or "can't allocate memory" in msg:
                self.events.append("memory")
                raise StudentMemory(f"{what} ran out of memory ({etype})")
            if etype == "NotImplementedError":
                raise StudentError(f"{what} is not implemented yet (it raises NotImplementedError)")
            raise StudentError(f"{what} raised {etype}{err.get('where', '')}: {msg[:500]}")
        return reply

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


class RemoteObject:
    """An object living in the worker (e.g. a student's MemoryQueue)."""

    def __init__(self, session: Session, handle: int, cls: str):
        self._session, self.handle, self._cls = session, handle, cls

    def call(self, method: str, *args, **kwargs):
        reply = self._session.request({"op": "method", "handle": self.handle, "method": method,
                                       "args": _wire(list(args)), "kwargs": _wire(kwargs)},
                                      f"{self._cls}.{method}(...)")
        return reply["value"]

    def get(self, attr: str):
        return self._session.request({"op": "getattr", "handle": self.handle, "attr": attr},
                                     f"{self._cls}.{attr}")["value"]


class Student:
    """``student.NAME(...)`` calls the student's graded function NAME in the sandbox."""

    def __init__(self, session: Session):
        self._session = session

    def call(self, name: str, *args, **kwargs) -> CallResult:
        reply = self._session.request({"op": "call", "fn": name, "args": _wire(list(args)),
                                       "kwargs": _wire(kwargs)}, f"your {name}(...)")
        return CallResult(reply.get("value"), reply.get("grads", []), reply.get("modules", []))

    def new(self, cls: str, *args, **kwargs) -> RemoteObject:
        reply = self._session.request({"op": "new", "cls": cls, "args": _wire(list(args)),
                                       "kwargs": _wire(kwargs)}, f"your {cls}(...)")
        return RemoteObject(self._session, reply["handle"], cls)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs).value


# --------------------------------------------------------------------------------------- checks
def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def _small(t: torch.Tensor) -> str:
    t = t.detach().double().flatten()
    vals = ", ".join(f"{v:.4g}" for v in t[:6].tolist())
    return f"[{vals}{', ...' if t.numel() > 6 else ''}]"


def as_tensor(got, what: str) -> torch.Tensor:
    """The student's value as a tensor, or a failure that says what came back instead."""
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return torch.tensor(float(got))
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what}: expected a tensor, got {type(got).__name__}")
    return got


def assert_close(got, expected, what: str, *, atol: float = 1e-5, rtol: float = 1e-4, equal_nan: bool = False):
    """Shape, finiteness and values within tolerance (compared in float64)."""
    expected = torch.as_tensor(expected)
    got = as_tensor(got, what)
    if tuple(got.shape) != tuple(expected.shape):
        raise AssertionError(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if not got.dtype.is_floating_point and expected.dtype.is_floating_point and got.dtype != torch.bool:
        got = got.double()
    if not equal_nan and not torch.isfinite(got.double()).all():
        raise AssertionError(f"{what}: contains NaN or inf (shape {tuple(got.shape)})")
    g, e = got.double(), expected.double()
    if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=equal_nan):
        err = (g - e).abs().max().item() if g.numel() else 0.0
        if _VISIBLE.get():
            raise AssertionError(f"{what}: wrong values (shape {tuple(got.shape)}).\n"
                                 f"  expected {_small(e)}\n  got      {_small(g)}\n  max abs difference {err:.3g}")
        raise AssertionError(f"{what}: the shape {tuple(got.shape)} is right but the values differ from the "
                             f"reference (max abs difference {err:.3g}, tolerance {atol:g} + {rtol:g}*|reference|)")


def assert_equal(got, expected, what: str):
    """Exact equality (integers, labels, indices)."""
    expected = torch.as_tensor(expected)
    got = as_tensor(got, what)
    if tuple(got.shape) != tuple(expected.shape):
        raise AssertionError(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if not torch.equal(got.long() if not got.dtype.is_floating_point else got, expected.to(got.dtype)):
        wrong = (got.to(expected.dtype) != expected).sum().item()
        if _VISIBLE.get():
            raise AssertionError(f"{what}: wrong values.\n  expected {_small(expected)}\n  got      {_small(got)}")
        raise AssertionError(f"{what}: {wrong} of {expected.numel()} entries differ from the reference")


def assert_scalar(got, what: str) -> float:
    """A finite 0-dim tensor or Python number; returns it as a float."""
    t = as_tensor(got, what)
    if t.numel() != 1 or t.ndim > 1:
        raise AssertionError(f"{what}: expected a scalar, got shape {tuple(t.shape)}")
    value = float(t.reshape(()).double())
    if not math.isfinite(value):
        raise AssertionError(f"{what}: is {value}")
    return value
