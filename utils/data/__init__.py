"""Deterministic datasets generated for the lessons (nothing is downloaded).

Every generator takes a `seed` and returns numpy arrays; the same seed gives
the same data on every machine and in both framework tracks.

- order:  05, sequences whose label depends on the order of two tokens
- text:   06, the small corpus shipped with the course, next-token pairs, a noisy sine
- clinic: 07, saved predictions of several models, each with a metric pitfall
- order (again) and memory: 08, the order task with padded messages of 3 to 20 words;
  a running-sum task whose gradients explode
"""

from .clinic import *  # noqa: F403
from .memory import *  # noqa: F403
from .order import *  # noqa: F403
from .text import *  # noqa: F403
