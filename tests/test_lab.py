"""`make lab` serves JupyterLab: start it headless on a free port, GET /lab, stop it."""
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from autograder.assignments import ROOT

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_jupyterlab():
    port = free_port()
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token= --ServerApp.password= --allow-root"
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, status = time.time() + 120, None
        while time.time() < deadline and status != 200:
            time.sleep(1)
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5).status
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
        assert status == 200
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/notebooks", timeout=5).read()
        assert b"00_evaluation" in page
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
