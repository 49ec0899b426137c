"""The parallel scan of a linear recurrence ``h_t = a_t * h_{t-1} + b_t``, forward and back.

minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?") compute their gates from
the input alone, so over a whole sequence their state obeys this first-order linear
recurrence with coefficients known for every step up front. Unrolled,

    h_t = A_t * (h_0 + sum_{k <= t} b_k / A_k),     A_t = a_1 * ... * a_t,

which is a cumulative sum and a cumulative product: no loop over time. Computed as written
it overflows (``1 / A_k`` grows without bound), so the scan runs in log space (Heinsen 2023,
"Efficient Parallelization of a Ubiquitous Sequential Computation"):

    log h_t = a*_t + logcumsumexp_k(log b_k - a*_k),     a*_t = cumsum(log a_t),

with the positive and the negative terms summed apart, since ``b`` and ``h_0`` may have
either sign here (the paper's own log-space form keeps them positive; rnnkit's ``linear``
form does not). Long sequences are cut into chunks whose final state starts the next, so
``a*`` stays small enough that float32 keeps its digits (a loop over chunks, not steps).

On the CPU, where torch's cumulative operators run one element at a time along the time
axis (logcumsumexp over 4,096 x 32 x 256 values takes seconds, a step loop a tenth of
that), rnnkit's C++ loop computes the same recurrence (``native=True``): one fused pass
over the batch x hidden lanes per step, the lanes shared out over threads. It is not a
loop in Python, and it is exact like any sequential loop. On CUDA the torch-operator scan
runs, with no loop over steps.

The backward is the same scan run backwards in time: with ``g_t`` the gradient arriving at
``h_t``, the gradient of the loss with respect to ``h_t`` through all later steps is
``lambda_t = g_t + a_{t+1} * lambda_{t+1}``, and then ``dL/db_t = lambda_t``,
``dL/d log a_t = lambda_t * a_t * h_{t-1}``, ``dL/dh_0 = a_1 * lambda_1``.

Shapes (time-major):
    log_a: (time, batch, hidden), ``log a_t`` (a_t in (0, 1]; 0 leaves the state as it is)
    b:     (time, batch, hidden)
    h_0:   (batch, hidden)
    h:     (time, batch, hidden), the state after every step
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnkit.engine.native import native_extension

# Terms of one sign stand for "nothing" with the other sign: a finite floor, not -inf, so
# that no inf - inf appears where a sum has no term of that sign yet.
_NOTHING = -1e30
# Steps per chunk: |a*| within a chunk stays near chunk * |log a|, which float32 resolves
# to about 1e-5 of the state for ordinary gates and 4e-5 for gates closing at e^-40 a step.
CHUNK = 64


def _scan_chunk(log_a: Tensor, b: Tensor, h_0: Tensor) -> Tensor:
    """The states of one chunk in log space (module docstring)."""
    total = torch.cumsum(log_a, dim=0)  # a*_t, (time, batch, hidden)
    terms = torch.cat([h_0.unsqueeze(0), b])  # h_0 is the term k = 0, with a*_0 = 0
    magnitude = torch.log(terms.abs())
    magnitude[1:] -= total
    nothing = torch.full((), _NOTHING, dtype=terms.dtype, device=terms.device)
    positive = torch.logcumsumexp(torch.where(terms > 0, magnitude, nothing), dim=0)[1:]
    states = torch.exp(total + positive)
    if bool((terms < 0).any()):
        negative = torch.logcumsumexp(torch.where(terms < 0, magnitude, nothing), dim=0)[1:]
        states = states - torch.exp(total + negative)
    return states


def scan_states(log_a: Tensor, b: Tensor, h_0: Tensor, chunk: int = CHUNK) -> Tensor:
    """``h`` of ``h_t = exp(log_a_t) * h_{t-1} + b_t`` for every step, without autograd's
    graph (see :func:`linear_scan` for the differentiable form)."""
    pieces, state = [], h_0
    for start in range(0, log_a.shape[0], chunk):
        states = _scan_chunk(log_a[start:start + chunk], b[start:start + chunk], state)
        pieces.append(states)
        state = states[-1]
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces)


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, log_a: Tensor, b: Tensor, h_0: Tensor, native: bool) -> Tensor:
        if native:
            a = torch.exp(log_a)
            states = native_extension().linear_scan_forward(a, b, h_0)
            ctx.save_for_backward(a, states, h_0)
        else:
            states = scan_states(log_a, b, h_0)
            ctx.save_for_backward(log_a, states, h_0)
        ctx.native = native
        return states

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_states: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        if ctx.native:
            a, states, h_0 = ctx.saved_tensors
            grad_a, grad_b, grad_h_0 = native_extension().linear_scan_backward(
                a, states, h_0, grad_states)
            return grad_a * a, grad_b, grad_h_0, None
        log_a, states, h_0 = ctx.saved_tensors
        # lambda_t = g_t + a_{t+1} lambda_{t+1}: the forward scan on reversed time, where
        # reversed step s multiplies by a_{T-s} (nothing for s = 0).
        reversed_log_a = torch.cat([torch.zeros_like(log_a[:1]), log_a.flip(0)[:-1]])
        adjoint = scan_states(reversed_log_a, grad_states.flip(0),
                              torch.zeros_like(h_0)).flip(0)
        a = torch.exp(log_a)
        previous = torch.cat([h_0.unsqueeze(0), states[:-1]])
        return adjoint * a * previous, adjoint, a[0] * adjoint[0], None


def linear_scan(log_a: Tensor, b: Tensor, h_0: Tensor, *, native: bool = False) -> Tensor:
    """The states of ``h_t = exp(log_a_t) * h_{t-1} + b_t`` for every step, differentiable
    in all three inputs (module docstring for the method and shapes): the log-space scan in
    torch operators, or with ``native`` rnnkit's C++ loop (CPU, float32 and float64:
    :func:`rnnkit.engine.native_unavailable_reason` says whether it runs here).

    Example:
        >>> log_a = torch.log(torch.tensor([[[0.5]], [[0.5]]]))
        >>> linear_scan(log_a, torch.ones(2, 1, 1), torch.zeros(1, 1)).flatten().tolist()
        [1.0, 1.5]
    """
    return _LinearScan.apply(log_a, b, h_0, native)
