"""The wire format between the grader and the sandboxed worker: plain data only, never pickle.

A message is a JSON header plus raw byte blobs for tensors, framed as
``[8-byte header length][header JSON][8-byte blob length][blob]...``. Values are encoded as:

* ``None``, ``bool``, ``int``, ``str`` as JSON; floats as JSON or ``{"__float__": "nan" | "inf" | "-inf"}``;
* lists ``{"__list__": [...]}``, tuples ``{"__tuple__": [...]}``, dicts ``{"__dict__": {str: value}}``;
* tensors ``{"__tensor__": blob_index, "dtype": "float32", "shape": [...]}`` (CPU, contiguous bytes);
* requests may also carry markers the worker turns into objects: ``{"__module__": spec}``,
  ``{"__generator__": seed}``, ``{"__grad__": tensor}``, ``{"__object__": handle}``.

Decoding is strict: an unknown marker, a dtype outside the whitelist, a size mismatch or a message over
the size cap raises ``ProtocolError``, which the grader treats like a crashed worker.
"""
from __future__ import annotations

import json
import math
import os
import select
import struct
import time

import numpy as np
import torch

MAX_MESSAGE_BYTES = 512 * 2**20
DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
    "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
    "uint8": torch.uint8, "bool": torch.bool,
}
MARKERS = ("__module__", "__generator__", "__grad__", "__object__")


class ProtocolError(Exception):
    """A malformed, oversized or unexpected message."""


class Timeout(Exception):
    """No complete message arrived in time."""


class Closed(Exception):
    """The other side closed the pipe (usually: the worker died)."""


def encode(value, blobs: list, *, markers: bool = False, depth: int = 0):
    """Encode ``value`` as JSON-able data, appending tensor bytes to ``blobs``."""
    if depth > 50:
        raise ProtocolError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.device.type != "cpu":
            t = t.to("cpu")
        name = str(t.dtype).replace("torch.", "")
        if name not in DTYPES:
            raise ProtocolError(f"unsupported tensor dtype {t.dtype}")
        t = t.contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        blobs.append(data)
        return {"__tensor__": len(blobs) - 1, "dtype": name, "shape": list(t.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, blobs, markers=markers, depth=depth + 1) for v in value]}
    if isinstance(value, list):
        return {"__list__": [encode(v, blobs, markers=markers, depth=depth + 1) for v in value]}
    if isinstance(value, dict):
        if markers and len(value) == 1 and next(iter(value)) in MARKERS:
            key = next(iter(value))
            return {key: encode(value[key], blobs, markers=markers, depth=depth + 1)}
        if not all(isinstance(k, str) for k in value):
            raise ProtocolError("dict keys must be strings")
        return {"__dict__": {k: encode(v, blobs, markers=markers, depth=depth + 1) for k, v in value.items()}}
    raise ProtocolError(f"cannot send a value of type {type(value).__module__}.{type(value).__qualname__}")


def decode(data, blobs: list, *, on_marker=None, depth: int = 0):
    """Inverse of :func:`encode`. ``on_marker(key, decoded_payload)`` builds request objects (worker side)."""
    if depth > 50:
        raise ProtocolError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, str)):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        raise ProtocolError("bare JSON list")
    if not isinstance(data, dict) or len(data) == 0:
        raise ProtocolError(f"unexpected JSON value {type(data).__name__}")
    if "__tensor__" in data:
        if set(data) != {"__tensor__", "dtype", "shape"} or data["dtype"] not in DTYPES:
            raise ProtocolError("malformed tensor")
        idx, shape, dtype = data["__tensor__"], data["shape"], DTYPES[data["dtype"]]
        if not isinstance(idx, int) or not 0 <= idx < len(blobs) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ProtocolError("malformed tensor reference")
        raw = blobs[idx]
        numel = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if len(raw) != numel * itemsize:
            raise ProtocolError("tensor size mismatch")
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        return flat.view(dtype).reshape(shape).clone() if numel else torch.empty(shape, dtype=dtype)
    if len(data) != 1:
        raise ProtocolError(f"malformed value with keys {sorted(data)[:5]}")
    key, payload = next(iter(data.items()))
    if key == "__float__":
        if payload not in ("nan", "inf", "-inf"):
            raise ProtocolError("malformed float")
        return float(payload)
    if key in ("__list__", "__tuple__"):
        if not isinstance(payload, list):
            raise ProtocolError("malformed sequence")
        items = [decode(v, blobs, on_marker=on_marker, depth=depth + 1) for v in payload]
        return items if key == "__list__" else tuple(items)
    if key == "__dict__":
        if not isinstance(payload, dict):
            raise ProtocolError("malformed dict")
        return {str(k): decode(v, blobs, on_marker=on_marker, depth=depth + 1) for k, v in payload.items()}
    if key in MARKERS and on_marker is not None:
        return on_marker(key, decode(payload, blobs, on_marker=on_marker, depth=depth + 1))
    raise ProtocolError(f"unknown marker {key!r}")


def pack(message: dict, *, markers: bool = False) -> bytes:
    blobs: list[bytes] = []
    header = json.dumps(encode(message, blobs, markers=markers), allow_nan=False).encode()
    parts = [struct.pack("<Q", len(header)), header, struct.pack("<Q", len(blobs))]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    out = b"".join(parts)
    if len(out) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(out) / 2**20:.0f} MB exceeds the {MAX_MESSAGE_BYTES / 2**20:.0f} MB cap")
    return out


def write_message(fd: int, message: dict, *, markers: bool = False) -> None:
    data = memoryview(pack(message, markers=markers))
    while data:
        n = os.write(fd, data)
        data = data[n:]


class Reader:
    """Reads framed messages from a file descriptor with a deadline (grader side) or blocking (worker)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()

    def _fill(self, n: int, deadline: float | None) -> bytes:
        while len(self.buffer) < n:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout()
                ready, _, _ = select.select([self.fd], [], [], min(remaining, 1.0))
                if not ready:
                    continue
            chunk = os.read(self.fd, max(65536, min(n - len(self.buffer), 16 * 2**20)))
            if not chunk:
                raise Closed()
            self.buffer += chunk
            if len(self.buffer) > MAX_MESSAGE_BYTES + 1024:
                raise ProtocolError("message exceeds the size cap")
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def read_raw(self, timeout: float | None = None) -> tuple[object, list[bytes]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        (hlen,) = struct.unpack("<Q", self._fill(8, deadline))
        if hlen > MAX_MESSAGE_BYTES:
            raise ProtocolError("header exceeds the size cap")
        try:
            header = json.loads(self._fill(hlen, deadline))
        except ValueError as exc:
            raise ProtocolError(f"header is not JSON: {exc}") from None
        (nblobs,) = struct.unpack("<Q", self._fill(8, deadline))
        if nblobs > 100_000:
            raise ProtocolError("too many blobs")
        blobs, total = [], 0
        for _ in range(nblobs):
            (blen,) = struct.unpack("<Q", self._fill(8, deadline))
            total += blen
            if total > MAX_MESSAGE_BYTES:
                raise ProtocolError("message exceeds the size cap")
            blobs.append(self._fill(blen, deadline))
        return header, blobs

    def read(self, timeout: float | None = None, on_marker=None):
        header, blobs = self.read_raw(timeout)
        return decode(header, blobs, on_marker=on_marker)
