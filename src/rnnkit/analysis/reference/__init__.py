"""A NumPy reference for forward and backward propagation through time, derived by hand.

One module per cell family, each with ``forward(params, x, h0, ...)`` returning the outputs,
the final state and a cache, and ``backward(params, cache, grad_outputs, grad_final_state)``
returning :class:`Gradients` for every parameter, the input and the initial state:

- :mod:`~rnnkit.analysis.reference.rnn`: the Elman RNN, tanh or ReLU.
- :mod:`~rnnkit.analysis.reference.lstm`: the LSTM, with peepholes when ``params`` has them.
- :mod:`~rnnkit.analysis.reference.gru`: the GRU, ``reset_after=True`` (torch.nn, cuDNN) or
  ``False`` (Cho et al. 2014).

The equations, forward and backward, are in each module's docstring, and the code follows
them line by line. Everything runs in float64 on single-layer, single-direction,
batch-first sequences (batch, time, input_size). ``params`` uses rnnkit's and torch.nn's
cell parameter names; :func:`params_from_cell` reads them off an rnnkit cell or layer.

Example:
    >>> import numpy as np
    >>> import rnnkit
    >>> from rnnkit.analysis.reference import lstm, params_from_cell
    >>> params = params_from_cell(rnnkit.LSTMCell(3, 4, peephole=True))
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3))
    >>> outputs, (h_T, c_T), cache = lstm.forward(params, x)
    >>> grads = lstm.backward(params, cache, grad_outputs=np.ones_like(outputs))
    >>> grads.params["weight_co"].shape, grads.x.shape
    ((4,), (2, 5, 3))
"""

from rnnkit.analysis.reference import gru, lstm, rnn
from rnnkit.analysis.reference.common import Gradients, params_from_cell

__all__ = ["Gradients", "gru", "lstm", "params_from_cell", "rnn"]
