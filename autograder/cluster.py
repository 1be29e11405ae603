"""Grading on a Dask cluster: `python -m autograder grade ... --cluster ADDRESS`.

One machine grades a class; a course of thousands uses the cluster its instructors already run (JupyterHub with
dask-gateway, SLURM or PBS through dask-jobqueue, Kubernetes through dask-kubernetes, or a `LocalCluster` of
processes on one machine). Dask's scheduler places the work; everything that decides a grade is the local
engine's, unchanged:

- **The client** (the `grade` command) does what it does locally: it finds the submissions, has nbgrader
  generate the assignment and sanitise every submission (its plan), decides the per-cell time limit from the
  solution's run, and is the only process that writes OUT (state files, resume, CSV files, feedback, report,
  gradebook). What it sends the cluster for one submission is that notebook's bytes and the assignment's
  fingerprint; what comes back is plain data: the per-cell results of the run.
- **Each worker** gets a `GraderPlugin`, which carries the assignment (its trusted tests included) once. The
  plugin starts a grading server: a separate, single-threaded process (`python -m autograder.cluster`), not a
  thread of the worker. The server forks the warm engine before it reads anything of the batch, sanitises each
  notebook it is handed with the same function as the client (`batch.read_plan`), and grades it with the local
  pool (`pool.run_jobs`): each submission in its own jail, the trusted verdicts in their own process. A
  worker's tasks only hand notebooks to its server and wait for the answer.
- **What the client reads itself:** only whether each student's file is there and is not a symbolic link; the
  worker that gets a notebook's bytes reads and sanitises it (nbgrader) and sends its plan back with the
  results, so the client's work per submission stays a few milliseconds however many workers grade.
- **Checks between the two:** a server refuses to start if its course code differs from the client's (a
  digest of autograder/ and utils/), so every worker sanitises and grades with the client's code.
- **Failures:** a worker lost mid-batch has its submissions graded elsewhere (Dask reschedules its tasks). A
  result is saved once, when it reaches the client, so nothing is counted twice. A submission that cannot be
  graded (its workers died three times running it), or a cluster left with no worker for `NO_WORKER_WAIT`
  seconds, ends the run with what was graded saved; the same command finishes it, as after Ctrl-C.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import ROOT, die_with_parent, limits
from .batch import Stop

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from distributed import Client, LocalCluster

PLUGIN = "rnn-course-grader"  # the plugin's name on every worker (a new batch replaces it)
NO_WORKER_WAIT = limits.CLUSTER_WAIT_S  # seconds the client waits for a cluster that has no worker before it stops
CONNECT_TIMEOUT = 30  # seconds to reach a scheduler


def parse_address(address) -> tuple[str, Any]:
    """("local", N) for `local:N`, ("file", path) for a scheduler file, ("address", url) for tcp://...,
    ("client", client) for a distributed.Client made by the caller (dask-gateway, dask-jobqueue,
    dask-kubernetes hand one out), or a ValueError that says what is accepted."""
    if hasattr(address, "submit") and hasattr(address, "register_plugin"):
        return "client", address
    text = str(address).strip()
    if text.startswith("local:"):
        count = text[len("local:") :]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--cluster {text!r}: after 'local:' give the number of worker processes, e.g. local:2")
        return "local", int(count)
    if "://" in text:
        return "address", text
    path = Path(text).expanduser()
    if path.is_file():
        return "file", path.resolve()
    raise ValueError(
        f"--cluster {text!r} is neither a scheduler address (tcp://host:port), a scheduler file that "
        "exists, nor local:N (a LocalCluster of N worker processes on this machine)"
    )


def code_digest(root: Path = ROOT) -> str:
    """A digest of the course code that grades (autograder/ and utils/): client and workers must agree on it."""
    h = hashlib.sha256()
    for top in ("autograder", "utils"):
        for path in sorted((root / top).rglob("*.py")):
            if "tests" in path.relative_to(root).parts:
                continue
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------
# on every worker: the plugin, and the grading server it starts
# ----------------------------------------------------------------------------

try:
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # dask is needed only for --cluster
    _PluginBase = object  # type: ignore[assignment,misc]  # the stand-in base of an optional import


class GraderPlugin(_PluginBase):
    """Starts one grading server per worker and hands it the notebooks of the worker's tasks.

    It is registered while nbgrader still reads the batch, so each worker's engine warms meanwhile: it carries
    only what the engine needs (the frameworks, the jail's settings, the course code's digest). The batch itself
    (the assignment with its trusted tests, the limits, the hidden seed) reaches a worker once, as a scattered
    Dask object that its tasks name, and the plugin passes it to its server before the first notebook."""

    name = PLUGIN

    def __init__(self, config: dict, threads: int | None):
        self.config, self.threads = config, threads
        self._server: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._waiting: dict = {}
        self._count = 0
        self._batch: str | None = None  # the digest of the batch its server grades

    def __getstate__(self):
        return {"config": self.config, "threads": self.threads}

    def __setstate__(self, state):
        GraderPlugin.__init__(self, state["config"], state["threads"])

    async def setup(self, worker=None):
        import asyncio

        slots = int(getattr(getattr(worker, "state", None), "nthreads", 0) or getattr(worker, "nthreads", 1) or 1)
        # a worker with two task threads per submission it grades hands its server the next notebook while
        # the current one runs, so the server reads it meanwhile and starts it the moment a job ends
        jobs = max(1, slots // 2)
        self._launch(jobs)  # on the worker's own thread: the server's death signal is tied to the thread that forks
        await asyncio.get_running_loop().run_in_executor(None, self._await_ready)

    def teardown(self, worker=None):
        self._stop()

    def _launch(self, jobs: int) -> None:
        import socket
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        self._server = subprocess.Popen(
            [sys.executable, "-m", "autograder.cluster", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            cwd=str(ROOT),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send({**self.config, "jobs": jobs, "threads": self.threads})

    def _await_ready(self) -> None:
        assert self._conn is not None  # _launch made it
        try:
            answer = self._conn.recv()
        except (EOFError, OSError):
            answer = ("error", "the grading server died while starting")
        if answer[0] != "ready":
            self._stop()
            raise RuntimeError(answer[1])
        threading.Thread(target=self._read_answers, args=(self._conn,), daemon=True, name="grader-answers").start()

    def _stop(self) -> None:
        conn, server = self._conn, self._server
        self._conn = self._server = None
        if conn is not None:
            import socket

            try:  # the server sees the end of its requests, finishes and exits; the answer reader wakes up
                socket.socket(fileno=os.dup(conn.fileno())).shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass
        if server is not None:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

    def _read_answers(self, conn) -> None:
        while True:
            try:
                rid, answer = conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                slot = self._waiting.pop(rid, None)
            if slot is not None:
                slot[1] = answer
                slot[0].set()
        with self._lock:  # the server is gone: nothing that waits on it waits forever
            waiting, self._waiting = self._waiting, {}
        for slot in waiting.values():
            slot[1] = {"error": "the grading server of this worker stopped"}
            slot[0].set()

    def grade(self, batch: bytes, name: str, data: bytes, cell_limit: float, seed: int | None = None) -> dict:
        """Grade one notebook of `batch` (called from a worker's task threads, several at a time)."""
        slot: list[Any] = [threading.Event(), None]  # [set once answered, the answer]
        digest = hashlib.sha256(batch).hexdigest()
        with self._lock:
            if self._conn is None:
                raise RuntimeError("this worker's grading server is not running")
            if self._batch is None:  # the first notebook of the batch: its server gets the batch once
                self._conn.send_bytes(batch)
                self._batch = digest
            elif self._batch != digest:
                raise RuntimeError(
                    "this worker's grading server grades another batch (two `grade --cluster` "
                    "runs at once on one cluster?)"
                )
            self._count += 1
            rid = self._count
            self._waiting[rid] = slot
            self._conn.send(("grade", rid, name, data, float(cell_limit), seed))
        slot[0].wait()
        if "error" in slot[1]:
            raise RuntimeError(slot[1]["error"])
        return slot[1]


def grade_task(batch: bytes, name: str, data: bytes, cell_limit: float, seed: int | None = None) -> dict:
    """The Dask task: one notebook's bytes in (and the batch, a scattered object held once per worker), plain
    result data out. `seed`: this submission's own seed for drawn hidden cases (the secret stays with the
    client)."""
    from distributed import get_worker

    plugin = cast("GraderPlugin | None", get_worker().plugins.get(PLUGIN))  # the plugin of that name is ours
    if plugin is None:
        raise RuntimeError("this worker has no grader (its GraderPlugin did not start)")
    return plugin.grade(batch, name, data, cell_limit, seed)


def _job_data(job) -> dict:
    return {
        "results": job.results,
        "killers": {i: stop.to_wire() for i, stop in job.killers.items()},
        "out_of_time": bool(job.out_of_time),
        "review": list(job.review),
        "flooded": bool(job.flooded),
        "attempts": int(job.attempts),
        "elapsed": float(job.elapsed),
    }


def _warm_sanitising(assignment, others, scratch: Path, read_plan) -> None:
    """Sanitise the released notebook once: nbgrader's and nbformat's first-use costs (lazy imports, the
    notebook schema's validator) are paid before the first student's notebook, not during it."""
    import nbformat

    released = scratch / "released" / f"{assignment.notebook}.ipynb"
    released.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in assignment.release_cells]), released)
    read_plan(released, assignment, others)
    shutil.rmtree(released.parent, ignore_errors=True)


def serve(fd: int) -> int:
    """The grading server of one worker (`python -m autograder.cluster FD`)."""
    import dataclasses
    from multiprocessing.connection import Connection

    die_with_parent()  # a worker that dies takes its server, its engine and its jails with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    from .engine import Engine, EngineError
    from .pool import Job, run_jobs

    utils_dir = ROOT / "utils"
    engine = Engine(utils_root=utils_dir)  # forked before anything of the batch is read
    try:
        config = conn.recv()  # from the plugin, which the instructor's client sent
        if config["code"] != code_digest():
            conn.send(
                (
                    "error",
                    f"the worker at {os.uname().nodename} runs other course code than the client "
                    f"(digest {code_digest()}, the client's {config['code']}): give the workers the "
                    "same checkout of the course",
                )
            )
            return 1
        jail = None
        if config["jail"] is not None:
            from .sandbox import default_read_only, probe

            why = probe(str(utils_dir))
            if why is not None:
                conn.send(
                    (
                        "error",
                        f"the worker at {os.uname().nodename} cannot jail submissions ({why}); "
                        "see the README's cluster recipes, or grade trusted work with "
                        "--unsafe-shared-process",
                    )
                )
                return 1
            jail = {**config["jail"], "read_only": default_read_only(str(utils_dir))}
        jobs = max(1, int(config["jobs"]))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        threads = int(config["threads"] or max(1, cores // jobs))
        engine.warm(config["frameworks"], threads=threads)
        from . import skip_slow_optional_imports
        from .batch import read_plan

        skip_slow_optional_imports()
        import nbgrader.preprocessors  # noqa: F401 - while the engine imports the frameworks

        engine.wait_ready()
    except (EngineError, OSError, EOFError) as exc:
        try:
            conn.send(("error", f"the grading server could not start: {exc}"))
        except OSError:
            pass
        return 1
    conn.send(("ready", {"jobs": jobs, "threads": threads}))
    try:
        batch = pickle.loads(conn.recv_bytes())  # the batch: assignment, trusted tests, limits (the client's)
    except (EOFError, OSError):
        engine.close()
        return 0  # torn down before any notebook came
    scratch = Path(__import__("tempfile").mkdtemp(prefix="rnn-grader-"))
    assignment, others = batch["assignment"], batch["others"]
    _warm_sanitising(assignment, others, scratch, read_plan)

    def reply(rid, answer) -> None:
        try:
            conn.send((rid, answer))
        except OSError:
            pass

    class Requests:
        """The worker's requests as jobs for run_jobs (its `incoming`)."""

        done = False

        def fileno(self) -> int:
            return conn.fileno()

        def take(self, block: bool = False) -> list:
            made = []
            while not self.done and (block or conn.poll()):
                block = False
                try:
                    kind, rid, name, data, cell_limit, seed = conn.recv()
                except (EOFError, OSError, ValueError):
                    self.done = True  # the worker closed it: finish what runs, then exit
                    break
                folder = scratch / f"in-{rid}"
                folder.mkdir()
                path = folder / (Path(str(name)).name or "submission.ipynb")
                path.write_bytes(data)
                plan = read_plan(path, assignment, others)
                shutil.rmtree(folder, ignore_errors=True)
                if plan.invalid is not None:
                    reply(rid, {"plan": dataclasses.asdict(plan), "job": None})
                    continue
                job = Job(rid, plan.cells, str(scratch / f"run-{rid}"))
                job.cell_limit, job.plan = float(cell_limit), plan
                job.hidden_seed = int(seed) if seed is not None else None
                made.append(job)
            return made

    def finished(job) -> None:
        reply(job.key, {"plan": dataclasses.asdict(job.plan), "job": _job_data(job)})
        shutil.rmtree(job.workdir, ignore_errors=True)

    try:
        run_jobs(
            engine,
            [],
            jobs=jobs,
            cell_timeout=limits.CELL_TIMEOUT_CAP_S,
            notebook_timeout=batch["notebook_timeout"],
            memory_bytes=int(batch["memory_mb"]) * 2**20,
            on_finish=finished,
            jail=jail,
            incoming=Requests(),
            hidden_seed=batch["hidden_seed"],
            threads=threads,
        )
    finally:
        engine.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


# ----------------------------------------------------------------------------
# the client side: the `grade` command's engine when --cluster is given
# ----------------------------------------------------------------------------


class ClusterEngine:
    """Stands where the local Engine and run_jobs stand in grade._grade, and sends the jobs to Dask."""

    needs_full_assignment = True  # the workers sanitise with the released cells

    def __init__(
        self,
        address: str,
        *,
        unsafe_shared_process: bool = False,
        disk_mb: int = limits.DISK_MB,
        log=print,
        no_worker_wait: float | None = None,
    ):
        from . import skip_slow_optional_imports

        skip_slow_optional_imports()  # this process unpickles the assignment's cells, so it imports nbformat
        self.kind, self.target = parse_address(address)
        self.log = log
        self.address = (
            str(getattr(getattr(address, "scheduler", None), "address", "the given client"))
            if self.kind == "client"
            else address
        )
        self.no_worker_wait = NO_WORKER_WAIT if no_worker_wait is None else max(1.0, float(no_worker_wait))
        self.jail_setting = None if unsafe_shared_process else {"disk_mb": int(disk_mb)}
        self.client: Client | None = None
        self.cluster: LocalCluster | None = None
        self.batch: dict = {}  # what prepare_batch hands over
        self.failed: dict = {}

    def _connected(self) -> Client:
        """The client, once _connect has run."""
        assert self.client is not None, "_connect() comes first"
        return self.client

    def _connect(self) -> None:
        if self.client is not None:
            return
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("--cluster needs dask and distributed (pinned in requirements.txt: make setup)") from None
        try:
            if self.kind == "client":
                self.client = self.target
            elif self.kind == "local":
                import dask

                # processes, one submission graded at a time each (and the next one read meanwhile, in its
                # second task thread): the same cores as `--jobs N`, with Dask in between. A task
                # only waits on its worker's grading server, so Dask's diagnostics (a sampling profiler every
                # 10 ms and an event-loop check every 20 ms in every process) have nothing to show and would
                # take the cores the grading uses
                dask.config.set(
                    {
                        "distributed.worker.profile.enabled": False,
                        "distributed.admin.tick.interval": "1s",
                        "distributed.admin.system-monitor.interval": "2s",
                    }
                )
                self.cluster = LocalCluster(
                    n_workers=self.target,
                    threads_per_worker=2,
                    processes=True,
                    dashboard_address=None,
                    memory_limit=0,
                    silence_logs=logging.ERROR,
                )
                self.client = Client(self.cluster, timeout=CONNECT_TIMEOUT)
            elif self.kind == "file":
                self.client = Client(scheduler_file=str(self.target), timeout=CONNECT_TIMEOUT)
            else:
                self.client = Client(self.target, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"could not reach the Dask scheduler at {self.address}: {exc}") from None

    def warm(self, frameworks, threads: int = 1) -> None:
        """Start or reach the cluster, and have every worker start and warm its engine, while nbgrader reads the
        batch (in a thread: registering waits for the workers' engines)."""
        self._connect()
        self._registered: dict = {}
        self._registering = threading.Thread(target=self._register, args=(list(frameworks),), daemon=True)
        self._registering.start()

    def prepare_batch(self, **batch) -> None:
        self.batch = batch

    def close(self) -> None:
        import logging

        if self.kind == "local":  # its scheduler logs each worker's closed connection while it shuts down
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        if self.client is not None and self.kind != "local":  # a cluster that stays: its workers' engines go
            try:
                self.client.unregister_worker_plugin(PLUGIN)
            except Exception:  # a cluster already gone
                pass
        if self.kind == "client":  # the caller's client: theirs to close
            self.client = None
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a cluster that is already gone
                    pass
        self.client = self.cluster = None

    def _register(self, frameworks: list) -> None:
        """In a thread: the plugin on every worker (an error is kept for run_jobs to raise)."""
        config = {"frameworks": frameworks, "jail": self.jail_setting, "code": code_digest()}
        threads = None
        if self.kind == "local":  # the cores of this machine, shared as `--jobs N` shares them
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            threads = max(1, cores // self.target)
        try:
            self._connected().register_plugin(GraderPlugin(config, threads), name=PLUGIN)
        except Exception as exc:  # a worker's setup failed: say why, in its words
            self._registered["error"] = exc

    def _scatter_batch(self, notebook_timeout: float, memory_bytes: int, hidden_seed):
        """The batch, once per worker: a scattered object that every task names."""
        self._registering.join()
        exc = self._registered.get("error")
        if exc is not None:
            from .batch import JailUnavailable

            if "cannot jail" in str(exc):
                raise JailUnavailable(str(exc))
            raise ValueError(f"the cluster's workers could not start grading: {exc}")
        from .batch import Incomplete

        try:  # a cluster may be scaling up (or have lost every worker): wait, but not forever
            self._connected().wait_for_workers(1, timeout=self.no_worker_wait)
        except TimeoutError:
            raise Incomplete(f"the cluster at {self.address} has had no worker for {self.no_worker_wait:g} s") from None
        batch = self.batch
        data = pickle.dumps(
            {
                "assignment": batch["assignment"],
                "others": batch["others"],
                "fingerprint": batch["fingerprint"],
                "notebook_timeout": float(notebook_timeout),
                "memory_mb": int(memory_bytes) // 2**20,
                "hidden_seed": hidden_seed,
            }
        )
        return self._connected().scatter(data, broadcast=True, hash=False)

    def run_jobs(
        self,
        _engine,
        job_list: list,
        *,
        jobs,
        cell_timeout,
        notebook_timeout: float,
        memory_bytes: int,
        on_finish,
        jail=None,
        on_start=None,
        incoming=None,
        hidden_seed=None,
    ) -> None:
        """grade._grade's run_jobs, on the cluster: the same jobs in, the same on_finish calls out."""
        from distributed import as_completed

        from .batch import SOLUTION, Incomplete

        self._connect()
        batch = self._scatter_batch(notebook_timeout, memory_bytes, hidden_seed)
        limit = cell_timeout if callable(cell_timeout) else (lambda: cell_timeout)
        paths = self.batch["paths"]
        running: dict = {}
        finished = as_completed()  # told by each future as it ends (no wait over every future at each turn)
        pending = list(job_list)
        last_worker = [time.monotonic()]

        def submit(job) -> None:
            path = Path(paths[job.key])
            future = self._connected().submit(
                grade_task,
                batch,
                path.name,
                path.read_bytes(),
                float(limit()),
                job.hidden_seed,
                key=f"grade-{uuid.uuid4().hex}",
                pure=False,
            )
            running[future] = job
            finished.add(future)
            if on_start is not None:
                on_start(job)

        def collect(block: bool) -> None:
            if not running:
                return
            done = finished.next_batch(block=False) if finished.has_ready() else []
            if not done and block:
                time.sleep(0.05)
            for future in done:
                job = running.pop(future)
                self._settle(job, future, on_finish)
            now = time.monotonic()
            if now - last_worker[0] > 2.0:
                if self._connected().nthreads():
                    last_worker[0] = now
                elif now - last_worker[0] > self.no_worker_wait:
                    raise Incomplete(f"the cluster at {self.address} has had no worker for {self.no_worker_wait:g} s")

        # the solution first, alone: the per-cell limit of everyone else comes from its run
        if pending and pending[0].key == SOLUTION:
            submit(pending.pop(0))
            while running:
                collect(block=True)
        for job in pending:
            submit(job)
        while running or (incoming is not None and not incoming.done):
            if incoming is not None and not incoming.done:
                for job in incoming.take(block=not running):
                    submit(job)
            collect(block=True)
        if self.failed:
            names = ", ".join(sorted(self.failed)[:5]) + (" ..." if len(self.failed) > 5 else "")
            first = next(iter(self.failed.values()))
            raise Incomplete(f"{len(self.failed)} submission(s) could not be graded on the cluster ({names}: {first})")

    def _settle(self, job, future, on_finish) -> None:
        """One finished task: its plain data checked and put on the job, or the job left ungraded."""
        try:
            answer = future.result()
        except Exception as exc:  # KilledWorker, a server that stopped, ...
            self.failed[job.key] = f"{type(exc).__name__}: {str(exc)[:300]}"
            future.release()
            return
        future.release()
        from .assignment import Plan

        plan = Plan(**answer["plan"])  # the worker read and sanitised the notebook: its plan is the one graded
        self.batch["plans"][job.key] = plan
        job.cells = plan.cells
        data = answer["job"]
        if data is None:  # not a gradable notebook: its result says why, as a local run's does
            job.finished = True
            on_finish(job)
            return
        job.results = {int(i): r for i, r in dict(data["results"]).items() if isinstance(r, dict)}
        job.killers = {int(i): Stop.from_wire(w) for i, w in dict(data["killers"]).items()}
        job.out_of_time, job.flooded = bool(data["out_of_time"]), bool(data["flooded"])
        job.review = [str(t)[:300] for t in list(data["review"])[:20]]
        job.attempts, job.elapsed = int(data["attempts"]), float(data["elapsed"])
        job.finished = True
        on_finish(job)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
