"""TensorFlow / Keras 3 adapters. Importing this package imports tensorflow.

The same names exist in `utils.torch_utils` for PyTorch. Topic modules:

- shapes:   02, shape rules of SimpleRNN and weight copies from the numpy RNN
- classify: 05, the order-aware classifier, its baseline, a utils.metrics callback
- next_token: 06, next-token models, text generation, sine regression
- gated:    08, what LSTM and GRU return, weight copies from the numpy cells
- padding:  08, masks and last real steps of padded batches, a length-aware classifier
- gradients: 08, gradient norms over time steps (BPTT) and clipping
"""

from __future__ import annotations

from ..notebook import quiet_frameworks, quiet_tensorflow

quiet_frameworks()  # TensorFlow reads its logging settings from the environment at import time

import tensorflow as tf


def get_device() -> str:
    """'GPU' when TensorFlow sees one, 'CPU' otherwise (Keras places layers by itself)."""
    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


quiet_tensorflow()

from .classify import *
from .gated import *
from .gradients import *
from .next_token import *
from .padding import *
from .shapes import *
