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
# Only notebooks are released; nothing else in source/<assignment>/ is copied.
c.CourseDirectory.include = ["*.ipynb"]

# The student version replaces a solution with this stub.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
# Keep the release free of outputs and execution counts.
c.ClearOutput.enabled = True
# Each cell may run this long during autograding before it counts as a timeout.
c.ExecutePreprocessor.timeout = 120
