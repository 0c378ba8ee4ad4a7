"""Grading at scale: 200 synthetic submissions of 00_evaluation graded by the hidden suite with
``--workers 1``, ``--workers 2`` and ``--dask local``; prints submissions per minute for each.

    python bench/bench_grading.py [--n 200] [--out bench/grading.json]

The batch mixes what a real class hands in: correct answers (50%), partly wrong ones (one function with a
classic mistake, 25%), untouched releases (10%) and hostile submissions (15%: monkeypatching torch and
builtins, an infinite loop, a memory bomb, os._exit, printing 100 MB, an object whose __eq__ lies, a
skip-execution tag, a deleted test cell). Every run must give every submission exactly one result, the
same scores in every mode (hidden inputs fixed with --seed), full marks only to correct code, and no more
to a hostile submission than its honest part earns: the monkeypatching one wraps a wrong kNN and may not
score above that wrong kNN alone; the two that tamper with test cells around correct code keep their
full marks (the hidden suite does not use the notebook's test cells) and are flagged "tampered".
The per-call timeout is 5 s (honest calls of this assignment take well under a second).
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from autograder.testing import build_variant, replace_definition, solution_submission  # noqa: E402

A = "00_evaluation"

WRONG = {  # partly wrong: one function with a classic mistake, the other one right
    "no_eval": ("extract_features", "def extract_features(encoder, images, batch_size=256):\n"
                "    with torch.no_grad():\n        return torch.cat([encoder(images[i:i + batch_size]) "
                "for i in range(0, len(images), batch_size)])"),
    "one_batch": ("extract_features", "def extract_features(encoder, images, batch_size=256):\n"
                  "    encoder.eval()\n    with torch.no_grad():\n        return encoder(images[:batch_size])"),
    "majority_vote": ("knn_predict", "def knn_predict(train_features, train_labels, test_features, num_classes, "
                      "k=20, temperature=0.07):\n    sim = F.normalize(test_features, dim=1) @ "
                      "F.normalize(train_features, dim=1).T\n    idx = sim.topk(k, dim=1).indices\n"
                      "    return torch.mode(train_labels[idx], dim=1).values"),
    "euclidean": ("knn_predict", "def knn_predict(train_features, train_labels, test_features, num_classes, "
                  "k=20, temperature=0.07):\n    d = torch.cdist(test_features, train_features)\n"
                  "    idx = d.topk(k, dim=1, largest=False).indices\n"
                  "    return torch.mode(train_labels[idx], dim=1).values"),
}
PATCHES = ("\nimport builtins, torch, torch.testing\ntorch.allclose = lambda *a, **k: True\n"
           "torch.equal = lambda *a, **k: True\ntorch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)\n"
           "builtins.isinstance = lambda *a: True\n")
KNN = "def knn_predict(*args, **kwargs):\n"
HOSTILE = {
    "monkeypatch": None,  # built below: appends PATCHES to an answer cell
    "infinite_loop": KNN + "    while True:\n        pass",
    "memory_bomb": KNN + "    return torch.ones(int(50e9), dtype=torch.uint8).sum()",
    "os_exit": KNN + "    import os\n    os._exit(1)",
    "prints_100mb": KNN + "    print('x' * 10**8)\n    return torch.zeros(1)",
    "lying_eq": "class Eq:\n    def __eq__(self, o): return True\n    shape = (7,)\n" + KNN + "    return Eq()",
    "skip_tag": None,
    "deleted_test_cell": None,
}


HONEST_FULL = {"hostile:skip_tag", "hostile:deleted_test_cell"}  # correct code around tampered test cells


def hostile(kind: str) -> dict:
    nb = solution_submission(A)
    if kind == "monkeypatch":  # a wrong kNN that patches torch and builtins to pass the checks
        replace_definition(nb, "knn_predict", WRONG["euclidean"][1])
        cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "knn_predict")
        cell["source"] = "".join(cell["source"]) + PATCHES
    elif kind == "skip_tag":
        for c in nb["cells"]:
            if c["metadata"].get("nbgrader", {}).get("grade"):
                c["metadata"]["tags"] = ["skip-execution"]
    elif kind == "deleted_test_cell":
        nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "test_knn_predict"]
    else:
        replace_definition(nb, "knn_predict", HOSTILE[kind])
    return nb


def make_batch(folder: Path, n: int) -> dict[str, str]:
    """n submissions in nbgrader's submitted/<student>/<assignment>/ layout; returns student -> kind."""
    kinds = {}
    good, blank = solution_submission(A), build_variant(A, "<release>")
    wrong = {k: replace_definition(solution_submission(A), name, src) for k, (name, src) in WRONG.items()}
    bad = {k: hostile(k) for k in HOSTILE}
    plan = ["good"] * 10 + [f"wrong:{k}" for k in WRONG] + ["wrong:no_eval", "blank", "blank"] + ["hostile"] * 3
    hostile_count = 0  # 20 = 10 good, 5 partly wrong, 2 blank, 3 hostile; hostile kinds take turns
    for i in range(n):
        kind = plan[i % len(plan)]
        if kind == "hostile":
            kind = "hostile:" + list(HOSTILE)[hostile_count % len(HOSTILE)]
            hostile_count += 1
        nb = good if kind == "good" else blank if kind == "blank" else (
            wrong[kind.split(":")[1]] if kind.startswith("wrong:") else bad[kind.split(":")[1]])
        student = f"s{i:04d}"
        target = folder / "submitted" / student / A
        target.mkdir(parents=True)
        (target / f"{A}.ipynb").write_text(json.dumps(nb))
        kinds[student] = kind
    return kinds


def grade(folder: Path, mode: list[str], out: Path) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "autograder", "grade", A, str(folder / "submitted"), "--out", str(out),
           "--call-timeout", "5", "--seed", "1", "--quiet", *mode]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(mode)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    with open(out / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return seconds, rows


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--out", default=str(ROOT / "bench" / "grading.json"))
    a = p.parse_args()
    results = {"assignment": A, "submissions": a.n, "date": time.strftime("%Y-%m-%d"), "modes": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kinds = make_batch(folder, a.n)
        results["mix"] = {k: sum(1 for v in kinds.values() if v.split(":")[0] == k)
                          for k in ("good", "wrong", "blank", "hostile")}
        print(f"{a.n} submissions: {results['mix']}", flush=True)
        reference = None
        for mode in (["--workers", "1"], ["--workers", "2"], ["--dask", "local", "--workers", "2"]):
            name = " ".join(mode)
            seconds, rows = grade(folder, mode, folder / ("out" + name.replace(" ", "_")))
            assert set(rows) == set(kinds), f"{name}: {len(rows)} results for {len(kinds)} submissions"
            totals = {s: float(r["score"]) for s, r in rows.items()}
            full = max(totals[s] for s, k in kinds.items() if k == "good")
            cheats = [s for s, k in kinds.items() if k not in ("good", *HONEST_FULL) and totals[s] >= full]
            assert not cheats, f"{name}: full marks for {[kinds[s] for s in cheats]}"
            flagged = {s: rows[s]["status"] for s, k in kinds.items() if k in HONEST_FULL}
            assert all(st == "tampered" for st in flagged.values()), f"{name}: not flagged: {flagged}"
            wrong_score = max(totals[s] for s, k in kinds.items() if k == "wrong:euclidean")
            patched = [s for s, k in kinds.items() if k == "hostile:monkeypatch" and totals[s] > wrong_score]
            assert not patched, f"{name}: monkeypatching raised a wrong kNN above {wrong_score}"
            if reference is not None:
                diff = [s for s in totals if abs(totals[s] - reference[s]) > 1e-6]
                assert not diff, f"{name}: scores differ from --workers 1 for {[kinds[s] for s in diff[:5]]}"
            reference = reference or totals
            entry = {"mode": name, "seconds": round(seconds, 1), "per_minute": round(60 * a.n / seconds, 1),
                     "seconds_per_submission": round(seconds / a.n, 2),
                     "statuses": {st: sum(1 for r in rows.values() if r["status"] == st)
                                  for st in sorted({r["status"] for r in rows.values()})}}
            results["modes"].append(entry)
            print(f"{name:>28}: {entry['seconds']:7.1f} s  {entry['per_minute']:6.1f} submissions/min  "
                  f"{entry['statuses']}", flush=True)
    Path(a.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
