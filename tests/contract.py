"""The contract every rnnkit cell and layer must keep, one harness for all configurations.

Like Keras' ``run_layer_test``: a test module picks configurations (:data:`LAYER_CONFIGS`,
:data:`CELL_CONFIGS` or its own :class:`Config`) and calls :func:`run_layer_check` /
:func:`run_cell_check` for each check that applies (:func:`layer_checks_for`,
:func:`cell_checks_for`), or :func:`run_layer_contract` / :func:`run_cell_contract` for all.

Every check compares two *different* computations that must agree: batch-first against
time-first, chunks against the whole, one sequence against a batch, a reloaded module
against the original, analytic gradients against finite differences.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence
from torch.profiler import ProfilerActivity, profile

import rnnkit

# Small sizes: hundreds of cases must run in seconds.
BATCH, TIME, INPUT, HIDDEN, PROJ = 3, 5, 4, 5, 3
# Tinier sizes for finite-difference gradient checks.
TINY_BATCH, TINY_TIME, TINY_INPUT, TINY_HIDDEN, TINY_PROJ = 2, 3, 2, 3, 2
# Unsorted, one full-length, all distinct (batch of 3, time of 5).
LENGTHS = (3, 5, 2)

LAYER_CLASSES = (rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU, rnnkit.MinGRU, rnnkit.MinLSTM)
CELL_CLASSES = (rnnkit.RNNCell, rnnkit.LSTMCell, rnnkit.GRUCell, rnnkit.MinGRUCell,
                rnnkit.MinLSTMCell)


# --- configurations -------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Config:
    """A cell or layer class with keyword arguments; sizes are filled in by :meth:`build`."""

    id: str
    cls: type
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    proj: bool = False

    def build(
        self,
        input_size: int = INPUT,
        hidden_size: int = HIDDEN,
        proj_size: int = PROJ,
        *,
        dtype: torch.dtype = torch.float64,
        seed: int = 0,
        **overrides: Any,
    ) -> nn.Module:
        kwargs = {**self.kwargs, **overrides}
        if self.proj:
            kwargs["proj_size"] = proj_size
        torch.manual_seed(seed)
        return self.cls(input_size, hidden_size, dtype=dtype, **kwargs)

    def build_tiny(self, **overrides: Any) -> nn.Module:
        return self.build(TINY_INPUT, TINY_HIDDEN, TINY_PROJ, **overrides)

    @property
    def is_layer(self) -> bool:
        return self.cls in LAYER_CLASSES

    @property
    def bidirectional(self) -> bool:
        return bool(self.kwargs.get("bidirectional", False))

    @property
    def num_layers(self) -> int:
        return int(self.kwargs.get("num_layers", 1))


def _layer(id: str, cls: type, proj: bool = False, **kwargs: Any) -> Config:
    return Config(id, cls, kwargs, proj)


LAYER_CONFIGS = [
    _layer("rnn_tanh", rnnkit.RNN),
    _layer("rnn_relu", rnnkit.RNN, nonlinearity="relu"),
    _layer("rnn_relu_identity", rnnkit.RNN, nonlinearity="relu", init="identity"),
    _layer("rnn_tanh_2l_bi_nobias", rnnkit.RNN, num_layers=2, bidirectional=True, bias=False),
    _layer("rnn_relu_2l_bi_loop", rnnkit.RNN, nonlinearity="relu", num_layers=2,
           bidirectional=True, engine="loop"),
    _layer("rnn_tanh_bf", rnnkit.RNN, batch_first=True),
    _layer("lstm", rnnkit.LSTM),
    _layer("lstm_2l_bi", rnnkit.LSTM, num_layers=2, bidirectional=True),
    _layer("lstm_bi_bf", rnnkit.LSTM, bidirectional=True, batch_first=True),
    _layer("lstm_proj", rnnkit.LSTM, proj=True),
    _layer("lstm_proj_2l_bi", rnnkit.LSTM, proj=True, num_layers=2, bidirectional=True),
    _layer("lstm_proj_2l_bi_loop", rnnkit.LSTM, proj=True, num_layers=2, bidirectional=True,
           engine="loop"),
    _layer("lstm_nobias_loop", rnnkit.LSTM, bias=False, engine="loop"),
    _layer("lstm_orthogonal", rnnkit.LSTM, init="orthogonal"),
    _layer("lstm_peephole", rnnkit.LSTM, peephole=True),
    _layer("lstm_peephole_2l", rnnkit.LSTM, peephole=True, num_layers=2),
    _layer("lstm_peephole_proj_bi", rnnkit.LSTM, proj=True, peephole=True, bidirectional=True),
    _layer("gru", rnnkit.GRU),
    _layer("gru_2l_bi", rnnkit.GRU, num_layers=2, bidirectional=True),
    _layer("gru_2l_loop", rnnkit.GRU, num_layers=2, engine="loop"),
    _layer("gru_xavier_bf", rnnkit.GRU, init="xavier", batch_first=True),
    _layer("gru_reset_before", rnnkit.GRU, reset_after=False),
    _layer("gru_reset_before_2l_bi_nobias", rnnkit.GRU, reset_after=False, num_layers=2,
           bidirectional=True, bias=False),
    # rnnkit's scan engine: configurations torch lacks, and torch's own ones forced onto it.
    _layer("lstm_layernorm", rnnkit.LSTM, layer_norm=True),
    _layer("lstm_layernorm_2l_bi_nobias", rnnkit.LSTM, layer_norm=True, num_layers=2,
           bidirectional=True, bias=False),
    _layer("gru_layernorm", rnnkit.GRU, layer_norm=True),
    _layer("gru_layernorm_2l_bi_bf", rnnkit.GRU, layer_norm=True, num_layers=2,
           bidirectional=True, batch_first=True),
    _layer("lstm_engine_2l_bi", rnnkit.LSTM, engine="rnnkit", num_layers=2, bidirectional=True),
    _layer("gru_engine_nobias", rnnkit.GRU, engine="rnnkit", bias=False),
    _layer("rnn_relu_identity_engine_bi", rnnkit.RNN, nonlinearity="relu", init="identity",
           engine="rnnkit", bidirectional=True),
    _layer("rnn_tanh_engine_2l", rnnkit.RNN, engine="rnnkit", num_layers=2),
    # minGRU and minLSTM: the C++ loop (auto), the log-space scan, the step loop; both forms.
    _layer("mingru", rnnkit.MinGRU),
    _layer("mingru_linear_2l_bi", rnnkit.MinGRU, form="linear", num_layers=2,
           bidirectional=True),
    _layer("mingru_bi_bf_nobias_scan", rnnkit.MinGRU, bidirectional=True, batch_first=True,
           bias=False, engine="scan"),
    _layer("mingru_2l_loop", rnnkit.MinGRU, num_layers=2, engine="loop"),
    _layer("minlstm", rnnkit.MinLSTM),
    _layer("minlstm_linear_bf_scan", rnnkit.MinLSTM, form="linear", batch_first=True,
           engine="scan"),
    _layer("minlstm_2l_bi", rnnkit.MinLSTM, num_layers=2, bidirectional=True),
    _layer("minlstm_linear_bi_loop", rnnkit.MinLSTM, form="linear", bidirectional=True,
           engine="loop"),
]

CELL_CONFIGS = [
    _layer("rnncell_tanh", rnnkit.RNNCell),
    _layer("rnncell_relu", rnnkit.RNNCell, nonlinearity="relu"),
    _layer("rnncell_relu_identity", rnnkit.RNNCell, nonlinearity="relu", init="identity"),
    _layer("rnncell_nobias", rnnkit.RNNCell, bias=False),
    _layer("lstmcell", rnnkit.LSTMCell),
    _layer("lstmcell_forget0", rnnkit.LSTMCell, forget_bias=0.0),
    _layer("lstmcell_proj", rnnkit.LSTMCell, proj=True),
    _layer("lstmcell_peephole", rnnkit.LSTMCell, peephole=True),
    _layer("lstmcell_peephole_proj", rnnkit.LSTMCell, proj=True, peephole=True),
    _layer("lstmcell_nobias", rnnkit.LSTMCell, bias=False),
    _layer("lstmcell_orthogonal", rnnkit.LSTMCell, init="orthogonal"),
    _layer("grucell", rnnkit.GRUCell),
    _layer("grucell_reset_before", rnnkit.GRUCell, reset_after=False),
    _layer("grucell_reset_before_nobias", rnnkit.GRUCell, reset_after=False, bias=False),
    _layer("grucell_xavier", rnnkit.GRUCell, init="xavier"),
    _layer("mingrucell", rnnkit.MinGRUCell),
    _layer("mingrucell_linear_nobias", rnnkit.MinGRUCell, form="linear", bias=False),
    _layer("minlstmcell", rnnkit.MinLSTMCell),
    _layer("minlstmcell_linear", rnnkit.MinLSTMCell, form="linear"),
]


# --- small helpers shared by the test modules ------------------------------------------
def assert_close(actual: Tensor, expected: Tensor, atol: float, what: str = "") -> None:
    """Absolute-tolerance comparison (no relative slack), shapes and dtypes must match."""
    torch.testing.assert_close(actual, expected, rtol=0.0, atol=atol,
                               msg=lambda m: f"{what}: {m}" if what else m)


def state_parts(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """``h`` or ``(h, c)`` as a tuple."""
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def has_cell_state(module: nn.Module) -> bool:
    return isinstance(module, (rnnkit.LSTM, rnnkit.LSTMCell, nn.LSTM, nn.LSTMCell))


def as_hx(module: nn.Module, parts: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
    """The state in the form ``forward`` takes: a tuple for LSTMs, a tensor otherwise."""
    return tuple(parts) if has_cell_state(module) else parts[0]


def fresh_leaves(module: nn.Module, x: Tensor, parts: tuple[Tensor, ...] | None
                 ) -> tuple[Tensor, Tensor | tuple[Tensor, ...] | None, list[Tensor]]:
    """Copies of ``x`` and the state ``parts`` that require grad, the state in the form
    ``forward`` takes (None without one), and every leaf to differentiate: input, state
    parts, then the module's parameters."""
    x = x.clone().requires_grad_()
    leaves = [x]
    hx = None
    if parts is not None:
        parts = tuple(p.clone().requires_grad_() for p in parts)
        leaves.extend(parts)
        hx = as_hx(module, parts)
    leaves.extend(module.parameters())
    return x, hx, leaves


def state_sizes(module: nn.Module) -> tuple[int, ...]:
    """Feature sizes of ``(h,)`` or ``(h, c)``."""
    output = getattr(module, "proj_size", 0) or module.hidden_size
    return (output, module.hidden_size) if has_cell_state(module) else (output,)


def stacked(module: nn.Module) -> int:
    """Leading size of a layer's state: num_layers * directions."""
    return module.num_layers * (2 if module.bidirectional else 1)


def random_layer_state(module: nn.Module, batch: int = BATCH) -> tuple[Tensor, ...]:
    dtype = next(module.parameters()).dtype
    return tuple(torch.randn(stacked(module), batch, size, dtype=dtype)
                 for size in state_sizes(module))


def random_cell_state(module: nn.Module, batch: int = BATCH) -> tuple[Tensor, ...]:
    dtype = next(module.parameters()).dtype
    return tuple(torch.randn(batch, size, dtype=dtype) for size in state_sizes(module))


def time_major_input(module: nn.Module, batch: int = BATCH, time: int = TIME) -> Tensor:
    dtype = next(module.parameters()).dtype
    return torch.randn(time, batch, module.input_size, dtype=dtype)


def to_layout(module: nn.Module, time_major: Tensor) -> Tensor:
    """A (time, batch, ...) tensor in the module's layout (and back: the map is its own inverse)."""
    return time_major.transpose(0, 1) if module.batch_first else time_major


def run_layer(
    module: nn.Module, x: Tensor, parts: tuple[Tensor, ...] | None = None, **kwargs: Any
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a layer on time-major ``x``; returns the time-major output and the state tuple."""
    hx = None if parts is None else as_hx(module, parts)
    output, state = module(to_layout(module, x), hx, **kwargs)
    return to_layout(module, output), state_parts(state)


def run_cell(
    module: nn.Module, x: Tensor, parts: tuple[Tensor, ...] | None = None
) -> tuple[Tensor, ...]:
    hx = None if parts is None else as_hx(module, parts)
    return state_parts(module(x, hx))


def twin(config: Config, module: nn.Module, **overrides: Any) -> nn.Module:
    """A second module of ``config`` (other seed, ``overrides``) with ``module``'s weights."""
    other = config.build(module.input_size, module.hidden_size,
                         getattr(module, "proj_size", 0) or PROJ,
                         dtype=next(module.parameters()).dtype, seed=99, **overrides)
    other.load_state_dict(module.state_dict(), strict=True)
    return other


class _Runner(nn.Module):
    """Holds a module so that ``functional_call`` can swap its parameters for one run."""

    def __init__(self, module: nn.Module, run: Callable[..., tuple[Tensor, ...]]) -> None:
        super().__init__()
        self.inner = module
        self.run = run

    def forward(self, x: Tensor, *parts: Tensor) -> tuple[Tensor, ...]:
        return self.run(self.inner, x, parts)


def gradcheck_module(
    module: nn.Module,
    run: Callable[[nn.Module, Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]],
    x: Tensor,
    parts: tuple[Tensor, ...],
    *,
    fast_mode: bool = False,
) -> None:
    """``torch.autograd.gradcheck`` with respect to the input, the state and every parameter.

    ``run(module, x, parts)`` must return a tuple of output tensors.
    """
    runner = _Runner(module, run)
    names = ["inner." + name for name, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in module.parameters()]
    inputs = (x.detach().clone().requires_grad_(),
              *(p.detach().clone().requires_grad_() for p in parts), *params)
    count = 1 + len(parts)

    def function(*args: Tensor) -> tuple[Tensor, ...]:
        weights = dict(zip(names, args[count:], strict=True))
        return functional_call(runner, weights, args[:count], strict=True)

    assert torch.autograd.gradcheck(function, inputs, eps=1e-6, atol=1e-7, rtol=1e-5,
                                     fast_mode=fast_mode)


# --- the layer contract -----------------------------------------------------------------
def check_layer_shapes(config: Config, tmp_path: Path) -> None:
    """Output, h_n and c_n have torch.nn's shapes, in the module's layout, batched or not."""
    module = config.build()
    directions = 2 if config.bidirectional else 1
    out_size = getattr(module, "proj_size", 0) or HIDDEN
    x = time_major_input(module)
    output, state = module(to_layout(module, x))
    leading = (BATCH, TIME) if module.batch_first else (TIME, BATCH)
    assert tuple(output.shape) == (*leading, directions * out_size)
    assert [tuple(s.shape) for s in state_parts(state)] == [
        (stacked(module), BATCH, size) for size in state_sizes(module)]
    assert output.dtype == torch.float64
    output, state = module(x[:, 0])
    assert tuple(output.shape) == (TIME, directions * out_size)
    assert [tuple(s.shape) for s in state_parts(state)] == [
        (stacked(module), size) for size in state_sizes(module)]


def check_layer_batch_first(config: Config, tmp_path: Path) -> None:
    """batch_first flips input and output layout only; the numbers and h_n are the same."""
    module = config.build()
    other = twin(config, module, batch_first=not module.batch_first)
    x = time_major_input(module)
    parts = random_layer_state(module)
    lengths = torch.tensor(LENGTHS)
    for kwargs in ({}, {"lengths": lengths}):
        out_a, state_a = module(to_layout(module, x), as_hx(module, parts), **kwargs)
        out_b, state_b = other(to_layout(other, x), as_hx(other, parts), **kwargs)
        assert_close(to_layout(module, out_a), to_layout(other, out_b), 1e-12, "output")
        for a, b in zip(state_parts(state_a), state_parts(state_b), strict=True):
            assert_close(a, b, 1e-12, "final state")


def check_layer_default_state(config: Config, tmp_path: Path) -> None:
    """No state equals an explicit zero state; a non-zero state changes the result."""
    module = config.build()
    x = time_major_input(module)
    zeros = tuple(torch.zeros_like(s) for s in random_layer_state(module))
    out_default, state_default = run_layer(module, x)
    out_zero, state_zero = run_layer(module, x, zeros)
    assert_close(out_default, out_zero, 1e-13, "output")
    for a, b in zip(state_default, state_zero, strict=True):
        assert_close(a, b, 1e-13, "final state")
    out_given, _ = run_layer(module, x, random_layer_state(module))
    assert (out_given[0] - out_default[0]).abs().max() > 1e-3, "the given state was ignored"


def check_layer_chunked(config: Config, tmp_path: Path) -> None:
    """Running the sequence in chunks with the state carried equals running it whole."""
    module = config.build()
    x = time_major_input(module)
    parts = random_layer_state(module)
    whole, final = run_layer(module, x, parts)
    for sizes in ((2, 3), (1, 1, 1, 1, 1), (4, 1)):
        state, outputs = parts, []
        for chunk in x.split(list(sizes)):
            output, state = run_layer(module, chunk, state)
            outputs.append(output)
        assert_close(torch.cat(outputs), whole, 1e-12, f"chunks {sizes}: output")
        for a, b in zip(state, final, strict=True):
            assert_close(a, b, 1e-12, f"chunks {sizes}: final state")


def check_layer_reverse_direction(config: Config, tmp_path: Path) -> None:
    """A one-layer bidirectional layer's second half is a forward layer run on flipped time."""
    module = config.build()
    kwargs = {k: v for k, v in config.kwargs.items() if k != "bidirectional"}
    forward = Config(config.id + "_uni", config.cls, kwargs, config.proj).build(seed=5)
    reverse = Config(config.id + "_uni", config.cls, kwargs, config.proj).build(seed=6)
    state_dict = module.state_dict()
    forward.load_state_dict({k: v for k, v in state_dict.items() if not k.endswith("_reverse")})
    reverse.load_state_dict({k.removesuffix("_reverse"): v for k, v in state_dict.items()
                             if k.endswith("_reverse")})
    x = time_major_input(module)
    parts = random_layer_state(module)
    output, final = run_layer(module, x, parts)
    out_f, final_f = run_layer(forward, x, tuple(p[:1] for p in parts))
    out_r, final_r = run_layer(reverse, x.flip(0), tuple(p[1:] for p in parts))
    half = output.shape[-1] // 2
    assert_close(output[..., :half], out_f, 1e-12, "forward half")
    assert_close(output[..., half:], out_r.flip(0), 1e-12, "reverse half")
    for both, f, r in zip(final, final_f, final_r, strict=True):
        assert_close(both, torch.cat([f, r]), 1e-12, "final state")


def check_layer_state_dict_roundtrip(config: Config, tmp_path: Path) -> None:
    """state_dict through a safetensors file into a fresh module: same keys, values, outputs."""
    module = config.build()
    path = tmp_path / "layer.safetensors"
    save_file(module.state_dict(), str(path))
    loaded = load_file(str(path))
    fresh = config.build(seed=123)
    assert not all(torch.equal(a, b) for a, b in zip(fresh.parameters(), module.parameters(),
                                                      strict=True)), "seeds gave same weights"
    fresh.load_state_dict(loaded, strict=True)
    assert list(fresh.state_dict()) == list(module.state_dict())
    for name, value in module.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
        assert loaded[name].dtype == value.dtype
    x = time_major_input(module)
    out_a, state_a = run_layer(module, x, lengths=torch.tensor(LENGTHS))
    out_b, state_b = run_layer(fresh, x, lengths=torch.tensor(LENGTHS))
    assert torch.equal(out_a, out_b)
    for a, b in zip(state_a, state_b, strict=True):
        assert torch.equal(a, b)


def check_layer_gradcheck(config: Config, tmp_path: Path) -> None:
    """Finite differences in float64 at tiny size: input, initial state and every parameter.

    The state gradients come in through ``h_n``/``c_n`` as well as ``output``.
    """
    module = config.build_tiny()
    x = time_major_input(module, TINY_BATCH, TINY_TIME)
    parts = random_layer_state(module, TINY_BATCH)

    def run(module: nn.Module, x: Tensor, parts: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        output, state = run_layer(module, x, parts)
        return (output, *state)

    # Full Jacobians for one layer; a random projection (fast_mode) for deeper stacks.
    gradcheck_module(module, run, x, parts, fast_mode=config.num_layers > 1)


def check_layer_unbatched(config: Config, tmp_path: Path) -> None:
    """Unbatched (time, features) input equals a batch of one, with and without a state."""
    module = config.build()
    x = time_major_input(module, batch=1)
    parts = random_layer_state(module, batch=1)
    for given in (None, parts):
        out_b, state_b = run_layer(module, x, given)
        out_u, state_u = module(x[:, 0], None if given is None else
                                as_hx(module, tuple(p[:, 0] for p in given)))
        assert out_u.dim() == 2
        assert_close(out_u, out_b[:, 0], 1e-12, "output")
        for u, b in zip(state_parts(state_u), state_b, strict=True):
            assert_close(u, b[:, 0], 1e-12, "final state")


def check_layer_lengths(config: Config, tmp_path: Path) -> None:
    """A padded batch with ``lengths`` equals each sequence run alone, cut to its length.

    The padding holds large garbage, so a leak of any step past a length shows; outputs
    past a length are exactly zero.
    """
    module = config.build()
    x = time_major_input(module)
    parts = random_layer_state(module)
    lengths = torch.tensor(LENGTHS)
    for b, length in enumerate(LENGTHS):
        x[length:, b] = 1e3
    output, final = run_layer(module, x, parts, lengths=lengths)
    for b, length in enumerate(LENGTHS):
        alone, alone_final = run_layer(module, x[:length, b : b + 1],
                                       tuple(p[:, b : b + 1] for p in parts))
        assert_close(output[:length, b], alone[:, 0], 1e-12, f"sequence {b}: output")
        assert torch.equal(output[length:, b], torch.zeros_like(output[length:, b])), \
            f"sequence {b}: output past its length is not zero"
        for got, want in zip(final, alone_final, strict=True):
            assert_close(got[:, b], want[:, 0], 1e-12, f"sequence {b}: final state")


LAYER_CHECKS: dict[str, Callable[[Config, Path], None]] = {
    "shapes": check_layer_shapes,
    "batch_first": check_layer_batch_first,
    "default_state": check_layer_default_state,
    "chunked": check_layer_chunked,
    "reverse_direction": check_layer_reverse_direction,
    "state_dict": check_layer_state_dict_roundtrip,
    "gradcheck": check_layer_gradcheck,
    "unbatched": check_layer_unbatched,
    "lengths": check_layer_lengths,
}


def layer_checks_for(config: Config) -> list[str]:
    """The checks that apply: chunking needs one direction, flipping time needs one layer."""
    names = list(LAYER_CHECKS)
    if config.bidirectional:
        names.remove("chunked")
    if not config.bidirectional or config.num_layers > 1:
        names.remove("reverse_direction")
    return names


def run_layer_check(config: Config, check: str, tmp_path: Path) -> None:
    LAYER_CHECKS[check](config, tmp_path)


def run_layer_contract(config: Config, tmp_path: Path) -> None:
    for check in layer_checks_for(config):
        run_layer_check(config, check, tmp_path)


# --- the cell contract ------------------------------------------------------------------
def check_cell_shapes(config: Config, tmp_path: Path) -> None:
    """h (and c) have torch.nn's cell shapes and the module's dtype, batched or not."""
    for dtype in (torch.float32, torch.float64):
        module = config.build(dtype=dtype)
        assert all(p.dtype == dtype for p in module.parameters())
        x = torch.randn(BATCH, INPUT, dtype=dtype)
        state = run_cell(module, x)
        assert [tuple(s.shape) for s in state] == [(BATCH, s) for s in state_sizes(module)]
        assert all(s.dtype == dtype for s in state)
        state = run_cell(module, x[0])
        assert [tuple(s.shape) for s in state] == [(s,) for s in state_sizes(module)]


def check_cell_default_state(config: Config, tmp_path: Path) -> None:
    """No state equals an explicit zero state; a non-zero state changes the result."""
    module = config.build()
    x = torch.randn(BATCH, INPUT, dtype=torch.float64)
    zeros = tuple(torch.zeros_like(s) for s in random_cell_state(module))
    for a, b in zip(run_cell(module, x), run_cell(module, x, zeros), strict=True):
        assert_close(a, b, 1e-14)
    given = run_cell(module, x, random_cell_state(module))
    assert (given[0] - run_cell(module, x)[0]).abs().max() > 1e-3, "the given state was ignored"


def check_cell_unbatched(config: Config, tmp_path: Path) -> None:
    """An unbatched (features,) step equals a batch of one, with and without a state."""
    module = config.build()
    x = torch.randn(1, INPUT, dtype=torch.float64)
    parts = random_cell_state(module, 1)
    for given in (None, parts):
        batched = run_cell(module, x, given)
        unbatched = run_cell(module, x[0], None if given is None else tuple(p[0] for p in given))
        for u, b in zip(unbatched, batched, strict=True):
            assert u.dim() == 1
            assert_close(u, b[0], 1e-14)


def check_cell_rows_independent(config: Config, tmp_path: Path) -> None:
    """Each row of a batch is computed on its own: a batch equals its rows one by one."""
    module = config.build()
    x = torch.randn(BATCH, INPUT, dtype=torch.float64)
    parts = random_cell_state(module)
    whole = run_cell(module, x, parts)
    for b in range(BATCH):
        row = run_cell(module, x[b : b + 1], tuple(p[b : b + 1] for p in parts))
        for r, w in zip(row, whole, strict=True):
            assert_close(r[0], w[b], 1e-13)


def check_cell_state_dict_roundtrip(config: Config, tmp_path: Path) -> None:
    """state_dict through a safetensors file into a fresh cell: same keys, values, outputs."""
    module = config.build()
    path = tmp_path / "cell.safetensors"
    save_file(module.state_dict(), str(path))
    fresh = config.build(seed=321)
    fresh.load_state_dict(load_file(str(path)), strict=True)
    assert list(fresh.state_dict()) == list(module.state_dict())
    for name, value in module.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
    x = torch.randn(BATCH, INPUT, dtype=torch.float64)
    parts = random_cell_state(module)
    for a, b in zip(run_cell(module, x, parts), run_cell(fresh, x, parts), strict=True):
        assert torch.equal(a, b)


def check_cell_gradcheck(config: Config, tmp_path: Path) -> None:
    """Finite differences in float64 at tiny size: input, state and every parameter."""
    module = config.build_tiny()
    x = torch.randn(TINY_BATCH, TINY_INPUT, dtype=torch.float64)
    parts = random_cell_state(module, TINY_BATCH)
    gradcheck_module(module, run_cell, x, parts)


CELL_CHECKS: dict[str, Callable[[Config, Path], None]] = {
    "shapes": check_cell_shapes,
    "default_state": check_cell_default_state,
    "unbatched": check_cell_unbatched,
    "rows_independent": check_cell_rows_independent,
    "state_dict": check_cell_state_dict_roundtrip,
    "gradcheck": check_cell_gradcheck,
}


def cell_checks_for(config: Config) -> list[str]:
    return list(CELL_CHECKS)


def run_cell_check(config: Config, check: str, tmp_path: Path) -> None:
    CELL_CHECKS[check](config, tmp_path)


def run_cell_contract(config: Config, tmp_path: Path) -> None:
    for check in cell_checks_for(config):
        run_cell_check(config, check, tmp_path)


# --- fast paths and their spies ---------------------------------------------------------
FUSED_OPS = {"aten::lstm", "aten::gru", "aten::rnn_tanh", "aten::rnn_relu"}
SEQUENCES = ("equal", "lengths", "packed")


def fused_ops_in(function):
    """Run ``function`` under the profiler; return the fused recurrent operators it called."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        function()
    return {event.name for event in prof.events()} & FUSED_OPS


def forward(layer, x, parts, sequence):
    """The output (packed data for a PackedSequence) and the state tuple."""
    hx = as_hx(layer, parts)
    if sequence == "packed":
        packed = pack_padded_sequence(x, torch.tensor(LENGTHS), enforce_sorted=False)
        output, state = layer(packed, hx)
        output = output.data
    elif sequence == "lengths":
        output, state = layer(x, hx, lengths=torch.tensor(LENGTHS))
    else:
        output, state = layer(x, hx)
    return output, state_parts(state)


def forward_and_grads(layer, x, parts, sequence):
    """Forward and backward on fresh leaves; returns the output, state and all gradients."""
    x = x.clone().requires_grad_()
    parts = tuple(p.clone().requires_grad_() for p in parts)
    output, state = forward(layer, x, parts, sequence)
    torch.manual_seed(11)
    loss = sum((t * torch.randn_like(t)).sum() for t in (output, *state))
    grads = torch.autograd.grad(loss, [x, *parts, *layer.parameters()])
    return output, state, grads


def assert_runs_agree(first: tuple, second: tuple, atol: float = 1e-10) -> None:
    """Two ``forward_and_grads`` results: same output, final state and every gradient."""
    (out_a, state_a, grads_a), (out_b, state_b, grads_b) = first, second
    assert_close(out_a, out_b, atol, "output")
    for a, b in zip(state_a, state_b, strict=True):
        assert_close(a, b, atol, "final state")
    for index, (a, b) in enumerate(zip(grads_a, grads_b, strict=True)):
        assert_close(a, b, atol, f"gradient {index}")
