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
import shutil
from pathlib import Path

GRADES_COLUMNS = ["student_id", "assignment", "notebook", "grade_id", "points", "max_points", "status", "message"]
TOTALS_COLUMNS = ["student_id", "assignment", "points", "max_points", "status"]

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
        rows.append(f"<tr><td><code>{esc(c['grade_id'])}</code></td><td class='{esc(c['status'])}'>"
                    f"{esc(c['status'])}</td><td>{_fmt(c['points'])} / {_fmt(c['max_points'])}</td>"
                    f"<td>{'<pre>' + esc(text) + '</pre>' if text else ''}</td></tr>")
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.get("notes", []))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(result['assignment'])}: feedback for "
        f"{esc(result['student_id'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(result['assignment'])}</h1><p>Student <b>{esc(result['student_id'])}</b>: "
        f"<b>{_fmt(result['points'])} / {_fmt(result['max_points'])}</b> points "
        f"(<span class='{esc(result['status'])}'>{esc(result['status'])}</span>).</p>"
        "<table><tr><th>test</th><th>status</th><th>points</th><th>what the test says</th></tr>"
        + "".join(rows) + "</table>"
        + (f"<h2>Notes on your notebook</h2><ul>{notes}</ul>" if notes else "")
        + "<p>Each test has visible checks (you can run them in your notebook) and hidden checks on other inputs; "
          "for a hidden check only whether it passed is shown.</p></body></html>\n"
    )


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def class_report_html(assignment, results: list) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    esc = html.escape
    max_total = sum(t.points for t in assignment.tests.values()) or 1.0
    shares = np.array([100.0 * r["points"] / max_total for r in results]) if results else np.zeros(0)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(shares, bins=np.linspace(0, 100, 11), color="#4c72b0", edgecolor="white")
    ax.set_xlabel("score (% of the points)")
    ax.set_ylabel("students")
    ax.set_title(f"{assignment.id}: grade distribution ({len(results)} students)")
    hist = _png(fig)
    plt.close(fig)

    ids = list(assignment.tests)
    rates = [100.0 * sum(1 for r in results for c in r["cells"] if c["grade_id"] == g and c["status"] == "passed")
             / max(1, len(results)) for g in ids]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(ids) + 1.2))
    ax.barh(ids[::-1], rates[::-1], color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed (%)")
    ax.set_title("pass rate per test")
    bars = _png(fig)
    plt.close(fig)

    counts: dict = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    mean = float(shares.mean()) if len(shares) else 0.0
    rows = "".join(f"<tr><td>{esc(r['student_id'])}</td><td>{_fmt(r['points'])} / {_fmt(r['max_points'])}</td>"
                   f"<td class='{esc(r['status'])}'>{esc(r['status'])}</td></tr>" for r in results)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(assignment.id)}: class report</title>"
        f"<style>{_CSS}</style></head><body><h1>{esc(assignment.id)}: class report</h1>"
        f"<p>{len(results)} students; mean score {mean:.1f} % of {_fmt(max_total)} points. Status counts: "
        + ", ".join(f"{esc(k)} {v}" for k, v in sorted(counts.items())) + ".</p>"
        f"<h2>Grade distribution</h2><img alt='grade distribution' src='data:image/png;base64,{hist}'>"
        f"<h2>Pass rate per test</h2><img alt='pass rate per test' src='data:image/png;base64,{bars}'>"
        "<table><tr><th>test</th><th>passed</th></tr>"
        + "".join(f"<tr><td><code>{esc(g)}</code></td><td>{rate:.0f} %</td></tr>" for g, rate in zip(ids, rates))
        + "</table><h2>Students</h2><table><tr><th>student</th><th>points</th><th>status</th></tr>"
        + rows + "</table></body></html>\n"
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
                except Exception:  # noqa: BLE001 - an unreadable timestamp.txt is left out, not fatal
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
        if not all((src / f).is_file() and not (src / f).is_symlink()
                   for f in ("timestamp.txt", "submission_secret.txt")):
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
            rows.append({"student_id": r["student_id"], "assignment": r["assignment"], "notebook": r["notebook"],
                         "grade_id": c["grade_id"], "points": _fmt(c["points"]), "max_points": _fmt(c["max_points"]),
                         "status": c["status"], "message": c.get("message", "")})
    _csv(out / "grades.csv", GRADES_COLUMNS, rows)
    _csv(out / "totals.csv", TOTALS_COLUMNS, [
        {"student_id": r["student_id"], "assignment": r["assignment"], "points": _fmt(r["points"]),
         "max_points": _fmt(r["max_points"]), "status": r["status"]} for r in results])
    for r in results:
        path = out / "feedback" / r["student_id"] / f"{r['assignment']}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_html(r), encoding="utf-8")
    (out / "report.html").write_text(class_report_html(assignment, results), encoding="utf-8")
    if gradebook:
        write_gradebook(out, assignment, results, work)
