"""The sandboxed worker: the only process that ever runs student code.

Started by :mod:`autograder.sandbox` as ``python -I -m autograder.worker IN_FD OUT_FD`` under resource
limits. It loads the trusted setup imports and the student's answer cells into a namespace, then serves
requests (call a function, create an object, call a method, read an attribute) and answers with plain
data (see :mod:`autograder.protocol`). Nothing it says is trusted: the grader verifies every value.
"""
from __future__ import annotations

import importlib
import os
import sys
import traceback


class _IPythonStub:
    """Answer cells may contain IPython magics (transformed to get_ipython() calls): make them no-ops."""

    def run_line_magic(self, *args, **kwargs):
        return None

    def run_cell_magic(self, *args, **kwargs):
        return None

    def system(self, *args, **kwargs):
        return None

    getoutput = system


def build_module(spec: dict):
    """Build an ``nn.Module`` from a fixture factory ``"<assignment>:<name>"`` and a config dict."""
    from torch import nn

    name = spec["name"]
    assignment, _, factory = name.partition(":")
    factories = importlib.import_module(f"autograder.fixtures.{assignment}").FACTORIES
    module = factories[factory](**spec.get("config", {}))
    assert isinstance(module, nn.Module), f"fixture {name} did not build an nn.Module"
    if spec.get("state") is not None:
        module.load_state_dict(spec["state"])
    module.train(bool(spec.get("training", True)))
    return module


class Call:
    """Per-request context: the modules, gradient leaves and generators built from the request."""

    def __init__(self, objects: dict):
        self.objects = objects
        self.modules: list = []
        self.module_grads: list[bool] = []
        self.grad_leaves: list = []

    def on_marker(self, key: str, payload):
        import torch

        if key == "__module__":
            module = build_module(payload)
            self.modules.append(module)
            self.module_grads.append(bool(payload.get("grads", False)))
            return module
        if key == "__generator__":
            return torch.Generator().manual_seed(int(payload))
        if key == "__grad__":
            leaf = payload.detach().clone().requires_grad_(True)
            self.grad_leaves.append(leaf)
            return leaf
        if key == "__object__":
            return self.objects[int(payload)]
        raise KeyError(key)

    def after(self, value) -> dict:
        """Backward pass if gradients were requested, then the state the grader asked for."""
        import torch

        wants_grad = bool(self.grad_leaves) or any(self.module_grads)
        if wants_grad:
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise TypeError(f"expected a scalar tensor to differentiate, got "
                                f"{type(value).__name__} {tuple(getattr(value, 'shape', ()))}")
            if value.requires_grad:
                value.backward()
        modules = []
        for module, grads in zip(self.modules, self.module_grads):
            entry = {"training": bool(module.training),
                     "state": {k: v.detach().clone() for k, v in module.state_dict().items()}}
            records = getattr(module, "records", None)
            if records is not None:
                entry["records"] = list(records)
            if grads:
                entry["grads"] = {n: p.grad for n, p in module.named_parameters()}
            modules.append(entry)
        return {"modules": modules, "grads": [leaf.grad for leaf in self.grad_leaves]}


def error_reply(exc: BaseException) -> dict:
    tb = traceback.extract_tb(exc.__traceback__)
    student_frames = [f for f in tb if f.filename.startswith("<answer")]
    where = f" (in {student_frames[-1].filename[1:-1]}, line {student_frames[-1].lineno})" if student_frames else ""
    return {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)[:2000], "where": where}}


def serve(in_fd: int, out_fd: int) -> None:
    import torch

    from autograder.protocol import Closed, Reader, encode, write_message  # noqa: F401

    torch.set_num_threads(1)
    reader = Reader(in_fd)
    namespace: dict = {"__name__": "__main__", "get_ipython": lambda: _IPythonStub()}
    objects: dict[int, object] = {}
    while True:
        call = Call(objects)
        try:
            request = reader.read(on_marker=call.on_marker)
        except Closed:
            return
        try:
            reply = handle(request, namespace, objects, call)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt from student code too
            reply = error_reply(exc)
        try:
            write_message(out_fd, reply)
        except Exception as exc:  # noqa: BLE001 - e.g. a returned object that is not plain data
            write_message(out_fd, {"ok": False, "error": {
                "type": "UnsupportedReturn", "where": "",
                "message": f"the result cannot be sent back as plain data: {exc}"}})


def handle(request: dict, namespace: dict, objects: dict, call: Call) -> dict:
    op = request.get("op")
    if op == "hello":
        import torch
        return {"ok": True, "python": sys.version.split()[0], "torch": torch.__version__, "pid": os.getpid()}
    if op == "load":
        exec(compile(request["setup"], "<setup>", "exec"), namespace)
        errors = []
        for cell in request["cells"]:
            try:
                exec(compile(cell["source"], f"<answer cell {cell['id']}>", "exec"), namespace)
            except BaseException as exc:  # noqa: BLE001
                errors.append({"cell": cell["id"], **error_reply(exc)["error"]})
        defined = [n for n in request["names"] if callable(namespace.get(n))]
        return {"ok": True, "defined": defined, "errors": errors}
    if op == "call":
        fn = namespace.get(request["fn"])
        if not callable(fn):
            return {"ok": False, "error": {"type": "MissingFunction", "where": "",
                                           "message": f"{request['fn']} is not defined"}}
        value = fn(*request["args"], **request["kwargs"])
        return {"ok": True, "value": value, **call.after(value)}
    if op == "new":
        cls = namespace.get(request["cls"])
        if not callable(cls):
            return {"ok": False, "error": {"type": "MissingFunction", "where": "",
                                           "message": f"{request['cls']} is not defined"}}
        handle_id = len(objects) + 1
        objects[handle_id] = cls(*request["args"], **request["kwargs"])
        return {"ok": True, "handle": handle_id}
    if op == "method":
        value = getattr(objects[request["handle"]], request["method"])(*request["args"], **request["kwargs"])
        return {"ok": True, "value": value, **call.after(value)}
    if op == "getattr":
        return {"ok": True, "value": getattr(objects[request["handle"]], request["attr"])}
    return {"ok": False, "error": {"type": "ProtocolError", "where": "", "message": f"unknown op {op!r}"}}


if __name__ == "__main__":
    if os.getpid() == 1:
        # The init of unshare's PID namespace: getppid() is 0 here, so a submission's os.kill(os.getppid(), ...)
        # signals this process group. Leaving unshare's group keeps unshare (outside the namespace) out of
        # reach; otherwise it dies, takes this worker with it (--kill-child) just after the call returned, and
        # the next, innocent call would be blamed for the crash. The grader still ends this worker by
        # killing unshare, and the kernel ends every process of the namespace with it.
        os.setpgid(0, 0)
    serve(int(sys.argv[1]), int(sys.argv[2]))
