r"""The LSTM, with optional peepholes, forward and backward through time, by hand in NumPy.

Forward, for t = 1, ..., T, gates in torch.nn's order i, f, g, o::

    [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh   (4 blocks of hidden)
    i_t = σ(a_i + w_ci ⊙ c_{t-1})                 input gate
    f_t = σ(a_f + w_cf ⊙ c_{t-1})                 forget gate
    g_t = tanh(a_g)                               candidate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    o_t = σ(a_o + w_co ⊙ c_t)                     output gate: peeks at the *new* c_t
    h_t = o_t ⊙ tanh(c_t)

The peephole terms (Gers & Schmidhuber 2000) are present when ``params`` holds
``weight_ci``, ``weight_cf`` and ``weight_co`` (hidden,), as rnnkit's ``peephole=True``
cells do; without them the w_c* terms are zero and this is torch.nn.LSTM. rnnkit's
``forget_bias`` is no separate parameter: it is already added into ``bias_ih``.

Backward. δh_t and δc_t are the gradients of the loss with respect to h_t and c_t coming
from everything after step t (for t = T: the gradients given for the final state). Inside
step t, with σ' = s(1 - s) and tanh' = 1 - tanh²::

    δh    = ∂L/∂output_t + δh_t
    δa_o  = δh ⊙ tanh(c_t) ⊙ o_t(1 - o_t)
    δc    = δc_t + δh ⊙ o_t ⊙ (1 - tanh²(c_t)) + w_co ⊙ δa_o     (c_t feeds h_t and o_t)
    δa_i  = δc ⊙ g_t ⊙ i_t(1 - i_t)
    δa_f  = δc ⊙ c_{t-1} ⊙ f_t(1 - f_t)
    δa_g  = δc ⊙ i_t ⊙ (1 - g_t²)
    δa    = [δa_i, δa_f, δa_g, δa_o]
    δh_{t-1} = W_hh^T δa
    δc_{t-1} = f_t ⊙ δc + w_ci ⊙ δa_i + w_cf ⊙ δa_f
    ∂L/∂W_ih += δa^T x_t      ∂L/∂W_hh += δa^T h_{t-1}      ∂L/∂b_ih, ∂L/∂b_hh += Σ_batch δa
    ∂L/∂w_ci += Σ_batch δa_i ⊙ c_{t-1}   ∂L/∂w_cf += Σ_batch δa_f ⊙ c_{t-1}
    ∂L/∂w_co += Σ_batch δa_o ⊙ c_t       ∂L/∂x_t = W_ih^T δa

The path δc_{t-1} = f_t ⊙ δc has no matrix product and no squashing derivative: with the
forget gate open (f ≈ 1) the gradient crosses many steps nearly unchanged.

In code, time is 0-based: step ``t`` reads ``states[:, t]`` and ``cells[:, t]`` (h_t, c_t in
equation terms, h_0 and c_0 first) and writes index ``t + 1``.
"""

from __future__ import annotations

import dataclasses

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
    sigmoid,
    split_gates,
    tanh,
)

PEEPHOLE_NAMES = ("weight_ci", "weight_cf", "weight_co")
GATES = 4


@dataclasses.dataclass(frozen=True)
class LSTMCache:
    """What the forward pass keeps for the backward pass.

    Attributes:
        x:      (batch, time, input_size), the input sequence.
        states: (batch, time + 1, hidden); ``states[:, t]`` is h_t, h_0 first.
        cells:  (batch, time + 1, hidden); ``cells[:, t]`` is c_t, c_0 first.
        i, f, g, o: (batch, time, hidden) each, the gate values after their squashing
            function; index ``t - 1`` holds step t.
    """

    x: Array
    states: Array
    cells: Array
    i: Array
    f: Array
    g: Array
    o: Array


def forward(
    params: Params, x: ArrayLike, h0: ArrayLike | None = None, c0: ArrayLike | None = None
) -> tuple[Array, tuple[Array, Array], LSTMCache]:
    """Run the LSTM over a sequence.

    Args:
        params: ``weight_ih`` (4 * hidden, input_size), ``weight_hh`` (4 * hidden, hidden),
            optionally ``bias_ih``, ``bias_hh`` (4 * hidden,), and optionally all three
            peepholes ``weight_ci``, ``weight_cf``, ``weight_co`` (hidden,).
        x: (batch, time, input_size).
        h0, c0: (batch, hidden) each; zeros when None.

    Returns:
        ``(outputs, (h_T, c_T), cache)``: outputs (batch, time, hidden), the final state
        (batch, hidden) each, and the cache for :func:`backward`.
    """
    owner = "reference.lstm.forward"
    params, hidden, peep = _check_lstm_params(owner, params)
    x = check_sequence(owner, x, params["weight_ih"].shape[1])
    batch, time, _ = x.shape
    weight_ih, weight_hh = params["weight_ih"], params["weight_hh"]
    bias = bias_or_zeros(params, "bias_ih", GATES * hidden) + bias_or_zeros(
        params, "bias_hh", GATES * hidden)

    states = np.zeros((batch, time + 1, hidden))
    cells = np.zeros((batch, time + 1, hidden))
    states[:, 0] = check_array(owner, "h0", h0, (batch, hidden))
    cells[:, 0] = check_array(owner, "c0", c0, (batch, hidden))
    i, f, g, o = (np.zeros((batch, time, hidden)) for _ in range(GATES))
    for t in range(time):
        c_prev = cells[:, t]
        a_i, a_f, a_g, a_o = split_gates(
            x[:, t] @ weight_ih.T + states[:, t] @ weight_hh.T + bias, GATES)
        i[:, t] = sigmoid(a_i + peep["weight_ci"] * c_prev)
        f[:, t] = sigmoid(a_f + peep["weight_cf"] * c_prev)
        g[:, t] = tanh(a_g)
        cells[:, t + 1] = f[:, t] * c_prev + i[:, t] * g[:, t]
        o[:, t] = sigmoid(a_o + peep["weight_co"] * cells[:, t + 1])
        states[:, t + 1] = o[:, t] * tanh(cells[:, t + 1])
    cache = LSTMCache(x, states, cells, i, f, g, o)
    return states[:, 1:].copy(), (states[:, -1].copy(), cells[:, -1].copy()), cache


def backward(
    params: Params,
    cache: LSTMCache,
    grad_outputs: ArrayLike | None = None,
    grad_final_state: tuple[ArrayLike | None, ArrayLike | None] | None = None,
) -> Gradients:
    """Backpropagate through time (see the module docstring for the equations).

    Args:
        params: the parameters given to :func:`forward`.
        cache: what :func:`forward` returned.
        grad_outputs: (batch, time, hidden), ∂L/∂outputs; None for zeros.
        grad_final_state: ``(∂L/∂h_T, ∂L/∂c_T)``, (batch, hidden) each, from outside the
            outputs; None (or a None entry) for zeros.

    Returns:
        :class:`Gradients` with ``params`` (same names as ``params``), ``x``, ``h0``, ``c0``.
    """
    owner = "reference.lstm.backward"
    if not isinstance(cache, LSTMCache):
        raise ValueError(f"{owner} expected the LSTMCache from reference.lstm.forward, "
                         f"got {type(cache).__name__}")
    params, hidden, peep = _check_lstm_params(owner, params)
    x, states, cells = cache.x, cache.states, cache.cells
    batch, time, _ = x.shape
    check_cache_sizes(owner, params, GATES, x, states)
    grad_outputs = check_array(owner, "grad_outputs", grad_outputs, (batch, time, hidden))
    grad_h, grad_c = _final_state_gradients(owner, grad_final_state, (batch, hidden))

    weight_ih, weight_hh = params["weight_ih"], params["weight_hh"]
    found = {name: np.zeros_like(value) for name, value in params.items()}
    found.update({name: np.zeros(hidden) for name in PEEPHOLE_NAMES if name not in found})
    grad_x = np.zeros_like(x)
    for t in reversed(range(time)):
        i, f, g, o = cache.i[:, t], cache.f[:, t], cache.g[:, t], cache.o[:, t]
        c_prev, c_new = cells[:, t], cells[:, t + 1]
        tanh_c = tanh(c_new)
        grad_h = grad_h + grad_outputs[:, t]
        grad_a_o = grad_h * tanh_c * o * (1.0 - o)
        grad_c = grad_c + grad_h * o * (1.0 - tanh_c**2) + peep["weight_co"] * grad_a_o
        grad_a_i = grad_c * g * i * (1.0 - i)
        grad_a_f = grad_c * c_prev * f * (1.0 - f)
        grad_a_g = grad_c * i * (1.0 - g**2)
        grad_a = np.concatenate([grad_a_i, grad_a_f, grad_a_g, grad_a_o], axis=1)

        found["weight_ih"] += grad_a.T @ x[:, t]
        found["weight_hh"] += grad_a.T @ states[:, t]
        if "bias_ih" in found:
            found["bias_ih"] += grad_a.sum(axis=0)
            found["bias_hh"] += grad_a.sum(axis=0)
        # Peephole gradients are accumulated even without peepholes (then dropped below)
        # so that the loop reads the same in both cases.
        found["weight_ci"] += (grad_a_i * c_prev).sum(axis=0)
        found["weight_cf"] += (grad_a_f * c_prev).sum(axis=0)
        found["weight_co"] += (grad_a_o * c_new).sum(axis=0)
        grad_x[:, t] = grad_a @ weight_ih

        # Send back ∂L/∂states[:, t] and ∂L/∂cells[:, t], the state this step read.
        grad_h = grad_a @ weight_hh
        grad_c = f * grad_c + peep["weight_ci"] * grad_a_i + peep["weight_cf"] * grad_a_f
    return Gradients(parameter_gradients(params, found), grad_x, grad_h, grad_c)


def _check_lstm_params(
    owner: str, params: Params
) -> tuple[dict[str, Array], int, dict[str, Array]]:
    """Checked parameters, hidden size, and the three peephole vectors (zeros if absent)."""
    checked, _, hidden = check_params(owner, params, GATES, extra_names=PEEPHOLE_NAMES)
    present = [name for name in PEEPHOLE_NAMES if name in checked]
    if present and len(present) != len(PEEPHOLE_NAMES):
        raise ValueError(f"{owner} expected all three peephole weights {list(PEEPHOLE_NAMES)} "
                         f"or none, got only {present}")
    # Zero peepholes make the peephole equations the plain LSTM's, so one code path serves.
    peep = {name: checked.get(name, np.zeros(hidden)) for name in PEEPHOLE_NAMES}
    return checked, hidden, peep


def _final_state_gradients(
    owner: str, grad_final_state: object, shape: tuple[int, int]
) -> tuple[Array, Array]:
    if grad_final_state is None:
        return np.zeros(shape), np.zeros(shape)
    if not isinstance(grad_final_state, (tuple, list)) or len(grad_final_state) != 2:
        raise ValueError(f"{owner} expected grad_final_state to be a pair (grad_h, grad_c), "
                         f"got {type(grad_final_state).__name__}")
    grad_h, grad_c = grad_final_state
    return (check_array(owner, "grad_final_state[0] (for h_T)", grad_h, shape),
            check_array(owner, "grad_final_state[1] (for c_T)", grad_c, shape))
