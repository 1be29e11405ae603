"""Run notebooks top to bottom as plain Python, one process each, and report the device they used.

The course's notebooks pick their device with `utils.torch_utils.get_device()`: CUDA when there is a GPU, the
CPU otherwise. CI has no GPU, so this is the tool a maintainer runs on a machine that has one, to show that the
PyTorch notebooks run there unchanged and really put their work on the GPU:

    python tools/device_check.py notebooks/*pytorch*.ipynb source/*/*pytorch*.ipynb

It needs only the Python standard library, numpy, matplotlib, tqdm and the framework (no Jupyter): a GPU
image often has no Jupyter installed. Each notebook runs in a fresh interpreter, from its own folder, with the
course's root on `sys.path` (as `make lab` has it). Code cells run in order in one namespace; IPython's `%` and
`!` lines are skipped (the course's notebooks have none in their code), and tqdm's progress bars print to
stdout: in Jupyter they are widgets, but outside it tqdm would write them to stderr. For each notebook it prints
one line: status, seconds, the device `get_device()` chose, and the peak GPU memory PyTorch allocated (0 on the CPU),
followed by the notebook's stderr if anything was written there. The exit status is 0 only if every notebook
ran to the end and none wrote to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What runs inside the child: the notebook's cells, then one JSON line on a private fd with what it saw.
_CHILD = r"""
import json, os, sys, traceback
path, report_fd = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, os.environ["COURSE_ROOT"])
import matplotlib
matplotlib.use("Agg")
import tqdm.auto, tqdm.std
class _StdoutBar(tqdm.std.tqdm):  # a widget in Jupyter; here, text on stdout instead of stderr
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("file", sys.stdout)
        super().__init__(*args, **kwargs)
tqdm.auto.tqdm = _StdoutBar
cells = [c for c in json.load(open(path, encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
namespace = {"__name__": "__main__", "display": print}
report = {"cells": len(cells), "failed_cell": None, "error": None}
for index, cell in enumerate(cells):
    source = "".join(cell["source"])
    code = "\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!")))
    try:
        exec(compile(code, f"{os.path.basename(path)} [cell {index}]", "exec"), namespace)
    except BaseException:
        report["failed_cell"] = index
        report["error"] = traceback.format_exc(limit=-3)
        break
torch = sys.modules.get("torch")
if torch is not None:
    report["cuda_available"] = torch.cuda.is_available()
    report["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else 0.0
    try:
        from utils.torch_utils import get_device
        report["device"] = str(get_device())
    except Exception as err:  # noqa: BLE001
        report["device"] = f"? ({err})"
    report["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
with os.fdopen(report_fd, "w") as out:
    out.write(json.dumps(report))
"""


def run_one(path: Path, timeout: float) -> dict:
    read_fd, write_fd = os.pipe()
    env = dict(
        os.environ,
        COURSE_ROOT=str(ROOT),
        MPLBACKEND="Agg",
        TF_CPP_MIN_LOG_LEVEL="3",
        TF_ENABLE_ONEDNN_OPTS="0",
        PYTHONUNBUFFERED="1",
    )
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path.resolve()), str(write_fd)],
            cwd=path.parent,
            env=env,
            pass_fds=(write_fd,),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        returncode, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as err:
        returncode, stderr = None, (err.stderr or b"").decode() if isinstance(err.stderr, bytes) else (err.stderr or "")
    finally:
        os.close(write_fd)
    seconds = time.perf_counter() - start
    with os.fdopen(read_fd) as pipe:
        raw = pipe.read()
    report = json.loads(raw) if raw else {"error": "no report (the process died or timed out)"}
    report.update(notebook=str(path), seconds=round(seconds, 1), returncode=returncode, stderr=stderr.strip())
    report["ok"] = returncode == 0 and report.get("failed_cell") is None and not report["stderr"]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default 300)")
    parser.add_argument("--json", type=Path, help="also write every report to this file")
    args = parser.parse_args(argv)
    reports = []
    for path in args.notebooks:
        report = run_one(path, args.timeout)
        reports.append(report)
        status = "ok  " if report["ok"] else "FAIL"
        print(
            f"{status} {report['seconds']:6.1f} s  device={report.get('device', '-'):<6} "
            f"peak_gpu={report.get('peak_gpu_mib', '-')} MiB  {path}",
            flush=True,
        )
        if report.get("error"):
            print("     " + report["error"].strip().replace("\n", "\n     "), flush=True)
        if report["stderr"]:
            print("     stderr: " + report["stderr"][-2000:].replace("\n", "\n     "), flush=True)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    failed = [r["notebook"] for r in reports if not r["ok"]]
    print(
        f"{len(reports) - len(failed)} of {len(reports)} notebooks ran cleanly"
        + (f"; failed: {', '.join(failed)}" if failed else ""),
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
