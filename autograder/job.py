"""One job in a child of the engine: it keeps only its two descriptors, then splits into the student's
process (forked first, before anything of the job is read) and the trusted process."""

from __future__ import annotations

import json
import os

from . import die_with_parent
from .student import student_main
from .trusted import trusted_main
from .warm import Warm


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
            code = student_main(warm, theirs.detach(), workdir)
        finally:
            os._exit(code)
    theirs.close()
    code = 70
    try:
        spec = json.loads(_read_all(spec_fd))
        code = trusted_main(warm, spec, wfd, mine.detach(), pid)
    finally:
        os._exit(code)
