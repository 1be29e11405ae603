"""The pool in the grading process: at most `jobs` submissions at once, each forked by the engine, with
their time limits, their control groups and uids, and a fresh attempt after a cell that killed a job.

The grading process enforces per-cell and per-notebook time limits by killing the trusted process (the
student's dies with it); when a job dies (timeout, os._exit in a function a test called, a signal) it
forks a fresh one that re-runs the student's cells and continues after the cell that killed the previous
one, so later tests are still graded.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import time
from typing import TYPE_CHECKING

from .batch import Stop, StopKind
from .limits import (
    CELL_OUTPUT_CAP,
    GROUP_MEMORY_MARGIN,
    MAX_PROCESSES,
    MAX_REVIEW,
    MESSAGE_CAP,
    NOTE_CAP,
    REPORT_CAP,
)
from .runtime import valid_result

if TYPE_CHECKING:  # for the annotations only: the engine module imports the job modules in its own process
    from .engine import Engine


class Job:
    """One submission being graded, possibly over several child processes."""

    def __init__(self, key, plan_cells, workdir=None):
        # workdir: unused since the engine makes each job's scratch folder itself (kept for callers)
        self.key, self.cells, self.workdir = key, plan_cells, workdir
        self.results: dict = {}  # cell index -> result
        self.skip: set = set()
        self.killers: dict = {}  # cell index -> why it was skipped (a batch.Stop)
        self.elapsed = 0.0
        self.attempts = 0
        self.pid = self.rfd = None
        self.buffer = b""
        self.received = 0
        self.current = None
        self.cell_started = None
        self.attempt_started = None
        self.done = False
        self.secret = None
        self.finished = False
        self.out_of_time = False
        self.flooded = False
        self.restart: set = set()  # student cells after which the child restarted itself (MemoryError)
        self.review: list = []  # what the trusted side asks the instructor to read by hand
        self.cell_limit = None  # this job's own per-cell limit (seconds); None: the batch's
        self.hidden_seed = None  # this submission's seed for drawn hidden cases; None: the batch's
        self.group = None  # the control group of the running attempt's jail (autograder.cgroups.JailGroup)
        self.uid_lease = None  # its uid (autograder.uids.UidLease)
        self.oom = False  # the kernel's memory limit of a jail of this job was reached
        self.memory_peak = None  # the most memory (bytes) a jail of this job was charged, by its control group
        self.plan = None  # the Plan of the notebook, where the grader needs it back (a cluster worker)


def run_jobs(
    engine: Engine,
    jobs_list: list,
    *,
    jobs: int,
    cell_timeout,
    notebook_timeout: float,
    memory_bytes: int,
    on_finish,
    jail: dict | None = None,
    on_start=None,
    incoming=None,
    hidden_seed: int | None = None,
    threads: int | None = None,
) -> None:
    """Grade every Job with at most `jobs` children at once; call on_finish(job) as each ends.

    `jail` (the sandbox.Jail settings but the uid) jails every child; None runs them in the unsafe
    shared-process mode. `incoming`, if given, brings more jobs while they run: `incoming.take(block)`
    returns the new ones, `incoming.done` says whether more will come, `incoming.fileno()` wakes the loop.
    `threads`: how many threads each child's frameworks may use (default: the cores over `jobs`)."""
    pool = Pool(
        engine,
        jobs=jobs,
        cell_timeout=cell_timeout,
        notebook_timeout=notebook_timeout,
        memory_bytes=memory_bytes,
        on_finish=on_finish,
        jail=jail,
        on_start=on_start,
        hidden_seed=hidden_seed,
        threads=threads,
    )
    pool.run(list(jobs_list), incoming)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Pool:
    """The jobs of one batch in the grading process (see run_jobs)."""

    def __init__(
        self,
        engine,
        *,
        jobs,
        cell_timeout,
        notebook_timeout,
        memory_bytes,
        on_finish,
        jail,
        on_start,
        hidden_seed,
        threads,
    ):
        self.engine, self.jobs, self.jail = engine, jobs, jail
        self.cell_limit = cell_timeout if callable(cell_timeout) else (lambda: cell_timeout)
        self.notebook_timeout, self.memory_bytes = notebook_timeout, memory_bytes
        self.on_finish, self.on_start, self.hidden_seed = on_finish, on_start, hidden_seed
        self.threads = threads if threads is not None else max(1, _cores() // max(1, jobs))
        self.pending: list = []
        self.running: dict = {}  # rfd -> job
        self.counter = 0
        self.groups = _jail_groups() if jail is not None else None  # where the grader may make control groups
        self._group_memory: int | None = None

    # -- starting an attempt ---------------------------------------------------------------------------------

    def jail_memory(self) -> int:
        """What a jail's control group may hold: `memory_bytes` beyond the warm pages it inherits and may copy
        (the engine's resident size), so that one process that allocates too much meets its RLIMIT_AS first (a
        MemoryError the student can read, the same on every run), and the group stops what that limit cannot
        see (children forked by any means, shared memory). Read once the engine is warm."""
        if self._group_memory is None:
            if hasattr(self.engine, "wait_ready"):
                self.engine.wait_ready()
            self._group_memory = (
                int(self.memory_bytes) + _resident_bytes(getattr(self.engine, "pid", None)) + GROUP_MEMORY_MARGIN
            )
        return self._group_memory

    def spec(self, job) -> dict:
        """What the job's child reads from its pipe (the trusted process only: the student's is forked first)."""
        return {
            "cells": [
                {
                    "kind": c["kind"],
                    "source": c["source"],
                    "label": c["label"],
                    "filename": f"<test {c['grade_id']}>" if c["kind"] == "test" else f"<{c['label']}>",
                }
                for c in job.cells
            ],
            "skip": sorted(job.skip),
            "done": sorted(i for i in job.results if job.cells[i]["kind"] == "test"),
            "secret": job.secret,
            "memory_bytes": self.memory_bytes,
            "threads": self.threads,
            # this submission's own seed (grade.submission_seed), read by the trusted process only
            "hidden_seed": job.hidden_seed if job.hidden_seed is not None else self.hidden_seed,
            "jail": None,
        }

    def jail_job(self, job, spec: dict) -> None:
        """A uid no other jail on this host uses while this one runs, and the jail's control group: memory
        (shared memory included), processes and CPU for the whole jail, a share of the cores no larger than
        its share of the batch, so that no jail slows a classmate's past its limit."""
        from .uids import lease_uid

        self.counter += 1
        job.uid_lease = lease_uid()
        spec["jail"] = {**self.jail, "uid": job.uid_lease.uid}
        if self.groups is None:
            return
        job.group = self.groups.jail(
            f"job-{self.counter}",
            memory_bytes=self.jail_memory(),
            max_pids=int(self.jail.get("max_processes", MAX_PROCESSES)),
            cpu_cores=max(1.0, _cores() / max(1, self.jobs)),
        )
        spec["cgroup"] = {
            "name": job.group.name,
            "parts": [[p.version, p.path, list(p.controllers)] for p in job.group.parts],
        }

    def start(self, job) -> None:
        job.attempts += 1
        job.secret = secrets.token_hex(16)
        job.buffer, job.current, job.done, job.received = b"", None, False, 0
        rfd, wfd = os.pipe()
        spec_r, spec_w = os.pipe()
        spec = self.spec(job)
        if self.jail is not None:
            self.jail_job(job, spec)
        try:
            job.pid = self.engine.spawn([spec_r, wfd])
        finally:
            os.close(spec_r)
            os.close(wfd)
        data = json.dumps(spec).encode()
        try:
            while data:
                data = data[os.write(spec_w, data) :]
        except OSError:
            pass  # the child died reading it: its exit is handled below
        os.close(spec_w)
        job.rfd = rfd
        job.attempt_started = time.monotonic()
        self.running[rfd] = job
        if self.on_start is not None:
            self.on_start(job)

    # -- what a job says ---------------------------------------------------------------------------------------

    def handle(self, job, line: bytes) -> None:
        prefix = job.secret.encode() + b" "
        if not line.startswith(prefix):
            return  # not from the grader: whatever student code wrote to the pipe is ignored
        try:
            msg = json.loads(line[len(prefix) :])
            kind = msg.get("t")
            if kind == "done":
                job.done = True
                return
            if kind == "review":
                text = str(msg.get("text", ""))[:NOTE_CAP]
                if text and text not in job.review and len(job.review) < MAX_REVIEW:
                    job.review.append(text)
                return
            i = msg.get("i")
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(job.cells):
                return
            if kind == "start":
                job.current, job.cell_started = i, time.monotonic()
            elif kind == "end":
                job.results.setdefault(i, valid_result(msg.get("r")))
                if job.results[i].get("restart"):
                    job.restart.add(i)
                job.current = None
        except (ValueError, TypeError, AttributeError, RecursionError):
            return  # a malformed report is ignored, like any other noise on the pipe

    def read(self, job) -> None:
        """What the job's pipe has now: its lines handled, a flood or its end dealt with."""
        try:
            chunk = os.read(job.rfd, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            self.finish_attempt(job, "exited")
            return
        job.received += len(chunk)
        if job.received > REPORT_CAP:
            job.flooded = True
            self.kill(job)
            self.finish_attempt(job, "flood")
            return
        job.buffer += chunk
        *lines, job.buffer = job.buffer.split(b"\n")
        for line in lines:
            self.handle(job, line)
        if len(job.buffer) > 2 * MESSAGE_CAP + CELL_OUTPUT_CAP:
            job.buffer = b""  # a line longer than any report: noise

    # -- ending an attempt -------------------------------------------------------------------------------------

    def kill(self, job) -> None:
        try:
            if self.jail is None:
                os.killpg(job.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(job.pid, signal.SIGKILL)  # in a jail: its PID 1 and everything under it follow
        except OSError:
            pass

    def release_jail(self, job) -> None:
        """Everything the jail started is killed (its control group), its group removed, its uid freed."""
        group, job.group = getattr(job, "group", None), None
        if group is not None:
            job.oom = group.oom_killed()
            peak = group.memory_peak()
            if peak is not None:
                job.memory_peak = max(job.memory_peak or 0, int(peak))
            group.kill(timeout=2.0)
            try:
                group.remove(timeout=0.5)
            except OSError:
                pass  # still busy: the batch's close() removes it
        lease, job.uid_lease = getattr(job, "uid_lease", None), None
        if lease is not None:
            lease.release()

    def drain(self, job) -> None:
        """The last of what the ended child wrote (bounded in size and in time)."""
        os.set_blocking(job.rfd, False)
        deadline = time.monotonic() + 5
        try:
            while job.received < REPORT_CAP and time.monotonic() < deadline:
                try:
                    chunk = os.read(job.rfd, 1 << 16)
                except BlockingIOError:
                    select.select([job.rfd], [], [], 0.05)
                    continue
                if not chunk:
                    break
                job.received += len(chunk)
                job.buffer += chunk
        except OSError:
            pass
        os.close(job.rfd)

    def stop_of(self, job, how: str, status: int) -> Stop:
        """Why the attempt ended before its cell did."""
        if how == "cell-timeout":
            return Stop(StopKind.CELL_TIMEOUT)
        if how == "flood":
            return Stop(StopKind.DIED, "it sent more than the grader reads about one notebook")
        if job.oom:
            return Stop(StopKind.DIED, f"it went over the memory limit of {self.memory_bytes // 2**20} MB")
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        if sig is None and code is not None and code > 128 and self.jail is not None:
            sig = code - 128  # the jail's middle process passes a signal on as 128 + n
        try:
            name = signal.Signals(sig).name if sig else None
        except ValueError:
            name = f"signal {sig}"
        return Stop(StopKind.DIED, f"signal {name}" if sig else f"exit status {code}")

    def finish_attempt(self, job, how: str) -> None:
        """The child is gone: read what it said, decide whether to fork again."""
        self.running.pop(job.rfd, None)
        self.drain(job)
        if how != "exited":
            self.kill(job)
        status = self.engine.wait(job.pid)
        self.release_jail(job)
        for line in job.buffer.split(b"\n"):
            self.handle(job, line)
        job.buffer = b""
        job.elapsed += time.monotonic() - job.attempt_started
        if job.done:
            job.finished = True
        elif how == "notebook-timeout":
            job.finished = True
            job.out_of_time = True
            if job.current is not None:
                job.killers[job.current] = Stop(StopKind.NOTEBOOK_TIMEOUT)
        else:
            self.after_stop(job, self.stop_of(job, how, status))
        if job.finished:
            self.on_finish(job)
        else:
            self.pending.insert(0, job)

    def after_stop(self, job, why: Stop) -> None:
        """Skip the cell that stopped the attempt (or the cells after which the child restarted itself), and
        decide whether another attempt is worth it."""
        if job.current is None and job.restart - job.skip:
            job.skip |= job.restart
            job.finished = job.attempts > len(job.cells) + 1
        elif job.current is None:
            # died between cells (or before the first): nothing to skip, give up after a retry
            job.finished = job.attempts >= 2
            if job.finished:
                job.killers[-1] = why
        else:
            job.killers[job.current] = why
            job.skip.add(job.current)
            remaining = [i for i in range(len(job.cells)) if i not in job.results and i not in job.skip]
            job.finished = not remaining or job.attempts > len(job.cells) + 1

    def check_time(self) -> None:
        t = time.monotonic()
        for job in list(self.running.values()):
            if job.elapsed + (t - job.attempt_started) > self.notebook_timeout:
                self.kill(job)
                self.finish_attempt(job, "notebook-timeout")
            elif job.current is not None and t - job.cell_started > (job.cell_limit or self.cell_limit()):
                self.kill(job)
                self.finish_attempt(job, "cell-timeout")

    # -- the loop ----------------------------------------------------------------------------------------------

    def run(self, jobs_list: list, incoming=None) -> None:
        self.pending = jobs_list
        more = lambda: incoming is not None and not incoming.done  # read at every turn
        try:
            while self.pending or self.running or more():
                if more():
                    self.pending.extend(incoming.take(block=not self.pending and not self.running))
                while self.pending and len(self.running) < self.jobs:
                    self.start(self.pending.pop(0))
                watch = list(self.running) + ([incoming] if more() else [])
                readable, _, _ = select.select(watch, [], [], 0.05)
                for rfd in readable:
                    if rfd is not incoming:  # new jobs are taken at the top of the loop
                        self.read(self.running[rfd])
                self.check_time()
        finally:
            for job in list(self.running.values()):
                self.kill(job)
                self.release_jail(job)
            if self.groups is not None:
                self.groups.close()


def _resident_bytes(pid) -> int:
    """The resident memory of process `pid` (0 when it cannot be read)."""
    try:
        with open(f"/proc/{int(pid)}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, TypeError, ValueError):
        pass
    return 0


def _jail_groups():
    """A batch of control groups beneath the grader's own (autograder.cgroups), or None where the grader
    may not make them: each jail then has only its per-process limits (RLIMIT_AS, RLIMIT_NPROC of its own
    uid), as the README states."""
    from . import cgroups

    try:
        return cgroups.Batch.create()
    except OSError:
        return None
