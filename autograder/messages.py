"""The grader's words to a student about how their notebook ran: stops, notes, and the failures that are not
wrong answers. (The checks' own messages are utils.checks'; the channel's, about what the student's process
sent, are channel.py's.)"""

from __future__ import annotations

import re

from .limits import CELL_OUTPUT_CAP, MAX_NOTES, NOTE_CAP

HIDDEN_FAILURE = (
    "a hidden check failed: the visible checks passed, but the hidden ones (other inputs, "
    "shapes and edge cases) did not. Try your answer on more cases."
)

_GPU = re.compile(
    r"not compiled with CUDA|no CUDA GPUs|CUDA driver|Found no NVIDIA driver|cuda.*is not available", re.I
)


def reword(status: str, message: str) -> tuple[str, str]:
    """Two failures that are not wrong answers, said as what they are."""
    if status in ("failed", "error") and "NotImplementedError" in message:
        return "error", (
            "not answered: the exercise still raises NotImplementedError (replace "
            "`raise NotImplementedError()` with your code)"
        )
    if status in ("failed", "error") and _GPU.search(message):
        return "error", (
            message.splitlines()[0][:300] + "\n  grading runs on a machine without a GPU: ask for "
            "`utils.torch_utils.get_device()` (it falls back to the CPU) instead of 'cuda'"
        )
    return status, message


def stopped_test(why, cell_timeout: float, notebook_timeout: float) -> tuple[str, str]:
    """A test cell during which the grader stopped the job (`why`: a batch.Stop)."""
    if why.timed_out:
        whole = why.kind == "notebook-timeout"
        limit = notebook_timeout if whole else cell_timeout
        scope = "the whole notebook's" if whole else "a cell's"
        return "timeout", f"this test was stopped after {scope} time limit of {limit:g} s (an endless loop?)"
    return "error", (
        f"the Python process died while this test ran ({why.detail}): does your "
        "code call sys.exit, os._exit, or kill the process?"
    )


def not_run(out_of_time: bool, notebook_timeout: float) -> tuple[str, str]:
    if out_of_time:
        return "timeout", f"not run: the notebook used up its time limit of {notebook_timeout:g} s before this test"
    return "error", "not run: the grader received no result for this test"


def tampered(why: str, outcome: str) -> str:
    return f"{why}; the original test from the gradebook was run instead and {outcome}"


def restored(gid: str, why: str) -> str:
    return f"cell {gid!r}: {why}; it was restored"


def last_line(text: str, limit: int = NOTE_CAP) -> str:
    """The last non-blank line of an error message (a traceback's is the error itself), cut to `limit`."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:limit]


def student_cell(label: str, why, result: dict, cell_timeout: float) -> str | None:
    """The note about one of the student's own cells, if it needs one."""
    if why and why.timed_out:
        return (
            f"{label} was stopped after the time limit ({cell_timeout:g} s per cell); "
            "it was skipped and the cells after it were run again"
        )
    if why:
        return (
            f"the Python process died while running {label} ({why.detail}); "
            "it was skipped and the cells after it were run again"
        )
    if result.get("status") == "error":
        return f"{label} raised an error: {last_line(result.get('message', ''))}"
    return None


def truncated(label: str, chars: int) -> str:
    return f"{label} printed {chars:,} characters; only the first {CELL_OUTPUT_CAP:,} were kept"


def died_before_any_cell(detail: str) -> str:
    return f"the grading process died before running any cell ({detail})"


def capped_notes(notes: list) -> list:
    """At most MAX_NOTES notes of at most NOTE_CAP characters: a submission cannot fill its feedback, the
    report or the CSV files with notes (260 raising cells are 20 notes and a count)."""
    kept = [n if len(n) <= NOTE_CAP else n[: NOTE_CAP - 1] + "…" for n in notes[:MAX_NOTES]]
    if len(notes) > MAX_NOTES:
        kept.append(f"… and {len(notes) - MAX_NOTES} more notes like these")
    return kept
