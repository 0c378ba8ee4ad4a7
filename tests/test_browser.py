"""The course as people meet it, in a real browser (Debian's Chromium driven by Playwright).

JupyterLab from the course's own environment on a free port: the student notebook runs with only
NotImplementedError, the solution runs clean, widgets render and a slider changes the figure, figures
render as images; nbgrader's formgrader shows the hidden-suite score; the feedback page explains.
Screenshots go to test-artifacts/browser/.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from autograder.assignments import ROOT
from autograder.testing import solution_submission

from conftest import quick_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM or sync_playwright is None,
                                 reason="needs Debian's chromium and the playwright package (CI installs both)")]
A = "00_evaluation"
SHOTS = ROOT / "test-artifacts" / "browser"
RUN_ALL_SECONDS = 420  # the quick-mode notebook takes about a minute; the deadline only guards against hangs
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course copy with alice (solution) and bob (blank) autograded and hidden-suite graded."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for folder in ("solutions", "notebooks"):
        shutil.copytree(ROOT / folder, course / folder)
    env = quick_env()
    env.pop("SSLCOURSE_QUICK")
    for student, nb in [("alice", solution_submission(A)), ("bob", json.loads((ROOT / "notebooks" / A / f"{A}.ipynb").read_text()))]:
        (course / "submitted" / student / A).mkdir(parents=True)
        (course / "submitted" / student / A / f"{A}.ipynb").write_text(json.dumps(nb))
    nb = [sys.executable, "-m", "nbgrader"]
    run(nb + ["generate_assignment", A, "--force"], course, env)
    run(nb + ["autograde", A, "--create", "--force"], course, env)
    run([sys.executable, "-m", "autograder", "nbgrader", A, "--root", str(course), "--skip-autograde", "--workers", "2"],
        course, env)
    return course


@pytest.fixture(scope="module")
def lab(course):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = quick_env()  # kernels inherit SSLCOURSE_QUICK=1: short budgets in the browser run
    env.pop("MPLBACKEND")
    cmd = [str(ROOT / ".venv" / "bin" / "jupyter") if (ROOT / ".venv" / "bin" / "jupyter").exists() else "jupyter",
           "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--IdentityProvider.token=",
           "--ServerApp.password=", "--allow-root", "--LabApp.expose_app_in_browser=True",
           "--JupyterNotebookApp.expose_app_in_browser=True",
           f"--ServerApp.root_dir={course}"]
    log = open(course / "lab.log", "w")
    proc = subprocess.Popen(cmd, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/lab", timeout=5).status == 200:
                break
        except OSError:
            time.sleep(1)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield pg
        browser.close()


OUTPUTS_JS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.filter(c => c.model.type === 'code').map(c => c.model.outputs.toJSON().map(
      o => o.output_type === 'error' ? 'error:' + o.ename + (o.ename === 'NotImplementedError' ? '' : ': ' + o.evalue) : o.output_type));
}"""


def open_and_run_all(page, url, path, shot, app="lab/tree"):
    page.goto(f"{url}/{app}/{path}" + ("?reset" if app.startswith("lab") else ""))  # one tab, no restored layout
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=120_000)
    # Run every cell in order through the UI's own command, as a student pressing Shift+Enter would
    # (Run All would stop at the first NotImplementedError of the student notebook).
    # Every wait has a deadline: a kernel that dies or never answers fails the test with the cell and
    # the kernel status, it never hangs the run.
    stuck = page.evaluate("""async (seconds) => {
        const panel = window.jupyterapp.shell.currentWidget, nb = panel.content;
        const sleep = ms => new Promise(r => setTimeout(r, ms));
        const deadline = Date.now() + seconds * 1000;
        for (let i = 0; i < nb.widgets.length; i++) {
            const cell = nb.widgets[i];
            // the command acts on the notebook that has the focus: make sure it is this one (a tab
            // restored from an earlier test would otherwise receive the commands)
            window.jupyterapp.shell.activateById(panel.id);
            nb.activeCellIndex = i;
            // never await the command alone: its promise waits for the execution, which may never end
            const ran = window.jupyterapp.commands.execute('notebook:run-cell').catch(() => null);
            await Promise.race([ran, sleep(Math.max(0, deadline - Date.now()))]);
            if (cell.model.type !== 'code' || !cell.model.sharedModel.getSource().trim()) continue;
            // wait for this cell's reply: the kernel aborts requests queued behind an error
            while (true) {
                const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
                const status = kernel ? kernel.status : 'no kernel';
                if (cell.model.executionCount !== null && status === 'idle') break;
                if (Date.now() > deadline || status === 'dead')
                    return {cell: i, status: status, source: cell.model.sharedModel.getSource().slice(0, 200)};
                await sleep(200);
            }
        }
        return null;
    }""", RUN_ALL_SECONDS)
    if stuck:
        page.screenshot(path=str(SHOTS / ("stuck_" + shot)), full_page=False)
    assert stuck is None, f"cell {stuck} did not finish within {RUN_ALL_SECONDS} s"
    time.sleep(2)
    page.screenshot(path=str(SHOTS / shot), full_page=False)
    return page.evaluate(OUTPUTS_JS)


def test_student_notebook_fails_only_with_not_implemented(page, lab):
    outputs = open_and_run_all(page, lab, f"notebooks/{A}/{A}.ipynb", "student_notebook_run_all.png")
    errors = {o for cell in outputs for o in cell if o.startswith("error:")}
    assert errors == {"error:NotImplementedError"}, outputs


def test_solution_runs_clean_with_widgets_and_figures(page, lab):
    outputs = open_and_run_all(page, lab, f"solutions/{A}/{A}.ipynb", "solution_run_all.png")
    assert not [o for cell in outputs for o in cell if o.startswith("error:")], outputs
    assert page.locator(".jp-OutputArea-output img").count() >= 3, "figures should render as images"
    slider = page.locator(".widget-slider").first
    slider.scroll_into_view_if_needed()
    assert page.locator(".widget-slider").count() >= 2 and page.locator(".widget-dropdown").count() >= 1
    widget_img = page.locator(".widget-output img").first
    widget_img.wait_for(timeout=60_000)
    before = widget_img.get_attribute("src")
    page.screenshot(path=str(SHOTS / "widget_before.png"))
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function("(b) => { const i = document.querySelector('.widget-output img'); return i && i.src !== b; }",
                           arg=before, timeout=60_000)
    page.screenshot(path=str(SHOTS / "widget_after_slider.png"))


def test_solution_runs_in_classic_notebook_7(page, lab):
    """The same notebook in Notebook 7 (the classic single-document interface): it runs clean, figures
    render and the widget controls appear (nothing in the course needs JupyterLab itself)."""
    outputs = open_and_run_all(page, lab, f"solutions/{A}/{A}.ipynb", "notebook7_solution.png", app="notebooks")
    assert not [o for cell in outputs for o in cell if o.startswith("error:")], outputs
    assert page.locator(".jp-OutputArea-output img").count() >= 3, "figures should render as images"
    assert page.locator(".widget-slider").count() >= 2


def test_formgrader_shows_hidden_suite_scores(page, lab):
    page.goto(f"{lab}/formgrader/manage_students/alice/{A}")
    page.wait_for_selector("text=00_evaluation", timeout=60_000)
    page.wait_for_function("() => document.body.innerText.includes('/ 21')", timeout=60_000)
    text = page.inner_text("body")
    page.screenshot(path=str(SHOTS / "formgrader_alice.png"), full_page=True)
    assert "15 / 21" in text, text  # 5 visible + 10 hidden of 21 (written answers still to grade)
    page.goto(f"{lab}/formgrader/manage_students/bob/{A}")
    page.wait_for_function("() => document.body.innerText.includes('/ 21')", timeout=60_000)
    assert "0 / 21" in page.inner_text("body")


def test_feedback_page_teaches_without_hidden_values(page, course):
    bad = solution_submission(A)
    cell = next(c for c in bad["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "knn_predict")
    cell["source"] = ("def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):\n"
                      "    sim = test_features @ train_features.T\n    idx = sim.topk(k, dim=1).indices\n"
                      "    return torch.mode(train_labels[idx], dim=1).values\n")
    path = course / "carol.ipynb"
    path.write_text(json.dumps(bad))
    out = course / "feedback_out"
    run([sys.executable, "-m", "autograder", "grade", A, str(path), "--out", str(out), "--quiet"], course, quick_env())
    page.goto((out / "carol" / A / "feedback.html").as_uri())
    rows = page.locator("#summary tr")
    assert rows.count() == 12  # header + 11 checks
    text = page.inner_text("body")
    assert "What to fix" in text and "Hint:" in text and "What was checked" in text
    assert "expected [" not in text, "hidden expected values must not appear"
    page.screenshot(path=str(SHOTS / "feedback_page.png"), full_page=True)
