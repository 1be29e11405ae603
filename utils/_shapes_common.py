"""Framework-free pieces shared by the two shape adapters of topic 02.

`utils.torch_utils.shapes` (for `torch.nn.RNN`) and `utils.tf_utils.shapes`
(for `keras.layers.SimpleRNN`) follow different shape rules, but they validate
sizes, read shapes written by learners, name typical mistakes and summarise
framework errors the same way. That common part lives here; it imports
neither torch nor tensorflow.
"""

from __future__ import annotations

import re

import numpy as np


def positive_int(value, name: str) -> int:
    """`value` as an int; TypeError unless it is an int (not a bool), ValueError unless it is >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value}")
    return int(value)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FUNCTION_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")


def error_summary(exc: BaseException) -> str:
    """`'TypeName: the most informative line of the message'`, without colour codes."""
    text = _FUNCTION_NODE.sub("", _ANSI.sub("", str(exc)))
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    best = next((line for line in lines if re.search(r"\d", line)), lines[0] if lines else "")
    return f"{type(exc).__name__}: {best}"


def as_shape(value, what: str, example: str) -> tuple:
    """A learner's shape (tuple, list, torch.Size, TensorShape, ...) as a tuple of ints.

    Anything else fails the check with a message naming `what` and showing `example`.
    """
    from .checks import CheckFailure, _shown

    try:
        return tuple(int(d) for d in value)
    except TypeError:
        raise CheckFailure(f"{what} should be a tuple of ints such as {example}{_shown(f', got {value!r}')}") from None


def check_shape_parts(call: str, parts, hint: str) -> None:
    """Fail on the first wrong part of a learner's shapes, naming the likely mistake.

    `parts` holds `(name, got, expected, mistakes)` per part (say, "output
    shape"), where `mistakes` is a list of `(explanation, wrong_shape)`: when
    `got` equals one of the wrong shapes (and that one is not also the right
    one) the message gives its explanation, else the general `hint`.
    """
    from .checks import CheckFailure

    for name, got, expected, mistakes in parts:
        if got == expected:
            continue
        mistake = next((text for text, wrong in mistakes if tuple(wrong) == got and tuple(wrong) != expected), None)
        raise CheckFailure(
            f"{call}: the {name} is wrong.\n  expected: {expected}\n  got:      {got}"
            + (f"\n  likely mistake: {mistake}" if mistake else f"\n  hint: {hint}")
        )
