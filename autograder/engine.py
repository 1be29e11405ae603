"""The warm engine: a fresh interpreter that starts knowing nothing, and forks one child per submission.

The grading process starts the engine with `python -m autograder.engine`, an
empty environment (only the variables named in ENGINE_ENVIRONMENT), no
argument, its working directory at `/`, and one descriptor: a socket on its
standard input. The engine then imports the frameworks once (numpy, IPython,
`utils`, and torch / tensorflow when the assignment uses them) and forks a
child for each submission, handing it two descriptors: one to read its job
from, one to report on. Every jail descends from this process, so nothing a
jail could find in the memory it inherits ever entered it: not the grader's
environment (a hub's API token), not its command line, not the secret seed or
its file, not the paths of OUT or source/, not another student's notebook.
Secrets reach only the trusted process of one submission, through its job
pipe, after the student's process has been forked away from it.

It reports each child's exit status, reaps the jails' processes (a child
subreaper), removes each job's scratch folder when the job ends, and dies with
the grading process (PR_SET_PDEATHSIG, and the end of its socket).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

# the engine's whole environment: values the frameworks need, fixed here ...
ENGINE_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ logging
    "TF_ENABLE_ONEDNN_OPTS": "0",  # TensorFlow's oneDNN notice on stderr
    "MPLBACKEND": "Agg",  # matplotlib without a display
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",  # no per-user packages beside the course's venv
    "LC_ALL": "C.UTF-8",
    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",  # ctypes.util.find_library runs ldconfig
}
# ... and these few taken from the grader's environment when it has them (where caches and configuration
# live; which GPUs may be used). Nothing else of the grader's environment reaches the engine.
ENGINE_PASSED_ON = ("HOME", "TZ", "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "CUDA_VISIBLE_DEVICES")


def engine_environment(grader_env=None) -> dict:
    """The environment the engine is started with (see ENGINE_ENVIRONMENT and ENGINE_PASSED_ON)."""
    grader_env = os.environ if grader_env is None else grader_env
    env = {name: grader_env[name] for name in ENGINE_PASSED_ON if name in grader_env}
    env.update(ENGINE_ENVIRONMENT)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), ENGINE_ENVIRONMENT["PATH"]])
    return env


class EngineError(RuntimeError):
    pass


class Engine:
    """The grading process's handle on the engine process (see the module docstring).

    `Engine()` starts it at once, before anything of the batch is read; `warm()` has it import the
    frameworks; `spawn(fds)` forks a child for one submission; `wait(pid)` gives the child's status."""

    def __init__(self, utils_root: Path | None = None):
        import socket

        self.utils_root = str(utils_root) if utils_root is not None else None
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.statuses: dict = {}
        self.ready = False
        try:
            # the course's code is found from its folder (cwd); the engine moves to / as it starts
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "autograder.engine"],
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=engine_environment(),
                cwd=str(Path(__file__).resolve().parents[1]),
                close_fds=True,
            )
        finally:
            theirs.close()
        self.pid = self.proc.pid

    def warm(self, frameworks, threads: int = 1) -> None:
        """Import these frameworks in the engine (it answers `ready` once they are); each child's
        framework may use `threads` threads."""
        self.sock.send(
            json.dumps(
                {"op": "warm", "frameworks": list(frameworks), "threads": int(threads), "utils": self.utils_root}
            ).encode()
        )

    def _receive(self, block: bool = True):

        self.sock.setblocking(block)
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return None
        except (ConnectionError, OSError):
            data = b""
        if not data:
            raise EngineError("the grading engine process died")
        msg = json.loads(data)
        if msg.get("exited") is not None:
            self.statuses[int(msg["exited"])] = int(msg["status"])
        return msg

    def wait_ready(self) -> None:
        while not self.ready:
            msg = self._receive()
            if "error" in msg:
                raise EngineError(msg["error"])
            self.ready = bool(msg.get("ready"))

    def spawn(self, fds: list) -> int:
        import socket

        self.wait_ready()
        self.sock.setblocking(True)
        socket.send_fds(self.sock, [b'{"op": "spawn"}'], fds)
        while True:
            msg = self._receive()
            if msg.get("spawned") is not None:
                return int(msg["spawned"])
            if "error" in msg:
                raise EngineError(msg["error"])

    def poll(self) -> None:
        while self._receive(block=False) is not None:
            pass

    def wait(self, pid: int, timeout: float = 30.0) -> int:
        """The wait status of child `pid` (as os.waitpid gives it)."""
        deadline = time.monotonic() + timeout
        while pid not in self.statuses:
            if time.monotonic() > deadline:
                return 9  # killed, as far as anyone can tell
            self.sock.settimeout(0.5)
            try:
                self._receive()
            except TimeoutError:
                pass
            except OSError:
                pass
        return self.statuses.pop(pid)

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.send(b'{"op": "quit"}')
        except OSError:
            pass
        self.sock.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ----------------------------------------------------------------------------
# the engine process
# ----------------------------------------------------------------------------


def _start_clean() -> object:
    """The engine's first steps: its socket off stdin, /dev/null on 0-2, nothing else open, cwd /."""
    import ctypes
    import socket

    sock = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: ends with the grading process
        libc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: a student's process whose trusted process ended is reaped here
    except Exception:  # not Linux
        pass
    os.chdir("/")
    sys.argv[:] = [sys.argv[0]]
    return sock


def _serve(sock) -> int:
    import shutil
    import socket
    import tempfile

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grading process's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sock.setblocking(True)
    try:
        request = json.loads(sock.recv(4096) or b"{}")
        if request.get("op") != "warm":
            return 0
        from .job import job_child
        from .warm import Warm

        utils_root = Path(request["utils"]) if request.get("utils") else None
        warm = Warm(
            tuple(str(f) for f in request.get("frameworks", [])),
            utils_root,
            threads=max(1, int(request.get("threads", 1))),
        )
    except BaseException as exc:
        sock.send(json.dumps({"error": f"could not start the grading engine: {type(exc).__name__}: {exc}"}).encode())
        return 1
    import gc

    gc.collect()
    gc.freeze()  # the warm objects leave the collector's view: children do not copy their pages by touching them
    scratch = tempfile.mkdtemp(prefix="autograder-engine-")  # one folder per job below it (a jail's mount point)
    sock.send(b'{"ready": true}')
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    children: dict = {}  # pid -> its scratch folder
    try:
        while True:
            readable, _, _ = select.select([sock, wake_r], [], [])
            if wake_r in readable:
                os.read(wake_r, 4096)
            while children:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid in children:
                    shutil.rmtree(children.pop(pid), ignore_errors=True)
                    sock.send(json.dumps({"exited": pid, "status": status}).encode())
            if sock not in readable:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(sock, 4096, 4)
            except OSError:
                data, fds = b"", []
            request = json.loads(data) if data else {"op": "quit"}
            if request.get("op") != "spawn" or len(fds) != 2:
                for pid in children:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return 0
            workdir = tempfile.mkdtemp(dir=scratch)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                for fd in (wake_r, wake_w, sock.fileno()):
                    os.close(fd)
                job_child(warm, fds[0], fds[1], workdir)
            for fd in fds:
                os.close(fd)
            children[pid] = workdir
            sock.send(json.dumps({"spawned": pid}).encode())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    sock = _start_clean()
    try:
        return _serve(sock)
    except BaseException:  # the grading process sees the socket close
        return 70


if __name__ == "__main__":
    sys.exit(main())
