"""The warm interpreter of the engine: the frameworks imported once, the code of `utils` captured.

The engine (engine.py) builds one `Warm` and forks every job from it: what is imported here is inherited
by each jail instead of being paid again. It holds nothing of any student, and nothing of the grader.
"""

from __future__ import annotations

import os
from pathlib import Path


class Warm:
    """Everything captured in the parent before the first fork."""

    def __init__(self, frameworks=(), utils_root: Path | None = None, threads: int | None = None):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        os.environ["MPLBACKEND"] = "Agg"
        import warnings

        import numpy  # noqa: F401

        if "matplotlib" in frameworks:  # an assignment that plots (MPLBACKEND=Agg holds for any other import)
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot
        warnings.filterwarnings("ignore", message=".*oneDNN.*")
        for name in frameworks:
            if name != "matplotlib":
                __import__(name)
        if "tensorflow" in frameworks:
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            if threads:  # before the first op: the children inherit the configured context
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            # no op runs here: TensorFlow's runtime (its thread pools) must start in each forked child,
            # since a pool started here has no threads there (any tf.function, fit() or large op hangs)
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        self.shell = InteractiveShell.instance(config=config)
        self.utils_code = capture_utils(utils_root)
        import importlib

        import utils  # noqa: F401 - warm the real package too (its dependencies stay imported)

        # what every test cell and most answers import: imported once here instead of in every process
        adapters = {"torch": "utils.torch_utils", "tensorflow": "utils.tf_utils"}
        for name in (
            "utils.checks",
            "utils.rnn",
            "utils.metrics",
            "utils.evaluation",
            *(adapters[f] for f in frameworks if f in adapters),
        ):
            try:
                importlib.import_module(name)
            except Exception:  # a test that needs it meets the error itself
                pass

    def compile_cell(self, source: str, filename: str):
        """IPython's input transformations (magics, !shell) then Python's compiler."""
        try:
            text = self.shell.transform_cell(source)
        except Exception:  # leave it to the compiler to report
            text = source
        return compile(text, filename, "exec", dont_inherit=True)


def capture_utils(root: Path | None = None) -> dict:
    """Compile every module of the `utils` package now: name -> (path, is_package, code)."""
    if root is None:
        import utils

        root = Path(utils.__file__).resolve().parent
    captured = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        name = ".".join(parts)
        captured[name] = (
            str(path),
            is_pkg,
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True),
        )
    return captured


class CapturedUtils:
    """A meta-path finder/loader serving `utils*` from code compiled in the parent."""

    def __init__(self, code: dict):
        self.code = code

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.code:
            return None
        import importlib.util

        origin, is_pkg, _ = self.code[fullname]
        # typeshed's LoaderProtocol asks for the old load_module; this loader has exec_module
        spec = importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=is_pkg)  # type: ignore[arg-type]
        assert spec is not None  # spec_from_loader with a loader always makes one
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [str(Path(origin).parent)]
        return spec

    def create_module(self, spec):
        return None

    def get_resource_reader(self, fullname):
        """importlib.resources for a package served from captured code: its files are read from the
        package's folder (bound read-only in the jail), as the file-system loader would. Without it,
        utils.data's corpus fails in every jail ("Can't open orphan path")."""
        if fullname not in self.code or not self.code[fullname][1]:
            return None
        from importlib.readers import FileReader
        from types import SimpleNamespace

        return FileReader(SimpleNamespace(path=self.code[fullname][0]))  # type: ignore[arg-type]  # reads only .path

    def exec_module(self, module):
        origin, _, code = self.code[module.__name__]
        module.__file__ = origin
        exec(code, module.__dict__)  # the course's own code, compiled before forking
