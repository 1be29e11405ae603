"""The class report an instructor acts on, and the instructor's workflow around a batch.

One class of the fixture assignment: students with named mistakes, missing and invalid students, a
syntax error, an endless loop, a flood, a refused write, a tampered test, a renamed notebook and an
import of a missing module. The report must show the student x test grid (with links to each
feedback page), pass rates over the notebooks actually submitted, the class's most common named
mistakes with counts, and an incident row naming student and cell for each of those. It is rendered
to test-artifacts/class-report.png in a real browser (Debian's chromium, as tests/test_browser.py
uses) so that a person can look at it.

Then: a rerun with other limits says so and keeps the results; --regrade grades again; Ctrl-C and
SIGTERM end a batch with a sentence, not a traceback, and leave no helper process behind.
"""

from __future__ import annotations

import html
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.tests.test_grading import AID, ENV, FIXTURES, ROOT, _release, _with_answer, read_csv
from tests.test_browser import chromium  # noqa: F401 - the fixture that provides Debian's chromium

ARTIFACTS = ROOT / "test-artifacts"
LIMITS = ["--cell-timeout", "5", "--timeout", "60", "--memory-mb", "1024", "--jobs", "2"]
DOUBLED = "def square(x):\n    return [2.0 * v for v in x]"
SUM = "def mean_of(x):\n    return float(sum(x))"


def _grade(subs: Path, out: Path, *extra: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            AID,
            str(subs),
            "--out",
            str(out),
            "--course-root",
            str(FIXTURES),
            *extra,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def _with_cell(release_nb: Path, source_nb: Path, dest: Path, code: str, answers: dict | None = None) -> None:
    _with_answer(
        release_nb,
        source_nb,
        dest,
        "square",
        (answers or {}).get("square", "def square(x):\n    return [v * v for v in x]"),
    )
    nb = nbformat.read(dest, as_version=4)
    if answers and "mean_of" in answers:
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "mean_of":
                cell.source = answers["mean_of"]
    if code:
        nb.cells.insert(3, new_code_cell(code))
    nbformat.write(nb, dest)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    release_nb = _release(tmp)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs = tmp / "subs"
    nb = lambda s: subs / s / f"{AID}.ipynb"
    _with_cell(release_nb, source_nb, nb("ok"), "")
    for i in range(3):
        _with_cell(release_nb, source_nb, nb(f"doubler{i}"), "", {"square": DOUBLED})
    _with_cell(release_nb, source_nb, nb("summer"), "", {"mean_of": SUM})
    _with_cell(
        release_nb,
        source_nb,
        nb("cuda"),
        "",
        {
            "square": "def square(x):\n    import numpy as np\n"
            "    raise RuntimeError('Torch not compiled with CUDA enabled')"
        },
    )
    _with_cell(
        release_nb,
        source_nb,
        nb("unanswered"),
        "",
        {"square": "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"},
    )
    _with_cell(release_nb, source_nb, nb("syntax"), "x = (1,\ny = 2")
    _with_cell(release_nb, source_nb, nb("loop"), "while True:\n    pass")
    _with_cell(release_nb, source_nb, nb("flood"), "print('x' * 300_000)")
    _with_cell(release_nb, source_nb, nb("writer"), "open('/etc/hostname-x', 'w').write('x')")
    _with_cell(release_nb, source_nb, nb("importer"), "import definitely_not_installed_module")
    _with_cell(release_nb, source_nb, nb("tamper"), "")
    t = nbformat.read(nb("tamper"), as_version=4)
    for cell in t.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_square":
            cell.source = "pass"
    nbformat.write(t, nb("tamper"))
    (subs / "renamed").mkdir()
    _with_cell(release_nb, source_nb, subs / "renamed" / f"{AID}-Copy1.ipynb", "")
    (subs / "absent").mkdir()
    (subs / "garbage").mkdir()
    nb("garbage").write_text("{not json")
    out = tmp / "out"
    proc = _grade(subs, out, *LIMITS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        "tmp": tmp,
        "subs": subs,
        "out": out,
        "proc": proc,
        "report": (out / "report.html").read_text(encoding="utf-8"),
    }


def test_grid_links_and_rates_over_submitted_notebooks(batch):
    report = batch["report"]
    for student in ("ok", "doubler0", "absent", "garbage", "renamed"):
        assert f"href='feedback/{student}/{AID}.html'" in report
        assert (batch["out"] / "feedback" / student / f"{AID}.html").is_file()
    totals = {r["student_id"]: r["status"] for r in read_csv(batch["out"] / "totals.csv")}
    graded = sum(1 for s in totals.values() if s not in ("missing", "invalid"))
    assert totals["absent"] == "missing" and totals["garbage"] == "invalid"
    assert f"{graded} submitted a notebook that was graded; 1 missing; 1 invalid" in report
    rows = read_csv(batch["out"] / "grades.csv")
    passed_square = sum(
        1
        for r in rows
        if r["grade_id"] == "test_square"
        and r["status"] == "passed"
        and totals[r["student_id"]] not in ("missing", "invalid")
    )
    assert f"{passed_square} of {graded}" in report
    assert "5 s per cell" in report


def test_the_class_mistakes_are_counted(batch):
    report = html.unescape(batch["report"])
    assert re.search(r"<b>3</b> students: you doubled instead of squaring", report), report[:3000]
    assert re.search(r"<b>1</b> student: you returned the sum", report)


def test_incidents_name_student_and_cell(batch):
    report = html.unescape(batch["report"])
    rows = re.findall(
        r"<tr><td><a href='feedback/([^/]+)/[^']+'>[^<]+</a></td><td>([^<]+)</td><td>([^<]*)</td>", report
    )
    kinds = {(s, k) for s, k, _ in rows}
    for expected in [
        ("syntax", "syntax error"),
        ("loop", "timeout"),
        ("flood", "flood"),
        ("writer", "refused"),
        ("importer", "missing module"),
        ("tamper", "tampering"),
        ("renamed", "notebook"),
        ("garbage", "notebook"),
    ]:
        assert expected in kinds, (expected, sorted(kinds))
    cells = {s: c for s, k, c in rows if k in ("syntax error", "timeout")}
    assert cells["syntax"].startswith("cell 4 of your notebook")  # as the student sees it, counted from the top
    assert "SyntaxError: SyntaxError" not in report


def test_renamed_notebook_is_graded_and_reported(batch):
    totals = {r["student_id"]: float(r["points"]) for r in read_csv(batch["out"] / "totals.csv")}
    assert totals["renamed"] == 4.0
    assert "renamed: graded" in batch["proc"].stdout and "Copy1" in batch["proc"].stdout


def test_feedback_has_no_internal_class_names(batch):
    text = (batch["out"] / "feedback" / "doubler0" / f"{AID}.html").read_text(encoding="utf-8")
    assert "doubled instead of squaring" in text and "CheckFailure" not in text


def test_report_rendered_to_png(batch, chromium):  # noqa: F811 - the imported fixture
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "class-report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto((batch["out"] / "report.html").as_uri())
        assert page.locator("h2", has_text="The class's mistakes").count() == 1
        assert page.locator("img").count() == 2
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        assert all(w > 100 for w in widths), widths  # the charts decoded
        page.screenshot(path=str(target), full_page=True)
        browser.close()
    assert target.stat().st_size > 20_000


def test_a_rerun_with_other_limits_says_so_and_regrade_grades_again(batch):
    out, subs = batch["out"], batch["subs"]
    proc = _grade(subs, out, "--cell-timeout", "7", "--timeout", "60", "--memory-mb", "1024")
    assert proc.returncode == 0, proc.stderr
    assert "graded 0 submission(s)" in proc.stdout and "other limits" in proc.stdout and "--regrade" in proc.stdout
    proc = _grade(
        subs, out, "--cell-timeout", "7", "--timeout", "60", "--memory-mb", "1024", "--regrade", "ok", "summer"
    )
    assert proc.returncode == 0, proc.stderr
    assert "graded 2 submission(s)" in proc.stdout
    import json

    limits = {
        s: json.loads((out / ".state" / f"{s}.json").read_text())["limits"]["cell_timeout"]
        for s in ("ok", "summer", "doubler0")
    }
    assert limits == {"ok": 7.0, "summer": 7.0, "doubler0": 5.0}


def _helpers_of(pid: int) -> list:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(p.name))
    return found


def _jailed_by(grader_pid: int) -> list:
    """The processes in the jail groups of the grader `grader_pid` (autograder.cgroups names its batch
    groups after its pid)."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if f"autograder-{grader_pid}-" in (p / "cgroup").read_text():
                    found.append(int(p.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_batch_says_what_was_saved(batch, tmp_path, how):
    subs = tmp_path / "subs"
    (subs / "a").mkdir(parents=True)
    (subs / "a" / f"{AID}.ipynb").write_bytes((batch["subs"] / "loop" / f"{AID}.ipynb").read_bytes())
    (subs / "b").mkdir()
    (subs / "b" / f"{AID}.ipynb").write_bytes((batch["subs"] / "ok" / f"{AID}.ipynb").read_bytes())
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            AID,
            str(subs),
            "--out",
            str(out),
            "--course-root",
            str(FIXTURES),
            "--cell-timeout",
            "60",
            "--jobs",
            "1",
        ],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _jailed_by(proc.pid):  # `a`, the first, has started
        time.sleep(0.2)
    time.sleep(2.0)  # `a` (first, one job at a time) is in its endless loop now, for up to 60 s
    children = _helpers_of(proc.pid)
    assert children, "the grader should have its engine and nbgrader helper running"
    proc.send_signal(how)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, stderr[-2000:])
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert re.search(r"interrupted: \d of 2 saved", stderr) and "run the same command again" in stderr
    time.sleep(1.0)
    alive = [
        c
        for c in children
        if Path(f"/proc/{c}").exists() and "Z" not in Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()[0]
    ]
    assert not alive, f"helper processes left behind: {alive}"


def test_the_default_cell_limit_comes_from_the_solution(batch, tmp_path):
    subs = tmp_path / "subs"
    (subs / "loop").mkdir(parents=True)
    (subs / "loop" / f"{AID}.ipynb").write_bytes((batch["subs"] / "loop" / f"{AID}.ipynb").read_bytes())
    out = tmp_path / "out"
    start = time.monotonic()
    proc = _grade(subs, out)  # no --cell-timeout
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"per-cell time limit: (\d+) s \(derived: the solution's slowest cell took ([\d.]+) s", proc.stdout)
    assert m, proc.stdout
    limit, slowest = float(m.group(1)), float(m.group(2))
    assert limit == max(10.0, min(120.0, round(20 * slowest + 10)))
    assert seconds < 120, "the endless loop was given the old 120 s default"
    assert f"{limit:g} s per cell" in (out / "report.html").read_text()
    import json

    assert json.loads((out / ".state" / "loop.json").read_text())["limits"]["cell_timeout"] == limit


def test_lms_names_and_an_empty_folder(batch, tmp_path):
    subs = tmp_path / "lms"
    subs.mkdir()
    (subs / f"Ada Lovelace_1234_assignsubmission_file_{AID}.ipynb").write_bytes(
        (batch["subs"] / "ok" / f"{AID}.ipynb").read_bytes()
    )
    proc = _grade(subs, tmp_path / "out", *LIMITS)
    assert proc.returncode == 0, proc.stderr
    totals = {r["student_id"]: float(r["points"]) for r in read_csv(tmp_path / "out" / "totals.csv")}
    assert totals == {"Ada_Lovelace_1234": 4.0}
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _grade(empty, tmp_path / "out2", *LIMITS)
    assert "no submission of ag_fixture was found" in proc.stdout and "layouts accepted" in proc.stdout


def test_the_progress_bar_counts_every_student_and_names_who_is_running(batch, tmp_path):
    subs = tmp_path / "subs"
    for name, src in (("a_ok", "ok"), ("b_ok", "ok"), ("z_loop", "loop")):
        (subs / name).mkdir(parents=True)
        (subs / name / f"{AID}.ipynb").write_bytes((batch["subs"] / src / f"{AID}.ipynb").read_bytes())
    proc = _grade(subs, tmp_path / "out", "--cell-timeout", "3", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    # while the last student loops, the bar already says 2 of 3 and names the one still running
    assert re.search(r"2/3 \[[^\]]*running: z_loop\]", proc.stderr), proc.stderr[-2000:]
    assert "3/3" in proc.stderr


def test_errors_that_are_not_wrong_answers_say_what_they_are(batch):
    rows = {(r["student_id"], r["grade_id"]): r for r in read_csv(batch["out"] / "grades.csv")}
    cuda = rows[("cuda", "test_square")]
    assert cuda["status"] == "error" and "without a GPU" in cuda["message"] and "get_device()" in cuda["message"]
    unanswered = rows[("unanswered", "test_square")]
    assert unanswered["status"] == "error" and unanswered["message"].startswith("not answered")
    assert "likely mistake" not in unanswered["message"]


def test_readme_and_help_say_the_same_about_memory():
    help_text = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "--help"], cwd=ROOT, env=ENV, capture_output=True, text=True
    ).stdout
    help_text = " ".join(help_text.split())
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    phrase = "one submission may allocate on top of the warm grader's own size"
    assert phrase in help_text and phrase in readme


def test_grade_refuses_where_it_cannot_jail(tmp_path, monkeypatch):
    from autograder import grade as grading
    from autograder import sandbox

    monkeypatch.setattr(sandbox, "probe", lambda *a, **k: "user namespaces are disabled (simulated)")
    (tmp_path / "subs").mkdir()
    with pytest.raises(grading.JailUnavailable) as info:
        grading.grade(AID, tmp_path / "subs", tmp_path / "out", course_root=FIXTURES, progress=False)
    text = str(info.value)
    assert "cannot jail" in text and "simulated" in text and "--unsafe-shared-process" in text
    assert not (tmp_path / "out").exists(), "nothing is graded, nothing is written"
