"""`python -m autograder grade ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR [--jobs N] [--timeout S]`.

1. nbgrader's generate_assignment fills a gradebook from source/<ASSIGNMENT>
   (assignment.prepare);
2. every submission is read and repaired with nbgrader's sanitising
   preprocessors (assignment.sanitise) -- a file that cannot be graded gets a
   status at once;
3. the rest run in forked children of one warm engine (pool.run_jobs);
4. each student's result is written atomically to OUT_DIR/.state/<student>.json
   as soon as it is known, so a killed batch resumes where it stopped;
5. grades.csv, totals.csv, feedback/, report.html and gradebook.db are rebuilt
   from the state files (report.write_outputs).

Points are nbgrader's: `nbgrader.utils.determine_grade` on the test cell with
its outcome as the cell's output, except that a warning on stderr does not
cost a correct answer its points.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import ROOT, die_with_parent, messages, skip_slow_optional_imports
from .assignment import (
    Assignment,
    SymlinkSubmission,
    detect_frameworks,
    in_hidden_block,
    marked,
    not_plain_file,
    prepare,
    source_fingerprint,
    source_notebook,
)
from .batch import SOLUTION, UNSAFE_FLAG, Incomplete, Interrupted, JailUnavailable, read_plan
from .limits import (
    CELL_TIMEOUT_CAP_S,
    DISK_MB,
    MEMORY_MB,
    NOTEBOOK_TIMEOUT_S,
    SOLUTION_STOPPED_S,
    derived_cell_timeout,
)

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
STATE_VERSION = 2
SEVERITY = ["passed", "failed", "missing", "error", "timeout", "tampered", "invalid"]


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ----------------------------------------------------------------------------
# finding submissions
# ----------------------------------------------------------------------------


LMS_NAME = re.compile(r"^(?P<who>.+?)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")


def lms_student_id(filename: str) -> str | None:
    """`Ada Lovelace_1234_assignsubmission_file_01_hidden_state.ipynb` (Moodle's download of an
    assignment) -> `Ada_Lovelace_1234`; None for any other name."""
    m = LMS_NAME.match(filename)
    if not m:
        return None
    sid = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", m.group("who")).strip("_.")
    return sid if STUDENT_ID.match(sid or "") else None


def find_submissions(folder: Path, assignment_id: str, notes: dict | None = None) -> tuple[dict, list]:
    """student id -> notebook path (None when the student has no notebook for this assignment).

    Accepted layouts: <student>/<id>.ipynb, <student>.ipynb, nbgrader's
    submitted/<student>/<id>/<id>.ipynb (with or without the submitted/ level), and an LMS's
    download (`<name>_<number>_assignsubmission_file_<file>.ipynb`, the student id is `<name>_<number>`).
    A student folder whose only notebook has another name (`<id>-Copy1.ipynb`) is graded, and
    `notes[student]` says so. A student folder that holds only other assignments' folders is not
    part of this assignment's class. Returns (found, warnings).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR {str(folder)!r} is not a directory")
    submitted = folder / "submitted"
    base = submitted if submitted.is_dir() and not submitted.is_symlink() else folder
    found: dict = {}
    warnings = []
    notes = {} if notes is None else notes
    name = f"{assignment_id}.ipynb"
    other_assignments = 0
    for entry in sorted(base.iterdir()):
        if entry.name.startswith("."):
            continue
        sid = entry.name if entry.is_dir() else entry.stem
        if entry.suffix == ".ipynb" and not entry.is_dir() and (lms_id := lms_student_id(entry.name)):
            sid = lms_id
            notes[sid] = f"the file {entry.name!r} was graded as student {sid!r}'s {name}"
        if entry.is_dir() or entry.suffix == ".ipynb":
            if not STUDENT_ID.match(sid):
                warnings.append(f"skipped {entry.name!r}: not a valid student id (letters, digits, _.@+-)")
                continue
        if entry.is_symlink():
            if entry.suffix == ".ipynb" or entry.is_dir():
                found[sid] = SymlinkSubmission(entry)
            continue
        if entry.is_dir() and (entry / assignment_id).is_symlink():  # nothing behind the link is listed
            found[sid] = marked(
                entry / assignment_id / name,
                not_plain_file(folder, entry / assignment_id / name) or SymlinkSubmission.why,
            )
            continue
        if entry.is_dir():
            for candidate in (entry / assignment_id / name, entry / name):
                if candidate.is_symlink():
                    found[sid] = SymlinkSubmission(candidate)
                    break
                if candidate.is_file():
                    found[sid] = candidate
                    break
            else:
                inner = entry / assignment_id if (entry / assignment_id).is_dir() else entry
                others = sorted(p for p in inner.glob("*.ipynb") if not p.name.startswith("."))
                if len(others) == 1 and not others[0].is_symlink():
                    found[sid] = others[0]
                    notes[sid] = (
                        f"no {name} was found; the folder's only notebook, {others[0].name!r}, was graded in its place"
                    )
                    warnings.append(f"{sid}: graded {others[0].name!r} as {name} (the only notebook there)")
                elif others:
                    found[sid] = None
                    notes[sid] = (
                        f"no {name} was found, and the folder has several other notebooks "
                        f"({', '.join(p.name for p in others[:5])}): none was graded"
                    )
                    warnings.append(f"{sid}: no {name}, and several other notebooks: graded as missing")
                elif inner is entry and any(p.is_dir() and not p.name.startswith(".") for p in entry.iterdir()):
                    other_assignments += 1  # nbgrader's submitted/<student>/<another assignment>/
                else:
                    found[sid] = None
        elif entry.suffix == ".ipynb" and sid not in found:
            found[sid] = entry
    for sid, path in found.items():  # a link at any depth below SUBMISSIONS, or not a regular file
        if path is not None and not isinstance(path, SymlinkSubmission):
            why = not_plain_file(folder, path)
            if why is not None:
                found[sid] = marked(path, why)
    if other_assignments:
        warnings.append(f"{other_assignments} student folder(s) hold only other assignments: not part of this batch")
    if not found:
        warnings.append(
            f"no submission of {assignment_id} was found in {base}. The layouts accepted are "
            f"<student>/{name}, <student>.ipynb, nbgrader's submitted/<student>/{assignment_id}/{name}, and an "
            "LMS download (<name>_<number>_assignsubmission_file_<file>.ipynb)."
        )
    return found, warnings


# ----------------------------------------------------------------------------
# state files
# ----------------------------------------------------------------------------


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def submission_key(path: Path | None, fingerprint: str) -> str:
    h = hashlib.sha256(fingerprint.encode())
    if path is not None and path.is_symlink():
        h.update(b"<symbolic link>")
    elif path is not None and path.is_file():
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    else:
        h.update(b"<no submission>")
    return h.hexdigest()[:24]


def state_key(state_dir: Path) -> bytes:
    """The batch's secret for authenticating resume records (OUT/.state/.key, readable by the grader
    only; no sandbox sees OUT at all). Made on first use."""
    path = state_dir / ".key"
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except OSError:
        pass
    import secrets

    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _mac(key: bytes, data: dict) -> str:
    import hmac

    body = json.dumps({k: v for k, v in data.items() if k != "mac"}, sort_keys=True).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def save_state(state_dir: Path, key: bytes, result: dict) -> None:
    signed = {**result, "mac": _mac(key, result)}
    atomic_write(state_dir / f"{result['student_id']}.json", json.dumps(signed, indent=1, sort_keys=True))


def load_state(state_dir: Path, student: str, key: bytes | None = None) -> dict | None:
    """A student's resume record, or None if there is none, it is of another version, or (with `key`)
    its authentication fails: a forged or edited record is graded again, never trusted."""
    try:
        data = json.loads((state_dir / f"{student}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    if key is not None:
        import hmac

        if not isinstance(data.get("mac"), str) or not hmac.compare_digest(data["mac"], _mac(key, data)):
            return None
    data.pop("mac", None)
    return data


# ----------------------------------------------------------------------------
# from execution results to grades (nbgrader's rule)
# ----------------------------------------------------------------------------


def _test_row(gid, test, assignment: Assignment, plan, job, i, cell_timeout, notebook_timeout) -> dict:
    """One test cell's row of grades.csv: what sanitising decided, or what the job reported for it."""
    row = {"grade_id": gid, "max_points": test.points, "points": 0.0}
    if plan.invalid is not None:
        status, message = plan.status_hint or "invalid", plan.invalid
    elif gid in plan.preset:
        status, message = plan.preset[gid]
    else:
        why = job.killers.get(i) if job else None
        r = job.results.get(i) if job and i is not None else None
        if why is not None:
            status, message = messages.stopped_test(why, cell_timeout, notebook_timeout)
        elif r is None:
            status, message = messages.not_run(job is not None and job.out_of_time, notebook_timeout)
        else:
            status, message = messages.reword(r.get("status", "error"), r.get("message", ""))
            hidden = (
                bool(test.hidden_lines)
                and status in ("failed", "error")
                and (r.get("line") is None or in_hidden_block(test.hidden_lines, r["line"]))
            )
            # a hidden_case's message carries no value: shown as it is; any other hidden failure, in general words
            feedback = messages.HIDDEN_FAILURE if hidden and not r.get("hidden_case") else message
            row.update(status=status, message=message, feedback=feedback, hidden_failure=hidden)
            row["points"] = assignment.points[gid][0 if status == "passed" else 1]
            return row
    row.update(status=status, message=message, feedback=message)
    return row


def _tampered(row: dict, why: str) -> None:
    """The row of a test cell the submission edited: the original test ran; the row says so."""
    outcome = "passed" if row["status"] == "passed" else row["status"]
    note = messages.tampered(why, outcome)
    row["message"] = note + (f": {row['message']}" if row.get("message") else "")
    row["feedback"] = note + (f": {row['feedback']}" if row.get("feedback") and row["status"] != "passed" else "")
    row["status"] = "tampered"


def _job_notes(plan, job, cell_timeout) -> list:
    """What the job's run says about the student's own cells (errors, stops, floods)."""
    notes = []
    for i, cell in enumerate(plan.cells):
        r = job.results.get(i, {})
        if cell["kind"] == "student":
            note = messages.student_cell(cell["label"], job.killers.get(i), r, cell_timeout)
            if note:
                notes.append(note)
        if r.get("truncated"):
            notes.append(messages.truncated(cell["label"], r["output_chars"]))
    if -1 in job.killers:
        notes.append(messages.died_before_any_cell(job.killers[-1].detail))
    return notes


def _total_status(plan, cells: list) -> str:
    statuses = [c["status"] for c in cells]
    if plan.invalid is not None:
        return plan.status_hint or "invalid"
    if "tampered" in statuses or plan.tampered:
        return "tampered"
    if statuses and all(s == "passed" for s in statuses):
        return "passed"
    return max(statuses, key=SEVERITY.index) if statuses else "passed"


def result_from_plan(
    student: str,
    assignment: Assignment,
    plan,
    job=None,
    key: str = "",
    cell_timeout: float = 0,
    notebook_timeout: float = 0,
) -> dict:
    """Combine what sanitising decided and what the child reported into one student's result."""
    index_of = {c["grade_id"]: i for i, c in enumerate(plan.cells) if c["kind"] == "test"}
    cells = []
    for gid, test in assignment.tests.items():
        row = _test_row(gid, test, assignment, plan, job, index_of.get(gid), cell_timeout, notebook_timeout)
        ran = plan.invalid is None and gid not in plan.preset  # the row comes from the job's run
        if ran and gid in plan.tampered and row["status"] != "missing":
            _tampered(row, plan.tampered[gid])
        cells.append(row)
    notes = list(plan.notes)
    notes += [messages.restored(gid, why) for gid, why in plan.tampered.items() if gid not in assignment.tests]
    if job is not None:
        notes += _job_notes(plan, job, cell_timeout)
    results = job.results if job else {}
    return {
        "version": STATE_VERSION,
        "key": key,
        "student_id": student,
        "assignment": assignment.id,
        "notebook": f"{assignment.notebook}.ipynb",
        "status": _total_status(plan, cells),
        "points": sum(c["points"] for c in cells),
        "max_points": sum(c["max_points"] for c in cells),
        "cells": cells,
        "notes": messages.capped_notes(notes),
        "review": list(job.review) if job is not None else [],
        "seconds": {c["label"]: results.get(i, {}).get("seconds") for i, c in enumerate(plan.cells)}
        if job is not None
        else {},
        "memory_peak_mb": round(job.memory_peak / 2**20, 1) if job is not None and job.memory_peak else None,
        "requests": {
            c["label"]: results[i]["requests"] for i, c in enumerate(plan.cells) if "requests" in results.get(i, {})
        }
        if job is not None
        else {},
    }


# ----------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------


def other_assignment_ids(course_root: Path) -> dict:
    """grade ids of every released notebook (to recognise a notebook of another assignment)."""
    import nbformat

    out = {}
    for folder in (course_root / "release", course_root / "source"):
        for path in folder.glob("*/*.ipynb"):
            if path.parent.name in out:
                continue
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception:
                continue
            out[path.parent.name] = [
                c.metadata.get("nbgrader", {}).get("grade_id")
                for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id")
            ]
    return out


def _helper_main(assignment_id, work, course_root, submissions, conn, full: bool = False) -> None:
    """In the helper process: nbgrader's generate_assignment, then every submission sanitised.
    `full` (a cluster's batch): send the assignment with its released cells, and only check each student's
    file: the workers read and sanitise the notebooks, and send their plans back with the results."""
    die_with_parent()  # SIGTERM or SIGKILL on the grader never leaves it waiting on the pipe
    skip_slow_optional_imports()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import dataclasses

        assignment = prepare(assignment_id, work, course_root)
        others = other_assignment_ids(course_root)
        # plain data only (unless `full`): the parent must not need nbformat to read it
        conn.send(("ok", assignment if full else dataclasses.replace(assignment, release_cells=[]), others))
        # one plan at a time, as each is ready: the first submissions are graded while the rest are read
        for student, path in submissions.items():
            if full and student != SOLUTION:
                from .assignment import Plan, check_file

                conn.send(("plan", student, check_file(path, assignment) or Plan(cells=None)))  # type: ignore[arg-type]  # None: a worker reads it
            else:
                conn.send(("plan", student, read_plan(path, assignment, others)))
        conn.send(("plans", None, None))
    except Exception as exc:  # reported by the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}", None))
        conn.close()
        return
    # later, while the parent writes the CSV and HTML files: the nbgrader gradebook (nbgrader is imported here)
    try:
        request = conn.recv()
    except EOFError:  # the parent is gone
        return
    try:
        from .report import write_gradebook

        write_gradebook(request["out"], assignment, request["results"], work)
        conn.send(("ok",))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    conn.close()


class _PlanStream:
    """The plans the nbgrader helper sends one by one, turned into jobs as they arrive (run_jobs polls it)."""

    def __init__(self, conn, plans: dict):
        self.conn, self.plans, self.done = conn, plans, False  # done: the helper said it sent every plan
        self.to_jobs: Callable[[list], list] = lambda students: []

    def fileno(self) -> int:
        return self.conn.fileno()

    def take(self, block: bool = False) -> list:
        """The jobs of every plan that has arrived (waiting for one when `block`)."""
        arrived = []
        while not self.done and (block or self.conn.poll()):
            block = False
            try:
                kind, student, plan = self.conn.recv()
            except EOFError:
                raise RuntimeError("the nbgrader helper process died") from None
            if kind == "error":
                raise RuntimeError(student)
            if kind == "plans":
                self.done = True
                break
            self.plans[student] = plan
            arrived.append(student)
        return self.to_jobs([s for s in arrived if s != SOLUTION])


def grade(
    assignment_id: str,
    submissions: Path,
    out: Path,
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    cell_timeout: float | None = None,
    memory_mb: int = MEMORY_MB,
    course_root: Path = ROOT,
    progress: bool = True,
    log=print,
    unsafe_shared_process: bool = False,
    disk_mb: int = DISK_MB,
    regrade: list | None = None,
    secret_seed_file: Path | None = None,
    cluster: str | None = None,
    cluster_wait: float | None = None,
) -> list[dict]:
    """Grade every submission; return one result dict per student (sorted by id).

    Each submission runs in its own OS jail (autograder.sandbox) unless `unsafe_shared_process`.
    Without `cell_timeout`, the per-cell limit is derived from the assignment: its solution is run
    once (jailed, like a student) and every cell may take 20 times its slowest cell plus 10 s, within
    10 to 120 s. `regrade`: None keeps finished students; [] grades everyone again; a list of ids
    grades those again. `secret_seed_file`: a file only the instructor keeps; hidden tests that draw
    cases with utils.checks.hidden_seed() draw them from it (without it, from their fixed seeds).
    `cluster`: a Dask scheduler's address (tcp://host:port or a scheduler file) or `local:N`; the
    submissions are then graded on its workers (autograder.cluster) and this process only writes OUT."""
    from .engine import Engine
    from .pool import Job, run_jobs

    # every path is made absolute before anything runs: nbgrader changes the working directory
    # under the gradebook's sqlite URL, so a relative OUT would point somewhere else by then
    out, submissions, course_root = (Path(p).expanduser().resolve() for p in (out, submissions, course_root))
    jobs = max(1, jobs or default_jobs())
    hidden_seed = read_secret_seed(secret_seed_file) if secret_seed_file is not None else None
    notebook_timeout = float(timeout or NOTEBOOK_TIMEOUT_S)
    cell_timeout = float(cell_timeout) if cell_timeout else None
    utils_dir = course_root / "utils" if (course_root / "utils").is_dir() else ROOT / "utils"

    def settings(jail_setting) -> BatchSettings:
        return BatchSettings(
            assignment_id=assignment_id,
            submissions=submissions,
            out=out,
            jobs=jobs,
            notebook_timeout=notebook_timeout,
            cell_timeout=cell_timeout,
            memory_mb=memory_mb,
            course_root=course_root,
            progress=progress,
            log=log,
            jail=jail_setting,
            regrade=regrade,
            hidden_seed=hidden_seed,
        )

    if cluster is not None:
        from .cluster import ClusterEngine

        # every worker jails its submissions itself (and refuses where it cannot, unless unsafe)
        engine = ClusterEngine(
            cluster,
            unsafe_shared_process=unsafe_shared_process,
            disk_mb=int(disk_mb),
            log=log,
            no_worker_wait=cluster_wait,
        )
        try:
            return BatchRun(engine, settings(engine.jail_setting), Job, engine.run_jobs).grade()
        finally:
            engine.close()
    jail = None
    if not unsafe_shared_process:
        from .sandbox import default_read_only, probe

        why = probe(str(utils_dir))
        if why is not None:
            raise JailUnavailable(
                f"this machine cannot jail submissions ({why}). Each submission must run in its own "
                "operating-system sandbox (Linux user, mount, PID and network namespaces) so that it cannot "
                "read the hidden tests, other students' work or the results. Run as root or enable user "
                "namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0), or, "
                f"only for submissions you trust, add {UNSAFE_FLAG}: every submission then runs unjailed "
                "in the grader's own account."
            )
        jail = {"disk_mb": int(disk_mb), "read_only": default_read_only(str(utils_dir))}
    # the engine starts now (a fresh interpreter), before anything of the batch is read: its children (one per
    # submission) inherit no student's notebook, no hidden test and no result
    local_engine = Engine(utils_root=utils_dir)
    try:
        return BatchRun(local_engine, settings(jail), Job, run_jobs).grade()
    finally:
        local_engine.close()


def _limits(notebook_timeout, cell_timeout, memory_mb, jail, hidden_seed=None) -> dict:
    limits: dict[str, object] = {
        "timeout": float(notebook_timeout),
        "cell_timeout": float(cell_timeout),
        "memory_mb": int(memory_mb),
        "jailed": jail is not None,
    }
    if hidden_seed is not None:  # which secret drew the hidden cases (a digest: the seed itself stays secret)
        limits["hidden_seed"] = hashlib.sha256(f"seed {hidden_seed}".encode()).hexdigest()[:12]
    return limits


def read_secret_seed(path) -> int:
    """The grader's secret seed: a whole number drawn from the file's text (ValueError if it is empty)."""
    text = Path(path).expanduser().read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(
            f"the secret seed file {path} is empty: put any long random text in it, e.g. "
            "python -c 'import secrets; print(secrets.token_hex(16))' > FILE"
        )
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def submission_seed(secret: int | None, student: str, key: str) -> int | None:
    """The seed of one submission's drawn hidden cases: from the grader's secret, the student's id and the
    submission's content digest (`key`, from submission_key), so that what one submission learns of its
    cases is worth nothing for any other, its own resubmission included. None without a secret: every
    hidden seed is then the test's fixed one, and runs are reproducible."""
    if secret is None:
        return None
    digest = hashlib.sha256(f"submission seed {int(secret)}:{student}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass
class BatchSettings:
    """What one `grade` run was asked for (paths absolute, limits settled)."""

    assignment_id: str
    submissions: Path
    out: Path
    jobs: int
    notebook_timeout: float
    cell_timeout: float | None
    memory_mb: int
    course_root: Path
    progress: bool
    log: Callable
    jail: dict | None
    regrade: list | None = None
    hidden_seed: int | None = None

    def limits(self, cell_limit: float) -> dict:
        return _limits(self.notebook_timeout, cell_limit, self.memory_mb, self.jail, self.hidden_seed)


class BatchRun:
    """One `grade` run, step by step: find the submissions, decide who is to be graded, have the nbgrader
    helper prepare the assignment and read the notebooks, time the solution (alone), grade the class, write
    the outputs. `engine` and `run_jobs` are the local engine and pool, or a cluster's."""

    def __init__(self, engine, settings: BatchSettings, job_class, run_jobs):
        self.engine, self.s, self.Job, self.run_jobs = engine, settings, job_class, run_jobs
        self.nb_path = source_notebook(settings.assignment_id, settings.course_root)  # ValueError: the known ones
        self.found_notes: dict = {}
        self.found, warnings = find_submissions(settings.submissions, settings.assignment_id, self.found_notes)
        settings.out.mkdir(parents=True, exist_ok=True)
        self.state_dir, self.work = settings.out / ".state", settings.out / ".work"
        self.state_dir.mkdir(exist_ok=True)
        self.work.mkdir(exist_ok=True)
        self.key = state_key(self.state_dir)
        self.fingerprint = source_fingerprint(self.nb_path)
        for w in warnings:
            settings.log(f"warning: {w}")
        self.timing_file = self.work / "solution-timing.json"
        self.measured = self.signed_timing() if settings.cell_timeout is None else None
        self.cell_timeout = settings.cell_timeout
        if self.measured is not None:
            self.cell_timeout = derived_cell_timeout(self.measured, settings.notebook_timeout)
        self.keys: dict = {}
        self.todo = self.to_grade()
        self.limit: dict = {"cell": self.cell_timeout if self.cell_timeout is not None else CELL_TIMEOUT_CAP_S}
        self.plans: dict = {}
        self.early: list = []  # finished before the solution: saved again with the derived limit once it is known
        self.invalid: list = []
        self.running_now: dict = {}
        self.bar = None

    # -- who is graded --------------------------------------------------------------------------------------------

    def signed_timing(self) -> dict | None:
        """The solution's cell times from an earlier run, trusted only when signed with the batch's key, as a
        resume record is (OUT may be tampered with)."""
        import hmac

        try:
            cached = json.loads(self.timing_file.read_text(encoding="utf-8"))
            if (
                cached.get("fingerprint") == self.fingerprint
                and isinstance(cached.get("mac"), str)
                and hmac.compare_digest(cached["mac"], _mac(self.key, cached))
            ):
                return cached["seconds"]
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass
        return None

    def to_grade(self) -> list:
        """The students to grade now: new or changed submissions, and those --regrade names."""
        s, todo, other_limits = self.s, [], []
        wanted = set(self.found) if s.regrade == [] else set(s.regrade or [])
        unknown = sorted(wanted - set(self.found))
        if unknown:
            raise ValueError(f"--regrade names students who have no submission here: {', '.join(unknown[:10])}")
        for student, path in self.found.items():
            self.keys[student] = submission_key(path, self.fingerprint)
            state = load_state(self.state_dir, student, self.key)
            if (
                state is None
                or state.get("key") != self.keys[student]
                or state.get("assignment") != s.assignment_id
                or student in wanted
            ):
                todo.append(student)
            elif self.cell_timeout is not None and state.get("limits") != s.limits(self.cell_timeout):
                other_limits.append(student)
        if other_limits:
            s.log(
                f"warning: {len(other_limits)} student(s) were graded earlier with other limits and are kept as "
                f"they were ({', '.join(other_limits[:5])}{' ...' if len(other_limits) > 5 else ''}); add "
                "--regrade to grade everyone again under the limits of this run, or --regrade STUDENT ... for some"
            )
        return todo

    # -- nbgrader's part ---------------------------------------------------------------------------------------------

    def start_helper(self) -> None:
        """nbgrader (generate_assignment, then sanitising every submission) in a forked helper, while the
        engine imports the frameworks once for every child to come."""
        import multiprocessing

        s = self.s
        ctx = multiprocessing.get_context("fork")
        self.receive, send = ctx.Pipe()
        to_read = {SOLUTION: self.nb_path} if self.cell_timeout is None and self.todo else {}  # solution first
        to_read.update({student: self.found[student] for student in self.todo})
        self.full = getattr(self.engine, "needs_full_assignment", False)
        self.helper = ctx.Process(
            target=_helper_main,
            args=(s.assignment_id, self.work, s.course_root, to_read, send, self.full),
            daemon=True,
        )
        self.helper.start()
        send.close()
        if self.todo:
            self.engine.warm(detect_frameworks(self.nb_path), threads=max(1, default_jobs() // s.jobs))
        try:
            outcome = self.receive.recv()
        except EOFError:
            outcome = ("error", "the nbgrader helper process died")
        if outcome[0] != "ok":
            self.helper.join()
            raise RuntimeError(outcome[1])
        self.assignment, self.others = outcome[1], outcome[2]
        self.stream = _PlanStream(self.receive, self.plans)
        if self.full:  # what a cluster's workers need, besides each notebook's bytes
            self.engine.prepare_batch(
                assignment=self.assignment,
                fingerprint=self.fingerprint,
                others=self.others,
                plans=self.plans,
                paths={**self.found, SOLUTION: self.nb_path},
                frameworks=detect_frameworks(self.nb_path),
                notebook_timeout=s.notebook_timeout,
                memory_mb=s.memory_mb,
                hidden_seed=None,
            )
        if SOLUTION in to_read:
            self.stream.take(block=True)  # the first plan sent
        if self.todo:
            from .report import preload

            preload()  # nbgrader's part is done and the engine is still importing the frameworks: a core is free

    # -- what happens to each job ----------------------------------------------------------------------------------

    def settle(self, job) -> None:
        """The solution's run is done: its cell times give the per-cell limit (saved, signed, for later runs)."""
        s = self.s
        seconds = {job.cells[i]["label"]: r.get("seconds") for i, r in job.results.items()}
        if job.killers:
            seconds["(stopped)"] = SOLUTION_STOPPED_S  # the solution itself hit a limit
        timing = {"fingerprint": self.fingerprint, "seconds": seconds}
        atomic_write(self.timing_file, json.dumps({**timing, "mac": _mac(self.key, timing)}, indent=1))
        self.limit["cell"] = derived_cell_timeout(seconds, s.notebook_timeout)
        self.limit["pending"] = False
        for result in self.early:
            result["limits"] = s.limits(self.limit["cell"])
            save_state(self.state_dir, self.key, result)
        slowest = max([v for v in seconds.values() if isinstance(v, (int, float))] or [0.0])
        s.log(
            f"per-cell time limit: {self.limit['cell']:g} s (derived: the solution's slowest cell took "
            f"{slowest:.2f} s; --cell-timeout sets it)"
        )

    def show_running(self) -> None:
        if self.bar is not None:
            names = sorted(self.running_now)
            self.bar.set_postfix_str(
                ("running: " + ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")) if names else "",
                refresh=True,
            )

    def save(self, result: dict) -> None:
        if result["student_id"] in self.found_notes:
            result["notes"].insert(0, self.found_notes[result["student_id"]])
        result["limits"] = self.s.limits(self.limit["cell"])
        save_state(self.state_dir, self.key, result)
        if self.limit.get("pending"):
            self.early.append(result)
        if self.bar is not None:
            self.bar.update(1)

    def new_jobs(self, students) -> list:
        made = []
        for student in students:
            plan = self.plans[student]
            if plan.invalid is not None:
                self.invalid.append(student)  # saved once the limits of the batch are known
                continue
            job = self.Job(student, plan.cells)
            job.hidden_seed = submission_seed(self.s.hidden_seed, student, self.keys[student])
            made.append(job)
        return made

    def started_job(self, job) -> None:
        self.running_now[job.key] = True
        self.show_running()

    def finished(self, job) -> None:
        self.running_now.pop(job.key, None)
        if job.key == SOLUTION:
            self.settle(job)
            return
        result = result_from_plan(
            job.key,
            self.assignment,
            self.plans[job.key],
            job,
            self.keys[job.key],
            self.limit["cell"],
            self.s.notebook_timeout,
        )
        self.save(result)
        self.show_running()

    # -- the run ---------------------------------------------------------------------------------------------------

    def jobs_to_run(self) -> list:
        """The solution's timing run (when the limit is not known), then every student's job read so far."""
        job_list = []
        # the solution, when its run time is not known yet (or its record in OUT is not signed with the
        # batch's key), is run first and alone, jailed like a student: the derived limit applies to everyone
        solution_plan = self.plans.pop(SOLUTION, None)
        if self.cell_timeout is None and (solution_plan is None or solution_plan.invalid is not None):
            self.limit["cell"] = derived_cell_timeout(self.measured or {}, self.s.notebook_timeout)
        if solution_plan is not None and solution_plan.invalid is None:
            self.limit["pending"] = True
            job_list.append(self.Job(SOLUTION, solution_plan.cells))
        job_list.extend(self.new_jobs([student for student in self.plans if student != SOLUTION]))
        self.stream.to_jobs = self.new_jobs
        return job_list

    def run_all(self, job_list: list) -> None:
        s = self.s
        common = dict(
            cell_timeout=lambda: self.limit["cell"],
            notebook_timeout=s.notebook_timeout,
            memory_bytes=int(s.memory_mb) * 2**20,
            on_finish=self.finished,
            jail=s.jail,
            on_start=self.started_job,
        )
        if job_list and job_list[0].key == SOLUTION and not self.full:  # (a cluster runs it alone itself)
            # the solution's timing run alone, before any student: no classmate's load inflates the limit
            self.run_jobs(self.engine, [job_list.pop(0)], jobs=1, **common)
        if job_list or not self.stream.done:
            # each job carries its own seed (submission_seed)
            self.run_jobs(self.engine, job_list, jobs=s.jobs, incoming=self.stream, **common)
        while not self.stream.done:  # the helper's last word (nothing was left to grade)
            self.stream.take(block=True)
        for student in self.invalid:  # now that the batch's limits are known
            self.save(result_from_plan(student, self.assignment, self.plans[student], key=self.keys[student]))

    def grade_class(self) -> None:
        """Every job, with a progress bar; Ctrl-C, SIGTERM or a cluster that gave up end it with what was
        graded saved (Interrupted)."""
        s = self.s
        if s.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=len(self.found),
                initial=len(self.found) - len(self.todo),
                desc=f"grading {s.assignment_id}",
                unit="student",
                file=sys.stderr,
                dynamic_ncols=True,
                mininterval=0,
                miniters=1,
            )
        interrupted = None
        previous_term = signal.getsignal(signal.SIGTERM)

        def on_term(signum, frame):
            raise KeyboardInterrupt

        main = threading.current_thread() is threading.main_thread()
        if main:
            signal.signal(signal.SIGTERM, on_term)
        try:
            self.run_all(self.jobs_to_run())
        except KeyboardInterrupt:
            interrupted = "interrupted"
        except Incomplete as why:  # a cluster that could not grade everyone: what it did grade is saved
            interrupted = str(why)
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous_term)
            if self.bar is not None:
                self.bar.close()
        if interrupted:
            self.helper.kill()
            self.helper.join()
            saved = sum(1 for student in self.found if load_state(self.state_dir, student, self.key) is not None)
            raise Interrupted(
                f"{interrupted}: {saved} of {len(self.found)} saved in {s.out / '.state'}; run the same command "
                "again to finish"
            )

    def write_results(self) -> list[dict]:
        """The CSV files, feedback and report here, the nbgrader gradebook in the helper, at once."""
        s = self.s
        loaded = [load_state(self.state_dir, student, self.key) for student in sorted(self.found)]
        results = [r for r in loaded if r is not None]
        for r in results:  # nbgrader's exchange writes the submission time beside the notebook
            path = self.found.get(r["student_id"])
            stamp = path.parent / "timestamp.txt" if path is not None else None
            if stamp is not None and stamp.is_file() and not stamp.is_symlink():
                r["submitted_at"] = stamp.read_text(encoding="utf-8", errors="replace").strip()[:64]
        from .report import write_nbgrader_feedback, write_outputs

        self.receive.send({"out": s.out, "results": results})
        write_outputs(s.out, self.assignment, results, self.work, gradebook=False)
        try:
            done = self.receive.recv()
        except EOFError:
            done = ("error", "the nbgrader helper process died")
        self.helper.join()
        if done[0] != "ok":
            raise RuntimeError(f"could not write the nbgrader gradebook: {done[1]}")
        handed = write_nbgrader_feedback(s.out, s.assignment_id, self.found, results)
        if handed:
            s.log(f"feedback for nbgrader's release_feedback: {handed}")
        return results

    def grade(self) -> list[dict]:
        self.start_helper()
        started = time.monotonic()
        self.grade_class()
        results = self.write_results()
        s = self.s
        s.log(
            f"graded {len(self.todo)} submission(s) of {s.assignment_id} in {time.monotonic() - started:.1f} s "
            f"({len(self.found) - len(self.todo)} already done; "
            f"{'each in its own jail' if s.jail else 'UNSAFE: unjailed, shared process'}); results in {s.out}"
        )
        return results


def totals_table(results: list[dict]) -> str:
    width = max([len("student_id")] + [len(r["student_id"]) for r in results])
    lines = [f"{'student_id':<{width}}  {'points':>7}  {'max':>5}  status"]
    for r in results:
        lines.append(f"{r['student_id']:<{width}}  {r['points']:>7g}  {r['max_points']:>5g}  {r['status']}")
    return "\n".join(lines)


def grade_main(args) -> int:
    try:
        results = grade(
            args.assignment,
            Path(args.submissions),
            Path(args.out),
            jobs=args.jobs,
            timeout=args.timeout,
            cell_timeout=getattr(args, "cell_timeout", None),
            memory_mb=getattr(args, "memory_mb", MEMORY_MB),
            course_root=Path(getattr(args, "course_root", None) or ROOT),
            unsafe_shared_process=getattr(args, "unsafe_shared_process", False),
            disk_mb=getattr(args, "disk_mb", DISK_MB),
            regrade=getattr(args, "regrade", None),
            secret_seed_file=getattr(args, "secret_seed_file", None),
            cluster=getattr(args, "cluster", None),
            cluster_wait=getattr(args, "cluster_wait", None),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt) as exc:
        print(str(exc) or "interrupted: run the same command again to finish", file=sys.stderr)
        return 130
    print(totals_table(results))
    return 0
