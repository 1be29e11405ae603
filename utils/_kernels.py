"""Compiled counting kernel for very large label arrays (optional, via numba).

`utils.metrics` counts (true, pred) pairs with numpy: codes ``t * k + p`` in
cache-sized blocks, then ``np.bincount``. That costs about four passes over
the data. For millions of labels a compiled loop does the same in one pass:
read a pair, check both labels, add one to its cell.

This module is imported only when an input is that large
(``utils.metrics._JIT_MIN`` labels or more), so ``import utils.metrics`` stays
light. numba is optional: where it is not installed (a bare Colab install of
``rnn-course-utils``, say) :func:`pair_counter` returns None and the numpy path
runs; both paths give identical counts and are tested against scikit-learn.

Cost to know about: the first call in a process loads the compiled kernel
(about 0.2 s; about 1 s the very first time on a machine, when numba compiles
it and caches the result next to this file or in numba's user cache).
"""

from __future__ import annotations

import functools
import os

import numpy as np

#: Set RNN_COURSE_NO_JIT=1 to always use the numpy path.
DISABLE_ENV = "RNN_COURSE_NO_JIT"


def _count_pairs_py(y_true, y_pred, stride, out):
    """Add 1 to ``out[t * stride + p]`` for each pair (t, p), in one pass.

    Stops at the first pair with a label outside ``0..stride-1`` and returns
    its index; returns -1 when every label is inside. Labels are compared as
    unsigned 64-bit numbers, so a negative label reads as a huge one and one
    comparison per label checks both ends of the range.
    """
    s = np.uint64(stride)
    for i in range(y_true.shape[0]):
        t = np.uint64(y_true[i])
        p = np.uint64(y_pred[i])
        if t >= s or p >= s:
            return i
        out[t * s + p] += 1
    return -1


@functools.cache
def pair_counter():
    """The compiled `_count_pairs_py`, or None where numba is missing or disabled."""
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:
        return None
    jit = functools.partial(numba.njit, nogil=True)
    try:
        return jit(cache=True)(_count_pairs_py)
    except Exception:  # no writable cache directory: compile in memory instead
        return jit(cache=False)(_count_pairs_py)
