# Self-supervised learning course: two commands get you going.
#   make lab    create .venv if missing, install the course, start JupyterLab
#   make test   create or update .venv, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU/GPU wheels of torch: override on other machines, e.g. TORCH_SPEC="torch torchvision".
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.sslcourse-installed
LAB_ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv lab test test-fast release check-release check bench bench-smoke bench-grading clean help

help:
	@echo "make lab | make test | make release | make check NB=notebooks/00_evaluation/00_evaluation.ipynb"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

lab: venv
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

# Two pytest workers: most slow tests wait on kernels and sandboxed workers; a test file stays on one worker.
# A crashed worker fails the run at once (pytest-xdist can hang when it replaces one under --dist loadfile).
PYTEST_WORKERS ?= 2

test: venv
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --max-worker-restart 0 $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# Regenerate the student release notebooks/ from solutions/ with nbgrader generate_assignment.
release: venv
	$(PY) -m autograder release

check-release: venv
	$(PY) -m autograder release --check

# Students: run the visible checks of a notebook the way the grader will.
check: venv
	$(PY) -m autograder check $(NB)

# Benchmarks (never part of `make test`): full settings, then a quick check that the code works.
bench: venv
	cd bench && ../$(PY) run_all.py && ../$(PY) readme_section.py

bench-smoke: venv
	cd bench && ../$(PY) run_all.py --smoke --out $(CURDIR)/test-artifacts

# Grading at scale: 200 synthetic submissions (correct, partly wrong, blank, hostile) with 1 and 2
# workers and a local Dask cluster (about 35 minutes on 2 cores; writes bench/grading.json).
bench-grading: venv
	cd bench && ../$(PY) bench_grading.py && ../$(PY) readme_section.py

clean:
	rm -rf out test-artifacts .pytest_cache gradebook.db data/cache
