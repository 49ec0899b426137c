"""Shared test settings: one thread per worker (pytest-xdist runs two), float64 where asked."""

import torch

torch.set_num_threads(1)


def pytest_configure(config):
    # torch's own fused LSTM says this on CPU whenever proj_size > 0 (torch.nn.LSTM too).
    config.addinivalue_line(
        "filterwarnings", "ignore:LSTM with projections is not supported with oneDNN:UserWarning"
    )
