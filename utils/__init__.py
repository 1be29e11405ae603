"""Shared library of the course "Sequences with RNNs".

`utils` is numpy at its core. Importing it (or `utils.metrics`) imports neither
torch nor tensorflow; the framework adapters `utils.torch_utils` and
`utils.tf_utils` import their framework only when you import them.

Modules
-------
metrics     the metric reference (scikit-learn's names and semantics, plus sequences)
checks      checks that teach: expected vs got, and the likely mistake
plots       confusion matrices, per-step curves, loss curves, hidden states, thresholds
data        deterministic datasets generated for the lessons
rnn         the numpy references: RNN (rnn_step, rnn_forward), LSTM and GRU steps and forwards
evaluation  framework-free thresholds, metrics dict and decoding helpers shared by both adapters
notebook    `setup_notebook()`: seeds, quiet framework logging, version checks
torch_utils PyTorch adapters (device choice, weight copies); imports torch
tf_utils    TensorFlow/Keras adapters (weight copies, callbacks); imports tensorflow
"""

import importlib

__version__ = "0.1.0"

#: Marks this package as the course's own `utils` (a stray module named
#: `utils` elsewhere on the path will not have it). The notebooks' setup cell
#: checks it.
COURSE = "sequences-with-rnns"

_SUBMODULES = ("metrics", "checks", "plots", "data", "rnn", "evaluation", "notebook", "torch_utils", "tf_utils")

__all__ = ["COURSE", "__version__", "setup_notebook", *_SUBMODULES]


def __getattr__(name):
    # Lazy submodules: `utils.metrics` works after `import utils` without
    # paying for (or importing) the others.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "setup_notebook":
        from .notebook import setup_notebook

        return setup_notebook
    raise AttributeError(f"module 'utils' has no attribute {name!r}")
