r"""The vanilla (Elman) RNN, forward and backward through time, by hand in NumPy.

Forward, for t = 1, ..., T with φ = tanh or ReLU::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (batch, hidden)
    h_t = φ(a_t)

The outputs are h_1, ..., h_T, shape (batch, time, hidden); the final state is h_T.

Backward. Write δh_t for the total gradient of the loss L with respect to h_t. It has two
sources: the output at step t (given, ``grad_outputs[:, t-1]``) and the next step, which
read h_t through W_hh. At t = T the second source is the gradient given for the final
state. Going back from t = T to 1::

    δh_t  = ∂L/∂output_t + W_hh^T δa_{t+1}        (for t = T: + the given ∂L/∂h_T instead)
    δa_t  = δh_t ⊙ φ'(a_t)       φ' = 1 - h_t²  (tanh)  or  [a_t > 0]  (ReLU)
    ∂L/∂W_ih += δa_t^T x_t       ∂L/∂W_hh += δa_t^T h_{t-1}
    ∂L/∂b_ih += Σ_batch δa_t     ∂L/∂b_hh += Σ_batch δa_t
    ∂L/∂x_t   = W_ih^T δa_t

and finally ∂L/∂h_0 = W_hh^T δa_1. The product of the factors diag(φ'(a_t)) W_hh met on
the way back is what shrinks or grows the gradient over long distances.

In code, time is 0-based: step ``t`` reads ``x[:, t]`` and ``states[:, t]`` and writes
``states[:, t + 1]``, so ``states[:, 0]`` is h_0 and ``states[:, t]`` is h_t.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.analysis.reference.common import (
    Array,
    Gradients,
    Params,
    bias_or_zeros,
    check_array,
    check_cache_sizes,
    check_params,
    check_sequence,
    parameter_gradients,
    relu,
    tanh,
)

NONLINEARITIES: dict[str, Callable[[Array], Array]] = {"tanh": tanh, "relu": relu}


@dataclasses.dataclass(frozen=True)
class RNNCache:
    """What the forward pass keeps for the backward pass.

    Attributes:
        x:            (batch, time, input_size), the input sequence.
        states:       (batch, time + 1, hidden); ``states[:, t]`` is h_t, h_0 first.
        preactivation: (batch, time, hidden); ``preactivation[:, t - 1]`` is a_t.
        nonlinearity: ``"tanh"`` or ``"relu"``.
    """

    x: Array
    states: Array
    preactivation: Array
    nonlinearity: str


def forward(
    params: Params, x: ArrayLike, h0: ArrayLike | None = None, *, nonlinearity: str = "tanh"
) -> tuple[Array, Array, RNNCache]:
    """Run the RNN over a sequence.

    Args:
        params: ``weight_ih`` (hidden, input_size), ``weight_hh`` (hidden, hidden), and
            optionally ``bias_ih``, ``bias_hh`` (hidden,).
        x: (batch, time, input_size).
        h0: (batch, hidden); zeros when None.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Returns:
        ``(outputs, h_T, cache)``: outputs (batch, time, hidden), h_T (batch, hidden), and
        the cache for :func:`backward`.
    """
    owner = "reference.rnn.forward"
    activation = _activation(owner, nonlinearity)
    params, input_size, hidden = check_params(owner, params, gates=1)
    x = check_sequence(owner, x, input_size)
    batch, time, _ = x.shape
    weight_ih, weight_hh = params["weight_ih"], params["weight_hh"]
    bias_ih = bias_or_zeros(params, "bias_ih", hidden)
    bias_hh = bias_or_zeros(params, "bias_hh", hidden)

    states = np.zeros((batch, time + 1, hidden))
    states[:, 0] = check_array(owner, "h0", h0, (batch, hidden))
    preactivation = np.zeros((batch, time, hidden))
    for t in range(time):
        preactivation[:, t] = (x[:, t] @ weight_ih.T + bias_ih
                               + states[:, t] @ weight_hh.T + bias_hh)
        states[:, t + 1] = activation(preactivation[:, t])
    cache = RNNCache(x, states, preactivation, nonlinearity)
    return states[:, 1:].copy(), states[:, -1].copy(), cache


def backward(
    params: Params,
    cache: RNNCache,
    grad_outputs: ArrayLike | None = None,
    grad_final_state: ArrayLike | None = None,
) -> Gradients:
    """Backpropagate through time (see the module docstring for the equations).

    Args:
        params: the parameters given to :func:`forward`.
        cache: what :func:`forward` returned.
        grad_outputs: (batch, time, hidden), ∂L/∂outputs; None for zeros.
        grad_final_state: (batch, hidden), ∂L/∂h_T from outside the outputs; None for zeros.

    Returns:
        :class:`Gradients` with ``params`` (same names as ``params``), ``x`` and ``h0``.
    """
    owner = "reference.rnn.backward"
    if not isinstance(cache, RNNCache):
        raise ValueError(f"{owner} expected the RNNCache from reference.rnn.forward, "
                         f"got {type(cache).__name__}")
    params, _, hidden = check_params(owner, params, gates=1)
    x, states = cache.x, cache.states
    batch, time, _ = x.shape
    check_cache_sizes(owner, params, 1, x, states)
    grad_outputs = check_array(owner, "grad_outputs", grad_outputs, (batch, time, hidden))
    grad_h = check_array(owner, "grad_final_state", grad_final_state, (batch, hidden))

    weight_ih, weight_hh = params["weight_ih"], params["weight_hh"]
    found = {name: np.zeros_like(value) for name, value in params.items()}
    grad_x = np.zeros_like(x)
    for t in reversed(range(time)):
        # grad_h arrives holding what the step after this one sent back (or ∂L/∂h_T).
        grad_h = grad_h + grad_outputs[:, t]
        grad_a = grad_h * _derivative(cache, t)
        found["weight_ih"] += grad_a.T @ x[:, t]
        found["weight_hh"] += grad_a.T @ states[:, t]
        if "bias_ih" in found:
            found["bias_ih"] += grad_a.sum(axis=0)
            found["bias_hh"] += grad_a.sum(axis=0)
        grad_x[:, t] = grad_a @ weight_ih
        grad_h = grad_a @ weight_hh  # ∂L/∂states[:, t], the state this step read
    return Gradients(parameter_gradients(params, found), grad_x, grad_h)


def _derivative(cache: RNNCache, t: int) -> Array:
    """φ'(a) at step ``t`` (0-based), from values the forward pass kept."""
    if cache.nonlinearity == "tanh":
        return 1.0 - cache.states[:, t + 1] ** 2  # tanh' = 1 - tanh², no need to recompute
    return (cache.preactivation[:, t] > 0).astype(np.float64)


def _activation(owner: str, nonlinearity: str) -> Callable[[Array], Array]:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{owner} expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")
    return NONLINEARITIES[nonlinearity]

