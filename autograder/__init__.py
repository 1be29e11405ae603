"""The course autograder: nbgrader underneath, one command on top.

    python -m autograder release [ASSIGNMENT ...] [--check]
    python -m autograder grade ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR [--jobs N] [--timeout SECONDS]
    python -m autograder demo [ASSIGNMENT ...]

Modules: `release` (nbgrader generate_assignment into release/), `assignment`
(nbgrader's gradebook and sanitising preprocessors: what to run for one
submission), `worker` (the warm parent and its forked, sandboxed children),
`grade` (the command: state files, resuming, results), `report` (CSV files,
feedback and class report, the nbgrader gradebook), `examples` (the generated
example class, hostile cases included), `demo`.
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
