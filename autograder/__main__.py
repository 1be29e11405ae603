"""Command line: python -m autograder release|grade|publish|demo (see autograder/__init__.py)."""

from __future__ import annotations

import argparse
import sys

from . import limits

_AS_COMMAND = [__name__ == "__main__"]


def _fast_exit(code: int) -> int:
    """Every result is on disk (state files fsynced, outputs closed): skip the seconds that tearing
    down torch and tensorflow takes at interpreter exit. Only when run as a command."""
    if _AS_COMMAND[0]:
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _release_parser(sub) -> None:
    p_rel = sub.add_parser("release", help="generate release/ from source/ with nbgrader")
    p_rel.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p_rel.add_argument("--check", action="store_true", help="fail if release/ differs from what source/ generates")


def _grade_parser(sub) -> None:
    p_grade = sub.add_parser("grade", help="grade a folder of submissions")
    p_grade.add_argument("assignment", metavar="ASSIGNMENT")
    p_grade.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    p_grade.add_argument("--out", required=True, metavar="OUT_DIR")
    p_grade.add_argument("--jobs", type=int, default=None, help="parallel workers (default: every core)")
    p_grade.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"per-notebook time limit (default {limits.NOTEBOOK_TIMEOUT_S:g})",
    )
    p_grade.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"per-cell time limit (default: {limits.CELL_TIMEOUT_FACTOR} x the solution's slowest "
        f"cell + {limits.CELL_TIMEOUT_MARGIN_S:g} s, within {limits.CELL_TIMEOUT_FLOOR_S:g}.."
        f"{limits.CELL_TIMEOUT_CAP_S:g} s, measured once per assignment)",
    )
    p_grade.add_argument(
        "--regrade",
        nargs="*",
        default=None,
        metavar="STUDENT",
        help="grade these students again even if their results are kept (no name: everyone)",
    )
    p_grade.add_argument(
        "--memory-mb",
        type=int,
        default=limits.MEMORY_MB,
        help="memory (MiB) one submission may allocate on top of the warm grader's own "
        f"size (default {limits.MEMORY_MB})",
    )
    p_grade.add_argument(
        "--disk-mb",
        type=int,
        default=limits.DISK_MB,
        help=f"size (MiB) of the private scratch folder of each jailed submission (default {limits.DISK_MB})",
    )
    p_grade.add_argument(
        "--unsafe-shared-process",
        action="store_true",
        help="grade without the OS jail, for trusted submissions only: each one then runs "
        "unjailed in the grader's account and could read hidden tests and other "
        "students' work (the only way where Linux namespaces are unavailable)",
    )
    p_grade.add_argument(
        "--secret-seed-file",
        default=None,
        metavar="PATH",
        help="a file only you keep (outside the repository): hidden tests draw some of their "
        "cases from it, so a leaked hidden test cannot be copied (default: fixed seeds)",
    )
    p_grade.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="grade on a Dask cluster: a scheduler address (tcp://host:port), a scheduler file, "
        "or local:N for a LocalCluster of N worker processes here; every worker runs the "
        "same jailed, warm engine and this command stays the only writer of OUT_DIR",
    )
    p_grade.add_argument(
        "--cluster-wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --cluster: how long to wait while the cluster has no worker before stopping "
        f"(what was graded is kept; the same command finishes the batch; default {limits.CLUSTER_WAIT_S:g})",
    )
    p_grade.add_argument("--course-root", default=None, help=argparse.SUPPRESS)


def _publish_parser(sub) -> None:
    p_pub = sub.add_parser(
        "publish", help="write the student edition (no source/, hidden tests or solutions) into DEST"
    )
    p_pub.add_argument(
        "dest",
        metavar="DEST",
        help="an empty folder, a clone of the student repository, or an edition published before (its .git is kept)",
    )
    p_pub.add_argument(
        "--repository",
        default=None,
        metavar="URL",
        help="the student repository the badges and the Colab setup point at "
        "(default: student_repository in course.toml)",
    )
    p_pub.add_argument(
        "--check", action="store_true", help="write nothing: run the leak check on the edition already in DEST"
    )
    p_pub.add_argument("--course-root", default=None, help=argparse.SUPPRESS)


def _demo_parser(sub) -> None:
    p_demo = sub.add_parser("demo", help="build the release, grade the bundled example class, print the totals")
    p_demo.add_argument(
        "assignments", nargs="*", metavar="ASSIGNMENT", help="assignments to demo (default: the first of the course)"
    )
    p_demo.add_argument("--out", default=None, metavar="OUT_DIR", help="default: demo-output/")
    p_demo.add_argument("--jobs", type=int, default=None)
    p_demo.add_argument("--course-root", default=None, help=argparse.SUPPRESS)


def parser() -> argparse.ArgumentParser:
    """The command line: release, grade, publish, demo."""
    top = argparse.ArgumentParser(prog="python -m autograder", description="Build, grade and demo the course.")
    sub = top.add_subparsers(dest="command", required=True)
    for add in (_release_parser, _grade_parser, _publish_parser, _demo_parser):
        add(sub)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command == "release":
        from .release import release

        return release(args.assignments, check=args.check)
    if args.command == "grade":
        from .grade import grade_main

        return _fast_exit(grade_main(args))
    if args.command == "publish":
        from .publish import main as publish_main

        return publish_main(args)
    if args.command == "demo":
        from pathlib import Path

        from . import ROOT
        from .demo import demo

        return _fast_exit(
            demo(args.assignments, Path(args.course_root or ROOT), Path(args.out) if args.out else None, args.jobs)
        )
    return 2


def console() -> int:
    """The `rnn-autograder` command (pyproject.toml's [project.scripts])."""
    _AS_COMMAND[0] = True
    return main()


if __name__ == "__main__":
    sys.exit(main())
