"""Topic 08: a long-memory regression task for measuring exploding gradients and clipping.

Each sequence holds `seq_len` Gaussian numbers; the target is their sum divided
by sqrt(seq_len) (so it has variance 1 whatever the length). To answer, a
recurrent network must carry a running total through every step, which is
where gradients explode or vanish. Deterministic in `seed`; no framework.
"""

from __future__ import annotations

import numpy as np

from .order import _int_arg

__all__ = ["make_sum_task"]


def make_sum_task(num_samples, seq_len=30, *, seed=0):
    """Return `(X, y)`: X float32 (num_samples, seq_len, 1), batch-major; y float32 (num_samples, 1)."""
    n = _int_arg(num_samples, "num_samples", 1)
    seq_len = _int_arg(seq_len, "seq_len", 1)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, seq_len, 1))
    y = X.sum(axis=1) / np.sqrt(seq_len)
    return X.astype(np.float32), y.astype(np.float32)
