"""Run submissions in forked children of a warm engine, each as two processes: the student's and the trusted one.

The engine imports the heavy libraries once (numpy, IPython, the course
`utils`, and torch / tensorflow / matplotlib when the assignment uses them) and
captures the code of `utils`; it holds nothing of any student. For each
submission (`jobs` at a time) it forks a child, which at once forks again,
before it has read anything of the job:

- the student's process enters its OS jail (sandbox.py), receives only the
  student's cells, compiles them there, and runs each when asked, with
  IPython's input transformer (magics work), a capped capture of its output,
  an address-space and a file-size limit, and an audit hook as a second line;
  between cells it answers the trusted side's requests (channel.py): read a
  name, call a function, read an object through a handle. It never sees a
  test cell, and has no descriptor but its channel;
- the trusted process reads the job (the student's cells and the tests, the
  hidden ones included), walks the notebook in order, has the student's
  process run each of its cells, and runs each test cell itself against the
  student's answers as they come back through the channel: plain data only,
  so the expected values, the comparison, the points and the status are
  decided where no student code runs. It reports each cell's start and result
  to the grading process through a pipe.

The grading process enforces per-cell and per-notebook time limits by killing
the trusted process (the student's dies with it); when a job dies (timeout,
os._exit in a function a test called, a signal) it forks a fresh one that
re-runs the student's cells and continues after the cell that killed the
previous one, so later tests are still graded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from . import die_with_parent
from .assignment import HIDDEN_BEGIN
from .batch import Stop, StopKind
from .limits import (
    CELL_OUTPUT_CAP,
    GROUP_MEMORY_MARGIN,
    MAX_FILE_MB,
    MAX_PROCESSES,
    MAX_REVIEW,
    MESSAGE_CAP,
    NOTE_CAP,
    REPORT_CAP,
)

if TYPE_CHECKING:  # for the annotations only: the engine module imports this one in its own process
    from .engine import Engine

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
    "autograder.worker",
)


# ----------------------------------------------------------------------------
# the warm parent
# ----------------------------------------------------------------------------


class Warm:
    """Everything captured in the parent before the first fork."""

    def __init__(self, frameworks=(), utils_root: Path | None = None, threads: int | None = None):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        os.environ["MPLBACKEND"] = "Agg"
        import warnings

        import numpy  # noqa: F401

        if "matplotlib" in frameworks:  # an assignment that plots (MPLBACKEND=Agg holds for any other import)
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot
        warnings.filterwarnings("ignore", message=".*oneDNN.*")
        for name in frameworks:
            if name != "matplotlib":
                __import__(name)
        if "tensorflow" in frameworks:
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            if threads:  # before the first op: the children inherit the configured context
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            # no op runs here: TensorFlow's runtime (its thread pools) must start in each forked child,
            # since a pool started here has no threads there (any tf.function, fit() or large op hangs)
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        self.shell = InteractiveShell.instance(config=config)
        self.utils_code = capture_utils(utils_root)
        import importlib

        import utils  # noqa: F401 - warm the real package too (its dependencies stay imported)

        # what every test cell and most answers import: imported once here instead of in every process
        adapters = {"torch": "utils.torch_utils", "tensorflow": "utils.tf_utils"}
        for name in (
            "utils.checks",
            "utils.rnn",
            "utils.metrics",
            "utils.evaluation",
            *(adapters[f] for f in frameworks if f in adapters),
        ):
            try:
                importlib.import_module(name)
            except Exception:  # a test that needs it meets the error itself
                pass

    def compile_cell(self, source: str, filename: str):
        """IPython's input transformations (magics, !shell) then Python's compiler."""
        try:
            text = self.shell.transform_cell(source)
        except Exception:  # leave it to the compiler to report
            text = source
        return compile(text, filename, "exec", dont_inherit=True)


def capture_utils(root: Path | None = None) -> dict:
    """Compile every module of the `utils` package now: name -> (path, is_package, code)."""
    if root is None:
        import utils

        root = Path(utils.__file__).resolve().parent
    captured = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        name = ".".join(parts)
        captured[name] = (
            str(path),
            is_pkg,
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True),
        )
    return captured


class _CapturedUtils:
    """A meta-path finder/loader serving `utils*` from code compiled in the parent."""

    def __init__(self, code: dict):
        self.code = code

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.code:
            return None
        import importlib.util

        origin, is_pkg, _ = self.code[fullname]
        # typeshed's LoaderProtocol asks for the old load_module; this loader has exec_module
        spec = importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=is_pkg)  # type: ignore[arg-type]
        assert spec is not None  # spec_from_loader with a loader always makes one
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [str(Path(origin).parent)]
        return spec

    def create_module(self, spec):
        return None

    def get_resource_reader(self, fullname):
        """importlib.resources for a package served from captured code: its files are read from the
        package's folder (bound read-only in the jail), as the file-system loader would. Without it,
        utils.data's corpus fails in every jail ("Can't open orphan path")."""
        if fullname not in self.code or not self.code[fullname][1]:
            return None
        from importlib.readers import FileReader
        from types import SimpleNamespace

        return FileReader(SimpleNamespace(path=self.code[fullname][0]))  # type: ignore[arg-type]  # reads only .path

    def exec_module(self, module):
        origin, _, code = self.code[module.__name__]
        module.__file__ = origin
        exec(code, module.__dict__)  # the course's own code, compiled before forking


# ----------------------------------------------------------------------------
# the child
# ----------------------------------------------------------------------------


class _Capped(io.TextIOBase):
    parts: list[str]

    def __init__(self, cap: int):
        self.cap, self.parts, self.size = cap, [], 0

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        if self.size < self.cap:
            self.parts.append(s[: self.cap - self.size])
        self.size += len(s)
        return len(s)

    def flush(self):
        pass

    def text(self) -> str:
        return "".join(self.parts)


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


class _NotCompiled(Exception):
    """A cell Python could not compile: its message reads like the compiler's own ("SyntaxError: ...")."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _describe(exc) -> str:
    """One line for a failure, as a student reads it: the check's own message for a failed check
    (no internal class name in front), `Kind: message` otherwise."""
    if isinstance(exc, _NotCompiled):
        return f"{exc.kind}: {exc}"
    if type(exc).__name__ == "StudentError" and type(exc).__module__ == "autograder.channel":
        return str(exc)  # "YourError: its text", as the student's own class is named
    if isinstance(exc, AssertionError) and str(exc):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _locate_failure(exc, filename: str) -> int | None:
    """The line of the test cell where `exc` passed through (None if not found)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def job_child(warm: Warm, spec_fd: int, wfd: int, workdir: str) -> None:
    """Body of a child forked by the engine for one submission. Never returns: it ends with os._exit.

    It keeps only the job's two descriptors, then splits into the student's process and the trusted
    process (`_split_job`)."""
    code = 70
    try:
        # nothing the grader's own process inherited (make's jobserver pipe, a terminal, a log file)
        # may reach the submission: only the job's two descriptors stay open
        for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
            if name.isdigit() and int(name) > 2 and int(name) not in (spec_fd, wfd):
                try:
                    os.close(int(name))
                except OSError:
                    pass
        _split_job(warm, spec_fd, wfd, workdir)  # never returns
    except BaseException:  # a child never unwinds into the engine's code
        code = 70
    os._exit(code)


# ----------------------------------------------------------------------------
# trusted verdicts: the test cells in a trusted process, the student's cells in the jailed one
# ----------------------------------------------------------------------------


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _split_job(warm: Warm, spec_fd: int, wfd: int, workdir: str) -> None:
    """One submission as two processes. This one forks the student's process FIRST, while it still
    holds nothing of the job (no hidden test, no other cell), then reads the job, hands the student's
    process only the student's cells, and runs the test cells itself: it is the trusted side, and the
    verdict (expected values, comparisons, points, status) never leaves it. Never returns."""
    import socket

    die_with_parent()
    os.setpgid(0, 0)  # the unsafe mode kills the job's process group: both sides
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            mine.close()
            os.close(spec_fd)
            os.close(wfd)
            die_with_parent()
            code = _student_main(warm, theirs.detach(), workdir)
        finally:
            os._exit(code)
    theirs.close()
    code = 70
    try:
        spec = json.loads(_read_all(spec_fd))
        code = _trusted_main(warm, spec, wfd, mine.detach(), pid)
    finally:
        os._exit(code)


def _null_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)


def _quiet_process(workdir: str) -> None:
    import tempfile

    _null_stdio()
    os.chdir(workdir)
    os.environ["TMPDIR"] = workdir
    os.environ["HOME"] = workdir
    tempfile.tempdir = workdir
    sys.dont_write_bytecode = True


def _framework_threads(threads: int) -> None:
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except Exception:  # already initialised: keep its threads
            pass


def _student_main(warm: Warm, fd: int, workdir: str) -> int:
    """The student's process: told its cells by the trusted side, it enters the jail, then runs a cell
    or answers a request (channel.serve) whenever asked. Nothing it sends is believed beyond its data."""
    import resource

    from . import channel

    header, _ = channel.recv_message(fd)
    memory_base = None
    if header.get("jail"):
        from . import sandbox

        if header.get("cgroup"):  # still root: join the jail's own control group before anything else
            from .cgroups import JailGroup, Part

            group = header["cgroup"]
            JailGroup(str(group["name"]), tuple(Part(int(v), str(p), tuple(c)) for v, p, c in group["parts"])).join()
        memory_base = _mem_now()
        sandbox.enter(sandbox.Jail(**header["jail"]), workdir)
        workdir = "/tmp"
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX: framework threads must not eat the address space
    except Exception:
        pass
    _quiet_process(workdir)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_MB * 2**20, MAX_FILE_MB * 2**20))
    if header.get("memory_bytes"):
        limit = (memory_base or _mem_now()) + int(header["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _framework_threads(int(header.get("threads", 1)))
    # the utils modules the engine imported stay (nothing trusted depends on them here); any other is
    # served from the code captured when the engine started, whatever happened on disk since
    sys.meta_path[:] = [_CapturedUtils(warm.utils_code), *sys.meta_path]
    snap = _snapshot_modules()
    shell = warm.shell
    user_ns = shell.user_ns
    user_ns["__name__"] = "__main__"
    shell.showtraceback = lambda *a, **k: None  # type: ignore[method-assign]  # the child reports errors itself

    def plt_close(which):  # the figures a cell left open, if it plotted at all
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(which)

    guard = {"armed": False}
    _install_guard(os.path.realpath(workdir), guard)
    now, real_exec, describe = time.monotonic, exec, _describe

    def run_cell(source: str, filename: str) -> dict:
        # each cell arrives with the request to run it (this process keeps no list of cells that its own
        # code could edit), and is compiled here, in the jail: a compiler bomb takes down only this process
        try:
            code = warm.compile_cell(str(source), str(filename))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            code = _NotCompiled(type(exc).__name__, str(exc)[:MESSAGE_CAP])
        out = _Capped(CELL_OUTPUT_CAP)
        sys.stdout = sys.stderr = out
        started = now()
        guard["armed"] = True
        try:
            if isinstance(code, _NotCompiled):
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
        except BaseException:
            pass
        result["output_chars"] = out.size
        # a digest of what the cell printed: lets a test compare a graded run with the notebook run
        # (a fixed-size hex string; it never reaches feedback, the report or the CSV files)
        result["output_digest"] = hashlib.sha256(out.text().encode("utf-8", "replace")).hexdigest()
        if out.size > CELL_OUTPUT_CAP:
            result["truncated"] = True
        return result

    def own_work(obj, meta) -> None:
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

    restore_modules = _restore_modules

    def arm(on: bool) -> None:  # a request runs the student's code: the guard is on while it does
        guard["armed"] = on
        if on:
            sys.stdout = sys.stderr = _Capped(CELL_OUTPUT_CAP)  # what the student's code prints is dropped
        else:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__

    channel.serve(fd, user_ns, run_cell, own_work, arm)
    return 0


def _test_names(code) -> list:
    """Names a test cell reads but never binds itself (the student's answers), from its syntax tree."""
    import ast
    import builtins as _builtins

    tree = ast.parse(code) if isinstance(code, str) else code
    loads, binds = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loads.append(node.id)
            else:
                binds.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                binds.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, ast.arg):
            binds.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            binds.add(node.name)
    seen, out = set(), []
    for name in loads:
        if name not in binds and name not in seen and not hasattr(_builtins, name):
            seen.add(name)
            out.append(name)
    return out


_BY_NAME = {
    "__import__": "__import__",
    "exec": "exec",
    "eval": "eval",
    "compile": "compile",
    "import_module": "importlib.import_module",
}


def dynamic_imports(source: str) -> list:
    """What in a student's cell imports a module or runs code by name (importlib, __import__, exec or
    eval on a string): a call to a forbidden helper could hide behind it, so the instructor is told."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # a magic or a syntax error: the cell's own error says so
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] == "importlib" for n in names):
                found.append("importlib")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in _BY_NAME:
                found.append(_BY_NAME[name])
    return sorted(set(found))


HIDDEN_MARK = "__autograder_hidden__"


def marked_test_source(source: str) -> str:
    """A test cell's source with a call of HIDDEN_MARK on each `### BEGIN HIDDEN TESTS` line (indented as
    the block's next statement, the marker kept as its comment): when the hidden test starts, the trusted
    side knows it. The lines keep their numbers."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if line.strip() != HIDDEN_BEGIN:
            continue
        following = next((x for x in lines[i + 1 :] if x.strip() and not x.lstrip().startswith("#")), "")
        indent = following[: len(following) - len(following.lstrip())]
        lines[i] = f"{indent}{HIDDEN_MARK}()  {HIDDEN_BEGIN}"
    marked = "\n".join(lines)
    import ast

    tree = ast.parse(marked)  # a SyntaxError: the caller counts the cell as hidden from its start
    names = sum(1 for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == HIDDEN_MARK)
    alone = sum(
        1
        for n in ast.walk(tree)
        if isinstance(n, ast.Expr)
        and isinstance(n.value, ast.Call)
        and isinstance(n.value.func, ast.Name)
        and n.value.func.id == HIDDEN_MARK
        and not n.value.args
        and not n.value.keywords
    )
    if alone != names:  # a mark inside brackets (a list of cases) would be part of an expression: `mark()(case)`
        raise SyntaxError("a hidden block's mark is not a statement of its own")
    return marked


def _hidden_safe_result(result: dict, link) -> dict:
    """A student cell's result once its process has received hidden inputs: the cell's number and the
    built-in class of its error, no text of the student's."""
    from .channel import builtin_error_name

    if result.get("status") != "error" or not link.tainted:
        return result
    kind = builtin_error_name(str(result.get("message", "")).split(":", 1)[0].strip())
    message = (
        f"{kind} (its message is not shown: your code had received hidden inputs)"
        if kind
        else "an error (not shown: your code had received hidden inputs)"
    )
    return {**result, "message": message}


def _trusted_main(warm: Warm, spec: dict, wfd: int, fd: int, student_pid: int) -> int:
    """The trusted side of one submission: walks the notebook, has the student's process run each of
    its cells, runs each test cell here against the student's answers (through the channel), and
    reports to the grading process."""
    import builtins as _builtins

    from . import channel

    _null_stdio()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    secret, cells = spec["secret"], spec["cells"]
    skip, done = set(spec["skip"]), set(spec["done"])

    def send(obj):
        data = ("\n" + secret + " " + json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(wfd, data) :]

    channel.send_message(
        fd,
        {
            "jail": spec.get("jail"),
            "cgroup": spec.get("cgroup"),
            "memory_bytes": spec["memory_bytes"],
            "threads": spec["threads"],
        },
        [],
    )
    link = channel.TrustedChannel(fd)
    for cell in cells:  # read here, where no student code runs
        if cell["kind"] != "test":
            found = dynamic_imports(cell["source"])
            if found:
                send(
                    {
                        "t": "review",
                        "text": f"{cell['label']} imports or runs code by name ({', '.join(found)}): "
                        "a call to a forbidden helper could hide behind it; read it",
                    }
                )
    import utils.checks

    utils.checks.use_grader(link.make, spec.get("hidden_seed"))
    _framework_threads(int(spec["threads"]))

    def student_gone() -> int:
        """The student's process died: pass its end on, as the jail's middle process does."""
        try:
            _, status = os.waitpid(student_pid, 0)
        except ChildProcessError:
            return 70
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status) or 70

    for index, cell in enumerate(cells):
        if index in skip or index in done:
            continue
        send({"t": "start", "i": index})
        if cell["kind"] != "test":
            try:
                result = _valid_result(link.request("run", source=cell["source"], filename=cell["filename"]))
                if result["status"] not in ("ok", "error"):  # a student cell never passes or fails a test
                    result = {
                        **result,
                        "status": "error",
                        "message": "your process reported a status it cannot give: " + result["status"],
                    }
            except channel.ChannelClosed:
                return student_gone()
            except (channel.ChannelError, ValueError, TypeError) as exc:
                result = {
                    "status": "error",
                    "message": f"your process answered something the grader cannot read ({exc})"[:MESSAGE_CAP],
                    "restart": True,
                }
            send({"t": "end", "i": index, "r": _hidden_safe_result(result, link)})
            if result.get("restart"):
                return 0
            continue
        out = _Capped(CELL_OUTPUT_CAP)
        started = time.monotonic()
        requests_before = link.seq
        filename = cell["filename"]
        broken = False
        try:
            try:
                code = compile(marked_test_source(cell["source"]), filename, "exec", dont_inherit=True)
            except SyntaxError:  # the marks did not fit this cell's layout: it counts as hidden from its start
                code = compile(cell["source"], filename, "exec", dont_inherit=True)
                if HIDDEN_BEGIN in cell["source"]:
                    link.enter_hidden()
            namespace = {"__name__": "__main__", "__builtins__": _builtins, HIDDEN_MARK: link.enter_hidden}
            for name in _test_names(cell["source"]):
                try:
                    namespace[name] = link.request("get", name=name)
                except NameError:
                    pass  # not defined by the student: the test meets the NameError where it uses the name
            sys.stdout = sys.stderr = out
            exec(code, namespace)  # the instructor's test, in the trusted process
        except channel.ChannelClosed:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            return student_gone()
        except channel.ChannelError as exc:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            broken = True
            result = {
                "status": "error",
                "message": f"your process answered something the grader cannot read ({exc}); the test scores nothing"[
                    :MESSAGE_CAP
                ],
            }
        except BaseException as exc:  # a failing test is the data we want
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            result = {
                "hidden_case": isinstance(getattr(exc, "hidden_kind", None), str),  # utils.checks.hidden_case
                "status": "failed" if isinstance(exc, AssertionError) else "error",
                "line": _locate_failure(exc, filename),
                "message": _describe(exc),
            }
        else:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            result = {"status": "passed", "message": ""}
        if link.tainted:  # no string the student's process sent since it saw hidden inputs is quoted
            result["message"] = link.scrub(result.get("message", ""))
        result["message"] = result.get("message", "")[:MESSAGE_CAP]  # cut after the scrub, never before
        result["seconds"] = round(time.monotonic() - started, 3)
        result["requests"] = link.seq - requests_before  # what this test asked the student's process
        result["output_chars"] = out.size
        if out.size > CELL_OUTPUT_CAP:
            result["truncated"] = True
        if broken:
            result["restart"] = True
        send({"t": "end", "i": index, "r": result})
        for note in link.notes:
            send({"t": "review", "text": f"{cell['label'] if 'label' in cell else 'a test'}: {note}"})
        link.notes.clear()
        if broken:
            return 0
    send({"t": "done"})
    # the student's process has nothing left to do: it is killed with its jail when this process exits
    # (PR_SET_PDEATHSIG) and reaped by the engine (a child subreaper), while the next job starts
    return 0


# ----------------------------------------------------------------------------
# the pool in the parent
# ----------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------
# the engine: a warm process that holds nothing of any student, and forks one child per submission
# ----------------------------------------------------------------------------

STATUS_WORDS = ("ok", "passed", "failed", "error", "tampered")


def _valid_result(r) -> dict:
    """A child's report on one cell, reduced to plain fields of known types (it is untrusted data)."""
    if not isinstance(r, dict):
        raise ValueError("a result that is not a dict")
    status = r.get("status")
    if status not in STATUS_WORDS:
        raise ValueError(f"an unknown status word {str(status)[:40]!r}")
    out = {"status": status, "message": str(r.get("message", ""))[:MESSAGE_CAP]}
    line = r.get("line")
    if isinstance(line, int) and not isinstance(line, bool):
        out["line"] = line
    for key in ("seconds",):
        if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool):
            out[key] = float(r[key])
    requests = r.get("requests")
    if isinstance(requests, int) and not isinstance(requests, bool) and requests >= 0:
        out["requests"] = requests
    size = r.get("output_chars")
    out["output_chars"] = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0
    digest = r.get("output_digest")
    if isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
        out["output_digest"] = digest
    if r.get("truncated") is True:
        out["truncated"] = True
    if r.get("hidden_case") is True:
        out["hidden_case"] = True
    if r.get("restart") is True:
        out["restart"] = True
    return out


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
    pending = list(jobs_list)
    running: dict = {}  # rfd -> job
    cell_limit = cell_timeout if callable(cell_timeout) else (lambda: cell_timeout)
    if threads is None:
        threads = max(
            1,
            (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) // max(1, jobs),
        )
    counter = [0]
    groups = _jail_groups() if jail is not None else None  # control groups per jail, where the grader may make them
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # the jail's group may hold `memory_bytes` beyond the warm pages it inherits and may copy (the engine's
    # resident size): one process that allocates too much then meets its RLIMIT_AS first (a MemoryError
    # the student can read, the same on every run), and the group stops what that limit cannot see
    # (children forked by any means, shared memory)
    group_memory: list = []  # read once the engine is warm

    def jail_memory() -> int:
        if not group_memory:
            if hasattr(engine, "wait_ready"):
                engine.wait_ready()
            group_memory.append(int(memory_bytes) + _resident_bytes(getattr(engine, "pid", None)) + GROUP_MEMORY_MARGIN)
        return group_memory[0]

    def start(job):
        job.attempts += 1
        job.secret = secrets.token_hex(16)
        job.buffer, job.current, job.done, job.received = b"", None, False, 0
        rfd, wfd = os.pipe()
        spec_r, spec_w = os.pipe()
        spec = {
            "cells": [
                {
                    "kind": c["kind"],
                    "source": c["source"],
                    "label": c["label"],
                    "filename": f"<test {c['grade_id']}>" if c["kind"] == "test" else f"<{c['label']}>",
                }
                for i, c in enumerate(job.cells)
            ],
            "skip": sorted(job.skip),
            "done": sorted(i for i in job.results if job.cells[i]["kind"] == "test"),
            "secret": job.secret,
            "memory_bytes": memory_bytes,
            "threads": threads,
            # this submission's own seed (grade.submission_seed), read by the trusted process only
            "hidden_seed": job.hidden_seed if job.hidden_seed is not None else hidden_seed,
            "jail": None,
        }
        if jail is not None:
            from .uids import lease_uid

            counter[0] += 1
            job.uid_lease = lease_uid()  # a uid no other jail on this host uses while this one runs
            spec["jail"] = {**jail, "uid": job.uid_lease.uid}
            if groups is not None:
                # memory (shared memory included), processes and CPU for the whole jail: a share of the cores
                # no larger than its share of the batch, so that no jail slows a classmate's past its limit
                job.group = groups.jail(
                    f"job-{counter[0]}",
                    memory_bytes=jail_memory(),
                    max_pids=int(jail.get("max_processes", MAX_PROCESSES)),
                    cpu_cores=max(1.0, cores / max(1, jobs)),
                )
                spec["cgroup"] = {
                    "name": job.group.name,
                    "parts": [[p.version, p.path, list(p.controllers)] for p in job.group.parts],
                }
        try:
            job.pid = engine.spawn([spec_r, wfd])
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
        running[rfd] = job
        if on_start is not None:
            on_start(job)

    def handle(job, line: bytes):
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
                job.results.setdefault(i, _valid_result(msg.get("r")))
                if job.results[i].get("restart"):
                    job.restart.add(i)
                job.current = None
        except (ValueError, TypeError, AttributeError, RecursionError):
            return  # a malformed report is ignored, like any other noise on the pipe

    def kill(job):
        try:
            if jail is None:
                os.killpg(job.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(job.pid, signal.SIGKILL)  # in a jail: its PID 1 and everything under it follow
        except OSError:
            pass

    def release_jail(job):
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

    def finish_attempt(job, how: str):
        """The child is gone: read what it said, decide whether to fork again."""
        running.pop(job.rfd, None)
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
        if how != "exited":
            kill(job)
        status = engine.wait(job.pid)
        release_jail(job)
        for line in job.buffer.split(b"\n"):
            handle(job, line)
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
            if how == "cell-timeout":
                why = Stop(StopKind.CELL_TIMEOUT)
            elif how == "flood":
                why = Stop(StopKind.DIED, "it sent more than the grader reads about one notebook")
            else:
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                if sig is None and code is not None and code > 128 and jail is not None:
                    sig = code - 128  # the jail's middle process passes a signal on as 128 + n
                try:
                    name = signal.Signals(sig).name if sig else None
                except ValueError:
                    name = f"signal {sig}"
                why = Stop(StopKind.DIED, f"signal {name}" if sig else f"exit status {code}")
                if job.oom:
                    why = Stop(StopKind.DIED, f"it went over the memory limit of {memory_bytes // 2**20} MB")
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
        if job.finished:
            on_finish(job)
        else:
            pending.insert(0, job)

    try:
        while pending or running or (incoming is not None and not incoming.done):
            if incoming is not None and not incoming.done:
                pending.extend(incoming.take(block=not pending and not running))
            while pending and len(running) < jobs:
                start(pending.pop(0))
            watch = list(running) + ([incoming] if incoming is not None and not incoming.done else [])
            readable, _, _ = select.select(watch, [], [], 0.05)
            for rfd in readable:
                if rfd is incoming:
                    continue  # taken at the top of the loop
                job = running[rfd]
                try:
                    chunk = os.read(rfd, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:
                    finish_attempt(job, "exited")
                    continue
                job.received += len(chunk)
                if job.received > REPORT_CAP:
                    job.flooded = True
                    kill(job)
                    finish_attempt(job, "flood")
                    continue
                job.buffer += chunk
                *lines, job.buffer = job.buffer.split(b"\n")
                for line in lines:
                    handle(job, line)
                if len(job.buffer) > 2 * MESSAGE_CAP + CELL_OUTPUT_CAP:
                    job.buffer = b""  # a line longer than any report: noise
            t = time.monotonic()
            for job in list(running.values()):
                if job.elapsed + (t - job.attempt_started) > notebook_timeout:
                    kill(job)
                    finish_attempt(job, "notebook-timeout")
                elif job.current is not None and t - job.cell_started > (job.cell_limit or cell_limit()):
                    kill(job)
                    finish_attempt(job, "cell-timeout")
    finally:
        for job in list(running.values()):
            kill(job)
            release_jail(job)
        if groups is not None:
            groups.close()


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
