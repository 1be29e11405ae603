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

from .classify import *
from .device import get_device
from .gated import *
from .gradients import *
from .next_token import *
from .padding import *
from .shapes import *
