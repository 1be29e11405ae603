"""Simulated Colab: the release notebooks' setup cell, as a self-learner meets it.

Colab gives a learner a Python that already has torch, tensorflow, numpy,
matplotlib and tqdm, but not this course's `utils`. The generated setup cell of
every notebook (tools/sync_notebooks.py) must then pip-install `utils` from the
repository named in course.toml, and nothing else, and every visible test cell
must run and fail on the release stubs with a teaching message.

This test rebuilds that situation:

1. a fresh virtual environment ("fake Colab") with the frameworks pinned in
   requirements.txt, numpy, matplotlib, tqdm and ipykernel, and no course
   package. It is built once and cached in .cache/fake-colab/ (git-ignored),
   keyed on the pins (set COURSE_FAKE_COLAB_CACHE to move it); pip's own cache
   makes a rebuild quick. Each test then gets a fresh, thin environment on top
   of it, so that pip installs land there and tests may run in parallel;
2. a git repository made from the working tree's current files (uncommitted
   work included), the stand-in for the course's GitHub repository;
3. every release notebook executed cell by cell, with a kernel running the
   fake-Colab Python, COURSE_FORCE_COLAB=1 and COURSE_REPOSITORY pointing at
   that repository (the one setting the setup cell reads).

It also checks the non-Colab branch: a stray `utils.py` next to the notebook
makes the setup cell raise ImportError saying that another module shadows
the course's library.

    .venv/bin/python -m pytest tests/test_colab_setup.py -q -p no:cacheprovider
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
RELEASE_NOTEBOOKS = sorted((ROOT / "release").glob("*/*.ipynb"))

#: What Colab ships that the course relies on. The frameworks are pinned to the
#: course's own versions (requirements.txt); the rest are Colab's usual extras.
PINNED_FROM_REQUIREMENTS = ("torch", "tensorflow-cpu", "numpy", "matplotlib", "tqdm", "ipykernel")

CELL_TIMEOUT = 300  # seconds per cell; the first cell pip-installs utils


def _pins() -> list[str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if "==" in spec:
            name = spec.split("==", 1)[0].strip().lower()
            pins[name] = spec
    missing = [p for p in PINNED_FROM_REQUIREMENTS if p not in pins]
    if missing:
        raise RuntimeError(f"requirements.txt has no pin for {missing}")
    return [pins[p] for p in PINNED_FROM_REQUIREMENTS]


def _cache_root() -> Path:
    # .cache/ is git-ignored; the snapshot of the working tree leaves it out
    return Path(os.environ.get("COURSE_FAKE_COLAB_CACHE", ROOT / ".cache" / "fake-colab"))


def base_environment() -> Path:
    """Build (once, under a lock) and return the cached environment with Colab's packages.

    It is never modified after it is built: each test gets its own thin
    environment on top of it (`colab_instance`).
    """
    import fcntl

    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers wait for one build
        try:
            return _build_base()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_base() -> Path:
    pins = _pins()
    key = hashlib.sha256(("\n".join(pins) + sys.version).encode()).hexdigest()[:12]
    venv = _cache_root() / key
    python = venv / "bin" / "python"
    done = venv / ".complete"
    if done.exists() and python.exists():
        return venv
    if venv.exists():
        shutil.rmtree(venv)  # a half-built environment from an interrupted run
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
        check=True,
        timeout=1800,
    )
    done.write_text("\n".join(pins) + "\n")
    return venv


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(out)


def colab_instance(dest: Path) -> Path:
    """A fresh virtual environment that sees the cached Colab packages; returns its python.

    Like a new Colab runtime: torch, tensorflow, numpy, matplotlib, tqdm and
    ipykernel import, `utils` does not, and whatever pip installs lands in
    this environment only (the cached one stays untouched, so tests running
    in parallel cannot disturb each other).
    """
    base = base_environment()
    subprocess.run([sys.executable, "-m", "venv", str(dest)], check=True)
    python = dest / "bin" / "python"
    (_site_packages(python) / "colab_preinstalled.pth").write_text(str(_site_packages(base / "bin" / "python")) + "\n")
    return python


def pip_freeze(python: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # names normalised as PEP 503 does (tensorflow_cpu and tensorflow-cpu are one package)
    return {re.sub(r"[-_.]+", "-", d["name"]).lower(): d["version"] for d in json.loads(out)}


def snapshot_repository(dest: Path) -> Path:
    """A git repository (branch main) holding the working tree's current files.

    Tracked and untracked-but-not-ignored files are copied, so uncommitted work
    is what gets tested. Nothing in the working tree's own git state changes.
    """
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = ROOT / rel
        if not src.is_file():
            continue  # deleted but still in the index
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    git = ["git", "-c", "user.name=course-test", "-c", "user.email=course-test@localhost", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot for the simulated Colab test"], cwd=dest, check=True)
    return dest


# ----------------------------------------------------------------------------
# executing a notebook with a kernel of a given interpreter
# ----------------------------------------------------------------------------


def execute(nb, python: Path, workdir: Path, env: dict, timeout: int = CELL_TIMEOUT):
    """Run every cell of `nb` (errors allowed) in a kernel of `python`, cwd `workdir`."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    spec_dir = workdir.parent / f"kernels-{workdir.name}"
    (spec_dir / "fake-colab").mkdir(parents=True, exist_ok=True)
    (spec_dir / "fake-colab" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "fake Colab",
                "language": "python",
            }
        )
    )
    km = KernelManager(kernel_name="fake-colab", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]))
    client = NotebookClient(
        nb, km=km, timeout=timeout, allow_errors=True, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute(env=env, stderr=subprocess.DEVNULL)
    return nb


def kernel_env(**extra) -> dict:
    """The environment of a learner's kernel: nothing that points at the course's own checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "COURSE_REPOSITORY", "COURSE_FORCE_COLAB")
    }
    env.update(MPLBACKEND="module://matplotlib_inline.backend_inline", PYTHONNOUSERSITE="1", **extra)
    return env


def text_of(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)


def error_of(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename"), out.get("evalue")
    return None


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def names_the_learner_defines(release_path: Path) -> set[str]:
    """Functions, classes and variables that the solution cells define (read from source/)."""
    stem = release_path.stem
    names = set()
    source = ROOT / "source" / stem / f"{stem}.ipynb"
    cells = nbformat.read(source if source.exists() else release_path, as_version=4).cells
    for cell in cells:
        if not nbgrader(cell).get("solution"):
            continue
        names.add(nbgrader(cell).get("grade_id", ""))
        try:
            tree = ast.parse(
                "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            )
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


# ----------------------------------------------------------------------------
# the tests
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course_clone(tmp_path_factory) -> Path:
    return snapshot_repository(tmp_path_factory.mktemp("course-repository"))


def test_there_are_release_notebooks_to_check():
    assert RELEASE_NOTEBOOKS, "release/ has no notebooks: run `make release`"


@pytest.mark.slow
@pytest.mark.parametrize("path", RELEASE_NOTEBOOKS, ids=lambda p: p.stem)
def test_release_notebook_on_simulated_colab(path: Path, course_clone: Path, tmp_path: Path):
    python = colab_instance(tmp_path / "colab-venv")
    before = pip_freeze(python)
    assert "rnn-course-utils" not in before, "the fresh environment already has the course's utils"

    workdir = tmp_path / "content"  # Colab's working folder: no `utils` beside the notebook
    workdir.mkdir()
    shutil.copy(path, workdir / path.name)
    nb = nbformat.read(workdir / path.name, as_version=4)
    execute(nb, python, workdir, kernel_env(COURSE_REPOSITORY=f"file://{course_clone}", COURSE_FORCE_COLAB="1"))

    # 1. the setup cell installed utils from the clone, and nothing else
    setup = next(c for c in nb.cells if "colab-setup" in c.metadata.get("tags", []))
    assert error_of(setup) is None, f"the setup cell failed on simulated Colab:\n{text_of(setup)}"
    assert "Course utils ready" in text_of(setup), text_of(setup)
    after = pip_freeze(python)
    added = sorted(set(after) - set(before))
    changed = sorted(name for name in before if name in after and before[name] != after[name])
    assert added == ["rnn-course-utils"], f"the setup cell installed more than utils: {added}"
    assert changed == [], f"the setup cell changed Colab's packages: {changed}"
    for framework in ("torch", "tensorflow-cpu"):
        assert after[framework] == before[framework]

    # 2. every visible test runs and fails on the stubs, with the teaching lines. Other
    #    cells may only fail because they call an unfinished exercise.
    answers = names_the_learner_defines(path)

    def caused_by_a_stub(error) -> bool:
        return error[0] == "NotImplementedError" or (
            error[0] == "NameError" and any(f"'{name}'" in error[1] for name in answers)
        )

    points = 0.0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell is setup:
            continue
        meta, text, error = nbgrader(cell), text_of(cell), error_of(cell)
        if meta.get("grade") and meta.get("grade_id", "").startswith("test_"):
            gid = meta["grade_id"]
            points += float(meta.get("points", 0))
            assert f"[FAIL] {gid}" in text, f"test cell {gid} printed no [FAIL] line:\n{text}"
            assert error is not None, f"test cell {gid} passed on the release stub"
            assert caused_by_a_stub(error) or error[0] == "CheckFailure", (gid, error)
            assert "Score so far: 0/" in text
        else:
            assert error is None or caused_by_a_stub(error), (
                f"cell {i} failed on simulated Colab:\n{cell.source[:300]}\n{text}"
            )
    assert points > 0, "the release notebook has no graded test cells"
    # the README promises: the last cell shows the score so far
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "score()" in last.source, "the last code cell should call utils.checks.score()"
    for cell in [last]:
        assert f"Score so far (visible tests): 0/{points:g}" in text_of(cell), text_of(cell)


@pytest.mark.slow
def test_setup_cell_outside_colab_needs_the_course_utils(tmp_path: Path):
    """Off Colab, a missing `utils` gives the install command instead of a bare ModuleNotFoundError."""
    python = colab_instance(tmp_path / "venv")
    nb = _setup_only(RELEASE_NOTEBOOKS[0])
    execute(nb, python, _workdir(tmp_path), kernel_env())
    ename, evalue = error_of(nb.cells[0])
    assert ename == "ImportError" and "is not installed" in evalue and "make lab" in evalue, evalue


@pytest.mark.slow
def test_setup_cell_names_a_stray_utils_module(tmp_path: Path):
    """A learner's own utils.py next to the notebook must not be taken for the course's library."""
    workdir = _workdir(tmp_path)
    (workdir / "utils.py").write_text("def helper():\n    return 1\n")
    nb = _setup_only(RELEASE_NOTEBOOKS[0])
    course_python = ROOT / ".venv" / "bin" / "python"
    python = course_python if course_python.exists() else Path(sys.executable)
    execute(nb, python, workdir, kernel_env())
    ename, evalue = error_of(nb.cells[0])
    assert ename == "ImportError", (ename, evalue)
    assert "shadows" in evalue and str(workdir / "utils.py") in evalue, evalue


def _setup_only(path: Path):
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "colab-setup" in c.metadata.get("tags", [])]
    assert len(nb.cells) == 1, f"{path.name} has no generated setup cell (tag colab-setup)"
    return nb


def _workdir(tmp_path: Path) -> Path:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return workdir


if __name__ == "__main__":  # `python tests/test_colab_setup.py` builds the cached environment
    print(base_environment())
