"""Hostile code inside the sandboxed worker: what it can and cannot reach.

These probe the defences directly (a worker, probing functions, the grader checking the answers). The
submission-level counterparts (crashes, loops, memory bombs, monkeypatching, tampering) are in
test_harness.py and test_nbgrader_e2e.py. Defences that need bubblewrap are skipped where it is missing.
"""
import os
import socket
import threading
import time

import pytest
import torch

from autograder.sandbox import SUITES_DIR, Limits, Worker, WorkerError, platform_defences
from autograder.suite import Session, Student, StudentFailure

pytestmark = pytest.mark.slow
needs_bwrap = pytest.mark.skipif(not platform_defences()["bwrap"], reason="bubblewrap not installed")
needs_namespaces = pytest.mark.skipif(not (platform_defences()["bwrap"] or platform_defences()["unshare"]),
                                      reason="neither bubblewrap nor unshare namespaces available")

PROBES = '''
import os, socket, subprocess, sys, time

def read_suite(path):
    try:
        return len(open(path).read())
    except OSError as e:
        return -1

def write_file(path):
    try:
        with open(path, "w") as f:
            f.write("pwned")
        return True
    except OSError:
        return False

def connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False

def sees_pid(pid):
    return os.path.exists(f"/proc/{pid}")

def kill_parent():
    import signal
    os.kill(os.getppid(), signal.SIGKILL)
    return 0

def fork_bomb():
    children = 0
    for _ in range(500):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
    return children

def meta_tensor():
    import torch
    return torch.empty(3, device="meta")

def nan_tensor():
    import torch
    return torch.full((3,), float("nan"))

def slow_but_correct(x):
    time.sleep(6)
    return x * 2

def patch_modules():
    import sys
    sys.modules["torch"] = None
    return 1
'''


@pytest.fixture(scope="module")
def session():
    s = Session("import torch", [{"id": "probes", "source": PROBES}], [], Limits(call_timeout=4, max_procs=48))
    yield s
    s.close()


@needs_bwrap
def test_hidden_suites_are_invisible(session):
    assert Student(session).read_suite(str(SUITES_DIR / "test_00_evaluation.py")) == -1
    assert (SUITES_DIR / "test_00_evaluation.py").exists()


@needs_bwrap
def test_cannot_write_outside_its_folder(session, tmp_path_factory):
    target = tmp_path_factory.mktemp("results", numbered=True)
    victim = target / "results.json"
    victim.write_text("{}")
    # outside /tmp the whole file system is read-only; inside, /tmp is a private tmpfs
    assert Student(session).write_file(str(victim)) is False or victim.read_text() == "{}"
    assert Student(session).write_file("/work/evil.txt") is False
    assert Student(session).write_file(str(os.path.abspath(__file__))) is False
    assert victim.read_text() == "{}"


@needs_namespaces
def test_no_network(session):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    try:
        assert Student(session).connect(port) is False
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # the port is really open
    finally:
        server.close()


@needs_namespaces
def test_cannot_see_the_grader_process(session):
    assert Student(session).sees_pid(os.getpid()) is False


def test_wrong_device_and_nan_results_are_data_not_points(session):
    with pytest.raises(StudentFailure, match="plain data|meta"):
        Student(session).meta_tensor()
    assert torch.isnan(Student(session).nan_tensor()).all()  # NaNs arrive as NaNs: assert_close rejects them


def test_slow_but_correct_code_times_out_cleanly(session):
    with pytest.raises(StudentFailure) as info:
        Student(session).slow_but_correct(torch.ones(2))
    assert info.value.cause == "timeout"
    assert torch.equal(Student(session).nan_tensor().isnan(), torch.ones(3, dtype=torch.bool))  # restarted


def test_sys_modules_tricks_only_break_the_worker(session):
    try:
        Student(session).patch_modules()
    except StudentFailure:
        pass  # the worker broke its own torch; nothing crossed over
    assert torch.allclose(torch.ones(1), torch.ones(1))  # the grader's torch is untouched
    session.close()


@needs_namespaces  # without a PID namespace, root in the worker can signal anything (THREAT_MODEL.md)
def test_killing_its_parent_does_not_reach_the_grader(session):
    # In bubblewrap's PID namespace the parent is the namespace's init, which ignores the signal; in
    # unshare's, the worker is that init (getppid() is 0) and has left unshare's process group.
    try:
        Student(session).kill_parent()
    except StudentFailure:
        pass
    time.sleep(0.5)  # a parent killed late would take the worker down (--kill-child) during the next call
    assert session.worker is None or session.worker.alive(), "the worker died after the call had returned"
    assert Student(session).nan_tensor().shape == (3,)  # the grader is alive and (re)starts the worker


@pytest.mark.skipif(not platform_defences()["cgroup"] and os.getuid() == 0, reason="no pids cgroup and running as root")
def test_fork_bomb_is_capped(session):
    before = len(os.listdir("/proc"))
    try:
        n = Student(session).fork_bomb()
        assert n < 48, f"the worker forked {n} processes past the cap"
    except StudentFailure:
        pass  # killed or timed out: fine, the point is that the host survives
    session.close()
    time.sleep(1)
    assert len(os.listdir("/proc")) < before + 20, "forked processes survived the worker"
