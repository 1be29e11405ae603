"""A bundled example class, generated from an assignment so it never drifts from it.

`build_class(source_nb, release_nb, folder)` writes one submission per student
into `folder/<student>/<assignment>.ipynb`: correct answers (the solutions of
source/ pasted into the release), a release left as it was, partly wrong
answers, and hostile or broken notebooks -- every case the autograder must
survive (spec section 7). `EXPECTED` says, for each student, what should
happen, in words; the tests assert exact points per case.

The hostile code only ever targets `escape_path` (a file outside the grading
directory that must not appear) and the grading process itself.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

EXPECTED = {
    "correct": "full marks",
    "stub": "the release as handed out: every test fails",
    "partly_wrong": "the last answer left as the stub: its tests fail, the others pass",
    "warnings": "correct, but prints to stdout and stderr and raises warnings: full marks",
    "invalid_json": "not JSON: status invalid",
    "empty": "an empty file: status invalid",
    "other_assignment": "a notebook of another assignment: status invalid",
    "deleted_test": "correct, first test cell deleted: that test is missing",
    "duplicated": "correct, a test cell and an answer cell duplicated: full marks, a note",
    "split": "correct, an answer cell split in two: full marks",
    "reordered": "correct, graded cells in reverse order: full marks, a note",
    "edited_test": "release answers, first test replaced by `pass`: tampered, the original test fails",
    "emptied_test": "correct, first test emptied: tampered, the original test passes",
    "points_changed": "release answers, first test worth 100 points: tampered, max points unchanged",
    "grade_flag_removed": "release answers, first test no longer a grade cell: tampered",
    "solution_to_test": "correct, first answer cell turned into a graded test: tampered, answers still graded",
    "infinite_loop": "first function loops forever, and a top-level endless loop: "
    "tests that call it time out, the rest pass",
    "sys_exit": "sys.exit at top level (harmless) and inside the second function (that test errors)",
    "os_exit": "os._exit in a cell: the process dies, the rest is re-run without it: full marks",
    "killed_kernel": "the second function SIGKILLs its own process: that test errors, the rest pass",
    "flood": "correct, prints megabytes: output truncated, full marks",
    "memory_bomb": "correct, a cell allocates memory without end: MemoryError, full marks",
    "writes_outside": "correct, cells try to write/delete outside the working dir, spawn programs, open sockets: "
    "all refused, full marks",
    "monkeypatch": "release answers, cells patch utils.checks, builtins, IPython's traceback display and "
    "sys.modules: every test still fails",
    "patch_at_call_time": "first function patches the checks and numpy when called, returns a wrong value: the "
    "checks run in the grader's own process and stay untouched, 0",
    "reads_classmates": "release answers; reads classmates' notebooks and the grader's files: none is in its jail, 0",
    "fork_flood": "correct, leaves 100 processes running: all killed with its jail, full marks",
    "forged_report": "release answers; forges a status word and floods the report pipe: ignored, 0",
    "fill_disk": "correct, writes 2 GB into its folder: the disk of its jail is full, full marks",
}


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _ids(nb, **flags):
    out = []
    for cell in nb.cells:
        m = _meta(cell)
        if m.get("grade_id") and all(bool(m.get(k)) == v for k, v in flags.items()):
            out.append(m["grade_id"])
    return out


def _index(nb, gid) -> int:
    for i, cell in enumerate(nb.cells):
        if _meta(cell).get("grade_id") == gid:
            return i
    raise KeyError(gid)


def _fill(release, source, which=None):
    """The release with the solutions of `source` in the answer cells named in `which` (default all)."""
    nb = copy.deepcopy(release)
    answers = {_meta(c)["grade_id"]: c.source for c in source.cells if _meta(c).get("solution")}
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if gid in answers and (which is None or gid in which):
            cell.source = answers[gid]
    return nb


def _insert_after(nb, gid, source):
    nb.cells.insert(_index(nb, gid) + 1, new_code_cell(source))
    return nb


def variants(source, release, *, escape_path: Path, other=None, class_dir: Path | None = None) -> dict:
    """student id -> NotebookNode or bytes (for files that are not notebooks)."""
    solutions = _ids(release, solution=True)
    tests = _ids(release, grade=True, solution=False)
    first_sol, first_test = solutions[0], tests[0]
    second_sol = solutions[1] if len(solutions) > 1 else solutions[0]
    last_sol = solutions[-1]
    correct = _fill(release, source)
    v: dict = {}
    v["correct"] = correct
    v["stub"] = copy.deepcopy(release)
    v["partly_wrong"] = _fill(release, source, set(solutions) - {last_sol})

    nb = copy.deepcopy(correct)
    for gid in solutions:
        _insert_after(
            nb,
            gid,
            "import sys, warnings\nprint('debug: my answer is ready')\n"
            "print('a note on stderr', file=sys.stderr)\nwarnings.warn('this is only a warning')",
        )
    v["warnings"] = nb

    v["invalid_json"] = b'{"cells": [ {"cell_type": "code", "source": "oops" '
    v["empty"] = b""
    if other is not None:
        v["other_assignment"] = copy.deepcopy(other)
    else:
        nb = copy.deepcopy(correct)
        for cell in nb.cells:
            if _meta(cell).get("grade_id"):
                cell.metadata["nbgrader"]["grade_id"] = "another_" + cell.metadata["nbgrader"]["grade_id"]
        v["other_assignment"] = nb

    nb = copy.deepcopy(correct)
    del nb.cells[_index(nb, first_test)]
    v["deleted_test"] = nb

    nb = copy.deepcopy(correct)
    i = _index(nb, first_test)
    nb.cells.insert(i + 1, copy.deepcopy(nb.cells[i]))
    j = _index(nb, first_sol)
    stub = copy.deepcopy(release.cells[_index(release, first_sol)])
    nb.cells.insert(j, stub)  # the student copied the stub cell and worked in the copy below it
    v["duplicated"] = nb

    nb = copy.deepcopy(correct)
    j = _index(nb, first_sol)
    whole = nb.cells[j].source
    nb.cells[j].source = "# my answer continues in the next cell"
    nb.cells.insert(j + 1, new_code_cell(whole))
    v["split"] = nb

    nb = copy.deepcopy(correct)
    graded = [i for i, c in enumerate(nb.cells) if _meta(c).get("grade_id")]
    cells = list(nb.cells)
    for i, k in zip(graded, reversed(graded)):
        nb.cells[i] = cells[k]
    v["reordered"] = nb

    nb = copy.deepcopy(release)
    nb.cells[_index(nb, first_test)].source = "pass  # all good"
    v["edited_test"] = nb

    nb = copy.deepcopy(correct)
    nb.cells[_index(nb, first_test)].source = ""
    v["emptied_test"] = nb

    nb = copy.deepcopy(release)
    nb.cells[_index(nb, first_test)].metadata["nbgrader"]["points"] = 100
    v["points_changed"] = nb

    nb = copy.deepcopy(release)
    nb.cells[_index(nb, first_test)].metadata["nbgrader"]["grade"] = False
    v["grade_flag_removed"] = nb

    nb = copy.deepcopy(correct)
    meta = nb.cells[_index(nb, first_sol)].metadata["nbgrader"]
    meta.update(grade=True, solution=False, locked=True, points=10)
    v["solution_to_test"] = nb

    nb = copy.deepcopy(correct)
    nb.cells[_index(nb, first_sol)].source = f"def {first_sol}(*args, **kwargs):\n    while True:\n        pass"
    _insert_after(nb, second_sol, "while True:\n    pass")
    v["infinite_loop"] = nb

    nb = copy.deepcopy(correct)
    nb.cells.insert(_index(nb, first_sol), new_code_cell("import sys\nsys.exit('I am done')"))
    nb.cells[_index(nb, second_sol)].source = f"def {second_sol}(*args, **kwargs):\n    import sys\n    sys.exit(0)"
    v["sys_exit"] = nb

    v["os_exit"] = _insert_after(copy.deepcopy(correct), first_sol, "import os\nos._exit(0)")

    nb = copy.deepcopy(correct)
    nb.cells[
        _index(nb, second_sol)
    ].source = f"def {second_sol}(*args, **kwargs):\n    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)"
    v["killed_kernel"] = nb

    v["flood"] = _insert_after(
        copy.deepcopy(correct), first_sol, "for i in range(20_000):\n    print('spam ' * 20)\nprint('x' * 3_000_000)"
    )

    v["memory_bomb"] = _insert_after(
        copy.deepcopy(correct), first_sol, "blocks = []\nwhile True:\n    blocks.append(bytearray(128 * 2**20))"
    )

    nb = copy.deepcopy(correct)
    target = str(escape_path)
    attacks = [
        f"with open({target!r}, 'w') as fh:\n    fh.write('escaped')",
        f"import os\nos.rename(os.path.abspath(__file__) if '__file__' in dir() else 'x', {target!r})",
        "import os\nos.remove('/etc/hostname')",
        f"import subprocess\nsubprocess.run(['touch', {target!r}])",
        f"import os\nos.system('touch {target}')",
        "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "with open('notes.txt', 'w') as fh:\n    fh.write('writing in my own folder is fine')",
    ]
    for code in reversed(attacks):
        _insert_after(nb, first_sol, code)
    v["writes_outside"] = nb

    nb = copy.deepcopy(release)
    patches = (
        "import builtins, sys, types, contextlib\n"
        "import utils, utils.checks\n"
        "for name in [n for n in dir(utils.checks) if n.startswith('check_')]:\n"
        "    setattr(utils.checks, name, lambda *a, **k: None)\n"
        "@contextlib.contextmanager\n"
        "def exercise(*a, **k):\n"
        "    try:\n        yield\n    except BaseException:\n        pass\n"
        "utils.checks.exercise = exercise\n"
        "fake = types.ModuleType('utils.checks')\n"
        "fake.__dict__.update(vars(utils.checks))\n"
        "sys.modules['utils.checks'] = fake\n"
        "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
        "builtins.isinstance = lambda *a: True\n"
        "ip = get_ipython()\n"
        "ip.showtraceback = lambda *a, **k: None\n"
        "ip._showtraceback = lambda *a, **k: None\n"
        "from IPython.core import ultratb\n"
        "ultratb.VerboseTB.structured_traceback = lambda *a, **k: []\n"
        "import numpy as np\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
    )
    nb.cells.insert(_index(nb, first_sol), new_code_cell(patches))
    v["monkeypatch"] = nb

    nb = copy.deepcopy(correct)
    nb.cells[_index(nb, first_sol)].source = (
        f"def {first_sol}(*args, **kwargs):\n"
        "    import sys\n"
        "    import utils.checks\n"
        "    checks = sys.modules['utils.checks']\n"
        "    for name in [n for n in dir(checks) if n.startswith('check_') or n == '_close']:\n"
        "        setattr(checks, name, lambda *a, **k: True)\n"
        "    import numpy\n"
        "    numpy.allclose = lambda *a, **k: True\n"
        "    return 'wrong'"
    )
    v["patch_at_call_time"] = nb

    # attacks on the grading jail (the whole corpus: autograder/tests/test_sandbox.py)
    nb = copy.deepcopy(release)
    look = [str(class_dir or escape_path.parent), "/work", "/home", "/root"]
    nb.cells.insert(
        _index(nb, first_sol),
        new_code_cell(
            "import os\nfound = {}\n"
            f"for top in {look!r}:\n"
            "    for d, _, files in os.walk(top):\n"
            "        for f in files:\n"
            "            if f.endswith(('.ipynb', '.json', '.db')):\n"
            "                try:\n"
            "                    found[os.path.join(d, f)] = open(os.path.join(d, f), errors='replace').read(200)\n"
            "                except OSError:\n"
            "                    pass\n"
            "if found:\n"
            "    raise RuntimeError('copied: ' + repr(found)[:2000])"
        ),
    )
    v["reads_classmates"] = nb

    v["fork_flood"] = _insert_after(
        copy.deepcopy(correct),
        first_sol,
        (
            "import ctypes, time\nlibc = ctypes.CDLL(None)\n"
            "for _ in range(100):\n"
            "    if libc.fork() == 0:\n"
            "        time.sleep(3600)\n"
            "        libc._exit(0)"
        ),
    )

    nb = copy.deepcopy(release)
    nb.cells.insert(
        _index(nb, first_sol),
        new_code_cell(
            "import os, sys, json\nf = sys._getframe()\n"
            "while f is not None and 'secret' not in f.f_locals:\n    f = f.f_back\n"
            "secret = f.f_locals['secret'] if f is not None else ''\n"
            "for fd in range(3, 30):\n"
            "    try:\n"
            "        os.write(fd, ('\\n' + secret + ' ' + json.dumps({'t': 'end', 'i': 0, 'r': {'status': 'hacked'}})"
            " + '\\n').encode() + b'z' * 2**22)\n"
            "    except OSError:\n"
            "        pass"
        ),
    )
    v["forged_report"] = nb

    v["fill_disk"] = _insert_after(
        copy.deepcopy(correct),
        first_sol,
        ("with open('big.bin', 'wb') as fh:\n    for _ in range(2048):\n        fh.write(b'x' * 2**20)"),
    )
    return v


def build_class(
    source_nb: Path, release_nb: Path, folder: Path, *, escape_path: Path, other_nb: Path | None = None, only=None
) -> dict:
    """Write the example class into `folder/<student>/<assignment>.ipynb`; return {student: path}."""
    source = nbformat.read(source_nb, as_version=4)
    release = nbformat.read(release_nb, as_version=4)
    other = nbformat.read(other_nb, as_version=4) if other_nb else None
    aid = Path(release_nb).stem
    written = {}
    for student, content in variants(
        source, release, escape_path=escape_path, other=other, class_dir=Path(folder)
    ).items():
        if only is not None and student not in only:
            continue
        path = Path(folder) / student / f"{aid}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(json.dumps(content, indent=1), encoding="utf-8")
        written[student] = path
    return written
