"""What a batch of submissions is made of, shared by a local run (grade.py) and a cluster's (cluster.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .assignment import Assignment, Plan, sanitise

SOLUTION = "<solution>"  # the job that measures the solution's run time (never a student id)
UNSAFE_FLAG = "--unsafe-shared-process"


class JailUnavailable(ValueError):
    """The operating system cannot jail submissions here, and the unsafe mode was not asked for."""


class Interrupted(Exception):
    """A batch stopped by Ctrl-C or SIGTERM (what was graded is saved)."""


class Incomplete(Exception):
    """A batch that stopped before every submission was graded (what was graded is saved)."""


def read_plan(path, assignment: Assignment, others: dict) -> Plan:
    """sanitise(), with a file it cannot read turned into an invalid plan (one odd file never stops a batch).
    The one function that makes a plan, here and on a cluster's workers (autograder.cluster)."""
    try:
        return sanitise(path, assignment, others)
    except Exception as exc:
        return Plan(
            invalid=f"the notebook could not be read: {type(exc).__name__}: {str(exc)[:300]}", status_hint="invalid"
        )


class StopKind(StrEnum):
    """Why the grader stopped a job's processes before a cell ended."""

    CELL_TIMEOUT = "cell-timeout"
    NOTEBOOK_TIMEOUT = "notebook-timeout"
    DIED = "died"


@dataclass(frozen=True)
class Stop:
    """A cell's stop: its kind, and for DIED what ended the process, in words ("signal SIGKILL")."""

    kind: StopKind
    detail: str = ""

    @property
    def timed_out(self) -> bool:
        return self.kind in (StopKind.CELL_TIMEOUT, StopKind.NOTEBOOK_TIMEOUT)

    def to_wire(self) -> list:
        """Plain data for a cluster's answer."""
        return [self.kind.value, self.detail]

    @classmethod
    def from_wire(cls, data) -> Stop:
        kind, detail = (list(data) + ["", ""])[:2] if isinstance(data, (list, tuple)) else (StopKind.DIED, "")
        try:
            return cls(StopKind(kind), str(detail)[:300])
        except ValueError:
            return cls(StopKind.DIED, "an unknown stop")
