r"""The GRU in both forms, forward and backward through time, by hand in NumPy.

Forward, for t = 1, ..., T, gates in torch.nn's order r, z, n. Each stacked weight splits
into three blocks of rows, W_ih = [W_ir; W_iz; W_in] and W_hh = [W_hr; W_hz; W_hn]::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))      reset_after=True
    n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)      reset_after=False
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

``reset_after=True`` is torch.nn's and cuDNN's form; ``reset_after=False`` is the original
of Cho et al. (2014). Note b_hn: inside the reset in the first form, outside in the second.
Write u_t for what the recurrent side adds inside the tanh: r_t ⊙ (W_hn h_{t-1} + b_hn) in
the first form, W_hn (r_t ⊙ h_{t-1}) + b_hn in the second.

Backward. δh_t is the gradient of the loss with respect to h_t from everything after step
t (for t = T: the gradient given for the final state). Inside step t::

    δh    = ∂L/∂output_t + δh_t
    δa_z  = δh ⊙ (h_{t-1} - n_t) ⊙ z_t(1 - z_t)
    δa_n  = δh ⊙ (1 - z_t) ⊙ (1 - n_t²)             gradient of the tanh's argument

  reset_after=True, with m_t = W_hn h_{t-1} + b_hn::

    δa_r  = δa_n ⊙ m_t ⊙ r_t(1 - r_t)
    δm    = δa_n ⊙ r_t
    δ(W_hh h_{t-1} + b_hh) = [δa_r, δa_z, δm]  =: δb
    ∂L/∂W_hh += δb^T h_{t-1}    ∂L/∂b_hh += Σ_batch δb
    δh_{t-1} = z_t ⊙ δh + W_hh^T δb

  reset_after=False, with s_t = r_t ⊙ h_{t-1}::

    δs    = W_hn^T δa_n
    δa_r  = δs ⊙ h_{t-1} ⊙ r_t(1 - r_t)
    ∂L/∂[W_hr; W_hz] += [δa_r, δa_z]^T h_{t-1}     ∂L/∂W_hn += δa_n^T s_t
    ∂L/∂b_hh += Σ_batch [δa_r, δa_z, δa_n]
    δh_{t-1} = z_t ⊙ δh + r_t ⊙ δs + [W_hr; W_hz]^T [δa_r, δa_z]

  in both forms, with δa = [δa_r, δa_z, δa_n] the gradient of W_ih x_t + b_ih::

    ∂L/∂W_ih += δa^T x_t      ∂L/∂b_ih += Σ_batch δa      ∂L/∂x_t = W_ih^T δa

The term z_t ⊙ δh is the GRU's ungated path back in time: with z ≈ 1 the gradient passes a
step unchanged, like the LSTM's forget gate.

In code, time is 0-based: step ``t`` reads ``x[:, t]`` and ``states[:, t]`` (h_t in equation
terms, h_0 first) and writes ``states[:, t + 1]``.
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

GATES = 3


@dataclasses.dataclass(frozen=True)
class GRUCache:
    """What the forward pass keeps for the backward pass.

    Attributes:
        x:       (batch, time, input_size), the input sequence.
        states:  (batch, time + 1, hidden); ``states[:, t]`` is h_t, h_0 first.
        r, z, n: (batch, time, hidden) each, gate values; index ``t - 1`` holds step t.
        recurrent_n: (batch, time, hidden), W_hn h_{t-1} + b_hn (reset_after=True, needed
            for δa_r) or W_hn (r_t ⊙ h_{t-1}) + b_hn (reset_after=False, kept for reading).
        reset_after: which form ran.
    """

    x: Array
    states: Array
    r: Array
    z: Array
    n: Array
    recurrent_n: Array
    reset_after: bool


def forward(
    params: Params, x: ArrayLike, h0: ArrayLike | None = None, *, reset_after: bool = True
) -> tuple[Array, Array, GRUCache]:
    """Run the GRU over a sequence.

    Args:
        params: ``weight_ih`` (3 * hidden, input_size), ``weight_hh`` (3 * hidden, hidden),
            and optionally ``bias_ih``, ``bias_hh`` (3 * hidden,).
        x: (batch, time, input_size).
        h0: (batch, hidden); zeros when None.
        reset_after: the form of n_t (see the module docstring).

    Returns:
        ``(outputs, h_T, cache)``: outputs (batch, time, hidden), h_T (batch, hidden), and
        the cache for :func:`backward`.
    """
    owner = "reference.gru.forward"
    params, input_size, hidden = check_params(owner, params, GATES)
    x = check_sequence(owner, x, input_size)
    batch, time, _ = x.shape
    weight_ih, weight_hh = params["weight_ih"], params["weight_hh"]
    bias_ih = bias_or_zeros(params, "bias_ih", GATES * hidden)
    bias_hh = bias_or_zeros(params, "bias_hh", GATES * hidden)
    # Row blocks [W_hr; W_hz] and W_hn: the original form uses them separately.
    weight_rz, weight_n = weight_hh[: 2 * hidden], weight_hh[2 * hidden :]
    bias_rz, bias_n = bias_hh[: 2 * hidden], bias_hh[2 * hidden :]

    states = np.zeros((batch, time + 1, hidden))
    states[:, 0] = check_array(owner, "h0", h0, (batch, hidden))
    r, z, n, recurrent_n = (np.zeros((batch, time, hidden)) for _ in range(4))
    for t in range(time):
        h_prev = states[:, t]
        x_r, x_z, x_n = split_gates(x[:, t] @ weight_ih.T + bias_ih, GATES)
        h_r, h_z = split_gates(h_prev @ weight_rz.T + bias_rz, 2)
        r[:, t] = sigmoid(x_r + h_r)
        z[:, t] = sigmoid(x_z + h_z)
        if reset_after:
            recurrent_n[:, t] = h_prev @ weight_n.T + bias_n
            inside = r[:, t] * recurrent_n[:, t]
        else:
            recurrent_n[:, t] = (r[:, t] * h_prev) @ weight_n.T + bias_n
            inside = recurrent_n[:, t]
        n[:, t] = tanh(x_n + inside)
        states[:, t + 1] = (1.0 - z[:, t]) * n[:, t] + z[:, t] * h_prev
    cache = GRUCache(x, states, r, z, n, recurrent_n, bool(reset_after))
    return states[:, 1:].copy(), states[:, -1].copy(), cache


def backward(
    params: Params,
    cache: GRUCache,
    grad_outputs: ArrayLike | None = None,
    grad_final_state: ArrayLike | None = None,
) -> Gradients:
    """Backpropagate through time (see the module docstring for the equations).

    Args:
        params: the parameters given to :func:`forward`.
        cache: what :func:`forward` returned; it records which form ran.
        grad_outputs: (batch, time, hidden), ∂L/∂outputs; None for zeros.
        grad_final_state: (batch, hidden), ∂L/∂h_T from outside the outputs; None for zeros.

    Returns:
        :class:`Gradients` with ``params`` (same names as ``params``), ``x`` and ``h0``.
    """
    owner = "reference.gru.backward"
    if not isinstance(cache, GRUCache):
        raise ValueError(f"{owner} expected the GRUCache from reference.gru.forward, "
                         f"got {type(cache).__name__}")
    params, _, hidden = check_params(owner, params, GATES)
    x, states = cache.x, cache.states
    batch, time, _ = x.shape
    check_cache_sizes(owner, params, GATES, x, states)
    grad_outputs = check_array(owner, "grad_outputs", grad_outputs, (batch, time, hidden))
    grad_h = check_array(owner, "grad_final_state", grad_final_state, (batch, hidden))

    weight_ih = params["weight_ih"]
    # Bias gradients are accumulated even without biases (then dropped) so the loop is one.
    found = {"weight_ih": np.zeros_like(weight_ih), "bias_ih": np.zeros(GATES * hidden),
             "weight_hh": np.zeros_like(params["weight_hh"]), "bias_hh": np.zeros(GATES * hidden)}
    grad_x = np.zeros_like(x)
    recurrent_backward = _recurrent_reset_after if cache.reset_after else _recurrent_original
    for t in reversed(range(time)):
        z, n, h_prev = cache.z[:, t], cache.n[:, t], states[:, t]
        grad_h = grad_h + grad_outputs[:, t]
        grad_a_z = grad_h * (h_prev - n) * z * (1.0 - z)
        grad_a_n = grad_h * (1.0 - z) * (1.0 - n**2)
        grad_a_r, grad_h_prev = recurrent_backward(params, cache, t, grad_a_z, grad_a_n, found)

        grad_a = np.concatenate([grad_a_r, grad_a_z, grad_a_n], axis=1)
        found["weight_ih"] += grad_a.T @ x[:, t]
        found["bias_ih"] += grad_a.sum(axis=0)
        grad_x[:, t] = grad_a @ weight_ih
        # ∂L/∂states[:, t], the state this step read: the direct path plus the rest.
        grad_h = z * grad_h + grad_h_prev
    return Gradients(parameter_gradients(params, found), grad_x, grad_h)


def _recurrent_reset_after(
    params: dict[str, Array], cache: GRUCache, t: int, grad_a_z: Array, grad_a_n: Array,
    found: dict[str, Array],
) -> tuple[Array, Array]:
    """Form reset_after=True: accumulate W_hh, b_hh gradients; return δa_r and W_hh^T δb.

    W_hh^T δb is the part of δh_{t-1} through the recurrent product; the caller adds the
    direct path z_t ⊙ δh.
    """
    r, m, h_prev = cache.r[:, t], cache.recurrent_n[:, t], cache.states[:, t]
    grad_a_r = grad_a_n * m * r * (1.0 - r)
    grad_b = np.concatenate([grad_a_r, grad_a_z, grad_a_n * r], axis=1)
    found["weight_hh"] += grad_b.T @ h_prev
    found["bias_hh"] += grad_b.sum(axis=0)
    return grad_a_r, grad_b @ params["weight_hh"]


def _recurrent_original(
    params: dict[str, Array], cache: GRUCache, t: int, grad_a_z: Array, grad_a_n: Array,
    found: dict[str, Array],
) -> tuple[Array, Array]:
    """Form reset_after=False: accumulate W_hh, b_hh gradients; return δa_r and δh_{t-1} part.

    The returned part of δh_{t-1} is r_t ⊙ δs + [W_hr; W_hz]^T [δa_r, δa_z]: the paths
    through s_t = r_t ⊙ h_{t-1} and through the two gates; the caller adds z_t ⊙ δh.
    """
    hidden = grad_a_n.shape[1]
    weight_rz, weight_n = params["weight_hh"][: 2 * hidden], params["weight_hh"][2 * hidden :]
    r, h_prev = cache.r[:, t], cache.states[:, t]
    grad_s = grad_a_n @ weight_n
    grad_a_r = grad_s * h_prev * r * (1.0 - r)
    grad_rz = np.concatenate([grad_a_r, grad_a_z], axis=1)
    found["weight_hh"][: 2 * hidden] += grad_rz.T @ h_prev
    found["weight_hh"][2 * hidden :] += grad_a_n.T @ (r * h_prev)
    found["bias_hh"] += np.concatenate([grad_rz, grad_a_n], axis=1).sum(axis=0)
    return grad_a_r, r * grad_s + grad_rz @ weight_rz
