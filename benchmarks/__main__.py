"""`make bench`: run every benchmark module and print its ratios.

Each module in this package that defines `main(argv) -> int` is a benchmark.
`python -m benchmarks metrics grading` runs only those.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

ORDER = ["metrics", "notebooks", "grading", "cluster"]  # cheap first


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    here = Path(__file__).parent
    found = [m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")]
    chosen = argv or sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    status = 0
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"\n=== benchmark: {name} ===", flush=True)
        status |= int(module.main([]) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
