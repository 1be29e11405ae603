"""Where the course's PyTorch code runs."""

from __future__ import annotations

import torch


def get_device() -> torch.device:
    """CUDA when it is there, the CPU otherwise. Nothing in the course needs a GPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
