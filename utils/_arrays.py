"""Turn whatever a learner passes (lists, numpy, torch or tf tensors) into numpy.

Duck-typed on purpose: this module must not import torch or tensorflow.
"""

from __future__ import annotations

import numpy as np


def is_framework_tensor(x) -> bool:
    """True for torch and tf tensors (and other array-likes with `.numpy()`)."""
    return not isinstance(x, np.ndarray) and hasattr(x, "numpy") and callable(x.numpy)


def as_numpy(x, *, name: str = "value") -> np.ndarray:
    """Return `x` as a numpy array without changing the caller's object.

    torch tensors are detached and moved to the CPU first, so a tensor that
    requires grad or lives on a GPU is accepted; tf tensors (eager) use
    `.numpy()`. Anything else goes through `np.asarray`.
    """
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if is_framework_tensor(x):  # tf.Tensor, tf.Variable, jax arrays
        return np.asarray(x.numpy())
    try:
        return np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(
            f"`{name}` could not be turned into an array (are the rows of different lengths?): {exc}"
        ) from None
