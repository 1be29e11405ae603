"""nbgrader configuration of the course (the course directory is this folder).

`make release` (python -m autograder release) and the autograder read it. The
gradebook lives in gradebook.db here; it is rebuilt from source/ and is not
committed.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader/traitlets

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = f"sqlite:///{os.path.join(HERE, 'gradebook.db')}"
# nbgrader's exchange (release_assignment, fetch, submit, collect) needs a course id: course.toml names it.
# The "only notebooks" filter of the release lives in autograder/release.py, not here: here it would also
# make `nbgrader collect` drop the timestamp.txt that due dates and late penalties rely on.
with open(os.path.join(HERE, "course.toml"), "rb") as _fh:
    import tomllib

    c.CourseDirectory.course_id = tomllib.load(_fh)["course"]["id"]

# The student version replaces a solution with this stub.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
# Keep the release free of outputs and execution counts.
c.ClearOutput.enabled = True
# For `nbgrader autograde` itself (the benchmark's peer): a cell may run this long. `python -m autograder
# grade` does not read it; its limits are in autograder/limits.py.
c.ExecutePreprocessor.timeout = 120
