"""`grade --cluster`: the example class and the hostile corpus graded on Dask workers (issue 17).

Every test uses a real scheduler and real worker processes: `--cluster local:2` starts a LocalCluster, and the
other tests start `dask scheduler` and `dask worker --nworkers 2` as commands, the way a cluster's own scripts
do, then point `--cluster` at the scheduler file. What they show:

- the example class graded on the cluster gives the same grades.csv, byte for byte, as `--jobs 2`;
- a worker killed mid-batch (SIGKILL): its submissions are graded elsewhere, with the same results;
- the client killed mid-batch and started again: it resumes, grading no one twice, with the same results;
- the hostile corpus of the sandbox tests gets the same grades on the cluster as locally;
- a cluster with no worker stops the run after --cluster-wait, keeping what was graded; a bad address is a
  clear error.

The local `--jobs 2` reference is graded once per test run and shared by the xdist workers (under a file lock).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.examples import build_class
from autograder.tests.test_grading import AID, ENV, FIXTURES, ROOT, _release, _with_answer, read_csv, run_grade

DASK = Path(sys.executable).parent / "dask"
CLUSTER_ENV = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}  # the installed packages: no PYTHONPATH


def _shared_dir(tmp_path_factory, name: str) -> tuple[Path, bool]:
    """A folder that every xdist worker of this run sees (and whether this worker must fill it)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent / f"cluster-{run}-{name}") if run else (base / f"cluster-{name}")
    return folder, not (folder / "done").exists()


def _once(tmp_path_factory, name: str, build) -> Path:
    """build(folder) once per test run, whichever worker asks first; the others wait and reuse it."""
    folder, _ = _shared_dir(tmp_path_factory, name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / "done").write_text("ok")
    return folder


def _build_class(folder: Path) -> None:
    release_nb = _release(folder)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs = folder / "submissions"
    build_class(source_nb, release_nb, subs, escape_path=folder / "escaped.txt")
    _with_answer(
        release_nb,
        source_nb,
        subs / "doubled" / f"{AID}.ipynb",
        "square",
        "def square(x):\n    return [2.0 * v for v in x]",
    )
    _with_answer(
        release_nb,
        source_nb,
        subs / "hardcoded" / f"{AID}.ipynb",
        "square",
        "def square(x):\n    return [1.0, 4.0, 9.0]",
    )
    run_grade(subs, folder / "local", "--jobs", "2")


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """The example class, and its grades from a local `--jobs 2` run."""
    folder = _once(tmp_path_factory, "class", _build_class)
    return {"subs": folder / "submissions", "local": folder / "local", "escape": folder / "escaped.txt"}


class Scheduler:
    """`dask scheduler` and `dask worker --nworkers N`, started as commands in the course folder."""

    def __init__(self, folder: Path, workers: int = 2):
        self.file = folder / "scheduler.json"
        self.procs = []
        self._start(["scheduler", "--scheduler-file", str(self.file), "--no-dashboard", "--port", "0"])
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.file.exists(), "the Dask scheduler did not start"
        if workers:
            self._start(
                [
                    "worker",
                    "--scheduler-file",
                    str(self.file),
                    "--nworkers",
                    str(workers),
                    "--nthreads",
                    "2",
                    "--no-dashboard",
                    "--memory-limit",
                    "0",
                ]
            )
        from distributed import Client

        self.client = Client(scheduler_file=str(self.file), timeout=60)
        if workers:
            self.client.wait_for_workers(workers, timeout=120)

    def _start(self, args: list) -> None:
        self.procs.append(
            subprocess.Popen(
                [str(DASK), *args],
                cwd=ROOT,
                env=CLUSTER_ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def worker_pids(self) -> dict:
        return self.client.run(os.getpid)

    def close(self) -> None:
        self.client.close()
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()


@pytest.fixture
def scheduler(tmp_path):
    cluster = Scheduler(tmp_path)
    yield cluster
    cluster.close()


def _grade_cmd(subs: Path, out: Path, *extra: str) -> list:
    from autograder.tests.test_grading import LIMITS

    return [
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
        *extra,
    ]


def _wait_for_states(out: Path, count: int, proc, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = len(list((out / ".state").glob("*.json"))) if (out / ".state").is_dir() else 0
        if found >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"the batch saved fewer than {count} results in time (exit status {proc.poll()})")


def test_local_cluster_grades_byte_for_byte_like_jobs_2(klass, tmp_path):
    out = tmp_path / "out"
    proc = run_grade(klass["subs"], out, "--cluster", "local:2")
    assert proc.stderr.count("Traceback") == 0, proc.stderr
    assert (out / "grades.csv").read_bytes() == (klass["local"] / "grades.csv").read_bytes()
    assert (out / "totals.csv").read_bytes() == (klass["local"] / "totals.csv").read_bytes()
    # the same feedback files, and nothing escaped a jail on a worker
    feedback = sorted(p.relative_to(out).as_posix() for p in (out / "feedback").rglob("*"))
    assert feedback == sorted(
        p.relative_to(klass["local"]).as_posix() for p in (klass["local"] / "feedback").rglob("*")
    )
    assert not klass["escape"].exists()
    time.sleep(1)
    left = subprocess.run(["pgrep", "-f", "autograder.cluster"], capture_output=True, text=True).stdout.split()
    assert not left, f"grading servers outlived the LocalCluster: {left}"


def test_a_worker_killed_mid_batch_changes_nothing(klass, scheduler, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _grade_cmd(klass["subs"], out, "--cluster", str(scheduler.file)),
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _wait_for_states(out, 4, proc)
    victim, pid = sorted(scheduler.worker_pids().items())[0]
    os.kill(pid, signal.SIGKILL)  # its nanny starts a new worker; its tasks go to the other one meanwhile
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stdout + stderr
    assert (out / "grades.csv").read_bytes() == (klass["local"] / "grades.csv").read_bytes()
    assert (out / "totals.csv").read_bytes() == (klass["local"] / "totals.csv").read_bytes()
    assert victim not in scheduler.worker_pids(), "the killed worker is still listed"


def test_the_client_killed_mid_batch_resumes_with_the_same_results(klass, scheduler, tmp_path):
    out = tmp_path / "out"
    cmd = _grade_cmd(klass["subs"], out, "--cluster", str(scheduler.file))
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    _wait_for_states(out, 5, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    state = out / ".state"
    before = {p.name: p.read_bytes() for p in state.glob("*.json")}
    total = len(list(klass["subs"].iterdir()))
    assert 5 <= len(before) < total, "the kill came too late to test resuming"
    again = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(before)} already done" in again.stdout
    after = {p.name: p.read_bytes() for p in state.glob("*.json")}
    assert all(after[name] == data for name, data in before.items()), "a result saved before the kill changed"
    assert (out / "grades.csv").read_bytes() == (klass["local"] / "grades.csv").read_bytes()


def test_the_hostile_corpus_gets_the_same_grades_on_the_cluster(tmp_path):
    from autograder.tests.test_sandbox import LIMITS as SANDBOX_LIMITS
    from autograder.tests.test_sandbox import make_corpus

    corpus = make_corpus(tmp_path)
    out = corpus["out"]
    base = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        AID,
        str(corpus["subs"]),
        "--out",
        str(out),
        "--course-root",
        str(FIXTURES),
        *SANDBOX_LIMITS,
    ]
    local = subprocess.run(base, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    time.sleep(5)  # the lingering child of one attacker would rewrite totals.csv after 4 s
    local_grades = (out / "grades.csv").read_bytes()
    shutil.rmtree(out)  # the same OUT path: the attackers' code names it
    on_cluster = subprocess.run(
        base + ["--cluster", "local:2"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900
    )
    time.sleep(5)
    assert local.returncode == on_cluster.returncode == 0, on_cluster.stdout + on_cluster.stderr
    assert (out / "grades.csv").read_bytes() == local_grades
    assert not corpus["canary"].exists(), "an attacker wrote outside its jail on a worker"
    rows = {r["student_id"]: r for r in read_csv(out / "totals.csv")}
    assert rows["victim"]["status"] == "passed" and rows["honest_stub"]["points"] == "0"


def test_a_cluster_without_workers_stops_and_keeps_nothing_half_done(klass, tmp_path):
    empty = Scheduler(tmp_path, workers=0)
    try:
        out = tmp_path / "out"
        proc = subprocess.run(
            _grade_cmd(klass["subs"], out, "--cluster", str(empty.file), "--cluster-wait", "3"),
            cwd=ROOT,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        empty.close()
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "no worker for 3 s" in proc.stderr and "run the same command again" in proc.stderr
    assert not list((out / ".state").glob("*.json"))


@pytest.mark.parametrize(
    "address, words",
    [
        ("local:0", "number of worker processes"),
        ("nowhere.json", "neither a scheduler address"),
        ("tcp://127.0.0.1:9", "could not reach the Dask scheduler"),
    ],
)
def test_a_bad_cluster_address_is_a_clear_error(klass, tmp_path, address, words):
    proc = subprocess.run(
        _grade_cmd(klass["subs"], tmp_path / "out", "--cluster", address),
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_a_worker_with_other_course_code_refuses_to_grade():
    """The grading server (what GraderPlugin starts on a worker) compares the course code's digest with the
    client's and refuses, in words, when they differ: a worker on another checkout never grades."""
    import socket
    from multiprocessing.connection import Connection

    from autograder import cluster

    ours, theirs = socket.socketpair()
    server = subprocess.Popen(
        [sys.executable, "-m", "autograder.cluster", str(theirs.fileno())],
        pass_fds=[theirs.fileno()],
        cwd=ROOT,
        env=CLUSTER_ENV,
    )
    theirs.close()
    conn = Connection(ours.detach())
    conn.send({"frameworks": [], "jail": None, "code": "0" * 16, "jobs": 1, "threads": 1})
    kind, message = conn.recv()
    assert server.wait(timeout=60) == 1
    assert kind == "error" and "other course code" in message and cluster.code_digest() in message


def test_a_client_made_by_the_caller_grades_too(klass, scheduler, tmp_path):
    """The hub and Python recipes: dask-gateway, dask-jobqueue and dask-kubernetes hand out a Client, and
    grade(..., cluster=client) uses it (and leaves it open: it is the caller's)."""
    subset = ["correct", "doubled", "infinite_loop"]
    subs = tmp_path / "subs"
    for student in subset:
        shutil.copytree(klass["subs"] / student, subs / student)
    out = tmp_path / "out"
    script = (
        "from pathlib import Path\n"
        "from distributed import Client\n"
        "from autograder.grade import grade\n"
        "if __name__ == '__main__':\n"
        f"    client = Client(scheduler_file={str(scheduler.file)!r})\n"
        f"    grade({AID!r}, Path({str(subs)!r}), Path({str(out)!r}), cluster=client, "
        f"course_root=Path({str(FIXTURES)!r}),\n"
        "          cell_timeout=8, timeout=60, memory_mb=1024, progress=False)\n"
        "    assert client.status == 'running', client.status\n"
        "    client.close()\n"
    )
    (tmp_path / "hub.py").write_text(script)
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "hub.py")],
        cwd=ROOT,
        env=CLUSTER_ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    local = [r for r in read_csv(klass["local"] / "grades.csv") if r["student_id"] in subset]
    assert read_csv(out / "grades.csv") == local
