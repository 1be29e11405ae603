"""What both processes of a job use: output capture, the wording of an error, quiet stdio, framework
threads, and the validation of a cell's result (untrusted data from the other side)."""

from __future__ import annotations

import io
import os
import sys
import traceback

from .limits import (
    MESSAGE_CAP,
)


class Capped(io.TextIOBase):
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


class NotCompiled(Exception):
    """A cell Python could not compile: its message reads like the compiler's own ("SyntaxError: ...")."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def describe_error(exc) -> str:
    """One line for a failure, as a student reads it: the check's own message for a failed check
    (no internal class name in front), `Kind: message` otherwise."""
    if isinstance(exc, NotCompiled):
        return f"{exc.kind}: {exc}"
    if type(exc).__name__ == "StudentError" and type(exc).__module__ == "autograder.channel":
        return str(exc)  # "YourError: its text", as the student's own class is named
    if isinstance(exc, AssertionError) and str(exc):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def locate_failure(exc, filename: str) -> int | None:
    """The line of the test cell where `exc` passed through (None if not found)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def null_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)


def framework_threads(threads: int) -> None:
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except Exception:  # already initialised: keep its threads
            pass


STATUS_WORDS = ("ok", "passed", "failed", "error", "tampered")


def valid_result(r) -> dict:
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
