"""Every limit of the grader and its default, in one place (README, "For instructors").

The command line's defaults, the jail's sizes, the per-cell time rule and the caps on what a submission may
send or leave in the outputs are read from here and nowhere else (`autograder/tests/test_limits.py` fails
on a limit default written in another module). `nbgrader_config.py`'s timeout is nbgrader's own, for
`nbgrader autograde`; `python -m autograder grade` applies these.
"""

from __future__ import annotations

# -- time --------------------------------------------------------------------------------------------------
NOTEBOOK_TIMEOUT_S = 600.0  # one whole notebook (--timeout)
# without --cell-timeout, a cell may take FACTOR x the solution's slowest cell + MARGIN, within FLOOR..CAP
CELL_TIMEOUT_FACTOR = 20
CELL_TIMEOUT_MARGIN_S = 10.0
CELL_TIMEOUT_FLOOR_S = 10.0
CELL_TIMEOUT_CAP_S = 120.0  # also the limit while the solution's timing run has not ended
SOLUTION_STOPPED_S = 6.0  # the solution's slowest cell counted as this when the solution itself hit a limit
CLUSTER_WAIT_S = 120.0  # how long `grade --cluster` waits for a cluster with no worker (--cluster-wait)

# -- memory, disk, processes (per jail) ------------------------------------------------------------------------
MEMORY_MB = 4096  # memory one submission may allocate on top of the warm engine's (--memory-mb)
# a jail's control group holds MEMORY_MB + the warm engine's resident size + this margin (see pool.run_jobs)
GROUP_MEMORY_MARGIN = 64 * 2**20
DISK_MB = 256  # its private /tmp (--disk-mb)
MAX_PROCESSES = 256  # processes and threads of one jail
MAX_OPEN_FILES = 1024
MAX_FILE_MB = 256  # the largest file it may write
SHM_MB = 64  # its /dev/shm
ROOT_TMPFS_MB = 8  # the tmpfs its new / is built on

# -- what a submission may send, and what reaches the outputs ---------------------------------------------------
MAX_NOTEBOOK_BYTES = 64 * 2**20  # a submitted file larger than this is not read at all
CELL_OUTPUT_CAP = 100_000  # characters of a cell's output kept
MESSAGE_CAP = 4_000  # characters of one failure message kept
REPORT_CAP = 4 * 2**20  # bytes a job may send about one attempt; more is a flood and ends it
MAX_NOTES = 20  # notes kept per submission (more are counted in one last note)
NOTE_CAP = 300  # characters of one note
MAX_REVIEW = 20  # "to read by hand" lines kept per submission

# -- the channel between the trusted process and the jail (what one message may hold) -------------------------
CHANNEL_MAX_HEADER = 32 * 2**20  # bytes of JSON in one message
CHANNEL_MAX_BUFFERS = 1024 * 2**20  # bytes of array data in one message
CHANNEL_MAX_DEPTH = 64
CHANNEL_MAX_ITEMS = 1_000_000  # values in one message
CHANNEL_MAX_ITER = 100_000  # items an `iter` request materialises

# -- the demo's run (`make demo`): short limits, its class has an endless loop --------------------------------
DEMO_CELL_TIMEOUT_S = 10.0
DEMO_NOTEBOOK_TIMEOUT_S = 120.0


def derived_cell_timeout(seconds: dict, notebook_timeout: float) -> float:
    """The per-cell limit from the solution's run: FACTOR x its slowest cell + MARGIN, within FLOOR..CAP and
    the notebook's own limit."""
    slowest = max([v for v in seconds.values() if isinstance(v, (int, float))] or [0.0])
    return float(
        min(
            notebook_timeout,
            max(
                CELL_TIMEOUT_FLOOR_S,
                min(CELL_TIMEOUT_CAP_S, round(CELL_TIMEOUT_FACTOR * slowest + CELL_TIMEOUT_MARGIN_S)),
            ),
        )
    )
