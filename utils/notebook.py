"""Notebook set-up: seeds, quiet framework logging, version checks, device.

Every notebook's setup cell (generated from `course.toml` by
`tools/sync_notebooks.py`) ends with `utils.setup_notebook(...)`. It must run
before the notebook imports torch or tensorflow, because TensorFlow reads its
logging settings from the environment at import time.
"""

from __future__ import annotations

import importlib
import os
import random
import warnings

import numpy as np

#: Oldest framework versions the lessons are written for. Colab ships newer ones.
MIN_VERSIONS = {"torch": (2, 1), "tensorflow": (2, 16)}  # TF 2.16 is the first with Keras 3

_FRAMEWORKS = ("torch", "tensorflow")


def quiet_frameworks() -> None:
    """Silence TensorFlow's C++ logging and oneDNN notice the documented way.

    Safe to call more than once; has effect only before tensorflow is imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # Python-side warnings from absl are routed through `logging` once TF loads;
    # tf_utils sets the level there.


def _version_tuple(text: str) -> tuple[int, int]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)  # type: ignore[return-value]


def check_framework(name: str) -> str:
    """Import framework `name`, check it is new enough, and return its version."""
    if name == "torch":
        module = importlib.import_module("torch")
    elif name == "tensorflow":
        quiet_frameworks()
        module = importlib.import_module("tensorflow")
    else:
        raise ValueError(f"framework must be one of {_FRAMEWORKS}, got {name!r}")
    version = module.__version__
    if _version_tuple(version) < MIN_VERSIONS[name]:
        need = ".".join(map(str, MIN_VERSIONS[name]))
        raise ImportError(
            f"This notebook needs {name} >= {need}, but {name} {version} is installed. "
            f"Upgrade it (pip install -U {name}) or use the course's environment (`make lab`)."
        )
    return version


def seed_everything(seed: int = 0) -> None:
    """Seed Python's `random`, numpy's global generator, and any framework already imported."""
    import sys

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)


def quiet_tensorflow() -> None:
    """Route TensorFlow's Python logging to errors only (tf.get_logger() is the "tensorflow" logger)."""
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def setup_notebook(seed: int = 0, framework: str | None = None, *, verbose: bool = True) -> dict:
    """Prepare a lesson or exercise notebook.

    - quiets TensorFlow logging (before it is imported),
    - imports and version-checks `framework` ("torch" or "tensorflow") if given,
    - seeds every random generator,
    - returns a small dict describing the environment (and prints one line).
    """
    quiet_frameworks()
    warnings.filterwarnings("ignore", message=".*oneDNN.*")
    info: dict[str, object] = {"numpy": np.__version__}
    if framework is not None:
        info[framework] = check_framework(framework)
        if framework == "torch":
            from .torch_utils import get_device

            info["device"] = str(get_device())
        else:
            quiet_tensorflow()
            import tensorflow as tf

            info["device"] = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    seed_everything(seed)
    info["seed"] = seed
    if verbose:
        print("Course utils ready: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    return info
