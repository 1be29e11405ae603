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
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import ROOT
from .assignment import (
    detect_frameworks,
    source_fingerprint,
    source_notebook,
)
from .batch import SOLUTION, UNSAFE_FLAG, Incomplete, Interrupted, JailUnavailable
from .helper import PlanStream, helper_main
from .limits import (
    CELL_TIMEOUT_CAP_S,
    DISK_MB,
    MEMORY_MB,
    NOTEBOOK_TIMEOUT_S,
    SOLUTION_STOPPED_S,
    derived_cell_timeout,
)
from .results import result_from_plan, totals_table  # noqa: F401 - totals_table: demo's and the command's
from .state import (
    atomic_write,
    load_state,
    mac,
    read_secret_seed,
    save_state,
    state_key,
    submission_key,
    submission_seed,
)
from .submissions import find_submissions


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ----------------------------------------------------------------------------
# finding submissions
# ----------------------------------------------------------------------------


# ----------------------------------------------------------------------------
# state files
# ----------------------------------------------------------------------------


# ----------------------------------------------------------------------------
# from execution results to grades (nbgrader's rule)
# ----------------------------------------------------------------------------


# ----------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------


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
    jail = None if unsafe_shared_process else _local_jail(utils_dir, disk_mb)
    # the engine starts now (a fresh interpreter), before anything of the batch is read: its children (one per
    # submission) inherit no student's notebook, no hidden test and no result
    local_engine = Engine(utils_root=utils_dir)
    try:
        return BatchRun(local_engine, settings(jail), Job, run_jobs).grade()
    finally:
        local_engine.close()


def _local_jail(utils_dir: Path, disk_mb: int) -> dict:
    """The jail settings of a local run, or JailUnavailable saying why this machine cannot build the jail."""
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
    return {"disk_mb": int(disk_mb), "read_only": default_read_only(str(utils_dir))}


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
                and hmac.compare_digest(cached["mac"], mac(self.key, cached))
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
            target=helper_main,
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
        self.stream = PlanStream(self.receive, self.plans)
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
        atomic_write(self.timing_file, json.dumps({**timing, "mac": mac(self.key, timing)}, indent=1))
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
