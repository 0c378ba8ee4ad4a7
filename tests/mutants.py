"""The standard checks of a hidden suite against deliberately wrong ("mutant") and correct alternative
implementations, shared by every tests/test_suite_<assignment>.py:

    globals().update(suite_checks(A, 10, MUTANTS, ALTERNATIVES))

``MUTANTS`` maps a label to ``(function name, replacement, [hidden test ids it must fail])``;
``ALTERNATIVES`` maps a label to ``{function name: correct source}``. All variants are graded once, in
one grader process (module-scoped fixture ``graded``). The checks: the solution gets full marks, the
untouched release 0, every alternative full marks, every mutant fails the tests it names, and every
hidden test is failed by at least one mutant (no test that cannot fail).
"""
from __future__ import annotations

from typing import Callable

import pytest

from autograder.suite_points import suite_tests
from autograder.testing import RELEASE, grade_variants


def suite_checks(assignment: str, total: float, mutants: dict, alternatives: dict, *,
                 variant: Callable[[str, object], dict] = lambda fn, change: {fn: change},
                 variants: Callable[[], dict] | None = None, seed: int = 1234, timeout: float = 1200) -> dict:
    """The fixture and tests to put in a test module's globals. ``variant(fn, change)`` turns a mutant's
    replacement into a variant (default: the replacement is the new source); ``variants()`` replaces the
    whole set."""

    def all_variants() -> dict:
        if variants is not None:
            return variants()
        return {"solution": {}, "release": RELEASE,
                **{label: variant(fn, change) for label, (fn, change, _) in mutants.items()}, **alternatives}

    @pytest.fixture(scope="module")
    def graded():
        return grade_variants(assignment, all_variants(), seed=seed, timeout=timeout)

    def test_solution_gets_full_marks(graded):
        r = graded["solution"]
        assert r["status"] == "ok" and r["score"] == r["max_score"] == total, r

    def test_release_gets_zero(graded):
        assert graded["release"]["score"] == 0 and graded["release"]["max_score"] == total

    @pytest.mark.parametrize("label", sorted(alternatives))
    def test_correct_alternatives_get_full_marks(graded, label):
        r = graded[label]
        assert r["score"] == r["max_score"], r["outputs"]

    @pytest.mark.parametrize("label", sorted(mutants))
    def test_mutant_loses_points(graded, label):
        r = graded[label]
        for test_id in mutants[label][2]:
            assert r["scores"][test_id] == 0, f"{label} should fail {test_id}: {r['outputs']}"
        assert r["score"] < r["max_score"]

    def test_every_hidden_test_is_caught_by_some_mutant():
        caught = {t for _, _, tests in mutants.values() for t in tests}
        missed = {t["id"] for t in suite_tests(assignment)} - caught
        assert not missed, f"no mutant fails {sorted(missed)}: such a test might never fail"

    return {name: value for name, value in locals().items()
            if name == "graded" or name.startswith("test_")}
