"""No import cycle in autograder/ or utils/: every import, at the top of a module or inside a function, of a
module or of a name a package's __init__ defines, draws an edge; `if TYPE_CHECKING:` blocks draw none."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(packages=("autograder", "utils")) -> dict:
    found = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _nodes(tree):
    """Every node but those under `if TYPE_CHECKING:` (annotations only, never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(modules: dict) -> dict:
    def known(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    edges = {m: set() for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = name.split(".") if is_package else name.split(".")[:-1]
                if node.level:
                    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                    where = ".".join(base + ([node.module] if node.module else []))
                else:
                    where = node.module or ""
                targets = [
                    known(f"{where}.{a.name}") if f"{where}.{a.name}" in modules else known(where) for a in node.names
                ]
            edges[name] |= {t for t in targets if t and t != name}
    return edges


def cycles(edges: dict) -> list:
    """The strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_autograder_or_utils():
    modules = _modules()
    assert "autograder.grade" in modules and "utils.metrics" in modules
    found = cycles(import_graph(modules))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_scan_finds_a_cycle(tmp_path):
    for name, text in {
        "a.py": "def f():\n    from . import b\n",
        "b.py": "from .a import f\n",
        "__init__.py": "from .c import g\n",
        "c.py": "from . import VALUE\n",
    }.items():
        (tmp_path / "pkg").mkdir(exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    modules = {
        "pkg": tmp_path / "pkg" / "__init__.py",
        "pkg.a": tmp_path / "pkg" / "a.py",
        "pkg.b": tmp_path / "pkg" / "b.py",
        "pkg.c": tmp_path / "pkg" / "c.py",
    }
    assert sorted(cycles(import_graph(modules))) == [["pkg", "pkg.c"], ["pkg.a", "pkg.b"]]
