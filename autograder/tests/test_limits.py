"""Every limit of the grader and its default lives in autograder/limits.py, and nowhere else.

The scan reads every module of autograder/ (tests aside) and fails on a number equal to one of the limits
written where a default is set: a function's default argument, an argparse `default=`, a keyword argument
named like a limit, or a module-level constant.
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder import limits

PACKAGE = Path(limits.__file__).resolve().parent
# numbers of limits.py that are distinctive enough to find (small factors such as 20 or 10 are not)
LIMIT_VALUES = {v for k, v in vars(limits).items() if k.isupper() and isinstance(v, (int, float)) and v >= 60}
LIMIT_WORDS = ("timeout", "memory", "disk", "mb", "cap", "limit", "max", "wait")
NOT_LIMITS = {  # module-level constants equal to a limit's value that are no limit of the grader
    ("cgroups.py", "CPU_PERIOD_US"): "the kernel's CFS period over which a CPU quota is counted",
}


def _findings(path: Path) -> list:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def check(node, what):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
            and node.value in LIMIT_VALUES
        ):
            found.append(f"{path.name}:{node.lineno}: {what} = {node.value!r}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                check(default, f"a default argument of {node.name}()")
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "default" or (kw.arg and any(w in kw.arg.lower() for w in LIMIT_WORDS)):
                    check(kw.value, f"keyword {kw.arg}=")
            if getattr(node.func, "attr", None) == "getattr" or getattr(node.func, "id", None) == "getattr":
                name = node.args[1] if len(node.args) == 3 else None
                if isinstance(name, ast.Constant) and any(w in str(name.value).lower() for w in LIMIT_WORDS):
                    check(node.args[2], f"the default of getattr(..., {name.value!r})")
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper() and (path.name, name) not in NOT_LIMITS:
                check(node.value, f"constant {name}")
    return found


def test_no_limit_default_is_written_outside_limits_py():
    # edition/ holds the student edition's own files (its notebook runner), not the grader's code
    modules = [p for p in PACKAGE.rglob("*.py") if not {"tests", "edition"} & set(p.parts) and p.name != "limits.py"]
    assert len(modules) > 10
    findings = [f for p in modules for f in _findings(p)]
    assert not findings, "limit defaults outside autograder/limits.py:\n" + "\n".join(findings)


def test_the_scan_finds_a_limit_planted_outside(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "def grade(memory_mb=4096, timeout=600.0):\n    pass\nCAP = 100_000\n"
        "def run(x):\n    return go(x, cell_timeout=120.0)\n"
    )
    found = _findings(planted)
    assert len(found) == 4, found


def test_the_derived_cell_limit_follows_its_rule():
    rule = limits.derived_cell_timeout
    assert rule({}, 600) == limits.CELL_TIMEOUT_FLOOR_S
    assert rule({"a": 0.5, "b": None}, 600) == limits.CELL_TIMEOUT_FACTOR * 0.5 + limits.CELL_TIMEOUT_MARGIN_S
    assert rule({"a": 1000.0}, 600) == limits.CELL_TIMEOUT_CAP_S
    assert rule({"a": 1000.0}, 30) == 30
