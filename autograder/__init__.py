"""The course autograder: nbgrader underneath, one command on top.

    python -m autograder release [ASSIGNMENT ...] [--check]
    python -m autograder grade ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR [--jobs N] [--timeout SECONDS]
    python -m autograder demo [ASSIGNMENT ...]

Rooms (CONTRIBUTING.md draws the processes):
- the batch, in the grading process: `grade` (the command and `BatchRun`, its steps), `submissions`
  (finding them), `state` (resume records, keys, seeds), `results` and `messages` (grades and notes),
  `helper` (the nbgrader helper process), `batch` (what a local and a cluster run share), `assignment`
  (nbgrader's gradebook and sanitising: what to run for one submission), `report` (CSV files, feedback,
  class report, the nbgrader gradebook), `pool` (the jobs at once, their limits), `cluster` (the same on
  Dask workers), `limits` (every limit and default);
- the engine: `engine` (a fresh interpreter that starts knowing nothing), `warm` (what it imports once);
- one job: `job` (its split), `student` (the student's process), `trusted` (the trusted process), `runtime`
  (what both use), `channel` (the plain-data channel between them);
- the jail: `sandbox` (namespaces, mounts, uid), `cgroups` (memory, processes, CPU per jail), `uids`;
- course tooling: `release`, `publish` (the student edition and its leak check; `edition/` holds its files),
  `examples` (the generated example class, hostile cases included), `demo`.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_tools_on_path() -> None:
    """nbgrader runs `alembic` as a command: put this interpreter's bin/ first on PATH."""
    import os
    import sys

    bindir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [bindir]:
        os.environ["PATH"] = os.pathsep.join([bindir, *[p for p in parts if p != bindir]])


def skip_slow_optional_imports() -> None:
    """Call before importing nbformat or nbgrader in a process of ours that never runs student code.

    nbformat imports jsonschema, whose format checker imports the optional `rfc3987_syntax` when it
    is installed (jupyter_events pulls it in); that module compiles about 40 grammars at import time,
    1.3 s on the course machines, to check the "iri" string formats, which no notebook schema uses.
    A None entry in sys.modules makes that optional import fail fast, so jsonschema skips those two
    checkers and nothing else changes."""
    import sys

    if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # None: the import system's "no such module"


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG: this process is killed (SIGKILL) when its parent ends (a no-op off Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, 9)
    except Exception:  # not Linux
        pass
