"""The jail starts knowing nothing, and feedback carries nothing out (spec section 7), against the real grader.

Each attack of the issue is played by a submission in a class with an honest classmate and a stub,
graded through the command line with canaries in the grader's environment, a secret seed file and
an OUT folder whose paths an attacker would like to learn:

- the grader's environment and command line, read from the jail;
- the secret seed, searched for in every frame and module of the jail;
- hidden inputs recorded by an answer and raised out, chunk by chunk, by later cells, or raised from
  inside a hidden case as a NameError;
- a submission folder that is a link (to a classmate, to source/), and a submission that is a pipe;
- a module the student's process names, that the trusted side must not import;
- the replay of a perfect leak of drawn hidden cases: by another student, and by the spy's own
  resubmission (a control run without a secret shows that the replay works where cases are fixed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell

from autograder.tests.test_grading import AID, ENV, FIXTURES, ROOT, _release, _with_answer, read_csv

LIMITS = ["--cell-timeout", "20", "--timeout", "90", "--memory-mb", "2048", "--jobs", "2"]
CANARY = "canary-7f3a9c1e"
SECRET_TEXT = "the instructor's secret 1b5e0c"
CORRECT = "def square(x):\n    return np.asarray(x, dtype=float) ** 2"
HIDDEN_VALUES = ("-7.5", "56.25", "0.2916", "0.125")  # ag_fixture's hidden inputs and expected values


def _cell_before_tests(code: str):
    return lambda cells: cells.insert(2, new_code_cell(code))


def _cells_at_end(*codes: str):
    return lambda cells: cells.extend(new_code_cell(c) for c in codes)


def _answer(gid: str, code: str):
    """The answer cell `gid` replaced by `code`."""

    def change(cells):
        for cell in cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == gid:
                cell.source = code

    return change


RECORD_SQUARE = (
    "RECORDED = []\ndef square(x):\n    RECORDED.append(repr(x))\n    return np.asarray(x, dtype=float) ** 2\n"
)
RECORD_MEAN = "def mean_of(x):\n    RECORDED.append(repr(x))\n    return float(np.mean(x))\n"
CHUNKS = [f"raise RuntimeError('CHUNK{i} ' + ' '.join(RECORDED)[{i * 40}:{(i + 1) * 40}])" for i in range(60)]

ATTACKS = {
    # the grader's environment: names (before any hidden test, so its text is shown) and canary values
    "env_names": _cell_before_tests("import os\nraise RuntimeError('ENV ' + ' '.join(sorted(os.environ)))"),
    "env_values": _cell_before_tests(
        "import os\nraise RuntimeError('VALUES ' + repr([v for v in os.environ.values() if 'canary' in v]) "
        "+ repr(dict(os.environ))[:200])"
    ),
    # the command line, its own and any process it can see
    "argv": _cell_before_tests(
        "import sys, os\nfound = [repr(sys.argv), open('/proc/self/cmdline', 'rb').read().decode(errors='replace')]\n"
        "for p in os.listdir('/proc'):\n"
        "    if p.isdigit():\n"
        "        try:\n"
        "            found.append(open(f'/proc/{p}/cmdline', 'rb').read().decode(errors='replace'))\n"
        "        except OSError:\n"
        "            pass\n"
        "raise RuntimeError('ARGV ' + ' | '.join(found))"
    ),
    # the secret seed: every frame up the stack and every module's globals
    "seed_hunt": _cell_before_tests(
        "import sys\nfound = []\nf = sys._getframe()\n"
        "while f is not None:\n"
        "    found += [f'{k}={v!r}'[:80] for k, v in f.f_locals.items()"
        " if 'seed' in k.lower() or 'secret' in k.lower()]\n"
        "    f = f.f_back\n"
        "for m in list(sys.modules.values()):\n"
        "    for k, v in list(getattr(m, '__dict__', {}).items()):\n"
        "        if ('seed' in k.lower() or 'secret' in k.lower()) and isinstance(v, (int, str, bytes)) "
        "and not isinstance(v, bool):\n"
        "            found.append(f'{k}={v!r}'[:80])\n"
        "import utils.checks\n"
        "raise RuntimeError('SEED ' + repr(utils.checks._HIDDEN_SEED) + ' ' + ' '.join(found)[:2000])"
    ),
    # hidden inputs recorded, then raised out of 60 later cells
    "hidden_leak": lambda cells: (
        _answer("square", RECORD_SQUARE)(cells),
        _answer("mean_of", RECORD_MEAN)(cells),
        cells.extend(new_code_cell(c) for c in CHUNKS),
    ),
    # a NameError raised inside a hidden case, carrying the hidden input
    "hidden_nameerror": _answer(
        "square",
        "def square(x):\n"
        "    if list(np.ravel(x)) != [1, 2, 3]:\n"
        "        raise NameError('LEAK ' + repr(x))\n"
        "    return np.asarray(x, dtype=float) ** 2\n",
    ),
    # an honest student who left the last answer out: its test meets a NameError after hidden inputs were sent
    "no_last_answer": _answer("answer_demo", "# not answered"),
    # a new trick: a class of its own named like a built-in error carries the recorded inputs out of a later cell
    "builtin_named_error": lambda cells: (
        _answer("square", RECORD_SQUARE)(cells),
        _answer("mean_of", RECORD_MEAN)(cells),
        cells.append(new_code_cell("class ValueError(Exception):\n    pass\nraise ValueError(' '.join(RECORDED))")),
    ),
    # a module for the trusted side to import
    "module_by_name": _answer(
        "square", "import types\ndef square(x):\n    return types.ModuleType('numpy.f2py.__main__')\n"
    ),
}


def _write(nb, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _all_text(out: Path) -> str:
    """Every file the grader wrote in OUT (CSV, feedback, report, state records), as one text."""
    parts = []
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".html", ".json", ".md", ".txt", ".ipynb", ".db", ""):
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def _state(out: Path, student: str) -> dict:
    return json.loads((out / ".state" / f"{student}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("knows-nothing")
    release_nb = _release(tmp)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs, out = tmp / "submissions", tmp / "out"
    _with_answer(release_nb, source_nb, subs / "victim" / f"{AID}.ipynb", "square", CORRECT)
    _write(nbformat.read(release_nb, as_version=4), subs / "stub" / f"{AID}.ipynb")
    for name, change in ATTACKS.items():
        nb = nbformat.read(release_nb, as_version=4)
        answers = {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in nbformat.read(source_nb, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("solution")
        }
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        change(nb.cells)
        _write(nb, subs / name / f"{AID}.ipynb")
    # links: eve's assignment folder is a link to alice's; mallory's to the instructor's source folder
    _with_answer(release_nb, source_nb, subs / "alice" / AID / f"{AID}.ipynb", "square", CORRECT + "  # alice's")
    (subs / "eve").mkdir()
    os.symlink("../alice/" + AID, subs / "eve" / AID)
    (subs / "mallory").mkdir()
    os.symlink(FIXTURES / "source" / AID, subs / "mallory" / AID)
    (subs / "piper").mkdir()
    os.mkfifo(subs / "piper" / f"{AID}.ipynb")  # a pipe: reading it would wait forever
    seed_file = tmp / "private" / "seed.txt"
    seed_file.parent.mkdir()
    seed_file.write_text(SECRET_TEXT)
    env = dict(
        ENV, AUTOGRADER_TEST_CANARY=CANARY, JUPYTERHUB_API_TOKEN=CANARY + "-token", SOME_PASSWORD=CANARY + "-password"
    )
    cmd = [
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
        *LIMITS,
        "--secret-seed-file",
        str(seed_file),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    totals = {r["student_id"]: r for r in read_csv(out / "totals.csv")}
    return {"out": out, "totals": totals, "seed_file": seed_file, "text": _all_text(out), "tmp": tmp}


def _points(graded, student) -> float:
    return float(graded["totals"][student]["points"])


def test_honest_students_keep_their_grades(graded):
    assert _points(graded, "victim") == 4 and graded["totals"]["victim"]["status"] == "passed"
    assert _points(graded, "alice") == 4
    assert _points(graded, "stub") == 0


def test_no_canary_of_the_grader_environment_appears_anywhere(graded):
    assert CANARY not in graded["text"]


def test_the_jail_environment_holds_only_the_named_variables(graded):
    from autograder.engine import ENGINE_ENVIRONMENT, ENGINE_PASSED_ON

    notes = " ".join(_state(graded["out"], "env_names")["notes"])
    assert "ENV " in notes, notes  # the attack ran, before any hidden test, so its text is shown
    names = set(notes.split("ENV ", 1)[1].split()[:50])
    allowed = set(ENGINE_ENVIRONMENT) | set(ENGINE_PASSED_ON) | {"TMPDIR", "HOME"}
    assert names <= allowed, names - allowed


def test_no_command_line_of_the_grader_reaches_the_jail(graded):
    notes = " ".join(_state(graded["out"], "argv")["notes"])
    assert "ARGV " in notes, notes
    for secret in ("--secret-seed-file", str(graded["seed_file"]), str(graded["out"]), "submissions"):
        assert secret not in notes
    for secret in (str(graded["seed_file"]), SECRET_TEXT, "private/seed.txt"):
        assert secret not in graded["text"]


def test_the_secret_seed_is_in_no_process_a_jail_descends_from(graded):
    from autograder.state import read_secret_seed

    seed = read_secret_seed(graded["seed_file"])
    notes = " ".join(_state(graded["out"], "seed_hunt")["notes"])
    assert "SEED None" in notes, notes  # utils.checks in the jail holds no seed, and no frame or module did
    assert str(seed) not in graded["text"]


def test_hidden_inputs_recorded_by_an_answer_do_not_come_out(graded):
    state = _state(graded["out"], "hidden_leak")
    assert state["points"] == 4  # its answers are right: the honest grade
    feedback = (graded["out"] / "feedback" / "hidden_leak" / f"{AID}.html").read_text(encoding="utf-8")
    mine = " ".join(state["notes"]) + feedback + json.dumps(state)
    for value in HIDDEN_VALUES:
        assert value not in mine, value
    assert "CHUNK" not in mine  # no text of its cells after it saw hidden inputs, only numbers and classes
    assert "RuntimeError" in mine
    assert len(state["notes"]) <= 21 and all(len(n) <= 300 for n in state["notes"])


def test_an_error_class_named_like_a_builtin_carries_nothing_out(graded):
    state = _state(graded["out"], "builtin_named_error")
    mine = json.dumps(state) + (graded["out"] / "feedback" / "builtin_named_error" / f"{AID}.html").read_text()
    assert state["points"] == 4
    assert "ValueError" in mine  # the cell is reported, by its class's name only
    for value in HIDDEN_VALUES:
        assert value not in mine, value


def test_a_name_error_raised_in_a_hidden_case_carries_nothing_out(graded):
    state = _state(graded["out"], "hidden_nameerror")
    mine = json.dumps(state) + (graded["out"] / "feedback" / "hidden_nameerror" / f"{AID}.html").read_text()
    assert "LEAK" not in mine and "-7.5" not in mine
    square = next(c for c in state["cells"] if c["grade_id"] == "test_square")
    assert square["points"] == 0


def test_a_submission_folder_linked_anywhere_is_invalid_and_unread(graded):
    for student in ("eve", "mallory", "piper"):
        row = graded["totals"][student]
        assert (row["status"], float(row["points"])) == ("invalid", 0.0), row
    assert "link" in " ".join(c["message"] for c in _state(graded["out"], "eve")["cells"])
    assert "regular file" in " ".join(c["message"] for c in _state(graded["out"], "piper")["cells"])
    assert "alice's" not in json.dumps(_state(graded["out"], "eve"))


def test_the_trusted_side_imports_no_module_the_student_names(graded):
    state = _state(graded["out"], "module_by_name")
    square = next(c for c in state["cells"] if c["grade_id"] == "test_square")
    assert square["points"] == 0 and square["status"] in ("failed", "error")
    from autograder.channel import ChannelError, Codec

    sys.modules.pop("numpy.f2py.__main__", None)
    trusted = Codec(lambda *a: None, lambda *a: None)  # as the trusted side makes it
    with pytest.raises(ChannelError):
        trusted.decode({"$r": "numpy.f2py.__main__:"}, [])
    assert "numpy.f2py.__main__" not in sys.modules
    with pytest.raises(ChannelError):
        trusted.decode({"$r": "subprocess:run"}, [])  # not a library the grader trusts


# ----------------------------------------------------------------------------
# drawn hidden cases cannot be replayed
# ----------------------------------------------------------------------------

DRAWN_TEST = (
    '"""square returns the element-wise square."""\nimport numpy as np\n'
    "from utils.checks import exercise, check_close, hidden_case, hidden_seed\n"
    'with exercise("test_square", points=2):\n'
    '    check_close(square([1, 2, 3]), [1.0, 4.0, 9.0], "square([1, 2, 3])")\n'
    "    ### BEGIN HIDDEN TESTS\n"
    "    xs = np.random.default_rng(hidden_seed(11)).integers(-50, 50, size=4).astype(float)\n"
    '    with hidden_case("drawn values"):\n'
    '        check_close(square(xs), xs ** 2, "square(xs)")\n'
    "    ### END HIDDEN TESTS"
)


def _drawn_course(tmp: Path) -> Path:
    import shutil

    course = tmp / "course"
    shutil.copytree(FIXTURES, course)
    path = course / "source" / AID / f"{AID}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_square":
            cell.source = DRAWN_TEST
    nbformat.write(nb, path)
    return course


def _drawn_values(seed: int | None) -> list:
    import utils.checks

    utils.checks.use_grader(None, seed)  # as the trusted process of that submission does
    try:
        return np.random.default_rng(utils.checks.hidden_seed(11)).integers(-50, 50, size=4).astype(float).tolist()
    finally:
        utils.checks.use_grader(None, None)


def _lookup_answer(known: list) -> str:
    table = {tuple([1.0, 2.0, 3.0]): [1.0, 4.0, 9.0], tuple(known): [v * v for v in known]}
    return (
        "TABLE = " + repr(table) + "\n"
        "def square(x):\n"
        "    key = tuple(float(v) for v in np.ravel(x))\n"
        "    return np.asarray(TABLE.get(key, [v + 1 for v in key]), dtype=float)\n"
    )


def _grade_course(course: Path, subs: Path, out: Path, seed_file: Path | None) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        AID,
        str(subs),
        "--out",
        str(out),
        "--course-root",
        str(course),
        *LIMITS,
    ]
    if seed_file is not None:
        cmd += ["--secret-seed-file", str(seed_file)]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {(r["student_id"], r["grade_id"]): float(r["points"]) for r in read_csv(out / "grades.csv")}


@pytest.mark.slow  # three grading runs of a small class
def test_a_perfect_leak_of_drawn_cases_is_worth_nothing_to_another_submission(tmp_path):
    from autograder.assignment import prepare, source_fingerprint
    from autograder.state import read_secret_seed, submission_key, submission_seed

    course = _drawn_course(tmp_path)
    work = tmp_path / "release-build"
    work.mkdir()
    prepare(AID, work, course)
    release_nb = work / "course" / "release" / AID / f"{AID}.ipynb"
    source_nb = course / "source" / AID / f"{AID}.ipynb"
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(SECRET_TEXT)
    fingerprint = source_fingerprint(source_nb)

    # what the spy's cases are, as a perfect leak would tell it (the test knows the secret)
    subs = tmp_path / "subs"
    _with_answer(release_nb, source_nb, subs / "spy" / f"{AID}.ipynb", "square", CORRECT)
    spy_path = subs / "spy" / f"{AID}.ipynb"
    spy_seed = submission_seed(read_secret_seed(seed_file), "spy", submission_key(spy_path, fingerprint))
    leaked = _drawn_values(spy_seed)
    _with_answer(release_nb, source_nb, subs / "replay" / f"{AID}.ipynb", "square", _lookup_answer(leaked))
    _write(nbformat.read(release_nb, as_version=4), subs / "stub" / f"{AID}.ipynb")
    grades = _grade_course(course, subs, tmp_path / "out", seed_file)
    assert grades[("spy", "test_square")] == 2
    assert grades[("replay", "test_square")] == grades[("stub", "test_square")] == 0

    # the spy's own resubmission with the table: other content, other cases
    subs2 = tmp_path / "subs2"
    _with_answer(release_nb, source_nb, subs2 / "spy" / f"{AID}.ipynb", "square", _lookup_answer(leaked))
    grades = _grade_course(course, subs2, tmp_path / "out2", seed_file)
    assert grades[("spy", "test_square")] == 0

    # the control: without a secret the cases are the test's fixed ones, and the same kind of table passes
    subs3 = tmp_path / "subs3"
    _with_answer(
        release_nb, source_nb, subs3 / "replay" / f"{AID}.ipynb", "square", _lookup_answer(_drawn_values(None))
    )
    grades = _grade_course(course, subs3, tmp_path / "out3", None)
    assert grades[("replay", "test_square")] == 2


# ----------------------------------------------------------------------------
# limits that hold per jail
# ----------------------------------------------------------------------------

MEMORY_HOG = (  # five children forked through ctypes (os.fork's refusal does not see them) and memfd pages
    "import ctypes, os, mmap, time\n"
    "libc = ctypes.CDLL(None)\n"
    "for _ in range(5):\n"
    "    if libc.fork() == 0:\n"
    "        try:\n"
    "            block = bytearray(300 * 2**20)\n"
    "            for i in range(0, len(block), 4096):\n"
    "                block[i] = 1\n"
    "            time.sleep(8)\n"
    "        finally:\n"
    "            os._exit(0)\n"
    "fd = os.memfd_create('hog')\n"
    "os.ftruncate(fd, 250 * 2**20)\n"
    "m = mmap.mmap(fd, 250 * 2**20)\n"
    "for i in range(0, 250 * 2**20, 4096):\n"
    "    m[i] = 1\n"
    "time.sleep(8)\n"
)
CPU_HOG = (  # 64 threads that burn CPU with the GIL released (zlib), for as long as the jail lives
    "import threading, zlib, os\n"
    "data = os.urandom(1 << 20)\n"
    "def burn():\n"
    "    while True:\n"
    "        zlib.compress(data, 9)\n"
    "for _ in range(64):\n"
    "    threading.Thread(target=burn, daemon=True).start()\n"
    "import time\n"
    "time.sleep(25)\n"
)


@pytest.mark.slow  # a class graded with two jails that try to take the machine
def test_memory_and_cpu_attacks_stop_at_the_jail_limit_and_classmates_keep_their_grades(tmp_path):
    from autograder import cgroups

    assert cgroups.probe() is None, f"this machine offers control groups: {cgroups.probe()}"
    release_nb = _release(tmp_path)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs, out = tmp_path / "subs", tmp_path / "out"
    for name in ("honest_a", "honest_b"):
        _with_answer(release_nb, source_nb, subs / name / f"{AID}.ipynb", "square", CORRECT)
    for name, code in (("memory_hog", MEMORY_HOG), ("cpu_hog", CPU_HOG)):
        nb = nbformat.read(release_nb, as_version=4)
        _answer("square", CORRECT)(nb.cells)
        _answer("mean_of", "def mean_of(x):\n    return float(np.mean(x))")(nb.cells)
        _answer("answer_demo", 'answer_demo = "b"')(nb.cells)
        nb.cells.insert(2, new_code_cell(code))
        _write(nb, subs / name / f"{AID}.ipynb")
    cmd = [
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
        "20",
        "--timeout",
        "120",
        "--memory-mb",
        "512",
        "--jobs",
        "2",
    ]
    grader = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = grader.communicate(timeout=600)
    proc = subprocess.CompletedProcess(cmd, grader.returncode, stdout, stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    totals = {r["student_id"]: r for r in read_csv(out / "totals.csv")}
    assert float(totals["honest_a"]["points"]) == float(totals["honest_b"]["points"]) == 4
    # the hogs' answers are right: the honest grade, whatever their hostile cell cost them
    assert float(totals["memory_hog"]["points"]) == 4 and float(totals["cpu_hog"]["points"]) == 4
    # five children of 300 MiB each fit a per-process limit of 512 MiB (1.5 GB and more): the jail's control
    # group holds all of them and the memfd pages to 512 MiB, and the kernel's own count says so
    peak = _state(out, "memory_hog")["memory_peak_mb"]
    assert peak is not None and 400 < peak <= 512 + 300, peak  # 512 + the engine's resident pages + 64 MiB
    # the honest classmates' cells stayed far inside their limit while the CPU hog ran beside them
    for name in ("honest_a", "honest_b"):
        seconds = [v for v in _state(out, name)["seconds"].values() if isinstance(v, (int, float))]
        assert max(seconds) < 5, seconds
    assert not list(Path("/sys/fs/cgroup").glob(f"**/autograder-{grader.pid}-*"))  # every group removed


# ----------------------------------------------------------------------------
# the solution's timing, and uids across batches
# ----------------------------------------------------------------------------


def _class_of(tmp: Path, extra_cell: str | None, names=("one", "two", "three")) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    release_nb = _release(tmp)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs = tmp / "subs"
    for name in names:
        _with_answer(release_nb, source_nb, subs / name / f"{AID}.ipynb", "square", CORRECT)
        if extra_cell:
            nb = nbformat.read(subs / name / f"{AID}.ipynb", as_version=4)
            nb.cells.insert(2, new_code_cell(extra_cell))
            nbformat.write(nb, subs / name / f"{AID}.ipynb")
    return subs


def test_a_forged_solution_timing_in_out_is_not_trusted(tmp_path):
    """OUT/.work/solution-timing.json is signed with the batch's key: a file written by anyone else (here:
    the solution's slowest cell took 100 s, for a 120 s limit) is ignored and the solution is timed again."""
    subs, out = _class_of(tmp_path, None, names=("one",)), tmp_path / "out"
    cmd = [
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
        "--jobs",
        "2",
    ]
    first = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "per-cell time limit: 10 s" in first.stdout + first.stderr
    timing = out / ".work" / "solution-timing.json"
    forged = json.loads(timing.read_text())
    forged["seconds"] = {label: 100.0 for label in forged["seconds"]}
    timing.write_text(json.dumps(forged))
    second = subprocess.run([*cmd, "--regrade"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    said = second.stdout + second.stderr
    assert "per-cell time limit: 10 s (derived" in said, said  # measured again, not 120 s from the forged file
    assert _state(out, "one")["limits"]["cell_timeout"] == 10.0


def test_two_batches_at_once_never_share_a_jail_uid(tmp_path):
    """Each running jail leases a uid no other jail on the host holds (two grading runs at once here)."""
    record = "import os, time\ntime.sleep(2)\nraise RuntimeError(f'UID {os.getuid()}')"
    runs = []
    for batch in ("a", "b"):
        subs = _class_of(tmp_path / batch, record)
        out = tmp_path / batch / "out"
        cmd = [
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
            "--jobs",
            "2",
            "--cell-timeout",
            "20",
        ]
        runs.append(
            (subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out)
        )
    uids = []
    for proc, out in runs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        found = set()
        for student in ("one", "two", "three"):
            notes = " ".join(_state(out, student)["notes"])
            assert "UID " in notes, notes
            found.add(int(notes.split("UID ", 1)[1].split()[0].rstrip(".")))
        assert len(found) == 3, found  # three jails of one batch, three uids
        uids.append(found)
    assert not uids[0] & uids[1], uids
    assert all(1_900_000 <= u < 1_960_000 for u in uids[0] | uids[1])


def test_the_graders_own_words_are_never_cut_out(graded):
    """A name the student never defined is reported in the trusted side's words, even after hidden inputs:
    nothing of it is cut out as if the student's process had written it."""
    state = _state(graded["out"], "no_last_answer")
    cell = next(c for c in state["cells"] if c["grade_id"] == "test_answer_demo")
    assert cell["message"] == "NameError: name 'answer_demo' is not defined", cell
    assert state["points"] == 3
