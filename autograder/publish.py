"""`python -m autograder publish DEST [--repository URL]`: the student edition of the course.

The instructor's repository (private) keeps everything: `source/` with solutions and hidden tests, the
autograder, the test suite. The student edition, written into DEST, is what a public repository (or a
GitHub Classroom template) holds:

    notebooks/            the lessons
    release/              the exercise notebooks (generated from source/ by nbgrader: stubs, visible tests)
    utils/                the course library (`import utils`), its pyproject.toml
    README.md             a student README: course map with Colab badges, self-study instructions
    Makefile              `make lab` (JupyterLab on the course), `make test` (run every notebook once)
    tools/check_notebooks.py, tools/jupyterlab/overrides.json, requirements.txt, constraints.txt, LICENSE

The Colab badges and the setup cell of every notebook of the edition point at the student repository
(`--repository`, or `student_repository` in course.toml), so that Colab opens the public notebooks and
installs `utils` from the public repository.

The edition is staged beside DEST, checked by `leak_check` (below), and only then moved into DEST: if
any text of a solution or a hidden test would reach it, DEST is left as it was and the command fails.
A DEST that already holds an edition (or a fresh clone of the student repository: only `.git`) is
replaced, its `.git` kept, so publishing again and pushing keeps the two repositories in step.

The leak check (also `python -m autograder publish DEST --check`, for an edition published earlier)
------------------------------------------------------------------------------------------------------
A *secret line* is a code line inside `### BEGIN SOLUTION` / `### END SOLUTION` or `### BEGIN HIDDEN
TESTS` / `### END HIDDEN TESTS` in any notebook of `source/`. Lines are compared *normalised*: the
trailing comment dropped, every blank removed, quotes unified, so that re-indenting or re-spacing a
line does not hide it. A secret line counts as found when it occurs in the text of any file of DEST
(inside a longer line too: a line of code quoted in prose is found). Not every secret line can be
searched for, because idiomatic code recurs where it is taught; the policy is:

1. *Too short to be secret*: a normalised line of fewer than `MIN_CHARS` characters (`return cm`,
   `else:`, `loss.backward()`, `h_t, c_t = ...` fragments) is never flagged on its own.
2. *Public by design*: a line that also occurs in the public text of `source/` itself (outside every
   solution and hidden region: instructions, stubs, visible tests) or in the lessons (`notebooks/`) is
   teaching material the instructor publishes on purpose (`optimizer.zero_grad()`, `raise
   ValueError(`, `return output_shape, h_n_shape` when a lesson shows it). `utils/` and `release/`
   are NOT part of this baseline: they are what is checked, so a solution copied into `utils` is found.
3. *Allowed with a reason*: `ALLOWED` below lists the few remaining lines that are generic although
   long, each with why it is no answer.
4. *A run of lines is never generic*: `RUN_LINES` consecutive non-blank lines of one region that
   occur consecutively in one file of DEST are flagged even when each line alone is generic by rule
   1 or 2, since a copied solution body is made of ordinary lines (rule 3's lines are still skipped),
   unless that very run is public too: it occurs in that order in the public text of `source/` (one
   assignment's visible test written like another's hidden one) or in a lesson.

Everything else is *distinctive*, and one distinctive line found in DEST fails the check. `utils` has no
exception: it is the course's public library (the lessons call it, the tests compare against it, and each
exercise's `check_own_work` forbids the helpers that would answer it), so it may compute what an exercise
asks, written as library code, but never in the words of a solution of `source/`. Besides
lines, the check fails when DEST holds a `source/` folder, the autograder, the instructor's tests or
gradebook, or a notebook cell with a solution or hidden-test marker.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import ROOT, skip_slow_optional_imports

skip_slow_optional_imports()
import nbformat  # noqa: E402 - after the line above

#: A normalised line shorter than this is never flagged on its own (rule 1).
MIN_CHARS = 24
#: This many consecutive non-blank lines of one secret region, found consecutively in a file, are a leak (rule 4).
RUN_LINES = 4
#: Rule 3: secret lines that are generic although long, and why (compared normalised). Keep it short.
_ALLOWED_LINES = {
    "layer.bias_hh_l0.zero_()": "PyTorch keeps two biases and numpy one: zeroing the second is how every weight copy "
    "of the course (lesson 02, the 08 adapters) lines the two up; lesson 02 teaches it",
    "self.embedding = nn.Embedding(vocab_size, embed_dim)": (
        "the one way to write an embedding layer; every model of utils has it"
    ),
    "for return_sequences, return_state in itertools.product((False, True), repeat=2):": (
        "a hidden test's loop over the four option pairs, the same loop as utils' table of Keras shapes"
    ),
}
MARKERS = {
    "solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
    "hidden": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
}
#: What the instructor's repository has and the edition must not (rule: no instructor tooling).
FORBIDDEN_PATHS = (
    "source",
    "autograder",
    "tests",
    "benchmarks",
    "gradebook.db",
    "nbgrader_config.py",
    "course.toml",
    "tools/sync_notebooks.py",
    ".ci",
    "submitted",
    "autograded",
    "feedback",
)
EDITION_MARK = ".student-edition.json"
SKIP_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".git"}


# ---------------------------------------------------------------------------------------------------------------
# normalised lines
# ---------------------------------------------------------------------------------------------------------------


def _drop_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `#` inside a string literal is kept)."""
    quote = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch == "#":
            return line[:i]
        elif ch in "'\"":
            quote = line[i : i + 3] if line[i : i + 3] in ("'''", '"""') else ch
            i += len(quote)
            continue
        i += 1
    return line


_BLANKS = re.compile(r"\s+")


def normalise(line: str, *, code: bool = True) -> str:
    """The form lines are compared in: no comment (code only), no blanks, one kind of quote."""
    if code:
        line = _drop_comment(line)
    return _BLANKS.sub("", line).replace("'", '"')


ALLOWED: dict[str, str] = {normalise(line): why for line, why in _ALLOWED_LINES.items()}


def _text_lines(text: str) -> list[str]:
    return [normalise(line, code=False) for line in text.splitlines()]


# ---------------------------------------------------------------------------------------------------------------
# what is secret, what is public by design
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Region:
    """One solution or hidden-test region of a source notebook."""

    assignment: str
    cell: str  # the cell's grade_id (or its index)
    kind: str  # "solution" or "hidden"
    lines: list[str] = field(default_factory=list)  # raw code lines, markers excluded

    @property
    def where(self) -> str:
        return f"source/{self.assignment} {self.cell} ({self.kind})"


def _cell_regions(source: str, assignment: str, name: str) -> tuple[list[Region], list[str]]:
    """The regions of one code cell (one per marker pair) and its public lines."""
    regions, public, current = [], [], None
    for line in source.splitlines():
        stripped = line.strip()
        opened = next((k for k, (begin, _) in MARKERS.items() if stripped == begin), None)
        closed = next((k for k, (_, end) in MARKERS.items() if stripped == end), None)
        if opened:
            current = Region(assignment, name, opened)
            regions.append(current)
        elif closed:
            current = None
        elif current is not None:
            current.lines.append(line)
        else:
            public.append(line)
    return regions, public


def source_notebooks(course_root: Path) -> list[Path]:
    return sorted(p for p in (course_root / "source").glob("*/*.ipynb") if p.stem == p.parent.name)


def secret_regions(course_root: Path) -> tuple[list[Region], set[str]]:
    """Every solution and hidden region of source/, and the normalised lines of its public text."""
    regions: list[Region] = []
    public: set[str] = set()
    for path in source_notebooks(course_root):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            name = meta.get("grade_id") or f"cell {index}"
            if cell.cell_type != "code":
                if meta.get("solution") and "### BEGIN SOLUTION" not in cell.source:  # a written answer: all secret
                    regions.append(Region(path.stem, name, "solution", cell.source.splitlines()))
                else:
                    public.update(_text_lines(cell.source))
                continue
            found, shown = _cell_regions(cell.source, path.stem, name)
            regions += found
            public.update(normalise(line) for line in shown)
    return regions, public


def _runs_of(lines) -> set:
    body = [line for line in lines if line]
    return {tuple(body[i : i + RUN_LINES]) for i in range(len(body) - RUN_LINES + 1)}


def public_runs(course_root: Path) -> set:
    """Every run of `RUN_LINES` normalised non-blank lines of the public text of source/ and of the lessons."""
    runs: set = set()
    for path in source_notebooks(course_root):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"
                runs |= _runs_of(normalise(line) for line in _cell_regions(cell.source, path.stem, name)[1])
    for path in sorted((course_root / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                runs |= _runs_of(normalise(line) for line in cell.source.splitlines())
    return runs


def lesson_lines(course_root: Path) -> set[str]:
    """Normalised lines of the lessons: teaching material, published on purpose (rule 2)."""
    found: set[str] = set()
    for path in sorted((course_root / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            found.update(normalise(line, code=cell.cell_type == "code") for line in cell.source.splitlines())
    return found


# ---------------------------------------------------------------------------------------------------------------
# the leak check
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Leak:
    where: str  # the secret region
    found_in: str  # the file of DEST (and cell)
    lines: list[str]  # the secret lines found
    why: str  # "distinctive line" | "run of N lines" | "instructor-only path" | "marker"

    def __str__(self) -> str:
        shown = "\n".join(f"      {line.strip()}" for line in self.lines[:6])
        return f"  {self.why}: {self.where} -> {self.found_in}\n{shown}"


def _dest_texts(dest: Path) -> dict[str, list[str]]:
    """Every text file of DEST as normalised lines (a notebook: its cells' sources and outputs, cell by cell)."""
    texts: dict[str, list[str]] = {}
    for path in sorted(dest.rglob("*")):
        if not path.is_file() or SKIP_NAMES & set(path.relative_to(dest).parts):
            continue
        rel = path.relative_to(dest).as_posix()
        try:
            raw = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a binary file holds no solution text
        if path.suffix == ".ipynb":
            try:
                nb = nbformat.reads(raw, as_version=4)
            except Exception:  # not a notebook after all: read it as text
                texts[rel] = _text_lines(raw)
                continue
            for index, cell in enumerate(nb.cells):
                lines = _text_lines(cell.source)
                for out in cell.get("outputs", []):
                    text = out.get("text") or "\n".join(
                        str(v) for v in out.get("data", {}).values() if isinstance(v, str)
                    )
                    lines += _text_lines(text if isinstance(text, str) else "".join(text))
                texts[f"{rel} (cell {index})"] = lines
        else:
            texts[rel] = _text_lines(raw)
    return texts


def _structure_leaks(dest: Path) -> list[Leak]:
    leaks = []
    for name in FORBIDDEN_PATHS:
        if (dest / name).exists():
            leaks.append(Leak("the instructor's repository", name, [], "instructor-only path"))
    for path in sorted(dest.rglob("*.ipynb")):
        if SKIP_NAMES & set(path.relative_to(dest).parts):
            continue
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:
            continue
        for index, cell in enumerate(nb.cells):
            marks = [m for pair in MARKERS.values() for m in pair if m in cell.source]
            if marks:
                leaks.append(
                    Leak(
                        "a solution or hidden-test marker", f"{path.relative_to(dest)} (cell {index})", marks, "marker"
                    )
                )
    return leaks


#: An answer: a name or a dict key set to one literal (`reason = "b"`, `"C": "leakage",`), never generic.
_ANSWER = re.compile(r'^([A-Za-z_]\w*=|"[^"]*":)("[^"]*"|-?[\d.]+|True|False|None),?$')


def classify(line: str, public: str) -> str:
    """Which rule a normalised secret line falls under: blank, short, public, allowed or distinctive."""
    if not line:
        return "blank"
    if line in ALLOWED:
        return "allowed"
    if line in public:
        return "public"
    if len(line) < MIN_CHARS and not _ANSWER.match(line):  # a short answer stays secret
        return "short"
    return "distinctive"


def leak_check(dest: Path, course_root: Path = ROOT) -> list[Leak]:
    """The leaks of `dest`: every piece of solution or hidden-test text of `course_root/source` found there that
    no rule of the policy explains. `utils` is checked like every other file: the library may teach the
    methods the exercises use, but it holds no solution's text."""
    dest, course_root = Path(dest), Path(course_root)
    regions, public_lines = secret_regions(course_root)
    public = "\n".join(sorted(public_lines | lesson_lines(course_root)))
    texts = _dest_texts(dest)
    joined = "\n".join("\n".join(lines) for lines in texts.values())
    findings = _structure_leaks(dest)
    shown_runs = public_runs(course_root)

    for region in regions:
        normed = [normalise(line) for line in region.lines]
        for raw, line in zip(region.lines, normed):  # rules 1-3
            if classify(line, public) != "distinctive" or line not in joined:
                continue
            for name, lines in texts.items():
                if any(line in text for text in lines):
                    findings.append(Leak(region.where, name, [raw], "distinctive line"))
        body = [(raw, line) for raw, line in zip(region.lines, normed) if line and line not in ALLOWED]
        reported: set[str] = set()
        for start in range(len(body) - RUN_LINES + 1):  # rule 4
            run = [line for _, line in body[start : start + RUN_LINES]]
            if run[0] not in joined or tuple(run) in shown_runs:
                continue
            for name, lines in texts.items():
                if name not in reported and any(
                    lines[i] == run[0] and _run_at(lines, i, run) for i in range(len(lines))
                ):
                    findings.append(
                        Leak(
                            region.where,
                            name,
                            [raw for raw, _ in body[start : start + RUN_LINES]],
                            f"run of {RUN_LINES} lines",
                        )
                    )
                    reported.add(name)
    return findings


def _run_at(lines: list[str], i: int, run: list[str]) -> bool:
    """`run` occurs at lines[i:], blank lines of the file skipped."""
    j = i
    for want in run:
        while j < len(lines) and not lines[j]:
            j += 1
        if j >= len(lines) or lines[j] != want:
            return False
        j += 1
    return True


def policy_counts(course_root: Path = ROOT) -> dict[str, int]:
    """How many secret lines of source/ each rule sets aside: counts only, no text."""
    regions, public_lines = secret_regions(course_root)
    public = "\n".join(sorted(public_lines | lesson_lines(course_root)))
    counts = dict.fromkeys(("blank", "short", "public", "allowed", "distinctive"), 0)
    for region in regions:
        for raw in region.lines:
            counts[classify(normalise(raw), public)] += 1
    return counts


# ---------------------------------------------------------------------------------------------------------------
# writing the edition
# ---------------------------------------------------------------------------------------------------------------


def load_course(course_root: Path) -> dict:
    with open(course_root / "course.toml", "rb") as fh:
        return tomllib.load(fh)


def student_repository(course: dict, repository: str | None) -> str:
    url = (repository or course["course"].get("student_repository") or "").strip().rstrip("/")
    if not url:
        raise ValueError("no student repository: pass --repository URL, or set student_repository in course.toml")
    if "github.com/" not in url:
        raise ValueError(
            f"--repository should be a GitHub address (https://github.com/OWNER/NAME), got {url!r}: "
            "the Colab badges open notebooks from GitHub"
        )
    return url


def _sync_module(course_root: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_course_sync_notebooks", course_root / "tools" / "sync_notebooks.py")
    assert spec is not None and spec.loader is not None  # a .py file always has a spec with a loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _student_course(course: dict, url: str) -> dict:
    student = {**course, "course": dict(course["course"])}
    student["course"]["repository"] = url
    student["course"]["branch"] = course["course"].get("student_branch", course["course"].get("branch", "main"))
    return student


def _rewrite_notebook(path: Path, rel: str, sync, course: dict) -> None:
    """Point the badge and the setup cell of one copied notebook at the student repository."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "colab-badge" in tags:
            cell.source = sync.badge(course, rel)
        elif "colab-setup" in tags:
            cell.source = sync.setup_source(course, path.stem)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    text = nbformat.writes(nb)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info"))


def _readme_section(text: str, name: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    return text.split(start, 1)[1].split(end, 1)[0].strip() if start in text and end in text else ""


def student_readme(course_root: Path, course: dict, sync) -> str:
    readme = (course_root / "README.md").read_text(encoding="utf-8")
    title = course["course"]["title"]
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].strip() if "\n## " in readme else ""
    self_study = _readme_section(readme, "self-study")
    return f"""# {title}

{intro}

This is the student edition of the course: the lessons, the exercise notebooks and the `utils` library.
Work through it on Google Colab (click a badge below) or on your own laptop.

## Quick start

```bash
make lab    # open JupyterLab on the course
make test   # run every notebook once: lessons run clean, exercises fail only where an answer is still missing
```

Each command creates `.venv` from the pinned `requirements.txt` the first time (a few minutes) and reuses
it afterwards. Python 3.11 and `make` are all you need.

## Course map

{sync.course_map(course)}

## How it works

{self_study}

## What is here

| path | what it is |
| --- | --- |
| `notebooks/` | the lessons, in order |
| `release/` | the exercises: write your answers where it says `YOUR CODE HERE`, run the test cell after each |
| `utils/` | the course library (`import utils`): metrics, checks, plots, datasets, framework adapters |
| `tools/check_notebooks.py` | what `make test` runs: every notebook, top to bottom |

The course is published under the terms in `LICENSE`.
"""


# The edition's own files that are not the course's: real files of this repository (linted and tested as
# the rest; tools/check_notebooks.py is what the edition's `make test` runs).
EDITION_FILES = Path(__file__).resolve().parent / "edition"
EDITION_COPIES = {"Makefile": "Makefile", "gitignore": ".gitignore", "check_notebooks.py": "tools/check_notebooks.py"}


def _student_pyproject(text: str) -> str:
    """The instructor's pyproject.toml without its test settings (they name the instructor's test folders),
    without its type checks (they check the grader; the edition has no `make lint`) and without the grader
    (its package and its command: the edition has no autograder/)."""
    for section in (r"tool\.pytest\.ini_options", r"project\.scripts"):
        text = re.sub(rf"\n\[{section}\]\n.*?(?=\n\[|\n# |\Z)", "\n", text, flags=re.S)
    # [tool.mypy] and its [[tool.mypy.overrides]], with the comments above them
    text = re.sub(r"\n# Type checks .*?(?=\n\[(?!\[?tool\.mypy)|\Z)", "\n", text, flags=re.S)
    text = re.sub(r"\n# The course's grader.*?(?=\n\[)", "", text, flags=re.S)
    text = re.sub(r', "autograder(?:\.\w+)?"', "", text)
    return text.rstrip() + "\n"


def write_edition(stage: Path, course_root: Path, url: str) -> None:
    """Write the student edition into the empty folder `stage`."""
    course = load_course(course_root)
    student = _student_course(course, url)
    sync = _sync_module(course_root)
    for name in ("notebooks", "release", "utils"):
        _copy_tree(course_root / name, stage / name)
    for path in sorted(stage.rglob("*.ipynb")):
        _rewrite_notebook(path, path.relative_to(stage).as_posix(), sync, student)
    for name in ("requirements.txt", "constraints.txt", "LICENSE"):
        if (course_root / name).is_file():
            shutil.copy2(course_root / name, stage / name)
    (stage / "pyproject.toml").write_text(
        _student_pyproject((course_root / "pyproject.toml").read_text()), encoding="utf-8"
    )
    (stage / "tools" / "jupyterlab").mkdir(parents=True)
    shutil.copy2(course_root / "tools" / "jupyterlab" / "overrides.json", stage / "tools" / "jupyterlab")
    for name, where in EDITION_COPIES.items():
        shutil.copyfile(EDITION_FILES / name, stage / where)
    (stage / "README.md").write_text(student_readme(course_root, student, sync), encoding="utf-8")
    (stage / EDITION_MARK).write_text(
        json.dumps({"course": course["course"]["id"], "repository": url}, indent=1) + "\n", encoding="utf-8"
    )


def _replaceable(dest: Path) -> bool:
    if not dest.exists():
        return True
    entries = {p.name for p in dest.iterdir()}
    return not entries - {".git"} or EDITION_MARK in entries


def publish(dest: Path, repository: str | None = None, course_root: Path = ROOT) -> int:
    dest, course_root = Path(dest).absolute(), Path(course_root)
    try:
        url = student_repository(load_course(course_root), repository)
    except ValueError as err:
        print(f"publish: {err}", file=sys.stderr)
        return 2
    inside = [
        course_root / name for name in ("notebooks", "release", "source", "utils", "autograder", "tests", "tools")
    ]
    if dest == course_root or dest in course_root.parents or any(d == dest or d in dest.parents for d in inside):
        print(
            f"publish: DEST {dest} would overwrite or sit inside the course itself: publish next to it", file=sys.stderr
        )
        return 2
    if not _replaceable(dest):
        print(
            f"publish: {dest} holds files but no student edition: give an empty folder, a clone of the "
            "student repository, or an edition published before",
            file=sys.stderr,
        )
        return 2
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}-staging-", dir=dest.parent) as tmp:
        stage = Path(tmp)
        write_edition(stage, course_root, url)
        leaks = leak_check(stage, course_root)
        if leaks:
            print(
                f"publish: REFUSED, {len(leaks)} piece(s) of solution or hidden-test text would reach the "
                f"student edition; {dest} is unchanged:",
                file=sys.stderr,
            )
            for leak in leaks:
                print(leak, file=sys.stderr)
            return 1
        dest.mkdir(exist_ok=True)
        for entry in dest.iterdir():
            if entry.name != ".git":
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        for entry in stage.iterdir():
            shutil.move(str(entry), dest / entry.name)
    counts = policy_counts(course_root)
    notebooks = len(list(dest.glob("notebooks/*.ipynb"))) + len(list(dest.glob("release/*/*.ipynb")))
    print(
        f"published the student edition to {dest}: {notebooks} notebooks, utils, README; badges and setup "
        f"point at {url}; leak check passed ({counts['distinctive']} distinctive solution and hidden-test "
        f"lines, none found)"
    )
    return 0


def check(dest: Path, course_root: Path = ROOT) -> int:
    """The leak check alone, on an edition published earlier (CI, or before a push)."""
    leaks = leak_check(Path(dest), Path(course_root))
    if leaks:
        print(f"leak check FAILED: {len(leaks)} piece(s) of solution or hidden-test text in {dest}:", file=sys.stderr)
        for leak in leaks:
            print(leak, file=sys.stderr)
        return 1
    print(f"leak check passed: no solution or hidden-test text of source/ in {dest}")
    return 0


def main(args) -> int:
    if getattr(args, "check", False):
        return check(Path(args.dest), Path(args.course_root or ROOT))
    return publish(Path(args.dest), args.repository, Path(args.course_root or ROOT))


if __name__ == "__main__":  # pragma: no cover - use python -m autograder publish
    sys.exit(2)
