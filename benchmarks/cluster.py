"""Grading on a Dask cluster: `grade --cluster local:2` vs the local pool `--jobs 2`, on the same cores (spec §8).

Both grade the same submissions of `02_rnn_shapes_tensorflow` (the grading benchmark's class: most students
correct, every third with its last answer left as released), one run after the other, each timed as a whole
command. A run's steady pace is read from its own results: each is saved (OUT/.state/<student>.json) the moment
it is graded, so the times between the 20th and the 90th percentile of those saves give the seconds one more
submission costs, without the fixed costs of a run (starting the LocalCluster and its workers' engines,
nbgrader's generate_assignment, the solution's run, writing the report), which are printed apart. It prints:

- the cluster's overhead per submission: its steady pace over the local pool's (target: at most 10 % more);
- the fixed cost of a cluster run over a local one;
- the throughput of one worker (submissions per second, one core each);
- the client's own work per submission (it checks each file and sends its bytes; workers sanitise and grade);
- the projected time for 10,000 submissions on 50 workers, with its assumptions.

The machines this course runs on change speed by up to 1.5x within minutes, so the two are run in pairs, one
right after the other, several times (`--pairs`, default 3), and the median of the pairs' ratios is the figure.

    python -m benchmarks cluster
    python -m benchmarks.cluster --n 60 --pairs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.grading import AID, SOURCE, _nbgrader, _submissions, timed_grade

WORKERS = 2


def _run(subs: Path, out: Path, *flags: str) -> tuple[float, float, bytes]:
    """(seconds in all, seconds per submission at the steady pace, grades.csv)."""
    seconds = timed_grade(subs, out, *flags)
    saved = sorted(p.stat().st_mtime for p in (out / ".state").glob("*.json"))
    first, last = len(saved) // 5, len(saved) - 1 - len(saved) // 10
    return seconds, (saved[last] - saved[first]) / (last - first), (out / "grades.csv").read_bytes()


def _client_seconds(folder: Path) -> float:
    """Seconds the client spends on one submission of a cluster batch: check the file, read its bytes."""
    from types import SimpleNamespace

    from autograder.assignment import check_file

    assignment = SimpleNamespace(notebook=AID)  # check_file reads only the notebook's name
    paths = sorted(folder.glob(f"*/{AID}/{AID}.ipynb"))
    start = time.perf_counter()
    for path in paths:
        check_file(path, assignment)
        path.read_bytes()
    return (time.perf_counter() - start) / len(paths)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster")
    parser.add_argument("--n", type=int, default=60, help="submissions graded by each (default 60)")
    parser.add_argument("--pairs", type=int, default=3, help="local and cluster runs, one after the other (default 3)")
    args = parser.parse_args(argv or [])
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        shutil.copytree(SOURCE / AID, course / "source" / AID)
        _nbgrader(course, "generate_assignment", AID, "--force")
        release_nb = course / "release" / AID / f"{AID}.ipynb"
        _submissions(release_nb, args.n, tmp / "subs")
        print(
            f"grading {args.n} submissions of {AID} on {cores} cores: the local pool (--jobs {WORKERS}) and a "
            f"LocalCluster of {WORKERS} worker processes (--cluster local:{WORKERS}), one after the other",
            flush=True,
        )
        import statistics

        runs = []
        agree = True
        for pair in range(1, args.pairs + 1):
            total, pace, grades = {}, {}, {}
            for mode, flags in (("local", ("--jobs", str(WORKERS))), ("cluster", ("--cluster", f"local:{WORKERS}"))):
                shutil.rmtree(tmp / f"out-{mode}", ignore_errors=True)
                total[mode], pace[mode], grades[mode] = _run(tmp / "subs", tmp / f"out-{mode}", *flags)
            agree &= grades["local"] == grades["cluster"]
            runs.append((total, pace))
            print(
                f"  pair {pair}: local {total['local']:5.1f} s in all, {pace['local']:.3f} s per submission at its "
                f"steady pace; cluster {total['cluster']:5.1f} s, {pace['cluster']:.3f} s: "
                f"{(pace['cluster'] / pace['local'] - 1) * 100:+.1f} %",
                flush=True,
            )
        ratios = [p["cluster"] / p["local"] for _, p in runs]
        total, pace = runs[ratios.index(sorted(ratios)[(len(ratios) - 1) // 2])]  # the median pair
        overhead = statistics.median(ratios) - 1
        fixed = {m: total[m] - pace[m] * args.n for m in total}
        print(f"  grades.csv byte for byte equal (every pair): {agree}")
        print(
            f"  the cluster's overhead per submission: {overhead * 100:+.1f} % (median of {len(ratios)} pairs; "
            "target <= 10 %)"
        )
        print(
            f"  fixed cost of a run: {fixed['local']:.1f} s locally, {fixed['cluster']:.1f} s on the cluster "
            f"({fixed['cluster'] - fixed['local']:+.1f} s: starting the cluster, and one warm engine per worker)"
        )
        per_worker = 1 / (pace["cluster"] * WORKERS)
        print(
            f"  throughput: {per_worker:.2f} submissions per second per worker ({1 / per_worker:.2f} s of one "
            "core per submission)"
        )
        client = _client_seconds(tmp / "subs")
        workers, n = 50, 10_000
        grading = n / (workers * per_worker)
        total_time = fixed["cluster"] + grading
        print(
            f"  the client's work per submission: {client * 1000:.2f} ms (check the file, read its bytes), "
            f"{n * client:.1f} s for {n:,}"
        )
        print(
            f"  projected: {n:,} submissions on {workers} workers in {total_time / 60:.1f} min "
            f"({fixed['cluster']:.0f} s to start, {grading:.0f} s grading). Assumptions: each worker one core "
            "like these, grading one submission at a time; this assignment's mix of answers; "
            "Dask's scheduler far from its "
            f"limit ({workers * per_worker:.0f} tasks/s here; it handles thousands); the client's "
            f"{client * 1000:.2f} ms per submission and its result writing keep up (they do at this rate); "
            "workers and their engines started before the run, as a lasting cluster has them."
        )
        return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
