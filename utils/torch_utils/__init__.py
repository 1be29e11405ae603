"""PyTorch adapters. Importing this package imports torch.

The same names exist in `utils.tf_utils` for TensorFlow/Keras (d2l's habit:
one API, one module per framework). Topic modules:

- shapes:   02, shape rules of nn.RNN and weight copies from the numpy RNN
- classify: 05, the order-aware classifier, its baseline and training loop
- next_token: 06, next-token models, text generation, sine regression
- gated:    08, what LSTM and GRU return, weight copies from the numpy cells
- padding:  08, masks and last real steps of padded batches, a length-aware classifier
- gradients: 08, gradient norms over time steps (BPTT) and clipping
"""

from __future__ import annotations

from .classify import *  # noqa: E402,F401,F403
from .device import get_device  # noqa: F401
from .gated import *  # noqa: E402,F401,F403
from .gradients import *  # noqa: E402,F401,F403
from .next_token import *  # noqa: E402,F401,F403
from .padding import *  # noqa: E402,F401,F403
from .shapes import *  # noqa: E402,F401,F403
