"""The trusted process of one job: it reads the job (the tests, hidden ones included, and this
submission's seed), walks the notebook, has the student's process run each of its cells, runs every test
cell itself against the answers that come back through the channel (plain data), and reports each cell's
start and result to the grading process. Expected values, comparisons, points and status are decided here,
where no student code runs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from .assignment import HIDDEN_BEGIN
from .limits import (
    CELL_OUTPUT_CAP,
    MESSAGE_CAP,
)
from .runtime import Capped, describe_error, framework_threads, locate_failure, null_stdio, valid_result
from .warm import Warm


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
    said = str(result.get("message", "")).strip()
    kind = builtin_error_name(said.split(":", 1)[0].strip())
    if kind and said == kind:  # an error without a message (an unanswered exercise): nothing to leave out
        return {**result, "message": kind}
    message = (
        f"{kind} (its message is not shown once hidden tests have run)"
        if kind
        else "an error (not shown once hidden tests have run)"
    )
    return {**result, "message": message}


def _checks_text() -> str:
    """The source of utils.checks: the words of its messages are the trusted side's own."""
    try:
        import utils.checks

        return Path(utils.checks.__file__).read_text(encoding="utf-8")
    except (OSError, TypeError):
        return ""


class _StudentGone(Exception):
    """The student's process ended while the trusted side talked to it."""


class TrustedSide:
    """The trusted process of one submission (see trusted_main)."""

    def __init__(self, spec: dict, wfd: int, fd: int, student_pid: int):
        from . import channel

        self.spec, self.wfd, self.student_pid = spec, wfd, student_pid
        self.secret = spec["secret"]
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
        self.link = channel.TrustedChannel(fd)
        self.checks_text = _checks_text()

    def send(self, obj) -> None:
        data = ("\n" + self.secret + " " + json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(self.wfd, data) :]

    def review_dynamic_imports(self) -> None:
        """Answer cells that import or run code by name, read here, where no student code runs."""
        for cell in self.spec["cells"]:
            found = dynamic_imports(cell["source"]) if cell["kind"] != "test" else []
            if found:
                self.send(
                    {
                        "t": "review",
                        "text": f"{cell['label']} imports or runs code by name ({', '.join(found)}): "
                        "a call to a forbidden helper could hide behind it; read it",
                    }
                )

    def student_gone(self) -> int:
        """The student's process died: pass its end on, as the jail's middle process does."""
        try:
            _, status = os.waitpid(self.student_pid, 0)
        except ChildProcessError:
            return 70
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status) or 70

    def run_student_cell(self, index: int, cell: dict) -> bool:
        """Have the student's process run its cell; True when the job must end after it (a restart)."""
        from . import channel

        try:
            result = valid_result(self.link.request("run", source=cell["source"], filename=cell["filename"]))
            if result["status"] not in ("ok", "error"):  # a student cell never passes or fails a test
                result = {
                    **result,
                    "status": "error",
                    "message": "your process reported a status it cannot give: " + result["status"],
                }
        except channel.ChannelClosed:
            raise _StudentGone from None
        except (channel.ChannelError, ValueError, TypeError) as exc:
            result = {
                "status": "error",
                "message": f"your process answered something the grader cannot read ({exc})"[:MESSAGE_CAP],
                "restart": True,
            }
        self.send({"t": "end", "i": index, "r": _hidden_safe_result(result, self.link)})
        return bool(result.get("restart"))

    def compile_test(self, cell: dict):
        """The test cell, its hidden blocks marked (see marked_test_source)."""
        try:
            return compile(marked_test_source(cell["source"]), cell["filename"], "exec", dont_inherit=True)
        except SyntaxError:  # the marks did not fit this cell's layout: it counts as hidden from its start
            code = compile(cell["source"], cell["filename"], "exec", dont_inherit=True)
            if HIDDEN_BEGIN in cell["source"]:
                self.link.enter_hidden()
            return code

    def exec_test(self, cell: dict, out: Capped) -> dict:
        """Run one test cell here against the student's answers; its result (`restart`: the channel broke)."""
        import builtins

        from . import channel

        filename = cell["filename"]
        try:
            code = self.compile_test(cell)
            namespace = {"__name__": "__main__", "__builtins__": builtins, HIDDEN_MARK: self.link.enter_hidden}
            for name in _test_names(cell["source"]):
                try:
                    namespace[name] = self.link.request("get", name=name)
                except NameError:
                    pass  # not defined by the student: the test meets the NameError where it uses the name
            sys.stdout = sys.stderr = out
            exec(code, namespace)  # the instructor's test, in the trusted process
        except channel.ChannelClosed:
            raise _StudentGone from None
        except channel.ChannelError as exc:
            return {
                "status": "error",
                "message": f"your process answered something the grader cannot read ({exc}); the test scores nothing",
                "restart": True,
            }
        except BaseException as exc:  # a failing test is the data we want
            return {
                "hidden_case": isinstance(getattr(exc, "hidden_kind", None), str),  # utils.checks.hidden_case
                "status": "failed" if isinstance(exc, AssertionError) else "error",
                "line": locate_failure(exc, filename),
                "message": describe_error(exc),
            }
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        return {"status": "passed", "message": ""}

    def run_test_cell(self, index: int, cell: dict) -> bool:
        """Run one test cell and report it; True when the job must end after it (a broken channel)."""
        out = Capped(CELL_OUTPUT_CAP)
        started = time.monotonic()
        requests_before = self.link.seq
        self.link.vocabulary = cell["source"] + "\n" + self.checks_text
        result = self.exec_test(cell, out)
        if self.link.tainted:  # no string the student's process sent since it saw hidden inputs is quoted
            result["message"] = self.link.scrub(result.get("message", ""))
        result["message"] = result.get("message", "")[:MESSAGE_CAP]  # cut after the scrub, never before
        result["seconds"] = round(time.monotonic() - started, 3)
        result["requests"] = self.link.seq - requests_before  # what this test asked the student's process
        result["output_chars"] = out.size
        if out.size > CELL_OUTPUT_CAP:
            result["truncated"] = True
        self.send({"t": "end", "i": index, "r": result})
        for note in self.link.notes:
            self.send({"t": "review", "text": f"{cell['label'] if 'label' in cell else 'a test'}: {note}"})
        self.link.notes.clear()
        return bool(result.get("restart"))

    def walk(self) -> int:
        """Every cell of the notebook in order (but those skipped or done in an earlier attempt)."""
        skip, done = set(self.spec["skip"]), set(self.spec["done"])
        try:
            for index, cell in enumerate(self.spec["cells"]):
                if index in skip or index in done:
                    continue
                self.send({"t": "start", "i": index})
                run = self.run_test_cell if cell["kind"] == "test" else self.run_student_cell
                if run(index, cell):
                    return 0
        except _StudentGone:
            return self.student_gone()
        self.send({"t": "done"})
        # the student's process has nothing left to do: it is killed with its jail when this process exits
        # (PR_SET_PDEATHSIG) and reaped by the engine (a child subreaper), while the next job starts
        return 0


def trusted_main(warm: Warm, spec: dict, wfd: int, fd: int, student_pid: int) -> int:
    """The trusted side of one submission: walks the notebook, has the student's process run each of
    its cells, runs each test cell here against the student's answers (through the channel), and
    reports to the grading process."""
    null_stdio()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    side = TrustedSide(spec, wfd, fd, student_pid)
    side.review_dynamic_imports()
    import utils.checks

    utils.checks.use_grader(side.link.make, spec.get("hidden_seed"))
    framework_threads(int(spec["threads"]))
    return side.walk()
