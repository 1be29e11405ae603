"""`python -m autograder demo`: build the release, grade a generated example class, print the totals.

The example class (autograder.examples) is generated from the solutions in
source/ and the student version in release/, so it follows the assignment as
it changes. By default the demo grades the first assignment of the course
(`01_hidden_state` once it exists); with no assignment in source/ yet it
grades the autograder's own fixture assignment.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import ROOT
from .examples import EXPECTED, build_class
from .limits import DEMO_CELL_TIMEOUT_S, DEMO_NOTEBOOK_TIMEOUT_S

FIXTURES = Path(__file__).resolve().parent / "tests" / "fixtures"


def _pick(course_root: Path, requested: list) -> list:
    from .release import assignment_ids

    ids = (
        assignment_ids(course_root)
        if course_root == ROOT
        else sorted(p.parent.name for p in (course_root / "source").glob("*/*.ipynb") if p.stem == p.parent.name)
    )
    if requested:
        return requested
    preferred = [a for a in ("01_hidden_state", "03_classification_metrics") if a in ids]
    return preferred[:1] or ids[:1]


def demo(
    assignments=None,
    course_root: Path = ROOT,
    out: Path | None = None,
    jobs: int | None = None,
    cell_timeout: float = DEMO_CELL_TIMEOUT_S,
    timeout: float = DEMO_NOTEBOOK_TIMEOUT_S,
) -> int:
    from .assignment import prepare
    from .grade import grade, totals_table

    course_root = Path(course_root)
    chosen = _pick(course_root, list(assignments or []))
    if not chosen:
        print("source/ has no assignment yet: the demo grades the autograder's fixture assignment instead.")
        course_root, chosen = FIXTURES, ["ag_fixture"]
    out = Path(out or ROOT / "demo-output")
    if course_root == ROOT:
        from .release import release

        print(f"building the release of {', '.join(chosen)} with nbgrader ...", flush=True)
        if release(chosen) != 0:
            return 1
        import contextlib
        import io

        from .publish import publish

        with contextlib.redirect_stdout(io.StringIO()) as said:  # its one summary line, not the list of references
            published = publish(out / "student-edition", course_root=course_root)
        print(said.getvalue().strip().splitlines()[-1] if published == 0 else "publish: refused (see above)")
    status = 0
    for aid in chosen:
        target = out / aid
        shutil.rmtree(target, ignore_errors=True)
        work = target / "class-build"
        work.mkdir(parents=True)
        release_nb = course_root / "release" / aid / f"{aid}.ipynb"
        if not release_nb.is_file():  # a course root without a committed release: generate it here
            prepare(aid, work, course_root)
            release_nb = work / "course" / "release" / aid / f"{aid}.ipynb"
        others = sorted(p for p in (course_root / "release").glob("*/*.ipynb") if p.parent.name != aid)
        class_dir = target / "submissions"
        escaped = Path(tempfile.gettempdir()) / f"autograder-demo-escape-{aid}.txt"
        escaped.unlink(missing_ok=True)
        build_class(
            course_root / "source" / aid / f"{aid}.ipynb",
            release_nb,
            class_dir,
            escape_path=escaped,
            other_nb=others[0] if others else None,
        )
        shutil.rmtree(work, ignore_errors=True)
        print(f"\ngrading the example class of {aid} ({len(EXPECTED)} students) ...", flush=True)
        results = grade(
            aid,
            class_dir,
            target / "graded",
            jobs=jobs,
            timeout=timeout,
            cell_timeout=cell_timeout,
            course_root=course_root,
        )
        print()
        table = totals_table(results).splitlines()
        width = max(len(line) for line in table)
        print(table[0].ljust(width) + "   what the submission does")
        for line, r in zip(table[1:], results):
            print(line.ljust(width) + "   " + EXPECTED.get(r["student_id"], ""))
        if escaped.exists():
            print("ERROR: a hostile submission wrote outside its working directory")
            status = 1
        print(
            f"\nfeedback: {target / 'graded' / 'feedback'}/<student>/{aid}.html; class report: "
            f"{target / 'graded' / 'report.html'}; grades: {target / 'graded' / 'grades.csv'}"
        )
    return status
