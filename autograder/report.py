"""Everything written to OUT_DIR from the per-student state files.

- grades.csv: one row per student and test cell (the full message, for the instructor);
- totals.csv: one row per student;
- feedback/<student>/<assignment>.html: for students. A visible check's
  message is shown; a hidden check shows only its name and pass/fail -- the
  code and the expected values of hidden tests never reach this file;
- report.html: the class report, with the grade distribution and the pass rate
  of each test cell as embedded PNG plots;
- gradebook.db: an nbgrader gradebook with every student's autograded scores
  (`nbgrader export` reads it).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import shutil
from pathlib import Path

GRADES_COLUMNS = [
    "student_id",
    "assignment",
    "notebook",
    "grade_id",
    "points",
    "max_points",
    "status",
    "message",
    "review",
]
TOTALS_COLUMNS = ["student_id", "assignment", "points", "max_points", "status", "review"]

_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
.passed{color:#1a7f37}.failed,.error,.timeout,.missing,.invalid,.tampered{color:#b42318}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.5rem;margin:0}"""


def _fmt(x: float) -> str:
    return f"{x:g}"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A text cell that a spreadsheet would run as a formula (= + - @, tab, CR first) gets a leading
    apostrophe: it then shows as the text it is (OWASP's advice on CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(path: Path, columns: list, rows: list) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_safe(row[k]) for k in columns})
    tmp.replace(path)


def feedback_html(result: dict) -> str:
    esc = html.escape
    rows = []
    for c in result["cells"]:
        text = c.get("feedback", "") if c["status"] != "passed" else ""
        rows.append(
            f"<tr><td><code>{esc(c['grade_id'])}</code></td><td class='{esc(c['status'])}'>"
            f"{esc(c['status'])}</td><td>{_fmt(c['points'])} / {_fmt(c['max_points'])}</td>"
            f"<td>{'<pre>' + esc(text) + '</pre>' if text else ''}</td></tr>"
        )
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.get("notes", []))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(result['assignment'])}: feedback for "
        f"{esc(result['student_id'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(result['assignment'])}</h1><p>Student <b>{esc(result['student_id'])}</b>: "
        f"<b>{_fmt(result['points'])} / {_fmt(result['max_points'])}</b> points "
        f"(<span class='{esc(result['status'])}'>{esc(result['status'])}</span>).</p>"
        "<table><tr><th>test</th><th>status</th><th>points</th><th>what the test says</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f"<h2>Notes on your notebook</h2><ul>{notes}</ul>" if notes else "")
        + "<p>Each test has visible checks (you can run them in your notebook) and hidden checks on other inputs; "
        "for a hidden check only whether it passed is shown.</p></body></html>\n"
    )


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


# incident kinds, in the order the report lists them, with how each is recognised in a result
INCIDENTS = [
    ("syntax error", re.compile(r"\b(SyntaxError|IndentationError|TabError)\b")),
    ("missing module", re.compile(r"\bModuleNotFoundError\b|No module named")),
    ("timeout", re.compile(r"time limit|stopped after")),
    ("flood", re.compile(r"printed [\d,]+ characters|more than the grader reads")),
    (
        "refused",
        re.compile(
            r"does not allow|Read-only file system|Permission denied|No space left|"
            r"Operation not permitted|name resolution"
        ),
    ),
    ("process died", re.compile(r"process died|died while")),
    ("tampering", re.compile(r"tampered|was edited|was emptied|metadata was changed|patched|changed while")),
    (
        "notebook",
        re.compile(
            r"in its place|was graded as student|several other notebooks|another assignment|"
            r"appears \d+ times|symbolic link|not a notebook|not valid JSON|is empty|"
            r"none of the cells"
        ),
    ),
]
_CELL_OF_NOTE = re.compile(
    r"^((?:cell \d+ of your notebook|your answer cell \S+)(?: \(after [^)]*\))?) "
    r"(?:raised|was stopped|printed)"
)
MISTAKE = re.compile(r"likely mistake: ([^\n]+)")
_STATUS_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#d1242f",
    "error": "#bc4c00",
    "timeout": "#8250df",
    "missing": "#6e7781",
    "invalid": "#6e7781",
    "tampered": "#000000",
}


def _incidents(results: list) -> list:
    """(student, kind, cell, what happened) for everything in the notes and test rows worth a look."""
    rows = []
    for r in results:
        texts = []
        for n in r.get("notes", []):
            m = _CELL_OF_NOTE.match(n)
            texts.append((m.group(1) if m else "", n))
        texts += [
            ("" if c["status"] == "invalid" else c["grade_id"], c.get("message", ""))
            for c in r["cells"]
            if c["status"] in ("timeout", "tampered", "invalid")
        ]
        seen = set()
        for cell, text in texts:
            for kind, pattern in INCIDENTS:
                if pattern.search(text or "") and (kind, cell, text[:80]) not in seen:
                    seen.add((kind, cell, text[:80]))
                    rows.append((r["student_id"], kind, cell, text))
                    break
    order = [k for k, _ in INCIDENTS]
    return sorted(rows, key=lambda row: (order.index(row[1]), row[0]))


def _mistakes(results: list, test_ids: list) -> dict:
    """test -> [(named mistake, how many students made it)], most common first."""
    out = {}
    for gid in test_ids:
        counts: dict = {}
        for r in results:
            for c in r["cells"]:
                if c["grade_id"] == gid and c["status"] != "passed":
                    for m in set(MISTAKE.findall(c.get("message", ""))):
                        counts[m.strip()] = counts.get(m.strip(), 0) + 1
        if counts:
            out[gid] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return out


def preload() -> None:
    """Import what the class report draws with. The grading process calls it while the engine is still
    importing the frameworks and a core is free, instead of paying it after the last submission."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    from matplotlib.ticker import MaxNLocator  # noqa: F401


def class_report_html(assignment, results: list) -> str:
    """The class report: what to teach again, who needs a look, and the numbers behind them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    esc = html.escape
    ids = list(assignment.tests)
    max_total = sum(t.points for t in assignment.tests.values()) or 1.0
    submitted = [r for r in results if r["status"] not in ("missing", "invalid")]
    missing = [r for r in results if r["status"] == "missing"]
    invalid = [r for r in results if r["status"] == "invalid"]

    shares = np.array([100.0 * r["points"] / max_total for r in submitted]) if submitted else np.zeros(0)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(shares, bins=np.linspace(0, 100, 11).tolist(), color="#4c72b0", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("score (% of the points)")
    ax.set_ylabel("students")
    ax.set_title(f"{assignment.id}: grade distribution ({len(submitted)} notebooks submitted)")
    hist = _png(fig)
    plt.close(fig)

    passed = {
        g: sum(1 for r in submitted for c in r["cells"] if c["grade_id"] == g and c["status"] == "passed") for g in ids
    }
    rates = [100.0 * passed[g] / max(1, len(submitted)) for g in ids]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(ids) + 1.2))
    ax.barh(ids[::-1], rates[::-1], color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"submitted notebooks that passed (%, of {len(submitted)})")
    ax.set_title("pass rate per test")
    bars = _png(fig)
    plt.close(fig)

    limits = next((r.get("limits") for r in results if r.get("limits")), None)
    limit_text = (
        (
            f"Limits used: {_fmt(limits['cell_timeout'])} s per cell, {_fmt(limits['timeout'])} s per notebook, "
            f"{limits['memory_mb']} MiB of memory; "
            + ("each submission in its own jail." if limits.get("jailed") else "UNSAFE: submissions were not jailed.")
        )
        if limits
        else ""
    )
    mean = float(shares.mean()) if len(shares) else 0.0

    head = "".join(f"<th><code>{esc(g)}</code></th>" for g in ids)
    grid = []
    for r in results:
        link = f"feedback/{r['student_id']}/{r['assignment']}.html"
        cells = {c["grade_id"]: c for c in r["cells"]}
        tds = "".join(
            f"<td class='{esc(cells[g]['status'])}' title='{esc(cells[g]['status'])}'>"
            f"{_fmt(cells[g]['points'])}/{_fmt(cells[g]['max_points'])} {esc(cells[g]['status'])}</td>"
            if g in cells
            else "<td></td>"
            for g in ids
        )
        grid.append(
            f"<tr><td><a href='{esc(link)}'>{esc(r['student_id'])}</a></td><td>{_fmt(r['points'])}</td>"
            f"<td class='{esc(r['status'])}'>{esc(r['status'])}</td>{tds}</tr>"
        )

    mistakes = _mistakes(submitted, ids)
    mistake_rows = "".join(
        f"<tr><td><code>{esc(g)}</code></td><td><ul>"
        + "".join(f"<li><b>{n}</b> student{'s' if n != 1 else ''}: {esc(m)}</li>" for m, n in found[:5])
        + "</ul></td></tr>"
        for g, found in mistakes.items()
    )
    incidents = _incidents(results)
    incident_rows = "".join(
        f"<tr><td><a href='feedback/{esc(s)}/{esc(assignment.id)}.html'>{esc(s)}</a></td><td>{esc(k)}</td>"
        f"<td>{esc(c)}</td><td>{esc(t[:300])}</td></tr>"
        for s, k, c, t in incidents
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(assignment.id)}: class report</title>"
        f"<style>{_CSS}td.passed{{background:#dafbe1}}td.failed,td.error{{background:#ffebe9}}"
        "td.timeout{background:#fbefff}td.tampered{background:#eee}</style></head><body>"
        f"<h1>{esc(assignment.id)}: class report</h1>"
        f"<p>{len(results)} students: {len(submitted)} submitted a notebook that was graded; {len(missing)} "
        f"missing; {len(invalid)} invalid (counted apart: the rates below are over the {len(submitted)} graded "
        f"notebooks). Mean score {mean:.1f} % of {_fmt(max_total)} points. {esc(limit_text)}</p>"
        "<h2>The class's mistakes</h2><p>The likely mistakes the checks named in failed tests, most common "
        "first: what to teach again.</p>"
        + (
            f"<table><tr><th>test</th><th>named mistakes (students)</th></tr>{mistake_rows}</table>"
            if mistake_rows
            else "<p>No check named a mistake.</p>"
        )
        + f"<h2>Pass rate per test</h2><img alt='pass rate per test' src='data:image/png;base64,{bars}'>"
        "<table><tr><th>test</th><th>passed</th></tr>"
        + "".join(
            f"<tr><td><code>{esc(g)}</code></td><td>{passed[g]} of {len(submitted)} ({rate:.0f} %)</td></tr>"
            for g, rate in zip(ids, rates)
        )
        + "</table>"
        f"<h2>Grade distribution</h2><img alt='grade distribution' src='data:image/png;base64,{hist}'>"
        "<h2>To read by hand</h2><p>Answers the checks cannot judge alone: code that imports or runs other "
        "code by name (a forbidden helper could hide behind it), and helpers the student's process reported "
        "calling while a test ran its answer.</p>"
        + (
            "<table><tr><th>student</th><th>why</th></tr>"
            + "".join(
                f"<tr><td><a href='feedback/{esc(r['student_id'])}/{esc(r['assignment'])}.html'>{esc(r['student_id'])}"
                f"</a></td><td>{'<br>'.join(esc(t) for t in r.get('review', []))}</td></tr>"
                for r in results
                if r.get("review")
            )
            + "</table>"
            if any(r.get("review") for r in results)
            else "<p>Nothing.</p>"
        )
        + "<h2>Incidents</h2><p>Everything that is not a plain wrong answer, by student and cell.</p>"
        + (
            f"<table><tr><th>student</th><th>what</th><th>cell</th><th>details</th></tr>{incident_rows}</table>"
            if incident_rows
            else "<p>None.</p>"
        )
        + "<h2>Students and tests</h2><p>Each name links to the student's feedback page.</p>"
        f"<table><tr><th>student</th><th>points</th><th>status</th>{head}</tr>" + "".join(grid) + "</table>"
        "</body></html>\n"
    )


def write_gradebook(out: Path, assignment, results: list, work: Path) -> None:
    """A copy of the source gradebook with every student's autograded scores (nbgrader's schema)."""
    import warnings

    from nbgrader.api import Gradebook

    target = out / "gradebook.db"
    tmp = out / ".gradebook.db.tmp"
    shutil.copyfile(work / "source-gradebook.db", tmp)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{tmp}") as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notices inside nbgrader
        for r in results:
            gb.update_or_create_student(r["student_id"])
            extra = {}
            if r.get("submitted_at"):
                from nbgrader.utils import parse_utc

                try:
                    extra["timestamp"] = parse_utc(r["submitted_at"])
                except Exception:  # an unreadable timestamp.txt is left out, not fatal
                    pass
            gb.add_submission(assignment.id, r["student_id"], **extra)
            for c in r["cells"]:
                grade = gb.find_grade(c["grade_id"], assignment.notebook, assignment.id, r["student_id"])
                grade.auto_score = c["points"]
        gb.db.commit()
    tmp.replace(target)


def write_nbgrader_feedback(out: Path, assignment_id: str, found: dict, results: list) -> Path | None:
    """For submissions collected by nbgrader (submitted/<student>/<id>/ with its timestamp.txt and
    submission_secret.txt): the layout `nbgrader release_feedback` reads, in the course folder that
    holds submitted/ -- feedback/<student>/<id>/<id>.html plus those two files. Returns that
    feedback folder, or None when no submission came from nbgrader's exchange."""
    written = None
    for r in results:
        path = found.get(r["student_id"])
        if path is None or path.parent.name != assignment_id or path.parent.parent.parent.name != "submitted":
            continue
        src = path.parent
        if not all(
            (src / f).is_file() and not (src / f).is_symlink() for f in ("timestamp.txt", "submission_secret.txt")
        ):
            continue
        course = src.parent.parent.parent
        dest = course / "feedback" / r["student_id"] / assignment_id
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "feedback" / r["student_id"] / f"{assignment_id}.html", dest / f"{assignment_id}.html")
        for f in ("timestamp.txt", "submission_secret.txt"):
            shutil.copyfile(src / f, dest / f)
        written = course / "feedback"
    return written


def write_outputs(out: Path, assignment, results: list, work: Path, gradebook: bool = True) -> None:
    rows = []
    for r in results:
        for c in r["cells"]:
            rows.append(
                {
                    "student_id": r["student_id"],
                    "assignment": r["assignment"],
                    "notebook": r["notebook"],
                    "grade_id": c["grade_id"],
                    "points": _fmt(c["points"]),
                    "max_points": _fmt(c["max_points"]),
                    "status": c["status"],
                    "message": c.get("message", ""),
                    "review": "; ".join(r.get("review", [])),
                }
            )
    _csv(out / "grades.csv", GRADES_COLUMNS, rows)
    _csv(
        out / "totals.csv",
        TOTALS_COLUMNS,
        [
            {
                "student_id": r["student_id"],
                "assignment": r["assignment"],
                "points": _fmt(r["points"]),
                "max_points": _fmt(r["max_points"]),
                "status": r["status"],
                "review": "; ".join(r.get("review", [])),
            }
            for r in results
        ],
    )
    for r in results:
        path = out / "feedback" / r["student_id"] / f"{r['assignment']}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_html(r), encoding="utf-8")
    (out / "report.html").write_text(class_report_html(assignment, results), encoding="utf-8")
    if gradebook:
        write_gradebook(out, assignment, results, work)
