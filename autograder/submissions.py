"""Finding a class's submissions in SUBMISSIONS_DIR: the layouts accepted, the student ids, and the
notebooks refused unread (a link at any depth, a file that is not a regular file)."""

from __future__ import annotations

import re
from pathlib import Path

from .assignment import SymlinkSubmission, marked, not_plain_file

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


LMS_NAME = re.compile(r"^(?P<who>.+?)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")


def lms_student_id(filename: str) -> str | None:
    """`Ada Lovelace_1234_assignsubmission_file_01_hidden_state.ipynb` (Moodle's download of an
    assignment) -> `Ada_Lovelace_1234`; None for any other name."""
    m = LMS_NAME.match(filename)
    if not m:
        return None
    sid = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", m.group("who")).strip("_.")
    return sid if STUDENT_ID.match(sid or "") else None


def find_submissions(folder: Path, assignment_id: str, notes: dict | None = None) -> tuple[dict, list]:
    """student id -> notebook path (None when the student has no notebook for this assignment).

    Accepted layouts: <student>/<id>.ipynb, <student>.ipynb, nbgrader's
    submitted/<student>/<id>/<id>.ipynb (with or without the submitted/ level), and an LMS's
    download (`<name>_<number>_assignsubmission_file_<file>.ipynb`, the student id is `<name>_<number>`).
    A student folder whose only notebook has another name (`<id>-Copy1.ipynb`) is graded, and
    `notes[student]` says so. A student folder that holds only other assignments' folders is not
    part of this assignment's class. Returns (found, warnings).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR {str(folder)!r} is not a directory")
    submitted = folder / "submitted"
    base = submitted if submitted.is_dir() and not submitted.is_symlink() else folder
    found: dict = {}
    warnings = []
    notes = {} if notes is None else notes
    name = f"{assignment_id}.ipynb"
    other_assignments = 0
    for entry in sorted(base.iterdir()):
        if entry.name.startswith("."):
            continue
        sid = entry.name if entry.is_dir() else entry.stem
        if entry.suffix == ".ipynb" and not entry.is_dir() and (lms_id := lms_student_id(entry.name)):
            sid = lms_id
            notes[sid] = f"the file {entry.name!r} was graded as student {sid!r}'s {name}"
        if entry.is_dir() or entry.suffix == ".ipynb":
            if not STUDENT_ID.match(sid):
                warnings.append(f"skipped {entry.name!r}: not a valid student id (letters, digits, _.@+-)")
                continue
        if entry.is_symlink():
            if entry.suffix == ".ipynb" or entry.is_dir():
                found[sid] = SymlinkSubmission(entry)
            continue
        if entry.is_dir() and (entry / assignment_id).is_symlink():  # nothing behind the link is listed
            found[sid] = marked(
                entry / assignment_id / name,
                not_plain_file(folder, entry / assignment_id / name) or SymlinkSubmission.why,
            )
            continue
        if entry.is_dir():
            for candidate in (entry / assignment_id / name, entry / name):
                if candidate.is_symlink():
                    found[sid] = SymlinkSubmission(candidate)
                    break
                if candidate.is_file():
                    found[sid] = candidate
                    break
            else:
                inner = entry / assignment_id if (entry / assignment_id).is_dir() else entry
                others = sorted(p for p in inner.glob("*.ipynb") if not p.name.startswith("."))
                if len(others) == 1 and not others[0].is_symlink():
                    found[sid] = others[0]
                    notes[sid] = (
                        f"no {name} was found; the folder's only notebook, {others[0].name!r}, was graded in its place"
                    )
                    warnings.append(f"{sid}: graded {others[0].name!r} as {name} (the only notebook there)")
                elif others:
                    found[sid] = None
                    notes[sid] = (
                        f"no {name} was found, and the folder has several other notebooks "
                        f"({', '.join(p.name for p in others[:5])}): none was graded"
                    )
                    warnings.append(f"{sid}: no {name}, and several other notebooks: graded as missing")
                elif inner is entry and any(p.is_dir() and not p.name.startswith(".") for p in entry.iterdir()):
                    other_assignments += 1  # nbgrader's submitted/<student>/<another assignment>/
                else:
                    found[sid] = None
        elif entry.suffix == ".ipynb" and sid not in found:
            found[sid] = entry
    for sid, path in found.items():  # a link at any depth below SUBMISSIONS, or not a regular file
        if path is not None and not isinstance(path, SymlinkSubmission):
            why = not_plain_file(folder, path)
            if why is not None:
                found[sid] = marked(path, why)
    if other_assignments:
        warnings.append(f"{other_assignments} student folder(s) hold only other assignments: not part of this batch")
    if not found:
        warnings.append(
            f"no submission of {assignment_id} was found in {base}. The layouts accepted are "
            f"<student>/{name}, <student>.ipynb, nbgrader's submitted/<student>/{assignment_id}/{name}, and an "
            "LMS download (<name>_<number>_assignsubmission_file_<file>.ipynb)."
        )
    return found, warnings
