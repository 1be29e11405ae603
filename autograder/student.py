"""The student's process of one job: it joins its control group, enters its jail (sandbox.py), then runs
the student's cells one at a time when the trusted process asks, with IPython's input transformer, a capped
capture of their output, an address-space and a file-size limit and an audit hook as a second line; between
cells it answers the trusted side's requests (channel.serve). It never sees a test cell, and has no
descriptor but its channel.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time

from .limits import (
    CELL_OUTPUT_CAP,
    MAX_FILE_MB,
    MESSAGE_CAP,
)
from .runtime import Capped, NotCompiled, describe_error, framework_threads, null_stdio
from .warm import CapturedUtils, Warm

PROTECTED_MODULES = (
    "builtins",
    "sys",
    "math",
    "os",
    "io",
    "json",
    "json.encoder",
    "numpy",
    "numpy.linalg",
    "numpy.testing",
    "torch",
    "tensorflow",
    "keras",
    "IPython",
    "IPython.core.interactiveshell",
    "IPython.core.ultratb",
    "autograder",
    "autograder.student",
    "autograder.runtime",
    "autograder.channel",
    "autograder.warm",
    "autograder.job",
)


def _inside(path, root: str) -> bool:
    try:
        full = os.path.realpath(os.fsdecode(path))
    except Exception:
        return False
    return full == root or full.startswith(root + os.sep) or full == os.devnull


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


_REFUSED = {
    "os.system": "running shell commands",
    "subprocess.Popen": "starting programs",
    "os.exec": "starting programs",
    "os.posix_spawn": "starting programs",
    "os.spawn": "starting programs",
    "os.fork": "forking",
    "os.forkpty": "forking",
    "pty.spawn": "starting programs",
    "os.killpg": "signalling other processes",
    "socket.connect": "network connections",
    "socket.bind": "network sockets",
    "socket.sendto": "network traffic",
    "socket.sendmsg": "network traffic",
    "gc.get_objects": "walking the interpreter's heap",
    "gc.get_referrers": "walking the interpreter's heap",
    "gc.get_referents": "walking the interpreter's heap",
    "sys.remote_exec": "attaching to processes",
}


_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.replace": (0, 1),
    "os.mkdir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.link": (0, 1),
    "os.symlink": (0, 1),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "shutil.move": (0, 1),
    "shutil.copyfile": (1,),
    "os.chflags": (0,),
    "os.lchown": (0,),
}


def _install_guard(root: str, state: dict) -> None:
    """Refuse (PermissionError) what a submission must not do; `state['armed']` switches it on."""
    my_pid = os.getpid()
    refuse = PermissionError
    inside = _inside

    def hook(event, args):
        if not state["armed"]:
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(path, int) or path is None:
                return
            writing = (isinstance(mode, str) and any(ch in mode for ch in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not inside(path, root):
                raise refuse(
                    f"the autograder does not allow writing {os.fsdecode(path)!r}: "
                    "only files in the working directory may be written"
                )
            return
        if event in _PATH_EVENTS:
            for i in _PATH_EVENTS[event]:
                if i < len(args) and args[i] is not None and not isinstance(args[i], int) and not inside(args[i], root):
                    raise refuse(
                        f"the autograder does not allow {event} on {os.fsdecode(args[i])!r} "
                        "(outside the working directory)"
                    )
            return
        if event == "os.kill":
            if args and args[0] != my_pid:
                raise refuse("the autograder does not allow signalling other processes")
            return
        if event in _REFUSED:
            raise refuse(f"the autograder does not allow {_REFUSED[event]} ({event})")

    sys.addaudithook(hook)


def _mem_now() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _snapshot_modules() -> dict:
    return {
        name: (sys.modules[name], dict(sys.modules[name].__dict__)) for name in PROTECTED_MODULES if name in sys.modules
    }


def _restore_modules(snap: dict) -> None:
    for name, (module, saved) in snap.items():
        d = module.__dict__
        for key in [k for k in d if k not in saved]:
            if sys.modules.get(f"{name}.{key}") is d[key]:
                continue  # a submodule imported lazily since the snapshot (numpy.random), not a patch
            try:
                del d[key]
            except Exception:
                pass
        d.update(saved)
        sys.modules[name] = module


def _quiet_process(workdir: str) -> None:
    import tempfile

    null_stdio()
    os.chdir(workdir)
    os.environ["TMPDIR"] = workdir
    os.environ["HOME"] = workdir
    tempfile.tempdir = workdir
    sys.dont_write_bytecode = True


def _enter_jail(header: dict, workdir: str) -> tuple:
    """Still root: join the jail's control group, then enter the jail. Returns (working folder, the memory
    size before the limits, against which RLIMIT_AS is set)."""
    if not header.get("jail"):
        return workdir, None
    from . import sandbox

    if header.get("cgroup"):  # before anything else: everything this process starts is in the group
        from .cgroups import JailGroup, Part

        group = header["cgroup"]
        JailGroup(str(group["name"]), tuple(Part(int(v), str(p), tuple(c)) for v, p, c in group["parts"])).join()
    memory_base = _mem_now()
    sandbox.enter(sandbox.Jail(**header["jail"]), workdir)
    return "/tmp", memory_base


def _set_limits(header: dict, memory_base) -> None:
    import resource

    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX: framework threads must not eat the address space
    except Exception:  # not glibc
        pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_MB * 2**20, MAX_FILE_MB * 2**20))
    if header.get("memory_bytes"):
        limit = (memory_base or _mem_now()) + int(header["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    framework_threads(int(header.get("threads", 1)))


def _plt_close(which) -> None:
    """Close the figures a cell left open, if it plotted at all."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(which)


def _cell_runner(warm: Warm, guard: dict, snap: dict, user_ns: dict):
    """run_cell(source, filename) for channel.serve. What it calls is bound here, as locals, before any student
    code runs (a patched module global changes nothing of it)."""
    now, real_exec, describe, restore_modules = time.monotonic, exec, describe_error, _restore_modules
    sha256, capped, plt_close = hashlib.sha256, Capped, _plt_close

    def run_cell(source: str, filename: str) -> dict:
        # each cell arrives with the request to run it (this process keeps no list of cells that its own
        # code could edit), and is compiled here, in the jail: a compiler bomb takes down only this process
        try:
            code = warm.compile_cell(str(source), str(filename))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            code = NotCompiled(type(exc).__name__, str(exc)[:MESSAGE_CAP])
        out = capped(CELL_OUTPUT_CAP)
        sys.stdout = sys.stderr = out
        started = now()
        guard["armed"] = True
        try:
            if isinstance(code, NotCompiled):
                raise code
            real_exec(code, user_ns)
            result: dict[str, object] = {"status": "ok"}
        except BaseException as exc:  # the student's error is reported, grading goes on
            guard["armed"] = False
            restore_modules(snap)
            result = {"status": "error", "message": describe(exc)[:MESSAGE_CAP]}
            if isinstance(exc, MemoryError):
                result["restart"] = True
        guard["armed"] = False
        restore_modules(snap)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        result["seconds"] = round(now() - started, 3)
        try:
            plt_close("all")
        except BaseException:  # a figure the student's code broke: nothing to report
            pass
        result["output_chars"] = out.size
        # a digest of what the cell printed: lets a test compare a graded run with the notebook run
        # (a fixed-size hex string; it never reaches feedback, the report or the CSV files)
        result["output_digest"] = sha256(out.text().encode("utf-8", "replace")).hexdigest()
        if out.size > CELL_OUTPUT_CAP:
            result["truncated"] = True
        return result

    return run_cell


def _own_work(obj, meta) -> None:
    """utils.checks.check_own_work on an answer, here where it runs (channel's `own_work` request)."""
    from utils.checks import check_own_work

    if not isinstance(meta, dict):
        raise TypeError("a malformed request")
    check_own_work(
        obj,
        str(meta.get("what", "")),
        forbids=list(meta.get("forbids", [])),
        instead=str(meta.get("instead", "")),
        allows=list(meta.get("allows", [])),
    )


def student_main(warm: Warm, fd: int, workdir: str) -> int:
    """The student's process: told its cells by the trusted side, it enters the jail, then runs a cell
    or answers a request (channel.serve) whenever asked. Nothing it sends is believed beyond its data."""
    from . import channel

    header, _ = channel.recv_message(fd)
    workdir, memory_base = _enter_jail(header, workdir)
    _quiet_process(workdir)
    _set_limits(header, memory_base)
    # the utils modules the engine imported stay (nothing trusted depends on them here); any other is
    # served from the code captured when the engine started, whatever happened on disk since
    sys.meta_path[:] = [CapturedUtils(warm.utils_code), *sys.meta_path]
    snap = _snapshot_modules()
    shell = warm.shell
    user_ns = shell.user_ns
    user_ns["__name__"] = "__main__"
    shell.showtraceback = lambda *a, **k: None  # type: ignore[method-assign]  # the child reports errors itself
    guard = {"armed": False}
    _install_guard(os.path.realpath(workdir), guard)

    def arm(on: bool) -> None:  # a request runs the student's code: the guard is on while it does
        guard["armed"] = on
        if on:
            sys.stdout = sys.stderr = Capped(CELL_OUTPUT_CAP)  # what the student's code prints is dropped
        else:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__

    channel.serve(fd, user_ns, _cell_runner(warm, guard, snap, user_ns), _own_work, arm)
    return 0
