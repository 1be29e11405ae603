"""The grading jail against submissions written to cheat (spec section 7, threat model).

Every attacker below hands in the release's stubs (honest grade: 0 points, every test `error`)
plus one cell that tries one attack: reading what the grader keeps on disk, writing outside its
folder by calls the audit hook never sees, signalling or flooding the grader, filling the disk,
reaching the network, forging its resume record, crashing the parent with a forged report or a
compiler bomb, or injecting a spreadsheet formula into grades.csv. A leak would show: each read
attack raises an exception carrying what it read, and exceptions reach the attacker's feedback.

For each attacker the tests check that it gets the honest grade, that the honest classmates' grades
and files do not change, that nothing of theirs (nor of source/) reaches the attacker's feedback,
that the batch completes, and that no process of any jail remains.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.sandbox import FIRST_UID, probe
from autograder.tests.test_grading import AID, ENV, FIXTURES, ROOT, _release, _with_answer, read_csv

VICTIM_TOKEN = "victim-secret-7f3a"  # in the honest classmate's notebook only
SOLUTION_LINE = "np.asarray(x, dtype=float) ** 2"  # in source/ only: never in any submission
LIMITS = ["--cell-timeout", "10", "--timeout", "90", "--memory-mb", "1024", "--jobs", "2"]


def _attacks(paths: dict) -> dict:
    """attacker -> the code of its hostile cell. `paths` are the host paths an attacker would guess."""
    subs, out, src, canary = paths["subs"], paths["out"], paths["source"], paths["canary"]
    leak = "def leak(found):\n    if found:\n        raise RuntimeError('LEAKED ' + repr(found)[:3000])\n"
    return {
        # reading
        "read_files": leak
        + (
            "import os\nfound = {}\n"
            f"for top in ({subs!r}, {out!r}, {src!r}, {str(ROOT)!r}):\n"
            "    for d, _, files in os.walk(top):\n"
            "        for f in files:\n"
            "            try:\n"
            "                found[os.path.join(d, f)] = open(os.path.join(d, f), errors='replace').read(400)\n"
            "            except Exception:\n"
            "                pass\n"
            "leak(found)"
        ),
        "read_proc": leak
        + (
            "import os\nfound = {}\n"
            "for p in os.listdir('/proc'):\n"
            "    if p.isdigit() and p != str(os.getpid()):\n"
            "        for what in ('cmdline', 'environ', 'cwd'):\n"
            "            try:\n"
            "                found[p + what] = (os.readlink if what == 'cwd' else "
            "lambda q: open(q, 'rb').read(300))(f'/proc/{p}/{what}')\n"
            "            except Exception:\n"
            "                pass\n"
            "leak(found)"
        ),
        "inherited_fds": (
            "import os\nfound = {}\n"
            "for fd in os.listdir('/proc/self/fd'):\n"
            "    try:\n"
            "        found[fd] = os.readlink(f'/proc/self/fd/{fd}')\n"
            "    except OSError:\n"
            "        pass\n"
            "raise RuntimeError('FDS ' + repr(found))"
        ),
        "symlink_escape": leak
        + (
            "import os\nfound = {}\n"
            f"os.symlink({src!r}, 'src-link')\n"
            "for d, _, files in os.walk('src-link', followlinks=True):\n"
            "    for f in files:\n"
            "        found[f] = open(os.path.join(d, f)).read(400)\n"
            "leak(found)"
        ),
        # writing, by calls the audit hook does not see
        "write_dir_fd": (
            "import os\n"
            f"fd = os.open({str(Path(canary).parent)!r}, os.O_RDONLY)\n"
            f"w = os.open({Path(canary).name!r}, os.O_WRONLY | os.O_CREAT, dir_fd=fd)\n"
            "os.write(w, b'escaped')"
        ),
        "write_ctypes": (
            "import ctypes\nlibc = ctypes.CDLL(None)\n"
            f"fd = libc.open({canary.encode()!r}, 0o101, 0o644)\n"
            "libc.write(fd, b'escaped', 7)\n"
            f"fd = libc.open({(out + '/totals.csv').encode()!r}, 0o1001, 0o644)\n"
            "libc.write(fd, b'x', 1)"
        ),
        "write_sqlite": (
            "import sqlite3\n"
            f"db = sqlite3.connect({out + '/gradebook.db'!r})\n"
            "db.execute('create table pwn(x)')\ndb.commit()"
        ),
        "lingering_child": (
            "import _posixsubprocess, os, sys\n"
            "code = ('import time, pathlib; time.sleep(4); '\n"
            f"        'pathlib.Path({out + '/totals.csv'!r}).write_text(\"student_id\\\\nPWNED\\\\n\")')\n"
            "r, w = os.pipe()\n"
            "_posixsubprocess.fork_exec([sys.executable, '-c', code], [sys.executable.encode()], True, (), None,"
            " None, -1, -1, -1, -1, -1, -1, r, w, True, True, 0, None, None, None, -1, None, False)"
        ),
        "chattr_out": (
            "import fcntl, os, struct\n"
            f"fd = os.open({out!r}, os.O_RDONLY)\n"
            "fcntl.ioctl(fd, 0x40086602, struct.pack('i', 0x10))"
        ),
        # signalling the grader and the classmates
        "signal_all": (
            "import ctypes, signal\nlibc = ctypes.CDLL(None)\n"
            "for pid in range(1, 5000):\n"
            "    libc.kill(pid, signal.SIGKILL)\n"
            "libc.kill(-1, signal.SIGKILL)"
        ),
        # process flood
        "fork_flood": (
            "import ctypes, time\nlibc = ctypes.CDLL(None)\n"
            "for _ in range(150):\n"
            "    if libc.fork() == 0:\n"
            "        time.sleep(600)\n"
            "        libc._exit(0)"
        ),
        # disk
        "fill_disk": ("with open('big.bin', 'wb') as fh:\n    for _ in range(4096):\n        fh.write(b'x' * 2**20)"),
        # network
        "network": leak + "import socket\nleak({'dns': socket.getaddrinfo('pypi.org', 443)})",
        # crashing the parent
        "forged_status": (
            "import os, sys, json\n"
            "f = sys._getframe()\n"
            "while f is not None and 'secret' not in f.f_locals:\n"
            "    f = f.f_back\n"
            "secret = f.f_locals['secret'] if f is not None else 'x'\n"
            "for fd in range(3, 40):\n"
            "    try:\n"
            "        os.write(fd, ('\\n' + secret + ' ' + json.dumps({'t': 'end', 'i': 0, 'r': {'status': 'pwned',"
            " 'seconds': 'x'}}) + '\\n' + secret + ' {\"t\": \"end\", \"i\": 10**9}\\n').encode())\n"
            "    except OSError:\n"
            "        pass"
        ),
        "report_flood": (
            "import os\nblock = b'y' * 2**20\n"
            "for fd in range(3, 40):\n"
            "    try:\n"
            "        for _ in range(64):\n"
            "            os.write(fd, block)\n"
            "    except OSError:\n"
            "        pass"
        ),
        "compile_bomb": "x = " + "(" * 190 + "1" + ")" * 190 + "\ny = " + "-" * 200000 + "1",
        # output injection
        "formula": (
            "class E(Exception):\n    pass\n"
            'E.__qualname__ = E.__name__ = \'=HYPERLINK("http://evil.example","click")\'\n'
            "def square(x):\n    raise E('+cmd|calc')\n"
        ),
    }


def make_corpus(tmp: Path) -> dict:
    """The class of attackers (and two honest classmates) in tmp/submissions; OUT is to be tmp/out."""
    release_nb = _release(tmp)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs, out = tmp / "submissions", tmp / "out"
    canary = tmp / "canary.txt"
    paths = {"subs": str(subs), "out": str(out), "source": str(FIXTURES / "source"), "canary": str(canary)}
    # honest students: one correct (with a token only it has), one left as released
    _with_answer(
        release_nb,
        source_nb,
        subs / "victim" / f"{AID}.ipynb",
        "square",
        f"def square(x):\n    # {VICTIM_TOKEN}\n    return np.asarray(x, dtype=float) ** 2",
    )
    (subs / "honest_stub").mkdir(parents=True)
    nbformat.write(nbformat.read(release_nb, as_version=4), subs / "honest_stub" / f"{AID}.ipynb")
    attacks = _attacks(paths)
    for name, code in attacks.items():
        nb = nbformat.read(release_nb, as_version=4)
        nb.cells.insert(len(nb.cells) // 2, new_code_cell(code))
        (subs / name).mkdir()
        nbformat.write(nb, subs / name / f"{AID}.ipynb")
    (subs / "symlinked").mkdir()
    os.symlink(source_nb, subs / "symlinked" / f"{AID}.ipynb")
    return {"subs": subs, "out": out, "canary": canary, "attacks": attacks}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    if probe() is not None:
        pytest.fail(f"this machine cannot jail submissions: {probe()}")
    tmp = tmp_path_factory.mktemp("sandbox")
    corpus = make_corpus(tmp)
    subs, out, canary, attacks = corpus["subs"], corpus["out"], corpus["canary"], corpus["attacks"]
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
    ]
    start = time.monotonic()
    # the grader inherits a pipe, as it does make's jobserver pipe under `make`: no jail may see it
    inherited = os.pipe()
    try:
        grader = subprocess.Popen(
            cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=inherited
        )
        stdout, stderr = grader.communicate(timeout=900)
        proc = subprocess.CompletedProcess(cmd, grader.returncode, stdout, stderr)
    finally:
        for fd in inherited:
            os.close(fd)
    seconds = time.monotonic() - start
    totals_before = (out / "totals.csv").read_bytes() if (out / "totals.csv").exists() else b""
    time.sleep(5)  # the lingering child of one attacker would rewrite totals.csv after 4 s
    return {
        "proc": proc,
        "grader_pid": grader.pid,
        "out": out,
        "subs": subs,
        "canary": canary,
        "attacks": attacks,
        "totals_before": totals_before,
        "seconds": seconds,
        "tmp": tmp,
    }


def _jail_processes(grader_pid: int | None = None) -> list:
    """Processes with a jail's uid; with `grader_pid` (where control groups are made), only those in that
    grader's jail groups: other tests may be grading beside this one."""
    from autograder import cgroups

    mine = f"autograder-{grader_pid}-" if grader_pid is not None and cgroups.probe() is None else None
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                uid = int((p / "status").read_text().split("\nUid:")[1].split()[0])
                groups = (p / "cgroup").read_text() if mine else ""
            except (OSError, IndexError, ValueError):
                continue
            if FIRST_UID <= uid < FIRST_UID + 65536 and (mine is None or mine in groups):
                found.append((p.name, uid))
    return found


def test_the_batch_completes(attacked):
    assert attacked["proc"].returncode == 0, attacked["proc"].stdout + attacked["proc"].stderr
    assert "each in its own jail" in attacked["proc"].stdout


def test_every_attacker_gets_the_honest_grade(attacked):
    rows = read_csv(attacked["out"] / "grades.csv")
    by = {}
    for r in rows:
        by.setdefault(r["student_id"], {})[r["grade_id"]] = (float(r["points"]), r["status"])
    honest = by["honest_stub"]
    assert all(p == 0 for p, _ in honest.values())
    wrong = {name: by[name] for name in attacked["attacks"] if by[name] != honest and name != "formula"}
    assert not wrong, wrong
    # the formula attacker replaced square with a function that raises: still 0 for that test
    assert all(p == 0 for p, _ in by["formula"].values())
    totals = {r["student_id"]: (float(r["points"]), r["status"]) for r in read_csv(attacked["out"] / "totals.csv")}
    assert totals["victim"] == (4.0, "passed")
    assert totals["symlinked"] == (0.0, "invalid")


def test_symlinked_submission_is_refused_with_a_clear_status(attacked):
    rows = [r for r in read_csv(attacked["out"] / "grades.csv") if r["student_id"] == "symlinked"]
    assert rows and all("symbolic link" in r["message"] for r in rows)


def test_nothing_of_anyone_else_reaches_an_attacker(attacked):
    out = attacked["out"]
    for name in attacked["attacks"]:
        texts = [
            (out / "feedback" / name / f"{AID}.html").read_text(encoding="utf-8"),
            (out / ".state" / f"{name}.json").read_text(encoding="utf-8"),
        ]
        for text in texts:
            assert VICTIM_TOKEN not in text, name
            assert SOLUTION_LINE not in text, name
            # what a read attack found: the course's public `utils` may be read, and /proc shows the
            # jail's own PID 1 (a copy of the grader's process, whose command line the submission
            # already has in sys.argv); no file of anyone, no other process
            for leaked in re.findall(r"LEAKED (.*?)(?:</li>|$)", text, flags=re.S | re.M):
                files = re.findall(r"&#x27;(/[^&]*?)&#x27;: ", leaked)
                assert all(f.startswith(str(ROOT / "utils")) for f in files), (name, files)
                pids = set(re.findall(r"&#x27;(\d+)(?:cmdline|environ|cwd)&#x27;", leaked))
                assert pids <= {"1"}, (name, pids)


def test_nothing_outside_changed(attacked):
    out = attacked["out"]
    assert not attacked["canary"].exists(), "an attacker wrote outside its jail"
    assert (out / "totals.csv").read_bytes() == attacked["totals_before"], "totals.csv changed after the batch"
    assert b"PWNED" not in attacked["totals_before"]
    import sqlite3

    with sqlite3.connect(out / "gradebook.db") as db:
        tables = {t for (t,) in db.execute("select name from sqlite_master where type='table'")}
    assert "pwn" not in tables
    probe_file = out / "writable-check"
    probe_file.write_text("ok")  # not made immutable
    probe_file.unlink()


def test_no_process_of_any_jail_remains(attacked):
    deadline = time.monotonic() + 10
    while _jail_processes(attacked["grader_pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _jail_processes(attacked["grader_pid"])
    assert not list(Path("/sys/fs/cgroup").glob(f"**/autograder-{attacked['grader_pid']}-*"))


def test_attacks_are_explained_to_the_attacker(attacked):
    state = {p.stem: json.loads(p.read_text()) for p in (attacked["out"] / ".state").glob("*.json")}
    notes = {s: " ".join(d["notes"]) for s, d in state.items()}
    assert "No space left on device" in notes["fill_disk"] or "File too large" in notes["fill_disk"]
    assert "name resolution" in notes["network"] or "Name or service" in notes["network"]
    assert "Read-only file system" in notes["write_dir_fd"] or "No such file" in notes["write_dir_fd"]


def test_a_submission_inherits_no_descriptor_of_the_grader(attacked):
    state = json.loads((attacked["out"] / ".state" / "inherited_fds.json").read_text())
    text = next(n for n in state["notes"] if "FDS" in n)
    targets = re.findall(r"'\d+': '([^']*)'", text)
    assert targets, text
    # stdin/out/err on /dev/null, the channel to the trusted process, the directory being listed: nothing
    # else (not even the report pipe: only the trusted process reports to the grader)
    assert sum(t.startswith("socket:") for t in targets) == 1, text
    assert all(t == "/dev/null" or t.startswith(("socket:", "/proc/")) for t in targets), text


def test_csv_cells_cannot_start_a_formula(attacked):
    for name in ("grades.csv", "totals.csv"):
        with open(attacked["out"] / name, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (name, cell[:80])
    rows = [r for r in read_csv(attacked["out"] / "grades.csv") if r["student_id"] == "formula"]
    assert any("HYPERLINK" in r["message"] for r in rows)  # kept as text, neutralised


def test_a_forged_resume_record_is_graded_again(attacked, tmp_path):
    out = attacked["out"]
    record = out / ".state" / "honest_stub.json"
    data = json.loads(record.read_text())
    data["points"] = data["max_points"]
    for c in data["cells"]:
        c["points"], c["status"] = c["max_points"], "passed"
    record.write_text(json.dumps(data))
    (out / ".state" / "mallory.json").write_text(json.dumps({**data, "student_id": "mallory"}))
    subs = tmp_path / "subs"
    (subs / "honest_stub").mkdir(parents=True)
    (subs / "honest_stub" / f"{AID}.ipynb").write_bytes(
        (attacked["subs"] / "honest_stub" / f"{AID}.ipynb").read_bytes()
    )
    proc = subprocess.run(
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
            *LIMITS,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "graded 1 submission(s)" in proc.stdout
    totals = {r["student_id"]: float(r["points"]) for r in read_csv(out / "totals.csv")}
    assert totals == {"honest_stub": 0.0}
