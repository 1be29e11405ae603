"""`python -m autograder publish DEST`: the student edition, and the leak check that guards it.

One edition is published per module (the real command, into a temporary folder). On it: nothing of the
instructor's repository beyond lessons, release/ and utils; badges and setup cells point at the student
repository; its own `make test` (tools/check_notebooks.py) runs a subset of its notebooks (lessons 01 and
03 and their exercises: about 10 s; the whole set takes minutes and is what `make test` in the edition
runs); the leak check passes on it and fails on one planted solution or hidden-test line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from autograder import publish as P
from autograder.tests.test_grading import ENV

ROOT = Path(__file__).resolve().parents[2]
URL = "https://github.com/example-school/rnn-course-students"
COURSE = tomllib.loads((ROOT / "course.toml").read_text(encoding="utf-8"))["course"]


def _publish(dest: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder", "publish", str(dest), *extra],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("published") / "edition"
    proc = _publish(dest, "--repository", URL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "leak check passed" in proc.stdout
    return dest


@pytest.fixture
def copy(edition, tmp_path) -> Path:
    """A copy of the edition to plant things into."""
    dest = tmp_path / "edition"
    shutil.copytree(edition, dest)
    return dest


def _region_line(assignment: str, cell: str, kind: str, rule: str = "distinctive") -> str:
    regions, public = P.secret_regions(ROOT)
    public_text = "\n".join(public | P.lesson_lines(ROOT))
    region = next(r for r in regions if r.assignment == assignment and r.cell == cell and r.kind == kind)
    return next(line for line in region.lines if P.classify(P.normalise(line), public_text) == rule)


def test_the_edition_holds_what_students_need_and_nothing_of_the_instructor(edition):
    top = {p.name for p in edition.iterdir()}
    assert {
        "notebooks",
        "release",
        "utils",
        "README.md",
        "Makefile",
        "pyproject.toml",
        "requirements.txt",
        "tools",
    } <= top
    assert not top & {"source", "autograder", "tests", "benchmarks", "course.toml", "nbgrader_config.py", ".ci"}
    assert sorted(p.name for p in edition.glob("notebooks/*.ipynb")) == sorted(
        p.name for p in ROOT.glob("notebooks/*.ipynb")
    )
    assert sorted(p.name for p in edition.glob("release/*/*.ipynb")) == sorted(
        p.name for p in ROOT.glob("release/*/*.ipynb")
    )
    assert not list(edition.rglob("__pycache__"))
    pyproject = tomllib.loads((edition / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"][0] == "utils" and "pytest" not in pyproject["tool"]
    assert (
        "lab:" in (edition / "Makefile").read_text()
        and "tools/check_notebooks.py" in (edition / "Makefile").read_text()
    )


def test_badges_and_setup_cells_point_at_the_student_repository(edition):
    owner_repo = URL.split("github.com/")[1]
    for path in sorted(edition.glob("notebooks/*.ipynb")) + sorted(edition.glob("release/*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tagged = {tag: c.source for c in nb.cells for tag in c.metadata.get("tags", [])}
        rel = path.relative_to(edition).as_posix()
        assert f"colab.research.google.com/github/{owner_repo}/blob/main/{rel}" in tagged["colab-badge"], rel
        assert f'"{URL}"' in tagged["colab-setup"], rel
        assert COURSE["repository"] not in json.dumps(nb), rel
    readme = (edition / "README.md").read_text()
    assert readme.count(f"colab.research.google.com/github/{owner_repo}/") >= 2 * len(list(edition.glob("release/*/*")))
    assert COURSE["repository"] not in readme and "For instructors" not in readme and "Self-study" not in readme
    assert "Run the first code\ncell (the setup cell)" in readme  # the self-study instructions came along


def test_without_repository_the_course_toml_setting_is_used(tmp_path):
    proc = _publish(tmp_path / "edition")
    assert proc.returncode == 0, proc.stderr
    owner_repo = COURSE["student_repository"].split("github.com/")[1]
    assert f"colab.research.google.com/github/{owner_repo}/blob/" in (tmp_path / "edition" / "README.md").read_text()


def test_the_leak_check_passes_on_the_edition_with_nothing_excused(edition, tmp_path):
    """No solution line reaches the edition, utils included, and publish says so in one line: there is no list
    of answer keys that the edition carries by design any more."""
    assert not hasattr(P, "REFERENCES") and P.leak_check(edition, ROOT) == []
    check = _publish(edition, "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines() == [f"leak check passed: no solution or hidden-test text of source/ in {edition}"]
    proc = _publish(tmp_path / "again", "--repository", URL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("published the student edition to ") and "leak check passed" in lines[0]
    )
    for said in (proc.stdout + check.stdout, proc.stderr + check.stderr):
        assert "by design" not in said and "reference code" not in said and "students can read these" not in said


def test_every_entry_of_the_policy_is_needed():
    """An allow-list entry that no longer matches a secret line is a hole waiting to be used: remove it."""
    regions, _ = P.secret_regions(ROOT)
    secret = {P.normalise(line) for r in regions for line in r.lines}
    assert set(P.ALLOWED) <= secret


#: Solution lines that utils/ held word for word until the leak check became strict (issue 16), with the file of
#: utils that held each. They are still solution text, so one of them planted anywhere in the edition is a leak.
FORMER_REFERENCES = [
    ("01_hidden_state", "rnn_step", "return np.tanh(x_t @ W_xh + h_prev @ W_hh + b_h)", "utils/rnn.py"),
    ("01_hidden_state", "rnn_forward", "h = rnn_step(x_t, h, W_xh, W_hh, b_h)", "utils/rnn.py"),
    ("08_lstm_gru_padding_pytorch", "lstm_step", "c_t = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)", "utils/rnn.py"),
    ("08_lstm_gru_padding_tensorflow", "lstm_step", "h_t = sigmoid(o) * np.tanh(c_t)", "utils/rnn.py"),
    (
        "08_lstm_gru_padding_pytorch",
        "expected_lstm_shapes",
        "directions = 2 if bidirectional else 1",
        "utils/torch_utils/shapes.py",
    ),
    (
        "05_sequence_classification_pytorch",
        "SpamRNN",
        "self.rnn = nn.RNN(embed_dim, hidden_size, batch_first=True)",
        "utils/torch_utils/classify.py",
    ),
    ("07_metric_pitfalls", "diagnose", 'elif acc["val"] - acc["test"] > 0.05:', "utils/data/clinic.py"),
]


def test_the_former_references_are_gone_from_utils_or_taught_in_a_lesson(edition):
    """The eighth former reference, TensorFlow's `grads = tape.gradient(...)`, is now taught in lesson 05's text
    (public by rule 2); the seven others are still distinctive solution lines, and utils holds none of them."""
    regions, public_lines = P.secret_regions(ROOT)
    public = "\n".join(public_lines | P.lesson_lines(ROOT))
    for assignment, cell, line, held_by in FORMER_REFERENCES:
        region = next(r for r in regions if r.assignment == assignment and r.cell == cell and r.kind == "solution")
        assert any(P.normalise(raw) == P.normalise(line) for raw in region.lines), (assignment, cell, line)
        assert P.classify(P.normalise(line), public) == "distinctive", line
        assert not any(P.normalise(line) in text for text in P._text_lines((edition / held_by).read_text())), held_by
    taught = "grads = tape.gradient(loss, model.trainable_variables)"
    assert P.classify(P.normalise(taught), public) == "public"


@pytest.mark.parametrize("where", ["release", "utils"])
@pytest.mark.parametrize("kind", ["solution", "hidden"])
def test_one_planted_line_fails_the_leak_check(copy, where, kind):
    cell = "threshold_for_recall" if kind == "solution" else "test_threshold_for_recall"
    line = _region_line("03_classification_metrics", cell, kind)
    if where == "utils":
        target = copy / "utils" / "evaluation.py"
        target.write_text(target.read_text() + f"\n\ndef _helper(y_true, scores, min_recall):\n{line}\n")
    else:
        target = copy / "release" / "04_sequence_metrics" / "04_sequence_metrics.ipynb"
        nb = nbformat.read(target, as_version=4)
        nb.cells[-1].source += f"\n\nA tip from last year: `{line.strip()}`"
        nbformat.write(nb, target)
    leaks = P.leak_check(copy, ROOT)
    assert [(leak.where, leak.lines) for leak in leaks] == [
        (f"source/03_classification_metrics {cell} ({kind})", [line])
    ], leaks
    assert leaks[0].found_in.startswith(target.relative_to(copy).as_posix())
    proc = _publish(copy, "--check")
    assert proc.returncode == 1 and line.strip() in proc.stderr


@pytest.mark.parametrize("where", ["release", "utils"])
@pytest.mark.parametrize(
    "assignment,cell,line,held_by", FORMER_REFERENCES, ids=[f"{a[:2]}-{c}" for a, c, _, _ in FORMER_REFERENCES]
)
def test_a_former_utils_reference_planted_back_fails_the_leak_check(copy, where, assignment, cell, line, held_by):
    """No exception for utils any more: the line goes back into the very file of utils that held it (inside the
    function it came from, indented as library code), or into a release notebook's text, and the check fails."""
    if where == "utils":
        target = copy / held_by
        target.write_text(target.read_text() + f"\n\ndef _planted(*args):\n    {line}\n")
        found_in = held_by
    else:
        target = copy / "release" / "03_classification_metrics" / "03_classification_metrics.ipynb"
        nb = nbformat.read(target, as_version=4)
        nb.cells[-1].source += f"\n\nLast year's answer key said: `{line}`"
        nbformat.write(nb, target)
        found_in = f"{target.relative_to(copy).as_posix()} (cell {len(nb.cells) - 1})"
    regions, _ = P.secret_regions(ROOT)
    holding = {r.where for r in regions if r.kind == "solution" and P.normalise(line) in map(P.normalise, r.lines)}
    assert f"source/{assignment} {cell} (solution)" in holding
    leaks = P.leak_check(copy, ROOT)
    assert {(leak.where, leak.found_in, leak.why) for leak in leaks} == {
        (where_, found_in, "distinctive line") for where_ in holding
    }, leaks
    assert all(
        leak.lines
        == [
            next(
                raw
                for r in regions
                if r.where == leak.where
                for raw in r.lines
                if P.normalise(raw) == P.normalise(line)
            )
        ]
        for leak in leaks
    )


def test_a_copied_body_of_ordinary_lines_is_found_as_a_run(copy):
    """Lines that are each generic (short, or taught in a lesson) are still a leak four in a row."""
    regions, public_lines = P.secret_regions(ROOT)
    public = "\n".join(public_lines | P.lesson_lines(ROOT))
    shown_runs = P.public_runs(ROOT)
    run = None
    for region in regions:  # a region with RUN_LINES consecutive lines of which none is distinctive (not a public run)
        body = [line for line in region.lines if P.normalise(line)]
        for start in range(len(body) - P.RUN_LINES + 1):
            lines = body[start : start + P.RUN_LINES]
            if tuple(P.normalise(line) for line in lines) not in shown_runs and all(
                P.classify(P.normalise(line), public) != "distinctive" for line in lines
            ):
                run = region, body[start : start + P.RUN_LINES]
                break
        if run:
            break
    assert run, "no region of generic lines: the test needs another example"
    region, lines = run
    (copy / "utils" / "helpers.py").write_text("def helper(model, prefix, hidden=None):\n" + "\n".join(lines) + "\n")
    leaks = P.leak_check(copy, ROOT)
    assert [(leak.why, leak.where, leak.found_in) for leak in leaks] == [
        (f"run of {P.RUN_LINES} lines", region.where, "utils/helpers.py")
    ], leaks


def test_a_short_answer_line_is_never_generic(copy):
    nb = nbformat.read(ROOT / "source" / "03_classification_metrics" / "03_classification_metrics.ipynb", as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "judgement")
    line = next(line for line in answer.source.splitlines() if line.startswith("reason"))
    pitfalls = _region_line("05_sequence_classification_pytorch", "answer_pitfalls", "solution")
    assert len(P.normalise(line)) < P.MIN_CHARS and len(P.normalise(pitfalls)) < P.MIN_CHARS
    (copy / "notes.md").write_text(f"The answer of 03: {line}\nand one of 05: {{{pitfalls.strip()}}}\n")
    leaks = P.leak_check(copy, ROOT)
    assert {leak.lines[0] for leak in leaks} == {line, pitfalls} and {leak.found_in for leak in leaks} == {"notes.md"}


def test_instructor_files_and_markers_fail_the_check(copy):
    (copy / "source").mkdir()
    release = copy / "release" / "01_hidden_state" / "01_hidden_state.ipynb"
    nb = nbformat.read(release, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\npass\n### END HIDDEN TESTS"))
    nbformat.write(nb, release)
    whys = sorted(leak.why for leak in P.leak_check(copy, ROOT))
    assert whys == ["instructor-only path", "marker"]


def test_publish_refuses_a_leaking_edition_and_leaves_dest_as_it_was(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "edition"
    assert P.publish(dest, URL) == 0
    before = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    line = _region_line("04_sequence_metrics", "masked_cross_entropy", "solution")
    write = P.write_edition

    def leaky(stage, course_root, url):
        write(stage, course_root, url)
        (stage / "utils" / "answers.py").write_text(line + "\n")

    monkeypatch.setattr(P, "write_edition", leaky)
    assert P.publish(dest, URL) == 1
    assert "REFUSED" in capsys.readouterr().err
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == before
    assert not list(tmp_path.glob(".edition-staging-*"))


def test_publish_keeps_a_clone_git_folder_and_refuses_a_folder_of_other_files(tmp_path):
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert P.publish(clone, URL) == 0 and (clone / ".git" / "HEAD").is_file() and (clone / "README.md").is_file()
    assert P.publish(clone, URL) == 0  # again: an edition published before is replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("mine")
    assert P.publish(other, URL) == 2 and (other / "thesis.tex").read_text() == "mine"
    assert P.publish(ROOT / "release" / "edition", URL) == 2  # never over or inside the course itself
    assert P.publish(ROOT, URL) == 2 and P.publish(ROOT.parent, URL) == 2


@pytest.mark.slow
def test_the_edition_runs_its_own_notebook_check(edition):
    """The edition's `make test` runs tools/check_notebooks.py: here on topics 01, 03 and 05 (PyTorch), lessons
    and exercises; 05's exercise has a structured answer whose release holds "..." placeholders."""
    env = dict(ENV, PYTHONPATH="")
    proc = subprocess.run(
        [sys.executable, "tools/check_notebooks.py", "01_", "03_", "05_sequence_classification_pytorch"],
        cwd=edition,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len([line for line in lines if line.startswith("ok ")]) == 6, proc.stdout
    for line in lines:
        if "release/" in line:
            assert "stopped at an unanswered exercise" in line, line  # the stubs, and only they, stop cells


@pytest.mark.slow
def test_the_notebook_check_catches_a_broken_library(copy):
    """A check that passes whatever happens would prove nothing: break utils in the copy, and it fails."""
    metrics = copy / "utils" / "metrics.py"
    metrics.write_text(metrics.read_text() + "\nraise RuntimeError('a broken utils')\n")
    proc = subprocess.run(
        [sys.executable, "tools/check_notebooks.py", "03_"],
        cwd=copy,
        env=dict(ENV),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1 and "FAIL" in proc.stdout, proc.stdout
    assert "RuntimeError" in proc.stdout


def test_a_run_that_is_public_elsewhere_is_no_leak(copy):
    """A hidden test written like another assignment's visible one (the same four lines, public there)."""
    shown_runs = P.public_runs(ROOT)
    regions, _ = P.secret_regions(ROOT)
    found = None
    for region in regions:
        body = [line for line in region.lines if P.normalise(line)]
        for start in range(len(body) - P.RUN_LINES + 1):
            if tuple(P.normalise(line) for line in body[start : start + P.RUN_LINES]) in shown_runs:
                found = body[start : start + P.RUN_LINES]
                break
        if found:
            break
    assert found, "no hidden run is public elsewhere: the test needs another example"
    (copy / "utils" / "helpers.py").write_text("def helper():\n" + "\n".join(found) + "\n")
    assert not [leak for leak in P.leak_check(copy, ROOT) if leak.found_in == "utils/helpers.py"]
