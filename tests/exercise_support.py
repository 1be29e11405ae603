"""What every exercise-test file (tests/test_ex_*.py) has in common.

Each file proves the four guarantees of tests/harness.py for every graded
exercise of one assignment. Only the data differs from file to file: the
notebook stem, the exercise names, and two tables of variants,

    WRONG = {(exercise, label): (source, [phrases the failure message must contain])}
    RIGHT = {(exercise, label): source}

so the tests themselves are written once, here. A test file ends with

    globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT))

which defines, in that module, the `nb` fixture and the tests listed in
`exercise_tests`. Tests particular to one assignment stay in its file and use
the same `nb` fixture.
"""

from __future__ import annotations

import pytest

from tests.harness import exercise_notebook


def table(exercise: str, cases: dict, *, head: str = "") -> dict:
    """`{label: source}` or `{label: (source, phrases)}` of one exercise -> `{(exercise, label): ...}`.

    `head` (say, the `def` line the variants share) goes before every source.
    """
    return {
        (exercise, label): (head + value[0], value[1]) if isinstance(value, tuple) else head + value
        for label, value in cases.items()
    }


def by_exercise(cases: dict) -> dict:
    """`{exercise: [(label, *value)]}` -> `{(exercise, label): value}` (a 1-tuple value is unwrapped)."""
    return {
        (exercise, label): value if len(value) > 1 else value[0]
        for exercise, rows in cases.items()
        for label, *value in rows
    }


def answer_tables(variable: str, wrong: dict, right: list) -> tuple[dict, dict]:
    """The WRONG and RIGHT variants of a multiple-choice answer cell `variable = <literal>`.

    `wrong` maps a literal, written as in the cell (`"'a'"`, `'3'`), to the phrase
    its failure message must contain; `right` lists literals that must pass.
    """
    return (
        {(variable, literal): (f"{variable} = {literal}\n", [phrase]) for literal, phrase in wrong.items()},
        {(variable, literal): f"{variable} = {literal}\n" for literal in right},
    )


def _case_id(key) -> str:
    return f"{key[0]}-{key[1]}"


def exercise_tests(
    stem: str,
    exercises: list[str],
    wrong: dict,
    right: dict,
    *,
    min_wrong: int = 3,
    min_right: int = 2,
    stub_error_in_message: bool = False,
    requires: str | None = None,
    hidden_only: dict | None = None,
) -> dict:
    """The `nb` fixture and the tests every assignment shares, by name.

    - test_source_notebook_runs_and_every_test_cell_passes: the whole source
      notebook runs, every test cell passes, and the exercises are those named;
    - test_solution_passes[exercise]: the source solution passes its cells;
    - test_release_stub_fails[exercise]: the release stub fails them, and
      every failure is the stub's NotImplementedError (with
      `stub_error_in_message`, where test cells catch the learner's errors and
      report them: or a failure whose message names NotImplementedError);
    - test_wrong_answers_fail_and_teach[exercise-label]: each WRONG variant
      fails, and the messages contain its phrases;
    - test_other_correct_answers_pass[exercise-label]: each RIGHT variant passes;
    - test_every_exercise_has_enough_wrong_answers / ..._other_right_answers:
      at least `min_wrong` WRONG and `min_right` RIGHT variants per exercise,
      and no variant of an unknown exercise.

    - test_wrong_answers_never_pass_visibly[exercise-label]: run as a learner
      runs it (the release's visible checks only), every WRONG variant fails
      at least one visible test cell, so a full visible PASS never promises
      more than the grade keeps; a multiple-choice answer prints FORM OK,
      never PASS, whatever it is;
    - test_release_hides_the_answers[exercise]: a form-only (multiple-choice)
      test cell of the release prints the same for the right answer as for a
      wrong one, so no answer can be read from it.

    `hidden_only` maps a WRONG key to the reason a visible case cannot catch
    it (a hard-coded answer, say); every other WRONG variant must fail the
    visible checks too (issue 11: every stated requirement has a visible case).
    An assignment whose visible cases have been audited passes `hidden_only`
    (`{}` when there is nothing to excuse); the visible-case tests are added
    for it.

    `requires` (say "torch"): the module the notebook needs; every test that
    uses the notebook is skipped when it cannot be imported.
    """
    audited = hidden_only is not None
    hidden_only = dict(hidden_only or {})

    @pytest.fixture(scope="module")
    def nb():
        if requires is not None:
            pytest.importorskip(requires)
        return exercise_notebook(stem)

    def test_source_notebook_runs_and_every_test_cell_passes(nb):
        failed = [r for r in nb.baseline.values() if not r.passed]
        assert not failed, failed
        assert sorted(nb.tests) == sorted(exercises)

    @pytest.mark.parametrize("name", exercises)
    def test_solution_passes(nb, name):
        for gid, result in nb.baseline.items():
            if gid == f"test_{name}" or gid.startswith(f"test_{name}__"):
                assert result.passed, result
        nb.assert_passes(name)

    @pytest.mark.parametrize("name", exercises)
    def test_release_stub_fails(nb, name):
        results = nb.assert_fails(name, nb.release_stub(name))
        for r in results.values():
            assert (
                r.passed
                or r.error_type == "NotImplementedError"
                or (stub_error_in_message and "NotImplementedError" in r.message)
            ), results

    @pytest.mark.parametrize("key", list(wrong), ids=_case_id)
    def test_wrong_answers_fail_and_teach(nb, key):
        source, phrases = wrong[key]
        nb.assert_fails(key[0], source, message_contains=phrases)

    @pytest.mark.parametrize("key", list(right), ids=_case_id)
    def test_other_correct_answers_pass(nb, key):
        nb.assert_passes(key[0], right[key])

    @pytest.mark.parametrize("key", list(wrong), ids=_case_id)
    def test_wrong_answers_never_pass_visibly(nb, key):
        source, _ = wrong[key]
        results = nb.check_release(key[0], source)
        printed = "".join(r.stdout for r in results.values())
        if "[FORM OK]" in printed or key in hidden_only:
            return  # a form-only cell prints FORM OK, never PASS; hidden_only says why no visible case can catch it
        assert any(not r.passed for r in results.values()), (
            f"{stem}/{key}: every visible test cell prints PASS for this wrong answer:\n{printed}\n"
            "give the requirement a visible case, or list it in hidden_only with the reason"
        )

    @pytest.mark.parametrize("name", exercises)
    def test_release_hides_the_answers(nb, name):
        solution = nb.check_release(name, nb.solutions[name])
        printed = "".join(r.stdout for r in solution.values())
        if "[FORM OK]" not in printed:
            assert "[PASS]" in printed, printed  # a computed answer: the visible checks pass the solution
            return
        for key in wrong:
            if key[0] == name:
                other = nb.check_release(name, wrong[key][0])
                if all(r.passed for r in other.values()):
                    assert "".join(r.stdout for r in other.values()) == printed, (
                        f"{stem}/{key}: the release tells this wrong answer from the right one"
                    )

    def test_delegation_is_caught_for_every_exercise_that_forbids_it(nb):
        """An exercise whose test cells declare check_own_work has a delegating wrong answer in the table."""
        declared = {name for name, cells in nb.tests.items() if any("check_own_work(" in c.source for c in cells)}
        covered = {key[0] for key, (_, phrases) in wrong.items() if "write it yourself" in phrases}
        assert declared <= covered, f"{stem}: no delegating wrong answer for {sorted(declared - covered)}"

    def test_hidden_only_names_real_variants():
        assert set(hidden_only) <= set(wrong), sorted(set(hidden_only) - set(wrong))
        assert all(isinstance(reason, str) and reason for reason in hidden_only.values())

    def test_every_exercise_has_enough_wrong_answers():
        assert {name for name, _ in wrong} <= set(exercises)
        for name in exercises:
            assert sum(key[0] == name for key in wrong) >= min_wrong, name

    def test_every_exercise_has_enough_other_right_answers():
        assert {name for name, _ in right} <= set(exercises)
        for name in exercises:
            assert sum(key[0] == name for key in right) >= min_right, name

    visible = (
        {
            "test_wrong_answers_never_pass_visibly": test_wrong_answers_never_pass_visibly,
            "test_release_hides_the_answers": test_release_hides_the_answers,
            "test_hidden_only_names_real_variants": test_hidden_only_names_real_variants,
            "test_delegation_is_caught_for_every_exercise_that_forbids_it": (
                test_delegation_is_caught_for_every_exercise_that_forbids_it
            ),
        }
        if audited
        else {}
    )
    return {
        **visible,
        "nb": nb,
        "test_source_notebook_runs_and_every_test_cell_passes": test_source_notebook_runs_and_every_test_cell_passes,
        "test_solution_passes": test_solution_passes,
        "test_release_stub_fails": test_release_stub_fails,
        "test_wrong_answers_fail_and_teach": test_wrong_answers_fail_and_teach,
        "test_other_correct_answers_pass": test_other_correct_answers_pass,
        "test_every_exercise_has_enough_wrong_answers": test_every_exercise_has_enough_wrong_answers,
        "test_every_exercise_has_enough_other_right_answers": test_every_exercise_has_enough_other_right_answers,
    }
