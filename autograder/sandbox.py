"""Start and talk to a sandboxed worker process, with layered, best-effort defences.

Each defence is used when the platform allows it and listed in ``Worker.defences`` (and in every
result), so an instructor can see what protected a grading run:

* ``rlimits``: address space (memory cap), CPU seconds, file size, open files, no core dumps;
* ``bwrap``: bubblewrap, if installed: read-only file system, private /tmp, the hidden suites and the
  output folder hidden, new PID/IPC/network namespaces, dies with the grader;
* ``unshare-net``, ``unshare-pid``: when bubblewrap is missing but namespaces work (root, or user
  namespaces), ``unshare`` gives no network, a new PID namespace with its own /proc (the grader cannot be
  seen or signalled) and kills the worker when unshare dies; the file system stays visible;
* ``pids-cgroup``: a cgroup ``pids.max`` (a fork bomb stops at the cap, even as root);
* ``nproc``: RLIMIT_NPROC when not running as root (root is exempt from it);
* always: a new session / process group killed as a whole, a scrubbed environment, ``python -I``,
  plain-data pipes, and per-call timeouts enforced from the grader side.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .protocol import Closed, ProtocolError, Reader, Timeout, write_message

PIDS_CGROUP_ROOT = Path("/sys/fs/cgroup/pids")
SUITES_DIR = Path(__file__).resolve().parent / "suites"


@dataclass
class Limits:
    call_timeout: float = 30.0         # seconds per call into student code
    load_timeout: float = 60.0         # seconds to import the answer cells
    submission_timeout: float = 300.0  # seconds for all of one submission's tests
    memory_mb: int = 4096              # address-space cap (torch alone maps ~2.5 GB)
    max_procs: int = 64                # processes and threads in the worker's pids cgroup
    max_file_mb: int = 64              # largest file the worker may write (its log included)
    hide: list = field(default_factory=list)  # extra folders made invisible to the worker


class WorkerError(Exception):
    """Base of the ways a worker can fail; ``cause`` is the status recorded for the test."""

    cause = "crashed"


class WorkerTimeout(WorkerError):
    cause = "timeout"


class WorkerCrashed(WorkerError):
    cause = "crashed"


class WorkerMemory(WorkerError):
    cause = "memory"


def _which_bwrap() -> str | None:
    path = shutil.which("bwrap")
    if not path or os.environ.get("SSLCOURSE_NO_BWRAP"):
        return None
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-net", "true"], capture_output=True)
    return path if probe.returncode == 0 else None


UNSHARE = ["--net", "--pid", "--fork", "--mount", "--mount-proc", "--kill-child"]


def _unshare_works() -> bool:
    path = shutil.which("unshare")
    return bool(path) and subprocess.run([path, *UNSHARE, "true"], capture_output=True).returncode == 0


_PROBES: dict = {}


def platform_defences() -> dict:
    """Probe once per process which isolation mechanisms this machine offers."""
    if not _PROBES:
        _PROBES["bwrap"] = _which_bwrap()
        _PROBES["unshare"] = not _PROBES["bwrap"] and _unshare_works()
        _PROBES["cgroup"] = PIDS_CGROUP_ROOT.is_dir() and os.access(PIDS_CGROUP_ROOT, os.W_OK)
    return _PROBES


class Worker:
    """One sandboxed worker process and its two pipes."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.proc: subprocess.Popen | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="sslcourse-worker-"))
        os.chmod(self.workdir, 0o777)
        self.log_path = self.workdir / "worker.log"
        self.cgroup: Path | None = None
        self.defences: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def _command(self, in_fd: int, out_fd: int) -> list[str]:
        probes = platform_defences()
        cmd = [sys.executable, "-I", "-m", "autograder.worker", str(in_fd), str(out_fd)]
        if probes["bwrap"]:
            # The interpreter, its packages and this package must stay visible: a private tmpfs on /tmp
            # (or on a hidden folder) is only mounted where it does not cover one of them.
            paths = (sys.executable, sys.prefix, sys.base_prefix, Path(__file__).parent)
            needed = [Path(p).absolute() for p in paths] + [Path(p).resolve() for p in paths]

            def covers(folder: Path) -> bool:
                return any(n == folder or folder in n.parents for n in needed)

            wrap = [probes["bwrap"], "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
            if not covers(Path("/tmp").resolve()):
                wrap += ["--tmpfs", "/tmp"]
            wrap += ["--bind", str(self.workdir), str(self.workdir), "--chdir", str(self.workdir),
                     "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"]
            for folder in [SUITES_DIR, *self.limits.hide]:
                folder = Path(folder).resolve()
                if folder.is_dir() and not covers(folder) and folder not in self.workdir.parents:
                    wrap += ["--tmpfs", str(folder)]
            self.defences += ["bwrap", "read-only-fs", "no-network", "hidden-suites"]
            return wrap + ["--"] + cmd
        if probes["unshare"]:  # no network; its own PID namespace and /proc: the grader is invisible
            self.defences += ["unshare-net", "unshare-pid"]
            return ["unshare", *UNSHARE] + cmd
        return cmd

    def _preexec(self):
        lim = self.limits
        cgroup = self.cgroup

        def setup():
            os.setsid()
            if cgroup is not None:
                with open(cgroup / "cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))
            mem = lim.memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            cpu = int(lim.submission_timeout * 2) + 30
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
            fsize = lim.max_file_mb * 2**20
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
            if os.getuid() != 0:
                resource.setrlimit(resource.RLIMIT_NPROC, (lim.max_procs, lim.max_procs))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the cap fails, it does not kill

        return setup

    def _make_cgroup(self) -> None:
        if not platform_defences()["cgroup"]:
            if os.getuid() != 0:
                self.defences.append("nproc")
            return
        try:
            path = PIDS_CGROUP_ROOT / f"sslcourse-{uuid.uuid4().hex[:12]}"
            path.mkdir()
            (path / "pids.max").write_text(str(self.limits.max_procs))
            self.cgroup = path
            self.defences.append("pids-cgroup")
        except OSError:
            self.cgroup = None

    def start(self) -> None:
        self.defences = []
        self._make_cgroup()
        self.defences.append("rlimits")
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.workdir), "TMPDIR": str(self.workdir),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MPLBACKEND": "Agg", "NBGRADER_EXECUTION": "autograde", "SSLCOURSE_QUICK": "1",
               "SSLCOURSE_CACHE": str(self.workdir / "cache"), "LANG": "C.UTF-8"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self._command(to_worker_r, from_worker_w), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(to_worker_r, from_worker_w), cwd=self.workdir, env=env, preexec_fn=self._preexec())
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.to_worker = to_worker_w
        self.reader = Reader(from_worker_r)
        self.request({"op": "hello"}, timeout=60)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill the worker, its process group and everything left in its cgroup."""
        if self.proc is not None:
            for sig_target in (lambda: os.killpg(self.proc.pid, signal.SIGKILL), lambda: self.proc.kill()):
                try:
                    sig_target()
                except (ProcessLookupError, PermissionError, OSError):
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.cgroup is not None:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.05)
            try:
                self.cgroup.rmdir()
            except OSError:
                pass
            self.cgroup = None
        for fd in (getattr(self, "to_worker", None), getattr(getattr(self, "reader", None), "fd", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.to_worker = None
        self.proc = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, n: int = 600) -> str:
        try:
            data = self.log_path.read_bytes()[-n:]
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    # -- requests ------------------------------------------------------------------------------
    def request(self, message: dict, *, timeout: float) -> dict:
        """Send one request and wait for its reply; raise a WorkerError if the worker fails."""
        if not self.alive():
            raise WorkerCrashed("the worker is not running")
        try:
            write_message(self.to_worker, message, markers=True)
            return self.reader.read(timeout=timeout)
        except Timeout:
            self.kill()
            raise WorkerTimeout(f"no answer within {timeout:.0f} s (an infinite loop, or far too slow)") from None
        except (Closed, BrokenPipeError, OSError, ProtocolError) as exc:
            code = None
            if self.proc is not None:
                try:
                    code = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            tail = self.log_tail()
            self.kill()
            if isinstance(exc, ProtocolError):
                raise WorkerCrashed(f"the worker sent malformed data ({exc})") from None
            if code is not None and code < 0 and -code == signal.SIGXCPU:
                raise WorkerTimeout("the CPU-time limit was reached") from None
            if "MemoryError" in tail or "can't allocate memory" in tail or (code is not None and -code == signal.SIGKILL):
                raise WorkerMemory(f"the worker ran out of memory or was killed (exit {code})") from None
            raise WorkerCrashed(f"the worker exited (exit code {code})" + (f": {tail.strip()[-300:]}" if tail.strip() else "")) from None
