"""Gradient flow through time: how much of a loss at the last step reaches each earlier step.

Backpropagation through time multiplies the gradient by one recurrent Jacobian per step,
``dh_t/dh_{t-1} = diag(φ'(a_t)) W_hh`` for the vanilla RNN. When their largest singular
values sit below 1 the gradient vanishes geometrically with distance; above 1 it can
explode. Two probes make that measurable for any rnnkit cell:

- :func:`gradient_vs_distance`: ``||dL/dh_t||`` for every step ``t`` when the loss reads only
  the last hidden state (the total derivative, through every later step);
- :func:`recurrent_jacobian_norms`: the largest singular value of each step's Jacobian
  ``d state_t / d state_{t-1}`` (for the LSTM the state is ``[h, c]``).

:func:`probe` runs both on a freshly initialised cell with random inputs, which is what
``rnnkit diagnose gradients`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnkit.atomic import atomic_write_json
from rnnkit.cells import LSTMCell
from rnnkit.cells.catalog import CATALOG, CELL_NAMES, build_cell
from rnnkit.plotting import pyplot, save_figure
from rnnkit.validation import check_choice, check_positive_int

State = tuple[Tensor, ...]


def build_probe_cell(
    name: str, input_size: int, hidden_size: int, *, forget_bias: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> nn.Module:
    """A freshly initialised cell by probe name, with each cell's default initialisation.

    ``rnn_tanh`` and ``rnn_relu`` use torch.nn's uniform init; ``irnn`` is the ReLU RNN with
    an identity recurrent matrix and zero bias (Le et al. 2015); ``lstm`` adds
    ``forget_bias`` to the forget gate's bias; ``gru`` is torch.nn's form.
    """
    check_choice("build_probe_cell", "cell", name, CELL_NAMES)
    check_positive_int("build_probe_cell", "input_size", input_size)
    check_positive_int("build_probe_cell", "hidden_size", hidden_size)
    options = {"forget_bias": forget_bias} if CATALOG[name].kind == "lstm" else {}
    return build_cell(name, input_size, hidden_size, dtype=dtype, **options)


def step(cell: nn.Module, x: Tensor, state: State | None) -> State:
    """One cell step with the state always a tuple: ``(h,)`` or ``(h, c)``."""
    if isinstance(cell, LSTMCell):
        return tuple(cell(x, state))
    return (cell(x, None if state is None else state[0]),)


def gradient_vs_distance(cell: nn.Module, inputs: Tensor, readout: Tensor | None = None) -> Tensor:
    """``||dL/dh_t||`` for t = 1..T, averaged over the batch, the first step first.

    The loss reads only the last hidden state: ``L = mean_batch(h_T · readout)``, with
    ``readout`` a fixed vector (when omitted, drawn standard-normal from torch's global
    generator), so any gradient at ``t < T`` got there through the recurrence.

    Shapes:
        inputs:  (batch, time, input_size)
        readout: (hidden,)
        returns: (time,)
    """
    _check_sequence(inputs)
    states, hiddens = None, []
    for t in range(inputs.shape[1]):
        states = step(cell, inputs[:, t], states)
        hiddens.append(states[0])
    if readout is None:
        readout = torch.randn(hiddens[-1].shape[-1], dtype=inputs.dtype, device=inputs.device)
    loss = (hiddens[-1] @ readout).mean()
    grads = torch.autograd.grad(loss, hiddens)  # total derivatives: through every later step
    return torch.stack([g.norm(dim=-1).mean() for g in grads]).detach()


def recurrent_jacobian_norms(cell: nn.Module, inputs: Tensor) -> Tensor:
    """Largest singular value of ``d state_t / d state_{t-1}`` at every step, batch mean.

    The state is ``h`` for the RNN and GRU and ``[h, c]`` (2 * hidden) for the LSTM; the
    Jacobians are taken along the trajectory the inputs drive from a zero state.

    Shapes:
        inputs:  (batch, time, input_size)
        returns: (time,)
    """
    _check_sequence(inputs)
    batch = inputs.shape[0]
    with torch.no_grad():
        trajectory, states = [], None
        for t in range(inputs.shape[1]):
            trajectory.append(_flat(states, cell, batch, inputs))
            states = step(cell, inputs[:, t], states)
    parts = 2 if isinstance(cell, LSTMCell) else 1
    norms = []
    for t, flat_state in enumerate(trajectory):
        matrices = _step_jacobians(cell, inputs[:, t], flat_state, parts)
        norms.append(torch.linalg.svdvals(matrices)[:, 0].mean())  # largest singular value
    return torch.stack(norms).detach()


@dataclass(frozen=True)
class GradientFlow:
    """What :func:`probe` measured for one cell; every list runs from the first step."""

    cell: str
    length: int
    hidden_size: int
    input_size: int
    batch_size: int
    seed: int
    forget_bias: float
    grad_norms: list[float]
    jacobian_norms: list[float]

    @property
    def first_over_last(self) -> float:
        """``||dL/dh_1|| / ||dL/dh_T||``: how much of the gradient survives T - 1 steps."""
        return self.grad_norms[0] / self.grad_norms[-1] if self.grad_norms[-1] else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "first_over_last": self.first_over_last}


def probe(
    cell: str, *, length: int, hidden_size: int, input_size: int = 8, batch_size: int = 32,
    seed: int = 0, forget_bias: float = 1.0, dtype: torch.dtype = torch.float64,
) -> GradientFlow:
    """Both measurements on a fresh cell driven by standard-normal inputs.

    float64 by default: at a hundred steps a vanishing gradient reaches 1e-30 and below,
    where float32 would round it to zero.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"probe needs length >= 2 (a loss at the last step and at least one "
                         f"step before it), got {length!r}")
    check_positive_int("probe", "batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    module = build_probe_cell(cell, input_size, hidden_size, forget_bias=forget_bias,
                              dtype=dtype)
    inputs = torch.randn(batch_size, length, input_size, generator=generator, dtype=dtype)
    readout = torch.randn(hidden_size, generator=generator, dtype=dtype)
    grads = gradient_vs_distance(module, inputs, readout)
    jacobians = recurrent_jacobian_norms(module, inputs)
    return GradientFlow(cell, length, hidden_size, input_size, batch_size, seed, forget_bias,
                        grads.tolist(), jacobians.tolist())


def save_gradient_flows(flows: Sequence[GradientFlow], out_dir: str | Path) -> list[Path]:
    """Write ``grad_norms.json`` (the first flow's norms, first step first), ``summary.json``
    (every flow, with Jacobian norms and settings) and ``grad_norms.png``; returns the paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "grad_norms.json", out_dir / "summary.json", out_dir / "grad_norms.png"]
    atomic_write_json(paths[0], flows[0].grad_norms)
    atomic_write_json(paths[1], [flow.to_dict() for flow in flows])
    plot_gradient_flows(flows, paths[2])
    return paths


def plot_gradient_flows(flows: Sequence[GradientFlow], path: Path) -> None:
    """Gradient norm against distance from the loss, log scale, one line per flow."""
    plt = pyplot()

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for flow in flows:
        distance = [flow.length - 1 - t for t in range(flow.length)]
        label = flow.cell + (f" (forget bias {flow.forget_bias:g})" if flow.cell == "lstm"
                             else "")
        axes[0].semilogy(distance, _positive(flow.grad_norms), label=label)
        axes[1].plot(range(1, flow.length + 1), flow.jacobian_norms, label=label)
    axes[0].set_xlabel("steps back from the loss (T - t)")
    axes[0].set_ylabel("||dL/dh_t|| (batch mean)")
    axes[1].set_xlabel("time step t")
    axes[1].set_ylabel("largest singular value of d state_t / d state_{t-1}")
    for axis in axes:
        axis.grid(alpha=0.3, which="both")
        axis.legend()
    flow = flows[0]
    figure.suptitle(f"gradient flow at initialisation: T={flow.length}, hidden "
                    f"{flow.hidden_size}, batch {flow.batch_size}, seed {flow.seed}")
    figure.tight_layout()
    save_figure(figure, path)


def _positive(values: list[float]) -> list[float]:
    # An exactly-zero gradient (float underflow, dead ReLU units) cannot sit on a log axis.
    return [v if v > 0 else float("nan") for v in values]


def _step_jacobians(cell: nn.Module, x: Tensor, flat_state: Tensor, parts: int) -> Tensor:
    """Every example's ``d state_t / d state_{t-1}``, shape (batch, state, state).

    One forward and one backward pass for all rows: the batch is repeated once per output
    unit, and copy ``i`` back-propagates only unit ``i``, which yields row ``i`` of every
    example's Jacobian (examples and copies never mix).
    """
    batch, size = flat_state.shape
    copies = flat_state.detach().repeat(size, 1).requires_grad_(True)  # (size * batch, size)
    with torch.enable_grad():
        out = torch.cat(step(cell, x.repeat(size, 1), tuple(copies.chunk(parts, dim=-1))),
                        dim=-1)
        selector = torch.eye(size, dtype=out.dtype, device=out.device)
        (rows,) = torch.autograd.grad((out * selector.repeat_interleave(batch, 0)).sum(), copies)
    return rows.view(size, batch, size).transpose(0, 1)  # (batch, state_t, state_{t-1})


def _flat(states: State | None, cell: nn.Module, batch: int, like: Tensor) -> Tensor:
    if states is None:
        parts = 2 if isinstance(cell, LSTMCell) else 1
        return like.new_zeros(batch, parts * cell.hidden_size)
    return torch.cat(states, dim=-1)


def _check_sequence(inputs: Tensor) -> None:
    if not isinstance(inputs, Tensor) or inputs.dim() != 3:
        shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise ValueError(f"expected inputs of shape (batch, time, input_size), got {shape}")
    if inputs.shape[1] < 2:
        raise ValueError(f"gradient flow needs at least 2 time steps, got {inputs.shape[1]}")
