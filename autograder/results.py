"""From what sanitising decided and what a job reported to one student's result (nbgrader's rule for
points), and the totals table the command prints."""

from __future__ import annotations

from . import messages
from .assignment import Assignment, in_hidden_block
from .state import STATE_VERSION

SEVERITY = ["passed", "failed", "missing", "error", "timeout", "tampered", "invalid"]


def _test_row(gid, test, assignment: Assignment, plan, job, i, cell_timeout, notebook_timeout) -> dict:
    """One test cell's row of grades.csv: what sanitising decided, or what the job reported for it."""
    row = {"grade_id": gid, "max_points": test.points, "points": 0.0}
    if plan.invalid is not None:
        status, message = plan.status_hint or "invalid", plan.invalid
    elif gid in plan.preset:
        status, message = plan.preset[gid]
    else:
        why = job.killers.get(i) if job else None
        r = job.results.get(i) if job and i is not None else None
        if why is not None:
            status, message = messages.stopped_test(why, cell_timeout, notebook_timeout)
        elif r is None:
            status, message = messages.not_run(job is not None and job.out_of_time, notebook_timeout)
        else:
            status, message = messages.reword(r.get("status", "error"), r.get("message", ""))
            hidden = (
                bool(test.hidden_lines)
                and status in ("failed", "error")
                and (r.get("line") is None or in_hidden_block(test.hidden_lines, r["line"]))
            )
            # a hidden_case's message carries no value: shown as it is; any other hidden failure, in general words
            feedback = messages.HIDDEN_FAILURE if hidden and not r.get("hidden_case") else message
            row.update(status=status, message=message, feedback=feedback, hidden_failure=hidden)
            row["points"] = assignment.points[gid][0 if status == "passed" else 1]
            return row
    row.update(status=status, message=message, feedback=message)
    return row


def _tampered(row: dict, why: str) -> None:
    """The row of a test cell the submission edited: the original test ran; the row says so."""
    outcome = "passed" if row["status"] == "passed" else row["status"]
    note = messages.tampered(why, outcome)
    row["message"] = note + (f": {row['message']}" if row.get("message") else "")
    row["feedback"] = note + (f": {row['feedback']}" if row.get("feedback") and row["status"] != "passed" else "")
    row["status"] = "tampered"


def _job_notes(plan, job, cell_timeout) -> list:
    """What the job's run says about the student's own cells (errors, stops, floods)."""
    notes = []
    for i, cell in enumerate(plan.cells):
        r = job.results.get(i, {})
        if cell["kind"] == "student":
            note = messages.student_cell(cell["label"], job.killers.get(i), r, cell_timeout)
            if note:
                notes.append(note)
        if r.get("truncated"):
            notes.append(messages.truncated(cell["label"], r["output_chars"]))
    if -1 in job.killers:
        notes.append(messages.died_before_any_cell(job.killers[-1].detail))
    return notes


def _total_status(plan, cells: list) -> str:
    statuses = [c["status"] for c in cells]
    if plan.invalid is not None:
        return plan.status_hint or "invalid"
    if "tampered" in statuses or plan.tampered:
        return "tampered"
    if statuses and all(s == "passed" for s in statuses):
        return "passed"
    return max(statuses, key=SEVERITY.index) if statuses else "passed"


def result_from_plan(
    student: str,
    assignment: Assignment,
    plan,
    job=None,
    key: str = "",
    cell_timeout: float = 0,
    notebook_timeout: float = 0,
) -> dict:
    """Combine what sanitising decided and what the child reported into one student's result."""
    index_of = {c["grade_id"]: i for i, c in enumerate(plan.cells) if c["kind"] == "test"}
    cells = []
    for gid, test in assignment.tests.items():
        row = _test_row(gid, test, assignment, plan, job, index_of.get(gid), cell_timeout, notebook_timeout)
        ran = plan.invalid is None and gid not in plan.preset  # the row comes from the job's run
        if ran and gid in plan.tampered and row["status"] != "missing":
            _tampered(row, plan.tampered[gid])
        cells.append(row)
    notes = list(plan.notes)
    notes += [messages.restored(gid, why) for gid, why in plan.tampered.items() if gid not in assignment.tests]
    if job is not None:
        notes += _job_notes(plan, job, cell_timeout)
    results = job.results if job else {}
    return {
        "version": STATE_VERSION,
        "key": key,
        "student_id": student,
        "assignment": assignment.id,
        "notebook": f"{assignment.notebook}.ipynb",
        "status": _total_status(plan, cells),
        "points": sum(c["points"] for c in cells),
        "max_points": sum(c["max_points"] for c in cells),
        "cells": cells,
        "notes": messages.capped_notes(notes),
        "review": list(job.review) if job is not None else [],
        "seconds": {c["label"]: results.get(i, {}).get("seconds") for i, c in enumerate(plan.cells)}
        if job is not None
        else {},
        "memory_peak_mb": round(job.memory_peak / 2**20, 1) if job is not None and job.memory_peak else None,
        "requests": {
            c["label"]: results[i]["requests"] for i, c in enumerate(plan.cells) if "requests" in results.get(i, {})
        }
        if job is not None
        else {},
    }


def totals_table(results: list[dict]) -> str:
    width = max([len("student_id")] + [len(r["student_id"]) for r in results])
    lines = [f"{'student_id':<{width}}  {'points':>7}  {'max':>5}  status"]
    for r in results:
        lines.append(f"{r['student_id']:<{width}}  {r['points']:>7g}  {r['max_points']:>5g}  {r['status']}")
    return "\n".join(lines)
