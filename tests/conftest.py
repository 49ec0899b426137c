"""Shared test settings: one thread per worker (pytest-xdist runs two), float64 where asked."""

import torch

torch.set_num_threads(1)
